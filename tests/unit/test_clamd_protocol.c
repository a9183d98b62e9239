/* zerohour-clamd's protocol parser on what callers send: the three framings,
 * INSTREAM chunks however the bytes are split, and every refusal (a chunk
 * past the stream maximum before its bytes arrive, an overlong command, a
 * NUL inside a newline command). Each script is fed whole and byte by byte:
 * the events must be the same. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "protocol.h"

/* Events of a whole input, as text: "C:INSTREAM:arg:z D:5 E X:2", data merged. */
static void run(const uint8_t *in, size_t len, size_t step, uint64_t max, char *out, size_t n)
{
    struct zcl_parser p;
    zcl_parser_init(&p, max);
    size_t o = 0, data = 0;
    out[0] = 0;
    for (size_t at = 0; at < len;) {
        size_t piece = len - at < step ? len - at : step;
        size_t off = 0;
        while (off < piece) {
            struct zcl_event ev;
            size_t used = zcl_parser_feed(&p, in + at + off, piece - off, &ev);
            assert_true(used <= piece - off);
            off += used;
            if (ev.type != ZCL_EV_DATA && ev.type != ZCL_EV_NONE && data) {
                o += (size_t)snprintf(out + o, n - o, "D:%zu ", data);
                data = 0;
            }
            if (ev.type == ZCL_EV_COMMAND)
                o += (size_t)snprintf(out + o, n - o, "C:%s:%s:%c ", ev.name, ev.arg,
                                      ev.framing == ZCL_NUL       ? 'z'
                                      : ev.framing == ZCL_NEWLINE ? 'n'
                                                                  : 'p');
            else if (ev.type == ZCL_EV_DATA)
                data += ev.len;
            else if (ev.type == ZCL_EV_STREAM_END)
                o += (size_t)snprintf(out + o, n - o, "E ");
            else if (ev.type == ZCL_EV_ERROR) {
                o += (size_t)snprintf(out + o, n - o, "X:%d", (int)ev.err);
                return;
            }
            if (ev.type == ZCL_EV_NONE)
                assert_int_equal(used, piece - off + used); /* NONE only when all is used */
        }
        at += piece;
    }
    if (data)
        snprintf(out + o, n - o, "D:%zu ", data);
}

static void expect(const void *in, size_t len, uint64_t max, const char *want)
{
    char whole[1024], bytewise[1024], sevens[1024];
    run(in, len, len ? len : 1, max, whole, sizeof whole);
    run(in, len, 1, max, bytewise, sizeof bytewise);
    run(in, len, 7, max, sevens, sizeof sevens);
    assert_string_equal(whole, want);
    assert_string_equal(bytewise, want);
    assert_string_equal(sevens, want);
}

#define S(lit) lit, sizeof lit - 1

static void test_framings(void **state)
{
    (void)state;
    expect(S("zPING\0"), 100, "C:PING::z ");
    expect(S("nVERSION\n"), 100, "C:VERSION::n ");
    expect(S("PING\n"), 100, "C:PING::p ");
    expect(S("PING\r\n"), 100, "C:PING::p ");
    expect(S("zSCAN /tmp/a b\0"), 100, "C:SCAN:/tmp/a b:z ");
    expect(S("zIDSESSION\0zPING\0nSTATS\nzEND\0"), 100,
           "C:IDSESSION::z C:PING::z C:STATS::n C:END::z ");
    /* A newline inside a z command is part of it; clamd's paths may hold one. */
    expect(S("zSCAN /a\nb\0"), 100, "C:SCAN:/a\nb:z ");
}

static void test_commands(void **state)
{
    (void)state;
    assert_int_equal(zcl_cmd_from_name("INSTREAM"), ZCL_CMD_INSTREAM);
    assert_int_equal(zcl_cmd_from_name("ALLMATCHSCAN"), ZCL_CMD_ALLMATCHSCAN);
    assert_int_equal(zcl_cmd_from_name("ping"), ZCL_CMD_UNKNOWN); /* clamd is case-sensitive */
    assert_int_equal(zcl_cmd_from_name(""), ZCL_CMD_UNKNOWN);
}

