/* The extract stage: every object an extractor (engine/extractors/) bids on
 * is opened, and what it holds is appended as objects, which are offered to
 * the extractors in turn — so `2/invoice.zip/inner.zip/run.exe` is reached.
 * The stage owns the budget of the whole message (members, bytes, ratio,
 * depth, time): extractors only report what they produce through the calls
 * below, and every breach goes through zhi_scan_limit. */
#include "zhi.h"
#include "heuristics.h"

#include <stdarg.h>
#include <stdio.h>

#include <string.h>

struct zhi_extract {
    struct zhi_scan *s;
    uint64_t members;    /* counted in all containers of the message */
    uint64_t bytes;      /* expanded, in all containers of the message */
    uint64_t started_us; /* archive_timeout_ms runs from here */
    size_t current;      /* index of the running extractor */
    void *scratch[ZHI_N_EXTRACTORS];
};

struct zhi_scan *zhi_extract_scan(struct zhi_extract *x)
{
    return x->s;
}

void **zhi_extract_scratch(struct zhi_extract *x)
{
    return &x->scratch[x->current];
}

/* The scan's own deadline ends the stage without a hit of its own (the
 * orchestrator reports scan_timeout_ms); archive_timeout_ms is a limit. */
static zh_err check_time(struct zhi_extract *x, const char *path)
{
    if (zhi_scan_expired(x->s))
        return ZH_ERR_LIMIT_TIME;
    return zhi_scan_limit(x->s, ZHI_L_archive_time, (zhi_now_us() - x->started_us) / 1000, path);
}

zh_err zhi_extract_count(struct zhi_extract *x, const char *path)
{
    zh_err rc = zhi_scan_limit(x->s, ZHI_L_archive_members, ++x->members, path);
    return rc != ZH_ERR_OK ? rc : check_time(x, path);
}

zh_err zhi_extract_bytes(struct zhi_extract *x, const char *path, size_t len, size_t n, uint64_t in)
{
    struct zhi_scan *s = x->s;
    zh_err rc = zhi_scan_limit(s, ZHI_L_member_bytes, len, path);
    if (rc == ZH_ERR_OK)
        rc = zhi_scan_limit(s, ZHI_L_total_bytes, x->bytes + n, path);
    if (rc != ZH_ERR_OK)
        return rc;
    x->bytes += n;
    /* Small files compress well: judge the ratio only past the floor. */
    if (len > (uint64_t)s->cfg->archive_ratio_floor &&
        (rc = zhi_scan_limit(s, ZHI_L_ratio, len / (in ? in : 1), path)) != ZH_ERR_OK)
        return rc;
    return check_time(x, path);
}

bool zhi_extract_fits(const struct zhi_extract *x, size_t len, uint64_t extra)
{
    const struct zhi_scan *s = x->s;
    return len <= zhi_limit_bound(s, ZHI_L_member_bytes) &&
           x->bytes + extra <= zhi_limit_bound(s, ZHI_L_total_bytes) &&
           (zhi_now_us() - x->started_us) / 1000 <= zhi_limit_bound(s, ZHI_L_archive_time) &&
           !(s->deadline_us && zhi_now_us() >= s->deadline_us);
}

void zhi_extract_recount(struct zhi_extract *x, uint64_t old, uint64_t now)
{
    x->bytes = x->bytes - old + now;
}

zh_err zhi_extract_damaged(struct zhi_extract *x, const char *rule, const char *object,
                           const char *fmt, ...)
{
    struct zhi_scan *s = x->s;
    const struct zhi_heuristics *h = s->rules ? s->rules->heur : NULL;
    char detail[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    return zhi_hit_full(s, &(struct zhi_hit){.src = zhi_extractors[x->current]->src,
                                             .rule = rule,
                                             .object = object,
                                             .detail = detail,
                                             .score = h ? h->scores[ZHI_S_damaged_container] : 0,
                                             .flags = ZH_HIT_UNSCANNABLE});
}

static const char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/'), *bslash = strrchr(path, '\\');
    if (bslash > slash)
        slash = bslash;
    return slash ? slash + 1 : path;
}

int zhi_extract_add(struct zhi_extract *x, size_t parent, const char *name, const uint8_t *data,
                    size_t len, unsigned flags)
{
    struct zhi_scan *s = x->s;
    const struct zh_extractor *ex = zhi_extractors[x->current];
    const struct zhi_object *p = &s->objects[parent];
    struct zhi_object m = {
        .path = zhi_arena_printf(s->arena, "%s/%s", p->path, name),
        .filename = zhi_arena_strdup(s->arena, base_name(name)),
        .declared_type = "",
        .sniffed = zhi_sniff(data, len),
        .kind = ex->member_kind,
        .data = data,
        .len = len,
        .depth = p->depth + 1,
        .archive_depth = p->archive_depth + ((ex->flags & ZH_EXTRACT_NESTS) ? 1 : 0),
        .parent = (int)parent,
        /* what a returned or forwarded message holds is not this message's payload */
        .flags = flags | (p->flags & ZHI_OBJ_IN_MESSAGE),
    };
    if (!m.path || !m.filename)
        return -1;
    m.ext = zhi_extension_of(s->arena, m.filename);
    return zhi_scan_add_object(s, &m);
}

zh_err zhi_extract(struct zhi_scan *s)
{
    struct zhi_extract x = {.s = s, .started_us = zhi_now_us()};
    /* Members are appended while we walk, so index, and re-read n_objects. */
    for (size_t i = 0; i < s->n_objects && !zhi_scan_expired(s); i++) {
        const struct zhi_object *o = &s->objects[i];
        if (o->len == 0 || o->kind == ZHI_K_HEADERS)
            continue;
        int best = 0;
        size_t who = ZHI_N_EXTRACTORS;
        for (size_t k = 0; k < ZHI_N_EXTRACTORS; k++) {
            int bid = zhi_extractors[k]->bid(s, o);
            if (bid > best) {
                best = bid;
                who = k;
            }
        }
        if (who == ZHI_N_EXTRACTORS)
            continue;
        const struct zh_extractor *ex = zhi_extractors[who];
        if ((ex->flags & ZH_EXTRACT_NESTS) &&
            zhi_scan_limit(s, ZHI_L_archive_depth, (uint64_t)o->archive_depth + 1, o->path) !=
                ZH_ERR_OK)
            continue; /* too deep to open; the rest of the message is not */
        x.current = who;
        zh_err rc = ex->extract(&x, i);
        if (rc == ZH_ERR_FATAL)
            return rc;
        if (zh_err_is_limit(rc))
            break; /* the message's budget is spent: what was found stays */
    }
    return ZH_ERR_OK;
}
