/* config.c - the option table and everything generated from it.
 *
 * In the manner of Redis' config.c: one static row per option says its flag,
 * its environment variable, its kind, its default as text, its bounds, where
 * it lives in struct hookd_config and its help line. Defaults are set by
 * parsing the default text with the same code as user input, so that the
 * usage text and docs/configuration.md show the real defaults. */
#include "hookd/config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <openssl/sha.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "hookd/log.h"
#include "hookd/redis_tls.h"
#include "hookd/webhook.h"

#define SEC_MS INT64_C(1000)
#define MIN_MS (60 * SEC_MS)
#define HOUR_MS (60 * MIN_MS)
#define DAY_MS (24 * HOUR_MS)
#define DURATION_MAX_MS (30 * DAY_MS)
#define KIB INT64_C(1024)
#define MIB (1024 * KIB)

#define REDIS_URL_MAX 1024
#define FILE_VALUE_MAX 4096 /* bytes of a file that holds an option's value */
#define PATH_TEXT_MAX 4095  /* longest path an OPT_FILE option takes */
#define PREFIX_MAX 64
#define METRICS_ADDR_MAX 300
#define SHOWN_VALUE_MAX 60
#define API_TOKEN_MIN 16
#define API_TOKEN_MAX 1024 /* HOOKD_SERVER_TOKEN_MAX */

enum opt_kind {
    OPT_STRING,   /* char *, validated by check */
    OPT_INT,      /* int within [min, max] */
    OPT_DURATION, /* int64_t milliseconds within [min, max] */
    OPT_BYTES,    /* int64_t bytes within [min, max], with KiB/MiB suffixes */
    OPT_DOUBLE,   /* double within [min, max] */
    OPT_NETLIST,  /* struct hookd_netlist, its text kept at off_text */
    OPT_ENUM,     /* a word, stored by set_enum */
    OPT_FILE,     /* char * path of a file whose content is the value of the option
                     named file_of; empty stores NULL (off). A path, shown in errors;
                     the content never is. Read by hookd_config_load. */
};

#define OPT_SECRET 1u     /* the value may hold a password: never echo it */
#define OPT_EMPTY_NULL 2u /* OPT_STRING: an empty value stores NULL (off) */
#define OPT_ENV_ONLY 4u   /* no flag (it would show in ps): the variable or a file only */
#define OPT_LINE 8u       /* OPT_STRING: one trailing "\n" or "\r\n" is dropped */

struct opt {
    const char *name; /* long flag without the dashes */
    const char *env;  /* environment variable */
    enum opt_kind kind;
    const char *arg; /* placeholder shown in usage */
    const char *def; /* default as text, parsed like user input; NULL: def_fn */
    void (*def_fn)(char *buf, size_t len); /* writes the default text at init */
    const char *def_doc;                   /* the default as documented, when not def itself */
    int64_t min, max;                      /* bounds of numeric kinds */
    size_t off;                            /* the field in struct hookd_config */
    size_t off_text;                       /* OPT_NETLIST: the char * field keeping the text */
    /* OPT_STRING: 0 when v is acceptable, else an error with what is wrong
     * with it in why (HOOKD_ERRLEN bytes), phrased to follow the value. */
    int (*check)(const char *v, char *why);
    int (*set_enum)(struct hookd_config *cfg, const char *v); /* OPT_ENUM */
    const char *choices; /* OPT_ENUM: the accepted words, for errors */
    const char *file_of; /* OPT_FILE: the option the file's content sets */
    unsigned flags;      /* OPT_SECRET, OPT_EMPTY_NULL */
    const char *help;
};

static int check_redis_url(const char *v, char *why);
static int check_prefix(const char *v, char *why);
static int check_metrics_addr(const char *v, char *why);
static int check_api_token(const char *v, char *why);
static int set_log_level(struct hookd_config *cfg, const char *v);
static int set_log_format(struct hookd_config *cfg, const char *v);
static void def_threads(char *buf, size_t len);

#define OFF(field) offsetof(struct hookd_config, field)

