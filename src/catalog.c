/* catalog.c - the webhooks in Redis (see catalog.h). */
#include "hookd/catalog.h"

#include <hiredis/hiredis.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hookd/envelope.h"
#include "hookd/job.h"
#include "hookd/net.h"
#include "hookd/redis.h"
#include "hookd/schema.h"
#include "hookd/scripts.h"
#include "hookd/sign.h"
#include "hookd/stats.h"

#define PUT_TRIES 5     /* reads under WATCH before a change gives up */
#define PUT_ARGV_MAX 48 /* words of the put script's command */
#define LOG_MAX 100000  /* attempt log entries in one read */

/* Pairs of a record with room for the changes of one add or update. */
#define WH_PAIRS_MAX (2 * HOOKD_WEBHOOK_FIELDS_MAX + 32)

/* A webhook record as read back, or why it could not be: borrowed from a
 * reply (or from a change), valid while those live. */
struct wh_record {
    const char *kv[WH_PAIRS_MAX]; /* field, value, ... */
    size_t lens[WH_PAIRS_MAX];    /* bytes of each */
    size_t n;                     /* strings in kv */
    int exists;                   /* the key exists (as a hash or not) */
    int readable;                 /* 1 when kv holds the hash's pairs */
    char why[HOOKD_ERRLEN];       /* when not readable: why not */
};

/* Reads what record() of the webhook scripts (scripts.c) returned into rec. */
static void wh_record_of(const redisReply *r, struct wh_record *rec)
{
    memset(rec, 0, sizeof(*rec));
    if (r->type == REDIS_REPLY_ARRAY && r->elements <= 2 * HOOKD_WEBHOOK_FIELDS_MAX) {
        rec->exists = rec->readable = 1;
        for (size_t i = 0; i < r->elements; i++) {
            int str = r->element[i]->type == REDIS_REPLY_STRING;
            rec->kv[rec->n] = str ? r->element[i]->str : "";
            rec->lens[rec->n++] = str ? r->element[i]->len : 0;
        }
        return;
    }
    if (r->type == REDIS_REPLY_STRING)
        hookd_webhook_problem(r->str, r->len, rec->why);
    else
        hookd_fail(rec->why, HOOKD_EINVAL, "record is not what the script returns");
    rec->exists = !(r->type == REDIS_REPLY_STRING && r->len == 4 && memcmp(r->str, "none", 4) == 0);
}

/* The value of field name in rec, or NULL. */
static const char *wh_field(const struct wh_record *rec, const char *name)
{
    for (size_t i = 0; i + 1 < rec->n; i += 2) {
        if (strcmp(rec->kv[i], name) == 0)
            return rec->kv[i + 1];
    }
    return NULL;
}

/* A string member that tolerates bytes jansson refuses (invalid UTF-8). */
static json_t *str_or_empty(const char *s)
{
    json_t *j = json_string(s ? s : "");
    return j ? j : json_string("");
}

/* A millisecond field as a number; 0 (the global default) when absent. */
static json_t *ms_number(const char *s)
{
    int64_t v = 0;
    if (s && hookd_parse_i64(s, 0, INT64_MAX, &v) != 0)
        v = 0;
    return json_integer((json_int_t)v);
}

/* The webhook as the JSON object docs/cli.md shows, judged as the worker
 * judges it ("valid", "invalid_reason"). Secrets and the URL's credentials
 * and query values are shown only when show_secret. */
