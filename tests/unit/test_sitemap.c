/* Sitemaps: the shapes sites publish (namespaced or not, indented, gzipped, CDATA, extensions)
 * and the ones a crawler must survive (broken XML, feeds and garbage served as sitemaps, gzip
 * bombs, entity bombs, external entities, too many entries). */
#include "base/buf.h"
#include "parse/sitemap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>

#include <criterion/criterion.h>

#define NS   "http://www.sitemaps.org/schemas/sitemap/0.9"
#define HEAD "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"

static int parse_str(const char *xml, struct sitemap *s, struct err *e)
{
    err_clear(e);
    return sitemap_parse(xml, strlen(xml), s, e);
}

/* Parse a document that must be a sitemap; fails the test otherwise. */
static void parse_ok(const char *xml, struct sitemap *s)
{
    struct err e;
    int rc = parse_str(xml, s, &e);
    cr_assert_eq(rc, 0, "sitemap_parse: %s", e.msg);
}

static void expect_entry(const struct sitemap *s, size_t i, const char *loc, const char *lastmod)
{
    cr_assert_lt(i, s->n, "entry %zu missing (%zu entries)", i, s->n);
    cr_expect_str_eq(s->entries[i].loc, loc);
    if (lastmod)
        cr_expect(s->entries[i].lastmod && strcmp(s->entries[i].lastmod, lastmod) == 0,
                  "entry %zu: lastmod %s, expected %s", i,
                  s->entries[i].lastmod ? s->entries[i].lastmod : "(null)", lastmod);
    else
        cr_expect_null(s->entries[i].lastmod, "entry %zu: lastmod %s, expected none", i,
                       s->entries[i].lastmod ? s->entries[i].lastmod : "");
}

/* A gzip stream of whatever gen() produces, compressed as it is produced, so that a test can
 * compress hundreds of megabytes without holding them. gen returns 0 when done. */
typedef size_t (*gen_fn)(void *arg, char *out, size_t cap);

static void gzip_gen(gen_fn gen, void *arg, struct buf *out)
{
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    cr_assert_eq(deflateInit2(&zs, 9, Z_DEFLATED, 16 + MAX_WBITS, 9, Z_DEFAULT_STRATEGY), Z_OK);
    static char in[1 << 16];
    unsigned char chunk[1 << 16];
    buf_init(out, 0);
    int flush = Z_NO_FLUSH;
    while (flush != Z_FINISH) {
        size_t n = gen(arg, in, sizeof in);
        flush = n ? Z_NO_FLUSH : Z_FINISH;
        zs.next_in = (unsigned char *)in;
        zs.avail_in = (uInt)n;
        do {
            zs.next_out = chunk;
            zs.avail_out = sizeof chunk;
            int zr = deflate(&zs, flush);
            cr_assert(zr == Z_OK || zr == Z_STREAM_END || zr == Z_BUF_ERROR);
            cr_assert_eq(buf_add(out, chunk, sizeof chunk - zs.avail_out), 0);
        } while (zs.avail_out == 0);
    }
    deflateEnd(&zs);
}

struct str_gen {
    const char *s;
    size_t len, pos;
};

static size_t str_gen(void *arg, char *out, size_t cap)
{
    struct str_gen *g = arg;
    size_t n = g->len - g->pos < cap ? g->len - g->pos : cap;
    memcpy(out, g->s + g->pos, n);
    g->pos += n;
    return n;
}

static void gzip_str(const char *s, struct buf *out)
{
    struct str_gen g = {s, strlen(s), 0};
    gzip_gen(str_gen, &g, out);
}

/* A urlset of n entries http://example.com/page/<i>, with a lastmod on every one. */
static void make_urlset(struct buf *b, size_t n)
{
    buf_init(b, 0);
    cr_assert_eq(buf_adds(b, HEAD "<urlset xmlns=\"" NS "\">\n"), 0);
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(buf_addf(b,
                              "  <url><loc>http://example.com/page/%zu</loc>"
                              "<lastmod>2024-01-%02zu</lastmod></url>\n",
                              i, i % 28 + 1),
                     0);
    cr_assert_eq(buf_adds(b, "</urlset>\n"), 0);
}

