/* macro: Office documents whose VBA macros run on opening and reach outside
 * the document — the way the macro waves of 2014–2022 delivered their
 * payload: Dridex (2014–2015) and Emotet (2018–2022) Word documents whose
 * AutoOpen or Document_Open started PowerShell or a WScript.Shell, often
 * through WMI's Win32_Process to break the parent chain; Qakbot and Ursnif
 * workbooks whose Workbook_Open fetched a DLL with URLDownloadToFile or an
 * XMLHTTP request (MITRE ATT&CK T1204.002, T1059.005, T1047). The module
 * sources come decompressed from extractors/ole.c (notes vba.module).
 *
 * Macros alone are not judged malicious: workbooks with macros that format,
 * sum or print are ordinary business mail, and SpamAssassin's OLEVBMacro
 * likewise scores a macro low and a macro with risky calls higher. So a
 * document with macros scores little (macro_document), risky calls without
 * an entry point that runs them unasked a little more (macro_risky), and only
 * an auto-run entry together with a shell, download, object creation, WMI,
 * PowerShell or Windows API call is MALICIOUS on its own
 * (macro_autorun_risky). A macro document inside an archive that opened with
 * a password written in the message is how Emotet and Qakbot sent them past
 * gateways from 2020 on (macro_in_encrypted_archive). A document that embeds
 * a program, script or shortcut as an OLE Package object is judged here too
 * (document_embeds_program). Objects created from
 * data-structure classes (Scripting.Dictionary, VBScript.RegExp,
 * ADODB.Recordset...) are not counted: workbooks use them for lookups. */
#include "../src/heuristics.h"
#include "../src/zhi.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* Entry points Office runs without the user choosing a macro: Word's auto
 * macros, the Document/Workbook events, Excel's Auto_Open, and the ActiveX
 * control events documents abused to start on opening. */
static const char *const autorun[] = {
    "AutoOpen",
    "AutoExec",
    "AutoNew",
    "AutoClose",
    "AutoExit",
    "Auto_Open",
    "Auto_Close",
    "Document_Open",
    "Document_Close",
    "Document_New",
    "Document_BeforeClose",
    "Workbook_Open",
    "Workbook_Activate",
    "Workbook_BeforeClose",
    "Workbook_Deactivate",
};
/* ActiveX events that fire when the document is drawn. */
static const char *const autorun_suffix[] = {"_Layout", "_Painted", "_GotFocus"};

struct risky {
    const char *word;
    bool whole; /* a whole identifier, else anywhere (inside a ProgID) */
};
/* Shell, download, objects, WMI, PowerShell and the Windows API calls that
 * run code from memory. */
static const struct risky risky[] = {
    {"Shell", true},         {"ShellExecute", true},
    {"ShellExecuteA", true}, {"URLDownloadToFile", false},
    {"XMLHTTP", false},      {"WinHttp", false},
    {"ADODB.Stream", false}, {"CreateObject", true},
    {"GetObject", true},     {"CallByName", true},
    {"winmgmts", false},     {"Win32_Process", false},
    {"powershell", false},   {"cmd.exe", false},
    {"mshta", false},        {"rundll32", false},
    {"regsvr32", false},     {"certutil", false},
    {"bitsadmin", false},    {"VirtualAlloc", true},
    {"RtlMoveMemory", true}, {"CreateThread", true},
};
/* Classes workbooks create for their own data, not to reach outside. */
static const char *const data_classes[] = {
    "Scripting.Dictionary", "VBScript.RegExp",     "ADODB.Recordset",    "ADODB.Connection",
    "ADODB.Command",        "System.Collections.", "MSForms.DataObject", "Excel.Application",
};

static bool ident_char(int c)
{
    return isalnum(c) || c == '_';
}

/* Find w in the n bytes of p (case-insensitive), from *pos; as a whole
 * identifier when whole. Sets *pos past the match. */
static const char *find(const char *p, size_t n, size_t *pos, const char *w, bool whole)
{
    size_t wl = strlen(w);
    int first = tolower((unsigned char)w[0]);
    for (size_t i = *pos; i + wl <= n; i++) {
        if (tolower((unsigned char)p[i]) != first || strncasecmp(p + i, w, wl))
            continue;
        if (whole && ((i > 0 && ident_char((unsigned char)p[i - 1])) ||
                      (i + wl < n && ident_char((unsigned char)p[i + wl]))))
            continue;
        *pos = i + wl;
        return p + i;
    }
    return NULL;
}

