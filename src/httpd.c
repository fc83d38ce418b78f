/* httpd.c - a tiny HTTP/1.1 server on a libuv loop (see httpd.h).
 *
 * The protocol lives in a session that turns received bytes into response
 * bytes and knows nothing of sockets; the server around it reads, feeds,
 * writes one response at a time, and enforces the connection cap and the
 * timeouts. A connection closed after a response is shut down for writing
 * first and drained for a moment (a "lingering close"), so that unread
 * request bytes do not turn the close into a reset that loses the response. */
#include "hookd/httpd.h"

#include <arpa/inet.h>
#include <http_parser.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#define LINGER_MS 2000
#define BACKLOG 128
#define TEXT_PLAIN "text/plain; charset=utf-8"

/* ---- session ---- */

struct hookd_httpd_session {
    http_parser p;
    hookd_httpd_handler handler;
    void *arg;
    struct hookd_buf *out;              /* where responses go during a feed */
    int step;                           /* hookd_httpd_step decided by the callbacks */
    int err;                            /* a failed append to out, during a feed */
    int headers_done;                   /* the current request's head is complete */
    size_t head_bytes;                  /* bytes of the current head fed so far */
    size_t body_bytes;                  /* bytes of the current body seen so far */
    size_t url_len;                     /* bytes in url */
    char url[HOOKD_HTTPD_HEAD_MAX + 1]; /* the request target, NUL-terminated */
};

static const char *reason_phrase(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 400:
        return "Bad Request";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 413:
        return "Content Too Large";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 503:
        return "Service Unavailable";
    }
    return status >= 500 ? "Server Error" : status >= 400 ? "Client Error" : "OK";
}

/* Appends one whole response to s->out and records the step (REPLY or
 * CLOSE) that the feed returns. A failed append is kept in s->err. */
static void put_response(struct hookd_httpd_session *s, int status, const char *content_type,
                         const char *body, size_t len, int close)
{
    size_t before = s->out->len;
    int rc = hookd_buf_addf(s->out,
                            "HTTP/1.1 %d %s\r\n"
                            "Content-Type: %s\r\n"
                            "Content-Length: %zu\r\n"
                            "Cache-Control: no-store\r\n"
                            "%s"
                            "Connection: %s\r\n\r\n",
                            status, reason_phrase(status), content_type, len,
                            status == 405 ? "Allow: GET\r\n" : "", close ? "close" : "keep-alive");
    if (rc == 0 && len)
        rc = hookd_buf_add(s->out, body, len);
    if (rc != 0) {
        s->out->len = before;
        if (s->out->data)
            s->out->data[before] = '\0';
        s->err = rc;
    }
    s->step = close ? HOOKD_HTTPD_CLOSE : HOOKD_HTTPD_REPLY;
}

/* Answers an error with a short text body and closes; stops the parser. */
static void put_error(struct hookd_httpd_session *s, int status, const char *text)
{
    put_response(s, status, TEXT_PLAIN, text, strlen(text), 1);
    http_parser_pause(&s->p, 1);
}

static int on_message_begin(http_parser *p)
{
    struct hookd_httpd_session *s = p->data;
    s->url_len = 0;
    s->url[0] = '\0';
    s->body_bytes = 0;
    return 0;
}

static int on_url(http_parser *p, const char *at, size_t len)
{
    struct hookd_httpd_session *s = p->data;
    if (len > sizeof(s->url) - 1 - s->url_len) {
        /* Cannot happen: the url is part of the head, which is capped. */
        put_error(s, 431, "request head too large\n");
        return 0;
    }
    memcpy(s->url + s->url_len, at, len);
    s->url_len += len;
    s->url[s->url_len] = '\0';
    return 0;
}

static int on_headers_complete(http_parser *p)
{
    struct hookd_httpd_session *s = p->data;
    s->headers_done = 1;
    if (p->method != HTTP_GET)
        put_error(s, 405, "method not allowed\n");
    return 0;
}

