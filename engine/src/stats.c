/* Counters, Redis INFO style: scans by verdict and status, bytes, time,
 * per-detector calls/hits/errors/time, process memory; and every section of
 * the Stats call rendered in one place. Atomics only; no lock. */
#include "zhi.h"
#include "store.h"
#include "zerohour/wire.h"

#include <yara.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

/* Scan time histogram bounds (µs), for Prometheus' scan_duration_seconds:
 * from a plain message to a scan that ran into the default time budget. */
static const unsigned long long latency_le_us[] = {1000,    2500,    5000,     10000,   25000,
                                                   50000,   100000,  250000,   500000,  1000000,
                                                   2500000, 5000000, 10000000, 30000000};
#define N_LATENCY (sizeof latency_le_us / sizeof *latency_le_us)

struct zhi_stats {
    atomic_ullong scans, objects, total_us, parse_us, unpack_us, detect_us, max_us;
    atomic_ullong latency[N_LATENCY + 1]; /* per bucket, the last one beyond every bound */
    atomic_ullong by_verdict[8];
    atomic_ullong by_status[8];
    uint64_t started_us;
    size_t n_detectors;
    struct zhi_detector_stats det[];
};

struct zhi_stats *zhi_stats_new(size_t n_detectors)
{
    struct zhi_stats *st = calloc(1, sizeof *st + n_detectors * sizeof st->det[0]);
    if (st) {
        st->n_detectors = n_detectors;
        st->started_us = zhi_now_us();
    }
    return st;
}

void zhi_stats_free(struct zhi_stats *st)
{
    free(st);
}

struct zhi_detector_stats *zhi_stats_detector(struct zhi_stats *st, size_t i)
{
    return &st->det[i];
}

void zhi_stats_scan_done(struct zhi_stats *st, const struct zh_result *r)
{
    atomic_fetch_add(&st->scans, 1);
    atomic_fetch_add(&st->objects, r->objects);
    atomic_fetch_add(&st->total_us, r->total_us);
    atomic_fetch_add(&st->parse_us, r->parse_us);
    atomic_fetch_add(&st->unpack_us, r->unpack_us);
    atomic_fetch_add(&st->detect_us, r->detect_us);
    size_t b = 0;
    while (b < N_LATENCY && r->total_us > latency_le_us[b])
        b++;
    atomic_fetch_add(&st->latency[b], 1);
    unsigned long long prev = atomic_load(&st->max_us);
    while (r->total_us > prev && !atomic_compare_exchange_weak(&st->max_us, &prev, r->total_us))
        ;
    if (r->status == 0 && (unsigned)r->verdict < 8)
        atomic_fetch_add(&st->by_verdict[r->verdict], 1);
    if ((unsigned)r->status < 8)
        atomic_fetch_add(&st->by_status[r->status], 1);
}

/* Resident set size now, in KiB, from /proc/self/statm. */
static long rss_kib(void)
{
    long pages = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &resident) != 2)
            resident = 0;
        fclose(f);
    }
    return resident * (sysconf(_SC_PAGESIZE) / 1024);
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

static void render_rulestats(struct zhi_ruleset *rs, zh_stats_fn fn, void *ud)
{
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
}

