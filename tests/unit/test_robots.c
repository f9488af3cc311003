/* robots.txt: the examples of RFC 9309 and of Google's documentation, group selection, the
 * non-standard lines sites write, and input a crawler meets in the wild (garbage, huge files,
 * patterns built to be slow). */
#include "fetch/robots.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

struct verdict {
    const char *path;
    bool allowed;
};

static struct robots *parse(const char *text, const char *agent)
{
    return robots_parse(text, strlen(text), agent);
}

static void expect_verdicts(const char *text, const char *agent, const struct verdict *v, size_t n)
{
    struct robots *r = parse(text, agent);
    for (size_t i = 0; i < n; i++)
        cr_expect_eq(robots_allowed(r, v[i].path), v[i].allowed, "%s for %s: expected %s", agent,
                     v[i].path, v[i].allowed ? "allowed" : "disallowed");
    robots_free(r);
}

#define EXPECT_VERDICTS(text, agent, table)                                                        \
    expect_verdicts(text, agent, table, sizeof(table) / sizeof(table[0]))

/* "Disallow: pattern" alone, so that allowed means "the pattern does not match". */
static bool matches(const char *pattern, const char *path)
{
    char text[512];
    snprintf(text, sizeof text, "User-agent: *\nDisallow: %s\n", pattern);
    struct robots *r = parse(text, "trawl");
    bool m = !robots_allowed(r, path);
    robots_free(r);
    return m;
}

static void expect_matches(const char *pattern, const char *const *yes, const char *const *no)
{
    for (; *yes; yes++)
        cr_expect(matches(pattern, *yes), "%s should match %s", pattern, *yes);
    for (; *no; no++)
        cr_expect(!matches(pattern, *no), "%s should not match %s", pattern, *no);
}

/* The example file of RFC 9309 section 5.1. */
static const char rfc_example[] = "User-Agent: *\n"
                                  "Disallow: *.gif$\n"
                                  "Disallow: /example/\n"
                                  "Allow: /publications/\n"
                                  "\n"
                                  "User-Agent: foobot\n"
                                  "Disallow:/\n"
                                  "Allow:/example/page.html\n"
                                  "Allow:/example/allowed.gif\n"
                                  "\n"
                                  "User-Agent: barbot\n"
                                  "User-Agent: bazbot\n"
                                  "Disallow: /example/page.html\n"
                                  "\n"
                                  "User-Agent: quxbot\n"
                                  "\n"
                                  "EOF\n";

Test(robots, rfc_example_star_group)
{
    static const struct verdict v[] = {
        {"/", true},
        {"/index.html", true},
        {"/example/", false},
        {"/example/page.html", false},
        {"/publications/", true},
        {"/publications/2024.pdf", true},
        {"/images/logo.gif", false},
        {"/images/logo.gif?size=2", true}, /* '$' anchors at the end */
        {"/images/logo.gifs", true},
    };
    EXPECT_VERDICTS(rfc_example, "otherbot", v);
}

Test(robots, rfc_example_foobot)
{
    static const struct verdict v[] = {
        {"/", false},
        {"/index.html", false},
        {"/example/page.html", true},
        {"/example/allowed.gif", true}, /* the "*" group's *.gif$ does not apply to foobot */
        {"/example/other.html", false},
        {"/publications/", false},
    };
    EXPECT_VERDICTS(rfc_example, "foobot", v);
}

Test(robots, rfc_example_consecutive_agents_share_a_group)
{
    static const struct verdict v[] = {
        {"/example/page.html", false},
        {"/example/other.html", true}, /* their own group replaces "*" */
        {"/images/logo.gif", true},
        {"/", true},
    };
    EXPECT_VERDICTS(rfc_example, "barbot", v);
    EXPECT_VERDICTS(rfc_example, "bazbot", v);
}

Test(robots, rfc_example_group_without_rules_allows_everything)
{
    static const struct verdict v[] = {
        {"/", true},
        {"/example/page.html", true},
        {"/images/logo.gif", true},
    };
    EXPECT_VERDICTS(rfc_example, "quxbot", v);
}

