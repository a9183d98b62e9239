/* smuggling: HTML and SVG attachments that rebuild a file in the browser
 * ("HTML smuggling", MITRE ATT&CK T1027.006), as the Qakbot, IcedID,
 * Bumblebee and NOBELIUM (EnvyScout) waves delivered their zip and ISO files
 * (tests/corpus/README.md cites the write-ups). The page carries the file as
 * a literal — a base64 string decoded by atob (Qakbot encoded it twice, and
 * sometimes reversed), an array of byte values for a Uint8Array or
 * String.fromCharCode, or a data: URI — and hands it to the user through a
 * Blob with URL.createObjectURL or navigator.msSaveOrOpenBlob, or an <a
 * download> link. The rebuilt bytes become a member, named by the download
 * attribute or the save call when the page gives a name (else "blob.bin"),
 * and are opened in turn (the zip → ISO → shortcut chain).
 *
 * Bounded and static: only literals written in the page are decoded, no
 * script runs; each literal is decoded at most a few times, so the work is
 * linear in the page. A page with a sink and a long encoded literal from
 * which nothing could be rebuilt (obfuscated past what literals show) is
 * noted html.smuggling=unresolved for the judgement: it was not fully seen. */
#include "../src/zhi.h"

#include <ctype.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>

#define MIN_BASE64 128      /* base64 characters of a literal worth decoding */
#define MIN_UNRESOLVED 1024 /* an encoded literal this long that rebuilt nothing */
#define MIN_BYTE_VALUES 64  /* values in a byte array literal */
#define MAX_LAYERS 3        /* base64 inside base64 (Qakbot used two) */
#define MAX_NAME 255

static int smuggling_bid(const struct zhi_scan *s, const struct zhi_object *o)
{
    if (o->kind != ZHI_K_ATTACHMENT && o->kind != ZHI_K_MEMBER)
        return 0; /* mail bodies run no script */
    if (o->sniffed == ZHI_T_HTML)
        return 50;
    static const char *const exts[] = {"html", "htm", "xhtml", "shtml", "xht", "svg", "svgz"};
    for (size_t i = 0; i < sizeof exts / sizeof exts[0]; i++)
        if (!strcmp(o->ext, exts[i]))
            return o->sniffed == ZHI_T_TEXT || o->sniffed == ZHI_T_HTML ? 50 : 0;
    return !strncasecmp(o->declared_type, "text/html", 9) ||
                   !strcasecmp(o->declared_type, "image/svg+xml")
               ? (o->sniffed == ZHI_T_TEXT ? 50 : 0)
               : 0;
}

struct page {
    const char *p;
    size_t n;
    bool sink;        /* createObjectURL, msSaveOrOpenBlob or a download property */
    bool reversed;    /* the script reverses strings */
    bool source;      /* atob, Uint8Array or fromCharCode */
    const char *name; /* the file name the script or a link gives, or NULL */
    size_t longest;   /* longest string literal without blanks */
};

struct found {
    const uint8_t *data;
    size_t len, in;
    const char *technique, *name;
};

static bool has(const struct page *pg, const char *needle)
{
    return memmem(pg->p, pg->n, needle, strlen(needle)) != NULL;
}

static int b64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+' || c == '-')
        return 62;
    if (c == '/' || c == '_')
        return 63;
    return -1;
}

/* Decode base64 (standard or URL-safe, blanks ignored) into out, which has
 * room for 3/4 of n; padding is skipped. Returns the bytes written, or 0 when a
 * character is neither base64 nor blank. */
static size_t b64_decode(const char *in, size_t n, uint8_t *out)
{
    uint32_t acc = 0;
    int bits = 0;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)in[i];
        if (c == '=' || isspace(c))
            continue; /* padding ends a quantum; a reversed string starts with it */
        int v = b64_value(c);
        if (v < 0)
            return 0;
        acc = acc << 6 | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (uint8_t)(acc >> bits);
        }
    }
    return o;
}

static int hex(char c)
{
    return isdigit((unsigned char)c) ? c - '0' : tolower((unsigned char)c) - 'a' + 10;
}

/* An even number of hex digits and nothing else. */
static bool all_hex(const char *p, size_t n)
{
    if (n % 2)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isxdigit((unsigned char)p[i]))
            return false;
    return true;
}

