/* test_health.c - the limiter against simulated hosts, and the circuit record. */
#include "hookd/health.h"

#include <stdio.h>
#include <string.h>

#include "check.h"

/* A host that answers every attempt rtt ms late, and answers 503 at once to
 * an attempt that arrives while capacity are in flight (0: no capacity).
 * The sender keeps the limit full for ms milliseconds. Returns the answers
 * that succeeded; *slow gets the 503s. */
static long simulate(struct hookd_limit *l, int rtt, int capacity, int ms, long *slow)
{
    static int64_t due[1 << 16]; /* when each running attempt ends, a ring */
    static int busy[1 << 16];    /* attempts in flight when it started */
    size_t head = 0, tail = 0;
    long ok = 0;
    *slow = 0;
    for (int64_t now = 1; now <= ms; now++) {
        while (head != tail && due[head % (1 << 16)] <= now) {
            ok++;
            hookd_limit_sample(l, now, HOOKD_SIGNAL_OK, rtt, busy[head++ % (1 << 16)]);
        }
        while ((int)(tail - head) < hookd_limit_get(l)) {
            if (capacity && (int)(tail - head) >= capacity) {
                (*slow)++;
                hookd_limit_sample(l, now, HOOKD_SIGNAL_SLOW, 0, (int)(tail - head + 1));
                break;
            }
            busy[tail % (1 << 16)] = (int)(tail - head + 1);
            due[tail++ % (1 << 16)] = now + rtt;
        }
    }
    return ok;
}

static void test_grows_to_the_cap(void)
{
    struct hookd_limit l;
    long slow;
    hookd_limit_init(&l, 4096);
    CHECK(hookd_limit_get(&l) == HOOKD_LIMIT_INITIAL);
    /* Slow start: from 10 to the cap in 25 round trips of 200 ms, although
     * this host answers in bursts (every attempt sent at once comes back at
     * once, so only half of them were sent at the limit). */
    simulate(&l, 200, 0, 5000, &slow);
    CHECK(hookd_limit_get(&l) == 4096);
    CHECK(slow == 0);
    CHECK(l.slow_start == 1);
    CHECK(hookd_limit_baseline(&l) == 200);
}

static void test_finds_capacity(void)
{
    struct hookd_limit l;
    long slow;
    hookd_limit_init(&l, 4096);
    long ok = simulate(&l, 50, 200, 20000, &slow);
    /* 200 at 50 ms is 4,000/s at most: at least 80% of it, few 503s. */
    printf("capacity 200 at 50 ms: %ld ok in 20 s (%.0f/s), %ld 503s (%.2f%%), limit %d\n", ok,
           ok / 20.0, slow, 100.0 * (double)slow / (double)(ok + slow), hookd_limit_get(&l));
    CHECK(ok >= 0.8 * 4000 * 20);
    CHECK(slow <= 0.05 * (ok + slow));
    CHECK(hookd_limit_get(&l) <= 220 && hookd_limit_get(&l) >= 150);
    CHECK(l.slow_start == 0);
}

static void test_cuts(void)
{
    struct hookd_limit l;
    hookd_limit_init(&l, 1000);
    for (int i = 0; i < 500; i++)
        hookd_limit_sample(&l, 1000 + i, HOOKD_SIGNAL_OK, 20, 1000);
    int before = hookd_limit_get(&l);
    CHECK(before == 510);
    /* A timeout halves; a second within a round trip does not cut again. */
    hookd_limit_sample(&l, 2000, HOOKD_SIGNAL_FAIL, 10000, before);
    CHECK(hookd_limit_get(&l) == before / 2);
    hookd_limit_sample(&l, 2005, HOOKD_SIGNAL_FAIL, 10000, before);
    CHECK(hookd_limit_get(&l) == before / 2);
    /* A round trip later it does; 429/503 cut by a tenth. */
    hookd_limit_sample(&l, 2100, HOOKD_SIGNAL_SLOW, 5, 10);
    CHECK(hookd_limit_get(&l) == (int)(before / 2 * 0.9));
    /* Other answers (a 400, a 500) say nothing about pace. */
    int now = hookd_limit_get(&l);
    hookd_limit_sample(&l, 3000, HOOKD_SIGNAL_OTHER, 5, 10);
    CHECK(hookd_limit_get(&l) == now);
    /* Never below 1. */
    for (int i = 0; i < 100; i++)
        hookd_limit_sample(&l, 4000 + i * 2000, HOOKD_SIGNAL_FAIL, 10000, 1);
    CHECK(hookd_limit_get(&l) == 1);
}

static void test_latency(void)
{
    struct hookd_limit l;
    hookd_limit_init(&l, 1000);
    for (int i = 0; i < 200; i++)
        hookd_limit_sample(&l, 1000 + i, HOOKD_SIGNAL_OK, 20, 1000);
    int grown = hookd_limit_get(&l);
    /* Latency well above the best (20 ms): the mean crosses 60 ms, a cut. */
    for (int i = 0; i < 50; i++)
        hookd_limit_sample(&l, 1300 + i * 100, HOOKD_SIGNAL_OK, 400, 1000);
    CHECK(hookd_limit_get(&l) < grown);
    /* Only grows while the limit holds the host back. */
    hookd_limit_init(&l, 1000);
    for (int i = 0; i < 1000; i++)
        hookd_limit_sample(&l, 1000 + i, HOOKD_SIGNAL_OK, 20, 2);
    CHECK(hookd_limit_get(&l) == HOOKD_LIMIT_INITIAL);
    /* A small cap holds from the start. */
    hookd_limit_init(&l, 4);
    CHECK(hookd_limit_get(&l) == 4);
}

