/* The syslog client of zerohour/syslog.h: RFC 3164 records ("<PRI>Mmm dd
 * hh:mm:ss ident[pid]: message") sent to a unix datagram socket, as
 * syslog(3) does, without its process-wide state. */
#include "zerohour/syslog.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static int fd = -1;
static struct sockaddr_un addr;
static int facility_code;
static char ident[32];

static const struct {
    const char *name;
    int code;
} facilities[] = {
    {"user", 1},    {"mail", 2},    {"daemon", 3},  {"local0", 16}, {"local1", 17}, {"local2", 18},
    {"local3", 19}, {"local4", 20}, {"local5", 21}, {"local6", 22}, {"local7", 23},
};

static int facility_lookup(const char *name)
{
    for (size_t i = 0; name && i < sizeof facilities / sizeof *facilities; i++)
        if (!strcmp(facilities[i].name, name))
            return facilities[i].code;
    return -1;
}

int zh_syslog_facility_ok(const char *name)
{
    return facility_lookup(name) >= 0;
}

int zh_syslog_open(const char *path, const char *facility, const char *id, char *err, size_t errlen)
{
    int code = facility_lookup(facility);
    if (code < 0) {
        snprintf(err, errlen, "unknown syslog facility \"%s\" (mail, daemon, user, local0-7)",
                 facility ? facility : "");
        return -1;
    }
    if (!path || !*path || strlen(path) >= sizeof addr.sun_path) {
        snprintf(err, errlen, "syslog socket path \"%s\" is empty or too long", path ? path : "");
        return -1;
    }
    int s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (s < 0) {
        snprintf(err, errlen, "syslog socket: %s", strerror(errno));
        return -1;
    }
    memset(&addr, 0, sizeof addr);
    addr.sun_family = AF_UNIX;
    memcpy(addr.sun_path, path, strlen(path) + 1);
    facility_code = code;
    snprintf(ident, sizeof ident, "%s", id ? id : "zerohour");
    fd = s;
    return 0;
}

int zh_syslog_enabled(void)
{
    return fd >= 0;
}

void zh_syslog_send(int level, const char *msg)
{
    static const int severity[] = {3, 4, 6, 7}; /* err, warning, info, debug */
    if (fd < 0)
        return;
    char rec[2048], stamp[32];
    struct tm tm;
    time_t now = time(NULL);
    localtime_r(&now, &tm);
    strftime(stamp, sizeof stamp, "%b %e %H:%M:%S", &tm);
    int n = snprintf(rec, sizeof rec, "<%d>%s %s[%d]: ",
                     facility_code * 8 + severity[level < 0   ? 0
                                                  : level > 3 ? 3
                                                              : level],
                     stamp, ident, (int)getpid());
    if (n < 0 || (size_t)n >= sizeof rec)
        return;
    size_t len = (size_t)n;
    for (const char *p = msg; *p && len < sizeof rec - 1; p++)
        rec[len++] = (unsigned char)*p < 0x20 || *p == 0x7f ? '?' : *p;
    ssize_t w = sendto(fd, rec, len, MSG_NOSIGNAL, (const struct sockaddr *)&addr, sizeof addr);
    (void)w; /* no syslog daemon, or its queue full: the record is lost, as with syslog(3) */
}
