/* test_httpd.c - the HTTP session (framing, caps, keep-alive, errors), the
 * address parser, and the server on real sockets: keep-alive, pipelining,
 * the connection cap, the request timeout and the lingering close. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "hookd/httpd.h"

#include "check.h"

/* ---- a handler that records what it was asked ---- */

struct rec {
    int calls;
    char path[HOOKD_HTTPD_HEAD_MAX + 1];
    int fail;   /* return HOOKD_EIO */
    int status; /* answer this status when not 0 */
};

static int handler(void *arg, const char *path, struct hookd_httpd_reply *r)
{
    struct rec *rec = arg;
    rec->calls++;
    snprintf(rec->path, sizeof(rec->path), "%s", path);
    if (rec->fail)
        return HOOKD_EIO;
    if (rec->status)
        r->status = rec->status;
    if (strcmp(path, "/big") == 0) {
        for (int i = 0; i < 1000; i++)
            hookd_buf_adds(&r->body, "0123456789");
        return 0;
    }
    return hookd_buf_addf(&r->body, "path=%s\n", path);
}

/* Feeds a whole string; returns the step, the response in out. */
static int feed_all(struct hookd_httpd_session *s, const char *req, size_t *used,
                    struct hookd_buf *out)
{
    return hookd_httpd_session_feed(s, req, strlen(req), used, out);
}

static int starts(const char *s, const char *prefix)
{
    return s && strncmp(s, prefix, strlen(prefix)) == 0;
}

static int has(const char *s, const char *needle)
{
    return s && strstr(s, needle) != NULL;
}

/* The Content-Length value of a response, and 1 when it equals the bytes
 * after the head. */
static int length_ok(const char *resp, size_t len)
{
    const char *cl = strstr(resp, "Content-Length: ");
    const char *end = strstr(resp, "\r\n\r\n");
    if (!cl || !end)
        return 0;
    long n = strtol(cl + 16, NULL, 10);
    return (size_t)(end + 4 - resp) + (size_t)n == len;
}

static void test_basic(void)
{
    struct rec rec = {0};
    struct hookd_httpd_session *s = hookd_httpd_session_new(handler, &rec);
    struct hookd_buf out;
    size_t used;
    hookd_buf_init(&out, 1 << 20);

    const char *req = "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n";
    CHECK(feed_all(s, req, &used, &out) == HOOKD_HTTPD_REPLY);
    CHECK(used == strlen(req));
    CHECK(rec.calls == 1 && strcmp(rec.path, "/metrics") == 0);
    CHECK(starts(out.data, "HTTP/1.1 200 OK\r\n"));
    CHECK(has(out.data, "Connection: keep-alive\r\n"));
    CHECK(has(out.data, "Content-Type: text/plain; charset=utf-8\r\n"));
    CHECK(has(out.data, "\r\n\r\npath=/metrics\n"));
    CHECK(length_ok(out.data, out.len));

    /* query and fragment are not part of the path */
    hookd_buf_reset(&out);
    CHECK(feed_all(s, "GET /healthz?x=1&y=%20 HTTP/1.1\r\n\r\n", &used, &out) == HOOKD_HTTPD_REPLY);
    CHECK(strcmp(rec.path, "/healthz") == 0);
    /* absolute-form targets */
    hookd_buf_reset(&out);
    CHECK(feed_all(s, "GET http://h:9464/readyz?q HTTP/1.1\r\n\r\n", &used, &out) ==
          HOOKD_HTTPD_REPLY);
    CHECK(strcmp(rec.path, "/readyz") == 0);
    hookd_buf_reset(&out);
    CHECK(feed_all(s, "GET http://h HTTP/1.1\r\n\r\n", &used, &out) == HOOKD_HTTPD_REPLY);
    CHECK(strcmp(rec.path, "/") == 0);
    /* no percent-decoding */
    hookd_buf_reset(&out);
    CHECK(feed_all(s, "GET /a%2Fb HTTP/1.1\r\n\r\n", &used, &out) == HOOKD_HTTPD_REPLY);
    CHECK(strcmp(rec.path, "/a%2Fb") == 0);
    /* blank lines between requests are tolerated */
    hookd_buf_reset(&out);
    CHECK(feed_all(s, "\r\n\r\nGET /x HTTP/1.1\r\n\r\n", &used, &out) == HOOKD_HTTPD_REPLY);
    CHECK(strcmp(rec.path, "/x") == 0 && rec.calls == 6);
    /* nothing fed, nothing done */
    hookd_buf_reset(&out);
    CHECK(hookd_httpd_session_feed(s, "", 0, &used, &out) == HOOKD_HTTPD_MORE);
    CHECK(used == 0 && out.len == 0);

    hookd_buf_free(&out);
    hookd_httpd_session_free(s);
}

