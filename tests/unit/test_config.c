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
#include "zerohour/values.h"
#include "zhi.h"

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

/* Checks across settings belong to the config module, for every program. */
static void test_check(void **state)
{
    static const struct {
        const char *name, *value, *want;
    } rows[] = {
        {NULL, NULL, NULL},
        {"scoring.suspicious_score", "90", "must not exceed scoring.malicious_score"},
        {"engine.log_level", "loud", "is not error, warn, info or debug"},
        {"outbreak.redis", "http://example.net", "redis"},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        struct zh_config c;
        char err[256] = "";
        zh_config_defaults(&c);
        if (rows[i].name)
            assert_int_equal(zh_config_set(&c, rows[i].name, rows[i].value, err, sizeof err),
                             ZH_ERR_OK);
        zh_err rc = zh_config_check(&c, err, sizeof err);
        if (!rows[i].want)
            assert_int_equal(rc, ZH_ERR_OK);
        else if (rc != ZH_ERR_INVALID || !strstr(err, rows[i].want))
            fail_msg("row %zu: rc %d, error \"%s\" lacks \"%s\"", i, rc, err, rows[i].want);
        zh_config_free(&c);
    }
}

/* [site]: CIDR lists of both families, checked at start; a bad entry is
 * named in the error. */
static void test_site(void **state)
{
    static const struct {
        const char *list, *ip;
        bool in;
    } rows[] = {
        {"10.0.0.0/8 192.168.0.0/16", "10.200.3.4", true},
        {"10.0.0.0/8 192.168.0.0/16", "11.0.0.1", false},
        {"40.107.0.0/16,52.100.0.0/14", "52.103.255.1", true},
        {"40.107.0.0/16,52.100.0.0/14", "52.104.0.1", false},
        {"198.51.100.7", "198.51.100.7", true},
        {"198.51.100.7", "198.51.100.8", false},
        {"2001:db8::/32", "2001:db8:1::5", true},
        {"2001:db8::/32", "2001:db9::5", false},
        {"fc00::/7", "fd12::1", true},
        {"0.0.0.0/0", "203.0.113.9", true},
        {"10.0.0.0/8", "", false},
        {"10.0.0.0/8", "not-an-ip", false},
        {"", "10.0.0.1", false},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
        if (zhi_site_ip_in(rows[i].list, rows[i].ip) != rows[i].in)
            fail_msg("%s in [%s]: want %d", rows[i].ip, rows[i].list, rows[i].in);
    struct zh_config c;
    char err[256];
    zh_config_defaults(&c);
    assert_int_equal(zh_config_check(&c, err, sizeof err), ZH_ERR_OK);
    assert_int_equal(
        zh_config_set(&c, "site.trusted_networks", "40.107.0.0/16 52.100.0.0/33", err, sizeof err),
        ZH_ERR_OK);
    assert_int_equal(zh_config_check(&c, err, sizeof err), ZH_ERR_INVALID);
    assert_non_null(strstr(err, "52.100.0.0/33"));
    zh_config_set(&c, "site.trusted_networks", "", err, sizeof err);
    zh_config_set(&c, "site.internal_domains", "corp.example.com bad_domain!", err, sizeof err);
    assert_int_equal(zh_config_check(&c, err, sizeof err), ZH_ERR_INVALID);
    assert_non_null(strstr(err, "bad_domain!"));
    zh_config_set(&c, "site.internal_domains", "corp.example.com, example.org", err, sizeof err);
    assert_int_equal(zh_config_check(&c, err, sizeof err), ZH_ERR_OK);
    zh_config_free(&c);
}

static void test_writers(void **state)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    zh_config_write(f, NULL);
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

/* --print-config over a changed configuration writes a file that loads back
 * to the same values (how the installed /etc/zerohour/zerohourd.ini is made). */
static void test_write_roundtrip(void **state)
{
    static const char *const set[][2] = {
        {"engine.address", "ipc:///run/zerohour/zerohour.sock"},
        {"engine.address", "tcp://127.0.0.1:7350"},
        {"engine.socket_mode", "0660"},
        {"limits.max_message_bytes", "10M"},
        {"limits.scan_timeout_ms", "45s"},
        {"outbreak.state_file", "/var/lib/zerohour/outbreak.state"},
    };
    struct zh_config want, got;
    char err[256], *buf = NULL;
    size_t len = 0;
    zh_config_defaults(&want);
    for (size_t i = 0; i < sizeof set / sizeof *set; i++)
        assert_int_equal(zh_config_set(&want, set[i][0], set[i][1], err, sizeof err), ZH_ERR_OK);
    FILE *f = open_memstream(&buf, &len);
    zh_config_write(f, &want);
    fclose(f);
    assert_non_null(strstr(buf, "\nsocket_mode = 0660\n"));
    assert_non_null(strstr(buf, "\n# workers = 0\n")); /* unchanged: commented */
    char *p = write_tmp(buf);
    zh_config_defaults(&got);
    assert_int_equal(zh_config_load(&got, p, err, sizeof err), ZH_ERR_OK);
    unlink(p);
    assert_int_equal(got.n_addresses, 2);
    assert_string_equal(got.addresses[1], "tcp://127.0.0.1:7350");
    assert_int_equal(got.socket_mode, 0660);
    assert_int_equal(got.max_message_bytes, 10 * 1024 * 1024);
    assert_int_equal(got.scan_timeout_ms, 45000);
    assert_string_equal(got.outbreak_state_file, "/var/lib/zerohour/outbreak.state");
    assert_string_equal(got.rules_dir, want.rules_dir);
    zh_config_free(&got);
    zh_config_free(&want);
    free(buf);
}

/* The value syntax zerohourd and the milter share (proto/values.c). */
static void test_values(void **state)
{
    static const struct {
        int (*parse)(const char *, int64_t *);
        const char *text;
        int64_t want; /* -1: refused */
    } rows[] = {
        {zh_value_size, "512", 512},
        {zh_value_size, "64K", 65536},
        {zh_value_size, "64KiB", 65536},
        {zh_value_size, "32M", 32LL << 20},
        {zh_value_size, "2g", 2LL << 30},
        {zh_value_size, "1GB", 1LL << 30},
        {zh_value_size, "", -1},
        {zh_value_size, "K", -1},
        {zh_value_size, "-1", -1},
        {zh_value_size, "+5", -1},
        {zh_value_size, " 5", -1},
        {zh_value_size, "5 M", -1},
        {zh_value_size, "5T", -1},
        {zh_value_size, "9999999999999999999", -1},
        {zh_value_size, "99999999999G", -1}, /* overflows once multiplied */
        {zh_value_ms, "250", 250},
        {zh_value_ms, "250ms", 250},
        {zh_value_ms, "30s", 30000},
        {zh_value_ms, "10m", 600000},
        {zh_value_ms, "10min", 600000},
        {zh_value_ms, "24h", 86400000},
        {zh_value_ms, "1d", -1},
        {zh_value_ms, "1.5s", -1},
        {zh_value_mode, "0660", 0660},
        {zh_value_mode, "0600", 0600},
        {zh_value_mode, "0680", -1},
        {zh_value_int, "42", 42},
        {zh_value_int, "0x10", -1},
        {zh_value_int, "4 2", -1},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        int64_t v = -1;
        int rc = rows[i].parse(rows[i].text, &v);
        if (rows[i].want < 0) {
            if (rc != -1)
                fail_msg("\"%s\" accepted as %lld", rows[i].text, (long long)v);
        } else if (rc != 0 || v != rows[i].want) {
            fail_msg("\"%s\": rc %d value %lld, want %lld", rows[i].text, rc, (long long)v,
                     (long long)rows[i].want);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),    cmocka_unit_test(test_load),
        cmocka_unit_test(test_load_errors), cmocka_unit_test(test_set),
        cmocka_unit_test(test_writers),     cmocka_unit_test(test_write_roundtrip),
        cmocka_unit_test(test_values),      cmocka_unit_test(test_check),
        cmocka_unit_test(test_site),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
