/* shortcut: Windows shortcuts (read by extractors/lnk.c) that start a system
 * program with arguments, and shortcuts delivered in a disk image beside a
 * DLL or script. Both are how the shortcut waves of 2022–2024 ran their
 * payload (tests/corpus/README.md cites the write-ups):
 * - Bumblebee (Proofpoint, April 2022): an ISO holding a shortcut and a DLL,
 *   the shortcut running "rundll32.exe <dll>,<export>"; in 2024 (Netskope) a
 *   zipped shortcut running PowerShell that downloads and runs an MSI (msiexec).
 * - Qakbot (Trend Micro on Black Basta's access, 2022): HTML smuggling → zip
 *   → ISO holding a shortcut that starts cmd.exe → regsvr32/rundll32 on a DLL
 *   beside it; IcedID's ISO waves of 2022 likewise (shortcut → cmd/batch →
 *   rundll32 DLL).
 * - Emotet (April 2022): shortcuts running PowerShell or cmd with a script
 *   carried in the arguments.
 * The programs are the "signed binary proxy execution" and script hosts of
 * MITRE ATT&CK T1218 and T1059 and of the LOLBAS project. A shortcut to a
 * document, a folder or a web page starts none of them and is not judged
 * here (the executable detector still weighs the .lnk attachment itself). */
#include "../src/heuristics.h"
#include "../src/zhi.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

/* Lower-case base names, without ".exe". */
static const char *const system_programs[] = {
    "bitsadmin", "certutil", "cmd",         "cmstp",        "conhost", "cscript",
    "curl",      "forfiles", "installutil", "msbuild",      "msiexec", "mshta",
    "odbcconf",  "pcalua",   "powershell",  "pwsh",         "regasm",  "regsvcs",
    "regsvr32",  "rundll32", "schtasks",    "scriptrunner", "wmic",    "wscript",
};

/* The base name of a Windows path, lower-case and without ".exe", into out. */
static void program_of(const char *path, char *out, size_t size)
{
    const char *b = path;
    for (const char *p = path; *p; p++)
        if (*p == '\\' || *p == '/')
            b = p + 1;
    size_t n = 0;
    while (b[n] && b[n] != '"' && n + 1 < size) {
        out[n] = (char)tolower((unsigned char)b[n]);
        n++;
    }
    out[n] = 0;
    while (n && out[n - 1] == ' ')
        out[--n] = 0;
    if (n > 4 && !strcmp(out + n - 4, ".exe"))
        out[n - 4] = 0;
}

static bool is_system_program(const char *name)
{
    for (size_t i = 0; i < sizeof system_programs / sizeof system_programs[0]; i++)
        if (!strcmp(name, system_programs[i]))
            return true;
    return false;
}

/* The containers a shortcut is carried in to dodge Mark-of-the-Web. */
static bool disk_image(const struct zhi_object *o)
{
    return o->sniffed == ZHI_T_ISO || o->sniffed == ZHI_T_FAT || o->sniffed == ZHI_T_VHD ||
           !strcmp(o->ext, "iso") || !strcmp(o->ext, "img") || !strcmp(o->ext, "vhd") ||
           !strcmp(o->ext, "vhdx") || !strcmp(o->ext, "ima") || !strcmp(o->ext, "vfd") ||
           !strcmp(o->ext, "udf");
}

/* A DLL, program or script the shortcut could run: by content or by name. */
static bool payload(const struct zhi_heuristics *h, const struct zhi_object *o)
{
    if (o->sniffed == ZHI_T_LNK || !strcmp(o->ext, "lnk"))
        return false;
    return o->sniffed == ZHI_T_PE || o->sniffed == ZHI_T_MZ || o->sniffed == ZHI_T_SCRIPT ||
           !strcmp(o->ext, "dll") || !strcmp(o->ext, "ocx") || !strcmp(o->ext, "cpl") ||
           zhi_ext_in(h, ZHI_C_EXECUTABLE, o->ext);
}

static zh_err shortcut_scan(struct zhi_scan *s, void *state, void *tstate)
{
    if (!s->rules->heur)
        return ZH_ERR_OK;
    const struct zhi_heuristics *h = s->rules->heur;
    for (size_t i = 0; i < s->n_objects; i++) {
        const struct zhi_object *o = &s->objects[i];
        if (o->sniffed != ZHI_T_LNK)
            continue;
        const char *name = o->filename ? o->filename : o->path;
        const char *args = zhi_object_attr(o, "lnk.arguments");
        zh_err rc = ZH_ERR_OK;
        /* Every target the shortcut names counts: a decoy beside the real one. */
        for (size_t k = 0; k < o->n_attrs && args && *args; k++) {
            if (strcmp(o->attrs[k].key, "lnk.target"))
                continue;
            char prog[64];
            program_of(o->attrs[k].value, prog, sizeof prog);
            if (!is_system_program(prog))
                continue;
            rc = zhi_hit(s, ZHI_SRC_shortcut, "shortcut_runs_system_program", o->path,
                         h->scores[ZHI_S_shortcut_system_program],
                         "shortcut \"%s\" starts %s with arguments: %.200s", name,
                         o->attrs[k].value, args);
            break;
        }
        /* Beside a DLL or script in the same disk image. */
        const struct zhi_object *parent = o->parent >= 0 ? &s->objects[o->parent] : NULL;
        if (rc == ZH_ERR_OK && parent && disk_image(parent)) {
            for (size_t k = 0; k < s->n_objects; k++) {
                const struct zhi_object *m = &s->objects[k];
                if (k == i || m->parent != o->parent || !payload(h, m))
                    continue;
                rc = zhi_hit(s, ZHI_SRC_shortcut, "shortcut_beside_payload", o->path,
                             h->scores[ZHI_S_shortcut_beside_payload],
                             "shortcut \"%s\" sits beside \"%s\" (%s) in disk image \"%s\"", name,
                             m->filename ? m->filename : m->path, zhi_type_name(m->sniffed),
                             parent->filename ? parent->filename : parent->path);
                break;
            }
        }
        if (rc != ZH_ERR_OK)
            return rc;
    }
    return ZH_ERR_OK;
}

const struct zh_detector zh_detector_shortcut = {
    .name = "shortcut",
    .scan = shortcut_scan,
};
