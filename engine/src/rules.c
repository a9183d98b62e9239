/* The rule set: compiling a rules directory with libyara, the external
 * variables rule authors may use, and the reference counting that lets a new
 * set replace the old one while scans are still running on it. Publishing the
 * current set belongs to engine.c. */
#include "zhi.h"
#include "heuristics.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yara.h>

/* ---- externals ------------------------------------------------------------ */
static const char *x_filename(const struct zhi_scan *s, const struct zhi_object *o)
{
    return o->filename ? o->filename : "";
}
static const char *x_extension(const struct zhi_scan *s, const struct zhi_object *o)
{
    return o->ext;
}
static const char *x_declared(const struct zhi_scan *s, const struct zhi_object *o)
{
    return o->declared_type;
}
static const char *x_sniffed(const struct zhi_scan *s, const struct zhi_object *o)
{
    return zhi_type_name(o->sniffed);
}
static const char *x_kind(const struct zhi_scan *s, const struct zhi_object *o)
{
    return zhi_kind_name(o->kind);
}
static const char *x_path(const struct zhi_scan *s, const struct zhi_object *o)
{
    return o->path;
}
static const char *x_subject(const struct zhi_scan *s, const struct zhi_object *o)
{
    return s->subject ? s->subject : "";
}
static const char *x_from(const struct zhi_scan *s, const struct zhi_object *o)
{
    return s->from ? s->from : "";
}
static const char *x_mail_from(const struct zhi_scan *s, const struct zhi_object *o)
{
    return s->env && s->env->mail_from ? s->env->mail_from : "";
}
static const char *x_helo(const struct zhi_scan *s, const struct zhi_object *o)
{
    return s->env && s->env->helo ? s->env->helo : "";
}
static const char *x_client_ip(const struct zhi_scan *s, const struct zhi_object *o)
{
    return s->env && s->env->client_ip ? s->env->client_ip : "";
}
static int64_t x_depth(const struct zhi_scan *s, const struct zhi_object *o)
{
    return o->depth;
}
static int64_t x_in_archive(const struct zhi_scan *s, const struct zhi_object *o)
{
    return o->archive_depth > 0;
}
static const char *x_chain(const struct zhi_scan *s, const struct zhi_object *o)
{
    const char *c = o->kind == ZHI_K_ATTACHMENT || o->kind == ZHI_K_MEMBER
                        ? zhi_container_chain((struct zhi_scan *)s, o)
                        : NULL;
    return c ? c : "";
}
static const char *x_parent_type(const struct zhi_scan *s, const struct zhi_object *o)
{
    return o->parent >= 0 ? zhi_type_name(s->objects[o->parent].sniffed) : "";
}
static const char *x_container_kind(const struct zhi_scan *s, const struct zhi_object *o)
{
    return o->parent >= 0 ? zhi_payload_name(zhi_payload_of(s, &s->objects[o->parent])) : "";
}
static int64_t x_wrapper_depth(const struct zhi_scan *s, const struct zhi_object *o)
{
    return zhi_wrapper_depth(s, o);
}
static const char *x_payload_kind(const struct zhi_scan *s, const struct zhi_object *o)
{
    return zhi_payload_name(zhi_payload_of(s, o));
}
static const char *x_script_language(const struct zhi_scan *s, const struct zhi_object *o)
{
    if (zhi_payload_of(s, o) != ZHI_P_SCRIPT)
        return "";
    const char *l = zhi_object_script(s, o, NULL);
    return l ? l : zhi_type_name(o->sniffed);
}
static const char *x_lnk_target(const struct zhi_scan *s, const struct zhi_object *o)
{
    const char *v = zhi_object_attr(o, "lnk.target");
    return v ? v : "";
}
static const char *x_lnk_arguments(const struct zhi_scan *s, const struct zhi_object *o)
{
    const char *v = zhi_object_attr(o, "lnk.arguments");
    return v ? v : "";
}
static int64_t x_html_smuggling(const struct zhi_scan *s, const struct zhi_object *o)
{
    return zhi_object_attr(o, "html.smuggling") ||
           (o->parent >= 0 && zhi_object_attr(&s->objects[o->parent], "html.smuggling"));
}
static int64_t x_internal_mail(const struct zhi_scan *s, const struct zhi_object *o)
{
    return zhi_site_internal_mail(s);
}
static int64_t x_is_vba(const struct zhi_scan *s, const struct zhi_object *o)
{
    return zhi_object_attr(o, "vba.module") != NULL;
}
static int64_t x_attachments(const struct zhi_scan *s, const struct zhi_object *o)
{
    int64_t n = 0;
    for (size_t i = 0; i < s->n_objects; i++)
        n += s->objects[i].kind == ZHI_K_ATTACHMENT;
    return n;
}

