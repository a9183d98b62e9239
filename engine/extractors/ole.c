/* ole: OLE2 compound files (MS-CFB) — .doc, .xls, .ppt, .msi, .msg, and the
 * vbaProject.bin inside .docm/.xlsm (archive.c opens the zip; the member
 * sniffs as OLE2 and comes here). Every stream becomes a member named by its
 * storage path ("Macros/VBA/Module1"); the source of every VBA module is
 * decompressed (MS-OVBA 2.4.1) into a text member "<storage>/<Module>.bas"
 * (".cls" for document and class modules) noted vba.module = <name>, which
 * the macro detector and the is_vba YARA external read; an embedded file of
 * an OLE Package object ("\x01Ole10Native") becomes a member under its own
 * name. Control characters in stream names are written %XX.
 *
 * libgsf reads the container. Its directory reader recurses once per entry
 * and crashed here on a 12 MB file whose 100,000 entries form one chain, so
 * the directory's size is measured first (the header, the FAT sectors it
 * names, the directory's sector chain) and held to ole_max_entries; storage
 * nesting is held to ole_max_depth; a root entry with siblings, which libgsf
 * would leak, is refused as damage. The VBA project's records and its
 * compression are read by the bounded code below, not by GsfInfileMSVBA: its
 * output has no bound (a 6-byte compressed chunk expands to 4096 bytes) and
 * it stops at the first module it cannot read. A file libgsf cannot open, a
 * stream it cannot read, a VBA project whose directory or source is damaged:
 * each is a scored, unscannable hit, and what was read is kept.
 * Not here: Excel 4.0 (XLM) macro sheets, PowerPoint's VBA in .ppt, p-code
 * without source ("VBA stomping"). */
#include "../src/zhi.h"

#include <gsf/gsf-infile-msole.h>
#include <gsf/gsf-infile.h>
#include <gsf/gsf-input-memory.h>
#include <gsf/gsf-utils.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define CHUNK_OUT 4096 /* MS-OVBA: a chunk decompresses to at most 4096 bytes */

static pthread_once_t gsf_once = PTHREAD_ONCE_INIT;

static void quiet(const gchar *domain, GLogLevelFlags level, const gchar *msg, gpointer ud)
{
    /* libgsf warns on stderr about every damaged file it meets; damage is
     * reported as a hit instead. */
}

/* libgsf registers its GObject types on first use without a lock: register
 * them once, before any scanner thread opens a file. */
static void gsf_setup(void)
{
    gsf_init();
    (void)gsf_input_memory_get_type();
    (void)gsf_infile_msole_get_type();
    g_log_set_handler("libgsf:msole", G_LOG_LEVEL_MASK, quiet, NULL);
    g_log_set_handler("libgsf", G_LOG_LEVEL_MASK, quiet, NULL);
    /* gsf-infile.c warns under no domain ("Unable to get child..."); nothing
     * else in the engine logs through GLib's default domain. */
    g_log_set_handler(NULL, G_LOG_LEVEL_WARNING | G_LOG_LEVEL_MESSAGE, quiet, NULL);
}

static int ole_bid(const struct zhi_scan *s, const struct zhi_object *o)
{
    return o->sniffed == ZHI_T_OLE2 ? 100 : 0;
}

static uint16_t le16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* ---- the directory's size, before libgsf sees the file ----------------------
 * MS-CFB 2.2: the header names the sector size, the FAT's sectors (109 in the
 * header, the rest in a DIFAT chain) and the directory's first sector; the
 * FAT links the directory's sectors. The chain is followed as far as the file
 * has sectors; a chain that loops or leaves the FAT is damage. On success
 * *entries is the number of directory entries the chain holds. */
