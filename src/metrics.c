/* metrics.c - counters, histograms, gauges, the metrics routes and the
 * queue-depth reader.
 *
 * Every value is a relaxed atomic: loops add without locks, and a scrape
 * reads whatever each value holds at that moment. A histogram keeps one
 * count per bucket (not cumulative) and its sum in microseconds, so that no
 * float needs a compare-and-swap; the render accumulates the buckets and
 * takes _count from the same snapshot, so that +Inf always equals _count.
 *
 * Queue depths come from Redis once a second, read by a thread of their
 * own and published as atomics, so that a scrape never waits for Redis and
 * /healthz answers at once even while Redis does not; one read at a time,
 * over one lazily (re)connected synchronous connection with 1 s timeouts. */
#include "hookd/metrics.h"

#include <hiredis/hiredis.h>
#include <inttypes.h>
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "hookd/job.h"
#include "hookd/redis.h"
#include "hookd/ticker.h"
#include "hookd/schema.h"

#define LOOPS_MAX 1024
#define BUCKETS_MAX 16
#define OBSERVE_MAX_S 1e9 /* larger observations are clamped (about 31 years) */
#define DEPTH_TIMEOUT_MS 1000
#define DEPTH_EVERY_MS 1000
#define PROM_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"
#define TEXT_CONTENT_TYPE "text/plain; charset=utf-8"

enum depth { D_EVENTS, D_RETRY, D_DEAD, D_INFLIGHT, D_COUNT };

struct hist {
    const char *name;
    const char *help;
    const double *bounds; /* upper bounds, increasing; +Inf is implied */
    size_t nbounds;
    _Atomic uint64_t buckets[BUCKETS_MAX + 1]; /* per bucket, +Inf last */
    _Atomic uint64_t sum_us;
};

static const double ATTEMPT_BOUNDS[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                        0.5,   1,    2.5,   5,    10,  30};
static const double DELIVERY_BOUNDS[] = {0.01, 0.05, 0.1, 0.5,  1,    5,     10,
                                         30,   60,   300, 1800, 3600, 21600, 86400};

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static _Atomic uint64_t counters[HOOKD_M_COUNTER_COUNT];
static struct hist hists[HOOKD_H_COUNT] = {
    [HOOKD_H_DELIVERY_SECONDS] =
        {.name = "hookd_delivery_duration_seconds",
         .help = "Time from an event's first read to its delivery's 2xx, retries included.",
         .bounds = DELIVERY_BOUNDS,
         .nbounds = NELEM(DELIVERY_BOUNDS)},
    [HOOKD_H_ATTEMPT_SECONDS] = {.name = "hookd_attempt_duration_seconds",
                                 .help =
                                     "Duration of one HTTP delivery attempt, connecting included.",
                                 .bounds = ATTEMPT_BOUNDS,
                                 .nbounds = NELEM(ATTEMPT_BOUNDS)},
};
static _Atomic int nloops;
static _Atomic unsigned char loop_up[LOOPS_MAX];
static _Atomic int draining;
/* Webhooks of loop 0's registry by state, -1 until known. */
enum { W_ENABLED, W_DISABLED, W_INVALID, W_STATES };
static const char *const webhook_states[W_STATES] = {"enabled", "disabled", "invalid"};
static _Atomic int64_t webhooks[HOOKD_NAMESPACES_MAX][W_STATES]; /* each + 1: 0 unknown */
/* Each namespace's depths, -1 when unknown; the names are the reader's. */
static _Atomic int64_t depths[HOOKD_NAMESPACES_MAX][D_COUNT];
static _Atomic int ndepths;                 /* namespaces the reader reads; 0 when none */
static const struct hookd_config *depth_ns; /* their configurations, set before ndepths */
/* Each loop's hosts, as hookd_metrics_set_hosts() last gave them. */
static uv_mutex_t hosts_lock;
static uv_once_t hosts_once = UV_ONCE_INIT;
static struct hookd_host_health *loop_hosts[LOOPS_MAX]; /* malloc'ed, under hosts_lock */
static size_t loop_nhosts[LOOPS_MAX];                   /* entries of loop_hosts[i] */

