/* Stats entries → Prometheus text (zerohour/prometheus.h). Samples are
 * collected first and written family by family, because the Stats order
 * (one detector line carries four counters) interleaves families and the
 * format wants each family's samples together under its HELP and TYPE. */
#include "zerohour/prometheus.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum family {
    F_BUILD,
    F_UPTIME,
    F_RSS,
    F_RSS_PEAK,
    F_CPU,
    F_SCANS,
    F_SCAN_STATUS,
    F_OBJECTS,
    F_DURATION,
    F_DURATION_MAX,
    F_DET_CALLS,
    F_DET_HITS,
    F_DET_ERRORS,
    F_DET_SECONDS,
    F_RULESET_VERSION,
    F_RULES,
    F_RULESETS_ALIVE,
    F_RELOAD_OK,
    F_RELOAD_TIME,
    F_RELOAD_ERRORS,
    F_OUTBREAKS_ACTIVE,
    F_WORKERS,
    F_IN_FLIGHT,
    F_REQUESTS,
    N_FAMILIES
};

static const struct {
    const char *name, *type, *help;
} families[N_FAMILIES] = {
    [F_BUILD] = {"zerohour_build_info", "gauge", "Version of zerohourd; always 1."},
    [F_UPTIME] = {"zerohour_uptime_seconds", "gauge", "Seconds since the engine started."},
    [F_RSS] = {"zerohour_resident_memory_bytes", "gauge", "Resident memory of the engine."},
    [F_RSS_PEAK] = {"zerohour_resident_memory_peak_bytes", "gauge",
                    "Largest resident memory of the engine so far."},
    [F_CPU] = {"zerohour_cpu_seconds_total", "counter", "CPU time of the engine by mode."},
    [F_SCANS] = {"zerohour_scans_total", "counter", "Scans answered, by verdict."},
    [F_SCAN_STATUS] = {"zerohour_scan_status_total", "counter",
                       "Scans by the status of the call (ok, deadline_exceeded...)."},
    [F_OBJECTS] = {"zerohour_scan_objects_total", "counter",
                   "Scan objects (parts, archive members) examined."},
    [F_DURATION] = {"zerohour_scan_duration_seconds", "histogram", "Time one scan took."},
    [F_DURATION_MAX] = {"zerohour_scan_duration_max_seconds", "gauge",
                        "Longest scan since the engine started."},
    [F_DET_CALLS] = {"zerohour_detector_calls_total", "counter", "Calls of each detector."},
    [F_DET_HITS] = {"zerohour_detector_hits_total", "counter", "Hits reported by each detector."},
    [F_DET_ERRORS] = {"zerohour_detector_errors_total", "counter", "Errors of each detector."},
    [F_DET_SECONDS] = {"zerohour_detector_seconds_total", "counter",
                       "Time spent in each detector."},
    [F_RULESET_VERSION] = {"zerohour_ruleset_version", "gauge",
                           "Version of the rule set serving scans."},
    [F_RULES] = {"zerohour_rules", "gauge", "YARA rules in the serving rule set."},
    [F_RULESETS_ALIVE] = {"zerohour_rulesets_alive", "gauge",
                          "Rule sets in memory (old ones live until their last scan ends)."},
    [F_RELOAD_OK] = {"zerohour_last_reload_success", "gauge",
                     "1 if the last rules reload compiled, 0 if it failed."},
    [F_RELOAD_TIME] = {"zerohour_last_reload_timestamp_seconds", "gauge",
                       "Unix time of the last rules reload."},
    [F_RELOAD_ERRORS] = {"zerohour_last_reload_errors", "gauge",
                         "Errors reported by the last rules reload."},
    [F_OUTBREAKS_ACTIVE] = {"zerohour_outbreaks_active", "gauge",
                            "Fingerprints currently judged an outbreak."},
    [F_WORKERS] = {"zerohour_workers", "gauge", "Scan worker threads."},
    [F_IN_FLIGHT] = {"zerohour_requests_in_flight", "gauge", "Requests being answered now."},
    [F_REQUESTS] = {"zerohour_requests_total", "counter", "Calls answered, by method and status."},
};

struct sample {
    enum family f;
    const char *suffix; /* "_bucket", "_sum", "_count" or "" */
    char labels[160];   /* written as {labels}, "" for none */
    double v;
};

