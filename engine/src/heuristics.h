/* heuristics.h — the behavioural heuristics' data: extension classes, the
 * score of every signal, combination bonuses and sender parameters, read from
 * rules/heuristics.ini with the YARA rules and versioned with them. */
#ifndef ZHI_HEURISTICS_H
#define ZHI_HEURISTICS_H

#include <stdbool.h>
#include <stddef.h>

#include "zhi.h"

/* Every score a heuristic can give, with its help text. The values live in
 * rules/heuristics.ini [scores]; a missing one is a rule-set error. */
#define ZHI_SCORES(X)                                                                              \
    X(double_extension, "an executable extension after a document or media extension")             \
    X(double_extension_hidden, "added when padding, a bidi override or a CLSID hides the real "    \
                               "extension")                                                        \
    X(executable_attachment, "an attachment whose name has an executable extension")               \
    X(executable_content, "an attachment whose bytes are an executable (PE, ELF, script)")         \
    X(content_mismatch, "executable bytes under a document/media name or declared type")           \
    X(executable_in_archive, "an executable name inside an archive (content unseen or not a "      \
                             "program)")                                                           \
    X(program_in_archive, "program bytes (PE, ELF, Mach-O) inside an archive")                     \
    X(active_in_archive, "active content (HTML, HTA, SVG) inside an archive")                      \
    X(archive_in_archive, "an archive inside an archive")                                          \
    X(encrypted_archive, "an archive with encrypted members")                                      \
    X(encrypted_archive_password, "an encrypted archive whose password is written in the text, "   \
                                  "holding what could not be opened or judged")                    \
    X(encrypted_archive_password_payload, "an encrypted archive whose password is written in the " \
                                          "text, holding a program, script, shortcut or macro "    \
                                          "document")                                              \
    X(encrypted_archive_password_documents, "an encrypted archive whose password is written in "   \
                                            "the text, opened with it: documents only")            \
    X(damaged_container, "a container or compressed stream that could not be read to its end "     \
                         "(what it yielded is scanned; the rest was not seen)")                    \
    X(sender_random_local, "a generated-looking local part in the From address")                   \
    X(sender_display_spoof, "a display name that claims another address")                          \
    X(sender_domain_mismatch, "From domain unrelated to envelope sender, HELO and client")         \
    X(sender_no_message_id, "a missing or malformed Message-ID")                                   \
    X(sender_bad_date, "a missing or malformed Date")                                              \
    X(sender_bare_helo, "a HELO name that is no domain name (a desktop talking SMTP)")             \
    X(sender_claims_recipient_domain, "an outside client claiming the recipient's own domain "     \
                                      "(HELO, From or Message-ID)")                                \
    X(sender_many_from, "one client sending under many From addresses within the window")          \
    X(shortcut_system_program, "a Windows shortcut that starts a system program (cmd, "            \
                               "powershell, rundll32, mshta...) with arguments")                   \
    X(shortcut_beside_payload, "a Windows shortcut beside a DLL, program or script in a disk "     \
                               "image")                                                            \
    X(smuggling_payload, "an HTML/SVG attachment that rebuilds a program, script, archive, disk "  \
                         "image or shortcut in the browser (HTML smuggling)")                      \
    X(smuggling, "an HTML/SVG attachment that rebuilds some other file in the browser, or whose "  \
                 "encoded payload could not be rebuilt")                                           \
    X(pdf_launch, "a PDF with a /Launch action (starts a program or opens a file)")                \
    X(pdf_action_program, "a PDF that acts when opened (JavaScript, OpenAction, Launch) and "      \
                          "carries an embedded program or script")                                 \
    X(script_attachment, "an attachment that is a script by its content (JScript, VBScript, "      \
                         "PowerShell, batch, HTA, WSF)")                                           \
    X(script_in_container, "a script inside an archive, disk image or other container")            \
    X(container_payload, "a disk image or OneNote section holding a program, script, shortcut "    \
                         "or macro document")                                                      \
    X(container_nesting, "something that runs, wrapped three or more containers deep")             \
    X(surge_unknown_type, "an attachment of a type no class names surging from many sender "       \
                          "domains and client IPs (outbreak detector)")                            \
    X(macro_document, "an Office document with VBA macros")                                        \
    X(macro_risky, "VBA macros that call a shell, download, create objects, WMI or PowerShell, "   \
                   "with no auto-run entry")                                                       \
    X(macro_autorun_risky, "VBA macros with an auto-run entry (AutoOpen, Document_Open, "          \
                           "Workbook_Open...) and a shell, download, object, WMI or PowerShell "   \
                           "call")                                                                 \
    X(macro_in_encrypted_archive, "a macro document inside an archive opened with a password "     \
                                  "written in the message")                                        \
    X(document_embeds_program, "an Office or RTF document that embeds a program, script or "       \
                               "shortcut as an OLE Package object")                                \
    X(xlm_macro_sheet, "an Excel workbook with an Excel 4.0 (XLM) macro sheet")                    \
    X(xlm_auto_open, "an Excel 4.0 macro sheet with an Auto_Open name: it runs on opening")

enum zhi_score_id {
#define ID(name, help) ZHI_S_##name,
    ZHI_SCORES(ID)
#undef ID
        ZHI_S__COUNT
};

/* Extension classes. An extension may be in several ("html" is a document
 * before another extension and active content as the last one). */
enum zhi_ext_class {
    ZHI_C_EXECUTABLE = 0, /* runs when opened: exe scr pif vbs js ... */
    ZHI_C_ACTIVE,         /* active content that is no program: html hta svg ... */
    ZHI_C_DOCUMENT,
    ZHI_C_MEDIA,
    ZHI_C_ARCHIVE,
    ZHI_C_DISGUISE, /* run a program, yet files of the kind hold none: pif com bat cmd */
    ZHI_C__COUNT
};

struct zhi_combo {
    enum zhi_source a, b; /* detectors */
    int bonus;
};

/* Distinct From addresses the sender detector remembers per client; the
 * burst threshold must stay below it or it could never be reached. */
#define ZHI_SENDER_FROM_SLOTS 32

struct zhi_heuristics {
    int scores[ZHI_S__COUNT];
    char **ext[ZHI_C__COUNT]; /* sorted lists per class */
    size_t n_ext[ZHI_C__COUNT];
    struct zhi_combo *combos;
    size_t n_combos;
    int cap[ZHI_N_DETECTORS]; /* [caps]: a detector's most points; -1 = no cap */
    /* [sender] */
    int many_from_window_s;  /* sliding window for the per-client From count */
    int many_from_threshold; /* distinct From addresses that make a burst */
    int table_slots;         /* client IPs remembered (bounded memory) */
};

/* Load DIR/heuristics.ini. Errors/warnings go to rep as "heuristics.ini:LINE: ...".
 * The weights are not built in: without the file *out is NULL (a warning),
 * and the heuristic detectors stay silent. */
zh_err zhi_heuristics_load(const char *dir, struct zhi_heuristics **out,
                           struct zh_rules_report *rep);
void zhi_heuristics_free(struct zhi_heuristics *h);
bool zhi_ext_in(const struct zhi_heuristics *h, enum zhi_ext_class c, const char *ext);

#endif
