/* A retro-hunt: rules compiled from the caller's sources, run on a thread of
 * its own over each distinct kept object of the store's window (a wave of
 * 100,000 copies is one object to scan), pausing so it takes at most
 * hunt_cpu_percent of one core, stoppable by cancel or deadline; then the
 * messages that carried a matching object. Hunts by hash or by outbreak
 * fingerprint are index look-ups. It reads the store; it never writes it. */
#include "hunt.h"
#include "zhi.h"
#include "zerohour/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <yara.h>

#define PAGE 512                   /* kept objects read from the index at once */
#define SLICE_NS (20 * 1000000ull) /* CPU the hunt spends before it pauses */
#define OBJECT_TIMEOUT_S 10        /* one object's YARA budget */

struct match {
    char sha[65];
    char *rules; /* comma-separated rule names */
};

struct zhi_hunt {
    uint64_t id;
    struct zhi_store *store;
    YR_RULES *rules;
    char *sha256, *outbreak;
    int64_t since;
    uint64_t deadline_us; /* monotonic; 0 = none */
    unsigned cpu_percent;
    size_t max_messages;
    pthread_t thread;
    bool started;
    atomic_bool cancel;
    pthread_mutex_t lock; /* everything below */
    int state;
    char error[512];
    uint64_t objects_total, objects_done, unreadable, bytes_done, started_us, ended_us;
    struct zh_hunt_message *msgs;
    size_t n_msgs;
    bool truncated;
    /* the hunt thread's own */
    struct match *m;
    size_t n_m, cap_m;
    YR_SCANNER *scanner;
    char last[65];
    unsigned page_n;
    uint8_t *buf;
    size_t buf_cap;
    struct zhi_arena arena; /* what the externals compute for one object */
    uint64_t cpu_mark_ns;
    bool stop;
};

static bool is_hex(const char *s, size_t n)
{
    if (!s || strlen(s) != n)
        return false;
    for (; *s; s++)
        if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f') || (*s >= 'A' && *s <= 'F')))
            return false;
    return true;
}

static char *lower_dup(const char *s)
{
    char *d = strdup(s);
    for (char *p = d; p && *p; p++)
        *p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
    return d;
}

/* ---- compiling ---------------------------------------------------------------- */
struct compile_errs {
    const char *current; /* name of the source being added */
    char *err;
    size_t errlen, used;
    unsigned n;
};

static void on_compile(int level, const char *file, int line, const YR_RULE *rule, const char *msg,
                       void *ud)
{
    struct compile_errs *ce = ud;
    if (level != YARA_ERROR_LEVEL_ERROR)
        return;
    if (ce->used + 2 < ce->errlen)
        ce->used += (size_t)snprintf(ce->err + ce->used, ce->errlen - ce->used, "%s%s:%d: %s",
                                     ce->n ? "; " : "", ce->current, line, msg);
    if (ce->used >= ce->errlen)
        ce->used = ce->errlen - 1;
    ce->n++;
}

/* Hunting rules come over the wire: they may not read the engine's files. */
static const char *no_include(const char *name, const char *caller, const char *ns, void *ud)
{
    return NULL;
}

static zh_err compile(const struct zh_hunt_request *req, YR_RULES **out, char *err, size_t errlen)
{
    YR_COMPILER *c = NULL;
    struct compile_errs ce = {.err = err, .errlen = errlen};
    if (yr_compiler_create(&c) != ERROR_SUCCESS ||
        zhi_rules_declare_externals(c) != ERROR_SUCCESS) {
        yr_compiler_destroy(c);
        return ZH_ERR_FATAL;
    }
    yr_compiler_set_callback(c, on_compile, &ce);
    yr_compiler_set_include_callback(c, no_include, NULL, NULL);
    for (size_t i = 0; i < req->n_rules; i++) {
        const char *name = req->rules[i].name && *req->rules[i].name ? req->rules[i].name : "rules";
        ce.current = name; /* a string has no file name of its own */
        yr_compiler_add_string(c, req->rules[i].source ? req->rules[i].source : "", NULL);
        if (ce.n)
            break; /* libyara refuses more input after an error */
    }
    zh_err rc = ZH_ERR_OK;
    if (ce.n) {
        rc = ZH_ERR_INVALID;
    } else if (yr_compiler_get_rules(c, out) != ERROR_SUCCESS) {
        snprintf(err, errlen, "the rules could not be compiled");
        rc = ZH_ERR_INVALID;
    }
    yr_compiler_destroy(c);
    return rc;
}

