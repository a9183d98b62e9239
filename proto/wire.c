/* Call/reply envelopes, names and the default address shared by the engine
 * and the clients. Holds no state. */
#include "zerohour/wire.h"
#include "zerohour/verdict.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int zh_default_address(char *buf, size_t n)
{
    const char *env = getenv(ZH_ADDRESS_ENV);
    int r;
    if (env && *env) {
        r = snprintf(buf, n, "%s", env);
    } else if (geteuid() == 0) {
        r = snprintf(buf, n, "ipc:///run/zerohour/zerohour.sock");
    } else {
        const char *xdg = getenv("XDG_RUNTIME_DIR");
        struct stat st;
        if (xdg && *xdg == '/' && stat(xdg, &st) == 0 && S_ISDIR(st.st_mode))
            r = snprintf(buf, n, "ipc://%s/zerohour.sock", xdg);
        else
            r = snprintf(buf, n, "ipc:///tmp/zerohour-%u/zerohour.sock", (unsigned)geteuid());
    }
    return (r < 0 || (size_t)r >= n) ? -1 : 0;
}

/* Put the reason in msg and return code, so checks read `return say(-1, ...)`. */
__attribute__((format(printf, 4, 5))) static int say(int code, char *msg, size_t n, const char *fmt,
                                                     ...)
{
    if (msg && n) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, n, fmt, ap);
        va_end(ap);
    }
    return code;
}

int zh_ipc_check(const char *url, int flags, char *msg, size_t n)
{
    if (msg && n)
        *msg = '\0';
    if (!url || strncmp(url, "ipc://", 6))
        return 0;
    char dir[4096];
    int w = snprintf(dir, sizeof dir, "%s", url + 6);
    if (w < 0 || (size_t)w >= sizeof dir)
        return say(-1, msg, n, "%.200s: path too long", url);
    char *slash = strrchr(dir, '/');
    if (!slash)
        snprintf(dir, sizeof dir, ".");
    else if (slash == dir)
        dir[1] = '\0';
    else
        *slash = '\0';
    struct stat st;
    if (!(flags & ZH_IPC_PRIVATE)) {
        if (stat(dir, &st) == 0 && (st.st_mode & (S_IWGRP | S_IWOTH)) && !(st.st_mode & S_ISVTX))
            return say(1, msg, n,
                       "%s is writable by %s and not sticky: another local user can replace "
                       "the socket of %s",
                       dir, st.st_mode & S_IWOTH ? "everyone" : "its group", url);
        return 0;
    }
    if ((flags & ZH_IPC_CREATE) && mkdir(dir, 0700) != 0 && errno != EEXIST)
        return say(-1, msg, n, "cannot create %s for the default socket: %s", dir, strerror(errno));
    /* lstat, after mkdir: whatever is there now, a symlink or a directory
     * someone else made first, is judged as it is. */
    if (lstat(dir, &st) != 0) {
        if (errno == ENOENT && !(flags & ZH_IPC_CREATE))
            return 0;
        return say(-1, msg, n, "%s: %s", dir, strerror(errno));
    }
    uid_t me = geteuid();
    /* Another owner is fine where only root could have made the directory:
     * a parent of root's that nobody else may write (/run/zerohour, made by
     * systemd or the package for the zerohour user, read by root's CLI). */
    bool placed_by_root = false;
    if (st.st_uid != me && st.st_uid != 0) {
        char parent[4096];
        snprintf(parent, sizeof parent, "%s", dir);
        char *ps = strrchr(parent, '/');
        struct stat pst;
        if (ps) {
            ps[ps == parent] = '\0';
            placed_by_root = lstat(parent, &pst) == 0 && S_ISDIR(pst.st_mode) && pst.st_uid == 0 &&
                             !(pst.st_mode & (S_IWGRP | S_IWOTH));
        }
    }
    if (!S_ISDIR(st.st_mode) || (st.st_uid != me && st.st_uid != 0 && !placed_by_root) ||
        (st.st_mode & (S_IWGRP | S_IWOTH)))
        return say(-1, msg, n,
                   "refusing the default socket directory %s: %s (it must be a directory of "
                   "uid %u or root, or one root placed, that nobody else may write; remove it, or "
                   "give an address)",
                   dir,
                   S_ISLNK(st.st_mode)            ? "it is a symbolic link"
                   : !S_ISDIR(st.st_mode)         ? "it is not a directory"
                   : st.st_uid != me && st.st_uid ? "it belongs to another user"
                                                  : "it is writable by group or others",
                   (unsigned)me);
    return 0;
}

