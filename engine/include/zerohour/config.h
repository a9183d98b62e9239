/* zerohour/config.h — every setting of the engine in one table. The table
 * drives the INI parser, command-line overrides, `zerohourd --help`, the
 * sample configuration and the README's list of limits. */
#ifndef ZEROHOUR_CONFIG_H
#define ZEROHOUR_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "zerohour/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define ZH_MAX_ADDRESSES 8

struct zh_config {
    /* [engine] */
    char *addresses[ZH_MAX_ADDRESSES];
    size_t n_addresses;
    char *rules_dir;
    int64_t workers;       /* 0 = number of online CPUs */
    char *log_level;       /* error, warn, info, debug */
    char *log_target;      /* stderr or syslog */
    char *log_facility;    /* syslog facility name */
    char *log_socket;      /* syslog datagram socket */
    char *log_scans;       /* none, flagged or all */
    char *metrics_address; /* http://HOST:PORT of /metrics; "" = off */
    char *admin_address;   /* listener that also answers the admin calls (all but Scan, Ping) */
    char *tls_cert;        /* PEM: certificate chain and key of tls+tcp:// listeners */
    char *tls_ca;          /* PEM: CAs whose client certificates are accepted; "" = none asked */
    int64_t socket_mode;   /* ipc socket file mode */
    char *socket_group;    /* "" = the process's group */
    char *user;            /* "" = stay who started it */
    char *group;           /* "" = the user's primary group */
    int64_t allow_root;    /* 0 = refuse to scan as root */
    int64_t watch_rules;   /* 1 = reload on changes under rules_dir */
    int64_t reload_debounce_ms;
    int64_t rule_profile_interval_ms; /* 0 = no per-rule timing */
    int64_t rule_profile_budget_ms;
    /* [limits] */
    int64_t max_message_bytes;
    int64_t max_mime_depth;
    int64_t max_mime_parts;
    int64_t scan_timeout_ms;
    int64_t archive_max_depth;
    int64_t archive_max_members;
    int64_t archive_max_member_bytes;
    int64_t archive_max_total_bytes;
    int64_t archive_max_ratio;
    int64_t archive_ratio_floor;
    int64_t decoder_max_memory;
    int64_t archive_timeout_ms;
    int64_t ole_max_entries;
    int64_t ole_max_depth;
    int64_t image_max_dir_depth;
    int64_t image_max_dir_entries;
    /* [scoring] */
    int64_t suspicious_score;
    int64_t malicious_score;
    int64_t default_rule_score;
    /* [outbreak] */
    int64_t outbreak_enabled;
    int64_t outbreak_window_ms;
    int64_t outbreak_min_copies;
    int64_t outbreak_min_senders;
    int64_t outbreak_min_client_ips;
    int64_t outbreak_hold_ms;
    int64_t outbreak_memory;
    int64_t outbreak_defer;
    int64_t outbreak_defer_min_copies;
    int64_t outbreak_defer_retry_s;
    char *outbreak_state_file;
    int64_t outbreak_snapshot_ms;
    char *outbreak_redis; /* "" = counts kept in this engine only */
    char *outbreak_redis_prefix;
    int64_t outbreak_redis_timeout_ms;
    /* [store] */
    int64_t store_enabled;
    char *store_directory;
    int64_t store_retention_ms;
    int64_t store_max_bytes;
    int64_t store_keep_attachments;
    int64_t store_keep_bodies;
    int64_t store_max_object_bytes;
    int64_t store_queue_bytes;
    int64_t store_queue_length;
    int64_t store_hunt_cpu_percent;
    int64_t store_hunt_max_messages;
    int64_t outbreak_surge;
    int64_t outbreak_surge_window_ms;
    int64_t outbreak_surge_min_copies;
    int64_t outbreak_surge_min_senders;
    int64_t outbreak_surge_min_client_ips;
    /* [site] (lists separated by spaces or commas) */
    char *site_internal_networks; /* CIDR: the organisation's own hosts */
    char *site_trusted_networks;  /* CIDR: relays and hosted providers it sends through */
    char *site_internal_domains;  /* its own domains; "" = the recipients' domains */
};

enum zh_setting_type {
    ZH_SET_INT,
    ZH_SET_SIZE,
    ZH_SET_MS,
    ZH_SET_MODE,
    ZH_SET_STRING,
    ZH_SET_LIST
};

struct zh_setting {
    const char *section;
    const char *name;
    enum zh_setting_type type;
    size_t offset;    /* into struct zh_config */
    const char *def;  /* default, as written in the INI file */
    int64_t min, max; /* bounds for numeric settings */
    const char *help;
};

/* The table, terminated by an entry with name == NULL. Static. */
extern const struct zh_setting zh_settings[];

/* Fill cfg with every default. Strings are malloc'd; free with zh_config_free. */
zh_err zh_config_defaults(struct zh_config *cfg);
void zh_config_free(struct zh_config *cfg);
/* Deep copy src into dst (dst's old contents are not freed). */
zh_err zh_config_copy(struct zh_config *dst, const struct zh_config *src);

/* Read an INI file over cfg. Unknown sections/keys and out-of-range values
 * are errors; err receives "FILE:LINE: message". */
zh_err zh_config_load(struct zh_config *cfg, const char *path, char *err, size_t errlen);

/* Set one setting by "section.name" or bare "name" from text (flags use this). */
zh_err zh_config_set(struct zh_config *cfg, const char *name, const char *value, char *err,
                     size_t errlen);

/* Cross-field and syntax checks over a complete configuration (after the
 * file and the flags): ZH_ERR_INVALID with the reason in err. zh_engine_new
 * runs them too. */
zh_err zh_config_check(const struct zh_config *cfg, char *err, size_t errlen);

/* Writers driven by the table: an INI file with every setting and its help
 * (cfg NULL: all commented, showing defaults; otherwise the settings whose
 * value differs from the default are written uncommented), and a Markdown
 * table for the README. */
void zh_config_write(FILE *out, const struct zh_config *cfg);
void zh_config_write_markdown(FILE *out);
/* The settings as man page sections (.SS per INI section, .TP per setting),
 * pasted into zerohourd.ini(5) at build time. */
void zh_config_write_man(FILE *out);

#ifdef __cplusplus
}
#endif
#endif
