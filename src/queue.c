/* queue.c - one loop's Redis connection: take, settle, renew, webhooks.
 *
 * Every state change in Redis is one Lua script, loaded once per connection
 * and run by EVALSHA, so that a move between keys is atomic and costs one
 * round trip for a whole batch. The scripts read Redis' own clock (TIME), so
 * that leases and due times mean the same on every host. */
#include "hookd/queue.h"

#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <openssl/sha.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hookd/job.h"
#include "hookd/sign.h"

/* The webhooks, when their revision differs from ARGV[ri]: {rev} when it does
 * not, else {rev, id, {field, value, ...}, ...}. KEYS[ki] is the revision
 * counter, KEYS[ki+1] the set of ids, ARGV[ri-1] the prefix. */
#define WEBHOOKS_LUA(ki, ri)                                                                       \
    "local function webhooks()\n"                                                                  \
    "  local rev = redis.call('GET', KEYS[" #ki "]) or '0'\n"                                      \
    "  if rev == ARGV[" #ri "] then return {rev} end\n"                                            \
    "  local out = {rev}\n"                                                                        \
    "  for _, id in ipairs(redis.call('SMEMBERS', KEYS[" #ki " + 1])) do\n"                        \
    "    out[#out+1] = id\n"                                                                       \
    "    out[#out+1] = redis.call('HGETALL', '{' .. ARGV[" #ri " - 1] .. '}:webhook:' .. id)\n"    \
    "  end\n"                                                                                      \
    "  return out\n"                                                                               \
    "end\n"

/* KEYS: events leases jobs retry seq rev webhooks. ARGV: lease_ms, n, prefix,
 * the webhook revision loaded. Returns {now_ms, webhooks, token, payload,
 * ...}: expired leases first (work of a worker that died), then due retries,
 * then new events. The webhooks come along when they changed, so that an
 * event is never judged against webhooks older than the event. */
static const char TAKE_LUA[] = WEBHOOKS_LUA(
    6,
    4) "local t = redis.call('TIME')\n"
       "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
       "local deadline = now + tonumber(ARGV[1])\n"
       "local n = tonumber(ARGV[2])\n"
       "local out = {now, webhooks()}\n"
       "local got = 0\n"
       "for _, tok in ipairs(redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'LIMIT', 0, n)) do\n"
       "  local p = redis.call('HGET', KEYS[3], tok)\n"
       "  if p then\n"
       "    redis.call('ZADD', KEYS[2], deadline, tok)\n"
       "    out[#out+1] = tok; out[#out+1] = p; got = got + 1\n"
       "  else redis.call('ZREM', KEYS[2], tok) end\n"
       "end\n"
       "if got < n then\n"
       "  for _, tok in ipairs(redis.call('ZRANGEBYSCORE', KEYS[4], '-inf', now, 'LIMIT', 0, n - "
       "got)) do\n"
       "    redis.call('ZREM', KEYS[4], tok)\n"
       "    local p = redis.call('HGET', KEYS[3], tok)\n"
       "    if p then\n"
       "      redis.call('ZADD', KEYS[2], deadline, tok)\n"
       "      out[#out+1] = tok; out[#out+1] = p; got = got + 1\n"
       "    end\n"
       "  end\n"
       "end\n"
       "if got < n then\n"
       "  local evs = redis.call('RPOP', KEYS[1], n - got)\n"
       "  if evs then\n"
       "    local base = redis.call('INCRBY', KEYS[5], #evs) - #evs\n"
       "    local h, z = {}, {}\n"
       "    for i, ev in ipairs(evs) do\n"
       "      local tok = 'e:' .. (base + i)\n"
       "      h[#h+1] = tok; h[#h+1] = ev\n"
       "      z[#z+1] = deadline; z[#z+1] = tok\n"
       "      out[#out+1] = tok; out[#out+1] = ev\n"
       "    end\n"
       "    redis.call('HSET', KEYS[3], unpack(h))\n"
       "    redis.call('ZADD', KEYS[2], unpack(z))\n"
       "  end\n"
       "end\n"
       "return out\n";

