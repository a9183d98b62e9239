/* Settings: one table (zh_settings) that the INI parser, flag overrides,
 * --help, the sample config and the README table all read. Values (sizes
 * like "32M", times like "30s", octal modes) are parsed by proto/values.c,
 * the same syntax as the milter's. */
#include "zerohour/config.h"
#include "outbreak.h"
#include "zhi.h"
#include "zerohour/log.h"
#include "zerohour/syslog.h"
#include "zerohour/values.h"

#include <errno.h>
#include <ini.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define OFF(f) offsetof(struct zh_config, f)
#define KiB 1024LL
#define MiB (1024LL * 1024)
#define GiB (1024LL * 1024 * 1024)

const struct zh_setting zh_settings[] = {
    {"engine", "address", ZH_SET_LIST, OFF(addresses), "", 0, 0,
     "nng URL to listen on (ipc:///path or tcp://127.0.0.1:PORT); repeat for several. "
     "Empty: $ZEROHOUR_ADDRESS, else a per-user ipc socket"},
    {"engine", "rules_dir", ZH_SET_STRING, OFF(rules_dir), "", 0, 0,
     "directory whose *.yar and *.yara files (recursively) make the rule set. Empty: the "
     "installed rules, " ZH_REL_RULES_DIR
     " from the program's directory (/usr/share/zerohour/rules "
     "for /usr/sbin/zerohourd), else rules/ of the source tree it was built from"},
    {"engine", "workers", ZH_SET_INT, OFF(workers), "0", 0, 256,
     "scan worker threads; 0 = number of online CPUs"},
    {"engine", "log_level", ZH_SET_STRING, OFF(log_level), "info", 0, 0,
     "error, warn, info or debug"},
    {"engine", "admin_address", ZH_SET_STRING, OFF(admin_address), "", 0, 0,
     "one more address to listen on that also answers the administrative calls (Reload, Stats, "
     "Outbreaks, Retrohunt, StoreForget); ipc:// addresses always answer them, other addresses "
     "(tcp://) answer them "
     "PERMISSION_DENIED, so a fleet's scanners cannot reload rules or read counters"},
    {"engine", "tls_cert", ZH_SET_STRING, OFF(tls_cert), "", 0, 0,
     "PEM file with the certificate (chain) and private key of tls+tcp:// addresses; required "
     "by them"},
    {"engine", "tls_ca", ZH_SET_STRING, OFF(tls_ca), "", 0, 0,
     "PEM file of the CAs whose client certificates tls+tcp:// addresses accept; set, a client "
     "without such a certificate is refused; empty: no client certificate asked"},
    {"engine", "metrics_address", ZH_SET_STRING, OFF(metrics_address), "", 0, 0,
     "serve Prometheus metrics at /metrics on this http://HOST:PORT (keep it on loopback or a "
     "trusted network: the counters are not secret but the port is unauthenticated); empty: "
     "off. `zerohour stats --format prometheus` prints the same"},
    {"engine", "log_target", ZH_SET_STRING, OFF(log_target), "stderr", 0, 0,
     "stderr (a supervisor or journald keeps it) or syslog (log_socket, under log_facility)"},
    {"engine", "log_facility", ZH_SET_STRING, OFF(log_facility), "mail", 0, 0,
     "syslog facility: mail (as every MTA component), daemon, user or local0-local7"},
    {"engine", "log_socket", ZH_SET_STRING, OFF(log_socket), "/dev/log", 0, 0,
     "the syslog datagram socket (journald and rsyslog listen on /dev/log)"},
    {"engine", "log_scans", ZH_SET_STRING, OFF(log_scans), "flagged", 0, 0,
     "one info line per scan with request id, Message-ID, client, sender, verdict, score, "
     "rules and time: none, flagged (every verdict but CLEAN, and failed scans) or all"},
    {"engine", "socket_mode", ZH_SET_MODE, OFF(socket_mode), "0600", 0, 0777,
     "file mode of ipc sockets (0660 lets the owner's group, e.g. the milter, connect)"},
    {"engine", "socket_group", ZH_SET_STRING, OFF(socket_group), "", 0, 0,
     "group given to ipc sockets, so its members (the milter, postfix) can connect with "
     "socket_mode 0660; empty: the process's group"},
    {"engine", "user", ZH_SET_STRING, OFF(user), "", 0, 0,
     "started as root: become this user (and its groups) once the sockets are bound, as "
     "Postfix and clamd do; empty: stay who started it"},
    {"engine", "group", ZH_SET_STRING, OFF(group), "", 0, 0,
     "with user: the group to become; empty: the user's primary group"},
    {"engine", "allow_root", ZH_SET_INT, OFF(allow_root), "1", 0, 1,
     "0: refuse to scan mail as root (set user, or start as an unprivileged user); 1: allow it, "
     "with a warning at start"},
    {"engine", "watch_rules", ZH_SET_INT, OFF(watch_rules), "1", 0, 1,
     "1: reload when files under rules_dir change (inotify); 0: only on SIGHUP or Reload"},
    {"engine", "reload_debounce_ms", ZH_SET_MS, OFF(reload_debounce_ms), "200ms", 0, 60000,
     "quiet time after the last change in rules_dir before reloading, so an editor's save "
     "or a git pull gives one reload"},
    {"engine", "rule_profile_interval_ms", ZH_SET_MS, OFF(rule_profile_interval_ms), "1s", 0,
     3600000,
     "how often a background thread times rules of the live set on a sample of recent mail, "
     "for the per-rule cost in Stats (rulestats); 0: never"},
    {"engine", "rule_profile_budget_ms", ZH_SET_MS, OFF(rule_profile_budget_ms), "25ms", 1, 10000,
     "CPU time one profiling round may spend; the next round goes on from the next rule"},

    {"limits", "max_message_bytes", ZH_SET_SIZE, OFF(max_message_bytes), "32M", 1 * KiB, 1 * GiB,
     "largest message accepted; larger ones are refused with RESOURCE_EXHAUSTED"},
    {"limits", "max_mime_depth", ZH_SET_INT, OFF(max_mime_depth), "20", 1, 1000,
     "deepest MIME nesting examined; deeper parts make a limits_exceeded hit"},
    {"limits", "max_mime_parts", ZH_SET_INT, OFF(max_mime_parts), "500", 1, 100000,
     "most MIME parts examined; more make a limits_exceeded hit"},
    {"limits", "scan_timeout_ms", ZH_SET_MS, OFF(scan_timeout_ms), "30s", 10, 3600000,
     "time budget of one scan; when spent the verdict is TEMPFAIL"},
    {"limits", "archive_max_depth", ZH_SET_INT, OFF(archive_max_depth), "5", 0, 64,
     "deepest archive-in-archive nesting opened"},
    {"limits", "archive_max_members", ZH_SET_INT, OFF(archive_max_members), "1000", 1, 1000000,
     "most members read from all archives of one message"},
    {"limits", "archive_max_member_bytes", ZH_SET_SIZE, OFF(archive_max_member_bytes), "32M",
     1 * KiB, 4 * GiB, "most bytes expanded from one archive member"},
    {"limits", "archive_max_total_bytes", ZH_SET_SIZE, OFF(archive_max_total_bytes), "128M",
     1 * KiB, 16 * GiB, "most bytes expanded from all archives of one message"},
    {"limits", "archive_max_ratio", ZH_SET_INT, OFF(archive_max_ratio), "100", 2, 1000000,
     "largest expanded/compressed ratio of a member before it counts as a bomb"},
    {"limits", "archive_ratio_floor", ZH_SET_SIZE, OFF(archive_ratio_floor), "1M", 0, 1 * GiB,
     "expanded bytes of a member before archive_max_ratio is judged (small files compress "
     "well)"},
    {"limits", "decoder_max_memory", ZH_SET_SIZE, OFF(decoder_max_memory), "128M", 1 * MiB, 4 * GiB,
     "most memory one decompressor may take (an xz stream names its own dictionary size); a "
     "stream that needs more is a limits_exceeded hit"},
    {"limits", "archive_timeout_ms", ZH_SET_MS, OFF(archive_timeout_ms), "10s", 10, 3600000,
     "time budget for unpacking the archives of one message"},
    {"limits", "ole_max_entries", ZH_SET_INT, OFF(ole_max_entries), "4096", 4, 16384,
     "most directory entries of one OLE2 file (.doc, .xls, .msi) opened; more is a "
     "limits_exceeded hit, the file unopened (libgsf recurses per entry)"},
    {"limits", "ole_max_depth", ZH_SET_INT, OFF(ole_max_depth), "10", 1, 64,
     "deepest storage-in-storage nesting walked inside one OLE2 compound file"},
    {"limits", "image_max_dir_depth", ZH_SET_INT, OFF(image_max_dir_depth), "16", 1, 64,
     "deepest folder nesting followed inside a disk image (FAT); deeper folders make a "
     "limits_exceeded hit and are not read"},
    {"limits", "image_max_dir_entries", ZH_SET_INT, OFF(image_max_dir_entries), "100000", 16,
     10000000,
     "most directory entries read from one disk image (FAT), used, deleted and long-name "
     "entries alike; more make a limits_exceeded hit"},

    {"scoring", "suspicious_score", ZH_SET_INT, OFF(suspicious_score), "40", 1, 100000,
     "a message scoring at least this is SUSPICIOUS"},
    {"scoring", "malicious_score", ZH_SET_INT, OFF(malicious_score), "80", 1, 100000,
     "a message scoring at least this is MALICIOUS"},
    {"scoring", "default_rule_score", ZH_SET_INT, OFF(default_rule_score), "100", 0, 100000,
     "score of a YARA rule whose meta gives no score"},

    {"outbreak", "enabled", ZH_SET_INT, OFF(outbreak_enabled), "1", 0, 1,
     "1: keep per-fingerprint counts and flag surges of one new risky payload"},
    {"outbreak", "window_ms", ZH_SET_MS, OFF(outbreak_window_ms), "10m", 1000, 86400000,
     "sliding window (by the envelope's received_at) for copies, senders and client IPs"},
    {"outbreak", "min_copies", ZH_SET_INT, OFF(outbreak_min_copies), "5", 2, 16,
     "copies within the window that make a risky fingerprint an outbreak"},
    {"outbreak", "min_senders", ZH_SET_INT, OFF(outbreak_min_senders), "3", 1, 16,
     "distinct envelope senders within the window needed as well"},
    {"outbreak", "min_client_ips", ZH_SET_INT, OFF(outbreak_min_client_ips), "3", 1, 16,
     "distinct client IPs within the window needed as well"},
    {"outbreak", "hold_ms", ZH_SET_MS, OFF(outbreak_hold_ms), "24h", 60000, 2592000000LL,
     "an outbreak stays active this long after its last copy"},
    {"outbreak", "memory", ZH_SET_SIZE, OFF(outbreak_memory), "16M", 64 * KiB, 4 * GiB,
     "fixed budget for fingerprint state; the least recently seen are evicted"},
    {"outbreak", "defer", ZH_SET_INT, OFF(outbreak_defer), "1", 0, 1,
     "1: answer DEFER for a risky message whose fingerprint is growing but not yet an "
     "outbreak (MTAs retry; worms mostly do not)"},
    {"outbreak", "defer_min_copies", ZH_SET_INT, OFF(outbreak_defer_min_copies), "2", 2, 16,
     "copies from at least two senders within the window before DEFER is considered"},
    {"outbreak", "defer_retry_s", ZH_SET_INT, OFF(outbreak_defer_retry_s), "300", 1, 86400,
     "retry-after given with DEFER, in seconds"},
    {"outbreak", "state_file", ZH_SET_STRING, OFF(outbreak_state_file), "", 0, 0,
     "file the outbreak state is saved to (atomically) and restored from at start; "
     "empty: kept in memory only"},
    {"outbreak", "snapshot_ms", ZH_SET_MS, OFF(outbreak_snapshot_ms), "60s", 1000, 86400000,
     "how often the state is saved to state_file (and always on SIGTERM)"},
    {"outbreak", "redis", ZH_SET_STRING, OFF(outbreak_redis), "", 0, 0,
     "Redis shared by every engine of a fleet, so an outbreak is counted across all of "
     "them: tcp://HOST:PORT or unix:/PATH. Empty: counts stay in this engine"},
    {"outbreak", "redis_prefix", ZH_SET_STRING, OFF(outbreak_redis_prefix), "zerohour:outbreak:", 0,
     0, "prefix of the Redis keys (one fleet per prefix)"},
    {"outbreak", "redis_timeout_ms", ZH_SET_MS, OFF(outbreak_redis_timeout_ms), "100ms", 1, 10000,
     "longest wait for Redis on one message; on a timeout or error the engine counts alone "
     "and tries Redis again a second later"},

    {"store", "enabled", ZH_SET_INT, OFF(store_enabled), "0", 0, 1,
     "1: keep a bounded store of recent scans (envelope, verdict, hits, objects and their "
     "SHA-256, the bytes of attachments once per hash) for retro-hunts; needs directory"},
    {"store", "directory", ZH_SET_STRING, OFF(store_directory), "", 0, 0,
     "absolute path of the store: a 0700 directory owned by the engine's user (created if "
     "missing; refused if anyone else may write to it)"},
    {"store", "retention", ZH_SET_MS, OFF(store_retention_ms), "48h", 60000, 31536000000LL,
     "messages older than this (by received_at) are forgotten, with the bytes no newer "
     "message shares"},
    {"store", "max_bytes", ZH_SET_SIZE, OFF(store_max_bytes), "2G", 1 * MiB, 1024 * GiB,
     "disk the store may use (index and kept objects); past it the oldest messages go first"},
    {"store", "keep_attachments", ZH_SET_INT, OFF(store_keep_attachments), "1", 0, 1,
     "1: keep the bytes of attachments and of what was unpacked from them (once per "
     "SHA-256), so retro-hunts can scan them; 0: metadata and hashes only"},
    {"store", "keep_bodies", ZH_SET_INT, OFF(store_keep_bodies), "0", 0, 1,
     "1: keep the bytes of text bodies too (privacy: off by default)"},
    {"store", "max_object_bytes", ZH_SET_SIZE, OFF(store_max_object_bytes), "16M", 1 * KiB, 1 * GiB,
     "objects larger than this are recorded (name, type, size, hash) but their bytes "
     "are not kept"},
    {"store", "queue_bytes", ZH_SET_SIZE, OFF(store_queue_bytes), "64M", 1 * MiB, 16 * GiB,
     "memory the writer's queue may hold; when full a scan is answered but not stored (Stats: "
     "store.dropped)"},
    {"store", "queue_length", ZH_SET_INT, OFF(store_queue_length), "4096", 1, 1000000,
     "messages the writer's queue may hold; when full a scan is answered but not stored"},
    {"store", "hunt_cpu_percent", ZH_SET_INT, OFF(store_hunt_cpu_percent), "50", 1, 100,
     "share of one core a retro-hunt may use: it pauses between batches so the scan path "
     "keeps the rest"},
    {"store", "hunt_max_messages", ZH_SET_INT, OFF(store_hunt_max_messages), "100000", 1, 10000000,
     "most messages one hunt lists (engine memory); past it the hunt says it was truncated"},
    {"outbreak", "surge", ZH_SET_INT, OFF(outbreak_surge), "1", 0, 1,
     "1: also flag the surge of an attachment of a type no class names (as OneNote was in "
     "January 2023) from many sender domains and client IPs; internal mail is not counted"},
    {"outbreak", "surge_window_ms", ZH_SET_MS, OFF(outbreak_surge_window_ms), "1h", 1000, 86400000,
     "sliding window (by received_at) in which a surge of an unknown type is counted"},
    {"outbreak", "surge_min_copies", ZH_SET_INT, OFF(outbreak_surge_min_copies), "5", 2, 16,
     "copies of one unknown-type shape within surge_window_ms that make a surge"},
    {"outbreak", "surge_min_senders", ZH_SET_INT, OFF(outbreak_surge_min_senders), "5", 2, 16,
     "distinct sender domains (From, else envelope) needed as well: a newsletter or one "
     "organisation's mail is one sender"},
    {"outbreak", "surge_min_client_ips", ZH_SET_INT, OFF(outbreak_surge_min_client_ips), "5", 2, 16,
     "distinct client IPs needed as well"},

    {"site", "internal_networks", ZH_SET_STRING, OFF(site_internal_networks),
     "127.0.0.0/8 10.0.0.0/8 172.16.0.0/12 192.168.0.0/16 169.254.0.0/16 ::1/128 fc00::/7 "
     "fe80::/10",
     0, 0,
     "the organisation's own hosts (CIDR, separated by spaces): a client here is never an "
     "outside client, and mail it sends from internal_domains is internal mail"},
    {"site", "trusted_networks", ZH_SET_STRING, OFF(site_trusted_networks), "", 0, 0,
     "relays and hosted providers the organisation sends through (CIDR), e.g. its Exchange "
     "Online outbound ranges: their mail from internal_domains is internal mail"},
    {"site", "internal_domains", ZH_SET_STRING, OFF(site_internal_domains), "", 0, 0,
     "the organisation's own mail domains (subdomains included), separated by spaces. Empty: "
     "the recipients' own domains"},
    {0},
};

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || !errlen)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static const struct zh_setting *find_setting(const char *section, const char *name)
{
    for (const struct zh_setting *s = zh_settings; s->name; s++)
        if (!strcmp(s->name, name) && (!section || !strcmp(s->section, section)))
            return s;
    return NULL;
}