static json_t *wh_json(const char *id, const struct wh_record *rec, int show_secret)
{
    struct hookd_webhook w;
    char why[HOOKD_ERRLEN], url[2100];
    const char *ev = wh_field(rec, "events"), *u = wh_field(rec, "url");
    const char *en = wh_field(rec, "enabled"), *sg = wh_field(rec, "signing");
    const char *secret = wh_field(rec, "secret");
    json_t *o = json_object(), *events = json_array();
    if (!o || !events) {
        json_decref(o);
        json_decref(events);
        return NULL;
    }
    int valid = 0;
    if (rec->readable) {
        valid = hookd_webhook_parse(&w, id, rec->kv, rec->lens, rec->n, why) == 0;
        hookd_webhook_clear(&w);
    } else {
        hookd_str_copy(why, sizeof(why), rec->why);
    }
    for (ev = !rec->readable ? "" : ev ? ev : "*.*"; *ev;) {
        const char *comma = strchr(ev, ',');
        size_t n = comma ? (size_t)(comma - ev) : strlen(ev);
        json_t *one = json_stringn(ev, n);
        if (one)
            json_array_append_new(events, one);
        ev += n + (comma ? 1 : 0);
    }
    if (u && !show_secret)
        hookd_webhook_url_redact(u, url, sizeof(url));
    json_object_set_new(o, "id", str_or_empty(id));
    json_object_set_new(o, "url", str_or_empty(u && !show_secret ? url : u));
    json_object_set_new(o, "secret", show_secret ? str_or_empty(secret) : json_string("<hidden>"));
    /* The previous secret itself is never shown; only when it stops signing. */
    json_object_set_new(o, "secret_previous_until",
                        ms_number(wh_field(rec, "secret_previous_until")));
    json_object_set_new(o, "events", events);
    json_object_set_new(o, "workspace", str_or_empty(wh_field(rec, "workspace")));
    json_object_set_new(o, "description", str_or_empty(wh_field(rec, "description")));
    json_object_set_new(o, "enabled",
                        json_boolean(!en || (strcmp(en, "0") != 0 && strcmp(en, "false") != 0)));
    json_object_set_new(o, "signing", str_or_empty(sg && sg[0] ? sg : "twenty"));
    json_object_set_new(o, "timeout_ms", ms_number(wh_field(rec, "timeout_ms")));
    json_object_set_new(o, "connect_timeout_ms", ms_number(wh_field(rec, "connect_timeout_ms")));
    json_object_set_new(o, "disabled_reason", str_or_empty(wh_field(rec, "disabled_reason")));
    json_object_set_new(o, "created_at", str_or_empty(wh_field(rec, "created_at")));
    json_object_set_new(o, "updated_at", str_or_empty(wh_field(rec, "updated_at")));
    json_object_set_new(o, "valid", json_boolean(valid));
    json_object_set_new(o, "invalid_reason", str_or_empty(valid ? "" : why));
    return o;
}

/* Writes "{P}:webhook:<id>" into key (HOOKD_KEY_MAX bytes). */
static void wh_key(char *key, const struct hookd_config *cfg, const char *id)
{
    hookd_schema_key_of(key, cfg->prefix, HOOKD_K_WEBHOOK_OF, id);
}

/* Reads webhook id with HOOKD_S_WEBHOOK_SHOW (nil when there is no such
 * webhook), or NULL with the reason in errbuf. */
static redisReply *wh_read(redisContext *c, const struct hookd_config *cfg, const char *id,
                           char *errbuf)
{
    char key[HOOKD_KEY_MAX], set[HOOKD_KEY_MAX], rev[HOOKD_KEY_MAX];
    wh_key(key, cfg, id);
    hookd_schema_key(set, cfg->prefix, HOOKD_K_WEBHOOKS);
    hookd_schema_key(rev, cfg->prefix, HOOKD_K_WEBHOOKS_REV);
    const char *cmd[9] = {
        "EVAL", hookd_script(HOOKD_S_WEBHOOK_SHOW), "3", rev, set, key, cfg->prefix, "", id};
    return hookd_redis_command(c, 9, cmd, NULL, errbuf);
}

int hookd_catalog_state(redisContext *c, const struct hookd_config *cfg, const char *id, char *why)
{
    struct wh_record rec;
    struct hookd_webhook w;
    redisReply *r = wh_read(c, cfg, id, why);
    int state = HOOKD_CATALOG_OK;
    if (!r)
        return HOOKD_EREDIS;
    wh_record_of(r, &rec);
    if (r->type == REDIS_REPLY_NIL) {
        state = HOOKD_CATALOG_MISSING;
    } else if (!rec.readable) {
        hookd_str_copy(why, HOOKD_ERRLEN, rec.why);
        state = HOOKD_CATALOG_INVALID;
    } else if (hookd_webhook_parse(&w, id, rec.kv, rec.lens, rec.n, why) != 0) {
        state = HOOKD_CATALOG_INVALID;
    } else if (!w.enabled) {
        state = HOOKD_CATALOG_DISABLED;
    }
    if (rec.readable)
        hookd_webhook_clear(&w);
    freeReplyObject(r);
    return state;
}

/* Current time as RFC 3339 UTC with seconds, "2025-02-10T15:30:50Z". */
static void now_rfc3339(char out[32])
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

void hookd_catalog_change_init(struct hookd_catalog_change *ch)
{
    memset(ch, 0, sizeof(*ch));
    ch->enabled = -1;
    ch->timeout_ms = ch->connect_timeout_ms = -1;
}

int hookd_catalog_id_new(char *out)
{
    memcpy(out, "wh_", 3);
    return hookd_random_hex(out + 3, 8) == 0 ? 0 : HOOKD_ECRYPTO;
}

