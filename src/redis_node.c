/* redis_node.c - a synchronous hiredis connection to one node: TCP or a
 * socket, TLS, AUTH, SELECT and timeouts; and its commands. */
#include "hookd/redis_node.h"

#include <errno.h>
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>

#include "hookd/common.h"
#include "hookd/redis_tls.h"

#define REDIS_TIMEOUT_MAX_MS 3600000

/* The reason a command on c failed, with a read timeout said as such. */
static const char *reply_errstr(const redisContext *c, int64_t timeout_ms, char *tmp, size_t n)
{
    if (c->err == REDIS_ERR_IO && strcmp(c->errstr, strerror(EAGAIN)) == 0) {
        if (timeout_ms % 1000 == 0)
            snprintf(tmp, n, "no answer within %lld s", (long long)(timeout_ms / 1000));
        else
            snprintf(tmp, n, "no answer within %lld ms", (long long)timeout_ms);
        return tmp;
    }
    return c->errstr[0] ? c->errstr : "no reply";
}

/* Runs AUTH, SELECT or PING at connect time; 0, or -1 with the reason in
 * errbuf, after where. The reason never repeats the command's arguments. */
static int connect_step(redisContext *c, int argc, const char **argv, const char *what,
                        const char *where, int64_t timeout_ms, char *errbuf)
{
    char tmp[64];
    redisReply *r = redisCommandArgv(c, argc, argv, NULL);
    if (!r) {
        hookd_fail(errbuf, HOOKD_EREDIS, "%s: %s failed: %s", where, what,
                   reply_errstr(c, timeout_ms, tmp, sizeof(tmp)));
        return -1;
    }
    if (r->type == REDIS_REPLY_ERROR) {
        hookd_fail(errbuf, HOOKD_EREDIS, "%s: %s failed: %.*s", where, what,
                   (int)(r->len > 200 ? 200 : r->len), r->str);
        freeReplyObject(r);
        return -1;
    }
    freeReplyObject(r);
    return 0;
}

/* Starts TLS on c, connected to addr, as cfg's TLS files say. */
static int tls_start(const struct hookd_config *cfg, const struct hookd_redis_addr *addr,
                     redisContext *c, const char *where, char *errbuf)
{
    struct hookd_redis_tls *tls;
    struct ssl_st *ssl;
    char why[HOOKD_ERRLEN];
    int rc = hookd_redis_tls_new(cfg, addr, &tls, why);
    if (rc == 0) {
        rc = hookd_redis_tls_start(tls, c, &ssl, why);
        hookd_redis_tls_free(tls); /* c's SSL object keeps what it needs */
    }
    if (rc)
        hookd_fail(errbuf, rc, "%s: %s", where, why);
    return rc;
}

struct redisContext *hookd_redis_node_connect(const struct hookd_config *cfg,
                                              const struct hookd_redis_addr *a, int64_t timeout_ms,
                                              char *errbuf)
{
    struct hookd_redis_addr addr = *a;
    char where[300];
    redisContext *c = NULL;

    if (timeout_ms < 1 || timeout_ms > REDIS_TIMEOUT_MAX_MS) {
        hookd_fail(errbuf, HOOKD_ERANGE, "redis: timeout %lld ms out of range",
                   (long long)timeout_ms);
        return NULL;
    }
    struct timeval tv = {(time_t)(timeout_ms / 1000), (suseconds_t)(timeout_ms % 1000) * 1000};
    if (!addr.tls && hookd_redis_tls_check(cfg, &addr, errbuf) != 0)
        goto fail;
    if (addr.path[0]) {
        snprintf(where, sizeof(where), "redis %s", addr.path);
        c = redisConnectUnixWithTimeout(addr.path, tv);
    } else {
        snprintf(where, sizeof(where), strchr(addr.host, ':') ? "redis [%s]:%d" : "redis %s:%d",
                 addr.host, addr.port);
        c = redisConnectWithTimeout(addr.host, addr.port, tv);
    }
    if (!c) {
        hookd_fail(errbuf, HOOKD_ENOMEM, "%s: out of memory", where);
        goto fail;
    }
    if (c->err) {
        hookd_fail(errbuf, HOOKD_EREDIS, "%s: %s", where, c->errstr);
        goto fail;
    }
    if (redisSetTimeout(c, tv) != REDIS_OK) {
        hookd_fail(errbuf, HOOKD_EREDIS, "%s: cannot set the timeout", where);
        goto fail;
    }
    if (addr.tls && tls_start(cfg, &addr, c, where, errbuf) != 0)
        goto fail;
    /* A server that refuses the client's certificate (TLS 1.3) says so only
     * once the handshake is over: ask for a first reply here, so that the
     * refusal reads as one, not as the failure of whatever command follows. */
    const char *ping[1] = {"PING"};
    if (addr.tls && !addr.password[0] &&
        connect_step(c, 1, ping, "the first reply over TLS", where, timeout_ms, errbuf) != 0)
        goto fail;
    if (addr.password[0]) {
        const char *auth[3] = {"AUTH", addr.user, addr.password};
        if (!addr.user[0])
            auth[1] = addr.password;
        if (connect_step(c, addr.user[0] ? 3 : 2, auth, "AUTH", where, timeout_ms, errbuf) != 0)
            goto fail;
    }
    if (addr.db != 0) {
        char db[16];
        snprintf(db, sizeof(db), "%d", addr.db);
        const char *sel[2] = {"SELECT", db};
        if (connect_step(c, 2, sel, "SELECT", where, timeout_ms, errbuf) != 0)
            goto fail;
    }
    explicit_bzero(addr.password, sizeof(addr.password));
    return c;

fail:
    explicit_bzero(addr.password, sizeof(addr.password));
    if (c)
        redisFree(c);
    return NULL;
}

