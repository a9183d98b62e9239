/* Fuzz target for what the milter does with input it does not control: the
 * reassembly of a transaction from libmilter callbacks (envelope arguments,
 * header names and values, body chunks) under a small byte cap, the SIZE=
 * parameter, and the header values and reply texts built from an engine
 * reply. The input is read as a script of callbacks; invariants abort.
 * Built as a libFuzzer target with -DZH_FUZZ=ON (clang), and always as a
 * regression driver that replays corpus/milter/ under the sanitizers. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "txn.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The next field of the script: a length byte, then that many bytes, as a
 * NUL-terminated copy (NULs inside end it early, as C strings from libmilter do). */
static char *field(const uint8_t **p, const uint8_t *end, size_t *n)
{
    size_t want = *p < end ? *(*p)++ : 0;
    if (want > (size_t)(end - *p))
        want = (size_t)(end - *p);
    char *s = malloc(want + 1);
    if (!s)
        abort();
    memcpy(s, *p, want);
    s[want] = 0;
    *p += want;
    *n = want;
    return s;
}

static void check_text(const char *s, size_t cap)
{
    size_t n = strlen(s);
    if (n >= cap)
        abort();
    for (size_t i = 0; i < n; i++)
        if (s[i] < 0x20 || s[i] > 0x7e || s[i] == '%')
            abort(); /* would break a header line or smfi_setreply */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *p = data, *end = data + size;
    if (size < 1)
        return 0;
    struct zhm_txn t = {.max_bytes = 64 + (uint64_t)(*p & 0x3f) * 64, .leadspc = *p & 0x40};
    p++;
    struct zh_hit hits[8];
    char *hit_text[8][3] = {{0}};
    size_t n_hits = 0;
    while (p < end) {
        uint8_t op = *p++ % 8;
        size_t n, before = t.len;
        bool was_full = t.oversize;
        char *s = field(&p, end, &n);
        switch (op) {
        case 0:
            zhm_txn_mail_from(&t, s);
            if (!t.mail_from || strlen(t.mail_from) > strlen(s))
                abort();
            break;
        case 1:
            zhm_txn_rcpt(&t, s);
            break;
        case 2: {
            /* "name:value"; the MTA never passes CR or LF in a name */
            char *colon = strchr(s, ':');
            const char *value = colon ? colon + 1 : "";
            if (colon)
                *colon = 0;
            if (strpbrk(s, "\r\n"))
                break;
            zhm_txn_header(&t, s, value);
            if (!t.oversize && !was_full) {
                /* the header's lines end in CRLF, and every LF has its CR */
                if (t.len < before + 2 || memcmp(t.buf + t.len - 2, "\r\n", 2))
                    abort();
                for (size_t i = before; i < t.len; i++)
                    if (t.buf[i] == '\n' && (i == before || t.buf[i - 1] != '\r'))
                        abort();
            }
            break;
        }
        case 3:
            zhm_txn_end_of_headers(&t);
            break;
        case 4:
            zhm_txn_body(&t, s, n);
            break;
        case 5:
            zhm_txn_reset(&t);
            if (t.len || t.n_rcpt || t.mail_from || t.oversize)
                abort();
            break;
        case 6: {
            /* MAIL FROM arguments: the field split on spaces */
            char *argv[9] = {0};
            int argc = 0;
            for (char *tok = strtok(s, " "); tok && argc < 8; tok = strtok(NULL, " "))
                argv[argc++] = tok;
            int64_t sz = zhm_esmtp_size(argv);
            if (sz < -1)
                abort();
            break;
        }
        case 7:
            /* a hit of a reply: detector, rule and family from the field */
            if (n_hits < 8) {
                size_t k = n_hits++;
                size_t third = n / 3;
                for (int j = 0; j < 3; j++)
                    if (!(hit_text[k][j] = strndup(s + (size_t)j * third, third)))
                        abort();
                hits[k] = (struct zh_hit){.detector = hit_text[k][0],
                                          .rule = hit_text[k][1],
                                          .family = hit_text[k][2],
                                          .object = (char *)"",
                                          .detail = (char *)"",
                                          .score = (int)n - 100};
            }
            break;
        }
        free(s);
        /* the buffer never passes the cap; every byte is counted, and all of
         * them kept until the cap is passed */
        if (t.len > t.max_bytes || t.len > t.cap || t.total_bytes < t.len)
            abort();
        if (!t.oversize && !t.alloc_failed && t.total_bytes != t.len)
            abort();
    }
    struct zh_scan_result r = {.hits = hits, .n_hits = n_hits, .verdict = ZH_VERDICT_MALICIOUS};
    char list[64], name[128];
    zhm_hits_list(&r, list, sizeof list);
    check_text(list, sizeof list);
    snprintf(name, sizeof name, "%s", zhm_detection_name(&r));
    zhm_sanitize(name);
    check_text(name, sizeof name);
    for (size_t k = 0; k < n_hits; k++)
        for (int j = 0; j < 3; j++)
            free(hit_text[k][j]);
    zhm_txn_free(&t);
    return 0;
}
