/* test_config.c - options table, durations, argv/env loading, Redis URLs. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hookd/config.h"
#include "hookd/redis_tls.h"

#include "check.h"

#define SEC 1000LL
#define DAY (86400 * SEC)

static void test_durations(void)
{
    static const struct {
        const char *s;
        int rc;
        int64_t ms;
    } cases[] = {
        {"500ms", 0, 500},
        {"10s", 0, 10 * SEC},
        {"5m", 0, 300 * SEC},
        {"12h", 0, 12 * 3600 * SEC},
        {"1d", 0, DAY},
        {"30", 0, 30 * SEC},
        {"0", 0, 0},
        {"0ms", 0, 0},
        {"007s", 0, 7 * SEC},
        {"30d", 0, 30 * DAY},
        {"720h", 0, 30 * DAY},
        {"2592000000ms", 0, 30 * DAY},
        {"2592000", 0, 30 * DAY},
        {"31d", HOOKD_ERANGE, 0},
        {"721h", HOOKD_ERANGE, 0},
        {"2592000001ms", HOOKD_ERANGE, 0},
        {"2592001", HOOKD_ERANGE, 0},
        {"99999999999999999999999999s", HOOKD_ERANGE, 0},
        {"18446744073709551616ms", HOOKD_ERANGE, 0},
        {"-1s", HOOKD_EINVAL, 0},
        {"-0", HOOKD_EINVAL, 0},
        {"+5s", HOOKD_EINVAL, 0},
        {"", HOOKD_EINVAL, 0},
        {"10 s", HOOKD_EINVAL, 0},
        {" 10s", HOOKD_EINVAL, 0},
        {"10s ", HOOKD_EINVAL, 0},
        {"10S", HOOKD_EINVAL, 0},
        {"10x", HOOKD_EINVAL, 0},
        {"1.5s", HOOKD_EINVAL, 0},
        {"s", HOOKD_EINVAL, 0},
        {"ms", HOOKD_EINVAL, 0},
        {"10sms", HOOKD_EINVAL, 0},
        {"1h30m", HOOKD_EINVAL, 0},
        {"0x10", HOOKD_EINVAL, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int64_t ms = -42;
        int rc = hookd_duration_parse(cases[i].s, &ms);
        if (rc != cases[i].rc || (rc == 0 && ms != cases[i].ms) || (rc != 0 && ms != -42))
            fprintf(stderr, "  duration '%s': rc %d ms %lld\n", cases[i].s, rc, (long long)ms);
        CHECK(rc == cases[i].rc);
        CHECK(rc != 0 ? ms == -42 : ms == cases[i].ms);
    }
    int64_t ms;
    CHECK(hookd_duration_parse(NULL, &ms) == HOOKD_EINVAL);
}

static void test_defaults(void)
{
    struct hookd_config c;
    CHECK(hookd_config_init(&c) == 0);
    CHECK_STR(c.redis_url, "redis://127.0.0.1:6379/0");
    CHECK(c.redis_url_file == NULL);
    CHECK_STR(c.prefix, "hookd");
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    CHECK(c.threads == (cpus < 1 ? 1 : cpus > 256 ? 256 : (int)cpus));
    CHECK(c.concurrency == 5120);
    CHECK(c.host_concurrency == 4096);
    CHECK(c.timeout_ms == 10 * SEC);
    CHECK(c.connect_timeout_ms == 5 * SEC);
    CHECK(c.retry_base_ms == 10 * SEC);
    CHECK(c.retry_factor == 3.0);
    CHECK(c.retry_max_delay_ms == 12 * 3600 * SEC);
    CHECK(c.max_attempts == 10);
    CHECK(c.lease_ms == 60 * SEC);
    CHECK(c.drain_timeout_ms == 25 * SEC);
    CHECK(c.allow_net.n == 0);
    CHECK_STR(c.allow_net_text, "");
    CHECK(c.metrics_addr == NULL);
    CHECK(c.log_level == HOOKD_LOG_INFO);
    CHECK(c.log_format == HOOKD_LOG_TEXT);
    CHECK(c.max_envelope == 1048576);
    CHECK(c.batch == 100);
    CHECK(c.dead_max == 10000);
    CHECK(c.log_max == 1000);
    char err[HOOKD_ERRLEN];
    CHECK(hookd_config_check(&c, err) == 0);
    hookd_config_free(&c);
    CHECK(c.redis_url == NULL && c.prefix == NULL && c.allow_net_text == NULL);
    hookd_config_free(&c); /* twice is harmless */
}

/* Sets name=value on a fresh config; returns the rc and leaves the error. */
static int set1(struct hookd_config *c, const char *name, const char *value, char *err)
{
    err[0] = '\0';
    return hookd_config_set(c, name, value, err);
}