static int on_body(http_parser *p, const char *at, size_t len)
{
    struct hookd_httpd_session *s = p->data;
    (void)at;
    s->body_bytes += len;
    if (s->body_bytes > HOOKD_HTTPD_BODY_MAX)
        put_error(s, 413, "request body too large\n");
    return 0;
}

/* Extracts the path of the request target into path (HOOKD_HTTPD_HEAD_MAX
 * + 1 bytes): origin-form "/a?b" gives "/a", absolute-form
 * "http://h/a?b" gives "/a" ("/" when it has no path). -1 when malformed,
 * or when the path does not start with '/' (asterisk-form "*"). */
static int target_path(const char *url, size_t len, char *path)
{
    struct http_parser_url u;
    http_parser_url_init(&u);
    if (len == 0 || http_parser_parse_url(url, len, 0, &u) != 0)
        return -1;
    if (!(u.field_set & (1 << UF_PATH))) {
        memcpy(path, "/", 2);
        return 0;
    }
    size_t off = u.field_data[UF_PATH].off, n = u.field_data[UF_PATH].len;
    if (n == 0 || off + n > len || n > HOOKD_HTTPD_HEAD_MAX || url[off] != '/' ||
        memchr(url + off, '\0', n))
        return -1;
    memcpy(path, url + off, n);
    path[n] = '\0';
    return 0;
}

static int on_message_complete(http_parser *p)
{
    struct hookd_httpd_session *s = p->data;
    char path[HOOKD_HTTPD_HEAD_MAX + 1];
    int keep = http_should_keep_alive(p) && !p->upgrade;

    s->headers_done = 0;
    s->head_bytes = 0;
    http_parser_pause(p, 1);
    if (target_path(s->url, s->url_len, path) != 0) {
        put_response(s, 400, TEXT_PLAIN, "bad request target\n", 19, 1);
        return 0;
    }
    struct hookd_httpd_reply r = {.status = 200, .content_type = TEXT_PLAIN};
    hookd_buf_init(&r.body, HOOKD_HTTPD_REPLY_MAX);
    if (s->handler(s->arg, path, &r) != 0 || r.status < 200 || r.status > 599)
        put_response(s, 500, TEXT_PLAIN, "internal error\n", 15, !keep);
    else
        put_response(s, r.status, r.content_type ? r.content_type : TEXT_PLAIN, r.body.data,
                     r.body.len, !keep);
    hookd_buf_free(&r.body);
    return 0;
}

static const http_parser_settings SETTINGS = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

struct hookd_httpd_session *hookd_httpd_session_new(hookd_httpd_handler handler, void *arg)
{
    struct hookd_httpd_session *s = malloc(sizeof(*s));
    if (!s)
        return NULL;
    memset(s, 0, offsetof(struct hookd_httpd_session, url) + 1);
    http_parser_init(&s->p, HTTP_REQUEST);
    s->p.data = s;
    s->handler = handler;
    s->arg = arg;
    return s;
}

void hookd_httpd_session_free(struct hookd_httpd_session *s)
{
    free(s);
}

int hookd_httpd_session_feed(struct hookd_httpd_session *s, const char *data, size_t n,
                             size_t *used, struct hookd_buf *out)
{
    *used = 0;
    if (s->step == HOOKD_HTTPD_CLOSE)
        return HOOKD_HTTPD_CLOSE;
    s->out = out;
    s->step = HOOKD_HTTPD_MORE;
    s->err = 0;
    while (*used < n && s->step == HOOKD_HTTPD_MORE) {
        size_t chunk = n - *used;
        if (!s->headers_done) {
            size_t room = HOOKD_HTTPD_HEAD_MAX - s->head_bytes;
            if (room == 0) {
                const char *t = "request head too large\n";
                put_response(s, 431, TEXT_PLAIN, t, strlen(t), 1);
                break;
            }
            if (chunk > room)
                chunk = room;
        }
        size_t k = http_parser_execute(&s->p, &SETTINGS, data + *used, chunk);
        enum http_errno e = HTTP_PARSER_ERRNO(&s->p);
        *used += k;
        if (s->step == HOOKD_HTTPD_MORE && !s->headers_done)
            s->head_bytes += k;
        if (e == HPE_PAUSED) {
            http_parser_pause(&s->p, 0);
        } else if (e != HPE_OK) {
            if (s->step == HOOKD_HTTPD_MORE)
                put_response(s, e == HPE_HEADER_OVERFLOW ? 431 : 400, TEXT_PLAIN, "bad request\n",
                             12, 1);
        } else if (k < chunk && s->step == HOOKD_HTTPD_MORE) {
            put_response(s, 400, TEXT_PLAIN, "bad request\n", 12, 1); /* stopped early */
        }
    }
    s->out = NULL;
    if (s->step == HOOKD_HTTPD_CLOSE)
        *used = n; /* nothing after a last response is read */
    if (s->err) {
        s->step = HOOKD_HTTPD_CLOSE;
        return s->err;
    }
    return s->step;
}

