/* txn.h — one SMTP transaction as the milter collects it: envelope, header
 * block and body reassembled into the RFC 5322 message the engine scans, up
 * to a byte cap; and the text helpers that turn engine results into header
 * values and reply texts. No libmilter here, so the fuzz target links it.
 *
 * Threads: a zhm_txn belongs to one SMTP session's thread. Allocation
 * failures never abort: they set alloc_failed, which the caller answers with
 * a tempfail at end of message. */
#ifndef ZHM_TXN_H
#define ZHM_TXN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zerohour/client.h"

/* The headers the milter writes; copies arriving with a message are counted
 * so they can be removed (a sender cannot pre-label its own mail). */
extern const char *const zhm_our_headers[];
#define ZHM_N_OUR_HEADERS 3

struct zhm_txn {
    /* set by the owner, kept across resets */
    uint64_t max_bytes; /* the engine's max_message_bytes: the buffer's cap */
    bool leadspc;       /* header values arrive with their leading space */
    bool alloc_failed;  /* cleared by the owner after answering it */
    /* the transaction; zhm_txn_reset empties it and keeps buffer capacity */
    char *mail_from; /* without angle brackets; "" for <> */
    char **rcpt;
    size_t n_rcpt, cap_rcpt;
    uint8_t *buf; /* "Name: value\r\n"..., blank line, body */
    size_t len, cap;
    uint64_t total_bytes; /* every byte of the message, also those past the cap */
    bool oversize;        /* total_bytes passed max_bytes: buf is incomplete */
    unsigned seen_ours[ZHM_N_OUR_HEADERS];
};

void zhm_txn_reset(struct zhm_txn *t);
void zhm_txn_free(struct zhm_txn *t); /* reset, then release the buffers */

/* Envelope: arg is the address as the MTA passes it ("<a@b>" or "a@b"). */
void zhm_txn_mail_from(struct zhm_txn *t, const char *arg);
void zhm_txn_rcpt(struct zhm_txn *t, const char *arg);
/* One header; value's line breaks (LF or CRLF, as MTAs pass folded lines)
 * become CRLF. name must hold no CR or LF (the MTA parsed it). */
void zhm_txn_header(struct zhm_txn *t, const char *name, const char *value);
void zhm_txn_end_of_headers(struct zhm_txn *t);
void zhm_txn_body(struct zhm_txn *t, const void *chunk, size_t n);

/* The SIZE= an ESMTP MAIL FROM announces (argv as libmilter passes it,
 * argv[0] the address, NULL-terminated); -1 when none is given. */
int64_t zhm_esmtp_size(char *const *argv);

/* Keep only printable ASCII without '%', in place (smfi_setreply treats '%'
 * as a format character and fails on CR/LF; header values must not break). */
void zhm_sanitize(char *s);
/* The name a reply gives a detection: the family of the best-scoring hit
 * that has one, else its rule, else its detector. Borrowed from r. */
const char *zhm_detection_name(const struct zh_scan_result *r);
/* "detector/rule, ..." of r's hits, each once, cut at a whole name with
 * "..." to fit n bytes, sanitized; "" for none. n must be at least 8. */
void zhm_hits_list(const struct zh_scan_result *r, char *out, size_t n);

#endif