/* Removes blanks around the items of a comma list: " a.b , c.* " -> "a.b,c.*".
 * Blanks inside an item stay, for the filter check to refuse. */
static char *events_normalise(const char *in)
{
    size_t n = strlen(in);
    char *out = malloc(n + 1), *w = out;
    if (!out)
        return NULL;
    for (;;) {
        const char *comma = strchr(in, ',');
        const char *end = comma ? comma : in + strlen(in);
        while (in < end && (*in == ' ' || *in == '\t'))
            in++;
        while (end > in && (end[-1] == ' ' || end[-1] == '\t'))
            end--;
        memcpy(w, in, (size_t)(end - in));
        w += end - in;
        if (!comma)
            break;
        *w++ = ',';
        in = comma + 1;
    }
    *w = '\0';
    return out;
}

/* A change as the fields it writes: checked one by one (the whole record is
 * judged later), with the texts it needs. Owns events and secret_buf. */
struct change {
    const char *pairs[20][2]; /* field, value */
    size_t n;                 /* pairs used */
    char *events;             /* normalised, malloc'ed */
    char timeout[HOOKD_I64_LEN], connect[HOOKD_I64_LEN], at[HOOKD_I64_LEN], now[32];
    char secret_buf[4 * HOOKD_WEBHOOK_SECRET_MAX]; /* a secret drawn */
    int forget;                                    /* enabling: forget why it was disabled */
    char until[HOOKD_I64_LEN];                     /* a rotation's secret_previous_until */
};

static void change_add(struct change *x, const char *name, const char *value)
{
    if (value) {
        x->pairs[x->n][0] = name;
        x->pairs[x->n++][1] = value;
    }
}

/* Checks what each field of ch may be and fills x with what it writes in
 * mode; the secret, when drawn, is drawn later (it depends on the signing
 * the record ends with). Returns 0, HOOKD_EINVAL with the reason, or
 * HOOKD_ENOMEM. */
static int change_make(const struct hookd_config *cfg, const char *mode,
                       const struct hookd_catalog_change *ch, struct change *x, char *err)
{
    char why[HOOKD_ERRLEN];
    memset(x, 0, sizeof(*x));
    if (ch->url && hookd_url_check(ch->url, NULL, 0, why) != 0)
        return hookd_fail(err, HOOKD_EINVAL, "url: %s", why);
    if (ch->events) {
        if (!(x->events = events_normalise(ch->events)))
            return hookd_fail(err, HOOKD_ENOMEM, "out of memory");
        if (hookd_filter_list_check(x->events, why) != 0)
            return hookd_fail(err, HOOKD_EINVAL, "events: %s",
                              strncmp(why, "events: ", 8) == 0 ? why + 8 : why);
    }
    static const char *const which[2] = {"timeout", "connect timeout"};
    const int64_t ms[2] = {ch->timeout_ms, ch->connect_timeout_ms};
    char *text[2] = {x->timeout, x->connect};
    for (int i = 0; i < 2; i++) {
        if (ms[i] < 0)
            continue;
        if (ms[i] > HOOKD_WEBHOOK_TIMEOUT_MAX)
            return hookd_fail(err, HOOKD_EINVAL, "the webhook's %s: at most 1h", which[i]);
        hookd_i64_fmt(text[i], ms[i]);
    }
    if (ch->timeout_ms >= cfg->lease_ms)
        return hookd_fail(err, HOOKD_EINVAL,
                          "the webhook's timeout (%lld ms) must be shorter than the lease "
                          "(%lld ms)",
                          (long long)ch->timeout_ms, (long long)cfg->lease_ms);
    if (ch->rotate && (ch->grace_ms < 0 || ch->grace_ms > HOOKD_CATALOG_GRACE_MAX_MS))
        return hookd_fail(err, HOOKD_EINVAL, "grace: %lld ms is not from 0 to 30 days",
                          (long long)ch->grace_ms);
    now_rfc3339(x->now);
    x->forget = ch->enabled == 1;
    change_add(x, "url", ch->url);
    change_add(x, "secret", ch->secret);
    change_add(x, "events", x->events);
    change_add(x, "workspace", ch->workspace);
    change_add(x, "description", ch->description);
    change_add(x, "enabled", ch->enabled < 0 ? NULL : ch->enabled ? "1" : "0");
    if (ch->enabled == 0) {
        hookd_i64_fmt(x->at, hookd_now_ms());
        change_add(x, "disabled_reason", ch->disabled_reason ? ch->disabled_reason : "disabled");
        change_add(x, "disabled_at", x->at);
    }
    change_add(x, "signing", ch->signing);
    change_add(x, "timeout_ms", x->timeout[0] ? x->timeout : NULL);
    change_add(x, "connect_timeout_ms", x->connect[0] ? x->connect : NULL);
    change_add(x, "created_at", strcmp(mode, "add") == 0 ? x->now : NULL);
    change_add(x, "updated_at", x->now);
    return 0;
}

