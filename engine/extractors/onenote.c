/* onenote: files embedded in OneNote sections (.one), as the OneNote wave of
 * early 2023 (Qakbot, AsyncRAT, IcedID, Emotet) carried .hta, .cmd, .bat,
 * .vbs and .exe payloads behind a "double-click to view" image. OneNote
 * keeps each embedded file's bytes in a FileDataStoreObject (MS-ONESTORE
 * 2.6.13): a header GUID {BDE316E7-2665-4511-A4C4-8D4D0B7A9EAC}, a 64-bit
 * length, 12 reserved bytes, the data, padding to 8 bytes and a footer GUID
 * {71FBA722-0F79-4A0B-BB13-899256426B24}. The objects are found by their
 * header GUID, as ClamAV and onedump do, so a damaged revision store hides
 * nothing. The file's name lives elsewhere (in the property sets of the
 * revision store, not parsed here): members are named embedded-N.<ext> by
 * their sniffed content ("hta", "bat", "exe"...). A length past the end of the
 * section or a missing footer is a scored, unscannable hit, the bytes there
 * kept. (.onepkg is a CAB: archive.c opens it and its .one members come here.) */
#include "../src/zhi.h"

#include <string.h>

static const uint8_t header_guid[16] = {0xe7, 0x16, 0xe3, 0xbd, 0x65, 0x26, 0x11, 0x45,
                                        0xa4, 0xc4, 0x8d, 0x4d, 0x0b, 0x7a, 0x9e, 0xac};
static const uint8_t footer_guid[16] = {0x22, 0xa7, 0xfb, 0x71, 0x79, 0x0f, 0x0b, 0x4a,
                                        0xbb, 0x13, 0x89, 0x92, 0x56, 0x42, 0x6b, 0x24};
#define HEADER_BYTES 36 /* guidHeader, cbLength, unused, reserved */

static int onenote_bid(const struct zhi_scan *s, const struct zhi_object *o)
{
    return o->sniffed == ZHI_T_ONENOTE ? 100 : 0;
}

static uint64_t le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static zh_err onenote_extract(struct zhi_extract *x, size_t idx)
{
    struct zhi_scan *s = zhi_extract_scan(x);
    const struct zhi_object one = s->objects[idx]; /* appending moves s->objects */
    const uint8_t *p = one.data, *end = one.data + one.len;
    unsigned n = 0;
    zh_err rc = ZH_ERR_OK;
    for (const uint8_t *g = memmem(p, one.len, header_guid, 16); g && rc == ZH_ERR_OK;
         g = memmem(g + 16, (size_t)(end - (g + 16)), header_guid, 16)) {
        if ((size_t)(end - g) < HEADER_BYTES) {
            rc = zhi_extract_damaged(x, "malformed_onenote", one.path,
                                     "an embedded file's header is cut off");
            break;
        }
        uint64_t declared = le64(g + 16);
        const uint8_t *data = g + HEADER_BYTES;
        size_t avail = (size_t)(end - data);
        size_t len = declared > avail ? avail : (size_t)declared;
        n++;
        if ((rc = zhi_extract_count(x, one.path)) != ZH_ERR_OK)
            break;
        const char *ext = zhi_type_extension(zhi_sniff(data, len), data, len);
        const char *name = zhi_arena_printf(s->arena, "embedded-%u.%s", n, ext);
        const char *path = name ? zhi_arena_printf(s->arena, "%s/%s", one.path, name) : NULL;
        if (!path)
            return ZH_ERR_FATAL;
        zh_err limit = zhi_extract_bytes(x, path, len, len, len);
        if (limit != ZH_ERR_OK)
            return limit; /* a member beyond the bounds is not copied */
        /* The footer follows the data padded to 8 bytes. */
        size_t padded = len + (8 - len % 8) % 8;
        bool cut = declared > avail;
        bool footer = !cut && padded + 16 <= avail && !memcmp(data + padded, footer_guid, 16);
        const uint8_t *copy = zhi_arena_memdup(s->arena, data, len);
        if (!copy || zhi_extract_add(x, idx, name, copy, len, footer ? 0 : ZHI_OBJ_TRUNCATED) < 0)
            return ZH_ERR_FATAL;
        if (cut)
            rc =
                zhi_extract_damaged(x, "malformed_onenote", path,
                                    "embedded file %u claims %llu bytes, %zu remain in the section",
                                    n, (unsigned long long)declared, len);
        else if (!footer)
            rc = zhi_extract_damaged(x, "malformed_onenote", path,
                                     "embedded file %u has no footer after its %zu bytes", n, len);
        /* The next object starts after this one's data; a length that lies
         * is not followed (the search goes on from the data itself). */
        if (footer)
            g = data + padded;
    }
    return rc;
}

const struct zh_extractor zh_extractor_onenote = {
    .name = "onenote",
    .src = ZHI_SRC_onenote,
    .flags = ZH_EXTRACT_NESTS,
    .member_kind = ZHI_K_MEMBER,
    .bid = onenote_bid,
    .extract = onenote_extract,
};
