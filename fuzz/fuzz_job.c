/* fuzz_job.c - hookd_job_decode on arbitrary bytes, and the round trip:
 * whatever decodes encodes to bytes that decode to the same fields, and that
 * second encoding is byte for byte the first; whatever decodes names a
 * delivery id fit for a header and matches the token of that id only. */
#include "fuzz_common.h"
#include "hookd/job.h"

/* 1 when two optional C strings are equal. */
static int same_str(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* Aborts unless a decoded job is whole: every required string present. */
static void check_job(const struct hookd_job *j)
{
    FUZZ_CHECK(j->webhook && j->delivery && j->event_id && j->event && j->body);
    FUZZ_CHECK(j->attempt >= 1 && j->attempt <= HOOKD_JOB_ATTEMPT_MAX);
    FUZZ_CHECK(hookd_delivery_id_valid(j->delivery));
}

static void check_equal(const struct hookd_job *a, const struct hookd_job *b)
{
    FUZZ_CHECK(same_str(a->webhook, b->webhook));
    FUZZ_CHECK(same_str(a->delivery, b->delivery));
    FUZZ_CHECK(same_str(a->event_id, b->event_id));
    FUZZ_CHECK(same_str(a->event, b->event));
    FUZZ_CHECK(a->attempt == b->attempt);
    FUZZ_CHECK(a->first_ms == b->first_ms);
    FUZZ_CHECK(a->body_len == b->body_len);
    FUZZ_CHECK(memcmp(a->body, b->body, a->body_len) == 0);
    FUZZ_CHECK(same_str(a->last_error, b->last_error));
}

#define FUZZ_MAX_ENVELOPE ((size_t)1 << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct hookd_job job, again, third;
    char errbuf[HOOKD_ERRLEN];
    fuzz_errbuf_poison(errbuf);
    int rc = hookd_job_decode((const char *)data, size, FUZZ_MAX_ENVELOPE, NULL, 0, &job, errbuf);
    if (rc != 0) {
        FUZZ_CHECK(rc == HOOKD_EINVAL || rc == HOOKD_ETOOBIG || rc == HOOKD_ENOMEM);
        FUZZ_CHECK(fuzz_errbuf_ok(errbuf) || rc == HOOKD_ENOMEM);
        /* Nothing is owned after a failure. */
        FUZZ_CHECK(!job.webhook && !job.delivery && !job.event_id && !job.event && !job.body &&
                   !job.last_error);
        hookd_job_free(&job);
        return 0;
    }
    check_job(&job);

    struct hookd_buf b1, b2;
    hookd_buf_init(&b1, 8u << 20);
    hookd_buf_init(&b2, 8u << 20);
    FUZZ_CHECK(hookd_job_encode(&job, &b1) == 0);
    FUZZ_CHECK(b1.len > 0 && b1.data && b1.len <= hookd_job_max(FUZZ_MAX_ENVELOPE) + size);
    fuzz_errbuf_poison(errbuf);
    char token[40];
    snprintf(token, sizeof(token), "d:%s", job.delivery);
    rc = hookd_job_decode(b1.data, b1.len, FUZZ_MAX_ENVELOPE, token, strlen(token), &again, errbuf);
    if (rc != 0)
        fprintf(stderr, "re-decode failed: %s\n", errbuf);
    FUZZ_CHECK(rc == 0);
    check_job(&again);
    check_equal(&job, &again);

    /* The encoding is a fixed point. */
    FUZZ_CHECK(hookd_job_encode(&again, &b2) == 0);
    FUZZ_CHECK(b1.len == b2.len && memcmp(b1.data, b2.data, b1.len) == 0);
    FUZZ_CHECK(hookd_job_decode(b2.data, b2.len, FUZZ_MAX_ENVELOPE, NULL, 0, &third, errbuf) == 0);
    check_equal(&job, &third);
    hookd_job_free(&third);
    token[5] = token[5] == 'a' ? 'b' : 'a'; /* another delivery's token */
    FUZZ_CHECK(hookd_job_decode(b2.data, b2.len, FUZZ_MAX_ENVELOPE, token, strlen(token), &third,
                                errbuf) == HOOKD_EINVAL);

    hookd_job_free(&third);
    hookd_job_free(&again);
    hookd_job_free(&job);
    FUZZ_CHECK(!job.webhook && !job.body);
    hookd_buf_free(&b1);
    hookd_buf_free(&b2);
    return 0;
}
