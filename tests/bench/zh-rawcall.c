/* zh-rawcall — send one hand-made request to a zerohourd socket and print the
 * reply, so end-to-end tests can send what no well-behaved client would.
 * Not a client: it bypasses libzerohour-client on purpose and never retries. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>

#include "zerohour/wire.h"

/* Exit codes; documented in --help, relied upon by the e2e tests. */
enum {
    EXIT_DECODED = 0,     /* a zerohour.v1.Reply came back and decoded */
    EXIT_UNDECODABLE = 1, /* something came back that is not a Reply */
    EXIT_TRANSPORT = 2,   /* dial, send or receive failed (timeout included) */
    EXIT_USAGE = 64,      /* bad arguments or unreadable input (sysexits EX_USAGE) */
};

static const char usage_text[] =
    "NAME\n"
    "    zh-rawcall - send one raw request to a zerohourd engine and print the reply\n"
    "\n"
    "SYNOPSIS\n"
    "    zh-rawcall --address URL [--timeout MS] [--out FILE] --raw FILE|-\n"
    "    zh-rawcall --address URL [--timeout MS] [--out FILE] --method NAME [--payload FILE|-]\n"
    "\n"
    "DESCRIPTION\n"
    "    A test tool. It opens an nng req0 socket, dials URL, sends exactly one\n"
    "    message and waits for exactly one answer. Unlike libzerohour-client it\n"
    "    validates nothing, so tests can send malformed envelopes, unknown\n"
    "    methods or payloads of the wrong type and check how the engine answers.\n"
    "\n"
    "    With --raw, the bytes of FILE (\"-\" = standard input) are the whole nng\n"
    "    message, sent as they are.\n"
    "\n"
    "    With --method, the message is a zerohour.v1.Call whose method is NAME\n"
    "    and whose payload is the bytes of --payload FILE as they are (empty when\n"
    "    --payload is not given, which is a valid PingRequest, ReloadRequest or\n"
    "    StatsRequest for all sections).\n"
    "\n"
    "OPTIONS\n"
    "    -a, --address URL    engine address, e.g. ipc:///tmp/zh.sock or\n"
    "                         tcp://127.0.0.1:7350 (required)\n"
    "    -t, --timeout MS     give up sending or receiving after MS milliseconds\n"
    "                         (default 5000)\n"
    "    -r, --raw FILE       send FILE's bytes as the whole message\n"
    "    -m, --method NAME    send a Call for method NAME\n"
    "    -p, --payload FILE   the Call's payload bytes (only with --method)\n"
    "    -o, --out FILE       also write the reply's payload bytes to FILE\n"
    "    -h, --help           show this text\n"
    "\n"
    "OUTPUT\n"
    "    Exactly one line on standard output:\n"
    "      status=<name> message=<text> payload_bytes=<n>   a Reply was decoded;\n"
    "                                  <name> is ok, invalid_argument, ...; control\n"
    "                                  characters in <text> are written as \\xNN\n"
    "      undecodable reply (<n> bytes)   the answer is not a zerohour.v1.Reply\n"
    "      error: <nng error>              no answer (refused, timed out, ...)\n"
    "\n"
    "EXIT STATUS\n"
    "    0 a Reply was decoded (whatever its status), 1 the answer was not a\n"
    "    Reply, 2 transport error or timeout, 64 usage error or unreadable file.\n"
    "\n"
    "EXAMPLES\n"
    "    head -c 100 /dev/urandom | zh-rawcall --address ipc:///tmp/zh.sock --raw -\n"
    "    zh-rawcall --address ipc:///tmp/zh.sock --method Ping\n"
    "    zh-rawcall --address ipc:///tmp/zh.sock --method Frobnicate\n";

/* Read a whole file ("-" = stdin) into a malloc'd buffer. The caller owns
 * *out on success; returns 0, or -1 with errno set. */
static int read_all(const char *path, uint8_t **out, size_t *len_out)
{
    int rv = -1;
    FILE *f = NULL;
    uint8_t *buf = NULL;
    size_t len = 0, cap = 0;

    f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
    if (!f)
        goto out;
    for (;;) {
        if (len == cap) {
            size_t ncap = cap ? cap * 2 : 65536;
            uint8_t *g = realloc(buf, ncap);
            if (!g)
                goto out;
            buf = g;
            cap = ncap;
        }
        size_t n = fread(buf + len, 1, cap - len, f);
        len += n;
        if (n == 0) {
            if (ferror(f))
                goto out;
            break;
        }
    }
    *out = buf;
    *len_out = len;
    buf = NULL;
    rv = 0;
out:
    if (f && f != stdin)
        fclose(f);
    free(buf);
    return rv;
}

static int write_all(const char *path, const uint8_t *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    int bad = fwrite(data, 1, len, f) != len;
    bad |= fclose(f) != 0;
    return bad ? -1 : 0;
}

/* The reply line must stay one line whatever the engine sends back, so
 * anything that is not printable ASCII is escaped. */
