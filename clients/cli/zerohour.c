/* zerohour — the command-line client: scan files, directories, stdin or a
 * JSONL replay of SMTP envelopes, and ask an engine for ping, stats, reload.
 * Not a scanner: every verdict comes from zerohourd through libzerohour-client. */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>

#include "rules.h"
#include "zerohour/client.h"
#include "zerohour/prometheus.h"
#include "zerohour/wire.h"

#ifndef ZH_VERSION
#define ZH_VERSION "unknown"
#endif

/* Exit statuses, as clamdscan has them. */
enum {
    EXIT_CLEAN = 0, /* every message CLEAN; other commands: success */
    EXIT_FOUND = 1, /* something SUSPICIOUS, MALICIOUS or DEFER; reload kept old rules */
    EXIT_ERROR = 2, /* any error, or a message that could not be fully examined */
};

/* Commands, also used as bits saying where an option applies. */
enum {
    CMD_SCAN = 1 << 0,
    CMD_PING = 1 << 1,
    CMD_STATS = 1 << 2,
    CMD_RELOAD = 1 << 3,
    CMD_VERSION = 1 << 4,
    CMD_HELP = 1 << 5,
    CMD_RULES = 1 << 6,
    CMD_OUTBREAKS = 1 << 7,
    CMD_ALL = 0xff,
};

struct cli {
    const char **addresses;
    size_t n_addresses;
    unsigned timeout_ms, connect_timeout_ms;
    bool json, help;
    const char *format;            /* stats: NULL, or "prometheus" */
    const char *tls_ca, *tls_cert; /* tls+tcp:// engines */
    /* scan */
    const char *client_ip, *helo, *mail_from, *envelopes;
    const char **rcpt;
    size_t n_rcpt;
    int64_t received_at;
    unsigned jobs;
};

/* ---- help ---------------------------------------------------------------- */

static const char help_main[] =
    "NAME\n"
    "    zerohour - scan mail with a zerohourd engine and manage the engine\n"
    "\n"
    "SYNOPSIS\n"
    "    zerohour [GLOBAL OPTIONS] COMMAND [OPTIONS] [ARGUMENTS]\n"
    "    zerohour COMMAND --help\n"
    "\n"
    "DESCRIPTION\n"
    "    zerohour sends mail to a running zerohourd engine and prints its verdicts,\n"
    "    or asks the engine about itself. It does no scanning of its own.\n"
    "\n"
    "COMMANDS\n"
    "    scan      scan message files, directories, standard input, or replay a\n"
    "              JSONL file of SMTP envelopes\n"
    "    ping      check that an engine answers; show its version and limits\n"
    "    stats     show the engine's counters, Redis INFO style\n"
    "    reload    make the engine reload its rules\n"
    "    rules     check a rules directory, or try it on messages, offline\n"
    "    outbreaks list active and growing outbreaks the engine is watching\n"
    "    version   show the version of this program and of the engine\n"
    "    help      show the help of a command (same as COMMAND --help)\n"
    "\n"
    "GLOBAL OPTIONS (accepted before or after the command)\n"
    "    -a, --address URL        engine address, an nng URL such as\n"
    "                             ipc:///run/zerohour/zerohour.sock or\n"
    "                             tcp://127.0.0.1:7350. Repeat to give several\n"
    "                             engines; requests are spread over those connected.\n"
    "                             Default: $ZEROHOUR_ADDRESS, else the per-user\n"
    "                             default (see ENVIRONMENT).\n"
    "    -t, --timeout MS         give up on a request after MS milliseconds\n"
    "                             (default 30000)\n"
    "        --connect-timeout MS wait at most MS milliseconds for a first\n"
    "                             connection to an engine (default 1000)\n"
    "        --tls-ca FILE        CAs (PEM) that signed the certificates of\n"
    "                             tls+tcp:// engines; needed for those\n"
    "        --tls-cert FILE      this client's certificate and key (PEM), for\n"
    "                             engines that require one\n"
    "        --json               machine-readable output (one JSON object per line)\n"
    "    -h, --help               show help (of COMMAND when one is given)\n"
    "    -V, --version            same as the version command\n"
    "\n"
    "EXIT STATUS\n"
    "    0  success; for scan: every message is CLEAN\n"
    "    1  scan: at least one message is SUSPICIOUS, MALICIOUS or DEFER;\n"
    "       reload: the engine rejected the new rules and kept the old ones\n"
    "    2  an error: engine unreachable, timeout, unreadable file, rejected\n"
    "       message, bad usage; for scan also a TEMPFAIL verdict (the message\n"
    "       could not be fully examined). 2 wins over 1, 1 over 0.\n"
    "\n"
    "ENVIRONMENT\n"
    "    ZEROHOUR_ADDRESS  default engine address. Without it: for root\n"
    "                      ipc:///run/zerohour/zerohour.sock; otherwise\n"
    "                      ipc://$XDG_RUNTIME_DIR/zerohour.sock when that directory\n"
    "                      exists, else ipc:///tmp/zerohour-UID/zerohour.sock.\n"
    "\n"
    "EXAMPLES\n"
    "    zerohour ping\n"
    "    zerohour scan message.eml\n"
    "    zerohour scan --json --jobs 8 /var/spool/quarantine\n"
    "    zerohour --address tcp://127.0.0.1:7350 stats scans\n";

static const char help_scan[] =
    "NAME\n"
    "    zerohour scan - scan messages with a zerohourd engine\n"
    "\n"
    "SYNOPSIS\n"
    "    zerohour scan [OPTIONS] PATH...\n"
    "    zerohour scan [OPTIONS] --envelopes FILE.jsonl\n"
    "\n"
    "DESCRIPTION\n"
    "    Each PATH is a file holding one raw RFC 5322 message, a directory (every\n"
    "    regular file below it is scanned, recursively; symbolic links are\n"
    "    followed, link loops are skipped), or - for standard input. Files are\n"
    "    read whole and sent to the engine with the SMTP envelope given by the\n"
    "    options below.\n"
    "\n"
    "    With several files, --jobs requests are in flight at once, so results\n"
    "    may come in any order; each result is one whole line.\n"
    "\n"
    "    With --envelopes, FILE.jsonl (- for standard input) is replayed in file\n"
    "    order, one request at a time. Each line is a JSON object\n"
    "      {\"path\": \"m.eml\", \"client_ip\": \"192.0.2.1\", \"helo\": \"mx.example\",\n"
    "       \"mail_from\": \"a@example.com\", \"rcpt_to\": [\"b@example.org\"],\n"
    "       \"received_at\": 1075111200000}\n"
    "    where only path is required; a relative path is relative to the\n"
    "    directory of FILE.jsonl, and a missing field takes the value of the\n"
    "    matching option. Blank lines are skipped. A line that is not such an\n"
    "    object is reported as an error naming FILE:LINE and the replay goes on.\n"
    "\n"
    "OUTPUT\n"
    "    One line per message:\n"
    "      PATH: VERDICT SCORE (RULE, RULE [FAMILY], ...)\n"
    "      PATH: ERROR REASON: DETAIL\n"
    "    VERDICT is CLEAN, SUSPICIOUS, MALICIOUS, DEFER or TEMPFAIL; the rules that\n"
    "    fired follow in the order they fired, each once, with the malware family\n"
    "    in brackets when a rule names one. DEFER lines end with the engine's\n"
    "    \"retry after N s\".\n"
    "\n"
    "    With --json, one JSON object per line with the keys path, verdict (the\n"
    "    upper-case label, or null on error), score, hits (objects with detector,\n"
    "    rule, object, score, detail, and family and aliases when present),\n"
    "    objects, retry_after_s, elapsed_us, parse_us, unpack_us, detect_us,\n"
    "    ruleset_version, request_id, and error (a string) on failure.\n"
    "\n"
    "    When no engine can be reached, the message that found out gets an ERROR\n"
    "    line and the run stops: the rest are not scanned, and how many were left\n"
    "    is said on standard error.\n"
    "\n"
    "OPTIONS\n"
    "        --client-ip IP       SMTP client address\n"
    "        --helo NAME          HELO/EHLO name the client gave\n"
    "        --mail-from ADDR     envelope sender (\"\" for the null sender)\n"
    "        --rcpt ADDR          envelope recipient; repeat for several\n"
    "        --received-at MS     arrival time, unix milliseconds (default: the\n"
    "                             engine's now)\n"
    "    -j, --jobs N             requests in flight at once (default: number of\n"
    "                             online CPUs)\n"
    "        --envelopes FILE     replay FILE.jsonl as described above\n"
    "        --json               JSON lines output\n"
    "    Global options (--address, --timeout, --connect-timeout) apply too; see\n"
    "    zerohour --help.\n"
    "\n"
    "EXIT STATUS\n"
    "    0  every message CLEAN\n"
    "    1  at least one SUSPICIOUS, MALICIOUS or DEFER\n"
    "    2  at least one error or TEMPFAIL (could not be fully examined), a bad\n"
    "       envelope line, or bad usage. 2 wins over 1, 1 over 0.\n"
    "\n"
    "ENVIRONMENT\n"
    "    ZEROHOUR_ADDRESS  default engine address\n"
    "\n"
    "EXAMPLES\n"
    "    zerohour scan message.eml\n"
    "    zerohour scan --client-ip 192.0.2.7 --helo pc17 --mail-from a@example.com \\\n"
    "        --rcpt b@example.org --rcpt c@example.org - < message.eml\n"
    "    zerohour scan --json -j 16 /srv/quarantine | jq -c 'select(.score > 0)'\n"
    "    zerohour scan --envelopes /var/tmp/replay.jsonl\n";

