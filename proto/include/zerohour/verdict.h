/* zerohour/verdict.h — the one spelling of a verdict, shared by the engine
 * library, the client library and every program built on them. The values
 * are those of proto's zerohour.v1.Verdict (proto/wire.c asserts it), so a
 * verdict crosses the wire unchanged. */
#ifndef ZEROHOUR_VERDICT_H
#define ZEROHOUR_VERDICT_H

#ifdef __cplusplus
extern "C" {
#endif

enum zh_verdict {
    ZH_VERDICT_UNSPECIFIED = 0, /* never sent by the engine: a missing field is not CLEAN */
    ZH_VERDICT_CLEAN = 1,
    ZH_VERDICT_SUSPICIOUS = 2,
    ZH_VERDICT_MALICIOUS = 3,
    ZH_VERDICT_DEFER = 4,    /* try again later: a risky payload is spreading */
    ZH_VERDICT_TEMPFAIL = 5, /* the engine could not finish examining the message */
};

#ifdef __cplusplus
}
#endif
#endif
