/* Settings table: defaults, INI loading with errors that name file and line,
 * value parsing (sizes, times, modes), flag-style overrides, and the writers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "zerohour/config.h"

static char *write_tmp(const char *text)
{
    static char path[64];
    snprintf(path, sizeof path, "/tmp/zh-test-config-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    return path;
}

static void test_defaults(void **state)
{
    struct zh_config c;
    assert_int_equal(zh_config_defaults(&c), ZH_ERR_OK);
    assert_int_equal(c.max_message_bytes, 32 * 1024 * 1024);
    assert_int_equal(c.scan_timeout_ms, 30000);
    assert_int_equal(c.socket_mode, 0600);
    assert_int_equal(c.n_addresses, 0);
    assert_string_equal(c.log_level, "info");
    assert_true(c.suspicious_score < c.malicious_score);
    zh_config_free(&c);
}

static void test_load(void **state)
{
    struct zh_config c;
    char err[256];
    zh_config_defaults(&c);
    char *p = write_tmp(
        "; comment\n[engine]\naddress = ipc:///tmp/a.sock\naddress = tcp://127.0.0.1:7350\n"
        "workers = 3\nsocket_mode = 0660\n[limits]\nmax_message_bytes = 10M\n"
        "scan_timeout_ms = 2s\n");
    assert_int_equal(zh_config_load(&c, p, err, sizeof err), ZH_ERR_OK);
    unlink(p);
    assert_int_equal(c.n_addresses, 2);
    assert_string_equal(c.addresses[1], "tcp://127.0.0.1:7350");
    assert_int_equal(c.workers, 3);
    assert_int_equal(c.socket_mode, 0660);
    assert_int_equal(c.max_message_bytes, 10 * 1024 * 1024);
    assert_int_equal(c.scan_timeout_ms, 2000);
    zh_config_free(&c);
}

static void test_load_errors(void **state)
{
    static const struct {
        const char *text, *want;
    } rows[] = {
        {"[engine]\nworkers = many\n", ":2: workers: \"many\" is not an integer"},
        {"[engine]\n\nworkers = 9999\n", ":3: workers: 9999 is out of range"},
        {"[limits]\nmax_message_bytes = 12Q\n", ":2: max_message_bytes: \"12Q\" is not a size"},
        {"[limits]\nno_such = 1\n", ":2: unknown setting [limits] no_such"},
        {"[nowhere]\nworkers = 1\n", ":2: unknown setting [nowhere] workers"},
        {"[engine]\nthis line has no equals sign\n", ":2: syntax error"},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        struct zh_config c;
        char err[256] = "";
        zh_config_defaults(&c);
        char *p = write_tmp(rows[i].text);
        assert_int_not_equal(zh_config_load(&c, p, err, sizeof err), ZH_ERR_OK);
        unlink(p);
        if (!strstr(err, rows[i].want) || strncmp(err, p, strlen(p)))
            fail_msg("row %zu: error \"%s\" lacks \"%s\" or the file name", i, err, rows[i].want);
        zh_config_free(&c);
    }
    struct zh_config c;
    char err[256];
    zh_config_defaults(&c);
    assert_int_equal(zh_config_load(&c, "/nonexistent/zh.ini", err, sizeof err), ZH_ERR_IO);
    assert_non_null(strstr(err, "No such file"));
    zh_config_free(&c);
}

static void test_set(void **state)
{
    struct zh_config c;
    char err[256];
    zh_config_defaults(&c);
    assert_int_equal(zh_config_set(&c, "limits.max_mime_parts", "1000", err, sizeof err),
                     ZH_ERR_OK);
    assert_int_equal(c.max_mime_parts, 1000);
    assert_int_equal(zh_config_set(&c, "archive_timeout_ms", "500ms", err, sizeof err), ZH_ERR_OK);
    assert_int_equal(c.archive_timeout_ms, 500);
    assert_int_equal(zh_config_set(&c, "max_message_bytes", "64KiB", err, sizeof err), ZH_ERR_OK);
    assert_int_equal(c.max_message_bytes, 64 * 1024);
    assert_int_equal(zh_config_set(&c, "max_message_bytes", "1", err, sizeof err), ZH_ERR_INVALID);
    assert_int_equal(zh_config_set(&c, "bogus", "1", err, sizeof err), ZH_ERR_INVALID);
    assert_non_null(strstr(err, "unknown setting"));
    struct zh_config copy;
    assert_int_equal(zh_config_copy(&copy, &c), ZH_ERR_OK);
    assert_string_equal(copy.rules_dir, c.rules_dir);
    assert_ptr_not_equal(copy.rules_dir, c.rules_dir);
    zh_config_free(&copy);
    zh_config_free(&c);
}

static void test_writers(void **state)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    zh_config_write_sample(f);
    fclose(f);
    /* The sample must load back as-is. */
    char *p = write_tmp(buf);
    struct zh_config c;
    char err[256];
    zh_config_defaults(&c);
    assert_int_equal(zh_config_load(&c, p, err, sizeof err), ZH_ERR_OK);
    unlink(p);
    zh_config_free(&c);
    for (const struct zh_setting *s = zh_settings; s->name; s++)
        assert_non_null(strstr(buf, s->name));
    free(buf);
    buf = NULL;
    f = open_memstream(&buf, &len);
    zh_config_write_markdown(f);
    fclose(f);
    assert_non_null(strstr(buf, "| `[limits] max_message_bytes` | `32M` |"));
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),    cmocka_unit_test(test_load),
        cmocka_unit_test(test_load_errors), cmocka_unit_test(test_set),
        cmocka_unit_test(test_writers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
