/* net.c - address policy (public receivers only, unless allow-listed),
 * webhook URL checks, and the "host:port" addresses hookd listens on.
 *
 * Every address is handled in its 16-byte IPv6 form; IPv4 a.b.c.d is
 * ::ffff:a.b.c.d, so one prefix match serves both families. */
#include "hookd/net.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#define CIDR_TEXT_MAX 64 /* longest IPv6 text (45) plus "/128", with room */
#define NETLIST_TEXT_MAX 4096
#define URL_MAX 2048

static const uint8_t v4mapped_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

/* 1 when the first bits bits of a and b are equal. */
static int prefix_eq(const uint8_t *a, const uint8_t *b, int bits)
{
    int whole = bits / 8;
    if (memcmp(a, b, (size_t)whole) != 0)
        return 0;
    int rest = bits % 8;
    if (rest == 0)
        return 1;
    uint8_t mask = (uint8_t)(0xff << (8 - rest));
    return (a[whole] & mask) == (b[whole] & mask);
}

/* Zeroes every bit of addr past the first bits. */
static void mask_host_bits(uint8_t addr[16], int bits)
{
    for (int i = 0; i < 16; i++) {
        int keep = bits - 8 * i;
        if (keep >= 8)
            continue;
        addr[i] &= keep <= 0 ? 0 : (uint8_t)(0xff << (8 - keep));
    }
}

static void v4_to_mapped(const uint8_t v4[4], uint8_t out[16])
{
    memcpy(out, v4mapped_prefix, sizeof(v4mapped_prefix));
    memcpy(out + 12, v4, 4);
}

/* Parses the prefix length after '/': 1 to 3 digits, no sign, no leading
 * zero, no space, at most max. Returns the length or -1. */
static int parse_prefix_len(const char *s, int max)
{
    size_t n = strlen(s);
    if (n == 0 || n > 3 || strspn(s, "0123456789") != n || (n > 1 && s[0] == '0'))
        return -1;
    int v = 0;
    for (size_t i = 0; i < n; i++)
        v = v * 10 + (s[i] - '0');
    return v <= max ? v : -1;
}

/* Writes addr/bits as text: IPv4 (from the mapped form, bits - 96) when v4. */
static void cidr_text(const uint8_t addr[16], int bits, int v4, char *buf, size_t len)
{
    char a[INET6_ADDRSTRLEN];
    if (!inet_ntop(v4 ? AF_INET : AF_INET6, v4 ? addr + 12 : addr, a, sizeof(a)))
        snprintf(a, sizeof(a), "?");
    snprintf(buf, len, "%s/%d", a, v4 ? bits - 96 : bits);
}

/* Refuses s, whose address has bits set past its prefix, naming the network
 * it would mean. c holds the address as written and its prefix over the
 * 128-bit form; v4 says whether s was written as IPv4. An IPv4-mapped
 * address with a prefix of at most 32 was surely meant as an IPv4 network,
 * so both ways of writing that are shown too. Returns HOOKD_EINVAL. */
static int refuse_host_bits(const char *s, const struct hookd_cidr *c, int v4, char *errbuf)
{
    char net[CIDR_TEXT_MAX];
    uint8_t m[16];
    memcpy(m, c->addr, 16);
    mask_host_bits(m, c->bits);
    cidr_text(m, c->bits, v4, net, sizeof(net));
    if (v4 || c->bits > 32 || memcmp(c->addr, v4mapped_prefix, 12) != 0)
        return hookd_fail(errbuf, HOOKD_EINVAL, "\"%s\" has host bits set; the network is %s", s,
                          net);

    char as_v4[CIDR_TEXT_MAX], as_v6[CIDR_TEXT_MAX];
    memcpy(m, c->addr, 16);
    mask_host_bits(m, 96 + c->bits);
    cidr_text(m, 96 + c->bits, 1, as_v4, sizeof(as_v4));
    cidr_text(m, 96 + c->bits, 0, as_v6, sizeof(as_v6));
    return hookd_fail(errbuf, HOOKD_EINVAL,
                      "\"%s\" has host bits set; as IPv6 it is %s; for %s write %s or %s", s, net,
                      as_v4, as_v4, as_v6);
}