_Static_assert(NELEM(ATTEMPT_BOUNDS) <= BUCKETS_MAX, "attempt buckets");
_Static_assert(NELEM(DELIVERY_BOUNDS) <= BUCKETS_MAX, "delivery buckets");

/* ---- recording ---- */

void hookd_metrics_count(enum hookd_counter c, uint64_t n)
{
    if ((unsigned)c < HOOKD_M_COUNTER_COUNT)
        atomic_fetch_add_explicit(&counters[c], n, memory_order_relaxed);
}

void hookd_metrics_http_status(long status)
{
    enum hookd_counter c;
    if (status >= 100 && status < 200)
        c = HOOKD_M_HTTP_1XX;
    else if (status >= 200 && status < 300)
        c = HOOKD_M_HTTP_2XX;
    else if (status >= 300 && status < 400)
        c = HOOKD_M_HTTP_3XX;
    else if (status >= 400 && status < 500)
        c = HOOKD_M_HTTP_4XX;
    else if (status >= 500 && status < 600)
        c = HOOKD_M_HTTP_5XX;
    else
        c = HOOKD_M_HTTP_ERROR;
    hookd_metrics_count(c, 1);
}

void hookd_metrics_observe(enum hookd_histogram h, double seconds)
{
    if ((unsigned)h >= HOOKD_H_COUNT || isnan(seconds))
        return;
    struct hist *hs = &hists[h];
    if (seconds < 0)
        seconds = 0;
    if (seconds > OBSERVE_MAX_S)
        seconds = OBSERVE_MAX_S;
    size_t i = 0;
    while (i < hs->nbounds && seconds > hs->bounds[i])
        i++;
    atomic_fetch_add_explicit(&hs->buckets[i], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&hs->sum_us, (uint64_t)llround(seconds * 1e6), memory_order_relaxed);
}

void hookd_metrics_set_loops(int n)
{
    if (n < 0)
        n = 0;
    if (n > LOOPS_MAX)
        n = LOOPS_MAX;
    for (int i = 0; i < LOOPS_MAX; i++)
        atomic_store_explicit(&loop_up[i], 0, memory_order_relaxed);
    atomic_store_explicit(&nloops, n, memory_order_relaxed);
}

void hookd_metrics_set_redis_up(int loop, int up)
{
    if (loop >= 0 && loop < LOOPS_MAX)
        atomic_store_explicit(&loop_up[loop], up ? 1 : 0, memory_order_relaxed);
}

void hookd_metrics_set_draining(void)
{
    atomic_store_explicit(&draining, 1, memory_order_relaxed);
}

void hookd_metrics_set_webhooks(int ns, int64_t enabled, int64_t disabled, int64_t invalid)
{
    const int64_t v[W_STATES] = {enabled, disabled, invalid};
    if (ns < 0 || ns >= HOOKD_NAMESPACES_MAX)
        return;
    for (int i = 0; i < W_STATES; i++)
        atomic_store_explicit(&webhooks[ns][i], v[i] < 0 ? 0 : v[i] + 1, memory_order_relaxed);
}

static void hosts_init(void)
{
    uv_mutex_init(&hosts_lock);
}

void hookd_metrics_set_hosts(int loop, const struct hookd_host_health *h, size_t n)
{
    if (loop < 0 || loop >= LOOPS_MAX)
        return;
    if (n > HOOKD_METRICS_LOOP_HOSTS)
        n = HOOKD_METRICS_LOOP_HOSTS;
    struct hookd_host_health *copy = n ? malloc(n * sizeof(*copy)) : NULL;
    if (n && !copy)
        return; /* the last view stays */
    if (n)
        memcpy(copy, h, n * sizeof(*copy));
    uv_once(&hosts_once, hosts_init);
    uv_mutex_lock(&hosts_lock);
    free(loop_hosts[loop]);
    loop_hosts[loop] = copy;
    loop_nhosts[loop] = n;
    uv_mutex_unlock(&hosts_lock);
}

/* 1 when loops were declared and every one reports Redis up. */
static int redis_up(void)
{
    int n = atomic_load_explicit(&nloops, memory_order_relaxed);
    if (n <= 0)
        return 0;
    for (int i = 0; i < n; i++) {
        if (!atomic_load_explicit(&loop_up[i], memory_order_relaxed))
            return 0;
    }
    return 1;
}

