/* outbreak: the zero-hour core. Each message's payload gets a structural
 * fingerprint made of what a mutating worm cannot easily change — the kinds
 * of its attachments and archive members (sniffed type, extension class, a
 * coarse size bucket, nesting and encryption) and which lure rules its text
 * hit — never exact bytes or file names, so polymorphic copies group. The
 * engine's outbreak table (src/outbreak.c) counts copies, senders, client IPs
 * and recipient domains per fingerprint; a risky fingerprint crossing the
 * thresholds is an outbreak, and every copy of it is flagged. Mail without
 * risky content is counted but never escalates on volume — except the surge
 * of the unknown: an attachment of a type no class names (unknown bytes under
 * an unknown extension, as OneNote's .one was to every gateway in January
 * 2023) gets a fingerprint of its own shape (extension and leading magic
 * bytes), counted by sender *domain* and client IP over
 * [outbreak] surge_window_ms; from surge_min_senders domains and
 * surge_min_client_ips hosts it is flagged (surge_unknown_type), and DEFERred
 * while it grows. A newsletter (one sender domain however many VERP
 * envelope senders and relays) and a document forwarded inside one
 * organisation (one domain; internal mail is not counted at all) never
 * reach it. */
#include "../src/heuristics.h"
#include "../src/outbreak.h"
#include "../src/zhi.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_ITEMS 32

struct item {
    uint32_t kind, type, cls, bucket, depth, flags;
};

static int cmp_item(const void *a, const void *b)
{
    return memcmp(a, b, sizeof(struct item));
}

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    const uint8_t *b = p;
    while (n--)
        h = (h ^ *b++) * 1099511628211ULL;
    return h;
}

static unsigned ext_class_bits(const struct zhi_heuristics *h, const char *ext)
{
    unsigned bits = 0;
    for (int c = 0; c < ZHI_C__COUNT; c++)
        bits |= zhi_ext_in(h, (enum zhi_ext_class)c, ext) ? 1u << c : 0;
    /* "disguise" refines the score of some executable names; a worm that
     * picks .exe, .scr or .pif at random is still one payload. */
    return bits & ~(1u << ZHI_C_DISGUISE);
}

/* floor(log4(n)): coarse enough that polymorphic padding stays in one bucket. */
static unsigned bucket(size_t n)
{
    unsigned b = 0;
    while (n >= 4) {
        n >>= 2;
        b++;
    }
    return b;
}

/* Parts that belong to MIME's machinery rather than to what a user opens:
 * every S/MIME or PGP signer, every Outlook (TNEF) sends them. */
static bool machinery(const struct zhi_object *o)
{
    static const char *const types[] = {
        "application/pkcs7-signature", "application/x-pkcs7-signature", "application/pkcs7-mime",
        "application/x-pkcs7-mime",    "application/pgp-signature",     "application/pgp-encrypted",
        "application/pgp-keys",        "application/ms-tnef",           "application/vnd.ms-tnef",
    };
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        if (!strcmp(o->declared_type, types[i]))
            return true;
    return !strcmp(o->ext, "p7s") || !strcmp(o->ext, "p7m") || !strcmp(o->ext, "asc") ||
           !strcmp(o->ext, "sig") || (o->filename && !strcasecmp(o->filename, "winmail.dat"));
}

/* The shape of the message's unknown-type attachments, 0 when it has none:
 * the extension and the first four bytes (a format's magic) of each. The
 * bytes after the magic change with every polymorphic copy, and so does the
 * size: random padding moves copies across any size class's boundary. */
static uint64_t surge_fingerprint(const struct zhi_scan *s, char *summary, size_t size)
{
    uint64_t fp = fnv(1469598103934665603ULL, "surge", 5);
    size_t n = 0, sl = strlen(summary);
    for (size_t i = 0; i < s->n_objects; i++) {
        const struct zhi_object *o = &s->objects[i];
        if (o->kind != ZHI_K_ATTACHMENT || (o->flags & ZHI_OBJ_IN_MESSAGE) || machinery(o) ||
            zhi_payload_of(s, o) != ZHI_P_UNKNOWN)
            continue;
        uint8_t magic[4] = {0};
        memcpy(magic, o->data, o->len < 4 ? o->len : 4);
        fp = fnv(fp, o->ext, strlen(o->ext) + 1);
        fp = fnv(fp, magic, sizeof magic);
        n++;
        if (sl + 40 < size)
            sl += (size_t)snprintf(summary + sl, size - sl, "%sunknown .%s %02x%02x%02x%02x",
                                   sl ? ", " : "", o->ext, magic[0], magic[1], magic[2], magic[3]);
    }
    return n ? fp : 0;
}

