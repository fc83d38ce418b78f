/* test_metrics.c - the exposition (families, HELP/TYPE, counters, cumulative
 * histogram buckets, +Inf, _sum/_count, gauges present or absent), recording
 * from many threads, and the three routes on a real server. */
#include <arpa/inet.h>
#include <inttypes.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "hookd/config.h"
#include "hookd/metrics.h"
#include "hookd/server.h"

#include "check.h"

static char *render(void)
{
    struct hookd_buf b;
    hookd_buf_init(&b, 1 << 20);
    if (hookd_metrics_render(&b) != 0) {
        fprintf(stderr, "render failed\n");
        exit(1);
    }
    return hookd_buf_steal(&b, NULL);
}

/* The value of the sample whose name and labels are exactly key, or -1
 * when there is no such line. */
static double sample(const char *text, const char *key)
{
    size_t k = strlen(key);
    for (const char *l = text; *l;) {
        const char *nl = strchr(l, '\n');
        if (strncmp(l, key, k) == 0 && l[k] == ' ')
            return strtod(l + k + 1, NULL);
        if (!nl)
            break;
        l = nl + 1;
    }
    return -1;
}

static int has_line(const char *text, const char *line)
{
    size_t n = strlen(line);
    for (const char *p = text; (p = strstr(p, line)) != NULL; p++) {
        if ((p == text || p[-1] == '\n') && p[n] == '\n')
            return 1;
    }
    return 0;
}

/* Checks the text format's structure: every family has one HELP then one
 * TYPE line, every sample belongs to the family declared last, values are
 * numbers, and each histogram's buckets are cumulative, end with +Inf and
 * equal _count. Prints the first problem. */
static int quiet; /* set while feeding the checker bad text on purpose */

