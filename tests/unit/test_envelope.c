/* test_envelope.c - envelope parsing, validation, body bytes and building. */
#include "hookd/envelope.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

#define NOW_MS 1739201450123LL /* 2025-02-10T15:30:50.123Z */
#define MIB 1048576

static char err[HOOKD_ERRLEN];

static int parse_n(const char *s, size_t n, struct hookd_envelope *env)
{
    err[0] = '\0';
    return hookd_envelope_parse(s, n, MIB, NOW_MS, env, err);
}

static int parse(const char *s, struct hookd_envelope *env)
{
    return parse_n(s, strlen(s), env);
}

/* Parses s, expects failure with rc, and that errbuf contains want. */
static int fails_with(const char *s, size_t n, int rc, const char *want)
{
    struct hookd_envelope env;
    memset(&env, 0x5a, sizeof(env));
    int got = parse_n(s, n, &env);
    int ok = got == rc && strstr(err, want) != NULL && env.body == NULL && env.event[0] == 0;
    if (!ok)
        fprintf(stderr, "  input %.80s: rc %d, reason \"%s\", wanted %d \"%s\"\n", s, got, err, rc,
                want);
    if (got == 0)
        hookd_envelope_free(&env);
    return ok;
}

#define FAILS(s, want) CHECK(fails_with((s), strlen(s), HOOKD_EINVAL, (want)))

static void test_minimal(void)
{
    struct hookd_envelope env;
    const char *s = "{\"event\":\"person.created\",\"data\":{}}";
    CHECK(parse(s, &env) == 0);
    CHECK(strcmp(env.event, "person.created") == 0);
    CHECK(env.object_len == 6);
    CHECK(strcmp(env.id, "evt_f49c27e2f4730c7e35bb30259a38aa6a") == 0);
    CHECK(strcmp(env.timestamp, "2025-02-10T15:30:50.123Z") == 0);
    CHECK(env.workspace[0] == 0 && env.webhook[0] == 0);
    const char *body =
        "{\"event\":\"person.created\",\"data\":{},\"timestamp\":\"2025-02-10T15:30:50.123Z\"}";
    CHECK(env.body && env.body_len == strlen(body) && memcmp(env.body, body, env.body_len) == 0);
    hookd_envelope_free(&env);
    CHECK(env.body == NULL);
    hookd_envelope_free(&env); /* twice is harmless */
    hookd_envelope_free(NULL);

    /* a negative clock and millisecond rounding stay in range */
    err[0] = 0;
    CHECK(hookd_envelope_parse(s, strlen(s), MIB, -1, &env, err) == 0);
    CHECK(strcmp(env.timestamp, "1969-12-31T23:59:59.999Z") == 0);
    hookd_envelope_free(&env);
}

static void test_all_fields(void)
{
    struct hookd_envelope env;
    const char *s = " {\n  \"id\" : \"evt_01\",\n  \"event\": \"company.updated\",\n"
                    "  \"data\" : { \"a\" : 0.1 , \"b\": 1e2, \"c\": 18446744073709551615,\n"
                    "    \"s\": \" x  y\\t\\u00e9\\/\\\"}\", \"l\": [ 1, { } , null ] } ,\n"
                    "  \"timestamp\": \"2025-02-10T15:30:50Z\", \"workspace\": \"ws_1\",\n"
                    "  \"webhook\": \"wh_9\", \"extra\": {\"data\": [1]}\n} \n";
    CHECK(parse(s, &env) == 0);
    CHECK(strcmp(env.event, "company.updated") == 0 && env.object_len == 7);
    CHECK(strcmp(env.id, "evt_01") == 0);
    CHECK(strcmp(env.workspace, "ws_1") == 0);
    CHECK(strcmp(env.webhook, "wh_9") == 0);
    CHECK(strcmp(env.timestamp, "2025-02-10T15:30:50Z") == 0);
    /* numbers and string escapes byte for byte, whitespace outside strings gone */
    const char *body = "{\"event\":\"company.updated\",\"data\":{\"a\":0.1,\"b\":1e2,"
                       "\"c\":18446744073709551615,\"s\":\" x  y\\t\\u00e9\\/\\\"}\","
                       "\"l\":[1,{},null]},\"timestamp\":\"2025-02-10T15:30:50Z\"}";
    CHECK(env.body && strcmp(env.body, body) == 0 && env.body_len == strlen(body));
    hookd_envelope_free(&env);

    /* null optional fields count as absent */
    CHECK(parse("{\"event\":\"a.b\",\"data\":{},\"id\":null,\"workspace\":null,"
                "\"webhook\":null,\"timestamp\":null}",
                &env) == 0);
    CHECK(env.workspace[0] == 0 && env.webhook[0] == 0);
    CHECK(strncmp(env.id, "evt_", 4) == 0 && strlen(env.id) == 36);
    CHECK(strcmp(env.timestamp, "2025-02-10T15:30:50.123Z") == 0);
    hookd_envelope_free(&env);
}

