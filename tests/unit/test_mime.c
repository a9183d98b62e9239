/* MIME flattening: each test feeds a message to zhi_mime_flatten and checks
 * the objects it yields (path, name, extension, declared and sniffed type,
 * decoded bytes) and the limits hits. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <gmime/gmime.h>

#include "zhi.h"

struct fixture {
    struct zh_config cfg;
    struct zhi_arena arena;
    struct zhi_mime *mime;
    struct zhi_scan scan;
    char err[256];
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    zh_config_defaults(&f->cfg);
    zhi_arena_init(&f->arena, 4096);
    zhi_mime_new(&f->mime);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    zhi_mime_free(f->mime);
    zhi_arena_free(&f->arena);
    zh_config_free(&f->cfg);
    free(f);
    return 0;
}

static zh_err flatten(struct fixture *f, const char *msg)
{
    zhi_arena_reset(&f->arena);
    memset(&f->scan, 0, sizeof f->scan);
    static const struct zh_scan_envelope no_env;
    f->scan.cfg = &f->cfg;
    f->scan.arena = &f->arena;
    f->scan.env = &no_env; /* as the orchestrator sets it: never NULL */
    f->err[0] = 0;
    return zhi_mime_flatten(f->mime, &f->scan, (const uint8_t *)msg, strlen(msg), f->err,
                            sizeof f->err);
}

static const struct zhi_object *find(struct fixture *f, const char *path)
{
    for (size_t i = 0; i < f->scan.n_objects; i++)
        if (!strcmp(f->scan.objects[i].path, path))
            return &f->scan.objects[i];
    char all[1024] = "";
    for (size_t i = 0; i < f->scan.n_objects; i++)
        snprintf(all + strlen(all), sizeof all - strlen(all), " [%s]", f->scan.objects[i].path);
    fail_msg("no object %s; have:%s", path, all);
    return NULL;
}

static void assert_data(const struct zhi_object *o, const char *want)
{
    if (o->len != strlen(want) || memcmp(o->data, want, o->len))
        fail_msg("%s: data \"%.*s\" != \"%s\"", o->path, (int)o->len, o->data, want);
}

#define HDR                                                                                        \
    "From: Alice <alice@example.com>\r\nTo: bob@example.org\r\nSubject: hello\r\n"                 \
    "Date: Mon, 26 Jan 2004 10:00:00 +0000\r\nMessage-ID: <1@example.com>\r\n"

static void test_plain(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(flatten(f, HDR "\r\nHi Bob,\r\nlunch?\r\n"), ZH_ERR_OK);
    assert_int_equal(f->scan.n_objects, 2);
    const struct zhi_object *h = find(f, "headers");
    assert_int_equal(h->kind, ZHI_K_HEADERS);
    assert_non_null(memmem(h->data, h->len, "Subject: hello", 14));
    const struct zhi_object *t = find(f, "1");
    assert_int_equal(t->kind, ZHI_K_TEXT);
    assert_data(t, "Hi Bob,\r\nlunch?\r\n");
    assert_string_equal(f->scan.subject, "hello");
    assert_string_equal(f->scan.from, "alice@example.com");
    assert_string_equal(f->scan.message_id, "1@example.com");
}

static void test_multipart_attachment(void **state)
{
    struct fixture *f = *state;
    const char *msg =
        HDR "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n"
            "--b1\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\nsee attached\r\n"
            "--b1\r\nContent-Type: application/zip; name=\"document.zip\"\r\n"
            "Content-Transfer-Encoding: base64\r\n"
            "Content-Disposition: attachment; filename=\"document.zip\"\r\n\r\n"
            "UEsDBBQAAAAIAA==\r\n--b1--\r\n";
    assert_int_equal(flatten(f, msg), ZH_ERR_OK);
    assert_int_equal(f->scan.n_objects, 3);
    /* The CRLF before a boundary belongs to the boundary (RFC 2046). */
    assert_data(find(f, "1"), "see attached");
    const struct zhi_object *a = find(f, "2/document.zip");
    assert_int_equal(a->kind, ZHI_K_ATTACHMENT);
    assert_string_equal(a->filename, "document.zip");
    assert_string_equal(a->ext, "zip");
    assert_string_equal(a->declared_type, "application/zip");
    assert_int_equal(a->sniffed, ZHI_T_ZIP);
    assert_int_equal(a->len, 10);
    assert_memory_equal(a->data, "PK\x03\x04\x14\0\0\0\x08\0", 10);
    assert_int_equal(a->depth, 2);
}