static void test_keepalive_rules(void)
{
    static const struct {
        const char *req;
        int step;
    } cases[] = {
        {"GET / HTTP/1.1\r\n\r\n", HOOKD_HTTPD_REPLY},
        {"GET / HTTP/1.1\r\nConnection: close\r\n\r\n", HOOKD_HTTPD_CLOSE},
        {"GET / HTTP/1.0\r\n\r\n", HOOKD_HTTPD_CLOSE},
        {"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", HOOKD_HTTPD_REPLY},
        {"GET / HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n", HOOKD_HTTPD_CLOSE},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct rec rec = {0};
        struct hookd_httpd_session *s = hookd_httpd_session_new(handler, &rec);
        struct hookd_buf out;
        size_t used;
        hookd_buf_init(&out, 1 << 20);
        int st = feed_all(s, cases[i].req, &used, &out);
        CHECK(st == cases[i].step);
        CHECK(rec.calls == 1);
        CHECK(starts(out.data, "HTTP/1.1 200 OK\r\n"));
        CHECK(has(out.data, st == HOOKD_HTTPD_CLOSE ? "Connection: close\r\n"
                                                    : "Connection: keep-alive\r\n"));
        if (st == HOOKD_HTTPD_CLOSE) {
            /* closed sessions take nothing more */
            size_t before = out.len;
            CHECK(feed_all(s, "GET / HTTP/1.1\r\n\r\n", &used, &out) == HOOKD_HTTPD_CLOSE);
            CHECK(used == 0 && out.len == before && rec.calls == 1);
        }
        hookd_buf_free(&out);
        hookd_httpd_session_free(s);
    }
}

static void test_pipelining_and_fragments(void)
{
    struct rec rec = {0};
    struct hookd_httpd_session *s = hookd_httpd_session_new(handler, &rec);
    struct hookd_buf out;
    size_t used, off = 0;
    hookd_buf_init(&out, 1 << 20);

    /* three requests at once: answered one per feed, in order */
    const char *three = "GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\nGET /c HTTP/1.1\r\n\r\n";
    size_t n = strlen(three);
    const char *want[] = {"/a", "/b", "/c"};
    for (int i = 0; i < 3; i++) {
        hookd_buf_reset(&out);
        CHECK(hookd_httpd_session_feed(s, three + off, n - off, &used, &out) == HOOKD_HTTPD_REPLY);
        CHECK(used == 19);
        CHECK(strcmp(rec.path, want[i]) == 0);
        CHECK(rec.calls == i + 1);
        off += used;
    }
    CHECK(off == n);

    /* one byte at a time: MORE until the very last byte */
    const char *req = "GET /slow HTTP/1.1\r\nHost: a\r\nX-Y: z\r\n\r\n";
    n = strlen(req);
    int mores = 0;
    hookd_buf_reset(&out);
    for (size_t i = 0; i < n; i++) {
        int st = hookd_httpd_session_feed(s, req + i, 1, &used, &out);
        CHECK(used == 1);
        if (i + 1 < n)
            mores += st == HOOKD_HTTPD_MORE;
        else
            CHECK(st == HOOKD_HTTPD_REPLY);
    }
    CHECK(mores == (int)n - 1);
    CHECK(strcmp(rec.path, "/slow") == 0);
    CHECK(out.len > 0 && length_ok(out.data, out.len));

    /* a GET with a small body: the body is read and dropped */
    hookd_buf_reset(&out);
    req = "GET /withbody HTTP/1.1\r\nContent-Length: 5\r\n\r\nhelloGET /next HTTP/1.1\r\n\r\n";
    CHECK(feed_all(s, req, &used, &out) == HOOKD_HTTPD_REPLY);
    CHECK(strcmp(rec.path, "/withbody") == 0);
    CHECK(used == strlen(req) - 22);
    hookd_buf_reset(&out);
    CHECK(feed_all(s, req + used, &used, &out) == HOOKD_HTTPD_REPLY);
    CHECK(strcmp(rec.path, "/next") == 0);

    hookd_buf_free(&out);
    hookd_httpd_session_free(s);
}

