/* zh-eval: detection quality on a labelled corpus. Reads the manifest that
 * tests/corpus/zh-corpus-gen.py writes (one JSON object per message: path,
 * label, family, envelope), scans every message in order through the engine
 * library (the same code zerohourd runs) and prints a confusion table per
 * label and family plus how often each detector fired. Not a benchmark. */
#include <errno.h>
#include <getopt.h>
#include <json.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zerohour/config.h"
#include "zerohour/engine.h"
#include "zerohour/log.h"

#define MAX_GROUPS 64
#define MAX_DET 32

struct group {
    char name[64];
    unsigned n, by_verdict[6];
    unsigned det[MAX_DET];
};

static struct group groups[MAX_GROUPS];
static size_t n_groups;
static char det_names[MAX_DET][40];
static size_t n_det;

static struct group *group(const char *name)
{
    for (size_t i = 0; i < n_groups; i++)
        if (!strcmp(groups[i].name, name))
            return &groups[i];
    if (n_groups == MAX_GROUPS)
        return &groups[MAX_GROUPS - 1];
    snprintf(groups[n_groups].name, sizeof groups[0].name, "%s", name);
    return &groups[n_groups++];
}

static size_t det_index(const char *name)
{
    for (size_t i = 0; i < n_det; i++)
        if (!strcmp(det_names[i], name))
            return i;
    if (n_det == MAX_DET)
        return MAX_DET - 1;
    snprintf(det_names[n_det], sizeof det_names[0], "%s", name);
    return n_det++;
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    size_t got;
    while (buf && (got = fread(buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) {
            char *g = realloc(buf, cap *= 2);
            if (!g) {
                free(buf);
                buf = NULL;
            }
            buf = g;
        }
    }
    fclose(f);
    *len = n;
    return buf;
}

static const char *jstr(json_object *o, const char *key)
{
    json_object *v;
    return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string)
               ? json_object_get_string(v)
               : NULL;
}

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: zh-eval [--rules DIR] [--verbose] [--show LABEL:VERDICT] CORPUS_DIR\n"
            "\n"
            "Scan every message listed in CORPUS_DIR/manifest.jsonl, in order, with the\n"
            "engine library and the rules in DIR (default: the source tree's rules/), and\n"
            "print, per label and family, how many messages ended CLEAN, SUSPICIOUS,\n"
            "MALICIOUS, DEFER or TEMPFAIL, and which detectors fired.\n"
            "\n"
            "  --show clean:SUSPICIOUS   list the messages of that label and verdict, with hits\n"
            "  --verbose                 list every message\n"
            "\n"
            "Exit status: 0 when every message was scanned, 2 on errors.\n");
}

