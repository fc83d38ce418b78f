/* redis_conn.h - one reconnecting Redis connection on a libuv loop.
 *
 * A connection locates its node off the loop at every connect (the URL's
 * host; the master the sentinels name; the cluster primary owning the
 * namespace's slot: redis_locate.h) and resolves its host there too, so that
 * a failover, or a name re-pointed by one, is followed. It connects, starts
 * TLS for rediss..., sends AUTH, SELECT and CLIENT SETNAME, checks ROLE of a
 * located node, and reconnects after a backoff of 100 ms doubling to 5 s whenever it is
 * lost. A watchdog gives every reply a deadline, the timeout given plus
 * whatever the owner allows for a blocking command: a Redis that is stopped,
 * or cut off by a network that drops packets, never closes the socket, and
 * hiredis' async commands have no timeout of their own. A late reply, or a
 * connect that takes longer than the timeout, is told once, and the
 * connection is closed and opened again.
 *
 * The owner sends its commands on the context handed to on_open, which is
 * valid until on_down. Loop thread only. */
#ifndef HOOKD_REDIS_CONN_H
#define HOOKD_REDIS_CONN_H

#include <hiredis/async.h>
#include <stdint.h>
#include <uv.h>

#include "hookd/common.h"
#include "hookd/config.h"

struct hookd_redis_conn; /* opaque */

/* Callbacks into the owner, on the loop. */
struct hookd_redis_conn_cbs {
    /* Connected, with AUTH, SELECT and CLIENT SETNAME sent: the owner sends
     * its own set-up on ac and calls hookd_redis_conn_ready() once it
     * succeeded. At every (re)connect. */
    void (*on_open)(void *data, redisAsyncContext *ac);
    /* ac is gone: closed by either side, failed, or declared dead. Every
     * command it had in flight has had its callback with a NULL reply. A
     * reconnect follows unless the connection is closing. */
    void (*on_down)(void *data);
    /* A failure as one log line ("redis: ..."), told once per event. */
    void (*on_error)(void *data, const char *msg);
    /* hookd_redis_conn_close() finished: no handle or request is left. */
    void (*on_closed)(void *data);
};

/* Makes a connection to cfg->redis_url on loop, named name (CLIENT SETNAME;
 * a string that lives longer than the connection), with cfg's TLS files and
 * --redis-timeout; it connects at hookd_redis_conn_start(). cfg lives
 * longer than the connection. Nothing is on the loop until it starts.
 * 0, or HOOKD_EINVAL / HOOKD_ECRYPTO / HOOKD_ENOMEM with the reason in
 * errbuf. The owner frees it with hookd_redis_conn_free(): once on_closed
 * ran, or at once when it never started. */
int hookd_redis_conn_new(uv_loop_t *loop, const struct hookd_config *cfg, const char *name,
                         const struct hookd_redis_conn_cbs *cbs, void *data,
                         struct hookd_redis_conn **out, char *errbuf);

/* Connects now, if not connected or connecting. */
void hookd_redis_conn_start(struct hookd_redis_conn *c);

/* The owner's set-up on this connection succeeded: once it has lasted 1 s,
 * the backoff starts again from 100 ms when it ends (one that ends sooner
 * keeps doubling it). */
void hookd_redis_conn_ready(struct hookd_redis_conn *c);

/* Ends the connection because of why (told through on_error, prefixed
 * "redis: "), and reconnects after the backoff unless closing. Safe inside
 * a reply callback. */
void hookd_redis_conn_drop(struct hookd_redis_conn *c, const char *why);

/* The commands now in flight may take extra_ms longer than the timeout (a
 * blocking command's own wait); 0 takes the allowance back. */
void hookd_redis_conn_allow(struct hookd_redis_conn *c, int64_t extra_ms);

/* Stops reconnecting and ends the connection: gracefully (the replies in
 * flight still arrive, within the watchdog's deadline) or, when force, at
 * once. on_closed follows, but for a connection never started, which has
 * nothing to close. Once only; later calls do nothing. */
void hookd_redis_conn_close(struct hookd_redis_conn *c, int force);

/* 1 when reply is an error saying that this node does not serve the
 * namespace now (READONLY, MOVED, ASK, TRYAGAIN, CLUSTERDOWN, MASTERDOWN,
 * UNBLOCKED: redis_locate.h): then the connection was dropped, as by
 * hookd_redis_conn_drop(), and the next one locates the node again (asking
 * first a node a MOVED named). The owner treats the reply as lost. 0 for
 * any other reply. */
int hookd_redis_conn_moved(struct hookd_redis_conn *c, const struct redisReply *reply);

/* The owner's data pointer of a context this module handed to on_open: for
 * the owner's reply callbacks, as hiredis' own data pointer is the
 * connection's. */
void *hookd_redis_conn_data(const redisAsyncContext *ac);

/* "host:port" or the socket path, for messages. */
const char *hookd_redis_conn_where(const struct hookd_redis_conn *c);

void hookd_redis_conn_free(struct hookd_redis_conn *c);

#endif
