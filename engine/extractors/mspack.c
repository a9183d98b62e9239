/* mspack: Microsoft's own containers through libmspack, the library
 * cabextract and ClamAV read them with — cabinets (CAB, and what is a CAB
 * under another name: .onepkg, .msu), compiled HTML help (CHM, whose pages
 * may carry any file) and the MS-DOS COMPRESS.EXE formats SZDD ("setup.ex_")
 * and KWAJ. CAB is read here rather than by libarchive: libarchive 3.6.2
 * refuses Quantum-compressed folders, which libmspack decodes with MSZIP and
 * LZX alike, so one reader covers every CAB a mailer can send.
 *
 * Nothing touches the file system: libmspack does its I/O through an
 * mspack_system that this file fills with memory. A "file name" handed to
 * libmspack is the address of a descriptor (the container's bytes, or the
 * sink that receives one member), as the library allows. Every byte written
 * to a sink passes zhi_extract_bytes, and every allocation the decoders make
 * is counted against decoder_max_memory. A container that cannot be opened
 * or read to its end is a scored, unscannable hit; what was read is kept. */
#include "../src/zhi.h"

#include <mspack.h>
#include <stdalign.h>
#include <stdlib.h>
#include <string.h>

/* What a "file name" given to libmspack points at: the container to read, or
 * the sink of the member being extracted. */
struct desc {
    struct glue *g;
    const uint8_t *data; /* input: the container */
    size_t len;
    bool sink; /* output: appended to g->out */
};

/* An open file: libmspack's struct mspack_file is a placeholder that each
 * mspack_system replaces with its own (the handle is only passed back). */
struct memfile {
    struct desc *d;
    size_t pos;
};
#define MF(f) ((struct memfile *)(void *)(f))

/* The mspack_system and the state of one extraction. */
struct glue {
    struct mspack_system sys;
    struct zhi_extract *x;
    const char *path;   /* the member being written */
    struct zhi_buf out; /* its bytes */
    uint64_t read;      /* container bytes read while writing it (for the ratio) */
    zh_err limit;       /* the first budget breach, ZH_ERR_OK until then */
    bool oom;
    uint64_t mem; /* decoder memory in use */
};

/* The extraction running on this thread. libmspack copies the mspack_system
 * it is given into its decoders and passes the copy as `self`, so alloc
 * cannot find the glue from its argument. */
static _Thread_local struct glue *running;

/* The allocation header: who allocated and how much, kept aligned. */
struct block {
    alignas(max_align_t) struct glue *g;
    size_t n;
};

static struct mspack_file *m_open(struct mspack_system *self, const char *name, int mode)
{
    struct desc *d = (struct desc *)name; /* names are descriptors, see struct desc */
    if (!d || (mode == MSPACK_SYS_OPEN_READ) == d->sink ||
        (mode != MSPACK_SYS_OPEN_READ && mode != MSPACK_SYS_OPEN_WRITE))
        return NULL;
    struct memfile *f = malloc(sizeof *f);
    if (!f)
        return NULL;
    *f = (struct memfile){.d = d};
    if (d->sink)
        d->g->out.len = 0; /* a retry writes the member anew */
    return (struct mspack_file *)(void *)f;
}

static void m_close(struct mspack_file *f)
{
    free(f);
}

static int m_read(struct mspack_file *mf, void *buf, int bytes)
{
    struct memfile *f = MF(mf);
    if (!f || f->d->sink || bytes < 0)
        return -1;
    /* The time bounds, checked as input is consumed: reaching a member deep
     * in a folder decodes everything before it without writing a byte. */
    struct glue *g = f->d->g;
    if (g->limit == ZH_ERR_OK)
        g->limit = zhi_extract_bytes(g->x, g->path, g->out.len, 0, g->read ? g->read : 1);
    if (g->limit != ZH_ERR_OK)
        return -1;
    size_t left = f->d->len - f->pos, n = (size_t)bytes < left ? (size_t)bytes : left;
    memcpy(buf, f->d->data + f->pos, n);
    f->pos += n;
    g->read += n;
    return (int)n;
}

