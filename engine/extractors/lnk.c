/* lnk: Windows shortcuts (MS-SHLLINK). What a shortcut starts — its target,
 * arguments, working directory and icon — becomes notes on the shortcut
 * (lnk.target, lnk.arguments, lnk.working_dir, lnk.icon_location, for the
 * shortcut detector and YARA externals) and a text object
 * "<path>/shortcut.txt" that rules can match. The target is read from every
 * place the format keeps one: the EnvironmentVariableDataBlock (where the
 * shortcuts of Qakbot, Bumblebee and IcedID mail carried "%windir%\...\cmd.exe"),
 * LinkInfo's local or network path, the shell items of the LinkTargetIDList,
 * and the relative path; all that differ are noted.
 *
 * An own parser, not liblnk: Debian's liblnk 20181227 reads only through a
 * libbfio handle (no memory handle in Debian's libbfio 20170123) and has
 * open over-reads on crafted files (libyal/liblnk#36, #40). Every length here
 * is checked against the bytes that remain; a shortcut cut short or with a
 * length past its end is a scored, unscannable hit, and what was read is kept.
 * A shortcut holds no members: its text is another form of the same content,
 * so it does not nest. */
#include "../src/zhi.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

/* ShellLinkHeader.LinkFlags (MS-SHLLINK 2.1.1) */
#define HAS_ID_LIST 0x1u
#define HAS_LINK_INFO 0x2u
#define HAS_NAME 0x4u
#define HAS_RELATIVE_PATH 0x8u
#define HAS_WORKING_DIR 0x10u
#define HAS_ARGUMENTS 0x20u
#define HAS_ICON_LOCATION 0x40u
#define IS_UNICODE 0x80u
#define FORCE_NO_LINK_INFO 0x100u

#define HEADER_SIZE 0x4c
#define ENV_BLOCK 0xa0000001u      /* EnvironmentVariableDataBlock */
#define ICON_ENV_BLOCK 0xa0000007u /* IconEnvironmentDataBlock */
#define ENV_BLOCK_SIZE 0x314u
#define MAX_PATH_CHARS 260

static const uint8_t link_clsid[16] = {0x01, 0x14, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00,
                                       0xc0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x46};

struct shortcut {
    const char *env_target, *info_target, *idlist_target;
    const char *name, *relative_path, *working_dir, *arguments, *icon_location, *icon_env;
    uint32_t flags;
    const char *damage; /* why the shortcut could not be read to its end, or NULL */
};

static int lnk_bid(const struct zhi_scan *s, const struct zhi_object *o)
{
    return o->sniffed == ZHI_T_LNK ? 100 : 0;
}

static uint16_t le16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* A NUL-terminated single-byte string at off within [0, lim) of p: "" when
 * off is out of range; the string stops at lim when its NUL is missing. */
static char *ansi_at(struct zhi_arena *a, const uint8_t *p, size_t lim, size_t off)
{
    if (off >= lim)
        return zhi_arena_strdup(a, "");
    const uint8_t *nul = memchr(p + off, 0, lim - off);
    return zhi_latin1_to_utf8(a, p + off, (size_t)((nul ? nul : p + lim) - (p + off)));
}

static char *utf16_at(struct zhi_arena *a, const uint8_t *p, size_t lim, size_t off)
{
    if (off >= lim)
        return zhi_arena_strdup(a, "");
    return zhi_utf16_to_utf8(a, p + off, lim - off, false);
}

/* LinkInfo (2.3): the local base path plus the common suffix, or the network
 * share's name plus the suffix. The Unicode offsets win when the header has them. */
