/* What an object is to the judges of today's wrappers: a script by its
 * content (not only its name), the kind of payload it is (program, script,
 * shortcut, macro document, disk image...), and the chain of containers it
 * was found in. Shared by the script, container, archive_executable and
 * outbreak detectors and by the YARA externals, so they all call a thing by
 * the same name. Reads objects only; never allocates beyond the arena. */
#include "heuristics.h"
#include "zhi.h"

#include <stdio.h>
#include <string.h>

/* Content is examined this far: droppers pad their start with junk comments
 * (tens of KiB), and what they call comes after. */
#define LOOK_BYTES (96 * 1024)

/* Tokens, lower-case. `strong` ones are the script hosts' objects and the
 * download-and-run primitives that Emotet, Qakbot, IcedID, GuLoader and the
 * OneNote wave's droppers call (MITRE ATT&CK T1059.001/.003/.005/.007,
 * T1105); `grammar` ones are the language's own syntax, absent from prose
 * and data. A script is either one strong token or two grammar tokens. */
struct lang {
    const char *name;
    const char *const *strong;
    const char *const *grammar;
};

static const char *const js_strong[] = {"activexobject",
                                        "wscript.shell",
                                        "wscript.createobject",
                                        "shell.application",
                                        "adodb.stream",
                                        "msxml2.xmlhttp",
                                        "winhttp.winhttprequest",
                                        "scripting.filesystemobject",
                                        "winmgmts:",
                                        "shellexecute(",
                                        "string.fromcharcode",
                                        "wscript.sleep",
                                        "#@~^",
                                        NULL};
static const char *const js_grammar[] = {"();", "){",     ") {",  "};",        "===",
                                         "!==", "+=",     "var ", "function(", "function ",
                                         "=>",  "const ", NULL};
static const char *const vbs_strong[] = {"createobject(",
                                         "getobject(",
                                         "wscript.",
                                         "executeglobal",
                                         "shell.application",
                                         "adodb.stream",
                                         "xmlhttp",
                                         "& chr(",
                                         "&chr(",
                                         "#@~^",
                                         NULL};
static const char *const vbs_grammar[] = {
    "dim ",     "end sub", "end function", "end if", "on error resume next", "msgbox", "end with",
    "exit sub", "redim ",  "& vbcrlf",     NULL};
static const char *const ps_strong[] = {"iex ",
                                        "iex(",
                                        "invoke-expression",
                                        "new-object",
                                        "net.webclient",
                                        "downloadstring",
                                        "downloadfile",
                                        "start-process",
                                        "-encodedcommand",
                                        "frombase64string",
                                        "invoke-webrequest",
                                        "[system.",
                                        "-windowstyle hidden",
                                        NULL};
static const char *const ps_grammar[] = {
    "$env:", "param(", "write-host", "write-output", " -eq ", " -ne ", "foreach-object",
    "$_",    "$true",  "$false",     "[string]",     "[int]", NULL};
static const char *const bat_strong[] = {"powershell",
                                         "cmd /c",
                                         "cmd.exe",
                                         "mshta",
                                         "rundll32",
                                         "regsvr32",
                                         "certutil",
                                         "bitsadmin",
                                         "%comspec%",
                                         "wscript ",
                                         "cscript ",
                                         "curl ",
                                         "-encodedcommand",
                                         " -enc ",
                                         " -nop ",
                                         "-w hidden",
                                         "-windowstyle hidden",
                                         NULL};
static const char *const bat_grammar[] = {
    "@echo",    "%~",        "%%",     "goto :", "if exist", "if not exist", "if errorlevel",
    "setlocal", "endlocal",  "set /a", "set /p", ">nul",     "2>&1",         "for /",
    "%temp%",   "%appdata%", "cd /d",  "rem ",   NULL};
static const char *const hta_strong[] = {"<hta:application", NULL};
static const char *const hta_grammar[] = {"<script", "activexobject", "createobject(", NULL};
static const char *const wsf_strong[] = {"<job",          "<package",     "<scriptlet",
                                         "<registration", "[scriptfile]", NULL};
static const char *const wsf_grammar[] = {"<script", "language=", "path=", NULL};

enum { L_JS, L_VBS, L_PS, L_BAT, L_HTA, L_WSF, L__COUNT };
static const struct lang langs[L__COUNT] = {
    [L_JS] = {"jscript", js_strong, js_grammar},    [L_VBS] = {"vbscript", vbs_strong, vbs_grammar},
    [L_PS] = {"powershell", ps_strong, ps_grammar}, [L_BAT] = {"batch", bat_strong, bat_grammar},
    [L_HTA] = {"hta", hta_strong, hta_grammar},     [L_WSF] = {"wsf", wsf_strong, wsf_grammar},
};

