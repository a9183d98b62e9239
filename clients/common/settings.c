/* The thin clients' settings: value parsing against one program's table,
 * its INI section, its flags and --set, and the help, sample configuration
 * and README table generated from the same rows. Not the programs' own
 * options (--config, --help...): each main() keeps those. */
#include "settings.h"
#include "zerohour/client.h"
#include "zerohour/values.h"

#include <errno.h>
#include <ini.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
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

const char *zhc_choice_name(const struct zhc_setting *s, int64_t v, char *buf, size_t n)
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

const char *zhc_choice_of(const struct zhc_table *t, const char *name, int64_t v, char *buf,
                          size_t n)
{
    const struct zhc_setting *s = zhc_setting_find(t, name);
    if (!s || s->type != ZHC_CHOICE) {
        snprintf(buf, n, "?");
        return buf;
    }
    return zhc_choice_name(s, v, buf, n);
}

const struct zhc_setting *zhc_setting_find(const struct zhc_table *t, const char *name)
{
    char norm[64];
    size_t i;
    for (i = 0; name[i] && i + 1 < sizeof norm; i++)
        norm[i] = name[i] == '-' ? '_' : name[i];
    norm[i] = 0;
    if (name[i])
        return NULL; /* longer than any name */
    for (const struct zhc_setting *s = t->settings; s->name; s++)
        if (!strcmp(s->name, norm))
            return s;
    return NULL;
}

static void list_clear(struct zhc_list *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->v[i]);
        l->v[i] = NULL;
    }
    l->n = 0;
}