/* Says what is wrong (unless quiet) and returns 0. */
static int bad(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int bad(const char *fmt, ...)
{
    if (!quiet) {
        va_list ap;
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
    }
    return 0;
}

static int exposition_ok(const char *text)
{
    char fam[128] = "", type[32] = "", seen[64][128];
    int nseen = 0, help_for_fam = 0, have_inf = 0;
    double last_bucket = -1, inf = -1;
    const char *l = text;
    size_t len = strlen(text);
    if (len == 0 || text[len - 1] != '\n')
        return bad("  no final newline\n");
    while (*l) {
        const char *nl = strchr(l, '\n');
        char line[512];
        size_t n = (size_t)(nl - l);
        if (n >= sizeof(line))
            return bad("  long line\n");
        memcpy(line, l, n);
        line[n] = '\0';
        l = nl + 1;
        char name[128], rest[256];
        if (sscanf(line, "# HELP %127s %255[^\n]", name, rest) == 2) {
            for (int i = 0; i < nseen; i++)
                if (strcmp(seen[i], name) == 0)
                    return bad("  family twice: %s\n", name);
            if (nseen < 64)
                snprintf(seen[nseen++], sizeof(seen[0]), "%s", name);
            snprintf(fam, sizeof(fam), "%s", name);
            type[0] = '\0';
            help_for_fam = 1;
            last_bucket = -1;
            have_inf = 0;
            continue;
        }
        if (sscanf(line, "# TYPE %127s %31s", name, type) == 2) {
            if (!help_for_fam || strcmp(name, fam) != 0)
                return bad("  TYPE without HELP: %s\n", line);
            if (strcmp(type, "counter") && strcmp(type, "gauge") && strcmp(type, "histogram"))
                return bad("  bad type: %s\n", line);
            help_for_fam = 0;
            continue;
        }
        if (line[0] == '#' || !type[0])
            return bad("  stray line: %s\n", line);
        size_t nl_name = strcspn(line, "{ ");
        char *sp = strrchr(line, ' ');
        char *end;
        double v = strtod(sp + 1, &end);
        if (*end || sp[1] == '\0')
            return bad("  bad value: %s\n", line);
        if (strcmp(type, "histogram") == 0) {
            size_t f = strlen(fam);
            if (strncmp(line, fam, f) != 0)
                return bad("  sample outside its family: %s\n", line);
            const char *suffix = line + f;
            if (strncmp(suffix, "_bucket{le=\"", 12) == 0) {
                if (v < last_bucket)
                    return bad("  buckets not cumulative: %s\n", line);
                last_bucket = v;
                if (strncmp(suffix + 12, "+Inf\"}", 6) == 0) {
                    have_inf = 1;
                    inf = v;
                }
            } else if (strncmp(suffix, "_count ", 7) == 0) {
                if (!have_inf || v != inf)
                    return bad("  _count is not +Inf: %s\n", line);
            } else if (strncmp(suffix, "_sum ", 5) != 0) {
                return bad("  bad histogram sample: %s\n", line);
            }
        } else if (nl_name != strlen(fam) || strncmp(line, fam, nl_name) != 0) {
            return bad("  sample outside its family: %s\n", line);
        }
    }
    return 1;
}

/* The checker itself must reject what it is meant to catch. */
static void test_checker(void)
{
    static const char *const bad[] = {
        "# TYPE a counter\na 1\n",               /* no HELP */
        "# HELP a x\n# TYPE a counter\nb 1\n",   /* other family */
        "# HELP a x\n# TYPE a counter\na one\n", /* not a number */
        "# HELP a x\n# TYPE a counter\na 1",     /* no newline */
        "# HELP h x\n# TYPE h histogram\nh_bucket{le=\"1\"} 2\n"
        "h_bucket{le=\"+Inf\"} 1\nh_sum 0\nh_count 1\n", /* not cumulative */
        "# HELP h x\n# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_sum 0\nh_count 1\n",
        "# HELP h x\n# TYPE h histogram\nh_bucket{le=\"+Inf\"} 2\nh_sum 0\nh_count 1\n",
        "# HELP a x\n# TYPE a gauge\na 1\n# HELP a x\n# TYPE a gauge\na 2\n", /* twice */
    };
    quiet = 1;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        CHECK(!exposition_ok(bad[i]));
    quiet = 0;
    CHECK(exposition_ok("# HELP h x\n# TYPE h histogram\nh_bucket{le=\"1\"} 1\n"
                        "h_bucket{le=\"+Inf\"} 2\nh_sum 0.5\nh_count 2\n"));
}

static void test_fresh(void)
{
    char *t = render();
    CHECK(exposition_ok(t));
    static const char *const families[] = {
        "hookd_events_total counter",
        "hookd_deliveries_total counter",
        "hookd_http_responses_total counter",
        "hookd_redis_reconnects_total counter",
        "hookd_attempt_duration_seconds histogram",
        "hookd_delivery_duration_seconds histogram",
        "hookd_redis_up gauge",
        "hookd_draining gauge",
        "hookd_queue_depth gauge",
        "hookd_webhooks gauge",
        "hookd_build_info gauge",
    };
    for (size_t i = 0; i < sizeof(families) / sizeof(families[0]); i++) {
        char type[128], help[128];
        snprintf(type, sizeof(type), "# TYPE %s", families[i]);
        snprintf(help, sizeof(help), "# HELP %.*s ", (int)strcspn(families[i], " "), families[i]);
        if (!has_line(t, type) || !strstr(t, help))
            fprintf(stderr, "  missing: %s\n", families[i]);
        CHECK(has_line(t, type));
        CHECK(strstr(t, help) != NULL);
    }
    CHECK(has_line(t, "hookd_events_total{result=\"fanned_out\"} 0"));
    CHECK(has_line(t, "hookd_events_total{result=\"unrouted\"} 0"));
    CHECK(has_line(t, "hookd_events_total{result=\"invalid\"} 0"));
    CHECK(has_line(t, "hookd_deliveries_total{outcome=\"given_back\"} 0"));
    CHECK(has_line(t, "hookd_http_responses_total{class=\"error\"} 0"));
    CHECK(has_line(t, "hookd_redis_reconnects_total 0"));
    CHECK(has_line(t, "hookd_attempt_duration_seconds_bucket{le=\"0.005\"} 0"));
    CHECK(has_line(t, "hookd_attempt_duration_seconds_bucket{le=\"30\"} 0"));
    CHECK(has_line(t, "hookd_attempt_duration_seconds_bucket{le=\"+Inf\"} 0"));
    CHECK(has_line(t, "hookd_attempt_duration_seconds_sum 0.000000"));
    CHECK(has_line(t, "hookd_attempt_duration_seconds_count 0"));
    CHECK(has_line(t, "hookd_delivery_duration_seconds_bucket{le=\"86400\"} 0"));
    CHECK(has_line(t, "hookd_delivery_duration_seconds_bucket{le=\"21600\"} 0"));
    /* no loops declared: not up; depths and webhooks unknown: no samples */
    CHECK(has_line(t, "hookd_redis_up 0"));
    CHECK(has_line(t, "hookd_draining 0"));
    CHECK(strstr(t, "hookd_queue_depth{") == NULL);
    CHECK(strstr(t, "hookd_webhooks{") == NULL);
    CHECK(has_line(t, "hookd_build_info{version=\"" HOOKD_VERSION "\"} 1"));
    /* the bucket lists are the documented ones, in order */
    const char *p = t;
    static const char *const attempt[] = {"0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5",
                                          "1",     "2.5",  "5",     "10",   "30",  "+Inf"};
    int in_order = 1;
    for (size_t i = 0; i < sizeof(attempt) / sizeof(attempt[0]); i++) {
        char want[96];
        snprintf(want, sizeof(want), "hookd_attempt_duration_seconds_bucket{le=\"%s\"}",
                 attempt[i]);
        const char *q = strstr(p, want);
        in_order &= q != NULL;
        p = q ? q + 1 : p;
    }
    CHECK(in_order);
    int nbuckets = 0;
    for (p = t; (p = strstr(p, "hookd_delivery_duration_seconds_bucket{")); p++)
        nbuckets++;
    CHECK(nbuckets == 15);
    free(t);
}

static void test_counters(void)
{
    hookd_metrics_count(HOOKD_M_DELIVERED, 3);
    hookd_metrics_count(HOOKD_M_DELIVERED, 2);
    hookd_metrics_count(HOOKD_M_EVENTS_INVALID, 1);
    hookd_metrics_count(HOOKD_M_REDIS_RECONNECTS, UINT64_C(10000000000));
    hookd_metrics_count(HOOKD_M_COUNTER_COUNT, 7);    /* out of range: ignored */
    hookd_metrics_count((enum hookd_counter) - 1, 7); /* likewise */
    static const long statuses[] = {0,   -1,  99,  100, 199, 200, 204, 299, 300, 302,
                                    399, 400, 410, 499, 500, 503, 599, 600, 1000};
    for (size_t i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++)
        hookd_metrics_http_status(statuses[i]);
    char *t = render();
    CHECK(exposition_ok(t));
    CHECK(has_line(t, "hookd_deliveries_total{outcome=\"delivered\"} 5"));
    CHECK(has_line(t, "hookd_deliveries_total{outcome=\"retried\"} 0"));
    CHECK(has_line(t, "hookd_events_total{result=\"invalid\"} 1"));
    CHECK(has_line(t, "hookd_redis_reconnects_total 10000000000"));
    CHECK(has_line(t, "hookd_http_responses_total{class=\"error\"} 5"));
    CHECK(has_line(t, "hookd_http_responses_total{class=\"1xx\"} 2"));
    CHECK(has_line(t, "hookd_http_responses_total{class=\"2xx\"} 3"));
    CHECK(has_line(t, "hookd_http_responses_total{class=\"3xx\"} 3"));
    CHECK(has_line(t, "hookd_http_responses_total{class=\"4xx\"} 3"));
    CHECK(has_line(t, "hookd_http_responses_total{class=\"5xx\"} 3"));
    free(t);
}

static void test_histograms(void)
{
    /* bounds are inclusive (le); over the last bound is +Inf only */
    hookd_metrics_observe(HOOKD_H_ATTEMPT_SECONDS, 0.005);  /* le 0.005 */
    hookd_metrics_observe(HOOKD_H_ATTEMPT_SECONDS, 0.0051); /* le 0.01 */
    hookd_metrics_observe(HOOKD_H_ATTEMPT_SECONDS, 1);      /* le 1 */
    hookd_metrics_observe(HOOKD_H_ATTEMPT_SECONDS, 30);     /* le 30 */
    hookd_metrics_observe(HOOKD_H_ATTEMPT_SECONDS, 31);     /* +Inf */
    hookd_metrics_observe(HOOKD_H_ATTEMPT_SECONDS, -2);     /* clamped to 0: le 0.005 */
    hookd_metrics_observe(HOOKD_H_ATTEMPT_SECONDS, NAN);    /* ignored */
    hookd_metrics_observe(HOOKD_H_ATTEMPT_SECONDS, 1e300);  /* clamped to 1e9 s: +Inf */
    hookd_metrics_observe(HOOKD_H_COUNT, 1);                /* out of range: ignored */
    hookd_metrics_observe(HOOKD_H_DELIVERY_SECONDS, 90000); /* +Inf */
    hookd_metrics_observe(HOOKD_H_DELIVERY_SECONDS, 0.2);   /* le 0.5 */
    char *t = render();
    CHECK(exposition_ok(t));
    static const struct {
        const char *le;
        int n;
    } want[] = {{"0.005", 2}, {"0.01", 3}, {"0.025", 3}, {"0.05", 3}, {"0.1", 3},
                {"0.25", 3},  {"0.5", 3},  {"1", 4},     {"2.5", 4},  {"5", 4},
                {"10", 4},    {"30", 5},   {"+Inf", 7}};
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        char key[96];
        snprintf(key, sizeof(key), "hookd_attempt_duration_seconds_bucket{le=\"%s\"}", want[i].le);
        if (sample(t, key) != want[i].n)
            fprintf(stderr, "  %s: %g, want %d\n", key, sample(t, key), want[i].n);
        CHECK(sample(t, key) == want[i].n);
    }
    CHECK(has_line(t, "hookd_attempt_duration_seconds_count 7"));
    /* 0.005 + 0.0051 + 1 + 30 + 31 + 0 + 1e9, exactly, in microseconds */
    CHECK(has_line(t, "hookd_attempt_duration_seconds_sum 1000000062.010100"));
    CHECK(has_line(t, "hookd_delivery_duration_seconds_bucket{le=\"0.1\"} 0"));
    CHECK(has_line(t, "hookd_delivery_duration_seconds_bucket{le=\"0.5\"} 1"));
    CHECK(has_line(t, "hookd_delivery_duration_seconds_bucket{le=\"86400\"} 1"));
    CHECK(has_line(t, "hookd_delivery_duration_seconds_bucket{le=\"+Inf\"} 2"));
    CHECK(has_line(t, "hookd_delivery_duration_seconds_count 2"));
    CHECK(has_line(t, "hookd_delivery_duration_seconds_sum 90000.200000"));
    free(t);
}