/* Text made of base64 characters only (and blanks), at least min of them. */
static bool all_base64(const uint8_t *p, size_t n, size_t min)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '=' && k >= min)
            return true;
        if (isspace(p[i]))
            continue;
        if (b64_value(p[i]) < 0)
            return false;
        k++;
    }
    return k >= min;
}

/* Decode text that is base64, again while the result is base64 itself. */
static bool decode_layers(struct zhi_arena *a, const char *text, size_t n, struct found *f,
                          int *layers)
{
    uint8_t *out = zhi_arena_alloc(a, n / 4 * 3 + 4);
    if (!out)
        return false;
    size_t len = b64_decode(text, n, out);
    *layers = 1;
    while (len >= MIN_BASE64 * 3 / 4 && *layers < MAX_LAYERS && all_base64(out, len, 64)) {
        uint8_t *again = zhi_arena_alloc(a, len / 4 * 3 + 4);
        if (!again)
            return false;
        size_t l2 = b64_decode((const char *)out, len, again);
        if (!l2)
            break;
        out = again, len = l2;
        ++*layers;
    }
    out[len] = 0;
    f->data = out;
    f->len = len;
    f->in = n;
    return true;
}

/* A JavaScript string literal starting at the quote p[i], followed by any
 * "+ '...'" continuations: its characters with escapes resolved into out
 * (NULL: only count them). Returns the count, sets *end past the chain,
 * *b64 false when a character is not base64 or blank, and *dense false when
 * one is blank (encoded payloads have none; prose and markup do). */
static size_t js_literal(const char *p, size_t n, size_t i, char *out, size_t *end, bool *b64,
                         bool *dense)
{
    size_t k = 0;
    *b64 = *dense = true;
    for (;;) {
        char q = p[i++];
        while (i < n && p[i] != q) {
            char c = p[i++];
            if (c == '\\' && i < n) {
                char e = p[i++];
                c = e == 'n' ? '\n' : e == 'r' ? '\r' : e == 't' ? '\t' : e;
                if (e == '\n' || e == '\r')
                    continue; /* a line continuation */
            } else if (c == '\n' && q != '`') {
                break; /* an unterminated literal ends at its line */
            }
            if (b64_value((unsigned char)c) < 0 && !isspace((unsigned char)c) && c != '=')
                *b64 = false;
            if (isspace((unsigned char)c))
                *dense = false;
            if (out)
                out[k] = c;
            k++;
        }
        if (i < n)
            i++; /* the closing quote */
        size_t j = i;
        while (j < n && isspace((unsigned char)p[j]))
            j++;
        if (j >= n || p[j] != '+')
            break;
        j++;
        while (j < n && isspace((unsigned char)p[j]))
            j++;
        if (j >= n || (p[j] != '"' && p[j] != '\'' && p[j] != '`'))
            break;
        i = j;
    }
    *end = i;
    return k;
}

/* A file name in quotes after `key` ("download=", ".download =",
 * "msSaveOrOpenBlob(x, "): the first such name in the page, or NULL. */
static const char *quoted_after(struct zhi_arena *a, const char *p, size_t n, const char *key,
                                bool skip_argument)
{
    size_t kl = strlen(key);
    for (const char *at = memmem(p, n, key, kl); at;
         at = memmem(at + 1, n - (size_t)(at + 1 - p), key, kl)) {
        const char *q = at + kl, *end = p + n;
        if (skip_argument) { /* past the first argument, to the comma */
            while (q < end && *q != ',' && *q != ')')
                q++;
            if (q < end && *q == ',')
                q++;
        }
        while (q < end && (isspace((unsigned char)*q) || *q == '='))
            q++;
        if (q >= end || (*q != '"' && *q != '\''))
            continue;
        const char *close = memchr(q + 1, *q, (size_t)(end - q - 1));
        if (!close || close == q + 1 || close - q - 1 > MAX_NAME)
            continue;
        return zhi_arena_memdup(a, q + 1, (size_t)(close - q - 1));
    }
    return NULL;
}

/* A list of byte values ("80, 75, 0x03, 4" up to ']' or ')') at p[i]: the
 * bytes into out (NULL: count only); 0 when a value is not a byte. */
