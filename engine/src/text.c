/* Small text helpers the extractors share: UTF-16 strings as Windows formats
 * store them (shortcuts, PDF names) turned into UTF-8, and a file extension
 * for a member whose container gives it no name. No allocation but the arena. */
#include "zhi.h"

#include <string.h>

static size_t put_utf8(char *o, uint32_t c)
{
    if (c < 0x80) {
        o[0] = (char)c;
        return 1;
    }
    if (c < 0x800) {
        o[0] = (char)(0xc0 | c >> 6);
        o[1] = (char)(0x80 | (c & 0x3f));
        return 2;
    }
    if (c < 0x10000) {
        o[0] = (char)(0xe0 | c >> 12);
        o[1] = (char)(0x80 | (c >> 6 & 0x3f));
        o[2] = (char)(0x80 | (c & 0x3f));
        return 3;
    }
    o[0] = (char)(0xf0 | c >> 18);
    o[1] = (char)(0x80 | (c >> 12 & 0x3f));
    o[2] = (char)(0x80 | (c >> 6 & 0x3f));
    o[3] = (char)(0x80 | (c & 0x3f));
    return 4;
}

char *zhi_utf16_to_utf8(struct zhi_arena *a, const uint8_t *p, size_t nbytes, bool big_endian)
{
    size_t units = nbytes / 2;
    /* A unit becomes at most 3 bytes; a surrogate pair (2 units) 4. */
    char *out = zhi_arena_alloc(a, units * 3 + 1);
    if (!out)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < units; i++) {
        uint32_t c = big_endian ? (uint32_t)(p[2 * i] << 8 | p[2 * i + 1])
                                : (uint32_t)(p[2 * i] | p[2 * i + 1] << 8);
        if (c == 0)
            break;
        if (c >= 0xd800 && c < 0xdc00 && i + 1 < units) {
            uint32_t d = big_endian ? (uint32_t)(p[2 * i + 2] << 8 | p[2 * i + 3])
                                    : (uint32_t)(p[2 * i + 2] | p[2 * i + 3] << 8);
            if (d >= 0xdc00 && d < 0xe000) {
                c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
                i++;
            } else {
                c = 0xfffd;
            }
        } else if (c >= 0xd800 && c < 0xe000) {
            c = 0xfffd; /* a lone surrogate */
        }
        o += put_utf8(out + o, c);
    }
    out[o] = 0;
    return out;
}

char *zhi_latin1_to_utf8(struct zhi_arena *a, const uint8_t *p, size_t n)
{
    char *out = zhi_arena_alloc(a, n * 2 + 1);
    if (!out)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < n && p[i]; i++)
        o += put_utf8(out + o, p[i]);
    out[o] = 0;
    return out;
}

const char *zhi_type_extension(enum zhi_type t, const uint8_t *p, size_t n)
{
    switch (t) {
    case ZHI_T_PE:
    case ZHI_T_MZ:
        return "exe";
    case ZHI_T_HTML:
    case ZHI_T_SCRIPT: {
        /* An HTML application names itself in its first KiB. */
        size_t lim = n < 1024 ? n : 1024;
        if (memmem(p, lim, "<hta:", 5) || memmem(p, lim, "<HTA:", 5))
            return "hta";
        if (t == ZHI_T_HTML)
            return "html";
        if (memmem(p, lim, "@echo", 5) || memmem(p, lim, "@ECHO", 5))
            return "bat";
        if (memmem(p, lim, "<job", 4) || memmem(p, lim, "<package", 8))
            return "wsf";
        return "txt";
    }
    case ZHI_T_TEXT:
        return "txt";
    case ZHI_T_DATA:
    case ZHI_T_EMPTY:
        return "bin";
    case ZHI_T_ONENOTE:
        return "one";
    default:
        return zhi_type_name(t); /* "zip", "pdf", "lnk", "iso"... */
    }
}
