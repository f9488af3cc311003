/* XML product feeds (feed_xml.c through feed_parse): Google Merchant RSS and Atom, generic XML
 * and how its product element is found, field names, and the inputs a feed reader must survive
 * (XXE, entity bombs, broken or truncated XML, deep nesting, huge text, a million products,
 * charsets, gzip), read in chunks of every size. */
#include "base/buf.h"
#include "feedutil.h"
#include "parse/feed.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <zlib.h>

#include <criterion/criterion.h>
#include <criterion/redirect.h>

#define GNS "xmlns:g=\"http://base.google.com/ns/1.0\""

/* ---- readers ---- */

/* A feed in memory, handed out chunk bytes at a time. */
/* A feed made as it is read, never held: gen() writes the next piece (at most 4096 bytes) and
 * returns its length, 0 at the end. */
struct lazy {
    size_t (*gen)(struct lazy *z, char *out);
    char piece[4096];
    size_t len, pos;
    int64_t i, n; /* the generator's own counters */
    int stage;
};

static ssize_t lazy_read(void *ctx, void *buf, size_t cap, struct err *e)
{
    (void)e;
    struct lazy *z = ctx;
    size_t got = 0;
    while (got < cap) {
        if (z->pos == z->len) {
            z->len = z->gen(z, z->piece);
            z->pos = 0;
            if (z->len == 0)
                break;
        }
        size_t k = z->len - z->pos < cap - got ? z->len - z->pos : cap - got;
        memcpy((char *)buf + got, z->piece + z->pos, k);
        z->pos += k;
        got += k;
    }
    return (ssize_t)got;
}

/* ---- what the sink was given ---- */

struct got {
    struct buf dump; /* "#number Lline name=value|name=value\n", "!number Lline msg\n" */
    int begins;
    char format[16], encoding[32], record[64];
    int gzip;
    int64_t records, row_errors;
    char raw1[FEED_RAW_MAX + 1]; /* the raw text of the first record or row error */
    char errraw[FEED_RAW_MAX + 1];
    bool count_only;
    int64_t last_number, last_line;
    char last_value[64];
    int stop_at; /* a record number the sink stops at (0: none) */
};

static int on_begin(void *ctx, const struct feed_info *info, struct err *e)
{
    (void)e;
    struct got *g = ctx;
    g->begins++;
    snprintf(g->format, sizeof g->format, "%s", feed_format_name(info->format));
    snprintf(g->encoding, sizeof g->encoding, "%s", info->encoding ? info->encoding : "");
    snprintf(g->record, sizeof g->record, "%s", info->record_element ? info->record_element : "");
    g->gzip = info->gzip;
    return 0;
}

static int on_record(void *ctx, const struct feed_record *r, struct err *e)
{
    struct got *g = ctx;
    cr_assert_eq(g->begins, 1, "begin was not called once before the first record");
    g->records++;
    g->last_number = r->number;
    g->last_line = r->line;
    if (r->nfields)
        snprintf(g->last_value, sizeof g->last_value, "%s", r->fields[0].value);
    if (g->stop_at && r->number == g->stop_at)
        return err_set(e, TRAWL_ECANCELLED, false, "the sink stopped at %lld",
                       (long long)r->number);
    if (g->count_only)
        return 0;
    if (g->records == 1)
        snprintf(g->raw1, sizeof g->raw1, "%s", r->raw);
    cr_assert_eq(strlen(r->raw), r->raw_len);
    buf_addf(&g->dump, "#%lld L%lld", (long long)r->number, (long long)r->line);
    for (size_t i = 0; i < r->nfields; i++) {
        cr_assert_eq(strlen(r->fields[i].value), r->fields[i].len);
        buf_addf(&g->dump, "%s%s=%s", i ? "|" : " ", r->fields[i].name, r->fields[i].value);
    }
    buf_adds(&g->dump, "\n");
    return 0;
}

static int on_row_error(void *ctx, const struct feed_row_error *er, struct err *e)
{
    (void)e;
    struct got *g = ctx;
    g->row_errors++;
    if (g->row_errors == 1)
        snprintf(g->errraw, sizeof g->errraw, "%s", er->raw);
    buf_addf(&g->dump, "!%lld L%lld %s\n", (long long)er->number, (long long)er->line, er->msg);
    return 0;
}

static void got_init(struct got *g)
{
    memset(g, 0, sizeof *g);
    buf_init(&g->dump, 0);
}

static int parse_with(const struct feed_opts *o, feed_read_fn fn, void *ctx, struct got *g,
                      struct feed_stats *st, struct err *e)
{
    struct feed_sink sink = {on_begin, on_record, on_row_error, g};
    err_clear(e);
    return feed_parse(o, fn, ctx, &sink, st, e);
}

/* Parse a feed in memory handed out in chunks of chunk bytes. */
static int parse_mem(const char *xml, size_t n, size_t chunk, const struct feed_opts *o,
                     struct got *g, struct err *e)
{
    struct fu_mem m = {xml, n, 0, chunk};
    got_init(g);
    return parse_with(o, fu_mem_read, &m, g, NULL, e);
}

/* Parse xml in chunks of 1, 7, 4096 bytes and whole; the sink must get the same each time.
 * Returns what the whole read gave (in *g). */