/* The body's data must be the top-level "data" member's bytes even when the
 * word appears elsewhere, or the key is written with escapes. */
static void test_data_location(void)
{
    struct hookd_envelope env;
    const char *s = "{\"x\":{\"data\":[9]},\"note\":\"data\",\"l\":[\"data\",{\"data\":2}],"
                    "\"event\":\"a.b\",\"data\":{\"k\":1},\"y\":\"data\"}";
    CHECK(parse(s, &env) == 0);
    CHECK(env.body && strcmp(env.body, "{\"event\":\"a.b\",\"data\":{\"k\":1},"
                                       "\"timestamp\":\"2025-02-10T15:30:50.123Z\"}") == 0);
    hookd_envelope_free(&env);

    CHECK(parse("{\"event\":\"a.b\",\"d\\u0061ta\":{\"k\":2}}", &env) == 0);
    CHECK(env.body && strstr(env.body, "\"data\":{\"k\":2},") != NULL);
    hookd_envelope_free(&env);

    CHECK(parse("{\"event\":\"a.b\",\"datax\":[],\"\\\"data\":1,\"data\":{\"k\":3}}", &env) == 0);
    CHECK(env.body && strstr(env.body, "\"data\":{\"k\":3},") != NULL);
    hookd_envelope_free(&env);

    /* data last, with brackets inside its strings */
    CHECK(parse("{\"event\":\"a.b\",\"data\":{\"k\":\"}],{[\\\\\"}}", &env) == 0);
    CHECK(env.body && strstr(env.body, "\"data\":{\"k\":\"}],{[\\\\\"},\"timestamp\"") != NULL);
    hookd_envelope_free(&env);
}

/* Minifying keeps string text exactly, whatever escapes and spaces it
 * holds, and drops only the whitespace between tokens. */
static void test_minify_text(void)
{
    struct hookd_envelope env;
    CHECK(parse("{\"event\":\"a.b\",\"data\": { \"a b\" : \" x \\\" , } \\\\\" ,\n"
                "\t\"c\":[ 1 , \"\\\\\\\\\" ] } }",
                &env) == 0);
    CHECK_STR(env.body, "{\"event\":\"a.b\",\"data\":{\"a b\":\" x \\\" , } \\\\\","
                        "\"c\":[1,\"\\\\\\\\\"]},\"timestamp\":\"2025-02-10T15:30:50.123Z\"}");
    hookd_envelope_free(&env);

    /* A long run of escapes, then spaces after the closing quote. */
    struct hookd_buf in, want;
    hookd_buf_init(&in, 1 << 20);
    hookd_buf_init(&want, 1 << 20);
    hookd_buf_adds(&in, "{\"event\":\"a.b\",\"data\":{\"k\":\"");
    hookd_buf_adds(&want, "{\"event\":\"a.b\",\"data\":{\"k\":\"");
    for (int i = 0; i < 5000; i++) {
        hookd_buf_adds(&in, i % 3 ? "\\\" " : "\\\\");
        hookd_buf_adds(&want, i % 3 ? "\\\" " : "\\\\");
    }
    hookd_buf_adds(&in, "\"   }   }");
    hookd_buf_adds(&want, "\"},\"timestamp\":\"2025-02-10T15:30:50.123Z\"}");
    CHECK(parse(in.data, &env) == 0);
    CHECK(env.body && env.body_len == want.len && strcmp(env.body, want.data) == 0);
    hookd_envelope_free(&env);
    hookd_buf_free(&in);
    hookd_buf_free(&want);
}

