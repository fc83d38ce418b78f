/* receiver.c - the benchmark's HTTP/1.1 receiver: fast, keep-alive, counting.
 *
 * One libuv loop, http-parser, no allocation per request once a connection's
 * buffers have grown. Every POST is answered 200 with an empty body and
 * counted: requests, distinct deliveries, bad signatures, and the latency
 * now - t where t is the enqueue time (microseconds since the epoch) that the
 * bench producers put in the event's data.
 *
 * A delivery is identified by (slot, n): slot is K from a path /h/K (0 for
 * any other path), n the "n" member of the body's data. So one event fanned
 * out to webhooks /h/0 .. /h/9 counts as ten distinct deliveries, and a
 * retried delivery counts once.
 *
 * Control, on the same port (GET):
 *   /_reset?target=N&fail=K  zero every counter; N distinct ends the run; the
 *                            next K POSTs are answered 500 (to exercise retries)
 *   /_mark                   the run starts now (time and own CPU are noted)
 *   /_stats                  counters as one JSON object
 *   /_wait?timeout_ms=T      the same object, once N distinct arrived or T ms passed
 *
 * Usage: bench_receiver [--host 127.0.0.1] [--port 0] [--port-file F]
 *                       [--secret S] [--max-n N] [--max-body BYTES] */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <time.h>

#include <http_parser.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <uv.h>

#define MAX_SLOTS 64
#define MAX_WAITERS 16
#define MAX_URL 256
#define MAX_FIELD 64
#define MAX_TS 32
#define MAX_SIG 128
#define MAX_SAMPLES (4u << 20)
#define READ_BUF (256 * 1024)

static const char RESP_200[] = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
static const char RESP_500[] = "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n";
static const char RESP_404[] = "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n";
static const char RESP_413[] =
    "HTTP/1.1 413 Payload Too Large\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
static const char RESP_400[] =
    "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
static const char RESP_100[] = "HTTP/1.1 100 Continue\r\n\r\n";

enum hdr { H_OTHER, H_TS, H_SIG, H_EXPECT };

struct conn {
    uv_tcp_t tcp;
    http_parser parser;
    struct conn *prev, *next; /* all open connections */
    enum hdr hdr;             /* header whose value is being read */
    int in_value;             /* last callback was a header value */
    int expect_continue;      /* "Expect: 100-continue" seen */
    int too_big;              /* body over max_body: answer 413 and close */
    int waiting;              /* a /_wait is pending on this connection */
    int close_after;          /* close once the output is written */
    int closing;              /* uv_close called */
    uint64_t wait_deadline;   /* uv_now() ms when the /_wait answers anyway */
    size_t field_len, url_len, ts_len, sig_len;
    char field[MAX_FIELD];
    char url[MAX_URL];
    char ts[MAX_TS];
    char sig[MAX_SIG];
    char *body; /* this request's body, max_body at most */
    size_t body_len, body_cap;
    char *out; /* responses not yet written */
    size_t out_len, out_cap;
};

struct stats {
    uint64_t requests, posts, distinct, dups, no_id, bad_sig, bad_req, failed, bytes;
    uint64_t target, fail_left;
    uint64_t mark_ns, first_ns, done_ns, last_ns; /* uv_hrtime(); 0: not yet */
    int64_t cpu_mark_us, cpu_done_us;
    uint32_t *lat; /* latency samples, microseconds */
    size_t lat_n;
    uint64_t lat_neg; /* t in the future: clocks disagree */
};

struct server {
    uv_loop_t *loop;
    uv_tcp_t listener;
    uv_timer_t wait_timer;
    uv_signal_t sigterm, sigint;
    struct conn *conns;
    struct stats st;
    uint8_t *seen; /* bitmap MAX_SLOTS x max_n */
    uint64_t max_n;
    size_t max_body;
    EVP_MAC_CTX *mac; /* keyed once with --secret; NULL: no check */
    char rbuf[READ_BUF];
};

static struct server S;

static int64_t cpu_us(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (int64_t)ru.ru_utime.tv_sec * 1000000 + ru.ru_utime.tv_usec +
           (int64_t)ru.ru_stime.tv_sec * 1000000 + ru.ru_stime.tv_usec;
}

static int64_t wall_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void die(const char *what)
{
    fprintf(stderr, "bench_receiver: %s\n", what);
    exit(2);
}

