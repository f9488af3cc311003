/* Generated product feeds for the feed benchmarks: the same products as CSV, as a JSON array and
 * as a Google Merchant RSS feed. */
#ifndef TRAWL_FEEDGEN_H
#define TRAWL_FEEDGEN_H

#include <stdint.h>

enum { FEEDGEN_CSV = 1, FEEDGEN_JSON = 2, FEEDGEN_XML = 4 };

/* Write dir/products.csv, .json and .xml (those in formats) of n products each; exits on a
 * failed write. */
void feedgen_write(const char *dir, long n, unsigned formats);
/* Write path: a CSV of those products until it is at least bytes long; returns how many. */
long feedgen_csv_of_size(const char *path, int64_t bytes);

/* Seconds on the monotonic clock. */
double feedgen_now_s(void);
/* The size of the file at path, 0 when there is none. */
int64_t feedgen_size(const char *path);
/* Time `cmd 'dir/file' > /dev/null` (a tool doing the work on the same n-product feed) and print
 * "PREFIX_NAME file=... records=N seconds=... records_per_s=... mb_per_s=...", or that it was
 * skipped when the tool failed (not installed). */
void feedgen_time_tool(const char *prefix, const char *dir, const char *name, const char *file,
                       const char *cmd, long n);

#endif
