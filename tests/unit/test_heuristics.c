/* The behavioural detectors against the default rules/ (YARA + heuristics.ini),
 * table-driven: each row is a message, the (detector, rule) that must fire on
 * it or must not, and where it matters the verdict. Near misses that must not
 * fire stand next to every trick that must. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <archive.h>
#include <archive_entry.h>
#include <cmocka.h>

#include "zerohour/engine.h"

static zh_engine *engine;
static zh_scanner *scanner;

/* Synthetic PE: DOS header pointing at a "PE\0\0" signature; nothing runs. */
static const char PE_B64[] =
    "TVqQAAMAAAAEAAAA//8AALgAAAAAAAAAQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAACAAAAA"
    "Dh+6DgC0Cc0huAFMzSFUaGlzIHByb2dyYW0gY2Fubm90IGJlIHJ1biBpbiBET1MgbW9kZS4NDQokAAAA"
    "AAAAAFBFAABMAQMAAAAAAAAAAAAAAAAA4AAPAQsBBgAAEAAAABAAAAAAAAAAEAAAABAAAAAgAAAAAEAA";
static const char JPEG_B64[] =
    "/9j/4AAQSkZJRgABAQEASABIAAD/2wBDAAgGBgcGBQgHBwcJCQgKDBQNDAsLDBkSEw8U";

static const char *HDR =
    "From: Carol <carol@fabrikam.example>\r\nTo: alice@corp.example.com\r\n"
    "Subject: quarterly figures\r\nDate: Mon, 26 Jan 2004 10:00:00 +0000\r\n"
    "Message-ID: <20040126100000.1234@mail.fabrikam.example>\r\nMIME-Version: 1.0\r\n";

static const char *const RCPT[] = {"alice@corp.example.com"};
static const struct zh_scan_envelope ENV = {.client_ip = "198.51.100.40",
                                            .helo = "mail.fabrikam.example",
                                            .mail_from = "carol@fabrikam.example",
                                            .rcpt_to = RCPT,
                                            .n_rcpt = 1,
                                            .received_at = 1075111200000};

/* A message with one text part and one attachment. */
static char *with_attachment(const char *hdr, const char *text, const char *ctype,
                             const char *disposition_name, const char *b64)
{
    char *m = malloc(8192 + strlen(b64));
    sprintf(m,
            "%sContent-Type: multipart/mixed; boundary=\"zz\"\r\n\r\n--zz\r\n"
            "Content-Type: text/plain; charset=us-ascii\r\n\r\n%s\r\n--zz\r\n"
            "Content-Type: %s\r\nContent-Transfer-Encoding: base64\r\n"
            "Content-Disposition: attachment; %s\r\n\r\n%s\r\n--zz--\r\n",
            hdr, text, ctype, disposition_name, b64);
    return m;
}

/* A text/plain message with HDR's headers (malloc'd). */
static char *plain(const char *text)
{
    char *m = malloc(strlen(HDR) + strlen(text) + 8);
    sprintf(m, "%s\r\n%s\r\n", HDR, text);
    return m;
}

static const struct zh_result *scan_env(const char *msg, const struct zh_scan_envelope *env)
{
    const struct zh_result *r;
    zh_scanner_scan(scanner, (const uint8_t *)msg, strlen(msg), env, 0, &r);
    assert_int_equal(r->status, 0);
    return r;
}

static const struct zh_result_hit *find(const struct zh_result *r, const char *det,
                                        const char *rule)
{
    for (size_t i = 0; i < r->n_hits; i++)
        if (!strcmp(r->hits[i].detector, det) && (!rule || !strcmp(r->hits[i].rule, rule)) &&
            r->hits[i].score > 0)
            return &r->hits[i];
    return NULL;
}

static void dump(const struct zh_result *r)
{
    for (size_t i = 0; i < r->n_hits; i++)
        fprintf(stderr, "   %s/%s %s (%d): %s\n", r->hits[i].detector, r->hits[i].rule,
                r->hits[i].object, r->hits[i].score, r->hits[i].detail);
}

struct name_row {
    const char *disposition; /* the filename parameter(s) as written */
    bool fires;
    const char *rule; /* when it fires */
};

