/* outbreak.h — the engine's outbreak state: per structural fingerprint of a
 * message's payload, copies, distinct senders, client IPs and recipient
 * domains over a sliding window of received_at, in a fixed-size table (a
 * memory budget; the least recently seen entries are evicted), with atomic
 * snapshots to disk. One mutex guards it (DESIGN: the outbreak counters are
 * the scan path's one shared lock). The detector is detectors/outbreak.c. */
#ifndef ZHI_OUTBREAK_H
#define ZHI_OUTBREAK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zerohour/config.h"
#include "zerohour/engine.h"

#define ZHI_OB_SET 16 /* distinct values remembered per dimension and window */

struct zhi_outbreaks;

/* What one message contributes. */
struct zhi_ob_sighting {
    uint64_t fp;
    bool risky; /* executable, double extension, active content in an archive... */
    /* Not risky, but an attachment of a type no class names: eligible for
     * the surge of the unknown ([outbreak] surge_*: its own window and
     * thresholds; `sender` is then the sender's domain). */
    bool surge;
    const char *summary; /* human description of the fingerprint */
    const char *hits;    /* rule names the message hit, comma-separated */
    const char *sender, *client_ip;
    const char *const *rcpt;
    size_t n_rcpt;
    int64_t now_ms; /* the envelope's received_at */
};

/* What the state says about that fingerprint after counting this copy. */
struct zhi_ob_status {
    bool active;  /* an outbreak: flag this message */
    bool growing; /* risky and spreading, not yet an outbreak */
    unsigned copies, senders, client_ips, rcpt_domains; /* within the window */
    uint64_t total;
    int64_t first_seen;
};

/* What a fingerprint's entry is counted as (the entry's `risky` field). */
enum { ZHI_OB_PLAIN = 0, ZHI_OB_RISKY = 1, ZHI_OB_SURGE = 2 };
static inline unsigned zhi_ob_kind(const struct zhi_ob_sighting *s)
{
    return s->risky ? ZHI_OB_RISKY : s->surge ? ZHI_OB_SURGE : ZHI_OB_PLAIN;
}

/* Spreading (not yet an outbreak): a risky payload seen at least defer_min
 * times from at least two senders; an unknown type's surge from three sender
 * domains and three client IPs (two partner firms sending the same kind of
 * CAD file within the hour are a coincidence, not a wave, and a DEFER there
 * costs them up to surge_window_ms). One rule for the local and the fleet
 * view. */
static inline bool zhi_ob_is_growing(const struct zhi_ob_status *st, unsigned kind,
                                     unsigned defer_min)
{
    if (st->active || kind == ZHI_OB_PLAIN || st->copies < defer_min)
        return false;
    return kind == ZHI_OB_RISKY ? st->senders >= 2 : st->senders >= 3 && st->client_ips >= 3;
}

/* The window and thresholds a fingerprint of this kind is held to. */
struct zhi_ob_bounds {
    int64_t window;
    unsigned min_copies, min_senders, min_ips;
};
static inline struct zhi_ob_bounds zhi_ob_bounds_of(const struct zh_config *cfg, unsigned kind)
{
    if (kind == ZHI_OB_SURGE)
        return (struct zhi_ob_bounds){cfg->outbreak_surge_window_ms,
                                      (unsigned)cfg->outbreak_surge_min_copies,
                                      (unsigned)cfg->outbreak_surge_min_senders,
                                      (unsigned)cfg->outbreak_surge_min_client_ips};
    return (struct zhi_ob_bounds){cfg->outbreak_window_ms, (unsigned)cfg->outbreak_min_copies,
                                  (unsigned)cfg->outbreak_min_senders,
                                  (unsigned)cfg->outbreak_min_client_ips};
}

zh_err zhi_outbreaks_new(const struct zh_config *cfg, struct zhi_outbreaks **out);
void zhi_outbreaks_free(struct zhi_outbreaks *ob);
void zhi_outbreaks_see(struct zhi_outbreaks *ob, const struct zhi_ob_sighting *s,
                       struct zhi_ob_status *st);
/* What the state says about fp as of now_ms without counting a copy (a scan
 * that does not observe: ZH envelope no_observe). Changes nothing, not even
 * the table's clock; growing is never set (a hunt is not asked to retry). */
void zhi_outbreaks_peek(struct zhi_outbreaks *ob, uint64_t fp, int64_t now_ms,
                        struct zhi_ob_status *st);

/* Listing for the Outbreaks call: active outbreaks and fingerprints seen
 * within the window with at least two copies, most copies first. now_ms 0
 * means the newest received_at seen (the clock the counts run on). */
size_t zhi_outbreaks_list(struct zhi_outbreaks *ob, int64_t now_ms, struct zh_outbreak_info *out,
                          size_t max);

/* Save atomically: a temporary file made with mkstemp beside path (0600,
 * never a planted name or symlink), fsync, rename. Restore: first removes the
 * temporaries an interrupted save left (regular files of ours named
 * "<path>.tmp.*"), then reads path unless it is a symlink, not ours or
 * writable by others (ZH_ERR_INVALID, said in err). A missing file is not an
 * error; a corrupt or foreign one is reported in err and ignored. */
zh_err zhi_outbreaks_save(struct zhi_outbreaks *ob, const char *path, char *err, size_t errlen);
zh_err zhi_outbreaks_load(struct zhi_outbreaks *ob, const char *path, char *err, size_t errlen);
size_t zhi_outbreaks_capacity(const struct zhi_outbreaks *ob);
/* Mark fp an outbreak since now_ms (the fleet said so), for the listing. */
void zhi_outbreaks_mark_active(struct zhi_outbreaks *ob, uint64_t fp, int64_t now_ms);

size_t zhi_outbreaks_used(struct zhi_outbreaks *ob);

/* ---- the fleet's counts in Redis (outbreak_shared.c) ----------------------
 * One zhi_ob_shared per scanner thread (a Redis connection is not shared).
 * new leaves *out NULL when cfg->outbreak_redis is empty; it connects on
 * first use. see counts this copy in Redis and fills st with the fleet's
 * figures (known_active: this engine holds fp an outbreak already, and the
 * fleet should too): 1 on success, 0 when there is no Redis configured, -1 when Redis
 * did not answer in outbreak.redis_timeout_ms (logged once per outage; the
 * next try is a second later, so an outage costs scans no more than that). */
struct zhi_ob_shared;
zh_err zhi_ob_shared_check_url(const char *url, char *err, size_t errlen);
zh_err zhi_ob_shared_new(const struct zh_config *cfg, struct zhi_ob_shared **out);
void zhi_ob_shared_free(struct zhi_ob_shared *sh);
int zhi_ob_shared_see(struct zhi_ob_shared *sh, const struct zhi_ob_sighting *s, bool known_active,
                      struct zhi_ob_status *st);

#endif
