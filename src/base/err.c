/* Error codes, names and messages from the one X-macro in err.h. */
#include "base/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *err_name(int code)
{
    switch (code) {
    case TRAWL_OK:
        return "TRAWL_OK";
#define X(name, msg)                                                                               \
    case TRAWL_E##name:                                                                            \
        return "TRAWL_E" #name;
        TRAWL_ERRORS(X)
#undef X
    }
    return "TRAWL_EUNKNOWN";
}

const char *err_str(int code)
{
    switch (code) {
    case TRAWL_OK:
        return "success";
#define X(name, msg)                                                                               \
    case TRAWL_E##name:                                                                            \
        return msg;
        TRAWL_ERRORS(X)
#undef X
    }
    return "unknown error";
}

int err_set(struct err *e, int code, bool retryable, const char *fmt, ...)
{
    if (!e)
        return code;
    e->code = code;
    e->retryable = retryable;
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(e->msg, sizeof e->msg, fmt, ap);
        va_end(ap);
    } else {
        snprintf(e->msg, sizeof e->msg, "%s", err_str(code));
    }
    return code;
}

void err_clear(struct err *e)
{
    if (!e)
        return;
    e->code = 0;
    e->retryable = false;
    e->msg[0] = '\0';
}

void err_copy(struct err *dst, const struct err *src)
{
    if (dst && src && dst != src)
        memcpy(dst, src, sizeof *dst);
}