/* A request whose head is exactly len bytes, padded with one header. */
static char *head_of(size_t len)
{
    const char *start = "GET /h HTTP/1.1\r\nX-Pad: ";
    size_t fixed = strlen(start) + 4; /* value, then "\r\n\r\n" */
    char *r = malloc(len + 1);
    if (!r || len < fixed)
        abort();
    memcpy(r, start, strlen(start));
    memset(r + strlen(start), 'p', len - fixed);
    memcpy(r + len - 4, "\r\n\r\n", 4);
    r[len] = '\0';
    return r;
}

static void test_caps(void)
{
    struct rec rec = {0};
    struct hookd_buf out;
    size_t used;
    hookd_buf_init(&out, 1 << 20);

    /* head: exactly at the cap passes, one byte over is 431, at once or in pieces */
    for (int over = 0; over <= 1; over++) {
        for (size_t piece = 1; piece <= 16384; piece *= 128) {
            struct hookd_httpd_session *s = hookd_httpd_session_new(handler, &rec);
            char *req = head_of(HOOKD_HTTPD_HEAD_MAX + (size_t)over);
            size_t n = strlen(req), off = 0;
            int st = HOOKD_HTTPD_MORE;
            int calls = rec.calls;
            hookd_buf_reset(&out);
            while (off < n && st == HOOKD_HTTPD_MORE) {
                size_t k = n - off < piece ? n - off : piece;
                st = hookd_httpd_session_feed(s, req + off, k, &used, &out);
                off += used;
            }
            if (over) {
                CHECK(st == HOOKD_HTTPD_CLOSE);
                CHECK(starts(out.data, "HTTP/1.1 431 "));
                CHECK(has(out.data, "Connection: close\r\n"));
                CHECK(rec.calls == calls);
            } else {
                CHECK(st == HOOKD_HTTPD_REPLY);
                CHECK(starts(out.data, "HTTP/1.1 200 OK\r\n"));
                CHECK(rec.calls == calls + 1);
            }
            free(req);
            hookd_httpd_session_free(s);
        }
    }

    /* the head cap is per request: many small requests on one session pass */
    struct hookd_httpd_session *s = hookd_httpd_session_new(handler, &rec);
    int ok = 1;
    for (int i = 0; i < 1000; i++) {
        hookd_buf_reset(&out);
        ok &= feed_all(s, "GET /again HTTP/1.1\r\nHost: abcdefgh\r\n\r\n", &used, &out) ==
              HOOKD_HTTPD_REPLY;
    }
    CHECK(ok);
    hookd_httpd_session_free(s);

    /* a head that never ends: the endless header is cut at the cap */
    s = hookd_httpd_session_new(handler, &rec);
    char junk[1024];
    memset(junk, 'a', sizeof(junk));
    hookd_buf_reset(&out);
    int st = feed_all(s, "GET / HTTP/1.1\r\nX: ", &used, &out);
    size_t total = used;
    while (st == HOOKD_HTTPD_MORE && total < 100000) {
        st = hookd_httpd_session_feed(s, junk, sizeof(junk), &used, &out);
        total += used;
    }
    CHECK(st == HOOKD_HTTPD_CLOSE && starts(out.data, "HTTP/1.1 431 "));
    CHECK(total <= HOOKD_HTTPD_HEAD_MAX + sizeof(junk));
    hookd_httpd_session_free(s);

    /* body: at the cap passes, over it is 413 */
    char req[256];
    for (int over = 0; over <= 1; over++) {
        s = hookd_httpd_session_new(handler, &rec);
        size_t blen = HOOKD_HTTPD_BODY_MAX + (size_t)over;
        snprintf(req, sizeof(req), "GET /b HTTP/1.1\r\nContent-Length: %zu\r\n\r\n", blen);
        char *body = calloc(1, blen);
        hookd_buf_reset(&out);
        CHECK(feed_all(s, req, &used, &out) == HOOKD_HTTPD_MORE);
        st = hookd_httpd_session_feed(s, body, blen, &used, &out);
        if (over)
            CHECK(st == HOOKD_HTTPD_CLOSE && starts(out.data, "HTTP/1.1 413 "));
        else
            CHECK(st == HOOKD_HTTPD_REPLY && starts(out.data, "HTTP/1.1 200 "));
        free(body);
        hookd_httpd_session_free(s);
    }
    /* a chunked body is counted the same way */
    s = hookd_httpd_session_new(handler, &rec);
    hookd_buf_reset(&out);
    st = feed_all(s, "GET /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", &used, &out);
    for (int i = 0; i < 20 && st == HOOKD_HTTPD_MORE; i++) {
        char chunk[1100];
        int n = snprintf(chunk, sizeof(chunk), "400\r\n%01024d\r\n", 0);
        st = hookd_httpd_session_feed(s, chunk, (size_t)n, &used, &out);
    }
    CHECK(st == HOOKD_HTTPD_CLOSE && starts(out.data, "HTTP/1.1 413 "));
    hookd_httpd_session_free(s);

    hookd_buf_free(&out);
}

