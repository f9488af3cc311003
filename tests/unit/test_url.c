/* URLs: the spellings of one page that must normalize to one string, relative references
 * resolved as a browser would, the parts the fetcher needs, and every refusal with the message a
 * user sees. */
#include "fetch/url.h"

#include <locale.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#define N(a) (sizeof(a) / sizeof((a)[0]))

struct pair {
    const char *in;
    const char *want;
};

struct refusal {
    const char *in;
    int code;
    const char *msg; /* a substring of the message */
};

static void expect_norm(const char *in, const char *want)
{
    struct err e = {0};
    char *out = NULL;
    int rc = url_normalize(in, &out, &e);
    cr_expect_eq(rc, 0, "'%s': refused: %s", in, e.msg);
    if (rc == 0)
        cr_expect_str_eq(out, want, "'%s' normalized to '%s', want '%s'", in, out, want);
    free(out);
}

static void expect_norm_all(const struct pair *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        expect_norm(p[i].in, p[i].want);
}

static void expect_refused(const char *in, int code, const char *msg)
{
    struct err e = {0};
    char *out = (char *)"untouched";
    int rc = url_normalize(in, &out, &e);
    cr_expect_eq(rc, code, "'%s': rc %d (%s), want %d", in, rc, e.msg, code);
    cr_expect_eq(e.code, code, "'%s': err code %d, want %d", in, e.code, code);
    cr_expect_null(out, "'%s': out is set on error", in);
    cr_expect(strstr(e.msg, msg) != NULL, "'%s': message '%s' lacks '%s'", in, e.msg, msg);
    if (rc == 0)
        free(out);
}

static void expect_resolve(const char *base, const char *ref, const char *want)
{
    struct err e = {0};
    char *out = NULL;
    int rc = url_resolve(base, ref, &out, &e);
    cr_expect_eq(rc, 0, "'%s' against '%s': refused: %s", ref, base, e.msg);
    if (rc == 0)
        cr_expect_str_eq(out, want, "'%s' against '%s' gave '%s', want '%s'", ref, base, out, want);
    free(out);
}

static void expect_resolve_refused(const char *base, const char *ref, int code, const char *msg)
{
    struct err e = {0};
    char *out = NULL;
    int rc = url_resolve(base, ref, &out, &e);
    cr_expect_eq(rc, code, "'%s' against '%s': rc %d (%s), want %d", ref, base, rc, e.msg, code);
    cr_expect_null(out);
    cr_expect(strstr(e.msg, msg) != NULL, "'%s' against '%s': message '%s' lacks '%s'", ref, base,
              e.msg, msg);
    free(out);
}

Test(url_normalize, scheme_and_host_lowercased_path_case_kept)
{
    static const struct pair p[] = {
        {"HTTP://Example.COM/Path/File.HTML", "http://example.com/Path/File.HTML"},
        {"hTtPs://WWW.EXAMPLE.org/", "https://www.example.org/"},
        {"http://example.com/?Q=A", "http://example.com/?Q=A"},
        {"http://ex%41mple.com/", "http://example.com/"},
    };
    expect_norm_all(p, N(p));
}

Test(url_normalize, default_port_removed_other_ports_kept)
{
    static const struct pair p[] = {
        {"http://example.com:80/", "http://example.com/"},
        {"https://example.com:443/", "https://example.com/"},
        {"http://example.com:0080/", "http://example.com/"},
        {"http://example.com:/", "http://example.com/"},
        {"http://example.com:443/", "http://example.com:443/"},
        {"https://example.com:80/", "https://example.com:80/"},
        {"http://example.com:8080/", "http://example.com:8080/"},
        {"http://example.com:65535/", "http://example.com:65535/"},
    };
    expect_norm_all(p, N(p));
}

Test(url_normalize, empty_path_written_as_slash)
{
    static const struct pair p[] = {
        {"http://example.com", "http://example.com/"},
        {"http://example.com?x=1", "http://example.com/?x=1"},
        {"https://example.com:8443", "https://example.com:8443/"},
    };
    expect_norm_all(p, N(p));
}

