/* The store of recent scans (engine/src/store.c), through its internal API
 * with scan records made here: a wave of copies keeps one file; retention
 * and the byte budget forget the oldest first and keep bytes a newer message
 * shares; a corrupt index is moved aside and rebuilt; a full queue drops and
 * counts; a file-size limit (a full disk) keeps metadata and counts; a
 * directory others could write to, or a symbolic link, is refused; with the
 * store off the engine writes nothing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "hunt.h"
#include "store.h"
#include "zhi.h"

static char dir[64];

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/zh-store-test-XXXXXX");
    assert_non_null(mkdtemp(dir));
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static char *store_path(const char *leaf)
{
    static char p[256];
    snprintf(p, sizeof p, "%s/store%s%s", dir, *leaf ? "/" : "", leaf);
    return p;
}

static struct zhi_store *open_store(const char *const *settings)
{
    struct zh_config cfg;
    struct zhi_store *st = NULL;
    char err[512] = "";
    assert_int_equal(zh_config_defaults(&cfg), ZH_ERR_OK);
    zh_config_set(&cfg, "store.enabled", "1", NULL, 0);
    zh_config_set(&cfg, "store.directory", store_path(""), NULL, 0);
    for (; settings && *settings; settings += 2)
        assert_int_equal(zh_config_set(&cfg, settings[0], settings[1], err, sizeof err), ZH_ERR_OK);
    assert_int_equal(zh_config_check(&cfg, err, sizeof err), ZH_ERR_OK);
    zh_err rc = zhi_store_open(&cfg, &st, err, sizeof err);
    if (rc != ZH_ERR_OK)
        print_error("zhi_store_open: %s\n", err);
    assert_int_equal(rc, ZH_ERR_OK);
    zh_config_free(&cfg);
    return st;
}

/* One scanned message: a text body and one attachment of `len` bytes whose
 * content is `fill` repeated, sent to rcpt at `at`. */
static void offer(struct zhi_store *st, int64_t at, const char *rcpt, unsigned char fill,
                  size_t len, int verdict)
{
    static uint8_t body[] = "hello";
    uint8_t *att = malloc(len);
    memset(att, fill, len);
    const char *rcpts[] = {rcpt};
    struct zh_scan_envelope env = {.client_ip = "192.0.2.7",
                                   .helo = "pc",
                                   .mail_from = "w@example.net",
                                   .rcpt_to = rcpts,
                                   .n_rcpt = 1,
                                   .received_at = at,
                                   .queue_id = "4TqL2c1Xz9"};
    struct zhi_object objs[] = {
        {.path = "1",
         .filename = NULL,
         .ext = "",
         .declared_type = "text/plain",
         .kind = ZHI_K_TEXT,
         .data = body,
         .len = 5,
         .parent = -1},
        {.path = "2/doc.pif",
         .filename = "doc.pif",
         .ext = "pif",
         .declared_type = "application/octet-stream",
         .sniffed = ZHI_T_PE,
         .kind = ZHI_K_ATTACHMENT,
         .data = att,
         .len = len,
         .parent = -1},
    };
    struct zhi_scan s = {.env = &env,
                         .received_at = at,
                         .subject = "hi",
                         .message_id = "1@example.net",
                         .from = "",
                         .objects = objs,
                         .n_objects = 2};
    snprintf(s.fingerprint, sizeof s.fingerprint, "%016x", fill);
    struct zh_result_hit hit = {.detector = "executable",
                                .rule = "executable_name",
                                .object = "2/doc.pif",
                                .detail = "",
                                .family = "",
                                .score = 50};
    struct zh_result r = {.status = 0, .verdict = verdict, .score = 50, .hits = &hit, .n_hits = 1};
    zhi_store_offer(st, &s, &r);
    free(att);
}

static int count_msg(void *ud, const struct zhi_store_message *m)
{
    (void)m;
    ++*(int *)ud;
    return 0;
}

