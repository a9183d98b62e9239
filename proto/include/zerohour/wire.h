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
 * small. Thread-safe. */
int zh_default_address(char *buf, size_t n);

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