Test(robots, rfc_groups_for_one_agent_are_merged)
{
    static const char text[] = "user-agent: ExampleBot\n"
                               "disallow: /foo\n"
                               "disallow: /bar\n"
                               "\n"
                               "user-agent: *\n"
                               "disallow: /\n"
                               "\n"
                               "user-agent: ExampleBot\n"
                               "disallow: /baz\n";
    static const struct verdict v[] = {
        {"/foo", false}, {"/bar/x", false}, {"/baz", false}, {"/qux", true}, {"/", true},
    };
    EXPECT_VERDICTS(text, "examplebot", v);
}

Test(robots, rfc_special_characters)
{
    /* RFC 9309 section 2.2.3: '#' comments, '$' anchors, '*' is a wildcard, and %2A / %24 name
     * the plain characters. */
    static const char text[] = "User-agent: *\n"
                               "Allow: /this/path/exactly$ # only this\n"
                               "Disallow: /this/path/\n"
                               "Disallow: /path/file-with-a-*.html\n"
                               "Disallow: /path/foo-%24\n"
                               "Disallow: /path/star-%2A.html\n";
    static const struct verdict v[] = {
        {"/this/path/exactly", true},
        {"/this/path/exactly/not", false}, /* the anchored Allow no longer matches */
        {"/this/path/other", false},
        {"/path/file-with-a-dollar.html", false},
        {"/path/file-with-a-asterisk.html", false},
        {"/path/file-with-a-.html", false},
        {"/path/file-with-b.html", true},
        {"/path/foo-$", false},
        {"/path/foo-%24", false},
        {"/path/foo-", true},
        {"/path/star-*.html", false},
        {"/path/star-%2a.html", false},
        {"/path/star-x.html", true},
    };
    EXPECT_VERDICTS(text, "trawl", v);
}

Test(robots, rfc_percent_encoding_and_non_ascii)
{
    /* RFC 9309 section 2.2.2's table, and the hex digits of escapes in either case. */
    static const char text[] = "User-agent: *\n"
                               "Disallow: /foo/bar?baz=quz\n"
                               "Disallow: /foo/bar/\xE3\x83\x84\n"
                               "Disallow: /foo/bar/%e2%82%ac\n"
                               "Disallow: /foo/bar/%62%61%7A\n"
                               "Disallow: /a%3cb\n";
    static const struct verdict v[] = {
        {"/foo/bar?baz=quz", false},
        {"/foo/bar?baz=other", true},
        {"/foo/bar/%E3%83%84", false}, /* a raw UTF-8 rule meets the encoded path */
        {"/foo/bar/%e3%83%84", false},
        {"/foo/bar/\xE3\x83\x84", false}, /* and the raw path, byte for byte */
        {"/foo/bar/\xE3\x83\x85", true},
        {"/foo/bar/%E2%82%AC", false},
        {"/foo/bar/\xE2\x82\xAC", false},
        {"/foo/bar/baz", false}, /* escapes of unreserved characters are decoded */
        {"/foo/bar/%62az", false},
        {"/foo/bar/bax", true},
        {"/a%3Cb", false},
        {"/a%3cb", false},
        {"/a<b", false},
        {"/a%3Db", true},
    };
    EXPECT_VERDICTS(text, "trawl", v);
}

Test(robots, google_precedence_examples)
{
    static const struct verdict p_vs_root[] = {{"/page", true}, {"/other", false}};
    EXPECT_VERDICTS("User-agent: *\nallow: /p\ndisallow: /\n", "trawl", p_vs_root);

    /* Equal length: the least restrictive rule wins, in either order. */
    static const struct verdict folder[] = {{"/folder/page", true}};
    EXPECT_VERDICTS("User-agent: *\nallow: /folder\ndisallow: /folder\n", "trawl", folder);
    EXPECT_VERDICTS("User-agent: *\ndisallow: /folder\nallow: /folder\n", "trawl", folder);

    static const struct verdict htm[] = {{"/page.htm", false}, {"/page", true}};
    EXPECT_VERDICTS("User-agent: *\nallow: /page\ndisallow: /*.htm\n", "trawl", htm);

    static const struct verdict php5[] = {{"/page.php5", true}};
    EXPECT_VERDICTS("User-agent: *\nallow: /page\ndisallow: /*.ph\n", "trawl", php5);

    static const struct verdict root_only[] = {{"/", true}, {"/page.htm", false}, {"/?q=1", false}};
    EXPECT_VERDICTS("User-agent: *\nallow: /$\ndisallow: /\n", "trawl", root_only);
}

