/* script: attachments and members that are scripts a Windows script host or
 * shell runs on a double-click — by their content, not their name alone
 * (src/payload.c reads it): JScript and VBScript for WSH (.js .jse .vbs
 * .vbe), Windows Script Files and scriptlets (.wsf .wsh .sct), HTML
 * applications (.hta), PowerShell (.ps1) and batch (.bat .cmd). These are
 * how GuLoader, Pikabot, StrelaStealer, Qakbot's .wsf wave, AsyncRAT's HTA
 * and the OneNote wave of 2023 started (tests/corpus/README.md cites the
 * write-ups; MITRE ATT&CK T1059.001/.003/.005/.007). Rspamd, Outlook and
 * Gmail block these names outright; here a script attachment is SUSPICIOUS
 * on its own and MALICIOUS with any second signal: inside an archive or
 * image (this detector's script_in_container), a lure or a forged sender
 * (the [combinations] of heuristics.ini), an outbreak (the outbreak hit).
 * Near-misses it leaves alone: a ".js" that is JSON, a script name over
 * prose, and script text under a document name (Notepad opens a .txt). */
#include "../src/heuristics.h"
#include "../src/zhi.h"

#include <string.h>

static zh_err script_scan(struct zhi_scan *s, void *state, void *tstate)
{
    if (!s->rules->heur)
        return ZH_ERR_OK;
    const struct zhi_heuristics *h = s->rules->heur;
    int internal = -1; /* computed once, when a member needs it */
    for (size_t i = 0; i < s->n_objects; i++) {
        const struct zhi_object *o = &s->objects[i];
        if (o->kind != ZHI_K_ATTACHMENT && o->kind != ZHI_K_MEMBER)
            continue;
        if (o->flags & ZHI_OBJ_IN_MESSAGE)
            continue; /* a forwarded or returned original is not this message's payload */
        /* The names Windows hands to a script host or shell; nameless
         * members (OneNote's) are judged by their content alone. */
        bool onenote = o->parent >= 0 && s->objects[o->parent].sniffed == ZHI_T_ONENOTE;
        if ((!zhi_script_ext(o->ext) && !onenote) || zhi_payload_of(s, o) != ZHI_P_SCRIPT)
            continue;
        bool strong = false;
        const char *lang = zhi_object_script(s, o, &strong);
        if (!lang)
            lang = zhi_type_name(o->sniffed);
        const char *name = o->filename ? o->filename : o->path;
        zh_err rc;
        if (o->parent < 0) {
            rc = zhi_hit(s, ZHI_SRC_script, "script_attachment", o->path,
                         h->scores[ZHI_S_script_attachment], "attachment \"%s\" is a %s script%s",
                         name, lang, strong ? " calling shell, download or execution objects" : "");
        } else {
            /* The wrapper is the second signal for a script that calls the
             * host's shell, download or execution objects (what every WSH
             * dropper does; a web page's JavaScript zipped by a developer
             * calls none and cannot act under WSH). A developer's zip of
             * build scripts from the organisation's own network and domain
             * is still flagged by archive_executable, not raised here. */
            if (!strong)
                continue;
            if (internal < 0)
                internal = zhi_site_internal_mail(s);
            const struct zhi_object *top = &s->objects[o->parent];
            rc = zhi_hit(s, ZHI_SRC_script, "script_in_container", o->path,
                         internal ? 0 : h->scores[ZHI_S_script_in_container],
                         "%s script \"%s\" inside \"%s\" (%s)%s", lang, name,
                         top->filename ? top->filename : top->path, zhi_container_chain(s, o),
                         internal ? "; internal mail" : "");
        }
        if (rc != ZH_ERR_OK)
            return rc;
    }
    return ZH_ERR_OK;
}

const struct zh_detector zh_detector_script = {
    .name = "script",
    .scan = script_scan,
};
