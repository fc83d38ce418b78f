/* worker.c - one loop: take events, fan them out, deliver, settle.
 *
 * Work arrives in batches from the queue. An event ("e:" token) becomes one
 * delivery per subscribed webhook; the event is acknowledged once every one
 * of its deliveries is settled (delivered, scheduled for retry, or dead). A
 * delivery that failed before ("d:" token) comes back alone, as a job. Each
 * settlement is buffered in the queue and flushed in batches. Held tokens
 * have their leases renewed every third of a lease, so work that waits in a
 * host queue is not taken by another worker meanwhile.
 *
 * A take that gets fewer items than it asked for has emptied the queue. The
 * next take is then made by a timer, not by each delivery that ends: after
 * IDLE_MIN_MS, doubling while takes find nothing. Under load such a poll a
 * millisecond later finds a batch, cheaper for Redis than a take per event.
 * Once takes have found nothing for 3 ms (the interval reached IDLE_WAIT_MS),
 * the worker stops polling and waits on the queue's wake connection
 * (BLMOVE), and takes as soon as an event arrives. Due retries and expired
 * leases raise no such signal, so it still takes every IDLE_WAKE_MS while
 * waiting, or sooner when the take said a retry falls due before that.
 * Without the wake connection it polls on up to IDLE_MAX_MS, as it always
 * did.
 *
 * Receiver health (docs/health.md). A delivery whose host cannot take it
 * soon is parked in Redis under its host, not held: when the fleet's view of
 * the host's circuit (read twice a second) says open, when the deliverer
 * says the host is paused or hangs, or when the deliverer hands back a queue
 * that stopped moving. A run of open_after failures opens the circuit; the
 * queue's tend hands this loop the probe when one is due, and the probe's
 * outcome closes the circuit (its parked deliveries come back) or opens it
 * again for longer. Every failed attempt is noted against its webhook for
 * auto-disable, and the first success after failures ends the run. */
#include "hookd/worker.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "hookd/deliver.h"
#include "hookd/envelope.h"
#include "hookd/health.h"
#include "hookd/job.h"
#include "hookd/log.h"
#include "hookd/metrics.h"
#include "hookd/queue.h"
#include "hookd/registry.h"
#include "hookd/schema.h"
#include "hookd/retry.h"
#include "hookd/sign.h"
#include "hookd/webhook.h"

#define IDLE_MIN_MS 1
#define IDLE_MAX_MS 10
/* Takes while waiting on the wake connection, for expired leases (60 s by
 * default) and due retries (10 s at the earliest by default, and told by the
 * take when sooner): 4 takes a second per loop at rest, against 100. */
#define IDLE_WAKE_MS 250
/* Polls stop and the wait on the wake connection begins when a take finds
 * nothing with the poll interval at this, 3 ms after the last take that got
 * work. A wake-up costs a BLMOVE and a take for what may be one event, so
 * waiting at once would cost Redis more than polls from a few hundred
 * events a second up (see docs/design.md, "Waking up"). */
#define IDLE_WAIT_MS 4
#define FANOUT_STACK 64
/* Bodies a process holds in flight, at most, beyond the first of each loop;
 * with 1 MiB envelopes and 256 attempts in flight they would otherwise take
 * a quarter of a GiB. A take asks for at most TAKE_BYTES_MAX. */
#define HELD_BYTES_MAX ((size_t)32 << 20)
#define TAKE_BYTES_MAX ((size_t)8 << 20)
#define QUEUE_WAIT_MS 1000     /* a host queue that did not move this long is parked */
#define OPEN_AFTER 5           /* failures in a row to one host that open its circuit */
#define PROBE_MIN_MS 1000      /* the first probe interval; it doubles to --probe-max */
#define HEALTH_EVERY_MS 2000   /* this loop's hosts written to {P}:health */
#define HEALTHY_EVERY_MS 60000 /* a webhook's run of failures is ended at least this often */
#define TABLE_BUCKETS 256

/* The counters a worker adds up between settles: {P}:stats' (schema.h). */
enum counter {
    C_EVENTS = HOOKD_STAT_EVENTS,
    C_INVALID = HOOKD_STAT_INVALID,
    C_UNROUTED = HOOKD_STAT_UNROUTED,
    C_DELIVERED = HOOKD_STAT_DELIVERED,
    C_FAILED = HOOKD_STAT_FAILED_ATTEMPTS,
    C_RETRIED = HOOKD_STAT_RETRIED,
    C_DEAD = HOOKD_STAT_DEAD,
    C_GONE = HOOKD_STAT_GONE,
    C_COUNT = HOOKD_STAT_COUNT
};

/* A token this worker holds a lease on: an event, or a retried delivery. */
struct work {
    struct work *prev, *next; /* the worker's list of held tokens */
    int remaining;            /* deliveries not yet settled */
    int is_event;             /* "e:" token: acknowledge when remaining hits 0 */
    char token[];             /* the token */
};

/* An open circuit, as this loop last read {P}:circuit. */
struct circuit {
    struct circuit *next;         /* bucket chain */
    struct hookd_circuit c;       /* the record */
    char host[HOOKD_HOSTKEY_MAX]; /* its host key */
};

/* What this loop knows of one webhook's run of failures. */
struct wstate {
    struct wstate *next; /* bucket chain */
    int failing;         /* a failure was noted since the last success was */
    int64_t healthy_at;  /* when a success was last noted */
    char id[];           /* the webhook id */
};

/* A body shared by the deliveries of one event. */
struct body {
    int refs;               /* deliveries using it */
    size_t len;             /* bytes */
    char *data;             /* malloc'ed bytes */
    struct hookd_worker *w; /* whose held bytes it counts in */
};

/* One delivery in flight. Freed after its attempt is settled. */
struct delivery {
    struct hookd_attempt a;          /* the HTTP attempt; a.data points back here */
    struct hookd_worker *w;          /* owner */
    struct work *work;               /* the token it settles against */
    struct body *body;               /* shared body */
    struct hookd_registry *reg;      /* keeps a.webhook alive */
    int attempt;                     /* 1-based number of this attempt */
    int64_t first_ms;                /* when the event was first read */
    char id[37];                     /* delivery id, "msg_..." */
    char event_id[HOOKD_ID_MAX + 1]; /* the event's id */
    char event[HOOKD_EVENT_MAX + 1]; /* the event's name */
};

