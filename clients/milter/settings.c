/* zerohour-milter settings: the table, choices, the [milter] INI loader and
 * the generated help, sample config and README table. Sizes, times and
 * modes are parsed by proto/values.c, as the engine's are. Not the option
 * parser: main() walks argv itself. */
#include "settings.h"
#include "zerohour/values.h"

#include <errno.h>
#include <ini.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define OFF(f) offsetof(struct zhm_config, f)
#define KiB 1024LL
#define MiB (1024LL * 1024)
#define GiB (1024LL * 1024 * 1024)

const struct zhm_setting zhm_settings[] = {
    {"socket", ZHM_STRING, OFF(socket), "inet:7351@127.0.0.1", 0, 0, NULL,
     "where the MTA connects: inet:PORT@ADDRESS, inet6:PORT@ADDRESS or unix:PATH"},
    {"socket_mode", ZHM_MODE, OFF(socket_mode), "0660", 0, 0777, NULL,
     "file mode of a unix: socket (the MTA's user must be able to connect)"},
    {"socket_group", ZHM_STRING, OFF(socket_group), "", 0, 0, NULL,
     "group given to a unix: socket (e.g. zerohour, with postfix a member); empty: the "
     "process's group"},
    {"socket_lock_wait", ZHM_MS, OFF(socket_lock_wait_ms), "30s", 0, 600000, NULL,
     "a unix: socket is guarded by SOCKET.lock, held while the milter runs: a new milter waits "
     "this long for an old one to finish exiting (libmilter removes its socket at exit) instead "
     "of taking the path from under it"},
    {"user", ZHM_STRING, OFF(user), "", 0, 0, NULL,
     "started as root: become this user (and its groups) once the socket is bound; empty: stay "
     "who started it"},
    {"group", ZHM_STRING, OFF(group), "", 0, 0, NULL,
     "with user: the group to become; empty: the user's primary group"},
    {"allow_root", ZHM_CHOICE, OFF(allow_root), "yes", 0, 0, "no|yes",
     "no: refuse to run as root (set user); yes: allow it, with a warning at start"},
    {"engine", ZHM_LIST, OFF(engines), "", 0, 0, NULL,
     "zerohourd address (nng URL); repeat for several, scans are spread over those "
     "connected. Empty: $ZEROHOUR_ADDRESS, else the per-user default"},
    {"tls_ca", ZHM_STRING, OFF(tls_ca), "", 0, 0, NULL,
     "PEM file of the CAs that signed the certificates of tls+tcp:// engines; needed for those"},
    {"tls_cert", ZHM_STRING, OFF(tls_cert), "", 0, 0, NULL,
     "PEM file with the milter's certificate and key, for engines that require one "
     "(engine.tls_ca); empty: none"},
    {"timeout", ZHM_MS, OFF(timeout_ms), "10s", 100, 600000, NULL,
     "longest wait for the engine's verdict on one message; then on_unavailable applies"},
    {"connect_timeout", ZHM_MS, OFF(connect_timeout_ms), "1s", 10, 60000, NULL,
     "longest wait for a connection to some engine before a scan counts as unavailable"},
    {"max_message_bytes", ZHM_SIZE, OFF(max_message_bytes), "32M", 1 * KiB, 1 * GiB, NULL,
     "largest message (headers + body) collected and scanned; larger ones get on_oversize"},
    {"on_oversize", ZHM_CHOICE, OFF(on_oversize), "tempfail", 0, 0, "tempfail|reject|accept",
     "message over max_message_bytes (or the engine's limit): 452 4.3.4, 552 5.3.4, or "
     "deliver unscanned (tagged UNSCANNED unless add_header = never)"},
    {"on_malicious", ZHM_CHOICE, OFF(on_malicious), "reject", 0, 0, "reject|discard|quarantine",
     "MALICIOUS verdict: 550 5.7.1 naming the detection, accept and silently drop, or put "
     "in the MTA's hold queue"},
    {"on_suspicious", ZHM_CHOICE, OFF(on_suspicious), "tag", 0, 0, "tag|quarantine|accept",
     "SUSPICIOUS verdict: deliver with X-Zerohour-* headers, hold queue, or deliver "
     "(headers only with add_header = always)"},
    {"on_unavailable", ZHM_CHOICE, OFF(on_unavailable), "tempfail", 0, 0, "tempfail|accept",
     "engine unreachable, too slow, or unable to finish (TEMPFAIL): 451 4.7.1, or deliver "
     "unscanned (fail open; logged as a warning)"},
    {"add_header", ZHM_CHOICE, OFF(add_header), "flagged", 0, 0, "always|flagged|never",
     "which delivered messages get X-Zerohour-Verdict/-Score/-Hits: all, only non-CLEAN "
     "ones, none"},
    {"log_level", ZHM_CHOICE, OFF(log_level), "info", 0, 0, "error|warn|info|debug",
     "error, warn, info (one line per message) or debug"},
    {"log_target", ZHM_CHOICE, OFF(log_target), "stderr", 0, 0, "stderr|syslog",
     "stderr (a supervisor or journald keeps it) or syslog (log_socket, under log_facility)"},
    {"log_facility", ZHM_STRING, OFF(log_facility), "mail", 0, 0, NULL,
     "syslog facility: mail (as every MTA component), daemon, user or local0-local7"},
    {"log_socket", ZHM_STRING, OFF(log_socket), "/dev/log", 0, 0, NULL,
     "the syslog datagram socket (journald and rsyslog listen on /dev/log)"},
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

/* Index of value among "a|b|c", or -1. */
static int choice_index(const char *choices, const char *value)
{
    size_t vlen = strlen(value);
    int i = 0;
    for (const char *p = choices; *p; i++) {
        const char *bar = strchr(p, '|');
        size_t len = bar ? (size_t)(bar - p) : strlen(p);
        if (len == vlen && !strncmp(p, value, len))
            return i;
        if (!bar)
            break;
        p = bar + 1;
    }
    return -1;
}

const char *zhm_choice_name(const struct zhm_setting *s, int64_t v, char *buf, size_t n)
{
    const char *p = s->choices;
    for (int64_t i = 0; p && i < v; i++) {
        p = strchr(p, '|');
        if (p)
            p++;
    }
    snprintf(buf, n, "%.*s", p ? (int)strcspn(p, "|") : 1, p ? p : "?");
    return buf;
}

const struct zhm_setting *zhm_setting_find(const char *name)
{
    char norm[64];
    size_t i;
    for (i = 0; name[i] && i + 1 < sizeof norm; i++)
        norm[i] = name[i] == '-' ? '_' : name[i];
    norm[i] = 0;
    for (const struct zhm_setting *s = zhm_settings; s->name; s++)
        if (!strcmp(s->name, norm))
            return s;
    return NULL;
}

static void list_clear(struct zhm_config *cfg)
{
    for (size_t i = 0; i < cfg->n_engines; i++) {
        free(cfg->engines[i]);
        cfg->engines[i] = NULL;
    }
    cfg->n_engines = 0;
}

int zhm_config_set(struct zhm_config *cfg, const struct zhm_setting *s, const char *value,
                   int append, char *err, size_t errlen)
{
    void *field = (char *)cfg + s->offset;
    int64_t v = 0;
    int rc = 0;

    switch (s->type) {
    case ZHM_STRING: {
        char *dup = strdup(value);
        if (!dup) {
            set_err(err, errlen, "out of memory");
            return -1;
        }
        free(*(char **)field);
        *(char **)field = dup;
        return 0;
    }
    case ZHM_LIST:
        if (!append)
            list_clear(cfg);
        if (!*value)
            return 0;
        if (cfg->n_engines >= ZHM_MAX_ENGINES) {
            set_err(err, errlen, "%s: at most %d values", s->name, ZHM_MAX_ENGINES);
            return -1;
        }
        if (!(cfg->engines[cfg->n_engines] = strdup(value))) {
            set_err(err, errlen, "out of memory");
            return -1;
        }
        cfg->n_engines++;
        return 0;
    case ZHM_SIZE:
        rc = zh_value_size(value, &v);
        break;
    case ZHM_MS:
        rc = zh_value_ms(value, &v);
        break;
    case ZHM_MODE:
        rc = zh_value_mode(value, &v);
        break;
    case ZHM_CHOICE: {
        int i = choice_index(s->choices, value);
        if (i < 0) {
            set_err(err, errlen, "%s: \"%s\" is not one of %s", s->name, value, s->choices);
            return -1;
        }
        *(int64_t *)field = i;
        return 0;
    }
    }
    if (rc) {
        const char *what = s->type == ZHM_SIZE ? ZH_VALUE_SIZE_HINT
                           : s->type == ZHM_MS ? ZH_VALUE_MS_HINT
                                               : ZH_VALUE_MODE_HINT;
        set_err(err, errlen, "%s: \"%s\" is not %s", s->name, value, what);
        return -1;
    }
    if (v < s->min || v > s->max) {
        set_err(err, errlen, "%s: %s is out of range [%lld, %lld]", s->name, value,
                (long long)s->min, (long long)s->max);
        return -1;
    }
    *(int64_t *)field = v;
    return 0;
}

int zhm_config_defaults(struct zhm_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    for (const struct zhm_setting *s = zhm_settings; s->name; s++) {
        if (zhm_config_set(cfg, s, s->def, 0, NULL, 0) != 0) {
            zhm_config_free(cfg);
            return -1;
        }
    }
    return 0;
}

void zhm_config_free(struct zhm_config *cfg)
{
    list_clear(cfg);
    for (const struct zhm_setting *s = zhm_settings; s->name; s++) {
        if (s->type == ZHM_STRING) {
            char **p = (char **)((char *)cfg + s->offset);
            free(*p);
            *p = NULL;
        }
    }
}

struct load_ctx {
    struct zhm_config *cfg;
    char *err;
    size_t errlen;
    int failed;
    int list_seen; /* the first engine line replaces the default list */
};

/* Debian's inih calls this without a line number; ini_parse_file returns the
 * line of the first failure, so the caller adds it to the message. */
static int on_ini(void *user, const char *section, const char *name, const char *value)
{
    struct load_ctx *lc = user;
    if (lc->failed)
        return 0;
    const struct zhm_setting *s = NULL;
    if (strcmp(section, "milter") || strchr(name, '-') || !(s = zhm_setting_find(name))) {
        set_err(lc->err, lc->errlen, "unknown setting [%s] %s", section, name);
        lc->failed = 1;
        return 0;
    }
    int append = 0;
    if (s->type == ZHM_LIST) {
        append = lc->list_seen;
        lc->list_seen = 1;
    }
    if (zhm_config_set(lc->cfg, s, value, append, lc->err, lc->errlen) != 0) {
        lc->failed = 1;
        return 0;
    }
    return 1;
}

int zhm_config_load(struct zhm_config *cfg, const char *path, char *err, size_t errlen)
{
    struct load_ctx lc = {cfg, err, errlen, 0, 0};
    FILE *f = fopen(path, "r");
    if (!f) {
        set_err(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    int line = ini_parse_file(f, on_ini, &lc);
    fclose(f);
    if (lc.failed) {
        char detail[512];
        snprintf(detail, sizeof detail, "%s", err ? err : "");
        set_err(err, errlen, "%s:%d: %s", path, line, detail);
        return -1;
    }
    if (line != 0) {
        set_err(err, errlen, "%s:%d: syntax error", path, line);
        return -1;
    }
    return 0;
}

static int same_value(const struct zhm_setting *s, const struct zhm_config *a,
                      const struct zhm_config *b)
{
    const void *fa = (const char *)a + s->offset, *fb = (const char *)b + s->offset;
    if (s->type == ZHM_LIST) {
        if (a->n_engines != b->n_engines)
            return 0;
        for (size_t i = 0; i < a->n_engines; i++)
            if (strcmp(a->engines[i], b->engines[i]))
                return 0;
        return 1;
    }
    if (s->type == ZHM_STRING) {
        const char *x = *(char *const *)fa, *y = *(char *const *)fb;
        return !strcmp(x ? x : "", y ? y : "");
    }
    return *(const int64_t *)fa == *(const int64_t *)fb;
}

void zhm_config_write(FILE *out, const struct zhm_config *cfg)
{
    struct zhm_config def;
    int have_def = zhm_config_defaults(&def) == 0;
    fprintf(out, "# zerohour-milter configuration, written by zerohour-milter --print-config.\n"
                 "# A commented line shows the default; an uncommented one is set here.\n"
                 "[milter]\n");
    for (const struct zhm_setting *s = zhm_settings; s->name; s++) {
        const void *field = (const char *)cfg + s->offset;
        char v[1024];
        zh_value_write_wrapped(out, "# ", s->help, 78);
        if (!cfg || (have_def && same_value(s, cfg, &def))) {
            fprintf(out, "# %s = %s\n", s->name, s->def);
            continue;
        }
        switch (s->type) {
        case ZHM_LIST:
            for (size_t i = 0; i < cfg->n_engines; i++)
                fprintf(out, "%s = %s\n", s->name, cfg->engines[i]);
            continue;
        case ZHM_STRING:
            snprintf(v, sizeof v, "%s", *(char *const *)field ? *(char *const *)field : "");
            break;
        case ZHM_MS:
            snprintf(v, sizeof v, "%lldms", (long long)*(const int64_t *)field);
            break;
        case ZHM_MODE:
            snprintf(v, sizeof v, "%04llo", (long long)*(const int64_t *)field);
            break;
        case ZHM_CHOICE:
            zhm_choice_name(s, *(const int64_t *)field, v, sizeof v);
            break;
        default:
            snprintf(v, sizeof v, "%lld", (long long)*(const int64_t *)field);
            break;
        }
        fprintf(out, "%s = %s\n", s->name, v);
    }
    if (have_def)
        zhm_config_free(&def);
}

void zhm_config_write_markdown(FILE *out)
{
    fprintf(out, "| setting | flag | default | values | meaning |\n|---|---|---|---|---|\n");
    for (const struct zhm_setting *s = zhm_settings; s->name; s++) {
        char flag[64], values[96] = "";
        snprintf(flag, sizeof flag, "--%s", s->name);
        for (char *p = flag; *p; p++)
            if (*p == '_')
                *p = '-';
        if (s->type == ZHM_CHOICE) {
            size_t j = 0;
            for (const char *p = s->choices; *p && j + 4 < sizeof values; p++) {
                if (*p == '|') {
                    memcpy(values + j, ", ", 2);
                    j += 2;
                } else {
                    values[j++] = *p;
                }
            }
            values[j] = 0;
        } else if (s->type == ZHM_SIZE || s->type == ZHM_MS) {
            snprintf(values, sizeof values, "%lld–%lld%s", (long long)s->min, (long long)s->max,
                     s->type == ZHM_MS ? " ms" : " bytes");
        }
        fprintf(out, "| `%s` | `%s` | `%s` | %s | %s |\n", s->name, flag,
                *s->def ? s->def : "(see meaning)", values, s->help);
    }
}

void zhm_config_write_help(FILE *out)
{
    for (const struct zhm_setting *s = zhm_settings; s->name; s++) {
        char flag[64];
        snprintf(flag, sizeof flag, "--%s", s->name);
        for (char *p = flag; *p; p++)
            if (*p == '_')
                *p = '-';
        const char *arg = s->type == ZHM_CHOICE ? s->choices
                          : s->type == ZHM_SIZE ? "BYTES"
                          : s->type == ZHM_MS   ? "MS"
                          : s->type == ZHM_MODE ? "MODE"
                          : s->type == ZHM_LIST ? "URL"
                                                : "SPEC";
        char text[512];
        snprintf(text, sizeof text, "%s%s%s%s", s->help, *s->def ? " (default " : "", s->def,
                 *s->def ? ")" : "");
        fprintf(out, "    %s %s\n", flag, arg);
        zh_value_write_wrapped(out, "        ", text, 78);
    }
}

void zhm_config_write_man(FILE *out)
{
    for (const struct zhm_setting *s = zhm_settings; s->name; s++) {
        char flag[64];
        snprintf(flag, sizeof flag, "%s", s->name);
        for (char *p = flag; *p; p++)
            if (*p == '_')
                *p = '-';
        fprintf(out, ".TP\n.BR %s \" (\\-\\-", s->name);
        zh_value_write_roff(out, flag);
        fprintf(out, ")\"\n");
        zh_value_write_roff(out, s->help);
        if (s->type == ZHM_CHOICE) {
            fprintf(out, "\n.br\nValues: ");
            zh_value_write_roff(out, s->choices);
        }
        fprintf(out, "\n.br\nDefault: ");
        zh_value_write_roff(out, *s->def ? s->def : "(empty)");
        fprintf(out, ".\n");
    }
}
