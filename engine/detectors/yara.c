/* The yara detector: runs the current rule set over every scan object with
 * the per-object externals set, and turns each matching rule into a hit whose
 * score, family and aliases come from the rule's meta. One YR_SCANNER per
 * worker thread; rule compilation lives in src/rules.c. */
#include "../src/zhi.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yara.h>

struct yara_thread {
    YR_SCANNER *scanner;
    struct zhi_ruleset *rs; /* the set `scanner` was made for; one reference held */
};

struct match_ctx {
    struct zhi_scan *s;
    const struct zhi_object *o;
    zh_err rc;
};

static zh_err yara_thread_init(void *state, void **tstate)
{
    struct yara_thread *t = calloc(1, sizeof *t);
    if (!t)
        return ZH_ERR_FATAL;
    *tstate = t;
    return ZH_ERR_OK;
}

static void yara_thread_fini(void *tstate)
{
    struct yara_thread *t = tstate;
    if (t->scanner)
        yr_scanner_destroy(t->scanner);
    zhi_ruleset_release(t->rs);
    free(t);
}

/* A reload does not reach a thread until its next scan; an idle thread lets
 * go of the old set here instead, so its compiled rules can be freed. */
static void yara_thread_idle(void *tstate, const struct zhi_ruleset *live)
{
    struct yara_thread *t = tstate;
    if (!t->rs || t->rs == live)
        return;
    if (t->scanner)
        yr_scanner_destroy(t->scanner);
    t->scanner = NULL;
    zhi_ruleset_release(t->rs);
    t->rs = NULL;
}

/* Split "Novarg.A, Mimail.R" into at most 16 trimmed names (arena). */
static size_t split_aliases(struct zhi_arena *a, const char *list, const char **out, size_t max)
{
    size_t n = 0;
    while (list && *list && n < max) {
        while (*list == ' ' || *list == ',' || *list == ';')
            list++;
        const char *end = list;
        while (*end && *end != ',' && *end != ';')
            end++;
        const char *e = end;
        while (e > list && e[-1] == ' ')
            e--;
        if (e > list && (out[n] = zhi_arena_memdup(a, list, (size_t)(e - list))))
            n++;
        list = end;
    }
    return n;
}

static int on_yara(YR_SCAN_CONTEXT *ctx, int message, void *data, void *ud)
{
    struct match_ctx *mc = ud;
    if (message != CALLBACK_MSG_RULE_MATCHING)
        return CALLBACK_CONTINUE;
    YR_RULE *rule = data;
    YR_META *meta;
    int score = (int)mc->s->cfg->default_rule_score;
    const char *family = NULL, *aliases = NULL, *desc = NULL;
    yr_rule_metas_foreach(rule, meta)
    {
        if (!strcmp(meta->identifier, "score")) {
            if (meta->type == META_TYPE_INTEGER)
                score = (int)meta->integer;
            else if (meta->type == META_TYPE_STRING)
                score = atoi(meta->string);
        } else if (!strcmp(meta->identifier, "family") && meta->type == META_TYPE_STRING) {
            family = meta->string;
        } else if (!strcmp(meta->identifier, "aliases") && meta->type == META_TYPE_STRING) {
            aliases = meta->string;
        } else if (!strcmp(meta->identifier, "description") && meta->type == META_TYPE_STRING) {
            desc = meta->string;
        }
    }
    /* A rule tagged with a detector's name reports under that detector, so
     * rule authors can feed lure_text (or any detector) with YARA. */
    enum zhi_source detector = ZHI_SRC_yara;
    const char *tag;
    yr_rule_tags_foreach(rule, tag)
    {
        enum zhi_source src = zhi_source_by_name(tag);
        if ((size_t)src < ZHI_N_DETECTORS)
            detector = src;
    }
    const char *al[16];
    size_t n_al = split_aliases(mc->s->arena, aliases, al, 16);
    YR_RULES *rules = mc->s->rules->yr_rules;
    ptrdiff_t idx = rule - rules->rules_table;
    if (idx >= 0 && (size_t)idx < mc->s->rules->rule_count)
        atomic_fetch_add(&mc->s->rules->rule_stats[idx].matches, 1);
    char found[768] = "";
    if (mc->s->explain) {
        /* "$a@0x1f "X5O!P%@AP"" for each match, a few per string. */
        size_t n = 0;
        YR_STRING *str;
        yr_rule_strings_foreach(rule, str)
        {
            YR_MATCH *m;
            int shown = 0;
            yr_string_matches_foreach(ctx, str, m)
            {
                if (shown++ == 4 || n + 80 >= sizeof found)
                    break;
                n += (size_t)snprintf(found + n, sizeof found - n, " %s@0x%llx \"", str->identifier,
                                      (unsigned long long)(m->base + m->offset));
                for (int32_t k = 0; k < m->data_length && k < 24 && n + 8 < sizeof found; k++) {
                    unsigned char c = m->data[k];
                    n += (size_t)snprintf(
                        found + n, sizeof found - n,
                        c >= 32 && c < 127 && c != '"' && c != '\\' ? "%c" : "\\x%02x", c);
                }
                n += (size_t)snprintf(found + n, sizeof found - n, "\"");
            }
        }
    }
    char detail[1024];
    snprintf(detail, sizeof detail, "%s%s%s", desc ? desc : "YARA rule matched",
             *found ? "; matched" : "", found);
    zh_err rc = zhi_hit_full(mc->s, &(struct zhi_hit){.src = detector,
                                                      .rule = rule->identifier,
                                                      .object = mc->o->path,
                                                      .detail = detail,
                                                      .family = family,
                                                      .aliases = al,
                                                      .n_aliases = n_al,
                                                      .score = score});
    if (rc != ZH_ERR_OK) {
        mc->rc = rc;
        return CALLBACK_ABORT;
    }
    return CALLBACK_CONTINUE;
}