struct hookd_worker {
    const struct hookd_config *cfg;   /* shared, read-only */
    int index;                        /* 0.. threads-1, for logs */
    int ns;                           /* its namespace's index, for the metrics */
    int lead;                         /* its namespace's first loop: it reports the webhooks */
    uv_thread_t thread;               /* runs run_thread() */
    uv_loop_t loop;                   /* this worker's loop */
    uv_async_t stop_async;            /* wakes the loop to drain */
    uv_timer_t take_timer;            /* next take after an empty one */
    uv_timer_t renew_timer;           /* lease renewal */
    uv_timer_t drain_timer;           /* drain deadline */
    uv_timer_t health_timer;          /* writes this loop's hosts to {P}:health */
    struct hookd_queue *q;            /* Redis side */
    struct hookd_deliver *d;          /* HTTP side */
    struct hookd_registry *reg;       /* current webhooks, NULL until loaded */
    struct hookd_retry_policy policy; /* backoff */
    struct work *works;               /* held tokens */
    size_t inflight;                  /* deliveries not yet settled */
    size_t cap;                       /* this loop's share of concurrency */
    size_t held_bytes;                /* bytes of the bodies in flight */
    size_t bytes_cap;                 /* this loop's share of HELD_BYTES_MAX */
    int64_t idle_ms;                  /* current wait after an empty take */
    int asked;                        /* items the take in flight asked for */
    int drained;                      /* the last take emptied the queue */
    int64_t clock_offset;             /* Redis clock minus ours, ms */
    size_t skipped;                   /* members of {P}:webhooks that are no ids, last told */
    struct circuit *circuits[TABLE_BUCKETS]; /* open circuits, as last read */
    size_t ncircuits;                        /* entries in circuits */
    struct wstate *wstates[TABLE_BUCKETS];   /* runs of failures, per webhook */
    char instance[HOOKD_INSTANCE_MAX];       /* "<hostname>:<pid>/<index>", for {P}:health */
    struct hookd_host_health *hosts;         /* this round's host records, for /metrics */
    struct hookd_webhook ops;                /* --ops-url as a webhook, when set */
    size_t nhosts, caphosts;                 /* records in hosts, room for */
    int64_t counters[C_COUNT];               /* not yet added to {P}:stats */
    uint64_t rng;                            /* xorshift state for jitter */
    int draining;                            /* stop was asked */
    int closing;                             /* handles are being closed */
    int up;                                  /* Redis connected */
    int was_up;                              /* connected at least once */
};

static void maybe_take(struct hookd_worker *w);
static void maybe_finish(struct hookd_worker *w);

static double rand01(struct hookd_worker *w)
{
    uint64_t x = w->rng;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    w->rng = x;
    return (double)(x >> 11) / 9007199254740992.0;
}

static int64_t redis_now(const struct hookd_worker *w)
{
    return hookd_now_ms() + w->clock_offset;
}

/* ---- circuits ---- */

static struct circuit *circuit_find(const struct hookd_worker *w, const char *host)
{
    if (!w->ncircuits)
        return NULL;
    for (struct circuit *c = w->circuits[hookd_hash_str(host) % TABLE_BUCKETS]; c; c = c->next)
        if (strcmp(c->host, host) == 0)
            return c;
    return NULL;
}

static void circuits_clear(struct hookd_worker *w)
{
    for (int b = 0; b < TABLE_BUCKETS; b++) {
        while (w->circuits[b]) {
            struct circuit *c = w->circuits[b];
            w->circuits[b] = c->next;
            free(c);
        }
    }
    w->ncircuits = 0;
}

/* Records host's circuit as open (until, interval), or updates it. */
static void circuit_put(struct hookd_worker *w, const char *host, const struct hookd_circuit *rec)
{
    struct circuit *c = circuit_find(w, host);
    if (!c) {
        if (strlen(host) >= sizeof(c->host) || !(c = calloc(1, sizeof(*c))))
            return;
        hookd_str_copy(c->host, sizeof(c->host), host);
        uint32_t b = hookd_hash_str(host) % TABLE_BUCKETS;
        c->next = w->circuits[b];
        w->circuits[b] = c;
        w->ncircuits++;
    }
    c->c = *rec;
}

/* The state health reports for host: open, half-open (a probe is due or
 * out) or closed. */
static const char *circuit_state(const struct hookd_worker *w, const char *host, int64_t now)
{
    const struct circuit *c = circuit_find(w, host);
    return !c ? "closed" : c->c.open_until > now ? "open" : "half-open";
}

/* ---- runs of failures, for auto-disable ---- */

static struct wstate *wstate_get(struct hookd_worker *w, const char *id)
{
    uint32_t b = hookd_hash_str(id) % TABLE_BUCKETS;
    for (struct wstate *s = w->wstates[b]; s; s = s->next)
        if (strcmp(s->id, id) == 0)
            return s;
    size_t n = strlen(id);
    struct wstate *s = calloc(1, sizeof(*s) + n + 1);
    if (!s)
        hookd_oom();
    memcpy(s->id, id, n + 1);
    s->next = w->wstates[b];
    w->wstates[b] = s;
    return s;
}

/* Notes an attempt's outcome against its webhook: every failure, so that a
 * run of them WINDOW long disables it; a success only when it ends a run
 * this loop saw, or HEALTHY_EVERY_MS after the last (another process may
 * have seen the failures), so that the happy path costs nothing. */
static void note_outcome(struct hookd_worker *w, const struct hookd_webhook *wh, int ok,
                         const char *error)
{
    if (w->cfg->disable_after_ms <= 0)
        return;
    struct wstate *s = wstate_get(w, wh->id);
    int64_t now = redis_now(w);
    if (!ok) {
        char reason[96], dur[HOOKD_I64_LEN];
        hookd_i64_fmt(dur, w->cfg->disable_after_ms / 1000);
        snprintf(reason, sizeof(reason), "every attempt failed for %s s (--disable-after)", dur);
        hookd_queue_failing(w->q, wh->id, now, w->cfg->disable_after_ms, reason, error);
        s->failing = 1;
    } else if (s->failing || now - s->healthy_at >= HEALTHY_EVERY_MS) {
        hookd_queue_healthy(w->q, wh->id);
        s->failing = 0;
        s->healthy_at = now;
    }
}

/* ---- held tokens ---- */

static struct work *work_new(struct hookd_worker *w, const char *token, size_t len, int is_event,
                             int remaining)
{
    struct work *k = malloc(sizeof(*k) + len + 1);
    if (!k)
        hookd_oom();
    memcpy(k->token, token, len);
    k->token[len] = '\0';
    k->is_event = is_event;
    k->remaining = remaining;
    k->prev = NULL;
    k->next = w->works;
    if (w->works)
        w->works->prev = k;
    w->works = k;
    return k;
}

/* Drops one delivery's hold; the last acknowledges an event's token. */
static void work_release(struct hookd_worker *w, struct work *k)
{
    if (--k->remaining > 0)
        return;
    if (k->is_event)
        hookd_queue_ack(w->q, k->token, strlen(k->token));
    if (k->prev)
        k->prev->next = k->next;
    else
        w->works = k->next;
    if (k->next)
        k->next->prev = k->prev;
    free(k);
}

/* A body of len bytes at data (malloc'ed; the body owns it from now on),
 * counted in w's held bytes until its last release. */
static struct body *body_new(struct hookd_worker *w, char *data, size_t len)
{
    struct body *b = malloc(sizeof(*b));
    if (!b)
        hookd_oom();
    b->refs = 1;
    b->data = data;
    b->len = len;
    b->w = w;
    w->held_bytes += len;
    return b;
}

static void body_release(struct body *b)
{
    if (--b->refs == 0) {
        b->w->held_bytes -= b->len;
        free(b->data);
        free(b);
    }
}

/* ---- settling one attempt ---- */

static void settle_flush(struct hookd_worker *w)
{
    hookd_queue_flush(w->q);
}

static void on_before_settle(void *data)
{
    struct hookd_worker *w = data;
    for (int i = 0; i < C_COUNT; i++) {
        if (w->counters[i]) {
            hookd_queue_count(w->q, hookd_schema_stat((enum hookd_stat)i), w->counters[i]);
            w->counters[i] = 0;
        }
    }
}

