/* zhi.h — internals of the scanning library shared between its files: the
 * per-scan arena, scan objects, the scan context handed to detectors, the
 * reference-counted rule set and the detector interface. Not installed. */
#ifndef ZHI_H
#define ZHI_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>

#include "zerohour/config.h"
#include "zerohour/engine.h"
#include "zerohour/error.h"

/* ---- per-scan arena (arena.c) -------------------------------------------
 * Bump allocator; everything a scan allocates comes from here and is released
 * at once by zhi_arena_reset. The first block is kept across resets so a
 * steady stream of ordinary mail allocates nothing from malloc. */
struct zhi_arena_block;
struct zhi_arena_adopted;
struct zhi_arena {
    struct zhi_arena_block *head;      /* current block; older ones linked behind */
    struct zhi_arena_adopted *adopted; /* foreign memory released at reset */
    struct zhi_arena_block *keep;      /* the first block, reused after reset */
    bool keep_in_use;
    size_t block_size;
};
void zhi_arena_init(struct zhi_arena *a, size_t block_size);
void *zhi_arena_alloc(struct zhi_arena *a, size_t n);                 /* NULL on OOM; 16-aligned */
void *zhi_arena_memdup(struct zhi_arena *a, const void *p, size_t n); /* adds a NUL */
char *zhi_arena_strdup(struct zhi_arena *a, const char *s);           /* NULL stays NULL */
/* Take p (allocated elsewhere) into the arena: release(p) runs at the next
 * reset, so big buffers made by a library need no copy. On OOM, p is
 * released at once and false returned. */
bool zhi_arena_adopt(struct zhi_arena *a, void *p, void (*release)(void *));
/* Release what was adopted now, before the reset (a scan's decoded parts are
 * not needed once its result is built; the result itself stays). */