int hookd_cidr_parse(const char *s, struct hookd_cidr *out, char *errbuf)
{
    if (!s || !*s)
        return hookd_fail(errbuf, HOOKD_EINVAL, "empty address");
    size_t len = strnlen(s, CIDR_TEXT_MAX);
    if (len >= CIDR_TEXT_MAX)
        return hookd_fail(errbuf, HOOKD_EINVAL, "address \"%.32s...\" is too long", s);

    char text[CIDR_TEXT_MAX];
    memcpy(text, s, len + 1);
    char *slash = strchr(text, '/');
    if (slash)
        *slash = '\0';

    struct hookd_cidr c;
    memset(&c, 0, sizeof(c));
    int v4 = !strchr(text, ':');
    if (!v4) {
        if (inet_pton(AF_INET6, text, c.addr) != 1)
            return hookd_fail(errbuf, HOOKD_EINVAL, "\"%s\" is not an IPv6 address", text);
    } else {
        uint8_t a4[4];
        if (inet_pton(AF_INET, text, a4) != 1)
            return hookd_fail(errbuf, HOOKD_EINVAL, "\"%s\" is not an IP address", text);
        v4_to_mapped(a4, c.addr);
    }

    int maxlen = v4 ? 32 : 128;
    int plen = maxlen;
    if (slash) {
        plen = parse_prefix_len(slash + 1, maxlen);
        if (plen < 0)
            return hookd_fail(errbuf, HOOKD_EINVAL, "bad prefix length \"/%s\" in \"%s\" (0 to %d)",
                              slash + 1, s, maxlen);
    }
    c.bits = v4 ? 96 + plen : plen;
    uint8_t net[16];
    memcpy(net, c.addr, 16);
    mask_host_bits(net, c.bits);
    if (memcmp(net, c.addr, 16) != 0)
        return refuse_host_bits(s, &c, v4, errbuf);
    *out = c;
    return 0;
}

int hookd_netlist_parse(const char *s, struct hookd_netlist *out, char *errbuf)
{
    out->n = 0;
    if (!s)
        return 0;
    size_t len = strnlen(s, NETLIST_TEXT_MAX + 1);
    if (len > NETLIST_TEXT_MAX)
        return hookd_fail(errbuf, HOOKD_ETOOBIG, "network list longer than %d bytes",
                          NETLIST_TEXT_MAX);
    if (strspn(s, " ") == len)
        return 0;

    const char *p = s;
    for (;;) {
        const char *end = strchr(p, ',');
        if (!end)
            end = s + len;
        const char *a = p;
        const char *b = end;
        while (a < b && *a == ' ')
            a++;
        while (b > a && b[-1] == ' ')
            b--;
        if (a == b) {
            out->n = 0;
            return hookd_fail(errbuf, HOOKD_EINVAL, "empty entry in network list");
        }
        if (out->n == HOOKD_NETLIST_MAX) {
            out->n = 0;
            return hookd_fail(errbuf, HOOKD_ETOOBIG, "network list has more than %d entries",
                              HOOKD_NETLIST_MAX);
        }
        char item[CIDR_TEXT_MAX];
        size_t n = (size_t)(b - a);
        if (n >= sizeof(item)) {
            out->n = 0;
            return hookd_fail(errbuf, HOOKD_EINVAL, "network list entry \"%.32s...\" is too long",
                              a);
        }
        memcpy(item, a, n);
        item[n] = '\0';
        int rc = hookd_cidr_parse(item, &out->items[out->n], errbuf);
        if (rc) {
            out->n = 0;
            return rc;
        }
        out->n++;
        if (*end == '\0')
            break;
        p = end + 1;
    }
    return 0;
}

int hookd_netlist_contains(const struct hookd_netlist *l, const uint8_t addr[16])
{
    if (!l)
        return 0;
    for (int i = 0; i < l->n; i++) {
        if (prefix_eq(addr, l->items[i].addr, l->items[i].bits))
            return 1;
    }
    return 0;
}

/* One refused IPv4 range; net is the address as a host-order integer. */
struct v4_class {
    uint32_t net;
    int len;
    const char *name;
};

#define V4(a, b, c, d) (((uint32_t)(a) << 24) | ((uint32_t)(b) << 16) | ((uint32_t)(c) << 8) | (d))