static void test_double_extension(void **state)
{
    static const struct name_row rows[] = {
        {"filename=\"document.txt.pif\"", true, "double_extension"},
        {"filename=\"photo.jpg.scr\"", true, "double_extension"},
        {"filename=\"MiXeD.JpG.ScR\"", true, "double_extension"},
        {"filename=\"readme.doc                                   .exe\"", true,
         "hidden_double_extension"},
        {"filename=\"readme.doc_______________.exe\"", true, "hidden_double_extension"},
        {"filename=\"invoice.doc.exe. . .\"", true, "double_extension"},
        {"filename=\"Payment.PDF.html\"", true, "double_extension"},
        {"filename=\"invoice.doc.jse\"", true, "double_extension"},
        {"filename=\"file.txt.{3050F4D8-98B5-11CF-BB82-00AA00BDCE0B}\"", true,
         "hidden_double_extension"},
        /* U+202E RIGHT-TO-LEFT OVERRIDE: shows as "photoexe.jpg". */
        {"filename*=UTF-8''photo%E2%80%AEgpj.exe", true, "hidden_double_extension"},
        {"filename=\"=?UTF-8?B?cmVwb3J0LnBkZi5leGU=?=\"", true, "double_extension"},
        {"filename*=UTF-8''report.pdf%20%20%20%20%20.exe", true, "hidden_double_extension"},
        /* near misses */
        {"filename=\"report.2004.final.pdf\"", false, NULL},
        {"filename=\"v1.2.3.tar.gz\"", false, NULL},
        {"filename=\"archive.tar.gz\"", false, NULL},
        {"filename=\"data.2004-01-26.csv\"", false, NULL},
        {"filename=\"photo.jpeg\"", false, NULL},
        {"filename=\"name.pdf_copy.zip\"", false, NULL},
        {"filename=\"setup-1.2.exe\"", false, NULL},
        {"filename=\"minutes.2004.01.doc\"", false, NULL},
        {"filename=\"page.html\"", false, NULL},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        char *m = with_attachment(HDR, "see attached", "application/octet-stream",
                                  rows[i].disposition, JPEG_B64);
        const struct zh_result *r = scan_env(m, &ENV);
        const struct zh_result_hit *h = find(r, "double_extension", NULL);
        if (rows[i].fires != (h != NULL) || (h && strcmp(h->rule, rows[i].rule))) {
            dump(r);
            fail_msg("%s: double_extension %s, want %s", rows[i].disposition,
                     h ? h->rule : "silent", rows[i].fires ? rows[i].rule : "silent");
        }
        free(m);
    }
}

static void test_executable(void **state)
{
    static const struct {
        const char *ctype, *disp, *b64, *rule;
        bool fires;
    } rows[] = {
        {"application/octet-stream", "filename=\"setup.exe\"", PE_B64, "executable_content", true},
        {"application/octet-stream", "filename=\"setup.exe\"", PE_B64, "executable_name", true},
        {"image/jpeg", "filename=\"photo.jpg\"", PE_B64, "content_mismatch", true},
        {"audio/x-wav", "filename=\"message.bin\"", PE_B64, "content_mismatch", true},
        {"application/octet-stream", "filename=\"doc.scr\"", JPEG_B64, "executable_name", true},
        /* a PE under an extension whose files hold no program (Zafi's postcard.pif) */
        {"application/octet-stream", "filename=\"postcard.pif\"", PE_B64, "content_mismatch", true},
        {"application/octet-stream", "filename=\"update.com\"", PE_B64, "content_mismatch", true},
        /* near misses */
        {"application/octet-stream", "filename=\"setup.exe\"", PE_B64, "content_mismatch", false},
        {"application/octet-stream", "filename=\"aquarium.scr\"", PE_B64, "content_mismatch",
         false},
        {"application/octet-stream", "filename=\"dosapp.pif\"", JPEG_B64, "content_mismatch",
         false},
        {"image/jpeg", "filename=\"photo.jpg\"", JPEG_B64, NULL, false},
        {"text/html", "filename=\"page.html\"", "PGh0bWw+PGJvZHk+aGk8L2JvZHk+PC9odG1sPg==", NULL,
         false},
        {"application/pdf", "filename=\"a.pdf\"", "JVBERi0xLjQKJcfs", NULL, false},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        char *m = with_attachment(HDR, "see attached", rows[i].ctype, rows[i].disp, rows[i].b64);
        const struct zh_result *r = scan_env(m, &ENV);
        const struct zh_result_hit *h = find(r, "executable", rows[i].rule);
        if (rows[i].fires != (h != NULL)) {
            dump(r);
            fail_msg("row %zu (%s): executable/%s %s", i, rows[i].disp,
                     rows[i].rule ? rows[i].rule : "*", h ? "fired" : "silent");
        }
        free(m);
    }
}