static void test_unicode(void)
{
    struct hookd_envelope env;
    const char *s = "{\"event\":\"note.created\",\"data\":{\"name\":\"Zo\xc3\xab \xe6\x97\xa5"
                    "\xe6\x9c\xac \xf0\x9f\x98\x80\",\"k\\u00e9\":\"\\ud83d\\ude00\"}}";
    CHECK(parse(s, &env) == 0);
    CHECK(env.body &&
          strstr(env.body, "{\"name\":\"Zo\xc3\xab \xe6\x97\xa5\xe6\x9c\xac "
                           "\xf0\x9f\x98\x80\",\"k\\u00e9\":\"\\ud83d\\ude00\"}") != NULL);
    hookd_envelope_free(&env);

    FAILS("{\"event\":\"a.b\",\"data\":{\"x\":\"\xff\"}}", "not JSON: ");
    FAILS("{\"event\":\"a.b\",\"data\":{\"x\":\"\xc0\xaf\"}}", "not JSON: ");
    FAILS("{\"event\":\"a.b\",\"data\":{\"x\":\"\xe6\x97\"}}", "not JSON: ");
    FAILS("{\"event\":\"a.b\",\"data\":{\"x\":\"\\ud800\"}}", "not JSON: ");
    FAILS("{\"event\":\"a.b\",\"data\":{\"x\":\"\\u0000\"}}", "not JSON: ");
    /* the reason is printable ASCII even when jansson quotes a control byte */
    CHECK(fails_with("{\"event\":\x01}", 11, HOOKD_EINVAL, "invalid token near '?'"));
    for (const char *p = err; *p; p++)
        CHECK(*p >= 0x20 && *p < 0x7f);
}

static void test_missing_and_types(void)
{
    FAILS("{\"data\":{}}", "missing field 'event'");
    FAILS("{\"event\":\"a.b\"}", "missing field 'data'");
    FAILS("{}", "missing field 'event'");
    FAILS("{\"event\":1,\"data\":{}}", "field 'event' must be a string, got number");
    FAILS("{\"event\":null,\"data\":{}}", "field 'event' must be a string, got null");
    FAILS("{\"event\":\"a.b\",\"data\":[]}", "field 'data' must be an object, got array");
    FAILS("{\"event\":\"a.b\",\"data\":null}", "field 'data' must be an object, got null");
    FAILS("{\"event\":\"a.b\",\"data\":\"{}\"}", "field 'data' must be an object, got string");
    FAILS("{\"event\":\"a.b\",\"data\":1.5}", "field 'data' must be an object, got number");
    FAILS("{\"event\":\"a.b\",\"data\":{},\"timestamp\":1}",
          "field 'timestamp' must be a string, got number");
    FAILS("{\"event\":\"a.b\",\"data\":{},\"id\":7}", "field 'id' must be a string, got number");
    FAILS("{\"event\":\"a.b\",\"data\":{},\"workspace\":true}",
          "field 'workspace' must be a string, got boolean");
    FAILS("{\"event\":\"a.b\",\"data\":{},\"webhook\":{}}",
          "field 'webhook' must be a string, got object");
    FAILS("[{\"event\":\"a.b\",\"data\":{}}]", "envelope must be a JSON object, got array");
    FAILS("\"a.b\"", "not JSON: ");
    FAILS("", "not JSON: ");
    FAILS("{\"event\":\"a.b\",\"data\":{}} x", "not JSON: ");
    FAILS("{\"event\":\"a.b\",\"data\":{}}{}", "not JSON: ");
    FAILS("{\"event\":\"a.b\",\"data\":{},}", "not JSON: ");
    FAILS("{\"event\":\"a.b\",\n\"data\":{\"x\":tru}}", " at line 2 column ");
    FAILS("{\"event\":\"a.b\",\"event\":\"a.c\",\"data\":{}}", "duplicate object key");
    FAILS("{\"event\":\"a.b\",\"data\":{\"k\":1,\"k\":2}}", "duplicate object key");
}

