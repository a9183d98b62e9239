/* libzerohour-client: one nng req0 socket per zh_client dialling every engine
 * address, one nng context per call, and the conversion between the protobuf
 * contract and the plain structs of zerohour/client.h.
 * Not a scanner and not a CLI: no policy beyond timeouts and the size check. */
#include "zerohour/client.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <nng/supplemental/tls/tls.h>
#include <nng/supplemental/util/platform.h>

#include "zerohour/wire.h"

enum {
    DEFAULT_TIMEOUT_MS = 30000,
    DEFAULT_CONNECT_TIMEOUT_MS = 1000,
    /* Replies are small; this only bounds what a confused peer can make us
     * buffer. */
    RECV_MAX_BYTES = 64 * 1024 * 1024,
    /* Time left for the reply to travel back after the engine's own deadline,
     * so the engine's DEADLINE_EXCEEDED (which says where it stopped) arrives
     * before our local timeout fires. */
    DEADLINE_GRACE_MS = 500,
    /* Background redial pace for engines that are down. */
    RECONNECT_MIN_MS = 100,
    RECONNECT_MAX_MS = 2000,
};

/* This thread's detail for zh_client_last_error(). */
static __thread char last_error[1024];

struct zh_addr {
    char *url;
    nng_dialer dialer;   /* replaced once if the first dial fails; under client->mu */
    unsigned pipes;      /* connected pipes from this address; under client->mu */
    char error[160];     /* why it is not connected; "" = no news yet; under client->mu */
    nng_tls_config *tls; /* tls+tcp:// only: verifies this address's engine */
};

struct pipe_ref {
    uint32_t id;
    size_t addr; /* index into addrs, or SIZE_MAX when the dialer is unknown */
};

struct zh_client {
    nng_socket sock;
    bool sock_open;
    unsigned timeout_ms, connect_timeout_ms;
    bool no_observe; /* zh_client_options.no_observe */

    pthread_mutex_t mu; /* guards everything below plus zh_addr's marked fields */
    pthread_cond_t connected_cv;
    /* Calls in flight wait here for their aio or for lost_all to move. */
    pthread_cond_t call_cv;
    /* Times the last connected pipe closed: a request in flight then has no
     * engine left to answer it, and its call fails at once. */
    unsigned long lost_all;
    bool closing;
    struct pipe_ref *pipes; /* connected pipes, from NNG_PIPE_EV_ADD_POST */
    size_t n_pipes, cap_pipes;
    struct zh_addr *addrs;
    size_t n_addrs;

    /* The engine's message size limit, learnt once by Ping. One thread asks
     * (limit_probing) while the others wait for its answer; when the Ping
     * fails they fail with it (limit_rc, limit_err) rather than each waiting
     * its own connect timeout in turn. The next scan asks again. */
    pthread_mutex_t limit_mu;
    pthread_cond_t limit_cv;
    bool limit_known, limit_probing;
    size_t limit;
    unsigned long limit_round; /* count of finished Pings */
    int limit_rc;
    char limit_err[sizeof last_error];
};

/* ---- errors ------------------------------------------------------------ */

static void clear_error(void)
{
    last_error[0] = '\0';
}

/* Record a detail for this thread and return code, so failures read
 * `return fail(ZH_E_X, "...")`. */
__attribute__((format(printf, 2, 3))) static int fail(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
    return code;
}

const char *zh_client_strerror(int err)
{
    switch (err) {
    case ZH_OK:
        return "success";
    case ZH_E_INVAL:
        return "invalid argument";
    case ZH_E_NOMEM:
        return "out of memory";
    case ZH_E_ADDRESS:
        return "bad engine address";
    case ZH_E_UNREACHABLE:
        return "engine unreachable";
    case ZH_E_TIMEOUT:
        return "timed out";
    case ZH_E_TOOBIG:
        return "message too big";
    case ZH_E_PROTOCOL:
        return "protocol error";
    case ZH_E_IO:
        return "I/O error";
    case ZH_E_INVALID_ARGUMENT:
        return "invalid request";
    case ZH_E_RESOURCE_EXHAUSTED:
        return "engine limit exceeded";
    case ZH_E_DEADLINE_EXCEEDED:
        return "deadline exceeded";
    case ZH_E_UNAVAILABLE:
        return "engine unavailable";
    case ZH_E_INTERNAL:
        return "engine internal error";
    case ZH_E_UNIMPLEMENTED:
        return "not implemented by the engine";
    case ZH_E_PERMISSION_DENIED:
        return "permission denied by the engine";
    }
    return "unknown error";
}

const char *zh_client_last_error(void)
{
    return last_error;
}

int zh_client_default_address(char *buf, size_t n)
{
    char why[sizeof last_error];
    clear_error();
    if (!buf || zh_default_address(buf, n) != 0)
        return fail(ZH_E_INVAL, "the default engine address does not fit in %zu bytes", n);
    /* The engine makes this directory; we only refuse one it would refuse. */
    if (zh_ipc_check(buf, ZH_IPC_PRIVATE, why, sizeof why) != 0)
        return fail(ZH_E_ADDRESS, "%s", why);
    return ZH_OK;
}

/* nng's words for dial failures are terse ("Entry not found"); say what it
 * means for an engine address. */
static const char *dial_error_text(int rv)
{
    switch (rv) {
    case NNG_ENOENT:
        return "no such socket file (is zerohourd running?)";
    case NNG_ECONNREFUSED:
        return "connection refused (is zerohourd running?)";
    case NNG_EPERM:
        return "permission denied";
    case NNG_EADDRINVAL:
        return "invalid address or unknown host";
    case NNG_ETIMEDOUT:
        return "connection timed out";
    default:
        return nng_strerror(rv);
    }
}

/* ---- connection tracking ----------------------------------------------- */

