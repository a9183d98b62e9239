/* Logging: one record per line on stderr, one write(2) each so threads do
 * not interleave; or, once zerohourd opened it (engine.log_target = syslog),
 * one datagram per record to the system log (zerohour/syslog.h). */
#include "zerohour/log.h"
#include "zerohour/syslog.h"

#include <errno.h> /* program_invocation_short_name */
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static atomic_int current = ZH_LOG_INFO;
static char ident[32]; /* "" until set: the program's own name */

void zh_log_set_ident(const char *name)
{
    snprintf(ident, sizeof ident, "%s", name ? name : "");
}
static const char *const names[] = {"error", "warn", "info", "debug"};

int zh_log_level_parse(const char *name)
{
    for (int i = 0; i < 4; i++)
        if (name && !strcasecmp(name, names[i]))
            return i;
    if (name && !strcasecmp(name, "warning"))
        return ZH_LOG_WARN;
    return -1;
}

void zh_log_set_level(int level)
{
    atomic_store(&current, level);
}

int zh_log_enabled(int level)
{
    return level <= atomic_load(&current);
}

void zh_log(int level, const char *fmt, ...)
{
    if (!zh_log_enabled(level))
        return;
    char buf[2048];
    if (zh_syslog_enabled()) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(buf, sizeof buf, fmt, ap);
        va_end(ap);
        zh_syslog_send(level, buf);
        return;
    }
    struct timeval tv;
    struct tm tm;
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    int n = (int)strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
    n += snprintf(buf + n, sizeof buf - (size_t)n, ".%03ldZ %s[%d] %s: ", (long)tv.tv_usec / 1000,
                  *ident ? ident : program_invocation_short_name, (int)getpid(),
                  names[level < 0   ? 0
                        : level > 3 ? 3
                                    : level]);
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(buf + n, sizeof buf - (size_t)n - 1, fmt, ap);
    va_end(ap);
    n = m < 0 ? n : (size_t)(n + m) >= sizeof buf - 1 ? (int)sizeof buf - 2 : n + m;
    buf[n++] = '\n';
    ssize_t w = write(STDERR_FILENO, buf, (size_t)n);
    (void)w;
}
