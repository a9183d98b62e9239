/* Disk images and Microsoft's containers on real bytes: FAT12/16/32 volumes,
 * MBR and GPT disks, fixed and dynamic VHDs (extractors/fat.c), ISO 9660
 * with Joliet and Rock Ridge, with a UDF bridge and UDF alone, LHA and ARJ
 * (archive.c), CAB, SZDD, KWAJ and CHM (extractors/mspack.c). The images are made at test time by
 * tests/fixtures/images/make_images.py with mtools, xorriso, genisoimage,
 * mkudffs and gcab — the tools that make such files in the field — and
 * damaged there by hand. Each format is checked through the extract stage
 * (members, names, damaged and limit hits) and through a whole scan with the
 * default rules, with near misses that must not be flagged. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "testutil.h"
#include "zhi.h"

static char dir[64];

static struct blob image(const char *name)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return slurp(path);
}

static int make_images(void **state)
{
    strcpy(dir, "/tmp/zh-images-XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    char cmd[512];
    snprintf(cmd, sizeof cmd, "python3 %s/tests/fixtures/images/make_images.py %s", ZH_SOURCE_DIR,
             dir);
    if (system(cmd) != 0) {
        fprintf(stderr, "make_images.py failed (mtools, xorriso, genisoimage, udftools, gcab?)\n");
        return -1;
    }
    return 0;
}

static int remove_images(void **state)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* ---- the extract stage ---------------------------------------------------- */

static struct zh_config cfg;
static struct zhi_arena arena;
static struct zhi_scan scan;

static const struct zhi_scan *extract(const char *name, const struct blob *b)
{
    return extract_one(&scan, &cfg, &arena, name, b);
}

static int setup_stage(void **state)
{
    zh_config_defaults(&cfg);
    zhi_arena_init(&arena, 64 * 1024);
    return 0;
}

static int teardown_stage(void **state)
{
    zhi_arena_free(&arena);
    zh_config_free(&cfg);
    return 0;
}

/* Every readable image yields its files under their paths, long names
 * included, with their bytes (the program is 1536 bytes in every image). */
static void test_members(void **state)
{
    static const struct {
        const char *file, *type, *program, *other;
    } rows[] = {
        {"floppy.img", "fat", "Docs/Shipping Documents Invoice.exe", "readme.txt"},
        {"fat16.img", "fat", "Rechnungen 2023/M\xc3\xa4rz/Rechnung M\xc3\xa4rz.exe",
         "Lies mich.txt"},
        {"fat32.img", "fat", "Long Folder Name/payment_details.exe", NULL},
        {"mbr.img", "fat", "partition-1/Rechnungen 2023/M\xc3\xa4rz/Rechnung M\xc3\xa4rz.exe",
         "partition-1/Lies mich.txt"},
        {"gpt.img", "fat", "partition-1/Rechnungen 2023/M\xc3\xa4rz/Rechnung M\xc3\xa4rz.exe",
         NULL},
        {"fixed.vhd", "vhd", "partition-1/Rechnungen 2023/M\xc3\xa4rz/Rechnung M\xc3\xa4rz.exe",
         NULL},
        {"dynamic.vhd", "vhd", "partition-1/Rechnungen 2023/M\xc3\xa4rz/Rechnung M\xc3\xa4rz.exe",
         "partition-1/Lies mich.txt"},
        {"software.iso", "iso", "setup/setup.exe", "Release Notes.pdf"},
        {"bridge.iso", "iso", "setup/setup.exe", "Release Notes.pdf"},
        {"invoice.cab", "cab", "Invoice.exe", "readme.txt"},
        {"setup.ex_", "szdd", "setup.exe", NULL},
        {"invoice.kwj", "kwaj", "INVOICE.EXE", NULL},
        {"invoice.lzh", "lha", "invoice.exe", NULL},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        struct blob b = image(rows[i].file);
        const struct zhi_scan *s = extract(rows[i].file, &b);
        char path[256];
        snprintf(path, sizeof path, "2/%s/%s", rows[i].file, rows[i].program);
        const struct zhi_object *p = object(s, path);
        if (strcmp(zhi_type_name(zhi_sniff(b.p, b.len)), rows[i].type) || !p ||
            p->sniffed != ZHI_T_PE || p->len != 1536 || p->flags || s->n_hits) {
            dump_objects(s);
            fail_msg("%s: want %s (pe, 1536 bytes) in a %s and no hit", rows[i].file, path,
                     rows[i].type);
        }
        snprintf(path, sizeof path, "2/%s/%s", rows[i].file, rows[i].other ? rows[i].other : "");
        if (rows[i].other && !object(s, path)) {
            dump_objects(s);
            fail_msg("%s: no %s", rows[i].file, path);
        }
        free(b.p);
    }
}

