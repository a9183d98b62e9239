/* settings.h — the settings of zerohour's thin clients (the milter, the clamd
 * bridge): each program describes its settings in one table (struct
 * zhc_table) that drives its INI file, its command-line flags (--NAME VALUE
 * and --set NAME=VALUE), --help, --print-config and the README table. Sizes,
 * times and modes are parsed by proto/values.c, as the engine's are.
 *
 * Not thread-safe: a program builds its configuration once in main() and
 * only reads it afterwards. A configuration is the program's own struct; the
 * table says where each field lives (offsetof). */
#ifndef ZHC_SETTINGS_H
#define ZHC_SETTINGS_H

#include <getopt.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define ZHC_LIST_MAX 16

/* A repeatable setting (engine addresses, listening sockets). Owned by the
 * configuration; released by zhc_config_free. */
struct zhc_list {
    char *v[ZHC_LIST_MAX];
    size_t n;
};

enum zhc_setting_type {
    ZHC_STRING, /* char *                                  */
    ZHC_LIST,   /* struct zhc_list                         */
    ZHC_SIZE,   /* int64_t bytes: "32M"                    */
    ZHC_MS,     /* int64_t milliseconds: "10s"             */
    ZHC_MODE,   /* int64_t file mode: "0660"               */
    ZHC_CHOICE, /* int64_t index into choices "a|b|c"      */
    ZHC_COUNT,  /* int64_t plain number                    */
};

struct zhc_setting {
    const char *name; /* INI key; the flag is --name with '-' for '_' */
    enum zhc_setting_type type;
    size_t offset;       /* of the field in the program's configuration struct */
    const char *def;     /* default, parsed like any value */
    int64_t min, max;    /* SIZE, MS, MODE, COUNT */
    const char *choices; /* CHOICE: "a|b|c", the index is the stored value */
    const char *help;
};

/* One program's settings: its name (messages, the sample's first line), the
 * INI section its keys live in, and the rows, ended by a row with no name. */
struct zhc_table {
    const char *program;
    const char *section;
    const struct zhc_setting *settings;
};

/* Rows every thin client has the same way, for its table (cfg is the
 * program's configuration struct, with fields tls_ca and tls_cert, or
 * log_target, log_facility and log_socket). */
/* clang-format off */
#define ZHC_ROWS_TLS(cfg)                                                                          \
    {"tls_ca", ZHC_STRING, offsetof(cfg, tls_ca), "", 0, 0, NULL,                                  \
     "PEM file of the CAs that signed the certificates of tls+tcp:// engines; needed for those"}, \
    {"tls_cert", ZHC_STRING, offsetof(cfg, tls_cert), "", 0, 0, NULL,                              \
     "PEM file with this program's certificate and key, for engines that require one "            \
     "(engine.tls_ca); empty: none"}
#define ZHC_ROWS_LOG(cfg)                                                                          \
    {"log_target", ZHC_CHOICE, offsetof(cfg, log_target), "stderr", 0, 0, "stderr|syslog",         \
     "stderr (a supervisor or journald keeps it) or syslog (log_socket, under log_facility)"},    \
    {"log_facility", ZHC_STRING, offsetof(cfg, log_facility), "mail", 0, 0, NULL,                  \
     "syslog facility: mail (as every MTA component), daemon, user or local0-local7"},            \
    {"log_socket", ZHC_STRING, offsetof(cfg, log_socket), "/dev/log", 0, 0, NULL,                  \
     "the syslog datagram socket (journald and rsyslog listen on /dev/log)"}
/* clang-format on */

/* Fill cfg with the defaults. Returns 0, or -1 when out of memory (cfg is
 * then freed). */
int zhc_config_defaults(const struct zhc_table *t, void *cfg);
void zhc_config_free(const struct zhc_table *t, void *cfg);
/* Find a setting by INI name or flag name ("on-malicious" or "on_malicious"). */
const struct zhc_setting *zhc_setting_find(const struct zhc_table *t, const char *name);
/* Set one value. A LIST value appends when append is nonzero, otherwise it
 * replaces the list (an empty value then empties it). Returns 0, or -1 with a
 * message in err. */
