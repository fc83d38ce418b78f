/* test_common.c - the hot path's formatting helpers against libc's. */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>

#include "check.h"
#include "hookd/common.h"

/* hookd_i64_fmt must write what snprintf("%" PRId64) writes. */
static void check_i64(int64_t v)
{
    char got[HOOKD_I64_LEN], want[32];
    memset(got, 'x', sizeof(got));
    size_t n = hookd_i64_fmt(got, v);
    int wn = snprintf(want, sizeof(want), "%" PRId64, v);
    CHECK(n == (size_t)wn);
    CHECK_STR(got, want);
}

static void check_u64(uint64_t v)
{
    char got[HOOKD_U64_LEN], want[32];
    size_t n = hookd_u64_fmt(got, v);
    int wn = snprintf(want, sizeof(want), "%" PRIu64, v);
    CHECK(n == (size_t)wn);
    CHECK_STR(got, want);
}

static void test_i64_fmt(void)
{
    check_u64(0), check_u64(9), check_u64(10), check_u64(UINT64_MAX), check_u64(UINT64_MAX - 1);
    check_u64((uint64_t)INT64_MAX + 1);
    static const int64_t edges[] = {
        0, 1, -1, 9, 10, -10, 99, 100, 1700000000000, INT64_MAX, INT64_MIN, INT64_MIN + 1};
    for (size_t i = 0; i < sizeof(edges) / sizeof(edges[0]); i++)
        check_i64(edges[i]);
    /* Every power of ten and its neighbours, both signs. */
    for (int64_t p = 1; p <= INT64_MAX / 10; p *= 10) {
        check_i64(p - 1), check_i64(p), check_i64(p + 1);
        check_i64(-p - 1), check_i64(-p), check_i64(-p + 1);
    }
    /* A spread of values from a fixed LCG. */
    uint64_t x = 88172645463325252u;
    for (int i = 0; i < 2000; i++) {
        x = x * 6364136223846793005u + 1442695040888963407u;
        check_i64((int64_t)x);
        check_i64((int64_t)(x >> (x % 63)));
        check_u64(x >> (x % 64));
    }
}

static void test_str_copy(void)
{
    char buf[8];
    CHECK(hookd_str_copy(buf, sizeof(buf), "abc") == 3);
    CHECK_STR(buf, "abc");
    CHECK(hookd_str_copy(buf, sizeof(buf), "") == 0);
    CHECK_STR(buf, "");
    CHECK(hookd_str_copy(buf, sizeof(buf), "1234567") == 7); /* exactly fits */
    CHECK_STR(buf, "1234567");
    CHECK(hookd_str_copy(buf, sizeof(buf), "12345678") == 7); /* one over: cut */
    CHECK_STR(buf, "1234567");
    CHECK(hookd_str_copy(buf, sizeof(buf), "a much longer string") == 7);
    CHECK_STR(buf, "a much ");
    char one[1] = {'x'};
    CHECK(hookd_str_copy(one, sizeof(one), "abc") == 0);
    CHECK(one[0] == '\0');
}

/* After a reserve, appends within it keep the same memory; the cap holds. */
static void test_buf_reserve(void)
{
    struct hookd_buf b;
    hookd_buf_init(&b, 100);
    CHECK(hookd_buf_reserve(&b, 101) == HOOKD_ETOOBIG);
    CHECK(b.data == NULL && b.len == 0);
    CHECK(hookd_buf_reserve(&b, 70) == 0);
    CHECK(b.cap == 71);
    const char *mem = b.data;
    for (int i = 0; i < 7; i++)
        CHECK(hookd_buf_add(&b, "0123456789", 10) == 0);
    CHECK(b.data == mem && b.len == 70 && strlen(b.data) == 70);
    CHECK(hookd_buf_reserve(&b, 0) == 0 && b.data == mem);
    CHECK(hookd_buf_reserve(&b, 31) == HOOKD_ETOOBIG);
    CHECK(hookd_buf_add(&b, "x", 1) == 0); /* past the reserve: grows, capped */
    CHECK(b.len == 71 && b.cap <= 101);
    CHECK(hookd_buf_add(&b, "012345678901234567890123456789", 30) == HOOKD_ETOOBIG);
    CHECK(hookd_buf_add(&b, "01234567890123456789012345678", 29) == 0);
    CHECK(b.len == 100 && b.cap == 101 && strlen(b.data) == 100);
    CHECK(hookd_buf_add(&b, "a", 1) == HOOKD_ETOOBIG && b.len == 100);
    hookd_buf_free(&b);
}

int main(void)
{
    test_buf_reserve();
    test_i64_fmt();
    test_str_copy();
    return CHECK_REPORT();
}