static void test_encoded_names(void **state)
{
    struct fixture *f = *state;
    const char *msg =
        HDR "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=XYZ\r\n\r\n"
            "--XYZ\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment;\r\n"
            " filename*=UTF-8''%D0%BE%D1%82%D1%87%D0%B5%D1%82.pdf\r\n\r\n%PDF-1.4 x\r\n"
            "--XYZ\r\nContent-Type: application/octet-stream;\r\n"
            " name=\"=?ISO-8859-1?Q?r=E9sum=E9=2Edoc=2E____=2Eexe?=\"\r\n\r\nMZ\r\n"
            "--XYZ\r\nContent-Type: application/octet-stream\r\n"
            "Content-Disposition: attachment; filename=\"invoice.exe. . \"\r\n\r\nabc\r\n"
            "--XYZ--\r\n";
    assert_int_equal(flatten(f, msg), ZH_ERR_OK);
    const struct zhi_object *a = find(f, "1/отчет.pdf");
    assert_string_equal(a->ext, "pdf");
    assert_int_equal(a->sniffed, ZHI_T_PDF);
    const struct zhi_object *b =
        find(f, "2/résumé.doc.    .exe") /* "_" is a space in Q encoding */;
    assert_string_equal(b->ext, "exe");
    const struct zhi_object *c = find(f, "3/invoice.exe. . ");
    assert_string_equal(c->ext, "exe");
}

static void test_charset_qp(void **state)
{
    struct fixture *f = *state;
    const char *msg =
        HDR "MIME-Version: 1.0\r\n"
            "Content-Type: text/plain; charset=iso-8859-1\r\n"
            "Content-Transfer-Encoding: quoted-printable\r\n\r\nGr=FC=DFe aus M=FCnchen=\r\n!\r\n";
    assert_int_equal(flatten(f, msg), ZH_ERR_OK);
    assert_data(find(f, "1"), "Grüße aus München!\r\n");
}

static void test_uuencode(void **state)
{
    struct fixture *f = *state;
    /* "Cat" uuencoded, once as a transfer encoding (GMime decodes it) and once
     * inline in text (the uuencode extractor of the extract stage finds it). */
    const char *msg = HDR
        "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
        "--b\r\nContent-Type: text/plain\r\n\r\nhere it is\r\n\r\nbegin 644 "
        "readme.exe\r\n#0V%T\r\n`\r\nend\r\n"
        "--b\r\nContent-Type: application/octet-stream; name=cat.bin\r\n"
        "Content-Transfer-Encoding: x-uuencode\r\n\r\nbegin 644 cat.bin\r\n#0V%T\r\n`\r\nend\r\n"
        "--b--\r\n";
    assert_int_equal(flatten(f, msg), ZH_ERR_OK);
    assert_int_equal(zhi_extract(&f->scan), ZH_ERR_OK);
    const struct zhi_object *in = find(f, "1/readme.exe");
    assert_true(in->flags & ZHI_OBJ_INLINE_UU);
    assert_false(in->flags & ZHI_OBJ_TRUNCATED);
    assert_string_equal(in->ext, "exe");
    assert_data(in, "Cat");
    assert_data(find(f, "2/cat.bin"), "Cat");
}