static void change_free(struct change *x)
{
    explicit_bzero(x->secret_buf, sizeof(x->secret_buf));
    free(x->events);
}

/* Sets field name to value in rec (replacing it, or adding it at the end);
 * value NULL removes it. */
static void rec_set(struct wh_record *rec, const char *name, const char *value)
{
    for (size_t i = 0; i + 1 < rec->n; i += 2) {
        if (strcmp(rec->kv[i], name) != 0)
            continue;
        if (value) {
            rec->kv[i + 1] = value;
            rec->lens[i + 1] = strlen(value);
        } else {
            memmove(rec->kv + i, rec->kv + i + 2, (rec->n - i - 2) * sizeof(rec->kv[0]));
            memmove(rec->lens + i, rec->lens + i + 2, (rec->n - i - 2) * sizeof(rec->lens[0]));
            rec->n -= 2;
        }
        return;
    }
    if (value && rec->n + 2 <= WH_PAIRS_MAX) {
        rec->kv[rec->n] = name;
        rec->lens[rec->n++] = strlen(name);
        rec->kv[rec->n] = value;
        rec->lens[rec->n++] = strlen(value);
    }
}

/* Sends one command that must not fail; 0 or HOOKD_EREDIS. */
static int simple(redisContext *c, int argc, const char **argv, char *err)
{
    redisReply *r = hookd_redis_command(c, argc, argv, NULL, err);
    freeReplyObject(r);
    return r ? 0 : HOOKD_EREDIS;
}

/* One try of a change under WATCH (see catalog.h). Returns 0 with *out,
 * HOOKD_EAGAIN-like 1 when the record changed meanwhile (try again), or a
 * HOOKD_E* code. */