/* ---- addresses ---- */

int hookd_httpd_addr_split(const char *text, char *host, size_t hostsz, int *port, char *errbuf)
{
    size_t len = strnlen(text, HOOKD_HTTPD_ADDR_MAX + 1);
    const char *h, *colon;
    size_t hlen;
    int64_t p;

    if (len > HOOKD_HTTPD_ADDR_MAX)
        return hookd_fail(errbuf, HOOKD_EINVAL, "address longer than %d bytes",
                          HOOKD_HTTPD_ADDR_MAX);
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
    if (hookd_parse_i64(colon + 1, 1, 65535, &p) != 0)
        return hookd_fail(errbuf, HOOKD_EINVAL, "address '%s': want a port from 1 to 65535", text);
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    *port = (int)p;
    return 0;
}

int hookd_httpd_addr_resolve(const char *text, struct sockaddr_storage *out, char *errbuf)
{
    char host[256], port_s[8];
    int port, rc;
    struct addrinfo hints, *res = NULL;

    if ((rc = hookd_httpd_addr_split(text, host, sizeof(host), &port, errbuf)) != 0)
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

/* ---- server ---- */

struct conn {
    uv_tcp_t tcp;
    uv_timer_t timer; /* request, write and linger deadline */
    uv_write_t wreq;
    uv_shutdown_t sreq;
    struct hookd_httpd *srv;
    struct conn *prev, *next; /* the server's open connections */
    struct hookd_httpd_session *sess;
    char *wdata;       /* the response being written */
    size_t roff, rlen; /* unfed bytes are rbuf[roff, rlen) */
    int open_handles;  /* handles not yet closed (tcp, timer) */
    int writing;       /* a response write is in flight */
    int close_after;   /* the response being written is the last */
    int lingering;     /* shut down: reading only until EOF */
    int closing;       /* conn_close() was called */
    char rbuf[HOOKD_HTTPD_HEAD_MAX];
};

struct hookd_httpd {
    uv_tcp_t listener;
    hookd_httpd_handler handler;
    void *arg;
    struct conn *conns; /* open connections */
    int nconns;         /* connections not yet freed */
    int listener_open;  /* the listener is not yet closed */
    int closing;        /* hookd_httpd_close() was called */
};

static void conn_process(struct conn *c);

static void srv_maybe_free(struct hookd_httpd *srv)
{
    if (srv->closing && !srv->listener_open && srv->nconns == 0)
        free(srv);
}

static void on_conn_handle_closed(uv_handle_t *h)
{
    struct conn *c = h->data;
    if (--c->open_handles > 0)
        return;
    struct hookd_httpd *srv = c->srv;
    free(c->wdata);
    hookd_httpd_session_free(c->sess);
    free(c);
    srv->nconns--;
    srv_maybe_free(srv);
}

static void conn_close(struct conn *c)
{
    if (c->closing)
        return;
    c->closing = 1;
    if (c->prev)
        c->prev->next = c->next;
    else
        c->srv->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    uv_close((uv_handle_t *)&c->tcp, on_conn_handle_closed);
    uv_close((uv_handle_t *)&c->timer, on_conn_handle_closed);
}

static void on_timeout(uv_timer_t *t)
{
    conn_close(t->data);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct conn *c = h->data;
    (void)suggested;
    *buf = uv_buf_init(c->rbuf, sizeof(c->rbuf));
}

static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
    struct conn *c = st->data;
    (void)buf;
    if (nread < 0) {
        conn_close(c);
        return;
    }
    if (nread == 0 || c->lingering)
        return;
    c->roff = 0;
    c->rlen = (size_t)nread;
    conn_process(c);
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
    struct conn *c = req->data;
    if (status < 0)
        conn_close(c);
}

