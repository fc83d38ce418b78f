/* redis_conn.c - one reconnecting Redis connection: locate, resolve,
 * connect, TLS, AUTH/SELECT/SETNAME, ROLE, backoff and the watchdog. */
#include "hookd/redis_conn.h"

#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hookd/metrics.h"
#include "hookd/redis_locate.h"
#include "hookd/redis_node.h"
#include "hookd/redis_tls.h"
#include "hookd/redis_uv.h"
#include "hookd/redis_watch.h"

#define BACKOFF_FIRST_MS 100
#define BACKOFF_MAX_MS 5000
#define WATCH_EVERY_MS 250 /* how often the watchdog looks */
#define STABLE_MS 1000     /* ready this long: the next reconnect starts from BACKOFF_FIRST_MS */

enum cstate {
    C_DOWN,       /* no context; the reconnect timer may be running */
    C_RESOLVING,  /* the node is being located and its host resolved, off the loop */
    C_CONNECTING, /* a context, its TCP connect in flight */
    C_OPEN,       /* connected; on_open was called */
    C_CLOSED,     /* closed; its handles are closing or closed */
};

struct hookd_redis_conn {
    uv_loop_t *loop;                /* the loop it lives on */
    const struct hookd_config *cfg; /* lives longer than the connection */
    const char *name;               /* CLIENT SETNAME; the owner's string */
    struct hookd_redis_conn_cbs cbs;
    void *data;                    /* the owner's pointer for callbacks */
    struct hookd_redis_addr addr;  /* the parsed URL */
    struct hookd_redis_tls *tls;   /* TLS settings for the node, else NULL */
    struct hookd_redis_node node;  /* the node connected to: the URL's, or located */
    struct hookd_redis_node hint;  /* a node a MOVED or ASK named, asked first; port 0: none */
    struct hookd_redis_node avoid; /* a located node that did not serve; port 0: none */
    struct ssl_st *ssl;            /* ac's SSL object (owned by ac), or NULL */
    redisAsyncContext *ac;         /* the context, NULL when down or resolving */
    enum cstate state;
    uv_work_t locate;                /* locating and resolving the node off the loop */
    char located_ip[256];            /* (locate) the node's address, "" when it failed */
    struct hookd_redis_node located; /* (locate) the node found */
    char located_why[HOOKD_ERRLEN];  /* (locate) why it failed */
    uv_timer_t reconnect;            /* the backoff's timer */
    uv_timer_t watch;                /* the watchdog's */
    int64_t backoff_ms;              /* the next reconnect's delay */
    uint64_t ready_ms;               /* when the owner first said ready, 0: not since connecting */
    uint64_t master_gen;             /* sentinel: redis_watch's generation when located */
    uint64_t since_ms;      /* connecting: when it began; open: when it last waited for nothing */
    int64_t extra_ms;       /* allowed beyond the timeout for what is in flight */
    int told;               /* the end of this context was told already */
    int started;            /* hookd_redis_conn_start() ran: the timers are on the loop */
    int closing;            /* hookd_redis_conn_close() was called */
    int handles;            /* timers not yet closed, once closing */
    char where[300];        /* "host:port" or the socket path of the node */
    char msg[HOOKD_ERRLEN]; /* the line given to on_error */
};

static void conn_connect(struct hookd_redis_conn *c, const char *host);
static void maybe_closed(struct hookd_redis_conn *c);
static void on_watch(uv_timer_t *t);

