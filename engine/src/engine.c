/* The engine and its scanners: publishing rule sets, the scan pipeline
 * (parse → unpack → detect → decide) and the per-scan helpers detectors use.
 * MIME lives in mime.c, scoring in verdict.c, counters in stats.c. */
#include "zhi.h"
#include "outbreak.h"
#include "zerohour/log.h"
#include "zerohour/wire.h"

#include <gmime/gmime.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yara.h>

struct zh_engine {
    struct zh_config cfg;
    pthread_mutex_t rules_lock; /* guards `current` and taking a reference */
    struct zhi_ruleset *current;
    pthread_mutex_t reload_lock; /* one compilation at a time */
    void *det_state[16];
    struct zhi_stats *stats;
    struct zhi_outbreaks *outbreaks;
    struct zhi_profiler *profiler; /* NULL when rule_profile_interval_ms = 0 */
    uint64_t started_us;
    /* last reload, for Stats (under reload_lock) */
    int64_t last_reload_unix_ms;
    int last_reload_ok;
    unsigned last_reload_errors;
    char last_reload_first_error[512];
    uint64_t last_reload_us;
};

struct zh_scanner {
    zh_engine *e;
    struct zhi_mime *mime;
    struct zhi_arena arena;
    void *tstate[16];
    struct zhi_scan scan;
    struct zh_result result;
    char err[512];
    bool explain;
    zhi_scan_capture_fn capture;
    void *capture_ud;
};

zh_err zhi_verdict_decide(struct zhi_scan *s, struct zh_result *r);

/* ---- process-wide library setup ------------------------------------------ */
static pthread_once_t libs_once = PTHREAD_ONCE_INIT;
static int libs_ok;

static void libs_init(void)
{
    g_mime_init();
    libs_ok = yr_initialize() == ERROR_SUCCESS;
}

/* ---- rule sets -------------------------------------------------------------- */
struct zhi_ruleset *zhi_ruleset_acquire(zh_engine *e)
{
    pthread_mutex_lock(&e->rules_lock);
    struct zhi_ruleset *rs = e->current;
    if (rs)
        atomic_fetch_add(&rs->refs, 1);
    pthread_mutex_unlock(&e->rules_lock);
    return rs;
}

uint64_t zh_engine_ruleset_version(zh_engine *e)
{
    pthread_mutex_lock(&e->rules_lock);
    uint64_t v = e->current ? e->current->version : 0;
    pthread_mutex_unlock(&e->rules_lock);
    return v;
}

static void note_reload(zh_engine *e, const struct zh_rules_report *rep)
{
    e->last_reload_unix_ms = zhi_unix_ms();
    e->last_reload_ok = rep->ok;
    e->last_reload_errors = (unsigned)rep->n_errors;
    e->last_reload_us = rep->elapsed_us;
    snprintf(e->last_reload_first_error, sizeof e->last_reload_first_error, "%s",
             rep->n_errors ? rep->errors[0] : "");
}

zh_err zh_engine_reload(zh_engine *e, struct zh_rules_report *report)
{
    struct zhi_ruleset *rs = NULL, *old = NULL;
    pthread_mutex_lock(&e->reload_lock);
    zh_err rc = zhi_rules_compile(e->cfg.rules_dir, &rs, report);
    if (rc == ZH_ERR_OK && e->cfg.rule_profile_interval_ms > 0 &&
        zhi_ruleset_save_image(rs) != ZH_ERR_OK)
        zh_log(ZH_LOG_WARN, "rules: cannot copy version %llu for the rule profiler",
               (unsigned long long)rs->version);
    if (rc == ZH_ERR_OK) {
        pthread_mutex_lock(&e->rules_lock);
        old = e->current;
        e->current = rs;
        pthread_mutex_unlock(&e->rules_lock);
        /* Scans holding the old set keep it alive until they finish. */
        zhi_ruleset_release(old);
        zh_log(ZH_LOG_INFO, "rules: version %llu live, %u rules from %s (%.1f ms)",
               (unsigned long long)rs->version, rs->rule_count, e->cfg.rules_dir,
               report->elapsed_us / 1000.0);
    } else {
        report->version = zh_engine_ruleset_version(e);
        zh_log(ZH_LOG_ERROR,
               "rules: reload of %s failed with %zu error(s); still serving version %llu",
               e->cfg.rules_dir, report->n_errors, (unsigned long long)report->version);
        for (size_t i = 0; i < report->n_errors; i++)
            zh_log(ZH_LOG_ERROR, "rules: %s", report->errors[i]);
    }
    for (size_t i = 0; i < report->n_warnings; i++)
        zh_log(ZH_LOG_WARN, "rules: %s", report->warnings[i]);
    note_reload(e, report);
    pthread_mutex_unlock(&e->reload_lock);
    return rc;
}

