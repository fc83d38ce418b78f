/* fuzz_topology.c - what sentinels and cluster nodes answer, read back:
 * hookd_redis_master_addr (SENTINEL get-master-addr-by-name),
 * hookd_redis_slot_owner (CLUSTER SLOTS), hookd_redis_role_master (ROLE)
 * and hookd_redis_topology_error (an error reply's text, MOVED's address).
 *
 * Input: two bytes of slot (big-endian, modulo 16384), then RESP, read by
 * hiredis' own reader into the reply each function gets. A node found has
 * a host that is a C string of at most 255 bytes and a port from 1 to
 * 65535; the owner of a slot comes from a range that holds it; a reply over
 * the range cap is refused as too big. */
#include <hiredis/hiredis.h>

#include "fuzz_common.h"
#include "hookd/redis_locate.h"
#include "hookd/redis_node.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_node(const struct hookd_redis_node *n)
{
    FUZZ_CHECK(strnlen(n->host, sizeof(n->host)) < sizeof(n->host));
    FUZZ_CHECK(n->port >= 1 && n->port <= 65535);
}

static void check_reply(const redisReply *r, long long slot)
{
    struct hookd_redis_node n;
    char err[HOOKD_ERRLEN];
    memset(&n, 0x5a, sizeof(n));
    if (hookd_redis_master_addr(r, &n) == 0)
        check_node(&n);
    memset(&n, 0x5a, sizeof(n));
    int rc = hookd_redis_slot_owner(r, slot, "asked.example", &n, err);
    if (rc == 0) {
        check_node(&n);
        int held = 0;
        for (size_t i = 0; i < r->elements && !held; i++) {
            const redisReply *e = r->element[i];
            held = e->type == REDIS_REPLY_ARRAY && e->elements >= 3 &&
                   e->element[0]->type == REDIS_REPLY_INTEGER &&
                   e->element[1]->type == REDIS_REPLY_INTEGER && e->element[0]->integer <= slot &&
                   slot <= e->element[1]->integer;
        }
        FUZZ_CHECK(held);
    } else {
        FUZZ_CHECK(err[0] != '\0');
        if (r->type == REDIS_REPLY_ARRAY && r->elements > HOOKD_REDIS_SLOTS)
            FUZZ_CHECK(rc == HOOKD_ETOOBIG);
    }
    (void)hookd_redis_role_master(r);
    FUZZ_CHECK(hookd_redis_role(r) != NULL);
    if (r->type == REDIS_REPLY_ERROR || r->type == REDIS_REPLY_STRING) {
        struct hookd_redis_node hint = {.port = 0};
        if (hookd_redis_topology_error(r->str, &hint) && hint.port)
            check_node(&hint);
    }
}

/* 1 when a RESP header in [p, p+n) declares more than a million elements
 * or bytes. hiredis 0.14's reader allocates what an array header declares
 * before it reads the elements (it has no cap of its own, unlike 1.x's
 * maxelements), so such an input only measures calloc; see docs/design.md. */
static int declares_huge(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if ((p[i] != '*' && p[i] != '$') || (i > 0 && p[i - 1] != '\n'))
            continue;
        size_t j = i + 1, digits = 0;
        while (j < n && p[j] >= '0' && p[j] <= '9') {
            j++;
            digits++;
        }
        if (digits > 6)
            return 1;
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2 || declares_huge(data + 2, size - 2))
        return 0;
    long long slot = ((long long)data[0] << 8 | data[1]) % HOOKD_REDIS_SLOTS;
    redisReader *rd = redisReaderCreate();
    FUZZ_CHECK(rd != NULL);
    if (redisReaderFeed(rd, (const char *)data + 2, size - 2) == REDIS_OK) {
        void *r = NULL;
        while (redisReaderGetReply(rd, &r) == REDIS_OK && r) {
            check_reply(r, slot);
            freeReplyObject(r);
            r = NULL;
        }
    }
    redisReaderFree(rd);
    return 0;
}
