/* queue.c - one loop's Redis protocol: take, settle, renew, wake, webhooks.
 *
 * Every move between keys is one Lua script, loaded once per connection and
 * run by EVALSHA, so that it is atomic and costs one round trip for a whole
 * batch. The scripts read Redis' own clock (TIME), so that leases and due
 * times mean the same on every host.
 *
 * What goes out per delivery is written as RESP straight into reusable
 * buffers and handed to hiredis already formatted, so that no allocation is
 * made per argument. The attempt log needs no atomicity and goes out as plain
 * XADD commands pipelined behind the settle script: Lua would cost Redis more
 * converting the arguments than XADD itself. */
#include "hookd/queue.h"

#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <openssl/sha.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hookd/health.h"
#include "hookd/job.h"
#include "hookd/metrics.h"
#include "hookd/redis_conn.h"
#include "hookd/resp.h"
#include "hookd/schema.h"
#include "hookd/scripts.h"
#include "hookd/sign.h"
#include "hookd/webhook.h"

enum qstate { Q_DOWN, Q_CONNECTING, Q_READY };
/* The wake connection: W_OFF for good once the server refused BLMOVE. */
enum wstate { W_DOWN, W_READY, W_OFF };

enum {
    SETTLE_HEAD_ARGS = 10,  /* EVALSHA sha 5 five-keys prefix dead_max */
    ACK_RUN_MAX = 2000,     /* tokens per "a" run: Lua's unpack() stays in bounds */
    ACK_RUN_DIGITS = 4,     /* width of a run's count */
    TAKE_ITEMS_STACK = 128, /* items of a take kept on the stack */
    TOKEN_EVENT_MAX = 24,   /* "e:" and up to 20 digits and the NUL */
};
_Static_assert(ACK_RUN_MAX < 10000, "an ack run's count must fit its four digits");

/* Bytes of operations and attempt logs one settle batch may hold, far below
 * what Redis accepts in one query (1 GiB); past it an operation is refused. */
#define SETTLE_MAX ((size_t)256 << 20)

/* Settle operations gathered while another batch is in flight, already in
 * RESP: the script's operations as bulk strings, and the attempt log as
 * whole XADD commands. */
struct batch {
    struct hookd_buf ops;  /* script operations, bulk strings after the head */
    size_t nargs;          /* bulk strings in ops */
    size_t run_at;         /* where in ops the open ack run's count is, 0 when none */
    size_t run_n;          /* tokens in that run */
    struct hookd_buf logs; /* XADD commands, back to back */
    struct hookd_buf ends; /* a size_t per XADD: where it ends in logs */
    size_t nops;           /* operations, as hookd_queue_unsettled() counts */
};

/* The batch sent, kept as the bytes sent until every reply is in, so that it
 * can be sent again as it is after a reconnect. */
struct unit {
    struct hookd_buf resp; /* the EVALSHA when eval_len > 0, then the XADDs */
    size_t eval_len;       /* bytes of the EVALSHA */
    struct hookd_buf ends; /* a size_t per XADD: where it ends, counted after eval_len */
    size_t nops;           /* operations in it */
};

struct hookd_queue {
    uv_loop_t *loop;                        /* the loop we belong to */
    const struct hookd_config *cfg;         /* lives longer than the queue */
    struct hookd_queue_cbs cbs;             /* owner's callbacks */
    void *data;                             /* owner's pointer for callbacks */
    struct hookd_redis_conn *take;          /* the take connection */
    struct hookd_redis_conn *wake;          /* the wake connection */
    redisAsyncContext *ac;                  /* take's context, NULL when down */
    redisAsyncContext *wac;                 /* wake's context, NULL when down */
    enum wstate wstate;                     /* the wake connection's state */
    int waiting;                            /* a BLMOVE is in flight on wac */
    int wake_told;                          /* a failure was told since a wait last worked */
    struct hookd_buf wake_cmd;              /* the BLMOVE, in RESP */
    int64_t next_due;                       /* see hookd_queue_next_due() */
    enum qstate state;                      /* connection state */
    int scripts_pending;                    /* SCRIPT LOAD replies still to come */
    char sha[HOOKD_S_LOOP_COUNT][41];       /* SHA1 of each script */
    char key[HOOKD_K_COUNT][HOOKD_KEY_MAX]; /* every key of the namespace (schema.h) */
    char log_key[HOOKD_KEY_MAX];  /* "{prefix}:log:", the attempt logs' key before the id */
    char lease[24];               /* cfg->lease_ms in decimal */
    uv_timer_t tick;              /* webhook reload check, twice a second */
    uv_timer_t close_timer;       /* bound on the wait in close */
    int handles;                  /* timers and connections not yet closed */
    int taking;                   /* a take is in flight */
    int loading;                  /* a registry load is in flight */
    int tending;                  /* a tend is in flight */
    char circuit_rev[32];         /* circuit revision known, "" for none */
    char rev[32];                 /* webhook revision loaded, "" for none */
    struct hookd_buf cmd;         /* scratch for one command being written */
    struct hookd_buf settle_head; /* the settle EVALSHA's fixed arguments, in RESP */
    struct hookd_buf xadd_mid;    /* "MAXLEN ~ log_max *" in RESP */
    struct batch pending;         /* settle operations not yet sent */
    struct unit unit;             /* the batch sent or to send again; empty when none */
    size_t replies;               /* replies of the unit still awaited */
    size_t log_refused;           /* XADDs of the unit answered with an error */
    int settling;                 /* the unit is sent and its replies awaited */
    int settle_failed;            /* the unit's EVALSHA failed: keep it for a reconnect */
    int closing;                  /* hookd_queue_close() was called */
    int close_expired;            /* the close wait is over; drop what is unsent */
    int finished;                 /* the close is under way: connections and timers closing */
    char errstr[HOOKD_ERRLEN];    /* last error, for the owner */
};

