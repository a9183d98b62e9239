/* The scan pipeline through the public engine API: verdicts, hits with
 * object paths and rule meta, externals, statuses for bad input, deadlines,
 * and reloads. Rules are written to a temporary directory per test. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "zerohour/engine.h"
#include "zerohour/wire.h"

static char rules_dir[64];

static void write_rule(const char *name, const char *text)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", rules_dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static const char *EICAR = "X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";

struct fixture {
    struct zh_config cfg;
    zh_engine *e;
    zh_scanner *s;
};

static int setup(void **state)
{
    snprintf(rules_dir, sizeof rules_dir, "/tmp/zh-test-rules-XXXXXX");
    assert_non_null(mkdtemp(rules_dir));
    char cmd[512];
    snprintf(cmd, sizeof cmd, "cp %s/rules/*.yar %s/", ZH_SOURCE_DIR, rules_dir);
    assert_int_equal(system(cmd), 0);
    write_rule("context.yar",
               "rule Exe_Name_In_Zip_Context { meta: score = 7 family = \"Test.Family\" "
               "aliases = \"Alias.A, Alias.B\"\n"
               "condition: extension == \"pif\" and object_kind == \"attachment\" and depth == 2 "
               "and subject contains \"Details\" and mail_from == \"worm@example.net\" }\n"
               "rule Helo_And_Ip { meta: score = 1 condition: object_kind == \"headers\" and "
               "helo == \"bogus.example\" and client_ip == \"192.0.2.7\" }\n");
    struct fixture *f = calloc(1, sizeof *f);
    zh_config_defaults(&f->cfg);
    zh_config_set(&f->cfg, "rules_dir", rules_dir, NULL, 0);
    struct zh_rules_report rep;
    assert_int_equal(zh_engine_new(&f->cfg, &f->e, &rep), ZH_ERR_OK);
    assert_true(rep.ok);
    zh_rules_report_free(&rep);
    assert_int_equal(zh_scanner_new(f->e, &f->s), ZH_ERR_OK);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    zh_scanner_free(f->s);
    zh_engine_free(f->e);
    zh_config_free(&f->cfg);
    free(f);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", rules_dir);
    assert_int_equal(system(cmd), 0);
    return 0;
}

static const struct zh_result *scan(struct fixture *f, const char *msg,
                                    const struct zh_scan_envelope *env)
{
    const struct zh_result *r;
    zh_scanner_scan(f->s, (const uint8_t *)msg, strlen(msg), env, 0, &r);
    return r;
}

static const struct zh_result_hit *hit(const struct zh_result *r, const char *rule)
{
    for (size_t i = 0; i < r->n_hits; i++)
        if (!strcmp(r->hits[i].rule, rule))
            return &r->hits[i];
    return NULL;
}

#define HDR "From: a@example.com\r\nTo: b@example.org\r\nSubject: Re: Details\r\n"

static void test_verdicts(void **state)
{
    struct fixture *f = *state;
    char msg[1024];
    /* EICAR as an attachment: MALICIOUS, with family and aliases from meta. */
    snprintf(
        msg, sizeof msg,
        HDR "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n"
            "Content-Type: text/plain\r\n\r\ntest\r\n--b\r\nContent-Type: application/octet-stream;"
            " name=eicar.com\r\n\r\n%s\r\n--b--\r\n",
        EICAR);
    const struct zh_result *r = scan(f, msg, NULL);
    assert_int_equal(r->status, 0);
    assert_int_equal(r->verdict, ZH_VERDICT_MALICIOUS);
    const struct zh_result_hit *h = hit(r, "EICAR_Test_File");
    assert_non_null(h);
    assert_string_equal(h->detector, "yara");
    assert_string_equal(h->object, "2/eicar.com");
    assert_string_equal(h->family, "EICAR-Test-File");
    assert_int_equal(h->n_aliases, 3);
    assert_string_equal(h->aliases[1], "Eicar-Signature");
    assert_int_equal(r->score, 100);
    assert_true(r->ruleset_version >= 1);
    assert_int_equal(r->objects, 3);

    /* Near miss: the EICAR string quoted inside a sentence is not the test file. */
    snprintf(msg, sizeof msg, HDR "\r\nThe test string is %s, for reference.\r\n", EICAR);
    r = scan(f, msg, NULL);
    assert_int_equal(r->verdict, ZH_VERDICT_CLEAN);
    assert_null(hit(r, "EICAR_Test_File"));

    /* Plain mail: CLEAN, no hits. */
    r = scan(f, "From: a@example.com\r\nSubject: lunch\r\n\r\nSee you at noon.\r\n", NULL);
    assert_int_equal(r->status, 0);
    assert_int_equal(r->verdict, ZH_VERDICT_CLEAN);
    assert_int_equal(r->n_hits, 0);
    assert_int_equal(r->score, 0);
}

