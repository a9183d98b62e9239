/* Content type from magic bytes. Cheap checks only (a few bytes at fixed
 * offsets, one bounded look for text); never decodes anything. */
#include "zhi.h"

#include <string.h>
#include <strings.h>

static const char *const type_names[ZHI_T__COUNT] = {
    [ZHI_T_DATA] = "data", [ZHI_T_EMPTY] = "empty", [ZHI_T_TEXT] = "text",
    [ZHI_T_HTML] = "html", [ZHI_T_PE] = "pe",       [ZHI_T_MZ] = "mz",
    [ZHI_T_ELF] = "elf",   [ZHI_T_MACHO] = "macho", [ZHI_T_SCRIPT] = "script",
    [ZHI_T_ZIP] = "zip",   [ZHI_T_RAR] = "rar",     [ZHI_T_7Z] = "7z",
    [ZHI_T_GZIP] = "gzip", [ZHI_T_BZIP2] = "bzip2", [ZHI_T_XZ] = "xz",
    [ZHI_T_CAB] = "cab",   [ZHI_T_TAR] = "tar",     [ZHI_T_ARJ] = "arj",
    [ZHI_T_LHA] = "lha",   [ZHI_T_OLE2] = "ole2",   [ZHI_T_PDF] = "pdf",
    [ZHI_T_RTF] = "rtf",   [ZHI_T_JPEG] = "jpeg",   [ZHI_T_PNG] = "png",
    [ZHI_T_GIF] = "gif",   [ZHI_T_BMP] = "bmp",     [ZHI_T_LNK] = "lnk",
    [ZHI_T_ISO] = "iso",   [ZHI_T_CPIO] = "cpio",   [ZHI_T_CHM] = "chm",
    [ZHI_T_SZDD] = "szdd", [ZHI_T_KWAJ] = "kwaj",   [ZHI_T_ONENOTE] = "onenote",
    [ZHI_T_VHD] = "vhd",   [ZHI_T_FAT] = "fat",
};

const char *zhi_type_name(enum zhi_type t)
{
    return (unsigned)t < ZHI_T__COUNT ? type_names[t] : "data";
}

bool zhi_type_is_executable(enum zhi_type t)
{
    return t == ZHI_T_PE || t == ZHI_T_MZ || t == ZHI_T_ELF || t == ZHI_T_MACHO ||
           t == ZHI_T_SCRIPT || t == ZHI_T_LNK;
}

bool zhi_type_is_archive(enum zhi_type t)
{
    switch (t) {
    case ZHI_T_ZIP:
    case ZHI_T_RAR:
    case ZHI_T_7Z:
    case ZHI_T_GZIP:
    case ZHI_T_BZIP2:
    case ZHI_T_XZ:
    case ZHI_T_CAB:
    case ZHI_T_TAR:
    case ZHI_T_ARJ:
    case ZHI_T_LHA:
    case ZHI_T_CPIO:
    case ZHI_T_ISO:
        return true;
    default:
        return false;
    }
}

static bool has(const uint8_t *p, size_t n, size_t off, const void *magic, size_t mlen)
{
    return n >= off + mlen && memcmp(p + off, magic, mlen) == 0;
}

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Case-insensitive prefix test after leading whitespace/BOM. */
static bool starts_ci(const uint8_t *p, size_t n, const char *word)
{
    size_t i = 0, w = strlen(word);
    if (n >= 3 && p[0] == 0xEF && p[1] == 0xBB && p[2] == 0xBF)
        i = 3;
    while (i < n && (p[i] == ' ' || p[i] == '\t' || p[i] == '\r' || p[i] == '\n'))
        i++;
    return n - i >= w && strncasecmp((const char *)p + i, word, w) == 0;
}

/* Text if the first KiB has no NUL and few control bytes. */
static bool looks_text(const uint8_t *p, size_t n)
{
    size_t lim = n < 1024 ? n : 1024, bad = 0;
    for (size_t i = 0; i < lim; i++) {
        uint8_t c = p[i];
        if (c == 0)
            return false;
        if (c < 0x20 && c != '\n' && c != '\r' && c != '\t' && c != '\f' && c != 0x1b)
            bad++;
    }
    return bad * 20 < lim + 1;
}