/* ---- scanning (hunt thread) ------------------------------------------------------ */
static uint64_t thread_cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* After each slice of CPU, sleep so the hunt's share of one core stays at
 * cpu_percent: the scan workers keep the rest. */
static void throttle(struct zhi_hunt *h)
{
    uint64_t used = thread_cpu_ns() - h->cpu_mark_ns;
    if (used < SLICE_NS)
        return;
    if (h->cpu_percent < 100) {
        /* In short steps, so a cancel or the deadline is seen within 50 ms. */
        uint64_t pause_us = used / 1000 * (100 - h->cpu_percent) / h->cpu_percent;
        uint64_t end = zhi_now_us() + pause_us;
        for (uint64_t t = zhi_now_us(); t < end; t = zhi_now_us()) {
            if (atomic_load(&h->cancel) || (h->deadline_us && t >= h->deadline_us))
                break;
            uint64_t step = end - t < 50000 ? end - t : 50000;
            struct timespec ts = {0, (long)step * 1000};
            nanosleep(&ts, NULL);
        }
    }
    h->cpu_mark_ns = thread_cpu_ns();
}

struct yr_ctx {
    char names[1024];
    size_t len;
};

static int on_match(YR_SCAN_CONTEXT *ctx, int message, void *data, void *ud)
{
    struct yr_ctx *y = ud;
    if (message != CALLBACK_MSG_RULE_MATCHING)
        return CALLBACK_CONTINUE;
    const YR_RULE *rule = data;
    if (y->len + strlen(rule->identifier) + 2 < sizeof y->names)
        y->len += (size_t)snprintf(y->names + y->len, sizeof y->names - y->len, "%s%s",
                                   y->len ? "," : "", rule->identifier);
    return CALLBACK_CONTINUE;
}

static enum zhi_type type_by_name(const char *name)
{
    for (int t = 0; t < ZHI_T__COUNT; t++)
        if (!strcmp(zhi_type_name((enum zhi_type)t), name))
            return (enum zhi_type)t;
    return ZHI_T_DATA;
}

static enum zhi_kind kind_by_name(const char *name)
{
    for (int k = ZHI_K_HEADERS; k <= ZHI_K_MEMBER; k++)
        if (!strcmp(zhi_kind_name((enum zhi_kind)k), name))
            return (enum zhi_kind)k;
    return ZHI_K_ATTACHMENT;
}

/* Read a kept file whole (it is at most max_object_bytes). */
static bool read_blob(struct zhi_hunt *h, const char *path, uint64_t size, size_t *len)
{
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return false;
    struct stat sb;
    bool ok = fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) && (uint64_t)sb.st_size == size;
    if (ok && size + 1 > h->buf_cap) {
        uint8_t *nb = realloc(h->buf, size + 1);
        ok = nb != NULL;
        if (nb) {
            h->buf = nb;
            h->buf_cap = size + 1;
        }
    }
    size_t off = 0;
    while (ok && off < size) {
        ssize_t r = read(fd, h->buf + off, size - off);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            ok = false;
        else
            off += (size_t)r;
    }
    close(fd);
    *len = off;
    return ok;
}