static int by_hash(struct zhi_store *st, unsigned char fill, size_t len)
{
    /* the hash of `len` bytes of `fill`, as the store computed it */
    struct zhi_store_counters c;
    zhi_store_counters(st, &c);
    uint8_t *b = malloc(len);
    memset(b, fill, len);
    char cmd[256], hex[65] = "";
    char path[128];
    snprintf(path, sizeof path, "%s/blob", dir);
    FILE *f = fopen(path, "wb");
    fwrite(b, 1, len, f);
    fclose(f);
    free(b);
    snprintf(cmd, sizeof cmd, "sha256sum '%s'", path);
    FILE *p = popen(cmd, "r");
    assert_int_equal(fscanf(p, "%64s", hex), 1);
    pclose(p);
    int n = 0;
    char err[256];
    const char *h = hex;
    assert_int_equal(zhi_store_messages_by_hash(st, 0, &h, 1, count_msg, &n, err, sizeof err),
                     ZH_ERR_OK);
    return n;
}

static size_t files_in(const char *d)
{
    char cmd[300];
    snprintf(cmd, sizeof cmd, "ls -A '%s' | wc -l", d);
    FILE *p = popen(cmd, "r");
    size_t n = 0;
    assert_int_equal(fscanf(p, "%zu", &n), 1);
    pclose(p);
    return n;
}

/* A wave of 200 copies of one attachment keeps one file, 0600 in 0700
 * directories, and every copy's message is found by its hash. */
