/* The unpack stage: archives among the scan objects are opened with
 * libarchive from memory and their members appended as objects, so detectors
 * see `2/document.zip/readme.exe`. Every bound (depth, members, bytes per
 * member and in total, expansion ratio, time) is checked here, at the one
 * place members are produced; breaching one is a `limits_exceeded` hit. */
#include "zhi.h"

#include <archive.h>
#include <archive_entry.h>
#include <stdarg.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

struct unpack {
    struct zhi_scan *s;
    const struct zh_config *cfg;
    uint64_t members, bytes;
    uint64_t deadline_us;
    const char *passwords[8];
    size_t n_passwords;
    bool passwords_ready, stop;
};

static const char *const pw_words[] = {"password",
                                       "passwort",
                                       "passwd",
                                       "pass",
                                       "pwd",
                                       "kennwort",
                                       "mot de passe",
                                       "contrase\303\261a",
                                       "\xd0\xbf\xd0\xb0\xd1\x80\xd0\xbe\xd0\xbb\xd1\x8c"};
static const char *const pw_skip[] = {"is",   "ist", "est", "es", "for", "the",       "archive",
                                      "file", "zip", "of",  "to", "and", "protected", "word"};

static bool skip_word(const char *w, size_t n)
{
    for (size_t i = 0; i < sizeof pw_skip / sizeof pw_skip[0]; i++)
        if (strlen(pw_skip[i]) == n && !strncasecmp(w, pw_skip[i], n))
            return true;
    return false;
}

/* Bagle and its kin wrote "Password: 12345", "pass - 12345" or "The password
 * is <b>12345</b>" next to a protected zip. Take the first tokens after each
 * password word, skipping punctuation, HTML tags and filler words. */
size_t zhi_text_passwords(struct zhi_scan *s, const char **out, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < s->n_objects && n < max; i++) {
        const struct zhi_object *o = &s->objects[i];
        if (o->kind != ZHI_K_TEXT)
            continue;
        const char *t = (const char *)o->data, *end = t + o->len;
        for (const char *p = t; p < end && n < max; p++) {
            size_t kw = 0;
            for (size_t k = 0; k < sizeof pw_words / sizeof pw_words[0] && !kw; k++) {
                size_t l = strlen(pw_words[k]);
                if ((size_t)(end - p) >= l && !strncasecmp(p, pw_words[k], l) &&
                    (p == t || !isalnum((unsigned char)p[-1])) &&
                    (p + l == end || !isalpha((unsigned char)p[l])))
                    kw = l;
            }
            if (!kw)
                continue;
            const char *q = p + kw;
            for (int tokens = 0; tokens < 3 && q < end && n < max;) {
                int budget = 64;
                while (q < end && budget-- > 0 && !isalnum((unsigned char)*q)) {
                    if (*q == '<') {
                        const char *gt = memchr(q, '>', (size_t)(end - q));
                        q = gt ? gt : end;
                    }
                    q++;
                }
                const char *w = q;
                while (q < end && (isalnum((unsigned char)*q) || *q == '_'))
                    q++;
                size_t wl = (size_t)(q - w);
                if (wl == 0)
                    break;
                tokens++;
                if (skip_word(w, wl) || wl < 3 || wl > 32)
                    continue;
                const char *dup = zhi_arena_memdup(s->arena, w, wl);
                bool seen = false;
                for (size_t j = 0; j < n && dup; j++)
                    seen |= !strcmp(out[j], dup);
                if (dup && !seen)
                    out[n++] = dup;
                break;
            }
            p += kw - 1;
        }
    }
    return n;
}