static int set_externals(YR_SCANNER *sc, const struct zhi_scan *s, const struct zhi_object *o)
{
    for (size_t i = 0; i < zhi_n_externals; i++) {
        const struct zhi_external *x = &zhi_externals[i];
        int rc = x->type == ZHI_EXT_STR ? zhi_external_define(sc, x, x->str(s, o), 0)
                                        : zhi_external_define(sc, x, NULL, x->num(s, o));
        if (rc != ERROR_SUCCESS)
            return rc;
    }
    return ERROR_SUCCESS;
}

static zh_err yara_scan(struct zhi_scan *s, void *state, void *tstate)
{
    struct yara_thread *t = tstate;
    if (t->rs != s->rules || !t->scanner) {
        /* The rule set changed since this thread last scanned: rebuild. */
        if (t->scanner)
            yr_scanner_destroy(t->scanner);
        t->scanner = NULL;
        zhi_ruleset_release(t->rs);
        t->rs = NULL;
        if (yr_scanner_create(s->rules->yr_rules, &t->scanner) != ERROR_SUCCESS)
            return ZH_ERR_FATAL;
        atomic_fetch_add(&s->rules->refs, 1);
        t->rs = s->rules;
    }
    struct match_ctx mc = {.s = s, .rc = ZH_ERR_OK};
    yr_scanner_set_callback(t->scanner, on_yara, &mc);
    yr_scanner_set_flags(t->scanner, SCAN_FLAGS_REPORT_RULES_MATCHING);
    /* Objects can be added while we scan (none today); index, don't iterate a pointer. */
    for (size_t i = 0; i < s->n_objects; i++) {
        if (zhi_scan_expired(s))
            return ZH_ERR_LIMIT_TIME;
        const struct zhi_object *o = &s->objects[i];
        mc.o = o;
        if (set_externals(t->scanner, s, o) != ERROR_SUCCESS)
            return ZH_ERR_FAILED;
        uint64_t left_us = s->deadline_us > zhi_now_us() ? s->deadline_us - zhi_now_us() : 0;
        /* libyara counts whole seconds: round up, so the overrun stays under one. */
        yr_scanner_set_timeout(t->scanner, left_us ? (int)((left_us + 999999u) / 1000000u) : 1);
        int rc = yr_scanner_scan_mem(t->scanner, o->data, o->len);
        atomic_fetch_add(&s->rules->yara_bytes, o->len);
        if (mc.rc != ZH_ERR_OK)
            return mc.rc;
        if (rc == ERROR_SCAN_TIMEOUT) {
            s->timed_out = true;
            return ZH_ERR_LIMIT_TIME;
        }
        if (rc != ERROR_SUCCESS)
            zhi_hit_full(
                s, &(struct zhi_hit){
                       .src = ZHI_SRC_yara,
                       .rule = "scan_error",
                       .object = o->path,
                       .detail = zhi_arena_printf(s->arena, "libyara error %d on this object", rc),
                       .flags = ZH_HIT_UNSCANNABLE,
                   });
    }
    /* If a reload happened meanwhile, let go of the old set now rather than
     * at this thread's next scan: an idle worker must not keep it alive. */
    if (atomic_load(s->live) != t->rs->version) {
        yr_scanner_destroy(t->scanner);
        t->scanner = NULL;
        zhi_ruleset_release(t->rs);
        t->rs = NULL;
    }
    return ZH_ERR_OK;
}

const struct zh_detector zh_detector_yara = {
    .name = "yara",
    .thread_init = yara_thread_init,
    .scan = yara_scan,
    .thread_fini = yara_thread_fini,
    .thread_idle = yara_thread_idle,
};