/* An in-memory zip of the given members (NULL data = synthetic PE). */
/* data[i] NULL: a small PE; lens NULL: each data[i] is a C string. */
static unsigned char *zip_bytes_n(const char *const *names, const char *const *data,
                                  const size_t *lens, size_t n, const char *password, size_t *len)
{
    static unsigned char pe[512];
    memset(pe, 0, sizeof pe);
    memcpy(pe, "MZ\x90\0\x03\0\0\0\x04\0", 10);
    pe[0x3c] = 0x80;
    memcpy(pe + 0x80, "PE\0\0", 4);
    size_t cap = 1 << 16, used = 0;
    unsigned char *buf = malloc(cap);
    struct archive *a = archive_write_new();
    archive_write_set_format_zip(a);
    if (password) {
        archive_write_set_options(a, "zip:encryption=zipcrypt");
        archive_write_set_passphrase(a, password);
    }
    archive_write_open_memory(a, buf, cap, &used);
    for (size_t i = 0; i < n; i++) {
        const void *d = data[i] ? (const void *)data[i] : pe;
        size_t len = !data[i] ? sizeof pe : lens ? lens[i] : strlen(data[i]);
        struct archive_entry *e = archive_entry_new();
        archive_entry_set_pathname(e, names[i]);
        archive_entry_set_size(e, (la_int64_t)len);
        archive_entry_set_filetype(e, AE_IFREG);
        archive_write_header(a, e);
        archive_write_data(a, d, len);
        archive_entry_free(e);
    }
    archive_write_close(a);
    archive_write_free(a);
    *len = used;
    return buf;
}

static unsigned char *zip_bytes(const char *const *names, const char *const *data, size_t n,
                                const char *password, size_t *len)
{
    return zip_bytes_n(names, data, NULL, n, password, len);
}

static char *b64(const unsigned char *buf, size_t used)
{
    static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char *out = malloc(used * 2 + 8);
    size_t o = 0;
    for (size_t i = 0; i < used; i += 3) {
        unsigned v =
            buf[i] << 16 | (i + 1 < used ? buf[i + 1] << 8 : 0) | (i + 2 < used ? buf[i + 2] : 0);
        out[o++] = tbl[v >> 18 & 63];
        out[o++] = tbl[v >> 12 & 63];
        out[o++] = i + 1 < used ? tbl[v >> 6 & 63] : '=';
        out[o++] = i + 2 < used ? tbl[v & 63] : '=';
        if ((i / 3) % 19 == 18) {
            out[o++] = '\r';
            out[o++] = '\n';
        }
    }
    out[o] = 0;
    return out;
}

/* Base64 of an in-memory zip of the given members (NULL data = synthetic PE). */
static char *zip_b64(const char *const *names, const char *const *data, size_t n,
                     const char *password)
{
    size_t len;
    unsigned char *buf = zip_bytes(names, data, n, password, &len);
    char *out = b64(buf, len);
    free(buf);
    return out;
}

/* Does password get past the ZipCrypto check byte of the first member (right,
 * or wrong by the 1-in-256 chance)? */
static bool passes_check(const unsigned char *zip, size_t len, const char *password)
{
    struct archive *a = archive_read_new();
    struct archive_entry *e;
    char chunk[4096];
    archive_read_support_format_zip(a);
    archive_read_add_passphrase(a, password);
    bool passes = archive_read_open_memory(a, zip, len) == ARCHIVE_OK &&
                  archive_read_next_header(a, &e) == ARCHIVE_OK &&
                  (archive_read_data(a, chunk, sizeof chunk) > 0 ||
                   !strstr(archive_error_string(a) ? archive_error_string(a) : "", "assphrase"));
    archive_read_free(a);
    return passes;
}

