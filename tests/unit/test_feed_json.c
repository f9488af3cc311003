/* JSON product feeds (feed_json.c through feed_parse): the three shapes (a top-level array,
 * NDJSON, an object holding the products), field names and values, row errors and the fatal
 * errors with their line and column, caps in bounded memory on inputs generated as they are
 * read (a 100 MB string, 100,000-deep nesting, a million products), gzip and UTF-16 input, and
 * the same records whatever the reads' sizes and wherever the parser's chunks end. */
#include "base/buf.h"
#include "feedutil.h"
#include "parse/feed.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <zlib.h>

#include <criterion/criterion.h>

/* ---- readers ---- */

/* Hands out an in-memory feed at most chunk bytes per read. */
/* A feed made as it is read: pieces in order, each repeated times times, so that a test can
 * read hundreds of megabytes without holding them. */
struct piece {
    const char *s;
    size_t times;
};

struct gen {
    const struct piece *p;
    size_t np, i, rep, off;
    int64_t produced;
};

static ssize_t gen_read(void *ctx, void *out, size_t cap, struct err *e)
{
    (void)e;
    struct gen *g = ctx;
    char *o = out;
    size_t n = 0;
    while (n < cap && g->i < g->np) {
        const struct piece *pc = &g->p[g->i];
        size_t len = strlen(pc->s);
        size_t k = len - g->off < cap - n ? len - g->off : cap - n;
        memcpy(o + n, pc->s + g->off, k);
        n += k;
        g->off += k;
        if (g->off == len) {
            g->off = 0;
            if (++g->rep == pc->times) {
                g->rep = 0;
                g->i++;
            }
        }
    }
    g->produced += (int64_t)n;
    return (ssize_t)n;
}

/* ---- a sink that writes what it gets as text ---- */

struct got {
    struct buf out;
    char path[64];
    char encoding[32];
    int begins, gzip;
    bool raw; /* add each record's raw text */
};

static int got_begin(void *ctx, const struct feed_info *i, struct err *e)
{
    (void)e;
    struct got *g = ctx;
    g->begins++;
    g->gzip = i->gzip;
    snprintf(g->path, sizeof g->path, "%s", i->json_path ? i->json_path : "(none)");
    snprintf(g->encoding, sizeof g->encoding, "%s", i->encoding ? i->encoding : "(none)");
    cr_expect_eq(i->format, FEED_JSON);
    return 0;
}

static int got_record(void *ctx, const struct feed_record *r, struct err *e)
{
    (void)e;
    struct got *g = ctx;
    cr_expect_eq(g->begins, 1, "a record before begin");
    buf_addf(&g->out, "#%lld@%lld", (long long)r->number, (long long)r->line);
    for (size_t i = 0; i < r->nfields; i++) {
        cr_expect_eq(strlen(r->fields[i].value), r->fields[i].len);
        buf_addf(&g->out, " %s=%s", r->fields[i].name, r->fields[i].value);
    }
    if (g->raw)
        buf_addf(&g->out, " raw=%.*s", (int)r->raw_len, r->raw);
    buf_adds(&g->out, "\n");
    return 0;
}

static int got_row_error(void *ctx, const struct feed_row_error *er, struct err *e)
{
    (void)e;
    struct got *g = ctx;
    cr_expect_eq(g->begins, 1, "a row error before begin");
    buf_addf(&g->out, "!%lld@%lld %s", (long long)er->number, (long long)er->line, er->msg);
    if (g->raw)
        buf_addf(&g->out, " raw=%.*s", (int)er->raw_len, er->raw);
    buf_adds(&g->out, "\n");
    return 0;
}

static struct feed_sink sink_of(struct got *g)
{
    buf_init(&g->out, 0);
    return (struct feed_sink){got_begin, got_record, got_row_error, g};
}

/* Parse text read chunk bytes at a time with o (NULL: defaults, format sniffed); the sink's text
 * in g (initialised here). */
static int parse_len(const char *text, size_t len, size_t chunk, const struct feed_opts *o,
                     struct got *g, struct feed_stats *st, struct err *e)
{
    struct fu_mem m = {text, len, 0, chunk};
    struct feed_sink s = sink_of(g);
    err_clear(e);
    return feed_parse(o, fu_mem_read, &m, &s, st, e);
}

static int parse(const char *text, size_t chunk, const struct feed_opts *o, struct got *g,
                 struct err *e)
{
    return parse_len(text, strlen(text), chunk, o, g, NULL, e);
}

/* Parse a feed that must be read whole; returns the sink's text (static storage of g). */
static const char *parse_ok(const char *text, size_t chunk, const struct feed_opts *o,
                            struct got *g)
{
    struct err e;
    int rc = parse(text, chunk, o, g, &e);
    cr_assert_eq(rc, 0, "feed_parse: %s", e.msg);
    return g->out.data;
}

/* ---- the shapes ---- */