static void test_event_names(void)
{
    static const char *bad[] = {
        "person",     "person.", ".created", "a.b.c", "per son.x", "a.b ",
        "\xc3\xa9.x", "",        ".",        "a..b",  "a/b.c",     "a.b\\n",
    };
    char buf[512];
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        snprintf(buf, sizeof(buf), "{\"event\":\"%s\",\"data\":{}}", bad[i]);
        FAILS(buf, "field 'event' must be <object>.<action>");
    }
    char p64[65], p65[66];
    memset(p64, 'o', 64);
    p64[64] = 0;
    memset(p65, 'o', 65);
    p65[65] = 0;
    struct hookd_envelope env;
    snprintf(buf, sizeof(buf), "{\"event\":\"%s.%s\",\"data\":{}}", p64, p64);
    CHECK(parse(buf, &env) == 0);
    CHECK(strlen(env.event) == 129 && env.object_len == 64);
    hookd_envelope_free(&env);
    snprintf(buf, sizeof(buf), "{\"event\":\"%s.x\",\"data\":{}}", p65);
    FAILS(buf, "field 'event' must be");
    snprintf(buf, sizeof(buf), "{\"event\":\"x.%s\",\"data\":{}}", p65);
    FAILS(buf, "field 'event' must be");
    CHECK(parse("{\"event\":\"A-1_z.Up-2_x\",\"data\":{}}", &env) == 0);
    hookd_envelope_free(&env);
}

/* A long bad value is quoted to 64 bytes at most. */
static void test_quote_cap(void)
{
    size_t n = 3000;
    char *s = malloc(n + 64);
    int len = snprintf(s, n + 64, "{\"data\":{},\"event\":\"");
    memset(s + len, 'q', 2000);
    len += 2000;
    len += snprintf(s + len, n + 64 - (size_t)len, "\"}");
    CHECK(fails_with(s, (size_t)len, HOOKD_EINVAL, "field 'event' must be"));
    char run[66];
    memset(run, 'q', 65);
    run[65] = 0;
    CHECK(strstr(err, run) == NULL);
    CHECK(strstr(err, "qqq...\"") != NULL);
    free(s);

    /* 200 bytes of a bad id: the reason shows 64 and "..." */
    char buf[300];
    int k = snprintf(buf, sizeof(buf), "{\"event\":\"a.b\",\"data\":{},\"id\":\"");
    memset(buf + k, 'x', 200);
    snprintf(buf + k + 200, sizeof(buf) - (size_t)k - 200, "\"}");
    FAILS(buf, "got \"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx...\"");
}

static void test_ids(void)
{
    CHECK(hookd_id_valid("evt_01"));
    CHECK(hookd_id_valid("a"));
    CHECK(hookd_id_valid("A-z_0.9:x"));
    CHECK(!hookd_id_valid(""));
    CHECK(!hookd_id_valid(NULL));
    CHECK(!hookd_id_valid("a b"));
    CHECK(!hookd_id_valid("a/b"));
    CHECK(!hookd_id_valid("\xc3\xa9"));
    char id[130];
    memset(id, 'i', 129);
    id[129] = 0;
    CHECK(!hookd_id_valid(id));
    id[128] = 0;
    CHECK(hookd_id_valid(id));

    char buf[512];
    struct hookd_envelope env;
    snprintf(buf, sizeof(buf), "{\"event\":\"a.b\",\"data\":{},\"id\":\"%s\"}", id);
    CHECK(parse(buf, &env) == 0 && strcmp(env.id, id) == 0);
    hookd_envelope_free(&env);
    snprintf(buf, sizeof(buf), "{\"event\":\"a.b\",\"data\":{},\"id\":\"%si\"}", id);
    FAILS(buf, "field 'id' must be 1..128 bytes");
    FAILS("{\"event\":\"a.b\",\"data\":{},\"id\":\"\"}", "field 'id' must be 1..128 bytes");
    FAILS("{\"event\":\"a.b\",\"data\":{},\"workspace\":\"w s\"}", "field 'workspace' must be");
    FAILS("{\"event\":\"a.b\",\"data\":{},\"webhook\":\"wh/1\"}", "field 'webhook' must be");
}