/* Runs on an nng thread. Takes c->mu only: nothing that waits on nng. */
static void pipe_event(nng_pipe p, nng_pipe_ev ev, void *arg)
{
    zh_client *c = arg;
    uint32_t id = (uint32_t)nng_pipe_id(p);
    int did = nng_dialer_id(nng_pipe_dialer(p));

    pthread_mutex_lock(&c->mu);
    if (ev == NNG_PIPE_EV_ADD_POST) {
        size_t ai = SIZE_MAX;
        for (size_t i = 0; i < c->n_addrs; i++)
            if (nng_dialer_id(c->addrs[i].dialer) == did)
                ai = i;
        if (c->n_pipes == c->cap_pipes) {
            size_t cap = c->cap_pipes ? 2 * c->cap_pipes : 8;
            struct pipe_ref *np = realloc(c->pipes, cap * sizeof *np);
            if (!np) {
                /* Untracked, the pipe is useless to our waiting logic; drop it
                 * and let the dialer try again. */
                pthread_mutex_unlock(&c->mu);
                nng_pipe_close(p);
                return;
            }
            c->pipes = np;
            c->cap_pipes = cap;
        }
        c->pipes[c->n_pipes++] = (struct pipe_ref){.id = id, .addr = ai};
        if (ai != SIZE_MAX) {
            c->addrs[ai].pipes++;
            c->addrs[ai].error[0] = '\0';
        }
        pthread_cond_broadcast(&c->connected_cv);
    } else if (ev == NNG_PIPE_EV_REM_POST) {
        /* REM_POST can come for a pipe that never reached ADD_POST, hence
         * the lookup rather than a counter. */
        for (size_t i = 0; i < c->n_pipes; i++) {
            if (c->pipes[i].id != id)
                continue;
            size_t ai = c->pipes[i].addr;
            c->pipes[i] = c->pipes[--c->n_pipes];
            if (ai != SIZE_MAX && --c->addrs[ai].pipes == 0)
                snprintf(c->addrs[ai].error, sizeof c->addrs[ai].error,
                         "connection lost, redialling");
            /* With another engine connected, req0 resends there at once (the
             * failover); with none, nobody will answer what is in flight. */
            if (c->n_pipes == 0) {
                c->lost_all++;
                pthread_cond_broadcast(&c->call_cv);
            }
            break;
        }
    }
    pthread_mutex_unlock(&c->mu);
}

/* Dial one address: first a blocking dial, so the reason an engine cannot
 * be reached is known (nng keeps background dial errors to itself), then, if
 * that failed, a background dialer that keeps trying.
 *
 * This runs in zh_client_open's thread on purpose. In nng 1.5.2 closing the
 * socket while another thread is just entering a blocking dial can hang both
 * for ever, so no blocking dial may overlap zh_client_close. The price: an
 * unresponsive TCP host holds up open until the kernel gives up connecting.
 * Returns ZH_OK even when the engine is down; fails only if no background
 * dialer can be set up. */
/* The client side of a tls+tcp:// address: the engine's certificate must
 * chain to tls_ca and name the host of the URL; tls_cert, when given, is
 * shown to engines that ask. */
static int tls_setup(struct zh_addr *a, const struct zh_client_options *opts)
{
    char host[256];
    const char *h = a->url + 10;
    size_t len = *h == '[' ? strcspn(h + 1, "]") : strcspn(h, ":/");
    int rv;
    if (!opts || !opts->tls_ca || !*opts->tls_ca)
        return fail(ZH_E_ADDRESS, "%s: a tls+tcp:// address needs the CA file (tls_ca)", a->url);
    snprintf(host, sizeof host, "%.*s", (int)len, *h == '[' ? h + 1 : h);
    if ((rv = nng_tls_config_alloc(&a->tls, NNG_TLS_MODE_CLIENT)) != 0 ||
        (rv = nng_tls_config_version(a->tls, NNG_TLS_1_2, NNG_TLS_1_3)) != 0 ||
        (rv = nng_tls_config_server_name(a->tls, host)) != 0 ||
        (rv = nng_tls_config_auth_mode(a->tls, NNG_TLS_AUTH_MODE_REQUIRED)) != 0)
        return fail(ZH_E_NOMEM, "%s: TLS: %s", a->url, nng_strerror(rv));
    if ((rv = nng_tls_config_ca_file(a->tls, opts->tls_ca)) != 0)
        return fail(ZH_E_IO, "%s: CA file %s: %s", a->url, opts->tls_ca, nng_strerror(rv));
    if (opts->tls_cert && *opts->tls_cert &&
        (rv = nng_tls_config_cert_key_file(a->tls, opts->tls_cert, NULL)) != 0)
        return fail(ZH_E_IO, "%s: certificate file %s: %s", a->url, opts->tls_cert,
                    nng_strerror(rv));
    return ZH_OK;
}

/* Create a dialer for a, with its TLS configuration when it has one. */
static int dialer_create(zh_client *c, struct zh_addr *a, nng_dialer *d)
{
    int rv = nng_dialer_create(d, c->sock, a->url);
    if (rv == 0 && a->tls)
        rv = nng_dialer_set_ptr(*d, NNG_OPT_TLS_CONFIG, a->tls);
    return rv;
}

static int dial_first(zh_client *c, struct zh_addr *a)
{
    nng_dialer d = NNG_DIALER_INITIALIZER;
    int rv = nng_dialer_start(a->dialer, 0);
    if (rv == 0)
        return ZH_OK;
    pthread_mutex_lock(&c->mu);
    snprintf(a->error, sizeof a->error, "%s", dial_error_text(rv));
    pthread_mutex_unlock(&c->mu);

    /* A fresh dialer rather than restarting the failed one: whether a dialer
     * may be started again after a failed blocking start differs between nng
     * releases. Its id is published before it can produce pipes. */
    nng_dialer_close(a->dialer);
    if ((rv = dialer_create(c, a, &d)) != 0)
        return fail(rv == NNG_ENOMEM ? ZH_E_NOMEM : ZH_E_ADDRESS, "%s: cannot redial: %s", a->url,
                    nng_strerror(rv));
    pthread_mutex_lock(&c->mu);
    a->dialer = d;
    pthread_mutex_unlock(&c->mu);
    if ((rv = nng_dialer_start(d, NNG_FLAG_NONBLOCK)) != 0)
        return fail(rv == NNG_ENOMEM ? ZH_E_NOMEM : ZH_E_UNREACHABLE, "%s: cannot redial: %s",
                    a->url, nng_strerror(rv));
    return ZH_OK;
}

/* Wait up to connect_timeout_ms for at least one connected engine; *lost
 * is then the count of total losses, so a later change means that every
 * connection the call could use has closed. On failure the detail names
 * every address and why it is not connected. */
static int wait_connected(zh_client *c, unsigned long *lost)
{
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += c->connect_timeout_ms / 1000;
    until.tv_nsec += (long)(c->connect_timeout_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }

    pthread_mutex_lock(&c->mu);
    while (c->n_pipes == 0 && !c->closing)
        if (pthread_cond_timedwait(&c->connected_cv, &c->mu, &until) == ETIMEDOUT)
            break;
    if (c->n_pipes > 0) {
        *lost = c->lost_all;
        pthread_mutex_unlock(&c->mu);
        return ZH_OK;
    }
    size_t off = 0;
    for (size_t i = 0; i < c->n_addrs && off < sizeof last_error; i++) {
        const struct zh_addr *a = &c->addrs[i];
        int w = snprintf(last_error + off, sizeof last_error - off, "%s%s: %s", i ? "; " : "",
                         a->url, a->error[0] ? a->error : "not connected yet");
        if (w < 0)
            break;
        off += (size_t)w;
    }
    pthread_mutex_unlock(&c->mu);
    return ZH_E_UNREACHABLE;
}