Test(url_normalize, dot_segments_resolved)
{
    static const struct pair p[] = {
        {"http://example.com/a/./b/../c", "http://example.com/a/c"},
        {"http://example.com/a/b/..", "http://example.com/a/"},
        {"http://example.com/a/b/.", "http://example.com/a/b/"},
        {"http://example.com/../../x", "http://example.com/x"},
        {"http://example.com/a/%2e%2E/b", "http://example.com/b"},
        {"http://example.com/a/%2E/b", "http://example.com/a/b"},
        {"http://example.com/a/..%2fb", "http://example.com/a/..%2Fb"},
        {"http://example.com/?a/../b", "http://example.com/?a/../b"},
    };
    expect_norm_all(p, N(p));
}

Test(url_normalize, fragment_removed)
{
    static const struct pair p[] = {
        {"http://example.com/a#top", "http://example.com/a"},
        {"http://example.com/a?x=1#top", "http://example.com/a?x=1"},
        {"http://example.com#", "http://example.com/"},
        {"http://example.com/#a#b", "http://example.com/"},
    };
    expect_norm_all(p, N(p));
}

Test(url_normalize, escapes_of_unreserved_characters_decoded)
{
    static const struct pair p[] = {
        {"http://example.com/%7euser", "http://example.com/~user"},
        {"http://example.com/%7Euser", "http://example.com/~user"},
        {"http://example.com/%41%62%2D%5f%2e%30", "http://example.com/Ab-_.0"},
        {"http://example.com/?%7e=%61", "http://example.com/?~=a"},
    };
    expect_norm_all(p, N(p));
}

Test(url_normalize, other_escapes_kept_in_uppercase)
{
    static const struct pair p[] = {
        {"http://example.com/a%2fb", "http://example.com/a%2Fb"},
        {"http://example.com/a%2Fb", "http://example.com/a%2Fb"},
        {"http://example.com/%c3%bc", "http://example.com/%C3%BC"},
        {"http://example.com/?a=%3d%26", "http://example.com/?a=%3D%26"},
        {"http://example.com/%25", "http://example.com/%25"},
        {"http://example.com/%ff", "http://example.com/%FF"},
    };
    expect_norm_all(p, N(p));
}

Test(url_normalize, raw_bytes_that_may_not_appear_are_encoded)
{
    static const struct pair p[] = {
        {"http://example.com/a b", "http://example.com/a%20b"},
        {"http://example.com/?q=a b", "http://example.com/?q=a%20b"},
        {"http://example.com/\xc3\xbc", "http://example.com/%C3%BC"},
        {"http://example.com/?q=\xe2\x82\xac", "http://example.com/?q=%E2%82%AC"},
        {"http://example.com/\"<>\\^`{|}", "http://example.com/%22%3C%3E%5C%5E%60%7B%7C%7D"},
        {"http://example.com/a+b;c=d@e:f!$&'()*,[]", "http://example.com/a+b;c=d@e:f!$&'()*,[]"},
    };
    expect_norm_all(p, N(p));
}

Test(url_normalize, percent_sign_that_starts_no_escape_is_encoded)
{
    static const struct pair p[] = {
        {"http://example.com/100%", "http://example.com/100%25"},
        {"http://example.com/%zz", "http://example.com/%25zz"},
        {"http://example.com/?a=%4", "http://example.com/?a=%254"},
        /* the decoded 'A' must not form "%Ab" with the stray '%' */
        {"http://example.com/%%41b", "http://example.com/%25Ab"},
    };
    expect_norm_all(p, N(p));
}

Test(url_normalize, query_kept_in_its_order_empty_query_dropped)
{
    static const struct pair p[] = {
        {"http://example.com/?b=2&a=1&b=1", "http://example.com/?b=2&a=1&b=1"},
        {"http://example.com/?", "http://example.com/"},
        {"http://example.com/?a?b", "http://example.com/?a?b"},
    };
    expect_norm_all(p, N(p));
}

Test(url_normalize, numeric_ipv4_spellings_written_as_dotted_quad)
{
    static const struct pair p[] = {
        {"http://2130706433/", "http://127.0.0.1/"},
        {"http://0x7f.1/", "http://127.0.0.1/"},
        {"http://0177.0.0.1/", "http://127.0.0.1/"},
        {"http://127.1/", "http://127.0.0.1/"},
        {"http://0x7F000001/", "http://127.0.0.1/"},
        {"http://0x7f.0.0.01/", "http://127.0.0.1/"},
        {"http://127.0.0.1./", "http://127.0.0.1/"},
        {"http://0x7f.1./", "http://127.0.0.1/"},
        {"http://10.0.0.1:8080/x", "http://10.0.0.1:8080/x"},
    };
    expect_norm_all(p, N(p));
}

