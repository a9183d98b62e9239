/* zerohour — the command-line client: scan files, directories, stdin or a
 * JSONL replay of SMTP envelopes, and ask an engine for ping, stats, reload.
 * Not a scanner: every verdict comes from zerohourd through libzerohour-client. */
#include <dirent.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
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

#include "mailbox.h"
#include "rules.h"
#include "zerohour/client.h"
#include "zerohour/values.h"
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
    CMD_RETROHUNT = 1 << 8,
    CMD_STORE = 1 << 9,
    CMD_ALL = 0x3ff,
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
    int observe; /* --observe 1, --no-observe 0, neither -1 (see cmd_scan) */
    const char **excludes;
    size_t n_excludes;
    bool infected_only, no_summary;
    const char *queue_id;
    /* retrohunt */
    const char *sha256, *outbreak;
    int64_t since_ms, deadline_ms;
    bool progress, no_progress;
    /* store forget */
    const char *forget_message_id;
    int64_t older_than_ms;
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
    "    retrohunt run a rule written now over the mail the engine stored: who\n"
    "              already received it, and what verdict it got then\n"
    "    store     forget stored mail (privacy requests)\n"
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
    "                      That default is refused when its directory could be\n"
    "                      another user's: not ours or root's, writable by\n"
    "                      others, or a symlink.\n"
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
    "    Mail stores are scanned message by message. A file that starts with an\n"
    "    mbox \"From \" separator line is an mbox: each message after a separator\n"
    "    is scanned on its own (without its From_ line, with \">From \" quoting\n"
    "    undone the mboxrd way) and reported as PATH:N, N counting from 1, with\n"
    "    its Message-ID (an mbox of one message is reported as PATH). A\n"
    "    directory with cur/, new/ and tmp/ is a Maildir: the files of cur/ and\n"
    "    new/ are messages, tmp/ (deliveries in progress) is left alone, and the\n"
    "    mail server's own files (dovecot.index*, dovecot-uidlist, subscriptions,\n"
    "    maildirfolder, courierimap*...) are skipped, not errors; Maildir++\n"
    "    subfolders (.Sent/...) are walked the same way.\n"
    "\n"
    "    Scanning files does not teach the engine: the outbreak and sender\n"
    "    detectors judge them with what they know but count nothing (see\n"
    "    --observe). A hunt through old mail must not feed the live counters.\n"
    "\n"
    "    With more than one message, a summary follows on standard error\n"
    "    (messages scanned, flagged by verdict, errors, skipped, time), and a\n"
    "    progress line is kept there while the scan runs, when standard error\n"
    "    is a terminal and the scan takes more than a second.\n"
    "\n"
    "    With several files, --jobs requests are in flight at once, so results\n"
    "    may come in any order; each result is one whole line.\n"
    "\n"
    "    With --envelopes, FILE.jsonl (- for standard input) is replayed in file\n"
    "    order, one request at a time. Each line is a JSON object\n"
    "      {\"path\": \"m.eml\", \"client_ip\": \"192.0.2.1\", \"helo\": \"mx.example\",\n"
    "       \"mail_from\": \"a@example.com\", \"rcpt_to\": [\"b@example.org\"],\n"
    "       \"received_at\": 1075111200000, \"queue_id\": \"4TqL2c1Xz9\"}\n"
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
    "        --queue-id ID        the MTA's queue id, kept with the message when\n"
    "                             the engine stores scans (see retrohunt)\n"
    "    -j, --jobs N             requests in flight at once (default: number of\n"
    "                             online CPUs)\n"
    "        --envelopes FILE     replay FILE.jsonl as described above\n"
    "        --observe            let the engine learn from these messages: count\n"
    "                             them in its outbreak and sender tables, as it\n"
    "                             does an MTA's traffic. Default for --envelopes.\n"
    "        --no-observe         judge the messages with what the engine knows,\n"
    "                             without teaching it anything: a hunt through\n"
    "                             old mail must not feed the live outbreak\n"
    "                             counters. Default for PATHs.\n"
    "        --json               JSON lines output; mbox messages add the keys\n"
    "                             mbox (the file), offset (of the message in it)\n"
    "                             and message_id\n"
    "        --exclude GLOB       skip files and directories whose path or name\n"
    "                             matches GLOB (fnmatch); repeat for several\n"
    "    -i, --infected-only      print only messages that are not CLEAN (and\n"
    "                             errors), like clamscan -i\n"
    "        --no-summary         no summary and no progress line\n"
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
    "    zerohour scan --envelopes /var/tmp/replay.jsonl\n"
    "    zerohour scan -i --exclude '*.bak' ~/Maildir /var/mail/alice\n";

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
    "    visible: how long a payload spread before it was blocked. With the\n"
    "    engine's store on, an active outbreak also says how many earlier copies\n"
    "    were delivered (CLEAN or SUSPICIOUS) before it was declared\n"
    "    (delivered_before in --json; null without a store); zerohour retrohunt\n"
    "    --outbreak FINGERPRINT lists them.\n"
    "\n"
    "EXIT STATUS\n"
    "    0 no active outbreak, 1 at least one active outbreak, 2 errors.\n"
    "\n"
    "EXAMPLES\n"
    "    zerohour outbreaks\n"
    "    zerohour outbreaks --json\n";

