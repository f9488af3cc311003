/* xoshiro256** per thread, seeded from getrandom(); not for secrets. */
#include "base/rand.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/random.h>

void rand_bytes(void *buf, unsigned n)
{
    unsigned char *p = buf;
    while (n > 0) {
        ssize_t r = getrandom(p, n, 0);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            perror("trawl: getrandom");
            abort();
        }
        p += r;
        n -= (unsigned)r;
    }
}

static _Thread_local uint64_t s_[4];
static _Thread_local int seeded_;

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

uint64_t rand_u64(void)
{
    if (!seeded_) {
        do
            rand_bytes(s_, sizeof s_);
        while (!(s_[0] | s_[1] | s_[2] | s_[3]));
        seeded_ = 1;
    }
    uint64_t result = rotl(s_[1] * 5, 7) * 9;
    uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
}