static bool read_link_info(struct zhi_arena *a, const uint8_t *p, size_t n, struct shortcut *sc)
{
    uint32_t hdr = le32(p + 4), flags = le32(p + 8);
    uint32_t local = le32(p + 16), net = le32(p + 20), suffix = le32(p + 24);
    if (hdr < 0x1c || hdr > n)
        return false;
    bool uni = hdr >= 0x24;
    char *suf = uni && le32(p + 32) ? utf16_at(a, p, n, le32(p + 32)) : ansi_at(a, p, n, suffix);
    char *base = NULL;
    if (flags & 1)
        base = uni && le32(p + 28) ? utf16_at(a, p, n, le32(p + 28)) : ansi_at(a, p, n, local);
    else if ((flags & 2) && net < n && n - net >= 0x14) {
        /* CommonNetworkRelativeLink (2.3.2): a share such as \\host\share or
         * a WebDAV folder, as the shortcuts of some waves pointed to. */
        const uint8_t *c = p + net;
        uint32_t csize = le32(c), name_off = le32(c + 8);
        if (csize > n - net)
            return false;
        base = name_off > 0x14 && csize >= 0x1c && le32(c + 0x14)
                   ? utf16_at(a, c, csize, le32(c + 0x14))
                   : ansi_at(a, c, csize, name_off);
        if (base && suf && *suf && *base && base[strlen(base) - 1] != '\\')
            base = zhi_arena_printf(a, "%s\\", base);
    }
    if (!suf || ((flags & 3) && !base))
        return false;
    sc->info_target = base ? zhi_arena_printf(a, "%s%s", base, suf) : suf;
    return sc->info_target != NULL;
}

/* The path spelled by the shell items of the LinkTargetIDList (2.2). The
 * items are not in MS-SHLLINK; their layout is the one Windows writes: a
 * volume item ("C:\") and file entry items whose name is the 8.3 name, or
 * the long name of their 0xbeef0004 extension block when they carry one. */
static const char *idlist_path(struct zhi_arena *a, const uint8_t *p, size_t n)
{
    const char *path = "";
    size_t pos = 0;
    while (pos + 2 <= n) {
        size_t size = le16(p + pos);
        if (size == 0)
            break; /* TerminalID */
        if (size < 3 || size > n - pos)
            return NULL;
        const uint8_t *it = p + pos;
        uint8_t cls = it[2];
        const char *name = NULL;
        if ((cls & 0x70) == 0x20 && size > 3) {
            name = ansi_at(a, it, size, 3); /* "C:\" */
        } else if ((cls & 0x70) == 0x30 && size > 14) {
            bool uni = cls & 0x04;
            size_t end;
            if (uni) {
                name = utf16_at(a, it, size, 14);
                end = 14 + 2 * (name ? strlen(name) : 0) + 2;
            } else {
                name = ansi_at(a, it, size, 14);
                end = 14 + (name ? strlen(name) : 0) + 1;
            }
            end += end & 1; /* the extension block is 2-aligned */
            if (end + 8 <= size && le32(it + end + 4) == 0xbeef0004u) {
                size_t bsize = le16(it + end), ver = le16(it + end + 2);
                size_t off = 18 + (ver >= 7 ? 18 : 0) + (ver >= 3 ? 2 : 0) + (ver >= 9 ? 4 : 0) +
                             (ver >= 8 ? 4 : 0);
                if (bsize <= size - end && off < bsize) {
                    const char *long_name = utf16_at(a, it + end, bsize, off);
                    if (long_name && *long_name)
                        name = long_name;
                }
            }
        }
        if (name && *name) {
            size_t l = strlen(path);
            path = zhi_arena_printf(a, "%s%s%s", path, l && path[l - 1] != '\\' ? "\\" : "", name);
            if (!path)
                return NULL;
        }
        pos += size;
    }
    return *path ? path : NULL;
}

/* One StringData field (2.4): a count of characters, then the characters. */
static bool string_data(struct zhi_arena *a, const uint8_t *p, size_t n, size_t *pos, bool uni,
                        const char **out)
{
    if (n - *pos < 2)
        return false;
    size_t chars = le16(p + *pos), bytes = uni ? chars * 2 : chars;
    *pos += 2;
    if (bytes > n - *pos)
        return false;
    *out =
        uni ? zhi_utf16_to_utf8(a, p + *pos, bytes, false) : zhi_latin1_to_utf8(a, p + *pos, bytes);
    *pos += bytes;
    return *out != NULL;
}

/* An EnvironmentVariableDataBlock or IconEnvironmentDataBlock (2.5.4, 2.5.5):
 * the Unicode path when it has one, else the ANSI one. */
