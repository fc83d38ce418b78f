/* admin.c - `hookd enqueue`, `stats` and `verify`.
 *
 * Queue-side administration over hiredis' synchronous API. The backlog
 * commands (`dead`, `retry`) are cli_backlog.c's. */
#include "hookd/cli.h"

#include <errno.h>
#include <hiredis/hiredis.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hookd/catalog.h"
#include "hookd/cli_kit.h"
#include "hookd/envelope.h"
#include "hookd/health.h"
#include "hookd/redis.h"
#include "hookd/schema.h"
#include "hookd/sign.h"
#include "hookd/stats.h"

#define STDIN_MAX (256u << 20) /* enqueue -: bytes read before refusing */
#define PUSH_BATCH 1000        /* envelopes per LPUSH */
#define PUSH_WINDOW 8          /* LPUSH commands in flight */
#define VERIFY_BODY_MAX (16u << 20)
#define VERIFY_SECRET_MAX 1024 /* bytes of a secret, as webhooks store them */
#define VERIFY_ID_MAX 256      /* bytes of --id, the webhook-id header */
#define SECRET_FILE_MAX 4096   /* bytes of --secret-file */
#define HOOKD_STATS_HOSTS 20   /* hosts `stats` shows, the busiest */

/* ---- enqueue ---- */

/* Pushes n envelopes (p[i], len[i]) onto {P}:events, oldest first, in
 * pipelined LPUSHes of PUSH_BATCH values. Returns 0 or 1 after printing;
 * *pushed counts what Redis acknowledged. */
static int push_all(redisContext *c, const char *key, char **p, const size_t *len, size_t n,
                    size_t *pushed)
{
    const char **argv = malloc((PUSH_BATCH + 2) * sizeof(*argv));
    size_t *lens = malloc((PUSH_BATCH + 2) * sizeof(*lens));
    size_t next = 0, inflight_vals[PUSH_WINDOW];
    int inflight = 0, code = 0;

    *pushed = 0;
    if (!argv || !lens) {
        code = hookd_cli_err(1, "out of memory");
        goto out;
    }
    argv[0] = "LPUSH";
    lens[0] = 5;
    argv[1] = key;
    lens[1] = strlen(key);
    while (next < n || inflight > 0) {
        /* Fill the window, then wait for the oldest reply. */
        while (next < n && inflight < PUSH_WINDOW) {
            size_t k = n - next < PUSH_BATCH ? n - next : PUSH_BATCH;
            for (size_t i = 0; i < k; i++) {
                argv[2 + i] = p[next + i];
                lens[2 + i] = len[next + i];
            }
            if (redisAppendCommandArgv(c, (int)k + 2, argv, lens) != REDIS_OK) {
                code = hookd_cli_err(1, "redis: %s", hookd_redis_errstr(c));
                goto out;
            }
            inflight_vals[inflight++] = k;
            next += k;
        }
        void *reply = NULL;
        if (redisGetReply(c, &reply) != REDIS_OK) {
            code =
                hookd_cli_err(1, "redis: %s (after pushing %zu)", hookd_redis_errstr(c), *pushed);
            goto out;
        }
        redisReply *r = reply;
        if (r->type == REDIS_REPLY_ERROR) {
            code = hookd_cli_err(1, "redis: %.200s (after pushing %zu)", r->str, *pushed);
            freeReplyObject(r);
            goto out;
        }
        freeReplyObject(r);
        *pushed += inflight_vals[0];
        memmove(inflight_vals, inflight_vals + 1, (size_t)(inflight - 1) * sizeof(size_t));
        inflight--;
    }
out:
    free(argv);
    free(lens);
    return code;
}

/* Reads all of f into b; 0, or 2 when it is over b's cap, 1 on a read error. */
static int read_all(FILE *f, struct hookd_buf *b, const char *what)
{
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        int rc = hookd_buf_add(b, chunk, n);
        if (rc == HOOKD_ETOOBIG)
            return hookd_cli_err(2, "%s is larger than %zu MiB", what, b->max >> 20);
        if (rc != 0)
            return hookd_cli_err(1, "out of memory");
    }
    if (ferror(f))
        return hookd_cli_err(1, "cannot read %s: %s", what, strerror(errno));
    return 0;
}