const struct zhi_external zhi_externals[] = {
    {"filename", ZHI_EXT_STR, "decoded file name of the object, \"\" if none", x_filename},
    {"extension", ZHI_EXT_STR, "last extension of filename, lower-case, no dot", x_extension},
    {"declared_type", ZHI_EXT_STR, "Content-Type given by the sender, lower-case", x_declared},
    {"sniffed_type", ZHI_EXT_STR,
     "type from magic bytes: pe, mz, elf, zip, rar, 7z, gzip, "
     "cab, ole2, pdf, script, html, text, data...",
     x_sniffed},
    {"object_kind", ZHI_EXT_STR, "headers, text, attachment or member", x_kind},
    {"object_path", ZHI_EXT_STR, "path of the object, e.g. 2/document.zip/readme.exe", x_path},
    {"subject", ZHI_EXT_STR, "decoded Subject of the message", x_subject},
    {"from", ZHI_EXT_STR, "address in the From header", x_from},
    {"mail_from", ZHI_EXT_STR, "SMTP envelope sender (\"\" for <>)", x_mail_from},
    {"helo", ZHI_EXT_STR, "SMTP HELO/EHLO name", x_helo},
    {"client_ip", ZHI_EXT_STR, "SMTP client address", x_client_ip},
    {"depth", ZHI_EXT_INT,
     "nesting depth: 0 header block, 1 top-level part, more inside "
     "multiparts and archives",
     NULL, x_depth},
    {"in_archive", ZHI_EXT_BOOL, "true for archive members", NULL, x_in_archive},
    {"attachments", ZHI_EXT_INT, "number of attachment objects found so far in the message", NULL,
     x_attachments},
    {"chain", ZHI_EXT_STR,
     "types from the top-level attachment down to this object, e.g. \"html>zip>iso>lnk\"; \"\" "
     "for headers and text",
     x_chain},
    {"parent_type", ZHI_EXT_STR,
     "sniffed type of the container this object came out of, \"\" at "
     "the top",
     x_parent_type},
    {"container_kind", ZHI_EXT_STR,
     "what that container is: archive, disk_image, onenote, active (an HTML page), document "
     "(a PDF, an OOXML file), macro_document...; \"\" at the top",
     x_container_kind},
    {"wrapper_depth", ZHI_EXT_INT, "containers above this object (0 for an attachment)", NULL,
     x_wrapper_depth},
    {"payload_kind", ZHI_EXT_STR,
     "what this object is: program, script, shortcut, macro_document, disk_image, onenote, "
     "archive, active, unknown, document; \"\" for headers and text",
     x_payload_kind},
    {"script_language", ZHI_EXT_STR,
     "for a script: jscript, vbscript, powershell, batch, hta, wsf or encoded; else \"\"",
     x_script_language},
    {"lnk_target", ZHI_EXT_STR, "a Windows shortcut's target path, \"\" for other objects",
     x_lnk_target},
    {"lnk_arguments", ZHI_EXT_STR, "a Windows shortcut's command-line arguments", x_lnk_arguments},
    {"html_smuggling", ZHI_EXT_BOOL,
     "true for an HTML/SVG page that rebuilds a file in the browser and for the file it rebuilds",
     NULL, x_html_smuggling},
    {"internal_mail", ZHI_EXT_BOOL,
     "true when the organisation's own network and domains sent the message ([site] settings)",
     NULL, x_internal_mail},
    {"is_vba", ZHI_EXT_BOOL,
     "true for the decompressed source of a VBA module (from an OLE2 document or a "
     "vbaProject.bin)",
     NULL, x_is_vba},
};
const size_t zhi_n_externals = sizeof zhi_externals / sizeof zhi_externals[0];

