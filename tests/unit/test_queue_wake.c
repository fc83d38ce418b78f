/* test_queue_wake.c - the wake connection without a Redis to wake it: the
 * wait is refused while it is down, its failures are told once however often
 * it reconnects, and closing ends both connections at once. */
#include "hookd/queue.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check.h"

struct seen {
    int wake_errors;   /* on_error about the wake connection */
    int main_errors;   /* on_error about the main connection */
    int wakes;         /* on_wake calls */
    int states;        /* on_state calls */
    int closed;        /* on_closed calls */
    int wait_rc;       /* hookd_queue_wait() before closing */
    int wait_after_rc; /* hookd_queue_wait() after closing */
    struct hookd_queue *q;
};

static void on_take(void *data, const struct hookd_item *items, size_t n, int64_t now)
{
    (void)data, (void)items, (void)n, (void)now;
}

static void on_registry(void *data, struct hookd_registry *reg, size_t skipped)
{
    (void)data, (void)reg, (void)skipped;
}

static void on_state(void *data, int up)
{
    (void)up;
    ((struct seen *)data)->states++;
}

static void on_error(void *data, const char *msg)
{
    struct seen *s = data;
    if (strstr(msg, "wake connection"))
        s->wake_errors++;
    else
        s->main_errors++;
}

static void on_closed(void *data)
{
    ((struct seen *)data)->closed++;
}

static void on_wake(void *data)
{
    ((struct seen *)data)->wakes++;
}

/* A loopback port nothing listens on: bound, then closed. */
static int dead_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) != 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    close(fd);
    return ntohs(a.sin_port);
}

/* After several reconnects of both connections: try a wait, then close. */
static void on_later(uv_timer_t *t)
{
    struct seen *s = t->data;
    s->wait_rc = hookd_queue_wait(s->q);
    hookd_queue_close(s->q, 100);
    s->wait_after_rc = hookd_queue_wait(s->q);
    uv_close((uv_handle_t *)t, NULL);
}

static void test_refused(void)
{
    struct hookd_config cfg;
    char err[HOOKD_ERRLEN], url[64];
    int port = dead_port();
    CHECK(port > 0);
    CHECK(hookd_config_init(&cfg) == 0);
    snprintf(url, sizeof(url), "redis://127.0.0.1:%d/0", port);
    CHECK(hookd_config_set(&cfg, "redis-url", url, err) == 0);

    uv_loop_t loop;
    CHECK(uv_loop_init(&loop) == 0);
    struct seen s = {0};
    struct hookd_queue_cbs cbs = {.on_take = on_take,
                                  .on_registry = on_registry,
                                  .on_state = on_state,
                                  .on_error = on_error,
                                  .on_closed = on_closed,
                                  .on_wake = on_wake};
    CHECK(hookd_queue_new(&loop, &cfg, &cbs, &s, &s.q) == 0);
    CHECK(hookd_queue_wait(s.q) == HOOKD_EREDIS); /* still connecting */
    CHECK(hookd_queue_next_due(s.q) == -1);
    uv_timer_t later;
    uv_timer_init(&loop, &later);
    later.data = &s;
    /* Reconnects at 100, 300 and 700 ms: three or four failures each. */
    uv_timer_start(&later, on_later, 800, 0);
    uv_run(&loop, UV_RUN_DEFAULT);

    CHECK(s.wait_rc == HOOKD_EREDIS);
    CHECK(s.wait_after_rc == HOOKD_EREDIS);
    CHECK(s.main_errors >= 3); /* the main connection tells every failure */
    CHECK(s.wake_errors == 1); /* the wake connection tells the first only */
    CHECK(s.wakes == 0);       /* no wait was on: nobody to tell */
    CHECK(s.states == 0);      /* never up */
    CHECK(s.closed == 1);
    if (s.main_errors < 3 || s.wake_errors != 1)
        fprintf(stderr, "main errors %d, wake errors %d\n", s.main_errors, s.wake_errors);
    hookd_queue_free(s.q);
    CHECK(uv_loop_close(&loop) == 0); /* every handle of both connections closed */
    hookd_config_free(&cfg);
}

int main(void)
{
    test_refused();
    return CHECK_REPORT();
}