int zhc_config_set(void *cfg, const struct zhc_setting *s, const char *value, int append, char *err,
                   size_t errlen);
/* Load an INI file (only t->section). Returns 0, or -1 with "path:line: why"
 * in err. In a file, the first line of a LIST replaces its default and later
 * lines append. */
int zhc_config_load(const struct zhc_table *t, void *cfg, const char *path, char *err,
                    size_t errlen);
/* Name of a CHOICE value ("reject") written into buf; returns buf. */
const char *zhc_choice_name(const struct zhc_setting *s, int64_t v, char *buf, size_t n);
/* The same for a setting named by its INI name. */
const char *zhc_choice_of(const struct zhc_table *t, const char *name, int64_t v, char *buf,
                          size_t n);

/* The configuration cfg as an INI file, every setting with its help;
 * settings at their default (all of them when cfg is NULL) are commented
 * out. What --print-config writes (the packages' conffiles too). */
void zhc_config_write(const struct zhc_table *t, const void *cfg, FILE *out);
/* zhc_config_write of the defaults. */
void zhc_config_write_sample(const struct zhc_table *t, FILE *out);
/* The settings as man page paragraphs (.TP each), for the program's page
 * (--settings-man). */
void zhc_config_write_man(const struct zhc_table *t, FILE *out);
void zhc_config_write_markdown(const struct zhc_table *t, FILE *out);
void zhc_config_write_help(const struct zhc_table *t, FILE *out);

/* ---- the command line -----------------------------------------------------
 * A program's options are its own (fixed: --config, --help...) followed by
 * one --NAME per setting and --set NAME=VALUE. Option values at or above
 * ZHC_OPT_SETTING are settings: a program's first getopt pass ignores them,
 * and zhc_config_apply_flags applies them after the INI file, so flags win. */
#define ZHC_OPT_SET 1999
#define ZHC_OPT_SETTING 2000 /* + index in the table */

/* fixed (n_fixed entries, no terminator) + the settings' flags + --set, and
 * the terminator. NULL when out of memory. Free with zhc_options_free. */
struct option *zhc_options_build(const struct zhc_table *t, const struct option *fixed,
                                 size_t n_fixed);
void zhc_options_free(struct option *o);
/* Apply every setting flag of argv to cfg in order (getopt's state is reset
 * first and left at the end). The first flag of a LIST replaces what the
 * file or the default gave, later ones append. Returns 0, or -1 with
 * "--name: why" in err. Unknown options are ignored here (pass 1 reports
 * them). */
int zhc_config_apply_flags(const struct zhc_table *t, void *cfg, int argc, char **argv,
                           const struct option *longopts, char *err, size_t errlen);

/* ---- a thin client's whole command line ------------------------------------
 * Every thin client has --config FILE, --print-config (the configuration
 * after --config and the flags), --settings-markdown, --settings-man,
 * --check, --version and --help, plus the settings' flags; extra holds a
 * program's other no-argument flags (accepted and otherwise ignored).
 * zhc_cli_configure parses argv, prints the README table or the man page
 * part when asked, loads --config, then applies the flags (they win over the
 * file) and prints the result when --print-config was asked. */
enum zhc_cli_what {
    ZHC_CLI_RUN,     /* cfg is ready: serve */
    ZHC_CLI_CHECK,   /* cfg is ready: --check was asked */
    ZHC_CLI_HELP,    /* print the program's help, exit 0 */
    ZHC_CLI_VERSION, /* print the version, exit 0 */
    ZHC_CLI_DONE,    /* the configuration, table or man part was printed, exit 0 */
    ZHC_CLI_USAGE,   /* err says what is wrong, exit 2 */
    ZHC_CLI_NOMEM,
};
enum zhc_cli_what zhc_cli_configure(const struct zhc_table *t, void *cfg, int argc, char **argv,
                                    const char *const *extra, char *err, size_t errlen);

/* The engine addresses of a configuration: its list, or the client
 * library's default (one address written into def). *addrs points into
 * list or at a static one-element array for def. -1 when the default does
 * not fit def. */
int zhc_engine_addresses(const struct zhc_list *list, char *def, size_t deflen,
                         const char *const **addrs, size_t *n);

#endif
