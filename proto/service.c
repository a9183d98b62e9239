/* Socket ownership and dropping root, shared by zerohourd and the milter
 * (zerohour/service.h). Names are looked up with getpwnam_r/getgrnam_r. */
#include "zerohour/service.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

static int group_id(const char *group, gid_t *gid, char *err, size_t errlen)
{
    struct group gr, *res = NULL;
    char buf[4096];
    int rc = getgrnam_r(group, &gr, buf, sizeof buf, &res);
    if (rc || !res)
        return fail(err, errlen, "unknown group \"%s\"%s%s", group, rc ? ": " : "",
                    rc ? strerror(rc) : "");
    *gid = gr.gr_gid;
    return 0;
}

int zh_service_lookup(const char *user, const char *group, uid_t *uid, gid_t *gid, char *err,
                      size_t errlen)
{
    struct passwd pw, *res = NULL;
    char buf[4096];
    int rc = getpwnam_r(user, &pw, buf, sizeof buf, &res);
    if (rc || !res)
        return fail(err, errlen, "unknown user \"%s\"%s%s", user, rc ? ": " : "",
                    rc ? strerror(rc) : "");
    *uid = pw.pw_uid;
    *gid = pw.pw_gid;
    return group && *group ? group_id(group, gid, err, errlen) : 0;
}

int zh_service_socket_owner(const char *path, uid_t uid, const char *group, char *err,
                            size_t errlen)
{
    gid_t gid = (gid_t)-1;
    if (group && *group && group_id(group, &gid, err, errlen) != 0)
        return -1;
    if (uid == (uid_t)-1 && gid == (gid_t)-1)
        return 0;
    /* O_PATH|O_NOFOLLOW: the name is checked and changed as one object, and
     * a link put in its place is not followed. */
    int fd = open(path, O_PATH | O_NOFOLLOW | O_CLOEXEC);
    struct stat st;
    if (fd < 0)
        return fail(err, errlen, "%s: %s", path, strerror(errno));
    if (fstat(fd, &st) != 0 || !S_ISSOCK(st.st_mode)) {
        close(fd);
        return fail(err, errlen, "%s is not a socket; its owner is left alone", path);
    }
    int rc = fchownat(fd, "", uid, gid, AT_EMPTY_PATH);
    int e = errno;
    close(fd);
    if (rc != 0)
        return fail(err, errlen, "cannot give %s to %s%s%s: %s", path,
                    uid != (uid_t)-1 ? "its user" : "", uid != (uid_t)-1 && group ? " and " : "",
                    group && *group ? group : "", strerror(e));
    return 0;
}

int zh_service_become(const char *user, const char *group, char *err, size_t errlen)
{
    uid_t uid;
    gid_t gid;
    if (zh_service_lookup(user, group, &uid, &gid, err, errlen) != 0)
        return -1;
    if (geteuid() != 0) {
        if (geteuid() == uid)
            return 0;
        return fail(err, errlen, "only root can become user \"%s\" (running as uid %u)", user,
                    (unsigned)geteuid());
    }
    if (uid == 0)
        return fail(err, errlen, "user \"%s\" is root; name an unprivileged user", user);
    if (initgroups(user, gid) != 0 || setgid(gid) != 0 || setuid(uid) != 0)
        return fail(err, errlen, "cannot become user \"%s\": %s", user, strerror(errno));
    if (setuid(0) == 0 || geteuid() == 0)
        return fail(err, errlen, "still able to regain root after becoming \"%s\"", user);
    return 0;
}
