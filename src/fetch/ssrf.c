/* The SSRF guard's address rules: tables of the special IPv4 and IPv6 ranges, the operator's
 * allowlist, and a strict reader of IPv4 literals in every numeric spelling. */
#include "fetch/ssrf.h"
#include "base/xalloc.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define SSRF_ALLOW_MAX 64

/* Allowed ranges are all kept as IPv6: an IPv4 range as its IPv4-mapped form (::ffff:a.b.c.d,
 * prefix + 96). Checking an IPv4 address through the same mapped form is what makes an allowed
 * IPv4 range cover the IPv4-mapped spelling of its addresses, and an allowed ::ffff:x range
 * cover the plain IPv4 ones, without a second code path. */
struct ssrf_range {
    uint8_t net[16]; /* bits beyond prefix are never compared: 10.1.2.3/8 is 10.0.0.0/8 */
    unsigned prefix; /* 0..128 */
};

struct ssrf_policy {
    bool disabled;
    int n_allow;
    struct ssrf_range allow[SSRF_ALLOW_MAX];
};

/* How an IPv6 address carries an IPv4 one; also indexes the names of the IPv4 table. */
enum ssrf_wrap {
    WRAP_NONE,
    WRAP_MAPPED,
    WRAP_COMPAT,
    WRAP_NAT64,
    WRAP_6TO4,
    WRAP_COUNT_,
};

struct ssrf_v4_rule {
    uint32_t net; /* host byte order */
    unsigned prefix;
    const char *name[WRAP_COUNT_];
};

#define IP4(a, b, c, d) (((uint32_t)(a) << 24) | ((uint32_t)(b) << 16) | ((uint32_t)(c) << 8) | (d))
/* Names are static strings, so the wrapped forms are spelled out by concatenation here. */
#define V4(a, b, c, d, len, nm)                                                                    \
    {                                                                                              \
        IP4(a, b, c, d), len,                                                                      \
        {                                                                                          \
            nm, "ipv4-mapped " nm, "ipv4-compatible " nm, "nat64 " nm, "6to4 " nm                  \
        }                                                                                          \
    }

/* First match wins, so a narrower range comes before the wider one that holds it. */
static const struct ssrf_v4_rule v4_rules[] = {
    V4(0, 0, 0, 0, 32, "unspecified"), /* Linux connects 0.0.0.0 to the local host */
    V4(0, 0, 0, 0, 8, "this network"),
    V4(10, 0, 0, 0, 8, "private"),
    V4(100, 64, 0, 0, 10, "carrier-grade nat"),
    V4(127, 0, 0, 0, 8, "loopback"),
    V4(169, 254, 0, 0, 16, "link-local"), /* cloud metadata lives at 169.254.169.254 */
    V4(172, 16, 0, 0, 12, "private"),
    V4(192, 0, 0, 0, 24, "reserved"), /* ietf protocol assignments */
    V4(192, 0, 2, 0, 24, "documentation"),
    V4(192, 88, 99, 0, 24, "reserved"), /* the retired 6to4 relay anycast */
    V4(192, 168, 0, 0, 16, "private"),
    V4(198, 18, 0, 0, 15, "benchmarking"),
    V4(198, 51, 100, 0, 24, "documentation"),
    V4(203, 0, 113, 0, 24, "documentation"),
    V4(224, 0, 0, 0, 4, "multicast"),
    V4(255, 255, 255, 255, 32, "broadcast"),
    V4(240, 0, 0, 0, 4, "reserved"),
};

enum ssrf_v6_action {
    V6_REFUSE,
    V6_EMBED, /* judge the IPv4 address inside */
};

struct ssrf_v6_rule {
    uint8_t net[16];
    unsigned prefix;
    enum ssrf_v6_action action;
    enum ssrf_wrap wrap; /* for V6_EMBED */
    const char *name;    /* for V6_REFUSE */
};

