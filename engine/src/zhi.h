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
    ZHI_T_ISO,     /* ISO 9660 or UDF optical disc image */
    ZHI_T_CPIO,    /* cpio archive, newc/odc/binary */
    ZHI_T_CHM,     /* compiled HTML help (ITSF) */
    ZHI_T_SZDD,    /* MS-DOS COMPRESS.EXE (SZDD) */
    ZHI_T_KWAJ,    /* MS-DOS COMPRESS.EXE (KWAJ) */
    ZHI_T_ONENOTE, /* OneNote section (.one) */
    ZHI_T_VHD,     /* virtual hard disk: VHD (fixed or dynamic) or VHDX */
    ZHI_T_FAT,     /* a FAT12/16/32 volume image (boot sector with a BPB), or a
                      partitioned disk image (MBR, GPT) that may hold one */
    ZHI_T__COUNT
};
enum zhi_type zhi_sniff(const uint8_t *p, size_t n);
const char *zhi_type_name(enum zhi_type t); /* "pe", "zip", ... */
bool zhi_type_is_executable(enum zhi_type t);
bool zhi_type_is_archive(enum zhi_type t);

/* ---- text helpers (text.c) ------------------------------------------------ */
/* UTF-16 (little- or big-endian) of nbytes bytes, up to its first NUL unit,
 * as a NUL-terminated UTF-8 arena string; a lone surrogate becomes U+FFFD.
 * NULL on OOM. */
char *zhi_utf16_to_utf8(struct zhi_arena *a, const uint8_t *p, size_t nbytes, bool big_endian);
/* n single-byte characters (up to a NUL) read as Latin-1, as UTF-8. */
char *zhi_latin1_to_utf8(struct zhi_arena *a, const uint8_t *p, size_t n);
/* An extension, without the dot, for a member of type t whose container gives
 * it no name ("exe", "hta", "bat", "zip"...); static. */
const char *zhi_type_extension(enum zhi_type t, const uint8_t *p, size_t n);

/* ---- the organisation around the engine (site.c, [site] settings) -------- */
/* ip (text) lies in one of the CIDR entries of list (spaces or commas). */
bool zhi_site_ip_in(const char *list, const char *ip);
/* The organisational part of a domain or address: the last two labels, or
 * three when the second-level label is short ("example.co.uk"). Static. */
const char *zhi_org_domain(const char *domain);
struct zhi_scan;
/* The client is in internal_networks or trusted_networks. */
bool zhi_site_trusted_client(const struct zhi_scan *s);
/* domain (or an address) is one of internal_domains or below one; when that
 * setting is empty, a domain of the same organisation as a recipient. */
bool zhi_site_internal_domain(const struct zhi_scan *s, const char *domain);
/* Mail of the organisation itself: a known client in internal_networks or
 * trusted_networks, and the From and envelope sender in internal domains. */
bool zhi_site_internal_mail(const struct zhi_scan *s);
/* Validate the [site] lists (zh_config_check calls it). */
zh_err zhi_site_check(const struct zh_config *cfg, char *err, size_t errlen);
/* ---- OLE Package objects (package.c) ---------------------------------------
 * The file an OLE Package object embeds, read from its packager data (the
 * "\x01Ole10Native" stream after its 4-byte size, or an RTF object's native
 * data). Strings are arena copies; data points into p. False when the header
 * does not parse; cut when the data claims more bytes than p holds (or none
 * follow). name: the label's base name, else the original or temporary
 * path's, possibly "". */
struct zhi_package {
    const char *label, *path, *temp_path, *name;
    const uint8_t *data;
    size_t len;
    bool cut;
};
struct zhi_arena;
bool zhi_package_parse(struct zhi_arena *a, const uint8_t *p, size_t n, struct zhi_package *out);

/* ---- scan objects -------------------------------------------------------- */
enum zhi_kind { ZHI_K_HEADERS, ZHI_K_TEXT, ZHI_K_ATTACHMENT, ZHI_K_MEMBER };
const char *zhi_kind_name(enum zhi_kind k);

