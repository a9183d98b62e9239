/* archive: the containers libarchive reads from memory — zip, rar, 7z, cab,
 * tar, arj, lha — with the passwords the message text offers for encrypted
 * members (as Bagle wrote "Password: 12345" beside its zip). Members stream
 * into a buffer under the stage's budget. A container that cannot be opened
 * or read to its end is a scored, unscannable hit; the members read so far
 * are kept. (Single compressed streams belong to compressed.c.) */
#include "../src/zhi.h"

#include <archive.h>
#include <archive_entry.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#define MAX_PASSWORDS 8

/* Per scan: the candidate passwords, found once when the first archive opens. */
struct passwords {
    const char *list[MAX_PASSWORDS];
    size_t n;
};

static int archive_bid(const struct zhi_scan *s, const struct zhi_object *o)
{
    return zhi_type_is_archive(o->sniffed) ? 100 : 0; /* compressed.c outbids it on streams */
}

/* A reader for a container of type t. An optical image is given to the
 * ISO 9660 reader alone: with every format offered, the zeros of a UDF-only
 * image read as an empty tar, and an empty archive would pass as seen. */
static struct archive *reader(enum zhi_type t, const struct passwords *pw)
{
    struct archive *a = archive_read_new();
    if (!a)
        return NULL;
    archive_read_support_filter_all(a);
    if (t == ZHI_T_ISO)
        archive_read_support_format_iso9660(a);
    else
        archive_read_support_format_all(a);
    for (size_t i = 0; pw && i < pw->n; i++)
        archive_read_add_passphrase(a, pw->list[i]);
    return a;
}

/* Read entry number `entry` of arc again with one password only, into out
 * (replacing its contents). ZipCrypto checks a password against a single
 * byte, so one wrong candidate in 256 passes the check; libarchive then stops
 * trying the others and the member fails its CRC. Trying each alone finds the
 * right one. False when none reads cleanly within the budget. */
static bool reread_with(struct zhi_extract *x, const struct zhi_object *arc, unsigned entry,
                        const char *password, struct zhi_buf *out, size_t counted)
{
    if (!zhi_extract_fits(x, 0, 0))
        return false;
    struct passwords one = {.list = {password}, .n = 1};
    struct archive *a = reader(arc->sniffed, &one);
    bool ok = false;
    if (!a)
        return false;
    struct archive_entry *e;
    if (archive_read_open_memory(a, arc->data, arc->len) != ARCHIVE_OK)
        goto out;
    for (unsigned i = 0; i <= entry; i++)
        if (archive_read_next_header(a, &e) < ARCHIVE_WARN || !zhi_extract_fits(x, 0, 0))
            goto out;
    out->len = 0;
    char chunk[64 * 1024];
    la_ssize_t n;
    while ((n = archive_read_data(a, chunk, sizeof chunk)) > 0) {
        /* The failed read's `counted` bytes make way for these. */
        uint64_t now = out->len + (size_t)n;
        if (!zhi_extract_fits(x, now, now > counted ? now - counted : 0) ||
            !zhi_buf_append(out, chunk, (size_t)n))
            goto out;
    }
    ok = n == 0;
out:
    archive_read_free(a);
    return ok;
}

/* The ISO 9660 volume descriptor set: "CD001" in a sector from 16 on (a
 * UDF bridge image has BEA01/NSR02 descriptors after it). */
static bool iso9660_descriptor(const struct zhi_object *o)
{
    for (size_t sector = 16; sector < 32; sector++) {
        size_t off = sector * 2048 + 1;
        if (off + 5 <= o->len && !memcmp(o->data + off, "CD001", 5))
            return true;
    }
    return false;
}

