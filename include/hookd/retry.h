/* retry.h - what a failed attempt leads to, and when the next one is due. */
#ifndef HOOKD_RETRY_H
#define HOOKD_RETRY_H

#include <stdint.h>

/* Backoff policy: delay(n) = min(max, base * factor^(n-1)) with +-jitter. */
struct hookd_retry_policy {
    int64_t base_ms;  /* delay after the first failed attempt */
    double factor;    /* growth per attempt */
    int64_t max_ms;   /* cap on one delay */
    int max_attempts; /* attempts in all before the dead list */
    double jitter;    /* 0.2 means +-20% */
};

/* Delay before attempt n+1 after attempt n (n >= 1) failed. r is a uniform
 * random number in [0, 1) supplied by the caller, so that tests are exact. */
int64_t hookd_retry_delay(const struct hookd_retry_policy *p, int attempt, double r);

/* Parses a Retry-After value: delta seconds ("120") or an HTTP-date
 * ("Wed, 21 Oct 2015 07:28:00 GMT"), relative to now_ms. Returns the delay in
 * ms clamped to [p->base_ms, p->max_ms], or -1 when the value is not valid.
 * Values longer than 64 bytes are invalid. */
int64_t hookd_retry_after_parse(const struct hookd_retry_policy *p, const char *value,
                                int64_t now_ms);

enum hookd_outcome {
    HOOKD_OUTCOME_OK = 0,    /* 2xx: acknowledged */
    HOOKD_OUTCOME_RETRY = 1, /* failure: schedule the next attempt */
    HOOKD_OUTCOME_DEAD = 2,  /* out of attempts: to the dead list */
    HOOKD_OUTCOME_GONE = 3,  /* 410: disable the webhook, delivery dead */
};

/* Classifies one attempt. status is the HTTP status, or 0 when the attempt
 * failed before a status arrived (timeout, refused, forbidden address).
 * attempt is the number of the attempt just made (1-based). */
enum hookd_outcome hookd_retry_classify(const struct hookd_retry_policy *p, long status,
                                        int attempt);

#endif
