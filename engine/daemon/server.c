/* zerohourd's service loop. Each worker owns an nng context, two aios and a
 * scanner and runs receive → dispatch → send on its own thread; calls are
 * dispatched through protobuf-c's service descriptor, so the method table is
 * the one generated from proto/zerohour.proto. */
#include "server.h"

#include <ctype.h>
#include <errno.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/supplemental/tls/tls.h>
#include <nng/transport/ipc/ipc.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "zerohour/log.h"
#include "zerohour/wire.h"

#define N_METHODS_MAX 8
/* A worker that has had no request for this long tells its scanner it is idle,
 * so a rule set replaced by a reload is freed even if this worker never scans
 * again (quiet nights, a fleet where another engine takes the load). */
#define IDLE_MS 2000
#define N_STATUS 8

struct worker {
    struct zhd_server *srv;
    pthread_t thread;
    nng_ctx ctx;
    nng_aio *raio, *saio;
    zh_scanner *scanner;
    atomic_bool done;
    bool started;
};

struct zhd_server {
    zh_engine *engine;
    nng_socket sock;
    size_t n_workers;
    struct worker *workers;
    atomic_bool stopping;
    uint64_t started_unix_s;
    atomic_ullong calls[N_METHODS_MAX + 1][N_STATUS]; /* [method index or last=unknown][status] */
    atomic_ullong in_flight;
    int log_scans; /* 0 none, 1 flagged, 2 all (engine.log_scans) */
    /* Listeners that answer Reload, Stats and Outbreaks: ipc ones and
     * engine.admin_address (nng listener ids). */
    uint32_t admin_ids[ZH_MAX_ADDRESSES + 1];
    size_t n_admin;
    nng_tls_config *tls; /* of every tls+tcp:// listener; NULL without one */
};

/* Per-call state handed through protobuf-c's closure_data. */
struct call {
    struct worker *w;
    int status;
    char message[512];
    uint8_t *reply;
    size_t reply_len;
    bool scanned; /* the call ran a scan (so the scanner is on the live rule set) */
};

static void set_status(struct call *c, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_status(struct call *c, int status, const char *fmt, ...)
{
    c->status = status;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->message, sizeof c->message, fmt, ap);
    va_end(ap);
}

/* The closure every handler calls exactly once with its response (or NULL). */
static void on_response(const ProtobufCMessage *resp, void *cd)
{
    struct call *c = cd;
    c->reply = zh_wire_pack_reply(c->status, c->message, resp, &c->reply_len);
}

/* ---- the scan log line ---------------------------------------------------------
 * What an administrator greps for "why was this mail rejected?": one line
 * per scan (engine.log_scans), every field from the request or the verdict.
 * Everything from the request is untrusted: control and non-ASCII bytes are
 * written as '?', and each field is bounded. */

static void clean(char *out, size_t n, const char *in)
{
    size_t k = 0;
    for (; in && *in && k + 1 < n; in++)
        out[k++] = (unsigned char)*in < 0x21 || (unsigned char)*in > 0x7e ? '?' : *in;
    out[k] = 0;
}

/* The first Message-ID header of the header block (its first 64 KiB). */
static void message_id(const uint8_t *m, size_t len, char *out, size_t n)
{
    out[0] = 0;
    len = len > 65536 ? 65536 : len;
    for (size_t i = 0; i < len;) {
        const uint8_t *nl = memchr(m + i, '\n', len - i);
        size_t end = nl ? (size_t)(nl - m) : len, ll = end - i;
        if (ll && m[i + ll - 1] == '\r')
            ll--;
        if (ll == 0)
            return; /* the blank line ends the header block */
        if (ll > 11 && !strncasecmp((const char *)m + i, "message-id:", 11)) {
            size_t a = i + 11, k = 0;
            while (a < i + ll && (m[a] == ' ' || m[a] == '\t'))
                a++;
            for (; a < i + ll && k + 1 < n; a++)
                out[k++] = m[a] < 0x21 || m[a] > 0x7e ? '?' : (char)m[a];
            out[k] = 0;
            return;
        }
        i = end + 1;
    }
}

