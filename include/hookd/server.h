/* server.h - hookd's HTTP server: libmicrohttpd underneath, a route table on
 * top.
 *
 * One server listens on one address and answers the routes it was given;
 * main.c starts one for --metrics-addr and one for --api-addr, or one for
 * both when they are the same address. libmicrohttpd runs its own threads
 * (epoll, a small pool): handlers run there, never on a delivery loop, and
 * may block (a synchronous Redis round trip); they must be thread-safe.
 *
 * Limits that keep the server answering under a flood (a slowloris of idle
 * connections, a client that never reads): a connection idle for
 * HOOKD_SERVER_IDLE_S is closed; at most HOOKD_SERVER_CONN_MAX connections
 * are open, and at most HOOKD_SERVER_PER_IP_MAX from one client address; a
 * request body over HOOKD_SERVER_BODY_MAX gets 413 and is not read. */
#ifndef HOOKD_SERVER_H
#define HOOKD_SERVER_H

#include <stddef.h>

#include "hookd/common.h"

#define HOOKD_SERVER_BODY_MAX (4u << 20)   /* request body, bytes */
#define HOOKD_SERVER_REPLY_MAX (16u << 20) /* response body, bytes */
#define HOOKD_SERVER_CONN_MAX 1024         /* open connections */
#define HOOKD_SERVER_PER_IP_MAX 32         /* open connections from one client address */
#define HOOKD_SERVER_IDLE_S 10             /* seconds a connection may stay idle */
#define HOOKD_SERVER_PARAMS_MAX 4          /* {name} segments in one route pattern */
#define HOOKD_SERVER_TOKEN_MAX 1024        /* bytes of the API token */

/* One request, as a handler sees it. Every pointer lives until the handler
 * returns. */
struct hookd_request {
    const char *method;                          /* "GET", "POST", ... */
    const char *path;                            /* percent-decoded, without the query */
    const char *params[HOOKD_SERVER_PARAMS_MAX]; /* the {name} segments, in pattern order */
    const char *body;                            /* NUL-terminated; "" when there is none */
    size_t body_len;                             /* bytes of body */
    void *conn;                                  /* the server's own; for the accessors */
};

/* The value of query argument name (percent-decoded), or NULL. */
const char *hookd_request_query(const struct hookd_request *r, const char *name);
/* The value of request header name (any case), or NULL. */
const char *hookd_request_header(const struct hookd_request *r, const char *name);

/* The answer, filled in by the handler. */
struct hookd_response {
    int status;               /* 200 before the call */
    const char *content_type; /* static text; "application/json" before the call */
    const char *location;     /* static or owned by arg; a Location header when not NULL */
    struct hookd_buf body;    /* empty, capped at HOOKD_SERVER_REPLY_MAX; the handler appends */
};

/* Replaces r's body with an RFC 9457 problem document
 * ({"type","title","status","detail"}, application/problem+json) for
 * status, the detail formatted from fmt. Returns 0 or HOOKD_ENOMEM. */
int hookd_response_problem(struct hookd_response *r, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Answers one request. Returns 0 (the response is sent as filled), or a
 * negative HOOKD_E* code to answer a 500 problem. */
typedef int (*hookd_route_fn)(void *arg, const struct hookd_request *req,
                              struct hookd_response *resp);

/* One row of a route table. */
struct hookd_route {
    const char *method;  /* "GET", "POST", "PUT", "PATCH", "DELETE" */
    const char *pattern; /* "/v1/webhooks/{id}"; "{name}" matches one segment; a pattern
                            ending in "/..." matches any rest (static files) */
    hookd_route_fn fn;   /* the handler */
    void *arg;           /* passed to fn */
    int auth;            /* 1: needs "Authorization: Bearer <token>" */
};

/* What a server listens on and whom it lets in. */
struct hookd_server_opts {
    const char *addr;  /* "host:port" or "[v6]:port"; port 0 picks one (tests) */
    const char *token; /* the bearer token for auth routes; NULL refuses them all (401) */
    size_t token_len;  /* bytes of token */
};

struct hookd_server; /* opaque */

/* Finds the route for method and path (percent-decoded, without the query)
 * among routes[0..n): the first row whose pattern matches path and whose
 * method is method (HEAD matches GET). Returns 200 with *found set and the
 * {name} segments' offsets and lengths in path in off[0..*nparams) and
 * len[]; 405 when only rows of other methods match, with *allow a mask of
 * their methods (bit 0 GET, then POST, PUT, PATCH, DELETE); else 404. Pure:
 * the server calls it for each request, and fuzz/fuzz_server.c drives it. */
int hookd_server_match(const struct hookd_route *routes, size_t n, const char *method,
                       const char *path, size_t off[HOOKD_SERVER_PARAMS_MAX],
                       size_t len[HOOKD_SERVER_PARAMS_MAX], size_t *nparams,
                       const struct hookd_route **found, unsigned *allow);

/* Listens on opts->addr and answers routes[0..n) (the table must outlive the
 * server); a path no route matches gets 404, a path matched with another
 * method 405, both as problems. An auth route without the token, or with
 * another (compared in constant time), gets 401. Returns 0, or HOOKD_EINVAL
 * (bad address) / HOOKD_EIO (cannot listen) with the reason in errbuf. */
int hookd_server_start(const struct hookd_server_opts *opts, const struct hookd_route *routes,
                       size_t n, struct hookd_server **out, char *errbuf);

/* The port it listens on. */
int hookd_server_port(const struct hookd_server *s);

/* Stops listening, waits for the handlers running, and frees s. */
void hookd_server_stop(struct hookd_server *s);

#endif
