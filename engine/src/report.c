/* Rule-set reports: the errors and warnings a compilation (YARA rules and
 * heuristics.ini alike) hands back to zerohourd, the Reload call and the
 * offline `zerohour rules` tools. */
#include "zhi.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void zh_rules_report_free(struct zh_rules_report *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n_errors; i++)
        free(r->errors[i]);
    for (size_t i = 0; i < r->n_warnings; i++)
        free(r->warnings[i]);
    free(r->errors);
    free(r->warnings);
    memset(r, 0, sizeof *r);
}

void zhi_report_add(char ***list, size_t *n, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    char **grown = realloc(*list, (*n + 1) * sizeof **list);
    if (!grown)
        return;
    *list = grown;
    if ((grown[*n] = strdup(buf)))
        (*n)++;
}
