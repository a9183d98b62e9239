/* The unpack stage: archives built here with libarchive's writer become
 * member objects (nested, encrypted with the password in the text, gzip
 * streams), and every bound — depth, members, bytes, ratio — turns into a
 * limits_exceeded hit in bounded time and memory. Damaged archives give a
 * malformed_archive hit, never a crash. */
#include <archive.h>
#include <archive_entry.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <unistd.h>
#include <zlib.h>

#include "zhi.h"

struct blob {
    uint8_t *p;
    size_t len;
};

struct member {
    const char *name;
    const void *data;
    size_t len;
};

/* Build an archive in memory: fmt "zip", "tar", "7zip"; filter "gzip" or NULL. */
static struct blob build(const char *fmt, const char *filter, const char *password,
                         const struct member *m, size_t n)
{
    size_t cap = 1 << 20, used = 0;
    for (size_t i = 0; i < n; i++)
        cap += m[i].len + 1024;
    struct blob b = {malloc(cap), 0};
    struct archive *a = archive_write_new();
    assert_int_equal(archive_write_set_format_by_name(a, fmt), ARCHIVE_OK);
    if (filter)
        assert_int_equal(archive_write_add_filter_by_name(a, filter), ARCHIVE_OK);
    if (password) {
        assert_int_equal(archive_write_set_options(a, "zip:encryption=zipcrypt"), ARCHIVE_OK);
        assert_int_equal(archive_write_set_passphrase(a, password), ARCHIVE_OK);
    }
    assert_int_equal(archive_write_open_memory(a, b.p, cap, &used), ARCHIVE_OK);
    for (size_t i = 0; i < n; i++) {
        struct archive_entry *e = archive_entry_new();
        archive_entry_set_pathname(e, m[i].name);
        archive_entry_set_size(e, (la_int64_t)m[i].len);
        archive_entry_set_filetype(e, AE_IFREG);
        archive_entry_set_perm(e, 0644);
        assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
        assert_int_equal(archive_write_data(a, m[i].data, m[i].len), (la_ssize_t)m[i].len);
        archive_entry_free(e);
    }
    assert_int_equal(archive_write_close(a), ARCHIVE_OK);
    archive_write_free(a);
    b.len = used;
    return b;
}

static struct blob gzip_of(const void *data, size_t len)
{
    size_t cap = len + 4096, used = 0;
    struct blob b = {malloc(cap), 0};
    struct archive *a = archive_write_new();
    archive_write_set_format_raw(a);
    archive_write_add_filter_gzip(a);
    archive_write_open_memory(a, b.p, cap, &used);
    struct archive_entry *e = archive_entry_new();
    archive_entry_set_filetype(e, AE_IFREG);
    archive_write_header(a, e);
    archive_write_data(a, data, len);
    archive_entry_free(e);
    archive_write_close(a);
    archive_write_free(a);
    b.len = used;
    return b;
}

/* A synthetic PE header: "MZ", e_lfanew → "PE\0\0", nothing runnable. */
static const uint8_t *fake_pe(size_t *len)
{
    static uint8_t pe[1024];
    memset(pe, 0, sizeof pe);
    memcpy(pe, "MZ\x90\0\x03\0\0\0\x04\0", 10);
    pe[0x3c] = 0x80;
    memcpy(pe + 0x80, "PE\0\0", 4);
    *len = sizeof pe;
    return pe;
}

struct fixture {
    struct zh_config cfg;
    struct zhi_arena arena;
    struct zhi_scan scan;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    zh_config_defaults(&f->cfg);
    zhi_arena_init(&f->arena, 64 * 1024);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    zhi_arena_free(&f->arena);
    zh_config_free(&f->cfg);
    free(f);
    return 0;
}

