/* sender: what mass-mailers do to senders — generated-looking local parts,
 * a display name that claims another address, a From domain unrelated to
 * the envelope, a HELO that is no domain name, missing or broken Message-ID
 * and Date — and, statefully, one client IP sending under many From
 * addresses within a window of the envelope's received_at. The state is a
 * fixed table of client slots: memory is bounded whatever the traffic. */
#include "../src/heuristics.h"
#include "../src/zhi.h"

#include <ctype.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* One slot per client (by IP hash). Each entry packs a From address's hash
 * (high 32 bits) and the second it was last seen (low 32 bits) into one
 * atomic word, so scans update the table without a lock (DESIGN: no lock on
 * the scan path). Two scans from one client in the same instant may each
 * take an entry for the same new address; a count that is one high once in a
 * while does not matter against a threshold of ten. */
struct slot {
    _Atomic uint64_t ip; /* hash of the client IP; 0 = free */
    _Atomic uint64_t from[ZHI_SENDER_FROM_SLOTS];
};

struct table {
    size_t n_slots;
    struct table *retired; /* an older table, freed at fini */
    struct slot slots[];
};

struct sender_state {
    /* Replaced when a reload changes [sender] table_slots. A scan may still
     * be reading the old one, so old tables are kept until fini: one per
     * change of the setting. */
    _Atomic(struct table *) table;
};

static uint64_t hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (uint8_t)tolower((unsigned char)*s)) * 1099511628211ULL;
    return h ? h : 1;
}

static zh_err sender_init(const struct zh_config *cfg, void **state)
{
    struct sender_state *st = calloc(1, sizeof *st);
    if (!st)
        return ZH_ERR_FATAL;
    *state = st;
    return ZH_ERR_OK;
}

static void sender_fini(void *state)
{
    struct sender_state *st = state;
    for (struct table *t = atomic_load(&st->table), *next; t; t = next) {
        next = t->retired;
        free(t);
    }
    free(st);
}

/* The table for this rule set's size; made on first use or after a change. */
static struct table *table_for(struct sender_state *st, size_t n_slots)
{
    struct table *t = atomic_load(&st->table);
    while (!t || t->n_slots != n_slots) {
        struct table *fresh = calloc(1, sizeof *fresh + n_slots * sizeof fresh->slots[0]);
        if (!fresh)
            return NULL;
        fresh->n_slots = n_slots;
        fresh->retired = t;
        if (atomic_compare_exchange_strong(&st->table, &t, fresh))
            return fresh;
        free(fresh); /* another scan installed one: look again */
    }
    return t;
}

static uint64_t entry(uint64_t from_hash, int64_t second)
{
    return (from_hash & 0xffffffff00000000ULL) | (uint32_t)second;
}

/* Distinct From addresses this client used within the window, counting this one. */
/* How many distinct From addresses ip used within the window, this one
 * included. With observe false the table is only read (a hunt through stored
 * mail must not make a client look like a worm's next time). */
static int client_from_count(struct sender_state *st, const struct zhi_heuristics *h,
                             const char *ip, const char *from, int64_t now_ms, bool observe)
{
    struct table *t = table_for(st, (size_t)h->table_slots);
    if (!t)
        return 0;
    int64_t window = h->many_from_window_s, now = now_ms / 1000;
    uint64_t ih = hash(ip), fh = hash(from) | (1ULL << 32); /* never an empty entry */
    struct slot *sl = &t->slots[ih % t->n_slots];
    uint64_t owner = atomic_load(&sl->ip);
    if (!observe && owner != ih)
        return 1; /* nothing known of this client: this message's address alone */
    /* Free, or another client's: the newest client takes the slot. */
    if (owner != ih && atomic_compare_exchange_strong(&sl->ip, &owner, ih))
        for (int i = 0; i < ZHI_SENDER_FROM_SLOTS; i++)
            atomic_store(&sl->from[i], 0);
    int count = 0, free_i = -1, oldest_i = 0;
    int64_t oldest = INT64_MAX;
    bool known = false;
    for (int i = 0; i < ZHI_SENDER_FROM_SLOTS; i++) {
        uint64_t e = atomic_load(&sl->from[i]);
        int64_t seen = (int64_t)(uint32_t)e;
        if (!e || now - seen > window) {
            if (free_i < 0)
                free_i = i;
            continue;
        }
        if ((e >> 32) == (fh >> 32)) {
            if (observe)
                atomic_store(&sl->from[i], entry(fh, now > seen ? now : seen));
            known = true;
        }
        if (seen < oldest) {
            oldest = seen;
            oldest_i = i;
        }
        count++;
    }
    if (!known && !observe)
        count += free_i >= 0 ? 1 : 0;
    else if (!known) {
        /* A stale or free entry, else the oldest: the newest address replaces it. */
        atomic_store(&sl->from[free_i >= 0 ? free_i : oldest_i], entry(fh, now));
        count += free_i >= 0 ? 1 : 0;
    }
    return count;
}