static int m_write(struct mspack_file *mf, void *buf, int bytes)
{
    struct memfile *f = MF(mf);
    if (!f || !f->d->sink || bytes < 0)
        return -1;
    struct glue *g = f->d->g;
    if (g->limit != ZH_ERR_OK || g->oom)
        return -1;
    size_t n = (size_t)bytes;
    g->limit = zhi_extract_bytes(g->x, g->path, g->out.len + n, n, g->read ? g->read : 1);
    if (g->limit != ZH_ERR_OK)
        return -1; /* libmspack stops with MSPACK_ERR_WRITE */
    if (!zhi_buf_append(&g->out, buf, n)) {
        g->oom = true;
        return -1;
    }
    return bytes;
}

static int m_seek(struct mspack_file *mf, off_t offset, int mode)
{
    struct memfile *f = MF(mf);
    if (!f || f->d->sink)
        return -1;
    off_t base = mode == MSPACK_SYS_SEEK_START ? 0
                 : mode == MSPACK_SYS_SEEK_CUR ? (off_t)f->pos
                 : mode == MSPACK_SYS_SEEK_END ? (off_t)f->d->len
                                               : -1;
    if (base < 0 || offset < -base || offset > (off_t)f->d->len - base)
        return -1;
    f->pos = (size_t)(base + offset);
    return 0;
}

static off_t m_tell(struct mspack_file *mf)
{
    struct memfile *f = MF(mf);
    return f ? (off_t)(f->d->sink ? f->d->g->out.len : f->pos) : -1;
}

static void m_message(struct mspack_file *f, const char *fmt, ...)
{
    (void)f, (void)fmt; /* the graded error code says what went wrong */
}

static void *m_alloc(struct mspack_system *self, size_t n)
{
    struct glue *g = running;
    if (!g || n > SIZE_MAX - sizeof(struct block))
        return NULL;
    /* A refusal makes the decoder fail with MSPACK_ERR_NOMEMORY; the
     * limits_exceeded hit says why. */
    if (g->limit != ZH_ERR_OK ||
        (g->limit = zhi_scan_limit(zhi_extract_scan(g->x), ZHI_L_decoder_memory, g->mem + n,
                                   g->path)) != ZH_ERR_OK)
        return NULL;
    /* Zeroed: libmspack 0.11's KWAJ reader frees header fields it has not
     * set yet when a file ends inside its header. */
    struct block *b = calloc(1, sizeof *b + n);
    if (!b) {
        g->oom = true;
        return NULL;
    }
    *b = (struct block){.g = g, .n = n};
    g->mem += n;
    return b + 1;
}

static void m_free(void *p)
{
    if (!p)
        return;
    struct block *b = (struct block *)p - 1;
    b->g->mem -= b->n;
    free(b);
}

static void m_copy(void *src, void *dst, size_t n)
{
    memmove(dst, src, n);
}

static int mspack_bid(const struct zhi_scan *s, const struct zhi_object *o)
{
    switch (o->sniffed) {
    case ZHI_T_CAB:
        return 150; /* above archive.c: see the top of this file */
    case ZHI_T_CHM:
    case ZHI_T_SZDD:
    case ZHI_T_KWAJ:
        return 100;
    default:
        return 0;
    }
}

static const char *mspack_error(int err)
{
    switch (err) {
    case MSPACK_ERR_OPEN:
    case MSPACK_ERR_READ:
    case MSPACK_ERR_SEEK:
        return "it ends before its contents";
    case MSPACK_ERR_WRITE:
        return "a member could not be written";
    case MSPACK_ERR_NOMEMORY:
        return "out of memory";
    case MSPACK_ERR_SIGNATURE:
        return "bad signature";
    case MSPACK_ERR_DATAFORMAT:
        return "bad data format";
    case MSPACK_ERR_CHECKSUM:
        return "checksum mismatch";
    case MSPACK_ERR_DECRUNCH:
        return "compressed data is corrupt";
    default:
        return "unknown error";
    }
}

/* One container being read: the glue, the input descriptor and the sink. */
struct job {
    struct glue g;
    struct desc in, sink;
    size_t idx;                 /* the container's object */
    const struct zhi_object *c; /* a copy of it */
};

/* Start a member at `name` (UTF-8, '/'-separated; NULL: out of memory):
 * counts it. */
static zh_err member_begin(struct job *j, const char *name)
{
    struct zhi_scan *s = zhi_extract_scan(j->g.x);
    if (!name || !(j->g.path = zhi_arena_printf(s->arena, "%s/%s", j->c->path, name)))
        return ZH_ERR_FATAL;
    j->g.out.len = 0;
    j->g.read = 0;
    return zhi_extract_count(j->g.x, j->c->path);
}

