/* server.c - hookd's HTTP server: a route table on libmicrohttpd (see
 * server.h).
 *
 * libmicrohttpd parses HTTP, keeps the connections and enforces the
 * connection caps and the idle timeout; this file picks the route, checks
 * the bearer token, collects the body within its cap and turns a handler's
 * hookd_response into an MHD response. The listening socket is made here,
 * not by libmicrohttpd, so that a failure to bind says why (errno) without
 * libmicrohttpd printing anything.
 *
 * Threads: libmicrohttpd's own (SERVER_THREADS, each an epoll loop over its
 * share of the connections). A handler that blocks holds up only the
 * connections of its thread, and only for as long as it blocks. */
#include "hookd/server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "hookd/net.h"

#define SERVER_THREADS 4          /* libmicrohttpd's thread pool */
#define SERVER_BACKLOG 128        /* listen(2) backlog */
#define SERVER_MEMORY (16u << 10) /* per connection: request head and read buffer */
#define PROBLEM_DETAIL_MAX 512    /* bytes of a problem's detail */
#define TOKEN_HASH SHA256_DIGEST_LENGTH

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

struct hookd_server {
    struct MHD_Daemon *daemon;        /* NULL once stopped */
    const struct hookd_route *routes; /* the caller's table, outliving the server */
    size_t nroutes;                   /* rows of routes */
    unsigned char token[TOKEN_HASH];  /* SHA-256 of the bearer token */
    int has_token;                    /* 0: auth routes answer 401 to everyone */
    int port;                         /* the port bound */
};

/* One request's state between libmicrohttpd's calls, freed when it
 * completes. */
struct req {
    const struct hookd_route *route;             /* the route that answers */
    char *work;                                  /* copy of the path, params cut out in it */
    const char *params[HOOKD_SERVER_PARAMS_MAX]; /* into work */
    struct hookd_buf body;                       /* the request body, capped */
    int too_big;                                 /* the body went past the cap */
    int answered;                                /* a response is queued */
};

/* ---- statuses and problems ---- */

static const struct {
    int status;
    const char *title;
} STATUS_TITLES[] = {
    {200, "OK"},
    {201, "Created"},
    {202, "Accepted"},
    {204, "No Content"},
    {400, "Bad Request"},
    {401, "Unauthorized"},
    {403, "Forbidden"},
    {404, "Not Found"},
    {405, "Method Not Allowed"},
    {409, "Conflict"},
    {410, "Gone"},
    {412, "Precondition Failed"},
    {413, "Content Too Large"},
    {415, "Unsupported Media Type"},
    {422, "Unprocessable Content"},
    {429, "Too Many Requests"},
    {500, "Internal Server Error"},
    {502, "Bad Gateway"},
    {503, "Service Unavailable"},
    {504, "Gateway Timeout"},
};

/* The reason phrase of status, or a generic one by class. */
static const char *status_title(int status)
{
    for (size_t i = 0; i < NELEM(STATUS_TITLES); i++)
        if (STATUS_TITLES[i].status == status)
            return STATUS_TITLES[i].title;
    return status >= 500 ? "Server Error" : "Client Error";
}

int hookd_response_problem(struct hookd_response *r, int status, const char *fmt, ...)
{
    char detail[PROBLEM_DETAIL_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof(detail), fmt, ap);
    va_end(ap);
    /* JSON wants UTF-8: anything else (or a sequence cut by the cap) is '?' */
    size_t n = strlen(detail);
    for (size_t i = 0; i < n;) {
        size_t k = hookd_utf8_seq_len((const unsigned char *)detail + i, n - i);
        if (k == 0 || (unsigned char)detail[i] < 0x20) {
            detail[i++] = '?';
            continue;
        }
        i += k;
    }
    json_t *o = json_pack("{s:s, s:s, s:i, s:s}", "type", "about:blank", "title",
                          status_title(status), "status", status, "detail", detail);
    char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (!text)
        return HOOKD_ENOMEM;
    hookd_buf_reset(&r->body);
    int rc = hookd_buf_adds(&r->body, text);
    free(text);
    if (rc)
        return rc;
    r->status = status;
    r->content_type = "application/problem+json";
    return 0;
}

/* ---- routes ---- */

/* The methods a route table may name, for matching and the Allow header. */
static const char *const METHODS[] = {"GET", "POST", "PUT", "PATCH", "DELETE"};

