/* fuzz_httpd.c - the metrics server's HTTP session, and its address parser.
 *
 * Input: byte 0 picks a piece size (1 to 256 bytes); the rest is what a
 * client sends on one connection. The bytes are fed once whole and once in
 * pieces, each time the way the server does: after a response, the rest is
 * fed again. Invariants: every step is MORE, REPLY or CLOSE; MORE consumes
 * everything and adds nothing; REPLY and CLOSE consume at least one byte and
 * add exactly one well-framed response ("Connection: close" on CLOSE only);
 * after CLOSE nothing is consumed or added; the handler sees only paths
 * starting with '/', without '?' or '#', within the head cap; and the
 * responses and handler calls do not depend on how the bytes were cut. The first line also goes to
 * hookd_httpd_addr_split: on success a host and a port from 1 to 65535. */
#include "fuzz_common.h"
#include "hookd/httpd.h"

struct calls {
    size_t n; /* handler calls */
};

static int handler(void *arg, const char *path, struct hookd_httpd_reply *r)
{
    struct calls *c = arg;
    size_t n = strlen(path);
    c->n++;
    FUZZ_CHECK(n >= 1 && n <= HOOKD_HTTPD_HEAD_MAX);
    FUZZ_CHECK(path[0] == '/');
    FUZZ_CHECK(!strchr(path, '?') && !strchr(path, '#'));
    if (strcmp(path, "/404") == 0)
        r->status = 404;
    if (strcmp(path, "/fail") == 0)
        return HOOKD_EIO;
    return hookd_buf_addf(&r->body, "%zu:%s\n", n, path);
}

/* Aborts unless resp[0, len) is exactly one response with a matching
 * Content-Length; returns 1 when it says Connection: close. */
static int check_response(const char *resp, size_t len)
{
    FUZZ_CHECK(len > 17 && memcmp(resp, "HTTP/1.1 ", 9) == 0);
    const char *end = NULL;
    for (size_t i = 0; i + 4 <= len; i++) {
        if (memcmp(resp + i, "\r\n\r\n", 4) == 0) {
            end = resp + i + 4;
            break;
        }
    }
    FUZZ_CHECK(end != NULL);
    size_t head = (size_t)(end - resp);
    char *h = fuzz_strndup((const uint8_t *)resp, head);
    const char *cl = strstr(h, "\r\nContent-Length: ");
    FUZZ_CHECK(cl != NULL);
    size_t body = (size_t)strtoull(cl + 18, NULL, 10);
    FUZZ_CHECK(head + body == len);
    int close = strstr(h, "\r\nConnection: close\r\n") != NULL;
    FUZZ_CHECK(close != (strstr(h, "\r\nConnection: keep-alive\r\n") != NULL));
    free(h);
    return close;
}

/* Feeds data in pieces of piece bytes the way the server does; returns the
 * concatenated responses (caller frees) and the handler calls in *calls. */
static char *run(const uint8_t *data, size_t size, size_t piece, size_t *out_len, size_t *calls)
{
    struct calls c = {0};
    struct hookd_httpd_session *s = hookd_httpd_session_new(handler, &c);
    struct hookd_buf all, out;
    FUZZ_CHECK(s != NULL);
    hookd_buf_init(&all, SIZE_MAX / 2);
    hookd_buf_init(&out, HOOKD_HTTPD_REPLY_MAX + 1024);
    int closed = 0;
    for (size_t off = 0; off < size;) {
        size_t n = size - off < piece ? size - off : piece;
        const char *p = (const char *)data + off;
        off += n;
        while (n > 0) {
            size_t used = 0, calls_before = c.n;
            hookd_buf_reset(&out);
            int st = hookd_httpd_session_feed(s, p, n, &used, &out);
            FUZZ_CHECK(used <= n);
            if (closed) {
                FUZZ_CHECK(st == HOOKD_HTTPD_CLOSE && used == 0 && out.len == 0);
                break;
            }
            if (st == HOOKD_HTTPD_MORE) {
                FUZZ_CHECK(used == n && out.len == 0 && c.n == calls_before);
            } else {
                FUZZ_CHECK(st == HOOKD_HTTPD_REPLY || st == HOOKD_HTTPD_CLOSE);
                FUZZ_CHECK(used >= 1);
                FUZZ_CHECK(c.n - calls_before <= 1);
                int says_close = check_response(out.data, out.len);
                FUZZ_CHECK(says_close == (st == HOOKD_HTTPD_CLOSE));
                FUZZ_CHECK(hookd_buf_add(&all, out.data, out.len) == 0);
                closed = st == HOOKD_HTTPD_CLOSE;
            }
            p += used;
            n -= used;
        }
    }
    hookd_buf_free(&out);
    hookd_httpd_session_free(s);
    *calls = c.n;
    return hookd_buf_steal(&all, out_len);
}

static void check_addr(const uint8_t *data, size_t size)
{
    struct fuzz_part parts[2];
    char host[64], errbuf[HOOKD_ERRLEN];
    int port = -1;
    fuzz_split(data, size, parts, 2);
    char *text = fuzz_strndup(parts[0].p, parts[0].n);
    fuzz_errbuf_poison(errbuf);
    int rc = hookd_httpd_addr_split(text, host, sizeof(host), &port, errbuf);
    if (rc == 0) {
        FUZZ_CHECK(port >= 1 && port <= 65535);
        FUZZ_CHECK(host[0] != '\0' && strlen(host) < sizeof(host));
        FUZZ_CHECK(strlen(text) <= HOOKD_HTTPD_ADDR_MAX);
        FUZZ_CHECK(!strchr(host, '[') && !strchr(host, ']'));
    } else {
        FUZZ_CHECK(rc == HOOKD_EINVAL);
        FUZZ_CHECK(fuzz_errbuf_ok(errbuf));
    }
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 64 * 1024)
        return 0;
    size_t piece = (size_t)data[0] + 1;
    data++;
    size--;
    check_addr(data, size);

    size_t len_whole, len_pieces, calls_whole, calls_pieces;
    char *whole = run(data, size, size ? size : 1, &len_whole, &calls_whole);
    char *pieces = run(data, size, piece, &len_pieces, &calls_pieces);
    FUZZ_CHECK(calls_whole == calls_pieces);
    FUZZ_CHECK(len_whole == len_pieces);
    FUZZ_CHECK(len_whole == 0 || memcmp(whole, pieces, len_whole) == 0);
    free(whole);
    free(pieces);
    return 0;
}
