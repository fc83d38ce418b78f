/* deliver.h - HTTP attempts on one libuv loop, through one curl multi handle.
 *
 * A deliverer belongs to one loop and is used from that loop's thread only.
 * It signs each attempt as it starts (so the timestamp is the attempt's),
 * refuses non-public addresses at connect time, keeps connections alive
 * between attempts, and reports each finished attempt through one callback.
 *
 * Each receiver host (scheme, host and port) gets a limiter (health.h) that
 * learns how many attempts it takes at once, up to host_concurrency; what
 * waits beyond it waits in the host's own queue, not inside curl. A host that
 * cannot take an attempt soon (it finished nothing for queue_wait_ms, a
 * Retry-After pauses it, or it hangs while hanging attempts fill their
 * budget) hands its queue back, unstarted, for the caller to park; a host
 * that moves but is behind, while the deliverer holds more than park_above,
 * hands back what it would not start within HOOKD_DELIVER_BEHIND_MS; and
 * hookd_deliver_blocked() tells the caller so before it submits. Host records
 * outlive their attempts, so that what was learned stays, and go after
 * HOOKD_DELIVER_HOST_IDLE_MS without one. */
#ifndef HOOKD_DELIVER_H
#define HOOKD_DELIVER_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "hookd/common.h"
#include "hookd/net.h"
#include "hookd/registry.h"

struct hookd_deliver; /* opaque */

#define HOOKD_DELIVER_HOST_IDLE_MS (10 * 60 * 1000)
#define HOOKD_DELIVER_BEHIND_MS 5000 /* a host moving slower keeps this much of its queue */

/* Settings fixed for the deliverer's life. */
struct hookd_deliver_opts {
    int host_concurrency;       /* attempts in flight per host key, at most */
    int64_t timeout_ms;         /* default whole-attempt timeout */
    int64_t connect_timeout_ms; /* default connect timeout */
    int64_t max_timeout_ms;     /* cap on per-webhook overrides (below the lease) */
    const struct hookd_netlist
        *allow;            /* non-public ranges allowed; lives as long as the deliverer */
    size_t max_response;   /* response body bytes read at most */
    int64_t queue_wait_ms; /* a host that finished nothing this long, with its queue's
                            * head waiting as long, hands it back (0: never) */
    size_t park_above;     /* attempts held before a host that is behind hands back */
    int open_after;        /* failures in a row that set hookd_attempt.opens */
    int hang_budget;       /* attempts to hosts that finished nothing for a while, at most */
};

/* One HTTP attempt. The caller owns the memory (usually embedded in its own
 * delivery record) and keeps it, the webhook and the body alive until the
 * done callback has returned. The callback may free it. */
struct hookd_attempt {
    /* set by the caller */
    const struct hookd_webhook *webhook; /* where and how to sign */
    const char *delivery_id;             /* the webhook-id header */
    const char *body;                    /* bytes to POST */
    size_t body_len;                     /* bytes of body */
    void *data;                          /* the caller's */
    int probe;                           /* 1: a circuit probe, starts whatever the limit */
    /* set by the deliverer before the done callback */
    long status;              /* HTTP status, 0 when none arrived */
    int64_t started_ms;       /* wall clock when the attempt started */
    int64_t elapsed_ms;       /* from start to end */
    int aborted;              /* 1 when cut short by hookd_deliver_abort_all() */
    int parked;               /* 1 when handed back unstarted: its host cannot take it soon */
    int64_t park_until;       /* when parked: not worth trying before this (wall clock) */
    int timed_out;            /* 1 when the attempt ran out of time */
    int opens;                /* 1 when this failure made open_after failures in a row */
    char retry_after[65];     /* Retry-After header as received, or "" */
    char error[HOOKD_ERRLEN]; /* why it failed, "" on a 2xx */
    /* private to the deliverer */
    struct hookd_attempt *next; /* host queue link, or running list link */
    struct hookd_attempt *prev; /* running list link */
    struct hookd_deliver *d;    /* the deliverer it was submitted to */
    void *shard;                /* the multi handle it runs on, while running */
    int64_t queued_ms;          /* when it was submitted */
    int busy;                   /* attempts in flight to its host when it started */
    void *easy;                 /* CURL * while running */
    void *headers;              /* struct curl_slist * while running, built in hdr_nodes */
    void *hdr_nodes[2 * 10];    /* storage for up to 10 curl_slist nodes */
    char hdr_text[768];         /* the header lines those nodes point into */
    char curl_error[256];       /* curl's detailed message (CURLOPT_ERRORBUFFER) */
    void *host;                 /* struct host * it counts against */
    size_t resp_bytes;          /* body bytes seen */
    size_t hdr_bytes;           /* header bytes seen */
    int refused;                /* the address policy refused the connection */
    int overflow;               /* the response went past a cap */
};