static size_t byte_list(const char *p, size_t n, size_t i, uint8_t *out, size_t *end)
{
    size_t k = 0;
    while (i < n) {
        while (i < n && (isspace((unsigned char)p[i]) || p[i] == ','))
            i++;
        if (i < n && (p[i] == ']' || p[i] == ')'))
            break;
        unsigned long v = 0;
        size_t digits = 0;
        if (i + 1 < n && p[i] == '0' && (p[i + 1] == 'x' || p[i + 1] == 'X')) {
            for (i += 2; i < n && isxdigit((unsigned char)p[i]) && digits < 4; i++, digits++)
                v = v * 16 + (unsigned long)hex(p[i]);
        } else {
            for (; i < n && isdigit((unsigned char)p[i]) && digits < 4; i++, digits++)
                v = v * 10 + (unsigned long)(p[i] - '0');
        }
        if (!digits || v > 255)
            return 0;
        if (out)
            out[k] = (uint8_t)v;
        k++;
    }
    *end = i;
    return k;
}

/* The media type of a data: URI is one a page shows inline (an image, a
 * font, a style sheet), not a file to save. */
static bool inline_media(const char *t, size_t n)
{
    static const char *const kinds[] = {"image/",
                                        "font/",
                                        "text/css",
                                        "audio/",
                                        "video/",
                                        "application/font",
                                        "application/x-font"};
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if (n >= strlen(kinds[i]) && !strncasecmp(t, kinds[i], strlen(kinds[i])))
            return true;
    return false;
}

/* The <a ...> tag around offset at, when there is one and it has a download
 * attribute: its name (or "" when it gives none). */
static const char *download_link(struct zhi_arena *a, const struct page *pg, size_t at)
{
    size_t lo = at > 4096 ? at - 4096 : 0, i = at;
    while (i > lo && pg->p[i] != '<' && pg->p[i] != '>')
        i--;
    if (pg->p[i] != '<' || i + 2 >= pg->n || tolower((unsigned char)pg->p[i + 1]) != 'a' ||
        !isspace((unsigned char)pg->p[i + 2]))
        return NULL;
    const char *close = memchr(pg->p + at, '>', pg->n - at);
    size_t tag_end = close ? (size_t)(close - pg->p) : pg->n;
    const char *tag = pg->p + i;
    size_t tl = tag_end - i;
    const char *d = NULL;
    for (const char *x = tag; (x = memmem(x, tl - (size_t)(x - tag), "download", 8)); x += 8)
        if (isspace((unsigned char)x[-1])) {
            d = x;
            break;
        }
    if (!d)
        return NULL;
    const char *name = quoted_after(a, d, tl - (size_t)(d - tag), "download", false);
    return name ? name : "";
}

struct ctx {
    struct zhi_extract *x;
    struct zhi_scan *s;
    size_t idx;
    const char *path;
    struct page pg;
    unsigned rebuilt;
    zh_err rc;
};

static void rebuilt(struct ctx *c, const struct found *f)
{
    if (c->rc != ZH_ERR_OK || !f->len)
        return;
    struct zhi_scan *s = c->s;
    const char *name = f->name && *f->name ? f->name
                       : c->rebuilt ? zhi_arena_printf(s->arena, "blob-%u.bin", c->rebuilt + 1)
                                    : "blob.bin";
    const char *path = name ? zhi_arena_printf(s->arena, "%s/%s", c->path, name) : NULL;
    if (!path) {
        c->rc = ZH_ERR_FATAL;
        return;
    }
    if ((c->rc = zhi_extract_count(c->x, c->path)) != ZH_ERR_OK ||
        (c->rc = zhi_extract_bytes(c->x, path, f->len, f->len, f->in)) != ZH_ERR_OK)
        return;
    if (zhi_object_note(s, c->idx, "html.smuggling", "%s", f->technique) != ZH_ERR_OK ||
        zhi_extract_add(c->x, c->idx, name, f->data, f->len, 0) < 0)
        c->rc = ZH_ERR_FATAL;
    c->rebuilt++;
}

/* The page's own name goes to its largest payload, kept aside in best until
 * every literal is seen; the others are rebuilt now, numbered (an inline
 * icon beside the payload, say). */
static void keep(struct ctx *c, struct found *best, const struct found *f)
{
    if (f->len > best->len) {
        if (best->len)
            rebuilt(c, best);
        *best = *f;
    } else {
        rebuilt(c, f);
    }
}