static void list_clear(struct zh_config *cfg)
{
    for (size_t i = 0; i < cfg->n_addresses; i++)
        free(cfg->addresses[i]);
    cfg->n_addresses = 0;
}

/* The rules an empty rules_dir means: an installed program finds them at
 * the same place relative to itself (so any prefix or DESTDIR works); a
 * program in the build tree has none there and uses the source tree's. */
static void default_rules_dir(char *buf, size_t n)
{
    char exe[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (len > 0) {
        exe[len] = 0;
        char *slash = strrchr(exe, '/');
        struct stat st;
        if (slash) {
            *slash = 0;
            char rel[PATH_MAX + 64];
            snprintf(rel, sizeof rel, "%s/%s", exe, ZH_REL_RULES_DIR);
            if (realpath(rel, exe) && strlen(exe) < n && stat(exe, &st) == 0 &&
                S_ISDIR(st.st_mode)) {
                memcpy(buf, exe, strlen(exe) + 1);
                return;
            }
        }
    }
    snprintf(buf, n, "%s", ZH_SOURCE_RULES_DIR);
}

/* Apply one value to cfg; `append` lets repeated list keys accumulate. */
static zh_err apply(struct zh_config *cfg, const struct zh_setting *s, const char *value,
                    int append, char *err, size_t errlen)
{
    void *field = (char *)cfg + s->offset;
    int64_t v = 0;
    int rc = 0;
    switch (s->type) {
    case ZH_SET_STRING: {
        char rules[PATH_MAX];
        if (s->offset == OFF(rules_dir) && !*value) {
            default_rules_dir(rules, sizeof rules);
            value = rules;
        }
        char *dup = strdup(value);
        if (!dup)
            return ZH_ERR_FATAL;
        free(*(char **)field);
        *(char **)field = dup;
        return ZH_ERR_OK;
    }
    case ZH_SET_LIST:
        if (!append)
            list_clear(cfg);
        if (!*value)
            return ZH_ERR_OK;
        if (cfg->n_addresses >= ZH_MAX_ADDRESSES) {
            set_err(err, errlen, "%s: at most %d values", s->name, ZH_MAX_ADDRESSES);
            return ZH_ERR_INVALID;
        }
        if (!(cfg->addresses[cfg->n_addresses] = strdup(value)))
            return ZH_ERR_FATAL;
        cfg->n_addresses++;
        return ZH_ERR_OK;
    case ZH_SET_INT:
        rc = zh_value_int(value, &v);
        break;
    case ZH_SET_SIZE:
        rc = zh_value_size(value, &v);
        break;
    case ZH_SET_MS:
        rc = zh_value_ms(value, &v);
        break;
    case ZH_SET_MODE:
        rc = zh_value_mode(value, &v);
        break;
    }
    if (rc) {
        static const char *const what[] = {[ZH_SET_INT] = ZH_VALUE_INT_HINT,
                                           [ZH_SET_SIZE] = ZH_VALUE_SIZE_HINT,
                                           [ZH_SET_MS] = ZH_VALUE_MS_HINT,
                                           [ZH_SET_MODE] = ZH_VALUE_MODE_HINT};
        set_err(err, errlen, "%s: \"%s\" is not %s", s->name, value, what[s->type]);
        return ZH_ERR_INVALID;
    }
    if (v < s->min || v > s->max) {
        set_err(err, errlen, "%s: %s is out of range [%lld, %lld]", s->name, value,
                (long long)s->min, (long long)s->max);
        return ZH_ERR_INVALID;
    }
    *(int64_t *)field = v;
    return ZH_ERR_OK;
}

zh_err zh_config_defaults(struct zh_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    for (const struct zh_setting *s = zh_settings; s->name; s++) {
        zh_err e = apply(cfg, s, s->def, 0, NULL, 0);
        if (e != ZH_ERR_OK) {
            zh_config_free(cfg);
            return e;
        }
    }
    return ZH_ERR_OK;
}

void zh_config_free(struct zh_config *cfg)
{
    list_clear(cfg);
    for (const struct zh_setting *s = zh_settings; s->name; s++)
        if (s->type == ZH_SET_STRING) {
            char **p = (char **)((char *)cfg + s->offset);
            free(*p);
            *p = NULL;
        }
}

zh_err zh_config_copy(struct zh_config *dst, const struct zh_config *src)
{
    *dst = *src;
    for (size_t i = 0; i < src->n_addresses; i++)
        dst->addresses[i] = NULL;
    dst->n_addresses = 0;
    for (const struct zh_setting *s = zh_settings; s->name; s++)
        if (s->type == ZH_SET_STRING)
            *(char **)((char *)dst + s->offset) = NULL;
    for (const struct zh_setting *s = zh_settings; s->name; s++) {
        if (s->type == ZH_SET_STRING) {
            const char *v = *(char *const *)((const char *)src + s->offset);
            if (v && !(*(char **)((char *)dst + s->offset) = strdup(v)))
                goto fail;
        }
    }
    for (size_t i = 0; i < src->n_addresses; i++) {
        if (!(dst->addresses[i] = strdup(src->addresses[i])))
            goto fail;
        dst->n_addresses++;
    }
    return ZH_ERR_OK;
fail:
    zh_config_free(dst);
    return ZH_ERR_FATAL;
}

zh_err zh_config_set(struct zh_config *cfg, const char *name, const char *value, char *err,
                     size_t errlen)
{
    char section[64] = "";
    const char *dot = strchr(name, '.');
    if (dot && (size_t)(dot - name) < sizeof section) {
        memcpy(section, name, (size_t)(dot - name));
        section[dot - name] = 0;
        name = dot + 1;
    }
    const struct zh_setting *s = find_setting(*section ? section : NULL, name);
    if (!s) {
        set_err(err, errlen, "unknown setting \"%s\"", name);
        return ZH_ERR_INVALID;
    }
    return apply(cfg, s, value, s->type == ZH_SET_LIST, err, errlen);
}

struct load_ctx {
    struct zh_config *cfg;
    const char *path;
    char *err;
    size_t errlen;
    int failed;
    int lists_seen; /* a list key in the file replaces the defaults once */
};

/* inih as Debian builds it passes no line number; it returns the line of
 * the first handler failure instead, so messages are finished in the caller. */
static int on_ini(void *user, const char *section, const char *name, const char *value)
{
    struct load_ctx *lc = user;
    if (lc->failed)
        return 0;
    const struct zh_setting *s = find_setting(section, name);
    if (!s) {
        set_err(lc->err, lc->errlen, "unknown setting [%s] %s", section, name);
        lc->failed = 1;
        return 0;
    }
    int append = 0;
    if (s->type == ZH_SET_LIST) {
        append = lc->lists_seen;
        lc->lists_seen = 1;
    }
    zh_err e = apply(lc->cfg, s, value, append, lc->err, lc->errlen);
    if (e != ZH_ERR_OK) {
        lc->failed = 1;
        return 0;
    }
    return 1;
}

zh_err zh_config_load(struct zh_config *cfg, const char *path, char *err, size_t errlen)
{
    struct load_ctx lc = {cfg, path, err, errlen, 0, 0};
    FILE *f = fopen(path, "r");
    if (!f) {
        set_err(err, errlen, "%s: %s", path, strerror(errno));
        return ZH_ERR_IO;
    }
    int rc = ini_parse_file(f, on_ini, &lc);
    fclose(f);
    if (lc.failed) {
        char detail[512];
        snprintf(detail, sizeof detail, "%s", err);
        set_err(err, errlen, "%s:%d: %s", path, rc, detail);
        return ZH_ERR_INVALID;
    }
    if (rc != 0) {
        set_err(err, errlen, "%s:%d: syntax error", path, rc);
        return ZH_ERR_INVALID;
    }
    return ZH_ERR_OK;
}

/* Checks that involve more than one setting, or a setting's syntax beyond
 * its type; the table's bounds were checked when each value was set. */
zh_err zh_config_check(const struct zh_config *cfg, char *err, size_t errlen)
{
    /* TLS is configured (engine.tls_cert, tls_ca) for tls+tcp:// only: nng
     * would listen on another TLS scheme with no certificate at all and
     * every client would fail its handshake. Refuse those plainly. */
    static const char *const tls_schemes[] = {"tls+", "wss:", "wss4:", "wss6:"};
    for (size_t i = 0; i <= cfg->n_addresses; i++) {
        const char *a = i < cfg->n_addresses ? cfg->addresses[i] : cfg->admin_address;
        if (!a || !strncmp(a, "tls+tcp://", 10))
            continue;
        for (size_t k = 0; k < sizeof tls_schemes / sizeof *tls_schemes; k++)
            if (!strncmp(a, tls_schemes[k], strlen(tls_schemes[k]))) {
                set_err(err, errlen,
                        "engine.address %s: of the TLS transports only tls+tcp:// is supported "
                        "(with engine.tls_cert)",
                        a);
                return ZH_ERR_INVALID;
            }
    }
    if (zh_log_level_parse(cfg->log_level) < 0) {
        set_err(err, errlen, "engine.log_level \"%s\" is not error, warn, info or debug",
                cfg->log_level);
        return ZH_ERR_INVALID;
    }
    if (strcmp(cfg->log_target, "stderr") && strcmp(cfg->log_target, "syslog")) {
        set_err(err, errlen, "engine.log_target \"%s\" is not stderr or syslog", cfg->log_target);
        return ZH_ERR_INVALID;
    }
    if (!zh_syslog_facility_ok(cfg->log_facility)) {
        set_err(err, errlen,
                "engine.log_facility \"%s\" is not mail, daemon, user or local0-local7",
                cfg->log_facility);
        return ZH_ERR_INVALID;
    }
    if (strcmp(cfg->log_scans, "none") && strcmp(cfg->log_scans, "flagged") &&
        strcmp(cfg->log_scans, "all")) {
        set_err(err, errlen, "engine.log_scans \"%s\" is not none, flagged or all", cfg->log_scans);
        return ZH_ERR_INVALID;
    }
    for (size_t i = 0; i <= cfg->n_addresses; i++) {
        const char *a = i < cfg->n_addresses ? cfg->addresses[i] : cfg->admin_address;
        if (a && !strncmp(a, "tls+tcp://", 10) && !*cfg->tls_cert) {
            set_err(err, errlen,
                    "engine.address %s: a tls+tcp:// address needs engine.tls_cert (certificate "
                    "and key)",
                    a);
            return ZH_ERR_INVALID;
        }
    }
    if (cfg->group && *cfg->group && !(cfg->user && *cfg->user)) {
        set_err(err, errlen, "engine.group \"%s\" needs engine.user", cfg->group);
        return ZH_ERR_INVALID;
    }
    if (cfg->suspicious_score > cfg->malicious_score) {
        set_err(err, errlen,
                "scoring.suspicious_score (%lld) must not exceed scoring.malicious_score (%lld)",
                (long long)cfg->suspicious_score, (long long)cfg->malicious_score);
        return ZH_ERR_INVALID;
    }
    if (cfg->store_enabled) {
        if (!cfg->store_directory || cfg->store_directory[0] != '/') {
            set_err(err, errlen,
                    "store.enabled needs store.directory, an absolute path (got \"%s\")",
                    cfg->store_directory ? cfg->store_directory : "");
            return ZH_ERR_INVALID;
        }
        if (cfg->store_max_object_bytes > cfg->store_queue_bytes) {
            set_err(err, errlen,
                    "store.max_object_bytes (%lld) must not exceed store.queue_bytes (%lld): such "
                    "an object could never be queued",
                    (long long)cfg->store_max_object_bytes, (long long)cfg->store_queue_bytes);
            return ZH_ERR_INVALID;
        }
        if (cfg->store_max_object_bytes > cfg->store_max_bytes / 2) {
            set_err(err, errlen,
                    "store.max_object_bytes (%lld) must be at most half of store.max_bytes "
                    "(%lld), so one object cannot crowd out the rest",
                    (long long)cfg->store_max_object_bytes, (long long)cfg->store_max_bytes);
            return ZH_ERR_INVALID;
        }
    }
    if (cfg->outbreak_enabled && cfg->outbreak_redis && *cfg->outbreak_redis &&
        zhi_ob_shared_check_url(cfg->outbreak_redis, err, errlen) != ZH_ERR_OK)
        return ZH_ERR_INVALID;
    return zhi_site_check(cfg, err, errlen);
}

/* A value as the INI file would spell it (sizes in bytes, times in ms). */
static void format_value(const struct zh_setting *s, const struct zh_config *cfg, char *buf,
                         size_t n)
{
    const void *field = (const char *)cfg + s->offset;
    switch (s->type) {
    case ZH_SET_STRING:
        snprintf(buf, n, "%s", *(char *const *)field ? *(char *const *)field : "");
        return;
    case ZH_SET_LIST:
        snprintf(buf, n, "%s", cfg->n_addresses ? cfg->addresses[0] : "");
        return;
    case ZH_SET_MS:
        snprintf(buf, n, "%lldms", (long long)*(const int64_t *)field);
        return;
    case ZH_SET_MODE:
        snprintf(buf, n, "%04llo", (long long)*(const int64_t *)field);
        return;
    default:
        snprintf(buf, n, "%lld", (long long)*(const int64_t *)field);
        return;
    }
}

static int same_value(const struct zh_setting *s, const struct zh_config *a,
                      const struct zh_config *b)
{
    const void *fa = (const char *)a + s->offset, *fb = (const char *)b + s->offset;
    if (s->type == ZH_SET_LIST) {
        if (a->n_addresses != b->n_addresses)
            return 0;
        for (size_t i = 0; i < a->n_addresses; i++)
            if (strcmp(a->addresses[i], b->addresses[i]))
                return 0;
        return 1;
    }
    if (s->type == ZH_SET_STRING) {
        const char *x = *(char *const *)fa, *y = *(char *const *)fb;
        return !strcmp(x ? x : "", y ? y : "");
    }
    return *(const int64_t *)fa == *(const int64_t *)fb;
}

void zh_config_write(FILE *out, const struct zh_config *cfg)
{
    struct zh_config def;
    const char *section = "";
    int have_def = zh_config_defaults(&def) == ZH_ERR_OK;
    fprintf(out, "# zerohourd configuration (zerohourd.ini(5)), written by zerohourd "
                 "--print-config.\n"
                 "# A commented line shows the default; an uncommented one is set here.\n");
    for (const struct zh_setting *s = zh_settings; s->name; s++) {
        if (strcmp(section, s->section)) {
            section = s->section;
            fprintf(out, "\n[%s]\n", section);
        }
        zh_value_write_wrapped(out, "# ", s->help, 78);
        if (!cfg || (have_def && same_value(s, cfg, &def))) {
            fprintf(out, "# %s = %s\n", s->name, s->def);
        } else if (s->type == ZH_SET_LIST) {
            for (size_t i = 0; i < cfg->n_addresses; i++)
                fprintf(out, "%s = %s\n", s->name, cfg->addresses[i]);
        } else {
            char v[1024];
            format_value(s, cfg, v, sizeof v);
            fprintf(out, "%s = %s\n", s->name, v);
        }
    }
    if (have_def)
        zh_config_free(&def);
}

void zh_config_write_markdown(FILE *out)
{
    fprintf(out, "| setting | default | range | meaning |\n|---|---|---|---|\n");
    for (const struct zh_setting *s = zh_settings; s->name; s++) {
        char range[64] = "";
        if (s->type == ZH_SET_INT || s->type == ZH_SET_SIZE || s->type == ZH_SET_MS)
            snprintf(range, sizeof range, "%lld–%lld", (long long)s->min, (long long)s->max);
        const char *def = s->def;
        fprintf(out, "| `[%s] %s` | `%s` | %s | %s |\n", s->section, s->name,
                *def ? def : "(see meaning)", range, s->help);
    }
}

void zh_config_write_man(FILE *out)
{
    const char *section = "";
    for (const struct zh_setting *s = zh_settings; s->name; s++) {
        if (strcmp(section, s->section)) {
            section = s->section;
            fprintf(out, ".SS [%s]\n", section);
        }
        fprintf(out, ".TP\n.B %s\n", s->name);
        zh_value_write_roff(out, s->help);
        fprintf(out, "\n.br\nDefault: ");
        zh_value_write_roff(out, *s->def ? s->def : "(empty)");
        if (s->type == ZH_SET_INT || s->type == ZH_SET_SIZE || s->type == ZH_SET_MS)
            fprintf(out, "; range %lld to %lld%s", (long long)s->min, (long long)s->max,
                    s->type == ZH_SET_MS     ? " ms"
                    : s->type == ZH_SET_SIZE ? " bytes"
                                             : "");
        fprintf(out, ".\n");
    }
}