static const char *env_path(struct zhi_arena *a, const uint8_t *b)
{
    const char *u = zhi_utf16_to_utf8(a, b + 8 + MAX_PATH_CHARS, 2 * MAX_PATH_CHARS, false);
    if (u && *u)
        return u;
    const uint8_t *nul = memchr(b + 8, 0, MAX_PATH_CHARS);
    return zhi_latin1_to_utf8(a, b + 8, nul ? (size_t)(nul - (b + 8)) : MAX_PATH_CHARS);
}

static void parse(struct zhi_arena *a, const uint8_t *p, size_t n, struct shortcut *sc)
{
    if (n < HEADER_SIZE || le32(p) != HEADER_SIZE || memcmp(p + 4, link_clsid, 16)) {
        sc->damage = "no ShellLinkHeader (size 0x4C and the shortcut class identifier)";
        return;
    }
    sc->flags = le32(p + 20);
    size_t pos = HEADER_SIZE;
    if (sc->flags & HAS_ID_LIST) {
        if (n - pos < 2 || le16(p + pos) > n - pos - 2) {
            sc->damage = "the LinkTargetIDList runs past the end";
            return;
        }
        size_t len = le16(p + pos);
        sc->idlist_target = idlist_path(a, p + pos + 2, len);
        pos += 2 + len;
    }
    if ((sc->flags & HAS_LINK_INFO) && !(sc->flags & FORCE_NO_LINK_INFO)) {
        uint32_t len = n - pos >= 4 ? le32(p + pos) : 0;
        if (len < 0x1c || len > n - pos) {
            sc->damage = "the LinkInfo runs past the end";
            return;
        }
        if (!read_link_info(a, p + pos, len, sc))
            sc->damage = "the LinkInfo's offsets point outside it";
        pos += len;
    } else if (sc->flags & HAS_LINK_INFO) {
        /* ForceNoLinkInfo: Windows ignores the structure, yet it is there. */
        uint32_t len = n - pos >= 4 ? le32(p + pos) : 0;
        if (len > n - pos) {
            sc->damage = "the LinkInfo runs past the end";
            return;
        }
        pos += len;
    }
    bool uni = sc->flags & IS_UNICODE;
    static const struct {
        uint32_t flag;
        size_t field;
    } strings[] = {
        {HAS_NAME, offsetof(struct shortcut, name)},
        {HAS_RELATIVE_PATH, offsetof(struct shortcut, relative_path)},
        {HAS_WORKING_DIR, offsetof(struct shortcut, working_dir)},
        {HAS_ARGUMENTS, offsetof(struct shortcut, arguments)},
        {HAS_ICON_LOCATION, offsetof(struct shortcut, icon_location)},
    };
    for (size_t i = 0; i < sizeof strings / sizeof strings[0]; i++) {
        if (!(sc->flags & strings[i].flag))
            continue;
        const char **field = (const char **)((char *)sc + strings[i].field);
        if (!string_data(a, p, n, &pos, uni, field)) {
            sc->damage = "a string of the StringData runs past the end";
            return;
        }
    }
    /* ExtraData (2.5): blocks until one smaller than 4 bytes. Each block is at
     * least 4 bytes long, so the walk ends within the file. */
    while (n - pos >= 4) {
        uint32_t size = le32(p + pos);
        if (size < 4)
            return;
        if (size > n - pos || size < 8) {
            sc->damage = "an ExtraData block runs past the end";
            return;
        }
        uint32_t sig = le32(p + pos + 4);
        if ((sig == ENV_BLOCK || sig == ICON_ENV_BLOCK) && size >= ENV_BLOCK_SIZE) {
            const char *path = env_path(a, p + pos);
            if (path && *path)
                *(sig == ENV_BLOCK ? &sc->env_target : &sc->icon_env) = path;
        }
        pos += size;
    }
    /* Windows writes a terminal block; a file without one was cut. */
    if (n - pos != 0)
        sc->damage = "the ExtraData has no terminal block";
}

/* Leading and trailing blanks trimmed: attackers pad arguments with hundreds
 * of spaces so that the shortcut's properties dialog shows none of them. */
static const char *trimmed(const char *v)
{
    if (!v)
        return NULL;
    while (isspace((unsigned char)*v))
        v++;
    return v;
}

