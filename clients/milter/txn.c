/* The milter's transaction: reassembling what libmilter hands over piece by
 * piece (envelope, headers, body chunks) into the message the engine scans,
 * within a byte cap, and the text helpers for what goes back to the MTA. The
 * libmilter glue and the decision live in zerohour-milter.c. */
#include "txn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Postfix sends body chunks of up to 64 KiB; start the buffer there. */
#define INITIAL_BUFFER (64 * 1024)

const char *const zhm_our_headers[ZHM_N_OUR_HEADERS] = {"X-Zerohour-Verdict", "X-Zerohour-Score",
                                                        "X-Zerohour-Hits"};

void zhm_txn_reset(struct zhm_txn *t)
{
    free(t->mail_from);
    t->mail_from = NULL;
    for (size_t i = 0; i < t->n_rcpt; i++)
        free(t->rcpt[i]);
    t->n_rcpt = 0;
    t->len = 0;
    t->total_bytes = 0;
    t->oversize = false;
    memset(t->seen_ours, 0, sizeof t->seen_ours);
}

void zhm_txn_free(struct zhm_txn *t)
{
    zhm_txn_reset(t);
    free(t->rcpt);
    free(t->buf);
    t->rcpt = NULL;
    t->buf = NULL;
    t->cap_rcpt = t->cap = 0;
}

/* Append to the buffer within max_bytes; past the cap only total_bytes grows. */
static void append(struct zhm_txn *t, const void *data, size_t n)
{
    t->total_bytes += n;
    /* n == 0 before the first byte: buf is still NULL, and memcpy to NULL is
     * undefined even for no bytes (fuzz_milter found it; corpus/milter keeps it) */
    if (n == 0 || t->oversize || t->alloc_failed)
        return;
    if (n > t->max_bytes - t->len) {
        t->oversize = true;
        return;
    }
    if (t->len + n > t->cap) {
        size_t ncap = t->cap ? t->cap : INITIAL_BUFFER;
        while (ncap < t->len + n)
            ncap *= 2;
        if (ncap > t->max_bytes)
            ncap = (size_t)t->max_bytes;
        uint8_t *nb = realloc(t->buf, ncap);
        if (!nb) {
            t->alloc_failed = true;
            return;
        }
        t->buf = nb;
        t->cap = ncap;
    }
    memcpy(t->buf + t->len, data, n);
    t->len += n;
}

/* Append s, turning a bare LF (as Postfix passes folded header lines) into CRLF. */
static void append_crlf(struct zhm_txn *t, const char *s)
{
    const char *p = s;
    for (const char *lf; (lf = strchr(p, '\n'));) {
        size_t n = (size_t)(lf - p);
        if (n && lf[-1] == '\r')
            n--;
        append(t, p, n);
        append(t, "\r\n", 2);
        p = lf + 1;
    }
    append(t, p, strlen(p));
}

/* "<a@b>" -> "a@b" (a copy; NULL when out of memory). */
static char *strip_brackets(const char *addr)
{
    size_t n = strlen(addr);
    if (n >= 2 && addr[0] == '<' && addr[n - 1] == '>')
        return strndup(addr + 1, n - 2);
    return strdup(addr);
}

void zhm_txn_mail_from(struct zhm_txn *t, const char *arg)
{
    free(t->mail_from);
    if (!(t->mail_from = strip_brackets(arg ? arg : "")))
        t->alloc_failed = true;
}

void zhm_txn_rcpt(struct zhm_txn *t, const char *arg)
{
    if (t->n_rcpt == t->cap_rcpt) {
        size_t ncap = t->cap_rcpt ? t->cap_rcpt * 2 : 8;
        char **nr = realloc(t->rcpt, ncap * sizeof *nr);
        if (!nr) {
            t->alloc_failed = true;
            return;
        }
        t->rcpt = nr;
        t->cap_rcpt = ncap;
    }
    if (!(t->rcpt[t->n_rcpt] = strip_brackets(arg ? arg : "")))
        t->alloc_failed = true;
    else
        t->n_rcpt++;
}

void zhm_txn_header(struct zhm_txn *t, const char *name, const char *value)
{
    for (size_t i = 0; i < ZHM_N_OUR_HEADERS; i++)
        if (!strcasecmp(name, zhm_our_headers[i]))
            t->seen_ours[i]++;
    append(t, name, strlen(name));
    /* With SMFIP_HDR_LEADSPC the value is exactly what followed the colon. */
    append(t, t->leadspc ? ":" : ": ", t->leadspc ? 1 : 2);
    append_crlf(t, value ? value : "");
    append(t, "\r\n", 2);
}

void zhm_txn_end_of_headers(struct zhm_txn *t)
{
    append(t, "\r\n", 2);
}

void zhm_txn_body(struct zhm_txn *t, const void *chunk, size_t n)
{
    append(t, chunk, n);
}

int64_t zhm_esmtp_size(char *const *argv)
{
    for (int i = 1; argv && argv[0] && argv[i]; i++) {
        if (strncasecmp(argv[i], "SIZE=", 5))
            continue;
        const char *p = argv[i] + 5;
        if (*p < '0' || *p > '9')
            return -1;
        int64_t v = 0;
        for (; *p >= '0' && *p <= '9'; p++)
            v = v > (INT64_MAX - 9) / 10 ? INT64_MAX : v * 10 + (*p - '0');
        return v;
    }
    return -1;
}

void zhm_sanitize(char *s)
{
    char *w = s;
    for (const char *r = s; *r; r++)
        if (*r >= 0x20 && *r < 0x7f && *r != '%')
            *w++ = *r;
    *w = 0;
}

const char *zhm_detection_name(const struct zh_scan_result *r)
{
    const struct zh_hit *best = NULL, *best_family = NULL;
    for (size_t i = 0; i < r->n_hits; i++) {
        const struct zh_hit *h = &r->hits[i];
        if (!best || h->score > best->score)
            best = h;
        if (*h->family && (!best_family || h->score > best_family->score))
            best_family = h;
    }
    if (best_family)
        return best_family->family;
    if (best)
        return *best->rule ? best->rule : best->detector;
    return "unnamed";
}

void zhm_hits_list(const struct zh_scan_result *r, char *out, size_t n)
{
    size_t len = 0;
    out[0] = 0;
    for (size_t i = 0; r && i < r->n_hits; i++) {
        const struct zh_hit *h = &r->hits[i];
        bool dup = false;
        for (size_t j = 0; j < i && !dup; j++)
            dup = !strcmp(h->rule, r->hits[j].rule) && !strcmp(h->detector, r->hits[j].detector);
        if (dup)
            continue;
        int w = snprintf(out + len, n - len, "%s%s%s%s", len ? ", " : "", h->detector,
                         *h->rule ? "/" : "", h->rule);
        if (w < 0 || (size_t)w >= n - len) {
            /* cut at the last complete name and say so */
            out[len] = 0;
            if (len + 5 < n)
                memcpy(out + len, len ? ", ..." : "...", len ? 6 : 4);
            break;
        }
        len += (size_t)w;
    }
    zhm_sanitize(out);
}
