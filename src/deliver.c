/* deliver.c - HTTP attempts through curl multi handles driven by libuv (see SHARDS).
 *
 * The glue follows curl's multi_socket API (CURLMOPT_SOCKETFUNCTION and
 * CURLMOPT_TIMERFUNCTION), but unlike curl's multi-uv.c example it keeps one
 * uv_poll_t per socket for the socket's whole life and calls uv_poll_start()
 * only when the wanted events change: starting and stopping a poll handle on
 * every CURL_POLL_* costs several epoll_ctl calls per request and about 40%
 * of the throughput (see docs/design.md). The handle is closed when curl
 * closes the socket (CURLOPT_CLOSESOCKETFUNCTION), before the fd goes.
 *
 * Attempts wait in a FIFO per host key when their host already runs as many
 * attempts as its limiter allows: queueing inside curl
 * (CURLMOPT_MAX_HOST_CONNECTIONS) is slower and hides the queue from us. A
 * tick every TICK_MS hands back queues that stopped moving, counts the
 * attempts that hang, and forgets hosts idle for long. */
#include "hookd/deliver.h"

#include <curl/curl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "hookd/health.h"
#include "hookd/sign.h"

_Static_assert(sizeof(((struct hookd_attempt *)0)->curl_error) >= CURL_ERROR_SIZE,
               "curl_error must hold CURL_ERROR_SIZE bytes");

#define HOST_BUCKETS 256
#define MAX_HEADER_BYTES (64 * 1024)
#define EASY_POOL_MAX 256
#define TICK_MS 100
#define OPEN_QUIET_MS 2000 /* no success this long, besides the run of failures */
#define STALL_MIN_MS 1000  /* a host that finished nothing this long hangs... */
#define STALL_RATIO 4      /* ...or for this many times its best latency */
#define STATS_SLOTS 5      /* one-minute slots over HOOKD_DELIVER_STATS_MS */
/* curl's receive buffer per handle, at curl's minimum: it lives as long as
 * the attempt, and answers are small. */
#define BUFFER_SIZE 1024
/* Attempts run on several multi handles, each with its own connection cache:
 * curl scans a host's cached connections one by one for every transfer it
 * starts, so one cache of thousands of connections to one slow host costs a
 * scan of thousands per attempt. SHARDS caches keep each scan short: a host
 * whose learned limit is below SHARD_CONNS runs on one of them (chosen by its
 * key), so that its few connections are reused; a host allowed more takes
 * its shards in turn, one more per SHARD_CONNS of limit. */
#define SHARDS 8
#define SHARD_CONNS 256

struct hookd_deliver;

/* One multi handle and its timer; part of the deliverer, lives as long. */
struct shard {
    struct hookd_deliver *d; /* owner */
    CURLM *multi;            /* the multi handle */
    uv_timer_t timer;        /* curl's timeout for it */
};

/* One socket curl uses; lives from the first socket callback until curl
 * closes the socket, and is freed in the poll handle's close callback. */
struct sock {
    uv_poll_t poll;          /* watches fd for the loop */
    curl_socket_t fd;        /* the socket */
    int armed;               /* UV_READABLE|UV_WRITABLE currently started */
    int want;                /* what curl asked for; 0 after CURL_POLL_REMOVE */
    int conn;                /* opened by on_open_socket: its close is seen */
    struct hookd_deliver *d; /* owner */
    struct shard *sh;        /* the multi handle that drives it */
};

/* Attempts to one receiver host key in one minute, for stats. */
struct slot {
    int64_t minute; /* minutes since the epoch */
    int64_t ok;     /* 2xx answers */
    int64_t failed; /* other outcomes */
};

/* What is known of one receiver host key. Lives until it has been idle for
 * HOOKD_DELIVER_HOST_IDLE_MS, or the deliverer closes. */
struct host {
    struct host *next;              /* bucket chain */
    int active;                     /* attempts running */
    int queued;                     /* attempts waiting */
    int failures;                   /* failed attempts in a row */
    int stalled;                    /* 1 while counted in the deliverer's hanging */
    int opened;                     /* an attempt opened the circuit: the next tick parks */
    unsigned shard;                 /* its first multi handle, see SHARDS */
    unsigned turn;                  /* attempts started, to take its shards in turn */
    int64_t last_done_ms;           /* when an attempt last finished (or the host appeared) */
    int64_t paused_until;           /* Retry-After: nothing starts before, 0 when none */
    int64_t last_ok_ms;             /* when an attempt last succeeded, 0 for never */
    struct hookd_limit lim;         /* the learned limit */
    struct slot slots[STATS_SLOTS]; /* outcomes per minute, a ring */
    struct hookd_attempt *head;     /* queued, oldest first */
    struct hookd_attempt *tail;     /* queued, newest */
    char key[];                     /* "scheme://host:port" */
};