/* Fills a job record from a delivery, for the retry set or the dead list. */
static void job_of(const struct delivery *dl, int attempt, const char *error, struct hookd_job *j)
{
    j->webhook = dl->a.webhook->id;
    j->delivery = (char *)dl->id;
    j->event_id = (char *)dl->event_id;
    j->event = (char *)dl->event;
    j->attempt = attempt;
    j->first_ms = dl->first_ms;
    j->body = dl->body->data;
    j->body_len = dl->body->len;
    j->last_error = error && *error ? (char *)error : NULL;
}

/* Schedules the delivery's next attempt (number `attempt`) at due. */
static void settle_retry(struct hookd_worker *w, struct delivery *dl, int attempt, int64_t due)
{
    struct hookd_job j;
    struct hookd_buf b;
    char tok[40];
    hookd_buf_init(&b, (size_t)64 << 20);
    job_of(dl, attempt, dl->a.error, &j);
    snprintf(tok, sizeof(tok), "d:%s", dl->id);
    if (hookd_job_encode(&j, &b) == 0)
        hookd_queue_retry(w->q, tok, due, b.data, b.len);
    else
        hookd_error("worker %d: cannot encode delivery %s; its lease will expire", w->index,
                    dl->id);
    hookd_buf_free(&b);
}

static void settle_dead(struct hookd_worker *w, struct delivery *dl, const char *reason)
{
    struct hookd_job j;
    struct hookd_buf b;
    char tok[40];
    hookd_buf_init(&b, (size_t)64 << 20);
    job_of(dl, dl->attempt, dl->a.error, &j);
    snprintf(tok, sizeof(tok), "d:%s", dl->id);
    int rc = hookd_dead_encode_delivery(&j, reason, redis_now(w), &b);
    if (rc == 0)
        hookd_queue_dead(w->q, tok, b.data, b.len);
    else
        hookd_error("worker %d: delivery %s: cannot write its dead record (%s); its lease "
                    "expires and it is taken again",
                    w->index, dl->id, hookd_strerror(rc));
    hookd_buf_free(&b);
    w->counters[C_DEAD]++;
}

static void log_attempt(struct hookd_worker *w, const struct delivery *dl)
{
    const struct hookd_attempt_rec e = {.delivery = dl->id,
                                        .event_id = dl->event_id,
                                        .event = dl->event,
                                        .attempt = dl->attempt,
                                        .status = dl->a.status,
                                        .ms = dl->a.elapsed_ms,
                                        .at = dl->a.started_ms,
                                        .error = dl->a.error};
    struct hookd_attempt_text t;
    hookd_attempt_encode(&e, &t);
    hookd_queue_log(w->q, dl->a.webhook->id, t.fields);
}

static void delivery_free(struct delivery *dl)
{
    body_release(dl->body);
    hookd_registry_release(dl->reg);
    free(dl);
}

/* Says at WARN, at most once per HOOKD_LOG_LIMIT_MS per webhook and reason,
 * that a delivery went to the dead list. */
static void warn_dead(const struct hookd_worker *w, const char *webhook, const char *delivery,
                      const char *reason)
{
    char key[HOOKD_LOG_LIMIT_KEY_MAX];
    snprintf(key, sizeof(key), "dead %s %.64s", webhook, reason);
    hookd_log_limited(HOOKD_LOG_WARN, key,
                      "worker %d: webhook %s: delivery %s to the dead list: %s", w->index, webhook,
                      delivery, reason);
}

/* Says at WARN, at most once per HOOKD_LOG_LIMIT_MS per webhook, that the
 * address policy refused a webhook's receiver, and what would allow it. */
static void warn_refused(const struct hookd_worker *w, const struct delivery *dl)
{
    char key[HOOKD_LOG_LIMIT_KEY_MAX], url[512];
    const struct hookd_webhook *wh = dl->a.webhook;
    snprintf(key, sizeof(key), "refused %s", wh->id);
    hookd_webhook_url_redact(wh->url, url, sizeof(url));
    hookd_log_limited(HOOKD_LOG_WARN, key, "worker %d: webhook %s (%s): %s", w->index, wh->id, url,
                      dl->a.error);
}

/* Parks job, leased as tok, under key (a host key, or HOOKD_PARK_WEBHOOK and
 * a webhook id) until until_ms. Parking makes no attempt, so it spends none
 * of the delivery's: its schedule goes on when it comes back. */
static void park_as(struct hookd_worker *w, const char *tok, const char *key, int64_t until_ms,
                    const struct hookd_job *j)
{
    struct hookd_buf b;
    int64_t now = redis_now(w);
    hookd_buf_init(&b, (size_t)64 << 20);
    if (hookd_job_encode(j, &b) == 0)
        hookd_queue_park(w->q, tok, key, until_ms < now ? now : until_ms, b.data, b.len);
    else
        hookd_error("worker %d: cannot encode delivery %s; its lease will expire", w->index,
                    j->delivery);
    hookd_buf_free(&b);
    hookd_metrics_count(HOOKD_M_PARKED, 1);
}

/* Parks the delivery under its host, until until_ms unless the host's
 * circuit closes first. The caller releases and frees it. */
static void park(struct hookd_worker *w, struct delivery *dl, int64_t until_ms)
{
    struct hookd_job j;
    char tok[40];
    job_of(dl, dl->attempt, dl->a.error, &j);
    snprintf(tok, sizeof(tok), "d:%s", dl->id);
    park_as(w, tok, dl->a.webhook->hostkey, until_ms, &j);
}

/* 1 when a failed attempt says its host is unwell (no answer, 429, 5xx),
 * not only the request (another 4xx). An attempt the address policy refused
 * reached no host: that host is no more reachable than before. */
static int host_failed(const struct hookd_attempt *a)
{
    return !(a->status >= 200 && a->status < 300) &&
           !(a->status >= 400 && a->status < 500 && a->status != 429);
}

/* What an attempt says of its host's circuit: a probe closes it or opens it
 * again for longer; a run of failures opens it. The loop's own view changes
 * at once, the fleet's through Redis. */
static void judge_circuit(struct hookd_worker *w, const struct hookd_attempt *a)
{
    const char *host = a->webhook->hostkey;
    char key[HOOKD_LOG_LIMIT_KEY_MAX];
    int64_t now = redis_now(w);
    if (a->probe && !host_failed(a)) {
        hookd_queue_circuit_close(w->q, host, now);
        hookd_metrics_count(HOOKD_M_CIRCUIT_CLOSED, 1);
        hookd_info("worker %d: %s answered its probe; circuit closed, its parked deliveries "
                   "resume",
                   w->index, host);
        return;
    }
    if (!a->probe && !a->opens)
        return;
    struct hookd_circuit rec = {now + PROBE_MIN_MS, PROBE_MIN_MS, now};
    struct circuit *c = circuit_find(w, host);
    if (c && a->probe) {
        rec = c->c;
        rec.interval =
            rec.interval * 2 < w->cfg->probe_max_ms ? rec.interval * 2 : w->cfg->probe_max_ms;
        rec.open_until = now + rec.interval;
    }
    circuit_put(w, host, &rec);
    hookd_queue_circuit_open(w->q, host, now, PROBE_MIN_MS, w->cfg->probe_max_ms, a->probe);
    hookd_metrics_count(a->probe ? HOOKD_M_CIRCUIT_REOPENED : HOOKD_M_CIRCUIT_OPENED, 1);
    snprintf(key, sizeof(key), "circuit %.100s", host);
    hookd_log_limited(HOOKD_LOG_WARN, key,
                      "worker %d: %s: %s; circuit open, its deliveries are parked and one "
                      "probe goes out every %lld ms at most",
                      w->index, host, a->error, (long long)rec.interval);
}

