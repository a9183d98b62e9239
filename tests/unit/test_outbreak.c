/* Outbreak detection through the engine API: polymorphic copies of one
 * worm from many senders become an outbreak within the window and every
 * further copy is flagged; a risky payload that is spreading but not yet an
 * outbreak gets DEFER; newsletters and memos never escalate on volume; the
 * table stays within its memory budget; snapshots survive a restart and bad
 * snapshot files are refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "outbreak.h"
#include "zerohour/engine.h"

static char state_path[64];

/* A base64 PE-looking payload whose filler differs per copy (polymorphism). */
static void pe_b64(char *out, unsigned seed)
{
    unsigned char pe[600];
    memset(pe, 0, sizeof pe);
    memcpy(pe, "MZ\x90\0\x03\0\0\0\x04\0", 10);
    pe[0x3c] = 0x80;
    memcpy(pe + 0x80, "PE\0\0", 4);
    for (size_t i = 0x100; i < sizeof pe; i++)
        pe[i] = (unsigned char)((seed * 2654435761u + i * 40503u) >> 7);
    static const char t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t o = 0;
    for (size_t i = 0; i < sizeof pe; i += 3) {
        unsigned v = pe[i] << 16 | (i + 1 < sizeof pe ? pe[i + 1] << 8 : 0) |
                     (i + 2 < sizeof pe ? pe[i + 2] : 0);
        out[o++] = t[v >> 18 & 63];
        out[o++] = t[v >> 12 & 63];
        out[o++] = i + 1 < sizeof pe ? t[v >> 6 & 63] : '=';
        out[o++] = i + 2 < sizeof pe ? t[v & 63] : '=';
        if ((i / 3) % 19 == 18)
            out[o++] = '\n';
    }
    out[o] = 0;
}

/* Copy i of a Mydoom-like worm: new bytes, a name from a list and an
 * executable extension picked per copy, as Mydoom did (exe scr cmd com pif). */
static char *worm(unsigned i)
{
    static const char *const names[] = {"document", "readme", "doc", "text", "file", "data"};
    static const char *const exts[] = {"pif", "exe", "scr", "cmd", "com"};
    char b64[2000];
    pe_b64(b64, i);
    char *m = malloc(4096);
    snprintf(
        m, 4096,
        "From: user%u@host%u.example\r\nTo: a@corp.example.com\r\nSubject: hello\r\n"
        "Date: Mon, 26 Jan 2004 10:00:00 +0000\r\nMessage-ID: <%u@host%u.example>\r\n"
        "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\n"
        "hi\r\n--b\r\nContent-Type: application/octet-stream; name=\"%s.%s\"\r\n"
        "Content-Transfer-Encoding: base64\r\n\r\n%s\r\n--b--\r\n",
        i, i, i, i, names[i % 6], exts[i % 5], b64);
    return m;
}

static zh_engine *new_engine(const char *memory, const char *state)
{
    struct zh_config cfg;
    zh_engine *e;
    zh_config_defaults(&cfg);
    zh_config_set(&cfg, "rules_dir", ZH_SOURCE_DIR "/rules", NULL, 0);
    if (memory)
        zh_config_set(&cfg, "outbreak.memory", memory, NULL, 0);
    if (state)
        zh_config_set(&cfg, "outbreak.state_file", state, NULL, 0);
    assert_int_equal(zh_engine_new(&cfg, &e, NULL), ZH_ERR_OK);
    zh_config_free(&cfg);
    return e;
}

static const struct zh_result *scan(zh_scanner *s, const char *msg, unsigned i, int64_t t)
{
    char ip[32], from[64];
    snprintf(ip, sizeof ip, "203.0.113.%u", 1 + i % 250);
    snprintf(from, sizeof from, "user%u@host%u.example", i, i);
    static const char *const rcpt[] = {"a@corp.example.com"};
    struct zh_scan_envelope env = {.client_ip = ip,
                                   .helo = "mx.host.example",
                                   .mail_from = from,
                                   .rcpt_to = rcpt,
                                   .n_rcpt = 1,
                                   .received_at = t};
    const struct zh_result *r;
    zh_scanner_scan(s, (const uint8_t *)msg, strlen(msg), &env, 0, &r);
    assert_int_equal(r->status, 0);
    return r;
}

