/* registry.c - an immutable, refcounted snapshot of the webhooks, and fan-out.
 *
 * Built once per reload by hookd_registry_add() calls, then only read. A
 * webhook whose record is invalid is kept, marked, so that the events it
 * would have had can be put to the dead list with the reason. Ids
 * are indexed by a small open-addressing hash table so that finding the
 * webhook of a retried delivery does not walk the whole list. */
#include "hookd/registry.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

struct hookd_registry {
    struct hookd_webhook *items; /* in the order added */
    size_t n;                    /* webhooks used */
    size_t cap;                  /* webhooks allocated */
    uint32_t *slots;             /* hash of id -> index + 1; 0 is empty */
    size_t nslots;               /* power of two, at least 2 * n, or 0 */
    size_t ninvalid;             /* webhooks marked invalid */
    atomic_int refs;             /* holders; the last release frees */
};

struct hookd_registry *hookd_registry_new(void)
{
    struct hookd_registry *r = calloc(1, sizeof(*r));
    if (r)
        atomic_init(&r->refs, 1);
    return r;
}

void hookd_registry_retain(struct hookd_registry *r)
{
    atomic_fetch_add_explicit(&r->refs, 1, memory_order_relaxed);
}

void hookd_registry_release(struct hookd_registry *r)
{
    if (!r || atomic_fetch_sub_explicit(&r->refs, 1, memory_order_acq_rel) != 1)
        return;
    for (size_t i = 0; i < r->n; i++)
        hookd_webhook_clear(&r->items[i]);
    free(r->items);
    free(r->slots);
    free(r);
}

size_t hookd_registry_count(const struct hookd_registry *r)
{
    return r->n;
}

size_t hookd_registry_invalid(const struct hookd_registry *r)
{
    return r->ninvalid;
}

const struct hookd_webhook *hookd_registry_at(const struct hookd_registry *r, size_t i)
{
    return i < r->n ? &r->items[i] : NULL;
}

/* Index (+1) slot of id in r->slots, or the empty slot where it would go.
 * Requires nslots > n, so an empty slot always exists. */
static uint32_t *slot_of(const struct hookd_registry *r, const char *id)
{
    size_t mask = r->nslots - 1, i = hookd_hash_str(id) & mask;
    for (;;) {
        uint32_t v = r->slots[i];
        if (v == 0 || strcmp(r->items[v - 1].id, id) == 0)
            return &r->slots[i];
        i = (i + 1) & mask;
    }
}

const struct hookd_webhook *hookd_registry_find(const struct hookd_registry *r, const char *id)
{
    if (!r->nslots || !id)
        return NULL;
    uint32_t v = *slot_of(r, id);
    return v ? &r->items[v - 1] : NULL;
}

/* Makes room for one more webhook in items and keeps the hash table at most
 * half full, rebuilding it when it grows. */
static int registry_grow(struct hookd_registry *r)
{
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 16;
        if (cap > UINT32_MAX / 2)
            return HOOKD_ERANGE;
        struct hookd_webhook *p = realloc(r->items, cap * sizeof(*p));
        if (!p)
            return HOOKD_ENOMEM;
        r->items = p;
        r->cap = cap;
    }
    if ((r->n + 1) * 2 > r->nslots) {
        size_t nslots = r->nslots ? r->nslots * 2 : 32;
        uint32_t *slots = calloc(nslots, sizeof(*slots));
        if (!slots)
            return HOOKD_ENOMEM;
        free(r->slots);
        r->slots = slots;
        r->nslots = nslots;
        for (size_t i = 0; i < r->n; i++)
            *slot_of(r, r->items[i].id) = (uint32_t)(i + 1);
    }
    return 0;
}

/* Checks that id can be added; 0, or HOOKD_EINVAL with the reason. */
static int id_check(const struct hookd_registry *r, const char *id, char *errbuf)
{
    char q[HOOKD_QUOTE_LEN];
    if (!hookd_id_valid(id))
        return hookd_fail(errbuf, HOOKD_EINVAL,
                          "webhook id \"%s\" is not 1..%d bytes of [A-Za-z0-9_.:-]",
                          hookd_quote(q, id ? id : "", id ? strlen(id) : 0), HOOKD_ID_MAX);
    if (hookd_registry_find(r, id))
        return hookd_fail(errbuf, HOOKD_EINVAL, "webhook %s: duplicate id", id);
    return 0;
}

