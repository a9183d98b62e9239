/* Fuzz target for the disk image reader (extractors/fat.c): the input is an
 * attachment named Shipping_Documents.img — a FAT volume, an MBR or GPT disk
 * or a VHD, as sniffed — and what it holds is opened in turn
 * (extract_harness.h). */
#include "extract_harness.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return zh_fuzz_extract(data, size, "Shipping_Documents.img", false);
}
