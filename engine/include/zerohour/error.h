/* zerohour/error.h — the one graded error enum of the scanning library.
 * OK, failed (the caller may go on), fatal, bad input, I/O, and distinct
 * codes for each limit (zhi_scan_limit returns them) so a stage can say why
 * it stopped. The human detail goes in a hit or an error buffer. */
#ifndef ZEROHOUR_ERROR_H
#define ZEROHOUR_ERROR_H

#ifdef __cplusplus
extern "C" {
#endif

typedef enum zh_err {
    ZH_ERR_OK = 0,
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

static inline int zh_err_is_limit(zh_err e)
{
    return e <= ZH_ERR_LIMIT_SIZE && e >= ZH_ERR_LIMIT_RATIO;
}

#ifdef __cplusplus
}
#endif
#endif
