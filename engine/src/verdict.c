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

zh_err zhi_verdict_decide(struct zhi_scan *s, struct zh_result *r);

/* Sum of the hits: each (detector, rule) once at its highest score, each
 * detector within its cap. Sets *unscannable when a hit says so. */
static long hits_score(const struct zhi_scan *s, bool *unscannable)
{
    const struct zhi_heuristics *heur = s->rules ? s->rules->heur : NULL;
    struct {
        const char *detector;
        long sum;
    } per[32];
    size_t n_per = 0;
    for (size_t i = 0; i < s->n_hits; i++) {
        const struct zh_hit *h = &s->hits[i];
        *unscannable |= (h->flags & ZH_HIT_UNSCANNABLE) != 0;
        bool best = true;
        for (size_t j = 0; j < s->n_hits && best; j++) {
            const struct zh_hit *o = &s->hits[j];
            if (j == i || strcmp(o->detector, h->detector) || strcmp(o->rule, h->rule))
                continue;
            /* Only the first hit holding the highest score of its rule counts. */
            if (o->score > h->score || (o->score == h->score && j < i))
                best = false;
        }
        if (!best)
            continue;
        size_t d = 0;
        while (d < n_per && strcmp(per[d].detector, h->detector))
            d++;
        if (d == n_per) {
            if (n_per == sizeof per / sizeof per[0])
                d = n_per - 1; /* more detectors than slots: pool the rest */
            else
                per[n_per++] = (typeof(per[0])){h->detector, 0};
        }
        per[d].sum += h->score;
    }
    long score = 0;
    for (size_t d = 0; d < n_per; d++) {
        long v = per[d].sum;
        for (size_t c = 0; heur && c < heur->n_caps; c++)
            if (!strcmp(heur->caps[c].a, per[d].detector) && v > heur->caps[c].bonus)
                v = heur->caps[c].bonus;
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
            a |= !strcmp(s->hits[i].detector, cb->a);
            b |= !strcmp(s->hits[i].detector, cb->b);
        }
        if (a && b) {
            char rule[160];
            snprintf(rule, sizeof rule, "%s+%s", cb->a, cb->b);
            zhi_scan_hit(s, "combination", rule, "", cb->bonus, 0, NULL, NULL, 0,
                         "%s and %s both fired on this message", cb->a, cb->b);
            score += cb->bonus;
        }
    }
    if (score > 1000000)
        score = 1000000;
    if (score < -1000000)
        score = -1000000;
    r->score = (int)score;
    r->hits = s->hits;
    r->n_hits = s->n_hits;
    /* Out of time: what was seen already decides if it is damning enough;
     * otherwise the engine could not finish, and says so. */
    if (s->timed_out)
        r->verdict = score >= s->cfg->malicious_score ? ZH_V_MALICIOUS : ZH_V_TEMPFAIL;
    else if (s->defer_retry_s && score < s->cfg->malicious_score) {
        r->verdict = ZH_V_DEFER;
        r->retry_after_s = s->defer_retry_s;
    } else if (score >= s->cfg->malicious_score)
        r->verdict = ZH_V_MALICIOUS;
    else if (score >= s->cfg->suspicious_score || unscannable)
        r->verdict = ZH_V_SUSPICIOUS;
    else
        r->verdict = ZH_V_CLEAN;
    return ZH_ERR_OK;
}