/* Copy i from one client that uses a new From each time, observed or not. */
static const struct zh_result *scan_one_client(zh_scanner *s, const char *msg, unsigned i,
                                               int64_t t, bool no_observe)
{
    char from[64];
    snprintf(from, sizeof from, "user%u@host%u.example", i, i);
    static const char *const rcpt[] = {"a@corp.example.com"};
    struct zh_scan_envelope env = {.client_ip = "203.0.113.9",
                                   .helo = "mx.host.example",
                                   .mail_from = from,
                                   .rcpt_to = rcpt,
                                   .n_rcpt = 1,
                                   .received_at = t,
                                   .no_observe = no_observe};
    const struct zh_result *r;
    zh_scanner_scan(s, (const uint8_t *)msg, strlen(msg), &env, 0, &r);
    assert_int_equal(r->status, 0);
    return r;
}

static bool has_rule(const struct zh_result *r, const char *rule)
{
    for (size_t i = 0; i < r->n_hits; i++)
        if (!strcmp(r->hits[i].rule, rule))
            return true;
    return false;
}

static bool has(const struct zh_result *r, const char *det)
{
    for (size_t i = 0; i < r->n_hits; i++)
        if (!strcmp(r->hits[i].detector, det))
            return true;
    return false;
}

static void test_surge_defer_and_flag(void **state)
{
    zh_engine *e = new_engine(NULL, NULL);
    zh_scanner *s;
    zh_scanner_new(e, &s);
    int64_t t0 = 1075111200000;
    /* First copy: judged on its own (an exe attachment: SUSPICIOUS). */
    char *m = worm(1);
    const struct zh_result *r = scan(s, m, 1, t0);
    free(m);
    assert_int_equal(r->verdict, ZH_VERDICT_SUSPICIOUS);
    /* Second copy from another sender: the payload is spreading → DEFER. */
    m = worm(2);
    r = scan(s, m, 2, t0 + 30000);
    free(m);
    assert_int_equal(r->verdict, ZH_VERDICT_DEFER);
    assert_int_equal(r->retry_after_s, 300);
    /* Copies 3..5: the fifth crosses 5 copies / 3 senders / 3 IPs → outbreak. */
    for (unsigned i = 3; i <= 5; i++) {
        m = worm(i);
        r = scan(s, m, i, t0 + i * 30000);
        free(m);
    }
    assert_true(has(r, "outbreak"));
    assert_int_equal(r->verdict, ZH_VERDICT_MALICIOUS); /* its own heuristics said SUSPICIOUS */
    /* Every further copy, whatever its bytes, name and executable extension. */
    for (unsigned i = 6; i <= 12; i++) {
        m = worm(i);
        r = scan(s, m, i, t0 + i * 30000);
        free(m);
        assert_true(has(r, "outbreak"));
        assert_int_equal(r->verdict, ZH_VERDICT_MALICIOUS);
    }
    struct zh_outbreak_info info[8];
    size_t n = zh_engine_outbreaks(e, t0 + 13 * 30000, info, 8);
    assert_true(n >= 1);
    assert_true(info[0].active);
    assert_true(info[0].copies >= 5);
    assert_non_null(strstr(info[0].summary, "pe"));
    zh_scanner_free(s);
    zh_engine_free(e);
}

static void test_bulk_clean_mail_never_escalates(void **state)
{
    zh_engine *e = new_engine(NULL, NULL);
    zh_scanner *s;
    zh_scanner_new(e, &s);
    const char *news =
        "From: news@shop.example\r\nTo: a@corp.example.com\r\nSubject: Our January offers\r\n"
        "Date: Mon, 26 Jan 2004 10:00:00 +0000\r\nMessage-ID: <n1@shop.example>\r\n"
        "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/html\r\n\r\n"
        "<p>Offers</p>\r\n--b\r\nContent-Type: application/pdf; name=catalogue.pdf\r\n\r\n"
        "%PDF-1.4 catalogue\r\n--b--\r\n";
    for (unsigned i = 0; i < 200; i++) {
        const struct zh_result *r = scan(s, news, i, 1075111200000 + i * 1000);
        assert_false(has(r, "outbreak"));
        assert_int_not_equal(r->verdict, ZH_VERDICT_DEFER);
        assert_int_equal(r->verdict, ZH_VERDICT_CLEAN);
    }
    zh_scanner_free(s);
    zh_engine_free(e);
}

static long rss_kib(void)
{
    long pages = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &resident) != 2)
            resident = 0;
        fclose(f);
    }
    return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

