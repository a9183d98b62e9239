/* zerohour/engine.h — the scanning library: an engine (configuration, the
 * current rule set, counters) shared by all threads, and scanners, one per
 * thread, that turn one message + envelope into a verdict with hits.
 *
 * Threads: zh_engine_* functions are thread-safe. A zh_scanner belongs to one
 * thread at a time. Results (struct zh_result) live in the scanner's per-scan
 * arena and stay valid until the next zh_scanner_scan or zh_scanner_free. */
#ifndef ZEROHOUR_ENGINE_H
#define ZEROHOUR_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zerohour/config.h"
#include "zerohour/error.h"
#include "zerohour/verdict.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct zh_engine zh_engine;
typedef struct zh_scanner zh_scanner;

/* What the caller knows of one scan's input besides its bytes: the SMTP
 * envelope and the input's name. Strings borrowed for the call; all may be
 * NULL. */
struct zh_scan_envelope {
    const char *client_ip, *helo, *mail_from;
    const char *const *rcpt_to;
    size_t n_rcpt;
    int64_t received_at; /* unix ms; 0 = now */
    /* The input's file name when it is a file rather than mail: input that is
     * not RFC 5322 is scanned as one object of that name. */
    const char *filename;
    /* Look without learning: the stateful detectors (outbreak, sender) read
     * their tables but count nothing of this scan. For hunts through stored
     * mail; live traffic leaves it false. */
    bool no_observe;
    /* The MTA's queue id, when the client sent one (kept by the store). */
    const char *queue_id;
};

/* One hit of a result: which detector (or stage) found what, where. */
struct zh_result_hit {
    const char *detector, *rule, *object, *detail, *family;
    const char *const *aliases;
    size_t n_aliases;
    int score;
    unsigned flags; /* ZH_HIT_* */
};
#define ZH_HIT_UNSCANNABLE 0x1u /* a limit was hit: never CLEAN */

struct zh_result {
    int status;                 /* zerohour.v1.Status of the call */
    const char *status_message; /* non-empty when status != OK */
    int verdict;                /* enum zh_verdict */
    int score;
    const struct zh_result_hit *hits;
    size_t n_hits;
    uint64_t ruleset_version;
    uint64_t total_us, parse_us, unpack_us, detect_us;
    unsigned objects;
    unsigned retry_after_s; /* with ZH_VERDICT_DEFER */
};

/* Rule compilation report (reload or offline check). */
struct zh_rules_report {
    int ok;
    uint64_t version; /* version serving after the call */
    unsigned rule_count;
    char **errors; /* "file:line: message", malloc'd */
    size_t n_errors;
    char **warnings;
    size_t n_warnings;
    uint64_t elapsed_us;
};
void zh_rules_report_free(struct zh_rules_report *r);

/* Rule costs for rule authors (`zerohour rules profile`): a meter times each
 * rule of an engine's current set on a sample of scan objects, the way the
 * engine's background profiler does (each rule alone against the set with
 * every rule inert, in turns, CPU time, fastest of `passes`).
 *   zh_rule_meter_new: for e's current set. No scan may run on e meanwhile
 *     (libyara rewrites a set in place while saving the copy the meter uses).
 *   zh_scanner_set_meter: every object of every scan sc makes from now on
 *     joins the sample (the head of objects over 4 MiB); NULL detaches.
 *   zh_rule_meter_run: fn is called once per rule, in the set's order; the
 *     strings are borrowed for the call. ZH_ERR_FATAL on OOM. */
