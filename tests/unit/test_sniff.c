/* Type sniffing: each row is (bytes, expected type name). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "zhi.h"

struct row {
    const char *name;
    const char *bytes;
    size_t len;
    const char *want;
};

#define ROW(n, b, w)                                                                               \
    {                                                                                              \
        n, b, sizeof(b) - 1, w                                                                     \
    }

static void test_table(void **state)
{
    static uint8_t pe[512];
    memset(pe, 0, sizeof pe);
    memcpy(pe, "MZ", 2);
    pe[0x3c] = 0x80;
    memcpy(pe + 0x80, "PE\0\0", 4);
    static uint8_t pe_bad_offset[128];
    memcpy(pe_bad_offset, "MZ\x90\0\x03\0\0\0\x04\0", 10);
    pe_bad_offset[0x3c] = 0xff; /* points past the end: only a DOS header */
    static uint8_t tar[600];
    memset(tar, 0, sizeof tar);
    memcpy(tar, "file.txt", 8);
    memcpy(tar + 257, "ustar", 5);

    const struct row rows[] = {
        ROW("empty", "", "empty"),
        ROW("plain text", "Hello,\r\nsee you tomorrow.\r\n", "text"),
        ROW("html", "<!DOCTYPE html><html><body>hi</body></html>", "html"),
        ROW("html lower", "  <html><p>x</p></html>", "html"),
        ROW("elf",
            "\x7f"
            "ELF\x02\x01\x01\0\0\0",
            "elf"),
        ROW("zip", "PK\x03\x04\x14\0\0\0", "zip"),
        ROW("empty zip", "PK\x05\x06\0\0\0\0", "zip"),
        ROW("rar", "Rar!\x1a\x07\x00\xcf", "rar"),
        ROW("7z", "7z\xbc\xaf\x27\x1c\0\x04", "7z"),
        ROW("gzip", "\x1f\x8b\x08\0\0\0\0\0", "gzip"),
        ROW("bzip2", "BZh91AY&SY", "bzip2"),
        ROW("cab", "MSCF\0\0\0\0\x10\0", "cab"),
        ROW("ole2", "\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1\0\0", "ole2"),
        ROW("pdf", "%PDF-1.4\n%\xe2\xe3\xcf\xd3\n", "pdf"),
        ROW("pdf after junk", "garbage line\n%PDF-1.7\n", "pdf"),
        ROW("rtf", "{\\rtf1\\ansi hello}", "rtf"),
        ROW("jpeg", "\xff\xd8\xff\xe0\0\x10JFIF", "jpeg"),
        ROW("png", "\x89PNG\r\n\x1a\n\0\0", "png"),
        ROW("gif", "GIF89a\x01\0\x01\0", "gif"),
        ROW("shebang", "#!/bin/sh\necho hi\n", "script"),
        ROW("batch", "@echo off\r\ndel x\r\n", "script"),
        ROW("wsf", "<job id=\"x\"><script language=\"VBScript\">", "script"),
        ROW("hta", "<HTA:APPLICATION ID=\"x\">", "script"),
        ROW("vbs", "On Error Resume Next\r\nSet x = 1\r\n", "script"),
        ROW("binary", "\x01\x02\x03\0\x05\x06", "data"),
        ROW("MZ words in text", "MZ is a postcode prefix? No.", "text"),
        ROW("dos header", "MZ\x90\0\x03\0\0\0\x04\0\0\0\xff\xff\0\0\xb8\0\0\0\0\0\0\0\x40\0\0\0",
            "mz"),
        ROW("newc cpio", "0707010000000100", "cpio"),
        ROW("binary cpio", "\xc7\x71\x01\0", "cpio"),
        ROW("chm", "ITSF\x03\0\0\0\x60\0\0\0", "chm"),
        ROW("szdd", "SZDD\x88\xf0\x27\x33\x41", "szdd"),
        ROW("kwaj", "KWAJ\x88\xf0\x27\xd1\0", "kwaj"),
        ROW("onenote", "\xe4\x52\x5c\x7b\x8c\xd8\xa7\x4d\xae\xb1\x53\x78\xd0\x29\x96\xd3\0",
            "onenote"),
        ROW("vhdx", "vhdxfile\0\0", "vhd"),
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        const char *got = zhi_type_name(zhi_sniff((const uint8_t *)rows[i].bytes, rows[i].len));
        if (strcmp(got, rows[i].want))
            fail_msg("%s: sniffed %s, want %s", rows[i].name, got, rows[i].want);
    }
    assert_string_equal(zhi_type_name(zhi_sniff(pe, sizeof pe)), "pe");
    assert_string_equal(zhi_type_name(zhi_sniff(pe_bad_offset, sizeof pe_bad_offset)), "mz");
    assert_string_equal(zhi_type_name(zhi_sniff(tar, sizeof tar)), "tar");
    /* UPack and MEW put the PE header inside the DOS header (e_lfanew 0x10). */
    static uint8_t upack[512];
    memcpy(upack, "MZ", 2);
    upack[0x3c] = 0x10;
    memcpy(upack + 0x10, "PE\0\0", 4);
    assert_string_equal(zhi_type_name(zhi_sniff(upack, sizeof upack)), "pe");
    /* Images are known by what sits far from their first byte. */
    static uint8_t iso[0x8800], vhd[4096], fat[1024];
    memcpy(iso + 0x8001, "CD001", 5);
    assert_string_equal(zhi_type_name(zhi_sniff(iso, sizeof iso)), "iso");
    memcpy(vhd + sizeof vhd - 512, "conectix", 8);
    assert_string_equal(zhi_type_name(zhi_sniff(vhd, sizeof vhd)), "vhd");
    memcpy(fat, "\xeb\x3c\x90MSDOS5.0\x00\x02\x04\x01\x00\x02", 17);
    fat[510] = 0x55, fat[511] = 0xaa;
    assert_string_equal(zhi_type_name(zhi_sniff(fat, sizeof fat)), "fat");
    fat[13] = 3; /* sectors per cluster must be a power of two */
    assert_string_equal(zhi_type_name(zhi_sniff(fat, sizeof fat)), "data");
    /* A partitioned disk: boot code, one partition entry in use (start and
     * length), the signature. A boot flag other than 0 or 0x80 is not one. */
    static uint8_t mbr[1024];
    memcpy(mbr, "\x33\xc0\x8e\xd0", 4);
    memcpy(mbr + 446, "\x80\0\0\0\x06\0\0\0\x00\x08\0\0\x00\x20\0\0", 16);
    mbr[510] = 0x55, mbr[511] = 0xaa;
    assert_string_equal(zhi_type_name(zhi_sniff(mbr, sizeof mbr)), "fat");
    mbr[446] = 0x12;
    assert_string_equal(zhi_type_name(zhi_sniff(mbr, sizeof mbr)), "data");
    mbr[446] = 0x80;
    memset(mbr + 446 + 12, 0, 4); /* no length */
    assert_string_equal(zhi_type_name(zhi_sniff(mbr, sizeof mbr)), "data");
}

static void test_classes(void **state)
{
    assert_true(zhi_type_is_executable(ZHI_T_PE));
    assert_true(zhi_type_is_executable(ZHI_T_SCRIPT));
    assert_false(zhi_type_is_executable(ZHI_T_PDF));
    assert_true(zhi_type_is_archive(ZHI_T_ZIP));
    assert_true(zhi_type_is_archive(ZHI_T_CAB));
    assert_false(zhi_type_is_archive(ZHI_T_OLE2));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_classes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