static int add_match(struct zhi_hunt *h, const char *sha, const char *names)
{
    if (h->n_m == h->cap_m) {
        size_t nc = h->cap_m ? 2 * h->cap_m : 64;
        struct match *nm = realloc(h->m, nc * sizeof *nm);
        if (!nm)
            return -1;
        h->m = nm;
        h->cap_m = nc;
    }
    snprintf(h->m[h->n_m].sha, sizeof h->m[h->n_m].sha, "%s", sha);
    if (!(h->m[h->n_m].rules = strdup(names)))
        return -1;
    h->n_m++;
    return 0;
}

static int on_blob(void *ud, const struct zhi_store_blob *b)
{
    struct zhi_hunt *h = ud;
    h->page_n++;
    snprintf(h->last, sizeof h->last, "%s", b->sha256);
    if (atomic_load(&h->cancel) || (h->deadline_us && zhi_now_us() >= h->deadline_us)) {
        h->stop = true;
        return 1;
    }
    size_t len = 0;
    bool ok = read_blob(h, b->path, b->size, &len);
    if (ok) {
        /* The externals of the first stored copy: content rules see the
         * bytes; name and type rules see how it first arrived. */
        struct zh_scan_envelope env = {0};
        zhi_arena_reset(&h->arena);
        struct zhi_object o = {.path = b->object,
                               .parent = -1, /* alone: its containers were not stored with it */
                               .filename = b->name,
                               .ext = b->ext,
                               .declared_type = b->declared_type,
                               .sniffed = type_by_name(b->sniffed_type),
                               .kind = kind_by_name(b->kind),
                               .archive_depth =
                                   strchr(b->object, '/') && kind_by_name(b->kind) == ZHI_K_MEMBER};
        struct zhi_scan s = {.env = &env,
                             .subject = "",
                             .from = "",
                             .arena = &h->arena,
                             .objects = &o,
                             .n_objects = 1,
                             .cap_objects = 1};
        for (size_t i = 0; i < zhi_n_externals; i++) {
            const struct zhi_external *x = &zhi_externals[i];
            zhi_external_define(h->scanner, x, x->str ? x->str(&s, &o) : "",
                                x->num ? x->num(&s, &o) : 0);
        }
        struct yr_ctx y = {.len = 0};
        y.names[0] = 0;
        yr_scanner_set_callback(h->scanner, on_match, &y);
        int rc = yr_scanner_scan_mem(h->scanner, h->buf, len);
        if (rc != ERROR_SUCCESS && rc != ERROR_SCAN_TIMEOUT)
            ok = false;
        if (y.len && add_match(h, b->sha256, y.names) != 0) {
            h->stop = true;
            return 1;
        }
    }
    pthread_mutex_lock(&h->lock);
    h->objects_done++;
    h->bytes_done += len;
    h->unreadable += !ok;
    pthread_mutex_unlock(&h->lock);
    throttle(h);
    return 0;
}

/* ---- collecting messages ---------------------------------------------------------- */
struct collect {
    struct zhi_hunt *h;
    struct zh_hunt_message *v;
    size_t n, cap;
    /* message id -> index in v + 1 (0: free), open addressing, kept at most half full */
    int64_t *keys;
    size_t *vals, slots;
    const char *label; /* rules for hash and fingerprint hunts */
    bool oom, truncated;
};

static char **split(const char *s, char sep, size_t *n)
{
    size_t k = *s ? 1 : 0;
    for (const char *p = s; *p; p++)
        k += *p == sep;
    char **v = calloc(k + 1, sizeof *v);
    *n = 0;
    if (!v)
        return NULL;
    const char *p = s;
    while (*n < k) {
        const char *e = strchr(p, sep);
        size_t l = e ? (size_t)(e - p) : strlen(p);
        if (!(v[*n] = strndup(p, l)))
            break;
        (*n)++;
        p = e ? e + 1 : p + l;
    }
    return v;
}

static bool list_add(char ***v, size_t *n, const char *s)
{
    for (size_t i = 0; i < *n; i++)
        if (!strcmp((*v)[i], s))
            return true;
    char **nv = realloc(*v, (*n + 2) * sizeof *nv);
    if (!nv)
        return false;
    *v = nv;
    if (!(nv[*n] = strdup(s)))
        return false;
    (*n)++;
    nv[*n] = NULL;
    return true;
}

