/* httpd.h - a tiny HTTP/1.1 server on a libuv loop, for the metrics thread.
 *
 * Only what /metrics, /healthz and /readyz need: GET, keep-alive, pipelined
 * requests answered one at a time, in order. Requests are parsed by
 * http-parser. Caps: a request head over HOOKD_HTTPD_HEAD_MAX bytes gets 431
 * and the connection is closed; a body over HOOKD_HTTPD_BODY_MAX gets 413 and
 * close; a method other than GET gets 405 and close; a malformed request 400
 * and close. At most HOOKD_HTTPD_CONN_MAX connections are open (more are
 * accepted and closed at once); a connection that takes longer than
 * HOOKD_HTTPD_TIMEOUT_MS to send a whole request, or to take a response, is
 * closed. */
#ifndef HOOKD_HTTPD_H
#define HOOKD_HTTPD_H

#include <stddef.h>
#include <sys/socket.h>

#include "hookd/common.h"

#define HOOKD_HTTPD_HEAD_MAX 8192        /* request line and headers, bytes */
#define HOOKD_HTTPD_BODY_MAX 8192        /* request body, bytes (read and dropped) */
#define HOOKD_HTTPD_REPLY_MAX (4u << 20) /* response body, bytes */
#define HOOKD_HTTPD_CONN_MAX 64          /* open connections */
#define HOOKD_HTTPD_TIMEOUT_MS 5000      /* per request, and per response write */
#define HOOKD_HTTPD_ADDR_MAX 300         /* "host:port" text, bytes */

/* The answer to one GET, filled in by the handler. */
struct hookd_httpd_reply {
    int status;               /* set to 200 before the call */
    const char *content_type; /* static text; "text/plain; charset=utf-8" before the call */
    struct hookd_buf body;    /* empty, capped at HOOKD_HTTPD_REPLY_MAX; the handler appends */
};

/* Answers a GET of path: the request target's path, without query or
 * fragment, NUL-terminated, at most HOOKD_HTTPD_HEAD_MAX bytes, as sent (no
 * percent-decoding). Returns 0, or a negative HOOKD_E* code to answer 500. */
typedef int (*hookd_httpd_handler)(void *arg, const char *path, struct hookd_httpd_reply *reply);

/* ---- One connection's protocol, without sockets (what the fuzzer drives) ---- */

struct hookd_httpd_session; /* opaque */

enum hookd_httpd_step {
    HOOKD_HTTPD_MORE = 0,  /* every byte was consumed and no response is due: read more */
    HOOKD_HTTPD_REPLY = 1, /* a response was appended to out: send it, then feed the rest */
    HOOKD_HTTPD_CLOSE = 2, /* a last response was appended to out: send it, then close */
};

/* A session that answers GETs with handler(arg, ...). NULL when out of memory. */
struct hookd_httpd_session *hookd_httpd_session_new(hookd_httpd_handler handler, void *arg);
void hookd_httpd_session_free(struct hookd_httpd_session *s);

/* Feeds n received bytes. Parsing stops after the first response, so that
 * the caller sends responses in order and one at a time: *used says how
 * many bytes were consumed, and the caller feeds data + *used again once the
 * response is sent. On CLOSE, *used is n: what follows a last response is
 * dropped. Returns a hookd_httpd_step, or HOOKD_ENOMEM / HOOKD_ETOOBIG when
 * out cannot take the response (close the connection). After CLOSE or an
 * error, every feed returns CLOSE, consumes nothing and adds nothing. */
int hookd_httpd_session_feed(struct hookd_httpd_session *s, const char *data, size_t n,
                             size_t *used, struct hookd_buf *out);

/* ---- Addresses ---- */

/* Splits "host:port" or "[ipv6]:port" (at most HOOKD_HTTPD_ADDR_MAX bytes)
 * into host (hostsz bytes, brackets removed) and a port from 1 to 65535.
 * The host is an IPv4 or bracketed IPv6 literal, or a hostname of letters,
 * digits, '-', '.' and '_'. Returns 0 or HOOKD_EINVAL with the reason. */
int hookd_httpd_addr_split(const char *text, char *host, size_t hostsz, int *port, char *errbuf);

/* Splits text as above and resolves it (getaddrinfo; literals need no DNS)
 * into out. Returns 0 or HOOKD_EINVAL with the reason. */
int hookd_httpd_addr_resolve(const char *text, struct sockaddr_storage *out, char *errbuf);

/* ---- The server ---- */

struct uv_loop_s;
struct hookd_httpd; /* opaque */

/* Listens on addr (text as for hookd_httpd_addr_split) on loop and answers
 * GETs with handler(arg, ...), on the loop's thread. Fails with HOOKD_EINVAL
 * (bad address) or HOOKD_EIO (cannot listen), with the reason in errbuf; on
 * failure a handle may still be closing: run the loop before closing it. */
int hookd_httpd_start(struct uv_loop_s *loop, const char *addr, hookd_httpd_handler handler,
                      void *arg, struct hookd_httpd **out, char *errbuf);

/* The port the server listens on (useful when addr asked for port 0 in
 * tests; addr_split refuses 0, hookd_httpd_start_sockaddr takes it). */
int hookd_httpd_port(const struct hookd_httpd *srv);

/* The same as hookd_httpd_start, on an address already resolved. */
int hookd_httpd_start_sockaddr(struct uv_loop_s *loop, const struct sockaddr *sa,
                               hookd_httpd_handler handler, void *arg, struct hookd_httpd **out,
                               char *errbuf);

/* Stops listening and closes every connection, on the loop's thread. The
 * server frees itself once the loop has run the close callbacks. */
void hookd_httpd_close(struct hookd_httpd *srv);

#endif