/* KEYS: leases jobs retry dead stats. ARGV: prefix, dead_max, log_max, then
 * operations:  a TOKEN | r TOKEN DUE JOB | x TOKEN RECORD | g WEBHOOK REASON
 *            | l WEBHOOK NFIELDS FIELD VALUE ... | c COUNTER N
 * Acknowledgements are gathered into one variadic ZREM and HDEL, applied
 * before any operation that touches the same keys, so the order holds. */
static const char SETTLE_LUA[] =
    "local P = '{' .. ARGV[1] .. '}:'\n"
    "local dead_max = tonumber(ARGV[2])\n"
    "local log_max = ARGV[3]\n"
    "local acks = {}\n"
    "local function flush()\n"
    "  if #acks > 0 then\n"
    "    redis.call('ZREM', KEYS[1], unpack(acks)); redis.call('HDEL', KEYS[2], unpack(acks))\n"
    "    acks = {}\n"
    "  end\n"
    "end\n"
    "local i = 4\n"
    "while i <= #ARGV do\n"
    "  local op = ARGV[i]\n"
    "  if op == 'a' then\n"
    "    acks[#acks+1] = ARGV[i+1]; i = i + 2\n"
    "    if #acks >= 2000 then flush() end\n"
    "  elseif op == 'r' then\n"
    "    flush()\n"
    "    redis.call('HSET', KEYS[2], ARGV[i+1], ARGV[i+3])\n"
    "    redis.call('ZADD', KEYS[3], ARGV[i+2], ARGV[i+1])\n"
    "    redis.call('ZREM', KEYS[1], ARGV[i+1]); i = i + 4\n"
    "  elseif op == 'x' then\n"
    "    flush()\n"
    "    redis.call('ZREM', KEYS[1], ARGV[i+1]); redis.call('HDEL', KEYS[2], ARGV[i+1])\n"
    "    redis.call('LPUSH', KEYS[4], ARGV[i+2]); redis.call('LTRIM', KEYS[4], 0, dead_max - 1)\n"
    "    i = i + 3\n"
    "  elseif op == 'g' then\n"
    "    local k = P .. 'webhook:' .. ARGV[i+1]\n"
    "    if redis.call('HGET', k, 'enabled') ~= '0' and redis.call('EXISTS', k) == 1 then\n"
    "      redis.call('HSET', k, 'enabled', '0', 'disabled_reason', ARGV[i+2])\n"
    "      redis.call('INCR', P .. 'webhooks:rev')\n"
    "    end\n"
    "    i = i + 3\n"
    "  elseif op == 'l' then\n"
    "    local n = tonumber(ARGV[i+2])\n"
    "    redis.call('XADD', P .. 'log:' .. ARGV[i+1], 'MAXLEN', '~', log_max, '*',\n"
    "               unpack(ARGV, i + 3, i + 2 + n))\n"
    "    i = i + 3 + n\n"
    "  elseif op == 'c' then\n"
    "    redis.call('HINCRBY', KEYS[5], ARGV[i+1], ARGV[i+2]); i = i + 3\n"
    "  else\n"
    "    return redis.error_reply('settle: unknown op ' .. tostring(op))\n"
    "  end\n"
    "end\n"
    "flush()\n"
    "return 0\n";

/* KEYS: leases. ARGV: lease_ms, tokens... Extends the leases still held. */
static const char RENEW_LUA[] =
    "local t = redis.call('TIME')\n"
    "local deadline = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + "
    "tonumber(ARGV[1])\n"
    "for i = 2, #ARGV do redis.call('ZADD', KEYS[1], 'XX', deadline, ARGV[i]) end\n"
    "return 0\n";

/* KEYS: rev, webhooks. ARGV: prefix, the revision already loaded. */
static const char REGISTRY_LUA[] = WEBHOOKS_LUA(1, 2) "return webhooks()\n";

enum { S_TAKE, S_SETTLE, S_RENEW, S_REGISTRY, S_COUNT };
static const char *const SCRIPTS[S_COUNT] = {TAKE_LUA, SETTLE_LUA, RENEW_LUA, REGISTRY_LUA};

enum qstate { Q_DOWN, Q_CONNECTING, Q_READY, Q_CLOSED };

/* A list of command arguments kept as offsets into one buffer, so that the
 * buffer may grow without invalidating them. */