#define ZHI_OBJ_TRUNCATED 0x1u      /* content ended early (bad encoding, short archive) */
#define ZHI_OBJ_ENCRYPTED 0x2u      /* archive member we could not decrypt */
#define ZHI_OBJ_INLINE_UU 0x4u      /* uuencoded block found inside a text part */
#define ZHI_OBJ_DECRYPTED 0x8u      /* encrypted member opened with a password from the text */
#define ZHI_OBJ_HAS_ENCRYPTED 0x10u /* archive holding encrypted members */
#define ZHI_OBJ_IN_MESSAGE 0x20u    /* inside an encapsulated message/rfc822 part */
#define ZHI_OBJ_DECOMPRESSED 0x40u  /* the output of a single-stream compressor (gzip...) */

/* A fact an extractor noted about an object, for detectors and YARA
 * externals: key "lnk.arguments", value "/c powershell ...". Arena strings. */
struct zhi_attr {
    const char *key, *value;
};

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
    const struct zhi_attr *attrs; /* noted with zhi_object_note; arena */
    size_t n_attrs;
    /* Filled by payload.c on first use, after the extract stage (zero
     * until then): what the object is, and the script language of its
     * content, which several detectors and the YARA externals ask for. */
    signed char payload_memo; /* enum zhi_payload + 1; 0: not yet known */
    signed char script_memo;  /* script language index + 2; 1: none; 0: not yet known */
    bool script_strong_memo;
};

/* ---- what an object is (payload.c) ----------------------------------------
 * The kinds of payload the judges of today's wrappers name, ordered from
 * inert to what runs. */
enum zhi_payload {
    ZHI_P_NONE = 0, /* headers and text parts */
    ZHI_P_DOCUMENT, /* a document, image or other file that does not run */
    ZHI_P_UNKNOWN,  /* bytes of no known type under a name no class names */
    ZHI_P_ARCHIVE,  /* zip, rar, 7z, cab... */
    ZHI_P_IMAGE,    /* a disk image: ISO/UDF, FAT, VHD */
    ZHI_P_ONENOTE,  /* a OneNote section */
    ZHI_P_ACTIVE,   /* HTML, SVG, CHM: active content that is no program */
    ZHI_P_MACRO,    /* an Office document carrying VBA */
    ZHI_P_SCRIPT,   /* a script by its content (JScript, VBScript, PowerShell, batch, HTA, WSF) */
    ZHI_P_SHORTCUT, /* a Windows shortcut */
    ZHI_P_PROGRAM,  /* PE, DOS, ELF, Mach-O; a DLL or program by name */
    ZHI_P__COUNT
};
/* The kind of s->objects member o (its content first, then its name). */
enum zhi_payload zhi_payload_of(const struct zhi_scan *s, const struct zhi_object *o);
const char *zhi_payload_name(enum zhi_payload k); /* "script", "disk_image"; static */
bool zhi_payload_runs(enum zhi_payload k);        /* program, script, shortcut, macro */
/* ext names a script a Windows script host or shell runs (js, vbs, ps1, bat...). */
bool zhi_script_ext(const char *ext);
/* The script language of n bytes ("jscript", "vbscript", "powershell",
 * "batch", "hta", "wsf", "encoded"), or NULL when they are no script: the
 * one ext promises (NULL: any, and then only a script host's objects count),
 * by one strong token (*strong set: shell, download, execution objects) or
 * two of the language's grammar. JSON and prose are not scripts. Uses up to
 * 96 KiB of the arena as scratch. */
const char *zhi_script_language(struct zhi_arena *a, const uint8_t *p, size_t n, const char *ext,
                                bool *strong);
/* zhi_script_language of an object's content, judged by its name when that
 * is a script's (else any language, strong tokens only); memoized. */
const char *zhi_object_script(const struct zhi_scan *s, const struct zhi_object *o, bool *strong);
/* ISO, FAT image or VHD, by content or name. */
bool zhi_is_disk_image(const struct zhi_object *o);
/* Containers above o (0 for a top-level attachment). */
int zhi_wrapper_depth(const struct zhi_scan *s, const struct zhi_object *o);
/* "html>zip>iso>lnk": the types from the top-level attachment down to o (arena). */
const char *zhi_container_chain(const struct zhi_scan *s, const struct zhi_object *o);
/* The nearest container above o for which is() holds, or NULL. */
const struct zhi_object *zhi_container_of(const struct zhi_scan *s, const struct zhi_object *o,
                                          bool (*is)(const struct zhi_object *));

