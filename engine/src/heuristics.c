/* rules/heuristics.ini: extension classes, scores, combinations and sender
 * parameters. Parsed with inih when a rule set compiles; nothing here is used
 * on the scan path except the lookups at the end. */
#include "heuristics.h"

#include <errno.h>
#include <ini.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "zhi.h"

static const char *const score_names[] = {
#define NAME(name, help) #name,
    ZHI_SCORES(NAME)
#undef NAME
};

static const char *const class_names[ZHI_C__COUNT] = {"executable", "active",  "document",
                                                      "media",      "archive", "disguise"};

struct load {
    struct zhi_heuristics *h;
    bool seen[ZHI_S__COUNT];
    char err[256];
};

static int set_err(struct load *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int set_err(struct load *l, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(l->err, sizeof l->err, fmt, ap);
    va_end(ap);
    return 0;
}

static bool parse_int(const char *v, int lo, int hi, int *out)
{
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (errno || end == v || *end || x < lo || x > hi)
        return false;
    *out = (int)x;
    return true;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int add_class(struct load *l, int cls, const char *value)
{
    char *copy = strdup(value), *save = NULL;
    if (!copy)
        return set_err(l, "out of memory");
    for (char *tok = strtok_r(copy, " \t,", &save); tok; tok = strtok_r(NULL, " \t,", &save)) {
        if (*tok == '.')
            tok++;
        for (char *p = tok; *p; p++)
            if (*p >= 'A' && *p <= 'Z')
                *p = (char)(*p + 32);
        char **g = realloc(l->h->ext[cls], (l->h->n_ext[cls] + 1) * sizeof *g);
        if (!g || !(g[l->h->n_ext[cls]] = strdup(tok))) {
            if (g)
                l->h->ext[cls] = g;
            free(copy);
            return set_err(l, "out of memory");
        }
        l->h->ext[cls] = g;
        l->h->n_ext[cls]++;
    }
    free(copy);
    return 1;
}

static int on_key(void *ud, const char *section, const char *name, const char *value)
{
    struct load *l = ud;
    struct zhi_heuristics *h = l->h;
    if (!strcmp(section, "classes")) {
        for (int c = 0; c < ZHI_C__COUNT; c++)
            if (!strcmp(name, class_names[c]))
                return add_class(l, c, value);
        return set_err(
            l, "unknown class \"%s\" (executable, active, document, media, archive, disguise)",
            name);
    }
    if (!strcmp(section, "scores")) {
        for (int i = 0; i < ZHI_S__COUNT; i++)
            if (!strcmp(name, score_names[i])) {
                if (!parse_int(value, -1000, 1000, &h->scores[i]))
                    return set_err(l, "score %s: \"%s\" is not an integer in [-1000, 1000]", name,
                                   value);
                l->seen[i] = true;
                return 1;
            }
        return set_err(l, "unknown score \"%s\"", name);
    }
    if (!strcmp(section, "combinations")) {
        const char *plus = strchr(name, '+');
        int bonus;
        if (!plus || plus == name || !plus[1])
            return set_err(l, "combination \"%s\" must be DETECTOR+DETECTOR", name);
        if (!parse_int(value, -1000, 1000, &bonus))
            return set_err(l, "combination %s: \"%s\" is not an integer", name, value);
        char a[64];
        snprintf(a, sizeof a, "%.*s", (int)(plus - name), name);
        enum zhi_source da = zhi_source_by_name(a), db = zhi_source_by_name(plus + 1);
        if ((size_t)da >= ZHI_N_DETECTORS || (size_t)db >= ZHI_N_DETECTORS)
            return set_err(l, "combination %s names an unknown detector", name);
        struct zhi_combo *g = realloc(h->combos, (h->n_combos + 1) * sizeof *g);
        if (!g)
            return set_err(l, "out of memory");
        h->combos = g;
        g[h->n_combos++] = (struct zhi_combo){da, db, bonus};
        return 1;
    }
    if (!strcmp(section, "caps")) {
        int cap;
        if (!parse_int(value, 0, 100000, &cap))
            return set_err(l, "cap %s: \"%s\" is not a non-negative integer", name, value);
        enum zhi_source d = zhi_source_by_name(name);
        if ((size_t)d >= ZHI_N_DETECTORS)
            return set_err(l, "[caps] %s is not a detector", name);
        h->cap[d] = cap;
        return 1;
    }
    if (!strcmp(section, "sender")) {
        int *field = !strcmp(name, "many_from_window_s")    ? &h->many_from_window_s
                     : !strcmp(name, "many_from_threshold") ? &h->many_from_threshold
                     : !strcmp(name, "table_slots")         ? &h->table_slots
                                                            : NULL;
        if (!field)
            return set_err(l, "unknown sender setting \"%s\"", name);
        int max = field == &h->many_from_threshold ? ZHI_SENDER_FROM_SLOTS - 1 : 10000000;
        if (!parse_int(value, 1, max, field))
            return set_err(l, "%s: \"%s\" is not an integer in [1, %d]", name, value, max);
        return 1;
    }
    return set_err(l, "unknown section [%s]", section);
}

void zhi_heuristics_free(struct zhi_heuristics *h)
{
    if (!h)
        return;
    for (int c = 0; c < ZHI_C__COUNT; c++) {
        for (size_t i = 0; i < h->n_ext[c]; i++)
            free(h->ext[c][i]);
        free(h->ext[c]);
    }
    free(h->combos);
    free(h);
}

zh_err zhi_heuristics_load(const char *dir, struct zhi_heuristics **out,
                           struct zh_rules_report *rep)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/heuristics.ini", dir);
    *out = NULL;
    if (access(path, F_OK) != 0 && errno == ENOENT) {
        /* A directory of YARA rules alone is a valid rule set. */
        zhi_report_add(&rep->warnings, &rep->n_warnings,
                       "heuristics.ini: warning: not found; behavioural heuristics are off");
        return ZH_ERR_OK;
    }
    struct load l = {.h = calloc(1, sizeof *l.h)};
    if (!l.h)
        return ZH_ERR_FATAL;
    l.h->many_from_window_s = 600;
    l.h->many_from_threshold = 10;
    l.h->table_slots = 65536;
    for (size_t d = 0; d < ZHI_N_DETECTORS; d++)
        l.h->cap[d] = -1;
    FILE *f = fopen(path, "r");
    if (!f) {
        zhi_report_add(&rep->errors, &rep->n_errors, "heuristics.ini: %s", strerror(errno));
        zhi_heuristics_free(l.h);
        return ZH_ERR_INVALID;
    }
    int line = ini_parse_file(f, on_key, &l);
    fclose(f);
    if (line != 0) {
        zhi_report_add(&rep->errors, &rep->n_errors, "heuristics.ini:%d: error: %s", line,
                       l.err[0] ? l.err : "syntax error");
        zhi_heuristics_free(l.h);
        return ZH_ERR_INVALID;
    }
    for (int i = 0; i < ZHI_S__COUNT; i++)
        if (!l.seen[i])
            zhi_report_add(&rep->errors, &rep->n_errors,
                           "heuristics.ini: error: [scores] %s is missing", score_names[i]);
    if (rep->n_errors) {
        zhi_heuristics_free(l.h);
        return ZH_ERR_INVALID;
    }
    for (int c = 0; c < ZHI_C__COUNT; c++)
        qsort(l.h->ext[c], l.h->n_ext[c], sizeof(char *), cmp_str);
    *out = l.h;
    return ZH_ERR_OK;
}

bool zhi_ext_in(const struct zhi_heuristics *h, enum zhi_ext_class c, const char *ext)
{
    if (!h || !ext || !*ext || (unsigned)c >= ZHI_C__COUNT)
        return false;
    return bsearch(&ext, h->ext[c], h->n_ext[c], sizeof(char *), cmp_str) != NULL;
}