int zhi_external_define(void *yr_scanner, const struct zhi_external *x, const char *str,
                        int64_t num)
{
    if (x->type == ZHI_EXT_STR)
        return yr_scanner_define_string_variable(yr_scanner, x->name, str);
    if (x->type == ZHI_EXT_INT)
        return yr_scanner_define_integer_variable(yr_scanner, x->name, num);
    return yr_scanner_define_boolean_variable(yr_scanner, x->name, (int)num);
}

const char *zhi_kind_name(enum zhi_kind k)
{
    static const char *const names[] = {[ZHI_K_HEADERS] = "headers",
                                        [ZHI_K_TEXT] = "text",
                                        [ZHI_K_ATTACHMENT] = "attachment",
                                        [ZHI_K_MEMBER] = "member"};
    return (unsigned)k < sizeof names / sizeof names[0] ? names[k] : "unknown";
}

/* ---- rule sets -------------------------------------------------------------- */
static atomic_ullong next_version = 1;
/* Counted from the allocation of a set to its free, so that Stats (and the
 * tests) can tell that replaced sets really go away once unused. */
static atomic_ullong alive;

unsigned long long zhi_rulesets_alive(void)
{
    return atomic_load(&alive);
}

static void ruleset_free(struct zhi_ruleset *rs)
{
    if (!rs)
        return;
    atomic_fetch_sub(&alive, 1);
    if (rs->yr_rules)
        yr_rules_destroy(rs->yr_rules);
    zhi_heuristics_free(rs->heur);
    free(rs->rule_stats);
    free(rs->image);
    free(rs);
}

void zhi_ruleset_release(struct zhi_ruleset *rs)
{
    if (rs && atomic_fetch_sub(&rs->refs, 1) == 1)
        ruleset_free(rs);
}

struct compile_ctx {
    struct zh_rules_report *rep;
    char root[PATH_MAX]; /* realpath of the rules directory */
    const char *dir;     /* as given, for messages */
};

/* File names in messages are shown relative to the rules directory. */
static const char *rel(const struct compile_ctx *cc, const char *path)
{
    size_t n = strlen(cc->root);
    if (path && !strncmp(path, cc->root, n) && path[n] == '/')
        return path + n + 1;
    return path ? path : "?";
}

static void on_compile_msg(int level, const char *file, int line, const YR_RULE *rule,
                           const char *msg, void *ud)
{
    struct compile_ctx *cc = ud;
    if (level == YARA_ERROR_LEVEL_ERROR)
        zhi_report_add(&cc->rep->errors, &cc->rep->n_errors, "%s:%d: error: %s", rel(cc, file),
                       line, msg);
    else
        zhi_report_add(&cc->rep->warnings, &cc->rep->n_warnings, "%s:%d: warning: %s",
                       rel(cc, file), line, msg);
}

#define ZHI_MAX_RULE_FILE_BYTES (16 * 1024 * 1024)