static void test_set_bounds(void)
{
    struct hookd_config c;
    char err[HOOKD_ERRLEN];
    CHECK(hookd_config_init(&c) == 0);

    /* int */
    CHECK(set1(&c, "threads", "1", err) == 0 && c.threads == 1);
    CHECK(set1(&c, "threads", "256", err) == 0 && c.threads == 256);
    CHECK(set1(&c, "threads", "abc", err) == HOOKD_EINVAL);
    CHECK_STR(err, "--threads: 'abc' is not a whole number between 1 and 256");
    CHECK(c.threads == 256);
    CHECK(set1(&c, "threads", "0", err) != 0);
    CHECK_STR(err, "--threads: '0' is not a whole number between 1 and 256");
    CHECK(set1(&c, "threads", "257", err) != 0);
    CHECK(set1(&c, "threads", "-1", err) != 0);
    CHECK(set1(&c, "threads", "", err) != 0);
    CHECK(set1(&c, "threads", "1.5", err) != 0);
    CHECK(set1(&c, "threads", "4 ", err) != 0);
    CHECK(set1(&c, "threads", "99999999999999999999", err) != 0);
    CHECK(c.threads == 256);
    CHECK(set1(&c, "log-max", "9", err) != 0);
    CHECK(set1(&c, "log-max", "10", err) == 0 && c.log_max == 10);
    CHECK(set1(&c, "dead-max", "10000000", err) == 0 && c.dead_max == 10000000);
    CHECK(set1(&c, "dead-max", "10000001", err) != 0);
    CHECK(set1(&c, "concurrency", "100000", err) == 0 && c.concurrency == 100000);
    CHECK(set1(&c, "concurrency", "100001", err) != 0);
    CHECK(set1(&c, "host-concurrency", "100001", err) != 0);
    CHECK(set1(&c, "batch", "1000", err) == 0 && c.batch == 1000);
    CHECK(set1(&c, "batch", "1001", err) != 0);
    CHECK(set1(&c, "max-attempts", "0", err) != 0);

    /* duration */
    CHECK(set1(&c, "timeout", "100ms", err) == 0 && c.timeout_ms == 100);
    CHECK(set1(&c, "timeout", "99ms", err) == HOOKD_ERANGE);
    CHECK_STR(err, "--timeout: '99ms' is not between 100ms and 1h");
    CHECK(set1(&c, "timeout", "1h", err) == 0 && c.timeout_ms == 3600 * SEC);
    CHECK(set1(&c, "timeout", "3601s", err) == HOOKD_ERANGE);
    CHECK(set1(&c, "timeout", "10x", err) == HOOKD_EINVAL);
    CHECK_STR(err, "--timeout: '10x' is not a duration (like 500ms, 10s, 5m, 12h)");
    CHECK(set1(&c, "timeout", "99999999999999999999d", err) == HOOKD_ERANGE);
    CHECK(c.timeout_ms == 3600 * SEC);
    CHECK(set1(&c, "drain-timeout", "0", err) == 0 && c.drain_timeout_ms == 0);
    CHECK(set1(&c, "retry-base", "10ms", err) == 0 && c.retry_base_ms == 10);
    CHECK(set1(&c, "retry-base", "9ms", err) != 0);
    CHECK(set1(&c, "retry-base", "30d", err) == 0 && c.retry_base_ms == 30 * DAY);
    CHECK(set1(&c, "retry-max-delay", "30d", err) == 0);
    CHECK(set1(&c, "lease", "999ms", err) != 0);
    CHECK(set1(&c, "lease", "1d", err) == 0 && c.lease_ms == DAY);
    CHECK(set1(&c, "lease", "25h", err) != 0);

    /* double */
    CHECK(set1(&c, "retry-factor", "1", err) == 0 && c.retry_factor == 1.0);
    CHECK(set1(&c, "retry-factor", "1.5", err) == 0 && c.retry_factor == 1.5);
    CHECK(set1(&c, "retry-factor", "100", err) == 0 && c.retry_factor == 100.0);
    CHECK(set1(&c, "retry-factor", "100.5", err) == HOOKD_EINVAL);
    CHECK_STR(err, "--retry-factor: '100.5' is not a number between 1 and 100");
    CHECK(set1(&c, "retry-factor", "0.99", err) != 0);
    CHECK(set1(&c, "retry-factor", "nan", err) != 0);
    CHECK(set1(&c, "retry-factor", "inf", err) != 0);
    CHECK(set1(&c, "retry-factor", "1e1", err) != 0);
    CHECK(set1(&c, "retry-factor", "0x2", err) != 0);
    CHECK(set1(&c, "retry-factor", "-2", err) != 0);
    CHECK(set1(&c, "retry-factor", " 2", err) != 0);
    CHECK(set1(&c, "retry-factor", "1.2.3", err) != 0);
    CHECK(set1(&c, "retry-factor", "", err) != 0);
    CHECK(c.retry_factor == 100.0);

    /* bytes */
    CHECK(set1(&c, "max-envelope", "1024", err) == 0 && c.max_envelope == 1024);
    CHECK(set1(&c, "max-envelope", "1023", err) == HOOKD_ERANGE);
    CHECK_STR(err, "--max-envelope: '1023' is not between 1KiB and 64MiB");
    CHECK(set1(&c, "max-envelope", "512k", err) == 0 && c.max_envelope == 512 * 1024);
    CHECK(set1(&c, "max-envelope", "2KiB", err) == 0 && c.max_envelope == 2048);
    CHECK(set1(&c, "max-envelope", "64MiB", err) == 0 && c.max_envelope == 64 << 20);
    CHECK(set1(&c, "max-envelope", "3M", err) == 0 && c.max_envelope == 3 << 20);
    CHECK(set1(&c, "max-envelope", "65M", err) == HOOKD_ERANGE);
    CHECK(set1(&c, "max-envelope", "67108865", err) == HOOKD_ERANGE);
    CHECK(set1(&c, "max-envelope", "1MB", err) == HOOKD_EINVAL);
    CHECK(set1(&c, "max-envelope", "1 MiB", err) == HOOKD_EINVAL);
    CHECK(set1(&c, "max-envelope", "", err) == HOOKD_EINVAL);
    CHECK(set1(&c, "max-envelope", "99999999999999999999999", err) == HOOKD_ERANGE);
    CHECK(set1(&c, "max-envelope", "9999999999999M", err) == HOOKD_ERANGE);
    CHECK(c.max_envelope == 3 << 20);

    /* enum */
    CHECK(set1(&c, "log-level", "debug", err) == 0 && c.log_level == HOOKD_LOG_DEBUG);
    CHECK(set1(&c, "log-level", "WARN", err) == 0 && c.log_level == HOOKD_LOG_WARN);
    CHECK(set1(&c, "log-level", "loud", err) == HOOKD_EINVAL);
    CHECK_STR(err, "--log-level: 'loud' is not one of debug, info, warn, error");
    CHECK(c.log_level == HOOKD_LOG_WARN);
    CHECK(set1(&c, "log-format", "json", err) == 0 && c.log_format == HOOKD_LOG_JSON);
    CHECK(set1(&c, "log-format", "xml", err) != 0 && c.log_format == HOOKD_LOG_JSON);

    /* prefix */
    char p64[65], p65[66];
    memset(p64, 'a', 64);
    p64[64] = '\0';
    memset(p65, 'a', 65);
    p65[65] = '\0';
    CHECK(set1(&c, "prefix", "my-app:v1.2_X", err) == 0);
    CHECK_STR(c.prefix, "my-app:v1.2_X");
    CHECK(set1(&c, "prefix", p64, err) == 0 && strlen(c.prefix) == 64);
    CHECK(set1(&c, "prefix", p65, err) == HOOKD_EINVAL);
    CHECK(set1(&c, "prefix", "", err) == HOOKD_EINVAL);
    CHECK(set1(&c, "prefix", "a b", err) == HOOKD_EINVAL);
    CHECK(set1(&c, "prefix", "x{y}", err) == HOOKD_EINVAL);
    CHECK(set1(&c, "prefix", "x*", err) == HOOKD_EINVAL);
    CHECK(strncmp(err, "--prefix: 'x*' ", 15) == 0);
    CHECK(strlen(c.prefix) == 64);

    /* metrics-addr */
    CHECK(set1(&c, "metrics-addr", "127.0.0.1:9464", err) == 0);
    CHECK_STR(c.metrics_addr, "127.0.0.1:9464");
    CHECK(set1(&c, "metrics-addr", "[::1]:9464", err) == 0);
    CHECK(set1(&c, "metrics-addr", "metrics.local:65535", err) == 0);
    CHECK(set1(&c, "metrics-addr", "localhost:0", err) != 0);
    CHECK(set1(&c, "metrics-addr", "localhost:65536", err) != 0);
    CHECK(set1(&c, "metrics-addr", "localhost", err) != 0);
    CHECK(set1(&c, "metrics-addr", ":9464", err) != 0);
    CHECK(set1(&c, "metrics-addr", "::1:9464", err) != 0);
    CHECK(set1(&c, "metrics-addr", "[::1]", err) != 0);
    CHECK(set1(&c, "metrics-addr", "[zz]:1", err) != 0);
    CHECK(set1(&c, "metrics-addr", "host:80x", err) != 0);
    CHECK(set1(&c, "metrics-addr", "a b:80", err) != 0);
    CHECK_STR(c.metrics_addr, "metrics.local:65535");
    CHECK(set1(&c, "metrics-addr", "", err) == 0 && c.metrics_addr == NULL);

    /* allow-net */
    CHECK(set1(&c, "allow-net", "127.0.0.0/8,10.0.0.0/8", err) == 0);
    CHECK(c.allow_net.n == 2);
    CHECK_STR(c.allow_net_text, "127.0.0.0/8,10.0.0.0/8");
    CHECK(set1(&c, "allow-net", "not-a-cidr", err) != 0);
    CHECK(strncmp(err, "--allow-net: ", 13) == 0 && strlen(err) > 13);
    CHECK(c.allow_net.n == 2);
    CHECK_STR(c.allow_net_text, "127.0.0.0/8,10.0.0.0/8");
    CHECK(set1(&c, "allow-net", "", err) == 0 && c.allow_net.n == 0);

    /* redis-url: the value holds a password, so errors never echo it */
    CHECK(set1(&c, "redis-url", "redis://u:sekret@h:99999/0", err) == HOOKD_EINVAL);
    CHECK(strncmp(err, "--redis-url: ", 13) == 0 && !strstr(err, "sekret"));
    CHECK(set1(&c, "redis-url", "redis://:sekret", err) != 0 && !strstr(err, "sekret"));
    CHECK_STR(c.redis_url, "redis://127.0.0.1:6379/0");
    CHECK(set1(&c, "redis-url", "unix:///run/redis.sock", err) == 0);
    CHECK_STR(c.redis_url, "unix:///run/redis.sock");

    /* redis-url-file: set records the path only; load reads the file */
    CHECK(set1(&c, "redis-url-file", "/nonexistent/hookd-url", err) == 0);
    CHECK_STR(c.redis_url_file, "/nonexistent/hookd-url");
    CHECK_STR(c.redis_url, "unix:///run/redis.sock");
    char longpath[4200];
    memset(longpath, 'p', sizeof(longpath) - 1);
    longpath[sizeof(longpath) - 1] = '\0';
    CHECK(set1(&c, "redis-url-file", longpath, err) == HOOKD_EINVAL);
    CHECK(strstr(err, "is longer than 4095 bytes") != NULL);
    CHECK_STR(c.redis_url_file, "/nonexistent/hookd-url");
    CHECK(set1(&c, "redis-url-file", "", err) == 0 && c.redis_url_file == NULL);

    /* long values are cut in messages; control bytes do not reach them */
    char longv[300];
    memset(longv, '9', sizeof(longv) - 1);
    longv[sizeof(longv) - 1] = '\0';
    CHECK(set1(&c, "batch", longv, err) != 0 && strlen(err) < 140 && strstr(err, "...'"));
    CHECK(set1(&c, "batch", "1\n2", err) != 0 && !strchr(err, '\n'));

    CHECK(set1(&c, "no-such-option", "1", err) == HOOKD_ENOTFOUND);
    CHECK(set1(&c, "", "1", err) == HOOKD_ENOTFOUND);
    hookd_config_free(&c);
}