/* Which language a script extension promises; -1 for other names. */
static int lang_of_ext(const char *ext)
{
    static const struct {
        const char *ext;
        int lang;
    } map[] = {{"js", L_JS},   {"jse", L_JS},  {"vbs", L_VBS}, {"vbe", L_VBS}, {"vb", L_VBS},
               {"ps1", L_PS},  {"psm1", L_PS}, {"bat", L_BAT}, {"cmd", L_BAT}, {"hta", L_HTA},
               {"wsf", L_WSF}, {"wsh", L_WSF}, {"sct", L_WSF}};
    for (size_t i = 0; ext && i < sizeof map / sizeof map[0]; i++)
        if (!strcmp(ext, map[i].ext))
            return map[i].lang;
    return -1;
}

bool zhi_script_ext(const char *ext)
{
    return lang_of_ext(ext) >= 0;
}

static size_t count(const char *low, size_t n, const char *const *tok)
{
    size_t hits = 0;
    for (; *tok; tok++)
        hits += memmem(low, n, *tok, strlen(*tok)) != NULL;
    return hits;
}

/* How many %var:~N,M% substring expansions the text holds. */
static size_t substrings(const char *low, size_t n)
{
    size_t k = 0;
    for (const char *p = low; (p = memmem(p, n - (size_t)(p - low), ":~", 2)); p += 2)
        k++;
    return k;
}

/* Data files under a script name: JSON (a ".js" from a web export) opens
 * with a brace or bracket and has no statements. */
static bool json_like(const char *low, size_t n)
{
    size_t i = 0;
    while (i < n && (low[i] == ' ' || low[i] == '\t' || low[i] == '\r' || low[i] == '\n'))
        i++;
    return i < n && (low[i] == '{' || low[i] == '[');
}

const char *zhi_script_language(struct zhi_arena *a, const uint8_t *p, size_t n, const char *ext,
                                bool *strong)
{
    bool st = false;
    if (strong)
        *strong = false;
    if (!p || n == 0 || memchr(p, 0, n < 4096 ? n : 4096))
        return NULL; /* scripts are text (UTF-16 ones start with a BOM and NULs: not judged) */
    size_t len = n < LOOK_BYTES ? n : LOOK_BYTES;
    char *low = zhi_arena_alloc(a, len + 1);
    if (!low)
        return NULL;
    for (size_t i = 0; i < len; i++)
        low[i] = (char)(p[i] >= 'A' && p[i] <= 'Z' ? p[i] + 32 : p[i]);
    low[len] = 0;
    int want = lang_of_ext(ext);
    const char *found = NULL;
    for (int l = 0; l < L__COUNT && !found; l++) {
        if (want >= 0 && l != want)
            continue;
        size_t s = count(low, len, langs[l].strong), g = count(low, len, langs[l].grammar);
        /* DOSfuscation (Bohannon, 2018; the OneNote wave's batch files): a
         * command spelt out of %var:~N,1% substrings hides every token. */
        if (l == L_BAT && !s && substrings(low, len) >= 8)
            s = 1;
        if (l == L_JS && json_like(low, len) && !s && !memmem(low, len, "function", 8))
            continue;
        /* Without a name that promises a language, only a script host's own
         * objects say "script": prose mentions "set" and "echo" too. */
        if (s || (want >= 0 && g >= 2)) {
            found = langs[l].name;
            st = s > 0;
        }
    }
    /* Encoded scripts (screnc's "#@~^") are scripts under any script name. */
    if (!found && want >= 0 && memmem(low, len, "#@~^", 4)) {
        found = "encoded";
        st = true;
    }
    if (strong)
        *strong = st;
    return found;
}

static const char *const lang_names[] = {"jscript", "vbscript", "powershell", "batch",
                                         "hta",     "wsf",      "encoded"};

const char *zhi_object_script(const struct zhi_scan *s, const struct zhi_object *o, bool *strong)
{
    struct zhi_object *w = (struct zhi_object *)o;
    if (!w->script_memo) {
        bool st = false;
        const char *l = zhi_script_language(s->arena, o->data, o->len,
                                            zhi_script_ext(o->ext) ? o->ext : NULL, &st);
        w->script_memo = 1;
        for (size_t i = 0; l && i < sizeof lang_names / sizeof lang_names[0]; i++)
            if (!strcmp(l, lang_names[i]))
                w->script_memo = (signed char)(i + 2);
        w->script_strong_memo = st;
    }
    if (strong)
        *strong = w->script_strong_memo;
    return w->script_memo > 1 ? lang_names[w->script_memo - 2] : NULL;
}

