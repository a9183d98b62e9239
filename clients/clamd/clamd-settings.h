/* clamd-settings.h — zerohour-clamd's settings: one table (zcl_table, INI
 * section [clamd]) that the shared client settings module turns into the INI
 * loader, the flags, --help, --print-config and the README table. Built once
 * in main() and only read afterwards. */
#ifndef ZCL_CLAMD_SETTINGS_H
#define ZCL_CLAMD_SETTINGS_H

#include <stdint.h>

#include "settings.h" /* clients/common */

/* What a verdict other than CLEAN and MALICIOUS answers. */
enum zcl_answer { ZCL_ANS_OK, ZCL_ANS_FOUND, ZCL_ANS_ERROR };
enum zcl_paths { ZCL_PATHS_UNIX, ZCL_PATHS_ANY, ZCL_PATHS_OFF };
enum zcl_on_error { ZCL_ONERR_REPLY, ZCL_ONERR_CLOSE };

struct zcl_config {
    struct zhc_list sockets;
    int64_t socket_mode;
    struct zhc_list engines;
    char *tls_ca, *tls_cert; /* tls+tcp:// engines: their CAs; our certificate ("" none) */
    int64_t timeout_ms, connect_timeout_ms;
    int64_t stream_max_length;
    int64_t command_timeout_ms, read_timeout_ms, idle_timeout_ms, send_timeout_ms;
    int64_t max_connections;
    int64_t memory_budget;
    int64_t on_suspicious, on_defer, on_tempfail; /* enum zcl_answer */
    int64_t on_error;                             /* enum zcl_on_error */
    int64_t observe;                              /* 0 yes, 1 no */
    int64_t path_commands;                        /* enum zcl_paths */
    int64_t log_level;                            /* enum zhc_log_level */
    int64_t log_target;                           /* 0 stderr, 1 syslog */
    char *log_facility, *log_socket;
};

extern const struct zhc_table zcl_table;

#endif
