/* Histograms with fixed upper bounds, for the metrics: counts per bucket and the sum of values.
 * Not thread-safe: the owner serialises hist_add and reads. */
#ifndef TRAWL_HIST_H
#define TRAWL_HIST_H

#include <stdint.h>

#define HIST_BUCKETS 12

struct hist {
    const double *le;             /* HIST_BUCKETS upper bounds, ascending; the last is +Inf */
    uint64_t count[HIST_BUCKETS]; /* not cumulative: count[i] fell in (le[i-1], le[i]] */
    double sum;
};

/* Bounds in seconds for quick operations (a commit: 0.5 ms to 1 s) and for jobs (1 ms to 1 h). */
extern const double hist_fast_le[HIST_BUCKETS];
extern const double hist_job_le[HIST_BUCKETS];
/* Bounds for sizes (1 to 4096). */
extern const double hist_size_le[HIST_BUCKETS];

void hist_add(struct hist *h, double v);
/* Values so far. */
uint64_t hist_total(const struct hist *h);

#endif
