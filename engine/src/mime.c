/* MIME flattening: GMime parses the message once and every part becomes a
 * scan object (header block, text decoded to UTF-8, attachments decoded from
 * base64/QP/uuencode). Containers, and uuencoded blocks inside text, are
 * opened later by the extract stage; this file only reads MIME. */
#include "zhi.h"

#include <ctype.h>
#include <gmime/gmime.h>
#include <string.h>
#include <strings.h>

struct zhi_mime {
    GMimeParserOptions *opts;
    unsigned warnings; /* bit (1 << code) per parser warning of this scan */
};

static void on_warning(gint64 offset, GMimeParserWarning code, const gchar *item, gpointer ud)
{
    struct zhi_mime *m = ud;
    if ((unsigned)code < 32)
        m->warnings |= 1u << code;
}

zh_err zhi_mime_new(struct zhi_mime **out)
{
    struct zhi_mime *m = calloc(1, sizeof *m);
    if (!m)
        return ZH_ERR_FATAL;
    m->opts = g_mime_parser_options_new();
    /* Worms write sloppy MIME on purpose; decode what a mail client would. */
    g_mime_parser_options_set_rfc2047_compliance_mode(m->opts, GMIME_RFC_COMPLIANCE_LOOSE);
    g_mime_parser_options_set_parameter_compliance_mode(m->opts, GMIME_RFC_COMPLIANCE_LOOSE);
    g_mime_parser_options_set_warning_callback(m->opts, on_warning, m);
    *out = m;
    return ZH_ERR_OK;
}

void zhi_mime_free(struct zhi_mime *m)
{
    if (!m)
        return;
    g_mime_parser_options_free(m->opts);
    free(m);
}

const char *zhi_extension_of(struct zhi_arena *a, const char *name)
{
    if (!name)
        return "";
    size_t n = strlen(name);
    while (n && (name[n - 1] == '.' || name[n - 1] == ' '))
        n--;
    size_t i = n;
    while (i && name[i - 1] != '.' && name[i - 1] != '/' && name[i - 1] != '\\')
        i--;
    if (i == 0 || name[i - 1] != '.' || n - i == 0 || n - i > 16)
        return "";
    char *ext = zhi_arena_memdup(a, name + i, n - i);
    if (!ext)
        return "";
    for (char *p = ext; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    return ext;
}

/* ---- before GMime -----------------------------------------------------------
 * GMime builds the whole tree of a message before anything can be counted: a
 * 31 MB message of 3.6 million empty parts took 4.7 GiB and 78 s. So the
 * lines that could open a part are counted first, and GMime is given only
 * the part of the message that fits in max_mime_parts. A line can open a
 * part when it is "--" followed by a declared boundary; every value given to
 * a boundary parameter anywhere in the message counts as declared (and the
 * first piece of an RFC 2231 continuation as a prefix), so the count can only
 * be too high, never too low. Closing delimiters count too: at most twice
 * the parts. Linear: each line is hashed once, up to BOUNDARY_MAX bytes. */
#define BOUNDARY_MAX 256

struct boundaries {
    uint64_t *keys; /* (hash of the first len bytes) | len, open addressing; 0 = empty */
    size_t cap, n;
    uint8_t lengths[BOUNDARY_MAX + 1]; /* lengths some boundary has */
    bool empty;                        /* boundary="" was declared: every "--" line may be one */
};

static uint64_t bkey(uint64_t h, size_t len)
{
    return (h << 9) | len | (1ULL << 63);
}

static void bset_add(struct boundaries *b, const uint8_t *v, size_t len)
{
    if (len == 0)
        b->empty = true;
    if (len == 0 || b->n * 2 >= b->cap)
        return; /* the table is sized for every occurrence; full cannot happen */
    if (len > BOUNDARY_MAX)
        len = BOUNDARY_MAX; /* a prefix of a longer one still matches its lines */
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < len; i++)
        h = (h ^ v[i]) * 1099511628211ULL;
    uint64_t k = bkey(h, len);
    for (size_t i = (size_t)(k % b->cap);; i = (i + 1) % b->cap) {
        if (b->keys[i] == k)
            return;
        if (!b->keys[i]) {
            b->keys[i] = k;
            b->n++;
            b->lengths[len] = 1;
            return;
        }
    }
}