static void closed_one(struct hookd_queue *q);
static void load_registry(struct hookd_queue *q);
static void item_of(struct hookd_item *it, const char *tok, size_t tok_len, const redisReply *p);
static void send_settle(struct hookd_queue *q);
static void maybe_finish_close(struct hookd_queue *q);
static void emit_error(struct hookd_queue *q, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* ---- the pending batch ---- */

static void batch_init(struct batch *b)
{
    memset(b, 0, sizeof(*b));
    hookd_buf_init(&b->ops, SETTLE_MAX);
    hookd_buf_init(&b->logs, SETTLE_MAX);
    hookd_buf_init(&b->ends, SETTLE_MAX);
}

static void batch_free(struct batch *b)
{
    hookd_buf_free(&b->ops);
    hookd_buf_free(&b->logs);
    hookd_buf_free(&b->ends);
}

static void batch_clear(struct batch *b)
{
    hookd_buf_reset(&b->ops);
    hookd_buf_reset(&b->logs);
    hookd_buf_reset(&b->ends);
    b->nargs = b->run_at = b->run_n = b->nops = 0;
}

/* Where the pending batch stood before an operation, to undo a failed one. */
struct mark {
    size_t ops, nargs, run_at, run_n, logs, ends;
};

static struct mark batch_mark(const struct batch *b)
{
    return (struct mark){b->ops.len, b->nargs, b->run_at, b->run_n, b->logs.len, b->ends.len};
}

/* Ends an operation: counts it, or, when it failed or made the batch larger
 * than SETTLE_MAX, undoes what it wrote and says so. Returns rc. */
static int op_done(struct hookd_queue *q, const struct mark *m, int rc)
{
    struct batch *b = &q->pending;
    if (rc == 0 && b->ops.len + b->logs.len > SETTLE_MAX)
        rc = HOOKD_ETOOBIG;
    if (rc == 0) {
        b->nops++;
        return 0;
    }
    hookd_buf_truncate(&b->ops, m->ops);
    hookd_buf_truncate(&b->logs, m->logs);
    hookd_buf_truncate(&b->ends, m->ends);
    b->nargs = m->nargs;
    b->run_at = m->run_at;
    b->run_n = m->run_n;
    emit_error(q, "redis: settle operation dropped (%s; %zu bytes pending)", hookd_strerror(rc),
               b->ops.len + b->logs.len);
    return rc;
}

/* Appends one script argument; any argument but an ack token ends the open
 * ack run. */
static void op_arg(struct batch *b, struct hookd_resp_w *w, const void *p, size_t len)
{
    b->nargs++;
    b->run_at = 0;
    hookd_resp_bulk(w, p, len);
}

static void op_str(struct batch *b, struct hookd_resp_w *w, const char *s)
{
    op_arg(b, w, s, strlen(s));
}

static void op_i64(struct batch *b, struct hookd_resp_w *w, int64_t v)
{
    b->nargs++;
    b->run_at = 0;
    hookd_resp_i64(w, v);
}

/* Appends one settle operation: its letter, then an argument for each
 * letter of types: 's' a string, 'i' an int64_t, 'b' bytes (a pointer and
 * a size_t). The one writer of HOOKD_S_SETTLE's operations but "a". */
static int op_put(struct hookd_queue *q, const char *op, const char *types, ...)
{
    struct batch *b = &q->pending;
    struct mark m = batch_mark(b);
    struct hookd_resp_w w;
    va_list ap;
    hookd_resp_init(&w, &b->ops);
    op_str(b, &w, op);
    va_start(ap, types);
    for (const char *t = types; *t; t++) {
        if (*t == 'i') {
            op_i64(b, &w, va_arg(ap, int64_t));
        } else if (*t == 's') {
            op_str(b, &w, va_arg(ap, const char *));
        } else {
            const char *p = va_arg(ap, const char *);
            op_arg(b, &w, p, va_arg(ap, size_t));
        }
    }
    va_end(ap);
    return op_done(q, &m, hookd_resp_end(&w));
}

/* Writes the open ack run's count into its four digits. */
static void run_count(struct batch *b)
{
    char *d = b->ops.data + b->run_at;
    size_t v = b->run_n;
    for (int i = ACK_RUN_DIGITS - 1; i >= 0; i--, v /= 10)
        d[i] = (char)('0' + v % 10);
}

/* Moves the pending batch into the unit as the commands to send. */
static int unit_build(struct hookd_queue *q)
{
    struct batch *b = &q->pending;
    struct unit *u = &q->unit;
    int rc = 0;
    hookd_buf_reset(&u->resp);
    u->eval_len = 0;
    if (b->nargs) {
        if ((rc = hookd_resp_add_array(&u->resp, SETTLE_HEAD_ARGS + b->nargs)) ||
            (rc = hookd_buf_add(&u->resp, q->settle_head.data, q->settle_head.len)) ||
            (rc = hookd_buf_add(&u->resp, b->ops.data, b->ops.len)))
            goto fail;
        u->eval_len = u->resp.len;
    }
    if (b->logs.len && (rc = hookd_buf_add(&u->resp, b->logs.data, b->logs.len)))
        goto fail;
    struct hookd_buf ends = u->ends;
    u->ends = b->ends;
    b->ends = ends;
    u->nops = b->nops;
    batch_clear(b);
    return 0;
fail:
    hookd_buf_reset(&u->resp);
    u->eval_len = 0;
    return rc;
}

static void unit_clear(struct unit *u)
{
    hookd_buf_reset(&u->resp);
    hookd_buf_reset(&u->ends);
    u->eval_len = u->nops = 0;
}

/* ---- the connections ----
 *
 * Two hookd_redis_conn: the take connection carries every script and
 * command; the wake connection only ever holds one BLMOVE. Whatever goes
 * wrong with the wake connection, the owner is told the wait is over and
 * polls until it is back; its failures are told once until a wait has
 * succeeded again. */

/* Keeps the error for hookd_queue_errstr() and tells the owner. */
static void emit_error(struct hookd_queue *q, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void emit_error(struct hookd_queue *q, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(q->errstr, sizeof(q->errstr), fmt, ap);
    va_end(ap);
    if (q->cbs.on_error)
        q->cbs.on_error(q->data, q->errstr);
}

static void on_script_loaded(redisAsyncContext *ac, void *r, void *priv)
{
    (void)priv;
    struct hookd_queue *q = hookd_redis_conn_data(ac);
    redisReply *reply = r;
    if (!reply || ac != q->ac)
        return;
    if (reply->type == REDIS_REPLY_ERROR) {
        if (!hookd_redis_conn_moved(q->take, reply))
            hookd_redis_conn_drop(q->take, reply->str);
        return;
    }
    if (--q->scripts_pending > 0)
        return;
    q->state = Q_READY;
    hookd_redis_conn_ready(q->take);
    if (q->cbs.on_state)
        q->cbs.on_state(q->data, 1);
    load_registry(q);
    send_settle(q);
}

/* The take connection is open: it is ready once every script is loaded. */
static void on_take_open(void *data, redisAsyncContext *ac)
{
    struct hookd_queue *q = data;
    q->ac = ac;
    q->state = Q_CONNECTING;
    q->scripts_pending = HOOKD_S_LOOP_COUNT;
    for (int i = 0; i < HOOKD_S_LOOP_COUNT; i++)
        redisAsyncCommand(ac, on_script_loaded, NULL, "SCRIPT LOAD %s", hookd_script(i));
}

/* The take connection is gone: a settle unit that lost replies stays, to
 * be sent again after the reconnect. */
static void on_take_down(void *data)
{
    struct hookd_queue *q = data;
    int was_ready = q->state == Q_READY;
    q->ac = NULL;
    q->state = Q_DOWN;
    q->taking = q->loading = 0;
    q->settling = q->settle_failed = 0;
    q->replies = 0;
    if (was_ready && q->cbs.on_state)
        q->cbs.on_state(q->data, 0);
    if (q->closing)
        maybe_finish_close(q);
}

static void on_take_error(void *data, const char *msg)
{
    emit_error(data, "%s", msg);
}

static void on_wake_open(void *data, redisAsyncContext *ac)
{
    struct hookd_queue *q = data;
    q->wac = ac;
    if (q->wstate != W_OFF)
        q->wstate = W_READY;
}

/* Tells a waiting owner that the wait is over. */
static void on_wake_down(void *data)
{
    struct hookd_queue *q = data;
    int was_waiting = q->waiting;
    q->wac = NULL;
    q->waiting = 0;
    if (q->wstate != W_OFF)
        q->wstate = W_DOWN;
    if (was_waiting && !q->closing && q->cbs.on_wake)
        q->cbs.on_wake(q->data);
}

static void on_wake_error(void *data, const char *msg)
{
    struct hookd_queue *q = data;
    if (q->wake_told || q->closing)
        return;
    q->wake_told = 1;
    emit_error(q, "%s (the wake connection); polling until it is back", msg);
}

static void on_conn_closed(void *data)
{
    closed_one(data);
}

/* The BLMOVE answered: an event (left where it was) or nil at the timeout.
 * An error means the server lacks BLMOVE or refuses it to this user: then
 * the wake connection is off for good. */
static void on_wake_reply(redisAsyncContext *ac, void *r, void *priv)
{
    (void)priv;
    struct hookd_queue *q = hookd_redis_conn_data(ac);
    redisReply *reply = r;
    if (ac != q->wac || !reply || hookd_redis_conn_moved(q->wake, reply))
        return; /* on_wake_down follows */
    if (reply->type == REDIS_REPLY_ERROR) {
        char why[HOOKD_ERRLEN];
        snprintf(why, sizeof(why), "BLMOVE refused: %s", reply->str);
        if (strncmp(reply->str, "ERR unknown command", 19) == 0 ||
            strncmp(reply->str, "NOPERM", 6) == 0) {
            q->wstate = W_OFF;
            emit_error(q, "redis: %s; polling for new events from now on", why);
            hookd_redis_conn_close(q->wake, 1);
            return;
        }
        hookd_redis_conn_drop(q->wake, why);
        return;
    }
    q->waiting = 0;
    q->wake_told = 0;
    hookd_redis_conn_allow(q->wake, 0);
    hookd_redis_conn_ready(q->wake);
    if (q->cbs.on_wake)
        q->cbs.on_wake(q->data);
}

int hookd_queue_wait(struct hookd_queue *q)
{
    if (q->closing || q->wstate != W_READY)
        return HOOKD_EREDIS;
    if (q->waiting)
        return 0;
    if (redisAsyncFormattedCommand(q->wac, on_wake_reply, NULL, q->wake_cmd.data,
                                   q->wake_cmd.len) != REDIS_OK)
        return HOOKD_EREDIS;
    q->waiting = 1;
    hookd_redis_conn_allow(q->wake, HOOKD_QUEUE_WAIT_MS);
    return 0;
}

int64_t hookd_queue_next_due(const struct hookd_queue *q)
{
    return q->next_due;
}

/* ---- registry ---- */

/* Builds a registry from what webhooks() of the webhook scripts (scripts.c) returned,
 * unless it is the revision already loaded, and hands it to the owner. A
 * record that cannot be read is added as unreadable; only an id that cannot
 * be one is skipped (and counted). */
static void apply_registry(struct hookd_queue *q, const redisReply *reply)
{
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements < 1 ||
        reply->element[0]->type != REDIS_REPLY_STRING) {
        emit_error(q, "redis: webhook load: %s",
                   reply->type == REDIS_REPLY_ERROR ? reply->str : "bad reply");
        return;
    }
    if (reply->elements == 1 && strcmp(reply->element[0]->str, q->rev) == 0)
        return;
    struct hookd_registry *reg = hookd_registry_new();
    if (!reg)
        return;
    size_t skipped = 0;
    for (size_t i = 1; i + 1 < reply->elements; i += 2) {
        redisReply *id = reply->element[i], *kv = reply->element[i + 1];
        char err[HOOKD_ERRLEN], why[HOOKD_ERRLEN];
        int rc;
        if (id->type != REDIS_REPLY_STRING || strlen(id->str) != id->len) {
            skipped++;
            continue;
        }
        if (kv->type == REDIS_REPLY_ARRAY && kv->elements <= 2 * HOOKD_WEBHOOK_FIELDS_MAX) {
            const char *fields[2 * HOOKD_WEBHOOK_FIELDS_MAX];
            size_t lens[2 * HOOKD_WEBHOOK_FIELDS_MAX];
            for (size_t j = 0; j < kv->elements; j++) {
                int s = kv->element[j]->type == REDIS_REPLY_STRING;
                fields[j] = s ? kv->element[j]->str : "";
                lens[j] = s ? kv->element[j]->len : 0;
            }
            rc = hookd_registry_add(reg, id->str, fields, lens, kv->elements, err);
        } else {
            if (kv->type == REDIS_REPLY_STRING)
                hookd_webhook_problem(kv->str, kv->len, why);
            else
                hookd_fail(why, HOOKD_EINVAL, "record is not what the script returns");
            rc = hookd_registry_add_unreadable(reg, id->str, why, err);
        }
        if (rc && !hookd_registry_find(reg, id->str))
            skipped++;
    }
    snprintf(q->rev, sizeof(q->rev), "%s", reply->element[0]->str);
    q->cbs.on_registry(q->data, reg, skipped);
}

static void on_registry(redisAsyncContext *ac, void *r, void *priv)
{
    (void)priv;
    struct hookd_queue *q = hookd_redis_conn_data(ac);
    q->loading = 0;
    if (r && !hookd_redis_conn_moved(q->take, r))
        apply_registry(q, r);
}

static void load_registry(struct hookd_queue *q)
{
    if (q->state != Q_READY || q->loading)
        return;
    q->loading = 1;
    redisAsyncCommand(q->ac, on_registry, NULL, "EVALSHA %s 2 %s %s %s %s",
                      q->sha[HOOKD_S_REGISTRY], q->key[HOOKD_K_WEBHOOKS_REV],
                      q->key[HOOKD_K_WEBHOOKS], q->cfg->prefix, q->rev);
}

/* ---- circuits ---- */

/* Hands the owner the circuit table of a tend reply, field/value pairs: each
 * record checked, a bad one left out and said once per revision. */
static void apply_circuits(struct hookd_queue *q, const redisReply *rev, const redisReply *tab)
{
    if (tab->type == REDIS_REPLY_NIL || (tab->type == REDIS_REPLY_INTEGER && !tab->integer))
        return; /* the revision known */
    if (tab->type != REDIS_REPLY_ARRAY) {
        emit_error(q, "redis: %s holds over %d hosts; circuits are not read",
                   q->key[HOOKD_K_CIRCUIT], HOOKD_SCRIPT_CIRCUIT_MAX);
        return;
    }
    size_t n = tab->elements / 2, k = 0, bad = 0;
    struct hookd_circuit_entry *e = n ? calloc(n, sizeof(*e)) : NULL;
    if (n && !e)
        return; /* the next tend tries again */
    char err[HOOKD_ERRLEN] = "";
    for (size_t i = 0; i < n; i++) {
        const redisReply *h = tab->element[2 * i], *v = tab->element[2 * i + 1];
        if (h->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING ||
            !hookd_hostkey_valid(h->str, h->len) ||
            hookd_circuit_parse(v->str, v->len, &e[k].c, err) != 0) {
            bad++;
            continue;
        }
        e[k++].host = h->str;
    }
    if (bad)
        emit_error(q, "redis: %s: %zu fields left out (%s)", q->key[HOOKD_K_CIRCUIT], bad,
                   err[0] ? err : "not a host key");
    if (rev->type == REDIS_REPLY_STRING && rev->len < sizeof(q->circuit_rev))
        memcpy(q->circuit_rev, rev->str, rev->len + 1);
    if (q->cbs.on_circuits)
        q->cbs.on_circuits(q->data, e, k);
    free(e);
}

/* Hands the owner each probe a tend claimed: host, token, job. */
static void apply_probes(struct hookd_queue *q, const redisReply *p)
{
    for (size_t i = 0; i + 2 < p->elements && i < 3 * HOOKD_SCRIPT_PROBES_MAX; i += 3) {
        const redisReply *h = p->element[i], *t = p->element[i + 1], *j = p->element[i + 2];
        if (h->type != REDIS_REPLY_STRING || t->type != REDIS_REPLY_STRING ||
            j->type != REDIS_REPLY_STRING)
            continue;
        struct hookd_item it;
        item_of(&it, t->str, t->len, j);
        if (q->cbs.on_probe)
            q->cbs.on_probe(q->data, h->str, &it);
    }
}

static void on_tend(redisAsyncContext *ac, void *r, void *priv)
{
    (void)priv;
    struct hookd_queue *q = hookd_redis_conn_data(ac);
    redisReply *reply = r;
    q->tending = 0;
    if (!reply || hookd_redis_conn_moved(q->take, reply))
        return;
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 4 ||
        reply->element[2]->type != REDIS_REPLY_ARRAY ||
        reply->element[3]->type != REDIS_REPLY_INTEGER) {
        emit_error(q, "redis: tend: %s",
                   reply->type == REDIS_REPLY_ERROR ? reply->str : "bad reply");
        return;
    }
    apply_circuits(q, reply->element[0], reply->element[1]);
    apply_probes(q, reply->element[2]);
    if (reply->element[3]->integer > 0 && q->cbs.on_unparked)
        q->cbs.on_unparked(q->data, reply->element[3]->integer);
}