Test(feed_json, array_of_objects_with_nested_objects_and_arrays)
{
    const char *feed =
        "[\n"
        "  {\"sku\": \"A-1\", \"title\": \"Lamp \\\"Nova\\\" \\u00e9\\ud83d\\ude00\",\n"
        "   \"price\": {\"amount\": 12.50, \"currency\": \"EUR\", \"tiers\": {\"b2b\": 10}},\n"
        "   \"images\": [\"a.jpg\", \"b.jpg\"], \"variants\": [{\"sku\": \"A-1-S\", \"size\": \"S\"},\n"
        "   {\"sku\": \"A-1-M\", \"stock\": [3, 4]}], \"in_stock\": true, \"promo\": false,\n"
        "   \"ean\": null, \"tags\": [], \"meta\": {}, \"grid\": [[1, 2], [3]]},\n"
        "  {\"sku\": \"B-2\"}\n"
        "]\n";
    struct got g = {0};
    cr_assert_str_eq(parse_ok(feed, 1 << 20, NULL, &g),
                     "#1@2 sku=A-1 title=Lamp \"Nova\" \xc3\xa9\xf0\x9f\x98\x80 price.amount=12.50 "
                     "price.currency=EUR price.tiers.b2b=10 images=a.jpg images=b.jpg "
                     "variants.sku=A-1-S variants.size=S variants.sku=A-1-M variants.stock=3 "
                     "variants.stock=4 in_stock=true promo=false ean= grid=1 grid=2 grid=3\n"
                     "#2@7 sku=B-2\n");
    cr_expect_str_eq(g.path, "[]");
    cr_expect_str_eq(g.encoding, "UTF-8");
    cr_expect_eq(g.begins, 1);
    buf_release(&g.out);
}

Test(feed_json, raw_text_is_the_object_as_written)
{
    struct got g = {.raw = true};
    cr_assert_str_eq(parse_ok("[ {\"a\": 1,\n  \"b\": [2]} ,{\"c\":\"\\u00e9\"}]", 3, NULL, &g),
                     "#1@1 a=1 b=2 raw={\"a\": 1,\n  \"b\": [2]}\n"
                     "#2@2 c=\xc3\xa9 raw={\"c\":\"\\u00e9\"}\n");
    buf_release(&g.out);
}

Test(feed_json, numbers_are_kept_as_written_past_64_bits)
{
    const char *feed = "[{\"gtin\": 123456789012345678901234567890, \"id\": 18446744073709551617,"
                       " \"neg\": -9223372036854775809, \"f\": 1.000000000000000000001,"
                       " \"e\": -1.5E+308, \"huge\": 1e99999, \"zero\": 0}]";
    struct got g = {0};
    cr_assert_str_eq(parse_ok(feed, 7, NULL, &g),
                     "#1@1 gtin=123456789012345678901234567890 id=18446744073709551617 "
                     "neg=-9223372036854775809 f=1.000000000000000000001 e=-1.5E+308 huge=1e99999 "
                     "zero=0\n");
    buf_release(&g.out);
}

Test(feed_json, ndjson_malformed_line_is_a_row_error_and_later_lines_are_read)
{
    const char *feed = "{\"sku\": \"a\", \"n\": 1}\n"
                       "{\"sku\": \"b\", \"n\": }\n"
                       "{\"sku\": \"c\", \"n\": 3}\n"
                       "{\"sku\": \"d\", \"n\"\n"
                       "{\"sku\": \"e\"}\r\n"
                       "\n"
                       "{\"sku\": \"f\", \"title\": \"cut short\n"
                       "garbage\n"
                       "[1, 2]\n"
                       "\"text\"\n"
                       "{\"sku\": \"g\"}";
    struct got g = {.raw = true};
    cr_assert_str_eq(parse_ok(feed, 1 << 20, NULL, &g),
                     "#1@1 sku=a n=1 raw={\"sku\": \"a\", \"n\": 1}\n"
                     "!2@2 line 2: invalid JSON: unallowed token at this point in JSON text "
                     "raw={\"sku\": \"b\", \"n\": }\n"
                     "#3@3 sku=c n=3 raw={\"sku\": \"c\", \"n\": 3}\n"
                     "!4@4 line 4: invalid JSON: object key and value must be separated by a colon "
                     "(':') raw={\"sku\": \"d\", \"n\"\n"
                     "#5@5 sku=e raw={\"sku\": \"e\"}\n"
                     "!6@7 line 7: invalid JSON: invalid character inside string "
                     "raw={\"sku\": \"f\", \"title\": \"cut short\n"
                     "!7@8 line 8: invalid JSON: invalid char in json text raw=garbage\n"
                     "!8@9 line 9: an array, not an object raw=[1, 2]\n"
                     "!9@10 line 10: a string, not an object raw=\"text\"\n"
                     "#10@11 sku=g raw={\"sku\": \"g\"}\n");
    cr_expect_str_eq(g.path, "ndjson");
    buf_release(&g.out);
}

Test(feed_json, ndjson_bad_first_line_and_truncated_last_line)
{
    struct got g = {0};
    cr_assert_str_eq(parse_ok("{\"a\": tru}\n{\"a\": 2}\n{\"a\": 3", 1 << 20, NULL, &g),
                     "!1@1 line 1: invalid JSON: invalid string in json text\n"
                     "#2@2 a=2\n"
                     "!3@3 line 3: invalid JSON: premature EOF\n");
    cr_expect_str_eq(g.path, "ndjson");
    buf_release(&g.out);
}

