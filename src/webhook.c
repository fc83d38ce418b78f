/* webhook.c - the webhook record: the rules of each field, secrets, and how
 * a URL is shown.
 *
 * Every rule a record must meet lives here. A record is judged field by
 * field and the first fault is the reason; routing fields are read even
 * after a fault, so that an invalid webhook still finds its events. */
#include "hookd/webhook.h"

#include <curl/curl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hookd/envelope.h"
#include "hookd/net.h"

#define PART_MAX 64      /* bytes of one side of a filter */
#define EVENTS_MAX 16384 /* bytes of the events field */
#define STD_KEY_MIN 24   /* bytes of a Standard Webhooks key, as its spec says */
#define STD_KEY_MAX 64

/* The fields hookd reads; other fields are left alone. */
enum field {
    F_URL,
    F_SECRET,
    F_EVENTS,
    F_WORKSPACE,
    F_ENABLED,
    F_SIGNING,
    F_TIMEOUT,
    F_CONNECT,
    F_DESCRIPTION,
    F_CREATED,
    F_UPDATED,
    F_DISABLED_REASON,
    F_PREV,
    F_PREV_UNTIL,
    F_COUNT
};
static const char *const FIELD_NAMES[F_COUNT] = {"url",
                                                 "secret",
                                                 "events",
                                                 "workspace",
                                                 "enabled",
                                                 "signing",
                                                 "timeout_ms",
                                                 "connect_timeout_ms",
                                                 "description",
                                                 "created_at",
                                                 "updated_at",
                                                 "disabled_reason",
                                                 "secret_previous",
                                                 "secret_previous_until"};

/* A record being judged: its known fields and the first fault found. */
struct judge {
    const char *v[F_COUNT]; /* value of each field, NULL when absent */
    size_t len[F_COUNT];    /* bytes of each value */
    int faults;             /* faults found */
    char why[HOOKD_ERRLEN]; /* the first one */
};

static void fault(struct judge *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fault(struct judge *j, const char *fmt, ...)
{
    if (j->faults++)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(j->why, sizeof(j->why), fmt, ap);
    va_end(ap);
}

static char *dup_str(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = malloc(n);
    if (p)
        memcpy(p, s, n);
    return p;
}

/* ---- filters ---- */

static int is_name_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
}