static void test_gauges(void)
{
    char *t;
    hookd_metrics_set_loops(2);
    hookd_metrics_set_redis_up(0, 1);
    t = render();
    CHECK(has_line(t, "hookd_redis_up 0")); /* loop 1 not up yet */
    free(t);
    hookd_metrics_set_redis_up(1, 1);
    hookd_metrics_set_redis_up(5, 0);       /* not a declared loop: no effect */
    hookd_metrics_set_redis_up(-1, 0);      /* ignored */
    hookd_metrics_set_redis_up(1 << 20, 0); /* ignored */
    t = render();
    CHECK(has_line(t, "hookd_redis_up 1"));
    free(t);
    hookd_metrics_set_redis_up(1, 0);
    t = render();
    CHECK(has_line(t, "hookd_redis_up 0"));
    free(t);
    hookd_metrics_set_redis_up(1, 1);
    hookd_metrics_set_loops(2); /* declaring again starts every loop down */
    t = render();
    CHECK(has_line(t, "hookd_redis_up 0"));
    free(t);
    hookd_metrics_set_loops(0);
    t = render();
    CHECK(has_line(t, "hookd_redis_up 0"));
    free(t);

    hookd_metrics_set_webhooks(0, 3, 1, 2);
    t = render();
    CHECK(exposition_ok(t));
    CHECK(has_line(t, "hookd_webhooks{state=\"enabled\"} 3"));
    CHECK(has_line(t, "hookd_webhooks{state=\"disabled\"} 1"));
    CHECK(has_line(t, "hookd_webhooks{state=\"invalid\"} 2"));
    free(t);
    hookd_metrics_set_webhooks(0, 0, -5, 0); /* unknown disabled count: no sample */
    t = render();
    CHECK(has_line(t, "hookd_webhooks{state=\"enabled\"} 0"));
    CHECK(strstr(t, "hookd_webhooks{state=\"disabled\"}") == NULL);
    CHECK(exposition_ok(t));
    free(t);
}