static void limit_hit(struct unpack *u, const char *object, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void limit_hit(struct unpack *u, const char *object, const char *fmt, ...)
{
    char detail[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    zhi_scan_hit(u->s, "limits", "limits_exceeded", object, 0, ZH_HIT_UNSCANNABLE, NULL, NULL, 0,
                 "%s", detail);
}

static bool out_of_time(struct unpack *u, const char *object)
{
    if (zhi_scan_expired(u->s)) {
        u->stop = true;
        return true;
    }
    if (zhi_now_us() >= u->deadline_us) {
        limit_hit(u, object, "archive_timeout_ms: unpacking took more than %lld ms",
                  (long long)u->cfg->archive_timeout_ms);
        u->stop = true;
        return true;
    }
    return false;
}

static const char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/'), *bslash = strrchr(path, '\\');
    if (bslash > slash)
        slash = bslash;
    return slash ? slash + 1 : path;
}

/* Name of the single member of a gzip/bzip2/xz stream: the archive's own name
 * without its compression extension ("report.txt.gz" → "report.txt"). */
static const char *raw_member_name(struct zhi_arena *a, const struct zhi_object *o)
{
    const char *fn = o->filename ? base_name(o->filename) : "";
    const char *dot = strrchr(fn, '.');
    if (!dot || dot == fn)
        return "data";
    static const char *const exts[] = {".gz", ".gzip", ".bz2", ".xz", ".z", ".tgz"};
    for (size_t i = 0; i < sizeof exts / sizeof exts[0]; i++)
        if (!strcasecmp(dot, exts[i])) {
            if (!strcasecmp(dot, ".tgz"))
                return zhi_arena_printf(a, "%.*s.tar", (int)(dot - fn), fn);
            return zhi_arena_memdup(a, fn, (size_t)(dot - fn));
        }
    return "data";
}

/* Read entry number `entry` of arc again with one password only, into out
 * (replacing its contents). ZipCrypto checks a password against a single
 * byte, so one wrong candidate in 256 passes the check; libarchive then stops
 * trying the others and the member fails its CRC. Trying each alone finds the
 * right one. False when none reads cleanly within the member limits. */
static bool reread_with(struct unpack *u, const struct zhi_object *arc, unsigned entry,
                        const char *password, struct zhi_buf *out)
{
    if (zhi_now_us() > u->deadline_us)
        return false; /* archive_timeout_ms bounds the retries too */
    struct archive *a = archive_read_new();
    bool ok = false;
    if (!a)
        return false;
    archive_read_support_filter_all(a);
    archive_read_support_format_all(a);
    archive_read_add_passphrase(a, password);
    struct archive_entry *e;
    if (archive_read_open_memory(a, arc->data, arc->len) != ARCHIVE_OK)
        goto out;
    for (unsigned i = 0; i <= entry; i++)
        if (archive_read_next_header(a, &e) < ARCHIVE_WARN || zhi_now_us() > u->deadline_us)
            goto out;
    out->len = 0;
    char chunk[64 * 1024];
    la_ssize_t n;
    while ((n = archive_read_data(a, chunk, sizeof chunk)) > 0) {
        if (out->len + (size_t)n > (uint64_t)u->cfg->archive_max_member_bytes ||
            u->bytes + out->len + (size_t)n > (uint64_t)u->cfg->archive_max_total_bytes ||
            !zhi_buf_append(out, chunk, (size_t)n) || zhi_now_us() > u->deadline_us)
            goto out;
    }
    ok = n == 0;
out:
    archive_read_free(a);
    return ok;
}

/* Open one archive object and append its members. */
static zh_err unpack_one(struct unpack *u, size_t idx)
{
    struct zhi_scan *s = u->s;
    const struct zh_config *cfg = u->cfg;
    /* Copy what we need: appending objects may move s->objects. */
    const struct zhi_object arc = s->objects[idx];
    bool raw = arc.sniffed == ZHI_T_GZIP || arc.sniffed == ZHI_T_BZIP2 || arc.sniffed == ZHI_T_XZ;
    zh_err rc = ZH_ERR_OK;
    struct zhi_buf g = {0};
    unsigned members_here = 0, encrypted_here = 0, decrypted_here = 0;
    struct archive *a = archive_read_new();
    if (!a)
        return ZH_ERR_FATAL;
    archive_read_support_filter_all(a);
    archive_read_support_format_all(a);
    if (raw)
        archive_read_support_format_raw(a);
    for (size_t i = 0; i < u->n_passwords; i++)
        archive_read_add_passphrase(a, u->passwords[i]);
    if (archive_read_open_memory(a, arc.data, arc.len) != ARCHIVE_OK) {
        zhi_scan_hit(s, "archive", "malformed_archive", arc.path, 0, 0, NULL, NULL, 0,
                     "%s archive could not be opened: %s", zhi_type_name(arc.sniffed),
                     archive_error_string(a) ? archive_error_string(a) : "unknown error");
        goto out;
    }
    struct archive_entry *entry;
    for (unsigned entry_no = 0;; entry_no++) {
        if (out_of_time(u, arc.path))
            break;
        int r = archive_read_next_header(a, &entry);
        if (r == ARCHIVE_EOF)
            break;
        if (r < ARCHIVE_WARN) {
            zhi_scan_hit(s, "archive", "malformed_archive", arc.path, 0, 0, NULL, NULL, 0,
                         "%s archive is damaged after %u member(s): %s", zhi_type_name(arc.sniffed),
                         members_here,
                         archive_error_string(a) ? archive_error_string(a) : "unknown error");
            break;
        }
        mode_t type = archive_entry_filetype(entry);
        if (type != 0 && type != AE_IFREG)
            continue;
        /* Only a bare compressed stream (no tar inside) has no member names. */
        bool unnamed = archive_format(a) == ARCHIVE_FORMAT_RAW;
        const char *name =
            unnamed ? raw_member_name(s->arena, &arc) : archive_entry_pathname_utf8(entry);
        if (!name)
            name = archive_entry_pathname(entry);
        if (!name || !*name)
            name = "unnamed";
        char *path = zhi_arena_printf(s->arena, "%s/%s", arc.path, name);
        if (!path) {
            rc = ZH_ERR_FATAL;
            break;
        }
        if (++u->members > (uint64_t)cfg->archive_max_members) {
            limit_hit(u, arc.path,
                      "archive_max_members: more than %lld archive members in the "
                      "message",
                      (long long)cfg->archive_max_members);
            u->stop = true;
            break;
        }
        members_here++;
        bool encrypted = archive_entry_is_encrypted(entry);
        unsigned flags = 0;
        g.len = 0;
        la_int64_t consumed0 = archive_filter_bytes(a, -1);
        bool bomb = false;
        char chunk[64 * 1024];
        la_ssize_t n;
        while ((n = archive_read_data(a, chunk, sizeof chunk)) > 0) {
            if (g.len + (size_t)n > (uint64_t)cfg->archive_max_member_bytes) {
                limit_hit(u, path, "archive_max_member_bytes: member expands beyond %lld bytes",
                          (long long)cfg->archive_max_member_bytes);
                bomb = true;
                break;
            }
            if (u->bytes + (uint64_t)n > (uint64_t)cfg->archive_max_total_bytes) {
                limit_hit(u, path, "archive_max_total_bytes: archives expand beyond %lld bytes",
                          (long long)cfg->archive_max_total_bytes);
                bomb = true;
                break;
            }
            if (!zhi_buf_append(&g, chunk, (size_t)n)) {
                rc = ZH_ERR_FATAL;
                goto out;
            }
            u->bytes += (uint64_t)n;
            if (g.len > (uint64_t)cfg->archive_ratio_floor) {
                la_int64_t in = archive_filter_bytes(a, -1) - consumed0;
                uint64_t ratio = g.len / (uint64_t)(in > 0 ? in : 1);
                if (ratio > (uint64_t)cfg->archive_max_ratio) {
                    limit_hit(u, path,
                              "archive_max_ratio: member expands %llu:1 (%zu bytes from "
                              "%lld; limit %lld:1)",
                              (unsigned long long)ratio, g.len, (long long)in,
                              (long long)cfg->archive_max_ratio);
                    bomb = true;
                    break;
                }
            }
            if (out_of_time(u, path)) {
                bomb = true;
                break;
            }
        }
        if (n < 0 && !bomb && encrypted && u->n_passwords > 1) {
            /* The bytes of the failed read were counted: count the good ones instead. */
            uint64_t counted = g.len;
            bool retried = false;
            for (size_t k = 0; k < u->n_passwords && !retried; k++)
                retried = reread_with(u, &arc, entry_no, u->passwords[k], &g);
            if (retried) {
                u->bytes = u->bytes - counted + g.len;
                n = 0;
            }
        }
        if (n < 0 && !bomb) {
            const char *why = archive_error_string(a) ? archive_error_string(a) : "read error";
            if (encrypted || strstr(why, "assphrase") || strstr(why, "ncrypt")) {
                flags |= ZHI_OBJ_ENCRYPTED;
                encrypted_here++;
            } else {
                flags |= ZHI_OBJ_TRUNCATED;
                zhi_scan_hit(s, "archive", "malformed_archive", path, 0, 0, NULL, NULL, 0,
                             "member could not be read completely: %s", why);
            }
        } else if (encrypted && !bomb) {
            /* Read to the end despite encryption: a password from the text worked. */
            flags |= ZHI_OBJ_DECRYPTED;
            encrypted_here++;
            decrypted_here++;
        }
        if (bomb)
            flags |= ZHI_OBJ_TRUNCATED;
        struct zhi_object m = {
            .path = path,
            .filename = zhi_arena_strdup(s->arena, base_name(name)),
            .declared_type = "",
            .kind = ZHI_K_MEMBER,
            .data = zhi_arena_memdup(s->arena, g.p ? g.p : (const uint8_t *)"", g.len),
            .len = g.len,
            .depth = arc.depth + 1,
            .archive_depth = arc.archive_depth + 1,
            .parent = (int)idx,
            .flags = flags,
        };
        m.ext = zhi_extension_of(s->arena, m.filename);
        m.sniffed = zhi_sniff(m.data, m.len);
        if (!m.data || !m.filename || zhi_scan_add_object(s, &m) < 0) {
            rc = ZH_ERR_FATAL;
            goto out;
        }
        if (bomb) {
            u->stop = true;
            break;
        }
    }
out:
    if (encrypted_here)
        s->objects[idx].flags |= ZHI_OBJ_HAS_ENCRYPTED;
    if (decrypted_here)
        s->objects[idx].flags |= ZHI_OBJ_DECRYPTED;
    free(g.p);
    archive_read_free(a);
    return rc;
}

zh_err zhi_unpack(struct zhi_scan *s)
{
    struct unpack u = {.s = s, .cfg = s->cfg};
    u.deadline_us = zhi_now_us() + (uint64_t)s->cfg->archive_timeout_ms * 1000u;
    bool any = false;
    for (size_t i = 0; i < s->n_objects && !any; i++)
        any = zhi_type_is_archive(s->objects[i].sniffed);
    if (!any)
        return ZH_ERR_OK;
    u.n_passwords = zhi_text_passwords(s, u.passwords, 8);
    /* Members are appended while we walk, so index, and re-read n_objects. */
    for (size_t i = 0; i < s->n_objects && !u.stop; i++) {
        const struct zhi_object *o = &s->objects[i];
        if (!zhi_type_is_archive(o->sniffed) || o->len == 0 || o->kind == ZHI_K_HEADERS)
            continue;
        if (o->archive_depth >= s->cfg->archive_max_depth) {
            limit_hit(&u, o->path, "archive_max_depth: archive nested %d deep (limit %lld)",
                      o->archive_depth + 1, (long long)s->cfg->archive_max_depth);
            continue;
        }
        if (unpack_one(&u, i) == ZH_ERR_FATAL)
            return ZH_ERR_FATAL;
    }
    return ZH_ERR_OK;
}
