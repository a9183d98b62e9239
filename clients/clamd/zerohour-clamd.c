/* zerohour-clamd — a thin bridge that answers clamd's protocol (Exim's
 * malware ACL, rspamd's antivirus module, amavisd-new, clamdscan...) with
 * zerohourd's verdicts. It parses the protocol (protocol.c), collects each
 * INSTREAM or reads each SCAN path, asks the engine through
 * libzerohour-client and spells the verdict as clamd would. Not a scanner:
 * it never judges mail itself, and it never answers OK for what the engine
 * did not judge.
 *
 * One thread per connection, at most max_connections; every read and write
 * has a deadline, so a stalled caller costs one thread until its timeout. */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "clamd-settings.h"
#include "log.h"
#include "protocol.h"
#include "zerohour/client.h"
#include "zerohour/wire.h"

#ifndef ZH_VERSION
#define ZH_VERSION "unknown"
#endif

#define MAX_LISTENERS ZHC_LIST_MAX
#define WALK_DEPTH_MAX 64

static struct zcl_config cfg;
static zh_client *client;
static volatile sig_atomic_t stopping;
static time_t started_at;

/* Counters for STATS and the final log line. */
static atomic_uint live;
static atomic_ulong n_conns, n_scans, n_found, n_errors, n_refused;
static atomic_size_t buffered; /* stream bytes held now, against memory_budget */