static void message_free(struct zh_hunt_message *m)
{
    char **lists[] = {m->rcpt_to, m->rules, m->objects};
    size_t ns[] = {m->n_rcpt, m->n_rules, m->n_objects};
    for (int l = 0; l < 3; l++) {
        for (size_t i = 0; lists[l] && i < ns[l]; i++)
            free(lists[l][i]);
        free(lists[l]);
    }
    char *strs[] = {m->message_id, m->mail_from, m->client_ip, m->helo,
                    m->subject,    m->queue_id,  m->hits,      m->fingerprint};
    for (int i = 0; i < 8; i++)
        free(strs[i]);
}

static const char *rules_of(const struct zhi_hunt *h, const char *sha)
{
    for (size_t i = 0; i < h->n_m; i++)
        if (!strcmp(h->m[i].sha, sha))
            return h->m[i].rules;
    return "";
}

static size_t slot_of(const struct collect *c, int64_t id)
{
    size_t i = (size_t)((uint64_t)id * 11400714819323198485ull) & (c->slots - 1);
    while (c->vals[i] && c->keys[i] != id)
        i = (i + 1) & (c->slots - 1);
    return i;
}

static int rehash(struct collect *c)
{
    size_t old = c->slots, ns = old ? 2 * old : 256;
    int64_t *ok = c->keys;
    size_t *ov = c->vals;
    c->keys = calloc(ns, sizeof *c->keys);
    c->vals = calloc(ns, sizeof *c->vals);
    if (!c->keys || !c->vals) {
        free(c->keys);
        free(c->vals);
        c->keys = ok, c->vals = ov;
        return -1;
    }
    c->slots = ns;
    for (size_t i = 0; i < old; i++)
        if (ov[i]) {
            size_t j = slot_of(c, ok[i]);
            c->keys[j] = ok[i];
            c->vals[j] = ov[i];
        }
    free(ok);
    free(ov);
    return 0;
}

static int on_message(void *ud, const struct zhi_store_message *sm)
{
    struct collect *c = ud;
    if (2 * (c->n + 1) > c->slots && rehash(c) != 0) {
        c->oom = true;
        return 1;
    }
    size_t slot = slot_of(c, sm->id);
    size_t at = c->vals[slot] ? c->vals[slot] - 1 : c->n;
    if (at == c->n && c->n >= c->h->max_messages) {
        c->truncated = true; /* further messages are not listed; their objects were hunted */
        return 0;
    }
    if (at == c->n) {
        if (c->n == c->cap) {
            size_t nc = c->cap ? 2 * c->cap : 64;
            struct zh_hunt_message *nv = realloc(c->v, nc * sizeof *nv);
            if (!nv) {
                c->oom = true;
                return 1;
            }
            c->v = nv;
            c->cap = nc;
        }
        struct zh_hunt_message *m = &c->v[c->n];
        memset(m, 0, sizeof *m);
        c->keys[slot] = sm->id;
        c->vals[slot] = ++c->n;
        m->received_at = sm->received_at;
        m->verdict = sm->verdict;
        m->score = sm->score;
        m->message_id = strdup(sm->message_id);
        m->mail_from = strdup(sm->mail_from);
        m->client_ip = strdup(sm->client_ip);
        m->helo = strdup(sm->helo);
        m->subject = strdup(sm->subject);
        m->queue_id = strdup(sm->queue_id);
        m->hits = strdup(sm->hits);
        m->fingerprint = strdup(sm->fingerprint);
        m->rcpt_to = split(sm->rcpt_to, '\n', &m->n_rcpt);
        if (!m->message_id || !m->mail_from || !m->client_ip || !m->helo || !m->subject ||
            !m->queue_id || !m->hits || !m->fingerprint || !m->rcpt_to) {
            c->oom = true;
            return 1;
        }
    }
    struct zh_hunt_message *m = &c->v[at];
    if (c->label) {
        if (!list_add(&m->rules, &m->n_rules, c->label))
            c->oom = true;
    } else {
        size_t n = 0;
        char **names = split(rules_of(c->h, sm->sha256), ',', &n);
        for (size_t i = 0; names && i < n; i++) {
            if (!list_add(&m->rules, &m->n_rules, names[i]))
                c->oom = true;
            free(names[i]);
        }
        free(names);
    }
    if (*sm->object && !list_add(&m->objects, &m->n_objects, sm->object))
        c->oom = true;
    return c->oom;
}