/* Append what the sink holds as member `name`; err is libmspack's result. A
 * failure that is not a budget breach is a damaged-container hit. */
static zh_err member_end(struct job *j, const char *name, int err)
{
    struct zhi_scan *s = zhi_extract_scan(j->g.x);
    if (j->g.oom)
        return ZH_ERR_FATAL;
    const uint8_t *data =
        zhi_arena_memdup(s->arena, j->g.out.p ? j->g.out.p : (uint8_t *)"", j->g.out.len);
    unsigned flags = err != MSPACK_ERR_OK ? ZHI_OBJ_TRUNCATED : 0;
    if (!data || zhi_extract_add(j->g.x, j->idx, name, data, j->g.out.len, flags) < 0)
        return ZH_ERR_FATAL;
    if (j->g.limit != ZH_ERR_OK)
        return j->g.limit;
    if (err != MSPACK_ERR_OK)
        return zhi_extract_damaged(j->g.x, "malformed_archive", j->g.path,
                                   "%s member could not be read completely: %s",
                                   zhi_type_name(j->c->sniffed), mspack_error(err));
    return ZH_ERR_OK;
}

/* A member name from a container's own bytes: Windows code page names read
 * as Latin-1, backslashes as folders, no leading slash. */
static const char *member_name(struct zhi_arena *a, const char *raw, bool utf8)
{
    char *n =
        utf8 ? zhi_arena_strdup(a, raw) : zhi_latin1_to_utf8(a, (const uint8_t *)raw, strlen(raw));
    if (!n)
        return NULL;
    for (char *p = n; *p; p++)
        if (*p == '\\')
            *p = '/';
    while (*n == '/')
        n++;
    return *n ? n : "unnamed";
}

static zh_err open_failed(struct job *j, const char *what, int err)
{
    if (j->g.oom)
        return ZH_ERR_FATAL;
    if (j->g.limit != ZH_ERR_OK)
        return j->g.limit;
    return zhi_extract_damaged(j->g.x, "malformed_archive", j->c->path,
                               "%s could not be opened: %s", what, mspack_error(err));
}

static zh_err read_cab(struct job *j)
{
    struct zhi_arena *a = zhi_extract_scan(j->g.x)->arena;
    struct mscab_decompressor *d = mspack_create_cab_decompressor(&j->g.sys);
    if (!d)
        return ZH_ERR_FATAL;
    zh_err rc = ZH_ERR_OK;
    struct mscabd_cabinet *cab = d->open(d, (const char *)&j->in);
    if (!cab) {
        rc = open_failed(j, "cabinet", d->last_error(d));
        goto out;
    }
    for (struct mscabd_file *f = cab->files; f && rc == ZH_ERR_OK; f = f->next) {
        const char *name = member_name(a, f->filename, f->attribs & MSCAB_ATTRIB_UTF_NAME);
        if ((rc = member_begin(j, name)) == ZH_ERR_OK)
            rc = member_end(j, name, d->extract(d, f, (const char *)&j->sink));
    }
    d->close(d, cab);
out:
    mspack_destroy_cab_decompressor(d);
    return rc;
}

static zh_err read_chm(struct job *j)
{
    struct zhi_arena *a = zhi_extract_scan(j->g.x)->arena;
    struct mschm_decompressor *d = mspack_create_chm_decompressor(&j->g.sys);
    if (!d)
        return ZH_ERR_FATAL;
    zh_err rc = ZH_ERR_OK;
    struct mschmd_header *h = d->open(d, (const char *)&j->in);
    if (!h) {
        rc = open_failed(j, "compiled help file", d->last_error(d));
        goto out;
    }
    /* h->files are the help's own files (pages, images, anything its author
     * put in); the sysfiles are CHM's indexes and are skipped. */
    for (struct mschmd_file *f = h->files; f && rc == ZH_ERR_OK; f = f->next) {
        size_t n = f->filename ? strlen(f->filename) : 0;
        if (!n || f->filename[n - 1] == '/' || f->length == 0)
            continue; /* folders, and empty files, hold nothing */
        const char *name = member_name(a, f->filename, true);
        if ((rc = member_begin(j, name)) == ZH_ERR_OK)
            rc = member_end(j, name, d->extract(d, f, (const char *)&j->sink));
    }
    d->close(d, h);
out:
    mspack_destroy_chm_decompressor(d);
    return rc;
}

