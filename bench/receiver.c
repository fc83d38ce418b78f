/* receiver.c - the benchmark's HTTP/1.1 receiver: fast, keep-alive, counting.
 *
 * One libuv loop, http-parser, no allocation per request once a connection's
 * buffers have grown. Every POST is a delivery: by default it is answered 200
 * with an empty body and counted: requests, distinct deliveries, bad
 * signatures, and the latency now - t where t is the enqueue time
 * (microseconds since the epoch) that the bench producers put in the event's
 * data (now is when the request arrived, also when the answer is delayed).
 *
 * A delivery is identified by (slot, n): slot is K from a path /h/K (0 for
 * any other path), n the "n" member of the body's data. So one event fanned
 * out to webhooks /h/0 .. /h/9 counts as ten distinct deliveries, and a
 * retried delivery counts once. Only a 2xx answer delivers: a delivery
 * answered 5xx (or any other non-2xx) is counted as an attempt, not as
 * distinct, dup or no_id, and its latency is not sampled.
 *
 * Modes, for scenarios with a slow, full, hanging or failing receiver:
 *   --delay-ms D     every delivery is answered D ms after it arrived
 *   --capacity C     a delivery arriving while C are in flight (received, not
 *                    yet answered) is answered 503 at once
 *   --retry-after S  every 503 and 429 answer carries "Retry-After: S"
 *   --hang           deliveries are read but never answered (control paths
 *                    still are); a hung delivery stays in flight until its
 *                    connection closes
 *   --status N       deliveries are answered N (200..599) instead of 200
 * A connection answers in order: while one of its responses is held (delayed,
 * hung, or a /_wait), what else it sends is buffered, not parsed.
 *
 * Control, on every port (GET):
 *   /_reset?target=N&fail=K  zero every counter; N distinct ends the run; the
 *                            next K POSTs are answered 500 (to exercise retries)
 *   /_mark                   the run starts now (time and own CPU are noted)
 *   /_stats                  counters as one JSON object
 *   /_wait?timeout_ms=T      the same object, once N distinct arrived or T ms passed
 *   /_status?code=N          deliveries are answered N from now on (as --status;
 *                            kept across /_reset); answers the JSON object
 *
 * Several ports (--port given more than once, or --ports P1-P2) share the one
 * loop and the one set of counters; --port-file gets every bound port, one a
 * line, in the order given.
 *
 * Usage: bench_receiver [--host 127.0.0.1] [--port 0]... [--ports P1-P2]
 *                       [--port-file F] [--secret S] [--max-n N] [--max-body BYTES]
 *                       [--delay-ms D] [--capacity C] [--retry-after S] [--hang]
 *                       [--status N] */
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
#define MAX_PORTS 1024
#define HELD_INPUT_MAX (4u << 20) /* bytes buffered behind a held response */
#define MAX_RESP 192

static const char RESP_404[] = "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n";
static const char RESP_413[] =
    "HTTP/1.1 413 Payload Too Large\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
static const char RESP_400[] =
    "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
static const char RESP_100[] = "HTTP/1.1 100 Continue\r\n\r\n";

enum hdr { H_OTHER, H_TS, H_SIG, H_EXPECT };

/* Why a connection's next response is held (its parser is paused meanwhile). */
enum held {
    HELD_NONE,  /* nothing held: the connection is parsed as it reads */
    HELD_DELAY, /* a delivery, answered when the connection's timer fires */
    HELD_HANG,  /* a delivery never answered (--hang) */
    HELD_WAIT,  /* a /_wait, answered once the target is reached or at its deadline */
    HELD_READY  /* the held response is queued; parsing resumes on the timer (0 ms) */
};

