/* redis_locate.c - the node serving a namespace: sentinels' master, cluster
 * slot owner; and the replies that say it moved. */
#include "hookd/redis_locate.h"

#include <hiredis/hiredis.h>
#include <stdio.h>
#include <string.h>

#include "hookd/common.h"
#include "hookd/redis_node.h"
#include "hookd/schema.h"

/* What the nodes asked said, one "host:port: reason" after the other, for
 * the error. */
struct said {
    char text[HOOKD_ERRLEN];
    size_t len;
};

static void said_add(struct said *s, const struct hookd_redis_node *n, const char *why)
{
    if (s->len >= sizeof(s->text) - 1)
        return;
    int k = snprintf(s->text + s->len, sizeof(s->text) - s->len,
                     strchr(n->host, ':') ? "%s[%s]:%d: %s" : "%s%s:%d: %s", s->len ? "; " : "",
                     n->host, n->port, why);
    s->len += k > 0 ? (size_t)k : 0;
    if (s->len >= sizeof(s->text))
        s->len = sizeof(s->text) - 1;
}

/* Copies an address reply's host (a bulk string of at most 255 bytes) and
 * port (a string or an integer, 1 to 65535) into out. 0 or -1. */
static int node_of(const redisReply *host, const redisReply *port, struct hookd_redis_node *out)
{
    int64_t p;
    if (host->type != REDIS_REPLY_STRING || host->len >= sizeof(out->host))
        return -1;
    if (port->type == REDIS_REPLY_INTEGER)
        p = port->integer;
    else if (port->type != REDIS_REPLY_STRING || hookd_parse_i64(port->str, 1, 65535, &p) != 0)
        return -1;
    if (p < 1 || p > 65535)
        return -1;
    memcpy(out->host, host->str, host->len);
    out->host[host->len] = '\0';
    out->port = (int)p;
    return 0;
}

/* Asks the sentinel at n for addr's master, with the URL's credentials when
 * auth (never its database). 0 with *out set, -1 with why, or 1 when the
 * sentinel wants credentials (NOAUTH). */
static int ask_sentinel_as(const struct hookd_config *cfg, const struct hookd_redis_addr *addr,
                           const struct hookd_redis_node *n, int auth, int64_t timeout_ms,
                           struct hookd_redis_node *out, char *why)
{
    struct hookd_redis_addr s = {.port = n->port, .tls = addr->tls};
    memcpy(s.host, n->host, sizeof(s.host));
    if (auth) {
        memcpy(s.user, addr->user, sizeof(s.user));
        memcpy(s.password, addr->password, sizeof(s.password));
    }
    redisContext *c = hookd_redis_node_connect(cfg, &s, timeout_ms, why);
    explicit_bzero(s.password, sizeof(s.password));
    if (!c)
        return -1;
    const char *argv[3] = {"SENTINEL", "get-master-addr-by-name", addr->master};
    redisReply *r = hookd_redis_command(c, 3, argv, NULL, why);
    int rc = -1;
    if (!r && !auth && addr->password[0] && strstr(why, "NOAUTH")) {
        redisFree(c);
        return 1;
    }
    int got = r ? hookd_redis_master_addr(r, out) : -1;
    if (got == HOOKD_ENOTFOUND)
        hookd_fail(why, HOOKD_EREDIS, "knows no master named \"%s\"", addr->master);
    else if (got == HOOKD_EINVAL)
        hookd_fail(why, HOOKD_EREDIS, "gave no address for master \"%s\"", addr->master);
    else if (got == 0)
        rc = 0;
    if (r)
        freeReplyObject(r);
    redisFree(c);
    return rc;
}

/* Asks the sentinel at n for addr's master: without credentials first (a
 * sentinel's own password is often unset), then, when it answers NOAUTH,
 * with the URL's. 0 with *out set, or -1 with why. */
static int ask_sentinel(const struct hookd_config *cfg, const struct hookd_redis_addr *addr,
                        const struct hookd_redis_node *n, int64_t timeout_ms,
                        struct hookd_redis_node *out, char *why)
{
    int rc = ask_sentinel_as(cfg, addr, n, 0, timeout_ms, out, why);
    if (rc == 1)
        rc = ask_sentinel_as(cfg, addr, n, 1, timeout_ms, out, why);
    return rc;
}

/* Asks the cluster node at n which primary owns the slot of cfg's
 * namespace. 0 with *out set, or -1 with why. */
static int ask_cluster(const struct hookd_config *cfg, const struct hookd_redis_addr *addr,
                       const struct hookd_redis_node *n, int64_t timeout_ms,
                       struct hookd_redis_node *out, char *why)
{
    struct hookd_redis_addr s = *addr;
    memcpy(s.host, n->host, sizeof(s.host));
    s.port = n->port;
    redisContext *c = hookd_redis_node_connect(cfg, &s, timeout_ms, why);
    explicit_bzero(s.password, sizeof(s.password));
    if (!c)
        return -1;
    char key[HOOKD_KEY_MAX];
    hookd_schema_key(key, cfg->prefix, HOOKD_K_EVENTS);
    const char *ks[3] = {"CLUSTER", "KEYSLOT", key};
    const char *sl[2] = {"CLUSTER", "SLOTS"};
    redisReply *r = hookd_redis_command(c, 3, ks, NULL, why), *m = NULL;
    int rc = -1;
    long long slot = r && r->type == REDIS_REPLY_INTEGER ? r->integer : -1;
    if (r && slot < 0)
        hookd_fail(why, HOOKD_EREDIS, "CLUSTER KEYSLOT gave no slot");
    if (slot >= 0 && (m = hookd_redis_command(c, 2, sl, NULL, why)) != NULL)
        rc = hookd_redis_slot_owner(m, slot, n->host, out, why) == 0 ? 0 : -1;
    if (r)
        freeReplyObject(r);
    if (m)
        freeReplyObject(m);
    redisFree(c);
    return rc;
}