/* A Retry-After on a 429 or 503 pauses the whole host, as long as it asks
 * (up to --retry-max-delay); returns the delay, or -1 when there is none. */
static int64_t pause_host(struct hookd_worker *w, const struct hookd_attempt *a)
{
    if ((a->status != 429 && a->status != 503) || !a->retry_after[0])
        return -1;
    struct hookd_retry_policy p = w->policy;
    p.base_ms = 0;
    int64_t delay = hookd_retry_after_parse(&p, a->retry_after, redis_now(w));
    if (delay > 0)
        hookd_deliver_pause(w->d, a->webhook->hostkey, hookd_now_ms() + delay);
    return delay < 0 ? -1 : delay < w->policy.base_ms ? w->policy.base_ms : delay;
}

/* The deliverer's callback: judge the attempt, settle it, free it. */
struct ops_post;
static void ops_done(struct ops_post *op);

static void on_attempt_done(struct hookd_attempt *a)
{
    if (!a->data) {
        ops_done((struct ops_post *)a);
        return;
    }
    struct delivery *dl = a->data;
    struct hookd_worker *w = dl->w;
    w->inflight--;
    if (a->parked) {
        char key[HOOKD_LOG_LIMIT_KEY_MAX];
        snprintf(key, sizeof(key), "park %.150s", a->webhook->hostkey);
        hookd_log_limited(HOOKD_LOG_INFO, key, "worker %d: deliveries parked in Redis: %s",
                          w->index, a->error);
        park(w, dl, a->park_until + w->clock_offset);
    } else if (a->aborted) {
        hookd_metrics_count(HOOKD_M_GIVEN_BACK, 1);
        /* Shutting down: give it back as a retry due now, same attempt. */
        settle_retry(w, dl, dl->attempt, redis_now(w));
    } else {
        log_attempt(w, dl);
        hookd_metrics_http_status(a->status);
        hookd_metrics_observe(HOOKD_H_ATTEMPT_SECONDS, (double)a->elapsed_ms / 1000.0);
        judge_circuit(w, a);
        enum hookd_outcome outcome = hookd_retry_classify(&w->policy, a->status, dl->attempt);
        note_outcome(w, a->webhook, outcome == HOOKD_OUTCOME_OK, a->error);
        switch (outcome) {
        case HOOKD_OUTCOME_OK:
            w->counters[C_DELIVERED]++;
            hookd_metrics_count(HOOKD_M_DELIVERED, 1);
            hookd_metrics_observe(HOOKD_H_DELIVERY_SECONDS,
                                  (double)(redis_now(w) - dl->first_ms) / 1000.0);
            if (!dl->work->is_event) {
                char tok[40];
                int n = snprintf(tok, sizeof(tok), "d:%s", dl->id);
                hookd_queue_ack(w->q, tok, (size_t)n);
            }
            break;
        case HOOKD_OUTCOME_RETRY: {
            w->counters[C_FAILED]++;
            w->counters[C_RETRIED]++;
            hookd_metrics_count(HOOKD_M_RETRIED, 1);
            int64_t delay = pause_host(w, a);
            if (delay < 0)
                delay = hookd_retry_delay(&w->policy, dl->attempt, rand01(w));
            hookd_debug("worker %d: %s attempt %d failed (%s), retry in %lld ms", w->index, dl->id,
                        dl->attempt, a->error, (long long)delay);
            settle_retry(w, dl, dl->attempt + 1, redis_now(w) + delay);
            break;
        }
        case HOOKD_OUTCOME_DEAD: {
            w->counters[C_FAILED]++;
            char reason[HOOKD_ERRLEN + 32];
            snprintf(reason, sizeof(reason), "out of attempts: %s", a->error);
            hookd_metrics_count(HOOKD_M_DEAD, 1);
            settle_dead(w, dl, reason);
            warn_dead(w, a->webhook->id, dl->id, reason);
            break;
        }
        case HOOKD_OUTCOME_GONE: {
            char key[HOOKD_LOG_LIMIT_KEY_MAX];
            w->counters[C_FAILED]++;
            w->counters[C_GONE]++;
            hookd_metrics_count(HOOKD_M_GONE, 1);
            hookd_queue_disable(w->q, a->webhook->id, "receiver answered 410 Gone", redis_now(w),
                                a->error);
            settle_dead(w, dl, "410 Gone: webhook disabled");
            snprintf(key, sizeof(key), "gone %s", a->webhook->id);
            hookd_log_limited(HOOKD_LOG_WARN, key,
                              "webhook %s answered 410 Gone and is now disabled; `hookd webhook "
                              "enable %s` enables it again",
                              a->webhook->id, a->webhook->id);
            break;
        }
        }
        if (a->refused)
            warn_refused(w, dl);
    }
    work_release(w, dl->work);
    delivery_free(dl);
    settle_flush(w);
    maybe_take(w);
    maybe_finish(w);
}

/* ---- taking work ---- */

static struct delivery *delivery_new(struct hookd_worker *w, struct work *k,
                                     const struct hookd_webhook *wh, struct body *b)
{
    struct delivery *dl = calloc(1, sizeof(*dl));
    if (!dl)
        hookd_oom();
    dl->w = w;
    dl->work = k;
    dl->body = b;
    b->refs++;
    dl->reg = w->reg;
    hookd_registry_retain(w->reg);
    dl->a.webhook = wh;
    dl->a.delivery_id = dl->id;
    dl->a.body = b->data;
    dl->a.body_len = b->len;
    dl->a.data = dl;
    return dl;
}

/* Hands the delivery to the deliverer, or parks it (and frees it) when its
 * host's circuit is open or the host cannot take it soon. A probe always
 * goes. */
static void submit(struct hookd_worker *w, struct delivery *dl)
{
    const char *host = dl->a.webhook->hostkey;
    int64_t until = 0, now = hookd_now_ms();
    if (!dl->a.probe && (circuit_find(w, host) || hookd_deliver_blocked(w->d, host, now, &until))) {
        park(w, dl, until ? until + w->clock_offset : redis_now(w));
        work_release(w, dl->work);
        delivery_free(dl);
        return;
    }
    w->inflight++;
    hookd_deliver_submit(w->d, &dl->a);
}

/* Moves an item that cannot be understood to the dead list as it is, or
 * as much of it as came when it came cut. */
static void dead_raw(struct hookd_worker *w, const struct hookd_item *it, const char *reason)
{
    struct hookd_buf b;
    hookd_buf_init(&b, SIZE_MAX / 2);
    if (hookd_dead_encode_envelope(it->payload, it->payload_len, it->size, reason, redis_now(w),
                                   &b) == 0)
        hookd_queue_dead(w->q, it->token, b.data, b.len);
    hookd_buf_free(&b);
}

/* Puts an envelope that is not one to the dead list. */
static void refuse_envelope(struct hookd_worker *w, const struct hookd_item *it, const char *reason)
{
    dead_raw(w, it, reason);
    w->counters[C_INVALID]++;
    hookd_metrics_count(HOOKD_M_EVENTS_INVALID, 1);
    hookd_log_limited(HOOKD_LOG_WARN, "envelope", "worker %d: envelope %.*s to the dead list: %s",
                      w->index, (int)it->token_len, it->token, reason);
}

