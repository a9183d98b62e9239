/* The fleet's outbreak counts in Redis: every engine of a fleet adds each
 * copy of a payload fingerprint to the same keys and reads back what the
 * whole fleet saw, so N engines behind one client address detect a surge as
 * fast as one engine would. One Lua script does a copy's bookkeeping
 * atomically in one round trip. The engine's own table (outbreak.c) keeps
 * counting too: it answers while Redis is away, and it lists outbreaks. */
#include "outbreak.h"
#include "zerohour/log.h"

#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define RETRY_MS 1000 /* after a failure, Redis is tried again this much later */
#define SET_CAP "64"  /* newest members kept per set: thresholds are at most 16 */

/* KEYS: copies, senders, client IPs, recipient domains (sorted sets scored by
 * received_at), the copy counter, first-seen, the active marker.
 * ARGV: now, window, hold, min copies, min senders, min IPs (the window and
 * thresholds of the sighting's kind: risky, or an unknown type's surge),
 * eligible (0/1: risky or surge),
 * sender, client IP, known (1: this engine already holds it an outbreak, as
 * after a Redis outage: the fleet adopts it), then the recipient domains.
 * Returns {copies, senders, ips, domains, total, first_seen, active}. */
static const char script[] =
    "local now, win, hold = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])\n"
    "local since, ttl = now - win, win + hold\n"
    "local function add(key, member)\n"
    "  local old = redis.call('ZSCORE', key, member)\n"
    "  if not old or tonumber(old) < now then redis.call('ZADD', key, now, member) end\n"
    "  redis.call('ZREMRANGEBYSCORE', key, '-inf', '(' .. since)\n"
    "  redis.call('ZREMRANGEBYRANK', key, 0, -" SET_CAP " - 1)\n"
    "  redis.call('PEXPIRE', key, ttl)\n"
    "end\n"
    "local total = redis.call('INCR', KEYS[5])\n"
    "redis.call('PEXPIRE', KEYS[5], ttl)\n"
    "redis.call('SET', KEYS[6], now, 'NX', 'PX', ttl)\n"
    "redis.call('PEXPIRE', KEYS[6], ttl)\n"
    "add(KEYS[1], total)\n"
    "add(KEYS[2], ARGV[8])\n"
    "add(KEYS[3], ARGV[9])\n"
    "for i = 11, #ARGV do add(KEYS[4], ARGV[i]) end\n"
    "local c = redis.call('ZCOUNT', KEYS[1], since, '+inf')\n"
    "local s = redis.call('ZCOUNT', KEYS[2], since, '+inf')\n"
    "local p = redis.call('ZCOUNT', KEYS[3], since, '+inf')\n"
    "local d = redis.call('ZCOUNT', KEYS[4], since, '+inf')\n"
    "local active = redis.call('EXISTS', KEYS[7])\n"
    "if active == 0 and ARGV[7] == '1' and (ARGV[10] == '1' or (c >= tonumber(ARGV[4])\n"
    "   and s >= tonumber(ARGV[5]) and p >= tonumber(ARGV[6]))) then active = 1 end\n"
    "if active == 1 then redis.call('SET', KEYS[7], now, 'PX', hold) end\n"
    "return {c, s, p, d, total, tonumber(redis.call('GET', KEYS[6])), active}\n";

struct zhi_ob_shared {
    const struct zh_config *cfg; /* the engine's, which outlives its scanner threads */
    const char *url;             /* cfg->outbreak_redis */
    redisContext *c;
    char sha[41];       /* the script, once loaded on this connection */
    uint64_t retry_at;  /* monotonic ms; 0 = try now */
    bool down_reported; /* the outage was logged; log its end too */
};

static uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

zh_err zhi_ob_shared_check_url(const char *url, char *err, size_t errlen)
{
    if (!strncmp(url, "unix:", 5) && url[5])
        return ZH_ERR_OK;
    if (!strncmp(url, "tcp://", 6)) {
        const char *colon = strrchr(url + 6, ':');
        if (colon && colon > url + 6 && atoi(colon + 1) > 0 && atoi(colon + 1) < 65536)
            return ZH_ERR_OK;
    }
    snprintf(err, errlen, "outbreak.redis: \"%s\" is not tcp://HOST:PORT or unix:/PATH", url);
    return ZH_ERR_INVALID;
}

zh_err zhi_ob_shared_new(const struct zh_config *cfg, struct zhi_ob_shared **out)
{
    *out = NULL;
    if (!cfg->outbreak_redis || !*cfg->outbreak_redis)
        return ZH_ERR_OK;
    struct zhi_ob_shared *sh = calloc(1, sizeof *sh);
    if (!sh)
        return ZH_ERR_FATAL;
    sh->cfg = cfg;
    sh->url = cfg->outbreak_redis;
    *out = sh;
    return ZH_ERR_OK;
}

void zhi_ob_shared_free(struct zhi_ob_shared *sh)
{
    if (!sh)
        return;
    if (sh->c)
        redisFree(sh->c);
    free(sh);
}

static void drop(struct zhi_ob_shared *sh, const char *why)
{
    zh_log(sh->down_reported ? ZH_LOG_DEBUG : ZH_LOG_WARN,
           "outbreak: Redis at %s: %s; counting in this engine alone until it answers", sh->url,
           why);
    sh->down_reported = true;
    if (sh->c)
        redisFree(sh->c);
    sh->c = NULL;
    sh->sha[0] = 0;
    sh->retry_at = mono_ms() + RETRY_MS;
}

