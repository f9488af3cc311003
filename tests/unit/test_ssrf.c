/* SSRF guard: which addresses a fetch may connect to, the IPv6 wrappers of IPv4 addresses, every
 * numeric spelling of an IPv4 host, and the operator's allowlist. */
#include "fetch/ssrf.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/un.h>

#include <criterion/criterion.h>

#define ALLOWED NULL

/* ssrf_check on the sockaddr of a textual address, as the fetcher would see it from libcurl. */
static const char *check(const struct ssrf_policy *p, const char *addr)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, addr, &s4->sin_addr) == 1) {
        s4->sin_family = AF_INET;
        s4->sin_port = htons(80);
    } else if (inet_pton(AF_INET6, addr, &s6->sin6_addr) == 1) {
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons(443);
    } else {
        cr_assert_fail("test address '%s' does not parse", addr);
    }
    return ssrf_check(p, (const struct sockaddr *)&ss);
}

/* want is the name of the refused range, or ALLOWED. */
static void expect(const struct ssrf_policy *p, const char *addr, const char *want)
{
    const char *got = check(p, addr);
    bool ok = want ? got && strcmp(got, want) == 0 : got == NULL;
    cr_expect(ok, "%s: expected %s, got %s", addr, want ? want : "allowed", got ? got : "allowed");
}

struct verdict {
    const char *addr;
    const char *want;
};

static void expect_all(const struct ssrf_policy *p, const struct verdict *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        expect(p, v[i].addr, v[i].want);
}

#define EXPECT_ALL(p, table) expect_all(p, table, sizeof(table) / sizeof(table[0]))

Test(ssrf, ipv4_special_ranges_first_and_last_address)
{
    static const struct verdict v[] = {
        {"0.0.0.0", "unspecified"},
        {"0.0.0.1", "this network"},
        {"0.255.255.255", "this network"},
        {"10.0.0.0", "private"},
        {"10.255.255.255", "private"},
        {"100.64.0.0", "carrier-grade nat"},
        {"100.127.255.255", "carrier-grade nat"},
        {"127.0.0.0", "loopback"},
        {"127.0.0.1", "loopback"},
        {"127.255.255.255", "loopback"},
        {"169.254.0.0", "link-local"},
        {"169.254.255.255", "link-local"},
        {"172.16.0.0", "private"},
        {"172.31.255.255", "private"},
        {"192.0.0.0", "reserved"},
        {"192.0.0.255", "reserved"},
        {"192.0.2.0", "documentation"},
        {"192.0.2.255", "documentation"},
        {"192.88.99.0", "reserved"},
        {"192.88.99.255", "reserved"},
        {"192.168.0.0", "private"},
        {"192.168.255.255", "private"},
        {"198.18.0.0", "benchmarking"},
        {"198.19.255.255", "benchmarking"},
        {"198.51.100.0", "documentation"},
        {"198.51.100.255", "documentation"},
        {"203.0.113.0", "documentation"},
        {"203.0.113.255", "documentation"},
        {"224.0.0.0", "multicast"},
        {"239.255.255.255", "multicast"},
        {"240.0.0.0", "reserved"},
        {"255.255.255.254", "reserved"},
        {"255.255.255.255", "broadcast"},
    };
    EXPECT_ALL(NULL, v);
    struct ssrf_policy *p = ssrf_policy_new();
    EXPECT_ALL(p, v);
    ssrf_policy_free(p);
}

Test(ssrf, ipv4_neighbours_of_special_ranges_are_allowed)
{
    static const struct verdict v[] = {
        {"1.0.0.0", ALLOWED},         {"9.255.255.255", ALLOWED},   {"11.0.0.0", ALLOWED},
        {"100.63.255.255", ALLOWED},  {"100.128.0.0", ALLOWED},     {"126.255.255.255", ALLOWED},
        {"128.0.0.0", ALLOWED},       {"169.253.255.255", ALLOWED}, {"169.255.0.0", ALLOWED},
        {"172.15.255.255", ALLOWED},  {"172.32.0.0", ALLOWED},      {"191.255.255.255", ALLOWED},
        {"192.0.1.0", ALLOWED},       {"192.0.3.0", ALLOWED},       {"192.88.98.255", ALLOWED},
        {"192.88.100.0", ALLOWED},    {"192.167.255.255", ALLOWED}, {"192.169.0.0", ALLOWED},
        {"198.17.255.255", ALLOWED},  {"198.20.0.0", ALLOWED},      {"198.51.99.255", ALLOWED},
        {"198.51.101.0", ALLOWED},    {"203.0.112.255", ALLOWED},   {"203.0.114.0", ALLOWED},
        {"223.255.255.255", ALLOWED}, {"8.8.8.8", ALLOWED},         {"1.1.1.1", ALLOWED},
        {"93.184.215.14", ALLOWED},
    };
    EXPECT_ALL(NULL, v);
}