struct conn {
    uv_tcp_t tcp;             /* the connection */
    uv_timer_t timer;         /* fires when the held response is due (HELD_DELAY, HELD_READY) */
    http_parser parser;       /* paused while a response is held */
    struct conn *prev, *next; /* all open connections */
    int handles;              /* handles (tcp, timer) not yet closed; freed at 0 */
    enum hdr hdr;             /* header whose value is being read */
    enum held held;           /* why the next response is held, if it is */
    int in_value;             /* last callback was a header value */
    int expect_continue;      /* "Expect: 100-continue" seen */
    int too_big;              /* body over max_body: answer 413 and close */
    int close_after;          /* close once the output is written */
    int closing;              /* uv_close called */
    int reading;              /* uv_read_start in effect */
    uint64_t wait_deadline;   /* uv_now() ms when the /_wait answers anyway */
    int64_t post_t;           /* the current delivery's "t" (us since the epoch), -1: none */
    int64_t post_at_us;       /* wall_us() when it arrived (only when post_t > 0) */
    int64_t post_n;           /* its "n", -1: none */
    unsigned post_slot;       /* its slot (K of /h/K) */
    size_t field_len, url_len, ts_len, sig_len; /* bytes in field, url, ts, sig */
    char field[MAX_FIELD];                      /* header name being read */
    char url[MAX_URL];                          /* request target, truncated */
    char ts[MAX_TS];                            /* X-Twenty-Webhook-Timestamp */
    char sig[MAX_SIG];                          /* X-Twenty-Webhook-Signature */
    char *body;                                 /* this request's body, max_body at most */
    size_t body_len, body_cap;                  /* bytes in body, its allocation */
    char *out;                                  /* responses not yet written */
    size_t out_len, out_cap;                    /* bytes in out, its allocation */
    char *in;                                   /* input read behind a held response */
    size_t in_len, in_cap;                      /* bytes in in, its allocation */
};

struct stats {
    uint64_t requests;     /* every request, control paths included */
    uint64_t posts;        /* POSTs (deliveries), whatever their answer */
    uint64_t distinct;     /* distinct (slot, n) answered 2xx */
    uint64_t dups;         /* 2xx answers to a (slot, n) already delivered */
    uint64_t no_id;        /* 2xx answers to a body without a usable "n" */
    uint64_t bad_sig;      /* POSTs whose signature did not verify */
    uint64_t bad_req;      /* unparsable or too large requests (400/413, closed) */
    uint64_t failed;       /* POSTs answered 500 because of /_reset?fail=K */
    uint64_t bytes;        /* POST body bytes */
    uint64_t target;       /* distinct deliveries that end the run; 0: none */
    uint64_t fail_left;    /* POSTs still to answer 500 (fail=K) */
    uint64_t max_inflight; /* peak of S.inflight since the reset */
    uint64_t status_503;   /* deliveries answered 503 (over --capacity, or --status 503) */
    uint64_t status_5xx;   /* deliveries answered another 5xx (fail=K, --status) */
    uint64_t hung;         /* deliveries held for ever (--hang) */
    uint64_t mark_ns, first_ns, done_ns, last_ns; /* uv_hrtime(); 0: not yet */
    int64_t cpu_mark_us, cpu_done_us;             /* own CPU at the mark, at the target */
    uint32_t *lat;                                /* latency samples, microseconds */
    size_t lat_n;                                 /* samples in lat */
    uint64_t lat_neg;                             /* t in the future: clocks disagree */
};

