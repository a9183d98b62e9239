/* protocol.h — the clamd protocol as zerohour-clamd reads it: an incremental
 * parser of what one client sends (commands in their three framings, and
 * INSTREAM's length-prefixed chunks) and the spelling of the replies. No
 * sockets, no engine, no allocation: the connection code feeds it bytes and
 * acts on the events, so this unit is tested and fuzzed on its own.
 *
 * Framings (clamd(8)): "zCMD ARG\0" (NUL-terminated), "nCMD ARG\n" (newline)
 * and plain "CMD ARG\n" (newline, the legacy form). A reply is ended by the
 * framing's terminator ('\0' for z, '\n' otherwise).
 *
 * INSTREAM data: chunks of a 4-byte length in network byte order followed by
 * that many bytes; a zero length ends the stream. A chunk that would carry
 * the stream past stream_max is refused as soon as its length is read,
 * before any of its bytes are taken.
 *
 * Threads: a parser belongs to one connection (one thread). */
#ifndef ZCL_PROTOCOL_H
#define ZCL_PROTOCOL_H

#include <stddef.h>
#include <stdint.h>

#define ZCL_LINE_MAX 4352 /* a path (PATH_MAX 4096) plus the command and some slack */

enum zcl_framing { ZCL_PLAIN, ZCL_NEWLINE, ZCL_NUL };

/* Every command clamd knows (VERSIONCOMMANDS lists the ones we answer). */
enum zcl_cmd {
    ZCL_CMD_UNKNOWN,
    ZCL_CMD_PING,
    ZCL_CMD_VERSION,
    ZCL_CMD_VERSIONCOMMANDS,
    ZCL_CMD_INSTREAM,
    ZCL_CMD_IDSESSION,
    ZCL_CMD_END,
    ZCL_CMD_STATS,
    ZCL_CMD_SCAN,
    ZCL_CMD_CONTSCAN,
    ZCL_CMD_MULTISCAN,
    ZCL_CMD_ALLMATCHSCAN,
    /* Known to clamd, refused here (no engine-side meaning, or unsafe). */
    ZCL_CMD_RELOAD,
    ZCL_CMD_SHUTDOWN,
    ZCL_CMD_FILDES,
    ZCL_CMD_DETSTATS,
    ZCL_CMD_DETSTATSCLEAR,
    ZCL_CMD_STREAM,
    ZCL_CMD_QUIT,
};

enum zcl_event_type {
    ZCL_EV_NONE,       /* every byte given was consumed; feed more */
    ZCL_EV_COMMAND,    /* a whole command: cmd, name, arg, framing */
    ZCL_EV_DATA,       /* stream bytes: data/len point into the caller's buffer */
    ZCL_EV_STREAM_END, /* the zero-length chunk: the stream is whole */
    ZCL_EV_ERROR,      /* err says what; the parser stays in error */
};

enum zcl_error {
    ZCL_E_NONE,
    ZCL_E_LINE_TOO_LONG,   /* a command longer than ZCL_LINE_MAX */
    ZCL_E_STREAM_TOO_LONG, /* INSTREAM past stream_max (clamd: "size limit exceeded") */
    ZCL_E_NUL_IN_LINE,     /* a NUL inside a newline-framed command */
};

struct zcl_event {
    enum zcl_event_type type;
    enum zcl_cmd cmd;
    enum zcl_framing framing;
    const char *name; /* the command word, without the framing letter (points into the parser) */
    const char *arg;  /* after the first space, "" when none (points into the parser) */
    const uint8_t *data;
    size_t len;
    enum zcl_error err;
};

struct zcl_parser {
    int state;
    enum zcl_framing framing;
    uint64_t stream_max, stream_len;
    uint32_t chunk_left;
    uint8_t lenbuf[4];
    unsigned lenbuf_n;
    size_t line_len;
    char line[ZCL_LINE_MAX + 1];
    enum zcl_error err;
};

/* Start reading a connection. stream_max bounds each INSTREAM. */
void zcl_parser_init(struct zcl_parser *p, uint64_t stream_max);

/* Consume bytes from buf until one event is complete; returns how many were
 * consumed (<= len) and fills *ev. With ZCL_EV_NONE every byte was consumed.
 * An event's pointers are valid until the next call. After ZCL_EV_ERROR every
 * call returns the same error and consumes nothing. */
size_t zcl_parser_feed(struct zcl_parser *p, const uint8_t *buf, size_t len, struct zcl_event *ev);

/* The bytes of the stream so far (INSTREAM), and whether one is being read. */
uint64_t zcl_parser_stream_len(const struct zcl_parser *p);
int zcl_parser_in_stream(const struct zcl_parser *p);

/* The terminator of a framing's replies. */
static inline char zcl_terminator(enum zcl_framing f)
{
    return f == ZCL_NUL ? '\0' : '\n';
}

/* Command by name ("INSTREAM"); ZCL_CMD_UNKNOWN when none. */
enum zcl_cmd zcl_cmd_from_name(const char *name);
const char *zcl_error_text(enum zcl_error e);

/* The name reported in "stream: NAME FOUND": "Zerohour." + what, with every
 * byte outside [A-Za-z0-9._-] made '_' (a reply line must stay one line and
 * callers split on spaces). Truncated to fit n. */
void zcl_detection_name(char *buf, size_t n, const char *what);

#endif
