/* The clamd protocol parser (see protocol.h): a byte-at-a-time state machine
 * for command lines and a bulk path for chunk data, so a client's stream is
 * handed on without copying. It knows nothing of sessions or verdicts. */
#include "protocol.h"

#include <stdio.h>
#include <string.h>

enum { S_START, S_LINE, S_CHUNK_LEN, S_CHUNK_DATA, S_ERROR };

static const struct {
    const char *name;
    enum zcl_cmd cmd;
} names[] = {
    {"PING", ZCL_CMD_PING},
    {"VERSION", ZCL_CMD_VERSION},
    {"VERSIONCOMMANDS", ZCL_CMD_VERSIONCOMMANDS},
    {"INSTREAM", ZCL_CMD_INSTREAM},
    {"IDSESSION", ZCL_CMD_IDSESSION},
    {"END", ZCL_CMD_END},
    {"STATS", ZCL_CMD_STATS},
    {"SCAN", ZCL_CMD_SCAN},
    {"CONTSCAN", ZCL_CMD_CONTSCAN},
    {"MULTISCAN", ZCL_CMD_MULTISCAN},
    {"ALLMATCHSCAN", ZCL_CMD_ALLMATCHSCAN},
    {"RELOAD", ZCL_CMD_RELOAD},
    {"SHUTDOWN", ZCL_CMD_SHUTDOWN},
    {"FILDES", ZCL_CMD_FILDES},
    {"DETSTATS", ZCL_CMD_DETSTATS},
    {"DETSTATSCLEAR", ZCL_CMD_DETSTATSCLEAR},
    {"STREAM", ZCL_CMD_STREAM},
    {"QUIT", ZCL_CMD_QUIT},
};

enum zcl_cmd zcl_cmd_from_name(const char *name)
{
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if (!strcmp(names[i].name, name))
            return names[i].cmd;
    return ZCL_CMD_UNKNOWN;
}

const char *zcl_error_text(enum zcl_error e)
{
    switch (e) {
    case ZCL_E_NONE:
        return "no error";
    case ZCL_E_LINE_TOO_LONG:
        return "Command too long";
    case ZCL_E_STREAM_TOO_LONG:
        return "INSTREAM size limit exceeded.";
    case ZCL_E_NUL_IN_LINE:
        return "NUL byte in a newline-terminated command";
    }
    return "?";
}

void zcl_parser_init(struct zcl_parser *p, uint64_t stream_max)
{
    memset(p, 0, sizeof *p);
    p->state = S_START;
    p->stream_max = stream_max;
}

uint64_t zcl_parser_stream_len(const struct zcl_parser *p)
{
    return p->stream_len;
}

int zcl_parser_in_stream(const struct zcl_parser *p)
{
    return p->state == S_CHUNK_LEN || p->state == S_CHUNK_DATA;
}

static void fail(struct zcl_parser *p, enum zcl_error e, struct zcl_event *ev)
{
    p->state = S_ERROR;
    p->err = e;
    ev->type = ZCL_EV_ERROR;
    ev->err = e;
}

/* The line is whole: split it and say which command it is. */
static void command(struct zcl_parser *p, struct zcl_event *ev)
{
    size_t n = p->line_len;
    if (p->framing != ZCL_NUL && n && p->line[n - 1] == '\r')
        n--; /* a client on a CRLF terminal */
    p->line[n] = '\0';
    char *sp = strchr(p->line, ' ');
    ev->arg = "";
    if (sp) {
        *sp = '\0';
        ev->arg = sp + 1;
    }
    ev->type = ZCL_EV_COMMAND;
    ev->name = p->line;
    ev->cmd = zcl_cmd_from_name(p->line);
    ev->framing = p->framing;
    p->line_len = 0;
    if (ev->cmd == ZCL_CMD_INSTREAM) {
        p->state = S_CHUNK_LEN;
        p->lenbuf_n = 0;
        p->stream_len = 0;
    } else {
        p->state = S_START;
    }
}

size_t zcl_parser_feed(struct zcl_parser *p, const uint8_t *buf, size_t len, struct zcl_event *ev)
{
    size_t i = 0;
    memset(ev, 0, sizeof *ev);
    if (p->state == S_ERROR) {
        ev->type = ZCL_EV_ERROR;
        ev->err = p->err;
        return 0;
    }
    while (i < len) {
        uint8_t c = buf[i];
        switch (p->state) {
        case S_START:
            /* The first byte names the framing; plain commands keep it. */
            p->line_len = 0;
            p->state = S_LINE;
            if (c == 'z' || c == 'n') {
                p->framing = c == 'z' ? ZCL_NUL : ZCL_NEWLINE;
                i++;
                continue;
            }
            p->framing = ZCL_PLAIN;
            continue;
        case S_LINE: {
            char term = zcl_terminator(p->framing);
            i++;
            if ((char)c == term) {
                command(p, ev);
                return i;
            }
            if (c == 0) {
                fail(p, ZCL_E_NUL_IN_LINE, ev);
                return i;
            }
            if (p->line_len >= ZCL_LINE_MAX) {
                fail(p, ZCL_E_LINE_TOO_LONG, ev);
                return i;
            }
            p->line[p->line_len++] = (char)c;
            continue;
        }
        case S_CHUNK_LEN:
            p->lenbuf[p->lenbuf_n++] = c;
            i++;
            if (p->lenbuf_n < 4)
                continue;
            p->lenbuf_n = 0;
            p->chunk_left = (uint32_t)p->lenbuf[0] << 24 | (uint32_t)p->lenbuf[1] << 16 |
                            (uint32_t)p->lenbuf[2] << 8 | p->lenbuf[3];
            if (p->chunk_left == 0) {
                p->state = S_START;
                ev->type = ZCL_EV_STREAM_END;
                ev->framing = p->framing;
                return i;
            }
            /* Refuse before taking a byte: a lying length must not make
             * the bridge wait for, or buffer, what it will not scan. */
            if (p->chunk_left > p->stream_max - p->stream_len) {
                fail(p, ZCL_E_STREAM_TOO_LONG, ev);
                return i;
            }
            p->state = S_CHUNK_DATA;
            continue;
        case S_CHUNK_DATA: {
            size_t take = len - i < p->chunk_left ? len - i : p->chunk_left;
            ev->type = ZCL_EV_DATA;
            ev->data = buf + i;
            ev->len = take;
            ev->framing = p->framing;
            p->chunk_left -= (uint32_t)take;
            p->stream_len += take;
            if (p->chunk_left == 0)
                p->state = S_CHUNK_LEN;
            return i + take;
        }
        default:
            return i;
        }
    }
    ev->type = ZCL_EV_NONE;
    return i;
}

void zcl_detection_name(char *buf, size_t n, const char *what)
{
    if (!n)
        return;
    int k = snprintf(buf, n, "Zerohour.%s", what && *what ? what : "Unknown");
    size_t end = k < 0 ? 0 : (size_t)k >= n ? n - 1 : (size_t)k;
    for (size_t i = sizeof "Zerohour." - 1; i < end; i++) {
        char c = buf[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            buf[i] = '_';
    }
}
