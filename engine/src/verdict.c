/* Scoring: the one place where hits become a score and a verdict.
 *
 *  1. A rule counts once per message: the score of (detector, rule) is the
 *     highest score among its hits, so a lure phrase in both the text and the
 *     HTML alternative is not counted twice.
 *  2. The message score is the sum over distinct (detector, rule).
 *  3. score >= malicious_score → MALICIOUS; >= suspicious_score → SUSPICIOUS.
 *  4. A hit flagged unscannable (a limit was breached) makes the message at
 *     least SUSPICIOUS: a message not fully examined is never CLEAN. A scan that
 *     ran out of time is TEMPFAIL. */
#include "zhi.h"

#include <string.h>

zh_err zhi_verdict_decide(struct zhi_scan *s, struct zh_result *r);

zh_err zhi_verdict_decide(struct zhi_scan *s, struct zh_result *r)
{
    long score = 0;
    bool unscannable = false;
    for (size_t i = 0; i < s->n_hits; i++) {
        const struct zh_hit *h = &s->hits[i];
        unscannable |= (h->flags & ZH_HIT_UNSCANNABLE) != 0;
        bool counted = false, best = true;
        for (size_t j = 0; j < s->n_hits && best; j++) {
            const struct zh_hit *o = &s->hits[j];
            if (j == i || strcmp(o->detector, h->detector) || strcmp(o->rule, h->rule))
                continue;
            /* Only the first hit holding the highest score of its rule counts. */
            if (o->score > h->score || (o->score == h->score && j < i))
                best = false;
        }
        counted = best;
        if (counted)
            score += h->score;
    }
    if (score > 1000000)
        score = 1000000;
    if (score < -1000000)
        score = -1000000;
    r->score = (int)score;
    r->hits = s->hits;
    r->n_hits = s->n_hits;
    if (s->timed_out)
        r->verdict = ZH_V_TEMPFAIL;
    else if (score >= s->cfg->malicious_score)
        r->verdict = ZH_V_MALICIOUS;
    else if (score >= s->cfg->suspicious_score || unscannable)
        r->verdict = ZH_V_SUSPICIOUS;
    else
        r->verdict = ZH_V_CLEAN;
    return ZH_ERR_OK;
}