/* Reads the circuits when they changed, claims due probes and sweeps parked
 * deliveries back (see HOOKD_S_TEND); one tend at a time. */
static void tend(struct hookd_queue *q)
{
    if (q->state != Q_READY || q->tending || q->closing)
        return;
    char jobmax[HOOKD_I64_LEN];
    hookd_i64_fmt(jobmax, (int64_t)hookd_job_max((size_t)q->cfg->max_envelope));
    if (redisAsyncCommand(q->ac, on_tend, NULL, "EVALSHA %s 6 %s %s %s %s %s %s %s %s %s %d %d %s",
                          q->sha[HOOKD_S_TEND], q->key[HOOKD_K_CIRCUIT],
                          q->key[HOOKD_K_CIRCUIT_REV], q->key[HOOKD_K_PARKED],
                          q->key[HOOKD_K_RETRY], q->key[HOOKD_K_LEASES], q->key[HOOKD_K_JOBS],
                          q->cfg->prefix, q->circuit_rev[0] ? q->circuit_rev : "-", q->lease,
                          HOOKD_SCRIPT_PROBES_MAX, HOOKD_SCRIPT_SWEEP_MAX, jobmax) == REDIS_OK)
        q->tending = 1;
}

static void on_tick(uv_timer_t *t)
{
    load_registry(t->data);
    tend(t->data);
}