/* ---- hit sources ----------------------------------------------------------
 * Everything that can record a hit has an ID: the detectors, in the order
 * they run (detectors/registry.h), the extractors (extractors/registry.h),
 * and the stages that report what they could not do. A hit carries its
 * source's ID; its name ("yara", "limits") is what the reply says. */
#include "../detectors/registry.h"
#include "../extractors/registry.h"
#define ZHI_STAGE_SOURCES(X)                                                                       \
    X(limits)      /* a bound was breached (zhi_scan_limit) */                                     \
    X(mime)        /* the MIME structure could not be followed */                                  \
    X(combination) /* verdict.c's combination bonuses */

enum zhi_source {
#define ZHI_SRC_ID(name) ZHI_SRC_##name,
    ZHI_DETECTORS(ZHI_SRC_ID) ZHI_EXTRACTORS(ZHI_SRC_ID) ZHI_STAGE_SOURCES(ZHI_SRC_ID)
#undef ZHI_SRC_ID
        ZHI_SRC__COUNT
};
/* The detectors come first, so a detector's source ID is its index in
 * zhi_detectors[]; likewise an extractor's, less ZHI_N_DETECTORS, in zhi_extractors[]. */
#define ZHI_COUNT_ONE(name) +1
enum {
    ZHI_N_DETECTORS = 0 ZHI_DETECTORS(ZHI_COUNT_ONE),
    ZHI_N_EXTRACTORS = 0 ZHI_EXTRACTORS(ZHI_COUNT_ONE)
};
#undef ZHI_COUNT_ONE
const char *zhi_source_name(enum zhi_source src); /* "yara", "limits"; static */
/* The source named `name`, or ZHI_SRC__COUNT when there is none. */
enum zhi_source zhi_source_by_name(const char *name);

/* A hit as stages and detectors record and read it; the reply's
 * struct zh_result_hit is made from it when the verdict is decided. */
struct zhi_hit {
    enum zhi_source src;
    const char *rule, *object, *detail, *family; /* arena; family "" when none */
    const char *const *aliases;
    size_t n_aliases;
    int score;
    unsigned flags; /* ZH_HIT_* */
};

/* ---- limits -----------------------------------------------------------------
 * Every bound a scan is held to, each a setting of [limits]. zhi_scan_limit
 * is the one place a bound is checked and its breach reported. */
#define ZHI_LIMITS(X)                                                                              \
    X(mime_depth, max_mime_depth, ZH_ERR_LIMIT_DEPTH, "MIME part nested {v} deep (limit {b})")     \
    X(mime_parts, max_mime_parts, ZH_ERR_LIMIT_COUNT, "more than {b} MIME parts")                  \
    X(archive_depth, archive_max_depth, ZH_ERR_LIMIT_DEPTH,                                        \
      "container nested {v} deep (limit {b})")                                                     \
    X(archive_members, archive_max_members, ZH_ERR_LIMIT_COUNT,                                    \
      "more than {b} archive members in the message")                                              \
    X(member_bytes, archive_max_member_bytes, ZH_ERR_LIMIT_SIZE,                                   \
      "member expands beyond {b} bytes")                                                           \
    X(total_bytes, archive_max_total_bytes, ZH_ERR_LIMIT_SIZE, "archives expand beyond {b} bytes") \
    X(ratio, archive_max_ratio, ZH_ERR_LIMIT_RATIO, "member expands {v}:1 (limit {b}:1)")          \
    X(decoder_memory, decoder_max_memory, ZH_ERR_LIMIT_SIZE,                                       \
      "stream needs {v} bytes of decoder memory (limit {b})")                                      \
    X(archive_time, archive_timeout_ms, ZH_ERR_LIMIT_TIME, "unpacking took more than {b} ms")      \
    X(ole_entries, ole_max_entries, ZH_ERR_LIMIT_COUNT,                                            \
      "OLE2 directory of {v} entries (limit {b})")                                                 \
    X(ole_depth, ole_max_depth, ZH_ERR_LIMIT_DEPTH, "OLE2 storage nested {v} deep (limit {b})")    \
    X(image_dir_depth, image_max_dir_depth, ZH_ERR_LIMIT_DEPTH,                                    \
      "disk image folder nested {v} deep (limit {b})")                                             \
    X(image_dir_entries, image_max_dir_entries, ZH_ERR_LIMIT_COUNT,                                \
      "more than {b} directory entries in a disk image")                                           \
    X(scan_time, scan_timeout_ms, ZH_ERR_LIMIT_TIME, "the scan needed more than {b} ms")