static const struct v4_class v4_classes[] = {
    {V4(0, 0, 0, 0), 8, "unspecified"},
    {V4(127, 0, 0, 0), 8, "loopback"},
    {V4(10, 0, 0, 0), 8, "private"},
    {V4(172, 16, 0, 0), 12, "private"},
    {V4(192, 168, 0, 0), 16, "private"},
    {V4(100, 64, 0, 0), 10, "cgnat"},
    {V4(169, 254, 0, 0), 16, "link-local"},
    {V4(224, 0, 0, 0), 4, "multicast"},
    {V4(255, 255, 255, 255), 32, "broadcast"},
    {V4(240, 0, 0, 0), 4, "reserved"},
    {V4(192, 0, 2, 0), 24, "documentation"},
    {V4(198, 51, 100, 0), 24, "documentation"},
    {V4(203, 0, 113, 0), 24, "documentation"},
    {V4(198, 18, 0, 0), 15, "benchmarking"},
    {V4(192, 0, 0, 0), 24, "ietf"},
    {V4(192, 88, 99, 0), 24, "6to4-relay"},
};

/* One refused IPv6 range, written as its leading 16-bit groups. */
struct v6_class {
    uint16_t group[8];
    int bits;
    const char *name;
};

static const struct v6_class v6_classes[] = {
    {{0, 0, 0, 0, 0, 0, 0, 0}, 128, "unspecified"},
    {{0, 0, 0, 0, 0, 0, 0, 1}, 128, "loopback"},
    {{0xfe80}, 10, "link-local"},
    {{0xff00}, 8, "multicast"},
    {{0xfc00}, 7, "unique-local"},
    {{0xfec0}, 10, "site-local"},
    {{0x0100, 0, 0, 0}, 64, "discard"},
    {{0x2001, 0x0db8}, 32, "documentation"},
    {{0x3fff}, 20, "documentation"},
    {{0x2001, 0x0002, 0}, 48, "benchmarking"},
    {{0x0064, 0xff9b, 0x0001}, 48, "nat64-local"},
};

/* Class name of a refused IPv4 address, or NULL when it is public. */
static const char *v4_class(const uint8_t v4[4])
{
    uint32_t a = V4(v4[0], v4[1], v4[2], v4[3]);
    for (size_t i = 0; i < sizeof(v4_classes) / sizeof(v4_classes[0]); i++) {
        const struct v4_class *c = &v4_classes[i];
        uint32_t mask = c->len == 0 ? 0 : 0xffffffffu << (32 - c->len);
        if ((a & mask) == c->net)
            return c->name;
    }
    return NULL;
}

/* 1 when addr lies in the IPv6 prefix whose groups and length are given. */
static int v6_in(const uint8_t addr[16], const uint16_t group[8], int bits)
{
    uint8_t net[16];
    for (int i = 0; i < 8; i++) {
        net[2 * i] = (uint8_t)(group[i] >> 8);
        net[2 * i + 1] = (uint8_t)(group[i] & 0xff);
    }
    return prefix_eq(addr, net, bits);
}

static const uint16_t pfx_compat[8] = {0};
static const uint16_t pfx_nat64[8] = {0x0064, 0xff9b};
static const uint16_t pfx_6to4[8] = {0x2002};
static const uint16_t pfx_teredo[8] = {0x2001, 0x0000};
static const uint16_t pfx_global[8] = {0x2000};

/* The IPv4 address an IPv6 address carries. For ipv4-mapped,
 * ipv4-compatible and NAT64 it is the real destination; 6to4 carries the
 * tunnel end; Teredo carries the client (bits inverted) and its server. */
struct embedded {
    const char *form;  /* NULL when the address embeds no IPv4 address */
    uint8_t v4[4];     /* the destination, judged by the IPv4 rules */
    int has_server;    /* Teredo: server is judged too */
    uint8_t server[4]; /* Teredo server */
};