/* One row per option; kept as written, not reflowed by clang-format. */
/* clang-format off */
static const struct opt opts[] = {
    {.name = "redis-url", .env = "HOOKD_REDIS_URL", .kind = OPT_STRING, .arg = "URL",
     .def = "redis://127.0.0.1:6379/0", .off = OFF(redis_url), .check = check_redis_url,
     .flags = OPT_SECRET,
     .help = "Redis address: redis://[[user]:pass@]host[:port][/db], rediss://... (TLS), "
             "unix:///path[?db=N], redis-sentinel://[[user]:pass@]host[:port][,host...]/MASTER[/db] "
             "or redis-cluster://[[user]:pass@]host[:port][,host...] (docs/operations.md); "
             "percent-encode reserved characters in user and password"},
    {.name = "redis-url-file", .env = "HOOKD_REDIS_URL_FILE", .kind = OPT_FILE, .arg = "PATH",
     .def = "", .def_doc = "(none)", .off = OFF(redis_url_file), .file_of = "redis-url",
     .help = "File holding the Redis address, read as --redis-url (at most 4KiB; one trailing "
             "newline is ignored), so that a password is not on the command line; "
             "use it instead of --redis-url"},
    {.name = "redis-ca-file", .env = "HOOKD_REDIS_CA_FILE", .kind = OPT_STRING, .arg = "PATH",
     .def = "", .def_doc = "(the system's)", .off = OFF(redis_ca_file), .flags = OPT_EMPTY_NULL,
     .help = "PEM file of the CAs a rediss:// server's certificate must chain to; the "
             "certificate must also name the URL's host (always checked)"},
    {.name = "redis-cert-file", .env = "HOOKD_REDIS_CERT_FILE", .kind = OPT_STRING,
     .arg = "PATH", .def = "", .def_doc = "(none)", .off = OFF(redis_cert_file),
     .flags = OPT_EMPTY_NULL,
     .help = "PEM client certificate for a rediss:// server that asks for one; with "
             "--redis-key-file"},
    {.name = "redis-key-file", .env = "HOOKD_REDIS_KEY_FILE", .kind = OPT_STRING, .arg = "PATH",
     .def = "", .def_doc = "(none)", .off = OFF(redis_key_file), .flags = OPT_EMPTY_NULL,
     .help = "PEM private key of --redis-cert-file"},
    {.name = "redis-timeout", .env = "HOOKD_REDIS_TIMEOUT", .kind = OPT_DURATION, .arg = "DUR",
     .def = "5s", .min = 500, .max = 10 * 60 * SEC_MS, .off = OFF(redis_timeout_ms),
     .help = "Longest wait for a Redis reply; past it the connection is declared dead, closed "
             "and opened again, and its unanswered settlements are sent again"},
    {.name = "prefix", .env = "HOOKD_PREFIX", .kind = OPT_STRING, .arg = "NAME", .def = "hookd",
     .off = OFF(prefix), .check = check_prefix,
     .help = "Key namespace: keys are {NAME}:...; 1 to 64 of A-Z a-z 0-9 _ . : -; a comma list "
             "(a,b,c) names several, each served by `hookd run` (docs/operations.md)"},
    {.name = "shards", .env = "HOOKD_SHARDS", .kind = OPT_INT, .arg = "N", .def = "0", .min = 0,
     .max = HOOKD_NAMESPACES_MAX, .off = OFF(shards),
     .help = "N namespaces PREFIX:0 ... PREFIX:N-1 of one --prefix (0: just PREFIX); producers "
             "pick one by workspace (docs/producers.md)"},
    {.name = "threads", .env = "HOOKD_THREADS", .kind = OPT_INT, .arg = "N",
     .def_fn = def_threads, .def_doc = "CPU count", .min = 1, .max = 256, .off = OFF(threads),
     .help = "Event loops (threads) in `hookd run`"},
    {.name = "concurrency", .env = "HOOKD_CONCURRENCY", .kind = OPT_INT, .arg = "N",
     .def = "5120", .min = 1, .max = 100000, .off = OFF(concurrency),
     .help = "Deliveries held per process, running or waiting for their host "
             "(docs/health.md: about 14 KB each in flight)"},
    {.name = "host-concurrency", .env = "HOOKD_HOST_CONCURRENCY", .kind = OPT_INT, .arg = "N",
     .def = "4096", .min = 1, .max = 100000, .off = OFF(host_concurrency),
     .help = "Most deliveries in flight per receiver host and process; within it hookd learns "
             "each host's limit (docs/health.md)"},
    {.name = "probe-max", .env = "HOOKD_PROBE_MAX", .kind = OPT_DURATION, .arg = "DUR",
     .def = "10s", .min = SEC_MS, .max = DAY_MS, .off = OFF(probe_max_ms),
     .help = "Longest wait between probes of a receiver host whose circuit is open; "
             "the first comes after 1s, doubling"},
    {.name = "disable-after", .env = "HOOKD_DISABLE_AFTER", .kind = OPT_DURATION, .arg = "DUR",
     .def = "5d", .min = 0, .max = 30 * DAY_MS, .off = OFF(disable_after_ms),
     .help = "Disable a webhook once every attempt to it failed for this long (0: never); "
             "a 410 disables it at once"},
    {.name = "timeout", .env = "HOOKD_TIMEOUT", .kind = OPT_DURATION, .arg = "DUR",
     .def = "10s", .min = 100, .max = HOUR_MS, .off = OFF(timeout_ms),
     .help = "Whole HTTP attempt, connecting included; a webhook may override it"},
    {.name = "connect-timeout", .env = "HOOKD_CONNECT_TIMEOUT", .kind = OPT_DURATION,
     .arg = "DUR", .def = "5s", .min = 100, .max = HOUR_MS, .off = OFF(connect_timeout_ms),
     .help = "TCP and TLS connect of one attempt; a webhook may override it"},
    {.name = "retry-base", .env = "HOOKD_RETRY_BASE", .kind = OPT_DURATION, .arg = "DUR",
     .def = "10s", .min = 10, .max = 30 * DAY_MS, .off = OFF(retry_base_ms),
     .help = "Delay before the first retry"},
    {.name = "retry-factor", .env = "HOOKD_RETRY_FACTOR", .kind = OPT_DOUBLE, .arg = "X",
     .def = "3", .min = 1, .max = 100, .off = OFF(retry_factor),
     .help = "Growth of the delay per attempt: delay(n) = min(retry-max-delay, "
             "retry-base * retry-factor^(n-1)), +/-20% jitter"},
    {.name = "retry-max-delay", .env = "HOOKD_RETRY_MAX_DELAY", .kind = OPT_DURATION,
     .arg = "DUR", .def = "12h", .min = 100, .max = 30 * DAY_MS, .off = OFF(retry_max_delay_ms),
     .help = "Cap on one retry delay"},
    {.name = "max-attempts", .env = "HOOKD_MAX_ATTEMPTS", .kind = OPT_INT, .arg = "N",
     .def = "10", .min = 1, .max = 1000, .off = OFF(max_attempts),
     .help = "Attempts per delivery before it goes to the dead list"},
    {.name = "lease", .env = "HOOKD_LEASE", .kind = OPT_DURATION, .arg = "DUR", .def = "60s",
     .min = SEC_MS, .max = DAY_MS, .off = OFF(lease_ms),
     .help = "How long taken work stays with a worker before another may take it; "
             "must be longer than timeout"},
    {.name = "drain-timeout", .env = "HOOKD_DRAIN_TIMEOUT", .kind = OPT_DURATION, .arg = "DUR",
     .def = "25s", .min = 0, .max = HOUR_MS, .off = OFF(drain_timeout_ms),
     .help = "On SIGTERM, how long deliveries in flight may finish before the rest is "
             "given back to the queue"},
    {.name = "allow-net", .env = "HOOKD_ALLOW_NET", .kind = OPT_NETLIST, .arg = "CIDRS",
     .def = "", .def_doc = "(none)", .off = OFF(allow_net), .off_text = OFF(allow_net_text),
     .help = "Comma-separated CIDRs that may be reached although not public, "
             "like 127.0.0.0/8,10.0.0.0/8"},
    {.name = "metrics-addr", .env = "HOOKD_METRICS_ADDR", .kind = OPT_STRING,
     .arg = "HOST:PORT", .def = "", .def_doc = "(off)", .off = OFF(metrics_addr),
     .check = check_metrics_addr, .flags = OPT_EMPTY_NULL,
     .help = "Serve /metrics, /healthz and /readyz there, like 127.0.0.1:9464"},
    {.name = "api-addr", .env = "HOOKD_API_ADDR", .kind = OPT_STRING, .arg = "HOST:PORT",
     .def = "", .def_doc = "(off)", .off = OFF(api_addr), .check = check_metrics_addr,
     .flags = OPT_EMPTY_NULL,
     .help = "Serve the HTTP API (/v1) and the console (/) there, like 127.0.0.1:9465; the same "
             "address as --metrics-addr serves all on one listener. Not a loopback address: "
             "needs a token"},
    {.name = "api-token", .env = "HOOKD_API_TOKEN", .kind = OPT_STRING, .arg = "TOKEN",
     .def = "", .def_doc = "(none)", .off = OFF(api_token), .check = check_api_token,
     .flags = OPT_EMPTY_NULL | OPT_SECRET | OPT_ENV_ONLY | OPT_LINE,
     .help = "Bearer token the API asks for (Authorization: Bearer TOKEN), 16 to 1024 printable "
             "bytes; no flag, so that it is not in ps. Without one the API answers 401"},
    {.name = "api-token-file", .env = "HOOKD_API_TOKEN_FILE", .kind = OPT_FILE, .arg = "PATH",
     .def = "", .def_doc = "(none)", .off = OFF(api_token_file), .file_of = "api-token",
     .help = "File holding the API token (one trailing newline is ignored)"},
    {.name = "ops-url", .env = "HOOKD_OPS_URL", .kind = OPT_STRING, .arg = "URL", .def = "",
     .def_doc = "(off)", .off = OFF(ops_url), .flags = OPT_EMPTY_NULL | OPT_SECRET,
     .help = "Also POST each operational event of {P}:ops (webhook.disabled) there, signed as "
             "Standard Webhooks with --ops-secret; never to tenants' webhooks"},
    {.name = "ops-secret", .env = "HOOKD_OPS_SECRET", .kind = OPT_STRING, .arg = "SECRET",
     .def = "", .def_doc = "(none)", .off = OFF(ops_secret), .flags = OPT_EMPTY_NULL | OPT_SECRET,
     .help = "whsec_ secret that signs what goes to --ops-url"},
    {.name = "ops-secret-file", .env = "HOOKD_OPS_SECRET_FILE", .kind = OPT_FILE, .arg = "PATH",
     .def = "", .def_doc = "(none)", .off = OFF(ops_secret_file), .file_of = "ops-secret",
     .help = "File holding --ops-secret, so that it is not on the command line"},
    {.name = "log-level", .env = "HOOKD_LOG_LEVEL", .kind = OPT_ENUM, .arg = "LEVEL",
     .def = "info", .set_enum = set_log_level, .choices = "debug, info, warn, error",
     .help = "Least severe records written: debug, info, warn or error"},
    {.name = "log-format", .env = "HOOKD_LOG_FORMAT", .kind = OPT_ENUM, .arg = "FORMAT",
     .def = "text", .set_enum = set_log_format, .choices = "text, json",
     .help = "text, or json for one JSON object a line"},
    {.name = "max-envelope", .env = "HOOKD_MAX_ENVELOPE", .kind = OPT_BYTES, .arg = "SIZE",
     .def = "1MiB", .min = KIB, .max = 64 * MIB, .off = OFF(max_envelope),
     .help = "Largest envelope accepted, in bytes or with a KiB or MiB suffix; "
             "larger ones go to the dead list"},
    {.name = "batch", .env = "HOOKD_BATCH", .kind = OPT_INT, .arg = "N", .def = "100", .min = 1,
     .max = 1000, .off = OFF(batch), .help = "Events taken per Redis round trip"},
    {.name = "dead-max", .env = "HOOKD_DEAD_MAX", .kind = OPT_INT, .arg = "N", .def = "10000",
     .min = 1, .max = 10000000, .off = OFF(dead_max),
     .help = "Entries kept in the dead list"},
    {.name = "log-max", .env = "HOOKD_LOG_MAX", .kind = OPT_INT, .arg = "N", .def = "1000",
     .min = 10, .max = 1000000, .off = OFF(log_max),
     .help = "Entries kept in each webhook's attempt log stream"},
};
/* clang-format on */

#define NOPTS (sizeof(opts) / sizeof(opts[0]))