zh_err zh_rules_check(const char *dir, struct zh_rules_report *report)
{
    pthread_once(&libs_once, libs_init);
    struct zhi_ruleset *rs = NULL;
    zh_err rc = zhi_rules_compile(dir, &rs, report);
    zhi_ruleset_release(rs);
    return rc;
}

/* ---- engine -------------------------------------------------------------- */
zh_err zh_engine_new(const struct zh_config *cfg, zh_engine **out, struct zh_rules_report *report)
{
    struct zh_rules_report local;
    struct zh_rules_report *rep = report ? report : &local;
    memset(rep, 0, sizeof *rep);
    pthread_once(&libs_once, libs_init);
    if (!libs_ok)
        return ZH_ERR_FATAL;
    if (zhi_n_detectors > sizeof((zh_engine *)0)->det_state / sizeof(void *))
        return ZH_ERR_FATAL;
    zh_engine *e = calloc(1, sizeof *e);
    if (!e)
        return ZH_ERR_FATAL;
    zh_err rc = zh_config_copy(&e->cfg, cfg);
    if (rc != ZH_ERR_OK) {
        free(e);
        return rc;
    }
    pthread_mutex_init(&e->rules_lock, NULL);
    pthread_mutex_init(&e->reload_lock, NULL);
    e->started_us = zhi_now_us();
    size_t inited = 0;
    if (!(e->stats = zhi_stats_new(zhi_n_detectors))) {
        rc = ZH_ERR_FATAL;
        goto fail;
    }
    for (; inited < zhi_n_detectors; inited++) {
        const struct zh_detector *d = zhi_detectors[inited];
        if (d->init && (rc = d->init(e, &e->det_state[inited])) != ZH_ERR_OK) {
            zh_log(ZH_LOG_ERROR, "detector %s failed to start", d->name);
            goto fail;
        }
    }
    if (e->cfg.outbreak_enabled) {
        char err[256];
        if (*e->cfg.outbreak_redis &&
            (rc = zhi_ob_shared_check_url(e->cfg.outbreak_redis, err, sizeof err)) != ZH_ERR_OK) {
            zh_log(ZH_LOG_ERROR, "%s", err);
            goto fail;
        }
        if ((rc = zhi_outbreaks_new(&e->cfg, &e->outbreaks)) != ZH_ERR_OK)
            goto fail;
        if (e->cfg.outbreak_state_file && *e->cfg.outbreak_state_file) {
            char err[512] = "";
            if (zhi_outbreaks_load(e->outbreaks, e->cfg.outbreak_state_file, err, sizeof err) ==
                ZH_ERR_OK) {
                if (*err)
                    zh_log(ZH_LOG_INFO, "outbreak state: %s from %s", err,
                           e->cfg.outbreak_state_file);
            } else {
                zh_log(ZH_LOG_WARN, "outbreak state: %s", err);
            }
        }
    }
    if ((rc = zh_engine_reload(e, rep)) != ZH_ERR_OK)
        goto fail;
    if ((rc = zhi_profiler_start(e, &e->cfg, &e->profiler)) != ZH_ERR_OK) {
        zhi_ruleset_release(e->current);
        goto fail;
    }
    *out = e;
    if (!report)
        zh_rules_report_free(&local);
    return ZH_ERR_OK;
fail:
    zhi_outbreaks_free(e->outbreaks);
    while (inited-- > 0)
        if (zhi_detectors[inited]->fini)
            zhi_detectors[inited]->fini(e->det_state[inited]);
    zhi_stats_free(e->stats);
    zh_config_free(&e->cfg);
    pthread_mutex_destroy(&e->rules_lock);
    pthread_mutex_destroy(&e->reload_lock);
    free(e);
    if (!report)
        zh_rules_report_free(&local);
    return rc;
}

