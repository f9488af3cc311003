/* HTML as the crawler reads it: broken markup and foreign encodings parsed without loss, the
 * links to follow, the page's metadata, its main content as text, Markdown and cleaned HTML, and
 * XPath and CSS selection, with the messages a user sees for a bad selector; pathological pages
 * (deep nesting, many nested matches) are handled in bounded time. */
#include "parse/html.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <criterion/criterion.h>
#include <libxml/HTMLtree.h>

#define N(a) (sizeof(a) / sizeof((a)[0]))

static struct html_doc *parse(const char *html, const char *url, const char *content_type)
{
    struct html_doc *d = NULL;
    struct err e = {0};
    int rc = html_parse(html, strlen(html), url, content_type, &d, &e);
    cr_assert_eq(rc, 0, "parse: %s", e.msg);
    cr_assert_not_null(d);
    return d;
}

/* CPU time of this process (each test runs in its own), so that tests running beside it do not
 * count. */
static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* Time limits are for an optimized build; sanitizers and valgrind (TRAWL_TEST_SLOW=factor) run
 * the same code several times slower. */
static double slack(void)
{
    double f = 1;
#if defined(__SANITIZE_ADDRESS__)
    f = 3;
#endif
    const char *env = getenv("TRAWL_TEST_SLOW");
    if (env && atof(env) > 0)
        f *= atof(env);
    return f;
}

static void expect_json(json_t *j, const char *want, const char *what)
{
    char *got = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
    cr_expect_str_eq(got, want, "%s: got %s, want %s", what, got, want);
    free(got);
}

/* Select and compare the JSON array of results. */
static void expect_select(const struct html_doc *d, const char *sel, bool css, const char *want)
{
    json_t *out = NULL;
    struct err e = {0};
    int rc = html_select(d, sel, css, &out, &e);
    cr_expect_eq(rc, 0, "%s '%s': %s", css ? "css" : "xpath", sel, e.msg);
    if (rc == 0)
        expect_json(out, want, sel);
    json_decref(out);
}

static void expect_links(const struct html_doc *d, bool skip_nofollow, const char *const *want,
                         size_t nwant)
{
    char **urls = NULL;
    size_t n = 0;
    cr_assert_eq(html_links(d, skip_nofollow, &urls, &n), 0);
    for (size_t i = 0; i < n && i < nwant; i++)
        cr_expect_str_eq(urls[i], want[i], "link %zu: got %s, want %s", i, urls[i], want[i]);
    cr_expect_eq(n, nwant, "got %zu links, want %zu", n, nwant);
    for (size_t i = nwant; i < n; i++)
        cr_log_error("extra link %s", urls[i]);
    html_strings_free(urls, n);
}

static void expect_markdown(const struct html_doc *d, const char *want)
{
    char *md = html_markdown(d);
    cr_expect_str_eq(md, want, "markdown:\n%s\n--- want:\n%s", md, want);
    free(md);
}

/* ---- parsing ---- */

Test(html, broken_markup_loses_nothing)
{
    const char *page = "<html><body><div class=a><p>First <b>bold <i>both</b> italic</i>\n"
                       "<div><p>Second</div></div></div></div><p>Third <a href=/x>link</a>\n"
                       "<ul><li>one<li>two</ul><table><tr><td>c1<td>c2</table></span>"
                       "</body><p>after body</p>";
    struct html_doc *d = parse(page, "https://example.com/", NULL);
    char *text = html_text(d);
    const char *parts[] = {
        "First bold both italic", "Second", "Third link", "one", "two", "after body"};
    for (size_t i = 0; i < N(parts); i++)
        cr_expect(strstr(text, parts[i]), "'%s' missing from:\n%s", parts[i], text);
    free(text);
    const char *links[] = {"https://example.com/x"};
    expect_links(d, true, links, 1);
    char *md = html_markdown(d);
    cr_expect(strstr(md, "- one\n- two\n"), "list missing from:\n%s", md);
    free(md);
    html_free(d);
}

Test(html, latin1_named_by_the_content_type)
{
    const char *page = "<html><head><title>Caf\xe9</title></head>"
                       "<body><p>Cr\xe8me br\xfbl\xe9"
                       "e</p></body></html>";
    struct html_doc *d = parse(page, "https://example.fr/", "text/html; charset=ISO-8859-1");
    json_t *meta = html_metadata(d);
    expect_json(meta, "{\"title\":\"Caf\xc3\xa9\"}", "metadata");
    json_decref(meta);
    char *text = html_text(d);
    cr_expect_str_eq(text, "Cr\xc3\xa8me br\xc3\xbbl\xc3\xa9"
                           "e");
    free(text);
    html_free(d);
}

Test(html, latin1_named_by_meta_charset)
{
    const char *page = "<html><head><meta charset=\"iso-8859-1\"><title>Caf\xe9</title></head>"
                       "<body><p>\xbfQu\xe9 tal?</p></body></html>";
    struct html_doc *d = parse(page, "https://example.es/", "text/html");
    char *text = html_text(d);
    cr_expect_str_eq(text, "\xc2\xbfQu\xc3\xa9 tal?");
    free(text);
    html_free(d);
    /* the older spelling, with windows-1252's curly quotes */
    page = "<html><head><meta http-equiv=\"Content-Type\" content=\"text/html; "
           "charset=windows-1252\"></head><body><p>\x93quoted\x94 \x80 5</p></body></html>";
    d = parse(page, "https://example.com/", NULL);
    text = html_text(d);
    cr_expect_str_eq(text, "\xe2\x80\x9cquoted\xe2\x80\x9d \xe2\x82\xac 5");
    free(text);
    html_free(d);
}

/* The plain text of len bytes of page as parsed with content_type (may be NULL). */
static void expect_text_of(const char *page, size_t len, const char *content_type, const char *want)
{
    struct html_doc *d = NULL;
    struct err e = {0};
    cr_assert_eq(html_parse(page, len, "https://example.com/", content_type, &d, &e), 0, "%s",
                 e.msg);
    char *text = html_text(d);
    cr_expect_str_eq(text, want, "page %.40s", page);
    free(text);
    html_free(d);
}

/* A byte order mark outranks a label; encodings beyond Latin-1 go through iconv; an encoding
 * nobody knows is read as UTF-8; bytes an encoding cannot map are replaced. */
