/* Fuzz target for macro documents (extractors/ole.c with libgsf, the MS-OVBA
 * decompressor and VBA directory reader, Ole10Native payloads, and
 * extractors/rtf.c): the input is an attachment named Invoice.doc, opened by
 * whichever extractor bids on it (an OLE2 file, an RTF, a .docm's zip), and
 * what it extracts is opened in turn (extract_harness.h). */
#include "extract_harness.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return zh_fuzz_extract(data, size, "Invoice.doc", false);
}