/* ---- rendering ---- */

static int family(struct hookd_buf *out, const char *name, const char *type, const char *help)
{
    return hookd_buf_addf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* One sample of a counter family. A family's rows are adjacent; its first
 * row carries the help text, and a row without a label is the only one. */
struct counter_row {
    const char *family;   /* metric name */
    const char *help;     /* on a family's first row, else NULL */
    const char *label;    /* label name, or NULL */
    const char *value;    /* label value */
    enum hookd_counter c; /* the counter */
};

static const struct counter_row COUNTER_ROWS[] = {
    {"hookd_events_total", "Events read from the queue, by result.", "result", "fanned_out",
     HOOKD_M_EVENTS_FANNED_OUT},
    {"hookd_events_total", NULL, "result", "unrouted", HOOKD_M_EVENTS_UNROUTED},
    {"hookd_events_total", NULL, "result", "invalid", HOOKD_M_EVENTS_INVALID},
    {"hookd_deliveries_total", "Settled delivery attempts, by outcome.", "outcome", "delivered",
     HOOKD_M_DELIVERED},
    {"hookd_deliveries_total", NULL, "outcome", "retried", HOOKD_M_RETRIED},
    {"hookd_deliveries_total", NULL, "outcome", "dead", HOOKD_M_DEAD},
    {"hookd_deliveries_total", NULL, "outcome", "gone", HOOKD_M_GONE},
    {"hookd_deliveries_total", NULL, "outcome", "given_back", HOOKD_M_GIVEN_BACK},
    {"hookd_deliveries_total", NULL, "outcome", "parked", HOOKD_M_PARKED},
    {"hookd_http_responses_total",
     "Delivery attempts by HTTP status class; error is no status at all.", "class", "1xx",
     HOOKD_M_HTTP_1XX},
    {"hookd_http_responses_total", NULL, "class", "2xx", HOOKD_M_HTTP_2XX},
    {"hookd_http_responses_total", NULL, "class", "3xx", HOOKD_M_HTTP_3XX},
    {"hookd_http_responses_total", NULL, "class", "4xx", HOOKD_M_HTTP_4XX},
    {"hookd_http_responses_total", NULL, "class", "5xx", HOOKD_M_HTTP_5XX},
    {"hookd_http_responses_total", NULL, "class", "error", HOOKD_M_HTTP_ERROR},
    {"hookd_redis_reconnects_total", "Times an event loop reconnected to Redis.", NULL, NULL,
     HOOKD_M_REDIS_RECONNECTS},
    {"hookd_redis_watchdog_trips_total",
     "Redis connections declared dead because a reply was later than --redis-timeout.", NULL, NULL,
     HOOKD_M_REDIS_STALLS},
    {"hookd_circuit_transitions_total",
     "Receiver host circuits this process opened, re-opened after a failed probe, or closed.", "to",
     "open", HOOKD_M_CIRCUIT_OPENED},
    {"hookd_circuit_transitions_total", NULL, "to", "reopen", HOOKD_M_CIRCUIT_REOPENED},
    {"hookd_circuit_transitions_total", NULL, "to", "closed", HOOKD_M_CIRCUIT_CLOSED},
    {"hookd_webhooks_disabled_total",
     "Webhooks this process saw disabled, by why: failing (every attempt failed for "
     "--disable-after), gone (410) or other (by hand).",
     "reason", "failing", HOOKD_M_DISABLED_FAILING},
    {"hookd_webhooks_disabled_total", NULL, "reason", "gone", HOOKD_M_DISABLED_GONE},
    {"hookd_webhooks_disabled_total", NULL, "reason", "other", HOOKD_M_DISABLED_OTHER},
    {"hookd_unparked_total", "Parked deliveries this process's sweeps sent back to the retry set.",
     NULL, NULL, HOOKD_M_UNPARKED},
};

static int render_counters(struct hookd_buf *out)
{
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < NELEM(COUNTER_ROWS); i++) {
        const struct counter_row *r = &COUNTER_ROWS[i];
        uint64_t v = atomic_load_explicit(&counters[r->c], memory_order_relaxed);
        if (r->help)
            rc = family(out, r->family, "counter", r->help);
        if (rc == 0 && r->label)
            rc = hookd_buf_addf(out, "%s{%s=\"%s\"} %" PRIu64 "\n", r->family, r->label, r->value,
                                v);
        else if (rc == 0)
            rc = hookd_buf_addf(out, "%s %" PRIu64 "\n", r->family, v);
    }
    return rc;
}