/* What cannot be read, or lies, is a hit that keeps the message from CLEAN;
 * what could be read is kept. */
static void test_damaged(void **state)
{
    static const struct {
        const char *file, *rule, *detail, *kept;
    } rows[] = {
        {"loop.img", "malformed_image", "loops back on itself", "big.exe"},
        {"cut.img", "malformed_image", "runs past the end of the image", "readme.txt"},
        {"ancestor.img", "malformed_image", "holds its own ancestor", NULL},
        {"deep.img", "limits_exceeded", "image_max_dir_depth", "top.txt"},
        {"ntfs.img", "unsupported_format", "holds no FAT volume", NULL},
        {"differencing.vhd", "unsupported_format", "differencing VHD", NULL},
        {"sparse.vhd", "limits_exceeded", "archive_max_member_bytes", NULL},
        {"udf-only.iso", "unsupported_format", "UDF", NULL},
        {"cut.cab", "malformed_archive", "cabinet could not be opened", NULL},
        {"invoice.arj", "unsupported_format", "ARJ", NULL},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        struct blob b = image(rows[i].file);
        const struct zhi_scan *s = extract(rows[i].file, &b);
        const struct zhi_hit *h = stage_hit(s, rows[i].rule);
        char path[256];
        snprintf(path, sizeof path, "2/%s/%s", rows[i].file, rows[i].kept ? rows[i].kept : "");
        if (!h || !(h->flags & ZH_HIT_UNSCANNABLE) || !strstr(h->detail, rows[i].detail) ||
            (rows[i].kept && !object(s, path))) {
            dump_objects(s);
            fail_msg("%s: want an unscannable %s hit saying \"%s\"%s%s", rows[i].file, rows[i].rule,
                     rows[i].detail, rows[i].kept ? " and " : "", rows[i].kept ? path : "");
        }
        free(b.p);
    }
}

/* The bounds are settings: directory entries, member bytes of a decoder
 * that repeats its window (SZDD), decoder memory (MSZIP fits in 1 MiB; an
 * LZX folder with a 2 MiB window does not). */
static void test_bounds(void **state)
{
    static const struct {
        const char *file, *setting, *value, *named;
    } rows[] = {
        {"fat16.img", "image_max_dir_entries", "16", "image_max_dir_entries"},
        {"bomb.ex_", "archive_max_member_bytes", "64K", "archive_max_member_bytes"},
        {"invoice.cab", "decoder_max_memory", "1M", NULL},
        {"lzx21.cab", "decoder_max_memory", "1M", "decoder_max_memory"},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        zh_config_free(&cfg);
        zh_config_defaults(&cfg);
        assert_int_equal(zh_config_set(&cfg, rows[i].setting, rows[i].value, NULL, 0), ZH_ERR_OK);
        struct blob b = image(rows[i].file);
        const struct zhi_scan *s = extract(rows[i].file, &b);
        const struct zhi_hit *h = stage_hit(s, "limits_exceeded");
        if (rows[i].named ? !h || !strstr(h->detail, rows[i].named) : h != NULL) {
            dump_objects(s);
            fail_msg("%s with %s = %s: %s", rows[i].file, rows[i].setting, rows[i].value,
                     rows[i].named ? "no limits_exceeded hit naming it" : "a limit was hit");
        }
        for (size_t k = 1; k < s->n_objects; k++)
            assert_true(s->objects[k].len <= (uint64_t)cfg.archive_max_member_bytes);
        free(b.p);
    }
    zh_config_free(&cfg);
    zh_config_defaults(&cfg);
}

