/* queue.h - one loop's side of Redis: taking work, settling it, webhooks.
 *
 * A queue owns two Redis connections on its loop (redis_conn.h: each
 * reconnects by itself, with TLS, AUTH, SELECT and a watchdog). Work is
 * taken in batches by one Lua script (expired leases first, then due
 * retries, then new events) and settled in batches by another:
 * acknowledgements, retries, dead letters, attempt logs and counters
 * accumulate in memory and go out in one write (one EVALSHA, and an XADD
 * per attempt log entry) while no other settle is
 * in flight. Settlements survive a disconnect: a batch whose replies did not
 * all arrive is sent again after reconnecting (every operation in it is
 * idempotent but the dead-list push, the attempt log and the counters, which
 * may then count twice).
 *
 * A second connection, the wake connection, only waits: when the owner found
 * the queue empty, hookd_queue_wait() blocks it in BLMOVE on the events list
 * (from the list to itself, right to right: the oldest event is popped and
 * pushed back where it was, so nothing is consumed and the order stays), and
 * on_wake tells the owner when an event arrived or the wait ended; the
 * watchdog gives the BLMOVE its wait on top of --redis-timeout. While it is
 * down, or when the server lacks BLMOVE (Redis < 6.2), the owner polls with
 * hookd_queue_take(). The connections are named hookd-take and hookd-wake
 * (CLIENT SETNAME). */
#ifndef HOOKD_QUEUE_H
#define HOOKD_QUEUE_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "hookd/common.h"
#include "hookd/config.h"
#include "hookd/health.h"
#include "hookd/registry.h"
#include "hookd/schema.h"

struct hookd_queue; /* opaque */

/* Bytes of a payload kept when the take leaves the rest in Redis: of an
 * event over the envelope cap, or a job over the job cap. */
#define HOOKD_QUEUE_CUT_KEEP 1024

/* One unit of work taken from Redis. Valid only during the take callback. */
struct hookd_item {
    const char *token;   /* "e:<n>" or "d:<delivery id>" */
    size_t token_len;    /* bytes of token */
    const char *payload; /* envelope bytes or delivery job; only a prefix when cut */
    size_t payload_len;  /* bytes of payload */
    size_t size;         /* bytes the payload has in Redis */
    int cut;             /* 1 when the payload was over its cap (size says by how
                          * much) or began with a NUL byte, and only its first
                          * HOOKD_QUEUE_CUT_KEEP bytes came */
};

/* One open circuit of {P}:circuit. Valid only during on_circuits. */
struct hookd_circuit_entry {
    const char *host;       /* the receiver's host key */
    struct hookd_circuit c; /* its record */
};

/* Callbacks into the owner; all run on the queue's loop. */
/* A webhook the settle script disabled, as it appended webhook.disabled to
 * {P}:ops. */
struct hookd_disabled {
    const char *webhook;    /* its id */
    const char *kind;       /* "gone" (a 410) or "failing" (--disable-after) */
    const char *workspace;  /* "" for none */
    const char *reason;     /* for people */
    const char *last_error; /* of the attempt that did it */
    const char *at;         /* ms since the epoch, Redis' clock, in decimal */
};

struct hookd_queue_cbs {
    /* A take finished: n items (n may be 0), and Redis' clock (0 when the
     * take failed). */
    void (*on_take)(void *data, const struct hookd_item *items, size_t n, int64_t redis_now_ms);
    /* A new webhook registry was loaded; the callee takes the reference.
     * skipped counts the members of {P}:webhooks that cannot be webhook
     * ids, left out. */
    void (*on_registry)(void *data, struct hookd_registry *reg, size_t skipped);
    /* The connection came up (1) or went down (0). */
    void (*on_state)(void *data, int up);
    /* A settle batch is about to be sent: last chance to add to it. */
    void (*before_settle)(void *data);
    /* Something failed in the connection; msg never holds a password. */
    void (*on_error)(void *data, const char *msg);
    /* Everything was flushed and the connection closed after
     * hookd_queue_close(). */
    void (*on_closed)(void *data);
    /* The wait of hookd_queue_wait() ended: an event arrived, the wait timed
     * out, or the wake connection failed. May be NULL. */
    void (*on_wake)(void *data);
    /* The open circuits changed (read twice a second): the whole table, n
     * entries. May be NULL. */
    void (*on_circuits)(void *data, const struct hookd_circuit_entry *e, size_t n);
    /* This loop holds the probe of host's open circuit: the delivery to try,
     * leased to it as a taken "d:" item is. May be NULL. */
    void (*on_probe)(void *data, const char *host, const struct hookd_item *it);
    /* The sweep moved n parked deliveries back to the retry set. May be
     * NULL. */
    void (*on_unparked)(void *data, int64_t n);
    /* A settle batch disabled a webhook; d lives for the call. May be
     * NULL. */
    void (*on_disabled)(void *data, const struct hookd_disabled *d);
};