/* Why a cut item came cut, for its dead record (out: HOOKD_ERRLEN bytes). */
static void cut_reason(const struct hookd_worker *w, const struct hookd_item *it, char *out)
{
    size_t cap = (size_t)w->cfg->max_envelope;
    if (it->token[0] == 'e' && it->size > cap)
        snprintf(out, HOOKD_ERRLEN, "envelope is %zu bytes, over --max-envelope (%zu)", it->size,
                 cap);
    else if (it->token[0] == 'e')
        snprintf(out, HOOKD_ERRLEN, "envelope begins with a NUL byte");
    else
        snprintf(out, HOOKD_ERRLEN, "job is %zu bytes, over its cap (%zu)", it->size,
                 hookd_job_max(cap));
}

/* Puts the delivery j (attempt: the attempts made) to the dead list under
 * token with the reason, counts it and says so; nothing of j is freed. */
static void dead_delivery(struct hookd_worker *w, const char *token, const struct hookd_job *j,
                          const char *reason)
{
    struct hookd_buf b;
    hookd_buf_init(&b, SIZE_MAX / 2);
    if (hookd_dead_encode_delivery(j, reason, redis_now(w), &b) == 0)
        hookd_queue_dead(w->q, token, b.data, b.len);
    hookd_buf_free(&b);
    w->counters[C_DEAD]++;
    hookd_metrics_count(HOOKD_M_DEAD, 1);
    warn_dead(w, j->webhook, j->delivery, reason);
}

/* Puts the delivery of env to the webhook with id webhook, never attempted,
 * to the dead list with the reason; a replay sends it once the webhook can
 * take it. */
static void dead_unsent(struct hookd_worker *w, const struct hookd_envelope *env,
                        const char *webhook, const char *reason)
{
    char id[37], tok[40];
    hookd_delivery_id(env->id, webhook, id);
    struct hookd_job j = {
        (char *)webhook, id,  (char *)env->id, (char *)env->event, 0, redis_now(w), env->body,
        env->body_len,   NULL};
    snprintf(tok, sizeof(tok), "d:%s", id);
    dead_delivery(w, tok, &j, reason);
}

/* Why webhook wh (NULL: missing), named by id, cannot take a delivery now,
 * into why; 0 when it can. */
static int unfit(const struct hookd_webhook *wh, const char *id, char *why, size_t len)
{
    if (!wh)
        snprintf(why, len, "webhook %s does not exist", id);
    else if (!wh->enabled)
        snprintf(why, len, "webhook %s is disabled", id);
    else if (wh->invalid)
        snprintf(why, len, "webhook %s is invalid: %s", id, wh->invalid);
    else
        return 0;
    return 1;
}

static void take_event(struct hookd_worker *w, const struct hookd_item *it)
{
    struct hookd_envelope env;
    char err[HOOKD_ERRLEN], why[2 * HOOKD_ERRLEN];
    w->counters[C_EVENTS]++;
    if (it->cut) {
        cut_reason(w, it, err);
        refuse_envelope(w, it, err);
        return;
    }
    if (hookd_envelope_parse(it->payload, it->payload_len, (size_t)w->cfg->max_envelope,
                             redis_now(w), &env, err) != 0) {
        refuse_envelope(w, it, err);
        return;
    }
    const struct hookd_webhook *stack[FANOUT_STACK], **targets = stack;
    size_t max = hookd_registry_count(w->reg), n = 0, live = 0;
    /* An envelope that names a webhook that cannot take it is no event for
     * nobody: its delivery goes to the dead list, replayable. */
    if (env.webhook[0] &&
        unfit(hookd_registry_find(w->reg, env.webhook), env.webhook, why, sizeof(why))) {
        dead_unsent(w, &env, env.webhook, why);
        hookd_queue_ack(w->q, it->token, it->token_len);
        goto out;
    }
    if (max > FANOUT_STACK && !(targets = malloc(max * sizeof(*targets))))
        hookd_oom();
    n = hookd_fanout(w->reg, &env, targets, max);
    if (n == 0) {
        w->counters[C_UNROUTED]++;
        hookd_metrics_count(HOOKD_M_EVENTS_UNROUTED, 1);
        hookd_queue_ack(w->q, it->token, it->token_len);
        goto out;
    }
    hookd_metrics_count(HOOKD_M_EVENTS_FANNED_OUT, 1);
    for (size_t i = 0; i < n; i++) {
        if (unfit(targets[i], targets[i]->id, why, sizeof(why)))
            dead_unsent(w, &env, targets[i]->id, why);
        else
            targets[live++] = targets[i];
    }
    if (live == 0) {
        hookd_queue_ack(w->q, it->token, it->token_len);
        goto out;
    }
    struct work *k = work_new(w, it->token, it->token_len, 1, (int)live + 1);
    struct body *b = body_new(w, env.body, env.body_len);
    env.body = NULL;
    int64_t now = redis_now(w);
    for (size_t i = 0; i < live; i++) {
        struct delivery *dl = delivery_new(w, k, targets[i], b);
        dl->attempt = 1;
        dl->first_ms = now;
        hookd_delivery_id(env.id, targets[i]->id, dl->id);
        hookd_str_copy(dl->event_id, sizeof(dl->event_id), env.id);
        hookd_str_copy(dl->event, sizeof(dl->event), env.event);
        submit(w, dl);
    }
    body_release(b);
    work_release(w, k);
out:
    if (targets != stack)
        free(targets);
    hookd_envelope_free(&env);
}

/* A probe claimed for host that makes no attempt ends its claim by opening
 * the circuit again, for longer: the next one comes after that. */
static void probe_unused(struct hookd_worker *w, const char *host)
{
    if (host)
        hookd_queue_circuit_open(w->q, host, redis_now(w), PROBE_MIN_MS, w->cfg->probe_max_ms, 1);
}

/* Parks job, taken as it, under its disabled webhook (see
 * HOOKD_PARK_WEBHOOK), as it was: its attempts and last error stay. */
static void park_job(struct hookd_worker *w, const struct hookd_item *it, struct hookd_job *job)
{
    char key[sizeof(HOOKD_PARK_WEBHOOK) + HOOKD_ID_MAX], tok[40];
    snprintf(key, sizeof(key), HOOKD_PARK_WEBHOOK "%s", job->webhook);
    snprintf(tok, sizeof(tok), "%.*s", (int)it->token_len, it->token);
    park_as(w, tok, key, 0, job);
}

/* Takes a delivery that failed before, or, when probe names a host, the
 * probe of that host's open circuit. */
