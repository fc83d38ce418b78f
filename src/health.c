/* health.c - the per-host limiter, and the formats of the circuit and health
 * records. */
#include "hookd/health.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#define GROW_WHEN_USED 0.5 /* grow only while this share of the limit is in flight */
#define LATENCY_WEIGHT 0.1 /* weight of one sample in the moving mean */
#define LATENCY_RATIO 2.0  /* the mean above ratio x best + slack is a pace signal */
#define LATENCY_SLACK_MS 20.0
#define LATENCY_SETTLED 20 /* samples before the moving mean counts towards the best */
#define CUT_SLOW 0.9       /* on 429, 503 or latency: a pace signal, mild */
#define CUT_FAIL 0.5       /* on a timeout or a connection error: a slot held for nothing */
#define CUT_GAP_MIN_MS 10.0
#define CUT_GAP_MAX_MS 1000.0

void hookd_limit_init(struct hookd_limit *l, int max)
{
    memset(l, 0, sizeof(*l));
    l->max = max < 1 ? 1 : max;
    l->limit = HOOKD_LIMIT_INITIAL < l->max ? HOOKD_LIMIT_INITIAL : l->max;
    l->slow_start = 1;
    l->latency_ms = -1;
}

double hookd_limit_baseline(const struct hookd_limit *l)
{
    double a = l->best_ms, b = l->best_prev_ms;
    if (a <= 0)
        return b > 0 ? b : 0;
    return b > 0 && b < a ? b : a;
}

int hookd_limit_get(const struct hookd_limit *l)
{
    int n = (int)l->limit;
    return n < 1 ? 1 : n > l->max ? l->max : n;
}

/* Cuts the limit by factor, unless it was cut less than a round trip ago:
 * the answers to attempts sent under the old limit say nothing new. */
static void cut(struct hookd_limit *l, int64_t now_ms, double factor)
{
    double gap = l->latency_ms > 0 ? l->latency_ms : hookd_limit_baseline(l);
    if (gap < CUT_GAP_MIN_MS)
        gap = CUT_GAP_MIN_MS;
    if (gap > CUT_GAP_MAX_MS)
        gap = CUT_GAP_MAX_MS;
    if (l->cuts && (double)(now_ms - l->cut_at) < gap)
        return;
    l->limit *= factor;
    if (l->limit < 1)
        l->limit = 1;
    l->slow_start = 0;
    l->cut_at = now_ms;
    l->cuts++;
}

void hookd_limit_sample(struct hookd_limit *l, int64_t now_ms, enum hookd_signal s,
                        int64_t latency_ms, int inflight)
{
    if (now_ms - l->window_at >= HOOKD_LIMIT_WINDOW_MS) {
        l->best_prev_ms = l->best_ms;
        l->best_ms = 0;
        l->window_at = now_ms;
    }
    double lat = latency_ms < 0 ? 0 : (double)latency_ms;
    switch (s) {
    case HOOKD_SIGNAL_OK: {
        l->latency_ms =
            l->latency_ms < 0 ? lat : l->latency_ms + LATENCY_WEIGHT * (lat - l->latency_ms);
        /* The best is the least moving mean, not the least sample: a host
         * whose answers are sometimes fast and mostly 40 ms late (delayed
         * ACKs) is not one whose latency rose. */
        if (l->samples < LATENCY_SETTLED)
            l->samples++;
        else if (l->best_ms <= 0 || l->latency_ms < l->best_ms)
            l->best_ms = l->latency_ms > 0 ? l->latency_ms : 0.001;
        double base = hookd_limit_baseline(l);
        if (base > 0 && l->latency_ms > LATENCY_RATIO * base + LATENCY_SLACK_MS) {
            /* In slow start the limit doubled past what the host takes
             * within a round trip or two: come back as far. */
            cut(l, now_ms, l->slow_start ? CUT_FAIL : CUT_SLOW);
            return;
        }
        if ((double)inflight < l->limit * GROW_WHEN_USED)
            return;
        l->limit += l->slow_start ? 1.0 : 1.0 / l->limit;
        if (l->limit > l->max)
            l->limit = l->max;
        return;
    }
    case HOOKD_SIGNAL_SLOW:
        cut(l, now_ms, CUT_SLOW);
        return;
    case HOOKD_SIGNAL_FAIL:
        cut(l, now_ms, CUT_FAIL);
        return;
    case HOOKD_SIGNAL_OTHER:
        return;
    }
}