struct zh_prom {
    struct sample *s;
    size_t n, cap;
    int oom;
};

zh_prom *zh_prom_new(void)
{
    return calloc(1, sizeof(zh_prom));
}

void zh_prom_free(zh_prom *p)
{
    if (p) {
        free(p->s);
        free(p);
    }
}

/* A label value with \, " and newline escaped, as the format wants. */
static void escape(char *out, size_t n, const char *in)
{
    size_t k = 0;
    for (; *in && k + 3 < n; in++) {
        if (*in == '\\' || *in == '"' || *in == '\n') {
            out[k++] = '\\';
            out[k++] = *in == '\n' ? 'n' : *in;
        } else {
            out[k++] = *in;
        }
    }
    out[k] = 0;
}

static void add(zh_prom *p, enum family f, const char *suffix, const char *lname,
                const char *lvalue, const char *lname2, const char *lvalue2, double v)
{
    if (p->oom)
        return;
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 64;
        struct sample *g = realloc(p->s, cap * sizeof *g);
        if (!g) {
            p->oom = 1;
            return;
        }
        p->s = g;
        p->cap = cap;
    }
    struct sample *s = &p->s[p->n++];
    s->f = f;
    s->suffix = suffix;
    s->v = v;
    s->labels[0] = 0;
    if (lname) {
        char e1[64], e2[64];
        escape(e1, sizeof e1, lvalue);
        if (lname2) {
            escape(e2, sizeof e2, lvalue2);
            snprintf(s->labels, sizeof s->labels, "%s=\"%s\",%s=\"%s\"", lname, e1, lname2, e2);
        } else {
            snprintf(s->labels, sizeof s->labels, "%s=\"%s\"", lname, e1);
        }
    }
}

static int number(const char *text, double *v)
{
    char *end;
    *v = strtod(text, &end);
    return end != text && !*end;
}

static void entry_server(zh_prom *p, const char *key, const char *value, double v, int num)
{
    if (!strcmp(key, "version"))
        add(p, F_BUILD, "", "version", value, NULL, NULL, 1);
    else if (!num)
        return;
    else if (!strcmp(key, "uptime_s"))
        add(p, F_UPTIME, "", NULL, NULL, NULL, NULL, v);
    else if (!strcmp(key, "rss_kib"))
        add(p, F_RSS, "", NULL, NULL, NULL, NULL, v * 1024);
    else if (!strcmp(key, "rss_peak_kib"))
        add(p, F_RSS_PEAK, "", NULL, NULL, NULL, NULL, v * 1024);
    else if (!strcmp(key, "cpu_user_s"))
        add(p, F_CPU, "", "mode", "user", NULL, NULL, v);
    else if (!strcmp(key, "cpu_sys_s"))
        add(p, F_CPU, "", "mode", "system", NULL, NULL, v);
}

static void entry_scans(zh_prom *p, const char *key, double v)
{
    if (!strncmp(key, "verdict_", 8)) {
        add(p, F_SCANS, "", "verdict", key + 8, NULL, NULL, v);
    } else if (!strncmp(key, "status_", 7)) {
        add(p, F_SCAN_STATUS, "", "status", key + 7, NULL, NULL, v);
    } else if (!strcmp(key, "objects")) {
        add(p, F_OBJECTS, "", NULL, NULL, NULL, NULL, v);
    } else if (!strcmp(key, "max_us")) {
        add(p, F_DURATION_MAX, "", NULL, NULL, NULL, NULL, v / 1e6);
    } else if (!strcmp(key, "total_us")) {
        add(p, F_DURATION, "_sum", NULL, NULL, NULL, NULL, v / 1e6);
    } else if (!strcmp(key, "latency_us_le_inf")) {
        add(p, F_DURATION, "_bucket", "le", "+Inf", NULL, NULL, v);
        add(p, F_DURATION, "_count", NULL, NULL, NULL, NULL, v);
    } else if (!strncmp(key, "latency_us_le_", 14)) {
        double us;
        char le[32];
        if (!number(key + 14, &us))
            return;
        snprintf(le, sizeof le, "%g", us / 1e6);
        add(p, F_DURATION, "_bucket", "le", le, NULL, NULL, v);
    }
}

