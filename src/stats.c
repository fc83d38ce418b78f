/* stats.c - one reading of the queues, the counters and the receiver hosts. */
#define _GNU_SOURCE /* strptime, timegm */
#include "hookd/stats.h"

#include <hiredis/hiredis.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hookd/redis.h"
#include "hookd/schema.h"
#include "hookd/scripts.h"

#define HOSTS_READ_MAX 10000 /* {P}:health fields and {P}:parked members read, at most */

/* Reads HOOKD_S_HOSTS' reply: the deliveries parked into *parked, and the fresh
 * records, merged per host, into *rows (malloc'ed, the caller frees), busiest
 * first. Records that do not parse are skipped. 0, or HOOKD_EREDIS. */
static int hosts_read(redisContext *c, const struct hookd_config *cfg, long long *parked,
                      struct hookd_host_health **rows, size_t *nrows, char *err)
{
    char kp[HOOKD_KEY_MAX], kh[HOOKD_KEY_MAX], most[HOOKD_I64_LEN], cap[HOOKD_I64_LEN];
    hookd_schema_key(kp, cfg->prefix, HOOKD_K_PARKED);
    hookd_schema_key(kh, cfg->prefix, HOOKD_K_HEALTH);
    hookd_i64_fmt(most, HOSTS_READ_MAX);
    hookd_i64_fmt(cap, HOOKD_HEALTH_RECORD_MAX);
    const char *argv[8] = {"EVAL", hookd_script(HOOKD_S_HOSTS), "2", kp, kh, cfg->prefix, most,
                           cap};
    redisReply *r = hookd_redis_command(c, 8, argv, NULL, err);
    *rows = NULL;
    *nrows = 0;
    if (!r)
        return HOOKD_EREDIS;
    if (r->type != REDIS_REPLY_ARRAY || r->elements < 2 ||
        r->element[0]->type != REDIS_REPLY_INTEGER || r->element[1]->type != REDIS_REPLY_INTEGER) {
        freeReplyObject(r);
        return hookd_fail(err, HOOKD_EREDIS, "redis: unexpected reply to the hosts script");
    }
    *parked = r->element[0]->integer;
    int64_t now = r->element[1]->integer;
    struct hookd_host_health *all = calloc(r->elements, sizeof(*all));
    size_t n = 0;
    for (size_t i = 2; all && i < r->elements; i++) {
        char why[HOOKD_ERRLEN];
        const redisReply *v = r->element[i];
        if (v->type == REDIS_REPLY_STRING &&
            hookd_health_parse(v->str, v->len, &all[n], why) == 0 &&
            now - all[n].updated_at <= HOOKD_HEALTH_STALE_MS)
            n++;
    }
    freeReplyObject(r);
    if (!all)
        return hookd_fail(err, HOOKD_ENOMEM, "out of memory");
    *rows = all;
    *nrows = hookd_health_fold(all, n);
    return 0;
}

static json_t *host_json(const struct hookd_host_health *h)
{
    int64_t tried = h->ok + h->failed;
    json_t *o = json_pack("{ss ss sI sI sI sI sI sI}", "host", h->host, "state", h->state, "limit",
                          (json_int_t)h->limit, "max", (json_int_t)h->max, "inflight",
                          (json_int_t)h->inflight, "queued", (json_int_t)h->queued, "ok",
                          (json_int_t)h->ok, "failed", (json_int_t)h->failed);
    if (!o)
        return NULL;
    json_object_set_new(o, "success_rate",
                        tried ? json_real((double)(h->ok * 1000 / tried) / 1000) : json_null());
    json_object_set_new(o, "latency_ms", json_real((double)(int64_t)(h->latency_ms * 10) / 10));
    json_object_set_new(o, "baseline_ms", json_real((double)(int64_t)(h->baseline_ms * 10) / 10));
    json_object_set_new(o, "paused_until", json_integer((json_int_t)h->paused_until));
    return o;
}

json_t *hookd_stats_hosts(redisContext *c, const struct hookd_config *cfg, const char *host,
                          size_t max, char *err)
{
    struct hookd_host_health *rows;
    size_t n;
    long long parked;
    if (hosts_read(c, cfg, &parked, &rows, &n, err) != 0)
        return NULL;
    json_t *a = json_array();
    for (size_t i = 0; a && i < n && json_array_size(a) < max; i++)
        if (!host || strcmp(host, rows[i].host) == 0)
            json_array_append_new(a, host_json(&rows[i]));
    free(rows);
    if (!a)
        hookd_fail(err, HOOKD_ENOMEM, "out of memory");
    return a;
}

const char *const HOOKD_STATS_DEPTHS[HOOKD_STATS_DEPTH_COUNT] = {"events", "retry", "dead",
                                                                 "inflight", "webhooks"};