static void test_archives_and_scoring(void **state)
{
    const char *exe[] = {"myphoto.jpg.exe"};
    const char *none[] = {NULL};
    char *z = zip_b64(exe, none, 1, NULL);
    /* Dumaru.Y: an executable with a double extension inside myphoto.zip,
     * with a lure: MALICIOUS, and the hit names member and archive. */
    char *m = with_attachment(HDR, "Mail transaction failed. Partial message is available.",
                              "application/zip", "filename=\"myphoto.zip\"", z);
    const struct zh_result *r = scan_env(m, &ENV);
    const struct zh_result_hit *h = find(r, "archive_executable", "program_in_archive");
    assert_non_null(h);
    assert_string_equal(h->object, "2/myphoto.zip/myphoto.jpg.exe");
    assert_non_null(strstr(h->detail, "inside archive \"myphoto.zip\""));
    assert_non_null(find(r, "double_extension", NULL));
    assert_non_null(find(r, "lure_text", NULL));
    assert_non_null(find(r, "combination", "lure_text+archive_executable"));
    assert_int_equal(r->verdict, ZH_VERDICT_MALICIOUS);
    free(m);
    free(z);

    /* A zip of documents (a docx is a zip too) from a normal sender: CLEAN. */
    const char *parts[] = {"[Content_Types].xml", "word/document.xml"};
    const char *partdata[] = {"<Types/>", "<w:document/>"};
    size_t docx_len;
    unsigned char *docx = zip_bytes(parts, partdata, 2, NULL, &docx_len);
    const char *docs[] = {"minutes.txt", "budget.csv", "inner/report.docx"};
    const char *docdata[] = {"minutes of the meeting", "a,b\n1,2\n", (const char *)docx};
    const size_t doclens[] = {22, 8, docx_len};
    size_t zlen;
    unsigned char *zb = zip_bytes_n(docs, docdata, doclens, 3, NULL, &zlen);
    z = b64(zb, zlen);
    free(zb);
    free(docx);
    m = with_attachment(HDR, "Here are the files from today.", "application/zip",
                        "filename=\"project.zip\"", z);
    r = scan_env(m, &ENV);
    if (r->verdict != ZH_VERDICT_CLEAN || r->score != 0) {
        dump(r);
        fail_msg("zip of documents: %d score %d", r->verdict, r->score);
    }
    free(m);
    free(z);

    /* The same with a "docx" that is no zip at all: it could not be opened,
     * so the message was not fully seen and is not CLEAN. */
    const char *bad[] = {"minutes.txt", "inner/report.docx"};
    const char *baddata[] = {"minutes of the meeting", "PK\x03\x04 not really"};
    z = zip_b64(bad, baddata, 2, NULL);
    m = with_attachment(HDR, "Here are the files from today.", "application/zip",
                        "filename=\"project.zip\"", z);
    r = scan_env(m, &ENV);
    h = find(r, "archive", "malformed_archive");
    assert_non_null(h);
    assert_true(h->flags & ZH_HIT_UNSCANNABLE);
    assert_int_equal(r->verdict, ZH_VERDICT_SUSPICIOUS);
    free(m);
    free(z);

    /* Bagle: encrypted zip, password in the text → opened, weighted higher. */
    const char *doc_exe[] = {"document.exe"};
    z = zip_b64(doc_exe, none, 1, "48291");
    m = with_attachment(HDR,
                        "For security reasons attached file is password protected. "
                        "The password is 48291",
                        "application/octet-stream", "filename=\"Info.zip\"", z);
    r = scan_env(m, &ENV);
    /* ...and judged by what it holds: a program. */
    assert_non_null(find(r, "archive_executable", "encrypted_archive_password_payload"));
    assert_non_null(find(r, "archive_executable", "program_in_archive"));
    assert_int_equal(r->verdict, ZH_VERDICT_MALICIOUS);
    free(m);
    /* Same archive, no password anywhere: the encrypted member is known by name. */
    m = with_attachment(HDR, "Here it is.", "application/octet-stream", "filename=\"Info.zip\"", z);
    r = scan_env(m, &ENV);
    assert_non_null(find(r, "archive_executable", "encrypted_archive"));
    assert_non_null(find(r, "archive_executable", "executable_in_archive"));
    assert_null(find(r, "archive_executable", "encrypted_archive_password_in_text"));
    free(m);
    free(z);

    /* Sober: account details "attached", an executable zipped: MALICIOUS. */
    const char *pw_exe[] = {"pword_change.exe"};
    z = zip_b64(pw_exe, none, 1, NULL);
    m = with_attachment(HDR, "Account and Password Information are attached!", "application/zip",
                        "filename=\"pword_change.zip\"", z);
    r = scan_env(m, &ENV);
    assert_non_null(find(r, "lure_text", "Lure_Account_Details_Attached"));
    assert_int_equal(r->verdict, ZH_VERDICT_MALICIOUS);
    free(m);
    free(z);
    /* Near misses: a change notice with nothing attached, and login details
     * sent with a PDF; neither is flagged. */
    m = plain("The password of your online banking account was changed today.");
    r = scan_env(m, &ENV);
    assert_null(find(r, "lure_text", NULL));
    assert_int_equal(r->verdict, ZH_VERDICT_CLEAN);
    free(m);
    m = with_attachment(HDR, "Hi, your login details are attached, as promised.", "application/pdf",
                        "filename=\"welcome.pdf\"", "JVBERi0xLjQKJcfs");
    r = scan_env(m, &ENV);
    assert_int_equal(r->verdict, ZH_VERDICT_CLEAN);
    free(m);

    /* One lure alone: CLEAN. */
    m = plain("Mail transaction failed. Partial message is available.");
    r = scan_env(m, &ENV);
    assert_non_null(find(r, "lure_text", NULL));
    assert_int_equal(r->verdict, ZH_VERDICT_CLEAN);
    free(m);
}