/* Looks up the webhook that `enqueue --webhook ID` names before anything is
 * pushed for it. Returns 0, after a warning on standard error when its event
 * will go to the dead list (the webhook is disabled or invalid), or 1 after
 * printing that there is no such webhook or that Redis failed. */
static int webhook_check(redisContext *c, const struct hookd_config *cfg, const char *id)
{
    char why[HOOKD_ERRLEN];
    switch (hookd_catalog_state(c, cfg, id, why)) {
    case HOOKD_CATALOG_OK:
        return 0;
    case HOOKD_CATALOG_MISSING:
        return hookd_cli_err(1, "enqueue: no webhook '%s'", id);
    case HOOKD_CATALOG_DISABLED:
        hookd_cli_err(0,
                      "enqueue: warning: webhook '%s' is disabled: its event will go to the "
                      "dead list, not to its URL",
                      id);
        return 0;
    case HOOKD_CATALOG_INVALID:
        hookd_cli_err(0,
                      "enqueue: warning: webhook '%s' is invalid (%s): its event will go to "
                      "the dead list until it is fixed",
                      id, why);
        return 0;
    default:
        return hookd_cli_err(1, "enqueue: %s", why);
    }
}

/* Connects to namespace nc's node, checks the webhook the envelopes name
 * (webhook, or NULL) and LPUSHes the n envelopes; *pushed counts them.
 * Returns 0 or the exit code after printing. */
static int push_to(const struct hookd_config *nc, char **p, const size_t *len, size_t n,
                   const char *webhook, size_t *pushed)
{
    char key[HOOKD_KEY_MAX], err[HOOKD_ERRLEN];
    int code;
    redisContext *c = hookd_redis_connect(nc, err);
    if (!c)
        return hookd_cli_err(1, "%s", err);
    if (webhook && (code = webhook_check(c, nc, webhook)) != 0) {
        redisFree(c);
        return code;
    }
    hookd_schema_key(key, nc->prefix, HOOKD_K_EVENTS);
    code = push_all(c, key, p, len, n, pushed);
    redisFree(c);
    return code;
}

/* Pushes the n envelopes, each to the namespace ns[i] names (NULL: all to
 * the one namespace), and prints {"pushed":n} (with the event id when there
 * is just one, and how many went to each namespace when there are
 * several). Returns the exit code. */
static int push_and_report(const struct hookd_config *cfg, char **p, const size_t *len,
                           const int *ns, size_t n, const char *id, const char *webhook)
{
    int count = hookd_config_count_namespaces(cfg), code = 0;
    size_t pushed = 0;
    json_t *per = count > 1 ? json_object() : NULL;
    char **sp = count > 1 ? malloc((n ? n : 1) * sizeof(*sp)) : NULL;
    size_t *sl = count > 1 ? malloc((n ? n : 1) * sizeof(*sl)) : NULL;

    if (count == 1) {
        code = push_to(cfg, p, len, n, webhook, &pushed);
    } else if (!per || !sp || !sl) {
        code = hookd_cli_err(1, "out of memory");
    }
    for (int k = 0; count > 1 && code == 0 && per && sp && sl && k < count; k++) {
        struct hookd_config nc;
        size_t m = 0, got = 0;
        for (size_t i = 0; i < n; i++)
            if (ns[i] == k) {
                sp[m] = p[i];
                sl[m++] = len[i];
            }
        if (m == 0)
            continue;
        hookd_config_namespace(cfg, k, &nc);
        code = push_to(&nc, sp, sl, m, webhook, &got);
        pushed += got;
        json_object_set_new(per, nc.prefix, json_integer((json_int_t)got));
    }
    free(sp);
    free(sl);
    if (code != 0) {
        json_decref(per);
        return code;
    }
    json_t *j = json_pack("{s:I}", "pushed", (json_int_t)pushed);
    if (j && id)
        json_object_set_new(j, "id", json_string(id));
    if (j && per)
        json_object_set_new(j, "namespaces", per);
    else
        json_decref(per);
    return hookd_cli_print_json(j);
}