static void test_errors(void)
{
    static const struct {
        const char *req;
        const char *status;
    } cases[] = {
        {"POST /metrics HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc", "HTTP/1.1 405 "},
        {"HEAD /metrics HTTP/1.1\r\n\r\n", "HTTP/1.1 405 "},
        {"DELETE / HTTP/1.1\r\n\r\n", "HTTP/1.1 405 "},
        {"BREW / HTTP/1.1\r\n\r\n", "HTTP/1.1 400 "},
        {"HELLO\r\n\r\n", "HTTP/1.1 400 "},
        {"GET / FOO/1.1\r\n\r\n", "HTTP/1.1 400 "},
        {"GET / HTTP/1.1\r\nBad Header\r\n\r\n", "HTTP/1.1 400 "},
        {"GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", "HTTP/1.1 400 "},
        {"GET /a\x01 HTTP/1.1\r\n\r\n", "HTTP/1.1 400 "},
        {"GET * HTTP/1.1\r\n\r\n", "HTTP/1.1 400 "},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct rec rec = {0};
        struct hookd_httpd_session *s = hookd_httpd_session_new(handler, &rec);
        struct hookd_buf out;
        size_t used;
        hookd_buf_init(&out, 1 << 20);
        int st = feed_all(s, cases[i].req, &used, &out);
        if (st != HOOKD_HTTPD_CLOSE || !starts(out.data, cases[i].status))
            fprintf(stderr, "  case %zu: step %d, got %.40s\n", i, st, out.data ? out.data : "");
        CHECK(st == HOOKD_HTTPD_CLOSE);
        CHECK(starts(out.data, cases[i].status));
        CHECK(has(out.data, "Connection: close\r\n"));
        CHECK(length_ok(out.data, out.len));
        CHECK(rec.calls == 0);
        if (strstr(cases[i].status, "405"))
            CHECK(has(out.data, "Allow: GET\r\n"));
        hookd_buf_free(&out);
        hookd_httpd_session_free(s);
    }

    /* a failing handler is a 500, and the connection stays usable */
    struct rec rec = {.fail = 1};
    struct hookd_httpd_session *s = hookd_httpd_session_new(handler, &rec);
    struct hookd_buf out;
    size_t used;
    hookd_buf_init(&out, 1 << 20);
    CHECK(feed_all(s, "GET / HTTP/1.1\r\n\r\n", &used, &out) == HOOKD_HTTPD_REPLY);
    CHECK(starts(out.data, "HTTP/1.1 500 "));
    /* handler statuses pass through; nonsense ones become 500 */
    rec.fail = 0;
    rec.status = 404;
    hookd_buf_reset(&out);
    CHECK(feed_all(s, "GET /nope HTTP/1.1\r\n\r\n", &used, &out) == HOOKD_HTTPD_REPLY);
    CHECK(starts(out.data, "HTTP/1.1 404 Not Found\r\n"));
    rec.status = 999;
    hookd_buf_reset(&out);
    CHECK(feed_all(s, "GET / HTTP/1.1\r\n\r\n", &used, &out) == HOOKD_HTTPD_REPLY);
    CHECK(starts(out.data, "HTTP/1.1 500 "));
    rec.status = 0;
    hookd_buf_free(&out);

    /* a response that does not fit the output: an error, then the session is closed */
    hookd_buf_init(&out, 64);
    CHECK(feed_all(s, "GET /big HTTP/1.1\r\n\r\n", &used, &out) == HOOKD_ETOOBIG);
    CHECK(out.len == 0);
    CHECK(feed_all(s, "GET / HTTP/1.1\r\n\r\n", &used, &out) == HOOKD_HTTPD_CLOSE);
    CHECK(used == 0 && out.len == 0);
    hookd_buf_free(&out);
    hookd_httpd_session_free(s);
}

