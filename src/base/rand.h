/* Random numbers: a fast per-thread generator seeded from the kernel, for jitter and ids. */
#ifndef TRAWL_RAND_H
#define TRAWL_RAND_H

#include <stdint.h>

/* 64 random bits from this thread's generator (seeded by getrandom on first use). */
uint64_t rand_u64(void);
/* Fill buf with n bytes from the kernel's generator. */
void rand_bytes(void *buf, unsigned n);

#endif
