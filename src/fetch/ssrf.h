/* The SSRF guard's address rules: which IP addresses a fetch may connect to. Loopback, private,
 * link-local (169.254.169.254 among them), unique-local, multicast, documentation and other
 * special ranges are refused; IPv6 forms that carry an IPv4 address (IPv4-mapped, IPv4-compatible,
 * NAT64, 6to4) are judged by the IPv4 address inside. An allowlist of CIDR ranges, given by the
 * operator, lets chosen ranges through (tests, intranets).
 *
 * The fetcher applies these rules to the address each connection is actually made to, at every
 * hop, so no spelling of a host and no DNS answer can reach a refused range.
 *
 * Ownership: a policy is owned by its creator (ssrf_policy_free); it is read-only once built and
 * may then be shared by threads. */
#ifndef TRAWL_SSRF_H
#define TRAWL_SSRF_H

#include "base/err.h"

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

struct ssrf_policy;

/* A policy that refuses every special range and allows nothing extra. */
struct ssrf_policy *ssrf_policy_new(void);
void ssrf_policy_free(struct ssrf_policy *p);
/* Let a range through: "127.0.0.0/8", "10.1.2.3" (a single address), "fd00::/8", "::1".
 * Addresses are read with inet_pton (IPv4 only as a dotted quad); host bits set beyond the
 * prefix are accepted and ignored. An IPv4 range also lets through the IPv4-mapped IPv6 form of
 * its addresses (127.0.0.0/8 covers ::ffff:127.0.0.1, not ::1), and a ::ffff:a.b.c.d range the
 * plain IPv4 addresses; the other IPv6 forms that carry an IPv4 address (IPv4-compatible, NAT64,
 * 6to4) are let through only by an IPv6 range that holds them.
 * Errors: TRAWL_EINVAL for anything else, with a message that quotes the input and does not
 * name a flag ("'300.1.1.1/8' is not an IP address or CIDR range", "'10.0.0.0/33': prefix length
 * 33 is out of range for IPv4 (0 to 32)"), so the caller can prefix its own context;
 * TRAWL_ETOOBIG past 64 ranges. */
int ssrf_policy_allow(struct ssrf_policy *p, const char *cidr, struct err *e);
/* Turn the guard off entirely (every address allowed). */
void ssrf_policy_disable(struct ssrf_policy *p);

/* NULL when the policy lets a connection to sa (AF_INET or AF_INET6) through; otherwise a short
 * static name of the refused range, e.g. "loopback", "private", "link-local", "unique-local",
 * "multicast", "reserved", "unspecified", "carrier-grade nat", "documentation", "benchmarking",
 * "teredo". A refused IPv4 address inside an IPv6 one is named by its wrapper and its range:
 * "ipv4-mapped loopback", "ipv4-compatible private", "nat64 link-local", "6to4 loopback".
 * IPv6 outside 2000::/3 that no rule names is refused as "reserved". An unknown address family
 * or a NULL sa is refused ("unsupported address family"); a NULL p acts as ssrf_policy_new()'s
 * policy. sa is only read, through memcpy, so it need not be aligned. */
const char *ssrf_check(const struct ssrf_policy *p, const struct sockaddr *sa);

/* Read host as an IPv4 literal the way URL parsers and inet_aton do: one to four parts separated
 * by dots, each decimal, 0x-prefixed hex or 0-prefixed octal, the last part filling the
 * remaining bytes ("127.1", "2130706433", "0x7f.0.0.1", "0177.0.0.01"). Every part but the last
 * must fit a byte, the last the bytes left. *out is in host byte order (127.0.0.1 is
 * 0x7f000001). Returns false when host is not such a literal (then *out is untouched): empty
 * parts, more than four parts, signs, spaces or other characters, a bare "0x", 8 or 9 in an
 * octal part. One trailing dot is accepted ("1.2.3.4."). */
bool ssrf_parse_ipv4(const char *host, uint32_t *out);

#endif