/* A scan holding one text part (optional) and one attachment. */
static void scan_of(struct fixture *f, const char *text, const char *name, struct blob b)
{
    zhi_arena_reset(&f->arena);
    memset(&f->scan, 0, sizeof f->scan);
    f->scan.cfg = &f->cfg;
    f->scan.arena = &f->arena;
    if (text) {
        struct zhi_object t = {.path = "1",
                               .ext = "",
                               .declared_type = "text/plain",
                               .sniffed = ZHI_T_TEXT,
                               .kind = ZHI_K_TEXT,
                               .data = (const uint8_t *)text,
                               .len = strlen(text),
                               .depth = 1,
                               .parent = -1};
        zhi_scan_add_object(&f->scan, &t);
    }
    struct zhi_object o = {.path = zhi_arena_printf(&f->arena, "2/%s", name),
                           .filename = name,
                           .ext = "",
                           .declared_type = "application/octet-stream",
                           .sniffed = zhi_sniff(b.p, b.len),
                           .kind = ZHI_K_ATTACHMENT,
                           .data = b.p,
                           .len = b.len,
                           .depth = 1,
                           .parent = -1};
    zhi_scan_add_object(&f->scan, &o);
    assert_int_equal(zhi_extract(&f->scan), ZH_ERR_OK);
}

static const struct zhi_object *obj(struct fixture *f, const char *path)
{
    for (size_t i = 0; i < f->scan.n_objects; i++)
        if (!strcmp(f->scan.objects[i].path, path))
            return &f->scan.objects[i];
    fail_msg("no object %s (%zu objects)", path, f->scan.n_objects);
    return NULL;
}

static const struct zhi_hit *hit_with(struct fixture *f, const char *rule, const char *detail)
{
    for (size_t i = 0; i < f->scan.n_hits; i++)
        if (!strcmp(f->scan.hits[i].rule, rule) && strstr(f->scan.hits[i].detail, detail))
            return &f->scan.hits[i];
    return NULL;
}

static void test_members_and_nesting(void **state)
{
    struct fixture *f = *state;
    size_t pelen;
    const uint8_t *pe = fake_pe(&pelen);
    struct member inner_m[] = {{"notes.txt", "hello", 5}};
    struct blob inner = build("zip", NULL, NULL, inner_m, 1);
    struct member m[] = {{"myphoto.jpg.exe", pe, pelen}, {"docs/inner.zip", inner.p, inner.len}};
    struct blob outer = build("zip", NULL, NULL, m, 2);
    scan_of(f, NULL, "myphoto.zip", outer);
    const struct zhi_object *x = obj(f, "2/myphoto.zip/myphoto.jpg.exe");
    assert_int_equal(x->kind, ZHI_K_MEMBER);
    assert_int_equal(x->sniffed, ZHI_T_PE);
    assert_string_equal(x->ext, "exe");
    assert_string_equal(x->filename, "myphoto.jpg.exe");
    assert_int_equal(x->archive_depth, 1);
    assert_int_equal(x->len, pelen);
    const struct zhi_object *t = obj(f, "2/myphoto.zip/docs/inner.zip/notes.txt");
    assert_int_equal(t->archive_depth, 2);
    assert_int_equal(t->len, 5);
    assert_int_equal(f->scan.n_hits, 0);
    free(inner.p);
    free(outer.p);
}

static void test_formats(void **state)
{
    struct fixture *f = *state;
    struct member m[] = {{"a/readme.txt", "text", 4}, {"run.sh", "#!/bin/sh\n", 10}};
    struct blob tgz = build("pax", "gzip", NULL, m, 2);
    scan_of(f, NULL, "src.tar.gz", tgz);
    /* The gzip stream's member is the tar, opened in turn. */
    assert_true(obj(f, "2/src.tar.gz/src.tar")->flags & ZHI_OBJ_DECOMPRESSED);
    assert_int_equal(obj(f, "2/src.tar.gz/src.tar/run.sh")->sniffed, ZHI_T_SCRIPT);
    assert_int_equal(obj(f, "2/src.tar.gz/src.tar/run.sh")->archive_depth, 1);
    free(tgz.p);
    struct blob sz = build("7zip", NULL, NULL, m, 2);
    scan_of(f, NULL, "x.7z", sz);
    assert_int_equal(obj(f, "2/x.7z/a/readme.txt")->len, 4);
    free(sz.p);
    size_t pelen;
    const uint8_t *pe = fake_pe(&pelen);
    struct blob gz = gzip_of(pe, pelen);
    scan_of(f, NULL, "invoice.pdf.exe.gz", gz);
    const struct zhi_object *o = obj(f, "2/invoice.pdf.exe.gz/invoice.pdf.exe");
    assert_int_equal(o->sniffed, ZHI_T_PE);
    assert_string_equal(o->ext, "exe");
    free(gz.p);
}

/* A compressed stream's output is its member, whatever it looks like, and a
 * cut or damaged stream keeps what it yielded. gzip, bzip2 and xz are made
 * by Python's standard library, like the bytes a worm would send. */