static void test_render_cap(void)
{
    struct hookd_buf b;
    hookd_buf_init(&b, 200);
    CHECK(hookd_metrics_render(&b) == HOOKD_ETOOBIG);
    CHECK(b.len <= 200);
    hookd_buf_free(&b);
    char *t = render();
    size_t full = strlen(t);
    free(t);
    hookd_buf_init(&b, full - 1);
    CHECK(hookd_metrics_render(&b) == HOOKD_ETOOBIG);
    hookd_buf_free(&b);
    hookd_buf_init(&b, full);
    CHECK(hookd_metrics_render(&b) == 0 && b.len == full);
    hookd_buf_free(&b);
}

#define THREADS 4
#define PER_THREAD 50000

static void *hammer(void *arg)
{
    (void)arg;
    for (int i = 0; i < PER_THREAD; i++) {
        hookd_metrics_count(HOOKD_M_GIVEN_BACK, 1);
        hookd_metrics_observe(HOOKD_H_DELIVERY_SECONDS, 0.001);
        hookd_metrics_http_status(201);
    }
    return NULL;
}

static void test_threads(void)
{
    char *t = render();
    double given = sample(t, "hookd_deliveries_total{outcome=\"given_back\"}");
    double b001 = sample(t, "hookd_delivery_duration_seconds_bucket{le=\"0.01\"}");
    double cnt = sample(t, "hookd_delivery_duration_seconds_count");
    double s2xx = sample(t, "hookd_http_responses_total{class=\"2xx\"}");
    double sum = sample(t, "hookd_delivery_duration_seconds_sum");
    free(t);
    pthread_t th[THREADS];
    for (int i = 0; i < THREADS; i++)
        pthread_create(&th[i], NULL, hammer, NULL);
    for (int i = 0; i < THREADS; i++)
        pthread_join(th[i], NULL);
    t = render();
    double n = THREADS * PER_THREAD;
    CHECK(sample(t, "hookd_deliveries_total{outcome=\"given_back\"}") == given + n);
    CHECK(sample(t, "hookd_delivery_duration_seconds_bucket{le=\"0.01\"}") == b001 + n);
    CHECK(sample(t, "hookd_delivery_duration_seconds_count") == cnt + n);
    CHECK(sample(t, "hookd_http_responses_total{class=\"2xx\"}") == s2xx + n);
    CHECK(fabs(sample(t, "hookd_delivery_duration_seconds_sum") - (sum + n * 0.001)) < 1e-6);
    CHECK(exposition_ok(t));
    free(t);
}