static int cmp_msg(const void *a, const void *b)
{
    const struct zh_hunt_message *x = a, *y = b;
    return (x->received_at > y->received_at) - (x->received_at < y->received_at);
}

static void finish(struct zhi_hunt *h, int state, const char *error, struct collect *c)
{
    if (c->n)
        qsort(c->v, c->n, sizeof *c->v, cmp_msg);
    pthread_mutex_lock(&h->lock);
    h->state = state;
    if (error)
        snprintf(h->error, sizeof h->error, "%s", error);
    h->msgs = c->v;
    h->n_msgs = c->n;
    h->truncated = c->truncated;
    h->ended_us = zhi_now_us();
    pthread_mutex_unlock(&h->lock);
    free(c->keys);
    free(c->vals);
}

static void *hunt_main(void *arg)
{
    struct zhi_hunt *h = arg;
    char err[512] = "";
    struct collect c = {.h = h};
    zh_err rc = ZH_ERR_OK;
    h->cpu_mark_ns = thread_cpu_ns();
    if (h->sha256) {
        char label[80];
        snprintf(label, sizeof label, "sha256:%s", h->sha256);
        c.label = label;
        const char *one = h->sha256;
        rc = zhi_store_messages_by_hash(h->store, h->since, &one, 1, on_message, &c, err,
                                        sizeof err);
    } else if (h->outbreak) {
        char label[40];
        snprintf(label, sizeof label, "outbreak:%s", h->outbreak);
        c.label = label;
        rc = zhi_store_messages_by_fingerprint(h->store, h->since, h->outbreak, on_message, &c, err,
                                               sizeof err);
    } else {
        uint64_t total = 0;
        rc = zhi_store_count_blobs(h->store, h->since, &total, err, sizeof err);
        pthread_mutex_lock(&h->lock);
        h->objects_total = total;
        pthread_mutex_unlock(&h->lock);
        if (rc == ZH_ERR_OK && yr_scanner_create(h->rules, &h->scanner) != ERROR_SUCCESS) {
            snprintf(err, sizeof err, "out of memory");
            rc = ZH_ERR_FATAL;
        }
        if (h->scanner)
            yr_scanner_set_timeout(h->scanner, OBJECT_TIMEOUT_S);
        while (rc == ZH_ERR_OK && !h->stop) {
            char after[65];
            snprintf(after, sizeof after, "%s", h->last);
            h->page_n = 0;
            rc = zhi_store_each_blob(h->store, h->since, after, PAGE, on_blob, h, err, sizeof err);
            if (h->page_n < PAGE)
                break; /* the last page */
        }
        /* The messages of what matched, even when stopped early. */
        const char **shas = h->n_m ? calloc(h->n_m, sizeof *shas) : NULL;
        for (size_t i = 0; shas && i < h->n_m; i++)
            shas[i] = h->m[i].sha;
        if (rc == ZH_ERR_OK && h->n_m)
            rc = shas ? zhi_store_messages_by_hash(h->store, h->since, shas, h->n_m, on_message, &c,
                                                   err, sizeof err)
                      : ZH_ERR_FATAL;
        free(shas);
    }
    if (c.oom) {
        rc = ZH_ERR_FATAL;
        snprintf(err, sizeof err, "out of memory collecting the messages");
    }
    int state = rc != ZH_ERR_OK           ? ZH_HUNT_FAILED
                : atomic_load(&h->cancel) ? ZH_HUNT_CANCELLED
                : h->stop                 ? ZH_HUNT_EXPIRED
                                          : ZH_HUNT_DONE;
    if (state == ZH_HUNT_FAILED)
        zh_log(ZH_LOG_WARN, "retrohunt %llu failed: %s", (unsigned long long)h->id, err);
    finish(h, state, state == ZH_HUNT_FAILED ? err : NULL, &c);
    return NULL;
}