struct hookd_deliver {
    uv_loop_t *loop;                  /* the loop everything runs on */
    struct shard shards[SHARDS];      /* multi handles, see SHARDS */
    uv_timer_t tick;                  /* see TICK_MS */
    struct hookd_deliver_opts opts;   /* settings */
    hookd_deliver_cb done;            /* finished-attempt callback */
    struct host *hosts[HOST_BUCKETS]; /* host table */
    struct sock **by_fd;              /* socket records indexed by fd */
    size_t nfd;                       /* size of by_fd */
    CURL *pool[EASY_POOL_MAX];        /* idle easy handles, reused */
    int npool;                        /* idle handles in pool */
    size_t pending;                   /* attempts queued or running */
    int hanging;                      /* attempts running to hosts that hang */
    struct hookd_attempt *running;    /* attempts handed to curl */
    int closing;                      /* hookd_deliver_close was called */
    int open_handles;                 /* uv handles not yet closed */
};

static void check_done(struct hookd_deliver *d);
static void start_next(struct hookd_deliver *d, struct host *h);

static void hand_back_queue(struct hookd_deliver *d, struct host *h, int keep, int parked,
                            int64_t until, int64_t spread, const char *reason);

static struct host *host_find(const struct hookd_deliver *d, const char *key)
{
    for (struct host *h = d->hosts[hookd_hash_str(key) % HOST_BUCKETS]; h; h = h->next)
        if (strcmp(h->key, key) == 0)
            return h;
    return NULL;
}

/* Finds or creates the host record for key; NULL on ENOMEM. */
static struct host *host_get(struct hookd_deliver *d, const char *key)
{
    struct host *h = host_find(d, key);
    if (h)
        return h;
    uint32_t b = hookd_hash_str(key) % HOST_BUCKETS;
    size_t n = strlen(key);
    h = calloc(1, sizeof(*h) + n + 1);
    if (!h)
        return NULL;
    memcpy(h->key, key, n + 1);
    h->shard = hookd_hash_str(key) >> 8; /* the low bits chose the bucket */
    h->last_done_ms = hookd_now_ms();
    hookd_limit_init(&h->lim, d->opts.host_concurrency);
    h->next = d->hosts[b];
    d->hosts[b] = h;
    return h;
}

/* Frees h, which runs and holds nothing. */
static void host_free(struct hookd_deliver *d, struct host *h)
{
    struct host **pp = &d->hosts[hookd_hash_str(h->key) % HOST_BUCKETS];
    while (*pp != h)
        pp = &(*pp)->next;
    *pp = h->next;
    free(h);
}

/* ---- libuv glue ---- */

static void on_handle_closed(uv_handle_t *handle)
{
    struct hookd_deliver *d = handle->data;
    if (--d->open_handles == 0 && d->closing)
        free(d);
}

static void on_shard_timer_closed(uv_handle_t *handle)
{
    struct shard *sh = handle->data;
    struct hookd_deliver *d = sh->d;
    if (--d->open_handles == 0 && d->closing)
        free(d);
}

static void on_sock_closed(uv_handle_t *handle)
{
    struct sock *s = handle->data;
    struct hookd_deliver *d = s->d;
    free(s);
    if (--d->open_handles == 0 && d->closing)
        free(d);
}

static void on_poll(uv_poll_t *handle, int status, int events)
{
    struct sock *s = handle->data;
    struct hookd_deliver *d = s->d;
    if (!s->want) {
        /* curl no longer watches this (idle, kept-alive) socket: stop now that
         * it is readable, typically because the peer closed it. */
        uv_poll_stop(&s->poll);
        s->armed = 0;
        return;
    }
    int flags = 0;
    if (status < 0)
        flags = CURL_CSELECT_ERR;
    if (events & UV_READABLE)
        flags |= CURL_CSELECT_IN;
    if (events & UV_WRITABLE)
        flags |= CURL_CSELECT_OUT;
    int running;
    curl_multi_socket_action(s->sh->multi, s->fd, flags, &running);
    check_done(d);
}

/* Records the socket in the fd table, growing it as needed. */
static int fd_put(struct hookd_deliver *d, curl_socket_t fd, struct sock *s)
{
    if ((size_t)fd >= d->nfd) {
        size_t n = d->nfd ? d->nfd : 64;
        while (n <= (size_t)fd)
            n *= 2;
        struct sock **p = realloc(d->by_fd, n * sizeof(*p));
        if (!p)
            return HOOKD_ENOMEM;
        memset(p + d->nfd, 0, (n - d->nfd) * sizeof(*p));
        d->by_fd = p;
        d->nfd = n;
    }
    d->by_fd[fd] = s;
    return 0;
}

/* Creates the record and poll handle for fd; NULL on failure. */
static struct sock *sock_new(struct shard *sh, curl_socket_t fd, int conn)
{
    struct hookd_deliver *d = sh->d;
    struct sock *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->fd = fd;
    s->d = d;
    s->sh = sh;
    s->conn = conn;
    if (uv_poll_init_socket(d->loop, &s->poll, fd) != 0 || fd_put(d, fd, s) != 0) {
        free(s);
        return NULL;
    }
    s->poll.data = s;
    d->open_handles++;
    return s;
}

