/* test_retry.c - backoff delays, Retry-After parsing, attempt outcomes. */
#include "hookd/retry.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "check.h"

#define H12 (12LL * 3600 * 1000)

/* The documented defaults: 10 s, x3, 12 h, 10 attempts, +-20%. */
static const struct hookd_retry_policy defaults = {10000, 3.0, H12, 10, 0.2};

static void test_delay(void)
{
    static const struct hookd_retry_policy exact = {10000, 3.0, H12, 10, 0.0};
    static const struct hookd_retry_policy tiny = {1, 2.0, 1000, 10, 0.2};
    static const struct hookd_retry_policy huge = {10000, 1e300, H12, 10, 0.2};
    static const struct hookd_retry_policy wild = {10000, 3.0, H12, 10, 7.0};
    static const struct {
        const struct hookd_retry_policy *p;
        int attempt;
        double r;
        int64_t want;
    } cases[] = {
        {&defaults, 1, 0.5, 10000},
        {&defaults, 2, 0.5, 30000},
        {&defaults, 3, 0.5, 90000},
        {&defaults, 1, 0.0, 8000}, /* -20% */
        {&defaults, 1, 0.75, 11000},
        {&defaults, 1, 0.999999, 12000}, /* just under +20% */
        {&defaults, 2, 0.0, 24000},
        {&defaults, 0, 0.5, 10000}, /* attempt < 1 counts as 1 */
        {&defaults, -5, 0.5, 10000},
        {&defaults, 8, 0.5, 21870000},     /* 10 s * 3^7, under the cap */
        {&defaults, 9, 0.5, H12},          /* 10 s * 3^8 = 18.2 h: capped */
        {&defaults, 9, 0.0, H12 * 8 / 10}, /* jitter applies under the cap */
        {&defaults, 9, 0.99, H12},         /* but never above it */
        {&defaults, INT_MAX, 0.5, H12},    /* factor^huge overflows double: capped */
        {&defaults, 10, 1.5, H12},         /* r out of range is clamped */
        {&defaults, 1, 1.5, 12000},
        {&defaults, 1, -1.0, 8000},
        {&exact, 5, 0.123, 810000}, /* no jitter: exact */
        {&exact, 10, 0.9, H12},
        {&tiny, 1, 0.0, 1}, /* 0.8 ms rounds up to the 1 ms floor */
        {&tiny, 30, 0.5, 1000},
        {&huge, 2, 0.5, H12},
        {&wild, 1, 0.0, 1}, /* jitter is capped at 100% */
        {&wild, 1, 0.5, 10000},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int64_t got = hookd_retry_delay(cases[i].p, cases[i].attempt, cases[i].r);
        if (got != cases[i].want)
            fprintf(stderr, "delay case %zu: got %lld, want %lld\n", i, (long long)got,
                    (long long)cases[i].want);
        CHECK(got == cases[i].want);
    }

    /* Delays never shrink from one attempt to the next at a fixed r. */
    int64_t prev = 0;
    for (int n = 1; n <= 40; n++) {
        int64_t d = hookd_retry_delay(&defaults, n, 0.3);
        CHECK(d >= prev && d <= H12);
        prev = d;
    }
}