void zhi_arena_release_adopted(struct zhi_arena *a);
char *zhi_arena_printf(struct zhi_arena *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void zhi_arena_reset(struct zhi_arena *a);

/* A malloc'd byte buffer that grows by doubling (from 64 KiB), for data whose
 * size is not known ahead (an archive member, a serialised rule set). */
struct zhi_buf {
    uint8_t *p;
    size_t len, cap;
};
bool zhi_buf_append(struct zhi_buf *b, const void *d, size_t n); /* false on OOM */
void zhi_arena_free(struct zhi_arena *a);

/* ---- time ---------------------------------------------------------------- */
uint64_t zhi_now_us(void); /* monotonic */
int64_t zhi_unix_ms(void); /* wall clock */

/* ---- type sniffing (sniff.c) --------------------------------------------- */
enum zhi_type {
    ZHI_T_DATA = 0,
    ZHI_T_EMPTY,
    ZHI_T_TEXT,
    ZHI_T_HTML,
    ZHI_T_PE,
    ZHI_T_MZ,
    ZHI_T_ELF,
    ZHI_T_MACHO,
    ZHI_T_SCRIPT,
    ZHI_T_ZIP,
    ZHI_T_RAR,
    ZHI_T_7Z,
    ZHI_T_GZIP,
    ZHI_T_BZIP2,
    ZHI_T_XZ,
    ZHI_T_CAB,
    ZHI_T_TAR,
    ZHI_T_ARJ,
    ZHI_T_LHA,
    ZHI_T_OLE2,
    ZHI_T_PDF,
    ZHI_T_RTF,
    ZHI_T_JPEG,
    ZHI_T_PNG,
    ZHI_T_GIF,
    ZHI_T_BMP,
    ZHI_T_LNK,
    ZHI_T__COUNT
};
enum zhi_type zhi_sniff(const uint8_t *p, size_t n);
const char *zhi_type_name(enum zhi_type t); /* "pe", "zip", ... */
bool zhi_type_is_executable(enum zhi_type t);
bool zhi_type_is_archive(enum zhi_type t);

/* ---- scan objects -------------------------------------------------------- */
enum zhi_kind { ZHI_K_HEADERS, ZHI_K_TEXT, ZHI_K_ATTACHMENT, ZHI_K_MEMBER };
const char *zhi_kind_name(enum zhi_kind k);

#define ZHI_OBJ_TRUNCATED 0x1u      /* content ended early (bad encoding, short archive) */
#define ZHI_OBJ_ENCRYPTED 0x2u      /* archive member we could not decrypt */
#define ZHI_OBJ_INLINE_UU 0x4u      /* uuencoded block found inside a text part */
#define ZHI_OBJ_DECRYPTED 0x8u      /* encrypted member opened with a password from the text */
#define ZHI_OBJ_HAS_ENCRYPTED 0x10u /* archive holding encrypted members */
#define ZHI_OBJ_IN_MESSAGE 0x20u    /* inside an encapsulated message/rfc822 part */

struct zhi_object {
    const char *path;          /* "2/document.zip/readme.exe"; arena */
    const char *filename;      /* decoded name or NULL */
    const char *ext;           /* last extension, lower-case, no dot, or "" */
    const char *declared_type; /* "application/zip" or "" */
    enum zhi_type sniffed;
    enum zhi_kind kind;
    const uint8_t *data; /* decoded content; arena or the request buffer */
    size_t len;
    int depth;         /* MIME depth + archive depth */
    int archive_depth; /* 0 outside archives */
    int parent;        /* index of the containing object, -1 for none */
    unsigned flags;
};

/* ---- rule set (rules.c) --------------------------------------------------- */
struct zhi_heuristics;
struct zhi_ruleset {
    void *yr_rules;              /* YR_RULES* (kept opaque outside rules.c/yara.c) */
    struct zhi_heuristics *heur; /* rules/heuristics.ini */
    uint64_t version;
    unsigned rule_count;
    atomic_int refs;
    struct zhi_rule_stats *rule_stats; /* per rule, by index in the compiled table */
    atomic_ullong yara_bytes;          /* bytes the yara detector scanned with this set */
    /* The set serialised by libyara before it was published (saving rewrites
     * pointers in place, so it must not happen while scanners use the set);
     * the rule profiler loads its private copy from it, then frees it. NULL
     * when profiling is off. */
    void *image;
    size_t image_len;
    /* set by the rule profiler (profile.c) */
    atomic_ullong profile_passes;       /* complete passes over all rules */
    atomic_ullong profile_sample_bytes; /* size of the sample of the last round */
};
struct zhi_rule_stats {
    atomic_ullong matches;
    atomic_ullong cost_ns_per_mib; /* CPU per MiB of sampled mail, once timed */
    atomic_uint timed;             /* how often the profiler timed the rule */
};
struct zhi_ruleset *zhi_ruleset_acquire(zh_engine *e);
void zhi_ruleset_release(struct zhi_ruleset *rs);
zh_err zhi_rules_compile(const char *dir, struct zhi_ruleset **out, struct zh_rules_report *rep);
void zhi_ruleset_free(struct zhi_ruleset *rs);
/* Rule sets in memory in this process: the live one of each engine, and older
 * ones that a scan in flight or the rule profiler still holds. Any thread. */
unsigned long long zhi_rulesets_alive(void);
/* Append a formatted line to a report list (errors or warnings); drops it on OOM. */
void zhi_report_add(char ***list, size_t *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* External variables rule authors can use; one table drives their
 * declaration at compile time and their values at scan time. */
struct zhi_scan;
struct zhi_object;
enum zhi_ext_type { ZHI_EXT_STR, ZHI_EXT_INT, ZHI_EXT_BOOL };
struct zhi_external {
    const char *name;
    enum zhi_ext_type type;
    const char *help;
    const char *(*str)(const struct zhi_scan *s, const struct zhi_object *o);
    int64_t (*num)(const struct zhi_scan *s, const struct zhi_object *o);
};
extern const struct zhi_external zhi_externals[];
extern const size_t zhi_n_externals;
/* Give external x its value on a YR_SCANNER: str for string externals, num
 * for integer and boolean ones. Returns a libyara error code. */
int zhi_external_define(void *yr_scanner, const struct zhi_external *x, const char *str,
                        int64_t num);

/* ---- the scan context handed to detectors -------------------------------- */
struct zhi_scan {
    zh_engine *engine;
    const struct zh_config *cfg;
    struct zhi_ruleset *rules;
    struct zhi_arena *arena;
    const struct zh_scan_envelope *env;
    int64_t received_at; /* env's, or now */
    const char *subject; /* decoded, UTF-8, "" if none */
    const char *from;    /* header From address, "" if none */
    const char *message_id;
    const char *from_name;   /* display name of the From address, "" if none */
    const char *top_type;    /* top-level Content-Type, lower-case ("multipart/report") */
    const char *report_type; /* its report-type parameter, lower-case, or "" */
    bool has_date, date_ok;  /* a Date header exists / parses */
    int64_t date_unix;       /* the Date header, unix seconds, when date_ok */
    bool has_message_id_header;
    struct zhi_object *objects;
    size_t n_objects, cap_objects;
    struct zh_hit *hits;
    size_t n_hits, cap_hits;
    unsigned mime_warnings; /* bit per GMime parser warning seen */
    uint64_t deadline_us;   /* monotonic; 0 = none */
    bool client_deadline;   /* the deadline is the caller's, not the engine's */
    bool explain;           /* add matched strings and offsets to YARA hits (rules test) */
    uint32_t defer_retry_s; /* set by the outbreak detector: answer DEFER */
    bool timed_out;
    void **thread_state; /* per-detector per-thread state, by index */
};

/* Append an object; returns its index or -1 on OOM. Strings must already live
 * in the arena (or outlive the scan). */
int zhi_scan_add_object(struct zhi_scan *s, const struct zhi_object *o);
/* Record a hit; strings are copied into the arena. family/detail may be NULL. */
zh_err zhi_scan_hit(struct zhi_scan *s, const char *detector, const char *rule, const char *object,
                    int score, unsigned flags, const char *family, const char *const *aliases,
                    size_t n_aliases, const char *detail_fmt, ...)
    __attribute__((format(printf, 10, 11)));
/* True (and marks the scan) when the deadline has passed. */
bool zhi_scan_expired(struct zhi_scan *s);

/* ---- stages --------------------------------------------------------------- */
/* mime.c: flatten msg into objects. ZH_ERR_INVALID when it is no RFC 5322
 * message; limit breaches are reported as hits and return ZH_ERR_OK. */
struct zhi_mime; /* per-thread parser state */
zh_err zhi_mime_new(struct zhi_mime **out);
void zhi_mime_free(struct zhi_mime *m);
/* Lower-case last extension of a name, ignoring the trailing dots and spaces
 * Windows strips ("a.exe. " is an .exe); "" when there is none. Arena string. */
const char *zhi_extension_of(struct zhi_arena *a, const char *name);
zh_err zhi_mime_flatten(struct zhi_mime *m, struct zhi_scan *s, const uint8_t *msg, size_t len,
                        char *err, size_t errlen);

/* archive.c: open every archive object with libarchive (bounded by the
 * archive_* settings) and append its members as objects, recursively. Limit
 * breaches and malformed archives become hits; returns ZH_ERR_FATAL only on OOM. */
zh_err zhi_unpack(struct zhi_scan *s);
/* Candidate passwords from the text parts ("Password: 12345"), at most max. */
size_t zhi_text_passwords(struct zhi_scan *s, const char **out, size_t max);

/* The engine's outbreak state (NULL when [outbreak] enabled = 0). */
struct zhi_outbreaks *zhi_engine_outbreaks(zh_engine *e);
/* Score of the hits so far, as verdict.c will count them (rules once,
 * detectors capped), without combinations. */
long zhi_verdict_score(const struct zhi_scan *s);

/* ---- detectors (engine/detectors/) ----------------------------------------
 * One file per detector fills a const struct zh_detector; detectors/registry.c
 * lists them once. init/fini: engine lifetime state (any thread);
 * thread_init/thread_fini: state owned by one scanner thread; scan: examine
 * s->objects and the envelope and record hits with zhi_scan_hit. */
struct zh_detector {
    const char *name;
    unsigned flags;
    zh_err (*init)(zh_engine *e, void **state);
    zh_err (*thread_init)(void *state, void **tstate);
    zh_err (*scan)(struct zhi_scan *s, void *state, void *tstate);
    void (*thread_fini)(void *tstate);
    void (*fini)(void *state);
};
extern const struct zh_detector *const zhi_detectors[];
extern const size_t zhi_n_detectors;

/* ---- rule profiler (profile.c) -------------------------------------------
 * A background thread that times each rule of the live set on a reservoir of
 * recent objects and fills rs->rule_stats[].cost_ns_per_mib. start leaves *out
 * NULL when cfg->rule_profile_interval_ms is 0. offer is called by scanner
 * threads at the end of a scan; it copies a few objects at most every few
 * scans and never waits. stop joins the thread and frees everything. */
struct zhi_profiler;
/* Fill rs->image; call before rs is published. */
zh_err zhi_ruleset_save_image(struct zhi_ruleset *rs);
zh_err zhi_profiler_start(zh_engine *e, const struct zh_config *cfg, struct zhi_profiler **out);
void zhi_profiler_offer(struct zhi_profiler *p, const struct zhi_scan *s);
void zhi_profiler_stop(struct zhi_profiler *p);
/* Called by a scanner at the end of every successful scan, when set (offline
 * profiling collects every object this way). */
typedef void (*zhi_scan_capture_fn)(void *ud, const struct zhi_scan *s);
void zhi_scanner_set_capture(zh_scanner *sc, zhi_scan_capture_fn fn, void *ud);
struct zhi_ruleset *zhi_scanner_engine_rules(zh_scanner *sc);

/* ---- counters (stats.c) ---------------------------------------------------- */
struct zhi_detector_stats {
    atomic_ullong calls, hits, errors, time_us;
};
struct zhi_stats;
struct zhi_stats *zhi_stats_new(size_t n_detectors);
void zhi_stats_free(struct zhi_stats *st);
void zhi_stats_scan_done(struct zhi_stats *st, const struct zh_result *r);
struct zhi_detector_stats *zhi_stats_detector(struct zhi_stats *st, size_t i);

#endif
