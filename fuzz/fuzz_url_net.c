/* fuzz_url_net.c - the address policy and URL checks of net.h.
 *
 * Input: four newline-separated parts,
 *   URL \n CIDR \n NETLIST \n ADDRESS-BYTES
 * the last one raw (its first 16 bytes, zero-padded, are an IPv6 address and
 * its first 4 an IPv4 address). Checks the parsers' results against the
 * header: host bits zero, the prefix's address exactly the one written (a
 * prefix with host bits set is refused, never widened), IPv4 in its mapped
 * form, an IPv4-mapped prefix never wider than all of IPv4, a parsed prefix
 * contains its own address, an allow-listed address is allowed, and an IPv4
 * address is judged the same in its IPv6 forms (mapped both ways;
 * compatible, NAT64, 6to4 and Teredo never let a refused one through). */
#include <arpa/inet.h>
#include <netinet/in.h>

#include "fuzz_common.h"
#include "hookd/net.h"

static const uint8_t mapped_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

/* Aborts unless c is a well-formed prefix: length in range, host bits zero. */
static void check_cidr(const struct hookd_cidr *c)
{
    FUZZ_CHECK(c->bits >= 0 && c->bits <= 128);
    for (int i = 0; i < 128; i++) {
        if (i >= c->bits)
            FUZZ_CHECK(((c->addr[i / 8] >> (7 - i % 8)) & 1) == 0);
    }
    struct hookd_netlist one;
    one.n = 1;
    one.items[0] = *c;
    FUZZ_CHECK(hookd_netlist_contains(&one, c->addr) == 1);
}

static void fuzz_url(const struct fuzz_part *part)
{
    char *url = fuzz_strndup(part->p, part->n);
    char errbuf[HOOKD_ERRLEN];
    char hostkey[300];
    fuzz_errbuf_poison(errbuf);
    int rc = hookd_url_check(url, hostkey, sizeof(hostkey), errbuf);
    if (rc == 0) {
        size_t n = strnlen(hostkey, sizeof(hostkey));
        FUZZ_CHECK(n > 0 && n < sizeof(hostkey));
        FUZZ_CHECK(strncmp(hostkey, "http://", 7) == 0 || strncmp(hostkey, "https://", 8) == 0);
        const char *host = strstr(hostkey, "://") + 3;
        const char *colon = strrchr(host, ':');
        FUZZ_CHECK(colon != NULL && colon > host && colon[1] != '\0');
        for (const char *c = host; c < colon; c++)
            FUZZ_CHECK(!(*c >= 'A' && *c <= 'Z'));
        /* A host key that does not fit is refused, never cut. */
        char small[12];
        fuzz_errbuf_poison(errbuf);
        int rc2 = hookd_url_check(url, small, sizeof(small), errbuf);
        if (n < sizeof(small)) {
            FUZZ_CHECK(rc2 == 0 && strcmp(small, hostkey) == 0);
        } else {
            FUZZ_CHECK(rc2 == HOOKD_ETOOBIG && small[0] == '\0' && fuzz_errbuf_ok(errbuf));
        }
    } else {
        FUZZ_CHECK(rc == HOOKD_EINVAL || rc == HOOKD_ETOOBIG || rc == HOOKD_EFORBIDDEN ||
                   rc == HOOKD_ENOMEM);
        FUZZ_CHECK(fuzz_errbuf_ok(errbuf) || rc == HOOKD_ENOMEM);
        FUZZ_CHECK(hostkey[0] == '\0');
    }
    free(url);
}

static void fuzz_cidr(const struct fuzz_part *part)
{
    char *s = fuzz_strndup(part->p, part->n);
    char errbuf[HOOKD_ERRLEN];
    struct hookd_cidr c;
    fuzz_errbuf_poison(errbuf);
    int rc = hookd_cidr_parse(s, &c, errbuf);
    if (rc == 0) {
        check_cidr(&c);
        char *slash = strchr(s, '/');
        if (slash)
            *slash = '\0';
        else
            FUZZ_CHECK(c.bits == 128);
        uint8_t written[16];
        if (!strchr(s, ':')) {
            FUZZ_CHECK(c.bits >= 96);
            memcpy(written, mapped_prefix, sizeof(mapped_prefix));
            FUZZ_CHECK(inet_pton(AF_INET, s, written + 12) == 1);
        } else {
            FUZZ_CHECK(inet_pton(AF_INET6, s, written) == 1);
        }
        FUZZ_CHECK(memcmp(c.addr, written, 16) == 0);
        if (memcmp(c.addr, mapped_prefix, sizeof(mapped_prefix)) == 0)
            FUZZ_CHECK(c.bits >= 96);
    } else {
        FUZZ_CHECK(rc == HOOKD_EINVAL || rc == HOOKD_ETOOBIG || rc == HOOKD_ERANGE);
        FUZZ_CHECK(fuzz_errbuf_ok(errbuf));
    }
    free(s);
}

