/* The scan context's API: what every stage, extractor and detector of one
 * scan calls to add objects, record hits, watch the deadline and check a
 * bound. It knows nothing of the stages or their order (engine.c does). */
#include "zhi.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

static const char *const source_names[ZHI_SRC__COUNT] = {
#define NAME(name) [ZHI_SRC_##name] = #name,
    ZHI_DETECTORS(NAME) ZHI_EXTRACTORS(NAME) ZHI_STAGE_SOURCES(NAME)
#undef NAME
};

const char *zhi_source_name(enum zhi_source src)
{
    return (unsigned)src < ZHI_SRC__COUNT ? source_names[src] : "?";
}

enum zhi_source zhi_source_by_name(const char *name)
{
    for (unsigned i = 0; name && i < ZHI_SRC__COUNT; i++)
        if (!strcmp(source_names[i], name))
            return (enum zhi_source)i;
    return ZHI_SRC__COUNT;
}

int zhi_scan_add_object(struct zhi_scan *s, const struct zhi_object *o)
{
    if (s->n_objects == s->cap_objects) {
        size_t cap = s->cap_objects ? s->cap_objects * 2 : 32;
        struct zhi_object *grown = zhi_arena_alloc(s->arena, cap * sizeof *grown);
        if (!grown)
            return -1;
        if (s->n_objects)
            memcpy(grown, s->objects, s->n_objects * sizeof *grown);
        s->objects = grown;
        s->cap_objects = cap;
    }
    s->objects[s->n_objects] = *o;
    return (int)s->n_objects++;
}

zh_err zhi_object_note(struct zhi_scan *s, size_t idx, const char *key, const char *fmt, ...)
{
    struct zhi_object *o = &s->objects[idx];
    struct zhi_attr *grown = zhi_arena_alloc(s->arena, (o->n_attrs + 1) * sizeof *grown);
    char value[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(value, sizeof value, fmt, ap);
    va_end(ap);
    if (!grown)
        return ZH_ERR_FATAL;
    if (o->n_attrs)
        memcpy(grown, o->attrs, o->n_attrs * sizeof *grown);
    grown[o->n_attrs] =
        (struct zhi_attr){zhi_arena_strdup(s->arena, key), zhi_arena_strdup(s->arena, value)};
    if (!grown[o->n_attrs].key || !grown[o->n_attrs].value)
        return ZH_ERR_FATAL;
    o->attrs = grown;
    o->n_attrs++;
    return ZH_ERR_OK;
}

const char *zhi_object_attr(const struct zhi_object *o, const char *key)
{
    for (size_t i = 0; i < o->n_attrs; i++)
        if (!strcmp(o->attrs[i].key, key))
            return o->attrs[i].value;
    return NULL;
}

zh_err zhi_hit_full(struct zhi_scan *s, const struct zhi_hit *in)
{
    if (s->n_hits == s->cap_hits) {
        size_t cap = s->cap_hits ? s->cap_hits * 2 : 16;
        struct zhi_hit *grown = zhi_arena_alloc(s->arena, cap * sizeof *grown);
        if (!grown)
            return ZH_ERR_FATAL;
        if (s->n_hits)
            memcpy(grown, s->hits, s->n_hits * sizeof *grown);
        s->hits = grown;
        s->cap_hits = cap;
    }
    const char **al = NULL;
    if (in->n_aliases && (al = zhi_arena_alloc(s->arena, in->n_aliases * sizeof *al)))
        for (size_t i = 0; i < in->n_aliases; i++)
            al[i] = zhi_arena_strdup(s->arena, in->aliases[i]);
    struct zhi_hit h = {
        .src = in->src,
        .rule = zhi_arena_strdup(s->arena, in->rule),
        .object = zhi_arena_strdup(s->arena, in->object ? in->object : ""),
        .detail = zhi_arena_strdup(s->arena, in->detail ? in->detail : ""),
        .family = in->family ? zhi_arena_strdup(s->arena, in->family) : "",
        .aliases = al,
        .n_aliases = al ? in->n_aliases : 0,
        .score = in->score,
        .flags = in->flags,
    };
    if (!h.rule || !h.object || !h.detail || !h.family)
        return ZH_ERR_FATAL;
    s->hits[s->n_hits++] = h;
    return ZH_ERR_OK;
}

zh_err zhi_hit(struct zhi_scan *s, enum zhi_source src, const char *rule, const char *object,
               int score, const char *detail_fmt, ...)
{
    char detail[1024];
    va_list ap;
    va_start(ap, detail_fmt);
    vsnprintf(detail, sizeof detail, detail_fmt, ap);
    va_end(ap);
    return zhi_hit_full(
        s, &(struct zhi_hit){
               .src = src, .rule = rule, .object = object, .detail = detail, .score = score});
}

bool zhi_scan_expired(struct zhi_scan *s)
{
    if (!s->timed_out && s->deadline_us && zhi_now_us() >= s->deadline_us)
        s->timed_out = true;
    return s->timed_out;
}

/* ---- limits ------------------------------------------------------------------ */
static const struct {
    const char *setting;
    size_t offset; /* of the int64_t setting in struct zh_config */
    zh_err code;
    const char *what; /* {v}: the value found, {b}: the bound */
} limits[ZHI_L__COUNT] = {
#define ROW(id, field, err, fmt)                                                                   \
    [ZHI_L_##id] = {#field, offsetof(struct zh_config, field), err, fmt},
    ZHI_LIMITS(ROW)
#undef ROW
};

uint64_t zhi_limit_bound(const struct zhi_scan *s, enum zhi_limit l)
{
    int64_t v = *(const int64_t *)((const char *)s->cfg + limits[l].offset);
    return v < 0 ? 0 : (uint64_t)v;
}

zh_err zhi_scan_limit(struct zhi_scan *s, enum zhi_limit l, uint64_t value, const char *object)
{
    uint64_t bound = zhi_limit_bound(s, l);
    if (value <= bound)
        return ZH_ERR_OK;
    if (!(s->limits_hit & (1u << l))) {
        s->limits_hit |= 1u << l;
        char what[256];
        size_t n = 0;
        for (const char *p = limits[l].what; *p && n + 24 < sizeof what; p++) {
            if (p[0] == '{' && (p[1] == 'v' || p[1] == 'b') && p[2] == '}') {
                n += (size_t)snprintf(what + n, sizeof what - n, "%llu",
                                      (unsigned long long)(p[1] == 'v' ? value : bound));
                p += 2;
            } else {
                what[n++] = *p;
            }
        }
        what[n] = 0;
        /* The hit is best effort: the code returned says the same to the caller. */
        zhi_hit_full(s, &(struct zhi_hit){
                            .src = ZHI_SRC_limits,
                            .rule = "limits_exceeded",
                            .object = object,
                            .detail = zhi_arena_printf(s->arena, "%s: %s", limits[l].setting, what),
                            .flags = ZH_HIT_UNSCANNABLE,
                        });
    }
    return limits[l].code;
}
