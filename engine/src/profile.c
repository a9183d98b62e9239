/* Per-rule cost: what each YARA rule costs to run, measured in the background
 * on a small reservoir of objects taken from recent mail. Debian's libyara is
 * built without YR_PROFILING_ENABLED, so the engine measures for itself: on a
 * private copy of the live rule set it times one rule at a time (every other
 * rule disabled and its strings made inert) against the same copy with all
 * rules inert, and subtracts. Not on the scan path: workers only offer
 * objects to the reservoir, with a trylock, every few scans. */
#include "zhi.h"
#include "zerohour/log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <yara.h>

/* ---- the reservoir of sample objects ------------------------------------- */
#define ZHI_PROFILE_SLOTS 32
#define ZHI_PROFILE_OBJECT_MAX (64 * 1024) /* longer objects are sampled by their head */
#define ZHI_PROFILE_OFFER_EVERY 8          /* scans between two offers */
#define ZHI_PROFILE_PER_OFFER 4            /* objects taken from one scan at most */
#define ZHI_PROFILE_REPEAT 3               /* timings per rule; the fastest counts */

struct sample {
    uint8_t *data;
    size_t len;
    char **str;   /* external values, by index in zhi_externals; NULL for numbers */
    int64_t *num; /* external values for INT and BOOL externals */
};

struct zhi_profiler {
    struct zhi_rules_slot *slot;
    const struct zh_config *cfg;
    uint64_t interval_ms, budget_us;
    pthread_t thread;
    bool running;
    pthread_mutex_t lock; /* guards stop and wakes the thread */
    pthread_cond_t wake;
    bool stop;
    /* reservoir: workers fill it under `pool_lock` (trylock only) */
    pthread_mutex_t pool_lock;
    struct sample slots[ZHI_PROFILE_SLOTS];
    size_t next_slot;
    atomic_ullong offers;
    /* owned by the profiler thread */
    struct zhi_ruleset *rs; /* the live set being measured; one reference */
    struct costmeter *meter;
    unsigned cursor;            /* next rule to time */
    uint64_t pass_start_offers; /* `offers` when the current pass began */
    bool pass_done;             /* a pass ended and no mail came since */
};

static void sample_clear(struct sample *sm)
{
    if (sm->str)
        for (size_t i = 0; i < zhi_n_externals; i++)
            free(sm->str[i]);
    free(sm->str);
    free(sm->num);
    free(sm->data);
    memset(sm, 0, sizeof *sm);
}

static bool sample_fill(struct sample *sm, const struct zhi_scan *s, const struct zhi_object *o,
                        size_t max)
{
    size_t n = o->len < max ? o->len : max;
    sm->data = malloc(n ? n : 1);
    sm->str = calloc(zhi_n_externals, sizeof *sm->str);
    sm->num = calloc(zhi_n_externals, sizeof *sm->num);
    if (!sm->data || !sm->str || !sm->num)
        return false;
    memcpy(sm->data, o->data, n);
    sm->len = n;
    for (size_t i = 0; i < zhi_n_externals; i++) {
        const struct zhi_external *x = &zhi_externals[i];
        if (x->type == ZHI_EXT_STR) {
            if (!(sm->str[i] = strdup(x->str(s, o))))
                return false;
        } else {
            sm->num[i] = x->num(s, o);
        }
    }
    return true;
}

void zhi_profiler_offer(struct zhi_profiler *p, const struct zhi_scan *s)
{
    if (!p || !s->n_objects || atomic_fetch_add(&p->offers, 1) % ZHI_PROFILE_OFFER_EVERY)
        return;
    if (pthread_mutex_trylock(&p->pool_lock) != 0)
        return; /* the profiler is measuring; this scan's objects are not needed */
    /* Spread the picks over the message: headers, text and attachments. */
    size_t take = s->n_objects < ZHI_PROFILE_PER_OFFER ? s->n_objects : ZHI_PROFILE_PER_OFFER;
    for (size_t k = 0; k < take; k++) {
        const struct zhi_object *o = &s->objects[k * s->n_objects / take];
        struct sample *sm = &p->slots[p->next_slot];
        p->next_slot = (p->next_slot + 1) % ZHI_PROFILE_SLOTS;
        sample_clear(sm);
        if (!sample_fill(sm, s, o, ZHI_PROFILE_OBJECT_MAX))
            sample_clear(sm);
    }
    pthread_mutex_unlock(&p->pool_lock);
}