/* The number of {name} segments when pattern matches path, else -1; their
 * offsets and lengths in path go to off[] and len[] in order. A pattern is "/"-separated segments,
 * each literal or "{name}" (one non-empty segment), and may end in "/..."
 * (nothing more, or "/" and anything). */
static int pattern_match(const char *pat, const char *path, size_t off[], size_t len[])
{
    const char *s = path;
    int np = 0;
    for (;;) {
        if (strcmp(pat, "/...") == 0)
            return *s == '\0' || *s == '/' ? np : -1;
        if (*pat == '\0')
            return *s == '\0' ? np : -1;
        if (*pat != '/' || *s != '/')
            return -1;
        pat++, s++;
        size_t plen = strcspn(pat, "/"), slen = strcspn(s, "/");
        if (plen >= 2 && pat[0] == '{' && pat[plen - 1] == '}') {
            if (slen == 0 || np == HOOKD_SERVER_PARAMS_MAX)
                return -1;
            off[np] = (size_t)(s - path);
            len[np] = slen;
            np++;
        } else if (plen != slen || memcmp(pat, s, plen) != 0) {
            return -1;
        }
        pat += plen;
        s += slen;
    }
}

int hookd_server_match(const struct hookd_route *routes, size_t n, const char *method,
                       const char *path, size_t off[HOOKD_SERVER_PARAMS_MAX],
                       size_t len[HOOKD_SERVER_PARAMS_MAX], size_t *nparams,
                       const struct hookd_route **found, unsigned *allow)
{
    const char *m = strcmp(method, "HEAD") == 0 ? "GET" : method;
    *found = NULL;
    *allow = 0;
    *nparams = 0;
    for (size_t i = 0; i < n; i++) {
        size_t o[HOOKD_SERVER_PARAMS_MAX], l[HOOKD_SERVER_PARAMS_MAX];
        int np = pattern_match(routes[i].pattern, path, o, l);
        if (np < 0)
            continue;
        if (strcmp(routes[i].method, m) == 0) {
            memcpy(off, o, (size_t)np * sizeof(o[0]));
            memcpy(len, l, (size_t)np * sizeof(l[0]));
            *nparams = (size_t)np;
            *found = &routes[i];
            return 200;
        }
        for (size_t k = 0; k < NELEM(METHODS); k++)
            if (strcmp(routes[i].method, METHODS[k]) == 0)
                *allow |= 1u << k;
    }
    return *allow ? 405 : 404;
}

/* Writes the methods of allow (a hookd_server_match mask) as an Allow
 * header value into out (outsz bytes); GET brings HEAD. */
static void allow_text(unsigned allow, char *out, size_t outsz)
{
    size_t used = 0;
    out[0] = '\0';
    for (size_t k = 0; k < NELEM(METHODS); k++) {
        if (!(allow & (1u << k)))
            continue;
        int w = snprintf(out + used, outsz - used, "%s%s%s", used ? ", " : "", METHODS[k],
                         k == 0 ? ", HEAD" : "");
        if (w < 0 || (size_t)w >= outsz - used)
            return;
        used += (size_t)w;
    }
}

/* ---- the request's accessors ---- */

const char *hookd_request_query(const struct hookd_request *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
}