struct server {
    uv_loop_t *loop;             /* the one loop */
    uv_tcp_t *listeners;         /* one per port */
    size_t nports;               /* listeners */
    uv_timer_t wait_timer;       /* checks the /_wait deadlines */
    uv_signal_t sigterm, sigint; /* either stops the loop */
    struct conn *conns;          /* all open connections */
    struct stats st;             /* the counters, zeroed by /_reset */
    uint64_t inflight;           /* deliveries received, not answered, connection open */
    uint8_t *seen;               /* bitmap MAX_SLOTS x max_n */
    uint64_t max_n;              /* n at or over it counts as no_id */
    size_t max_body;             /* larger bodies are answered 413 */
    uint64_t delay_ms;           /* --delay-ms; 0: answer at once */
    uint64_t capacity;           /* --capacity; UINT64_MAX: no limit */
    int64_t retry_after;         /* --retry-after seconds; -1: no header */
    int hang;                    /* --hang */
    int status;                  /* the answer to a delivery (--status, /_status) */
    char resp[MAX_RESP];         /* that answer, as sent */
    size_t resp_len;             /* bytes in resp */
    EVP_MAC_CTX *mac;            /* keyed once with --secret; NULL: no check */
    char rbuf[READ_BUF];         /* the one read buffer */
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
static void on_conn_timer(uv_timer_t *t);

/* The reason phrase for status code; a generic one for a code not listed. */
static const char *reason_of(int code)
{
    switch (code) {
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 202:
        return "Accepted";
    case 204:
        return "No Content";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 408:
        return "Request Timeout";
    case 410:
        return "Gone";
    case 413:
        return "Payload Too Large";
    case 429:
        return "Too Many Requests";
    case 500:
        return "Internal Server Error";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    default:
        return code < 300 ? "Success" : code < 500 ? "Client Error" : "Server Error";
    }
}

/* Writes the empty-bodied response with status code (100..999) into buf, cap
 * bytes, and returns its length. A 503 or 429 carries "Retry-After: S" when
 * --retry-after was given; a 204 has no Content-Length. Exits if it does not
 * fit, which MAX_RESP rules out. */
static size_t make_resp(char *buf, size_t cap, int code)
{
    char ra[48] = "";
    if ((code == 503 || code == 429) && S.retry_after >= 0) {
        int r = snprintf(ra, sizeof(ra), "Retry-After: %" PRId64 "\r\n", S.retry_after);
        if (r < 0 || (size_t)r >= sizeof(ra))
            die("Retry-After does not fit");
    }
    const char *cl = code == 204 ? "" : "Content-Length: 0\r\n";
    int n = snprintf(buf, cap, "HTTP/1.1 %d %s\r\n%s%s\r\n", code, reason_of(code), ra, cl);
    if (n < 0 || (size_t)n >= cap)
        die("response does not fit");
    return (size_t)n;
}

/* Deliveries are answered code (200..599) from now on. */
static void set_status(int code)
{
    S.status = code;
    S.resp_len = make_resp(S.resp, sizeof(S.resp), code);
}

/* Queues the answer code to a delivery on c and counts it if it is a 5xx. */
static void queue_answer(struct conn *c, int code)
{
    if (code == 503)
        S.st.status_503++;
    else if (code >= 500)
        S.st.status_5xx++;
    if (code == S.status) {
        grow_add(&c->out, &c->out_len, &c->out_cap, S.resp, S.resp_len);
        return;
    }
    char r[MAX_RESP];
    size_t n = make_resp(r, sizeof(r), code);
    grow_add(&c->out, &c->out_len, &c->out_cap, r, n);
}

/* Holds c's next response for why: c's parser pauses, so nothing c sends after
 * this request is parsed (or answered) before the hold ends. */
static void hold(struct conn *c, enum held why)
{
    c->held = why;
    http_parser_pause(&c->parser, 1);
}

/* Answers c's current delivery (it was received, now or --delay-ms ago) and
 * counts the answer: 500 while fail=K lasts, else S.status. Only a 2xx answer
 * delivers: it samples the latency and counts the delivery as distinct, dup
 * or no_id; reaching the target answers the /_wait requests. */
static void answer_post(struct conn *c)
{
    struct stats *st = &S.st;
    S.inflight--;
    int code = S.status;
    if (st->fail_left) {
        st->fail_left--;
        st->failed++;
        code = 500;
    }
    queue_answer(c, code);
    if (code < 200 || code > 299)
        return;
    if (c->post_t > 0 && st->lat) {
        int64_t lat = c->post_at_us - c->post_t;
        if (lat < 0)
            st->lat_neg++;
        else if (st->lat_n < MAX_SAMPLES)
            st->lat[st->lat_n++] = lat > UINT32_MAX ? UINT32_MAX : (uint32_t)lat;
    }
    if (c->post_n < 0 || (uint64_t)c->post_n >= S.max_n) {
        st->no_id++;
        return;
    }
    uint64_t bit = (uint64_t)c->post_slot * S.max_n + (uint64_t)c->post_n;
    uint8_t mask = (uint8_t)(1u << (bit & 7));
    if (S.seen[bit >> 3] & mask) {
        st->dups++;
    } else {
        S.seen[bit >> 3] |= mask;
        st->distinct++;
        if (st->target && st->distinct == st->target) {
            st->done_ns = uv_hrtime();
            st->cpu_done_us = cpu_us();
            answer_waiters();
        }
    }
}

/* A POST (a delivery) has arrived on c: counts it as an attempt and answers
 * it, or holds it. Over --capacity it is answered 503 at once; otherwise it is
 * in flight until answered: never (--hang), on c's timer (--delay-ms), or now.
 * What the answer needs of the request is noted in c, so the hold does not
 * depend on c's buffers. */
static void receive_post(struct conn *c)
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
    if (S.inflight >= S.capacity) {
        queue_answer(c, 503);
        return;
    }
    c->post_t = find_num(c->body, c->body_len, "t", 1);
    c->post_at_us = c->post_t > 0 ? wall_us() : 0;
    c->post_n = find_num(c->body, c->body_len, "n", 1);
    c->post_slot = slot_of(c);
    if (++S.inflight > st->max_inflight)
        st->max_inflight = S.inflight;
    if (S.hang) {
        st->hung++;
        hold(c, HELD_HANG);
    } else if (S.delay_ms) {
        hold(c, HELD_DELAY);
        uv_timer_start(&c->timer, on_conn_timer, S.delay_ms, 0);
    } else {
        answer_post(c);
    }
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
    char j[2048];
    int n = snprintf(j, sizeof(j),
                     "{\"requests\":%" PRIu64 ",\"posts\":%" PRIu64 ",\"distinct\":%" PRIu64
                     ",\"dups\":%" PRIu64 ",\"no_id\":%" PRIu64 ",\"bad_sig\":%" PRIu64
                     ",\"bad_req\":%" PRIu64 ",\"failed\":%" PRIu64 ",\"body_bytes\":%" PRIu64
                     ",\"target\":%" PRIu64 ",\"done\":%s,\"first_ms\":%.3f,\"done_ms\":%.3f"
                     ",\"last_ms\":%.3f,\"cpu_us\":%" PRId64 ",\"cpu_mark_us\":%" PRId64
                     ",\"cpu_done_us\":%" PRId64 ",\"lat_n\":%zu,\"lat_neg\":%" PRIu64
                     ",\"lat_p50_us\":%u,\"lat_p90_us\":%u,\"lat_p99_us\":%u,\"lat_max_us\":%u"
                     ",\"attempts\":%" PRIu64 ",\"inflight\":%" PRIu64 ",\"max_inflight\":%" PRIu64
                     ",\"status_503\":%" PRIu64 ",\"status_5xx\":%" PRIu64 ",\"hung\":%" PRIu64
                     ",\"status\":%d}\n",
                     st->requests, st->posts, st->distinct, st->dups, st->no_id, st->bad_sig,
                     st->bad_req, st->failed, st->bytes, st->target, st->done_ns ? "true" : "false",
                     since_mark_ms(st->first_ns), since_mark_ms(st->done_ns),
                     since_mark_ms(st->last_ns), cpu_us(), st->cpu_mark_us, st->cpu_done_us,
                     st->lat_n, st->lat_neg, p50, p90, p99, pmax, st->posts, S.inflight,
                     st->max_inflight, st->status_503, st->status_5xx, st->hung, S.status);
    if (n < 0 || (size_t)n >= sizeof(j))
        die("stats do not fit");
    char head[128];
    int h = snprintf(head, sizeof(head),
                     "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                     "Content-Length: %d\r\n\r\n",
                     n);
    if (h < 0 || (size_t)h >= sizeof(head))
        die("stats header does not fit");
    grow_add(out, len, cap, head, (size_t)h);
    grow_add(out, len, cap, j, (size_t)n);
}