#define FIELD(cfg, off, type) ((type *)(void *)((char *)(cfg) + (off)))
#define CFIELD(cfg, off, type) ((const type *)(const void *)((const char *)(cfg) + (off)))

/* Writes the CPU count, clamped to the bounds of threads, as text. */
static void def_threads(char *buf, size_t len)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    if (n < 1)
        n = 1;
    if (n > 256)
        n = 256;
    snprintf(buf, len, "%ld", n);
}

/* ---- formatting values for messages and docs ---- */

/* Writes ms in the largest unit that divides it exactly: 90s, 12h, 250ms.
 * Minutes start at 2m, so that a minute reads as 60s, as people write it. */
static void fmt_duration(int64_t ms, char *buf, size_t len)
{
    static const struct {
        int64_t ms;
        const char *unit;
    } units[] = {{DAY_MS, "d"}, {HOUR_MS, "h"}, {MIN_MS, "m"}, {SEC_MS, "s"}};
    if (ms == 0) {
        snprintf(buf, len, "0s");
        return;
    }
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (units[i].ms == MIN_MS && ms < 2 * MIN_MS)
            continue;
        if (ms % units[i].ms == 0) {
            snprintf(buf, len, "%lld%s", (long long)(ms / units[i].ms), units[i].unit);
            return;
        }
    }
    snprintf(buf, len, "%lldms", (long long)ms);
}

/* Writes a byte count as NMiB, NKiB or N. */
static void fmt_bytes(int64_t n, char *buf, size_t len)
{
    if (n != 0 && n % MIB == 0)
        snprintf(buf, len, "%lldMiB", (long long)(n / MIB));
    else if (n != 0 && n % KIB == 0)
        snprintf(buf, len, "%lldKiB", (long long)(n / KIB));
    else
        snprintf(buf, len, "%lld", (long long)n);
}

/* Writes "MIN<sep>MAX" in the option's unit; empty for non-numeric kinds. */
static void fmt_bounds(const struct opt *o, const char *sep, char *buf, size_t len)
{
    char lo[32], hi[32];
    switch (o->kind) {
    case OPT_DURATION:
        fmt_duration(o->min, lo, sizeof(lo));
        fmt_duration(o->max, hi, sizeof(hi));
        break;
    case OPT_BYTES:
        fmt_bytes(o->min, lo, sizeof(lo));
        fmt_bytes(o->max, hi, sizeof(hi));
        break;
    case OPT_INT:
    case OPT_DOUBLE:
        snprintf(lo, sizeof(lo), "%lld", (long long)o->min);
        snprintf(hi, sizeof(hi), "%lld", (long long)o->max);
        break;
    default:
        buf[0] = '\0';
        return;
    }
    if (snprintf(buf, len, "%s%s%s", lo, sep, hi) >= (int)len)
        buf[len - 1] = '\0'; /* cut: bounds text is for humans only */
}

/* Copies v for an error message: at most SHOWN_VALUE_MAX bytes then "...",
 * control bytes shown as '?', so that a message stays one readable line. */
static void shown_value(const char *v, char *buf, size_t len)
{
    size_t i = 0, j = 0;
    for (; v[i] && i < SHOWN_VALUE_MAX && j + 1 < len; i++, j++)
        buf[j] = ((unsigned char)v[i] < 0x20 || v[i] == 0x7f) ? '?' : v[i];
    buf[j] = '\0';
    if (v[i] && j + 4 <= len)
        memcpy(buf + j, "...", 4);
}

/* ---- parsers ---- */

/* A suffix and what one unit of it is worth. */
struct unit {
    const char *name; /* "ms", "KiB", or "" for a bare number */
    int64_t mult;     /* its worth in the base unit */
};

/* Parses digits followed by one of the n units, into the base unit. Returns
 * HOOKD_EINVAL for anything else, HOOKD_ERANGE past cap. */
static int unit_parse(const char *s, const struct unit *units, size_t n, int64_t cap, int64_t *out)
{
    if (!s || *s < '0' || *s > '9')
        return HOOKD_EINVAL;
    int64_t v = 0;
    int big = 0;
    const char *p = s;
    for (; *p >= '0' && *p <= '9'; p++) {
        if (v > cap)
            big = 1;
        else
            v = v * 10 + (*p - '0');
    }
    for (size_t i = 0; i < n; i++) {
        if (strcmp(p, units[i].name) != 0)
            continue;
        if (big || v > cap / units[i].mult)
            return HOOKD_ERANGE;
        *out = v * units[i].mult;
        return 0;
    }
    return HOOKD_EINVAL;
}

int hookd_duration_parse(const char *s, int64_t *ms)
{
    static const struct unit units[] = {{"", SEC_MS},  {"ms", 1},      {"s", SEC_MS},
                                        {"m", MIN_MS}, {"h", HOUR_MS}, {"d", DAY_MS}};
    return unit_parse(s, units, sizeof(units) / sizeof(units[0]), DURATION_MAX_MS, ms);
}

/* Parses a byte count: digits, optionally followed by k, K, KiB, m, M or MiB
 * (powers of 1024). Returns HOOKD_EINVAL, or HOOKD_ERANGE past 1 TiB. */
static int bytes_parse(const char *s, int64_t *out)
{
    static const struct unit units[] = {{"", 1},    {"k", KIB}, {"K", KIB},  {"KiB", KIB},
                                        {"m", MIB}, {"M", MIB}, {"MiB", MIB}};
    return unit_parse(s, units, sizeof(units) / sizeof(units[0]), INT64_C(1) << 40, out);
}

/* Parses a plain decimal number ("3", "1.5"): no sign, no exponent, no hex,
 * no inf or nan, no surrounding space. */
static int double_parse(const char *s, double *out)
{
    if (!s || *s < '0' || *s > '9')
        return HOOKD_EINVAL;
    for (const char *p = s; *p; p++)
        if ((*p < '0' || *p > '9') && *p != '.')
            return HOOKD_EINVAL;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (*end != '\0' || errno == ERANGE || !isfinite(v))
        return HOOKD_EINVAL;
    *out = v;
    return 0;
}

/* ---- checks of string options ---- */

/* Validates a Redis URL; the parser's "redis URL: " lead-in is dropped, as
 * the caller names the option. */
static int check_redis_url(const char *v, char *why)
{
    static const char lead[] = "redis URL: ";
    struct hookd_redis_addr addr;
    int rc = hookd_redis_url_parse(v, &addr, why);
    if (rc != 0 && strncmp(why, lead, sizeof(lead) - 1) == 0)
        memmove(why, why + sizeof(lead) - 1, strlen(why + sizeof(lead) - 1) + 1);
    memset(&addr, 0, sizeof(addr));
    return rc;
}

/* One namespace name, [v, v+n). */
static int check_one_prefix(const char *v, size_t n, char *why)
{
    if (n < 1 || n > PREFIX_MAX)
        return hookd_fail(why, HOOKD_EINVAL, "each name must be 1 to %d bytes long", PREFIX_MAX);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)v[i];
        if (!isalnum(c) && !strchr("_.:-", c))
            return hookd_fail(why, HOOKD_EINVAL, "may only hold A-Z a-z 0-9 _ . : - characters");
    }
    return 0;
}

/* A name, or a comma list of distinct names. */
static int check_prefix(const char *v, char *why)
{
    int count = 0;
    for (const char *p = v;; count++) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        int rc = check_one_prefix(p, n, why);
        if (rc)
            return rc;
        for (const char *q = v; q < p; q += strcspn(q, ",") + 1)
            if (strcspn(q, ",") == n && memcmp(q, p, n) == 0)
                return hookd_fail(why, HOOKD_EINVAL, "names \"%.*s\" twice", (int)n, p);
        if (count + 1 > HOOKD_NAMESPACES_MAX)
            return hookd_fail(why, HOOKD_EINVAL, "names more than %d namespaces",
                              HOOKD_NAMESPACES_MAX);
        if (!comma)
            break;
        p = comma + 1;
    }
    return 0;
}

/* 1 when [s, s+n) is a non-empty host name of letters, digits, '.', '-', '_'. */
static int is_hostname(const char *s, size_t n)
{
    if (n == 0 || n > 253)
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!isalnum(c) && c != '.' && c != '-' && c != '_')
            return 0;
    }
    return 1;
}

/* Parses "[v6]:port" or "host:port" into host (without brackets) and port.
 * Returns 0 or HOOKD_EINVAL with the reason in why, phrased to follow the
 * value. */