/* One line of `enqueue -` as it will be pushed: the producer's bytes in the
 * input (p), or, when they had no timestamp, the stamped copy at off in the
 * buffer of stamped lines (p NULL). */
struct in_line {
    char *p;
    size_t off;
    size_t len;
    int ns; /* the namespace its workspace goes to */
};

/* enqueue -: checks every non-empty line of standard input as an envelope,
 * adds a timestamp to each line without one, then pushes them all. */
static int enqueue_stdin(const struct hookd_config *cfg)
{
    struct hookd_buf in, stamped;
    char err[HOOKD_ERRLEN];
    struct in_line *lines = NULL;
    char **ptrs = NULL;
    size_t *lens = NULL, n = 0, cap = 0, lineno = 0;
    int *nss = NULL;
    int64_t now;
    int code;

    hookd_buf_init(&in, STDIN_MAX);
    /* Bounded by the input: each line grows by one timestamp member. */
    hookd_buf_init(&stamped, SIZE_MAX / 2);
    if ((code = read_all(stdin, &in, "standard input")) != 0)
        goto out;
    now = hookd_now_ms();
    for (size_t off = 0; off < in.len;) {
        char *s = in.data + off;
        char *nl = memchr(s, '\n', in.len - off);
        size_t l = nl ? (size_t)(nl - s) : in.len - off;
        off += l + (nl ? 1 : 0);
        lineno++;
        if (l > 0 && s[l - 1] == '\r')
            l--;
        size_t blank = 0;
        while (blank < l && (s[blank] == ' ' || s[blank] == '\t'))
            blank++;
        if (blank == l)
            continue;
        struct hookd_envelope env;
        if (hookd_envelope_parse(s, l, (size_t)cfg->max_envelope, now, &env, err)) {
            code = hookd_cli_err(2, "line %zu: %s", lineno, err);
            goto out;
        }
        int has_ts = env.has_timestamp;
        int ns = hookd_config_namespace_of(cfg, env.workspace);
        hookd_envelope_free(&env);
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 1024;
            struct in_line *nlines = realloc(lines, ncap * sizeof(*lines));
            if (!nlines) {
                code = hookd_cli_err(1, "out of memory");
                goto out;
            }
            lines = nlines;
            cap = ncap;
        }
        struct in_line *li = &lines[n++];
        *li = (struct in_line){.p = s, .len = l, .ns = ns};
        if (has_ts)
            continue;
        *li = (struct in_line){.p = NULL, .off = stamped.len, .ns = ns};
        if (hookd_envelope_stamp(s, l, now, &stamped, err) != 0) {
            code = hookd_cli_err(1, "line %zu: %s", lineno, err);
            goto out;
        }
        li->len = stamped.len - li->off;
        if (li->len > (size_t)cfg->max_envelope) {
            code = hookd_cli_err(2,
                                 "line %zu: envelope is %zu bytes with the timestamp added, over "
                                 "the %lld-byte limit",
                                 lineno, li->len, (long long)cfg->max_envelope);
            goto out;
        }
    }
    /* The stamped copies are all written: their addresses hold from here. */
    ptrs = malloc((n ? n : 1) * sizeof(*ptrs));
    lens = malloc((n ? n : 1) * sizeof(*lens));
    nss = malloc((n ? n : 1) * sizeof(*nss));
    if (!ptrs || !lens || !nss) {
        code = hookd_cli_err(1, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        ptrs[i] = lines[i].p ? lines[i].p : stamped.data + lines[i].off;
        lens[i] = lines[i].len;
        nss[i] = lines[i].ns;
    }
    code = push_and_report(cfg, ptrs, lens, nss, n, NULL, NULL);
out:
    free(nss);
    free(lines);
    free(ptrs);
    free(lens);
    hookd_buf_free(&stamped);
    hookd_buf_free(&in);
    return code;
}

const struct hookd_cli_flag hookd_cli_enqueue_flags[] = {
    {"--workspace", "W", "the tenant the event belongs to"},
    {"--webhook", "ID", "only this webhook (it must exist)"},
    {"--id", "ID", "the event's id (default: a hash of the envelope)"},
    {NULL, NULL, NULL}};

