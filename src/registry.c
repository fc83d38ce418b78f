/* registry.c - an immutable, refcounted snapshot of the webhooks, and fan-out.
 *
 * Built once per reload by hookd_registry_add() calls, then only read. Ids
 * are indexed by a small open-addressing hash table so that finding the
 * webhook of a retried delivery does not walk the whole list. */
#include "hookd/registry.h"

#include <openssl/crypto.h>

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "hookd/net.h"

#define REG_PART_MAX 64
#define REG_SECRET_MAX 1024
#define REG_EVENTS_MAX 16384
#define REG_TIMEOUT_MAX 3600000
#define REG_QUOTE_MAX 64

struct hookd_registry {
    struct hookd_webhook *items; /* in the order added */
    size_t n;                    /* webhooks used */
    size_t cap;                  /* webhooks allocated */
    uint32_t *slots;             /* hash of id -> index + 1; 0 is empty */
    size_t nslots;               /* power of two, at least 2 * n, or 0 */
    atomic_int refs;
};

static int is_name_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
}

/* Renders at most REG_QUOTE_MAX bytes of s for an error message: printable
 * ASCII as is, other bytes as '?', "..." when cut. */
static void quote(char out[REG_QUOTE_MAX + 4], const char *s)
{
    size_t n = strnlen(s, REG_QUOTE_MAX + 1), k = n > REG_QUOTE_MAX ? REG_QUOTE_MAX : n;
    for (size_t i = 0; i < k; i++) {
        unsigned char c = (unsigned char)s[i];
        out[i] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
    }
    if (n > k)
        memcpy(out + k, "...", 4);
    else
        out[k] = '\0';
}

static uint32_t hash_id(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 16777619u;
    }
    return h;
}

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

static void webhook_free(struct hookd_webhook *w)
{
    free(w->id);
    free(w->url);
    free(w->workspace);
    for (int i = 0; i < w->nevents; i++)
        free(w->events[i]);
    hookd_signer_free(w->signer);
    hookd_signer_free(w->std_signer);
    memset(w, 0, sizeof(*w));
}

void hookd_registry_release(struct hookd_registry *r)
{
    if (!r || atomic_fetch_sub_explicit(&r->refs, 1, memory_order_acq_rel) != 1)
        return;
    for (size_t i = 0; i < r->n; i++)
        webhook_free(&r->items[i]);
    free(r->items);
    free(r->slots);
    free(r);
}

size_t hookd_registry_count(const struct hookd_registry *r)
{
    return r->n;
}

const struct hookd_webhook *hookd_registry_at(const struct hookd_registry *r, size_t i)
{
    return i < r->n ? &r->items[i] : NULL;
}

/* Index (+1) slot of id in r->slots, or the empty slot where it would go.
 * Requires nslots > n, so an empty slot always exists. */