static bool bset_has(const struct boundaries *b, uint64_t h, size_t len)
{
    uint64_t k = bkey(h, len);
    for (size_t i = (size_t)(k % b->cap); b->keys[i]; i = (i + 1) % b->cap)
        if (b->keys[i] == k)
            return true;
    return false;
}

static int hexval(uint8_t c)
{
    return c >= '0' && c <= '9'                     ? c - '0'
           : (c | 0x20) >= 'a' && (c | 0x20) <= 'f' ? (c | 0x20) - 'a' + 10
                                                    : -1;
}

/* The value after "boundary" at p (p[-1] is its 'b'): "=tok", "=\"q\"",
 * "*=charset''pct-encoded", "*0=tok", "*0*=charset''pct". */
static void boundary_value(struct boundaries *b, const uint8_t *p, const uint8_t *end,
                           uint8_t *scratch)
{
    p += 7; /* "oundary" */
    bool encoded = false;
    if (p < end && *p == '*') {
        p++;
        while (p < end && *p >= '0' && *p <= '9')
            p++;
        if (p < end && *p == '*')
            p++, encoded = true;
        else if (p[-1] == '*')
            encoded = true; /* boundary*=... */
    }
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    if (p >= end || *p != '=')
        return;
    p++;
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    size_t n = 0;
    if (p < end && *p == '"') {
        for (p++; p < end && *p != '"' && *p != '\n' && n < BOUNDARY_MAX; p++)
            scratch[n++] = *p == '\\' && p + 1 < end ? *++p : *p;
    } else {
        if (encoded) { /* charset'language'value */
            const uint8_t *q = p;
            int quotes = 0;
            while (q < end && quotes < 2 && *q != ';' && *q != '\n' && *q != ' ')
                quotes += *q++ == '\'';
            if (quotes == 2)
                p = q;
        }
        for (; p < end && n < BOUNDARY_MAX && *p != ';' && *p != '\r' && *p != '\n' && *p != ' ' &&
               *p != '\t' && *p != '"';
             p++) {
            if (encoded && *p == '%' && p + 2 < end && hexval(p[1]) >= 0 && hexval(p[2]) >= 0) {
                scratch[n++] = (uint8_t)(hexval(p[1]) << 4 | hexval(p[2]));
                p += 2;
            } else {
                scratch[n++] = *p;
            }
        }
    }
    bset_add(b, scratch, n);
}

struct prescan {
    size_t delimiters; /* lines that may open or close a part */
    size_t cut;        /* give GMime only [0, cut) */
};

/* Line ends: GMime trims the line end before a boundary as CRLF when the
 * message uses CRLF, so in a message that mixes them a base64 part whose
 * last line ends in a bare LF lost its last two bytes (405 of 407). */
static bool mixed_line_ends(const uint8_t *msg, size_t len)
{
    bool crlf = false, lf = false;
    for (const uint8_t *p = msg, *end = msg + len; p < end && !(crlf && lf);) {
        const uint8_t *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl)
            break;
        if (nl > msg && nl[-1] == '\r')
            crlf = true;
        else
            lf = true;
        p = nl + 1;
    }
    return crlf && lf;
}

/* A copy with every run of CRs before a LF removed: LF line ends only, as a
 * mailbox stores the message and a mail client reads it. */
static uint8_t *lf_only(struct zhi_arena *a, const uint8_t *msg, size_t len, size_t *out_len)
{
    uint8_t *out = zhi_arena_alloc(a, len + 1);
    if (!out)
        return NULL;
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        if (msg[i] == '\r') {
            size_t j = i;
            while (j < len && msg[j] == '\r')
                j++;
            if (j < len && msg[j] == '\n') {
                i = j - 1;
                continue;
            }
        }
        out[n++] = msg[i];
    }
    out[n] = 0;
    *out_len = n;
    return out;
}