Test(robots, google_path_examples)
{
    expect_matches("/", (const char *const[]){"/", "/fish", "/a/b?c", NULL},
                   (const char *const[]){NULL});
    expect_matches("/*", (const char *const[]){"/", "/fish", "/a/b?c", NULL},
                   (const char *const[]){NULL});
    expect_matches(
        "/fish",
        (const char *const[]){"/fish", "/fish.html", "/fish/salmon.html", "/fishheads",
                              "/fishheads/yummy.html", "/fish.php?id=anything", NULL},
        (const char *const[]){"/Fish.asp", "/catfish", "/?id=fish", "/desert/fish", NULL});
    expect_matches("/fish*",
                   (const char *const[]){"/fish", "/fish.html", "/fishheads/yummy.html", NULL},
                   (const char *const[]){"/Fish.asp", "/catfish", "/?id=fish", NULL});
    expect_matches(
        "/fish/", (const char *const[]){"/fish/", "/fish/?id=anything", "/fish/salmon.htm", NULL},
        (const char *const[]){"/fish", "/fish.html", "/animals/fish/", "/Fish/Salmon.asp", NULL});
    expect_matches("/*.php",
                   (const char *const[]){"/index.php", "/filename.php", "/folder/filename.php",
                                         "/folder/filename.php?parameters",
                                         "/folder/any.php.file.html", "/filename.php/", NULL},
                   (const char *const[]){"/", "/windows.PHP", NULL});
    expect_matches("/*.php$", (const char *const[]){"/filename.php", "/folder/filename.php", NULL},
                   (const char *const[]){"/filename.php?parameters", "/filename.php/",
                                         "/filename.php5", "/windows.PHP", NULL});
    expect_matches("/fish*.php",
                   (const char *const[]){"/fish.php", "/fishheads/catfish.php?parameters", NULL},
                   (const char *const[]){"/Fish.PHP", NULL});
    expect_matches("*.gif", (const char *const[]){"/a.gif", "/b/c.gif?x", NULL},
                   (const char *const[]){"/a.png", NULL});
    /* A '$' that does not end the rule is the plain character. */
    expect_matches("/a$b", (const char *const[]){"/a$b", "/a%24b/c", NULL},
                   (const char *const[]){"/a", "/ab", NULL});
    /* The anchored last piece may not overlap what the first piece took. */
    expect_matches("/ab*ba$", (const char *const[]){"/abba", "/ab-ba", "/ab/x/ba", NULL},
                   (const char *const[]){"/aba", "/ab", "/abba/", NULL});
    expect_matches("/a*bbbb$", (const char *const[]){"/abbbb", NULL},
                   (const char *const[]){"/a", "/ab", NULL});
    expect_matches("/a**b$", (const char *const[]){"/ab", "/a/x/b", NULL},
                   (const char *const[]){"/a/b/", NULL});
}

Test(robots, own_group_beats_star)
{
    static const char text[] = "User-agent: *\n"
                               "Disallow: /\n"
                               "\n"
                               "User-agent: trawl\n"
                               "Disallow: /private/\n";
    static const struct verdict own[] = {{"/", true}, {"/page", true}, {"/private/x", false}};
    static const struct verdict other[] = {{"/", false}, {"/page", false}};
    EXPECT_VERDICTS(text, "trawl", own);
    EXPECT_VERDICTS(text, "otherbot", other);
}

Test(robots, agent_names_are_matched_by_product_token_without_case)
{
    static const struct verdict blocked[] = {{"/x", false}};
    static const struct verdict open[] = {{"/x", true}};
    static const char *const names[] = {
        "trawl", "TRAWL", "Trawl/1.0", "trawl/1.0 (+https://x)", "trawl extra words", "  trawl  "};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char text[256];
        snprintf(text, sizeof text, "User-agent: %s\nDisallow: /\n", names[i]);
        EXPECT_VERDICTS(text, "trawl", blocked);
    }
    /* Other crawlers whose names merely start like ours. */
    static const char *const others[] = {"trawlbot", "trawl2", "trawl-ng", "xtrawl", "*trawl"};
    for (size_t i = 0; i < sizeof others / sizeof others[0]; i++) {
        char text[256];
        snprintf(text, sizeof text, "User-agent: %s\nDisallow: /\n", others[i]);
        EXPECT_VERDICTS(text, "trawl", open);
    }
    /* The crawler's own name may carry a version too. */
    EXPECT_VERDICTS("User-agent: trawl\nDisallow: /\n", "Trawl/2.1", blocked);
}