static void test_default_id(void)
{
    struct hookd_envelope a, b, c;
    const char *s1 = "{\"event\":\"a.b\",\"data\":{\"x\":1}}";
    const char *s2 = "{\"event\":\"a.b\",\"data\":{\"x\":1} }";
    CHECK(parse(s1, &a) == 0);
    CHECK(parse(s1, &b) == 0);
    CHECK(parse(s2, &c) == 0);
    CHECK(strcmp(a.id, b.id) == 0);
    CHECK(strcmp(a.id, c.id) != 0);
    CHECK(strcmp(a.body, c.body) == 0); /* same body, different id */
    CHECK(strlen(a.id) == 36 && strspn(a.id + 4, "0123456789abcdef") == 32);
    hookd_envelope_free(&a);
    hookd_envelope_free(&b);
    hookd_envelope_free(&c);
}

static void test_timestamps(void)
{
    static const char *good[] = {
        "2025-02-10T15:30:50Z",           "2025-02-10T15:30:50.1Z",
        "2025-02-10T15:30:50.123456789Z", "2025-02-10T15:30:50+05:30",
        "2025-02-10T15:30:50.5-08:00",    "2025-02-10t15:30:50z",
        "2024-02-29T00:00:00Z",           "2000-02-29T23:59:60Z",
        "2025-12-31T23:59:59+23:59",
    };
    static const char *bad[] = {
        "2025-02-10T15:30:50",
        "2025-02-10 15:30:50Z",
        "2025-02-10T15:30:50.Z",
        "2025-02-29T00:00:00Z",
        "1900-02-29T00:00:00Z",
        "2025-13-01T00:00:00Z",
        "2025-00-01T00:00:00Z",
        "2025-04-31T00:00:00Z",
        "2025-02-10T24:00:00Z",
        "2025-02-10T15:60:00Z",
        "2025-02-10T15:30:61Z",
        "2025-02-10T15:30:50+0530",
        "2025-02-10T15:30:50+24:00",
        "2025-02-10T15:30:50Zjunk",
        "25-02-10T15:30:50Z",
        "2025-2-10T15:30:50Z",
        "",
        "yesterday",
        "1739201450123",
        "2025-02-10T15:30:50ZZ",
        "2025-02-10T15:30:50+05:30:00",
    };
    char buf[256];
    struct hookd_envelope env;
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        snprintf(buf, sizeof(buf), "{\"event\":\"a.b\",\"data\":{},\"timestamp\":\"%s\"}", good[i]);
        int rc = parse(buf, &env);
        CHECK(rc == 0);
        if (rc == 0) {
            CHECK(strcmp(env.timestamp, good[i]) == 0);
            CHECK(strstr(env.body, good[i]) != NULL);
            hookd_envelope_free(&env);
        } else {
            fprintf(stderr, "  %s: %s\n", good[i], err);
        }
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        snprintf(buf, sizeof(buf), "{\"event\":\"a.b\",\"data\":{},\"timestamp\":\"%s\"}", bad[i]);
        FAILS(buf, "field 'timestamp' must be an RFC 3339 date-time");
    }
    /* 64 bytes pass, 65 do not */
    char ts[80];
    memcpy(ts, "2025-02-10T15:30:50.", 20);
    memset(ts + 20, '1', 43);
    memcpy(ts + 63, "Z", 2);
    CHECK(strlen(ts) == 64);
    snprintf(buf, sizeof(buf), "{\"event\":\"a.b\",\"data\":{},\"timestamp\":\"%s\"}", ts);
    CHECK(parse(buf, &env) == 0);
    hookd_envelope_free(&env);
    memcpy(ts + 63, "1Z", 3);
    snprintf(buf, sizeof(buf), "{\"event\":\"a.b\",\"data\":{},\"timestamp\":\"%s\"}", ts);
    FAILS(buf, "field 'timestamp' must be");
}