Test(html, byte_order_marks_other_encodings_and_unknown_ones)
{
    /* UTF-16LE with its mark, labelled (wrongly) as Latin-1: "<p>Café</p>" */
    static const char u16[] = "\xff\xfe<\0p\0>\0C\0a\0f\0\xe9\0<\0/\0p\0>\0";
    expect_text_of(u16, sizeof u16 - 1, "text/html; charset=latin1", "Caf\xc3\xa9");
    /* a UTF-8 mark is not text */
    expect_text_of("\xef\xbb\xbf<p>x</p>", 11, "text/html; charset=iso-8859-1", "x");
    /* Shift_JIS named by a meta: "日本" */
    const char *sjis = "<meta charset=\"shift_jis\"><p>\x93\xfa\x96\x7b</p>";
    expect_text_of(sjis, strlen(sjis), NULL, "\xe6\x97\xa5\xe6\x9c\xac");
    /* an unknown name: read as UTF-8 */
    expect_text_of("<p>caf\xc3\xa9</p>", 12, "text/html; charset=x-no-such-thing", "caf\xc3\xa9");
    /* a byte Shift_JIS does not map (0xff), and a sequence cut off at the end (0x93) */
    const char *bad = "<meta charset=shift_jis><p>a\xff"
                      "b\x93";
    expect_text_of(bad, strlen(bad), NULL,
                   "a\xef\xbf\xbd"
                   "b\xef\xbf\xbd");
    /* nothing but bytes it cannot map: three bytes out for each one in */
    enum { NBAD = 10000 };
    char *all = malloc(NBAD + 32), *want = malloc(3 * NBAD + 1);
    int k = sprintf(all, "<meta charset=shift_jis>");
    memset(all + k, 0xff, NBAD);
    for (int i = 0; i < NBAD; i++)
        memcpy(want + 3 * i, "\xef\xbf\xbd", 3);
    want[3 * NBAD] = 0;
    expect_text_of(all, (size_t)k + NBAD, NULL, want);
    free(all);
    free(want);
}

Test(html, invalid_utf8_replaced_and_parsing_goes_on)
{
    const char *page = "<html><head><title>t\xff</title></head><body><p>ok \xff\xfe and \xc3( "
                       "more</p><p>after</p><a href=\"/caf\xe9\">x</a></body></html>";
    struct html_doc *d = parse(page, "https://example.com/", NULL);
    char *text = html_text(d);
    cr_expect_str_eq(text, "ok \xef\xbf\xbd\xef\xbf\xbd and \xef\xbf\xbd( more\n\nafter\n\nx");
    free(text);
    /* what is selected is valid JSON whatever the page held */
    expect_select(d, "//title/text()", false, "[\"t\xef\xbf\xbd\"]");
    const char *links[] = {"https://example.com/caf%EF%BF%BD"};
    expect_links(d, true, links, 1);
    html_free(d);
}

Test(html, parse_refuses_bad_urls_and_huge_pages)
{
    struct html_doc *d = NULL;
    struct err e = {0};
    cr_expect_eq(html_parse("<p>x</p>", 8, "ftp://example.com/", NULL, &d, &e), TRAWL_EINVAL);
    cr_expect_null(d);
    cr_expect_eq(html_parse("<p>x</p>", 8, "/relative", NULL, &d, &e), TRAWL_EINVAL);
    char *big = calloc(1, (size_t)HTML_MAX_BYTES + 1);
    cr_expect_eq(html_parse(big, (size_t)HTML_MAX_BYTES + 1, "https://example.com/", NULL, &d, &e),
                 TRAWL_ETOOBIG);
    cr_expect_null(d);
    free(big);
}

Test(html, empty_page_is_an_empty_document)
{
    struct html_doc *d = NULL;
    struct err e = {0};
    cr_assert_eq(html_parse("", 0, "https://example.com/", NULL, &d, &e), 0, "%s", e.msg);
    char *s = html_markdown(d);
    cr_expect_str_eq(s, "");
    free(s);
    s = html_text(d);
    cr_expect_str_eq(s, "");
    free(s);
    json_t *meta = html_metadata(d);
    expect_json(meta, "{}", "metadata");
    json_decref(meta);
    expect_links(d, false, NULL, 0);
    expect_select(d, "//p", false, "[]");
    html_free(d);
}

/* ---- links ---- */

static const char links_page[] =
    "<html><head><base href=\"https://www.example.com/docs/v2/\">"
    "<link rel=\"next\" href=\"page/2\"><link rel=\"stylesheet\" href=\"/s.css\">"
    "<link rel=\"icon\" href=\"/favicon.ico\"></head><body>\n"
    "<a href=\"../intro.html\">Intro</a>\n"
    "<a href=\"guide/setup?q=1&amp;r=2#step-3\">Setup</a>\n"
    "<a href=\"?q=search\">Search</a>\n"
    "<a href=\"#top\">Top</a>\n"
    "<a href=\"//cdn.example.net/x.js\">CDN</a>\n"
    "<a href=\"HTTP://WWW.Example.com:80/docs/v2/../intro.html\">Plain</a>\n"
    "<a href=\"../intro.html#again\">Intro again</a>\n"
    "<a href=\"  https://www.example.com/docs/intro.html  \">Intro spaced</a>\n"
    "<a href=\"javascript:void(0)\">JS</a> <a href=\" JavaScript:alert(1)\">JS2</a>\n"
    "<a href=\"mailto:x@example.com\">Mail</a> <a href=\"tel:+1234\">Call</a>\n"
    "<a href=\"data:text/html,hi\">Data</a> <a href=\"ftp://files.example.com/\">FTP</a>\n"
    "<a href=\"/private\" rel=\"nofollow\">Private</a>\n"
    "<a href=\"/sponsored\" rel=\"sponsored NoFollow\">Ad</a>\n"
    "<a>no href</a> <a href=\"\">empty</a>\n"
    "<map><area href=\"/map-area\" shape=\"rect\"></map>\n"
    "<iframe src=\"/embed\"></iframe>\n"
    "</body></html>";