/* Fills e with the IPv4 address embedded in a, if a has such a form. */
static void find_embedded(const uint8_t a[16], struct embedded *e)
{
    memset(e, 0, sizeof(*e));
    if (memcmp(a, v4mapped_prefix, 12) == 0) {
        e->form = "ipv4-mapped";
        memcpy(e->v4, a + 12, 4);
    } else if (v6_in(a, pfx_compat, 96)) {
        e->form = "ipv4-compatible";
        memcpy(e->v4, a + 12, 4);
    } else if (v6_in(a, pfx_nat64, 96)) {
        e->form = "nat64";
        memcpy(e->v4, a + 12, 4);
    } else if (v6_in(a, pfx_6to4, 16)) {
        e->form = "6to4";
        memcpy(e->v4, a + 2, 4);
    } else if (v6_in(a, pfx_teredo, 32)) {
        e->form = "teredo";
        for (int i = 0; i < 4; i++)
            e->v4[i] = (uint8_t)~a[12 + i];
        e->has_server = 1;
        memcpy(e->server, a + 4, 4);
    }
}

/* Formats the refusal of a (printed as IPv4 when v4 is set). cls names the
 * class; form, when not NULL, the IPv6 form whose embedded IPv4 address was
 * judged. Returns HOOKD_EFORBIDDEN. */
static int refuse(char *errbuf, const uint8_t a[16], int v4, const char *cls, const char *form)
{
    char text[INET6_ADDRSTRLEN];
    const char *t = v4 ? inet_ntop(AF_INET, a + 12, text, sizeof(text))
                       : inet_ntop(AF_INET6, a, text, sizeof(text));
    return hookd_fail(errbuf, HOOKD_EFORBIDDEN,
                      "address %s is not public (%s%s%s); add it to --allow-net to allow it",
                      t ? t : "?", cls, form ? ", " : "", form ? form : "");
}

/* Judges a 16-byte address that came as IPv6 (not from an AF_INET socket). */
static int check_v6(const uint8_t a[16], const struct hookd_netlist *allow, char *errbuf)
{
    /* :: and ::1 are inside ::/96 but are classes of their own. */
    for (size_t i = 0; i < 2; i++) {
        if (v6_in(a, v6_classes[i].group, v6_classes[i].bits))
            return refuse(errbuf, a, 0, v6_classes[i].name, NULL);
    }

    struct embedded e;
    find_embedded(a, &e);
    if (e.form) {
        uint8_t m[16];
        v4_to_mapped(e.v4, m);
        if (hookd_netlist_contains(allow, m))
            return 0;
        const char *cls = v4_class(e.v4);
        if (!cls && e.has_server)
            cls = v4_class(e.server);
        if (cls)
            return refuse(errbuf, a, 0, cls, e.form);
        if (strcmp(e.form, "ipv4-compatible") == 0)
            return refuse(errbuf, a, 0, "deprecated", e.form);
        return 0;
    }

    for (size_t i = 2; i < sizeof(v6_classes) / sizeof(v6_classes[0]); i++) {
        if (v6_in(a, v6_classes[i].group, v6_classes[i].bits))
            return refuse(errbuf, a, 0, v6_classes[i].name, NULL);
    }
    /* Outside 2000::/3 nothing is assigned as global unicast. */
    if (!v6_in(a, pfx_global, 3))
        return refuse(errbuf, a, 0, "reserved", NULL);
    return 0;
}

int hookd_net_check(const struct sockaddr *sa, const struct hookd_netlist *allow, char *errbuf)
{
    if (!sa)
        return hookd_fail(errbuf, HOOKD_EINVAL, "no address");
    uint8_t a[16];
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)sa;
        uint8_t v4[4];
        memcpy(v4, &in->sin_addr, 4);
        v4_to_mapped(v4, a);
        if (hookd_netlist_contains(allow, a))
            return 0;
        const char *cls = v4_class(v4);
        return cls ? refuse(errbuf, a, 1, cls, NULL) : 0;
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)sa;
        memcpy(a, &in6->sin6_addr, 16);
        if (hookd_netlist_contains(allow, a))
            return 0;
        return check_v6(a, allow, errbuf);
    }
    return hookd_fail(errbuf, HOOKD_EINVAL, "unknown address family %d", (int)sa->sa_family);
}

/* Fetches one URL part. Returns 1 when present, with *out to be freed with
 * curl_free(); 0 when absent, with *out NULL. */