static void tell(struct hookd_redis_conn *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void tell(struct hookd_redis_conn *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = snprintf(c->msg, sizeof(c->msg), "redis: ");
    vsnprintf(c->msg + n, sizeof(c->msg) - (size_t)n, fmt, ap);
    va_end(ap);
    if (c->cbs.on_error)
        c->cbs.on_error(c->data, c->msg);
}

static void on_reconnect_timer(uv_timer_t *t)
{
    hookd_redis_conn_start(t->data);
}

/* The context is gone (or never came): tells the owner when it had been
 * open, and reconnects after the backoff unless closing. */
static void went_down(struct hookd_redis_conn *c)
{
    int was_open = c->state == C_OPEN;
    /* A connection that was ready a while ends a run of failures; one that
     * failed at once after its set-up (a cluster that says CLUSTERDOWN to
     * every take, a node that turns out to be a replica) does not, so that
     * such a node is asked again no faster than the backoff allows. */
    if (c->ready_ms && uv_now(c->loop) - c->ready_ms >= STABLE_MS)
        c->backoff_ms = BACKOFF_FIRST_MS;
    c->ready_ms = 0;
    c->ac = NULL;
    c->ssl = NULL;
    c->state = C_DOWN;
    c->extra_ms = 0;
    c->told = 0;
    if (was_open && c->cbs.on_down)
        c->cbs.on_down(c->data);
    if (c->closing) {
        maybe_closed(c);
        return;
    }
    uint64_t delay = (uint64_t)c->backoff_ms;
    c->backoff_ms = c->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : c->backoff_ms * 2;
    uv_timer_start(&c->reconnect, on_reconnect_timer, delay, 0);
}

/* Why the context ended, TLS's verdict first. */
static const char *end_reason(struct hookd_redis_conn *c, const redisAsyncContext *ac, char *buf,
                              size_t n, int *is_tls)
{
    const char *w = hookd_redis_tls_why(c->ssl, buf, n);
    *is_tls = w != NULL;
    return w ? w : ac->errstr[0] ? ac->errstr : "closed";
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
    struct hookd_redis_conn *c = ac->data;
    char why[HOOKD_ERRLEN];
    int is_tls;
    if (status != REDIS_OK && !c->told && !c->closing) {
        const char *w = end_reason(c, ac, why, sizeof(why), &is_tls);
        if (is_tls)
            tell(c, "TLS with %s failed: %s", c->where, w);
        else
            tell(c, "connection to %s lost: %s", c->where, w);
    }
    went_down(c);
}

/* AUTH and SELECT replies: an error ends the connection. */
static void on_setup_reply(redisAsyncContext *ac, void *r, void *priv)
{
    (void)priv;
    redisReply *reply = r;
    struct hookd_redis_conn *c = ac->data;
    if (reply && reply->type == REDIS_REPLY_ERROR && ac == c->ac)
        hookd_redis_conn_drop(c, reply->str);
}

/* ROLE's reply, for a located node: one that is not a master (a sentinel's
 * or a cluster's view behind a failover) ends the connection, and the next
 * one locates the master again. The owner's commands, sent behind ROLE, get
 * NULL replies. */
static void on_role_reply(redisAsyncContext *ac, void *r, void *priv)
{
    (void)priv;
    redisReply *reply = r;
    struct hookd_redis_conn *c = ac->data;
    char why[HOOKD_ERRLEN];
    if (!reply || ac != c->ac || hookd_redis_role_master(reply))
        return;
    c->avoid = c->node;
    snprintf(why, sizeof(why), "%.80s is not a master (ROLE %.40s); locating the master again",
             c->where, hookd_redis_role(reply));
    hookd_redis_conn_drop(c, why);
}

static void on_connect(const redisAsyncContext *cac, int status)
{
    struct hookd_redis_conn *c = cac->data;
    redisAsyncContext *ac = (redisAsyncContext *)cac;
    if (status != REDIS_OK) {
        /* hiredis frees ac after this, without on_disconnect. */
        char why[HOOKD_ERRLEN];
        int is_tls;
        if (!c->closing)
            tell(c, "cannot connect to %s: %s", c->where,
                 end_reason(c, ac, why, sizeof(why), &is_tls));
        if (c->addr.mode != HOOKD_REDIS_DIRECT)
            c->avoid = c->node;
        went_down(c);
        return;
    }
    c->state = C_OPEN;
    c->since_ms = uv_now(c->loop);
    if (c->addr.password[0]) {
        if (c->addr.user[0])
            redisAsyncCommand(ac, on_setup_reply, NULL, "AUTH %s %s", c->addr.user,
                              c->addr.password);
        else
            redisAsyncCommand(ac, on_setup_reply, NULL, "AUTH %s", c->addr.password);
    }
    if (c->addr.db)
        redisAsyncCommand(ac, on_setup_reply, NULL, "SELECT %d", c->addr.db);
    /* Its reply is ignored: a user not allowed to name itself still works. */
    redisAsyncCommand(ac, NULL, NULL, "CLIENT SETNAME %s", c->name);
    if (c->addr.mode != HOOKD_REDIS_DIRECT)
        redisAsyncCommand(ac, on_role_reply, NULL, "ROLE");
    if (c->cbs.on_open)
        c->cbs.on_open(c->data, ac);
}

/* Opens a context to host (an address), or to the socket path. */
static void conn_connect(struct hookd_redis_conn *c, const char *host)
{
    char why[HOOKD_ERRLEN];
    redisAsyncContext *ac = c->addr.path[0] ? redisAsyncConnectUnix(c->addr.path)
                                            : redisAsyncConnect(host, c->node.port);
    c->state = C_CONNECTING;
    c->since_ms = uv_now(c->loop);
    const char *fail = NULL;
    if (!ac)
        fail = "out of memory";
    else if (ac->err)
        fail = ac->errstr;
    else if (hookd_redis_uv_attach(ac, c->loop) != 0)
        fail = "cannot watch its socket";
    else if (c->tls && hookd_redis_tls_start(c->tls, &ac->c, &c->ssl, why) != 0)
        fail = why;
    if (fail) {
        tell(c, "cannot connect to %s: %s", c->where, fail);
        if (ac)
            redisAsyncFree(ac); /* no callbacks are set yet */
        went_down(c);
        return;
    }
    ac->data = c;
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    c->ac = ac;
}

/* 1 when host is a name, not an IP address. */
static int is_name(const char *host)
{
    unsigned char bin[16];
    return uv_inet_pton(AF_INET, host, bin) != 0 && uv_inet_pton(AF_INET6, host, bin) != 0;
}

/* (threadpool) Locates the node serving the namespace (a sentinel's master,
 * a cluster's slot owner, or the URL's host) and resolves its host to its
 * first address, which hiredis then takes without a lookup of its own. */
static void locate_work(uv_work_t *req)
{
    struct hookd_redis_conn *c = req->data;
    struct hookd_redis_addr a = c->addr;
    c->located_ip[0] = '\0';
    int rc = hookd_redis_locate(c->cfg, &a, &c->hint, &c->avoid, c->cfg->redis_timeout_ms,
                                c->located_why);
    explicit_bzero(a.password, sizeof(a.password));
    if (rc != 0)
        return;
    memcpy(c->located.host, a.host, sizeof(c->located.host));
    c->located.port = a.port;
    if (!is_name(a.host)) {
        snprintf(c->located_ip, sizeof(c->located_ip), "%s", a.host);
        return;
    }
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    int e = getaddrinfo(a.host, NULL, &hints, &res);
    if (e == 0 && res && res->ai_family == AF_INET)
        uv_ip4_name((const struct sockaddr_in *)res->ai_addr, c->located_ip, sizeof(c->located_ip));
    else if (e == 0 && res && res->ai_family == AF_INET6)
        uv_ip6_name((const struct sockaddr_in6 *)res->ai_addr, c->located_ip,
                    sizeof(c->located_ip));
    if (res)
        freeaddrinfo(res);
    if (!c->located_ip[0])
        hookd_fail(c->located_why, HOOKD_EREDIS, "redis: cannot resolve %s: %s", a.host,
                   e ? gai_strerror(e) : "no IPv4 or IPv6 address");
}

/* Names the node for messages. */
static void set_where(struct hookd_redis_conn *c)
{
    if (c->addr.path[0])
        snprintf(c->where, sizeof(c->where), "%s", c->addr.path);
    else
        snprintf(c->where, sizeof(c->where), strchr(c->node.host, ':') ? "[%s]:%d" : "%s:%d",
                 c->node.host, c->node.port);
}

/* (loop) The node is located: connect to it, with TLS settings for its
 * name when it is not the URL's. */
static void locate_done(uv_work_t *req, int status)
{
    struct hookd_redis_conn *c = req->data;
    char why[HOOKD_ERRLEN];
    if (c->closing || status != 0) {
        went_down(c);
        return;
    }
    memset(&c->hint, 0, sizeof(c->hint));
    memset(&c->avoid, 0, sizeof(c->avoid));
    if (!c->located_ip[0]) {
        /* The reason is "redis: ..." already. */
        tell(c, "%s", c->located_why + (strncmp(c->located_why, "redis: ", 7) ? 0 : 7));
        went_down(c);
        return;
    }
    c->node = c->located;
    set_where(c);
    if (c->addr.tls && c->addr.mode != HOOKD_REDIS_DIRECT) {
        struct hookd_redis_addr a = c->addr;
        memcpy(a.host, c->node.host, sizeof(a.host));
        hookd_redis_tls_free(c->tls);
        c->tls = NULL;
        int rc = hookd_redis_tls_new(c->cfg, &a, &c->tls, why);
        explicit_bzero(a.password, sizeof(a.password));
        if (rc != 0) {
            tell(c, "TLS with %s: %s", c->where, why);
            went_down(c);
            return;
        }
    }
    conn_connect(c, c->located_ip);
}

void hookd_redis_conn_start(struct hookd_redis_conn *c)
{
    if (c->closing || c->state != C_DOWN)
        return;
    if (!c->started) {
        c->started = 1;
        uv_timer_init(c->loop, &c->reconnect);
        uv_timer_init(c->loop, &c->watch);
        c->reconnect.data = c->watch.data = c;
        uv_timer_start(&c->watch, on_watch, WATCH_EVERY_MS, WATCH_EVERY_MS);
    }
    uv_timer_stop(&c->reconnect);
    if (c->addr.mode == HOOKD_REDIS_DIRECT && (c->addr.path[0] || !is_name(c->addr.host))) {
        conn_connect(c, c->addr.host);
        return;
    }
    c->state = C_RESOLVING;
    c->master_gen = hookd_redis_watch_generation();
    int rc = uv_queue_work(c->loop, &c->locate, locate_work, locate_done);
    if (rc != 0) {
        tell(c, "cannot locate %s: %s", c->where, uv_strerror(rc));
        went_down(c);
    }
}

void hookd_redis_conn_ready(struct hookd_redis_conn *c)
{
    if (!c->ready_ms) /* the first time since connecting counts */
        c->ready_ms = uv_now(c->loop) ? uv_now(c->loop) : 1;
}

void hookd_redis_conn_allow(struct hookd_redis_conn *c, int64_t extra_ms)
{
    c->extra_ms = extra_ms > 0 ? extra_ms : 0;
}

/* Ends the context: an open one through hiredis, which calls every pending
 * callback with NULL and then on_disconnect (later, when inside a
 * callback); a connecting one, which has neither, here. */
static void end_context(struct hookd_redis_conn *c)
{
    redisAsyncContext *ac = c->ac;
    if (!ac)
        return;
    c->told = 1;
    if (c->state == C_OPEN) {
        redisAsyncFree(ac);
        return;
    }
    c->ac = NULL;
    redisAsyncFree(ac);
    went_down(c);
}

void hookd_redis_conn_drop(struct hookd_redis_conn *c, const char *why)
{
    if (!c->ac || c->told)
        return;
    tell(c, "%s", why);
    end_context(c);
}

/* Declares the connection dead when a reply is later than the timeout (plus
 * what the owner allowed): it waits for one, and has heard nothing since the
 * later of its last read and the last look that found it waiting for
 * nothing, so a command sent after a quiet spell gets the whole timeout. A
 * connect gets the timeout too. */
static void on_watch(uv_timer_t *t)
{
    struct hookd_redis_conn *c = t->data;
    uint64_t now = uv_now(c->loop);
    uint64_t limit = (uint64_t)c->cfg->redis_timeout_ms;
    if (!c->ac || c->told)
        return;
    if (c->state == C_OPEN && c->addr.mode == HOOKD_REDIS_SENTINEL &&
        hookd_redis_watch_generation() != c->master_gen) {
        char why[HOOKD_ERRLEN];
        snprintf(why, sizeof(why), "the sentinels name another master than %.80s; locating it",
                 c->where);
        hookd_redis_conn_drop(c, why);
        return;
    }
    if (c->state == C_CONNECTING) {
        if (now - c->since_ms <= limit)
            return;
        hookd_metrics_count(HOOKD_M_REDIS_STALLS, 1);
        tell(c, "connecting to %s took longer than --redis-timeout (%lld ms); trying again",
             c->where, (long long)c->cfg->redis_timeout_ms);
        end_context(c);
        return;
    }
    if (!c->ac->replies.head) {
        c->since_ms = now;
        return;
    }
    uint64_t heard = hookd_redis_uv_heard_ms(c->ac);
    uint64_t since = heard > c->since_ms ? heard : c->since_ms;
    if (now - since <= limit + (uint64_t)c->extra_ms)
        return;
    hookd_metrics_count(HOOKD_M_REDIS_STALLS, 1);
    tell(c,
         "%s answered nothing for %llu ms (--redis-timeout %lld ms%s); closing the connection "
         "and connecting again",
         c->where, (unsigned long long)(now - since), (long long)c->cfg->redis_timeout_ms,
         c->extra_ms ? ", plus a blocking command's wait" : "");
    c->since_ms = now;
    end_context(c);
}

static void on_timer_closed(uv_handle_t *h)
{
    struct hookd_redis_conn *c = h->data;
    if (--c->handles == 0 && c->cbs.on_closed)
        c->cbs.on_closed(c->data);
}

/* Closes the timers once no context or lookup is left. */
static void maybe_closed(struct hookd_redis_conn *c)
{
    if (c->state != C_DOWN || c->ac)
        return;
    c->state = C_CLOSED;
    c->handles = 2;
    uv_close((uv_handle_t *)&c->reconnect, on_timer_closed);
    uv_close((uv_handle_t *)&c->watch, on_timer_closed);
}

void hookd_redis_conn_close(struct hookd_redis_conn *c, int force)
{
    if (c->closing || !c->started)
        return;
    c->closing = 1;
    uv_timer_stop(&c->reconnect);
    if (c->state == C_RESOLVING) {
        uv_cancel((uv_req_t *)&c->locate); /* locate_done calls went_down */
        return;
    }
    if (c->ac && force) {
        end_context(c);
        return;
    }
    if (c->ac && c->state == C_OPEN) {
        redisAsyncDisconnect(c->ac); /* on_disconnect once the replies are in */
        return;
    }
    if (c->ac) {
        end_context(c);
        return;
    }
    maybe_closed(c);
}

int hookd_redis_conn_moved(struct hookd_redis_conn *c, const redisReply *reply)
{
    char why[HOOKD_ERRLEN];
    struct hookd_redis_node hint = {.port = 0};
    if (!reply || reply->type != REDIS_REPLY_ERROR ||
        !hookd_redis_topology_error(reply->str, &hint))
        return 0;
    if (c->addr.mode == HOOKD_REDIS_CLUSTER && hint.port)
        c->hint = hint;
    snprintf(why, sizeof(why), "%.80s: %.120s; locating the namespace's node again", c->where,
             reply->str);
    hookd_redis_conn_drop(c, why);
    return 1;
}

void *hookd_redis_conn_data(const redisAsyncContext *ac)
{
    const struct hookd_redis_conn *c = ac->data;
    return c->data;
}

const char *hookd_redis_conn_where(const struct hookd_redis_conn *c)
{
    return c->where;
}

int hookd_redis_conn_new(uv_loop_t *loop, const struct hookd_config *cfg, const char *name,
                         const struct hookd_redis_conn_cbs *cbs, void *data,
                         struct hookd_redis_conn **out, char *errbuf)
{
    *out = NULL;
    struct hookd_redis_conn *c = calloc(1, sizeof(*c));
    if (!c)
        return hookd_fail(errbuf, HOOKD_ENOMEM, "out of memory");
    int rc = hookd_redis_url_parse(cfg->redis_url, &c->addr, errbuf);
    if (rc == 0 && c->addr.tls && c->addr.mode == HOOKD_REDIS_DIRECT)
        rc = hookd_redis_tls_new(cfg, &c->addr, &c->tls, errbuf);
    if (rc) {
        hookd_redis_conn_free(c);
        return rc;
    }
    c->loop = loop;
    c->cfg = cfg;
    c->name = name;
    c->cbs = *cbs;
    c->data = data;
    c->backoff_ms = BACKOFF_FIRST_MS;
    memcpy(c->node.host, c->addr.host, sizeof(c->node.host));
    c->node.port = c->addr.port;
    if (c->addr.mode != HOOKD_REDIS_DIRECT)
        c->node = c->addr.seeds[0]; /* named until located */
    set_where(c);
    c->locate.data = c;
    *out = c;
    return 0;
}

void hookd_redis_conn_free(struct hookd_redis_conn *c)
{
    if (!c)
        return;
    hookd_redis_tls_free(c->tls);
    explicit_bzero(c->addr.password, sizeof(c->addr.password));
    free(c);
}
