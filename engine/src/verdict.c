/* Scoring: the one place where hits become a score and a verdict.
 *
 *  1. A rule counts once per message: the score of (detector, rule) is the
 *     highest score among its hits, so a lure phrase in both the text and the
 *     HTML alternative is not counted twice.
 *  2. The message score is the sum over distinct (detector, rule); a
 *     detector with a cap in rules/heuristics.ini [caps] contributes at most
 *     that much (several odd things about a sender are still one signal).
 *  3. Combinations from rules/heuristics.ini: when two named detectors both
 *     scored, their bonus is added, as a hit of its own ("combination").
 *  4. score >= malicious_score → MALICIOUS; >= suspicious_score → SUSPICIOUS.
 *  5. A hit flagged unscannable (a limit was breached) makes the message at
 *     least SUSPICIOUS: a message not fully examined is never CLEAN. A scan
 *     that ran out of time is TEMPFAIL, unless what it had already seen
 *     scores MALICIOUS.
 *  6. DEFER when the outbreak detector asks for it (a risky payload spreading
 *     but not yet an outbreak) and the message is not MALICIOUS anyway. */
#include "zhi.h"
#include "heuristics.h"

#include <stdio.h>
#include <string.h>

/* Sum of the hits: each (source, rule) once at its highest score, each
 * detector within its cap. Sets *unscannable when a hit says so. */
static long hits_score(const struct zhi_scan *s, bool *unscannable)
{
    const struct zhi_heuristics *heur = s->rules ? s->rules->heur : NULL;
    long per[ZHI_SRC__COUNT] = {0};
    for (size_t i = 0; i < s->n_hits; i++) {
        const struct zhi_hit *h = &s->hits[i];
        *unscannable |= (h->flags & ZH_HIT_UNSCANNABLE) != 0;
        bool best = true;
        for (size_t j = 0; j < s->n_hits && best; j++) {
            const struct zhi_hit *o = &s->hits[j];
            if (j == i || o->src != h->src || strcmp(o->rule, h->rule))
                continue;
            /* Only the first hit holding the highest score of its rule counts. */
            if (o->score > h->score || (o->score == h->score && j < i))
                best = false;
        }
        if (best)
            per[h->src] += h->score;
    }
    long score = 0;
    for (size_t d = 0; d < ZHI_SRC__COUNT; d++) {
        long v = per[d];
        if (heur && d < ZHI_N_DETECTORS && heur->cap[d] >= 0 && v > heur->cap[d])
            v = heur->cap[d];
        score += v;
    }
    return score;
}

long zhi_verdict_score(const struct zhi_scan *s)
{
    bool u = false;
    return hits_score(s, &u);
}

zh_err zhi_verdict_decide(struct zhi_scan *s, struct zh_result *r)
{
    const struct zhi_heuristics *heur = s->rules ? s->rules->heur : NULL;
    bool unscannable = false;
    long score = hits_score(s, &unscannable);
    /* Combinations look at which detectors scored before any bonus. */
    size_t n_plain = s->n_hits;
    for (size_t c = 0; heur && c < heur->n_combos; c++) {
        const struct zhi_combo *cb = &heur->combos[c];
        bool a = false, b = false;
        for (size_t i = 0; i < n_plain; i++) {
            if (s->hits[i].score <= 0)
                continue;
            a |= s->hits[i].src == cb->a;
            b |= s->hits[i].src == cb->b;
        }
        if (a && b) {
            const char *na = zhi_source_name(cb->a), *nb = zhi_source_name(cb->b);
            char rule[160];
            snprintf(rule, sizeof rule, "%s+%s", na, nb);
            zhi_hit(s, ZHI_SRC_combination, rule, "", cb->bonus,
                    "%s and %s both fired on this message", na, nb);
            score += cb->bonus;
        }
    }
    if (score > 1000000)
        score = 1000000;
    if (score < -1000000)
        score = -1000000;
    r->score = (int)score;
    /* The reply's hits name their source; the arena holds them with the rest. */
    struct zh_result_hit *out = NULL;
    if (s->n_hits && !(out = zhi_arena_alloc(s->arena, s->n_hits * sizeof *out)))
        return ZH_ERR_FATAL;
    for (size_t i = 0; i < s->n_hits; i++) {
        const struct zhi_hit *h = &s->hits[i];
        out[i] = (struct zh_result_hit){.detector = zhi_source_name(h->src),
                                        .rule = h->rule,
                                        .object = h->object,
                                        .detail = h->detail,
                                        .family = h->family,
                                        .aliases = h->aliases,
                                        .n_aliases = h->n_aliases,
                                        .score = h->score,
                                        .flags = h->flags};
    }
    r->hits = out;
    r->n_hits = s->n_hits;
    /* Out of time: what was seen already decides if it is damning enough;
     * otherwise the engine could not finish, and says so. */
    if (s->timed_out)
        r->verdict = score >= s->cfg->malicious_score ? ZH_VERDICT_MALICIOUS : ZH_VERDICT_TEMPFAIL;
    else if (s->defer_retry_s && score < s->cfg->malicious_score) {
        r->verdict = ZH_VERDICT_DEFER;
        r->retry_after_s = s->defer_retry_s;
    } else if (score >= s->cfg->malicious_score)
        r->verdict = ZH_VERDICT_MALICIOUS;
    else if (score >= s->cfg->suspicious_score || unscannable)
        r->verdict = ZH_VERDICT_SUSPICIOUS;
    else
        r->verdict = ZH_VERDICT_CLEAN;
    return ZH_ERR_OK;
}
