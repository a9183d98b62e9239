/* pdf_action: PDF documents that act when opened (notes of extractors/pdf.c).
 * A /Launch action starts a program or opens a file, which ordinary
 * statements and invoices never do; JavaScript, an OpenAction or a Launch
 * together with an embedded program or script is how PDF droppers ran their
 * payload (Didier Stevens' "Escape from PDF" /Launch demonstration of 2010
 * and the Zeus and Emotet PDF waves that copied it; MITRE ATT&CK T1204.002).
 * An embedded program alone is weighed by archive_executable, JavaScript
 * alone by nobody (forms use it). */
#include "../src/heuristics.h"
#include "../src/zhi.h"

#include <string.h>

static bool runnable(const struct zhi_heuristics *h, const struct zhi_object *m)
{
    return zhi_type_is_executable(m->sniffed) || zhi_ext_in(h, ZHI_C_EXECUTABLE, m->ext) ||
           !strcmp(m->ext, "dll");
}

static zh_err pdf_action_scan(struct zhi_scan *s, void *state, void *tstate)
{
    if (!s->rules->heur)
        return ZH_ERR_OK;
    const struct zhi_heuristics *h = s->rules->heur;
    for (size_t i = 0; i < s->n_objects; i++) {
        const struct zhi_object *o = &s->objects[i];
        if (o->sniffed != ZHI_T_PDF)
            continue;
        const char *name = o->filename ? o->filename : o->path;
        const char *launch = zhi_object_attr(o, "pdf.launch");
        const char *js = zhi_object_attr(o, "pdf.javascript");
        const char *open = zhi_object_attr(o, "pdf.openaction");
        zh_err rc = ZH_ERR_OK;
        if (launch)
            rc = zhi_hit(s, ZHI_SRC_pdf_action, "pdf_launch", o->path, h->scores[ZHI_S_pdf_launch],
                         "PDF \"%s\" has a /Launch action (%s)", name, launch);
        const struct zhi_object *payload = NULL;
        for (size_t k = i + 1; k < s->n_objects && !payload; k++)
            if (s->objects[k].parent == (int)i && runnable(h, &s->objects[k]))
                payload = &s->objects[k];
        if (rc == ZH_ERR_OK && payload && (launch || js || open))
            rc = zhi_hit(s, ZHI_SRC_pdf_action, "pdf_action_with_program", o->path,
                         h->scores[ZHI_S_pdf_action_program],
                         "PDF \"%s\" carries \"%s\" (%s) and acts when opened (%s%s%s)", name,
                         payload->filename ? payload->filename : payload->path,
                         zhi_type_name(payload->sniffed), launch ? "/Launch " : "",
                         js ? "JavaScript " : "", open ? "/OpenAction" : "");
        if (rc != ZH_ERR_OK)
            return rc;
    }
    return ZH_ERR_OK;
}

const struct zh_detector zh_detector_pdf_action = {
    .name = "pdf_action",
    .scan = pdf_action_scan,
};