static void test_size_and_nul(void)
{
    size_t n = 2000000;
    char *big = malloc(n);
    memset(big, ' ', n);
    CHECK(fails_with(big, n, HOOKD_ETOOBIG,
                     "envelope is 2000000 bytes, over the 1048576-byte "
                     "limit"));
    free(big);

    const char *s = "{\"event\":\"a.b\",\"data\":{}}";
    size_t len = strlen(s);
    struct hookd_envelope env;
    err[0] = 0;
    CHECK(hookd_envelope_parse(s, len, len, NOW_MS, &env, err) == 0);
    hookd_envelope_free(&env);
    CHECK(hookd_envelope_parse(s, len, len - 1, NOW_MS, &env, err) == HOOKD_ETOOBIG);
    CHECK(env.body == NULL);

    /* a raw NUL, in a string and outside one; len excludes the final NUL */
    static const char nul1[] = "{\"event\":\"a.b\",\"data\":{\"x\":\"a\0b\"}}";
    CHECK(fails_with(nul1, sizeof(nul1) - 1, HOOKD_EINVAL, "NUL byte at offset 29"));
    static const char nul2[] = "{\"event\":\"a.b\",\"data\":{}}\0";
    CHECK(fails_with(nul2, sizeof(nul2) - 1, HOOKD_EINVAL, "NUL byte"));
    /* not NUL-terminated: only len bytes are read */
    char raw[64];
    memcpy(raw, s, len);
    memset(raw + len, 'X', sizeof(raw) - len);
    CHECK(parse_n(raw, len, &env) == 0);
    hookd_envelope_free(&env);
}

/* Envelope of total nesting depth (the top-level object counting 1) with
 * data nested as objects, or arrays inside data when arrays is set. */
static char *nested(int depth, int arrays)
{
    struct hookd_buf b;
    hookd_buf_init(&b, (size_t)depth * 8 + 128);
    hookd_buf_adds(&b, "{\"event\":\"a.b\",\"data\":{\"k\":");
    for (int i = 2; i < depth; i++)
        hookd_buf_adds(&b, arrays ? "[" : "{\"k\":");
    hookd_buf_adds(&b, "1");
    for (int i = 2; i < depth; i++)
        hookd_buf_adds(&b, arrays ? "]" : "}");
    hookd_buf_adds(&b, "}}");
    return hookd_buf_steal(&b, NULL);
}

static void test_depth(void)
{
    struct hookd_envelope env;
    for (int arrays = 0; arrays <= 1; arrays++) {
        char *s = nested(64, arrays);
        CHECK(parse(s, &env) == 0);
        if (env.body)
            CHECK(strstr(env.body, arrays ? "[[[1]]]" : "{\"k\":1}}") != NULL);
        hookd_envelope_free(&env);
        free(s);
        s = nested(65, arrays);
        CHECK(fails_with(s, strlen(s), HOOKD_EINVAL, "nests deeper than 64 levels"));
        free(s);
    }
    /* brackets inside strings, escaped quotes included, are not nesting */
    char buf[600];
    int n = snprintf(buf, sizeof(buf), "{\"event\":\"a.b\",\"data\":{\"s\":\"\\\"");
    for (int i = 0; i < 200; i++)
        buf[n++] = (i & 1) ? '{' : '[';
    snprintf(buf + n, sizeof(buf) - (size_t)n, "\"}}");
    CHECK(parse(buf, &env) == 0);
    hookd_envelope_free(&env);
    /* far past the limit, garbage: refused by the pre-scan, not by recursion */
    char *deep = malloc(100001);
    memset(deep, '[', 100000);
    deep[100000] = 0;
    CHECK(fails_with(deep, 100000, HOOKD_EINVAL, "nests deeper than 64 levels at offset 64"));
    free(deep);
}

/* What build writes for event a.b with data {} at NOW_MS. */
#define A_B_EMPTY "{\"event\":\"a.b\",\"data\":{},\"timestamp\":\"2025-02-10T15:30:50.123Z\"}"

