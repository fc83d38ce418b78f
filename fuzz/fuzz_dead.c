/* fuzz_dead.c - what the CLI reads back of the records of job.h:
 * hookd_dead_decode (what `hookd dead replay` reads from {P}:dead) on
 * arbitrary bytes, and the round trips: an envelope record made of the input
 * gives the input back; a delivery record of a job decoded from it gives
 * back a job with the same fields at attempt 1. And an attempt log pair
 * (`hookd webhook log`): kept as a capped string, or left out. */
#include <jansson.h>

#include "fuzz_common.h"
#include "hookd/job.h"

/* The input as a field and a value, split after its first byte's count. */
static void check_attempt_pair(const uint8_t *data, size_t size)
{
    if (size == 0)
        return;
    size_t nlen = data[0] % 16 < size - 1 ? data[0] % 16 : size - 1;
    const char *name = (const char *)data + 1, *v = name + nlen;
    size_t vlen = size - 1 - nlen;
    json_t *o = json_object();
    FUZZ_CHECK(o != NULL);
    FUZZ_CHECK(hookd_attempt_decode_pair(o, name, nlen, v, vlen) == 0);
    FUZZ_CHECK(json_object_size(o) <= 1);
    const char *k;
    json_t *val;
    json_object_foreach(o, k, val)
    {
        FUZZ_CHECK(strlen(k) == nlen && memcmp(k, name, nlen) == 0);
        FUZZ_CHECK(json_is_string(val) && json_string_length(val) <= HOOKD_ATTEMPT_VALUE_MAX);
        FUZZ_CHECK(memcmp(json_string_value(val), v, json_string_length(val)) == 0);
    }
    json_decref(o);
}

#define FUZZ_MAX_ENVELOPE ((size_t)1 << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char errbuf[HOOKD_ERRLEN];
    struct hookd_dead_work w = {.max_record = hookd_dead_max(FUZZ_MAX_ENVELOPE),
                                .max_envelope = FUZZ_MAX_ENVELOPE,
                                .max_job = hookd_job_max(FUZZ_MAX_ENVELOPE)};
    hookd_buf_init(&w.payload, w.max_record);
    struct hookd_job job, back;

    /* Arbitrary bytes: refused with a reason, or work that is whole. */
    fuzz_errbuf_poison(errbuf);
    int rc = hookd_dead_decode((const char *)data, size, &w, errbuf);
    if (rc != 0) {
        FUZZ_CHECK(rc == HOOKD_EINVAL || rc == HOOKD_ETOOBIG || rc == HOOKD_ENOMEM);
        FUZZ_CHECK(fuzz_errbuf_ok(errbuf) || rc == HOOKD_ENOMEM);
    } else if (w.is_delivery) {
        FUZZ_CHECK(strncmp(w.token, "d:", 2) == 0 && hookd_delivery_id_valid(w.token + 2));
        FUZZ_CHECK(hookd_job_decode(w.payload.data, w.payload.len, FUZZ_MAX_ENVELOPE, w.token,
                                    strlen(w.token), &back, errbuf) == 0);
        FUZZ_CHECK(back.attempt == 1);
        hookd_job_free(&back);
    }

    /* The input as a whole envelope comes back byte for byte. */
    struct hookd_buf rec;
    hookd_buf_init(&rec, 8u << 20);
    if (size <= FUZZ_MAX_ENVELOPE &&
        hookd_dead_encode_envelope((const char *)data, size, size, "fuzz", 1, &rec) == 0) {
        rc = hookd_dead_decode(rec.data, rec.len, &w, errbuf);
        if (size > 0) {
            FUZZ_CHECK(rc == 0 && !w.is_delivery);
            FUZZ_CHECK(w.payload.len == size && memcmp(w.payload.data, data, size) == 0);
        }
    }

    /* A job in the input goes dead and comes back at attempt 1. */
    if (hookd_job_decode((const char *)data, size, FUZZ_MAX_ENVELOPE, NULL, 0, &job, errbuf) == 0) {
        hookd_buf_reset(&rec);
        FUZZ_CHECK(hookd_dead_encode_delivery(&job, "fuzz", 1, &rec) == 0);
        FUZZ_CHECK(hookd_dead_decode(rec.data, rec.len, &w, errbuf) == 0 && w.is_delivery);
        FUZZ_CHECK(hookd_job_decode(w.payload.data, w.payload.len, FUZZ_MAX_ENVELOPE, w.token,
                                    strlen(w.token), &back, errbuf) == 0);
        FUZZ_CHECK(strcmp(back.webhook, job.webhook) == 0 &&
                   strcmp(back.delivery, job.delivery) == 0 &&
                   strcmp(back.event_id, job.event_id) == 0 && strcmp(back.event, job.event) == 0);
        FUZZ_CHECK(back.body_len == job.body_len && memcmp(back.body, job.body, job.body_len) == 0);
        FUZZ_CHECK(back.attempt == 1);
        hookd_job_free(&back);
        hookd_job_free(&job);
    }
    hookd_buf_free(&rec);
    hookd_buf_free(&w.payload);
    check_attempt_pair(data, size);
    return 0;
}
