/* The extractor list. Adding a container or encoding format = one file in
 * this directory + one line below (+ the file in engine/CMakeLists.txt).
 *
 * Every extractor bids on every object (see struct zh_extractor in zhi.h);
 * the highest bid wins and a tie goes to the one listed first. So the list is
 * ordered by the cost of bidding, cheapest first, and by how sure a bid is:
 * - compressed: the sniffed type alone (gzip, bzip2, xz), set once by sniff.c
 *   — a comparison, no bytes read. It outbids archive for those types: a
 *   single stream's output is its member, not an archive to guess at.
 * - archive: the sniffed type alone (zip, rar, 7z, tar, cpio, ISO 9660, arj,
 *   lha).
 * - mspack: the sniffed type alone (CAB, CHM, SZDD, KWAJ). It outbids archive
 *   for CAB: libmspack also decodes Quantum folders, which libarchive refuses.
 * - fat: the sniffed type alone (a FAT volume or partitioned disk, a VHD).
 * - lnk, pdf, onenote, ole, rtf: the sniffed type alone, each a type no other
 *   bids on.
 * - smuggling: HTML by sniffed type, or HTML/SVG by extension or declared
 *   type when the content sniffed as text (an SVG opens with "<svg"), and only
 *   for attachments and members (mail bodies run no script): a few string
 *   comparisons, still no bytes read.
 * - uuencode: text parts only, but it must look for a "begin NNN name" line
 *   anywhere in the text (old mailers put it after a greeting), so it reads
 *   the part: last. */
#ifndef ZHI_EXTRACTORS_REGISTRY_H
#define ZHI_EXTRACTORS_REGISTRY_H

#define ZHI_EXTRACTORS(X)                                                                          \
    X(compressed)                                                                                  \
    X(archive)                                                                                     \
    X(mspack)                                                                                      \
    X(fat)                                                                                         \
    X(lnk)                                                                                         \
    X(pdf)                                                                                         \
    X(onenote)                                                                                     \
    X(ole)                                                                                         \
    X(rtf)                                                                                         \
    X(smuggling)                                                                                   \
    X(uuencode)

#endif
