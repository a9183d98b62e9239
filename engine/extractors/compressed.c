/* compressed: single-stream compressors — gzip, bzip2, xz and lzma — whose
 * output is one file, the member, never a guess at an archive inside it (a
 * .tar.gz is a tar member, opened in turn). Decoded here with zlib, libbz2
 * and liblzma rather than libarchive, whose format bidding took the leading
 * zero blocks of "1 KiB of zeros + a PE" for an empty tar and produced no
 * member at all. A damaged or cut stream keeps every byte it yielded (zcat
 * does the same) and is a scored, unscannable hit: what is missing was not
 * seen. Concatenated streams decode as one, as zcat, bzcat and xzcat do. */
#include "../src/zhi.h"

#include <bzlib.h>
#include <lzma.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>

#define CHUNK (64 * 1024)

static int compressed_bid(const struct zhi_scan *s, const struct zhi_object *o)
{
    /* Above the archive extractor's bid for the same types. */
    return o->sniffed == ZHI_T_GZIP || o->sniffed == ZHI_T_BZIP2 || o->sniffed == ZHI_T_XZ ? 200
                                                                                           : 0;
}

/* The member's name: the stream's own name without its compression extension
 * ("report.txt.gz" → "report.txt", "a.tgz" → "a.tar"), else "data". */
static const char *member_name(struct zhi_arena *a, const struct zhi_object *o)
{
    const char *fn = o->filename ? o->filename : "";
    const char *slash = strrchr(fn, '/'), *bslash = strrchr(fn, '\\');
    if (bslash > slash)
        slash = bslash;
    fn = slash ? slash + 1 : fn;
    const char *dot = strrchr(fn, '.');
    if (!dot || dot == fn)
        return "data";
    static const struct {
        const char *ext, *becomes;
    } exts[] = {{".gz", ""},      {".gzip", ""},     {".z", ""},      {".bz2", ""},
                {".bz", ""},      {".xz", ""},       {".lzma", ""},   {".tgz", ".tar"},
                {".tbz", ".tar"}, {".tbz2", ".tar"}, {".txz", ".tar"}};
    for (size_t i = 0; i < sizeof exts / sizeof exts[0]; i++)
        if (!strcasecmp(dot, exts[i].ext))
            return zhi_arena_printf(a, "%.*s%s", (int)(dot - fn), fn, exts[i].becomes);
    return "data";
}

/* One decoder behind three libraries: `step` consumes input and produces
 * at most `room` bytes; it says whether the stream ended cleanly, failed, or
 * needs more (which, with no input left, means the stream was cut). */
enum step { STEP_MORE, STEP_END, STEP_DAMAGED, STEP_MEMLIMIT };

struct decoder {
    enum zhi_type type;
    const uint8_t *in;
    size_t in_len, in_pos;
    uint64_t memlimit, memneeded;
    const char *why;
    z_stream z;
    bz_stream bz;
    lzma_stream xz;
    bool open;
};

static bool dec_open(struct decoder *d)
{
    switch (d->type) {
    case ZHI_T_GZIP:
        memset(&d->z, 0, sizeof d->z);
        d->open = inflateInit2(&d->z, 15 + 16) == Z_OK; /* gzip wrapper only */
        break;
    case ZHI_T_BZIP2:
        memset(&d->bz, 0, sizeof d->bz);
        d->open = BZ2_bzDecompressInit(&d->bz, 0, 0) == BZ_OK;
        break;
    default:
        d->xz = (lzma_stream)LZMA_STREAM_INIT;
        /* xz and .lzma alike; concatenated streams as one */
        d->open = lzma_auto_decoder(&d->xz, d->memlimit, LZMA_CONCATENATED) == LZMA_OK;
        break;
    }
    return d->open;
}

static void dec_close(struct decoder *d)
{
    if (!d->open)
        return;
    if (d->type == ZHI_T_GZIP)
        inflateEnd(&d->z);
    else if (d->type == ZHI_T_BZIP2)
        BZ2_bzDecompressEnd(&d->bz);
    else
        lzma_end(&d->xz);
    d->open = false;
}

/* Another gzip member or bzip2 stream follows the one that ended. */
static bool next_stream(struct decoder *d)
{
    const uint8_t *p = d->in + d->in_pos;
    size_t left = d->in_len - d->in_pos;
    bool more = d->type == ZHI_T_GZIP
                    ? left >= 2 && p[0] == 0x1f && p[1] == 0x8b
                    : left >= 4 && !memcmp(p, "BZh", 3) && p[3] >= '1' && p[3] <= '9';
    if (!more)
        return false;
    dec_close(d);
    return dec_open(d);
}