static const char *directory_size(const uint8_t *p, size_t n, uint64_t *entries)
{
    if (n < 512)
        return "shorter than its 512-byte header";
    unsigned shift = le16(p + 30);
    if (shift != 9 && shift != 12)
        return "sector size is neither 512 nor 4096 bytes";
    size_t ss = (size_t)1 << shift, per = ss / 4;
    uint64_t sectors = (n - 512 + ss - 1) / ss; /* a short last sector counts */
    uint32_t n_fat = le32(p + 44), dir = le32(p + 48);
    uint32_t difat = le32(p + 68), n_difat = le32(p + 72);
    if (n_fat == 0 || n_fat > sectors)
        return "its FAT has more sectors than the file";
    /* The FAT's sector numbers: 109 in the header, then the DIFAT chain. */
    uint32_t *fat_sectors = malloc(n_fat * sizeof *fat_sectors);
    if (!fat_sectors)
        return "out of memory";
    const char *why = NULL;
    uint32_t got = 0;
    for (uint32_t i = 0; i < 109 && got < n_fat; i++)
        fat_sectors[got++] = le32(p + 76 + 4 * i);
    for (uint32_t k = 0; got < n_fat && k < n_difat; k++) {
        if (difat >= sectors || 512 + ((uint64_t)difat + 1) * ss > n) {
            why = "its DIFAT chain leaves the file";
            goto out;
        }
        const uint8_t *d = p + 512 + (size_t)difat * ss;
        for (size_t i = 0; i + 1 < per && got < n_fat; i++)
            fat_sectors[got++] = le32(d + 4 * i);
        difat = le32(d + 4 * (per - 1));
    }
    if (got < n_fat) {
        why = "its DIFAT names fewer FAT sectors than the header";
        goto out;
    }
    /* The first entry must be the root storage, without siblings (MS-CFB
     * 2.6.2): libgsf reads a root's siblings into entries that belong to no
     * storage and never frees them (found by fuzz_office). */
    if (dir >= sectors || 512 + ((uint64_t)dir + 1) * ss > n) {
        why = "its directory starts outside the file";
        goto out;
    }
    const uint8_t *root = p + 512 + (size_t)dir * ss;
    if (root[66] != 5 || le32(root + 68) != 0xffffffffu || le32(root + 72) != 0xffffffffu) {
        why = "its first directory entry is not a root storage without siblings";
        goto out;
    }
    /* Follow the directory's chain: at most one step per sector. */
    uint64_t steps = 0;
    for (uint32_t sec = dir; sec != 0xfffffffeu; steps++) {
        uint64_t fi = sec / per, fs = fi < n_fat ? fat_sectors[fi] : 0xffffffffu;
        if (steps >= sectors || fi >= n_fat || fs >= sectors || 512 + (fs + 1) * ss > n) {
            why = "its directory's sector chain loops or leaves the file";
            goto out;
        }
        sec = le32(p + 512 + fs * ss + 4 * (sec % per));
    }
    *entries = steps * (ss / 128);
out:
    free(fat_sectors);
    return why;
}

/* ---- MS-OVBA 2.4.1: decompression -------------------------------------------
 * A CompressedContainer is a signature byte 1 and chunks of at most 4098 bytes
 * that each decompress to at most 4096. The output is held to `max` bytes;
 * beyond it *over is set and decompression stops. Returns false when the
 * container is damaged (what was decompressed stays in out). */