static const char help_ping[] =
    "NAME\n"
    "    zerohour ping - check that an engine answers\n"
    "\n"
    "SYNOPSIS\n"
    "    zerohour ping [--json] [GLOBAL OPTIONS]\n"
    "\n"
    "DESCRIPTION\n"
    "    Sends a Ping and prints what the engine that answered says about itself:\n"
    "    its version, the version of the ruleset it serves, its uptime, its number\n"
    "    of scan workers and the largest message it accepts. Useful in health\n"
    "    checks and start-up scripts.\n"
    "\n"
    "OPTIONS\n"
    "        --json               one JSON object with the keys version,\n"
    "                             ruleset_version, uptime_s, workers,\n"
    "                             max_message_bytes\n"
    "\n"
    "EXIT STATUS\n"
    "    0  the engine answered\n"
    "    2  no engine answered (the reason is printed to standard error)\n"
    "\n"
    "ENVIRONMENT\n"
    "    ZEROHOUR_ADDRESS  default engine address\n"
    "\n"
    "EXAMPLES\n"
    "    zerohour ping\n"
    "    until zerohour ping --timeout 500 >/dev/null 2>&1; do sleep 0.1; done\n";

static const char help_stats[] =
    "NAME\n"
    "    zerohour stats - show the engine's counters\n"
    "\n"
    "SYNOPSIS\n"
    "    zerohour stats [--json | --format prometheus] [GLOBAL OPTIONS] [SECTION]\n"
    "\n"
    "DESCRIPTION\n"
    "    Prints the engine's counters in the style of Redis INFO: a \"# section\"\n"
    "    line, then one key:value line per counter, sections separated by a blank\n"
    "    line. SECTION (server, scans, detectors, rules, rulestats, limits,\n"
    "    requests) limits the output to one section; an unknown section is an\n"
    "    error. rulestats lists each rule of the serving set that matched or\n"
    "    was timed, slowest first: matches, us_per_mib (CPU microseconds the\n"
    "    rule adds per MiB of mail, measured by the engine on a sample of\n"
    "    recent objects) and est_time_ms (that cost over all mail scanned).\n"
    "\n"
    "OPTIONS\n"
    "        --json               one JSON object of objects:\n"
    "                             {\"section\": {\"key\": \"value\", ...}, ...};\n"
    "                             values are strings, as the engine sends them\n"
    "        --format prometheus  the Prometheus text format, the same metrics\n"
    "                             as zerohourd's /metrics (engine.metrics_address),\n"
    "                             for node_exporter's textfile collector\n"
    "\n"
    "EXIT STATUS\n"
    "    0  success\n"
    "    2  error (engine unreachable, unknown section, ...)\n"
    "\n"
    "ENVIRONMENT\n"
    "    ZEROHOUR_ADDRESS  default engine address\n"
    "\n"
    "EXAMPLES\n"
    "    zerohour stats\n"
    "    zerohour stats scans\n"
    "    zerohour stats --json | jq -r .scans.scans\n"
    "    zerohour stats --format prometheus > /var/lib/node_exporter/zerohour.prom.$$ &&\n"
    "      mv /var/lib/node_exporter/zerohour.prom.$$ /var/lib/node_exporter/zerohour.prom\n";

static const char help_reload[] =
    "NAME\n"
    "    zerohour reload - make the engine reload its rules\n"
    "\n"
    "SYNOPSIS\n"
    "    zerohour reload [--json] [GLOBAL OPTIONS]\n"
    "\n"
    "DESCRIPTION\n"
    "    Asks the engine to compile its rules again (like sending it SIGHUP) and\n"
    "    waits for the outcome. On success it prints the new ruleset version and\n"
    "    rule count. When a rule file does not compile, the engine keeps serving\n"
    "    the old rules; every error is printed as FILE:LINE: MESSAGE. Warnings are\n"
    "    printed in both cases.\n"
    "\n"
    "    With several engine addresses, only the engine that takes the request\n"
    "    reloads; give one --address to reload a particular engine.\n"
    "\n"
    "OPTIONS\n"
    "        --json               one JSON object with the keys ok,\n"
    "                             ruleset_version, rule_count, errors, warnings,\n"
    "                             elapsed_us\n"
    "\n"
    "EXIT STATUS\n"
    "    0  the new rules are in use\n"
    "    1  the rules did not compile; the engine kept the old ones\n"
    "    2  communication error\n"
    "\n"
    "ENVIRONMENT\n"
    "    ZEROHOUR_ADDRESS  default engine address\n"
    "\n"
    "EXAMPLES\n"
    "    zerohour reload\n"
    "    zerohour --address ipc:///run/zerohour/zerohour.sock reload --json\n";

static const char help_rules[] =
    "NAME\n"
    "    zerohour rules - check, try and time a rules directory offline\n"
    "\n"
    "SYNOPSIS\n"
    "    zerohour rules check [--json] DIR\n"
    "    zerohour rules test [--json] DIR MESSAGE...\n"
    "    zerohour rules profile [--json] DIR MESSAGE...\n"
    "\n"
    "DESCRIPTION\n"
    "    Both work without a running engine: they link the engine's scanning\n"
    "    library, so DIR is compiled with the engine's own external variables\n"
    "    and heuristics.ini, exactly as zerohourd would on reload.\n"
    "\n"
    "    check compiles DIR and prints every error and warning as FILE:LINE.\n"
    "\n"
    "    test scans each MESSAGE (a file, or - for stdin) through the same MIME\n"
    "    and archive flattening as the engine and prints the verdict and every\n"
    "    hit: detector, rule, the object it fired on (2/document.zip/readme.exe)\n"
    "    and why; YARA hits also name the matched strings and their offsets.\n"
    "\n"
    "    profile flattens the MESSAGEs the same way, then times every rule on all\n"
    "    of their objects, slowest first: the CPU microseconds the rule adds to\n"
    "    one pass over them (each rule alone against the set with every rule\n"
    "    made inert: its string checks and its condition; the shared\n"
    "    Aho-Corasick pass is not counted), the same per MiB, and how many\n"
    "    objects it matched. zerohourd measures the same on live mail in the\n"
    "    background: zerohour stats rulestats. Give it mail like your traffic;\n"
    "    figures under a few microseconds are noise.\n"
    "\n"
    "EXIT STATUS\n"
    "    check: 0 when DIR compiles, 1 when it has errors, 2 on usage errors.\n"
    "    test: 0 every message clean, 1 something flagged, 2 errors.\n"
    "    profile: 0 when every message was timed, 1 when some were not mail and\n"
    "    were skipped, 2 on errors (DIR does not compile).\n"
    "\n"
    "EXAMPLES\n"
    "    zerohour rules check rules/\n"
    "    zerohour rules test my-rules/ tests/samples/04-mydoom-like-zip-pif.eml\n"
    "    zerohour rules profile my-rules/ /var/tmp/yesterdays-mail/*.eml | head\n";

