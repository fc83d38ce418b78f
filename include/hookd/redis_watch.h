/* redis_watch.h - keeps asking the sentinels which node is the master.
 *
 * A master the sentinels replaced can go on answering as one for seconds
 * (after SENTINEL FAILOVER, the old master stays writable until it is told
 * to replicate, about 10 s on Redis 7), and what is written to it then is
 * wiped when it does. So `hookd run`, with a redis-sentinel:// URL, asks the
 * sentinels once a second on a thread of its own and counts the times their
 * answer changes; each loop's connection (redis_conn.c) that was located
 * before the latest change leaves its node and locates the master again. */
#ifndef HOOKD_REDIS_WATCH_H
#define HOOKD_REDIS_WATCH_H

#include <stdint.h>

#include "hookd/config.h"

/* Starts the watching thread for cfg (which outlives it) when its Redis URL
 * is a sentinel's; does nothing otherwise. 0, or HOOKD_EIO (no thread) /
 * HOOKD_EINVAL (already watching, or a URL that does not parse) with the
 * reason in errbuf. */
int hookd_redis_watch_start(const struct hookd_config *cfg, char *errbuf);

/* Stops the thread and waits for it (at most one round of questions);
 * no-op when none runs. */
void hookd_redis_watch_stop(void);

/* How many times the sentinels' master changed since the start: 0 before
 * any change and when nothing watches. Any thread. */
uint64_t hookd_redis_watch_generation(void);

#endif