/* A wrong password from the text that passes ZipCrypto's one-byte check
 * (one zip in 256) must not hide the right one after it. */
static void test_password_false_check(void **state)
{
    const char *names[] = {"document.exe"};
    const char *none[] = {NULL};
    unsigned char *zip = NULL;
    size_t len = 0;
    for (int tries = 0; tries < 4000; tries++) {
        zip = zip_bytes(names, none, 1, "48291", &len);
        if (passes_check(zip, len, "wrongpw1"))
            break;
        free(zip);
        zip = NULL;
    }
    assert_non_null(zip); /* (255/256)^4000: never in practice */
    char *z = b64(zip, len);
    char *m = with_attachment(HDR, "Password: wrongpw1 (old). New password: 48291",
                              "application/octet-stream", "filename=\"Info.zip\"", z);
    const struct zh_result *r = scan_env(m, &ENV);
    if (!find(r, "archive_executable", "encrypted_archive_password_payload")) {
        dump(r);
        fail_msg("the right password after a wrong one that passed the check was not tried");
    }
    assert_non_null(find(r, "archive_executable", "program_in_archive"));
    free(m);
    free(z);
    free(zip);
}

static void test_dsn(void **state)
{
    const char *dsn_hdr =
        "From: Mail Delivery System <MAILER-DAEMON@mx.corp.example.com>\r\n"
        "To: alice@corp.example.com\r\nSubject: Undelivered Mail Returned to Sender\r\n"
        "Date: Mon, 26 Jan 2004 10:00:00 +0000\r\nMessage-ID: <dsn.1@mx.corp.example.com>\r\n"
        "MIME-Version: 1.0\r\n";
    char m[8192];
    sprintf(m,
            "%sContent-Type: multipart/report; report-type=delivery-status; boundary=\"r\"\r\n\r\n"
            "--r\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered. "
            "The original message was included as attachment.\r\n"
            "--r\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; "
            "mx.corp.example.com\r\n\r\n"
            "Final-Recipient: rfc822; bob@example.org\r\nAction: failed\r\nStatus: 5.1.1\r\n\r\n"
            "--r\r\nContent-Type: message/rfc822\r\n\r\nFrom: alice@corp.example.com\r\nSubject: "
            "hi\r\n\r\nhello\r\n"
            "--r--\r\n",
            dsn_hdr);
    struct zh_scan_envelope env = ENV;
    env.mail_from = "";
    env.helo = "mx.example.org";
    const struct zh_result *r = scan_env(m, &env);
    /* The lure phrase matched, and was not counted. */
    bool matched = false;
    for (size_t i = 0; i < r->n_hits; i++)
        matched |= !strcmp(r->hits[i].detector, "lure_text") && r->hits[i].score == 0;
    assert_true(matched);
    assert_null(find(r, "lure_text", NULL));
    assert_int_equal(r->verdict, ZH_VERDICT_CLEAN);

    /* A fake one: the same report shape from a worm, with a program attached. */
    char fake[16384];
    sprintf(fake,
            "%sContent-Type: multipart/report; report-type=delivery-status; boundary=\"r\"\r\n\r\n"
            "--r\r\nContent-Type: text/plain\r\n\r\nMail transaction failed. Partial message is "
            "available.\r\n"
            "--r\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; x\r\n\r\n"
            "--r\r\nContent-Type: application/octet-stream; name=\"message.scr\"\r\n"
            "Content-Transfer-Encoding: base64\r\n\r\n%s\r\n--r--\r\n",
            dsn_hdr, PE_B64);
    r = scan_env(fake, &env);
    assert_non_null(find(r, "lure_text", NULL));
    assert_int_equal(r->verdict, ZH_VERDICT_MALICIOUS);
}