/* Closes the poll handle before the fd goes; the record is freed after. */
static void sock_close(struct hookd_deliver *d, struct sock *s)
{
    if ((size_t)s->fd < d->nfd && d->by_fd[s->fd] == s)
        d->by_fd[s->fd] = NULL;
    s->want = 0;
    uv_close((uv_handle_t *)&s->poll, on_sock_closed);
}

static int on_curl_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
    (void)easy;
    struct shard *sh = userp;
    struct hookd_deliver *d = sh->d;
    struct sock *s = socketp;
    if (what == CURL_POLL_REMOVE) {
        if (!s)
            s = (size_t)fd < d->nfd ? d->by_fd[fd] : NULL;
        if (!s)
            return 0;
        if (s->conn) {
            /* Keep the poll handle armed: the connection usually goes back
             * to the cache and is wanted again with the same events soon;
             * on_close_socket closes the handle when curl closes it. */
            s->want = 0;
        } else {
            /* A socket curl opened itself (the threaded resolver's
             * socketpair): curl closes it without telling us, so stop
             * watching it now. */
            sock_close(d, s);
        }
        return 0;
    }
    if (!s) {
        s = (size_t)fd < d->nfd ? d->by_fd[fd] : NULL;
        if (!s && !(s = sock_new(sh, fd, 0)))
            return -1;
        curl_multi_assign(sh->multi, fd, s);
    }
    int events = 0;
    if (what & CURL_POLL_IN)
        events |= UV_READABLE;
    if (what & CURL_POLL_OUT)
        events |= UV_WRITABLE;
    s->want = events;
    if (events != s->armed) {
        uv_poll_start(&s->poll, events, on_poll);
        s->armed = events;
    }
    return 0;
}

static void on_timer(uv_timer_t *t)
{
    struct shard *sh = t->data;
    int running;
    curl_multi_socket_action(sh->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    check_done(sh->d);
}

static int on_curl_timer(CURLM *multi, long timeout_ms, void *userp)
{
    (void)multi;
    struct shard *sh = userp;
    if (timeout_ms < 0)
        uv_timer_stop(&sh->timer);
    else
        uv_timer_start(&sh->timer, on_timer, (uint64_t)timeout_ms, 0);
    return 0;
}

/* Refuses the connection when the resolved address is not allowed; this is
 * where the SSRF policy is enforced, after DNS, so rebinding cannot pass.
 * Sockets opened here are closed through on_close_socket, so their poll
 * handles can outlive a CURL_POLL_REMOVE. */
static curl_socket_t on_open_socket(void *clientp, curlsocktype purpose, struct curl_sockaddr *addr)
{
    struct hookd_attempt *a = clientp;
    struct hookd_deliver *d = a->d;
    if (purpose != CURLSOCKTYPE_IPCXN)
        return CURL_SOCKET_BAD;
    if (hookd_net_check(&addr->addr, d->opts.allow, a->error) != 0) {
        a->refused = 1;
        return CURL_SOCKET_BAD;
    }
    curl_socket_t fd = socket(addr->family, addr->socktype, addr->protocol);
    if (fd == CURL_SOCKET_BAD)
        return fd;
    struct sock *old = (size_t)fd < d->nfd ? d->by_fd[fd] : NULL;
    if (old)
        sock_close(d, old); /* a record left on a reused number */
    if (!sock_new(a->shard, fd, 1)) {
        close(fd);
        return CURL_SOCKET_BAD;
    }
    return fd;
}

static int on_close_socket(void *clientp, curl_socket_t fd)
{
    struct hookd_deliver *d = clientp;
    struct sock *s = (size_t)fd < d->nfd ? d->by_fd[fd] : NULL;
    if (s)
        sock_close(d, s);
    return close(fd);
}

/* ---- one attempt ---- */

/* Counts the response body and stops reading past the cap; the status line
 * has arrived by then, so the attempt can still be judged. */
static size_t on_body(char *p, size_t size, size_t n, void *userp)
{
    (void)p;
    struct hookd_attempt *a = userp;
    a->resp_bytes += size * n;
    if (a->resp_bytes > a->d->opts.max_response) {
        a->overflow = 1;
        return 0;
    }
    return size * n;
}

/* Caps the header bytes and keeps Retry-After. */
static size_t on_header(char *p, size_t size, size_t n, void *userp)
{
    struct hookd_attempt *a = userp;
    size_t len = size * n;
    a->hdr_bytes += len;
    if (a->hdr_bytes > MAX_HEADER_BYTES) {
        a->overflow = 2;
        return 0;
    }
    static const char name[] = "retry-after:";
    if (len > sizeof(name) - 1 && strncasecmp(p, name, sizeof(name) - 1) == 0) {
        const char *v = p + sizeof(name) - 1;
        const char *end = p + len;
        while (v < end && (*v == ' ' || *v == '\t'))
            v++;
        while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
            end--;
        size_t vl = (size_t)(end - v);
        if (vl < sizeof(a->retry_after)) {
            memcpy(a->retry_after, v, vl);
            a->retry_after[vl] = '\0';
        }
    }
    return len;
}

/* An easy handle with everything set that does not change per attempt. */
static CURL *easy_get(struct hookd_deliver *d)
{
    if (d->npool)
        return d->pool[--d->npool];
    CURL *e = curl_easy_init();
    if (!e)
        return NULL;
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(e, CURLOPT_PROXY, "");
    curl_easy_setopt(e, CURLOPT_USERAGENT, "hookd/" HOOKD_VERSION);
    curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, on_open_socket);
    curl_easy_setopt(e, CURLOPT_CLOSESOCKETFUNCTION, on_close_socket);
    curl_easy_setopt(e, CURLOPT_CLOSESOCKETDATA, d);
    curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(e, CURLOPT_POST, 1L);
    /* 16 KiB by default, per handle: with thousands of attempts in flight
     * to slow receivers that is most of the process' memory. */
    curl_easy_setopt(e, CURLOPT_BUFFERSIZE, (long)BUFFER_SIZE);
    return e;
}