void hookd_stats_free(struct hookd_stats_sample *s)
{
    for (int i = 0; i < s->ncounters; i++)
        free(s->names[i]);
    free(s->hosts);
    memset(s, 0, sizeof(*s));
}

static int cmp_counter(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Milliseconds since the epoch of an RFC 3339 time, or -1. */
static int64_t rfc3339_ms(const char *s)
{
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    const char *p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
    if (!p)
        return -1;
    int64_t ms = (int64_t)timegm(&tm) * 1000;
    if (*p == '.') {
        int64_t scale = 100;
        for (p++; *p >= '0' && *p <= '9'; p++, scale /= 10)
            ms += (*p - '0') * scale;
    }
    if (*p == 'Z' || *p == 'z')
        return p[1] ? -1 : ms;
    if ((*p == '+' || *p == '-') && strlen(p) == 6 && p[3] == ':') {
        int h = (p[1] - '0') * 10 + (p[2] - '0'), m = (p[4] - '0') * 10 + (p[5] - '0');
        if (h < 0 || h > 23 || m < 0 || m > 59)
            return -1;
        int64_t off = ((int64_t)h * 60 + m) * 60000;
        return *p == '+' ? ms - off : ms + off;
    }
    return -1;
}

/* Age in seconds of the envelope's "timestamp", or -1 when it has none. */
static double envelope_age(const char *p, size_t len, int64_t now_ms)
{
    json_t *o = json_loadb(p, len, 0, NULL);
    const char *ts = json_string_value(json_object_get(o, "timestamp"));
    int64_t at = ts ? rfc3339_ms(ts) : -1;
    json_decref(o);
    return at < 0 ? -1 : (double)(now_ms - at) / 1000.0;
}

/* Reads depths and counters with one pipeline. Counters that are not whole
 * numbers are left out. Returns 0, or HOOKD_EREDIS with the reason in errbuf. */
int hookd_stats_read(redisContext *c, const struct hookd_config *cfg, struct hookd_stats_sample *s,
                     char *errbuf)
{
    static const struct {
        const char *cmd;
        enum hookd_key_id key;
    } cmds[6] = {{"LLEN", HOOKD_K_EVENTS},    {"ZCARD", HOOKD_K_RETRY},
                 {"LLEN", HOOKD_K_DEAD},      {"ZCARD", HOOKD_K_LEASES},
                 {"SCARD", HOOKD_K_WEBHOOKS}, {"HGETALL", HOOKD_K_STATS}};
    char key[HOOKD_KEY_MAX];
    int rc = 0;

    memset(s, 0, sizeof(*s));
    s->oldest_age = -1;
    for (int i = 0; i < 6; i++) {
        hookd_schema_key(key, cfg->prefix, cmds[i].key);
        const char *argv[2] = {cmds[i].cmd, key};
        if (redisAppendCommandArgv(c, 2, argv, NULL) != REDIS_OK)
            return hookd_fail(errbuf, HOOKD_EREDIS, "redis: %s", hookd_redis_errstr(c));
    }
    /* The oldest waiting envelope (producers LPUSH, so it is the last),
     * unless it is over the cap, when it is not worth its bytes. */
    char cap[HOOKD_I64_LEN];
    hookd_schema_key(key, cfg->prefix, HOOKD_K_EVENTS);
    hookd_i64_fmt(cap, cfg->max_envelope);
    const char *oldest[5] = {"EVAL", hookd_script(HOOKD_S_OLDEST), "1", key, cap};
    if (redisAppendCommandArgv(c, 5, oldest, NULL) != REDIS_OK)
        return hookd_fail(errbuf, HOOKD_EREDIS, "redis: %s", hookd_redis_errstr(c));
    s->at_ms = hookd_now_ms();
    for (int i = 0; i < 7; i++) {
        void *reply = NULL;
        if (redisGetReply(c, &reply) != REDIS_OK)
            return hookd_fail(errbuf, HOOKD_EREDIS, "redis: %s", hookd_redis_errstr(c));
        redisReply *r = reply;
        if (r->type == REDIS_REPLY_ERROR) {
            rc = hookd_fail(errbuf, HOOKD_EREDIS, "redis: %.200s", r->str);
            hookd_redis_reply_judge(c, r);
        } else if (i < 5 && r->type == REDIS_REPLY_INTEGER) {
            s->depth[i] = r->integer;
        } else if (i == 6 && r->type == REDIS_REPLY_STRING) {
            s->oldest_age = envelope_age(r->str, r->len, s->at_ms);
        } else if (i == 5 && r->type == REDIS_REPLY_ARRAY) {
            for (size_t k = 0; k + 1 < r->elements && s->ncounters < HOOKD_STATS_COUNTERS_MAX;
                 k += 2) {
                int64_t v;
                if (r->element[k]->type != REDIS_REPLY_STRING ||
                    r->element[k + 1]->type != REDIS_REPLY_STRING ||
                    hookd_parse_i64(r->element[k + 1]->str, INT64_MIN, INT64_MAX, &v) != 0)
                    continue;
                char *name = strdup(r->element[k]->str);
                if (!name)
                    break;
                s->names[s->ncounters] = name;
                s->values[s->ncounters++] = v;
            }
        }
        freeReplyObject(r);
    }
    /* Sort names and values together through an index. */
    struct {
        char *name;
        long long v;
    } tmp[HOOKD_STATS_COUNTERS_MAX];
    for (int i = 0; i < s->ncounters; i++) {
        tmp[i].name = s->names[i];
        tmp[i].v = s->values[i];
    }
    qsort(tmp, (size_t)s->ncounters, sizeof(tmp[0]), cmp_counter);
    for (int i = 0; i < s->ncounters; i++) {
        s->names[i] = tmp[i].name;
        s->values[i] = tmp[i].v;
    }
    if (rc == 0)
        rc = hosts_read(c, cfg, &s->parked, &s->hosts, &s->nhosts, errbuf);
    return rc;
}

/* Per-second rate of counter i of cur against prev, or -1 when prev lacks
 * it or the counter went back (reset). */
double hookd_stats_rate(const struct hookd_stats_sample *cur, const struct hookd_stats_sample *prev,
                        int i)
{
    if (!prev || prev->at_ms <= 0 || cur->at_ms <= prev->at_ms)
        return -1;
    for (int k = 0; k < prev->ncounters; k++) {
        if (strcmp(prev->names[k], cur->names[i]) == 0) {
            if (cur->values[i] < prev->values[k])
                return -1;
            return (double)(cur->values[i] - prev->values[k]) * 1000.0 /
                   (double)(cur->at_ms - prev->at_ms);
        }
    }
    return -1;
}

json_t *hookd_stats_json(const struct hookd_stats_sample *s, const struct hookd_stats_sample *prev)
{
    json_t *o = json_object(), *counters = json_object(), *rates = prev ? json_object() : NULL;
    for (int i = 0; i < 5; i++)
        json_object_set_new(o, HOOKD_STATS_DEPTHS[i], json_integer(s->depth[i]));
    json_object_set_new(o, "parked", json_integer(s->parked));
    json_t *hosts = json_array();
    for (size_t i = 0; hosts && i < s->nhosts && i < HOOKD_STATS_HOSTS; i++)
        json_array_append_new(hosts, host_json(&s->hosts[i]));
    json_object_set_new(o, "hosts", hosts ? hosts : json_null());
    json_object_set_new(o, "oldest_event_age_seconds",
                        s->oldest_age >= 0
                            ? json_real((double)(int64_t)(s->oldest_age * 1000) / 1000)
                            : json_null());
    for (int i = 0; i < s->ncounters; i++) {
        json_object_set_new(counters, s->names[i], json_integer(s->values[i]));
        double r = hookd_stats_rate(s, prev, i);
        if (rates && r >= 0)
            json_object_set_new(rates, s->names[i], json_real((double)(long long)(r * 10) / 10));
    }
    json_object_set_new(o, "counters", counters);
    if (rates)
        json_object_set_new(o, "rates", rates);
    return o;
}

/* Adds b's integer members to a's of the same name (a missing one counts
 * as 0). */
static void add_integers(json_t *a, const json_t *b)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)b, k, v)
    {
        if (!json_is_integer(v))
            continue;
        json_t *have = json_object_get(a, k);
        json_int_t sum =
            json_integer_value(v) + (json_is_integer(have) ? json_integer_value(have) : 0);
        json_object_set_new(a, k, json_integer(sum));
    }
}

int hookd_stats_sum(struct json_t *total, const struct json_t *one)
{
    if (!json_is_object(total) || !json_is_object(one))
        return HOOKD_EINVAL;
    add_integers(total, one);
    json_t *c = json_object_get(total, "counters");
    if (!c) {
        c = json_object();
        json_object_set_new(total, "counters", c);
    }
    if (c)
        add_integers(c, json_object_get(one, "counters"));
    json_t *age = json_object_get(one, "oldest_event_age_seconds");
    json_t *have = json_object_get(total, "oldest_event_age_seconds");
    if (json_is_number(age) &&
        (!json_is_number(have) || json_number_value(age) > json_number_value(have)))
        json_object_set(total, "oldest_event_age_seconds", age);
    else if (!have)
        json_object_set_new(total, "oldest_event_age_seconds", json_null());
    return c ? 0 : HOOKD_ENOMEM;
}