/* ---- take ---- */

/* Fills an item from its token and payload, reading a cut (see HOOKD_S_TAKE)
 * as the prefix it carries and the size the payload had. */
static void item_of(struct hookd_item *it, const char *tok, size_t tok_len, const redisReply *p)
{
    *it = (struct hookd_item){tok, tok_len, p->str, p->len, p->len, 0};
    if (p->len == 0 || p->str[0] != '\0')
        return;
    const char *colon = memchr(p->str, ':', p->len);
    size_t nd = colon ? (size_t)(colon - p->str) - 1 : 0;
    char digits[HOOKD_I64_LEN];
    int64_t size;
    it->cut = 1;
    if (nd > 0 && nd < sizeof(digits)) {
        memcpy(digits, p->str + 1, nd);
        digits[nd] = '\0';
        if (hookd_parse_i64(digits, 0, INT64_MAX, &size) == 0)
            it->size = (size_t)size;
    }
    it->payload = colon ? colon + 1 : p->str + p->len;
    it->payload_len = (size_t)(p->str + p->len - it->payload);
}

/* Hands the owner the items of a take reply, {now, webhooks, base, {event,
 * ...}, next_due, token, payload, ...} (see HOOKD_S_TAKE): the pairs first, then
 * the events with the tokens rebuilt from base. */