static int parse_all_chunks(const char *xml, const struct feed_opts *o, struct got *g,
                            struct err *e)
{
    static const size_t chunks[] = {1, 7, 4096};
    size_t n = strlen(xml);
    int rc = parse_mem(xml, n, SIZE_MAX, o, g, e);
    for (size_t i = 0; i < sizeof chunks / sizeof *chunks; i++) {
        struct got g2;
        struct err e2;
        int rc2 = parse_mem(xml, n, chunks[i], o, &g2, &e2);
        cr_assert_eq(rc2, rc, "chunks of %zu: rc %d, whole %d (%s)", chunks[i], rc2, rc, e2.msg);
        cr_assert_str_eq(g2.dump.data, g->dump.data, "chunks of %zu", chunks[i]);
        if (rc)
            cr_assert_str_eq(e2.msg, e->msg, "chunks of %zu", chunks[i]);
        buf_release(&g2.dump);
    }
    return rc;
}

static void expect_feed(const char *xml, const struct feed_opts *o, const char *dump)
{
    struct got g;
    struct err e;
    int rc = parse_all_chunks(xml, o, &g, &e);
    cr_assert_eq(rc, 0, "feed_parse: %s", e.msg);
    cr_assert_str_eq(g.dump.data, dump);
    buf_release(&g.dump);
}

static void expect_error(const char *xml, const struct feed_opts *o, const char *dump,
                         const char *msg)
{
    struct got g;
    struct err e;
    int rc = parse_all_chunks(xml, o, &g, &e);
    cr_assert_eq(rc, TRAWL_EINVAL, "rc %d (%s)", rc, e.msg);
    cr_assert_str_eq(e.msg, msg);
    cr_assert_str_eq(g.dump.data, dump);
    buf_release(&g.dump);
}

/* Under AddressSanitizer freed memory is held in quarantine, so peaks mean nothing there. */
static void expect_peak_under_mb(long mb)
{
#ifdef FU_UNDER_ASAN
    (void)mb;
#else
    long kb = fu_peak_rss_kb();
    cr_log_info("peak RSS %ld KB", kb);
    cr_expect_lt(kb, mb * 1024, "peak RSS %ld KB, expected under %ld MB", kb, mb);
#endif
}

/* ---- Google Merchant, RSS and Atom ---- */