static void expect_page_entries(const struct sitemap *s, size_t n)
{
    char want[64];
    for (size_t i = 0; i < n && i < s->n; i++) {
        snprintf(want, sizeof want, "http://example.com/page/%zu", i);
        cr_assert_str_eq(s->entries[i].loc, want, "entry %zu", i);
    }
}

Test(sitemap, urlset_with_lastmod)
{
    struct sitemap s;
    parse_ok(HEAD "<urlset xmlns=\"" NS "\">\n"
                  "  <url>\n"
                  "    <loc>https://example.com/</loc>\n"
                  "    <lastmod>2024-05-01T10:00:00+00:00</lastmod>\n"
                  "    <changefreq>daily</changefreq>\n"
                  "    <priority>0.8</priority>\n"
                  "  </url>\n"
                  "  <url><loc>https://example.com/about?a=1&amp;b=2</loc></url>\n"
                  "  <url><lastmod>2024-01-01</lastmod><loc>https://example.com/x</loc></url>\n"
                  "</urlset>\n",
             &s);
    cr_expect_not(s.is_index);
    cr_assert_eq(s.n, 3);
    expect_entry(&s, 0, "https://example.com/", "2024-05-01T10:00:00+00:00");
    expect_entry(&s, 1, "https://example.com/about?a=1&b=2", NULL);
    expect_entry(&s, 2, "https://example.com/x", "2024-01-01");
    cr_expect_str_empty(s.warning);
    sitemap_release(&s);
}

Test(sitemap, sitemapindex)
{
    struct sitemap s;
    parse_ok(HEAD "<sitemapindex xmlns=\"" NS "\">\n"
                  "  <sitemap><loc>https://example.com/sitemap-1.xml.gz</loc>"
                  "<lastmod>2024-05-01</lastmod></sitemap>\n"
                  "  <sitemap><loc>https://example.com/sitemap-2.xml</loc></sitemap>\n"
                  "</sitemapindex>\n",
             &s);
    cr_expect(s.is_index);
    cr_assert_eq(s.n, 2);
    expect_entry(&s, 0, "https://example.com/sitemap-1.xml.gz", "2024-05-01");
    expect_entry(&s, 1, "https://example.com/sitemap-2.xml", NULL);
    cr_expect_str_empty(s.warning);
    sitemap_release(&s);
}

/* Cycles are the caller's business: at this level an index listing itself is an index. */
Test(sitemap, index_listing_itself)
{
    struct sitemap s;
    parse_ok("<sitemapindex xmlns=\"" NS "\"><sitemap><loc>https://example.com/sitemap.xml</loc>"
             "</sitemap></sitemapindex>",
             &s);
    cr_expect(s.is_index);
    cr_assert_eq(s.n, 1);
    expect_entry(&s, 0, "https://example.com/sitemap.xml", NULL);
    sitemap_release(&s);
}

Test(sitemap, no_namespace)
{
    struct sitemap s;
    parse_ok("<urlset><url><loc>http://a.example/1</loc><lastmod>2023-12-31</lastmod></url>"
             "<url><loc>http://a.example/2</loc></url></urlset>",
             &s);
    cr_assert_eq(s.n, 2);
    expect_entry(&s, 0, "http://a.example/1", "2023-12-31");
    expect_entry(&s, 1, "http://a.example/2", NULL);
    cr_expect_str_empty(s.warning);
    sitemap_release(&s);

    parse_ok("<sitemapindex><sitemap><loc>http://a.example/s.xml</loc></sitemap></sitemapindex>",
             &s);
    cr_expect(s.is_index);
    cr_assert_eq(s.n, 1);
    sitemap_release(&s);
}

/* A prefixed sitemap namespace, and the extensions Google documents (image, video, hreflang
 * links): their <loc> elements must not become entries. */