static void take_items(struct hookd_queue *q, const redisReply *reply)
{
    const redisReply *evs = reply->element[3];
    uint64_t base = (uint64_t)reply->element[2]->integer;
    size_t npairs = (reply->elements - 5) / 2;
    size_t n = npairs + evs->elements;
    struct hookd_item stack[TAKE_ITEMS_STACK];
    char tok_stack[TAKE_ITEMS_STACK][TOKEN_EVENT_MAX];
    struct hookd_item *items = stack;
    char(*toks)[TOKEN_EVENT_MAX] = tok_stack;
    void *heap = NULL;
    if (n > TAKE_ITEMS_STACK) {
        heap = malloc(n * (sizeof(*items) + sizeof(*toks)));
        if (!heap) {
            /* The leases bring the work back. */
            emit_error(q, "redis: take: out of memory for %zu items", n);
            q->cbs.on_take(q->data, NULL, 0, reply->element[0]->integer);
            return;
        }
        items = heap;
        toks = (char(*)[TOKEN_EVENT_MAX])(items + n);
    }
    size_t k = 0;
    for (size_t i = 0; i < npairs; i++) {
        const redisReply *t = reply->element[5 + 2 * i], *p = reply->element[6 + 2 * i];
        if (t->type != REDIS_REPLY_STRING || p->type != REDIS_REPLY_STRING)
            continue;
        item_of(&items[k++], t->str, t->len, p);
    }
    for (size_t i = 0; i < evs->elements; i++) {
        const redisReply *p = evs->element[i];
        if (p->type != REDIS_REPLY_STRING)
            continue;
        char *t = toks[i];
        t[0] = 'e';
        t[1] = ':';
        size_t len = 2 + hookd_u64_fmt(t + 2, base + 1 + i);
        item_of(&items[k++], t, len, p);
    }
    q->cbs.on_take(q->data, items, k, reply->element[0]->integer);
    free(heap);
}

static void on_take(redisAsyncContext *ac, void *r, void *priv)
{
    (void)priv;
    struct hookd_queue *q = hookd_redis_conn_data(ac);
    redisReply *reply = r;
    q->taking = 0;
    q->next_due = -1;
    if (!reply || hookd_redis_conn_moved(q->take, reply))
        return; /* disconnected; the leases bring the work back */
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements < 5 ||
        reply->element[0]->type != REDIS_REPLY_INTEGER ||
        reply->element[2]->type != REDIS_REPLY_INTEGER || reply->element[2]->integer < 0 ||
        reply->element[3]->type != REDIS_REPLY_ARRAY ||
        reply->element[4]->type != REDIS_REPLY_INTEGER) {
        emit_error(q, "redis: take: %s",
                   reply->type == REDIS_REPLY_ERROR ? reply->str : "bad reply");
        q->cbs.on_take(q->data, NULL, 0, 0);
        return;
    }
    q->next_due = reply->element[4]->integer;
    apply_registry(q, reply->element[1]);
    take_items(q, reply);
}

int hookd_queue_take(struct hookd_queue *q, int n, size_t budget)
{
    if (q->state != Q_READY || q->taking || q->closing)
        return HOOKD_EREDIS;
    struct hookd_buf *b = &q->cmd;
    struct hookd_resp_w w;
    hookd_buf_reset(b);
    hookd_resp_init(&w, b);
    hookd_resp_line(&w, '*', 18);
    hookd_resp_str(&w, "EVALSHA");
    hookd_resp_str(&w, q->sha[HOOKD_S_TAKE]);
    hookd_resp_str(&w, "7");
    static const int keys[] = {HOOKD_K_EVENTS, HOOKD_K_LEASES,       HOOKD_K_JOBS,    HOOKD_K_RETRY,
                               HOOKD_K_SEQ,    HOOKD_K_WEBHOOKS_REV, HOOKD_K_WEBHOOKS};
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
        hookd_resp_str(&w, q->key[keys[i]]);
    hookd_resp_str(&w, q->lease);
    hookd_resp_i64(&w, n);
    hookd_resp_str(&w, q->cfg->prefix);
    hookd_resp_str(&w, q->rev);
    hookd_resp_i64(&w, q->cfg->max_envelope);
    hookd_resp_i64(&w, (int64_t)hookd_job_max((size_t)q->cfg->max_envelope));
    hookd_resp_i64(&w, (int64_t)budget);
    hookd_resp_i64(&w, HOOKD_QUEUE_CUT_KEEP);
    int rc = hookd_resp_end(&w);
    if (rc)
        return rc;
    if (redisAsyncFormattedCommand(q->ac, on_take, NULL, b->data, b->len) != REDIS_OK)
        return HOOKD_EREDIS;
    q->taking = 1;
    return 0;
}

