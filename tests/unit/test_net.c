/* test_net.c - CIDR and list parsing, the public-address policy with its
 * allow-list, and webhook URL checks. */
#include "hookd/net.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/un.h>

#include "check.h"

/* Fills ss with the address in text (IPv4 or IPv6), port 443. */
static const struct sockaddr *make_sa(const char *text, struct sockaddr_storage *ss)
{
    memset(ss, 0, sizeof(*ss));
    struct sockaddr_in *in = (struct sockaddr_in *)(void *)ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)(void *)ss;
    if (inet_pton(AF_INET, text, &in->sin_addr) == 1) {
        in->sin_family = AF_INET;
        in->sin_port = htons(443);
    } else if (inet_pton(AF_INET6, text, &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons(443);
    } else {
        fprintf(stderr, "test bug: bad address %s\n", text);
        failed++;
    }
    return (const struct sockaddr *)ss;
}

static void test_cidr(void)
{
    static const struct {
        const char *text;
        int bits;
        const char *net; /* network address as IPv6 text */
    } good[] = {
        {"10.0.0.0/8", 104, "::ffff:10.0.0.0"},
        {"172.16.0.0/12", 108, "::ffff:172.16.0.0"},
        {"192.168.1.77", 128, "::ffff:192.168.1.77"},
        {"0.0.0.0/0", 96, "::ffff:0.0.0.0"},
        {"1.2.3.4/32", 128, "::ffff:1.2.3.4"},
        {"1.2.3.254/31", 127, "::ffff:1.2.3.254"},
        {"fd00::/8", 8, "fd00::"},
        {"fd80::/9", 9, "fd80::"},
        {"::1", 128, "::1"},
        {"::/0", 0, "::"},
        {"2001:db8::1/128", 128, "2001:db8::1"},
        {"2001:db8:8000::/33", 33, "2001:db8:8000::"},
        /* IPv4-mapped literals are IPv6 prefixes over the 128-bit form */
        {"::ffff:10.0.0.0/104", 104, "::ffff:10.0.0.0"},
        {"::ffff:0.0.0.0/96", 96, "::ffff:0.0.0.0"},
        {"::ffff:10.1.2.3", 128, "::ffff:10.1.2.3"},
        {"::ffff:0:0/96", 96, "::ffff:0.0.0.0"},
        {"::/8", 8, "::"},
    };
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        struct hookd_cidr c;
        char err[HOOKD_ERRLEN] = "";
        uint8_t want[16];
        inet_pton(AF_INET6, good[i].net, want);
        int rc = hookd_cidr_parse(good[i].text, &c, err);
        if (rc != 0 || c.bits != good[i].bits || memcmp(c.addr, want, 16) != 0)
            fprintf(stderr, "cidr \"%s\": rc %d bits %d (%s)\n", good[i].text, rc, c.bits, err);
        CHECK(rc == 0);
        CHECK(c.bits == good[i].bits);
        CHECK(memcmp(c.addr, want, 16) == 0);
    }

    static const char *const bad[] = {
        "",
        "x",
        "10.0.0.0/",
        "10.0.0.0/33",
        "::/129",
        "1.2.3.4/ 8",
        "1.2.3.4 /8",
        " 1.2.3.4",
        "1.2.3.4/8 ",
        "1.2.3.4/-1",
        "1.2.3.4/+8",
        "1.2.3.4/08",
        "1.2.3.4/1000",
        "1.2.3.4/8/8",
        "1.2.3",
        "1.2.3.4.5",
        "256.1.1.1",
        "01.2.3.4",
        "1.2.3.4/a",
        "fe80::1%eth0",
        "gggg::",
        "1:2:3:4:5:6:7:8:9",
        "/8",
        "0000:0000:0000:0000:0000:0000:0000:0000:0000:0000:0000/8", /* too long */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct hookd_cidr c;
        char err[HOOKD_ERRLEN] = "";
        int rc = hookd_cidr_parse(bad[i], &c, err);
        if (rc != HOOKD_EINVAL || !err[0])
            fprintf(stderr, "cidr \"%s\" was accepted (rc %d)\n", bad[i], rc);
        CHECK(rc == HOOKD_EINVAL);
        CHECK(err[0] != '\0');
    }
    CHECK(hookd_cidr_parse(NULL, &(struct hookd_cidr){0}, NULL) == HOOKD_EINVAL);
}

