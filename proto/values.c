/* Settings values as users write them; one syntax for every program, so a
 * size or a time means the same in zerohourd's and the milter's files. */
#include "zerohour/values.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define KiB 1024LL
#define MiB (1024LL * 1024)
#define GiB (1024LL * 1024 * 1024)

struct unit {
    const char *suffix;
    int64_t mul;
};

static const struct unit size_units[] = {
    {"", 1},     {"K", KiB},   {"k", KiB}, {"KB", KiB}, {"KiB", KiB}, {"M", MiB},   {"m", MiB},
    {"MB", MiB}, {"MiB", MiB}, {"G", GiB}, {"g", GiB},  {"GB", GiB},  {"GiB", GiB}, {NULL, 0},
};
static const struct unit ms_units[] = {
    {"", 1}, {"ms", 1}, {"s", 1000}, {"m", 60000}, {"min", 60000}, {"h", 3600000}, {NULL, 0},
};
static const struct unit no_units[] = {{"", 1}, {NULL, 0}};

/* Digits in base, then one of units' suffixes. */
static int parse(const char *s, int base, const struct unit *units, int64_t *out)
{
    if (!s || *s < '0' || *s > '9') /* no sign, no leading space */
        return -1;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, base);
    if (errno || end == s)
        return -1;
    for (const struct unit *u = units; u->suffix; u++) {
        if (!strcmp(end, u->suffix)) {
            if (v > INT64_MAX / u->mul)
                return -1;
            *out = v * u->mul;
            return 0;
        }
    }
    return -1;
}

int zh_value_size(const char *s, int64_t *out)
{
    return parse(s, 10, size_units, out);
}

int zh_value_ms(const char *s, int64_t *out)
{
    return parse(s, 10, ms_units, out);
}

int zh_value_mode(const char *s, int64_t *out)
{
    return parse(s, 8, no_units, out);
}

int zh_value_int(const char *s, int64_t *out)
{
    return parse(s, 10, no_units, out);
}

void zh_value_write_wrapped(FILE *out, const char *prefix, const char *text, size_t width)
{
    size_t room = width > strlen(prefix) + 20 ? width - strlen(prefix) : 20;
    const char *p = text;
    while (*p) {
        size_t len = strlen(p), cut = len;
        if (len > room) {
            cut = room;
            while (cut > 0 && p[cut] != ' ')
                cut--;
            if (cut == 0)
                cut = strcspn(p, " ");
        }
        fprintf(out, "%s%.*s\n", prefix, (int)cut, p);
        p += cut;
        while (*p == ' ')
            p++;
    }
}

void zh_value_write_roff(FILE *out, const char *text)
{
    if (*text == '.' || *text == '\'')
        fputs("\\&", out);
    for (const char *p = text; *p; p++) {
        if (*p == '\\')
            fputs("\\e", out);
        else if (*p == '-')
            fputs("\\-", out);
        else
            fputc(*p, out);
    }
}