/* ---- settle ---- */

/* Counts one reply of the unit; the last one ends it, unless its EVALSHA
 * failed, and sends what gathered meanwhile. */
static void settle_reply(struct hookd_queue *q)
{
    if (--q->replies > 0 || q->settle_failed)
        return;
    if (q->log_refused > 1)
        emit_error(q, "redis: attempt log: %zu entries refused in one batch", q->log_refused);
    unit_clear(&q->unit);
    q->settling = 0;
    if (q->pending.nops)
        send_settle(q);
    else if (q->closing)
        maybe_finish_close(q);
}

static void on_settled(redisAsyncContext *ac, void *r, void *priv)
{
    (void)priv;
    struct hookd_queue *q = hookd_redis_conn_data(ac);
    redisReply *reply = r;
    if (!reply)
        return; /* went_down() keeps the unit */
    if (hookd_redis_conn_moved(q->take, reply)) {
        q->settle_failed = 1; /* kept, and sent again to the node located next */
        return;
    }
    if (reply->type == REDIS_REPLY_ERROR) {
        /* Keep the unit; after NOSCRIPT (SCRIPT FLUSH) a reconnect reloads. */
        emit_error(q, "redis: settle: %s", reply->str);
        q->settle_failed = 1;
        redisAsyncDisconnect(ac);
    } else if (reply->type == REDIS_REPLY_ARRAY && q->cbs.on_disabled) {
        for (size_t i = 0; i + 5 < reply->elements; i += 6) {
            const char *f[6];
            for (int j = 0; j < 6; j++)
                f[j] = reply->element[i + j]->type == REDIS_REPLY_STRING
                           ? reply->element[i + j]->str
                           : "";
            const struct hookd_disabled d = {f[0], f[1], f[2], f[3], f[4], f[5]};
            q->cbs.on_disabled(q->data, &d);
        }
    }
    settle_reply(q);
}

/* An XADD of the attempt log answered. A refused entry is not sent again (a
 * log entry is no work to lose, and it would likely be refused again); the
 * first refusal of a unit is told at once, the count when the unit ends. */
static void on_logged(redisAsyncContext *ac, void *r, void *priv)
{
    (void)priv;
    struct hookd_queue *q = hookd_redis_conn_data(ac);
    redisReply *reply = r;
    if (!reply)
        return;
    if (reply->type == REDIS_REPLY_ERROR && q->log_refused++ == 0)
        emit_error(q, "redis: attempt log: %s", reply->str);
    settle_reply(q);
}

/* Hands hiredis the unit, one command at a time so that each reply finds
 * its callback; all go out in one write. */
static void send_unit(struct hookd_queue *q)
{
    struct unit *u = &q->unit;
    const char *p = u->resp.data;
    size_t at = 0, n = u->ends.len / sizeof(size_t);
    int ok = 1;
    q->settling = 1;
    q->settle_failed = 0;
    q->replies = q->log_refused = 0;
    if (u->eval_len) {
        ok = redisAsyncFormattedCommand(q->ac, on_settled, NULL, p, u->eval_len) == REDIS_OK;
        q->replies += (size_t)ok;
        at = u->eval_len;
    }
    for (size_t i = 0; ok && i < n; i++) {
        size_t end;
        memcpy(&end, u->ends.data + i * sizeof(end), sizeof(end));
        end += u->eval_len;
        ok = redisAsyncFormattedCommand(q->ac, on_logged, NULL, p + at, end - at) == REDIS_OK;
        q->replies += (size_t)ok;
        at = end;
    }
    if (!ok) {
        /* Only a connection on its way down refuses; the unit goes again
         * after the reconnect. */
        q->settle_failed = 1;
        emit_error(q, "redis: settle: the connection refused the batch");
        redisAsyncDisconnect(q->ac);
    }
}

/* Sends the unit again if it lost its replies, else makes the pending
 * operations the unit and sends them; one unit at a time. */
static void send_settle(struct hookd_queue *q)
{
    if (q->state != Q_READY || q->settling)
        return;
    if (!q->unit.resp.len) {
        if (!q->pending.nops)
            return;
        if (q->cbs.before_settle)
            q->cbs.before_settle(q->data);
        int rc = unit_build(q);
        if (rc) {
            /* The operations stay pending for the next flush. */
            emit_error(q, "redis: settle: %s", hookd_strerror(rc));
            return;
        }
    }
    send_unit(q);
}

void hookd_queue_flush(struct hookd_queue *q)
{
    send_settle(q);
}

size_t hookd_queue_unsettled(const struct hookd_queue *q)
{
    return q->pending.nops + q->unit.nops;
}

int hookd_queue_ack(struct hookd_queue *q, const char *token, size_t len)
{
    struct batch *b = &q->pending;
    struct mark m = batch_mark(b);
    struct hookd_resp_w w;
    hookd_resp_init(&w, &b->ops);
    size_t run_at = b->run_at;
    if (!run_at || b->run_n == ACK_RUN_MAX) {
        op_arg(b, &w, "a", 1);
        op_arg(b, &w, "0000", ACK_RUN_DIGITS);
        run_at = hookd_resp_pos(&w) - 2 - ACK_RUN_DIGITS;
        b->run_n = 0;
    }
    b->nargs++;
    hookd_resp_bulk(&w, token, len);
    int rc = hookd_resp_end(&w);
    if (rc == 0) {
        b->run_at = run_at;
        b->run_n++;
        run_count(b);
    }
    return op_done(q, &m, rc);
}