static int argv_is(char **argv, int argc, const char *const *want)
{
    int i = 0;
    for (; want[i]; i++)
        if (i >= argc || strcmp(argv[i], want[i]) != 0)
            return 0;
    return i == argc && argv[argc] == NULL;
}

static void test_load(void)
{
    struct hookd_config c;
    char err[HOOKD_ERRLEN];

    /* flags win over the environment; leftovers keep their order */
    {
        char *env[] = {"PATH=/bin",
                       "HOOKD_THREADS=3",
                       "HOOKD_PREFIX=fromenv",
                       "HOOKD_NOPE=1",
                       "HOOKD_BATCH",
                       "HOOKD_DEAD_MAX=",
                       "hookd_batch=9",
                       "THREADS=7",
                       "HOOKD_LOG_MAX=500",
                       NULL};
        char *argv[] = {"hookd",    "--prefix",     "p",      "webhook",   "add", "--url",
                        "http://x", "--timeout=3s", "--json", "--threads", "5",   "--batch",
                        "7",        "extra",        NULL};
        int argc = 14;
        static const char *const want[] = {"hookd",    "webhook", "add",   "--url",
                                           "http://x", "--json",  "extra", NULL};
        CHECK(hookd_config_init(&c) == 0);
        CHECK(hookd_config_load(&c, &argc, argv, env, err) == 0);
        CHECK(argc == 7);
        CHECK(argv_is(argv, argc, want));
        CHECK(c.threads == 5);
        CHECK_STR(c.prefix, "p");
        CHECK(c.timeout_ms == 3 * SEC);
        CHECK(c.batch == 7);
        CHECK(c.dead_max == 10000); /* empty variable counts as unset */
        CHECK(c.log_max == 500);
        hookd_config_free(&c);
    }
    /* the environment alone */
    {
        char *env[] = {"HOOKD_PREFIX=fromenv", "HOOKD_METRICS_ADDR=0.0.0.0:9464", NULL};
        char *argv[] = {"hookd", "run", NULL};
        int argc = 2;
        CHECK(hookd_config_init(&c) == 0);
        CHECK(hookd_config_load(&c, &argc, argv, env, err) == 0);
        CHECK(argc == 2);
        CHECK_STR(c.prefix, "fromenv");
        CHECK_STR(c.metrics_addr, "0.0.0.0:9464");
        /* an empty flag value turns metrics off again */
        char *argv2[] = {"hookd", "--metrics-addr=", NULL};
        argc = 2;
        CHECK(hookd_config_load(&c, &argc, argv2, NULL, err) == 0);
        CHECK(argc == 1 && argv2[1] == NULL);
        CHECK(c.metrics_addr == NULL);
        hookd_config_free(&c);
    }
    /* "--" ends option parsing and stays, with everything after it */
    {
        char *argv[] = {"hookd", "--batch", "9", "enqueue", "--", "--threads", "9", NULL};
        int argc = 7;
        static const char *const want[] = {"hookd", "enqueue", "--", "--threads", "9", NULL};
        CHECK(hookd_config_init(&c) == 0);
        CHECK(hookd_config_load(&c, &argc, argv, NULL, err) == 0);
        CHECK(argv_is(argv, argc, want));
        CHECK(c.batch == 9);
        CHECK(c.threads != 9 || sysconf(_SC_NPROCESSORS_ONLN) == 9);
        hookd_config_free(&c);
    }
    /* look-alikes are left for the subcommand */
    {
        char *argv[] = {"hookd",      "--threadsx", "1",       "-threads", "2",
                        "---threads", "3",          "threads", NULL};
        int argc = 8;
        static const char *const want[] = {"hookd",      "--threadsx", "1",       "-threads", "2",
                                           "---threads", "3",          "threads", NULL};
        CHECK(hookd_config_init(&c) == 0);
        CHECK(hookd_config_load(&c, &argc, argv, NULL, err) == 0);
        CHECK(argv_is(argv, argc, want));
        hookd_config_free(&c);
    }
    /* missing values */
    {
        char *argv[] = {"hookd", "run", "--threads", NULL};
        int argc = 3;
        CHECK(hookd_config_init(&c) == 0);
        CHECK(hookd_config_load(&c, &argc, argv, NULL, err) == HOOKD_EINVAL);
        CHECK_STR(err, "--threads needs a value");
        char *argv2[] = {"hookd", "--lease", "--json", NULL};
        argc = 3;
        CHECK(hookd_config_load(&c, &argc, argv2, NULL, err) == HOOKD_EINVAL);
        CHECK_STR(err, "--lease needs a value");
        char *argv3[] = {"hookd", "--threads=", NULL};
        argc = 2;
        CHECK(hookd_config_load(&c, &argc, argv3, NULL, err) == HOOKD_EINVAL);
        CHECK_STR(err, "--threads: '' is not a whole number between 1 and 256");
        hookd_config_free(&c);
    }
    /* a bad variable names the variable */
    {
        char *env[] = {"HOOKD_TIMEOUT=10x", NULL};
        char *argv[] = {"hookd", NULL};
        int argc = 1;
        CHECK(hookd_config_init(&c) == 0);
        CHECK(hookd_config_load(&c, &argc, argv, env, err) == HOOKD_EINVAL);
        CHECK_STR(err, "HOOKD_TIMEOUT: '10x' is not a duration (like 500ms, 10s, 5m, 12h)");
        char *env2[] = {"HOOKD_THREADS=abc", NULL};
        CHECK(hookd_config_load(&c, &argc, argv, env2, err) == HOOKD_EINVAL);
        CHECK_STR(err, "HOOKD_THREADS: 'abc' is not a whole number between 1 and 256");
        hookd_config_free(&c);
    }
    /* a bad flag value */
    {
        char *argv[] = {"hookd", "stats", "--log-format", "yaml", NULL};
        int argc = 4;
        CHECK(hookd_config_init(&c) == 0);
        CHECK(hookd_config_load(&c, &argc, argv, NULL, err) == HOOKD_EINVAL);
        CHECK_STR(err, "--log-format: 'yaml' is not one of text, json");
        hookd_config_free(&c);
    }
    /* the value after a flag may start with a single dash */
    {
        char *argv[] = {"hookd", "--prefix", "-x-", NULL};
        int argc = 3;
        CHECK(hookd_config_init(&c) == 0);
        CHECK(hookd_config_load(&c, &argc, argv, NULL, err) == 0);
        CHECK(argc == 1);
        CHECK_STR(c.prefix, "-x-");
        hookd_config_free(&c);
    }
}

