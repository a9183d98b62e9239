/* Passwords written in the message text. Bagle and its kin wrote
 * "Password: 12345", "pass - 12345" or "The password is <b>12345</b>" next to
 * a protected zip, and senders of real protected documents do the same; the
 * IcedID and Ursnif thread hijackers of 2021-2024, like many payroll
 * providers, wrote "Use 12345 to open the file". The extractors try these on
 * encrypted containers. */
#include "zhi.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

static const char *const pw_words[] = {"password",
                                       "passwort",
                                       "passwd",
                                       "pass",
                                       "pwd",
                                       "pw",
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

/* "Use 58910 to open the file": the password named by what it does. */
static size_t use_to_open(struct zhi_scan *s, const char *t, const char *end, const char **out,
                          size_t n, size_t max)
{
    for (const char *p = t; p + 4 < end && n < max; p++) {
        if ((*p | 0x20) != 'u' || strncasecmp(p, "use ", 4) ||
            (p > t && isalnum((unsigned char)p[-1])))
            continue;
        const char *w = p + 4;
        while (w < end && *w == ' ')
            w++;
        const char *q = w;
        while (q < end && (isalnum((unsigned char)*q) || *q == '_'))
            q++;
        size_t wl = (size_t)(q - w);
        while (q < end && (*q == ' ' || *q == '\r' || *q == '\n'))
            q++;
        if (wl < 3 || wl > 32 || skip_word(w, wl) || (size_t)(end - q) < 2 ||
            strncasecmp(q, "to", 2))
            continue;
        const char *o = q + 2; /* "to open", wrapped or not */
        while (o < end && (*o == ' ' || *o == '\r' || *o == '\n'))
            o++;
        if (o == q + 2 || (size_t)(end - o) < 4 || strncasecmp(o, "open", 4))
            continue;
        const char *dup = zhi_arena_memdup(s->arena, w, wl);
        bool seen = false;
        for (size_t j = 0; j < n && dup; j++)
            seen |= !strcmp(out[j], dup);
        if (dup && !seen)
            out[n++] = dup;
    }
    return n;
}

/* Take the first tokens after each password word, skipping punctuation, HTML
 * tags and filler words. */
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
        n = use_to_open(s, t, end, out, n, max);
    }
    return n;
}