const char *hookd_redis_errstr(const struct redisContext *c)
{
    if (c->err == REDIS_ERR_IO && strcmp(c->errstr, strerror(EAGAIN)) == 0)
        return "no answer within 5 s";
    return c->errstr[0] ? c->errstr : "no reply";
}

struct redisReply *hookd_redis_command(struct redisContext *c, int argc, const char **argv,
                                       const size_t *lens, char *errbuf)
{
    redisReply *r = redisCommandArgv(c, argc, argv, lens);
    if (!r) {
        hookd_fail(errbuf, HOOKD_EREDIS, "redis: %s", hookd_redis_errstr(c));
        return NULL;
    }
    if (r->type == REDIS_REPLY_ERROR) {
        hookd_fail(errbuf, HOOKD_EREDIS, "redis: %.*s", (int)(r->len > 200 ? 200 : r->len), r->str);
        hookd_redis_reply_judge(c, r);
        freeReplyObject(r);
        return NULL;
    }
    return r;
}

int hookd_redis_reply_judge(struct redisContext *c, const struct redisReply *r)
{
    if (!r || r->type != REDIS_REPLY_ERROR || !hookd_redis_topology_error(r->str, NULL))
        return 0;
    c->err = REDIS_ERR_OTHER;
    snprintf(c->errstr, sizeof(c->errstr), "%.100s", r->str);
    return 1;
}

int hookd_redis_topology_error(const char *err, struct hookd_redis_node *hint)
{
    static const char *const WORDS[] = {"READONLY",    "MOVED",      "ASK",      "TRYAGAIN",
                                        "CLUSTERDOWN", "MASTERDOWN", "UNBLOCKED"};
    if (!err)
        return 0;
    for (size_t i = 0; i < sizeof(WORDS) / sizeof(WORDS[0]); i++) {
        size_t n = strlen(WORDS[i]);
        /* At the start, or where a script's error quotes the command's. */
        const char *p = strncmp(err, WORDS[i], n) == 0 ? err : NULL;
        for (const char *q = err; !p && (q = strstr(q, WORDS[i])) != NULL; q += n)
            if (q > err && (q[-1] == '-' || q[-1] == ' ') && (q[n] == ' ' || !q[n]))
                p = q;
        if (!p || (p[n] != ' ' && p[n]))
            continue;
        const char *where = p[n] == ' ' ? strchr(p + n + 1, ' ') : NULL; /* after the slot */
        if (hint && where && i >= 1 && i <= 2) {
            const char *colon = strrchr(where + 1, ':');
            int64_t port;
            size_t hl = colon ? (size_t)(colon - where - 1) : 0;
            char pb[8];
            size_t pl = colon ? strcspn(colon + 1, " ") : 0;
            if (colon && hl > 0 && hl < sizeof(hint->host) && pl > 0 && pl < sizeof(pb)) {
                memcpy(pb, colon + 1, pl);
                pb[pl] = '\0';
                if (hookd_parse_i64(pb, 1, 65535, &port) == 0) {
                    memcpy(hint->host, where + 1, hl);
                    hint->host[hl] = '\0';
                    hint->port = (int)port;
                }
            }
        }
        return 1;
    }
    return 0;
}