/* Appends n bytes to a growing buffer; exits on ENOMEM (a benchmark tool). */
static void grow_add(char **buf, size_t *len, size_t *cap, const char *p, size_t n)
{
    if (*len + n > *cap) {
        size_t c = *cap ? *cap : 4096;
        while (c < *len + n)
            c *= 2;
        char *b = realloc(*buf, c);
        if (!b)
            die("out of memory");
        *buf = b;
        *cap = c;
    }
    memcpy(*buf + *len, p, n);
    *len += n;
}

/* ---- counting ---- */

/* Parses a non-negative decimal at p (after optional blanks); -1 if none. */
static int64_t num_at(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    int64_t v = 0;
    int digits = 0;
    while (p < end && *p >= '0' && *p <= '9' && digits < 18) {
        v = v * 10 + (*p - '0');
        p++;
        digits++;
    }
    return digits ? v : -1;
}

/* The number after the first "key": in body, or -1. */
static int64_t find_num(const char *body, size_t len, const char *key, size_t klen)
{
    const char *end = body + len;
    const char *p = body;
    while ((size_t)(end - p) > klen) {
        const char *q = memchr(p, '"', (size_t)(end - p));
        if (!q || (size_t)(end - q) <= klen + 2)
            return -1;
        if (memcmp(q + 1, key, klen) == 0 && q[klen + 1] == '"') {
            const char *c = q + klen + 2;
            while (c < end && (*c == ' ' || *c == '\t'))
                c++;
            if (c < end && *c == ':')
                return num_at(c + 1, end);
        }
        p = q + 1;
    }
    return -1;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Twenty's signature: hex HMAC-SHA256(secret, ts ":" body). 1 when it matches. */
static int sig_ok(const struct conn *c)
{
    unsigned char mac[32], want[32];
    size_t mlen = 0;
    if (c->sig_len != 64 || c->ts_len == 0)
        return 0;
    for (int i = 0; i < 32; i++) {
        int hi = hexval(c->sig[2 * i]), lo = hexval(c->sig[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return 0;
        want[i] = (unsigned char)(hi << 4 | lo);
    }
    EVP_MAC_CTX *m = EVP_MAC_CTX_dup(S.mac);
    if (!m)
        die("EVP_MAC_CTX_dup");
    int ok = EVP_MAC_init(m, NULL, 0, NULL) && EVP_MAC_update(m, (const void *)c->ts, c->ts_len) &&
             EVP_MAC_update(m, (const unsigned char *)":", 1) &&
             EVP_MAC_update(m, (const void *)c->body, c->body_len) &&
             EVP_MAC_final(m, mac, &mlen, sizeof(mac));
    EVP_MAC_CTX_free(m);
    return ok && mlen == 32 && CRYPTO_memcmp(mac, want, 32) == 0;
}

static unsigned slot_of(const struct conn *c)
{
    if (c->url_len > 3 && memcmp(c->url, "/h/", 3) == 0) {
        unsigned k = 0;
        for (size_t i = 3; i < c->url_len && c->url[i] >= '0' && c->url[i] <= '9'; i++)
            k = k * 10 + (unsigned)(c->url[i] - '0');
        return k < MAX_SLOTS ? k : 0;
    }
    return 0;
}

static void answer_waiters(void);

/* Counts one POST; returns the response to send. */
static const char *count_post(struct conn *c)
{
    struct stats *st = &S.st;
    uint64_t now = uv_hrtime();
    st->posts++;
    st->bytes += c->body_len;
    if (!st->first_ns)
        st->first_ns = now;
    st->last_ns = now;
    if (S.mac && !sig_ok(c))
        st->bad_sig++;
    if (st->fail_left) {
        st->fail_left--;
        st->failed++;
        return RESP_500;
    }
    int64_t t = find_num(c->body, c->body_len, "t", 1);
    if (t > 0 && st->lat) {
        int64_t lat = wall_us() - t;
        if (lat < 0)
            st->lat_neg++;
        else if (st->lat_n < MAX_SAMPLES)
            st->lat[st->lat_n++] = lat > UINT32_MAX ? UINT32_MAX : (uint32_t)lat;
    }
    int64_t n = find_num(c->body, c->body_len, "n", 1);
    if (n < 0 || (uint64_t)n >= S.max_n) {
        st->no_id++;
        return RESP_200;
    }
    uint64_t bit = (uint64_t)slot_of(c) * S.max_n + (uint64_t)n;
    uint8_t mask = (uint8_t)(1u << (bit & 7));
    if (S.seen[bit >> 3] & mask) {
        st->dups++;
    } else {
        S.seen[bit >> 3] |= mask;
        st->distinct++;
        if (st->target && st->distinct == st->target) {
            st->done_ns = now;
            st->cpu_done_us = cpu_us();
            answer_waiters();
        }
    }
    return RESP_200;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* Milliseconds from the mark to t (0 when either is unknown). */
static double since_mark_ms(uint64_t t)
{
    if (!t || !S.st.mark_ns || t < S.st.mark_ns)
        return 0;
    return (double)(t - S.st.mark_ns) / 1e6;
}

/* The counters as one JSON object, into out (a growing buffer). */
static void stats_json(char **out, size_t *len, size_t *cap)
{
    struct stats *st = &S.st;
    uint32_t p50 = 0, p90 = 0, p99 = 0, pmax = 0;
    if (st->lat_n) {
        qsort(st->lat, st->lat_n, sizeof(*st->lat), cmp_u32);
        p50 = st->lat[(st->lat_n - 1) * 50 / 100];
        p90 = st->lat[(st->lat_n - 1) * 90 / 100];
        p99 = st->lat[(st->lat_n - 1) * 99 / 100];
        pmax = st->lat[st->lat_n - 1];
    }
    char j[1024];
    int n = snprintf(j, sizeof(j),
                     "{\"requests\":%" PRIu64 ",\"posts\":%" PRIu64 ",\"distinct\":%" PRIu64
                     ",\"dups\":%" PRIu64 ",\"no_id\":%" PRIu64 ",\"bad_sig\":%" PRIu64
                     ",\"bad_req\":%" PRIu64 ",\"failed\":%" PRIu64 ",\"body_bytes\":%" PRIu64
                     ",\"target\":%" PRIu64 ",\"done\":%s,\"first_ms\":%.3f,\"done_ms\":%.3f"
                     ",\"last_ms\":%.3f,\"cpu_us\":%" PRId64 ",\"cpu_mark_us\":%" PRId64
                     ",\"cpu_done_us\":%" PRId64 ",\"lat_n\":%zu,\"lat_neg\":%" PRIu64
                     ",\"lat_p50_us\":%u,\"lat_p90_us\":%u,\"lat_p99_us\":%u,\"lat_max_us\":%u}\n",
                     st->requests, st->posts, st->distinct, st->dups, st->no_id, st->bad_sig,
                     st->bad_req, st->failed, st->bytes, st->target, st->done_ns ? "true" : "false",
                     since_mark_ms(st->first_ns), since_mark_ms(st->done_ns),
                     since_mark_ms(st->last_ns), cpu_us(), st->cpu_mark_us, st->cpu_done_us,
                     st->lat_n, st->lat_neg, p50, p90, p99, pmax);
    char head[128];
    int h = snprintf(head, sizeof(head),
                     "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                     "Content-Length: %d\r\n\r\n",
                     n);
    grow_add(out, len, cap, head, (size_t)h);
    grow_add(out, len, cap, j, (size_t)n);
}

static void reset_stats(uint64_t target, uint64_t fail)
{
    uint32_t *lat = S.st.lat;
    memset(&S.st, 0, sizeof(S.st));
    S.st.lat = lat;
    S.st.target = target;
    S.st.fail_left = fail;
    memset(S.seen, 0, (size_t)(MAX_SLOTS * S.max_n / 8 + 1));
}

/* The value of name=... in the URL's query, or dflt. */
static uint64_t query_u64(const struct conn *c, const char *name, uint64_t dflt)
{
    const char *q = memchr(c->url, '?', c->url_len);
    size_t nl = strlen(name);
    const char *end = c->url + c->url_len;
    while (q && q < end) {
        q++;
        if ((size_t)(end - q) > nl && memcmp(q, name, nl) == 0 && q[nl] == '=') {
            int64_t v = num_at(q + nl + 1, end);
            return v < 0 ? dflt : (uint64_t)v;
        }
        q = memchr(q, '&', (size_t)(end - q));
    }
    return dflt;
}

static int path_is(const struct conn *c, const char *p)
{
    size_t n = strlen(p);
    return c->url_len >= n && memcmp(c->url, p, n) == 0 && (c->url_len == n || c->url[n] == '?');
}

/* ---- output ---- */

static void on_closed(uv_handle_t *h)
{
    struct conn *c = h->data;
    free(c->body);
    free(c->out);
    free(c);
}

static void conn_close(struct conn *c)
{
    if (c->closing)
        return;
    c->closing = 1;
    if (c->prev)
        c->prev->next = c->next;
    else
        S.conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    uv_close((uv_handle_t *)&c->tcp, on_closed);
}

struct wreq {
    uv_write_t req;
    struct conn *c;
    int close_after;
    char data[];
};

static void on_written(uv_write_t *req, int status)
{
    struct wreq *w = (struct wreq *)req;
    if ((status < 0 || w->close_after) && status != UV_ECANCELED)
        conn_close(w->c);
    free(w);
}

/* Writes what is buffered: try_write first, a queued write for the rest. */
static void flush_out(struct conn *c)
{
    if (c->closing || !c->out_len)
        return;
    uv_buf_t b = uv_buf_init(c->out, (unsigned)c->out_len);
    int n = uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
    if (n < 0 && n != UV_EAGAIN) {
        conn_close(c);
        return;
    }
    size_t done = n > 0 ? (size_t)n : 0;
    size_t rest = c->out_len - done;
    c->out_len = 0;
    if (rest == 0) {
        if (c->close_after)
            conn_close(c);
        return;
    }
    struct wreq *w = malloc(sizeof(*w) + rest);
    if (!w)
        die("out of memory");
    memcpy(w->data, c->out + done, rest);
    w->c = c;
    w->close_after = c->close_after;
    uv_buf_t wb = uv_buf_init(w->data, (unsigned)rest);
    if (uv_write(&w->req, (uv_stream_t *)&c->tcp, &wb, 1, on_written) != 0) {
        free(w);
        conn_close(c);
    }
}

static void answer_waiters(void)
{
    for (struct conn *c = S.conns; c; c = c->next) {
        if (!c->waiting)
            continue;
        c->waiting = 0;
        stats_json(&c->out, &c->out_len, &c->out_cap);
        flush_out(c);
    }
}

static void on_wait_timer(uv_timer_t *t)
{
    uint64_t now = uv_now(t->loop);
    for (struct conn *c = S.conns; c; c = c->next) {
        if (c->waiting && now >= c->wait_deadline) {
            c->waiting = 0;
            stats_json(&c->out, &c->out_len, &c->out_cap);
            flush_out(c);
        }
    }
}

/* ---- parsing ---- */

static int on_message_begin(http_parser *p)
{
    struct conn *c = p->data;
    c->url_len = c->field_len = c->ts_len = c->sig_len = c->body_len = 0;
    c->hdr = H_OTHER;
    c->in_value = 0;
    c->expect_continue = 0;
    return 0;
}

static int on_url(http_parser *p, const char *at, size_t len)
{
    struct conn *c = p->data;
    size_t room = MAX_URL - 1 - c->url_len;
    if (len > room)
        len = room;
    memcpy(c->url + c->url_len, at, len);
    c->url_len += len;
    return 0;
}

static int on_header_field(http_parser *p, const char *at, size_t len)
{
    struct conn *c = p->data;
    if (c->in_value) {
        c->in_value = 0;
        c->field_len = 0;
    }
    size_t room = MAX_FIELD - 1 - c->field_len;
    if (len > room)
        len = room;
    memcpy(c->field + c->field_len, at, len);
    c->field_len += len;
    return 0;
}

static enum hdr header_of(const struct conn *c)
{
    static const char TS[] = "x-twenty-webhook-timestamp", SIG[] = "x-twenty-webhook-signature",
                      EXP[] = "expect";
    if (c->field_len == sizeof(TS) - 1 && strncasecmp(c->field, TS, c->field_len) == 0)
        return H_TS;
    if (c->field_len == sizeof(SIG) - 1 && strncasecmp(c->field, SIG, c->field_len) == 0)
        return H_SIG;
    if (c->field_len == sizeof(EXP) - 1 && strncasecmp(c->field, EXP, c->field_len) == 0)
        return H_EXPECT;
    return H_OTHER;
}

static void add_capped(char *dst, size_t *dlen, size_t cap, const char *at, size_t len)
{
    size_t room = cap - 1 - *dlen;
    if (len > room)
        len = room;
    memcpy(dst + *dlen, at, len);
    *dlen += len;
}

static int on_header_value(http_parser *p, const char *at, size_t len)
{
    struct conn *c = p->data;
    if (!c->in_value) {
        c->in_value = 1;
        c->hdr = header_of(c);
    }
    if (c->hdr == H_TS)
        add_capped(c->ts, &c->ts_len, MAX_TS, at, len);
    else if (c->hdr == H_SIG)
        add_capped(c->sig, &c->sig_len, MAX_SIG, at, len);
    else if (c->hdr == H_EXPECT && len >= 3 && strncasecmp(at, "100", 3) == 0)
        c->expect_continue = 1;
    return 0;
}

static int on_headers_complete(http_parser *p)
{
    struct conn *c = p->data;
    if (p->content_length != ULLONG_MAX && p->content_length > S.max_body) {
        c->too_big = 1;
        return -1;
    }
    if (c->expect_continue)
        grow_add(&c->out, &c->out_len, &c->out_cap, RESP_100, sizeof(RESP_100) - 1);
    return 0;
}

static int on_body(http_parser *p, const char *at, size_t len)
{
    struct conn *c = p->data;
    if (c->body_len + len > S.max_body) {
        c->too_big = 1;
        return -1;
    }
    grow_add(&c->body, &c->body_len, &c->body_cap, at, len);
    return 0;
}

static int on_message_complete(http_parser *p)
{
    struct conn *c = p->data;
    const char *resp = RESP_404;
    S.st.requests++;
    if (p->method == HTTP_POST) {
        resp = count_post(c);
    } else if (p->method == HTTP_GET && path_is(c, "/_stats")) {
        stats_json(&c->out, &c->out_len, &c->out_cap);
        resp = NULL;
    } else if (p->method == HTTP_GET && path_is(c, "/_reset")) {
        reset_stats(query_u64(c, "target", 0), query_u64(c, "fail", 0));
        stats_json(&c->out, &c->out_len, &c->out_cap);
        resp = NULL;
    } else if (p->method == HTTP_GET && path_is(c, "/_mark")) {
        S.st.mark_ns = uv_hrtime();
        S.st.cpu_mark_us = cpu_us();
        stats_json(&c->out, &c->out_len, &c->out_cap);
        resp = NULL;
    } else if (p->method == HTTP_GET && path_is(c, "/_wait")) {
        if (S.st.done_ns || !S.st.target) {
            stats_json(&c->out, &c->out_len, &c->out_cap);
        } else {
            c->waiting = 1;
            c->wait_deadline = uv_now(S.loop) + query_u64(c, "timeout_ms", 60000);
        }
        resp = NULL;
    }
    if (resp)
        grow_add(&c->out, &c->out_len, &c->out_cap, resp, strlen(resp));
    if (!http_should_keep_alive(p))
        c->close_after = 1;
    return 0;
}

static const http_parser_settings SETTINGS = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

/* ---- connections ---- */

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)h;
    (void)suggested;
    *buf = uv_buf_init(S.rbuf, sizeof(S.rbuf));
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct conn *c = s->data;
    if (nread < 0) {
        conn_close(c);
        return;
    }
    if (nread == 0)
        return;
    size_t used = http_parser_execute(&c->parser, &SETTINGS, buf->base, (size_t)nread);
    if (c->parser.upgrade || used != (size_t)nread) {
        S.st.bad_req++;
        const char *r = c->too_big ? RESP_413 : RESP_400;
        grow_add(&c->out, &c->out_len, &c->out_cap, r, strlen(r));
        c->close_after = 1;
        uv_read_stop(s);
    }
    if (!c->waiting)
        flush_out(c);
}

static void on_connection(uv_stream_t *l, int status)
{
    if (status < 0)
        return;
    struct conn *c = calloc(1, sizeof(*c));
    if (!c)
        die("out of memory");
    uv_tcp_init(S.loop, &c->tcp);
    c->tcp.data = c;
    if (uv_accept(l, (uv_stream_t *)&c->tcp) != 0) {
        uv_close((uv_handle_t *)&c->tcp, on_closed);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    http_parser_init(&c->parser, HTTP_REQUEST);
    c->parser.data = c;
    c->next = S.conns;
    if (S.conns)
        S.conns->prev = c;
    S.conns = c;
    uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

static void on_signal(uv_signal_t *h, int signum)
{
    (void)signum;
    uv_stop(h->loop);
}

/* ---- main ---- */

static uint64_t arg_u64(const char *s, const char *name)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end || s[0] == '-') {
        fprintf(stderr, "bench_receiver: bad %s '%s'\n", name, s);
        exit(2);
    }
    return v;
}

static void setup_mac(const char *secret)
{
    EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    if (!mac || !(S.mac = EVP_MAC_CTX_new(mac)))
        die("HMAC unavailable");
    EVP_MAC_free(mac);
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, "SHA256", 0),
                           OSSL_PARAM_construct_end()};
    if (!EVP_MAC_init(S.mac, (const unsigned char *)secret, strlen(secret), params))
        die("HMAC init failed");
}

