/* pdf: files embedded in PDF documents (/EmbeddedFile streams, named by the
 * /F or /UF of the file specification that points at them) become members;
 * what makes a PDF act — /JavaScript, /OpenAction, /AA, /Launch, /URI,
 * /SubmitForm, /RichMedia, XFA — is noted on the PDF (pdf.javascript,
 * pdf.openaction, pdf.launch, pdf.uri...) for the pdf_action detector and
 * YARA externals. Objects inside object streams (/ObjStm, PDF 1.5) are
 * decompressed and read the same way.
 *
 * Not a renderer: objects are found by their "N G obj" headers in file
 * order, as a reader repairing a damaged file does, so a broken xref table
 * hides nothing. Streams are decoded only when they matter (embedded files
 * and object streams), with zlib for FlateDecode and by hand for
 * ASCIIHexDecode, each byte through the stage's budget. Content that could
 * hide there and cannot be decoded — another filter, a predictor, an
 * encrypted document's streams, a cut stream — is a scored, unscannable hit:
 * never CLEAN what was not seen. Page content and images are not decoded. */
#include "../src/zhi.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define MAX_DICT (256 * 1024) /* a dictionary longer than this is not one */
#define CHUNK (64 * 1024)

/* What the document does, noted once each at the end. */
enum act {
    A_JAVASCRIPT,
    A_OPENACTION,
    A_AA,
    A_LAUNCH,
    A_URI,
    A_SUBMITFORM,
    A_RICHMEDIA,
    A_XFA,
    A_GOTOE,
    A__COUNT
};
static const struct {
    const char *name, *note;
} acts[A__COUNT] = {
    [A_JAVASCRIPT] = {"/JavaScript", "pdf.javascript"},
    [A_OPENACTION] = {"/OpenAction", "pdf.openaction"},
    [A_AA] = {"/AA", "pdf.aa"},
    [A_LAUNCH] = {"/Launch", "pdf.launch"},
    [A_URI] = {"/URI", "pdf.uri"},
    [A_SUBMITFORM] = {"/SubmitForm", "pdf.submitform"},
    [A_RICHMEDIA] = {"/RichMedia", "pdf.richmedia"},
    [A_XFA] = {"/XFA", "pdf.xfa"},
    [A_GOTOE] = {"/GoToE", "pdf.gotoe"},
};

struct filespec {
    unsigned long obj; /* the /EmbeddedFile stream it points at */
    const char *name;
};

struct embedded {
    unsigned long obj;
    const char *dict;
    size_t dict_len;
    const uint8_t *data;
    size_t len;
};

struct pdf {
    struct zhi_extract *x;
    struct zhi_scan *s;
    size_t idx;
    const char *path;
    bool encrypted;
    unsigned counts[A__COUNT];
    const char *launch, *uri; /* the first target of each, when written as a string */
    struct filespec *specs;
    size_t n_specs, cap_specs;
    struct embedded *files;
    size_t n_files, cap_files;
    unsigned objstms;
    const char *damage; /* the first thing that could not be decoded */
    uint64_t scanned;   /* bytes read looking for the ends of dictionaries */
    uint64_t budget;    /* most of them: unclosed "<<" must not make it quadratic */
    zh_err rc;
};

static int pdf_bid(const struct zhi_scan *s, const struct zhi_object *o)
{
    return o->sniffed == ZHI_T_PDF ? 100 : 0;
}

static bool delim(unsigned char c)
{
    return isspace(c) || c == 0 || strchr("()<>[]{}/%", c);
}

static int hexv(unsigned char c)
{
    return isdigit(c) ? c - '0' : isxdigit(c) ? tolower(c) - 'a' + 10 : -1;
}

/* Does the (normalised) dictionary hold the name key, as a whole name? */
static const char *name_at(const char *d, size_t n, const char *key)
{
    size_t kl = strlen(key);
    for (const char *p = memmem(d, n, key, kl); p;
         p = memmem(p + 1, n - (size_t)(p + 1 - d), key, kl))
        if ((size_t)(p - d) + kl >= n || delim((unsigned char)p[kl]))
            return p;
    return NULL;
}