static void test_check(void)
{
    struct hookd_config c;
    char err[HOOKD_ERRLEN];
    CHECK(hookd_config_init(&c) == 0);
    CHECK(hookd_config_check(&c, err) == 0);

    c.timeout_ms = 90 * SEC;
    CHECK(hookd_config_check(&c, err) == HOOKD_EINVAL);
    CHECK_STR(err, "lease (60s) must be longer than timeout (90s), the longest attempt");
    c.timeout_ms = 60 * SEC;
    CHECK(hookd_config_check(&c, err) == HOOKD_EINVAL);
    c.timeout_ms = 59500;
    CHECK(hookd_config_check(&c, err) == 0);

    c.connect_timeout_ms = 59501;
    CHECK(hookd_config_check(&c, err) == HOOKD_EINVAL);
    CHECK_STR(err, "connect-timeout (59501ms) must not be longer than timeout (59500ms), "
                   "which includes connecting");
    c.connect_timeout_ms = 59500;
    CHECK(hookd_config_check(&c, err) == 0);

    c.retry_base_ms = 13 * 3600 * SEC;
    CHECK(hookd_config_check(&c, err) == HOOKD_EINVAL);
    CHECK_STR(err, "retry-base (13h) must not be longer than retry-max-delay (12h)");
    c.retry_base_ms = c.retry_max_delay_ms;
    CHECK(hookd_config_check(&c, err) == 0);
    hookd_config_free(&c);
}

struct url_case {
    const char *url;
    int rc;
    const char *host, *path, *user, *password;
    int port, db;
};

