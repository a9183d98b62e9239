/* libzerohour-client against real zerohourd processes: calls, clear errors
 * for unreachable engines and oversized messages, failover between two
 * engines, reconnection when an engine comes back, and many threads sharing
 * one client. Engines are started and stopped by the test itself. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "zerohour/client.h"

static char tmpdir[64];

/* Longest wait for an engine to come up or come back. A sanitizer build on a
 * busy machine takes seconds; this only bounds how long a failure takes. */
#define START_TIMEOUT_S 60.0

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void addr_of(char *buf, size_t n, const char *name)
{
    snprintf(buf, n, "ipc://%s/%s.sock", tmpdir, name);
}

/* Start zerohourd on addr (extra: one optional "--set" value); wait until it answers. */
static pid_t start_engine(const char *addr, const char *set)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        char log[128];
        snprintf(log, sizeof log, "%s/engine-%d.log", tmpdir, (int)getpid());
        if (!freopen(log, "w", stderr))
            _exit(127);
        const char *argv[12] = {ZH_BIN "/zerohourd",    "--address", addr, "--rules",
                                ZH_SOURCE_DIR "/rules", "--workers", "2"};
        int n = 7;
        if (set) {
            argv[n++] = "--set";
            argv[n++] = set;
        }
        argv[n] = NULL;
        execv(argv[0], (char **)argv);
        _exit(127);
    }
    zh_client *c;
    const char *a[] = {addr};
    struct zh_client_options o = {.timeout_ms = 1000, .connect_timeout_ms = 200};
    assert_int_equal(zh_client_open(&c, a, 1, &o), ZH_OK);
    for (double t0 = now_s(); now_s() - t0 < START_TIMEOUT_S;) {
        struct zh_ping_result *p;
        if (zh_client_ping(c, &p) == ZH_OK) {
            zh_ping_result_free(p);
            zh_client_close(c);
            return pid;
        }
        usleep(100000);
    }
    fail_msg("engine on %s did not come up", addr);
    return -1;
}

static void stop_engine(pid_t pid)
{
    int st;
    kill(pid, SIGTERM);
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
}

static const char CLEAN[] = "From: a@example.com\r\nSubject: hi\r\n\r\nhello\r\n";
static const char EICAR_MSG[] =
    "From: a@example.com\r\nSubject: t\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
    "--b\r\nContent-Type: text/plain\r\n\r\nx\r\n--b\r\nContent-Type: application/octet-stream; "
    "name=e.com\r\n\r\nX5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*\r\n"
    "--b--\r\n";

static void test_unreachable(void **state)
{
    char addr[128];
    addr_of(addr, sizeof addr, "nobody");
    zh_client *c;
    const char *a[] = {addr};
    /* Unreachable is told after the connect timeout, not after the call
     * timeout, which is set far beyond anything a busy machine adds. */
    struct zh_client_options o = {.timeout_ms = 600000, .connect_timeout_ms = 1000};
    assert_int_equal(zh_client_open(&c, a, 1, &o), ZH_OK);
    double t0 = now_s();
    struct zh_ping_result *p = NULL;
    assert_int_equal(zh_client_ping(c, &p), ZH_E_UNREACHABLE);
    assert_true(now_s() - t0 < 300.0);
    assert_non_null(strstr(zh_client_last_error(), "nobody.sock"));
    assert_string_not_equal(zh_client_strerror(ZH_E_UNREACHABLE), "");
    zh_client_close(c);
    const char *bad[] = {"nonsense://x"};
    assert_int_equal(zh_client_open(&c, bad, 1, NULL), ZH_E_ADDRESS);
    assert_int_equal(zh_client_open(&c, a, 0, NULL), ZH_E_INVAL);
}