Test(url_normalize, ipv6_in_canonical_form)
{
    static const struct pair p[] = {
        {"http://[::FFFF:127.0.0.1]/", "http://[::ffff:127.0.0.1]/"},
        {"http://[::ffff:7f00:1]/", "http://[::ffff:127.0.0.1]/"},
        {"http://[0:0:0:0:0:0:0:1]/", "http://[::1]/"},
        {"http://[2001:DB8:0:0:0:0:0:1]:8080/", "http://[2001:db8::1]:8080/"},
        {"http://[2001:db8::1]:80/", "http://[2001:db8::1]/"},
        {"https://[::1]:443", "https://[::1]/"},
    };
    expect_norm_all(p, N(p));
}

Test(url_normalize, internationalized_host_in_punycode)
{
    static const struct pair p[] = {
        {"http://b\xc3\xbc"
         "cher.de/",
         "http://xn--bcher-kva.de/"},
        {"http://B\xc3\x9c"
         "CHER.DE/",
         "http://xn--bcher-kva.de/"},
        {"http://%C3%BC"
         "ber.de/",
         "http://xn--ber-goa.de/"},
        {"https://\xe2\x98\x83.net/\xe2\x98\x83", "https://xn--n3h.net/%E2%98%83"},
        {"http://XN--BCHER-KVA.de/", "http://xn--bcher-kva.de/"},
    };
    /* libcurl's IDN conversion reads the host in the locale's charset: trawl never sets a
     * locale, so the conversion must work in "C" */
    setlocale(LC_ALL, "C");
    expect_norm_all(p, N(p));
}

Test(url_normalize, one_trailing_dot_of_host_removed)
{
    static const struct pair p[] = {
        {"http://example.com./", "http://example.com/"},
        {"http://Example.COM.:8080/x", "http://example.com:8080/x"},
        {"http://b\xc3\xbc"
         "cher.de./",
         "http://xn--bcher-kva.de/"},
    };
    expect_norm_all(p, N(p));
}

Test(url_normalize, leading_and_trailing_whitespace_trimmed)
{
    static const struct pair p[] = {
        {"  http://example.com/a  ", "http://example.com/a"},
        {"\thttp://example.com/a\r\n", "http://example.com/a"},
    };
    expect_norm_all(p, N(p));
}

Test(url_normalize, spellings_of_one_page_are_one_string)
{
    static const struct pair same[] = {
        {"HTTP://WWW.Example.COM:80/a/./b/../c/%7Euser?x=%2f#frag",
         "http://www.example.com/a/c/~user?x=%2F"},
        {"http://www.example.com/a/c/%7euser?x=%2F", "http://www.example.com/a/c/~user?x=%2F"},
        {"http://www.example.com./a/c/~user?x=%2f", "http://www.example.com/a/c/~user?x=%2F"},
    };
    char *first = NULL;
    for (size_t i = 0; i < N(same); i++) {
        struct err e = {0};
        char *out = NULL;
        cr_assert_eq(url_normalize(same[i].in, &out, &e), 0, "'%s': %s", same[i].in, e.msg);
        cr_expect_str_eq(out, same[i].want);
        if (first)
            cr_expect_str_eq(out, first, "'%s' and '%s' differ", same[0].in, same[i].in);
        else
            first = out;
        if (out != first)
            free(out);
    }
    free(first);
}

