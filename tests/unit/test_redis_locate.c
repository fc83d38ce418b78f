/* test_redis_locate.c - reading what sentinels and cluster nodes answer, and
 * which error replies say the node no longer serves the namespace. */
#include <hiredis/hiredis.h>
#include <string.h>

#include "check.h"
#include "hookd/redis_locate.h"
#include "hookd/redis_node.h"

/* The reply RESP text gives, read by hiredis' own reader. */
static redisReply *reply_of(const char *resp)
{
    redisReader *rd = redisReaderCreate();
    void *r = NULL;
    redisReaderFeed(rd, resp, strlen(resp));
    if (redisReaderGetReply(rd, &r) != REDIS_OK)
        r = NULL;
    redisReaderFree(rd);
    return r;
}

static void test_master_addr(void)
{
    struct hookd_redis_node n;
    redisReply *r = reply_of("*2\r\n$9\r\n127.0.0.1\r\n$4\r\n6380\r\n");
    CHECK(r && hookd_redis_master_addr(r, &n) == 0);
    CHECK_STR(n.host, "127.0.0.1");
    CHECK(n.port == 6380);
    freeReplyObject(r);
    r = reply_of("*-1\r\n");
    CHECK(r && hookd_redis_master_addr(r, &n) == HOOKD_ENOTFOUND);
    freeReplyObject(r);
    static const char *const bad[] = {"*2\r\n$1\r\nh\r\n$1\r\n0\r\n",
                                      "*2\r\n$1\r\nh\r\n$5\r\n65536\r\n", "*1\r\n$1\r\nh\r\n",
                                      "$4\r\nnope\r\n", "*2\r\n:1\r\n:2\r\n"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        r = reply_of(bad[i]);
        CHECK(r && hookd_redis_master_addr(r, &n) == HOOKD_EINVAL);
        freeReplyObject(r);
    }
}

static void test_slot_owner(void)
{
    struct hookd_redis_node n;
    char err[HOOKD_ERRLEN];
    redisReply *r =
        reply_of("*3\r\n"
                 "*3\r\n:0\r\n:5460\r\n*3\r\n$8\r\n10.0.0.1\r\n:7000\r\n$2\r\nid\r\n"
                 "*4\r\n:5461\r\n:10922\r\n*2\r\n$0\r\n\r\n:7001\r\n*2\r\n$1\r\nr\r\n:1\r\n"
                 "*3\r\n:10923\r\n:16383\r\n*2\r\n$8\r\n10.0.0.3\r\n:7002\r\n");
    CHECK(r != NULL);
    CHECK(hookd_redis_slot_owner(r, 0, "seed", &n, err) == 0 && n.port == 7000);
    CHECK_STR(n.host, "10.0.0.1");
    CHECK(hookd_redis_slot_owner(r, 7365, "seed", &n, err) == 0 && n.port == 7001);
    CHECK_STR(n.host, "seed"); /* an empty host is the node asked */
    CHECK(hookd_redis_slot_owner(r, 16383, "seed", &n, err) == 0 && n.port == 7002);
    freeReplyObject(r);
    r = reply_of("*1\r\n*3\r\n:0\r\n:100\r\n*2\r\n$1\r\nh\r\n:1\r\n");
    CHECK(hookd_redis_slot_owner(r, 101, "seed", &n, err) == HOOKD_ENOTFOUND);
    CHECK(strstr(err, "no primary owns slot 101") != NULL);
    freeReplyObject(r);
    r = reply_of("-CLUSTERDOWN\r\n");
    CHECK(hookd_redis_slot_owner(r, 1, "seed", &n, err) == HOOKD_EINVAL);
    freeReplyObject(r);
}

static void test_role(void)
{
    redisReply *m = reply_of("*3\r\n$6\r\nmaster\r\n:10\r\n*0\r\n");
    redisReply *s = reply_of("*5\r\n$5\r\nslave\r\n$1\r\nh\r\n:1\r\n$9\r\nconnected\r\n:1\r\n");
    CHECK(hookd_redis_role_master(m) == 1);
    CHECK(hookd_redis_role_master(s) == 0);
    CHECK(hookd_redis_role_master(NULL) == 0);
    CHECK_STR(hookd_redis_role(s), "slave");
    CHECK_STR(hookd_redis_role(NULL), "?");
    redisReply *e = reply_of("-NOPERM no ROLE for you\r\n");
    CHECK_STR(hookd_redis_role(e), "NOPERM no ROLE for you");
    CHECK(hookd_redis_role_master(e) == 0);
    freeReplyObject(e);
    freeReplyObject(m);
    freeReplyObject(s);
}

static void test_topology_errors(void)
{
    struct hookd_redis_node h = {.port = 0};
    CHECK(hookd_redis_topology_error("MOVED 3999 127.0.0.1:6381", &h) == 1);
    CHECK_STR(h.host, "127.0.0.1");
    CHECK(h.port == 6381);
    memset(&h, 0, sizeof(h));
    CHECK(hookd_redis_topology_error("ASK 3999 ::1:6382", &h) == 1);
    CHECK_STR(h.host, "::1");
    CHECK(h.port == 6382);
    CHECK(hookd_redis_topology_error("READONLY You can't write against a read only replica. "
                                     "script: 67ed, on @user_script:1.",
                                     NULL) == 1);
    CHECK(hookd_redis_topology_error("ERR Error running script: -READONLY x", NULL) == 1);
    CHECK(hookd_redis_topology_error("UNBLOCKED force unblock", NULL) == 1);
    CHECK(hookd_redis_topology_error("CLUSTERDOWN The cluster is down", NULL) == 1);
    CHECK(hookd_redis_topology_error("MASTERDOWN Link with MASTER is down", NULL) == 1);
    CHECK(hookd_redis_topology_error("TRYAGAIN Multiple keys request during rehashing", NULL) == 1);
    /* not these */
    CHECK(hookd_redis_topology_error("ERR unknown command", NULL) == 0);
    CHECK(hookd_redis_topology_error("NOSCRIPT No matching script", NULL) == 0);
    CHECK(hookd_redis_topology_error("WRONGTYPE Operation against a key", NULL) == 0);
    CHECK(hookd_redis_topology_error("ERR ASKING is fine", NULL) == 0);
    CHECK(hookd_redis_topology_error("ERR MOVEDX", NULL) == 0);
    CHECK(hookd_redis_topology_error(NULL, NULL) == 0);
    /* a MOVED without a usable address leaves the hint alone */
    memset(&h, 0, sizeof(h));
    CHECK(hookd_redis_topology_error("MOVED 1 nowhere", &h) == 1 && h.port == 0);
    CHECK(hookd_redis_topology_error("MOVED 1 h:99999", &h) == 1 && h.port == 0);
}

int main(void)
{
    test_master_addr();
    test_slot_owner();
    test_role();
    test_topology_errors();
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
