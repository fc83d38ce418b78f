/* redis.c - a synchronous connection to the node serving a namespace. */
#include "hookd/redis.h"

#include <hiredis/hiredis.h>
#include <string.h>
#include <uv.h>

#include "hookd/common.h"
#include "hookd/redis_locate.h"

#define REDIS_TIMEOUT_DEFAULT_MS 5000
#define LOCATE_TRIES 3      /* a sentinel's or a cluster's view may lag a failover */
#define LOCATE_PAUSE_MS 300 /* between tries */

/* Connects to the located node and, for a sentinel's master or a cluster
 * primary, checks that it says ROLE master. */
static struct redisContext *connect_master(const struct hookd_config *cfg,
                                           const struct hookd_redis_addr *addr, int64_t timeout_ms,
                                           char *errbuf)
{
    redisContext *c = hookd_redis_node_connect(cfg, addr, timeout_ms, errbuf);
    if (!c || addr->mode == HOOKD_REDIS_DIRECT)
        return c;
    const char *role[1] = {"ROLE"};
    redisReply *r = hookd_redis_command(c, 1, role, NULL, errbuf);
    int ok = hookd_redis_role_master(r);
    if (r && !ok)
        hookd_fail(errbuf, HOOKD_EREDIS, "redis %s:%d is not a master (ROLE %s)", addr->host,
                   addr->port, hookd_redis_role(r));
    if (r)
        freeReplyObject(r);
    if (!ok) {
        redisFree(c);
        return NULL;
    }
    return c;
}

struct redisContext *hookd_redis_connect_timeout(const struct hookd_config *cfg, int64_t timeout_ms,
                                                 char *errbuf)
{
    struct hookd_redis_addr addr;
    redisContext *c = NULL;
    if (hookd_redis_url_parse(cfg->redis_url, &addr, errbuf) != 0)
        return NULL;
    struct hookd_redis_node avoid = {.port = 0};
    for (int i = 0; !c && i < LOCATE_TRIES; i++) {
        if (i > 0)
            uv_sleep(LOCATE_PAUSE_MS);
        if (hookd_redis_locate(cfg, &addr, NULL, &avoid, timeout_ms, errbuf) == 0)
            c = connect_master(cfg, &addr, timeout_ms, errbuf);
        if (addr.mode == HOOKD_REDIS_DIRECT)
            break;
        /* The node found did not serve: the next try prefers another answer. */
        memcpy(avoid.host, addr.host, sizeof(avoid.host));
        avoid.port = addr.port;
    }
    explicit_bzero(addr.password, sizeof(addr.password));
    return c;
}

struct redisContext *hookd_redis_connect(const struct hookd_config *cfg, char *errbuf)
{
    return hookd_redis_connect_timeout(cfg, REDIS_TIMEOUT_DEFAULT_MS, errbuf);
}