static int hostport_parse(const char *v, char *host, size_t hostlen, int *port, char *why)
{
    const char *colon;
    size_t n = strlen(v);
    if (n > METRICS_ADDR_MAX)
        return hookd_fail(why, HOOKD_EINVAL, "is longer than %d bytes", METRICS_ADDR_MAX);
    if (v[0] == '[') {
        const char *close = strchr(v, ']');
        if (!close || close[1] != ':')
            return hookd_fail(why, HOOKD_EINVAL, "is not [IPV6]:PORT");
        size_t hn = (size_t)(close - v - 1);
        struct in6_addr a6;
        if (hn >= hostlen)
            return hookd_fail(why, HOOKD_EINVAL, "has a host that is too long");
        memcpy(host, v + 1, hn);
        host[hn] = '\0';
        if (inet_pton(AF_INET6, host, &a6) != 1)
            return hookd_fail(why, HOOKD_EINVAL, "has no valid IPv6 address in brackets");
        colon = close + 1;
    } else {
        colon = strrchr(v, ':');
        if (!colon)
            return hookd_fail(why, HOOKD_EINVAL, "is not HOST:PORT (like 127.0.0.1:9464)");
        size_t hn = (size_t)(colon - v);
        if (memchr(v, ':', hn))
            return hookd_fail(why, HOOKD_EINVAL,
                              "is not HOST:PORT; put an IPv6 address in brackets ([::1]:9464)");
        if (!is_hostname(v, hn) || hn >= hostlen)
            return hookd_fail(why, HOOKD_EINVAL, "is not HOST:PORT (like 127.0.0.1:9464)");
        memcpy(host, v, hn);
        host[hn] = '\0';
    }
    int64_t p;
    if (hookd_parse_i64(colon + 1, 1, 65535, &p) != 0)
        return hookd_fail(why, HOOKD_EINVAL, "has no port from 1 to 65535");
    *port = (int)p;
    return 0;
}

static int check_metrics_addr(const char *v, char *why)
{
    char host[256];
    int port;
    if (!*v)
        return 0;
    return hostport_parse(v, host, sizeof(host), &port, why);
}

/* A bearer token: printable ASCII without spaces (RFC 6750's b64token and
 * more), so that it survives a header unchanged. */
static int check_api_token(const char *v, char *why)
{
    size_t n = strlen(v);
    if (n == 0)
        return 0;
    if (n < API_TOKEN_MIN || n > API_TOKEN_MAX)
        return hookd_fail(why, HOOKD_EINVAL, "must be %d to %d bytes long (it is %zu)",
                          API_TOKEN_MIN, API_TOKEN_MAX, n);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)v[i] <= 0x20 || (unsigned char)v[i] >= 0x7f)
            return hookd_fail(why, HOOKD_EINVAL,
                              "may only hold printable ASCII, no spaces (byte %zu is not)", i + 1);
    return 0;
}

static int set_log_level(struct hookd_config *cfg, const char *v)
{
    return hookd_log_level_parse(v, &cfg->log_level);
}

static int set_log_format(struct hookd_config *cfg, const char *v)
{
    return hookd_log_format_parse(v, &cfg->log_format);
}

/* ---- applying one option ---- */

/* Sets option o from text v. label ("--threads" or "HOOKD_THREADS") starts
 * the one-line error. The field is left unchanged on failure. */
static int opt_apply(struct hookd_config *cfg, const struct opt *o, const char *label,
                     const char *v, char *errbuf)
{
    char shown[SHOWN_VALUE_MAX + 8], bounds[64], why[HOOKD_ERRLEN];
    int rc;
    shown_value(v, shown, sizeof(shown));
    fmt_bounds(o, " and ", bounds, sizeof(bounds));

    switch (o->kind) {
    case OPT_STRING: {
        char line[API_TOKEN_MAX + 8];
        size_t vn = strlen(v);
        if ((o->flags & OPT_LINE) && vn > 0 && v[vn - 1] == '\n' && vn < sizeof(line)) {
            vn -= vn > 1 && v[vn - 2] == '\r' ? 2 : 1;
            memcpy(line, v, vn);
            line[vn] = '\0';
            v = line;
        }
        if (o->check && (rc = o->check(v, why)) != 0) {
            if (o->flags & OPT_SECRET)
                return hookd_fail(errbuf, rc, "%s: %s", label, why);
            return hookd_fail(errbuf, rc, "%s: '%s' %s", label, shown, why);
        }
        char *copy = NULL;
        if (*v || !(o->flags & OPT_EMPTY_NULL)) {
            copy = strdup(v);
            if (!copy)
                return hookd_fail(errbuf, HOOKD_ENOMEM, "%s: out of memory", label);
        }
        if (v == line)
            explicit_bzero(line, sizeof(line));
        char **field = FIELD(cfg, o->off, char *);
        if (*field && (o->flags & OPT_SECRET))
            explicit_bzero(*field, strlen(*field));
        free(*field);
        *field = copy;
        return 0;
    }
    case OPT_INT: {
        int64_t n;
        if (hookd_parse_i64(v, o->min, o->max, &n) != 0)
            return hookd_fail(errbuf, HOOKD_EINVAL,
                              "%s: '%s' is not a whole number between %lld and %lld", label, shown,
                              (long long)o->min, (long long)o->max);
        *FIELD(cfg, o->off, int) = (int)n;
        return 0;
    }
    case OPT_DURATION: {
        int64_t ms;
        rc = hookd_duration_parse(v, &ms);
        if (rc == HOOKD_EINVAL)
            return hookd_fail(errbuf, rc, "%s: '%s' is not a duration (like 500ms, 10s, 5m, 12h)",
                              label, shown);
        if (rc != 0 || ms < o->min || ms > o->max)
            return hookd_fail(errbuf, HOOKD_ERANGE, "%s: '%s' is not between %s", label, shown,
                              bounds);
        *FIELD(cfg, o->off, int64_t) = ms;
        return 0;
    }
    case OPT_BYTES: {
        int64_t n;
        rc = bytes_parse(v, &n);
        if (rc == HOOKD_EINVAL)
            return hookd_fail(errbuf, rc, "%s: '%s' is not a size (like 65536, 512KiB, 1MiB)",
                              label, shown);
        if (rc != 0 || n < o->min || n > o->max)
            return hookd_fail(errbuf, HOOKD_ERANGE, "%s: '%s' is not between %s", label, shown,
                              bounds);
        *FIELD(cfg, o->off, int64_t) = n;
        return 0;
    }
    case OPT_DOUBLE: {
        double d;
        if (double_parse(v, &d) != 0 || d < (double)o->min || d > (double)o->max)
            return hookd_fail(errbuf, HOOKD_EINVAL, "%s: '%s' is not a number between %s", label,
                              shown, bounds);
        *FIELD(cfg, o->off, double) = d;
        return 0;
    }
    case OPT_NETLIST: {
        struct hookd_netlist nl;
        rc = hookd_netlist_parse(v, &nl, why);
        if (rc != 0)
            return hookd_fail(errbuf, rc, "%s: %s", label, why);
        char *copy = strdup(v);
        if (!copy)
            return hookd_fail(errbuf, HOOKD_ENOMEM, "%s: out of memory", label);
        *FIELD(cfg, o->off, struct hookd_netlist) = nl;
        char **text = FIELD(cfg, o->off_text, char *);
        free(*text);
        *text = copy;
        return 0;
    }
    case OPT_ENUM:
        if (o->set_enum(cfg, v) != 0)
            return hookd_fail(errbuf, HOOKD_EINVAL, "%s: '%s' is not one of %s", label, shown,
                              o->choices);
        return 0;
    case OPT_FILE: {
        if (strlen(v) > PATH_TEXT_MAX)
            return hookd_fail(errbuf, HOOKD_EINVAL, "%s: '%s' is longer than %d bytes", label,
                              shown, PATH_TEXT_MAX);
        char *copy = NULL;
        if (*v && !(copy = strdup(v)))
            return hookd_fail(errbuf, HOOKD_ENOMEM, "%s: out of memory", label);
        char **field = FIELD(cfg, o->off, char *);
        free(*field);
        *field = copy;
        return 0;
    }
    }
    return hookd_fail(errbuf, HOOKD_EINVAL, "%s: unknown option kind", label);
}

