/* zerohour/engine.h — the scanning library: an engine (configuration, the
 * current rule set, counters) shared by all threads, and scanners, one per
 * thread, that turn one message + envelope into a verdict with hits.
 *
 * Threads: zh_engine_* functions are thread-safe. A zh_scanner belongs to one
 * thread at a time. Results (struct zh_result) live in the scanner's per-scan
 * arena and stay valid until the next zh_scanner_scan or zh_scanner_free. */
#ifndef ZEROHOUR_ENGINE_H
#define ZEROHOUR_ENGINE_H

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

/* SMTP envelope of one scan. Strings borrowed for the call. */
struct zh_scan_envelope {
    const char *client_ip, *helo, *mail_from;
    const char *const *rcpt_to;
    size_t n_rcpt;
    int64_t received_at; /* unix ms; 0 = now */
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

/* Offline rule profiling for rule authors (`zerohour rules profile`): compile
 * dir, flatten each message as a scan does, then time every rule on all of
 * their objects the way the engine's background profiler does (each rule
 * alone against the set with every rule inert, in turns, CPU time, fastest of five).
 * fn is called once per rule, slowest first; strings are borrowed for the
 * call. Rule errors fill report and return ZH_ERR_INVALID; a message that is
 * not mail is skipped and counted in *skipped. */
struct zh_rule_cost {
    const char *rule;
    unsigned long long matches; /* objects of the messages the rule matched */
    double us;                  /* CPU the rule adds to one pass over all objects */
    double us_per_mib;          /* the same per MiB of those objects */
};
typedef void (*zh_rule_cost_fn)(void *ud, const struct zh_rule_cost *c);
zh_err zh_rules_profile(const char *dir, const uint8_t *const *msgs, const size_t *lens, size_t n,
                        zh_rule_cost_fn fn, void *ud, size_t *objects, uint64_t *bytes,
                        size_t *skipped, struct zh_rules_report *report);

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
struct zh_outbreak_info;
size_t zh_engine_outbreaks(zh_engine *e, int64_t now_ms, struct zh_outbreak_info *out, size_t max);
/* Save the outbreak state to [outbreak] state_file, atomically; a no-op
 * without one. err receives the reason on failure. */
zh_err zh_engine_save_state(zh_engine *e, char *err, size_t errlen);

/* Counters, Redis INFO style. Calls fn(section, key, value) for each entry of
 * `section` (NULL or "" = all) in a stable order. */
typedef void (*zh_stats_fn)(void *ud, const char *section, const char *key, const char *value);
void zh_engine_stats(zh_engine *e, const char *section, zh_stats_fn fn, void *ud);

#ifdef __cplusplus
}
#endif
#endif