/* ---- payload kinds ---------------------------------------------------------- */
static const char *const payload_names[ZHI_P__COUNT] = {
    [ZHI_P_NONE] = "",
    [ZHI_P_DOCUMENT] = "document",
    [ZHI_P_UNKNOWN] = "unknown",
    [ZHI_P_ARCHIVE] = "archive",
    [ZHI_P_IMAGE] = "disk_image",
    [ZHI_P_ONENOTE] = "onenote",
    [ZHI_P_ACTIVE] = "active",
    [ZHI_P_MACRO] = "macro_document",
    [ZHI_P_SCRIPT] = "script",
    [ZHI_P_SHORTCUT] = "shortcut",
    [ZHI_P_PROGRAM] = "program",
};

const char *zhi_payload_name(enum zhi_payload k)
{
    return (unsigned)k < ZHI_P__COUNT ? payload_names[k] : "";
}

bool zhi_payload_runs(enum zhi_payload k)
{
    return k == ZHI_P_PROGRAM || k == ZHI_P_SCRIPT || k == ZHI_P_SHORTCUT || k == ZHI_P_MACRO;
}

bool zhi_is_disk_image(const struct zhi_object *o)
{
    return o->sniffed == ZHI_T_ISO || o->sniffed == ZHI_T_FAT || o->sniffed == ZHI_T_VHD ||
           !strcmp(o->ext, "iso") || !strcmp(o->ext, "img") || !strcmp(o->ext, "vhd") ||
           !strcmp(o->ext, "vhdx") || !strcmp(o->ext, "ima") || !strcmp(o->ext, "vfd") ||
           !strcmp(o->ext, "udf");
}

/* VBA in an Office file: an OLE2 compound file with the VBA project's
 * "_VBA_PROJECT" stream (its directory names are UTF-16LE), or an OOXML
 * package with a vbaProject.bin part among the members extracted from it. */
static bool has_vba(const struct zhi_scan *s, const struct zhi_object *o)
{
    static const char vba16[] = "_\0V\0B\0A\0_\0P\0R\0O\0J\0E\0C\0T\0";
    if (o->sniffed == ZHI_T_OLE2 && memmem(o->data, o->len, vba16, sizeof vba16 - 1))
        return true;
    if (o->sniffed != ZHI_T_ZIP)
        return false;
    size_t self = (size_t)(o - s->objects);
    for (size_t k = self + 1; k < s->n_objects; k++)
        if (s->objects[k].parent == (int)self && s->objects[k].filename &&
            !strcasecmp(s->objects[k].filename, "vbaProject.bin"))
            return true;
    return false;
}

static enum zhi_payload payload_of(const struct zhi_scan *s, const struct zhi_object *o);

/* Detectors and externals ask for the same objects many times: the answer
 * is kept in the object (it cannot change once the extract stage is over). */
enum zhi_payload zhi_payload_of(const struct zhi_scan *s, const struct zhi_object *o)
{
    struct zhi_object *w = (struct zhi_object *)o;
    if (!w->payload_memo)
        w->payload_memo = (signed char)(payload_of(s, o) + 1);
    return (enum zhi_payload)(w->payload_memo - 1);
}