int hookd_cli_enqueue(const struct hookd_config *cfg, int argc, char **argv)
{
    struct hookd_cli_opt o[3];
    struct hookd_buf b;
    struct hookd_envelope env;
    const char *pos[2];
    char err[HOOKD_ERRLEN];
    int npos, code;
    size_t nopts = hookd_cli_opts_from(hookd_cli_enqueue_flags, o, 3);

    if ((code = hookd_cli_parse("enqueue", argc - 1, argv + 1, o, nopts, pos, 2, &npos)) != 0)
        return code;
    if (npos == 0)
        return hookd_cli_err(2, "enqueue: expected EVENT [DATA_JSON], or - for standard input");
    if (strcmp(pos[0], "-") == 0) {
        if (npos > 1 || o[0].value || o[1].value || o[2].value)
            return hookd_cli_err(2, "enqueue -: takes no other argument");
        return enqueue_stdin(cfg);
    }
    if (o[1].value && !hookd_id_valid(o[1].value))
        return hookd_cli_err(2, "enqueue: --webhook must be 1..%d bytes of [A-Za-z0-9_.:-]",
                             HOOKD_ID_MAX);
    if (o[2].value && !hookd_id_valid(o[2].value))
        return hookd_cli_err(2, "enqueue: --id must be 1..%d bytes of [A-Za-z0-9_.:-]",
                             HOOKD_ID_MAX);
    hookd_buf_init(&b, (size_t)cfg->max_envelope + 2 * HOOKD_ID_MAX + 128);
    if (hookd_envelope_build(pos[0], npos > 1 ? pos[1] : NULL, o[0].value, hookd_now_ms(), &b,
                             err) != 0) {
        code = hookd_cli_err(2, "enqueue: %s", err);
        goto out;
    }
    /* Ids are [A-Za-z0-9_.:-], so they go in as JSON strings without
     * escaping, and the data keeps its exact bytes. */
    if (b.len > 0 && b.data[b.len - 1] == '}' && (o[1].value || o[2].value)) {
        b.len--;
        if ((o[1].value && hookd_buf_addf(&b, ",\"webhook\":\"%s\"", o[1].value) != 0) ||
            (o[2].value && hookd_buf_addf(&b, ",\"id\":\"%s\"", o[2].value) != 0) ||
            hookd_buf_add(&b, "}", 1) != 0) {
            code = hookd_cli_err(2, "enqueue: the envelope is over the max-envelope limit");
            goto out;
        }
    }
    if (hookd_envelope_parse(b.data, b.len, (size_t)cfg->max_envelope, hookd_now_ms(), &env, err) !=
        0) {
        code = hookd_cli_err(2, "enqueue: %s", err);
        goto out;
    }
    char *one = b.data;
    int ns = hookd_config_namespace_of(cfg, env.workspace);
    code = push_and_report(cfg, &one, &b.len, &ns, 1, env.id, o[1].value);
    hookd_envelope_free(&env);
out:
    hookd_buf_free(&b);
    return code;
}

/* Prints one sample as "name value" lines (counters as name_total), with
 * rates when prev is given. */