Test(feed_json, object_holding_the_products_in_an_array)
{
    const char *feed =
        "{\"version\": 2, \"meta\": {\"shop\": \"x\", \"langs\": [\"de\", \"en\"]},\n"
        " \"empty\": [], \"products\": [\n"
        "  {\"sku\": \"a\", \"variants\": [{\"sku\": \"a1\"}]},\n"
        "  {\"sku\": \"b\"}, 42],\n"
        " \"related\": [{\"sku\": \"not a product\"}], \"count\": 2}\n";
    struct got g = {0};
    cr_assert_str_eq(parse_ok(feed, 7, NULL, &g), "#1@3 sku=a variants.sku=a1\n"
                                                  "#2@4 sku=b\n"
                                                  "!3@4 a number, not an object\n");
    cr_expect_str_eq(g.path, "products");
    buf_release(&g.out);
}

/* A nested container is searched for too: the first array of objects going through the members
 * depth first, through objects only. */
Test(feed_json, object_holding_the_products_deeper)
{
    struct got g = {0};
    cr_assert_str_eq(parse_ok("{\"data\": {\"total\": 1, \"items\": [{\"id\": 7}]}, \"x\": [{}]}",
                              1 << 20, NULL, &g),
                     "#1@1 id=7\n");
    cr_expect_str_eq(g.path, "data.items");
    buf_release(&g.out);
}

Test(feed_json, object_with_an_empty_products_array_has_none)
{
    struct got g = {0};
    cr_assert_str_eq(parse_ok("{\"products\": [], \"total\": 0}", 1 << 20, NULL, &g), "");
    cr_expect_str_eq(g.path, "products");
    cr_expect_eq(g.begins, 1);
    buf_release(&g.out);
}

/* An object that holds no array of objects is the one product; more may follow as NDJSON. */
Test(feed_json, object_without_an_array_of_objects_is_one_product)
{
    struct got g = {0};
    cr_assert_str_eq(
        parse_ok("{\n  \"sku\": \"a\",\n  \"images\": [\"x\", \"y\"],\n  \"price\": {\"v\": 1}\n}",
                 1 << 20, NULL, &g),
        "#1@1 sku=a images=x images=y price.v=1\n");
    cr_expect_str_eq(g.path, "ndjson");
    buf_release(&g.out);
}

Test(feed_json, data_after_the_object_of_products_is_an_error)
{
    struct got g = {0};
    struct err e;
    int rc = parse("{\"products\": [{\"a\": 1}]}  {\"b\": 2}", 1 << 20, NULL, &g, &e);
    cr_assert_eq(rc, TRAWL_EINVAL);
    cr_expect_str_eq(e.msg,
                     "invalid JSON at line 1, column 27: more data after the top-level object");
    cr_expect_str_eq(g.out.data, "#1@1 a=1\n");
    buf_release(&g.out);
}

Test(feed_json, elements_that_are_not_objects_are_row_errors)
{
    struct got g = {.raw = true};
    cr_assert_str_eq(
        parse_ok("[1, \"x\", {\"a\": 1}, [1, [2]], null, true,\n {}, -2.5e3]", 1 << 20, NULL, &g),
        "!1@1 a number, not an object raw=1\n"
        "!2@1 a string, not an object raw=\"x\"\n"
        "#3@1 a=1 raw={\"a\": 1}\n"
        "!4@1 an array, not an object raw=[1, [2]]\n"
        "!5@1 null, not an object raw=null\n"
        "!6@1 a boolean, not an object raw=true\n"
        "#7@2 raw={}\n"
        "!8@2 a number, not an object raw=-2.5e3\n");
    buf_release(&g.out);
}

/* ---- errors ---- */

Test(feed_json, malformed_json_in_an_array_is_fatal_with_line_and_column)
{
    const char *feed = "[\n  {\"sku\": \"a\"},\n  {\"sku\": \"b\"}\n  {\"sku\": \"c\"}\n]\n";
    struct got g = {0};
    struct err e;
    int rc = parse(feed, 7, NULL, &g, &e);
    cr_assert_eq(rc, TRAWL_EINVAL);
    cr_expect_str_eq(e.msg,
                     "invalid JSON at line 4, column 3: after array element, I expect ',' or ']'");
    cr_expect_str_eq(g.out.data, "#1@2 sku=a\n#2@3 sku=b\n");

    struct got g2 = {0};
    rc = parse("[{\"a\": 1},\n {\"a\": 1", 1, NULL, &g2, &e);
    cr_assert_eq(rc, TRAWL_EINVAL);
    cr_expect_str_eq(e.msg, "invalid JSON at line 2, column 9: premature EOF");
    cr_expect_str_eq(g2.out.data, "#1@1 a=1\n");
    buf_release(&g.out);
    buf_release(&g2.out);
}