Test(html, links_resolved_against_base_deduplicated_in_order)
{
    struct html_doc *d = parse(links_page, "https://www.example.com/a/b/page.html", NULL);
    const char *want[] = {
        "https://www.example.com/docs/v2/page/2",
        "https://www.example.com/docs/intro.html",
        "https://www.example.com/docs/v2/guide/setup?q=1&r=2",
        "https://www.example.com/docs/v2/?q=search",
        "https://cdn.example.net/x.js",
        "http://www.example.com/docs/intro.html",
        "https://www.example.com/map-area",
        "https://www.example.com/embed",
    };
    expect_links(d, true, want, N(want));
    html_free(d);
}

Test(html, links_nofollow_kept_when_asked)
{
    struct html_doc *d = parse(links_page, "https://www.example.com/a/b/page.html", NULL);
    const char *want[] = {
        "https://www.example.com/docs/v2/page/2",
        "https://www.example.com/docs/intro.html",
        "https://www.example.com/docs/v2/guide/setup?q=1&r=2",
        "https://www.example.com/docs/v2/?q=search",
        "https://cdn.example.net/x.js",
        "http://www.example.com/docs/intro.html",
        "https://www.example.com/private",
        "https://www.example.com/sponsored",
        "https://www.example.com/map-area",
        "https://www.example.com/embed",
    };
    expect_links(d, false, want, N(want));
    html_free(d);
}

Test(html, links_without_base_resolve_against_the_page)
{
    struct html_doc *d =
        parse("<a href=\"../up\">u</a><a href=\"same\">s</a><a href=\"?p=2\">p</a>",
              "https://example.com/dir/sub/page?p=1#frag", NULL);
    const char *want[] = {"https://example.com/dir/up", "https://example.com/dir/sub/same",
                          "https://example.com/dir/sub/page?p=2"};
    expect_links(d, true, want, N(want));
    html_free(d);
}

Test(html, meta_robots_nofollow_follows_nothing)
{
    struct html_doc *d = parse("<html><head><meta name=\"ROBOTS\" content=\"noindex,nofollow\">"
                               "</head><body><a href=\"/a\">a</a></body></html>",
                               "https://example.com/", NULL);
    expect_links(d, true, NULL, 0);
    const char *all[] = {"https://example.com/a"};
    expect_links(d, false, all, 1);
    html_free(d);
}

/* ---- metadata ---- */

Test(html, metadata_title_description_language_canonical_og_twitter)
{
    const char *page = "<html lang=\"fr-CA\"><head>\n<title>\n  Le   titre\n</title>\n"
                       "<meta name=\"description\" content=\"  Une\n description  \">\n"
                       "<meta name=\"robots\" content=\"noindex, follow\">\n"
                       "<link rel=\"canonical\" href=\"../fr/article?id=7#x\">\n"
                       "<meta property=\"og:title\" content=\"OG title\">"
                       "<meta property=\"og:image\" content=\"/img/og.png\">"
                       "<meta property=\"og:type\" content=\"article\">"
                       "<meta property=\"og:title\" content=\"second og:title is ignored\">"
                       "<meta property=\"og:description\" content=\"\">"
                       "<meta name=\"twitter:card\" content=\"summary_large_image\">"
                       "<meta name=\"twitter:site\" content=\"@example\">\n"
                       "</head><body><svg><title>icon</title></svg><p>x</p></body></html>";
    struct html_doc *d = parse(page, "https://news.example.com/en/story", NULL);
    json_t *meta = html_metadata(d);
    expect_json(meta,
                "{\"canonical\":\"https://news.example.com/fr/article?id=7\","
                "\"description\":\"Une description\",\"language\":\"fr-CA\","
                "\"og\":{\"image\":\"https://news.example.com/img/og.png\",\"title\":\"OG title\","
                "\"type\":\"article\"},\"robots\":\"noindex, follow\",\"title\":\"Le titre\","
                "\"twitter\":{\"card\":\"summary_large_image\",\"site\":\"@example\"}}",
                "metadata");
    json_decref(meta);
    html_free(d);
}

Test(html, metadata_absent_values_left_out)
{
    struct html_doc *d = parse("<html><head><meta property=\"og:title\" content=\" \"></head>"
                               "<body><svg><title>icon</title></svg><p>x</p></body></html>",
                               "https://example.com/", NULL);
    json_t *meta = html_metadata(d);
    expect_json(meta, "{}", "metadata");
    json_decref(meta);
    html_free(d);
}

/* ---- text and Markdown ---- */

static const char blog_page[] =
    "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
    "<title>Intro to trawl</title><link rel=\"stylesheet\" href=\"/style.css\">\n"
    "<script src=\"/app.js\"></script><style>body { color: red }</style></head>\n"
    "<body>\n"
    "<header class=\"site\"><a href=\"/\"><img src=\"/logo.png\" alt=\"Logo\"></a>\n"
    "  <nav><ul><li><a href=\"/\">Home</a></li><li><a href=\"/about\">About</a></li></ul></nav>\n"
    "</header>\n"
    "<div class=\"layout\">\n"
    "<aside><h2>Related</h2><ul><li><a href=\"/other\">Other post</a></li></ul></aside>\n"
    "<div class=\"content\">\n"
    "  <h1>Intro   to <em>trawl</em></h1>\n"
    "  <p>trawl is a   <strong>durable</strong> job engine.\n"
    "     Read the <a href=\"../../docs/start.html#install\">getting started guide</a>.</p>\n"
    "  <h2>Features</h2>\n"
    "  <ul>\n"
    "    <li>Jobs survive restarts</li>\n"
    "    <li>Crawling\n"
    "      <ul><li>robots.txt</li><li>sitemaps</li></ul>\n"
    "    </li>\n"
    "    <li>An <a href=\"https://example.org/api?x=1&amp;y=2\">API</a></li>\n"
    "  </ul>\n"
    "  <ol><li>Install</li><li>Run</li></ol>\n"
    "  <h3>Limits</h3>\n"
    "  <table>\n"
    "    <tr><th>Setting</th><th>Default</th></tr>\n"
    "    <tr><td>timeout_ms</td><td>30000</td></tr>\n"
    "    <tr><td>retries</td><td><b>5</b></td></tr>\n"
    "  </table>\n"
    "  <p><img src=\"img/arch.png\" alt=\"Architecture diagram\"></p>\n"
    "  <pre><code class=\"language-sh\">trawl serve --db trawl.db\n"
    "trawl submit crawl https://example.com/</code></pre>\n"
    "  <blockquote><p>It just works.</p></blockquote>\n"
    "  <p>Use <code>trawl --help</code> for more.</p>\n"
    "  <div hidden>hidden</div><div style=\"display: none\">invisible</div>\n"
    "  <form action=\"/search\"><label>Search <input name=q></label><button>Go</button></form>\n"
    "  <noscript>Enable JavaScript</noscript>\n"
    "</div></div>\n"
    "<footer class=\"site\"><p>&copy; 2024 Example</p></footer>\n"
    "<script>document.write('x')</script>\n"
    "</body></html>\n";

