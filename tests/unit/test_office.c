/* Macro documents on real bytes (fixtures written per MS-CFB, MS-OVBA and
 * MS-OLEDS by tests/fixtures/office/make_office.py): what the OLE2 and RTF
 * extractors make of each file (streams, VBA source, Package payloads,
 * damaged hits, bounds), and the verdict a whole message gets from the default
 * rules — with the near misses (documents without macros, a workbook with
 * benign macros, an installer) beside every row that must fire. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <glib.h>

#include "zerohour/verdict.h"
#include "zhi.h"

#define OFFICE ZH_SOURCE_DIR "/tests/fixtures/office/"

static GBytes *load(const char *name)
{
    gchar *p = NULL;
    gsize n = 0;
    char *path = g_strconcat(OFFICE, name, NULL);
    if (!g_file_get_contents(path, &p, &n, NULL))
        fail_msg("cannot read %s", path);
    g_free(path);
    return g_bytes_new_take(p, n);
}

/* ---- the extract stage ------------------------------------------------------- */
struct stage {
    struct zh_config cfg;
    struct zhi_arena arena;
    struct zhi_scan scan;
};

static int stage_up(void **state)
{
    struct stage *st = calloc(1, sizeof *st);
    zh_config_defaults(&st->cfg);
    zhi_arena_init(&st->arena, 64 * 1024);
    *state = st;
    return 0;
}

static int stage_down(void **state)
{
    struct stage *st = *state;
    zhi_arena_free(&st->arena);
    zh_config_free(&st->cfg);
    free(st);
    return 0;
}

/* The objects and hits the extract stage makes of one attachment `name`
 * holding len bytes at p (which must outlive the inspection). */
static struct zhi_scan *unpack(struct stage *st, const char *name, const void *p, size_t len)
{
    zhi_arena_reset(&st->arena);
    memset(&st->scan, 0, sizeof st->scan);
    struct zhi_scan *s = &st->scan;
    s->cfg = &st->cfg;
    s->arena = &st->arena;
    struct zhi_object o = {.path = zhi_arena_printf(s->arena, "2/%s", name),
                           .filename = name,
                           .ext = zhi_extension_of(s->arena, name),
                           .declared_type = "application/octet-stream",
                           .sniffed = zhi_sniff(p, len),
                           .kind = ZHI_K_ATTACHMENT,
                           .data = p,
                           .len = len,
                           .depth = 1,
                           .parent = -1};
    assert_true(zhi_scan_add_object(s, &o) >= 0);
    assert_int_equal(zhi_extract(s), ZH_ERR_OK);
    return s;
}

static const struct zhi_object *obj(const struct zhi_scan *s, const char *path)
{
    for (size_t i = 0; i < s->n_objects; i++)
        if (!strcmp(s->objects[i].path, path))
            return &s->objects[i];
    return NULL;
}

static const struct zhi_hit *rule_hit(const struct zhi_scan *s, const char *rule)
{
    for (size_t i = 0; i < s->n_hits; i++)
        if (!strcmp(s->hits[i].rule, rule))
            return &s->hits[i];
    return NULL;
}

static void show(const struct zhi_scan *s)
{
    for (size_t i = 0; i < s->n_objects; i++)
        fprintf(stderr, "   %s (%s, %zu bytes)%s%s\n", s->objects[i].path,
                zhi_type_name(s->objects[i].sniffed), s->objects[i].len,
                zhi_object_attr(&s->objects[i], "vba.module") ? " vba " : "",
                zhi_object_attr(&s->objects[i], "vba.module")
                    ? zhi_object_attr(&s->objects[i], "vba.module")
                    : "");
    for (size_t i = 0; i < s->n_hits; i++)
        fprintf(stderr, "   hit %s: %s\n", s->hits[i].rule, s->hits[i].detail);
}

