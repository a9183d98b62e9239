/* The thin clients' log lines (see log.h). */
#include "log.h"
#include "zerohour/syslog.h"

#include <stdio.h>
#include <time.h>
#include <unistd.h>

void zhc_vlog(int max, int level, const char *fmt, va_list ap)
{
    static const char *const names[] = {"error", "warn", "info", "debug"};
    char line[2048];
    struct timespec ts;
    struct tm tm;

    if (level > max || level < 0 || level > ZHC_LOG_DEBUG)
        return;
    if (zh_syslog_enabled()) {
        vsnprintf(line, sizeof line, fmt, ap);
        zh_syslog_send(level, line);
        return;
    }
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    int n = snprintf(line, sizeof line, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s ",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     ts.tv_nsec / 1000000, names[level]);
    int m = vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
    size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
    if (len > sizeof line - 2)
        len = sizeof line - 2;
    line[len++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, len);
    (void)w;
}

int zhc_log_open(int64_t target, const char *socket, const char *facility, const char *program,
                 char *err, size_t errlen)
{
    if (target == 0)
        return 0;
    return zh_syslog_open(socket, facility, program, err, errlen);
}
