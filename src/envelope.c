/* envelope.c - parsing and validation of what producers push, and the body sent.
 *
 * One pass over the raw bytes (scan_json) refuses NUL bytes and deep nesting
 * before jansson sees them, and remembers where the top-level "data" value
 * lies. jansson then validates the whole document (UTF-8, syntax, duplicate
 * keys) and yields the small fields. The body's "data" is the producer's own
 * bytes with insignificant whitespace removed, not jansson's re-encoding:
 * jansson would print 0.1 as 0.10000000000000001 and 1e2 as 100.0, and
 * refuses integers beyond 64 bits, while the contract is "sent unchanged". */
#include "hookd/envelope.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hookd/sign.h"

#define ENV_DEPTH_MAX 64
#define ENV_PART_MAX 64
#define ENV_TS_MAX 64
#define ENV_QUOTE_MAX 64
#define ENV_BUILD_DATA_MAX (1024 * 1024)
#define ENV_JSON_FLAGS (JSON_REJECT_DUPLICATES | JSON_DECODE_INT_AS_REAL)

/* Where the value of the top-level member "data" lies in the raw bytes:
 * [off, end), possibly with whitespace around it. */
struct env_span {
    size_t off;
    size_t end;
    int found;
};

static int is_event_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
}

static int is_id_char(unsigned char c)
{
    return is_event_char(c) || c == '.' || c == ':';
}