int main(int argc, char **argv)
{
    const char *host = "127.0.0.1", *port_file = NULL, *secret = NULL;
    uint64_t port = 0;
    S.max_n = 1u << 20;
    S.max_body = 1u << 20;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) {
            fprintf(stderr, "bench_receiver: %s needs a value\n", a);
            return 2;
        }
        if (!strcmp(a, "--host"))
            host = v;
        else if (!strcmp(a, "--port"))
            port = arg_u64(v, a);
        else if (!strcmp(a, "--port-file"))
            port_file = v;
        else if (!strcmp(a, "--secret"))
            secret = v;
        else if (!strcmp(a, "--max-n"))
            S.max_n = arg_u64(v, a);
        else if (!strcmp(a, "--max-body"))
            S.max_body = arg_u64(v, a);
        else {
            fprintf(stderr, "bench_receiver: unknown option %s\n", a);
            return 2;
        }
        i++;
    }
    if (port > 65535 || S.max_n == 0 || S.max_n > (1ull << 26) || S.max_body > (64u << 20))
        die("option out of range (port <= 65535, max-n 1..2^26, max-body <= 64 MiB)");
    if (secret && *secret)
        setup_mac(secret);
    if (!(S.seen = calloc(1, (size_t)(MAX_SLOTS * S.max_n / 8 + 1))) ||
        !(S.st.lat = malloc(MAX_SAMPLES * sizeof(uint32_t))))
        die("out of memory");
    signal(SIGPIPE, SIG_IGN);

    S.loop = uv_default_loop();
    struct sockaddr_in addr;
    if (uv_ip4_addr(host, (int)port, &addr) != 0)
        die("bad --host");
    uv_tcp_init(S.loop, &S.listener);
    int rc = uv_tcp_bind(&S.listener, (const struct sockaddr *)&addr, 0);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&S.listener, 1024, on_connection);
    if (rc != 0) {
        fprintf(stderr, "bench_receiver: listen %s:%" PRIu64 ": %s\n", host, port, uv_strerror(rc));
        return 1;
    }
    struct sockaddr_storage bound;
    int blen = sizeof(bound);
    uv_tcp_getsockname(&S.listener, (struct sockaddr *)&bound, &blen);
    int real_port = ntohs(((struct sockaddr_in *)&bound)->sin_port);
    if (port_file) {
        char tmp[4096];
        snprintf(tmp, sizeof(tmp), "%s.tmp", port_file);
        FILE *f = fopen(tmp, "w");
        if (!f || fprintf(f, "%d\n", real_port) < 0 || fclose(f) != 0 || rename(tmp, port_file))
            die("cannot write --port-file");
    }
    fprintf(stderr, "bench_receiver: listening on %s:%d\n", host, real_port);

    uv_timer_init(S.loop, &S.wait_timer);
    uv_timer_start(&S.wait_timer, on_wait_timer, 50, 50);
    uv_signal_init(S.loop, &S.sigterm);
    uv_signal_start(&S.sigterm, on_signal, SIGTERM);
    uv_signal_init(S.loop, &S.sigint);
    uv_signal_start(&S.sigint, on_signal, SIGINT);
    uv_run(S.loop, UV_RUN_DEFAULT);
    return 0;
}