static void log_scan(const struct zhd_server *srv, const Zerohour__V1__ScanRequest *in,
                     const struct zh_scan_envelope *env, const struct zh_result *r)
{
    bool flagged = r->status != ZEROHOUR__V1__STATUS__STATUS_OK || r->verdict != ZH_VERDICT_CLEAN;
    if (srv->log_scans == 0 || (srv->log_scans == 1 && !flagged) || !zh_log_enabled(ZH_LOG_INFO))
        return;
    char id[128], mid[160], ip[64], from[160], rules[600] = "", verdict[32];
    /* Upper case, as the milter and the X-Zerohour-Verdict header spell it. */
    clean(verdict, sizeof verdict,
          r->status == ZEROHOUR__V1__STATUS__STATUS_OK ? zh_verdict_name(r->verdict)
                                                       : zh_status_name(r->status));
    for (char *p = verdict; *p; p++)
        *p = (char)toupper((unsigned char)*p);
    clean(id, sizeof id, in->request_id);
    message_id(in->message.data, in->message.len, mid, sizeof mid);
    clean(ip, sizeof ip, env->client_ip);
    clean(from, sizeof from, env->mail_from);
    /* The highest-scoring hits first, at most five. */
    size_t shown[5], n_shown = 0, len = 0;
    for (; n_shown < 5 && n_shown < r->n_hits; n_shown++) {
        size_t best = SIZE_MAX;
        for (size_t i = 0; i < r->n_hits; i++) {
            bool taken = false;
            for (size_t k = 0; k < n_shown; k++)
                taken |= shown[k] == i;
            if (!taken && (best == SIZE_MAX || r->hits[i].score > r->hits[best].score))
                best = i;
        }
        shown[n_shown] = best;
    }
    for (size_t k = 0; k < n_shown && len < sizeof rules - 1; k++) {
        char rule[160];
        const struct zh_result_hit *h = &r->hits[shown[k]];
        clean(rule, sizeof rule, h->rule && *h->rule ? h->rule : h->detector);
        int w = snprintf(rules + len, sizeof rules - len, "%s%s(%d)", k ? "," : "", rule, h->score);
        len = w < 0 ? len : len + (size_t)w > sizeof rules - 1 ? sizeof rules - 1 : len + (size_t)w;
    }
    if (r->n_hits > n_shown && len < sizeof rules - 1)
        snprintf(rules + len, sizeof rules - len, ",+%zu more", r->n_hits - n_shown);
    zh_log(ZH_LOG_INFO,
           "scan id=%s message_id=%s client=%s from=<%s> rcpts=%zu size=%zu verdict=%s score=%d "
           "rules=%s objects=%u ms=%.1f ruleset=%llu%s%s",
           *id ? id : "-", *mid ? mid : "-", *ip ? ip : "-", from, env->n_rcpt,
           (size_t)in->message.len, verdict, r->score, *rules ? rules : "-", r->objects,
           (double)r->total_us / 1000.0, (unsigned long long)r->ruleset_version,
           r->status != ZEROHOUR__V1__STATUS__STATUS_OK ? " error=" : "",
           r->status != ZEROHOUR__V1__STATUS__STATUS_OK ? r->status_message : "");
}

/* ---- handlers ---------------------------------------------------------------- */
static void svc_scan(Zerohour__V1__ZeroHour_Service *svc, const Zerohour__V1__ScanRequest *in,
                     Zerohour__V1__ScanResponse_Closure closure, void *cd)
{
    struct call *c = cd;
    c->scanned = true;
    const Zerohour__V1__SmtpEnvelope *pe = in->envelope;
    struct zh_scan_envelope env = {0};
    if (pe) {
        env.client_ip = pe->client_ip;
        env.helo = pe->helo;
        env.mail_from = pe->mail_from;
        env.rcpt_to = (const char *const *)pe->rcpt_to;
        env.n_rcpt = pe->n_rcpt_to;
        env.received_at = pe->received_at;
    }
    env.filename = in->filename && *in->filename ? in->filename : NULL;
    env.no_observe = in->no_observe;
    env.queue_id = in->queue_id && *in->queue_id ? in->queue_id : NULL;
    const struct zh_result *r = NULL;
    zh_scanner_scan(c->w->scanner, in->message.data, in->message.len, &env, in->deadline_ms, &r);
    set_status(c, r->status, "%s", r->status_message);
    log_scan(c->w->srv, in, &env, r);

    Zerohour__V1__ScanResponse resp = ZEROHOUR__V1__SCAN_RESPONSE__INIT;
    Zerohour__V1__Hit *hits = NULL, **hitp = NULL;
    resp.request_id = in->request_id;
    resp.ruleset_version = r->ruleset_version;
    resp.elapsed_us = r->total_us;
    resp.parse_us = r->parse_us;
    resp.unpack_us = r->unpack_us;
    resp.detect_us = r->detect_us;
    resp.objects = r->objects;
    resp.retry_after_s = r->retry_after_s;
    if (r->status == ZEROHOUR__V1__STATUS__STATUS_OK) {
        resp.verdict = (Zerohour__V1__Verdict)r->verdict;
        resp.score = r->score;
        if (r->n_hits) {
            hits = calloc(r->n_hits, sizeof *hits);
            hitp = calloc(r->n_hits, sizeof *hitp);
            if (!hits || !hitp) {
                free(hits);
                free(hitp);
                set_status(c, ZEROHOUR__V1__STATUS__STATUS_INTERNAL, "out of memory");
                closure(NULL, cd);
                return;
            }
        }
        for (size_t i = 0; i < r->n_hits; i++) {
            const struct zh_result_hit *h = &r->hits[i];
            zerohour__v1__hit__init(&hits[i]);
            hits[i].detector = (char *)h->detector;
            hits[i].rule = (char *)h->rule;
            hits[i].object = (char *)h->object;
            hits[i].score = h->score;
            hits[i].detail = (char *)h->detail;
            hits[i].family = (char *)h->family;
            hits[i].aliases = (char **)h->aliases;
            hits[i].n_aliases = h->n_aliases;
            hitp[i] = &hits[i];
        }
        resp.hits = hitp;
        resp.n_hits = r->n_hits;
    }
    closure(&resp, cd);
    free(hits);
    free(hitp);
}