Test(html, markdown_of_a_page_without_its_navigation)
{
    struct html_doc *d = parse(blog_page, "https://blog.example.com/posts/2024/intro.html", NULL);
    expect_markdown(d, "# Intro to *trawl*\n"
                       "\n"
                       "trawl is a **durable** job engine. Read the [getting started guide]"
                       "(https://blog.example.com/docs/start.html).\n"
                       "\n"
                       "## Features\n"
                       "\n"
                       "- Jobs survive restarts\n"
                       "- Crawling\n"
                       "  - robots.txt\n"
                       "  - sitemaps\n"
                       "- An [API](https://example.org/api?x=1&y=2)\n"
                       "\n"
                       "1. Install\n"
                       "2. Run\n"
                       "\n"
                       "### Limits\n"
                       "\n"
                       "| Setting | Default |\n"
                       "| --- | --- |\n"
                       "| timeout_ms | 30000 |\n"
                       "| retries | **5** |\n"
                       "\n"
                       "![Architecture diagram](https://blog.example.com/posts/2024/img/arch.png)\n"
                       "\n"
                       "```sh\n"
                       "trawl serve --db trawl.db\n"
                       "trawl submit crawl https://example.com/\n"
                       "```\n"
                       "\n"
                       "> It just works.\n"
                       "\n"
                       "Use `trawl --help` for more.\n");
    html_free(d);
}

Test(html, text_of_a_page_without_its_navigation)
{
    struct html_doc *d = parse(blog_page, "https://blog.example.com/posts/2024/intro.html", NULL);
    char *text = html_text(d);
    cr_expect_str_eq(text,
                     "Intro to trawl\n"
                     "\n"
                     "trawl is a durable job engine. Read the getting started guide.\n"
                     "\n"
                     "Features\n"
                     "\n"
                     "Jobs survive restarts\n"
                     "Crawling\n"
                     "robots.txt\n"
                     "sitemaps\n"
                     "An API\n"
                     "\n"
                     "Install\n"
                     "Run\n"
                     "\n"
                     "Limits\n"
                     "\n"
                     "Setting\tDefault\n"
                     "timeout_ms\t30000\n"
                     "retries\t5\n"
                     "\n"
                     "trawl serve --db trawl.db\n"
                     "trawl submit crawl https://example.com/\n"
                     "\n"
                     "It just works.\n"
                     "\n"
                     "Use trawl --help for more.",
                     "text:\n%s", text);
    free(text);
    html_free(d);
}

Test(html, main_content_is_main_or_the_one_article)
{
    struct html_doc *d = parse("<body><div>Menu</div><main><p>Main text</p></main>"
                               "<div>Sidebar</div></body>",
                               "https://example.com/", NULL);
    expect_markdown(d, "Main text\n");
    html_free(d);
    d = parse("<body><div id=x role=\"main\"><p>Role main</p></div><p>Other</p></body>",
              "https://example.com/", NULL);
    expect_markdown(d, "Role main\n");
    html_free(d);
    /* one article: it; its own header (the title) and footer stay */
    d = parse("<body><p>Teaser</p><article><header><h1>Title</h1></header><p>Body</p>"
              "<footer>Posted in C</footer></article><aside><article>Ad</article></aside>"
              "</body>",
              "https://example.com/", NULL);
    expect_markdown(d, "# Title\n\nBody\n\nPosted in C\n");
    html_free(d);
    /* several articles are a listing: the body holds them all */
    d = parse("<body><header>Site</header><article><h2>One</h2></article>"
              "<article><h2>Two</h2></article><footer>Foot</footer></body>",
              "https://example.com/", NULL);
    expect_markdown(d, "## One\n\n## Two\n");
    html_free(d);
    /* a form around the whole page (ASP.NET) is not a search box */
    d = parse("<body><form id=aspnetForm><h1>Page</h1><p>Text</p><input name=x></form></body>",
              "https://example.com/", NULL);
    expect_markdown(d, "# Page\n\nText\n");
    html_free(d);
}

Test(html, markdown_escapes_what_would_be_markup)
{
    struct html_doc *d =
        parse("<p>*not em* _nor this_ 2*3 [x](y) `tick` &lt;div&gt; \\back a|b under_score "
              "&amp;copy; ~~no~~</p>"
              "<p># not a heading</p><p>- not a list</p><p>1. not ordered</p><p>2024) neither</p>"
              "<p>+ plus</p><p>&gt; not a quote</p><p>=== no</p>",
              "https://example.com/", NULL);
    expect_markdown(d, "\\*not em\\* \\_nor this\\_ 2\\*3 \\[x\\](y) \\`tick\\` \\<div> \\\\back "
                       "a|b under_score \\&copy; \\~\\~no\\~\\~\n"
                       "\n"
                       "\\# not a heading\n"
                       "\n"
                       "\\- not a list\n"
                       "\n"
                       "1\\. not ordered\n"
                       "\n"
                       "2024\\) neither\n"
                       "\n"
                       "\\+ plus\n"
                       "\n"
                       "\\> not a quote\n"
                       "\n"
                       "\\=== no\n");
    html_free(d);
}

Test(html, markdown_whitespace_collapsed_and_blank_lines_single)
{
    struct html_doc *d =
        parse("<div>  a \n\t b   <span> c </span>d&nbsp;&nbsp;e</div><p></p><p>  </p><div>   </div>"
              "<div><div><p>f<br>g<br><br>h</p></div></div>\n\n\n<p>i <b> j </b>k<b> </b>l</p>"
              "<h2> </h2><p><a href=\"/x\"> </a>m</p>",
              "https://example.com/", NULL);
    char *md = html_markdown(d);
    cr_expect_str_eq(md, "a b c d e\n\nf  \ng\n\nh\n\ni **j** k l\n\nm\n", "markdown:\n%s", md);
    cr_expect_null(strstr(md, "\n\n\n"));
    free(md);
    html_free(d);
}

