/* fuzz_retry_after.c - hookd_retry_after_parse with the default policy.
 *
 * The result is -1 or a delay within [base, max]; values over 64 bytes are
 * invalid; delta-seconds (digits, optional blanks around) give exactly
 * seconds * 1000 clamped; the answer does not depend on bytes after a NUL. */
#include "fuzz_common.h"
#include "hookd/retry.h"

#define FUZZ_NOW_MS INT64_C(1739201450123) /* 2025-02-10T15:30:50.123Z */

static const struct hookd_retry_policy policy = {
    .base_ms = 10000,
    .factor = 3,
    .max_ms = 12 * 3600 * 1000,
    .max_attempts = 10,
    .jitter = 0.2,
};

/* Delta-seconds model: -1 unless s is blanks, 1 or more digits, blanks. */
static int64_t delta_model(const char *s)
{
    size_t a = strspn(s, " \t");
    size_t nd = strspn(s + a, "0123456789");
    if (nd == 0 || s[a + nd + strspn(s + a + nd, " \t")] != '\0')
        return -1;
    int64_t secs = 0;
    for (size_t i = 0; i < nd; i++) {
        secs = secs * 10 + (s[a + i] - '0');
        if (secs > policy.max_ms / 1000)
            return policy.max_ms;
    }
    int64_t ms = secs * 1000;
    return ms < policy.base_ms ? policy.base_ms : ms > policy.max_ms ? policy.max_ms : ms;
}

static void check_one(const char *s, int64_t now_ms)
{
    int64_t d = hookd_retry_after_parse(&policy, s, now_ms);
    FUZZ_CHECK(d == -1 || (d >= policy.base_ms && d <= policy.max_ms));
    if (strlen(s) > 64)
        FUZZ_CHECK(d == -1);
    else if (delta_model(s) != -1)
        FUZZ_CHECK(d == delta_model(s));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = fuzz_strndup(data, size);
    check_one(s, FUZZ_NOW_MS);
    check_one(s, 0);
    check_one(s, INT64_C(253402300799000)); /* 9999-12-31T23:59:59Z */
    FUZZ_CHECK(hookd_retry_after_parse(&policy, NULL, FUZZ_NOW_MS) == -1);
    free(s);
    return 0;
}
