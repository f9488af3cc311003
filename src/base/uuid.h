/* UUIDv7 job ids: 48-bit millisecond time, then a counter and random bits, so ids made later in
 * one process sort after earlier ones. */
#ifndef TRAWL_UUID_H
#define TRAWL_UUID_H

#include <stdbool.h>
#include <stdint.h>

#define UUID_STR_LEN 37 /* 36 characters and the NUL */

/* Write a new UUIDv7 for the time now_ms into out as lowercase text. Thread-safe. */
void uuid_v7(char out[UUID_STR_LEN], int64_t now_ms);
/* True when s is a UUID in canonical lowercase or uppercase text form. */
bool uuid_valid(const char *s);

#endif
