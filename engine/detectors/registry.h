/* The detector list, in the order they run. Adding a detector = one file in
 * this directory + one line below (+ the file in engine/CMakeLists.txt).
 *
 * The order is a decision: yara first (the others read its hits, and its
 * per-object work is the scan's largest); the name and content heuristics
 * next (shortcut, html_smuggling, pdf_action, script, container and macro read
 * only the objects and the notes and text the extractors left on them, so their
 * place among these is free); lure_text
 * after yara, because it judges the hits of YARA rules tagged lure_text;
 * outbreak last, because its fingerprint uses the other detectors' hits and
 * its flag depends on the score they add up to. */
#ifndef ZHI_DETECTORS_REGISTRY_H
#define ZHI_DETECTORS_REGISTRY_H

#define ZHI_DETECTORS(X)                                                                           \
    X(yara)                                                                                        \
    X(double_extension)                                                                            \
    X(executable)                                                                                  \
    X(archive_executable)                                                                          \
    X(shortcut)                                                                                    \
    X(html_smuggling)                                                                              \
    X(pdf_action)                                                                                  \
    X(script)                                                                                      \
    X(container)                                                                                   \
    X(macro)                                                                                       \
    X(sender)                                                                                      \
    X(lure_text)                                                                                   \
    X(outbreak)

#endif