static void take_job(struct hookd_worker *w, const struct hookd_item *it, const char *probe)
{
    struct hookd_job job;
    char err[HOOKD_ERRLEN], why[2 * HOOKD_ERRLEN];
    if (it->cut || hookd_job_decode(it->payload, it->payload_len, (size_t)w->cfg->max_envelope,
                                    it->token, it->token_len, &job, err) != 0) {
        probe_unused(w, probe);
        if (it->cut)
            cut_reason(w, it, err);
        dead_raw(w, it, err);
        w->counters[C_DEAD]++;
        hookd_metrics_count(HOOKD_M_DEAD, 1);
        hookd_log_limited(HOOKD_LOG_WARN, "job", "worker %d: job %.*s to the dead list: %s",
                          w->index, (int)it->token_len, it->token, err);
        return;
    }
    const struct hookd_webhook *wh = hookd_registry_find(w->reg, job.webhook);
    if (wh && !wh->enabled) {
        /* A disabled webhook's deliveries wait for `webhook enable`. */
        park_job(w, it, &job);
        hookd_job_free(&job);
        probe_unused(w, probe);
        return;
    }
    if (unfit(wh, job.webhook, why, sizeof(why))) {
        /* No attempt is made; the record keeps everything for a replay. */
        job.attempt--; /* attempts made so far */
        dead_delivery(w, it->token, &job, why);
        hookd_job_free(&job);
        probe_unused(w, probe);
        return;
    }
    if (probe && strcmp(probe, wh->hostkey) != 0) {
        probe_unused(w, probe); /* its webhook moved to another host */
        probe = NULL;
    }
    struct body *b = body_new(w, job.body, job.body_len);
    job.body = NULL;
    struct delivery *dl = delivery_new(w, work_new(w, it->token, it->token_len, 0, 1), wh, b);
    body_release(b);
    dl->attempt = job.attempt;
    dl->first_ms = job.first_ms;
    hookd_str_copy(dl->id, sizeof(dl->id), job.delivery);
    hookd_str_copy(dl->event_id, sizeof(dl->event_id), job.event_id);
    hookd_str_copy(dl->event, sizeof(dl->event), job.event);
    hookd_job_free(&job);
    dl->a.probe = probe != NULL;
    submit(w, dl);
}

/* Takes now, although the last take emptied the queue. */
static void take_now(struct hookd_worker *w)
{
    w->drained = 0;
    maybe_take(w);
}

static void on_take_timer(uv_timer_t *t)
{
    take_now(t->data);
}

/* How long to wait on the wake connection before the next take: IDLE_WAKE_MS,
 * or until the earliest retry is due when that is sooner. */
static int64_t idle_wake_ms(const struct hookd_worker *w, int64_t redis_now_ms)
{
    int64_t due = hookd_queue_next_due(w->q), ms = IDLE_WAKE_MS;
    if (due >= 0 && redis_now_ms > 0 && due - redis_now_ms < ms)
        ms = due - redis_now_ms < IDLE_MIN_MS ? IDLE_MIN_MS : due - redis_now_ms;
    return ms;
}

/* The wait on the wake connection ended: an event arrived, or the wait
 * timed out or failed; either way, take now. */
static void on_wake(void *data)
{
    take_now(data);
}

static void on_take(void *data, const struct hookd_item *items, size_t n, int64_t redis_now_ms)
{
    struct hookd_worker *w = data;
    if (redis_now_ms)
        w->clock_offset = redis_now_ms - hookd_now_ms();
    for (size_t i = 0; i < n; i++) {
        if (items[i].token_len > 2 && items[i].token[0] == 'e' && items[i].token[1] == ':')
            take_event(w, &items[i]);
        else
            take_job(w, &items[i], NULL);
    }
    settle_flush(w);
    if (n >= (size_t)w->asked) {
        /* Full: there may be more. */
        w->idle_ms = IDLE_MIN_MS;
        maybe_take(w);
        return;
    }
    /* The take emptied the queue. */
    w->drained = 1;
    if (n > 0)
        w->idle_ms = IDLE_MIN_MS;
    /* Still empty after polls for IDLE_WAIT_MS: wait instead of polling on.
     * A failed take (no Redis clock) polls: waking as soon as events are
     * there would make a take that keeps failing spin. */
    if (n == 0 && w->idle_ms >= IDLE_WAIT_MS && redis_now_ms && !w->draining &&
        hookd_queue_wait(w->q) == 0) {
        /* idle_ms stays: a take that the timer or the wake connection makes
         * and that finds nothing goes back to waiting at once. */
        uv_timer_start(&w->take_timer, on_take_timer, (uint64_t)idle_wake_ms(w, redis_now_ms), 0);
    } else {
        uv_timer_start(&w->take_timer, on_take_timer, (uint64_t)w->idle_ms, 0);
        w->idle_ms = w->idle_ms * 2 > IDLE_MAX_MS ? IDLE_MAX_MS : w->idle_ms * 2;
    }
}

/* Takes more work when connected, webhooks are known, there is room, and
 * the last take did not empty the queue (then the take timer or the wake
 * connection takes next, not each delivery that ends). */
static void maybe_take(struct hookd_worker *w)
{
    if (w->draining || w->drained || !w->reg || !hookd_queue_ready(w->q) ||
        hookd_queue_taking(w->q))
        return;
    if (w->inflight >= w->cap || (w->inflight && w->held_bytes >= w->bytes_cap))
        return;
    size_t room = w->cap - w->inflight;
    int n = room < (size_t)w->cfg->batch ? (int)room : w->cfg->batch;
    size_t budget = w->held_bytes < w->bytes_cap ? w->bytes_cap - w->held_bytes : 0;
    uv_timer_stop(&w->take_timer);
    if (hookd_queue_take(w->q, n, budget < TAKE_BYTES_MAX ? budget : TAKE_BYTES_MAX) == 0)
        w->asked = n;
}

/* Says what changed about invalid webhooks from old (NULL at the first load)
 * to reg: each one that became invalid, or invalid for another reason, at
 * WARN, and each one fixed, at INFO; so a reload that changes nothing says
 * nothing. */
static void tell_invalid(const struct hookd_registry *old, const struct hookd_registry *reg)
{
    for (size_t i = 0; i < hookd_registry_count(reg); i++) {
        const struct hookd_webhook *wh = hookd_registry_at(reg, i);
        const struct hookd_webhook *was = old ? hookd_registry_find(old, wh->id) : NULL;
        if (wh->invalid && (!was || !was->invalid || strcmp(was->invalid, wh->invalid) != 0))
            hookd_warn("webhook %s is invalid: %s; its deliveries go to the dead list until it "
                       "is fixed (see `hookd webhook show %s`)",
                       wh->id, wh->invalid, wh->id);
        else if (!wh->invalid && was && was->invalid)
            hookd_info("webhook %s is valid again", wh->id);
    }
}

static void on_registry(void *data, struct hookd_registry *reg, size_t skipped)
{
    struct hookd_worker *w = data;
    if (w->lead) {
        int64_t en = 0, bad = (int64_t)hookd_registry_invalid(reg);
        int64_t n = (int64_t)hookd_registry_count(reg);
        for (size_t i = 0; i < (size_t)n; i++) {
            const struct hookd_webhook *wh = hookd_registry_at(reg, i);
            en += wh->enabled && !wh->invalid;
        }
        hookd_metrics_set_webhooks(w->ns, en, n - en - bad, bad);
        tell_invalid(w->reg, reg);
        if (skipped != w->skipped)
            hookd_warn("%zu members of {%s}:webhooks are not webhook ids (1..%d bytes of "
                       "[A-Za-z0-9_.:-]) and are left out",
                       skipped, w->cfg->prefix, HOOKD_ID_MAX);
        w->skipped = skipped;
        if (!w->reg)
            hookd_info("loaded %zu webhooks, %lld of them invalid, in {%s}",
                       hookd_registry_count(reg), (long long)bad, w->cfg->prefix);
    }
    if (w->reg)
        hookd_registry_release(w->reg);
    w->reg = reg;
    maybe_take(w);
}