Test(robots, consecutive_agents_across_blank_lines_and_comments_share_a_group)
{
    static const char text[] = "User-agent: otherbot\n"
                               "\n"
                               "# our crawler too\n"
                               "unknown-key: ignored\n"
                               "Sitemap: https://example.com/sitemap.xml\n"
                               "User-agent: trawl\n"
                               "\n"
                               "Disallow: /shared\n"
                               "User-agent: *\n"
                               "Disallow: /\n";
    static const struct verdict v[] = {{"/shared/x", false}, {"/page", true}};
    EXPECT_VERDICTS(text, "trawl", v);
    EXPECT_VERDICTS(text, "otherbot", v);
}

Test(robots, an_agent_line_after_rules_opens_a_new_group)
{
    static const char text[] = "User-agent: trawl\n"
                               "Disallow:\n" /* empty: allows everything, but ends the agents */
                               "User-agent: otherbot\n"
                               "Disallow: /\n";
    static const struct verdict ours[] = {{"/", true}, {"/page", true}};
    static const struct verdict theirs[] = {{"/", false}, {"/page", false}};
    EXPECT_VERDICTS(text, "trawl", ours);
    EXPECT_VERDICTS(text, "otherbot", theirs);
}

Test(robots, own_group_without_rules_still_replaces_star)
{
    static const char text[] = "User-agent: *\n"
                               "Disallow: /\n"
                               "User-agent: trawl\n"
                               "Crawl-delay: 3\n";
    static const struct verdict v[] = {{"/", true}, {"/page", true}};
    EXPECT_VERDICTS(text, "trawl", v);
}

Test(robots, rules_before_any_agent_are_ignored)
{
    static const char text[] = "Disallow: /early\n"
                               "Crawl-delay: 9\n"
                               "User-agent: *\n"
                               "Disallow: /late\n";
    static const struct verdict v[] = {{"/early", true}, {"/late", false}};
    EXPECT_VERDICTS(text, "trawl", v);
    struct robots *r = parse(text, "trawl");
    cr_expect_eq(robots_crawl_delay_ms(r), -1);
    robots_free(r);
}

Test(robots, no_group_for_anyone_allows_everything)
{
    static const char text[] = "User-agent: otherbot\nDisallow: /\n";
    static const struct verdict v[] = {{"/", true}, {"/page", true}};
    EXPECT_VERDICTS(text, "trawl", v);
    EXPECT_VERDICTS("Sitemap: https://example.com/s.xml\n", "trawl", v);
}

Test(robots, keys_spacing_typos_and_comments)
{
    static const char text[] = "  uSeR-AgEnT  :   TRAWL   # us\n"
                               "DISALLOW:/a\n"
                               "\tdisallow\t:\t/b\t# tabs\n"
                               "Dissallow: /c\n"
                               "disalow: /d\n"
                               "Disallow /e\n"          /* no colon, two words */
                               "Disallow /f /g\n"       /* no colon, three words: ignored */
                               "Noindex: /h\n"          /* unknown key */
                               "Disallow: private\n"    /* not a path: never matches */
                               "Disallow: http://x/i\n" /* neither is a URL */
                               "# Disallow: /j\n"
                               "Disallow: /k#/l\n"
                               "Allow: /a/ok\n";
    static const struct verdict v[] = {
        {"/a", false}, {"/a/ok", true}, {"/b", false}, {"/c", false}, {"/d", false},
        {"/e", false}, {"/f", true},    {"/g", true},  {"/h", true},  {"/private", true},
        {"/i", true},  {"/j", true},    {"/k", false}, {"/l", true},  {"/k#/l", false},
    };
    EXPECT_VERDICTS(text, "trawl", v);
}

Test(robots, user_agent_spellings)
{
    static const struct verdict v[] = {{"/x", false}};
    EXPECT_VERDICTS("useragent: trawl\ndisallow: /\n", "trawl", v);
    EXPECT_VERDICTS("User Agent: trawl\ndisallow: /\n", "trawl", v);
    EXPECT_VERDICTS("USER-AGENT: *\ndisallow: /\n", "trawl", v);
}

