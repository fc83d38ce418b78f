/* api.c - the HTTP API under /v1 (docs/api.md, docs/openapi.json).
 *
 * Each route is a row of ROUTES: it takes a Redis connection from the pool,
 * asks the module that owns the fact (catalog.h for webhooks, stats.h for
 * depths and hosts, backlog.h for dead letters and retries, envelope.h for
 * what producers push), and turns its answer into JSON or a problem. No
 * judgement is made here. */
#include "hookd/api.h"

#include <hiredis/hiredis.h>
#include <jansson.h>
#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "hookd/backlog.h"
#include "hookd/catalog.h"
#include "hookd/console_files.h"
#include "hookd/envelope.h"
#include "hookd/redis.h"
#include "hookd/redis_watch.h"
#include "hookd/schema.h"
#include "hookd/stats.h"

#define POOL_MAX 8            /* idle Redis connections kept */
#define PAGE_DEFAULT 50       /* items of a page when no limit is asked */
#define EVENTS_BATCH_MAX 1000 /* envelopes in one POST /v1/events */

struct hookd_api {
    const struct hookd_config *cfg;      /* outlives the api */
    pthread_mutex_t lock;                /* guards pool */
    struct redisContext *pool[POOL_MAX]; /* idle connections */
    int npool;                           /* entries of pool */
    uint64_t pool_gen;                   /* redis_watch's generation the pool's connections saw */
    struct hookd_route *routes;          /* ROUTES with arg set to this api */
    size_t nroutes;                      /* rows of routes */
};

/* ---- the pool ---- */

/* An idle connection, or a new one; NULL with the reason in err. Once the
 * sentinels name another master (redis_watch.h), the idle connections,
 * made to the one before, are closed. */
static redisContext *pool_take(struct hookd_api *api, char *err)
{
    redisContext *c = NULL, *stale[POOL_MAX];
    int nstale = 0;
    uint64_t gen = hookd_redis_watch_generation();
    pthread_mutex_lock(&api->lock);
    if (gen != api->pool_gen) {
        memcpy(stale, api->pool, (size_t)api->npool * sizeof(*stale));
        nstale = api->npool;
        api->npool = 0;
        api->pool_gen = gen;
    }
    if (api->npool > 0)
        c = api->pool[--api->npool];
    pthread_mutex_unlock(&api->lock);
    for (int i = 0; i < nstale; i++)
        redisFree(stale[i]);
    return c ? c : hookd_redis_connect(api->cfg, err);
}

/* Gives c back; a connection that failed, one over the pool's size, or one
 * given back after the sentinels named another master, is closed. */
static void pool_give(struct hookd_api *api, redisContext *c)
{
    if (!c)
        return;
    pthread_mutex_lock(&api->lock);
    if (c->err == 0 && api->npool < POOL_MAX && hookd_redis_watch_generation() == api->pool_gen) {
        api->pool[api->npool++] = c;
        c = NULL;
    }
    pthread_mutex_unlock(&api->lock);
    if (c)
        redisFree(c);
}

/* ---- answers ---- */

