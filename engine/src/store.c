/* The store of recent scans (see store.h): the record a scanner thread
 * queues, the writer thread that owns the SQLite index and the kept bytes,
 * retention and budget, and the read-only queries of the retro-hunt. It is
 * not the hunt itself (hunt.c) and never judges mail. */
#include "store.h"
#include "zhi.h"
#include "zerohour/log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <nettle/sha2.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define SCHEMA_VERSION 1
#define MAINTAIN_EVERY_MS 1000
#define DELETE_BATCH 256

/* ---- the queued record ---------------------------------------------------
 * One malloc'd block per message: the struct, its objects, every string and
 * the bytes of the objects to keep. Built on the scanner thread. */
struct rec_obj {
    const char *path, *name, *kind, *declared, *sniffed;
    char sha256[65];
    uint64_t size;
    const uint8_t *data; /* bytes to keep, or NULL */
};
struct rec {
    struct rec *next;
    size_t bytes;
    int64_t received_at;
    const char *client_ip, *helo, *mail_from, *rcpt_to, *message_id, *subject, *queue_id, *hits,
        *fingerprint;
    int verdict, score;
    size_t n_obj;
    struct rec_obj *obj;
};

struct zhi_store {
    char *dir, *db_path, *blob_dir;
    int64_t retention_ms, max_bytes, max_object_bytes, queue_bytes_max, queue_len_max;
    bool keep_attachments, keep_bodies;
    sqlite3 *db; /* the writer's connection */
    pthread_t writer;
    bool started;
    pthread_mutex_t lock; /* the queue and the request flags below */
    pthread_cond_t wake, idle;
    struct rec *head, *tail;
    size_t q_len, q_bytes;
    bool stopping, busy, held;
    uint64_t flush_req, flush_done;       /* flush generations */
    int64_t maintain_req_ms;              /* a maintain with this clock is asked for; 0: none */
    uint64_t maintain_gen, maintain_done; /* generations of maintain requests */
    bool need_rebuild;
    /* a forget request: one at a time (forget_lock), carried out by the writer */
    pthread_mutex_t forget_lock;
    uint64_t forget_gen, forget_done;
    int forget_by; /* V_BEFORE or V_MESSAGE_ID */
    int64_t forget_before;
    const char *forget_mid;
    int64_t forget_n;
    /* Counters: c.queued and c.dropped are the scanners' (under lock); w is
     * the writer's own, published to pub under lock after each round. */
    struct zhi_store_counters c, w, pub;
    /* The store's clock: the newest received_at written (replays keep their
     * own time, as the outbreak table does), never past the wall clock. */
    _Atomic int64_t newest_ms;
};

static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || !errlen)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* ---- building a record (scanner thread) ---------------------------------- */
static void sha256_hex(const uint8_t *p, size_t n, char out[65])
{
    struct sha256_ctx ctx;
    uint8_t d[SHA256_DIGEST_SIZE];
    sha256_init(&ctx);
    sha256_update(&ctx, n, p);
    sha256_digest(&ctx, sizeof d, d);
    for (size_t i = 0; i < sizeof d; i++)
        snprintf(out + 2 * i, 3, "%02x", d[i]);
}

/* Two passes over the same code: the first (base NULL) sizes the block, the
 * second copies into it. */
struct packer {
    char *base;
    size_t off;
};
static const char *pk_mem(struct packer *p, const void *src, size_t n, size_t align)
{
    p->off = (p->off + align - 1) & ~(align - 1);
    char *dst = p->base ? p->base + p->off : NULL;
    if (dst && src && n)
        memcpy(dst, src, n);
    p->off += n;
    return dst;
}
static const char *pk_str(struct packer *p, const char *s)
{
    return pk_mem(p, s ? s : "", strlen(s ? s : "") + 1, 1);
}

static bool keep_bytes(const struct zhi_store *st, const struct zhi_object *o)
{
    if ((uint64_t)o->len > (uint64_t)st->max_object_bytes || !o->len)
        return false;
    if (o->kind == ZHI_K_ATTACHMENT || o->kind == ZHI_K_MEMBER)
        return st->keep_attachments;
    return o->kind == ZHI_K_TEXT && st->keep_bodies;
}

static void pack(struct packer *p, const struct zhi_store *st, const struct zhi_scan *s,
                 const struct zh_result *r, struct rec *rec, const char (*sha)[65])
{
    const struct zh_scan_envelope *env = s->env;
    struct rec dummy;
    struct rec *R = rec ? rec : &dummy;
    pk_mem(p, NULL, sizeof *R, 16);
    R->client_ip = pk_str(p, env->client_ip);
    R->helo = pk_str(p, env->helo);
    R->mail_from = pk_str(p, env->mail_from);
    /* recipients, one per line (no SMTP address holds a line break) */
    size_t rl = 0;
    for (size_t i = 0; i < env->n_rcpt; i++)
        rl += strlen(env->rcpt_to[i] ? env->rcpt_to[i] : "") + 1;
    char *rc = (char *)pk_mem(p, NULL, rl + 1, 1);
    if (rc) {
        size_t o = 0;
        for (size_t i = 0; i < env->n_rcpt; i++)
            o += (size_t)sprintf(rc + o, "%s%s", i ? "\n" : "",
                                 env->rcpt_to[i] ? env->rcpt_to[i] : "");
        rc[o] = 0;
    }
    R->rcpt_to = rc;
    R->message_id = pk_str(p, s->message_id);
    R->subject = pk_str(p, s->subject);
    R->queue_id = pk_str(p, env->queue_id);
    R->fingerprint = pk_str(p, s->fingerprint);
    /* hits as "detector:rule", each once, comma-separated */
    size_t hl = 0;
    for (size_t i = 0; i < r->n_hits; i++)
        hl += strlen(r->hits[i].detector) + strlen(r->hits[i].rule) + 2;
    char *hb = (char *)pk_mem(p, NULL, hl + 1, 1);
    if (hb) {
        size_t o = 0;
        hb[0] = 0;
        for (size_t i = 0; i < r->n_hits; i++) {
            char one[256];
            snprintf(one, sizeof one, "%s:%s", r->hits[i].detector, r->hits[i].rule);
            const char *at = strstr(hb, one);
            size_t ol = strlen(one);
            if (at && (at[ol] == ',' || !at[ol]) && (at == hb || at[-1] == ','))
                continue;
            o += (size_t)sprintf(hb + o, "%s%s", o ? "," : "", one);
        }
    }
    R->hits = hb;
    R->verdict = r->verdict;
    R->score = r->score;
    R->received_at = s->received_at;
    R->n_obj = s->n_objects;
    R->obj = (struct rec_obj *)pk_mem(p, NULL, s->n_objects * sizeof *R->obj, 16);
    for (size_t i = 0; i < s->n_objects; i++) {
        const struct zhi_object *o = &s->objects[i];
        struct rec_obj tmp, *ro = R->obj ? &R->obj[i] : &tmp;
        ro->path = pk_str(p, o->path);
        ro->name = pk_str(p, o->filename);
        ro->kind = pk_str(p, zhi_kind_name(o->kind));
        ro->declared = pk_str(p, o->declared_type);
        ro->sniffed = pk_str(p, zhi_type_name(o->sniffed));
        ro->size = o->len;
        if (sha)
            memcpy(ro->sha256, sha[i], 65);
        ro->data = keep_bytes(st, o) ? (const uint8_t *)pk_mem(p, o->data, o->len, 1) : NULL;
    }
}