Test(robots, empty_disallow_allows_everything)
{
    static const struct verdict v[] = {{"/", true}, {"/anything", true}};
    EXPECT_VERDICTS("User-agent: *\nDisallow:\n", "trawl", v);
    EXPECT_VERDICTS("User-agent: *\nDisallow:   # nothing\n", "trawl", v);
}

Test(robots, crawl_delay)
{
    static const struct {
        const char *value;
        int64_t ms;
    } cases[] = {
        {"10", 10000},
        {"0.5", 500},
        {".25", 250},
        {"2.", 2000},
        {"0", 0},
        {"1.0005", 1000},
        {"abc", -1},
        {"", -1},
        {"-1", -1},
        {"1e3", -1},
        {"10s", -1},
        {"1.2.3", -1},
        {"86401", 86400000},
        {"99999999999999999999999", 86400000},
        {"2 # two", 2000},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char text[256];
        snprintf(text, sizeof text, "User-agent: trawl\nCrawl-delay: %s\n", cases[i].value);
        struct robots *r = parse(text, "trawl");
        cr_expect_eq(robots_crawl_delay_ms(r), cases[i].ms,
                     "crawl-delay %s: expected %lld, got %lld", cases[i].value,
                     (long long)cases[i].ms, (long long)robots_crawl_delay_ms(r));
        robots_free(r);
    }
}

Test(robots, crawl_delay_comes_from_the_applying_groups)
{
    static const char text[] = "User-agent: *\n"
                               "Crawl-delay: 30\n"
                               "\n"
                               "User-agent: trawl\n"
                               "Crawl-delay: 1.5\n"
                               "Disallow: /x\n"
                               "\n"
                               "User-agent: trawl\n"
                               "Crawl-delay: abc\n" /* invalid: does not erase the 1.5 */
                               "Crawl-delay: 0.5\n";
    struct robots *r = parse(text, "trawl");
    cr_expect_eq(robots_crawl_delay_ms(r), 1500); /* merged groups: the politer delay */
    robots_free(r);
    r = parse(text, "otherbot");
    cr_expect_eq(robots_crawl_delay_ms(r), 30000);
    robots_free(r);
    r = parse("User-agent: *\nDisallow: /\n", "trawl");
    cr_expect_eq(robots_crawl_delay_ms(r), -1);
    robots_free(r);
}

Test(robots, sitemaps_are_collected_from_the_whole_file_in_order)
{
    static const char text[] = "Sitemap: https://example.com/first.xml\n"
                               "User-agent: otherbot\n"
                               "Disallow: /\n"
                               "sitemap:https://example.com/second.xml   # comment\n"
                               "User-agent: trawl\n"
                               "SITEMAP :  http://cdn.example.com/third.xml.gz \n"
                               "Sitemap:\n"
                               "Allow: /\n";
    struct robots *r = parse(text, "trawl");
    size_t n = 99;
    const char *const *s = robots_sitemaps(r, &n);
    cr_assert_eq(n, 3);
    cr_expect_str_eq(s[0], "https://example.com/first.xml");
    cr_expect_str_eq(s[1], "https://example.com/second.xml");
    cr_expect_str_eq(s[2], "http://cdn.example.com/third.xml.gz");
    robots_free(r);

    r = parse("User-agent: *\nDisallow: /\n", "trawl");
    robots_sitemaps(r, &n);
    cr_expect_eq(n, 0);
    robots_free(r);
}

Test(robots, bom_and_line_endings)
{
    static const struct verdict v[] = {{"/a", false}, {"/b", false}, {"/c", true}};
    EXPECT_VERDICTS("\xEF\xBB\xBFUser-agent: *\nDisallow: /a\nDisallow: /b\n", "trawl", v);
    EXPECT_VERDICTS("User-agent: *\rDisallow: /a\rDisallow: /b\r", "trawl", v);
    EXPECT_VERDICTS("User-agent: *\r\nDisallow: /a\r\nDisallow: /b\r\n", "trawl", v);
    EXPECT_VERDICTS("\xEF\xBB\xBFUser-agent: *\r\nDisallow: /a\rDisallow: /b", "trawl", v);
}