static uint32_t *slot_of(const struct hookd_registry *r, const char *id)
{
    size_t mask = r->nslots - 1, i = hash_id(id) & mask;
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

/* 1 when s[0..n) is one side of a filter: "*" or 1..64 of [A-Za-z0-9_-]. */
static int filter_part_valid(const char *s, size_t n)
{
    if (n == 1 && s[0] == '*')
        return 1;
    if (n < 1 || n > REG_PART_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        if (!is_name_char((unsigned char)s[i]))
            return 0;
    }
    return 1;
}

/* 1 when s[0..n) is "object.action" with valid sides. */
static int filter_valid(const char *s, size_t n)
{
    const char *dot = memchr(s, '.', n);
    if (!dot)
        return 0;
    size_t ol = (size_t)(dot - s);
    return filter_part_valid(s, ol) && filter_part_valid(dot + 1, n - ol - 1);
}

/* Checks a comma list of filters (spaces around items ignored; "" or only
 * spaces means "*.*") and, when w is not NULL, stores a copy of each in w. */
static int filters_parse(const char *list, struct hookd_webhook *w, char *errbuf)
{
    char q[REG_QUOTE_MAX + 4];
    size_t len = strnlen(list, REG_EVENTS_MAX + 1);
    int count = 0;

    if (len > REG_EVENTS_MAX)
        return hookd_fail(errbuf, HOOKD_EINVAL, "events: list over %d bytes", REG_EVENTS_MAX);
    size_t start = 0;
    while (start < len && list[start] == ' ')
        start++;
    if (start == len) {
        list = "*.*";
        len = 3;
        start = 0;
    }

    for (;;) {
        const char *comma = memchr(list + start, ',', len - start);
        size_t end = comma ? (size_t)(comma - list) : len;
        size_t a = start, b = end;
        while (a < b && list[a] == ' ')
            a++;
        while (b > a && list[b - 1] == ' ')
            b--;
        if (!filter_valid(list + a, b - a)) {
            char item[REG_QUOTE_MAX + 1];
            size_t k = b - a > REG_QUOTE_MAX ? REG_QUOTE_MAX : b - a;
            memcpy(item, list + a, k);
            item[k] = '\0';
            quote(q, item);
            return hookd_fail(errbuf, HOOKD_EINVAL,
                              "events: \"%s%s\" is not object.action (each side * or 1..64 of "
                              "[A-Za-z0-9_-])",
                              q, b - a > k ? "..." : "");
        }
        if (count == HOOKD_FILTERS_MAX)
            return hookd_fail(errbuf, HOOKD_EINVAL, "events: more than %d filters",
                              HOOKD_FILTERS_MAX);
        if (w) {
            char *f = malloc(b - a + 1);
            if (!f)
                return hookd_fail(errbuf, HOOKD_ENOMEM, "events: out of memory");
            memcpy(f, list + a, b - a);
            f[b - a] = '\0';
            w->events[w->nevents++] = f;
        }
        count++;
        if (!comma)
            break;
        start = end + 1;
    }
    return 0;
}

int hookd_filter_list_check(const char *list, char *errbuf)
{
    return filters_parse(list ? list : "", NULL, errbuf);
}

int hookd_filter_match(const char *filter, const char *event)
{
    const char *fdot = strchr(filter, '.'), *edot = strchr(event, '.');
    if (!fdot || !edot)
        return 0;
    size_t fol = (size_t)(fdot - filter), eol = (size_t)(edot - event);
    int obj_ok = (fol == 1 && filter[0] == '*') || (fol == eol && memcmp(filter, event, fol) == 0);
    if (!obj_ok)
        return 0;
    return strcmp(fdot + 1, "*") == 0 || strcmp(fdot + 1, edot + 1) == 0;
}

/* Parses "1"/"0"/"true"/"false". */
static int parse_bool(const char *s, int *out)
{
    if (strcmp(s, "1") == 0 || strcmp(s, "true") == 0)
        *out = 1;
    else if (strcmp(s, "0") == 0 || strcmp(s, "false") == 0)
        *out = 0;
    else
        return HOOKD_EINVAL;
    return 0;
}

/* Parses a timeout field: decimal digits only, 0..REG_TIMEOUT_MAX. */
static int parse_timeout(const char *s, int64_t *out)
{
    if (s[0] < '0' || s[0] > '9')
        return HOOKD_EINVAL;
    return hookd_parse_i64(s, 0, REG_TIMEOUT_MAX, out);
}

static char *dup_str(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = malloc(n);
    if (p)
        memcpy(p, s, n);
    return p;
}

/* Fills w from the hash fields; on failure the reason in errbuf is prefixed
 * by the caller. Never copies the secret into errbuf. */
static int webhook_fill(struct hookd_webhook *w, const char *const *kv, size_t nkv, char *errbuf)
{
    const char *url = NULL, *secret = NULL, *events = NULL, *workspace = NULL;
    const char *enabled = NULL, *signing = NULL, *timeout = NULL, *ctimeout = NULL;
    char q[REG_QUOTE_MAX + 4];
    char why[HOOKD_ERRLEN];
    int rc;

    for (size_t i = 0; i + 1 < nkv; i += 2) {
        const char *k = kv[i], *v = kv[i + 1];
        if (!k || !v)
            continue;
        if (strcmp(k, "url") == 0)
            url = v;
        else if (strcmp(k, "secret") == 0)
            secret = v;
        else if (strcmp(k, "events") == 0)
            events = v;
        else if (strcmp(k, "workspace") == 0)
            workspace = v;
        else if (strcmp(k, "enabled") == 0)
            enabled = v;
        else if (strcmp(k, "signing") == 0)
            signing = v;
        else if (strcmp(k, "timeout_ms") == 0)
            timeout = v;
        else if (strcmp(k, "connect_timeout_ms") == 0)
            ctimeout = v;
    }

    if (!url || !url[0])
        return hookd_fail(errbuf, HOOKD_EINVAL, "missing field 'url'");
    why[0] = '\0';
    if ((rc = hookd_url_check(url, w->hostkey, sizeof(w->hostkey), why)) != 0)
        return hookd_fail(errbuf, rc == HOOKD_ENOMEM ? rc : HOOKD_EINVAL, "url: %s",
                          why[0] ? why : hookd_strerror(rc));
    if (!secret || !secret[0])
        return hookd_fail(errbuf, HOOKD_EINVAL, "missing field 'secret'");
    size_t slen = strnlen(secret, REG_SECRET_MAX + 1);
    if (slen > REG_SECRET_MAX)
        return hookd_fail(errbuf, HOOKD_EINVAL, "secret: over %d bytes", REG_SECRET_MAX);
    if ((rc = hookd_signer_new(secret, slen, &w->signer)) != 0)
        return hookd_fail(errbuf, rc, "secret: cannot prepare the signer: %s", hookd_strerror(rc));
    /* Standard Webhooks libraries take "whsec_<base64>" and sign with the
     * decoded bytes; hookd does the same so that they verify its deliveries. */
    if (strncmp(secret, "whsec_", 6) == 0) {
        unsigned char key[REG_SECRET_MAX];
        size_t klen;
        if (hookd_base64_decode(secret + 6, slen - 6, key, sizeof(key), &klen) != 0 || !klen)
            return hookd_fail(errbuf, HOOKD_EINVAL, "secret: whsec_ secret is not base64");
        rc = hookd_signer_new(key, klen, &w->std_signer);
        OPENSSL_cleanse(key, sizeof(key));
        if (rc)
            return hookd_fail(errbuf, rc, "secret: cannot prepare the signer: %s",
                              hookd_strerror(rc));
    }

    if ((rc = filters_parse(events ? events : "", w, errbuf)) != 0)
        return rc;

    if (workspace && workspace[0] && !hookd_id_valid(workspace)) {
        quote(q, workspace);
        return hookd_fail(errbuf, HOOKD_EINVAL,
                          "workspace: \"%s\" is not 1..%d bytes of [A-Za-z0-9_.:-]", q,
                          HOOKD_ID_MAX);
    }
    w->enabled = 1;
    if (enabled && enabled[0] && parse_bool(enabled, &w->enabled) != 0) {
        quote(q, enabled);
        return hookd_fail(errbuf, HOOKD_EINVAL, "enabled: \"%s\" is not 1, 0, true or false", q);
    }
    w->signing = HOOKD_SIGN_TWENTY;
    if (signing && signing[0]) {
        if (strcmp(signing, "standard") == 0) {
            w->signing = HOOKD_SIGN_TWENTY | HOOKD_SIGN_STANDARD;
        } else if (strcmp(signing, "twenty") != 0) {
            quote(q, signing);
            return hookd_fail(errbuf, HOOKD_EINVAL, "signing: \"%s\" is not twenty or standard", q);
        }
    }
    if (timeout && timeout[0] && parse_timeout(timeout, &w->timeout_ms) != 0) {
        quote(q, timeout);
        return hookd_fail(errbuf, HOOKD_EINVAL, "timeout_ms: \"%s\" is not 0..%d", q,
                          REG_TIMEOUT_MAX);
    }
    if (ctimeout && ctimeout[0] && parse_timeout(ctimeout, &w->connect_timeout_ms) != 0) {
        quote(q, ctimeout);
        return hookd_fail(errbuf, HOOKD_EINVAL, "connect_timeout_ms: \"%s\" is not 0..%d", q,
                          REG_TIMEOUT_MAX);
    }

    if (!(w->url = dup_str(url)) || !(w->workspace = dup_str(workspace ? workspace : "")))
        return hookd_fail(errbuf, HOOKD_ENOMEM, "out of memory");
    return 0;
}

int hookd_registry_add(struct hookd_registry *r, const char *id, const char *const *kv, size_t nkv,
                       char *errbuf)
{
    char q[REG_QUOTE_MAX + 4];
    char why[HOOKD_ERRLEN];
    struct hookd_webhook w;
    int rc;

    if (!hookd_id_valid(id)) {
        quote(q, id ? id : "");
        return hookd_fail(errbuf, HOOKD_EINVAL,
                          "webhook id \"%s\" is not 1..%d bytes of [A-Za-z0-9_.:-]", q,
                          HOOKD_ID_MAX);
    }
    if (nkv % 2 != 0)
        return hookd_fail(errbuf, HOOKD_EINVAL, "webhook %s: odd number of hash fields", id);
    if (hookd_registry_find(r, id))
        return hookd_fail(errbuf, HOOKD_EINVAL, "webhook %s: duplicate id", id);

    memset(&w, 0, sizeof(w));
    why[0] = '\0';
    if ((rc = webhook_fill(&w, kv, nkv, why)) != 0) {
        webhook_free(&w);
        return hookd_fail(errbuf, rc, "webhook %s: %s", id, why);
    }
    if ((rc = registry_grow(r)) != 0 || !(w.id = dup_str(id))) {
        webhook_free(&w);
        return hookd_fail(errbuf, rc ? rc : HOOKD_ENOMEM, "webhook %s: %s", id,
                          hookd_strerror(rc ? rc : HOOKD_ENOMEM));
    }
    r->items[r->n] = w;
    *slot_of(r, w.id) = (uint32_t)(r->n + 1);
    r->n++;
    return 0;
}

/* 1 when w should receive env (enabled, workspace, filters); the webhook
 * narrowing is the caller's. */
static int webhook_wants(const struct hookd_webhook *w, const struct hookd_envelope *env)
{
    if (!w->enabled)
        return 0;
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