enum zhi_type zhi_sniff(const uint8_t *p, size_t n)
{
    if (n == 0)
        return ZHI_T_EMPTY;
    if (has(p, n, 0, "MZ", 2) || has(p, n, 0, "ZM", 2)) {
        /* Windows follows e_lfanew wherever it points after the "MZ": packers
         * such as UPack and MEW put the PE header inside the DOS header. */
        if (n >= 0x40) {
            uint32_t off = le32(p + 0x3c);
            if (off >= 4 && off < n && has(p, n, off, "PE\0\0", 4))
                return ZHI_T_PE;
        }
        /* A bare DOS header: bytes in the last page < 512 and a header size;
         * text that merely starts with "MZ" fails this. */
        if (n >= 28 && (p[2] | p[3] << 8) < 512 && (p[8] | p[9] << 8) != 0)
            return ZHI_T_MZ;
    }
    if (has(p, n, 0,
            "\x7f"
            "ELF",
            4))
        return ZHI_T_ELF;
    if (has(p, n, 0, "\xcf\xfa\xed\xfe", 4) || has(p, n, 0, "\xce\xfa\xed\xfe", 4) ||
        has(p, n, 0, "\xfe\xed\xfa\xcf", 4))
        return ZHI_T_MACHO;
    if (has(p, n, 0, "PK\x03\x04", 4) || has(p, n, 0, "PK\x05\x06", 4) ||
        has(p, n, 0, "PK\x07\x08", 4))
        return ZHI_T_ZIP;
    if (has(p, n, 0, "Rar!\x1a\x07", 6))
        return ZHI_T_RAR;
    if (has(p, n, 0, "7z\xbc\xaf\x27\x1c", 6))
        return ZHI_T_7Z;
    if (has(p, n, 0, "\x1f\x8b", 2))
        return ZHI_T_GZIP;
    if (has(p, n, 0, "BZh", 3) && n > 3 && p[3] >= '1' && p[3] <= '9')
        return ZHI_T_BZIP2;
    if (has(p, n, 0,
            "\xfd"
            "7zXZ\0",
            6))
        return ZHI_T_XZ;
    if (has(p, n, 0, "MSCF\0\0\0\0", 8))
        return ZHI_T_CAB;
    if (has(p, n, 0, "\x60\xea", 2))
        return ZHI_T_ARJ;
    if (n > 6 && p[2] == '-' && p[3] == 'l' && (p[4] == 'h' || p[4] == 'z') && p[6] == '-')
        return ZHI_T_LHA;
    if (has(p, n, 257, "ustar", 5))
        return ZHI_T_TAR;
    if (has(p, n, 0, "\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", 8))
        return ZHI_T_OLE2;
    if (has(p, n, 0, "070701", 6) || has(p, n, 0, "070702", 6) || has(p, n, 0, "070707", 6) ||
        has(p, n, 0, "\xc7\x71", 2) || has(p, n, 0, "\x71\xc7", 2))
        return ZHI_T_CPIO;
    if (has(p, n, 0, "ITSF\x03\0\0\0", 8))
        return ZHI_T_CHM;
    if (has(p, n, 0, "SZDD\x88\xf0\x27\x33", 8))
        return ZHI_T_SZDD;
    if (has(p, n, 0, "KWAJ\x88\xf0\x27\xd1", 8))
        return ZHI_T_KWAJ;
    if (has(p, n, 0, "\xe4\x52\x5c\x7b\x8c\xd8\xa7\x4d\xae\xb1\x53\x78\xd0\x29\x96\xd3", 16))
        return ZHI_T_ONENOTE;
    /* Optical images: a volume descriptor at sector 16 (CD001 for ISO 9660,
     * BEA01 opening UDF's extended area). */
    if (has(p, n, 0x8001, "CD001", 5) || has(p, n, 0x8801, "CD001", 5) ||
        has(p, n, 0x9001, "CD001", 5) || has(p, n, 0x8001, "BEA01", 5))
        return ZHI_T_ISO;
    /* VHD: "conectix" in the footer (last 512 bytes, or 511 for old images)
     * and, for dynamic disks, at the start too; VHDX names itself first. */
    if (has(p, n, 0, "conectix", 8) || has(p, n, 0, "vhdxfile", 8) ||
        (n >= 512 && (has(p, n, n - 512, "conectix", 8) || has(p, n, n - 511, "conectix", 8))))
        return ZHI_T_VHD;
    /* A FAT volume: a jump, a BIOS parameter block with a sane sector size
     * and cluster size, and the boot signature. */
    if (n >= 512 && p[510] == 0x55 && p[511] == 0xaa && (p[0] == 0xeb || p[0] == 0xe9)) {
        unsigned bps = p[11] | p[12] << 8, spc = p[13];
        if ((bps == 512 || bps == 1024 || bps == 2048 || bps == 4096) && spc &&
            !(spc & (spc - 1)) && (p[14] | p[15] << 8) && p[16])
            return ZHI_T_FAT;
    }
    /* A partitioned disk (MBR, or GPT behind its protective MBR entry) whose
     * partitions may hold one: every entry's boot flag 0 or 0x80, and at
     * least one entry in use with a start and a length. */
    if (n >= 1024 && p[510] == 0x55 && p[511] == 0xaa) {
        bool used = false, sane = true;
        for (int i = 0; i < 4; i++) {
            const uint8_t *e = p + 446 + 16 * i;
            sane = sane && (e[0] == 0 || e[0] == 0x80);
            if (e[4])
                used = true, sane = sane && le32(e + 8) && le32(e + 12);
        }
        if (sane && used)
            return ZHI_T_FAT;
    }
    if (has(p, n, 0, "L\0\0\0\x01\x14\x02\0", 8))
        return ZHI_T_LNK;
    if (has(p, n, 0, "\xff\xd8\xff", 3))
        return ZHI_T_JPEG;
    if (has(p, n, 0, "\x89PNG\r\n\x1a\n", 8))
        return ZHI_T_PNG;
    if (has(p, n, 0, "GIF87a", 6) || has(p, n, 0, "GIF89a", 6))
        return ZHI_T_GIF;
    if (has(p, n, 0, "BM", 2) && n >= 14 && le32(p + 2) == n)
        return ZHI_T_BMP;
    if (has(p, n, 0, "{\\rtf", 5))
        return ZHI_T_RTF;
    /* PDF readers accept the header anywhere in the first KiB. */
    if (memmem(p, n < 1024 ? n : 1024, "%PDF-", 5))
        return ZHI_T_PDF;
    if (!looks_text(p, n))
        return ZHI_T_DATA;
    if (has(p, n, 0, "#!", 2) || starts_ci(p, n, "@echo off") || starts_ci(p, n, "<job") ||
        starts_ci(p, n, "<package") || starts_ci(p, n, "<?xml version=\"1.0\"?>\r\n<package") ||
        starts_ci(p, n, "<hta:") || starts_ci(p, n, "on error resume next") ||
        starts_ci(p, n, "set wshshell"))
        return ZHI_T_SCRIPT;
    if (starts_ci(p, n, "<!doctype html") || starts_ci(p, n, "<html") || starts_ci(p, n, "<head") ||
        starts_ci(p, n, "<body"))
        return ZHI_T_HTML;
    return ZHI_T_TEXT;
}