static void on_write(uv_write_t *req, int status)
{
    struct conn *c = req->data;
    free(c->wdata);
    c->wdata = NULL;
    c->writing = 0;
    if (c->closing)
        return;
    if (status < 0) {
        conn_close(c);
        return;
    }
    if (c->close_after) {
        /* Lingering close: FIN now, drop what the client still sends. */
        c->lingering = 1;
        c->sreq.data = c;
        if (uv_shutdown(&c->sreq, (uv_stream_t *)&c->tcp, on_shutdown) != 0 ||
            uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) != 0) {
            conn_close(c);
            return;
        }
        uv_timer_start(&c->timer, on_timeout, LINGER_MS, 0);
        return;
    }
    uv_timer_start(&c->timer, on_timeout, HOOKD_HTTPD_TIMEOUT_MS, 0);
    conn_process(c);
}

/* Sends the response in out (taking its memory); reading pauses until the
 * write is done. */
static void conn_send(struct conn *c, struct hookd_buf *out, int last)
{
    size_t len;
    uv_read_stop((uv_stream_t *)&c->tcp);
    c->wdata = hookd_buf_steal(out, &len);
    c->writing = 1;
    c->close_after = last;
    c->wreq.data = c;
    uv_buf_t b = uv_buf_init(c->wdata, (unsigned int)len);
    uv_timer_start(&c->timer, on_timeout, HOOKD_HTTPD_TIMEOUT_MS, 0);
    if (uv_write(&c->wreq, (uv_stream_t *)&c->tcp, &b, 1, on_write) != 0) {
        free(c->wdata);
        c->wdata = NULL;
        c->writing = 0;
        conn_close(c);
    }
}

/* Feeds the unfed bytes to the session until a response is due or all are
 * consumed; reads more when all are. */
static void conn_process(struct conn *c)
{
    while (!c->writing && !c->closing && c->roff < c->rlen) {
        struct hookd_buf out;
        size_t used;
        hookd_buf_init(&out, HOOKD_HTTPD_REPLY_MAX + 1024);
        int st =
            hookd_httpd_session_feed(c->sess, c->rbuf + c->roff, c->rlen - c->roff, &used, &out);
        c->roff += used;
        if (st < 0) {
            hookd_buf_free(&out);
            conn_close(c);
            return;
        }
        if (st == HOOKD_HTTPD_MORE)
            hookd_buf_free(&out);
        else
            conn_send(c, &out, st == HOOKD_HTTPD_CLOSE);
    }
    if (c->writing || c->closing)
        return;
    c->roff = c->rlen = 0;
    if (uv_is_active((uv_handle_t *)&c->tcp))
        return; /* still reading: uv_read_start() would fail with EALREADY */
    if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) != 0)
        conn_close(c);
}

static void on_refused_closed(uv_handle_t *h)
{
    free(h);
}

/* Accepts a connection over the cap and closes it at once. */
static void refuse(uv_stream_t *listener)
{
    uv_tcp_t *t = malloc(sizeof(*t));
    if (!t)
        return;
    uv_tcp_init(listener->loop, t);
    (void)uv_accept(listener, (uv_stream_t *)t);
    uv_close((uv_handle_t *)t, on_refused_closed);
}

