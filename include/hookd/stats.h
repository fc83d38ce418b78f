/* stats.h - one reading of a namespace: its queue depths, its counters
 * ({P}:stats), the age of its oldest waiting event, and the fleet's view of
 * each receiver host ({P}:health, docs/health.md). For `hookd stats`,
 * `webhook show` and the API. Nothing here prints. */
#ifndef HOOKD_STATS_H
#define HOOKD_STATS_H

#include <stddef.h>
#include <stdint.h>

#include "hookd/config.h"
#include "hookd/health.h"

struct redisContext;
struct json_t;

#define HOOKD_STATS_COUNTERS_MAX 256 /* counters of {P}:stats read, at most */
#define HOOKD_STATS_HOSTS 20         /* hosts a reading shows, the busiest */

enum { HOOKD_STATS_DEPTH_COUNT = 5 };
/* The names of the depths: events, retry, dead, inflight, webhooks. */
extern const char *const HOOKD_STATS_DEPTHS[HOOKD_STATS_DEPTH_COUNT];

/* One reading; owns its names and hosts (free with hookd_stats_free()). */
struct hookd_stats_sample {
    long long depth[HOOKD_STATS_DEPTH_COUNT];   /* in the order of HOOKD_STATS_DEPTHS */
    char *names[HOOKD_STATS_COUNTERS_MAX];      /* counter names, sorted, malloc'ed */
    long long values[HOOKD_STATS_COUNTERS_MAX]; /* their values */
    int ncounters;                              /* entries of names and values */
    int64_t at_ms;                              /* when it was read */
    double oldest_age;               /* seconds since the oldest waiting event's timestamp;
                                      * < 0 when unknown */
    long long parked;                /* deliveries parked for their host or webhook */
    struct hookd_host_health *hosts; /* the fleet's view of each host, busiest first */
    size_t nhosts;                   /* entries of hosts */
};

/* Reads depths and counters with one pipeline, then the hosts. Counters
 * that are not whole numbers are left out. Returns 0, or HOOKD_EREDIS with
 * the reason in errbuf; free s either way. */
int hookd_stats_read(struct redisContext *c, const struct hookd_config *cfg,
                     struct hookd_stats_sample *s, char *errbuf);

void hookd_stats_free(struct hookd_stats_sample *s);

/* Per-second rate of counter i of cur against prev, or -1 when prev lacks
 * it or the counter went back (reset). */
double hookd_stats_rate(const struct hookd_stats_sample *cur, const struct hookd_stats_sample *prev,
                        int i);

/* The reading as JSON (docs/cli.md, `stats --json`), with "rates" when prev
 * is given; NULL when out of memory. The caller releases it. */
struct json_t *hookd_stats_json(const struct hookd_stats_sample *s,
                                const struct hookd_stats_sample *prev);

/* Adds one namespace's reading (hookd_stats_json()) to total, a JSON
 * object: depths, parked and each counter summed, the oldest event's age
 * the largest; hosts are each namespace's own and stay out. 0, or
 * HOOKD_EINVAL / HOOKD_ENOMEM. */
int hookd_stats_sum(struct json_t *total, const struct json_t *one);

/* The fleet's view of the receiver hosts, from the fresh records of
 * {P}:health, busiest first, at most max of them, only host when it is not
 * NULL: a JSON array (the caller releases it), or NULL with the reason in
 * err (HOOKD_ERRLEN bytes). */
struct json_t *hookd_stats_hosts(struct redisContext *c, const struct hookd_config *cfg,
                                 const char *host, size_t max, char *err);

#endif