static int is_json_ws(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Renders at most cap - 4 bytes of s[0..n) for an error message into out
 * (cap bytes): printable ASCII as is, any other byte as '?', "..." when cut. */
static void quote_n(char *out, size_t cap, const char *s, size_t n)
{
    size_t k = n > cap - 4 ? cap - 4 : n;
    for (size_t i = 0; i < k; i++) {
        unsigned char c = (unsigned char)s[i];
        out[i] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
    }
    if (n > k) {
        memcpy(out + k, "...", 4);
    } else {
        out[k] = '\0';
    }
}

/* Quotes at most ENV_QUOTE_MAX bytes of input. */
static void quote(char out[ENV_QUOTE_MAX + 4], const char *s, size_t n)
{
    quote_n(out, ENV_QUOTE_MAX + 4, s, n);
}

/* 1 when the raw JSON string body p[0..n) (between its quotes, escapes
 * undecoded) decodes to exactly the ASCII text want. */
static int key_is(const char *p, size_t n, const char *want)
{
    size_t i = 0, w = 0;
    while (i < n) {
        unsigned char c = (unsigned char)p[i++];
        if (c == '\\') {
            if (i >= n)
                return 0;
            unsigned char e = (unsigned char)p[i++];
            switch (e) {
            case 'b':
                c = '\b';
                break;
            case 'f':
                c = '\f';
                break;
            case 'n':
                c = '\n';
                break;
            case 'r':
                c = '\r';
                break;
            case 't':
                c = '\t';
                break;
            case 'u': {
                if (n - i < 4)
                    return 0;
                int cp = 0;
                for (int k = 0; k < 4; k++) {
                    int h = hookd_hexval((unsigned char)p[i + k]);
                    if (h < 0)
                        return 0;
                    cp = cp * 16 + h;
                }
                i += 4;
                if (cp == 0 || cp >= 0x80)
                    return 0;
                c = (unsigned char)cp;
                break;
            }
            default:
                c = e;
                break; /* " \ / */
            }
        }
        if (want[w] == '\0' || (unsigned char)want[w] != c)
            return 0;
        w++;
    }
    return want[w] == '\0';
}

/* Index of the first '"' or backslash in p[i..len), or len: the end of a
 * run of string text. *quote caches where the next '"' at or after i lies
 * (SIZE_MAX: not known yet), so that text full of escapes is still read
 * once; both searches are libc's vectorised memchr. */
static size_t text_end(const char *p, size_t i, size_t len, size_t *quote)
{
    if (*quote == SIZE_MAX || *quote < i) {
        const char *q = memchr(p + i, '"', len - i);
        *quote = q ? (size_t)(q - p) : len;
    }
    const char *b = memchr(p + i, '\\', *quote - i);
    return b ? (size_t)(b - p) : *quote;
}

/* Single pass over untrusted bytes, tracking strings and escapes: refuses a
 * NUL byte and nesting deeper than max_depth, and records in span where the
 * value of a top-level member named "data" lies. What it records is only
 * meaningful once jansson has accepted the same bytes. */
static int scan_json(const char *p, size_t len, int max_depth, struct env_span *span, char *errbuf,
                     const char *what)
{
    int depth = 0, in_str = 0, esc = 0;
    int expect_key = 0, in_key = 0, want_data = 0, in_data = 0;
    size_t key_off = 0, quote = SIZE_MAX;

    memset(span, 0, sizeof(*span));
    const char *nul = memchr(p, '\0', len);
    if (nul)
        return hookd_fail(errbuf, HOOKD_EINVAL, "%s contains a NUL byte at offset %zu", what,
                          (size_t)(nul - p));
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)p[i];
        if (in_str) {
            if (esc) {
                esc = 0;
                continue;
            }
            /* Most of a document is string text. */
            if ((i = text_end(p, i, len, &quote)) == len)
                break;
            if (p[i] == '\\') {
                esc = 1;
            } else {
                in_str = 0;
                if (in_key) {
                    in_key = 0;
                    want_data = key_is(p + key_off, i - key_off, "data");
                }
            }
            continue;
        }
        switch (c) {
        case '"':
            in_str = 1;
            if (depth == 1 && expect_key) {
                in_key = 1;
                expect_key = 0;
                key_off = i + 1;
            }
            break;
        case '{':
        case '[':
            if (++depth > max_depth)
                return hookd_fail(errbuf, HOOKD_EINVAL,
                                  "%s nests deeper than %d levels at offset %zu", what, max_depth,
                                  i);
            if (depth == 1 && c == '{')
                expect_key = 1;
            break;
        case '}':
        case ']':
            if (depth == 1 && in_data) {
                span->end = i;
                span->found = 1;
                in_data = 0;
            }
            if (depth > 0)
                depth--;
            break;
        case ':':
            if (depth == 1 && want_data) {
                span->off = i + 1;
                in_data = 1;
                want_data = 0;
            }
            break;
        case ',':
            if (depth == 1) {
                if (in_data) {
                    span->end = i;
                    span->found = 1;
                    in_data = 0;
                }
                expect_key = 1;
            }
            break;
        default:
            break;
        }
    }
    return 0;
}

/* Appends p[0..n), valid JSON, to b without whitespace outside strings.
 * Copies runs, so compact input costs one append. */
static int add_minified(struct hookd_buf *b, const char *p, size_t n)
{
    size_t run = 0, quote = SIZE_MAX;
    int in_str = 0, esc = 0, rc;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (in_str) {
            if (esc) {
                esc = 0;
                continue;
            }
            if ((i = text_end(p, i, n, &quote)) == n)
                break;
            if (p[i] == '\\')
                esc = 1;
            else
                in_str = 0;
            continue;
        }
        if (c == '"') {
            in_str = 1;
        } else if (is_json_ws(c)) {
            if (i > run && (rc = hookd_buf_add(b, p + run, i - run)) != 0)
                return rc;
            run = i + 1;
        }
    }
    if (n > run)
        return hookd_buf_add(b, p + run, n - run);
    return 0;
}

/* Appends s as a JSON string literal, quotes included. */
static int add_json_string(struct hookd_buf *b, const char *s)
{
    int rc = hookd_buf_add(b, "\"", 1);
    size_t run = 0, i;
    for (i = 0; rc == 0 && s[i]; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        if (i > run)
            rc = hookd_buf_add(b, s + run, i - run);
        if (rc == 0)
            rc = hookd_buf_addf(b, "\\u%04x", c);
        run = i + 1;
    }
    if (rc == 0 && i > run)
        rc = hookd_buf_add(b, s + run, i - run);
    if (rc == 0)
        rc = hookd_buf_add(b, "\"", 1);
    return rc;
}

