/* zerohour/log.h — one-line log records on stderr: time, program[pid],
 * level, message. Thread-safe (one write(2) per record). */
#ifndef ZEROHOUR_LOG_H
#define ZEROHOUR_LOG_H

#ifdef __cplusplus
extern "C" {
#endif

enum zh_log_level { ZH_LOG_ERROR = 0, ZH_LOG_WARN = 1, ZH_LOG_INFO = 2, ZH_LOG_DEBUG = 3 };

/* Parse "error", "warn", "info", "debug"; -1 if unknown. */
int zh_log_level_parse(const char *name);
void zh_log_set_level(int level);
/* The program name records carry (default: the executable's name). Call
 * before any thread logs. */
void zh_log_set_ident(const char *name);
int zh_log_enabled(int level);
void zh_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#ifdef __cplusplus
}
#endif
#endif
