/* The hashes are FNV-1a's, with its bits spread by splitmix64's finalizer; linear probing. */
#include "base/hashset.h"

#include "base/xalloc.h"

#include <stdlib.h>
#include <string.h>

static uint64_t hash(const char *s)
{
    uint64_t h = 14695981039346656037ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    return h ? h : 1; /* 0 marks an empty slot */
}

void hashset_init(struct hashset *s, unsigned bits)
{
    s->slot = NULL;
    s->slots = (size_t)1 << bits;
    s->n = 0;
}

void hashset_release(struct hashset *s)
{
    free(s->slot);
    s->slot = NULL;
    s->n = 0;
}

bool hashset_has(const struct hashset *s, const char *str)
{
    if (!s->slot)
        return false;
    uint64_t h = hash(str);
    size_t mask = s->slots - 1;
    for (size_t i = h & mask; s->slot[i]; i = (i + 1) & mask)
        if (s->slot[i] == h)
            return true;
    return false;
}

void hashset_add(struct hashset *s, const char *str)
{
    if (!s->slot)
        s->slot = xcalloc(s->slots, sizeof *s->slot);
    if (s->n >= s->slots / 4 * 3) {
        memset(s->slot, 0, s->slots * sizeof *s->slot);
        s->n = 0;
    }
    uint64_t h = hash(str);
    size_t mask = s->slots - 1;
    size_t i = h & mask;
    for (; s->slot[i]; i = (i + 1) & mask)
        if (s->slot[i] == h)
            return;
    s->slot[i] = h;
    s->n++;
}
