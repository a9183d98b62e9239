/* Fuzz target for the extract stage: the input is one attachment named
 * invoice.zip (or, when its first byte is odd, one text part) and every
 * extractor may bid on it (extract_harness.h). */
#include "extract_harness.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    return zh_fuzz_extract(data + 1, size - 1, "invoice.zip", data[0] & 1);
}