static void test_addr(void)
{
    char host[256], err[HOOKD_ERRLEN];
    int port = 0;
    struct sockaddr_storage ss;

    CHECK(hookd_httpd_addr_split("127.0.0.1:9464", host, sizeof(host), &port, err) == 0);
    CHECK(strcmp(host, "127.0.0.1") == 0 && port == 9464);
    CHECK(hookd_httpd_addr_split("[::1]:1", host, sizeof(host), &port, err) == 0);
    CHECK(strcmp(host, "::1") == 0 && port == 1);
    CHECK(hookd_httpd_addr_split("metrics.local:65535", host, sizeof(host), &port, err) == 0);
    CHECK(strcmp(host, "metrics.local") == 0 && port == 65535);

    static const char *const bad[] = {
        "",       "localhost", ":9464",   "::1:9464",   "[::1]",    "[::1]9464",
        "[zz]:1", "[]:1",      "host:0",  "host:65536", "host:80x", "host:",
        "a b:80", "h\x01:80",  "[::1:80", "host:-1",    "host:+80", "[1.2.3.4]:80",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        int rc = hookd_httpd_addr_split(bad[i], host, sizeof(host), &port, err);
        if (rc != HOOKD_EINVAL)
            fprintf(stderr, "  accepted bad address '%s'\n", bad[i]);
        CHECK(rc == HOOKD_EINVAL && err[0]);
    }
    /* caps: the whole text, and the host against its buffer */
    char longer[HOOKD_HTTPD_ADDR_MAX + 8];
    memset(longer, 'a', sizeof(longer) - 1);
    longer[sizeof(longer) - 1] = '\0';
    memcpy(longer + sizeof(longer) - 4, ":80", 3);
    CHECK(hookd_httpd_addr_split(longer, host, sizeof(host), &port, err) == HOOKD_EINVAL);
    CHECK(strstr(err, "longer than") != NULL);
    char small[8];
    CHECK(hookd_httpd_addr_split("abcdefgh:80", small, sizeof(small), &port, err) == HOOKD_EINVAL);
    CHECK(hookd_httpd_addr_split("abcdefg:80", small, sizeof(small), &port, err) == 0);

    CHECK(hookd_httpd_addr_resolve("127.0.0.1:8080", &ss, err) == 0);
    CHECK(ss.ss_family == AF_INET && ntohs(((struct sockaddr_in *)&ss)->sin_port) == 8080);
    CHECK(hookd_httpd_addr_resolve("[::1]:8081", &ss, err) == 0);
    CHECK(ss.ss_family == AF_INET6 && ntohs(((struct sockaddr_in6 *)&ss)->sin6_port) == 8081);
    CHECK(hookd_httpd_addr_resolve("localhost:8082", &ss, err) == 0);
    CHECK(hookd_httpd_addr_resolve("no-such-host.invalid:80", &ss, err) == HOOKD_EINVAL);
    CHECK(strstr(err, "cannot resolve") != NULL);
}

/* ---- the server on real sockets ---- */

struct srvctx {
    uv_loop_t loop;
    uv_async_t stop;
    uv_thread_t thread;
    struct hookd_httpd *srv;
    struct rec rec;
    int port;
};

static void on_stop(uv_async_t *a)
{
    struct srvctx *c = a->data;
    hookd_httpd_close(c->srv);
    uv_close((uv_handle_t *)&c->stop, NULL);
}

static void srv_thread(void *arg)
{
    struct srvctx *c = arg;
    uv_run(&c->loop, UV_RUN_DEFAULT);
}