/* ClamAV's compiled help file: its pages and the program hidden among them. */
static void test_chm(void **state)
{
    struct blob b = slurp("/usr/share/clamav-testfiles/clam.chm");
    const struct zhi_scan *s = extract("clam.chm", &b);
    const struct zhi_object *o = object(s, "2/clam.chm/clam.exe.txt");
    if (!o || o->sniffed != ZHI_T_PE || s->n_hits) {
        dump_objects(s);
        fail_msg("clam.chm: want clam.exe.txt (pe) and no hit");
    }
    assert_non_null(object(s, "2/clam.chm/clam.chm.hhc"));
    free(b.p);
}

/* ---- verdicts, through the public API ------------------------------------------ */

/* A message with one attachment: from an outside partner, or from a
 * colleague through the organisation's own relay. */
static const struct zh_result *scan_attachment(const char *name, const struct blob *b,
                                               bool internal)
{
    static const char *const rcpt[] = {"alice@corp.example.com"};
    const struct zh_scan_envelope outside = {.client_ip = "198.51.100.40",
                                             .helo = "mail.fabrikam.example",
                                             .mail_from = "carol@fabrikam.example",
                                             .rcpt_to = rcpt,
                                             .n_rcpt = 1,
                                             .received_at = 1675000000000},
                                  inside = {.client_ip = "10.1.2.3",
                                            .helo = "relay.corp.example.com",
                                            .mail_from = "it-deploy@corp.example.com",
                                            .rcpt_to = rcpt,
                                            .n_rcpt = 1,
                                            .received_at = 1675000000000};
    const char *from = internal ? "IT Service Desk <it-deploy@corp.example.com>"
                                : "Carol <carol@fabrikam.example>";
    const char *domain = internal ? "relay.corp.example.com" : "mail.fabrikam.example";
    char *enc = b64(b->p, b->len, true);
    size_t cap = strlen(enc) + 4096;
    char *m = malloc(cap);
    snprintf(m, cap,
             "From: %s\r\nTo: alice@corp.example.com\r\nSubject: documents\r\n"
             "Date: Sun, 29 Jan 2023 10:00:00 +0000\r\n"
             "Message-ID: <20230129100000.77@%s>\r\nMIME-Version: 1.0\r\n"
             "Content-Type: multipart/mixed; boundary=\"zz\"\r\n\r\n--zz\r\n"
             "Content-Type: text/plain; charset=us-ascii\r\n\r\nHello, the files are attached."
             "\r\n--zz\r\nContent-Type: application/octet-stream\r\n"
             "Content-Transfer-Encoding: base64\r\n"
             "Content-Disposition: attachment; filename=\"%s\"\r\n\r\n%s\r\n--zz--\r\n",
             from, domain, name, enc);
    const struct zh_result *r;
    zh_scanner_scan(scanner, (const uint8_t *)m, strlen(m), internal ? &inside : &outside, 0, &r);
    assert_int_equal(r->status, 0);
    free(m);
    free(enc);
    return r;
}

static bool has_hit(const struct zh_result *r, const char *rule)
{
    for (size_t i = 0; i < r->n_hits; i++)
        if (!strcmp(r->hits[i].rule, rule))
            return true;
    return false;
}

/* Programs in every new container are flagged by the detectors that judge
 * archives (archive_executable); disk images of documents, and IT's own
 * software delivery, are not MALICIOUS. */
