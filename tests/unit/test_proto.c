/* The wire contract: call/reply envelopes round-trip through protobuf-c,
 * names are stable, the default address follows the documented order, and
 * garbage never decodes into a call. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "zerohour/wire.h"

static void test_call_roundtrip(void **state)
{
    Zerohour__V1__ScanRequest req = ZEROHOUR__V1__SCAN_REQUEST__INIT;
    Zerohour__V1__SmtpEnvelope env = ZEROHOUR__V1__SMTP_ENVELOPE__INIT;
    char *rcpt[] = {"a@example.org", "b@example.org"};
    req.request_id = "r-1";
    req.deadline_ms = 1500;
    req.message.data = (uint8_t *)"Subject: x\r\n\r\nbody";
    req.message.len = 19;
    env.client_ip = "192.0.2.1";
    env.rcpt_to = rcpt;
    env.n_rcpt_to = 2;
    env.received_at = 1075111200000;
    req.envelope = &env;
    size_t len;
    uint8_t *buf = zh_wire_pack_call("Scan", &req.base, &len);
    assert_non_null(buf);
    Zerohour__V1__Call *call = zerohour__v1__call__unpack(NULL, len, buf);
    assert_non_null(call);
    assert_string_equal(call->method, "Scan");
    const ProtobufCMethodDescriptor *m = protobuf_c_service_descriptor_get_method_by_name(
        &zerohour__v1__zero_hour__descriptor, call->method);
    assert_non_null(m);
    Zerohour__V1__ScanRequest *back = (Zerohour__V1__ScanRequest *)protobuf_c_message_unpack(
        m->input, NULL, call->payload.len, call->payload.data);
    assert_non_null(back);
    assert_string_equal(back->request_id, "r-1");
    assert_int_equal(back->deadline_ms, 1500);
    assert_int_equal(back->message.len, 19);
    assert_int_equal(back->envelope->n_rcpt_to, 2);
    assert_string_equal(back->envelope->rcpt_to[1], "b@example.org");
    assert_int_equal(back->envelope->received_at, 1075111200000);
    protobuf_c_message_free_unpacked(&back->base, NULL);
    zerohour__v1__call__free_unpacked(call, NULL);
    free(buf);
}

static void test_reply_roundtrip(void **state)
{
    Zerohour__V1__PingResponse pr = ZEROHOUR__V1__PING_RESPONSE__INIT;
    pr.version = "9.9";
    pr.workers = 4;
    size_t len;
    uint8_t *buf = zh_wire_pack_reply(ZEROHOUR__V1__STATUS__STATUS_OK, NULL, &pr.base, &len);
    Zerohour__V1__Reply *r = zerohour__v1__reply__unpack(NULL, len, buf);
    assert_non_null(r);
    assert_int_equal(r->status, 0);
    Zerohour__V1__PingResponse *p =
        zerohour__v1__ping_response__unpack(NULL, r->payload.len, r->payload.data);
    assert_string_equal(p->version, "9.9");
    assert_int_equal(p->workers, 4);
    zerohour__v1__ping_response__free_unpacked(p, NULL);
    zerohour__v1__reply__free_unpacked(r, NULL);
    free(buf);
    buf = zh_wire_pack_reply(ZEROHOUR__V1__STATUS__STATUS_UNIMPLEMENTED, "no such method", NULL,
                             &len);
    r = zerohour__v1__reply__unpack(NULL, len, buf);
    assert_int_equal(r->status, ZEROHOUR__V1__STATUS__STATUS_UNIMPLEMENTED);
    assert_string_equal(r->message, "no such method");
    assert_int_equal(r->payload.len, 0);
    zerohour__v1__reply__free_unpacked(r, NULL);
    free(buf);
}

static void test_garbage(void **state)
{
    /* Bytes that are not a Call must not decode as one with a method. */
    static const uint8_t junk[][8] = {{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
                                      {0x0a, 0x7f, 'S', 'c', 'a', 'n', 0, 0},
                                      {0x12, 0x40, 1, 2, 3, 4, 5, 6}};
    for (size_t i = 0; i < sizeof junk / sizeof junk[0]; i++) {
        Zerohour__V1__Call *c = zerohour__v1__call__unpack(NULL, sizeof junk[i], junk[i]);
        assert_null(c);
    }
}

static void test_names(void **state)
{
    assert_string_equal(zh_status_name(0), "ok");
    assert_string_equal(zh_status_name(3), "deadline_exceeded");
    assert_string_equal(zh_status_name(99), "unknown");
    assert_string_equal(zh_verdict_label(ZEROHOUR__V1__VERDICT__VERDICT_MALICIOUS), "MALICIOUS");
    assert_string_equal(zh_verdict_name(ZEROHOUR__V1__VERDICT__VERDICT_DEFER), "defer");
    assert_string_equal(zh_verdict_label(-1), "UNKNOWN");
}