/* Skip a literal string "(...)" (nested parentheses, escapes) from p[i] == '('. */
static size_t skip_string(const char *p, size_t n, size_t i)
{
    int depth = 0;
    for (; i < n; i++) {
        if (p[i] == '\\')
            i++;
        else if (p[i] == '(')
            depth++;
        else if (p[i] == ')' && --depth == 0)
            return i + 1;
    }
    return n;
}

/* The end of the dictionary that opens at p[i] == "<<", or 0 when it does
 * not close within MAX_DICT bytes. */
static size_t dict_end(const char *p, size_t n, size_t i, uint64_t *scanned)
{
    int depth = 0;
    size_t lim = n - i > MAX_DICT ? i + MAX_DICT : n, from = i;
    while (i < lim) {
        if (p[i] == '(') {
            i = skip_string(p, lim, i);
        } else if (p[i] == '<' && i + 1 < lim && p[i + 1] == '<') {
            depth++;
            i += 2;
        } else if (p[i] == '>' && i + 1 < lim && p[i + 1] == '>') {
            i += 2;
            if (--depth == 0) {
                *scanned += i - from;
                return i;
            }
        } else if (p[i] == '%') { /* a comment to the end of its line */
            while (i < lim && p[i] != '\n' && p[i] != '\r')
                i++;
        } else {
            i++;
        }
    }
    *scanned += lim - from;
    return 0;
}

/* The dictionary with "#xx" escapes in names resolved (/J#61vaScript is
 * /JavaScript to a reader); strings are copied as they are. Arena. */
static char *normalised(struct zhi_arena *a, const char *d, size_t n, size_t *out_len)
{
    char *o = zhi_arena_alloc(a, n + 1);
    if (!o)
        return NULL;
    size_t k = 0;
    bool in_name = false;
    for (size_t i = 0; i < n; i++) {
        char c = d[i];
        if (c == '(') {
            size_t e = skip_string(d, n, i);
            memcpy(o + k, d + i, e - i);
            k += e - i;
            i = e - 1;
            in_name = false;
            continue;
        }
        if (c == '/')
            in_name = true;
        else if (in_name && delim((unsigned char)c))
            in_name = false;
        if (in_name && c == '#' && i + 2 < n && hexv((unsigned char)d[i + 1]) >= 0 &&
            hexv((unsigned char)d[i + 2]) >= 0) {
            o[k++] = (char)(hexv((unsigned char)d[i + 1]) << 4 | hexv((unsigned char)d[i + 2]));
            i += 2;
            continue;
        }
        o[k++] = c;
    }
    o[k] = 0;
    *out_len = k;
    return o;
}

/* A string object at p (after blanks): "(literal)" or "<hex>", decoded, as
 * UTF-8 (UTF-16BE with its byte order mark, else PDFDocEncoding as Latin-1). */
