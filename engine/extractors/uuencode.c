/* uuencode: "begin 644 name" blocks that old mailers (and the worms imitating
 * them) put in the body text. Each block becomes an attachment object of its
 * own, named as the block says; a block without its "end" line is kept as
 * far as it goes and marked truncated. */
#include "../src/zhi.h"

#include <string.h>

/* A text part with a "begin " somewhere; the block itself is checked while
 * extracting. Reads the text, so it bids last (see registry.h). */
/* Only a line that starts "begin " can open a block (begin_line): look at
 * line starts alone, which memchr finds faster than memmem finds the word. */
static bool has_begin_line(const char *p, size_t len)
{
    const char *end = p + len;
    if (len >= 6 && !memcmp(p, "begin ", 6))
        return true;
    for (; (p = memchr(p, '\n', (size_t)(end - p))); p++)
        if (end - p > 6 && !memcmp(p + 1, "begin ", 6))
            return true;
    return false;
}

static int uuencode_bid(const struct zhi_scan *s, const struct zhi_object *o)
{
    return o->kind == ZHI_K_TEXT && o->len > 10 && has_begin_line((const char *)o->data, o->len)
               ? 10
               : 0;
}

/* Decode one uuencoded line into out; returns bytes written. */
static size_t uu_line(const char *line, size_t len, uint8_t *out)
{
    if (len == 0)
        return 0;
    size_t want = (size_t)((line[0] - ' ') & 0x3f), got = 0;
    for (size_t i = 1; got < want && i + 3 < len + 3; i += 4) {
        unsigned c[4];
        for (int k = 0; k < 4; k++)
            c[k] = i + k < len ? (unsigned)((line[i + k] - ' ') & 0x3f) : 0;
        uint8_t b[3] = {(uint8_t)(c[0] << 2 | c[1] >> 4), (uint8_t)(c[1] << 4 | c[2] >> 2),
                        (uint8_t)(c[2] << 6 | c[3])};
        for (int k = 0; k < 3 && got < want; k++)
            out[got++] = b[k];
    }
    return got;
}

/* "begin 644 name" (octal mode, one space, a name): the name, else NULL. */
static const char *begin_line(const char *p, const char *eol, size_t *nlen)
{
    if (eol - p <= 10 || memcmp(p, "begin ", 6) || p[6] < '0' || p[6] > '7')
        return NULL;
    const char *q = p + 6;
    while (q < eol && *q >= '0' && *q <= '7')
        q++;
    if (q >= eol || *q != ' ')
        return NULL;
    const char *name = q + 1;
    *nlen = (size_t)(eol - name);
    while (*nlen && name[*nlen - 1] == '\r')
        (*nlen)--;
    return name;
}

static zh_err uuencode_extract(struct zhi_extract *x, size_t idx)
{
    struct zhi_scan *s = zhi_extract_scan(x);
    const struct zhi_object text = s->objects[idx];
    const char *p = (const char *)text.data, *end = p + text.len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *eol = nl ? nl : end;
        size_t nlen;
        const char *name = begin_line(p, eol, &nlen);
        if (!name) {
            p = nl ? nl + 1 : end;
            continue;
        }
        char *fname = zhi_arena_memdup(s->arena, name, nlen);
        if (!fname)
            return ZH_ERR_FATAL;
        zh_err rc = zhi_extract_count(x, text.path);
        if (rc != ZH_ERR_OK)
            return rc;
        /* Find the block's end first: the buffer is sized by the block, not by
         * the rest of the text, so many "begin" lines cost no more than the text. */
        const char *body = nl ? nl + 1 : end, *l = body, *stop = end;
        bool ended = false;
        while (l < end) {
            const char *lnl = memchr(l, '\n', (size_t)(end - l));
            size_t ll = (size_t)((lnl ? lnl : end) - l);
            if (ll && l[ll - 1] == '\r')
                ll--;
            if (ll == 3 && !memcmp(l, "end", 3)) {
                ended = true;
                stop = l;
                l = lnl ? lnl + 1 : end;
                break;
            }
            l = lnl ? lnl + 1 : end;
        }
        /* A line of n characters decodes to at most 3 * ceil((n - 1) / 4)
         * bytes: no more than the line and its newline, except a last line
         * without one (3 from 2); hence the slack, and the NUL. */
        uint8_t *buf = zhi_arena_alloc(s->arena, (size_t)(stop - body) + 4);
        if (!buf)
            return ZH_ERR_FATAL;
        size_t out = 0;
        for (const char *q = body; q < stop;) {
            const char *qnl = memchr(q, '\n', (size_t)(stop - q));
            size_t ll = (size_t)((qnl ? qnl : stop) - q);
            if (ll && q[ll - 1] == '\r')
                ll--;
            out += uu_line(q, ll, buf + out);
            q = qnl ? qnl + 1 : stop;
        }
        buf[out] = 0;
        unsigned flags = ZHI_OBJ_INLINE_UU | (ended ? 0 : ZHI_OBJ_TRUNCATED);
        if (zhi_extract_add(x, idx, fname, buf, out, flags) < 0)
            return ZH_ERR_FATAL;
        p = l;
    }
    return ZH_ERR_OK;
}

const struct zh_extractor zh_extractor_uuencode = {
    .name = "uuencode",
    .src = ZHI_SRC_uuencode,
    .member_kind = ZHI_K_ATTACHMENT,
    .bid = uuencode_bid,
    .extract = uuencode_extract,
};