/* ---- open / close -------------------------------------------------------- */

void zh_client_close(zh_client *c)
{
    if (!c)
        return;
    pthread_mutex_lock(&c->mu);
    c->closing = true;
    pthread_cond_broadcast(&c->connected_cv);
    pthread_cond_broadcast(&c->call_cv);
    pthread_mutex_unlock(&c->mu);
    /* nng_close returns only after the last pipe callback has run, so
     * nothing touches c afterwards. */
    if (c->sock_open)
        nng_close(c->sock);
    for (size_t i = 0; i < c->n_addrs; i++) {
        free(c->addrs[i].url);
        if (c->addrs[i].tls)
            nng_tls_config_free(c->addrs[i].tls);
    }
    free(c->addrs);
    free(c->pipes);
    pthread_cond_destroy(&c->limit_cv);
    pthread_mutex_destroy(&c->limit_mu);
    pthread_cond_destroy(&c->call_cv);
    pthread_cond_destroy(&c->connected_cv);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

int zh_client_open(zh_client **out, const char *const *addresses, size_t n,
                   const struct zh_client_options *opts)
{
    zh_client *c = NULL;
    pthread_condattr_t ca;
    int rc = ZH_OK, rv;

    clear_error();
    if (!out || !addresses || n == 0)
        return fail(ZH_E_INVAL, "no engine address given");
    for (size_t i = 0; i < n; i++) {
        if (!addresses[i] || !*addresses[i])
            return fail(ZH_E_INVAL, "engine address %zu is empty", i + 1);
        /* tls+tcp:// is verified against tls_ca (tls_setup); other TLS
         * transports have nothing to verify with: a handshake could only
         * fail ("Cryptographic error") or trust anyone. */
        if ((!strncmp(addresses[i], "tls+", 4) && strncmp(addresses[i], "tls+tcp://", 10)) ||
            !strncmp(addresses[i], "wss", 3))
            return fail(ZH_E_ADDRESS,
                        "%s: of the TLS transports only tls+tcp:// is supported (with tls_ca)",
                        addresses[i]);
    }

    if (!(c = calloc(1, sizeof *c)))
        return fail(ZH_E_NOMEM, "allocating the client");
    /* The condvar uses the monotonic clock so wall-clock jumps do not cut
     * or stretch the connect wait. */
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->connected_cv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_cond_init(&c->call_cv, NULL);
    pthread_mutex_init(&c->limit_mu, NULL);
    pthread_cond_init(&c->limit_cv, NULL);
    c->timeout_ms = opts && opts->timeout_ms ? opts->timeout_ms : DEFAULT_TIMEOUT_MS;
    c->connect_timeout_ms =
        opts && opts->connect_timeout_ms ? opts->connect_timeout_ms : DEFAULT_CONNECT_TIMEOUT_MS;
    c->no_observe = opts && opts->no_observe;
    if (opts && opts->max_message_bytes) {
        c->limit = opts->max_message_bytes;
        c->limit_known = true;
    }

    if (!(c->addrs = calloc(n, sizeof *c->addrs))) {
        rc = fail(ZH_E_NOMEM, "allocating the address list");
        goto out;
    }
    c->n_addrs = n;
    for (size_t i = 0; i < n; i++) {
        if (!(c->addrs[i].url = strdup(addresses[i]))) {
            rc = fail(ZH_E_NOMEM, "copying addresses");
            goto out;
        }
    }

    if ((rv = nng_req0_open(&c->sock)) != 0) {
        rc = fail(rv == NNG_ENOMEM ? ZH_E_NOMEM : ZH_E_UNREACHABLE, "opening a req0 socket: %s",
                  nng_strerror(rv));
        goto out;
    }
    c->sock_open = true;
    /* The resend timer stays beyond any call's wait, so a slow scan is never
     * silently sent twice; a lost pipe still resends at once (to another
     * engine), which is the failover promised in client.h. Options are set
     * before dialing because dialers and pipes copy them when created. */
    if ((rv = nng_socket_set_size(c->sock, NNG_OPT_RECVMAXSZ, RECV_MAX_BYTES)) != 0 ||
        (rv = nng_socket_set_ms(c->sock, NNG_OPT_REQ_RESENDTIME,
                                (nng_duration)c->timeout_ms + DEADLINE_GRACE_MS)) != 0 ||
        (rv = nng_socket_set_ms(c->sock, NNG_OPT_RECONNMINT, RECONNECT_MIN_MS)) != 0 ||
        (rv = nng_socket_set_ms(c->sock, NNG_OPT_RECONNMAXT, RECONNECT_MAX_MS)) != 0 ||
        (rv = nng_pipe_notify(c->sock, NNG_PIPE_EV_ADD_POST, pipe_event, c)) != 0 ||
        (rv = nng_pipe_notify(c->sock, NNG_PIPE_EV_REM_POST, pipe_event, c)) != 0) {
        rc = fail(ZH_E_NOMEM, "configuring the socket: %s", nng_strerror(rv));
        goto out;
    }

    /* Create every dialer first: a bad URL fails open before anything dials. */
    for (size_t i = 0; i < n; i++) {
        if (!strncmp(c->addrs[i].url, "tls+tcp://", 10) &&
            (rc = tls_setup(&c->addrs[i], opts)) != ZH_OK)
            goto out;
        if ((rv = dialer_create(c, &c->addrs[i], &c->addrs[i].dialer)) != 0) {
            rc = fail(rv == NNG_ENOMEM ? ZH_E_NOMEM : ZH_E_ADDRESS, "%s: %s", c->addrs[i].url,
                      rv == NNG_ENOTSUP ? "unsupported transport (use ipc://, tcp:// or tls+tcp://)"
                                        : nng_strerror(rv));
            goto out;
        }
    }
    for (size_t i = 0; i < n; i++)
        if ((rc = dial_first(c, &c->addrs[i])) != ZH_OK)
            goto out;
    *out = c;
    c = NULL;
out:
    zh_client_close(c);
    return rc;
}

/* ---- calls ------------------------------------------------------------- */

static const ProtobufCMethodDescriptor *method_find(const char *name)
{
    const ProtobufCServiceDescriptor *s = &zerohour__v1__zero_hour__descriptor;
    for (unsigned i = 0; i < s->n_methods; i++)
        if (strcmp(s->methods[i].name, name) == 0)
            return &s->methods[i];
    return NULL;
}

static int status_error(Zerohour__V1__Status st)
{
    switch (st) {
    case ZEROHOUR__V1__STATUS__STATUS_OK:
        return ZH_OK;
    case ZEROHOUR__V1__STATUS__STATUS_INVALID_ARGUMENT:
        return ZH_E_INVALID_ARGUMENT;
    case ZEROHOUR__V1__STATUS__STATUS_RESOURCE_EXHAUSTED:
        return ZH_E_RESOURCE_EXHAUSTED;
    case ZEROHOUR__V1__STATUS__STATUS_DEADLINE_EXCEEDED:
        return ZH_E_DEADLINE_EXCEEDED;
    case ZEROHOUR__V1__STATUS__STATUS_UNAVAILABLE:
        return ZH_E_UNAVAILABLE;
    case ZEROHOUR__V1__STATUS__STATUS_INTERNAL:
        return ZH_E_INTERNAL;
    case ZEROHOUR__V1__STATUS__STATUS_UNIMPLEMENTED:
        return ZH_E_UNIMPLEMENTED;
    case ZEROHOUR__V1__STATUS__STATUS_PERMISSION_DENIED:
        return ZH_E_PERMISSION_DENIED;
    default:
        return ZH_E_PROTOCOL;
    }
}

/* Transport failures of one call. `sent` tells which half failed, for the
 * detail: not handed to any engine vs. no answer. */
static int transport_error(int rv, bool sent, unsigned wait_ms)
{
    switch (rv) {
    case NNG_ETIMEDOUT:
        if (sent)
            return fail(ZH_E_TIMEOUT, "no reply from the engine within %u ms", wait_ms);
        return fail(ZH_E_TIMEOUT, "no engine took the request within %u ms", wait_ms);
    case NNG_ENOMEM:
        return fail(ZH_E_NOMEM, "nng: %s", nng_strerror(rv));
    case NNG_ECLOSED:
        return fail(ZH_E_INVAL, "the client was closed during the call");
    case NNG_ECONNRESET:
        return fail(ZH_E_UNREACHABLE,
                    "the connection to the engine closed %s and no other engine is connected "
                    "(did zerohourd stop or crash?)",
                    sent ? "before it answered" : "before it took the request");
    default:
        return fail(ZH_E_UNREACHABLE, "%s the engine: %s", sent ? "receiving from" : "sending to",
                    nng_strerror(rv));
    }
}

/* One call's aio, finished on an nng thread; the caller waits for it or for
 * the loss of every connection (whichever comes first). */
struct call_wait {
    zh_client *c;
    bool done; /* under c->mu */
};

static void call_aio_done(void *arg)
{
    struct call_wait *w = arg;
    pthread_mutex_lock(&w->c->mu);
    w->done = true;
    pthread_cond_broadcast(&w->c->call_cv);
    pthread_mutex_unlock(&w->c->mu);
}

/* Wait for the aio just started. Returns its result, or NNG_ECONNRESET when
 * every connection closed first (counted since `lost`): the request then has
 * no engine to answer it and the aio is cancelled rather than left to time
 * out. */
static int wait_call(zh_client *c, struct call_wait *w, nng_aio *aio, unsigned long lost)
{
    pthread_mutex_lock(&c->mu);
    while (!w->done && c->lost_all == lost && !c->closing)
        pthread_cond_wait(&c->call_cv, &c->mu);
    bool gone = !w->done, lost_all = c->lost_all != lost;
    pthread_mutex_unlock(&c->mu);
    if (gone)
        nng_aio_cancel(aio);
    nng_aio_wait(aio);
    int rv = nng_aio_result(aio);
    return lost_all && rv == NNG_ECANCELED ? NNG_ECONNRESET : rv;
}

/* One request/reply on its own context. method names a ZeroHour service
 * method; req must be of its input type. Waits at most wait_ms for the
 * answer (after the connect wait). On ZH_OK *resp_out is an unpacked message
 * of the method's output type, for the caller to free with
 * protobuf_c_message_free_unpacked. */
static int call(zh_client *c, const char *method, const ProtobufCMessage *req, unsigned wait_ms,
                ProtobufCMessage **resp_out, bool *lost_out)
{
    const ProtobufCMethodDescriptor *m = method_find(method);
    uint8_t *buf = NULL;
    size_t len = 0;
    nng_msg *msg = NULL;
    nng_ctx ctx = NNG_CTX_INITIALIZER;
    bool ctx_open = false;
    nng_aio *aio = NULL;
    Zerohour__V1__Reply *reply = NULL;
    ProtobufCMessage *resp = NULL;
    struct call_wait w = {.c = c};
    unsigned long lost = 0;
    int rc = ZH_OK, rv;

    if (lost_out)
        *lost_out = false;
    if (!m || m->input != req->descriptor) {
        rc = fail(ZH_E_INVAL, "no method %s taking %s in the contract", method,
                  req->descriptor->name);
        goto out;
    }
    if ((rc = wait_connected(c, &lost)) != ZH_OK)
        goto out;
    if (!(buf = zh_wire_pack_call(m->name, req, &len))) {
        rc = fail(ZH_E_NOMEM, "packing a %s request", m->name);
        goto out;
    }
    if ((rv = nng_msg_alloc(&msg, len)) != 0) {
        rc = transport_error(rv, false, wait_ms);
        goto out;
    }
    memcpy(nng_msg_body(msg), buf, len);
    free(buf);
    buf = NULL;

    if ((rv = nng_ctx_open(&ctx, c->sock)) != 0) {
        rc = transport_error(rv, false, wait_ms);
        goto out;
    }
    ctx_open = true;
    if ((rv = nng_aio_alloc(&aio, call_aio_done, &w)) != 0) {
        rc = transport_error(rv, false, wait_ms);
        goto out;
    }
    /* Longer than this call can wait: no timed resend (see zh_client_open). */
    nng_ctx_set_ms(ctx, NNG_OPT_REQ_RESENDTIME, (nng_duration)wait_ms + DEADLINE_GRACE_MS);

    nng_time deadline = nng_clock() + wait_ms;
    nng_aio_set_timeout(aio, (nng_duration)wait_ms);
    nng_aio_set_msg(aio, msg);
    msg = NULL;
    nng_ctx_send(ctx, aio);
    if ((rv = wait_call(c, &w, aio, lost)) != 0) {
        /* A failed send leaves the message with us. */
        nng_msg_free(nng_aio_get_msg(aio));
        nng_aio_set_msg(aio, NULL);
        if (lost_out)
            *lost_out = rv == NNG_ECONNRESET;
        rc = transport_error(rv, false, wait_ms);
        goto out;
    }
    nng_time now = nng_clock();
    if (now >= deadline) {
        rc = transport_error(NNG_ETIMEDOUT, true, wait_ms);
        goto out;
    }
    nng_aio_set_timeout(aio, (nng_duration)(deadline - now));
    pthread_mutex_lock(&c->mu);
    w.done = false;
    pthread_mutex_unlock(&c->mu);
    nng_ctx_recv(ctx, aio);
    if ((rv = wait_call(c, &w, aio, lost)) != 0) {
        if (lost_out)
            *lost_out = rv == NNG_ECONNRESET;
        rc = transport_error(rv, true, wait_ms);
        goto out;
    }
    msg = nng_aio_get_msg(aio);
    nng_aio_set_msg(aio, NULL);

    reply = zerohour__v1__reply__unpack(NULL, nng_msg_len(msg), nng_msg_body(msg));
    if (!reply) {
        rc = fail(ZH_E_PROTOCOL, "undecodable reply to %s (%zu bytes)", m->name, nng_msg_len(msg));
        goto out;
    }
    if (reply->status != ZEROHOUR__V1__STATUS__STATUS_OK) {
        rc = status_error(reply->status);
        fail(rc, "%s",
             reply->message && *reply->message ? reply->message : zh_status_name(reply->status));
        goto out;
    }
    resp = protobuf_c_message_unpack(m->output, NULL, reply->payload.len, reply->payload.data);
    if (!resp) {
        rc = fail(ZH_E_PROTOCOL, "undecodable %s in the reply (%zu bytes)", m->output->name,
                  reply->payload.len);
        goto out;
    }
    *resp_out = resp;
out:
    if (reply)
        zerohour__v1__reply__free_unpacked(reply, NULL);
    if (msg)
        nng_msg_free(msg);
    if (ctx_open)
        nng_ctx_close(ctx);
    if (aio)
        nng_aio_free(aio);
    free(buf);
    return rc;
}

/* ---- result conversion ----------------------------------------------- */

/* Strings in results are never NULL: protobuf's absent string is "". */
static bool dup_str(char **dst, const char *s)
{
    *dst = strdup(s ? s : "");
    return *dst != NULL;
}

static bool dup_strv(char ***dst, size_t *n_dst, char *const *v, size_t n)
{
    *dst = NULL;
    *n_dst = 0;
    if (n == 0)
        return true;
    if (!(*dst = calloc(n, sizeof **dst)))
        return false;
    for (*n_dst = 0; *n_dst < n; (*n_dst)++)
        if (!dup_str(&(*dst)[*n_dst], v[*n_dst]))
            return false;
    return true;
}

static void free_strv(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

void zh_scan_result_free(struct zh_scan_result *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n_hits; i++) {
        struct zh_hit *h = &r->hits[i];
        free(h->detector);
        free(h->rule);
        free(h->object);
        free(h->detail);
        free(h->family);
        free_strv(h->aliases, h->n_aliases);
    }
    free(r->hits);
    free(r->request_id);
    free(r);
}

static int scan_result_from(const Zerohour__V1__ScanResponse *p, struct zh_scan_result **out)
{
    struct zh_scan_result *r = calloc(1, sizeof *r);
    if (!r || !dup_str(&r->request_id, p->request_id))
        goto nomem;
    r->verdict = p->verdict;
    r->score = p->score;
    r->ruleset_version = p->ruleset_version;
    r->elapsed_us = p->elapsed_us;
    r->parse_us = p->parse_us;
    r->unpack_us = p->unpack_us;
    r->detect_us = p->detect_us;
    r->objects = p->objects;
    r->retry_after_s = p->retry_after_s;
    if (p->n_hits && !(r->hits = calloc(p->n_hits, sizeof *r->hits)))
        goto nomem;
    for (size_t i = 0; i < p->n_hits; i++) {
        const Zerohour__V1__Hit *s = p->hits[i];
        struct zh_hit *h = &r->hits[i];
        r->n_hits = i + 1; /* so a partial hit is freed too */
        h->score = s->score;
        if (!dup_str(&h->detector, s->detector) || !dup_str(&h->rule, s->rule) ||
            !dup_str(&h->object, s->object) || !dup_str(&h->detail, s->detail) ||
            !dup_str(&h->family, s->family) ||
            !dup_strv(&h->aliases, &h->n_aliases, s->aliases, s->n_aliases))
            goto nomem;
    }
    *out = r;
    return ZH_OK;
nomem:
    zh_scan_result_free(r);
    return fail(ZH_E_NOMEM, "copying the scan result");
}

/* The engine's size limit: from the options, or asked once by Ping. */
static int message_limit(zh_client *c, size_t *limit)
{
    struct zh_ping_result *p = NULL;
    int rc;

    pthread_mutex_lock(&c->limit_mu);
    if (c->limit_probing) {
        unsigned long round = c->limit_round;
        while (c->limit_probing)
            pthread_cond_wait(&c->limit_cv, &c->limit_mu);
        if (!c->limit_known && c->limit_round != round) {
            rc = fail(c->limit_rc, "%s", c->limit_err);
            pthread_mutex_unlock(&c->limit_mu);
            return rc;
        }
    }
    if (c->limit_known) {
        *limit = c->limit;
        pthread_mutex_unlock(&c->limit_mu);
        return ZH_OK;
    }
    c->limit_probing = true;
    pthread_mutex_unlock(&c->limit_mu);

    rc = zh_client_ping(c, &p);

    pthread_mutex_lock(&c->limit_mu);
    c->limit_probing = false;
    c->limit_round++;
    if (rc == ZH_OK) {
        c->limit = p->max_message_bytes > SIZE_MAX ? SIZE_MAX : (size_t)p->max_message_bytes;
        c->limit_known = true;
        *limit = c->limit;
    } else {
        c->limit_rc = rc;
        snprintf(c->limit_err, sizeof c->limit_err, "%s", last_error);
    }
    pthread_cond_broadcast(&c->limit_cv);
    pthread_mutex_unlock(&c->limit_mu);
    zh_ping_result_free(p);
    return rc;
}

/* The engine's socket takes at least max_message_bytes plus this much (it
 * answers RESOURCE_EXHAUSTED up to its socket limit); a smaller request whose
 * connection closed was not dropped for its size. */
#define OVERSIZE_SUSPECT_BYTES ((size_t)1 << 20)

/* A big request lost its connection. nng drops a request over the engine's
 * socket limit by closing the connection, before the engine sees it, so no
 * RESOURCE_EXHAUSTED can come back. That happens when our limit came from
 * the options rather than the engine: ask the engine now, and if the message
 * is over its limit say so (ZH_E_TOOBIG) instead of "connection closed". */
static int explain_lost_scan(zh_client *c, size_t len, int rc)
{
    char lost_detail[sizeof last_error];
    struct zh_ping_result *p = NULL;
    snprintf(lost_detail, sizeof lost_detail, "%s", last_error);
    if (zh_client_ping(c, &p) == ZH_OK && p->max_message_bytes && len > p->max_message_bytes)
        rc = fail(ZH_E_TOOBIG,
                  "message is %zu bytes, engine accepts at most %llu (max_message_bytes); it "
                  "closed the connection rather than read it",
                  len, (unsigned long long)p->max_message_bytes);
    else
        fail(rc, "%s", lost_detail);
    zh_ping_result_free(p);
    return rc;
}

int zh_client_scan(zh_client *c, const void *msg, size_t len, const struct zh_envelope *env,
                   const char *request_id, unsigned deadline_ms, struct zh_scan_result **out)
{
    Zerohour__V1__ScanRequest req = ZEROHOUR__V1__SCAN_REQUEST__INIT;
    Zerohour__V1__SmtpEnvelope e = ZEROHOUR__V1__SMTP_ENVELOPE__INIT;
    ProtobufCMessage *resp = NULL;
    size_t limit = 0;
    int rc;

    clear_error();
    if (!c || (!msg && len) || !out)
        return fail(ZH_E_INVAL, "zh_client_scan: NULL client, message or result pointer");
    if (env && env->n_rcpt && !env->rcpt_to)
        return fail(ZH_E_INVAL, "envelope has %zu recipients but no list", env->n_rcpt);
    for (size_t i = 0; env && i < env->n_rcpt; i++)
        if (!env->rcpt_to[i])
            return fail(ZH_E_INVAL, "envelope recipient %zu is NULL", i + 1);
    if ((rc = message_limit(c, &limit)) != ZH_OK)
        return rc;
    if (limit && len > limit)
        return fail(ZH_E_TOOBIG, "message is %zu bytes, engine accepts at most %zu", len, limit);

    /* The engine gets the deadline and we wait a little longer, so its
     * DEADLINE_EXCEEDED answer wins the race against our local timeout. With
     * no deadline, the engine's share is carved out of our timeout instead. */
    unsigned engine_ms, wait_ms;
    if (deadline_ms) {
        engine_ms = deadline_ms;
        wait_ms = deadline_ms + DEADLINE_GRACE_MS > c->timeout_ms ? deadline_ms + DEADLINE_GRACE_MS
                                                                  : c->timeout_ms;
    } else {
        unsigned grace =
            c->timeout_ms / 4 < DEADLINE_GRACE_MS ? c->timeout_ms / 4 : DEADLINE_GRACE_MS;
        engine_ms = c->timeout_ms - grace;
        wait_ms = c->timeout_ms;
    }

    req.request_id = (char *)(request_id ? request_id : "");
    req.deadline_ms = engine_ms;
    req.message.data = (uint8_t *)msg;
    req.message.len = len;
    req.no_observe = c->no_observe || (env && env->no_observe);
    if (env) {
        e.client_ip = (char *)(env->client_ip ? env->client_ip : "");
        e.helo = (char *)(env->helo ? env->helo : "");
        e.mail_from = (char *)(env->mail_from ? env->mail_from : "");
        e.rcpt_to = (char **)env->rcpt_to;
        e.n_rcpt_to = env->n_rcpt;
        e.received_at = env->received_at;
        req.envelope = &e;
        req.filename = (char *)(env->filename ? env->filename : "");
        req.queue_id = (char *)(env->queue_id ? env->queue_id : "");
    }
    bool lost = false;
    if ((rc = call(c, "Scan", &req.base, wait_ms, &resp, &lost)) != ZH_OK) {
        if (lost && len > OVERSIZE_SUSPECT_BYTES)
            rc = explain_lost_scan(c, len, rc);
        return rc;
    }
    rc = scan_result_from((Zerohour__V1__ScanResponse *)resp, out);
    protobuf_c_message_free_unpacked(resp, NULL);
    return rc;
}

/* Read all of fd into a malloc'd buffer. Returns 0, or an errno value. */
static int read_all(int fd, uint8_t **out, size_t *len_out)
{
    struct stat st;
    size_t cap = 64 * 1024, len = 0;
    uint8_t *buf = NULL;
    int err = 0;

    /* Regular files: one allocation of the right size (plus one byte to see
     * EOF without a second grow). */
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0)
        cap = (size_t)st.st_size + 1;
    if (!(buf = malloc(cap))) {
        err = ENOMEM;
        goto out;
    }
    for (;;) {
        if (len == cap) {
            if (cap > SIZE_MAX / 2) {
                err = EFBIG;
                goto out;
            }
            uint8_t *nb = realloc(buf, cap * 2);
            if (!nb) {
                err = ENOMEM;
                goto out;
            }
            buf = nb;
            cap *= 2;
        }
        ssize_t n = read(fd, buf + len, cap - len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            err = errno;
            goto out;
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }
    *out = buf;
    *len_out = len;
    buf = NULL;
out:
    free(buf);
    return err;
}

int zh_client_scan_file(zh_client *c, const char *path, const struct zh_envelope *env,
                        const char *request_id, unsigned deadline_ms, struct zh_scan_result **out)
{
    int fd = -1, err, rc = ZH_OK;
    bool is_stdin;
    uint8_t *data = NULL;
    size_t len = 0, limit = 0;
    struct stat st;

    clear_error();
    if (!c || !path || !out)
        return fail(ZH_E_INVAL, "zh_client_scan_file: NULL client, path or result pointer");
    is_stdin = strcmp(path, "-") == 0;
    if (is_stdin) {
        fd = STDIN_FILENO;
    } else if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
        rc = fail(ZH_E_IO, "%s: %s", path, strerror(errno));
        goto out;
    }
    /* Refuse an oversized regular file before reading it into memory. */
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
        if ((rc = message_limit(c, &limit)) != ZH_OK)
            goto out;
        if (limit && (uintmax_t)st.st_size > limit) {
            rc = fail(ZH_E_TOOBIG, "message is %jd bytes, engine accepts at most %zu",
                      (intmax_t)st.st_size, limit);
            goto out;
        }
    }
    if ((err = read_all(fd, &data, &len)) != 0) {
        rc = fail(err == ENOMEM ? ZH_E_NOMEM : ZH_E_IO, "%s: %s", is_stdin ? "stdin" : path,
                  strerror(err));
        goto out;
    }
    /* A file that is not mail is scanned as one object named like it. */
    struct zh_envelope named = env ? *env : (struct zh_envelope){0};
    if (!named.filename && !is_stdin) {
        const char *slash = strrchr(path, '/');
        named.filename = slash ? slash + 1 : path;
    }
    rc = zh_client_scan(c, data, len, &named, request_id, deadline_ms, out);
