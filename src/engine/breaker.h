/* Circuit breakers, one per external service (for fetches: per origin). After repeated failures a
 * breaker opens and callers are told to come back later (their jobs are deferred, not failed);
 * once the open period passes, one caller is let through as a probe (half-open): its success
 * closes the breaker, its failure opens it again for twice as long (up to a cap).
 *
 * Thread-safe. Ownership: service names are copied; snapshots belong to the caller. */
#ifndef TRAWL_BREAKER_H
#define TRAWL_BREAKER_H

#include "base/clock.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum breaker_mode { BREAKER_CLOSED, BREAKER_OPEN, BREAKER_HALF_OPEN };

struct breaker_opts {
    int failures;        /* consecutive failures that open a breaker; default 5 */
    int64_t open_ms;     /* first open period; default 30 s */
    int64_t open_max_ms; /* longest open period; default 10 min */
};

struct breakers;

/* clock may be NULL (the real one). */
struct breakers *breakers_new(const struct breaker_opts *o, const struct clock *clock);
void breakers_free(struct breakers *b);

/* May a call to service go ahead now? true: yes; *probe is set when this caller is the
 * half-open probe (it must report success or failure). false: the breaker is open (or a probe is
 * out); *retry_at_ms says when to ask again. */
bool breaker_allow(struct breakers *b, const char *service, bool *probe, int64_t *retry_at_ms);
void breaker_success(struct breakers *b, const char *service);
/* The probe could not be made (its fetch was deferred): let another caller probe at once,
 * keeping what the breaker knows. */
void breaker_release(struct breakers *b, const char *service);
void breaker_failure(struct breakers *b, const char *service);

struct breaker_state {
    char service[256];
    enum breaker_mode state;
    int failures; /* consecutive */
    int64_t opened_at_ms;
    int64_t retry_at_ms;
};

/* Call fn(ctx, state) after every change of a breaker's state (closed, open, half-open), from
 * the thread that changed it, without the breakers' lock held; fn must be quick. NULL stops. */
typedef void (*breaker_watch_fn)(void *ctx, const struct breaker_state *st);
void breakers_watch(struct breakers *b, breaker_watch_fn fn, void *ctx);

/* Every breaker that is not closed or has failures, into a new array (*out); returns the count. */
size_t breakers_snapshot(struct breakers *b, struct breaker_state **out);
void breakers_snapshot_free(struct breaker_state *s, size_t n);
const char *breaker_state_name(enum breaker_mode s);

#endif