Test(sitemap, namespaces_and_extensions)
{
    struct sitemap s;
    parse_ok(HEAD "<sm:urlset xmlns:sm=\"" NS "\">"
                  "<sm:url><sm:loc>http://a.example/p</sm:loc></sm:url></sm:urlset>",
             &s);
    cr_assert_eq(s.n, 1);
    expect_entry(&s, 0, "http://a.example/p", NULL);
    sitemap_release(&s);

    parse_ok(HEAD "<urlset xmlns=\"" NS "\"\n"
                  "  xmlns:image=\"http://www.google.com/schemas/sitemap-image/1.1\"\n"
                  "  xmlns:xhtml=\"http://www.w3.org/1999/xhtml\">\n"
                  "<url><image:image><image:loc>http://a.example/i.jpg</image:loc></image:image>"
                  "<xhtml:link rel=\"alternate\" hreflang=\"de\" href=\"http://a.example/de\"/>"
                  "<loc>http://a.example/page</loc></url>\n"
                  "<url><image:image><image:loc>http://a.example/only-image.jpg</image:loc>"
                  "</image:image></url>\n"
                  "<url><loc><nested>http://a.example/nested</nested></loc></url>\n"
                  "<url><ext:loc xmlns:ext=\"http://ext.example/\">http://a.example/ext</ext:loc>"
                  "<loc>http://a.example/second</loc></url>\n"
                  "<ext:url xmlns:ext=\"http://ext.example/\"><loc>http://a.example/no</loc>"
                  "</ext:url>\n"
                  "</urlset>",
             &s);
    cr_assert_eq(s.n, 2, "%zu entries", s.n);
    expect_entry(&s, 0, "http://a.example/page", NULL);
    expect_entry(&s, 1, "http://a.example/second", NULL);
    cr_expect_str_empty(s.warning);
    sitemap_release(&s);
}

Test(sitemap, whitespace_around_values)
{
    struct sitemap s;
    parse_ok("\n\n  <?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
             "<urlset xmlns=\"" NS "\">\n"
             "<url><loc>\n\t  http://a.example/x  \n\t</loc>"
             "<lastmod>\n  2024-02-03 \n</lastmod></url>\n"
             "<url><loc>   </loc></url>\n"
             "<url><loc></loc><lastmod>2024-01-01</lastmod></url>\n"
             "<url><loc><![CDATA[ http://a.example/cdata?a=1&b=2 ]]></loc>"
             "<lastmod>  </lastmod></url>\n"
             "</urlset>\n",
             &s);
    cr_assert_eq(s.n, 2, "%zu entries", s.n);
    expect_entry(&s, 0, "http://a.example/x", "2024-02-03");
    expect_entry(&s, 1, "http://a.example/cdata?a=1&b=2", NULL);
    cr_expect_str_empty(s.warning);
    sitemap_release(&s);
}

Test(sitemap, long_loc_skipped)
{
    size_t n = 20000; /* more than the parser's own buffer for a <loc> */
    char *huge = malloc(n + 1);
    memset(huge, 'a', n);
    huge[n] = '\0';
    /* exactly 8192 bytes once trimmed is kept; 8193 is not */
    char *edge = malloc(8194);
    memset(edge, 'b', 8193);
    edge[8193] = '\0';
    struct buf b;
    buf_init(&b, 0);
    cr_assert_eq(buf_addf(&b,
                          "<urlset><url><loc>http://a.example/1</loc></url>"
                          "<url><loc>http://a.example/%s</loc></url>"
                          "<url><loc>\n    http://%.8185s\n  </loc></url>"
                          "<url><loc>http://%s</loc></url>"
                          "<url><loc>http://a.example/2</loc></url></urlset>",
                          huge, edge, edge),
                 0);
    struct sitemap s;
    parse_ok(b.data, &s);
    cr_assert_eq(s.n, 3, "%zu entries", s.n);
    expect_entry(&s, 0, "http://a.example/1", NULL);
    cr_expect_eq(strlen(s.entries[1].loc), 8192);
    expect_entry(&s, 2, "http://a.example/2", NULL);
    cr_expect_str_eq(s.warning, "2 <loc> longer than 8192 bytes skipped");
    sitemap_release(&s);
    buf_release(&b);
    free(huge);
    free(edge);
}