static void test_nested_message(void **state)
{
    struct fixture *f = *state;
    const char *msg = HDR
        "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=o\r\n\r\n"
        "--o\r\nContent-Type: text/plain\r\n\r\nforwarded\r\n"
        "--o\r\nContent-Type: message/rfc822\r\n\r\n"
        "From: x@example.net\r\nSubject: inner\r\nContent-Type: multipart/mixed; boundary=i\r\n\r\n"
        "--i\r\nContent-Type: text/plain\r\n\r\ninner text\r\n"
        "--i\r\nContent-Type: application/octet-stream; name=a.scr\r\n\r\nxx\r\n--i--\r\n"
        "--o--\r\n";
    assert_int_equal(flatten(f, msg), ZH_ERR_OK);
    assert_int_equal(find(f, "2/headers")->kind, ZHI_K_HEADERS);
    assert_data(find(f, "2.1"), "inner text");
    assert_string_equal(find(f, "2.2/a.scr")->ext, "scr");
}

static char *nested(int depth)
{
    size_t cap = (size_t)depth * 120 + 512;
    char *m = malloc(cap);
    size_t n = (size_t)snprintf(
        m, cap, HDR "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b0\r\n\r\n");
    for (int i = 1; i <= depth; i++)
        n += (size_t)snprintf(m + n, cap - n,
                              "--b%d\r\nContent-Type: multipart/mixed; boundary=b%d\r\n\r\n", i - 1,
                              i);
    n += (size_t)snprintf(m + n, cap - n, "--b%d\r\nContent-Type: text/plain\r\n\r\ndeep\r\n",
                          depth);
    return m;
}

static void test_depth_limit(void **state)
{
    struct fixture *f = *state;
    f->cfg.max_mime_depth = 5;
    char *m = nested(10);
    assert_int_equal(flatten(f, m), ZH_ERR_OK);
    free(m);
    assert_int_equal(f->scan.n_hits, 1);
    assert_string_equal(f->scan.hits[0].rule, "limits_exceeded");
    assert_true(f->scan.hits[0].flags & ZH_HIT_UNSCANNABLE);
    assert_non_null(strstr(f->scan.hits[0].detail, "max_mime_depth"));
    /* Within the limit: no hit, the text is found. */
    f->cfg.max_mime_depth = 20;
    m = nested(10);
    assert_int_equal(flatten(f, m), ZH_ERR_OK);
    free(m);
    assert_int_equal(f->scan.n_hits, 0);
    f->cfg.max_mime_depth = 20;
}

static void test_parts_limit(void **state)
{
    struct fixture *f = *state;
    char *m = malloc(64 * 1024);
    size_t n = (size_t)sprintf(
        m, HDR "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n");
    for (int i = 0; i < 30; i++)
        n += (size_t)sprintf(m + n, "--b\r\nContent-Type: text/plain\r\n\r\npart %d\r\n", i);
    sprintf(m + n, "--b--\r\n");
    f->cfg.max_mime_parts = 10;
    assert_int_equal(flatten(f, m), ZH_ERR_OK);
    f->cfg.max_mime_parts = 500;
    free(m);
    assert_int_equal(f->scan.n_hits, 1);
    assert_non_null(strstr(f->scan.hits[0].detail, "max_mime_parts"));
    assert_true(f->scan.n_objects <= 11);
}

/* GMime builds the whole tree before parts can be counted, so the parts are
 * counted before GMime sees them: however the boundary is declared (any
 * case, quoted, RFC 2231 pieces or encoding), a message of many parts is cut
 * where max_mime_parts is spent, and reported. */
static void test_parts_counted_before_parsing(void **state)
{
    struct fixture *f = *state;
    static const char *const declared[] = {
        "boundary=b",
        "BoUnDaRy=\"b\"",
        "boundary*0=b",
        "boundary*=us-ascii''%62",
    };
    char *m = malloc(1 << 20);
    for (size_t d = 0; d < sizeof declared / sizeof declared[0]; d++) {
        size_t n = (size_t)sprintf(
            m, HDR "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; %s\r\n\r\n", declared[d]);
        for (int i = 0; i < 20000; i++)
            n += (size_t)sprintf(m + n, "--b\r\n\r\nx\r\n");
        sprintf(m + n, "--b--\r\n");
        f->cfg.max_mime_parts = 10;
        assert_int_equal(flatten(f, m), ZH_ERR_OK);
        f->cfg.max_mime_parts = 500;
        if (f->scan.n_objects > 12)
            fail_msg("%s: %zu objects: GMime saw more parts than the limit", declared[d],
                     f->scan.n_objects);
        bool hit = false;
        for (size_t i = 0; i < f->scan.n_hits; i++)
            hit |= strstr(f->scan.hits[i].detail, "max_mime_parts") != NULL;
        assert_true(hit);
    }
    free(m);
}