/* Excel 4.0 macro sheets: the notes the workbook stream gives. */
static void test_xlm_notes(void **state)
{
    struct stage *st = *state;
    const char *const files[] = {"invoice-xlm.xls", "xlm-sheet-no-autorun.xls",
                                 "totals-benign-macro.xls"};
    const char *const sheet[] = {"Macro1 (very hidden)", "Macro1 (very hidden)", NULL};
    const char *const auto_open[] = {"Auto_Open", NULL, NULL};
    for (size_t i = 0; i < 3; i++) {
        GBytes *b = load(files[i]);
        gsize len;
        const void *p = g_bytes_get_data(b, &len);
        struct zhi_scan *s = unpack(st, files[i], p, len);
        const struct zhi_object *o = &s->objects[0];
        const char *got[] = {zhi_object_attr(o, "xls.macro_sheet"),
                             zhi_object_attr(o, "xls.auto_open")};
        const char *want[] = {sheet[i], auto_open[i]};
        for (size_t k = 0; k < 2; k++)
            if ((got[k] == NULL) != (want[k] == NULL) || (got[k] && strcmp(got[k], want[k])))
                fail_msg("%s: note %zu is \"%s\", want \"%s\"", files[i], k,
                         got[k] ? got[k] : "(none)", want[k] ? want[k] : "(none)");
        g_bytes_unref(b);
    }
}

/* Each file's VBA modules (path, module name, a line of its source), its
 * other expected members, and no damage. */
static void test_ole_extract(void **state)
{
    struct stage *st = *state;
    static const struct {
        const char *file, *member, *module, *line;
    } rows[] = {
        {"invoice-autoopen.doc", "2/invoice-autoopen.doc/Macros/VBA/Module1.bas", "Module1",
         "Shell c, vbHide\r\nEnd Sub\r\n"},
        {"invoice-autoopen.doc", "2/invoice-autoopen.doc/Macros/VBA/ThisDocument.cls",
         "ThisDocument", "Attribute VB_PredeclaredId = True"},
        {"invoice-autoopen.doc", "2/invoice-autoopen.doc/WordDocument", NULL, NULL},
        {"invoice-autoopen.doc", "2/invoice-autoopen.doc/%05SummaryInformation", NULL, NULL},
        {"invoice-autoopen.docm", "2/invoice-autoopen.docm/word/vbaProject.bin/VBA/Module1.bas",
         "Module1", "Sub AutoOpen()"},
        {"invoice-workbook-open.xls",
         "2/invoice-workbook-open.xls/_VBA_PROJECT_CUR/VBA/ThisWorkbook.cls", "ThisWorkbook",
         "CreateObject(\"WScript.Shell\")"},
        {"totals-benign-macro.xlsm",
         "2/totals-benign-macro.xlsm/xl/vbaProject.bin/VBA/Formatting.bas", "Formatting",
         "c.NumberFormat"},
        {"invoice-objdata.rtf", "2/invoice-objdata.rtf/object-1.doc/Macros/VBA/Module1.bas",
         "Module1", "powershell -nop -w hidden -enc"},
        {"package-exe.doc", "2/package-exe.doc/ObjectPool/_1714996351/invoice.exe", NULL, NULL},
        {"package-exe.rtf", "2/package-exe.rtf/object-1/invoice.exe", NULL, NULL},
        {"setup.msi", "2/setup.msi/Binary.logo", NULL, NULL},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        GBytes *b = load(rows[i].file);
        gsize len;
        const void *p = g_bytes_get_data(b, &len);
        struct zhi_scan *s = unpack(st, rows[i].file, p, len);
        const struct zhi_object *o = obj(s, rows[i].member);
        if (!o || s->n_hits) {
            show(s);
            fail_msg("%s: %s %s", rows[i].file, rows[i].member,
                     o ? "present, but the file was damaged" : "missing");
        }
        const char *module = zhi_object_attr(o, "vba.module");
        if ((module == NULL) != (rows[i].module == NULL) ||
            (module && strcmp(module, rows[i].module)))
            fail_msg("%s: %s noted vba.module \"%s\"", rows[i].file, rows[i].member,
                     module ? module : "(none)");
        if (rows[i].line && (o->len != strlen((const char *)o->data) ||
                             !strstr((const char *)o->data, rows[i].line)))
            fail_msg("%s: the source of %s lacks \"%s\":\n%s", rows[i].file, rows[i].member,
                     rows[i].line, (const char *)o->data);
        g_bytes_unref(b);
    }
}

/* The Package object's payload is the PE it carries, under its label; the
 * files without macros have no VBA source and no note. */
