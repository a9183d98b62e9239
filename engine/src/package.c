/* package.c: the layout in which an OLE Package object (Packager.exe, class
 * "Package") keeps the file it embeds — read by extractors/ole.c (the
 * "\x01Ole10Native" stream, after its 4-byte size) and extractors/rtf.c (the
 * native data of an RTF \objdata object of class Package). The layout is the
 * one oletools' oleobj and ClamAV read: a 16-bit type, the label and the
 * original path as NUL-terminated strings, 16-bit reserved and 16-bit kind
 * (3: an embedded file), a 32-bit length and the temporary path, a 32-bit
 * size and the data. Only reads within the n bytes given. */
#include "zhi.h"

#include <string.h>

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static const char *cstring(struct zhi_arena *a, const uint8_t *p, size_t n, size_t *pos)
{
    if (*pos >= n)
        return NULL;
    const uint8_t *nul = memchr(p + *pos, 0, n - *pos);
    if (!nul)
        return NULL;
    const char *s = zhi_latin1_to_utf8(a, p + *pos, (size_t)(nul - (p + *pos)));
    *pos = (size_t)(nul - p) + 1;
    return s;
}

static const char *base_of(const char *path)
{
    const char *b = path;
    for (const char *c = path; *c; c++)
        if (*c == '\\' || *c == '/' || *c == ':')
            b = c + 1;
    return b;
}

bool zhi_package_parse(struct zhi_arena *a, const uint8_t *p, size_t n, struct zhi_package *out)
{
    memset(out, 0, sizeof *out);
    size_t pos = 2; /* the type */
    out->label = cstring(a, p, n, &pos);
    out->path = cstring(a, p, n, &pos);
    if (!out->label || !out->path || n - pos < 8)
        return false;
    uint32_t tmp_len = le32(p + pos + 4);
    pos += 8;
    if (tmp_len <= n - pos) {
        size_t t = pos;
        out->temp_path = cstring(a, p, pos + tmp_len, &t);
        pos += tmp_len;
    } else
        pos = n;
    const char *name = *out->label ? base_of(out->label) : base_of(out->path);
    if (!*name && out->temp_path)
        name = base_of(out->temp_path);
    out->name = name;
    if (n - pos < 4) {
        out->cut = true;
        return true;
    }
    uint32_t size = le32(p + pos);
    pos += 4;
    out->data = p + pos;
    out->len = size <= n - pos ? size : n - pos;
    out->cut = size > n - pos;
    return true;
}