Test(robots, empty_file)
{
    struct robots *rs[] = {parse("", "trawl"), robots_parse(NULL, 0, "trawl"),
                           parse("\xEF\xBB\xBF", "trawl"), parse("\n\r\n\r", "trawl")};
    for (size_t i = 0; i < sizeof rs / sizeof rs[0]; i++) {
        size_t n = 99;
        cr_expect(robots_allowed(rs[i], "/"));
        cr_expect(robots_allowed(rs[i], "/any/path?q=1"));
        cr_expect_eq(robots_crawl_delay_ms(rs[i]), -1);
        robots_sitemaps(rs[i], &n);
        cr_expect_eq(n, 0);
        robots_free(rs[i]);
    }
}

Test(robots, input_past_the_limit_is_ignored)
{
    size_t len = 2 * 1024 * 1024;
    char *text = malloc(len + 64);
    cr_assert(text);
    const char head[] = "User-agent: *\nDisallow: /early\n";
    memcpy(text, head, sizeof head - 1);
    /* Garbage in lines of 100 bytes: printable noise with no key a parser knows. */
    for (size_t i = sizeof head - 1; i < len; i++)
        text[i] = i % 100 == 99 ? '\n' : (char)('a' + i % 23);
    size_t n = len;
    n += (size_t)sprintf(text + n, "\nDisallow: /\n");
    struct robots *r = robots_parse(text, n, "trawl");
    cr_expect(!robots_allowed(r, "/early"));
    cr_expect(robots_allowed(r, "/late"));
    robots_free(r);
    free(text);
}

Test(robots, a_line_cut_by_the_limit_is_dropped)
{
    static const char rule[] = "Disallow: /private\n";
    size_t len = ROBOTS_MAX_BYTES + 64;
    char *text = malloc(len);
    cr_assert(text);
    size_t n = (size_t)sprintf(text, "User-agent: *\n");
    memset(text + n, '\n', len - n);
    /* Place the rule so that the limit falls right after "Disallow: /p". */
    size_t at = ROBOTS_MAX_BYTES - strlen("Disallow: /p");
    memcpy(text + at, rule, sizeof rule - 1);
    struct robots *r = robots_parse(text, len, "trawl");
    cr_expect(robots_allowed(r, "/public"));
    cr_expect(robots_allowed(r, "/private"));
    robots_free(r);

    /* A line that ends exactly at the limit is whole and kept. */
    memset(text + n, '\n', len - n);
    at = ROBOTS_MAX_BYTES - strlen("Disallow: /private");
    memcpy(text + at, rule, sizeof rule - 1);
    r = robots_parse(text, len, "trawl");
    cr_expect(!robots_allowed(r, "/private"));
    cr_expect(robots_allowed(r, "/public"));
    robots_free(r);
    free(text);
}

Test(robots, nul_bytes_and_binary_garbage)
{
    static const char text[] = "User-agent: *\n"
                               "\0\0\0garbage\xFF\xFE\x01\n"
                               "Disallow: /x\0y\n"
                               "\xFF\xFF: \xFF\n"
                               "Disallow: /z\n"
                               "Sitemap: https://e.com/\0evil\n";
    struct robots *r = robots_parse(text, sizeof text - 1, "trawl");
    cr_expect(robots_allowed(r, "/x"));
    cr_expect(!robots_allowed(r, "/z"));
    size_t n;
    robots_sitemaps(r, &n);
    cr_expect_eq(n, 0);
    robots_free(r);

    /* Random bytes, biased toward the characters the parser looks at. */
    static const char alphabet[] = "\0\r\n\t :#*$%/aZ\xFF\xC3"
                                   "Disallow"
                                   "User-agent";
    unsigned seed = 12345;
    char buf[4096];
    for (int round = 0; round < 500; round++) {
        size_t len = 0;
        static const char *const starts[] = {
            "User-agent: *\nDisallow: ", "Allow: ", "Sitemap: ", "Crawl-delay: ", ""};
        const char *s = starts[round % 5];
        memcpy(buf, s, strlen(s));
        len = strlen(s);
        size_t want = (size_t)(round * 7 % 4000);
        while (len < want) {
            seed = seed * 1103515245u + 12345u;
            buf[len++] = alphabet[(seed >> 16) % (sizeof alphabet - 1)];
        }
        r = robots_parse(buf, len, "trawl");
        (void)robots_allowed(r, "/");
        (void)robots_allowed(r, "/a*Z$%");
        buf[len < sizeof buf ? len : sizeof buf - 1] = '\0';
        (void)robots_allowed(r, buf);
        (void)robots_crawl_delay_ms(r);
        robots_sitemaps(r, &n);
        robots_free(r);
    }
}