struct zh_rule_cost {
    const char *rule;
    unsigned long long matches; /* sampled objects the rule matched */
    double us;                  /* CPU the rule adds to one pass over the sample */
    double us_per_mib;          /* the same per MiB of the sample */
};
typedef void (*zh_rule_cost_fn)(void *ud, const struct zh_rule_cost *c);
typedef struct zh_rule_meter zh_rule_meter;
zh_err zh_rule_meter_new(zh_engine *e, zh_rule_meter **out);
void zh_rule_meter_free(zh_rule_meter *m);
void zh_scanner_set_meter(zh_scanner *sc, zh_rule_meter *m);
zh_err zh_rule_meter_run(zh_rule_meter *m, unsigned passes, zh_rule_cost_fn fn, void *ud);
size_t zh_rule_meter_objects(const zh_rule_meter *m);
uint64_t zh_rule_meter_bytes(const zh_rule_meter *m);

/* Create the engine: initialises GMime and YARA once per process and compiles
 * cfg->rules_dir. cfg is copied. On rule errors, *out is NULL and report (if
 * given) lists them. The caller owns *out and the report's contents. */
zh_err zh_engine_new(const struct zh_config *cfg, zh_engine **out, struct zh_rules_report *report);
void zh_engine_free(zh_engine *e);
const struct zh_config *zh_engine_config(const zh_engine *e);

/* Recompile the rules directory off the scan path and publish it atomically;
 * scans in flight finish on the set they started with. Serialised. On failure
 * the old set keeps serving. report is filled either way (caller frees). */
zh_err zh_engine_reload(zh_engine *e, struct zh_rules_report *report);
uint64_t zh_engine_ruleset_version(zh_engine *e);

/* Compile a rules directory without an engine (zerohour rules check). */
zh_err zh_rules_check(const char *dir, struct zh_rules_report *report);

/* Per-thread scanner. */
zh_err zh_scanner_new(zh_engine *e, zh_scanner **out);
void zh_scanner_free(zh_scanner *s);
/* With on, YARA hits' details name the matched strings and their offsets
 * (for rule authors: zerohour rules test). Costs time; off by default. */
void zh_scanner_set_explain(zh_scanner *s, int on);
/* Tell the scanner its thread is idle (e.g. no request for a while): it lets
 * go of what it still holds of a rule set a reload replaced, so the old set's
 * memory is freed without waiting for this thread's next scan. Cheap; call
 * from the scanner's own thread. */
void zh_scanner_idle(zh_scanner *s);

/* Scan one message. msg is borrowed for the call. deadline_ms is the
 * caller's relative deadline (0 = none beyond the engine's scan budget).
 * Always fills *res (status says whether a verdict was reached). */
zh_err zh_scanner_scan(zh_scanner *s, const uint8_t *msg, size_t len,
                       const struct zh_scan_envelope *env, uint32_t deadline_ms,
                       const struct zh_result **res);

/* The outbreak table, for the Outbreaks call and `zerohour outbreaks`: active
 * outbreaks and risky fingerprints seen twice or more within the window,
 * active first then by copies, as of now_ms (0: the newest received_at the
 * engine has seen). Returns how many were written (<= max). */
struct zh_outbreak_info {
    char fingerprint[17]; /* 16 hex digits */
    char summary[96];     /* the fingerprint in words: "zip~22K > pe.pif~22K" */
    char hits[96];        /* rule names seen with it, comma-separated */
    int64_t first_seen, last_seen, active_since;        /* unix ms, received_at clock */
    uint64_t total;                                     /* copies since first seen */
    unsigned copies, senders, client_ips, rcpt_domains; /* within the window */
    bool active, risky;
    /* Active outbreaks, with the store on: copies received before it was
     * declared that were delivered (CLEAN or SUSPICIOUS). */
    uint64_t delivered_before;
    bool delivered_known;
};
size_t zh_engine_outbreaks(zh_engine *e, int64_t now_ms, struct zh_outbreak_info *out, size_t max);
/* Save the outbreak state to [outbreak] state_file, atomically; a no-op
 * without one. err receives the reason on failure. */
zh_err zh_engine_save_state(zh_engine *e, char *err, size_t errlen);