static const char help_outbreaks[] =
    "NAME\n"
    "    zerohour outbreaks - show the outbreaks the engine is watching\n"
    "\n"
    "SYNOPSIS\n"
    "    zerohour outbreaks [--json] [GLOBAL OPTIONS]\n"
    "\n"
    "DESCRIPTION\n"
    "    Lists active outbreaks (a new risky payload that crossed the copy, sender\n"
    "    and client thresholds within the window; further copies are flagged), then\n"
    "    risky payloads seen at least twice within the window, most copies first:\n"
    "    the fingerprint's summary, when it was first seen, copies (in the window\n"
    "    and in all), distinct senders, client IPs and recipient domains, and the\n"
    "    rules that fired with it. This is the window of vulnerability made\n"
    "    visible: how long a payload spread before it was blocked.\n"
    "\n"
    "EXIT STATUS\n"
    "    0 no active outbreak, 1 at least one active outbreak, 2 errors.\n"
    "\n"
    "EXAMPLES\n"
    "    zerohour outbreaks\n"
    "    zerohour outbreaks --json\n";

static const char help_version[] =
    "NAME\n"
    "    zerohour version - show versions\n"
    "\n"
    "SYNOPSIS\n"
    "    zerohour version [--json] [GLOBAL OPTIONS]\n"
    "    zerohour --version\n"
    "\n"
    "DESCRIPTION\n"
    "    Prints the version of this program, then, when an engine answers, the\n"
    "    engine's version and ruleset version. An unreachable engine is reported\n"
    "    but is not an error.\n"
    "\n"
    "OPTIONS\n"
    "        --json               one JSON object with the keys client, engine\n"
    "                             and ruleset_version (null when unreachable)\n"
    "\n"
    "EXIT STATUS\n"
    "    0  always, unless the options are wrong (2)\n"
    "\n"
    "ENVIRONMENT\n"
    "    ZEROHOUR_ADDRESS  default engine address\n"
    "\n"
    "EXAMPLES\n"
    "    zerohour version\n";

static const char help_help[] = "NAME\n"
                                "    zerohour help - show help\n"
                                "\n"
                                "SYNOPSIS\n"
                                "    zerohour help [COMMAND]\n"
                                "\n"
                                "EXAMPLES\n"
                                "    zerohour help scan\n";

/* ---- small helpers ----------------------------------------------------- */

static pthread_mutex_t out_mu = PTHREAD_MUTEX_INITIALIZER;

/* Write one whole line to stdout; lines from concurrent scans never mix. */
static void emit_line(const char *line)
{
    pthread_mutex_lock(&out_mu);
    fputs(line, stdout);
    fputc('\n', stdout);
    pthread_mutex_unlock(&out_mu);
}

static void emit_json(json_object *o)
{
    emit_line(
        json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
}

__attribute__((format(printf, 1, 2))) static void warn(const char *fmt, ...)
{
    va_list ap;
    pthread_mutex_lock(&out_mu);
    fflush(stdout);
    fputs("zerohour: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    pthread_mutex_unlock(&out_mu);
}

/* "reason: detail" for a failed call, or just the reason without detail.
 * A detail that starts with the path being reported (file errors do) has
 * that dropped, since the line already begins with it. */
static void error_text(char *buf, size_t n, int rc, const char *path)
{
    const char *detail = zh_client_last_error();
    size_t pl = path ? strlen(path) : 0;
    if (pl && strncmp(detail, path, pl) == 0 && strncmp(detail + pl, ": ", 2) == 0)
        detail += pl + 2;
    if (*detail)
        snprintf(buf, n, "%s: %s", zh_client_strerror(rc), detail);
    else
        snprintf(buf, n, "%s", zh_client_strerror(rc));
}

static bool parse_unsigned(const char *s, unsigned long max, unsigned long *out)
{
    char *end;
    errno = 0;
    if (!*s || *s == '-')
        return false;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || *end || v > max)
        return false;
    *out = v;
    return true;
}

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) {
        fputs("zerohour: out of memory\n", stderr);
        exit(EXIT_ERROR);
    }
    return p;
}

static char *xstrdup(const char *s)
{
    char *p = xmalloc(strlen(s) + 1);
    return strcpy(p, s);
}

/* dir + "/" + name, without doubling a trailing slash. Caller frees. */
static char *path_join(const char *dir, const char *name)
{
    size_t dl = strlen(dir), nl = strlen(name);
    bool slash = dl > 0 && dir[dl - 1] != '/';
    char *p = xmalloc(dl + slash + nl + 1);
    memcpy(p, dir, dl);
    if (slash)
        p[dl] = '/';
    memcpy(p + dl + slash, name, nl + 1);
    return p;
}

static int open_client(const struct cli *o, zh_client **out)
{
    char def[PATH_MAX + 16];
    const char *one[1];
    const char *const *addrs = o->addresses;
    size_t n = o->n_addresses;
    struct zh_client_options opts = {.timeout_ms = o->timeout_ms,
                                     .connect_timeout_ms = o->connect_timeout_ms,
                                     .tls_ca = o->tls_ca,
                                     .tls_cert = o->tls_cert};

    if (n == 0) {
        if (zh_client_default_address(def, sizeof def) != ZH_OK) {
            warn("the default engine address is too long; give --address");
            return EXIT_ERROR;
        }
        one[0] = def;
        addrs = one;
        n = 1;
    }
    int rc = zh_client_open(out, addrs, n, &opts);
    if (rc != ZH_OK) {
        char msg[1200];
        error_text(msg, sizeof msg, rc, NULL);
        warn("%s", msg);
        return EXIT_ERROR;
    }
    return EXIT_CLEAN;
}

/* ---- scan: one message ----------------------------------------------- */

struct scan_job {
    zh_client *client;
    const struct cli *o;
    struct zh_envelope env; /* defaults from the options */
    pthread_mutex_t mu;     /* guards status, seq, the queue and the abort */
    int status;
    unsigned long seq;
    /* Set when no engine could be reached: every further file would wait the
     * connect timeout only to fail the same way, so the run stops. */
    bool unreachable;
    unsigned long skipped;
    /* Bounded queue from the directory walker to the workers. */
    char **queue;
    size_t q_cap, q_head, q_len;
    bool q_done;
    pthread_cond_t q_not_empty, q_not_full;
};

static void raise_status(struct scan_job *j, int st)
{
    pthread_mutex_lock(&j->mu);
    if (st > j->status)
        j->status = st;
    pthread_mutex_unlock(&j->mu);
}

static int verdict_status(int verdict)
{
    switch (verdict) {
    case ZH_VERDICT_CLEAN:
        return EXIT_CLEAN;
    case ZH_VERDICT_SUSPICIOUS:
    case ZH_VERDICT_MALICIOUS:
    case ZH_VERDICT_DEFER:
        return EXIT_FOUND;
    default: /* TEMPFAIL: not fully examined; UNSPECIFIED: an engine bug */
        return EXIT_ERROR;
    }
}

static void report_error(const struct scan_job *j, const char *path, const char *err)
{
    if (j->o->json) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "path", json_object_new_string(path));
        json_object_object_add(o, "verdict", NULL);
        json_object_object_add(o, "error", json_object_new_string(err));
        emit_json(o);
        json_object_put(o);
    } else {
        size_t n = strlen(path) + strlen(err) + 16;
        char *line = xmalloc(n);
        snprintf(line, n, "%s: ERROR %s", path, err);
        emit_line(line);
        free(line);
    }
}