Test(html, markdown_nested_structures)
{
    struct html_doc *d =
        parse("<blockquote><p>q1</p><ul><li>in quote</li></ul><blockquote>deeper</blockquote>"
              "</blockquote>"
              "<ol start=\"9\"><li>nine<ol><li>a</li><li>b<ul><li>c</li></ul></li></ol></li>"
              "<li><p>ten</p><pre>code\n\n  line</pre></li></ol>"
              "<p>A <a href=\"/x\"><img src=\"/i.png\" alt=\"icon\"></a> and "
              "<a href=\"https://en.wikipedia.org/wiki/C_(programming_language)\">C</a>, "
              "<a href=\"javascript:x()\">no link</a>, <a href=\"#frag\">anchor</a>.</p>"
              "<pre>has ``` inside</pre><hr><p>end</p>",
              "https://example.com/", NULL);
    expect_markdown(d, "> q1\n"
                       ">\n"
                       "> - in quote\n"
                       ">\n"
                       "> > deeper\n"
                       "\n"
                       "9. nine\n"
                       "   1. a\n"
                       "   2. b\n"
                       "      - c\n"
                       "10. ten\n"
                       "\n"
                       "    ```\n"
                       "    code\n"
                       "\n"
                       "      line\n"
                       "    ```\n"
                       "\n"
                       "A [![icon](https://example.com/i.png)](https://example.com/x) and "
                       "[C](https://en.wikipedia.org/wiki/C_(programming_language)), no link, "
                       "anchor.\n"
                       "\n"
                       "````\n"
                       "has ``` inside\n"
                       "````\n"
                       "\n"
                       "---\n"
                       "\n"
                       "end\n");
    html_free(d);
}

Test(html, markdown_tables_data_and_layout)
{
    struct html_doc *d = parse(
        "<table><caption>Prices</caption><thead><tr><th>Item</th><th>Price</th><th>Note</th></tr>"
        "</thead><tbody><tr><td>A|B</td><td>$1</td><td>line<br>break</td></tr>"
        "<tr><td colspan=2>wide</td><td><code>x|y</code></td></tr><tr><td>short</td></tr></tbody>"
        "</table>"
        "<table><tr><td><p>Layout cell</p><table><tr><td>x</td><td>y</td></tr></table></td>"
        "<td>side</td></tr></table>",
        "https://example.com/", NULL);
    expect_markdown(d, "Prices\n"
                       "\n"
                       "| Item | Price | Note |\n"
                       "| --- | --- | --- |\n"
                       "| A\\|B | $1 | line break |\n"
                       "| wide |  | `x\\|y` |\n"
                       "| short |  |  |\n"
                       "\n"
                       "Layout cell\n"
                       "\n"
                       "| x | y |\n"
                       "| --- | --- |\n"
                       "\n"
                       "side\n");
    html_free(d);
}

/* ---- cleaned HTML ---- */

Test(html, clean_html_without_scripts_handlers_styles)
{
    const char *page =
        "<html><head><title>t</title><script>alert(0)</script></head><body>"
        "<div id=\"c\" class=\"box\" style=\"color:red\" onclick=\"steal()\" ONMOUSEOVER=\"x()\">"
        "<!-- a comment --><script>alert(1)</script><noscript>enable js</noscript>"
        "<style>.a{}</style>"
        "<p>Hello <a href=\"javascript:alert(1)\">bad</a> "
        "<a href=\" JaVa&#x09;Script:alert(2)\">bad2</a> <a href=\"vbscript:x\">bad3</a>\n\n   "
        "<a href=\"/good?a=1#f\" title=\"say &quot;hi&quot;\">good</a> "
        "<a href=\"mailto:a@b.c\">mail</a> <a href=\"#top\">top</a></p>"
        "<img src=\"pic.png\" srcset=\"pic-2x.png 2x, data:image/png;base64,AAA 3x\" "
        "onerror=\"x()\" alt=\"a &lt; b\">"
        "<iframe src=\"https://ads.example/\"></iframe><template><p>tpl</p></template>"
        "<pre>  keep   this\n   spacing</pre>"
        "<p>a &lt;b&gt; &amp; \"q\"</p>"
        "</div></body></html>";
    struct html_doc *d = parse(page, "https://site.example/dir/page", NULL);
    char *html = html_clean(d);
    const char *absent[] = {"script",      "alert",     "onclick",    "ONMOUSEOVER",
                            "onmouseover", "style",     "javascript", "JaVa",
                            "vbscript",    "comment",   "iframe",     "tpl",
                            "template",    "enable js", "onerror",    "data:"};
    for (size_t i = 0; i < N(absent); i++)
        cr_expect_null(strstr(html, absent[i]), "'%s' left in:\n%s", absent[i], html);
    const char *present[] = {
        "<div id=\"c\" class=\"box\">",
        "<a>bad</a> <a>bad2</a> <a>bad3</a>\n<a href=\"https://site.example/good?a=1\" "
        "title=\"say &quot;hi&quot;\">good</a>",
        "<a href=\"mailto:a@b.c\">mail</a> <a href=\"#top\">top</a>",
        "<img src=\"https://site.example/dir/pic.png\" "
        "srcset=\"https://site.example/dir/pic-2x.png 2x\" alt=\"a &lt; b\">",
        "<pre>  keep   this\n   spacing</pre>",
        "<p>a &lt;b&gt; &amp; \"q\"</p>",
    };
    for (size_t i = 0; i < N(present); i++)
        cr_expect(strstr(html, present[i]), "'%s' missing from:\n%s", present[i], html);
    /* what comes out parses again to the same text */
    struct html_doc *again = parse(html, "https://site.example/", NULL);
    char *t1 = html_text(d), *t2 = html_text(again);
    cr_expect_str_eq(t1, t2);
    free(t1);
    free(t2);
    html_free(again);
    free(html);
    html_free(d);
}

/* ---- selection ---- */

