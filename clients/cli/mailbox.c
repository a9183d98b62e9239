/* mbox splitting, >From unquoting, Message-ID lookup and Maildir recognition
 * for `zerohour scan` (see mailbox.h). */
#include "mailbox.h"

#include <ctype.h>
#include <errno.h>
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

bool mbx_from_line(const char *line, size_t len)
{
    if (len < 5 || memcmp(line, "From ", 5))
        return false;
    size_t i = 5;
    while (i < len && line[i] == ' ')
        i++;
    size_t tok = i;
    while (i < len && line[i] != ' ' && line[i] != '\n' && line[i] != '\r')
        i++;
    if (i == tok)
        return false; /* no sender token */
    /* The rest holds a time (d:dd) and a four-digit year. */
    bool time = false, year = false;
    for (; i < len && line[i] != '\n'; i++) {
        if (i + 2 < len && isdigit((unsigned char)line[i]) && line[i + 1] == ':' &&
            isdigit((unsigned char)line[i + 2]))
            time = true;
        if (i + 4 <= len && (i == 0 || !isdigit((unsigned char)line[i - 1])) &&
            isdigit((unsigned char)line[i]) && isdigit((unsigned char)line[i + 1]) &&
            isdigit((unsigned char)line[i + 2]) && isdigit((unsigned char)line[i + 3]) &&
            (i + 4 == len || !isdigit((unsigned char)line[i + 4])) &&
            (line[i] == '1' || line[i] == '2'))
            year = true;
    }
    return time && year;
}

void mbx_reader_init(struct mbx_reader *r, FILE *f)
{
    memset(r, 0, sizeof *r);
    r->f = f;
    r->start = -1;
    r->blank_at = -1;
}

void mbx_reader_free(struct mbx_reader *r)
{
    free(r->line);
    r->line = NULL;
}

static bool blank(const char *s, size_t n)
{
    return (n == 1 && s[0] == '\n') || (n == 2 && s[0] == '\r' && s[1] == '\n');
}

int mbx_reader_next(struct mbx_reader *r, off_t *start, size_t *len)
{
    for (;;) {
        off_t at = r->off;
        errno = 0;
        ssize_t n = getline(&r->line, &r->cap, r->f);
        if (n < 0) {
            if (ferror(r->f))
                return -1;
            if (r->start < 0)
                return 0;
            /* The last message runs to the end (less a final blank line). */
            off_t end = r->blank_at >= 0 ? r->blank_at : at;
            *start = r->start;
            *len = (size_t)(end - r->start);
            r->start = -1;
            r->n++;
            return 1;
        }
        r->off += n;
        /* A separator starts a message at the file's start or after a
         * blank line (writers put one there); a From_ line elsewhere is
         * body text that a careless writer did not quote. */
        bool sep = (at == 0 || r->blank_at >= 0) && mbx_from_line(r->line, (size_t)n);
        if (!sep) {
            r->blank_at = blank(r->line, (size_t)n) ? at : -1;
            continue;
        }
        off_t prev = r->start;
        off_t end = r->blank_at >= 0 ? r->blank_at : at;
        r->start = r->off;
        r->blank_at = -1;
        if (prev >= 0) {
            *start = prev;
            *len = (size_t)(end - prev);
            r->n++;
            return 1;
        }
    }
}

size_t mbx_unquote(uint8_t *buf, size_t len)
{
    size_t r = 0, w = 0;
    bool bol = true;
    while (r < len) {
        if (bol && buf[r] == '>') {
            size_t k = r;
            while (k < len && buf[k] == '>')
                k++;
            if (len - k >= 5 && !memcmp(buf + k, "From ", 5))
                r++; /* drop one '>' */
        }
        bol = buf[r] == '\n';
        buf[w++] = buf[r++];
    }
    return w;
}

bool mbx_message_id(const uint8_t *msg, size_t len, char *out, size_t n)
{
    size_t i = 0;
    if (!n)
        return false;
    while (i < len) {
        size_t eol = i;
        while (eol < len && msg[eol] != '\n')
            eol++;
        size_t ll = eol - i;
        if (ll == 0 || (ll == 1 && msg[i] == '\r'))
            return false; /* end of the headers */
        if (ll >= 11 && !strncasecmp((const char *)msg + i, "Message-ID:", 11)) {
            size_t o = 0;
            /* The value, with continuation lines joined. */
            for (size_t k = i + 11; k < len && o + 1 < n; k++) {
                char c = (char)msg[k];
                if (c == '\n') {
                    if (k + 1 < len && (msg[k + 1] == ' ' || msg[k + 1] == '\t'))
                        continue;
                    break;
                }
                if (c == '\r' || ((c == ' ' || c == '\t') && o == 0))
                    continue;
                if ((unsigned char)c < 0x20)
                    c = ' ';
                out[o++] = c;
            }
            while (o && (out[o - 1] == ' ' || out[o - 1] == '\t'))
                o--;
            out[o] = 0;
            return o > 0;
        }
        i = eol + 1;
    }
    return false;
}

bool mbx_is_maildir(const char *dir)
{
    static const char *const subs[] = {"cur", "new", "tmp"};
    char p[4096];
    struct stat st;
    for (size_t i = 0; i < 3; i++) {
        if (snprintf(p, sizeof p, "%s/%s", dir, subs[i]) >= (int)sizeof p || stat(p, &st) != 0 ||
            !S_ISDIR(st.st_mode))
            return false;
    }
    return true;
}

bool mbx_store_file(const char *name)
{
    static const char *const globs[] = {
        "dovecot*",      /* dovecot.index, .index.cache, .index.log*, -uidlist, -keywords... */
        "subscriptions", /* IMAP folder subscriptions */
        "maildirfolder", /* Maildir++ marker */
        "maildirsize",   /* Maildir++ quota */
        "courierimap*",  /* Courier's uid db, keywords, acls */
        ".uidvalidity",  /* Cyrus/others */
        ".customflags",  /* Courier */
        "*.lock",
    };
    for (size_t i = 0; i < sizeof globs / sizeof *globs; i++)
        if (fnmatch(globs[i], name, 0) == 0)
            return true;
    return false;
}