static void report_json(const char *path, const struct zh_scan_result *r)
{
    json_object *o = json_object_new_object();
    json_object *hits = json_object_new_array();
    json_object_object_add(o, "path", json_object_new_string(path));
    json_object_object_add(o, "verdict", json_object_new_string(zh_verdict_label(r->verdict)));
    json_object_object_add(o, "score", json_object_new_int(r->score));
    for (size_t i = 0; i < r->n_hits; i++) {
        const struct zh_hit *h = &r->hits[i];
        json_object *jh = json_object_new_object();
        json_object_object_add(jh, "detector", json_object_new_string(h->detector));
        json_object_object_add(jh, "rule", json_object_new_string(h->rule));
        json_object_object_add(jh, "object", json_object_new_string(h->object));
        json_object_object_add(jh, "score", json_object_new_int(h->score));
        json_object_object_add(jh, "detail", json_object_new_string(h->detail));
        if (*h->family)
            json_object_object_add(jh, "family", json_object_new_string(h->family));
        if (h->n_aliases) {
            json_object *a = json_object_new_array();
            for (size_t k = 0; k < h->n_aliases; k++)
                json_object_array_add(a, json_object_new_string(h->aliases[k]));
            json_object_object_add(jh, "aliases", a);
        }
        json_object_array_add(hits, jh);
    }
    json_object_object_add(o, "hits", hits);
    json_object_object_add(o, "objects", json_object_new_int64(r->objects));
    if (r->verdict == ZH_VERDICT_DEFER)
        json_object_object_add(o, "retry_after_s", json_object_new_int64(r->retry_after_s));
    json_object_object_add(o, "elapsed_us", json_object_new_uint64(r->elapsed_us));
    json_object_object_add(o, "parse_us", json_object_new_uint64(r->parse_us));
    json_object_object_add(o, "unpack_us", json_object_new_uint64(r->unpack_us));
    json_object_object_add(o, "detect_us", json_object_new_uint64(r->detect_us));
    json_object_object_add(o, "ruleset_version", json_object_new_uint64(r->ruleset_version));
    json_object_object_add(o, "request_id", json_object_new_string(r->request_id));
    emit_json(o);
    json_object_put(o);
}

static bool same_str(const char *a, const char *b)
{
    return strcmp(a, b) == 0;
}

static void report_human(const char *path, const struct zh_scan_result *r)
{
    char *line = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&line, &len);
    if (!m) {
        fputs("zerohour: out of memory\n", stderr);
        exit(EXIT_ERROR);
    }
    fprintf(m, "%s: %s %d", path, zh_verdict_label(r->verdict), r->score);
    size_t shown = 0;
    for (size_t i = 0; i < r->n_hits; i++) {
        const struct zh_hit *h = &r->hits[i];
        const char *name = *h->rule ? h->rule : h->detector;
        /* A rule firing on several objects is listed once, where it first fired. */
        bool dup = false;
        for (size_t k = 0; k < i && !dup; k++) {
            const struct zh_hit *e = &r->hits[k];
            dup =
                same_str(*e->rule ? e->rule : e->detector, name) && same_str(e->family, h->family);
        }
        if (dup)
            continue;
        fputs(shown++ ? ", " : " (", m);
        fputs(name, m);
        if (*h->family)
            fprintf(m, " [%s]", h->family);
    }
    if (shown)
        fputc(')', m);
    if (r->verdict == ZH_VERDICT_DEFER && r->retry_after_s)
        fprintf(m, " retry after %u s", r->retry_after_s);
    fclose(m);
    emit_line(line);
    free(line);
}

/* Scan one file (path "-" = stdin), print its line and fold its status in. */
static void scan_one(struct scan_job *j, const char *path, const struct zh_envelope *env)
{
    struct zh_scan_result *r = NULL;
    char id[64];

    pthread_mutex_lock(&j->mu);
    unsigned long seq = ++j->seq;
    pthread_mutex_unlock(&j->mu);
    /* Unique enough to find this request in the engine's log. */
    snprintf(id, sizeof id, "zerohour-%ld-%lu", (long)getpid(), seq);

    pthread_mutex_lock(&j->mu);
    bool give_up = j->unreachable;
    j->skipped += give_up;
    pthread_mutex_unlock(&j->mu);
    if (give_up)
        return;

    int rc = zh_client_scan_file(j->client, path, env, id, 0, &r);
    if (rc == ZH_E_UNREACHABLE) {
        pthread_mutex_lock(&j->mu);
        j->unreachable = true;
        pthread_mutex_unlock(&j->mu);
    }
    if (rc != ZH_OK) {
        char err[1200];
        error_text(err, sizeof err, rc, path);
        report_error(j, path, err);
        raise_status(j, EXIT_ERROR);
        return;
    }
    if (j->o->json)
        report_json(path, r);
    else
        report_human(path, r);
    raise_status(j, verdict_status(r->verdict));
    zh_scan_result_free(r);
}

/* ---- scan: many files ------------------------------------------------- */

static void queue_push(struct scan_job *j, char *path)
{
    pthread_mutex_lock(&j->mu);
    if (j->unreachable) {
        j->skipped++;
        pthread_mutex_unlock(&j->mu);
        free(path);
        return;
    }
    while (j->q_len == j->q_cap)
        pthread_cond_wait(&j->q_not_full, &j->mu);
    j->queue[(j->q_head + j->q_len++) % j->q_cap] = path;
    pthread_cond_signal(&j->q_not_empty);
    pthread_mutex_unlock(&j->mu);
}

/* Next path for a worker, or NULL when the walk is over and the queue empty. */
static char *queue_pop(struct scan_job *j)
{
    char *p = NULL;
    pthread_mutex_lock(&j->mu);
    while (j->q_len == 0 && !j->q_done)
        pthread_cond_wait(&j->q_not_empty, &j->mu);
    if (j->q_len) {
        p = j->queue[j->q_head];
        j->q_head = (j->q_head + 1) % j->q_cap;
        j->q_len--;
        pthread_cond_signal(&j->q_not_full);
    }
    pthread_mutex_unlock(&j->mu);
    return p;
}

static void *worker(void *arg)
{
    struct scan_job *j = arg;
    char *path;
    while ((path = queue_pop(j))) {
        scan_one(j, path, &j->env);
        free(path);
    }
    return NULL;
}

/* The directories from the walk's root down to the current one, to notice a
 * symbolic link that leads back up (a loop). */
struct dir_chain {
    dev_t dev;
    ino_t ino;
    const struct dir_chain *up;
};

static void walk_error(struct scan_job *j, const char *path, int err)
{
    char msg[256];
    snprintf(msg, sizeof msg, "%s: %s", zh_client_strerror(ZH_E_IO), strerror(err));
    report_error(j, path, msg);
    raise_status(j, EXIT_ERROR);
}

/* Queue every regular file below dir (sorted by name within a directory, so
 * --jobs 1 gives a stable order). */
static void walk(struct scan_job *j, const char *dir, const struct stat *st,
                 const struct dir_chain *up)
{
    const struct dir_chain here = {.dev = st->st_dev, .ino = st->st_ino, .up = up};
    struct dirent **names = NULL;
    int n = scandir(dir, &names, NULL, alphasort);
    if (n < 0) {
        walk_error(j, dir, errno);
        return;
    }
    for (int i = 0; i < n; i++) {
        const char *name = names[i]->d_name;
        if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0) {
            free(names[i]);
            continue;
        }
        char *child = path_join(dir, name);
        struct stat cst;
        free(names[i]);
        if (stat(child, &cst) != 0) {
            int err = errno;
            struct stat lst;
            /* A dangling symbolic link is not a message; anything else that
             * cannot be examined is worth an error line. */
            if (!(lstat(child, &lst) == 0 && S_ISLNK(lst.st_mode)))
                walk_error(j, child, err);
            free(child);
            continue;
        }
        if (S_ISDIR(cst.st_mode)) {
            bool loop = false;
            for (const struct dir_chain *c = &here; c && !loop; c = c->up)
                loop = c->dev == cst.st_dev && c->ino == cst.st_ino;
            if (loop)
                warn("%s: skipped, a symbolic link loop", child);
            else
                walk(j, child, &cst, &here);
            free(child);
        } else if (S_ISREG(cst.st_mode)) {
            queue_push(j, child); /* the worker frees it */
        } else {
            free(child); /* fifos, sockets, devices: not mail */
        }
    }
    free(names);
}