static bool count_delimiters(struct zhi_arena *a, const uint8_t *msg, size_t len,
                             size_t max_delimiters, struct prescan *ps)
{
    ps->cut = len;
    ps->delimiters = 0;
    /* Every delimiter line starts with "--": mail with fewer such lines than
     * the bound (nearly all of it) needs no closer look. */
    size_t dashes = len >= 2 && msg[0] == '-' && msg[1] == '-';
    /* memchr for '-' rather than memmem for "\n--": '-' is rare in text and
     * absent from base64, so the vectorised memchr skips whole bodies. */
    for (const uint8_t *p = msg + 1, *end = msg + len;
         dashes <= max_delimiters && p + 1 < end && (p = memchr(p, '-', (size_t)(end - p - 1)));
         p++)
        if (p[-1] == '\n' && p[1] == '-')
            dashes++, p++;
    if (dashes <= max_delimiters)
        return true;
    /* Every "boundary" parameter (any case) may declare one: a '=' after
     * "boundary", "boundary*", "boundary*N" or "boundary*N*" and blanks. Find
     * them all, then size the table for all of them. */
    struct zhi_buf at = {0};
    for (const uint8_t *eq = msg, *end = msg + len; (eq = memchr(eq, '=', (size_t)(end - eq)));
         eq++) {
        const uint8_t *r = eq;
        while (r > msg && (r[-1] == ' ' || r[-1] == '\t'))
            r--;
        if (r > msg && r[-1] == '*')
            r--;
        while (r > msg && r[-1] >= '0' && r[-1] <= '9')
            r--;
        if (r > msg && r[-1] == '*')
            r--;
        if (r - msg < 8 || strncasecmp((const char *)r - 8, "boundary", 8))
            continue;
        size_t i = (size_t)(r - 7 - msg); /* "oundary" */
        if (!zhi_buf_append(&at, &i, sizeof i)) {
            free(at.p);
            return false;
        }
    }
    size_t occurrences = at.len / sizeof(size_t);
    if (!occurrences)
        return true; /* no multipart at all */
    struct boundaries b = {.cap = occurrences * 2 + 1};
    uint8_t *scratch = zhi_arena_alloc(a, BOUNDARY_MAX);
    if (!(b.keys = zhi_arena_alloc(a, b.cap * sizeof *b.keys)) || !scratch) {
        free(at.p);
        return false;
    }
    memset(b.keys, 0, b.cap * sizeof *b.keys);
    for (size_t k = 0; k < occurrences; k++)
        boundary_value(&b, msg + ((const size_t *)at.p)[k], msg + len, scratch);
    free(at.p);
    if (!b.n && !b.empty)
        return true;
    for (const uint8_t *p = msg, *end = msg + len; p < end;) {
        const uint8_t *nl = memchr(p, '\n', (size_t)(end - p));
        const uint8_t *eol = nl ? nl : end;
        if (eol - p >= 2 && p[0] == '-' && p[1] == '-') {
            bool delimiter = b.empty;
            uint64_t h = 1469598103934665603ULL;
            const uint8_t *q = p + 2;
            for (size_t l = 1; !delimiter && q < eol && l <= BOUNDARY_MAX; l++, q++) {
                h = (h ^ *q) * 1099511628211ULL;
                delimiter = b.lengths[l] && bset_has(&b, h, l);
            }
            if (delimiter && ++ps->delimiters > max_delimiters) {
                ps->cut = (size_t)(p - msg);
                return true;
            }
        }
        p = nl ? nl + 1 : end;
    }
    return true;
}

/* The first line must be a header field or an mbox "From " line. */
static bool looks_like_message(const uint8_t *p, size_t n)
{
    if (n >= 5 && memcmp(p, "From ", 5) == 0)
        return true;
    size_t i = 0;
    while (i < n && i < 998 && p[i] > 32 && p[i] < 127 && p[i] != ':')
        i++;
    return i > 0 && i < n && p[i] == ':';
}

/* Length of the header block including its blank line, or n if none. */
static size_t header_block_len(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i + 1 < n; i++) {
        if (p[i] != '\n')
            continue;
        if (p[i + 1] == '\n')
            return i + 2;
        if (p[i + 1] == '\r' && i + 2 < n && p[i + 2] == '\n')
            return i + 3;
    }
    return n;
}

struct walk {
    struct zhi_mime *m;
    struct zhi_scan *s;
    unsigned parts;
    unsigned in_message; /* > 0 while inside message/rfc822 parts */
};