void zh_engine_free(zh_engine *e)
{
    if (!e)
        return;
    zhi_profiler_stop(e->profiler);
    for (size_t i = zhi_n_detectors; i-- > 0;)
        if (zhi_detectors[i]->fini)
            zhi_detectors[i]->fini(e->det_state[i]);
    zhi_ruleset_release(e->current);
    zhi_outbreaks_free(e->outbreaks);
    zhi_stats_free(e->stats);
    zh_config_free(&e->cfg);
    pthread_mutex_destroy(&e->rules_lock);
    pthread_mutex_destroy(&e->reload_lock);
    free(e);
}

struct zhi_outbreaks *zhi_engine_outbreaks(zh_engine *e)
{
    return e->outbreaks;
}

size_t zh_engine_outbreaks(zh_engine *e, int64_t now_ms, struct zh_outbreak_info *out, size_t max)
{
    return e->outbreaks ? zhi_outbreaks_list(e->outbreaks, now_ms, out, max) : 0;
}

zh_err zh_engine_save_state(zh_engine *e, char *err, size_t errlen)
{
    if (!e->outbreaks || !e->cfg.outbreak_state_file || !*e->cfg.outbreak_state_file)
        return ZH_ERR_OK;
    return zhi_outbreaks_save(e->outbreaks, e->cfg.outbreak_state_file, err, errlen);
}

const struct zh_config *zh_engine_config(const zh_engine *e)
{
    return &e->cfg;
}

/* ---- scanner -------------------------------------------------------------- */
zh_err zh_scanner_new(zh_engine *e, zh_scanner **out)
{
    zh_scanner *sc = calloc(1, sizeof *sc);
    if (!sc)
        return ZH_ERR_FATAL;
    sc->e = e;
    zhi_arena_init(&sc->arena, 256 * 1024);
    zh_err rc = zhi_mime_new(&sc->mime);
    size_t i = 0;
    for (; rc == ZH_ERR_OK && i < zhi_n_detectors; i++) {
        const struct zh_detector *d = zhi_detectors[i];
        if (d->thread_init)
            rc = d->thread_init(e->det_state[i], &sc->tstate[i]);
    }
    if (rc != ZH_ERR_OK) {
        sc->e = e;
        while (i-- > 0)
            if (zhi_detectors[i]->thread_fini && sc->tstate[i])
                zhi_detectors[i]->thread_fini(sc->tstate[i]);
        zhi_mime_free(sc->mime);
        free(sc);
        return rc;
    }
    *out = sc;
    return ZH_ERR_OK;
}

void zh_scanner_free(zh_scanner *sc)
{
    if (!sc)
        return;
    for (size_t i = 0; i < zhi_n_detectors; i++)
        if (zhi_detectors[i]->thread_fini && sc->tstate[i])
            zhi_detectors[i]->thread_fini(sc->tstate[i]);
    zhi_mime_free(sc->mime);
    zhi_arena_free(&sc->arena);
    free(sc);
}

void zh_scanner_set_explain(zh_scanner *sc, int on)
{
    sc->explain = on != 0;
}

void zhi_scanner_set_capture(zh_scanner *sc, zhi_scan_capture_fn fn, void *ud)
{
    sc->capture = fn;
    sc->capture_ud = ud;
}

struct zhi_ruleset *zhi_scanner_engine_rules(zh_scanner *sc)
{
    return zhi_ruleset_acquire(sc->e);
}

int zhi_scan_add_object(struct zhi_scan *s, const struct zhi_object *o)
{
    if (s->n_objects == s->cap_objects) {
        size_t cap = s->cap_objects ? s->cap_objects * 2 : 32;
        struct zhi_object *grown = zhi_arena_alloc(s->arena, cap * sizeof *grown);
        if (!grown)
            return -1;
        if (s->n_objects)
            memcpy(grown, s->objects, s->n_objects * sizeof *grown);
        s->objects = grown;
        s->cap_objects = cap;
    }
    s->objects[s->n_objects] = *o;
    return (int)s->n_objects++;
}