void zhi_stats_render(const struct zhi_stats_view *v, const char *section, zh_stats_fn fn, void *ud)
{
    struct zhi_stats *st = v->st;
    bool all = !section || !*section;
    if (all || !strcmp(section, "server")) {
        struct rusage ru;
        getrusage(RUSAGE_SELF, &ru);
        EMIT("server", "version", "%s", ZH_VERSION);
        EMIT("server", "pid", "%d", (int)getpid());
        EMIT("server", "uptime_s", "%llu",
             (unsigned long long)((zhi_now_us() - st->started_us) / 1000000u));
        long rss = rss_kib();
        EMIT("server", "rss_kib", "%ld", rss);
        /* The kernel updates ru_maxrss lazily; the peak is at least now. */
        EMIT("server", "rss_peak_kib", "%ld", ru.ru_maxrss > rss ? ru.ru_maxrss : rss);
        EMIT("server", "cpu_user_s", "%.3f", ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6);
        EMIT("server", "cpu_sys_s", "%.3f", ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6);
    }
    if (all || !strcmp(section, "scans")) {
        unsigned long long n = atomic_load(&st->scans);
        EMIT("scans", "scans", "%llu", n);
        for (int i = 1; i < 6; i++) {
            char key[32];
            snprintf(key, sizeof key, "verdict_%s", zh_verdict_name(i));
            EMIT("scans", key, "%llu", (unsigned long long)atomic_load(&st->by_verdict[i]));
        }
        for (int i = 0; i < 6; i++) { /* the statuses a scan can end with */
            char key[40];
            snprintf(key, sizeof key, "status_%s", zh_status_name(i));
            EMIT("scans", key, "%llu", (unsigned long long)atomic_load(&st->by_status[i]));
        }
        EMIT("scans", "objects", "%llu", (unsigned long long)atomic_load(&st->objects));
        double d = n ? (double)n : 1.0;
        EMIT("scans", "avg_us", "%.1f", (double)atomic_load(&st->total_us) / d);
        EMIT("scans", "avg_parse_us", "%.1f", (double)atomic_load(&st->parse_us) / d);
        EMIT("scans", "avg_unpack_us", "%.1f", (double)atomic_load(&st->unpack_us) / d);
        EMIT("scans", "avg_detect_us", "%.1f", (double)atomic_load(&st->detect_us) / d);
        EMIT("scans", "max_us", "%llu", (unsigned long long)atomic_load(&st->max_us));
        /* Cumulative, as histograms count: scans that took at most N µs. */
        unsigned long long cum = 0;
        for (size_t b = 0; b <= N_LATENCY; b++) {
            char key[40];
            cum += atomic_load(&st->latency[b]);
            if (b < N_LATENCY)
                snprintf(key, sizeof key, "latency_us_le_%llu", latency_le_us[b]);
            else
                snprintf(key, sizeof key, "latency_us_le_inf");
            EMIT("scans", key, "%llu", cum);
        }
        EMIT("scans", "total_us", "%llu", (unsigned long long)atomic_load(&st->total_us));
    }
    if (all || !strcmp(section, "detectors")) {
        for (size_t i = 0; i < ZHI_N_DETECTORS; i++) {
            const struct zhi_detector_stats *ds = &st->det[i];
            unsigned long long calls = atomic_load(&ds->calls);
            unsigned long long us = atomic_load(&ds->time_us);
            EMIT("detectors", zhi_detectors[i]->name,
                 "calls=%llu,hits=%llu,errors=%llu,time_us=%llu,avg_us=%.1f", calls,
                 (unsigned long long)atomic_load(&ds->hits),
                 (unsigned long long)atomic_load(&ds->errors), us,
                 calls ? (double)us / (double)calls : 0.0);
        }
    }
    if (all || !strcmp(section, "rules")) {
        const struct zhi_ruleset *rs = v->rules;
        EMIT("rules", "rules_dir", "%s", v->cfg->rules_dir);
        EMIT("rules", "ruleset_version", "%llu", rs ? (unsigned long long)rs->version : 0ULL);
        EMIT("rules", "rule_count", "%u", rs ? rs->rule_count : 0);
        EMIT("rules", "rule_sets_alive", "%llu", zhi_rulesets_alive());
        EMIT("rules", "last_reload_unix_ms", "%lld", (long long)v->last_reload_unix_ms);
        EMIT("rules", "last_reload_result", "%s", v->last_reload_ok ? "ok" : "failed");
        EMIT("rules", "last_reload_errors", "%u", v->last_reload_errors);
        EMIT("rules", "last_reload_first_error", "%s", v->last_reload_first_error);
        EMIT("rules", "last_reload_us", "%llu", (unsigned long long)v->last_reload_us);
    }
    if (all || !strcmp(section, "rulestats"))
        render_rulestats(v->rules, fn, ud);
    if (all || !strcmp(section, "limits")) {
        for (const struct zh_setting *set = zh_settings; set->name; set++) {
            if (strcmp(set->section, "limits") && strcmp(set->section, "scoring"))
                continue;
            EMIT("limits", set->name, "%lld",
                 (long long)*(const int64_t *)((const char *)v->cfg + set->offset));
        }
    }
    if (all || !strcmp(section, "store"))
        zhi_store_stats(v->store, fn, ud);
}
