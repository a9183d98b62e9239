/* `zerohour rules check|test|profile`: the rule author's offline tools. They link the
 * engine's scanning library, so a rules directory is compiled with the
 * engine's own externals and messages go through the same MIME and archive
 * flattening as in zerohourd. No engine needs to run. */
#include "rules.h"

#include <errno.h>
#include <json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zerohour/config.h"
#include "zerohour/engine.h"
#include "zerohour/log.h"

static void print_report(const struct zh_rules_report *rep, FILE *out)
{
    for (size_t i = 0; i < rep->n_errors; i++)
        fprintf(out, "%s\n", rep->errors[i]);
    for (size_t i = 0; i < rep->n_warnings; i++)
        fprintf(out, "%s\n", rep->warnings[i]);
}

static json_object *strings(char **v, size_t n)
{
    json_object *a = json_object_new_array();
    for (size_t i = 0; i < n; i++)
        json_object_array_add(a, json_object_new_string(v[i]));
    return a;
}

int zh_cli_rules_check(const char *dir, int json)
{
    struct zh_rules_report rep;
    zh_log_set_level(ZH_LOG_ERROR);
    zh_err rc = zh_rules_check(dir, &rep);
    if (json) {
        json_object *j = json_object_new_object();
        json_object_object_add(j, "dir", json_object_new_string(dir));
        json_object_object_add(j, "ok", json_object_new_boolean(rc == ZH_ERR_OK));
        json_object_object_add(j, "rule_count", json_object_new_int((int)rep.rule_count));
        json_object_object_add(j, "errors", strings(rep.errors, rep.n_errors));
        json_object_object_add(j, "warnings", strings(rep.warnings, rep.n_warnings));
        puts(json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN));
        json_object_put(j);
    } else {
        print_report(&rep, rc == ZH_ERR_OK ? stdout : stderr);
        if (rc == ZH_ERR_OK)
            printf("%s: ok, %u rules%s\n", dir, rep.rule_count,
                   rep.n_warnings ? " (with warnings)" : "");
        else
            fprintf(stderr, "%s: %zu error(s); the rule set would not load\n", dir, rep.n_errors);
    }
    zh_rules_report_free(&rep);
    return rc == ZH_ERR_OK ? 0 : 1;
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
    if (!f)
        return NULL;
    size_t cap = 1 << 16, n = 0, got;
    char *buf = malloc(cap);
    while (buf && (got = fread(buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) {
            char *g = realloc(buf, cap *= 2);
            if (!g)
                free(buf);
            buf = g;
        }
    }
    if (f != stdin)
        fclose(f);
    *len = n;
    return buf;
}

int zh_cli_rules_test(const char *dir, char **messages, size_t n, int json)
{
    struct zh_config cfg;
    zh_engine *e = NULL;
    zh_scanner *sc = NULL;
    struct zh_rules_report rep;
    int status = 0;
    zh_log_set_level(ZH_LOG_ERROR);
    zh_config_defaults(&cfg);
    zh_config_set(&cfg, "rules_dir", dir, NULL, 0);
    cfg.rule_profile_interval_ms = 0; /* a one-off test has no use for timing */
    if (zh_engine_new(&cfg, &e, &rep) != ZH_ERR_OK) {
        print_report(&rep, stderr);
        fprintf(stderr, "%s: the rule set does not compile\n", dir);
        zh_rules_report_free(&rep);
        zh_config_free(&cfg);
        return 2;
    }
    zh_rules_report_free(&rep);
    if (zh_scanner_new(e, &sc) != ZH_ERR_OK) {
        status = 2;
        goto out;
    }
    zh_scanner_set_explain(sc, 1);
    for (size_t i = 0; i < n; i++) {
        size_t len = 0;
        char *msg = slurp(messages[i], &len);
        if (!msg) {
            fprintf(stderr, "%s: %s\n", messages[i], strerror(errno));
            status = 2;
            continue;
        }
        const struct zh_result *r;
        zh_scanner_scan(sc, (const uint8_t *)msg, len, NULL, 0, &r);
        free(msg);
        if (r->status != 0) {
            fprintf(stderr, "%s: %s\n", messages[i], r->status_message);
            status = 2;
            continue;
        }
        static const char *const v[] = {"?",         "CLEAN", "SUSPICIOUS",
                                        "MALICIOUS", "DEFER", "TEMPFAIL"};
        const char *verdict = (unsigned)r->verdict < 6 ? v[r->verdict] : "?";
        if (json) {
            json_object *j = json_object_new_object(), *hits = json_object_new_array();
            json_object_object_add(j, "path", json_object_new_string(messages[i]));
            json_object_object_add(j, "verdict", json_object_new_string(verdict));
            json_object_object_add(j, "score", json_object_new_int(r->score));
            for (size_t k = 0; k < r->n_hits; k++) {
                json_object *h = json_object_new_object();
                json_object_object_add(h, "detector", json_object_new_string(r->hits[k].detector));
                json_object_object_add(h, "rule", json_object_new_string(r->hits[k].rule));
                json_object_object_add(h, "object", json_object_new_string(r->hits[k].object));
                json_object_object_add(h, "score", json_object_new_int(r->hits[k].score));
                json_object_object_add(h, "detail", json_object_new_string(r->hits[k].detail));
                json_object_array_add(hits, h);
            }
            json_object_object_add(j, "hits", hits);
            puts(json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN));
            json_object_put(j);
        } else {
            printf("%s: %s %d\n", messages[i], verdict, r->score);
            for (size_t k = 0; k < r->n_hits; k++)
                printf("  %-18s %-32s %-28s %4d  %s\n", r->hits[k].detector, r->hits[k].rule,
                       *r->hits[k].object ? r->hits[k].object : "-", r->hits[k].score,
                       r->hits[k].detail);
        }
        if (status == 0 && r->verdict != 1)
            status = 1;
    }
