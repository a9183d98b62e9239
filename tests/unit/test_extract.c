/* The scan's budget: every bound of [limits] is checked by zhi_scan_limit,
 * which returns the limit's graded code and records one limits_exceeded hit
 * per limit however often it is breached; the extract stage spends the
 * message's budget across all of its containers and stops when it is spent,
 * keeping what it found. */
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

#include "zhi.h"

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

static struct zhi_scan *fresh(struct fixture *f)
{
    zhi_arena_reset(&f->arena);
    memset(&f->scan, 0, sizeof f->scan);
    f->scan.cfg = &f->cfg;
    f->scan.arena = &f->arena;
    return &f->scan;
}

static size_t limit_hits(const struct zhi_scan *s, const char *setting)
{
    size_t n = 0;
    for (size_t i = 0; i < s->n_hits; i++) {
        const struct zhi_hit *h = &s->hits[i];
        if (h->src == ZHI_SRC_limits && !strcmp(h->rule, "limits_exceeded") &&
            !strncmp(h->detail, setting, strlen(setting))) {
            assert_true(h->flags & ZH_HIT_UNSCANNABLE);
            assert_int_equal(h->score, 0);
            n++;
        }
    }
    return n;
}

/* Each limit: at its bound fine, beyond it the graded code, one hit only. */
static void test_every_limit(void **state)
{
    struct fixture *f = *state;
    static const struct {
        enum zhi_limit l;
        const char *setting;
        zh_err code;
    } rows[] = {
        {ZHI_L_mime_depth, "max_mime_depth", ZH_ERR_LIMIT_DEPTH},
        {ZHI_L_mime_parts, "max_mime_parts", ZH_ERR_LIMIT_COUNT},
        {ZHI_L_archive_depth, "archive_max_depth", ZH_ERR_LIMIT_DEPTH},
        {ZHI_L_archive_members, "archive_max_members", ZH_ERR_LIMIT_COUNT},
        {ZHI_L_member_bytes, "archive_max_member_bytes", ZH_ERR_LIMIT_SIZE},
        {ZHI_L_total_bytes, "archive_max_total_bytes", ZH_ERR_LIMIT_SIZE},
        {ZHI_L_ratio, "archive_max_ratio", ZH_ERR_LIMIT_RATIO},
        {ZHI_L_decoder_memory, "decoder_max_memory", ZH_ERR_LIMIT_SIZE},
        {ZHI_L_archive_time, "archive_timeout_ms", ZH_ERR_LIMIT_TIME},
        {ZHI_L_ole_entries, "ole_max_entries", ZH_ERR_LIMIT_COUNT},
        {ZHI_L_ole_depth, "ole_max_depth", ZH_ERR_LIMIT_DEPTH},
        {ZHI_L_image_dir_depth, "image_max_dir_depth", ZH_ERR_LIMIT_DEPTH},
        {ZHI_L_image_dir_entries, "image_max_dir_entries", ZH_ERR_LIMIT_COUNT},
        {ZHI_L_scan_time, "scan_timeout_ms", ZH_ERR_LIMIT_TIME},
    };
    assert_int_equal(sizeof rows / sizeof rows[0], ZHI_L__COUNT);
    for (size_t i = 0; i < ZHI_L__COUNT; i++) {
        struct zhi_scan *s = fresh(f);
        uint64_t bound = zhi_limit_bound(s, rows[i].l);
        assert_true(bound > 0);
        assert_int_equal(zhi_scan_limit(s, rows[i].l, bound, "1"), ZH_ERR_OK);
        assert_int_equal(s->n_hits, 0);
        assert_int_equal(zhi_scan_limit(s, rows[i].l, bound + 1, "2/a.zip"), rows[i].code);
        assert_int_equal(zhi_scan_limit(s, rows[i].l, bound + 7, "3/b.zip"), rows[i].code);
        if (limit_hits(s, rows[i].setting) != 1)
            fail_msg("%s: %zu hits for two breaches, not one", rows[i].setting,
                     limit_hits(s, rows[i].setting));
        assert_string_equal(s->hits[0].object, "2/a.zip");
        assert_true(zh_err_is_limit(rows[i].code));
    }
}

