/* Counters, Redis INFO style: scans by verdict and status, bytes, time,
 * per-detector calls/hits/errors/time, process memory. Atomics only; no lock. */
#include "zhi.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

struct zhi_stats {
    atomic_ullong scans, objects, total_us, parse_us, unpack_us, detect_us, max_us;
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
        char v_[256];                                                                              \
        snprintf(v_, sizeof v_, __VA_ARGS__);                                                      \
        fn(ud, sec, key, v_);                                                                      \
    } while (0)

void zhi_stats_render(struct zhi_stats *st, const char *section, zh_stats_fn fn, void *ud);

void zhi_stats_render(struct zhi_stats *st, const char *section, zh_stats_fn fn, void *ud)
{
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
        static const char *const verdicts[] = {"unspecified", "clean", "suspicious",
                                               "malicious",   "defer", "tempfail"};
        static const char *const statuses[] = {
            "ok",          "invalid_argument", "resource_exhausted", "deadline_exceeded",
            "unavailable", "internal"};
        unsigned long long n = atomic_load(&st->scans);
        EMIT("scans", "scans", "%llu", n);
        for (int i = 1; i < 6; i++) {
            char key[32];
            snprintf(key, sizeof key, "verdict_%s", verdicts[i]);
            EMIT("scans", key, "%llu", (unsigned long long)atomic_load(&st->by_verdict[i]));
        }
        for (int i = 0; i < 6; i++) {
            char key[40];
            snprintf(key, sizeof key, "status_%s", statuses[i]);
            EMIT("scans", key, "%llu", (unsigned long long)atomic_load(&st->by_status[i]));
        }
        EMIT("scans", "objects", "%llu", (unsigned long long)atomic_load(&st->objects));
        double d = n ? (double)n : 1.0;
        EMIT("scans", "avg_us", "%.1f", (double)atomic_load(&st->total_us) / d);
        EMIT("scans", "avg_parse_us", "%.1f", (double)atomic_load(&st->parse_us) / d);
        EMIT("scans", "avg_unpack_us", "%.1f", (double)atomic_load(&st->unpack_us) / d);
        EMIT("scans", "avg_detect_us", "%.1f", (double)atomic_load(&st->detect_us) / d);
        EMIT("scans", "max_us", "%llu", (unsigned long long)atomic_load(&st->max_us));
    }
}