static void log_msg(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void log_msg(int level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    zhc_vlog((int)cfg.log_level, level, fmt, ap);
    va_end(ap);
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- one connection ---------------------------------------------------------- */

struct conn {
    int fd;
    bool unix_sock;
    char peer[64];
    /* IDSESSION: replies carry "N: " and the connection stays open. */
    bool session;
    unsigned long reply_id;
    enum zcl_framing framing; /* of the command being answered */
    /* INSTREAM being collected. */
    uint8_t *msg;
    size_t len, cap;
    size_t held; /* bytes of cap counted in `buffered` */
};

/* Write all of buf before the send deadline. false when the caller is gone
 * or does not read. */
static bool send_all(struct conn *c, const void *buf, size_t len)
{
    const char *p = buf;
    int64_t deadline = now_ms() + cfg.send_timeout_ms;
    while (len) {
        ssize_t n = send(c->fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) {
            p += n;
            len -= (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
            return false;
        int64_t left = deadline - now_ms();
        if (left <= 0)
            return false;
        struct pollfd pfd = {.fd = c->fd, .events = POLLOUT};
        if (poll(&pfd, 1, (int)left) < 0 && errno != EINTR)
            return false;
    }
    return true;
}

/* One reply line: "N: " in a session, then the text, then the framing's
 * terminator. */
static bool reply(struct conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static bool reply(struct conn *c, const char *fmt, ...)
{
    char line[ZCL_LINE_MAX + 512];
    size_t n = 0;
    if (c->session)
        n = (size_t)snprintf(line, sizeof line, "%lu: ", c->reply_id);
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof line - n - 1, fmt, ap);
    va_end(ap);
    n += m < 0 ? 0 : (size_t)m;
    if (n > sizeof line - 2)
        n = sizeof line - 2;
    /* A reply is one record: no terminator inside it. */
    for (size_t i = 0; i < n; i++)
        if (line[i] == '\n' || line[i] == '\0')
            line[i] = ' ';
    /* on_error = close: the caller learns of an error by the connection
     * closing without an answer, which every caller counts as a failed
     * scan (some mis-read clamd's ERROR lines). */
    if (cfg.on_error == ZCL_ONERR_CLOSE && n >= 6 && !memcmp(line + n - 6, " ERROR", 6)) {
        log_msg(ZHC_LOG_DEBUG, "%s: closing instead of answering \"%.*s\"", c->peer, (int)n, line);
        return false;
    }
    line[n++] = zcl_terminator(c->framing);
    return send_all(c, line, n);
}

static void stream_release(struct conn *c)
{
    atomic_fetch_sub(&buffered, c->held);
    free(c->msg);
    c->msg = NULL;
    c->len = c->cap = c->held = 0;
}

/* Room for n more stream bytes, within the stream's and the bridge's budget. */
static bool stream_reserve(struct conn *c, size_t n)
{
    if (c->len + n <= c->cap)
        return true;
    size_t want = c->cap ? c->cap : 64 * 1024;
    while (want < c->len + n)
        want *= 2;
    if (want > (size_t)cfg.stream_max_length)
        want = (size_t)cfg.stream_max_length;
    if (want < c->len + n)
        return false; /* the parser keeps streams within the maximum; defensive */
    size_t grow = want - c->cap;
    size_t before = atomic_fetch_add(&buffered, grow);
    if (before + grow > (size_t)cfg.memory_budget) {
        atomic_fetch_sub(&buffered, grow);
        return false;
    }
    uint8_t *nb = realloc(c->msg, want);
    if (!nb) {
        atomic_fetch_sub(&buffered, grow);
        return false;
    }
    c->msg = nb;
    c->cap = want;
    c->held += grow;
    return true;
}

/* ---- verdicts as clamd spells them ------------------------------------------- */

/* What one scan answers after "NAME: ". */
struct answer {
    char text[256]; /* "OK", "Zerohour.X FOUND", "... ERROR" */
    bool found, error;
};

/* The name of a detection: the family a rule names, else the highest-scoring
 * rule. */
static void detection(const struct zh_scan_result *r, const char *prefix, char *buf, size_t n)
{
    const struct zh_hit *best = NULL;
    for (size_t i = 0; i < r->n_hits; i++) {
        const struct zh_hit *h = &r->hits[i];
        if (*h->family) {
            best = h;
            break;
        }
        if (!best || h->score > best->score)
            best = h;
    }
    char what[160];
    snprintf(what, sizeof what, "%s%s", prefix,
             !best           ? "Unknown"
             : *best->family ? best->family
             : *best->rule   ? best->rule
                             : best->detector);
    zcl_detection_name(buf, n, what);
}

static void answer_for(const struct zh_scan_result *r, struct answer *a)
{
    char name[200];
    int64_t how = ZCL_ANS_OK;
    const char *prefix = "";
    memset(a, 0, sizeof *a);
    switch (r->verdict) {
    case ZH_VERDICT_CLEAN:
        snprintf(a->text, sizeof a->text, "OK");
        return;
    case ZH_VERDICT_MALICIOUS:
        how = ZCL_ANS_FOUND;
        break;
    case ZH_VERDICT_SUSPICIOUS:
        how = cfg.on_suspicious;
        prefix = "Suspicious.";
        break;
    case ZH_VERDICT_DEFER:
        how = cfg.on_defer;
        prefix = "Outbreak.";
        break;
    case ZH_VERDICT_TEMPFAIL:
        how = cfg.on_tempfail;
        prefix = "Unscannable.";
        break;
    default:
        how = ZCL_ANS_ERROR; /* an engine bug: never OK */
        break;
    }
    if (how == ZCL_ANS_FOUND) {
        detection(r, prefix, name, sizeof name);
        snprintf(a->text, sizeof a->text, "%s FOUND", name);
        a->found = true;
    } else if (how == ZCL_ANS_ERROR) {
        snprintf(a->text, sizeof a->text, "Zerohour verdict %s%s ERROR",
                 zh_verdict_label(r->verdict),
                 r->verdict == ZH_VERDICT_DEFER ? ", try again later" : "");
        a->error = true;
    } else {
        snprintf(a->text, sizeof a->text, "OK");
    }
}

static void answer_error(int rc, struct answer *a)
{
    memset(a, 0, sizeof *a);
    a->error = true;
    const char *what = rc == ZH_E_UNREACHABLE || rc == ZH_E_TIMEOUT || rc == ZH_E_UNAVAILABLE ||
                               rc == ZH_E_DEADLINE_EXCEEDED
                           ? "Zerohour engine unavailable"
                       : rc == ZH_E_TOOBIG || rc == ZH_E_RESOURCE_EXHAUSTED
                           ? "Zerohour: larger than the engine accepts"
                       : rc == ZH_E_IO ? "Can't open file or directory"
                                       : "Zerohour scan failed";
    snprintf(a->text, sizeof a->text, "%s (%s) ERROR", what, zh_client_strerror(rc));
}

/* Log one scan: what the engine said and what the caller was told. */
static void log_scan(const struct conn *c, const char *what, const struct zh_scan_result *r,
                     const struct answer *a, int64_t ms)
{
    if (!r) {
        log_msg(ZHC_LOG_WARN, "%s %s: %s (%s) in %" PRId64 " ms", c->peer, what, a->text,
                zh_client_last_error(), ms);
        return;
    }
    char rules[400] = "";
    size_t k = 0;
    for (size_t i = 0; i < r->n_hits && k + 2 < sizeof rules; i++) {
        const struct zh_hit *h = &r->hits[i];
        const char *rn = *h->rule ? h->rule : h->detector;
        if (strstr(rules, rn))
            continue;
        int m = snprintf(rules + k, sizeof rules - k, "%s%s", k ? "," : "", rn);
        if (m < 0 || (size_t)m >= sizeof rules - k)
            break;
        k += (size_t)m;
    }
    int level = r->verdict == ZH_VERDICT_CLEAN ? ZHC_LOG_INFO
                : r->verdict == ZH_VERDICT_SUSPICIOUS && !a->found && !a->error
                    ? ZHC_LOG_WARN /* passed as OK: say so where an admin looks */
                    : ZHC_LOG_INFO;
    log_msg(level, "%s %s: %s score %d (%s) -> %s in %" PRId64 " ms", c->peer, what,
            zh_verdict_label(r->verdict), r->score, rules, a->text, ms);
}

static void count(const struct answer *a)
{
    atomic_fetch_add(&n_scans, 1);
    if (a->found)
        atomic_fetch_add(&n_found, 1);
    if (a->error)
        atomic_fetch_add(&n_errors, 1);
}

static void scan_buffer(struct conn *c, const uint8_t *msg, size_t len, const char *filename,
                        const char *what, struct answer *a)
{
    struct zh_envelope env = {.filename = filename, .no_observe = cfg.observe == 1};
    struct zh_scan_result *r = NULL;
    char id[64];
    snprintf(id, sizeof id, "clamd-%ld-%lu", (long)getpid(), atomic_load(&n_scans) + 1);
    int64_t t0 = now_ms();
    int rc = zh_client_scan(client, msg, len, &env, id, 0, &r);
    if (rc == ZH_OK)
        answer_for(r, a);
    else
        answer_error(rc, a);
    log_scan(c, what, rc == ZH_OK ? r : NULL, a, now_ms() - t0);
    count(a);
    zh_scan_result_free(r);
}

/* ---- path commands ------------------------------------------------------------ */

struct walk {
    struct conn *c;
    enum zcl_cmd cmd;
    bool stop; /* SCAN stops at the first detection */
    bool any_found, any_error, ok;
};

static void walk_file(struct walk *w, const char *path, int fd, const struct stat *st)
{
    struct answer a;
    uint8_t *buf = NULL;
    size_t len = 0;
    if ((uint64_t)st->st_size > (uint64_t)cfg.stream_max_length) {
        answer_error(ZH_E_TOOBIG, &a);
        count(&a);
    } else if (!(buf = malloc((size_t)st->st_size + 1))) {
        answer_error(ZH_E_NOMEM, &a);
    } else {
        while (len < (size_t)st->st_size) {
            ssize_t n = read(fd, buf + len, (size_t)st->st_size - len);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                break;
            len += (size_t)n;
        }
        const char *slash = strrchr(path, '/');
        scan_buffer(w->c, buf, len, slash ? slash + 1 : path, path, &a);
    }
    free(buf);
    w->any_found |= a.found;
    w->any_error |= a.error;
    if (a.found || a.error)
        w->ok &= reply(w->c, "%s: %s", path, a.text);
    if (a.found && w->cmd == ZCL_CMD_SCAN)
        w->stop = true;
}

/* Scan path (a file, or a directory recursively). Symbolic links are not
 * followed below the given path, as clamd does by default. */
static void walk_path(struct walk *w, const char *path, int depth, bool top)
{
    if (w->stop || !w->ok || stopping)
        return;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK | (top ? 0 : O_NOFOLLOW));
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        if (!top && errno == ELOOP)
            goto out; /* a symbolic link inside a directory: skipped */
        w->any_error = true;
        w->ok &= reply(w->c, "%s: Can't open file or directory (%s). ERROR", path, strerror(errno));
        goto out;
    }
    if (S_ISREG(st.st_mode)) {
        walk_file(w, path, fd, &st);
    } else if (S_ISDIR(st.st_mode)) {
        if (depth >= WALK_DEPTH_MAX) {
            w->any_error = true;
            w->ok &= reply(w->c, "%s: Directory nesting too deep. ERROR", path);
            goto out;
        }
        struct dirent **names = NULL;
        int dfd = fd;
        fd = -1;
        int n = scandirat(dfd, ".", &names, NULL, alphasort);
        close(dfd);
        if (n < 0) {
            w->any_error = true;
            w->ok &= reply(w->c, "%s: Can't read directory (%s). ERROR", path, strerror(errno));
            goto out;
        }
        for (int i = 0; i < n; i++) {
            const char *name = names[i]->d_name;
            if (strcmp(name, ".") && strcmp(name, "..")) {
                char child[PATH_MAX];
                if (snprintf(child, sizeof child, "%s%s%s", path,
                             path[strlen(path) - 1] == '/' ? "" : "/", name) < (int)sizeof child)
                    walk_path(w, child, depth + 1, false);
            }
            free(names[i]);
        }
        free(names);
    } else if (top) {
        w->any_error = true;
        w->ok &= reply(w->c, "%s: Not supported file type. ERROR", path);
    }
out:
    if (fd >= 0)
        close(fd);
}

static bool path_command(struct conn *c, enum zcl_cmd cmd, const char *path)
{
    if (cfg.path_commands == ZCL_PATHS_OFF ||
        (cfg.path_commands == ZCL_PATHS_UNIX && !c->unix_sock)) {
        atomic_fetch_add(&n_errors, 1);
        return reply(c, "%s: Path commands are disabled here (path_commands). ERROR", path);
    }
    if (path[0] != '/')
        return reply(c, "%s: Path must be absolute. ERROR", path);
    struct walk w = {.c = c, .cmd = cmd, .ok = true};
    walk_path(&w, path, 0, true);
    if (w.ok && !w.any_found && !w.any_error)
        w.ok = reply(c, "%s: OK", path);
    return w.ok;
}

/* ---- simple commands ------------------------------------------------------------ */

static void version_text(char *buf, size_t n)
{
    struct zh_ping_result *p = NULL;
    char date[64];
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(date, sizeof date, "%a %b %e %H:%M:%S %Y", &tm);
    if (zh_client_ping(client, &p) == ZH_OK) {
        snprintf(buf, n, "Zerohour %s/%" PRIu64 "/%s", p->version, p->ruleset_version, date);
        zh_ping_result_free(p);
    } else {
        snprintf(buf, n, "Zerohour %s/0/%s", ZH_VERSION, date);
    }
}

static bool stats(struct conn *c)
{
    char text[1024];
    unsigned long up = (unsigned long)(time(NULL) - started_at);
    /* clamd's layout, so tools that read it (clamdtop, monitoring) find their
     * lines; the ZEROHOUR line carries the bridge's own counters. */
    snprintf(text, sizeof text,
             "POOLS: 1\n\nSTATE: VALID PRIMARY\nTHREADS: live %u  idle 0 max %" PRId64
             " idle-timeout %" PRId64 "\nQUEUE: 0 items\n\tSTATS 0.000000 \n\n"
             "MEMSTATS: heap N/A mmap N/A used N/A free N/A releasable N/A pools 1 "
             "pools_used %.3fM pools_total %.3fM\n"
             "ZEROHOUR: uptime %lu connections %lu scans %lu found %lu errors %lu refused %lu\n"
             "END",
             atomic_load(&live), cfg.max_connections, cfg.idle_timeout_ms / 1000,
             (double)atomic_load(&buffered) / (1024 * 1024),
             (double)cfg.memory_budget / (1024 * 1024), up, atomic_load(&n_conns),
             atomic_load(&n_scans), atomic_load(&n_found), atomic_load(&n_errors),
             atomic_load(&n_refused));
    /* STATS is several lines: send it as is, then the terminator. */
    char term = zcl_terminator(c->framing);
    if (c->session) {
        char pre[32];
        int n = snprintf(pre, sizeof pre, "%lu: ", c->reply_id);
        if (!send_all(c, pre, (size_t)n))
            return false;
    }
    return send_all(c, text, strlen(text)) && send_all(c, &term, 1);
}

#define COMMANDS                                                                                   \
    "SCAN PING CONTSCAN VERSIONCOMMANDS VERSION END MULTISCAN STATS IDSESSION INSTREAM "           \
    "ALLMATCHSCAN"

/* Act on one command. Returns false when the connection is to be closed
 * (the reply, if any, has been sent). */
static bool command(struct conn *c, const struct zcl_event *ev)
{
    char text[512];
    c->framing = ev->framing;
    if (c->session) {
        if (ev->framing == ZCL_PLAIN) {
            reply(c, "Commands in an IDSESSION need the z or n prefix. ERROR");
            return false;
        }
        c->reply_id++;
    }
    switch (ev->cmd) {
    case ZCL_CMD_PING: {
        /* PONG only when an engine answers: a caller that health-checks
         * must not send mail to a bridge that can only say ERROR. */
        struct zh_ping_result *p = NULL;
        bool up = zh_client_ping(client, &p) == ZH_OK;
        zh_ping_result_free(p);
        return (up ? reply(c, "PONG") : reply(c, "Zerohour engine unavailable. ERROR")) &&
               c->session;
    }
    case ZCL_CMD_VERSION:
        version_text(text, sizeof text);
        return reply(c, "%s", text) && c->session;
    case ZCL_CMD_VERSIONCOMMANDS:
        version_text(text, sizeof text);
        return reply(c, "%s| COMMANDS: %s", text, COMMANDS) && c->session;
    case ZCL_CMD_STATS:
        return stats(c) && c->session;
    case ZCL_CMD_IDSESSION:
        if (c->session) {
            reply(c, "Nested IDSESSION. ERROR");
            return false;
        }
        c->session = true;
        c->reply_id = 0;
        return true;
    case ZCL_CMD_END:
        return false;
    case ZCL_CMD_INSTREAM:
        c->len = 0;
        return true; /* the chunks follow */
    case ZCL_CMD_SCAN:
    case ZCL_CMD_CONTSCAN:
    case ZCL_CMD_MULTISCAN:
    case ZCL_CMD_ALLMATCHSCAN:
        if (!*ev->arg)
            return reply(c, "No path given. ERROR") && false;
        return path_command(c, ev->cmd, ev->arg) && c->session;
    case ZCL_CMD_RELOAD:
    case ZCL_CMD_SHUTDOWN:
    case ZCL_CMD_FILDES:
    case ZCL_CMD_DETSTATS:
    case ZCL_CMD_DETSTATSCLEAR:
    case ZCL_CMD_STREAM:
    case ZCL_CMD_QUIT:
        return reply(c, "COMMAND UNAVAILABLE") && c->session;
    case ZCL_CMD_UNKNOWN:
        break;
    }
    reply(c, "UNKNOWN COMMAND");
    return false;
}

static bool stream_end(struct conn *c)
{
    struct answer a;
    scan_buffer(c, c->msg, c->len, NULL, "stream", &a);
    stream_release(c);
    return reply(c, "stream: %s", a.text) && c->session;
}

static void serve(struct conn *c)
{
    struct zcl_parser *p = malloc(sizeof *p);
    uint8_t *buf = malloc(64 * 1024);
    if (!p || !buf)
        goto out;
    zcl_parser_init(p, (uint64_t)cfg.stream_max_length);
    int64_t deadline = now_ms() + cfg.command_timeout_ms;
    bool open = true;
    while (open && !stopping) {
        int64_t left = deadline - now_ms();
        if (left <= 0) {
            log_msg(ZHC_LOG_INFO, "%s: timed out %s", c->peer,
                    zcl_parser_in_stream(p) ? "inside a stream"
                    : c->session            ? "waiting for the next command"
                                            : "waiting for a command");
            if (!zcl_parser_in_stream(p)) {
                c->framing = p->framing; /* of the command begun, if any */
                reply(c, "COMMAND READ TIMED OUT");
            }
            break;
        }
        struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
        int pr = poll(&pfd, 1, left > 1000 ? 1000 : (int)left); /* wake to see `stopping` */
        if (pr < 0 && errno != EINTR)
            break;
        if (pr <= 0)
            continue;
        ssize_t n = recv(c->fd, buf, 64 * 1024, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (zcl_parser_in_stream(p))
                log_msg(ZHC_LOG_INFO,
                        "%s: connection closed inside a stream (%" PRIu64
                        " bytes); nothing scanned",
                        c->peer, zcl_parser_stream_len(p));
            break;
        }
        size_t off = 0;
        while (open && off < (size_t)n) {
            struct zcl_event ev;
            off += zcl_parser_feed(p, buf + off, (size_t)n - off, &ev);
            switch (ev.type) {
            case ZCL_EV_NONE:
                break;
            case ZCL_EV_COMMAND:
                open = command(c, &ev);
                break;
            case ZCL_EV_DATA:
                if (!stream_reserve(c, ev.len)) {
                    log_msg(ZHC_LOG_WARN, "%s: memory_budget (%" PRId64 " bytes) exhausted",
                            c->peer, cfg.memory_budget);
                    atomic_fetch_add(&n_errors, 1);
                    reply(c, "Zerohour bridge memory budget exhausted, try again later. ERROR");
                    open = false;
                    break;
                }
                memcpy(c->msg + c->len, ev.data, ev.len);
                c->len += ev.len;
                break;
            case ZCL_EV_STREAM_END:
                open = stream_end(c);
                break;
            case ZCL_EV_ERROR:
                log_msg(ZHC_LOG_INFO, "%s: %s", c->peer, zcl_error_text(ev.err));
                atomic_fetch_add(&n_errors, 1);
                reply(c, "%s ERROR", zcl_error_text(ev.err));
                open = false;
                break;
            }
        }
        /* The clock each state runs on: a command from its first byte (the
         * whole of it within command_timeout), a stream per pause, a session
         * between commands. */
        if (zcl_parser_in_stream(p))
            deadline = now_ms() + cfg.read_timeout_ms;
        else if (c->session && !p->line_len)
            deadline = now_ms() + cfg.idle_timeout_ms;
    }
out:
    stream_release(c);
    free(buf);
    free(p);
}

/* Close so that the caller reads our last reply: a close with its unread
 * bytes still queued would send a reset, and a caller still streaming would
 * lose "size limit exceeded" to it. So: end our side, then discard what
 * it still sends for a moment. */
static void close_gently(int fd)
{
    char sink[16384];
    shutdown(fd, SHUT_WR);
    int64_t until = now_ms() + 1000;
    for (;;) {
        int64_t left = until - now_ms();
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        if (left <= 0 || poll(&pfd, 1, (int)left) <= 0)
            break;
        if (recv(fd, sink, sizeof sink, MSG_DONTWAIT) <= 0)
            break;
    }
    close(fd);
}

static void *conn_thread(void *arg)
{
    struct conn *c = arg;
    serve(c);
    close_gently(c->fd);
    free(c);
    atomic_fetch_sub(&live, 1);
    return NULL;
}

/* ---- listening ---------------------------------------------------------------- */

struct listener {
    int fd;
    bool unix_sock;
    char *spec;
    char *path; /* unix: the file we made, removed at exit */
};

/* unix:PATH — a stale socket file of ours is replaced; anything else at PATH
 * (a file, another user's socket, a link) is an error, never removed. */
static int listen_unix(struct listener *l, const char *path, char *err, size_t errlen)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    struct stat st;
    if (strlen(path) >= sizeof sa.sun_path) {
        snprintf(err, errlen, "socket path too long");
        return -1;
    }
    strcpy(sa.sun_path, path);
    if (lstat(path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode) || st.st_uid != geteuid()) {
            snprintf(err, errlen, "%s exists and is not a socket of ours; not replacing it", path);
            return -1;
        }
        int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (probe >= 0 && connect(probe, (struct sockaddr *)&sa, sizeof sa) == 0) {
            close(probe);
            snprintf(err, errlen, "%s: another process is listening there", path);
            return -1;
        }
        if (probe >= 0)
            close(probe);
        unlink(path);
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        return -1;
    }
    /* Made with no access for anyone, then given socket_mode: never open
     * wider than configured, not even for a moment. */
    mode_t old = umask(0777);
    int rc = bind(fd, (struct sockaddr *)&sa, sizeof sa);
    umask(old);
    if (rc != 0 || chmod(path, (mode_t)cfg.socket_mode) != 0 || listen(fd, 128) != 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    l->fd = fd;
    l->unix_sock = true;
    l->path = strdup(path);
    return 0;
}

/* inet:PORT@ADDRESS, ADDRESS an IPv4 literal or [IPv6]. */
static int listen_inet(struct listener *l, const char *spec, char *err, size_t errlen)
{
    char host[128] = "127.0.0.1";
    char *end;
    unsigned long port = strtoul(spec, &end, 10);
    if (end == spec || port == 0 || port > 65535 || (*end && *end != '@')) {
        snprintf(err, errlen, "\"%s\" is not PORT@ADDRESS", spec);
        return -1;
    }
    if (*end == '@')
        snprintf(host, sizeof host, "%s", end + 1);
    struct sockaddr_storage ss = {0};
    socklen_t sl;
    size_t hl = strlen(host);
    if (host[0] == '[' && hl > 2 && host[hl - 1] == ']') {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
        host[hl - 1] = 0;
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons((uint16_t)port);
        if (inet_pton(AF_INET6, host + 1, &s6->sin6_addr) != 1) {
            snprintf(err, errlen, "\"%s\" is not an IPv6 address", host + 1);
            return -1;
        }
        sl = sizeof *s6;
    } else {
        struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
        s4->sin_family = AF_INET;
        s4->sin_port = htons((uint16_t)port);
        if (inet_pton(AF_INET, host, &s4->sin_addr) != 1) {
            snprintf(err, errlen, "\"%s\" is not an IPv4 address", host);
            return -1;
        }
        sl = sizeof *s4;
    }
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        bind(fd, (struct sockaddr *)&ss, sl) != 0 || listen(fd, 128) != 0) {
        snprintf(err, errlen, "%s: %s", spec, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    l->fd = fd;
    return 0;
}

static int listen_on(struct listener *l, const char *spec, char *err, size_t errlen)
{
    memset(l, 0, sizeof *l);
    l->fd = -1;
    l->spec = strdup(spec);
    if (!strncmp(spec, "unix:", 5))
        return listen_unix(l, spec + 5, err, errlen);
    if (!strncmp(spec, "inet:", 5))
        return listen_inet(l, spec + 5, err, errlen);
    if (!strncmp(spec, "inet6:", 6))
        return listen_inet(l, spec + 6, err, errlen);
    snprintf(err, errlen, "\"%s\" is neither unix:PATH nor inet:PORT@ADDRESS", spec);
    return -1;
}

static void accept_one(const struct listener *l)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    int fd = accept4(l->fd, (struct sockaddr *)&ss, &sl, SOCK_CLOEXEC);
    if (fd < 0)
        return;
    atomic_fetch_add(&n_conns, 1);
    if (atomic_fetch_add(&live, 1) >= (unsigned)cfg.max_connections) {
        atomic_fetch_sub(&live, 1);
        atomic_fetch_add(&n_refused, 1);
        static const char busy[] = "Too many connections. ERROR\n";
        ssize_t w = send(fd, busy, sizeof busy - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
        (void)w;
        close(fd);
        log_msg(ZHC_LOG_WARN, "max_connections (%" PRId64 ") reached: a connection refused",
                cfg.max_connections);
        return;
    }
    struct conn *c = calloc(1, sizeof *c);
    pthread_t th;
    pthread_attr_t attr;
    if (!c) {
        close(fd);
        atomic_fetch_sub(&live, 1);
        return;
    }
    c->fd = fd;
    c->unix_sock = l->unix_sock;
    if (ss.ss_family == AF_INET)
        inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, c->peer, sizeof c->peer);
    else if (ss.ss_family == AF_INET6)
        inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, c->peer, sizeof c->peer);
    else
        snprintf(c->peer, sizeof c->peer, "unix");
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, 256 * 1024);
    if (pthread_create(&th, &attr, conn_thread, c) != 0) {
        log_msg(ZHC_LOG_ERROR, "cannot start a connection thread: %s", strerror(errno));
        close(fd);
        free(c);
        atomic_fetch_sub(&live, 1);
    }
    pthread_attr_destroy(&attr);
}

