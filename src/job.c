/* job.c - the records hookd keeps in Redis between attempts. */
#include "hookd/job.h"

#include <jansson.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hookd/envelope.h"
#include "hookd/sign.h"

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

size_t hookd_job_max(size_t max_envelope)
{
    return max_envelope + HOOKD_JOB_BODY_SLACK + HOOKD_JOB_HEADER_MAX;
}

size_t hookd_dead_max(size_t max_envelope)
{
    /* A body is valid JSON text, so its escape doubles at most ('"', '\\'). */
    return 2 * (max_envelope + HOOKD_JOB_BODY_SLACK) + 2 * HOOKD_JOB_HEADER_MAX;
}

int hookd_delivery_id_valid(const char *s)
{
    if (strncmp(s, "msg_", 4) != 0 || strlen(s) != 36)
        return 0;
    for (size_t i = 4; i < 36; i++) {
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    }
    return 1;
}

int hookd_job_encode(const struct hookd_job *job, struct hookd_buf *out)
{
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:i, s:I}", "webhook", job->webhook, "delivery",
                          job->delivery, "event_id", job->event_id, "event", job->event, "attempt",
                          job->attempt, "first_ms", (json_int_t)job->first_ms);
    if (o && job->last_error)
        json_object_set_new(o, "last_error", json_string(job->last_error));
    size_t at = out->len;
    int rc = dump_into(o, out);
    if (!rc && out->len - at > HOOKD_JOB_HEADER_MAX)
        rc = HOOKD_ETOOBIG;
    if (!rc && !(rc = hookd_buf_reserve(out, 1 + job->body_len)) &&
        !(rc = hookd_buf_add(out, "\n", 1)))
        rc = hookd_buf_add(out, job->body, job->body_len);
    if (rc)
        hookd_buf_truncate(out, at);
    return rc;
}

/* Copies a string member that must be there. */
static int take_str(json_t *o, const char *name, char **dst, char *errbuf)
{
    json_t *v = json_object_get(o, name);
    if (!json_is_string(v))
        return hookd_fail(errbuf, HOOKD_EINVAL, "job: field '%s' missing", name);
    *dst = strdup(json_string_value(v));
    return *dst ? 0 : hookd_fail(errbuf, HOOKD_ENOMEM, "job: out of memory");
}

/* 1 when s is an event name as producers may give one: 1..HOOKD_EVENT_MAX
 * bytes of [A-Za-z0-9_.-]. */
static int event_name_valid(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > HOOKD_EVENT_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-' || c == '.'))
            return 0;
    }
    return 1;
}

/* 1 when s holds no byte below 0x20 and no DEL. */
static int no_controls(const char *s)
{
    for (; *s; s++) {
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return 0;
    }
    return 1;
}

/* Reads and checks every field but the body from the object o. */
static int job_fields(json_t *o, const char *token, size_t token_len, struct hookd_job *job,
                      char *errbuf)
{
    int rc;
    if ((rc = take_str(o, "webhook", &job->webhook, errbuf)) ||
        (rc = take_str(o, "delivery", &job->delivery, errbuf)) ||
        (rc = take_str(o, "event_id", &job->event_id, errbuf)) ||
        (rc = take_str(o, "event", &job->event, errbuf)))
        return rc;
    if (!hookd_id_valid(job->webhook))
        return hookd_fail(errbuf, HOOKD_EINVAL, "job: webhook is not a webhook id");
    if (!hookd_delivery_id_valid(job->delivery))
        return hookd_fail(errbuf, HOOKD_EINVAL, "job: delivery is not msg_ and 32 hex digits");
    if (token && (token_len != 38 || memcmp(token, "d:", 2) != 0 ||
                  memcmp(token + 2, job->delivery, 36) != 0))
        return hookd_fail(errbuf, HOOKD_EINVAL, "job: delivery %s is not the one its token names",
                          job->delivery);
    if (!hookd_id_valid(job->event_id))
        return hookd_fail(errbuf, HOOKD_EINVAL, "job: event_id is not an event id");
    if (!event_name_valid(job->event))
        return hookd_fail(errbuf, HOOKD_EINVAL, "job: event is not an event name");
    json_t *attempt = json_object_get(o, "attempt"), *first = json_object_get(o, "first_ms");
    if (!json_is_integer(attempt) || json_integer_value(attempt) < 1 ||
        json_integer_value(attempt) > HOOKD_JOB_ATTEMPT_MAX)
        return hookd_fail(errbuf, HOOKD_EINVAL, "job: attempt is not 1..%d", HOOKD_JOB_ATTEMPT_MAX);
    if (!json_is_integer(first) || json_integer_value(first) < 0)
        return hookd_fail(errbuf, HOOKD_EINVAL, "job: first_ms is not a time");
    job->attempt = (int)json_integer_value(attempt);
    job->first_ms = json_integer_value(first);
    json_t *err = json_object_get(o, "last_error");
    if (json_is_string(err)) {
        if (json_string_length(err) > HOOKD_ERRLEN * 4 || !no_controls(json_string_value(err)))
            return hookd_fail(errbuf, HOOKD_EINVAL,
                              "job: last_error is too long or holds a "
                              "control byte");
        if (!(job->last_error = strdup(json_string_value(err))))
            return hookd_fail(errbuf, HOOKD_ENOMEM, "job: out of memory");
    }
    return 0;
}

