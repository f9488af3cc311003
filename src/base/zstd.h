/* Bodies at rest: zstd frames made and read back with a cap on the size they expand to. */
#ifndef TRAWL_ZSTD_H
#define TRAWL_ZSTD_H

#include "base/err.h"

#include <stddef.h>

/* Compress n bytes of data into a new zstd frame (*out, freed by the caller) at level (0: the
 * default, 1: HTML compresses about as well as at 3, a third faster). Returns 0 or
 * TRAWL_ENOMEM. */
int zframe_compress(const void *data, size_t n, int level, void **out, size_t *out_len,
                    struct err *e);
/* Decompress one frame into a new NUL-terminated buffer (*out; *out_len excludes the NUL).
 * TRAWL_ETOOBIG when it would expand past max bytes, TRAWL_ECORRUPT when it is not a frame. */
int zframe_decompress(const void *frame, size_t n, size_t max, char **out, size_t *out_len,
                      struct err *e);

#endif