out:
    free(data);
    if (fd >= 0 && !is_stdin)
        close(fd);
    return rc;
}

/* ---- reload, stats, ping ------------------------------------------------ */

void zh_reload_result_free(struct zh_reload_result *r)
{
    if (!r)
        return;
    free_strv(r->errors, r->n_errors);
    free_strv(r->warnings, r->n_warnings);
    free(r);
}

int zh_client_reload(zh_client *c, struct zh_reload_result **out)
{
    Zerohour__V1__ReloadRequest req = ZEROHOUR__V1__RELOAD_REQUEST__INIT;
    ProtobufCMessage *resp = NULL;
    struct zh_reload_result *r = NULL;
    int rc;

    clear_error();
    if (!c || !out)
        return fail(ZH_E_INVAL, "zh_client_reload: NULL client or result pointer");
    if ((rc = call(c, "Reload", &req.base, c->timeout_ms, &resp, NULL)) != ZH_OK)
        return rc;
    const Zerohour__V1__ReloadResponse *p = (const Zerohour__V1__ReloadResponse *)resp;
    if (!(r = calloc(1, sizeof *r)) ||
        !dup_strv(&r->errors, &r->n_errors, p->errors, p->n_errors) ||
        !dup_strv(&r->warnings, &r->n_warnings, p->warnings, p->n_warnings)) {
        rc = fail(ZH_E_NOMEM, "copying the reload result");
        goto out;
    }
    r->ok = p->ok;
    r->ruleset_version = p->ruleset_version;
    r->rule_count = p->rule_count;
    r->elapsed_us = p->elapsed_us;
    *out = r;
    r = NULL;
out:
    zh_reload_result_free(r);
    protobuf_c_message_free_unpacked(resp, NULL);
    return rc;
}

