/* The engine and its scanners: publishing rule sets, the scan pipeline
 * (parse → unpack → detect → decide) and the per-scan helpers detectors use.
 * MIME lives in mime.c, scoring in verdict.c, counters in stats.c. */
#include "zhi.h"
#include "outbreak.h"
#include "store.h"
#include "hunt.h"
#include "zerohour/log.h"
#include "zerohour/wire.h"

#include <gmime/gmime.h>
#include <malloc.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yara.h>

struct zh_engine {
    struct zh_config cfg;
    struct zhi_rules_slot rules; /* the live rule set */
    pthread_mutex_t reload_lock; /* one compilation at a time */
    void *det_state[ZHI_N_DETECTORS];
    struct zhi_stats *stats;
    struct zhi_outbreaks *outbreaks;
    struct zhi_profiler *profiler; /* NULL when rule_profile_interval_ms = 0 */
    struct zhi_store *store;       /* NULL when [store] is off or could not open */
    pthread_mutex_t hunt_lock;     /* the latest hunt */
    struct zhi_hunt *hunt;
    uint64_t hunt_id;
    uint64_t started_us;
    /* last reload, for Stats (under reload_lock) */
    int64_t last_reload_unix_ms;
    int last_reload_ok;
    unsigned last_reload_errors;
    char last_reload_first_error[512];
    uint64_t last_reload_us;
};

/* Messages this large hand freed memory back to the system after their scan
 * (malloc_trim costs about a millisecond; ordinary mail does not pay it). */
#define ZHI_TRIM_AFTER_BYTES (1u << 20)

struct zh_scanner {
    zh_engine *e;
    struct zhi_mime *mime;
    struct zhi_arena arena;
    void *tstate[ZHI_N_DETECTORS];
    struct zhi_scan scan;
    struct zh_result result;
    char err[512];
    bool explain;
    zh_rule_meter *meter; /* gets every object of each scan (zerohour rules profile) */
};

/* ---- process-wide library setup ------------------------------------------ */
static pthread_once_t libs_once = PTHREAD_ONCE_INIT;
static int libs_ok;

static void libs_init(void)
{
    g_mime_init();
    libs_ok = yr_initialize() == ERROR_SUCCESS;
}