int hookd_job_decode(const char *p, size_t len, size_t max_envelope, const char *token,
                     size_t token_len, struct hookd_job *job, char *errbuf)
{
    size_t max = hookd_job_max(max_envelope);
    const char *nl =
        memchr(p, '\n', len < HOOKD_JOB_HEADER_MAX + 1 ? len : HOOKD_JOB_HEADER_MAX + 1);
    const char *body = NULL;
    size_t body_len = 0, head = len;
    json_error_t jerr;
    int rc;

    memset(job, 0, sizeof(*job));
    if (nl) {
        head = (size_t)(nl - p);
        body = nl + 1;
        body_len = len - head - 1;
    } else if (len > 0 && p[len - 1] != '}') {
        return hookd_fail(errbuf, HOOKD_EINVAL, "job: no header line within %d bytes",
                          HOOKD_JOB_HEADER_MAX);
    } else {
        max *= 2; /* the old form: the body escaped inside the object */
    }
    if (len > max)
        return hookd_fail(errbuf, HOOKD_ETOOBIG, "job: %zu bytes, over the cap of %zu", len, max);
    json_t *o = json_loadb(p, head, JSON_REJECT_DUPLICATES, &jerr);
    if (!json_is_object(o)) {
        json_decref(o);
        return hookd_fail(errbuf, HOOKD_EINVAL, "job: not a JSON object");
    }
    if ((rc = job_fields(o, token, token_len, job, errbuf)) != 0)
        goto fail;
    if (!body) {
        json_t *b = json_object_get(o, "body");
        if (!json_is_string(b)) {
            rc = hookd_fail(errbuf, HOOKD_EINVAL, "job: field 'body' missing");
            goto fail;
        }
        body = json_string_value(b);
        body_len = json_string_length(b);
    }
    if (!(job->body = malloc(body_len + 1))) {
        rc = hookd_fail(errbuf, HOOKD_ENOMEM, "job: out of memory");
        goto fail;
    }
    memcpy(job->body, body, body_len);
    job->body[body_len] = '\0';
    job->body_len = body_len;
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

/* Sets member name (or name "_base64" when raw is not valid UTF-8 without
 * NUL) of o to raw[0..len). */
static int set_bytes(json_t *o, const char *name, const char *raw, size_t len)
{
    /* json_stringn refuses invalid UTF-8; NUL bytes would not survive a round
     * trip through C strings, so both go as base64. */
    json_t *s = memchr(raw, 0, len) ? NULL : json_stringn(raw, len);
    if (s)
        return json_object_set_new(o, name, s) == 0 ? 0 : HOOKD_ENOMEM;
    char key[64];
    size_t n = 4 * ((len + 2) / 3) + 1;
    unsigned char *b64 = malloc(n);
    if (!b64)
        return HOOKD_ENOMEM;
    EVP_EncodeBlock(b64, (const unsigned char *)raw, (int)len);
    snprintf(key, sizeof(key), "%s_base64", name);
    int rc = json_object_set_new(o, key, json_string((char *)b64)) == 0 ? 0 : HOOKD_ENOMEM;
    free(b64);
    return rc;
}

int hookd_dead_encode_delivery(const struct hookd_job *job, const char *reason, int64_t at_ms,
                               struct hookd_buf *out)
{
    json_t *o = json_pack("{s:s, s:s, s:I, s:s, s:s, s:s, s:s, s:i, s:I}", "kind", "delivery",
                          "reason", reason, "at", (json_int_t)at_ms, "webhook", job->webhook,
                          "delivery", job->delivery, "event_id", job->event_id, "event", job->event,
                          "attempts", job->attempt, "first_ms", (json_int_t)job->first_ms);
    if (!o)
        return HOOKD_ENOMEM;
    int rc = set_bytes(o, "body", job->body, job->body_len);
    if (rc) {
        json_decref(o);
        return rc;
    }
    return dump_into(o, out);
}

int hookd_dead_encode_envelope(const char *raw, size_t len, size_t size, const char *reason,
                               int64_t at_ms, struct hookd_buf *out)
{
    json_t *o =
        json_pack("{s:s, s:s, s:I}", "kind", "envelope", "reason", reason, "at", (json_int_t)at_ms);
    if (!o)
        return HOOKD_ENOMEM;
    int rc;
    if (size > len) {
        /* A prefix cut inside a UTF-8 sequence loses that sequence, not
         * its readability. */
        size_t keep = len;
        while (keep + 3 > len && keep > 0 && !hookd_utf8_valid(raw, keep))
            keep--;
        if (!hookd_utf8_valid(raw, keep))
            keep = len;
        json_object_set_new(o, "size", json_integer((json_int_t)size));
        rc = set_bytes(o, "envelope_prefix", raw, keep);
    } else {
        rc = set_bytes(o, "envelope", raw, len);
    }
    if (rc) {
        json_decref(o);
        return rc;
    }
    return dump_into(o, out);
}

/* Appends to out the bytes set_bytes() wrote as member name of o (a string,
 * or name "_base64"). HOOKD_EINVAL when neither is a string or the base64
 * is broken, HOOKD_ETOOBIG past out's cap. */
static int get_bytes(const json_t *o, const char *name, struct hookd_buf *out)
{
    char key[64];
    const json_t *s = json_object_get(o, name);
    if (json_is_string(s))
        return hookd_buf_add(out, json_string_value(s), json_string_length(s));
    snprintf(key, sizeof(key), "%s_base64", name);
    s = json_object_get(o, key);
    if (!json_is_string(s))
        return HOOKD_EINVAL;
    size_t n = json_string_length(s), m = 0, cap = n / 4 * 3 + 3;
    unsigned char *raw = malloc(cap);
    int rc = raw ? hookd_base64_decode(json_string_value(s), n, raw, cap, &m) : HOOKD_ENOMEM;
    if (rc == 0)
        rc = hookd_buf_add(out, raw, m);
    free(raw);
    return rc;
}

int hookd_dead_decode(const char *rec, size_t len, struct hookd_dead_work *it, char *errbuf)
{
    json_error_t jerr;
    struct hookd_buf body;
    int rc = HOOKD_EINVAL;

    it->is_delivery = 0;
    hookd_buf_reset(&it->payload);
    if (len > it->max_record)
        return hookd_fail(errbuf, HOOKD_ETOOBIG, "record of %zu bytes, over the cap of %zu", len,
                          it->max_record);
    hookd_buf_init(&body, it->max_job);
    json_t *o = json_loadb(rec, len, JSON_REJECT_DUPLICATES, &jerr);
    const char *kind = json_string_value(json_object_get(o, "kind"));
    if (!json_is_object(o)) {
        hookd_fail(errbuf, HOOKD_EINVAL, "not a JSON object");
    } else if (kind && strcmp(kind, "delivery") == 0) {
        struct hookd_job job;
        json_t *first = json_object_get(o, "first_ms");
        memset(&job, 0, sizeof(job));
        job.webhook = (char *)json_string_value(json_object_get(o, "webhook"));
        job.delivery = (char *)json_string_value(json_object_get(o, "delivery"));
        job.event_id = (char *)json_string_value(json_object_get(o, "event_id"));
        job.event = (char *)json_string_value(json_object_get(o, "event"));
        job.last_error = (char *)json_string_value(json_object_get(o, "reason"));
        int got = get_bytes(o, "body", &body);
        if (!job.webhook || !job.delivery || !job.event_id || !job.event || got == HOOKD_EINVAL ||
            !hookd_delivery_id_valid(job.delivery)) {
            hookd_fail(errbuf, HOOKD_EINVAL,
                       "delivery record without webhook, delivery, event_id, event or body");
            goto out;
        }
        job.body = body.data ? body.data : "";
        job.body_len = body.len;
        job.attempt = 1;
        job.first_ms = json_is_integer(first) ? json_integer_value(first) : hookd_now_ms();
        if (got != 0 || hookd_job_encode(&job, &it->payload) != 0 ||
            it->payload.len > it->max_job) {
            hookd_fail(errbuf, HOOKD_EINVAL, "delivery too large to put back");
            goto out;
        }
        snprintf(it->token, sizeof(it->token), "d:%s", job.delivery);
        /* Judged as the worker will judge it when it is taken again. */
        struct hookd_job check;
        char why[HOOKD_ERRLEN];
        if (hookd_job_decode(it->payload.data, it->payload.len, it->max_envelope, it->token,
                             strlen(it->token), &check, why) != 0) {
            hookd_fail(errbuf, HOOKD_EINVAL, "delivery record the worker would refuse: %s", why);
            goto out;
        }
        hookd_job_free(&check);
        it->is_delivery = 1;
        rc = 0;
    } else if (kind && strcmp(kind, "envelope") == 0) {
        rc = get_bytes(o, "envelope", &it->payload);
        if (rc != 0 &&
            (json_object_get(o, "envelope_prefix") || json_object_get(o, "envelope_prefix_base64")))
            hookd_fail(errbuf, HOOKD_EINVAL,
                       "only a prefix of this envelope was kept (it was over the cap): it cannot "
                       "be put back");
        else if (rc != 0)
            hookd_fail(errbuf, HOOKD_EINVAL, "envelope record without a usable envelope");
        if (rc != 0)
            rc = HOOKD_EINVAL;
    } else {
        hookd_fail(errbuf, HOOKD_EINVAL, "unknown kind");
    }
out:
    hookd_buf_free(&body);
    json_decref(o);
    return rc;
}

/* The fields of an attempt log entry, in the order they are written. */
static const char *const ATTEMPT_FIELD[HOOKD_ATTEMPT_FIELDS] = {
    "delivery", "event_id", "event", "attempt", "status", "ms", "at", "error"};

void hookd_attempt_encode(const struct hookd_attempt_rec *e, struct hookd_attempt_text *t)
{
    const int64_t nums[4] = {e->attempt, e->status, e->ms, e->at};
    for (int i = 0; i < 4; i++)
        hookd_i64_fmt(t->num[i], nums[i]);
    const char *vals[HOOKD_ATTEMPT_FIELDS] = {e->delivery, e->event_id, e->event,  t->num[0],
                                              t->num[1],   t->num[2],   t->num[3], e->error};
    for (int i = 0; i < HOOKD_ATTEMPT_FIELDS; i++) {
        t->fields[2 * i] = ATTEMPT_FIELD[i];
        t->fields[2 * i + 1] = vals[i] ? vals[i] : "";
    }
    t->fields[2 * HOOKD_ATTEMPT_FIELDS] = NULL;
}

int hookd_attempt_decode_pair(json_t *o, const char *name, size_t name_len, const char *v,
                              size_t v_len)
{
    int known = 0;
    for (int i = 0; i < HOOKD_ATTEMPT_FIELDS && !known; i++)
        known =
            strlen(ATTEMPT_FIELD[i]) == name_len && memcmp(ATTEMPT_FIELD[i], name, name_len) == 0;
    if (!known)
        return 0;
    size_t n = v_len > HOOKD_ATTEMPT_VALUE_MAX ? HOOKD_ATTEMPT_VALUE_MAX : v_len;
    while (n > 0 && n + 3 > v_len && !hookd_utf8_valid(v, n))
        n--; /* a cut inside a UTF-8 sequence loses that sequence */
    json_t *s = json_stringn(v, n);
    if (!s)
        return 0; /* not UTF-8: left out */
    char key[16];
    snprintf(key, sizeof(key), "%.*s", (int)name_len, name);
    return json_object_set_new(o, key, s) == 0 ? 0 : HOOKD_ENOMEM;
}
