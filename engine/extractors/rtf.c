/* rtf: objects embedded in RTF documents. An embedded object is an
 * \objdata destination whose hex digits spell an OLE1 object (MS-OLEDS
 * 2.2.4 ObjectHeader: version, format, class name, topic, item, then the
 * native data) — for a Word document or a workbook the native data is an
 * OLE2 compound file, which becomes a member ole.c opens in turn, macros and
 * all (the RTF droppers of the Dridex and Emotet waves, and the CVE-2017-0199
 * and CVE-2017-11882 documents, carried their payload so). Hex digits are
 * collected at the destination's own level, across whitespace and control
 * words (the padding obfuscated RTF hides them behind); nested groups are
 * skipped as Word skips unknown destinations. An object whose header does not
 * parse is searched for an OLE2 signature; one that holds neither is a
 * scored, unscannable hit. Decoded bytes are held to the member bound. Not
 * An object of class Package (Packager) gives the file it embeds, under its
 * label (package.c reads the layout). Not here: \bin binary runs, and RTF that opens with
 * "{\rt" without the "f" (sniff.c does not call it RTF). */
#include "../src/zhi.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

static const uint8_t ole2_magic[8] = {0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1};

static int rtf_bid(const struct zhi_scan *s, const struct zhi_object *o)
{
    return o->sniffed == ZHI_T_RTF ? 100 : 0;
}

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static int hexval(int c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

/* Decode the hex of the destination that starts at p[pos] (just after the
 * \objdata control word) into out, up to max bytes (*over set beyond).
 * Returns the position after the destination. */
static size_t decode(const uint8_t *p, size_t n, size_t pos, struct zhi_buf *out, size_t max,
                     bool *over, bool *oom)
{
    int depth = 0, hi = -1;
    while (pos < n) {
        int c = p[pos];
        if (c == '{') {
            depth++;
            pos++;
        } else if (c == '}') {
            if (depth-- == 0)
                return pos;
            pos++;
        } else if (c == '\\') {
            pos++;
            if (pos < n && isalpha(p[pos])) {
                while (pos < n && isalpha(p[pos]))
                    pos++;
                if (pos < n && p[pos] == '-')
                    pos++;
                while (pos < n && isdigit(p[pos]))
                    pos++;
                if (pos < n && p[pos] == ' ')
                    pos++;
            } else if (pos < n) {
                pos++;
            }
        } else {
            int v = depth == 0 ? hexval(c) : -1;
            pos++;
            if (v < 0)
                continue;
            if (hi < 0) {
                hi = v;
                continue;
            }
            if (out->len >= max) {
                *over = true;
                return n;
            }
            uint8_t b = (uint8_t)(hi << 4 | v);
            hi = -1;
            if (!zhi_buf_append(out, &b, 1)) {
                *oom = true;
                return n;
            }
        }
    }
    return n;
}

/* The native data of an OLE1 ObjectHeader, and its class name; false when
 * the header does not parse. */
static bool ole1_native(const uint8_t *p, size_t n, const uint8_t **data, size_t *len,
                        const uint8_t **cls, size_t *cls_len)
{
    size_t pos = 8; /* OLEVersion, FormatID */
    if (n < pos || le32(p + 4) != 2)
        return false;             /* 2: an embedded object (1 is a link) */
    for (int i = 0; i < 3; i++) { /* ClassName, TopicName, ItemName */
        if (n - pos < 4)
            return false;
        uint32_t l = le32(p + pos);
        pos += 4;
        if (l > n - pos)
            return false;
        if (i == 0) {
            *cls = p + pos;
            *cls_len = l && p[pos + l - 1] == 0 ? l - 1 : l;
        }
        pos += l;
    }
    if (n - pos < 4)
        return false;
    uint32_t size = le32(p + pos);
    pos += 4;
    *data = p + pos;
    *len = size < n - pos ? size : n - pos;
    return true;
}

static zh_err rtf_extract(struct zhi_extract *x, size_t idx)
{
    struct zhi_scan *s = zhi_extract_scan(x);
    const struct zhi_object rtf = s->objects[idx]; /* appending moves s->objects */
    const uint8_t *p = rtf.data;
    size_t n = rtf.len, max = zhi_limit_bound(s, ZHI_L_member_bytes);
    zh_err rc = ZH_ERR_OK;
    unsigned count = 0;
    struct zhi_buf buf = {0};
    static const char word[] = "\\objdata";
    /* The search goes on after each destination, so every byte is read once
     * however many \objdata words a document repeats. */
    size_t from = 0;
    for (const uint8_t *at;
         rc == ZH_ERR_OK && from < n && (at = memmem(p + from, n - from, word, sizeof word - 1));) {
        size_t pos = (size_t)(at - p) + sizeof word - 1;
        from = pos;
        if (pos < n && isalpha(p[pos]))
            continue; /* a longer control word */
        count++;
        bool over = false, oom = false;
        buf.len = 0;
        size_t end = decode(p, n, pos, &buf, max, &over, &oom);
        from = end > pos ? end : pos;
        if (oom) {
            rc = ZH_ERR_FATAL;
            break;
        }
        const uint8_t *data = NULL, *cls = NULL;
        size_t len = 0, cls_len = 0;
        bool header = buf.len && ole1_native(buf.p, buf.len, &data, &len, &cls, &cls_len);
        if (!header || !len) {
            const uint8_t *magic = buf.len ? memmem(buf.p, buf.len, ole2_magic, 8) : NULL;
            if (magic) {
                data = magic;
                len = buf.len - (size_t)(magic - buf.p);
            }
        }
        /* A Package object's native data is the file it embeds, with its name. */
        struct zhi_package pkg = {0};
        bool package = header && data && cls_len == 7 && !memcmp(cls, "Package", 7) &&
                       zhi_package_parse(s->arena, data, len, &pkg) && pkg.data;
        if (package) {
            data = pkg.data;
            len = pkg.len;
        }
        const char *ext = data ? zhi_type_extension(zhi_sniff(data, len), data, len) : "bin";
        /* Name a compound file by its class, as Office would save it. */
        static const struct {
            const char *prefix, *ext;
        } classes[] = {{"Word.", "doc"}, {"Excel.", "xls"}, {"PowerPoint.", "ppt"}};
        for (size_t k = 0; header && data && zhi_sniff(data, len) == ZHI_T_OLE2 &&
                           k < sizeof classes / sizeof classes[0];
             k++)
            if (cls_len > strlen(classes[k].prefix) &&
                !memcmp(cls, classes[k].prefix, strlen(classes[k].prefix)))
                ext = classes[k].ext;
        const char *name = package && *pkg.name && !strpbrk(pkg.name, "/%")
                               ? zhi_arena_printf(s->arena, "object-%u/%s", count, pkg.name)
                               : zhi_arena_printf(s->arena, "object-%u.%s", count, ext);
        const char *path = name ? zhi_arena_printf(s->arena, "%s/%s", rtf.path, name) : NULL;
        if (!path) {
            rc = ZH_ERR_FATAL;
            break;
        }
        if (!data || !len) {
            rc = zhi_extract_damaged(x, "malformed_rtf_object", path,
                                     "embedded object %u of the RTF document holds no readable "
                                     "OLE object (%zu bytes decoded)",
                                     count, buf.len);
            continue;
        }
        if ((rc = zhi_extract_count(x, rtf.path)) != ZH_ERR_OK ||
            (rc = zhi_extract_bytes(x, path, over ? max + 1 : len, len,
                                    end > pos ? (end - pos) / 2 : 1)) != ZH_ERR_OK)
            break;
        const uint8_t *copy = zhi_arena_memdup(s->arena, data, len);
        int m = copy ? zhi_extract_add(x, idx, name, copy, len, 0) : -1;
        if (m < 0) {
            rc = ZH_ERR_FATAL;
            break;
        }
        if (package && (zhi_object_note(s, (size_t)m, "ole.package", "%s",
                                        *pkg.label ? pkg.label : pkg.name) != ZH_ERR_OK ||
                        (*pkg.path && zhi_object_note(s, (size_t)m, "ole.package_path", "%s",
                                                      pkg.path) != ZH_ERR_OK))) {
            rc = ZH_ERR_FATAL;
            break;
        }
        const char *klass = cls && cls_len ? zhi_latin1_to_utf8(s->arena, cls, cls_len) : NULL;
        if (klass && *klass &&
            zhi_object_note(s, (size_t)m, "rtf.objclass", "%.128s", klass) != ZH_ERR_OK)
            rc = ZH_ERR_FATAL;
    }
    free(buf.p);
    return rc;
}

const struct zh_extractor zh_extractor_rtf = {
    .name = "rtf",
    .src = ZHI_SRC_rtf,
    .flags = ZH_EXTRACT_NESTS,
    .member_kind = ZHI_K_MEMBER,
    .bid = rtf_bid,
    .extract = rtf_extract,
};
