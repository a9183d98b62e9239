/* double_extension: a name whose real, executable extension hides behind a
 * document or media one — "document.txt.pif", "photo.jpg        .scr",
 * a right-to-left override that shows "gpj.exe" as "exe.jpg", a CLSID
 * extension. Names come from attachments (decoded RFC 2047/2231), inline
 * uuencode and archive members. Not a judge of content: see executable. */
#include "../src/heuristics.h"
#include "../src/zhi.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

/* Unicode format controls that reorder or hide text (UTF-8). */
static const char *const bidi[] = {
    "\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2067",
    "\u2068", "\u2069", "\u200e", "\u200f", "\u061c", "\u200b", "\ufeff",
};

/* Copy name without bidi controls into out; true if any was removed. */
static bool strip_bidi(const char *name, char *out, size_t cap)
{
    bool found = false;
    size_t n = 0;
    for (const char *p = name; *p && n + 1 < cap;) {
        bool hit = false;
        for (size_t i = 0; i < sizeof bidi / sizeof bidi[0] && !hit; i++) {
            size_t l = strlen(bidi[i]);
            if (!strncmp(p, bidi[i], l)) {
                p += l;
                hit = found = true;
            }
        }
        if (!hit)
            out[n++] = *p++;
    }
    out[n] = 0;
    return found;
}

static bool is_clsid(const char *p, size_t n)
{
    /* {3050F4D8-98B5-11CF-BB82-00AA00BDCE0B} */
    static const char shape[] = "{xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx}";
    if (n != sizeof shape - 1)
        return false;
    for (size_t i = 0; i < n; i++)
        if (shape[i] == 'x' ? !isxdigit((unsigned char)p[i]) : p[i] != shape[i])
            return false;
    return true;
}

/* Lower-case extension ending at name[end) (without the dot), or false. */
static bool ext_before(const char *name, size_t end, char *ext, size_t cap, size_t *dot)
{
    size_t i = end;
    while (i > 0 && name[i - 1] != '.' && end - i < 12)
        i--;
    if (i == 0 || name[i - 1] != '.' || i == end || end - i >= cap)
        return false;
    for (size_t k = i; k < end; k++) {
        if (!isalnum((unsigned char)name[k]))
            return false;
        ext[k - i] = (char)tolower((unsigned char)name[k]);
    }
    ext[end - i] = 0;
    *dot = i - 1;
    return true;
}

static zh_err check_name(struct zhi_scan *s, const struct zhi_heuristics *h,
                         const struct zhi_object *o)
{
    char name[512], last[16], prev[16];
    bool hidden_bidi = strip_bidi(o->filename, name, sizeof name);
    size_t n = strlen(name);
    /* Windows ignores trailing dots and spaces. */
    while (n && (name[n - 1] == '.' || name[n - 1] == ' '))
        n--;
    name[n] = 0;
    bool clsid = false;
    char clsid_s[40] = "";
    const char *brace = strrchr(name, '{');
    if (brace && brace > name && brace[-1] == '.' && is_clsid(brace, strlen(brace))) {
        clsid = true;
        snprintf(clsid_s, sizeof clsid_s, "%s", brace);
        n = (size_t)(brace - name - 1);
        name[n] = 0;
    }
    size_t dot;
    if (!ext_before(name, n, last, sizeof last, &dot))
        return ZH_ERR_OK;
    bool last_exec = zhi_ext_in(h, ZHI_C_EXECUTABLE, last);
    bool last_active = zhi_ext_in(h, ZHI_C_ACTIVE, last);
    /* Padding between the two extensions: runs of spaces, underscores, dots. */
    size_t end = dot, pad = 0;
    while (end > 0 && (name[end - 1] == ' ' || name[end - 1] == '_' || name[end - 1] == '.')) {
        end--;
        pad++;
    }
    size_t dot2;
    bool has_prev = ext_before(name, end, prev, sizeof prev, &dot2);
    bool prev_decoy =
        has_prev && (zhi_ext_in(h, ZHI_C_DOCUMENT, prev) || zhi_ext_in(h, ZHI_C_MEDIA, prev));
    /* A CLSID name hides whatever comes before it; a bidi override makes
     * the visible extension a lie even without a second dot. */
    bool fires = ((last_exec || last_active) && prev_decoy && strcmp(prev, last)) || clsid ||
                 (hidden_bidi && last_exec);
    if (!fires)
        return ZH_ERR_OK;
    bool hidden = hidden_bidi || clsid || pad >= 3;
    int score =
        h->scores[ZHI_S_double_extension] + (hidden ? h->scores[ZHI_S_double_extension_hidden] : 0);
    const char *how = hidden_bidi ? " behind a Unicode direction override"
                      : clsid     ? " behind a CLSID extension"
                      : pad >= 3  ? " behind padding"
                                  : "";
    return zhi_hit(s, ZHI_SRC_double_extension,
                   hidden ? "hidden_double_extension" : "double_extension", o->path, score,
                   "\"%s\" ends in .%s%s after .%s", o->filename, last, how,
                   has_prev ? prev : "(none)");
}

static zh_err double_extension_scan(struct zhi_scan *s, void *state, void *tstate)
{
    if (!s->rules->heur)
        return ZH_ERR_OK; /* no heuristics.ini in this rule set */
    const struct zhi_heuristics *h = s->rules->heur;
    for (size_t i = 0; i < s->n_objects; i++) {
        const struct zhi_object *o = &s->objects[i];
        if (!o->filename || !*o->filename || o->kind == ZHI_K_HEADERS)
            continue;
        zh_err rc = check_name(s, h, o);
        if (rc != ZH_ERR_OK)
            return rc;
    }
    return ZH_ERR_OK;
}

const struct zh_detector zh_detector_double_extension = {
    .name = "double_extension",
    .scan = double_extension_scan,
};
