/* redis_locate.h - which Redis node serves a namespace now, and which
 * replies say it no longer does.
 *
 * A direct URL names its node. A sentinel URL names sentinels, asked in
 * turn for the master (SENTINEL get-master-addr-by-name). A cluster URL
 * names seed nodes, asked for the namespace's hash slot (CLUSTER KEYSLOT:
 * every key of a namespace is "{PREFIX}:...", so it is one slot) and for the
 * primary that owns it (CLUSTER SLOTS). Blocking, with a timeout per
 * question: redis.c calls it in place, redis_conn.c off the loop. */
#ifndef HOOKD_REDIS_LOCATE_H
#define HOOKD_REDIS_LOCATE_H

#include <stdint.h>

#include "hookd/config.h"

struct redisReply;

/* Sets addr->host and addr->port (a parsed cfg->redis_url; the rest stays)
 * to the node serving cfg->prefix now. Direct: nothing to do. Sentinel: the
 * first sentinel, in the URL's order, that names the master. Cluster: hint
 * first when not NULL and its port not 0 (the node a MOVED named), then
 * each seed. An answer equal to avoid (when not NULL and its port not 0: a
 * node just found not to be the master) is taken only when no other node
 * gives another. Each question has timeout_ms. 0, or HOOKD_EREDIS with what
 * every node said in errbuf (never a password). Thread-safe. */
int hookd_redis_locate(const struct hookd_config *cfg, struct hookd_redis_addr *addr,
                       const struct hookd_redis_node *hint, const struct hookd_redis_node *avoid,
                       int64_t timeout_ms, char *errbuf);

#define HOOKD_REDIS_SLOTS 16384 /* hash slots of a cluster; ranges of CLUSTER SLOTS, at most */

/* Reads r, the reply to SENTINEL get-master-addr-by-name, into *out: 0,
 * HOOKD_ENOTFOUND (nil: no such master), or HOOKD_EINVAL (not a host of at
 * most 255 bytes and a port from 1 to 65535). */
int hookd_redis_master_addr(const struct redisReply *r, struct hookd_redis_node *out);

/* Finds in m, the reply to CLUSTER SLOTS (at most HOOKD_REDIS_SLOTS
 * ranges), the primary that owns slot, into *out; an empty host is asked,
 * the node that answered. 0, or HOOKD_ENOTFOUND / HOOKD_EINVAL /
 * HOOKD_ETOOBIG with the reason in errbuf. */
int hookd_redis_slot_owner(const struct redisReply *m, long long slot, const char *asked,
                           struct hookd_redis_node *out, char *errbuf);

/* The role r, the reply to ROLE, names ("master", "slave", "sentinel"),
 * an error reply's text, or "?"; for messages. Lives as long as r. */
const char *hookd_redis_role(const struct redisReply *r);

/* 1 when r, the reply to ROLE, says master. */
int hookd_redis_role_master(const struct redisReply *r);

#endif