struct args {
    struct hookd_buf bytes; /* the arguments, back to back */
    size_t *off;            /* start of each argument in bytes */
    size_t *len;            /* length of each argument */
    size_t n;               /* arguments */
    size_t cap;             /* room in off and len */
    size_t ops;             /* operations these arguments make up */
};

struct hookd_queue {
    uv_loop_t *loop;                /* the loop we belong to */
    const struct hookd_config *cfg; /* lives longer than the queue */
    struct hookd_queue_cbs cbs;     /* owner's callbacks */
    void *data;                     /* owner's pointer for callbacks */
    struct hookd_redis_addr addr;   /* where Redis is */
    redisAsyncContext *ac;          /* the connection, NULL when down */
    enum qstate state;              /* connection state */
    int scripts_pending;            /* SCRIPT LOAD replies still to come */
    int setup_failed;               /* AUTH, SELECT or a SCRIPT LOAD failed */
    char sha[S_COUNT][41];          /* SHA1 of each script */
    char key[9][HOOKD_KEY_MAX];     /* key names, see K_* */
    uv_timer_t reconnect;           /* backoff timer */
    int64_t backoff_ms;             /* next reconnect delay */
    uv_timer_t tick;                /* webhook reload check, twice a second */
    uv_timer_t close_timer;         /* bound on the wait in close */
    int handles;                    /* uv handles not yet closed */
    int taking;                     /* a take is in flight */
    int loading;                    /* a registry load is in flight */
    char rev[32];                   /* webhook revision loaded, "" for none */
    struct args pending;            /* settle operations not yet sent */
    struct args inflight;           /* settle operations sent, reply awaited */
    int settling;                   /* inflight holds a batch */
    int closing;                    /* hookd_queue_close() was called */
    int close_expired;              /* the close wait is over; drop what is unsent */
    char errstr[HOOKD_ERRLEN];      /* last error, for the owner */
};

enum { K_EVENTS, K_LEASES, K_JOBS, K_RETRY, K_SEQ, K_DEAD, K_STATS, K_REV, K_WEBHOOKS };
static void start_connect(struct hookd_queue *q);
static void load_registry(struct hookd_queue *q);
static void send_settle(struct hookd_queue *q);
static void maybe_finish_close(struct hookd_queue *q);

/* ---- argument lists ---- */

static void args_init(struct args *a)
{
    memset(a, 0, sizeof(*a));
    hookd_buf_init(&a->bytes, SIZE_MAX / 2);
}

static void args_free(struct args *a)
{
    hookd_buf_free(&a->bytes);
    free(a->off);
    free(a->len);
    memset(a, 0, sizeof(*a));
}

static void args_clear(struct args *a)
{
    hookd_buf_reset(&a->bytes);
    a->n = a->ops = 0;
}

static int args_add(struct args *a, const char *p, size_t len)
{
    if (a->n == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 64;
        size_t *off = realloc(a->off, cap * sizeof(*off));
        if (!off)
            return HOOKD_ENOMEM;
        a->off = off;
        size_t *ln = realloc(a->len, cap * sizeof(*ln));
        if (!ln)
            return HOOKD_ENOMEM;
        a->len = ln;
        a->cap = cap;
    }
    a->off[a->n] = a->bytes.len;
    int rc = hookd_buf_add(&a->bytes, p, len);
    if (rc)
        return rc;
    a->len[a->n++] = len;
    return 0;
}

static int args_adds(struct args *a, const char *s)
{
    return args_add(a, s, strlen(s));
}

/* Appends all of src to dst. */
static int args_append(struct args *dst, const struct args *src)
{
    for (size_t i = 0; i < src->n; i++) {
        int rc = args_add(dst, src->bytes.data + src->off[i], src->len[i]);
        if (rc)
            return rc;
    }
    dst->ops += src->ops;
    return 0;
}

/* ---- hiredis on libuv ----
 *
 * Debian's hiredis 0.14 ships adapters/libuv.h, but its poll callback drops
 * events that arrive with an error status: a refused connect then never
 * reaches hiredis, and the connection hangs forever in "connecting". This is
 * the same adapter with that fixed (as later hiredis releases did): on an
 * error, hand hiredis the events it asked for so that it sees the failure. */

/* One connection's poll handle; freed in its close callback. */
struct redis_uv {
    redisAsyncContext *ac; /* NULL once hiredis has cleaned up */
    uv_poll_t poll;        /* watches the connection's fd */
    int events;            /* UV_READABLE|UV_WRITABLE hiredis wants */
};