/* Zeroes the counters (not the modes, nor what is in flight: max_inflight
 * starts from the current inflight) and sets the next run's target and fail. */
static void reset_stats(uint64_t target, uint64_t fail)
{
    uint32_t *lat = S.st.lat;
    memset(&S.st, 0, sizeof(S.st));
    S.st.lat = lat;
    S.st.target = target;
    S.st.fail_left = fail;
    S.st.max_inflight = S.inflight;
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
    if (--c->handles > 0)
        return;
    free(c->body);
    free(c->out);
    free(c->in);
    free(c);
}

/* Closes c (both handles; c is freed once they are closed). A delivery held on
 * c is no longer in flight: it will never be answered. */
static void conn_close(struct conn *c)
{
    if (c->closing)
        return;
    c->closing = 1;
    if (c->held == HELD_DELAY || c->held == HELD_HANG)
        S.inflight--;
    c->held = HELD_NONE;
    if (c->prev)
        c->prev->next = c->next;
    else
        S.conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    uv_close((uv_handle_t *)&c->tcp, on_closed);
    uv_close((uv_handle_t *)&c->timer, on_closed);
}

struct wreq {
    uv_write_t req;
    struct conn *c;  /* the connection written to */
    int close_after; /* close c once this is written */
    char data[];     /* the bytes written */
};