zh_err zhi_scan_hit(struct zhi_scan *s, const char *detector, const char *rule, const char *object,
                    int score, unsigned flags, const char *family, const char *const *aliases,
                    size_t n_aliases, const char *detail_fmt, ...)
{
    if (s->n_hits == s->cap_hits) {
        size_t cap = s->cap_hits ? s->cap_hits * 2 : 16;
        struct zh_hit *grown = zhi_arena_alloc(s->arena, cap * sizeof *grown);
        if (!grown)
            return ZH_ERR_FATAL;
        if (s->n_hits)
            memcpy(grown, s->hits, s->n_hits * sizeof *grown);
        s->hits = grown;
        s->cap_hits = cap;
    }
    struct zh_hit *h = &s->hits[s->n_hits];
    char detail[1024] = "";
    if (detail_fmt) {
        va_list ap;
        va_start(ap, detail_fmt);
        vsnprintf(detail, sizeof detail, detail_fmt, ap);
        va_end(ap);
    }
    const char **al = NULL;
    if (n_aliases && (al = zhi_arena_alloc(s->arena, n_aliases * sizeof *al)))
        for (size_t i = 0; i < n_aliases; i++)
            al[i] = zhi_arena_strdup(s->arena, aliases[i]);
    *h = (struct zh_hit){
        .detector = zhi_arena_strdup(s->arena, detector),
        .rule = zhi_arena_strdup(s->arena, rule),
        .object = zhi_arena_strdup(s->arena, object ? object : ""),
        .detail = zhi_arena_strdup(s->arena, detail),
        .family = family ? zhi_arena_strdup(s->arena, family) : "",
        .aliases = al,
        .n_aliases = al ? n_aliases : 0,
        .score = score,
        .flags = flags,
    };
    if (!h->detector || !h->rule || !h->object || !h->detail || !h->family)
        return ZH_ERR_FATAL;
    s->n_hits++;
    return ZH_ERR_OK;
}

bool zhi_scan_expired(struct zhi_scan *s)
{
    if (!s->timed_out && s->deadline_us && zhi_now_us() >= s->deadline_us)
        s->timed_out = true;
    return s->timed_out;
}

static void finish(zh_scanner *sc, int status, const char *msg)
{
    sc->result.status = status;
    sc->result.status_message = msg ? zhi_arena_strdup(&sc->arena, msg) : "";
    if (!sc->result.status_message)
        sc->result.status_message = "";
}