void zh_stats_result_free(struct zh_stats_result *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n_entries; i++) {
        free(r->entries[i].section);
        free(r->entries[i].key);
        free(r->entries[i].value);
    }
    free(r->entries);
    free(r);
}

int zh_client_stats(zh_client *c, const char *section, struct zh_stats_result **out)
{
    Zerohour__V1__StatsRequest req = ZEROHOUR__V1__STATS_REQUEST__INIT;
    ProtobufCMessage *resp = NULL;
    struct zh_stats_result *r = NULL;
    size_t total = 0;
    int rc;

    clear_error();
    if (!c || !out)
        return fail(ZH_E_INVAL, "zh_client_stats: NULL client or result pointer");
    req.section = (char *)(section ? section : "");
    if ((rc = call(c, "Stats", &req.base, c->timeout_ms, &resp, NULL)) != ZH_OK)
        return rc;
    const Zerohour__V1__StatsResponse *p = (const Zerohour__V1__StatsResponse *)resp;
    for (size_t i = 0; i < p->n_sections; i++)
        total += p->sections[i]->n_entries;
    if (!(r = calloc(1, sizeof *r)) || (total && !(r->entries = calloc(total, sizeof *r->entries))))
        goto nomem;
    for (size_t i = 0; i < p->n_sections; i++) {
        const Zerohour__V1__StatsSection *s = p->sections[i];
        for (size_t j = 0; j < s->n_entries; j++) {
            struct zh_stats_entry *e = &r->entries[r->n_entries++];
            if (!dup_str(&e->section, s->name) || !dup_str(&e->key, s->entries[j]->key) ||
                !dup_str(&e->value, s->entries[j]->value))
                goto nomem;
        }
    }
    *out = r;
    r = NULL;
    goto out;
nomem:
    rc = fail(ZH_E_NOMEM, "copying the stats");
out:
    zh_stats_result_free(r);
    protobuf_c_message_free_unpacked(resp, NULL);
    return rc;
}

