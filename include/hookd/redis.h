/* redis.h - a synchronous Redis connection for the CLI, the API and the
 * metrics thread.
 *
 * The event loops use hiredis' async API (redis_conn.h); this is hiredis'
 * blocking API, for code that may wait. A connection goes to the node that
 * serves cfg's namespace now: the URL's host, the master the sentinels name,
 * or the cluster primary that owns the namespace's slot (redis_locate.h). */
#ifndef HOOKD_REDIS_H
#define HOOKD_REDIS_H

#include <stddef.h>
#include <stdint.h>

#include "hookd/config.h"
#include "hookd/redis_node.h"

/* Connects synchronously to the node serving cfg->prefix's namespace under
 * cfg->redis_url, with TLS for rediss..., AUTH and SELECT db, with a 5 s
 * connect/command timeout; a sentinel's master or a cluster primary is
 * checked to say ROLE master. Returns NULL and a reason in errbuf
 * (HOOKD_ERRLEN bytes, never containing the password). The caller frees the
 * context with redisFree(). */
struct redisContext *hookd_redis_connect(const struct hookd_config *cfg, char *errbuf);

/* The same with timeout_ms (1 to 3600000) as both the connect and the
 * command timeout, and for each question to a sentinel or cluster node. */
struct redisContext *hookd_redis_connect_timeout(const struct hookd_config *cfg, int64_t timeout_ms,
                                                 char *errbuf);

#endif