/* Delayed ACKs: a few answers in 1 ms, most 44 ms late, at any limit. The
 * latency did not rise; the limit must still grow. */
static void test_bimodal_latency_is_no_rise(void)
{
    struct hookd_limit l;
    hookd_limit_init(&l, 1000);
    for (int i = 0; i < 3000; i++)
        hookd_limit_sample(&l, 1000 + i * 5, HOOKD_SIGNAL_OK, i % 10 == 0 ? 1 : 44,
                           hookd_limit_get(&l));
    CHECK(l.cuts == 0);
    CHECK(hookd_limit_get(&l) > 100);
}

static void test_health_records(void)
{
    struct hookd_host_health a, b, rows[3];
    char out[HOOKD_HEALTH_RECORD_MAX], err[HOOKD_ERRLEN];
    memset(&a, 0, sizeof(a));
    snprintf(a.host, sizeof(a.host), "https://a.example:443");
    snprintf(a.instance, sizeof(a.instance), "h:1/0");
    snprintf(a.state, sizeof(a.state), "closed");
    a.limit = 10, a.inflight = 3, a.ok = 90, a.failed = 10, a.latency_ms = 20, a.baseline_ms = 15;
    int n = hookd_health_encode(&a, out, sizeof(out));
    CHECK(n > 0);
    CHECK(hookd_health_parse(out, (size_t)n, &b, err) == 0);
    CHECK(strcmp(b.host, a.host) == 0 && b.limit == 10 && b.ok == 90 && b.latency_ms == 20);
    static const char *const bad[] = {"[]", "{\"host\":\"x y\",\"state\":\"closed\"}",
                                      "{\"host\":\"http://h:1\",\"state\":\"shut\"}", "{"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        CHECK(hookd_health_parse(bad[i], strlen(bad[i]), &b, err) == HOOKD_EINVAL);
    CHECK(hookd_health_parse(out, HOOKD_HEALTH_RECORD_MAX + 1, &b, err) == HOOKD_ETOOBIG);
    /* Two loops of a, one of another host: a merges, busiest first. */
    rows[0] = a;
    rows[1] = a;
    rows[1].latency_ms = 40, rows[1].ok = 10;
    snprintf(rows[1].state, sizeof(rows[1].state), "open");
    rows[2] = a;
    snprintf(rows[2].host, sizeof(rows[2].host), "http://b:80");
    rows[2].inflight = 100;
    CHECK(hookd_health_fold(rows, 3) == 2);
    CHECK(strcmp(rows[0].host, "http://b:80") == 0);
    CHECK(rows[1].limit == 20 && rows[1].inflight == 6 && rows[1].ok == 100);
    CHECK(strcmp(rows[1].state, "open") == 0);
    CHECK(rows[1].latency_ms == 22); /* weighed by successes: (90 x 20 + 10 x 40) / 100 */
}

static void test_signals(void)
{
    CHECK(hookd_signal_of(200, 0) == HOOKD_SIGNAL_OK);
    CHECK(hookd_signal_of(204, 0) == HOOKD_SIGNAL_OK);
    CHECK(hookd_signal_of(429, 0) == HOOKD_SIGNAL_SLOW);
    CHECK(hookd_signal_of(503, 0) == HOOKD_SIGNAL_SLOW);
    CHECK(hookd_signal_of(0, 1) == HOOKD_SIGNAL_FAIL);
    CHECK(hookd_signal_of(0, 0) == HOOKD_SIGNAL_FAIL);
    CHECK(hookd_signal_of(500, 0) == HOOKD_SIGNAL_OTHER);
    CHECK(hookd_signal_of(400, 0) == HOOKD_SIGNAL_OTHER);
}

static void test_circuit(void)
{
    struct hookd_circuit c;
    char err[HOOKD_ERRLEN];
    const char *ok = "1700000001000 2000 1700000000000";
    CHECK(hookd_circuit_parse(ok, strlen(ok), &c, err) == 0);
    CHECK(c.open_until == 1700000001000 && c.interval == 2000 && c.opened_at == 1700000000000);
    static const char *const bad[] = {"",       "1 2",    "1 2 3 4", "1  2 3", "1 2 x",
                                      "-1 2 3", " 1 2 3", "1 2 3 ",  "1\t2 3"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        CHECK(hookd_circuit_parse(bad[i], strlen(bad[i]), &c, err) == HOOKD_EINVAL);
        CHECK(strncmp(err, "circuit record", 14) == 0);
    }
    char big[100];
    memset(big, '1', sizeof(big));
    CHECK(hookd_circuit_parse(big, sizeof(big), &c, err) == HOOKD_ETOOBIG);
    CHECK(hookd_hostkey_valid("http://127.0.0.1:80", 19));
    CHECK(!hookd_hostkey_valid("", 0));
    CHECK(!hookd_hostkey_valid("http://a b", 10));
    CHECK(!hookd_hostkey_valid("http://a\n", 9));
}

int main(void)
{
    test_grows_to_the_cap();
    test_finds_capacity();
    test_cuts();
    test_latency();
    test_signals();
    test_circuit();
    test_bimodal_latency_is_no_rise();
    test_health_records();
    return CHECK_REPORT();
}
