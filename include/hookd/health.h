/* health.h - what hookd learns about one receiver host, and the shared
 * circuit record.
 *
 * A limiter learns how many attempts a host takes at once, the way TCP
 * learns its window (docs/health.md says why this one): it starts at
 * HOOKD_LIMIT_INITIAL, doubles each round trip while answers succeed (slow
 * start), then grows by one per round trip; it shrinks multiplicatively on a
 * pace signal (429, 503, latency well above the host's best) or harder on a
 * failure that holds a slot (timeout, connection error), at most once per
 * round trip, since the answers already in flight were sent under the old
 * limit. It only grows while the limit is what holds the host back.
 *
 * A circuit record is the fleet's shared view of a host whose circuit is
 * open: the value of one field of {P}:circuit, "<open_until_ms>
 * <probe_interval_ms> <opened_at_ms>", Redis' clock. This module owns that
 * format; the Lua that writes it lives in queue.c and follows it.
 *
 * Everything here is pure: no I/O, no clock of its own, one thread. */
#ifndef HOOKD_HEALTH_H
#define HOOKD_HEALTH_H

#include <stddef.h>
#include <stdint.h>

#include "hookd/common.h"

#define HOOKD_LIMIT_INITIAL 10 /* attempts in flight a new host gets */
#define HOOKD_LIMIT_WINDOW_MS                                                                      \
    30000 /* the host's best latency is the least of the last 1-2 windows */
#define HOOKD_CIRCUIT_RECORD_MAX 64 /* bytes of a circuit record, at most */
#define HOOKD_HOSTKEY_MAX 300       /* "scheme://host:port", NUL included */

/* What one finished attempt says about its host. */
enum hookd_signal {
    HOOKD_SIGNAL_OK,    /* 2xx: grow while the latency holds */
    HOOKD_SIGNAL_SLOW,  /* 429 or 503: the host is over its capacity */
    HOOKD_SIGNAL_FAIL,  /* timeout or connection error: a slot was held for nothing */
    HOOKD_SIGNAL_OTHER, /* any other answer: says nothing about pace */
};

struct hookd_limit {
    double limit;        /* attempts in flight allowed, >= 1 */
    int max;             /* the cap, host-concurrency's share */
    int slow_start;      /* 1 until the first cut */
    double latency_ms;   /* moving mean of successful attempts' latency */
    int samples;         /* successes seen, up to the count that settles the mean */
    double best_ms;      /* least moving mean of the current window, 0 for none yet */
    double best_prev_ms; /* least moving mean of the window before, 0 for none */
    int64_t window_at;   /* when the current window began */
    int64_t cut_at;      /* when the limit was last cut */
    int64_t cuts;        /* cuts so far */
};

/* Starts a limiter at HOOKD_LIMIT_INITIAL (or max when lower). */
void hookd_limit_init(struct hookd_limit *l, int max);

/* Feeds one finished attempt: its signal, its latency, and the attempts that
 * were in flight to the host when it started (itself included), which says
 * whether the limit was what held the host back. */
void hookd_limit_sample(struct hookd_limit *l, int64_t now_ms, enum hookd_signal s,
                        int64_t latency_ms, int inflight);

/* Attempts in flight allowed now, 1..max. */
int hookd_limit_get(const struct hookd_limit *l);

/* The host's best recent latency, 0 when none is known. */
double hookd_limit_baseline(const struct hookd_limit *l);

/* The signal an attempt's outcome gives: status is the HTTP status, 0 when
 * none arrived; timed_out is 1 for a timeout. */
enum hookd_signal hookd_signal_of(long status, int timed_out);

/* One open circuit, as {P}:circuit holds it. */
struct hookd_circuit {
    int64_t open_until; /* the next probe is due then (half-open after) */
    int64_t interval;   /* the probe interval that led to open_until */
    int64_t opened_at;  /* when the circuit opened */
};

/* Parses a circuit record of len bytes (not NUL-terminated); HOOKD_ETOOBIG
 * past HOOKD_CIRCUIT_RECORD_MAX, HOOKD_EINVAL with the reason in err
 * (HOOKD_ERRLEN bytes) for anything but three decimal integers >= 0. */
int hookd_circuit_parse(const char *s, size_t len, struct hookd_circuit *c, char *err);

#define HOOKD_HEALTH_RECORD_MAX 1024 /* bytes of a {P}:health value, at most */
#define HOOKD_INSTANCE_MAX 128       /* "<hostname>:<pid>/<loop>", NUL included */
#define HOOKD_HEALTH_STALE_MS 6000   /* a record not rewritten this long is a gone loop's */

/* One worker loop's view of one receiver host: the value of one field of
 * {P}:health ("<instance> <host key>"), a JSON object this module writes
 * and reads. Times are Redis' clock in ms. */
struct hookd_host_health {
    char host[HOOKD_HOSTKEY_MAX];         /* the host key */
    char instance[HOOKD_INSTANCE_MAX];    /* the loop that wrote it */
    char state[12];                       /* "closed", "open" or "half-open" */
    int64_t limit, max, inflight, queued; /* the learned limit, its cap, attempts now */
    int64_t ok, failed;                   /* answers in the last minutes */
    double latency_ms, baseline_ms;       /* moving mean, and the best recent one */
    int64_t paused_until;                 /* a Retry-After pause ends, 0 for none */
    int64_t updated_at;                   /* when it was written */
};

/* Writes h as a record into out (cap bytes, NUL included); returns its
 * length, or HOOKD_ETOOBIG when it does not fit. */
int hookd_health_encode(const struct hookd_host_health *h, char *out, size_t cap);

/* Reads a record of len bytes; HOOKD_ETOOBIG past HOOKD_HEALTH_RECORD_MAX,
 * HOOKD_EINVAL with the reason in err (HOOKD_ERRLEN bytes) for anything
 * else than an object with a valid host key and a known state. Fields it
 * does not know are ignored; missing numbers are 0. */
int hookd_health_parse(const char *s, size_t len, struct hookd_host_health *h, char *err);

/* Folds one loop's record of a host into the fleet's view of it, into:
 * counts add up, latency is weighed by successes, the best latency is the
 * least, the state is the worst (open, then half-open, then closed). */
void hookd_health_merge(struct hookd_host_health *into, const struct hookd_host_health *one);

/* Merges the n records of rows per host, in place, and orders them busiest
 * first (in flight plus queued, then by host); returns how many remain. */
size_t hookd_health_fold(struct hookd_host_health *rows, size_t n);

/* The host key of a circuit field, checked: 1..HOOKD_HOSTKEY_MAX-1 bytes of
 * printable ASCII. 1 when valid. */
int hookd_hostkey_valid(const char *s, size_t len);

#endif
