/* lure_text: technical-error lures ("Mail transaction failed. Partial message
 * is available.") judged in context. The phrases are YARA rules tagged
 * `lure_text` in rules/ (so authors extend them without a rebuild); their hits
 * arrive under this detector's name. Here a genuine delivery status
 * notification — multipart/report with a message/delivery-status part, from
 * the null sender or MAILER-DAEMON, carrying no executable of its own — has
 * its lure hits neutralised, while a fake one keeps them. */
#include "../src/heuristics.h"
#include "../src/zhi.h"

#include <string.h>
#include <strings.h>

static bool from_daemon(const struct zhi_scan *s)
{
    const char *mf = s->env->mail_from;
    if (s->env && (!mf || !*mf || !strcmp(mf, "<>")))
        return true; /* the null sender */
    const char *f = s->from ? s->from : "";
    return !strncasecmp(f, "mailer-daemon@", 14) || !strncasecmp(f, "postmaster@", 11);
}

static bool genuine_dsn(const struct zhi_scan *s)
{
    const struct zhi_heuristics *h = s->rules->heur;
    if (strcmp(s->top_type, "multipart/report") || strcmp(s->report_type, "delivery-status") ||
        !from_daemon(s))
        return false;
    bool status_part = false;
    for (size_t i = 0; i < s->n_objects; i++) {
        const struct zhi_object *o = &s->objects[i];
        if (!strcmp(o->declared_type, "message/delivery-status"))
            status_part = true;
        /* The returned original may carry anything; the report itself may not. */
        if ((o->kind == ZHI_K_ATTACHMENT || o->kind == ZHI_K_MEMBER) &&
            !(o->flags & ZHI_OBJ_IN_MESSAGE) &&
            (zhi_type_is_executable(o->sniffed) || zhi_ext_in(h, ZHI_C_EXECUTABLE, o->ext) ||
             zhi_type_is_archive(o->sniffed)))
            return false;
    }
    return status_part;
}

static zh_err lure_text_scan(struct zhi_scan *s, void *state, void *tstate)
{
    bool any = false;
    for (size_t i = 0; i < s->n_hits && !any; i++)
        any = s->hits[i].src == ZHI_SRC_lure_text;
    if (!any || !genuine_dsn(s))
        return ZH_ERR_OK;
    for (size_t i = 0; i < s->n_hits; i++) {
        struct zhi_hit *h = &s->hits[i];
        if (h->src != ZHI_SRC_lure_text)
            continue;
        h->score = 0;
        h->detail = zhi_arena_printf(s->arena,
                                     "%s (not counted: genuine delivery status "
                                     "notification)",
                                     h->detail);
        if (!h->detail)
            return ZH_ERR_FATAL;
    }
    return ZH_ERR_OK;
}

const struct zh_detector zh_detector_lure_text = {
    .name = "lure_text",
    .scan = lure_text_scan,
};