/* CreateObject("Scripting.Dictionary"): a data class named by a literal. */
static bool data_object(const char *p, size_t n, size_t after)
{
    size_t i = after;
    while (i < n && (p[i] == ' ' || p[i] == '(' || p[i] == '\t'))
        i++;
    if (i >= n || p[i] != '"')
        return false; /* built at run time: "WScr" & "ipt.Shell" */
    i++;
    for (size_t k = 0; k < sizeof data_classes / sizeof data_classes[0]; k++) {
        size_t l = strlen(data_classes[k]);
        if (n - i >= l && !strncasecmp(p + i, data_classes[k], l))
            return true;
    }
    return false;
}

/* The auto-run entry the source defines, or NULL. */
static const char *find_autorun(const char *p, size_t n)
{
    for (size_t k = 0; k < sizeof autorun / sizeof autorun[0]; k++) {
        size_t pos = 0;
        if (find(p, n, &pos, autorun[k], true))
            return autorun[k];
    }
    /* "Sub Frame1_Layout()": an ActiveX event procedure. */
    size_t pos = 0;
    while (find(p, n, &pos, "Sub", true)) {
        size_t i = pos;
        while (i < n && p[i] == ' ')
            i++;
        size_t b = i;
        while (i < n && ident_char((unsigned char)p[i]))
            i++;
        for (size_t k = 0; k < sizeof autorun_suffix / sizeof autorun_suffix[0]; k++) {
            size_t l = strlen(autorun_suffix[k]);
            if (i - b > l && !strncasecmp(p + i - l, autorun_suffix[k], l))
                return autorun_suffix[k];
        }
    }
    return NULL;
}

/* The risky calls of the source, comma-separated into out. */
static size_t find_risky(const char *p, size_t n, char *out, size_t size)
{
    size_t found = 0, used = 0;
    out[0] = 0;
    for (size_t k = 0; k < sizeof risky / sizeof risky[0]; k++) {
        size_t pos = 0;
        bool hit = false;
        while (!hit && find(p, n, &pos, risky[k].word, risky[k].whole)) {
            bool object = !strcasecmp(risky[k].word, "CreateObject") ||
                          !strcasecmp(risky[k].word, "GetObject");
            hit = !object || !data_object(p, n, pos);
        }
        if (!hit)
            continue;
        found++;
        int w = snprintf(out + used, size - used, "%s%s", used ? ", " : "", risky[k].word);
        if (w > 0 && (size_t)w < size - used)
            used += (size_t)w;
    }
    return found;
}

static bool in_decrypted_archive(const struct zhi_scan *s, const struct zhi_object *o)
{
    for (int p = o->parent; p >= 0; p = s->objects[p].parent)
        if (s->objects[p].flags & ZHI_OBJ_DECRYPTED)
            return true;
    return false;
}

/* The document a VBA project belongs to, as the user sees it: the OLE2 file,
 * or the .docm/.xlsm package that holds its vbaProject.bin. */
static const struct zhi_object *document_of(const struct zhi_scan *s, const struct zhi_object *ole)
{
    if (ole->parent >= 0 && ole->filename && !strcasecmp(ole->filename, "vbaProject.bin"))
        return &s->objects[ole->parent];
    return ole;
}

/* A program, script or shortcut embedded as an OLE Package object in a
 * document (ole.c and rtf.c note ole.package): the "double-click the icon"
 * lure of the RTF and Word droppers that carried an .exe, .js or .lnk. */
static zh_err package_scan(struct zhi_scan *s, const struct zhi_heuristics *h)
{
    for (size_t i = 0; i < s->n_objects; i++) {
        const struct zhi_object *o = &s->objects[i];
        const char *label = zhi_object_attr(o, "ole.package");
        if (!label || o->parent < 0 ||
            !(zhi_type_is_executable(o->sniffed) || zhi_ext_in(h, ZHI_C_EXECUTABLE, o->ext) ||
              !strcmp(o->ext, "dll")))
            continue;
        const struct zhi_object *doc = &s->objects[o->parent];
        while (doc->parent >= 0 && doc->sniffed != ZHI_T_OLE2 && doc->sniffed != ZHI_T_RTF)
            doc = &s->objects[doc->parent];
        return zhi_hit(s, ZHI_SRC_macro, "document_embeds_program", o->path,
                       h->scores[ZHI_S_document_embeds_program],
                       "document \"%s\" embeds \"%s\" (%s) as an OLE Package object",
                       doc->filename ? doc->filename : doc->path, label, zhi_type_name(o->sniffed));
    }
    return ZH_ERR_OK;
}

/* Excel 4.0 macro sheets (ole.c notes xls.macro_sheet and xls.auto_open):
 * the XLM droppers of 2020–2021 (Qakbot, ZLoader, Dridex) hid a macro sheet
 * and named a cell Auto_Open so that it ran on opening, out of sight of VBA
 * scanners. A macro sheet alone is rare in today's mail and needs a user to
 * run it; with Auto_Open it is MALICIOUS. */
