/* net.h - address policy: which receivers hookd may connect to.
 *
 * By default only public unicast addresses may be reached. Loopback, private,
 * link-local (169.254.0.0/16, fe80::/10), CGNAT (100.64.0.0/10), multicast,
 * unspecified, broadcast, reserved, documentation ranges, IPv6 ULA (fc00::/7),
 * and IPv4-mapped/compatible/NAT64/6to4 forms of any of those are refused,
 * unless an allow-list entry (--allow-net) covers the address. The check runs
 * on the resolved address at connect time. */
#ifndef HOOKD_NET_H
#define HOOKD_NET_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "hookd/common.h"

/* One IPv4 or IPv6 prefix. IPv4 is stored as ::ffff:a.b.c.d/96+len. */
struct hookd_cidr {
    uint8_t addr[16]; /* network address, IPv6 form, host bits zeroed */
    int bits;         /* prefix length over the 128-bit form */
};

#define HOOKD_NETLIST_MAX 64

/* A fixed list of prefixes; no allocation. */
struct hookd_netlist {
    struct hookd_cidr items[HOOKD_NETLIST_MAX]; /* the prefixes */
    int n;                                      /* how many are used */
};

/* Parses "10.0.0.0/8" or "fd00::/8" or a bare address (a /32 or /128). An
 * IPv6 prefix is over the 128-bit form, IPv4-mapped literals included:
 * "::ffff:10.0.0.0/104" is 10.0.0.0/8. An address with bits set past its
 * prefix ("10.0.0.1/8", "::ffff:10.0.0.0/8", which would be ::/8) is
 * refused with HOOKD_EINVAL, and the error names the network it would mean,
 * so that a typo never widens what is allowed. */
int hookd_cidr_parse(const char *s, struct hookd_cidr *out, char *errbuf);

/* Parses a comma-separated list ("" gives an empty list); capped at
 * HOOKD_NETLIST_MAX entries and 4096 bytes. */
int hookd_netlist_parse(const char *s, struct hookd_netlist *out, char *errbuf);

/* 1 when the 16-byte IPv6-form address lies in one of the list's prefixes. */
int hookd_netlist_contains(const struct hookd_netlist *l, const uint8_t addr[16]);

/* Decides whether a connection to sa may be made. Returns 0 when allowed,
 * HOOKD_EFORBIDDEN with a reason naming the address and its class in errbuf
 * when not, HOOKD_EINVAL for an unknown address family. */
int hookd_net_check(const struct sockaddr *sa, const struct hookd_netlist *allow, char *errbuf);

/* Checks a webhook URL: http or https only, a host, no user:password, at most
 * 2048 bytes. Uses libcurl's URL parser. On success, when hostkey is not NULL,
 * writes "scheme://host:port" (lower-case host, explicit port) into hostkey
 * (hostkey_len bytes) for per-host accounting. */
int hookd_url_check(const char *url, char *hostkey, size_t hostkey_len, char *errbuf);

/* ---- Listening addresses ("host:port") ---- */

#define HOOKD_NET_ADDR_MAX 300 /* "host:port" text, bytes */

/* Splits "host:port" or "[ipv6]:port" (at most HOOKD_NET_ADDR_MAX bytes)
 * into host (hostsz bytes, brackets removed) and a port from 1 to 65535
 * (0 too when allow_zero: tests ask the kernel for a spare port). The host
 * is an IPv4 or bracketed IPv6 literal, or a hostname of letters, digits,
 * '-', '.' and '_'. Returns 0 or HOOKD_EINVAL with the reason. */
int hookd_net_addr_split(const char *text, int allow_zero, char *host, size_t hostsz, int *port,
                         char *errbuf);

/* Splits text as above and resolves it (getaddrinfo; literals need no DNS)
 * into out. Returns 0 or HOOKD_EINVAL with the reason. */
int hookd_net_addr_resolve(const char *text, int allow_zero, struct sockaddr_storage *out,
                           char *errbuf);

/* 1 when the host of the address text (as for hookd_net_addr_split) is a
 * loopback literal: 127.0.0.0/8, ::1 or ::ffff:127.0.0.0/104. A name, even
 * "localhost", is not: what it resolves to is not hookd's to promise. */
int hookd_net_addr_loopback(const char *text);

#endif