const char *zh_status_name(int status)
{
    static const char *const names[] = {
        [ZEROHOUR__V1__STATUS__STATUS_OK] = "ok",
        [ZEROHOUR__V1__STATUS__STATUS_INVALID_ARGUMENT] = "invalid_argument",
        [ZEROHOUR__V1__STATUS__STATUS_RESOURCE_EXHAUSTED] = "resource_exhausted",
        [ZEROHOUR__V1__STATUS__STATUS_DEADLINE_EXCEEDED] = "deadline_exceeded",
        [ZEROHOUR__V1__STATUS__STATUS_UNAVAILABLE] = "unavailable",
        [ZEROHOUR__V1__STATUS__STATUS_INTERNAL] = "internal",
        [ZEROHOUR__V1__STATUS__STATUS_UNIMPLEMENTED] = "unimplemented",
        [ZEROHOUR__V1__STATUS__STATUS_PERMISSION_DENIED] = "permission_denied",
    };
    if (status < 0 || (size_t)status >= sizeof names / sizeof names[0] || !names[status])
        return "unknown";
    return names[status];
}

/* enum zh_verdict is the C spelling of the proto's Verdict: keep them equal. */
#define SAME_VERDICT(v)                                                                            \
    _Static_assert((int)ZH_VERDICT_##v == (int)ZEROHOUR__V1__VERDICT__VERDICT_##v,                 \
                   "enum zh_verdict and zerohour.v1.Verdict disagree on " #v)
SAME_VERDICT(UNSPECIFIED);
SAME_VERDICT(CLEAN);
SAME_VERDICT(SUSPICIOUS);
SAME_VERDICT(MALICIOUS);
SAME_VERDICT(DEFER);
SAME_VERDICT(TEMPFAIL);
#undef SAME_VERDICT

static const char *const verdict_names[][2] = {
    [ZEROHOUR__V1__VERDICT__VERDICT_UNSPECIFIED] = {"unspecified", "UNSPECIFIED"},
    [ZEROHOUR__V1__VERDICT__VERDICT_CLEAN] = {"clean", "CLEAN"},
    [ZEROHOUR__V1__VERDICT__VERDICT_SUSPICIOUS] = {"suspicious", "SUSPICIOUS"},
    [ZEROHOUR__V1__VERDICT__VERDICT_MALICIOUS] = {"malicious", "MALICIOUS"},
    [ZEROHOUR__V1__VERDICT__VERDICT_DEFER] = {"defer", "DEFER"},
    [ZEROHOUR__V1__VERDICT__VERDICT_TEMPFAIL] = {"tempfail", "TEMPFAIL"},
};

const char *zh_verdict_name(int verdict)
{
    if (verdict < 0 || (size_t)verdict >= sizeof verdict_names / sizeof verdict_names[0])
        return "unknown";
    return verdict_names[verdict][0];
}

const char *zh_verdict_label(int verdict)
{
    if (verdict < 0 || (size_t)verdict >= sizeof verdict_names / sizeof verdict_names[0])
        return "UNKNOWN";
    return verdict_names[verdict][1];
}

/* Pack `msg` (may be NULL) into a fresh buffer; returns NULL on failure. */
static uint8_t *pack_inner(const ProtobufCMessage *msg, size_t *len)
{
    *len = msg ? protobuf_c_message_get_packed_size(msg) : 0;
    uint8_t *buf = malloc(*len ? *len : 1);
    if (buf && msg)
        protobuf_c_message_pack(msg, buf);
    return buf;
}

static uint8_t *pack_outer(const ProtobufCMessage *outer, size_t *len_out)
{
    size_t len = protobuf_c_message_get_packed_size(outer);
    uint8_t *buf = malloc(len ? len : 1);
    if (!buf)
        return NULL;
    protobuf_c_message_pack(outer, buf);
    *len_out = len;
    return buf;
}

uint8_t *zh_wire_pack_call(const char *method, const ProtobufCMessage *req, size_t *len_out)
{
    Zerohour__V1__Call call = ZEROHOUR__V1__CALL__INIT;
    size_t plen;
    uint8_t *payload = pack_inner(req, &plen);
    if (!payload)
        return NULL;
    call.method = (char *)method;
    call.payload.data = payload;
    call.payload.len = plen;
    uint8_t *out = pack_outer(&call.base, len_out);
    free(payload);
    return out;
}

uint8_t *zh_wire_pack_reply(int status, const char *message, const ProtobufCMessage *resp,
                            size_t *len_out)
{
    Zerohour__V1__Reply reply = ZEROHOUR__V1__REPLY__INIT;
    size_t plen;
    uint8_t *payload = pack_inner(resp, &plen);
    if (!payload)
        return NULL;
    reply.status = (Zerohour__V1__Status)status;
    reply.message = (char *)(message ? message : "");
    reply.payload.data = payload;
    reply.payload.len = plen;
    uint8_t *out = pack_outer(&reply.base, len_out);
    free(payload);
    return out;
}