static const char google_rss[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<rss version=\"2.0\" " GNS ">\n"
    "  <channel>\n"
    "    <title>Example Shop</title>\n"
    "    <link>https://shop.example</link>\n"
    "    <description>All our products</description>\n"
    "    <item>\n"
    "      <g:id>A-1</g:id>\n"
    "      <title>Blue shirt</title>\n"
    "      <description><![CDATA[Soft <b>cotton</b> & more]]></description>\n"
    "      <link>https://shop.example/a1?x=1&amp;y=2</link>\n"
    "      <g:price>19.99 EUR</g:price>\n"
    "      <g:image_link>https://shop.example/a1.jpg</g:image_link>\n"
    "      <g:additional_image_link>https://shop.example/a1-2.jpg</g:additional_image_link>\n"
    "      <g:additional_image_link>https://shop.example/a1-3.jpg</g:additional_image_link>\n"
    "      <g:gtin>4006381333931</g:gtin>\n"
    "      <g:shipping>\n"
    "        <g:country>DE</g:country>\n"
    "        <g:price>4.95 EUR</g:price>\n"
    "      </g:shipping>\n"
    "    </item>\n"
    "    <item>\n"
    "      <g:id>B-2</g:id>\n"
    "      <title>  Red   scarf\n  </title>\n"
    "      <g:price>5 EUR</g:price>\n"
    "      <g:sale_price></g:sale_price>\n"
    "    </item>\n"
    "  </channel>\n"
    "</rss>\n";

Test(feed_xml, google_merchant_rss)
{
    struct got g;
    struct err e;
    cr_assert_eq(parse_all_chunks(google_rss, NULL, &g, &e), 0, "%s", e.msg);
    /* the channel's title, link and description are not a product */
    cr_assert_str_eq(g.dump.data,
                     "#1 L7 g:id=A-1|title=Blue shirt|description=Soft <b>cotton</b> & more|"
                     "link=https://shop.example/a1?x=1&y=2|g:price=19.99 EUR|"
                     "g:image_link=https://shop.example/a1.jpg|"
                     "g:additional_image_link=https://shop.example/a1-2.jpg|"
                     "g:additional_image_link=https://shop.example/a1-3.jpg|g:gtin=4006381333931|"
                     "g:shipping/g:country=DE|g:shipping/g:price=4.95 EUR\n"
                     "#2 L22 g:id=B-2|title=Red   scarf|g:price=5 EUR|g:sale_price=\n");
    cr_expect_eq(g.begins, 1);
    cr_expect_str_eq(g.format, "xml");
    cr_expect_str_eq(g.record, "item");
    cr_expect_str_eq(g.encoding, "UTF-8");
    cr_expect_eq(g.records, 2);
    cr_expect_eq(g.row_errors, 0);
    /* the raw text is the product as XML, from its start tag to its end tag */
    cr_expect(strncmp(g.raw1, "<item>\n      <g:id>A-1</g:id>\n", 30) == 0, "raw: %s", g.raw1);
    cr_expect(strstr(g.raw1, "<![CDATA[Soft <b>cotton</b> & more]]>") != NULL, "raw: %s", g.raw1);
    cr_expect(strstr(g.raw1, "a1?x=1&amp;y=2</link>") != NULL, "raw: %s", g.raw1);
    size_t n = strlen(g.raw1);
    cr_expect(n > 7 && strcmp(g.raw1 + n - 7, "</item>") == 0, "raw: %s", g.raw1);
    buf_release(&g.dump);
}

Test(feed_xml, google_merchant_atom)
{
    expect_feed(
        "<?xml version=\"1.0\"?>\n"
        "<feed xmlns=\"http://www.w3.org/2005/Atom\" " GNS ">\n"
        "  <title>Example Shop</title>\n"
        "  <link rel=\"self\" href=\"https://shop.example/feed.xml\"/>\n"
        "  <updated>2024-05-01T10:00:00Z</updated>\n"
        "  <entry>\n"
        "    <g:id>A-1</g:id>\n"
        "    <title>Blue shirt</title>\n"
        "    <link href=\"https://shop.example/a1\"/>\n"
        "    <g:price>19.99 EUR</g:price>\n"
        "    <g:availability>in stock</g:availability>\n"
        "  </entry>\n"
        "  <entry><g:id>B-2</g:id><title>Red scarf</title><g:price>5 EUR</g:price></entry>\n"
        "</feed>\n",
        NULL,
        "#1 L6 g:id=A-1|title=Blue shirt|link@href=https://shop.example/a1|"
        "g:price=19.99 EUR|g:availability=in stock\n"
        "#2 L13 g:id=B-2|title=Red scarf|g:price=5 EUR\n");
}

/* RSS 1.0 puts its items beside the channel, under rdf:RDF. */
Test(feed_xml, rss_1_0)
{
    expect_feed("<rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\" "
                "xmlns=\"http://purl.org/rss/1.0/\">\n"
                "<channel rdf:about=\"https://shop.example\"><title>Shop</title></channel>\n"
                "<item rdf:about=\"https://shop.example/1\"><title>One</title></item>\n"
                "<item rdf:about=\"https://shop.example/2\"><title>Two</title></item>\n"
                "</rdf:RDF>\n",
                NULL,
                "#1 L3 @rdf:about=https://shop.example/1|title=One\n"
                "#2 L4 @rdf:about=https://shop.example/2|title=Two\n");
}

/* However a feed binds Google's namespace, its fields are named g:. An undeclared g: prefix (a
 * common slip) is read as it is written. */
Test(feed_xml, google_namespace_names)
{
    expect_feed("<rss xmlns:google=\"http://base.google.com/ns/1.0\"><channel>"
                "<item><google:id>1</google:id>"
                "<price xmlns=\"http://base.google.com/ns/1.0\">3 EUR</price></item>"
                "</channel></rss>",
                NULL, "#1 L1 g:id=1|g:price=3 EUR\n");
    expect_feed("<rss><channel><item><g:id>1</g:id><g:price>3 EUR</g:price></item>"
                "<item><g:id>2</g:id></item></channel></rss>",
                NULL, "#1 L1 g:id=1|g:price=3 EUR\n#2 L1 g:id=2\n");
}

/* ---- generic XML: finding the product element ---- */

Test(feed_xml, generic_flat_catalog)
{
    struct got g;
    struct err e;
    cr_assert_eq(parse_all_chunks("<?xml version=\"1.0\"?>\n"
                                  "<catalog>\n"
                                  "  <generated>2024-05-01</generated>\n"
                                  "  <product>\n"
                                  "    <sku>1</sku>\n"
                                  "    <name>Shirt</name>\n"
                                  "    <images><image>a.jpg</image><image>b.jpg</image></images>\n"
                                  "  </product>\n"
                                  "  <product><sku>2</sku><name>Scarf</name></product>\n"
                                  "  <product><sku>3</sku></product>\n"
                                  "</catalog>\n",
                                  NULL, &g, &e),
                 0, "%s", e.msg);
    cr_assert_str_eq(g.dump.data, "#1 L4 sku=1|name=Shirt|images/image=a.jpg|images/image=b.jpg\n"
                                  "#2 L9 sku=2|name=Scarf\n"
                                  "#3 L10 sku=3\n");
    cr_expect_str_eq(g.record, "product");
    buf_release(&g.dump);
}

/* Products two levels under the root, with a side table (categories, repeating too, at the same
 * depth, and more often) before them: the offers are the products. */
Test(feed_xml, generic_wrapped_two_levels)
{
    struct got g;
    struct err e;
    cr_assert_eq(parse_all_chunks("<yml_catalog date=\"2024-05-01\">\n"
                                  " <shop>\n"
                                  "  <name>Shop</name>\n"
                                  "  <categories>\n"
                                  "   <category id=\"1\">Shirts</category>\n"
                                  "   <category id=\"2\">Scarves</category>\n"
                                  "   <category id=\"3\" parentId=\"1\">Blue</category>\n"
                                  "  </categories>\n"
                                  "  <offers>\n"
                                  "   <offer id=\"10\" available=\"true\">\n"
                                  "    <price>19.99</price><categoryId>3</categoryId>\n"
                                  "    <param name=\"size\">M</param>\n"
                                  "   </offer>\n"
                                  "   <offer id=\"11\"><price>5</price></offer>\n"
                                  "  </offers>\n"
                                  " </shop>\n"
                                  "</yml_catalog>\n",
                                  NULL, &g, &e),
                 0, "%s", e.msg);
    cr_assert_str_eq(g.dump.data, "#1 L10 @id=10|@available=true|price=19.99|categoryId=3|"
                                  "param@name=size|param=M\n"
                                  "#2 L14 @id=11|price=5\n");
    cr_expect_str_eq(g.record, "offer");
    buf_release(&g.dump);
}

/* Products that are all attributes, after a header element. */
Test(feed_xml, generic_attribute_rows)
{
    struct got g;
    struct err e;
    cr_assert_eq(parse_all_chunks("<export><header><count>2</count></header>"
                                  "<row sku=\"1\" price=\"2.50\"/>\n"
                                  "<row sku=\"2\" price=\"3.00\" note=\"a &amp; b\"/>\n"
                                  "</export>",
                                  NULL, &g, &e),
                 0, "%s", e.msg);
    cr_assert_str_eq(g.dump.data, "#1 L1 @sku=1|@price=2.50\n"
                                  "#2 L2 @sku=2|@price=3.00|@note=a & b\n");
    cr_expect_str_eq(g.record, "row");
    cr_expect_str_eq(g.raw1, "<row sku=\"1\" price=\"2.50\"/>");
    buf_release(&g.dump);
}

/* A whole feed of one product still gives it; a root whose children do not repeat, in a feed
 * that is not whole in the head, cannot be guessed: the error says what was there. */
Test(feed_xml, generic_one_product_and_none)
{
    expect_feed("<catalog><product><sku>1</sku><image>a</image><image>b</image></product>"
                "</catalog>",
                NULL, "#1 L1 sku=1|image=a|image=b\n");
    expect_error("<catalog><meta>x</meta><info><a>1</a></info></catalog>", NULL, "",
                 "cannot tell which element is a product: none repeats under the root <catalog> "
                 "in the first 54 bytes (it holds <meta>, <info>); name it with the record "
                 "element option");
    expect_error("<catalog/>", NULL, "",
                 "no product element: the root <catalog> holds no elements in the first 10 "
                 "bytes");
    /* the error comes once the reader is past the head: here, 100 KB of one big product */
    struct buf b;
    buf_init(&b, 0);
    buf_adds(&b, "<catalog><product><sku>1</sku>");
    for (int i = 0; i < 400; i++)
        buf_addf(&b, "<note>%04d: %0240d</note>\n", i, i);
    buf_adds(&b, "</product><product><sku>2</sku></product></catalog>");
    struct got g;
    struct err e;
    cr_assert_eq(parse_mem(b.data, b.len, 4096, NULL, &g, &e), TRAWL_EINVAL);
    cr_expect(strstr(e.msg, "none repeats under the root <catalog> in the first 65536 bytes (it "
                            "holds <product>)") != NULL,
              "%s", e.msg);
    cr_expect_eq(g.records, 0);
    cr_expect_eq(g.begins, 0);
    buf_release(&g.dump);
    /* ... and naming the element reads it */
    struct feed_opts o = {.record_element = "product"};
    cr_assert_eq(parse_mem(b.data, b.len, 4096, &o, &g, &e), 0, "%s", e.msg);
    cr_expect_eq(g.records, 2);
    cr_expect_str_eq(g.last_value, "2");
    buf_release(&g.dump);
    buf_release(&b);
}

Test(feed_xml, html_page_is_not_a_feed)
{
    expect_error("<html><head><title>Shop</title></head><body><p>a</p><p>b</p></body></html>", NULL,
                 "",
                 "the feed is an HTML page (its root element is <html>), not an XML product "
                 "feed");
}

/* The caller's element: matched by its local name at any depth (the outermost), or by its
 * qualified name when it has a prefix. */
Test(feed_xml, record_element_option)
{
    const char *xml = "<catalog>\n"
                      "<product><sku>1</sku><variants><variant><size>S</size></variant>"
                      "<variant><size>M</size></variant></variants></product>\n"
                      "<product><sku>2</sku><variants><variant><size>L</size></variant>"
                      "</variants></product>\n"
                      "<group><x:variant xmlns:x=\"urn:x\"><size>XL</size></x:variant></group>\n"
                      "</catalog>";
    struct feed_opts o = {.record_element = "variant"};
    struct got g;
    struct err e;
    cr_assert_eq(parse_all_chunks(xml, &o, &g, &e), 0, "%s", e.msg);
    cr_assert_str_eq(g.dump.data, "#1 L2 size=S\n#2 L2 size=M\n#3 L3 size=L\n#4 L4 size=XL\n");
    cr_expect_str_eq(g.record, "variant");
    buf_release(&g.dump);
    o.record_element = "x:variant";
    expect_feed(xml, &o, "#1 L4 size=XL\n");
    /* without it, the products are found */
    expect_feed(xml, NULL,
                "#1 L2 sku=1|variants/variant/size=S|variants/variant/size=M\n"
                "#2 L3 sku=2|variants/variant/size=L\n");
}

/* ---- fields ---- */

Test(feed_xml, attributes_and_empty_elements)
{
    expect_feed("<products xmlns:g=\"http://base.google.com/ns/1.0\">\n"
                "<product id=\"7\" xml:lang=\"de\">\n"
                "  <name lang=\"en\">Shirt</name>\n"
                "  <link href=\"https://a.example/7\"/>\n"
                "  <g:shipping><g:price currency=\"EUR\">4.95</g:price></g:shipping>\n"
                "  <empty/><blank>  </blank>\n"
                "  <image url=\"a.jpg\"></image>\n"
                "</product>\n"
                "<product id=\"8\"/>\n"
                "</products>\n",
                NULL,
                "#1 L2 @id=7|@xml:lang=de|name@lang=en|name=Shirt|link@href=https://a.example/7|"
                "g:shipping/g:price@currency=EUR|g:shipping/g:price=4.95|empty=|blank=|"
                "image@url=a.jpg\n"
                "#2 L9 @id=8\n");
}

/* Mixed content keeps the element's own text beside its children's; entities the DTD declares
 * stay as written (nothing is expanded from a DTD); character references are text. */
Test(feed_xml, mixed_content_and_entities)
{
    expect_feed("<?xml version=\"1.0\"?>\n"
                "<!DOCTYPE c [ <!ENTITY brand \"Acme\"> ]>\n"
                "<c><p><d>Great <b>bold</b> thing</d><n>&brand; &#233;&#x20AC;&lt;</n></p>"
                "<p><d><![CDATA[a]]> <![CDATA[b]]></d></p></c>",
                NULL,
                "#1 L3 d/b=bold|d=Great thing|n=&brand; \xc3\xa9\xe2\x82\xac<\n"
                "#2 L3 d=a b\n");
}

/* ---- hostile input ---- */

/* An external entity is never loaded: its reference stays as written. Nor is an external DTD. */
Test(feed_xml, external_entity_is_not_loaded)
{
    struct got g;
    struct err e;
    cr_assert_eq(parse_all_chunks("<?xml version=\"1.0\"?>\n"
                                  "<!DOCTYPE c [ <!ENTITY x SYSTEM \"file:///etc/passwd\"> ]>\n"
                                  "<c><p><name>a &x; b</name></p><p><name>c</name></p></c>",
                                  NULL, &g, &e),
                 0, "%s", e.msg);
    cr_assert_str_eq(g.dump.data, "#1 L3 name=a &x; b\n#2 L3 name=c\n");
    cr_expect(strstr(g.raw1, "root:") == NULL, "raw: %s", g.raw1);
    buf_release(&g.dump);
    expect_feed("<?xml version=\"1.0\"?>\n"
                "<!DOCTYPE c SYSTEM \"http://127.0.0.1:9/c.dtd\">\n"
                "<c><p><name>a</name></p><p><name>b</name></p></c>",
                NULL, "#1 L3 name=a\n#2 L3 name=b\n");
}

/* A billion laughs: libxml2 refuses the amplification at once, in little memory. */
Test(feed_xml, entity_bomb)
{
    struct buf b;
    buf_init(&b, 0);
    buf_adds(&b, "<?xml version=\"1.0\"?>\n<!DOCTYPE c [\n <!ENTITY l0 \"lol\">\n");
    for (int i = 1; i < 10; i++) {
        buf_addf(&b, " <!ENTITY l%d \"", i);
        for (int j = 0; j < 10; j++)
            buf_addf(&b, "&l%d;", i - 1);
        buf_adds(&b, "\">\n");
    }
    buf_adds(&b, "]>\n<c><p><n>1</n></p><p><n>&l9;</n></p><p><n>3</n></p></c>\n");
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    struct got g;
    struct err e;
    int rc = parse_all_chunks(b.data, NULL, &g, &e);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    cr_assert_eq(rc, TRAWL_EINVAL, "%s", e.msg);
    cr_expect_str_eq(e.msg, "malformed XML at line 14, column 29: detected an entity reference "
                            "loop");
    cr_expect_str_eq(g.dump.data, "#1 L14 n=1\n");
    cr_expect_lt(t1.tv_sec - t0.tv_sec, 2);
    expect_peak_under_mb(32);
    buf_release(&g.dump);
    buf_release(&b);
}

Test(feed_xml, malformed_mid_feed)
{
    expect_error("<catalog>\n"
                 "<product><sku>1</sku></product>\n"
                 "<product><sku>2</sku></product>\n"
                 "<product><sku>3</sku></product>\n"
                 "<product><sku>4</sku</product>\n"
                 "<product><sku>5</sku></product>\n"
                 "</catalog>\n",
                 NULL, "#1 L2 sku=1\n#2 L3 sku=2\n#3 L4 sku=3\n",
                 "malformed XML at line 5, column 21: expected '>'");
    expect_error("<catalog>\n<product><sku>1</sku></product>\n<product><sku>2</x></product>\n",
                 NULL, "#1 L2 sku=1\n",
                 "malformed XML at line 3, column 20: opening and ending tag mismatch: sku line "
                 "3 and x");
}

Test(feed_xml, truncated_feed)
{
    expect_error("<catalog>\n<product><sku>1</sku></product>\n<product><sku>2</sku></product>\n"
                 "<product>\n<sku>3",
                 NULL, "#1 L2 sku=1\n#2 L3 sku=2\n",
                 "malformed XML at line 5, column 6: the feed ends before <catalog> (line 1) "
                 "is closed (truncated?)");
}

Test(feed_xml, not_xml)
{
    struct feed_opts o = {.format = FEED_XML};
    expect_error("{\"products\": [1, 2]}", &o, "",
                 "the feed is not XML: at line 1, column 1: document is empty");
    expect_error("<", NULL, "",
                 "the feed is not XML: at line 1, column 1: extra content at the end of the "
                 "document");
    struct got g;
    struct err e;
    cr_assert_eq(parse_mem("", 0, 1, &o, &g, &e), TRAWL_EINVAL);
    cr_expect_str_eq(e.msg, "the feed is empty");
    buf_release(&g.dump);
}

/* A million levels, made as they are read: the depth cap stops it at once. */
static size_t gen_deep(struct lazy *z, char *out)
{
    if (z->i >= z->n)
        return 0;
    size_t k = 0;
    if (z->i == 0) {
        static const char start[] = "<c>\n<p><n>1</n></p>\n<p>";
        memcpy(out, start, sizeof start - 1);
        k = sizeof start - 1;
    }
    while (k + 3 <= 4096 && z->i < z->n) {
        memcpy(out + k, "<a>", 3);
        k += 3;
        z->i++;
    }
    return k;
}

Test(feed_xml, too_deep)
{
    struct lazy z = {.gen = gen_deep, .n = 1000000};
    struct got g;
    got_init(&g);
    struct err e;
    struct feed_stats st;
    cr_assert_eq(parse_with(NULL, lazy_read, &z, &g, &st, &e), TRAWL_EINVAL);
    cr_expect_str_eq(e.msg, "the XML nests deeper than 64 elements at line 3 (the depth cap)");
    cr_expect_str_eq(g.dump.data, "#1 L2 n=1\n");
    cr_expect_lt(st.bytes_in, 1 << 20, "read %lld bytes", (long long)st.bytes_in);
    /* a cap of the caller's */
    struct feed_opts o = {.depth_max = 4};
    expect_error("<c><p><a><b>1</b></a></p><p><a><b><x>2</x></b></a></p></c>", &o, "#1 L1 a/b=1\n",
                 "the XML nests deeper than 4 elements at line 1 (the depth cap)");
    expect_peak_under_mb(32);
    buf_release(&g.dump);
}

/* 100 MB of text in one field, made as it is read: libxml2 stops a text node at 10 MB, so memory
 * stays well under the text's size and the error names the field. */
static size_t gen_huge_text(struct lazy *z, char *out)
{
    switch (z->stage) {
    case 0:
        z->stage = 1;
        return (size_t)sprintf(out, "<catalog>\n<product><sku>1</sku></product>\n"
                                    "<product><sku>2</sku><title>");
    case 1:
        memset(out, 'x', 4096);
        z->i += 4096;
        if (z->i >= z->n)
            z->stage = 2;
        return 4096;
    case 2:
        z->stage = 3;
        return (size_t)sprintf(out, "</title></product>\n</catalog>\n");
    default:
        return 0;
    }
}

Test(feed_xml, huge_text_node, .timeout = 30)
{
    struct lazy z = {.gen = gen_huge_text, .n = 100 << 20};
    struct got g;
    got_init(&g);
    struct err e;
    struct feed_stats st;
    cr_assert_eq(parse_with(NULL, lazy_read, &z, &g, &st, &e), TRAWL_EINVAL);
    cr_expect_str_eq(e.msg, "field title of product 2 (line 3) is longer than 10000000 bytes, "
                            "libxml2's cap on a text");
    cr_expect_str_eq(g.dump.data, "#1 L2 sku=1\n");
    cr_expect_lt(st.bytes_in, 20 << 20, "read %lld bytes", (long long)st.bytes_in);
    expect_peak_under_mb(48);
    buf_release(&g.dump);
}

/* A value over field_max, or a product with more than fields_max fields, is a row error: that
 * product is skipped and the next ones are read. */
Test(feed_xml, field_caps_are_row_errors)
{
    struct buf b;
    buf_init(&b, 0);
    buf_adds(&b, "<catalog>\n<product><sku>1</sku></product>\n<product><sku>2</sku><title>");
    for (int i = 0; i < 300; i++)
        buf_adds(&b, "abcdefghij");
    buf_adds(&b, "</title><more>x</more></product>\n"
                 "<product><sku>3</sku><title>  exactly the cap  \n</title></product>\n"
                 "<product><sku>4</sku><a>1</a><b>2</b><c>3</c></product>\n"
                 "<product><sku>5</sku><d x=\"12345678901234567890\"/></product>\n"
                 "</catalog>\n");
    struct feed_opts o = {.field_max = 15, .fields_max = 3};
    struct got g;
    struct err e;
    cr_assert_eq(parse_all_chunks(b.data, &o, &g, &e), 0, "%s", e.msg);
    cr_assert_str_eq(g.dump.data, "#1 L2 sku=1\n"
                                  "!2 L3 field title is longer than 15 bytes\n"
                                  "#3 L4 sku=3|title=exactly the cap\n"
                                  "!4 L6 more than 3 fields\n"
                                  "!5 L7 field d@x is longer than 15 bytes\n");
    cr_expect_eq(g.records, 2);
    cr_expect_eq(g.row_errors, 3);
    /* the row error's raw text is the product as read */
    cr_expect(strncmp(g.errraw, "<product><sku>2</sku><title>abcdefghij", 38) == 0, "raw: %s",
              g.errraw);
    size_t n = strlen(g.errraw);
    cr_expect(strcmp(g.errraw + n - 32, "</title><more>x</more></product>") == 0, "raw: %s",
              g.errraw);
    buf_release(&g.dump);
    buf_release(&b);
}

/* Under the default cap (1 MB), a 2 MB description is a row error too, in bounded memory. */
Test(feed_xml, two_megabyte_value_is_a_row_error)
{
    struct buf b;
    buf_init(&b, 0);
    buf_adds(&b, "<catalog><product><sku>1</sku></product><product><sku>2</sku><description>");
    for (int i = 0; i < (2 << 20) / 8; i++)
        buf_adds(&b, "12345678");
    buf_adds(&b, "</description></product><product><sku>3</sku></product></catalog>");
    struct got g;
    struct err e;
    cr_assert_eq(parse_mem(b.data, b.len, 65536, NULL, &g, &e), 0, "%s", e.msg);
    cr_assert_str_eq(g.dump.data, "#1 L1 sku=1\n"
                                  "!2 L1 field description is longer than 1048576 bytes\n"
                                  "#3 L1 sku=3\n");
    expect_peak_under_mb(32);
    buf_release(&g.dump);
    buf_release(&b);
}

/* ---- streaming ---- */

Test(feed_xml, same_records_whatever_the_chunks)
{
    /* parse_all_chunks compares 1, 7, 4096 bytes and whole; here also sizes around libxml2's
     * own buffers */
    struct got whole, g;
    struct err e;
    cr_assert_eq(parse_mem(google_rss, strlen(google_rss), SIZE_MAX, NULL, &whole, &e), 0);
    for (size_t chunk = 1; chunk < 700; chunk += 37) {
        cr_assert_eq(parse_mem(google_rss, strlen(google_rss), chunk, NULL, &g, &e), 0, "%zu: %s",
                     chunk, e.msg);
        cr_assert_str_eq(g.dump.data, whole.dump.data, "chunks of %zu", chunk);
        buf_release(&g.dump);
    }
    cr_expect_eq(whole.records, 2);
    buf_release(&whole.dump);
}

/* libxml2's reader gives none of the nodes it parsed in the chunk where the parser failed; the
 * products before the error come all the same, whatever the chunks, wherever the error is. */
Test(feed_xml, records_before_an_error_whatever_the_chunks, .timeout = 30)
{
    static const struct {
        const char *tail, *msg;
        int records;
    } cases[] = {
        {"<p><n>31</x></p></c>", "opening and ending tag mismatch: n line 32 and x", 30},
        {"<p><n>31</n></p>\n<", "the feed ends before <c> (line 1) is closed (truncated?)", 31},
        {"<p><n>31</n></p>\n</c>junk", "extra content at the end of the document", 31},
        {"<p><n>31</n><n>32", "the feed ends before <c> (line 1) is closed (truncated?)", 30},
        {"<p><n a='1' a='2'>31</n></p></c>", "attribute a redefined", 30},
        {"<p><n>31</n></p>\n&undefined;</c>", "entity 'undefined' not defined", 31},
        /* the limit of walking the tree: nothing was parsed after product 31, so whether it
         * was closed cannot be told; it is not given, in any chunks */
        {"<p><n>31</n></p><", "the feed ends before <c> (line 1) is closed (truncated?)", 30},
    };
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        struct buf b;
        buf_init(&b, 0);
        buf_adds(&b, "<c>\n");
        for (int i = 1; i <= 30; i++)
            buf_addf(&b, "<p><n>%d</n><m>product %d</m></p>\n", i, i);
        buf_adds(&b, cases[c].tail);
        struct got whole, g;
        struct err e, e2;
        cr_assert_eq(parse_mem(b.data, b.len, SIZE_MAX, NULL, &whole, &e), TRAWL_EINVAL);
        cr_expect(strstr(e.msg, cases[c].msg) != NULL, "case %zu: %s", c, e.msg);
        cr_expect_eq(whole.records, cases[c].records, "case %zu: %lld records", c,
                     (long long)whole.records);
        for (size_t chunk = 1; chunk <= 1100; chunk += chunk < 40 ? 1 : 13) {
            cr_assert_eq(parse_mem(b.data, b.len, chunk, NULL, &g, &e2), TRAWL_EINVAL);
            cr_assert_str_eq(g.dump.data, whole.dump.data, "case %zu, chunks of %zu", c, chunk);
            cr_assert_str_eq(e2.msg, e.msg, "case %zu, chunks of %zu", c, chunk);
            buf_release(&g.dump);
        }
        buf_release(&whole.dump);
        buf_release(&b);
    }
}

