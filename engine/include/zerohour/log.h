/* zerohour/log.h — one-line log records on stderr: time, level, message.
 * Thread-safe (one write(2) per record). */
#ifndef ZEROHOUR_LOG_H
#define ZEROHOUR_LOG_H

#ifdef __cplusplus
extern "C" {
#endif

enum zh_log_level { ZH_LOG_ERROR = 0, ZH_LOG_WARN = 1, ZH_LOG_INFO = 2, ZH_LOG_DEBUG = 3 };

/* Parse "error", "warn", "info", "debug"; -1 if unknown. */
int zh_log_level_parse(const char *name);
void zh_log_set_level(int level);
int zh_log_enabled(int level);
void zh_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#ifdef __cplusplus
}
#endif
#endif
