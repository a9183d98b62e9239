/* mailbox.h — mail stores as `zerohour scan` meets them: mbox files (one
 * message after each "From " separator line, with >From quoting) and
 * Maildirs (cur/ new/ tmp/, plus the mail servers' own index files). Reads
 * untrusted files: every line and message is bounded by what was read, and
 * the splitter keeps only one line in memory. No engine, no output. */
#ifndef ZH_CLI_MAILBOX_H
#define ZH_CLI_MAILBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

/* Whether line (len bytes, its newline included or not) is an mbox "From "
 * separator: "From " then a sender token, then a date with a year and a
 * time ("From alice@example.com Mon Jan 26 10:00:00 2004"). Body text that
 * starts with "From " ("From the desk of...") is not one. */
bool mbx_from_line(const char *line, size_t len);

/* Splits an mbox read from f (positioned at its start) into messages. */
struct mbx_reader {
    FILE *f;
    char *line;
    size_t cap;
    off_t off;       /* of the next line to read */
    off_t start;     /* of the current message (after its From_ line); -1 before the first */
    off_t blank_at;  /* start of the last line when it was blank, else -1 */
    unsigned long n; /* messages returned so far */
};
void mbx_reader_init(struct mbx_reader *r, FILE *f);
void mbx_reader_free(struct mbx_reader *r);
/* The next message: its bytes are [*start, *start + *len) of the file, the
 * From_ line left out and the blank line the format puts before the next
 * separator dropped. 1 when one is given, 0 at the end, -1 on a read error
 * (errno). Text before the first separator is not a message and is skipped. */
int mbx_reader_next(struct mbx_reader *r, off_t *start, size_t *len);

/* Undo mboxrd quoting in place: a line ">From ", ">>From "... loses one '>'.
 * (Files written as mboxo quote only "From " and never unquote ">From "
 * themselves; mboxrd's rule reads both without loss of anything but an
 * mboxo body line that really began with ">From ".) Returns the new length. */
size_t mbx_unquote(uint8_t *buf, size_t len);

/* The Message-ID header of a message (folded lines joined, angle brackets
 * kept), into out; false when there is none. Reads headers only. */
bool mbx_message_id(const uint8_t *msg, size_t len, char *out, size_t n);

/* dir holds cur/, new/ and tmp/ directories. */
bool mbx_is_maildir(const char *dir);
/* A file the mail server keeps in a Maildir (Dovecot's indexes and uid lists,
 * Courier's and others' folder files): not mail, skipped. */
bool mbx_store_file(const char *name);

#endif