/* ---- main ---------------------------------------------------------------------- */

static const char help_head[] =
    "NAME\n"
    "    zerohour-clamd - answer clamd's protocol with zerohourd's verdicts\n"
    "\n"
    "SYNOPSIS\n"
    "    zerohour-clamd [--config FILE] [SETTING FLAGS] [--set NAME=VALUE]...\n"
    "    zerohour-clamd --print-config | --settings-markdown | --settings-man | --check\n"
    "    zerohour-clamd --version\n"
    "\n"
    "DESCRIPTION\n"
    "    Mail software that already talks to a ClamAV daemon (Exim's malware ACL,\n"
    "    rspamd's antivirus module, amavisd-new, MailScanner, Haraka, c-icap,\n"
    "    clamdscan) can use zerohour through this bridge without a new plugin:\n"
    "    point it at the bridge's socket instead of clamd's. The bridge passes\n"
    "    each stream or file to zerohourd and answers as clamd would. It judges\n"
    "    nothing itself.\n"
    "\n"
    "    It runs in the foreground and logs to stderr (or syslog: log_target),\n"
    "    one line per scan; let a supervisor start it and keep its log. SIGTERM or SIGINT stop it: "
    "it\n"
    "    stops accepting, lets the scans in progress finish (up to timeout), and\n"
    "    removes the unix sockets it made.\n"
    "\n"
    "PROTOCOL\n"
    "    Commands come in clamd's three framings: zCOMMAND ended by a NUL byte,\n"
    "    nCOMMAND ended by a newline, and the plain COMMAND ended by a newline.\n"
    "    Replies end the same way (NUL for z, newline otherwise). Outside an\n"
    "    IDSESSION the connection closes after one reply.\n"
    "\n"
    "    PING             PONG while an engine answers; otherwise an ERROR\n"
    "    VERSION          Zerohour VERSION/RULESET/DATE\n"
    "    VERSIONCOMMANDS  the version, then \"| COMMANDS:\" and the commands below\n"
    "    INSTREAM         chunks of a 4-byte big-endian length and that many\n"
    "                     bytes, ended by a zero length; answered \"stream: ...\"\n"
    "    IDSESSION, END   several commands on one connection; each reply begins\n"
    "                     with its number (\"1: stream: OK\"); END closes\n"
    "    STATS            clamd's layout, plus a ZEROHOUR line of counters\n"
    "    SCAN PATH        a file or directory (recursively; links below PATH are\n"
    "                     not followed) read with the bridge's rights; stops at\n"
    "                     the first detection. CONTSCAN, MULTISCAN and\n"
    "                     ALLMATCHSCAN go on through every file. One line per\n"
    "                     detection or error, or \"PATH: OK\". See path_commands.\n"
    "    RELOAD, SHUTDOWN, FILDES, DETSTATS, STREAM: COMMAND UNAVAILABLE\n"
    "\n"
    "VERDICTS\n"
    "    CLEAN        stream: OK\n"
    "    MALICIOUS    stream: Zerohour.NAME FOUND, NAME the malware family a\n"
    "                 rule names, else the highest-scoring rule\n"
    "    SUSPICIOUS   on_suspicious: OK and a warn log line (default), FOUND as\n"
    "                 Zerohour.Suspicious.NAME, or ERROR\n"
    "    DEFER        on_defer: ERROR (default), so the caller tempfails and\n"
    "                 retries after the outbreak detector has decided\n"
    "    TEMPFAIL     on_tempfail: ERROR (default)\n"
    "    No engine reachable, too slow, message over the engine's limit, a\n"
    "    stream over stream_max_length, the memory budget spent: ERROR, never OK.\n"
    "\n"
    "OPTIONS\n"
    "    --config FILE       read settings from FILE (INI, section [clamd]);\n"
    "                        flags given on the command line win over it\n"
    "    --print-config      print the configuration (defaults, --config, flags) as\n"
    "                        an INI file; settings at their default are commented\n"
    "    --settings-markdown print the settings table of the README\n"
    "    --settings-man      print the settings as roff (for zerohour-clamd(8))\n"
    "    --check             validate the configuration, open the engine\n"
    "                        address, and exit\n"
    "    --version           print the version\n"
    "    --help              this text\n"
    "\n"
    "SETTINGS (each also a [clamd] key with '_' for '-'; repeat a list flag to\n"
    "add a value: the first replaces the file's list)\n";

