/* zh-eval: detection quality on a labelled corpus. Reads the manifest that
 * tests/corpus/zh-corpus-gen.py writes (one JSON object per message: path,
 * label, family, envelope), scans every message in order through the engine
 * library (the same code zerohourd runs) and prints a confusion table per
 * label and family plus how often each detector fired, then the detection
 * targets of issue 12 (every malicious message flagged, >= 90% MALICIOUS, no
 * clean message MALICIOUS, <= 1% of clean messages SUSPICIOUS). Any label
 * other than "clean" ("worm", "malicious") counts as malicious. Not a
 * benchmark. */
#include <errno.h>
#include <getopt.h>
#include <json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zerohour/config.h"
#include "zerohour/engine.h"
#include "zerohour/log.h"

#define MAX_GROUPS 512
#define MAX_DET 32

struct group {
    char name[64];
    char key[200];  /* sorts a label's row, then its families, each followed by its kinds */
    char path[200]; /* label, label/family or label/family/kind (clean: clean/kind) */
    unsigned n, by_verdict[6];
    unsigned det[MAX_DET];
};

static struct group groups[MAX_GROUPS];
static size_t n_groups;
static char det_names[MAX_DET][40];
static size_t n_det;

static struct group *group(const char *name, const char *key, const char *path)
{
    for (size_t i = 0; i < n_groups; i++)
        if (!strcmp(groups[i].key, key))
            return &groups[i];
    if (n_groups == MAX_GROUPS)
        return &groups[MAX_GROUPS - 1];
    snprintf(groups[n_groups].name, sizeof groups[0].name, "%s", name);
    snprintf(groups[n_groups].key, sizeof groups[0].key, "%s", key);
    snprintf(groups[n_groups].path, sizeof groups[0].path, "%s", path);
    return &groups[n_groups++];
}

static int by_key(const void *a, const void *b)
{
    return strcmp(((const struct group *)a)->key, ((const struct group *)b)->key);
}

/* Labels keep the order in which they first appear; what sorts under them
 * is alphabetical. */
static char label_order[16][32];
static size_t n_labels;

