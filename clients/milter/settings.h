/* settings.h — zerohour-milter's settings: one table (zhm_settings) read by
 * the INI loader, the command-line flags, --help, --print-config and the
 * README table. Not thread-safe: the configuration is built once in main()
 * and only read afterwards. */
#ifndef ZHM_SETTINGS_H
#define ZHM_SETTINGS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define ZHM_MAX_ENGINES 16

enum zhm_on_malicious { ZHM_MAL_REJECT, ZHM_MAL_DISCARD, ZHM_MAL_QUARANTINE };
enum zhm_on_suspicious { ZHM_SUS_TAG, ZHM_SUS_QUARANTINE, ZHM_SUS_ACCEPT };
enum zhm_on_unavailable { ZHM_UNAV_TEMPFAIL, ZHM_UNAV_ACCEPT };
enum zhm_on_oversize { ZHM_BIG_TEMPFAIL, ZHM_BIG_REJECT, ZHM_BIG_ACCEPT };
enum zhm_add_header { ZHM_HDR_ALWAYS, ZHM_HDR_FLAGGED, ZHM_HDR_NEVER };
enum zhm_log_level { ZHM_LOG_ERROR, ZHM_LOG_WARN, ZHM_LOG_INFO, ZHM_LOG_DEBUG };

/* Every field is set from the table; strings and the engine list are owned
 * by the struct and released by zhm_config_free(). */
struct zhm_config {
    char *socket;
    int64_t socket_mode;
    char *socket_group; /* "" = the process's group */
    int64_t socket_lock_wait_ms;
    char *user;         /* "" = stay who started it */
    char *group;        /* "" = the user's primary group */
    int64_t allow_root; /* 0 no, 1 yes */
    char *engines[ZHM_MAX_ENGINES];
    char *tls_ca;   /* tls+tcp:// engines: their CAs (PEM) */
    char *tls_cert; /* our certificate and key (PEM); "" = none */
    size_t n_engines;
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

enum zhm_setting_type { ZHM_STRING, ZHM_LIST, ZHM_SIZE, ZHM_MS, ZHM_MODE, ZHM_CHOICE };

struct zhm_setting {
    const char *name; /* INI key in [milter]; the flag is --name with '-' for '_' */
    enum zhm_setting_type type;
    size_t offset;
    const char *def;     /* default, parsed like any value */
    int64_t min, max;    /* SIZE, MS, MODE */
    const char *choices; /* CHOICE: "a|b|c", the index is the stored value */
    const char *help;
};

extern const struct zhm_setting zhm_settings[];

/* Fill cfg with the defaults. Returns 0, or -1 when out of memory. */
int zhm_config_defaults(struct zhm_config *cfg);
void zhm_config_free(struct zhm_config *cfg);
/* Find a setting by INI name or flag name ("on-malicious" or "on_malicious"). */
const struct zhm_setting *zhm_setting_find(const char *name);
/* Set one value. A LIST value appends when append is nonzero, otherwise it
 * replaces the list. Returns 0, or -1 with a message in err. */
int zhm_config_set(struct zhm_config *cfg, const struct zhm_setting *s, const char *value,
                   int append, char *err, size_t errlen);
/* Load an INI file (section [milter]). Returns 0, or -1 with "path:line: why" in err. */
int zhm_config_load(struct zhm_config *cfg, const char *path, char *err, size_t errlen);
/* Name of a CHOICE value ("reject") written into buf; returns buf. */
const char *zhm_choice_name(const struct zhm_setting *s, int64_t v, char *buf, size_t n);

/* The configuration as an INI file, every setting with its help; settings
 * at their default (all of them when cfg is NULL) are commented out. */
void zhm_config_write(FILE *out, const struct zhm_config *cfg);
void zhm_config_write_markdown(FILE *out);
void zhm_config_write_help(FILE *out);
/* The settings as man page paragraphs (.TP each), for zerohour-milter(8). */
void zhm_config_write_man(FILE *out);

#endif