static void on_written(uv_write_t *req, int status)
{
    struct wreq *w = (struct wreq *)req;
    if ((status < 0 || w->close_after) && status != UV_ECANCELED)
        conn_close(w->c);
    free(w);
}

/* Writes what is buffered: try_write first, a queued write for the rest. A
 * connection to close after its output is closed only once no response is
 * held on it any more. */
static void flush_out(struct conn *c)
{
    if (c->closing || !c->out_len)
        return;
    int close_after = c->close_after && c->held == HELD_NONE;
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
        if (close_after)
            conn_close(c);
        return;
    }
    struct wreq *w = malloc(sizeof(*w) + rest);
    if (!w)
        die("out of memory");
    memcpy(w->data, c->out + done, rest);
    w->c = c;
    w->close_after = close_after;
    uv_buf_t wb = uv_buf_init(w->data, (unsigned)rest);
    if (uv_write(&w->req, (uv_stream_t *)&c->tcp, &wb, 1, on_written) != 0) {
        free(w);
        conn_close(c);
    }
}

/* Answers the /_wait held on c with the counters; c goes on parsing from its
 * timer (0 ms), not from within whatever called this. */
static void answer_wait(struct conn *c)
{
    stats_json(&c->out, &c->out_len, &c->out_cap);
    c->held = HELD_READY;
    flush_out(c);
    if (!c->closing)
        uv_timer_start(&c->timer, on_conn_timer, 0, 0);
}

static void answer_waiters(void)
{
    for (struct conn *c = S.conns; c; c = c->next)
        if (c->held == HELD_WAIT)
            answer_wait(c);
}

static void on_wait_timer(uv_timer_t *t)
{
    uint64_t now = uv_now(t->loop);
    for (struct conn *c = S.conns; c; c = c->next)
        if (c->held == HELD_WAIT && now >= c->wait_deadline)
            answer_wait(c);
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
        receive_post(c);
        resp = NULL;
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
            hold(c, HELD_WAIT);
            c->wait_deadline = uv_now(S.loop) + query_u64(c, "timeout_ms", 60000);
        }
        resp = NULL;
    } else if (p->method == HTTP_GET && path_is(c, "/_status")) {
        uint64_t code = query_u64(c, "code", 0);
        if (code >= 200 && code <= 599) {
            set_status((int)code);
            stats_json(&c->out, &c->out_len, &c->out_cap);
            resp = NULL;
        } else {
            resp = RESP_400;
            c->close_after = 1;
        }
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

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);

static void start_reading(struct conn *c)
{
    if (!c->reading && uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) == 0)
        c->reading = 1;
}

static void stop_reading(struct conn *c)
{
    if (c->reading)
        uv_read_stop((uv_stream_t *)&c->tcp);
    c->reading = 0;
}

/* Parses n bytes at p for c and returns how many it consumed: fewer than n
 * only when a response got held (the parser is paused; the caller keeps the
 * rest in c->in). Bad input queues a 400 (413 when too large), closes c after
 * it and counts as consumed. */
static size_t feed(struct conn *c, const char *p, size_t n)
{
    size_t used = http_parser_execute(&c->parser, &SETTINGS, p, n);
    if (HTTP_PARSER_ERRNO(&c->parser) == HPE_PAUSED)
        return used;
    if (c->parser.upgrade || used != n) {
        S.st.bad_req++;
        const char *r = c->too_big ? RESP_413 : RESP_400;
        grow_add(&c->out, &c->out_len, &c->out_cap, r, strlen(r));
        c->close_after = 1;
        stop_reading(c);
    }
    return n;
}