static void test_redis_urls(void)
{
    static const struct url_case ok[] = {
        {"redis://127.0.0.1:6379/0", 0, "127.0.0.1", "", "", "", 6379, 0},
        {"redis://localhost", 0, "localhost", "", "", "", 6379, 0},
        {"REDIS://localhost/", 0, "localhost", "", "", "", 6379, 0},
        {"redis://h/1000000", 0, "h", "", "", "", 6379, 1000000},
        {"redis://user:p%40ss@redis.local:6380/2", 0, "redis.local", "", "user", "p@ss", 6380, 2},
        {"redis://:secret@h", 0, "h", "", "", "secret", 6379, 0},
        {"redis://secret@h:1", 0, "h", "", "", "secret", 1, 0},
        {"redis://u:p@ss@h", 0, "h", "", "u", "p@ss", 6379, 0},
        {"redis://u:a%3Ab%2f@h", 0, "h", "", "u", "a:b/", 6379, 0},
        {"redis://[::1]:6390/3", 0, "::1", "", "", "", 6390, 3},
        {"redis://[2001:db8::1]", 0, "2001:db8::1", "", "", "", 6379, 0},
        {"redis://u:pw@[::1]:65535", 0, "::1", "", "u", "pw", 65535, 0},
        {"unix:///var/run/redis.sock?db=4", 0, "", "/var/run/redis.sock", "", "", 0, 4},
        {"unix:///tmp/r%20s.sock", 0, "", "/tmp/r s.sock", "", "", 0, 0},
    };
    static const char *const bad[] = {
        "",
        "localhost:6379",
        "http://h",
        "redis://",
        "redis://:6379",
        "redis:///0",
        "redis://h h",
        "redis://h\n",
        "redis://[::1",
        "redis://[nothex]:1",
        "redis://[::1]x",
        "redis://::1:6379",
        "redis://h_%:1",
        "redis://u:@h",
        "redis://@h",
        "redis://u:%zz@h",
        "redis://u:%00@h",
        "redis://u:%4@h",
        "redis://u%:p@h",
        "redis://h:0",
        "redis://h:65536",
        "redis://h:",
        "redis://h:abc",
        "redis://h:-1",
        "redis://h:99999999999999999999",
        "redis://h/1000001",
        "redis://h/-1",
        "redis://h/x",
        "redis://h/1/2",
        "redis://h?x=1",
        "redis://h#f",
        "unix://",
        "unix://relative.sock",
        "unix:///",
        "unix:///p?db=x",
        "unix:///p?db=1000001",
        "unix:///p?foo=1",
        "unix:///p%zz",
    };
    struct hookd_redis_addr a;
    char err[HOOKD_ERRLEN];
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        int rc = hookd_redis_url_parse(ok[i].url, &a, err);
        if (rc != 0)
            fprintf(stderr, "  url '%s': %s\n", ok[i].url, err);
        CHECK(rc == 0);
        CHECK_STR(a.host, ok[i].host);
        CHECK_STR(a.path, ok[i].path);
        CHECK_STR(a.user, ok[i].user);
        CHECK_STR(a.password, ok[i].password);
        CHECK(a.port == ok[i].port);
        CHECK(a.db == ok[i].db);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        int rc = hookd_redis_url_parse(bad[i], &a, err);
        if (rc == 0)
            fprintf(stderr, "  url '%s' accepted\n", bad[i]);
        CHECK(rc != 0);
        CHECK(err[0] != '\0');
    }
    CHECK(hookd_redis_url_parse(NULL, &a, err) == HOOKD_EINVAL);

    if (hookd_redis_tls_missing()) {
        CHECK(hookd_redis_url_parse("rediss://h:6380", &a, err) == HOOKD_EINVAL);
        CHECK(strstr(err, "rediss://") && strstr(err, "TLS") && strstr(err, "hiredis"));
    } else {
        CHECK(hookd_redis_url_parse("rediss://u:pw@h:6380/2", &a, err) == 0);
        CHECK(a.tls == 1 && a.port == 6380 && a.db == 2 && strcmp(a.host, "h") == 0);
        struct hookd_buf b;
        hookd_buf_init(&b, 256);
        CHECK(hookd_redis_url_redact(&a, &b) == 0);
        CHECK_STR(b.data, "rediss://u:***@h:6380/2");
        hookd_buf_free(&b);
        CHECK(hookd_redis_url_parse("rediss://h:99999", &a, err) != 0 && a.tls == 0);
    }
    CHECK(hookd_redis_url_parse("redis://h:6380", &a, err) == 0 && a.tls == 0);

    /* no secret in any message, and none left in the struct on failure */
    static const char *const secret[] = {
        "redis://u:sekret@h:0", "redis://u:sekret@h/x", "redis://:sekret",      "redis://u:sekret",
        "redis://u:sekret@",    "redis://sekret@[::1",  "redis://u:sekret@h h",
    };
    for (size_t i = 0; i < sizeof(secret) / sizeof(secret[0]); i++) {
        memset(&a, 'x', sizeof(a));
        CHECK(hookd_redis_url_parse(secret[i], &a, err) != 0);
        CHECK(!strstr(err, "sekret"));
        CHECK(a.password[0] == '\0' && a.user[0] == '\0');
    }

    /* size caps */
    char url[1100];
    memset(url, 'a', sizeof(url));
    memcpy(url, "redis://", 8);
    url[1025] = '\0';
    CHECK(hookd_redis_url_parse(url, &a, err) == HOOKD_ETOOBIG);
    CHECK(strstr(err, "1024") != NULL);

    snprintf(url, sizeof(url), "redis://%0256d", 0); /* host of 256 bytes */
    CHECK(hookd_redis_url_parse(url, &a, err) == HOOKD_ETOOBIG);
    snprintf(url, sizeof(url), "redis://%0253d", 0);
    CHECK(hookd_redis_url_parse(url, &a, err) == 0);

    char user[129], pass[300];
    memset(user, 'u', 128);
    user[128] = '\0';
    snprintf(url, sizeof(url), "redis://%s:p@h", user);
    CHECK(hookd_redis_url_parse(url, &a, err) == HOOKD_ETOOBIG);
    user[127] = '\0';
    snprintf(url, sizeof(url), "redis://%s:p@h", user);
    CHECK(hookd_redis_url_parse(url, &a, err) == 0 && strlen(a.user) == 127);

    memset(pass, 'p', 256);
    pass[256] = '\0';
    snprintf(url, sizeof(url), "redis://:%s@h", pass);
    CHECK(hookd_redis_url_parse(url, &a, err) == HOOKD_ETOOBIG);
    pass[255] = '\0';
    snprintf(url, sizeof(url), "redis://:%s@h", pass);
    CHECK(hookd_redis_url_parse(url, &a, err) == 0 && strlen(a.password) == 255);

    /* 255 escaped bytes decode to a password that just fits */
    char enc[800];
    for (int i = 0; i < 255; i++)
        memcpy(enc + 3 * i, "%41", 3);
    enc[765] = '\0';
    snprintf(url, sizeof(url), "redis://:%s@h", enc);
    CHECK(hookd_redis_url_parse(url, &a, err) == 0 && strlen(a.password) == 255 &&
          a.password[254] == 'A');

    char path[300];
    memset(path, 's', 256);
    path[0] = '/';
    path[256] = '\0';
    snprintf(url, sizeof(url), "unix://%s", path);
    CHECK(hookd_redis_url_parse(url, &a, err) == HOOKD_ETOOBIG);
    path[255] = '\0';
    snprintf(url, sizeof(url), "unix://%s", path);
    CHECK(hookd_redis_url_parse(url, &a, err) == 0);
}

/* Writes n bytes to dir/name; returns the path (static, overwritten by the
 * next call). */
static const char *put_file(const char *dir, const char *name, const char *data, size_t n)
{
    static char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (f) {
        CHECK(fwrite(data, 1, n, f) == n);
        fclose(f);
    }
    return path;
}

/* A fresh config loaded from argv (NULL-terminated) and env; returns the rc. */
static int load_fresh(struct hookd_config *c, char **argv, char **env, char *err)
{
    int argc = 0;
    while (argv[argc])
        argc++;
    err[0] = '\0';
    CHECK(hookd_config_init(c) == 0);
    return hookd_config_load(c, &argc, argv, env, err);
}