int hookd_queue_retry(struct hookd_queue *q, const char *token, int64_t due_ms, const char *job,
                      size_t job_len)
{
    return op_put(q, "r", "sib", token, due_ms, job, job_len);
}

int hookd_queue_dead(struct hookd_queue *q, const char *token, const char *record,
                     size_t record_len)
{
    return op_put(q, "x", "sb", token, record, record_len);
}

int hookd_queue_disable(struct hookd_queue *q, const char *webhook_id, const char *reason,
                        int64_t now_ms, const char *last_error)
{
    return op_put(q, "g", "ssis", webhook_id, reason, now_ms, last_error);
}

int hookd_queue_park(struct hookd_queue *q, const char *token, const char *host, int64_t until_ms,
                     const char *job, size_t job_len)
{
    return op_put(q, "p", "ssib", token, host, until_ms, job, job_len);
}

int hookd_queue_circuit_open(struct hookd_queue *q, const char *host, int64_t now_ms,
                             int64_t min_ms, int64_t max_ms, int reopen)
{
    return op_put(q, "o", "siiis", host, now_ms, min_ms, max_ms, reopen ? "1" : "0");
}

int hookd_queue_circuit_close(struct hookd_queue *q, const char *host, int64_t now_ms)
{
    return op_put(q, "k", "si", host, now_ms);
}

int hookd_queue_failing(struct hookd_queue *q, const char *webhook_id, int64_t now_ms,
                        int64_t window_ms, const char *reason, const char *last_error)
{
    return op_put(q, "f", "siiss", webhook_id, now_ms, window_ms, reason, last_error);
}

int hookd_queue_healthy(struct hookd_queue *q, const char *webhook_id)
{
    return op_put(q, "h", "s", webhook_id);
}

int hookd_queue_health(struct hookd_queue *q, const char *field, const char *value)
{
    return value ? op_put(q, "H", "ss", field, value) : op_put(q, "D", "s", field);
}

int hookd_queue_log(struct hookd_queue *q, const char *webhook_id, const char *const *fields)
{
    struct batch *b = &q->pending;
    struct mark m = batch_mark(b);
    size_t n = 0;
    while (fields[n])
        n++;
    size_t pre = strlen(q->log_key), idlen = strlen(webhook_id);
    struct hookd_resp_w w;
    hookd_resp_init(&w, &b->logs);
    hookd_resp_line(&w, '*', 6 + n);
    hookd_resp_raw(&w, "$4\r\nXADD\r\n", 10);
    hookd_resp_line(&w, '$', pre + idlen);
    hookd_resp_raw(&w, q->log_key, pre);
    hookd_resp_raw(&w, webhook_id, idlen);
    hookd_resp_raw(&w, "\r\n", 2);
    hookd_resp_raw(&w, q->xadd_mid.data, q->xadd_mid.len);
    for (size_t i = 0; i < n; i++)
        hookd_resp_str(&w, fields[i]);
    int rc = hookd_resp_end(&w);
    if (rc == 0)
        rc = hookd_buf_add(&b->ends, &b->logs.len, sizeof(b->logs.len));
    return op_done(q, &m, rc);
}

int hookd_queue_count(struct hookd_queue *q, const char *counter, int64_t n)
{
    return op_put(q, "c", "si", counter, n);
}

/* ---- renew ---- */

int hookd_queue_renew(struct hookd_queue *q, const char *const *tokens, size_t n)
{
    if (q->state != Q_READY || n == 0)
        return q->state == Q_READY ? 0 : HOOKD_EREDIS;
    struct hookd_buf *b = &q->cmd;
    struct hookd_resp_w w;
    hookd_buf_reset(b);
    hookd_resp_init(&w, b);
    hookd_resp_line(&w, '*', 5 + n);
    hookd_resp_str(&w, "EVALSHA");
    hookd_resp_str(&w, q->sha[HOOKD_S_RENEW]);
    hookd_resp_str(&w, "1");
    hookd_resp_str(&w, q->key[HOOKD_K_LEASES]);
    hookd_resp_str(&w, q->lease);
    for (size_t i = 0; i < n; i++)
        hookd_resp_str(&w, tokens[i]);
    int rc = hookd_resp_end(&w);
    if (rc)
        return rc;
    rc = redisAsyncFormattedCommand(q->ac, NULL, NULL, b->data, b->len);
    return rc == REDIS_OK ? 0 : HOOKD_EREDIS;
}

/* ---- life cycle ---- */

_Static_assert(HOOKD_QUEUE_WAIT_MS >= 1000 && HOOKD_QUEUE_WAIT_MS % 1000 == 0,
               "BLMOVE's timeout is written in whole seconds");

/* Writes the fixed parts of the settle EVALSHA, of the XADDs and the
 * BLMOVE. */
static int write_heads(struct hookd_queue *q)
{
    struct hookd_resp_w w;
    hookd_resp_init(&w, &q->settle_head);
    hookd_resp_str(&w, "EVALSHA");
    hookd_resp_str(&w, q->sha[HOOKD_S_SETTLE]);
    hookd_resp_str(&w, "5");
    static const int keys[] = {HOOKD_K_LEASES, HOOKD_K_JOBS, HOOKD_K_RETRY, HOOKD_K_DEAD,
                               HOOKD_K_STATS};
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
        hookd_resp_str(&w, q->key[keys[i]]);
    hookd_resp_str(&w, q->cfg->prefix);
    hookd_resp_i64(&w, q->cfg->dead_max);
    int rc = hookd_resp_end(&w);
    if (rc)
        return rc;
    hookd_resp_init(&w, &q->wake_cmd);
    hookd_resp_line(&w, '*', 6);
    hookd_resp_str(&w, "BLMOVE");
    hookd_resp_str(&w, q->key[HOOKD_K_EVENTS]);
    hookd_resp_str(&w, q->key[HOOKD_K_EVENTS]);
    hookd_resp_str(&w, "RIGHT");
    hookd_resp_str(&w, "RIGHT");
    hookd_resp_i64(&w, HOOKD_QUEUE_WAIT_MS / 1000);
    if ((rc = hookd_resp_end(&w)) != 0)
        return rc;
    hookd_resp_init(&w, &q->xadd_mid);
    hookd_resp_str(&w, "MAXLEN");
    hookd_resp_str(&w, "~");
    hookd_resp_i64(&w, q->cfg->log_max);
    hookd_resp_str(&w, "*");
    return hookd_resp_end(&w);
}