int main(int argc, char **argv)
{
    const char *rules = NULL, *show = NULL;
    int verbose = 0, opt, rc = 2;
    static const struct option lo[] = {{"rules", required_argument, 0, 'r'},
                                       {"show", required_argument, 0, 's'},
                                       {"verbose", no_argument, 0, 'v'},
                                       {"help", no_argument, 0, 'h'},
                                       {0}};
    while ((opt = getopt_long(argc, argv, "r:s:vh", lo, NULL)) != -1) {
        if (opt == 'r')
            rules = optarg;
        else if (opt == 's')
            show = optarg;
        else if (opt == 'v')
            verbose = 1;
        else {
            usage(opt == 'h' ? stdout : stderr);
            return opt == 'h' ? 0 : 2;
        }
    }
    if (optind + 1 != argc) {
        usage(stderr);
        return 2;
    }
    const char *dir = argv[optind];
    zh_log_set_level(ZH_LOG_WARN);
    struct zh_config cfg;
    zh_config_defaults(&cfg);
    if (rules)
        zh_config_set(&cfg, "rules_dir", rules, NULL, 0);
    zh_engine *e = NULL;
    zh_scanner *sc = NULL;
    struct zh_rules_report rep;
    if (zh_engine_new(&cfg, &e, &rep) != ZH_ERR_OK) {
        for (size_t i = 0; i < rep.n_errors; i++)
            fprintf(stderr, "zh-eval: %s\n", rep.errors[i]);
        zh_rules_report_free(&rep);
        zh_config_free(&cfg);
        return 2;
    }
    zh_rules_report_free(&rep);
    zh_scanner_new(e, &sc);
    char mpath[4096];
    snprintf(mpath, sizeof mpath, "%s/manifest.jsonl", dir);
    FILE *mf = fopen(mpath, "r");
    if (!mf) {
        fprintf(stderr, "zh-eval: %s: %s\n", mpath, strerror(errno));
        goto out;
    }
    char *line = NULL;
    size_t cap = 0;
    unsigned errors = 0, total = 0;
    static const char *const vnames[] = {"?",         "CLEAN", "SUSPICIOUS",
                                         "MALICIOUS", "DEFER", "TEMPFAIL"};
    while (getline(&line, &cap, mf) > 0) {
        json_object *j = json_tokener_parse(line);
        if (!j)
            continue;
        const char *path = jstr(j, "path"), *label = jstr(j, "label"), *family = jstr(j, "family");
        json_object *env = NULL, *rc_arr = NULL;
        json_object_object_get_ex(j, "envelope", &env);
        struct zh_scan_envelope se = {0};
        const char *rcpt[64];
        if (env) {
            se.client_ip = jstr(env, "client_ip");
            se.helo = jstr(env, "helo");
            se.mail_from = jstr(env, "mail_from");
            json_object *ra;
            if (json_object_object_get_ex(env, "received_at", &ra))
                se.received_at = json_object_get_int64(ra);
            if (json_object_object_get_ex(env, "rcpt_to", &rc_arr) &&
                json_object_is_type(rc_arr, json_type_array)) {
                size_t n = json_object_array_length(rc_arr);
                for (size_t i = 0; i < n && i < 64; i++)
                    rcpt[i] = json_object_get_string(json_object_array_get_idx(rc_arr, i));
                se.rcpt_to = rcpt;
                se.n_rcpt = n < 64 ? n : 64;
            }
        }
        char full[4096];
        snprintf(full, sizeof full, "%s/%s", dir, path ? path : "");
        size_t len = 0;
        char *msg = slurp(full, &len);
        const struct zh_result *r = NULL;
        total++;
        if (!msg) {
            fprintf(stderr, "zh-eval: %s: %s\n", full, strerror(errno));
            errors++;
            json_object_put(j);
            continue;
        }
        zh_scanner_scan(sc, (const uint8_t *)msg, len, &se, 0, &r);
        free(msg);
        if (r->status != 0) {
            fprintf(stderr, "zh-eval: %s: status %d: %s\n", path, r->status, r->status_message);
            errors++;
            json_object_put(j);
            continue;
        }
        char gname[80];
        snprintf(gname, sizeof gname, "%s", label ? label : "?");
        struct group *gl = group(gname);
        snprintf(gname, sizeof gname, "  %s", family ? family : "(none)");
        struct group *gf = label && strcmp(label, "clean") ? group(gname) : NULL;
        unsigned v = (unsigned)r->verdict < 6 ? (unsigned)r->verdict : 0;
        gl->n++;
        gl->by_verdict[v]++;
        if (gf) {
            gf->n++;
            gf->by_verdict[v]++;
        }
        bool fired[MAX_DET] = {0};
        for (size_t i = 0; i < r->n_hits; i++)
            if (r->hits[i].score > 0)
                fired[det_index(r->hits[i].detector)] = true;
        for (size_t d = 0; d < MAX_DET; d++)
            if (fired[d]) {
                gl->det[d]++;
                if (gf)
                    gf->det[d]++;
            }
        char key[64];
        snprintf(key, sizeof key, "%s:%s", label ? label : "?", vnames[v]);
        if (verbose || (show && !strcasecmp(show, key))) {
            printf("%s %s %s score %d:", path, label ? label : "?", vnames[v], r->score);
            for (size_t i = 0; i < r->n_hits; i++)
                printf(" %s/%s(%d)", r->hits[i].detector, r->hits[i].rule, r->hits[i].score);
            printf("\n");
        }
        json_object_put(j);
    }
    free(line);
    fclose(mf);
    printf("%-22s %6s %8s %11s %10s %7s %9s\n", "label / family", "n", "CLEAN", "SUSPICIOUS",
           "MALICIOUS", "DEFER", "TEMPFAIL");
    for (size_t i = 0; i < n_groups; i++) {
        struct group *g = &groups[i];
        printf("%-22s %6u %8u %11u %10u %7u %9u\n", g->name, g->n, g->by_verdict[1],
               g->by_verdict[2], g->by_verdict[3], g->by_verdict[4], g->by_verdict[5]);
    }
    printf("\ndetectors firing (messages with a scoring hit):\n%-22s", "label / family");
    for (size_t d = 0; d < n_det; d++)
        printf(" %*s", (int)strlen(det_names[d]) > 6 ? (int)strlen(det_names[d]) : 6, det_names[d]);
    printf("\n");
    for (size_t i = 0; i < n_groups; i++) {
        printf("%-22s", groups[i].name);
        for (size_t d = 0; d < n_det; d++)
            printf(" %*u", (int)strlen(det_names[d]) > 6 ? (int)strlen(det_names[d]) : 6,
                   groups[i].det[d]);
        printf("\n");
    }
    printf("\n%u messages, %u errors\n", total, errors);
    rc = errors ? 2 : 0;
out:
    zh_scanner_free(sc);
    zh_engine_free(e);
    zh_config_free(&cfg);
    return rc;
}