static void test_retry_after(void)
{
    static const struct hookd_retry_policy small = {1000, 3.0, 600000, 10, 0.2};
    /* Wed, 21 Oct 2015 07:28:00 GMT */
    const int64_t t0 = 1445412480LL * 1000;
    char long65[66], digits64[65];
    memset(long65, '1', 65);
    long65[65] = '\0';
    memset(digits64, '0', 64);
    digits64[63] = '7';
    digits64[64] = '\0';

    static const char *const bad[] = {
        "",
        " ",
        "-5",
        "+5",
        "1.5",
        "12a",
        "0x10",
        "1 2",
        "soon",
        "Wed, 21 Oct 2015 07:28:00 PST",
        "Wed, 21 Oct 2015 07:28:00 GMT trailing",
        "Wed, 21 Oct 2015 25:28:00 GMT",
        "Wed, 32 Oct 2015 07:28:00 GMT",
        "Wed, 21 Foo 2015 07:28:00 GMT",
        "2015-10-21T07:28:00Z",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int64_t got = hookd_retry_after_parse(&small, bad[i], t0);
        if (got != -1)
            fprintf(stderr, "retry-after \"%s\": got %lld\n", bad[i], (long long)got);
        CHECK(got == -1);
    }
    CHECK(hookd_retry_after_parse(&small, NULL, t0) == -1);
    CHECK(hookd_retry_after_parse(&small, long65, t0) == -1);

    static const struct {
        const struct hookd_retry_policy *p;
        const char *value;
        int64_t now;
        int64_t want;
    } cases[] = {
        {&small, "5", t0, 5000},
        {&small, " 5\t", t0, 5000},
        {&small, "0", t0, 1000}, /* clamped up to base */
        {&defaults, "5", t0, 10000},
        {&small, "600", t0, 600000},
        {&small, "601", t0, 600000}, /* clamped down to max */
        {&small, "99999999999999999999999999999999", t0, 600000},
        {&small, "00120", t0, 120000},
        {&small, "Wed, 21 Oct 2015 07:28:00 GMT", t0 - 60000, 60000},
        {&small, "Wednesday, 21-Oct-15 07:28:00 GMT", t0 - 60000, 60000},
        {&small, "Wed Oct 21 07:28:00 2015", t0 - 60000, 60000},
        {&small, "Wed, 21 Oct 2015 07:28:00 GMT", t0 - 1500, 1500},
        {&small, "Wed, 21 Oct 2015 07:28:00 GMT", t0, 1000},            /* now: base */
        {&small, "Wed, 21 Oct 2015 07:28:00 GMT", t0 + 86400000, 1000}, /* past: base */
        {&small, "Sat, 01 Jan 2100 00:00:00 GMT", t0, 600000},          /* far future: max */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int64_t got = hookd_retry_after_parse(cases[i].p, cases[i].value, cases[i].now);
        if (got != cases[i].want)
            fprintf(stderr, "retry-after case %zu \"%s\": got %lld, want %lld\n", i, cases[i].value,
                    (long long)got, (long long)cases[i].want);
        CHECK(got == cases[i].want);
    }
    /* Exactly 64 bytes is still accepted. */
    CHECK(hookd_retry_after_parse(&small, digits64, t0) == 7000);
}

static void test_classify(void)
{
    static const struct {
        long status;
        int attempt;
        enum hookd_outcome want;
    } cases[] = {
        {200, 1, HOOKD_OUTCOME_OK},    {204, 10, HOOKD_OUTCOME_OK},   {299, 1, HOOKD_OUTCOME_OK},
        {410, 1, HOOKD_OUTCOME_GONE},  {410, 10, HOOKD_OUTCOME_GONE}, {0, 1, HOOKD_OUTCOME_RETRY},
        {0, 9, HOOKD_OUTCOME_RETRY},   {0, 10, HOOKD_OUTCOME_DEAD},   {100, 1, HOOKD_OUTCOME_RETRY},
        {199, 1, HOOKD_OUTCOME_RETRY}, {300, 1, HOOKD_OUTCOME_RETRY}, {301, 10, HOOKD_OUTCOME_DEAD},
        {400, 1, HOOKD_OUTCOME_RETRY}, {404, 3, HOOKD_OUTCOME_RETRY}, {409, 10, HOOKD_OUTCOME_DEAD},
        {411, 1, HOOKD_OUTCOME_RETRY}, {429, 2, HOOKD_OUTCOME_RETRY}, {500, 1, HOOKD_OUTCOME_RETRY},
        {503, 9, HOOKD_OUTCOME_RETRY}, {503, 10, HOOKD_OUTCOME_DEAD}, {503, 11, HOOKD_OUTCOME_DEAD},
        {999, 1, HOOKD_OUTCOME_RETRY},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        enum hookd_outcome got = hookd_retry_classify(&defaults, cases[i].status, cases[i].attempt);
        if (got != cases[i].want)
            fprintf(stderr, "classify %ld attempt %d: got %d\n", cases[i].status, cases[i].attempt,
                    (int)got);
        CHECK(got == cases[i].want);
    }
    static const struct hookd_retry_policy once = {10000, 3.0, H12, 1, 0.2};
    CHECK(hookd_retry_classify(&once, 500, 1) == HOOKD_OUTCOME_DEAD);
    CHECK(hookd_retry_classify(&once, 201, 1) == HOOKD_OUTCOME_OK);
}

int main(void)
{
    test_delay();
    test_retry_after();
    test_classify();
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
