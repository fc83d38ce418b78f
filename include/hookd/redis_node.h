/* redis_node.h - a synchronous connection to one Redis node, and commands
 * on it.
 *
 * The building block of redis.h (which first finds the node a URL means)
 * and of redis_locate.h (which asks sentinels and cluster nodes). */
#ifndef HOOKD_REDIS_NODE_H
#define HOOKD_REDIS_NODE_H

#include <stddef.h>
#include <stdint.h>

#include "hookd/config.h"

struct redisContext;
struct redisReply;

/* Connects synchronously to the node addr names (host and port, or path),
 * with TLS when addr->tls (cfg's redis-ca-file, redis-cert-file and
 * redis-key-file, the certificate checked against addr->host), AUTH when
 * addr holds a password and SELECT when addr->db is not 0; timeout_ms (1 to
 * 3600000) is both the connect and the command timeout. Returns NULL and a
 * reason in errbuf (HOOKD_ERRLEN bytes, never containing the password). The
 * caller frees the context with redisFree(). */
struct redisContext *hookd_redis_node_connect(const struct hookd_config *cfg,
                                              const struct hookd_redis_addr *addr,
                                              int64_t timeout_ms, char *errbuf);

/* Sends one command (argc words; lens NULL means the words are C strings)
 * and returns its reply. A transport failure or an error reply gives NULL
 * with the reason in errbuf. The caller frees the reply. */
struct redisReply *hookd_redis_command(struct redisContext *c, int argc, const char **argv,
                                       const size_t *lens, char *errbuf);

/* 1 when err, the text of an error reply, says this node does not serve
 * the namespace now, so that the connection should be dropped and the node
 * located again: READONLY (a demoted master), MOVED and ASK (the slot is
 * elsewhere; *hint, when not NULL, gets the node named), TRYAGAIN,
 * CLUSTERDOWN, MASTERDOWN, or UNBLOCKED (a blocking command ended by a role
 * change). A script's error carries the command's, and counts too. */
int hookd_redis_topology_error(const char *err, struct hookd_redis_node *hint);

/* Marks c failed (its err set, so that no command goes on it and a pool
 * drops it) when r is an error of hookd_redis_topology_error()'s kind: the
 * next connection locates the node again. hookd_redis_command() does it
 * for its own replies; code that reads pipelined replies calls it. 1 when
 * it did. */
int hookd_redis_reply_judge(struct redisContext *c, const struct redisReply *r);

/* The reason a command on c failed, with a read timeout said as such. */
const char *hookd_redis_errstr(const struct redisContext *c);

#endif