static void svc_reload(Zerohour__V1__ZeroHour_Service *svc, const Zerohour__V1__ReloadRequest *in,
                       Zerohour__V1__ReloadResponse_Closure closure, void *cd)
{
    struct call *c = cd;
    struct zh_rules_report rep;
    zh_log(ZH_LOG_INFO, "rules: reload requested over the socket");
    zh_engine_reload(c->w->srv->engine, &rep);
    Zerohour__V1__ReloadResponse resp = ZEROHOUR__V1__RELOAD_RESPONSE__INIT;
    resp.ok = rep.ok;
    resp.ruleset_version = rep.ok ? rep.version : zh_engine_ruleset_version(c->w->srv->engine);
    resp.rule_count = rep.rule_count;
    resp.errors = rep.errors;
    resp.n_errors = rep.n_errors;
    resp.warnings = rep.warnings;
    resp.n_warnings = rep.n_warnings;
    resp.elapsed_us = rep.elapsed_us;
    closure(&resp, cd);
    zh_rules_report_free(&rep);
}

/* Stats entries are gathered into sections in the order the engine emits them. */
struct stats_acc {
    Zerohour__V1__StatsSection **sections;
    size_t n_sections;
    int oom;
};

static void stats_add(void *ud, const char *section, const char *key, const char *value)
{
    struct stats_acc *a = ud;
    Zerohour__V1__StatsSection *sec = NULL;
    if (a->oom)
        return;
    for (size_t i = 0; i < a->n_sections && !sec; i++)
        if (!strcmp(a->sections[i]->name, section))
            sec = a->sections[i];
    if (!sec) {
        Zerohour__V1__StatsSection **g =
            realloc(a->sections, (a->n_sections + 1) * sizeof *a->sections);
        if (!g || !(sec = malloc(sizeof *sec))) {
            if (g)
                a->sections = g;
            a->oom = 1;
            return;
        }
        a->sections = g;
        zerohour__v1__stats_section__init(sec);
        sec->name = strdup(section);
        a->sections[a->n_sections++] = sec;
    }
    Zerohour__V1__StatsEntry **ge = realloc(sec->entries, (sec->n_entries + 1) * sizeof *ge);
    Zerohour__V1__StatsEntry *e = malloc(sizeof *e);
    if (!ge || !e || !sec->name) {
        if (ge)
            sec->entries = ge;
        free(e);
        a->oom = 1;
        return;
    }
    sec->entries = ge;
    zerohour__v1__stats_entry__init(e);
    e->key = strdup(key);
    e->value = strdup(value);
    sec->entries[sec->n_entries++] = e;
}

static void stats_acc_free(struct stats_acc *a)
{
    for (size_t i = 0; i < a->n_sections; i++) {
        Zerohour__V1__StatsSection *s = a->sections[i];
        for (size_t j = 0; j < s->n_entries; j++) {
            free(s->entries[j]->key);
            free(s->entries[j]->value);
            free(s->entries[j]);
        }
        free(s->entries);
        free(s->name);
        free(s);
    }
    free(a->sections);
}

void zhd_server_stats(struct zhd_server *srv, const char *section, zh_stats_fn fn, void *ud)
{
    const ProtobufCServiceDescriptor *d = &zerohour__v1__zero_hour__descriptor;
    if (section && *section && strcmp(section, "requests"))
        return;
    char key[96], val[64];
    snprintf(val, sizeof val, "%zu", srv->n_workers);
    fn(ud, "requests", "workers", val);
    snprintf(val, sizeof val, "%llu", (unsigned long long)atomic_load(&srv->in_flight));
    fn(ud, "requests", "in_flight", val);
    for (unsigned m = 0; m <= d->n_methods && m <= N_METHODS_MAX; m++) {
        const char *name = m < d->n_methods ? d->methods[m].name : "unknown";
        for (int st = 0; st < N_STATUS; st++) {
            unsigned long long n =
                atomic_load(&srv->calls[m < d->n_methods ? m : N_METHODS_MAX][st]);
            if (!n && st != 0)
                continue;
            snprintf(key, sizeof key, "%s_%s", name, zh_status_name(st));
            snprintf(val, sizeof val, "%llu", n);
            fn(ud, "requests", key, val);
        }
    }
}