/* A million small products, made as they are read, each on its own line: every one counted,
 * the last one's line exact past libxml2's 16-bit line numbers. */
static size_t gen_million(struct lazy *z, char *out)
{
    if (z->stage == 0) {
        z->stage = 1;
        return (size_t)sprintf(out, "<?xml version=\"1.0\"?>\n<products>\n");
    }
    if (z->stage == 2)
        return 0;
    size_t k = 0;
    while (k + 64 < 4096 && z->i < z->n) {
        z->i++;
        k += (size_t)sprintf(out + k, "<p>\n<id>%lld</id>\n</p>\n", (long long)z->i);
    }
    if (z->i == z->n && k + 64 < 4096) {
        k += (size_t)sprintf(out + k, "</products>\n");
        z->stage = 2;
    }
    return k;
}

Test(feed_xml, million_products, .timeout = 60)
{
    struct lazy z = {.gen = gen_million, .n = 1000000};
    struct got g;
    got_init(&g);
    g.count_only = true;
    struct err e;
    struct feed_stats st;
    cr_assert_eq(parse_with(NULL, lazy_read, &z, &g, &st, &e), 0, "%s", e.msg);
    cr_expect_eq(g.records, 1000000);
    cr_expect_eq(st.records, 1000000);
    cr_expect_eq(g.last_number, 1000000);
    cr_expect_eq(g.last_line, 3 + 3 * (1000000 - 1), "last line %lld", (long long)g.last_line);
    cr_expect_str_eq(g.last_value, "1000000");
    expect_peak_under_mb(32);
    buf_release(&g.dump);
}

