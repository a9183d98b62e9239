/* zerohour/syslog.h — log records to the system log, for zerohourd and the
 * milter (log_target = syslog). A small client of the syslog datagram
 * socket (/dev/log, where journald or rsyslog listen) rather than syslog(3),
 * so the socket is a setting and a test can listen on its own. One record
 * per sendto(2): records from many threads never interleave. */
#ifndef ZEROHOUR_SYSLOG_H
#define ZEROHOUR_SYSLOG_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Send records to the datagram socket at path, tagged ident[pid], under
 * facility ("mail", "daemon", "user", "local0".."local7"). Call once, from
 * main() before threads log. Returns 0, or -1 with the reason in err (an
 * unknown facility, a path too long, no socket); the socket need not be
 * answering yet: records are sent to the path each time. */
int zh_syslog_open(const char *path, const char *facility, const char *ident, char *err,
                   size_t errlen);
/* 1 once zh_syslog_open succeeded. */
int zh_syslog_enabled(void);
/* One record at level 0 error, 1 warning, 2 info, 3 debug. Control
 * characters in msg are sent as '?'. Thread-safe; never blocks for long
 * (a full socket buffer drops the record). */
void zh_syslog_send(int level, const char *msg);
/* Is name a facility zh_syslog_open knows? */
int zh_syslog_facility_ok(const char *name);

#ifdef __cplusplus
}
#endif
#endif
