/* The bounded set of seen strings a scraping session skips known links with: what it was given
 * it has (until it empties itself), what it was not given it never has. */
#include "base/hashset.h"

#include <criterion/criterion.h>
#include <stdio.h>

static void url(char *out, size_t n, const char *kind, int i)
{
    snprintf(out, n, "https://shop.example/%s/%d?page=%d", kind, i, i % 7);
}

Test(hashset, has_what_it_was_given_and_nothing_else)
{
    struct hashset s;
    hashset_init(&s, 12); /* 4,096 slots: emptied past 3,072 */
    char u[128];
    cr_expect(!hashset_has(&s, "https://shop.example/"), "an empty set has something");
    for (int i = 0; i < 3000; i++) {
        url(u, sizeof u, "product", i);
        hashset_add(&s, u);
        hashset_add(&s, u); /* twice is once */
    }
    cr_expect_eq(s.n, 3000);
    for (int i = 0; i < 3000; i++) {
        url(u, sizeof u, "product", i);
        cr_expect(hashset_has(&s, u), "%s was given and is missing", u);
        url(u, sizeof u, "category", i);
        cr_expect(!hashset_has(&s, u), "%s was never given", u);
    }
    hashset_release(&s);
}

Test(hashset, a_full_set_forgets_and_stays_bounded)
{
    struct hashset s;
    hashset_init(&s, 10); /* 1,024 slots: emptied when 768 are taken */
    char u[128];
    for (int i = 0; i < 100000; i++) {
        url(u, sizeof u, "product", i);
        hashset_add(&s, u);
        cr_assert_leq(s.n, 768, "%zu strings in 1,024 slots", s.n);
    }
    /* what came since the last emptying is there; what came before it is forgotten, never
     * mistaken for what was not given */
    url(u, sizeof u, "product", 99999);
    cr_expect(hashset_has(&s, u));
    url(u, sizeof u, "product", 0);
    cr_expect(!hashset_has(&s, u), "the first string outlived 130 emptyings");
    for (int i = 0; i < 100000; i++) {
        url(u, sizeof u, "category", i);
        cr_expect(!hashset_has(&s, u), "%s was never given", u);
    }
    hashset_release(&s);
}