void zh_ping_result_free(struct zh_ping_result *r)
{
    if (!r)
        return;
    free(r->version);
    free(r);
}

int zh_client_ping(zh_client *c, struct zh_ping_result **out)
{
    Zerohour__V1__PingRequest req = ZEROHOUR__V1__PING_REQUEST__INIT;
    ProtobufCMessage *resp = NULL;
    struct zh_ping_result *r = NULL;
    int rc;

    clear_error();
    if (!c || !out)
        return fail(ZH_E_INVAL, "zh_client_ping: NULL client or result pointer");
    if ((rc = call(c, "Ping", &req.base, c->timeout_ms, &resp, NULL)) != ZH_OK)
        return rc;
    const Zerohour__V1__PingResponse *p = (const Zerohour__V1__PingResponse *)resp;
    if (!(r = calloc(1, sizeof *r)) || !dup_str(&r->version, p->version)) {
        rc = fail(ZH_E_NOMEM, "copying the ping result");
        goto out;
    }
    r->ruleset_version = p->ruleset_version;
    r->uptime_s = p->uptime_s;
    r->max_message_bytes = p->max_message_bytes;
    r->workers = p->workers;
    *out = r;
    r = NULL;
out:
    zh_ping_result_free(r);
    protobuf_c_message_free_unpacked(resp, NULL);
    return rc;
}

