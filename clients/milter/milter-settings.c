/* zerohour-milter's settings table. Parsing, the [milter] INI section, the
 * flags and the generated help live in clients/common/settings.c, shared
 * with the other thin clients. */
#include "milter-settings.h"

#include <stddef.h>

#define OFF(f) offsetof(struct zhm_config, f)
#define KiB 1024LL
#define MiB (1024LL * 1024)
#define GiB (1024LL * 1024 * 1024)

static const struct zhc_setting rows[] = {
    {"socket", ZHC_STRING, OFF(socket), "inet:7351@127.0.0.1", 0, 0, NULL,
     "where the MTA connects: inet:PORT@ADDRESS, inet6:PORT@ADDRESS or unix:PATH"},
    {"socket_mode", ZHC_MODE, OFF(socket_mode), "0660", 0, 0777, NULL,
     "file mode of a unix: socket (the MTA's user must be able to connect)"},
    {"socket_group", ZHC_STRING, OFF(socket_group), "", 0, 0, NULL,
     "group given to a unix: socket (e.g. zerohour, with postfix a member); empty: the "
     "process's group"},
    {"socket_lock_wait", ZHC_MS, OFF(socket_lock_wait_ms), "30s", 0, 600000, NULL,
     "a unix: socket is guarded by SOCKET.lock, held while the milter runs: a new milter waits "
     "this long for an old one to finish exiting (libmilter removes its socket at exit) instead "
     "of taking the path from under it"},
    {"user", ZHC_STRING, OFF(user), "", 0, 0, NULL,
     "started as root: become this user (and its groups) once the socket is bound; empty: stay "
     "who started it"},
    {"group", ZHC_STRING, OFF(group), "", 0, 0, NULL,
     "with user: the group to become; empty: the user's primary group"},
    {"allow_root", ZHC_CHOICE, OFF(allow_root), "yes", 0, 0, "no|yes",
     "no: refuse to run as root (set user); yes: allow it, with a warning at start"},
    {"engine", ZHC_LIST, OFF(engines), "", 0, 0, NULL,
     "zerohourd address (nng URL); repeat for several, scans are spread over those "
     "connected. Empty: $ZEROHOUR_ADDRESS, else the per-user default"},
    ZHC_ROWS_TLS(struct zhm_config),
    {"timeout", ZHC_MS, OFF(timeout_ms), "10s", 100, 600000, NULL,
     "longest wait for the engine's verdict on one message; then on_unavailable applies"},
    {"connect_timeout", ZHC_MS, OFF(connect_timeout_ms), "1s", 10, 60000, NULL,
     "longest wait for a connection to some engine before a scan counts as unavailable"},
    {"max_message_bytes", ZHC_SIZE, OFF(max_message_bytes), "32M", 1 * KiB, 1 * GiB, NULL,
     "largest message (headers + body) collected and scanned; larger ones get on_oversize"},
    {"on_oversize", ZHC_CHOICE, OFF(on_oversize), "tempfail", 0, 0, "tempfail|reject|accept",
     "message over max_message_bytes (or the engine's limit): 452 4.3.4, 552 5.3.4, or "
     "deliver unscanned (tagged UNSCANNED unless add_header = never)"},
    {"on_malicious", ZHC_CHOICE, OFF(on_malicious), "reject", 0, 0, "reject|discard|quarantine",
     "MALICIOUS verdict: 550 5.7.1 naming the detection, accept and silently drop, or put "
     "in the MTA's hold queue"},
    {"on_suspicious", ZHC_CHOICE, OFF(on_suspicious), "tag", 0, 0, "tag|quarantine|accept",
     "SUSPICIOUS verdict: deliver with X-Zerohour-* headers, hold queue, or deliver "
     "(headers only with add_header = always)"},
    {"on_unavailable", ZHC_CHOICE, OFF(on_unavailable), "tempfail", 0, 0, "tempfail|accept",
     "engine unreachable, too slow, or unable to finish (TEMPFAIL): 451 4.7.1, or deliver "
     "unscanned (fail open; logged as a warning)"},
    {"add_header", ZHC_CHOICE, OFF(add_header), "flagged", 0, 0, "always|flagged|never",
     "which delivered messages get X-Zerohour-Verdict/-Score/-Hits: all, only non-CLEAN "
     "ones, none"},
    {"log_level", ZHC_CHOICE, OFF(log_level), "info", 0, 0, "error|warn|info|debug",
     "error, warn, info (one line per message) or debug"},
    ZHC_ROWS_LOG(struct zhm_config),
    {0},
};

const struct zhc_table zhm_table = {"zerohour-milter", "milter", rows};
