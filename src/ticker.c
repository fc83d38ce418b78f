/* ticker.c - a thread that runs a round of work every so often. */
#include "hookd/ticker.h"

#include <stdlib.h>
#include <uv.h>

#include "hookd/common.h"

struct hookd_ticker {
    uv_thread_t thread;
    uv_mutex_t lock;
    uv_cond_t wake;        /* signalled by hookd_ticker_stop() */
    int stopping;          /* (lock) the thread is to return */
    void (*round)(void *); /* the work of one round */
    void *arg;             /* its argument; the owner's */
    uint64_t every_ms;     /* the wait after each round */
};

/* (thread) A round, then a wait of every_ms that stop cuts short. */
static void ticker_run(void *p)
{
    struct hookd_ticker *t = p;
    uv_mutex_lock(&t->lock);
    while (!t->stopping) {
        uv_mutex_unlock(&t->lock);
        t->round(t->arg);
        uv_mutex_lock(&t->lock);
        if (!t->stopping)
            (void)uv_cond_timedwait(&t->wake, &t->lock, t->every_ms * 1000000);
    }
    uv_mutex_unlock(&t->lock);
}

int hookd_ticker_start(void (*round)(void *arg), void *arg, uint64_t every_ms,
                       struct hookd_ticker **out, char *errbuf)
{
    struct hookd_ticker *t = calloc(1, sizeof(*t));
    *out = NULL;
    if (!t)
        return hookd_fail(errbuf, HOOKD_ENOMEM, "out of memory");
    t->round = round;
    t->arg = arg;
    t->every_ms = every_ms;
    uv_mutex_init(&t->lock);
    uv_cond_init(&t->wake);
    int rc = uv_thread_create(&t->thread, ticker_run, t);
    if (rc != 0) {
        uv_cond_destroy(&t->wake);
        uv_mutex_destroy(&t->lock);
        free(t);
        return hookd_fail(errbuf, HOOKD_EIO, "cannot start a thread: %s", uv_strerror(rc));
    }
    *out = t;
    return 0;
}

void hookd_ticker_stop(struct hookd_ticker *t)
{
    if (!t)
        return;
    uv_mutex_lock(&t->lock);
    t->stopping = 1;
    uv_cond_signal(&t->wake);
    uv_mutex_unlock(&t->lock);
    uv_thread_join(&t->thread);
    uv_cond_destroy(&t->wake);
    uv_mutex_destroy(&t->lock);
    free(t);
}
