/* A set of strings kept as their 64-bit hashes, in a fixed table that is emptied when three
 * quarters full: a bounded memory of what was seen, for skipping work that would change nothing
 * (a scraping session's links to pages it has stored already). It may forget (after emptying)
 * but, short of two strings with equal hashes (odds about n^2 / 2^65 for n strings), never says
 * it has a string it was not given.
 *
 * Ownership: the set owns its table (hashset_release). Not thread-safe: the caller locks. */
#ifndef TRAWL_HASHSET_H
#define TRAWL_HASHSET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct hashset {
    uint64_t *slot; /* 0: empty; allocated at the first add */
    size_t slots;   /* a power of two */
    size_t n;
};

/* An empty set of 2^bits slots (8 bytes each), allocated when the first string is added. */
void hashset_init(struct hashset *s, unsigned bits);
void hashset_release(struct hashset *s);
bool hashset_has(const struct hashset *s, const char *str);
/* Add str; when three quarters of the slots are taken, everything is forgotten first. */
void hashset_add(struct hashset *s, const char *str);

#endif
