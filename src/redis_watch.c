/* redis_watch.c - the thread that asks the sentinels for the master once a
 * second and counts the changes. */
#include "hookd/redis_watch.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "hookd/common.h"
#include "hookd/redis_locate.h"

#define WATCH_EVERY_MS 1000  /* between rounds of questions */
#define WATCH_TIMEOUT_MS 500 /* for each sentinel; a round never holds the thread long */

/* The thread's state. Fields marked (thread) are its own; the rest under
 * lock. */
struct watch {
    uv_thread_t thread;
    uv_mutex_t lock;
    uv_cond_t wake;                 /* signalled by hookd_redis_watch_stop() */
    int stopping;                   /* (lock) the thread is to return */
    const struct hookd_config *cfg; /* outlives the watch */
    struct hookd_redis_addr addr;   /* (thread) the parsed URL */
    struct hookd_redis_node master; /* (thread) the last answer; port 0: none yet */
};

static struct watch *watch;         /* set while watching; owned by the starter's thread */
static _Atomic uint64_t generation; /* changes of the master seen */

/* (thread) One round: the sentinels' master, compared with the last one. A
 * round in which no sentinel answers changes nothing. */
static void watch_round(struct watch *w)
{
    char err[HOOKD_ERRLEN];
    struct hookd_redis_addr a = w->addr;
    if (hookd_redis_locate(w->cfg, &a, NULL, NULL, WATCH_TIMEOUT_MS, err) == 0) {
        int changed =
            w->master.port && (a.port != w->master.port || strcmp(a.host, w->master.host) != 0);
        memcpy(w->master.host, a.host, sizeof(w->master.host));
        w->master.port = a.port;
        if (changed)
            atomic_fetch_add_explicit(&generation, 1, memory_order_release);
    }
    explicit_bzero(a.password, sizeof(a.password));
}

static void watch_run(void *arg)
{
    struct watch *w = arg;
    uv_mutex_lock(&w->lock);
    while (!w->stopping) {
        uv_mutex_unlock(&w->lock);
        watch_round(w);
        uv_mutex_lock(&w->lock);
        if (!w->stopping)
            (void)uv_cond_timedwait(&w->wake, &w->lock, (uint64_t)WATCH_EVERY_MS * 1000000);
    }
    uv_mutex_unlock(&w->lock);
}

int hookd_redis_watch_start(const struct hookd_config *cfg, char *errbuf)
{
    if (watch)
        return hookd_fail(errbuf, HOOKD_EINVAL, "redis: already watching the sentinels");
    struct watch *w = calloc(1, sizeof(*w));
    if (!w)
        return hookd_fail(errbuf, HOOKD_ENOMEM, "out of memory");
    int rc = hookd_redis_url_parse(cfg->redis_url, &w->addr, errbuf);
    if (rc != 0 || w->addr.mode != HOOKD_REDIS_SENTINEL) {
        explicit_bzero(&w->addr, sizeof(w->addr));
        free(w);
        return rc;
    }
    w->cfg = cfg;
    uv_mutex_init(&w->lock);
    uv_cond_init(&w->wake);
    if ((rc = uv_thread_create(&w->thread, watch_run, w)) != 0) {
        uv_cond_destroy(&w->wake);
        uv_mutex_destroy(&w->lock);
        explicit_bzero(&w->addr, sizeof(w->addr));
        free(w);
        return hookd_fail(errbuf, HOOKD_EIO, "redis: cannot start a thread: %s", uv_strerror(rc));
    }
    watch = w;
    return 0;
}

void hookd_redis_watch_stop(void)
{
    struct watch *w = watch;
    if (!w)
        return;
    uv_mutex_lock(&w->lock);
    w->stopping = 1;
    uv_cond_signal(&w->wake);
    uv_mutex_unlock(&w->lock);
    uv_thread_join(&w->thread);
    uv_cond_destroy(&w->wake);
    uv_mutex_destroy(&w->lock);
    explicit_bzero(&w->addr, sizeof(w->addr));
    watch = NULL;
    free(w);
}

uint64_t hookd_redis_watch_generation(void)
{
    return atomic_load_explicit(&generation, memory_order_acquire);
}
