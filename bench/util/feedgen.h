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

#endif