static void redis_uv_on_poll(uv_poll_t *handle, int status, int events)
{
    struct redis_uv *p = handle->data;
    int ev = status ? p->events : events;
    if (p->ac && (ev & UV_READABLE))
        redisAsyncHandleRead(p->ac);
    if (p->ac && (ev & UV_WRITABLE))
        redisAsyncHandleWrite(p->ac);
}

static void redis_uv_update(struct redis_uv *p, int events)
{
    if (events == p->events)
        return;
    p->events = events;
    if (events)
        uv_poll_start(&p->poll, events, redis_uv_on_poll);
    else
        uv_poll_stop(&p->poll);
}

static void redis_uv_add_read(void *d)
{
    struct redis_uv *p = d;
    redis_uv_update(p, p->events | UV_READABLE);
}

static void redis_uv_del_read(void *d)
{
    struct redis_uv *p = d;
    redis_uv_update(p, p->events & ~UV_READABLE);
}

static void redis_uv_add_write(void *d)
{
    struct redis_uv *p = d;
    redis_uv_update(p, p->events | UV_WRITABLE);
}

static void redis_uv_del_write(void *d)
{
    struct redis_uv *p = d;
    redis_uv_update(p, p->events & ~UV_WRITABLE);
}

static void redis_uv_on_closed(uv_handle_t *h)
{
    free(h->data);
}

static void redis_uv_cleanup(void *d)
{
    struct redis_uv *p = d;
    p->ac = NULL;
    uv_close((uv_handle_t *)&p->poll, redis_uv_on_closed);
}

static int redis_uv_attach(redisAsyncContext *ac, uv_loop_t *loop)
{
    if (ac->ev.data)
        return REDIS_ERR;
    struct redis_uv *p = calloc(1, sizeof(*p));
    if (!p)
        return REDIS_ERR;
    if (uv_poll_init_socket(loop, &p->poll, ac->c.fd) != 0) {
        free(p);
        return REDIS_ERR;
    }
    p->ac = ac;
    p->poll.data = p;
    ac->ev.addRead = redis_uv_add_read;
    ac->ev.delRead = redis_uv_del_read;
    ac->ev.addWrite = redis_uv_add_write;
    ac->ev.delWrite = redis_uv_del_write;
    ac->ev.cleanup = redis_uv_cleanup;
    ac->ev.data = p;
    return REDIS_OK;
}

/* ---- connection ---- */

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

static void on_reconnect_timer(uv_timer_t *t)
{
    start_connect(t->data);
}

/* Marks the connection gone, re-queues the settle batch that lost its reply
 * and schedules a reconnect. */
static void went_down(struct hookd_queue *q)
{
    int was_ready = q->state == Q_READY;
    q->ac = NULL;
    q->state = Q_DOWN;
    q->taking = q->loading = 0;
    if (q->settling) {
        struct args merged;
        args_init(&merged);
        if (args_append(&merged, &q->inflight) == 0 && args_append(&merged, &q->pending) == 0) {
            args_free(&q->pending);
            q->pending = merged;
        } else {
            args_free(&merged);
        }
        args_clear(&q->inflight);
        q->settling = 0;
    }
    if (was_ready && q->cbs.on_state)
        q->cbs.on_state(q->data, 0);
    if (q->closing) {
        maybe_finish_close(q);
        return;
    }
    uv_timer_start(&q->reconnect, on_reconnect_timer, (uint64_t)q->backoff_ms, 0);
    q->backoff_ms = q->backoff_ms * 2 > 5000 ? 5000 : q->backoff_ms * 2;
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
    struct hookd_queue *q = ac->data;
    if (status != REDIS_OK)
        emit_error(q, "redis: connection lost: %s", ac->errstr[0] ? ac->errstr : "closed");
    went_down(q);
}

/* Ends a connection whose set-up failed; only the first error is told, as
 * the commands queued behind a failed AUTH all fail the same way. */
static void setup_error(struct hookd_queue *q, redisAsyncContext *ac, const char *msg)
{
    if (q->setup_failed)
        return;
    q->setup_failed = 1;
    emit_error(q, "redis: %s", msg);
    redisAsyncDisconnect(ac);
}