static void test_ole_members(void **state)
{
    struct stage *st = *state;
    GBytes *b = load("package-exe.doc");
    gsize len;
    const void *p = g_bytes_get_data(b, &len);
    struct zhi_scan *s = unpack(st, "package-exe.doc", p, len);
    const struct zhi_object *exe = obj(s, "2/package-exe.doc/ObjectPool/_1714996351/invoice.exe");
    assert_non_null(exe);
    assert_int_equal(exe->sniffed, ZHI_T_PE);
    assert_string_equal(exe->ext, "exe");
    assert_string_equal(zhi_object_attr(exe, "ole.package_path"), "C:\\Users\\Public\\invoice.exe");
    g_bytes_unref(b);
    const char *const plain[] = {"letter.doc", "setup.msi", "report.docx", "budget.xlsx"};
    for (size_t i = 0; i < sizeof plain / sizeof plain[0]; i++) {
        b = load(plain[i]);
        p = g_bytes_get_data(b, &len);
        s = unpack(st, plain[i], p, len);
        for (size_t k = 0; k < s->n_objects; k++)
            if (zhi_object_attr(&s->objects[k], "vba.module") ||
                zhi_object_attr(&s->objects[k], "ole.vba_modules")) {
                show(s);
                fail_msg("%s: VBA found where there is none", plain[i]);
            }
        assert_int_equal(s->n_hits, 0);
        assert_true(s->n_objects > 1); /* the streams or the zip's members */
        g_bytes_unref(b);
    }
}

/* A password-protected OOXML document is an OLE2 file whose package is
 * encrypted: the file is marked as holding what could not be examined, as an
 * encrypted zip is, and archive_executable weighs it. */
static void test_ole_encrypted(void **state)
{
    struct stage *st = *state;
    GBytes *b = load("payslip-encrypted.xlsx");
    gsize len;
    const void *p = g_bytes_get_data(b, &len);
    struct zhi_scan *s = unpack(st, "payslip.xlsx", p, len);
    assert_true(s->objects[0].flags & ZHI_OBJ_HAS_ENCRYPTED);
    assert_non_null(obj(s, "2/payslip.xlsx/EncryptedPackage"));
    assert_int_equal(s->n_hits, 0);
    g_bytes_unref(b);
}

/* A file cut short, and every byte of a real one's header and directory
 * overwritten in turn: a damaged, unscannable hit or a clean read, never a
 * crash (ASan watches). */
static void test_ole_damaged(void **state)
{
    struct stage *st = *state;
    GBytes *b = load("cut.doc");
    gsize len;
    const void *p = g_bytes_get_data(b, &len);
    struct zhi_scan *s = unpack(st, "Invoice.doc", p, len);
    const struct zhi_hit *h = rule_hit(s, "malformed_ole");
    if (!h) {
        show(s);
        fail_msg("a truncated OLE2 file is not reported");
    }
    assert_true(h->flags & ZH_HIT_UNSCANNABLE);
    g_bytes_unref(b);

    b = load("invoice-autoopen.doc");
    p = g_bytes_get_data(b, &len);
    uint8_t *copy = g_memdup2(p, len);
    for (size_t off = 0; off < len; off += off < 0x600 ? 1 : 7) {
        uint8_t save = copy[off];
        copy[off] ^= 0xff;
        unpack(st, "fuzzed.doc", copy, len);
        copy[off] = save;
    }
    g_free(copy);
    g_bytes_unref(b);
}

/* The bounds: a directory larger than ole_max_entries is not opened, storages
 * deeper than ole_max_depth are not walked, and a module's source larger than
 * the member bound is cut; each is a limits_exceeded hit. */
static void test_ole_limits(void **state)
{
    struct stage *st = *state;
    GBytes *b = load("package-exe.doc");
    gsize len;
    const void *p = g_bytes_get_data(b, &len);
    assert_int_equal(zh_config_set(&st->cfg, "ole_max_entries", "4", NULL, 0), ZH_ERR_OK);
    struct zhi_scan *s = unpack(st, "package-exe.doc", p, len);
    const struct zhi_hit *h = rule_hit(s, "limits_exceeded");
    if (!h || !strstr(h->detail, "ole_max_entries")) {
        show(s);
        fail_msg("a large directory is not a limits_exceeded hit");
    }
    assert_null(obj(s, "2/package-exe.doc/WordDocument"));
    assert_int_equal(zh_config_set(&st->cfg, "ole_max_entries", "4096", NULL, 0), ZH_ERR_OK);

    assert_int_equal(zh_config_set(&st->cfg, "ole_max_depth", "1", NULL, 0), ZH_ERR_OK);
    s = unpack(st, "package-exe.doc", p, len);
    h = rule_hit(s, "limits_exceeded");
    assert_non_null(h);
    assert_non_null(strstr(h->detail, "ole_max_depth"));
    assert_non_null(obj(s, "2/package-exe.doc/WordDocument"));
    assert_null(obj(s, "2/package-exe.doc/ObjectPool/_1714996351/invoice.exe"));
    assert_int_equal(zh_config_set(&st->cfg, "ole_max_depth", "10", NULL, 0), ZH_ERR_OK);
    g_bytes_unref(b);
}