static void test_url_file(void)
{
    char dir[] = "/tmp/hookd-test-config-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    struct hookd_config c;
    char err[HOOKD_ERRLEN], flag[600], envv[600];
    static const char url[] = "redis://app:p%40ss%3Aw0rd@127.0.0.1:6380/2";

    /* The content, less one newline or CRLF, is the URL, parsed as --redis-url. */
    static const struct {
        const char *data;
        const char *want;
    } ok[] = {
        {"redis://app:p%40ss%3Aw0rd@127.0.0.1:6380/2", url},
        {"redis://app:p%40ss%3Aw0rd@127.0.0.1:6380/2\n", url},
        {"redis://app:p%40ss%3Aw0rd@127.0.0.1:6380/2\r\n", url},
        {"unix:///run/redis.sock?db=3\n", "unix:///run/redis.sock?db=3"},
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        const char *path = put_file(dir, "url", ok[i].data, strlen(ok[i].data));
        snprintf(flag, sizeof(flag), "--redis-url-file=%s", path);
        char *argv[] = {"hookd", flag, "run", NULL};
        int rc = load_fresh(&c, argv, NULL, err);
        if (rc != 0)
            fprintf(stderr, "  url file %zu: %s\n", i, err);
        CHECK(rc == 0);
        CHECK_STR(c.redis_url, ok[i].want);
        CHECK_STR(c.redis_url_file, path);
        CHECK(argv[1] && strcmp(argv[1], "run") == 0 && argv[2] == NULL);
        hookd_config_free(&c);
    }

    /* From the environment too, against the default. */
    const char *path = put_file(dir, "url", url, strlen(url));
    snprintf(envv, sizeof(envv), "HOOKD_REDIS_URL_FILE=%s", path);
    {
        char *argv[] = {"hookd", NULL};
        char *env[] = {envv, NULL};
        CHECK(load_fresh(&c, argv, env, err) == 0);
        CHECK_STR(c.redis_url, url);
        hookd_config_free(&c);
    }

    /* Bad files: the error names the option and the path, never the content. */
    static const struct {
        const char *data;
        size_t n;
        const char *why;
    } bad[] = {
#define BYTES(lit) lit, sizeof(lit) - 1
        {BYTES(""), "is empty; it should hold the redis-url value"},
        {BYTES("\n"), "is empty"},
        {BYTES("\r\n"), "is empty"},
        {BYTES("redis://h:1\r"), "holds no valid redis-url value: "},
        {BYTES("redis://u:sekret@h:1\n\n"), "holds no valid redis-url value: "},
        {BYTES("redis://u:sekret@h:1 \n"), "holds no valid redis-url value: "},
        {BYTES("redis://u:sekret@h:99999\n"), "holds no valid redis-url value: port is not"},
        {BYTES("redis://u:sekret@h\0:1\n"), "holds a NUL byte"},
        {BYTES("http://u:sekret@h/\n"), "holds no valid redis-url value: "},
#undef BYTES
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        path = put_file(dir, "bad", bad[i].data, bad[i].n);
        snprintf(flag, sizeof(flag), "--redis-url-file=%s", path);
        char *argv[] = {"hookd", flag, NULL};
        char want[700];
        snprintf(want, sizeof(want), "--redis-url-file: '%s' %s", path, bad[i].why);
        int rc = load_fresh(&c, argv, NULL, err);
        if (rc == 0 || strncmp(err, want, strlen(want)) != 0 || strstr(err, "sekret"))
            fprintf(stderr, "  bad url file %zu: rc %d '%s'\n", i, rc, err);
        CHECK(rc != 0);
        CHECK(strncmp(err, want, strlen(want)) == 0);
        CHECK(!strstr(err, "sekret") && !strchr(err, '\n'));
        CHECK_STR(c.redis_url, "redis://127.0.0.1:6379/0");
        hookd_config_free(&c);
    }

    /* 4 KiB is the cap: a larger file is refused before it is parsed. */
    static char big[4098];
    memset(big, 'a', sizeof(big));
    memcpy(big, "redis://:sekret@h/", 18);
    path = put_file(dir, "big", big, 4097);
    snprintf(flag, sizeof(flag), "--redis-url-file=%s", path);
    {
        char *argv[] = {"hookd", flag, NULL};
        CHECK(load_fresh(&c, argv, NULL, err) == HOOKD_ETOOBIG);
        CHECK(strstr(err, "is larger than 4096 bytes") && !strstr(err, "sekret"));
        hookd_config_free(&c);
    }
    path = put_file(dir, "big", big, 4096);
    {
        char *argv[] = {"hookd", flag, NULL};
        CHECK(load_fresh(&c, argv, NULL, err) == HOOKD_ETOOBIG);
        CHECK(strstr(err, "holds no valid redis-url value: redis URL is longer than 1024 bytes"));
        CHECK(!strstr(err, "sekret"));
        hookd_config_free(&c);
    }

    /* Missing, a directory: cannot be opened or read. */
    {
        char *argv[] = {"hookd", "--redis-url-file", "/nonexistent/hookd-url", NULL};
        CHECK(load_fresh(&c, argv, NULL, err) == HOOKD_EIO);
        CHECK_STR(err, "--redis-url-file: '/nonexistent/hookd-url' cannot be opened: No such "
                       "file or directory");
        hookd_config_free(&c);
        char *argv2[] = {"hookd", "--redis-url-file", dir, NULL};
        CHECK(load_fresh(&c, argv2, NULL, err) == HOOKD_EIO);
        CHECK(strstr(err, "cannot be read: Is a directory") != NULL);
        hookd_config_free(&c);
        char *env[] = {"HOOKD_REDIS_URL_FILE=/nonexistent/hookd-url", NULL};
        char *argv3[] = {"hookd", NULL};
        CHECK(load_fresh(&c, argv3, env, err) == HOOKD_EIO);
        CHECK_STR(err, "HOOKD_REDIS_URL_FILE: '/nonexistent/hookd-url' cannot be opened: No "
                       "such file or directory");
        hookd_config_free(&c);
    }

    /* redis-url and redis-url-file are one option: both at one level is an
     * error; a flag of either wins over a variable of either, and a file that
     * loses is not read. */
    path = put_file(dir, "url", url, strlen(url));
    snprintf(flag, sizeof(flag), "--redis-url-file=%s", path);
    snprintf(envv, sizeof(envv), "HOOKD_REDIS_URL_FILE=%s", path);
    {
        char *argv[] = {"hookd", "--redis-url", "redis://h:1/0", flag, NULL};
        CHECK(load_fresh(&c, argv, NULL, err) == HOOKD_EINVAL);
        CHECK_STR(err, "--redis-url and --redis-url-file are both given; give one");
        hookd_config_free(&c);

        char *env[] = {"HOOKD_REDIS_URL=redis://h:1/0", envv, NULL};
        char *argv2[] = {"hookd", NULL};
        CHECK(load_fresh(&c, argv2, env, err) == HOOKD_EINVAL);
        CHECK_STR(err, "HOOKD_REDIS_URL and HOOKD_REDIS_URL_FILE are both set; set one");
        hookd_config_free(&c);

        char *env2[] = {"HOOKD_REDIS_URL=redis://h:1/0", NULL};
        char *argv3[] = {"hookd", flag, NULL};
        CHECK(load_fresh(&c, argv3, env2, err) == 0);
        CHECK_STR(c.redis_url, url);
        hookd_config_free(&c);

        char *env3[] = {"HOOKD_REDIS_URL_FILE=/nonexistent/hookd-url", NULL};
        char *argv4[] = {"hookd", "--redis-url", "redis://h:1/0", NULL};
        CHECK(load_fresh(&c, argv4, env3, err) == 0);
        CHECK_STR(c.redis_url, "redis://h:1/0");
        CHECK(c.redis_url_file == NULL);
        hookd_config_free(&c);

        /* an empty flag turns the file off */
        char *argv5[] = {"hookd", "--redis-url-file=", NULL};
        CHECK(load_fresh(&c, argv5, env3, err) == 0);
        CHECK_STR(c.redis_url, "redis://127.0.0.1:6379/0");
        CHECK(c.redis_url_file == NULL);
        hookd_config_free(&c);

        /* the flag of the file wins over its variable */
        char *argv6[] = {"hookd", flag, NULL};
        CHECK(load_fresh(&c, argv6, env3, err) == 0);
        CHECK_STR(c.redis_url, url);
        hookd_config_free(&c);
    }

    char rm[600];
    snprintf(rm, sizeof(rm), "%s/url", dir);
    unlink(rm);
    snprintf(rm, sizeof(rm), "%s/bad", dir);
    unlink(rm);
    snprintf(rm, sizeof(rm), "%s/big", dir);
    unlink(rm);
    rmdir(dir);
}