static const char *string_at(struct zhi_arena *a, const char *p, size_t n)
{
    size_t i = 0;
    while (i < n && isspace((unsigned char)p[i]))
        i++;
    if (i >= n || (p[i] != '(' && p[i] != '<') || (p[i] == '<' && i + 1 < n && p[i + 1] == '<'))
        return NULL;
    /* Sized by the string itself, not by what follows it. */
    const char *gt = p[i] == '<' ? memchr(p + i, '>', n - i) : NULL;
    size_t span = p[i] == '<' ? (gt ? (size_t)(gt - (p + i)) : n - i) : skip_string(p, n, i) - i;
    uint8_t *b = zhi_arena_alloc(a, span + 1);
    if (!b)
        return NULL;
    size_t k = 0;
    if (p[i] == '<') {
        int hi = -1;
        for (i++; i < n && p[i] != '>'; i++) {
            int v = hexv((unsigned char)p[i]);
            if (v < 0)
                continue;
            if (hi < 0)
                hi = v;
            else
                b[k++] = (uint8_t)(hi << 4 | v), hi = -1;
        }
    } else {
        size_t end = skip_string(p, n, i);
        for (i++; i + 1 < end; i++) {
            char c = p[i];
            if (c == '\\' && i + 2 < end) {
                char e = p[++i];
                if (e >= '0' && e <= '7') {
                    int v = 0;
                    for (int d = 0; d < 3 && i + 1 < end && p[i] >= '0' && p[i] <= '7'; d++)
                        v = v * 8 + (p[i++] - '0');
                    i--;
                    c = (char)v;
                } else {
                    c = e == 'n'   ? '\n'
                        : e == 'r' ? '\r'
                        : e == 't' ? '\t'
                        : e == 'b' ? '\b'
                        : e == 'f' ? '\f'
                                   : e;
                }
            }
            b[k++] = (uint8_t)c;
        }
    }
    if (k >= 2 && b[0] == 0xfe && b[1] == 0xff)
        return zhi_utf16_to_utf8(a, b + 2, k - 2, true);
    return zhi_latin1_to_utf8(a, b, k);
}

/* The first value after key in d that is a string ("/F 7 0 R" in an /EF
 * dictionary is skipped for the "/F (name.exe)" beside it). */
static const char *string_of(struct zhi_arena *a, const char *d, size_t n, const char *key)
{
    size_t kl = strlen(key);
    for (const char *k = name_at(d, n, key); k;) {
        const char *v = string_at(a, k + kl, n - (size_t)(k + kl - d));
        if (v)
            return v;
        k = name_at(k + kl, n - (size_t)(k + kl - d), key);
    }
    return NULL;
}

/* The number after key in d ("/Length 1234", "/F 12 0 R"), or -1. */
static long number_of(const char *d, size_t n, const char *key)
{
    const char *k = name_at(d, n, key);
    if (!k)
        return -1;
    const char *p = k + strlen(key), *end = d + n;
    while (p < end && isspace((unsigned char)*p))
        p++;
    long v = 0;
    int digits = 0;
    while (p < end && isdigit((unsigned char)*p) && digits < 12)
        v = v * 10 + (*p++ - '0'), digits++;
    return digits ? v : -1;
}

/* What a dictionary says: actions, file specifications, and the kind of
 * stream it heads. */
static void read_dict(struct pdf *pd, const char *d, size_t n)
{
    struct zhi_arena *a = pd->s->arena;
    for (int i = 0; i < A__COUNT; i++)
        if (name_at(d, n, acts[i].name))
            pd->counts[i]++;
    if (name_at(d, n, "/JS"))
        pd->counts[A_JAVASCRIPT]++;
    if (name_at(d, n, "/Launch") && !pd->launch) {
        const char *t = string_of(a, d, n, "/F");
        pd->launch = t ? t : string_of(a, d, n, "/Win");
    }
    if (name_at(d, n, "/URI") && !pd->uri)
        pd->uri = string_of(a, d, n, "/URI");
    /* A file specification: << /Type /Filespec /F (a.exe) /UF (...) /EF << /F 7 0 R >> >> */
    const char *ef = name_at(d, n, "/EF");
    if (ef) {
        size_t rest = n - (size_t)(ef - d);
        long obj = number_of(ef, rest, "/F");
        if (obj < 0)
            obj = number_of(ef, rest, "/UF");
        const char *name = string_of(a, d, n, "/UF");
        if (!name || !*name)
            name = string_of(a, d, n, "/F");
        if (obj >= 0 && name && *name) {
            if (pd->n_specs == pd->cap_specs) {
                size_t cap = pd->cap_specs ? pd->cap_specs * 2 : 8;
                struct filespec *g = zhi_arena_alloc(a, cap * sizeof *g);
                if (!g) {
                    pd->rc = ZH_ERR_FATAL;
                    return;
                }
                if (pd->n_specs)
                    memcpy(g, pd->specs, pd->n_specs * sizeof *g);
                pd->specs = g, pd->cap_specs = cap;
            }
            pd->specs[pd->n_specs++] = (struct filespec){(unsigned long)obj, name};
        }
    }
}