Test(sitemap, gzipped)
{
    struct buf xml, gz;
    make_urlset(&xml, 100);
    gzip_str(xml.data, &gz);
    cr_assert_lt(gz.len, xml.len);
    struct sitemap s;
    struct err e;
    cr_assert_eq(sitemap_parse(gz.data, gz.len, &s, &e), 0, "%s", e.msg);
    cr_assert_eq(s.n, 100);
    expect_page_entries(&s, 100);
    expect_entry(&s, 99, "http://example.com/page/99", "2024-01-16");
    cr_expect_str_empty(s.warning);
    sitemap_release(&s);

    /* Two members one after the other, as `cat a.gz b.gz` makes: one stream to gzip -d. */
    const char *part1 = "<urlset><url><loc>http://a.example/1</loc></url>";
    const char *part2 = "<url><loc>http://a.example/2</loc></url></urlset>";
    struct buf g1, g2;
    gzip_str(part1, &g1);
    gzip_str(part2, &g2);
    cr_assert_eq(buf_add(&g1, g2.data, g2.len), 0);
    cr_assert_eq(sitemap_parse(g1.data, g1.len, &s, &e), 0, "%s", e.msg);
    cr_assert_eq(s.n, 2);
    expect_entry(&s, 1, "http://a.example/2", NULL);
    cr_expect_str_empty(s.warning);
    sitemap_release(&s);

    buf_release(&g1);
    buf_release(&g2);
    buf_release(&xml);
    buf_release(&gz);
}

Test(sitemap, gzip_truncated)
{
    struct buf xml, gz;
    make_urlset(&xml, 5000);
    gzip_str(xml.data, &gz);
    struct sitemap s;
    struct err e;
    cr_assert_eq(sitemap_parse(gz.data, gz.len / 2, &s, &e), 0, "%s", e.msg);
    cr_expect_gt(s.n, 100);
    cr_expect_lt(s.n, 5000);
    expect_page_entries(&s, s.n);
    char want[128];
    snprintf(want, sizeof want, "the gzip data ends early; the first %zu entries are kept", s.n);
    cr_expect_str_eq(s.warning, want);
    sitemap_release(&s);

    /* A wrong CRC in the trailer: everything was inflated, and is kept, with a warning. */
    gz.data[gz.len - 8] ^= 0x55;
    cr_assert_eq(sitemap_parse(gz.data, gz.len, &s, &e), 0, "%s", e.msg);
    cr_expect_eq(s.n, 5000);
    cr_expect_str_eq(s.warning,
                     "the gzip data is corrupt (incorrect data check); the first 5000 entries "
                     "are kept");
    sitemap_release(&s);

    /* Nothing but the magic bytes and garbage: not a sitemap at all. */
    const char bad[] = "\x1f\x8b\x08\x00garbage garbage garbage";
    cr_expect_eq(sitemap_parse(bad, sizeof bad - 1, &s, &e), TRAWL_EINVAL);
    cr_expect(strncmp(e.msg, "not a sitemap: the gzip data", 28) == 0, "%s", e.msg);
    cr_expect_eq(s.n, 0);
    cr_expect_null(s.entries);
    buf_release(&xml);
    buf_release(&gz);
}

/* 200 MB that inflates from about 200 KB: three real entries, then <url/> after <url/> (no
 * <loc>, so the 50000-entry cap never ends the reading first). */
struct bomb_gen {
    size_t produced, total;
    bool head_done;
};

static size_t bomb_gen(void *arg, char *out, size_t cap)
{
    struct bomb_gen *g = arg;
    if (!g->head_done) {
        g->head_done = true;
        int n = snprintf(out, cap,
                         HEAD "<urlset xmlns=\"" NS "\"><url><loc>http://a.example/1</loc></url>"
                              "<url><loc>http://a.example/2</loc></url>"
                              "<url><loc>http://a.example/3</loc></url>");
        g->produced += (size_t)n;
        return (size_t)n;
    }
    if (g->produced >= g->total)
        return 0;
    static const char unit[] = "<url></url>";
    size_t n = 0;
    while (n + sizeof unit - 1 <= cap) {
        memcpy(out + n, unit, sizeof unit - 1);
        n += sizeof unit - 1;
    }
    g->produced += n;
    return n;
}

