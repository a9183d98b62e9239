/* zerohour/service.h — what every zerohour service (zerohourd, the milter)
 * does the same way as a system daemon: give its unix sockets an owner and
 * group, and, started as root, become an unprivileged user once its sockets
 * are bound, as Postfix and clamd do. Not thread-aware: call from main();
 * glibc applies set*id to every thread of the process. */
#ifndef ZEROHOUR_SERVICE_H
#define ZEROHOUR_SERVICE_H

#include <stddef.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Give the socket file at path the owner uid ((uid_t)-1: unchanged) and the
 * group named group (NULL or "": unchanged). The file must be a socket (a
 * link or another file there is refused, never followed). Returns 0, or -1
 * with the reason in err. */
int zh_service_socket_owner(const char *path, uid_t uid, const char *group, char *err,
                            size_t errlen);

/* Look up user (and group; NULL or "": the user's primary group). Returns
 * 0 with *uid and *gid set, or -1 with the reason in err. */
int zh_service_lookup(const char *user, const char *group, uid_t *uid, gid_t *gid, char *err,
                      size_t errlen);

/* Become user (with group, and the user's supplementary groups) for good.
 * From root: initgroups, setgid, setuid, then check that root cannot be
 * regained. Not root: succeeds only when already running as that user.
 * Returns 0, or -1 with the reason in err. */
int zh_service_become(const char *user, const char *group, char *err, size_t errlen);

#ifdef __cplusplus
}
#endif
#endif