static const char help_retrohunt[] =
    "NAME\n"
    "    zerohour retrohunt - find stored mail that a rule written now matches\n"
    "\n"
    "SYNOPSIS\n"
    "    zerohour retrohunt [--since DURATION] [--deadline DURATION] [--json]\n"
    "                       [--progress | --no-progress] RULES...\n"
    "    zerohour retrohunt [--since DURATION] [--json] --sha256 HASH\n"
    "    zerohour retrohunt [--since DURATION] [--json] --outbreak FINGERPRINT\n"
    "\n"
    "DESCRIPTION\n"
    "    When a signature arrives hours after a worm's first copy, the question is\n"
    "    who already received it. An engine started with store.enabled=1 keeps a\n"
    "    bounded record of the mail it scanned (envelope, Message-ID, Subject, the\n"
    "    MTA's queue id, verdict, hits, and each object's name, type, size and\n"
    "    SHA-256) and the bytes of attachments and what was unpacked from them,\n"
    "    once per SHA-256. retrohunt asks that engine to search it.\n"
    "\n"
    "    With RULES (YARA files, or directories whose *.yar and *.yara files are\n"
    "    read recursively), the rules are sent to the engine, compiled there, and\n"
    "    run over every kept object of the messages in the window, each distinct\n"
    "    object once however many messages carried it. Rules see the decoded\n"
    "    bytes, and the externals (filename, extension, sniffed_type...) of the\n"
    "    first stored copy; message externals (subject, mail_from...) are empty.\n"
    "    `include` is refused: put what a rule needs in the files given.\n"
    "    With --sha256, the messages holding an object of that hash are listed\n"
    "    (any object, kept or not). With --outbreak, those whose payload had that\n"
    "    outbreak fingerprint (see zerohour outbreaks), including every copy that\n"
    "    arrived before the outbreak was declared.\n"
    "\n"
    "    The hunt runs inside the engine, on a thread of its own that uses at most\n"
    "    store.hunt_cpu_percent of one core, so scanning goes on. This command\n"
    "    polls it and shows progress on standard error (when that is a terminal,\n"
    "    or with --progress). Ctrl-C (SIGINT) or SIGTERM cancels the hunt; the\n"
    "    messages found so far are still printed. One hunt runs at a time per\n"
    "    engine, and it searches the store of the engine at --address: give one.\n"
    "\n"
    "OUTPUT\n"
    "    One line per message, oldest first:\n"
    "      TIME VERDICT-THEN queue=QUEUE-ID from=<SENDER> to=<RCPT>,... id=MESSAGE-ID\n"
    "          rules=RULE,... objects=PATH,...\n"
    "    (on one line), then a summary on standard error. With --json, one object\n"
    "    per message: message_id, received_at (unix ms), rcpt_to (array),\n"
    "    mail_from, queue_id, verdict (the label it got then), score, rules (the\n"
    "    rules matching now; \"sha256:HASH\" or \"outbreak:FP\" for those hunts),\n"
    "    objects, subject, client_ip, helo, hits (as scanned then) and\n"
    "    fingerprint.\n"
    "\n"
    "OPTIONS\n"
    "        --since DURATION     only mail received in the last DURATION of the\n"
    "                             store's clock, e.g. 90m, 10h (default: all that\n"
    "                             is stored; the store keeps store.retention)\n"
    "        --deadline DURATION  stop the hunt after DURATION and print what it\n"
    "                             found (exit status 2: not everything was seen)\n"
    "        --sha256 HASH        messages holding an object with this SHA-256\n"
    "        --outbreak FP        messages whose payload had this fingerprint\n"
    "        --progress           show progress even when stderr is not a terminal\n"
    "        --no-progress        never show progress\n"
    "        --json               one JSON object per message\n"
    "    Global options apply too; see zerohour --help.\n"
    "\n"
    "EXIT STATUS\n"
    "    0  the hunt finished and no stored message matched\n"
    "    1  the hunt finished and at least one message matched\n"
    "    2  an error: no store, rules that do not compile, engine unreachable;\n"
    "       or the hunt was cancelled or ran out of its deadline (what it found\n"
    "       is printed)\n"
    "\n"
    "EXAMPLES\n"
    "    zerohour retrohunt --since 10h /etc/zerohour/hunt/mydoom.yar\n"
    "    zerohour retrohunt --json --since 48h new-rules/ | jq -r '.rcpt_to[]' | sort -u\n"
    "    zerohour retrohunt --sha256 \\\n"
    "        4c5b1e9e2f0a6b7d8c9e0f1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e\n"
    "    zerohour outbreaks && zerohour retrohunt --outbreak d5d7f3d6ed1b8da2\n";

static const char help_store[] =
    "NAME\n"
    "    zerohour store - manage the engine's store of recent scans\n"
    "\n"
    "SYNOPSIS\n"
    "    zerohour store forget --message-id ID\n"
    "    zerohour store forget --older-than DURATION\n"
    "\n"
    "DESCRIPTION\n"
    "    For privacy requests. forget removes from the engine's store (see\n"
    "    zerohour retrohunt --help and the README's \"Store and retro-hunt\") every\n"
    "    message with the Message-ID ID (with or without <angle brackets>), or\n"
    "    every message received more than DURATION (e.g. 12h, 30m) before the\n"
    "    store's clock: its envelope, headers' facts, verdict, hits and object\n"
    "    records, and the kept bytes of objects no remaining message shares.\n"
    "    Messages still queued for writing are forgotten too. The index pages\n"
    "    that held them are overwritten and its write-ahead log emptied. Prints\n"
    "    how many messages were forgotten.\n"
    "\n"
    "OPTIONS\n"
    "        --message-id ID      the Message-ID to forget\n"
    "        --older-than DURATION  forget everything older than this\n"
    "        --json               {\"forgotten\": N}\n"
    "\n"
    "EXIT STATUS\n"
    "    0 done (also when nothing matched), 2 errors (no store, bad usage).\n"
    "\n"
    "EXAMPLES\n"
    "    zerohour store forget --message-id '<20040126.1234@example.com>'\n"
    "    zerohour store forget --older-than 24h\n";

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

/* A progress line is on stderr (a terminal): erase it before other output.
 * Under out_mu. */