void zh_outbreaks_result_free(struct zh_outbreaks_result *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n_outbreaks; i++) {
        free(r->outbreaks[i].fingerprint);
        free(r->outbreaks[i].summary);
        free(r->outbreaks[i].hits);
    }
    free(r->outbreaks);
    free(r);
}

int zh_client_outbreaks(zh_client *c, struct zh_outbreaks_result **out)
{
    Zerohour__V1__OutbreaksRequest req = ZEROHOUR__V1__OUTBREAKS_REQUEST__INIT;
    ProtobufCMessage *resp = NULL;
    struct zh_outbreaks_result *r = NULL;
    int rc;

    clear_error();
    if (!c || !out)
        return fail(ZH_E_INVAL, "zh_client_outbreaks: NULL client or result pointer");
    if ((rc = call(c, "Outbreaks", &req.base, c->timeout_ms, &resp, NULL)) != ZH_OK)
        return rc;
    const Zerohour__V1__OutbreaksResponse *p = (const Zerohour__V1__OutbreaksResponse *)resp;
    if (!(r = calloc(1, sizeof *r)) ||
        (p->n_outbreaks && !(r->outbreaks = calloc(p->n_outbreaks, sizeof *r->outbreaks)))) {
        rc = fail(ZH_E_NOMEM, "copying the outbreaks");
        goto out;
    }
    r->now = p->now;
    for (size_t i = 0; i < p->n_outbreaks; i++) {
        const Zerohour__V1__Outbreak *o = p->outbreaks[i];
        struct zh_outbreak *d = &r->outbreaks[i];
        r->n_outbreaks++;
        if (!dup_str(&d->fingerprint, o->fingerprint) || !dup_str(&d->summary, o->summary) ||
            !dup_str(&d->hits, o->hits)) {
            rc = fail(ZH_E_NOMEM, "copying the outbreaks");
            goto out;
        }
        d->first_seen = o->first_seen;
        d->last_seen = o->last_seen;
        d->active_since = o->active_since;
        d->total = o->total;
        d->copies = o->copies;
        d->senders = o->senders;
        d->client_ips = o->client_ips;
        d->rcpt_domains = o->rcpt_domains;
        d->active = o->active;
        d->blocking = o->blocking;
        d->delivered_before = o->delivered_before;
        d->delivered_known = o->delivered_known;
    }
    *out = r;
    r = NULL;
out:
    zh_outbreaks_result_free(r);
    protobuf_c_message_free_unpacked(resp, NULL);
    return rc;
}