zh_err zh_scanner_scan(zh_scanner *sc, const uint8_t *msg, size_t len,
                       const struct zh_scan_envelope *env, uint32_t deadline_ms,
                       const struct zh_result **res)
{
    zh_engine *e = sc->e;
    const struct zh_config *cfg = &e->cfg;
    struct zhi_scan *s = &sc->scan;
    struct zh_result *r = &sc->result;
    static const struct zh_scan_envelope no_env;
    zh_err rc = ZH_ERR_OK;

    zhi_arena_reset(&sc->arena);
    memset(s, 0, sizeof *s);
    memset(r, 0, sizeof *r);
    *res = r;
    uint64_t t0 = zhi_now_us();
    s->engine = e;
    s->cfg = cfg;
    s->arena = &sc->arena;
    s->env = env ? env : &no_env;
    s->received_at = s->env->received_at ? s->env->received_at : zhi_unix_ms();
    s->subject = s->from = s->message_id = "";
    s->thread_state = sc->tstate;
    s->explain = sc->explain;
    uint64_t budget_ms = (uint64_t)cfg->scan_timeout_ms;
    if (deadline_ms && deadline_ms < budget_ms) {
        budget_ms = deadline_ms;
        s->client_deadline = true;
    }
    s->deadline_us = t0 + budget_ms * 1000u;

    if (!(s->rules = zhi_ruleset_acquire(e))) {
        finish(sc, ZEROHOUR__V1__STATUS__STATUS_UNAVAILABLE, "no rule set loaded");
        goto out;
    }
    r->ruleset_version = s->rules->version;
    if (len > (uint64_t)cfg->max_message_bytes) {
        snprintf(sc->err, sizeof sc->err,
                 "message is %zu bytes; this engine accepts at most %lld (max_message_bytes)", len,
                 (long long)cfg->max_message_bytes);
        finish(sc, ZEROHOUR__V1__STATUS__STATUS_RESOURCE_EXHAUSTED, sc->err);
        goto out;
    }

    /* parse */
    sc->err[0] = 0;
    zh_err prc = zhi_mime_flatten(sc->mime, s, msg, len, sc->err, sizeof sc->err);
    uint64_t t1 = zhi_now_us();
    r->parse_us = t1 - t0;
    if (prc == ZH_ERR_INVALID) {
        finish(sc, ZEROHOUR__V1__STATUS__STATUS_INVALID_ARGUMENT, sc->err);
        goto out;
    }
    if (prc != ZH_ERR_OK) {
        finish(sc, ZEROHOUR__V1__STATUS__STATUS_INTERNAL, "out of memory while parsing");
        rc = prc;
        goto out;
    }

    /* unpack */
    if (zhi_unpack(s) != ZH_ERR_OK) {
        finish(sc, ZEROHOUR__V1__STATUS__STATUS_INTERNAL, "out of memory while unpacking");
        rc = ZH_ERR_FATAL;
        goto out;
    }
    uint64_t t2 = zhi_now_us();
    r->unpack_us = t2 - t1;

    /* detect */
    for (size_t i = 0; i < zhi_n_detectors && !zhi_scan_expired(s); i++) {
        const struct zh_detector *d = zhi_detectors[i];
        struct zhi_detector_stats *ds = zhi_stats_detector(e->stats, i);
        size_t before = s->n_hits;
        uint64_t dt0 = zhi_now_us();
        zh_err drc = d->scan(s, e->det_state[i], sc->tstate[i]);
        atomic_fetch_add(&ds->calls, 1);
        atomic_fetch_add(&ds->time_us, zhi_now_us() - dt0);
        atomic_fetch_add(&ds->hits, s->n_hits - before);
        if (drc < 0 && drc != ZH_ERR_LIMIT_TIME) {
            atomic_fetch_add(&ds->errors, 1);
            if (drc == ZH_ERR_FATAL) {
                finish(sc, ZEROHOUR__V1__STATUS__STATUS_INTERNAL, "detector failed fatally");
                goto out;
            }
        }
    }
    r->detect_us = zhi_now_us() - t2;

    if (s->timed_out && s->client_deadline) {
        snprintf(sc->err, sizeof sc->err, "deadline of %u ms passed before the scan finished",
                 deadline_ms);
        finish(sc, ZEROHOUR__V1__STATUS__STATUS_DEADLINE_EXCEEDED, sc->err);
        goto out;
    }
    if (s->timed_out)
        zhi_scan_hit(s, "limits", "limits_exceeded", "", 0, ZH_HIT_UNSCANNABLE, NULL, NULL, 0,
                     "scan_timeout_ms: the scan needed more than %lld ms",
                     (long long)cfg->scan_timeout_ms);
    finish(sc, ZEROHOUR__V1__STATUS__STATUS_OK, NULL);
    zhi_verdict_decide(s, r);
    zhi_profiler_offer(e->profiler, s);
    if (sc->capture)
        sc->capture(sc->capture_ud, s);
out:
    r->objects = (unsigned)s->n_objects;
    r->total_us = zhi_now_us() - t0;
    zhi_stats_scan_done(e->stats, r);
    /* The decoded parts are done with; an idle worker should not hold the
     * last big attachment until its next scan. */
    zhi_arena_release_adopted(&sc->arena);
    s->objects = NULL;
    s->n_objects = s->cap_objects = 0;
    zhi_ruleset_release(s->rules);
    s->rules = NULL;
    return rc;
}

/* ---- stats ----------------------------------------------------------------- */
void zhi_stats_render(struct zhi_stats *st, const char *section, zh_stats_fn fn, void *ud);

static bool want(const char *section, const char *name)
{
    return !section || !*section || !strcmp(section, name);
}

#define EMIT(sec, key, ...)                                                                        \
    do {                                                                                           \
        char v_[512];                                                                              \
        snprintf(v_, sizeof v_, __VA_ARGS__);                                                      \
        fn(ud, sec, key, v_);                                                                      \
    } while (0)

/* Per rule, since its set went live: how often it matched, and what it costs
 * as the profiler measured it (CPU per MiB of sampled mail, and that figure
 * applied to every byte the yara detector scanned). Slowest first; rules
 * neither timed nor matched are left out. */
struct rule_row {
    const char *name;
    unsigned long long matches, cost, timed;
    double est_ms;
};

static int by_cost(const void *a, const void *b)
{
    const struct rule_row *x = a, *y = b;
    if (x->est_ms != y->est_ms)
        return x->est_ms < y->est_ms ? 1 : -1;
    if (x->matches != y->matches)
        return x->matches < y->matches ? 1 : -1;
    return strcmp(x->name, y->name);
}