static const char product_page[] =
    "<html><head><title>Acme Anvil</title></head><body>\n"
    "<div id=\"main\">\n"
    " <div class=\"product  featured\" data-sku=\"A-1\">\n"
    "  <h1>Acme Anvil</h1>\n"
    "  <span class=\"price\"> $99.00 </span>\n"
    "  <ul class=\"tags\"><li>heavy</li><li>iron</li><li>classic</li></ul>\n"
    "  <a href=\"/anvils/a-1/reviews\">Reviews</a>\n"
    "  <a href=\"https://acme.example/buy?sku=A-1\" class=\"buy\" title=\"it's &quot;great&quot;\">"
    "Buy</a>\n"
    " </div>\n"
    " <div class=\"productx\"><h1>Not a product</h1></div>\n"
    " <h2>Related</h2><p>one</p><p>two</p>\n"
    " <form><input type=\"hidden\" name=\"csrf\" value=\"tok123\">"
    "<input type=\"text\" name=\"q\" value=\"anvil\"></form>\n"
    "</div></body></html>";

Test(html, xpath_nodes_attributes_numbers_strings)
{
    struct html_doc *d = parse(product_page, "https://acme.example/anvils/a-1", NULL);
    expect_select(d, "//h1/text()", false, "[\"Acme Anvil\",\"Not a product\"]");
    expect_select(d, "//a/@href", false,
                  "[\"/anvils/a-1/reviews\",\"https://acme.example/buy?sku=A-1\"]");
    expect_select(d, "count(//p)", false, "[\"2\"]");
    expect_select(d, "count(//li) div 2", false, "[\"1.5\"]");
    expect_select(d, "string(//title)", false, "[\"Acme Anvil\"]");
    expect_select(d, "boolean(//h2)", false, "[\"true\"]");
    expect_select(d, "//h3", false, "[]");
    /* relative to the document, as lxml's and Scrapy's selectors are */
    expect_select(d, "html/head/title", false, "[\"Acme Anvil\"]");
    /* an element gives its text, whitespace collapsed */
    expect_select(d, "//span[@class='price']", false, "[\"$99.00\"]");
    expect_select(d, "/html/namespace::*", false, "[\"http://www.w3.org/XML/1998/namespace\"]");
    html_free(d);
}

Test(html, css_selectors)
{
    struct html_doc *d = parse(product_page, "https://acme.example/anvils/a-1", NULL);
    expect_select(d, "div.product > h1", true, "[\"Acme Anvil\"]");
    expect_select(d, "#main .price::text", true, "[\"$99.00\"]");
    expect_select(d, "a::attr(href)", true,
                  "[\"/anvils/a-1/reviews\",\"https://acme.example/buy?sku=A-1\"]");
    expect_select(d, "ul li:nth-child(2)", true, "[\"iron\"]");
    expect_select(d, "h1, h2", true, "[\"Acme Anvil\",\"Not a product\",\"Related\"]");
    expect_select(d, "[data-sku]::attr(data-sku)", true, "[\"A-1\"]");
    json_t *sku = NULL;
    struct err se = {0};
    cr_expect_eq(html_select(d, "[data-sku]", true, &sku, &se), 0, "%s", se.msg);
    cr_expect_eq(json_array_size(sku), 1);
    cr_expect(strncmp(json_string_value(json_array_get(sku, 0)), "Acme Anvil $99.00", 17) == 0);
    json_decref(sku);
    expect_select(d, "input[type=hidden]::attr(value)", true, "[\"tok123\"]");
    expect_select(d, "input[type=hidden]", true, "[\"\"]");
    expect_select(d, "INPUT[TYPE=\"text\"]::ATTR(NAME)", true, "[\"q\"]");
    expect_select(d, "li:first-child, li:last-child", true, "[\"heavy\",\"classic\"]");
    expect_select(d, "li:nth-child(odd)", true, "[\"heavy\",\"classic\"]");
    expect_select(d, "li:nth-child(-n+2)", true, "[\"heavy\",\"iron\"]");
    expect_select(d, "li:nth-last-child(1)", true, "[\"classic\"]");
    expect_select(d, "h1 + span", true, "[\"$99.00\"]");
    expect_select(d, "h1 ~ a", true, "[\"Reviews\",\"Buy\"]");
    expect_select(d, "h2 + p", true, "[\"one\"]");
    expect_select(d, "a[href^='https://']", true, "[\"Buy\"]");
    expect_select(d, "a[href$=reviews]", true, "[\"Reviews\"]");
    expect_select(d, "a[href*=\"sku=\"]", true, "[\"Buy\"]");
    expect_select(d, "[class~=featured] > h1", true, "[\"Acme Anvil\"]");
    expect_select(d, "a[title=\"it's \\\"great\\\"\"]", true, "[\"Buy\"]");
    expect_select(d, "#main > div > ul.tags > li:nth-child(3)::text", true, "[\"classic\"]");
    expect_select(d, "div div h1", true, "[\"Acme Anvil\",\"Not a product\"]");
    expect_select(d, "body > h1", true, "[]");
    expect_select(d, "ul *::text", true, "[\"heavy\",\"iron\",\"classic\"]");
    char *xpath = NULL;
    struct err e = {0};
    cr_assert_eq(html_css_to_xpath("div.product > h1", &xpath, &e), 0, "%s", e.msg);
    cr_expect_str_eq(xpath, "//h1[parent::div[contains(concat(' ', normalize-space(@class), ' '), "
                            "' product ')]]");
    free(xpath);
    html_free(d);
}