static int url_part(CURLU *h, CURLUPart what, unsigned flags, char **out)
{
    *out = NULL;
    if (curl_url_get(h, what, out, flags) != CURLUE_OK) {
        *out = NULL;
        return 0;
    }
    return 1;
}

/* 1 when url reads "scheme://" followed by the start of a host. curl alone
 * would take "http:/h" or "http:///h" and guess a host from the path. */
static int has_authority(const char *url)
{
    const char *p = url;
    if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')))
        return 0;
    p += strspn(p, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+.-");
    return strncmp(p, "://", 3) == 0 && p[3] != '\0' && p[3] != '/' && p[3] != '\\';
}

int hookd_url_check(const char *url, char *hostkey, size_t hostkey_len, char *errbuf)
{
    if (hostkey && hostkey_len)
        hostkey[0] = '\0';
    if (!url || !*url)
        return hookd_fail(errbuf, HOOKD_EINVAL, "empty URL");
    if (strnlen(url, URL_MAX + 1) > URL_MAX)
        return hookd_fail(errbuf, HOOKD_ETOOBIG, "URL longer than %d bytes", URL_MAX);

    CURLU *h = curl_url();
    if (!h)
        return HOOKD_ENOMEM;
    char *scheme = NULL, *host = NULL, *port = NULL, *cred = NULL;
    int rc = 0;
    CURLUcode uc = curl_url_set(h, CURLUPART_URL, url, 0);
    if (uc != CURLUE_OK) {
        rc = hookd_fail(errbuf, HOOKD_EINVAL, "bad URL: %s", curl_url_strerror(uc));
        goto out;
    }
    if (!url_part(h, CURLUPART_SCHEME, 0, &scheme) ||
        (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0)) {
        rc = hookd_fail(errbuf, HOOKD_EFORBIDDEN, "URL scheme %s is not allowed (http or https)",
                        scheme ? scheme : "(none)");
        goto out;
    }
    if (!has_authority(url)) {
        rc = hookd_fail(errbuf, HOOKD_EINVAL, "URL must read %s://host/...", scheme);
        goto out;
    }
    if (url_part(h, CURLUPART_USER, 0, &cred) || url_part(h, CURLUPART_PASSWORD, 0, &cred)) {
        rc = hookd_fail(errbuf, HOOKD_EINVAL,
                        "URL carries a user or password; put secrets in the webhook secret");
        goto out;
    }
    if (!url_part(h, CURLUPART_HOST, 0, &host) || !*host) {
        rc = hookd_fail(errbuf, HOOKD_EINVAL, "URL has no host");
        goto out;
    }
    if (!url_part(h, CURLUPART_PORT, CURLU_DEFAULT_PORT, &port) || strcmp(port, "0") == 0) {
        rc = hookd_fail(errbuf, HOOKD_EINVAL, "URL has no usable port");
        goto out;
    }
    for (char *c = host; *c; c++) {
        if (*c >= 'A' && *c <= 'Z')
            *c = (char)(*c - 'A' + 'a');
    }
    if (hostkey) {
        int n = snprintf(hostkey, hostkey_len, "%s://%s:%s", scheme, host, port);
        if (n < 0 || (size_t)n >= hostkey_len) {
            if (hostkey_len)
                hostkey[0] = '\0';
            rc = hookd_fail(errbuf, HOOKD_ETOOBIG, "host key longer than %zu bytes", hostkey_len);
            goto out;
        }
    }

out:
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    curl_free(cred);
    curl_url_cleanup(h);
    return rc;
}

/* ---- listening addresses ---- */

int hookd_net_addr_split(const char *text, int allow_zero, char *host, size_t hostsz, int *port,
                         char *errbuf)
{
    size_t len = strnlen(text, HOOKD_NET_ADDR_MAX + 1);
    const char *h, *colon;
    size_t hlen;
    int64_t p;

    if (len > HOOKD_NET_ADDR_MAX)
        return hookd_fail(errbuf, HOOKD_EINVAL, "address longer than %d bytes", HOOKD_NET_ADDR_MAX);
    if (text[0] == '[') {
        const char *close = memchr(text, ']', len);
        if (!close || close[1] != ':')
            return hookd_fail(errbuf, HOOKD_EINVAL,
                              "address '%s': want [IPv6]:PORT with the brackets closed", text);
        h = text + 1;
        hlen = (size_t)(close - h);
        colon = close + 1;
        struct in6_addr a6;
        char tmp[INET6_ADDRSTRLEN];
        if (hlen == 0 || hlen >= sizeof(tmp))
            return hookd_fail(errbuf, HOOKD_EINVAL, "address '%s': bad IPv6 address", text);
        memcpy(tmp, h, hlen);
        tmp[hlen] = '\0';
        if (inet_pton(AF_INET6, tmp, &a6) != 1)
            return hookd_fail(errbuf, HOOKD_EINVAL, "address '%s': bad IPv6 address", text);
    } else {
        colon = strrchr(text, ':');
        if (!colon)
            return hookd_fail(errbuf, HOOKD_EINVAL, "address '%s': want HOST:PORT", text);
        h = text;
        hlen = (size_t)(colon - text);
        if (hlen == 0)
            return hookd_fail(errbuf, HOOKD_EINVAL, "address '%s': no host before the port", text);
        if (memchr(h, ':', hlen))
            return hookd_fail(errbuf, HOOKD_EINVAL,
                              "address '%s': put an IPv6 address in brackets, [::1]:9464", text);
        for (size_t i = 0; i < hlen; i++) {
            char ch = h[i];
            if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                  (ch >= '0' && ch <= '9') || ch == '-' || ch == '.' || ch == '_'))
                return hookd_fail(errbuf, HOOKD_EINVAL,
                                  "address '%s': the host has a character that is not "
                                  "allowed",
                                  text);
        }
    }
    if (hlen >= hostsz)
        return hookd_fail(errbuf, HOOKD_EINVAL, "address '%s': host longer than %zu bytes", text,
                          hostsz - 1);
    if (hookd_parse_i64(colon + 1, allow_zero ? 0 : 1, 65535, &p) != 0)
        return hookd_fail(errbuf, HOOKD_EINVAL, "address '%s': want a port from %d to 65535", text,
                          allow_zero ? 0 : 1);
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    *port = (int)p;
    return 0;
}