static enum step dec_step(struct decoder *d, uint8_t *out, size_t room, size_t *produced)
{
    const uint8_t *in = d->in + d->in_pos;
    size_t avail = d->in_len - d->in_pos;
    *produced = 0;
    if (d->type == ZHI_T_GZIP) {
        d->z.next_in = (Bytef *)in;
        d->z.avail_in = (uInt)(avail > UINT32_MAX ? UINT32_MAX : avail);
        d->z.next_out = out;
        d->z.avail_out = (uInt)room;
        int r = inflate(&d->z, Z_NO_FLUSH);
        d->in_pos += (size_t)(d->z.next_in - in);
        *produced = room - d->z.avail_out;
        if (r == Z_STREAM_END)
            return next_stream(d) ? STEP_MORE : STEP_END;
        if (r == Z_OK || (r == Z_BUF_ERROR && *produced))
            return STEP_MORE;
        d->why = r == Z_BUF_ERROR ? "the stream ends before its end marker"
                 : d->z.msg       ? d->z.msg
                                  : "corrupt data";
        return STEP_DAMAGED;
    }
    if (d->type == ZHI_T_BZIP2) {
        d->bz.next_in = (char *)in;
        d->bz.avail_in = (unsigned)(avail > UINT32_MAX ? UINT32_MAX : avail);
        d->bz.next_out = (char *)out;
        d->bz.avail_out = (unsigned)room;
        int r = BZ2_bzDecompress(&d->bz);
        d->in_pos += (size_t)((const uint8_t *)d->bz.next_in - in);
        *produced = room - d->bz.avail_out;
        if (r == BZ_STREAM_END)
            return next_stream(d) ? STEP_MORE : STEP_END;
        if (r == BZ_OK && (*produced || d->in_pos < d->in_len))
            return STEP_MORE;
        d->why = r == BZ_OK ? "the stream ends before its end marker" : "corrupt data";
        return STEP_DAMAGED;
    }
    d->xz.next_in = in;
    d->xz.avail_in = avail;
    d->xz.next_out = out;
    d->xz.avail_out = room;
    lzma_ret r = lzma_code(&d->xz, avail ? LZMA_RUN : LZMA_FINISH);
    d->in_pos += (size_t)(d->xz.next_in - in);
    *produced = room - d->xz.avail_out;
    if (r == LZMA_STREAM_END)
        return STEP_END;
    if (r == LZMA_OK)
        return STEP_MORE;
    if (r == LZMA_MEMLIMIT_ERROR) {
        d->memneeded = lzma_memusage(&d->xz);
        return STEP_MEMLIMIT;
    }
    d->why = r == LZMA_BUF_ERROR ? "the stream ends before its end marker" : "corrupt data";
    return STEP_DAMAGED;
}

static zh_err compressed_extract(struct zhi_extract *x, size_t idx)
{
    struct zhi_scan *s = zhi_extract_scan(x);
    const struct zhi_object arc = s->objects[idx]; /* appending moves s->objects */
    const char *name = member_name(s->arena, &arc);
    const char *path = zhi_arena_printf(s->arena, "%s/%s", arc.path, name ? name : "data");
    if (!name || !path)
        return ZH_ERR_FATAL;
    zh_err rc = zhi_extract_count(x, arc.path);
    if (rc != ZH_ERR_OK)
        return rc;
    struct decoder d = {.type = arc.sniffed,
                        .in = arc.data,
                        .in_len = arc.len,
                        .memlimit = zhi_limit_bound(s, ZHI_L_decoder_memory)};
    struct zhi_buf out = {0};
    uint8_t *chunk = malloc(CHUNK);
    enum step st = STEP_DAMAGED;
    d.why = "the decoder could not start";
    if (!chunk) {
        rc = ZH_ERR_FATAL;
        goto out;
    }
    if (dec_open(&d)) {
        size_t n;
        do {
            size_t before = d.in_pos;
            st = dec_step(&d, chunk, CHUNK, &n);
            if (st == STEP_MORE && !n && d.in_pos == before) {
                st = STEP_DAMAGED; /* no input taken, no output made: it never will */
                d.why = "the decoder stopped making progress";
            }
            if (n) {
                rc = zhi_extract_bytes(x, path, out.len + n, n, d.in_pos ? d.in_pos : 1);
                if (rc != ZH_ERR_OK)
                    break;
                if (!zhi_buf_append(&out, chunk, n)) {
                    rc = ZH_ERR_FATAL;
                    goto out;
                }
            }
        } while (st == STEP_MORE);
    }
    if (st == STEP_MEMLIMIT)
        rc = zhi_scan_limit(s, ZHI_L_decoder_memory, d.memneeded, arc.path);
    unsigned flags = ZHI_OBJ_DECOMPRESSED;
    if (rc != ZH_ERR_OK || st != STEP_END)
        flags |= ZHI_OBJ_TRUNCATED;
    if (rc == ZH_ERR_OK && st == STEP_DAMAGED &&
        (rc = zhi_extract_damaged(x, "damaged_stream", arc.path,
                                  "%s stream is damaged after %zu bytes of output: %s",
                                  zhi_type_name(arc.sniffed), out.len, d.why)) != ZH_ERR_OK)
        goto out;
    /* Everything the stream yielded is scanned, a cut stream's too. */
    if (out.len || st == STEP_END) {
        const uint8_t *data =
            zhi_arena_memdup(s->arena, out.p ? out.p : (const uint8_t *)"", out.len);
        if (!data || zhi_extract_add(x, idx, name, data, out.len, flags) < 0)
            rc = ZH_ERR_FATAL;
    }
out:
    dec_close(&d);
    free(chunk);
    free(out.p);
    return rc;
}

const struct zh_extractor zh_extractor_compressed = {
    .name = "compressed",
    .src = ZHI_SRC_compressed,
    .member_kind = ZHI_K_MEMBER,
    .bid = compressed_bid,
    .extract = compressed_extract,
};