typedef void (*hookd_deliver_cb)(struct hookd_attempt *a);

/* Creates a deliverer on loop. Fails with ENOMEM or EIO. */
int hookd_deliver_new(uv_loop_t *loop, const struct hookd_deliver_opts *opts, hookd_deliver_cb done,
                      struct hookd_deliver **out);

/* Queues an attempt; it starts now when its host has room. When it cannot
 * start at all (out of memory) the done callback runs before this returns,
 * so callers must not depend on the attempt outliving the call. */
void hookd_deliver_submit(struct hookd_deliver *d, struct hookd_attempt *a);

/* Attempts queued or running. */
size_t hookd_deliver_pending(const struct hookd_deliver *d);

/* 1 when the host of hostkey cannot take an attempt soon: a Retry-After
 * pauses it, or it hangs while hanging attempts fill their budget; *until
 * then says when it may (wall clock). 0 when it can, or is unknown. */
int hookd_deliver_blocked(struct hookd_deliver *d, const char *hostkey, int64_t now_ms,
                          int64_t *until);

/* The circuit of hostkey is open (another loop opened it): its queue is
 * parked on the next tick, and nothing but a probe starts until then. */
void hookd_deliver_hold(struct hookd_deliver *d, const char *hostkey);

/* Pauses the host of hostkey until the wall-clock time until: what waits for
 * it is handed back (parked) unless the pause ends within queue_wait_ms.
 * Unknown hosts are left alone. */
void hookd_deliver_pause(struct hookd_deliver *d, const char *hostkey, int64_t until);

/* What the deliverer knows of one host, for stats. */
struct hookd_host_stats {
    const char *key;      /* "scheme://host:port"; valid during the callback */
    int limit;            /* attempts in flight allowed now */
    int max;              /* the cap */
    int inflight;         /* attempts running */
    int queued;           /* attempts waiting */
    int64_t ok;           /* 2xx answers in the last HOOKD_DELIVER_STATS_MS */
    int64_t failed;       /* failed attempts in the same time */
    double latency_ms;    /* moving mean of successful attempts */
    double baseline_ms;   /* best recent latency, 0 when none */
    int64_t paused_until; /* a Retry-After pause, 0 when none */
};
#define HOOKD_DELIVER_STATS_MS (5 * 60 * 1000)

/* Calls fn once per host record. */
void hookd_deliver_hosts(struct hookd_deliver *d, int64_t now_ms,
                         void (*fn)(void *data, const struct hookd_host_stats *s), void *data);

/* Ends every queued and running attempt now, each through the done callback
 * with aborted = 1. (Attempts handed back because their host cannot take
 * them soon come through the done callback with parked = 1, never
 * started.) */
void hookd_deliver_abort_all(struct hookd_deliver *d);

/* Frees the deliverer once nothing is pending: closes its handles; the
 * memory goes when the loop has run their close callbacks. */
void hookd_deliver_close(struct hookd_deliver *d);

#endif
