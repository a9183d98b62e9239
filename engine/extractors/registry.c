/* The extractor table, built from the list in registry.h. */
#include "../src/zhi.h"

#define DECLARE(name) extern const struct zh_extractor zh_extractor_##name;
ZHI_EXTRACTORS(DECLARE)
#undef DECLARE

#define ENTRY(name) &zh_extractor_##name,
const struct zh_extractor *const zhi_extractors[ZHI_N_EXTRACTORS] = {ZHI_EXTRACTORS(ENTRY)};
#undef ENTRY
