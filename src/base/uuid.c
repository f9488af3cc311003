/* UUIDv7 (RFC 9562) with a 12-bit counter in rand_a ("method 1") for order within a millisecond. */
#include "base/uuid.h"

#include "base/rand.h"

#include <ctype.h>
#include <pthread.h>
#include <string.h>

static pthread_mutex_t lock_ = PTHREAD_MUTEX_INITIALIZER;
static int64_t last_ms_;
static unsigned counter_;

void uuid_v7(char out[UUID_STR_LEN], int64_t now_ms)
{
    pthread_mutex_lock(&lock_);
    if (now_ms <= last_ms_) {
        /* same or earlier millisecond (clock stepped back): keep order by counting on */
        if (++counter_ > 0xfff) {
            last_ms_++;
            counter_ = 0;
        }
        now_ms = last_ms_;
    } else {
        last_ms_ = now_ms;
        counter_ = 0;
    }
    unsigned counter = counter_;
    pthread_mutex_unlock(&lock_);

    uint64_t r = rand_u64();
    unsigned char b[16];
    uint64_t ms = (uint64_t)now_ms;
    for (int i = 0; i < 6; i++)
        b[i] = (unsigned char)(ms >> (40 - 8 * i));
    b[6] = (unsigned char)(0x70 | ((counter >> 8) & 0x0f));
    b[7] = (unsigned char)(counter & 0xff);
    for (int i = 8; i < 16; i++)
        b[i] = (unsigned char)(r >> (8 * (i - 8)));
    b[8] = (unsigned char)(0x80 | (b[8] & 0x3f));
    static const char hex[] = "0123456789abcdef";
    char *o = out;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            *o++ = '-';
        *o++ = hex[b[i] >> 4];
        *o++ = hex[b[i] & 15];
    }
    *o = '\0';
}

bool uuid_valid(const char *s)
{
    if (!s || strlen(s) != 36)
        return false;
    for (int i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-')
                return false;
        } else if (!isxdigit((unsigned char)s[i])) {
            return false;
        }
    }
    return true;
}