/* A compound file whose directory is one chain of n empty streams, each the
 * right sibling of the one before: the shape on which libgsf's recursive
 * directory reader ran out of stack (100,000 entries). */
static uint8_t *chain_file(uint32_t n, size_t *len)
{
    uint32_t nds = (n + 1 + 3) / 4, nfat = 1;
    while ((nfat + nds) > nfat * 128)
        nfat++;
    *len = 512 + (size_t)(nfat + nds) * 512;
    uint8_t *f = calloc(1, *len);
    static const uint8_t sig[8] = {0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1};
    memcpy(f, sig, 8);
    uint32_t words[] = {0, nfat, nfat, 0, 4096, 0xfffffffe, 0, 0xfffffffe, 0};
    f[24] = 0x3e, f[26] = 3, f[28] = 0xfe, f[29] = 0xff, f[30] = 9, f[32] = 6;
    memcpy(f + 40, words, sizeof words);
    for (uint32_t i = 0; i < 109; i++) {
        uint32_t v = i < nfat ? i : 0xffffffffu;
        memcpy(f + 76 + 4 * i, &v, 4);
    }
    uint32_t *fat = (uint32_t *)(f + 512);
    for (uint32_t i = 0; i < nfat * 128; i++)
        fat[i] = i < nfat              ? 0xfffffffdu
                 : i < nfat + nds - 1  ? i + 1
                 : i == nfat + nds - 1 ? 0xfffffffeu
                                       : 0xffffffffu;
    for (uint32_t e = 0; e <= n; e++) {
        uint8_t *d = f + 512 + (size_t)nfat * 512 + (size_t)e * 128;
        char name[16];
        int l =
            e ? snprintf(name, sizeof name, "S%u", e) : snprintf(name, sizeof name, "Root Entry");
        for (int k = 0; k < l; k++)
            d[2 * k] = (uint8_t)name[k];
        d[64] = (uint8_t)(2 * l + 2);
        d[66] = e ? 2 : 5;
        d[67] = 1;
        uint32_t left = 0xffffffffu, right = e && e < n ? e + 1 : 0xffffffffu,
                 child = e ? 0xffffffffu : 1, start = 0xfffffffeu;
        memcpy(d + 68, &left, 4);
        memcpy(d + 72, &right, 4);
        memcpy(d + 76, &child, 4);
        memcpy(d + 116, &start, 4);
    }
    return f;
}

/* A directory beyond ole_max_entries is refused before libgsf reads it; one
 * within it is read to its end (here the message's member bound stops it). */
static void test_ole_long_directory(void **state)
{
    struct stage *st = *state;
    size_t len;
    uint8_t *f = chain_file(50000, &len);
    struct zhi_scan *s = unpack(st, "chain.doc", f, len);
    const struct zhi_hit *h = rule_hit(s, "limits_exceeded");
    if (!h || !strstr(h->detail, "ole_max_entries")) {
        show(s);
        fail_msg("a 50,000-entry directory is not refused");
    }
    assert_int_equal(s->n_objects, 1);
    free(f);
    assert_int_equal(zh_config_set(&st->cfg, "ole_max_entries", "16384", NULL, 0), ZH_ERR_OK);
    f = chain_file(16000, &len);
    s = unpack(st, "chain.doc", f, len);
    h = rule_hit(s, "limits_exceeded");
    assert_non_null(h);
    assert_non_null(strstr(h->detail, "archive_max_members"));
    assert_non_null(obj(s, "2/chain.doc/S1"));
    free(f);
    assert_int_equal(zh_config_set(&st->cfg, "ole_max_entries", "4096", NULL, 0), ZH_ERR_OK);
}

/* RTF: the \objdata of the fixture hides a skipped group and spaces in its
 * hex; a document whose \objdata holds no object is a damaged hit. */