static void test_calls(void **state)
{
    char addr[128];
    addr_of(addr, sizeof addr, "calls");
    pid_t pid = start_engine(addr, "limits.max_message_bytes=64K");
    zh_client *c;
    const char *a[] = {addr};
    assert_int_equal(zh_client_open(&c, a, 1, NULL), ZH_OK);

    struct zh_ping_result *p;
    assert_int_equal(zh_client_ping(c, &p), ZH_OK);
    assert_int_equal(p->max_message_bytes, 64 * 1024);
    assert_int_equal(p->workers, 2);
    zh_ping_result_free(p);

    const char *rcpt[] = {"b@example.org"};
    struct zh_envelope env = {.client_ip = "192.0.2.1",
                              .helo = "mx.example.com",
                              .mail_from = "a@example.com",
                              .rcpt_to = rcpt,
                              .n_rcpt = 1};
    struct zh_scan_result *r;
    assert_int_equal(zh_client_scan(c, CLEAN, sizeof CLEAN - 1, &env, "id-1", 0, &r), ZH_OK);
    assert_int_equal(r->verdict, ZH_VERDICT_CLEAN);
    assert_string_equal(r->request_id, "id-1");
    assert_true(r->ruleset_version > 0);
    zh_scan_result_free(r);
    assert_int_equal(zh_client_scan(c, EICAR_MSG, sizeof EICAR_MSG - 1, NULL, NULL, 0, &r), ZH_OK);
    assert_int_equal(r->verdict, ZH_VERDICT_MALICIOUS);
    assert_true(r->n_hits >= 1);
    assert_string_equal(r->hits[0].rule, "EICAR_Test_File");
    assert_string_equal(r->hits[0].object, "2/e.com");
    assert_string_equal(r->hits[0].family, "EICAR-Test-File");
    assert_true(r->hits[0].n_aliases >= 1);
    zh_scan_result_free(r);

    /* Input that is not mail is scanned too, as one object; only nothing is refused. */
    assert_int_equal(zh_client_scan(c, "\x01\x02\x03", 3, NULL, NULL, 0, &r), ZH_OK);
    assert_int_equal(r->verdict, ZH_VERDICT_SUSPICIOUS);
    assert_string_equal(r->hits[0].rule, "not_a_message");
    zh_scan_result_free(r);
    assert_int_equal(zh_client_scan(c, "", 0, NULL, NULL, 0, &r), ZH_E_INVALID_ARGUMENT);
    assert_non_null(strstr(zh_client_last_error(), "empty"));

    /* Larger than the engine accepts: refused locally, naming both sizes. */
    size_t big = 100 * 1024;
    char *buf = malloc(big);
    memset(buf, 'x', big);
    memcpy(buf, "Subject: big\r\n\r\n", 16);
    assert_int_equal(zh_client_scan(c, buf, big, NULL, NULL, 0, &r), ZH_E_TOOBIG);
    assert_non_null(strstr(zh_client_last_error(), "65536"));
    free(buf);

    /* Files. */
    char path[128];
    snprintf(path, sizeof path, "%s/m.eml", tmpdir);
    FILE *f = fopen(path, "w");
    fputs(CLEAN, f);
    fclose(f);
    assert_int_equal(zh_client_scan_file(c, path, NULL, NULL, 0, &r), ZH_OK);
    assert_int_equal(r->verdict, ZH_VERDICT_CLEAN);
    zh_scan_result_free(r);
    assert_int_equal(zh_client_scan_file(c, "/nonexistent/m.eml", NULL, NULL, 0, &r), ZH_E_IO);

    struct zh_stats_result *s;
    assert_int_equal(zh_client_stats(c, "scans", &s), ZH_OK);
    int found = 0;
    for (size_t i = 0; i < s->n_entries; i++)
        if (!strcmp(s->entries[i].key, "scans") && atoi(s->entries[i].value) >= 3)
            found = 1;
    assert_true(found);
    zh_stats_result_free(s);
    assert_int_equal(zh_client_stats(c, "nosuchsection", &s), ZH_E_INVALID_ARGUMENT);

    struct zh_reload_result *rl;
    assert_int_equal(zh_client_reload(c, &rl), ZH_OK);
    assert_true(rl->ok);
    assert_true(rl->rule_count >= 2);
    zh_reload_result_free(rl);

    zh_client_close(c);
    stop_engine(pid);
}