static const struct opt *opt_find(const char *name, size_t len)
{
    for (size_t i = 0; i < NOPTS; i++)
        if (strlen(opts[i].name) == len && memcmp(opts[i].name, name, len) == 0)
            return &opts[i];
    return NULL;
}

/* ---- public API ---- */

/* Frees cfg->namespaces. */
static void namespaces_free(struct hookd_config *cfg)
{
    for (int i = 0; i < cfg->nnamespaces; i++)
        free(cfg->namespaces[i]);
    free(cfg->namespaces);
    cfg->namespaces = NULL;
    cfg->nnamespaces = 0;
}

int hookd_config_count_namespaces(const struct hookd_config *cfg)
{
    return cfg->nnamespaces > 1 ? cfg->nnamespaces : 1;
}

void hookd_config_namespace(const struct hookd_config *cfg, int i, struct hookd_config *out)
{
    *out = *cfg;
    if (cfg->nnamespaces > 1)
        out->prefix = cfg->namespaces[i];
    out->namespaces = NULL;
    out->nnamespaces = 0;
}

int hookd_config_namespace_of(const struct hookd_config *cfg, const char *workspace)
{
    int n = hookd_config_count_namespaces(cfg);
    unsigned char d[SHA256_DIGEST_LENGTH];
    if (n == 1 || !workspace || !workspace[0])
        return 0;
    SHA256((const unsigned char *)workspace, strlen(workspace), d);
    uint32_t h = (uint32_t)d[0] << 24 | (uint32_t)d[1] << 16 | (uint32_t)d[2] << 8 | d[3];
    return (int)(h % (uint32_t)n);
}

int hookd_config_init(struct hookd_config *cfg)
{
    char errbuf[HOOKD_ERRLEN];
    memset(cfg, 0, sizeof(*cfg));
    for (size_t i = 0; i < NOPTS; i++) {
        char text[64];
        const char *def = opts[i].def;
        if (!def) {
            opts[i].def_fn(text, sizeof(text));
            def = text;
        }
        int rc = opt_apply(cfg, &opts[i], opts[i].name, def, errbuf);
        if (rc != 0) {
            hookd_config_free(cfg);
            return rc;
        }
    }
    return 0;
}

void hookd_config_free(struct hookd_config *cfg)
{
    if (!cfg)
        return;
    namespaces_free(cfg);
    for (size_t i = 0; i < NOPTS; i++) {
        if (opts[i].kind == OPT_STRING || opts[i].kind == OPT_FILE) {
            char **field = FIELD(cfg, opts[i].off, char *);
            free(*field);
            *field = NULL;
        } else if (opts[i].kind == OPT_NETLIST) {
            char **text = FIELD(cfg, opts[i].off_text, char *);
            free(*text);
            *text = NULL;
        }
    }
}

int hookd_config_set(struct hookd_config *cfg, const char *name, const char *value, char *errbuf)
{
    const struct opt *o = opt_find(name, strlen(name));
    char label[80];
    if (!o)
        return hookd_fail(errbuf, HOOKD_ENOTFOUND, "unknown option '%.64s'", name);
    snprintf(label, sizeof(label), "--%s", o->name);
    return opt_apply(cfg, o, label, value, errbuf);
}

/* Applies the HOOKD_* entries of envp that name an option; others are
 * ignored. An empty value counts as unset. Marks seen[i] for each option i
 * set. */
static int load_env(struct hookd_config *cfg, char **envp, unsigned char *seen, char *errbuf)
{
    for (; envp && *envp; envp++) {
        const char *e = *envp;
        const char *eq = strchr(e, '=');
        if (strncmp(e, "HOOKD_", 6) != 0 || !eq || eq[1] == '\0')
            continue;
        size_t n = (size_t)(eq - e);
        for (size_t i = 0; i < NOPTS; i++) {
            if (strlen(opts[i].env) != n || memcmp(opts[i].env, e, n) != 0)
                continue;
            int rc = opt_apply(cfg, &opts[i], opts[i].env, eq + 1, errbuf);
            if (rc != 0)
                return rc;
            seen[i] = 1;
            break;
        }
    }
    return 0;
}

/* Reads the file at path into buf (cap bytes, more than FILE_VALUE_MAX) as a
 * C string without one trailing "\n" or "\r\n". who ("--redis-url-file:
 * '/run/url'") starts the error and what (the option the content is for) is
 * named when it is empty; the error never holds the content. */
static int file_value_read(const char *who, const char *what, const char *path, char *buf,
                           size_t cap, char *errbuf)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return hookd_fail(errbuf, HOOKD_EIO, "%s cannot be opened: %s", who, strerror(errno));
    size_t n = 0;
    while (n < cap - 1) {
        ssize_t k = read(fd, buf + n, cap - 1 - n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0) {
            int e = errno;
            close(fd);
            return hookd_fail(errbuf, HOOKD_EIO, "%s cannot be read: %s", who, strerror(e));
        }
        if (k == 0)
            break;
        n += (size_t)k;
    }
    close(fd);
    buf[n] = '\0';
    if (n > FILE_VALUE_MAX)
        return hookd_fail(errbuf, HOOKD_ETOOBIG, "%s is larger than %d bytes", who, FILE_VALUE_MAX);
    if (memchr(buf, '\0', n))
        return hookd_fail(errbuf, HOOKD_EINVAL, "%s holds a NUL byte", who);
    if (n > 0 && buf[n - 1] == '\n') {
        buf[--n] = '\0';
        if (n > 0 && buf[n - 1] == '\r')
            buf[--n] = '\0';
    }
    if (n == 0)
        return hookd_fail(errbuf, HOOKD_EINVAL, "%s is empty; it should hold the %s value", who,
                          what);
    return 0;
}

/* Where an option's value came from, in increasing precedence. */
enum opt_layer { LAYER_DEFAULT = 0, LAYER_ENV = 1, LAYER_FLAG = 2 };

/* Settles each OPT_FILE option set in this load against the option it
 * stands for, which together count as one option: the higher layer wins (a
 * file that loses is not read), and both in the same layer is an error.
 * When the file wins, its content is applied as that option's value. */