/* `include` may only read files inside the rules directory. */
static const char *on_include(const char *name, const char *caller, const char *ns, void *ud)
{
    struct compile_ctx *cc = ud;
    char base[PATH_MAX], want[PATH_MAX * 2], real[PATH_MAX];
    if (name[0] == '/') {
        snprintf(want, sizeof want, "%s", name);
    } else {
        snprintf(base, sizeof base, "%s", caller ? caller : cc->root);
        char *slash = strrchr(base, '/');
        if (caller && slash)
            *slash = 0;
        snprintf(want, sizeof want, "%s/%s", base, name);
    }
    size_t rn = strlen(cc->root);
    if (!realpath(want, real) || strncmp(real, cc->root, rn) || real[rn] != '/')
        return NULL; /* YARA reports "can't open include file" at the include line */
    FILE *f = fopen(real, "rb");
    if (!f)
        return NULL;
    struct stat st;
    char *buf = NULL;
    if (fstat(fileno(f), &st) == 0 && st.st_size < ZHI_MAX_RULE_FILE_BYTES &&
        (buf = malloc((size_t)st.st_size + 1))) {
        size_t got = fread(buf, 1, (size_t)st.st_size, f);
        buf[got] = 0;
    }
    fclose(f);
    return buf;
}

static void on_include_free(const char *p, void *ud)
{
    free((void *)p);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool is_rule_file(const char *name)
{
    size_t n = strlen(name);
    return name[0] != '.' &&
           ((n > 4 && !strcmp(name + n - 4, ".yar")) || (n > 5 && !strcmp(name + n - 5, ".yara")));
}

/* real (a resolved path) and every directory above it belong to root or to
 * us and no group or other user may write to them: nobody else can change
 * what a link into it reads (/etc/zerohour/rules.d as installed, not /tmp). */
static bool trusted_tree(const char *real)
{
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s", real);
    for (;;) {
        struct stat st;
        if (lstat(p, &st) != 0 || (st.st_uid != 0 && st.st_uid != geteuid()) ||
            (st.st_mode & (S_IWGRP | S_IWOTH)))
            return false;
        if (!strcmp(p, "/"))
            return true;
        char *slash = strrchr(p, '/');
        if (!slash)
            return false;         /* realpath gives absolute paths */
        slash[slash == p] = '\0'; /* "/etc" -> "/" */
    }
}

/* Collect rule files below dir (sorted, so errors and rule order are stable). */
static void collect(const char *dir, int depth, char ***files, size_t *n, struct compile_ctx *cc)
{
    DIR *d = opendir(dir);
    if (!d) {
        zhi_report_add(&cc->rep->errors, &cc->rep->n_errors, "%s: %s", dir, strerror(errno));
        return;
    }
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        char path[PATH_MAX], real[PATH_MAX];
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        struct stat st;
        if (lstat(path, &st) != 0)
            continue;
        /* A symlink is followed inside the rules directory, as includes are,
         * or into a tree only root or we can change (the packaged
         * rules/local -> /etc/zerohour/rules.d): a link to another user's
         * file or to /tmp is no rule of ours (and its text would show in
         * compile errors). */
        if (S_ISLNK(st.st_mode)) {
            size_t rn = strlen(cc->root);
            if (!realpath(path, real) || stat(real, &st) != 0)
                continue; /* dangling: nothing to compile */
            if ((strncmp(real, cc->root, rn) || real[rn] != '/') && !trusted_tree(real)) {
                if (S_ISDIR(st.st_mode) || is_rule_file(de->d_name))
                    zhi_report_add(
                        &cc->rep->errors, &cc->rep->n_errors,
                        "%s: symbolic link to %s, outside the rules directory into a place "
                        "other users can change; refused",
                        rel(cc, path), real);
                continue;
            }
            snprintf(path, sizeof path, "%s", real);
        }
        if (S_ISDIR(st.st_mode) && depth < 16) {
            collect(path, depth + 1, files, n, cc);
        } else if (S_ISREG(st.st_mode) && is_rule_file(de->d_name)) {
            char **grown = realloc(*files, (*n + 1) * sizeof **files);
            if (!grown)
                break;
            *files = grown;
            if ((grown[*n] = strdup(path)))
                (*n)++;
        }
    }
    closedir(d);
}

