/* Outbreak state: a fixed table of fingerprint entries sized from the
 * configured memory budget, open addressing with a short probe; when the
 * probe finds no room the least recently seen inactive entry is evicted, so
 * a flood of unique mail can never grow memory. Each entry keeps the last
 * ZHI_OB_SET copy times and (hash, time) sets of senders, client IPs and
 * recipient domains, which is enough to count "within the window" exactly up
 * to the thresholds (all thresholds are at most ZHI_OB_SET). */
#include "outbreak.h"
#include "zerohour/log.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define PROBE 8

struct stamp {
    uint32_t h;
    uint32_t pad;
    int64_t t;
};

struct entry {
    uint64_t fp; /* 0 = empty slot */
    int64_t first_seen, last_seen, active_since;
    uint64_t total;
    uint32_t risky, active;
    int64_t times[ZHI_OB_SET];
    struct stamp senders[ZHI_OB_SET], ips[ZHI_OB_SET], rdoms[ZHI_OB_SET];
    char summary[96];
    char hits[96];
};

struct zhi_outbreaks {
    pthread_mutex_t lock;
    struct entry *e;
    size_t n;
    int64_t window, hold;
    int64_t latest;                 /* newest received_at seen: the table's clock */
    struct zhi_ob_bounds bounds[3]; /* by entry kind: ZHI_OB_PLAIN, _RISKY, _SURGE */
    unsigned defer_min;
};

static uint32_t h32(const char *s)
{
    uint32_t h = 2166136261u;
    for (; s && *s; s++)
        h = (h ^ (uint8_t)(*s | 0x20)) * 16777619u; /* case-insensitive enough for addresses */
    return h ? h : 1;
}

zh_err zhi_outbreaks_new(const struct zh_config *cfg, struct zhi_outbreaks **out)
{
    struct zhi_outbreaks *ob = calloc(1, sizeof *ob);
    if (!ob)
        return ZH_ERR_FATAL;
    ob->n = (size_t)cfg->outbreak_memory / sizeof(struct entry);
    if (ob->n < 16)
        ob->n = 16;
    if (!(ob->e = calloc(ob->n, sizeof *ob->e))) {
        free(ob);
        return ZH_ERR_FATAL;
    }
    pthread_mutex_init(&ob->lock, NULL);
    ob->window = cfg->outbreak_window_ms;
    ob->hold = cfg->outbreak_hold_ms;
    for (unsigned k = 0; k < 3; k++)
        ob->bounds[k] = zhi_ob_bounds_of(cfg, k);
    ob->defer_min = (unsigned)cfg->outbreak_defer_min_copies;
    *out = ob;
    return ZH_ERR_OK;
}

void zhi_outbreaks_free(struct zhi_outbreaks *ob)
{
    if (!ob)
        return;
    pthread_mutex_destroy(&ob->lock);
    free(ob->e);
    free(ob);
}

size_t zhi_outbreaks_capacity(const struct zhi_outbreaks *ob)
{
    return ob->n;
}

size_t zhi_outbreaks_used(struct zhi_outbreaks *ob)
{
    size_t used = 0;
    pthread_mutex_lock(&ob->lock);
    for (size_t i = 0; i < ob->n; i++)
        used += ob->e[i].fp != 0;
    pthread_mutex_unlock(&ob->lock);
    return used;
}

/* Insert h at time t into a set: refresh it if present, else take an empty
 * slot, else replace the oldest stamp. */
static void stamp(struct stamp *set, uint32_t h, int64_t t)
{
    int victim = -1;
    for (int i = 0; i < ZHI_OB_SET; i++) {
        if (set[i].h == h) {
            if (t > set[i].t)
                set[i].t = t;
            return;
        }
        if (!set[i].h) {
            if (victim < 0 || set[victim].h)
                victim = i;
        } else if (victim < 0 || (set[victim].h && set[i].t < set[victim].t)) {
            victim = i;
        }
    }
    set[victim].h = h;
    set[victim].t = t;
}

static unsigned count_set(const struct stamp *set, int64_t since)
{
    unsigned n = 0;
    for (int i = 0; i < ZHI_OB_SET; i++)
        n += set[i].h && set[i].t >= since;
    return n;
}

static unsigned count_times(const int64_t *times, int64_t since)
{
    unsigned n = 0;
    for (int i = 0; i < ZHI_OB_SET; i++)
        n += times[i] && times[i] >= since;
    return n;
}

static void window_counts(const struct entry *e, int64_t since, struct zhi_ob_status *st)
{
    st->copies = count_times(e->times, since);
    st->senders = count_set(e->senders, since);
    st->client_ips = count_set(e->ips, since);
    st->rcpt_domains = count_set(e->rdoms, since);
    st->total = e->total;
    st->first_seen = e->first_seen;
}

