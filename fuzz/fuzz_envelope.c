/* fuzz_envelope.c - hookd_envelope_parse on arbitrary bytes.
 *
 * On success: the small fields obey the header's rules, and the body is
 * compact JSON holding exactly event, data and timestamp, with the same
 * event and timestamp as the struct and the same data as the input. On
 * failure: a documented code, a terminated message, nothing to free. */
#include <jansson.h>

#include "fuzz_common.h"
#include "hookd/envelope.h"

#define FUZZ_MAX (1024 * 1024)
#define FUZZ_NOW_MS INT64_C(1739201450123) /* 2025-02-10T15:30:50.123Z */
#define FUZZ_JSON_FLAGS (JSON_REJECT_DUPLICATES | JSON_DECODE_INT_AS_REAL)

static int event_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
}

/* Aborts unless ev is "<object>.<action>" with object_len bytes of object. */
static void check_event(const struct hookd_envelope *env)
{
    size_t n = strnlen(env->event, sizeof(env->event));
    FUZZ_CHECK(n < sizeof(env->event));
    size_t obj = env->object_len;
    FUZZ_CHECK(obj >= 1 && obj <= 64 && obj < n);
    FUZZ_CHECK(env->event[obj] == '.');
    size_t act = n - obj - 1;
    FUZZ_CHECK(act >= 1 && act <= 64);
    for (size_t i = 0; i < n; i++)
        FUZZ_CHECK(i == obj || event_char((unsigned char)env->event[i]));
}

/* Aborts unless the body is what the header promises for this input. */
static void check_body(const struct hookd_envelope *env, const uint8_t *data, size_t size)
{
    FUZZ_CHECK(env->body != NULL);
    FUZZ_CHECK(env->body_len == strlen(env->body));
    static const char lead[] = "{\"event\":";
    FUZZ_CHECK(env->body_len > sizeof(lead) && memcmp(env->body, lead, sizeof(lead) - 1) == 0);

    json_error_t jerr;
    json_t *body = json_loadb(env->body, env->body_len, FUZZ_JSON_FLAGS, &jerr);
    FUZZ_CHECK(body != NULL);
    FUZZ_CHECK(json_is_object(body));
    FUZZ_CHECK(json_object_size(body) == 3);
    json_t *ev = json_object_get(body, "event");
    json_t *bd = json_object_get(body, "data");
    json_t *ts = json_object_get(body, "timestamp");
    FUZZ_CHECK(json_is_string(ev) && strcmp(json_string_value(ev), env->event) == 0);
    FUZZ_CHECK(json_is_string(ts) && strcmp(json_string_value(ts), env->timestamp) == 0);
    FUZZ_CHECK(json_is_object(bd));

    /* The data sent is the producer's data. */
    json_t *in = json_loadb((const char *)data, size, FUZZ_JSON_FLAGS, &jerr);
    FUZZ_CHECK(in != NULL && json_is_object(in));
    FUZZ_CHECK(json_equal(json_object_get(in, "data"), bd));
    json_decref(in);
    json_decref(body);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct hookd_envelope env;
    char errbuf[HOOKD_ERRLEN];
    fuzz_errbuf_poison(errbuf);
    int rc = hookd_envelope_parse((const char *)data, size, FUZZ_MAX, FUZZ_NOW_MS, &env, errbuf);
    if (rc != 0) {
        FUZZ_CHECK(rc == HOOKD_EINVAL || rc == HOOKD_ETOOBIG);
        FUZZ_CHECK(fuzz_errbuf_ok(errbuf));
        FUZZ_CHECK(env.body == NULL && env.body_len == 0);
        hookd_envelope_free(&env);
        return 0;
    }

    check_event(&env);
    FUZZ_CHECK(hookd_id_valid(env.id));
    FUZZ_CHECK(!env.workspace[0] || hookd_id_valid(env.workspace));
    FUZZ_CHECK(!env.webhook[0] || hookd_id_valid(env.webhook));
    size_t tslen = strnlen(env.timestamp, sizeof(env.timestamp));
    FUZZ_CHECK(tslen > 0 && tslen < sizeof(env.timestamp));
    check_body(&env, data, size);

    /* The same bytes give the same envelope (the default id is derived from
     * them), and one byte under the cap is refused as too big. */
    struct hookd_envelope again;
    FUZZ_CHECK(
        hookd_envelope_parse((const char *)data, size, FUZZ_MAX, FUZZ_NOW_MS, &again, errbuf) == 0);
    FUZZ_CHECK(strcmp(again.id, env.id) == 0);
    FUZZ_CHECK(again.body_len == env.body_len && memcmp(again.body, env.body, env.body_len) == 0);
    hookd_envelope_free(&again);
    fuzz_errbuf_poison(errbuf);
    FUZZ_CHECK(hookd_envelope_parse((const char *)data, size, size - 1, FUZZ_NOW_MS, &again,
                                    errbuf) == HOOKD_ETOOBIG);
    FUZZ_CHECK(fuzz_errbuf_ok(errbuf) && again.body == NULL);

    hookd_envelope_free(&env);
    FUZZ_CHECK(env.body == NULL);
    return 0;
}
