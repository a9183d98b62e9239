/* store.h — the store of recent scans (opt-in, [store] settings): one
 * SQLite index of messages (envelope, Message-ID, Subject, queue id, verdict,
 * score, hits, outbreak fingerprint) and their objects (path, name, types,
 * size, SHA-256), and the bytes of kept objects, once per SHA-256, as files
 * named by their hash. A writer thread owns the index; scanner threads only
 * queue copies (bounded: when the queue is full the scan goes on and the
 * record is counted as dropped). Retention and the byte budget are enforced
 * by the writer, oldest first. A store that cannot be opened, is corrupt or
 * full never stops scanning: it logs, counts, and rebuilds an unreadable
 * index. The retro-hunt (hunt.c) reads it through the query calls below. */
#ifndef ZHI_STORE_H
#define ZHI_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zerohour/config.h"
#include "zerohour/engine.h"

struct zhi_store;
struct zhi_scan;

/* Open (or create) the store under cfg->store_directory and start its
 * writer. The directory is created 0700 if missing and refused when it is a
 * symbolic link, not owned by the engine's user, or open to others; err says
 * why. An index that fails its integrity check is moved aside
 * (index.db.corrupt) and rebuilt empty. Engine start, creating thread. */
zh_err zhi_store_open(const struct zh_config *cfg, struct zhi_store **out, char *err,
                      size_t errlen);
/* Write what is queued, stop the writer and close. NULL is fine. */
void zhi_store_close(struct zhi_store *st);

/* Queue a record of the finished scan s with result r. Scanner thread; copies
 * what it keeps (s's arena is reset after this), never waits for I/O: when
 * the queue is full the record is dropped and counted. */
void zhi_store_offer(struct zhi_store *st, const struct zhi_scan *s, const struct zh_result *r);
/* Wait until everything queued before the call is written (tests, Stats). */
void zhi_store_flush(struct zhi_store *st);
/* Enforce retention and the byte budget now, with now_ms as the clock (the
 * writer does it by itself every second with zhi_store_now); waits for it. */
void zhi_store_maintain(struct zhi_store *st, int64_t now_ms);

/* Forget, for a privacy request, every message with this Message-ID
 * (without angle brackets), or (message_id NULL) every message received
 * more than older_than_ms before the store's clock, with the kept files no
 * other message shares; queued messages are written first, so they are
 * forgotten too. Waits for the writer. ZH_ERR_FAILED on a store error. */
zh_err zhi_store_forget(struct zhi_store *st, const char *message_id, int64_t older_than_ms,
                        uint64_t *n);

/* Hold the writer (it finishes its round, then takes nothing more from the
 * queue) or let it go on: a slow disk made to order, for tests. */
void zhi_store_hold(struct zhi_store *st, bool hold);

/* The store's clock, unix ms: the newest received_at written, or the wall
 * clock when that is earlier or nothing was written (a replay of old
 * traffic keeps its own time, as the outbreak table does). Retention and
 * hunt windows count back from it. Any thread. */
int64_t zhi_store_now(struct zhi_store *st);

struct zhi_store_counters {
    uint64_t queued, stored, dropped, write_errors, lost, rebuilds, expired, evicted;
    uint64_t messages, blobs, blob_bytes, index_bytes, queue_len, queue_bytes;
};
void zhi_store_counters(struct zhi_store *st, struct zhi_store_counters *out);
/* The "store" Stats section. */
void zhi_store_stats(struct zhi_store *st, zh_stats_fn fn, void *ud);

/* ---- queries (any thread; each opens its own read-only connection) ---- */

/* One kept object for a hunt: its hash, where its bytes are, and what the
 * first stored copy was called. Strings borrowed for the callback. */
struct zhi_store_blob {
    const char *sha256, *path, *name, *ext, *declared_type, *sniffed_type, *kind, *object;
    uint64_t size;
};
/* Return non-zero from the callback to stop. */
typedef int (*zhi_store_blob_fn)(void *ud, const struct zhi_store_blob *b);
/* How many distinct kept objects messages received at or after since_ms
 * carry; and fn for each of the next `limit` of them whose hash sorts after
 * `after` ("" = from the start), in hash order: a hunt pages through them
 * so no read lasts long. */
zh_err zhi_store_count_blobs(struct zhi_store *st, int64_t since_ms, uint64_t *n, char *err,
                             size_t errlen);
zh_err zhi_store_each_blob(struct zhi_store *st, int64_t since_ms, const char *after, int limit,
                           zhi_store_blob_fn fn, void *ud, char *err, size_t errlen);

/* One stored message, and which of its objects made it a match. */
struct zhi_store_message {
    int64_t id, received_at;
    const char *client_ip, *helo, *mail_from, *rcpt_to /* one per line */, *message_id, *subject,
        *queue_id, *hits, *fingerprint;
    int verdict, score;
    const char *sha256, *object; /* the matching object (by hash), or "" (by fingerprint) */
};
typedef int (*zhi_store_message_fn)(void *ud, const struct zhi_store_message *m);
/* Messages received at or after since_ms with an object whose SHA-256 is one
 * of sha256[0..n) (one call per message and matching object, oldest first). */
zh_err zhi_store_messages_by_hash(struct zhi_store *st, int64_t since_ms, const char *const *sha256,
                                  size_t n, zhi_store_message_fn fn, void *ud, char *err,
                                  size_t errlen);
/* How many messages whose payload had fingerprint fp (16 hex digits) were
 * received before before_ms and delivered (verdict CLEAN or SUSPICIOUS). */
zh_err zhi_store_count_delivered(struct zhi_store *st, const char *fp, int64_t before_ms,
                                 uint64_t *n);

/* Messages received at or after since_ms whose outbreak fingerprint is fp
 * (16 hex digits), oldest first. */
zh_err zhi_store_messages_by_fingerprint(struct zhi_store *st, int64_t since_ms, const char *fp,
                                         zhi_store_message_fn fn, void *ud, char *err,
                                         size_t errlen);

#endif
