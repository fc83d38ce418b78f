/* catalog.h - the webhooks in Redis, for the CLI and the API alike.
 *
 * Webhooks are hashes "{P}:webhook:<id>" listed in the set "{P}:webhooks";
 * every change bumps "{P}:webhooks:rev" in the same atomic step, so that
 * workers reload. A change reads the record under WATCH, judges the record
 * it would leave with hookd_webhook_parse() (the worker's own judge, so that
 * nothing is written that the worker could not deliver to), and writes it
 * with one Lua script in MULTI/EXEC, which also refuses an existing id for
 * an add and a missing one for an update; a record changed meanwhile is read
 * again. Nothing here prints: results are JSON (jansson) the caller
 * releases, failures a HOOKD_E* code with the reason in errbuf. */
#ifndef HOOKD_CATALOG_H
#define HOOKD_CATALOG_H

#include <stddef.h>
#include <stdint.h>

#include "hookd/config.h"
#include "hookd/webhook.h"

struct redisContext;
struct json_t;

#define HOOKD_CATALOG_PAGE_MAX 1000 /* webhooks in one page */
/* How long a rotate-secret keeps the old secret signing: by default, at most. */
#define HOOKD_CATALOG_GRACE_DEFAULT_MS (24 * 3600 * INT64_C(1000))
#define HOOKD_CATALOG_GRACE_MAX_MS (30 * 24 * 3600 * INT64_C(1000))

/* What an add or an update sets. NULL strings and negative numbers are
 * left as they are; the record the change leaves is judged whole. */
struct hookd_catalog_change {
    const char *url;             /* http or https receiver */
    const char *secret;          /* the signing secret; see draw_secret */
    const char *events;          /* comma list of filters, blanks around items allowed */
    const char *workspace;       /* "" for every workspace */
    const char *description;     /* text for people */
    const char *signing;         /* "twenty" or "standard" */
    int enabled;                 /* 1 enables (and forgets why it was disabled), 0 disables */
    const char *disabled_reason; /* with enabled 0: why, for people */
    int64_t timeout_ms;          /* the webhook's attempt timeout (0: the worker's) */
    int64_t connect_timeout_ms;  /* its connect timeout (0: the worker's) */
    int draw_secret;             /* 1: draw a secret fit for the signing (add, rotate) */
    int rotate;                  /* 1: a rotate-secret; the old secret signs for grace_ms */
    int64_t grace_ms;            /* with rotate: 0..HOOKD_CATALOG_GRACE_MAX_MS, 0 drops it */
};

/* A change that sets nothing; fill in what to set. */
void hookd_catalog_change_init(struct hookd_catalog_change *ch);

/* Draws a webhook id ("wh_" and 16 hex digits) into out (HOOKD_ID_MAX + 1
 * bytes). Returns 0 or HOOKD_ECRYPTO. */
int hookd_catalog_id_new(char *out);

/* Writes change ch to webhook id: mode "add" refuses an existing id
 * (HOOKD_EEXIST), "update" a missing one (HOOKD_ENOTFOUND). A rotate keeps
 * the secret it replaces as secret_previous until now + grace_ms
 * (secret_previous_until, ms); a grace of 0, or any write once that time
 * has passed, drops both fields. A field the
 * change gets wrong, or a record the worker could not deliver to, is
 * HOOKD_EINVAL with the reason. On success *out is the webhook as
 * hookd_catalog_get() shows it, its secret shown when show_secret. */
int hookd_catalog_put(struct redisContext *c, const struct hookd_config *cfg, const char *mode,
                      const char *id, const struct hookd_catalog_change *ch, int show_secret,
                      struct json_t **out, char *errbuf);

/* The webhook id as JSON (docs/cli.md): its fields, "valid" and
 * "invalid_reason" as the worker judges it, and, with detail, "health" (the
 * fleet's view of its host) and "parked". Secrets, the URL's credentials
 * and its query values are hidden unless show_secret. HOOKD_ENOTFOUND when
 * there is no such webhook. */
int hookd_catalog_get(struct redisContext *c, const struct hookd_config *cfg, const char *id,
                      int show_secret, int detail, struct json_t **out, char *errbuf);

/* Up to limit webhooks (1..HOOKD_CATALOG_PAGE_MAX) in *out (an array),
 * sorted by id, those after the id after (NULL or "": from the first);
 * also members of the set whose record is missing or not a hash, shown
 * invalid. *more is 1 when others follow the last one. */
int hookd_catalog_list(struct redisContext *c, const struct hookd_config *cfg, const char *after,
                       size_t limit, int show_secret, struct json_t **out, int *more, char *errbuf);

/* Deletes webhook id (also a record that is not a hash). HOOKD_ENOTFOUND
 * when there was none. */
int hookd_catalog_delete(struct redisContext *c, const struct hookd_config *cfg, const char *id,
                         char *errbuf);

/* What hookd_catalog_state() found. */
enum hookd_catalog_state {
    HOOKD_CATALOG_OK = 0,   /* a webhook the worker delivers to */
    HOOKD_CATALOG_MISSING,  /* no such webhook */
    HOOKD_CATALOG_DISABLED, /* valid, but disabled */
    HOOKD_CATALOG_INVALID,  /* its record cannot be delivered to; why says why */
};

/* Reads and judges webhook id as the worker would. Returns a
 * HOOKD_CATALOG_* state, or HOOKD_EREDIS with the reason in why
 * (HOOKD_ERRLEN bytes). */
int hookd_catalog_state(struct redisContext *c, const struct hookd_config *cfg, const char *id,
                        char *why);

/* The newest attempts of webhook id, at most limit (1..100000), newest
 * first, before the log entry id before (NULL or "": from the newest): an
 * array of the attempt log entries (job.h), each with "entry_id". *more is
 * 1 when older ones follow. */
int hookd_catalog_attempts(struct redisContext *c, const struct hookd_config *cfg, const char *id,
                           const char *before, size_t limit, struct json_t **out, int *more,
                           char *errbuf);

/* Sends a test event (HOOKD_EVENT_TEST, which the webhook gets whatever it
 * filters) to webhook id through the queue, as any event, and waits up to
 * wait_ms for a worker's first attempt: *out is that attempt's log entry
 * (status, ms, error). HOOKD_ENOTFOUND, HOOKD_EEXIST (disabled),
 * HOOKD_EINVAL (invalid), or HOOKD_ERANGE when no attempt came in time. */
int hookd_catalog_test(struct redisContext *c, const struct hookd_config *cfg, const char *id,
                       int64_t wait_ms, struct json_t **out, char *errbuf);

#endif