static zh_err archive_extract(struct zhi_extract *x, size_t idx)
{
    struct zhi_scan *s = zhi_extract_scan(x);
    /* Copy what we need: appending objects moves s->objects. */
    const struct zhi_object arc = s->objects[idx];
    struct passwords **pwp = (struct passwords **)zhi_extract_scratch(x);
    if (!*pwp) {
        if (!(*pwp = zhi_arena_alloc(s->arena, sizeof **pwp)))
            return ZH_ERR_FATAL;
        (*pwp)->n = zhi_text_passwords(s, (*pwp)->list, MAX_PASSWORDS);
    }
    const struct passwords *pw = *pwp;
    zh_err rc = ZH_ERR_OK;
    struct zhi_buf g = {0};
    unsigned members_here = 0, encrypted_here = 0, decrypted_here = 0;
    /* What libarchive 3.6.2 cannot read: ARJ, and UDF images without the
     * ISO 9660 bridge most writers add. Not seen, so never CLEAN. */
    const char *unsupported = arc.sniffed == ZHI_T_ARJ ? "ARJ archives are not read"
                              : arc.sniffed == ZHI_T_ISO && !iso9660_descriptor(&arc)
                                  ? "UDF images without an ISO 9660 directory are not read"
                                  : NULL;
    if (unsupported)
        return zhi_extract_damaged(x, "unsupported_format", arc.path, "%s", unsupported);
    struct archive *a = reader(arc.sniffed, pw);
    if (!a)
        return ZH_ERR_FATAL;
    if (archive_read_open_memory(a, arc.data, arc.len) != ARCHIVE_OK) {
        rc = zhi_extract_damaged(x, "malformed_archive", arc.path,
                                 "%s archive could not be opened: %s", zhi_type_name(arc.sniffed),
                                 archive_error_string(a) ? archive_error_string(a)
                                                         : "unknown error");
        goto out;
    }
    struct archive_entry *entry;
    for (unsigned entry_no = 0;; entry_no++) {
        int r = archive_read_next_header(a, &entry);
        if (r == ARCHIVE_EOF)
            break;
        if (r < ARCHIVE_WARN) {
            rc = zhi_extract_damaged(
                x, "malformed_archive", arc.path, "%s archive is damaged after %u member(s): %s",
                zhi_type_name(arc.sniffed), members_here,
                archive_error_string(a) ? archive_error_string(a) : "unknown error");
            break;
        }
        /* Every entry counts, directories and links too: a million of them
         * cost as much to walk as a million files. */
        if ((rc = zhi_extract_count(x, arc.path)) != ZH_ERR_OK)
            break;
        mode_t type = archive_entry_filetype(entry);
        if (type != 0 && type != AE_IFREG)
            continue;
        const char *name = archive_entry_pathname_utf8(entry);
        if (!name)
            name = archive_entry_pathname(entry);
        if (!name || !*name)
            name = "unnamed";
        char *path = zhi_arena_printf(s->arena, "%s/%s", arc.path, name);
        if (!path) {
            rc = ZH_ERR_FATAL;
            break;
        }
        members_here++;
        bool encrypted = archive_entry_is_encrypted(entry);
        unsigned flags = 0;
        g.len = 0;
        la_int64_t consumed0 = archive_filter_bytes(a, -1);
        zh_err limit = ZH_ERR_OK;
        char chunk[64 * 1024];
        la_ssize_t n;
        while ((n = archive_read_data(a, chunk, sizeof chunk)) > 0) {
            la_int64_t in = archive_filter_bytes(a, -1) - consumed0;
            limit =
                zhi_extract_bytes(x, path, g.len + (size_t)n, (size_t)n, in > 0 ? (uint64_t)in : 1);
            if (limit != ZH_ERR_OK)
                break;
            if (!zhi_buf_append(&g, chunk, (size_t)n)) {
                rc = ZH_ERR_FATAL;
                goto out;
            }
        }
        if (n < 0 && limit == ZH_ERR_OK && encrypted && pw->n > 1) {
            bool retried = false;
            size_t counted = g.len;
            for (size_t k = 0; k < pw->n && !retried; k++)
                retried = reread_with(x, &arc, entry_no, pw->list[k], &g, counted);
            if (retried) {
                zhi_extract_recount(x, counted, g.len);
                n = 0;
            }
        }
        if (n < 0 && limit == ZH_ERR_OK) {
            const char *why = archive_error_string(a) ? archive_error_string(a) : "read error";
            if (encrypted || strstr(why, "assphrase") || strstr(why, "ncrypt")) {
                flags |= ZHI_OBJ_ENCRYPTED;
                encrypted_here++;
            } else {
                flags |= ZHI_OBJ_TRUNCATED;
                if ((rc = zhi_extract_damaged(x, "malformed_archive", path,
                                              "member could not be read completely: %s", why)) !=
                    ZH_ERR_OK)
                    goto out;
            }
        } else if (encrypted && limit == ZH_ERR_OK) {
            /* Read to the end despite encryption: a password from the text worked. */
            flags |= ZHI_OBJ_DECRYPTED;
            encrypted_here++;
            decrypted_here++;
        }
        if (limit != ZH_ERR_OK)
            flags |= ZHI_OBJ_TRUNCATED;
        const uint8_t *data = zhi_arena_memdup(s->arena, g.p ? g.p : (const uint8_t *)"", g.len);
        if (!data || zhi_extract_add(x, idx, name, data, g.len, flags) < 0) {
            rc = ZH_ERR_FATAL;
            goto out;
        }
        if (limit != ZH_ERR_OK) {
            rc = limit; /* the member found so far is kept; the budget is spent */
            break;
        }
    }
out:
    if (encrypted_here)
        s->objects[idx].flags |= ZHI_OBJ_HAS_ENCRYPTED;
    if (decrypted_here)
        s->objects[idx].flags |= ZHI_OBJ_DECRYPTED;
    free(g.p);
    archive_read_free(a);
    return rc;
}

const struct zh_extractor zh_extractor_archive = {
    .name = "archive",
    .src = ZHI_SRC_archive,
    .flags = ZH_EXTRACT_NESTS,
    .member_kind = ZHI_K_MEMBER,
    .bid = archive_bid,
    .extract = archive_extract,
};