static struct blob python_compress(const char *module, size_t zeros, size_t cut)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd,
             "python3 -c 'import sys,%s; d=%s.compress(b\"\\0\"*%zu+sys.stdin.buffer.read()); "
             "sys.stdout.buffer.write(d[:len(d)-%zu])'",
             module, module, zeros, cut);
    char tmp[] = "/tmp/zh-test-XXXXXX";
    int fd = mkstemp(tmp);
    assert_true(fd >= 0);
    size_t pelen;
    const uint8_t *pe = fake_pe(&pelen);
    assert_int_equal(write(fd, pe, pelen), (ssize_t)pelen);
    close(fd);
    char full[700];
    snprintf(full, sizeof full, "%s < %s", cmd, tmp);
    FILE *p = popen(full, "r");
    assert_non_null(p);
    struct blob b = {malloc(1 << 20), 0};
    b.len = fread(b.p, 1, 1 << 20, p);
    assert_int_equal(pclose(p), 0);
    unlink(tmp);
    return b;
}

static void test_compressed_streams(void **state)
{
    struct fixture *f = *state;
    size_t pelen;
    fake_pe(&pelen);
    static const struct {
        const char *module, *name, *member;
        size_t zeros, cut;
        bool damaged;
    } rows[] = {
        /* 1 KiB of zeros read as an empty tar by libarchive's bidding once */
        {"gzip", "invoice.exe.gz", "invoice.exe", 1024, 0, false},
        {"bz2", "invoice.exe.bz2", "invoice.exe", 1024, 0, false},
        {"lzma", "invoice.exe.xz", "invoice.exe", 1024, 0, false},
        /* the 8-byte trailer cut off: zcat still writes the whole file */
        {"gzip", "invoice.exe.gz", "invoice.exe", 0, 8, true},
        {"lzma", "report.xz", "report", 0, 12, true},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        struct blob b = python_compress(rows[i].module, rows[i].zeros, rows[i].cut);
        scan_of(f, NULL, rows[i].name, b);
        char path[128];
        snprintf(path, sizeof path, "2/%s/%s", rows[i].name, rows[i].member);
        const struct zhi_object *o = obj(f, path);
        if (o->len != rows[i].zeros + pelen)
            fail_msg("row %zu: %zu bytes out, want %zu", i, o->len, rows[i].zeros + pelen);
        assert_int_equal(o->kind, ZHI_K_MEMBER);
        assert_true(o->flags & ZHI_OBJ_DECOMPRESSED);
        const struct zhi_hit *h = hit_with(f, "damaged_stream", "");
        if (rows[i].damaged) {
            assert_non_null(h);
            assert_true(h->flags & ZH_HIT_UNSCANNABLE);
            assert_true(o->flags & ZHI_OBJ_TRUNCATED);
        } else {
            assert_null(h);
            assert_false(o->flags & ZHI_OBJ_TRUNCATED);
        }
        free(b.p);
    }
    /* Not a stream at all past its magic: unscannable, nothing invented. */
    struct blob junk = {(uint8_t *)"\x1f\x8b\x08\0garbage-garbage-garbage", 27};
    scan_of(f, NULL, "x.gz", junk);
    assert_non_null(hit_with(f, "damaged_stream", "gzip"));
}

/* An xz stream that asks for a 1 GiB dictionary: refused before the decoder
 * takes the memory, as a limit. The block header's dictionary byte of a small
 * stream is raised and its CRC32 fixed. */
static void test_decoder_memory(void **state)
{
    struct fixture *f = *state;
    struct blob b = python_compress("lzma", 0, 0);
    /* stream header (12) then the block header: size, flags, filter id 0x21,
     * properties size 1, the dictionary byte, padding, CRC32 */
    uint8_t *bh = b.p + 12;
    size_t bh_len = ((size_t)bh[0] + 1) * 4;
    assert_int_equal(bh[2], 0x21);
    bh[4] = 36; /* 2 << (36/2 + 11) = 1 GiB */
    uint32_t crc = (uint32_t)crc32(0, bh, (uInt)(bh_len - 4));
    for (int k = 0; k < 4; k++)
        bh[bh_len - 4 + k] = (uint8_t)(crc >> (8 * k));
    scan_of(f, NULL, "big.xz", b);
    assert_non_null(hit_with(f, "limits_exceeded", "decoder_max_memory"));
    free(b.p);
}