Test(sitemap, gzip_bomb, .timeout = 30)
{
    struct bomb_gen g = {0, 200u << 20, false};
    struct buf gz;
    gzip_gen(bomb_gen, &g, &gz);
    cr_assert_lt(gz.len, 1u << 20, "the bomb is %zu bytes", gz.len);
    struct sitemap s;
    struct err e;
    clock_t t0 = clock();
    cr_assert_eq(sitemap_parse(gz.data, gz.len, &s, &e), 0, "%s", e.msg);
    double secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
    cr_assert_eq(s.n, 3);
    expect_entry(&s, 2, "http://a.example/3", NULL);
    cr_expect_str_eq(s.warning, "sitemap is larger than 64 MiB after decompression; the first 3 "
                                "entries are kept");
    cr_log_info("gzip bomb: %zu compressed bytes, stopped after %.2f s of CPU", gz.len, secs);
    sitemap_release(&s);
    buf_release(&gz);
}

Test(sitemap, malformed_after_three_entries)
{
    struct sitemap s;
    parse_ok(HEAD "<urlset xmlns=\"" NS "\">\n"
                  "<url><loc>http://a.example/1</loc></url>\n"
                  "<url><loc>http://a.example/2</loc></url>\n"
                  "<url><loc>http://a.example/3</loc></url>\n"
                  "<url><loc>http://a.example/4</loc></urx>\n"
                  "<url><loc>http://a.example/5</loc></url>\n"
                  "</urlset>\n",
             &s);
    cr_assert_eq(s.n, 3);
    expect_entry(&s, 2, "http://a.example/3", NULL);
    cr_expect_str_eq(s.warning, "malformed XML at line 6: opening and ending tag mismatch: url "
                                "line 6 and urx; the first 3 entries are kept");
    sitemap_release(&s);

    /* A file cut off in the middle, as a dropped connection leaves it. */
    parse_ok("<urlset>\n<url><loc>http://a.example/1</loc></url>\n<url><loc>http://a.exa", &s);
    cr_assert_eq(s.n, 1);
    cr_expect(strncmp(s.warning, "malformed XML at line 3: ", 25) == 0, "%s", s.warning);
    sitemap_release(&s);
}

Test(sitemap, rss_feed_is_not_a_sitemap)
{
    struct sitemap s;
    struct err e;
    int rc = parse_str(HEAD "<rss version=\"2.0\"><channel><title>t</title>"
                            "<item><link>http://a.example/1</link></item></channel></rss>",
                       &s, &e);
    cr_assert_eq(rc, TRAWL_EINVAL);
    cr_expect_eq(e.code, TRAWL_EINVAL);
    cr_expect_str_eq(e.msg, "not a sitemap: the root element is <rss>");
    cr_expect_eq(s.n, 0);
    cr_expect_null(s.entries);
    sitemap_release(&s);

    rc = parse_str("<feed xmlns=\"http://www.w3.org/2005/Atom\"><entry/></feed>", &s, &e);
    cr_assert_eq(rc, TRAWL_EINVAL);
    cr_expect_str_eq(e.msg, "not a sitemap: the root element is <feed>");

    rc = parse_str("<!DOCTYPE html><html><body>404</body></html>", &s, &e);
    cr_assert_eq(rc, TRAWL_EINVAL);
    cr_expect_str_eq(e.msg, "not a sitemap: the root element is <html>");
}

Test(sitemap, binary_garbage_is_not_xml)
{
    unsigned char junk[4096];
    unsigned x = 12345;
    for (size_t i = 0; i < sizeof junk; i++) {
        x = x * 1103515245u + 12345u;
        junk[i] = (unsigned char)(x >> 16);
    }
    junk[0] = 0x89; /* not the gzip magic, and not '<' */
    struct sitemap s;
    struct err e;
    err_clear(&e);
    cr_assert_eq(sitemap_parse(junk, sizeof junk, &s, &e), TRAWL_EINVAL);
    cr_expect(strncmp(e.msg, "not XML: ", 9) == 0, "%s", e.msg);
    cr_expect_eq(s.n, 0);

    cr_assert_eq(parse_str("", &s, &e), TRAWL_EINVAL);
    cr_expect(strncmp(e.msg, "not XML: ", 9) == 0, "%s", e.msg);
    cr_assert_eq(sitemap_parse(NULL, 0, &s, &e), TRAWL_EINVAL);
    cr_assert_eq(parse_str("User-agent: *\nDisallow: /\n", &s, &e), TRAWL_EINVAL);
    cr_expect(strncmp(e.msg, "not XML: ", 9) == 0, "%s", e.msg);
    /* A plain-text list of URLs (sitemaps.org allows them) is not this parser's format. */
    cr_assert_eq(parse_str("http://a.example/1\nhttp://a.example/2\n", &s, &e), TRAWL_EINVAL);
}