static void test_rtf(void **state)
{
    struct stage *st = *state;
    GBytes *b = load("invoice-objdata.rtf");
    gsize len;
    const void *p = g_bytes_get_data(b, &len);
    struct zhi_scan *s = unpack(st, "invoice.rtf", p, len);
    const struct zhi_object *o = obj(s, "2/invoice.rtf/object-1.doc");
    if (!o) {
        show(s);
        fail_msg("the embedded document is not extracted");
    }
    assert_int_equal(o->sniffed, ZHI_T_OLE2);
    assert_string_equal(zhi_object_attr(o, "rtf.objclass"), "Word.Document.8");
    g_bytes_unref(b);
    static const char junk[] = "{\\rtf1{\\object\\objemb{\\*\\objdata 0105000002000000zz}}}";
    s = unpack(st, "junk.rtf", junk, sizeof junk - 1);
    assert_non_null(rule_hit(s, "malformed_rtf_object"));
    static const char none[] = "{\\rtf1\\ansi Nothing embedded \\objdatafoo here.}";
    s = unpack(st, "plain.rtf", none, sizeof none - 1);
    assert_int_equal(s->n_hits, 0);
    assert_int_equal(s->n_objects, 1);
}

/* ---- verdicts through the public API ------------------------------------------ */
static zh_engine *engine;
static zh_scanner *scanner;

static const char *const RCPT[] = {"dave@corp.example.com"};
static const struct zh_scan_envelope ENV = {.client_ip = "203.0.113.77",
                                            .helo = "smtp.contoso-partners.example",
                                            .mail_from = "erin@contoso-partners.example",
                                            .rcpt_to = RCPT,
                                            .n_rcpt = 1,
                                            .received_at = 1700000000000};

/* A plain message from a partner with one attachment (and the text `body`). */
static const struct zh_result *mail(const char *name, const void *p, size_t len, const char *body)
{
    gchar *enc = g_base64_encode(p, len);
    gchar *m = g_strdup_printf(
        "From: Erin <erin@contoso-partners.example>\r\nTo: dave@corp.example.com\r\n"
        "Subject: statement\r\nDate: Tue, 14 Nov 2023 09:30:00 +0000\r\n"
        "Message-ID: <1700000000.5@smtp.contoso-partners.example>\r\nMIME-Version: 1.0\r\n"
        "Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n--b1\r\n"
        "Content-Type: text/plain; charset=us-ascii\r\n\r\n%s\r\n--b1\r\n"
        "Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n"
        "Content-Disposition: attachment; filename=\"%s\"\r\n\r\n%s\r\n--b1--\r\n",
        body, name, enc);
    const struct zh_result *r;
    zh_scanner_scan(scanner, (const uint8_t *)m, strlen(m), &ENV, 0, &r);
    assert_int_equal(r->status, 0);
    g_free(m);
    g_free(enc);
    return r;
}

static bool fired(const struct zh_result *r, const char *rule)
{
    for (size_t i = 0; i < r->n_hits; i++)
        if (!strcmp(r->hits[i].detector, "macro") && (!rule || !strcmp(r->hits[i].rule, rule)))
            return true;
    return false;
}

/* The password zip of the Emotet and Qakbot waves: a ZipCrypto archive
 * (written by zip -P when it is installed) of one file. NULL without zip. */
static GBytes *password_zip(const char *name, GBytes *file)
{
    gchar *dir = g_dir_make_tmp("zh-office-XXXXXX", NULL);
    if (!dir)
        return NULL;
    gchar *in = g_build_filename(dir, name, NULL), *out = g_build_filename(dir, "a.zip", NULL);
    gsize len;
    const void *p = g_bytes_get_data(file, &len);
    GBytes *res = NULL;
    gchar *cmd = g_strdup_printf("cd '%s' && zip -q -P infected2024 a.zip '%s'", dir, name);
    gchar *zp = NULL;
    gsize zlen = 0;
    if (g_file_set_contents(in, p, (gssize)len, NULL) && system(cmd) == 0 &&
        g_file_get_contents(out, &zp, &zlen, NULL))
        res = g_bytes_new_take(zp, zlen);
    remove(in);
    remove(out);
    remove(dir);
    g_free(cmd);
    g_free(in);
    g_free(out);
    g_free(dir);
    return res;
}

