/* Fixed-bound histograms: the bounds the metrics use, and adding a value. */
#include "base/hist.h"

#include <math.h>

const double hist_fast_le[HIST_BUCKETS] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                           0.05,   0.1,   0.25,   0.5,   1,    INFINITY};
const double hist_job_le[HIST_BUCKETS] = {0.001, 0.005, 0.025, 0.1, 0.5,  1,
                                          5,     30,    120,   600, 3600, INFINITY};
const double hist_size_le[HIST_BUCKETS] = {1, 2, 4, 8, 16, 32, 64, 128, 256, 1024, 4096, INFINITY};

void hist_add(struct hist *h, double v)
{
    int i = 0;
    while (i < HIST_BUCKETS - 1 && !(v <= h->le[i]))
        i++;
    h->count[i]++;
    h->sum += v;
}

uint64_t hist_total(const struct hist *h)
{
    uint64_t n = 0;
    for (int i = 0; i < HIST_BUCKETS; i++)
        n += h->count[i];
    return n;
}