static bool vowel(char c)
{
    c = (char)tolower((unsigned char)c);
    return c == 'a' || c == 'e' || c == 'i' || c == 'o' || c == 'u' || c == 'y';
}

/* Generated local parts: long consonant runs ("kjhsdf"), letters and digits
 * shuffled together ("a8d7f6g"), no vowels at all. Names, initials,
 * role accounts and year suffixes ("jsmith1987") are not. */
static const char *random_local(const char *local, char *why, size_t whylen)
{
    size_t n = strcspn(local, "@");
    size_t letters = 0, digits = 0, vowels = 0, run = 0, max_run = 0, switches = 0;
    int prev = -1;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)local[i];
        int cls = isdigit(c) ? 1 : isalpha(c) ? 0 : 2;
        if (cls == 0) {
            letters++;
            if (vowel((char)c)) {
                vowels++;
                run = 0;
            } else if (++run > max_run) {
                max_run = run;
            }
        } else {
            run = 0;
            digits += cls == 1;
        }
        if (cls != 2 && prev != -1 && prev != 2 && cls != prev)
            switches++;
        prev = cls;
    }
    if (letters + digits < 6)
        return NULL;
    if (max_run >= 5) {
        snprintf(why, whylen, "%zu consonants in a row", max_run);
        return why;
    }
    if (letters >= 6 && vowels == 0) {
        snprintf(why, whylen, "no vowels");
        return why;
    }
    if (switches >= 4 && digits >= 3) {
        snprintf(why, whylen, "letters and digits interleaved %zu times", switches);
        return why;
    }
    return NULL;
}

static bool same_org(const char *a, const char *b)
{
    return *a && *b && !strcasecmp(zhi_org_domain(a), zhi_org_domain(b));
}

/* Which recipient domain an outside client pretends to be: as its HELO (mail
 * servers never greet a domain with its own name), as the From domain, or as
 * the Message-ID's domain while From is elsewhere. Exact domains: sister
 * departments under one parent domain legitimately mail each other. */
static const char *claims_recipient(const struct zhi_scan *s, const char *fdom, char *what,
                                    size_t whatlen)
{
    const struct zh_scan_envelope *env = s->env;
    /* The organisation's own hosts, and the relays and hosted provider it
     * sends through ([site] internal_networks, trusted_networks), speak for
     * its domains; an unknown client is not judged. */
    if (!env->client_ip || !*env->client_ip || zhi_site_trusted_client(s))
        return NULL;
    const char *mid_at = s->message_id ? strrchr(s->message_id, '@') : NULL;
    for (size_t i = 0; i < env->n_rcpt; i++) {
        const char *r = env->rcpt_to[i] ? strchr(env->rcpt_to[i], '@') : NULL;
        if (!r || !*++r)
            continue;
        if (env->helo && !strcasecmp(env->helo, r)) {
            snprintf(what, whatlen, "HELO %s", env->helo);
            return r;
        }
        if (fdom && !strcasecmp(fdom, r)) {
            snprintf(what, whatlen, "From %s", s->from);
            return r;
        }
        if (mid_at && (!fdom || strcasecmp(fdom, r)) && !strcasecmp(mid_at + 1, r)) {
            snprintf(what, whatlen, "Message-ID <%s>", s->message_id);
            return r;
        }
    }
    return NULL;
}

/* RFC 5322 msg-id: <left@right>; GMime already removed the brackets. */
static bool message_id_ok(const char *mid)
{
    const char *at = strchr(mid, '@');
    return at && at != mid && at[1] && !strchr(at + 1, '@') && !strpbrk(mid, " \t<>");
}