/* ---- the cost meter: a private copy of a rule set ------------------------- */
struct costmeter {
    YR_RULES *rules; /* the private copy */
    YR_SCANNER *scanner;
    unsigned n_rules;
    uint32_t *first_string; /* per rule: index of its first string in `saved`, n_rules + 1 */
    struct saved_string {
        YR_STRING *s;
        uint32_t flags;
        int64_t fixed_offset;
    } * saved;
};

/* A libyara stream over memory: writes append, reads consume from pos. */
struct membuf {
    struct zhi_buf b;
    size_t pos;
};

static size_t mem_write(const void *ptr, size_t size, size_t count, void *ud)
{
    struct membuf *m = ud;
    return zhi_buf_append(&m->b, ptr, size * count) ? count : 0;
}

static size_t mem_read(void *ptr, size_t size, size_t count, void *ud)
{
    struct membuf *m = ud;
    size_t n = size * count;
    if (m->pos + n > m->b.len)
        return 0;
    memcpy(ptr, m->b.p + m->pos, n);
    m->pos += n;
    return count;
}

/* A string whose only allowed match offset can never occur: libyara checks the
 * fixed offset before verifying an atom hit, so the string costs no more than
 * the shared Aho-Corasick pass. (Disabling a rule skips its condition but
 * still verifies its strings, which is where slow rules spend their time.) */
#define INERT_OFFSET (INT64_MIN + 1)

static void meter_inert(struct costmeter *m, unsigned rule)
{
    for (uint32_t i = m->first_string[rule]; i < m->first_string[rule + 1]; i++) {
        m->saved[i].s->flags |= STRING_FLAGS_FIXED_OFFSET;
        m->saved[i].s->fixed_offset = INERT_OFFSET;
    }
    yr_rule_disable(&m->rules->rules_table[rule]);
}

static void meter_live(struct costmeter *m, unsigned rule)
{
    for (uint32_t i = m->first_string[rule]; i < m->first_string[rule + 1]; i++) {
        m->saved[i].s->flags = m->saved[i].flags;
        m->saved[i].s->fixed_offset = m->saved[i].fixed_offset;
    }
    yr_rule_enable(&m->rules->rules_table[rule]);
}

static void meter_free(struct costmeter *m)
{
    if (!m)
        return;
    if (m->scanner)
        yr_scanner_destroy(m->scanner);
    if (m->rules)
        yr_rules_destroy(m->rules);
    free(m->first_string);
    free(m->saved);
    free(m);
}

static int quiet(YR_SCAN_CONTEXT *ctx, int message, void *data, void *ud)
{
    return CALLBACK_CONTINUE;
}

zh_err zhi_ruleset_save_image(struct zhi_ruleset *rs)
{
    struct membuf buf = {0};
    YR_STREAM st = {.user_data = &buf, .read = mem_read, .write = mem_write};
    if (yr_rules_save_stream(rs->yr_rules, &st) != ERROR_SUCCESS) {
        free(buf.b.p);
        return ZH_ERR_FATAL;
    }
    rs->image = buf.b.p;
    rs->image_len = buf.b.len;
    return ZH_ERR_OK;
}

/* A private copy of the set, loaded from the image saved before it went live,
 * so changing the copy's flags cannot disturb the scanners working on it.
 * A rule is given no more per object than a scan would (scan_timeout_ms). */