static void walk_object(struct walk *w, GMimeObject *obj, const char *spec, int depth, int parent);

static bool part_budget(struct walk *w, const char *spec, int depth)
{
    return zhi_scan_limit(w->s, ZHI_L_mime_depth, (uint64_t)depth, spec) == ZH_ERR_OK &&
           zhi_scan_limit(w->s, ZHI_L_mime_parts, ++w->parts, spec) == ZH_ERR_OK;
}

/* The part's content with its transfer encoding undone, NUL-terminated,
 * g_malloc'd: decoded straight into a byte array, no second copy of the
 * largest thing a scan holds. */
static guint8 *decoded(GMimePart *part, size_t *len)
{
    GMimeDataWrapper *content = g_mime_part_get_content(part);
    GByteArray *ba = g_byte_array_new();
    GMimeStream *mem = g_mime_stream_mem_new_with_byte_array(ba);
    g_mime_stream_mem_set_owner(GMIME_STREAM_MEM(mem), FALSE);
    if (content)
        g_mime_data_wrapper_write_to_stream(content, mem);
    g_object_unref(mem);
    g_byte_array_append(ba, (const guint8 *)"", 1); /* objects end in a NUL */
    *len = ba->len - 1;
    guint8 *bytes = g_byte_array_free(ba, FALSE);
    /* the array grew by doubling: give back the slack before keeping it */
    return g_realloc(bytes, *len + 1);
}

/* Eight bytes at a time: most text is ASCII, and checking it this way costs
 * a fraction of g_utf8_validate's byte-by-byte walk. */
static bool ascii_only(const guint8 *p, size_t n)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        if (w & 0x8080808080808080ull)
            return false;
    }
    for (; i < n; i++)
        if (p[i] & 0x80)
            return false;
    return true;
}

static bool valid_utf8(const guint8 *p, size_t n)
{
    return ascii_only(p, n) || g_utf8_validate((const char *)p, (gssize)n, NULL);
}

static void walk_leaf(struct walk *w, GMimePart *part, const char *spec, int depth, int parent)
{
    struct zhi_scan *s = w->s;
    GMimeObject *obj = GMIME_OBJECT(part);
    GMimeContentType *ct = g_mime_object_get_content_type(obj);
    char *mt = ct ? g_mime_content_type_get_mime_type(ct) : NULL;
    const char *declared = mt ? zhi_arena_strdup(s->arena, mt) : "";
    if (declared)
        for (char *p = (char *)declared; *p; p++)
            *p = (char)tolower((unsigned char)*p);
    g_free(mt);
    const char *fname = zhi_arena_strdup(s->arena, g_mime_part_get_filename(part));
    const char *disp = g_mime_object_get_disposition(obj);
    bool is_text =
        GMIME_IS_TEXT_PART(part) && !fname && !(disp && !g_ascii_strcasecmp(disp, "attachment"));

    struct zhi_object o = {
        .filename = fname,
        .ext = zhi_extension_of(s->arena, fname),
        .declared_type = declared ? declared : "",
        .depth = depth,
        .parent = parent,
        .flags = w->in_message ? ZHI_OBJ_IN_MESSAGE : 0,
    };
    if (is_text) {
        /* Text is scanned as UTF-8. GMime converts through iconv whenever a
         * charset is named, utf-8 to utf-8 included, which cost a tenth of a
         * scan; text already in UTF-8 (or plain ASCII) is taken as decoded.
         * GMime's own conversion stays for every other case, and for text
         * with a NUL (which ends its string). */
        const char *cs = ct ? g_mime_content_type_get_parameter(ct, "charset") : NULL;
        size_t n;
        guint8 *raw = decoded(part, &n);
        bool as_is = !cs || ((!g_ascii_strcasecmp(cs, "utf-8") || !g_ascii_strcasecmp(cs, "utf8") ||
                              !g_ascii_strcasecmp(cs, "us-ascii")) &&
                             valid_utf8(raw, n) &&
                             (g_ascii_strcasecmp(cs, "us-ascii") || ascii_only(raw, n)));
        if (as_is) {
            o.len = strnlen((const char *)raw, n);
            o.data = zhi_arena_adopt(s->arena, raw, g_free) ? raw : NULL;
        } else {
            g_free(raw);
            char *text = g_mime_text_part_get_text(GMIME_TEXT_PART(part));
            o.len = text ? strlen(text) : 0;
            o.data = zhi_arena_memdup(s->arena, text ? text : "", o.len);
            g_free(text);
        }
        o.kind = ZHI_K_TEXT;
        o.path = zhi_arena_strdup(s->arena, spec);
    } else {
        guint8 *bytes = decoded(part, &o.len);
        o.data = zhi_arena_adopt(s->arena, bytes, g_free) ? bytes : NULL;
        o.kind = ZHI_K_ATTACHMENT;
        o.path = fname ? zhi_arena_printf(s->arena, "%s/%s", spec, fname)
                       : zhi_arena_strdup(s->arena, spec);
    }
    if (!o.data || !o.path)
        return;
    o.sniffed = zhi_sniff(o.data, o.len);
    zhi_scan_add_object(s, &o);
}