Test(html, malformed_css_is_einval_with_a_message)
{
    struct {
        const char *css;
        const char *msg;
    } bad[] = {
        {"div[", "css selector 'div[': unterminated [ at 4"},
        {"div[data-x", "css selector 'div[data-x': unterminated [ at 10"},
        {"a[href='x]", "css selector 'a[href='x]': unterminated string at 10"},
        {"a[href=]", "css selector 'a[href=]': expected a value at 7"},
        {"a[=x]", "css selector 'a[=x]': expected an attribute name at 2"},
        {"div >", "css selector 'div >': expected a selector after > at 5"},
        {"p:hover", "css selector 'p:hover': unsupported pseudo-class ':hover' at 1"},
        {"p::before", "css selector 'p::before': unsupported pseudo-element '::before' at 1"},
        {"a::attr(href) b", "css selector 'a::attr(href) b': a pseudo-element must end the "
                            "selector at 13"},
        {"li:nth-child(x)", "css selector 'li:nth-child(x)': invalid :nth-child() argument at 13"},
        {"li:nth-child(2", "css selector 'li:nth-child(2': unterminated ( at 14"},
        {"a!", "css selector 'a!': unexpected '!' at 1"},
        {"a,,b", "css selector 'a,,b': expected a selector at 2"},
        {"a,", "css selector 'a,': expected a selector after , at 2"},
        {"#", "css selector '#': expected an id after # at 1"},
        {"", "css selector is empty"},
        {"   ", "css selector is empty"},
    };
    for (size_t i = 0; i < N(bad); i++) {
        char *xpath = (char *)"untouched";
        struct err e = {0};
        cr_expect_eq(html_css_to_xpath(bad[i].css, &xpath, &e), TRAWL_EINVAL, "'%s'", bad[i].css);
        cr_expect_null(xpath, "'%s'", bad[i].css);
        cr_expect_str_eq(e.msg, bad[i].msg);
    }
    /* html_select says the same */
    struct html_doc *d = parse(product_page, "https://acme.example/", NULL);
    json_t *out = NULL;
    struct err e = {0};
    cr_expect_eq(html_select(d, "div[", true, &out, &e), TRAWL_EINVAL);
    cr_expect_null(out);
    cr_expect_str_eq(e.msg, "css selector 'div[': unterminated [ at 4");
    html_free(d);
}

Test(html, malformed_xpath_is_einval_with_a_message)
{
    struct html_doc *d = parse(product_page, "https://acme.example/", NULL);
    struct {
        const char *xpath;
        const char *msg;
    } bad[] = {
        {"//a[", "xpath '//a[': invalid expression at 4"},
        {"count(//p", "xpath 'count(//p': invalid expression at 9"},
        {"nosuch(//p)", "xpath 'nosuch(//p)': function nosuch not found at 11"},
        {"//a/@", "xpath '//a/@': invalid expression at 5"},
        {"", "xpath is empty"},
    };
    for (size_t i = 0; i < N(bad); i++) {
        json_t *out = NULL;
        struct err e = {0};
        cr_expect_eq(html_select(d, bad[i].xpath, false, &out, &e), TRAWL_EINVAL, "'%s'",
                     bad[i].xpath);
        cr_expect_null(out);
        cr_expect_str_eq(e.msg, bad[i].msg);
    }
    html_free(d);
}

/* ---- pathological pages ---- */

/* A page of 5 MB of divs nested depth deep, each level holding a paragraph with a link and
 * about 5 MB / depth of filler. */
static char *nested_page(int depth, size_t *len)
{
    size_t cap = 6u << 20, o = 0, per = (5u << 20) / (size_t)depth;
    char *page = malloc(cap);
    o += (size_t)sprintf(page + o, "<html><head><title>deep</title></head><body>");
    for (int i = 0; i < depth; i++) {
        o +=
            (size_t)sprintf(page + o, "<div class=\"l%d\"><p>level %d <a href=\"/p/%d\">%d</a></p>",
                            i % 7, i, i, i);
        for (size_t start = o; o - start < per;)
            o += (size_t)sprintf(page + o, "<p>filler <b>text</b> <i>and</i> more</p>");
    }
    for (int i = 0; i < depth; i++)
        o += (size_t)sprintf(page + o, "</div>");
    o += (size_t)sprintf(page + o, "</body></html>");
    *len = o;
    return page;
}

/* What reading everything out of a nested_page(depth) must give. */
static void expect_everything(const char *md, const char *text, const char *clean, json_t *meta,
                              size_t n, json_t *sel, int depth)
{
    cr_expect(strstr(md, "level 0 [0](https://example.com/p/0)"), "markdown starts:\n%.200s", md);
    cr_expect(strstr(text, "level 100 100"));
    cr_expect(strstr(clean, "<a href=\"https://example.com/p/100\">100</a>"));
    cr_expect_str_eq(json_string_value(json_object_get(meta, "title")), "deep");
    /* the parser stops nesting at 512 levels: what lies deeper may move, never what is above */
    size_t reach = depth < 250 ? (size_t)depth : 200;
    cr_expect_geq(n, reach);
    cr_expect_geq(json_array_size(sel), reach);
    if (depth < 250) {
        char last[64];
        snprintf(last, sizeof last, "level %d [%d]", depth - 1, depth - 1);
        cr_expect(strstr(md, last), "'%s' missing", last);
        cr_expect_gt(strlen(md), 3u << 20);
    }
}

/* Everything read out of a page, timed, and what came out checked when check; returns the CPU
 * seconds taken. */
static double read_all(const char *page, size_t len, int depth, bool check)
{
    double t0 = now_s();
    struct html_doc *d = NULL;
    struct err e = {0};
    cr_assert_eq(html_parse(page, len, "https://example.com/", NULL, &d, &e), 0, "%s", e.msg);
    char *md = html_markdown(d);
    char *text = html_text(d);
    char *clean = html_clean(d);
    char **urls = NULL;
    size_t n = 0;
    cr_assert_eq(html_links(d, true, &urls, &n), 0);
    json_t *meta = html_metadata(d);
    json_t *sel = NULL;
    int rc = html_select(d, "div > p > a::attr(href)", true, &sel, &e);
    cr_expect_eq(rc, 0, "%s", e.msg);
    json_t *sel2 = NULL;
    /* the text of a div holds all the deeper ones: that may be too large, but not slow */
    int rc2 = html_select(d, "//div[@class='l3']", false, &sel2, &e);
    cr_expect(rc2 == 0 || rc2 == TRAWL_ETOOBIG, "%s", e.msg);
    double elapsed = now_s() - t0;
    if (check)
        expect_everything(md, text, clean, meta, n, sel, depth);
    free(md);
    free(text);
    free(clean);
    html_strings_free(urls, n);
    json_decref(meta);
    json_decref(sel);
    json_decref(sel2);
    html_free(d);
    return elapsed;
}

static double read_everything(const char *page, size_t len, int depth)
{
    return read_all(page, len, depth, true);
}

