/* Fuzz target for the Windows shortcut reader (extractors/lnk.c): the input
 * is an attachment named Invoice.lnk, opened by whichever extractor bids on
 * it, as in a scan (extract_harness.h). */
#include "extract_harness.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return zh_fuzz_extract(data, size, "Invoice.lnk", false);
}
