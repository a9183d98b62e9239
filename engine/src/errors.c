/* Names of the graded error codes (zerohour/error.h). */
#include "zerohour/error.h"

const char *zh_err_name(zh_err e)
{
    switch (e) {
    case ZH_ERR_OK:
        return "ok";
    case ZH_ERR_PARTIAL:
        return "partial";
    case ZH_ERR_FAILED:
        return "failed";
    case ZH_ERR_FATAL:
        return "fatal";
    case ZH_ERR_INVALID:
        return "invalid";
    case ZH_ERR_IO:
        return "io";
    case ZH_ERR_LIMIT_SIZE:
        return "limit_size";
    case ZH_ERR_LIMIT_DEPTH:
        return "limit_depth";
    case ZH_ERR_LIMIT_COUNT:
        return "limit_count";
    case ZH_ERR_LIMIT_TIME:
        return "limit_time";
    case ZH_ERR_LIMIT_RATIO:
        return "limit_ratio";
    }
    return "unknown";
}
