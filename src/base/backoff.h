/* Retry delays: exponential backoff with full jitter. */
#ifndef TRAWL_BACKOFF_H
#define TRAWL_BACKOFF_H

#include <stdint.h>

struct backoff {
    int64_t base_ms; /* delay ceiling of the first retry */
    int64_t cap_ms;  /* no delay is longer than this */
};

#define BACKOFF_DEFAULT_BASE_MS 2000
#define BACKOFF_DEFAULT_CAP_MS  30000

/* The ceiling for the retry after failed attempt number `attempt` (1-based):
 * min(cap, base * 2^(attempt-1)). */
int64_t backoff_ceiling_ms(const struct backoff *b, int attempt);
/* A delay drawn uniformly from [0, ceiling] using the random value rnd ("full jitter"). */
int64_t backoff_delay_ms(const struct backoff *b, int attempt, uint64_t rnd);

#endif