static void test_lure_counts_once(void **state)
{
    struct fixture *f = *state;
    const char *msg = HDR
        "Content-Type: multipart/alternative; boundary=a\r\n\r\n--a\r\n"
        "Content-Type: text/plain\r\n\r\nMail transaction failed. Partial message is available.\r\n"
        "--a\r\nContent-Type: text/html\r\n\r\n<p>Mail transaction failed. Partial message is "
        "available.</p>\r\n--a--\r\n";
    const struct zh_result *r = scan(f, msg, NULL);
    size_t n = 0;
    for (size_t i = 0; i < r->n_hits; i++)
        n += !strcmp(r->hits[i].rule, "Lure_Mail_Transaction_Failed");
    assert_int_equal(n, 2);                         /* reported on both objects */
    assert_int_equal(r->score, 20);                 /* counted once */
    assert_int_equal(r->verdict, ZH_VERDICT_CLEAN); /* a lure alone is weak evidence */
    /* A real bounce sentence that is not the lure. */
    r = scan(f, HDR "\r\nYour message could not be delivered to one recipient.\r\n", NULL);
    assert_int_equal(r->n_hits, 0);
}

static void test_externals(void **state)
{
    struct fixture *f = *state;
    const char *msg =
        HDR "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n"
            "Content-Type: text/plain\r\n\r\nPlease see the attached file for details.\r\n--b\r\n"
            "Content-Type: application/octet-stream; name=details.pif\r\n\r\nxx\r\n--b--\r\n";
    struct zh_scan_envelope env = {
        .mail_from = "worm@example.net", .helo = "bogus.example", .client_ip = "192.0.2.7"};
    const struct zh_result *r = scan(f, msg, &env);
    const struct zh_result_hit *h = hit(r, "Exe_Name_In_Zip_Context");
    assert_non_null(h);
    assert_string_equal(h->object, "2/details.pif");
    assert_string_equal(h->family, "Test.Family");
    assert_non_null(hit(r, "Helo_And_Ip"));
    assert_non_null(hit(r, "Lure_Read_Attached_Document"));
    /* Another sender: the context rule stays quiet. */
    env.mail_from = "friend@example.net";
    r = scan(f, msg, &env);
    assert_null(hit(r, "Exe_Name_In_Zip_Context"));
}

static void test_bad_input(void **state)
{
    struct fixture *f = *state;
    const struct zh_result *r;
    zh_scanner_scan(f->s, (const uint8_t *)"", 0, NULL, 0, &r);
    assert_int_equal(r->status, ZEROHOUR__V1__STATUS__STATUS_INVALID_ARGUMENT);
    assert_non_null(strstr(r->status_message, "empty"));
    /* Anything else is scanned: bytes that are no mail and name no file are
     * one object, and not CLEAN (any parts they hide were not decoded). */
    r = scan(f, "\x01\x02 garbage", NULL);
    assert_int_equal(r->status, 0);
    assert_non_null(hit(r, "not_a_message"));
    assert_int_equal(r->verdict, ZH_VERDICT_SUSPICIOUS);
    /* Named as a file, they are a file: a PE named clam.exe is an executable. */
    static const char pe[] = "MZ\x90\0\x03\0\0\0\x04\0\0\0\xff\xff\0\0\xb8\0\0\0\0\0\0\0@\0\0\0";
    struct zh_scan_envelope named = {.filename = "/tmp/clam.exe"};
    zh_scanner_scan(f->s, (const uint8_t *)pe, sizeof pe - 1, &named, 0, &r);
    assert_int_equal(r->status, 0);
    assert_null(hit(r, "not_a_message"));
    assert_int_equal(r->objects, 1);
    assert_int_equal(r->verdict, ZH_VERDICT_CLEAN); /* this rule set has no heuristics */

    /* Over max_message_bytes: RESOURCE_EXHAUSTED naming the limit. */
    struct zh_config small;
    zh_config_copy(&small, &f->cfg);
    zh_config_set(&small, "max_message_bytes", "1K", NULL, 0);
    zh_engine *e2;
    zh_scanner *s2;
    assert_int_equal(zh_engine_new(&small, &e2, NULL), ZH_ERR_OK);
    assert_int_equal(zh_scanner_new(e2, &s2), ZH_ERR_OK);
    char *big = malloc(4096);
    memset(big, 'a', 4096);
    memcpy(big, "Subject: x\r\n\r\n", 14);
    zh_scanner_scan(s2, (const uint8_t *)big, 4096, NULL, 0, &r);
    assert_int_equal(r->status, ZEROHOUR__V1__STATUS__STATUS_RESOURCE_EXHAUSTED);
    assert_non_null(strstr(r->status_message, "max_message_bytes"));
    free(big);
    zh_scanner_free(s2);
    zh_engine_free(e2);
    zh_config_free(&small);
}