static int render_hist(struct hookd_buf *out, struct hist *h)
{
    uint64_t snap[BUCKETS_MAX + 1], cum = 0;
    for (size_t i = 0; i <= h->nbounds; i++)
        snap[i] = atomic_load_explicit(&h->buckets[i], memory_order_relaxed);
    uint64_t sum_us = atomic_load_explicit(&h->sum_us, memory_order_relaxed);
    int rc = family(out, h->name, "histogram", h->help);
    for (size_t i = 0; rc == 0 && i < h->nbounds; i++) {
        cum += snap[i];
        rc = hookd_buf_addf(out, "%s_bucket{le=\"%g\"} %" PRIu64 "\n", h->name, h->bounds[i], cum);
    }
    cum += snap[h->nbounds];
    if (rc == 0)
        rc =
            hookd_buf_addf(out,
                           "%s_bucket{le=\"+Inf\"} %" PRIu64 "\n"
                           "%s_sum %" PRIu64 ".%06" PRIu64 "\n"
                           "%s_count %" PRIu64 "\n",
                           h->name, cum, h->name, sum_us / 1000000, sum_us % 1000000, h->name, cum);
    return rc;
}

static int render_gauges(struct hookd_buf *out)
{
    static const char *const depth_names[D_COUNT] = {"events", "retry", "dead", "inflight"};
    int rc = family(out, "hookd_redis_up", "gauge",
                    "1 when every event loop is connected to Redis, else 0.");
    if (rc == 0)
        rc = hookd_buf_addf(out, "hookd_redis_up %d\n", redis_up());
    if (rc == 0)
        rc = family(out, "hookd_draining", "gauge",
                    "1 once the process drains after SIGTERM, else 0.");
    if (rc == 0)
        rc = hookd_buf_addf(out, "hookd_draining %d\n",
                            atomic_load_explicit(&draining, memory_order_relaxed) ? 1 : 0);
    if (rc == 0)
        rc = family(out, "hookd_queue_depth", "gauge",
                    "Entries in the shared queues as last read from Redis (absent when the "
                    "read failed); inflight is the leased work of all workers.");
    /* One namespace: its depths. Several: each, labelled, then the sum
     * of each queue when every namespace's is known. */
    int nns = atomic_load_explicit(&ndepths, memory_order_acquire);
    for (int i = 0; rc == 0 && i < D_COUNT; i++) {
        int64_t sum = 0;
        for (int k = 0; rc == 0 && k < nns; k++) {
            int64_t v = atomic_load_explicit(&depths[k][i], memory_order_relaxed);
            sum = v >= 0 && sum >= 0 ? sum + v : -1;
            if (v >= 0 && nns > 1)
                rc = hookd_buf_addf(out, "hookd_queue_depth{namespace=\"%s\",queue=\"%s\"} %lld\n",
                                    depth_ns[k].prefix, depth_names[i], (long long)v);
        }
        if (rc == 0 && nns > 0 && sum >= 0)
            rc = hookd_buf_addf(out, "hookd_queue_depth{queue=\"%s\"} %lld\n", depth_names[i],
                                (long long)sum);
    }
    if (rc == 0)
        rc = family(out, "hookd_webhooks", "gauge",
                    "Webhooks known to this process, by state (absent until loaded).");
    /* The namespaces known: labelled when the depth reader names several,
     * and their sum. */
    for (int i = 0; rc == 0 && i < W_STATES; i++) {
        int64_t sum = 0, known = 0;
        for (int k = 0; rc == 0 && k < HOOKD_NAMESPACES_MAX; k++) {
            int64_t v = atomic_load_explicit(&webhooks[k][i], memory_order_relaxed) - 1;
            if (v < 0)
                continue;
            sum += v;
            known++;
            if (nns > 1 && k < nns)
                rc = hookd_buf_addf(out, "hookd_webhooks{namespace=\"%s\",state=\"%s\"} %lld\n",
                                    depth_ns[k].prefix, webhook_states[i], (long long)v);
        }
        if (rc == 0 && known)
            rc = hookd_buf_addf(out, "hookd_webhooks{state=\"%s\"} %lld\n", webhook_states[i],
                                (long long)sum);
    }
    if (rc == 0)
        rc = family(out, "hookd_build_info", "gauge", "Always 1; the version is a label.");
    if (rc == 0)
        rc = hookd_buf_addf(out, "hookd_build_info{version=\"%s\"} 1\n", HOOKD_VERSION);
    return rc;
}