/* data: URIs behind a download link, or saved by a script. */
static void data_uris(struct ctx *c)
{
    const struct page *pg = &c->pg;
    for (const char *at = memmem(pg->p, pg->n, "data:", 5); at && c->rc == ZH_ERR_OK;
         at = memmem(at + 5, pg->n - (size_t)(at + 5 - pg->p), "data:", 5)) {
        size_t off = (size_t)(at - pg->p), i = off + 5;
        size_t type_start = i;
        while (i < pg->n && pg->p[i] != ',' && pg->p[i] != '"' && pg->p[i] != '\'' && i - off < 256)
            i++;
        if (i >= pg->n || pg->p[i] != ',')
            continue;
        const char *meta = pg->p + type_start;
        size_t ml = i - type_start;
        bool base64 = ml >= 7 && !strncasecmp(meta + ml - 7, ";base64", 7);
        size_t start = ++i;
        while (i < pg->n && pg->p[i] != '"' && pg->p[i] != '\'' && pg->p[i] != '`' &&
               pg->p[i] != '>' && pg->p[i] != ')')
            i++;
        const char *link = download_link(c->s->arena, pg, off);
        if (!link && (!pg->sink || inline_media(meta, ml)))
            continue; /* an inline image of a newsletter, a style sheet's font */
        struct found f = {.technique = "data-uri-download",
                          .name = link && *link ? link : pg->name};
        int layers = 0;
        if (base64) {
            if (!decode_layers(c->s->arena, pg->p + start, i - start, &f, &layers)) {
                c->rc = ZH_ERR_FATAL;
                return;
            }
        } else {
            uint8_t *out = zhi_arena_alloc(c->s->arena, i - start + 1);
            if (!out) {
                c->rc = ZH_ERR_FATAL;
                return;
            }
            size_t o = 0;
            for (size_t k = start; k < i; k++) {
                if (pg->p[k] == '%' && k + 2 < i && isxdigit((unsigned char)pg->p[k + 1]) &&
                    isxdigit((unsigned char)pg->p[k + 2])) {
                    out[o++] = (uint8_t)(hex(pg->p[k + 1]) << 4 | hex(pg->p[k + 2]));
                    k += 2;
                } else {
                    out[o++] = (uint8_t)pg->p[k];
                }
            }
            out[o] = 0;
            f.data = out, f.len = o, f.in = i - start;
        }
        rebuilt(c, &f);
    }
}

/* Base64 string literals of the script (atob's input). */
static void base64_literals(struct ctx *c, struct found *best)
{
    const struct page *pg = &c->pg;
    size_t i = 0;
    while (i < pg->n && c->rc == ZH_ERR_OK) {
        char ch = pg->p[i];
        if (ch != '"' && ch != '\'' && ch != '`') {
            i++;
            continue;
        }
        size_t end;
        bool b64, dense;
        size_t len = js_literal(pg->p, pg->n, i, NULL, &end, &b64, &dense);
        if (dense && len > c->pg.longest)
            c->pg.longest = len;
        if (!b64 || len < MIN_BASE64) {
            i = end > i ? end : i + 1;
            continue;
        }
        char *text = zhi_arena_alloc(c->s->arena, len + 1);
        if (!text) {
            c->rc = ZH_ERR_FATAL;
            return;
        }
        js_literal(pg->p, pg->n, i, text, &end, &b64, &dense);
        struct found f = {0};
        int layers;
        if (all_hex(text, len)) {
            /* hex digits are base64 characters too; a page that spells its
             * payload in hex means hex */
            uint8_t *out = zhi_arena_alloc(c->s->arena, len / 2 + 1);
            if (!out) {
                c->rc = ZH_ERR_FATAL;
                return;
            }
            for (size_t k = 0; k + 1 < len; k += 2)
                out[k / 2] = (uint8_t)(hex(text[k]) << 4 | hex(text[k + 1]));
            out[len / 2] = 0;
            f = (struct found){.data = out, .len = len / 2, .in = len, .technique = "hex"};
            keep(c, best, &f);
            i = end;
            continue;
        }
        if (!decode_layers(c->s->arena, text, len, &f, &layers)) {
            c->rc = ZH_ERR_FATAL;
            return;
        }
        f.technique = layers > 1 ? "atob-double" : "atob";
        /* Qakbot also wrote the string backwards and reversed it in the page. */
        enum zhi_type t = zhi_sniff(f.data, f.len);
        if (pg->reversed && (t == ZHI_T_DATA || t == ZHI_T_TEXT || t == ZHI_T_EMPTY)) {
            for (size_t a = 0, b = len ? len - 1 : 0; a < b; a++, b--) {
                char tmp = text[a];
                text[a] = text[b];
                text[b] = tmp;
            }
            struct found r = {0};
            if (!decode_layers(c->s->arena, text, len, &r, &layers)) {
                c->rc = ZH_ERR_FATAL;
                return;
            }
            enum zhi_type rt = zhi_sniff(r.data, r.len);
            if (rt != ZHI_T_DATA && rt != ZHI_T_TEXT) {
                f = r;
                f.technique = "atob-reversed";
            }
        }
        keep(c, best, &f);
        i = end;
    }
}

