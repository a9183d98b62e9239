/* zerohour-milter — the MTA plugin: a libmilter daemon that collects each
 * SMTP transaction (envelope, headers, body up to max_message_bytes), asks
 * zerohourd for a verdict through libzerohour-client and turns it into an
 * SMTP reply, headers or the hold queue. Not a scanner: it never judges mail
 * itself, and it never passes a message unscanned unless configured to. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <libmilter/mfapi.h>

#include "log.h"
#include "milter-settings.h"
#include "txn.h"
#include "zerohour/client.h"
#include "zerohour/wire.h"
#include "zerohour/service.h"

#ifndef ZH_VERSION
#define ZH_VERSION "unknown"
#endif

#define HITS_HEADER_MAX 900 /* keep X-Zerohour-Hits on one line under 998 */

static struct zhm_config cfg;
static zh_client *client;

/* ---- logging: clients/common/log.c, at the configured level (stderr, or
 * the system log once zh_syslog_open succeeded: log_target = syslog) ---- */

static void log_msg(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void log_msg(int level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    zhc_vlog((int)cfg.log_level, level, fmt, ap);
    va_end(ap);
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- per-connection state ------------------------------------------------- */

/* One per SMTP connection (smfi_setpriv); only that connection's libmilter
 * thread touches it. The transaction is reset by MAIL FROM, abort and end of
 * message; its buffers keep their capacity for the next message. */
struct conn {
    unsigned long nr_mask; /* SMFIP_NR_* the MTA agreed to: reply SMFIS_NOREPLY there */
    char client_ip[INET6_ADDRSTRLEN];
    char *helo;
    struct zhm_txn txn;
    uint64_t own_ns; /* time spent in this transaction's callbacks */
};

static void txn_reset(struct conn *c)
{
    zhm_txn_reset(&c->txn);
    c->own_ns = 0;
}

static void conn_free(struct conn *c)
{
    if (!c)
        return;
    zhm_txn_free(&c->txn);
    free(c->helo);
    free(c);
}

/* The connection's state, created on first use (negotiation comes before
 * connect). NULL only when out of memory. */
static struct conn *get_conn(SMFICTX *ctx)
{
    struct conn *c = smfi_getpriv(ctx);
    if (c)
        return c;
    if (!(c = calloc(1, sizeof *c)))
        return NULL;
    snprintf(c->client_ip, sizeof c->client_ip, "unknown");
    c->txn.max_bytes = (uint64_t)cfg.max_message_bytes;
    if (smfi_setpriv(ctx, c) != MI_SUCCESS) {
        free(c);
        return NULL;
    }
    return c;
}

/* SMFIS_CONTINUE, or SMFIS_NOREPLY at a stage the MTA agreed not to wait for. */
static sfsistat cont(const struct conn *c, unsigned long nr_flag)
{
    return c && (c->nr_mask & nr_flag) ? SMFIS_NOREPLY : SMFIS_CONTINUE;
}

/* ---- callbacks ------------------------------------------------------------ */

static sfsistat on_negotiate(SMFICTX *ctx, unsigned long f0, unsigned long f1, unsigned long f2,
                             unsigned long f3, unsigned long *pf0, unsigned long *pf1,
                             unsigned long *pf2, unsigned long *pf3)
{
    struct conn *c = get_conn(ctx);
    unsigned long want_acts = SMFIF_ADDHDRS | SMFIF_CHGHDRS | SMFIF_QUARANTINE;
    /* No replies where we never act (saves a round trip per header and body
     * chunk); MAIL keeps its reply so an announced SIZE= can be refused.
     * DATA is asked for, with its reply, on purpose: Postfix sends the DATA
     * stage macros either way, and with no reply to carry our ACK its next
     * write waits behind Nagle for the 40 ms delayed ACK (measured through
     * Postfix: 44 ms per message with SMFIP_NODATA). */
    unsigned long nr =
        SMFIP_NR_CONN | SMFIP_NR_HELO | SMFIP_NR_RCPT | SMFIP_NR_HDR | SMFIP_NR_EOH | SMFIP_NR_BODY;
    unsigned long want_prot = SMFIP_NOUNKNOWN | SMFIP_HDR_LEADSPC | nr;
    if (!c)
        return SMFIS_TEMPFAIL;
    if ((f0 & want_acts) != want_acts)
        log_msg(ZHM_LOG_WARN, "MTA offers actions 0x%lx; quarantine or header changes may fail",
                f0);
    *pf0 = f0 & want_acts;
    *pf1 = f1 & want_prot;
    *pf2 = 0;
    *pf3 = 0;
    c->nr_mask = f1 & nr;
    c->txn.leadspc = (f1 & SMFIP_HDR_LEADSPC) != 0;
    (void)f2;
    (void)f3;
    return SMFIS_CONTINUE;
}

static sfsistat on_connect(SMFICTX *ctx, char *hostname, _SOCK_ADDR *sa)
{
    uint64_t t0 = now_ns();
    struct conn *c = get_conn(ctx);
    if (!c)
        return SMFIS_TEMPFAIL;
    if (sa && sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((struct sockaddr_in *)(void *)sa)->sin_addr, c->client_ip,
                  sizeof c->client_ip);
    else if (sa && sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((struct sockaddr_in6 *)(void *)sa)->sin6_addr, c->client_ip,
                  sizeof c->client_ip);
    else
        snprintf(c->client_ip, sizeof c->client_ip, "unknown");
    log_msg(ZHM_LOG_DEBUG, "connect from %s [%s]", hostname ? hostname : "?", c->client_ip);
    c->own_ns += now_ns() - t0;
    return cont(c, SMFIP_NR_CONN);
}

static sfsistat on_helo(SMFICTX *ctx, char *helo)
{
    struct conn *c = get_conn(ctx);
    if (!c)
        return SMFIS_TEMPFAIL;
    free(c->helo);
    if (!(c->helo = strdup(helo ? helo : "")))
        c->txn.alloc_failed = true;
    return cont(c, SMFIP_NR_HELO);
}

static sfsistat on_envfrom(SMFICTX *ctx, char **argv)
{
    uint64_t t0 = now_ns();
    struct conn *c = get_conn(ctx);
    if (!c)
        return SMFIS_TEMPFAIL;
    txn_reset(c);
    zhm_txn_mail_from(&c->txn, argv ? argv[0] : NULL);
    /* An ESMTP SIZE= larger than we would scan is answered now, before the
     * client sends the data. */
    int64_t size = zhm_esmtp_size(argv);
    if (size > cfg.max_message_bytes && cfg.on_oversize != ZHM_BIG_ACCEPT) {
        bool reject = cfg.on_oversize == ZHM_BIG_REJECT;
        smfi_setreply(ctx, reject ? "552" : "452", reject ? "5.3.4" : "4.3.4",
                      "Message too big for virus scanning");
        c->own_ns += now_ns() - t0;
        return reject ? SMFIS_REJECT : SMFIS_TEMPFAIL;
    }
    c->own_ns += now_ns() - t0;
    return SMFIS_CONTINUE;
}

static sfsistat on_envrcpt(SMFICTX *ctx, char **argv)
{
    uint64_t t0 = now_ns();
    struct conn *c = get_conn(ctx);
    if (!c)
        return SMFIS_TEMPFAIL;
    zhm_txn_rcpt(&c->txn, argv ? argv[0] : NULL);
    c->own_ns += now_ns() - t0;
    return cont(c, SMFIP_NR_RCPT);
}

static sfsistat on_data(SMFICTX *ctx)
{
    return SMFIS_CONTINUE; /* see on_negotiate: this reply is the point */
}

static sfsistat on_header(SMFICTX *ctx, char *name, char *value)
{
    uint64_t t0 = now_ns();
    struct conn *c = get_conn(ctx);
    if (!c)
        return SMFIS_TEMPFAIL;
    zhm_txn_header(&c->txn, name, value);
    c->own_ns += now_ns() - t0;
    return cont(c, SMFIP_NR_HDR);
}

static sfsistat on_eoh(SMFICTX *ctx)
{
    struct conn *c = get_conn(ctx);
    if (!c)
        return SMFIS_TEMPFAIL;
    zhm_txn_end_of_headers(&c->txn);
    return cont(c, SMFIP_NR_EOH);
}

static sfsistat on_body(SMFICTX *ctx, unsigned char *chunk, size_t n)
{
    uint64_t t0 = now_ns();
    struct conn *c = get_conn(ctx);
    if (!c)
        return SMFIS_TEMPFAIL;
    zhm_txn_body(&c->txn, chunk, n);
    c->own_ns += now_ns() - t0;
    return cont(c, SMFIP_NR_BODY);
}

/* ---- the decision ---------------------------------------------------------- */

enum action { ACT_ACCEPT, ACT_REJECT, ACT_TEMPFAIL, ACT_DISCARD, ACT_QUARANTINE };
static const char *const action_names[] = {"accept", "reject", "tempfail", "discard", "quarantine"};

struct decision {
    enum action act;
    bool headers;      /* add X-Zerohour-* to the delivered message */
    const char *label; /* X-Zerohour-Verdict value */
    const char *rcode, *xcode;
    char text[256]; /* SMTP reply text, or the quarantine reason */
    bool warn;      /* the engine answered but could not judge: log as a warning */
};

static void decide_unscanned(struct decision *d, bool oversize)
{
    if (oversize) {
        d->label = "UNSCANNED (too big)";
        switch (cfg.on_oversize) {
        case ZHM_BIG_REJECT:
            d->act = ACT_REJECT;
            d->rcode = "552";
            d->xcode = "5.3.4";
            snprintf(d->text, sizeof d->text, "Message too big for virus scanning");
            return;
        case ZHM_BIG_ACCEPT:
            d->act = ACT_ACCEPT;
            d->headers = cfg.add_header != ZHM_HDR_NEVER;
            return;
        default:
            d->act = ACT_TEMPFAIL;
            d->rcode = "452";
            d->xcode = "4.3.4";
            snprintf(d->text, sizeof d->text, "Message too big for virus scanning");
            return;
        }
    }
    d->label = "UNSCANNED (scanner unavailable)";
    if (cfg.on_unavailable == ZHM_UNAV_ACCEPT) {
        d->act = ACT_ACCEPT;
        d->headers = cfg.add_header != ZHM_HDR_NEVER;
        return;
    }
    d->act = ACT_TEMPFAIL;
    d->rcode = "451";
    d->xcode = "4.7.1";
    snprintf(d->text, sizeof d->text, "zerohour virus scanner unavailable, try again later");
}

static void decide(const struct zh_scan_result *r, struct decision *d)
{
    bool flagged_hdr = cfg.add_header != ZHM_HDR_NEVER;
    switch (r->verdict) {
    case ZH_VERDICT_CLEAN:
        d->act = ACT_ACCEPT;
        d->label = "CLEAN";
        d->headers = cfg.add_header == ZHM_HDR_ALWAYS;
        return;
    case ZH_VERDICT_SUSPICIOUS:
        d->label = "SUSPICIOUS";
        if (cfg.on_suspicious == ZHM_SUS_QUARANTINE) {
            d->act = ACT_QUARANTINE;
            d->headers = flagged_hdr;
            snprintf(d->text, sizeof d->text, "zerohour: suspicious (%s, score %d)",
                     zhm_detection_name(r), r->score);
        } else {
            d->act = ACT_ACCEPT;
            d->headers =
                cfg.on_suspicious == ZHM_SUS_TAG ? flagged_hdr : cfg.add_header == ZHM_HDR_ALWAYS;
        }
        return;
    case ZH_VERDICT_MALICIOUS:
        d->label = "MALICIOUS";
        if (cfg.on_malicious == ZHM_MAL_DISCARD) {
            d->act = ACT_DISCARD;
        } else if (cfg.on_malicious == ZHM_MAL_QUARANTINE) {
            d->act = ACT_QUARANTINE;
            d->headers = flagged_hdr;
            snprintf(d->text, sizeof d->text, "zerohour: malicious (%s, score %d)",
                     zhm_detection_name(r), r->score);
        } else {
            d->act = ACT_REJECT;
            d->rcode = "550";
            d->xcode = "5.7.1";
            snprintf(d->text, sizeof d->text, "Message rejected: worm or virus detected (%s)",
                     zhm_detection_name(r));
        }
        return;
    case ZH_VERDICT_DEFER:
        d->act = ACT_TEMPFAIL;
        d->label = "DEFER";
        d->rcode = "451";
        d->xcode = "4.7.1";
        if (r->retry_after_s)
            snprintf(d->text, sizeof d->text,
                     "Message deferred by zero-hour outbreak check, try again in %u s",
                     r->retry_after_s);
        else
            snprintf(d->text, sizeof d->text,
                     "Message deferred by zero-hour outbreak check, try again later");
        return;
    default:
        /* TEMPFAIL (the engine could not finish in time) or a verdict this
         * milter does not know: never a pass by accident. */
        decide_unscanned(d, false);
        d->warn = true;
        return;
    }
}

/* Remove copies of our headers that came with the message, then add ours.
 * Values get their own leading space when the MTA agreed to keep it. */
static void add_headers(SMFICTX *ctx, struct conn *c, const struct decision *d,
                        const struct zh_scan_result *r, const char *hits)
{
    char value[HITS_HEADER_MAX + 16];
    const char *sp = c->txn.leadspc ? " " : "";

    for (size_t i = 0; i < ZHM_N_OUR_HEADERS; i++)
        for (unsigned k = c->txn.seen_ours[i]; k >= 1; k--)
            smfi_chgheader(ctx, (char *)zhm_our_headers[i], (int)k, NULL);
    snprintf(value, sizeof value, "%s%s", sp, d->label);
    smfi_addheader(ctx, (char *)zhm_our_headers[0], value);
    if (r) {
        snprintf(value, sizeof value, "%s%d", sp, r->score);
        smfi_addheader(ctx, (char *)zhm_our_headers[1], value);
        if (*hits) {
            snprintf(value, sizeof value, "%s%s", sp, hits);
            smfi_addheader(ctx, (char *)zhm_our_headers[2], value);
        }
    }
}

static sfsistat on_eom(SMFICTX *ctx)
{
    uint64_t t0 = now_ns(), scan_ns = 0;
    struct conn *c = get_conn(ctx);
    struct zh_scan_result *r = NULL;
    struct decision d = {0};
    char hits[HITS_HEADER_MAX] = "", err[256] = "";
    const char *qid;
    sfsistat ret = SMFIS_CONTINUE;
    int rc = ZH_OK;

    if (!c)
        return SMFIS_TEMPFAIL;
    qid = smfi_getsymval(ctx, "i");
    if (!qid || !*qid)
        qid = "NOQUEUE";

    if (c->txn.alloc_failed) {
        d.act = ACT_TEMPFAIL;
        d.label = "UNSCANNED (out of memory)";
        d.rcode = "451";
        d.xcode = "4.3.0";
        snprintf(d.text, sizeof d.text, "zerohour milter out of memory, try again later");
        snprintf(err, sizeof err, "out of memory");
    } else if (c->txn.oversize) {
        decide_unscanned(&d, true);
        snprintf(err, sizeof err, "message is %" PRIu64 " bytes, max_message_bytes is %" PRId64,
                 c->txn.total_bytes, cfg.max_message_bytes);
    } else {
        struct zh_envelope env = {
            .client_ip = c->client_ip,
            .helo = c->helo,
            .mail_from = c->txn.mail_from,
            .rcpt_to = (const char *const *)c->txn.rcpt,
            .n_rcpt = c->txn.n_rcpt,
            /* kept with the message when the engine stores scans, so a
             * retro-hunt names the queue entry */
            .queue_id = strcmp(qid, "NOQUEUE") ? qid : NULL,
        };
        struct timespec rt;
        clock_gettime(CLOCK_REALTIME, &rt);
        env.received_at = (int64_t)rt.tv_sec * 1000 + rt.tv_nsec / 1000000;
        uint64_t s0 = now_ns();
        rc = zh_client_scan(client, c->txn.buf, c->txn.len, &env, qid, 0, &r);
        scan_ns = now_ns() - s0;
        if (rc == ZH_OK) {
            decide(r, &d);
            zhm_hits_list(r, hits, sizeof hits);
        } else {
            decide_unscanned(&d, rc == ZH_E_TOOBIG);
            snprintf(err, sizeof err, "%s: %s", zh_client_strerror(rc), zh_client_last_error());
        }
    }

    if (d.headers && d.act != ACT_REJECT && d.act != ACT_TEMPFAIL && d.act != ACT_DISCARD)
        add_headers(ctx, c, &d, r, hits);
    switch (d.act) {
    case ACT_ACCEPT:
        ret = SMFIS_ACCEPT;
        break;
    case ACT_QUARANTINE:
        zhm_sanitize(d.text);
        if (smfi_quarantine(ctx, d.text) != MI_SUCCESS)
            log_msg(ZHM_LOG_ERROR, "%s: the MTA refused to quarantine the message", qid);
        ret = SMFIS_ACCEPT;
        break;
    case ACT_DISCARD:
        ret = SMFIS_DISCARD;
        break;
    case ACT_REJECT:
    case ACT_TEMPFAIL:
        zhm_sanitize(d.text);
        if (smfi_setreply(ctx, (char *)d.rcode, (char *)d.xcode, d.text) != MI_SUCCESS)
            log_msg(ZHM_LOG_WARN, "%s: smfi_setreply failed; the MTA uses its default text", qid);
        ret = d.act == ACT_REJECT ? SMFIS_REJECT : SMFIS_TEMPFAIL;
        break;
    }

    /* Overhead: time in our callbacks, plus the scan call's wall time less
     * what the engine says it spent (encoding, transport, decoding). */
    uint64_t engine_us = r ? r->elapsed_us : 0;
    uint64_t own_us = (c->own_ns + (now_ns() - t0) - scan_ns) / 1000;
    uint64_t rpc_us = scan_ns / 1000 > engine_us ? scan_ns / 1000 - engine_us : 0;
    int level = (rc != ZH_OK && !c->txn.oversize) || d.warn ? ZHM_LOG_WARN : ZHM_LOG_INFO;
    log_msg(level,
            "%s: verdict=%s score=%d action=%s hits=[%s] from=<%s> rcpts=%zu size=%" PRIu64
            " client=%s scan_ms=%.3f engine_us=%" PRIu64 " overhead_us=%" PRIu64
            " (callbacks=%" PRIu64 " rpc=%" PRIu64 ")%s%s",
            qid, r ? d.label : (d.label ? d.label : "?"), r ? r->score : 0, action_names[d.act],
            hits, c->txn.mail_from ? c->txn.mail_from : "", c->txn.n_rcpt, c->txn.total_bytes,
            c->client_ip, (double)scan_ns / 1e6, engine_us, own_us + rpc_us, own_us, rpc_us,
            *err ? " error=" : "", err);

    zh_scan_result_free(r);
    txn_reset(c);
    c->txn.alloc_failed = false;
    return ret;
}

static sfsistat on_abort(SMFICTX *ctx)
{
    /* Postfix also sends abort after a finished message; nothing to undo. */
    struct conn *c = smfi_getpriv(ctx);
    if (c) {
        txn_reset(c);
        c->txn.alloc_failed = false;
    }
    return SMFIS_CONTINUE;
}

static sfsistat on_close(SMFICTX *ctx)
{
    conn_free(smfi_getpriv(ctx));
    smfi_setpriv(ctx, NULL);
    return SMFIS_CONTINUE;
}

/* ---- the unix socket's guard ----------------------------------------------------
 * libmilter removes the socket path when a non-root milter exits, whatever
 * socket is there by then, and removes it at start too. Two milters on one
 * path would each remove the other's: SOCKET.lock, held for the life of the
 * process, makes the second wait until the first is gone. */

static int lock_fd = -1;

/* Open (never through a link) and lock path.lock, waiting up to wait_ms
 * (polled) for the milter that holds it to exit. Returns 0 or -1 with err. */
static int take_socket_lock(const char *path, int64_t wait_ms, uid_t user, char *err, size_t errlen)
{
    char lock[4200];
    snprintf(lock, sizeof lock, "%s.lock", path);
    int fd = open(lock, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    struct stat st;
    if (fd < 0) {
        snprintf(err, errlen, "%.400s: %s", lock, strerror(errno));
        return -1;
    }
    /* Made by this user, or by the user a root milter becomes (a root start
     * gives the file to it): nobody else's file is locked and trusted. */
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
        (st.st_uid != geteuid() && st.st_uid != user)) {
        snprintf(err, errlen, "%.400s is not a file of this user; remove it if nothing uses it",
                 lock);
        close(fd);
        return -1;
    }
    uint64_t deadline = now_ns() + (uint64_t)wait_ms * 1000000u;
    bool said = false;
    while (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        if (errno != EWOULDBLOCK || now_ns() >= deadline) {
            snprintf(
                err, errlen,
                "%.300s is held by another zerohour-milter still running on %.100s (waited %" PRId64
                " ms; socket_lock_wait)",
                lock, path, wait_ms);
            close(fd);
            return -1;
        }
        if (!said)
            log_msg(ZHM_LOG_INFO, "waiting for the milter that holds %s to exit", lock);
        said = true;
        nanosleep(&(struct timespec){0, 50 * 1000 * 1000}, NULL);
    }
    lock_fd = fd;
    return 0;
}

/* Does a process accept connections on the unix socket at path? */
static bool socket_is_live(const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof sa.sun_path)
        return false;
    memcpy(sa.sun_path, path, strlen(path) + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return false;
    bool live = connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
    close(fd);
    return live;
}

/* After the socket is bound: its mode, group and (for root becoming user)
 * owner; then become user; then refuse root unless allowed. */
static int settle_privileges(const char *unix_path, char *err, size_t errlen)
{
    bool become = cfg.user && *cfg.user;
    uid_t uid = (uid_t)-1;
    gid_t gid;
    if (become && geteuid() == 0 &&
        zh_service_lookup(cfg.user, cfg.group, &uid, &gid, err, errlen) != 0)
        return -1;
    if (unix_path) {
        if (chmod(unix_path, (mode_t)cfg.socket_mode) != 0)
            log_msg(ZHM_LOG_WARN, "chmod %s: %s", unix_path, strerror(errno));
        if (zh_service_socket_owner(unix_path, uid, cfg.socket_group, err, errlen) != 0)
            return -1;
        /* The lock file passes to the user too, so the next start (as that
         * user) can take it. */
        if (lock_fd >= 0 && uid != (uid_t)-1 && fchown(lock_fd, uid, gid) != 0)
            log_msg(ZHM_LOG_WARN, "chown %s.lock: %s", unix_path, strerror(errno));
    }
    if (become) {
        if (zh_service_become(cfg.user, cfg.group, err, errlen) != 0)
            return -1;
        log_msg(ZHM_LOG_INFO, "running as user %s", cfg.user);
    }
    if (geteuid() == 0) {
        if (!cfg.allow_root) {
            snprintf(err, errlen, "refusing to run as root (allow_root = no): set user");
            return -1;
        }
        log_msg(ZHM_LOG_WARN, "running as root; set user (e.g. zerohour)");
    }
    return 0;
}

/* ---- main ------------------------------------------------------------------- */

static const char help_head[] =
    "Usage: zerohour-milter [OPTIONS]\n"
    "\n"
    "A milter (Postfix smtpd_milters, Sendmail INPUT_MAIL_FILTER) that scans each\n"
    "message with zerohourd and rejects, tempfails, tags or quarantines it.\n"
    "It runs in the foreground and logs to stderr, one line per message; let a\n"
    "supervisor (systemd, runit, s6) start it, restart it and keep its log.\n"
    "SIGTERM or SIGINT stop it after the sessions in progress.\n"
    "\n"
    "Settings come from the defaults, then the [milter] section of --config,\n"
    "then the flags below (a repeated --engine adds an address).\n"
    "\n"
    "    --config FILE       read settings from FILE (INI, section [milter])\n"
    "    --foreground        accepted for compatibility; always the case\n"
    "    --print-config      print the configuration (defaults, --config, flags) as\n"
    "                        an INI file; settings at their default are commented\n"
    "    --settings-markdown print the settings table of the README\n"
    "    --settings-man      print the settings as roff (for zerohour-milter(8))\n"
    "    --check             validate the configuration and exit\n"
    "    --version           print the version\n"
    "    --help              this text\n"
    "\n";

int main(int argc, char **argv)
{
    static const char *const extra[] = {"foreground", NULL}; /* always the case */
    char err[512];
    int status = 1;
    const char *const *addrs = NULL;
    size_t n_addrs = 0;
    char default_addr[512];

    if (zhc_config_defaults(&zhm_table, &cfg) != 0) {
        fprintf(stderr, "zerohour-milter: out of memory\n");
        goto out;
    }
    enum zhc_cli_what what =
        zhc_cli_configure(&zhm_table, &cfg, argc, argv, extra, err, sizeof err);
    switch (what) {
    case ZHC_CLI_HELP:
        fputs(help_head, stdout);
        zhc_config_write_help(&zhm_table, stdout);
        status = 0;
        goto out;
    case ZHC_CLI_VERSION:
        printf("zerohour-milter %s\n", ZH_VERSION);
        status = 0;
        goto out;
    case ZHC_CLI_DONE:
        status = 0;
        goto out;
    case ZHC_CLI_USAGE:
        fprintf(stderr, "zerohour-milter: %s\n", err);
        status = 2;
        goto out;
    case ZHC_CLI_NOMEM:
        fprintf(stderr, "zerohour-milter: out of memory\n");
        goto out;
    case ZHC_CLI_RUN:
    case ZHC_CLI_CHECK:
        break;
    }
    if (zhc_log_open(cfg.log_target, cfg.log_socket, cfg.log_facility, "zerohour-milter", err,
                     sizeof err) != 0) {
        fprintf(stderr, "zerohour-milter: %s\n", err);
        status = 2;
        goto out;
    }
    if (zhc_engine_addresses(&cfg.engines, default_addr, sizeof default_addr, &addrs, &n_addrs)) {
        fprintf(stderr, "zerohour-milter: %s\n", zh_client_last_error());
        status = 2;
        goto out;
    }

    /* libmilter waits for SIGTERM/SIGINT/SIGHUP in a thread of its own; block
     * them before the client library starts nng's threads, or one of those
     * would take the signal and die of it. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);

    struct zh_client_options copts = {
        .timeout_ms = (unsigned)cfg.timeout_ms,
        .connect_timeout_ms = (unsigned)cfg.connect_timeout_ms,
        .max_message_bytes = 0, /* ask the engine; larger mail is ZH_E_TOOBIG */
        .tls_ca = cfg.tls_ca,
        .tls_cert = cfg.tls_cert,
    };
    int rc = zh_client_open(&client, addrs, n_addrs, &copts);
    if (rc != ZH_OK) {
        fprintf(stderr, "zerohour-milter: engine address: %s: %s\n", zh_client_strerror(rc),
                zh_client_last_error());
        status = 2;
        goto out;
    }
    if (what == ZHC_CLI_CHECK) {
        printf("zerohour-milter: configuration OK\n");
        status = 0;
        goto out;
    }

    struct smfiDesc desc = {
        .xxfi_name = "zerohour",
        .xxfi_version = SMFI_VERSION,
        .xxfi_flags = SMFIF_ADDHDRS | SMFIF_CHGHDRS | SMFIF_QUARANTINE,
        .xxfi_connect = on_connect,
        .xxfi_helo = on_helo,
        .xxfi_envfrom = on_envfrom,
        .xxfi_envrcpt = on_envrcpt,
        .xxfi_header = on_header,
        .xxfi_eoh = on_eoh,
        .xxfi_body = on_body,
        .xxfi_eom = on_eom,
        .xxfi_abort = on_abort,
        .xxfi_close = on_close,
        .xxfi_data = on_data,
        .xxfi_negotiate = on_negotiate,
    };
    if (smfi_setconn(cfg.socket) != MI_SUCCESS) {
        fprintf(stderr, "zerohour-milter: bad socket \"%s\"\n", cfg.socket);
        status = 2;
        goto out;
    }
    if (smfi_register(desc) != MI_SUCCESS) {
        fprintf(stderr, "zerohour-milter: smfi_register failed\n");
        goto out;
    }
    const char *unix_path = NULL;
    if (!strncmp(cfg.socket, "unix:", 5) || !strncmp(cfg.socket, "local:", 6) ||
        cfg.socket[0] == '/')
        unix_path = cfg.socket[0] == '/' ? cfg.socket : strchr(cfg.socket, ':') + 1;
    if (unix_path) {
        uid_t uid = geteuid();
        gid_t gid;
        if (cfg.user && *cfg.user &&
            zh_service_lookup(cfg.user, cfg.group, &uid, &gid, err, sizeof err) != 0) {
            fprintf(stderr, "zerohour-milter: %s\n", err);
            status = 2;
            goto out;
        }
        if (take_socket_lock(unix_path, cfg.socket_lock_wait_ms, uid, err, sizeof err) != 0) {
            fprintf(stderr, "zerohour-milter: %s\n", err);
            status = 2;
            goto out;
        }
        /* A process that does not take the lock (another program, an older
         * milter) may answer there: never remove a live socket. */
        if (socket_is_live(unix_path)) {
            fprintf(stderr,
                    "zerohour-milter: a running process accepts connections on %s; "
                    "not removing it\n",
                    unix_path);
            status = 2;
            goto out;
        }
    }
    /* Open the socket now so a busy port or bad path is an error at start,
     * and so a unix socket can be given its mode before the MTA connects. */
    if (smfi_opensocket(true) != MI_SUCCESS) {
        fprintf(stderr, "zerohour-milter: cannot listen on %s: %s\n", cfg.socket,
                errno ? strerror(errno) : "see above");
        goto out;
    }
    if (settle_privileges(unix_path, err, sizeof err) != 0) {
        fprintf(stderr, "zerohour-milter: %s\n", err);
        status = 2;
        goto out;
    }
    char choice[4][32];
    log_msg(ZHM_LOG_INFO,
            "zerohour-milter %s listening on %s; engine %s%s; on_malicious=%s "
            "on_suspicious=%s on_unavailable=%s add_header=%s max_message_bytes=%" PRId64
            " timeout=%" PRId64 "ms",
            ZH_VERSION, cfg.socket, addrs[0], n_addrs > 1 ? " and others" : "",
            zhc_choice_of(&zhm_table, "on_malicious", cfg.on_malicious, choice[0], 32),
            zhc_choice_of(&zhm_table, "on_suspicious", cfg.on_suspicious, choice[1], 32),
            zhc_choice_of(&zhm_table, "on_unavailable", cfg.on_unavailable, choice[2], 32),
            zhc_choice_of(&zhm_table, "add_header", cfg.add_header, choice[3], 32),
            cfg.max_message_bytes, cfg.timeout_ms);
    for (size_t i = 0; i < n_addrs; i++) {
        char why[512];
        if (zh_ipc_check(addrs[i], 0, why, sizeof why) != 0)
            log_msg(ZHM_LOG_WARN, "%s", why);
    }
    /* libmilter handles SIGTERM/SIGINT/SIGHUP itself: smfi_main returns
     * once the sessions in progress have finished. */
    if (smfi_main() != MI_SUCCESS) {
        log_msg(ZHM_LOG_ERROR, "smfi_main failed");
        goto out;
    }
    log_msg(ZHM_LOG_INFO, "zerohour-milter stopped");
    status = 0;
out:
    zh_client_close(client);
    zhc_config_free(&zhm_table, &cfg);
    return status;
}