enum hookd_signal hookd_signal_of(long status, int timed_out)
{
    if (status >= 200 && status < 300)
        return HOOKD_SIGNAL_OK;
    if (status == 429 || status == 503)
        return HOOKD_SIGNAL_SLOW;
    if (status == 0 || timed_out)
        return HOOKD_SIGNAL_FAIL;
    return HOOKD_SIGNAL_OTHER;
}

int hookd_hostkey_valid(const char *s, size_t len)
{
    if (len == 0 || len >= HOOKD_HOSTKEY_MAX)
        return 0;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
            return 0;
    return 1;
}

int hookd_circuit_parse(const char *s, size_t len, struct hookd_circuit *c, char *err)
{
    char buf[HOOKD_CIRCUIT_RECORD_MAX + 1];
    int64_t v[3];
    if (len > HOOKD_CIRCUIT_RECORD_MAX)
        return hookd_fail(err, HOOKD_ETOOBIG, "circuit record is %zu bytes, over %d", len,
                          HOOKD_CIRCUIT_RECORD_MAX);
    memcpy(buf, s, len);
    buf[len] = '\0';
    char *p = buf;
    for (int i = 0; i < 3; i++) {
        char *end = i < 2 ? strchr(p, ' ') : p + strlen(p);
        if (!end)
            return hookd_fail(err, HOOKD_EINVAL,
                              "circuit record holds %d numbers, not 3 separated by spaces", i + 1);
        *end = '\0';
        if (hookd_parse_i64(p, 0, INT64_MAX / 2, &v[i]) != 0) {
            char q[HOOKD_QUOTE_LEN];
            return hookd_fail(err, HOOKD_EINVAL, "circuit record: \"%s\" is no time in ms",
                              hookd_quote(q, p, strlen(p)));
        }
        p = end + 1;
    }
    c->open_until = v[0];
    c->interval = v[1];
    c->opened_at = v[2];
    return 0;
}

/* The numbers of a health record, by name, with where they live. */
#define HEALTH_INTS(X)                                                                             \
    X(limit) X(max) X(inflight) X(queued) X(ok) X(failed) X(paused_until) X(updated_at)
#define HEALTH_REALS(X) X(latency_ms) X(baseline_ms)
#define HEALTH_MS_MAX 1e9 /* a latency past this (11 days) is no latency */

/* A latency as records hold it: 0 to HEALTH_MS_MAX, else 0. */
static double ms_of(double v)
{
    return v >= 0 && v <= HEALTH_MS_MAX ? v : 0;
}

int hookd_health_encode(const struct hookd_host_health *h, char *out, size_t cap)
{
    json_t *o =
        json_pack("{ss ss ss}", "host", h->host, "instance", h->instance, "state", h->state);
    if (!o)
        return HOOKD_EINVAL;
#define SET_INT(f) json_object_set_new(o, #f, json_integer((json_int_t)h->f));
#define SET_REAL(f) json_object_set_new(o, #f, json_real((double)(int64_t)(ms_of(h->f) * 10) / 10));
    HEALTH_INTS(SET_INT)
    HEALTH_REALS(SET_REAL)
    size_t n = json_dumpb(o, out, cap, JSON_COMPACT);
    json_decref(o);
    if (n == 0 || n >= cap)
        return HOOKD_ETOOBIG;
    out[n] = '\0';
    return (int)n;
}