static void test_encrypted(void **state)
{
    struct fixture *f = *state;
    size_t pelen;
    const uint8_t *pe = fake_pe(&pelen);
    struct member m[] = {{"document.exe", pe, pelen}};
    struct blob z = build("zip", NULL, "86232", m, 1);
    /* The password is in the text, Bagle style: the member is opened and scanned. */
    scan_of(f,
            "For security reasons the attached file is password protected. "
            "The password is <b>86232</b>",
            "Info.zip", z);
    const struct zhi_object *d = obj(f, "2/Info.zip/document.exe");
    assert_true(d->flags & ZHI_OBJ_DECRYPTED);
    assert_int_equal(d->sniffed, ZHI_T_PE);
    assert_true(obj(f, "2/Info.zip")->flags & ZHI_OBJ_HAS_ENCRYPTED);
    assert_true(obj(f, "2/Info.zip")->flags & ZHI_OBJ_DECRYPTED);
    /* No password anywhere: the member is known by name only. */
    scan_of(f, "Here is the file you asked for.", "Info.zip", z);
    d = obj(f, "2/Info.zip/document.exe");
    assert_true(d->flags & ZHI_OBJ_ENCRYPTED);
    assert_false(d->flags & ZHI_OBJ_DECRYPTED);
    assert_int_equal(d->len, 0);
    assert_string_equal(d->ext, "exe");
    assert_true(obj(f, "2/Info.zip")->flags & ZHI_OBJ_HAS_ENCRYPTED);
    free(z.p);
}

static void test_password_candidates(void **state)
{
    struct fixture *f = *state;
    static const struct {
        const char *text, *want;
    } rows[] = {
        {"Password: 12345", "12345"},
        {"pass - 5471", "5471"},
        {"Archive password: <font color=red>af3k9</font>", "af3k9"},
        {"The password is 09876 for the archive", "09876"},
        {"Passwort: geheim42", "geheim42"},
    };
    struct blob none = {(uint8_t *)"x", 1};
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        scan_of(f, rows[i].text, "x.bin", none);
        const char *pw[8];
        size_t n = zhi_text_passwords(&f->scan, pw, 8);
        bool found = false;
        for (size_t j = 0; j < n; j++)
            found |= !strcmp(pw[j], rows[i].want);
        if (!found)
            fail_msg("\"%s\": password %s not among %zu candidates", rows[i].text, rows[i].want, n);
    }
    scan_of(f, "Your passport photo is attached.", "x.bin", none);
    const char *pw[8];
    assert_int_equal(zhi_text_passwords(&f->scan, pw, 8), 0);
}

static void test_depth_limit(void **state)
{
    struct fixture *f = *state;
    struct member leaf = {"deep.txt", "bottom", 6};
    struct blob b = build("zip", NULL, NULL, &leaf, 1);
    for (int i = 0; i < 7; i++) {
        struct member m = {"layer.zip", b.p, b.len};
        struct blob next = build("zip", NULL, NULL, &m, 1);
        free(b.p);
        b = next;
    }
    f->cfg.archive_max_depth = 5;
    scan_of(f, NULL, "nest.zip", b);
    const struct zhi_hit *h = hit_with(f, "limits_exceeded", "archive_max_depth");
    assert_non_null(h);
    assert_true(h->flags & ZH_HIT_UNSCANNABLE);
    for (size_t i = 0; i < f->scan.n_objects; i++)
        assert_true(f->scan.objects[i].archive_depth <= 5);
    free(b.p);
}

static void test_member_count(void **state)
{
    struct fixture *f = *state;
    struct member m[40];
    char names[40][16];
    for (int i = 0; i < 40; i++) {
        snprintf(names[i], sizeof names[i], "f%02d.txt", i);
        m[i] = (struct member){names[i], "x", 1};
    }
    struct blob z = build("zip", NULL, NULL, m, 40);
    f->cfg.archive_max_members = 10;
    scan_of(f, NULL, "many.zip", z);
    assert_non_null(hit_with(f, "limits_exceeded", "archive_max_members"));
    assert_true(f->scan.n_objects <= 12);
    free(z.p);
}