static char *child_spec(struct zhi_arena *a, const char *spec, int i)
{
    return *spec ? zhi_arena_printf(a, "%s.%d", spec, i) : zhi_arena_printf(a, "%d", i);
}

static void walk_object(struct walk *w, GMimeObject *obj, const char *spec, int depth, int parent)
{
    struct zhi_scan *s = w->s;
    if (!obj || zhi_scan_expired(s))
        return;
    if (!part_budget(w, *spec ? spec : "1", depth))
        return;
    if (GMIME_IS_MULTIPART(obj)) {
        GMimeMultipart *mp = GMIME_MULTIPART(obj);
        int n = g_mime_multipart_get_count(mp);
        for (int i = 0; i < n; i++) {
            char *cs = child_spec(s->arena, spec, i + 1);
            if (cs)
                walk_object(w, g_mime_multipart_get_part(mp, i), cs, depth + 1, parent);
        }
    } else if (GMIME_IS_MESSAGE_PART(obj)) {
        GMimeMessage *inner = g_mime_message_part_get_message(GMIME_MESSAGE_PART(obj));
        if (!inner)
            return;
        const char *ispec = *spec ? spec : "1";
        char *hdr = g_mime_object_get_headers(GMIME_OBJECT(inner), NULL);
        struct zhi_object o = {
            .path = zhi_arena_printf(s->arena, "%s/headers", ispec),
            .ext = "",
            .declared_type = "message/rfc822",
            .sniffed = ZHI_T_TEXT,
            .kind = ZHI_K_HEADERS,
            .data = zhi_arena_memdup(s->arena, hdr ? hdr : "", hdr ? strlen(hdr) : 0),
            .len = hdr ? strlen(hdr) : 0,
            .depth = depth + 1,
            .parent = parent,
        };
        g_free(hdr);
        if (o.path && o.data)
            zhi_scan_add_object(s, &o);
        GMimeObject *body = g_mime_message_get_mime_part(inner);
        w->in_message++;
        if (body && GMIME_IS_MULTIPART(body))
            walk_object(w, body, ispec, depth + 1, parent);
        else if (body)
            walk_object(w, body, child_spec(s->arena, ispec, 1), depth + 1, parent);
        w->in_message--;
    } else if (GMIME_IS_PART(obj)) {
        walk_leaf(w, GMIME_PART(obj), *spec ? spec : "1", depth, parent);
    }
}

static const char *first_address(struct zhi_arena *a, InternetAddressList *list)
{
    if (!list)
        return "";
    int n = internet_address_list_length(list);
    for (int i = 0; i < n; i++) {
        InternetAddress *ia = internet_address_list_get_address(list, i);
        if (INTERNET_ADDRESS_IS_MAILBOX(ia)) {
            const char *addr = internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(ia));
            char *d = zhi_arena_strdup(a, addr ? addr : "");
            return d ? d : "";
        }
    }
    return "";
}

static const char *from_name(struct zhi_arena *a, InternetAddressList *list)
{
    if (!list || internet_address_list_length(list) < 1)
        return "";
    const char *n = internet_address_get_name(internet_address_list_get_address(list, 0));
    char *d = n ? zhi_arena_strdup(a, n) : NULL;
    return d ? d : "";
}