static int srv_start(struct srvctx *c)
{
    char err[HOOKD_ERRLEN];
    struct sockaddr_in sa;
    memset(c, 0, sizeof(*c));
    uv_ip4_addr("127.0.0.1", 0, &sa);
    uv_loop_init(&c->loop);
    if (hookd_httpd_start_sockaddr(&c->loop, (struct sockaddr *)&sa, handler, &c->rec, &c->srv,
                                   err) != 0) {
        fprintf(stderr, "  cannot start: %s\n", err);
        return -1;
    }
    c->port = hookd_httpd_port(c->srv);
    uv_async_init(&c->loop, &c->stop, on_stop);
    c->stop.data = c;
    uv_thread_create(&c->thread, srv_thread, c);
    return 0;
}

static void srv_stop(struct srvctx *c)
{
    uv_async_send(&c->stop);
    uv_thread_join(&c->thread);
    CHECK(uv_loop_close(&c->loop) == 0);
}

static int dial(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        perror("connect");
        exit(1);
    }
    return fd;
}

static void send_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
        if (k <= 0)
            return;
        p += k;
        n -= (size_t)k;
    }
}

/* Reads until one whole response (head + Content-Length) is in buf, EOF,
 * or timeout_ms. Returns bytes read, 0 on EOF before anything, -1 on a
 * timeout or an error. */
static ssize_t read_response(int fd, char *buf, size_t cap, int timeout_ms)
{
    size_t n = 0;
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, timeout_ms) <= 0)
            return -1;
        ssize_t k = recv(fd, buf + n, cap - 1 - n, 0);
        if (k < 0)
            return -1;
        if (k == 0)
            return (ssize_t)n;
        n += (size_t)k;
        buf[n] = '\0';
        if (strstr(buf, "\r\n\r\n") && length_ok(buf, n))
            return (ssize_t)n;
        if (n + 1 >= cap)
            return -1;
    }
}