static void easy_put(struct hookd_deliver *d, CURL *e)
{
    if (d->npool < EASY_POOL_MAX && !d->closing)
        d->pool[d->npool++] = e;
    else
        curl_easy_cleanup(e);
}

/* Builds the request's header list inside the attempt itself: curl only
 * reads the list during the transfer, so its nodes and text need no
 * allocation (curl_slist_append would make two per header). */
struct hdr_builder {
    struct hookd_attempt *a;  /* whose storage */
    struct curl_slist *nodes; /* a->hdr_nodes as nodes */
    size_t n;                 /* nodes used */
    size_t used;              /* bytes of a->hdr_text used */
};

_Static_assert(sizeof(((struct hookd_attempt *)0)->hdr_nodes) >= 10 * sizeof(struct curl_slist),
               "hdr_nodes too small for 10 curl_slist nodes");

/* Appends "name: value", or "name:" when value is NULL (which tells curl to
 * leave out a header of its own). A value with a control byte (CR and LF
 * would start a header of their own) is refused with HOOKD_EINVAL, whatever
 * it came from. */
static int header_add(struct hdr_builder *b, const char *name, const char *value)
{
    struct hookd_attempt *a = b->a;
    size_t nl = strlen(name), vl = value ? strlen(value) : 0;
    size_t len = nl + 1 + (value ? 1 + vl : 0);
    for (size_t i = 0; i < vl; i++) {
        if ((unsigned char)value[i] < 0x20 || value[i] == 0x7f)
            return HOOKD_EINVAL;
    }
    if (len >= sizeof(a->hdr_text) - b->used || b->n == 10)
        return HOOKD_ETOOBIG;
    char *p = a->hdr_text + b->used;
    memcpy(p, name, nl);
    p[nl] = ':';
    if (value) {
        p[nl + 1] = ' ';
        memcpy(p + nl + 2, value, vl);
    }
    p[len] = '\0';
    struct curl_slist *node = &b->nodes[b->n];
    node->data = p;
    node->next = NULL;
    if (b->n)
        b->nodes[b->n - 1].next = node;
    b->n++;
    b->used += len + 1;
    return 0;
}

/* Signs the attempt as of now and builds its header list. While a
 * rotation's previous secret still signs, X-Twenty-Webhook-Signature is the
 * previous secret's, X-Hookd-Webhook-Signatures lists the new and the
 * previous one, and webhook-signature holds both (docs/receivers.md). */
static int build_headers(struct hookd_attempt *a)
{
    const struct hookd_webhook *w = a->webhook;
    char ts[HOOKD_I64_LEN], sig[HOOKD_SIG_HEX_LEN + 1], nonce[HOOKD_NONCE_HEX_LEN + 1];
    char sigs[HOOKD_SIG_HEX_PAIR_LEN + 1];
    a->started_ms = hookd_now_ms();
    int grace = hookd_webhook_previous_valid(w, a->started_ms);
    hookd_i64_fmt(ts, a->started_ms);
    if (hookd_sign_twenty_rotating(w->signer, grace ? w->prev_signer : NULL, ts, a->body,
                                   a->body_len, sig, sigs) != 0 ||
        hookd_sign_nonce(nonce) != 0)
        return HOOKD_ECRYPTO;
    struct hdr_builder b = {a, (struct curl_slist *)(void *)a->hdr_nodes, 0, 0};
    int rc;
    /* Every header byte costs libcurl 7.88 about 150 instructions (its
     * printf adds a byte at a time): curl's default Accept header says
     * nothing a webhook receiver needs, so it is left out; "Expect:" only
     * keeps curl from waiting for a 100-continue on bodies over 1 MiB. */
    if ((rc = header_add(&b, "Content-Type", "application/json")) ||
        (rc = header_add(&b, "Accept", NULL)) || (rc = header_add(&b, "Expect", NULL)) ||
        (rc = header_add(&b, "X-Twenty-Webhook-Timestamp", ts)) ||
        (rc = header_add(&b, "X-Twenty-Webhook-Signature", sig)) ||
        (rc = header_add(&b, "X-Twenty-Webhook-Nonce", nonce)) ||
        (rc = header_add(&b, "webhook-id", a->delivery_id)))
        return rc;
    if (sigs[0] && (rc = header_add(&b, "X-Hookd-Webhook-Signatures", sigs)))
        return rc;
    if (w->signing & HOOKD_SIGN_STANDARD) {
        char ts_s[HOOKD_I64_LEN], ssig[HOOKD_SIG_STD_PAIR_LEN + 1];
        hookd_i64_fmt(ts_s, a->started_ms / 1000);
        const struct hookd_signer *ss = w->std_signer ? w->std_signer : w->signer;
        /* A previous secret that is not whsec_ never signed Standard headers. */
        const struct hookd_signer *ps = grace ? w->prev_std_signer : NULL;
        if (hookd_sign_standard_rotating(ss, ps, a->delivery_id, ts_s, a->body, a->body_len, ssig))
            return HOOKD_ECRYPTO;
        if ((rc = header_add(&b, "webhook-timestamp", ts_s)) ||
            (rc = header_add(&b, "webhook-signature", ssig)))
            return rc;
    }
    a->headers = b.nodes;
    return 0;
}