void zhi_store_offer(struct zhi_store *st, const struct zhi_scan *s, const struct zh_result *r)
{
    if (!st || r->status != 0)
        return; /* no verdict, nothing to remember */
    /* Hash here, in parallel on every scanner, rather than on the one writer. */
    char(*sha)[65] = s->n_objects ? malloc(s->n_objects * sizeof *sha) : NULL;
    if (s->n_objects && !sha)
        goto drop;
    for (size_t i = 0; i < s->n_objects; i++)
        sha256_hex(s->objects[i].data, s->objects[i].len, sha[i]);
    struct packer p = {0};
    pack(&p, st, s, r, NULL, (const char(*)[65])sha);
    size_t need = p.off;
    pthread_mutex_lock(&st->lock);
    bool fits = !st->stopping && st->q_len < (size_t)st->queue_len_max &&
                st->q_bytes + need <= (size_t)st->queue_bytes_max;
    if (fits) {
        st->q_len++; /* reserve, so the copy runs without the lock */
        st->q_bytes += need;
    }
    pthread_mutex_unlock(&st->lock);
    if (!fits)
        goto drop;
    struct rec *rec = malloc(need);
    if (rec) {
        p = (struct packer){.base = (char *)rec};
        pack(&p, st, s, r, rec, (const char(*)[65])sha);
        rec->next = NULL;
        rec->bytes = need;
    }
    free(sha);
    sha = NULL;
    pthread_mutex_lock(&st->lock);
    if (rec) {
        if (st->tail)
            st->tail->next = rec;
        else
            st->head = rec;
        st->tail = rec;
        st->c.queued++;
        pthread_cond_signal(&st->wake);
    } else {
        st->q_len--;
        st->q_bytes -= need;
        st->c.dropped++;
    }
    pthread_mutex_unlock(&st->lock);
    return;
drop:
    free(sha);
    pthread_mutex_lock(&st->lock);
    st->c.dropped++;
    pthread_mutex_unlock(&st->lock);
}

/* ---- the directory --------------------------------------------------------- */
/* Create (0700) or open dir and check it is ours and closed to others:
 * nobody else may place a link or a file where the store writes. */
static int secure_dir(const char *dir, char *err, size_t errlen)
{
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        set_err(err, errlen, "cannot create %s: %s", dir, strerror(errno));
        return -1;
    }
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        set_err(err, errlen, "cannot open %s: %s%s", dir, strerror(errno),
                errno == ELOOP || errno == ENOTDIR ? " (a symbolic link or not a directory)" : "");
        return -1;
    }
    struct stat sb;
    int rc = fstat(fd, &sb);
    close(fd);
    if (rc != 0 || sb.st_uid != geteuid() || (sb.st_mode & 077)) {
        set_err(err, errlen,
                "refusing store directory %s: owned by uid %u with mode %04o (it must belong to "
                "uid %u and be closed to others, 0700)",
                dir, (unsigned)sb.st_uid, (unsigned)(sb.st_mode & 07777), (unsigned)geteuid());
        return -1;
    }
    return 0;
}

/* The index file: ours, 0600, a regular file, not a link. SQLite gives its
 * -wal and -shm files the same mode. */