/* The CPU time of reading everything out of 5 MB nested only 10 deep. */
static double flat_reference(void)
{
    size_t len;
    char *page = nested_page(10, &len);
    double took = read_all(page, len, 10, false);
    free(page);
    return took;
}

/* 5 MB nested 5000 deep: nothing may recurse without bound or take long. */
Test(html, page_of_5mb_nested_5000_deep_in_bounded_time, .timeout = 60)
{
    size_t len;
    char *page = nested_page(5000, &len);
    double took = read_everything(page, len, 5000);
    free(page);
    /* against the same bytes nested once, in the same process: a cost that grows with depth
     * shows as a ratio, whatever this machine's speed just now */
    double flat = flat_reference();
    cr_expect_lt(took, 4 * flat + 0.05, "took %.2f s, the same size flat %.2f s", took, flat);
}

/* 5 MB nested 240 deep, all of it parsed: the size alone is no problem either. */
Test(html, page_of_5mb_nested_240_deep_in_bounded_time, .timeout = 60)
{
    size_t len;
    char *page = nested_page(240, &len);
    double took = read_everything(page, len, 240);
    free(page);
    double flat = flat_reference();
    cr_expect_lt(took, 4 * flat + 0.05, "took %.2f s, the same size flat %.2f s", took, flat);
}

/* A tree deeper than any parser makes (100,000 levels, built by hand): the walks are bounded. */
Test(html, hand_built_tree_100000_deep_does_not_exhaust_the_stack, .timeout = 60)
{
    /* built with libxml2's own tree functions throughout: a parsed document's nodes live in its
     * arena and take no nodes of libxml2's */
    struct html_doc *d = calloc(1, sizeof *d);
    cr_assert_not_null(d);
    d->doc = htmlNewDocNoDtD(NULL, NULL);
    d->url = strdup("https://example.com/");
    d->base = strdup(d->url);
    xmlNodePtr root = xmlNewDocNode(d->doc, NULL, BAD_CAST "html", NULL);
    xmlDocSetRootElement(d->doc, root);
    xmlNodePtr body = xmlNewChild(root, NULL, BAD_CAST "body", NULL);
    xmlNewChild(body, NULL, BAD_CAST "p", BAD_CAST "top");
    const char *names[] = {"div", "ul", "li", "blockquote", "b", "a", "table", "tr", "td", "pre"};
    xmlNodePtr cur = body;
    for (int i = 0; i < 100000; i++) {
        cur = xmlNewChild(cur, NULL, BAD_CAST names[i % N(names)], NULL);
        if (i % N(names) == 5)
            xmlNewProp(cur, BAD_CAST "href", BAD_CAST "/deep");
        xmlNodeAddContent(cur, BAD_CAST "w ");
    }
    xmlNodeAddContent(cur, BAD_CAST "bottom");
    double t0 = now_s();
    char *md = html_markdown(d), *text = html_text(d), *clean = html_clean(d);
    char **urls = NULL;
    size_t n = 0;
    html_links(d, true, &urls, &n);
    cr_expect(strstr(md, "bottom") && strstr(text, "bottom") && strstr(clean, "bottom"));
    cr_expect_eq(n, 1);
    cr_expect_lt(now_s() - t0, 2.0 * slack());
    free(md);
    free(text);
    free(clean);
    html_strings_free(urls, n);
    html_free(d);
}

/* CPU seconds of "div.d a" over a page of `sections` blocks of 20 nested divs around 2,000
 * links (the best of three), checking it finds every link. */
static double nested_select_s(int sections)
{
    char *page = malloc((size_t)sections * 60000 + 100);
    size_t len = (size_t)sprintf(page, "<html><body>");
    for (int s = 0; s < sections; s++) {
        for (int i = 0; i < 20; i++)
            len += (size_t)sprintf(page + len, "<div class=\"d\">");
        for (int l = 0; l < 2000; l++)
            len += (size_t)sprintf(page + len, "<a href=\"/x%d\">l</a>", l);
        for (int i = 0; i < 20; i++)
            len += (size_t)sprintf(page + len, "</div>");
    }
    sprintf(page + len, "</body></html>");
    struct html_doc *d = parse(page, "https://example.com/", NULL);
    double best = 1e9;
    for (int run = 0; run < 3; run++) {
        double t0 = now_s();
        json_t *out = NULL;
        struct err e = {0};
        cr_assert_eq(html_select(d, "div.d a", true, &out, &e), 0, "%s", e.msg);
        double t = now_s() - t0;
        cr_assert_eq(json_array_size(out), (size_t)sections * 2000);
        json_decref(out);
        if (t < best)
            best = t;
    }
    html_free(d);
    free(page);
    return best;
}

/* CSS descendant selectors run as predicates on the selected element: libxml2 would merge the
 * node sets of //div//a in time quadratic in the links for each nested div. Four times the page
 * must cost about four times as much (quadratic: sixteen), measured in the same run, so the
 * machine's speed and a sanitizer's overhead cancel out. */
Test(html, css_descendants_fast_on_nested_matches, .timeout = 120)
{
    double small = nested_select_s(5), large = nested_select_s(20);
    cr_expect_lt(large, 8 * small + 0.05, "5 sections: %.3f s, 20 sections: %.3f s (x%.1f)", small,
                 large, small > 0 ? large / small : 0);
}

/* An XPath whose cost grows with the square of the page stops at a step limit. */
Test(html, costly_xpath_stops_with_etoobig, .timeout = 60)
{
    size_t cap = 1u << 20, len = 0;
    char *page = malloc(cap);
    len += (size_t)sprintf(page, "<html><body>");
    for (int i = 0; i < 20000; i++)
        len += (size_t)sprintf(page + len, "<p>%d</p>", i);
    sprintf(page + len, "</body></html>");
    struct html_doc *d = parse(page, "https://example.com/", NULL);
    json_t *out = NULL;
    struct err e = {0};
    double t0 = now_s();
    cr_expect_eq(html_select(d, "count(//p[count(//p) > 0])", false, &out, &e), TRAWL_ETOOBIG);
    cr_expect_lt(now_s() - t0, 3.0 * slack());
    cr_expect_null(out);
    cr_expect(strstr(e.msg, "too costly"), "%s", e.msg);
    html_free(d);
    free(page);
}