static void damaged(struct pdf *pd, const char *why)
{
    if (!pd->damage)
        pd->damage = why;
}

/* Decode a stream's data through its filters into out, within the budget
 * (the bytes count under `path`). False when a filter cannot be decoded
 * here (damage says why); out keeps what was decoded. */
static bool decode(struct pdf *pd, const char *dict, size_t dn, const uint8_t *in, size_t len,
                   const char *path, struct zhi_buf *out)
{
    if (pd->encrypted) {
        damaged(pd, "the document is encrypted: its embedded files and object streams were not "
                    "decrypted");
        return false;
    }
    if (name_at(dict, dn, "/DecodeParms") && name_at(dict, dn, "/Predictor")) {
        damaged(pd, "a stream uses a predictor, which is not decoded");
        return false;
    }
    /* The filters, in order: /Filter /FlateDecode or /Filter [/A /B]. */
    const char *filters[4];
    size_t nf = 0;
    const char *f = name_at(dict, dn, "/Filter");
    if (f) {
        const char *p = f + 7, *end = dict + dn;
        while (p < end && isspace((unsigned char)*p))
            p++;
        bool array = p < end && *p == '[';
        while (p < end && *p != ']' && nf < 4) {
            while (p < end && *p != '/' && *p != ']' && *p != '>')
                p++;
            if (p >= end || *p != '/')
                break;
            filters[nf++] = p;
            p++;
            if (!array)
                break;
        }
        if (nf == 4) {
            damaged(pd, "a stream has more filters than are decoded");
            return false;
        }
    }
    struct zhi_buf a = {0}, b = {0};
    const uint8_t *cur = in;
    size_t cur_len = len;
    bool ok = true;
    for (size_t i = 0; i < nf && ok; i++) {
        struct zhi_buf *dst = i % 2 ? &b : &a;
        dst->len = 0;
        const char *name = filters[i];
        size_t nl = 1;
        while (name + nl < dict + dn && !delim((unsigned char)name[nl]))
            nl++;
        bool last = i + 1 == nf;
        if ((nl == 12 && !memcmp(name, "/FlateDecode", 12)) ||
            (nl == 3 && !memcmp(name, "/Fl", 3))) {
            z_stream z = {0};
            if (inflateInit(&z) != Z_OK) {
                pd->rc = ZH_ERR_FATAL;
                ok = false;
                break;
            }
            uint8_t *chunk = malloc(CHUNK);
            int r = Z_OK;
            z.next_in = (Bytef *)cur;
            z.avail_in = (uInt)(cur_len > UINT32_MAX ? UINT32_MAX : cur_len);
            while (chunk && r == Z_OK) {
                z.next_out = chunk;
                z.avail_out = CHUNK;
                r = inflate(&z, Z_NO_FLUSH);
                size_t got = CHUNK - z.avail_out;
                if (!got && r == Z_BUF_ERROR)
                    break;
                if (got && last &&
                    (pd->rc = zhi_extract_bytes(pd->x, path, dst->len + got, got,
                                                (uint64_t)(z.next_in - cur))) != ZH_ERR_OK) {
                    ok = false;
                    break;
                }
                if (got && !zhi_buf_append(dst, chunk, got)) {
                    pd->rc = ZH_ERR_FATAL;
                    ok = false;
                    break;
                }
                if (!last && dst->len > zhi_limit_bound(pd->s, ZHI_L_member_bytes)) {
                    ok = false; /* an inner stage beyond a member's bound */
                    zhi_scan_limit(pd->s, ZHI_L_member_bytes, dst->len, path);
                    pd->rc = ZH_ERR_LIMIT_SIZE;
                    break;
                }
            }
            if (!chunk)
                pd->rc = ZH_ERR_FATAL, ok = false;
            free(chunk);
            inflateEnd(&z);
            if (ok && r != Z_STREAM_END) {
                damaged(pd, "a FlateDecode stream is damaged or cut short");
                ok = false;
            }
        } else if ((nl == 15 && !memcmp(name, "/ASCIIHexDecode", 15)) ||
                   (nl == 4 && !memcmp(name, "/AHx", 4))) {
            int hi = -1;
            for (size_t k = 0; k < cur_len && cur[k] != '>'; k++) {
                int v = hexv(cur[k]);
                if (v < 0)
                    continue;
                if (hi < 0) {
                    hi = v;
                    continue;
                }
                uint8_t byte = (uint8_t)(hi << 4 | v);
                hi = -1;
                if (!zhi_buf_append(dst, &byte, 1)) {
                    pd->rc = ZH_ERR_FATAL;
                    ok = false;
                    break;
                }
            }
            if (ok && last && dst->len &&
                (pd->rc = zhi_extract_bytes(pd->x, path, dst->len, dst->len, cur_len)) != ZH_ERR_OK)
                ok = false;
        } else {
            damaged(pd, "a stream uses a filter that is not decoded (only FlateDecode and "
                        "ASCIIHexDecode are)");
            ok = false;
        }
        cur = dst->p ? dst->p : (const uint8_t *)"";
        cur_len = dst->len;
    }
    out->len = 0;
    if (nf == 0) {
        if ((pd->rc = zhi_extract_bytes(pd->x, path, len, len, len)) == ZH_ERR_OK &&
            !zhi_buf_append(out, in, len))
            pd->rc = ZH_ERR_FATAL;
        ok = pd->rc == ZH_ERR_OK;
    } else if (cur_len && !zhi_buf_append(out, cur, cur_len)) {
        pd->rc = ZH_ERR_FATAL;
        ok = false;
    }
    free(a.p);
    free(b.p);
    return ok;
}