/* Ends an attempt its host counted as active: reports it, and lets the
 * host's queue move on when next is set. */
static void report_active(struct hookd_deliver *d, struct hookd_attempt *a, int next)
{
    struct host *h = a->host;
    h->active--;
    if (h->stalled)
        d->hanging--;
    d->pending--;
    d->done(a);
    if (next)
        start_next(d, h);
}

/* Reports an attempt that ends without reaching curl (no handle, no memory);
 * start_next, its caller, moves the queue on. */
static void finish_early(struct hookd_deliver *d, struct hookd_attempt *a, int rc)
{
    if (rc == HOOKD_EINVAL)
        snprintf(a->error, sizeof(a->error),
                 "could not start: a header value holds a control "
                 "byte");
    else
        snprintf(a->error, sizeof(a->error), "could not start: %s", hookd_strerror(rc));
    a->status = 0;
    a->elapsed_ms = 0;
    report_active(d, a, 0);
}

/* Hands the attempt to curl; its host already counts it as active. */
static void start(struct hookd_deliver *d, struct hookd_attempt *a)
{
    const struct hookd_webhook *w = a->webhook;
    int rc = build_headers(a);
    CURL *e = rc ? NULL : easy_get(d);
    if (!e) {
        a->headers = NULL;
        finish_early(d, a, rc ? rc : HOOKD_ENOMEM);
        return;
    }
    int64_t timeout = w->timeout_ms > 0 ? w->timeout_ms : d->opts.timeout_ms;
    int64_t ctimeout =
        w->connect_timeout_ms > 0 ? w->connect_timeout_ms : d->opts.connect_timeout_ms;
    if (timeout > d->opts.max_timeout_ms)
        timeout = d->opts.max_timeout_ms;
    if (ctimeout > timeout)
        ctimeout = timeout;
    a->easy = e;
    curl_easy_setopt(e, CURLOPT_URL, w->url);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, a->body);
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)a->body_len);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, (struct curl_slist *)a->headers);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)timeout);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)ctimeout);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, a);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, a);
    curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, a);
    curl_easy_setopt(e, CURLOPT_PRIVATE, a);
    a->curl_error[0] = '\0';
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, a->curl_error);
    struct host *h = a->host;
    unsigned span = 1 + (unsigned)h->lim.limit / SHARD_CONNS;
    if (span > SHARDS)
        span = SHARDS;
    struct shard *sh = &d->shards[(h->shard + h->turn++ % span) % SHARDS];
    a->shard = sh;
    if (curl_multi_add_handle(sh->multi, e) != CURLM_OK) {
        a->headers = NULL;
        a->easy = NULL;
        easy_put(d, e);
        finish_early(d, a, HOOKD_EIO);
        return;
    }
    a->prev = NULL;
    a->next = d->running;
    if (d->running)
        d->running->prev = a;
    d->running = a;
}

/* Takes a running attempt out of curl and of the running list. */
static void unlink_running(struct hookd_deliver *d, struct hookd_attempt *a)
{
    curl_multi_remove_handle(((struct shard *)a->shard)->multi, a->easy);
    curl_easy_setopt(a->easy, CURLOPT_ERRORBUFFER, NULL);
    a->headers = NULL;
    easy_put(d, a->easy);
    a->easy = NULL;
    if (a->prev)
        a->prev->next = a->next;
    else
        d->running = a->next;
    if (a->next)
        a->next->prev = a->prev;
    a->next = a->prev = NULL;
}

/* Starts queued attempts of h while it has room and no pause holds it; a
 * probe at the head starts whatever the limit, but waits out a pause. */
static void start_next(struct hookd_deliver *d, struct host *h)
{
    int64_t now = h->paused_until ? hookd_now_ms() : 0;
    if (h->paused_until && now >= h->paused_until)
        h->paused_until = 0;
    while (h->head && !h->paused_until &&
           (h->head->probe || (!h->opened && h->active < hookd_limit_get(&h->lim)))) {
        struct hookd_attempt *a = h->head;
        h->head = a->next;
        if (!h->head)
            h->tail = NULL;
        a->next = NULL;
        h->queued--;
        h->active++;
        if (h->stalled)
            d->hanging++;
        a->busy = h->active;
        start(d, a);
    }
}