static void on_script_loaded(redisAsyncContext *ac, void *r, void *priv)
{
    (void)priv;
    struct hookd_queue *q = ac->data;
    redisReply *reply = r;
    if (!reply)
        return;
    if (reply->type == REDIS_REPLY_ERROR) {
        setup_error(q, ac, reply->str);
        return;
    }
    if (--q->scripts_pending > 0 || q->setup_failed)
        return;
    q->state = Q_READY;
    q->backoff_ms = 100;
    if (q->cbs.on_state)
        q->cbs.on_state(q->data, 1);
    load_registry(q);
    if (q->settling == 0 && q->pending.n)
        send_settle(q);
}

/* AUTH and SELECT replies: an error ends this connection attempt. */
static void on_setup_reply(redisAsyncContext *ac, void *r, void *priv)
{
    (void)priv;
    redisReply *reply = r;
    if (reply && reply->type == REDIS_REPLY_ERROR)
        setup_error(ac->data, ac, reply->str);
}

static void on_connect(const redisAsyncContext *cac, int status)
{
    struct hookd_queue *q = cac->data;
    redisAsyncContext *ac = (redisAsyncContext *)cac;
    if (status != REDIS_OK) {
        emit_error(q, "redis: cannot connect: %s", ac->errstr);
        went_down(q);
        return;
    }
    if (q->addr.password[0]) {
        if (q->addr.user[0])
            redisAsyncCommand(ac, on_setup_reply, NULL, "AUTH %s %s", q->addr.user,
                              q->addr.password);
        else
            redisAsyncCommand(ac, on_setup_reply, NULL, "AUTH %s", q->addr.password);
    }
    if (q->addr.db)
        redisAsyncCommand(ac, on_setup_reply, NULL, "SELECT %d", q->addr.db);
    q->scripts_pending = S_COUNT;
    q->setup_failed = 0;
    for (int i = 0; i < S_COUNT; i++)
        redisAsyncCommand(ac, on_script_loaded, NULL, "SCRIPT LOAD %s", SCRIPTS[i]);
}

static void start_connect(struct hookd_queue *q)
{
    redisAsyncContext *ac = q->addr.path[0] ? redisAsyncConnectUnix(q->addr.path)
                                            : redisAsyncConnect(q->addr.host, q->addr.port);
    if (!ac || ac->err || redis_uv_attach(ac, q->loop) != REDIS_OK) {
        emit_error(q, "redis: cannot connect: %s", ac ? ac->errstr : "out of memory");
        if (ac)
            redisAsyncFree(ac);
        q->state = Q_CONNECTING; /* went_down reads it */
        went_down(q);
        return;
    }
    ac->data = q;
    q->ac = ac;
    q->state = Q_CONNECTING;
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
}

/* ---- registry ---- */

/* Builds a registry from what WEBHOOKS_LUA returned, unless it is the
 * revision already loaded, and hands it to the owner. */
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
        if (id->type != REDIS_REPLY_STRING || kv->type != REDIS_REPLY_ARRAY || !kv->elements)
            continue;
        const char *fields[128];
        size_t n = kv->elements < 128 ? kv->elements : 128;
        for (size_t j = 0; j < n; j++)
            fields[j] = kv->element[j]->type == REDIS_REPLY_STRING ? kv->element[j]->str : "";
        char err[HOOKD_ERRLEN];
        if (hookd_registry_add(reg, id->str, fields, n & ~(size_t)1, err) != 0) {
            skipped++;
            emit_error(q, "%s", err);
        }
    }
    snprintf(q->rev, sizeof(q->rev), "%s", reply->element[0]->str);
    q->cbs.on_registry(q->data, reg, skipped);
}

static void on_registry(redisAsyncContext *ac, void *r, void *priv)
{
    (void)priv;
    struct hookd_queue *q = ac->data;
    q->loading = 0;
    if (r)
        apply_registry(q, r);
}

static void load_registry(struct hookd_queue *q)
{
    if (q->state != Q_READY || q->loading)
        return;
    q->loading = 1;
    redisAsyncCommand(q->ac, on_registry, NULL, "EVALSHA %s 2 %s %s %s %s", q->sha[S_REGISTRY],
                      q->key[K_REV], q->key[K_WEBHOOKS], q->cfg->prefix, q->rev);
}