static int put_once(redisContext *c, const struct hookd_config *cfg, const char *mode,
                    const char *id, const struct hookd_catalog_change *ch, struct change *x,
                    int show_secret, json_t **out, char *err)
{
    char key[HOOKD_KEY_MAX], set[HOOKD_KEY_MAX], rev[HOOKD_KEY_MAX], why[HOOKD_ERRLEN];
    char dropped[128]; /* the fields the put script deletes */
    const char *argv[PUT_ARGV_MAX];
    struct wh_record rec;
    struct hookd_webhook w;
    size_t base = x->n;
    int argc = 0, rc;

    wh_key(key, cfg, id);
    hookd_schema_key(set, cfg->prefix, HOOKD_K_WEBHOOKS);
    hookd_schema_key(rev, cfg->prefix, HOOKD_K_WEBHOOKS_REV);
    const char *watch[2] = {"WATCH", key};
    if ((rc = simple(c, 2, watch, err)) != 0)
        return rc;
    const char *read[8] = {
        "EVAL", hookd_script(HOOKD_S_WEBHOOK_RECORD), "3", rev, set, key, cfg->prefix, ""};
    redisReply *cur = hookd_redis_command(c, 8, read, NULL, err), *r = NULL;
    if (!cur)
        return HOOKD_EREDIS;
    wh_record_of(cur, &rec);
    if (strcmp(mode, "add") == 0 && rec.exists) {
        rc = hookd_fail(err, HOOKD_EEXIST, "webhook '%s' already exists", id);
        goto out;
    }
    if (strcmp(mode, "update") == 0 && !rec.exists) {
        rc = hookd_fail(err, HOOKD_ENOTFOUND, "no webhook '%s'", id);
        goto out;
    }
    if (rec.exists && !rec.readable) {
        rc = hookd_fail(err, HOOKD_EINVAL, "webhook %s: %s; deleting it removes it", id, rec.why);
        goto out;
    }
    rec.exists = rec.readable = 1;
    const char *sg = ch->signing ? ch->signing : wh_field(&rec, "signing");
    if (ch->draw_secret) {
        int std = sg && strcmp(sg, "standard") == 0;
        if (hookd_webhook_secret_new(HOOKD_SIGN_TWENTY | (std ? HOOKD_SIGN_STANDARD : 0),
                                     x->secret_buf) != 0) {
            rc = hookd_fail(err, HOOKD_ECRYPTO, "cannot draw random bytes");
            goto out;
        }
        change_add(x, "secret", x->secret_buf);
    }
    /* A rotation keeps the secret it replaces (it points into cur) for the
     * grace; a rotation without grace, or any write once the grace is over,
     * drops it. */
    int64_t now_ms = hookd_now_ms(), until = 0;
    const char *until_s = wh_field(&rec, "secret_previous_until");
    int over = until_s && hookd_parse_i64(until_s, 0, INT64_MAX, &until) == 0 && until <= now_ms;
    const char *old = ch->rotate && ch->grace_ms > 0 ? wh_field(&rec, "secret") : NULL;
    if (old) {
        hookd_i64_fmt(x->until, now_ms + ch->grace_ms);
        change_add(x, "secret_previous", old);
        change_add(x, "secret_previous_until", x->until);
    }
    int drop = (ch->rotate && !old) || (over && !ch->rotate);
    for (size_t i = 0; i < x->n; i++)
        rec_set(&rec, x->pairs[i][0], x->pairs[i][1]);
    /* Re-enabling forgets why and when it was disabled, and the failing
     * window that may have done it. */
    static const char *const forgotten[] = {"disabled_reason", "disabled_at", "failing_since"};
    static const char *const previous[] = {"secret_previous", "secret_previous_until"};
    for (size_t i = 0; x->forget && i < sizeof(forgotten) / sizeof(forgotten[0]); i++)
        rec_set(&rec, forgotten[i], NULL);
    for (size_t i = 0; drop && i < sizeof(previous) / sizeof(previous[0]); i++)
        rec_set(&rec, previous[i], NULL);
    int update = strcmp(mode, "update") == 0;
    snprintf(dropped, sizeof(dropped), "%s %s",
             x->forget && update ? "disabled_reason disabled_at failing_since" : "",
             drop && update ? "secret_previous secret_previous_until" : "");
    rc = hookd_webhook_parse(&w, id, rec.kv, rec.lens, rec.n, why);
    hookd_webhook_clear(&w);
    if (rc) {
        hookd_fail(err, rc, "%s", rc == HOOKD_EINVAL ? why : hookd_strerror(rc));
        goto out;
    }
    const char *multi[1] = {"MULTI"};
    if ((rc = simple(c, 1, multi, err)) != 0)
        goto out;
    argv[argc++] = "EVAL";
    argv[argc++] = hookd_script(HOOKD_S_WEBHOOK_PUT);
    argv[argc++] = "3";
    argv[argc++] = key;
    argv[argc++] = set;
    argv[argc++] = rev;
    argv[argc++] = mode;
    argv[argc++] = id;
    argv[argc++] = dropped;
    for (size_t i = 0; i < x->n; i++) {
        argv[argc++] = x->pairs[i][0];
        argv[argc++] = x->pairs[i][1];
    }
    if ((rc = simple(c, argc, argv, err)) != 0)
        goto out;
    const char *exec[1] = {"EXEC"};
    if (!(r = hookd_redis_command(c, 1, exec, NULL, err))) {
        rc = HOOKD_EREDIS;
    } else if (r->type == REDIS_REPLY_NIL) {
        rc = 1;
    } else if (r->type != REDIS_REPLY_ARRAY || r->elements != 1 ||
               r->element[0]->type == REDIS_REPLY_ERROR) {
        rc = hookd_fail(err, HOOKD_EREDIS, "redis: %s",
                        r->type == REDIS_REPLY_ARRAY && r->elements == 1
                            ? r->element[0]->str
                            : "unexpected reply to EXEC");
    } else if (r->element[0]->type != REDIS_REPLY_ARRAY) {
        rc = strcmp(mode, "add") == 0
                 ? hookd_fail(err, HOOKD_EEXIST, "webhook '%s' already exists", id)
                 : hookd_fail(err, HOOKD_ENOTFOUND, "no webhook '%s'", id);
    } else {
        wh_record_of(r->element[0], &rec);
        if (!(*out = wh_json(id, &rec, show_secret)))
            rc = hookd_fail(err, HOOKD_ENOMEM, "out of memory");
    }
out:
    x->n = base; /* a drawn secret is drawn again on the next try */
    if (rc != 0) {
        const char *unwatch[1] = {"UNWATCH"};
        freeReplyObject(redisCommandArgv(c, 1, unwatch, NULL));
    }
    freeReplyObject(r);
    freeReplyObject(cur);
    return rc;
}

