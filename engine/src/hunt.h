/* hunt.h — one retro-hunt over the store (see zh_engine_hunt_start in
 * zerohour/engine.h for what a hunt is). The engine keeps one at a time. */
#ifndef ZHI_HUNT_H
#define ZHI_HUNT_H

#include "store.h"

struct zhi_hunt;

/* Compile req's rules (or check its hash/fingerprint) on the caller's
 * thread, then start the hunt on a thread of its own. ZH_ERR_INVALID with
 * err for bad input; ZH_ERR_FATAL on OOM or when no thread starts. The
 * store must outlive the hunt. */
zh_err zhi_hunt_start(struct zhi_store *st, const struct zh_config *cfg,
                      const struct zh_hunt_request *req, uint64_t id, struct zhi_hunt **out,
                      char *err, size_t errlen);
bool zhi_hunt_running(struct zhi_hunt *h);
void zhi_hunt_cancel(struct zhi_hunt *h);
/* A deep copy of the hunt's state, and once it is no longer running the
 * messages [offset, offset + limit) of its list (limit 0: all). */
zh_err zhi_hunt_status(struct zhi_hunt *h, size_t offset, size_t limit, struct zh_hunt_status *out);
/* Cancel, join and free. NULL is fine. */
void zhi_hunt_free(struct zhi_hunt *h);

#endif
