/* The extract stage under a fuzzer: `data` becomes one object — an
 * attachment named `name`, or a text part — beside a text part that offers a
 * password, and every extractor may bid on it; what they find is offered
 * again, as in a scan. Small bounds keep each input fast; the bounds
 * themselves are under test. Invariants: every object has data and a parent
 * before it, and the bytes extracted stay within the member and total bounds.
 * Included by the fuzz_*.c targets of extractors (one static copy each). */
#ifndef ZH_FUZZ_EXTRACT_HARNESS_H
#define ZH_FUZZ_EXTRACT_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "zhi.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int zh_fuzz_extract(const uint8_t *data, size_t size, const char *name, bool text)
{
    static struct zh_config cfg;
    static struct zhi_arena arena;
    if (!arena.block_size) {
        zh_config_defaults(&cfg);
        zh_config_set(&cfg, "archive_max_total_bytes", "4M", NULL, 0);
        zh_config_set(&cfg, "archive_max_member_bytes", "2M", NULL, 0);
        zh_config_set(&cfg, "archive_max_members", "200", NULL, 0);
        zh_config_set(&cfg, "archive_timeout_ms", "2s", NULL, 0);
        zhi_arena_init(&arena, 64 * 1024);
    }
    zhi_arena_reset(&arena);
    struct zhi_scan s = {.cfg = &cfg, .arena = &arena, .subject = "", .from = ""};
    s.deadline_us = zhi_now_us() + 5u * 1000000u;
    static const char note[] = "Hello,\nthe password is 12345\n";
    struct zhi_object t = {.path = "1",
                           .ext = "",
                           .declared_type = "text/plain",
                           .sniffed = ZHI_T_TEXT,
                           .kind = ZHI_K_TEXT,
                           .data = (const uint8_t *)note,
                           .len = sizeof note - 1,
                           .depth = 1,
                           .parent = -1};
    struct zhi_object o = {.path = text ? "2" : zhi_arena_printf(&arena, "2/%s", name),
                           .filename = text ? NULL : name,
                           .ext = text ? "" : zhi_extension_of(&arena, name),
                           .declared_type = "application/octet-stream",
                           .sniffed = zhi_sniff(data, size),
                           .kind = text ? ZHI_K_TEXT : ZHI_K_ATTACHMENT,
                           .data = data,
                           .len = size,
                           .depth = 1,
                           .parent = -1};
    if (!o.path || zhi_scan_add_object(&s, &t) < 0 || zhi_scan_add_object(&s, &o) < 0)
        abort();
    if (zhi_extract(&s) == ZH_ERR_FATAL)
        return 0; /* out of memory: a clean failure */
    uint64_t total = 0;
    for (size_t i = 0; i < s.n_objects; i++) {
        const struct zhi_object *m = &s.objects[i];
        if (!m->data || !m->path || m->parent >= (int)i)
            abort();
        for (size_t k = 0; k < m->n_attrs; k++)
            if (!m->attrs[k].key || !m->attrs[k].value)
                abort();
        if (i >= 2 && m->kind == ZHI_K_MEMBER) {
            if (m->len > (uint64_t)cfg.archive_max_member_bytes)
                abort();
            total += m->len;
        }
    }
    if (total > (uint64_t)cfg.archive_max_total_bytes)
        abort();
    return 0;
}

#endif