int hookd_catalog_put(redisContext *c, const struct hookd_config *cfg, const char *mode,
                      const char *id, const struct hookd_catalog_change *ch, int show_secret,
                      json_t **out, char *errbuf)
{
    struct change x;
    int rc = change_make(cfg, mode, ch, &x, errbuf);
    *out = NULL;
    for (int i = 0; rc == 0 && i < PUT_TRIES; i++) {
        rc = put_once(c, cfg, mode, id, ch, &x, show_secret, out, errbuf);
        if (rc == 1 && i + 1 < PUT_TRIES)
            rc = 0;
        else if (rc == 1)
            rc = hookd_fail(errbuf, HOOKD_EEXIST, "webhook %s kept changing; try again", id);
        else
            break;
    }
    change_free(&x);
    return rc;
}

/* Adds to j what `webhook show` tells besides the record: "health", the
 * fleet's view of its host (null when no loop reported it lately), and
 * "parked", its deliveries waiting for it to be enabled. 0, or
 * HOOKD_EREDIS with the reason in err. */
static int health_add(redisContext *c, const struct hookd_config *cfg, const char *id,
                      const struct wh_record *rec, json_t *j, char *err)
{
    struct hookd_webhook w;
    char why[HOOKD_ERRLEN], key[HOOKD_KEY_MAX], suffix[HOOKD_KEY_MAX];
    json_t *hosts = NULL;
    if (rec->readable) {
        int ok = hookd_webhook_parse(&w, id, rec->kv, rec->lens, rec->n, why) == 0;
        if (ok)
            hosts = hookd_stats_hosts(c, cfg, w.hostkey, 1, err);
        hookd_webhook_clear(&w);
        if (ok && !hosts)
            return HOOKD_EREDIS;
    }
    json_t *one = json_array_get(hosts, 0);
    json_object_set_new(j, "health", one ? json_incref(one) : json_null());
    json_decref(hosts);
    snprintf(suffix, sizeof(suffix), HOOKD_PARK_WEBHOOK "%s", id);
    hookd_schema_key_of(key, cfg->prefix, HOOKD_K_PARKED_OF, suffix);
    const char *zcard[2] = {"ZCARD", key};
    redisReply *r = hookd_redis_command(c, 2, zcard, NULL, err);
    if (!r)
        return HOOKD_EREDIS;
    json_object_set_new(j, "parked", json_integer(r->type == REDIS_REPLY_INTEGER ? r->integer : 0));
    freeReplyObject(r);
    return 0;
}

int hookd_catalog_get(redisContext *c, const struct hookd_config *cfg, const char *id,
                      int show_secret, int detail, json_t **out, char *errbuf)
{
    struct wh_record rec;
    int rc = 0;
    *out = NULL;
    redisReply *r = wh_read(c, cfg, id, errbuf);
    if (!r)
        return HOOKD_EREDIS;
    if (r->type == REDIS_REPLY_NIL) {
        rc = hookd_fail(errbuf, HOOKD_ENOTFOUND, "no webhook '%s'", id);
    } else {
        wh_record_of(r, &rec);
        json_t *j = wh_json(id, &rec, show_secret);
        if (!j)
            rc = hookd_fail(errbuf, HOOKD_ENOMEM, "out of memory");
        else if (detail && (rc = health_add(c, cfg, id, &rec, j, errbuf)) != 0)
            json_decref(j);
        else
            *out = j;
    }
    freeReplyObject(r);
    return rc;
}

/* Ends a function that built the array a (NULL: out of memory) with
 * result rc: on success *out owns a, else a is released. Returns rc, or
 * HOOKD_ENOMEM for a NULL a. */
static int array_out(json_t *a, int rc, json_t **out, char *errbuf)
{
    if (!a)
        rc = hookd_fail(errbuf, HOOKD_ENOMEM, "out of memory");
    if (rc)
        json_decref(a);
    else
        *out = a;
    return rc;
}