/* Byte arrays: new Uint8Array([80, 75, ...]) and String.fromCharCode(80, 75, ...). */
static void byte_arrays(struct ctx *c, struct found *best)
{
    const struct page *pg = &c->pg;
    for (size_t i = 0; i < pg->n && c->rc == ZH_ERR_OK; i++) {
        if (pg->p[i] != '[' && pg->p[i] != '(')
            continue;
        size_t end;
        size_t count = byte_list(pg->p, pg->n, i + 1, NULL, &end);
        if (count < MIN_BYTE_VALUES)
            continue;
        uint8_t *out = zhi_arena_alloc(c->s->arena, count + 1);
        if (!out) {
            c->rc = ZH_ERR_FATAL;
            return;
        }
        byte_list(pg->p, pg->n, i + 1, out, &end);
        out[count] = 0;
        bool chars =
            i >= 12 && memmem(pg->p + (i >= 40 ? i - 40 : 0), i >= 40 ? 40 : i, "fromCharCode", 12);
        struct found f = {.data = out,
                          .len = count,
                          .in = end - i,
                          .technique = chars ? "char-codes" : "byte-array"};
        keep(c, best, &f);
        i = end;
    }
}

static zh_err smuggling_extract(struct zhi_extract *x, size_t idx)
{
    struct zhi_scan *s = zhi_extract_scan(x);
    const struct zhi_object page = s->objects[idx]; /* appending moves s->objects */
    struct ctx c = {.x = x, .s = s, .idx = idx, .path = page.path};
    c.pg = (struct page){.p = (const char *)page.data, .n = page.len};
    c.pg.sink = has(&c.pg, "createObjectURL") || has(&c.pg, "msSaveOrOpenBlob") ||
                has(&c.pg, "msSaveBlob") || has(&c.pg, ".download");
    c.pg.source = has(&c.pg, "atob") || has(&c.pg, "Uint8Array") || has(&c.pg, "fromCharCode");
    c.pg.reversed = has(&c.pg, "reverse()");
    c.pg.name = quoted_after(s->arena, c.pg.p, c.pg.n, "msSaveOrOpenBlob(", true);
    if (!c.pg.name)
        c.pg.name = quoted_after(s->arena, c.pg.p, c.pg.n, ".download", false);
    if (!c.pg.name)
        c.pg.name = quoted_after(s->arena, c.pg.p, c.pg.n, "download=", false);
    data_uris(&c);
    /* Script literals count only when the page hands something to the user. */
    if (c.pg.sink && c.pg.source && c.rc == ZH_ERR_OK) {
        struct found best = {0};
        base64_literals(&c, &best); /* atob's, or a decoder of the page's own */
        if (c.rc == ZH_ERR_OK && (has(&c.pg, "Uint8Array") || has(&c.pg, "fromCharCode")))
            byte_arrays(&c, &best);
        best.name = c.pg.name;
        rebuilt(&c, &best);
        if (c.rc == ZH_ERR_OK && !c.rebuilt && c.pg.longest >= MIN_UNRESOLVED &&
            zhi_object_note(s, idx, "html.smuggling", "unresolved") != ZH_ERR_OK)
            c.rc = ZH_ERR_FATAL;
    }
    return c.rc;
}

const struct zh_extractor zh_extractor_smuggling = {
    .name = "smuggling",
    .src = ZHI_SRC_smuggling,
    .flags = ZH_EXTRACT_NESTS,
    .member_kind = ZHI_K_MEMBER,
    .bid = smuggling_bid,
    .extract = smuggling_extract,
};