static bool ovba_decompress(const uint8_t *in, size_t n, struct zhi_buf *out, size_t max,
                            bool *over, bool *oom)
{
    *over = *oom = false;
    if (n < 1 || in[0] != 1)
        return false;
    size_t pos = 1;
    while (pos < n) {
        if (n - pos < 2)
            return false;
        uint16_t hdr = le16(in + pos);
        if (((hdr >> 12) & 7) != 3)
            return false; /* CompressedChunkSignature */
        size_t size = (size_t)(hdr & 0x0fff) + 3;
        size_t end = size > n - pos ? n : pos + size;
        pos += 2;
        size_t start = out->len;
        if (out->len + CHUNK_OUT > max) {
            *over = true;
            return true;
        }
        if (!(hdr & 0x8000)) { /* a raw chunk: 4096 bytes as they are */
            size_t take = n - pos < CHUNK_OUT ? n - pos : CHUNK_OUT;
            if (!zhi_buf_append(out, in + pos, take)) {
                *oom = true;
                return false;
            }
            pos += take;
            if (take < CHUNK_OUT)
                return false;
            continue;
        }
        while (pos < end) {
            uint8_t flags = in[pos++];
            for (int bit = 0; bit < 8 && pos < end; bit++) {
                if (!(flags >> bit & 1)) {
                    if (out->len - start >= CHUNK_OUT)
                        return false;
                    if (!zhi_buf_append(out, in + pos++, 1)) {
                        *oom = true;
                        return false;
                    }
                    continue;
                }
                if (end - pos < 2)
                    return false;
                uint16_t token = le16(in + pos);
                pos += 2;
                size_t done = out->len - start;
                unsigned bits = 4;
                while (((size_t)1 << bits) < done)
                    bits++;
                size_t length = (size_t)(token & (0xffffu >> bits)) + 3;
                size_t offset = (size_t)(token >> (16 - bits)) + 1;
                if (offset > done || done + length > CHUNK_OUT)
                    return false;
                for (size_t k = 0; k < length; k++) {
                    uint8_t c = out->p[out->len - offset];
                    if (!zhi_buf_append(out, &c, 1)) {
                        *oom = true;
                        return false;
                    }
                }
            }
        }
        pos = end;
    }
    return true;
}

/* ---- one file's walk ---------------------------------------------------------- */
struct walk {
    struct zhi_extract *x;
    struct zhi_scan *s;
    size_t idx;       /* the OLE2 object */
    const char *path; /* its path, for hits */
    unsigned vba_modules;
    zh_err rc;
};

/* A stream or storage name as a path element: control characters and '/'
 * (and '%') written %XX, as "\x01Ole10Native" becomes "%01Ole10Native". */
static const char *element(struct zhi_arena *a, const char *name)
{
    size_t n = strlen(name);
    char *out = zhi_arena_alloc(a, 3 * n + 1), *o = out;
    if (!out)
        return NULL;
    for (const unsigned char *c = (const unsigned char *)name; *c; c++) {
        if (*c < 0x20 || *c == 0x7f || *c == '/' || *c == '%' || *c == '\\')
            o += sprintf(o, "%%%02X", *c);
        else
            *o++ = (char)*c;
    }
    *o = 0;
    return *out ? out : "unnamed";
}

static const char *join(struct zhi_arena *a, const char *dir, const char *name)
{
    return *dir ? zhi_arena_printf(a, "%s/%s", dir, name) : zhi_arena_strdup(a, name);
}

static void damaged(struct walk *w, const char *rule, const char *object, const char *fmt,
                    const char *arg)
{
    if (w->rc == ZH_ERR_OK)
        w->rc = zhi_extract_damaged(w->x, rule, object, fmt, arg);
}

/* Append member `rel` (relative to the OLE2 file) with `len` bytes of data
 * already counted; -1 on OOM. */
static int add(struct walk *w, const char *rel, const uint8_t *data, size_t len, unsigned flags)
{
    int m = zhi_extract_add(w->x, w->idx, rel, data, len, flags);
    if (m < 0)
        w->rc = ZH_ERR_FATAL;
    return m;
}

/* Count one member and its bytes against the budget; false when it does not
 * fit (w->rc says why). */
static bool budget(struct walk *w, const char *rel, size_t len, uint64_t in)
{
    const char *path = zhi_arena_printf(w->s->arena, "%s/%s", w->path, rel);
    if (!path) {
        w->rc = ZH_ERR_FATAL;
        return false;
    }
    zh_err rc = zhi_extract_count(w->x, path);
    if (rc == ZH_ERR_OK)
        rc = zhi_extract_bytes(w->x, path, len, len, in ? in : 1);
    w->rc = rc;
    return rc == ZH_ERR_OK;
}

/* The embedded file of an OLE Package object ("\x01Ole10Native": a 32-bit
 * size, then the packager data package.c reads), as a member under its own
 * name beside the stream. */