/* ---- the hunt object ---------------------------------------------------------------- */
zh_err zhi_hunt_start(struct zhi_store *st, const struct zh_config *cfg,
                      const struct zh_hunt_request *req, uint64_t id, struct zhi_hunt **out,
                      char *err, size_t errlen)
{
    int kinds =
        (req->n_rules > 0) + (req->sha256 && *req->sha256) + (req->outbreak && *req->outbreak);
    if (kinds != 1) {
        snprintf(err, errlen, "a hunt takes exactly one of: rules, a SHA-256, an outbreak");
        return ZH_ERR_INVALID;
    }
    if (req->sha256 && *req->sha256 && !is_hex(req->sha256, 64)) {
        snprintf(err, errlen, "\"%.80s\" is not a SHA-256 (64 hex digits)", req->sha256);
        return ZH_ERR_INVALID;
    }
    if (req->outbreak && *req->outbreak && !is_hex(req->outbreak, 16)) {
        snprintf(err, errlen, "\"%.80s\" is not an outbreak fingerprint (16 hex digits)",
                 req->outbreak);
        return ZH_ERR_INVALID;
    }
    if (req->window_ms < 0) {
        snprintf(err, errlen, "the window must not be negative");
        return ZH_ERR_INVALID;
    }
    struct zhi_hunt *h = calloc(1, sizeof *h);
    if (!h)
        return ZH_ERR_FATAL;
    pthread_mutex_init(&h->lock, NULL);
    zhi_arena_init(&h->arena, 16 * 1024);
    h->id = id;
    h->store = st;
    h->cpu_percent = (unsigned)cfg->store_hunt_cpu_percent;
    h->max_messages = (size_t)cfg->store_hunt_max_messages;
    h->since = req->window_ms ? zhi_store_now(st) - req->window_ms : 0;
    h->started_us = zhi_now_us();
    h->deadline_us = req->deadline_ms ? h->started_us + req->deadline_ms * 1000ull : 0;
    h->state = ZH_HUNT_RUNNING;
    zh_err rc = ZH_ERR_OK;
    if (req->n_rules)
        rc = compile(req, &h->rules, err, errlen);
    else if (req->sha256 && *req->sha256)
        rc = (h->sha256 = lower_dup(req->sha256)) ? ZH_ERR_OK : ZH_ERR_FATAL;
    else
        rc = (h->outbreak = lower_dup(req->outbreak)) ? ZH_ERR_OK : ZH_ERR_FATAL;
    if (rc == ZH_ERR_OK && pthread_create(&h->thread, NULL, hunt_main, h) != 0)
        rc = ZH_ERR_FATAL;
    if (rc != ZH_ERR_OK) {
        zhi_hunt_free(h);
        return rc;
    }
    h->started = true;
    *out = h;
    return ZH_ERR_OK;
}

bool zhi_hunt_running(struct zhi_hunt *h)
{
    pthread_mutex_lock(&h->lock);
    bool r = h->state == ZH_HUNT_RUNNING;
    pthread_mutex_unlock(&h->lock);
    return r;
}

void zhi_hunt_cancel(struct zhi_hunt *h)
{
    atomic_store(&h->cancel, true);
}

static char *dup_or_empty(const char *s)
{
    return strdup(s ? s : "");
}

