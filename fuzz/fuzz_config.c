/* fuzz_config.c - the option parsers of config.h.
 *
 * Input: one byte that picks an option name, then three newline-separated
 * parts:  DURATION \n REDIS-URL \n VALUE
 * - hookd_duration_parse is compared with a plain model of its grammar;
 * - hookd_redis_url_parse must zero its output on failure and never show the
 *   password (or a 6-byte run of it) in its error message;
 * - hookd_redis_url_redact of a parsed address must parse back to the same
 *   address with the password "***" (when it fits the parser's cap);
 * - hookd_config_set on a fresh config must leave it unchanged on failure,
 *   and be repeatable on success; hookd_config_free must free everything.
 *   (Setting redis-url-file records a path and reads nothing.) */
#include <strings.h>

#include "fuzz_common.h"
#include "hookd/config.h"

/* The option table of src/config.c, plus names that are not options; options
 * added later go last, so that each seed's first byte keeps its name. */
static const char *const names[] = {
    "redis-url",
    "prefix",
    "threads",
    "concurrency",
    "host-concurrency",
    "timeout",
    "connect-timeout",
    "retry-base",
    "retry-factor",
    "retry-max-delay",
    "max-attempts",
    "lease",
    "drain-timeout",
    "allow-net",
    "metrics-addr",
    "log-level",
    "log-format",
    "max-envelope",
    "batch",
    "dead-max",
    "log-max",
    "",
    "no-such-option",
    "--timeout",
    "redis-url-file",
};
#define NNAMES (sizeof(names) / sizeof(names[0]))

#define DAY_MS INT64_C(86400000)
#define DURATION_MAX_MS (30 * DAY_MS)

/* The duration grammar of config.h: digits, then "", ms, s, m, h or d.
 * Returns 0 with *ms, HOOKD_ERANGE past 30 days, or HOOKD_EINVAL. */
static int duration_model(const char *s, int64_t *ms)
{
    static const struct {
        const char *unit;
        int64_t ms;
    } units[] = {{"", 1000}, {"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}, {"d", DAY_MS}};
    size_t nd = strspn(s, "0123456789");
    if (nd == 0)
        return HOOKD_EINVAL;
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (strcmp(s + nd, units[i].unit) != 0)
            continue;
        int64_t n = 0;
        for (size_t k = 0; k < nd; k++) {
            n = n * 10 + (s[k] - '0');
            if (n > DURATION_MAX_MS)
                return HOOKD_ERANGE;
        }
        if (n > DURATION_MAX_MS / units[i].ms)
            return HOOKD_ERANGE;
        *ms = n * units[i].ms;
        return 0;
    }
    return HOOKD_EINVAL;
}

static void fuzz_duration(const struct fuzz_part *part)
{
    char *s = fuzz_strndup(part->p, part->n);
    int64_t ms = -1, want = -1;
    int rc = hookd_duration_parse(s, &ms);
    int wrc = duration_model(s, &want);
    FUZZ_CHECK(rc == wrc);
    if (rc == 0)
        FUZZ_CHECK(ms == want && ms >= 0 && ms <= DURATION_MAX_MS);
    free(s);
}

/* Bytes that no message text of config.c uses, so that a run holding one
 * can only be in an error message by quoting the input. */
static int has_marker(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (p[i] && strchr("!$&*;~^|", p[i]))
            return 1;
    }
    return 0;
}

/* Counts the places where n bytes of needle occur in hay. */
static size_t occurrences(const char *hay, const char *needle, size_t n)
{
    size_t h = strlen(hay), k = 0;
    for (size_t i = 0; i + n <= h; i++)
        k += memcmp(hay + i, needle, n) == 0;
    return k;
}

/* Aborts when errbuf shows the password of url: what comes after the
 * userinfo's first ':' (or the whole userinfo) before the last '@', as a
 * person would read "redis://user:pass@host". Runs of 6 bytes (the whole
 * password when shorter, but at least 4) that hold a marker byte and occur
 * only once in url must not be in errbuf. */
