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
    assert_non_null(strstr(buf, "# zerohour-demo configuration."));
    assert_non_null(strstr(buf, "[demo]\n"));
    assert_non_null(strstr(buf, "# engine = \n"));
    assert_non_null(strstr(buf, "    --max-threads N\n"));
    assert_non_null(strstr(buf, "    --set NAME=VALUE\n"));
    assert_non_null(strstr(buf, "| `on_x` | `--on-x` | `ok` | ok, error, found |"));
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_file_then_flags),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_generated_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