/* GMime took the line end before a boundary for CRLF in a CRLF message even
 * when it was a bare LF, and cut the last two bytes of a base64 part. Mixed
 * line ends are made LF-only first. */
static void test_mixed_line_ends(void **state)
{
    struct fixture *f = *state;
    /* "Cat Cat!" is "Q2F0IENhdCE=": without its last two characters, one byte short. */
    const char *msg = HDR "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=q\r\n\r\n"
                          "--q\r\nContent-Type: application/octet-stream; name=a.bin\r\n"
                          "Content-Transfer-Encoding: base64\r\n\r\nQ2F0IENhdCE=\n--q--\r\n";
    assert_int_equal(flatten(f, msg), ZH_ERR_OK);
    assert_data(find(f, "1/a.bin"), "Cat Cat!");
}

static void test_bad_input(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(flatten(f, ""), ZH_ERR_INVALID);
    assert_non_null(strstr(f->err, "empty"));
    /* No mail: one object, the whole input, flagged as not fully decoded. */
    assert_int_equal(flatten(f, "\x7f"
                                "ELF\x02\x01 binary junk"),
                     ZH_ERR_OK);
    assert_int_equal(f->scan.n_objects, 1);
    assert_int_equal(find(f, "input")->sniffed, ZHI_T_ELF);
    assert_false(f->scan.is_message);
    assert_int_equal(f->scan.n_hits, 1);
    assert_string_equal(f->scan.hits[0].rule, "not_a_message");
    assert_true(f->scan.hits[0].flags & ZH_HIT_UNSCANNABLE);
    assert_int_equal(flatten(f, "just some words without a header\n"), ZH_ERR_OK);
    assert_data(find(f, "input"), "just some words without a header\n");
    /* A header after blank space: a message, with a note that it was malformed. */
    assert_int_equal(flatten(f, " \r\n" HDR "\r\nhello\r\n"), ZH_ERR_OK);
    assert_true(f->scan.is_message);
    assert_string_equal(f->scan.hits[0].rule, "malformed_message");
    assert_string_equal(f->scan.subject, "hello");
    /* Truncated in the middle of a base64 attachment: what is there is decoded. */
    assert_int_equal(
        flatten(f, HDR "Content-Type: multipart/mixed; boundary=q\r\n\r\n--q\r\n"
                       "Content-Type: application/octet-stream; name=x.exe\r\n"
                       "Content-Transfer-Encoding: base64\r\n\r\nTVqQAAMAAAAEAAAA//8AALgAAAAAAA"),
        ZH_ERR_OK);
    const struct zhi_object *x = find(f, "1/x.exe");
    assert_true(x->len >= 16);
    assert_memory_equal(x->data, "MZ\x90\0", 4);
    /* Headers only, no body at all. */
    assert_int_equal(flatten(f, "Subject: nothing else"), ZH_ERR_OK);
}

int main(void)
{
    g_mime_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_plain, setup, teardown),
        cmocka_unit_test_setup_teardown(test_multipart_attachment, setup, teardown),
        cmocka_unit_test_setup_teardown(test_encoded_names, setup, teardown),
        cmocka_unit_test_setup_teardown(test_charset_qp, setup, teardown),
        cmocka_unit_test_setup_teardown(test_uuencode, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nested_message, setup, teardown),
        cmocka_unit_test_setup_teardown(test_depth_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_parts_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_parts_counted_before_parsing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mixed_line_ends, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_input, setup, teardown),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    g_mime_shutdown();
    return rc;
}
