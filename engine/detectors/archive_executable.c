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

/* o lies below s->objects[top]. */
static bool below(const struct zhi_scan *s, const struct zhi_object *o, size_t top)
{
    for (int p = o->parent; p >= 0; p = s->objects[p].parent)
        if ((size_t)p == top)
            return true;
    return false;
}

/* What an encrypted container's members are, as far as they were seen. */
enum grade {
    G_DOCUMENTS, /* every member read, none runs nor hides anything */
    G_UNSEEN,    /* members still locked, or kinds whose risk is not judged here */
    G_RUNS,      /* a program, script, shortcut or macro document */
};

static enum grade grade_member(const struct zhi_scan *s, const struct zhi_heuristics *h,
                               const struct zhi_object *m, const struct zhi_object **why)
{
    /* A locked member is judged by its name, the one thing the archive shows. */
    if (m->flags & ZHI_OBJ_ENCRYPTED) {
        *why = m;
        return zhi_ext_in(h, ZHI_C_EXECUTABLE, m->ext) || zhi_script_ext(m->ext) ? G_RUNS
                                                                                 : G_UNSEEN;
    }
    enum zhi_payload k = zhi_payload_of(s, m);
    *why = m;
    if (zhi_payload_runs(k))
        return G_RUNS;
    /* Archives, images and OneNote are judged by their own members below;
     * active pages, unknown bytes and binary Office formats (XLM macros,
     * DDE, equation-editor exploits live there without VBA) are not. */
    if (k == ZHI_P_ACTIVE || k == ZHI_P_UNKNOWN || m->sniffed == ZHI_T_OLE2 ||
        m->sniffed == ZHI_T_RTF)
        return G_UNSEEN;
    return G_DOCUMENTS;
}

/* An archive with encrypted members. Encryption hides the members from
 * gateways; a password written beside it is the Bagle and Emotet trick, and
 * also how banks and payroll providers send statements. So the engine opens
 * it with that password and judges what it holds: what runs is MALICIOUS,
 * documents alone weigh nothing more than the same documents sent openly,
 * and what it could not see keeps the old weight. */
static zh_err judge_encrypted(struct zhi_scan *s, const struct zhi_heuristics *h, size_t idx)
{
    const struct zhi_object *o = &s->objects[idx];
    const char *name = o->filename ? o->filename : o->path;
    const char *pw_list[1];
    bool offered = (o->flags & ZHI_OBJ_DECRYPTED) || zhi_text_passwords(s, pw_list, 1) > 0;
    /* Without a password its members were not seen: never CLEAN. */
    if (!offered)
        return zhi_hit_full(
            s, &(struct zhi_hit){
                   .src = ZHI_SRC_archive_executable,
                   .rule = "encrypted_archive",
                   .object = o->path,
                   .score = h->scores[ZHI_S_encrypted_archive],
                   .flags = ZH_HIT_UNSCANNABLE,
                   .detail = zhi_arena_printf(
                       s->arena, "archive \"%s\" has encrypted members that could not be examined",
                       name),
               });
    enum grade worst = G_DOCUMENTS;
    const struct zhi_object *why = NULL;
    bool locked = false;
    for (size_t k = idx + 1; k < s->n_objects && worst != G_RUNS; k++) {
        const struct zhi_object *m = &s->objects[k];
        if (!below(s, m, idx))
            continue;
        locked |= (m->flags & ZHI_OBJ_ENCRYPTED) != 0;
        const struct zhi_object *w = NULL;
        enum grade g = grade_member(s, h, m, &w);
        if (g > worst) {
            worst = g;
            why = w;
        }
    }
    const char *what = why ? (why->filename ? why->filename : why->path) : "";
    if (worst == G_RUNS)
        return zhi_hit(s, ZHI_SRC_archive_executable, "encrypted_archive_password_payload", o->path,
                       h->scores[ZHI_S_encrypted_archive_password_payload],
                       "archive \"%s\" is encrypted, the password is written in the message, and "
                       "it holds %s \"%s\"",
                       name,
                       (why->flags & ZHI_OBJ_ENCRYPTED) ? "a locked member named"
                                                        : zhi_payload_name(zhi_payload_of(s, why)),
                       what);
    if (worst == G_UNSEEN)
        return zhi_hit_full(
            s, &(struct zhi_hit){
                   .src = ZHI_SRC_archive_executable,
                   .rule = "encrypted_archive_password_in_text",
                   .object = o->path,
                   .score = h->scores[ZHI_S_encrypted_archive_password],
                   .flags = locked ? ZH_HIT_UNSCANNABLE : 0,
                   .detail = zhi_arena_printf(
                       s->arena,
                       "archive \"%s\" is encrypted and the password is written in the message; "
                       "\"%s\" %s",
                       name, what,
                       locked ? "could not be opened with it" : "is of a kind not judged here"),
               });
    return zhi_hit(s, ZHI_SRC_archive_executable, "encrypted_archive_password_documents", o->path,
                   h->scores[ZHI_S_encrypted_archive_password_documents],
                   "archive \"%s\" is encrypted with the password written in the message; opened "
                   "with it, it holds documents only",
                   name);
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
        if (rc == ZH_ERR_OK && (o->flags & ZHI_OBJ_HAS_ENCRYPTED))
            rc = judge_encrypted(s, h, i);
        if (rc != ZH_ERR_OK)
            return rc;
    }
    return ZH_ERR_OK;
}

const struct zh_detector zh_detector_archive_executable = {
    .name = "archive_executable",
    .scan = archive_executable_scan,
};
