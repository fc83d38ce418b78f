/* deliver.h - HTTP attempts on one libuv loop, through one curl multi handle.
 *
 * A deliverer belongs to one loop and is used from that loop's thread only.
 * It signs each attempt as it starts (so the timestamp is the attempt's),
 * caps attempts in flight per receiver host in its own queue rather than
 * inside curl, refuses non-public addresses at connect time, keeps
 * connections alive between attempts, and reports each finished attempt
 * through one callback. */
#ifndef HOOKD_DELIVER_H
#define HOOKD_DELIVER_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "hookd/common.h"
#include "hookd/net.h"
#include "hookd/registry.h"

struct hookd_deliver; /* opaque */

/* Settings fixed for the deliverer's life. */
struct hookd_deliver_opts {
    int host_concurrency;       /* attempts in flight per host key */
    int64_t timeout_ms;         /* default whole-attempt timeout */
    int64_t connect_timeout_ms; /* default connect timeout */
    int64_t max_timeout_ms;     /* cap on per-webhook overrides (below the lease) */
    const struct hookd_netlist
        *allow;          /* non-public ranges allowed; lives as long as the deliverer */
    size_t max_response; /* response body bytes read at most */
    int64_t backlog_ms;  /* a host that finished no attempt while its oldest queued one
                          * waited this long hands its queue back (0: never), so that
                          * one stuck receiver cannot hold every slot */
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
    /* set by the deliverer before the done callback */
    long status;              /* HTTP status, 0 when none arrived */
    int64_t started_ms;       /* wall clock when the attempt started */
    int64_t elapsed_ms;       /* from start to end */
    int aborted;              /* 1 when cut short by hookd_deliver_abort_all() */
    int deferred;             /* 1 when handed back unstarted: its host was backed up */
    char retry_after[65];     /* Retry-After header as received, or "" */
    char error[HOOKD_ERRLEN]; /* why it failed, "" on a 2xx */
    /* private to the deliverer */
    struct hookd_attempt *next; /* host queue link, or running list link */
    struct hookd_attempt *prev; /* running list link */
    struct hookd_deliver *d;    /* the deliverer it was submitted to */
    int64_t queued_ms;          /* when it was submitted */
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

/* Ends every queued and running attempt now, each through the done callback
 * with aborted = 1. (Attempts handed back because their host was backed up
 * come through the done callback with deferred = 1, never started.) */
void hookd_deliver_abort_all(struct hookd_deliver *d);

/* Frees the deliverer once nothing is pending: closes its handles; the
 * memory goes when the loop has run their close callbacks. */
void hookd_deliver_close(struct hookd_deliver *d);

#endif