Test(feed_json, invalid_utf8_is_fatal_in_an_array_and_a_row_error_in_ndjson)
{
    /* the charset is given: a head that is not UTF-8 would be read as windows-1252 */
    struct feed_opts o = {.encoding = "UTF-8"};
    struct got g = {0};
    struct err e;
    int rc = parse("[{\"a\": \"ok\"},\n {\"a\": \"b\xc3\x28\"}]", 1 << 20, &o, &g, &e);
    cr_assert_eq(rc, TRAWL_EINVAL);
    cr_expect_str_eq(e.msg, "invalid JSON at line 2, column 10: invalid bytes in UTF8 string");
    cr_expect_str_eq(g.out.data, "#1@1 a=ok\n");

    struct got g2 = {0};
    cr_assert_str_eq(
        parse_ok("{\"a\": \"ok\"}\n{\"a\": \"\xff\"}\n{\"a\": \"\xe2\x82\xac\"}\n", 1, &o, &g2),
        "#1@1 a=ok\n"
        "!2@2 line 2: invalid JSON: invalid bytes in UTF8 string\n"
        "#3@3 a=\xe2\x82\xac\n");

    /* a lone surrogate escape makes no UTF-8 either: the product is a row error */
    struct got g3 = {0};
    cr_assert_str_eq(parse_ok("[{\"a\": \"\\udc00\"}, {\"a\": \"b\"}]", 1 << 20, NULL, &g3),
                     "!1@1 field a is not valid UTF-8\n#2@1 a=b\n");
    buf_release(&g.out);
    buf_release(&g2.out);
    buf_release(&g3.out);
}

/* Past the sniffed head nothing is guessed any more: a bad byte there is an error. */
Test(feed_json, invalid_utf8_after_the_head)
{
    struct buf b;
    buf_init(&b, 0);
    buf_adds(&b, "[");
    for (int i = 0; i < 5000; i++)
        buf_addf(&b, "{\"i\": %d, \"s\": \"\xc3\xa9\"},\n", i);
    buf_adds(&b, "{\"s\": \"\xe9t\xe9\"}]");
    struct got g = {0};
    struct err e;
    int rc = parse_len(b.data, b.len, 1 << 20, NULL, &g, NULL, &e);
    cr_assert_eq(rc, TRAWL_EINVAL);
    cr_expect_str_eq(e.msg, "invalid JSON at line 5001, column 8: invalid bytes in UTF8 string");
    cr_expect_str_eq(g.encoding, "UTF-8");
    cr_expect(strstr(g.out.data, "#5000@5000 i=4999 s=\xc3\xa9\n") != NULL);
    buf_release(&b);
    buf_release(&g.out);
}

Test(feed_json, deep_nesting_is_fatal_in_bounded_memory)
{
    struct piece p[] = {
        {"[{\"a\": 1}, ", 1}, {"[[[[[[[[[[", 10000}, {"]]]]]]]]]]", 10000}, {"]", 1}};
    struct gen gn = {p, 4, 0, 0, 0, 0};
    struct got g = {0};
    struct feed_sink s = sink_of(&g);
    struct feed_stats st;
    struct err e;
    long rss0 = fu_peak_rss_kb();
    int rc = feed_parse(NULL, gen_read, &gn, &s, &st, &e);
    cr_assert_eq(rc, TRAWL_EINVAL);
    /* the array is level 1: the 64th '[' of the run opens level 65 */
    cr_expect_str_eq(e.msg, "JSON nested deeper than 64 levels at line 1, column 75");
    cr_expect_str_eq(g.out.data, "#1@1 a=1\n");
    cr_expect_lt(st.bytes_in, 3 * 65536, "read on after the error: %lld bytes",
                 (long long)st.bytes_in);
    cr_expect_lt(fu_peak_rss_kb() - rss0, 16 * 1024);

    /* a smaller cap */
    struct feed_opts o = {.depth_max = 3};
    struct got g2 = {0};
    rc = parse("[{\"a\": {\"b\": 1}}, {\"a\": {\"b\": [1]}}]", 1 << 20, &o, &g2, &e);
    cr_assert_eq(rc, TRAWL_EINVAL);
    cr_expect_str_eq(e.msg, "JSON nested deeper than 3 levels at line 1, column 31");
    cr_expect_str_eq(g2.out.data, "#1@1 a.b=1\n");
    buf_release(&g.out);
    buf_release(&g2.out);
}

Test(feed_json, deep_nesting_in_ndjson_skips_the_line)
{
    struct piece p[] = {{"{\"a\": 1}\n{\"deep\": ", 1},
                        {"[[[[[[[[[[", 10000},
                        {"]]]]]]]]]]", 10000},
                        {"}\n{\"b\": 2}\n", 1}};
    struct gen gn = {p, 4, 0, 0, 0, 0};
    struct got g = {0};
    struct feed_sink s = sink_of(&g);
    struct err e;
    long rss0 = fu_peak_rss_kb();
    int rc = feed_parse(NULL, gen_read, &gn, &s, NULL, &e);
    cr_assert_eq(rc, 0, "%s", e.msg);
    cr_expect_str_eq(g.out.data, "#1@1 a=1\n"
                                 "!2@2 line 2: JSON nested deeper than 64 levels\n"
                                 "#3@3 b=2\n");
    cr_expect_str_eq(g.path, "ndjson");
    cr_expect_lt(fu_peak_rss_kb() - rss0, 16 * 1024);
    buf_release(&g.out);
}