/* The redacted URL names the address and never the password, whatever
 * characters the password holds; it parses back to the same address. */
static void test_redact(void)
{
    static const struct {
        const char *url;
        const char *shown;
        const char *secret; /* must not be in the output; NULL: no password */
    } cases[] = {
        {"redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0", NULL},
        {"redis://localhost", "redis://localhost:6379/0", NULL},
        {"redis://user:sekret@127.0.0.1:6379/0", "redis://user:***@127.0.0.1:6379/0", "sekret"},
        {"redis://:sekret@h/3", "redis://:***@h:6379/3", "sekret"},
        {"redis://sekret@h:1", "redis://:***@h:1/0", "sekret"},
        {"redis://u:p%40ss%3Aw%2Fo%25rd@h", "redis://u:***@h:6379/0", "p@ss"},
        {"redis://u:p@ss@h", "redis://u:***@h:6379/0", "ss@"},
        {"redis://u:%2A%2A%2A@h", "redis://u:***@h:6379/0", NULL},
        {"redis://a%3Ab%40c:pw1234@h", "redis://a%3Ab%40c:***@h:6379/0", "pw1234"},
        {"redis://u:pw1234@[::1]:6390/3", "redis://u:***@[::1]:6390/3", "pw1234"},
        {"unix:///run/redis.sock", "unix:///run/redis.sock?db=0", NULL},
        {"unix:///tmp/r%20s%3F.sock?db=2", "unix:///tmp/r%20s%3F.sock?db=2", NULL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct hookd_redis_addr a, back;
        char err[HOOKD_ERRLEN];
        struct hookd_buf b;
        hookd_buf_init(&b, 2048);
        CHECK(hookd_redis_url_parse(cases[i].url, &a, err) == 0);
        CHECK(hookd_redis_url_redact(&a, &b) == 0);
        CHECK_STR(b.data, cases[i].shown);
        if (cases[i].secret)
            CHECK(b.data && !strstr(b.data, cases[i].secret));
        CHECK(b.data && hookd_redis_url_parse(b.data, &back, err) == 0);
        CHECK_STR(back.host, a.host);
        CHECK_STR(back.path, a.path);
        CHECK_STR(back.user, a.user);
        CHECK_STR(back.password, a.password[0] ? "***" : "");
        CHECK(back.port == a.port && back.db == a.db);
        hookd_buf_free(&b);
    }

    /* Appends; a cap that does not fit leaves the buffer as it was. */
    struct hookd_redis_addr a;
    char err[HOOKD_ERRLEN];
    struct hookd_buf b;
    hookd_buf_init(&b, 20);
    CHECK(hookd_buf_adds(&b, "redis ") == 0);
    CHECK(hookd_redis_url_parse("redis://u:sekret@127.0.0.1:6379/0", &a, err) == 0);
    CHECK(hookd_redis_url_redact(&a, &b) == HOOKD_ETOOBIG);
    CHECK_STR(b.data, "redis ");
    hookd_buf_free(&b);
    hookd_buf_init(&b, 100);
    CHECK(hookd_buf_adds(&b, "redis ") == 0);
    CHECK(hookd_redis_url_redact(&a, &b) == 0);
    CHECK_STR(b.data, "redis redis://u:***@127.0.0.1:6379/0");
    hookd_buf_free(&b);
}

/* The generated texts: usage lists every option; every variable is its
 * flag's name in upper case; docs/configuration.md ends with the table. */
static void test_docs(void)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    hookd_config_usage(f);
    fclose(f);
    CHECK(strstr(text, "--redis-url URL\n") && strstr(text, "HOOKD_REDIS_URL, default: redis://"));
    CHECK(strstr(text, "--redis-url-file PATH\n") &&
          strstr(text, "HOOKD_REDIS_URL_FILE, default: (none)"));
    CHECK(strstr(text, "default: CPU count"));
    CHECK(strstr(text, "default: 1MiB"));
    free(text);

    f = open_memstream(&text, &len);
    hookd_config_markdown(f);
    fclose(f);
    int rows = 0;
    for (char *line = strstr(text, "\n| `--"); line; line = strstr(line + 1, "\n| `--")) {
        char name[64], env[80], want[80];
        if (sscanf(line, "\n| `--%63[a-z-] %*[^`]` | `%79[A-Z_]` |", name, env) != 2) {
            CHECK(!"markdown row does not parse");
            continue;
        }
        size_t i = 0;
        memcpy(want, "HOOKD_", 6);
        for (; name[i]; i++)
            want[6 + i] = name[i] == '-' ? '_' : (char)toupper((unsigned char)name[i]);
        want[6 + i] = '\0';
        CHECK_STR(env, want);
        rows++;
    }
    CHECK(rows == 34);
    CHECK(strstr(text, "| `--threads N` | `HOOKD_THREADS` | CPU count |"));
    CHECK(strstr(text, "| `--log-level LEVEL` | `HOOKD_LOG_LEVEL` | `info` |"));

    /* __FILE__ is absolute in the CMake build: find docs/ from it */
    char docpath[4096];
    const char *tail = strstr(__FILE__, "tests/unit/test_config.c");
    if (tail && __FILE__[0] == '/') {
        snprintf(docpath, sizeof(docpath), "%.*sdocs/configuration.md", (int)(tail - __FILE__),
                 __FILE__);
        FILE *d = fopen(docpath, "r");
        CHECK(d != NULL);
        if (d) {
            static char doc[65536];
            size_t n = fread(doc, 1, sizeof(doc) - 1, d);
            fclose(d);
            doc[n] = '\0';
            CHECK(n >= len && memcmp(doc + n - len, text, len) == 0);
        }
    } else {
        fprintf(stderr, "  skipping docs/configuration.md comparison (relative __FILE__)\n");
    }
    free(text);
}

/* Sentinel and cluster URLs: seeds, default ports, master, database; the
 * errors; and the redacted form parses back. */