static void entry_detector(zh_prom *p, const char *name, const char *value)
{
    unsigned long long calls, hits, errors, us;
    if (sscanf(value, "calls=%llu,hits=%llu,errors=%llu,time_us=%llu", &calls, &hits, &errors,
               &us) != 4)
        return;
    add(p, F_DET_CALLS, "", "detector", name, NULL, NULL, (double)calls);
    add(p, F_DET_HITS, "", "detector", name, NULL, NULL, (double)hits);
    add(p, F_DET_ERRORS, "", "detector", name, NULL, NULL, (double)errors);
    add(p, F_DET_SECONDS, "", "detector", name, NULL, NULL, (double)us / 1e6);
}

static void entry_rules(zh_prom *p, const char *key, const char *value, double v, int num)
{
    if (!strcmp(key, "last_reload_result"))
        add(p, F_RELOAD_OK, "", NULL, NULL, NULL, NULL, !strcmp(value, "ok"));
    else if (!num)
        return;
    else if (!strcmp(key, "ruleset_version"))
        add(p, F_RULESET_VERSION, "", NULL, NULL, NULL, NULL, v);
    else if (!strcmp(key, "rule_count"))
        add(p, F_RULES, "", NULL, NULL, NULL, NULL, v);
    else if (!strcmp(key, "rule_sets_alive"))
        add(p, F_RULESETS_ALIVE, "", NULL, NULL, NULL, NULL, v);
    else if (!strcmp(key, "last_reload_unix_ms"))
        add(p, F_RELOAD_TIME, "", NULL, NULL, NULL, NULL, v / 1000);
    else if (!strcmp(key, "last_reload_errors"))
        add(p, F_RELOAD_ERRORS, "", NULL, NULL, NULL, NULL, v);
}

static void entry_requests(zh_prom *p, const char *key, double v)
{
    if (!strcmp(key, "workers")) {
        add(p, F_WORKERS, "", NULL, NULL, NULL, NULL, v);
    } else if (!strcmp(key, "in_flight")) {
        add(p, F_IN_FLIGHT, "", NULL, NULL, NULL, NULL, v);
    } else {
        /* METHOD_status: method names have no '_', statuses may. */
        const char *us = strchr(key, '_');
        char method[64];
        if (!us || (size_t)(us - key) >= sizeof method)
            return;
        memcpy(method, key, (size_t)(us - key));
        method[us - key] = 0;
        add(p, F_REQUESTS, "", "method", method, "status", us + 1, v);
    }
}

void zh_prom_entry(void *ud, const char *section, const char *key, const char *value)
{
    zh_prom *p = ud;
    double v = 0;
    int num = number(value, &v);
    if (!strcmp(section, "server"))
        entry_server(p, key, value, v, num);
    else if (!strcmp(section, "scans") && num)
        entry_scans(p, key, v);
    else if (!strcmp(section, "detectors"))
        entry_detector(p, key, value);
    else if (!strcmp(section, "rules"))
        entry_rules(p, key, value, v, num);
    else if (!strcmp(section, "requests") && num)
        entry_requests(p, key, v);
    else if (!strcmp(section, "outbreaks") && !strcmp(key, "active") && num)
        add(p, F_OUTBREAKS_ACTIVE, "", NULL, NULL, NULL, NULL, v);
}

char *zh_prom_text(zh_prom *p, size_t *len)
{
    char *buf = NULL;
    size_t n = 0;
    if (p->oom)
        return NULL;
    FILE *f = open_memstream(&buf, &n);
    if (!f)
        return NULL;
    for (int fam = 0; fam < N_FAMILIES; fam++) {
        int any = 0;
        for (size_t i = 0; i < p->n; i++) {
            const struct sample *s = &p->s[i];
            if (s->f != (enum family)fam)
                continue;
            if (!any++)
                fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", families[fam].name, families[fam].help,
                        families[fam].name, families[fam].type);
            fprintf(f, "%s%s%s%s%s %.15g\n", families[fam].name, s->suffix, *s->labels ? "{" : "",
                    s->labels, *s->labels ? "}" : "", s->v);
        }
    }
    if (fclose(f) != 0) {
        free(buf);
        return NULL;
    }
    *len = n;
    return buf;
}