int hookd_id_valid(const char *s)
{
    if (!s)
        return 0;
    size_t i;
    for (i = 0; s[i]; i++) {
        if (i >= HOOKD_ID_MAX || !is_id_char((unsigned char)s[i]))
            return 0;
    }
    return i > 0;
}

/* 1 when s[0..n) is "<object>.<action>", each part 1..64 bytes of
 * [A-Za-z0-9_-]; stores the object's length. */
static int event_valid(const char *s, size_t n, size_t *object_len)
{
    const char *dot = memchr(s, '.', n);
    if (!dot)
        return 0;
    size_t ol = (size_t)(dot - s), al = n - ol - 1;
    if (ol < 1 || ol > ENV_PART_MAX || al < 1 || al > ENV_PART_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        if (i != ol && !is_event_char((unsigned char)s[i]))
            return 0;
    }
    *object_len = ol;
    return 1;
}

static int two_digits(const char *s, int *out)
{
    if (s[0] < '0' || s[0] > '9' || s[1] < '0' || s[1] > '9')
        return 0;
    *out = (s[0] - '0') * 10 + (s[1] - '0');
    return 1;
}

static int days_in_month(int y, int m)
{
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        return 29;
    return days[m - 1];
}

/* 1 when s[0..n) is an RFC 3339 date-time: YYYY-MM-DDTHH:MM:SS, an optional
 * fraction, then Z or +hh:mm / -hh:mm ('t' and 'z' allowed, as RFC 3339
 * says). Fields are range-checked, the day against its month. */
static int timestamp_valid(const char *s, size_t n)
{
    int yh, yl, mo, d, h, mi, sec, oh, om;
    if (n < 20 || n > ENV_TS_MAX)
        return 0;
    if (!two_digits(s, &yh) || !two_digits(s + 2, &yl) || s[4] != '-' || !two_digits(s + 5, &mo) ||
        s[7] != '-' || !two_digits(s + 8, &d) || (s[10] != 'T' && s[10] != 't') ||
        !two_digits(s + 11, &h) || s[13] != ':' || !two_digits(s + 14, &mi) || s[16] != ':' ||
        !two_digits(s + 17, &sec))
        return 0;
    if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(yh * 100 + yl, mo) || h > 23 || mi > 59 ||
        sec > 60)
        return 0;
    size_t i = 19;
    if (s[i] == '.') {
        size_t start = ++i;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
        if (i == start)
            return 0;
    }
    if (i < n && (s[i] == 'Z' || s[i] == 'z'))
        return i + 1 == n;
    if (i < n && (s[i] == '+' || s[i] == '-')) {
        if (n - i != 6 || !two_digits(s + i + 1, &oh) || s[i + 3] != ':' ||
            !two_digits(s + i + 4, &om))
            return 0;
        return oh <= 23 && om <= 59;
    }
    return 0;
}

/* Formats ms since the epoch as "YYYY-MM-DDTHH:MM:SS.mmmZ". */
static void format_ms(int64_t ms, char out[65])
{
    int64_t secs = ms / 1000, rem = ms % 1000;
    if (rem < 0) {
        rem += 1000;
        secs--;
    }
    time_t t = (time_t)secs;
    struct tm tm;
    if (!gmtime_r(&t, &tm)) {
        memset(&tm, 0, sizeof(tm));
        tm.tm_year = 70;
        tm.tm_mday = 1;
    }
    snprintf(out, 65, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)rem);
}