out:
    zh_scanner_free(sc);
    zh_engine_free(e);
    zh_config_free(&cfg);
    return status;
}

/* The rules' costs, slowest first. */
struct costs {
    struct zh_rule_cost *v;
    size_t n, cap;
    bool oom;
};

static void keep_cost(void *ud, const struct zh_rule_cost *c)
{
    struct costs *k = ud;
    if (k->n == k->cap) {
        size_t cap = k->cap ? 2 * k->cap : 64;
        struct zh_rule_cost *g = realloc(k->v, cap * sizeof *g);
        if (!g) {
            k->oom = true;
            return;
        }
        k->v = g;
        k->cap = cap;
    }
    char *name = strdup(c->rule);
    if (!name) {
        k->oom = true;
        return;
    }
    k->v[k->n] = *c;
    k->v[k->n++].rule = name;
}

static int slowest_first(const void *a, const void *b)
{
    const struct zh_rule_cost *x = a, *y = b;
    if (x->us != y->us)
        return x->us < y->us ? 1 : -1;
    return strcmp(x->rule, y->rule);
}

#define PROFILE_PASSES 5 /* offline there is time to be more precise than the engine's 3 */

/* Compile dir, scan each message as zerohourd would with a rule meter attached
 * to the scanner, then time every rule on all their objects. */
int zh_cli_rules_profile(const char *dir, char **messages, size_t n, int json)
{
    struct zh_config cfg;
    struct zh_rules_report rep = {0};
    zh_engine *e = NULL;
    zh_scanner *sc = NULL;
    zh_rule_meter *meter = NULL;
    struct costs costs = {0};
    size_t skipped = 0;
    int status = 2;

    zh_log_set_level(ZH_LOG_ERROR);
    if (zh_config_defaults(&cfg) != ZH_ERR_OK)
        return 2;
    zh_config_set(&cfg, "engine.rules_dir", dir, NULL, 0);
    cfg.rule_profile_interval_ms = 0; /* this command is the profiler */
    cfg.outbreak_enabled = 0;
    if (zh_engine_new(&cfg, &e, &rep) != ZH_ERR_OK) {
        print_report(&rep, stderr);
        fprintf(stderr, "%s: %s\n", dir,
                rep.n_errors ? "the rule set does not compile" : "the engine could not start");
        goto out;
    }
    if (zh_scanner_new(e, &sc) != ZH_ERR_OK || zh_rule_meter_new(e, &meter) != ZH_ERR_OK) {
        fprintf(stderr, "%s: out of memory\n", dir);
        goto out;
    }
    zh_scanner_set_meter(sc, meter);
    for (size_t i = 0; i < n; i++) {
        size_t len;
        char *msg = slurp(messages[i], &len);
        if (!msg) {
            fprintf(stderr, "%s: %s\n", messages[i], strerror(errno));
            goto out;
        }
        const struct zh_result *r;
        zh_scanner_scan(sc, (const uint8_t *)msg, len, NULL, 0, &r);
        free(msg);
        skipped += r->status != 0;
    }
    if (zh_rule_meter_run(meter, PROFILE_PASSES, keep_cost, &costs) != ZH_ERR_OK || costs.oom) {
        fprintf(stderr, "%s: out of memory while profiling\n", dir);
        goto out;
    }
    qsort(costs.v, costs.n, sizeof *costs.v, slowest_first);
    size_t objects = zh_rule_meter_objects(meter);
    uint64_t bytes = zh_rule_meter_bytes(meter);
    if (json) {
        json_object *j = json_object_new_object(), *rules = json_object_new_array();
        json_object_object_add(j, "dir", json_object_new_string(dir));
        json_object_object_add(j, "messages", json_object_new_int64((int64_t)n));
        json_object_object_add(j, "skipped", json_object_new_int64((int64_t)skipped));
        json_object_object_add(j, "objects", json_object_new_int64((int64_t)objects));
        json_object_object_add(j, "bytes", json_object_new_int64((int64_t)bytes));
        for (size_t i = 0; i < costs.n; i++) {
            const struct zh_rule_cost *c = &costs.v[i];
            json_object *r = json_object_new_object();
            json_object_object_add(r, "rule", json_object_new_string(c->rule));
            json_object_object_add(r, "matches", json_object_new_int64((int64_t)c->matches));
            json_object_object_add(r, "us", json_object_new_double(c->us));
            json_object_object_add(r, "us_per_mib", json_object_new_double(c->us_per_mib));
            json_object_array_add(rules, r);
        }
        json_object_object_add(j, "rules", rules);
        puts(json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN));
        json_object_put(j);
    } else {
        printf("%-40s %10s %12s %8s\n", "rule", "us", "us/MiB", "matches");
        for (size_t i = 0; i < costs.n; i++) {
            const struct zh_rule_cost *c = &costs.v[i];
            printf("%-40s %10.1f %12.1f %8llu\n", c->rule, c->us, c->us_per_mib, c->matches);
        }
        printf("%zu message(s)%s, %zu object(s), %.1f KiB; us: CPU a rule adds to one "
               "pass over them (fastest of %d)\n",
               n - skipped, skipped ? " timed (some skipped: not mail)" : "", objects,
               (double)bytes / 1024.0, PROFILE_PASSES);
    }
    status = skipped ? 1 : 0;
out:
    for (size_t i = 0; i < costs.n; i++)
        free((char *)costs.v[i].rule);
    free(costs.v);
    zh_rule_meter_free(meter);
    zh_scanner_free(sc);
    zh_engine_free(e);
    zh_rules_report_free(&rep);
    zh_config_free(&cfg);
    return status;
}