Test(ssrf, cloud_metadata_addresses_are_refused)
{
    struct ssrf_policy *p = ssrf_policy_new();
    expect(p, "169.254.169.254", "link-local");
    expect(p, "::ffff:169.254.169.254", "ipv4-mapped link-local");
    expect(p, "fd00:ec2::254", "unique-local"); /* AWS's IPv6 endpoint */
    ssrf_policy_free(p);
}

Test(ssrf, ipv6_special_ranges_first_and_last_address)
{
    static const struct verdict v[] = {
        {"::", "unspecified"},
        {"::1", "loopback"},
        {"64:ff9b:1::", "reserved"},
        {"64:ff9b:1:ffff:ffff:ffff:ffff:ffff", "reserved"},
        {"100::", "discard"},
        {"100::ffff:ffff:ffff:ffff", "discard"},
        {"2001::", "teredo"},
        {"2001:0:ffff:ffff:ffff:ffff:ffff:ffff", "teredo"},
        {"2001:0:4136:e378:8000:63bf:3fff:fdd2", "teredo"},
        {"2001:2::", "benchmarking"},
        {"2001:2:0:ffff:ffff:ffff:ffff:ffff", "benchmarking"},
        {"2001:db8::", "documentation"},
        {"2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", "documentation"},
        {"3fff::", "documentation"},
        {"3fff:fff:ffff:ffff:ffff:ffff:ffff:ffff", "documentation"},
        {"fc00::", "unique-local"},
        {"fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "unique-local"},
        {"fe80::", "link-local"},
        {"fe80::1", "link-local"},
        {"febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "link-local"},
        {"fec0::", "site-local"},
        {"feff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "site-local"},
        {"ff00::", "multicast"},
        {"ff02::1", "multicast"},
        {"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "multicast"},
    };
    EXPECT_ALL(NULL, v);
}

Test(ssrf, ipv6_public_unicast_is_allowed_and_unassigned_space_is_not)
{
    static const struct verdict v[] = {
        {"2606:4700::1111", ALLOWED},
        {"2001:4860:4860::8888", ALLOWED},
        {"2a00:1450:4001:82b::200e", ALLOWED},
        {"2000::", ALLOWED},
        {"2001:1::", ALLOWED}, /* just past teredo */
        {"2001:db7:ffff:ffff:ffff:ffff:ffff:ffff", ALLOWED},
        {"2001:db9::", ALLOWED},
        {"2001:3::", ALLOWED}, /* just past the benchmarking /48 */
        {"2003::", ALLOWED},   /* just past 6to4 */
        {"3ffe:ffff::1", ALLOWED},
        {"3fff:1000::", ALLOWED}, /* just past 3fff::/20 */
        /* outside 2000::/3 nothing is public unicast */
        {"1fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "reserved"},
        {"4000::1", "reserved"},
        {"fbff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "reserved"},
        {"100:0:0:1::", "reserved"}, /* just past the discard /64 */
        {"64:ff9b:2::1", "reserved"},
        {"::ffff:0:8.8.8.8", "reserved"}, /* ipv4-translated (SIIT) */
        {"::1:0:0:1", "reserved"},
        {"::2", "ipv4-compatible this network"},
    };
    EXPECT_ALL(NULL, v);
}

Test(ssrf, ipv6_wrappers_are_judged_by_the_ipv4_address_inside)
{
    static const struct verdict v[] = {
        /* IPv4-mapped: a dual-stack socket connects to the IPv4 address itself */
        {"::ffff:127.0.0.1", "ipv4-mapped loopback"},
        {"::ffff:7f00:1", "ipv4-mapped loopback"},
        {"::ffff:10.0.0.1", "ipv4-mapped private"},
        {"::ffff:192.168.1.1", "ipv4-mapped private"},
        {"::ffff:0.0.0.0", "ipv4-mapped unspecified"},
        {"::ffff:100.64.0.1", "ipv4-mapped carrier-grade nat"},
        {"::ffff:255.255.255.255", "ipv4-mapped broadcast"},
        {"::ffff:224.0.0.1", "ipv4-mapped multicast"},
        {"::ffff:8.8.8.8", ALLOWED},
        {"::ffff:172.32.0.0", ALLOWED},
        /* IPv4-compatible */
        {"::127.0.0.1", "ipv4-compatible loopback"},
        {"::10.1.2.3", "ipv4-compatible private"},
        {"::169.254.169.254", "ipv4-compatible link-local"},
        {"::8.8.8.8", ALLOWED},
        /* NAT64 well-known prefix */
        {"64:ff9b::127.0.0.1", "nat64 loopback"},
        {"64:ff9b::7f00:1", "nat64 loopback"},
        {"64:ff9b::a9fe:a9fe", "nat64 link-local"},
        {"64:ff9b::192.168.0.1", "nat64 private"},
        {"64:ff9b::808:808", ALLOWED},
        {"64:ff9b::1.1.1.1", ALLOWED},
        /* 6to4: the IPv4 address is bits 16-47, what follows is the site's own */
        {"2002:7f00:1::", "6to4 loopback"},
        {"2002:7f00:1:ffff:ffff:ffff:ffff:ffff", "6to4 loopback"},
        {"2002:a9fe:a9fe::1", "6to4 link-local"},
        {"2002:c0a8:101:5::1", "6to4 private"},
        {"2002:a00:1::1", "6to4 private"},
        {"2002:e000:1::", "6to4 multicast"},
        {"2002::", "6to4 unspecified"},
        {"2002:808:808::1", ALLOWED},
        {"2002:808:808:7f00:1::", ALLOWED},
        {"2002:808:808:ffff:ffff:ffff:ffff:ffff", ALLOWED},
    };
    EXPECT_ALL(NULL, v);
}

/* Every spelling of a host that a URL parser or inet_aton reads as the same IPv4 address ends up
 * at the same verdict. */
static void expect_spellings(const char *const *spellings, size_t n, uint32_t want,
                             const char *verdict)
{
    for (size_t i = 0; i < n; i++) {
        uint32_t v = 0xdeadbeef;
        bool ok = ssrf_parse_ipv4(spellings[i], &v);
        cr_expect(ok, "'%s' was not read as an IPv4 address", spellings[i]);
        if (!ok)
            continue;
        cr_expect_eq(v, want, "'%s' read as 0x%08x, not 0x%08x", spellings[i], v, want);
        struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(v)};
        const char *got = ssrf_check(NULL, (const struct sockaddr *)&sin);
        cr_expect(got && strcmp(got, verdict) == 0, "'%s': expected %s, got %s", spellings[i],
                  verdict, got ? got : "allowed");
    }
}

Test(ssrf, every_spelling_of_loopback_is_refused)
{
    static const char *const s[] = {
        "127.0.0.1",    "127.1",      "127.0.1",          "2130706433",        "0x7f000001",
        "0X7F000001",   "0x7f.0.0.1", "0x7F.0x0.0x0.0x1", "0177.0.0.1",        "0177.0.0.01",
        "017700000001", "0x7f.1",     "0x7f.0x000001",    "00000000177.0.0.1", "0x7f.0.01",
        "127.0.0.1.",   "127.1.",     "0177.1",           "127.0.0x1",         "0x00007f.0.0.1",
    };
    expect_spellings(s, sizeof s / sizeof s[0], 0x7f000001, "loopback");
}

Test(ssrf, every_spelling_of_the_metadata_address_is_refused)
{
    static const char *const s[] = {
        "169.254.169.254",     "2852039166",          "0xa9fea9fe",       "0xA9FEA9FE",
        "0xa9.0xfe.0xa9.0xfe", "0251.0376.0251.0376", "169.254.43518",    "169.16689662",
        "0251.0xfe.43518",     "025177524776",        "169.254.169.254.", "0xa9.16689662",
    };
    expect_spellings(s, sizeof s / sizeof s[0], 0xa9fea9fe, "link-local");
}

Test(ssrf, every_spelling_of_zero_is_unspecified)
{
    static const char *const s[] = {"0", "0x0", "00", "0.0", "0.0.0", "0.0.0.0", "0x0.0", "0."};
    expect_spellings(s, sizeof s / sizeof s[0], 0, "unspecified");
}

Test(ssrf, parse_ipv4_reads_boundaries_of_each_part)
{
    static const struct {
        const char *in;
        uint32_t want;
    } v[] = {
        {"4294967295", 0xffffffff},
        {"0xffffffff", 0xffffffff},
        {"037777777777", 0xffffffff},
        {"255.255.255.255", 0xffffffff},
        {"0XFF.0xFF.0377.255", 0xffffffff},
        {"1.2.3.4", 0x01020304},
        {"1.2.3.4.", 0x01020304},
        {"1.2.3.", 0x01020003},
        {"1.65535", 0x0100ffff},
        {"1.16777215", 0x01ffffff},
        {"1.2.65535", 0x0102ffff},
        {"8.8.8.8", 0x08080808},
        {"1.0xffffff", 0x01ffffff},
        {"0x1.0x2.0x3.0x4", 0x01020304},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        uint32_t got = 0xdeadbeef;
        cr_expect(ssrf_parse_ipv4(v[i].in, &got), "'%s' was refused", v[i].in);
        cr_expect_eq(got, v[i].want, "'%s' read as 0x%08x, not 0x%08x", v[i].in, got, v[i].want);
    }
}

Test(ssrf, parse_ipv4_refuses_what_is_not_a_numeric_address)
{
    static const char *const bad[] = {
        "",
        ".",
        "..",
        "256.1.1.1",
        "1.256.1.1",
        "1.2.256.1",
        "1.2.3.256",
        "1.2.65536",
        "1.16777216",
        "4294967296",
        "0x100000000",
        "040000000000",
        "1.2.3.4.5",
        "1..2",
        ".1.2.3",
        "1.2.3.4..",

        "example.com",
        "localhost",
        "08",
        "09.1.1.1",
        "0x",
        "0x.1",
        "1.2.3.0x",
        "0xg",
        "1a",
        "1e3",
        "-1",
        "+1",
        " 1.2.3.4",
        "1.2.3.4 ",
        "1.2.3.4 x",
        "1.2.3.4\n",
        "1.2.3.4/8",
        "::1",
        "[127.0.0.1]",
        "127.0.0.1:80",
        "0x7f.0.0.1x",
        "99999999999999999999",
        "0x0000000000000000100000000",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint32_t got = 0xdeadbeef;
        cr_expect(!ssrf_parse_ipv4(bad[i], &got), "'%s' was read as 0x%08x", bad[i], got);
        cr_expect_eq(got, 0xdeadbeef, "'%s' changed *out", bad[i]);
    }
    uint32_t got = 0;
    cr_expect(!ssrf_parse_ipv4(NULL, &got));
}

Test(ssrf, allowing_loopback_lets_only_loopback_through)
{
    struct ssrf_policy *p = ssrf_policy_new();
    struct err e = {0};
    cr_assert_eq(ssrf_policy_allow(p, "127.0.0.0/8", &e), 0, "%s", e.msg);
    static const struct verdict v[] = {
        {"127.0.0.1", ALLOWED},
        {"127.255.255.255", ALLOWED},
        {"::ffff:127.0.0.1", ALLOWED},
        {"::ffff:127.1.2.3", ALLOWED},
        {"::1", "loopback"}, /* IPv6 loopback is allowed separately */
        {"10.0.0.1", "private"},
        {"169.254.169.254", "link-local"},
        {"::ffff:169.254.169.254", "ipv4-mapped link-local"},
        {"::ffff:10.0.0.1", "ipv4-mapped private"},
        {"0.0.0.0", "unspecified"},
        /* forms that reach 127/8 only through a translator or tunnel need an IPv6 range */
        {"::127.0.0.1", "ipv4-compatible loopback"},
        {"64:ff9b::127.0.0.1", "nat64 loopback"},
        {"2002:7f00:1::", "6to4 loopback"},
        {"8.8.8.8", ALLOWED},
    };
    EXPECT_ALL(p, v);
    ssrf_policy_free(p);
}

Test(ssrf, allowing_ipv6_loopback)
{
    struct ssrf_policy *p = ssrf_policy_new();
    cr_assert_eq(ssrf_policy_allow(p, "::1", NULL), 0);
    expect(p, "::1", ALLOWED);
    expect(p, "127.0.0.1", "loopback");
    expect(p, "::ffff:127.0.0.1", "ipv4-mapped loopback");
    expect(p, "::", "unspecified");
    ssrf_policy_free(p);
}

Test(ssrf, allowing_a_single_address)
{
    struct ssrf_policy *p = ssrf_policy_new();
    cr_assert_eq(ssrf_policy_allow(p, "10.1.2.3", NULL), 0);
    cr_assert_eq(ssrf_policy_allow(p, "192.168.7.7/32", NULL), 0);
    cr_assert_eq(ssrf_policy_allow(p, "fd00::5/128", NULL), 0);
    static const struct verdict v[] = {
        {"10.1.2.3", ALLOWED},       {"::ffff:10.1.2.3", ALLOWED}, {"10.1.2.2", "private"},
        {"10.1.2.4", "private"},     {"192.168.7.7", ALLOWED},     {"192.168.7.6", "private"},
        {"192.168.7.8", "private"},  {"fd00::5", ALLOWED},         {"fd00::4", "unique-local"},
        {"fd00::6", "unique-local"},
    };
    EXPECT_ALL(p, v);
    ssrf_policy_free(p);
}

Test(ssrf, allowing_ranges_ignores_host_bits_and_works_across_families)
{
    struct ssrf_policy *p = ssrf_policy_new();
    cr_assert_eq(ssrf_policy_allow(p, "10.1.2.3/8", NULL), 0);
    cr_assert_eq(ssrf_policy_allow(p, "fd00::/8", NULL), 0);
    cr_assert_eq(ssrf_policy_allow(p, "::ffff:192.168.0.0/112", NULL), 0);
    cr_assert_eq(ssrf_policy_allow(p, "172.16.0.0/13", NULL), 0);
    static const struct verdict v[] = {
        {"10.0.0.0", ALLOWED},
        {"10.255.255.255", ALLOWED},
        {"fd12:3456::1", ALLOWED},
        {"fdff::1", ALLOWED},
        {"fc00::1", "unique-local"},
        {"192.168.5.5", ALLOWED}, /* a ::ffff:x range covers the plain IPv4 address */
        {"::ffff:192.168.5.5", ALLOWED},
        {"172.23.255.255", ALLOWED},
        {"172.24.0.0", "private"},
        {"169.254.169.254", "link-local"},
    };
    EXPECT_ALL(p, v);
    ssrf_policy_free(p);
}

Test(ssrf, allowing_everything_of_one_family)
{
    struct ssrf_policy *p = ssrf_policy_new();
    cr_assert_eq(ssrf_policy_allow(p, "0.0.0.0/0", NULL), 0);
    expect(p, "127.0.0.1", ALLOWED);
    expect(p, "255.255.255.255", ALLOWED);
    expect(p, "::ffff:169.254.169.254", ALLOWED);
    expect(p, "::1", "loopback");
    expect(p, "fe80::1", "link-local");
    ssrf_policy_free(p);
}

Test(ssrf, disabling_allows_everything)
{
    struct ssrf_policy *p = ssrf_policy_new();
    ssrf_policy_disable(p);
    static const struct verdict v[] = {
        {"127.0.0.1", ALLOWED}, {"169.254.169.254", ALLOWED},
        {"10.0.0.1", ALLOWED},  {"0.0.0.0", ALLOWED},
        {"::1", ALLOWED},       {"ff02::1", ALLOWED},
        {"8.8.8.8", ALLOWED},   {"::ffff:127.0.0.1", ALLOWED},
    };
    EXPECT_ALL(p, v);
    ssrf_policy_free(p);
    ssrf_policy_free(NULL);
}

Test(ssrf, sixty_four_ranges_at_most)
{
    struct ssrf_policy *p = ssrf_policy_new();
    struct err e = {0};
    char cidr[32];
    for (int i = 0; i < 64; i++) {
        snprintf(cidr, sizeof cidr, "10.0.%d.0/24", i);
        cr_assert_eq(ssrf_policy_allow(p, cidr, &e), 0, "%s: %s", cidr, e.msg);
    }
    cr_expect_eq(ssrf_policy_allow(p, "10.0.64.0/24", &e), TRAWL_ETOOBIG);
    cr_expect_eq(e.code, TRAWL_ETOOBIG);
    cr_expect_str_eq(e.msg, "'10.0.64.0/24': too many allowed ranges (at most 64)");
    expect(p, "10.0.0.1", ALLOWED);
    expect(p, "10.0.63.255", ALLOWED);
    expect(p, "10.0.64.1", "private");
    ssrf_policy_free(p);
}

Test(ssrf, bad_ranges_are_refused_with_a_clear_message)
{
    static const struct {
        const char *in;
        const char *msg;
    } v[] = {
        {"300.1.1.1/8", "'300.1.1.1/8' is not an IP address or CIDR range"},
        {"300.1.1.1", "'300.1.1.1' is not an IP address or CIDR range"},
        {"", "'' is not an IP address or CIDR range"},
        {"/8", "'/8' is not an IP address or CIDR range"},
        {"localhost", "'localhost' is not an IP address or CIDR range"},
        {"127.1", "'127.1' is not an IP address or CIDR range"},
        {"0x7f.0.0.1/8", "'0x7f.0.0.1/8' is not an IP address or CIDR range"},
        {" 10.0.0.0/8", "' 10.0.0.0/8' is not an IP address or CIDR range"},
        {"fe80::1%eth0", "'fe80::1%eth0' is not an IP address or CIDR range"},
        {"10.0.0.\n1", "'10.0.0.?1' is not an IP address or CIDR range"},
        {"10.0.0.0/33", "'10.0.0.0/33': prefix length 33 is out of range for IPv4 (0 to 32)"},
        {"::/129", "'::/129': prefix length 129 is out of range for IPv6 (0 to 128)"},
        {"10.0.0.0/999", "'10.0.0.0/999': prefix length 999 is out of range for IPv4 (0 to 32)"},
        {"10.0.0.0/",
         "'10.0.0.0/' is not an IP address or CIDR range: the prefix length must be a number from 0 to 32"},
        {"10.0.0.0/-1",
         "'10.0.0.0/-1' is not an IP address or CIDR range: the prefix length must be a number from 0 to 32"},
        {"10.0.0.0/8x",
         "'10.0.0.0/8x' is not an IP address or CIDR range: the prefix length must be a number from 0 to 32"},
        {"10.0.0.0/ 8",
         "'10.0.0.0/ 8' is not an IP address or CIDR range: the prefix length must be a number from 0 to 32"},
        {"10.0.0.0/8/8",
         "'10.0.0.0/8/8' is not an IP address or CIDR range: the prefix length must be a number from 0 to 32"},
        {"fd00::/1000",
         "'fd00::/1000' is not an IP address or CIDR range: the prefix length must be a number from 0 to 128"},
    };
    struct ssrf_policy *p = ssrf_policy_new();
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        struct err e = {0};
        int rc = ssrf_policy_allow(p, v[i].in, &e);
        cr_expect_eq(rc, TRAWL_EINVAL, "'%s' returned %d", v[i].in, rc);
        cr_expect_eq(e.code, TRAWL_EINVAL, "'%s'", v[i].in);
        cr_expect_str_eq(e.msg, v[i].msg);
    }
    /* a refused range adds nothing */
    expect(p, "10.0.0.1", "private");
    expect(p, "fd00::1", "unique-local");
    ssrf_policy_free(p);
}

Test(ssrf, bad_range_message_quotes_at_most_a_hundred_bytes)
{
    char in[300];
    memset(in, 'x', sizeof in - 1);
    in[sizeof in - 1] = '\0';
    struct err e = {0};
    cr_assert_eq(ssrf_policy_allow(NULL, in, &e), TRAWL_EINVAL);
    struct ssrf_policy *p = ssrf_policy_new();
    cr_assert_eq(ssrf_policy_allow(p, in, &e), TRAWL_EINVAL);
    cr_expect_lt(strlen(e.msg), 160, "%s", e.msg);
    cr_expect(strstr(e.msg, "xxx...' is not an IP address or CIDR range") != NULL, "%s", e.msg);
    ssrf_policy_free(p);
}

Test(ssrf, unknown_family_and_unaligned_sockaddr)
{
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    cr_expect_str_eq(ssrf_check(NULL, (const struct sockaddr *)&sun), "unsupported address family");
    cr_expect_str_eq(ssrf_check(NULL, NULL), "unsupported address family");

    /* libcurl hands over its own storage; the check must not assume alignment */
    _Alignas(16) unsigned char buf[sizeof(struct sockaddr_in6) + 1];
    struct sockaddr_in6 s6 = {.sin6_family = AF_INET6};
    inet_pton(AF_INET6, "::ffff:127.0.0.1", &s6.sin6_addr);
    memcpy(buf + 1, &s6, sizeof s6);
    struct sockaddr sa_family_only;
    memcpy(&sa_family_only, buf + 1, sizeof sa_family_only);
    cr_assert_eq(sa_family_only.sa_family, AF_INET6);
    cr_expect_str_eq(ssrf_check(NULL, (const struct sockaddr *)(void *)(buf + 1)),
                     "ipv4-mapped loopback");
}