static void test_instream(void **state)
{
    (void)state;
    static const uint8_t two[] = {'z', 'I', 'N', 'S', 'T', 'R', 'E', 'A', 'M', 0,   0,
                                  0,   0,   3,   'a', 'b', 'c', 0,   0,   0,   2,   'd',
                                  'e', 0,   0,   0,   0,   'z', 'P', 'I', 'N', 'G', 0};
    expect(two, sizeof two, 100, "C:INSTREAM::z D:5 E C:PING::z ");
    /* Exactly the maximum is fine; one byte more is refused at the length. */
    expect(two, sizeof two, 5, "C:INSTREAM::z D:5 E C:PING::z ");
    expect(two, sizeof two, 4, "C:INSTREAM::z D:3 X:2");
    /* A lying length (4 GiB) is refused before any of its bytes. */
    static const uint8_t liar[] = {'n', 'I',  'N',  'S',  'T',  'R',  'E', 'A',
                                   'M', '\n', 0xff, 0xff, 0xff, 0xff, 'x'};
    expect(liar, sizeof liar, 25u << 20, "C:INSTREAM::n X:2");
    /* A stream cut short leaves the parser inside it. */
    struct zcl_parser p;
    struct zcl_event ev;
    zcl_parser_init(&p, 100);
    static const uint8_t cut[] = {'z', 'I', 'N', 'S', 'T', 'R', 'E', 'A', 'M', 0, 0, 0, 0, 9, 'a'};
    size_t off = 0;
    while (off < sizeof cut)
        off += zcl_parser_feed(&p, cut + off, sizeof cut - off, &ev);
    assert_true(zcl_parser_in_stream(&p));
    assert_int_equal(zcl_parser_stream_len(&p), 1);
}

static void test_refusals(void **state)
{
    (void)state;
    char *big = malloc(ZCL_LINE_MAX + 16);
    memset(big, 'A', ZCL_LINE_MAX + 16);
    big[0] = 'z';
    expect(big, ZCL_LINE_MAX + 16, 100, "X:1");
    /* Exactly ZCL_LINE_MAX bytes of command is accepted. */
    big[ZCL_LINE_MAX + 1] = 0;
    struct zcl_parser lp;
    struct zcl_event lev;
    zcl_parser_init(&lp, 100);
    assert_int_equal(zcl_parser_feed(&lp, (const uint8_t *)big, ZCL_LINE_MAX + 2, &lev),
                     ZCL_LINE_MAX + 2);
    assert_int_equal(lev.type, ZCL_EV_COMMAND);
    assert_int_equal(strlen(lev.name), ZCL_LINE_MAX);
    free(big);
    expect(S("nPI\0NG\n"), 100, "X:3");
    /* After an error the parser stays in it and consumes nothing. */
    struct zcl_parser p;
    struct zcl_event ev;
    zcl_parser_init(&p, 100);
    zcl_parser_feed(&p, (const uint8_t *)"nA\0", 3, &ev);
    assert_int_equal(ev.type, ZCL_EV_ERROR);
    assert_int_equal(zcl_parser_feed(&p, (const uint8_t *)"zPING\0", 6, &ev), 0);
    assert_int_equal(ev.type, ZCL_EV_ERROR);
    assert_string_equal(zcl_error_text(ZCL_E_STREAM_TOO_LONG), "INSTREAM size limit exceeded.");
}

static void test_detection_names(void **state)
{
    (void)state;
    char b[64];
    zcl_detection_name(b, sizeof b, "W32/Mydoom.A@mm");
    assert_string_equal(b, "Zerohour.W32_Mydoom.A_mm");
    zcl_detection_name(b, sizeof b, "two words\nFOUND");
    assert_string_equal(b, "Zerohour.two_words_FOUND");
    zcl_detection_name(b, sizeof b, "");
    assert_string_equal(b, "Zerohour.Unknown");
    zcl_detection_name(b, 12, "abcdefghijkl");
    assert_string_equal(b, "Zerohour.ab");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_framings),        cmocka_unit_test(test_commands),
        cmocka_unit_test(test_instream),        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_detection_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
