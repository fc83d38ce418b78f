/* metrics.h - process-wide counters, histograms and the /metrics endpoint.
 *
 * Loops record with relaxed atomics (no locks on the hot path). The routes
 * /metrics (Prometheus text format 0.0.4), /healthz and /readyz run on an
 * HTTP server's threads (server.h; main.c starts it on --metrics-addr). A
 * thread of its own, started by hookd_metrics_start(), reads queue depths
 * from Redis once a second, shared by every scrape. */
#ifndef HOOKD_METRICS_H
#define HOOKD_METRICS_H

#include <stdint.h>

#include "hookd/config.h"
#include "hookd/health.h"
#include "hookd/server.h"

#define HOOKD_METRICS_HOSTS 20        /* hosts /metrics names; the rest are host="other" */
#define HOOKD_METRICS_LOOP_HOSTS 1000 /* hosts one loop reports, at most (the busiest) */

enum hookd_counter {
    HOOKD_M_EVENTS_FANNED_OUT, /* hookd_events_total{result="fanned_out"} */
    HOOKD_M_EVENTS_UNROUTED,   /* hookd_events_total{result="unrouted"}, as in {P}:stats */
    HOOKD_M_EVENTS_INVALID,    /* hookd_events_total{result="invalid"} */
    HOOKD_M_DELIVERED,         /* hookd_deliveries_total{outcome="delivered"} */
    HOOKD_M_RETRIED,           /* hookd_deliveries_total{outcome="retried"} */
    HOOKD_M_DEAD,              /* hookd_deliveries_total{outcome="dead"} */
    HOOKD_M_GONE,              /* hookd_deliveries_total{outcome="gone"} (410, webhook disabled) */
    HOOKD_M_GIVEN_BACK,        /* hookd_deliveries_total{outcome="given_back"} (drain) */
    HOOKD_M_PARKED,            /* hookd_deliveries_total{outcome="parked"} (host cannot take it) */
    HOOKD_M_HTTP_1XX,          /* hookd_http_responses_total{class="1xx"} */
    HOOKD_M_HTTP_2XX,          /* ...{class="2xx"} */
    HOOKD_M_HTTP_3XX,          /* ...{class="3xx"} */
    HOOKD_M_HTTP_4XX,          /* ...{class="4xx"} */
    HOOKD_M_HTTP_5XX,          /* ...{class="5xx"} */
    HOOKD_M_HTTP_ERROR,        /* ...{class="error"} (no status: timeout, refused, ...) */
    HOOKD_M_REDIS_RECONNECTS,  /* hookd_redis_reconnects_total */
    HOOKD_M_REDIS_STALLS,      /* hookd_redis_watchdog_trips_total */
    HOOKD_M_CIRCUIT_OPENED,    /* hookd_circuit_transitions_total{to="open"} */
    HOOKD_M_CIRCUIT_REOPENED,  /* ...{to="reopen"}: a probe failed */
    HOOKD_M_CIRCUIT_CLOSED,    /* ...{to="closed"}: a probe succeeded */
    HOOKD_M_DISABLED_FAILING,  /* hookd_webhooks_disabled_total{reason="failing"} */
    HOOKD_M_DISABLED_GONE,     /* ...{reason="gone"} */
    HOOKD_M_DISABLED_OTHER,    /* ...{reason="other"} */
    HOOKD_M_UNPARKED,          /* hookd_unparked_total */
    HOOKD_M_COUNTER_COUNT
};

enum hookd_histogram {
    HOOKD_H_DELIVERY_SECONDS, /* hookd_delivery_duration_seconds: first read to 2xx */
    HOOKD_H_ATTEMPT_SECONDS,  /* hookd_attempt_duration_seconds: one HTTP attempt */
    HOOKD_H_COUNT
};

/* Adds n to a counter. Thread-safe, lock-free. */
void hookd_metrics_count(enum hookd_counter c, uint64_t n);
/* Counts an HTTP status (0 for none) in its class. */
void hookd_metrics_http_status(long status);
/* Records one observation in seconds. Thread-safe, lock-free. */
void hookd_metrics_observe(enum hookd_histogram h, double seconds);
/* Sets loop i's Redis state (1 up, 0 down); /readyz is 200 only when every
 * loop is up and the process is not draining. */
void hookd_metrics_set_redis_up(int loop, int up);
/* Declares how many loops there are (before the first set_redis_up). */
void hookd_metrics_set_loops(int n);
/* Replaces loop's view of its receiver hosts with n records (copied; past
 * HOOKD_METRICS_LOOP_HOSTS the rest are dropped), for the per-host gauges.
 * Thread-safe (a mutex: it runs every few seconds, not per delivery). */
void hookd_metrics_set_hosts(int loop, const struct hookd_host_health *h, size_t n);
/* Marks the process as draining (/readyz then answers 503). */
void hookd_metrics_set_draining(void);
/* Sets the number of namespace ns's webhooks (from its first loop's
 * registry) that are enabled, disabled, and invalid (whose events go to the
 * dead list); an invalid one counts in that state only. /metrics shows the
 * sum over the namespaces, and each one labelled when there are several. */
void hookd_metrics_set_webhooks(int ns, int64_t enabled, int64_t disabled, int64_t invalid);

/* Writes the whole exposition (counters, histograms, gauges, depths as last
 * read) into out. */
int hookd_metrics_render(struct hookd_buf *out);

/* The three routes (GET /metrics, /healthz, /readyz; no auth), static: n
 * rows that live as long as the process. /healthz is 200 "ok"; /readyz 200
 * "ready", or 503 "draining" / "redis down". */
const struct hookd_route *hookd_metrics_routes(size_t *n);

/* Starts the thread that reads queue depths once a second from the Redis
 * of each of the nns namespaces ns[0..nns) (which outlive it); /metrics
 * shows each namespace's, labelled, and their sums when there are several.
 * Fails with HOOKD_EIO (no thread) with a reason in errbuf. */
int hookd_metrics_start(const struct hookd_config *ns, int nns, char *errbuf);
/* Stops the depth reader and waits for it (at most one read's Redis
 * timeouts); no-op when it is not running. */
void hookd_metrics_stop(void);

#endif
