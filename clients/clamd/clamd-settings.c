/* zerohour-clamd's settings table; parsing, the [clamd] INI section, flags
 * and generated help are clients/common/settings.c. Defaults follow clamd's
 * own where clamd has the same knob (StreamMaxLength 25M, CommandReadTimeout
 * 30 s, ReadTimeout 120 s, IdleTimeout 30 s, port 3310). */
#include "clamd-settings.h"

#include <stddef.h>

#define OFF(f) offsetof(struct zcl_config, f)
#define KiB 1024LL
#define GiB (1024LL * 1024 * 1024)

static const struct zhc_setting rows[] = {
    {"socket", ZHC_LIST, OFF(sockets), "inet:3310@127.0.0.1", 0, 0, NULL,
     "where callers connect: unix:PATH or inet:PORT@ADDRESS (IPv4 or [IPv6]); repeat for "
     "several"},
    {"socket_mode", ZHC_MODE, OFF(socket_mode), "0660", 0, 0777, NULL,
     "file mode of unix: sockets (the callers' user must be able to connect)"},
    {"engine", ZHC_LIST, OFF(engines), "", 0, 0, NULL,
     "zerohourd address (nng URL); repeat for several, scans are spread over those "
     "connected. Empty: $ZEROHOUR_ADDRESS, else the per-user default"},
    ZHC_ROWS_TLS(struct zcl_config),
    {"timeout", ZHC_MS, OFF(timeout_ms), "30s", 100, 600000, NULL,
     "longest wait for the engine's verdict on one stream or file; then an ERROR reply"},
    {"connect_timeout", ZHC_MS, OFF(connect_timeout_ms), "1s", 10, 60000, NULL,
     "longest wait for a connection to some engine before a scan answers ERROR"},
    {"stream_max_length", ZHC_SIZE, OFF(stream_max_length), "25M", 1 * KiB, 1 * GiB, NULL,
     "largest INSTREAM accepted (clamd's StreamMaxLength); a chunk that would pass it is "
     "answered \"INSTREAM size limit exceeded. ERROR\" before its bytes are read"},
    {"command_timeout", ZHC_MS, OFF(command_timeout_ms), "30s", 100, 3600000, NULL,
     "time a new connection has to send its whole first command (clamd's "
     "CommandReadTimeout)"},
    {"read_timeout", ZHC_MS, OFF(read_timeout_ms), "120s", 100, 3600000, NULL,
     "longest pause inside an INSTREAM before the connection is dropped (clamd's "
     "ReadTimeout)"},
    {"idle_timeout", ZHC_MS, OFF(idle_timeout_ms), "30s", 100, 3600000, NULL,
     "longest wait for the next command of an IDSESSION (clamd's IdleTimeout)"},
    {"send_timeout", ZHC_MS, OFF(send_timeout_ms), "30s", 100, 3600000, NULL,
     "longest wait for a caller that does not read its reply"},
    {"max_connections", ZHC_COUNT, OFF(max_connections), "128", 1, 4096, NULL,
     "connections served at once; one more is answered \"Too many connections. ERROR\" "
     "and closed"},
    {"memory_budget", ZHC_SIZE, OFF(memory_budget), "512M", 1 * KiB, 64 * GiB, NULL,
     "stream bytes held for all connections together; a stream that would pass it is "
     "answered ERROR (the caller retries later)"},
    {"on_suspicious", ZHC_CHOICE, OFF(on_suspicious), "ok", 0, 0, "ok|found|error",
     "SUSPICIOUS verdict: OK (with a log line), FOUND as Zerohour.Suspicious.<rule>, or "
     "ERROR so the caller tempfails"},
    {"on_defer", ZHC_CHOICE, OFF(on_defer), "error", 0, 0, "ok|found|error",
     "DEFER verdict (a payload spreading, not yet an outbreak): ERROR makes the caller "
     "try again later"},
    {"on_tempfail", ZHC_CHOICE, OFF(on_tempfail), "error", 0, 0, "ok|found|error",
     "TEMPFAIL verdict (the engine could not finish the message): ERROR makes the caller "
     "try again later"},
    {"on_error", ZHC_CHOICE, OFF(on_error), "reply", 0, 0, "reply|close",
     "how errors reach the caller: clamd's \"... ERROR\" line, or the connection closed "
     "without an answer (for rspamd 3.4, which takes an ERROR line for a scan that found "
     "nothing)"},
    {"observe", ZHC_CHOICE, OFF(observe), "yes", 0, 0, "yes|no",
     "whether scans teach the engine (outbreak and sender counts): yes for an MTA's "
     "traffic, no for a bridge that only hunts through stored mail"},
    {"path_commands", ZHC_CHOICE, OFF(path_commands), "unix", 0, 0, "unix|any|off",
     "SCAN, CONTSCAN, MULTISCAN, ALLMATCHSCAN: only from unix: sockets, from any socket, "
     "or never; the bridge reads paths with its own rights"},
    {"log_level", ZHC_CHOICE, OFF(log_level), "info", 0, 0, "error|warn|info|debug",
     "error, warn, info (one line per scan) or debug"},
    ZHC_ROWS_LOG(struct zcl_config),
    {0},
};

const struct zhc_table zcl_table = {"zerohour-clamd", "clamd", rows};
