/* executable: attachments that run when opened, by name (exe, scr, pif, vbs,
 * js…) or by content (PE/MZ, ELF, Mach-O, scripts, shortcuts), and content
 * that contradicts its name or declared type (a PE in "photo.jpg", an
 * "audio/x-wav" that is a program, a PE named ".pif"). Top-level attachments only; members of
 * archives belong to archive_executable. */
#include "../src/heuristics.h"
#include "../src/zhi.h"

#include <string.h>

static bool declared_harmless(const char *t)
{
    return !strncmp(t, "image/", 6) || !strncmp(t, "audio/", 6) || !strncmp(t, "video/", 6) ||
           !strncmp(t, "text/", 5) || !strcmp(t, "application/pdf") ||
           !strcmp(t, "application/msword") || !strncmp(t, "application/vnd.", 16);
}

static zh_err executable_scan(struct zhi_scan *s, void *state, void *tstate)
{
    if (!s->rules->heur)
        return ZH_ERR_OK; /* no heuristics.ini in this rule set */
    const struct zhi_heuristics *h = s->rules->heur;
    for (size_t i = 0; i < s->n_objects; i++) {
        const struct zhi_object *o = &s->objects[i];
        if (o->kind != ZHI_K_ATTACHMENT || o->archive_depth > 0)
            continue;
        const char *name = o->filename ? o->filename : "(unnamed)";
        bool by_name = zhi_ext_in(h, ZHI_C_EXECUTABLE, o->ext);
        bool by_content = zhi_type_is_executable(o->sniffed);
        zh_err rc = ZH_ERR_OK;
        if (by_name)
            rc = zhi_hit(s, ZHI_SRC_executable, "executable_name", o->path,
                         h->scores[ZHI_S_executable_attachment],
                         "attachment \"%s\" has the executable extension .%s", name, o->ext);
        if (rc == ZH_ERR_OK && by_content)
            rc = zhi_hit(s, ZHI_SRC_executable, "executable_content", o->path,
                         h->scores[ZHI_S_executable_content],
                         "attachment \"%s\" is %s executable content", name,
                         zhi_type_name(o->sniffed));
        /* Scripts and shortcuts are text or tiny; only real program formats
         * make a claim of "photo" or "wav" an outright lie. */
        bool program = o->sniffed == ZHI_T_PE || o->sniffed == ZHI_T_MZ ||
                       o->sniffed == ZHI_T_ELF || o->sniffed == ZHI_T_MACHO;
        /* A document or media name is a decoy; so is a program-launching
         * extension whose files hold no program (a .pif is a settings file, a
         * .com a raw DOS image, .bat/.cmd text): Windows runs the PE anyway. */
        bool decoy_name = zhi_ext_in(h, ZHI_C_DOCUMENT, o->ext) ||
                          zhi_ext_in(h, ZHI_C_MEDIA, o->ext) ||
                          zhi_ext_in(h, ZHI_C_DISGUISE, o->ext);
        if (rc == ZH_ERR_OK && program && (decoy_name || declared_harmless(o->declared_type)))
            rc = zhi_hit(s, ZHI_SRC_executable, "content_mismatch", o->path,
                         h->scores[ZHI_S_content_mismatch],
                         "%s program inside \"%s\" declared as %s", zhi_type_name(o->sniffed), name,
                         *o->declared_type ? o->declared_type : "(no type)");
        if (rc != ZH_ERR_OK)
            return rc;
    }
    return ZH_ERR_OK;
}

const struct zh_detector zh_detector_executable = {
    .name = "executable",
    .scan = executable_scan,
};
