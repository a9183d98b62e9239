/* fat: disk images as the 2022–2023 waves mailed them (Shipping_Documents.img,
 * invoice.vhd): raw FAT12/16/32 volumes (.img, .ima, .vfd), disks holding
 * them behind an MBR or GPT partition table, and VHDs, fixed (a raw disk and
 * a 512-byte "conectix" footer) or dynamic (blocks behind a table). Windows
 * mounts all of these with a double-click. Every file becomes a member named
 * by its path in the volume ("Shipping_Documents.img/Docs/invoice.exe", with
 * "partition-N/" in front on a partitioned disk), under its long (VFAT) name
 * when the checksum ties it to its short entry.
 *
 * An own reader: no Debian library reads FAT from memory (mtools and
 * dosfstools work on files). Bounded on every axis: folder depth
 * (image_max_dir_depth), directory entries read (image_max_dir_entries),
 * members and bytes through the stage's budget; a cluster chain is followed
 * only while it stays inside the volume and never visits a cluster twice.
 * A volume that lies — a chain that loops or ends early, a folder that holds
 * its own ancestor, an image cut short — is a scored, unscannable hit with
 * what could be read kept. What it cannot read at all (differencing VHDs,
 * VHDX, NTFS or other partitions) is an unsupported_format hit: never CLEAN. */
#include "../src/zhi.h"

#include <stdlib.h>
#include <string.h>

#define SECTOR 512
#define MAX_LFN_SLOTS 20 /* 20 × 13 UTF-16 units = 260, past the 255 allowed */
#define MAX_GPT_ENTRIES 128