static int scan_paths(struct scan_job *j, char **paths, size_t n)
{
    struct stat st;
    size_t stdin_count = 0;
    for (size_t i = 0; i < n; i++)
        stdin_count += strcmp(paths[i], "-") == 0;
    if (stdin_count > 1) {
        warn("scan: standard input (-) can be given only once");
        return EXIT_ERROR;
    }
    /* A single message needs no threads. */
    if (n == 1 &&
        (strcmp(paths[0], "-") == 0 || stat(paths[0], &st) != 0 || !S_ISDIR(st.st_mode))) {
        scan_one(j, paths[0], &j->env);
        return j->status;
    }

    unsigned jobs = j->o->jobs;
    pthread_t *th = xmalloc(jobs * sizeof *th);
    unsigned started = 0;
    j->q_cap = 4 * (size_t)jobs;
    j->queue = xmalloc(j->q_cap * sizeof *j->queue);
    for (; started < jobs; started++)
        if (pthread_create(&th[started], NULL, worker, j) != 0)
            break;
    if (started == 0) {
        warn("scan: cannot start worker threads");
        free(th);
        free(j->queue);
        return EXIT_ERROR;
    }
    for (size_t i = 0; i < n; i++) {
        if (strcmp(paths[i], "-") != 0 && stat(paths[i], &st) == 0 && S_ISDIR(st.st_mode))
            walk(j, paths[i], &st, NULL);
        else
            queue_push(j, xstrdup(paths[i])); /* errors are reported by the scan */
    }
    pthread_mutex_lock(&j->mu);
    j->q_done = true;
    pthread_cond_broadcast(&j->q_not_empty);
    pthread_mutex_unlock(&j->mu);
    for (unsigned i = 0; i < started; i++)
        pthread_join(th[i], NULL);
    free(th);
    free(j->queue);
    return j->status;
}

/* ---- scan: envelope replay --------------------------------------------- */

/* One JSONL line's envelope; the strings point into the parsed JSON. */
struct line_env {
    struct zh_envelope env;
    const char *path;
    const char **rcpt;
};

static const char *json_type_word(json_object *v)
{
    return v ? json_type_to_name(json_object_get_type(v)) : "null";
}

/* Fill le from obj, with j->env for what the line leaves out. Returns NULL,
 * or why the line is not an envelope (a static string or why). */
static const char *envelope_from_json(const struct scan_job *j, json_object *obj,
                                      struct line_env *le, char *why, size_t why_n)
{
    static const char *const str_keys[] = {"client_ip", "helo", "mail_from"};
    const char **str_dst[] = {&le->env.client_ip, &le->env.helo, &le->env.mail_from};
    json_object *v;

    le->env = j->env;
    le->rcpt = NULL;
    if (!json_object_is_type(obj, json_type_object)) {
        snprintf(why, why_n, "expected a JSON object, got %s", json_type_word(obj));
        return why;
    }
    if (!json_object_object_get_ex(obj, "path", &v) || !json_object_is_type(v, json_type_string) ||
        !*json_object_get_string(v))
        return "\"path\" (a non-empty string) is required";
    le->path = json_object_get_string(v);

    for (size_t i = 0; i < sizeof str_keys / sizeof str_keys[0]; i++) {
        if (!json_object_object_get_ex(obj, str_keys[i], &v) || !v)
            continue; /* absent or null: the option's value */
        if (!json_object_is_type(v, json_type_string)) {
            snprintf(why, why_n, "\"%s\" must be a string, got %s", str_keys[i], json_type_word(v));
            return why;
        }
        *str_dst[i] = json_object_get_string(v);
    }
    if (json_object_object_get_ex(obj, "rcpt_to", &v) && v) {
        if (!json_object_is_type(v, json_type_array))
            return "\"rcpt_to\" must be an array of strings";
        size_t n = json_object_array_length(v);
        le->rcpt = xmalloc(n * sizeof *le->rcpt);
        for (size_t i = 0; i < n; i++) {
            json_object *e = json_object_array_get_idx(v, i);
            if (!json_object_is_type(e, json_type_string))
                return "\"rcpt_to\" must be an array of strings";
            le->rcpt[i] = json_object_get_string(e);
        }
        le->env.rcpt_to = le->rcpt;
        le->env.n_rcpt = n;
    }
    if (json_object_object_get_ex(obj, "received_at", &v) && v) {
        if (!json_object_is_type(v, json_type_int))
            return "\"received_at\" must be an integer (unix milliseconds)";
        le->env.received_at = json_object_get_int64(v);
    }
    return NULL;
}

static bool blank(const char *s)
{
    for (; *s; s++)
        if (*s != ' ' && *s != '\t' && *s != '\r' && *s != '\n')
            return false;
    return true;
}

static int scan_envelopes(struct scan_job *j, const char *file)
{
    bool is_stdin = strcmp(file, "-") == 0;
    FILE *f = is_stdin ? stdin : fopen(file, "r");
    char *line = NULL, *dir = NULL;
    size_t cap = 0, lineno = 0;
    ssize_t len;
    json_tokener *tok = NULL;

    if (!f) {
        char err[PATH_MAX + 64];
        snprintf(err, sizeof err, "%s: %s", zh_client_strerror(ZH_E_IO), strerror(errno));
        report_error(j, file, err);
        return EXIT_ERROR;
    }
    /* Relative message paths are relative to the JSONL file's directory. */
    if (!is_stdin) {
        const char *slash = strrchr(file, '/');
        if (slash) {
            dir = xmalloc((size_t)(slash - file) + 2);
            memcpy(dir, file, (size_t)(slash - file) + 1);
            dir[slash - file + 1] = '\0';
        }
    }
    if (!(tok = json_tokener_new())) {
        warn("out of memory");
        j->status = EXIT_ERROR;
        goto out;
    }
    while ((len = getline(&line, &cap, f)) >= 0) {
        lineno++;
        if (blank(line))
            continue;
        char where[PATH_MAX + 32], why[160];
        const char *bad = NULL;
        struct line_env le = {0};
        snprintf(where, sizeof where, "%s:%zu", is_stdin ? "stdin" : file, lineno);

        json_tokener_reset(tok);
        json_object *obj = json_tokener_parse_ex(tok, line, (int)len);
        enum json_tokener_error jerr = json_tokener_get_error(tok);
        if (jerr == json_tokener_continue) {
            bad = "incomplete JSON (an object must be on one line)";
        } else if (jerr != json_tokener_success) {
            snprintf(why, sizeof why, "not JSON: %s", json_tokener_error_desc(jerr));
            bad = why;
        } else if (!blank(line + json_tokener_get_parse_end(tok))) {
            bad = "text after the JSON object";
        } else {
            bad = envelope_from_json(j, obj, &le, why, sizeof why);
        }
        if (bad) {
            char err[256];
            snprintf(err, sizeof err, "invalid envelope line: %s", bad);
            report_error(j, where, err);
            j->status = EXIT_ERROR;
        } else {
            char *path = le.path[0] != '/' && dir ? path_join(dir, le.path) : xstrdup(le.path);
            scan_one(j, path, &le.env);
            free(path);
        }
        free(le.rcpt);
        json_object_put(obj);
    }
    if (ferror(f)) {
        char err[PATH_MAX + 64];
        snprintf(err, sizeof err, "%s: reading failed: %s", zh_client_strerror(ZH_E_IO),
                 strerror(errno));
        report_error(j, file, err);
        j->status = EXIT_ERROR;
    }
out:
    if (tok)
        json_tokener_free(tok);
    free(line);
    free(dir);
    if (!is_stdin)
        fclose(f);
    return j->status;
}

