/* worker.h - one event loop on its own thread: take, fan out, deliver, settle.
 *
 * A worker wires one queue (Redis) to one deliverer (HTTP) on one libuv loop.
 * Workers share nothing but the read-only configuration; each holds its share
 * of the process-wide limits (concurrency / threads). */
#ifndef HOOKD_WORKER_H
#define HOOKD_WORKER_H

#include "hookd/config.h"

struct hookd_worker; /* opaque */

/* Where a worker stands among the process's loops. */
struct hookd_worker_place {
    int index; /* 0 .. loops-1, for logs */
    int ns;    /* its namespace's index (0 .. count-1), for the metrics */
    int lead;  /* 1 for its namespace's first loop: it tells what that namespace's
                * webhooks are (log lines, hookd_webhooks) */
};

/* Starts a worker placed as place says on a new thread. cfg (its
 * namespace's) must outlive the worker. */
int hookd_worker_start(const struct hookd_config *cfg, const struct hookd_worker_place *place,
                       struct hookd_worker **out);

/* Asks the worker to drain: take nothing new, finish or give back what it
 * holds within cfg->drain_timeout_ms. Safe from any thread. */
void hookd_worker_stop(struct hookd_worker *w);

/* Waits for the worker's thread to end and frees it. */
void hookd_worker_join(struct hookd_worker *w);

#endif