static bool connect_redis(struct zhi_ob_shared *sh)
{
    int64_t ms = sh->cfg->outbreak_redis_timeout_ms;
    struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (suseconds_t)(ms % 1000) * 1000};
    if (!strncmp(sh->url, "unix:", 5)) {
        sh->c = redisConnectUnixWithTimeout(sh->url + 5, tv);
    } else {
        char host[256];
        const char *hp = sh->url + 6, *colon = strrchr(hp, ':');
        snprintf(host, sizeof host, "%.*s", (int)(colon - hp), hp);
        sh->c = redisConnectWithTimeout(host, atoi(colon + 1), tv);
    }
    if (!sh->c || sh->c->err) {
        char why[256];
        snprintf(why, sizeof why, "cannot connect (%s)", sh->c ? sh->c->errstr : "out of memory");
        drop(sh, why);
        return false;
    }
    redisSetTimeout(sh->c, tv);
    redisReply *r = redisCommand(sh->c, "SCRIPT LOAD %s", script);
    if (!r || r->type != REDIS_REPLY_STRING || r->len != 40) {
        char why[256];
        snprintf(why, sizeof why, "cannot load the counting script (%s)",
                 r && r->type == REDIS_REPLY_ERROR ? r->str : sh->c->errstr);
        if (r)
            freeReplyObject(r);
        drop(sh, why);
        return false;
    }
    memcpy(sh->sha, r->str, 40);
    sh->sha[40] = 0;
    freeReplyObject(r);
    if (sh->down_reported)
        zh_log(ZH_LOG_INFO, "outbreak: Redis at %s answers again; counting across the fleet",
               sh->url);
    sh->down_reported = false;
    return true;
}

static long long int_at(const redisReply *r, size_t i)
{
    return i < r->elements && r->element[i]->type == REDIS_REPLY_INTEGER ? r->element[i]->integer
                                                                         : 0;
}

int zhi_ob_shared_see(struct zhi_ob_shared *sh, const struct zhi_ob_sighting *s, bool known_active,
                      struct zhi_ob_status *st)
{
    if (!sh)
        return 0;
    if (!sh->c && (mono_ms() < sh->retry_at || !connect_redis(sh)))
        return -1;
    enum { FIXED = 20, MAX_DOMS = 16 }; /* EVALSHA sha 7, 7 keys, 10 values; domains */
    char keys[7][160], nums[6][24], fp[17];
    const char *argv[FIXED + MAX_DOMS];
    size_t argl[FIXED + MAX_DOMS];
    snprintf(fp, sizeof fp, "%016llx", (unsigned long long)s->fp);
    /* One hash tag per fingerprint: every key of a copy lands on one Redis
     * Cluster slot, as a script needs. */
    static const char *const suffix[7] = {"c", "s", "p", "d", "n", "f", "a"};
    for (int i = 0; i < 7; i++)
        snprintf(keys[i], sizeof keys[i], "%s{%s}:%s", sh->cfg->outbreak_redis_prefix, fp,
                 suffix[i]);
    snprintf(nums[0], sizeof nums[0], "%lld", (long long)s->now_ms);
    const struct zh_config *cfg = sh->cfg;
    unsigned kind = zhi_ob_kind(s);
    struct zhi_ob_bounds b = zhi_ob_bounds_of(cfg, kind);
    snprintf(nums[1], sizeof nums[1], "%lld", (long long)b.window);
    snprintf(nums[2], sizeof nums[2], "%lld", (long long)cfg->outbreak_hold_ms);
    snprintf(nums[3], sizeof nums[3], "%u", b.min_copies);
    snprintf(nums[4], sizeof nums[4], "%u", b.min_senders);
    snprintf(nums[5], sizeof nums[5], "%u", b.min_ips);
    size_t n = 0;
    argv[n++] = "EVALSHA";
    argv[n++] = sh->sha;
    argv[n++] = "7";
    for (int i = 0; i < 7; i++)
        argv[n++] = keys[i];
    for (int i = 0; i < 6; i++)
        argv[n++] = nums[i];
    argv[n++] = kind != ZHI_OB_PLAIN ? "1" : "0";
    char sender[320], ip[64];
    snprintf(sender, sizeof sender, "%s", s->sender ? s->sender : "");
    for (char *p = sender; *p; p++)
        *p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p); /* as outbreak.c hashes it */
    snprintf(ip, sizeof ip, "%s", s->client_ip ? s->client_ip : "");
    argv[n++] = sender;
    argv[n++] = ip;
    argv[n++] = known_active ? "1" : "0";
    for (size_t i = 0; i < s->n_rcpt && n < FIXED + MAX_DOMS; i++) {
        const char *at = s->rcpt[i] ? strrchr(s->rcpt[i], '@') : NULL;
        argv[n++] = at ? at + 1 : (s->rcpt[i] ? s->rcpt[i] : "");
    }
    for (size_t i = 0; i < n; i++)
        argl[i] = strlen(argv[i]);
    redisReply *r = redisCommandArgv(sh->c, (int)n, argv, argl);
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 7) {
        char why[200];
        snprintf(why, sizeof why, "%s",
                 r && r->type == REDIS_REPLY_ERROR ? r->str
                 : sh->c->err                      ? sh->c->errstr
                                                   : "unexpected reply");
        if (r)
            freeReplyObject(r);
        drop(sh, why);
        return -1;
    }
    memset(st, 0, sizeof *st);
    st->copies = (unsigned)int_at(r, 0);
    st->senders = (unsigned)int_at(r, 1);
    st->client_ips = (unsigned)int_at(r, 2);
    st->rcpt_domains = (unsigned)int_at(r, 3);
    st->total = (uint64_t)int_at(r, 4);
    st->first_seen = int_at(r, 5);
    st->active = kind != ZHI_OB_PLAIN && int_at(r, 6) == 1;
    st->growing = zhi_ob_is_growing(st, kind, (unsigned)cfg->outbreak_defer_min_copies);
    freeReplyObject(r);
    return 1;
}
