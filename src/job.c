/* job.c - key names and the records hookd keeps in Redis between attempts. */
#include "hookd/job.h"

#include <jansson.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JOB_MAX (2u << 20)

void hookd_key(char *out, const char *prefix, const char *suffix)
{
    snprintf(out, HOOKD_KEY_MAX, "{%s}:%s", prefix, suffix);
}

/* Appends the serialised object to out and frees it. */
static int dump_into(json_t *o, struct hookd_buf *out)
{
    if (!o)
        return HOOKD_ENOMEM;
    char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    if (!s)
        return HOOKD_EINVAL;
    int rc = hookd_buf_adds(out, s);
    free(s);
    return rc;
}

int hookd_job_encode(const struct hookd_job *job, struct hookd_buf *out)
{
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:i, s:I, s:s#}", "webhook", job->webhook,
                          "delivery", job->delivery, "event_id", job->event_id, "event", job->event,
                          "attempt", job->attempt, "first_ms", (json_int_t)job->first_ms, "body",
                          job->body, job->body_len);
    if (o && job->last_error)
        json_object_set_new(o, "last_error", json_string(job->last_error));
    return dump_into(o, out);
}

/* Copies a string member, or fails when it is missing or not a string. */
static int take_str(json_t *o, const char *name, char **dst, char *errbuf)
{
    json_t *v = json_object_get(o, name);
    if (!json_is_string(v))
        return hookd_fail(errbuf, HOOKD_EINVAL, "job: field '%s' missing", name);
    *dst = strdup(json_string_value(v));
    return *dst ? 0 : HOOKD_ENOMEM;
}

int hookd_job_decode(const char *p, size_t len, struct hookd_job *job, char *errbuf)
{
    memset(job, 0, sizeof(*job));
    if (len > JOB_MAX)
        return hookd_fail(errbuf, HOOKD_ETOOBIG, "job: %zu bytes, over the cap", len);
    json_error_t jerr;
    json_t *o = json_loadb(p, len, 0, &jerr);
    if (!o || !json_is_object(o)) {
        json_decref(o);
        return hookd_fail(errbuf, HOOKD_EINVAL, "job: not a JSON object");
    }
    int rc;
    if ((rc = take_str(o, "webhook", &job->webhook, errbuf)) ||
        (rc = take_str(o, "delivery", &job->delivery, errbuf)) ||
        (rc = take_str(o, "event_id", &job->event_id, errbuf)) ||
        (rc = take_str(o, "event", &job->event, errbuf)))
        goto fail;
    json_t *body = json_object_get(o, "body");
    json_t *attempt = json_object_get(o, "attempt");
    if (!json_is_string(body) || !json_is_integer(attempt) || json_integer_value(attempt) < 1 ||
        json_integer_value(attempt) > 1000000) {
        rc = hookd_fail(errbuf, HOOKD_EINVAL, "job: bad body or attempt");
        goto fail;
    }
    job->body_len = json_string_length(body);
    job->body = malloc(job->body_len + 1);
    if (!job->body) {
        rc = HOOKD_ENOMEM;
        goto fail;
    }
    memcpy(job->body, json_string_value(body), job->body_len + 1);
    job->attempt = (int)json_integer_value(attempt);
    job->first_ms = json_integer_value(json_object_get(o, "first_ms"));
    json_t *err = json_object_get(o, "last_error");
    if (json_is_string(err))
        job->last_error = strdup(json_string_value(err));
    json_decref(o);
    return 0;
fail:
    json_decref(o);
    hookd_job_free(job);
    return rc;
}

void hookd_job_free(struct hookd_job *job)
{
    free(job->webhook);
    free(job->delivery);
    free(job->event_id);
    free(job->event);
    free(job->body);
    free(job->last_error);
    memset(job, 0, sizeof(*job));
}

int hookd_dead_encode_delivery(const struct hookd_job *job, const char *reason, int64_t at_ms,
                               struct hookd_buf *out)
{
    json_t *o = json_pack("{s:s, s:s, s:I, s:s, s:s, s:s, s:s, s:i, s:I, s:s#}", "kind", "delivery",
                          "reason", reason, "at", (json_int_t)at_ms, "webhook", job->webhook,
                          "delivery", job->delivery, "event_id", job->event_id, "event", job->event,
                          "attempts", job->attempt, "first_ms", (json_int_t)job->first_ms, "body",
                          job->body, job->body_len);
    return dump_into(o, out);
}

int hookd_dead_encode_envelope(const char *raw, size_t len, const char *reason, int64_t at_ms,
                               struct hookd_buf *out)
{
    json_t *o =
        json_pack("{s:s, s:s, s:I}", "kind", "envelope", "reason", reason, "at", (json_int_t)at_ms);
    if (!o)
        return HOOKD_ENOMEM;
    /* json_stringn refuses invalid UTF-8; NUL bytes would not survive a round
     * trip through C strings, so both go as base64. */
    json_t *s = memchr(raw, 0, len) ? NULL : json_stringn(raw, len);
    if (s) {
        json_object_set_new(o, "envelope", s);
    } else {
        size_t n = 4 * ((len + 2) / 3) + 1;
        unsigned char *b64 = malloc(n);
        if (!b64) {
            json_decref(o);
            return HOOKD_ENOMEM;
        }
        EVP_EncodeBlock(b64, (const unsigned char *)raw, (int)len);
        json_object_set_new(o, "envelope_base64", json_string((char *)b64));
        free(b64);
    }
    return dump_into(o, out);
}
