/* zerohour/error.h — the one graded error enum of the scanning library.
 * OK, partial (skip this part, keep scanning), failed, fatal, and distinct
 * codes for each limit so a verdict can say why a message is unscannable. */
#ifndef ZEROHOUR_ERROR_H
#define ZEROHOUR_ERROR_H

#ifdef __cplusplus
extern "C" {
#endif

typedef enum zh_err {
    ZH_ERR_OK = 0,
    ZH_ERR_PARTIAL = 1,  /* this part was skipped; the rest is fine */
    ZH_ERR_FAILED = -1,  /* the operation failed; the caller may go on */
    ZH_ERR_FATAL = -2,   /* cannot continue (out of memory, broken state) */
    ZH_ERR_INVALID = -3, /* the input is not what it must be */
    ZH_ERR_IO = -4,      /* reading a file failed */
    /* Limit breaches: never turned into a CLEAN verdict. */
    ZH_ERR_LIMIT_SIZE = -10,
    ZH_ERR_LIMIT_DEPTH = -11,
    ZH_ERR_LIMIT_COUNT = -12,
    ZH_ERR_LIMIT_TIME = -13,
    ZH_ERR_LIMIT_RATIO = -14,
} zh_err;

/* Static lower-case name: "ok", "limit_depth", ... */
const char *zh_err_name(zh_err e);

static inline int zh_err_is_limit(zh_err e)
{
    return e <= ZH_ERR_LIMIT_SIZE && e >= ZH_ERR_LIMIT_RATIO;
}

#ifdef __cplusplus
}
#endif
#endif