static const char *lower_dup(struct zhi_arena *a, const char *v)
{
    char *d = v ? zhi_arena_strdup(a, v) : NULL;
    if (!d)
        return "";
    for (char *p = d; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    return d;
}

/* Parser warnings that mean GMime may have skipped input. */
#define CRITICAL_WARNINGS                                                                          \
    ((1u << GMIME_CRIT_INVALID_HEADER_NAME) | (1u << GMIME_CRIT_CONFLICTING_HEADER) |              \
     (1u << GMIME_CRIT_CONFLICTING_PARAMETER) | (1u << GMIME_CRIT_MULTIPART_WITHOUT_BOUNDARY) |    \
     (1u << GMIME_CRIT_NESTING_OVERFLOW) | (1u << GMIME_CRIT_PART_WITHOUT_HEADERS_OR_CONTENT))

/* Input that is not mail — a file given to the CLI or named by a request's
 * filename, or bytes no mail parser takes for a message — is one object,
 * scanned like an attachment of that name. Without a name the caller sent it
 * as mail: its parts, if any, could not be decoded, so it was not fully seen. */
static zh_err whole_input(struct zhi_scan *s, const uint8_t *data, size_t len)
{
    const char *fn = s->env->filename && *s->env->filename ? s->env->filename : NULL;
    const char *slash = fn ? strrchr(fn, '/') : NULL;
    fn = slash ? slash + 1 : fn;
    struct zhi_object o = {
        .path = fn && *fn ? zhi_arena_strdup(s->arena, fn) : "input",
        .filename = fn && *fn ? zhi_arena_strdup(s->arena, fn) : NULL,
        .declared_type = "",
        .sniffed = zhi_sniff(data, len),
        .kind = ZHI_K_ATTACHMENT,
        .data = data,
        .len = len,
        .depth = 1,
        .parent = -1,
    };
    o.ext = zhi_extension_of(s->arena, o.filename);
    if (!o.path || (fn && *fn && !o.filename) || zhi_scan_add_object(s, &o) < 0)
        return ZH_ERR_FATAL;
    if (o.filename)
        return ZH_ERR_OK;
    return zhi_hit_full(s, &(struct zhi_hit){
                               .src = ZHI_SRC_mime,
                               .rule = "not_a_message",
                               .object = "input",
                               .detail = "the input is no RFC 5322 message and names no file; "
                                         "it was scanned as one object, any parts it hides "
                                         "undecoded",
                               .flags = ZH_HIT_UNSCANNABLE,
                           });
}

zh_err zhi_mime_flatten(struct zhi_mime *m, struct zhi_scan *s, const uint8_t *msg, size_t len,
                        char *err, size_t errlen)
{
    zh_err rc = ZH_ERR_OK;
    GMimeStream *stream = NULL;
    GByteArray *borrowed = NULL;
    GMimeParser *parser = NULL;
    GMimeMessage *message = NULL;

    if (len == 0) {
        snprintf(err, errlen, "empty message");
        return ZH_ERR_INVALID;
    }
    if (!looks_like_message(msg, len)) {
        /* A header after leading blank space is still a message (mail clients
         * read it so); anything else is a file, scanned whole. */
        size_t skip = 0;
        while (skip < len && skip < 1024 && strchr(" \t\r\n", msg[skip]))
            skip++;
        if (skip == len || skip == 1024 || !looks_like_message(msg + skip, len - skip))
            return whole_input(s, msg, len);
        rc = zhi_hit(s, ZHI_SRC_mime, "malformed_message", "", 0,
                     "the message does not start with a header field: %zu bytes of blank "
                     "space before the first one were skipped",
                     skip);
        if (rc != ZH_ERR_OK)
            return rc;
        msg += skip;
        len -= skip;
    }
    if (mixed_line_ends(msg, len) && !(msg = lf_only(s->arena, msg, len, &len)))
        return ZH_ERR_FATAL;
    /* Opening and closing delimiters of max_mime_parts parts, and the message's own. */
    struct prescan ps;
    if (!count_delimiters(s->arena, msg, len, 2 * (size_t)s->cfg->max_mime_parts + 2, &ps))
        return ZH_ERR_FATAL;
    m->warnings = 0;
    s->from_name = s->top_type = s->report_type = "";
    size_t hlen = header_block_len(msg, len);
    struct zhi_object hdr = {
        .path = "headers",
        .ext = "",
        .declared_type = "",
        .sniffed = ZHI_T_TEXT,
        .kind = ZHI_K_HEADERS,
        .data = msg,
        .len = hlen,
        .depth = 0,
        .parent = -1,
    };
    if (zhi_scan_add_object(s, &hdr) < 0)
        return ZH_ERR_FATAL;

    /* GMime reads the caller's buffer in place: a byte array that borrows
     * it, which the stream does not own and the parser never writes. */
    if (ps.cut < len)
        zhi_scan_limit(s, ZHI_L_mime_parts, (uint64_t)s->cfg->max_mime_parts + 1, "");
    borrowed = g_byte_array_new_take((guint8 *)msg, ps.cut);
    stream = g_mime_stream_mem_new_with_byte_array(borrowed);
    g_mime_stream_mem_set_owner(GMIME_STREAM_MEM(stream), FALSE);
    parser = g_mime_parser_new_with_stream(stream);
    g_mime_parser_set_format(parser, GMIME_FORMAT_MESSAGE);
    message = g_mime_parser_construct_message(parser, m->opts);
    if (!message) {
        /* Not even GMime finds a message in it: the bytes are scanned whole. */
        s->n_objects = 0; /* the header block added above goes with the rest */
        rc = whole_input(s, msg, len);
        goto out;
    }
    s->is_message = true;
    const char *subj = g_mime_message_get_subject(message);
    s->subject = subj ? zhi_arena_strdup(s->arena, subj) : "";
    s->from = first_address(s->arena, g_mime_message_get_from(message));
    const char *mid = g_mime_message_get_message_id(message);
    s->message_id = mid ? zhi_arena_strdup(s->arena, mid) : "";
    s->has_message_id_header =
        g_mime_object_get_header(GMIME_OBJECT(message), "Message-ID") != NULL;
    s->from_name = from_name(s->arena, g_mime_message_get_from(message));
    s->has_date = g_mime_object_get_header(GMIME_OBJECT(message), "Date") != NULL;
    GDateTime *date = s->has_date ? g_mime_message_get_date(message) : NULL;
    s->date_ok = date != NULL;
    s->date_unix = date ? g_date_time_to_unix(date) : 0;
    GMimeObject *top = g_mime_message_get_mime_part(message);
    s->top_type = s->report_type = "";
    if (top) {
        GMimeContentType *ct = g_mime_object_get_content_type(top);
        char *mt = ct ? g_mime_content_type_get_mime_type(ct) : NULL;
        const char *rt = ct ? g_mime_content_type_get_parameter(ct, "report-type") : NULL;
        s->top_type = lower_dup(s->arena, mt);
        s->report_type = lower_dup(s->arena, rt);
        g_free(mt);
    }

    struct walk w = {.m = m, .s = s};
    walk_object(&w, g_mime_message_get_mime_part(message), "", 1, -1);

    s->mime_warnings = m->warnings;
    if (m->warnings & CRITICAL_WARNINGS) {
        /* GMime may have skipped bytes: let the detectors see all of them. */
        struct zhi_object raw = {
            .path = "raw",
            .ext = "",
            .declared_type = "message/rfc822",
            .sniffed = zhi_sniff(msg, len),
            .kind = ZHI_K_ATTACHMENT,
            .data = msg,
            .len = len,
            .depth = 0,
            .parent = -1,
        };
        zhi_scan_add_object(s, &raw);
        zhi_hit(s, ZHI_SRC_mime, "malformed_structure", "raw", 0,
                "GMime reported structure it could not follow (warnings 0x%x); the raw "
                "message was scanned as one object",
                m->warnings & CRITICAL_WARNINGS);
    }
out:
    if (message)
        g_object_unref(message);
    if (parser)
        g_object_unref(parser);
    if (stream)
        g_object_unref(stream);
    if (borrowed)
        g_byte_array_free(borrowed, FALSE); /* the wrapper only: msg is the caller's */
    return rc;
}