static struct slot *slot_of(struct host *h, int64_t now_ms)
{
    int64_t minute = now_ms / 60000;
    struct slot *s = &h->slots[minute % STATS_SLOTS];
    if (s->minute != minute)
        *s = (struct slot){minute, 0, 0};
    return s;
}

/* Feeds a finished attempt to its host's limiter, stats and run of
 * failures. */
static void learn(struct hookd_deliver *d, struct hookd_attempt *a)
{
    struct host *h = a->host;
    int64_t now = hookd_now_ms();
    h->last_done_ms = now;
    if (h->stalled) {
        h->stalled = 0;
        d->hanging -= h->active;
    }
    struct slot *s = slot_of(h, now);
    if (a->refused) {
        /* The address policy's verdict: no packet went out, so it says
         * nothing of the host's pace or health. */
        s->failed++;
        return;
    }
    enum hookd_signal sig = hookd_signal_of(a->status, a->timed_out);
    hookd_limit_sample(&h->lim, now, sig, a->elapsed_ms, a->busy);
    /* A 4xx is an answer from a host that works: a 429 asks for a slower
     * pace, which the limiter and Retry-After give, not for a circuit. */
    if (sig == HOOKD_SIGNAL_OK || (a->status >= 400 && a->status < 500)) {
        s->ok += sig == HOOKD_SIGNAL_OK;
        s->failed += sig != HOOKD_SIGNAL_OK;
        h->failures = 0;
        if (sig == HOOKD_SIGNAL_OK)
            h->last_ok_ms = now;
        return;
    }
    s->failed++;
    /* A run of failures opens only when the host answered no attempt well
     * for a while: one path that fails among others that work is no dead
     * host. */
    if (!a->probe && ++h->failures >= d->opts.open_after && d->opts.open_after > 0 &&
        now - h->last_ok_ms > OPEN_QUIET_MS) {
        a->opens = 1;
        h->opened = 1;
        h->failures = 0;
    }
}

/* Fills in the outcome of a transfer curl has finished. */
static void judge(struct hookd_attempt *a, CURLcode res)
{
    CURL *e = a->easy;
    long status = 0;
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
    a->elapsed_ms = hookd_now_ms() - a->started_ms;
    a->status = status;
    if (res == CURLE_OK || (res == CURLE_WRITE_ERROR && a->overflow == 1 && status)) {
        if (status >= 200 && status < 300)
            a->error[0] = '\0';
        else
            snprintf(a->error, sizeof(a->error), "HTTP %ld", status);
        return;
    }
    a->status = 0;
    if (a->refused)
        return; /* on_open_socket wrote the reason */
    a->timed_out = res == CURLE_OPERATION_TIMEDOUT;
    if (a->overflow == 2)
        snprintf(a->error, sizeof(a->error), "response headers over %d bytes", MAX_HEADER_BYTES);
    else if (a->timed_out)
        snprintf(a->error, sizeof(a->error), "timed out after %lld ms", (long long)a->elapsed_ms);
    else if (a->curl_error[0])
        snprintf(a->error, sizeof(a->error), "%s", a->curl_error);
    else
        snprintf(a->error, sizeof(a->error), "%s", curl_easy_strerror(res));
}

/* Reports every transfer curl has finished and starts what waited. */
static void check_done(struct hookd_deliver *d)
{
    CURLMsg *m;
    int left;
    for (int i = 0; i < SHARDS; i++)
        while ((m = curl_multi_info_read(d->shards[i].multi, &left))) {
            if (m->msg != CURLMSG_DONE)
                continue;
            CURL *e = m->easy_handle;
            struct hookd_attempt *a;
            curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&a);
            judge(a, m->data.result);
            unlink_running(d, a);
            learn(d, a);
            report_active(d, a, 1);
        }
}

/* Reports the queued attempts of h after the first keep through the done
 * callback, unstarted: parked or aborted, with the reason. Parked ones are
 * not worth trying before until, plus spread for each further keep-sized
 * batch (how long the host needs for the ones before it; 0 for none). */
static void hand_back_queue(struct hookd_deliver *d, struct host *h, int keep, int parked,
                            int64_t until, int64_t spread, const char *reason)
{
    struct hookd_attempt **pp = &h->head, *last = NULL;
    for (int i = 0; i < keep && *pp; i++) {
        last = *pp;
        pp = &(*pp)->next;
    }
    struct hookd_attempt *a = *pp;
    *pp = NULL;
    h->tail = last;
    for (int i = 0; a; i++) {
        struct hookd_attempt *an = a->next;
        a->next = NULL;
        a->aborted = !parked;
        a->parked = parked;
        a->park_until = until + (keep > 0 ? spread * (i / keep) : 0);
        snprintf(a->error, sizeof(a->error), "not started: %s", reason);
        h->queued--;
        d->pending--;
        d->done(a);
        a = an;
    }
}