Test(url_normalize, refusals_say_what_is_wrong)
{
    static const struct refusal r[] = {
        {"", TRAWL_EINVAL, "url is empty"},
        {"   \t\n", TRAWL_EINVAL, "url is empty"},
        {"http://example.com/a\x01"
         "b",
         TRAWL_EINVAL, "url has a control character (0x01) at byte 20"},
        {"http://example.com/a\nb", TRAWL_EINVAL, "url has a control character (0x0a) at byte 20"},
        {"http://example.com/a\tb", TRAWL_EINVAL, "url has a control character (0x09) at byte 20"},
        {"http://example.com/\x7f", TRAWL_EINVAL, "url has a control character (0x7f) at byte 19"},
        {"http://example.com/\x01", TRAWL_EINVAL, "url has a control character (0x01) at byte 19"},
        {"\xff", TRAWL_EINVAL, "url is not valid UTF-8"},
        {"http://example.com/\xff", TRAWL_EINVAL, "url is not valid UTF-8"},
        {"http://example.com/\xc0\xaf", TRAWL_EINVAL, "url is not valid UTF-8"},
        {"http://example.com/\xed\xa0\x80", TRAWL_EINVAL, "url is not valid UTF-8"},
        {"http://example.com/\xc3", TRAWL_EINVAL, "url is not valid UTF-8"},
        {"ftp://example.com/", TRAWL_EINVAL,
         "url scheme 'ftp' is not allowed (http and https only)"},
        {"file:///etc/passwd", TRAWL_EINVAL,
         "url scheme 'file' is not allowed (http and https only)"},
        {"FILE:///etc/passwd", TRAWL_EINVAL, "url scheme 'file' is not allowed"},
        {"javascript:alert(1)", TRAWL_EINVAL, "url scheme 'javascript' is not allowed"},
        {"mailto:a@example.com", TRAWL_EINVAL, "url scheme 'mailto' is not allowed"},
        {"gopher://example.com/", TRAWL_EINVAL, "url scheme 'gopher' is not allowed"},
        {"example.com/a", TRAWL_EINVAL,
         "url has no scheme (it must start with http:// or https://)"},
        {"/a/b", TRAWL_EINVAL, "url has no scheme"},
        {"//example.com/a", TRAWL_EINVAL, "url has no scheme"},
        {"http:example.com", TRAWL_EINVAL, "url must have '//' after 'http:'"},
        {"http://", TRAWL_EINVAL, "url has no host"},
        {"http://:8080/", TRAWL_EINVAL, "url has no host"},
        {"http://./", TRAWL_EINVAL, "url has no host"},
        {"http://user:pass@example.com/", TRAWL_EINVAL, "url must not contain user info"},
        {"http://user@example.com/", TRAWL_EINVAL, "url must not contain user info"},
        {"http://:pass@example.com/", TRAWL_EINVAL, "url must not contain user info"},
        {"http://example.com:99999/", TRAWL_EINVAL, "url port is not a number from 1 to 65535"},
        {"http://example.com:65536/", TRAWL_EINVAL, "url port is not a number from 1 to 65535"},
        {"http://example.com:0/", TRAWL_EINVAL, "url port is not a number from 1 to 65535"},
        {"http://example.com:-1/", TRAWL_EINVAL, "url port is not a number from 1 to 65535"},
        {"http://example.com:8o/", TRAWL_EINVAL, "url port is not a number from 1 to 65535"},
        {"http://exa mple.com/", TRAWL_EINVAL, "url host is not a valid host name"},
        {"http://a%2525b.com/", TRAWL_EINVAL, "url host is not a valid host name"},
        {"http://a%b.com/", TRAWL_EINVAL, "url host is not a valid host name"},
        {"http://example.com../", TRAWL_EINVAL, "url host 'example.com..' has an empty label"},
        {"http://[::1/", TRAWL_EINVAL, "url host is not a valid IPv6 address"},
        {"http://[fe80::1%25eth0]/", TRAWL_EINVAL, "url host must not have an IPv6 zone id"},
        {"http://256.1.1.1/", TRAWL_EINVAL, "url host '256.1.1.1' is not a valid IPv4 address"},
        {"http://1.2.3.4.5/", TRAWL_EINVAL, "url host '1.2.3.4.5' is not a valid IPv4 address"},
        {"http://4294967296/", TRAWL_EINVAL, "is not a valid IPv4 address"},
        {"http://0x100000000/", TRAWL_EINVAL, "is not a valid IPv4 address"},
        {"http://example.09/", TRAWL_EINVAL, "is not a valid IPv4 address"},
        {"http://%FF.com/", TRAWL_EINVAL, "is not a valid internationalized domain name"},
        {"http://xn--a.xn--\xc3\xbc.com/", TRAWL_EINVAL,
         "is not a valid internationalized domain name"},
    };
    for (size_t i = 0; i < N(r); i++)
        expect_refused(r[i].in, r[i].code, r[i].msg);
}