/* Retro-hunt over the store of recent scans ([store] enabled): YARA rules
 * run over every kept object (each distinct SHA-256 once) of the messages in
 * the window, or the messages holding an object of one SHA-256, or those
 * whose payload had one outbreak fingerprint. A hunt runs on a thread of its
 * own, using at most [store] hunt_cpu_percent of one core; one at a time,
 * and only the latest one's results are kept.
 *   zh_engine_hunt_start: the request is borrowed for the call (rules are
 *     compiled before it returns). ZH_ERR_INVALID with err for rules that do
 *     not compile or a malformed hash or fingerprint; ZH_ERR_FAILED when the
 *     store is off or a hunt is running. *id names the hunt.
 *   zh_engine_hunt_poll: fills *out (caller frees with zh_hunt_status_free)
 *     with messages [offset, offset + limit) of the list (limit 0: all);
 *     cancel stops the hunt first. ZH_ERR_INVALID for an unknown id.
 * Messages are listed once the hunt is no longer running. Thread-safe. */
struct zh_hunt_rule {
    const char *name, *source;
};
struct zh_hunt_request {
    const struct zh_hunt_rule *rules; /* one of rules, sha256, outbreak */
    size_t n_rules;
    const char *sha256;   /* 64 hex digits */
    const char *outbreak; /* 16 hex digits */
    int64_t window_ms;    /* the last window_ms of the store's clock; 0 = everything stored */
    uint32_t deadline_ms; /* 0 = none */
};
enum zh_hunt_state {
    ZH_HUNT_RUNNING = 1,
    ZH_HUNT_DONE = 2,
    ZH_HUNT_CANCELLED = 3,
    ZH_HUNT_EXPIRED = 4,
    ZH_HUNT_FAILED = 5
};
struct zh_hunt_message {
    int64_t received_at;
    int verdict, score; /* as scanned then */
    char *message_id, *mail_from, *client_ip, *helo, *subject, *queue_id, *hits, *fingerprint;
    char **rcpt_to;
    size_t n_rcpt;
    char **rules; /* rules matching now, or "sha256:HASH" / "outbreak:FP" */
    size_t n_rules;
    char **objects; /* paths of the matching objects */
    size_t n_objects;
};
struct zh_hunt_status {
    uint64_t id;
    int state; /* enum zh_hunt_state */
    char error[512];
    uint64_t objects_total, objects_done, objects_unreadable, bytes_done, elapsed_us;
    int64_t since;                    /* unix ms, the window's start */
    struct zh_hunt_message *messages; /* the page asked for */
    size_t n_messages;
    size_t messages_total; /* in the whole list */
    bool truncated;        /* more matched than [store] hunt_max_messages */
};
zh_err zh_engine_hunt_start(zh_engine *e, const struct zh_hunt_request *req, uint64_t *id,
                            char *err, size_t errlen);
zh_err zh_engine_hunt_poll(zh_engine *e, uint64_t id, bool cancel, size_t offset, size_t limit,
                           struct zh_hunt_status *out);
void zh_hunt_status_free(struct zh_hunt_status *st);

/* Forget stored messages for a privacy request: those with message_id
 * (angle brackets optional), or, with message_id NULL or "", every one
 * received more than older_than_ms before the store's clock; with the kept
 * objects no other message shares, the freed pages overwritten. *n says how
 * many. ZH_ERR_INVALID (err) for neither or both; ZH_ERR_FAILED when the
 * store is off or failed. Blocks until done. */
zh_err zh_engine_store_forget(zh_engine *e, const char *message_id, int64_t older_than_ms,
                              uint64_t *n, char *err, size_t errlen);

/* Counters, Redis INFO style. Calls fn(section, key, value) for each entry of
 * `section` (NULL or "" = all) in a stable order. */
typedef void (*zh_stats_fn)(void *ud, const char *section, const char *key, const char *value);
void zh_engine_stats(zh_engine *e, const char *section, zh_stats_fn fn, void *ud);

#ifdef __cplusplus
}
#endif
#endif
