/* archive_executable: what archives carry — executables by name or content
 * (Dumaru.Y's myphoto.zip), archives inside archives, and encrypted members,
 * weighted higher when the password sits in the message text as Bagle wrote
 * it. The members themselves are produced by the unpack stage (src/archive.c). */
#include "../src/heuristics.h"
#include "../src/zhi.h"

#include <string.h>

static const char *archive_name(const struct zhi_scan *s, const struct zhi_object *o)
{
    if (o->parent < 0)
        return "?";
    const struct zhi_object *p = &s->objects[o->parent];
    return p->filename ? p->filename : p->path;
}

static zh_err archive_executable_scan(struct zhi_scan *s, void *state, void *tstate)
{
    if (!s->rules->heur)
        return ZH_ERR_OK; /* no heuristics.ini in this rule set */
    const struct zhi_heuristics *h = s->rules->heur;
    for (size_t i = 0; i < s->n_objects; i++) {
        const struct zhi_object *o = &s->objects[i];
        zh_err rc = ZH_ERR_OK;
        if (o->kind == ZHI_K_MEMBER) {
            const char *name = o->filename ? o->filename : "(unnamed)";
            bool by_name = zhi_ext_in(h, ZHI_C_EXECUTABLE, o->ext);
            bool by_content = zhi_type_is_executable(o->sniffed);
            /* A compiled program zipped for mail is the Mydoom/Dumaru/Bagle trick
             * to get past extension filters; a name alone is weaker. */
            bool program = o->sniffed == ZHI_T_PE || o->sniffed == ZHI_T_MZ ||
                           o->sniffed == ZHI_T_ELF || o->sniffed == ZHI_T_MACHO;
            if (by_name || by_content)
                rc = zhi_hit(
                    s, ZHI_SRC_archive_executable,
                    program ? "program_in_archive" : "executable_in_archive", o->path,
                    h->scores[program ? ZHI_S_program_in_archive : ZHI_S_executable_in_archive],
                    "executable \"%s\"%s%s%s inside archive \"%s\"", name, by_content ? " (" : "",
                    by_content ? zhi_type_name(o->sniffed) : "", by_content ? ")" : "",
                    archive_name(s, o));
            else if (zhi_ext_in(h, ZHI_C_ACTIVE, o->ext) || o->sniffed == ZHI_T_HTML)
                rc = zhi_hit(s, ZHI_SRC_archive_executable, "active_content_in_archive", o->path,
                             h->scores[ZHI_S_active_in_archive],
                             "active content \"%s\" (%s) inside archive \"%s\"", name,
                             zhi_type_name(o->sniffed), archive_name(s, o));
            /* Office and OpenDocument files are zip containers, not archives;
             * and a tar in a compressed stream is the .tar.gz convention. */
            bool tarball = o->sniffed == ZHI_T_TAR && (o->flags & ZHI_OBJ_DECOMPRESSED);
            if (rc == ZH_ERR_OK && zhi_type_is_archive(o->sniffed) &&
                !zhi_ext_in(h, ZHI_C_DOCUMENT, o->ext) && !tarball)
                rc = zhi_hit(s, ZHI_SRC_archive_executable, "archive_in_archive", o->path,
                             h->scores[ZHI_S_archive_in_archive],
                             "archive \"%s\" inside archive \"%s\"", name, archive_name(s, o));
        }
        if (rc == ZH_ERR_OK && (o->flags & ZHI_OBJ_HAS_ENCRYPTED)) {
            bool pw = (o->flags & ZHI_OBJ_DECRYPTED) != 0;
            const char *name = o->filename ? o->filename : o->path;
            rc = zhi_hit(s, ZHI_SRC_archive_executable,
                         pw ? "encrypted_archive_password_in_text" : "encrypted_archive", o->path,
                         h->scores[pw ? ZHI_S_encrypted_archive_password : ZHI_S_encrypted_archive],
                         pw ? "archive \"%s\" is encrypted and the password to open it is "
                              "written in the message"
                            : "archive \"%s\" has encrypted members that could not be examined",
                         name);
        }
        if (rc != ZH_ERR_OK)
            return rc;
    }
    return ZH_ERR_OK;
}

const struct zh_detector zh_detector_archive_executable = {
    .name = "archive_executable",
    .scan = archive_executable_scan,
};
