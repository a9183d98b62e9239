/* log.h — the thin clients' log: one record per line on stderr, written with
 * one write(2) so lines from concurrent sessions never interleave, with a UTC
 * timestamp and the level's name; or, once the program called
 * zh_syslog_open (log_target = syslog), one datagram per record to the
 * system log. Thread-safe. */
#ifndef ZHC_LOG_H
#define ZHC_LOG_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

enum zhc_log_level { ZHC_LOG_ERROR, ZHC_LOG_WARN, ZHC_LOG_INFO, ZHC_LOG_DEBUG };

/* Write the record when level <= max (enum zhc_log_level). */
void zhc_vlog(int max, int level, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

/* log_target = syslog (ZHC_ROWS_LOG): send the log there from now on
 * (zhc_vlog). target 0 is stderr: nothing to do. Returns 0, or -1 with err. */
int zhc_log_open(int64_t target, const char *socket, const char *facility, const char *program,
                 char *err, size_t errlen);

#endif