static bool progress_shown;
static void progress_erase(void)
{
    if (progress_shown) {
        fputs("\r\033[K", stderr);
        progress_shown = false;
    }
}

/* Write one whole line to stdout; lines from concurrent scans never mix. */
static void emit_line(const char *line)
{
    pthread_mutex_lock(&out_mu);
    progress_erase();
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
    progress_erase();
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
            warn("%s", zh_client_last_error());
            return EXIT_ERROR;
        }
        one[0] = def;
        addrs = one;
        n = 1;
    }
    for (size_t i = 0; i < o->n_addresses; i++) {
        char why[512];
        if (zh_ipc_check(addrs[i], 0, why, sizeof why) != 0)
            warn("warning: %s", why);
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
    struct item *queue;
    size_t q_cap, q_head, q_len;
    bool q_done;
    pthread_cond_t q_not_empty, q_not_full;
    /* For the summary and the progress line (under mu). */
    unsigned long scanned, flagged, errors, excluded, store_files;
    unsigned long by_verdict[6];
    uint64_t t0_ms;
    bool progress_stop;
};

/* One unit of work: a file, or one message of an mbox file (len bytes at
 * offset; name is "PATH:N", or PATH when the mbox holds one message). */
struct item {
    char *path, *name;
    bool mbox;
    off_t offset;
    size_t len;
};

static uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

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

static void report_json(const struct item *it, const char *mid, const struct zh_scan_result *r)
{
    json_object *o = json_object_new_object();
    json_object *hits = json_object_new_array();
    json_object_object_add(o, "path", json_object_new_string(it->name));
    if (it->mbox) {
        json_object_object_add(o, "mbox", json_object_new_string(it->path));
        json_object_object_add(o, "offset", json_object_new_int64((int64_t)it->offset));
    }
    if (mid)
        json_object_object_add(o, "message_id", json_object_new_string(mid));
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

static void report_human(const char *path, const char *mid, const struct zh_scan_result *r)
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
    if (mid)
        fprintf(m, " %s", mid);
    fclose(m);
    emit_line(line);
    free(line);
}