/* Sends j (released here) with status. */
static int reply_json(struct hookd_response *resp, int status, json_t *j)
{
    char *s = j ? json_dumps(j, JSON_PRESERVE_ORDER | JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    json_decref(j);
    if (!s)
        return HOOKD_ENOMEM;
    resp->status = status;
    int rc = hookd_buf_adds(&resp->body, s);
    free(s);
    return rc;
}

/* The status a module's failure rc answers. */
static int status_of(int rc)
{
    static const struct {
        int rc, status;
    } map[] = {
        {HOOKD_EINVAL, 422}, {HOOKD_ETOOBIG, 413}, {HOOKD_ERANGE, 422},     {HOOKD_ENOTFOUND, 404},
        {HOOKD_EEXIST, 409}, {HOOKD_EREDIS, 503},  {HOOKD_EFORBIDDEN, 403},
    };
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
        if (map[i].rc == rc)
            return map[i].status;
    return 500;
}

/* Answers a module's failure rc with its reason err as a problem. */
static int reply_fail(struct hookd_response *resp, int rc, const char *err)
{
    return hookd_response_problem(resp, status_of(rc), "%s", err);
}

/* A page's size from ?limit= (default PAGE_DEFAULT, 1..max); 0 after
 * answering 400. */
static size_t page_limit(const struct hookd_request *req, struct hookd_response *resp, size_t max)
{
    const char *s = hookd_request_query(req, "limit");
    int64_t v = PAGE_DEFAULT;
    if (s && hookd_parse_i64(s, 1, (int64_t)max, &v) != 0) {
        hookd_response_problem(resp, 400, "limit: a whole number from 1 to %zu", max);
        return 0;
    }
    return (size_t)v;
}

/* {"data": page, "next_cursor": next or null}; page released here. */
static int reply_page(struct hookd_response *resp, json_t *page, const char *next)
{
    return reply_json(resp, 200,
                      json_pack("{s:o s:o}", "data", page, "next_cursor",
                                next ? json_string(next) : json_null()));
}

/* The request body as a JSON value (an object when object is 1); NULL
 * after answering 400. The caller releases it. */
static json_t *body_json(const struct hookd_request *req, struct hookd_response *resp, int object)
{
    json_error_t e;
    json_t *j = json_loadb(req->body, req->body_len, JSON_DECODE_ANY, &e);
    if (!j) {
        hookd_response_problem(resp, 400, "body: not JSON: %.100s (at byte %d)", e.text,
                               e.position);
        return NULL;
    }
    if (object && !json_is_object(j)) {
        json_decref(j);
        hookd_response_problem(resp, 400, "body: expected a JSON object");
        return NULL;
    }
    return j;
}

/* ---- webhooks ---- */

/* The webhook id of the path, checked; NULL after answering 404. */
static const char *path_id(const struct hookd_request *req, struct hookd_response *resp)
{
    const char *id = req->params[0];
    if (!id || !hookd_id_valid(id)) {
        hookd_response_problem(resp, 404,
                               "no such webhook: ids are 1..%d bytes of "
                               "[A-Za-z0-9_.:-]",
                               HOOKD_ID_MAX);
        return NULL;
    }
    return id;
}

/* The members of a webhook object a client may set, and where they go. */
enum field_kind { F_TEXT, F_EVENTS, F_BOOL, F_MS };
static const struct {
    const char *name;     /* member of the JSON object */
    enum field_kind kind; /* what it must be */
    size_t off;           /* where in struct hookd_catalog_change */
} FIELDS[] = {
    {"url", F_TEXT, offsetof(struct hookd_catalog_change, url)},
    {"secret", F_TEXT, offsetof(struct hookd_catalog_change, secret)},
    {"events", F_EVENTS, offsetof(struct hookd_catalog_change, events)},
    {"workspace", F_TEXT, offsetof(struct hookd_catalog_change, workspace)},
    {"description", F_TEXT, offsetof(struct hookd_catalog_change, description)},
    {"signing", F_TEXT, offsetof(struct hookd_catalog_change, signing)},
    {"enabled", F_BOOL, offsetof(struct hookd_catalog_change, enabled)},
    {"disabled_reason", F_TEXT, offsetof(struct hookd_catalog_change, disabled_reason)},
    {"timeout_ms", F_MS, offsetof(struct hookd_catalog_change, timeout_ms)},
    {"connect_timeout_ms", F_MS, offsetof(struct hookd_catalog_change, connect_timeout_ms)},
};

/* Reads the members of o into ch (events joined into events, which the
 * caller frees); an unknown member or one of the wrong type is 422 with its
 * name. The strings are borrowed from o. Returns 0, or 1 after answering. */
static int change_of(json_t *o, struct hookd_catalog_change *ch, int allow_id, char **events,
                     struct hookd_response *resp)
{
    const char *k;
    json_t *v;
    *events = NULL;
    hookd_catalog_change_init(ch);
    json_object_foreach(o, k, v)
    {
        size_t i;
        for (i = 0; i < sizeof(FIELDS) / sizeof(FIELDS[0]); i++)
            if (strcmp(FIELDS[i].name, k) == 0)
                break;
        if (i == sizeof(FIELDS) / sizeof(FIELDS[0])) {
            if (allow_id && strcmp(k, "id") == 0 && json_is_string(v))
                continue;
            hookd_response_problem(resp, 422, "%.64s: not a member a webhook has (or may set)", k);
            return 1;
        }
        char *at = (char *)ch + FIELDS[i].off;
        int ok = 1;
        switch (FIELDS[i].kind) {
        case F_TEXT:
            if ((ok = json_is_string(v)))
                *(const char **)at = json_string_value(v);
            break;
        case F_BOOL:
            if ((ok = json_is_boolean(v)))
                *(int *)at = json_is_true(v);
            break;
        case F_MS:
            if ((ok = json_is_integer(v) && json_integer_value(v) >= 0))
                *(int64_t *)at = json_integer_value(v);
            break;
        case F_EVENTS: {
            struct hookd_buf b;
            size_t n;
            json_t *e;
            hookd_buf_init(&b, 64 * 1024);
            ok = json_is_array(v) && json_array_size(v) > 0;
            json_array_foreach(v, n, e)
            {
                ok = ok && json_is_string(e) && !strchr(json_string_value(e), ',') &&
                     (n == 0 || hookd_buf_adds(&b, ",") == 0) &&
                     hookd_buf_adds(&b, json_string_value(e)) == 0;
            }
            free(*events);
            *events = ok ? hookd_buf_steal(&b, NULL) : NULL;
            hookd_buf_free(&b);
            ok = ok && *events;
            *(const char **)at = *events;
            break;
        }
        }
        if (!ok) {
            static const char *const want[] = {"a string", "a non-empty array of filters",
                                               "true or false", "a whole number of ms"};
            hookd_response_problem(resp, 422, "%s: expected %s", k, want[FIELDS[i].kind]);
            return 1;
        }
    }
    return 0;
}

static int webhooks_list(void *arg, const struct hookd_request *req, struct hookd_response *resp)
{
    struct hookd_api *api = arg;
    char err[HOOKD_ERRLEN];
    size_t limit = page_limit(req, resp, HOOKD_CATALOG_PAGE_MAX);
    json_t *page = NULL;
    int more, rc;
    if (!limit)
        return 0;
    redisContext *c = pool_take(api, err);
    if (!c)
        return reply_fail(resp, HOOKD_EREDIS, err);
    rc = hookd_catalog_list(c, api->cfg, hookd_request_query(req, "cursor"), limit, 0, &page, &more,
                            err);
    pool_give(api, c);
    if (rc)
        return reply_fail(resp, rc, err);
    json_t *last = json_array_get(page, json_array_size(page) - 1);
    char next[HOOKD_ID_MAX + 1] = "";
    if (more && last)
        hookd_str_copy(next, sizeof(next), json_string_value(json_object_get(last, "id")));
    return reply_page(resp, page, next[0] ? next : NULL);
}

/* Writes the change in the body to the webhook id in mode, answering with
 * the webhook (status ok); its secret is shown when show_secret. extra, when
 * not NULL, is applied after the body (enable, disable, rotate). */
static int webhook_write(struct hookd_api *api, const struct hookd_request *req,
                         struct hookd_response *resp, const char *mode, const char *id,
                         const struct hookd_catalog_change *fixed, int ok, int show_secret)
{
    struct hookd_catalog_change ch;
    char err[HOOKD_ERRLEN], *events = NULL;
    json_t *body = NULL, *out = NULL;
    int rc;

    if (fixed) {
        ch = *fixed;
    } else {
        if (!(body = body_json(req, resp, 1)))
            return 0;
        if (change_of(body, &ch, strcmp(mode, "add") == 0, &events, resp) != 0)
            goto out;
        if (strcmp(mode, "add") == 0) {
            ch.draw_secret = !ch.secret;
            ch.enabled = 1;
            ch.events = ch.events ? ch.events : "*.*";
            ch.signing = ch.signing ? ch.signing : "twenty";
            ch.workspace = ch.workspace ? ch.workspace : "";
            ch.description = ch.description ? ch.description : "";
            if (!ch.url) {
                hookd_response_problem(resp, 422, "url: required");
                goto out;
            }
        }
    }
    redisContext *c = pool_take(api, err);
    if (!c) {
        reply_fail(resp, HOOKD_EREDIS, err);
        goto out;
    }
    rc = hookd_catalog_put(c, api->cfg, mode, id, &ch, show_secret, &out, err);
    pool_give(api, c);
    if (rc)
        reply_fail(resp, rc, err);
    else
        reply_json(resp, ok, out);
out:
    free(events);
    json_decref(body);
    return 0;
}

static int webhooks_create(void *arg, const struct hookd_request *req, struct hookd_response *resp)
{
    char id[HOOKD_ID_MAX + 1];
    json_t *body = json_loadb(req->body, req->body_len, 0, NULL);
    const char *given = json_string_value(json_object_get(body, "id"));
    int rc = 0, ok = 1;
    if (given && !(ok = hookd_id_valid(given)))
        rc = hookd_response_problem(resp, 422, "id: 1..%d bytes of [A-Za-z0-9_.:-]", HOOKD_ID_MAX);
    else if (given)
        hookd_str_copy(id, sizeof(id), given);
    else if ((ok = hookd_catalog_id_new(id) == 0) == 0)
        rc = HOOKD_ECRYPTO;
    json_decref(body);
    return ok ? webhook_write(arg, req, resp, "add", id, NULL, 201, 1) : rc;
}

static int webhooks_get(void *arg, const struct hookd_request *req, struct hookd_response *resp)
{
    struct hookd_api *api = arg;
    char err[HOOKD_ERRLEN];
    const char *id = path_id(req, resp);
    json_t *out = NULL;
    if (!id)
        return 0;
    redisContext *c = pool_take(api, err);
    if (!c)
        return reply_fail(resp, HOOKD_EREDIS, err);
    int rc = hookd_catalog_get(c, api->cfg, id, 0, 1, &out, err);
    pool_give(api, c);
    return rc ? reply_fail(resp, rc, err) : reply_json(resp, 200, out);
}

static int webhooks_update(void *arg, const struct hookd_request *req, struct hookd_response *resp)
{
    const char *id = path_id(req, resp);
    return id ? webhook_write(arg, req, resp, "update", id, NULL, 200, 0) : 0;
}

static int webhooks_delete(void *arg, const struct hookd_request *req, struct hookd_response *resp)
{
    struct hookd_api *api = arg;
    char err[HOOKD_ERRLEN];
    const char *id = path_id(req, resp);
    if (!id)
        return 0;
    redisContext *c = pool_take(api, err);
    if (!c)
        return reply_fail(resp, HOOKD_EREDIS, err);
    int rc = hookd_catalog_delete(c, api->cfg, id, err);
    pool_give(api, c);
    if (rc)
        return reply_fail(resp, rc, err);
    resp->status = 204;
    return 0;
}

/* enable, disable and rotate-secret: a fixed change. */
static int webhooks_switch(struct hookd_api *api, const struct hookd_request *req,
                           struct hookd_response *resp, int on)
{
    struct hookd_catalog_change ch;
    const char *id = path_id(req, resp);
    if (!id)
        return 0;
    hookd_catalog_change_init(&ch);
    ch.enabled = on;
    ch.disabled_reason = "disabled through the API";
    return webhook_write(api, req, resp, "update", id, &ch, 200, 0);
}

static int webhooks_enable(void *arg, const struct hookd_request *req, struct hookd_response *resp)
{
    return webhooks_switch(arg, req, resp, 1);
}

static int webhooks_disable(void *arg, const struct hookd_request *req, struct hookd_response *resp)
{
    return webhooks_switch(arg, req, resp, 0);
}

/* rotate-secret: the body, optional, is {"grace_seconds": N, "secret": S}
 * (0..30 days, default 24 h; S drawn when absent). A bad member is 422. */
static int webhooks_rotate(void *arg, const struct hookd_request *req, struct hookd_response *resp)
{
    struct hookd_catalog_change ch;
    const char *id = path_id(req, resp), *k;
    json_t *body = NULL, *v;
    int bad = 0;
    if (!id)
        return 0;
    hookd_catalog_change_init(&ch);
    ch.rotate = 1;
    ch.grace_ms = HOOKD_CATALOG_GRACE_DEFAULT_MS;
    if (req->body_len > 0 && !(body = body_json(req, resp, 1)))
        return 0;
    json_object_foreach(body, k, v)
    {
        const int64_t max_s = HOOKD_CATALOG_GRACE_MAX_MS / 1000;
        if (strcmp(k, "grace_seconds") == 0 && json_is_integer(v) && json_integer_value(v) >= 0 &&
            json_integer_value(v) <= max_s) {
            ch.grace_ms = (int64_t)json_integer_value(v) * 1000;
        } else if (strcmp(k, "grace_seconds") == 0) {
            hookd_response_problem(resp, 422, "grace_seconds: expected an integer from 0 to %lld",
                                   (long long)max_s);
            bad = 1;
        } else if (strcmp(k, "secret") == 0 && json_is_string(v)) {
            ch.secret = json_string_value(v);
        } else {
            hookd_response_problem(resp, 422, "%.64s: not a member rotate-secret takes", k);
            bad = 1;
        }
        if (bad) {
            json_decref(body);
            return 0;
        }
    }
    ch.draw_secret = !ch.secret;
    int rc = webhook_write(arg, req, resp, "update", id, &ch, 200, 1);
    json_decref(body);
    return rc;
}

static int webhooks_attempts(void *arg, const struct hookd_request *req,
                             struct hookd_response *resp)
{
    struct hookd_api *api = arg;
    char err[HOOKD_ERRLEN];
    const char *id = path_id(req, resp);
    size_t limit = id ? page_limit(req, resp, 1000) : 0;
    json_t *page = NULL;
    int more;
    if (!limit)
        return 0;
    redisContext *c = pool_take(api, err);
    if (!c)
        return reply_fail(resp, HOOKD_EREDIS, err);
    int rc = hookd_catalog_state(c, api->cfg, id, err);
    if (rc == HOOKD_CATALOG_MISSING)
        rc = hookd_fail(err, HOOKD_ENOTFOUND, "no webhook '%s'", id);
    else if (rc >= 0)
        rc = hookd_catalog_attempts(c, api->cfg, id, hookd_request_query(req, "cursor"), limit,
                                    &page, &more, err);
    pool_give(api, c);
    if (rc)
        return reply_fail(resp, rc, err);
    json_t *last = json_array_get(page, json_array_size(page) - 1);
    const char *next = more && last ? json_string_value(json_object_get(last, "entry_id")) : NULL;
    char cursor[64] = "";
    if (next)
        hookd_str_copy(cursor, sizeof(cursor), next);
    return reply_page(resp, page, cursor[0] ? cursor : NULL);
}

/* ---- events ---- */

/* Judges one envelope (bytes, len) as the worker will and appends what
 * goes to Redis (stamped when it has no timestamp) to out, its id to ids.
 * Returns 0, or a HOOKD_E* code with the reason in err. */
static int event_add(const struct hookd_config *cfg, const char *bytes, size_t len, int64_t now,
                     struct hookd_buf *out, json_t *ids, char *err)
{
    struct hookd_envelope env;
    int rc = hookd_envelope_parse(bytes, len, (size_t)cfg->max_envelope, now, &env, err);
    if (rc)
        return rc;
    int stamped = !env.has_timestamp;
    hookd_envelope_free(&env);
    size_t at = out->len;
    if (stamped ? (rc = hookd_envelope_stamp(bytes, len, now, out, err)) != 0
                : (rc = hookd_buf_add(out, bytes, len)) != 0)
        return rc == HOOKD_ETOOBIG ? hookd_fail(err, rc, "the batch is too large") : rc;
    /* The id the worker will compute: of the bytes as pushed. */
    if ((rc = hookd_envelope_parse(out->data + at, out->len - at, (size_t)cfg->max_envelope, now,
                                   &env, err)) != 0)
        return rc;
    json_array_append_new(ids, json_string(env.id));
    hookd_envelope_free(&env);
    return hookd_buf_add(out, "\n", 1);
}

static int events_post(void *arg, const struct hookd_request *req, struct hookd_response *resp)
{
    struct hookd_api *api = arg;
    char err[HOOKD_ERRLEN], key[HOOKD_KEY_MAX];
    struct hookd_buf all;
    json_t *body = body_json(req, resp, 0), *ids = json_array();
    int64_t now = hookd_now_ms();
    size_t n = 0;
    int rc = 0;

    hookd_buf_init(&all, 2 * HOOKD_SERVER_BODY_MAX);
    if (!body)
        goto out;
    if (json_is_object(body)) {
        n = 1;
        rc = event_add(api->cfg, req->body, req->body_len, now, &all, ids, err);
    } else if (json_is_array(body) && json_array_size(body) >= 1 &&
               json_array_size(body) <= EVENTS_BATCH_MAX) {
        json_t *e;
        json_array_foreach(body, n, e)
        {
            char *s = json_dumps(e, JSON_PRESERVE_ORDER | JSON_COMPACT | JSON_ENCODE_ANY);
            char why[HOOKD_ERRLEN];
            rc = s ? event_add(api->cfg, s, strlen(s), now, &all, ids, why) : HOOKD_ENOMEM;
            free(s);
            if (rc) {
                hookd_fail(err, rc, "[%zu]: %s", n, why);
                break;
            }
        }
        n = json_array_size(body);
    } else {
        hookd_response_problem(resp, 422, "body: one envelope, or an array of 1 to %d",
                               EVENTS_BATCH_MAX);
        goto out;
    }
    if (rc) {
        reply_fail(resp, rc == HOOKD_ETOOBIG ? HOOKD_EINVAL : rc, err);
        goto out;
    }
    /* One LPUSH, oldest first, so that the batch is taken in order. */
    const char **argv = malloc((n + 2) * sizeof(*argv));
    size_t *lens = malloc((n + 2) * sizeof(*lens));
    redisContext *c = argv && lens ? pool_take(api, err) : NULL;
    if (c) {
        hookd_schema_key(key, api->cfg->prefix, HOOKD_K_EVENTS);
        argv[0] = "LPUSH";
        lens[0] = 5;
        argv[1] = key;
        lens[1] = strlen(key);
        const char *p = all.data;
        for (size_t i = 0; i < n; i++) {
            const char *nl = memchr(p, '\n', all.len - (size_t)(p - all.data));
            argv[i + 2] = p;
            lens[i + 2] = (size_t)(nl - p);
            p = nl + 1;
        }
        redisReply *r = hookd_redis_command(c, (int)n + 2, argv, lens, err);
        pool_give(api, c);
        if (r)
            reply_json(resp, 202, json_pack("{s:O}", "ids", ids));
        else
            reply_fail(resp, HOOKD_EREDIS, err);
        freeReplyObject(r);
    } else {
        reply_fail(resp, argv && lens ? HOOKD_EREDIS : HOOKD_ENOMEM,
                   argv && lens ? err : "out of memory");
    }
    free(argv);
    free(lens);
out:
    json_decref(body);
    json_decref(ids);
    hookd_buf_free(&all);
    return 0;
}

/* ---- stats and hosts ---- */

static int stats_get(void *arg, const struct hookd_request *req, struct hookd_response *resp)
{
    struct hookd_api *api = arg;
    struct hookd_stats_sample s;
    char err[HOOKD_ERRLEN];
    (void)req;
    redisContext *c = pool_take(api, err);
    if (!c)
        return reply_fail(resp, HOOKD_EREDIS, err);
    int rc = hookd_stats_read(c, api->cfg, &s, err);
    pool_give(api, c);
    if (rc == 0)
        rc = reply_json(resp, 200, hookd_stats_json(&s, NULL));
    else
        rc = reply_fail(resp, rc, err);
    hookd_stats_free(&s);
    return rc;
}

static int hosts_get(void *arg, const struct hookd_request *req, struct hookd_response *resp)
{
    struct hookd_api *api = arg;
    char err[HOOKD_ERRLEN];
    redisContext *c = pool_take(api, err);
    if (!c)
        return reply_fail(resp, HOOKD_EREDIS, err);
    json_t *a = hookd_stats_hosts(c, api->cfg, hookd_request_query(req, "host"), 1000, err);
    pool_give(api, c);
    return a ? reply_json(resp, 200, json_pack("{s:o}", "data", a))
             : reply_fail(resp, HOOKD_EREDIS, err);
}

/* ---- the backlog: dead records and waiting retries ---- */

/* Names of a dead filter's members, in the query and in a body. */
enum filter_member { FM_ID, FM_WEBHOOK, FM_REASON, FM_SINCE, FM_UNTIL, FM_COUNT };
static const char *const FILTER_NAMES[FM_COUNT] = {"id", "webhook", "reason", "since", "until"};

/* Fills f from the texts v[FM_COUNT] (NULL: unset; borrowed, they must
 * outlive f); a time that does not parse is 422 with the reason. Returns 0,
 * or 1 after answering. */
static int filter_of(const char *const *v, struct hookd_dead_filter *f, struct hookd_response *resp)
{
    char err[HOOKD_ERRLEN];
    int64_t *times[2] = {&f->since_ms, &f->until_ms};
    memset(f, 0, sizeof(*f));
    f->id = v[FM_ID];
    f->webhook = v[FM_WEBHOOK];
    f->reason = v[FM_REASON];
    for (int i = 0; i < 2; i++) {
        const char *t = v[FM_SINCE + i];
        if (t && hookd_backlog_time_parse(t, times[i], err) != 0) {
            hookd_response_problem(resp, 422, "%s: %s", FILTER_NAMES[FM_SINCE + i], err);
            return 1;
        }
    }
    return 0;
}

/* A dead filter from a JSON body object o (its strings borrowed from o);
 * an unknown member or one not a string is 422. 0, or 1 after answering. */
static int filter_of_body(json_t *o, struct hookd_dead_filter *f, struct hookd_response *resp)
{
    const char *v[FM_COUNT] = {0}, *k;
    json_t *val;
    json_object_foreach(o, k, val)
    {
        int i;
        for (i = 0; i < FM_COUNT && strcmp(FILTER_NAMES[i], k) != 0; i++)
            ;
        if (i == FM_COUNT || !json_is_string(val)) {
            hookd_response_problem(resp, 422, "%.64s: %s", k,
                                   i == FM_COUNT
                                       ? "not a filter (id, webhook, reason, since, until)"
                                       : "expected a string");
            return 1;
        }
        v[i] = json_string_value(val);
    }
    return filter_of(v, f, resp);
}

/* A cursor from ?cursor= (a position, default 0); -1 after answering 400. */
static long long backlog_cursor(const struct hookd_request *req, struct hookd_response *resp)
{
    const char *s = hookd_request_query(req, "cursor");
    int64_t v = 0;
    if (s && hookd_parse_i64(s, 0, INT64_MAX, &v) != 0) {
        hookd_response_problem(resp, 400, "cursor: a cursor from next_cursor");
        return -1;
    }
    return (long long)v;
}

/* {"data": page, "next_cursor"} with next (-1: null); page released here. */
static int reply_backlog_page(struct hookd_response *resp, json_t *page, long long next)
{
    char cursor[HOOKD_I64_LEN];
    if (next >= 0)
        hookd_i64_fmt(cursor, next);
    return reply_page(resp, page, next >= 0 ? cursor : NULL);
}

static int dead_list(void *arg, const struct hookd_request *req, struct hookd_response *resp)
{
    struct hookd_api *api = arg;
    char err[HOOKD_ERRLEN];
    const char *v[FM_COUNT];
    struct hookd_dead_filter f;
    for (int i = 0; i < FM_COUNT; i++)
        v[i] = hookd_request_query(req, FILTER_NAMES[i]);
    if (filter_of(v, &f, resp))
        return 0;
    long long cursor = backlog_cursor(req, resp), next = -1;
    size_t limit = cursor >= 0 ? page_limit(req, resp, HOOKD_BACKLOG_LIMIT_MAX) : 0;
    json_t *page = NULL;
    if (!limit)
        return 0;
    redisContext *c = pool_take(api, err);
    if (!c)
        return reply_fail(resp, HOOKD_EREDIS, err);
    int rc = hookd_backlog_dead_list(c, api->cfg, &f, cursor, limit, &page, &next, err);
    pool_give(api, c);
    if (rc)
        return reply_fail(resp, rc, err);
    return reply_backlog_page(resp, page, next);
}

/* Replays (purge 0) or purges (1) the records f selects and answers the
 * counts. webhook, when not NULL, must exist (404). */
static int dead_act(struct hookd_api *api, const struct hookd_dead_filter *f, int purge,
                    const char *webhook, struct hookd_response *resp)
{
    char err[HOOKD_ERRLEN];
    size_t done = 0, skipped = 0;
    redisContext *c = pool_take(api, err);
    if (!c)
        return reply_fail(resp, HOOKD_EREDIS, err);
    int rc = webhook ? hookd_catalog_state(c, api->cfg, webhook, err) : 0;
    if (rc == HOOKD_CATALOG_MISSING)
        rc = hookd_fail(err, HOOKD_ENOTFOUND, "no webhook '%s'", webhook);
    else if (rc >= 0 && purge)
        rc = hookd_backlog_dead_purge(c, api->cfg, f, &done, err);
    else if (rc >= 0)
        rc = hookd_backlog_dead_replay(c, api->cfg, f, 0, &done, &skipped, err);
    pool_give(api, c);
    if (rc < 0)
        return reply_fail(resp, rc, err);
    if (purge)
        return reply_json(resp, 200, json_pack("{s:I}", "purged", (json_int_t)done));
    return reply_json(
        resp, 200,
        json_pack("{s:I s:I}", "replayed", (json_int_t)done, "skipped", (json_int_t)skipped));
}

/* POST /v1/dead/replay and /v1/dead/purge: the filter from the body. */
static int dead_body_act(void *arg, const struct hookd_request *req, struct hookd_response *resp,
                         int purge)
{
    struct hookd_dead_filter f;
    json_t *body = req->body_len ? body_json(req, resp, 1) : json_object();
    if (!body)
        return 0;
    int rc = filter_of_body(body, &f, resp) ? 0 : dead_act(arg, &f, purge, NULL, resp);
    json_decref(body);
    return rc;
}

static int dead_replay(void *arg, const struct hookd_request *req, struct hookd_response *resp)
{
    return dead_body_act(arg, req, resp, 0);
}

static int dead_purge(void *arg, const struct hookd_request *req, struct hookd_response *resp)
{
    return dead_body_act(arg, req, resp, 1);
}

static int webhooks_recover(void *arg, const struct hookd_request *req, struct hookd_response *resp)
{
    const char *id = path_id(req, resp);
    json_t *body = id ? body_json(req, resp, 1) : NULL;
    struct hookd_dead_filter f;
    const char *v[FM_COUNT] = {0}, *k;
    json_t *val;
    int rc = 0;
    if (!body)
        return 0;
    json_object_foreach(body, k, val)
    {
        int i = strcmp(k, "since") == 0 ? FM_SINCE : strcmp(k, "until") == 0 ? FM_UNTIL : -1;
        if (i < 0 || !json_is_string(val)) {
            hookd_response_problem(resp, 422, "%.64s: %s", k,
                                   i < 0 ? "not a member (since, until)" : "expected a string");
            goto out;
        }
        v[i] = json_string_value(val);
    }
    if (!v[FM_SINCE]) {
        hookd_response_problem(resp, 422, "since: required (a time)");
        goto out;
    }
    v[FM_WEBHOOK] = id;
    if (!filter_of(v, &f, resp))
        rc = dead_act(arg, &f, 0, id, resp);
out:
    json_decref(body);
    return rc;
}

static int retries_list(void *arg, const struct hookd_request *req, struct hookd_response *resp)
{
    struct hookd_api *api = arg;
    char err[HOOKD_ERRLEN];
    long long cursor = backlog_cursor(req, resp), next = -1;
    size_t limit = cursor >= 0 ? page_limit(req, resp, HOOKD_BACKLOG_LIMIT_MAX) : 0;
    json_t *page = NULL;
    if (!limit)
        return 0;
    redisContext *c = pool_take(api, err);
    if (!c)
        return reply_fail(resp, HOOKD_EREDIS, err);
    int rc = hookd_backlog_retry_list(c, api->cfg, cursor, limit, &page, &next, err);
    pool_give(api, c);
    if (rc)
        return reply_fail(resp, rc, err);
    return reply_backlog_page(resp, page, next);
}

/* POST /v1/retries/{id}/retry (drop 0) and DELETE /v1/retries/{id} (1). An
 * id that is not a token is 404 as one not waiting. */
static int retry_act(void *arg, const struct hookd_request *req, struct hookd_response *resp,
                     int drop)
{
    struct hookd_api *api = arg;
    char err[HOOKD_ERRLEN];
    const char *id = req->params[0];
    redisContext *c = pool_take(api, err);
    if (!c)
        return reply_fail(resp, HOOKD_EREDIS, err);
    int rc = drop ? hookd_backlog_retry_delete(c, api->cfg, id, err)
                  : hookd_backlog_retry_now(c, api->cfg, id, err);
    pool_give(api, c);
    if (rc)
        return reply_fail(resp, rc == HOOKD_EINVAL ? HOOKD_ENOTFOUND : rc, err);
    if (drop) {
        resp->status = 204;
        return 0;
    }
    return reply_json(resp, 200, json_pack("{s:s}", "id", id));
}

static int retries_now(void *arg, const struct hookd_request *req, struct hookd_response *resp)
{
    return retry_act(arg, req, resp, 0);
}

static int retries_delete(void *arg, const struct hookd_request *req, struct hookd_response *resp)
{
    return retry_act(arg, req, resp, 1);
}

#define TEST_WAIT_MS 10000 /* how long POST /v1/webhooks/{id}/test waits for an attempt */

/* The integer in the attempt log member name of e (a decimal string), or
 * -1. */
static int64_t attempt_int(json_t *e, const char *name)
{
    int64_t v;
    const char *s = json_string_value(json_object_get(e, name));
    return s && hookd_parse_i64(s, 0, INT64_MAX, &v) == 0 ? v : -1;
}

static int webhooks_test(void *arg, const struct hookd_request *req, struct hookd_response *resp)
{
    struct hookd_api *api = arg;
    char err[HOOKD_ERRLEN];
    const char *id = path_id(req, resp);
    json_t *e = NULL;
    if (!id)
        return 0;
    redisContext *c = pool_take(api, err);
    if (!c)
        return reply_fail(resp, HOOKD_EREDIS, err);
    int rc = hookd_catalog_test(c, api->cfg, id, TEST_WAIT_MS, &e, err);
    pool_give(api, c);
    if (rc == HOOKD_ERANGE)
        return hookd_response_problem(resp, 504, "%s", err);
    if (rc)
        return reply_fail(resp, rc, err);
    int64_t status = attempt_int(e, "status"), ms = attempt_int(e, "ms");
    const char *error = json_string_value(json_object_get(e, "error"));
    int delivered = status >= 200 && status < 300;
    return reply_json(resp, 200,
                      json_pack("{s:b s:o s:I s:o s:o}", "delivered", delivered, "status",
                                status > 0 ? json_integer(status) : json_null(), "duration_ms",
                                (json_int_t)(ms < 0 ? 0 : ms), "error",
                                error && error[0] ? json_string(error) : json_null(), "attempt",
                                e));
}

/* ---- the document ---- */

/* docs/openapi.json as the build embedded it. */
static int openapi_get(void *arg, const struct hookd_request *req, struct hookd_response *resp)
{
    (void)arg;
    (void)req;
    const struct hookd_console_file *f = &hookd_openapi_files[0];
    resp->content_type = f->content_type;
    return hookd_buf_add(&resp->body, f->data, f->len);
}

/* ---- the table ---- */

static const struct hookd_route ROUTES[] = {
    {"GET", "/v1/webhooks", webhooks_list, NULL, 1},
    {"POST", "/v1/webhooks", webhooks_create, NULL, 1},
    {"GET", "/v1/webhooks/{id}", webhooks_get, NULL, 1},
    {"PATCH", "/v1/webhooks/{id}", webhooks_update, NULL, 1},
    {"DELETE", "/v1/webhooks/{id}", webhooks_delete, NULL, 1},
    {"POST", "/v1/webhooks/{id}/enable", webhooks_enable, NULL, 1},
    {"POST", "/v1/webhooks/{id}/disable", webhooks_disable, NULL, 1},
    {"POST", "/v1/webhooks/{id}/rotate-secret", webhooks_rotate, NULL, 1},
    {"GET", "/v1/webhooks/{id}/attempts", webhooks_attempts, NULL, 1},
    {"POST", "/v1/events", events_post, NULL, 1},
    {"GET", "/v1/stats", stats_get, NULL, 1},
    {"GET", "/v1/hosts", hosts_get, NULL, 1},
    {"GET", "/v1/dead", dead_list, NULL, 1},
    {"POST", "/v1/dead/replay", dead_replay, NULL, 1},
    {"POST", "/v1/dead/purge", dead_purge, NULL, 1},
    {"POST", "/v1/webhooks/{id}/recover", webhooks_recover, NULL, 1},
    {"POST", "/v1/webhooks/{id}/test", webhooks_test, NULL, 1},
    {"GET", "/v1/retries", retries_list, NULL, 1},
    {"POST", "/v1/retries/{id}/retry", retries_now, NULL, 1},
    {"DELETE", "/v1/retries/{id}", retries_delete, NULL, 1},
    {"GET", "/v1/openapi.json", openapi_get, NULL, 1},
};

int hookd_api_new(const struct hookd_config *cfg, struct hookd_api **out, char *errbuf)
{
    size_t n = sizeof(ROUTES) / sizeof(ROUTES[0]);
    struct hookd_api *api = calloc(1, sizeof(*api));
    struct hookd_route *r = calloc(n, sizeof(*r));
    if (!api || !r) {
        free(api);
        free(r);
        return hookd_fail(errbuf, HOOKD_ENOMEM, "api: out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        r[i] = ROUTES[i];
        r[i].arg = api;
    }
    api->cfg = cfg;
    api->routes = r;
    api->nroutes = n;
    pthread_mutex_init(&api->lock, NULL);
    *out = api;
    return 0;
}

const struct hookd_route *hookd_api_routes(struct hookd_api *api, size_t *n)
{
    *n = api->nroutes;
    return api->routes;
}

void hookd_api_free(struct hookd_api *api)
{
    if (!api)
        return;
    for (int i = 0; i < api->npool; i++)
        redisFree(api->pool[i]);
    pthread_mutex_destroy(&api->lock);
    free(api->routes);
    free(api);
}