/* Lines past 65535 stay exact in tiny chunks too, and for products written on one line. */
Test(feed_xml, big_line_numbers_in_any_chunks, .timeout = 30)
{
    struct buf b;
    buf_init(&b, 0);
    buf_adds(&b, "<products>\n");
    for (int i = 1; i <= 25000; i++)
        buf_addf(&b, "<p>\n<id>%d</id>\n</p>\n<q><id>%d</id></q>\n", i, i);
    buf_adds(&b, "</products>\n");
    struct feed_opts o = {.record_element = "p"};
    static const size_t chunks[] = {1, 7, 65536};
    for (size_t c = 0; c < 3; c++) {
        struct got g;
        struct err e;
        got_init(&g);
        struct fu_mem m = {b.data, b.len, 0, chunks[c]};
        g.count_only = true;
        cr_assert_eq(parse_with(&o, fu_mem_read, &m, &g, NULL, &e), 0, "%s", e.msg);
        cr_expect_eq(g.records, 25000);
        cr_expect_eq(g.last_line, 2 + 4 * 24999, "chunks of %zu: line %lld", chunks[c],
                     (long long)g.last_line);
        o.record_element = "q";
        m = (struct fu_mem){b.data, b.len, 0, chunks[c]};
        got_init(&g);
        g.count_only = true;
        cr_assert_eq(parse_with(&o, fu_mem_read, &m, &g, NULL, &e), 0, "%s", e.msg);
        cr_expect_eq(g.last_line, 5 + 4 * 24999, "chunks of %zu: line %lld", chunks[c],
                     (long long)g.last_line);
        o.record_element = "p";
    }
    buf_release(&b);
}