static char **dup_list(char *const *v, size_t n)
{
    char **d = calloc(n + 1, sizeof *d);
    for (size_t i = 0; d && i < n; i++)
        if (!(d[i] = strdup(v[i]))) {
            while (i-- > 0)
                free(d[i]);
            free(d);
            return NULL;
        }
    return d;
}

zh_err zhi_hunt_status(struct zhi_hunt *h, size_t offset, size_t limit, struct zh_hunt_status *out)
{
    memset(out, 0, sizeof *out);
    zh_err rc = ZH_ERR_OK;
    pthread_mutex_lock(&h->lock);
    out->id = h->id;
    out->state = h->state;
    snprintf(out->error, sizeof out->error, "%s", h->error);
    out->objects_total = h->objects_total;
    out->objects_done = h->objects_done;
    out->objects_unreadable = h->unreadable;
    out->bytes_done = h->bytes_done;
    out->elapsed_us = (h->ended_us ? h->ended_us : zhi_now_us()) - h->started_us;
    out->since = h->since;
    out->messages_total = h->n_msgs;
    out->truncated = h->truncated;
    size_t n = offset < h->n_msgs ? h->n_msgs - offset : 0;
    n = limit && n > limit ? limit : n;
    if (h->state != ZH_HUNT_RUNNING && n) {
        out->messages = calloc(n, sizeof *out->messages);
        for (size_t i = 0; out->messages && i < n; i++) {
            const struct zh_hunt_message *s = &h->msgs[offset + i];
            struct zh_hunt_message *d = &out->messages[i];
            *d = (struct zh_hunt_message){
                .received_at = s->received_at,
                .verdict = s->verdict,
                .score = s->score,
                .message_id = dup_or_empty(s->message_id),
                .mail_from = dup_or_empty(s->mail_from),
                .client_ip = dup_or_empty(s->client_ip),
                .helo = dup_or_empty(s->helo),
                .subject = dup_or_empty(s->subject),
                .queue_id = dup_or_empty(s->queue_id),
                .hits = dup_or_empty(s->hits),
                .fingerprint = dup_or_empty(s->fingerprint),
                .rcpt_to = dup_list(s->rcpt_to, s->n_rcpt),
                .n_rcpt = s->n_rcpt,
                .rules = dup_list(s->rules, s->n_rules),
                .n_rules = s->n_rules,
                .objects = dup_list(s->objects, s->n_objects),
                .n_objects = s->n_objects,
            };
            out->n_messages = i + 1;
            if (!d->message_id || !d->mail_from || !d->client_ip || !d->helo || !d->subject ||
                !d->queue_id || !d->hits || !d->fingerprint || !d->rcpt_to || !d->rules ||
                !d->objects) {
                rc = ZH_ERR_FATAL;
                break;
            }
        }
        if (!out->messages)
            rc = ZH_ERR_FATAL;
    }
    pthread_mutex_unlock(&h->lock);
    if (rc != ZH_ERR_OK)
        zh_hunt_status_free(out);
    return rc;
}

void zh_hunt_status_free(struct zh_hunt_status *st)
{
    if (!st)
        return;
    for (size_t i = 0; i < st->n_messages; i++)
        message_free(&st->messages[i]);
    free(st->messages);
    st->messages = NULL;
    st->n_messages = 0;
}

void zhi_hunt_free(struct zhi_hunt *h)
{
    if (!h)
        return;
    if (h->started) {
        atomic_store(&h->cancel, true);
        pthread_join(h->thread, NULL);
    }
    for (size_t i = 0; i < h->n_msgs; i++)
        message_free(&h->msgs[i]);
    free(h->msgs);
    for (size_t i = 0; i < h->n_m; i++)
        free(h->m[i].rules);
    free(h->m);
    if (h->scanner)
        yr_scanner_destroy(h->scanner);
    if (h->rules)
        yr_rules_destroy(h->rules);
    free(h->buf);
    zhi_arena_free(&h->arena);
    free(h->sha256);
    free(h->outbreak);
    pthread_mutex_destroy(&h->lock);
    free(h);
}