static zh_err outbreak_scan(struct zhi_scan *s, void *state, void *tstate)
{
    struct zhi_outbreaks *ob = s->outbreaks;
    const struct zhi_heuristics *h = s->rules->heur;
    struct item items[MAX_ITEMS];
    size_t n = 0;
    bool risky = false;
    char summary[96] = "";
    size_t sl = 0;
    for (size_t i = 0; i < s->n_objects && n < MAX_ITEMS; i++) {
        const struct zhi_object *o = &s->objects[i];
        if (o->kind != ZHI_K_ATTACHMENT && o->kind != ZHI_K_MEMBER)
            continue;
        if (o->flags & ZHI_OBJ_IN_MESSAGE)
            continue; /* a returned or forwarded original is not this message's payload */
        unsigned cls = ext_class_bits(h, o->ext);
        bool exec = zhi_type_is_executable(o->sniffed) || (cls & (1u << ZHI_C_EXECUTABLE));
        bool active_member = o->kind == ZHI_K_MEMBER && (cls & (1u << ZHI_C_ACTIVE));
        /* Today's wrappers count too: scripts by content, disk images,
         * OneNote, pages that rebuild a file. Not macro documents by
         * themselves: every workbook with macros has the same shape, and
         * benign ones travel between companies all day. */
        enum zhi_payload k = zhi_payload_of(s, o);
        bool wrapper = (zhi_payload_runs(k) && k != ZHI_P_MACRO) || k == ZHI_P_IMAGE ||
                       k == ZHI_P_ONENOTE || zhi_object_attr(o, "html.smuggling");
        /* Encryption is risky while it hides something: a member no
         * password opened. One the text's password opened was seen and is
         * judged as what it is (payroll's zips of PDFs are not a wave). */
        risky |= exec || active_member || wrapper || (o->flags & ZHI_OBJ_ENCRYPTED) ||
                 ((o->flags & ZHI_OBJ_HAS_ENCRYPTED) && !(o->flags & ZHI_OBJ_DECRYPTED));
        items[n++] = (struct item){o->kind,
                                   o->sniffed,
                                   cls,
                                   bucket(o->len),
                                   (uint32_t)o->archive_depth,
                                   o->flags & (ZHI_OBJ_ENCRYPTED | ZHI_OBJ_HAS_ENCRYPTED)};
        if (sl < sizeof summary - 24)
            sl += (size_t)snprintf(summary + sl, sizeof summary - sl, "%s%s%s~%zuK",
                                   sl ? (o->kind == ZHI_K_MEMBER ? " > " : ", ") : "",
                                   zhi_type_name(o->sniffed), *o->ext ? "." : "",
                                   (o->len + 1023) / 1024);
    }
    /* Double extensions and the lure families the text used are part of the shape. */
    char hits[96] = "";
    size_t hl = 0;
    uint64_t fp = 1469598103934665603ULL;
    qsort(items, n, sizeof *items, cmp_item);
    fp = fnv(fp, items, n * sizeof *items);
    for (size_t i = 0; i < s->n_hits; i++) {
        const struct zhi_hit *x = &s->hits[i];
        bool shape = x->src == ZHI_SRC_lure_text || x->src == ZHI_SRC_double_extension;
        if (!shape && x->score <= 0)
            continue;
        if (strstr(hits, x->rule))
            continue;
        if (shape) {
            fp = fnv(fp, x->rule, strlen(x->rule));
            risky |= x->src == ZHI_SRC_double_extension;
        }
        /* Macros that run on opening or reach outside, a program embedded in
         * a document, an Excel 4.0 sheet: risky. Macros alone are not (benign
         * workbooks of one shape come from many senders). */
        if (x->src == ZHI_SRC_macro && strcmp(x->rule, "macro_document")) {
            risky = true;
        }
        if (hl + strlen(x->rule) + 2 < sizeof hits)
            hl += (size_t)snprintf(hits + hl, sizeof hits - hl, "%s%s", hl ? "," : "", x->rule);
    }
    if (n == 0 && !risky)
        return ZH_ERR_OK; /* no payload: plain text mail has nothing to surge with */
    /* The store keeps it, so a retro-hunt finds the copies before an outbreak. */
    snprintf(s->fingerprint, sizeof s->fingerprint, "%016llx", (unsigned long long)fp);
    if (!ob)
        return ZH_ERR_OK;
    const struct zh_scan_envelope *env = s->env;
    const char *sender = env->mail_from && *env->mail_from ? env->mail_from : s->from;
    bool surge = false;
    if (!risky && s->cfg->outbreak_surge && !zhi_site_internal_mail(s)) {
        char ssum[96] = "";
        uint64_t sfp = surge_fingerprint(s, ssum, sizeof ssum);
        if (sfp) {
            surge = true;
            fp = sfp;
            memcpy(summary, ssum, sizeof summary);
            /* One organisation is one sender: a newsletter's VERP addresses,
             * a company's staff. */
            sender = zhi_org_domain(s->from && *s->from ? s->from : sender);
        }
    }
    struct zhi_ob_sighting si = {
        .fp = fp,
        .risky = risky,
        .surge = surge,
        .summary = summary,
        .hits = hits,
        .sender = sender,
        .client_ip = env->client_ip ? env->client_ip : "",
        .rcpt = env->rcpt_to,
        .n_rcpt = env->n_rcpt,
        .now_ms = s->received_at,
    };
    struct zhi_ob_status st;
    int shared = 0;
    if (env->no_observe) {
        /* A hunt through stored mail: flag what is an outbreak now, count
         * nothing. The fleet's Redis is not asked (its script counts as it
         * reads); outbreaks it found reach this table through mark_active. */
        zhi_outbreaks_peek(ob, fp, si.now_ms, &st);
    } else {
        zhi_outbreaks_see(ob, &si, &st);
        /* With a fleet's Redis, the fleet's figures decide; this engine's own
         * table keeps counting for the listing and for Redis outages. */
        struct zhi_ob_status fleet;
        shared = zhi_ob_shared_see(tstate, &si, st.active, &fleet);
        if (shared > 0) {
            /* The fleet's view includes this engine's copies, unless Redis lost
             * them (a restart, an outage): an outbreak either side found stands,
             * and one found here during an outage is handed to the fleet. */
            if (fleet.active && !st.active)
                zhi_outbreaks_mark_active(ob, fp, si.now_ms);
            st = fleet;
        }
    }
    zh_err rc = ZH_ERR_OK;
    if (st.active && surge) {
        rc = zhi_hit(s, ZHI_SRC_outbreak, "surge_unknown_type", "",
                     h ? h->scores[ZHI_S_surge_unknown_type] : (int)s->cfg->malicious_score,
                     "fingerprint %016llx (%s), a type no class names: %u copies from %u sender "
                     "domains and %u client IPs in the surge window%s, %llu since first seen",
                     (unsigned long long)fp, summary, st.copies, st.senders, st.client_ips,
                     shared > 0 ? " across the fleet" : "", (unsigned long long)st.total);
    } else if (st.active) {
        /* Flag every copy: SUSPICIOUS on its own, MALICIOUS when the
         * message's own heuristics already found it suspicious. */
        long own = zhi_verdict_score(s);
        int score = (int)(own >= s->cfg->suspicious_score ? s->cfg->malicious_score
                                                          : s->cfg->suspicious_score);
        rc = zhi_hit(s, ZHI_SRC_outbreak, "outbreak", "", score,
                     "fingerprint %016llx (%s): %u copies from %u senders and %u client "
                     "IPs to %u domains in the window%s, %llu since first seen",
                     (unsigned long long)fp, summary, st.copies, st.senders, st.client_ips,
                     st.rcpt_domains, shared > 0 ? " across the fleet" : "",
                     (unsigned long long)st.total);
    } else if (st.growing && s->cfg->outbreak_defer) {
        s->defer_retry_s = (uint32_t)s->cfg->outbreak_defer_retry_s;
    }
    /* A Redis outage is this detector's error (Stats: detectors); the scan
     * itself went on with the local figures. */
    return rc != ZH_ERR_OK ? rc : shared < 0 ? ZH_ERR_FAILED : ZH_ERR_OK;
}

static zh_err outbreak_init(const struct zh_config *cfg, void **state)
{
    *state = (void *)cfg; /* the engine's copy: it outlives every scanner */
    return ZH_ERR_OK;
}

static zh_err outbreak_thread_init(void *state, void **tstate)
{
    const struct zh_config *cfg = state;
    return cfg->outbreak_enabled ? zhi_ob_shared_new(cfg, (struct zhi_ob_shared **)tstate)
                                 : ZH_ERR_OK;
}

static void outbreak_thread_fini(void *tstate)
{
    zhi_ob_shared_free(tstate);
}

const struct zh_detector zh_detector_outbreak = {
    .name = "outbreak",
    .init = outbreak_init,
    .thread_init = outbreak_thread_init,
    .scan = outbreak_scan,
    .thread_fini = outbreak_thread_fini,
};
