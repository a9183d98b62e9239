/* What the unit tests of whole formats share: reading a file, base64 for
 * building mail around it, the extract stage on one attachment, and an engine with a scanner on the
 * default rules (outbreak counting off, so one test's messages never judge another's). Header-only,
 * included once by each test_*.c after cmocka.h. */
#ifndef ZH_TESTUTIL_H
#define ZH_TESTUTIL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <string.h>

#include "zhi.h"

struct blob {
    uint8_t *p;
    size_t len;
};

/* The whole file, NUL-terminated; fails the test when it cannot be read. */
static inline struct blob slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("cannot open %s", path);
    struct blob b = {NULL, 0};
    size_t cap = 0;
    for (;;) {
        if (b.len == cap)
            b.p = realloc(b.p, (cap = cap ? cap * 2 : 4096) + 1);
        size_t n = fread(b.p + b.len, 1, cap - b.len, f);
        if (!n)
            break;
        b.len += n;
    }
    fclose(f);
    b.p[b.len] = 0;
    return b;
}

/* Base64 of buf; wrapped in lines for MIME, in one line for a script. */
static inline char *b64(const uint8_t *buf, size_t used, bool wrap)
{
    static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char *out = malloc(used * 2 + 8);
    size_t o = 0;
    for (size_t i = 0; i < used; i += 3) {
        unsigned v =
            buf[i] << 16 | (i + 1 < used ? buf[i + 1] << 8 : 0) | (i + 2 < used ? buf[i + 2] : 0);
        out[o++] = tbl[v >> 18 & 63];
        out[o++] = tbl[v >> 12 & 63];
        out[o++] = i + 1 < used ? tbl[v >> 6 & 63] : '=';
        out[o++] = i + 2 < used ? tbl[v & 63] : '=';
        if (wrap && (i / 3) % 19 == 18) {
            out[o++] = '\r';
            out[o++] = '\n';
        }
    }
    out[o] = 0;
    return out;
}

/* Run the extract stage on one attachment named `name` (the scan s is reset
 * and lives in arena a); its objects and hits are then inspected. */
static inline struct zhi_scan *extract_one(struct zhi_scan *s, const struct zh_config *cfg,
                                           struct zhi_arena *a, const char *name,
                                           const struct blob *b)
{
    zhi_arena_reset(a);
    memset(s, 0, sizeof *s);
    s->cfg = cfg;
    s->arena = a;
    struct zhi_object o = {.path = zhi_arena_printf(a, "2/%s", name),
                           .filename = name,
                           .ext = zhi_extension_of(a, name),
                           .declared_type = "application/octet-stream",
                           .sniffed = zhi_sniff(b->p, b->len),
                           .kind = ZHI_K_ATTACHMENT,
                           .data = b->p,
                           .len = b->len,
                           .depth = 1,
                           .parent = -1};
    assert_true(zhi_scan_add_object(s, &o) >= 0);
    assert_int_equal(zhi_extract(s), ZH_ERR_OK);
    return s;
}

static inline const struct zhi_object *object(const struct zhi_scan *s, const char *path)
{
    for (size_t i = 0; i < s->n_objects; i++)
        if (!strcmp(s->objects[i].path, path))
            return &s->objects[i];
    return NULL;
}

static inline const struct zhi_hit *stage_hit(const struct zhi_scan *s, const char *rule)
{
    for (size_t i = 0; i < s->n_hits; i++)
        if (!strcmp(s->hits[i].rule, rule))
            return &s->hits[i];
    return NULL;
}

static inline void dump_objects(const struct zhi_scan *s)
{
    for (size_t i = 0; i < s->n_objects; i++) {
        const struct zhi_object *o = &s->objects[i];
        fprintf(stderr, "   %s (%s, %zu bytes, flags %#x)\n", o->path, zhi_type_name(o->sniffed),
                o->len, o->flags);
        for (size_t k = 0; k < o->n_attrs; k++)
            fprintf(stderr, "      %s = %s\n", o->attrs[k].key, o->attrs[k].value);
    }
    for (size_t i = 0; i < s->n_hits; i++)
        fprintf(stderr, "   hit %s on %s: %s\n", s->hits[i].rule, s->hits[i].object,
                s->hits[i].detail);
}

static zh_engine *engine;
static zh_scanner *scanner;

static inline int setup_engine(void **state)
{
    struct zh_config cfg;
    zh_config_defaults(&cfg);
    zh_config_set(&cfg, "rules_dir", ZH_SOURCE_DIR "/rules", NULL, 0);
    zh_config_set(&cfg, "outbreak.enabled", "0", NULL, 0);
    struct zh_rules_report rep;
    if (zh_engine_new(&cfg, &engine, &rep) != ZH_ERR_OK) {
        for (size_t i = 0; i < rep.n_errors; i++)
            fprintf(stderr, "%s\n", rep.errors[i]);
        return -1;
    }
    zh_rules_report_free(&rep);
    zh_config_free(&cfg);
    return zh_scanner_new(engine, &scanner) == ZH_ERR_OK ? 0 : -1;
}

static inline int teardown_engine(void **state)
{
    zh_scanner_free(scanner);
    zh_engine_free(engine);
    return 0;
}

#endif