static void on_state(void *data, int up)
{
    struct hookd_worker *w = data;
    w->up = up;
    hookd_metrics_set_redis_up(w->index, up);
    if (up && w->was_up)
        hookd_metrics_count(HOOKD_M_REDIS_RECONNECTS, 1);
    if (up)
        w->was_up = 1;
    if (up) {
        hookd_info("worker %d: redis connected (%s)", w->index, hookd_queue_where(w->q));
        take_now(w);
    } else if (!w->closing) {
        hookd_warn("worker %d: redis connection lost; reconnecting", w->index);
    }
}

static void on_queue_error(void *data, const char *msg)
{
    struct hookd_worker *w = data;
    hookd_warn("worker %d: %s", w->index, msg);
}

/* ---- circuits and health ---- */

static void on_circuits(void *data, const struct hookd_circuit_entry *e, size_t n)
{
    struct hookd_worker *w = data;
    circuits_clear(w);
    for (size_t i = 0; i < n; i++) {
        circuit_put(w, e[i].host, &e[i].c);
        hookd_deliver_hold(w->d, e[i].host);
    }
}

static void on_probe(void *data, const char *host, const struct hookd_item *it)
{
    struct hookd_worker *w = data;
    if (!w->reg || w->draining) {
        /* Not ready for it: the lease brings it back; the claim ends then. */
        return;
    }
    hookd_debug("worker %d: probing %s with %.*s", w->index, host, (int)it->token_len, it->token);
    take_job(w, it, host);
    settle_flush(w);
}

/* Told once per webhook the fleet disables (the settle script reports it to
 * the loop whose batch did it). */
/* A webhook.disabled on its way to --ops-url; freed when its attempt ends.
 * Its attempt has no data, which tells on_attempt_done what it is. */
struct ops_post {
    struct hookd_attempt a;     /* first: the attempt is the post */
    struct hookd_worker *w;     /* the loop that sends it */
    char id[HOOKD_ID_MAX + 48]; /* the webhook-id header */
    char *body;                 /* JSON, malloc'ed */
};

/* The operator's endpoint answered, or did not: told either way, never
 * retried (the stream {P}:ops is what keeps the event). */
static void ops_done(struct ops_post *op)
{
    struct hookd_attempt *a = &op->a;
    if (a->status >= 200 && a->status < 300)
        hookd_info("worker %d: %s sent to --ops-url (HTTP %ld)", op->w->index, op->id, a->status);
    else
        hookd_warn("worker %d: %s not sent to --ops-url: %s; it stays in {P}:ops", op->w->index,
                   op->id, a->error[0] ? a->error : "no answer");
    free(op->body);
    free(op);
}

