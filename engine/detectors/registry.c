/* The detector table: every detector is listed here once, in the order they
 * run. Adding a detector = one file in this directory + one line below. */
#include "../src/zhi.h"

/* lure_text runs after yara: it judges the hits of YARA rules tagged lure_text.
 * outbreak runs last: its fingerprint uses the other detectors' hits. */
#define ZH_DETECTORS(X)                                                                            \
    X(yara)                                                                                        \
    X(double_extension)                                                                            \
    X(executable)                                                                                  \
    X(archive_executable)                                                                          \
    X(sender)                                                                                      \
    X(lure_text)                                                                                   \
    X(outbreak)

#define DECLARE(name) extern const struct zh_detector zh_detector_##name;
ZH_DETECTORS(DECLARE)
#undef DECLARE

#define ENTRY(name) &zh_detector_##name,
const struct zh_detector *const zhi_detectors[] = {ZH_DETECTORS(ENTRY)};
#undef ENTRY

const size_t zhi_n_detectors = sizeof zhi_detectors / sizeof zhi_detectors[0];