/* How many queued attempts h starts within HOOKD_DELIVER_BEHIND_MS at its
 * pace (its limit per mean latency), and at least its limit. */
static int queue_room(const struct host *h)
{
    int lim = hookd_limit_get(&h->lim);
    double lat = h->lim.latency_ms > 0 ? h->lim.latency_ms : hookd_limit_baseline(&h->lim);
    if (lat < 1)
        return lim;
    double room = lim * (double)HOOKD_DELIVER_BEHIND_MS / lat;
    return room > INT_MAX / 2 ? INT_MAX / 2 : room < lim ? lim : (int)room;
}

static int64_t stall_ms(const struct host *h)
{
    double ms = STALL_RATIO * hookd_limit_baseline(&h->lim);
    return ms > STALL_MIN_MS ? (int64_t)ms : STALL_MIN_MS;
}

/* Hands back the queues that stopped moving (the oldest waited
 * queue_wait_ms, or a pause holds them longer than that), so that their
 * deliveries wait in Redis, not in slots other receivers could use; counts
 * the attempts of hosts that finished nothing for a while as hanging; and
 * forgets hosts idle for HOOKD_DELIVER_HOST_IDLE_MS. */
static void on_tick(uv_timer_t *t)
{
    struct hookd_deliver *d = t->data;
    int64_t now = hookd_now_ms(), wait = d->opts.queue_wait_ms;
    for (int b = 0; b < HOST_BUCKETS; b++) {
        struct host *h = d->hosts[b];
        while (h) {
            struct host *next = h->next;
            int stalled = h->active && now - h->last_done_ms > stall_ms(h);
            if (stalled != h->stalled) {
                d->hanging += stalled ? h->active : -h->active;
                h->stalled = stalled;
            }
            char why[160];
            int room;
            if (h->opened) {
                /* Its circuit opened: what waits is parked, for the probe. */
                h->opened = 0;
                if (h->head) {
                    snprintf(why, sizeof(why), "%.100s: circuit open", h->key);
                    hand_back_queue(d, h, 0, 1, now, 0, why);
                }
            } else if (h->head && wait > 0 && h->paused_until > now + wait) {
                snprintf(why, sizeof(why), "%.100s asked to wait (Retry-After)", h->key);
                hand_back_queue(d, h, 0, 1, h->paused_until, 0, why);
            } else if (h->head && wait > 0 && now - h->head->queued_ms > wait &&
                       now - h->last_done_ms > wait) {
                snprintf(why, sizeof(why), "%.100s finished nothing for %lld ms", h->key,
                         (long long)(now - h->last_done_ms));
                hand_back_queue(d, h, 0, 1, now + wait, 0, why);
            } else if (h->head && wait > 0 && d->pending > d->opts.park_above &&
                       now - h->head->queued_ms > wait && h->queued > (room = queue_room(h))) {
                /* The host moves, but slower than its queue grew, and the
                 * slots it holds are wanted: keep what it starts soon, and
                 * park the rest spread over the time the host needs. */
                snprintf(why, sizeof(why), "%.100s is behind: %d queued, room for %d", h->key,
                         h->queued, room);
                hand_back_queue(d, h, room, 1, now + HOOKD_DELIVER_BEHIND_MS,
                                HOOKD_DELIVER_BEHIND_MS, why);
            } else if (h->paused_until && now >= h->paused_until) {
                start_next(d, h);
            }
            if (!h->active && !h->head && now - h->last_done_ms > HOOKD_DELIVER_HOST_IDLE_MS)
                host_free(d, h);
            h = next;
        }
    }
}

/* ---- public ---- */