/* Read one message of an mbox: its bytes, >From unquoted. NULL with errno. */
static uint8_t *read_mbox_message(const struct item *it, size_t *len)
{
    /* The engine refuses what is larger than its limit anyway; do not read
     * a runaway "message" (an mbox without separators) into memory. */
    if (it->len > (size_t)1 << 30) {
        errno = EFBIG;
        return NULL;
    }
    int fd = open(it->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    uint8_t *buf = malloc(it->len ? it->len : 1);
    size_t got = 0;
    while (buf && got < it->len) {
        ssize_t n = pread(fd, buf + got, it->len - got, it->offset + (off_t)got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            free(buf);
            buf = NULL;
            if (n == 0)
                errno = EIO; /* the file shrank under us */
            break;
        }
        got += (size_t)n;
    }
    int err = errno;
    close(fd);
    errno = err;
    if (buf)
        *len = mbx_unquote(buf, it->len);
    return buf;
}

/* Scan one item (a file, "-" for stdin, or an mbox message), print its line
 * and fold its status and counts in. */
static void scan_item(struct scan_job *j, const struct item *it, const struct zh_envelope *env)
{
    struct zh_scan_result *r = NULL;
    char id[64], mid[256];
    bool have_mid = false;

    pthread_mutex_lock(&j->mu);
    unsigned long seq = ++j->seq;
    bool give_up = j->unreachable;
    j->skipped += give_up;
    pthread_mutex_unlock(&j->mu);
    if (give_up)
        return;
    /* Unique enough to find this request in the engine's log. */
    snprintf(id, sizeof id, "zerohour-%ld-%lu", (long)getpid(), seq);

    int rc;
    if (it->mbox) {
        size_t len = 0;
        uint8_t *msg = read_mbox_message(it, &len);
        if (!msg) {
            rc = ZH_E_IO;
            char err[512];
            snprintf(err, sizeof err, "%s: %s", zh_client_strerror(rc), strerror(errno));
            report_error(j, it->name, err);
            raise_status(j, EXIT_ERROR);
            pthread_mutex_lock(&j->mu);
            j->errors++;
            pthread_mutex_unlock(&j->mu);
            return;
        }
        have_mid = mbx_message_id(msg, len, mid, sizeof mid);
        rc = zh_client_scan(j->client, msg, len, env, id, 0, &r);
        free(msg);
    } else {
        rc = zh_client_scan_file(j->client, it->path, env, id, 0, &r);
    }
    if (rc == ZH_E_UNREACHABLE) {
        pthread_mutex_lock(&j->mu);
        j->unreachable = true;
        pthread_mutex_unlock(&j->mu);
    }
    pthread_mutex_lock(&j->mu);
    j->scanned += rc == ZH_OK;
    j->errors += rc != ZH_OK || r->verdict == ZH_VERDICT_TEMPFAIL;
    if (rc == ZH_OK) {
        j->flagged += r->verdict != ZH_VERDICT_CLEAN && r->verdict != ZH_VERDICT_TEMPFAIL;
        if (r->verdict >= 0 && r->verdict < 6)
            j->by_verdict[r->verdict]++;
    }
    pthread_mutex_unlock(&j->mu);
    if (rc != ZH_OK) {
        char err[1200];
        error_text(err, sizeof err, rc, it->path);
        report_error(j, it->name, err);
        raise_status(j, EXIT_ERROR);
        return;
    }
    if (!(j->o->infected_only && r->verdict == ZH_VERDICT_CLEAN)) {
        if (j->o->json)
            report_json(it, have_mid ? mid : NULL, r);
        else
            report_human(it->name, have_mid ? mid : NULL, r);
    }
    raise_status(j, verdict_status(r->verdict));
    zh_scan_result_free(r);
}

static void scan_one(struct scan_job *j, const char *path, const struct zh_envelope *env)
{
    struct item it = {.path = (char *)path, .name = (char *)path};
    scan_item(j, &it, env);
}

/* ---- scan: many files ------------------------------------------------- */

static void item_free(struct item *it)
{
    if (it->name != it->path)
        free(it->name);
    free(it->path);
}

/* Hand it to the workers (who free its strings). */
static void queue_push_item(struct scan_job *j, struct item it)
{
    pthread_mutex_lock(&j->mu);
    if (j->unreachable) {
        j->skipped++;
        pthread_mutex_unlock(&j->mu);
        item_free(&it);
        return;
    }
    while (j->q_len == j->q_cap)
        pthread_cond_wait(&j->q_not_full, &j->mu);
    j->queue[(j->q_head + j->q_len++) % j->q_cap] = it;
    pthread_cond_signal(&j->q_not_empty);
    pthread_mutex_unlock(&j->mu);
}

static void queue_push(struct scan_job *j, char *path)
{
    queue_push_item(j, (struct item){.path = path, .name = path});
}

/* Next item for a worker; false when the walk is over and the queue empty. */
static bool queue_pop(struct scan_job *j, struct item *p)
{
    bool got = false;
    pthread_mutex_lock(&j->mu);
    while (j->q_len == 0 && !j->q_done)
        pthread_cond_wait(&j->q_not_empty, &j->mu);
    if (j->q_len) {
        got = true;
        *p = j->queue[j->q_head];
        j->q_head = (j->q_head + 1) % j->q_cap;
        j->q_len--;
        pthread_cond_signal(&j->q_not_full);
    }
    pthread_mutex_unlock(&j->mu);
    return got;
}

static void *worker(void *arg)
{
    struct scan_job *j = arg;
    struct item it;
    while (queue_pop(j, &it)) {
        scan_item(j, &it, &j->env);
        item_free(&it);
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

static bool excluded(const struct scan_job *j, const char *path)
{
    const char *base = strrchr(path, '/');
    base = base && base[1] ? base + 1 : path;
    for (size_t i = 0; i < j->o->n_excludes; i++)
        if (fnmatch(j->o->excludes[i], path, 0) == 0 || fnmatch(j->o->excludes[i], base, 0) == 0)
            return true;
    return false;
}

/* An open regular file that starts with an mbox From_ line. */
static bool starts_as_mbox(FILE *f)
{
    char first[1024];
    size_t n = fread(first, 1, sizeof first, f);
    const char *nl = memchr(first, '\n', n);
    rewind(f);
    return mbx_from_line(first, nl ? (size_t)(nl - first) + 1 : n);
}

static bool is_mbox(const char *path)
{
    FILE *f = fopen(path, "rb");
    bool yes = f && starts_as_mbox(f);
    if (f)
        fclose(f);
    return yes;
}

/* Queue each message of the mbox f (path) on its own. Names are "PATH:N";
 * an mbox of one message keeps the plain PATH. */
static void queue_mbox(struct scan_job *j, const char *path, FILE *f)
{
    struct mbx_reader r;
    struct item held = {0};
    bool have = false;
    off_t start;
    size_t len;
    int rc;
    mbx_reader_init(&r, f);
    while ((rc = mbx_reader_next(&r, &start, &len)) == 1) {
        if (have) {
            size_t n = strlen(path) + 24;
            held.name = xmalloc(n);
            snprintf(held.name, n, "%s:%lu", path, r.n - 1);
            queue_push_item(j, held);
        }
        held = (struct item){.path = xstrdup(path), .mbox = true, .offset = start, .len = len};
        have = true;
    }
    if (rc < 0)
        walk_error(j, path, errno);
    if (have) {
        size_t n = strlen(path) + 24;
        held.name = r.n > 1 ? xmalloc(n) : held.path;
        if (r.n > 1)
            snprintf(held.name, n, "%s:%lu", path, r.n);
        queue_push_item(j, held);
    }
    mbx_reader_free(&r);
}

/* A regular file: its messages when it is an mbox, else itself. Takes path. */
static void queue_file(struct scan_job *j, char *path)
{
    FILE *f = fopen(path, "rb");
    if (f && starts_as_mbox(f)) {
        queue_mbox(j, path, f);
        fclose(f);
        free(path);
        return;
    }
    if (f)
        fclose(f);
    queue_push(j, path); /* an unreadable file's error is reported by the scan */
}

static void count_skip(struct scan_job *j, unsigned long *what)
{
    pthread_mutex_lock(&j->mu);
    (*what)++;
    pthread_mutex_unlock(&j->mu);
}

/* Queue every regular file below dir (sorted by name within a directory, so
 * --jobs 1 gives a stable order). Inside a Maildir (cur/ new/ tmp/) the
 * mail server's own files are skipped and so is tmp/, where deliveries are
 * still being written. */
static void walk(struct scan_job *j, const char *dir, const struct stat *st,
                 const struct dir_chain *up, bool in_maildir)
{
    const struct dir_chain here = {.dev = st->st_dev, .ino = st->st_ino, .up = up};
    bool maildir_root = mbx_is_maildir(dir);
    bool maildir = in_maildir || maildir_root;
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
        bool store = maildir && mbx_store_file(name);
        bool tmp = maildir_root && strcmp(name, "tmp") == 0;
        free(names[i]);
        if (excluded(j, child)) {
            count_skip(j, &j->excluded);
            free(child);
            continue;
        }
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
        if (S_ISDIR(cst.st_mode) && tmp) {
            free(child);
        } else if (S_ISDIR(cst.st_mode)) {
            bool loop = false;
            for (const struct dir_chain *c = &here; c && !loop; c = c->up)
                loop = c->dev == cst.st_dev && c->ino == cst.st_ino;
            if (loop)
                warn("%s: skipped, a symbolic link loop", child);
            else
                walk(j, child, &cst, &here, maildir);
            free(child);
        } else if (S_ISREG(cst.st_mode) && store) {
            count_skip(j, &j->store_files);
            free(child);
        } else if (S_ISREG(cst.st_mode)) {
            queue_file(j, child);
        } else {
            free(child); /* fifos, sockets, devices: not mail */
        }
    }
    free(names);
}

/* The progress line: on a terminal, once a scan has run a second. */
static void *progress(void *arg)
{
    struct scan_job *j = arg;
    for (;;) {
        struct timespec ts = {0, 100 * 1000 * 1000};
        nanosleep(&ts, NULL);
        pthread_mutex_lock(&j->mu);
        bool done = j->progress_stop;
        unsigned long sc = j->scanned, fl = j->flagged, er = j->errors;
        pthread_mutex_unlock(&j->mu);
        if (done)
            return NULL;
        uint64_t ms = mono_ms() - j->t0_ms;
        if (ms < 1000)
            continue;
        pthread_mutex_lock(&out_mu);
        fprintf(stderr, "\r\033[Kscanned %lu, flagged %lu, errors %lu, %.1f messages/s", sc, fl, er,
                (double)sc * 1000.0 / (double)ms);
        progress_shown = true;
        pthread_mutex_unlock(&out_mu);
    }
}

/* clamscan's closing summary, on stderr so that standard output stays one
 * line per message. */
static void summary(const struct scan_job *j)
{
    double s = (double)(mono_ms() - j->t0_ms) / 1000.0;
    pthread_mutex_lock(&out_mu);
    progress_erase();
    fflush(stdout);
    fprintf(stderr,
            "----------- SCAN SUMMARY -----------\n"
            "Scanned messages: %lu\n"
            "Flagged: %lu (MALICIOUS %lu, SUSPICIOUS %lu, DEFER %lu)\n"
            "Errors: %lu\n",
            j->scanned, j->flagged, j->by_verdict[ZH_VERDICT_MALICIOUS],
            j->by_verdict[ZH_VERDICT_SUSPICIOUS], j->by_verdict[ZH_VERDICT_DEFER], j->errors);
    if (j->excluded || j->store_files)
        fprintf(stderr, "Skipped: %lu excluded, %lu mail store files\n", j->excluded,
                j->store_files);
    fprintf(stderr, "Time: %.3f s (%.1f messages/s)\n", s, s > 0 ? (double)j->scanned / s : 0.0);
    pthread_mutex_unlock(&out_mu);
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
    j->t0_ms = mono_ms();
    /* A single message needs no threads and no summary. */
    if (n == 1 && (strcmp(paths[0], "-") == 0 || stat(paths[0], &st) != 0 ||
                   (!S_ISDIR(st.st_mode) && !is_mbox(paths[0])))) {
        if (!excluded(j, paths[0]))
            scan_one(j, paths[0], &j->env);
        return j->status;
    }

    unsigned jobs = j->o->jobs;
    pthread_t *th = xmalloc(jobs * sizeof *th), prog;
    unsigned started = 0;
    bool show = isatty(STDERR_FILENO) && !j->o->no_summary;
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
    show = show && pthread_create(&prog, NULL, progress, j) == 0;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(paths[i], "-") != 0 && excluded(j, paths[i]))
            count_skip(j, &j->excluded);
        else if (strcmp(paths[i], "-") != 0 && stat(paths[i], &st) == 0 && S_ISDIR(st.st_mode))
            walk(j, paths[i], &st, NULL, false);
        else if (strcmp(paths[i], "-") != 0 && stat(paths[i], &st) == 0 && S_ISREG(st.st_mode))
            queue_file(j, xstrdup(paths[i]));
        else
            queue_push(j, xstrdup(paths[i])); /* errors are reported by the scan */
    }
    pthread_mutex_lock(&j->mu);
    j->q_done = true;
    pthread_cond_broadcast(&j->q_not_empty);
    pthread_mutex_unlock(&j->mu);
    for (unsigned i = 0; i < started; i++)
        pthread_join(th[i], NULL);
    if (show) {
        pthread_mutex_lock(&j->mu);
        j->progress_stop = true;
        pthread_mutex_unlock(&j->mu);
        pthread_join(prog, NULL);
    }
    if (!j->o->no_summary)
        summary(j);
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
    static const char *const str_keys[] = {"client_ip", "helo", "mail_from", "queue_id"};
    const char **str_dst[] = {&le->env.client_ip, &le->env.helo, &le->env.mail_from,
                              &le->env.queue_id};
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
                                 .received_at = o->received_at,
                                 /* Replays are traffic; files are a hunt. */
                                 .no_observe = o->observe < 0 ? !o->envelopes : !o->observe,
                                 .queue_id = o->queue_id};
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
            json_object_object_add(j, "delivered_before",
                                   b->delivered_known ? json_object_new_uint64(b->delivered_before)
                                                      : NULL);
            json_object_array_add(arr, j);
        } else {
            printf("%-16s %-6s %-20s %7u %7llu %7u %5u %5u  %s%s%s\n", b->fingerprint,
                   b->active ? "ACTIVE" : "rising", first, b->copies, (unsigned long long)b->total,
                   b->senders, b->client_ips, b->rcpt_domains, b->summary, *b->hits ? " / " : "",
                   b->hits);
            if (b->active && b->delivered_known)
                printf("%-16s %llu cop%s delivered before detection (zerohour retrohunt "
                       "--outbreak %s lists them)\n",
                       "", (unsigned long long)b->delivered_before,
                       b->delivered_before == 1 ? "y" : "ies", b->fingerprint);
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

/* ---- retrohunt --------------------------------------------------------------- */
static volatile sig_atomic_t hunt_interrupted;

static void on_hunt_signal(int sig)
{
    (void)sig;
    hunt_interrupted = 1;
}

struct rule_files {
    struct zh_retrohunt_rule *v;
    size_t n, cap;
};

static bool is_yara_name(const char *name)
{
    size_t l = strlen(name);
    return (l > 4 && !strcmp(name + l - 4, ".yar")) || (l > 5 && !strcmp(name + l - 5, ".yara"));
}

static int cmp_cstr(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

#define RULE_FILE_MAX (16 * 1024 * 1024)

/* Read one rule file whole into rf. */
static bool add_rule_file(struct rule_files *rf, const char *path)
{
    FILE *f = fopen(path, "rb");
    struct stat sb;
    if (!f || fstat(fileno(f), &sb) != 0 || sb.st_size > RULE_FILE_MAX) {
        warn("retrohunt: %s: %s", path, !f ? strerror(errno) : "too large for a rule file");
        if (f)
            fclose(f);
        return false;
    }
    char *buf = xmalloc((size_t)sb.st_size + 1);
    size_t got = fread(buf, 1, (size_t)sb.st_size, f);
    buf[got] = 0;
    fclose(f);
    if (rf->n == rf->cap) {
        rf->cap = rf->cap ? 2 * rf->cap : 16;
        struct zh_retrohunt_rule *nv = realloc(rf->v, rf->cap * sizeof *nv);
        if (!nv) {
            free(buf);
            return false;
        }
        rf->v = nv;
    }
    rf->v[rf->n++] = (struct zh_retrohunt_rule){xstrdup(path), buf};
    return true;
}

/* A file, or every *.yar / *.yara below a directory (sorted, so a set is
 * always sent in one order). */
static bool collect_rules(struct rule_files *rf, const char *path, int depth)
{
    struct stat sb;
    if (stat(path, &sb) != 0) {
        warn("retrohunt: %s: %s", path, strerror(errno));
        return false;
    }
    if (!S_ISDIR(sb.st_mode))
        return add_rule_file(rf, path);
    if (depth > 16)
        return true;
    DIR *d = opendir(path);
    if (!d) {
        warn("retrohunt: %s: %s", path, strerror(errno));
        return false;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 32;
            char **nn = realloc(names, cap * sizeof *nn);
            if (!nn)
                break;
            names = nn;
        }
        names[n++] = xstrdup(de->d_name);
    }
    closedir(d);
    if (n)
        qsort(names, n, sizeof *names, cmp_cstr);
    bool ok = true;
    for (size_t i = 0; i < n; i++) {
        char *full = path_join(path, names[i]);
        struct stat cs;
        if (stat(full, &cs) == 0 && (S_ISDIR(cs.st_mode) || is_yara_name(names[i])))
            ok &= collect_rules(rf, full, depth + 1);
        free(full);
        free(names[i]);
    }
    free(names);
    return ok;
}

static void print_hunt_message(const struct zh_retrohunt_message *m, bool json)
{
    if (json) {
        json_object *j = json_object_new_object();
        json_object *rc = json_object_new_array(), *ru = json_object_new_array(),
                    *ob = json_object_new_array();
        for (size_t i = 0; i < m->n_rcpt; i++)
            json_object_array_add(rc, json_object_new_string(m->rcpt_to[i]));
        for (size_t i = 0; i < m->n_rules; i++)
            json_object_array_add(ru, json_object_new_string(m->rules[i]));
        for (size_t i = 0; i < m->n_objects; i++)
            json_object_array_add(ob, json_object_new_string(m->objects[i]));
        json_object_object_add(j, "message_id", json_object_new_string(m->message_id));
        json_object_object_add(j, "received_at", json_object_new_int64(m->received_at));
        json_object_object_add(j, "rcpt_to", rc);
        json_object_object_add(j, "mail_from", json_object_new_string(m->mail_from));
        json_object_object_add(j, "queue_id", json_object_new_string(m->queue_id));
        json_object_object_add(j, "verdict", json_object_new_string(zh_verdict_label(m->verdict)));
        json_object_object_add(j, "score", json_object_new_int(m->score));
        json_object_object_add(j, "rules", ru);
        json_object_object_add(j, "objects", ob);
        json_object_object_add(j, "subject", json_object_new_string(m->subject));
        json_object_object_add(j, "client_ip", json_object_new_string(m->client_ip));
        json_object_object_add(j, "helo", json_object_new_string(m->helo));
        json_object_object_add(j, "hits", json_object_new_string(m->hits));
        json_object_object_add(j, "fingerprint", json_object_new_string(m->fingerprint));
        emit_json(j);
        json_object_put(j);
        return;
    }
    char when[32];
    fmt_time(when, sizeof when, m->received_at);
    printf("%s %-10s queue=%s from=<%s> to=", when, zh_verdict_label(m->verdict),
           *m->queue_id ? m->queue_id : "-", m->mail_from);
    for (size_t i = 0; i < m->n_rcpt; i++)
        printf("%s<%s>", i ? "," : "", m->rcpt_to[i]);
    printf(" id=%s rules=", *m->message_id ? m->message_id : "-");
    for (size_t i = 0; i < m->n_rules; i++)
        printf("%s%s", i ? "," : "", m->rules[i]);
    printf(" objects=");
    for (size_t i = 0; i < m->n_objects; i++)
        printf("%s%s", i ? "," : "", m->objects[i]);
    putchar('\n');
}

static const char *const hunt_state_names[] = {"?",         "running", "done",
                                               "cancelled", "expired", "failed"};

static int cmd_retrohunt(const struct cli *o, char **args, size_t n)
{
    struct rule_files rf = {0};
    zh_client *c = NULL;
    struct zh_retrohunt_result *r = NULL;
    int st = EXIT_ERROR;
    int kinds = (n > 0) + (o->sha256 != NULL) + (o->outbreak != NULL);
    if (kinds != 1) {
        warn("retrohunt: give RULES, or --sha256 HASH, or --outbreak FINGERPRINT (one of "
             "them); see zerohour retrohunt --help");
        return EXIT_ERROR;
    }
    if (o->n_addresses > 1) {
        warn("retrohunt: a hunt searches one engine's store; give one --address");
        return EXIT_ERROR;
    }
    for (size_t i = 0; i < n; i++)
        if (!collect_rules(&rf, args[i], 0))
            goto out;
    if (n && !rf.n) {
        warn("retrohunt: no *.yar or *.yara file in %s", args[0]);
        goto out;
    }
    if ((st = open_client(o, &c)) != EXIT_CLEAN) {
        st = EXIT_ERROR;
        goto out;
    }
    st = EXIT_ERROR;
    struct sigaction sa = {.sa_handler = on_hunt_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    bool show = !o->no_progress && (o->progress || isatty(STDERR_FILENO));
    struct zh_retrohunt_request req = {.rules = rf.v,
                                       .n_rules = rf.n,
                                       .sha256 = o->sha256,
                                       .outbreak = o->outbreak,
                                       .window_ms = o->since_ms,
                                       .deadline_ms = (unsigned)o->deadline_ms};
    bool cancelled = false;
    unsigned wait_ms = 50;
    for (;;) {
        int rc = zh_client_retrohunt(c, &req, &r);
        if (rc != ZH_OK) {
            char err[1200];
            error_text(err, sizeof err, rc, NULL);
            warn("retrohunt: %s", err);
            goto out;
        }
        req.hunt_id = r->hunt_id;
        req.rules = NULL, req.n_rules = 0, req.sha256 = req.outbreak = NULL;
        if (show && (!r->done || r->objects_total)) {
            double pct = r->objects_total
                             ? 100.0 * (double)r->objects_done / (double)r->objects_total
                             : 100.0;
            fprintf(stderr,
                    "\rretrohunt %" PRIu64 ": %" PRIu64 "/%" PRIu64
                    " objects (%.0f%%), %.1f MiB, %.1f s%s",
                    r->hunt_id, r->objects_done, r->objects_total, pct,
                    (double)r->bytes_done / 1048576.0, (double)r->elapsed_us / 1e6,
                    r->done ? "\n" : "  ");
        }
        if (r->done)
            break;
        if (hunt_interrupted && !cancelled) {
            req.cancel = 1;
            cancelled = true;
            if (show)
                fputc('\n', stderr);
            warn("retrohunt: cancelling hunt %" PRIu64 "; what it found so far follows",
                 r->hunt_id);
        }
        zh_retrohunt_result_free(r);
        r = NULL;
        struct timespec ts = {0, (long)wait_ms * 1000000L};
        nanosleep(&ts, NULL);
        wait_ms = wait_ms < 500 ? wait_ms * 2 : 500;
    }
    size_t rcpts = 0, listed = 0;
    req.cancel = 0;
    for (;;) { /* the list comes in pages */
        for (size_t i = 0; i < r->n_messages; i++) {
            print_hunt_message(&r->messages[i], o->json);
            rcpts += r->messages[i].n_rcpt;
        }
        listed += r->n_messages;
        if (!r->n_messages || listed >= r->messages_total)
            break;
        struct zh_retrohunt_result *next = NULL;
        req.offset = (unsigned)listed;
        int rc = zh_client_retrohunt(c, &req, &next);
        if (rc != ZH_OK) {
            char err[1200];
            error_text(err, sizeof err, rc, NULL);
            warn("retrohunt: fetching messages from %zu: %s", listed, err);
            goto out;
        }
        next->state = r->state; /* the page says the same; keep the first answer's */
        zh_retrohunt_result_free(r);
        r = next;
    }
    if (r->truncated)
        warn("retrohunt: more messages matched than the engine lists (store.hunt_max_messages); "
             "narrow the hunt with --since");
    if (r->state == ZH_RETROHUNT_FAILED) {
        warn("retrohunt: hunt %" PRIu64 " failed: %s", r->hunt_id, r->error);
        goto out;
    }
    char since[32] = "the start of the store";
    if (r->since)
        fmt_time(since, sizeof since, r->since);
    fprintf(stderr,
            "retrohunt %" PRIu64 " %s: %zu message(s) to %zu recipient(s) since %s; %" PRIu64
            " of %" PRIu64 " kept object(s) scanned%s in %.1f s\n",
            r->hunt_id, hunt_state_names[r->state >= 1 && r->state <= 5 ? r->state : 0], listed,
            rcpts, since, r->objects_done, r->objects_total,
            r->objects_unreadable ? " (some unreadable)" : "", (double)r->elapsed_us / 1e6);
    st = r->state != ZH_RETROHUNT_DONE || r->truncated ? EXIT_ERROR
         : listed                                      ? EXIT_FOUND
                                                       : EXIT_CLEAN;
out:
    zh_retrohunt_result_free(r);
    zh_client_close(c);
    for (size_t i = 0; i < rf.n; i++) {
        free((char *)rf.v[i].name);
        free((char *)rf.v[i].source);
    }
    free(rf.v);
    return st;
}

static int cmd_store(const struct cli *o, char **args, size_t n)
{
    if (n != 1 || strcmp(args[0], "forget")) {
        warn("store: the only subcommand is forget; see zerohour store --help");
        return EXIT_ERROR;
    }
    if (!o->forget_message_id == !o->older_than_ms) {
        warn("store forget: give --message-id ID or --older-than DURATION (one of them)");
        return EXIT_ERROR;
    }
    zh_client *c = NULL;
    if (open_client(o, &c) != EXIT_CLEAN)
        return EXIT_ERROR;
    uint64_t n_gone = 0;
    int rc = zh_client_store_forget(c, o->forget_message_id, o->older_than_ms, &n_gone);
    zh_client_close(c);
    if (rc != ZH_OK) {
        char err[1200];
        error_text(err, sizeof err, rc, NULL);
        warn("store forget: %s", err);
        return EXIT_ERROR;
    }
    if (o->json) {
        json_object *j = json_object_new_object();
        json_object_object_add(j, "forgotten", json_object_new_uint64(n_gone));
        emit_json(j);
        json_object_put(j);
    } else {
        printf("forgot %" PRIu64 " message(s)\n", n_gone);
    }
    return EXIT_CLEAN;
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
    {"retrohunt", CMD_RETROHUNT, cmd_retrohunt, help_retrohunt, SIZE_MAX},
    {"store", CMD_STORE, cmd_store, help_store, 1},
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
    OPT_OBSERVE,
    OPT_NO_OBSERVE,
    OPT_EXCLUDE,
    OPT_NO_SUMMARY,
    OPT_QUEUE_ID,
    OPT_SINCE,
    OPT_DEADLINE,
    OPT_SHA256,
    OPT_OUTBREAK,
    OPT_PROGRESS,
    OPT_NO_PROGRESS,
    OPT_MESSAGE_ID,
    OPT_OLDER_THAN,
    OPT_FORMAT,
    OPT_TLS_CA,
    OPT_TLS_CERT,
    OPT_INFECTED_ONLY = 'i',
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
    {"observe", no_argument, NULL, OPT_OBSERVE},
    {"no-observe", no_argument, NULL, OPT_NO_OBSERVE},
    {"exclude", required_argument, NULL, OPT_EXCLUDE},
    {"infected-only", no_argument, NULL, OPT_INFECTED_ONLY},
    {"no-summary", no_argument, NULL, OPT_NO_SUMMARY},
    {"queue-id", required_argument, NULL, OPT_QUEUE_ID},
    {"since", required_argument, NULL, OPT_SINCE},
    {"deadline", required_argument, NULL, OPT_DEADLINE},
    {"sha256", required_argument, NULL, OPT_SHA256},
    {"outbreak", required_argument, NULL, OPT_OUTBREAK},
    {"progress", no_argument, NULL, OPT_PROGRESS},
    {"no-progress", no_argument, NULL, OPT_NO_PROGRESS},
    {"message-id", required_argument, NULL, OPT_MESSAGE_ID},
    {"older-than", required_argument, NULL, OPT_OLDER_THAN},
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
    case OPT_OBSERVE:
    case OPT_NO_OBSERVE:
    case OPT_EXCLUDE:
    case OPT_INFECTED_ONLY:
    case OPT_NO_SUMMARY:
    case OPT_QUEUE_ID:
        return CMD_SCAN;
    case OPT_SINCE:
    case OPT_DEADLINE:
    case OPT_SHA256:
    case OPT_OUTBREAK:
    case OPT_PROGRESS:
    case OPT_NO_PROGRESS:
        return CMD_RETROHUNT;
    case OPT_MESSAGE_ID:
    case OPT_OLDER_THAN:
        return CMD_STORE;
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
    while ((opt = getopt_long(argc, argv, stop_at_command ? "+:a:ht:j:Vi" : ":a:ht:j:Vi", longopts,
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
        case OPT_OBSERVE:
        case OPT_NO_OBSERVE:
            o->observe = opt == OPT_OBSERVE;
            break;
        case OPT_EXCLUDE: {
            const char **ne = realloc(o->excludes, (o->n_excludes + 1) * sizeof *ne);
            if (!ne)
                return -1;
            o->excludes = ne;
            o->excludes[o->n_excludes++] = optarg;
            break;
        }
        case OPT_INFECTED_ONLY:
            o->infected_only = true;
            break;
        case OPT_NO_SUMMARY:
            o->no_summary = true;
            break;
        case OPT_QUEUE_ID:
            o->queue_id = optarg;
            break;
        case OPT_MESSAGE_ID:
            o->forget_message_id = optarg;
            break;
        case OPT_SINCE:
        case OPT_OLDER_THAN:
        case OPT_DEADLINE: {
            int64_t ms;
            if (zh_value_ms(optarg, &ms) != 0 || ms <= 0 ||
                (opt == OPT_DEADLINE && ms > 24LL * 3600 * 1000)) {
                usage_error(cmd, "--%s wants a duration such as 90m or 10h%s, not '%s'",
                            option_name(opt), opt == OPT_DEADLINE ? " (at most 24h)" : "", optarg);
                return -1;
            }
            *(opt == OPT_SINCE        ? &o->since_ms
              : opt == OPT_OLDER_THAN ? &o->older_than_ms
                                      : &o->deadline_ms) = ms;
            break;
        }
        case OPT_SHA256:
            o->sha256 = optarg;
            break;
        case OPT_OUTBREAK:
            o->outbreak = optarg;
            break;
        case OPT_PROGRESS:
            o->progress = true;
            break;
        case OPT_NO_PROGRESS:
            o->no_progress = true;
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
    struct cli o = {.timeout_ms = 30000, .connect_timeout_ms = 1000, .observe = -1};
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
            usage_error(NULL, "no command given (scan, ping, stats, reload, rules, outbreaks, "
                              "retrohunt, store, version, help)");
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
    free(o.excludes);
    return st;
}
