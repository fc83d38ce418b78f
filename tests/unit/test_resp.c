/* test_resp.c - the RESP writer (resp.h) that builds the settle batch. */
#include "hookd/resp.h"

#include <hiredis/hiredis.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

/* 1 when b holds exactly the n bytes at want. */
static int holds(const struct hookd_buf *b, const void *want, size_t n)
{
    return b->len == n && (n == 0 || memcmp(b->data, want, n) == 0) &&
           (b->data == NULL || b->data[b->len] == '\0');
}

static void test_array(void)
{
    struct hookd_buf b;
    hookd_buf_init(&b, 1024);
    CHECK(hookd_resp_add_array(&b, 0) == 0);
    CHECK(holds(&b, "*0\r\n", 4));
    hookd_buf_reset(&b);
    CHECK(hookd_resp_add_array(&b, 9) == 0 && hookd_resp_add_array(&b, 10) == 0);
    CHECK(holds(&b, "*9\r\n*10\r\n", 9));
    hookd_buf_reset(&b);
    CHECK(hookd_resp_add_array(&b, SIZE_MAX) == 0);
    CHECK_STR(b.data, "*18446744073709551615\r\n");
    hookd_buf_free(&b);

    /* Over the cap: refused, nothing written. */
    hookd_buf_init(&b, 4);
    CHECK(hookd_resp_add_array(&b, 10) == HOOKD_ETOOBIG);
    CHECK(b.len == 0);
    CHECK(hookd_resp_add_array(&b, 7) == 0 && holds(&b, "*7\r\n", 4));
    CHECK(hookd_resp_add_array(&b, 1) == HOOKD_ETOOBIG && holds(&b, "*7\r\n", 4));
    hookd_buf_free(&b);
}

static void test_bulk(void)
{
    struct hookd_buf b;
    hookd_buf_init(&b, 1 << 20);
    CHECK(hookd_resp_add_bulk(&b, NULL, 0) == 0);
    CHECK(holds(&b, "$0\r\n\r\n", 6));
    hookd_buf_reset(&b);
    /* Binary: CR, LF and NUL pass as they are. */
    CHECK(hookd_resp_add_bulk(&b, "a\r\n\0b", 5) == 0);
    CHECK(holds(&b, "$5\r\na\r\n\0b\r\n", 11));
    hookd_buf_reset(&b);
    CHECK(hookd_resp_add_bulk(&b, "0123456789", 10) == 0);
    CHECK(holds(&b, "$10\r\n0123456789\r\n", 17));
    hookd_buf_free(&b);

    /* Every length around the writer's stack buffer (1 KiB), and past it,
     * against a reference built another way. */
    char *src = malloc(5000), *want = malloc(5100);
    if (!src || !want) {
        CHECK(0);
        free(src);
        free(want);
        return;
    }
    for (size_t i = 0; i < 5000; i++)
        src[i] = (char)('a' + i % 26);
    size_t lens[] = {99, 100, 990, 997, 998, 999, 1000, 1001, 1023, 1024, 1025, 1100, 4999};
    for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
        size_t n = lens[i];
        int k = snprintf(want, 5100, "$%zu\r\n", n);
        memcpy(want + k, src, n);
        memcpy(want + k + n, "\r\n", 2);
        hookd_buf_init(&b, 1 << 20);
        CHECK(hookd_resp_add_bulk(&b, "x", 1) == 0); /* not at the buffer's start */
        CHECK(hookd_resp_add_bulk(&b, src, n) == 0);
        CHECK(b.len == 7 + (size_t)k + n + 2);
        CHECK(memcmp(b.data, "$1\r\nx\r\n", 7) == 0);
        CHECK(memcmp(b.data + 7, want, (size_t)k + n + 2) == 0);
        hookd_buf_free(&b);
    }
    free(want);

    /* Over the cap, short (one append) and long (appended in parts): the
     * buffer is left as it was. */
    hookd_buf_init(&b, 10);
    CHECK(hookd_resp_add_bulk(&b, "abc", 3) == 0 && holds(&b, "$3\r\nabc\r\n", 9));
    CHECK(hookd_resp_add_bulk(&b, "", 0) == HOOKD_ETOOBIG);
    CHECK(holds(&b, "$3\r\nabc\r\n", 9));
    hookd_buf_free(&b);
    hookd_buf_init(&b, 3000);
    CHECK(hookd_resp_add_bulk(&b, src, 2000) == 0);
    CHECK(b.len == 2009);
    CHECK(hookd_resp_add_bulk(&b, src, 1500) == HOOKD_ETOOBIG);
    CHECK(b.len == 2009 && b.data[2009] == '\0');
    CHECK(memcmp(b.data + 2007, "\r\n", 2) == 0);
    hookd_buf_free(&b);
    hookd_buf_init(&b, 1500);
    CHECK(hookd_resp_add_bulk(&b, src, 1492) == HOOKD_ETOOBIG); /* 1501 bytes needed */
    CHECK(b.len == 0 && (b.data == NULL || b.data[0] == '\0'));
    CHECK(hookd_resp_add_bulk(&b, src, 1491) == 0 && b.len == 1500); /* exactly the cap */
    hookd_buf_free(&b);
    free(src);
}

/* What the writer makes is what Redis reads: hiredis' own parser takes the
 * command back as the array of arguments that went in. */
static void test_roundtrip(void)
{
    char big[3000];
    memset(big, 'z', sizeof(big));
    const struct {
        const char *p;
        size_t len;
    } args[] = {{"XADD", 4}, {"{hookd}:log:wh_1", 16}, {"", 0}, {"a\r\nb", 4}, {big, sizeof(big)}};
    size_t n = sizeof(args) / sizeof(args[0]);
    struct hookd_buf b;
    hookd_buf_init(&b, 1 << 20);
    int rc = hookd_resp_add_array(&b, n);
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = hookd_resp_add_bulk(&b, args[i].p, args[i].len);
    CHECK(rc == 0);

    redisReader *r = redisReaderCreate();
    void *reply = NULL;
    CHECK(r != NULL);
    if (r) {
        CHECK(redisReaderFeed(r, b.data, b.len) == REDIS_OK);
        CHECK(redisReaderGetReply(r, &reply) == REDIS_OK);
    }
    redisReply *rep = reply;
    CHECK(rep && rep->type == REDIS_REPLY_ARRAY && rep->elements == n);
    if (rep && rep->type == REDIS_REPLY_ARRAY && rep->elements == n) {
        for (size_t i = 0; i < n; i++) {
            CHECK(rep->element[i]->type == REDIS_REPLY_STRING);
            CHECK(rep->element[i]->len == args[i].len);
            CHECK(args[i].len == 0 || memcmp(rep->element[i]->str, args[i].p, args[i].len) == 0);
        }
    }
    /* Nothing left over: the command ends where the buffer ends. */
    void *more = NULL;
    if (r)
        CHECK(redisReaderGetReply(r, &more) == REDIS_OK && more == NULL);
    if (reply)
        freeReplyObject(reply);
    if (r)
        redisReaderFree(r);
    hookd_buf_free(&b);
}

int main(void)
{
    test_array();
    test_bulk();
    test_roundtrip();
    return CHECK_REPORT();
}