int hookd_catalog_list(redisContext *c, const struct hookd_config *cfg, const char *after,
                       size_t limit, int show_secret, json_t **out, int *more, char *errbuf)
{
    char set[HOOKD_KEY_MAX], rev[HOOKD_KEY_MAX], n[HOOKD_I64_LEN];
    struct wh_record rec;
    int rc = 0;

    *out = NULL;
    *more = 0;
    if (limit < 1 || limit > HOOKD_CATALOG_PAGE_MAX)
        return hookd_fail(errbuf, HOOKD_EINVAL, "limit: from 1 to %d", HOOKD_CATALOG_PAGE_MAX);
    hookd_schema_key(set, cfg->prefix, HOOKD_K_WEBHOOKS);
    hookd_schema_key(rev, cfg->prefix, HOOKD_K_WEBHOOKS_REV);
    hookd_i64_fmt(n, (int64_t)limit);
    const char *cmd[8] = {
        "EVAL", hookd_script(HOOKD_S_WEBHOOK_PAGE), "2", rev, set, cfg->prefix, after ? after : "",
        n};
    redisReply *r = hookd_redis_command(c, 8, cmd, NULL, errbuf);
    if (!r)
        return HOOKD_EREDIS;
    if (r->type != REDIS_REPLY_ARRAY || r->elements < 1 || r->elements % 2 != 1 ||
        r->element[0]->type != REDIS_REPLY_INTEGER) {
        freeReplyObject(r);
        return hookd_fail(errbuf, HOOKD_EREDIS, "redis: unexpected reply to the webhook page");
    }
    json_t *a = json_array();
    for (size_t i = 1; a && rc == 0 && i + 1 < r->elements; i += 2) {
        const redisReply *id = r->element[i];
        if (id->type != REDIS_REPLY_STRING || !hookd_id_valid(id->str))
            continue; /* not a webhook id: the worker skips it too */
        wh_record_of(r->element[i + 1], &rec);
        json_t *j = wh_json(id->str, &rec, show_secret);
        if (!j || json_array_append_new(a, j) != 0)
            rc = hookd_fail(errbuf, HOOKD_ENOMEM, "out of memory");
    }
    *more = r->element[0]->integer != 0;
    freeReplyObject(r);
    return array_out(a, rc, out, errbuf);
}

int hookd_catalog_delete(redisContext *c, const struct hookd_config *cfg, const char *id,
                         char *errbuf)
{
    char key[HOOKD_KEY_MAX], set[HOOKD_KEY_MAX], rev[HOOKD_KEY_MAX];
    wh_key(key, cfg, id);
    hookd_schema_key(set, cfg->prefix, HOOKD_K_WEBHOOKS);
    hookd_schema_key(rev, cfg->prefix, HOOKD_K_WEBHOOKS_REV);
    const char *cmd[7] = {"EVAL", hookd_script(HOOKD_S_WEBHOOK_DEL), "3", key, set, rev, id};
    redisReply *r = hookd_redis_command(c, 7, cmd, NULL, errbuf);
    if (!r)
        return HOOKD_EREDIS;
    int gone = r->type == REDIS_REPLY_INTEGER && r->integer == 1;
    freeReplyObject(r);
    return gone ? 0 : hookd_fail(errbuf, HOOKD_ENOTFOUND, "no webhook '%s'", id);
}

int hookd_catalog_attempts(redisContext *c, const struct hookd_config *cfg, const char *id,
                           const char *before, size_t limit, json_t **out, int *more, char *errbuf)
{
    char key[HOOKD_KEY_MAX], count[HOOKD_I64_LEN], from[HOOKD_ID_MAX + 8];
    int rc = 0;

    *out = NULL;
    *more = 0;
    if (limit < 1 || limit > LOG_MAX)
        return hookd_fail(errbuf, HOOKD_EINVAL, "limit: from 1 to %d", LOG_MAX);
    if (before && before[0] &&
        (strlen(before) > 40 || strspn(before, "0123456789-") != strlen(before)))
        return hookd_fail(errbuf, HOOKD_EINVAL, "cursor: not a log entry id");
    hookd_schema_key_of(key, cfg->prefix, HOOKD_K_LOG_OF, id);
    snprintf(from, sizeof(from), "%s%s", before && before[0] ? "(" : "",
             before && before[0] ? before : "+");
    hookd_i64_fmt(count, (int64_t)limit + 1);
    const char *cmd[6] = {"XREVRANGE", key, from, "-", "COUNT", count};
    redisReply *r = hookd_redis_command(c, 6, cmd, NULL, errbuf);
    if (!r)
        return HOOKD_EREDIS;
    json_t *a = json_array();
    for (size_t i = 0; a && rc == 0 && r->type == REDIS_REPLY_ARRAY && i < r->elements; i++) {
        const redisReply *e = r->element[i];
        if (i == limit) {
            *more = 1;
            break;
        }
        if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
            e->element[0]->type != REDIS_REPLY_STRING || e->element[1]->type != REDIS_REPLY_ARRAY)
            continue;
        const redisReply *kv = e->element[1];
        json_t *j = json_object();
        if (!j || json_array_append_new(a, j) != 0) {
            rc = hookd_fail(errbuf, HOOKD_ENOMEM, "out of memory");
            break;
        }
        json_object_set_new(j, "entry_id", str_or_empty(e->element[0]->str));
        for (size_t k = 0; k + 1 < kv->elements && rc == 0; k += 2) {
            const redisReply *f = kv->element[k], *v = kv->element[k + 1];
            if (f->type == REDIS_REPLY_STRING && v->type == REDIS_REPLY_STRING &&
                hookd_attempt_decode_pair(j, f->str, f->len, v->str, v->len) != 0)
                rc = hookd_fail(errbuf, HOOKD_ENOMEM, "out of memory");
        }
    }
    freeReplyObject(r);
    return array_out(a, rc, out, errbuf);
}