static int cmd_scan(const struct cli *o, char **args, size_t n)
{
    struct scan_job j = {.o = o};
    int rc;

    if (o->envelopes && n) {
        warn("scan: give either --envelopes or PATHs, not both");
        return EXIT_ERROR;
    }
    if (!o->envelopes && !n) {
        warn("scan: nothing to scan; give PATHs, - for standard input, or --envelopes FILE "
             "(see zerohour scan --help)");
        return EXIT_ERROR;
    }
    if ((rc = open_client(o, &j.client)) != EXIT_CLEAN)
        return rc;
    j.env = (struct zh_envelope){.client_ip = o->client_ip,
                                 .helo = o->helo,
                                 .mail_from = o->mail_from,
                                 .rcpt_to = o->rcpt,
                                 .n_rcpt = o->n_rcpt,
                                 .received_at = o->received_at};
    pthread_mutex_init(&j.mu, NULL);
    pthread_cond_init(&j.q_not_empty, NULL);
    pthread_cond_init(&j.q_not_full, NULL);
    rc = o->envelopes ? scan_envelopes(&j, o->envelopes) : scan_paths(&j, args, n);
    if (j.skipped)
        warn("scan stopped: no engine reachable; %lu more message%s not scanned", j.skipped,
             j.skipped == 1 ? "" : "s");
    pthread_cond_destroy(&j.q_not_full);
    pthread_cond_destroy(&j.q_not_empty);
    pthread_mutex_destroy(&j.mu);
    zh_client_close(j.client);
    return rc;
}

/* ---- ping, stats, reload, version ------------------------------------- */

static void print_duration(uint64_t s)
{
    if (s >= 86400)
        printf("%" PRIu64 "d ", s / 86400);
    if (s >= 3600)
        printf("%" PRIu64 "h ", s / 3600 % 24);
    if (s >= 60)
        printf("%" PRIu64 "m ", s / 60 % 60);
    printf("%" PRIu64 "s", s % 60);
}

static void print_size(uint64_t b)
{
    static const char *const units[] = {"bytes", "KiB", "MiB", "GiB", "TiB"};
    double v = (double)b;
    size_t u = 0;
    while (v >= 1024 && u + 1 < sizeof units / sizeof units[0]) {
        v /= 1024;
        u++;
    }
    if (u == 0)
        printf("%" PRIu64 " bytes", b);
    else
        printf("%.4g %s (%" PRIu64 " bytes)", v, units[u], b);
}

static int call_failed(int rc)
{
    char msg[1200];
    error_text(msg, sizeof msg, rc, NULL);
    warn("%s", msg);
    return EXIT_ERROR;
}

static int cmd_ping(const struct cli *o, char **args, size_t n)
{
    zh_client *c = NULL;
    struct zh_ping_result *p = NULL;
    int rc, st;

    (void)args, (void)n;

    if ((st = open_client(o, &c)) != EXIT_CLEAN)
        return st;
    if ((rc = zh_client_ping(c, &p)) != ZH_OK) {
        st = call_failed(rc);
        goto out;
    }
    if (o->json) {
        json_object *j = json_object_new_object();
        json_object_object_add(j, "version", json_object_new_string(p->version));
        json_object_object_add(j, "ruleset_version", json_object_new_uint64(p->ruleset_version));
        json_object_object_add(j, "uptime_s", json_object_new_uint64(p->uptime_s));
        json_object_object_add(j, "workers", json_object_new_int64(p->workers));
        json_object_object_add(j, "max_message_bytes",
                               json_object_new_uint64(p->max_message_bytes));
        emit_json(j);
        json_object_put(j);
    } else {
        printf("engine version:   %s\n", p->version);
        printf("ruleset version:  %" PRIu64 "\n", p->ruleset_version);
        printf("uptime:           ");
        print_duration(p->uptime_s);
        printf("\nworkers:          %u\n", p->workers);
        printf("max message size: ");
        if (p->max_message_bytes)
            print_size(p->max_message_bytes);
        else
            printf("unlimited");
        putchar('\n');
    }
out:
    zh_ping_result_free(p);
    zh_client_close(c);
    return st;
}

/* Stats plus the count of active outbreaks, as zerohourd's /metrics has them. */
static int print_prometheus(zh_client *c, const struct zh_stats_result *s)
{
    struct zh_outbreaks_result *ob = NULL;
    zh_prom *p = zh_prom_new();
    char *text = NULL, v[32];
    size_t len = 0;
    int rc;
    if (!p)
        return EXIT_ERROR;
    for (size_t i = 0; i < s->n_entries; i++)
        zh_prom_entry(p, s->entries[i].section, s->entries[i].key, s->entries[i].value);
    if ((rc = zh_client_outbreaks(c, &ob)) != ZH_OK) {
        zh_prom_free(p);
        return call_failed(rc);
    }
    size_t active = 0;
    for (size_t i = 0; i < ob->n_outbreaks; i++)
        active += ob->outbreaks[i].active;
    zh_outbreaks_result_free(ob);
    snprintf(v, sizeof v, "%zu", active);
    zh_prom_entry(p, "outbreaks", "active", v);
    text = zh_prom_text(p, &len);
    zh_prom_free(p);
    if (!text)
        return EXIT_ERROR;
    fwrite(text, 1, len, stdout);
    free(text);
    return EXIT_CLEAN;
}

static int cmd_stats(const struct cli *o, char **args, size_t n)
{
    zh_client *c = NULL;
    struct zh_stats_result *s = NULL;
    int rc, st;

    if ((st = open_client(o, &c)) != EXIT_CLEAN)
        return st;
    if ((rc = zh_client_stats(c, n ? args[0] : "", &s)) != ZH_OK) {
        st = call_failed(rc);
        goto out;
    }
    if (o->format) {
        st = print_prometheus(c, s);
    } else if (o->json) {
        json_object *all = json_object_new_object(), *sec = NULL;
        for (size_t i = 0; i < s->n_entries; i++) {
            const struct zh_stats_entry *e = &s->entries[i];
            if (!json_object_object_get_ex(all, e->section, &sec)) {
                sec = json_object_new_object();
                json_object_object_add(all, e->section, sec);
            }
            json_object_object_add(sec, e->key, json_object_new_string(e->value));
        }
        emit_json(all);
        json_object_put(all);
    } else {
        const char *cur = NULL;
        for (size_t i = 0; i < s->n_entries; i++) {
            const struct zh_stats_entry *e = &s->entries[i];
            if (!cur || strcmp(cur, e->section) != 0) {
                printf("%s# %s\n", cur ? "\n" : "", e->section);
                cur = e->section;
            }
            printf("%s:%s\n", e->key, e->value);
        }
    }
out:
    zh_stats_result_free(s);
    zh_client_close(c);
    return st;
}

static json_object *json_strv(char **v, size_t n)
{
    json_object *a = json_object_new_array();
    for (size_t i = 0; i < n; i++)
        json_object_array_add(a, json_object_new_string(v[i]));
    return a;
}

static int cmd_reload(const struct cli *o, char **args, size_t n)
{
    zh_client *c = NULL;
    struct zh_reload_result *r = NULL;
    int rc, st;

    (void)args, (void)n;

    if ((st = open_client(o, &c)) != EXIT_CLEAN)
        return st;
    if ((rc = zh_client_reload(c, &r)) != ZH_OK) {
        st = call_failed(rc);
        goto out;
    }
    st = r->ok ? EXIT_CLEAN : EXIT_FOUND;
    if (o->json) {
        json_object *j = json_object_new_object();
        json_object_object_add(j, "ok", json_object_new_boolean(r->ok));
        json_object_object_add(j, "ruleset_version", json_object_new_uint64(r->ruleset_version));
        json_object_object_add(j, "rule_count", json_object_new_int64(r->rule_count));
        json_object_object_add(j, "errors", json_strv(r->errors, r->n_errors));
        json_object_object_add(j, "warnings", json_strv(r->warnings, r->n_warnings));
        json_object_object_add(j, "elapsed_us", json_object_new_uint64(r->elapsed_us));
        emit_json(j);
        json_object_put(j);
        goto out;
    }
    for (size_t i = 0; i < r->n_errors; i++)
        printf("error: %s\n", r->errors[i]);
    for (size_t i = 0; i < r->n_warnings; i++)
        printf("warning: %s\n", r->warnings[i]);
    if (r->ok)
        printf("ok: ruleset version %" PRIu64 ", %u rules, compiled in %.1f ms\n",
               r->ruleset_version, r->rule_count, (double)r->elapsed_us / 1000.0);
    else
        printf("failed: %zu error%s; the engine kept ruleset version %" PRIu64 " (%u rules)\n",
               r->n_errors, r->n_errors == 1 ? "" : "s", r->ruleset_version, r->rule_count);
out:
    zh_reload_result_free(r);
    zh_client_close(c);
    return st;
}