/* Offset of the first byte that breaks UTF-8, or -1 when the text is valid. */
static long utf8_error(const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n;) {
        unsigned c = p[i];
        size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        if (!len || i + len > n || (len == 2 && c < 0xc2))
            return (long)i;
        for (size_t k = 1; k < len; k++)
            if ((p[i + k] & 0xc0) != 0x80)
                return (long)i;
        i += len;
    }
    return -1;
}

/* Read a rule file whole, refusing huge and non-UTF-8 ones with a clear error. */
static char *read_rule_file(struct compile_ctx *cc, const char *path)
{
    struct zh_rules_report *rep = cc->rep;
    FILE *f = fopen(path, "rb");
    if (!f) {
        zhi_report_add(&rep->errors, &rep->n_errors, "%s: %s", rel(cc, path), strerror(errno));
        return NULL;
    }
    struct stat st;
    char *buf = NULL;
    if (fstat(fileno(f), &st) != 0 || st.st_size > ZHI_MAX_RULE_FILE_BYTES) {
        zhi_report_add(&rep->errors, &rep->n_errors, "%s: %lld bytes, larger than the %d allowed",
                       rel(cc, path), (long long)st.st_size, ZHI_MAX_RULE_FILE_BYTES);
    } else if ((buf = malloc((size_t)st.st_size + 1))) {
        size_t got = fread(buf, 1, (size_t)st.st_size, f);
        buf[got] = 0;
        long bad = utf8_error((const unsigned char *)buf, got);
        if (bad >= 0 || memchr(buf, 0, got)) {
            int line = 1;
            for (long i = 0; i < (bad >= 0 ? bad : (long)got); i++)
                line += buf[i] == '\n';
            zhi_report_add(&rep->errors, &rep->n_errors,
                           "%s:%d: error: not UTF-8 text (byte offset %ld)", rel(cc, path), line,
                           bad >= 0 ? bad : (long)((char *)memchr(buf, 0, got) - buf));
            free(buf);
            buf = NULL;
        }
    }
    fclose(f);
    return buf;
}

int zhi_rules_declare_externals(void *compiler)
{
    YR_COMPILER *c = compiler;
    for (size_t i = 0; i < zhi_n_externals; i++) {
        const struct zhi_external *x = &zhi_externals[i];
        int rc = x->type == ZHI_EXT_STR   ? yr_compiler_define_string_variable(c, x->name, "")
                 : x->type == ZHI_EXT_INT ? yr_compiler_define_integer_variable(c, x->name, 0)
                                          : yr_compiler_define_boolean_variable(c, x->name, 0);
        if (rc != ERROR_SUCCESS)
            return rc;
    }
    return ERROR_SUCCESS;
}