static void walk(struct pdf *pd, const char *p, size_t n, bool in_objstm);

/* The objects of an object stream: its decoded text, read like a file. */
static void object_stream(struct pdf *pd, const char *dict, size_t dn, const uint8_t *data,
                          size_t len, unsigned long obj)
{
    const char *path = zhi_arena_printf(pd->s->arena, "%s/objstm-%lu", pd->path, obj);
    struct zhi_buf out = {0};
    if (!path) {
        pd->rc = ZH_ERR_FATAL;
        return;
    }
    pd->objstms++;
    decode(pd, dict, dn, data, len, path, &out);
    if (pd->rc == ZH_ERR_OK && out.len) {
        /* Objects in an object stream have no "obj" headers: read the whole
         * text as one dictionary run. */
        walk(pd, (const char *)out.p, out.len, true);
    }
    free(out.p);
}

/* The stream after a dictionary ending at p[i]: its data, or false. */
static bool stream_after(const char *p, size_t n, size_t i, const char *dict, size_t dn,
                         const uint8_t **data, size_t *len, size_t *next)
{
    while (i < n && isspace((unsigned char)p[i]))
        i++;
    if (n - i < 6 || memcmp(p + i, "stream", 6))
        return false;
    i += 6;
    if (i < n && p[i] == '\r')
        i++;
    if (i < n && p[i] == '\n')
        i++;
    long declared = number_of(dict, dn, "/Length");
    const char *after = NULL;
    /* A direct /Length that lands on "endstream" is believed; else search. */
    if (declared >= 0 && (size_t)declared <= n - i) {
        size_t e = i + (size_t)declared;
        while (e < n && isspace((unsigned char)p[e]))
            e++;
        if (n - e >= 9 && !memcmp(p + e, "endstream", 9))
            after = p + i + declared;
    }
    if (!after) {
        const char *es = memmem(p + i, n - i, "endstream", 9);
        after = es ? es : p + n;
        /* the end-of-line before endstream is not data */
        if (after > p + i && after[-1] == '\n')
            after--;
        if (after > p + i && after[-1] == '\r')
            after--;
    }
    *data = (const uint8_t *)p + i;
    *len = (size_t)(after - (p + i));
    *next = (size_t)(after - p);
    return true;
}