static struct entry *find_or_make(struct zhi_outbreaks *ob, uint64_t fp, int64_t now)
{
    size_t start = (size_t)(fp % ob->n);
    struct entry *victim = NULL;
    for (size_t k = 0; k < PROBE; k++) {
        struct entry *e = &ob->e[(start + k) % ob->n];
        if (e->fp == fp)
            return e;
        if (!e->fp) {
            if (!victim || victim->fp)
                victim = e;
            continue;
        }
        bool live = e->active && e->last_seen + ob->hold >= now;
        if (!live && (!victim || (victim->fp && e->last_seen < victim->last_seen)))
            victim = e;
    }
    if (!victim)
        return NULL; /* every probed slot holds a live outbreak: do not evict those */
    memset(victim, 0, sizeof *victim);
    victim->fp = fp;
    victim->first_seen = now;
    return victim;
}

void zhi_outbreaks_see(struct zhi_outbreaks *ob, const struct zhi_ob_sighting *s,
                       struct zhi_ob_status *st)
{
    memset(st, 0, sizeof *st);
    pthread_mutex_lock(&ob->lock);
    struct entry *e = find_or_make(ob, s->fp ? s->fp : 1, s->now_ms);
    if (!e)
        goto out;
    unsigned kind = zhi_ob_kind(s);
    const struct zhi_ob_bounds *b = &ob->bounds[kind];
    int64_t now = s->now_ms, since = now - b->window;
    if (now > ob->latest)
        ob->latest = now;
    if (e->active && e->last_seen + ob->hold < now)
        e->active = 0; /* the outbreak has been quiet for hold_ms */
    e->total++;
    if (now > e->last_seen)
        e->last_seen = now;
    e->risky = kind;
    /* Replace the oldest copy time. */
    int oldest = 0;
    for (int i = 1; i < ZHI_OB_SET; i++)
        if (e->times[i] < e->times[oldest])
            oldest = i;
    e->times[oldest] = now;
    stamp(e->senders, h32(s->sender), now);
    stamp(e->ips, h32(s->client_ip), now);
    for (size_t i = 0; i < s->n_rcpt; i++) {
        const char *at = s->rcpt[i] ? strrchr(s->rcpt[i], '@') : NULL;
        stamp(e->rdoms, h32(at ? at + 1 : s->rcpt[i]), now);
    }
    if (!e->summary[0] && s->summary)
        snprintf(e->summary, sizeof e->summary, "%s", s->summary);
    if (s->hits && *s->hits)
        snprintf(e->hits, sizeof e->hits, "%s", s->hits);
    window_counts(e, since, st);
    if (e->risky && !e->active && st->copies >= b->min_copies && st->senders >= b->min_senders &&
        st->client_ips >= b->min_ips) {
        e->active = 1;
        e->active_since = now;
    }
    st->active = e->active && e->risky;
    st->growing = zhi_ob_is_growing(st, e->risky, ob->defer_min);
out:
    pthread_mutex_unlock(&ob->lock);
}

void zhi_outbreaks_peek(struct zhi_outbreaks *ob, uint64_t fp, int64_t now_ms,
                        struct zhi_ob_status *st)
{
    memset(st, 0, sizeof *st);
    fp = fp ? fp : 1;
    pthread_mutex_lock(&ob->lock);
    size_t start = (size_t)(fp % ob->n);
    for (size_t k = 0; k < PROBE; k++) {
        const struct entry *e = &ob->e[(start + k) % ob->n];
        if (e->fp != fp)
            continue;
        int64_t since = now_ms - ob->bounds[e->risky < 3 ? e->risky : ZHI_OB_RISKY].window;
        window_counts(e, since, st);
        /* The hold runs from the last copy observed, as in see(). */
        st->active = e->active && e->risky && e->last_seen + ob->hold >= now_ms;
        break;
    }
    pthread_mutex_unlock(&ob->lock);
}

void zhi_outbreaks_mark_active(struct zhi_outbreaks *ob, uint64_t fp, int64_t now_ms)
{
    pthread_mutex_lock(&ob->lock);
    struct entry *e = find_or_make(ob, fp ? fp : 1, now_ms);
    if (e && !e->active) {
        e->active = 1;
        e->active_since = now_ms;
        e->risky = 1;
    }
    if (e && now_ms > e->last_seen)
        e->last_seen = now_ms;
    pthread_mutex_unlock(&ob->lock);
}

static int by_copies(const void *a, const void *b)
{
    const struct zh_outbreak_info *x = a, *y = b;
    if (x->active != y->active)
        return y->active - x->active;
    return (x->copies < y->copies) - (x->copies > y->copies);
}

