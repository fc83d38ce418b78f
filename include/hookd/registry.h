/* registry.h - the webhooks a worker delivers to, and which events each wants.
 *
 * Webhooks live in Redis (hash "{prefix}:webhook:<id>", set
 * "{prefix}:webhooks", counter "{prefix}:webhooks:rev"). A registry is an
 * immutable snapshot of them, built from the hashes' field/value pairs and
 * shared read-only by the code of one loop. Filters follow Twenty:
 * "object.action", "*.action", "object.*", "*.*". */
#ifndef HOOKD_REGISTRY_H
#define HOOKD_REGISTRY_H

#include <stddef.h>
#include <stdint.h>

#include "hookd/common.h"
#include "hookd/envelope.h"
#include "hookd/sign.h"

#define HOOKD_FILTERS_MAX 64

enum hookd_signing {
    HOOKD_SIGN_TWENTY = 1,   /* X-Twenty-Webhook-* headers (always on) */
    HOOKD_SIGN_STANDARD = 2, /* also webhook-timestamp / webhook-signature */
};

/* One webhook. All strings are owned by the registry that holds it. */
struct hookd_webhook {
    char *id;                        /* the id after "webhook:" */
    char *url;                       /* http(s) URL, checked */
    char hostkey[300];               /* "scheme://host:port", for per-host limits */
    struct hookd_signer *signer;     /* prepared from the secret's bytes */
    struct hookd_signer *std_signer; /* Standard Webhooks key: the decoded base64
                                      * of a "whsec_" secret; NULL: use signer */
    char *workspace;                 /* "" for none */
    char *events[HOOKD_FILTERS_MAX]; /* filters, e.g. "person.*" */
    int nevents;                     /* filters used */
    int enabled;                     /* 0 when disabled (by hand, or by a 410) */
    int signing;                     /* HOOKD_SIGN_* bits */
    int64_t timeout_ms;              /* per-webhook override, 0 for the global */
    int64_t connect_timeout_ms;      /* per-webhook override, 0 for the global */
};

struct hookd_registry; /* opaque, refcounted */

struct hookd_registry *hookd_registry_new(void);
void hookd_registry_retain(struct hookd_registry *r);
/* Drops one reference; the last one frees the registry and its webhooks. */
void hookd_registry_release(struct hookd_registry *r);

/* Adds one webhook from the field/value pairs of its hash (kv[0] field,
 * kv[1] value, ... nkv strings in all). A webhook whose fields are invalid
 * is skipped with HOOKD_EINVAL and a reason in errbuf; the registry stays
 * usable. */
int hookd_registry_add(struct hookd_registry *r, const char *id, const char *const *kv, size_t nkv,
                       char *errbuf);

size_t hookd_registry_count(const struct hookd_registry *r);
const struct hookd_webhook *hookd_registry_at(const struct hookd_registry *r, size_t i);
const struct hookd_webhook *hookd_registry_find(const struct hookd_registry *r, const char *id);

/* 1 when the event name ("person.created") passes one filter. */
int hookd_filter_match(const char *filter, const char *event);
/* Checks a comma-separated filter list for `webhook add --events`. */
int hookd_filter_list_check(const char *list, char *errbuf);

/* Fan-out: the enabled webhooks that should receive env, in registry order.
 * Writes up to max pointers into out (valid while the registry is retained)
 * and returns how many. Workspace and webhook narrowing follow
 * docs/producers.md. */
size_t hookd_fanout(const struct hookd_registry *r, const struct hookd_envelope *env,
                    const struct hookd_webhook **out, size_t max);

/* The delivery id for (event id, webhook id): "msg_" + 32 hex of
 * sha256(event_id "\n" webhook_id). Stable across retries and re-reads. */
void hookd_delivery_id(const char *event_id, const char *webhook_id, char out[37]);

#endif