/* A million unique fingerprints through the default 16 MiB budget: resident
 * memory grows by at most the budget plus a small margin. */
static void test_million_unique_within_budget(void **state)
{
    struct zh_config cfg;
    zh_config_defaults(&cfg);
    struct zhi_outbreaks *ob;
    long before = rss_kib();
    assert_int_equal(zhi_outbreaks_new(&cfg, &ob), ZH_ERR_OK);
    char sender[64], ip[32];
    const char *rcpt[] = {"a@corp.example.com"};
    for (uint64_t i = 1; i <= 1000000; i++) {
        snprintf(sender, sizeof sender, "u%llu@h.example", (unsigned long long)i);
        snprintf(ip, sizeof ip, "10.%llu.%llu.%llu", (unsigned long long)(i >> 16) & 255,
                 (unsigned long long)(i >> 8) & 255, (unsigned long long)i & 255);
        struct zhi_ob_sighting si = {.fp = i * 0x9E3779B97F4A7C15ULL,
                                     .risky = true,
                                     .summary = "pe.exe~20K",
                                     .sender = sender,
                                     .client_ip = ip,
                                     .rcpt = rcpt,
                                     .n_rcpt = 1,
                                     .now_ms = (int64_t)i};
        struct zhi_ob_status st;
        zhi_outbreaks_see(ob, &si, &st);
    }
    long grown = rss_kib() - before;
    assert_true(zhi_outbreaks_used(ob) <= zhi_outbreaks_capacity(ob));
    if (grown > cfg.outbreak_memory / 1024 + 8 * 1024)
        fail_msg("RSS grew by %ld KiB for a %lld KiB budget", grown,
                 (long long)cfg.outbreak_memory / 1024);
    zhi_outbreaks_free(ob);
    zh_config_free(&cfg);
}

/* The surge of the unknown in the table: its own window and thresholds
 * (sender domains and client IPs), DEFER from three of each while it grows;
 * one sender over many relays, or many copies from two hosts, never. */
static void test_unknown_type_surge(void **state)
{
    struct zh_config cfg;
    zh_config_defaults(&cfg);
    struct zhi_outbreaks *ob;
    assert_int_equal(zhi_outbreaks_new(&cfg, &ob), ZH_ERR_OK);
    const char *rcpt[] = {"a@corp.example.com"};
    char dom[64], ip[32];
    int64_t t = 1740988800000;
    struct zhi_ob_status st;
    /* Copies 12 minutes apart: beyond the risky window, inside the surge's hour. */
    for (unsigned i = 1; i <= 6; i++) {
        snprintf(dom, sizeof dom, "d%u.example", i);
        snprintf(ip, sizeof ip, "198.51.100.%u", i);
        struct zhi_ob_sighting si = {.fp = 0xabc,
                                     .surge = true,
                                     .sender = dom,
                                     .client_ip = ip,
                                     .rcpt = rcpt,
                                     .n_rcpt = 1,
                                     .now_ms = t + i * 12 * 60000};
        zhi_outbreaks_see(ob, &si, &st);
        if (i < 3)
            assert_false(st.active || st.growing);
        else if (i < (unsigned)cfg.outbreak_surge_min_senders)
            assert_true(st.growing && !st.active);
        else
            assert_true(st.active);
    }
    /* A newsletter: one sender domain, many relays and copies. */
    for (unsigned i = 1; i <= 16; i++) {
        snprintf(ip, sizeof ip, "192.0.2.%u", i);
        struct zhi_ob_sighting si = {.fp = 0xdef,
                                     .surge = true,
                                     .sender = "news.example",
                                     .client_ip = ip,
                                     .rcpt = rcpt,
                                     .n_rcpt = 1,
                                     .now_ms = t + i * 1000};
        zhi_outbreaks_see(ob, &si, &st);
        assert_false(st.active || st.growing);
    }
    /* Many sender domains through two hosts: growing, never a surge. */
    for (unsigned i = 1; i <= 16; i++) {
        snprintf(dom, sizeof dom, "s%u.example", i);
        struct zhi_ob_sighting si = {.fp = 0x123,
                                     .surge = true,
                                     .sender = dom,
                                     .client_ip = i & 1 ? "203.0.113.1" : "203.0.113.2",
                                     .rcpt = rcpt,
                                     .n_rcpt = 1,
                                     .now_ms = t + i * 1000};
        zhi_outbreaks_see(ob, &si, &st);
        assert_false(st.active);
    }
    /* Plain (neither risky nor an unknown type): counted, never flagged. */
    for (unsigned i = 1; i <= 16; i++) {
        snprintf(dom, sizeof dom, "p%u.example", i);
        snprintf(ip, sizeof ip, "203.0.113.%u", 10 + i);
        struct zhi_ob_sighting si = {.fp = 0x456,
                                     .sender = dom,
                                     .client_ip = ip,
                                     .rcpt = rcpt,
                                     .n_rcpt = 1,
                                     .now_ms = t + i * 1000};
        zhi_outbreaks_see(ob, &si, &st);
        assert_false(st.active || st.growing);
    }
    zhi_outbreaks_free(ob);
    zh_config_free(&cfg);
}