const char *hookd_request_header(const struct hookd_request *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

/* ---- answering ---- */

/* Extra headers of one answer; NULL for none. */
struct extra {
    const char *location; /* Location */
    const char *allow;    /* Allow (405) */
    int challenge;        /* WWW-Authenticate: Bearer (401) */
};

/* Queues resp's body (taken from it) with its status and headers. */
static enum MHD_Result send_response(struct MHD_Connection *conn, struct req *q,
                                     struct hookd_response *resp, const struct extra *x)
{
    size_t len;
    char *data = hookd_buf_steal(&resp->body, &len);
    if (!data)
        return MHD_NO;
    struct MHD_Response *m = MHD_create_response_from_buffer(len, data, MHD_RESPMEM_MUST_FREE);
    if (!m) {
        free(data);
        return MHD_NO;
    }
    MHD_add_response_header(m, MHD_HTTP_HEADER_CONTENT_TYPE, resp->content_type);
    MHD_add_response_header(m, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    MHD_add_response_header(m, "X-Content-Type-Options", "nosniff");
    if (x && x->location)
        MHD_add_response_header(m, MHD_HTTP_HEADER_LOCATION, x->location);
    if (x && x->allow)
        MHD_add_response_header(m, MHD_HTTP_HEADER_ALLOW, x->allow);
    if (x && x->challenge)
        MHD_add_response_header(m, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
    enum MHD_Result ok = MHD_queue_response(conn, (unsigned)resp->status, m);
    MHD_destroy_response(m);
    if (q)
        q->answered = ok == MHD_YES;
    return ok;
}

/* Queues a problem document for status; a bodiless answer of the same
 * status when even that cannot be built. */
static enum MHD_Result send_problem(struct MHD_Connection *conn, struct req *q, int status,
                                    const struct extra *x, const char *detail)
{
    struct hookd_response r = {.status = status, .content_type = "application/problem+json"};
    hookd_buf_init(&r.body, HOOKD_SERVER_REPLY_MAX);
    hookd_response_problem(&r, status, "%s", detail);
    return send_response(conn, q, &r, x);
}

/* 1 when the Authorization header carries "Bearer <the token>". Both sides
 * are hashed first, so that the comparison takes the same time whatever the
 * length or content of what was sent. */
static int auth_ok(const struct hookd_server *s, struct MHD_Connection *conn)
{
    const char *h = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
    if (!s->has_token || !h || strncasecmp(h, "Bearer ", 7) != 0)
        return 0;
    const char *t = h + 7;
    while (*t == ' ')
        t++;
    unsigned char got[TOKEN_HASH];
    SHA256((const unsigned char *)t, strlen(t), got);
    return CRYPTO_memcmp(got, s->token, TOKEN_HASH) == 0;
}

/* 1 when the request declares a body longer than the cap. */
static int declared_too_big(struct MHD_Connection *conn)
{
    const char *cl =
        MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    int64_t n;
    if (!cl)
        return 0;
    /* libmicrohttpd refuses a malformed length itself; one too large to
     * parse is over the cap all the same */
    return hookd_parse_i64(cl, 0, INT64_MAX, &n) != 0 || n > (int64_t)HOOKD_SERVER_BODY_MAX;
}

/* The first call for a request (its head is in): picks the route, checks
 * the token and the declared length, and answers at once when one fails. */
static enum MHD_Result on_head(struct hookd_server *s, struct MHD_Connection *conn, struct req *q,
                               const char *url, const char *method)
{
    size_t off[HOOKD_SERVER_PARAMS_MAX], len[HOOKD_SERVER_PARAMS_MAX], np;
    unsigned allow;
    int st =
        hookd_server_match(s->routes, s->nroutes, method, url, off, len, &np, &q->route, &allow);
    if (st == 404)
        return send_problem(conn, q, 404, NULL, "no such resource");
    if (st == 405) {
        char methods[64];
        allow_text(allow, methods, sizeof(methods));
        struct extra x = {.allow = methods};
        return send_problem(conn, q, 405, &x, "this resource does not take that method");
    }
    if (q->route->auth && !auth_ok(s, conn)) {
        struct extra x = {.challenge = 1};
        return send_problem(conn, q, 401, &x,
                            s->has_token ? "an Authorization: Bearer token is needed"
                                         : "this server has no API token set: every API route "
                                           "answers 401");
    }
    if (declared_too_big(conn))
        return send_problem(conn, q, 413, NULL, "the request body is over the server's cap");
    if (!(q->work = strdup(url)))
        return MHD_NO;
    /* segments are separated by '/': cutting each param there leaves the
     * others whole */
    for (size_t i = 0; i < np; i++) {
        q->work[off[i] + len[i]] = '\0';
        q->params[i] = q->work + off[i];
    }
    return MHD_YES;
}

/* The last call (the whole body is in): runs the handler and sends what it
 * filled in. */
static enum MHD_Result on_complete(struct MHD_Connection *conn, struct req *q, const char *url,
                                   const char *method)
{
    if (q->too_big)
        return send_problem(conn, q, 413, NULL, "the request body is over the server's cap");
    struct hookd_request rq = {.method = method,
                               .path = url,
                               .body = q->body.data ? q->body.data : "",
                               .body_len = q->body.len,
                               .conn = conn};
    memcpy(rq.params, q->params, sizeof(rq.params));
    struct hookd_response resp = {.status = 200, .content_type = "application/json"};
    hookd_buf_init(&resp.body, HOOKD_SERVER_REPLY_MAX);
    int rc = q->route->fn(q->route->arg, &rq, &resp);
    if (rc != 0) {
        hookd_buf_free(&resp.body);
        return send_problem(conn, q, 500, NULL, hookd_strerror(rc));
    }
    struct extra x = {.location = resp.location};
    return send_response(conn, q, &resp, &x);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    (void)version;
    struct hookd_server *s = cls;
    struct req *q = *con_cls;
    if (!q) {
        if (!(q = calloc(1, sizeof(*q))))
            return MHD_NO;
        hookd_buf_init(&q->body, HOOKD_SERVER_BODY_MAX);
        *con_cls = q;
        return on_head(s, conn, q, url, method);
    }
    if (*upload_data_size) {
        if (!q->answered && !q->too_big &&
            hookd_buf_add(&q->body, upload_data, *upload_data_size) != 0) {
            /* a chunked body (no length declared) past the cap: answer now
             * when libmicrohttpd lets us, else close */
            q->too_big = 1;
            hookd_buf_free(&q->body);
            *upload_data_size = 0;
            return send_problem(conn, q, 413, NULL, "the request body is over the server's cap");
        }
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (q->answered)
        return MHD_YES;
    return on_complete(conn, q, url, method);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls, (void)conn, (void)toe;
    struct req *q = *con_cls;
    if (!q)
        return;
    hookd_buf_free(&q->body);
    free(q->work);
    free(q);
    *con_cls = NULL;
}

/* ---- the server ---- */

/* A listening socket on ss (described by text for errors); -1 and the
 * reason in errbuf on failure. */
static int listen_on(const struct sockaddr_storage *ss, const char *text, char *errbuf)
{
    socklen_t len =
        ss->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
    int fd = socket(ss->ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    int one = 1;
    if (fd < 0) {
        hookd_fail(errbuf, HOOKD_EIO, "cannot listen on %s: %s", text, strerror(errno));
        return -1;
    }
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (ss->ss_family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    if (bind(fd, (const struct sockaddr *)ss, len) != 0 || listen(fd, SERVER_BACKLOG) != 0) {
        int e = errno;
        close(fd);
        hookd_fail(errbuf, HOOKD_EIO, "cannot listen on %s: %s", text, strerror(e));
        return -1;
    }
    return fd;
}

/* The port fd is bound to, or -1. */
static int bound_port(int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
        return -1;
    if (ss.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

int hookd_server_start(const struct hookd_server_opts *opts, const struct hookd_route *routes,
                       size_t n, struct hookd_server **out, char *errbuf)
{
    struct sockaddr_storage ss;
    int rc = hookd_net_addr_resolve(opts->addr, 1, &ss, errbuf);
    if (rc)
        return rc;
    struct hookd_server *s = calloc(1, sizeof(*s));
    if (!s)
        return hookd_fail(errbuf, HOOKD_ENOMEM, "out of memory");
    s->routes = routes;
    s->nroutes = n;
    if (opts->token) {
        SHA256((const unsigned char *)opts->token, opts->token_len, s->token);
        s->has_token = 1;
    }
    int fd = listen_on(&ss, opts->addr, errbuf);
    if (fd < 0) {
        free(s);
        return HOOKD_EIO;
    }
    s->port = bound_port(fd);
    unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD;
    if (ss.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    s->daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, s, MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned)SERVER_THREADS, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned)HOOKD_SERVER_CONN_MAX, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
        (unsigned)HOOKD_SERVER_PER_IP_MAX, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)HOOKD_SERVER_IDLE_S, MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)SERVER_MEMORY,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL, MHD_OPTION_END);
    if (!s->daemon) {
        close(fd);
        free(s);
        return hookd_fail(errbuf, HOOKD_EIO, "cannot start the HTTP server on %s", opts->addr);
    }
    *out = s;
    return 0;
}

int hookd_server_port(const struct hookd_server *s)
{
    return s->port;
}

void hookd_server_stop(struct hookd_server *s)
{
    if (!s)
        return;
    if (s->daemon)
        MHD_stop_daemon(s->daemon);
    explicit_bzero(s->token, sizeof(s->token));
    free(s);
}