static void test_macro_verdicts(void **state)
{
    static const struct {
        const char *file, *rule; /* rule: must fire; NULL: no macro rule but macro_document */
        int min, max;
    } rows[] = {
        {"invoice-autoopen.doc", "macro_autorun_risky", ZH_VERDICT_MALICIOUS, ZH_VERDICT_MALICIOUS},
        {"invoice-autoopen.docm", "macro_autorun_risky", ZH_VERDICT_MALICIOUS,
         ZH_VERDICT_MALICIOUS},
        {"invoice-workbook-open.xls", "macro_autorun_risky", ZH_VERDICT_MALICIOUS,
         ZH_VERDICT_MALICIOUS},
        {"invoice-objdata.rtf", "macro_autorun_risky", ZH_VERDICT_MALICIOUS, ZH_VERDICT_MALICIOUS},
        /* a program in a Package object */
        {"package-exe.doc", "document_embeds_program", ZH_VERDICT_MALICIOUS, ZH_VERDICT_MALICIOUS},
        {"package-exe.rtf", "document_embeds_program", ZH_VERDICT_MALICIOUS, ZH_VERDICT_MALICIOUS},
        /* Excel 4.0: a very hidden macro sheet run by Auto_Open; one without it */
        {"invoice-xlm.xls", "xlm_auto_open", ZH_VERDICT_MALICIOUS, ZH_VERDICT_MALICIOUS},
        {"xlm-sheet-no-autorun.xls", "xlm_macro_sheet", ZH_VERDICT_CLEAN, ZH_VERDICT_CLEAN},
        /* near misses: no macros, or macros that only format */
        {"report.docx", NULL, ZH_VERDICT_CLEAN, ZH_VERDICT_CLEAN},
        {"budget.xlsx", NULL, ZH_VERDICT_CLEAN, ZH_VERDICT_CLEAN},
        {"letter.doc", NULL, ZH_VERDICT_CLEAN, ZH_VERDICT_CLEAN},
        {"setup.msi", NULL, ZH_VERDICT_CLEAN,
         ZH_VERDICT_MALICIOUS}, /* .msi is an executable name */
        {"payslip-encrypted.xlsx", NULL, ZH_VERDICT_CLEAN, ZH_VERDICT_SUSPICIOUS},
        {"totals-benign-macro.xls", "macro_document", ZH_VERDICT_CLEAN, ZH_VERDICT_CLEAN},
        {"totals-benign-macro.xlsm", "macro_document", ZH_VERDICT_CLEAN, ZH_VERDICT_CLEAN},
    };
    static const char text[] = "Hello Dave, the statement for October is attached.";
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        GBytes *b = load(rows[i].file);
        gsize len;
        const void *p = g_bytes_get_data(b, &len);
        const struct zh_result *r = mail(rows[i].file, p, len, text);
        bool ok = rows[i].rule ? fired(r, rows[i].rule)
                               : !fired(r, "macro_autorun_risky") && !fired(r, "macro_risky");
        if (!rows[i].rule && !strstr(rows[i].file, "macro"))
            ok = ok && !fired(r, NULL);
        if (strstr(rows[i].file, "benign"))
            ok = ok && !fired(r, "macro_autorun_risky") && !fired(r, "macro_risky");
        if (!ok || r->verdict < rows[i].min || r->verdict > rows[i].max) {
            fprintf(stderr, "   verdict %d score %d\n", r->verdict, r->score);
            for (size_t k = 0; k < r->n_hits; k++)
                fprintf(stderr, "   %s/%s %s (%d): %s\n", r->hits[k].detector, r->hits[k].rule,
                        r->hits[k].object, r->hits[k].score, r->hits[k].detail);
            fail_msg("%s: verdict %d, want %d..%d", rows[i].file, r->verdict, rows[i].min,
                     rows[i].max);
        }
        g_bytes_unref(b);
    }
    /* A benign macro workbook in a zip whose password the message gives: the
     * Emotet delivery of 2020–2022, flagged even when the macros look tame. */
    GBytes *b = load("totals-benign-macro.xls");
    GBytes *zip = password_zip("totals.xls", b);
    if (!zip) {
        g_bytes_unref(b);
        skip(); /* zip(1) is in quickstart.sh's packages */
    }
    gsize len;
    const void *p = g_bytes_get_data(zip, &len);
    const struct zh_result *r =
        mail("totals.zip", p, len, "Hello Dave, the statement is attached. Password: infected2024");
    if (!fired(r, "macro_in_encrypted_archive") || r->verdict < ZH_VERDICT_SUSPICIOUS)
        fail_msg("a macro workbook in a password zip scores %d (verdict %d)", r->score, r->verdict);
    g_bytes_unref(zip);
    g_bytes_unref(b);
}

