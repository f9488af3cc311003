/* The one error vocabulary of trawl: negative codes, their names and messages come from one
 * X-macro, and struct err carries a code, whether a retry can help, and a message ready to log. */
#ifndef TRAWL_ERR_H
#define TRAWL_ERR_H

#include <stdbool.h>

#define TRAWL_ERRORS(X)                                                                            \
    X(INVAL, "invalid argument")                                                                   \
    X(NOMEM, "out of memory")                                                                      \
    X(TOOBIG, "too large")                                                                         \
    X(NOTFOUND, "not found")                                                                       \
    X(STALE, "lease lost or attempt is stale")                                                     \
    X(STATE, "job is not in a state that allows this")                                             \
    X(BUSY, "database is locked")                                                                  \
    X(READONLY, "database is read-only")                                                           \
    X(CORRUPT, "database is corrupt")                                                              \
    X(FULL, "disk is full")                                                                        \
    X(IO, "i/o error")                                                                             \
    X(SCHEMA, "database schema is newer than this trawl")                                          \
    X(STORE, "store error")                                                                        \
    X(CLOSED, "engine is shutting down")                                                           \
    X(TIMEOUT, "timed out")                                                                        \
    X(CANCELLED, "cancelled")                                                                      \
    X(HANDLER, "job handler failed")                                                               \
    X(INJECTED, "injected fault")

enum trawl_errno {
    TRAWL_OK = 0,
#define X(name, msg) TRAWL_E##name,
    TRAWL_ERR_FIRST_ = -1000,
    TRAWL_ERRORS(X)
#undef X
};

/* Name ("TRAWL_ESTALE") and default message of a code; never NULL. */
const char *err_name(int code);
const char *err_str(int code);

struct err {
    int code;       /* 0 or a negative TRAWL_E* code */
    bool retryable; /* true when trying again later can succeed */
    char msg[512];  /* lowercase, printable as it is */
};

/* Fill e (which may be NULL) and return code, so callers can write `return err_set(...)`. */
int err_set(struct err *e, int code, bool retryable, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void err_clear(struct err *e);
/* Copy src into dst (dst may be NULL). */
void err_copy(struct err *dst, const struct err *src);

#endif