Test(feed_xml, sink_stops_the_parse)
{
    struct got g;
    got_init(&g);
    g.stop_at = 1;
    struct fu_mem m = {google_rss, strlen(google_rss), 0, 100};
    struct err e;
    cr_assert_eq(parse_with(NULL, fu_mem_read, &m, &g, NULL, &e), TRAWL_ECANCELLED);
    cr_expect_str_eq(e.msg, "the sink stopped at 1");
    cr_expect_eq(g.records, 1);
    buf_release(&g.dump);
}

/* ---- the layers under the parser ---- */

Test(feed_xml, gzip_feed)
{
    struct buf z;
    fu_gzip(google_rss, strlen(google_rss), &z);
    struct got plain, g;
    struct err e;
    cr_assert_eq(parse_mem(google_rss, strlen(google_rss), SIZE_MAX, NULL, &plain, &e), 0);
    cr_assert_eq(parse_mem(z.data, z.len, 7, NULL, &g, &e), 0, "%s", e.msg);
    cr_expect_eq(g.gzip, 1);
    cr_expect_eq(g.records, 2);
    cr_expect_str_eq(g.dump.data, plain.dump.data);
    buf_release(&g.dump);
    buf_release(&plain.dump);
    buf_release(&z);
}

Test(feed_xml, latin1_declared_and_not)
{
    struct got g;
    struct err e;
    const char *decl = "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>\n"
                       "<c><p><n>caf\xe9</n></p><p><n>\xa3 5</n></p></c>";
    cr_assert_eq(parse_all_chunks(decl, NULL, &g, &e), 0, "%s", e.msg);
    cr_expect_str_eq(g.dump.data, "#1 L2 n=caf\xc3\xa9\n#2 L2 n=\xc2\xa3 5\n");
    cr_expect_str_eq(g.encoding, "ISO-8859-1");
    buf_release(&g.dump);
    /* no declaration: libxml2 would take it for broken UTF-8; the sniffed charset is used */
    expect_feed("<c><p><n>caf\xe9</n></p><p><n>\x80 5</n></p></c>", NULL,
                "#1 L1 n=caf\xc3\xa9\n#2 L1 n=\xe2\x82\xac 5\n");
    /* a declaration that lies is the feed's fault */
    expect_error("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<c><p><n>caf\xe9</n></p></c>", NULL,
                 "",
                 "malformed XML at line 2, column 13: input is not proper UTF-8, indicate "
                 "encoding !");
}