static void ole10native(struct walk *w, const char *dir, const uint8_t *p, size_t n)
{
    struct zhi_arena *a = w->s->arena;
    const char *where = zhi_arena_printf(a, "%s/%s", w->path, join(a, dir, "%01Ole10Native"));
    struct zhi_package pkg;
    if (!where || n < 4 || !zhi_package_parse(a, p + 4, n - 4, &pkg)) {
        damaged(w, "malformed_ole_package", where ? where : w->path,
                "the embedded file of an OLE Package object %s", "is cut short");
        return;
    }
    const char *name = element(a, *pkg.name ? pkg.name : "package.bin");
    const char *rel = name ? join(a, dir, name) : NULL;
    if (!rel) {
        w->rc = ZH_ERR_FATAL;
        return;
    }
    if (!budget(w, rel, pkg.len, pkg.len))
        return;
    const uint8_t *copy = zhi_arena_memdup(a, pkg.data ? pkg.data : (const uint8_t *)"", pkg.len);
    int m = copy ? add(w, rel, copy, pkg.len, pkg.cut ? ZHI_OBJ_TRUNCATED : 0) : -1;
    if (m < 0) {
        w->rc = ZH_ERR_FATAL;
        return;
    }
    if (zhi_object_note(w->s, (size_t)m, "ole.package", "%s", *pkg.label ? pkg.label : name) !=
            ZH_ERR_OK ||
        (*pkg.path &&
         zhi_object_note(w->s, (size_t)m, "ole.package_path", "%s", pkg.path) != ZH_ERR_OK)) {
        w->rc = ZH_ERR_FATAL;
        return;
    }
    if (pkg.cut)
        damaged(w, "malformed_ole_package", where, "the embedded file of an OLE Package object %s",
                "claims more bytes than it has");
}

/* Read a whole stream of the file; NULL (and w->rc or a damaged hit) when it
 * does not fit the budget or cannot be read. The bytes are counted. */
static const uint8_t *read_stream(struct walk *w, GsfInput *in, const char *rel, size_t *len)
{
    gsf_off_t size = gsf_input_size(in);
    if (size < 0)
        size = 0;
    if (!budget(w, rel, (size_t)size, (uint64_t)size))
        return NULL;
    uint8_t *buf = zhi_arena_alloc(w->s->arena, (size_t)size + 1);
    if (!buf) {
        w->rc = ZH_ERR_FATAL;
        return NULL;
    }
    if (size > 0 && !gsf_input_read(in, (size_t)size, buf)) {
        damaged(w, "malformed_ole", zhi_arena_printf(w->s->arena, "%s/%s", w->path, rel),
                "stream %s could not be read to its end", rel);
        return NULL;
    }
    buf[size] = 0;
    *len = (size_t)size;
    return buf;
}

/* Child `name` of storage dir, its case ignored as Office ignores it; a new
 * reference, or NULL. */
static GsfInput *child_ci(GsfInfile *dir, const char *name)
{
    for (int i = 0, k = gsf_infile_num_children(dir); i < k; i++) {
        const char *ci = gsf_infile_name_by_index(dir, i);
        if (ci && !strcasecmp(ci, name))
            return gsf_infile_child_by_index(dir, i);
    }
    return NULL;
}

/* The bytes of stream `name` of storage `dir`, decompressed from `offset`
 * (MS-OVBA), held to the member bound. NULL with a damaged hit when the
 * stream or its compression is damaged. */