void zh_retrohunt_result_free(struct zh_retrohunt_result *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n_messages; i++) {
        struct zh_retrohunt_message *m = &r->messages[i];
        char *strs[] = {m->message_id, m->mail_from, m->queue_id, m->subject,
                        m->client_ip,  m->helo,      m->hits,     m->fingerprint};
        for (size_t k = 0; k < sizeof strs / sizeof strs[0]; k++)
            free(strs[k]);
        free_strv(m->rcpt_to, m->n_rcpt);
        free_strv(m->rules, m->n_rules);
        free_strv(m->objects, m->n_objects);
    }
    free(r->messages);
    free(r->error);
    free(r);
}

int zh_client_retrohunt(zh_client *c, const struct zh_retrohunt_request *req,
                        struct zh_retrohunt_result **out)
{
    Zerohour__V1__RetrohuntRequest rq = ZEROHOUR__V1__RETROHUNT_REQUEST__INIT;
    Zerohour__V1__RuleSource *src = NULL, **srcp = NULL;
    ProtobufCMessage *resp = NULL;
    struct zh_retrohunt_result *r = NULL;
    int rc;

    clear_error();
    if (!c || !req || !out)
        return fail(ZH_E_INVAL, "zh_client_retrohunt: NULL client, request or result pointer");
    if (req->n_rules && (!(src = calloc(req->n_rules, sizeof *src)) ||
                         !(srcp = calloc(req->n_rules, sizeof *srcp)))) {
        free(src);
        return fail(ZH_E_NOMEM, "building the request");
    }
    for (size_t i = 0; i < req->n_rules; i++) {
        zerohour__v1__rule_source__init(&src[i]);
        src[i].name = (char *)(req->rules[i].name ? req->rules[i].name : "");
        src[i].source = (char *)(req->rules[i].source ? req->rules[i].source : "");
        srcp[i] = &src[i];
    }
    rq.hunt_id = req->hunt_id;
    rq.cancel = req->cancel != 0;
    rq.rules = srcp;
    rq.n_rules = req->n_rules;
    rq.sha256 = (char *)(req->sha256 ? req->sha256 : "");
    rq.outbreak = (char *)(req->outbreak ? req->outbreak : "");
    rq.window_ms = req->window_ms;
    rq.deadline_ms = req->deadline_ms;
    rq.offset = req->offset;
    rq.limit = req->limit;
    rc = call(c, "Retrohunt", &rq.base, c->timeout_ms, &resp, NULL);
    free(src);
    free(srcp);
    if (rc != ZH_OK)
        return rc;
    const Zerohour__V1__RetrohuntResponse *p = (const Zerohour__V1__RetrohuntResponse *)resp;
    if (!(r = calloc(1, sizeof *r)) || !dup_str(&r->error, p->error) ||
        (p->n_messages && !(r->messages = calloc(p->n_messages, sizeof *r->messages)))) {
        rc = fail(ZH_E_NOMEM, "copying the hunt's results");
        goto out;
    }
    r->hunt_id = p->hunt_id;
    r->state = (int)p->state;
    r->done = p->done;
    r->objects_total = p->objects_total;
    r->objects_done = p->objects_done;
    r->objects_unreadable = p->objects_unreadable;
    r->bytes_done = p->bytes_done;
    r->elapsed_us = p->elapsed_us;
    r->since = p->since;
    r->messages_total = p->messages_total;
    r->truncated = p->truncated;
    for (size_t i = 0; i < p->n_messages; i++) {
        const Zerohour__V1__RetrohuntMessage *m = p->messages[i];
        struct zh_retrohunt_message *d = &r->messages[i];
        r->n_messages++;
        d->received_at = m->received_at;
        d->verdict = (int)m->verdict;
        d->score = m->score;
        if (!dup_str(&d->message_id, m->message_id) || !dup_str(&d->mail_from, m->mail_from) ||
            !dup_str(&d->queue_id, m->queue_id) || !dup_str(&d->subject, m->subject) ||
            !dup_str(&d->client_ip, m->client_ip) || !dup_str(&d->helo, m->helo) ||
            !dup_str(&d->hits, m->hits) || !dup_str(&d->fingerprint, m->fingerprint) ||
            !dup_strv(&d->rcpt_to, &d->n_rcpt, m->rcpt_to, m->n_rcpt_to) ||
            !dup_strv(&d->rules, &d->n_rules, m->rules, m->n_rules) ||
            !dup_strv(&d->objects, &d->n_objects, m->objects, m->n_objects)) {
            rc = fail(ZH_E_NOMEM, "copying the hunt's results");
            goto out;
        }
    }
    *out = r;
    r = NULL;
out:
    zh_retrohunt_result_free(r);
    protobuf_c_message_free_unpacked(resp, NULL);
    return rc;
}

int zh_client_store_forget(zh_client *c, const char *message_id, int64_t older_than_ms,
                           uint64_t *forgotten)
{
    Zerohour__V1__StoreForgetRequest req = ZEROHOUR__V1__STORE_FORGET_REQUEST__INIT;
    ProtobufCMessage *resp = NULL;
    clear_error();
    if (!c || !forgotten)
        return fail(ZH_E_INVAL, "zh_client_store_forget: NULL client or result pointer");
    req.message_id = (char *)(message_id ? message_id : "");
    req.older_than_ms = older_than_ms;
    int rc = call(c, "StoreForget", &req.base, c->timeout_ms, &resp, NULL);
    if (rc != ZH_OK)
        return rc;
    *forgotten = ((const Zerohour__V1__StoreForgetResponse *)resp)->messages;
    protobuf_c_message_free_unpacked(resp, NULL);
    return ZH_OK;
}
