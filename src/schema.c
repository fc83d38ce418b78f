/* schema.c - the key table. */
#include "hookd/schema.h"

#include <stdio.h>

/* The suffix of each key after "{P}:", in the order of enum hookd_key_id. */
static const char *const SUFFIX[HOOKD_K_COUNT] = {
    [HOOKD_K_EVENTS] = "events",
    [HOOKD_K_LEASES] = "leases",
    [HOOKD_K_JOBS] = "jobs",
    [HOOKD_K_RETRY] = "retry",
    [HOOKD_K_SEQ] = "seq",
    [HOOKD_K_DEAD] = "dead",
    [HOOKD_K_STATS] = "stats",
    [HOOKD_K_WEBHOOKS_REV] = "webhooks:rev",
    [HOOKD_K_WEBHOOKS] = "webhooks",
    [HOOKD_K_CIRCUIT] = "circuit",
    [HOOKD_K_CIRCUIT_REV] = "circuit:rev",
    [HOOKD_K_PARKED] = "parked",
    [HOOKD_K_HEALTH] = "health",
    [HOOKD_K_OPS] = "ops",
    [HOOKD_K_WEBHOOK_OF] = HOOKD_SUFFIX_WEBHOOK_OF,
    [HOOKD_K_LOG_OF] = HOOKD_SUFFIX_LOG_OF,
    [HOOKD_K_PARKED_OF] = HOOKD_SUFFIX_PARKED_OF,
};

void hookd_schema_key(char *out, const char *prefix, enum hookd_key_id k)
{
    snprintf(out, HOOKD_KEY_MAX, "{%s}:%s", prefix, SUFFIX[k]);
}

void hookd_schema_key_of(char *out, const char *prefix, enum hookd_key_id k, const char *id)
{
    snprintf(out, HOOKD_KEY_MAX, "{%s}:%s%s", prefix, SUFFIX[k], id);
}

static const char *const STAT[HOOKD_STAT_COUNT] = {
    [HOOKD_STAT_EVENTS] = "events",
    [HOOKD_STAT_INVALID] = "invalid",
    [HOOKD_STAT_UNROUTED] = "unrouted",
    [HOOKD_STAT_DELIVERED] = "delivered",
    [HOOKD_STAT_FAILED_ATTEMPTS] = "failed_attempts",
    [HOOKD_STAT_RETRIED] = "retried",
    [HOOKD_STAT_DEAD] = "dead",
    [HOOKD_STAT_GONE] = "gone",
};

const char *hookd_schema_stat(enum hookd_stat s)
{
    return STAT[s];
}
