/* Fuzz target for the OneNote reader (extractors/onenote.c): the input is an
 * attachment named Remittance.one, opened by whichever extractor bids on it,
 * and what it extracts is opened in turn (extract_harness.h). */
#include "extract_harness.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return zh_fuzz_extract(data, size, "Remittance.one", false);
}
