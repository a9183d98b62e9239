/* The detector table, built from the list in registry.h. */
#include "../src/zhi.h"

#define DECLARE(name) extern const struct zh_detector zh_detector_##name;
ZHI_DETECTORS(DECLARE)
#undef DECLARE

#define ENTRY(name) &zh_detector_##name,
const struct zh_detector *const zhi_detectors[ZHI_N_DETECTORS] = {ZHI_DETECTORS(ENTRY)};
#undef ENTRY