static void check_no_password(const char *url, const char *errbuf)
{
    const char *s = strstr(url, "://");
    if (strncasecmp(url, "unix://", 7) == 0 || !s)
        return;
    s += 3;
    const char *at = strrchr(s, '@');
    if (!at)
        return;
    const char *colon = memchr(s, ':', (size_t)(at - s));
    const char *pw = colon ? colon + 1 : s;
    size_t pwlen = (size_t)(at - pw);
    size_t w = pwlen < 6 ? pwlen : 6;
    if (w < 4)
        return;
    for (size_t i = 0; i + w <= pwlen; i++) {
        if (!has_marker(pw + i, w) || occurrences(url, pw + i, w) != 1)
            continue;
        if (fuzz_contains(errbuf, pw + i, w)) {
            fprintf(stderr, "password run '%.*s' of '%s' shown in: %s\n", (int)w, pw + i, url,
                    errbuf);
            FUZZ_CHECK(!"password shown in the error");
        }
    }
}

/* Aborts unless the redacted form of a parses back to a, password "***". */
static void check_redact(const struct hookd_redis_addr *a)
{
    struct hookd_buf b;
    struct hookd_redis_addr back;
    char errbuf[HOOKD_ERRLEN];
    hookd_buf_init(&b, 4096);
    FUZZ_CHECK(hookd_redis_url_redact(a, &b) == 0 && b.data != NULL);
    if (b.len <= 1024) {
        FUZZ_CHECK(hookd_redis_url_parse(b.data, &back, errbuf) == 0);
        FUZZ_CHECK(strcmp(back.host, a->host) == 0 && strcmp(back.path, a->path) == 0);
        FUZZ_CHECK(strcmp(back.user, a->user) == 0 || !a->password[0]);
        FUZZ_CHECK(strcmp(back.password, a->password[0] ? "***" : "") == 0);
        FUZZ_CHECK(back.port == a->port && back.db == a->db);
        FUZZ_CHECK(back.mode == a->mode && back.nseeds == a->nseeds && back.tls == a->tls);
        FUZZ_CHECK(strcmp(back.master, a->master) == 0);
        for (int i = 0; i < a->nseeds; i++)
            FUZZ_CHECK(strcmp(back.seeds[i].host, a->seeds[i].host) == 0 &&
                       back.seeds[i].port == a->seeds[i].port);
    }
    hookd_buf_free(&b);
}

static void fuzz_redis_url(const struct fuzz_part *part)
{
    char *url = fuzz_strndup(part->p, part->n);
    struct hookd_redis_addr a, zero;
    char errbuf[HOOKD_ERRLEN];
    memset(&zero, 0, sizeof(zero));
    memset(&a, 0x5a, sizeof(a));
    fuzz_errbuf_poison(errbuf);
    int rc = hookd_redis_url_parse(url, &a, errbuf);
    if (rc != 0) {
        FUZZ_CHECK(rc == HOOKD_EINVAL || rc == HOOKD_ETOOBIG || rc == HOOKD_ERANGE);
        FUZZ_CHECK(fuzz_errbuf_ok(errbuf));
        FUZZ_CHECK(memcmp(&a, &zero, sizeof(a)) == 0);
        check_no_password(url, errbuf);
    } else {
        FUZZ_CHECK(strnlen(a.host, sizeof(a.host)) < sizeof(a.host));
        FUZZ_CHECK(strnlen(a.path, sizeof(a.path)) < sizeof(a.path));
        FUZZ_CHECK(strnlen(a.user, sizeof(a.user)) < sizeof(a.user));
        FUZZ_CHECK(strnlen(a.password, sizeof(a.password)) < sizeof(a.password));
        if (a.mode == HOOKD_REDIS_DIRECT) {
            FUZZ_CHECK(!a.host[0] != !a.path[0]); /* exactly one of TCP and unix */
            FUZZ_CHECK(a.nseeds == 0 && !a.master[0]);
        } else {
            /* Seeds only: the node is located at connect time. */
            FUZZ_CHECK(!a.host[0] && !a.path[0]);
            FUZZ_CHECK(a.nseeds >= 1 && a.nseeds <= HOOKD_REDIS_SEEDS_MAX);
            FUZZ_CHECK((a.mode == HOOKD_REDIS_SENTINEL) == (a.master[0] != '\0'));
            FUZZ_CHECK(strnlen(a.master, sizeof(a.master)) < sizeof(a.master));
            for (int i = 0; i < a.nseeds; i++)
                FUZZ_CHECK(a.seeds[i].host[0] && a.seeds[i].port >= 1 && a.seeds[i].port <= 65535);
        }
        if (a.host[0])
            FUZZ_CHECK(a.port >= 1 && a.port <= 65535);
        FUZZ_CHECK(a.db >= 0 && a.db <= 1000000);
        check_redact(&a);
    }
    free(url);
}