/* 1 when s[0..n) is one side of a filter: "*" or 1..64 of [A-Za-z0-9_-]. */
static int filter_part_valid(const char *s, size_t n)
{
    if (n == 1 && s[0] == '*')
        return 1;
    if (n < 1 || n > PART_MAX)
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

/* Checks a comma list of filters (spaces around items ignored) and, when w
 * is not NULL, stores a copy of each in w. An empty or blank list is refused:
 * it would otherwise be read as every event or as none. */
static int filters_parse(const char *list, struct hookd_webhook *w, char *errbuf)
{
    char q[HOOKD_QUOTE_LEN];
    size_t len = strnlen(list, EVENTS_MAX + 1);
    int count = 0;

    if (len > EVENTS_MAX)
        return hookd_fail(errbuf, HOOKD_EINVAL, "events: list over %d bytes", EVENTS_MAX);
    size_t start = 0;
    while (start < len && list[start] == ' ')
        start++;
    if (start == len)
        return hookd_fail(errbuf, HOOKD_EINVAL, "events: empty; write *.* for every event");
    for (;;) {
        const char *comma = memchr(list + start, ',', len - start);
        size_t end = comma ? (size_t)(comma - list) : len;
        size_t a = start, b = end;
        while (a < b && list[a] == ' ')
            a++;
        while (b > a && list[b - 1] == ' ')
            b--;
        if (!filter_valid(list + a, b - a))
            return hookd_fail(errbuf, HOOKD_EINVAL,
                              "events: \"%s\" is not object.action (each side * or 1..64 of "
                              "[A-Za-z0-9_-])",
                              hookd_quote(q, list + a, b - a));
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

/* ---- the fields ---- */

/* Drops the filters of w. */
static void filters_clear(struct hookd_webhook *w)
{
    for (int i = 0; i < w->nevents; i++)
        free(w->events[i]);
    w->nevents = 0;
}

/* Routing: enabled, workspace and filters, each with a fallback that finds
 * every event the record could have meant. */
static int judge_routing(struct judge *j, struct hookd_webhook *w)
{
    char q[HOOKD_QUOTE_LEN], why[HOOKD_ERRLEN];
    const char *en = j->v[F_ENABLED], *ws = j->v[F_WORKSPACE], *ev = j->v[F_EVENTS];

    w->enabled = 1;
    if (en && en[0]) {
        if (strcmp(en, "0") == 0 || strcmp(en, "false") == 0)
            w->enabled = 0;
        else if (strcmp(en, "1") != 0 && strcmp(en, "true") != 0)
            fault(j, "enabled: \"%s\" is not 1, 0, true or false",
                  hookd_quote(q, en, j->len[F_ENABLED]));
    }
    if (ws && ws[0] && !hookd_id_valid(ws)) {
        fault(j, "workspace: \"%s\" is not 1..%d bytes of [A-Za-z0-9_.:-]",
              hookd_quote(q, ws, j->len[F_WORKSPACE]), HOOKD_ID_MAX);
        ws = NULL;
    }
    if (!(w->workspace = dup_str(ws ? ws : "")))
        return HOOKD_ENOMEM;
    int rc = filters_parse(ev ? ev : "*.*", w, why);
    if (rc == HOOKD_ENOMEM)
        return rc;
    if (rc) {
        fault(j, "%s", why);
        filters_clear(w);
        if ((rc = filters_parse("*.*", w, why)) != 0)
            return rc;
    }
    return 0;
}

/* 1 when s[0..n) is all visible ASCII (0x21..0x7e). */
static int visible_ascii(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e)
            return 0;
    }
    return 1;
}

/* The secret in field f and the signers made from it into *signer and
 * *std_signer (whsec_ only); need_whsec refuses a secret that is not whsec_.
 * Signing must be judged first. Returns 0 (faults go to j) or HOOKD_ENOMEM /
 * HOOKD_ECRYPTO. */
static int judge_key(struct judge *j, enum field f, int need_whsec, struct hookd_signer **signer,
                     struct hookd_signer **std_signer)
{
    const char *s = j->v[f], *name = FIELD_NAMES[f];
    size_t n = j->len[f];
    int rc;

    if (!s || !n) {
        fault(j, "missing field '%s'", name);
        return 0;
    }
    if (n > HOOKD_WEBHOOK_SECRET_MAX) {
        fault(j, "%s: %zu bytes, over %d", name, n, HOOKD_WEBHOOK_SECRET_MAX);
        return 0;
    }
    if (!visible_ascii(s, n)) {
        fault(j, "%s: only visible ASCII is allowed (no spaces or control bytes)", name);
        return 0;
    }
    int whsec = n >= 6 && memcmp(s, "whsec_", 6) == 0;
    if (need_whsec && !whsec) {
        fault(j,
              "%s: Standard Webhooks signing needs a whsec_<base64> secret "
              "(`hookd webhook rotate-secret ID --signing standard` makes one)",
              name);
        return 0;
    }
    if (whsec) {
        /* Standard Webhooks libraries sign with the decoded bytes; so does
         * hookd, so that they verify its deliveries. */
        unsigned char key[HOOKD_WEBHOOK_SECRET_MAX];
        size_t klen = 0;
        rc = hookd_sign_decode_whsec(s, n, key, sizeof(key), &klen);
        if (rc || klen < STD_KEY_MIN || klen > STD_KEY_MAX) {
            OPENSSL_cleanse(key, sizeof(key));
            if (rc)
                fault(j, "%s: after whsec_ must come base64 (A-Z a-z 0-9 + /, padded with =)",
                      name);
            else
                fault(j, "%s: a whsec_ secret must hold %d to %d bytes; this one holds %zu", name,
                      STD_KEY_MIN, STD_KEY_MAX, klen);
            return 0;
        }
        rc = hookd_signer_new(key, klen, std_signer);
        OPENSSL_cleanse(key, sizeof(key));
        if (rc)
            return rc;
    }
    return hookd_signer_new(s, n, signer);
}

/* The secret, and the previous one of a rotation with its end: both fields
 * or neither. A previous secret that is not whsec_ (a rotation from twenty
 * to standard) signs the Twenty headers only. */
static int judge_secrets(struct judge *j, struct hookd_webhook *w)
{
    char q[HOOKD_QUOTE_LEN];
    const char *until = j->v[F_PREV_UNTIL];
    int rc =
        judge_key(j, F_SECRET, (w->signing & HOOKD_SIGN_STANDARD) != 0, &w->signer, &w->std_signer);
    if (rc)
        return rc;
    if (!j->v[F_PREV] && !until)
        return 0;
    if (!j->v[F_PREV] || !until) {
        fault(j, "%s: set without %s", j->v[F_PREV] ? "secret_previous" : "secret_previous_until",
              j->v[F_PREV] ? "secret_previous_until" : "secret_previous");
        return 0;
    }
    if (until[0] < '1' || until[0] > '9' ||
        hookd_parse_i64(until, 1, HOOKD_WEBHOOK_UNTIL_MAX, &w->prev_until_ms) != 0) {
        w->prev_until_ms = 0;
        fault(j, "secret_previous_until: \"%s\" is not milliseconds since the epoch, 1 to %lld",
              hookd_quote(q, until, j->len[F_PREV_UNTIL]), (long long)HOOKD_WEBHOOK_UNTIL_MAX);
        return 0;
    }
    return judge_key(j, F_PREV, 0, &w->prev_signer, &w->prev_std_signer);
}

int hookd_webhook_previous_valid(const struct hookd_webhook *w, int64_t now_ms)
{
    return w->prev_signer && now_ms < w->prev_until_ms;
}

/* Parses a timeout field: decimal digits only, 0..HOOKD_WEBHOOK_TIMEOUT_MAX;
 * absent or "" is 0. */
static void judge_timeout(struct judge *j, enum field f, int64_t *out)
{
    char q[HOOKD_QUOTE_LEN];
    const char *s = j->v[f];
    *out = 0;
    if (!s || !s[0])
        return;
    if (s[0] < '0' || s[0] > '9' || hookd_parse_i64(s, 0, HOOKD_WEBHOOK_TIMEOUT_MAX, out) != 0) {
        *out = 0;
        fault(j, "%s: \"%s\" is not a whole number of milliseconds from 0 to %d", FIELD_NAMES[f],
              hookd_quote(q, s, j->len[f]), HOOKD_WEBHOOK_TIMEOUT_MAX);
    }
}

/* Delivery: url, signing, secret, timeouts, and the text fields. */
static int judge_delivery(struct judge *j, struct hookd_webhook *w)
{
    char q[HOOKD_QUOTE_LEN], why[HOOKD_ERRLEN];
    const char *url = j->v[F_URL], *sg = j->v[F_SIGNING];
    int rc;

    if (!url || !url[0]) {
        fault(j, "missing field 'url'");
    } else if (!visible_ascii(url, j->len[F_URL])) {
        fault(j, "url: \"%s\" holds a space or a control byte", hookd_quote(q, url, j->len[F_URL]));
    } else {
        why[0] = '\0';
        rc = hookd_url_check(url, w->hostkey, sizeof(w->hostkey), why);
        if (rc == HOOKD_ENOMEM)
            return rc;
        if (rc)
            fault(j, "url: %s", why[0] ? why : hookd_strerror(rc));
        else if (!(w->url = dup_str(url)))
            return HOOKD_ENOMEM;
    }
    w->signing = HOOKD_SIGN_TWENTY;
    if (sg && sg[0]) {
        if (strcmp(sg, "standard") == 0)
            w->signing |= HOOKD_SIGN_STANDARD;
        else if (strcmp(sg, "twenty") != 0)
            fault(j, "signing: \"%s\" is not twenty or standard",
                  hookd_quote(q, sg, j->len[F_SIGNING]));
    }
    if ((rc = judge_secrets(j, w)) != 0)
        return rc;
    judge_timeout(j, F_TIMEOUT, &w->timeout_ms);
    judge_timeout(j, F_CONNECT, &w->connect_timeout_ms);
    if (w->timeout_ms > 0 && w->connect_timeout_ms > w->timeout_ms)
        fault(j, "connect_timeout_ms: %lld is above timeout_ms %lld",
              (long long)w->connect_timeout_ms, (long long)w->timeout_ms);
    for (int f = F_DESCRIPTION; f <= F_DISABLED_REASON; f++) {
        if (!j->v[f])
            continue;
        if (j->len[f] > HOOKD_WEBHOOK_TEXT_MAX)
            fault(j, "%s: %zu bytes, over %d", FIELD_NAMES[f], j->len[f], HOOKD_WEBHOOK_TEXT_MAX);
        else if (!hookd_utf8_valid(j->v[f], j->len[f]))
            fault(j, "%s: not valid UTF-8", FIELD_NAMES[f]);
    }
    return 0;
}

int hookd_webhook_parse(struct hookd_webhook *w, const char *id, const char *const *kv,
                        const size_t *lens, size_t nkv, char *errbuf)
{
    struct judge j;
    int rc;

    memset(w, 0, sizeof(*w));
    memset(&j, 0, sizeof(j));
    if (!(w->id = dup_str(id)))
        return hookd_fail(errbuf, HOOKD_ENOMEM, "out of memory");
    if (nkv % 2 != 0)
        fault(&j, "odd number of hash fields");
    else if (nkv / 2 > HOOKD_WEBHOOK_FIELDS_MAX)
        fault(&j, "record has %zu fields, more than %d", nkv / 2, HOOKD_WEBHOOK_FIELDS_MAX);
    for (size_t i = 0; i + 1 < nkv && !j.faults; i += 2) {
        for (int f = 0; f < F_COUNT; f++) {
            if (strcmp(kv[i], FIELD_NAMES[f]) != 0)
                continue;
            if (strlen(kv[i + 1]) != lens[i + 1]) {
                fault(&j, "%s: holds a NUL byte", FIELD_NAMES[f]);
                break;
            }
            j.v[f] = kv[i + 1];
            j.len[f] = lens[i + 1];
        }
    }
    if (j.faults) {
        /* Nothing in it can be trusted: only events naming it find it. */
        rc = hookd_webhook_unreadable(w, id, j.why);
        return rc ? hookd_fail(errbuf, rc, "out of memory")
                  : hookd_fail(errbuf, HOOKD_EINVAL, "%s", j.why);
    }
    if ((rc = judge_delivery(&j, w)) != 0 || (rc = judge_routing(&j, w)) != 0)
        return hookd_fail(errbuf, rc, "%s", hookd_strerror(rc));
    if (!j.faults)
        return 0;
    if (!(w->invalid = dup_str(j.why)))
        return hookd_fail(errbuf, HOOKD_ENOMEM, "out of memory");
    return hookd_fail(errbuf, HOOKD_EINVAL, "%s", j.why);
}

int hookd_webhook_unreadable(struct hookd_webhook *w, const char *id, const char *reason)
{
    hookd_webhook_clear(w);
    w->enabled = 1;
    w->signing = HOOKD_SIGN_TWENTY;
    if (!(w->id = dup_str(id)) || !(w->workspace = dup_str("")) || !(w->invalid = dup_str(reason)))
        return HOOKD_ENOMEM;
    return 0;
}

void hookd_webhook_clear(struct hookd_webhook *w)
{
    free(w->id);
    free(w->url);
    free(w->workspace);
    free(w->invalid);
    filters_clear(w);
    hookd_signer_free(w->signer);
    hookd_signer_free(w->std_signer);
    hookd_signer_free(w->prev_signer);
    hookd_signer_free(w->prev_std_signer);
    memset(w, 0, sizeof(*w));
}

int hookd_webhook_problem(const char *marker, size_t len, char *errbuf)
{
    char q[HOOKD_QUOTE_LEN];
    if (len == 4 && memcmp(marker, "none", 4) == 0)
        return hookd_fail(errbuf, HOOKD_EINVAL,
                          "no record: the id is listed but its hash is missing or empty");
    if (len > 7 && memcmp(marker, "fields:", 7) == 0)
        return hookd_fail(errbuf, HOOKD_EINVAL, "record has %s fields, more than %d",
                          hookd_quote(q, marker + 7, len - 7), HOOKD_WEBHOOK_FIELDS_MAX);
    if (len > 6 && memcmp(marker, "bytes:", 6) == 0)
        return hookd_fail(errbuf, HOOKD_EINVAL, "record is %s bytes, more than %d",
                          hookd_quote(q, marker + 6, len - 6), HOOKD_WEBHOOK_RECORD_MAX);
    return hookd_fail(errbuf, HOOKD_EINVAL, "key is a %s, not a hash", hookd_quote(q, marker, len));
}

/* ---- secrets ---- */

int hookd_webhook_secret_new(int signing, char out[HOOKD_WEBHOOK_SECRET_GEN_LEN])
{
    unsigned char raw[HOOKD_WEBHOOK_SECRET_RANDOM];
    _Static_assert(6 + 4 * ((HOOKD_WEBHOOK_SECRET_RANDOM + 2) / 3) < HOOKD_WEBHOOK_SECRET_GEN_LEN &&
                       2 * HOOKD_WEBHOOK_SECRET_RANDOM < HOOKD_WEBHOOK_SECRET_GEN_LEN,
                   "HOOKD_WEBHOOK_SECRET_GEN_LEN too small");
    out[0] = '\0';
    if (!(signing & HOOKD_SIGN_STANDARD))
        return hookd_random_hex(out, HOOKD_WEBHOOK_SECRET_RANDOM);
    if (RAND_bytes(raw, sizeof(raw)) != 1)
        return HOOKD_ECRYPTO;
    memcpy(out, "whsec_", 6);
    EVP_EncodeBlock((unsigned char *)out + 6, raw, (int)sizeof(raw));
    OPENSSL_cleanse(raw, sizeof(raw));
    return 0;
}

/* ---- showing a URL ---- */

/* Appends the query of a URL with every value replaced, to out. */
static int redact_query(const char *query, struct hookd_buf *out)
{
    int rc = 0;
    for (const char *p = query; *p && !rc;) {
        const char *amp = strchr(p, '&'), *end = amp ? amp : p + strlen(p);
        const char *eq = memchr(p, '=', (size_t)(end - p));
        if (p != query)
            rc = hookd_buf_add(out, "&", 1);
        if (!rc && eq)
            rc = hookd_buf_add(out, p, (size_t)(eq - p + 1));
        if (!rc)
            rc = hookd_buf_adds(out, "REDACTED");
        p = amp ? amp + 1 : end;
    }
    return rc;
}

void hookd_webhook_url_redact(const char *url, char *out, size_t len)
{
    char q[HOOKD_QUOTE_LEN];
    char *query = NULL, *shown = NULL;
    struct hookd_buf b;
    CURLU *h = curl_url();
    int ok = 0;

    hookd_buf_init(&b, 8192);
    if (h && curl_url_set(h, CURLUPART_URL, url, 0) == CURLUE_OK &&
        curl_url_set(h, CURLUPART_FRAGMENT, NULL, 0) == CURLUE_OK) {
        char *user = NULL;
        if (curl_url_get(h, CURLUPART_USER, &user, 0) == CURLUE_OK) {
            curl_url_set(h, CURLUPART_USER, "REDACTED", 0);
            curl_url_set(h, CURLUPART_PASSWORD, NULL, 0);
        }
        curl_free(user);
        ok = 1;
        if (curl_url_get(h, CURLUPART_QUERY, &query, 0) == CURLUE_OK)
            ok = redact_query(query, &b) == 0 &&
                 curl_url_set(h, CURLUPART_QUERY, b.data ? b.data : "", 0) == CURLUE_OK;
        ok = ok && curl_url_get(h, CURLUPART_URL, &shown, 0) == CURLUE_OK;
    }
    /* A URL curl cannot read is shown up to where credentials could start. */
    hookd_str_copy(out, len, ok ? shown : hookd_quote(q, url, strcspn(url, "?#@")));
    curl_free(query);
    curl_free(shown);
    curl_url_cleanup(h);
    hookd_buf_free(&b);
}

int hookd_webhook_ops(struct hookd_webhook *w, const char *url, const char *secret, char *errbuf)
{
    const char *kv[] = {"url", url, "secret", secret, "signing", "standard"};
    const size_t lens[] = {3, strlen(url), 6, strlen(secret), 7, 8};
    return hookd_webhook_parse(w, "ops", kv, lens, 6, errbuf);
}