static void on_tick(uv_timer_t *t)
{
    load_registry(t->data);
}

/* ---- take ---- */

static void on_take(redisAsyncContext *ac, void *r, void *priv)
{
    (void)priv;
    struct hookd_queue *q = ac->data;
    redisReply *reply = r;
    q->taking = 0;
    if (!reply)
        return; /* disconnected; the leases bring the work back */
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements < 2 ||
        reply->element[0]->type != REDIS_REPLY_INTEGER) {
        emit_error(q, "redis: take: %s",
                   reply->type == REDIS_REPLY_ERROR ? reply->str : "bad reply");
        q->cbs.on_take(q->data, NULL, 0, 0);
        return;
    }
    apply_registry(q, reply->element[1]);
    size_t n = (reply->elements - 2) / 2;
    struct hookd_item stack[128];
    struct hookd_item *items = n <= 128 ? stack : malloc(n * sizeof(*items));
    if (!items) {
        q->cbs.on_take(q->data, NULL, 0, reply->element[0]->integer);
        return;
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        redisReply *t = reply->element[2 + 2 * i], *p = reply->element[3 + 2 * i];
        if (t->type != REDIS_REPLY_STRING || p->type != REDIS_REPLY_STRING)
            continue;
        items[k++] = (struct hookd_item){t->str, t->len, p->str, p->len};
    }
    q->cbs.on_take(q->data, items, k, reply->element[0]->integer);
    if (items != stack)
        free(items);
}

int hookd_queue_take(struct hookd_queue *q, int n)
{
    if (q->state != Q_READY || q->taking || q->closing)
        return HOOKD_EREDIS;
    char lease[24], count[24];
    snprintf(lease, sizeof(lease), "%lld", (long long)q->cfg->lease_ms);
    snprintf(count, sizeof(count), "%d", n);
    const char *argv[] = {"EVALSHA",
                          q->sha[S_TAKE],
                          "7",
                          q->key[K_EVENTS],
                          q->key[K_LEASES],
                          q->key[K_JOBS],
                          q->key[K_RETRY],
                          q->key[K_SEQ],
                          q->key[K_REV],
                          q->key[K_WEBHOOKS],
                          lease,
                          count,
                          q->cfg->prefix,
                          q->rev};
    if (redisAsyncCommandArgv(q->ac, on_take, NULL, (int)(sizeof(argv) / sizeof(argv[0])), argv,
                              NULL) != REDIS_OK)
        return HOOKD_EREDIS;
    q->taking = 1;
    return 0;
}

/* ---- settle ---- */

static void on_settled(redisAsyncContext *ac, void *r, void *priv)
{
    (void)priv;
    struct hookd_queue *q = ac->data;
    redisReply *reply = r;
    if (!reply)
        return; /* went_down() re-queues the batch */
    if (reply->type == REDIS_REPLY_ERROR) {
        /* Keep the batch; after NOSCRIPT (SCRIPT FLUSH) a reconnect reloads. */
        emit_error(q, "redis: settle: %s", reply->str);
        redisAsyncDisconnect(ac);
        return;
    }
    args_clear(&q->inflight);
    q->settling = 0;
    if (q->pending.n)
        send_settle(q);
    else if (q->closing)
        maybe_finish_close(q);
}

/* Sends the pending operations as one EVALSHA; they become the in-flight
 * batch until the reply. */