int hookd_deliver_new(uv_loop_t *loop, const struct hookd_deliver_opts *opts, hookd_deliver_cb done,
                      struct hookd_deliver **out)
{
    struct hookd_deliver *d = calloc(1, sizeof(*d));
    if (!d)
        return HOOKD_ENOMEM;
    d->loop = loop;
    d->opts = *opts;
    d->done = done;
    for (int i = 0; i < SHARDS; i++) {
        struct shard *sh = &d->shards[i];
        sh->d = d;
        if (!(sh->multi = curl_multi_init())) {
            while (i--)
                curl_multi_cleanup(d->shards[i].multi);
            free(d);
            return HOOKD_ENOMEM;
        }
    }
    for (int i = 0; i < SHARDS; i++) {
        struct shard *sh = &d->shards[i];
        curl_multi_setopt(sh->multi, CURLMOPT_SOCKETFUNCTION, on_curl_socket);
        curl_multi_setopt(sh->multi, CURLMOPT_SOCKETDATA, sh);
        curl_multi_setopt(sh->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
        curl_multi_setopt(sh->multi, CURLMOPT_TIMERDATA, sh);
        /* One connection per attempt in flight stays cached for the next. */
        curl_multi_setopt(sh->multi, CURLMOPT_MAXCONNECTS, (long)(opts->host_concurrency + 64));
        uv_timer_init(loop, &sh->timer);
        sh->timer.data = sh;
    }
    uv_timer_init(loop, &d->tick);
    d->tick.data = d;
    d->open_handles = 1 + SHARDS;
    uv_timer_start(&d->tick, on_tick, TICK_MS, TICK_MS);
    *out = d;
    return 0;
}

void hookd_deliver_submit(struct hookd_deliver *d, struct hookd_attempt *a)
{
    a->d = d;
    a->queued_ms = hookd_now_ms();
    a->next = NULL;
    a->easy = a->headers = NULL;
    a->status = 0;
    a->elapsed_ms = 0;
    a->aborted = a->parked = a->refused = a->overflow = a->timed_out = a->opens = 0;
    a->park_until = 0;
    a->resp_bytes = a->hdr_bytes = 0;
    a->retry_after[0] = a->error[0] = '\0';
    d->pending++;
    struct host *h = host_get(d, a->webhook->hostkey);
    if (!h) {
        /* No memory for a host record: fail the attempt through the queue of
         * a stack-free path, so the callback never runs inside submit. */
        d->pending--;
        a->status = 0;
        snprintf(a->error, sizeof(a->error), "could not start: out of memory");
        d->done(a);
        return;
    }
    a->host = h;
    h->queued++;
    if (a->probe) {
        a->next = h->head;
        h->head = a;
        if (!h->tail)
            h->tail = a;
    } else {
        if (h->tail)
            h->tail->next = a;
        else
            h->head = a;
        h->tail = a;
    }
    start_next(d, h);
}

int hookd_deliver_blocked(struct hookd_deliver *d, const char *hostkey, int64_t now_ms,
                          int64_t *until)
{
    struct host *h = host_find(d, hostkey);
    if (!h)
        return 0;
    if (h->paused_until > now_ms + d->opts.queue_wait_ms) {
        *until = h->paused_until;
        return 1;
    }
    if (h->stalled && d->hanging >= d->opts.hang_budget) {
        *until = now_ms + d->opts.queue_wait_ms;
        return 1;
    }
    return 0;
}

void hookd_deliver_hold(struct hookd_deliver *d, const char *hostkey)
{
    struct host *h = host_find(d, hostkey);
    if (h && h->head)
        h->opened = 1;
}

void hookd_deliver_pause(struct hookd_deliver *d, const char *hostkey, int64_t until)
{
    struct host *h = host_find(d, hostkey);
    if (h && until > h->paused_until)
        h->paused_until = until;
}

void hookd_deliver_hosts(struct hookd_deliver *d, int64_t now_ms,
                         void (*fn)(void *data, const struct hookd_host_stats *s), void *data)
{
    int64_t minute = now_ms / 60000;
    for (int b = 0; b < HOST_BUCKETS; b++) {
        for (struct host *h = d->hosts[b]; h; h = h->next) {
            struct hookd_host_stats st = {h->key,
                                          hookd_limit_get(&h->lim),
                                          h->lim.max,
                                          h->active,
                                          h->queued,
                                          0,
                                          0,
                                          h->lim.latency_ms > 0 ? h->lim.latency_ms : 0,
                                          hookd_limit_baseline(&h->lim),
                                          h->paused_until > now_ms ? h->paused_until : 0};
            for (int i = 0; i < STATS_SLOTS; i++) {
                if (minute - h->slots[i].minute < STATS_SLOTS) {
                    st.ok += h->slots[i].ok;
                    st.failed += h->slots[i].failed;
                }
            }
            fn(data, &st);
        }
    }
}

size_t hookd_deliver_pending(const struct hookd_deliver *d)
{
    return d->pending;
}

void hookd_deliver_abort_all(struct hookd_deliver *d)
{
    for (int b = 0; b < HOST_BUCKETS; b++)
        for (struct host *h = d->hosts[b]; h; h = h->next)
            hand_back_queue(d, h, 0, 0, 0, 0, "shutting down");
    while (d->running) {
        struct hookd_attempt *a = d->running;
        unlink_running(d, a);
        a->aborted = 1;
        a->status = 0;
        a->elapsed_ms = hookd_now_ms() - a->started_ms;
        snprintf(a->error, sizeof(a->error), "aborted after %lld ms: shutting down",
                 (long long)a->elapsed_ms);
        report_active(d, a, 0);
    }
}

void hookd_deliver_close(struct hookd_deliver *d)
{
    d->closing = 1;
    for (int b = 0; b < HOST_BUCKETS; b++)
        while (d->hosts[b])
            host_free(d, d->hosts[b]);
    while (d->npool)
        curl_easy_cleanup(d->pool[--d->npool]);
    for (int i = 0; i < SHARDS; i++) {
        curl_multi_cleanup(d->shards[i].multi); /* closes cached connections via on_close_socket */
        d->shards[i].multi = NULL;
    }
    free(d->by_fd);
    d->by_fd = NULL;
    d->nfd = 0;
    for (int i = 0; i < SHARDS; i++)
        uv_close((uv_handle_t *)&d->shards[i].timer, on_shard_timer_closed);
    uv_close((uv_handle_t *)&d->tick, on_handle_closed);
}