Test(url_normalize, control_character_position_counts_from_0_in_the_input_as_given)
{
    expect_refused("http://a.co/\x01", TRAWL_EINVAL,
                   "url has a control character (0x01) at byte 12");
    expect_refused("  http://a.co/\x01", TRAWL_EINVAL, "at byte 14");
    expect_refused("http://a.co/x\ny\n", TRAWL_EINVAL, "(0x0a) at byte 13");
    /* a line break at the end is trimmed, not refused */
    expect_norm("http://a.co/x\n", "http://a.co/x");
}

Test(url_normalize, longer_than_url_max_is_too_big)
{
    static const char prefix[] = "http://example.com/";
    char *s = malloc(URL_MAX + 2);
    cr_assert_not_null(s);
    memcpy(s, prefix, sizeof prefix - 1);
    memset(s + sizeof prefix - 1, 'a', URL_MAX + 1 - (sizeof prefix - 1));
    s[URL_MAX] = '\0'; /* exactly URL_MAX bytes: accepted */
    expect_norm(s, s);
    s[URL_MAX] = 'a';
    s[URL_MAX + 1] = '\0';
    expect_refused(s, TRAWL_ETOOBIG, "url is longer than 8192 bytes");
    free(s);
}

Test(url_normalize, growing_past_url_max_when_encoded_is_too_big)
{
    /* 3000 two-byte characters: 6000 bytes in, 18000 once percent-encoded */
    size_t n = 3000;
    char *s = malloc(sizeof "http://example.com/" + 2 * n);
    cr_assert_not_null(s);
    strcpy(s, "http://example.com/");
    for (size_t i = 0; i < n; i++)
        strcat(s + strlen(s), "\xc3\xbc");
    expect_refused(s, TRAWL_ETOOBIG, "url is longer than 8192 bytes once normalized");
    free(s);
}

