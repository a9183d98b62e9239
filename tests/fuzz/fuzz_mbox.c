/* Fuzz target for the CLI's mbox reading: the splitter over any bytes (as
 * a file), mboxrd unquoting and the Message-ID lookup on every message it
 * finds. Invariants abort: messages lie inside the input and follow one
 * another, unquoting never grows a message, an ID is a bounded C string.
 * Built as a libFuzzer target with -DZH_FUZZ=ON (clang), and always as a
 * regression driver that replays corpus/mbox/ under the sanitizers. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mailbox.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!size)
        return 0;
    FILE *f = fmemopen((void *)data, size, "r");
    if (!f)
        return 0;
    struct mbx_reader r;
    off_t start, last_end = 0;
    size_t len;
    mbx_reader_init(&r, f);
    while (mbx_reader_next(&r, &start, &len) == 1) {
        if (start < last_end || (uint64_t)start + len > size)
            abort();
        last_end = start + (off_t)len;
        uint8_t *m = malloc(len ? len : 1);
        if (!m)
            abort();
        memcpy(m, data + start, len);
        size_t n = mbx_unquote(m, len);
        if (n > len)
            abort();
        char id[64];
        if (mbx_message_id(m, n, id, sizeof id) && strlen(id) >= sizeof id)
            abort();
        free(m);
    }
    mbx_reader_free(&r);
    fclose(f);
    (void)mbx_from_line((const char *)data, size);
    return 0;
}
