/* schema.h - the names of every key hookd keeps in Redis.
 *
 * Every key of a namespace P is "{P}:" and a suffix, one hash tag, so that
 * the whole namespace lives in one cluster slot and every script stays
 * atomic. This table is the one place that spells a suffix; the Lua
 * scripts, which build per-id keys from the prefix in Redis, are in
 * scripts.h, and the records the keys hold are in job.h (jobs, dead
 * records), webhook.h (webhook records) and health.h (circuits, health). */
#ifndef HOOKD_SCHEMA_H
#define HOOKD_SCHEMA_H

#define HOOKD_KEY_MAX 512

/* The suffixes of the per-id families, as macros so that the Lua scripts
 * (scripts.c), which build these keys in Redis, splice in the same text. */
#define HOOKD_SUFFIX_WEBHOOK_OF "webhook:"
#define HOOKD_SUFFIX_LOG_OF "log:"
#define HOOKD_SUFFIX_PARKED_OF "parked:"

/* One key, or (the _OF rows) a family of keys, one per id. */
enum hookd_key_id {
    HOOKD_K_EVENTS,       /* list: envelopes; producers LPUSH, workers take from the right */
    HOOKD_K_LEASES,       /* zset: token -> deadline (ms); past it, any worker may take it */
    HOOKD_K_JOBS,         /* hash: token -> payload of work leased or waiting to retry */
    HOOKD_K_RETRY,        /* zset: token -> due time (ms) of a delivery's next attempt */
    HOOKD_K_SEQ,          /* string: the counter that names event tokens */
    HOOKD_K_DEAD,         /* list: dead records (job.h), newest first */
    HOOKD_K_STATS,        /* hash: counters (delivered, retried, dead, ...) */
    HOOKD_K_WEBHOOKS_REV, /* string: bumped on every webhook change */
    HOOKD_K_WEBHOOKS,     /* set: webhook ids */
    HOOKD_K_CIRCUIT,      /* hash: receiver host -> circuit record (health.h) */
    HOOKD_K_CIRCUIT_REV,  /* string: bumped on every circuit change */
    HOOKD_K_PARKED,       /* set: hosts and webhooks with parked deliveries */
    HOOKD_K_HEALTH,       /* hash: worker -> its health record, for `hookd hosts` */
    HOOKD_K_OPS,          /* stream: operational events (webhook.disabled) */
    HOOKD_K_WEBHOOK_OF,   /* hash per webhook id: the webhook record (webhook.h) */
    HOOKD_K_LOG_OF,       /* stream per webhook id: one entry per attempt */
    HOOKD_K_PARKED_OF,    /* zset per host or "w:" webhook id: its parked deliveries */
    HOOKD_K_COUNT
};

/* What {P}:parked:<...> holds deliveries of a disabled webhook under:
 * HOOKD_PARK_WEBHOOK and its id. No host key begins so ("scheme://..."). */
#define HOOKD_PARK_WEBHOOK "webhook:"

/* Writes the key k of namespace prefix into out (HOOKD_KEY_MAX bytes):
 * "{prefix}:suffix". For an _OF family, the part before the id. */
void hookd_schema_key(char *out, const char *prefix, enum hookd_key_id k);

/* Writes the key of family k (an _OF row) for id: "{prefix}:log:<id>". */
void hookd_schema_key_of(char *out, const char *prefix, enum hookd_key_id k, const char *id);

/* The counters of {P}:stats (HINCRBY by the settle script). */
enum hookd_stat {
    HOOKD_STAT_EVENTS,          /* envelopes read */
    HOOKD_STAT_INVALID,         /* envelopes refused (to the dead list) */
    HOOKD_STAT_UNROUTED,        /* events no webhook wanted */
    HOOKD_STAT_DELIVERED,       /* deliveries a receiver took */
    HOOKD_STAT_FAILED_ATTEMPTS, /* attempts that failed */
    HOOKD_STAT_RETRIED,         /* deliveries put back to retry */
    HOOKD_STAT_DEAD,            /* deliveries to the dead list */
    HOOKD_STAT_GONE,            /* deliveries dropped for a webhook gone */
    HOOKD_STAT_COUNT
};

/* The field of {P}:stats counter s. */
const char *hookd_schema_stat(enum hookd_stat s);

#endif