zh_err zhi_rules_compile(const char *dir, struct zhi_ruleset **out, struct zh_rules_report *rep)
{
    zh_err rc = ZH_ERR_FAILED;
    YR_COMPILER *c = NULL;
    YR_RULES *rules = NULL;
    char **files = NULL;
    size_t n_files = 0;
    struct compile_ctx cc = {.rep = rep, .dir = dir};
    uint64_t t0 = zhi_now_us();

    memset(rep, 0, sizeof *rep);
    if (!realpath(dir, cc.root)) {
        zhi_report_add(&rep->errors, &rep->n_errors, "%s: %s", dir, strerror(errno));
        goto out;
    }
    collect(cc.root, 0, &files, &n_files, &cc);
    if (rep->n_errors)
        goto out;
    if (n_files == 0) {
        zhi_report_add(&rep->errors, &rep->n_errors, "%s: no *.yar or *.yara files", dir);
        goto out;
    }
    qsort(files, n_files, sizeof *files, cmp_str);
    if (yr_compiler_create(&c) != ERROR_SUCCESS ||
        zhi_rules_declare_externals(c) != ERROR_SUCCESS) {
        zhi_report_add(&rep->errors, &rep->n_errors, "cannot create the YARA compiler");
        rc = ZH_ERR_FATAL;
        goto out;
    }
    yr_compiler_set_callback(c, on_compile_msg, &cc);
    yr_compiler_set_include_callback(c, on_include, on_include_free, &cc);
    for (size_t i = 0; i < n_files; i++) {
        /* Checked whole first (size, UTF-8), then compiled from the file so
         * messages and includes know its name. */
        char *text = read_rule_file(&cc, files[i]);
        if (!text)
            break;
        free(text);
        FILE *f = fopen(files[i], "r");
        if (!f) {
            zhi_report_add(&rep->errors, &rep->n_errors, "%s: %s", rel(&cc, files[i]),
                           strerror(errno));
            break;
        }
        /* The compiler refuses further input after an error; stop at the first
         * file with one, so every error reported is a real one. */
        yr_compiler_add_file(c, f, NULL, files[i]);
        fclose(f);
        if (rep->n_errors)
            break;
    }
    if (rep->n_errors)
        goto out;
    struct zhi_heuristics *heur = NULL;
    if (zhi_heuristics_load(cc.root, &heur, rep) != ZH_ERR_OK)
        goto out;
    if (yr_compiler_get_rules(c, &rules) != ERROR_SUCCESS) {
        zhi_heuristics_free(heur);
        zhi_report_add(&rep->errors, &rep->n_errors, "cannot build the compiled rule set");
        goto out;
    }
    struct zhi_ruleset *rs = calloc(1, sizeof *rs);
    if (!rs) {
        zhi_heuristics_free(heur);
        rc = ZH_ERR_FATAL;
        goto out;
    }
    atomic_fetch_add(&alive, 1);
    rs->heur = heur;
    YR_RULE *rule;
    unsigned count = 0;
    yr_rules_foreach(rules, rule) count++;
    if (!(rs->rule_stats = calloc(count ? count : 1, sizeof *rs->rule_stats))) {
        ruleset_free(rs);
        rc = ZH_ERR_FATAL;
        goto out;
    }
    rs->yr_rules = rules;
    rules = NULL;
    rs->rule_count = count;
    rs->version = atomic_fetch_add(&next_version, 1);
    atomic_init(&rs->refs, 1);
    rep->ok = 1;
    rep->rule_count = count;
    rep->version = rs->version;
    *out = rs;
    rc = ZH_ERR_OK;
out:
    rep->elapsed_us = zhi_now_us() - t0;
    if (rules)
        yr_rules_destroy(rules);
    if (c)
        yr_compiler_destroy(c);
    for (size_t i = 0; i < n_files; i++)
        free(files[i]);
    free(files);
    return rc;
}

/* ---- the live set ------------------------------------------------------------ */
void zhi_slot_init(struct zhi_rules_slot *slot)
{
    pthread_mutex_init(&slot->lock, NULL);
    slot->current = NULL;
    atomic_store(&slot->version, 0);
}

void zhi_slot_destroy(struct zhi_rules_slot *slot)
{
    zhi_ruleset_release(slot->current);
    slot->current = NULL;
    pthread_mutex_destroy(&slot->lock);
}

struct zhi_ruleset *zhi_slot_acquire(struct zhi_rules_slot *slot)
{
    pthread_mutex_lock(&slot->lock);
    struct zhi_ruleset *rs = slot->current;
    if (rs)
        atomic_fetch_add(&rs->refs, 1);
    pthread_mutex_unlock(&slot->lock);
    return rs;
}

void zhi_slot_publish(struct zhi_rules_slot *slot, struct zhi_ruleset *rs)
{
    pthread_mutex_lock(&slot->lock);
    struct zhi_ruleset *old = slot->current;
    slot->current = rs;
    atomic_store(&slot->version, rs->version);
    pthread_mutex_unlock(&slot->lock);
    /* Scans holding the old set keep it alive until they finish. */
    zhi_ruleset_release(old);
}