/* First match wins: ::, ::1 and ::ffff:0:0/96 before ::/96 that holds them. */
static const struct ssrf_v6_rule v6_rules[] = {
    {{0}, 128, V6_REFUSE, WRAP_NONE, "unspecified"},
    {{[15] = 1}, 128, V6_REFUSE, WRAP_NONE, "loopback"},
    {{[10] = 0xff, [11] = 0xff}, 96, V6_EMBED, WRAP_MAPPED, NULL},
    {{0}, 96, V6_EMBED, WRAP_COMPAT, NULL},
    {{0x00, 0x64, 0xff, 0x9b}, 96, V6_EMBED, WRAP_NAT64, NULL},
    /* local-use NAT64 (RFC 8215): the IPv4 address may sit anywhere in it, so refuse it whole */
    {{0x00, 0x64, 0xff, 0x9b, 0x00, 0x01}, 48, V6_REFUSE, WRAP_NONE, "reserved"},
    {{0x01, 0x00}, 64, V6_REFUSE, WRAP_NONE, "discard"},
    {{0x20, 0x01, 0x00, 0x02, 0x00, 0x00}, 48, V6_REFUSE, WRAP_NONE, "benchmarking"},
    {{0x20, 0x01, 0x00, 0x10}, 28, V6_REFUSE, WRAP_NONE, "reserved"}, /* orchid */
    {{0x20, 0x01, 0x00, 0x20}, 28, V6_REFUSE, WRAP_NONE, "reserved"}, /* orchidv2 */
    {{0x20, 0x01, 0x0d, 0xb8}, 32, V6_REFUSE, WRAP_NONE, "documentation"},
    /* the IPv4 server inside a teredo address is not where the packets go: refuse it whole */
    {{0x20, 0x01, 0x00, 0x00}, 32, V6_REFUSE, WRAP_NONE, "teredo"},
    {{0x20, 0x02}, 16, V6_EMBED, WRAP_6TO4, NULL},
    {{0x3f, 0xff, 0x00}, 20, V6_REFUSE, WRAP_NONE, "documentation"},
    {{0xfc}, 7, V6_REFUSE, WRAP_NONE, "unique-local"},
    {{0xfe, 0x80}, 10, V6_REFUSE, WRAP_NONE, "link-local"},
    {{0xfe, 0xc0}, 10, V6_REFUSE, WRAP_NONE, "site-local"},
    {{0xff}, 8, V6_REFUSE, WRAP_NONE, "multicast"},
};

static bool prefix_match(const uint8_t *addr, const uint8_t *net, unsigned prefix)
{
    unsigned bytes = prefix / 8, bits = prefix % 8;
    if (memcmp(addr, net, bytes) != 0)
        return false;
    if (bits == 0)
        return true;
    uint8_t mask = (uint8_t)(0xff << (8 - bits));
    return (addr[bytes] & mask) == (net[bytes] & mask);
}

static uint32_t load_be32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static const char *v4_judge(uint32_t a, enum ssrf_wrap wrap)
{
    for (size_t i = 0; i < sizeof v4_rules / sizeof v4_rules[0]; i++) {
        const struct ssrf_v4_rule *r = &v4_rules[i];
        uint32_t mask = r->prefix == 0 ? 0 : 0xffffffffu << (32 - r->prefix);
        if ((a & mask) == r->net)
            return r->name[wrap];
    }
    return NULL;
}

static const char *v6_judge(const uint8_t *a)
{
    for (size_t i = 0; i < sizeof v6_rules / sizeof v6_rules[0]; i++) {
        const struct ssrf_v6_rule *r = &v6_rules[i];
        if (!prefix_match(a, r->net, r->prefix))
            continue;
        if (r->action == V6_REFUSE)
            return r->name;
        /* 6to4 carries the IPv4 address in bits 16-47; the others in the last 32 bits */
        return v4_judge(load_be32(r->wrap == WRAP_6TO4 ? a + 2 : a + 12), r->wrap);
    }
    /* Outside 2000::/3 nothing is assigned for global unicast: what the table did not name is
     * reserved by the IETF and no public server lives there. */
    if ((a[0] & 0xe0) != 0x20)
        return "reserved";
    return NULL;
}

static void v4_mapped(uint32_t a, uint8_t out[16])
{
    memset(out, 0, 10);
    out[10] = out[11] = 0xff;
    out[12] = (uint8_t)(a >> 24);
    out[13] = (uint8_t)(a >> 16);
    out[14] = (uint8_t)(a >> 8);
    out[15] = (uint8_t)a;
}

static bool allowed(const struct ssrf_policy *p, const uint8_t *a16)
{
    for (int i = 0; i < p->n_allow; i++)
        if (prefix_match(a16, p->allow[i].net, p->allow[i].prefix))
            return true;
    return false;
}

struct ssrf_policy *ssrf_policy_new(void)
{
    return xcalloc(1, sizeof(struct ssrf_policy));
}

void ssrf_policy_free(struct ssrf_policy *p)
{
    free(p);
}

void ssrf_policy_disable(struct ssrf_policy *p)
{
    if (p)
        p->disabled = true;
}

/* The input as it may appear in a message: at most 100 bytes, non-printable bytes as '?'. */
static void printable(const char *s, char *out, size_t cap)
{
    size_t n = 0;
    for (; s[n] && n + 1 < cap && n < 100; n++) {
        unsigned char c = (unsigned char)s[n];
        out[n] = c >= 0x20 && c < 0x7f ? (char)c : '?';
    }
    if (s[n] && n >= 3) {
        out[n - 3] = out[n - 2] = out[n - 1] = '.';
    }
    out[n] = '\0';
}