/* Parses the netlist part into allow (left empty when it does not parse). */
static void fuzz_netlist(const struct fuzz_part *part, struct hookd_netlist *allow)
{
    char *s = fuzz_strndup(part->p, part->n);
    char errbuf[HOOKD_ERRLEN];
    fuzz_errbuf_poison(errbuf);
    int rc = hookd_netlist_parse(s, allow, errbuf);
    if (rc == 0) {
        FUZZ_CHECK(allow->n >= 0 && allow->n <= HOOKD_NETLIST_MAX);
        for (int i = 0; i < allow->n; i++)
            check_cidr(&allow->items[i]);
    } else {
        FUZZ_CHECK(rc == HOOKD_EINVAL || rc == HOOKD_ETOOBIG || rc == HOOKD_ERANGE);
        FUZZ_CHECK(fuzz_errbuf_ok(errbuf));
        allow->n = 0;
    }
    free(s);
}

/* Judges a as IPv6 (v6 set) or its last four bytes as IPv4. Checks the
 * return code and message, and returns 0 (allowed) or 1 (refused). */
static int judge(const uint8_t a[16], int v6, const struct hookd_netlist *allow)
{
    char errbuf[HOOKD_ERRLEN];
    int rc;
    fuzz_errbuf_poison(errbuf);
    if (v6) {
        struct sockaddr_in6 in6;
        memset(&in6, 0, sizeof(in6));
        in6.sin6_family = AF_INET6;
        in6.sin6_port = htons(443);
        memcpy(&in6.sin6_addr, a, 16);
        rc = hookd_net_check((const struct sockaddr *)&in6, allow, errbuf);
    } else {
        struct sockaddr_in in;
        memset(&in, 0, sizeof(in));
        in.sin_family = AF_INET;
        in.sin_port = htons(443);
        memcpy(&in.sin_addr, a + 12, 4);
        rc = hookd_net_check((const struct sockaddr *)&in, allow, errbuf);
    }
    FUZZ_CHECK(rc == 0 || rc == HOOKD_EFORBIDDEN);
    if (rc)
        FUZZ_CHECK(fuzz_errbuf_ok(errbuf));
    return rc != 0;
}

static void fuzz_net_check(const struct fuzz_part *part, const struct hookd_netlist *allow)
{
    static const struct hookd_netlist none;
    uint8_t a[16] = {0};
    memcpy(a, part->p, part->n < 16 ? part->n : 16);

    /* As given, against the parsed allow-list. */
    int v6_refused = judge(a, 1, allow);
    if (hookd_netlist_contains(allow, a))
        FUZZ_CHECK(!v6_refused);

    /* The first four bytes as IPv4, and the same address in IPv6 forms. */
    uint8_t v4[4];
    memcpy(v4, a, 4);
    uint8_t m[16];
    memcpy(m, mapped_prefix, 12);
    memcpy(m + 12, v4, 4);
    int v4_refused = judge(m, 0, allow);
    if (hookd_netlist_contains(allow, m))
        FUZZ_CHECK(!v4_refused);
    FUZZ_CHECK(judge(m, 1, allow) == v4_refused);

    /* With no allow-list, no IPv6 form lets a refused IPv4 address through. */
    if (!judge(m, 0, &none))
        return;
    uint8_t f[16];
    memset(f, 0, sizeof(f)); /* ::a.b.c.d, compatible */
    memcpy(f + 12, v4, 4);
    FUZZ_CHECK(judge(f, 1, &none));
    memset(f, 0, sizeof(f)); /* 64:ff9b::a.b.c.d, NAT64 */
    f[1] = 0x64, f[2] = 0xff, f[3] = 0x9b;
    memcpy(f + 12, v4, 4);
    FUZZ_CHECK(judge(f, 1, &none));
    memcpy(f, a, 16); /* 2002:AABB:CCDD::/48, 6to4 */
    f[0] = 0x20, f[1] = 0x02;
    memcpy(f + 2, v4, 4);
    FUZZ_CHECK(judge(f, 1, &none));
    memcpy(f, a, 16); /* 2001:0::/32, Teredo, client bits inverted */
    f[0] = 0x20, f[1] = 0x01, f[2] = 0, f[3] = 0;
    for (int i = 0; i < 4; i++)
        f[12 + i] = (uint8_t)~v4[i];
    FUZZ_CHECK(judge(f, 1, &none));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_part parts[4];
    fuzz_split(data, size, parts, 4);
    struct hookd_netlist allow;
    fuzz_url(&parts[0]);
    fuzz_cidr(&parts[1]);
    fuzz_netlist(&parts[2], &allow);
    fuzz_net_check(&parts[3], &allow);
    return 0;
}