int hookd_queue_new(uv_loop_t *loop, const struct hookd_config *cfg,
                    const struct hookd_queue_cbs *cbs, void *data, struct hookd_queue **out);

/* 1 when connected and the scripts are loaded. */
int hookd_queue_ready(const struct hookd_queue *q);
/* 1 while a take is in flight. */
int hookd_queue_taking(const struct hookd_queue *q);

/* Asks for up to n items of at most budget bytes in all (the first item
 * comes whatever its size; an event over --max-envelope or a job over
 * hookd_job_max() comes cut); the answer comes through on_take. Returns
 * HOOKD_EREDIS when not connected or a take is already in flight. */
int hookd_queue_take(struct hookd_queue *q, int n, size_t budget);

/* Redis' time (ms) at which the earliest retry is due, as the last take saw
 * it when it found nothing; -1 when there is none, or the take found work. */
int64_t hookd_queue_next_due(const struct hookd_queue *q);

/* Longest a BLMOVE of hookd_queue_wait() blocks, in ms. */
#define HOOKD_QUEUE_WAIT_MS 1000

/* Blocks the wake connection until {P}:events holds an event or
 * HOOKD_QUEUE_WAIT_MS passes; on_wake follows. Returns 0 when the wait is on
 * (also when it already was), HOOKD_EREDIS when the wake connection is not
 * up, the server lacks BLMOVE, or the queue is closing: poll instead. Never
 * blocks the loop. */
int hookd_queue_wait(struct hookd_queue *q);

/* Settlement operations; buffered, sent by hookd_queue_flush(). */
int hookd_queue_ack(struct hookd_queue *q, const char *token, size_t len);
int hookd_queue_retry(struct hookd_queue *q, const char *token, int64_t due_ms, const char *job,
                      size_t job_len);
int hookd_queue_dead(struct hookd_queue *q, const char *token, const char *record,
                     size_t record_len);
/* Disables a webhook with the reason and the time, and appends
 * webhook.disabled to {P}:ops, unless it is disabled already. */
int hookd_queue_disable(struct hookd_queue *q, const char *webhook_id, const char *reason,
                        int64_t now_ms, const char *last_error);
/* Parks a delivery (token and job as for a retry) under its receiver host,
 * not to come back before until_ms unless the host's circuit closes; or,
 * with host HOOKD_PARK_WEBHOOK (schema.h) followed by a webhook id, under a disabled
 * webhook, until it is enabled again. */
int hookd_queue_park(struct hookd_queue *q, const char *token, const char *host, int64_t until_ms,
                     const char *job, size_t job_len);
/* Opens host's circuit for min_ms, unless it is open; reopen (after a failed
 * probe) opens it again for twice the last interval, up to max_ms. */
int hookd_queue_circuit_open(struct hookd_queue *q, const char *host, int64_t now_ms,
                             int64_t min_ms, int64_t max_ms, int reopen);
/* Closes host's circuit and sends its parked deliveries back, due now. */
int hookd_queue_circuit_close(struct hookd_queue *q, const char *host, int64_t now_ms);
/* Notes a failed attempt of a webhook: the first of a run sets its
 * failing_since; a failure window_ms (> 0) after that disables it with the
 * reason. */
int hookd_queue_failing(struct hookd_queue *q, const char *webhook_id, int64_t now_ms,
                        int64_t window_ms, const char *reason, const char *last_error);
/* Notes a successful attempt: the webhook's run of failures is over. */
int hookd_queue_healthy(struct hookd_queue *q, const char *webhook_id);
/* Writes field of {P}:health, or removes it when value is NULL. */
int hookd_queue_health(struct hookd_queue *q, const char *field, const char *value);
/* Appends one entry to {P}:log:<webhook>: fields is a NULL-terminated list of
 * field, value strings. */
int hookd_queue_log(struct hookd_queue *q, const char *webhook_id, const char *const *fields);
int hookd_queue_count(struct hookd_queue *q, const char *counter, int64_t n);

/* Sends what is buffered, unless a settle is in flight (its reply flushes
 * again). */
void hookd_queue_flush(struct hookd_queue *q);
/* Operations buffered or in flight. */
size_t hookd_queue_unsettled(const struct hookd_queue *q);

/* Extends the lease of each token to now + lease. */
int hookd_queue_renew(struct hookd_queue *q, const char *const *tokens, size_t n);

/* Flushes what is buffered, then disconnects; on_closed follows. Gives up
 * waiting for Redis after wait_ms. The wake connection is dropped at once,
 * with its BLMOVE. */
void hookd_queue_close(struct hookd_queue *q, int64_t wait_ms);
/* The last error, "" when none. */
const char *hookd_queue_errstr(const struct hookd_queue *q);

/* The node the take connection is on ("host:port" or a socket path), as
 * last located; for logs. */
const char *hookd_queue_where(const struct hookd_queue *q);

/* Frees the queue; only after on_closed. */
void hookd_queue_free(struct hookd_queue *q);

#endif