int zhc_config_set(void *cfg, const struct zhc_setting *s, const char *value, int append, char *err,
                   size_t errlen)
{
    void *field = (char *)cfg + s->offset;
    int64_t v = 0;
    int rc = 0;

    switch (s->type) {
    case ZHC_STRING: {
        char *dup = strdup(value);
        if (!dup) {
            set_err(err, errlen, "out of memory");
            return -1;
        }
        free(*(char **)field);
        *(char **)field = dup;
        return 0;
    }
    case ZHC_LIST: {
        struct zhc_list *l = field;
        if (!append)
            list_clear(l);
        if (!*value)
            return 0;
        if (l->n >= ZHC_LIST_MAX) {
            set_err(err, errlen, "%s: at most %d values", s->name, ZHC_LIST_MAX);
            return -1;
        }
        if (!(l->v[l->n] = strdup(value))) {
            set_err(err, errlen, "out of memory");
            return -1;
        }
        l->n++;
        return 0;
    }
    case ZHC_SIZE:
        rc = zh_value_size(value, &v);
        break;
    case ZHC_MS:
        rc = zh_value_ms(value, &v);
        break;
    case ZHC_MODE:
        rc = zh_value_mode(value, &v);
        break;
    case ZHC_COUNT: {
        char *end;
        errno = 0;
        long long n = strtoll(value, &end, 10);
        rc = errno || !*value || *end ? -1 : 0;
        v = n;
        break;
    }
    case ZHC_CHOICE: {
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
        const char *what = s->type == ZHC_SIZE    ? ZH_VALUE_SIZE_HINT
                           : s->type == ZHC_MS    ? ZH_VALUE_MS_HINT
                           : s->type == ZHC_COUNT ? "a whole number"
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

int zhc_config_defaults(const struct zhc_table *t, void *cfg)
{
    for (const struct zhc_setting *s = t->settings; s->name; s++) {
        if (zhc_config_set(cfg, s, s->def, 0, NULL, 0) != 0) {
            zhc_config_free(t, cfg);
            return -1;
        }
    }
    return 0;
}

void zhc_config_free(const struct zhc_table *t, void *cfg)
{
    for (const struct zhc_setting *s = t->settings; s->name; s++) {
        void *field = (char *)cfg + s->offset;
        if (s->type == ZHC_STRING) {
            free(*(char **)field);
            *(char **)field = NULL;
        } else if (s->type == ZHC_LIST) {
            list_clear(field);
        }
    }
}

struct load_ctx {
    const struct zhc_table *t;
    void *cfg;
    char *err;
    size_t errlen;
    int failed;
    uint64_t lists_seen; /* by row index: the first line of a list replaces the default */
};

/* Debian's inih calls this without a line number; ini_parse_file returns the
 * line of the first failure, so the caller adds it to the message. */
static int on_ini(void *user, const char *section, const char *name, const char *value)
{
    struct load_ctx *lc = user;
    if (lc->failed)
        return 0;
    const struct zhc_setting *s = NULL;
    if (strcmp(section, lc->t->section) || strchr(name, '-') ||
        !(s = zhc_setting_find(lc->t, name))) {
        set_err(lc->err, lc->errlen, "unknown setting [%s] %s", section, name);
        lc->failed = 1;
        return 0;
    }
    int append = 0;
    if (s->type == ZHC_LIST) {
        uint64_t bit = 1ULL << ((size_t)(s - lc->t->settings) % 64);
        append = (lc->lists_seen & bit) != 0;
        lc->lists_seen |= bit;
    }
    if (zhc_config_set(lc->cfg, s, value, append, lc->err, lc->errlen) != 0) {
        lc->failed = 1;
        return 0;
    }
    return 1;
}

int zhc_config_load(const struct zhc_table *t, void *cfg, const char *path, char *err,
                    size_t errlen)
{
    struct load_ctx lc = {t, cfg, err, errlen, 0, 0};
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

/* "--socket-mode" for "socket_mode". */
static void flag_name(const struct zhc_setting *s, char *buf, size_t n)
{
    snprintf(buf, n, "--%s", s->name);
    for (char *p = buf; *p; p++)
        if (*p == '_')
            *p = '-';
}

/* Parse s's default into a scratch field (the row with offset 0), so a
 * configured value can be compared with it. */
union zhc_scratch {
    char *str;
    int64_t num;
    struct zhc_list list;
};

static void scratch_free(const struct zhc_setting *s, union zhc_scratch *v)
{
    if (s->type == ZHC_STRING)
        free(v->str);
    else if (s->type == ZHC_LIST)
        list_clear(&v->list);
}

/* 1 when the field of cfg holds s's default (or the default cannot be read
 * back: then the value is written out, which loads the same). */
static int at_default(const struct zhc_setting *s, const void *cfg)
{
    const void *field = (const char *)cfg + s->offset;
    struct zhc_setting row = *s;
    union zhc_scratch d;
    memset(&d, 0, sizeof d);
    row.offset = 0;
    if (zhc_config_set(&d, &row, s->def, 0, NULL, 0) != 0) {
        scratch_free(s, &d);
        return 0;
    }
    int same;
    if (s->type == ZHC_LIST) {
        const struct zhc_list *l = field;
        same = l->n == d.list.n;
        for (size_t i = 0; same && i < l->n; i++)
            same = !strcmp(l->v[i], d.list.v[i]);
    } else if (s->type == ZHC_STRING) {
        const char *x = *(char *const *)field;
        same = !strcmp(x ? x : "", d.str ? d.str : "");
    } else {
        same = *(const int64_t *)field == d.num;
    }
    scratch_free(s, &d);
    return same;
}

void zhc_config_write(const struct zhc_table *t, const void *cfg, FILE *out)
{
    fprintf(out,
            "# %s configuration, written by %s --print-config.\n"
            "# A commented line shows the default; an uncommented one is set here.\n[%s]\n",
            t->program, t->program, t->section);
    for (const struct zhc_setting *s = t->settings; s->name; s++) {
        const void *field = cfg ? (const char *)cfg + s->offset : NULL;
        char v[1024];
        zh_value_write_wrapped(out, "# ", s->help, 78);
        if (!cfg || at_default(s, cfg)) {
            fprintf(out, "# %s = %s\n", s->name, s->def);
            continue;
        }
        switch (s->type) {
        case ZHC_LIST: {
            const struct zhc_list *l = field;
            if (!l->n)
                fprintf(out, "%s =\n", s->name);
            for (size_t i = 0; i < l->n; i++)
                fprintf(out, "%s = %s\n", s->name, l->v[i]);
            continue;
        }
        case ZHC_STRING:
            snprintf(v, sizeof v, "%s", *(char *const *)field ? *(char *const *)field : "");
            break;
        case ZHC_MS:
            snprintf(v, sizeof v, "%lldms", (long long)*(const int64_t *)field);
            break;
        case ZHC_MODE:
            snprintf(v, sizeof v, "%04llo", (long long)*(const int64_t *)field);
            break;
        case ZHC_CHOICE:
            zhc_choice_name(s, *(const int64_t *)field, v, sizeof v);
            break;
        case ZHC_SIZE:
        case ZHC_COUNT:
            snprintf(v, sizeof v, "%lld", (long long)*(const int64_t *)field);
            break;
        }
        fprintf(out, "%s = %s\n", s->name, v);
    }
}

void zhc_config_write_sample(const struct zhc_table *t, FILE *out)
{
    zhc_config_write(t, NULL, out);
}

void zhc_config_write_man(const struct zhc_table *t, FILE *out)
{
    for (const struct zhc_setting *s = t->settings; s->name; s++) {
        char flag[64];
        flag_name(s, flag, sizeof flag);
        fprintf(out, ".TP\n.BR %s \" (\\-\\-", s->name);
        zh_value_write_roff(out, flag + 2);
        fprintf(out, ")\"\n");
        zh_value_write_roff(out, s->help);
        if (s->type == ZHC_CHOICE) {
            fprintf(out, "\n.br\nValues: ");
            zh_value_write_roff(out, s->choices);
        }
        fprintf(out, "\n.br\nDefault: ");
        zh_value_write_roff(out, *s->def ? s->def : "(empty)");
        fprintf(out, ".\n");
    }
}

void zhc_config_write_markdown(const struct zhc_table *t, FILE *out)
{
    fprintf(out, "| setting | flag | default | values | meaning |\n|---|---|---|---|---|\n");
    for (const struct zhc_setting *s = t->settings; s->name; s++) {
        char flag[64], values[96] = "";
        flag_name(s, flag, sizeof flag);
        if (s->type == ZHC_CHOICE) {
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
        } else if (s->type == ZHC_SIZE || s->type == ZHC_MS || s->type == ZHC_COUNT) {
            snprintf(values, sizeof values, "%lld–%lld%s", (long long)s->min, (long long)s->max,
                     s->type == ZHC_MS     ? " ms"
                     : s->type == ZHC_SIZE ? " bytes"
                                           : "");
        }
        fprintf(out, "| `%s` | `%s` | `%s` | %s | %s |\n", s->name, flag,
                *s->def ? s->def : "(see meaning)", values, s->help);
    }
}

void zhc_config_write_help(const struct zhc_table *t, FILE *out)
{
    for (const struct zhc_setting *s = t->settings; s->name; s++) {
        char flag[64];
        flag_name(s, flag, sizeof flag);
        const char *arg = s->type == ZHC_CHOICE  ? s->choices
                          : s->type == ZHC_SIZE  ? "BYTES"
                          : s->type == ZHC_MS    ? "MS"
                          : s->type == ZHC_MODE  ? "MODE"
                          : s->type == ZHC_COUNT ? "N"
                          : s->type == ZHC_LIST  ? "URL"
                                                 : "SPEC";
        char text[512];
        snprintf(text, sizeof text, "%s%s%s%s", s->help, *s->def ? " (default " : "", s->def,
                 *s->def ? ")" : "");
        fprintf(out, "    %s %s\n", flag, arg);
        zh_value_write_wrapped(out, "        ", text, 78);
    }
    fprintf(out, "    --set NAME=VALUE\n"
                 "        any setting above by its INI name, as in the configuration file\n");
}

struct option *zhc_options_build(const struct zhc_table *t, const struct option *fixed,
                                 size_t n_fixed)
{
    size_t n = 0;
    while (t->settings[n].name)
        n++;
    struct option *o = calloc(n_fixed + n + 2, sizeof *o);
    if (!o)
        return NULL;
    if (n_fixed)
        memcpy(o, fixed, n_fixed * sizeof *o);
    for (size_t i = 0; i < n; i++) {
        char flag[64];
        flag_name(&t->settings[i], flag, sizeof flag);
        char *name = strdup(flag + 2);
        if (!name) {
            zhc_options_free(o);
            return NULL;
        }
        o[n_fixed + i] = (struct option){name, required_argument, NULL, ZHC_OPT_SETTING + (int)i};
    }
    o[n_fixed + n] = (struct option){"set", required_argument, NULL, ZHC_OPT_SET};
    return o;
}

void zhc_options_free(struct option *o)
{
    if (!o)
        return;
    for (struct option *p = o; p->name; p++)
        if (p->val >= ZHC_OPT_SETTING)
            free((char *)p->name);
    free(o);
}

int zhc_config_apply_flags(const struct zhc_table *t, void *cfg, int argc, char **argv,
                           const struct option *longopts, char *err, size_t errlen)
{
    uint64_t lists_seen = 0;
    int opt;
    optind = 0;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":", longopts, NULL)) != -1) {
        const struct zhc_setting *s;
        const char *value = optarg;
        char name[64];
        if (opt == ZHC_OPT_SET) {
            const char *eq = strchr(optarg, '=');
            size_t nl = eq ? (size_t)(eq - optarg) : 0;
            if (!eq || nl == 0 || nl >= sizeof name) {
                set_err(err, errlen, "set: \"%s\" is not NAME=VALUE", optarg);
                return -1;
            }
            memcpy(name, optarg, nl);
            name[nl] = 0;
            if (!(s = zhc_setting_find(t, name))) {
                set_err(err, errlen, "set: %s has no setting \"%s\"", t->program, name);
                return -1;
            }
            value = eq + 1;
        } else if (opt >= ZHC_OPT_SETTING) {
            s = &t->settings[opt - ZHC_OPT_SETTING];
        } else {
            continue;
        }
        int append = 0;
        if (s->type == ZHC_LIST) {
            uint64_t bit = 1ULL << ((size_t)(s - t->settings) % 64);
            append = (lists_seen & bit) != 0;
            lists_seen |= bit;
        }
        if (zhc_config_set(cfg, s, value, append, err, errlen) != 0)
            return -1;
    }
    return 0;
}

enum {
    OPT_CONFIG = 1000,
    OPT_PRINT,
    OPT_MARKDOWN,
    OPT_MAN,
    OPT_CHECK,
    OPT_VERSION,
    OPT_HELP,
    OPT_EXTRA
};

enum zhc_cli_what zhc_cli_configure(const struct zhc_table *t, void *cfg, int argc, char **argv,
                                    const char *const *extra, char *err, size_t errlen)
{
    struct option fixed[16] = {
        {"config", required_argument, NULL, OPT_CONFIG},
        {"print-config", no_argument, NULL, OPT_PRINT},
        {"settings-markdown", no_argument, NULL, OPT_MARKDOWN},
        {"settings-man", no_argument, NULL, OPT_MAN},
        {"check", no_argument, NULL, OPT_CHECK},
        {"version", no_argument, NULL, OPT_VERSION},
        {"help", no_argument, NULL, OPT_HELP},
    };
    size_t n_fixed = 7;
    for (; extra && *extra && n_fixed < sizeof fixed / sizeof *fixed; extra++)
        fixed[n_fixed++] = (struct option){*extra, no_argument, NULL, OPT_EXTRA};
    struct option *longopts = zhc_options_build(t, fixed, n_fixed);
    if (!longopts)
        return ZHC_CLI_NOMEM;
    const char *config_path = NULL;
    enum zhc_cli_what what = ZHC_CLI_RUN;
    int opt, mode = 0;

    /* Pass 1: --config and the informational options. */
    optind = 0;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":", longopts, NULL)) != -1) {
        switch (opt) {
        case OPT_CONFIG:
            config_path = optarg;
            break;
        case OPT_HELP:
            what = ZHC_CLI_HELP;
            goto out;
        case OPT_VERSION:
            what = ZHC_CLI_VERSION;
            goto out;
        case OPT_PRINT:
        case OPT_MARKDOWN:
        case OPT_MAN:
        case OPT_CHECK:
            mode = opt;
            break;
        case ':':
            set_err(err, errlen, "option %s needs a value", argv[optind - 1]);
            what = ZHC_CLI_USAGE;
            goto out;
        case '?':
            set_err(err, errlen, "unknown option %s; try --help", argv[optind - 1]);
            what = ZHC_CLI_USAGE;
            goto out;
        default:
            break;
        }
    }
    if (optind < argc) {
        set_err(err, errlen, "unexpected argument \"%s\"; try --help", argv[optind]);
        what = ZHC_CLI_USAGE;
        goto out;
    }
    if (mode == OPT_MARKDOWN || mode == OPT_MAN) {
        (mode == OPT_MAN ? zhc_config_write_man : zhc_config_write_markdown)(t, stdout);
        what = ZHC_CLI_DONE;
        goto out;
    }
    if (config_path && zhc_config_load(t, cfg, config_path, err, errlen) != 0) {
        what = ZHC_CLI_USAGE;
        goto out;
    }
    /* Pass 2: flags override the file. */
    char ferr[512];
    if (zhc_config_apply_flags(t, cfg, argc, argv, longopts, ferr, sizeof ferr) != 0) {
        set_err(err, errlen, "--%s", ferr);
        what = ZHC_CLI_USAGE;
        goto out;
    }
    if (mode == OPT_PRINT) {
        zhc_config_write(t, cfg, stdout);
        what = ZHC_CLI_DONE;
        goto out;
    }
    what = mode == OPT_CHECK ? ZHC_CLI_CHECK : ZHC_CLI_RUN;
out:
    zhc_options_free(longopts);
    return what;
}

int zhc_engine_addresses(const struct zhc_list *list, char *def, size_t deflen,
                         const char *const **addrs, size_t *n)
{
    static const char *one[1];
    if (list->n) {
        *addrs = (const char *const *)list->v;
        *n = list->n;
        return 0;
    }
    if (zh_client_default_address(def, deflen) != ZH_OK)
        return -1;
    one[0] = def;
    *addrs = one;
    *n = 1;
    return 0;
}
