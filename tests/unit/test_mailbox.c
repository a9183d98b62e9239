/* The CLI's mail store reading: From_ lines told from body text, an mbox
 * split into its messages (From_ lines and the separating blank line left
 * out, CRLF or LF), mboxrd unquoting, Message-ID lookup, and which Maildir
 * files are the server's own. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mailbox.h"

#define L(s) s, sizeof s - 1

static void test_from_lines(void **state)
{
    (void)state;
    assert_true(mbx_from_line(L("From alice@example.com Mon Jan 26 10:00:00 2004\n")));
    assert_true(mbx_from_line(L("From MAILER-DAEMON Fri Jul  8 12:08:34 2011\r\n")));
    assert_true(mbx_from_line(L("From - Sat Nov 28 13:59:26 2026")));
    assert_false(mbx_from_line(L("From the desk of the director, 2004\n"))); /* no time */
    assert_false(mbx_from_line(L("From: alice@example.com\n")));
    assert_false(mbx_from_line(L(">From alice@example.com Mon Jan 26 10:00:00 2004\n")));
    assert_false(mbx_from_line(L("From \n")));
    assert_false(mbx_from_line(L("Fro")));
}

/* Split text as an mbox; "start+len|..." */
static void split(const char *text, char *out, size_t n)
{
    FILE *f = fmemopen((void *)text, strlen(text), "r");
    struct mbx_reader r;
    off_t start;
    size_t len;
    size_t o = 0;
    out[0] = 0;
    mbx_reader_init(&r, f);
    while (mbx_reader_next(&r, &start, &len) == 1)
        o += (size_t)snprintf(out + o, n - o, "%.*s|", (int)len, text + start);
    mbx_reader_free(&r);
    fclose(f);
}

static void test_split(void **state)
{
    (void)state;
    char out[512];
    split("From a@x Mon Jan 26 10:00:00 2004\nSubject: 1\n\nbody one\n\n"
          "From b@y Mon Jan 26 10:00:01 2004\nSubject: 2\n\n>From here\nFrom the start, 2004\n\n"
          "From c@z Mon Jan 26 10:00:02 2004\nSubject: 3\n\nlast\n",
          out, sizeof out);
    assert_string_equal(out, "Subject: 1\n\nbody one\n|"
                             "Subject: 2\n\n>From here\nFrom the start, 2004\n|"
                             "Subject: 3\n\nlast\n|");
    /* CRLF files, and a From_ line that does not follow a blank line is body. */
    split("From a@x Mon Jan 26 10:00:00 2004\r\nS: 1\r\n\r\nx\r\n"
          "From b@y Mon Jan 26 10:00:01 2004\r\nstill one\r\n\r\n"
          "From c@z Mon Jan 26 10:00:02 2004\r\nS: 2\r\n",
          out, sizeof out);
    assert_string_equal(out, "S: 1\r\n\r\nx\r\nFrom b@y Mon Jan 26 10:00:01 2004\r\nstill one\r\n|"
                             "S: 2\r\n|");
    split("", out, sizeof out);
    assert_string_equal(out, "");
    split("From a@x Mon Jan 26 10:00:00 2004\n", out, sizeof out);
    assert_string_equal(out, "|"); /* one empty message */
}

static void test_unquote(void **state)
{
    (void)state;
    char b[] = ">From a\n>>From b\n>Fromage\n x>From c\n>From";
    size_t n = mbx_unquote((uint8_t *)b, strlen(b));
    assert_int_equal(n, strlen(b) - 2);
    b[n] = 0;
    assert_string_equal(b, "From a\n>From b\n>Fromage\n x>From c\n>From");
}

static void test_message_id(void **state)
{
    (void)state;
    char id[64];
    const char *m = "Subject: x\r\nmessage-id:\r\n <abc@example.com>\r\n\r\nMessage-ID: <no>\r\n";
    assert_true(mbx_message_id((const uint8_t *)m, strlen(m), id, sizeof id));
    assert_string_equal(id, "<abc@example.com>");
    const char *none = "Subject: x\n\nMessage-ID: <in-body>\n";
    assert_false(mbx_message_id((const uint8_t *)none, strlen(none), id, sizeof id));
    char small[8];
    const char *m2 = "Message-ID: <0123456789@example.com>\n";
    assert_true(mbx_message_id((const uint8_t *)m2, strlen(m2), small, sizeof small));
    assert_string_equal(small, "<012345");
}

static void test_store_files(void **state)
{
    (void)state;
    const char *store[] = {"dovecot.index",    "dovecot.index.cache", "dovecot-uidlist",
                           "dovecot-keywords", "subscriptions",       "maildirfolder",
                           "courierimapuiddb", "dovecot.index.log.2"};
    for (size_t i = 0; i < sizeof store / sizeof *store; i++)
        assert_true(mbx_store_file(store[i]));
    assert_false(mbx_store_file("1700000000.M1P2.host:2,S"));
    assert_false(mbx_store_file("invoice.eml"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_from_lines),  cmocka_unit_test(test_split),
        cmocka_unit_test(test_unquote),     cmocka_unit_test(test_message_id),
        cmocka_unit_test(test_store_files),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