Test(url_normalize, host_longer_than_dns_allows_is_refused)
{
    char s[400];
    strcpy(s, "http://");
    for (int i = 0; i < 5; i++)
        strcat(s, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa."); /* 52 bytes */
    strcat(s, "com/");
    expect_refused(s, TRAWL_EINVAL, "url host is longer than 253 bytes");
}

Test(url_normalize, normalizing_again_changes_nothing)
{
    static const char *const in[] = {
        "HTTP://Example.COM:80/a/./b/../c?x#frag",
        "http://example.com/a/%2e%2E/b",
        "http://example.com/%7e/%2f/%c3%bc?%7e=%2f&b=%3d",
        "http://example.com/a b/\xc3\xbc?q=a b",
        "http://example.com/\"<>\\^`{|}",
        "http://example.com/%%41b",
        "http://example.com/%zz/%",
        "http://example.com/%2525",
        "http://2130706433/",
        "http://0x7f.1./",
        "http://[::FFFF:127.0.0.1]/",
        "http://[::ffff:7f00:1]:8080/",
        "http://B\xc3\x9c"
        "CHER.de./stra\xc3\x9f"
        "e",
        "https://example.com:443",
        "http://example.com/?",
        "http://example.com/a;b=c/..;d",
        "http://example.com/a+b?c+d=e+f",
        "http://a_b.example.com/",
    };
    for (size_t i = 0; i < N(in); i++) {
        struct err e = {0};
        char *once = NULL, *twice = NULL;
        cr_assert_eq(url_normalize(in[i], &once, &e), 0, "'%s': %s", in[i], e.msg);
        cr_assert_eq(url_normalize(once, &twice, &e), 0, "'%s': %s", once, e.msg);
        cr_expect_str_eq(twice, once, "'%s' -> '%s' -> '%s'", in[i], once, twice);
        free(once);
        free(twice);
    }
}

Test(url_normalize, works_without_an_err)
{
    char *out = NULL;
    cr_expect_eq(url_normalize("ftp://x/", &out, NULL), TRAWL_EINVAL);
    cr_expect_null(out);
    cr_expect_eq(url_normalize(NULL, &out, NULL), TRAWL_EINVAL);
    cr_expect_eq(url_normalize("http://x/", &out, NULL), 0);
    cr_expect_str_eq(out, "http://x/");
    free(out);
}

Test(url_resolve, rfc3986_examples)
{
    static const char base[] = "http://a/b/c/d;p?q";
    static const struct pair p[] = {
        {"g", "http://a/b/c/g"},
        {"./g", "http://a/b/c/g"},
        {"g/", "http://a/b/c/g/"},
        {"/g", "http://a/g"},
        {"//g", "http://g/"},
        {"?y", "http://a/b/c/d;p?y"},
        {"g?y", "http://a/b/c/g?y"},
        {"#s", "http://a/b/c/d;p?q"},
        {"g#s", "http://a/b/c/g"},
        {"g?y#s", "http://a/b/c/g?y"},
        {";x", "http://a/b/c/;x"},
        {"g;x", "http://a/b/c/g;x"},
        {"", "http://a/b/c/d;p?q"},
        {".", "http://a/b/c/"},
        {"./", "http://a/b/c/"},
        {"..", "http://a/b/"},
        {"../", "http://a/b/"},
        {"../g", "http://a/b/g"},
        {"../..", "http://a/"},
        {"../../", "http://a/"},
        {"../../g", "http://a/g"},
        {"../../../g", "http://a/g"},
        {"../../../../g", "http://a/g"},
        {"/./g", "http://a/g"},
        {"/../g", "http://a/g"},
        {"g.", "http://a/b/c/g."},
        {".g", "http://a/b/c/.g"},
        {"g..", "http://a/b/c/g.."},
        {"..g", "http://a/b/c/..g"},
        {"./../g", "http://a/b/g"},
        {"./g/.", "http://a/b/c/g/"},
        {"g/./h", "http://a/b/c/g/h"},
        {"g/../h", "http://a/b/c/h"},
        {"g;x=1/./y", "http://a/b/c/g;x=1/y"},
        {"g;x=1/../y", "http://a/b/c/y"},
        {"g?y/./x", "http://a/b/c/g?y/./x"},
        {"g#s/../x", "http://a/b/c/g"},
    };
    for (size_t i = 0; i < N(p); i++)
        expect_resolve(base, p[i].in, p[i].want);
}

Test(url_resolve, absolute_references_replace_the_base)
{
    expect_resolve("http://a/b/c", "https://Other.ORG:443/x/../y#f", "https://other.org/y");
    expect_resolve("https://a/b/c", "HTTP://other.org", "http://other.org/");
    expect_resolve("https://a/b/c", "//other.org/p?q", "https://other.org/p?q");
    expect_resolve("http://a/b/c", "  /x  ", "http://a/x");
}

Test(url_resolve, result_is_normalized)
{
    expect_resolve("http://a/b/c", "a b", "http://a/b/a%20b");
    expect_resolve("http://a/b/c", "\xc3\xbc", "http://a/b/%C3%BC");
    expect_resolve("http://a/b/c", "?q=a b&r=%7e", "http://a/b/c?q=a%20b&r=~");
    expect_resolve("http://a/b/c", "?q=a+b", "http://a/b/c?q=a+b");
    expect_resolve("http://a/b/c", "d e?f g", "http://a/b/d%20e?f%20g");
    expect_resolve("http://a/b/c", "%7Ex/%2e%2e/y", "http://a/b/y");
    expect_resolve("HTTP://A:80/b/c#f", "#g", "http://a/b/c");
    expect_resolve("http://a/b/c", "//0x7f.1/", "http://127.0.0.1/");
}

Test(url_resolve, references_with_another_scheme_are_refused)
{
    static const struct refusal r[] = {
        {"javascript:void(0)", TRAWL_EINVAL, "url scheme 'javascript' is not allowed"},
        {"JavaScript:alert(1)", TRAWL_EINVAL, "url scheme 'javascript' is not allowed"},
        {"mailto:someone@example.com", TRAWL_EINVAL, "url scheme 'mailto' is not allowed"},
        {"tel:+15551234", TRAWL_EINVAL, "url scheme 'tel' is not allowed"},
        {"data:text/html,hi", TRAWL_EINVAL, "url scheme 'data' is not allowed"},
        {"ftp://example.com/f", TRAWL_EINVAL, "url scheme 'ftp' is not allowed"},
        {"file:///etc/passwd", TRAWL_EINVAL, "url scheme 'file' is not allowed"},
        {"http://user:pw@other/", TRAWL_EINVAL, "url must not contain user info"},
        {"x\x01y", TRAWL_EINVAL, "url has a control character (0x01) at byte 1"},
        {"#a\nb", TRAWL_EINVAL, "url has a control character (0x0a) at byte 2"},
        {"\xff", TRAWL_EINVAL, "url is not valid UTF-8"},
    };
    for (size_t i = 0; i < N(r); i++)
        expect_resolve_refused("http://a/b/c", r[i].in, r[i].code, r[i].msg);
}

Test(url_resolve, a_bad_base_is_named_as_the_base)
{
    expect_resolve_refused("ftp://a/b", "c", TRAWL_EINVAL, "base url scheme 'ftp' is not allowed");
    expect_resolve_refused("/b/c", "d", TRAWL_EINVAL, "base url has no scheme");
    expect_resolve_refused("", "http://a/", TRAWL_EINVAL, "base url is empty");
    expect_resolve_refused("http://u:p@a/", "d", TRAWL_EINVAL,
                           "base url must not contain user info");
}

Test(url_split, parts_of_a_url)
{
    struct url_parts p;
    struct err e = {0};
    cr_assert_eq(url_split("HTTPS://Example.COM/a/./b?x=1#f", &p, &e), 0, "%s", e.msg);
    cr_expect(p.https);
    cr_expect_str_eq(p.host, "example.com");
    cr_expect_eq(p.port, 443);
    cr_expect_str_eq(p.path, "/a/b?x=1");
    url_parts_release(&p);
    cr_expect_null(p.path);

    cr_assert_eq(url_split("http://[::FFFF:127.0.0.1]:8080", &p, &e), 0, "%s", e.msg);
    cr_expect(!p.https);
    cr_expect_str_eq(p.host, "::ffff:127.0.0.1");
    cr_expect_eq(p.port, 8080);
    cr_expect_str_eq(p.path, "/");
    url_parts_release(&p);

    cr_assert_eq(url_split("http://example.com:443/%7e", &p, &e), 0, "%s", e.msg);
    cr_expect_str_eq(p.host, "example.com");
    cr_expect_eq(p.port, 443);
    cr_expect_str_eq(p.path, "/~");
    url_parts_release(&p);

    cr_assert_eq(url_split("http://0x7f.1/?", &p, &e), 0, "%s", e.msg);
    cr_expect_str_eq(p.host, "127.0.0.1");
    cr_expect_eq(p.port, 80);
    cr_expect_str_eq(p.path, "/");
    url_parts_release(&p);

    cr_assert_eq(url_split("http://b\xc3\xbc"
                           "cher.de/x?a=b c",
                           &p, &e),
                 0, "%s", e.msg);
    cr_expect_str_eq(p.host, "xn--bcher-kva.de");
    cr_expect_str_eq(p.path, "/x?a=b%20c");
    url_parts_release(&p);
}

Test(url_split, refused_url_leaves_nothing_to_free)
{
    struct url_parts p;
    struct err e = {0};
    cr_expect_eq(url_split("ftp://example.com/", &p, &e), TRAWL_EINVAL);
    cr_expect(strstr(e.msg, "url scheme 'ftp' is not allowed") != NULL, "%s", e.msg);
    cr_expect_null(p.path);
    url_parts_release(&p);
    url_parts_release(NULL);
}

Test(url_origin, scheme_host_and_port_when_not_the_default)
{
    static const struct pair p[] = {
        {"https://Example.COM:443/x?y#z", "https://example.com"},
        {"http://example.com/", "http://example.com"},
        {"http://example.com:8080/x", "http://example.com:8080"},
        {"http://example.com:443/x", "http://example.com:443"},
        {"http://[::FFFF:127.0.0.1]:81/", "http://[::ffff:127.0.0.1]:81"},
        {"http://0x7f.1/", "http://127.0.0.1"},
        {"http://example.com./", "http://example.com"},
        {"http://B\xc3\x9c"
         "CHER.de/",
         "http://xn--bcher-kva.de"},
    };
    for (size_t i = 0; i < N(p); i++) {
        char out[300];
        struct err e = {0};
        cr_expect_eq(url_origin(p[i].in, out, sizeof out, &e), 0, "'%s': %s", p[i].in, e.msg);
        cr_expect_str_eq(out, p[i].want, "'%s' has origin '%s', want '%s'", p[i].in, out,
                         p[i].want);
    }
}

Test(url_origin, buffer_too_small_is_too_big)
{
    char out[32];
    struct err e = {0};
    /* "http://example.com" is 18 bytes and its NUL */
    cr_expect_eq(url_origin("http://example.com/", out, 19, &e), 0, "%s", e.msg);
    cr_expect_str_eq(out, "http://example.com");
    cr_expect_eq(url_origin("http://example.com/", out, 18, &e), TRAWL_ETOOBIG);
    cr_expect_str_eq(out, "");
    cr_expect(strstr(e.msg, "url origin needs 19 bytes") != NULL, "%s", e.msg);
}

Test(url_origin, refused_url)
{
    char out[64];
    struct err e = {0};
    cr_expect_eq(url_origin("http://user:pw@example.com/", out, sizeof out, &e), TRAWL_EINVAL);
    cr_expect(strstr(e.msg, "url must not contain user info") != NULL, "%s", e.msg);
    cr_expect_str_eq(out, "");
}

/* url_resolve_normal takes a shortcut for simple root-relative references: it must give exactly
 * what url_resolve gives, for those and for every reference it leaves to the general path. */
Test(url_resolve_normal, same_as_url_resolve)
{
    static const char *const bases[] = {"http://example.com/a/b", "https://shop.example:8443/",
                                        "http://[::1]:8080/x?y=1", "http://127.0.0.2:18081/p/1"};
    static const char *const refs[] = {
        "/",
        "/a",
        "/a/b/c",
        "/a?b=c&d=e",
        "/a#frag",
        "/a?b#c",
        "/a?",
        "/a/./b",
        "/a/../b",
        "/a/.",
        "/a/..",
        "/.hidden",
        "/...",
        "/a//b",
        "//other.example/x",
        "/a b",
        "/a%20b",
        "/a%7Eb",
        "/caf\xc3\xa9",
        "/a|b",
        "/a\"b",
        "/a{b}",
        "/a^b",
        "/a`b",
        "/a\\b",
        "/x:y@z!$&'()*+,;=",
        "/~user/_x-y.z",
        "relative",
        "../up",
        "?q=1",
        "#top",
        "",
        "  /trim  ",
        "/A/B?C=D",
        "/a?b=/c?d",
        "/%",
        "/a?b%zz",
        "http://example.com/abs",
        "HTTP://EXAMPLE.COM/",
        "mailto:x@example.com",
        "/a\tb",
    };
    for (size_t b = 0; b < N(bases); b++) {
        char *nbase;
        struct err e = {0};
        cr_assert_eq(url_normalize(bases[b], &nbase, &e), 0, "%s", e.msg);
        for (size_t i = 0; i < N(refs); i++) {
            char *slow = NULL, *fast = NULL;
            struct err e1 = {0}, e2 = {0};
            int rs = url_resolve(nbase, refs[i], &slow, &e1);
            int rf = url_resolve_normal(nbase, refs[i], &fast, &e2);
            cr_expect_eq(rf, rs, "'%s' against %s: %d, url_resolve %d", refs[i], nbase, rf, rs);
            if (rs == 0 && rf == 0)
                cr_expect_str_eq(fast, slow, "'%s' against %s", refs[i], nbase);
            free(slow);
            free(fast);
        }
        free(nbase);
    }
    /* and random references made of the characters the shortcut takes, and a few it does not */
    static const char alphabet[] = "abcXYZ019-._~/!$&'()*+,;=:@?#%. ";
    unsigned seed = 12345;
    for (int k = 0; k < 20000; k++) {
        char ref[24];
        ref[0] = '/';
        int len = 1 + (int)(rand_r(&seed) % 20);
        for (int i = 1; i < len; i++)
            ref[i] = alphabet[rand_r(&seed) % (sizeof alphabet - 1)];
        ref[len] = 0;
        char *slow = NULL, *fast = NULL;
        struct err e1 = {0}, e2 = {0};
        int rs = url_resolve("http://example.com/a/b", ref, &slow, &e1);
        int rf = url_resolve_normal("http://example.com/a/b", ref, &fast, &e2);
        cr_assert_eq(rf, rs, "'%s': %d, url_resolve %d", ref, rf, rs);
        if (rs == 0)
            cr_assert_str_eq(fast, slow, "'%s'", ref);
        free(slow);
        free(fast);
    }
}
