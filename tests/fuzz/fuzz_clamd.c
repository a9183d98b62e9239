/* Fuzz target for zerohour-clamd's protocol parser: whatever a caller sends
 * (commands in any framing, INSTREAM chunks with any lengths), fed in pieces
 * whose size the first input byte picks. Invariants abort: every call
 * consumes at most what it was given and makes progress, data stays inside
 * the caller's buffer, a stream never passes its maximum, command strings
 * are bounded C strings. The detection-name sanitiser runs on the input too.
 * Built as a libFuzzer target with -DZH_FUZZ=ON (clang), and always as a
 * regression driver that replays corpus/clamd/ under the sanitizers. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "protocol.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    size_t step = (size_t)data[0] + 1;
    uint64_t max = (uint64_t)(data[1] % 64 + 1) * 16; /* small, so the limit is reached */
    data += 2;
    size -= 2;
    struct zcl_parser p;
    zcl_parser_init(&p, max);
    for (size_t at = 0; at < size;) {
        size_t piece = size - at < step ? size - at : step;
        size_t off = 0;
        while (off < piece) {
            struct zcl_event ev;
            size_t used = zcl_parser_feed(&p, data + at + off, piece - off, &ev);
            if (used > piece - off)
                abort();
            if (ev.type == ZCL_EV_ERROR)
                goto done;
            if (ev.type == ZCL_EV_NONE && used != piece - off)
                abort();
            if (used == 0)
                abort(); /* no event without progress, except errors */
            if (ev.type == ZCL_EV_DATA &&
                (ev.data < data + at + off || ev.data + ev.len > data + at + off + used))
                abort();
            if (zcl_parser_stream_len(&p) > max)
                abort();
            if (ev.type == ZCL_EV_COMMAND &&
                (strlen(ev.name) > ZCL_LINE_MAX || strlen(ev.arg) > ZCL_LINE_MAX))
                abort();
            off += used;
        }
        at += piece;
    }
done:;
    char name[64], what[128];
    size_t n = size < sizeof what - 1 ? size : sizeof what - 1;
    memcpy(what, data, n);
    what[n] = 0;
    zcl_detection_name(name, sizeof name, what);
    for (const char *c = name; *c; c++)
        if (*c == ' ' || *c == '\n' || (unsigned char)*c < 0x20)
            abort();
    return 0;
}
