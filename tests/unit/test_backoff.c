/* Backoff: full jitter under an exponential ceiling, capped. */
#include "base/backoff.h"
#include "base/rand.h"

#include <criterion/criterion.h>

Test(backoff, ceiling_doubles_then_caps)
{
    struct backoff b = {2000, 30000};
    cr_assert_eq(backoff_ceiling_ms(&b, 1), 2000);
    cr_assert_eq(backoff_ceiling_ms(&b, 2), 4000);
    cr_assert_eq(backoff_ceiling_ms(&b, 3), 8000);
    cr_assert_eq(backoff_ceiling_ms(&b, 4), 16000);
    cr_assert_eq(backoff_ceiling_ms(&b, 5), 30000);
    /* no overflow however many attempts */
    cr_assert_eq(backoff_ceiling_ms(&b, 1000), 30000);
    cr_assert_eq(backoff_ceiling_ms(&b, 0), 2000);
}

/* Full jitter: delays are uniform over [0, ceiling]. 200,000 draws per attempt: the mean is
 * within 2% of ceiling/2, every tenth of the range gets its share within 5%, and no delay leaves
 * the range. */
Test(backoff, full_jitter_is_uniform_and_bounded)
{
    struct backoff b = {2000, 30000};
    for (int attempt = 1; attempt <= 6; attempt++) {
        int64_t ceil = backoff_ceiling_ms(&b, attempt);
        const int draws = 200000;
        long bins[10] = {0};
        double sum = 0;
        int64_t lo = INT64_MAX, hi = -1;
        for (int i = 0; i < draws; i++) {
            int64_t d = backoff_delay_ms(&b, attempt, rand_u64());
            cr_assert(d >= 0 && d <= ceil, "attempt %d: delay %lld outside [0, %lld]", attempt,
                      (long long)d, (long long)ceil);
            sum += (double)d;
            lo = d < lo ? d : lo;
            hi = d > hi ? d : hi;
            int bin = (int)(d * 10 / (ceil + 1));
            bins[bin]++;
        }
        double mean = sum / draws;
        cr_assert(mean > ceil * 0.49 && mean < ceil * 0.51, "attempt %d: mean %.0f, ceiling %lld",
                  attempt, mean, (long long)ceil);
        for (int k = 0; k < 10; k++)
            cr_assert(bins[k] > draws / 10 * 0.95 && bins[k] < draws / 10 * 1.05,
                      "attempt %d: bin %d has %ld of %d", attempt, k, bins[k], draws);
        cr_assert_lt(lo, ceil / 100, "attempt %d: smallest delay %lld", attempt, (long long)lo);
        cr_assert_gt(hi, ceil - ceil / 100, "attempt %d: largest delay %lld", attempt,
                     (long long)hi);
    }
}