size_t zhi_outbreaks_list(struct zhi_outbreaks *ob, int64_t now, struct zh_outbreak_info *out,
                          size_t max)
{
    size_t n = 0;
    pthread_mutex_lock(&ob->lock);
    if (!now)
        now = ob->latest; /* replayed traffic runs on its own clock */
    for (size_t i = 0; i < ob->n && n < max; i++) {
        struct entry *e = &ob->e[i];
        if (!e->fp)
            continue;
        int64_t since = now - ob->bounds[e->risky < 3 ? e->risky : ZHI_OB_RISKY].window;
        bool active = e->active && e->last_seen + ob->hold >= now;
        unsigned copies = count_times(e->times, since);
        if (!active && (copies < 2 || !e->risky))
            continue;
        struct zh_outbreak_info *o = &out[n++];
        memset(o, 0, sizeof *o);
        snprintf(o->fingerprint, sizeof o->fingerprint, "%016llx", (unsigned long long)e->fp);
        memcpy(o->summary, e->summary, sizeof o->summary);
        memcpy(o->hits, e->hits, sizeof o->hits);
        o->first_seen = e->first_seen;
        o->last_seen = e->last_seen;
        o->active_since = e->active_since;
        o->total = e->total;
        o->copies = copies;
        o->senders = count_set(e->senders, since);
        o->client_ips = count_set(e->ips, since);
        o->rcpt_domains = count_set(e->rdoms, since);
        o->active = active;
        o->risky = e->risky != ZHI_OB_PLAIN;
    }
    pthread_mutex_unlock(&ob->lock);
    qsort(out, n, sizeof *out, by_copies);
    return n;
}

/* ---- snapshots ------------------------------------------------------------ */
#define MAGIC "ZHOBSNP1"

struct header {
    char magic[8];
    uint32_t version, entry_size;
    uint64_t count; /* entries that follow (the used ones) */
    uint64_t saved_at_ms;
    uint32_t crc, pad;
};

static uint32_t crc32(uint32_t crc, const void *p, size_t n)
{
    const uint8_t *b = p;
    crc = ~crc;
    while (n--) {
        crc ^= *b++;
        for (int k = 0; k < 8; k++)
            crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1)));
    }
    return ~crc;
}

/* Temporary snapshots are named "<state file>.tmp.XXXXXX" (mkstemp's six
 * characters); releases before that used "<state file>.tmp.<pid>". Either is
 * ours to remove when a kill -9 left it behind. */
#define TMP_INFIX ".tmp."