static void svc_stats(Zerohour__V1__ZeroHour_Service *svc, const Zerohour__V1__StatsRequest *in,
                      Zerohour__V1__StatsResponse_Closure closure, void *cd)
{
    struct call *c = cd;
    struct stats_acc a = {0};
    const char *section = in->section && *in->section ? in->section : NULL;
    zh_engine_stats(c->w->srv->engine, section, stats_add, &a);
    zhd_server_stats(c->w->srv, section, stats_add, &a);
    Zerohour__V1__StatsResponse resp = ZEROHOUR__V1__STATS_RESPONSE__INIT;
    if (a.oom) {
        set_status(c, ZEROHOUR__V1__STATUS__STATUS_INTERNAL, "out of memory");
        closure(NULL, cd);
    } else if (section && a.n_sections == 0) {
        set_status(c, ZEROHOUR__V1__STATUS__STATUS_INVALID_ARGUMENT,
                   "unknown stats section \"%s\" (server, scans, detectors, rules, rulestats, "
                   "limits, store, "
                   "requests)",
                   section);
        closure(NULL, cd);
    } else {
        resp.sections = a.sections;
        resp.n_sections = a.n_sections;
        closure(&resp, cd);
    }
    stats_acc_free(&a);
}

static void svc_ping(Zerohour__V1__ZeroHour_Service *svc, const Zerohour__V1__PingRequest *in,
                     Zerohour__V1__PingResponse_Closure closure, void *cd)
{
    struct call *c = cd;
    struct zhd_server *srv = c->w->srv;
    Zerohour__V1__PingResponse resp = ZEROHOUR__V1__PING_RESPONSE__INIT;
    resp.version = ZH_VERSION;
    resp.ruleset_version = zh_engine_ruleset_version(srv->engine);
    resp.uptime_s = (uint64_t)time(NULL) - srv->started_unix_s;
    resp.max_message_bytes = (uint64_t)zh_engine_config(srv->engine)->max_message_bytes;
    resp.workers = (uint32_t)srv->n_workers;
    closure(&resp, cd);
}