Test(robots, huge_lines)
{
    size_t big = 300 * 1024;
    char *text = malloc(big + 128);
    cr_assert(text);
    size_t n = (size_t)sprintf(text, "User-agent: *\nDisallow: /");
    memset(text + n, 'a', big);
    n += big;
    n += (size_t)sprintf(text + n, "\nDisallow: /b\n");
    struct robots *r = robots_parse(text, n, "trawl");
    cr_expect(!robots_allowed(r, "/b"));
    cr_expect(robots_allowed(r, "/aaaa"));
    robots_free(r);
    free(text);
}

Test(robots, rule_count_is_capped)
{
    size_t cap = 20000 * 20 + 32;
    char *text = malloc(cap);
    cr_assert(text);
    size_t n = (size_t)sprintf(text, "User-agent: *\n");
    for (int i = 0; i < 20000; i++)
        n += (size_t)sprintf(text + n, "Disallow: /d%d$\n", i);
    struct robots *r = robots_parse(text, n, "trawl");
    cr_expect(!robots_allowed(r, "/d0"));
    cr_expect(!robots_allowed(r, "/d9999"));
    cr_expect(robots_allowed(r, "/d10000"));
    cr_expect(robots_allowed(r, "/d19999"));
    robots_free(r);
    free(text);
}

Test(robots, pathological_patterns_finish, .timeout = 20)
{
    size_t len = 200000;
    char *path = malloc(len + 2);
    cr_assert(path);
    path[0] = '/';
    memset(path + 1, 'a', len);
    path[len + 1] = '\0';

    struct robots *r = parse("User-agent: *\nDisallow: /*a*a*a*a*a*a*a*a*a*b\n", "trawl");
    cr_expect(robots_allowed(r, path));
    cr_expect(!robots_allowed(r, "/xaaaaaaaaaab"));
    robots_free(r);
    r = parse("User-agent: *\nDisallow: /*a*a*a*a*a*a*a*a*a*a$\n", "trawl");
    cr_expect(!robots_allowed(r, path));
    robots_free(r);

    /* Many such rules, with long pieces between the stars, at the rule cap. */
    size_t piece = 300;
    size_t line = piece * 3 + 32;
    size_t rules = ROBOTS_MAX_BYTES / line;
    char *text = malloc(rules * line + 64);
    cr_assert(text);
    size_t n = (size_t)sprintf(text, "User-agent: *\n");
    for (size_t i = 0; i < rules; i++) {
        n += (size_t)sprintf(text + n, "Disallow: /*");
        memset(text + n, 'a', piece);
        n += piece;
        text[n++] = '*';
        memset(text + n, 'a', piece);
        n += piece;
        n += (size_t)sprintf(text + n, "b%zu\n", i % 10);
    }
    r = robots_parse(text, n, "trawl");
    cr_expect(robots_allowed(r, path));
    path[len] = 'b';
    path[len + 1] = '\0';
    cr_expect(robots_allowed(r, path)); /* "b" without the digit */
    robots_free(r);
    free(text);
    free(path);
}

Test(robots, robots_txt_is_always_allowed)
{
    struct robots *r = parse("User-agent: *\nDisallow: /\nDisallow: /robots.txt\n", "trawl");
    cr_expect(robots_allowed(r, "/robots.txt"));
    cr_expect(!robots_allowed(r, "/robots.txt.bak"));
    cr_expect(!robots_allowed(r, "/"));
    robots_free(r);
    r = robots_disallow_all();
    cr_expect(robots_allowed(r, "/robots.txt"));
    robots_free(r);
}

Test(robots, allow_all_and_disallow_all)
{
    size_t n = 99;
    struct robots *r = robots_allow_all();
    cr_expect(robots_allowed(r, "/"));
    cr_expect(robots_allowed(r, "/private/x?y=1"));
    cr_expect_eq(robots_crawl_delay_ms(r), -1);
    robots_sitemaps(r, &n);
    cr_expect_eq(n, 0);
    robots_free(r);

    r = robots_disallow_all();
    cr_expect(!robots_allowed(r, "/"));
    cr_expect(!robots_allowed(r, "/page"));
    cr_expect_eq(robots_crawl_delay_ms(r), -1);
    robots_sitemaps(r, &n);
    cr_expect_eq(n, 0);
    robots_free(r);

    robots_free(NULL);
}