Test(feed_json, a_100_mb_string_is_a_row_error_in_bounded_memory)
{
    static char x[4097];
    memset(x, 'x', 4096);
    struct piece p[] = {{"[{\"sku\": \"a\"},\n{\"sku\": \"b\", \"description\": \"", 1},
                        {x, 100 * 256},
                        {"\\\" and \\u00e9nd\", \"n\": 1},\n{\"sku\": \"c\"}]", 1}};
    struct gen gn = {p, 3, 0, 0, 0, 0};
    struct got g = {.raw = true};
    struct feed_sink s = sink_of(&g);
    struct feed_stats st;
    struct err e;
    long rss0 = fu_peak_rss_kb();
    int rc = feed_parse(NULL, gen_read, &gn, &s, &st, &e);
    cr_assert_eq(rc, 0, "%s", e.msg);
    cr_expect_gt(st.bytes_in, 100 << 20);
    cr_expect_lt(fu_peak_rss_kb() - rss0, 24 * 1024, "peak RSS grew by %ld KB",
                 fu_peak_rss_kb() - rss0);
    /* the row error's raw text is the product's first FEED_RAW_MAX bytes */
    const char *want = "#1@1 sku=a raw={\"sku\": \"a\"}\n"
                       "!2@2 field description is longer than 1048576 bytes raw={\"sku\": \"b\", "
                       "\"description\": \"xxx";
    cr_assert(strncmp(g.out.data, want, strlen(want)) == 0, "%.200s", g.out.data);
    const char *err_line = g.out.data + strlen("#1@1 sku=a raw={\"sku\": \"a\"}\n");
    const char *nl = strchr(err_line, '\n');
    cr_assert_not_null(nl);
    cr_expect_eq((size_t)(nl - strstr(err_line, "raw=") - 4), FEED_RAW_MAX);
    cr_expect_str_eq(nl + 1, "#3@3 sku=c raw={\"sku\": \"c\"}\n");
    buf_release(&g.out);
}

struct longest {
    size_t len;
    char head[8], tail[8];
    int64_t records;
};

static int keep_longest(void *ctx, const struct feed_record *r, struct err *e)
{
    (void)e;
    struct longest *l = ctx;
    l->records++;
    for (size_t i = 0; i < r->nfields; i++)
        if (r->fields[i].len > l->len && r->fields[i].len >= 7) {
            l->len = r->fields[i].len;
            memcpy(l->head, r->fields[i].value, 7);
            memcpy(l->tail, r->fields[i].value + l->len - 7, 7);
        }
    return 0;
}

/* Under a large field_max a long value is read whole, and in time linear in its length: yajl
 * lexes a token it holds again with every chunk it is given, so it is given the string at once. */
Test(feed_json, a_40_mb_value_under_a_larger_field_max, .timeout = 30)
{
    struct piece p[] = {{"{\"sku\": \"a\", \"d\": \"<", 1},
                        {"0123456789\\u00e9\\\"xyz", 2 << 20},
                        {">\"}\n{\"sku\": \"b\"}\n", 1}};
    struct gen gn = {p, 3, 0, 0, 0, 0};
    struct longest l = {0};
    struct feed_sink s = {NULL, keep_longest, NULL, &l};
    struct feed_opts o = {.field_max = 64 << 20};
    struct err e;
    int rc = feed_parse(&o, gen_read, &gn, &s, NULL, &e);
    cr_assert_eq(rc, 0, "%s", e.msg);
    cr_expect_eq(l.records, 2);
    /* each piece: 10 digits, 2 bytes of e-acute, a quote and xyz */
    cr_expect_eq(l.len, 2 + (size_t)(2 << 20) * 16);
    cr_expect_str_eq(l.head, "<012345");
    cr_expect_str_eq(l.tail, "\xc3\xa9\"xyz>");
}

/* A field's cap cuts a string wherever it falls: in an escape, in a character, between chunks. */
Test(feed_json, values_and_names_over_field_max_are_row_errors)
{
    struct feed_opts o = {.field_max = 8};
    struct got g = {0};
    cr_assert_str_eq(parse_ok("[{\"a\": \"12345678\", \"b\": \"\\u00e9\\u00e9\\u00e9\\u00e9\"},\n"
                              " {\"a\": \"123456789\"},\n"
                              " {\"a\": \"\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\"},\n"
                              " {\"n\": 1234567890},\n"
                              " {\"abcdefghi\": 1},\n"
                              " {\"ab\": {\"cdefgh\": 1}},\n"
                              " {\"ok\": 1}]",
                              1, &o, &g),
                     "#1@1 a=12345678 b=\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\n"
                     "!2@2 field a is longer than 8 bytes\n"
                     "!3@3 field a is longer than 8 bytes\n"
                     "!4@4 field n is longer than 8 bytes\n"
                     "!5@5 a field name is longer than 8 bytes\n"
                     "!6@6 a field name is longer than 8 bytes\n"
                     "#7@7 ok=1\n");
    buf_release(&g.out);
}

Test(feed_json, a_number_longer_than_field_max_is_fatal)
{
    struct feed_opts o = {.field_max = 100};
    struct buf b;
    buf_init(&b, 0);
    buf_adds(&b, "[{\"a\": 1},\n {\"n\": ");
    for (int i = 0; i < 70000; i++)
        buf_adds(&b, "9");
    buf_adds(&b, "}]");
    struct got g = {0};
    struct err e;
    int rc = parse_len(b.data, b.len, 1 << 20, &o, &g, NULL, &e);
    cr_assert_eq(rc, TRAWL_EINVAL);
    cr_expect_str_eq(e.msg, "invalid JSON at line 2, column 8: a number longer than 100 bytes");
    cr_expect_str_eq(g.out.data, "#1@1 a=1\n");
    buf_release(&b);
    buf_release(&g.out);
}