static struct costmeter *meter_new(const void *image, size_t len, const struct zh_config *cfg)
{
    struct membuf buf = {.b = {.p = (uint8_t *)image, .len = len}};
    YR_STREAM st = {.user_data = &buf, .read = mem_read, .write = mem_write};
    struct costmeter *m = calloc(1, sizeof *m);
    if (!m || yr_rules_load_stream(&st, &m->rules) != ERROR_SUCCESS)
        goto fail;
    YR_RULE *rule;
    YR_STRING *s;
    size_t n_strings = 0;
    yr_rules_foreach(m->rules, rule)
    {
        m->n_rules++;
        if (rule->strings)
            yr_rule_strings_foreach(rule, s) n_strings++;
    }
    m->first_string = calloc(m->n_rules + 1, sizeof *m->first_string);
    m->saved = calloc(n_strings ? n_strings : 1, sizeof *m->saved);
    if (!m->first_string || !m->saved)
        goto fail;
    unsigned r = 0;
    uint32_t k = 0;
    yr_rules_foreach(m->rules, rule)
    {
        m->first_string[r++] = k;
        if (rule->strings)
            yr_rule_strings_foreach(rule, s)
            {
                m->saved[k++] = (struct saved_string){s, s->flags, s->fixed_offset};
            }
    }
    m->first_string[r] = k;
    for (r = 0; r < m->n_rules; r++)
        meter_inert(m, r);
    if (yr_scanner_create(m->rules, &m->scanner) != ERROR_SUCCESS)
        goto fail;
    yr_scanner_set_callback(m->scanner, quiet, NULL);
    yr_scanner_set_timeout(m->scanner, (int)((cfg->scan_timeout_ms + 999) / 1000));
    return m;
fail:
    meter_free(m);
    return NULL;
}

static uint64_t thread_cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* CPU time of one pass over the samples with the copy as it stands now. */
static uint64_t meter_pass(struct costmeter *m, const struct sample *samples, size_t n)
{
    uint64_t t0 = thread_cpu_ns();
    for (size_t i = 0; i < n; i++) {
        const struct sample *sm = &samples[i];
        for (size_t x = 0; x < zhi_n_externals; x++)
            zhi_external_define(m->scanner, &zhi_externals[x], sm->str[x], sm->num[x]);
        yr_scanner_scan_mem(m->scanner, sm->data, sm->len);
    }
    return thread_cpu_ns() - t0;
}

/* CPU that rule adds to a pass over the samples: passes with every rule inert
 * and with only this one live, taken in turns so that drift (caches, clock
 * speed, other load) falls on both alike; the fastest of each, since
 * interruptions only ever add time. A rule whose pass is longer than
 * budget_ns is not timed again: one pass is precise enough for a rule that
 * slow, and the round stays near its budget. */
static uint64_t meter_rule(struct costmeter *m, unsigned rule, const struct sample *samples,
                           size_t n, int repeat, uint64_t budget_ns)
{
    uint64_t base = UINT64_MAX, with = UINT64_MAX;
    for (int k = 0; k < repeat; k++) {
        uint64_t b = meter_pass(m, samples, n);
        meter_live(m, rule);
        uint64_t t = meter_pass(m, samples, n);
        meter_inert(m, rule);
        base = b < base ? b : base;
        with = t < with ? t : with;
        if (t > budget_ns)
            break;
    }
    return with > base ? with - base : 0;
}

/* ---- the measuring thread -------------------------------------------------- */
static void record(struct zhi_ruleset *rs, unsigned rule, uint64_t ns, size_t sample_bytes)
{
    struct zhi_rule_stats *st = &rs->rule_stats[rule];
    uint64_t per_mib = sample_bytes ? (uint64_t)((double)ns * 1048576.0 / (double)sample_bytes) : 0;
    /* A moving average over passes: the sample changes with the mail. */
    uint64_t old = atomic_load(&st->cost_ns_per_mib);
    atomic_store(&st->cost_ns_per_mib, atomic_load(&st->timed) ? (old * 3 + per_mib) / 4 : per_mib);
    atomic_fetch_add(&st->timed, 1);
}

/* One round: bring the copy up to the live set, then time rules from the
 * cursor on until the budget is spent. */