static uint16_t le16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le64(const uint8_t *p)
{
    return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static int fat_bid(const struct zhi_scan *s, const struct zhi_object *o)
{
    return o->sniffed == ZHI_T_FAT || o->sniffed == ZHI_T_VHD ? 100 : 0;
}

/* One FAT volume, its geometry checked against the bytes there are. */
struct vol {
    const uint8_t *p;
    size_t len;  /* bytes present (an image may be cut short of what it claims) */
    int bits;    /* 12, 16 or 32 */
    uint32_t cs; /* cluster size in bytes */
    uint64_t fat_off, fat_bytes;
    uint64_t root_off;     /* FAT12/16: the fixed root directory */
    uint32_t root_entries; /* FAT12/16 */
    uint32_t root_cluster; /* FAT32 */
    uint64_t data_off;
    uint32_t declared_max; /* highest cluster number the volume declares */
    uint32_t max_cluster;  /* highest one present in the image */
    uint32_t *seen;        /* per cluster: the chain that last visited it */
    uint32_t chain;
};

/* The state of one image being read. */
struct walk {
    struct zhi_extract *x;
    struct zhi_scan *s;
    size_t idx;                   /* the image's object */
    const struct zhi_object *img; /* a copy of it */
    const char *prefix;           /* "" or "partition-2/" */
    struct vol v;
    uint64_t entries;       /* directory slots read */
    uint32_t ancestors[65]; /* first clusters of the folders being walked */
    struct zhi_buf buf;
};

static bool is_fat_boot(const uint8_t *p, size_t n)
{
    if (n < SECTOR || p[510] != 0x55 || p[511] != 0xaa || (p[0] != 0xeb && p[0] != 0xe9))
        return false;
    unsigned bps = le16(p + 11), spc = p[13];
    return (bps == 512 || bps == 1024 || bps == 2048 || bps == 4096) && spc && !(spc & (spc - 1)) &&
           le16(p + 14) && p[16];
}

/* The geometry from the BIOS parameter block; false when it is not sane. */
static bool vol_open(struct vol *v, const uint8_t *p, size_t len)
{
    *v = (struct vol){.p = p, .len = len};
    uint32_t bps = le16(p + 11), spc = p[13], reserved = le16(p + 14), nfats = p[16];
    uint32_t root_entries = le16(p + 17), total16 = le16(p + 19), fatsz16 = le16(p + 22);
    uint32_t total32 = le32(p + 32), fatsz32 = le32(p + 36);
    uint64_t total = total16 ? total16 : total32;
    /* FAT32 has no FAT size in the old field and no fixed root (Linux decides
     * so too); FAT12 and FAT16 differ by cluster count (Microsoft's rule). */
    bool fat32 = fatsz16 == 0;
    uint64_t fatsz = fat32 ? fatsz32 : fatsz16;
    if (fat32 && root_entries)
        return false;
    if (!fatsz || !total)
        return false;
    v->cs = bps * spc;
    v->fat_off = (uint64_t)reserved * bps;
    v->fat_bytes = fatsz * bps;
    v->root_off = v->fat_off + nfats * v->fat_bytes;
    v->root_entries = root_entries;
    uint64_t root_bytes = ((uint64_t)root_entries * 32 + bps - 1) / bps * bps;
    v->data_off = v->root_off + root_bytes;
    uint64_t data_sectors = total * bps > v->data_off ? total - v->data_off / bps : 0;
    uint64_t clusters = data_sectors / spc;
    if (!clusters || clusters > 0x0ffffff5)
        return false;
    v->bits = fat32 ? 32 : clusters < 4085 ? 12 : 16;
    /* The FAT must have an entry for every cluster. */
    uint64_t fat_entries = v->bits == 12 ? v->fat_bytes * 2 / 3 : v->fat_bytes / (v->bits / 8);
    if (fat_entries < 2)
        return false;
    if (clusters + 2 > fat_entries)
        clusters = fat_entries - 2;
    v->declared_max = v->max_cluster = (uint32_t)(clusters + 1);
    v->root_cluster = fat32 ? le32(p + 44) : 0;
    return true;
}

/* The FAT entry of cluster c, or 0 (free: the chain is broken) when the
 * table itself lies beyond the image. */
static uint32_t fat_next(const struct vol *v, uint32_t c)
{
    uint64_t off = v->bits == 12 ? (uint64_t)c + c / 2 : (uint64_t)c * (v->bits / 8);
    uint64_t at = v->fat_off + off, width = v->bits == 32 ? 4 : 2;
    if (off + width > v->fat_bytes || at + width > v->len)
        return 0;
    if (v->bits == 12) {
        uint32_t x = le16(v->p + at);
        return c & 1 ? x >> 4 : x & 0xfff;
    }
    return v->bits == 16 ? le16(v->p + at) : le32(v->p + at) & 0x0fffffff;
}

static bool end_of_chain(const struct vol *v, uint32_t c)
{
    return c >= (v->bits == 12 ? 0xff8u : v->bits == 16 ? 0xfff8u : 0x0ffffff8u);
}

/* Where cluster c starts, or NULL when it is outside the volume (why says
 * which: not a data cluster, or past the end of a cut image). */
static const uint8_t *cluster_at(const struct vol *v, uint32_t c, const char **why)
{
    if (c < 2 || c > v->declared_max) {
        *why = "points outside the volume";
        return NULL;
    }
    uint64_t off = v->data_off + (uint64_t)(c - 2) * v->cs;
    if (c > v->max_cluster || off + v->cs > v->len) {
        *why = "runs past the end of the image";
        return NULL;
    }
    return v->p + off;
}

#define DAMAGED(w, path, ...) zhi_extract_damaged((w)->x, "malformed_image", path, __VA_ARGS__)

/* Read a file of `size` bytes from cluster `first` into w->buf and append it
 * as member `name`. */
static zh_err read_file(struct walk *w, const char *name, uint32_t first, uint32_t size)
{
    const char *path = zhi_arena_printf(w->s->arena, "%s/%s", w->img->path, name);
    if (!path)
        return ZH_ERR_FATAL;
    struct vol *v = &w->v;
    w->buf.len = 0;
    const char *why = NULL;
    zh_err limit = ZH_ERR_OK;
    uint32_t c = first;
    v->chain++;
    while (w->buf.len < size) {
        const uint8_t *d = cluster_at(v, c, &why);
        if (!d)
            break;
        if (v->seen[c] == v->chain) {
            why = "loops back on itself";
            break;
        }
        v->seen[c] = v->chain;
        size_t n = size - w->buf.len < v->cs ? size - w->buf.len : v->cs;
        if ((limit = zhi_extract_bytes(w->x, path, w->buf.len + n, n, w->buf.len + n)) != ZH_ERR_OK)
            break;
        if (!zhi_buf_append(&w->buf, d, n))
            return ZH_ERR_FATAL;
        if (w->buf.len == size)
            break;
        c = fat_next(v, c);
        if (end_of_chain(v, c)) {
            why = "ends before the file's size";
            break;
        }
    }
    bool cut = w->buf.len < size;
    const uint8_t *data =
        zhi_arena_memdup(w->s->arena, w->buf.p ? w->buf.p : (const uint8_t *)"", w->buf.len);
    if (!data ||
        zhi_extract_add(w->x, w->idx, name, data, w->buf.len, cut ? ZHI_OBJ_TRUNCATED : 0) < 0)
        return ZH_ERR_FATAL;
    if (limit != ZH_ERR_OK)
        return limit;
    if (cut && why)
        return DAMAGED(w, path, "the file's cluster chain %s", why);
    return ZH_ERR_OK;
}

/* Long-name slots seen before a short entry (VFAT), last slot first. */
struct lfn {
    uint16_t u[MAX_LFN_SLOTS * 13 + 1];
    int expect; /* the next ordinal wanted; 0 once complete; -1 none */
    uint8_t sum;
};

static uint8_t short_sum(const uint8_t *e)
{
    uint8_t sum = 0;
    for (int i = 0; i < 11; i++)
        sum = (uint8_t)(((sum & 1) << 7) + (sum >> 1) + e[i]);
    return sum;
}

static void lfn_slot(struct lfn *l, const uint8_t *e)
{
    int ord = e[0] & 0x1f;
    if (e[0] & 0x40) { /* the last slot comes first */
        memset(l->u, 0, sizeof l->u);
        l->expect = ord;
        l->sum = e[13];
    }
    if (ord < 1 || ord > MAX_LFN_SLOTS || ord != l->expect || e[13] != l->sum) {
        l->expect = -1;
        return;
    }
    static const uint8_t at[13] = {1, 3, 5, 7, 9, 14, 16, 18, 20, 22, 24, 28, 30};
    for (int i = 0; i < 13; i++)
        l->u[(ord - 1) * 13 + i] = le16(e + at[i]);
    l->expect = ord - 1;
}

/* The entry's name: its long name when complete and tied to it by the
 * checksum, else the 8.3 name (code page bytes read as Latin-1, with the
 * lower-case flags Windows NT sets). A slash or backslash in a crafted name
 * becomes '_' so the member's path says where it really was. */
static char *entry_name(struct zhi_arena *a, const uint8_t *e, const struct lfn *l)
{
    char *name = NULL;
    if (l->expect == 0 && l->sum == short_sum(e)) {
        uint8_t raw[sizeof l->u];
        size_t n = 0;
        while (n / 2 < MAX_LFN_SLOTS * 13 && l->u[n / 2] && l->u[n / 2] != 0xffff) {
            raw[n] = (uint8_t)l->u[n / 2];
            raw[n + 1] = (uint8_t)(l->u[n / 2] >> 8);
            n += 2;
        }
        if (n)
            name = zhi_utf16_to_utf8(a, raw, n, false);
    }
    if (!name) {
        char s[13];
        size_t n = 0;
        bool lower_base = e[12] & 0x08, lower_ext = e[12] & 0x10;
        for (int i = 0; i < 11; i++) {
            uint8_t c = i == 0 && e[0] == 0x05 ? 0xe5 : e[i]; /* 0x05 stands for 0xE5 */
            if (c == ' ')
                continue;
            if (i >= 8 && (n == 0 || s[n - 1] != '.') && !memchr(s, '.', n))
                s[n++] = '.';
            if ((i < 8 ? lower_base : lower_ext) && c >= 'A' && c <= 'Z')
                c += 32;
            s[n++] = (char)c;
        }
        name = zhi_latin1_to_utf8(a, (const uint8_t *)s, n);
    }
    if (name)
        for (char *p = name; *p; p++)
            if (*p == '/' || *p == '\\')
                *p = '_';
    return name;
}

static zh_err walk_dir(struct walk *w, uint32_t first, const char *dir, int depth);

/* One directory slot; *end when it marks the end of the directory. */
static zh_err dir_slot(struct walk *w, const uint8_t *e, struct lfn *l, const char *dir, int depth,
                       bool *end)
{
    zh_err rc = zhi_scan_limit(w->s, ZHI_L_image_dir_entries, ++w->entries, w->img->path);
    if (rc != ZH_ERR_OK)
        return rc;
    if (e[0] == 0) {
        *end = true;
        return ZH_ERR_OK;
    }
    uint8_t attr = e[11];
    if (e[0] == 0xe5) { /* deleted */
        l->expect = -1;
        return ZH_ERR_OK;
    }
    if ((attr & 0x3f) == 0x0f) {
        lfn_slot(l, e);
        return ZH_ERR_OK;
    }
    if (attr & 0x08) { /* the volume label */
        l->expect = -1;
        return ZH_ERR_OK;
    }
    if (e[0] == '.' && (e[1] == ' ' || (e[1] == '.' && e[2] == ' '))) {
        l->expect = -1;
        return ZH_ERR_OK; /* "." and ".." */
    }
    char *name = entry_name(w->s->arena, e, l);
    l->expect = -1;
    if (!name)
        return ZH_ERR_FATAL;
    const char *rel = zhi_arena_printf(w->s->arena, "%s%s", dir, *name ? name : "unnamed");
    if (!rel)
        return ZH_ERR_FATAL;
    uint32_t first = (w->v.bits == 32 ? (uint32_t)le16(e + 20) << 16 : 0) | le16(e + 26);
    if ((rc = zhi_extract_count(w->x, w->img->path)) != ZH_ERR_OK)
        return rc;
    if (!(attr & 0x10))
        return read_file(w, rel, first, le32(e + 28));
    const char *sub = zhi_arena_printf(w->s->arena, "%s/", rel);
    if (!sub)
        return ZH_ERR_FATAL;
    for (int i = 0; i <= depth; i++)
        if (w->ancestors[i] == first) {
            const char *path = zhi_arena_printf(w->s->arena, "%s/%s", w->img->path, rel);
            return path ? DAMAGED(w, path, "folder %s holds its own ancestor", rel) : ZH_ERR_FATAL;
        }
    if (zhi_scan_limit(w->s, ZHI_L_image_dir_depth, (uint64_t)depth + 1, w->img->path) != ZH_ERR_OK)
        return ZH_ERR_OK; /* the hit is recorded; the rest of the volume is still read */
    return walk_dir(w, first, sub, depth + 1);
}

/* Read directory `dir` ("" for the root, else "a/b/") starting at cluster
 * `first` (0: the fixed root of FAT12/16). */
static zh_err walk_dir(struct walk *w, uint32_t first, const char *dir, int depth)
{
    struct vol *v = &w->v;
    struct lfn *l = malloc(sizeof *l);
    if (!l)
        return ZH_ERR_FATAL;
    l->expect = -1;
    w->ancestors[depth] = first;
    zh_err rc = ZH_ERR_OK;
    bool end = false;
    const char *path = zhi_arena_printf(w->s->arena, "%s/%s", w->img->path, *dir ? dir : "");
    if (!path) {
        rc = ZH_ERR_FATAL;
        goto out;
    }
    if (first == 0 && v->bits != 32) {
        uint64_t n = v->root_entries;
        for (uint64_t i = 0; i < n && !end && rc == ZH_ERR_OK; i++) {
            uint64_t off = v->root_off + i * 32;
            if (off + 32 > v->len) {
                rc = DAMAGED(w, path, "the root folder runs past the end of the image");
                break;
            }
            rc = dir_slot(w, v->p + off, l, dir, depth, &end);
        }
        goto out;
    }
    /* A folder's chain: at most one visit per cluster of the volume. */
    uint32_t c = first, steps = 0;
    const char *why = NULL;
    while (!end && rc == ZH_ERR_OK) {
        const uint8_t *d = cluster_at(v, c, &why);
        if (!d || ++steps > v->max_cluster) {
            rc = DAMAGED(w, path, "a folder's cluster chain %s", d ? "loops" : why);
            break;
        }
        for (uint32_t i = 0; i < v->cs / 32 && !end && rc == ZH_ERR_OK; i++)
            rc = dir_slot(w, d + i * 32, l, dir, depth, &end);
        if (end || rc != ZH_ERR_OK)
            break;
        c = fat_next(v, c);
        if (end_of_chain(v, c))
            break;
    }
out:
    free(l);
    return rc;
}

/* Read the FAT volume at p (len bytes present). */
static zh_err read_volume(struct walk *w, const uint8_t *p, size_t len, const char *where)
{
    if (!is_fat_boot(p, len) || !vol_open(&w->v, p, len))
        return DAMAGED(w, w->img->path, "%s has no readable FAT boot sector", where);
    struct vol *v = &w->v;
    /* One stamp per cluster that is present in the image; clusters past it
     * are never read (cluster_at says so). */
    uint64_t present = len > v->data_off ? (len - v->data_off) / v->cs : 0;
    if (present + 2 < (uint64_t)v->max_cluster + 1)
        v->max_cluster = (uint32_t)(present + 1);
    v->seen = zhi_arena_alloc(w->s->arena, ((size_t)v->max_cluster + 1) * sizeof *v->seen);
    if (!v->seen)
        return ZH_ERR_FATAL;
    memset(v->seen, 0, ((size_t)v->max_cluster + 1) * sizeof *v->seen);
    return walk_dir(w, v->bits == 32 ? v->root_cluster : 0, w->prefix, 0);
}

/* A partition that is no FAT volume: what it holds was not seen. */
static zh_err unsupported(struct walk *w, unsigned no, const char *what)
{
    return zhi_extract_damaged(w->x, "unsupported_format", w->img->path,
                               "partition %u %s; it was not read", no, what);
}

static zh_err read_partition(struct walk *w, const uint8_t *p, size_t len, uint64_t lba,
                             uint64_t sectors, unsigned no)
{
    if (lba == 0 || lba > len / SECTOR)
        return DAMAGED(w, w->img->path, "partition %u starts outside the image", no);
    uint64_t off = lba * SECTOR, n = sectors * SECTOR;
    if (n == 0 || n > len - off)
        n = len - off; /* a cut image: read what is there, chains say the rest */
    if (!is_fat_boot(p + off, (size_t)n))
        return unsupported(w, no, "holds no FAT volume");
    if (!(w->prefix = zhi_arena_printf(w->s->arena, "partition-%u/", no)))
        return ZH_ERR_FATAL;
    return read_volume(w, p + off, (size_t)n, "a partition");
}

static const uint8_t gpt_basic_data[16] = {0xa2, 0xa0, 0xd0, 0xeb, 0xe5, 0xb9, 0x33, 0x44,
                                           0x87, 0xc0, 0x68, 0xb6, 0xb7, 0x26, 0x99, 0xc7};
static const uint8_t gpt_ms_reserved[16] = {0x16, 0xe3, 0xc9, 0xe3, 0x5c, 0x0b, 0xb8, 0x4d,
                                            0x81, 0x7d, 0xf9, 0x2d, 0xf0, 0x02, 0x15, 0xae};

static zh_err read_gpt(struct walk *w, const uint8_t *p, size_t len)
{
    const uint8_t *h = p + SECTOR;
    uint64_t at = le64(h + 72);
    uint32_t count = le32(h + 80), size = le32(h + 84);
    if (size < 128 || size > 4096 || at == 0 || at > len / SECTOR)
        return DAMAGED(w, w->img->path, "the GPT partition table lies outside the image");
    if (count > MAX_GPT_ENTRIES)
        count = MAX_GPT_ENTRIES; /* what Windows writes; more is not a real disk */
    zh_err rc = ZH_ERR_OK;
    for (uint32_t i = 0; i < count && rc == ZH_ERR_OK; i++) {
        uint64_t off = at * SECTOR + (uint64_t)i * size;
        if (off + 128 > len)
            return DAMAGED(w, w->img->path,
                           "the GPT partition table runs past the end of the image");
        const uint8_t *e = p + off;
        static const uint8_t zero[16];
        if (!memcmp(e, zero, 16) || !memcmp(e, gpt_ms_reserved, 16))
            continue; /* unused, or Windows' reserved partition (no file system) */
        uint64_t first = le64(e + 32), last = le64(e + 40);
        if (first == 0 || first > len / SECTOR)
            rc = DAMAGED(w, w->img->path, "partition %u starts outside the image", i + 1);
        else if (!is_fat_boot(p + first * SECTOR, len - first * SECTOR))
            rc = unsupported(w, i + 1,
                             memcmp(e, gpt_basic_data, 16) ? "is of a type other than basic data"
                                                           : "holds no FAT volume");
        else if (!(w->prefix = zhi_arena_printf(w->s->arena, "partition-%u/", i + 1)))
            rc = ZH_ERR_FATAL;
        else {
            uint64_t n = last >= first ? (last - first + 1) * SECTOR : 0;
            uint64_t left = len - first * SECTOR;
            rc = read_volume(w, p + first * SECTOR, (size_t)(n && n < left ? n : left),
                             "a partition");
        }
    }
    return rc;
}

/* A disk: a FAT volume from its first sector, or a partition table. */
static zh_err read_disk(struct walk *w, const uint8_t *p, size_t len)
{
    if (is_fat_boot(p, len))
        return read_volume(w, p, len, "the volume");
    if (len < 2 * SECTOR || p[510] != 0x55 || p[511] != 0xaa)
        return DAMAGED(w, w->img->path, "neither a FAT volume nor a partitioned disk");
    for (int i = 0; i < 4; i++)
        if (p[446 + 16 * i + 4] == 0xee && !memcmp(p + SECTOR, "EFI PART", 8))
            return read_gpt(w, p, len);
    zh_err rc = ZH_ERR_OK;
    for (unsigned i = 0; i < 4 && rc == ZH_ERR_OK; i++) {
        const uint8_t *e = p + 446 + 16 * i;
        if (e[4] == 0)
            continue; /* unused */
        if (e[4] == 0x05 || e[4] == 0x0f || e[4] == 0x85)
            rc = unsupported(w, i + 1, "is an extended partition (its logical drives)");
        else
            rc = read_partition(w, p, len, le32(e + 8), le32(e + 12), i + 1);
    }
    return rc;
}

static uint64_t be64(const uint8_t *p)
{
    return (uint64_t)be32(p) << 32 | be32(p + 4);
}

/* A dynamic VHD: a header ("cxsparse") at the footer's data offset, a block
 * allocation table of big-endian sector numbers, and each allocated block as
 * a sector bitmap then block_size bytes of disk. The disk is rebuilt up to
 * its last allocated block (unallocated blocks read as zeros, as Windows
 * reads them); those bytes count as expanded, so a sparse bomb meets the
 * member, total and ratio bounds. */
static zh_err read_dynamic(struct walk *w, const uint8_t *p, size_t len, const uint8_t *footer)
{
    uint64_t at = be64(footer + 16);
    if (at > len || len - at < 1024 || memcmp(p + at, "cxsparse", 8))
        return DAMAGED(w, w->img->path, "the dynamic VHD's header is missing");
    const uint8_t *h = p + at;
    uint64_t bat = be64(h + 16), size = be64(footer + 48);
    uint32_t entries = be32(h + 28), bs = be32(h + 32);
    if (bs < SECTOR || bs > (1u << 28) || (bs & (bs - 1)) || bat > len || entries > (len - bat) / 4)
        return DAMAGED(w, w->img->path, "the dynamic VHD's block table lies outside the image");
    uint32_t top = 0;
    for (uint32_t i = 0; i < entries; i++)
        if (be32(p + bat + 4 * (uint64_t)i) != 0xffffffffu)
            top = i + 1;
    uint64_t disk = (uint64_t)top * bs;
    if (size && disk > size)
        disk = size;
    if (disk == 0)
        return ZH_ERR_OK; /* nothing was ever written to it */
    zh_err rc = zhi_extract_bytes(w->x, w->img->path, disk, disk, len);
    if (rc != ZH_ERR_OK)
        return rc;
    uint8_t *d = calloc(1, disk);
    if (!d)
        return ZH_ERR_FATAL;
    uint64_t bitmap = ((uint64_t)bs / SECTOR / 8 + SECTOR - 1) / SECTOR * SECTOR;
    bool cut = false;
    for (uint32_t i = 0; i < top && (uint64_t)i * bs < disk; i++) {
        uint32_t sector = be32(p + bat + 4 * (uint64_t)i);
        if (sector == 0xffffffffu)
            continue;
        uint64_t off = (uint64_t)sector * SECTOR + bitmap, want = disk - (uint64_t)i * bs;
        uint64_t n = want < bs ? want : bs;
        if (off >= len) {
            cut = true;
            continue;
        }
        if (n > len - off)
            n = len - off, cut = true;
        memcpy(d + (uint64_t)i * bs, p + off, n);
    }
    if (cut)
        rc = DAMAGED(w, w->img->path, "blocks of the dynamic VHD lie past the end of the image");
    if (rc == ZH_ERR_OK)
        rc = read_disk(w, d, disk);
    free(d);
    return rc;
}

/* A VHD: a fixed disk is the raw disk with a 512-byte footer (511 bytes in
 * images from before Virtual PC 2004); a dynamic one keeps a copy of the
 * footer in front and its blocks behind a table. Differencing disks (which
 * need their parent) and VHDX, another format, are not read. */
static zh_err read_vhd(struct walk *w, const uint8_t *p, size_t len)
{
    size_t tail = len >= SECTOR && !memcmp(p + len - SECTOR, "conectix", 8)           ? SECTOR
                  : len >= SECTOR - 1 && !memcmp(p + len - SECTOR + 1, "conectix", 8) ? SECTOR - 1
                                                                                      : 0;
    const uint8_t *footer = tail                                         ? p + len - tail
                            : len >= SECTOR && !memcmp(p, "conectix", 8) ? p
                                                                         : NULL;
    if (!footer)
        return zhi_extract_damaged(w->x, "unsupported_format", w->img->path,
                                   "a VHDX disk is not read (VHD images are)");
    uint32_t type = be32(footer + 60);
    if (type == 2 && tail)
        return read_disk(w, p, len - tail);
    if (type == 3)
        return read_dynamic(w, p, len, footer);
    return zhi_extract_damaged(w->x, "unsupported_format", w->img->path,
                               "a %s VHD is not read (fixed and dynamic ones are)",
                               type == 4 ? "differencing" : "VHD of unknown type");
}

static zh_err fat_extract(struct zhi_extract *x, size_t idx)
{
    struct zhi_scan *s = zhi_extract_scan(x);
    const struct zhi_object img = s->objects[idx]; /* appending moves s->objects */
    struct walk w = {.x = x, .s = s, .idx = idx, .img = &img, .prefix = ""};
    zh_err rc = img.sniffed == ZHI_T_VHD ? read_vhd(&w, img.data, img.len)
                                         : read_disk(&w, img.data, img.len);
    free(w.buf.p);
    return rc;
}

const struct zh_extractor zh_extractor_fat = {
    .name = "fat",
    .src = ZHI_SRC_fat,
    .flags = ZH_EXTRACT_NESTS,
    .member_kind = ZHI_K_MEMBER,
    .bid = fat_bid,
    .extract = fat_extract,
};