static void on_connection(uv_stream_t *listener, int status)
{
    struct hookd_httpd *srv = listener->data;
    if (status < 0 || srv->closing)
        return;
    if (srv->nconns >= HOOKD_HTTPD_CONN_MAX) {
        refuse(listener);
        return;
    }
    struct conn *c = malloc(sizeof(*c));
    if (!c) {
        refuse(listener);
        return;
    }
    memset(c, 0, offsetof(struct conn, rbuf));
    c->srv = srv;
    if (!(c->sess = hookd_httpd_session_new(srv->handler, srv->arg))) {
        free(c);
        refuse(listener);
        return;
    }
    uv_tcp_init(listener->loop, &c->tcp);
    uv_timer_init(listener->loop, &c->timer);
    c->tcp.data = c->timer.data = c;
    c->open_handles = 2;
    srv->nconns++;
    c->next = srv->conns;
    if (srv->conns)
        srv->conns->prev = c;
    srv->conns = c;
    if (uv_accept(listener, (uv_stream_t *)&c->tcp) != 0) {
        conn_close(c);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    uv_timer_start(&c->timer, on_timeout, HOOKD_HTTPD_TIMEOUT_MS, 0);
    conn_process(c);
}

static void on_listener_closed(uv_handle_t *h)
{
    struct hookd_httpd *srv = h->data;
    srv->listener_open = 0;
    srv_maybe_free(srv);
}

/* Formats sa as "1.2.3.4:80" or "[::1]:80" into out (64 bytes). */
static void sockaddr_text(const struct sockaddr *sa, char out[64])
{
    char ip[INET6_ADDRSTRLEN] = "?";
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *a6 = (const struct sockaddr_in6 *)sa;
        inet_ntop(AF_INET6, &a6->sin6_addr, ip, sizeof(ip));
        snprintf(out, 64, "[%s]:%u", ip, ntohs(a6->sin6_port));
    } else {
        const struct sockaddr_in *a4 = (const struct sockaddr_in *)sa;
        inet_ntop(AF_INET, &a4->sin_addr, ip, sizeof(ip));
        snprintf(out, 64, "%s:%u", ip, ntohs(a4->sin_port));
    }
}

int hookd_httpd_start_sockaddr(struct uv_loop_s *loop, const struct sockaddr *sa,
                               hookd_httpd_handler handler, void *arg, struct hookd_httpd **out,
                               char *errbuf)
{
    char where[64];
    int rc;
    struct hookd_httpd *srv = calloc(1, sizeof(*srv));
    if (!srv)
        return hookd_fail(errbuf, HOOKD_ENOMEM, "out of memory");
    srv->handler = handler;
    srv->arg = arg;
    sockaddr_text(sa, where);
    if ((rc = uv_tcp_init(loop, &srv->listener)) != 0) {
        free(srv);
        return hookd_fail(errbuf, HOOKD_EIO, "cannot listen on %s: %s", where, uv_strerror(rc));
    }
    srv->listener.data = srv;
    srv->listener_open = 1;
    if ((rc = uv_tcp_bind(&srv->listener, sa, 0)) == 0)
        rc = uv_listen((uv_stream_t *)&srv->listener, BACKLOG, on_connection);
    if (rc != 0) {
        srv->closing = 1;
        uv_close((uv_handle_t *)&srv->listener, on_listener_closed);
        return hookd_fail(errbuf, HOOKD_EIO, "cannot listen on %s: %s", where, uv_strerror(rc));
    }
    *out = srv;
    return 0;
}

int hookd_httpd_start(struct uv_loop_s *loop, const char *addr, hookd_httpd_handler handler,
                      void *arg, struct hookd_httpd **out, char *errbuf)
{
    struct sockaddr_storage ss;
    int rc = hookd_httpd_addr_resolve(addr, &ss, errbuf);
    if (rc != 0)
        return rc;
    return hookd_httpd_start_sockaddr(loop, (const struct sockaddr *)&ss, handler, arg, out,
                                      errbuf);
}

int hookd_httpd_port(const struct hookd_httpd *srv)
{
    struct sockaddr_storage ss;
    int len = sizeof(ss);
    if (uv_tcp_getsockname(&srv->listener, (struct sockaddr *)&ss, &len) != 0)
        return -1;
    if (ss.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

void hookd_httpd_close(struct hookd_httpd *srv)
{
    if (srv->closing)
        return;
    srv->closing = 1;
    uv_close((uv_handle_t *)&srv->listener, on_listener_closed);
    while (srv->conns)
        conn_close(srv->conns);
}