Test(sitemap, billion_laughs_not_expanded, .timeout = 10)
{
    const char *doc =
        HEAD "<!DOCTYPE urlset [\n"
             " <!ENTITY lol \"lol\">\n"
             " <!ENTITY lol1 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">\n"
             " <!ENTITY lol2 \"&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;\">\n"
             " <!ENTITY lol3 \"&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;\">\n"
             " <!ENTITY lol4 \"&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;\">\n"
             " <!ENTITY lol5 \"&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;\">\n"
             " <!ENTITY lol6 \"&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;\">\n"
             " <!ENTITY lol7 \"&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;\">\n"
             " <!ENTITY lol8 \"&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;\">\n"
             " <!ENTITY lol9 \"&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;\">\n"
             "]>\n"
             "<urlset xmlns=\"" NS "\">\n"
             "<url><loc>http://a.example/before</loc></url>\n"
             "<url><loc>http://a.example/&lol9;</loc></url>\n"
             "<url><loc>http://a.example/after</loc></url>\n"
             "</urlset>\n";
    struct sitemap s;
    clock_t t0 = clock();
    parse_ok(doc, &s);
    double secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
    cr_expect_lt(secs, 1.0, "took %.2f s", secs);
    cr_assert_eq(s.n, 1);
    expect_entry(&s, 0, "http://a.example/before", NULL);
    cr_expect_str_eq(s.warning, "malformed XML at line 16: entity 'lol9' not defined; the first 1 "
                                "entries are kept");
    sitemap_release(&s);
}

/* XXE: an external entity must never be read, whether it names a file or a URL. */
Test(sitemap, external_entity_not_read)
{
    struct sitemap s;
    parse_ok(HEAD "<!DOCTYPE urlset [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">"
                  "<!ENTITY net SYSTEM \"http://127.0.0.1:1/x\">]>\n"
                  "<urlset><url><loc>http://a.example/&xxe;&net;</loc></url></urlset>",
             &s);
    cr_expect_eq(s.n, 0);
    for (size_t i = 0; i < s.n; i++)
        cr_expect_null(strstr(s.entries[i].loc, "root:"));
    cr_expect(strstr(s.warning, "entity 'xxe' not defined") != NULL, "%s", s.warning);
    sitemap_release(&s);
}

Test(sitemap, at_most_50000_entries)
{
    struct buf xml;
    make_urlset(&xml, SITEMAP_MAX_URLS + 1);
    struct sitemap s;
    parse_ok(xml.data, &s);
    cr_assert_eq(s.n, SITEMAP_MAX_URLS);
    expect_page_entries(&s, s.n);
    expect_entry(&s, 49999, "http://example.com/page/49999", "2024-01-20");
    cr_expect_str_eq(s.warning, "more than 50000 entries; the first 50000 are kept");
    sitemap_release(&s);
    buf_release(&xml);

    /* exactly 50000 is allowed */
    make_urlset(&xml, SITEMAP_MAX_URLS);
    parse_ok(xml.data, &s);
    cr_assert_eq(s.n, SITEMAP_MAX_URLS);
    cr_expect_str_empty(s.warning);
    sitemap_release(&s);
    buf_release(&xml);
}

Test(sitemap, release_accepts_null_and_empty)
{
    sitemap_release(NULL);
    struct sitemap s;
    memset(&s, 0, sizeof s);
    sitemap_release(&s);
    cr_expect_eq(s.n, 0);
}
