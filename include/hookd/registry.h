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
#include "hookd/webhook.h"

struct hookd_registry; /* opaque, refcounted */

struct hookd_registry *hookd_registry_new(void);
void hookd_registry_retain(struct hookd_registry *r);
/* Drops one reference; the last one frees the registry and its webhooks. */
void hookd_registry_release(struct hookd_registry *r);

/* Adds one webhook from the field/value pairs of its record (see
 * hookd_webhook_parse(); lens NULL means every string is a C string).
 * Returns 0 when it was added valid, HOOKD_EINVAL with the reason in errbuf
 * when it was added marked invalid (its invalid field says why, and fan-out
 * still finds it), and HOOKD_EINVAL or HOOKD_ENOMEM when nothing was added:
 * an id that is not 1..128 bytes of [A-Za-z0-9_.:-], or one added already
 * (then hookd_registry_find() tells the two failures apart). */
int hookd_registry_add(struct hookd_registry *r, const char *id, const char *const *kv,
                       const size_t *lens, size_t nkv, char *errbuf);
/* Adds webhook id as one whose record could not be read at all (reason
 * from hookd_webhook_problem()): only events that name it find it. Returns
 * 0, or HOOKD_EINVAL / HOOKD_ENOMEM as hookd_registry_add() when nothing
 * was added. */
int hookd_registry_add_unreadable(struct hookd_registry *r, const char *id, const char *reason,
                                  char *errbuf);

size_t hookd_registry_count(const struct hookd_registry *r);
/* Webhooks marked invalid. */
size_t hookd_registry_invalid(const struct hookd_registry *r);
const struct hookd_webhook *hookd_registry_at(const struct hookd_registry *r, size_t i);
const struct hookd_webhook *hookd_registry_find(const struct hookd_registry *r, const char *id);

/* Fan-out: the enabled webhooks that should receive env, in registry order,
 * invalid ones included (the caller puts their deliveries to the dead list).
 * Writes up to max pointers into out (valid while the registry is retained)
 * and returns how many. Workspace and webhook narrowing follow
 * docs/producers.md; an envelope that names a webhook is the caller's to
 * judge first (hookd_registry_find()), as it goes to the dead list when that
 * webhook is missing or disabled. */
size_t hookd_fanout(const struct hookd_registry *r, const struct hookd_envelope *env,
                    const struct hookd_webhook **out, size_t max);

/* The delivery id for (event id, webhook id): "msg_" + 32 hex of
 * sha256(event_id "\n" webhook_id). Stable across retries and re-reads. */
void hookd_delivery_id(const char *event_id, const char *webhook_id, char out[37]);

#endif