/* 1 when the peer closed fd within timeout_ms (EOF or reset). */
static int closed_within(int fd, int timeout_ms)
{
    char b[256];
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, timeout_ms) <= 0)
            return 0;
        ssize_t k = recv(fd, b, sizeof(b), 0);
        if (k <= 0)
            return 1;
    }
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void test_server(void)
{
    struct srvctx c;
    char buf[65536];
    if (srv_start(&c) != 0) {
        CHECK(0);
        return;
    }
    CHECK(c.port > 0);

    /* keep-alive: two requests on one connection, then pipelined ones */
    int fd = dial(c.port);
    const char *req = "GET /one HTTP/1.1\r\nHost: t\r\n\r\n";
    send_all(fd, req, strlen(req));
    CHECK(read_response(fd, buf, sizeof(buf), 2000) > 0 && has(buf, "path=/one"));
    req = "GET /two HTTP/1.1\r\nHost: t\r\n\r\n";
    send_all(fd, req, strlen(req));
    CHECK(read_response(fd, buf, sizeof(buf), 2000) > 0 && has(buf, "path=/two"));
    req = "GET /p1 HTTP/1.1\r\n\r\nGET /p2 HTTP/1.1\r\n\r\nGET /p3 HTTP/1.1\r\n"
          "Connection: close\r\n\r\n";
    send_all(fd, req, strlen(req));
    size_t n = 0;
    while (n + 1 < sizeof(buf)) {
        ssize_t k = read_response(fd, buf + n, sizeof(buf) - n, 2000);
        if (k <= 0)
            break;
        n += (size_t)k;
    }
    CHECK(has(buf, "path=/p1") && has(buf, "path=/p2") && has(buf, "path=/p3"));
    CHECK(strstr(buf, "path=/p1") < strstr(buf, "path=/p2"));
    CHECK(strstr(buf, "path=/p2") < strstr(buf, "path=/p3"));
    CHECK(closed_within(fd, 3000));
    close(fd);

    /* a 405 for a request with a body nobody reads still arrives whole */
    fd = dial(c.port);
    static char post[200000];
    int hl = snprintf(post, sizeof(post), "POST /m HTTP/1.1\r\nContent-Length: %zu\r\n\r\n",
                      sizeof(post) - 100);
    memset(post + hl, 'x', sizeof(post) - (size_t)hl);
    send_all(fd, post, (size_t)hl + sizeof(post) - 100);
    CHECK(read_response(fd, buf, sizeof(buf), 3000) > 0 && starts(buf, "HTTP/1.1 405 "));
    close(fd);

    /* 64 connections at most: the 65th is closed at once, the others work
     * (after the lingering close above has seen the client's EOF) */
    usleep(300000);
    int fds[HOOKD_HTTPD_CONN_MAX];
    for (int i = 0; i < HOOKD_HTTPD_CONN_MAX; i++)
        fds[i] = dial(c.port);
    /* make sure all were accepted: each answers a request */
    int answered = 0;
    for (int i = 0; i < HOOKD_HTTPD_CONN_MAX; i++) {
        send_all(fds[i], "GET /c HTTP/1.1\r\n\r\n", 19);
        answered += read_response(fds[i], buf, sizeof(buf), 2000) > 0;
    }
    if (answered != HOOKD_HTTPD_CONN_MAX)
        fprintf(stderr, "  answered %d\n", answered);
    CHECK(answered == HOOKD_HTTPD_CONN_MAX);
    int extra = dial(c.port);
    CHECK(closed_within(extra, 2000));
    close(extra);
    send_all(fds[0], "GET /still HTTP/1.1\r\n\r\n", 23);
    CHECK(read_response(fds[0], buf, sizeof(buf), 2000) > 0 && has(buf, "path=/still"));
    for (int i = 0; i < HOOKD_HTTPD_CONN_MAX; i++)
        close(fds[i]);
    /* closed ones free their slots */
    usleep(200000);
    fd = dial(c.port);
    send_all(fd, "GET /again HTTP/1.1\r\n\r\n", 23);
    CHECK(read_response(fd, buf, sizeof(buf), 2000) > 0 && has(buf, "path=/again"));
    close(fd);

    /* a request that never finishes is cut after the timeout */
    fd = dial(c.port);
    double t0 = now_s();
    send_all(fd, "GET /slow HTTP/1.1\r\n", 20);
    int closed = closed_within(fd, HOOKD_HTTPD_TIMEOUT_MS + 3000);
    double dt = now_s() - t0;
    CHECK(closed);
    if (dt < 4.8)
        fprintf(stderr, "  closed after %.2f s\n", dt);
    CHECK(dt >= HOOKD_HTTPD_TIMEOUT_MS / 1000.0 - 0.2 && dt < HOOKD_HTTPD_TIMEOUT_MS / 1000.0 + 2);
    close(fd);

    /* closing the server with connections open frees everything */
    fd = dial(c.port);
    send_all(fd, "GET /x HTTP/1.1\r\n\r\n", 19);
    CHECK(read_response(fd, buf, sizeof(buf), 2000) > 0);
    srv_stop(&c);
    CHECK(closed_within(fd, 2000));
    close(fd);
}

static void test_listen_errors(void)
{
    uv_loop_t loop;
    struct hookd_httpd *a = NULL, *b = NULL;
    char err[HOOKD_ERRLEN];
    struct sockaddr_in sa;
    uv_loop_init(&loop);
    uv_ip4_addr("127.0.0.1", 0, &sa);
    CHECK(hookd_httpd_start_sockaddr(&loop, (struct sockaddr *)&sa, handler, NULL, &a, err) == 0);
    char addr[64];
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", hookd_httpd_port(a));
    /* the same port again */
    CHECK(hookd_httpd_start(&loop, addr, handler, NULL, &b, err) == HOOKD_EIO);
    CHECK(strstr(err, "cannot listen on 127.0.0.1:") != NULL);
    CHECK(hookd_httpd_start(&loop, "bad", handler, NULL, &b, err) == HOOKD_EINVAL);
    /* an address this host does not have */
    CHECK(hookd_httpd_start(&loop, "192.0.2.1:9464", handler, NULL, &b, err) == HOOKD_EIO);
    hookd_httpd_close(a);
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK(uv_loop_close(&loop) == 0);
}

int main(void)
{
    test_basic();
    test_keepalive_rules();
    test_pipelining_and_fragments();
    test_caps();
    test_errors();
    test_addr();
    test_listen_errors();
    test_server();
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