static int load_files(struct hookd_config *cfg, const unsigned char *env_seen,
                      const unsigned char *flag_seen, char *errbuf)
{
    for (size_t i = 0; i < NOPTS; i++) {
        const struct opt *f = &opts[i];
        if (f->kind != OPT_FILE || !(env_seen[i] || flag_seen[i]))
            continue;
        const struct opt *t = opt_find(f->file_of, strlen(f->file_of));
        size_t ti = (size_t)(t - opts);
        enum opt_layer fl = flag_seen[i] ? LAYER_FLAG : LAYER_ENV;
        enum opt_layer tl = flag_seen[ti] ? LAYER_FLAG : env_seen[ti] ? LAYER_ENV : LAYER_DEFAULT;
        char **path = FIELD(cfg, f->off, char *);
        if (!*path)
            continue; /* an empty flag turned it off */
        if (fl == tl)
            return fl == LAYER_FLAG
                       ? hookd_fail(errbuf, HOOKD_EINVAL, "--%s and --%s are both given; give one",
                                    t->name, f->name)
                       : hookd_fail(errbuf, HOOKD_EINVAL, "%s and %s are both set; set one", t->env,
                                    f->env);
        if (tl > fl) {
            free(*path);
            *path = NULL;
            continue;
        }

        char shown[SHOWN_VALUE_MAX + 8], who[160], text[FILE_VALUE_MAX + 2], why[HOOKD_ERRLEN];
        shown_value(*path, shown, sizeof(shown));
        snprintf(who, sizeof(who), "%s%s: '%s'", fl == LAYER_FLAG ? "--" : "",
                 fl == LAYER_FLAG ? f->name : f->env, shown);
        int rc = file_value_read(who, t->name, *path, text, sizeof(text), errbuf);
        if (rc == 0 && t->check && (rc = t->check(text, why)) != 0)
            hookd_fail(errbuf, rc, "%s holds no valid %s value: %s", who, t->name, why);
        if (rc == 0)
            rc = opt_apply(cfg, t, who, text, errbuf);
        explicit_bzero(text, sizeof(text));
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* Makes cfg->namespaces from --prefix and --shards; with one namespace,
 * cfg->prefix is it. */
static int namespaces_make(struct hookd_config *cfg, char *errbuf)
{
    int list = strchr(cfg->prefix, ',') != NULL;
    int n = cfg->shards ? cfg->shards : 1;
    if (list && cfg->shards)
        return hookd_fail(errbuf, HOOKD_EINVAL,
                          "shards makes PREFIX:0 ... PREFIX:N-1 of one prefix, but prefix is a "
                          "list (%.80s): give one or the other",
                          cfg->prefix);
    if (list)
        for (const char *p = cfg->prefix; (p = strchr(p, ',')) != NULL; p++)
            n++;
    if (!cfg->shards && !list)
        return 0;
    if (cfg->shards && strlen(cfg->prefix) + 5 > PREFIX_MAX)
        return hookd_fail(errbuf, HOOKD_EINVAL, "prefix: with shards, at most %d bytes",
                          PREFIX_MAX - 5);
    char **ns = calloc((size_t)n, sizeof(*ns));
    if (!ns)
        return hookd_fail(errbuf, HOOKD_ENOMEM, "out of memory");
    const char *p = cfg->prefix;
    for (int i = 0; i < n; i++) {
        char name[PREFIX_MAX + 1];
        if (cfg->shards) {
            snprintf(name, sizeof(name), "%s:%d", cfg->prefix, i);
        } else {
            size_t k = strcspn(p, ",");
            memcpy(name, p, k);
            name[k] = '\0';
            p += k + 1;
        }
        if (!(ns[i] = strdup(name))) {
            for (int j = 0; j < i; j++)
                free(ns[j]);
            free(ns);
            return hookd_fail(errbuf, HOOKD_ENOMEM, "out of memory");
        }
    }
    namespaces_free(cfg);
    cfg->namespaces = ns;
    cfg->nnamespaces = n;
    if (n == 1) {
        free(cfg->prefix);
        cfg->prefix = strdup(ns[0]);
        if (!cfg->prefix)
            return hookd_fail(errbuf, HOOKD_ENOMEM, "out of memory");
    }
    return 0;
}

int hookd_config_load(struct hookd_config *cfg, int *argc, char **argv, char **envp, char *errbuf)
{
    unsigned char env_seen[NOPTS] = {0}, flag_seen[NOPTS] = {0};
    int rc = load_env(cfg, envp, env_seen, errbuf);
    if (rc != 0)
        return rc;

    int in = 1, out = 1, n = argv ? *argc : 0;
    while (in < n) {
        const char *w = argv[in];
        if (strcmp(w, "--") == 0) {
            while (in < n)
                argv[out++] = argv[in++];
            break;
        }
        const struct opt *o = NULL;
        const char *eq = NULL;
        if (strncmp(w, "--", 2) == 0) {
            eq = strchr(w + 2, '=');
            o = opt_find(w + 2, eq ? (size_t)(eq - w - 2) : strlen(w + 2));
        }
        if (!o) {
            argv[out++] = argv[in++];
            continue;
        }
        if (o->flags & OPT_ENV_ONLY)
            return hookd_fail(errbuf, HOOKD_EINVAL,
                              "--%s is not a flag, so that it does not show in ps: set %s, or "
                              "give a file",
                              o->name, o->env);
        char label[80];
        snprintf(label, sizeof(label), "--%s", o->name);
        const char *value;
        if (eq) {
            value = eq + 1;
            in++;
        } else {
            if (in + 1 >= n || strncmp(argv[in + 1], "--", 2) == 0)
                return hookd_fail(errbuf, HOOKD_EINVAL, "%s needs a value", label);
            value = argv[in + 1];
            in += 2;
        }
        rc = opt_apply(cfg, o, label, value, errbuf);
        if (rc != 0)
            return rc;
        flag_seen[o - opts] = 1;
        cfg->from_flag |= (uint64_t)1 << (o - opts);
    }
    if (n >= 1) {
        *argc = out;
        argv[out] = NULL;
    }
    if ((rc = load_files(cfg, env_seen, flag_seen, errbuf)) != 0)
        return rc;
    return namespaces_make(cfg, errbuf);
}

_Static_assert(NOPTS <= 64, "from_flag has a bit per option");

int hookd_config_from_flag(const struct hookd_config *cfg, const char *name)
{
    const struct opt *o = opt_find(name, strlen(name));
    return o && (cfg->from_flag >> (o - opts) & 1);
}

int hookd_config_check(const struct hookd_config *cfg, char *errbuf)
{
    char a[32], b[32];
    if (!cfg->ops_url != !cfg->ops_secret)
        return hookd_fail(errbuf, HOOKD_EINVAL,
                          cfg->ops_url
                              ? "ops-url needs ops-secret (or ops-secret-file) to sign with"
                              : "ops-secret is set, but no ops-url to send to");
    if (cfg->ops_url) {
        struct hookd_webhook w;
        char why[HOOKD_ERRLEN];
        int rc = hookd_webhook_ops(&w, cfg->ops_url, cfg->ops_secret, why);
        hookd_webhook_clear(&w);
        if (rc)
            return hookd_fail(errbuf, HOOKD_EINVAL, "ops-url: %s", why);
    }
    if (cfg->api_addr && !cfg->api_token && !hookd_net_addr_loopback(cfg->api_addr))
        return hookd_fail(errbuf, HOOKD_EINVAL,
                          "api-addr %s is not a loopback address and no API token is set: set "
                          "HOOKD_API_TOKEN or api-token-file, or listen on 127.0.0.1",
                          cfg->api_addr);
    struct hookd_redis_addr addr;
    int rc = hookd_redis_url_parse(cfg->redis_url, &addr, errbuf);
    if (rc == 0)
        rc = hookd_redis_tls_check(cfg, &addr, errbuf);
    explicit_bzero(addr.password, sizeof(addr.password));
    if (rc)
        return rc;
    if (cfg->lease_ms <= cfg->timeout_ms) {
        fmt_duration(cfg->lease_ms, a, sizeof(a));
        fmt_duration(cfg->timeout_ms, b, sizeof(b));
        return hookd_fail(errbuf, HOOKD_EINVAL,
                          "lease (%s) must be longer than timeout (%s), the longest attempt", a, b);
    }
    if (cfg->connect_timeout_ms > cfg->timeout_ms) {
        fmt_duration(cfg->connect_timeout_ms, a, sizeof(a));
        fmt_duration(cfg->timeout_ms, b, sizeof(b));
        return hookd_fail(errbuf, HOOKD_EINVAL,
                          "connect-timeout (%s) must not be longer than timeout (%s), "
                          "which includes connecting",
                          a, b);
    }
    if (cfg->retry_base_ms > cfg->retry_max_delay_ms) {
        fmt_duration(cfg->retry_base_ms, a, sizeof(a));
        fmt_duration(cfg->retry_max_delay_ms, b, sizeof(b));
        return hookd_fail(errbuf, HOOKD_EINVAL,
                          "retry-base (%s) must not be longer than retry-max-delay (%s)", a, b);
    }
    return 0;
}

/* The default as documented: def_doc, else the default text. */
static const char *opt_default_doc(const struct opt *o)
{
    return o->def_doc ? o->def_doc : o->def;
}

/* Prints text word-wrapped to 79 columns, each line indented. */
static void usage_wrap(FILE *out, const char *text, int indent)
{
    const int width = 79 - indent;
    while (*text) {
        int n = (int)strlen(text);
        if (n > width) {
            n = width;
            while (n > 0 && text[n] != ' ')
                n--;
            if (n == 0)
                n = (int)strcspn(text, " ");
        }
        fprintf(out, "%*s%.*s\n", indent, "", n, text);
        text += n;
        while (*text == ' ')
            text++;
    }
}

void hookd_config_usage(FILE *out)
{
    fprintf(out, "Options (each may also be set by the environment variable shown; "
                 "a flag wins):\n");
    for (size_t i = 0; i < NOPTS; i++) {
        const struct opt *o = &opts[i];
        char help[512], bounds[64];
        fmt_bounds(o, " to ", bounds, sizeof(bounds));
        snprintf(help, sizeof(help), "%s%s%s%s", o->help, bounds[0] ? " (" : "", bounds,
                 bounds[0] ? ")" : "");
        if (o->flags & OPT_ENV_ONLY)
            fprintf(out, "  %s (environment only)\n", o->env);
        else
            fprintf(out, "  --%s %s\n", o->name, o->arg);
        usage_wrap(out, help, 6);
        fprintf(out, "      %s, default: %s\n", o->env, opt_default_doc(o));
    }
}

/* Writes s for a Markdown table cell: '|' escaped. */
static void md_cell(FILE *out, const char *s)
{
    for (; *s; s++) {
        if (*s == '|')
            fputc('\\', out);
        fputc(*s, out);
    }
}

void hookd_config_markdown(FILE *out)
{
    fprintf(out, "| option | variable | default | meaning |\n");
    fprintf(out, "|---|---|---|---|\n");
    for (size_t i = 0; i < NOPTS; i++) {
        const struct opt *o = &opts[i];
        char bounds[64];
        fmt_bounds(o, " to ", bounds, sizeof(bounds));
        if (o->flags & OPT_ENV_ONLY)
            fprintf(out, "| (environment only) | `%s` | ", o->env);
        else
            fprintf(out, "| `--%s %s` | `%s` | ", o->name, o->arg, o->env);
        if (o->def_doc)
            md_cell(out, o->def_doc);
        else {
            fputc('`', out);
            md_cell(out, o->def);
            fputc('`', out);
        }
        fputs(" | ", out);
        md_cell(out, o->help);
        if (bounds[0])
            fprintf(out, " (%s)", bounds);
        fputs(" |\n", out);
    }
}

/* ---- Redis URLs ---- */

/* Percent-decodes [s, s+n) into out (outlen bytes, NUL-terminated). Returns 0,
 * HOOKD_EINVAL for a bad or NUL escape, HOOKD_ETOOBIG when it does not fit. */
static int pct_decode(const char *s, size_t n, char *out, size_t outlen)
{
    size_t j = 0;
    for (size_t i = 0; i < n; i++) {
        int c = (unsigned char)s[i];
        if (c == '%') {
            if (i + 2 >= n)
                return HOOKD_EINVAL;
            int h = hookd_hexval((unsigned char)s[i + 1]),
                l = hookd_hexval((unsigned char)s[i + 2]);
            if (h < 0 || l < 0 || (h == 0 && l == 0))
                return HOOKD_EINVAL;
            c = h * 16 + l;
            i += 2;
        }
        if (j + 1 >= outlen)
            return HOOKD_ETOOBIG;
        out[j++] = (char)c;
    }
    out[j] = '\0';
    return 0;
}

/* Parses userinfo "[[user]:pass]" of [s, at) into out. */
static int redis_userinfo_parse(const char *s, const char *at, struct hookd_redis_addr *out,
                                char *errbuf)
{
    const char *colon = memchr(s, ':', (size_t)(at - s));
    const char *pass = s;
    if (colon) {
        int rc = pct_decode(s, (size_t)(colon - s), out->user, sizeof(out->user));
        if (rc == HOOKD_ETOOBIG)
            return hookd_fail(errbuf, rc, "redis URL: user longer than %zu bytes",
                              sizeof(out->user) - 1);
        if (rc)
            return hookd_fail(errbuf, rc, "redis URL: bad %%-escape in user");
        pass = colon + 1;
    }
    int rc = pct_decode(pass, (size_t)(at - pass), out->password, sizeof(out->password));
    if (rc == HOOKD_ETOOBIG)
        return hookd_fail(errbuf, rc, "redis URL: password longer than %zu bytes",
                          sizeof(out->password) - 1);
    if (rc)
        return hookd_fail(errbuf, rc, "redis URL: bad %%-escape in password");
    if (!out->password[0])
        return hookd_fail(errbuf, HOOKD_EINVAL, "redis URL: empty password before '@'");
    return 0;
}

/* Parses "host[:port]" or "[v6][:port]" of [host, end) into node, the port
 * defaulting to def_port. */
static int redis_node_parse(const char *host, const char *end, int def_port,
                            struct hookd_redis_node *node, char *errbuf)
{
    const char *portp = NULL;
    size_t hlen;
    if (*host == '[') {
        const char *close = memchr(host, ']', (size_t)(end - host));
        if (!close)
            return hookd_fail(errbuf, HOOKD_EINVAL, "redis URL: '[' without ']' in host");
        hlen = (size_t)(close - host - 1);
        if (hlen >= sizeof(node->host))
            return hookd_fail(errbuf, HOOKD_ETOOBIG, "redis URL: host too long");
        memcpy(node->host, host + 1, hlen);
        node->host[hlen] = '\0';
        struct in6_addr a6;
        if (inet_pton(AF_INET6, node->host, &a6) != 1)
            return hookd_fail(errbuf, HOOKD_EINVAL, "redis URL: no valid IPv6 address in brackets");
        if (close + 1 < end) {
            if (close[1] != ':')
                return hookd_fail(errbuf, HOOKD_EINVAL, "redis URL: junk after ']'");
            portp = close + 2;
        }
    } else {
        portp = memchr(host, ':', (size_t)(end - host));
        hlen = (size_t)((portp ? portp : end) - host);
        if (portp)
            portp++;
        if (hlen == 0)
            return hookd_fail(errbuf, HOOKD_EINVAL, "redis URL: no host");
        if (hlen >= sizeof(node->host))
            return hookd_fail(errbuf, HOOKD_ETOOBIG, "redis URL: host longer than %zu bytes",
                              sizeof(node->host) - 1);
        if (!is_hostname(host, hlen))
            return hookd_fail(errbuf, HOOKD_EINVAL,
                              "redis URL: host may only hold letters, digits, '.', '-' and '_' "
                              "(an IPv6 address goes in brackets)");
        memcpy(node->host, host, hlen);
        node->host[hlen] = '\0';
    }

    node->port = def_port;
    if (portp) {
        char port[16];
        int64_t p;
        size_t plen = (size_t)(end - portp);
        if (plen == 0 || plen >= sizeof(port))
            return hookd_fail(errbuf, HOOKD_EINVAL,
                              "redis URL: port is not a number from 1 to 65535");
        memcpy(port, portp, plen);
        port[plen] = '\0';
        /* Not echoed: "redis://user:secret" without '@host' puts a password here. */
        if (hookd_parse_i64(port, 1, 65535, &p) != 0)
            return hookd_fail(errbuf, HOOKD_EINVAL,
                              "redis URL: port is not a number from 1 to 65535");
        node->port = (int)p;
    }
    return 0;
}

/* Parses a database number: "" is 0. */
static int redis_db_parse(const char *s, struct hookd_redis_addr *out, char *errbuf)
{
    int64_t db;
    if (!*s)
        return 0;
    if (hookd_parse_i64(s, 0, 1000000, &db) != 0)
        return hookd_fail(errbuf, HOOKD_EINVAL,
                          "redis URL: the database is not a number from 0 to 1000000");
    out->db = (int)db;
    return 0;
}

/* Parses the authority and path of a redis://, redis-sentinel:// or
 * redis-cluster:// URL (after the scheme), as out->mode says:
 *   direct:   [userinfo@]host[:port][/db]
 *   sentinel: [userinfo@]host[:port][,host[:port]...]/MASTER[/db]
 *   cluster:  [userinfo@]host[:port][,host[:port]...]
 * A direct URL's node is out's host and port; the others' nodes are seeds. */
static int redis_tcp_parse(const char *s, struct hookd_redis_addr *out, char *errbuf)
{
    if (strpbrk(s, "?#"))
        return hookd_fail(errbuf, HOOKD_EINVAL,
                          "redis URL: query strings and fragments are not supported");

    /* userinfo ends at the last '@' of the whole URL (a database number or a
     * master name never holds one), so that a raw '@' or '/' in a password
     * still works and no part of a password is ever taken for a host, port
     * or database. Like redis-cli, "pass@" without ':' is a password. */
    const char *at = strrchr(s, '@');
    const char *slash = strchr(at ? at : s, '/');
    const char *host = s;
    int rc;
    if (at) {
        if ((rc = redis_userinfo_parse(s, at, out, errbuf)) != 0)
            return rc;
        host = at + 1;
    }
    const char *end = slash ? slash : host + strlen(host);
    if (out->mode == HOOKD_REDIS_DIRECT) {
        struct hookd_redis_node n;
        if ((rc = redis_node_parse(host, end, 6379, &n, errbuf)) != 0)
            return rc;
        memcpy(out->host, n.host, sizeof(out->host));
        out->port = n.port;
        return slash ? redis_db_parse(slash + 1, out, errbuf) : 0;
    }

    int def_port = out->mode == HOOKD_REDIS_SENTINEL ? 26379 : 6379;
    for (const char *p = host; p < end;) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *e = comma ? comma : end;
        if (out->nseeds == HOOKD_REDIS_SEEDS_MAX)
            return hookd_fail(errbuf, HOOKD_ETOOBIG, "redis URL: more than %d hosts",
                              HOOKD_REDIS_SEEDS_MAX);
        if ((rc = redis_node_parse(p, e, def_port, &out->seeds[out->nseeds], errbuf)) != 0)
            return rc;
        out->nseeds++;
        p = comma ? comma + 1 : end;
        if (comma && p == end)
            return hookd_fail(errbuf, HOOKD_EINVAL, "redis URL: no host after ','");
    }
    if (out->nseeds == 0)
        return hookd_fail(errbuf, HOOKD_EINVAL, "redis URL: no host");
    if (out->mode == HOOKD_REDIS_CLUSTER) {
        if (slash && slash[1])
            return hookd_fail(errbuf, HOOKD_EINVAL,
                              "redis URL: a cluster has only database 0; drop the \"/%s\"",
                              slash + 1);
        return 0;
    }
    const char *name = slash ? slash + 1 : "";
    const char *nslash = strchr(name, '/');
    size_t nlen = nslash ? (size_t)(nslash - name) : strlen(name);
    if (nlen == 0)
        return hookd_fail(errbuf, HOOKD_EINVAL,
                          "redis URL: no master name (redis-sentinel://host:26379/MASTER)");
    rc = pct_decode(name, nlen, out->master, sizeof(out->master));
    if (rc == HOOKD_ETOOBIG)
        return hookd_fail(errbuf, rc, "redis URL: master name longer than %zu bytes",
                          sizeof(out->master) - 1);
    if (rc)
        return hookd_fail(errbuf, rc, "redis URL: bad %%-escape in the master name");
    for (const char *c = out->master; *c; c++)
        if (!isgraph((unsigned char)*c))
            return hookd_fail(errbuf, HOOKD_EINVAL,
                              "redis URL: the master name holds a space or control character");
    return nslash ? redis_db_parse(nslash + 1, out, errbuf) : 0;
}

/* Parses the part of a unix:// URL after the scheme: /path[?db=N]. */
static int redis_unix_parse(const char *s, struct hookd_redis_addr *out, char *errbuf)
{
    if (*s != '/')
        return hookd_fail(errbuf, HOOKD_EINVAL,
                          "redis URL: unix socket needs an absolute path (unix:///path)");
    const char *q = strchr(s, '?');
    size_t plen = q ? (size_t)(q - s) : strlen(s);
    int rc = pct_decode(s, plen, out->path, sizeof(out->path));
    if (rc == HOOKD_ETOOBIG)
        return hookd_fail(errbuf, rc, "redis URL: socket path longer than %zu bytes",
                          sizeof(out->path) - 1);
    if (rc)
        return hookd_fail(errbuf, rc, "redis URL: bad %%-escape in socket path");
    if (strcmp(out->path, "/") == 0)
        return hookd_fail(errbuf, HOOKD_EINVAL, "redis URL: no socket path");
    if (q && strncmp(q + 1, "db=", 3) != 0)
        return hookd_fail(errbuf, HOOKD_EINVAL, "redis URL: the only query parameter is db=N");
    if (q && !q[4])
        return hookd_fail(errbuf, HOOKD_EINVAL,
                          "redis URL: the database is not a number from 0 to 1000000");
    return q ? redis_db_parse(q + 4, out, errbuf) : 0;
}

int hookd_redis_url_parse(const char *url, struct hookd_redis_addr *out, char *errbuf)
{
    memset(out, 0, sizeof(*out));
    if (!url || !*url)
        return hookd_fail(errbuf, HOOKD_EINVAL, "redis URL is empty");
    if (strlen(url) > REDIS_URL_MAX)
        return hookd_fail(errbuf, HOOKD_ETOOBIG, "redis URL is longer than %d bytes",
                          REDIS_URL_MAX);
    for (const unsigned char *p = (const unsigned char *)url; *p; p++)
        if (*p <= 0x20 || *p == 0x7f)
            return hookd_fail(errbuf, HOOKD_EINVAL, "redis URL holds a space or control character");
    /* Rows: scheme, mode, TLS. */
    static const struct {
        const char *scheme;
        enum hookd_redis_mode mode;
        int tls;
    } SCHEMES[] = {
        {"redis://", HOOKD_REDIS_DIRECT, 0},
        {"rediss://", HOOKD_REDIS_DIRECT, 1},
        {"redis-sentinel://", HOOKD_REDIS_SENTINEL, 0},
        {"rediss-sentinel://", HOOKD_REDIS_SENTINEL, 1},
        {"redis-cluster://", HOOKD_REDIS_CLUSTER, 0},
        {"rediss-cluster://", HOOKD_REDIS_CLUSTER, 1},
    };
    int rc = HOOKD_EINVAL;
    size_t i = 0;
    for (; i < sizeof(SCHEMES) / sizeof(SCHEMES[0]); i++)
        if (strncasecmp(url, SCHEMES[i].scheme, strlen(SCHEMES[i].scheme)) == 0)
            break;
    if (strncasecmp(url, "unix://", 7) == 0)
        rc = redis_unix_parse(url + 7, out, errbuf);
    else if (i == sizeof(SCHEMES) / sizeof(SCHEMES[0]))
        rc = hookd_fail(errbuf, HOOKD_EINVAL,
                        "redis URL must start with redis://, rediss://, redis-sentinel://, "
                        "redis-cluster:// or unix:// (like redis://127.0.0.1:6379/0)");
    else if (SCHEMES[i].tls && hookd_redis_tls_missing())
        rc = hookd_fail(errbuf, HOOKD_EINVAL, "redis URL: %s", hookd_redis_tls_missing());
    else {
        out->mode = SCHEMES[i].mode;
        out->tls = SCHEMES[i].tls;
        rc = redis_tcp_parse(url + strlen(SCHEMES[i].scheme), out, errbuf);
    }
    if (rc != 0)
        memset(out, 0, sizeof(*out)); /* no half-parsed password left behind */
    return rc;
}

/* Appends s percent-encoded: all but A-Z a-z 0-9 - . _ ~ and the bytes in
 * keep become %XX, so that the parser gives s back. */
static int pct_encode(struct hookd_buf *out, const char *s, const char *keep)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        int rc = isalnum(c) || strchr("-._~", c) || (c && strchr(keep, c))
                     ? hookd_buf_add(out, s, 1)
                     : hookd_buf_addf(out, "%%%02X", c);
        if (rc)
            return rc;
    }
    return 0;
}