static const char *json_kind(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "object";
    case JSON_ARRAY:
        return "array";
    case JSON_STRING:
        return "string";
    case JSON_INTEGER:
    case JSON_REAL:
        return "number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "boolean";
    case JSON_NULL:
        return "null";
    }
    return "unknown";
}

/* Reports a jansson parse error; its text quotes at most 20 bytes of input,
 * and bytes that are not printable ASCII are replaced. */
static int fail_json(char *errbuf, const char *prefix, const json_error_t *err)
{
    char text[JSON_ERROR_TEXT_LENGTH + 4];
    quote_n(text, sizeof(text), err->text, strnlen(err->text, sizeof(err->text)));
    return hookd_fail(errbuf, HOOKD_EINVAL, "%snot JSON: %s at line %d column %d", prefix, text,
                      err->line, err->column);
}

/* Copies the optional string member name of root, an id, into out; a JSON
 * null counts as absent. */
static int get_id(json_t *root, const char *name, char out[HOOKD_ID_MAX + 1], char *errbuf)
{
    char q[ENV_QUOTE_MAX + 4];
    json_t *v = json_object_get(root, name);
    out[0] = '\0';
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_string(v))
        return hookd_fail(errbuf, HOOKD_EINVAL, "field '%s' must be a string, got %s", name,
                          json_kind(v));
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);
    if (n > HOOKD_ID_MAX || !hookd_id_valid(s)) {
        quote(q, s, n);
        return hookd_fail(errbuf, HOOKD_EINVAL,
                          "field '%s' must be 1..%d bytes of [A-Za-z0-9_.:-], got \"%s\"", name,
                          HOOKD_ID_MAX, q);
    }
    memcpy(out, s, n + 1);
    return 0;
}

/* Validates the event member of root into env. */
static int get_event(json_t *root, struct hookd_envelope *env, char *errbuf)
{
    char q[ENV_QUOTE_MAX + 4];
    json_t *v = json_object_get(root, "event");
    if (!v)
        return hookd_fail(errbuf, HOOKD_EINVAL, "missing field 'event'");
    if (!json_is_string(v))
        return hookd_fail(errbuf, HOOKD_EINVAL, "field 'event' must be a string, got %s",
                          json_kind(v));
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);
    if (n > HOOKD_EVENT_MAX || !event_valid(s, n, &env->object_len)) {
        quote(q, s, n);
        return hookd_fail(errbuf, HOOKD_EINVAL,
                          "field 'event' must be <object>.<action>, each 1..64 bytes of "
                          "[A-Za-z0-9_-], got \"%s\"",
                          q);
    }
    memcpy(env->event, s, n + 1);
    return 0;
}

/* Validates the optional timestamp member of root into env. */
static int get_timestamp(json_t *root, struct hookd_envelope *env, char *errbuf)
{
    char q[ENV_QUOTE_MAX + 4];
    json_t *v = json_object_get(root, "timestamp");
    env->timestamp[0] = '\0';
    env->has_timestamp = v != NULL;
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_string(v))
        return hookd_fail(errbuf, HOOKD_EINVAL, "field 'timestamp' must be a string, got %s",
                          json_kind(v));
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);
    if (!timestamp_valid(s, n)) {
        quote(q, s, n);
        return hookd_fail(errbuf, HOOKD_EINVAL,
                          "field 'timestamp' must be an RFC 3339 date-time of at most %d bytes "
                          "(2025-02-10T15:30:50Z), got \"%s\"",
                          ENV_TS_MAX, q);
    }
    memcpy(env->timestamp, s, n + 1);
    return 0;
}