/* The hosts of every loop merged per host, busiest first, into *out
 * (malloc'ed, the caller frees); the count, or 0. */
static size_t hosts_merged(struct hookd_host_health **out)
{
    size_t n = 0, m = 0;
    *out = NULL;
    uv_once(&hosts_once, hosts_init);
    uv_mutex_lock(&hosts_lock);
    for (int i = 0; i < LOOPS_MAX; i++)
        n += loop_nhosts[i];
    struct hookd_host_health *all = n ? malloc(n * sizeof(*all)) : NULL;
    for (int i = 0; all && i < LOOPS_MAX; i++) {
        if (loop_nhosts[i])
            memcpy(all + m, loop_hosts[i], loop_nhosts[i] * sizeof(*all));
        m += loop_nhosts[i];
    }
    uv_mutex_unlock(&hosts_lock);
    if (!all)
        return 0;
    *out = all;
    return hookd_health_fold(all, n);
}

/* Writes a host key as a label value: backslash and quote escaped. */
static int label_value(struct hookd_buf *out, const char *s)
{
    int rc = 0;
    for (; rc == 0 && *s; s++)
        rc = *s == '\\' || *s == '"' ? hookd_buf_addf(out, "\\%c", *s) : hookd_buf_add(out, s, 1);
    return rc;
}

/* One sample of a per-host gauge. */
static int host_sample(struct hookd_buf *out, const char *family_name, const char *host,
                       long long v)
{
    int rc = hookd_buf_addf(out, "%s{host=\"", family_name);
    if (rc == 0)
        rc = label_value(out, host);
    if (rc == 0)
        rc = hookd_buf_addf(out, "\"} %lld\n", v);
    return rc;
}

/* What one per-host gauge shows of a host. */
static long long host_limit(const struct hookd_host_health *h)
{
    return (long long)h->limit;
}
static long long host_inflight(const struct hookd_host_health *h)
{
    return (long long)h->inflight;
}
static long long host_queued(const struct hookd_host_health *h)
{
    return (long long)h->queued;
}
static long long host_open(const struct hookd_host_health *h)
{
    return strcmp(h->state, "closed") != 0;
}

/* The per-host gauges: a row per family. */
static const struct {
    const char *name, *help;
    long long (*of)(const struct hookd_host_health *);
    int other; /* 1: the hosts past the named are summed as host="other" */
} HOST_GAUGES[] = {
    {"hookd_host_limit",
     "Attempts in flight a receiver host may have, as learned, per host (the busiest; the "
     "rest summed as host=\"other\").",
     host_limit, 1},
    {"hookd_host_inflight", "Attempts running, per host.", host_inflight, 1},
    {"hookd_host_queued", "Attempts waiting in hookd for their host, per host.", host_queued, 1},
    {"hookd_host_circuit_open", "1 while the host's circuit is open or half-open, per named host.",
     host_open, 0},
};

/* Per-host gauges for the HOOKD_METRICS_HOSTS busiest hosts of this
 * process, the rest summed as host="other", and hosts by circuit state. */