static void test_default_address(void **state)
{
    char buf[256];
    setenv("ZEROHOUR_ADDRESS", "tcp://127.0.0.1:7777", 1);
    assert_int_equal(zh_default_address(buf, sizeof buf), 0);
    assert_string_equal(buf, "tcp://127.0.0.1:7777");
    unsetenv("ZEROHOUR_ADDRESS");
    assert_int_equal(zh_default_address(buf, sizeof buf), 0);
    assert_int_equal(strncmp(buf, "ipc://", 6), 0);
    if (geteuid() == 0) {
        assert_string_equal(buf, "ipc:///run/zerohour/zerohour.sock");
    }
    assert_int_equal(zh_default_address(buf, 8), -1);
}

/* The default socket's directory must be ours (or root's) and private; an
 * address someone configured in a directory anyone may write is warned about. */
static void test_socket_directory_trust(void **state)
{
    char base[] = "/tmp/zh-ipc-XXXXXX", url[256], sub[200], msg[512];
    struct stat st;
    assert_non_null(mkdtemp(base));
    snprintf(sub, sizeof sub, "%s/private", base);
    snprintf(url, sizeof url, "ipc://%s/zerohour.sock", sub);
    /* A client finds nothing yet: nothing to trust, nothing refused. */
    assert_int_equal(zh_ipc_check(url, ZH_IPC_PRIVATE, msg, sizeof msg), 0);
    /* The engine makes it, 0700. */
    assert_int_equal(zh_ipc_check(url, ZH_IPC_PRIVATE | ZH_IPC_CREATE, msg, sizeof msg), 0);
    assert_int_equal(lstat(sub, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    assert_int_equal(st.st_mode & 0777, 0700);
    assert_int_equal(zh_ipc_check(url, ZH_IPC_PRIVATE, msg, sizeof msg), 0);
    /* Made first by someone else, open to all: refused, by engine and client. */
    assert_int_equal(chmod(sub, 0777), 0);
    assert_int_equal(zh_ipc_check(url, ZH_IPC_PRIVATE | ZH_IPC_CREATE, msg, sizeof msg), -1);
    assert_non_null(strstr(msg, "writable by group or others"));
    assert_int_equal(zh_ipc_check(url, ZH_IPC_PRIVATE, msg, sizeof msg), -1);
    assert_int_equal(chmod(sub, 0770), 0);
    assert_int_equal(zh_ipc_check(url, ZH_IPC_PRIVATE, msg, sizeof msg), -1);
    assert_int_equal(chmod(sub, 0700), 0);
    if (geteuid() == 0) {
        /* Another user's, in a directory only root may write (as
         * /run/zerohour of the zerohour user under /run): root put it there. */
        assert_int_equal(chown(sub, 4242, 4242), 0);
        assert_int_equal(zh_ipc_check(url, ZH_IPC_PRIVATE, msg, sizeof msg), 0);
        /* The same where anyone could have made it: refused. */
        assert_int_equal(chmod(base, 0777), 0);
        assert_int_equal(zh_ipc_check(url, ZH_IPC_PRIVATE | ZH_IPC_CREATE, msg, sizeof msg), -1);
        assert_non_null(strstr(msg, "another user"));
        assert_int_equal(zh_ipc_check(url, ZH_IPC_PRIVATE, msg, sizeof msg), -1);
        assert_int_equal(chmod(base, 0700), 0);
        assert_int_equal(chown(sub, 0, 0), 0);
    }
    assert_int_equal(rmdir(sub), 0);
    /* A symlink to a private directory is still not the directory. */
    char real[200];
    snprintf(real, sizeof real, "%s/real", base);
    assert_int_equal(mkdir(real, 0700), 0);
    assert_int_equal(symlink(real, sub), 0);
    assert_int_equal(zh_ipc_check(url, ZH_IPC_PRIVATE | ZH_IPC_CREATE, msg, sizeof msg), -1);
    assert_non_null(strstr(msg, "symbolic link"));
    assert_int_equal(unlink(sub), 0);
    /* A configured address: a world-writable directory is a warning, a
     * sticky one (like /tmp) the administrator's choice. */
    assert_int_equal(mkdir(sub, 0700), 0);
    assert_int_equal(chmod(sub, 0777), 0);
    assert_int_equal(zh_ipc_check(url, 0, msg, sizeof msg), 1);
    assert_non_null(strstr(msg, "another local user can replace"));
    assert_int_equal(chmod(sub, 01777), 0);
    assert_int_equal(zh_ipc_check(url, 0, msg, sizeof msg), 0);
    assert_int_equal(zh_ipc_check("tcp://127.0.0.1:7350", ZH_IPC_PRIVATE, msg, sizeof msg), 0);
    assert_int_equal(rmdir(sub), 0);
    assert_int_equal(rmdir(real), 0);
    assert_int_equal(rmdir(base), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_call_roundtrip),  cmocka_unit_test(test_reply_roundtrip),
        cmocka_unit_test(test_garbage),         cmocka_unit_test(test_names),
        cmocka_unit_test(test_default_address), cmocka_unit_test(test_socket_directory_trust),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