/* The newest entry of log key for event_id, as JSON, or NULL; *rc is set on
 * a failure. */
static json_t *attempt_of(redisContext *c, const struct hookd_config *cfg, const char *id,
                          const char *event_id, int *rc, char *err)
{
    json_t *a = NULL, *e, *hit = NULL;
    size_t i;
    int more;
    if ((*rc = hookd_catalog_attempts(c, cfg, id, NULL, 50, &a, &more, err)) != 0)
        return NULL;
    json_array_foreach(a, i, e)
    {
        const char *ev = json_string_value(json_object_get(e, "event_id"));
        if (ev && strcmp(ev, event_id) == 0) {
            hit = json_incref(e);
            break;
        }
    }
    json_decref(a);
    return hit;
}

int hookd_catalog_test(redisContext *c, const struct hookd_config *cfg, const char *id,
                       int64_t wait_ms, json_t **out, char *errbuf)
{
    char why[HOOKD_ERRLEN], key[HOOKD_KEY_MAX], event_id[40] = "test_";
    struct hookd_buf env;
    int rc;

    *out = NULL;
    switch ((rc = hookd_catalog_state(c, cfg, id, why))) {
    case HOOKD_CATALOG_OK:
        break;
    case HOOKD_CATALOG_MISSING:
        return hookd_fail(errbuf, HOOKD_ENOTFOUND, "no webhook '%s'", id);
    case HOOKD_CATALOG_DISABLED:
        return hookd_fail(errbuf, HOOKD_EEXIST, "webhook '%s' is disabled", id);
    case HOOKD_CATALOG_INVALID:
        return hookd_fail(errbuf, HOOKD_EINVAL, "webhook '%s' is invalid: %s", id, why);
    default:
        return hookd_fail(errbuf, rc, "%s", why);
    }
    if (hookd_random_hex(event_id + 5, 12) != 0)
        return hookd_fail(errbuf, HOOKD_ECRYPTO, "cannot draw random bytes");
    hookd_buf_init(&env, 4096);
    json_t *data = json_pack("{s:s}", "webhook", id);
    char *d = data ? json_dumps(data, JSON_COMPACT) : NULL;
    json_decref(data);
    rc = d ? hookd_envelope_build(HOOKD_EVENT_TEST, d, NULL, hookd_now_ms(), &env, why)
           : HOOKD_ENOMEM;
    free(d);
    /* The envelope as built has no id or webhook: they go before its
     * closing brace. */
    if (rc == 0 && env.len > 0 && env.data[env.len - 1] == '}') {
        hookd_buf_truncate(&env, env.len - 1);
        rc = hookd_buf_addf(&env, ",\"id\":\"%s\",\"webhook\":\"%s\"}", event_id, id);
    }
    if (rc) {
        hookd_buf_free(&env);
        return hookd_fail(errbuf, rc, "test event: %s", rc == HOOKD_ENOMEM ? "out of memory" : why);
    }
    hookd_schema_key(key, cfg->prefix, HOOKD_K_EVENTS);
    const char *argv[3] = {"LPUSH", key, env.data};
    redisReply *r = hookd_redis_command(c, 3, argv, NULL, errbuf);
    hookd_buf_free(&env);
    if (!r)
        return HOOKD_EREDIS;
    freeReplyObject(r);
    for (int64_t waited = 0; waited <= wait_ms; waited += 100) {
        json_t *hit = attempt_of(c, cfg, id, event_id, &rc, errbuf);
        if (rc)
            return rc;
        if (hit) {
            *out = hit;
            return 0;
        }
        struct timespec ts = {0, 100 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    return hookd_fail(errbuf, HOOKD_ERANGE,
                      "no attempt of test event %s within %lld ms: is a worker running?", event_id,
                      (long long)wait_ms);
}
