/* Time as a seam: everything in the engine reads the wall clock through struct clock, so tests
 * can own time. Times are milliseconds since the Unix epoch. */
#ifndef TRAWL_CLOCK_H
#define TRAWL_CLOCK_H

#include <stdint.h>

struct clock {
    int64_t (*now_ms)(void *ctx);
    void *ctx;
};

/* The real wall clock. */
extern const struct clock clock_real;

int64_t clock_now_ms(const struct clock *c);
/* Monotonic milliseconds, for measuring durations and sleeping; not a seam. */
int64_t clock_mono_ms(void);
int64_t clock_mono_ns(void);
void clock_sleep_ms(int64_t ms);

#endif