static int secure_file(const char *path, char *err, size_t errlen)
{
    int fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        set_err(err, errlen, "cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    struct stat sb;
    int rc = fstat(fd, &sb);
    if (rc == 0 && sb.st_uid == geteuid() && S_ISREG(sb.st_mode) && (sb.st_mode & 077))
        rc = fchmod(fd, 0600);
    close(fd);
    if (rc != 0 || sb.st_uid != geteuid() || !S_ISREG(sb.st_mode)) {
        set_err(err, errlen, "refusing %s: not a regular file of uid %u", path,
                (unsigned)geteuid());
        return -1;
    }
    return 0;
}

static char *path_join(const char *a, const char *b)
{
    size_t n = strlen(a) + strlen(b) + 2;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s/%s", a, b);
    return p;
}

/* ---- the index ---------------------------------------------------------------- */
static const char schema[] =
    "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS messages(id INTEGER PRIMARY KEY, received_at INTEGER NOT NULL,"
    " client_ip TEXT, helo TEXT, mail_from TEXT, rcpt_to TEXT, message_id TEXT, subject TEXT,"
    " queue_id TEXT, verdict INTEGER, score INTEGER, hits TEXT, fingerprint TEXT);"
    "CREATE INDEX IF NOT EXISTS messages_time ON messages(received_at);"
    "CREATE INDEX IF NOT EXISTS messages_fp ON messages(fingerprint);"
    "CREATE INDEX IF NOT EXISTS messages_mid ON messages(message_id);"
    "CREATE TABLE IF NOT EXISTS objects(message INTEGER NOT NULL, path TEXT, name TEXT,"
    " kind TEXT, declared_type TEXT, sniffed_type TEXT, size INTEGER, sha256 TEXT,"
    " kept INTEGER NOT NULL);"
    "CREATE INDEX IF NOT EXISTS objects_message ON objects(message);"
    "CREATE INDEX IF NOT EXISTS objects_sha ON objects(sha256);"
    "CREATE TABLE IF NOT EXISTS blobs(sha256 TEXT PRIMARY KEY, size INTEGER NOT NULL,"
    " refs INTEGER NOT NULL, last_seen INTEGER NOT NULL) WITHOUT ROWID;"
    "INSERT OR IGNORE INTO meta VALUES('schema', '1');";

static bool is_corrupt(int rc)
{
    rc &= 0xff;
    return rc == SQLITE_CORRUPT || rc == SQLITE_NOTADB;
}

static int exec(sqlite3 *db, const char *sql)
{
    return sqlite3_exec(db, sql, NULL, NULL, NULL);
}

static int64_t q_int(sqlite3 *db, const char *sql, int *rcp)
{
    sqlite3_stmt *q = NULL;
    int64_t v = 0;
    int rc = sqlite3_prepare_v2(db, sql, -1, &q, NULL);
    if (rc == SQLITE_OK && (rc = sqlite3_step(q)) == SQLITE_ROW) {
        v = sqlite3_column_int64(q, 0);
        rc = SQLITE_OK;
    }
    sqlite3_finalize(q);
    if (rcp)
        *rcp = rc == SQLITE_DONE ? SQLITE_OK : rc;
    return v;
}

/* Open the writer's connection: integrity check, then the schema. */
static int index_open(struct zhi_store *st, char *err, size_t errlen)
{
    if (secure_file(st->db_path, err, errlen) != 0)
        return SQLITE_CANTOPEN;
    int rc =
        sqlite3_open_v2(st->db_path, &st->db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOFOLLOW | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_busy_timeout(st->db, 5000);
    if (rc == SQLITE_OK)
        rc = exec(st->db, "PRAGMA auto_vacuum=INCREMENTAL");
    char *mode = NULL;
    if (rc == SQLITE_OK) {
        sqlite3_stmt *q = NULL;
        rc = sqlite3_prepare_v2(st->db, "PRAGMA quick_check", -1, &q, NULL);
        if (rc == SQLITE_OK && (rc = sqlite3_step(q)) == SQLITE_ROW) {
            const char *t = (const char *)sqlite3_column_text(q, 0);
            rc = t && !strcmp(t, "ok") ? SQLITE_OK : SQLITE_CORRUPT;
            if (rc != SQLITE_OK)
                set_err(err, errlen, "integrity check: %s", t ? t : "?");
        }
        sqlite3_finalize(q);
    }
    (void)mode;
    if (rc == SQLITE_OK)
        rc = exec(st->db, "PRAGMA journal_mode=WAL");
    if (rc == SQLITE_OK)
        rc = exec(st->db, "PRAGMA synchronous=NORMAL");
    if (rc == SQLITE_OK)
        rc = exec(st->db, schema);
    if (rc != SQLITE_OK) {
        if (err && !*err)
            set_err(err, errlen, "%s: %s", st->db_path,
                    st->db ? sqlite3_errmsg(st->db) : sqlite3_errstr(rc));
        sqlite3_close(st->db);
        st->db = NULL;
    }
    return rc;
}

/* Remove every file of the blob directory that the index does not name
 * (left by a crash between writing a file and committing its row), or all
 * of them when wipe is set (a rebuilt index names none). */
static void sweep_blobs(struct zhi_store *st, bool wipe)
{
    DIR *d = opendir(st->blob_dir);
    if (!d)
        return;
    sqlite3_stmt *q = NULL;
    if (!wipe && st->db)
        sqlite3_prepare_v2(st->db, "SELECT 1 FROM blobs WHERE sha256=?", -1, &q, NULL);
    struct dirent *de;
    unsigned removed = 0;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.' && (!de->d_name[1] || !strcmp(de->d_name, "..")))
            continue;
        bool known = false;
        if (q && strlen(de->d_name) == 64) {
            sqlite3_bind_text(q, 1, de->d_name, -1, SQLITE_STATIC);
            known = sqlite3_step(q) == SQLITE_ROW;
            sqlite3_reset(q);
        }
        if (!known && unlinkat(dirfd(d), de->d_name, 0) == 0)
            removed++;
    }
    sqlite3_finalize(q);
    closedir(d);
    if (removed)
        zh_log(ZH_LOG_INFO, "store: removed %u unreferenced file(s) from %s", removed,
               st->blob_dir);
}

static void refresh_sizes(struct zhi_store *st);

/* The index is unreadable: keep it aside for a post-mortem and start empty. */
static int rebuild(struct zhi_store *st, const char *why)
{
    char aside[4200], side[4200];
    sqlite3_close(st->db);
    st->db = NULL;
    zh_log(ZH_LOG_ERROR, "store: index %s is damaged (%s); moving it aside and starting afresh",
           st->db_path, why);
    snprintf(aside, sizeof aside, "%s.corrupt", st->db_path);
    rename(st->db_path, aside);
    snprintf(side, sizeof side, "%s-wal", st->db_path);
    unlink(side);
    snprintf(side, sizeof side, "%s-shm", st->db_path);
    unlink(side);
    sweep_blobs(st, true);
    st->w.rebuilds++;
    char err[512] = "";
    int rc = index_open(st, err, sizeof err);
    if (rc != SQLITE_OK)
        zh_log(ZH_LOG_ERROR, "store: cannot rebuild the index: %s", err);
    uint64_t rebuilds = st->w.rebuilds, errors = st->w.write_errors, lost = st->w.lost;
    refresh_sizes(st);
    st->w.rebuilds = rebuilds, st->w.write_errors = errors, st->w.lost = lost;
    return rc;
}

int64_t zhi_store_now(struct zhi_store *st)
{
    int64_t wall = zhi_unix_ms(), newest = atomic_load(&st->newest_ms);
    return newest && newest < wall ? newest : wall;
}

static void refresh_sizes(struct zhi_store *st)
{
    if (!st->db)
        return;
    atomic_store(&st->newest_ms,
                 q_int(st->db, "SELECT coalesce(max(received_at),0) FROM messages", NULL));
    st->w.index_bytes = (uint64_t)(q_int(st->db, "PRAGMA page_count", NULL) *
                                   q_int(st->db, "PRAGMA page_size", NULL));
    st->w.blob_bytes = (uint64_t)q_int(st->db, "SELECT coalesce(sum(size),0) FROM blobs", NULL);
    st->w.blobs = (uint64_t)q_int(st->db, "SELECT count(*) FROM blobs", NULL);
    st->w.messages = (uint64_t)q_int(st->db, "SELECT count(*) FROM messages", NULL);
}

/* ---- writing (writer thread) ---------------------------------------------- */
/* Write the kept bytes of one object as blobs/<sha256>: a private temporary
 * file renamed into place, so a reader never sees half a file. */
static int write_blob(struct zhi_store *st, const struct rec_obj *o)
{
    char tmp[4200], final[4200];
    snprintf(tmp, sizeof tmp, "%s/.tmp-XXXXXX", st->blob_dir);
    snprintf(final, sizeof final, "%s/%s", st->blob_dir, o->sha256);
    int fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0)
        return -1;
    size_t off = 0;
    while (off < o->size) {
        ssize_t w = write(fd, o->data + off, o->size - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break;
        off += (size_t)w;
    }
    int rc = off == o->size ? 0 : -1;
    if (close(fd) != 0)
        rc = -1;
    if (rc == 0)
        rc = rename(tmp, final);
    if (rc != 0)
        unlink(tmp);
    return rc;
}

struct stmts {
    sqlite3_stmt *msg, *obj, *ref, *blob;
};

static void stmts_free(struct stmts *s)
{
    sqlite3_finalize(s->msg);
    sqlite3_finalize(s->obj);
    sqlite3_finalize(s->ref);
    sqlite3_finalize(s->blob);
    memset(s, 0, sizeof *s);
}

static int stmts_prepare(sqlite3 *db, struct stmts *s)
{
    int rc = sqlite3_prepare_v2(
        db,
        "INSERT INTO messages(received_at,client_ip,helo,mail_from,rcpt_to,message_id,subject,"
        "queue_id,verdict,score,hits,fingerprint) VALUES(?,?,?,?,?,?,?,?,?,?,?,?)",
        -1, &s->msg, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2(db,
                                "INSERT INTO objects(message,path,name,kind,declared_type,"
                                "sniffed_type,size,sha256,kept) VALUES(?,?,?,?,?,?,?,?,?)",
                                -1, &s->obj, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2(
            db, "UPDATE blobs SET refs=refs+1, last_seen=max(last_seen, ?2) WHERE sha256=?1", -1,
            &s->ref, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2(db, "INSERT INTO blobs(sha256,size,refs,last_seen) VALUES(?,?,1,?)",
                                -1, &s->blob, NULL);
    return rc;
}

static int step_done(sqlite3_stmt *q)
{
    int rc = sqlite3_step(q);
    sqlite3_reset(q);
    sqlite3_clear_bindings(q);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* Files written in the batch being committed: removed if it rolls back. */
struct written {
    char (*sha)[65];
    uint64_t *size;
    size_t n, cap;
};

static int insert_rec(struct zhi_store *st, struct stmts *s, const struct rec *r, struct written *w)
{
    sqlite3_stmt *q = s->msg;
    const char *txt[] = {r->client_ip,  r->helo,    r->mail_from, r->rcpt_to,
                         r->message_id, r->subject, r->queue_id};
    sqlite3_bind_int64(q, 1, r->received_at);
    for (int i = 0; i < 7; i++)
        sqlite3_bind_text(q, 2 + i, txt[i], -1, SQLITE_STATIC);
    sqlite3_bind_int(q, 9, r->verdict);
    sqlite3_bind_int(q, 10, r->score);
    sqlite3_bind_text(q, 11, r->hits, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 12, r->fingerprint, -1, SQLITE_STATIC);
    int rc = step_done(q);
    if (rc != SQLITE_OK)
        return rc;
    int64_t id = sqlite3_last_insert_rowid(st->db);
    for (size_t i = 0; i < r->n_obj; i++) {
        const struct rec_obj *o = &r->obj[i];
        int kept = 0;
        if (o->data) {
            sqlite3_bind_text(s->ref, 1, o->sha256, -1, SQLITE_STATIC);
            sqlite3_bind_int64(s->ref, 2, r->received_at);
            if ((rc = step_done(s->ref)) != SQLITE_OK)
                return rc;
            if (sqlite3_changes(st->db) == 1) {
                kept = 1;
            } else if (write_blob(st, o) == 0) {
                sqlite3_bind_text(s->blob, 1, o->sha256, -1, SQLITE_STATIC);
                sqlite3_bind_int64(s->blob, 2, (sqlite3_int64)o->size);
                sqlite3_bind_int64(s->blob, 3, r->received_at);
                if ((rc = step_done(s->blob)) != SQLITE_OK)
                    return rc;
                kept = 1;
                if (w->n == w->cap) {
                    size_t nc = w->cap ? 2 * w->cap : 64;
                    void *a = realloc(w->sha, nc * sizeof *w->sha);
                    if (a)
                        w->sha = a;
                    void *b = a ? realloc(w->size, nc * sizeof *w->size) : NULL;
                    if (b)
                        w->size = b;
                    if (!a || !b)
                        return SQLITE_NOMEM;
                    w->cap = nc;
                }
                memcpy(w->sha[w->n], o->sha256, 65);
                w->size[w->n++] = o->size;
            } else {
                /* disk full, most likely: the metadata is kept without the bytes */
                int e = errno;
                uint64_t k = ++st->w.write_errors;
                if (!(k & (k - 1)))
                    zh_log(ZH_LOG_WARN,
                           "store: cannot keep the bytes of %s: %s (store error %llu; the "
                           "message is stored without them)",
                           o->path, strerror(e), (unsigned long long)k);
            }
        }
        q = s->obj;
        sqlite3_bind_int64(q, 1, id);
        sqlite3_bind_text(q, 2, o->path, -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 3, o->name, -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 4, o->kind, -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 5, o->declared, -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 6, o->sniffed, -1, SQLITE_STATIC);
        sqlite3_bind_int64(q, 7, (sqlite3_int64)o->size);
        sqlite3_bind_text(q, 8, o->sha256, -1, SQLITE_STATIC);
        sqlite3_bind_int(q, 9, kept);
        if ((rc = step_done(q)) != SQLITE_OK)
            return rc;
    }
    return SQLITE_OK;
}

static void note_error(struct zhi_store *st, int rc, const char *what)
{
    uint64_t n = ++st->w.write_errors;
    if (is_corrupt(rc))
        st->need_rebuild = true;
    /* A full disk fails every batch: say so at the 1st, 2nd, 4th... error. */
    if (!(n & (n - 1)))
        zh_log(ZH_LOG_WARN, "store: %s: %s (store error %llu; scanning goes on)", what,
               st->db ? sqlite3_errmsg(st->db) : sqlite3_errstr(rc), (unsigned long long)n);
}

/* Write one batch in one transaction. On failure the batch is lost (and
 * counted), the files it wrote are removed, scanning is unaffected. */
static void write_batch(struct zhi_store *st, struct rec *batch, size_t n)
{
    struct stmts s = {0};
    struct written w = {0};
    int rc = st->db ? SQLITE_OK : SQLITE_CANTOPEN;
    if (rc == SQLITE_OK)
        rc = stmts_prepare(st->db, &s);
    if (rc == SQLITE_OK)
        rc = exec(st->db, "BEGIN IMMEDIATE");
    for (struct rec *r = batch; r && rc == SQLITE_OK; r = r->next)
        rc = insert_rec(st, &s, r, &w);
    if (rc == SQLITE_OK)
        rc = exec(st->db, "COMMIT");
    if (rc != SQLITE_OK)
        note_error(st, rc, "writing scans"); /* before the rollback replaces the message */
    stmts_free(&s);
    if (rc != SQLITE_OK) {
        if (st->db)
            exec(st->db, "ROLLBACK");
        for (size_t i = 0; i < w.n; i++) {
            char path[4200];
            snprintf(path, sizeof path, "%s/%s", st->blob_dir, w.sha[i]);
            unlink(path);
        }
        st->w.lost += n;
    } else {
        int64_t newest = atomic_load(&st->newest_ms);
        for (struct rec *r = batch; r; r = r->next)
            newest = r->received_at > newest ? r->received_at : newest;
        atomic_store(&st->newest_ms, newest);
        st->w.stored += n;
        st->w.messages += n;
        for (size_t i = 0; i < w.n; i++) {
            st->w.blob_bytes += w.size[i];
            st->w.blobs++;
        }
    }
    free(w.sha);
    free(w.size);
}

/* Which messages delete_oldest takes: the oldest, those received before a
 * time, or those of one Message-ID. */
struct victims {
    enum { V_OLDEST, V_BEFORE, V_MESSAGE_ID } by;
    int64_t before;
    const char *message_id;
};

/* Forget the `limit` oldest messages of v: their rows, and the files no
 * remaining message refers to. Returns how many went, or -1 on an error. */
static int64_t delete_oldest(struct zhi_store *st, const struct victims *v, int limit)
{
    static const char *const select_sql[] = {
        [V_OLDEST] = "SELECT id FROM messages ORDER BY received_at, id LIMIT ?1",
        [V_BEFORE] = "SELECT id FROM messages WHERE received_at < ?2 ORDER BY received_at, id "
                     "LIMIT ?1",
        [V_MESSAGE_ID] = "SELECT id FROM messages WHERE message_id = ?3 ORDER BY received_at, "
                         "id LIMIT ?1",
    };
    sqlite3 *db = st->db;
    sqlite3_stmt *sel = NULL, *objs = NULL, *unref = NULL, *del_o = NULL, *del_m = NULL,
                 *dead = NULL;
    int64_t n = 0;
    char(*gone)[65] = NULL;
    size_t n_gone = 0, cap_gone = 0;
    uint64_t gone_bytes = 0;
    int rc = exec(db, "BEGIN IMMEDIATE");
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2(db, select_sql[v->by], -1, &sel, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2(db, "SELECT sha256 FROM objects WHERE message=? AND kept=1", -1,
                                &objs, NULL);
    if (rc == SQLITE_OK)
        rc =
            sqlite3_prepare_v2(db, "UPDATE blobs SET refs=refs-1 WHERE sha256=?", -1, &unref, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2(db, "DELETE FROM objects WHERE message=?", -1, &del_o, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2(db, "DELETE FROM messages WHERE id=?", -1, &del_m, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2(db, "DELETE FROM blobs WHERE refs<=0 RETURNING sha256, size", -1,
                                &dead, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_int(sel, 1, limit);
        if (v->by == V_BEFORE)
            sqlite3_bind_int64(sel, 2, v->before);
        if (v->by == V_MESSAGE_ID)
            sqlite3_bind_text(sel, 3, v->message_id, -1, SQLITE_STATIC);
        int64_t ids[DELETE_BATCH];
        int n_ids = 0;
        while (n_ids < DELETE_BATCH && (rc = sqlite3_step(sel)) == SQLITE_ROW)
            ids[n_ids++] = sqlite3_column_int64(sel, 0);
        rc = rc == SQLITE_ROW || rc == SQLITE_DONE ? SQLITE_OK : rc;
        for (int i = 0; i < n_ids && rc == SQLITE_OK; i++) {
            sqlite3_bind_int64(objs, 1, ids[i]);
            while ((rc = sqlite3_step(objs)) == SQLITE_ROW) {
                sqlite3_bind_text(unref, 1, (const char *)sqlite3_column_text(objs, 0), -1,
                                  SQLITE_TRANSIENT);
                if ((rc = step_done(unref)) != SQLITE_OK)
                    break;
            }
            sqlite3_reset(objs);
            if (rc != SQLITE_OK && rc != SQLITE_DONE)
                break;
            sqlite3_bind_int64(del_o, 1, ids[i]);
            sqlite3_bind_int64(del_m, 1, ids[i]);
            if ((rc = step_done(del_o)) == SQLITE_OK)
                rc = step_done(del_m);
            n++;
        }
        while (rc == SQLITE_OK && (rc = sqlite3_step(dead)) == SQLITE_ROW) {
            if (n_gone == cap_gone) {
                cap_gone = cap_gone ? 2 * cap_gone : 64;
                void *p = realloc(gone, cap_gone * sizeof *gone);
                if (!p) {
                    rc = SQLITE_NOMEM;
                    break;
                }
                gone = p;
            }
            snprintf(gone[n_gone++], 65, "%s", (const char *)sqlite3_column_text(dead, 0));
            gone_bytes += (uint64_t)sqlite3_column_int64(dead, 1);
            rc = SQLITE_OK;
        }
        if (rc == SQLITE_DONE)
            rc = SQLITE_OK;
    }
    sqlite3_finalize(sel);
    sqlite3_finalize(objs);
    sqlite3_finalize(unref);
    sqlite3_finalize(del_o);
    sqlite3_finalize(del_m);
    sqlite3_finalize(dead);
    if (rc == SQLITE_OK)
        rc = exec(db, "COMMIT");
    if (rc != SQLITE_OK) {
        note_error(st, rc, "forgetting old scans");
        exec(db, "ROLLBACK");
        free(gone);
        return -1;
    }
    /* The rows are gone for good: now the files (a crash here leaves files
     * the next start sweeps). */
    for (size_t i = 0; i < n_gone; i++) {
        char path[4200];
        snprintf(path, sizeof path, "%s/%s", st->blob_dir, gone[i]);
        unlink(path);
    }
    free(gone);
    st->w.messages -= (uint64_t)n < st->w.messages ? (uint64_t)n : st->w.messages;
    st->w.blobs -= n_gone < st->w.blobs ? n_gone : st->w.blobs;
    st->w.blob_bytes -= gone_bytes < st->w.blob_bytes ? gone_bytes : st->w.blob_bytes;
    return n;
}

static uint64_t used_bytes(struct zhi_store *st)
{
    st->w.index_bytes = (uint64_t)((q_int(st->db, "PRAGMA page_count", NULL) -
                                    q_int(st->db, "PRAGMA freelist_count", NULL)) *
                                   q_int(st->db, "PRAGMA page_size", NULL));
    return st->w.index_bytes + st->w.blob_bytes;
}

/* Retention, then the budget: oldest first, down to 90% of max_bytes so the
 * next messages do not evict one by one. */
static void maintain(struct zhi_store *st, int64_t now_ms)
{
    if (!st->db)
        return;
    int64_t n;
    const struct victims expired = {V_BEFORE, now_ms - st->retention_ms, NULL};
    const struct victims oldest = {V_OLDEST, 0, NULL};
    while ((n = delete_oldest(st, &expired, DELETE_BATCH)) > 0)
        st->w.expired += (uint64_t)n;
    uint64_t low = (uint64_t)st->max_bytes / 10 * 9;
    if (used_bytes(st) > (uint64_t)st->max_bytes) {
        uint64_t used;
        while ((used = used_bytes(st)) > low && st->w.messages) {
            /* as many as the average message's share says, in batches */
            uint64_t avg = used / st->w.messages + 1;
            uint64_t want = (used - low + avg - 1) / avg;
            if ((n = delete_oldest(st, &oldest, want > DELETE_BATCH ? DELETE_BATCH : (int)want)) <=
                0)
                break;
            st->w.evicted += (uint64_t)n;
        }
        exec(st->db, "PRAGMA incremental_vacuum");
        exec(st->db, "PRAGMA wal_checkpoint(TRUNCATE)");
        used_bytes(st);
    }
}

/* A privacy request: every matching message, with the pages that held it
 * overwritten (secure_delete) and the log emptied, so its text is gone from
 * the disk too, not only from the index. */
static int64_t forget_now(struct zhi_store *st, const struct victims *v)
{
    if (!st->db)
        return -1;
    int64_t total = 0, n;
    exec(st->db, "PRAGMA secure_delete=ON");
    while ((n = delete_oldest(st, v, DELETE_BATCH)) > 0)
        total += n;
    exec(st->db, "PRAGMA secure_delete=OFF");
    exec(st->db, "PRAGMA wal_checkpoint(TRUNCATE)");
    if (n < 0)
        return -1;
    zh_log(ZH_LOG_INFO, "store: forgot %lld message(s) on request", (long long)total);
    return total;
}

static void *writer_main(void *arg)
{
    struct zhi_store *st = arg;
    int64_t last_maintain = 0;
    pthread_mutex_lock(&st->lock);
    for (;;) {
        while (!st->stopping && (st->held || (!st->head && st->flush_req == st->flush_done &&
                                              st->maintain_gen == st->maintain_done &&
                                              st->forget_gen == st->forget_done))) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_sec += 1;
            if (pthread_cond_timedwait(&st->wake, &st->lock, &ts) != 0 && !st->held)
                break; /* a second passed: time for maintenance */
        }
        struct rec *batch = st->head;
        size_t n = st->q_len, bytes = st->q_bytes;
        uint64_t flush_gen = st->flush_req, maint_gen = st->maintain_gen;
        int64_t maint_ms = st->maintain_req_ms;
        uint64_t forget_gen = st->forget_gen;
        struct victims forget = {st->forget_by, st->forget_before, st->forget_mid};
        bool stop = st->stopping;
        st->head = st->tail = NULL;
        st->busy = true;
        pthread_mutex_unlock(&st->lock);

        /* The writer is the only user of st->db and of the counters' writes
         * below, which Stats reads under the lock after this batch. */
        if (st->need_rebuild) {
            st->need_rebuild = false;
            rebuild(st, "an error said so");
        }
        if (batch)
            write_batch(st, batch, n);
        int64_t now = zhi_store_now(st);
        if (maint_gen != st->maintain_done && maint_ms)
            maintain(st, maint_ms);
        else if (now - last_maintain >= MAINTAIN_EVERY_MS) {
            maintain(st, now);
            last_maintain = now;
        }
        int64_t forgotten = 0;
        if (forget_gen != st->forget_done)
            forgotten = forget_now(st, &forget);
        while (batch) {
            struct rec *next = batch->next;
            free(batch);
            batch = next;
        }

        pthread_mutex_lock(&st->lock);
        st->q_len -= n;
        st->q_bytes -= bytes;
        st->busy = false;
        st->flush_done = flush_gen;
        st->maintain_done = maint_gen;
        if (forget_gen != st->forget_done) {
            st->forget_n = forgotten;
            st->forget_done = forget_gen;
        }
        st->pub = st->w;
        pthread_cond_broadcast(&st->idle);
        if (stop && !st->head)
            break;
    }
    pthread_mutex_unlock(&st->lock);
    return NULL;
}

/* ---- open / close ------------------------------------------------------------ */
zh_err zhi_store_open(const struct zh_config *cfg, struct zhi_store **out, char *err, size_t errlen)
{
    struct zhi_store *st = calloc(1, sizeof *st);
    if (!st)
        return ZH_ERR_FATAL;
    if (err && errlen)
        *err = 0;
    st->retention_ms = cfg->store_retention_ms;
    st->max_bytes = cfg->store_max_bytes;
    st->max_object_bytes = cfg->store_max_object_bytes;
    st->queue_bytes_max = cfg->store_queue_bytes;
    st->queue_len_max = cfg->store_queue_length;
    st->keep_attachments = cfg->store_keep_attachments != 0;
    st->keep_bodies = cfg->store_keep_bodies != 0;
    pthread_mutex_init(&st->lock, NULL);
    pthread_mutex_init(&st->forget_lock, NULL);
    pthread_cond_init(&st->wake, NULL);
    pthread_cond_init(&st->idle, NULL);
    zh_err rc = ZH_ERR_FAILED;
    if (!(st->dir = strdup(cfg->store_directory)) ||
        !(st->db_path = path_join(st->dir, "index.db")) ||
        !(st->blob_dir = path_join(st->dir, "objects"))) {
        rc = ZH_ERR_FATAL;
        goto fail;
    }
    if (secure_dir(st->dir, err, errlen) != 0 || secure_dir(st->blob_dir, err, errlen) != 0)
        goto fail;
    int src = index_open(st, err, errlen);
    if (is_corrupt(src) || (src != SQLITE_OK && src != SQLITE_CANTOPEN)) {
        char why[512];
        snprintf(why, sizeof why, "%s", err && *err ? err : sqlite3_errstr(src));
        if (err && errlen)
            *err = 0;
        src = rebuild(st, why);
    }
    if (src != SQLITE_OK) {
        if (err && !*err)
            set_err(err, errlen, "cannot open the index %s", st->db_path);
        goto fail;
    }
    sweep_blobs(st, false);
    refresh_sizes(st);
    st->pub = st->w;
    if (pthread_create(&st->writer, NULL, writer_main, st) != 0) {
        set_err(err, errlen, "cannot start the store's writer thread");
        goto fail;
    }
    st->started = true;
    zh_log(ZH_LOG_INFO,
           "store: %s, %" PRIu64 " messages, %" PRIu64 " kept objects (%" PRIu64
           " bytes), index %" PRIu64 " bytes",
           st->dir, st->w.messages, st->w.blobs, st->w.blob_bytes, st->w.index_bytes);
    *out = st;
    return ZH_ERR_OK;
fail:
    zhi_store_close(st);
    return rc;
}

void zhi_store_close(struct zhi_store *st)
{
    if (!st)
        return;
    if (st->started) {
        pthread_mutex_lock(&st->lock);
        st->stopping = true;
        pthread_cond_signal(&st->wake);
        pthread_mutex_unlock(&st->lock);
        pthread_join(st->writer, NULL);
    }
    sqlite3_close(st->db);
    pthread_mutex_destroy(&st->lock);
    pthread_mutex_destroy(&st->forget_lock);
    pthread_cond_destroy(&st->wake);
    pthread_cond_destroy(&st->idle);
    free(st->dir);
    free(st->db_path);
    free(st->blob_dir);
    free(st);
}

void zhi_store_flush(struct zhi_store *st)
{
    if (!st || !st->started)
        return;
    pthread_mutex_lock(&st->lock);
    uint64_t gen = ++st->flush_req;
    pthread_cond_signal(&st->wake);
    while (st->flush_done < gen && !st->stopping)
        pthread_cond_wait(&st->idle, &st->lock);
    pthread_mutex_unlock(&st->lock);
}

void zhi_store_maintain(struct zhi_store *st, int64_t now_ms)
{
    if (!st || !st->started)
        return;
    pthread_mutex_lock(&st->lock);
    uint64_t gen = ++st->maintain_gen;
    st->maintain_req_ms = now_ms;
    pthread_cond_signal(&st->wake);
    while (st->maintain_done < gen && !st->stopping)
        pthread_cond_wait(&st->idle, &st->lock);
    pthread_mutex_unlock(&st->lock);
}

zh_err zhi_store_forget(struct zhi_store *st, const char *message_id, int64_t older_than_ms,
                        uint64_t *n)
{
    if (!st->started)
        return ZH_ERR_FAILED;
    pthread_mutex_lock(&st->forget_lock);
    zhi_store_flush(st); /* what is queued is forgotten too, and sets the clock */
    pthread_mutex_lock(&st->lock);
    st->forget_by = message_id ? V_MESSAGE_ID : V_BEFORE;
    st->forget_mid = message_id;
    st->forget_before = message_id ? 0 : zhi_store_now(st) - older_than_ms;
    uint64_t gen = ++st->forget_gen;
    pthread_cond_signal(&st->wake);
    while (st->forget_done < gen && !st->stopping)
        pthread_cond_wait(&st->idle, &st->lock);
    int64_t got = st->forget_done >= gen ? st->forget_n : -1;
    st->forget_mid = NULL;
    pthread_mutex_unlock(&st->lock);
    pthread_mutex_unlock(&st->forget_lock);
    if (got < 0)
        return ZH_ERR_FAILED;
    *n = (uint64_t)got;
    return ZH_ERR_OK;
}

void zhi_store_hold(struct zhi_store *st, bool hold)
{
    pthread_mutex_lock(&st->lock);
    st->held = hold;
    pthread_cond_signal(&st->wake);
    pthread_mutex_unlock(&st->lock);
}

void zhi_store_counters(struct zhi_store *st, struct zhi_store_counters *out)
{
    pthread_mutex_lock(&st->lock);
    *out = st->pub;
    out->queued = st->c.queued;
    out->dropped = st->c.dropped;
    out->queue_len = st->q_len;
    out->queue_bytes = st->q_bytes;
    pthread_mutex_unlock(&st->lock);
}

void zhi_store_stats(struct zhi_store *st, zh_stats_fn fn, void *ud)
{
    struct zhi_store_counters c = {0};
    if (st)
        zhi_store_counters(st, &c);
    char v[32];
#define PUT(key, val)                                                                              \
    do {                                                                                           \
        snprintf(v, sizeof v, "%" PRIu64, (uint64_t)(val));                                        \
        fn(ud, "store", key, v);                                                                   \
    } while (0)
    fn(ud, "store", "store_enabled", st ? "1" : "0");
    PUT("store_messages", c.messages);
    PUT("store_kept_objects", c.blobs);
    PUT("store_kept_bytes", c.blob_bytes);
    PUT("store_index_bytes", c.index_bytes);
    PUT("store_queued", c.queued);
    PUT("store_stored", c.stored);
    PUT("store_dropped_queue_full", c.dropped);
    PUT("store_lost_write_error", c.lost);
    PUT("store_write_errors", c.write_errors);
    PUT("store_rebuilds", c.rebuilds);
    PUT("store_expired", c.expired);
    PUT("store_evicted_budget", c.evicted);
    PUT("store_queue_length", c.queue_len);
    PUT("store_queue_bytes", c.queue_bytes);
#undef PUT
}

/* ---- queries ------------------------------------------------------------------ */
static int reader_open(struct zhi_store *st, sqlite3 **db, char *err, size_t errlen)
{
    int rc = sqlite3_open_v2(
        st->db_path, db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOFOLLOW | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_busy_timeout(*db, 5000);
    if (rc != SQLITE_OK) {
        set_err(err, errlen, "store index %s: %s", st->db_path,
                *db ? sqlite3_errmsg(*db) : sqlite3_errstr(rc));
        sqlite3_close(*db);
        *db = NULL;
    }
    return rc;
}

static const char *col(sqlite3_stmt *q, int i)
{
    const char *t = (const char *)sqlite3_column_text(q, i);
    return t ? t : "";
}

/* Distinct kept hashes of the window, each with its first stored copy: a
 * kept file whose newest message is in the window (last_seen) is a
 * candidate, so the cost follows the distinct objects, not the copies. */
static const char blob_sql[] =
    "SELECT b.sha256, o.name, o.declared_type, o.sniffed_type, o.kind, o.path, b.size"
    " FROM blobs b JOIN objects o ON o.rowid ="
    " (SELECT rowid FROM objects WHERE sha256 = b.sha256 AND kept = 1 LIMIT 1)"
    " WHERE b.last_seen >= ?1 AND b.sha256 > ?2 ORDER BY b.sha256 LIMIT ?3";

zh_err zhi_store_count_blobs(struct zhi_store *st, int64_t since_ms, uint64_t *n, char *err,
                             size_t errlen)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *q = NULL;
    if (reader_open(st, &db, err, errlen) != SQLITE_OK)
        return ZH_ERR_FAILED;
    int rc =
        sqlite3_prepare_v2(db, "SELECT count(*) FROM blobs WHERE last_seen >= ?1", -1, &q, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_int64(q, 1, since_ms);
        if ((rc = sqlite3_step(q)) == SQLITE_ROW) {
            *n = (uint64_t)sqlite3_column_int64(q, 0);
            rc = SQLITE_OK;
        }
    }
    if (rc != SQLITE_OK)
        set_err(err, errlen, "store index: %s", sqlite3_errmsg(db));
    sqlite3_finalize(q);
    sqlite3_close(db);
    return rc == SQLITE_OK ? ZH_ERR_OK : ZH_ERR_FAILED;
}

zh_err zhi_store_each_blob(struct zhi_store *st, int64_t since_ms, const char *after, int limit,
                           zhi_store_blob_fn fn, void *ud, char *err, size_t errlen)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *q = NULL;
    if (reader_open(st, &db, err, errlen) != SQLITE_OK)
        return ZH_ERR_FAILED;
    int rc = sqlite3_prepare_v2(db, blob_sql, -1, &q, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_int64(q, 1, since_ms);
        sqlite3_bind_text(q, 2, after ? after : "", -1, SQLITE_STATIC);
        sqlite3_bind_int(q, 3, limit);
        while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
            char path[4200];
            snprintf(path, sizeof path, "%s/%s", st->blob_dir, col(q, 0));
            struct zhi_store_blob b = {
                .sha256 = col(q, 0),
                .path = path,
                .name = col(q, 1),
                .declared_type = col(q, 2),
                .sniffed_type = col(q, 3),
                .kind = col(q, 4),
                .object = col(q, 5),
                .size = (uint64_t)sqlite3_column_int64(q, 6),
            };
            const char *dot = strrchr(b.name, '.');
            b.ext = dot ? dot + 1 : "";
            if (fn(ud, &b)) {
                rc = SQLITE_DONE;
                break;
            }
        }
    }
    if (rc != SQLITE_DONE)
        set_err(err, errlen, "store index: %s", sqlite3_errmsg(db));
    sqlite3_finalize(q);
    sqlite3_close(db);
    return rc == SQLITE_DONE ? ZH_ERR_OK : ZH_ERR_FAILED;
}

#define MSG_COLS                                                                                   \
    "m.id, m.received_at, m.client_ip, m.helo, m.mail_from, m.rcpt_to, m.message_id, "             \
    "m.subject, m.queue_id, m.hits, m.fingerprint, m.verdict, m.score"

static int emit_messages(sqlite3_stmt *q, int extra, zhi_store_message_fn fn, void *ud)
{
    int rc;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        struct zhi_store_message m = {
            .id = sqlite3_column_int64(q, 0),
            .received_at = sqlite3_column_int64(q, 1),
            .client_ip = col(q, 2),
            .helo = col(q, 3),
            .mail_from = col(q, 4),
            .rcpt_to = col(q, 5),
            .message_id = col(q, 6),
            .subject = col(q, 7),
            .queue_id = col(q, 8),
            .hits = col(q, 9),
            .fingerprint = col(q, 10),
            .verdict = sqlite3_column_int(q, 11),
            .score = sqlite3_column_int(q, 12),
            .sha256 = extra ? col(q, 13) : "",
            .object = extra ? col(q, 14) : "",
        };
        if (fn(ud, &m))
            return SQLITE_DONE;
    }
    return rc;
}

zh_err zhi_store_messages_by_hash(struct zhi_store *st, int64_t since_ms, const char *const *sha256,
                                  size_t n, zhi_store_message_fn fn, void *ud, char *err,
                                  size_t errlen)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *q = NULL;
    if (reader_open(st, &db, err, errlen) != SQLITE_OK)
        return ZH_ERR_FAILED;
    /* One query per hash keeps the statement simple; a hunt matches few. */
    int rc = sqlite3_prepare_v2(db,
                                "SELECT " MSG_COLS ", o.sha256, o.path FROM objects o JOIN "
                                "messages m ON m.id = o.message WHERE o.sha256 = ?1 AND "
                                "m.received_at >= ?2 ORDER BY m.received_at, m.id",
                                -1, &q, NULL);
    for (size_t i = 0; i < n && rc == SQLITE_OK; i++) {
        sqlite3_bind_text(q, 1, sha256[i], -1, SQLITE_STATIC);
        sqlite3_bind_int64(q, 2, since_ms);
        rc = emit_messages(q, 1, fn, ud);
        sqlite3_reset(q);
        rc = rc == SQLITE_DONE ? SQLITE_OK : rc;
    }
    if (rc != SQLITE_OK)
        set_err(err, errlen, "store index: %s", sqlite3_errmsg(db));
    sqlite3_finalize(q);
    sqlite3_close(db);
    return rc == SQLITE_OK ? ZH_ERR_OK : ZH_ERR_FAILED;
}

zh_err zhi_store_messages_by_fingerprint(struct zhi_store *st, int64_t since_ms, const char *fp,
                                         zhi_store_message_fn fn, void *ud, char *err,
                                         size_t errlen)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *q = NULL;
    if (reader_open(st, &db, err, errlen) != SQLITE_OK)
        return ZH_ERR_FAILED;
    int rc = sqlite3_prepare_v2(db,
                                "SELECT " MSG_COLS " FROM messages m WHERE m.fingerprint = ?1 "
                                "AND m.received_at >= ?2 ORDER BY m.received_at, m.id",
                                -1, &q, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_text(q, 1, fp, -1, SQLITE_STATIC);
        sqlite3_bind_int64(q, 2, since_ms);
        rc = emit_messages(q, 0, fn, ud);
    }
    if (rc != SQLITE_DONE)
        set_err(err, errlen, "store index: %s", sqlite3_errmsg(db));
    sqlite3_finalize(q);
    sqlite3_close(db);
    return rc == SQLITE_DONE ? ZH_ERR_OK : ZH_ERR_FAILED;
}

zh_err zhi_store_count_delivered(struct zhi_store *st, const char *fp, int64_t before_ms,
                                 uint64_t *n)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *q = NULL;
    if (reader_open(st, &db, NULL, 0) != SQLITE_OK)
        return ZH_ERR_FAILED;
    int rc = sqlite3_prepare_v2(db,
                                "SELECT count(*) FROM messages WHERE fingerprint = ?1 AND "
                                "received_at < ?2 AND verdict IN (?3, ?4)",
                                -1, &q, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_text(q, 1, fp, -1, SQLITE_STATIC);
        sqlite3_bind_int64(q, 2, before_ms);
        sqlite3_bind_int(q, 3, ZH_VERDICT_CLEAN);
        sqlite3_bind_int(q, 4, ZH_VERDICT_SUSPICIOUS);
        if ((rc = sqlite3_step(q)) == SQLITE_ROW) {
            *n = (uint64_t)sqlite3_column_int64(q, 0);
            rc = SQLITE_OK;
        }
    }
    sqlite3_finalize(q);
    sqlite3_close(db);
    return rc == SQLITE_OK ? ZH_ERR_OK : ZH_ERR_FAILED;
}