/* A prefix whose address has bits set past its length is refused, never
 * widened, and the error names the network it would mean. */
static void test_cidr_host_bits(void)
{
    static const struct {
        const char *text;
        const char *err;
    } cases[] = {
        {"10.0.0.1/8", "\"10.0.0.1/8\" has host bits set; the network is 10.0.0.0/8"},
        {"10.1.2.3/8", "\"10.1.2.3/8\" has host bits set; the network is 10.0.0.0/8"},
        {"172.31.255.255/12",
         "\"172.31.255.255/12\" has host bits set; the network is 172.16.0.0/12"},
        {"1.2.3.255/31", "\"1.2.3.255/31\" has host bits set; the network is 1.2.3.254/31"},
        {"1.0.0.0/0", "\"1.0.0.0/0\" has host bits set; the network is 0.0.0.0/0"},
        {"fdff:1:2::3/9", "\"fdff:1:2::3/9\" has host bits set; the network is fd80::/9"},
        {"2001:db8:ffff::/33",
         "\"2001:db8:ffff::/33\" has host bits set; the network is 2001:db8:8000::/33"},
        {"::1/0", "\"::1/0\" has host bits set; the network is ::/0"},
        {"::ffff:10.0.0.0/8", "\"::ffff:10.0.0.0/8\" has host bits set; as IPv6 it is ::/8; "
                              "for 10.0.0.0/8 write 10.0.0.0/8 or ::ffff:10.0.0.0/104"},
        {"::ffff:10.1.2.3/8", "\"::ffff:10.1.2.3/8\" has host bits set; as IPv6 it is ::/8; "
                              "for 10.0.0.0/8 write 10.0.0.0/8 or ::ffff:10.0.0.0/104"},
        {"::ffff:0.0.0.0/0", "\"::ffff:0.0.0.0/0\" has host bits set; as IPv6 it is ::/0; "
                             "for 0.0.0.0/0 write 0.0.0.0/0 or ::ffff:0.0.0.0/96"},
        {"::ffff:192.168.1.1/32",
         "\"::ffff:192.168.1.1/32\" has host bits set; as IPv6 it is ::/32; "
         "for 192.168.1.1/32 write 192.168.1.1/32 or ::ffff:192.168.1.1/128"},
        {"::ffff:10.0.0.0/40", "\"::ffff:10.0.0.0/40\" has host bits set; the network is ::/40"},
        {"::ffff:10.0.0.1/104",
         "\"::ffff:10.0.0.1/104\" has host bits set; the network is ::ffff:10.0.0.0/104"},
        {"::ffff:10.0.0.0/96",
         "\"::ffff:10.0.0.0/96\" has host bits set; the network is ::ffff:0.0.0.0/96"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct hookd_cidr c;
        memset(&c, 0x5a, sizeof(c));
        char err[HOOKD_ERRLEN] = "";
        int rc = hookd_cidr_parse(cases[i].text, &c, err);
        if (rc != HOOKD_EINVAL || strcmp(err, cases[i].err) != 0)
            fprintf(stderr, "cidr \"%s\": rc %d \"%s\"\n", cases[i].text, rc, err);
        CHECK(rc == HOOKD_EINVAL);
        CHECK_STR(err, cases[i].err);
        CHECK(c.bits == 0x5a5a5a5a); /* *out untouched */
    }

    /* The two spellings of an IPv4 network are the same prefix. */
    struct hookd_cidr a, b;
    char err[HOOKD_ERRLEN];
    CHECK(hookd_cidr_parse("10.0.0.0/8", &a, err) == 0);
    CHECK(hookd_cidr_parse("::ffff:10.0.0.0/104", &b, err) == 0);
    CHECK(a.bits == b.bits && memcmp(a.addr, b.addr, 16) == 0);
    CHECK(hookd_cidr_parse("0.0.0.0/0", &a, err) == 0);
    CHECK(hookd_cidr_parse("::ffff:0.0.0.0/96", &b, err) == 0);
    CHECK(a.bits == b.bits && memcmp(a.addr, b.addr, 16) == 0);

    /* What each allows: 0.0.0.0/0 is all of IPv4 and nothing else; ::/0 is
     * everything. */
    struct hookd_netlist l;
    uint8_t addr[16];
    CHECK(hookd_netlist_parse("0.0.0.0/0", &l, err) == 0 && l.n == 1);
    inet_pton(AF_INET6, "::ffff:127.0.0.1", addr);
    CHECK(hookd_netlist_contains(&l, addr));
    inet_pton(AF_INET6, "::1", addr);
    CHECK(!hookd_netlist_contains(&l, addr));
    CHECK(hookd_netlist_parse("::/0", &l, err) == 0 && l.n == 1);
    CHECK(hookd_netlist_contains(&l, addr));

    /* Both spellings in one list; neither reaches loopback or metadata. */
    CHECK(hookd_netlist_parse("10.0.0.0/8,::ffff:10.0.0.0/104", &l, err) == 0 && l.n == 2);
    struct sockaddr_storage ss;
    CHECK(hookd_net_check(make_sa("10.9.8.7", &ss), &l, err) == 0);
    CHECK(hookd_net_check(make_sa("::ffff:10.9.8.7", &ss), &l, err) == 0);
    CHECK(hookd_net_check(make_sa("127.0.0.1", &ss), &l, err) == HOOKD_EFORBIDDEN);
    CHECK(hookd_net_check(make_sa("169.254.169.254", &ss), &l, err) == HOOKD_EFORBIDDEN);
    CHECK(hookd_net_check(make_sa("::1", &ss), &l, err) == HOOKD_EFORBIDDEN);

    /* The refusal inside a list is the list's error, and the list is empty. */
    l.n = 3;
    CHECK(hookd_netlist_parse("127.0.0.0/8, ::ffff:10.0.0.0/8", &l, err) == HOOKD_EINVAL);
    CHECK(l.n == 0);
    CHECK(strstr(err, "as IPv6 it is ::/8") != NULL);
}

static void test_netlist(void)
{
    struct hookd_netlist l;
    char err[HOOKD_ERRLEN];
    uint8_t a[16];

    CHECK(hookd_netlist_parse("", &l, err) == 0 && l.n == 0);
    CHECK(hookd_netlist_parse("   ", &l, err) == 0 && l.n == 0);
    CHECK(hookd_netlist_parse(NULL, &l, err) == 0 && l.n == 0);
    CHECK(hookd_netlist_parse("127.0.0.0/8,10.0.0.0/8", &l, err) == 0 && l.n == 2);
    CHECK(hookd_netlist_parse(" 127.0.0.0/8 ,  fd00::/8 ", &l, err) == 0 && l.n == 2);
    inet_pton(AF_INET6, "::ffff:127.9.9.9", a);
    CHECK(hookd_netlist_contains(&l, a));
    inet_pton(AF_INET6, "::ffff:128.0.0.1", a);
    CHECK(!hookd_netlist_contains(&l, a));
    inet_pton(AF_INET6, "fdab::1", a);
    CHECK(hookd_netlist_contains(&l, a));
    inet_pton(AF_INET6, "fe00::1", a);
    CHECK(!hookd_netlist_contains(&l, a));
    CHECK(!hookd_netlist_contains(NULL, a));

    static const char *const bad[] = {
        "10.0.0.0/8,",          ",10.0.0.0/8",  "10.0.0.0/8,,127.0.0.1",  "10.0.0.0/8, ,::1",
        "10.0.0.0/8;127.0.0.1", "10.0.0.0/8,x", "10.0.0.0/8,\t127.0.0.1", "10.0.0.0/8,127.0.0.1/ 8",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        l.n = 5;
        int rc = hookd_netlist_parse(bad[i], &l, err);
        if (rc != HOOKD_EINVAL)
            fprintf(stderr, "netlist \"%s\": rc %d\n", bad[i], rc);
        CHECK(rc == HOOKD_EINVAL);
        CHECK(l.n == 0);
        CHECK(err[0] != '\0');
    }

    /* 64 entries fit, 65 do not. */
    char text[5000];
    size_t off = 0;
    for (int i = 0; i < HOOKD_NETLIST_MAX; i++)
        off += (size_t)snprintf(text + off, sizeof(text) - off, "%s10.%d.0.0/16", i ? "," : "", i);
    CHECK(hookd_netlist_parse(text, &l, err) == 0 && l.n == HOOKD_NETLIST_MAX);
    inet_pton(AF_INET6, "::ffff:10.63.1.1", a);
    CHECK(hookd_netlist_contains(&l, a));
    inet_pton(AF_INET6, "::ffff:10.64.1.1", a);
    CHECK(!hookd_netlist_contains(&l, a));
    snprintf(text + off, sizeof(text) - off, ",10.99.0.0/16");
    CHECK(hookd_netlist_parse(text, &l, err) == HOOKD_ETOOBIG && l.n == 0);

    /* 4096 bytes pass the length cap, 4097 do not. */
    memset(text, ' ', 4097);
    memcpy(text, "::1", 3);
    text[4096] = '\0';
    CHECK(hookd_netlist_parse(text, &l, err) == 0 && l.n == 1);
    text[4096] = ' ';
    text[4097] = '\0';
    CHECK(hookd_netlist_parse(text, &l, err) == HOOKD_ETOOBIG);
    /* One entry longer than any address. */
    memset(text, '1', 100);
    text[100] = '\0';
    CHECK(hookd_netlist_parse(text, &l, err) == HOOKD_EINVAL);
}

static void test_check(void)
{
    static const struct {
        const char *addr;
        const char *cls; /* NULL: allowed; else a word the refusal must contain */
    } cases[] = {
        {"8.8.8.8", NULL},
        {"1.1.1.1", NULL},
        {"2606:4700::1111", NULL},
        {"2a00:1450:4001:80b::200e", NULL},
        {"0.0.0.0", "unspecified"},
        {"0.1.2.3", "unspecified"},
        {"::", "unspecified"},
        {"127.0.0.1", "loopback"},
        {"127.255.255.254", "loopback"},
        {"::1", "loopback"},
        {"10.1.2.3", "private"},
        {"172.16.0.1", "private"},
        {"172.31.255.255", "private"},
        {"172.32.0.1", NULL},
        {"172.15.255.255", NULL},
        {"192.168.0.1", "private"},
        {"100.64.0.1", "cgnat"},
        {"100.127.255.255", "cgnat"},
        {"100.128.0.1", NULL},
        {"169.254.169.254", "link-local"},
        {"fe80::1", "link-local"},
        {"febf::1", "link-local"},
        {"224.0.0.1", "multicast"},
        {"239.255.255.250", "multicast"},
        {"ff02::1", "multicast"},
        {"255.255.255.255", "broadcast"},
        {"240.0.0.1", "reserved"},
        {"192.0.2.1", "documentation"},
        {"198.51.100.7", "documentation"},
        {"203.0.113.9", "documentation"},
        {"2001:db8::1", "documentation"},
        {"198.18.0.1", "benchmarking"},
        {"198.19.255.255", "benchmarking"},
        {"198.20.0.1", NULL},
        {"192.0.0.8", "ietf"},
        {"fc00::1", "unique-local"},
        {"fd12:3456::1", "unique-local"},
        {"fec0::1", "site-local"},
        {"100::1", "discard"},
        {"::ffff:10.0.0.1", "private"},
        {"::ffff:127.0.0.1", "loopback"},
        {"::ffff:8.8.8.8", NULL},
        {"::127.0.0.1", "loopback"},
        {"::8.8.8.8", "ipv4-compatible"},
        {"64:ff9b::10.0.0.1", "nat64"},
        {"64:ff9b::8.8.8.8", NULL},
        {"64:ff9b::169.254.169.254", "link-local"},
        {"2002:0a00:0001::1", "6to4"},                             /* 10.0.0.1 */
        {"2002:7f00:0001::1", "loopback"},                         /* 127.0.0.1 */
        {"2002:0808:0808::1", NULL},                               /* 8.8.8.8 */
        {"2001:0:4136:e378:8000:63bf:f5ff:fffe", "teredo"},        /* client 10.0.0.1 */
        {"2001:0:4136:e378:8000:63bf:3fff:fdd2", "documentation"}, /* client 192.0.2.45 */
        {"2001:0:4136:e378:8000:63bf:f7f7:f7f7", NULL},            /* client 8.8.8.8 */
        {"2001:0:0a00:0001:8000:63bf:f7f7:f7f7", "private"},       /* server 10.0.0.1 */
        {"5f00::1", "reserved"},
        {"4000::1", "reserved"},
        {"::2:3:4:5", "reserved"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct sockaddr_storage ss;
        char err[HOOKD_ERRLEN] = "";
        int rc = hookd_net_check(make_sa(cases[i].addr, &ss), NULL, err);
        int ok =
            cases[i].cls ? rc == HOOKD_EFORBIDDEN && strstr(err, cases[i].cls) != NULL : rc == 0;
        if (!ok)
            fprintf(stderr, "net_check %s: rc %d \"%s\"\n", cases[i].addr, rc, err);
        CHECK(ok);
    }

    /* The refusal reads as one line naming the address and the class. */
    struct sockaddr_storage ss;
    char err[HOOKD_ERRLEN];
    CHECK(hookd_net_check(make_sa("10.1.2.3", &ss), NULL, err) == HOOKD_EFORBIDDEN);
    CHECK(strcmp(err, "address 10.1.2.3 is not public (private); add it to --allow-net to "
                      "allow it") == 0);
    CHECK(hookd_net_check(make_sa("::ffff:10.0.0.1", &ss), NULL, err) == HOOKD_EFORBIDDEN);
    CHECK(strstr(err, "address ::ffff:10.0.0.1 is not public") == err);

    struct sockaddr_un un;
    memset(&un, 0, sizeof(un));
    un.sun_family = AF_UNIX;
    CHECK(hookd_net_check((const struct sockaddr *)&un, NULL, err) == HOOKD_EINVAL);
    CHECK(hookd_net_check(NULL, NULL, err) == HOOKD_EINVAL);
}

static void test_allow(void)
{
    struct hookd_netlist l;
    char err[HOOKD_ERRLEN];
    CHECK(hookd_netlist_parse("127.0.0.0/8,10.0.0.0/8,fd00:1::/32", &l, err) == 0);
    static const struct {
        const char *addr;
        int allowed;
    } cases[] = {
        {"127.0.0.1", 1},
        {"10.200.3.4", 1},
        {"::ffff:127.0.0.1", 1}, /* the embedded form is allow-listed too */
        {"::ffff:10.0.0.1", 1},
        {"64:ff9b::10.0.0.1", 1},
        {"fd00:1::5", 1},
        {"fd00:2::5", 0},
        {"192.168.1.1", 0},
        {"172.16.0.1", 0},
        {"::1", 0}, /* IPv6 loopback is not 127.0.0.0/8 */
        {"169.254.169.254", 0},
        {"8.8.8.8", 1},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct sockaddr_storage ss;
        err[0] = '\0';
        int rc = hookd_net_check(make_sa(cases[i].addr, &ss), &l, err);
        int ok = cases[i].allowed ? rc == 0 : rc == HOOKD_EFORBIDDEN;
        if (!ok)
            fprintf(stderr, "allow %s: rc %d \"%s\"\n", cases[i].addr, rc, err);
        CHECK(ok);
    }
}

static void test_url(void)
{
    static const struct {
        const char *url;
        const char *key;
    } good[] = {
        {"https://example.com/hook", "https://example.com:443"},
        {"http://example.com", "http://example.com:80"},
        {"HTTPS://Example.COM:8443/a?b=c#frag", "https://example.com:8443"},
        {"http://[2606:4700::1111]:8080/x", "http://[2606:4700::1111]:8080"},
        {"https://10.0.0.1/x", "https://10.0.0.1:443"}, /* judged at connect time */
        {"http://localhost:3000/webhooks", "http://localhost:3000"},
    };
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        char key[128] = "junk";
        char err[HOOKD_ERRLEN] = "";
        int rc = hookd_url_check(good[i].url, key, sizeof(key), err);
        if (rc != 0 || strcmp(key, good[i].key) != 0)
            fprintf(stderr, "url %s: rc %d key \"%s\" (%s)\n", good[i].url, rc, key, err);
        CHECK(rc == 0);
        CHECK(strcmp(key, good[i].key) == 0);
    }
    char err[HOOKD_ERRLEN];
    CHECK(hookd_url_check("https://example.com/", NULL, 0, err) == 0);

    static const struct {
        const char *url;
        int rc;
    } bad[] = {
        {"ftp://example.com/file", HOOKD_EFORBIDDEN},
        {"file:///etc/passwd", HOOKD_EFORBIDDEN},
        {"gopher://example.com/", HOOKD_EFORBIDDEN},
        {"http://user:pw@example.com/", HOOKD_EINVAL},
        {"http://user@example.com/", HOOKD_EINVAL},
        {"http://:pw@example.com/", HOOKD_EINVAL},
        {"http://@example.com/", HOOKD_EINVAL},
        {"http:///path", HOOKD_EINVAL}, /* curl would take "path" as the host */
        {"http:/example.com/", HOOKD_EINVAL},
        {"http:example.com/", HOOKD_EINVAL},
        {"http:\\\\example.com/", HOOKD_EINVAL},
        {"http://example.com:0/", HOOKD_EINVAL},
        {"://example.com/", HOOKD_EINVAL},
        {"http://", HOOKD_EINVAL},
        {"example.com/hook", HOOKD_EINVAL},
        {"http://exa mple.com/", HOOKD_EINVAL},
        {"http://example.com:99999/", HOOKD_EINVAL},
        {"http://example.com:port/", HOOKD_EINVAL},
        {"", HOOKD_EINVAL},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char key[128] = "junk";
        err[0] = '\0';
        int rc = hookd_url_check(bad[i].url, key, sizeof(key), err);
        if (rc != bad[i].rc)
            fprintf(stderr, "url \"%s\": rc %d want %d (%s)\n", bad[i].url, rc, bad[i].rc, err);
        CHECK(rc == bad[i].rc);
        CHECK(err[0] != '\0');
        CHECK(key[0] == '\0');
    }
    CHECK(hookd_url_check(NULL, NULL, 0, err) == HOOKD_EINVAL);

    /* 2048 bytes is the limit. */
    char url[3001];
    memset(url, 'a', sizeof(url) - 1);
    url[3000] = '\0';
    memcpy(url, "https://example.com/", 20);
    CHECK(hookd_url_check(url, NULL, 0, err) == HOOKD_ETOOBIG);
    url[2049] = '\0';
    CHECK(hookd_url_check(url, NULL, 0, err) == HOOKD_ETOOBIG);
    url[2048] = '\0';
    CHECK(hookd_url_check(url, NULL, 0, err) == 0);

    /* A host key that does not fit is an error, not a truncation. */
    char small[16];
    CHECK(hookd_url_check("https://example.com/", small, sizeof(small), err) == HOOKD_ETOOBIG);
    CHECK(small[0] == '\0');
}

int main(void)
{
    test_cidr();
    test_cidr_host_bits();
    test_netlist();
    test_check();
    test_allow();
    test_url();
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