static bool is_our_temporary(const char *name, const char *base)
{
    size_t bn = strlen(base), in = strlen(TMP_INFIX);
    if (strncmp(name, base, bn) || strncmp(name + bn, TMP_INFIX, in))
        return false;
    const char *tail = name + bn + in;
    size_t n = strlen(tail), digits = strspn(tail, "0123456789");
    size_t alnum = strspn(tail, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789");
    return (n == 6 && alnum == 6) || (n > 0 && n <= 10 && digits == n);
}

/* Split path into its directory (opened, O_DIRECTORY) and its last name. */
static int open_parent(const char *path, const char **base)
{
    const char *slash = strrchr(path, '/');
    *base = slash ? slash + 1 : path;
    if (!slash)
        return open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    char dir[4096];
    size_t n = slash == path ? 1 : (size_t)(slash - path);
    if (n >= sizeof dir)
        return -1;
    memcpy(dir, path, n);
    dir[n] = 0;
    return open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

/* Remove temporaries a killed engine left beside path: regular files only
 * (never what a symlink points to), owned by us. Runs once, at start, before
 * this engine writes a snapshot of its own. */
static void remove_orphans(const char *path)
{
    const char *base;
    int dfd = open_parent(path, &base);
    DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
    if (!d) {
        if (dfd >= 0)
            close(dfd);
        return;
    }
    struct dirent *de;
    while ((de = readdir(d))) {
        struct stat st;
        if (!is_our_temporary(de->d_name, base) ||
            fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode) ||
            st.st_uid != geteuid())
            continue;
        if (unlinkat(dfd, de->d_name, 0) == 0)
            zh_log(ZH_LOG_INFO,
                   "outbreak state: removed %s, left beside %s by an interrupted snapshot",
                   de->d_name, path);
    }
    closedir(d);
}

zh_err zhi_outbreaks_save(struct zhi_outbreaks *ob, const char *path, char *err, size_t errlen)
{
    char tmp[4200];
    int n = snprintf(tmp, sizeof tmp, "%s" TMP_INFIX "XXXXXX", path);
    if (n < 0 || (size_t)n >= sizeof tmp) {
        snprintf(err, errlen, "%s: path too long", path);
        return ZH_ERR_INVALID;
    }
    zh_err rc = ZH_ERR_IO;
    struct entry *copy = NULL;
    size_t used = 0;
    /* Copy under the lock, write outside it: scans do not wait on the disk. */
    pthread_mutex_lock(&ob->lock);
    for (size_t i = 0; i < ob->n; i++)
        used += ob->e[i].fp != 0;
    copy = malloc((used ? used : 1) * sizeof *copy);
    if (copy) {
        size_t k = 0;
        for (size_t i = 0; i < ob->n; i++)
            if (ob->e[i].fp)
                copy[k++] = ob->e[i];
    }
    pthread_mutex_unlock(&ob->lock);
    if (!copy) {
        snprintf(err, errlen, "out of memory");
        return ZH_ERR_FATAL;
    }
    struct header h = {.version = 1, .entry_size = sizeof(struct entry), .count = used};
    memcpy(h.magic, MAGIC, 8);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    h.saved_at_ms = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
    h.crc = crc32(0, copy, used * sizeof *copy);
    /* A fresh, unpredictable name created with O_EXCL: a planted file or
     * symlink is never opened, let alone followed (the engine may be root). */
    int fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
        goto out;
    }
    size_t len = used * sizeof *copy;
    if (fchmod(fd, 0600) != 0 || write(fd, &h, sizeof h) != (ssize_t)sizeof h ||
        (len && write(fd, copy, len) != (ssize_t)len) || fsync(fd) != 0) {
        snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
        close(fd);
        unlink(tmp);
        goto out;
    }
    close(fd);
    if (rename(tmp, path) != 0) {
        snprintf(err, errlen, "rename to %s: %s", path, strerror(errno));
        unlink(tmp);
        goto out;
    }
    /* Make the rename itself durable. */
    const char *base;
    int dfd = open_parent(path, &base);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    rc = ZH_ERR_OK;
out:
    free(copy);
    return rc;
}

zh_err zhi_outbreaks_load(struct zhi_outbreaks *ob, const char *path, char *err, size_t errlen)
{
    zh_err rc = ZH_ERR_INVALID;
    struct entry *buf = NULL;
    struct stat st;
    remove_orphans(path);
    /* Another local user must not be able to feed us a table: no symlink,
     * a regular file of ours that nobody else may write. */
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        if (errno == ENOENT)
            return ZH_ERR_OK;
        snprintf(err, errlen, "%s: %s; ignored", path,
                 errno == ELOOP ? "is a symbolic link" : strerror(errno));
        return errno == ELOOP ? ZH_ERR_INVALID : ZH_ERR_IO;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid() ||
        (st.st_mode & 022)) {
        snprintf(err, errlen,
                 "%s: not a regular file owned by uid %u and writable only by it; ignored", path,
                 (unsigned)geteuid());
        close(fd);
        return ZH_ERR_INVALID;
    }
    FILE *f = fdopen(fd, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        close(fd);
        return ZH_ERR_IO;
    }
    struct header h;
    if (fread(&h, sizeof h, 1, f) != 1 || memcmp(h.magic, MAGIC, 8) || h.version != 1 ||
        h.entry_size != sizeof(struct entry) || h.count > (1u << 30)) {
        snprintf(err, errlen, "%s: not a zerohour outbreak snapshot of this version; ignored",
                 path);
        goto out;
    }
    if (!(buf = malloc((h.count ? h.count : 1) * sizeof *buf))) {
        rc = ZH_ERR_FATAL;
        goto out;
    }
    if (fread(buf, sizeof *buf, h.count, f) != h.count || fgetc(f) != EOF ||
        crc32(0, buf, h.count * sizeof *buf) != h.crc) {
        snprintf(err, errlen, "%s: snapshot is truncated or corrupt (checksum); ignored", path);
        goto out;
    }
    pthread_mutex_lock(&ob->lock);
    size_t kept = 0;
    for (uint64_t i = 0; i < h.count; i++) {
        struct entry *e = find_or_make(ob, buf[i].fp ? buf[i].fp : 1, buf[i].last_seen);
        if (e) {
            *e = buf[i];
            e->summary[sizeof e->summary - 1] = 0;
            e->hits[sizeof e->hits - 1] = 0;
            kept++;
        }
    }
    pthread_mutex_unlock(&ob->lock);
    snprintf(err, errlen, "%zu of %llu fingerprints restored", kept, (unsigned long long)h.count);
    rc = ZH_ERR_OK;
out:
    free(buf);
    fclose(f);
    return rc;
}
