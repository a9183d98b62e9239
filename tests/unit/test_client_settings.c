/* The thin clients' settings module: a program's table gives defaults, the
 * INI section overrides them, flags and --set override the file, lists
 * replace then append, and every bad value is refused with the setting's
 * name. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "settings.h"

struct demo {
    char *name;
    struct zhc_list engines, sockets;
    int64_t timeout_ms, max_bytes, mode, on_x, count;
};

#define OFF(f) offsetof(struct demo, f)
static const struct zhc_setting rows[] = {
    {"name", ZHC_STRING, OFF(name), "bridge", 0, 0, NULL, "a name"},
    {"engine", ZHC_LIST, OFF(engines), "", 0, 0, NULL, "engines"},
    {"socket", ZHC_LIST, OFF(sockets), "unix:/run/a.sock", 0, 0, NULL, "sockets"},
    {"timeout", ZHC_MS, OFF(timeout_ms), "10s", 100, 600000, NULL, "timeout"},
    {"max_bytes", ZHC_SIZE, OFF(max_bytes), "25M", 1024, 1LL << 30, NULL, "size"},
    {"socket_mode", ZHC_MODE, OFF(mode), "0660", 0, 0777, NULL, "mode"},
    {"on_x", ZHC_CHOICE, OFF(on_x), "ok", 0, 0, "ok|error|found", "choice"},
    {"max_threads", ZHC_COUNT, OFF(count), "64", 1, 4096, NULL, "count"},
    {0},
};
static const struct zhc_table table = {"zerohour-demo", "demo", rows};

static char *write_ini(const char *text)
{
    static char path[64];
    snprintf(path, sizeof path, "/tmp/zhc-test-%d.ini", (int)getpid());
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return path;
}

static void test_defaults(void **state)
{
    (void)state;
    struct demo d = {0};
    assert_int_equal(zhc_config_defaults(&table, &d), 0);
    assert_string_equal(d.name, "bridge");
    assert_int_equal(d.engines.n, 0);
    assert_int_equal(d.sockets.n, 1);
    assert_string_equal(d.sockets.v[0], "unix:/run/a.sock");
    assert_int_equal(d.timeout_ms, 10000);
    assert_int_equal(d.max_bytes, 25 * 1024 * 1024);
    assert_int_equal(d.mode, 0660);
    assert_int_equal(d.on_x, 0);
    assert_int_equal(d.count, 64);
    char buf[16];
    assert_string_equal(zhc_choice_of(&table, "on_x", 2, buf, sizeof buf), "found");
    zhc_config_free(&table, &d);
}

static void test_file_then_flags(void **state)
{
    (void)state;
    struct demo d = {0};
    char err[256];
    assert_int_equal(zhc_config_defaults(&table, &d), 0);
    const char *ini = write_ini("[demo]\nsocket = inet:3310@127.0.0.1\nsocket = unix:/tmp/b\n"
                                "engine = ipc:///tmp/e\ntimeout = 2s\non_x = error\n");
    assert_int_equal(zhc_config_load(&table, &d, ini, err, sizeof err), 0);
    assert_int_equal(d.sockets.n, 2); /* the file's first line replaced the default */
    assert_string_equal(d.sockets.v[1], "unix:/tmp/b");
    assert_int_equal(d.timeout_ms, 2000);
    assert_int_equal(d.on_x, 1);

    static const struct option fixed[] = {{"config", required_argument, NULL, 1}};
    struct option *lo = zhc_options_build(&table, fixed, 1);
    assert_non_null(lo);
    char *argv[] = {"prog",        "--config",      "x",          "--socket",
                    "unix:/tmp/c", "--set",         "on_x=found", "--socket",
                    "unix:/tmp/d", "--max-threads", "8",          NULL};
    assert_int_equal(zhc_config_apply_flags(&table, &d, 11, argv, lo, err, sizeof err), 0);
    assert_int_equal(d.sockets.n, 2); /* flags replaced the file's list, then appended */
    assert_string_equal(d.sockets.v[0], "unix:/tmp/c");
    assert_string_equal(d.sockets.v[1], "unix:/tmp/d");
    assert_int_equal(d.engines.n, 1); /* untouched by the flags */
    assert_int_equal(d.on_x, 2);
    assert_int_equal(d.count, 8);
    zhc_options_free(lo);
    zhc_config_free(&table, &d);
    unlink(ini);
}