static void test_dedupe(void **state)
{
    (void)state;
    struct zhi_store *st = open_store(NULL);
    int64_t now = zhi_unix_ms();
    for (int i = 0; i < 200; i++) {
        char rcpt[64];
        snprintf(rcpt, sizeof rcpt, "user%d@corp.example", i);
        offer(st, now + i, rcpt, 'A', 30000, 1);
    }
    zhi_store_flush(st);
    struct zhi_store_counters c;
    zhi_store_counters(st, &c);
    assert_int_equal(c.stored, 200);
    assert_int_equal(c.messages, 200);
    assert_int_equal(c.blobs, 1);
    assert_int_equal(c.blob_bytes, 30000);
    assert_int_equal(c.dropped, 0);
    assert_int_equal(files_in(store_path("objects")), 1);
    struct stat sb;
    assert_int_equal(stat(store_path(""), &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0700);
    assert_int_equal(stat(store_path("objects"), &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0700);
    assert_int_equal(stat(store_path("index.db"), &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    assert_int_equal(by_hash(st, 'A', 30000), 200);
    assert_int_equal(by_hash(st, 'B', 30000), 0);
    zhi_store_close(st);
}

/* Past the retention, messages go; the file of a payload only old mail
 * carried goes with them, one a newer message shares stays. */
static void test_retention(void **state)
{
    (void)state;
    const char *set[] = {"store.retention", "1h", NULL};
    struct zhi_store *st = open_store(set);
    int64_t now = zhi_unix_ms();
    int64_t old = now - 2 * 3600 * 1000;
    offer(st, old, "a@corp.example", 'O', 1000, 2); /* old only */
    offer(st, old, "b@corp.example", 'S', 1000, 2); /* shared ... */
    offer(st, now, "c@corp.example", 'S', 1000, 2); /* ... with a new one */
    offer(st, now, "d@corp.example", 'N', 1000, 1); /* new only */
    zhi_store_flush(st);
    zhi_store_maintain(st, now);
    struct zhi_store_counters c;
    zhi_store_counters(st, &c);
    assert_int_equal(c.messages, 2);
    assert_int_equal(c.expired, 2);
    assert_int_equal(c.blobs, 2);
    assert_int_equal(files_in(store_path("objects")), 2);
    assert_int_equal(by_hash(st, 'O', 1000), 0);
    assert_int_equal(by_hash(st, 'S', 1000), 1);
    assert_int_equal(by_hash(st, 'N', 1000), 1);
    zhi_store_close(st);
    /* what remains survives a restart */
    st = open_store(set);
    zhi_store_counters(st, &c);
    assert_int_equal(c.messages, 2);
    assert_int_equal(c.blobs, 2);
    zhi_store_close(st);
}

/* Over max_bytes the oldest messages are forgotten until the store fits
 * again; the newest stay. */
static void test_budget(void **state)
{
    (void)state;
    const char *set[] = {"store.max_bytes", "2M", "store.max_object_bytes", "256K", NULL};
    struct zhi_store *st = open_store(set);
    int64_t now = zhi_unix_ms();
    for (int i = 0; i < 40; i++) {
        offer(st, now + i, "a@corp.example", (unsigned char)('a' + i % 40), 100000, 1);
        if (i % 8 == 7)
            zhi_store_flush(st);
    }
    zhi_store_flush(st);
    zhi_store_maintain(st, now + 40);
    struct zhi_store_counters c;
    zhi_store_counters(st, &c);
    print_message("messages %llu evicted %llu blobs %llu blob_bytes %llu index %llu\n",
                  (unsigned long long)c.messages, (unsigned long long)c.evicted,
                  (unsigned long long)c.blobs, (unsigned long long)c.blob_bytes,
                  (unsigned long long)c.index_bytes);
    assert_true(c.evicted > 0);
    assert_true(c.blob_bytes + c.index_bytes <= 2 * 1024 * 1024);
    assert_int_equal(c.messages + c.evicted, 40);
    assert_int_equal(files_in(store_path("objects")), c.blobs);
    /* the newest survived, the oldest did not */
    assert_int_equal(by_hash(st, (unsigned char)('a' + 39), 100000), 1);
    assert_int_equal(by_hash(st, 'a', 100000), 0);
    zhi_store_close(st);
}

/* An index that is not a database is moved aside and rebuilt: the store
 * starts empty and works. */
static void test_corrupt_index(void **state)
{
    (void)state;
    struct zhi_store *st = open_store(NULL);
    offer(st, zhi_unix_ms(), "a@corp.example", 'C', 5000, 1);
    zhi_store_close(st);
    FILE *f = fopen(store_path("index.db"), "r+b");
    assert_non_null(f);
    char junk[8192];
    memset(junk, 0x5a, sizeof junk);
    fwrite(junk, 1, sizeof junk, f);
    fclose(f);
    st = open_store(NULL);
    struct zhi_store_counters c;
    zhi_store_counters(st, &c);
    assert_int_equal(c.rebuilds, 1);
    assert_int_equal(c.messages, 0);
    assert_int_equal(files_in(store_path("objects")), 0);
    struct stat sb;
    assert_int_equal(stat(store_path("index.db.corrupt"), &sb), 0);
    offer(st, zhi_unix_ms(), "b@corp.example", 'D', 5000, 1);
    zhi_store_flush(st);
    zhi_store_counters(st, &c);
    assert_int_equal(c.stored, 1);
    assert_int_equal(c.messages, 1);
    zhi_store_close(st);
}

/* A full queue drops (and counts) instead of making the scan wait. */
static void test_full_queue(void **state)
{
    (void)state;
    const char *set[] = {"store.queue_length", "4", NULL};
    struct zhi_store *st = open_store(set);
    zhi_store_flush(st); /* the writer is idle: holding it now holds the queue */
    zhi_store_hold(st, true);
    for (int i = 0; i < 10; i++)
        offer(st, zhi_unix_ms(), "a@corp.example", 'Q', 2000, 1);
    struct zhi_store_counters c;
    zhi_store_counters(st, &c);
    assert_int_equal(c.queued, 4);
    assert_int_equal(c.dropped, 6);
    assert_int_equal(c.queue_len, 4);
    zhi_store_hold(st, false);
    zhi_store_flush(st);
    zhi_store_counters(st, &c);
    assert_int_equal(c.stored, 4);
    assert_int_equal(c.queue_len, 0);
    zhi_store_close(st);
}

/* A disk that refuses to grow (a file-size limit here): the message is
 * stored without its bytes, the error is counted, nothing crashes. */
static void test_disk_full(void **state)
{
    (void)state;
    struct zhi_store *st = open_store(NULL);
    offer(st, zhi_unix_ms(), "a@corp.example", 'E', 1000, 1);
    zhi_store_flush(st);
    signal(SIGXFSZ, SIG_IGN);
    struct rlimit old, lim;
    getrlimit(RLIMIT_FSIZE, &old);
    lim = old;
    lim.rlim_cur = 512 * 1024;
    setrlimit(RLIMIT_FSIZE, &lim);
    offer(st, zhi_unix_ms(), "b@corp.example", 'F', 600 * 1024, 1);
    zhi_store_flush(st);
    setrlimit(RLIMIT_FSIZE, &old);
    struct zhi_store_counters c;
    zhi_store_counters(st, &c);
    assert_true(c.write_errors >= 1);
    assert_int_equal(c.messages, 2);
    assert_int_equal(c.blobs, 1);
    assert_int_equal(files_in(store_path("objects")), 1);
    /* Now the index itself cannot grow: the batch is lost and counted, the
     * files it wrote are removed, and the store works again afterwards. */
    lim.rlim_cur = 1024;
    setrlimit(RLIMIT_FSIZE, &lim);
    for (int i = 0; i < 50; i++)
        offer(st, zhi_unix_ms(), "c@corp.example", (unsigned char)('g' + i % 20), 600, 1);
    zhi_store_flush(st);
    setrlimit(RLIMIT_FSIZE, &old);
    zhi_store_counters(st, &c);
    assert_true(c.lost >= 1);
    assert_int_equal(c.messages + c.lost, 52);
    assert_int_equal(files_in(store_path("objects")), c.blobs);
    offer(st, zhi_unix_ms(), "d@corp.example", 'H', 1000, 1);
    zhi_store_flush(st);
    struct zhi_store_counters after;
    zhi_store_counters(st, &after);
    assert_int_equal(after.stored, c.stored + 1);
    zhi_store_close(st);
    /* and it opens again, consistent */
    st = open_store(NULL);
    zhi_store_counters(st, &after);
    assert_int_equal(after.rebuilds, 0);
    assert_int_equal(after.messages, c.messages + 1);
    zhi_store_close(st);
}

/* Privacy requests: by age, then by Message-ID; kept files go with the
 * last message that shares them. */
static void test_forget(void **state)
{
    (void)state;
    struct zhi_store *st = open_store(NULL);
    int64_t now = zhi_unix_ms();
    for (int i = 0; i < 3; i++)
        offer(st, now - 3 * 3600 * 1000 + i, "old@corp.example", 'X', 1000, 1);
    offer(st, now, "a@corp.example", 'Y', 1000, 1);
    offer(st, now, "b@corp.example", 'X', 1000, 1);
    uint64_t n = 0;
    assert_int_equal(zhi_store_forget(st, NULL, 3600 * 1000, &n), ZH_ERR_OK);
    assert_int_equal(n, 3);
    struct zhi_store_counters c;
    zhi_store_counters(st, &c);
    assert_int_equal(c.messages, 2);
    assert_int_equal(c.blobs, 2); /* X is still shared by the newer message */
    assert_int_equal(zhi_store_forget(st, "no-such-id@example.net", 0, &n), ZH_ERR_OK);
    assert_int_equal(n, 0);
    assert_int_equal(zhi_store_forget(st, "1@example.net", 0, &n), ZH_ERR_OK);
    assert_int_equal(n, 2);
    zhi_store_counters(st, &c);
    assert_int_equal(c.messages, 0);
    assert_int_equal(c.blobs, 0);
    assert_int_equal(files_in(store_path("objects")), 0);
    zhi_store_close(st);
}

static struct zhi_hunt *hunt_wait(struct zhi_store *st, const struct zh_config *cfg,
                                  const struct zh_hunt_request *req, bool cancel,
                                  struct zh_hunt_status *out)
{
    struct zhi_hunt *h = NULL;
    char err[512] = "";
    assert_int_equal(zhi_hunt_start(st, cfg, req, 7, &h, err, sizeof err), ZH_ERR_OK);
    if (cancel)
        zhi_hunt_cancel(h);
    for (int i = 0; i < 60000 && zhi_hunt_running(h); i++)
        usleep(1000); /* a polled deadline: a loaded machine may be slow */
    assert_false(zhi_hunt_running(h));
    assert_int_equal(zhi_hunt_status(h, 0, 0, out), ZH_ERR_OK);
    return h;
}

/* A hunt can be cancelled or bounded by a deadline, and reports what it did;
 * a full one scans each distinct object once. */
static void test_hunt_cancel_deadline(void **state)
{
    (void)state;
    const char *set[] = {"store.max_bytes", "1G", NULL};
    struct zhi_store *st = open_store(set);
    struct zh_rules_report rep = {0};
    zh_rules_check(ZH_SOURCE_DIR "/rules", &rep); /* libyara initialised once */
    zh_rules_report_free(&rep);
    int64_t now = zhi_unix_ms();
    for (int i = 0; i < 2000; i++) {
        offer(st, now, "a@corp.example", 'Z', 30000 + (size_t)i, 1);
        if (i % 100 == 99)
            zhi_store_flush(st);
    }
    offer(st, now, "b@corp.example", 'Z', 30000, 1); /* a second copy of the first */
    zhi_store_flush(st);
    struct zh_config cfg;
    zh_config_defaults(&cfg);
    zh_config_set(&cfg, "store.hunt_cpu_percent", "100", NULL, 0);
    struct zh_hunt_rule rule = {"t.yar", "rule Z_Run { strings: $z = { 5a 5a 5a 5a } "
                                         "condition: $z and filesize == 30000 }"};
    struct zh_hunt_request req = {.rules = &rule, .n_rules = 1};
    struct zh_hunt_status s;
    struct zhi_hunt *h = hunt_wait(st, &cfg, &req, true, &s);
    assert_int_equal(s.state, ZH_HUNT_CANCELLED);
    assert_int_equal(s.objects_total, 2000);
    assert_true(s.objects_done < 2000);
    zh_hunt_status_free(&s);
    zhi_hunt_free(h);
    req.deadline_ms = 1;
    h = hunt_wait(st, &cfg, &req, false, &s);
    assert_int_equal(s.state, ZH_HUNT_EXPIRED);
    assert_true(s.objects_done < 2000);
    zh_hunt_status_free(&s);
    zhi_hunt_free(h);
    req.deadline_ms = 0;
    h = hunt_wait(st, &cfg, &req, false, &s);
    assert_int_equal(s.state, ZH_HUNT_DONE);
    assert_int_equal(s.objects_done, 2000);
    assert_int_equal(s.n_messages, 2); /* both copies of the one matching object */
    assert_string_equal(s.messages[0].rules[0], "Z_Run");
    assert_false(s.truncated);
    zh_hunt_status_free(&s);
    /* the list in pages */
    assert_int_equal(zhi_hunt_status(h, 1, 5, &s), ZH_ERR_OK);
    assert_int_equal(s.n_messages, 1);
    assert_int_equal(s.messages_total, 2);
    assert_string_equal(s.messages[0].rcpt_to[0], "b@corp.example");
    zh_hunt_status_free(&s);
    assert_int_equal(zhi_hunt_status(h, 2, 5, &s), ZH_ERR_OK);
    assert_int_equal(s.n_messages, 0);
    zh_hunt_status_free(&s);
    zhi_hunt_free(h);
    /* a hunt lists at most hunt_max_messages, and says so */
    zh_config_set(&cfg, "store.hunt_max_messages", "1", NULL, 0);
    h = hunt_wait(st, &cfg, &req, false, &s);
    assert_int_equal(s.n_messages, 1);
    assert_true(s.truncated);
    zh_hunt_status_free(&s);
    zhi_hunt_free(h);
    /* rules that do not compile are refused at the start, with the name */
    struct zh_hunt_rule bad = {"bad.yar", "rule B { condition: nope }"};
    struct zh_hunt_request breq = {.rules = &bad, .n_rules = 1};
    char err[512] = "";
    assert_int_equal(zhi_hunt_start(st, &cfg, &breq, 8, &h, err, sizeof err), ZH_ERR_INVALID);
    assert_non_null(strstr(err, "bad.yar:1"));
    zh_config_free(&cfg);
    zhi_store_close(st);
}

/* The directory must be the engine user's and closed to others. */
static void test_refuses_open_directory(void **state)
{
    (void)state;
    struct zh_config cfg;
    struct zhi_store *st = NULL;
    char err[512] = "";
    zh_config_defaults(&cfg);
    zh_config_set(&cfg, "store.enabled", "1", NULL, 0);
    zh_config_set(&cfg, "store.directory", store_path(""), NULL, 0);
    assert_int_equal(mkdir(store_path(""), 0755), 0);
    chmod(store_path(""), 0755);
    assert_int_not_equal(zhi_store_open(&cfg, &st, err, sizeof err), ZH_ERR_OK);
    assert_non_null(strstr(err, "0700"));
    rmdir(store_path(""));
    char target[128];
    snprintf(target, sizeof target, "%s/elsewhere", dir);
    assert_int_equal(mkdir(target, 0700), 0);
    assert_int_equal(symlink(target, store_path("")), 0);
    err[0] = 0;
    assert_int_not_equal(zhi_store_open(&cfg, &st, err, sizeof err), ZH_ERR_OK);
    assert_non_null(strstr(err, "symbolic link"));
    assert_int_equal(files_in(target), 0);
    /* and a relative directory is refused by the configuration check */
    zh_config_set(&cfg, "store.directory", "relative/store", NULL, 0);
    assert_int_equal(zh_config_check(&cfg, err, sizeof err), ZH_ERR_INVALID);
    assert_non_null(strstr(err, "absolute"));
    zh_config_free(&cfg);
}

/* Off by default: an engine given a directory but not enabled writes nothing. */
static void test_off_by_default(void **state)
{
    (void)state;
    struct zh_config cfg;
    zh_engine *e = NULL;
    zh_scanner *sc = NULL;
    const struct zh_result *r;
    zh_config_defaults(&cfg);
    assert_int_equal(cfg.store_enabled, 0);
    zh_config_set(&cfg, "rules_dir", ZH_SOURCE_DIR "/rules", NULL, 0);
    zh_config_set(&cfg, "rule_profile_interval_ms", "0", NULL, 0);
    zh_config_set(&cfg, "store.directory", store_path(""), NULL, 0);
    assert_int_equal(zh_engine_new(&cfg, &e, NULL), ZH_ERR_OK);
    assert_int_equal(zh_scanner_new(e, &sc), ZH_ERR_OK);
    static const char msg[] = "From: a@example.com\r\nSubject: x\r\n\r\nhello\r\n";
    zh_scanner_scan(sc, (const uint8_t *)msg, sizeof msg - 1, NULL, 0, &r);
    assert_int_equal(r->status, 0);
    zh_scanner_free(sc);
    zh_engine_free(e);
    zh_config_free(&cfg);
    struct stat sb;
    assert_int_not_equal(stat(store_path(""), &sb), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_dedupe, setup, teardown),
        cmocka_unit_test_setup_teardown(test_retention, setup, teardown),
        cmocka_unit_test_setup_teardown(test_budget, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_index, setup, teardown),
        cmocka_unit_test_setup_teardown(test_full_queue, setup, teardown),
        cmocka_unit_test_setup_teardown(test_disk_full, setup, teardown),
        cmocka_unit_test_setup_teardown(test_forget, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hunt_cancel_deadline, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refuses_open_directory, setup, teardown),
        cmocka_unit_test_setup_teardown(test_off_by_default, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