static enum zhi_payload payload_of(const struct zhi_scan *s, const struct zhi_object *o)
{
    if (o->kind != ZHI_K_ATTACHMENT && o->kind != ZHI_K_MEMBER)
        return ZHI_P_NONE;
    const struct zhi_heuristics *h = s->rules ? s->rules->heur : NULL;
    switch (o->sniffed) {
    case ZHI_T_PE:
    case ZHI_T_MZ:
    case ZHI_T_ELF:
    case ZHI_T_MACHO:
        return ZHI_P_PROGRAM;
    case ZHI_T_LNK:
        return ZHI_P_SHORTCUT;
    case ZHI_T_SCRIPT: {
        /* "@echo off" in notes.txt opens in Notepad, and a shell script is
         * no Windows script; unnamed members (OneNote's) are named "txt" by
         * the extractor and judged by content. */
        bool onenote = o->parent >= 0 && s->objects[o->parent].sniffed == ZHI_T_ONENOTE;
        if (!onenote && zhi_ext_in(h, ZHI_C_DOCUMENT, o->ext))
            return ZHI_P_DOCUMENT;
        if (onenote || zhi_script_ext(o->ext) || zhi_object_script(s, o, NULL))
            return ZHI_P_SCRIPT;
        break;
    }
    case ZHI_T_ONENOTE:
        return ZHI_P_ONENOTE;
    case ZHI_T_ISO:
    case ZHI_T_FAT:
    case ZHI_T_VHD:
        return ZHI_P_IMAGE;
    case ZHI_T_CHM:
        return ZHI_P_ACTIVE;
    case ZHI_T_OLE2:
    case ZHI_T_ZIP:
        if (has_vba(s, o))
            return ZHI_P_MACRO;
        break;
    default:
        break;
    }
    if (zhi_script_ext(o->ext) && o->sniffed != ZHI_T_DATA && zhi_object_script(s, o, NULL))
        return ZHI_P_SCRIPT;
    /* Members a container gives no name (OneNote's embedded files) are named
     * by their sniffed type; what they run is only in their content. */
    const struct zhi_object *parent = o->parent >= 0 ? &s->objects[o->parent] : NULL;
    bool strong = false;
    if (parent && parent->sniffed == ZHI_T_ONENOTE && o->sniffed == ZHI_T_TEXT &&
        !zhi_script_ext(o->ext) && zhi_object_script(s, o, &strong) && strong)
        return ZHI_P_SCRIPT;
    /* A script name over text that is no script (JSON in config.js) is
     * what its content is; over binary bytes, what its name says. */
    if (zhi_script_ext(o->ext) && o->sniffed != ZHI_T_DATA)
        return ZHI_P_DOCUMENT;
    if (!strcmp(o->ext, "lnk"))
        return ZHI_P_SHORTCUT;
    if (!strcmp(o->ext, "dll") || !strcmp(o->ext, "ocx") || !strcmp(o->ext, "cpl") ||
        zhi_ext_in(h, ZHI_C_EXECUTABLE, o->ext))
        return ZHI_P_PROGRAM;
    if (!strcmp(o->ext, "one") || !strcmp(o->ext, "onepkg"))
        return ZHI_P_ONENOTE;
    if (zhi_is_disk_image(o))
        return ZHI_P_IMAGE;
    if (o->sniffed == ZHI_T_HTML || zhi_ext_in(h, ZHI_C_ACTIVE, o->ext))
        return ZHI_P_ACTIVE;
    if (zhi_type_is_archive(o->sniffed) || zhi_ext_in(h, ZHI_C_ARCHIVE, o->ext))
        return o->sniffed == ZHI_T_ZIP && zhi_ext_in(h, ZHI_C_DOCUMENT, o->ext) ? ZHI_P_DOCUMENT
                                                                                : ZHI_P_ARCHIVE;
    if (o->sniffed == ZHI_T_DATA &&
        !(zhi_ext_in(h, ZHI_C_DOCUMENT, o->ext) || zhi_ext_in(h, ZHI_C_MEDIA, o->ext)))
        return ZHI_P_UNKNOWN;
    return ZHI_P_DOCUMENT;
}

/* ---- the container chain ---------------------------------------------------- */
int zhi_wrapper_depth(const struct zhi_scan *s, const struct zhi_object *o)
{
    int n = 0;
    for (int p = o->parent; p >= 0 && n < 64; p = s->objects[p].parent)
        n++;
    return n;
}

const char *zhi_container_chain(const struct zhi_scan *s, const struct zhi_object *o)
{
    const struct zhi_object *up[16];
    size_t n = 0;
    for (const struct zhi_object *c = o; c && n < 16;
         c = c->parent >= 0 ? &s->objects[c->parent] : NULL)
        up[n++] = c;
    char buf[256];
    size_t len = 0;
    buf[0] = 0;
    while (n-- && len < sizeof buf - 1) {
        const struct zhi_object *c = up[n];
        /* A name says what the user sees ("lnk", "dll"); bytes say what a
         * container is when its name hides it. */
        const char *t = c->sniffed != ZHI_T_DATA && c->sniffed != ZHI_T_TEXT
                            ? zhi_type_name(c->sniffed)
                            : (*c->ext ? c->ext : zhi_type_name(c->sniffed));
        if (c->sniffed == ZHI_T_PE && *c->ext)
            t = c->ext;
        len += (size_t)snprintf(buf + len, sizeof buf - len, "%s%s", len ? ">" : "", t);
    }
    return zhi_arena_strdup(s->arena, buf);
}

const struct zhi_object *zhi_container_of(const struct zhi_scan *s, const struct zhi_object *o,
                                          bool (*is)(const struct zhi_object *))
{
    for (int p = o->parent; p >= 0; p = s->objects[p].parent)
        if (is(&s->objects[p]))
            return &s->objects[p];
    return NULL;
}