/* Moves w, parsed already, into the registry; on failure frees it. */
static int insert(struct hookd_registry *r, struct hookd_webhook *w, char *errbuf)
{
    int rc = registry_grow(r);
    if (rc) {
        hookd_webhook_clear(w);
        return hookd_fail(errbuf, rc, "%s", hookd_strerror(rc));
    }
    r->items[r->n] = *w;
    *slot_of(r, r->items[r->n].id) = (uint32_t)(r->n + 1);
    r->ninvalid += r->items[r->n].invalid != NULL;
    r->n++;
    return 0;
}

int hookd_registry_add(struct hookd_registry *r, const char *id, const char *const *kv,
                       const size_t *lens, size_t nkv, char *errbuf)
{
    struct hookd_webhook w;
    size_t stack[2 * HOOKD_WEBHOOK_FIELDS_MAX], *heap = NULL;
    int rc;

    if ((rc = id_check(r, id, errbuf)) != 0)
        return rc;
    if (!lens) {
        if (nkv > sizeof(stack) / sizeof(stack[0]) && !(heap = malloc(nkv * sizeof(*heap))))
            return hookd_fail(errbuf, HOOKD_ENOMEM, "out of memory");
        size_t *l = heap ? heap : stack;
        for (size_t i = 0; i < nkv; i++)
            l[i] = strlen(kv[i]);
        lens = l;
    }
    char why[HOOKD_ERRLEN];
    rc = hookd_webhook_parse(&w, id, kv, lens, nkv, why);
    free(heap);
    if (rc == HOOKD_ENOMEM) {
        hookd_webhook_clear(&w);
        return hookd_fail(errbuf, rc, "webhook %s: out of memory", id);
    }
    int added = insert(r, &w, errbuf);
    return added ? added : rc ? hookd_fail(errbuf, rc, "webhook %s: %s", id, why) : 0;
}

int hookd_registry_add_unreadable(struct hookd_registry *r, const char *id, const char *reason,
                                  char *errbuf)
{
    struct hookd_webhook w;
    int rc;
    memset(&w, 0, sizeof(w));
    if ((rc = id_check(r, id, errbuf)) != 0)
        return rc;
    if ((rc = hookd_webhook_unreadable(&w, id, reason)) != 0) {
        hookd_webhook_clear(&w);
        return hookd_fail(errbuf, rc, "out of memory");
    }
    return insert(r, &w, errbuf);
}

/* 1 when w should receive env (enabled, workspace, filters); the webhook
 * narrowing is the caller's. */
static int webhook_wants(const struct hookd_webhook *w, const struct hookd_envelope *env)
{
    if (!w->enabled)
        return 0;
    /* A test event names its webhook, which gets it whatever it filters. */
    if (env->webhook[0] && strcmp(env->event, HOOKD_EVENT_TEST) == 0)
        return 1;
    if (w->workspace[0] && strcmp(w->workspace, env->workspace) != 0)
        return 0;
    for (int i = 0; i < w->nevents; i++) {
        if (hookd_filter_match(w->events[i], env->event))
            return 1;
    }
    return 0;
}

size_t hookd_fanout(const struct hookd_registry *r, const struct hookd_envelope *env,
                    const struct hookd_webhook **out, size_t max)
{
    size_t k = 0;
    if (env->webhook[0]) {
        const struct hookd_webhook *w = hookd_registry_find(r, env->webhook);
        if (w && max > 0 && webhook_wants(w, env))
            out[k++] = w;
        return k;
    }
    for (size_t i = 0; i < r->n && k < max; i++) {
        if (webhook_wants(&r->items[i], env))
            out[k++] = &r->items[i];
    }
    return k;
}

void hookd_delivery_id(const char *event_id, const char *webhook_id, char out[37])
{
    char stack[2 * HOOKD_ID_MAX + 2], *msg = stack, hex[65];
    size_t el = strlen(event_id), wl = strlen(webhook_id), n = el + 1 + wl;

    if (n > sizeof(stack) && !(msg = malloc(n))) {
        out[0] = '\0';
        return;
    }
    memcpy(msg, event_id, el);
    msg[el] = '\n';
    memcpy(msg + el + 1, webhook_id, wl);
    hookd_sha256_hex(msg, n, hex);
    if (msg != stack)
        free(msg);
    memcpy(out, "msg_", 4);
    memcpy(out + 4, hex, 32);
    out[36] = '\0';
}