static void render_rulestats(zh_engine *e, zh_stats_fn fn, void *ud)
{
    struct zhi_ruleset *rs = zhi_ruleset_acquire(e);
    if (!rs)
        return;
    struct rule_row *rows = calloc(rs->rule_count ? rs->rule_count : 1, sizeof *rows);
    double mib = (double)atomic_load(&rs->yara_bytes) / 1048576.0;
    size_t n = 0;
    unsigned matched = 0, timed = 0;
    YR_RULE *rule;
    size_t i = 0;
    YR_RULES *yr = rs->yr_rules;
    yr_rules_foreach(yr, rule)
    {
        if (i >= rs->rule_count || !rows)
            break;
        struct zhi_rule_stats *st = &rs->rule_stats[i++];
        struct rule_row r = {.name = rule->identifier,
                             .matches = atomic_load(&st->matches),
                             .timed = atomic_load(&st->timed),
                             .cost = atomic_load(&st->cost_ns_per_mib)};
        matched += r.matches != 0;
        timed += r.timed != 0;
        if (!r.matches && !r.timed)
            continue;
        r.est_ms = r.timed ? (double)r.cost * mib / 1e6 : 0;
        rows[n++] = r;
    }
    if (rows)
        qsort(rows, n, sizeof *rows, by_cost);
    for (size_t k = 0; k < n; k++) {
        if (rows[k].timed)
            EMIT("rulestats", rows[k].name, "matches=%llu,us_per_mib=%.1f,est_time_ms=%.1f",
                 rows[k].matches, (double)rows[k].cost / 1000.0, rows[k].est_ms);
        else
            EMIT("rulestats", rows[k].name, "matches=%llu,us_per_mib=?,est_time_ms=?",
                 rows[k].matches);
    }
    free(rows);
    EMIT("rulestats", "rules_matched", "%u", matched);
    EMIT("rulestats", "rules_timed", "%u", timed);
    EMIT("rulestats", "rules_total", "%u", rs->rule_count);
    EMIT("rulestats", "yara_mib_scanned", "%.1f", mib);
    EMIT("rulestats", "profile_passes", "%llu",
         (unsigned long long)atomic_load(&rs->profile_passes));
    EMIT("rulestats", "profile_sample_bytes", "%llu",
         (unsigned long long)atomic_load(&rs->profile_sample_bytes));
    zhi_ruleset_release(rs);
}

void zh_engine_stats(zh_engine *e, const char *section, zh_stats_fn fn, void *ud)
{
    zhi_stats_render(e->stats, section, fn, ud);
    if (want(section, "detectors")) {
        for (size_t i = 0; i < zhi_n_detectors; i++) {
            struct zhi_detector_stats *ds = zhi_stats_detector(e->stats, i);
            unsigned long long calls = atomic_load(&ds->calls);
            unsigned long long us = atomic_load(&ds->time_us);
            EMIT("detectors", zhi_detectors[i]->name,
                 "calls=%llu,hits=%llu,errors=%llu,time_us=%llu,avg_us=%.1f", calls,
                 (unsigned long long)atomic_load(&ds->hits),
                 (unsigned long long)atomic_load(&ds->errors), us,
                 calls ? (double)us / (double)calls : 0.0);
        }
    }
    if (want(section, "rules")) {
        struct zhi_ruleset *rs = zhi_ruleset_acquire(e);
        EMIT("rules", "rules_dir", "%s", e->cfg.rules_dir);
        EMIT("rules", "ruleset_version", "%llu", rs ? (unsigned long long)rs->version : 0ULL);
        EMIT("rules", "rule_count", "%u", rs ? rs->rule_count : 0);
        zhi_ruleset_release(rs);
        EMIT("rules", "rule_sets_alive", "%llu", zhi_rulesets_alive());
        pthread_mutex_lock(&e->reload_lock);
        EMIT("rules", "last_reload_unix_ms", "%lld", (long long)e->last_reload_unix_ms);
        EMIT("rules", "last_reload_result", "%s", e->last_reload_ok ? "ok" : "failed");
        EMIT("rules", "last_reload_errors", "%u", e->last_reload_errors);
        EMIT("rules", "last_reload_first_error", "%s", e->last_reload_first_error);
        EMIT("rules", "last_reload_us", "%llu", (unsigned long long)e->last_reload_us);
        pthread_mutex_unlock(&e->reload_lock);
    }
    if (want(section, "rulestats"))
        render_rulestats(e, fn, ud);
    if (want(section, "limits")) {
        for (const struct zh_setting *st = zh_settings; st->name; st++) {
            if (strcmp(st->section, "limits") && strcmp(st->section, "scoring"))
                continue;
            EMIT("limits", st->name, "%lld",
                 (long long)*(const int64_t *)((const char *)&e->cfg + st->offset));
        }
    }
}