static void send_settle(struct hookd_queue *q)
{
    if (q->state != Q_READY || q->settling || !q->pending.n)
        return;
    if (q->cbs.before_settle)
        q->cbs.before_settle(q->data);
    struct args tmp = q->inflight;
    q->inflight = q->pending;
    q->pending = tmp;
    args_clear(&q->pending);

    char dead_max[24], log_max[24];
    snprintf(dead_max, sizeof(dead_max), "%d", q->cfg->dead_max);
    snprintf(log_max, sizeof(log_max), "%d", q->cfg->log_max);
    const char *head[] = {"EVALSHA",        q->sha[S_SETTLE], "5",
                          q->key[K_LEASES], q->key[K_JOBS],   q->key[K_RETRY],
                          q->key[K_DEAD],   q->key[K_STATS],  q->cfg->prefix,
                          dead_max,         log_max};
    size_t nh = sizeof(head) / sizeof(head[0]);
    size_t argc = nh + q->inflight.n;
    const char **argv = malloc(argc * sizeof(*argv));
    size_t *argvlen = malloc(argc * sizeof(*argvlen));
    if (!argv || !argvlen) {
        free(argv);
        free(argvlen);
        went_down(q); /* puts the batch back; retried after a reconnect */
        return;
    }
    for (size_t i = 0; i < nh; i++) {
        argv[i] = head[i];
        argvlen[i] = strlen(head[i]);
    }
    for (size_t i = 0; i < q->inflight.n; i++) {
        argv[nh + i] = q->inflight.bytes.data + q->inflight.off[i];
        argvlen[nh + i] = q->inflight.len[i];
    }
    q->settling = 1;
    redisAsyncCommandArgv(q->ac, on_settled, NULL, (int)argc, argv, argvlen);
    free(argv);
    free(argvlen);
}

void hookd_queue_flush(struct hookd_queue *q)
{
    send_settle(q);
}

size_t hookd_queue_unsettled(const struct hookd_queue *q)
{
    return q->pending.ops + q->inflight.ops;
}

int hookd_queue_ack(struct hookd_queue *q, const char *token, size_t len)
{
    int rc;
    if ((rc = args_adds(&q->pending, "a")) || (rc = args_add(&q->pending, token, len)))
        return rc;
    q->pending.ops++;
    return 0;
}

int hookd_queue_retry(struct hookd_queue *q, const char *token, int64_t due_ms, const char *job,
                      size_t job_len)
{
    char due[24];
    snprintf(due, sizeof(due), "%lld", (long long)due_ms);
    int rc;
    if ((rc = args_adds(&q->pending, "r")) || (rc = args_adds(&q->pending, token)) ||
        (rc = args_adds(&q->pending, due)) || (rc = args_add(&q->pending, job, job_len)))
        return rc;
    q->pending.ops++;
    return 0;
}

int hookd_queue_dead(struct hookd_queue *q, const char *token, const char *record,
                     size_t record_len)
{
    int rc;
    if ((rc = args_adds(&q->pending, "x")) || (rc = args_adds(&q->pending, token)) ||
        (rc = args_add(&q->pending, record, record_len)))
        return rc;
    q->pending.ops++;
    return 0;
}

int hookd_queue_disable(struct hookd_queue *q, const char *webhook_id, const char *reason)
{
    int rc;
    if ((rc = args_adds(&q->pending, "g")) || (rc = args_adds(&q->pending, webhook_id)) ||
        (rc = args_adds(&q->pending, reason)))
        return rc;
    q->pending.ops++;
    return 0;
}

int hookd_queue_log(struct hookd_queue *q, const char *webhook_id, const char *const *fields)
{
    size_t n = 0;
    while (fields[n])
        n++;
    char count[24];
    snprintf(count, sizeof(count), "%zu", n);
    int rc;
    if ((rc = args_adds(&q->pending, "l")) || (rc = args_adds(&q->pending, webhook_id)) ||
        (rc = args_adds(&q->pending, count)))
        return rc;
    for (size_t i = 0; i < n; i++)
        if ((rc = args_adds(&q->pending, fields[i])))
            return rc;
    q->pending.ops++;
    return 0;
}

int hookd_queue_count(struct hookd_queue *q, const char *counter, int64_t n)
{
    char v[24];
    snprintf(v, sizeof(v), "%lld", (long long)n);
    int rc;
    if ((rc = args_adds(&q->pending, "c")) || (rc = args_adds(&q->pending, counter)) ||
        (rc = args_adds(&q->pending, v)))
        return rc;
    q->pending.ops++;
    return 0;
}

/* ---- renew ---- */