static void test_build(void)
{
    struct hookd_buf b;
    hookd_buf_init(&b, MIB * 2);
    err[0] = 0;
    CHECK(hookd_envelope_build("person.created", "{ \"id\" : \"1\", \"n\": 0.1 }", "ws_1", NOW_MS,
                               &b, err) == 0);
    CHECK_STR(b.data, "{\"event\":\"person.created\",\"data\":{\"id\":\"1\",\"n\":0.1},"
                      "\"timestamp\":\"2025-02-10T15:30:50.123Z\",\"workspace\":\"ws_1\"}");
    /* what build writes, parse accepts, with build's time, not the parser's */
    struct hookd_envelope env;
    CHECK(hookd_envelope_parse(b.data, b.len, MIB, NOW_MS + 60000, &env, err) == 0);
    CHECK(strcmp(env.workspace, "ws_1") == 0 && strcmp(env.event, "person.created") == 0);
    CHECK(env.has_timestamp == 1);
    CHECK_STR(env.timestamp, "2025-02-10T15:30:50.123Z");
    hookd_envelope_free(&env);

    hookd_buf_reset(&b);
    CHECK(hookd_envelope_build("a.b", NULL, NULL, NOW_MS, &b, err) == 0);
    CHECK_STR(b.data, A_B_EMPTY);
    hookd_buf_reset(&b);
    CHECK(hookd_envelope_build("a.b", "{}", "", NOW_MS, &b, err) == 0);
    CHECK_STR(b.data, A_B_EMPTY);

    /* failures leave out as it was */
    size_t before = b.len;
    CHECK(hookd_envelope_build("ab", "{}", NULL, NOW_MS, &b, err) == HOOKD_EINVAL);
    CHECK(strstr(err, "event must be <object>.<action>") != NULL);
    CHECK(hookd_envelope_build(NULL, "{}", NULL, NOW_MS, &b, err) == HOOKD_EINVAL);
    CHECK(hookd_envelope_build("a.b", "[1]", NULL, NOW_MS, &b, err) == HOOKD_EINVAL);
    CHECK(strstr(err, "data must be a JSON object, got array") != NULL);
    CHECK(hookd_envelope_build("a.b", "{\"x\":}", NULL, NOW_MS, &b, err) == HOOKD_EINVAL);
    CHECK(strstr(err, "data: not JSON: ") != NULL);
    CHECK(hookd_envelope_build("a.b", "{\"x\":1,\"x\":2}", NULL, NOW_MS, &b, err) == HOOKD_EINVAL);
    CHECK(hookd_envelope_build("a.b", "{\"x\":\"\xff\"}", NULL, NOW_MS, &b, err) == HOOKD_EINVAL);
    CHECK(hookd_envelope_build("a.b", "", NULL, NOW_MS, &b, err) == HOOKD_EINVAL);
    CHECK(hookd_envelope_build("a.b", "{}", "bad ws", NOW_MS, &b, err) == HOOKD_EINVAL);
    CHECK(strstr(err, "workspace must be") != NULL);
    CHECK(b.len == before);
    CHECK_STR(b.data, A_B_EMPTY);

    /* data may nest 63 levels, so that the envelope stays within 64 */
    char *s = nested(64, 0);
    const char *data = strstr(s, "\"data\":") + 7;
    size_t dl = strlen(data) - 1; /* without the envelope's closing brace */
    char *d63 = malloc(dl + 1);
    memcpy(d63, data, dl);
    d63[dl] = 0;
    hookd_buf_reset(&b);
    CHECK(hookd_envelope_build("a.b", d63, NULL, NOW_MS, &b, err) == 0);
    CHECK(parse_n(b.data, b.len, &env) == 0);
    hookd_envelope_free(&env);
    char *d64 = malloc(dl + 8);
    snprintf(d64, dl + 8, "{\"k\":%s}", d63);
    CHECK(hookd_envelope_build("a.b", d64, NULL, NOW_MS, &b, err) == HOOKD_EINVAL);
    CHECK(strstr(err, "nests deeper than 63") != NULL);
    free(s);
    free(d63);
    free(d64);

    /* data over 1 MiB */
    char *big = malloc(MIB + 16);
    memset(big, ' ', MIB + 15);
    big[0] = '{';
    big[MIB + 14] = '}';
    big[MIB + 15] = 0;
    CHECK(hookd_envelope_build("a.b", big, NULL, NOW_MS, &b, err) == HOOKD_ETOOBIG);
    big[MIB - 1] = '}';
    big[MIB] = 0;
    hookd_buf_reset(&b);
    CHECK(hookd_envelope_build("a.b", big, NULL, NOW_MS, &b, err) == 0);
    CHECK_STR(b.data, A_B_EMPTY);
    free(big);
    hookd_buf_free(&b);

    /* an output cap that is too small: ETOOBIG, and out is untouched */
    struct hookd_buf small;
    hookd_buf_init(&small, 30);
    CHECK(hookd_buf_adds(&small, "x") == 0);
    CHECK(hookd_envelope_build("a.b", "{\"long\":\"enough to overflow\"}", NULL, NOW_MS, &small,
                               err) == HOOKD_ETOOBIG);
    CHECK(small.len == 1 && strcmp(small.data, "x") == 0);
    hookd_buf_free(&small);
}