/* The name COMPRESS.EXE's output stands for: "setup.ex_" with the missing
 * last letter put back, "clam.exe.szdd" without its last extension, else the
 * container's name with "data" as a last resort. */
static const char *expanded_name(struct zhi_arena *a, const char *fn, char missing)
{
    if (!fn || !*fn)
        return "data";
    const char *slash = strrchr(fn, '/'), *bslash = strrchr(fn, '\\');
    if (bslash > slash)
        slash = bslash;
    if (slash)
        fn = slash + 1;
    size_t n = strlen(fn);
    if (n > 1 && fn[n - 1] == '_') {
        char *r = zhi_arena_strdup(a, fn);
        if (r && missing > ' ' && missing < 0x7f)
            r[n - 1] = missing;
        else if (r)
            r[n - 1] = 0;
        return r;
    }
    const char *dot = strrchr(fn, '.');
    if (dot && dot != fn && memchr(fn, '.', (size_t)(dot - fn)))
        return zhi_arena_printf(a, "%.*s", (int)(dot - fn), fn);
    return "data";
}

static zh_err read_szdd(struct job *j)
{
    struct zhi_arena *a = zhi_extract_scan(j->g.x)->arena;
    struct msszdd_decompressor *d = mspack_create_szdd_decompressor(&j->g.sys);
    if (!d)
        return ZH_ERR_FATAL;
    zh_err rc = ZH_ERR_OK;
    struct msszddd_header *h = d->open(d, (const char *)&j->in);
    if (!h) {
        rc = open_failed(j, "SZDD file", d->last_error(d));
        goto out;
    }
    const char *name = expanded_name(a, j->c->filename, h->missing_char);
    if ((rc = member_begin(j, name)) == ZH_ERR_OK)
        rc = member_end(j, name, d->extract(d, h, (const char *)&j->sink));
    d->close(d, h);
out:
    mspack_destroy_szdd_decompressor(d);
    return rc;
}

static zh_err read_kwaj(struct job *j)
{
    struct zhi_arena *a = zhi_extract_scan(j->g.x)->arena;
    struct mskwaj_decompressor *d = mspack_create_kwaj_decompressor(&j->g.sys);
    if (!d)
        return ZH_ERR_FATAL;
    zh_err rc = ZH_ERR_OK;
    struct mskwajd_header *h = d->open(d, (const char *)&j->in);
    if (!h) {
        rc = open_failed(j, "KWAJ file", d->last_error(d));
        goto out;
    }
    /* KWAJ may keep the original name in its header. */
    const char *name = h->filename && *h->filename ? member_name(a, h->filename, false)
                                                   : expanded_name(a, j->c->filename, 0);
    if ((rc = member_begin(j, name)) == ZH_ERR_OK)
        rc = member_end(j, name, d->extract(d, h, (const char *)&j->sink));
    d->close(d, h);
out:
    mspack_destroy_kwaj_decompressor(d);
    return rc;
}

static zh_err mspack_extract(struct zhi_extract *x, size_t idx)
{
    struct zhi_scan *s = zhi_extract_scan(x);
    const struct zhi_object c = s->objects[idx]; /* appending moves s->objects */
    struct job j = {
        .g = {.sys = {.open = m_open,
                      .close = m_close,
                      .read = m_read,
                      .write = m_write,
                      .seek = m_seek,
                      .tell = m_tell,
                      .message = m_message,
                      .alloc = m_alloc,
                      .free = m_free,
                      .copy = m_copy},
              .x = x,
              .path = c.path},
        .idx = idx,
        .c = &c,
    };
    j.in = (struct desc){.g = &j.g, .data = c.data, .len = c.len};
    j.sink = (struct desc){.g = &j.g, .sink = true};
    zh_err rc;
    running = &j.g;
    switch (c.sniffed) {
    case ZHI_T_CAB:
        rc = read_cab(&j);
        break;
    case ZHI_T_CHM:
        rc = read_chm(&j);
        break;
    case ZHI_T_SZDD:
        rc = read_szdd(&j);
        break;
    default:
        rc = read_kwaj(&j);
        break;
    }
    running = NULL;
    free(j.g.out.p);
    return rc;
}

const struct zh_extractor zh_extractor_mspack = {
    .name = "mspack",
    .src = ZHI_SRC_mspack,
    .flags = ZH_EXTRACT_NESTS,
    .member_kind = ZHI_K_MEMBER,
    .bid = mspack_bid,
    .extract = mspack_extract,
};