static const uint8_t *vba_stream(struct walk *w, GsfInfile *vba, const char *name, uint32_t offset,
                                 const char *rel, size_t *out_len)
{
    struct zhi_arena *a = w->s->arena;
    const char *where = zhi_arena_printf(a, "%s/%s", w->path, rel);
    GsfInput *in = child_ci(vba, name);
    if (!in) {
        damaged(w, "malformed_vba", where ? where : w->path,
                "the VBA project names a module stream %s that it lacks", name);
        return NULL;
    }
    const uint8_t *result = NULL;
    gsf_off_t size = gsf_input_size(in);
    uint8_t *raw = size > 0 && (uint64_t)size <= zhi_limit_bound(w->s, ZHI_L_member_bytes)
                       ? malloc((size_t)size)
                       : NULL;
    if (!raw || !gsf_input_read(in, (size_t)size, raw) || offset >= (uint64_t)size) {
        damaged(w, "malformed_vba", where ? where : w->path,
                "the VBA module stream %s could not be read", name);
        goto out;
    }
    struct zhi_buf buf = {0};
    bool over, oom;
    size_t max = zhi_limit_bound(w->s, ZHI_L_member_bytes);
    bool ok = ovba_decompress(raw + offset, (size_t)size - offset, &buf, max, &over, &oom);
    if (oom) {
        w->rc = ZH_ERR_FATAL;
        free(buf.p);
        goto out;
    }
    /* Counted as a member of buf.len bytes made from the compressed ones. */
    if (budget(w, rel, over ? max + 1 : buf.len, (size_t)size - offset)) {
        uint8_t *copy = zhi_arena_memdup(a, buf.p ? buf.p : (const uint8_t *)"", buf.len);
        if (!copy)
            w->rc = ZH_ERR_FATAL;
        result = copy;
        *out_len = buf.len;
        if (!ok)
            damaged(w, "malformed_vba", where ? where : w->path,
                    "the compressed source of VBA module %s is damaged", name);
    }
    free(buf.p);
out:
    free(raw);
    g_object_unref(in);
    return result;
}

/* MS-OVBA 2.3.4.2: the decompressed "dir" stream is a list of records (16-bit
 * id, 32-bit size, data). A module is MODULENAME (0x19), MODULESTREAMNAME
 * (0x1a), MODULEOFFSET (0x31), MODULETYPE (0x21 procedural, 0x22 document or
 * class), ended by 0x2b. PROJECTVERSION (0x09) is the one record whose size
 * field does not count its 6 bytes. */
static void vba_project(struct walk *w, GsfInfile *vba, const char *vdir)
{
    struct zhi_arena *a = w->s->arena;
    const char *dir_rel = join(a, vdir, "dir");
    const char *where = dir_rel ? zhi_arena_printf(a, "%s/%s", w->path, dir_rel) : NULL;
    if (!where) {
        w->rc = ZH_ERR_FATAL;
        return;
    }
    GsfInput *in = child_ci(vba, "dir");
    gsf_off_t size = in ? gsf_input_size(in) : -1;
    uint8_t *raw = size > 0 && (uint64_t)size <= zhi_limit_bound(w->s, ZHI_L_member_bytes)
                       ? malloc((size_t)size)
                       : NULL;
    struct zhi_buf d = {0};
    bool over = false, oom = false;
    bool ok = raw && gsf_input_read(in, (size_t)size, raw) &&
              ovba_decompress(raw, (size_t)size, &d, zhi_limit_bound(w->s, ZHI_L_member_bytes),
                              &over, &oom) &&
              !over;
    free(raw);
    if (in)
        g_object_unref(in);
    if (oom) {
        w->rc = ZH_ERR_FATAL;
        goto out;
    }
    if (!ok)
        damaged(w, "malformed_vba", where, "the VBA project's %s stream is damaged", "dir");
    const char *name = NULL, *stream = NULL;
    uint32_t offset = 0;
    bool cls = false;
    size_t pos = 0;
    while (w->rc == ZH_ERR_OK && d.len - pos >= 6) {
        uint16_t id = le16(d.p + pos);
        size_t len = id == 0x0009 ? 6 : le32(d.p + pos + 2);
        pos += 6;
        if (len > d.len - pos) {
            damaged(w, "malformed_vba", where, "a record of the VBA project's %s stream is cut",
                    "dir");
            break;
        }
        const uint8_t *r = d.p + pos;
        pos += len;
        if (id == 0x0019)
            name = zhi_latin1_to_utf8(a, r, len);
        else if (id == 0x001a)
            stream = zhi_latin1_to_utf8(a, r, len);
        else if (id == 0x0031 && len >= 4)
            offset = le32(r);
        else if (id == 0x0021 || id == 0x0022)
            cls = id == 0x0022;
        else if (id == 0x0010)
            break; /* the end of the dir stream */
        if (id != 0x002b)
            continue;
        if (name && stream) {
            const char *el = element(a, *name ? name : stream);
            const char *rel = el ? zhi_arena_printf(a, "%s%s%s.%s", vdir, *vdir ? "/" : "", el,
                                                    cls ? "cls" : "bas")
                                 : NULL;
            if (!rel) {
                w->rc = ZH_ERR_FATAL;
                break;
            }
            size_t len_src = 0;
            const uint8_t *src = vba_stream(w, vba, stream, offset, rel, &len_src);
            if (src) {
                int m = add(w, rel, src, len_src, 0);
                if (m >= 0 &&
                    zhi_object_note(w->s, (size_t)m, "vba.module", "%s", name) != ZH_ERR_OK)
                    w->rc = ZH_ERR_FATAL;
                w->vba_modules++;
            }
        }
        name = stream = NULL;
        offset = 0;
        cls = false;
    }
out:
    free(d.p);
}