static void test_ratio_bomb(void **state)
{
    struct fixture *f = *state;
    size_t big = 200u << 20; /* 200 MiB of zeros: ~200 KiB zipped */
    uint8_t *zeros = calloc(1, big);
    struct member m = {"zeros.bin", zeros, big};
    struct blob z = build("zip", NULL, NULL, &m, 1);
    free(zeros);
    assert_true(z.len < big / 100);
    scan_of(f, NULL, "bomb.zip", z);
    const struct zhi_hit *h = hit_with(f, "limits_exceeded", "archive_max_ratio");
    assert_non_null(h);
    const struct zhi_object *o = obj(f, "2/bomb.zip/zeros.bin");
    assert_true(o->flags & ZHI_OBJ_TRUNCATED);
    assert_true(o->len < 4u << 20); /* stopped soon after the ratio floor */
    /* by the ratio, not by the time bound (a busy machine may be slow) */
    assert_null(hit_with(f, "limits_exceeded", "archive_timeout_ms"));
    free(z.p);
}

static void test_nested_bomb(void **state)
{
    struct fixture *f = *state;
    /* 42.zip in miniature: each layer holds 16 copies of the layer below. */
    size_t leaf = 8u << 20;
    uint8_t *zeros = calloc(1, leaf);
    struct member m = {"0.dat", zeros, leaf};
    struct blob b = build("zip", NULL, NULL, &m, 1);
    free(zeros);
    for (int layer = 0; layer < 3; layer++) {
        struct member ms[16];
        char names[16][16];
        for (int i = 0; i < 16; i++) {
            snprintf(names[i], sizeof names[i], "%x.zip", i);
            ms[i] = (struct member){names[i], b.p, b.len};
        }
        struct blob next = build("zip", NULL, NULL, ms, 16);
        free(b.p);
        b = next;
    }
    scan_of(f, NULL, "42.zip", b);
    /* stopped by a size or count bound, long before the time bound */
    assert_non_null(hit_with(f, "limits_exceeded", "archive_max"));
    assert_null(hit_with(f, "limits_exceeded", "archive_timeout_ms"));
    uint64_t total = 0;
    for (size_t i = 0; i < f->scan.n_objects; i++)
        total += f->scan.objects[i].len;
    assert_true(total <= (uint64_t)f->cfg.archive_max_total_bytes + b.len + (64u << 20));
    free(b.p);
}

static void test_damaged(void **state)
{
    struct fixture *f = *state;
    char text[4096];
    for (size_t i = 0; i < sizeof text; i++)
        text[i] = (char)('a' + (i * 7) % 26);
    struct member m[] = {{"a.txt", text, sizeof text}, {"b.txt", text, sizeof text}};
    struct blob z = build("zip", NULL, NULL, m, 2);
    /* Truncated: the central directory is gone. */
    struct blob cut = {z.p, z.len / 2};
    scan_of(f, NULL, "cut.zip", cut);
    assert_true(f->scan.n_hits >= 1);
    /* Flipped bytes in the compressed data: CRC or inflate errors. */
    uint8_t *bad = malloc(z.len);
    memcpy(bad, z.p, z.len);
    for (size_t i = 60; i < 200 && i < z.len; i += 7)
        bad[i] ^= 0x5a;
    scan_of(f, NULL, "crc.zip", (struct blob){bad, z.len});
    assert_non_null(hit_with(f, "malformed_archive", ""));
    /* Lying sizes: the local header claims 1 byte for a.txt. */
    memcpy(bad, z.p, z.len);
    bad[22] = 1;
    bad[23] = bad[24] = bad[25] = 0;
    scan_of(f, NULL, "lies.zip", (struct blob){bad, z.len});
    /* Random bytes behind a zip signature. */
    for (size_t i = 4; i < z.len; i++)
        bad[i] = (uint8_t)(i * 131);
    scan_of(f, NULL, "junk.zip", (struct blob){bad, z.len});
    free(bad);
    free(z.p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_members_and_nesting, setup, teardown),
        cmocka_unit_test_setup_teardown(test_formats, setup, teardown),
        cmocka_unit_test_setup_teardown(test_compressed_streams, setup, teardown),
        cmocka_unit_test_setup_teardown(test_decoder_memory, setup, teardown),
        cmocka_unit_test_setup_teardown(test_encrypted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_password_candidates, setup, teardown),
        cmocka_unit_test_setup_teardown(test_depth_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_member_count, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ratio_bomb, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nested_bomb, setup, teardown),
        cmocka_unit_test_setup_teardown(test_damaged, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
