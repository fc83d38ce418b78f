/* scripts.h - the Lua scripts hookd runs in Redis (scripts.c, where each
 * one's KEYS/ARGV contract is written beside it). */
#ifndef HOOKD_SCRIPTS_H
#define HOOKD_SCRIPTS_H

enum hookd_script_id {
    /* The loops' (queue.c): loaded by SCRIPT LOAD at every connect, run by
     * EVALSHA. */
    HOOKD_S_TAKE,     /* leases expired work, due retries and new events */
    HOOKD_S_SETTLE,   /* acks, retries, dead letters, parks, circuits, counters */
    HOOKD_S_RENEW,    /* extends leases still held */
    HOOKD_S_REGISTRY, /* every webhook, when the revision changed */
    HOOKD_S_TEND,     /* circuits, probes and the parked sweep */
    /* The CLI's and the API's (stats.c, catalog.c, backlog.c), sent by EVAL. */
    HOOKD_S_HOSTS,          /* parked deliveries and health records, for `hosts` */
    HOOKD_S_REPLAY,         /* one dead record back to work */
    HOOKD_S_OLDEST,         /* the oldest waiting envelope, within a cap */
    HOOKD_S_PURGE,          /* empties the dead list */
    HOOKD_S_WEBHOOK_PUT,    /* adds or updates a webhook */
    HOOKD_S_WEBHOOK_DEL,    /* removes a webhook */
    HOOKD_S_WEBHOOK_RECORD, /* one webhook's record, as the worker reads it */
    HOOKD_S_WEBHOOK_SHOW,   /* the same, or nil for an unknown id */
    HOOKD_S_WEBHOOK_ALL,    /* every webhook, as the worker reads them */
    HOOKD_S_WEBHOOK_PAGE,   /* a page of webhooks, sorted by id */
    /* The backlog's (backlog.c), sent by EVAL. */
    HOOKD_S_DEAD_PAGE,    /* a range of dead records, each within a cap */
    HOOKD_S_DEAD_REMOVE,  /* some dead records, by value */
    HOOKD_S_RETRY_PAGE,   /* a range of waiting retries with their jobs, within a cap */
    HOOKD_S_RETRY_NOW,    /* one waiting retry made due now */
    HOOKD_S_RETRY_DELETE, /* one waiting retry dropped */
    HOOKD_S_COUNT
};
#define HOOKD_S_LOOP_COUNT (HOOKD_S_TEND + 1) /* the scripts a loop loads */

/* Limits the scripts and their callers share. */
#define HOOKD_SCRIPT_CIRCUIT_MAX 10000 /* open circuits the tend script reads at most */
#define HOOKD_SCRIPT_SWEEP_MAX 1000    /* parked deliveries one host's sweep moves */
#define HOOKD_SCRIPT_PROBES_MAX 16     /* probes one tend claims (x3 reply elements) */

/* The script's text; static, never NULL. */
const char *hookd_script(enum hookd_script_id id);

#endif