/* A BIFF string of n characters at p (within lim bytes): one flag byte
 * (bit 0: UTF-16), then the characters. */
static const char *biff_string(struct zhi_arena *a, const uint8_t *p, size_t lim, size_t n)
{
    if (lim < 1)
        return "";
    bool wide = p[0] & 1;
    size_t bytes = wide ? 2 * n : n;
    if (bytes > lim - 1)
        bytes = lim - 1;
    return wide ? zhi_utf16_to_utf8(a, p + 1, bytes, false) : zhi_latin1_to_utf8(a, p + 1, bytes);
}

/* Excel 4.0 (XLM) macros in a BIFF8 workbook stream ([MS-XLS] 2.4): a
 * BoundSheet8 record (0x85) of sheet type 1 is a macro sheet, often hidden
 * or "very hidden"; a Lbl record (0x18) for the built-in name 1 (Auto_Open),
 * or a name spelled Auto_Open..., runs it on opening. The Qakbot, ZLoader and
 * Dridex workbooks of 2020–2021 carried their downloader so, when VBA was
 * watched. Noted on the file: xls.macro_sheet = "<name> (<state>)",
 * xls.auto_open = <name>. Records are walked to the stream's end, each at
 * least 4 bytes long. */
static void biff_sheets(struct walk *w, const uint8_t *p, size_t n)
{
    static const char *const states[] = {"visible", "hidden", "very hidden"};
    struct zhi_arena *a = w->s->arena;
    for (size_t pos = 0; w->rc == ZH_ERR_OK && n - pos >= 4;) {
        uint16_t id = le16(p + pos), size = le16(p + pos + 2);
        const uint8_t *r = p + pos + 4;
        size_t len = size <= n - pos - 4 ? size : n - pos - 4;
        pos += 4 + len;
        if (id == 0x0085 && len >= 8 && r[5] == 0x01) {
            const char *name = biff_string(a, r + 7, len - 7, r[6]);
            /* lbPlyPos, hsState (visibility), dt (1: macro sheet), the name */
            unsigned state = (r[4] & 3) > 2 ? 2 : r[4] & 3;
            if (!name || zhi_object_note(w->s, w->idx, "xls.macro_sheet", "%s (%s)", name,
                                         states[state]) != ZH_ERR_OK)
                w->rc = ZH_ERR_FATAL;
        } else if (id == 0x0018 && len >= 15) {
            /* flags, chKey, cch, cce, 2 reserved, itab, 4 reserved, the name */
            bool builtin = le16(r) & 0x20;
            const char *name = builtin && r[3] == 1 && len >= 16 && r[15] == 0x01
                                   ? "Auto_Open"
                                   : biff_string(a, r + 14, len - 14, r[3]);
            if (!name)
                w->rc = ZH_ERR_FATAL;
            else if (!strncasecmp(name, "Auto_Open", 9) &&
                     zhi_object_note(w->s, w->idx, "xls.auto_open", "%s", name) != ZH_ERR_OK)
                w->rc = ZH_ERR_FATAL;
        } else if (id == 0x000a) {
            break; /* the end of the globals substream: sheets follow, no names */
        }
    }
}