static void svc_outbreaks(Zerohour__V1__ZeroHour_Service *svc,
                          const Zerohour__V1__OutbreaksRequest *in,
                          Zerohour__V1__OutbreaksResponse_Closure closure, void *cd)
{
    struct call *c = cd;
    enum { MAX = 256 };
    struct zh_outbreak_info *info = calloc(MAX, sizeof *info);
    Zerohour__V1__Outbreak *ob = calloc(MAX, sizeof *ob);
    Zerohour__V1__Outbreak **obp = calloc(MAX, sizeof *obp);
    Zerohour__V1__OutbreaksResponse resp = ZEROHOUR__V1__OUTBREAKS_RESPONSE__INIT;
    if (!info || !ob || !obp) {
        set_status(c, ZEROHOUR__V1__STATUS__STATUS_INTERNAL, "out of memory");
        closure(NULL, cd);
        goto out;
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    resp.now = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    size_t n = zh_engine_outbreaks(c->w->srv->engine, 0, info, MAX);
    for (size_t i = 0; i < n; i++) {
        zerohour__v1__outbreak__init(&ob[i]);
        ob[i].fingerprint = info[i].fingerprint;
        ob[i].summary = info[i].summary;
        ob[i].hits = info[i].hits;
        ob[i].first_seen = info[i].first_seen;
        ob[i].last_seen = info[i].last_seen;
        ob[i].active_since = info[i].active ? info[i].active_since : 0;
        ob[i].total = info[i].total;
        ob[i].copies = info[i].copies;
        ob[i].senders = info[i].senders;
        ob[i].client_ips = info[i].client_ips;
        ob[i].rcpt_domains = info[i].rcpt_domains;
        ob[i].active = info[i].active;
        ob[i].blocking = info[i].active;
        ob[i].delivered_before = info[i].delivered_before;
        ob[i].delivered_known = info[i].delivered_known;
        obp[i] = &ob[i];
    }
    resp.outbreaks = obp;
    resp.n_outbreaks = n;
    closure(&resp, cd);
out:
    free(info);
    free(ob);
    free(obp);
}

/* Start a hunt (hunt_id 0) or poll one; the hunt itself runs on the
 * engine's own thread, so this worker answers at once. */
static void svc_retrohunt(Zerohour__V1__ZeroHour_Service *svc,
                          const Zerohour__V1__RetrohuntRequest *in,
                          Zerohour__V1__RetrohuntResponse_Closure closure, void *cd)
{
    struct call *c = cd;
    zh_engine *e = c->w->srv->engine;
    uint64_t id = in->hunt_id;
    char err[512] = "";
    struct zh_hunt_status st = {0};
    Zerohour__V1__RetrohuntResponse resp = ZEROHOUR__V1__RETROHUNT_RESPONSE__INIT;
    Zerohour__V1__RetrohuntMessage *msgs = NULL, **msgp = NULL;
    struct zh_hunt_rule *rules = NULL;
    zh_err rc = ZH_ERR_OK;
    if (!id) {
        if (in->n_rules && !(rules = calloc(in->n_rules, sizeof *rules))) {
            set_status(c, ZEROHOUR__V1__STATUS__STATUS_INTERNAL, "out of memory");
            closure(NULL, cd);
            return;
        }
        for (size_t i = 0; i < in->n_rules; i++)
            rules[i] = (struct zh_hunt_rule){in->rules[i]->name, in->rules[i]->source};
        struct zh_hunt_request req = {.rules = rules,
                                      .n_rules = in->n_rules,
                                      .sha256 = in->sha256,
                                      .outbreak = in->outbreak,
                                      .window_ms = in->window_ms,
                                      .deadline_ms = in->deadline_ms};
        rc = zh_engine_hunt_start(e, &req, &id, err, sizeof err);
        free(rules);
    }
    if (rc == ZH_ERR_OK) {
        enum { PAGE_MAX = 10000 }; /* keeps a reply well under the client's receive cap */
        size_t limit = in->limit && in->limit < PAGE_MAX ? in->limit : PAGE_MAX;
        rc = zh_engine_hunt_poll(e, id, in->cancel, in->offset, limit, &st);
        if (rc == ZH_ERR_INVALID)
            snprintf(err, sizeof err, "no retrohunt %llu here (the engine keeps the latest only)",
                     (unsigned long long)id);
    }
    if (rc != ZH_ERR_OK) {
        set_status(c,
                   rc == ZH_ERR_INVALID  ? ZEROHOUR__V1__STATUS__STATUS_INVALID_ARGUMENT
                   : rc == ZH_ERR_FAILED ? ZEROHOUR__V1__STATUS__STATUS_UNAVAILABLE
                                         : ZEROHOUR__V1__STATUS__STATUS_INTERNAL,
                   "%s", *err ? err : "out of memory");
        closure(NULL, cd);
        return;
    }
    resp.hunt_id = st.id;
    resp.state = (Zerohour__V1__HuntState)st.state;
    resp.done = st.state != ZH_HUNT_RUNNING;
    resp.error = st.error;
    resp.objects_total = st.objects_total;
    resp.objects_done = st.objects_done;
    resp.objects_unreadable = st.objects_unreadable;
    resp.bytes_done = st.bytes_done;
    resp.elapsed_us = st.elapsed_us;
    resp.since = st.since;
    resp.messages_total = st.messages_total;
    resp.truncated = st.truncated;
    if (st.n_messages) {
        msgs = calloc(st.n_messages, sizeof *msgs);
        msgp = calloc(st.n_messages, sizeof *msgp);
        if (!msgs || !msgp) {
            free(msgs);
            free(msgp);
            zh_hunt_status_free(&st);
            set_status(c, ZEROHOUR__V1__STATUS__STATUS_INTERNAL, "out of memory");
            closure(NULL, cd);
            return;
        }
    }
    for (size_t i = 0; i < st.n_messages; i++) {
        const struct zh_hunt_message *m = &st.messages[i];
        Zerohour__V1__RetrohuntMessage *p = &msgs[i];
        zerohour__v1__retrohunt_message__init(p);
        p->received_at = m->received_at;
        p->message_id = m->message_id;
        p->mail_from = m->mail_from;
        p->rcpt_to = m->rcpt_to;
        p->n_rcpt_to = m->n_rcpt;
        p->queue_id = m->queue_id;
        p->verdict = (Zerohour__V1__Verdict)m->verdict;
        p->score = m->score;
        p->rules = m->rules;
        p->n_rules = m->n_rules;
        p->objects = m->objects;
        p->n_objects = m->n_objects;
        p->subject = m->subject;
        p->client_ip = m->client_ip;
        p->helo = m->helo;
        p->hits = m->hits;
        p->fingerprint = m->fingerprint;
        msgp[i] = p;
    }
    resp.messages = msgp;
    resp.n_messages = st.n_messages;
    closure(&resp, cd);
    free(msgs);
    free(msgp);
    zh_hunt_status_free(&st);
}

static void svc_store_forget(Zerohour__V1__ZeroHour_Service *svc,
                             const Zerohour__V1__StoreForgetRequest *in,
                             Zerohour__V1__StoreForgetResponse_Closure closure, void *cd)
{
    struct call *c = cd;
    char err[256] = "";
    uint64_t n = 0;
    zh_err rc = zh_engine_store_forget(c->w->srv->engine, in->message_id, in->older_than_ms, &n,
                                       err, sizeof err);
    if (rc != ZH_ERR_OK) {
        set_status(c,
                   rc == ZH_ERR_INVALID ? ZEROHOUR__V1__STATUS__STATUS_INVALID_ARGUMENT
                                        : ZEROHOUR__V1__STATUS__STATUS_UNAVAILABLE,
                   "%s", err);
        closure(NULL, cd);
        return;
    }
    Zerohour__V1__StoreForgetResponse resp = ZEROHOUR__V1__STORE_FORGET_RESPONSE__INIT;
    resp.messages = n;
    closure(&resp, cd);
}

static Zerohour__V1__ZeroHour_Service service = ZEROHOUR__V1__ZERO_HOUR__INIT(svc_);

/* Scan and Ping are for everyone who can connect; the calls that change or
 * reveal the engine's state only where the configuration allows them. */
static bool admin_allowed(const struct zhd_server *srv, const char *method, nng_pipe pipe)
{
    if (!strcmp(method, "Scan") || !strcmp(method, "Ping"))
        return true;
    nng_listener l = nng_pipe_listener(pipe);
    for (size_t i = 0; i < srv->n_admin; i++)
        if ((uint32_t)nng_listener_id(l) == srv->admin_ids[i])
            return true;
    return false;
}

/* Decode the envelope, find the method in the service descriptor, unpack its
 * input type and invoke; every path leaves a packed reply in c. Takes the
 * request: it is freed as soon as it is decoded, and the envelope as soon as
 * the input is, so a large message is held once during its scan, not three
 * times (request, envelope payload, input). */
static void dispatch(struct worker *w, nng_msg *msg, struct call *c)
{
    const ProtobufCServiceDescriptor *d = &zerohour__v1__zero_hour__descriptor;
    unsigned method_slot = N_METHODS_MAX;
    size_t len = nng_msg_len(msg);
    nng_pipe pipe = nng_msg_get_pipe(msg);
    Zerohour__V1__Call *call = zerohour__v1__call__unpack(NULL, len, nng_msg_body(msg));
    nng_msg_free(msg);
    ProtobufCMessage *input = NULL;
    char method[72] = "?";
    memset(c, 0, sizeof *c);
    c->w = w;
    if (!call) {
        set_status(c, ZEROHOUR__V1__STATUS__STATUS_INVALID_ARGUMENT,
                   "request is not a zerohour.v1.Call protobuf message (%zu bytes)", len);
        goto reply;
    }
    if (!call->method || !*call->method) {
        set_status(c, ZEROHOUR__V1__STATUS__STATUS_INVALID_ARGUMENT,
                   "request names no method (%zu bytes)", len);
        goto reply;
    }
    snprintf(method, sizeof method, "%s", call->method);
    const ProtobufCMethodDescriptor *m =
        protobuf_c_service_descriptor_get_method_by_name(d, call->method);
    if (!m) {
        set_status(c, ZEROHOUR__V1__STATUS__STATUS_UNIMPLEMENTED,
                   "unknown method \"%.64s\" (this engine serves Scan, Reload, Stats, Ping, "
                   "Outbreaks, Retrohunt, StoreForget)",
                   call->method);
        goto reply;
    }
    method_slot = (unsigned)(m - d->methods);
    input = protobuf_c_message_unpack(m->input, NULL, call->payload.len, call->payload.data);
    zerohour__v1__call__free_unpacked(call, NULL);
    call = NULL;
    if (!input) {
        set_status(c, ZEROHOUR__V1__STATUS__STATUS_INVALID_ARGUMENT,
                   "payload of %s is not a valid %s", m->name, m->input->name);
        goto reply;
    }
    if (!admin_allowed(w->srv, m->name, pipe)) {
        set_status(c, ZEROHOUR__V1__STATUS__STATUS_PERMISSION_DENIED,
                   "%s is answered only on ipc addresses and engine.admin_address", m->name);
        goto reply;
    }
    if (atomic_load(&w->srv->stopping) && strcmp(m->name, "Ping")) {
        set_status(c, ZEROHOUR__V1__STATUS__STATUS_UNAVAILABLE, "engine is shutting down");
        goto reply;
    }
    service.base.invoke(&service.base, method_slot, input, on_response, c);
reply:
    if (!c->reply)
        c->reply = zh_wire_pack_reply(c->status, c->message, NULL, &c->reply_len);
    if (method_slot > N_METHODS_MAX)
        method_slot = N_METHODS_MAX;
    atomic_fetch_add(&w->srv->calls[method_slot][(unsigned)c->status < N_STATUS ? c->status : 5],
                     1);
    if (c->status != 0 && c->status != ZEROHOUR__V1__STATUS__STATUS_DEADLINE_EXCEEDED)
        zh_log(ZH_LOG_DEBUG, "request %s: %s: %s", method, zh_status_name(c->status), c->message);
    if (input)
        protobuf_c_message_free_unpacked(input, NULL);
    if (call)
        zerohour__v1__call__free_unpacked(call, NULL);
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct zhd_server *srv = w->srv;
    while (!atomic_load(&srv->stopping)) {
        nng_ctx_recv(w->ctx, w->raio);
        nng_aio_wait(w->raio);
        int rv = nng_aio_result(w->raio);
        if (rv != 0) {
            if (rv == NNG_ECLOSED)
                break;
            if (rv == NNG_ETIMEDOUT)
                zh_scanner_idle(w->scanner); /* a quiet spell: drop a replaced rule set */
            continue;                        /* cancelled (shutdown check) or a transient error */
        }
        nng_msg *msg = nng_aio_get_msg(w->raio);
        atomic_fetch_add(&srv->in_flight, 1);
        struct call c;
        dispatch(w, msg, &c);
        msg = NULL;
        if (!c.reply || nng_msg_alloc(&msg, 0) != 0 ||
            nng_msg_append(msg, c.reply, c.reply_len) != 0) {
            zh_log(ZH_LOG_ERROR, "out of memory building a reply; the request is dropped");
            if (msg)
                nng_msg_free(msg);
        } else {
            nng_aio_set_msg(w->saio, msg);
            nng_ctx_send(w->ctx, w->saio);
            nng_aio_wait(w->saio);
            if (nng_aio_result(w->saio) != 0)
                nng_msg_free(msg);
        }
        free(c.reply);
        atomic_fetch_sub(&srv->in_flight, 1);
        /* Stats and pings keep a worker busy without scanning: it must still
         * let go of a replaced rule set (so must one that hears nothing). */
        if (!c.scanned)
            zh_scanner_idle(w->scanner);
    }
    atomic_store(&w->done, true);
    return NULL;
}

/* The server side of tls+tcp://: certificate and key from engine.tls_cert;
 * with engine.tls_ca, a client certificate signed by one of its CAs is
 * required (mbedTLS, inside Debian's libnng). */
static int tls_config(struct zhd_server *srv, const struct zh_config *cfg, char *err, size_t errlen)
{
    int rv;
    if (srv->tls)
        return 0;
    if ((rv = nng_tls_config_alloc(&srv->tls, NNG_TLS_MODE_SERVER)) != 0 ||
        (rv = nng_tls_config_version(srv->tls, NNG_TLS_1_2, NNG_TLS_1_3)) != 0) {
        snprintf(err, errlen, "TLS: %s", nng_strerror(rv));
        return -1;
    }
    if ((rv = nng_tls_config_cert_key_file(srv->tls, cfg->tls_cert, NULL)) != 0) {
        snprintf(err, errlen, "engine.tls_cert %.900s: %s (a PEM file with certificate and key)",
                 cfg->tls_cert, nng_strerror(rv));
        return -1;
    }
    if (*cfg->tls_ca &&
        ((rv = nng_tls_config_ca_file(srv->tls, cfg->tls_ca)) != 0 ||
         (rv = nng_tls_config_auth_mode(srv->tls, NNG_TLS_AUTH_MODE_REQUIRED)) != 0)) {
        snprintf(err, errlen, "engine.tls_ca %.900s: %s", cfg->tls_ca, nng_strerror(rv));
        return -1;
    }
    return 0;
}

static void server_free(struct zhd_server *srv)
{
    if (srv->tls)
        nng_tls_config_free(srv->tls);
    for (size_t i = 0; i < srv->n_workers; i++) {
        struct worker *w = &srv->workers[i];
        if (w->raio)
            nng_aio_free(w->raio);
        if (w->saio)
            nng_aio_free(w->saio);
        zh_scanner_free(w->scanner);
    }
    free(srv->workers);
    free(srv);
}

int zhd_server_start(zh_engine *e, const struct zh_config *cfg, size_t workers,
                     zhd_listening_fn listening, void *ud, struct zhd_server **out, char *err,
                     size_t errlen)
{
    int rv;
    struct zhd_server *srv = calloc(1, sizeof *srv);
    if (!srv || !(srv->workers = calloc(workers, sizeof *srv->workers))) {
        free(srv);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    srv->engine = e;
    srv->n_workers = workers;
    srv->started_unix_s = (uint64_t)time(NULL);
    srv->log_scans = !strcmp(cfg->log_scans, "all") ? 2 : !strcmp(cfg->log_scans, "none") ? 0 : 1;
    if ((rv = nng_rep0_open(&srv->sock)) != 0) {
        snprintf(err, errlen, "cannot open the rep0 socket: %s", nng_strerror(rv));
        free(srv->workers);
        free(srv);
        return -1;
    }
    /* Sit a little above the message limit so the engine itself refuses (with
     * a clear status) what lies between; beyond it nng drops the request. */
    size_t maxsz = (size_t)cfg->max_message_bytes + (size_t)cfg->max_message_bytes / 4 + (1u << 20);
    nng_socket_set_size(srv->sock, NNG_OPT_RECVMAXSZ, maxsz);
    for (size_t i = 0; i <= cfg->n_addresses; i++) {
        nng_listener l;
        const char *url = i < cfg->n_addresses ? cfg->addresses[i] : cfg->admin_address;
        if (!url || !*url)
            continue;
        if ((rv = nng_listener_create(&l, srv->sock, url)) != 0) {
            snprintf(err, errlen, "%s: %s", url, nng_strerror(rv));
            goto fail;
        }
        if (!strncmp(url, "ipc://", 6))
            nng_listener_set_int(l, NNG_OPT_IPC_PERMISSIONS, (int)cfg->socket_mode);
        if (!strncmp(url, "tls+tcp://", 10) &&
            (tls_config(srv, cfg, err, errlen) != 0 ||
             (rv = nng_listener_set_ptr(l, NNG_OPT_TLS_CONFIG, srv->tls)) != 0)) {
            if (rv)
                snprintf(err, errlen, "%s: %s", url, nng_strerror(rv));
            goto fail;
        }
        if ((rv = nng_listener_start(l, 0)) != 0) {
            snprintf(err, errlen, "cannot listen on %s: %s", url, nng_strerror(rv));
            goto fail;
        }
        if (!strncmp(url, "ipc://", 6) || i == cfg->n_addresses)
            srv->admin_ids[srv->n_admin++] = (uint32_t)nng_listener_id(l);
    }
    if (listening && listening(ud, err, errlen) != 0)
        goto fail;
    for (size_t i = 0; i < workers; i++) {
        struct worker *w = &srv->workers[i];
        w->srv = srv;
        if ((rv = nng_ctx_open(&w->ctx, srv->sock)) != 0 ||
            (rv = nng_aio_alloc(&w->raio, NULL, NULL)) != 0 ||
            (rv = nng_aio_alloc(&w->saio, NULL, NULL)) != 0) {
            snprintf(err, errlen, "nng: %s", nng_strerror(rv));
            goto fail;
        }
        nng_aio_set_timeout(w->raio, IDLE_MS);
        if (zh_scanner_new(e, &w->scanner) != ZH_ERR_OK) {
            snprintf(err, errlen, "cannot create a scanner");
            goto fail;
        }
    }
    for (size_t i = 0; i < workers; i++) {
        struct worker *w = &srv->workers[i];
        if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
            snprintf(err, errlen, "cannot start worker thread: %s", strerror(errno));
            zhd_server_drain_and_stop(srv);
            return -1;
        }
        w->started = true;
    }
    *out = srv;
    return 0;
fail:
    nng_close(srv->sock);
    server_free(srv);
    return -1;
}

void zhd_server_drain_and_stop(struct zhd_server *srv)
{
    atomic_store(&srv->stopping, true);
    /* A worker between its stopping check and nng_ctx_recv would miss a single
     * cancel, so keep cancelling receives until every worker has left. */
    for (;;) {
        bool all = true;
        for (size_t i = 0; i < srv->n_workers; i++) {
            struct worker *w = &srv->workers[i];
            if (w->started && !atomic_load(&w->done)) {
                all = false;
                nng_aio_cancel(w->raio);
            }
        }
        if (all)
            break;
        nanosleep(&(struct timespec){0, 10 * 1000 * 1000}, NULL);
    }
    for (size_t i = 0; i < srv->n_workers; i++)
        if (srv->workers[i].started)
            pthread_join(srv->workers[i].thread, NULL);
    /* nng has no linger: give the pipes a moment to flush the last replies. */
    nanosleep(&(struct timespec){0, 100 * 1000 * 1000}, NULL);
    nng_close(srv->sock);
    server_free(srv);
}