/* Checks everything but data's bytes, and copies the small fields. */
static int envelope_fields(json_t *root, struct hookd_envelope *env, char *errbuf)
{
    int rc;
    if (!json_is_object(root))
        return hookd_fail(errbuf, HOOKD_EINVAL, "envelope must be a JSON object, got %s",
                          json_kind(root));
    if ((rc = get_event(root, env, errbuf)) != 0)
        return rc;
    json_t *data = json_object_get(root, "data");
    if (!data)
        return hookd_fail(errbuf, HOOKD_EINVAL, "missing field 'data'");
    if (!json_is_object(data))
        return hookd_fail(errbuf, HOOKD_EINVAL, "field 'data' must be an object, got %s",
                          json_kind(data));
    if ((rc = get_timestamp(root, env, errbuf)) != 0 ||
        (rc = get_id(root, "id", env->id, errbuf)) != 0 ||
        (rc = get_id(root, "workspace", env->workspace, errbuf)) != 0 ||
        (rc = get_id(root, "webhook", env->webhook, errbuf)) != 0)
        return rc;
    return 0;
}

int hookd_envelope_parse(const char *bytes, size_t len, size_t max, int64_t now_ms,
                         struct hookd_envelope *out, char *errbuf)
{
    struct env_span span;
    json_error_t jerr;
    int rc;

    memset(out, 0, sizeof(*out));
    if (len > max)
        return hookd_fail(errbuf, HOOKD_ETOOBIG, "envelope is %zu bytes, over the %zu-byte limit",
                          len, max);
    if ((rc = scan_json(bytes, len, ENV_DEPTH_MAX, &span, errbuf, "envelope")) != 0)
        return rc;
    json_t *root = json_loadb(bytes, len, ENV_JSON_FLAGS, &jerr);
    if (!root)
        return fail_json(errbuf, "", &jerr);
    rc = envelope_fields(root, out, errbuf);
    json_decref(root);
    if (rc)
        goto fail;
    if (!span.found || span.end < span.off) {
        rc = hookd_fail(errbuf, HOOKD_EINVAL, "envelope: cannot locate the bytes of 'data'");
        goto fail;
    }
    if (!out->id[0]) {
        char hex[65];
        hookd_sha256_hex(bytes, len, hex);
        memcpy(out->id, "evt_", 4);
        memcpy(out->id + 4, hex, 32);
        out->id[36] = '\0';
    }
    if (!out->timestamp[0])
        format_ms(now_ms, out->timestamp);

    struct hookd_buf b;
    hookd_buf_init(&b, span.end - span.off + 2 * HOOKD_EVENT_MAX + 8 * ENV_TS_MAX + 64);
    /* Event and timestamp are checked to need no escapes: the body is the
     * data plus 36 bytes of syntax, in one allocation. */
    if ((rc = hookd_buf_reserve(&b, span.end - span.off + strlen(out->event) +
                                        strlen(out->timestamp) + 40)) != 0 ||
        (rc = hookd_buf_adds(&b, "{\"event\":")) != 0 ||
        (rc = add_json_string(&b, out->event)) != 0 ||
        (rc = hookd_buf_adds(&b, ",\"data\":")) != 0 ||
        (rc = add_minified(&b, bytes + span.off, span.end - span.off)) != 0 ||
        (rc = hookd_buf_adds(&b, ",\"timestamp\":")) != 0 ||
        (rc = add_json_string(&b, out->timestamp)) != 0 || (rc = hookd_buf_add(&b, "}", 1)) != 0) {
        hookd_buf_free(&b);
        hookd_fail(errbuf, rc, "envelope: cannot build the body: %s", hookd_strerror(rc));
        goto fail;
    }
    out->body = hookd_buf_steal(&b, &out->body_len);
    return 0;

fail:
    memset(out, 0, sizeof(*out));
    return rc;
}

void hookd_envelope_free(struct hookd_envelope *env)
{
    if (!env)
        return;
    free(env->body);
    memset(env, 0, sizeof(*env));
}