/* Ends c's hold: parses what arrived meanwhile (which may hold c again),
 * writes, and reads again unless c is held or to be closed. */
static void conn_resume(struct conn *c)
{
    if (c->closing)
        return;
    c->held = HELD_NONE;
    http_parser_pause(&c->parser, 0);
    if (c->close_after) {
        c->in_len = 0;
    } else if (c->in_len) {
        size_t used = feed(c, c->in, c->in_len);
        memmove(c->in, c->in + used, c->in_len - used);
        c->in_len -= used;
    }
    flush_out(c);
    if (c->held == HELD_NONE && !c->close_after && !c->closing)
        start_reading(c);
}

/* c's timer: a delayed delivery is due (answer it), or a /_wait was answered;
 * either way c goes on with what it sent since. */
static void on_conn_timer(uv_timer_t *t)
{
    struct conn *c = t->data;
    if (c->closing)
        return;
    if (c->held == HELD_DELAY) {
        c->held = HELD_READY;
        answer_post(c);
    }
    conn_resume(c);
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
    if (c->held != HELD_NONE) {
        /* Behind a held response: kept for later, read on (to see EOF) up to a cap. */
        grow_add(&c->in, &c->in_len, &c->in_cap, buf->base, (size_t)nread);
        if (c->in_len >= HELD_INPUT_MAX)
            stop_reading(c);
        return;
    }
    size_t used = feed(c, buf->base, (size_t)nread);
    if (used < (size_t)nread)
        grow_add(&c->in, &c->in_len, &c->in_cap, buf->base + used, (size_t)nread - used);
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
    uv_timer_init(S.loop, &c->timer);
    c->tcp.data = c;
    c->timer.data = c;
    c->handles = 2;
    if (uv_accept(l, (uv_stream_t *)&c->tcp) != 0) {
        uv_close((uv_handle_t *)&c->tcp, on_closed);
        uv_close((uv_handle_t *)&c->timer, on_closed);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    http_parser_init(&c->parser, HTTP_REQUEST);
    c->parser.data = c;
    c->next = S.conns;
    if (S.conns)
        S.conns->prev = c;
    S.conns = c;
    start_reading(c);
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

/* Adds port p to ports (n of them so far); exits when there are too many. */
static void add_port(uint64_t *ports, size_t *n, uint64_t p)
{
    if (p > 65535)
        die("port out of range (0..65535)");
    if (*n >= MAX_PORTS)
        die("too many ports");
    ports[(*n)++] = p;
}

/* Adds the ports of the range "P1-P2" (1 <= P1 <= P2 <= 65535, inclusive). */
static void add_range(uint64_t *ports, size_t *n, const char *s)
{
    const char *dash = strchr(s, '-');
    char lo_s[16];
    size_t lo_len = dash ? (size_t)(dash - s) : 0;
    if (!dash || lo_len == 0 || lo_len >= sizeof(lo_s)) {
        fprintf(stderr, "bench_receiver: bad --ports '%s' (P1-P2)\n", s);
        exit(2);
    }
    memcpy(lo_s, s, lo_len);
    lo_s[lo_len] = '\0';
    uint64_t lo = arg_u64(lo_s, "--ports"), hi = arg_u64(dash + 1, "--ports");
    if (lo == 0 || lo > hi || hi > 65535) {
        fprintf(stderr, "bench_receiver: bad --ports '%s' (1 <= P1 <= P2 <= 65535)\n", s);
        exit(2);
    }
    if (hi - lo + 1 > MAX_PORTS - *n)
        die("too many ports");
    for (uint64_t p = lo; p <= hi; p++)
        add_port(ports, n, p);
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
    static uint64_t ports[MAX_PORTS];
    size_t nports = 0;
    uint64_t status = 200;
    S.max_n = 1u << 20;
    S.max_body = 1u << 20;
    S.capacity = UINT64_MAX;
    S.retry_after = -1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--hang")) {
            S.hang = 1;
            continue;
        }
        if (!v) {
            fprintf(stderr, "bench_receiver: %s needs a value\n", a);
            return 2;
        }
        if (!strcmp(a, "--host"))
            host = v;
        else if (!strcmp(a, "--port"))
            add_port(ports, &nports, arg_u64(v, a));
        else if (!strcmp(a, "--ports"))
            add_range(ports, &nports, v);
        else if (!strcmp(a, "--port-file"))
            port_file = v;
        else if (!strcmp(a, "--secret"))
            secret = v;
        else if (!strcmp(a, "--max-n"))
            S.max_n = arg_u64(v, a);
        else if (!strcmp(a, "--max-body"))
            S.max_body = arg_u64(v, a);
        else if (!strcmp(a, "--delay-ms"))
            S.delay_ms = arg_u64(v, a);
        else if (!strcmp(a, "--capacity"))
            S.capacity = arg_u64(v, a);
        else if (!strcmp(a, "--retry-after")) {
            uint64_t ra = arg_u64(v, a);
            if (ra > 1000000000)
                die("--retry-after out of range (<= 10^9 s)");
            S.retry_after = (int64_t)ra;
        } else if (!strcmp(a, "--status"))
            status = arg_u64(v, a);
        else {
            fprintf(stderr, "bench_receiver: unknown option %s\n", a);
            return 2;
        }
        i++;
    }
    if (nports == 0)
        add_port(ports, &nports, 0);
    if (S.max_n == 0 || S.max_n > (1ull << 26) || S.max_body > (64u << 20) ||
        S.delay_ms > 86400000 || status < 200 || status > 599)
        die("option out of range (max-n 1..2^26, max-body <= 64 MiB, delay-ms <= 86400000, "
            "status 200..599)");
    set_status((int)status);
    if (secret && *secret)
        setup_mac(secret);
    if (!(S.seen = calloc(1, (size_t)(MAX_SLOTS * S.max_n / 8 + 1))) ||
        !(S.st.lat = malloc(MAX_SAMPLES * sizeof(uint32_t))) ||
        !(S.listeners = calloc(nports, sizeof(*S.listeners))))
        die("out of memory");
    S.nports = nports;
    signal(SIGPIPE, SIG_IGN);

    S.loop = uv_default_loop();
    FILE *pf = NULL;
    char tmp[4096];
    if (port_file) {
        int t = snprintf(tmp, sizeof(tmp), "%s.tmp", port_file);
        if (t < 0 || (size_t)t >= sizeof(tmp) || !(pf = fopen(tmp, "w")))
            die("cannot write --port-file");
    }
    for (size_t i = 0; i < nports; i++) {
        struct sockaddr_in addr;
        if (uv_ip4_addr(host, (int)ports[i], &addr) != 0)
            die("bad --host");
        uv_tcp_init(S.loop, &S.listeners[i]);
        int rc = uv_tcp_bind(&S.listeners[i], (const struct sockaddr *)&addr, 0);
        if (rc == 0)
            rc = uv_listen((uv_stream_t *)&S.listeners[i], 1024, on_connection);
        if (rc != 0) {
            fprintf(stderr, "bench_receiver: listen %s:%" PRIu64 ": %s\n", host, ports[i],
                    uv_strerror(rc));
            return 1;
        }
        struct sockaddr_storage bound;
        int blen = sizeof(bound);
        uv_tcp_getsockname(&S.listeners[i], (struct sockaddr *)&bound, &blen);
        int real_port = ntohs(((struct sockaddr_in *)&bound)->sin_port);
        if (pf && fprintf(pf, "%d\n", real_port) < 0)
            die("cannot write --port-file");
        fprintf(stderr, "bench_receiver: listening on %s:%d\n", host, real_port);
    }
    if (pf && (fclose(pf) != 0 || rename(tmp, port_file) != 0))
        die("cannot write --port-file");

    uv_timer_init(S.loop, &S.wait_timer);
    uv_timer_start(&S.wait_timer, on_wait_timer, 50, 50);
    uv_signal_init(S.loop, &S.sigterm);
    uv_signal_start(&S.sigterm, on_signal, SIGTERM);
    uv_signal_init(S.loop, &S.sigint);
    uv_signal_start(&S.sigint, on_signal, SIGINT);
    uv_run(S.loop, UV_RUN_DEFAULT);
    return 0;
}