static int engine_up(void **state)
{
    struct zh_config cfg;
    zh_config_defaults(&cfg);
    zh_config_set(&cfg, "rules_dir", ZH_SOURCE_DIR "/rules", NULL, 0);
    zh_config_set(&cfg, "outbreak.enabled", "0", NULL, 0);
    struct zh_rules_report rep;
    zh_err rc = zh_engine_new(&cfg, &engine, &rep);
    for (size_t i = 0; i < rep.n_errors; i++)
        fprintf(stderr, "%s\n", rep.errors[i]);
    zh_rules_report_free(&rep);
    zh_config_free(&cfg);
    return rc == ZH_ERR_OK && zh_scanner_new(engine, &scanner) == ZH_ERR_OK ? 0 : -1;
}

static int engine_down(void **state)
{
    zh_scanner_free(scanner);
    zh_engine_free(engine);
    return 0;
}

/* The is_vba external: true for the decompressed modules only, not for the
 * document, its streams or the compressed module streams. The document is given
 * as a file (no message around it). */
static void test_is_vba_external(void **state)
{
    char dir[] = "/tmp/zh-office-rules-XXXXXX";
    assert_non_null(mkdtemp(dir));
    gchar *rule = g_build_filename(dir, "vba.yar", NULL);
    assert_true(g_file_set_contents(rule,
                                    "rule Vba_Source { meta: score = 5\n"
                                    "condition: is_vba }\n",
                                    -1, NULL));
    struct zh_config cfg;
    zh_config_defaults(&cfg);
    zh_config_set(&cfg, "rules_dir", dir, NULL, 0);
    zh_engine *e = NULL;
    zh_scanner *sc = NULL;
    struct zh_rules_report rep;
    assert_int_equal(zh_engine_new(&cfg, &e, &rep), ZH_ERR_OK);
    zh_rules_report_free(&rep);
    assert_int_equal(zh_scanner_new(e, &sc), ZH_ERR_OK);
    GBytes *b = load("invoice-autoopen.doc");
    gsize len;
    const void *p = g_bytes_get_data(b, &len);
    struct zh_scan_envelope named = {.filename = "Invoice.doc"};
    const struct zh_result *r;
    zh_scanner_scan(sc, p, len, &named, 0, &r);
    assert_int_equal(r->status, 0);
    size_t matches = 0;
    for (size_t i = 0; i < r->n_hits; i++) {
        if (strcmp(r->hits[i].rule, "Vba_Source"))
            continue;
        matches++;
        if (!g_str_has_suffix(r->hits[i].object, "/Macros/VBA/Module1.bas") &&
            !g_str_has_suffix(r->hits[i].object, "/Macros/VBA/ThisDocument.cls"))
            fail_msg("is_vba is true for %s", r->hits[i].object);
    }
    assert_int_equal(matches, 2); /* Module1.bas and ThisDocument.cls, nothing else */
    g_bytes_unref(b);
    zh_scanner_free(sc);
    zh_engine_free(e);
    zh_config_free(&cfg);
    remove(rule);
    remove(dir);
    g_free(rule);
}

int main(void)
{
    const struct CMUnitTest stage[] = {
        cmocka_unit_test_setup_teardown(test_ole_extract, stage_up, stage_down),
        cmocka_unit_test_setup_teardown(test_ole_members, stage_up, stage_down),
        cmocka_unit_test_setup_teardown(test_xlm_notes, stage_up, stage_down),
        cmocka_unit_test_setup_teardown(test_ole_encrypted, stage_up, stage_down),
        cmocka_unit_test_setup_teardown(test_ole_damaged, stage_up, stage_down),
        cmocka_unit_test_setup_teardown(test_ole_limits, stage_up, stage_down),
        cmocka_unit_test_setup_teardown(test_ole_long_directory, stage_up, stage_down),
        cmocka_unit_test_setup_teardown(test_rtf, stage_up, stage_down),
    };
    const struct CMUnitTest verdicts[] = {
        cmocka_unit_test(test_macro_verdicts),
    };
    const struct CMUnitTest externals[] = {
        cmocka_unit_test(test_is_vba_external),
    };
    int rc = cmocka_run_group_tests_name("office extractors", stage, NULL, NULL);
    rc |= cmocka_run_group_tests_name("macro verdicts", verdicts, engine_up, engine_down);
    return rc | cmocka_run_group_tests_name("YARA externals", externals, NULL, NULL);
}
