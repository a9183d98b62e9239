/* zerohour/wire.h — what engine and clients share about the wire: the
 * call/reply envelopes, status and verdict names, and the default address.
 * Not a transport: nng is driven by the engine and the client library. */
#ifndef ZEROHOUR_WIRE_H
#define ZEROHOUR_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "zerohour.pb-c.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Environment variable that overrides the default address, for the engine
 * and every client alike. */
#define ZH_ADDRESS_ENV "ZEROHOUR_ADDRESS"

/* Write the default engine address into buf (NUL-terminated):
 * $ZEROHOUR_ADDRESS if set; else for root ipc:///run/zerohour/zerohour.sock;
 * else ipc://$XDG_RUNTIME_DIR/zerohour.sock when that directory exists;
 * else ipc:///tmp/zerohour-UID/zerohour.sock. Returns 0, or -1 if buf is too
 * small. Thread-safe. The directory is not checked here: see zh_ipc_check. */
int zh_default_address(char *buf, size_t n);

/* How far the directory holding an ipc:// socket can be trusted. Another
 * local user who can create or replace the socket file can answer CLEAN to
 * every client, so:
 * - ZH_IPC_PRIVATE, for the default address's directory (nobody chose it):
 *   with ZH_IPC_CREATE it is made 0700 when absent; then it must be a real
 *   directory (not a symlink), owned by us or root and writable by nobody
 *   else, or the answer is -1 with the reason in msg (as ssh-agent and tmux
 *   do). Without ZH_IPC_CREATE (clients) a missing directory is 0: there is
 *   nothing to trust, the dial will say there is no socket.
 * - without it, for an address someone configured: 1 with a warning in msg
 *   when the directory is writable by group or others and not sticky (anyone
 *   there can replace the socket); a sticky directory such as /tmp is the
 *   administrator's choice (others may not remove a socket they do not own).
 * Not ipc:// (or fine): 0. msg may be NULL. Thread-safe. */
enum { ZH_IPC_PRIVATE = 1, ZH_IPC_CREATE = 2 };
int zh_ipc_check(const char *url, int flags, char *msg, size_t n);

/* Stable lower-case names: "ok", "invalid_argument", ... and "clean",
 * "suspicious", ... Unknown values give "unknown". Static strings. */
const char *zh_status_name(int status);
const char *zh_verdict_name(int verdict);
/* Upper-case verdict names as printed by the CLI ("CLEAN"). */
const char *zh_verdict_label(int verdict);

/* Serialize a call envelope: method name + an already packed payload.
 * Returns a malloc'd buffer the caller frees, or NULL on allocation failure. */
uint8_t *zh_wire_pack_call(const char *method, const ProtobufCMessage *req, size_t *len_out);

/* Serialize a reply envelope with an optional response message (may be NULL).
 * Returns a malloc'd buffer the caller frees, or NULL on allocation failure. */
uint8_t *zh_wire_pack_reply(int status, const char *message, const ProtobufCMessage *resp,
                            size_t *len_out);

#ifdef __cplusplus
}
#endif
#endif