static void test_limits_never_clean(void **state)
{
    struct fixture *f = *state;
    struct zh_config c;
    zh_config_copy(&c, &f->cfg);
    zh_config_set(&c, "max_mime_parts", "2", NULL, 0);
    zh_engine *e2;
    zh_scanner *s2;
    assert_int_equal(zh_engine_new(&c, &e2, NULL), ZH_ERR_OK);
    assert_int_equal(zh_scanner_new(e2, &s2), ZH_ERR_OK);
    const char *msg = HDR "Content-Type: multipart/mixed; boundary=b\r\n\r\n"
                          "--b\r\n\r\none\r\n--b\r\n\r\ntwo\r\n--b\r\n\r\nthree\r\n--b--\r\n";
    const struct zh_result *r;
    zh_scanner_scan(s2, (const uint8_t *)msg, strlen(msg), NULL, 0, &r);
    assert_int_equal(r->status, 0);
    assert_int_equal(r->verdict, ZH_VERDICT_SUSPICIOUS);
    assert_non_null(hit(r, "limits_exceeded"));
    zh_scanner_free(s2);
    zh_engine_free(e2);
    zh_config_free(&c);
}

static void test_reload(void **state)
{
    struct fixture *f = *state;
    uint64_t v1 = zh_engine_ruleset_version(f->e);
    const char *msg = "Subject: x\r\n\r\nzh-reload-marker\r\n";
    assert_int_equal(scan(f, msg, NULL)->verdict, ZH_VERDICT_CLEAN);
    write_rule("marker.yar", "rule Marker { meta: score = 50 strings: $m = \"zh-reload-marker\" "
                             "condition: $m }\n");
    struct zh_rules_report rep;
    assert_int_equal(zh_engine_reload(f->e, &rep), ZH_ERR_OK);
    assert_true(rep.version > v1);
    zh_rules_report_free(&rep);
    const struct zh_result *r = scan(f, msg, NULL);
    assert_int_equal(r->verdict, ZH_VERDICT_SUSPICIOUS);
    assert_int_equal(r->ruleset_version, zh_engine_ruleset_version(f->e));
    uint64_t v2 = r->ruleset_version;
    /* A broken rule: the reload fails with file:line, the old set serves on. */
    write_rule("broken.yar", "rule Broken {\n condition: nosuchthing\n}\n");
    assert_int_not_equal(zh_engine_reload(f->e, &rep), ZH_ERR_OK);
    assert_false(rep.ok);
    assert_true(rep.n_errors >= 1);
    assert_non_null(strstr(rep.errors[0], "broken.yar:2"));
    zh_rules_report_free(&rep);
    r = scan(f, msg, NULL);
    assert_int_equal(r->verdict, ZH_VERDICT_SUSPICIOUS);
    assert_int_equal(r->ruleset_version, v2);
}

static void test_deadline(void **state)
{
    struct fixture *f = *state;
    /* A slow rule on a big object and a 1 ms deadline. */
    write_rule("slow.yar",
               "rule Slow { strings: $a = /a[^b]{0,200}c[^d]{0,200}e/ condition: $a }\n");
    struct zh_rules_report rep;
    assert_int_equal(zh_engine_reload(f->e, &rep), ZH_ERR_OK);
    zh_rules_report_free(&rep);
    size_t n = 4 * 1024 * 1024;
    char *big = malloc(n + 1);
    memcpy(big, "Subject: x\r\n\r\n", 14);
    for (size_t i = 14; i < n; i++)
        big[i] = "ac\n"[i % 3];
    big[n] = 0;
    const struct zh_result *r;
    zh_scanner_scan(f->s, (const uint8_t *)big, n, NULL, 1, &r);
    assert_int_equal(r->status, ZEROHOUR__V1__STATUS__STATUS_DEADLINE_EXCEEDED);
    free(big);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_verdicts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lure_counts_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_externals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_input, setup, teardown),
        cmocka_unit_test_setup_teardown(test_limits_never_clean, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reload, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deadline, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