/* POSTs webhook.disabled to --ops-url, signed with --ops-secret. */
static void ops_send(struct hookd_worker *w, const struct hookd_disabled *d)
{
    int64_t at = 0;
    char when[32];
    hookd_parse_i64(d->at, 0, INT64_MAX, &at);
    time_t t = (time_t)(at / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
    json_t *o =
        json_pack("{ss ss s{ss ss ss ss ss sI}}", "type", "webhook.disabled", "timestamp", when,
                  "data", "webhook", d->webhook, "workspace", d->workspace, "reason", d->reason,
                  "kind", d->kind, "last_error", d->last_error, "disabled_at", (json_int_t)at);
    char *body = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    struct ops_post *op = body ? calloc(1, sizeof(*op)) : NULL;
    if (!op) {
        free(body);
        hookd_warn("worker %d: out of memory for webhook.disabled of %s to --ops-url; it stays in "
                   "{P}:ops",
                   w->index, d->webhook);
        return;
    }
    op->w = w;
    op->body = body;
    snprintf(op->id, sizeof(op->id), "ops_%s_%s", d->webhook, d->at);
    op->a.webhook = &w->ops;
    op->a.delivery_id = op->id;
    op->a.body = body;
    op->a.body_len = strlen(body);
    hookd_deliver_submit(w->d, &op->a);
}

/* Told once per webhook the fleet disables (the settle script reports it to
 * the loop whose batch did it). */
static void on_disabled(void *data, const struct hookd_disabled *d)
{
    struct hookd_worker *w = data;
    int failing = strcmp(d->kind, "failing") == 0;
    hookd_metrics_count(failing                        ? HOOKD_M_DISABLED_FAILING
                        : strcmp(d->kind, "gone") == 0 ? HOOKD_M_DISABLED_GONE
                                                       : HOOKD_M_DISABLED_OTHER,
                        1);
    if (failing)
        hookd_warn("webhook %s disabled: %s (last error: %s); webhook.disabled is in {P}:ops, "
                   "and `hookd webhook enable %s` sends its parked deliveries",
                   d->webhook, d->reason, d->last_error, d->webhook);
    if (w->cfg->ops_url)
        ops_send(w, d);
}

static void on_unparked(void *data, int64_t n)
{
    struct hookd_worker *w = data;
    hookd_metrics_count(HOOKD_M_UNPARKED, (uint64_t)n);
    take_now(w);
}

/* Writes one host's health to {P}:health (see docs/health.md). */
static void put_health(void *data, const struct hookd_host_stats *st)
{
    struct hookd_worker *w = data;
    struct hookd_host_health h;
    char field[HOOKD_HOSTKEY_MAX + HOOKD_INSTANCE_MAX + 1], value[HOOKD_HEALTH_RECORD_MAX];
    int64_t now = redis_now(w);
    memset(&h, 0, sizeof(h));
    hookd_str_copy(h.host, sizeof(h.host), st->key);
    hookd_str_copy(h.instance, sizeof(h.instance), w->instance);
    hookd_str_copy(h.state, sizeof(h.state), circuit_state(w, st->key, now));
    h.limit = st->limit;
    h.max = st->max;
    h.inflight = st->inflight;
    h.queued = st->queued;
    h.ok = st->ok;
    h.failed = st->failed;
    h.latency_ms = st->latency_ms;
    h.baseline_ms = st->baseline_ms;
    h.paused_until = st->paused_until ? st->paused_until + w->clock_offset : 0;
    h.updated_at = now;
    snprintf(field, sizeof(field), "%s %s", w->instance, st->key);
    if (hookd_health_encode(&h, value, sizeof(value)) > 0)
        hookd_queue_health(w->q, field, value);
    if (w->nhosts == w->caphosts && w->caphosts < HOOKD_METRICS_LOOP_HOSTS) {
        size_t cap = w->caphosts ? 2 * w->caphosts : 16;
        struct hookd_host_health *p = realloc(w->hosts, cap * sizeof(*p));
        if (p) {
            w->hosts = p;
            w->caphosts = cap;
        }
    }
    if (w->nhosts < w->caphosts)
        w->hosts[w->nhosts++] = h;
}

static void on_health_timer(uv_timer_t *t)
{
    struct hookd_worker *w = t->data;
    if (!hookd_queue_ready(w->q))
        return;
    w->nhosts = 0;
    hookd_deliver_hosts(w->d, hookd_now_ms(), put_health, w);
    hookd_metrics_set_hosts(w->index, w->hosts, w->nhosts);
    settle_flush(w);
}

/* ---- leases ---- */

static void on_renew(uv_timer_t *t)
{
    struct hookd_worker *w = t->data;
    size_t n = 0;
    for (struct work *k = w->works; k; k = k->next)
        n++;
    if (!n)
        return;
    const char **tokens = malloc(n * sizeof(*tokens));
    if (!tokens)
        return;
    n = 0;
    for (struct work *k = w->works; k; k = k->next)
        tokens[n++] = k->token;
    hookd_queue_renew(w->q, tokens, n);
    free(tokens);
}

/* ---- shutdown ---- */

static void on_handle_closed(uv_handle_t *h)
{
    (void)h;
}

static void on_queue_closed(void *data)
{
    struct hookd_worker *w = data;
    uv_close((uv_handle_t *)&w->stop_async, on_handle_closed);
    uv_close((uv_handle_t *)&w->take_timer, on_handle_closed);
    uv_close((uv_handle_t *)&w->renew_timer, on_handle_closed);
    uv_close((uv_handle_t *)&w->drain_timer, on_handle_closed);
    uv_close((uv_handle_t *)&w->health_timer, on_handle_closed);
    hookd_deliver_close(w->d);
}

/* Once draining and nothing is in flight, flushes and closes. */
static void maybe_finish(struct hookd_worker *w)
{
    if (!w->draining || w->closing || w->inflight)
        return;
    w->closing = 1;
    uv_timer_stop(&w->drain_timer);
    uv_timer_stop(&w->renew_timer);
    uv_timer_stop(&w->take_timer);
    uv_timer_stop(&w->health_timer);
    hookd_queue_close(w->q, 5000);
}

static void on_drain_timeout(uv_timer_t *t)
{
    struct hookd_worker *w = t->data;
    hookd_warn("worker %d: drain timeout: giving back %zu deliveries", w->index, w->inflight);
    hookd_deliver_abort_all(w->d);
    maybe_finish(w);
}

static void on_stop(uv_async_t *a)
{
    struct hookd_worker *w = a->data;
    if (w->draining)
        return;
    w->draining = 1;
    uv_timer_stop(&w->take_timer);
    if (w->inflight)
        uv_timer_start(&w->drain_timer, on_drain_timeout, (uint64_t)w->cfg->drain_timeout_ms, 0);
    maybe_finish(w);
}

/* ---- thread ---- */

static void run_thread(void *arg)
{
    struct hookd_worker *w = arg;
    uv_run(&w->loop, UV_RUN_DEFAULT);
    hookd_queue_free(w->q);
    w->q = NULL;
    if (w->reg)
        hookd_registry_release(w->reg);
    w->reg = NULL;
    while (w->works) {
        struct work *k = w->works;
        w->works = k->next;
        free(k);
    }
    circuits_clear(w);
    free(w->hosts);
    w->hosts = NULL;
    hookd_webhook_clear(&w->ops);
    w->nhosts = w->caphosts = 0;
    hookd_metrics_set_hosts(w->index, NULL, 0);
    for (int b = 0; b < TABLE_BUCKETS; b++) {
        while (w->wstates[b]) {
            struct wstate *s = w->wstates[b];
            w->wstates[b] = s->next;
            free(s);
        }
    }
    uv_loop_close(&w->loop);
}

int hookd_worker_start(const struct hookd_config *cfg, const struct hookd_worker_place *place,
                       struct hookd_worker **out)
{
    int index = place->index;
    struct hookd_worker *w = calloc(1, sizeof(*w));
    if (!w)
        return HOOKD_ENOMEM;
    w->cfg = cfg;
    if (cfg->ops_url) {
        char why[HOOKD_ERRLEN]; /* judged by hookd_config_check already */
        if (hookd_webhook_ops(&w->ops, cfg->ops_url, cfg->ops_secret, why) != 0)
            hookd_error("worker %d: ops-url: %s", index, why);
    }
    w->index = index;
    w->ns = place->ns;
    w->lead = place->lead;
    w->cap = (size_t)((cfg->concurrency + cfg->threads - 1) / cfg->threads);
    w->bytes_cap = HELD_BYTES_MAX / (size_t)cfg->threads;
    w->idle_ms = IDLE_MIN_MS;
    w->policy = (struct hookd_retry_policy){cfg->retry_base_ms, cfg->retry_factor,
                                            cfg->retry_max_delay_ms, cfg->max_attempts, 0.2};
    w->rng = (uint64_t)hookd_now_ms() * 2654435761u + (uint64_t)index * 0x9E3779B97F4A7C15ull + 1;
    if (uv_loop_init(&w->loop) != 0) {
        free(w);
        return HOOKD_EIO;
    }
    struct hookd_deliver_opts dopts = {
        .host_concurrency = (cfg->host_concurrency + cfg->threads - 1) / cfg->threads,
        .timeout_ms = cfg->timeout_ms,
        .connect_timeout_ms = cfg->connect_timeout_ms,
        .max_timeout_ms = cfg->lease_ms * 9 / 10,
        .allow = &cfg->allow_net,
        .max_response = 64 * 1024,
        .queue_wait_ms = QUEUE_WAIT_MS,
        .open_after = OPEN_AFTER,
        .hang_budget = (int)(w->cap / 2 > 0 ? w->cap / 2 : 1),
        .park_above = w->cap / 2,
    };
    char hostname[64] = "";
    if (gethostname(hostname, sizeof(hostname) - 1) != 0)
        hookd_str_copy(hostname, sizeof(hostname), "unknown");
    snprintf(w->instance, sizeof(w->instance), "%s:%ld/%d", hostname, (long)getpid(), index);
    struct hookd_queue_cbs cbs = {
        .on_take = on_take,
        .on_registry = on_registry,
        .on_state = on_state,
        .before_settle = on_before_settle,
        .on_error = on_queue_error,
        .on_closed = on_queue_closed,
        .on_wake = on_wake,
        .on_circuits = on_circuits,
        .on_probe = on_probe,
        .on_unparked = on_unparked,
        .on_disabled = on_disabled,
    };
    int rc = hookd_deliver_new(&w->loop, &dopts, on_attempt_done, &w->d);
    if (rc == 0)
        rc = hookd_queue_new(&w->loop, cfg, &cbs, w, &w->q);
    if (rc) {
        uv_loop_close(&w->loop);
        free(w);
        return rc;
    }
    uv_async_init(&w->loop, &w->stop_async, on_stop);
    uv_timer_init(&w->loop, &w->take_timer);
    uv_timer_init(&w->loop, &w->renew_timer);
    uv_timer_init(&w->loop, &w->drain_timer);
    uv_timer_init(&w->loop, &w->health_timer);
    w->stop_async.data = w->take_timer.data = w->renew_timer.data = w->drain_timer.data =
        w->health_timer.data = w;
    uv_timer_start(&w->health_timer, on_health_timer, HEALTH_EVERY_MS, HEALTH_EVERY_MS);
    uint64_t every = (uint64_t)(cfg->lease_ms / 3 > 0 ? cfg->lease_ms / 3 : 1);
    uv_timer_start(&w->renew_timer, on_renew, every, every);
    if (uv_thread_create(&w->thread, run_thread, w) != 0)
        return HOOKD_EIO;
    *out = w;
    return 0;
}

void hookd_worker_stop(struct hookd_worker *w)
{
    uv_async_send(&w->stop_async);
}

void hookd_worker_join(struct hookd_worker *w)
{
    uv_thread_join(&w->thread);
    free(w);
}
