/* settings.h — zerohour-milter's settings: one table (zhm_table, section
 * [milter]) that the shared client settings module (clients/common/settings.h)
 * turns into the INI loader, the command-line flags, --help, --print-config
 * and the README table. Not thread-safe: the configuration is built once in
 * main() and only read afterwards. */
#ifndef ZHM_MILTER_SETTINGS_H
#define ZHM_MILTER_SETTINGS_H

#include <stdint.h>

#include "settings.h" /* clients/common */

enum zhm_on_malicious { ZHM_MAL_REJECT, ZHM_MAL_DISCARD, ZHM_MAL_QUARANTINE };
enum zhm_on_suspicious { ZHM_SUS_TAG, ZHM_SUS_QUARANTINE, ZHM_SUS_ACCEPT };
enum zhm_on_unavailable { ZHM_UNAV_TEMPFAIL, ZHM_UNAV_ACCEPT };
enum zhm_on_oversize { ZHM_BIG_TEMPFAIL, ZHM_BIG_REJECT, ZHM_BIG_ACCEPT };
enum zhm_add_header { ZHM_HDR_ALWAYS, ZHM_HDR_FLAGGED, ZHM_HDR_NEVER };
enum zhm_log_level { ZHM_LOG_ERROR, ZHM_LOG_WARN, ZHM_LOG_INFO, ZHM_LOG_DEBUG };

/* Every field is set from the table; strings and the engine list are owned
 * by the struct and released by zhc_config_free(&zhm_table, ...). */
struct zhm_config {
    char *socket;
    int64_t socket_mode;
    char *socket_group; /* "" = the process's group */
    int64_t socket_lock_wait_ms;
    char *user;         /* "" = stay who started it */
    char *group;        /* "" = the user's primary group */
    int64_t allow_root; /* 0 no, 1 yes */
    struct zhc_list engines;
    char *tls_ca;   /* tls+tcp:// engines: their CAs (PEM) */
    char *tls_cert; /* our certificate and key (PEM); "" = none */
    int64_t timeout_ms;
    int64_t connect_timeout_ms;
    int64_t max_message_bytes;
    int64_t on_oversize;    /* enum zhm_on_oversize */
    int64_t on_malicious;   /* enum zhm_on_malicious */
    int64_t on_suspicious;  /* enum zhm_on_suspicious */
    int64_t on_unavailable; /* enum zhm_on_unavailable */
    int64_t add_header;     /* enum zhm_add_header */
    int64_t log_level;      /* enum zhm_log_level */
    int64_t log_target;     /* 0 stderr, 1 syslog */
    char *log_facility;
    char *log_socket;
};

extern const struct zhc_table zhm_table;

#endif
