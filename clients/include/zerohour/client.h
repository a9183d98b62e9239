/* zerohour/client.h — libzerohour-client: talk to one or several zerohourd
 * engines over nng (req0) with the protobuf contract in proto/zerohour.proto.
 *
 * Threads: one zh_client may be shared by any number of threads; each call
 * uses its own nng context. Results are owned by the caller and freed with
 * the matching *_free function; out-parameters are set only on ZH_OK (leave
 * them alone on failure). Strings in results are never NULL ("" when the
 * engine sent none). Every function returning int returns ZH_OK (0) or a
 * negative zh_client_error; zh_client_strerror() names it, and
 * zh_client_last_error() gives this thread's detail text for the last failure.
 *
 * Time: a call first waits up to connect_timeout_ms for a connected engine
 * (ZH_E_UNREACHABLE), then up to timeout_ms for the answer (ZH_E_TIMEOUT).
 * When the connection carrying a request closes (the engine stopped or
 * crashed), the request goes at once to another connected engine; with none
 * left the call fails at once with ZH_E_UNREACHABLE, never waiting out
 * timeout_ms. */
#ifndef ZEROHOUR_CLIENT_H
#define ZEROHOUR_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "zerohour/verdict.h" /* enum zh_verdict */

#ifdef __cplusplus
extern "C" {
#endif

enum zh_client_error {
    ZH_OK = 0,
    ZH_E_INVAL = -1, /* bad argument (NULL, empty address list...) */
    ZH_E_NOMEM = -2,
    ZH_E_ADDRESS = -3,     /* an address nng cannot parse */
    ZH_E_UNREACHABLE = -4, /* no engine connected at any address */
    ZH_E_TIMEOUT = -5,     /* no reply within the timeout */
    ZH_E_TOOBIG = -6,      /* message larger than the engine accepts (checked locally, or the
                              engine closed the connection on it and said its limit after) */
    ZH_E_PROTOCOL = -7,    /* reply could not be decoded */
    ZH_E_IO = -8,          /* reading a file failed */
    /* The engine answered with a non-OK status; zh_client_last_error() has its message. */
    ZH_E_INVALID_ARGUMENT = -20,
    ZH_E_RESOURCE_EXHAUSTED = -21,
    ZH_E_DEADLINE_EXCEEDED = -22,
    ZH_E_UNAVAILABLE = -23,
    ZH_E_INTERNAL = -24,
    ZH_E_UNIMPLEMENTED = -25,
    ZH_E_PERMISSION_DENIED = -26, /* an administrative call on a non-admin address */
};

struct zh_client_options {
    unsigned timeout_ms;         /* per call; 0 = 30000 */
    unsigned connect_timeout_ms; /* how long a call waits for a first connection; 0 = 1000 */
    size_t max_message_bytes;    /* refuse larger messages locally; 0 = ask the engine (Ping) */
    /* Nonzero: every scan of this client looks without teaching the engine
     * (as zh_envelope.no_observe). For programs that only ever hunt. */
    int no_observe;
    /* tls+tcp:// addresses: the CAs (PEM file) that signed the engines'
     * certificates, required; the engine's name in the URL must match its
     * certificate. tls_cert: this client's certificate and key (PEM file),
     * for engines that ask for one (engine.tls_ca); NULL: none. */
    const char *tls_ca;
    const char *tls_cert;
};

/* The SMTP envelope sent with a scan. All strings may be NULL. Borrowed. */
struct zh_envelope {
    const char *client_ip;
    const char *helo;
    const char *mail_from;
    const char *const *rcpt_to;
    size_t n_rcpt;
    int64_t received_at; /* unix ms; 0 = engine's now */
    /* The input's name when it is a file rather than mail; the engine scans
     * input that is not RFC 5322 as one object of that name.
     * zh_client_scan_file sends the path's base name when this is NULL. */
    const char *filename;
    /* Nonzero: the engine judges this message with what it knows but does
     * not count it in its outbreak and sender tables (ScanRequest.no_observe).
     * For hunts through stored mail; leave 0 for live traffic. */
    int no_observe;
    /* The MTA's queue id (Postfix/Sendmail's `i` macro), kept with the
     * message when the engine stores scans. NULL: none. */
    const char *queue_id;
};

struct zh_hit {
    char *detector, *rule, *object, *detail, *family;
    int score;
    char **aliases;
    size_t n_aliases;
};

struct zh_scan_result {
    char *request_id;
    int verdict; /* enum zh_verdict */
    int score;
    struct zh_hit *hits;
    size_t n_hits;
    uint64_t ruleset_version;
    uint64_t elapsed_us, parse_us, unpack_us, detect_us;
    unsigned objects;
    unsigned retry_after_s;
};

struct zh_reload_result {
    int ok;
    uint64_t ruleset_version;
    unsigned rule_count;
    char **errors;
    size_t n_errors;
    char **warnings;
    size_t n_warnings;
    uint64_t elapsed_us;
};

struct zh_stats_entry {
    char *section, *key, *value;
};
struct zh_stats_result {
    struct zh_stats_entry *entries; /* in the engine's order, grouped by section */
    size_t n_entries;
};

struct zh_ping_result {
    char *version;
    uint64_t ruleset_version, uptime_s, max_message_bytes;
    unsigned workers;
};

/* One fingerprint from the engine's outbreak table (see Outbreak in the proto). */
struct zh_outbreak {
    char *fingerprint, *summary, *hits;
    int64_t first_seen, last_seen, active_since; /* unix ms */
    uint64_t total;
    unsigned copies, senders, client_ips, rcpt_domains; /* within the window */
    int active, blocking;
    /* active outbreaks on an engine with a store: copies delivered (CLEAN or
     * SUSPICIOUS) before the outbreak was declared */
    uint64_t delivered_before;
    int delivered_known;
};
struct zh_outbreaks_result {
    struct zh_outbreak *outbreaks; /* active first, then by copies */
    size_t n_outbreaks;
    int64_t now; /* the engine's clock, unix ms */
};

/* Retrohunt over an engine's store (see RetrohuntRequest in the proto):
 * hunt_id 0 starts a hunt with one of rules, sha256 or outbreak; a hunt_id
 * polls that hunt (cancel stops it). Strings borrowed for the call. */
struct zh_retrohunt_rule {
    const char *name, *source;
};
struct zh_retrohunt_request {
    uint64_t hunt_id;
    int cancel;
    const struct zh_retrohunt_rule *rules;
    size_t n_rules;
    const char *sha256, *outbreak;
    int64_t window_ms;      /* 0 = everything stored */
    unsigned deadline_ms;   /* 0 = none */
    unsigned offset, limit; /* the page of a finished hunt's messages (limit 0: the engine's) */
};
struct zh_retrohunt_message {
    int64_t received_at;
    int verdict, score; /* then */
    char *message_id, *mail_from, *queue_id, *subject, *client_ip, *helo, *hits, *fingerprint;
    char **rcpt_to;
    size_t n_rcpt;
    char **rules; /* matching now */
    size_t n_rules;
    char **objects;
    size_t n_objects;
};
enum zh_retrohunt_state {
    ZH_RETROHUNT_RUNNING = 1,
    ZH_RETROHUNT_DONE,
    ZH_RETROHUNT_CANCELLED,
    ZH_RETROHUNT_EXPIRED,
    ZH_RETROHUNT_FAILED
};
struct zh_retrohunt_result {
    uint64_t hunt_id;
    int state; /* enum zh_retrohunt_state */
    int done;
    char *error;
    uint64_t objects_total, objects_done, objects_unreadable, bytes_done, elapsed_us;
    int64_t since;                         /* unix ms */
    struct zh_retrohunt_message *messages; /* when done, oldest first: the page */
    size_t n_messages;
    uint64_t messages_total; /* in the hunt's whole list */
    int truncated;           /* the engine listed at most its hunt_max_messages */
};

typedef struct zh_client zh_client;

/* Connect to n addresses (n >= 1; nng URLs such as ipc:///path or
 * tcp://127.0.0.1:7350; copied). Each address is dialled once before this
 * returns, so its error (refused, no such socket file) is known; an engine
 * that is down is not an error here: it is redialled in the background and
 * reported by the first call that finds no engine. That first dial is
 * immediate for ipc:// and refused tcp://, but an unresponsive TCP host holds
 * it up until the kernel gives up. Requests are spread over connected engines
 * and resent to another when one goes away. opts may be NULL. Returns
 * ZH_E_ADDRESS for a URL nng cannot parse or whose transport it lacks. On
 * success *out owns the client. */
int zh_client_open(zh_client **out, const char *const *addresses, size_t n,
                   const struct zh_client_options *opts);
/* Close and free c (NULL is fine). No call may be in progress on c. */
void zh_client_close(zh_client *c);

/* Scan a message held in memory (borrowed). env and request_id may be NULL.
 * deadline_ms is the engine's time budget; 0 = the client's timeout less a
 * little for the answer to travel back (the engine's DEADLINE_EXCEEDED then
 * arrives before ZH_E_TIMEOUT). A larger deadline_ms stretches the wait.
 * With max_message_bytes 0 the first scan asks the engine for its limit
 * (a Ping) and remembers it; larger messages fail with ZH_E_TOOBIG without
 * being sent. On ZH_OK *out is the caller's. */
int zh_client_scan(zh_client *c, const void *msg, size_t len, const struct zh_envelope *env,
                   const char *request_id, unsigned deadline_ms, struct zh_scan_result **out);
/* Read path ("-" = stdin) whole and scan it; ZH_E_IO when it cannot be read.
 * A regular file over the size limit is refused before it is read. */
int zh_client_scan_file(zh_client *c, const char *path, const struct zh_envelope *env,
                        const char *request_id, unsigned deadline_ms, struct zh_scan_result **out);
void zh_scan_result_free(struct zh_scan_result *r);

int zh_client_reload(zh_client *c, struct zh_reload_result **out);
void zh_reload_result_free(struct zh_reload_result *r);

int zh_client_stats(zh_client *c, const char *section, struct zh_stats_result **out);
void zh_stats_result_free(struct zh_stats_result *r);

int zh_client_ping(zh_client *c, struct zh_ping_result **out);
void zh_ping_result_free(struct zh_ping_result *r);

int zh_client_outbreaks(zh_client *c, struct zh_outbreaks_result **out);
void zh_outbreaks_result_free(struct zh_outbreaks_result *r);

/* A hunt lives in one engine: poll it at the address that started it (a
 * client of one address). On ZH_OK *out is the caller's. */
int zh_client_retrohunt(zh_client *c, const struct zh_retrohunt_request *req,
                        struct zh_retrohunt_result **out);
void zh_retrohunt_result_free(struct zh_retrohunt_result *r);

/* Forget stored messages (privacy requests): those with message_id, or
 * (message_id NULL) those received more than older_than_ms ago by the
 * store's clock. *forgotten says how many. */
int zh_client_store_forget(zh_client *c, const char *message_id, int64_t older_than_ms,
                           uint64_t *forgotten);

/* Static name of an error code ("engine unreachable", ...). */
const char *zh_client_strerror(int err);
/* Detail of this thread's last failed call (engine message, dial error...);
 * each call clears it, so it is valid until the thread's next call. Never NULL. */
const char *zh_client_last_error(void);
/* Default address (see zerohour/wire.h): $ZEROHOUR_ADDRESS or a per-user ipc
 * path. ZH_E_ADDRESS when that path's directory exists but could have been
 * made by another local user (not ours or root's, writable by others, or a
 * symlink): zh_client_last_error() says which and why. ZH_E_INVAL when buf is
 * too small. */
int zh_client_default_address(char *buf, size_t n);

#ifdef __cplusplus
}
#endif
#endif