static void test_sender(void **state)
{
    char m[4096];
    struct zh_scan_envelope env = ENV;
    /* Generated local part, display name claiming another address, bare HELO. */
    sprintf(m, "From: \"support@microsoft.com\" <kjhsdfq83@fabrikam.example>\r\nTo: a@b.example\r\n"
               "Subject: x\r\nDate: Mon, 26 Jan 2004 10:00:00 +0000\r\nMessage-ID: "
               "<1@fabrikam.example>\r\n\r\nhi\r\n");
    env.helo = "HOME-3F2A1B";
    const struct zh_result *r = scan_env(m, &env);
    assert_non_null(find(r, "sender", "random_local_part"));
    assert_non_null(find(r, "sender", "display_name_spoof"));
    assert_non_null(find(r, "sender", "bare_helo"));
    assert_int_equal(r->verdict, ZH_VERDICT_CLEAN); /* an odd sender alone stays CLEAN */
    /* Near misses: ordinary names, role accounts, year suffixes, FQDN HELO. */
    static const char *const fine[] = {
        "jsmith1987",         "bob",  "info", "krzysztof.wojciechowski", "noreply",
        "anna-maria.schmidt", "j.doe"};
    env.helo = "mail.fabrikam.example";
    for (size_t i = 0; i < sizeof fine / sizeof fine[0]; i++) {
        sprintf(m,
                "From: \"%s\" <%s@fabrikam.example>\r\nTo: a@b.example\r\nSubject: x\r\n"
                "Date: Mon, 26 Jan 2004 10:00:00 +0000\r\nMessage-ID: "
                "<1@fabrikam.example>\r\n\r\nhi\r\n",
                fine[i], fine[i]);
        r = scan_env(m, &env);
        if (r->n_hits) {
            dump(r);
            fail_msg("%s: sender fired", fine[i]);
        }
    }
    /* An outside client greeting as the recipient's own domain (Netsky); the
     * same from an internal address is the company's own server. */
    sprintf(m, "%s\r\nhello\r\n", HDR);
    env.helo = "corp.example.com";
    r = scan_env(m, &env);
    assert_non_null(find(r, "sender", "claims_recipient_domain"));
    env.client_ip = "10.0.0.12";
    r = scan_env(m, &env);
    assert_null(find(r, "sender", "claims_recipient_domain"));
    /* A Date a week after arrival; an old message scanned today is fine. */
    sprintf(m, "From: carol@fabrikam.example\r\nSubject: x\r\nMessage-ID: <2@fabrikam.example>\r\n"
               "Date: Mon, 02 Feb 2004 10:00:00 +0000\r\n\r\nhi\r\n");
    env = ENV;
    r = scan_env(m, &env);
    assert_non_null(find(r, "sender", "future_date"));
    env.received_at = 1077000000000;
    r = scan_env(m, &env);
    assert_null(find(r, "sender", "future_date"));
    /* Missing Message-ID and Date. */
    r = scan_env("From: carol@fabrikam.example\r\nSubject: x\r\n\r\nhi\r\n", &ENV);
    assert_non_null(find(r, "sender", "bad_message_id"));
    assert_non_null(find(r, "sender", "bad_date"));
}

