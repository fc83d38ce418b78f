/* redis_uv.c - hiredis' async API on a libuv loop.
 *
 * Debian's hiredis 0.14 ships adapters/libuv.h, but its poll callback drops
 * events that arrive with an error status: a refused connect then never
 * reaches hiredis, and the connection hangs forever in "connecting". This is
 * the same adapter with that fixed (as later hiredis releases did): on an
 * error, hand hiredis the events it asked for so that it sees the failure. */
#include "hookd/redis_uv.h"

#include <stdlib.h>

/* One connection's poll handle; freed in its close callback. */
struct redis_uv {
    redisAsyncContext *ac; /* NULL once hiredis has cleaned up */
    uv_poll_t poll;        /* watches the connection's fd */
    int events;            /* UV_READABLE|UV_WRITABLE hiredis wants */
    uint64_t heard_ms;     /* when the socket was last readable (uv_now), for the watchdog */
};

static void redis_uv_on_poll(uv_poll_t *handle, int status, int events)
{
    struct redis_uv *p = handle->data;
    int ev = status ? p->events : events;
    if (ev & UV_READABLE)
        p->heard_ms = uv_now(handle->loop);
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

int hookd_redis_uv_attach(redisAsyncContext *ac, uv_loop_t *loop)
{
    if (ac->ev.data)
        return HOOKD_EINVAL;
    struct redis_uv *p = calloc(1, sizeof(*p));
    if (!p)
        return HOOKD_ENOMEM;
    if (uv_poll_init_socket(loop, &p->poll, ac->c.fd) != 0) {
        free(p);
        return HOOKD_EINVAL;
    }
    p->ac = ac;
    p->poll.data = p;
    p->heard_ms = uv_now(loop);
    ac->ev.addRead = redis_uv_add_read;
    ac->ev.delRead = redis_uv_del_read;
    ac->ev.addWrite = redis_uv_add_write;
    ac->ev.delWrite = redis_uv_del_write;
    ac->ev.cleanup = redis_uv_cleanup;
    ac->ev.data = p;
    return 0;
}

uint64_t hookd_redis_uv_heard_ms(const redisAsyncContext *ac)
{
    const struct redis_uv *p = ac->ev.data;
    return p ? p->heard_ms : 0;
}