static int render_hosts(struct hookd_buf *out)
{
    static const char *const states[] = {"closed", "open", "half-open"};
    struct hookd_host_health *all, other;
    size_t n = hosts_merged(&all), named = n < HOOKD_METRICS_HOSTS ? n : HOOKD_METRICS_HOSTS;
    memset(&other, 0, sizeof(other));
    for (size_t i = named; i < n; i++)
        hookd_health_merge(&other, &all[i]);
    int rc = 0;
    for (size_t g = 0; rc == 0 && g < NELEM(HOST_GAUGES); g++) {
        rc = family(out, HOST_GAUGES[g].name, "gauge", HOST_GAUGES[g].help);
        for (size_t i = 0; rc == 0 && i < named; i++)
            rc = host_sample(out, HOST_GAUGES[g].name, all[i].host, HOST_GAUGES[g].of(&all[i]));
        if (rc == 0 && n > named && HOST_GAUGES[g].other)
            rc = host_sample(out, HOST_GAUGES[g].name, "other", HOST_GAUGES[g].of(&other));
    }
    if (rc == 0)
        rc = family(out, "hookd_hosts", "gauge",
                    "Receiver hosts this process knows, by circuit state.");
    for (size_t s = 0; rc == 0 && s < NELEM(states); s++) {
        long long k = 0;
        for (size_t i = 0; i < n; i++)
            k += strcmp(all[i].state, states[s]) == 0;
        rc = hookd_buf_addf(out, "hookd_hosts{state=\"%s\"} %lld\n", states[s], k);
    }
    free(all);
    return rc;
}

int hookd_metrics_render(struct hookd_buf *out)
{
    int rc = render_counters(out);
    for (int h = 0; rc == 0 && h < HOOKD_H_COUNT; h++)
        rc = render_hist(out, &hists[h]);
    if (rc == 0)
        rc = render_gauges(out);
    if (rc == 0)
        rc = render_hosts(out);
    return rc;
}

/* ---- routes ---- */

static int route_metrics(void *arg, const struct hookd_request *req, struct hookd_response *r)
{
    (void)arg, (void)req;
    r->content_type = PROM_CONTENT_TYPE;
    return hookd_metrics_render(&r->body);
}

static int route_healthz(void *arg, const struct hookd_request *req, struct hookd_response *r)
{
    (void)arg, (void)req;
    r->content_type = TEXT_CONTENT_TYPE;
    return hookd_buf_adds(&r->body, "ok\n");
}

static int route_readyz(void *arg, const struct hookd_request *req, struct hookd_response *r)
{
    (void)arg, (void)req;
    r->content_type = TEXT_CONTENT_TYPE;
    if (atomic_load_explicit(&draining, memory_order_relaxed)) {
        r->status = 503;
        return hookd_buf_adds(&r->body, "draining\n");
    }
    if (!redis_up()) {
        r->status = 503;
        return hookd_buf_adds(&r->body, "redis down\n");
    }
    return hookd_buf_adds(&r->body, "ready\n");
}

static const struct hookd_route ROUTES[] = {
    {.method = "GET", .pattern = "/metrics", .fn = route_metrics},
    {.method = "GET", .pattern = "/healthz", .fn = route_healthz},
    {.method = "GET", .pattern = "/readyz", .fn = route_readyz},
};

const struct hookd_route *hookd_metrics_routes(size_t *n)
{
    *n = NELEM(ROUTES);
    return ROUTES;
}

/* ---- the depth reader ---- */

/* The reader's state; one per process. Fields marked (thread) are touched
 * only by its ticker's thread. */
struct reader {
    struct hookd_ticker *ticker;          /* runs reader_round */
    const struct hookd_config *ns;        /* each namespace's; outlive the reader */
    int nns;                              /* how many */
    char (*keys)[D_COUNT][HOOKD_KEY_MAX]; /* each namespace's depth keys */
    redisContext **rc; /* (thread) each namespace's, NULL until connected or after a failure */
};

static struct reader *reader; /* set while reading; owned by the caller's thread */

/* (thread) Reads namespace k's four depths in one pipelined round trip,
 * connecting first when needed (in a cluster each namespace may live on its
 * own node), and publishes them. A key of the wrong type leaves its depth
 * unknown; a transport failure drops the connection and leaves every depth
 * unknown, and the next read connects again. */