enum zhi_limit {
#define ZHI_LIMIT_ID(id, setting, code, fmt) ZHI_L_##id,
    ZHI_LIMITS(ZHI_LIMIT_ID)
#undef ZHI_LIMIT_ID
        ZHI_L__COUNT
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
void zhi_ruleset_release(struct zhi_ruleset *rs);
/* The live set: published by one atomic swap under a short lock, taken with
 * a reference by each scan. Scans in flight keep the old set alive until
 * they end. (rules.c) */
struct zhi_rules_slot {
    pthread_mutex_t lock; /* guards `current` and taking a reference */
    struct zhi_ruleset *current;
    _Atomic uint64_t version; /* current->version, read without the lock */
};
void zhi_slot_init(struct zhi_rules_slot *slot);
void zhi_slot_destroy(struct zhi_rules_slot *slot);                /* releases the current set */
struct zhi_ruleset *zhi_slot_acquire(struct zhi_rules_slot *slot); /* NULL when none */
void zhi_slot_publish(struct zhi_rules_slot *slot, struct zhi_ruleset *rs); /* takes rs */
zh_err zhi_rules_compile(const char *dir, struct zhi_ruleset **out, struct zh_rules_report *rep);
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
/* Declare every external on a YR_COMPILER (before adding rules that use
 * them), with empty values. Returns a libyara error code. */
int zhi_rules_declare_externals(void *compiler);

/* ---- the scan context (scan.c) ---------------------------------------------
 * What every stage, extractor and detector of one scan shares: the message's
 * facts, the objects, the hits and the deadline. Owned by one scanner thread;
 * everything in it lives in the scan's arena unless said otherwise. */
struct zhi_outbreaks;
struct zhi_scan {
    const struct zh_config *cfg;
    struct zhi_ruleset *rules;       /* one reference held for the scan */
    const _Atomic uint64_t *live;    /* version of the engine's current set (a reload changes it) */
    struct zhi_outbreaks *outbreaks; /* the engine's outbreak table; NULL when disabled */
    struct zhi_arena *arena;
    const struct zh_scan_envelope *env; /* never NULL (an empty one when none was given) */
    bool is_message;                    /* the input parsed as mail (else: one object, a file) */
    int64_t received_at;                /* env's, or now */
    const char *subject;                /* decoded, UTF-8, "" if none */
    const char *from;                   /* header From address, "" if none */
    const char *message_id;
    const char *from_name;   /* display name of the From address, "" if none */
    const char *top_type;    /* top-level Content-Type, lower-case ("multipart/report") */
    const char *report_type; /* its report-type parameter, lower-case, or "" */
    bool has_date, date_ok;  /* a Date header exists / parses */
    int64_t date_unix;       /* the Date header, unix seconds, when date_ok */
    bool has_message_id_header;
    struct zhi_object *objects;
    size_t n_objects, cap_objects;
    struct zhi_hit *hits;
    size_t n_hits, cap_hits;
    unsigned limits_hit;    /* bit per enum zhi_limit already reported */
    unsigned mime_warnings; /* bit per GMime parser warning seen */
    uint64_t deadline_us;   /* monotonic; 0 = none */
    bool client_deadline;   /* the deadline is the caller's, not the engine's */
    bool explain;           /* add matched strings and offsets to YARA hits (rules test) */
    uint32_t defer_retry_s; /* set by the outbreak detector: answer DEFER */
    char fingerprint[17];   /* the payload's outbreak fingerprint (outbreak detector), "" if none */
    signed char internal_memo; /* zhi_site_internal_mail's answer + 1; 0 = not asked yet */
    bool timed_out;
    void **thread_state; /* per-detector per-thread state, by index */
};

/* Append an object; returns its index or -1 on OOM. Strings must already live
 * in the arena (or outlive the scan). Appending may move s->objects: hold
 * indexes, not pointers, across a call. */
int zhi_scan_add_object(struct zhi_scan *s, const struct zhi_object *o);

/* Note a fact about s->objects[idx] (key copied, value formatted into the
 * arena); a later note of the same key is added, not replaced. ZH_ERR_FATAL
 * on OOM. */
zh_err zhi_object_note(struct zhi_scan *s, size_t idx, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* The first value noted under key, or NULL. */
const char *zhi_object_attr(const struct zhi_object *o, const char *key);

/* Record a hit: the common form, with no family, aliases or flags. rule and
 * object are copied into the arena (object NULL = ""); the detail is
 * formatted into it. ZH_ERR_FATAL on OOM (the hit is lost). */
zh_err zhi_hit(struct zhi_scan *s, enum zhi_source src, const char *rule, const char *object,
               int score, const char *detail_fmt, ...) __attribute__((format(printf, 6, 7)));
/* The full form: every field of h (strings copied; NULL family = ""). */
zh_err zhi_hit_full(struct zhi_scan *s, const struct zhi_hit *h);

/* True (and marks the scan timed out) when the scan's deadline has passed. */
bool zhi_scan_expired(struct zhi_scan *s);

/* Check `value` against limit l's setting in s->cfg: within it, ZH_ERR_OK.
 * Beyond it, the limit's graded code (ZH_ERR_LIMIT_DEPTH, _COUNT, _SIZE,
 * _RATIO, _TIME), and the first breach of each limit in a scan records one
 * unscannable `limits_exceeded` hit on `object` naming the setting (a
 * message not fully seen is never CLEAN). For the time limits, value is the
 * elapsed milliseconds. */
zh_err zhi_scan_limit(struct zhi_scan *s, enum zhi_limit l, uint64_t value, const char *object);
/* The bound of limit l (its setting's value). */
uint64_t zhi_limit_bound(const struct zhi_scan *s, enum zhi_limit l);

/* ---- stages ------------------------------------------------------------------
 * The orchestrator (engine.c) runs them in this order: parse → extract →
 * detect → decide. A stage never calls another one, nor the orchestrator. */

/* mime.c: flatten msg into objects; input that is not mail becomes one
 * object (named by env->filename). ZH_ERR_INVALID only when it is empty;
 * limit breaches are reported as hits and return ZH_ERR_OK. */
struct zhi_mime; /* per-thread parser state */
zh_err zhi_mime_new(struct zhi_mime **out);
void zhi_mime_free(struct zhi_mime *m);
/* Lower-case last extension of a name, ignoring the trailing dots and spaces
 * Windows strips ("a.exe. " is an .exe); "" when there is none. Arena string. */
const char *zhi_extension_of(struct zhi_arena *a, const char *name);
zh_err zhi_mime_flatten(struct zhi_mime *m, struct zhi_scan *s, const uint8_t *msg, size_t len,
                        char *err, size_t errlen);

/* extract.c: open every object an extractor bids on and append what it holds,
 * recursively, within the archive_* bounds. Breaches and damaged containers
 * become hits; ZH_ERR_FATAL only on OOM. */
zh_err zhi_extract(struct zhi_scan *s);

/* verdict.c: turn the hits into a score and a verdict (adds combination hits).
 * zhi_verdict_score: the score of the hits so far as decide will count them
 * (rules once, detectors capped), without combinations. */
zh_err zhi_verdict_decide(struct zhi_scan *s, struct zh_result *r);
long zhi_verdict_score(const struct zhi_scan *s);

/* passwords.c: candidate passwords written in the text parts ("Password:
 * 12345"), at most max, arena strings. */
size_t zhi_text_passwords(struct zhi_scan *s, const char **out, size_t max);

/* ---- extractors (engine/extractors/) -----------------------------------------
 * One file per container or encoding format fills a const struct
 * zh_extractor; extractors/registry.h lists them once. The extract stage asks
 * every extractor to bid on each object and lets the highest bidder open it;
 * what it finds becomes objects that are offered again (nesting).
 *
 * bid(s, o): called on the scanner thread for every object, so it must be
 *   cheap: it may read o's sniffed type, name, extension and first bytes, and
 *   nothing else; no allocation, no lock, never blocks. Returns 0 when the
 *   object is not for this extractor, else a bid (higher wins; ties go to the
 *   earlier extractor in the registry).
 * extract(x, idx): called on the scanner thread for the winning object
 *   s->objects[idx] (copy what you need: appending moves s->objects). It
 *   decodes within the budget — zhi_extract_count before each member,
 *   zhi_extract_bytes as a member grows — and appends members with
 *   zhi_extract_add. It may record hits about the container (its own source)
 *   but never reads or changes other hits. It may block only on CPU; it stops
 *   as soon as a budget call returns a limit code (the stage has reported
 *   it). Returns ZH_ERR_OK (also when the container was damaged: that is a
 *   hit, and what could be read is kept), a limit code, or ZH_ERR_FATAL on
 *   OOM (the scan fails with INTERNAL).
 * Flags: ZH_EXTRACT_NESTS when members sit one container level deeper
 *   (archive_depth + 1, subject to archive_max_depth); encodings of the same
 *   content (uuencode) do not nest. */
struct zhi_extract; /* the extract stage's per-scan budget (extract.c) */
#define ZH_EXTRACT_NESTS 0x1u
struct zh_extractor {
    const char *name;
    enum zhi_source src;       /* the source its hits report under */
    unsigned flags;            /* ZH_EXTRACT_* */
    enum zhi_kind member_kind; /* kind of the objects it appends */
    int (*bid)(const struct zhi_scan *s, const struct zhi_object *o);
    zh_err (*extract)(struct zhi_extract *x, size_t idx);
};
extern const struct zh_extractor *const zhi_extractors[ZHI_N_EXTRACTORS];

/* The budget calls of the extract stage (extract.c). */
struct zhi_scan *zhi_extract_scan(struct zhi_extract *x);
/* Per-scan scratch of the running extractor (NULL at first; arena memory). */
void **zhi_extract_scratch(struct zhi_extract *x);
/* One more member at `path`: archive_max_members, the time bounds. */
zh_err zhi_extract_count(struct zhi_extract *x, const char *path);
/* The member at `path` grew by n bytes to len, made from `in` bytes of input
 * (0 when the format cannot tell): archive_max_member_bytes,
 * archive_max_total_bytes, archive_max_ratio (past archive_ratio_floor), and
 * the time bounds. The n bytes are counted against the message's total. */
zh_err zhi_extract_bytes(struct zhi_extract *x, const char *path, size_t len, size_t n,
                         uint64_t in);
/* Would a member of len bytes, plus extra bytes more in all, fit? (No hit:
 * for a retry that replaces bytes already counted.) */
bool zhi_extract_fits(const struct zhi_extract *x, size_t len, uint64_t extra);
/* Replace `old` counted bytes by `now` (a retry read the member again). */
void zhi_extract_recount(struct zhi_extract *x, uint64_t old, uint64_t now);
/* The container at `object` could not be opened or read to its end: a hit
 * under the running extractor's source, scored [scores] damaged_container
 * and unscannable (what was not seen keeps the message from CLEAN). */
zh_err zhi_extract_damaged(struct zhi_extract *x, const char *rule, const char *object,
                           const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* Append member `name` of s->objects[parent]: data (len bytes, NUL-terminated,
 * arena) with flags ZHI_OBJ_*; the stage fills path, filename, extension,
 * sniffed type, kind and depths. Returns the index, or -1 on OOM. */
int zhi_extract_add(struct zhi_extract *x, size_t parent, const char *name, const uint8_t *data,
                    size_t len, unsigned flags);

/* ---- detectors (engine/detectors/) -------------------------------------------
 * One file per detector fills a const struct zh_detector; detectors/registry.h
 * lists them once, in the order they run.
 *
 * init(e_cfg, state): engine lifetime state, called once from zh_engine_new
 *   on the creating thread, before any scan. May allocate and block.
 * thread_init(state, tstate) / thread_fini(tstate): state owned by one scanner
 *   thread (zh_scanner_new / _free on that thread). May block (connect).
 * scan(s, state, tstate): the scanner thread, once per scan, after the
 *   extract stage, in registry order. Reads s->objects, the envelope and the
 *   hits of the detectors before it; records its own hits with zhi_hit. It
 *   may change only hits of sources it judges (lure_text neutralises
 *   lure_text hits on genuine bounces). No lock but its own state's (shared
 *   by every scanner thread: keep it short and never wait on I/O without a
 *   bound). Returns ZH_ERR_OK, ZH_ERR_FAILED (counted as a detector error;
 *   the scan goes on), ZH_ERR_LIMIT_TIME (the deadline passed), or
 *   ZH_ERR_FATAL (the scan fails with INTERNAL).
 * thread_idle(tstate, live): the scanner thread, between scans, when its owner
 *   says it is idle (zh_scanner_idle). Drops what tstate holds of a rule set
 *   other than `live` (NULL when none is loaded), so an idle thread does not
 *   keep a replaced rule set's memory alive. Optional; must be cheap.
 * fini(state): at zh_engine_free, after every scanner is gone. */
struct zh_detector {
    const char *name;
    zh_err (*init)(const struct zh_config *cfg, void **state);
    zh_err (*thread_init)(void *state, void **tstate);
    zh_err (*scan)(struct zhi_scan *s, void *state, void *tstate);
    void (*thread_fini)(void *tstate);
    void (*fini)(void *state);
    void (*thread_idle)(void *tstate, const struct zhi_ruleset *live);
};
extern const struct zh_detector *const zhi_detectors[ZHI_N_DETECTORS];

/* ---- rule profiler (profile.c) -------------------------------------------
 * A background thread that times each rule of the live set on a reservoir of
 * recent objects and fills rs->rule_stats[].cost_ns_per_mib. start leaves *out
 * NULL when cfg->rule_profile_interval_ms is 0. offer is called by scanner
 * threads at the end of a scan; it copies a few objects at most every few
 * scans and never waits. stop joins the thread and frees everything. */
struct zhi_profiler;
/* Fill rs->image; call before rs is published. */
zh_err zhi_ruleset_save_image(struct zhi_ruleset *rs);
zh_err zhi_profiler_start(struct zhi_rules_slot *slot, const struct zh_config *cfg,
                          struct zhi_profiler **out);
void zhi_profiler_offer(struct zhi_profiler *p, const struct zhi_scan *s);
void zhi_profiler_stop(struct zhi_profiler *p);
/* The rule meter behind zh_rule_meter_*: for rs (the meter takes the
 * reference), and the capture function that feeds it. */
zh_err zhi_rule_meter_new(struct zhi_ruleset *rs, const struct zh_config *cfg, zh_rule_meter **out);
void zhi_rule_meter_capture(void *meter, const struct zhi_scan *s);

/* ---- counters (stats.c) ---------------------------------------------------- */
struct zhi_detector_stats {
    atomic_ullong calls, hits, errors, time_us;
};
struct zhi_stats;
struct zhi_stats *zhi_stats_new(size_t n_detectors);
void zhi_stats_free(struct zhi_stats *st);
void zhi_stats_scan_done(struct zhi_stats *st, const struct zh_result *r);
struct zhi_detector_stats *zhi_stats_detector(struct zhi_stats *st, size_t i);
/* What the engine hands the renderer for one Stats call: everything is read
 * by the caller, so stats.c needs no lock of the engine's. */
struct zhi_store;
struct zhi_stats_view {
    struct zhi_stats *st;
    const struct zh_config *cfg;
    struct zhi_ruleset *rules; /* the current set (a reference held), or NULL */
    int64_t last_reload_unix_ms;
    int last_reload_ok;
    unsigned last_reload_errors;
    char last_reload_first_error[512];
    uint64_t last_reload_us;
    struct zhi_store *store; /* NULL when off */
};
/* Every section (server, scans, detectors, rules, rulestats, limits, store), or the
 * one named, in a stable order. */
void zhi_stats_render(const struct zhi_stats_view *v, const char *section, zh_stats_fn fn,
                      void *ud);

#endif