int hookd_health_parse(const char *s, size_t len, struct hookd_host_health *h, char *err)
{
    static const char *const states[] = {"closed", "open", "half-open"};
    json_error_t je;
    if (len > HOOKD_HEALTH_RECORD_MAX)
        return hookd_fail(err, HOOKD_ETOOBIG, "health record is %zu bytes, over %d", len,
                          HOOKD_HEALTH_RECORD_MAX);
    memset(h, 0, sizeof(*h));
    json_t *o = json_loadb(s, len, JSON_REJECT_DUPLICATES, &je);
    if (!json_is_object(o)) {
        json_decref(o);
        return hookd_fail(err, HOOKD_EINVAL, "health record is no JSON object");
    }
    const char *host = json_string_value(json_object_get(o, "host"));
    const char *inst = json_string_value(json_object_get(o, "instance"));
    const char *state = json_string_value(json_object_get(o, "state"));
    int known = 0;
    for (size_t i = 0; state && i < sizeof(states) / sizeof(states[0]); i++)
        known |= strcmp(state, states[i]) == 0;
    int rc = 0;
    if (!host || !hookd_hostkey_valid(host, strlen(host)))
        rc = hookd_fail(err, HOOKD_EINVAL, "health record: no valid host");
    else if (!known)
        rc = hookd_fail(err, HOOKD_EINVAL,
                        "health record: state is none of closed, open, "
                        "half-open");
    else if (inst && strlen(inst) >= sizeof(h->instance))
        rc = hookd_fail(err, HOOKD_EINVAL, "health record: instance over %d bytes",
                        HOOKD_INSTANCE_MAX - 1);
    if (rc == 0) {
        memcpy(h->host, host, strlen(host) + 1);
        memcpy(h->state, state, strlen(state) + 1);
        if (inst)
            memcpy(h->instance, inst, strlen(inst) + 1);
#define GET_INT(f)                                                                                 \
    if (json_is_integer(json_object_get(o, #f)))                                                   \
        h->f = (int64_t)json_integer_value(json_object_get(o, #f));
#define GET_REAL(f)                                                                                \
    if (json_is_number(json_object_get(o, #f)))                                                    \
        h->f = ms_of(json_number_value(json_object_get(o, #f)));
        HEALTH_INTS(GET_INT)
        HEALTH_REALS(GET_REAL)
    }
    json_decref(o);
    return rc;
}

static int state_rank(const char *s)
{
    return strcmp(s, "open") == 0 ? 2 : strcmp(s, "half-open") == 0 ? 1 : 0;
}

void hookd_health_merge(struct hookd_host_health *into, const struct hookd_host_health *one)
{
    int64_t ok = into->ok + one->ok;
    if (ok > 0)
        into->latency_ms =
            (into->latency_ms * (double)into->ok + one->latency_ms * (double)one->ok) / (double)ok;
    if (one->baseline_ms > 0 && (into->baseline_ms <= 0 || one->baseline_ms < into->baseline_ms))
        into->baseline_ms = one->baseline_ms;
    if (state_rank(one->state) > state_rank(into->state))
        memcpy(into->state, one->state, sizeof(into->state));
    into->limit += one->limit;
    into->max += one->max;
    into->inflight += one->inflight;
    into->queued += one->queued;
    into->ok = ok;
    into->failed += one->failed;
    if (one->paused_until > into->paused_until)
        into->paused_until = one->paused_until;
    if (one->updated_at > into->updated_at)
        into->updated_at = one->updated_at;
}

static int cmp_host(const void *a, const void *b)
{
    return strcmp(((const struct hookd_host_health *)a)->host,
                  ((const struct hookd_host_health *)b)->host);
}

static int cmp_busy(const void *a, const void *b)
{
    const struct hookd_host_health *x = a, *y = b;
    int64_t bx = x->inflight + x->queued, by = y->inflight + y->queued;
    return bx != by ? (bx < by ? 1 : -1) : strcmp(x->host, y->host);
}

size_t hookd_health_fold(struct hookd_host_health *rows, size_t n)
{
    size_t m = 0;
    qsort(rows, n, sizeof(*rows), cmp_host);
    for (size_t i = 0; i < n; i++) {
        if (m > 0 && strcmp(rows[m - 1].host, rows[i].host) == 0)
            hookd_health_merge(&rows[m - 1], &rows[i]);
        else
            rows[m++] = rows[i];
    }
    qsort(rows, m, sizeof(*rows), cmp_busy);
    return m;
}