static unsigned label_index(const char *label)
{
    for (size_t i = 0; i < n_labels; i++)
        if (!strcmp(label_order[i], label))
            return (unsigned)i;
    if (n_labels == 16)
        return 15;
    snprintf(label_order[n_labels], sizeof label_order[0], "%s", label);
    return (unsigned)n_labels++;
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

/* The targets of issue 12, on mail the detectors were not tuned to. */
#define TARGET_MALICIOUS_SHARE 0.90
#define TARGET_CLEAN_SUSPICIOUS_SHARE 0.01

struct targets {
    unsigned bad, bad_flagged, bad_malicious, bad_defer, clean, clean_suspicious, clean_malicious,
        clean_defer;
};

static bool targets_met(const struct targets *t)
{
    return t->bad_flagged == t->bad && t->bad_malicious >= TARGET_MALICIOUS_SHARE * t->bad &&
           t->clean_malicious == 0 &&
           t->clean_suspicious <= TARGET_CLEAN_SUSPICIOUS_SHARE * t->clean;
}

static double pct(unsigned a, unsigned b)
{
    return b ? 100.0 * a / b : 0.0;
}

static void print_targets(const struct targets *t)
{
    printf("\ntargets (issue 12; DEFER counts as not flagged):\n");
    printf("  malicious flagged (SUSPICIOUS or MALICIOUS): %u/%u (%.1f%%)  goal: all  %s\n",
           t->bad_flagged, t->bad, pct(t->bad_flagged, t->bad),
           t->bad_flagged == t->bad ? "met" : "NOT MET");
    printf("  malicious MALICIOUS:                         %u/%u (%.1f%%)  goal: >= %.0f%%  %s\n",
           t->bad_malicious, t->bad, pct(t->bad_malicious, t->bad), 100 * TARGET_MALICIOUS_SHARE,
           t->bad_malicious >= TARGET_MALICIOUS_SHARE * t->bad ? "met" : "NOT MET");
    printf("  clean MALICIOUS:                             %u/%u (%.1f%%)  goal: 0  %s\n",
           t->clean_malicious, t->clean, pct(t->clean_malicious, t->clean),
           t->clean_malicious == 0 ? "met" : "NOT MET");
    printf("  clean SUSPICIOUS:                            %u/%u (%.1f%%)  goal: <= %.0f%%  %s\n",
           t->clean_suspicious, t->clean, pct(t->clean_suspicious, t->clean),
           100 * TARGET_CLEAN_SUSPICIOUS_SHARE,
           t->clean_suspicious <= TARGET_CLEAN_SUSPICIOUS_SHARE * t->clean ? "met" : "NOT MET");
    printf("  DEFER: malicious %u, clean %u\n", t->bad_defer, t->clean_defer);
}

static void write_json(const char *path, const struct targets *t, unsigned total, unsigned errors)
{
    static const char *const vkeys[] = {"unspecified", "clean", "suspicious",
                                        "malicious",   "defer", "tempfail"};
    json_object *root = json_object_new_object(), *gs = json_object_new_array();
    for (size_t i = 0; i < n_groups; i++) {
        json_object *g = json_object_new_object();
        json_object_object_add(g, "group", json_object_new_string(groups[i].path));
        json_object_object_add(g, "n", json_object_new_int64(groups[i].n));
        for (int v = 1; v < 6; v++)
            json_object_object_add(g, vkeys[v], json_object_new_int64(groups[i].by_verdict[v]));
        json_object_array_add(gs, g);
    }
    json_object_object_add(root, "groups", gs);
    static const struct {
        const char *key;
        size_t off;
    } fields[] = {{"malicious", offsetof(struct targets, bad)},
                  {"malicious_flagged", offsetof(struct targets, bad_flagged)},
                  {"malicious_malicious", offsetof(struct targets, bad_malicious)},
                  {"malicious_defer", offsetof(struct targets, bad_defer)},
                  {"clean", offsetof(struct targets, clean)},
                  {"clean_suspicious", offsetof(struct targets, clean_suspicious)},
                  {"clean_malicious", offsetof(struct targets, clean_malicious)},
                  {"clean_defer", offsetof(struct targets, clean_defer)}};
    json_object *tj = json_object_new_object();
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
        json_object_object_add(
            tj, fields[i].key,
            json_object_new_int64(*(const unsigned *)((const char *)t + fields[i].off)));
    json_object_object_add(tj, "met", json_object_new_boolean(targets_met(t)));
    json_object_object_add(root, "targets", tj);
    json_object_object_add(root, "messages", json_object_new_int64(total));
    json_object_object_add(root, "errors", json_object_new_int64(errors));
    if (json_object_to_file_ext(path, root, JSON_C_TO_STRING_PRETTY) != 0)
        fprintf(stderr, "zh-eval: %s: %s\n", path, json_util_get_last_err());
    json_object_put(root);
}

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: zh-eval [--rules DIR] [--kinds] [--json FILE] [--check] [--verbose]\n"
            "               [--show LABEL:VERDICT] CORPUS_DIR\n"
            "\n"
            "Scan every message listed in CORPUS_DIR/manifest.jsonl, in order, with the\n"
            "engine library and the rules in DIR (default: the source tree's rules/), and\n"
            "print, per label and family, how many messages ended CLEAN, SUSPICIOUS,\n"
            "MALICIOUS, DEFER or TEMPFAIL, and which detectors fired. Then the targets of\n"
            "issue 12: every malicious message (any label but \"clean\") SUSPICIOUS or\n"
            "MALICIOUS, at least 90%% of them MALICIOUS, no clean message MALICIOUS, at most\n"
            "1%% of clean messages SUSPICIOUS (a DEFER counts as not flagged).\n"
            "\n"
            "  --kinds                   also a row per template kind (the manifest's \"kind\"),\n"
            "                            under its label, clean mail included\n"
            "  --json FILE               also write the table and the targets as JSON\n"
            "  --check                   exit 1 unless every target is met\n"
            "  --show clean:SUSPICIOUS   list the messages of that label and verdict, with hits\n"
            "  --verbose                 list every message\n"
            "\n"
            "Exit status: 0 when every message was scanned (and, with --check, the\n"
            "targets are met), 1 --check failed, 2 on errors.\n");
}