/* A zip of n members named m0, m1..., each `len` bytes of 'a'. */
static uint8_t *zip_of(size_t n, size_t len, size_t *out_len)
{
    size_t cap = 64 * 1024 + n * (len + 256), used = 0;
    uint8_t *buf = malloc(cap);
    char *data = malloc(len + 1);
    memset(data, 'a', len);
    struct archive *a = archive_write_new();
    archive_write_set_format_zip(a);
    archive_write_open_memory(a, buf, cap, &used);
    for (size_t i = 0; i < n; i++) {
        struct archive_entry *e = archive_entry_new();
        char name[32];
        snprintf(name, sizeof name, "m%zu.txt", i);
        archive_entry_set_pathname(e, name);
        archive_entry_set_size(e, (la_int64_t)len);
        archive_entry_set_filetype(e, AE_IFREG);
        archive_entry_set_perm(e, 0644);
        archive_write_header(a, e);
        archive_write_data(a, data, len);
        archive_entry_free(e);
    }
    archive_write_close(a);
    archive_write_free(a);
    free(data);
    *out_len = used;
    return buf;
}

static void add_attachment(struct zhi_scan *s, const char *path, const uint8_t *p, size_t len)
{
    struct zhi_object o = {.path = path,
                           .filename = strrchr(path, '/') + 1,
                           .ext = "zip",
                           .declared_type = "application/zip",
                           .sniffed = zhi_sniff(p, len),
                           .kind = ZHI_K_ATTACHMENT,
                           .data = p,
                           .len = len,
                           .depth = 1,
                           .parent = -1};
    assert_true(zhi_scan_add_object(s, &o) >= 0);
}

static size_t members(const struct zhi_scan *s)
{
    size_t n = 0;
    for (size_t i = 0; i < s->n_objects; i++)
        n += s->objects[i].kind == ZHI_K_MEMBER;
    return n;
}

/* The member budget is the message's, not each archive's: three zips of 4
 * members under a bound of 10 give 10 members and one hit. */
static void test_members_across_archives(void **state)
{
    struct fixture *f = *state;
    f->cfg.archive_max_members = 10;
    size_t len;
    uint8_t *zip = zip_of(4, 100, &len);
    struct zhi_scan *s = fresh(f);
    add_attachment(s, "2/a.zip", zip, len);
    add_attachment(s, "3/b.zip", zip, len);
    add_attachment(s, "4/c.zip", zip, len);
    assert_int_equal(zhi_extract(s), ZH_ERR_OK);
    assert_int_equal(members(s), 10);
    assert_int_equal(limit_hits(s, "archive_max_members"), 1);
    free(zip);
}

/* Bytes likewise: four 64 KiB members against a 200 KiB total; the member
 * that crossed the bound is kept as far as it was read, marked truncated. */
static void test_total_bytes_across_members(void **state)
{
    struct fixture *f = *state;
    f->cfg.archive_max_total_bytes = 200 * 1024;
    f->cfg.archive_ratio_floor = 1 << 30; /* 'aaa...' compresses well; ratio is not under test */
    size_t len;
    uint8_t *zip = zip_of(4, 64 * 1024, &len);
    struct zhi_scan *s = fresh(f);
    add_attachment(s, "2/a.zip", zip, len);
    assert_int_equal(zhi_extract(s), ZH_ERR_OK);
    uint64_t total = 0;
    bool truncated = false;
    for (size_t i = 0; i < s->n_objects; i++)
        if (s->objects[i].kind == ZHI_K_MEMBER) {
            total += s->objects[i].len;
            truncated |= (s->objects[i].flags & ZHI_OBJ_TRUNCATED) != 0;
        }
    assert_true(total <= 200 * 1024);
    assert_true(total >= 3 * 64 * 1024);
    assert_true(truncated);
    assert_int_equal(limit_hits(s, "archive_max_total_bytes"), 1);
    free(zip);
}

/* Too deep to open is reported once and does not stop the other objects. */
static void test_depth_skips_only_that_object(void **state)
{
    struct fixture *f = *state;
    f->cfg.archive_max_depth = 0;
    size_t len;
    uint8_t *zip = zip_of(1, 10, &len);
    struct zhi_scan *s = fresh(f);
    add_attachment(s, "2/a.zip", zip, len);
    add_attachment(s, "3/b.zip", zip, len);
    assert_int_equal(zhi_extract(s), ZH_ERR_OK);
    assert_int_equal(members(s), 0);
    assert_int_equal(limit_hits(s, "archive_max_depth"), 1);
    free(zip);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_every_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_members_across_archives, setup, teardown),
        cmocka_unit_test_setup_teardown(test_total_bytes_across_members, setup, teardown),
        cmocka_unit_test_setup_teardown(test_depth_skips_only_that_object, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
