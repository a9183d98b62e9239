/* Fuzz target for the libmspack glue (extractors/mspack.c): the input is an
 * attachment named setup.ex_ — a CAB, CHM, SZDD or KWAJ file, as sniffed —
 * read through the in-memory mspack_system, and what it holds is opened in
 * turn (extract_harness.h). */
#include "extract_harness.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return zh_fuzz_extract(data, size, "setup.ex_", false);
}