int hookd_redis_url_redact(const struct hookd_redis_addr *a, struct hookd_buf *out)
{
    size_t start = out->len;
    int rc;
    if (a->path[0]) {
        if (!(rc = hookd_buf_adds(out, "unix://")) && !(rc = pct_encode(out, a->path, "/")))
            rc = hookd_buf_addf(out, "?db=%d", a->db);
    } else {
        static const char *const SCHEME[2][3] = {
            {"redis://", "redis-sentinel://", "redis-cluster://"},
            {"rediss://", "rediss-sentinel://", "rediss-cluster://"}};
        rc = hookd_buf_adds(out, SCHEME[a->tls ? 1 : 0][a->mode]);
        if (!rc && a->password[0] && !(rc = pct_encode(out, a->user, "")))
            rc = hookd_buf_adds(out, ":***@");
        if (!rc && a->mode == HOOKD_REDIS_DIRECT)
            rc = hookd_buf_addf(out, strchr(a->host, ':') ? "[%s]:%d/%d" : "%s:%d/%d", a->host,
                                a->port, a->db);
        for (int i = 0; !rc && a->mode != HOOKD_REDIS_DIRECT && i < a->nseeds; i++)
            rc = hookd_buf_addf(out, strchr(a->seeds[i].host, ':') ? "%s[%s]:%d" : "%s%s:%d",
                                i ? "," : "", a->seeds[i].host, a->seeds[i].port);
        if (!rc && a->mode == HOOKD_REDIS_SENTINEL && !(rc = hookd_buf_adds(out, "/")) &&
            !(rc = pct_encode(out, a->master, "")))
            rc = hookd_buf_addf(out, "/%d", a->db);
    }
    if (rc && out->data) {
        out->len = start;
        out->data[start] = '\0';
    }
    return rc;
}
