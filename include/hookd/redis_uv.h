/* redis_uv.h - hiredis' async API driven by a libuv loop.
 *
 * The adapter of Debian's hiredis 0.14 (adapters/libuv.h), with its lost
 * error events fixed, and with the time of the last read kept for the
 * connection watchdog. Used from the loop's thread only. */
#ifndef HOOKD_REDIS_UV_H
#define HOOKD_REDIS_UV_H

#include <hiredis/async.h>
#include <stdint.h>
#include <uv.h>

#include "hookd/common.h"

/* Drives ac from loop until hiredis cleans the context up (redisAsyncFree,
 * or a disconnect), which also frees what this attached. 0, HOOKD_ENOMEM,
 * or HOOKD_EINVAL when ac is attached already or its socket cannot be
 * watched. */
int hookd_redis_uv_attach(redisAsyncContext *ac, uv_loop_t *loop);

/* When ac's socket was last readable (uv_now of its loop); the attach time
 * before the first read, 0 for a context not attached. */
uint64_t hookd_redis_uv_heard_ms(const redisAsyncContext *ac);

#endif