/* ---- rule sets -------------------------------------------------------------- */
uint64_t zh_engine_ruleset_version(zh_engine *e)
{
    return atomic_load(&e->rules.version);
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
    struct zhi_ruleset *rs = NULL;
    pthread_mutex_lock(&e->reload_lock);
    zh_err rc = zhi_rules_compile(e->cfg.rules_dir, &rs, report);
    if (rc == ZH_ERR_OK && e->cfg.rule_profile_interval_ms > 0 &&
        zhi_ruleset_save_image(rs) != ZH_ERR_OK)
        zh_log(ZH_LOG_WARN, "rules: cannot copy version %llu for the rule profiler",
               (unsigned long long)rs->version);
    if (rc == ZH_ERR_OK) {
        zhi_slot_publish(&e->rules, rs);
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
    zh_engine *e = calloc(1, sizeof *e);
    if (!e)
        return ZH_ERR_FATAL;
    char why[512];
    zh_err rc = zh_config_check(cfg, why, sizeof why);
    if (rc != ZH_ERR_OK) {
        zh_log(ZH_LOG_ERROR, "%s", why);
        free(e);
        return rc;
    }
    if ((rc = zh_config_copy(&e->cfg, cfg)) != ZH_ERR_OK) {
        free(e);
        return rc;
    }
    zhi_slot_init(&e->rules);
    pthread_mutex_init(&e->reload_lock, NULL);
    pthread_mutex_init(&e->hunt_lock, NULL);
    e->started_us = zhi_now_us();
    size_t inited = 0;
    if (!(e->stats = zhi_stats_new(ZHI_N_DETECTORS))) {
        rc = ZH_ERR_FATAL;
        goto fail;
    }
    for (; inited < ZHI_N_DETECTORS; inited++) {
        const struct zh_detector *d = zhi_detectors[inited];
        if (d->init && (rc = d->init(&e->cfg, &e->det_state[inited])) != ZH_ERR_OK) {
            zh_log(ZH_LOG_ERROR, "detector %s failed to start", d->name);
            goto fail;
        }
    }
    if (e->cfg.outbreak_enabled) {
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
    if ((rc = zhi_profiler_start(&e->rules, &e->cfg, &e->profiler)) != ZH_ERR_OK)
        goto fail;
    if (e->cfg.store_enabled) {
        /* The store serves hunts later; mail must flow without it. */
        char err[512] = "";
        if (zhi_store_open(&e->cfg, &e->store, err, sizeof err) != ZH_ERR_OK)
            zh_log(ZH_LOG_ERROR, "store: %s; scanning goes on without a store", err);
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
    zhi_slot_destroy(&e->rules);
    pthread_mutex_destroy(&e->reload_lock);
    pthread_mutex_destroy(&e->hunt_lock);
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
    zhi_hunt_free(e->hunt);    /* reads the store */
    zhi_store_close(e->store); /* writes what is queued */
    pthread_mutex_destroy(&e->hunt_lock);
    for (size_t i = ZHI_N_DETECTORS; i-- > 0;)
        if (zhi_detectors[i]->fini)
            zhi_detectors[i]->fini(e->det_state[i]);
    zhi_outbreaks_free(e->outbreaks);
    zhi_stats_free(e->stats);
    zh_config_free(&e->cfg);
    zhi_slot_destroy(&e->rules);
    pthread_mutex_destroy(&e->reload_lock);
    free(e);
}

size_t zh_engine_outbreaks(zh_engine *e, int64_t now_ms, struct zh_outbreak_info *out, size_t max)
{
    size_t n = e->outbreaks ? zhi_outbreaks_list(e->outbreaks, now_ms, out, max) : 0;
    for (size_t i = 0; e->store && i < n; i++)
        if (out[i].active &&
            zhi_store_count_delivered(e->store, out[i].fingerprint, out[i].active_since,
                                      &out[i].delivered_before) == ZH_ERR_OK)
            out[i].delivered_known = true;
    return n;
}

zh_err zh_engine_save_state(zh_engine *e, char *err, size_t errlen)
{
    if (!e->outbreaks || !e->cfg.outbreak_state_file || !*e->cfg.outbreak_state_file)
        return ZH_ERR_OK;
    return zhi_outbreaks_save(e->outbreaks, e->cfg.outbreak_state_file, err, errlen);
}

zh_err zh_engine_hunt_start(zh_engine *e, const struct zh_hunt_request *req, uint64_t *id,
                            char *err, size_t errlen)
{
    if (!e->store) {
        snprintf(err, errlen,
                 e->cfg.store_enabled ? "the store could not be opened (see the engine's log)"
                                      : "this engine keeps no store (set store.enabled=1 and "
                                        "store.directory)");
        return ZH_ERR_FAILED;
    }
    pthread_mutex_lock(&e->hunt_lock);
    zh_err rc = ZH_ERR_OK;
    if (e->hunt && zhi_hunt_running(e->hunt)) {
        snprintf(err, errlen, "retrohunt %llu is still running; cancel it or wait",
                 (unsigned long long)e->hunt_id);
        rc = ZH_ERR_FAILED;
    } else {
        struct zhi_hunt *h = NULL;
        rc = zhi_hunt_start(e->store, &e->cfg, req, e->hunt_id + 1, &h, err, errlen);
        if (rc == ZH_ERR_OK) {
            zhi_hunt_free(e->hunt);
            e->hunt = h;
            *id = ++e->hunt_id;
        }
    }
    pthread_mutex_unlock(&e->hunt_lock);
    return rc;
}

zh_err zh_engine_hunt_poll(zh_engine *e, uint64_t id, bool cancel, size_t offset, size_t limit,
                           struct zh_hunt_status *out)
{
    pthread_mutex_lock(&e->hunt_lock);
    zh_err rc = ZH_ERR_INVALID;
    if (e->hunt && id == e->hunt_id) {
        if (cancel)
            zhi_hunt_cancel(e->hunt);
        rc = zhi_hunt_status(e->hunt, offset, limit, out);
    }
    pthread_mutex_unlock(&e->hunt_lock);
    return rc;
}

zh_err zh_engine_store_forget(zh_engine *e, const char *message_id, int64_t older_than_ms,
                              uint64_t *n, char *err, size_t errlen)
{
    bool by_id = message_id && *message_id;
    if (by_id == (older_than_ms > 0)) {
        snprintf(err, errlen, "forget takes a Message-ID or an age, one of them");
        return ZH_ERR_INVALID;
    }
    if (!e->store) {
        snprintf(err, errlen, "this engine keeps no store");
        return ZH_ERR_FAILED;
    }
    char id[1024] = "";
    if (by_id) {
        /* stored as the header gives it, without the angle brackets */
        size_t l = strlen(message_id);
        if (l >= 2 && message_id[0] == '<' && message_id[l - 1] == '>')
            snprintf(id, sizeof id, "%.*s", (int)(l - 2), message_id + 1);
        else
            snprintf(id, sizeof id, "%s", message_id);
    }
    zh_err rc = zhi_store_forget(e->store, by_id ? id : NULL, older_than_ms, n);
    if (rc != ZH_ERR_OK)
        snprintf(err, errlen, "the store failed to forget (see the engine's log)");
    return rc;
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
    for (; rc == ZH_ERR_OK && i < ZHI_N_DETECTORS; i++) {
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
    for (size_t i = 0; i < ZHI_N_DETECTORS; i++)
        if (zhi_detectors[i]->thread_fini && sc->tstate[i])
            zhi_detectors[i]->thread_fini(sc->tstate[i]);
    zhi_mime_free(sc->mime);
    zhi_arena_free(&sc->arena);
    free(sc);
}

void zh_scanner_idle(zh_scanner *sc)
{
    zh_engine *e = sc->e;
    struct zhi_ruleset *live = zhi_slot_acquire(&e->rules);
    for (size_t i = 0; i < ZHI_N_DETECTORS; i++)
        if (zhi_detectors[i]->thread_idle && sc->tstate[i])
            zhi_detectors[i]->thread_idle(sc->tstate[i], live);
    zhi_ruleset_release(live);
}

void zh_scanner_set_explain(zh_scanner *sc, int on)
{
    sc->explain = on != 0;
}

zh_err zh_rule_meter_new(zh_engine *e, zh_rule_meter **out)
{
    struct zhi_ruleset *rs = zhi_slot_acquire(&e->rules);
    return rs ? zhi_rule_meter_new(rs, &e->cfg, out) : ZH_ERR_FAILED;
}

void zh_scanner_set_meter(zh_scanner *sc, zh_rule_meter *m)
{
    sc->meter = m;
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
    s->live = &e->rules.version;
    s->outbreaks = e->outbreaks;
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

    if (!(s->rules = zhi_slot_acquire(&e->rules))) {
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

    /* extract */
    if (zhi_extract(s) != ZH_ERR_OK) {
        finish(sc, ZEROHOUR__V1__STATUS__STATUS_INTERNAL, "out of memory while unpacking");
        rc = ZH_ERR_FATAL;
        goto out;
    }
    uint64_t t2 = zhi_now_us();
    r->unpack_us = t2 - t1;

    /* detect */
    for (size_t i = 0; i < ZHI_N_DETECTORS && !zhi_scan_expired(s); i++) {
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
        zhi_scan_limit(s, ZHI_L_scan_time, (zhi_now_us() - t0) / 1000, "");
    finish(sc, ZEROHOUR__V1__STATUS__STATUS_OK, NULL);
    if (zhi_verdict_decide(s, r) != ZH_ERR_OK) {
        finish(sc, ZEROHOUR__V1__STATUS__STATUS_INTERNAL, "out of memory while deciding");
        rc = ZH_ERR_FATAL;
        goto out;
    }
    zhi_profiler_offer(e->profiler, s);
    zhi_store_offer(e->store, s, r);
    if (sc->meter)
        zhi_rule_meter_capture(sc->meter, s);
out:
    r->objects = (unsigned)s->n_objects;
    r->total_us = zhi_now_us() - t0;
    zhi_stats_scan_done(e->stats, r);
    /* The decoded parts are done with; an idle worker should not hold the
     * last big attachment until its next scan. */
    zhi_arena_release_adopted(&sc->arena);
    /* A large message leaves the heap large (GMime's many small objects):
     * hand the free pages back rather than keep the peak for good. */
    if (len >= ZHI_TRIM_AFTER_BYTES)
        malloc_trim(0);
    s->objects = NULL;
    s->n_objects = s->cap_objects = 0;
    zhi_ruleset_release(s->rules);
    s->rules = NULL;
    return rc;
}

/* ---- stats ----------------------------------------------------------------- */
void zh_engine_stats(zh_engine *e, const char *section, zh_stats_fn fn, void *ud)
{
    struct zhi_stats_view v = {
        .st = e->stats, .cfg = &e->cfg, .rules = zhi_slot_acquire(&e->rules), .store = e->store};
    pthread_mutex_lock(&e->reload_lock);
    v.last_reload_unix_ms = e->last_reload_unix_ms;
    v.last_reload_ok = e->last_reload_ok;
    v.last_reload_errors = e->last_reload_errors;
    v.last_reload_us = e->last_reload_us;
    snprintf(v.last_reload_first_error, sizeof v.last_reload_first_error, "%s",
             e->last_reload_first_error);
    pthread_mutex_unlock(&e->reload_lock);
    zhi_stats_render(&v, section, fn, ud);
    zhi_ruleset_release(v.rules);
}