/* Today's wrappers are risky payloads too: a page that rebuilds a file
 * (here only a text file: SUSPICIOUS on its own) surging from five senders
 * and hosts is an outbreak. */
static void test_wrapper_kinds_are_risky(void **state)
{
    zh_engine *e = new_engine(NULL, NULL);
    zh_scanner *s;
    zh_scanner_new(e, &s);
    int64_t t0 = 1675000000000;
    const struct zh_result *r = NULL;
    for (unsigned i = 1; i <= 6; i++) {
        char m[1024];
        snprintf(m, sizeof m,
                 "From: user%u@host%u.example\r\nTo: a@corp.example.com\r\nSubject: doc\r\n"
                 "Date: Sun, 29 Jan 2023 10:00:00 +0000\r\nMessage-ID: <%u@host%u.example>\r\n"
                 "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n"
                 "Content-Type: text/plain\r\n\r\nhi\r\n--b\r\n"
                 "Content-Type: text/html; name=\"doc%u.html\"\r\n\r\n"
                 "<html><a href=\"data:text/plain;base64,bm90ZXMgJXU=\" "
                 "download=\"notes.txt\">x</a><!-- %u --></html>\r\n--b--\r\n",
                 i, i, i, i, i, i * 7919);
        r = scan(s, m, i, t0 + i * 30000);
        if (i < 5)
            assert_false(has(r, "outbreak"));
    }
    assert_true(has(r, "outbreak"));
    assert_int_equal(r->verdict, ZH_VERDICT_MALICIOUS);
    zh_scanner_free(s);
    zh_engine_free(e);
}

static void test_bounded_memory(void **state)
{
    struct zh_config cfg;
    zh_config_defaults(&cfg);
    zh_config_set(&cfg, "outbreak.memory", "64K", NULL, 0);
    struct zhi_outbreaks *ob;
    assert_int_equal(zhi_outbreaks_new(&cfg, &ob), ZH_ERR_OK);
    size_t cap = zhi_outbreaks_capacity(ob);
    assert_true(cap < 64);
    for (uint64_t i = 1; i <= 100000; i++) {
        struct zhi_ob_sighting si = {.fp = i * 0x9E3779B97F4A7C15ULL,
                                     .risky = (i & 1) != 0,
                                     .sender = "x@y.example",
                                     .client_ip = "192.0.2.1",
                                     .now_ms = (int64_t)i * 10};
        struct zhi_ob_status st;
        zhi_outbreaks_see(ob, &si, &st);
    }
    assert_true(zhi_outbreaks_used(ob) <= cap);
    zhi_outbreaks_free(ob);
    zh_config_free(&cfg);
}

/* A hunt (no_observe) reads the outbreak and sender tables but writes
 * neither: twelve copies from one client under twelve From addresses leave
 * no fingerprint, no DEFER and no many-From count; the same copies observed
 * do all three. */