static void depth_read(struct reader *s, int k)
{
    static const char *const cmd[D_COUNT] = {"LLEN", "ZCARD", "LLEN", "ZCARD"};
    char err[HOOKD_ERRLEN];
    int64_t got[D_COUNT] = {-1, -1, -1, -1};
    int ok = 1;

    if (!s->rc[k])
        s->rc[k] = hookd_redis_connect_timeout(&s->ns[k], DEPTH_TIMEOUT_MS, err);
    ok = s->rc[k] != NULL;
    for (int i = 0; ok && i < D_COUNT; i++) {
        const char *argv[2] = {cmd[i], s->keys[k][i]};
        ok = redisAppendCommandArgv(s->rc[k], 2, argv, NULL) == REDIS_OK;
    }
    for (int i = 0; ok && i < D_COUNT; i++) {
        void *v = NULL;
        if (redisGetReply(s->rc[k], &v) != REDIS_OK || !v) {
            ok = 0;
            break;
        }
        redisReply *r = v;
        if (r->type == REDIS_REPLY_INTEGER && r->integer >= 0)
            got[i] = r->integer;
        if (hookd_redis_reply_judge(s->rc[k], r))
            ok = 0; /* dropped below: the next read locates the node again */
        freeReplyObject(r);
    }
    if (!ok && s->rc[k]) {
        for (int i = 0; i < D_COUNT; i++)
            got[i] = -1;
        redisFree(s->rc[k]);
        s->rc[k] = NULL;
    }
    for (int i = 0; i < D_COUNT; i++)
        atomic_store_explicit(&depths[k][i], got[i], memory_order_relaxed);
}

/* (thread) One round: every namespace's depths. */
static void reader_round(void *arg)
{
    struct reader *s = arg;
    for (int k = 0; k < s->nns; k++)
        depth_read(s, k);
}

/* Frees s, whose thread is not running. */
static void reader_free(struct reader *s)
{
    for (int k = 0; s->rc && k < s->nns; k++)
        if (s->rc[k])
            redisFree(s->rc[k]);
    free(s->rc);
    free(s->keys);
    free(s);
}

int hookd_metrics_start(const struct hookd_config *ns, int nns, char *errbuf)
{
    static const enum hookd_key_id depth_key[D_COUNT] = {HOOKD_K_EVENTS, HOOKD_K_RETRY,
                                                         HOOKD_K_DEAD, HOOKD_K_LEASES};
    if (reader)
        return hookd_fail(errbuf, HOOKD_EINVAL, "metrics: already reading");
    if (nns < 1 || nns > HOOKD_NAMESPACES_MAX)
        return hookd_fail(errbuf, HOOKD_ERANGE, "metrics: %d namespaces", nns);
    struct reader *s = calloc(1, sizeof(*s));
    if (!s || !(s->keys = calloc((size_t)nns, sizeof(*s->keys))) ||
        !(s->rc = calloc((size_t)nns, sizeof(*s->rc)))) {
        if (s)
            reader_free(s);
        return hookd_fail(errbuf, HOOKD_ENOMEM, "metrics: out of memory");
    }
    s->ns = ns;
    s->nns = nns;
    for (int k = 0; k < nns; k++)
        for (int i = 0; i < D_COUNT; i++) {
            hookd_schema_key(s->keys[k][i], ns[k].prefix, depth_key[i]);
            atomic_store_explicit(&depths[k][i], -1, memory_order_relaxed);
        }
    depth_ns = ns;
    atomic_store_explicit(&ndepths, nns, memory_order_release);
    char why[HOOKD_ERRLEN];
    int rc = hookd_ticker_start(reader_round, s, DEPTH_EVERY_MS, &s->ticker, why);
    if (rc != 0) {
        atomic_store_explicit(&ndepths, 0, memory_order_release);
        reader_free(s);
        return hookd_fail(errbuf, rc, "metrics: %s", why);
    }
    reader = s;
    return 0;
}

void hookd_metrics_stop(void)
{
    struct reader *s = reader;
    if (!s)
        return;
    hookd_ticker_stop(s->ticker);
    atomic_store_explicit(&ndepths, 0, memory_order_release);
    reader = NULL;
    reader_free(s);
}
