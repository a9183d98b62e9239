/* server.h — zerohourd's nng service: a rep0 socket on every configured
 * address and a fixed pool of workers, each with its own nng context and
 * scanner, doing receive → dispatch (protobuf-c service) → send. */
#ifndef ZHD_SERVER_H
#define ZHD_SERVER_H

#include <stddef.h>

#include "zerohour/engine.h"

struct zhd_server;

/* Called once every address listens and before any worker takes a request
 * (main thread): where zerohourd gives its sockets their owner and drops
 * root. Nonzero stops the start; err says why. */
typedef int (*zhd_listening_fn)(void *ud, char *err, size_t errlen);

/* Listen on cfg's addresses, call listening (may be NULL), then start
 * `workers` workers (resolved by the caller, > 0). On failure err says which
 * address and why. */
int zhd_server_start(zh_engine *e, const struct zh_config *cfg, size_t workers,
                     zhd_listening_fn listening, void *ud, struct zhd_server **out, char *err,
                     size_t errlen);
/* The server's own counters (section "requests": workers, in flight, calls
 * by method and status) through fn, as zh_engine_stats gives the engine's;
 * section NULL or "requests", else nothing. Any thread. */
void zhd_server_stats(struct zhd_server *srv, const char *section, zh_stats_fn fn, void *ud);
/* Stop taking requests, let every worker answer the request it holds, then
 * close the socket and free everything. */
void zhd_server_drain_and_stop(struct zhd_server *srv);

#endif