/* Walk storage `dir` (path `rel` inside the file, "" for the root). */
static void walk_storage(struct walk *w, GsfInfile *dir, const char *rel, int depth)
{
    struct zhi_arena *a = w->s->arena;
    if (zhi_scan_limit(w->s, ZHI_L_ole_depth, (uint64_t)depth, w->path) != ZH_ERR_OK)
        return; /* the deeper storages are not seen: the limit hit says so */
    bool has_dir = false, has_project = false;
    int n = gsf_infile_num_children(dir);
    for (int i = 0; i < n && w->rc == ZH_ERR_OK; i++) {
        const char *raw_name = gsf_infile_name_by_index(dir, i);
        const char *name = element(a, raw_name ? raw_name : "");
        const char *crel = name ? join(a, rel, name) : NULL;
        if (!crel) {
            w->rc = ZH_ERR_FATAL;
            return;
        }
        GsfInput *child = gsf_infile_child_by_index(dir, i);
        if (!child) {
            damaged(w, "malformed_ole", zhi_arena_printf(a, "%s/%s", w->path, crel),
                    "entry %s could not be opened", crel);
            continue;
        }
        if (GSF_IS_INFILE(child) && gsf_infile_num_children(GSF_INFILE(child)) >= 0) {
            walk_storage(w, GSF_INFILE(child), crel, depth + 1);
        } else {
            size_t len = 0;
            const uint8_t *data = read_stream(w, child, crel, &len);
            if (data && add(w, crel, data, len, 0) >= 0) {
                if (raw_name && !strcmp(raw_name, "\x01Ole10Native"))
                    ole10native(w, rel, data, len);
                else if (raw_name && !strcmp(raw_name, "EncryptedPackage"))
                    w->s->objects[w->idx].flags |= ZHI_OBJ_HAS_ENCRYPTED;
                else if (raw_name && !*rel &&
                         (!strcmp(raw_name, "Workbook") || !strcmp(raw_name, "Book")))
                    biff_sheets(w, data, len);
            }
            has_dir |= raw_name && !strcasecmp(raw_name, "dir");
            has_project |= raw_name && !strcasecmp(raw_name, "_VBA_PROJECT");
        }
        g_object_unref(child);
    }
    if (w->rc == ZH_ERR_OK && has_dir && has_project)
        vba_project(w, dir, rel);
}

static zh_err ole_extract(struct zhi_extract *x, size_t idx)
{
    struct zhi_scan *s = zhi_extract_scan(x);
    const struct zhi_object ole = s->objects[idx]; /* appending moves s->objects */
    struct walk w = {.x = x, .s = s, .idx = idx, .path = ole.path};
    uint64_t entries = 0;
    const char *why = directory_size(ole.data, ole.len, &entries);
    if (why)
        return zhi_extract_damaged(x, "malformed_ole", ole.path,
                                   "OLE2 compound file could not be opened: %s", why);
    if (zhi_scan_limit(s, ZHI_L_ole_entries, entries, ole.path) != ZH_ERR_OK)
        return ZH_ERR_OK; /* not opened; the limit hit keeps the message from CLEAN */
    pthread_once(&gsf_once, gsf_setup);
    GError *err = NULL;
    GsfInput *mem = gsf_input_memory_new(ole.data, (gsf_off_t)ole.len, FALSE);
    GsfInfile *root = mem ? gsf_infile_msole_new(mem, &err) : NULL;
    if (!root) {
        w.rc = zhi_extract_damaged(x, "malformed_ole", ole.path,
                                   "OLE2 compound file could not be opened: %s",
                                   err && err->message ? err->message : "libgsf refused it");
    } else {
        walk_storage(&w, root, "", 0);
        if (w.rc == ZH_ERR_OK && w.vba_modules &&
            zhi_object_note(s, idx, "ole.vba_modules", "%u", w.vba_modules) != ZH_ERR_OK)
            w.rc = ZH_ERR_FATAL;
        g_object_unref(root);
    }
    if (err)
        g_error_free(err);
    if (mem)
        g_object_unref(mem);
    return w.rc;
}

const struct zh_extractor zh_extractor_ole = {
    .name = "ole",
    .src = ZHI_SRC_ole,
    .flags = ZH_EXTRACT_NESTS,
    .member_kind = ZHI_K_MEMBER,
    .bid = ole_bid,
    .extract = ole_extract,
};