/* The object number before "obj" at p[k], or false when "obj" is no header. */
static bool obj_header(const char *p, size_t k, unsigned long *num)
{
    size_t i = k;
    if (i > 0 && !isspace((unsigned char)p[i - 1]))
        return false;
    while (i > 0 && isspace((unsigned char)p[i - 1]))
        i--;
    size_t gen_end = i;
    while (i > 0 && isdigit((unsigned char)p[i - 1]))
        i--;
    if (i == gen_end || i == 0 || !isspace((unsigned char)p[i - 1]))
        return false;
    while (i > 0 && isspace((unsigned char)p[i - 1]))
        i--;
    size_t num_end = i;
    while (i > 0 && isdigit((unsigned char)p[i - 1]) && num_end - i < 10)
        i--;
    if (i == num_end)
        return false;
    *num = strtoul(p + i, NULL, 10);
    return true;
}

/* Every dictionary of p: after "N G obj" headers in a file, or every
 * top-level one in an object stream's text. */
static void walk(struct pdf *pd, const char *p, size_t n, bool in_objstm)
{
    size_t i = 0;
    while (i < n && pd->rc == ZH_ERR_OK) {
        unsigned long obj = 0;
        size_t start;
        if (in_objstm) {
            const char *lt = memmem(p + i, n - i, "<<", 2);
            if (!lt)
                return;
            start = (size_t)(lt - p);
        } else {
            const char *o = memmem(p + i, n - i, "obj", 3);
            if (!o)
                return;
            size_t k = (size_t)(o - p);
            i = k + 3;
            if (!obj_header(p, k, &obj) || (k + 3 < n && !delim((unsigned char)p[k + 3])))
                continue;
            start = k + 3;
            while (start < n && isspace((unsigned char)p[start]))
                start++;
            if (n - start < 2 || p[start] != '<' || p[start + 1] != '<')
                continue;
        }
        if (pd->scanned > pd->budget) {
            damaged(pd, "too many unterminated dictionaries to read the rest");
            return;
        }
        size_t end = dict_end(p, n, start, &pd->scanned);
        if (!end) {
            i = start + 2;
            continue;
        }
        size_t dn;
        const char *d = normalised(pd->s->arena, p + start, end - start, &dn);
        if (!d) {
            pd->rc = ZH_ERR_FATAL;
            return;
        }
        read_dict(pd, d, dn);
        i = end;
        const uint8_t *data;
        size_t len, next;
        if (in_objstm || !stream_after(p, n, end, d, dn, &data, &len, &next))
            continue;
        i = next;
        if (name_at(d, dn, "/ObjStm")) {
            object_stream(pd, d, dn, data, len, obj);
        } else if (name_at(d, dn, "/EmbeddedFile")) {
            if (pd->n_files == pd->cap_files) {
                size_t cap = pd->cap_files ? pd->cap_files * 2 : 4;
                struct embedded *g = zhi_arena_alloc(pd->s->arena, cap * sizeof *g);
                if (!g) {
                    pd->rc = ZH_ERR_FATAL;
                    return;
                }
                if (pd->n_files)
                    memcpy(g, pd->files, pd->n_files * sizeof *g);
                pd->files = g, pd->cap_files = cap;
            }
            pd->files[pd->n_files++] = (struct embedded){obj, d, dn, data, len};
        }
    }
}

static const char *file_name(struct pdf *pd, const struct embedded *e, size_t k)
{
    for (size_t i = 0; i < pd->n_specs; i++)
        if (pd->specs[i].obj == e->obj)
            return pd->specs[i].name;
    return zhi_arena_printf(pd->s->arena, "embedded-%zu.bin", k + 1);
}