static void test_topology_urls(void)
{
    struct hookd_redis_addr a, b;
    struct hookd_buf out;
    char err[HOOKD_ERRLEN];

    CHECK(hookd_redis_url_parse("redis-sentinel://10.0.0.1:26380,s2,[::1]:7/mymaster/2", &a, err) ==
          0);
    CHECK(a.mode == HOOKD_REDIS_SENTINEL && a.nseeds == 3 && a.db == 2 && !a.tls);
    CHECK_STR(a.master, "mymaster");
    CHECK_STR(a.seeds[0].host, "10.0.0.1");
    CHECK(a.seeds[0].port == 26380 && a.seeds[1].port == 26379 && a.seeds[2].port == 7);
    CHECK_STR(a.seeds[2].host, "::1");
    CHECK(a.host[0] == '\0');
    hookd_buf_init(&out, 4096);
    CHECK(hookd_redis_url_redact(&a, &out) == 0);
    CHECK_STR(out.data, "redis-sentinel://10.0.0.1:26380,s2:26379,[::1]:7/mymaster/2");
    CHECK(hookd_redis_url_parse(out.data, &b, err) == 0 && b.nseeds == 3 && b.db == 2);
    hookd_buf_free(&out);

    CHECK(hookd_redis_url_parse("redis-cluster://u:pw%40x@n1:7000,n2", &a, err) == 0);
    CHECK(a.mode == HOOKD_REDIS_CLUSTER && a.nseeds == 2 && a.seeds[1].port == 6379);
    CHECK_STR(a.user, "u");
    CHECK_STR(a.password, "pw@x");
    hookd_buf_init(&out, 4096);
    CHECK(hookd_redis_url_redact(&a, &out) == 0);
    CHECK_STR(out.data, "redis-cluster://u:***@n1:7000,n2:6379");
    hookd_buf_free(&out);
    CHECK(hookd_redis_url_parse("REDIS-CLUSTER://n1/", &a, err) == 0 && a.nseeds == 1);

    static const struct {
        const char *url, *why;
    } bad[] = {
        {"redis-sentinel://h1", "no master name"},
        {"redis-sentinel://h1/", "no master name"},
        {"redis-sentinel://h1/m/x", "database"},
        {"redis-sentinel://h1,/m", "no host"},
        {"redis-sentinel://,h1/m", "no host"},
        {"redis-sentinel://h1:0/m", "port"},
        {"redis-cluster://h1/3", "only database 0"},
        {"redis-cluster:///", "no host"},
        {"redis-cluster://h1?x=1", "query"},
        {"redis-sentinel://a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p,q/m", "more than 16 hosts"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        memset(&a, 0x5a, sizeof(a));
        CHECK(hookd_redis_url_parse(bad[i].url, &a, err) != 0);
        if (!strstr(err, bad[i].why))
            fprintf(stderr, "  %s: %s\n", bad[i].url, err);
        CHECK(strstr(err, bad[i].why) != NULL);
        CHECK(a.nseeds == 0 && a.mode == HOOKD_REDIS_DIRECT);
    }
}

/* --prefix a,b,c and --shards N make the namespaces; the producer rule
 * picks one by workspace, as Python's hashlib computes it. */
static void test_namespaces(void)
{
    struct hookd_config c, nc;
    char err[HOOKD_ERRLEN];
    {
        char *argv[] = {"hookd", "--prefix", "a,b,c", "stats", NULL};
        int argc = 4;
        CHECK(hookd_config_init(&c) == 0);
        CHECK(hookd_config_load(&c, &argc, argv, NULL, err) == 0);
        CHECK(hookd_config_count_namespaces(&c) == 3);
        hookd_config_namespace(&c, 2, &nc);
        CHECK_STR(nc.prefix, "c");
        CHECK(nc.nnamespaces == 0 && nc.threads == c.threads);
        /* sha256("ws1")[:4] % 3 == 0, sha256("ws3")[:4] % 3 == 2 */
        CHECK(hookd_config_namespace_of(&c, "ws1") == 0);
        CHECK(hookd_config_namespace_of(&c, "ws3") == 2);
        CHECK(hookd_config_namespace_of(&c, "") == 0);
        CHECK(hookd_config_namespace_of(&c, NULL) == 0);
        hookd_config_free(&c);
    }
    {
        char *argv[] = {"hookd", "--shards", "4", NULL};
        int argc = 3;
        CHECK(hookd_config_init(&c) == 0);
        CHECK(hookd_config_load(&c, &argc, argv, NULL, err) == 0);
        CHECK(hookd_config_count_namespaces(&c) == 4);
        hookd_config_namespace(&c, 3, &nc);
        CHECK_STR(nc.prefix, "hookd:3");
        hookd_config_free(&c);
    }
    {
        /* docs/producers.md's table */
        char *argv[] = {"hookd", "--shards", "7", NULL};
        int argc = 3;
        CHECK(hookd_config_init(&c) == 0);
        CHECK(hookd_config_load(&c, &argc, argv, NULL, err) == 0);
        CHECK(hookd_config_namespace_of(&c, "acme") == 5);
        CHECK(hookd_config_namespace_of(&c, "tenant:42") == 4);
        CHECK(hookd_config_namespace_of(&c, "ws_1") == 4);
        CHECK(hookd_config_namespace_of(&c, "3f2b8c1e-9d4a-4e7b-8c6f-2a1d5e9b7c30") == 1);
        hookd_config_free(&c);
    }
    {
        char *argv[] = {"hookd", "--shards", "1", NULL};
        int argc = 3;
        CHECK(hookd_config_init(&c) == 0);
        CHECK(hookd_config_load(&c, &argc, argv, NULL, err) == 0);
        CHECK(hookd_config_count_namespaces(&c) == 1);
        CHECK_STR(c.prefix, "hookd:0");
        hookd_config_free(&c);
    }
    static const char *const bad[][3] = {
        {"--prefix", "a,a", "twice"},
        {"--prefix", "a,,b", "1 to 64"},
        {"--prefix", "a,", "1 to 64"},
        {"--shards", "257", "between"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char *argv[] = {"hookd", (char *)bad[i][0], (char *)bad[i][1], NULL};
        int argc = 3;
        CHECK(hookd_config_init(&c) == 0);
        CHECK(hookd_config_load(&c, &argc, argv, NULL, err) != 0);
        if (!strstr(err, bad[i][2]))
            fprintf(stderr, "  %s %s: %s\n", bad[i][0], bad[i][1], err);
        CHECK(strstr(err, bad[i][2]) != NULL);
        hookd_config_free(&c);
    }
    {
        char *argv[] = {"hookd", "--prefix", "a,b", "--shards", "2", NULL};
        int argc = 5;
        CHECK(hookd_config_init(&c) == 0);
        CHECK(hookd_config_load(&c, &argc, argv, NULL, err) != 0);
        CHECK(strstr(err, "one or the other") != NULL);
        hookd_config_free(&c);
    }
}

int main(void)
{
    test_durations();
    test_defaults();
    test_set_bounds();
    test_load();
    test_check();
    test_redis_urls();
    test_url_file();
    test_redact();
    test_topology_urls();
    test_namespaces();
    test_docs();
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