Test(feed_json, more_fields_than_fields_max_is_a_row_error)
{
    struct feed_opts o = {.fields_max = 3};
    struct got g = {0};
    cr_assert_str_eq(
        parse_ok("{\"a\":1,\"b\":2,\"c\":3}\n{\"a\":1,\"b\":[2,3],\"c\":4}\n{\"d\":5}\n", 1 << 20,
                 &o, &g),
        "#1@1 a=1 b=2 c=3\n"
        "!2@2 line 2: more than 3 fields\n"
        "#3@3 d=5\n");
    buf_release(&g.out);
}

Test(feed_json, empty_feeds_and_scalars)
{
    struct got g = {0};
    struct err e;
    cr_expect_eq(parse("", 1, NULL, &g, &e), TRAWL_EINVAL);
    cr_expect_str_eq(e.msg, "the feed is empty");
    struct got g1 = {0};
    cr_expect_eq(parse(" \n\t ", 1, NULL, &g1, &e), TRAWL_EINVAL);
    cr_expect_str_eq(e.msg, "the feed is empty");

    /* an empty array: no products, and no error */
    struct got g2 = {0};
    cr_assert_str_eq(parse_ok(" [ \n ] \n", 1, NULL, &g2), "");
    cr_expect_str_eq(g2.path, "[]");
    cr_expect_eq(g2.begins, 1);

    /* a feed that is one scalar, read as JSON (the sniffing would call it CSV) */
    struct feed_opts o = {.format = FEED_JSON};
    struct got g3 = {0};
    cr_expect_eq(parse("\n  12345", 1, &o, &g3, &e), TRAWL_EINVAL);
    cr_expect_str_eq(e.msg, "invalid JSON at line 2, column 3: the feed holds a number, not an "
                            "array or an object of products");
    struct got g4 = {0};
    cr_expect_eq(parse("\"products\"", 7, &o, &g4, &e), TRAWL_EINVAL);
    cr_expect_str_eq(e.msg, "invalid JSON at line 1, column 1: the feed holds a string, not an "
                            "array or an object of products");
    struct got g5 = {0};
    cr_expect_eq(parse("[{\"a\": 1}] ]", 7, NULL, &g5, &e), TRAWL_EINVAL);
    cr_expect_str_eq(e.msg, "invalid JSON at line 1, column 12: trailing garbage");
    buf_release(&g.out);
    buf_release(&g1.out);
    buf_release(&g2.out);
    buf_release(&g3.out);
    buf_release(&g4.out);
    buf_release(&g5.out);
}

Test(feed_json, a_sink_without_callbacks_still_counts)
{
    struct fu_mem m = {"[{\"a\":1},{\"a\":2}]", 17, 0, 1 << 20};
    struct feed_sink s = {NULL, NULL, NULL, NULL};
    struct err e;
    /* no callbacks at all: the records are counted */
    struct feed_stats st;
    cr_assert_eq(feed_parse(NULL, fu_mem_read, &m, &s, &st, &e), 0);
    cr_expect_eq(st.records, 2);
}

static int stop_at_two(void *ctx, const struct feed_record *r, struct err *e)
{
    ++*(int *)ctx;
    return r->number == 2 ? err_set(e, TRAWL_ECANCELLED, false, "enough") : 0;
}

Test(feed_json, a_sink_that_stops_stops_the_parse)
{
    const char *feeds[] = {"[{\"a\":1},{\"a\":2},{\"a\":3}]", "{\"a\":1}\n{\"a\":2}\n{\"a\":3}\n",
                           "{\"p\":[{\"a\":1},{\"a\":2},{\"a\":3}]}"};
    for (int i = 0; i < 3; i++) {
        int calls = 0;
        struct fu_mem m = {feeds[i], strlen(feeds[i]), 0, 1 << 20};
        struct feed_sink s = {NULL, stop_at_two, NULL, &calls};
        struct err e;
        cr_assert_eq(feed_parse(NULL, fu_mem_read, &m, &s, NULL, &e), TRAWL_ECANCELLED, "%s",
                     feeds[i]);
        cr_expect_str_eq(e.msg, "enough");
        cr_expect_eq(calls, 2);
    }
}

/* ---- the layers under the parser ---- */

Test(feed_json, gzip_input)
{
    const char *feed = "{\"sku\": \"a\", \"t\": \"\xc3\xa9\"}\n{\"sku\": \"b\"}\n";
    struct buf z;
    fu_gzip(feed, strlen(feed), &z);
    for (size_t chunk = 1; chunk <= 4096; chunk *= 64) {
        struct got g = {0};
        struct err e;
        int rc = parse_len(z.data, z.len, chunk, NULL, &g, NULL, &e);
        cr_assert_eq(rc, 0, "%s", e.msg);
        cr_expect_str_eq(g.out.data, "#1@1 sku=a t=\xc3\xa9\n#2@2 sku=b\n");
        cr_expect_eq(g.gzip, 1);
        cr_expect_str_eq(g.path, "ndjson");
        buf_release(&g.out);
    }
    buf_release(&z);
}