static zh_err pdf_extract(struct zhi_extract *x, size_t idx)
{
    struct zhi_scan *s = zhi_extract_scan(x);
    const struct zhi_object doc = s->objects[idx]; /* appending moves s->objects */
    struct pdf pd = {.x = x, .s = s, .idx = idx, .path = doc.path};
    /* Each byte read a few times at most, whatever the nesting of "<<". */
    pd.budget = 8 * (uint64_t)doc.len + MAX_DICT;
    const char *p = (const char *)doc.data;
    /* The trailer (or the cross-reference stream) names an /Encrypt dictionary. */
    for (const char *e = memmem(p, doc.len, "/Encrypt", 8); e && !pd.encrypted;
         e = memmem(e + 8, doc.len - (size_t)(e + 8 - p), "/Encrypt", 8))
        pd.encrypted = (size_t)(e + 8 - p) < doc.len && delim((unsigned char)e[8]);
    walk(&pd, p, doc.len, false);
    for (size_t k = 0; k < pd.n_files && pd.rc == ZH_ERR_OK; k++) {
        const struct embedded *e = &pd.files[k];
        const char *name = file_name(&pd, e, k);
        const char *path = name ? zhi_arena_printf(s->arena, "%s/%s", doc.path, name) : NULL;
        if (!path)
            return ZH_ERR_FATAL;
        if ((pd.rc = zhi_extract_count(x, doc.path)) != ZH_ERR_OK)
            break;
        struct zhi_buf out = {0};
        bool whole = decode(&pd, e->dict, e->dict_len, e->data, e->len, path, &out);
        if (pd.rc == ZH_ERR_FATAL) {
            free(out.p);
            return ZH_ERR_FATAL;
        }
        if (out.len || whole) {
            const uint8_t *data =
                zhi_arena_memdup(s->arena, out.p ? out.p : (const uint8_t *)"", out.len);
            if (!data ||
                zhi_extract_add(x, idx, name, data, out.len, whole ? 0 : ZHI_OBJ_TRUNCATED) < 0) {
                free(out.p);
                return ZH_ERR_FATAL;
            }
        }
        free(out.p);
    }
    if (pd.rc == ZH_ERR_FATAL)
        return pd.rc;
    zh_err rc = ZH_ERR_OK;
    for (int i = 0; i < A__COUNT && rc == ZH_ERR_OK; i++) {
        if (!pd.counts[i])
            continue;
        const char *v = i == A_LAUNCH && pd.launch ? pd.launch
                        : i == A_URI && pd.uri     ? pd.uri
                                                   : NULL;
        rc = v ? zhi_object_note(s, idx, acts[i].note, "%s", v)
               : zhi_object_note(s, idx, acts[i].note, "%u", pd.counts[i]);
    }
    if (rc == ZH_ERR_OK && pd.n_files)
        rc = zhi_object_note(s, idx, "pdf.embedded_files", "%zu", pd.n_files);
    if (rc == ZH_ERR_OK && pd.objstms)
        rc = zhi_object_note(s, idx, "pdf.objstm", "%u", pd.objstms);
    if (rc == ZH_ERR_OK && pd.encrypted)
        rc = zhi_object_note(s, idx, "pdf.encrypted", "1");
    if (rc == ZH_ERR_OK && pd.damage)
        rc = zhi_extract_damaged(x, "undecodable_pdf", doc.path,
                                 "PDF content that could hold files or actions was not seen: %s",
                                 pd.damage);
    return rc != ZH_ERR_OK ? rc : pd.rc;
}

const struct zh_extractor zh_extractor_pdf = {
    .name = "pdf",
    .src = ZHI_SRC_pdf,
    .flags = ZH_EXTRACT_NESTS,
    .member_kind = ZHI_K_MEMBER,
    .bid = pdf_bid,
    .extract = pdf_extract,
};
