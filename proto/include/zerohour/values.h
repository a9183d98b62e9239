/* zerohour/values.h — how settings values are written, the same for every
 * zerohour program (zerohourd's INI and --set, the milter's INI and flags):
 * sizes with binary units, times with units, octal modes, plain integers.
 * Each parser returns 0 and sets *out, or -1 (and leaves *out) when the text
 * is not such a value: a sign, trailing junk and overflow are all refused. */
#ifndef ZEROHOUR_VALUES_H
#define ZEROHOUR_VALUES_H

#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* "512", "64K", "32M", "1G" (also k/m/g, KB, KiB): bytes. */
int zh_value_size(const char *s, int64_t *out);
/* "250", "250ms", "30s", "10m" (or "min"), "24h": milliseconds. */
int zh_value_ms(const char *s, int64_t *out);
/* "0660": an octal file mode. */
int zh_value_mode(const char *s, int64_t *out);
/* "42": a decimal integer, not negative. */
int zh_value_int(const char *s, int64_t *out);

/* Write text word-wrapped in lines of at most width columns, each starting
 * with prefix ("# " for settings files, whose reader takes lines of
 * limited length; spaces for --help). */
void zh_value_write_wrapped(FILE *out, const char *prefix, const char *text, size_t width);

/* Write text for a man page: backslashes and hyphens escaped, and a line
 * never starting with '.' or '\'' (roff would read a request). */
void zh_value_write_roff(FILE *out, const char *text);

/* What each parser accepts, for error messages ("is not a size such as …"). */
#define ZH_VALUE_SIZE_HINT "a size such as 512K or 32M"
#define ZH_VALUE_MS_HINT "a time such as 500ms, 30s, 10m or 24h"
#define ZH_VALUE_MODE_HINT "an octal mode such as 0660"
#define ZH_VALUE_INT_HINT "an integer"

#ifdef __cplusplus
}
#endif
#endif