int main(int argc, char **argv)
{
    const char *rules = NULL, *show = NULL, *json_out = NULL;
    int verbose = 0, kinds = 0, check = 0, opt, rc = 2;
    struct targets tg = {0};
    static const struct option lo[] = {
        {"rules", required_argument, 0, 'r'}, {"show", required_argument, 0, 's'},
        {"kinds", no_argument, 0, 'k'},       {"json", required_argument, 0, 'j'},
        {"check", no_argument, 0, 'c'},       {"verbose", no_argument, 0, 'v'},
        {"help", no_argument, 0, 'h'},        {0}};
    while ((opt = getopt_long(argc, argv, "r:s:kj:cvh", lo, NULL)) != -1) {
        if (opt == 'r')
            rules = optarg;
        else if (opt == 'k')
            kinds = 1;
        else if (opt == 'j')
            json_out = optarg;
        else if (opt == 'c')
            check = 1;
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
        const char *path = jstr(j, "path"), *label = jstr(j, "label"), *family = jstr(j, "family"),
                   *kind = jstr(j, "kind");
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
        char gname[80], gkey[200];
        const char *lab = label ? label : "?", *fam = family ? family : "(none)";
        unsigned li = label_index(lab);
        snprintf(gname, sizeof gname, "%s", lab);
        snprintf(gkey, sizeof gkey, "%02u", li);
        char gpath[200];
        struct group *gl = group(gname, gkey, lab);
        bool is_clean = label && !strcmp(label, "clean");
        snprintf(gname, sizeof gname, "  %s", fam);
        snprintf(gkey, sizeof gkey, "%02u/%s", li, fam);
        snprintf(gpath, sizeof gpath, "%s/%s", lab, fam);
        struct group *gf = !is_clean ? group(gname, gkey, gpath) : NULL;
        struct group *gk = NULL;
        if (kinds) {
            snprintf(gname, sizeof gname, "%s%s", is_clean ? "  " : "    ", kind ? kind : "(none)");
            snprintf(gkey, sizeof gkey, "%02u/%s/%s", li, is_clean ? "" : fam,
                     kind ? kind : "(none)");
            if (is_clean)
                snprintf(gpath, sizeof gpath, "%s/%s", lab, kind ? kind : "(none)");
            else
                snprintf(gpath, sizeof gpath, "%s/%s/%s", lab, fam, kind ? kind : "(none)");
            gk = group(gname, gkey, gpath);
        }
        unsigned v = (unsigned)r->verdict < 6 ? (unsigned)r->verdict : 0;
        gl->n++;
        gl->by_verdict[v]++;
        if (gf) {
            gf->n++;
            gf->by_verdict[v]++;
        }
        if (gk) {
            gk->n++;
            gk->by_verdict[v]++;
        }
        if (is_clean) {
            tg.clean++;
            tg.clean_suspicious += v == ZH_VERDICT_SUSPICIOUS;
            tg.clean_malicious += v == ZH_VERDICT_MALICIOUS;
            tg.clean_defer += v == ZH_VERDICT_DEFER;
        } else {
            tg.bad++;
            tg.bad_flagged += v == ZH_VERDICT_SUSPICIOUS || v == ZH_VERDICT_MALICIOUS;
            tg.bad_malicious += v == ZH_VERDICT_MALICIOUS;
            tg.bad_defer += v == ZH_VERDICT_DEFER;
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
                if (gk)
                    gk->det[d]++;
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
    qsort(groups, n_groups, sizeof groups[0], by_key);
    int w = 22;
    for (size_t i = 0; i < n_groups; i++)
        if ((int)strlen(groups[i].name) + 1 > w)
            w = (int)strlen(groups[i].name) + 1;
    printf("%-*s %6s %8s %11s %10s %7s %9s\n", w, "label / family", "n", "CLEAN", "SUSPICIOUS",
           "MALICIOUS", "DEFER", "TEMPFAIL");
    for (size_t i = 0; i < n_groups; i++) {
        struct group *g = &groups[i];
        printf("%-*s %6u %8u %11u %10u %7u %9u\n", w, g->name, g->n, g->by_verdict[1],
               g->by_verdict[2], g->by_verdict[3], g->by_verdict[4], g->by_verdict[5]);
    }
    printf("\ndetectors firing (messages with a scoring hit):\n%-*s", w, "label / family");
    for (size_t d = 0; d < n_det; d++)
        printf(" %*s", (int)strlen(det_names[d]) > 6 ? (int)strlen(det_names[d]) : 6, det_names[d]);
    printf("\n");
    for (size_t i = 0; i < n_groups; i++) {
        printf("%-*s", w, groups[i].name);
        for (size_t d = 0; d < n_det; d++)
            printf(" %*u", (int)strlen(det_names[d]) > 6 ? (int)strlen(det_names[d]) : 6,
                   groups[i].det[d]);
        printf("\n");
    }
    print_targets(&tg);
    printf("\n%u messages, %u errors\n", total, errors);
    if (json_out)
        write_json(json_out, &tg, total, errors);
    rc = errors ? 2 : check && !targets_met(&tg) ? 1 : 0;
out:
    zh_scanner_free(sc);
    zh_engine_free(e);
    zh_config_free(&cfg);
    return rc;
}