/* UTF-16 with a BOM: feed.c turns it into UTF-8 before the parser reads it. */
Test(feed_json, utf16_input_with_a_bom)
{
    /* [{"name": "Café €", "n": 1}] */
    static const unsigned short text[] = {'[', '{', '"', 'n', 'a',    'm', 'e',    '"', ':', ' ',
                                          '"', 'C', 'a', 'f', 0x00e9, ' ', 0x20ac, '"', ',', ' ',
                                          '"', 'n', '"', ':', ' ',    '1', '}',    ']', '\n'};
    size_t n = sizeof text / sizeof text[0];
    for (int be = 0; be < 2; be++) {
        unsigned char bytes[2 + 2 * sizeof text / sizeof text[0]];
        bytes[0] = be ? 0xfe : 0xff;
        bytes[1] = be ? 0xff : 0xfe;
        for (size_t i = 0; i < n; i++) {
            bytes[2 + 2 * i + (be ? 1 : 0)] = (unsigned char)(text[i] & 0xff);
            bytes[2 + 2 * i + (be ? 0 : 1)] = (unsigned char)(text[i] >> 8);
        }
        struct got g = {0};
        struct err e;
        int rc = parse_len((const char *)bytes, sizeof bytes, 3, NULL, &g, NULL, &e);
        cr_assert_eq(rc, 0, "%s", e.msg);
        cr_expect_str_eq(g.out.data, "#1@1 name=Caf\xc3\xa9 \xe2\x82\xac n=1\n");
        cr_expect_str_eq(g.encoding, be ? "UTF-16BE" : "UTF-16LE", "the byte order its BOM gave");
        buf_release(&g.out);
    }
}

/* ---- streaming ---- */

Test(feed_json, the_same_records_whatever_the_read_size)
{
    const char *feeds[] = {
        "[{\"sku\": \"a\", \"t\": \"x\\ty\\u20ac\\ud83d\\ude00 \xc3\xa9\", \"p\": {\"v\": 1.5e2}, "
        "\"i\": [true, false, null]},\n{\"sku\": \"b\", \"big\": 123456789012345678901234567890}, "
        "7, [1], {}]",
        "{\"a\": 1}\n{\"a\": \"\n{\"a\": 3}\n{\"a\" 4}\n{\"a\": [{\"b\": 5}]}\n",
        "{\"meta\": {\"n\": [1, 2]}, \"products\": [{\"a\": 1}, {\"a\": {\"b\": [2]}}], \"z\": 0}"};
    for (int f = 0; f < 3; f++) {
        struct got whole = {.raw = true};
        const char *want = parse_ok(feeds[f], 1 << 20, NULL, &whole);
        cr_assert(strlen(want) > 0);
        size_t chunks[] = {1, 7, 65536};
        for (int c = 0; c < 3; c++) {
            struct got g = {.raw = true};
            cr_expect_str_eq(parse_ok(feeds[f], chunks[c], NULL, &g), want, "feed %d, chunk %zu", f,
                             chunks[c]);
            cr_expect_str_eq(g.path, whole.path);
            buf_release(&g.out);
        }
        buf_release(&whole.out);
    }
    struct got g = {0};
    cr_expect_str_eq(
        parse_ok(feeds[0], 1, NULL, &g),
        "#1@1 sku=a t=x\ty\xe2\x82\xac\xf0\x9f\x98\x80 \xc3\xa9 p.v=1.5e2 i=true i=false "
        "i=\n"
        "#2@2 sku=b big=123456789012345678901234567890\n"
        "!3@2 a number, not an object\n"
        "!4@2 an array, not an object\n"
        "#5@2\n");
    buf_release(&g.out);
}

/* The parser reads 64 KiB at a time whatever the reader gives: move a product across that
 * boundary byte by byte, so that every token (escapes, characters, numbers, literals, a string
 * cut at field_max) is split at every place. */
Test(feed_json, the_same_records_wherever_a_chunk_ends)
{
    const char *rec = "{\"k\\u00e9y\": \"a\\\"b\\\\c\\u00e9\\ud83d\\ude00\", \"\xc3\xbc\": "
                      "\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\", \"n\": -12.5e+3, "
                      "\"big\": 123456789012345678901234567890, \"t\": true, \"f\": false, "
                      "\"z\": null, \"arr\": [1, \"x\", {\"y\": [true]}], \"e\": \"\\n\\t\\/\"}";
    const char *cut = "{\"long\": \"0123456789\\u00e9\\n0123456789\xe2\x82\xac\\\"0123456789"
                      "\xf0\x9f\x98\x80 0123456789\", \"after\": 1}";
    struct feed_opts o = {.field_max = 20};
    for (int which = 0; which < 2; which++) {
        const char *r = which ? cut : rec;
        const struct feed_opts *op = which ? &o : NULL;
        char small[1024];
        snprintf(small, sizeof small, "[%s]", r);
        struct got one = {0};
        /* what the product gives when no chunk ends in it, without its "#1@1" */
        const char *want = parse_ok(small, 1 << 20, op, &one) + 4;
        cr_assert_eq(one.out.data[0], which ? '!' : '#');
        /* "[{"fill": "" is 11 bytes, "\"}, " 4: the product starts at 15 + fill */
        size_t len = strlen(r), from = 65536 - 15 - len - 8;
        for (size_t fill = from; fill <= from + len + 16; fill++) {
            struct buf b;
            buf_init(&b, 0);
            buf_adds(&b, "[{\"fill\": \"");
            for (size_t i = 0; i < fill; i++)
                buf_adds(&b, "f");
            buf_addf(&b, "\"}, %s, {\"last\": 1}]", r);
            struct got g = {0};
            struct err e;
            int rc = parse_len(b.data, b.len, 1 << 20, op, &g, NULL, &e);
            cr_assert_eq(rc, 0, "fill %zu: %s", fill, e.msg);
            const char *second = strchr(g.out.data, '\n');
            cr_assert_not_null(second);
            second++;
            cr_assert(strncmp(second, which ? "!2@1" : "#2@1", 4) == 0, "fill %zu: %s", fill,
                      second);
            char expect[1024];
            snprintf(expect, sizeof expect, "%.4s%s#3@1 last=1\n", second, want);
            cr_expect_str_eq(second, expect, "fill %zu", fill);
            buf_release(&b);
            buf_release(&g.out);
        }
        buf_release(&one.out);
    }
}