static void test_many_from(void **state)
{
    char m[1024];
    struct zh_scan_envelope env = ENV;
    env.client_ip = "203.0.113.77";
    const struct zh_result *r = NULL;
    /* 11 From addresses in 11 minutes from one client: the 11th is a burst
     * (threshold 10 within 600 s)... */
    for (int i = 0; i <= 10; i++) {
        sprintf(m,
                "From: user%d@example%d.example\r\nSubject: x\r\nDate: Mon, 26 Jan 2004 10:00:00 "
                "+0000\r\n"
                "Message-ID: <%d@example.example>\r\n\r\nhi\r\n",
                i, i, i);
        env.received_at = 1075111200000 + i * 1000;
        r = scan_env(m, &env);
        if (i < 10)
            assert_null(find(r, "sender", "many_from_addresses"));
    }
    assert_non_null(find(r, "sender", "many_from_addresses"));
    /* ...but the same count spread over hours is not, and one From repeated is not. */
    env.client_ip = "203.0.113.78";
    for (int i = 0; i <= 10; i++) {
        sprintf(m, "From: user%d@example%d.example\r\nSubject: x\r\n\r\nhi\r\n", i, i);
        env.received_at = 1075111200000 + (int64_t)i * 3600 * 1000;
        r = scan_env(m, &env);
        assert_null(find(r, "sender", "many_from_addresses"));
    }
    env.client_ip = "203.0.113.79";
    for (int i = 0; i <= 30; i++) {
        env.received_at = 1075111200000 + i * 1000;
        r = scan_env("From: same@example.example\r\nSubject: x\r\n\r\nhi\r\n", &env);
        assert_null(find(r, "sender", "many_from_addresses"));
    }
}

/* A burst threshold the per-client table could never reach is refused. */
static void test_many_from_threshold_bound(void **state)
{
    char dir[] = "/tmp/zh-heur-XXXXXX", cmd[512];
    assert_non_null(mkdtemp(dir));
    snprintf(cmd, sizeof cmd,
             "cp %s/rules/*.yar %s/rules/heuristics.ini %s/ && "
             "sed -i 's/^many_from_threshold = .*/many_from_threshold = 40/' %s/heuristics.ini",
             ZH_SOURCE_DIR, ZH_SOURCE_DIR, dir, dir);
    assert_int_equal(system(cmd), 0);
    struct zh_rules_report rep;
    assert_int_not_equal(zh_rules_check(dir, &rep), ZH_ERR_OK);
    assert_true(rep.n_errors >= 1);
    assert_non_null(strstr(rep.errors[0], "many_from_threshold"));
    zh_rules_report_free(&rep);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

static int setup(void **state)
{
    struct zh_config cfg;
    zh_config_defaults(&cfg);
    zh_config_set(&cfg, "rules_dir", ZH_SOURCE_DIR "/rules", NULL, 0);
    struct zh_rules_report rep;
    if (zh_engine_new(&cfg, &engine, &rep) != ZH_ERR_OK) {
        for (size_t i = 0; i < rep.n_errors; i++)
            fprintf(stderr, "%s\n", rep.errors[i]);
        return -1;
    }
    zh_rules_report_free(&rep);
    zh_config_free(&cfg);
    return zh_scanner_new(engine, &scanner) == ZH_ERR_OK ? 0 : -1;
}

static int teardown(void **state)
{
    zh_scanner_free(scanner);
    zh_engine_free(engine);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_double_extension),
        cmocka_unit_test(test_executable),
        cmocka_unit_test(test_archives_and_scoring),
        cmocka_unit_test(test_password_false_check),
        cmocka_unit_test(test_dsn),
        cmocka_unit_test(test_sender),
        cmocka_unit_test(test_many_from),
        cmocka_unit_test(test_many_from_threshold_bound),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