static zh_err xlm_scan(struct zhi_scan *s, const struct zhi_heuristics *h)
{
    for (size_t i = 0; i < s->n_objects; i++) {
        const struct zhi_object *o = &s->objects[i];
        const char *sheet = zhi_object_attr(o, "xls.macro_sheet");
        if (!sheet)
            continue;
        const char *name = o->filename ? o->filename : o->path;
        const char *auto_open = zhi_object_attr(o, "xls.auto_open");
        return auto_open ? zhi_hit(s, ZHI_SRC_macro, "xlm_auto_open", o->path,
                                   h->scores[ZHI_S_xlm_auto_open],
                                   "workbook \"%s\" has Excel 4.0 macro sheet %s that runs on "
                                   "opening (%s)",
                                   name, sheet, auto_open)
                         : zhi_hit(s, ZHI_SRC_macro, "xlm_macro_sheet", o->path,
                                   h->scores[ZHI_S_xlm_macro_sheet],
                                   "workbook \"%s\" has Excel 4.0 macro sheet %s", name, sheet);
    }
    return ZH_ERR_OK;
}

static zh_err macro_scan(struct zhi_scan *s, void *state, void *tstate)
{
    if (!s->rules->heur)
        return ZH_ERR_OK;
    const struct zhi_heuristics *h = s->rules->heur;
    zh_err prc = package_scan(s, h);
    if (prc == ZH_ERR_OK)
        prc = xlm_scan(s, h);
    if (prc != ZH_ERR_OK)
        return prc;
    for (size_t i = 0; i < s->n_objects; i++) {
        const struct zhi_object *ole = &s->objects[i];
        if (ole->sniffed != ZHI_T_OLE2 || !zhi_object_attr(ole, "ole.vba_modules"))
            continue;
        /* Every module of this project: the members below it noted vba.module. */
        const char *entry = NULL, *entry_module = NULL;
        char calls[256] = "", calls_entry[256] = "";
        size_t n_calls = 0, modules = 0;
        for (size_t k = i + 1; k < s->n_objects; k++) {
            const struct zhi_object *m = &s->objects[k];
            const char *module = zhi_object_attr(m, "vba.module");
            if (!module || m->parent != (int)i)
                continue;
            modules++;
            const char *src = (const char *)m->data;
            const char *e = find_autorun(src, m->len);
            char found[256];
            size_t nf = find_risky(src, m->len, found, sizeof found);
            if (e && !entry) {
                entry = e;
                entry_module = module;
            }
            if (nf && !n_calls)
                snprintf(calls, sizeof calls, "%s", found);
            if (nf && e && !calls_entry[0])
                snprintf(calls_entry, sizeof calls_entry, "%s", found);
            n_calls += nf;
        }
        if (!modules)
            continue;
        const struct zhi_object *doc = document_of(s, ole);
        const char *name = doc->filename ? doc->filename : doc->path;
        zh_err rc = zhi_hit(s, ZHI_SRC_macro, "macro_document", ole->path,
                            h->scores[ZHI_S_macro_document], "\"%s\" has %zu VBA module(s)%s%s",
                            name, modules, entry ? "; auto-run entry " : "", entry ? entry : "");
        /* The auto-run entry and the risky calls may sit in different modules
         * of one project (Emotet split them): the project runs as one. */
        if (rc == ZH_ERR_OK && entry && n_calls)
            rc = zhi_hit(s, ZHI_SRC_macro, "macro_autorun_risky", ole->path,
                         h->scores[ZHI_S_macro_autorun_risky],
                         "\"%s\": macro %s (module %s) runs on opening and the project calls %s",
                         name, entry, entry_module, calls_entry[0] ? calls_entry : calls);
        else if (rc == ZH_ERR_OK && n_calls)
            rc = zhi_hit(s, ZHI_SRC_macro, "macro_risky", ole->path, h->scores[ZHI_S_macro_risky],
                         "\"%s\": macros call %s (no auto-run entry)", name, calls);
        if (rc == ZH_ERR_OK && in_decrypted_archive(s, ole))
            rc = zhi_hit(s, ZHI_SRC_macro, "macro_in_encrypted_archive", ole->path,
                         h->scores[ZHI_S_macro_in_encrypted_archive],
                         "macro document \"%s\" arrived in an encrypted archive whose password is "
                         "written in the message",
                         name);
        if (rc != ZH_ERR_OK)
            return rc;
    }
    return ZH_ERR_OK;
}

const struct zh_detector zh_detector_macro = {
    .name = "macro",
    .scan = macro_scan,
};