/* Runs promtool's own checker on the exposition when promtool is installed
 * (the integration test requires it; here it is an extra). */
static void test_promtool(void)
{
    if (access("/usr/bin/promtool", X_OK) != 0) {
        printf("promtool not installed: its check is left to the integration test\n");
        return;
    }
    char *t = render();
    FILE *p = popen("/usr/bin/promtool check metrics >/dev/null 2>&1", "w");
    CHECK(p != NULL);
    if (p) {
        fputs(t, p);
        CHECK(pclose(p) == 0);
    }
    free(t);
}

/* ---- the served endpoints ---- */

/* One request on a fresh connection; returns the whole response text (the
 * server closes the connection: Connection: close). */
static char *get(int port, const char *method, const char *path)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    char req[256];
    int n = snprintf(req, sizeof(req), "%s %s HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
                     method, path);
    if (send(fd, req, (size_t)n, MSG_NOSIGNAL) != n) {
        close(fd);
        return NULL;
    }
    size_t cap = 1 << 20, len = 0;
    char *buf = malloc(cap);
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 3000) <= 0)
            break;
        ssize_t k = recv(fd, buf + len, cap - 1 - len, 0);
        if (k <= 0)
            break;
        len += (size_t)k;
    }
    buf[len] = '\0';
    close(fd);
    return buf;
}