static int cmd_version(const struct cli *o, char **args, size_t n)
{
    zh_client *c = NULL;
    struct zh_ping_result *p = NULL;
    char err[1200] = "";

    (void)args, (void)n;
    int rc = open_client(o, &c) == EXIT_CLEAN ? zh_client_ping(c, &p) : ZH_E_UNREACHABLE;
    if (rc != ZH_OK && c)
        error_text(err, sizeof err, rc, NULL);
    if (o->json) {
        json_object *j = json_object_new_object();
        json_object_object_add(j, "client", json_object_new_string(ZH_VERSION));
        json_object_object_add(j, "engine", p ? json_object_new_string(p->version) : NULL);
        json_object_object_add(j, "ruleset_version",
                               p ? json_object_new_uint64(p->ruleset_version) : NULL);
        if (*err)
            json_object_object_add(j, "error", json_object_new_string(err));
        emit_json(j);
        json_object_put(j);
    } else {
        printf("zerohour %s\n", ZH_VERSION);
        if (p)
            printf("zerohourd %s (ruleset version %" PRIu64 ")\n", p->version, p->ruleset_version);
        else if (*err)
            printf("zerohourd: not reachable (%s)\n", err);
    }
    zh_ping_result_free(p);
    zh_client_close(c);
    return EXIT_CLEAN;
}

/* ---- command line -------------------------------------------------------- */

static int cmd_rules(const struct cli *o, char **args, size_t n)
{
    if (n >= 2 && !strcmp(args[0], "check") && n == 2)
        return zh_cli_rules_check(args[1], o->json);
    if (n >= 3 && !strcmp(args[0], "test"))
        return zh_cli_rules_test(args[1], args + 2, n - 2, o->json);
    if (n >= 3 && !strcmp(args[0], "profile"))
        return zh_cli_rules_profile(args[1], args + 2, n - 2, o->json);
    fprintf(stderr, "zerohour rules: expected 'check DIR', 'test DIR MESSAGE...' or "
                    "'profile DIR MESSAGE...'; try 'zerohour rules --help'\n");
    return EXIT_ERROR;
}

static void fmt_time(char *buf, size_t n, int64_t ms)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, n, "%Y-%m-%d %H:%M:%SZ", &tm);
}

static int cmd_outbreaks(const struct cli *o, char **args, size_t n)
{
    zh_client *c = NULL;
    struct zh_outbreaks_result *r = NULL;
    (void)args, (void)n;
    int st = open_client(o, &c);
    if (st != EXIT_CLEAN)
        return st;
    int rc = zh_client_outbreaks(c, &r);
    if (rc != ZH_OK) {
        char err[1200];
        error_text(err, sizeof err, rc, NULL);
        fprintf(stderr, "zerohour outbreaks: %s\n", err);
        zh_client_close(c);
        return EXIT_ERROR;
    }
    int active = 0;
    json_object *arr = o->json ? json_object_new_array() : NULL;
    if (!o->json)
        printf("%-16s %-6s %-20s %7s %7s %7s %5s %5s  %s\n", "fingerprint", "state", "first seen",
               "window", "total", "senders", "ips", "doms", "payload / rules");
    for (size_t i = 0; i < r->n_outbreaks; i++) {
        const struct zh_outbreak *b = &r->outbreaks[i];
        active += b->active;
        char first[32];
        fmt_time(first, sizeof first, b->first_seen);
        if (o->json) {
            json_object *j = json_object_new_object();
            json_object_object_add(j, "fingerprint", json_object_new_string(b->fingerprint));
            json_object_object_add(j, "summary", json_object_new_string(b->summary));
            json_object_object_add(j, "hits", json_object_new_string(b->hits));
            json_object_object_add(j, "first_seen", json_object_new_int64(b->first_seen));
            json_object_object_add(j, "last_seen", json_object_new_int64(b->last_seen));
            json_object_object_add(j, "active_since", json_object_new_int64(b->active_since));
            json_object_object_add(j, "total", json_object_new_uint64(b->total));
            json_object_object_add(j, "copies", json_object_new_int((int)b->copies));
            json_object_object_add(j, "senders", json_object_new_int((int)b->senders));
            json_object_object_add(j, "client_ips", json_object_new_int((int)b->client_ips));
            json_object_object_add(j, "rcpt_domains", json_object_new_int((int)b->rcpt_domains));
            json_object_object_add(j, "active", json_object_new_boolean(b->active));
            json_object_object_add(j, "blocking", json_object_new_boolean(b->blocking));
            json_object_array_add(arr, j);
        } else {
            printf("%-16s %-6s %-20s %7u %7llu %7u %5u %5u  %s%s%s\n", b->fingerprint,
                   b->active ? "ACTIVE" : "rising", first, b->copies, (unsigned long long)b->total,
                   b->senders, b->client_ips, b->rcpt_domains, b->summary, *b->hits ? " / " : "",
                   b->hits);
        }
    }
    if (o->json) {
        json_object *j = json_object_new_object();
        json_object_object_add(j, "now", json_object_new_int64(r->now));
        json_object_object_add(j, "outbreaks", arr);
        emit_json(j);
        json_object_put(j);
    } else if (!r->n_outbreaks) {
        printf("(no outbreak and no rising risky payload)\n");
    }
    zh_outbreaks_result_free(r);
    zh_client_close(c);
    return active ? EXIT_FOUND : EXIT_CLEAN;
}

static int cmd_help(const struct cli *o, char **args, size_t n);

static const struct command {
    const char *name;
    unsigned bit;
    int (*run)(const struct cli *, char **args, size_t n);
    const char *help;
    size_t max_args;
} commands[] = {
    {"scan", CMD_SCAN, cmd_scan, help_scan, SIZE_MAX},
    {"ping", CMD_PING, cmd_ping, help_ping, 0},
    {"stats", CMD_STATS, cmd_stats, help_stats, 1},
    {"reload", CMD_RELOAD, cmd_reload, help_reload, 0},
    {"version", CMD_VERSION, cmd_version, help_version, 0},
    {"rules", CMD_RULES, cmd_rules, help_rules, SIZE_MAX},
    {"outbreaks", CMD_OUTBREAKS, cmd_outbreaks, help_outbreaks, 0},
    {"help", CMD_HELP, cmd_help, help_help, 1},
};

static const struct command *command_find(const char *name)
{
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(commands[i].name, name) == 0)
            return &commands[i];
    return NULL;
}

static int cmd_help(const struct cli *o, char **args, size_t n)
{
    const struct command *cmd = n ? command_find(args[0]) : NULL;

    (void)o;
    if (n && !cmd) {
        warn("help: no command '%s' (try zerohour --help)", args[0]);
        return EXIT_ERROR;
    }
    fputs(cmd ? cmd->help : help_main, stdout);
    return EXIT_CLEAN;
}

enum {
    OPT_ADDRESS = 'a',
    OPT_HELP = 'h',
    OPT_JOBS = 'j',
    OPT_TIMEOUT = 't',
    OPT_VERSION = 'V',
    OPT_CONNECT_TIMEOUT = 256,
    OPT_JSON,
    OPT_CLIENT_IP,
    OPT_HELO,
    OPT_MAIL_FROM,
    OPT_RCPT,
    OPT_RECEIVED_AT,
    OPT_ENVELOPES,
    OPT_FORMAT,
    OPT_TLS_CA,
    OPT_TLS_CERT,
};