static zh_err note(struct zhi_scan *s, size_t idx, const char *key, const char *v)
{
    if (!v || !*v)
        return ZH_ERR_OK;
    size_t len = strlen(v);
    while (len && isspace((unsigned char)v[len - 1]))
        len--;
    return len ? zhi_object_note(s, idx, key, "%.*s", (int)len, v) : ZH_ERR_OK;
}

static zh_err lnk_extract(struct zhi_extract *x, size_t idx)
{
    struct zhi_scan *s = zhi_extract_scan(x);
    const struct zhi_object lnk = s->objects[idx]; /* appending moves s->objects */
    struct shortcut sc = {0};
    parse(s->arena, lnk.data, lnk.len, &sc);
    zh_err rc = ZH_ERR_OK;
    /* The target as Windows picks it: the environment block first, then
     * LinkInfo, the ID list and the relative path. Every other that differs is
     * noted after it (a decoy path beside the real one is a trick of its own). */
    const char *targets[] = {sc.env_target, sc.info_target, sc.idlist_target, sc.relative_path};
    const char *noted[4];
    size_t n_noted = 0;
    for (size_t i = 0; i < 4 && rc == ZH_ERR_OK; i++) {
        const char *t = trimmed(targets[i]);
        bool seen = !t || !*t;
        for (size_t k = 0; k < n_noted && !seen; k++)
            seen = !strcasecmp(noted[k], t);
        if (seen)
            continue;
        noted[n_noted++] = t;
        rc = note(s, idx, "lnk.target", t);
    }
    if (rc == ZH_ERR_OK)
        rc = note(s, idx, "lnk.arguments", trimmed(sc.arguments));
    if (rc == ZH_ERR_OK)
        rc = note(s, idx, "lnk.working_dir", trimmed(sc.working_dir));
    if (rc == ZH_ERR_OK)
        rc = note(s, idx, "lnk.icon_location",
                  trimmed(sc.icon_env ? sc.icon_env : sc.icon_location));
    if (rc == ZH_ERR_OK)
        rc = note(s, idx, "lnk.name", trimmed(sc.name));
    if (rc != ZH_ERR_OK)
        return rc;
    if (sc.damage && (rc = zhi_extract_damaged(x, "malformed_shortcut", lnk.path,
                                               "shortcut could not be read to its end: %s",
                                               sc.damage)) != ZH_ERR_OK)
        return rc;
    if (!sc.flags)
        return ZH_ERR_OK; /* not even a header: nothing to write out */
    const char *text = zhi_arena_printf(
        s->arena, "target: %s\narguments: %s\nworking_dir: %s\nicon_location: %s\nname: %s\n",
        n_noted ? noted[0] : "", sc.arguments ? sc.arguments : "",
        sc.working_dir ? sc.working_dir : "",
        sc.icon_env        ? sc.icon_env
        : sc.icon_location ? sc.icon_location
                           : "",
        sc.name ? sc.name : "");
    for (size_t k = 1; text && k < n_noted; k++)
        text = zhi_arena_printf(s->arena, "%salso_target: %s\n", text, noted[k]);
    if (!text)
        return ZH_ERR_FATAL;
    const char *path = zhi_arena_printf(s->arena, "%s/shortcut.txt", lnk.path);
    if (!path)
        return ZH_ERR_FATAL;
    size_t len = strlen(text);
    if ((rc = zhi_extract_count(x, lnk.path)) != ZH_ERR_OK ||
        (rc = zhi_extract_bytes(x, path, len, len, lnk.len)) != ZH_ERR_OK)
        return rc;
    return zhi_extract_add(x, idx, "shortcut.txt", (const uint8_t *)text, len,
                           sc.damage ? ZHI_OBJ_TRUNCATED : 0) < 0
               ? ZH_ERR_FATAL
               : ZH_ERR_OK;
}

const struct zh_extractor zh_extractor_lnk = {
    .name = "lnk",
    .src = ZHI_SRC_lnk,
    .member_kind = ZHI_K_MEMBER,
    .bid = lnk_bid,
    .extract = lnk_extract,
};
