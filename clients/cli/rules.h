/* rules.h — offline rule tools of the zerohour CLI (rules.c). */
#ifndef ZH_CLI_RULES_H
#define ZH_CLI_RULES_H

#include <stddef.h>

/* Compile DIR as the engine would; print errors and warnings with file:line.
 * Returns 0 when it compiles, 1 when it does not. */
int zh_cli_rules_check(const char *dir, int json);
/* Scan each message offline with DIR's rules and show every hit, YARA hits
 * with their matched strings and offsets. Returns 0 all clean, 1 something
 * flagged, 2 errors. */
int zh_cli_rules_test(const char *dir, char **messages, size_t n, int json);
/* Time every rule of DIR on the objects of the messages, slowest first.
 * Returns 0, 1 when some messages were skipped (not mail), 2 on errors. */
int zh_cli_rules_profile(const char *dir, char **messages, size_t n, int json);

#endif