int hookd_net_addr_resolve(const char *text, int allow_zero, struct sockaddr_storage *out,
                           char *errbuf)
{
    char host[256], port_s[8];
    int port, rc;
    struct addrinfo hints, *res = NULL;

    if ((rc = hookd_net_addr_split(text, allow_zero, host, sizeof(host), &port, errbuf)) != 0)
        return rc;
    memset(out, 0, sizeof(*out));
    struct sockaddr_in *a4 = (struct sockaddr_in *)out;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)out;
    if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
        a4->sin_family = AF_INET;
        a4->sin_port = htons((uint16_t)port);
        return 0;
    }
    if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)port);
        return 0;
    }
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV | AI_ADDRCONFIG;
    snprintf(port_s, sizeof(port_s), "%d", port);
    if ((rc = getaddrinfo(host, port_s, &hints, &res)) != 0)
        return hookd_fail(errbuf, HOOKD_EINVAL, "address '%s': cannot resolve %s: %s", text, host,
                          gai_strerror(rc));
    if (res->ai_addrlen > sizeof(*out)) {
        freeaddrinfo(res);
        return hookd_fail(errbuf, HOOKD_EINVAL, "address '%s': unusable address", text);
    }
    memcpy(out, res->ai_addr, res->ai_addrlen);
    freeaddrinfo(res);
    return 0;
}

int hookd_net_addr_loopback(const char *text)
{
    char host[256];
    int port;
    uint8_t a[16];
    if (hookd_net_addr_split(text, 1, host, sizeof(host), &port, NULL) != 0)
        return 0;
    if (inet_pton(AF_INET, host, a + 12) == 1)
        memcpy(a, v4mapped_prefix, sizeof(v4mapped_prefix));
    else if (inet_pton(AF_INET6, host, a) != 1)
        return 0;
    static const uint8_t v6_loopback[16] = {[15] = 1};
    if (memcmp(a, v6_loopback, 16) == 0)
        return 1;
    return memcmp(a, v4mapped_prefix, sizeof(v4mapped_prefix)) == 0 && a[12] == 127;
}