static void test_failover_and_reconnect(void **state)
{
    char a1[128], a2[128];
    addr_of(a1, sizeof a1, "one");
    addr_of(a2, sizeof a2, "two");
    pid_t p1 = start_engine(a1, NULL);
    zh_client *c;
    const char *a[] = {a1, a2};
    struct zh_client_options o = {.timeout_ms = 5000, .connect_timeout_ms = 3000};
    /* a2 is down when the client opens: it must be dialled in the background. */
    assert_int_equal(zh_client_open(&c, a, 2, &o), ZH_OK);
    pid_t p2 = start_engine(a2, NULL);
    struct zh_scan_result *r;
    for (int i = 0; i < 10; i++) {
        assert_int_equal(zh_client_scan(c, CLEAN, sizeof CLEAN - 1, NULL, NULL, 0, &r), ZH_OK);
        zh_scan_result_free(r);
    }
    stop_engine(p1);
    for (int i = 0; i < 10; i++) {
        int rc = zh_client_scan(c, CLEAN, sizeof CLEAN - 1, NULL, NULL, 0, &r);
        if (rc != ZH_OK)
            fail_msg("scan %d after failover: %s: %s", i, zh_client_strerror(rc),
                     zh_client_last_error());
        zh_scan_result_free(r);
    }
    stop_engine(p2);
    assert_int_not_equal(zh_client_scan(c, CLEAN, sizeof CLEAN - 1, NULL, NULL, 0, &r), ZH_OK);
    p1 = start_engine(a1, NULL);
    int ok = 0;
    for (double t0 = now_s(); !ok && now_s() - t0 < START_TIMEOUT_S;) {
        if (zh_client_scan(c, CLEAN, sizeof CLEAN - 1, NULL, NULL, 0, &r) == ZH_OK) {
            ok = 1;
            zh_scan_result_free(r);
        } else {
            usleep(100000);
        }
    }
    assert_true(ok);
    zh_client_close(c);
    stop_engine(p1);
}

struct thread_arg {
    zh_client *c;
    int ok, fail;
};

static void *hammer(void *p)
{
    struct thread_arg *t = p;
    for (int i = 0; i < 100; i++) {
        struct zh_scan_result *r = NULL;
        const char *m = i % 5 ? CLEAN : EICAR_MSG;
        size_t n = i % 5 ? sizeof CLEAN - 1 : sizeof EICAR_MSG - 1;
        if (zh_client_scan(t->c, m, n, NULL, NULL, 0, &r) == ZH_OK &&
            r->verdict == (i % 5 ? ZH_VERDICT_CLEAN : ZH_VERDICT_MALICIOUS))
            t->ok++;
        else
            t->fail++;
        if (r)
            zh_scan_result_free(r);
    }
    return NULL;
}

static void test_threads_share_a_client(void **state)
{
    char addr[128];
    addr_of(addr, sizeof addr, "threads");
    pid_t pid = start_engine(addr, NULL);
    zh_client *c;
    const char *a[] = {addr};
    assert_int_equal(zh_client_open(&c, a, 1, NULL), ZH_OK);
    pthread_t th[8];
    struct thread_arg args[8] = {0};
    for (int i = 0; i < 8; i++) {
        args[i].c = c;
        pthread_create(&th[i], NULL, hammer, &args[i]);
    }
    int ok = 0;
    for (int i = 0; i < 8; i++) {
        pthread_join(th[i], NULL);
        ok += args[i].ok;
        assert_int_equal(args[i].fail, 0);
    }
    assert_int_equal(ok, 800);
    zh_client_close(c);
    stop_engine(pid);
}