static const struct option longopts[] = {
    {"address", required_argument, NULL, OPT_ADDRESS},
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
    {"connect-timeout", required_argument, NULL, OPT_CONNECT_TIMEOUT},
    {"json", no_argument, NULL, OPT_JSON},
    {"help", no_argument, NULL, OPT_HELP},
    {"version", no_argument, NULL, OPT_VERSION},
    {"client-ip", required_argument, NULL, OPT_CLIENT_IP},
    {"helo", required_argument, NULL, OPT_HELO},
    {"mail-from", required_argument, NULL, OPT_MAIL_FROM},
    {"rcpt", required_argument, NULL, OPT_RCPT},
    {"received-at", required_argument, NULL, OPT_RECEIVED_AT},
    {"jobs", required_argument, NULL, OPT_JOBS},
    {"envelopes", required_argument, NULL, OPT_ENVELOPES},
    {"format", required_argument, NULL, OPT_FORMAT},
    {"tls-ca", required_argument, NULL, OPT_TLS_CA},
    {"tls-cert", required_argument, NULL, OPT_TLS_CERT},
    {NULL, 0, NULL, 0},
};

/* Which commands each option applies to; checked after parsing, since the
 * command may come after its options. */
static unsigned option_scope(int opt)
{
    switch (opt) {
    case OPT_JSON:
        return CMD_ALL & ~CMD_HELP;
    case OPT_CLIENT_IP:
    case OPT_HELO:
    case OPT_MAIL_FROM:
    case OPT_RCPT:
    case OPT_RECEIVED_AT:
    case OPT_JOBS:
    case OPT_ENVELOPES:
        return CMD_SCAN;
    case OPT_FORMAT:
        return CMD_STATS;
    default:
        return CMD_ALL;
    }
}

static const char *option_name(int opt)
{
    for (const struct option *lo = longopts; lo->name; lo++)
        if (lo->val == opt)
            return lo->name;
    return "?";
}

static void usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "zerohour%s%s: ", cmd ? " " : "", cmd ? cmd : "");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nTry 'zerohour %s%s--help'.\n", cmd ? cmd : "", cmd ? " " : "");
}

/* Parse options from argv[first...] (getopt permutes them to the front);
 * returns -1 on a usage error. Records each option seen in *seen_opts. */
static int parse_options(struct cli *o, int argc, char **argv, bool stop_at_command, int *seen_opts,
                         size_t *n_seen, const char *cmd)
{
    int opt;
    unsigned long v;
    /* optind = 0 makes glibc start afresh, which the second pass needs. */
    optind = 0;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, stop_at_command ? "+:a:ht:j:V" : ":a:ht:j:V", longopts,
                              NULL)) != -1) {
        switch (opt) {
        case '?':
            if (optopt)
                usage_error(cmd, "unknown option -%c", optopt);
            else
                usage_error(cmd, "unknown option %s", argv[optind - 1]);
            return -1;
        case ':':
            usage_error(cmd, "option %s needs a value", argv[optind - 1]);
            return -1;
        case OPT_ADDRESS: {
            const char **na = realloc(o->addresses, (o->n_addresses + 1) * sizeof *na);
            if (!na)
                return -1;
            o->addresses = na;
            o->addresses[o->n_addresses++] = optarg;
            break;
        }
        case OPT_TIMEOUT:
        case OPT_CONNECT_TIMEOUT:
            if (!parse_unsigned(optarg, 24UL * 3600 * 1000, &v) || v == 0) {
                usage_error(cmd, "--%s wants milliseconds (1 to 86400000), not '%s'",
                            option_name(opt), optarg);
                return -1;
            }
            *(opt == OPT_TIMEOUT ? &o->timeout_ms : &o->connect_timeout_ms) = (unsigned)v;
            break;
        case OPT_JOBS:
            if (!parse_unsigned(optarg, 1024, &v) || v == 0) {
                usage_error(cmd, "--jobs wants a number from 1 to 1024, not '%s'", optarg);
                return -1;
            }
            o->jobs = (unsigned)v;
            break;
        case OPT_RECEIVED_AT: {
            char *end;
            errno = 0;
            long long t = strtoll(optarg, &end, 10);
            if (errno || !*optarg || *end || t < 0) {
                usage_error(cmd, "--received-at wants unix milliseconds, not '%s'", optarg);
                return -1;
            }
            o->received_at = t;
            break;
        }
        case OPT_RCPT: {
            const char **nr = realloc(o->rcpt, (o->n_rcpt + 1) * sizeof *nr);
            if (!nr)
                return -1;
            o->rcpt = nr;
            o->rcpt[o->n_rcpt++] = optarg;
            break;
        }
        case OPT_JSON:
            o->json = true;
            break;
        case OPT_TLS_CA:
            o->tls_ca = optarg;
            break;
        case OPT_TLS_CERT:
            o->tls_cert = optarg;
            break;
        case OPT_FORMAT:
            if (strcmp(optarg, "prometheus")) {
                usage_error("stats", "--format takes prometheus, not \"%s\"", optarg);
                return -1;
            }
            o->format = optarg;
            break;
        case OPT_HELP:
            o->help = true;
            break;
        case OPT_CLIENT_IP:
            o->client_ip = optarg;
            break;
        case OPT_HELO:
            o->helo = optarg;
            break;
        case OPT_MAIL_FROM:
            o->mail_from = optarg;
            break;
        case OPT_ENVELOPES:
            o->envelopes = optarg;
            break;
        }
        /* --version is a command of its own; remember it like an option. */
        if (*n_seen < 64)
            seen_opts[(*n_seen)++] = opt;
    }
    return optind;
}

int main(int argc, char **argv)
{
    struct cli o = {.timeout_ms = 30000, .connect_timeout_ms = 1000};
    int seen[64];
    size_t n_seen = 0;
    int st = EXIT_ERROR;
    const struct command *cmd = NULL;

    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    o.jobs = cpus > 0 ? (unsigned)(cpus > 1024 ? 1024 : cpus) : 1;

    /* Pass 1: global options up to the command. */
    int first = parse_options(&o, argc, argv, true, seen, &n_seen, NULL);
    if (first < 0)
        goto out;
    bool want_version = false;
    for (size_t i = 0; i < n_seen; i++)
        want_version |= seen[i] == OPT_VERSION;
    if (first == argc) {
        if (o.help) {
            fputs(help_main, stdout);
            st = EXIT_CLEAN;
        } else if (want_version) {
            st = cmd_version(&o, NULL, 0);
        } else {
            usage_error(
                NULL,
                "no command given (scan, ping, stats, reload, rules, outbreaks, version, help)");
        }
        goto out;
    }
    if (!(cmd = command_find(argv[first]))) {
        usage_error(NULL, "unknown command '%s'", argv[first]);
        goto out;
    }
    /* Pass 2: the command's own options, anywhere among its arguments. */
    int sub_argc = argc - first;
    char **sub_argv = argv + first;
    int rest = parse_options(&o, sub_argc, sub_argv, false, seen, &n_seen, cmd->name);
    if (rest < 0)
        goto out;
    if (o.help) {
        fputs(cmd->help, stdout);
        st = EXIT_CLEAN;
        goto out;
    }
    for (size_t i = 0; i < n_seen; i++) {
        if (seen[i] == OPT_VERSION) {
            usage_error(cmd->name, "--version is a command of its own");
            goto out;
        }
        if (!(option_scope(seen[i]) & cmd->bit)) {
            usage_error(cmd->name, "--%s does not apply to %s", option_name(seen[i]), cmd->name);
            goto out;
        }
    }
    size_t n_args = (size_t)(sub_argc - rest);
    if (n_args > cmd->max_args) {
        usage_error(cmd->name, "unexpected argument '%s'", sub_argv[rest + cmd->max_args]);
        goto out;
    }
    st = cmd->run(&o, sub_argv + rest, n_args);
out:
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "zerohour: writing the output failed: %s\n", strerror(errno));
        st = EXIT_ERROR;
    }
    free(o.addresses);
    free(o.rcpt);
    return st;
}