static int starts(const char *s, const char *prefix)
{
    return s && strncmp(s, prefix, strlen(prefix)) == 0;
}

static const char *body_of(const char *resp)
{
    const char *b = resp ? strstr(resp, "\r\n\r\n") : NULL;
    return b ? b + 4 : "";
}

/* The metrics routes on a real server (server.h), with the depth reader
 * running against a Redis that is not there. */
static void test_serve(void)
{
    struct hookd_config cfg;
    char err[HOOKD_ERRLEN], *r;
    CHECK(hookd_config_init(&cfg) == 0);

    /* stop without start is harmless */
    hookd_metrics_stop();

    /* nothing listens on port 1: depth reads fail, and say so by absence */
    CHECK(hookd_config_set(&cfg, "redis-url", "redis://127.0.0.1:1/0", err) == 0);
    CHECK(hookd_metrics_start(&cfg, 1, err) == 0);
    CHECK(hookd_metrics_start(&cfg, 1, err) == HOOKD_EINVAL); /* once per process */

    size_t n = 0;
    const struct hookd_route *routes = hookd_metrics_routes(&n);
    CHECK(n == 3);
    struct hookd_server_opts opts = {.addr = "127.0.0.1:0"};
    struct hookd_server *srv = NULL;
    int rc = hookd_server_start(&opts, routes, n, &srv, err);
    if (rc != 0)
        fprintf(stderr, "  server: %s\n", err);
    CHECK(rc == 0);
    int port = srv ? hookd_server_port(srv) : -1;

    r = get(port, "GET", "/healthz");
    CHECK(starts(r, "HTTP/1.1 200 OK\r\n") && strcmp(body_of(r), "ok\n") == 0);
    free(r);
    hookd_metrics_set_loops(1);
    r = get(port, "GET", "/readyz");
    CHECK(starts(r, "HTTP/1.1 503 ") && strcmp(body_of(r), "redis down\n") == 0);
    free(r);
    hookd_metrics_set_redis_up(0, 1);
    r = get(port, "GET", "/readyz");
    CHECK(starts(r, "HTTP/1.1 200 OK\r\n") && strcmp(body_of(r), "ready\n") == 0);
    free(r);
    r = get(port, "GET", "/metrics?x=1");
    CHECK(starts(r, "HTTP/1.1 200 OK\r\n"));
    CHECK(r && strstr(r, "Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"));
    CHECK(r && exposition_ok(body_of(r)));
    CHECK(r && has_line(body_of(r), "hookd_redis_up 1"));
    /* Redis unreachable: no depth samples, but the family is there */
    CHECK(r && strstr(r, "# TYPE hookd_queue_depth gauge") && !strstr(r, "hookd_queue_depth{"));
    free(r);
    r = get(port, "GET", "/nope");
    CHECK(starts(r, "HTTP/1.1 404 "));
    free(r);
    r = get(port, "POST", "/metrics");
    CHECK(starts(r, "HTTP/1.1 405 "));
    free(r);
    hookd_metrics_set_draining();
    r = get(port, "GET", "/readyz");
    CHECK(starts(r, "HTTP/1.1 503 ") && strcmp(body_of(r), "draining\n") == 0);
    free(r);
    r = get(port, "GET", "/healthz");
    CHECK(starts(r, "HTTP/1.1 200 OK\r\n"));
    free(r);
    r = get(port, "GET", "/metrics");
    CHECK(r && has_line(body_of(r), "hookd_draining 1"));
    free(r);

    hookd_server_stop(srv);
    CHECK(get(port, "GET", "/healthz") == NULL); /* stopped: nothing listens */
    hookd_metrics_stop();
    hookd_metrics_stop();
    /* and the reader starts again after a stop */
    CHECK(hookd_metrics_start(&cfg, 1, err) == 0);
    hookd_metrics_stop();
    hookd_config_free(&cfg);
}

int main(void)
{
    test_checker();
    test_fresh();
    test_counters();
    test_histograms();
    test_gauges();
    test_render_cap();
    test_threads();
    test_promtool();
    test_serve(); /* last: it marks the process as draining */
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