static void test_verdicts(void **state)
{
    static const struct {
        const char *file, *name;
        bool internal;
        const char *rule; /* must fire, or NULL: nothing of archive_executable */
        int min, max;
    } rows[] = {
        {"floppy.img", "Shipping_Documents.img", false, "program_in_archive", ZH_VERDICT_SUSPICIOUS,
         ZH_VERDICT_MALICIOUS},
        {"fixed.vhd", "invoice.vhd", false, "program_in_archive", ZH_VERDICT_SUSPICIOUS,
         ZH_VERDICT_MALICIOUS},
        {"gpt.img", "Rechnung.img", false, "program_in_archive", ZH_VERDICT_SUSPICIOUS,
         ZH_VERDICT_MALICIOUS},
        {"software.iso", "Invoice.iso", false, "program_in_archive", ZH_VERDICT_SUSPICIOUS,
         ZH_VERDICT_MALICIOUS},
        {"invoice.cab", "invoice.cab", false, "program_in_archive", ZH_VERDICT_SUSPICIOUS,
         ZH_VERDICT_MALICIOUS},
        {"setup.ex_", "setup.ex_", false, "program_in_archive", ZH_VERDICT_SUSPICIOUS,
         ZH_VERDICT_MALICIOUS},
        {"invoice.kwj", "invoice.kwj", false, "program_in_archive", ZH_VERDICT_SUSPICIOUS,
         ZH_VERDICT_MALICIOUS},
        /* not read: never CLEAN */
        {"ntfs.img", "backup.img", false, "unsupported_format", ZH_VERDICT_SUSPICIOUS,
         ZH_VERDICT_SUSPICIOUS},
        {"udf-only.iso", "disc.iso", false, "unsupported_format", ZH_VERDICT_SUSPICIOUS,
         ZH_VERDICT_SUSPICIOUS},
        /* near misses */
        {"statements.img", "Statements.img", false, NULL, ZH_VERDICT_CLEAN, ZH_VERDICT_CLEAN},
        {"statement.cab", "Statement.cab", false, NULL, ZH_VERDICT_CLEAN, ZH_VERDICT_CLEAN},
        {"docs.iso", "Documents.iso", false, NULL, ZH_VERDICT_CLEAN, ZH_VERDICT_CLEAN},
        {"software.iso", "Software_2023.iso", true, "program_in_archive", ZH_VERDICT_SUSPICIOUS,
         ZH_VERDICT_SUSPICIOUS},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        struct blob b = image(rows[i].file);
        const struct zh_result *r = scan_attachment(rows[i].name, &b, rows[i].internal);
        bool fired = rows[i].rule
                         ? has_hit(r, rows[i].rule)
                         : has_hit(r, "program_in_archive") || has_hit(r, "executable_in_archive");
        if (fired != (rows[i].rule != NULL) || (int)r->verdict < rows[i].min ||
            (int)r->verdict > rows[i].max) {
            fprintf(stderr, "   verdict %d score %d\n", r->verdict, r->score);
            for (size_t k = 0; k < r->n_hits; k++)
                fprintf(stderr, "   %s/%s %s (%d): %s\n", r->hits[k].detector, r->hits[k].rule,
                        r->hits[k].object, r->hits[k].score, r->hits[k].detail);
            fail_msg("%s as %s: %s %s, verdict %d (want %d..%d)", rows[i].file, rows[i].name,
                     rows[i].rule ? rows[i].rule : "archive_executable", fired ? "fired" : "silent",
                     r->verdict, rows[i].min, rows[i].max);
        }
        free(b.p);
    }
}

int main(void)
{
    const struct CMUnitTest stage[] = {
        cmocka_unit_test_setup_teardown(test_members, setup_stage, teardown_stage),
        cmocka_unit_test_setup_teardown(test_damaged, setup_stage, teardown_stage),
        cmocka_unit_test_setup_teardown(test_bounds, setup_stage, teardown_stage),
        cmocka_unit_test_setup_teardown(test_chm, setup_stage, teardown_stage),
    };
    const struct CMUnitTest verdicts[] = {
        cmocka_unit_test_setup_teardown(test_verdicts, setup_engine, teardown_engine),
    };
    if (make_images(NULL) != 0)
        return 1;
    int rc = cmocka_run_group_tests_name("extractors", stage, NULL, NULL);
    rc |= cmocka_run_group_tests_name("verdicts", verdicts, NULL, NULL);
    remove_images(NULL);
    return rc;
}