static void tick(struct zhi_profiler *p)
{
    struct zhi_ruleset *live = zhi_slot_acquire(p->slot);
    if (!live)
        return;
    if (live != p->rs) {
        meter_free(p->meter);
        zhi_ruleset_release(p->rs);
        p->rs = live;
        p->cursor = 0;
        p->pass_done = false;
        /* Only this thread reads the image once the set is live. */
        if (live->image && !(p->meter = meter_new(live->image, live->image_len, p->cfg)))
            zh_log(ZH_LOG_WARN, "rule profiler: cannot load rule set version %llu",
                   (unsigned long long)live->version);
        free(live->image);
        live->image = NULL;
    } else {
        zhi_ruleset_release(live);
    }
    struct costmeter *m = p->meter;
    if (!m || !m->n_rules)
        return;
    /* An idle engine has nothing new to measure: wait for mail. */
    uint64_t offers = atomic_load(&p->offers);
    if (p->pass_done && offers == p->pass_start_offers)
        return;
    if (p->cursor == 0) {
        p->pass_start_offers = offers;
        p->pass_done = false;
    }
    pthread_mutex_lock(&p->pool_lock);
    struct sample samples[ZHI_PROFILE_SLOTS];
    size_t n = 0, bytes = 0;
    for (size_t i = 0; i < ZHI_PROFILE_SLOTS; i++)
        if (p->slots[i].data) {
            samples[n++] = p->slots[i];
            bytes += p->slots[i].len;
        }
    if (n) {
        uint64_t start = thread_cpu_ns();
        while (thread_cpu_ns() - start < p->budget_us * 1000u) {
            unsigned r = p->cursor;
            record(p->rs, r, meter_rule(m, r, samples, n, ZHI_PROFILE_REPEAT, p->budget_us * 1000u),
                   bytes);
            if (++p->cursor == m->n_rules) {
                p->cursor = 0;
                p->pass_done = true;
                atomic_fetch_add(&p->rs->profile_passes, 1);
                break;
            }
        }
        atomic_store(&p->rs->profile_sample_bytes, bytes);
    }
    pthread_mutex_unlock(&p->pool_lock);
}

