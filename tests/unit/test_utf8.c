/* The UTF-8 checks: well-formed text passes whatever its length and wherever a multi-byte sequence
 * falls against the eight-byte ASCII steps; a bad byte is found at every offset; sanitizing
 * replaces exactly the bad bytes with U+FFFD and keeps the rest. */
#include "base/utf8.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

Test(utf8, well_formed_text_at_every_alignment)
{
    char buf[64];
    for (size_t at = 0; at < 40; at++) {
        memset(buf, 'a', sizeof buf);
        memcpy(buf + at, "\xe2\x82\xac", 3); /* the euro sign */
        cr_assert(utf8_valid(buf, at + 3 + 9), "euro at %zu", at);
        cr_assert(utf8_valid(buf, sizeof buf), "euro at %zu", at);
        /* cut in the middle of the sequence */
        cr_assert_not(utf8_valid(buf, at + 2), "a cut sequence at %zu passed", at);
    }
    cr_assert(utf8_valid("", 0));
    cr_assert(utf8_valid("\xf0\x9f\x98\x80", 4));
}

Test(utf8, a_bad_byte_is_found_at_every_offset)
{
    static const char *const bad[] = {"\x80", "\xc0\xaf", "\xed\xa0\x80", "\xf5\x80\x80\x80",
                                      "\xff"};
    char buf[64];
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        for (size_t at = 0; at + strlen(bad[k]) <= sizeof buf; at += 3) {
            memset(buf, 'x', sizeof buf);
            memcpy(buf + at, bad[k], strlen(bad[k]));
            cr_assert_not(utf8_valid(buf, sizeof buf), "bad %zu at %zu passed", k, at);
        }
    }
}

Test(utf8, sanitize_replaces_only_the_bad_bytes)
{
    const char in[] = "abcdefghij\xffklmnopqrstuvw\xc3\xa9xyz\x80";
    size_t n;
    char *out = utf8_sanitize(in, sizeof in - 1, &n);
    const char want[] = "abcdefghij\xef\xbf\xbdklmnopqrstuvw\xc3\xa9xyz\xef\xbf\xbd";
    cr_assert_eq(n, sizeof want - 1);
    cr_assert_eq(memcmp(out, want, n), 0, "%s", out);
    cr_assert(utf8_valid(out, n));
    free(out);
}
