/* container: wrappers used to carry something that runs past filters and
 * Mark-of-the-Web, judged on the object tree the extractors built (each
 * member's parent link; src/payload.c names what an object is):
 * - a disk image (ISO/UDF, FAT .img, VHD) or a OneNote section holding a
 *   program, script or macro document (a shortcut is shortcut.c's): AgentTesla, Formbook,
 *   LokiBot, Bumblebee and IcedID's ISO and IMG waves of 2022, and the
 *   OneNote wave of 2023 (Qakbot, AsyncRAT, Emotet's .one with HTA, WSF,
 *   batch or JScript behind a "double click to view" button). Windows mounts
 *   an image with a double-click and, before November 2022, its files lost
 *   the downloaded-from-the-Internet mark; no business sends programs that
 *   way from outside (IT's own ISO deliveries come from the organisation's
 *   network and domains: [site], and are left to archive_executable);
 * - nesting used to hide: a thing that runs three or more wrappers down
 *   (Qakbot 2022: HTML → zip → ISO → LNK → DLL), each layer there only to
 *   get past one more scanner.
 * A shortcut beside a DLL in an image is shortcut.c's; an HTML page that
 * rebuilds a file is html_smuggling.c's. */
#include "../src/heuristics.h"
#include "../src/zhi.h"

#include <string.h>

static bool image_or_onenote(const struct zhi_object *o)
{
    return o->sniffed == ZHI_T_ONENOTE || zhi_is_disk_image(o) || !strcmp(o->ext, "one");
}

static zh_err container_scan(struct zhi_scan *s, void *state, void *tstate)
{
    if (!s->rules->heur)
        return ZH_ERR_OK;
    const struct zhi_heuristics *h = s->rules->heur;
    int internal = -1;
    int deepest = -1, deepest_depth = 0;
    /* One hit per image: the first thing that runs found in it. */
    const struct zhi_object *judged[16];
    size_t n_judged = 0;
    zh_err rc = ZH_ERR_OK;
    for (size_t i = 0; i < s->n_objects && rc == ZH_ERR_OK; i++) {
        const struct zhi_object *o = &s->objects[i];
        if (o->kind != ZHI_K_MEMBER || (o->flags & ZHI_OBJ_IN_MESSAGE))
            continue;
        enum zhi_payload k = zhi_payload_of(s, o);
        if (!zhi_payload_runs(k))
            continue;
        /* A shortcut in an image is judged by what it starts and what lies
         * beside it (shortcut.c): IT's ISOs hold shortcuts to their manuals. */
        int depth = zhi_wrapper_depth(s, o);
        if (depth > deepest_depth) {
            deepest_depth = depth;
            deepest = (int)i;
        }
        const struct zhi_object *img =
            k == ZHI_P_SHORTCUT ? NULL : zhi_container_of(s, o, image_or_onenote);
        if (!img)
            continue;
        bool seen = false;
        for (size_t j = 0; j < n_judged && !seen; j++)
            seen = judged[j] == img;
        if (seen)
            continue;
        if (n_judged < sizeof judged / sizeof judged[0])
            judged[n_judged++] = img;
        if (internal < 0)
            internal = zhi_site_internal_mail(s);
        bool onenote = img->sniffed == ZHI_T_ONENOTE || !strcmp(img->ext, "one");
        rc = zhi_hit(s, ZHI_SRC_container, onenote ? "onenote_payload" : "disk_image_payload",
                     img->path, internal ? 0 : h->scores[ZHI_S_container_payload],
                     "%s \"%s\" holds %s \"%s\" (%s)%s", onenote ? "OneNote section" : "disk image",
                     img->filename ? img->filename : img->path, zhi_payload_name(k),
                     o->filename ? o->filename : o->path, zhi_container_chain(s, o),
                     internal ? "; internal mail" : "");
    }
    if (rc == ZH_ERR_OK && deepest >= 0 && deepest_depth >= 3) {
        const struct zhi_object *o = &s->objects[deepest];
        rc = zhi_hit(
            s, ZHI_SRC_container, "nested_to_hide", o->path, h->scores[ZHI_S_container_nesting],
            "%s \"%s\" is wrapped %d containers deep (%s)", zhi_payload_name(zhi_payload_of(s, o)),
            o->filename ? o->filename : o->path, deepest_depth, zhi_container_chain(s, o));
    }
    return rc;
}

const struct zh_detector zh_detector_container = {
    .name = "container",
    .scan = container_scan,
};