/* Aborts unless two configurations hold the same values. */
static void check_same(const struct hookd_config *x, const struct hookd_config *y)
{
#define SAME_STR(f) FUZZ_CHECK((!x->f && !y->f) || (x->f && y->f && strcmp(x->f, y->f) == 0))
    SAME_STR(redis_url);
    SAME_STR(redis_url_file);
    SAME_STR(prefix);
    SAME_STR(allow_net_text);
    SAME_STR(metrics_addr);
#undef SAME_STR
    FUZZ_CHECK(x->threads == y->threads && x->concurrency == y->concurrency);
    FUZZ_CHECK(x->host_concurrency == y->host_concurrency);
    FUZZ_CHECK(x->timeout_ms == y->timeout_ms && x->connect_timeout_ms == y->connect_timeout_ms);
    FUZZ_CHECK(x->retry_base_ms == y->retry_base_ms && x->retry_factor == y->retry_factor);
    FUZZ_CHECK(x->retry_max_delay_ms == y->retry_max_delay_ms);
    FUZZ_CHECK(x->max_attempts == y->max_attempts && x->lease_ms == y->lease_ms);
    FUZZ_CHECK(x->drain_timeout_ms == y->drain_timeout_ms);
    FUZZ_CHECK(x->log_level == y->log_level && x->log_format == y->log_format);
    FUZZ_CHECK(x->max_envelope == y->max_envelope && x->batch == y->batch);
    FUZZ_CHECK(x->dead_max == y->dead_max && x->log_max == y->log_max);
    FUZZ_CHECK(x->allow_net.n == y->allow_net.n);
    FUZZ_CHECK(x->allow_net.n >= 0 && x->allow_net.n <= HOOKD_NETLIST_MAX);
    FUZZ_CHECK(memcmp(x->allow_net.items, y->allow_net.items,
                      (size_t)x->allow_net.n * sizeof(x->allow_net.items[0])) == 0);
}

static void fuzz_config_set(const char *name, const struct fuzz_part *part)
{
    char *value = fuzz_strndup(part->p, part->n);
    struct hookd_config cfg, fresh;
    char errbuf[HOOKD_ERRLEN];
    FUZZ_CHECK(hookd_config_init(&cfg) == 0);
    FUZZ_CHECK(hookd_config_init(&fresh) == 0);
    fuzz_errbuf_poison(errbuf);
    int rc = hookd_config_set(&cfg, name, value, errbuf);
    if (rc != 0) {
        FUZZ_CHECK(rc == HOOKD_EINVAL || rc == HOOKD_ERANGE || rc == HOOKD_ETOOBIG ||
                   rc == HOOKD_ENOTFOUND);
        FUZZ_CHECK(fuzz_errbuf_ok(errbuf));
        if (strcmp(name, "redis-url") == 0)
            check_no_password(value, errbuf);
        check_same(&cfg, &fresh);
    } else {
        /* Setting it again gives the same configuration. */
        struct hookd_config twice;
        FUZZ_CHECK(hookd_config_init(&twice) == 0);
        FUZZ_CHECK(hookd_config_set(&twice, name, value, errbuf) == 0);
        FUZZ_CHECK(hookd_config_set(&twice, name, value, errbuf) == 0);
        check_same(&cfg, &twice);
        hookd_config_free(&twice);
        fuzz_errbuf_poison(errbuf);
        rc = hookd_config_check(&cfg, errbuf);
        FUZZ_CHECK(rc == 0 || (rc == HOOKD_EINVAL && fuzz_errbuf_ok(errbuf)));
    }
    hookd_config_free(&cfg);
    hookd_config_free(&fresh);
    free(value);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const char *name = names[data[0] % NNAMES];
    struct fuzz_part parts[3];
    fuzz_split(data + 1, size - 1, parts, 3);
    fuzz_duration(&parts[0]);
    fuzz_redis_url(&parts[1]);
    fuzz_config_set(name, &parts[2]);
    return 0;
}
