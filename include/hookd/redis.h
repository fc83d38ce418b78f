/* redis.h - a synchronous Redis connection for the CLI and the metrics thread.
 *
 * The event loops use hiredis' async API (queue.h); this is hiredis' blocking
 * API, for code that may wait: admin commands and the once-a-second depth
 * read of the metrics thread. */
#ifndef HOOKD_REDIS_H
#define HOOKD_REDIS_H

#include <stddef.h>
#include <stdint.h>

#include "hookd/config.h"

struct redisContext;
struct redisReply;

/* Connects synchronously to cfg->redis_url with TLS for rediss:// (cfg's
 * redis-ca-file, redis-cert-file and redis-key-file), AUTH (user+password
 * or password only) and SELECT db, with a 5 s connect/command timeout. Returns
 * NULL and a reason in errbuf (HOOKD_ERRLEN bytes, never containing the
 * password). The caller frees the context with redisFree(). */
struct redisContext *hookd_redis_connect(const struct hookd_config *cfg, char *errbuf);

/* The same with timeout_ms (1 to 3600000) as both the connect and the
 * command timeout. */
struct redisContext *hookd_redis_connect_timeout(const struct hookd_config *cfg, int64_t timeout_ms,
                                                 char *errbuf);

/* Sends one command (argc words; lens NULL means the words are C strings)
 * and returns its reply. A transport failure or an error reply gives NULL
 * with the reason in errbuf. The caller frees the reply. */
struct redisReply *hookd_redis_command(struct redisContext *c, int argc, const char **argv,
                                       const size_t *lens, char *errbuf);

/* The reason a command on c failed, with a read timeout said as such. */
const char *hookd_redis_errstr(const struct redisContext *c);

#endif