/* UTF-16 with a BOM, made from ASCII in the test. */
static size_t utf16le(const char *s, char *out, const char *special, size_t nspecial)
{
    size_t k = 0;
    out[k++] = (char)0xff;
    out[k++] = (char)0xfe;
    for (; *s; s++) {
        if (*s == '~') { /* a stand-in for the special UTF-16 code units */
            memcpy(out + k, special, nspecial);
            k += nspecial;
            continue;
        }
        out[k++] = *s;
        out[k++] = 0;
    }
    return k;
}

Test(feed_xml, utf16_with_bom)
{
    char buf[512];
    /* e9 00: é; ac 20: € */
    size_t n = utf16le("<?xml version=\"1.0\" encoding=\"UTF-16\"?>\n"
                       "<c><p><n>caf~</n></p><p><n>x</n></p></c>",
                       buf, "\xe9\x00\xac\x20", 4);
    struct got g;
    struct err e;
    cr_assert_eq(parse_mem(buf, n, 7, NULL, &g, &e), 0, "%s", e.msg);
    cr_expect_str_eq(g.dump.data, "#1 L2 n=caf\xc3\xa9\xe2\x82\xac\n#2 L2 n=x\n");
    buf_release(&g.dump);
    n = utf16le("<c><p><n>~</n></p><p><n>x</n></p></c>", buf, "\xe9\x00", 2);
    cr_assert_eq(parse_mem(buf, n, 1, NULL, &g, &e), 0, "%s", e.msg);
    cr_expect_str_eq(g.dump.data, "#1 L1 n=\xc3\xa9\n#2 L1 n=x\n");
    buf_release(&g.dump);
}