/* The same for NDJSON: a malformed line and its neighbours across the boundary. */
Test(feed_json, ndjson_errors_wherever_a_chunk_ends)
{
    const char *lines = "{\"a\": \"x\\u00e9\"}\n{\"b\": [1, 2,]}\n{\"c\": \"unterminated\n"
                        "{\"d\": 4}\n";
    const char *want = "#2@2 a=x\xc3\xa9\n"
                       "!3@3 line 3: invalid JSON: unallowed token at this point in JSON text\n"
                       "!4@4 line 4: invalid JSON: invalid character inside string\n"
                       "#5@5 d=4\n";
    /* the first line is 13 bytes and the fill: the lines start at 13 + fill */
    size_t from = 65536 - 13 - strlen(lines) - 2;
    for (size_t shift = 0; shift <= strlen(lines) + 4; shift++) {
        struct buf b;
        buf_init(&b, 0);
        buf_adds(&b, "{\"fill\": \"");
        for (size_t i = 0; i < from + shift; i++)
            buf_adds(&b, "f");
        buf_addf(&b, "\"}\n%s", lines);
        struct got g = {0};
        struct err e;
        int rc = parse_len(b.data, b.len, 1 << 20, NULL, &g, NULL, &e);
        cr_assert_eq(rc, 0, "shift %zu: %s", shift, e.msg);
        const char *second = strchr(g.out.data, '\n');
        cr_assert_not_null(second);
        cr_expect_str_eq(second + 1, want, "shift %zu", shift);
        buf_release(&b);
        buf_release(&g.out);
    }
}

/* A million products, made as they are read. */
struct many {
    int64_t next, total;
    bool ndjson;
    char pend[128];
    size_t np, pos;
};

static ssize_t many_read(void *ctx, void *out, size_t cap, struct err *e)
{
    (void)e;
    struct many *m = ctx;
    char *o = out;
    size_t n = 0;
    while (n < cap) {
        if (m->pos == m->np) {
            if (m->next > m->total + 1)
                break;
            if (m->next == 0)
                m->np = (size_t)snprintf(m->pend, sizeof m->pend, "%s", m->ndjson ? "" : "[");
            else if (m->next == m->total + 1)
                m->np = (size_t)snprintf(m->pend, sizeof m->pend, "%s", m->ndjson ? "" : "]");
            else
                m->np = (size_t)snprintf(m->pend, sizeof m->pend,
                                         "%s{\"id\":%lld,\"sku\":\"S%lld\",\"p\":{\"v\":1.5}}\n",
                                         m->ndjson || m->next == 1 ? "" : ",", (long long)m->next,
                                         (long long)m->next);
            m->next++;
            m->pos = 0;
        }
        size_t k = m->np - m->pos < cap - n ? m->np - m->pos : cap - n;
        memcpy(o + n, m->pend + m->pos, k);
        m->pos += k;
        n += k;
    }
    return (ssize_t)n;
}

struct counted {
    int64_t n;
    char last_id[32];
    bool in_order;
};

static int count_record(void *ctx, const struct feed_record *r, struct err *e)
{
    (void)e;
    struct counted *c = ctx;
    c->n++;
    if (r->number != c->n || r->line != c->n || r->nfields != 3)
        c->in_order = false;
    snprintf(c->last_id, sizeof c->last_id, "%s", r->fields[0].value);
    return 0;
}

Test(feed_json, a_million_small_objects, .timeout = 60)
{
    for (int nd = 0; nd < 2; nd++) {
        struct many m = {.total = 1000000, .ndjson = nd};
        struct counted c = {.in_order = true};
        struct feed_sink s = {NULL, count_record, NULL, &c};
        struct feed_stats st;
        struct err e;
        int rc = feed_parse(NULL, many_read, &m, &s, &st, &e);
        cr_assert_eq(rc, 0, "%s", e.msg);
        cr_expect_eq(st.records, 1000000);
        cr_expect_eq(st.row_errors, 0);
        cr_expect_eq(c.n, 1000000);
        cr_expect(c.in_order, "numbers, lines or fields out of order");
        cr_expect_str_eq(c.last_id, "1000000");
    }
}