int hookd_queue_renew(struct hookd_queue *q, const char *const *tokens, size_t n)
{
    if (q->state != Q_READY || n == 0)
        return q->state == Q_READY ? 0 : HOOKD_EREDIS;
    char lease[24];
    snprintf(lease, sizeof(lease), "%lld", (long long)q->cfg->lease_ms);
    size_t argc = 5 + n;
    const char **argv = malloc(argc * sizeof(*argv));
    if (!argv)
        return HOOKD_ENOMEM;
    argv[0] = "EVALSHA";
    argv[1] = q->sha[S_RENEW];
    argv[2] = "1";
    argv[3] = q->key[K_LEASES];
    argv[4] = lease;
    memcpy(argv + 5, tokens, n * sizeof(*argv));
    int rc = redisAsyncCommandArgv(q->ac, NULL, NULL, (int)argc, argv, NULL);
    free(argv);
    return rc == REDIS_OK ? 0 : HOOKD_EREDIS;
}

/* ---- life cycle ---- */

int hookd_queue_ready(const struct hookd_queue *q)
{
    return q->state == Q_READY;
}

int hookd_queue_taking(const struct hookd_queue *q)
{
    return q->taking;
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
    char err[HOOKD_ERRLEN];
    int rc = hookd_redis_url_parse(cfg->redis_url, &q->addr, err);
    if (rc) {
        free(q);
        return rc;
    }
    q->loop = loop;
    q->cfg = cfg;
    q->cbs = *cbs;
    q->data = data;
    q->backoff_ms = 100;
    args_init(&q->pending);
    args_init(&q->inflight);
    static const char *const names[] = {"events", "leases", "jobs",         "retry",   "seq",
                                        "dead",   "stats",  "webhooks:rev", "webhooks"};
    for (int i = 0; i < 9; i++)
        hookd_key(q->key[i], cfg->prefix, names[i]);
    for (int i = 0; i < S_COUNT; i++) {
        unsigned char md[SHA_DIGEST_LENGTH];
        SHA1((const unsigned char *)SCRIPTS[i], strlen(SCRIPTS[i]), md);
        hookd_hex(md, sizeof(md), q->sha[i]);
    }
    uv_timer_init(loop, &q->reconnect);
    uv_timer_init(loop, &q->tick);
    uv_timer_init(loop, &q->close_timer);
    q->reconnect.data = q->tick.data = q->close_timer.data = q;
    q->handles = 3;
    uv_timer_start(&q->tick, on_tick, 500, 500);
    start_connect(q);
    *out = q;
    return 0;
}

static void on_timer_closed(uv_handle_t *h)
{
    struct hookd_queue *q = h->data;
    if (--q->handles == 0 && q->cbs.on_closed)
        q->cbs.on_closed(q->data);
}

/* Ends the close once everything is settled, or the wait is over. While
 * settlements are unsent and time is left, keeps (re)connecting. */
static void maybe_finish_close(struct hookd_queue *q)
{
    if (q->state == Q_CLOSED)
        return;
    if ((q->settling || q->pending.n) && !q->close_expired) {
        if (!q->ac && !uv_is_active((uv_handle_t *)&q->reconnect))
            uv_timer_start(&q->reconnect, on_reconnect_timer, (uint64_t)q->backoff_ms, 0);
        return;
    }
    if (q->ac) {
        redisAsyncContext *ac = q->ac;
        redisAsyncDisconnect(ac); /* on_disconnect calls back into here */
        return;
    }
    q->state = Q_CLOSED;
    uv_close((uv_handle_t *)&q->reconnect, on_timer_closed);
    uv_close((uv_handle_t *)&q->tick, on_timer_closed);
    uv_close((uv_handle_t *)&q->close_timer, on_timer_closed);
}

static void on_close_timeout(uv_timer_t *t)
{
    struct hookd_queue *q = t->data;
    if (q->state == Q_CLOSED)
        return;
    /* What is still unsent is dropped: its leases expire and the work is
     * taken again, so nothing is lost, though some may be delivered twice. */
    q->close_expired = 1;
    if (q->ac)
        redisAsyncDisconnect(q->ac);
    else
        maybe_finish_close(q);
}

void hookd_queue_close(struct hookd_queue *q, int64_t wait_ms)
{
    if (q->closing)
        return;
    q->closing = 1;
    uv_timer_stop(&q->tick);
    uv_timer_start(&q->close_timer, on_close_timeout, (uint64_t)(wait_ms > 0 ? wait_ms : 1), 0);
    send_settle(q);
    maybe_finish_close(q);
}

void hookd_queue_free(struct hookd_queue *q)
{
    if (!q)
        return;
    args_free(&q->pending);
    args_free(&q->inflight);
    free(q);
}
