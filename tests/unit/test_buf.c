/* Text as a JSON string (buf_add_json_str): what a JSON parser reads back is the text given, byte
 * for byte, NULs and control characters included; UTF-8 stays as it is; and past the buffer's cap
 * the append fails and leaves the buffer as it was. */
#include "base/buf.h"
#include "base/err.h"

#include <criterion/criterion.h>
#include <jansson.h>
#include <string.h>

/* s (n bytes) appended to an empty buffer: the text written, which the caller frees. */
static char *json_str(const char *s, size_t n)
{
    struct buf b;
    buf_init(&b, 0);
    cr_assert_eq(buf_add_json_str(&b, s, n), 0);
    cr_assert_eq(strlen(b.data), b.len, "no NUL written raw");
    return buf_detach(&b);
}

static void json_str_is(const char *s, size_t n, const char *want)
{
    char *got = json_str(s, n);
    cr_assert_str_eq(got, want);
    free(got);
}

/* What a JSON parser reads from the text written for s (n bytes) is s. */
static void reads_back(const char *s, size_t n)
{
    char *text = json_str(s, n);
    json_error_t je;
    json_t *v = json_loads(text, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
    cr_assert(json_is_string(v), "not a JSON string (%s): %s", je.text, text);
    cr_assert_eq(json_string_length(v), n, "%s", text);
    cr_assert_eq(memcmp(json_string_value(v), s, n), 0, "%s", text);
    json_decref(v);
    free(text);
}

Test(buf, quotes_backslashes_and_control_characters_are_escaped)
{
    json_str_is("", 0, "\"\"");
    json_str_is("plain", 5, "\"plain\"");
    json_str_is("say \"hi\"", 8, "\"say \\\"hi\\\"\"");
    json_str_is("C:\\dir\\", 7, "\"C:\\\\dir\\\\\"");
    json_str_is("a\nb\rc\td", 7, "\"a\\nb\\rc\\td\"");
    json_str_is("\x01\x1f\b\f", 4, "\"\\u0001\\u001f\\u0008\\u000c\"");
    json_str_is("\x7f", 1, "\"\x7f\"");
    json_str_is("/</script>", 10, "\"/</script>\"");
}

Test(buf, n_bytes_are_written_nuls_included)
{
    json_str_is("a\0b", 3, "\"a\\u0000b\"");
    json_str_is("abcdef", 3, "\"abc\"");
    json_str_is("\0", 1, "\"\\u0000\"");
    reads_back("a\0b\0", 4);
}

Test(buf, every_ascii_byte_reads_back_as_it_was)
{
    char all[128];
    for (int i = 0; i < 128; i++)
        all[i] = (char)i;
    reads_back(all, sizeof all);
    /* one escape after another, and at either end */
    reads_back("\"\"\\\\\n\n", 6);
    reads_back("\x01x\x02", 3);
}

Test(buf, utf8_is_kept_as_it_is)
{
    const char *s = "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xe2\x80\xa8";
    char want[64];
    snprintf(want, sizeof want, "\"%s\"", s);
    json_str_is(s, strlen(s), want);
    reads_back(s, strlen(s));
}

Test(buf, bytes_that_are_not_utf8_are_copied_not_dropped)
{
    /* the caller gives UTF-8 (buf.h): bytes that are not are neither checked nor dropped, so a
     * value is never shortened without a word */
    json_str_is("a\xff\xfe"
                "b\xc3",
                5,
                "\"a\xff\xfe"
                "b\xc3\"");
}

Test(buf, an_append_past_the_cap_fails_and_leaves_the_buffer)
{
    struct buf b;
    buf_init(&b, 16);
    cr_assert_eq(buf_adds(&b, "[1,"), 0);
    /* 12 bytes quoted fit: 3 + 14 = 17 > 16 does not */
    cr_assert_eq(buf_add_json_str(&b, "0123456789ab", 12), TRAWL_ETOOBIG);
    cr_assert_str_eq(b.data, "[1,");
    cr_assert_eq(b.len, 3);
    cr_assert_eq(buf_add_json_str(&b, "0123456789a", 11), 0, "3 + 13 = 16 fits");
    cr_assert_str_eq(b.data, "[1,\"0123456789a\"");
    buf_release(&b);

    /* the raw text fits, its escapes do not: still all or nothing */
    buf_init(&b, 16);
    cr_assert_eq(buf_adds(&b, "x"), 0);
    cr_assert_eq(buf_add_json_str(&b, "\n\n\n\n\n\n\n\n", 8), TRAWL_ETOOBIG,
                 "1 + 10 fits, 1 + 18 not");
    cr_assert_str_eq(b.data, "x");
    cr_assert_eq(b.len, 1);
    cr_assert_eq(buf_add_json_str(&b, "\x01\x02\x03", 3), TRAWL_ETOOBIG, "1 + 20 > 16");
    cr_assert_str_eq(b.data, "x");
    cr_assert_eq(buf_add_json_str(&b, "\n\n\n\n\n\n\n", 7), TRAWL_ETOOBIG, "1 + 16 > 16");
    cr_assert_eq(buf_add_json_str(&b, "\n\n\n\n\n\n", 6), 0, "1 + 14 fits");
    cr_assert_str_eq(b.data, "x\"\\n\\n\\n\\n\\n\\n\"");
    buf_release(&b);
}