/* Blank lines before the declaration (a template's slip) are skipped, and counted in lines. */
Test(feed_xml, blank_lines_before_the_declaration)
{
    expect_feed("\n\n  <?xml version=\"1.0\"?>\n<c>\n<p><n>1</n></p>\n<p><n>2</n></p></c>", NULL,
                "#1 L5 n=1\n#2 L6 n=2\n");
    expect_error("\n\n<?xml version=\"1.0\"?>\n<c>\n<p><n>1</n></p>\n<p><n>2</x></p></c>", NULL,
                 "#1 L5 n=1\n",
                 "malformed XML at line 6, column 12: opening and ending tag mismatch: n line 6 "
                 "and x");
}

/* libxml2 says nothing on stderr, whatever the input. */
Test(feed_xml, nothing_on_stderr, .init = cr_redirect_stderr)
{
    const char *bad[] = {
        "<c><p><n>1</n></p><p><n>2</x></p></c>",
        "<?xml version=\"1.0\"?>\n<!DOCTYPE c [ <!ENTITY x SYSTEM \"file:///nonexistent\"> ]>"
        "<c><p><n>&x;</n></p><p/></c>",
        "<c><g:p><g:n>1</g:n></g:p><g:p/></c>",
        "<c xmlns:a=\"rel/uri\"><p a:b=\"1\"/><p/></c>",
        "<?xml version=\"1.0\" encoding=\"nonsense-charset\"?><c><p/><p/></c>",
        "<c><p><n>\xff\xfe</n></p></c>",
        "<c><p>&undefined;</p></c>",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        struct got g;
        struct err e;
        parse_mem(bad[i], strlen(bad[i]), 5, NULL, &g, &e);
        buf_release(&g.dump);
    }
    fflush(stderr);
    cr_assert_stderr_eq_str("");
}