struct killer {
    pid_t pid;
};

static void *kill_soon(void *arg)
{
    struct killer *k = arg;
    usleep(200000); /* ordering only: the outcome is the same if it comes first */
    kill(k->pid, SIGKILL);
    return NULL;
}

/* An engine that dies with a request in flight fails the call at once (the
 * connection closes), not after the call timeout, set here far beyond
 * anything a busy machine adds. */
static void test_engine_death_fails_call_at_once(void **state)
{
    char addr[128];
    addr_of(addr, sizeof addr, "dies");
    pid_t pid = start_engine(addr, NULL);
    zh_client *c;
    const char *a[] = {addr};
    struct zh_client_options o = {
        .timeout_ms = 600000, .connect_timeout_ms = 1000, .max_message_bytes = 1 << 20};
    assert_int_equal(zh_client_open(&c, a, 1, &o), ZH_OK);
    struct zh_ping_result *p;
    assert_int_equal(zh_client_ping(c, &p), ZH_OK); /* connected */
    zh_ping_result_free(p);
    /* The engine takes the request but never answers. kill() only queues
     * the stop: wait until it has taken effect. */
    int st;
    kill(pid, SIGSTOP);
    assert_int_equal(waitpid(pid, &st, WUNTRACED), pid);
    assert_true(WIFSTOPPED(st));
    struct killer k = {pid};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, kill_soon, &k), 0);
    double t0 = now_s();
    struct zh_scan_result *r = NULL;
    assert_int_equal(zh_client_scan(c, CLEAN, sizeof CLEAN - 1, NULL, NULL, 0, &r),
                     ZH_E_UNREACHABLE);
    assert_true(now_s() - t0 < 300.0);
    assert_null(r);
    pthread_join(t, NULL);
    assert_int_equal(waitpid(pid, &st, 0), pid);
    zh_client_close(c);
}

/* A client told a larger limit than the engine's sends a request the
 * engine's socket drops (nng closes the connection; no reply can come): the
 * call fails at once with ZH_E_TOOBIG and the engine's limit, and the engine
 * serves on. */
static void test_oversize_beyond_engine_socket(void **state)
{
    char addr[128];
    addr_of(addr, sizeof addr, "oversize");
    pid_t pid = start_engine(addr, "limits.max_message_bytes=64K");
    zh_client *c;
    const char *a[] = {addr};
    struct zh_client_options o = {
        .timeout_ms = 600000, .connect_timeout_ms = 5000, .max_message_bytes = 64 << 20};
    assert_int_equal(zh_client_open(&c, a, 1, &o), ZH_OK);
    size_t big = 4 << 20;
    char *buf = malloc(big);
    memset(buf, 'x', big);
    memcpy(buf, "Subject: big\r\n\r\n", 16);
    double t0 = now_s();
    struct zh_scan_result *r = NULL;
    assert_int_equal(zh_client_scan(c, buf, big, NULL, NULL, 0, &r), ZH_E_TOOBIG);
    assert_true(now_s() - t0 < 300.0);
    assert_non_null(strstr(zh_client_last_error(), "at most 65536"));
    assert_non_null(strstr(zh_client_last_error(), "closed the connection"));
    free(buf);
    struct zh_ping_result *p;
    assert_int_equal(zh_client_ping(c, &p), ZH_OK);
    zh_ping_result_free(p);
    zh_client_close(c);
    stop_engine(pid);
}

int main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/zh-client-test-XXXXXX");
    if (!mkdtemp(tmpdir))
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unreachable),
        cmocka_unit_test(test_calls),
        cmocka_unit_test(test_failover_and_reconnect),
        cmocka_unit_test(test_threads_share_a_client),
        cmocka_unit_test(test_engine_death_fails_call_at_once),
        cmocka_unit_test(test_oversize_beyond_engine_socket),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    if (system(cmd) != 0)
        rc = rc ? rc : 1;
    return rc;
}