/* 1 when a and b name the same host and port. */
static int same_node(const struct hookd_redis_node *a, const struct hookd_redis_node *b)
{
    return a->port == b->port && strcmp(a->host, b->host) == 0;
}

int hookd_redis_locate(const struct hookd_config *cfg, struct hookd_redis_addr *addr,
                       const struct hookd_redis_node *hint, const struct hookd_redis_node *avoid,
                       int64_t timeout_ms, char *errbuf)
{
    struct said said = {.len = 0};
    struct hookd_redis_node found, fallback = {.port = 0};
    char why[HOOKD_ERRLEN];
    if (addr->mode == HOOKD_REDIS_DIRECT)
        return 0;
    int sentinel = addr->mode == HOOKD_REDIS_SENTINEL;
    for (int i = hint && hint->port && !sentinel ? -1 : 0; i < addr->nseeds; i++) {
        const struct hookd_redis_node *n = i < 0 ? hint : &addr->seeds[i];
        int rc = sentinel ? ask_sentinel(cfg, addr, n, timeout_ms, &found, why)
                          : ask_cluster(cfg, addr, n, timeout_ms, &found, why);
        if (rc == 0 && avoid && avoid->port && same_node(&found, avoid)) {
            /* This one names the node that was not the master: a stale
             * view. Another may know better; it is the answer if none does. */
            if (!fallback.port)
                fallback = found;
            said_add(&said, n, "names the node that is not the master");
            continue;
        }
        if (rc == 0) {
            memcpy(addr->host, found.host, sizeof(addr->host));
            addr->port = found.port;
            return 0;
        }
        said_add(&said, n, why);
    }
    if (fallback.port) {
        memcpy(addr->host, fallback.host, sizeof(addr->host));
        addr->port = fallback.port;
        return 0;
    }
    if (sentinel)
        return hookd_fail(errbuf, HOOKD_EREDIS, "redis: no sentinel named master \"%s\" (%s)",
                          addr->master, said.text);
    return hookd_fail(errbuf, HOOKD_EREDIS, "redis: no cluster node named the owner of {%s} (%s)",
                      cfg->prefix, said.text);
}

int hookd_redis_master_addr(const struct redisReply *r, struct hookd_redis_node *out)
{
    if (r->type == REDIS_REPLY_NIL)
        return HOOKD_ENOTFOUND;
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
        node_of(r->element[0], r->element[1], out) != 0)
        return HOOKD_EINVAL;
    return 0;
}

int hookd_redis_slot_owner(const struct redisReply *m, long long slot, const char *asked,
                           struct hookd_redis_node *out, char *errbuf)
{
    if (m->type != REDIS_REPLY_ARRAY)
        return hookd_fail(errbuf, HOOKD_EINVAL, "CLUSTER SLOTS gave no array");
    if (m->elements > HOOKD_REDIS_SLOTS)
        return hookd_fail(errbuf, HOOKD_ETOOBIG, "CLUSTER SLOTS gave %zu ranges, over %d",
                          m->elements, HOOKD_REDIS_SLOTS);
    for (size_t i = 0; i < m->elements; i++) {
        const redisReply *e = m->element[i];
        if (e->type != REDIS_REPLY_ARRAY || e->elements < 3 ||
            e->element[0]->type != REDIS_REPLY_INTEGER ||
            e->element[1]->type != REDIS_REPLY_INTEGER ||
            e->element[2]->type != REDIS_REPLY_ARRAY || e->element[2]->elements < 2 ||
            slot < e->element[0]->integer || slot > e->element[1]->integer)
            continue;
        if (node_of(e->element[2]->element[0], e->element[2]->element[1], out) != 0)
            return hookd_fail(errbuf, HOOKD_EINVAL, "bad address for slot %lld", slot);
        /* An empty host is the node asked, by its own words. */
        if (!out->host[0])
            snprintf(out->host, sizeof(out->host), "%s", asked);
        return 0;
    }
    return hookd_fail(errbuf, HOOKD_ENOTFOUND, "no primary owns slot %lld", slot);
}

const char *hookd_redis_role(const struct redisReply *r)
{
    if (r && r->type == REDIS_REPLY_ARRAY && r->elements >= 1 &&
        r->element[0]->type == REDIS_REPLY_STRING)
        return r->element[0]->str;
    return r && r->type == REDIS_REPLY_ERROR ? r->str : "?";
}

int hookd_redis_role_master(const struct redisReply *r)
{
    return r && r->type == REDIS_REPLY_ARRAY && strcmp(hookd_redis_role(r), "master") == 0;
}