static void test_refusals(void **state)
{
    (void)state;
    struct demo d = {0};
    char err[256];
    assert_int_equal(zhc_config_defaults(&table, &d), 0);
    const char *ini = write_ini("[demo]\ntimeout = 3 fortnights\n");
    assert_int_equal(zhc_config_load(&table, &d, ini, err, sizeof err), -1);
    assert_non_null(strstr(err, ":2: timeout:"));
    ini = write_ini("[other]\ntimeout = 1s\n");
    assert_int_equal(zhc_config_load(&table, &d, ini, err, sizeof err), -1);
    assert_non_null(strstr(err, "unknown setting [other] timeout"));
    unlink(ini);
    assert_int_equal(
        zhc_config_set(&d, zhc_setting_find(&table, "on-x"), "maybe", 0, err, sizeof err), -1);
    assert_non_null(strstr(err, "ok|error|found"));
    assert_int_equal(
        zhc_config_set(&d, zhc_setting_find(&table, "max_threads"), "0", 0, err, sizeof err), -1);
    assert_int_equal(
        zhc_config_set(&d, zhc_setting_find(&table, "max_threads"), "12x", 0, err, sizeof err), -1);
    assert_null(zhc_setting_find(&table, "nope"));
    struct option *lo = zhc_options_build(&table, NULL, 0);
    char *argv[] = {"prog", "--set", "nope=1", NULL};
    assert_int_equal(zhc_config_apply_flags(&table, &d, 3, argv, lo, err, sizeof err), -1);
    assert_non_null(strstr(err, "no setting \"nope\""));
    char *argv2[] = {"prog", "--set", "timeout", NULL};
    assert_int_equal(zhc_config_apply_flags(&table, &d, 3, argv2, lo, err, sizeof err), -1);
    zhc_options_free(lo);
    /* A list holds at most ZHC_LIST_MAX values. */
    const struct zhc_setting *eng = zhc_setting_find(&table, "engine");
    for (int i = 0; i < ZHC_LIST_MAX; i++)
        assert_int_equal(zhc_config_set(&d, eng, "ipc:///x", 1, err, sizeof err), 0);
    assert_int_equal(zhc_config_set(&d, eng, "ipc:///x", 1, err, sizeof err), -1);
    zhc_config_free(&table, &d);
}

static void test_generated_text(void **state)
{
    (void)state;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    zhc_config_write_sample(&table, f);
    zhc_config_write_help(&table, f);
    zhc_config_write_markdown(&table, f);
    fclose(f);
    assert_non_null(strstr(buf, "# zerohour-demo configuration, written by zerohour-demo"));
    assert_non_null(strstr(buf, "[demo]\n"));
    assert_non_null(strstr(buf, "# engine = \n"));
    assert_non_null(strstr(buf, "    --max-threads N\n"));
    assert_non_null(strstr(buf, "    --set NAME=VALUE\n"));
    assert_non_null(strstr(buf, "| `on_x` | `--on-x` | `ok` | ok, error, found |"));
    free(buf);
}

/* --print-config writes a configuration that loads back to the same values
 * (the packages' conffiles are made this way); settings left at their
 * default stay commented. */
static void test_write_roundtrip(void **state)
{
    (void)state;
    char err[256];
    struct demo d = {0}, back = {0};
    assert_int_equal(zhc_config_defaults(&table, &d), 0);
    const char *set[][2] = {{"name", "other"},       {"timeout", "1500ms"}, {"max_bytes", "2M"},
                            {"socket_mode", "0640"}, {"on_x", "found"},     {"max_threads", "9"}};
    for (size_t i = 0; i < sizeof set / sizeof *set; i++)
        assert_int_equal(
            zhc_config_set(&d, zhc_setting_find(&table, set[i][0]), set[i][1], 0, err, sizeof err),
            0);
    const struct zhc_setting *eng = zhc_setting_find(&table, "engine");
    assert_int_equal(zhc_config_set(&d, eng, "ipc:///a", 0, err, sizeof err), 0);
    assert_int_equal(zhc_config_set(&d, eng, "tcp://127.0.0.1:1", 1, err, sizeof err), 0);
    assert_int_equal(zhc_config_set(&d, zhc_setting_find(&table, "socket"), "", 0, err, sizeof err),
                     0);
    char *path = write_ini("");
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    zhc_config_write(&table, &d, f);
    fclose(f);
    assert_int_equal(zhc_config_defaults(&table, &back), 0);
    assert_int_equal(zhc_config_load(&table, &back, path, err, sizeof err), 0);
    assert_string_equal(back.name, "other");
    assert_int_equal(back.timeout_ms, 1500);
    assert_int_equal(back.max_bytes, 2 * 1024 * 1024);
    assert_int_equal(back.mode, 0640);
    assert_int_equal(back.on_x, 2);
    assert_int_equal(back.count, 9);
    assert_int_equal(back.engines.n, 2);
    assert_string_equal(back.engines.v[1], "tcp://127.0.0.1:1");
    assert_int_equal(back.sockets.n, 0);
    zhc_config_free(&table, &back);
    /* Nothing changed: every setting is a comment. */
    zhc_config_free(&table, &d);
    assert_int_equal(zhc_config_defaults(&table, &d), 0);
    char *buf = NULL;
    size_t len = 0;
    f = open_memstream(&buf, &len);
    zhc_config_write(&table, &d, f);
    zhc_config_write_man(&table, f);
    fclose(f);
    assert_non_null(strstr(buf, "# timeout = 10s\n"));
    assert_null(strstr(buf, "\ntimeout ="));
    assert_non_null(
        strstr(buf, ".TP\n.BR on_x \" (\\-\\-on\\-x)\"\nchoice\n.br\nValues: ok|error|found"));
    free(buf);
    zhc_config_free(&table, &d);
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),        cmocka_unit_test(test_file_then_flags),
        cmocka_unit_test(test_refusals),        cmocka_unit_test(test_generated_text),
        cmocka_unit_test(test_write_roundtrip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
