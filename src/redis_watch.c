/* redis_watch.c - the thread that asks the sentinels for the master once a
 * second and counts the changes. */
#include "hookd/redis_watch.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "hookd/common.h"
#include "hookd/redis_locate.h"
#include "hookd/ticker.h"

#define WATCH_EVERY_MS 1000  /* between rounds of questions */
#define WATCH_TIMEOUT_MS 500 /* for each sentinel; a round never holds the thread long */

/* The watcher's state. Fields marked (thread) are its ticker's thread's. */
struct watch {
    struct hookd_ticker *ticker;    /* runs watch_round */
    const struct hookd_config *cfg; /* outlives the watch */
    struct hookd_redis_addr addr;   /* (thread) the parsed URL */
    struct hookd_redis_node master; /* (thread) the last answer; port 0: none yet */
};

static struct watch *watch;         /* set while watching; owned by the starter's thread */
static _Atomic uint64_t generation; /* changes of the master seen */

/* (thread) One round: the sentinels' master, compared with the last one. A
 * round in which no sentinel answers changes nothing. */
static void watch_round(void *arg)
{
    struct watch *w = arg;
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
    char why[HOOKD_ERRLEN];
    if ((rc = hookd_ticker_start(watch_round, w, WATCH_EVERY_MS, &w->ticker, why)) != 0) {
        explicit_bzero(&w->addr, sizeof(w->addr));
        free(w);
        return hookd_fail(errbuf, rc, "redis: %s", why);
    }
    watch = w;
    return 0;
}

void hookd_redis_watch_stop(void)
{
    struct watch *w = watch;
    if (!w)
        return;
    hookd_ticker_stop(w->ticker);
    explicit_bzero(&w->addr, sizeof(w->addr));
    watch = NULL;
    free(w);
}

uint64_t hookd_redis_watch_generation(void)
{
    return atomic_load_explicit(&generation, memory_order_acquire);
}