static void print_text_sample(const struct hookd_stats_sample *s,
                              const struct hookd_stats_sample *prev)
{
    for (int i = 0; i < 5; i++)
        printf("%-24s %lld\n", HOOKD_STATS_DEPTHS[i], s->depth[i]);
    if (s->oldest_age >= 0)
        printf("%-24s %.1fs\n", "oldest_event_age", s->oldest_age);
    else if (s->depth[0] > 0)
        printf("%-24s unknown (no timestamp)\n", "oldest_event_age");
    for (int i = 0; i < s->ncounters; i++) {
        char name[80];
        snprintf(name, sizeof(name), "%.60s_total", s->names[i]);
        double r = hookd_stats_rate(s, prev, i);
        if (r >= 0)
            printf("%-24s %lld  %.1f/s\n", name, s->values[i], r);
        else
            printf("%-24s %lld\n", name, s->values[i]);
    }
    printf("%-24s %lld\n", "parked", s->parked);
    if (s->nhosts)
        printf("\n%-40s %-9s %7s %8s %8s %7s %10s\n", "host", "state", "limit", "inflight",
               "queued", "ok%", "latency");
    for (size_t i = 0; i < s->nhosts && i < HOOKD_STATS_HOSTS; i++) {
        const struct hookd_host_health *h = &s->hosts[i];
        int64_t tried = h->ok + h->failed;
        char rate[16];
        if (tried)
            snprintf(rate, sizeof(rate), "%.1f", 100.0 * (double)h->ok / (double)tried);
        else
            snprintf(rate, sizeof(rate), "-");
        printf("%-40.40s %-9s %7lld %8lld %8lld %7s %8.1fms\n", h->host, h->state,
               (long long)h->limit, (long long)h->inflight, (long long)h->queued, rate,
               h->latency_ms);
    }
}