static zh_err sender_scan(struct zhi_scan *s, void *state, void *tstate)
{
    if (!s->rules->heur || !s->is_message)
        return ZH_ERR_OK; /* no heuristics.ini in this rule set, or a file: no sender */
    struct sender_state *st = state;
    const struct zhi_heuristics *h = s->rules->heur;
    const struct zh_scan_envelope *env = s->env;
    const char *from = s->from ? s->from : "";
    zh_err rc = ZH_ERR_OK;
    char why[96];

    if (*from && random_local(from, why, sizeof why))
        rc = zhi_hit(s, ZHI_SRC_sender, "random_local_part", "headers",
                     h->scores[ZHI_S_sender_random_local],
                     "From address \"%s\" looks generated (%s)", from, why);
    /* "support@microsoft.com" <x7f9q@random.example> */
    const char *claimed = s->from_name ? strchr(s->from_name, '@') : NULL;
    if (rc == ZH_ERR_OK && claimed && *from && !strcasestr(s->from_name, from) &&
        strchr(claimed + 1, '.'))
        rc = zhi_hit(s, ZHI_SRC_sender, "display_name_spoof", "headers",
                     h->scores[ZHI_S_sender_display_spoof],
                     "display name \"%s\" claims an address other than %s", s->from_name, from);
    const char *mail_from = env->mail_from ? env->mail_from : "";
    const char *helo = env->helo ? env->helo : "";
    const char *fdom = strchr(from, '@');
    if (rc == ZH_ERR_OK && fdom && *mail_from && strchr(mail_from, '@') &&
        !same_org(fdom + 1, strchr(mail_from, '@') + 1) && !same_org(fdom + 1, helo))
        rc = zhi_hit(s, ZHI_SRC_sender, "domain_mismatch", "headers",
                     h->scores[ZHI_S_sender_domain_mismatch],
                     "From domain %s matches neither the envelope sender %s nor HELO %s", fdom + 1,
                     mail_from, *helo ? helo : "(none)");
    /* Mail servers greet with a domain name or an address literal; a bare
     * word ("HOME-3F2A1B") is a desktop sending mail itself. */
    if (rc == ZH_ERR_OK && *helo && !strchr(helo, '.') && helo[0] != '[' &&
        strcasecmp(helo, "localhost"))
        rc = zhi_hit(s, ZHI_SRC_sender, "bare_helo", "headers", h->scores[ZHI_S_sender_bare_helo],
                     "HELO \"%s\" is not a domain name", helo);
    if (rc == ZH_ERR_OK && (!s->has_message_id_header || !message_id_ok(s->message_id)))
        rc = zhi_hit(
            s, ZHI_SRC_sender, "bad_message_id", "headers", h->scores[ZHI_S_sender_no_message_id],
            s->has_message_id_header ? "Message-ID \"%s\" is malformed" : "no Message-ID header%s",
            s->has_message_id_header ? s->message_id : "");
    char what[320];
    const char *own = claims_recipient(s, fdom ? fdom + 1 : NULL, what, sizeof what);
    if (rc == ZH_ERR_OK && own)
        rc = zhi_hit(s, ZHI_SRC_sender, "claims_recipient_domain", "headers",
                     h->scores[ZHI_S_sender_claims_recipient_domain],
                     "outside client %s presents itself as the recipient's domain %s (%s)",
                     env->client_ip, own, what);
    if (rc == ZH_ERR_OK && (!s->has_date || !s->date_ok))
        rc = zhi_hit(s, ZHI_SRC_sender, "bad_date", "headers", h->scores[ZHI_S_sender_bad_date],
                     s->has_date ? "Date header does not parse" : "no Date header");
    /* Infected desktops have wrong clocks and worms invent dates; a Date a
     * day ahead of arrival is neither. (Old mail scanned now is not judged.) */
    else if (rc == ZH_ERR_OK && s->date_unix > s->received_at / 1000 + 24 * 3600)
        rc = zhi_hit(s, ZHI_SRC_sender, "future_date", "headers", h->scores[ZHI_S_sender_bad_date],
                     "Date is %lld hours after the message arrived",
                     (long long)((s->date_unix - s->received_at / 1000) / 3600));
    if (rc == ZH_ERR_OK && env->client_ip && *env->client_ip && *from) {
        int n = client_from_count(st, h, env->client_ip, from, s->received_at, !env->no_observe);
        if (n > h->many_from_threshold)
            rc = zhi_hit(s, ZHI_SRC_sender, "many_from_addresses", "headers",
                         h->scores[ZHI_S_sender_many_from],
                         "client %s sent under %d distinct From addresses within %d s",
                         env->client_ip, n, h->many_from_window_s);
    }
    return rc;
}

const struct zh_detector zh_detector_sender = {
    .name = "sender",
    .init = sender_init,
    .scan = sender_scan,
    .fini = sender_fini,
};
