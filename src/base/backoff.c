/* Full jitter spreads retries of many jobs that failed together, so they do not return together. */
#include "base/backoff.h"

int64_t backoff_ceiling_ms(const struct backoff *b, int attempt)
{
    int64_t base = b->base_ms > 0 ? b->base_ms : 0;
    int64_t cap = b->cap_ms > 0 ? b->cap_ms : 0;
    if (attempt < 1)
        attempt = 1;
    int64_t c = base;
    for (int i = 1; i < attempt && c < cap; i++)
        c *= 2;
    return c < cap ? c : cap;
}

int64_t backoff_delay_ms(const struct backoff *b, int attempt, uint64_t rnd)
{
    int64_t c = backoff_ceiling_ms(b, attempt);
    if (c <= 0)
        return 0;
    return (int64_t)(rnd % ((uint64_t)c + 1));
}
