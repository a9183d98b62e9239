/* Fuzz target for the HTML smuggling decoder (extractors/smuggling.c): the
 * input is an attachment named Document.html, opened by whichever extractor
 * bids on it, and what it rebuilds is opened in turn (extract_harness.h). */
#include "extract_harness.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return zh_fuzz_extract(data, size, "Document.html", false);
}