static void test_no_observe_teaches_nothing(void **state)
{
    (void)state;
    zh_engine *e = new_engine(NULL, NULL);
    zh_scanner *s;
    zh_scanner_new(e, &s);
    struct zh_outbreak_info info[4];
    int64_t t0 = 1075111200000;
    for (unsigned i = 1; i <= 12; i++) {
        char *m = worm(i);
        const struct zh_result *r = scan_one_client(s, m, i, t0 + i * 1000, true);
        assert_int_not_equal(r->verdict, ZH_VERDICT_DEFER);
        assert_false(has(r, "outbreak"));
        assert_false(has_rule(r, "many_from_addresses"));
        free(m);
    }
    assert_int_equal(zh_engine_outbreaks(e, t0 + 13000, info, 4), 0);
    bool deferred = false, many_from = false;
    for (unsigned i = 1; i <= 12; i++) {
        char *m = worm(i);
        const struct zh_result *r = scan_one_client(s, m, i, t0 + i * 1000, false);
        deferred |= r->verdict == ZH_VERDICT_DEFER;
        many_from |= has_rule(r, "many_from_addresses");
        free(m);
    }
    assert_true(deferred);
    assert_true(many_from);
    assert_int_equal(zh_engine_outbreaks(e, t0 + 13000, info, 4), 1);
    uint64_t total = info[0].total;
    /* Once known, a hunt still sees the state (the many-From client is
     * flagged) and still counts nothing. */
    char *m = worm(40);
    const struct zh_result *r = scan_one_client(s, m, 40, t0 + 13000, true);
    assert_true(has_rule(r, "many_from_addresses"));
    free(m);
    assert_int_equal(zh_engine_outbreaks(e, t0 + 13000, info, 4), 1);
    assert_int_equal(info[0].total, total);
    zh_scanner_free(s);
    zh_engine_free(e);
}

static void test_snapshot_roundtrip_and_bad_files(void **state)
{
    snprintf(state_path, sizeof state_path, "/tmp/zh-ob-test-%d.state", (int)getpid());
    unlink(state_path);
    zh_engine *e = new_engine(NULL, state_path);
    zh_scanner *s;
    zh_scanner_new(e, &s);
    int64_t t0 = 1075111200000;
    for (unsigned i = 1; i <= 6; i++) {
        char *m = worm(i);
        scan(s, m, i, t0 + i * 1000);
        free(m);
    }
    char err[256];
    assert_int_equal(zh_engine_save_state(e, err, sizeof err), ZH_ERR_OK);
    zh_scanner_free(s);
    zh_engine_free(e);
    /* A new engine restores the state: the next copy is flagged at once. */
    e = new_engine(NULL, state_path);
    zh_scanner_new(e, &s);
    char *m = worm(99);
    const struct zh_result *r = scan(s, m, 99, t0 + 60000);
    free(m);
    assert_true(has(r, "outbreak"));
    zh_scanner_free(s);
    zh_engine_free(e);
    /* Corrupt (flipped byte) and foreign files are refused, never trusted. */
    FILE *f = fopen(state_path, "r+b");
    fseek(f, 200, SEEK_SET);
    fputc(0x5a, f);
    fclose(f);
    struct zh_config cfg;
    zh_config_defaults(&cfg);
    struct zhi_outbreaks *ob;
    zhi_outbreaks_new(&cfg, &ob);
    assert_int_equal(zhi_outbreaks_load(ob, state_path, err, sizeof err), ZH_ERR_INVALID);
    assert_non_null(strstr(err, "corrupt"));
    assert_int_equal(zhi_outbreaks_used(ob), 0);
    f = fopen(state_path, "wb");
    fputs("this is not a snapshot\n", f);
    fclose(f);
    assert_int_equal(zhi_outbreaks_load(ob, state_path, err, sizeof err), ZH_ERR_INVALID);
    assert_non_null(strstr(err, "not a zerohour outbreak snapshot"));
    unlink(state_path);
    assert_int_equal(zhi_outbreaks_load(ob, state_path, err, sizeof err), ZH_ERR_OK);
    zhi_outbreaks_free(ob);
    zh_config_free(&cfg);
}

