/* html_smuggling: HTML and SVG attachments that rebuild a file in the
 * browser (extractors/smuggling.c notes html.smuggling on them). Microsoft
 * (November 2021) and Mandiant describe the technique as the way banking
 * malware and NOBELIUM's EnvyScout got zip and ISO files past gateways;
 * Qakbot (2022), IcedID and Bumblebee (2023) mail carried such pages (tests/
 * corpus/README.md cites the write-ups). A page that hands the reader a
 * program, script, archive, disk image or shortcut is MALICIOUS; one that
 * rebuilds anything else, or whose encoded payload could not be rebuilt from
 * its literals, is at least SUSPICIOUS. Ordinary pages (newsletters with
 * inline data: images) rebuild nothing and are not judged. */
#include "../src/heuristics.h"
#include "../src/zhi.h"

#include <string.h>

/* What a smuggled file must not be: something that runs or holds what runs. */
static bool dangerous(const struct zhi_heuristics *h, const struct zhi_object *m)
{
    switch (m->sniffed) {
    case ZHI_T_ISO:
    case ZHI_T_VHD:
    case ZHI_T_FAT:
    case ZHI_T_ONENOTE:
    case ZHI_T_CHM:
        return true;
    default:
        break;
    }
    return zhi_type_is_executable(m->sniffed) || zhi_type_is_archive(m->sniffed) ||
           zhi_ext_in(h, ZHI_C_EXECUTABLE, m->ext) || zhi_ext_in(h, ZHI_C_ARCHIVE, m->ext) ||
           !strcmp(m->ext, "iso") || !strcmp(m->ext, "img") || !strcmp(m->ext, "vhd") ||
           !strcmp(m->ext, "vhdx") || !strcmp(m->ext, "one") || !strcmp(m->ext, "dll");
}

static zh_err html_smuggling_scan(struct zhi_scan *s, void *state, void *tstate)
{
    if (!s->rules->heur)
        return ZH_ERR_OK;
    const struct zhi_heuristics *h = s->rules->heur;
    for (size_t i = 0; i < s->n_objects; i++) {
        const struct zhi_object *o = &s->objects[i];
        const char *technique = zhi_object_attr(o, "html.smuggling");
        if (!technique)
            continue;
        const char *page = o->filename ? o->filename : o->path;
        const struct zhi_object *payload = NULL, *any = NULL;
        for (size_t k = i + 1; k < s->n_objects && !payload; k++) {
            const struct zhi_object *m = &s->objects[k];
            if (m->parent != (int)i)
                continue;
            any = any ? any : m;
            payload = dangerous(h, m) ? m : NULL;
        }
        zh_err rc;
        if (payload)
            rc = zhi_hit(s, ZHI_SRC_html_smuggling, "html_smuggling_payload", o->path,
                         h->scores[ZHI_S_smuggling_payload],
                         "\"%s\" rebuilds \"%s\" (%s) in the browser (%s)", page,
                         payload->filename ? payload->filename : payload->path,
                         zhi_type_name(payload->sniffed), technique);
        else if (any)
            rc = zhi_hit(
                s, ZHI_SRC_html_smuggling, "html_smuggling", o->path, h->scores[ZHI_S_smuggling],
                "\"%s\" rebuilds \"%s\" (%s) in the browser (%s)", page,
                any->filename ? any->filename : any->path, zhi_type_name(any->sniffed), technique);
        else
            rc = zhi_hit_full(
                s, &(struct zhi_hit){
                       .src = ZHI_SRC_html_smuggling,
                       .rule = "html_smuggling_unresolved",
                       .object = o->path,
                       .score = h->scores[ZHI_S_smuggling],
                       .flags = ZH_HIT_UNSCANNABLE,
                       .detail = zhi_arena_printf(
                           s->arena,
                           "\"%s\" hands a file to the reader from an encoded literal that could "
                           "not be rebuilt without running its script",
                           page),
                   });
        if (rc != ZH_ERR_OK)
            return rc;
    }
    return ZH_ERR_OK;
}

const struct zh_detector zh_detector_html_smuggling = {
    .name = "html_smuggling",
    .scan = html_smuggling_scan,
};