static void queue_bufs_free(struct hookd_queue *q)
{
    batch_free(&q->pending);
    hookd_buf_free(&q->unit.resp);
    hookd_buf_free(&q->unit.ends);
    hookd_buf_free(&q->cmd);
    hookd_buf_free(&q->settle_head);
    hookd_buf_free(&q->xadd_mid);
    hookd_buf_free(&q->wake_cmd);
}

int hookd_queue_ready(const struct hookd_queue *q)
{
    return q->state == Q_READY;
}

int hookd_queue_taking(const struct hookd_queue *q)
{
    return q->taking;
}

const char *hookd_queue_where(const struct hookd_queue *q)
{
    return hookd_redis_conn_where(q->take);
}

const char *hookd_queue_errstr(const struct hookd_queue *q)
{
    return q->errstr;
}

int hookd_queue_new(uv_loop_t *loop, const struct hookd_config *cfg,
                    const struct hookd_queue_cbs *cbs, void *data, struct hookd_queue **out)
{
    struct hookd_queue *q = calloc(1, sizeof(*q));
    if (!q)
        return HOOKD_ENOMEM;
    q->loop = loop;
    q->cfg = cfg;
    q->cbs = *cbs;
    q->data = data;
    q->next_due = -1;
    batch_init(&q->pending);
    hookd_buf_init(&q->unit.resp, SIZE_MAX / 2); /* bounded by the pending batch */
    hookd_buf_init(&q->unit.ends, SETTLE_MAX);
    hookd_buf_init(&q->cmd, SETTLE_MAX);
    hookd_buf_init(&q->settle_head, SETTLE_MAX);
    hookd_buf_init(&q->xadd_mid, SETTLE_MAX);
    hookd_buf_init(&q->wake_cmd, SETTLE_MAX);
    snprintf(q->lease, sizeof(q->lease), "%lld", (long long)cfg->lease_ms);
    hookd_schema_key(q->log_key, cfg->prefix, HOOKD_K_LOG_OF);
    for (int i = 0; i < HOOKD_K_COUNT; i++)
        hookd_schema_key(q->key[i], cfg->prefix, (enum hookd_key_id)i);
    for (int i = 0; i < HOOKD_S_LOOP_COUNT; i++) {
        unsigned char md[SHA_DIGEST_LENGTH];
        SHA1((const unsigned char *)hookd_script(i), strlen(hookd_script(i)), md);
        hookd_hex(md, sizeof(md), q->sha[i]);
    }
    static const struct hookd_redis_conn_cbs take_cbs = {
        .on_open = on_take_open,
        .on_down = on_take_down,
        .on_error = on_take_error,
        .on_closed = on_conn_closed,
    };
    static const struct hookd_redis_conn_cbs wake_cbs = {
        .on_open = on_wake_open,
        .on_down = on_wake_down,
        .on_error = on_wake_error,
        .on_closed = on_conn_closed,
    };
    int rc = write_heads(q);
    if (!rc)
        rc = hookd_redis_conn_new(loop, cfg, "hookd-take", &take_cbs, q, &q->take, q->errstr);
    if (!rc)
        rc = hookd_redis_conn_new(loop, cfg, "hookd-wake", &wake_cbs, q, &q->wake, q->errstr);
    if (rc) {
        hookd_queue_free(q); /* neither connection started: nothing is on the loop */
        return rc;
    }
    uv_timer_init(loop, &q->tick);
    uv_timer_init(loop, &q->close_timer);
    q->tick.data = q->close_timer.data = q;
    q->handles = 4;
    uv_timer_start(&q->tick, on_tick, 500, 500);
    hookd_redis_conn_start(q->take);
    hookd_redis_conn_start(q->wake);
    *out = q;
    return 0;
}

/* One of the timers or connections finished closing. */
static void closed_one(struct hookd_queue *q)
{
    if (--q->handles == 0 && q->cbs.on_closed)
        q->cbs.on_closed(q->data);
}

static void on_timer_closed(uv_handle_t *h)
{
    closed_one(h->data);
}

/* Ends the close once everything is settled, or the wait is over. Until
 * then the take connection goes on reconnecting by itself. */
static void maybe_finish_close(struct hookd_queue *q)
{
    if (q->finished)
        return;
    if ((q->unit.resp.len || q->pending.nops) && !q->close_expired)
        return;
    q->finished = 1;
    /* What is unsent when the wait expired is dropped: its leases expire and
     * the work is taken again, so nothing is lost, though some may be
     * delivered twice. */
    hookd_redis_conn_close(q->take, q->close_expired);
    hookd_redis_conn_close(q->wake, 1);
    uv_close((uv_handle_t *)&q->tick, on_timer_closed);
    uv_close((uv_handle_t *)&q->close_timer, on_timer_closed);
}

static void on_close_timeout(uv_timer_t *t)
{
    struct hookd_queue *q = t->data;
    q->close_expired = 1;
    maybe_finish_close(q);
}

void hookd_queue_close(struct hookd_queue *q, int64_t wait_ms)
{
    if (q->closing)
        return;
    q->closing = 1;
    uv_timer_stop(&q->tick);
    hookd_redis_conn_close(q->wake, 1);
    uv_timer_start(&q->close_timer, on_close_timeout, (uint64_t)(wait_ms > 0 ? wait_ms : 1), 0);
    send_settle(q);
    maybe_finish_close(q);
}

void hookd_queue_free(struct hookd_queue *q)
{
    if (!q)
        return;
    hookd_redis_conn_free(q->take);
    hookd_redis_conn_free(q->wake);
    queue_bufs_free(q);
    free(q);
}