static bool exists_nofollow(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* The snapshot's temporary file is never a name another local user can plant
 * (an engine running as root overwrote a symlink's target); leftovers of a
 * killed engine are removed at start, but only regular files of ours; the
 * state file itself is read only if it is no symlink and is ours. */
static void test_snapshot_files_are_not_hijacked(void **state)
{
    char dir[] = "/tmp/zh-ob-files-XXXXXX", st_path[128], victim[128], p[160];
    assert_non_null(mkdtemp(dir));
    snprintf(st_path, sizeof st_path, "%s/outbreak.state", dir);
    snprintf(victim, sizeof victim, "%s/victim", dir);
    write_file(victim, "precious\n");
    /* The name releases up to now used, planted as a symlink. */
    snprintf(p, sizeof p, "%s.tmp.%d", st_path, (int)getpid());
    assert_int_equal(symlink(victim, p), 0);

    struct zh_config cfg;
    zh_config_defaults(&cfg);
    struct zhi_outbreaks *ob;
    assert_int_equal(zhi_outbreaks_new(&cfg, &ob), ZH_ERR_OK);
    struct zhi_ob_sighting si = {
        .fp = 42, .risky = true, .sender = "a@b.example", .client_ip = "192.0.2.1", .now_ms = 1000};
    struct zhi_ob_status obs;
    zhi_outbreaks_see(ob, &si, &obs);
    char err[256] = "";
    assert_int_equal(zhi_outbreaks_save(ob, st_path, err, sizeof err), ZH_ERR_OK);
    char got[64] = "";
    FILE *f = fopen(victim, "rb");
    assert_non_null(f);
    assert_non_null(fgets(got, sizeof got, f));
    fclose(f);
    assert_string_equal(got, "precious\n");
    struct stat st;
    assert_int_equal(lstat(st_path, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    assert_int_equal(st.st_mode & 0777, 0600);

    /* Orphans of both namings are removed; a symlink, someone else's file and
     * a name outside the pattern stay. */
    char orphan_new[160], orphan_old[160], link[160], foreign[160], other[160];
    snprintf(orphan_new, sizeof orphan_new, "%s.tmp.Ab12Cd", st_path);
    snprintf(orphan_old, sizeof orphan_old, "%s.tmp.4242", st_path);
    snprintf(link, sizeof link, "%s.tmp.Zz99Yy", st_path);
    snprintf(foreign, sizeof foreign, "%s.tmp.Fo3eig", st_path);
    snprintf(other, sizeof other, "%s.tmp.notours", st_path);
    write_file(orphan_new, "x");
    write_file(orphan_old, "x");
    write_file(other, "x");
    write_file(foreign, "x");
    bool can_chown = geteuid() == 0 && chown(foreign, 4242, 4242) == 0;
    assert_int_equal(symlink(victim, link), 0);
    struct zhi_outbreaks *ob2;
    assert_int_equal(zhi_outbreaks_new(&cfg, &ob2), ZH_ERR_OK);
    assert_int_equal(zhi_outbreaks_load(ob2, st_path, err, sizeof err), ZH_ERR_OK);
    assert_int_equal(zhi_outbreaks_used(ob2), 1);
    assert_false(exists_nofollow(orphan_new));
    assert_false(exists_nofollow(orphan_old));
    assert_true(exists_nofollow(link));
    assert_true(exists_nofollow(other));
    assert_true(exists_nofollow(victim));
    if (can_chown)
        assert_true(exists_nofollow(foreign));
    zhi_outbreaks_free(ob2);

    /* A symlinked state file is refused, and so is one others may write or
     * (when we can make one) one that belongs to someone else. */
    char alias[160];
    snprintf(alias, sizeof alias, "%s/alias.state", dir);
    assert_int_equal(symlink(st_path, alias), 0);
    assert_int_equal(zhi_outbreaks_new(&cfg, &ob2), ZH_ERR_OK);
    assert_int_equal(zhi_outbreaks_load(ob2, alias, err, sizeof err), ZH_ERR_INVALID);
    assert_non_null(strstr(err, "symbolic link"));
    assert_int_equal(chmod(st_path, 0666), 0);
    assert_int_equal(zhi_outbreaks_load(ob2, st_path, err, sizeof err), ZH_ERR_INVALID);
    assert_non_null(strstr(err, "not a regular file owned by"));
    assert_int_equal(chmod(st_path, 0600), 0);
    if (can_chown) {
        assert_int_equal(chown(st_path, 4242, 4242), 0);
        assert_int_equal(zhi_outbreaks_load(ob2, st_path, err, sizeof err), ZH_ERR_INVALID);
    }
    assert_int_equal(zhi_outbreaks_used(ob2), 0);
    zhi_outbreaks_free(ob2);
    zhi_outbreaks_free(ob);
    zh_config_free(&cfg);
    const char *all[] = {st_path, victim, p, link, foreign, other, alias};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++)
        unlink(all[i]);
    assert_int_equal(rmdir(dir), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_surge_defer_and_flag),
        cmocka_unit_test(test_bulk_clean_mail_never_escalates),
        cmocka_unit_test(test_unknown_type_surge),
        cmocka_unit_test(test_wrapper_kinds_are_risky),
        cmocka_unit_test(test_bounded_memory),
        cmocka_unit_test(test_million_unique_within_budget),
        cmocka_unit_test(test_snapshot_roundtrip_and_bad_files),
        cmocka_unit_test(test_snapshot_files_are_not_hijacked),
        cmocka_unit_test(test_no_observe_teaches_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