/* Prints one sample on one line, for --watch into a pipe or file. */
static void print_line_sample(const struct hookd_stats_sample *s,
                              const struct hookd_stats_sample *prev)
{
    char when[32];
    time_t t = (time_t)(s->at_ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
    printf("%s", when);
    for (int i = 0; i < 5; i++)
        printf(" %s=%lld", HOOKD_STATS_DEPTHS[i], s->depth[i]);
    printf(" parked=%lld", s->parked);
    if (s->oldest_age >= 0)
        printf(" oldest_event_age=%.1fs", s->oldest_age);
    for (int i = 0; i < s->ncounters; i++) {
        double r = hookd_stats_rate(s, prev, i);
        printf(" %.60s_total=%lld", s->names[i], s->values[i]);
        if (r >= 0)
            printf(" %.60s/s=%.1f", s->names[i], r);
    }
    printf("\n");
}

static volatile sig_atomic_t stop_watch;

static void on_stop_signal(int sig)
{
    (void)sig;
    stop_watch = 1;
}

/* Refreshes every second until SIGINT or SIGTERM; Redis failures are
 * reported and retried. */
static int stats_watch(const struct hookd_config *cfg, int json)
{
    struct hookd_stats_sample cur, prev;
    struct sigaction sa;
    char err[HOOKD_ERRLEN];
    int tty = !json && isatty(STDOUT_FILENO);
    redisContext *c = NULL;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    memset(&prev, 0, sizeof(prev));
    while (!stop_watch) {
        if (!c && !(c = hookd_redis_connect(cfg, err)))
            hookd_cli_err(1, "%s", err);
        if (c && hookd_stats_read(c, cfg, &cur, err) != 0) {
            hookd_cli_err(1, "%s", err);
            hookd_stats_free(&cur);
            redisFree(c);
            c = NULL;
        } else if (c) {
            const struct hookd_stats_sample *p = prev.at_ms ? &prev : NULL;
            if (json) {
                hookd_cli_print_json(hookd_stats_json(&cur, p));
            } else if (tty) {
                printf("\033[H\033[J"
                       "hookd stats, prefix %s, every 1s (Ctrl-C to quit)\n\n",
                       cfg->prefix);
                print_text_sample(&cur, p);
            } else {
                print_line_sample(&cur, p);
            }
            fflush(stdout);
            hookd_stats_free(&prev);
            prev = cur;
        }
        struct timespec ts = {1, 0};
        while (!stop_watch && nanosleep(&ts, &ts) != 0 && errno == EINTR)
            ;
    }
    hookd_stats_free(&prev);
    if (c)
        redisFree(c);
    return ferror(stdout) ? 1 : 0;
}

/* Prints the total of every namespace's reading as text. */
static void print_text_total(const json_t *total)
{
    for (int i = 0; i < 5; i++)
        printf("%-24s %lld\n", HOOKD_STATS_DEPTHS[i],
               (long long)json_integer_value(json_object_get(total, HOOKD_STATS_DEPTHS[i])));
    json_t *age = json_object_get(total, "oldest_event_age_seconds");
    if (json_is_number(age))
        printf("%-24s %.1fs\n", "oldest_event_age", json_number_value(age));
    const char *k;
    json_t *v;
    json_object_foreach(json_object_get(total, "counters"), k, v)
    {
        char name[80];
        snprintf(name, sizeof(name), "%.60s_total", k);
        printf("%-24s %lld\n", name, (long long)json_integer_value(v));
    }
    printf("%-24s %lld\n", "parked",
           (long long)json_integer_value(json_object_get(total, "parked")));
}

/* stats of several namespaces: each (from its own node), then the total;
 * as {"namespaces":{NAME:{...}},"total":{...}} with --json. */
static int stats_namespaces(const struct hookd_config *cfg, int json)
{
    char err[HOOKD_ERRLEN];
    int code = 0, n = hookd_config_count_namespaces(cfg);
    json_t *all = json_object(), *total = json_object();
    for (int k = 0; code == 0 && k < n && all && total; k++) {
        struct hookd_config nc;
        struct hookd_stats_sample s;
        hookd_config_namespace(cfg, k, &nc);
        redisContext *c = hookd_redis_connect(&nc, err);
        if (!c) {
            code = hookd_cli_err(1, "namespace {%s}: %s", nc.prefix, err);
            break;
        }
        if (hookd_stats_read(c, &nc, &s, err) != 0) {
            code = hookd_cli_err(1, "namespace {%s}: %s", nc.prefix, err);
        } else {
            json_t *one = hookd_stats_json(&s, NULL);
            if (!one || hookd_stats_sum(total, one) != 0)
                code = hookd_cli_err(1, "out of memory");
            if (!json && one) {
                printf("%snamespace {%s}\n", k ? "\n" : "", nc.prefix);
                print_text_sample(&s, NULL);
            }
            json_object_set_new(all, nc.prefix, one);
        }
        hookd_stats_free(&s);
        redisFree(c);
    }
    if (code == 0 && (!all || !total))
        code = hookd_cli_err(1, "out of memory");
    if (code == 0 && json) {
        json_t *j = json_object();
        json_object_set(j, "namespaces", all);
        json_object_set(j, "total", total);
        code = hookd_cli_print_json(j);
    } else if (code == 0) {
        printf("\ntotal of %d namespaces\n", n);
        print_text_total(total);
    }
    json_decref(all);
    json_decref(total);
    return code;
}

const struct hookd_cli_flag hookd_cli_stats_flags[] = {
    {"--json", NULL, "one JSON object"},
    {"--watch", NULL, "again every second until Ctrl-C, with rates"},
    {NULL, NULL, NULL}};

int hookd_cli_stats(const struct hookd_config *cfg, int argc, char **argv)
{
    struct hookd_cli_opt o[2];
    struct hookd_stats_sample s;
    const char *pos[1];
    char err[HOOKD_ERRLEN];
    int npos, code;
    size_t nopts = hookd_cli_opts_from(hookd_cli_stats_flags, o, 2);

    if ((code = hookd_cli_parse("stats", argc - 1, argv + 1, o, nopts, pos, 0, &npos)) != 0)
        return code;
    if (o[1].value && hookd_config_count_namespaces(cfg) > 1)
        return hookd_cli_err(2, "stats --watch reads one namespace; give --prefix NAME");
    if (o[1].value)
        return stats_watch(cfg, o[0].value != NULL);
    if (hookd_config_count_namespaces(cfg) > 1)
        return stats_namespaces(cfg, o[0].value != NULL);
    redisContext *c = hookd_redis_connect(cfg, err);
    if (!c)
        return hookd_cli_err(1, "%s", err);
    if (hookd_stats_read(c, cfg, &s, err) != 0)
        code = hookd_cli_err(1, "%s", err);
    else if (o[0].value)
        code = hookd_cli_print_json(hookd_stats_json(&s, NULL));
    else
        print_text_sample(&s, NULL);
    hookd_stats_free(&s);
    redisFree(c);
    return code;
}

/* ---- verify ---- */

/* Reads the body to verify from path ("-" or NULL: standard input) into
 * body. Returns 0, or 1 after printing why it cannot be read (an over-long
 * body is a failed verification, not bad usage). */
static int verify_body_read(const char *path, struct hookd_buf *body)
{
    FILE *f = stdin;
    if (path && strcmp(path, "-") != 0 && !(f = fopen(path, "rb"))) {
        char q[HOOKD_CLI_QUOTE_LEN];
        return hookd_cli_err(1, "verify: cannot open %s: %s", hookd_cli_quote(path, q),
                             strerror(errno));
    }
    int code = read_all(f, body, f != stdin ? "the body file" : "standard input");
    if (f != stdin)
        fclose(f);
    return code == 2 ? 1 : code;
}

/* Says whether the signature matched: "ok" on standard output and 0, or
 * the mismatch on standard error and 1. */
static int verify_verdict(int ok)
{
    if (!ok)
        return hookd_cli_err(1, "signature does not match");
    puts("ok");
    return 0;
}

/* Twenty: sig is hex HMAC-SHA256 of ts ":" body under the secret's bytes,
 * either case, or a space-separated list of such (X-Hookd-Webhook-Signatures
 * during a secret rotation); one match is enough. Returns the exit code
 * after printing. */
static int verify_twenty(const char *secret, size_t slen, const char *ts, const char *sig,
                         const char *path)
{
    struct hookd_signer *signer = NULL;
    struct hookd_buf body;
    char want[HOOKD_SIG_HEX_LEN + 1], got[HOOKD_SIG_HEX_LEN + 1];
    int code, ok = 0;

    hookd_buf_init(&body, VERIFY_BODY_MAX);
    if ((code = verify_body_read(path, &body)) != 0)
        goto out;
    if (hookd_signer_new(secret, slen, &signer) != 0 ||
        hookd_sign_twenty(signer, ts, body.data ? body.data : "", body.len, want) != 0) {
        code = hookd_cli_err(1, "verify: cannot compute the signature");
        goto out;
    }
    for (const char *p = sig; *p;) {
        size_t n = strcspn(p, " ");
        /* Hex digits compare case-insensitively; anything longer cannot match. */
        if (n > 0 && n <= HOOKD_SIG_HEX_LEN) {
            for (size_t i = 0; i < n; i++)
                got[i] = (p[i] >= 'A' && p[i] <= 'F') ? (char)(p[i] - 'A' + 'a') : p[i];
            got[n] = '\0';
            ok |= hookd_timingsafe_eq(want, got);
        }
        p += n;
        p += strspn(p, " ");
    }
    code = verify_verdict(ok);
out:
    hookd_signer_free(signer);
    hookd_buf_free(&body);
    explicit_bzero(want, sizeof(want));
    return code;
}

/* Standard Webhooks: sigs holds space-separated "v1,<base64>" signatures
 * of id "." ts "." body under the key that the whsec_ secret encodes; one
 * match is enough. Returns the exit code after printing. */
static int verify_standard(const char *secret, size_t slen, const char *id, const char *ts,
                           const char *sigs, const char *path)
{
    struct hookd_signer *signer = NULL;
    struct hookd_buf body;
    unsigned char key[VERIFY_SECRET_MAX];
    size_t klen;
    int code, ok = 0;

    if (hookd_sign_decode_whsec(secret, slen, key, sizeof(key), &klen) != 0)
        return hookd_cli_err(2, "verify: --signing standard needs a secret of the form "
                                "whsec_<base64 of the key>");
    size_t tlen = strspn(ts, "0123456789");
    if (tlen == 0 || tlen > 19 || ts[tlen] != '\0') {
        code = hookd_cli_err(2, "verify: --timestamp must be 1..19 decimal digits (seconds) "
                                "for --signing standard");
        goto out;
    }
    size_t ilen = strlen(id);
    if (ilen == 0 || ilen > VERIFY_ID_MAX) {
        code = hookd_cli_err(2, "verify: --id must be 1..%d bytes", VERIFY_ID_MAX);
        goto out;
    }
    hookd_buf_init(&body, VERIFY_BODY_MAX);
    if ((code = verify_body_read(path, &body)) != 0)
        goto out_body;
    if (hookd_signer_new(key, klen, &signer) != 0 ||
        hookd_sign_verify_standard(signer, id, ts, body.data ? body.data : "", body.len, sigs,
                                   &ok) != 0) {
        code = hookd_cli_err(1, "verify: cannot compute the signature");
        goto out_body;
    }
    code = verify_verdict(ok);
out_body:
    hookd_signer_free(signer);
    hookd_buf_free(&body);
out:
    explicit_bzero(key, sizeof(key));
    return code;
}

/* In the order of verify's enum. */
const struct hookd_cli_flag hookd_cli_verify_flags[] = {
    {"--secret", "S", "the webhook's secret"},
    {"--timestamp", "T", "the timestamp header as sent"},
    {"--signature", "SIG", "the signature header as sent (a space-separated list is fine)"},
    {"--signing", "S",
     "twenty (default: X-Twenty-Webhook-Signature, hex) or standard (webhook-signature, "
     "v1,<base64>, needs --id)"},
    {"--secret-file", "PATH", "read the secret from a file"},
    {"--id", "ID", "the webhook-id header (standard)"},
    {NULL, NULL, NULL}};

int hookd_cli_verify(const struct hookd_config *cfg, int argc, char **argv)
{
    enum { SECRET, TIMESTAMP, SIGNATURE, SIGNING, SECRET_FILE, ID, NOPTS };
    struct hookd_cli_opt o[NOPTS];
    hookd_cli_opts_from(hookd_cli_verify_flags, o, NOPTS);
    const char *pos[1];
    char file_secret[SECRET_FILE_MAX + 1];
    const char *secret;
    size_t slen = 0;
    int npos, code;

    (void)cfg;
    if ((code = hookd_cli_parse("verify", argc - 1, argv + 1, o, NOPTS, pos, 1, &npos)) != 0)
        return code;
    const char *signing = o[SIGNING].value ? o[SIGNING].value : "twenty";
    int standard = strcmp(signing, "standard") == 0;
    if (!standard && strcmp(signing, "twenty") != 0)
        return hookd_cli_err(2, "verify: --signing must be twenty or standard");
    if (o[SECRET].value && o[SECRET_FILE].value)
        return hookd_cli_err(2, "verify: give --secret or --secret-file, not both");
    if (!o[SECRET].value && !o[SECRET_FILE].value)
        return hookd_cli_err(2, "verify: --secret (or --secret-file) is required");
    for (int i = TIMESTAMP; i <= SIGNATURE; i++) {
        if (!o[i].value)
            return hookd_cli_err(2, "verify: %s is required", o[i].name);
    }
    if (standard && !o[ID].value)
        return hookd_cli_err(2, "verify: --signing standard needs --id (the webhook-id header)");
    if (!standard && o[ID].value)
        return hookd_cli_err(2, "verify: --id is for --signing standard only");
    if (o[SECRET].value) {
        secret = o[SECRET].value;
        slen = strlen(secret);
    } else {
        if ((code = hookd_cli_read_secret("verify", NULL, o[SECRET_FILE].value, file_secret,
                                          sizeof(file_secret))) != 0)
            goto out;
        secret = file_secret;
        slen = strlen(file_secret);
    }
    if (slen == 0 || slen > VERIFY_SECRET_MAX) {
        code = hookd_cli_err(2, "verify: %s must be 1..%d bytes",
                             o[SECRET].value ? "--secret" : "the secret in --secret-file",
                             VERIFY_SECRET_MAX);
        goto out;
    }
    size_t tlen = strlen(o[TIMESTAMP].value);
    if (tlen == 0 || tlen > 64) {
        code = hookd_cli_err(2, "verify: --timestamp must be 1..64 bytes");
        goto out;
    }
    const char *path = npos == 1 ? pos[0] : NULL;
    if (standard)
        code = verify_standard(secret, slen, o[ID].value, o[TIMESTAMP].value, o[SIGNATURE].value,
                               path);
    else
        code = verify_twenty(secret, slen, o[TIMESTAMP].value, o[SIGNATURE].value, path);
out:
    explicit_bzero(file_secret, sizeof(file_secret));
    return code;
}