static void test_stamp(void)
{
    struct hookd_envelope env;
    struct hookd_buf b;
    hookd_buf_init(&b, MIB);

    /* has_timestamp tells a member, null included, from none */
    CHECK(parse("{\"event\":\"a.b\",\"data\":{}}", &env) == 0 && env.has_timestamp == 0);
    hookd_envelope_free(&env);
    CHECK(parse("{\"event\":\"a.b\",\"data\":{},\"timestamp\":null}", &env) == 0 &&
          env.has_timestamp == 1);
    CHECK_STR(env.timestamp, "2025-02-10T15:30:50.123Z");
    hookd_envelope_free(&env);
    CHECK(parse("{\"event\":\"a.b\",\"data\":{\"timestamp\":1}}", &env) == 0 &&
          env.has_timestamp == 0);
    hookd_envelope_free(&env);

    /* the producer's bytes stay as they are, spaces and number forms
     * included; the member goes before the last brace */
    const char *line = "{ \"event\" : \"a.b\", \"data\": {\"n\": 1.50, \"s\": \"caf\\u00e9\"} }  ";
    CHECK(hookd_buf_adds(&b, "x") == 0);
    CHECK(hookd_envelope_stamp(line, strlen(line), NOW_MS, &b, err) == 0);
    CHECK_STR(b.data, "x{ \"event\" : \"a.b\", \"data\": {\"n\": 1.50, \"s\": \"caf\\u00e9\"} "
                      ",\"timestamp\":\"2025-02-10T15:30:50.123Z\"}  ");
    CHECK(parse_n(b.data + 1, b.len - 1, &env) == 0);
    CHECK(env.has_timestamp == 1);
    CHECK_STR(env.timestamp, "2025-02-10T15:30:50.123Z");
    CHECK(strstr(env.body, "\"data\":{\"n\":1.50,\"s\":\"caf\\u00e9\"}") != NULL);
    hookd_envelope_free(&env);

    /* not an object's end: refused, out untouched */
    size_t before = b.len;
    CHECK(hookd_envelope_stamp("[1]", 3, NOW_MS, &b, err) == HOOKD_EINVAL);
    CHECK(hookd_envelope_stamp("   ", 3, NOW_MS, &b, err) == HOOKD_EINVAL);
    CHECK(b.len == before);
    hookd_buf_free(&b);

    /* a cap too small: ETOOBIG, out as it was */
    struct hookd_buf small;
    hookd_buf_init(&small, 40);
    CHECK(hookd_buf_adds(&small, "x") == 0);
    const char *e = "{\"event\":\"a.b\",\"data\":{}}";
    CHECK(hookd_envelope_stamp(e, strlen(e), NOW_MS, &small, err) == HOOKD_ETOOBIG);
    CHECK(small.len == 1 && strcmp(small.data, "x") == 0);
    hookd_buf_free(&small);
}

int main(void)
{
    test_minimal();
    test_all_fields();
    test_data_location();
    test_minify_text();
    test_unicode();
    test_missing_and_types();
    test_event_names();
    test_quote_cap();
    test_ids();
    test_default_id();
    test_timestamps();
    test_size_and_nul();
    test_depth();
    test_build();
    test_stamp();
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