static void print_escaped(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p >= 0x20 && *p < 0x7f && *p != '\\')
            putchar(*p);
        else
            printf("\\x%02x", *p);
    }
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"address", required_argument, NULL, 'a'}, {"timeout", required_argument, NULL, 't'},
        {"raw", required_argument, NULL, 'r'},     {"method", required_argument, NULL, 'm'},
        {"payload", required_argument, NULL, 'p'}, {"out", required_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0},
    };
    const char *address = NULL, *raw = NULL, *method = NULL, *payload_path = NULL;
    const char *out_path = NULL;
    long timeout_ms = 5000;
    int ex = EXIT_USAGE, rv, opt;
    uint8_t *input = NULL, *request = NULL;
    size_t input_len = 0, request_len = 0;
    nng_socket sock = NNG_SOCKET_INITIALIZER;
    bool sock_open = false;
    void *answer = NULL;
    size_t answer_len = 0;
    Zerohour__V1__Reply *reply = NULL;

    while ((opt = getopt_long(argc, argv, "a:t:r:m:p:o:h", longopts, NULL)) != -1) {
        char *end;
        switch (opt) {
        case 'a':
            address = optarg;
            break;
        case 't':
            errno = 0;
            timeout_ms = strtol(optarg, &end, 10);
            if (errno || *end || end == optarg || timeout_ms <= 0 || timeout_ms > INT32_MAX) {
                fprintf(stderr, "zh-rawcall: --timeout wants a positive number of ms\n");
                goto out;
            }
            break;
        case 'r':
            raw = optarg;
            break;
        case 'm':
            method = optarg;
            break;
        case 'p':
            payload_path = optarg;
            break;
        case 'o':
            out_path = optarg;
            break;
        case 'h':
            fputs(usage_text, stdout);
            ex = EXIT_DECODED;
            goto out;
        default:
            fprintf(stderr, "Try 'zh-rawcall --help'.\n");
            goto out;
        }
    }
    if (optind != argc || !address || !raw == !method || (payload_path && !method)) {
        fprintf(stderr, "zh-rawcall: need --address and exactly one of --raw or --method "
                        "(--payload only with --method)\nTry 'zh-rawcall --help'.\n");
        goto out;
    }

    const char *in_path = raw ? raw : payload_path;
    if (in_path && read_all(in_path, &input, &input_len) != 0) {
        fprintf(stderr, "zh-rawcall: %s: %s\n", in_path, strerror(errno));
        goto out;
    }
    if (raw) {
        request = input;
        request_len = input_len;
        input = NULL;
    } else {
        /* Packed here rather than with zh_wire_pack_call(): that function
         * takes a message to pack, and the point is to send payload bytes
         * that may not be a valid message at all. */
        Zerohour__V1__Call call = ZEROHOUR__V1__CALL__INIT;
        call.method = (char *)method;
        call.payload.data = input;
        call.payload.len = input_len;
        request_len = zerohour__v1__call__get_packed_size(&call);
        request = malloc(request_len ? request_len : 1);
        if (!request) {
            fprintf(stderr, "zh-rawcall: out of memory\n");
            goto out;
        }
        zerohour__v1__call__pack(&call, request);
    }

    ex = EXIT_TRANSPORT;
    if ((rv = nng_req0_open(&sock)) != 0)
        goto nng_fail;
    sock_open = true;
    /* One attempt only: the resend timer must not fire a second copy of the
     * request into the engine while we wait, so it sits beyond the timeout. */
    if ((rv = nng_socket_set_ms(sock, NNG_OPT_SENDTIMEO, (nng_duration)timeout_ms)) != 0 ||
        (rv = nng_socket_set_ms(sock, NNG_OPT_RECVTIMEO, (nng_duration)timeout_ms)) != 0 ||
        (rv = nng_socket_set_ms(sock, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE)) != 0)
        goto nng_fail;
    /* A synchronous dial: a missing socket file or refused port is reported
     * now instead of turning into a timeout. */
    if ((rv = nng_dial(sock, address, NULL, 0)) != 0)
        goto nng_fail;
    if ((rv = nng_send(sock, request, request_len, 0)) != 0)
        goto nng_fail;
    if ((rv = nng_recv(sock, &answer, &answer_len, NNG_FLAG_ALLOC)) != 0)
        goto nng_fail;

    reply = zerohour__v1__reply__unpack(NULL, answer_len, answer);
    if (!reply) {
        printf("undecodable reply (%zu bytes)\n", answer_len);
        ex = EXIT_UNDECODABLE;
        goto out;
    }
    printf("status=%s message=", zh_status_name(reply->status));
    print_escaped(reply->message ? reply->message : "");
    printf(" payload_bytes=%zu\n", reply->payload.len);
    ex = EXIT_DECODED;
    if (out_path && write_all(out_path, reply->payload.data, reply->payload.len) != 0) {
        fprintf(stderr, "zh-rawcall: %s: %s\n", out_path, strerror(errno));
        ex = EXIT_USAGE;
    }
    goto out;

nng_fail:
    printf("error: %s\n", nng_strerror(rv));
out:
    if (reply)
        zerohour__v1__reply__free_unpacked(reply, NULL);
    if (answer)
        nng_free(answer, answer_len);
    if (sock_open)
        nng_close(sock);
    free(request);
    free(input);
    return ex;
}