int hookd_envelope_build(const char *event, const char *data_json, const char *workspace,
                         int64_t now_ms, struct hookd_buf *out, char *errbuf)
{
    char q[ENV_QUOTE_MAX + 4], ts[65];
    struct env_span span;
    json_error_t jerr;
    size_t object_len, n, mark = out->len;
    int rc;

    if (!event)
        event = "";
    n = strnlen(event, HOOKD_EVENT_MAX + 1);
    if (n > HOOKD_EVENT_MAX || !event_valid(event, n, &object_len)) {
        quote(q, event, n);
        return hookd_fail(errbuf, HOOKD_EINVAL,
                          "event must be <object>.<action>, each 1..64 bytes of [A-Za-z0-9_-], "
                          "got \"%s\"",
                          q);
    }
    if (!data_json)
        data_json = "{}";
    n = strnlen(data_json, ENV_BUILD_DATA_MAX + 1);
    if (n > ENV_BUILD_DATA_MAX)
        return hookd_fail(errbuf, HOOKD_ETOOBIG, "data is over the %d-byte limit",
                          ENV_BUILD_DATA_MAX);
    /* data sits one level inside the envelope, which must stay within 64. */
    if ((rc = scan_json(data_json, n, ENV_DEPTH_MAX - 1, &span, errbuf, "data")) != 0)
        return rc;
    json_t *data = json_loadb(data_json, n, ENV_JSON_FLAGS, &jerr);
    if (!data)
        return fail_json(errbuf, "data: ", &jerr);
    int is_obj = json_is_object(data);
    const char *kind = json_kind(data);
    json_decref(data);
    if (!is_obj)
        return hookd_fail(errbuf, HOOKD_EINVAL, "data must be a JSON object, got %s", kind);
    if (workspace && workspace[0] && !hookd_id_valid(workspace)) {
        quote(q, workspace, strnlen(workspace, ENV_QUOTE_MAX + 1));
        return hookd_fail(errbuf, HOOKD_EINVAL,
                          "workspace must be 1..%d bytes of [A-Za-z0-9_.:-], got \"%s\"",
                          HOOKD_ID_MAX, q);
    }

    if ((rc = hookd_buf_adds(out, "{\"event\":")) != 0 || (rc = add_json_string(out, event)) != 0 ||
        (rc = hookd_buf_adds(out, ",\"data\":")) != 0 ||
        (rc = add_minified(out, data_json, n)) != 0)
        goto fail;
    format_ms(now_ms, ts);
    if ((rc = hookd_buf_adds(out, ",\"timestamp\":")) != 0 || (rc = add_json_string(out, ts)) != 0)
        goto fail;
    if (workspace && workspace[0] &&
        ((rc = hookd_buf_adds(out, ",\"workspace\":")) != 0 ||
         (rc = add_json_string(out, workspace)) != 0))
        goto fail;
    if ((rc = hookd_buf_add(out, "}", 1)) != 0)
        goto fail;
    return 0;

fail:
    out->len = mark;
    if (out->data)
        out->data[mark] = '\0';
    return hookd_fail(errbuf, rc, "cannot build the envelope: %s", hookd_strerror(rc));
}

int hookd_envelope_stamp(const char *bytes, size_t len, int64_t now_ms, struct hookd_buf *out,
                         char *errbuf)
{
    char ts[65];
    size_t end = len, mark = out->len;
    int rc;

    while (end > 0 && is_json_ws((unsigned char)bytes[end - 1]))
        end--;
    if (end == 0 || bytes[end - 1] != '}')
        return hookd_fail(errbuf, HOOKD_EINVAL, "envelope does not end with '}'");
    end--;
    format_ms(now_ms, ts);
    if ((rc = hookd_buf_add(out, bytes, end)) != 0 ||
        (rc = hookd_buf_adds(out, ",\"timestamp\":")) != 0 ||
        (rc = add_json_string(out, ts)) != 0 ||
        (rc = hookd_buf_add(out, bytes + end, len - end)) != 0) {
        out->len = mark;
        if (out->data)
            out->data[mark] = '\0';
        return hookd_fail(errbuf, rc, "cannot add the timestamp: %s", hookd_strerror(rc));
    }
    return 0;
}