int ssrf_policy_allow(struct ssrf_policy *p, const char *cidr, struct err *e)
{
    char shown[104], addr[INET6_ADDRSTRLEN];
    if (!p || !cidr)
        return err_set(e, TRAWL_EINVAL, false, "no policy or no range given");
    printable(cidr, shown, sizeof shown);

    const char *slash = strchr(cidr, '/');
    size_t addr_len = slash ? (size_t)(slash - cidr) : strlen(cidr);
    if (addr_len == 0 || addr_len >= sizeof addr)
        return err_set(e, TRAWL_EINVAL, false, "'%s' is not an IP address or CIDR range", shown);
    memcpy(addr, cidr, addr_len);
    addr[addr_len] = '\0';

    struct ssrf_range r;
    unsigned max_prefix;
    struct in_addr a4;
    if (inet_pton(AF_INET, addr, &a4) == 1) {
        v4_mapped(ntohl(a4.s_addr), r.net);
        max_prefix = 32;
    } else if (inet_pton(AF_INET6, addr, r.net) == 1) {
        max_prefix = 128;
    } else {
        return err_set(e, TRAWL_EINVAL, false, "'%s' is not an IP address or CIDR range", shown);
    }

    unsigned prefix = max_prefix;
    if (slash) {
        const char *d = slash + 1;
        size_t n = strlen(d);
        if (n == 0 || n > 3 || strspn(d, "0123456789") != n)
            return err_set(
                e, TRAWL_EINVAL, false,
                "'%s' is not an IP address or CIDR range: the prefix length must be a number from 0 to %u",
                shown, max_prefix);
        prefix = (unsigned)strtoul(d, NULL, 10);
        if (prefix > max_prefix)
            return err_set(e, TRAWL_EINVAL, false,
                           "'%s': prefix length %u is out of range for %s (0 to %u)", shown, prefix,
                           max_prefix == 32 ? "IPv4" : "IPv6", max_prefix);
    }
    r.prefix = max_prefix == 32 ? prefix + 96 : prefix;

    if (p->n_allow >= SSRF_ALLOW_MAX)
        return err_set(e, TRAWL_ETOOBIG, false, "'%s': too many allowed ranges (at most %d)", shown,
                       SSRF_ALLOW_MAX);
    p->allow[p->n_allow++] = r;
    return 0;
}

const char *ssrf_check(const struct ssrf_policy *p, const struct sockaddr *sa)
{
    uint8_t a16[16];
    bool v4;

    if (p && p->disabled)
        return NULL;
    if (!sa)
        return "unsupported address family";
    /* Copied out by offset: the caller's storage need not be aligned for sockaddr_in6. */
    sa_family_t family;
    memcpy(&family, (const char *)sa + offsetof(struct sockaddr, sa_family), sizeof family);
    if (family == AF_INET) {
        uint8_t b[4];
        memcpy(b, (const char *)sa + offsetof(struct sockaddr_in, sin_addr), 4);
        v4_mapped(load_be32(b), a16);
        v4 = true;
    } else if (family == AF_INET6) {
        memcpy(a16, (const char *)sa + offsetof(struct sockaddr_in6, sin6_addr), 16);
        v4 = false;
    } else {
        return "unsupported address family";
    }

    if (p && allowed(p, a16))
        return NULL;
    return v4 ? v4_judge(load_be32(a16 + 12), WRAP_NONE) : v6_judge(a16);
}

/* One part of a numeric IPv4 literal, [s, end): decimal, 0x hex or 0-prefixed octal. */
static bool parse_part(const char *s, const char *end, uint64_t *out)
{
    unsigned base = 10;
    if (end - s >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        base = 16;
        s += 2;
    } else if (end - s >= 2 && s[0] == '0') {
        base = 8;
        s++;
    }
    if (s == end)
        return false; /* "" and a bare "0x" */
    uint64_t v = 0;
    for (; s < end; s++) {
        unsigned d;
        if (*s >= '0' && *s <= '9')
            d = (unsigned)(*s - '0');
        else if (*s >= 'a' && *s <= 'f')
            d = (unsigned)(*s - 'a' + 10);
        else if (*s >= 'A' && *s <= 'F')
            d = (unsigned)(*s - 'A' + 10);
        else
            return false;
        if (d >= base)
            return false;
        v = v * base + d;
        if (v > 0xffffffffu)
            return false; /* stop before a long part can overflow */
    }
    *out = v;
    return true;
}

bool ssrf_parse_ipv4(const char *host, uint32_t *out)
{
    if (!host || !out)
        return false;
    size_t len = strlen(host);
    if (len > 0 && host[len - 1] == '.')
        len--; /* one trailing dot, as in a fully qualified name */
    if (len == 0)
        return false;

    uint64_t parts[4];
    int n = 0;
    const char *s = host, *end = host + len;
    for (;;) {
        const char *dot = memchr(s, '.', (size_t)(end - s));
        const char *stop = dot ? dot : end;
        if (n == 4 || !parse_part(s, stop, &parts[n]))
            return false;
        n++;
        if (!dot)
            break;
        s = dot + 1;
    }

    /* every part but the last is one byte; the last fills the bytes left */
    uint32_t v = 0;
    for (int i = 0; i < n - 1; i++) {
        if (parts[i] > 255)
            return false;
        v |= (uint32_t)parts[i] << (24 - 8 * i);
    }
    uint64_t last_max = n == 1 ? 0xffffffffu : (1u << (8 * (5 - n))) - 1;
    if (parts[n - 1] > last_max)
        return false;
    *out = v | (uint32_t)parts[n - 1];
    return true;
}