static const char help_tail[] =
    "\n"
    "EXIT STATUS\n"
    "    0 stopped by a signal after a clean shutdown; 1 a runtime failure;\n"
    "    2 a bad configuration or command line.\n"
    "\n"
    "EXAMPLES\n"
    "    zerohour-clamd --socket unix:/run/zerohour/clamd.sock \\\n"
    "        --engine ipc:///run/zerohour/zerohour.sock\n"
    "    # Exim: av_scanner = clamd:/run/zerohour/clamd.sock\n"
    "    # rspamd antivirus.conf: type = \"clamav\"; servers = \"127.0.0.1:3310\";\n"
    "    # clamdscan: LocalSocket /run/zerohour/clamd.sock in its clamd.conf\n";

static void on_signal(int sig)
{
    (void)sig;
    stopping = 1;
}

int main(int argc, char **argv)
{
    char err[512];
    int status = 1;
    struct listener ls[MAX_LISTENERS];
    size_t n_ls = 0;
    const char *const *addrs;
    size_t n_addrs;
    char default_addr[512];

    if (zhc_config_defaults(&zcl_table, &cfg) != 0) {
        fprintf(stderr, "zerohour-clamd: out of memory\n");
        goto out;
    }
    enum zhc_cli_what what = zhc_cli_configure(&zcl_table, &cfg, argc, argv, NULL, err, sizeof err);
    switch (what) {
    case ZHC_CLI_HELP:
        fputs(help_head, stdout);
        zhc_config_write_help(&zcl_table, stdout);
        fputs(help_tail, stdout);
        status = 0;
        goto out;
    case ZHC_CLI_VERSION:
        printf("zerohour-clamd %s\n", ZH_VERSION);
        status = 0;
        goto out;
    case ZHC_CLI_DONE:
        status = 0;
        goto out;
    case ZHC_CLI_USAGE:
        fprintf(stderr, "zerohour-clamd: %s\n", err);
        status = 2;
        goto out;
    case ZHC_CLI_NOMEM:
        fprintf(stderr, "zerohour-clamd: out of memory\n");
        goto out;
    case ZHC_CLI_RUN:
    case ZHC_CLI_CHECK:
        break;
    }
    if (!cfg.sockets.n) {
        fprintf(stderr, "zerohour-clamd: no socket to listen on\n");
        status = 2;
        goto out;
    }
    if (zhc_log_open(cfg.log_target, cfg.log_socket, cfg.log_facility, "zerohour-clamd", err,
                     sizeof err) != 0) {
        fprintf(stderr, "zerohour-clamd: %s\n", err);
        status = 2;
        goto out;
    }
    if (zhc_engine_addresses(&cfg.engines, default_addr, sizeof default_addr, &addrs, &n_addrs)) {
        fprintf(stderr, "zerohour-clamd: cannot compute the default engine address\n");
        goto out;
    }

    /* Only the main thread takes SIGTERM/SIGINT (inside ppoll); nng's and
     * the connections' threads start with them blocked. */
    sigset_t sigs, old;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &sigs, &old);
    signal(SIGPIPE, SIG_IGN);
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);

    struct zh_client_options copts = {
        .timeout_ms = (unsigned)cfg.timeout_ms,
        .connect_timeout_ms = (unsigned)cfg.connect_timeout_ms,
        .no_observe = cfg.observe == 1,
        .tls_ca = cfg.tls_ca,
        .tls_cert = cfg.tls_cert,
    };
    int rc = zh_client_open(&client, addrs, n_addrs, &copts);
    if (rc != ZH_OK) {
        fprintf(stderr, "zerohour-clamd: engine address: %s: %s\n", zh_client_strerror(rc),
                zh_client_last_error());
        status = 2;
        goto out;
    }
    if (what == ZHC_CLI_CHECK) {
        printf("zerohour-clamd: configuration OK\n");
        status = 0;
        goto out;
    }
    for (size_t i = 0; i < cfg.sockets.n; i++) {
        if (listen_on(&ls[n_ls], cfg.sockets.v[i], err, sizeof err) != 0) {
            fprintf(stderr, "zerohour-clamd: cannot listen on %s: %s\n", cfg.sockets.v[i], err);
            free(ls[n_ls].spec);
            goto out;
        }
        n_ls++;
    }
    started_at = time(NULL);
    char ch[3][16];
    log_msg(ZHC_LOG_INFO,
            "zerohour-clamd %s listening on %s%s; engine %s%s; on_suspicious=%s on_defer=%s "
            "on_tempfail=%s stream_max_length=%" PRId64 " max_connections=%" PRId64,
            ZH_VERSION, cfg.sockets.v[0], cfg.sockets.n > 1 ? " and others" : "", addrs[0],
            n_addrs > 1 ? " and others" : "",
            zhc_choice_of(&zcl_table, "on_suspicious", cfg.on_suspicious, ch[0], 16),
            zhc_choice_of(&zcl_table, "on_defer", cfg.on_defer, ch[1], 16),
            zhc_choice_of(&zcl_table, "on_tempfail", cfg.on_tempfail, ch[2], 16),
            cfg.stream_max_length, cfg.max_connections);

    struct pollfd pfds[MAX_LISTENERS];
    for (size_t i = 0; i < n_ls; i++)
        pfds[i] = (struct pollfd){.fd = ls[i].fd, .events = POLLIN};
    sigset_t during = old;
    sigdelset(&during, SIGTERM);
    sigdelset(&during, SIGINT);
    sigdelset(&during, SIGHUP);
    while (!stopping) {
        int n = ppoll(pfds, n_ls, NULL, &during);
        if (n < 0)
            continue; /* EINTR: a signal */
        for (size_t i = 0; i < n_ls; i++)
            if (pfds[i].revents & POLLIN)
                accept_one(&ls[i]);
    }
    log_msg(ZHC_LOG_INFO, "stopping: %u connection(s) in progress", atomic_load(&live));
    for (size_t i = 0; i < n_ls; i++) {
        close(ls[i].fd);
        ls[i].fd = -1;
    }
    /* Connections see `stopping` within a second; a scan in flight ends
     * within the engine timeout. */
    int64_t until = now_ms() + cfg.timeout_ms + 2000;
    while (atomic_load(&live) && now_ms() < until) {
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    log_msg(ZHC_LOG_INFO,
            "zerohour-clamd stopped: %lu connections, %lu scans, %lu found, %lu errors, %lu "
            "refused",
            atomic_load(&n_conns), atomic_load(&n_scans), atomic_load(&n_found),
            atomic_load(&n_errors), atomic_load(&n_refused));
    status = atomic_load(&live) ? 1 : 0;
out:
    for (size_t i = 0; i < n_ls; i++) {
        if (ls[i].fd >= 0)
            close(ls[i].fd);
        if (ls[i].path)
            unlink(ls[i].path);
        free(ls[i].path);
        free(ls[i].spec);
    }
    /* Threads still in a scan (a stuck engine) keep the client: leave it to
     * the process's end rather than free it under them. */
    if (!atomic_load(&live))
        zh_client_close(client);
    if (!atomic_load(&live))
        zhc_config_free(&zcl_table, &cfg);
    return status;
}