static void *run(void *arg)
{
    struct zhi_profiler *p = arg;
    pthread_mutex_lock(&p->lock);
    while (!p->stop) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += (time_t)(p->interval_ms / 1000);
        until.tv_nsec += (long)(p->interval_ms % 1000) * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        int rc = 0;
        while (!p->stop && rc != ETIMEDOUT)
            rc = pthread_cond_timedwait(&p->wake, &p->lock, &until);
        if (p->stop)
            break;
        pthread_mutex_unlock(&p->lock);
        tick(p);
        pthread_mutex_lock(&p->lock);
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

zh_err zhi_profiler_start(struct zhi_rules_slot *slot, const struct zh_config *cfg,
                          struct zhi_profiler **out)
{
    *out = NULL;
    if (cfg->rule_profile_interval_ms <= 0)
        return ZH_ERR_OK;
    struct zhi_profiler *p = calloc(1, sizeof *p);
    if (!p)
        return ZH_ERR_FATAL;
    p->slot = slot;
    p->cfg = cfg;
    p->interval_ms = (uint64_t)cfg->rule_profile_interval_ms;
    p->budget_us = (uint64_t)cfg->rule_profile_budget_ms * 1000u;
    pthread_mutex_init(&p->lock, NULL);
    pthread_mutex_init(&p->pool_lock, NULL);
    pthread_cond_init(&p->wake, NULL);
    if (pthread_create(&p->thread, NULL, run, p) != 0) {
        zhi_profiler_stop(p);
        return ZH_ERR_FATAL;
    }
    p->running = true;
    *out = p;
    return ZH_ERR_OK;
}

void zhi_profiler_stop(struct zhi_profiler *p)
{
    if (!p)
        return;
    if (p->running) {
        pthread_mutex_lock(&p->lock);
        p->stop = true;
        pthread_cond_signal(&p->wake);
        pthread_mutex_unlock(&p->lock);
        pthread_join(p->thread, NULL);
    }
    meter_free(p->meter);
    zhi_ruleset_release(p->rs);
    for (size_t i = 0; i < ZHI_PROFILE_SLOTS; i++)
        sample_clear(&p->slots[i]);
    pthread_cond_destroy(&p->wake);
    pthread_mutex_destroy(&p->pool_lock);
    pthread_mutex_destroy(&p->lock);
    free(p);
}

/* ---- offline: `zerohour rules profile` ------------------------------------ */
#define ZHI_PROFILE_OFFLINE_OBJECT_MAX (4 * 1024 * 1024) /* heads of larger objects */

struct capture {
    struct sample *v;
    size_t n, cap;
    uint64_t bytes;
    bool oom;
};

static void on_capture(void *ud, const struct zhi_scan *s)
{
    struct capture *c = ud;
    for (size_t i = 0; i < s->n_objects && !c->oom; i++) {
        if (c->n == c->cap) {
            size_t cap = c->cap ? c->cap * 2 : 64;
            struct sample *g = realloc(c->v, cap * sizeof *g);
            if (!g) {
                c->oom = true;
                return;
            }
            c->v = g;
            c->cap = cap;
        }
        struct sample *sm = &c->v[c->n];
        memset(sm, 0, sizeof *sm);
        if (!sample_fill(sm, s, &s->objects[i], ZHI_PROFILE_OFFLINE_OBJECT_MAX)) {
            sample_clear(sm);
            c->oom = true;
            return;
        }
        c->bytes += sm->len;
        c->n++;
    }
}

struct zh_rule_meter {
    const struct zh_config *cfg;
    struct zhi_ruleset *rs; /* the set measured; one reference */
    struct capture cap;
};

zh_err zhi_rule_meter_new(struct zhi_ruleset *rs, const struct zh_config *cfg, zh_rule_meter **out)
{
    zh_rule_meter *m = calloc(1, sizeof *m);
    if (!m) {
        zhi_ruleset_release(rs);
        return ZH_ERR_FATAL;
    }
    m->cfg = cfg;
    m->rs = rs;
    /* The caller promises no scan runs: saving (which rewrites the set in
     * place) is safe now, and the meter loads its copy from the image. */
    if (!rs->image && zhi_ruleset_save_image(rs) != ZH_ERR_OK) {
        zh_rule_meter_free(m);
        return ZH_ERR_FATAL;
    }
    *out = m;
    return ZH_ERR_OK;
}

void zhi_rule_meter_capture(void *meter, const struct zhi_scan *s)
{
    on_capture(&((zh_rule_meter *)meter)->cap, s);
}

void zh_rule_meter_free(zh_rule_meter *m)
{
    if (!m)
        return;
    zhi_ruleset_release(m->rs);
    for (size_t i = 0; i < m->cap.n; i++)
        sample_clear(&m->cap.v[i]);
    free(m->cap.v);
    free(m);
}

size_t zh_rule_meter_objects(const zh_rule_meter *m)
{
    return m->cap.n;
}

uint64_t zh_rule_meter_bytes(const zh_rule_meter *m)
{
    return m->cap.bytes;
}

zh_err zh_rule_meter_run(zh_rule_meter *m, unsigned passes, zh_rule_cost_fn fn, void *ud)
{
    if (m->cap.oom)
        return ZH_ERR_FATAL;
    struct zhi_ruleset *rs = m->rs;
    struct costmeter *cm = meter_new(rs->image, rs->image_len, m->cfg);
    if (!cm)
        return ZH_ERR_FATAL;
    YR_RULES *yr = rs->yr_rules;
    for (unsigned r = 0; r < cm->n_rules && r < rs->rule_count; r++) {
        double us =
            (double)meter_rule(cm, r, m->cap.v, m->cap.n, (int)(passes ? passes : 1), UINT64_MAX) /
            1000.0;
        fn(ud, &(struct zh_rule_cost){
                   .rule = yr->rules_table[r].identifier,
                   .matches = atomic_load(&rs->rule_stats[r].matches),
                   .us = us,
                   .us_per_mib = m->cap.bytes ? us * 1048576.0 / (double)m->cap.bytes : 0.0,
               });
    }
    meter_free(cm);
    return ZH_ERR_OK;
}
