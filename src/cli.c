/* cli.c - the command dispatcher and `hookd webhook`.
 *
 * Webhooks are hashes "{P}:webhook:<id>" listed in the set "{P}:webhooks";
 * every change bumps "{P}:webhooks:rev" in the same atomic step, so that
 * workers reload. Writes that depend on whether the webhook exists (add
 * refuses an existing id, update refuses a missing one) are one Lua script,
 * so that they never race with a concurrent delete. */
#include "hookd/cli.h"

#include <errno.h>
#include <hiredis/hiredis.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hookd/envelope.h"
#include "hookd/job.h"
#include "hookd/net.h"
#include "hookd/redis.h"
#include "hookd/registry.h"
#include "hookd/sign.h"

#define WH_SECRET_MAX 1024
#define WH_DESCRIPTION_MAX 1024
#define WH_LOG_COUNT_MAX 100000
#define WH_ARGV_MAX 40
#define WH_TIMEOUT_MAX_MS 3600000 /* what the registry accepts */

/* KEYS: webhook hash, id set, rev counter. ARGV: mode ("add" refuses an
 * existing hash, "update" a missing one), id, a field to delete or "",
 * then field/value pairs. Returns the hash's pairs after the change, or
 * false when the precondition failed. */
static const char WH_PUT_LUA[] =
    "local e = redis.call('EXISTS', KEYS[1])\n"
    "if (ARGV[1] == 'add' and e == 1) or (ARGV[1] == 'update' and e == 0) then\n"
    "  return false\n"
    "end\n"
    "redis.call('HSET', KEYS[1], unpack(ARGV, 4))\n"
    "if ARGV[3] ~= '' then redis.call('HDEL', KEYS[1], ARGV[3]) end\n"
    "redis.call('SADD', KEYS[2], ARGV[2])\n"
    "redis.call('INCR', KEYS[3])\n"
    "return redis.call('HGETALL', KEYS[1])\n";

/* KEYS: webhook hash, id set, rev counter. ARGV: id. Returns 1 when the
 * webhook existed. */
static const char WH_DEL_LUA[] = "local n = redis.call('DEL', KEYS[1])\n"
                                 "local m = redis.call('SREM', KEYS[2], ARGV[1])\n"
                                 "if n + m > 0 then redis.call('INCR', KEYS[3]) end\n"
                                 "return n\n";

/* ---- Shared helpers ---- */

int hookd_cli_err(int code, const char *fmt, ...)
{
    char line[HOOKD_ERRLEN * 2];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    fflush(stdout);
    fprintf(stderr, "hookd: %s\n", line);
    return code;
}

const char *hookd_cli_quote(const char *s, char out[HOOKD_CLI_QUOTE_LEN])
{
    size_t i;
    for (i = 0; s[i] && i < 64; i++) {
        unsigned char ch = (unsigned char)s[i];
        out[i] = (ch < 0x20 || ch > 0x7e) ? '?' : (char)ch;
    }
    if (s[i] && i + 3 < HOOKD_CLI_QUOTE_LEN) {
        memcpy(out + i, "...", 3);
        i += 3;
    }
    out[i] = '\0';
    return out;
}

/* Finds the option called name (name_len bytes, "--url"), or NULL. Options
 * whose name is NULL are switched off. */
static struct hookd_cli_opt *find_opt(struct hookd_cli_opt *opts, size_t nopts, const char *name,
                                      size_t name_len)
{
    for (size_t i = 0; i < nopts; i++) {
        if (opts[i].name && strlen(opts[i].name) == name_len &&
            memcmp(opts[i].name, name, name_len) == 0)
            return &opts[i];
    }
    return NULL;
}

int hookd_cli_parse(const char *cmd, int argc, char **argv, struct hookd_cli_opt *opts,
                    size_t nopts, const char **pos, int maxpos, int *npos)
{
    char q[HOOKD_CLI_QUOTE_LEN];
    int flags_done = 0;

    *npos = 0;
    for (size_t i = 0; i < nopts; i++)
        opts[i].value = NULL;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (flags_done || a[0] != '-' || strcmp(a, "-") == 0) {
            if (*npos >= maxpos)
                return hookd_cli_err(2, "%s: unexpected argument '%s'", cmd, hookd_cli_quote(a, q));
            pos[(*npos)++] = a;
            continue;
        }
        if (strcmp(a, "--") == 0) {
            flags_done = 1;
            continue;
        }
        const char *eq = strchr(a, '=');
        size_t name_len = eq ? (size_t)(eq - a) : strlen(a);
        struct hookd_cli_opt *o = a[1] == '-' ? find_opt(opts, nopts, a, name_len) : NULL;
        if (!o) {
            char name[HOOKD_CLI_QUOTE_LEN];
            hookd_cli_quote(a, name);
            if (name_len < sizeof(name))
                name[name_len] = '\0';
            return hookd_cli_err(2, "%s: unknown option %s", cmd, name);
        }
        if (o->value)
            return hookd_cli_err(2, "%s: %s given twice", cmd, o->name);
        if (!o->takes_value) {
            if (eq)
                return hookd_cli_err(2, "%s: %s takes no value", cmd, o->name);
            o->value = "";
        } else if (eq) {
            o->value = eq + 1;
        } else if (i + 1 < argc) {
            o->value = argv[++i];
        } else {
            return hookd_cli_err(2, "%s: %s needs a value", cmd, o->name);
        }
    }
    return 0;
}

int hookd_cli_count(const char *cmd, const char *s, long long max, long long *out)
{
    int64_t v;
    if (hookd_parse_i64(s, 1, max, &v) != 0)
        return hookd_cli_err(2, "%s: --count must be a whole number from 1 to %lld", cmd, max);
    *out = v;
    return 0;
}

int hookd_cli_print_json(json_t *j)
{
    char *s = j ? json_dumps(j, JSON_PRESERVE_ORDER | JSON_COMPACT) : NULL;
    json_decref(j);
    if (!s)
        return hookd_cli_err(1, "out of memory");
    fputs(s, stdout);
    fputc('\n', stdout);
    free(s);
    return 0;
}

const char *hookd_cli_redis_errstr(const struct redisContext *c)
{
    if (c->err == REDIS_ERR_IO && strcmp(c->errstr, strerror(EAGAIN)) == 0)
        return "no answer within 5 s";
    return c->errstr[0] ? c->errstr : "no reply";
}

struct redisReply *hookd_cli_command(struct redisContext *c, int argc, const char **argv,
                                     const size_t *lens, char *errbuf)
{
    redisReply *r = redisCommandArgv(c, argc, argv, lens);
    if (!r) {
        hookd_fail(errbuf, HOOKD_EREDIS, "redis: %s", hookd_cli_redis_errstr(c));
        return NULL;
    }
    if (r->type == REDIS_REPLY_ERROR) {
        hookd_fail(errbuf, HOOKD_EREDIS, "redis: %.*s", (int)(r->len > 200 ? 200 : r->len), r->str);
        freeReplyObject(r);
        return NULL;
    }
    return r;
}

/* ---- Webhooks ---- */

/* One webhook's fields as read from its hash (pointers into a reply). */
struct wh_fields {
    const char *url, *secret, *events, *workspace, *description, *enabled, *signing;
    const char *timeout_ms, *connect_timeout_ms, *created_at, *updated_at, *disabled_reason;
};

/* Fills f from the flat field/value array of an HGETALL reply. */
static void wh_fields_read(const redisReply *r, struct wh_fields *f)
{
    static const struct {
        const char *name;
        size_t off;
    } map[] = {
        {"url", offsetof(struct wh_fields, url)},
        {"secret", offsetof(struct wh_fields, secret)},
        {"events", offsetof(struct wh_fields, events)},
        {"workspace", offsetof(struct wh_fields, workspace)},
        {"description", offsetof(struct wh_fields, description)},
        {"enabled", offsetof(struct wh_fields, enabled)},
        {"signing", offsetof(struct wh_fields, signing)},
        {"timeout_ms", offsetof(struct wh_fields, timeout_ms)},
        {"connect_timeout_ms", offsetof(struct wh_fields, connect_timeout_ms)},
        {"created_at", offsetof(struct wh_fields, created_at)},
        {"updated_at", offsetof(struct wh_fields, updated_at)},
        {"disabled_reason", offsetof(struct wh_fields, disabled_reason)},
    };
    memset(f, 0, sizeof(*f));
    for (size_t i = 0; i + 1 < r->elements; i += 2) {
        const redisReply *k = r->element[i], *v = r->element[i + 1];
        if (k->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING)
            continue;
        for (size_t j = 0; j < sizeof(map) / sizeof(map[0]); j++) {
            if (strcmp(k->str, map[j].name) == 0)
                *(const char **)((char *)f + map[j].off) = v->str;
        }
    }
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

/* The webhook as the JSON object docs/cli.md shows. */
static json_t *wh_json(const char *id, const redisReply *r, int show_secret)
{
    struct wh_fields f;
    wh_fields_read(r, &f);
    json_t *o = json_object();
    json_t *events = json_array();
    if (!o || !events) {
        json_decref(o);
        json_decref(events);
        return NULL;
    }
    const char *ev = f.events && f.events[0] ? f.events : "*.*";
    while (*ev) {
        const char *comma = strchr(ev, ',');
        size_t n = comma ? (size_t)(comma - ev) : strlen(ev);
        json_t *one = json_stringn(ev, n);
        if (one)
            json_array_append_new(events, one);
        ev += n + (comma ? 1 : 0);
    }
    json_object_set_new(o, "id", str_or_empty(id));
    json_object_set_new(o, "url", str_or_empty(f.url));
    json_object_set_new(o, "secret",
                        show_secret ? str_or_empty(f.secret) : json_string("<hidden>"));
    json_object_set_new(o, "events", events);
    json_object_set_new(o, "workspace", str_or_empty(f.workspace));
    json_object_set_new(o, "description", str_or_empty(f.description));
    int enabled = !f.enabled || (strcmp(f.enabled, "0") != 0 && strcmp(f.enabled, "false") != 0);
    json_object_set_new(o, "enabled", json_boolean(enabled));
    json_object_set_new(o, "signing", str_or_empty(f.signing ? f.signing : "twenty"));
    json_object_set_new(o, "timeout_ms", ms_number(f.timeout_ms));
    json_object_set_new(o, "connect_timeout_ms", ms_number(f.connect_timeout_ms));
    json_object_set_new(o, "disabled_reason", str_or_empty(f.disabled_reason));
    json_object_set_new(o, "created_at", str_or_empty(f.created_at));
    json_object_set_new(o, "updated_at", str_or_empty(f.updated_at));
    return o;
}

/* Writes "{P}:webhook:<id>" into key (HOOKD_KEY_MAX bytes). */
static void wh_key(char *key, const struct hookd_config *cfg, const char *id)
{
    char suffix[HOOKD_KEY_MAX];
    snprintf(suffix, sizeof(suffix), "webhook:%s", id);
    hookd_key(key, cfg->prefix, suffix);
}

/* Current time as RFC 3339 UTC with seconds, "2025-02-10T15:30:50Z". */
static void now_rfc3339(char out[32])
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* What `add` and `update` may set; NULL members are left alone. Owns the
 * normalised events list and the duration texts. */
struct wh_change {
    const char *url, *secret, *workspace, *description, *signing, *enabled;
    char *events;                  /* normalised, malloc'ed */
    char timeout[24], connect[24]; /* decimal ms, or "" when not given */
};

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

/* Checks a --webhook-timeout style value into out as decimal ms. */
static int duration_opt(const char *cmd, const char *flag, const char *s, char out[24], int64_t *ms)
{
    if (hookd_duration_parse(s, ms) != 0)
        return hookd_cli_err(2, "%s: %s: expected a duration like 500ms, 10s or 5m", cmd, flag);
    if (*ms > WH_TIMEOUT_MAX_MS)
        return hookd_cli_err(2, "%s: %s: at most 1h", cmd, flag);
    snprintf(out, 24, "%lld", (long long)*ms);
    return 0;
}

/* 1 when s is 1..WH_SECRET_MAX bytes of visible ASCII. */
static int secret_valid(const char *s)
{
    size_t i;
    for (i = 0; s[i]; i++) {
        if (i >= WH_SECRET_MAX || (unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e)
            return 0;
    }
    return i > 0;
}

enum {
    O_URL,
    O_SECRET,
    O_EVENTS,
    O_WORKSPACE,
    O_DESC,
    O_SIGNING,
    O_TIMEOUT,
    O_CONNECT,
    O_ENABLED,
    O_ID,
    O_SHOW,
    O_NOPTS
};

/* Validates the flags shared by add and update into ch. Returns 0 or 2. */
static int wh_change_check(const struct hookd_config *cfg, const char *cmd,
                           const struct hookd_cli_opt *o, struct wh_change *ch)
{
    char err[HOOKD_ERRLEN];
    int64_t tmo = 0, con = 0;

    memset(ch, 0, sizeof(*ch));
    if ((ch->url = o[O_URL].value) != NULL && hookd_url_check(ch->url, NULL, 0, err) != 0)
        return hookd_cli_err(2, "--url: %s", err);
    if ((ch->secret = o[O_SECRET].value) != NULL && !secret_valid(ch->secret))
        return hookd_cli_err(2, "%s: --secret must be 1..%d bytes of visible ASCII", cmd,
                             WH_SECRET_MAX);
    if (o[O_EVENTS].value) {
        if (!(ch->events = events_normalise(o[O_EVENTS].value[0] ? o[O_EVENTS].value : "*.*")))
            return hookd_cli_err(1, "out of memory");
        if (hookd_filter_list_check(ch->events, err) != 0)
            return hookd_cli_err(2, "--events: %s",
                                 strncmp(err, "events: ", 8) == 0 ? err + 8 : err);
    }
    if ((ch->workspace = o[O_WORKSPACE].value) != NULL && ch->workspace[0] &&
        !hookd_id_valid(ch->workspace))
        return hookd_cli_err(2, "%s: --workspace must be 1..%d bytes of [A-Za-z0-9_.:-]", cmd,
                             HOOKD_ID_MAX);
    if ((ch->description = o[O_DESC].value) != NULL) {
        json_t *probe = json_string(ch->description);
        int ok = probe != NULL;
        json_decref(probe);
        if (!ok || strlen(ch->description) > WH_DESCRIPTION_MAX)
            return hookd_cli_err(2, "%s: --description must be at most %d bytes of UTF-8", cmd,
                                 WH_DESCRIPTION_MAX);
    }
    if ((ch->signing = o[O_SIGNING].value) != NULL && strcmp(ch->signing, "twenty") != 0 &&
        strcmp(ch->signing, "standard") != 0)
        return hookd_cli_err(2, "%s: --signing must be twenty or standard", cmd);
    if (o[O_TIMEOUT].value &&
        duration_opt(cmd, "--webhook-timeout", o[O_TIMEOUT].value, ch->timeout, &tmo) != 0)
        return 2;
    if (tmo >= cfg->lease_ms)
        return hookd_cli_err(2, "%s: --webhook-timeout must be shorter than the lease (%lld ms)",
                             cmd, (long long)cfg->lease_ms);
    if (o[O_CONNECT].value &&
        duration_opt(cmd, "--webhook-connect-timeout", o[O_CONNECT].value, ch->connect, &con) != 0)
        return 2;
    if (tmo > 0 && con > tmo)
        return hookd_cli_err(2, "%s: --webhook-connect-timeout must not exceed the timeout", cmd);
    if ((ch->enabled = o[O_ENABLED].value) != NULL) {
        if (strcmp(ch->enabled, "true") == 0)
            ch->enabled = "1";
        else if (strcmp(ch->enabled, "false") == 0)
            ch->enabled = "0";
        else
            return hookd_cli_err(2, "%s: --enabled must be true or false", cmd);
    }
    return 0;
}

/* Appends a field/value pair to argv when value is given. */
static void put_pair(const char **argv, int *argc, const char *name, const char *value)
{
    if (value) {
        argv[(*argc)++] = name;
        argv[(*argc)++] = value;
    }
}

/* Runs WH_PUT_LUA for id with the changes in ch; prints the resulting
 * webhook. mode is "add" or "update". */
static int wh_put(const struct hookd_config *cfg, const char *mode, const char *id,
                  const struct wh_change *ch, int show_secret)
{
    char key[HOOKD_KEY_MAX], set[HOOKD_KEY_MAX], rev[HOOKD_KEY_MAX], now[32];
    char err[HOOKD_ERRLEN];
    const char *argv[WH_ARGV_MAX];
    int argc = 0, code = 1;

    wh_key(key, cfg, id);
    hookd_key(set, cfg->prefix, "webhooks");
    hookd_key(rev, cfg->prefix, "webhooks:rev");
    now_rfc3339(now);
    argv[argc++] = "EVAL";
    argv[argc++] = WH_PUT_LUA;
    argv[argc++] = "3";
    argv[argc++] = key;
    argv[argc++] = set;
    argv[argc++] = rev;
    argv[argc++] = mode;
    argv[argc++] = id;
    /* Re-enabling by hand forgets why a 410 disabled it. */
    argv[argc++] = strcmp(mode, "update") == 0 && ch->enabled && strcmp(ch->enabled, "1") == 0
                       ? "disabled_reason"
                       : "";
    put_pair(argv, &argc, "url", ch->url);
    put_pair(argv, &argc, "secret", ch->secret);
    put_pair(argv, &argc, "events", ch->events);
    put_pair(argv, &argc, "workspace", ch->workspace);
    put_pair(argv, &argc, "description", ch->description);
    put_pair(argv, &argc, "enabled", ch->enabled);
    put_pair(argv, &argc, "signing", ch->signing);
    put_pair(argv, &argc, "timeout_ms", ch->timeout[0] ? ch->timeout : NULL);
    put_pair(argv, &argc, "connect_timeout_ms", ch->connect[0] ? ch->connect : NULL);
    put_pair(argv, &argc, "created_at", strcmp(mode, "add") == 0 ? now : NULL);
    put_pair(argv, &argc, "updated_at", now);

    redisContext *c = hookd_redis_connect(cfg, err);
    if (!c)
        return hookd_cli_err(1, "%s", err);
    redisReply *r = hookd_cli_command(c, argc, argv, NULL, err);
    if (!r) {
        hookd_cli_err(1, "%s", err);
    } else if (r->type != REDIS_REPLY_ARRAY) {
        if (strcmp(mode, "add") == 0)
            hookd_cli_err(1, "webhook '%s' already exists", id);
        else
            hookd_cli_err(1, "no webhook '%s'", id);
    } else {
        code = hookd_cli_print_json(wh_json(id, r, show_secret));
    }
    freeReplyObject(r);
    redisFree(c);
    return code;
}

/* Defines the flag table of add and update; O_* index it. */
static void wh_opts(struct hookd_cli_opt o[O_NOPTS])
{
    static const struct hookd_cli_opt init[O_NOPTS] = {
        [O_URL] = {"--url", 1, NULL},
        [O_SECRET] = {"--secret", 1, NULL},
        [O_EVENTS] = {"--events", 1, NULL},
        [O_WORKSPACE] = {"--workspace", 1, NULL},
        [O_DESC] = {"--description", 1, NULL},
        [O_SIGNING] = {"--signing", 1, NULL},
        [O_TIMEOUT] = {"--webhook-timeout", 1, NULL},
        [O_CONNECT] = {"--webhook-connect-timeout", 1, NULL},
        [O_ENABLED] = {"--enabled", 1, NULL},
        [O_ID] = {"--id", 1, NULL},
        [O_SHOW] = {"--show-secret", 0, NULL},
    };
    memcpy(o, init, sizeof(init));
}

static int wh_add(const struct hookd_config *cfg, int argc, char **argv)
{
    struct hookd_cli_opt o[O_NOPTS];
    struct wh_change ch;
    const char *pos[1];
    char id[HOOKD_ID_MAX + 1], secret[65];
    int npos, code;

    wh_opts(o);
    o[O_ENABLED].name = NULL; /* a new webhook is enabled */
    o[O_SHOW].name = NULL;    /* and its secret always shown */
    if ((code = hookd_cli_parse("webhook add", argc, argv, o, O_NOPTS, pos, 0, &npos)) != 0)
        return code;
    if (!o[O_URL].value)
        return hookd_cli_err(2, "webhook add: --url is required");
    if ((code = wh_change_check(cfg, "webhook add", o, &ch)) != 0)
        goto out;
    code = 1;
    if (o[O_ID].value) {
        if (!hookd_id_valid(o[O_ID].value)) {
            code = hookd_cli_err(2, "webhook add: --id must be 1..%d bytes of [A-Za-z0-9_.:-]",
                                 HOOKD_ID_MAX);
            goto out;
        }
        snprintf(id, sizeof(id), "%s", o[O_ID].value);
    } else {
        memcpy(id, "wh_", 3);
        if (hookd_random_hex(id + 3, 8) != 0) {
            hookd_cli_err(1, "cannot draw random bytes");
            goto out;
        }
    }
    if (!ch.secret) {
        if (hookd_random_hex(secret, 32) != 0) {
            hookd_cli_err(1, "cannot draw random bytes");
            goto out;
        }
        ch.secret = secret;
    }
    if (!ch.events)
        ch.events = strdup("*.*");
    if (!ch.signing)
        ch.signing = "twenty";
    if (!ch.workspace)
        ch.workspace = "";
    if (!ch.description)
        ch.description = "";
    ch.enabled = "1";
    if (!ch.events)
        hookd_cli_err(1, "out of memory");
    else
        code = wh_put(cfg, "add", id, &ch, 1);
out:
    explicit_bzero(secret, sizeof(secret));
    free(ch.events);
    return code;
}

static int wh_update(const struct hookd_config *cfg, int argc, char **argv)
{
    struct hookd_cli_opt o[O_NOPTS];
    struct wh_change ch;
    const char *pos[1];
    int npos, code;

    wh_opts(o);
    o[O_SECRET].name = NULL; /* the secret changes with rotate-secret only */
    o[O_ID].name = NULL;
    if ((code = hookd_cli_parse("webhook update", argc, argv, o, O_NOPTS, pos, 1, &npos)) != 0)
        return code;
    if (npos != 1)
        return hookd_cli_err(2, "webhook update: expected ID");
    if (!hookd_id_valid(pos[0]))
        return hookd_cli_err(2, "webhook update: invalid webhook id");
    if ((code = wh_change_check(cfg, "webhook update", o, &ch)) == 0)
        code = wh_put(cfg, "update", pos[0], &ch, o[O_SHOW].value != NULL);
    free(ch.events);
    return code;
}

static int wh_rotate(const struct hookd_config *cfg, int argc, char **argv)
{
    struct hookd_cli_opt o[] = {{"--secret", 1, NULL}};
    struct wh_change ch;
    const char *pos[1];
    char secret[65];
    int npos, code;

    if ((code = hookd_cli_parse("webhook rotate-secret", argc, argv, o, 1, pos, 1, &npos)) != 0)
        return code;
    if (npos != 1)
        return hookd_cli_err(2, "webhook rotate-secret: expected ID");
    if (!hookd_id_valid(pos[0]))
        return hookd_cli_err(2, "webhook rotate-secret: invalid webhook id");
    memset(&ch, 0, sizeof(ch));
    if (o[0].value) {
        if (!secret_valid(o[0].value))
            return hookd_cli_err(2,
                                 "webhook rotate-secret: --secret must be 1..%d bytes of "
                                 "visible ASCII",
                                 WH_SECRET_MAX);
        ch.secret = o[0].value;
    } else {
        if (hookd_random_hex(secret, 32) != 0)
            return hookd_cli_err(1, "cannot draw random bytes");
        ch.secret = secret;
    }
    code = wh_put(cfg, "update", pos[0], &ch, 1);
    explicit_bzero(secret, sizeof(secret));
    return code;
}

/* Parses "ID [--show-secret]" style arguments: exactly one valid id. */
static int id_arg(const char *cmd, int argc, char **argv, struct hookd_cli_opt *o, size_t n,
                  const char **id)
{
    const char *pos[1] = {NULL};
    int npos = 0, code;
    *id = NULL;
    if ((code = hookd_cli_parse(cmd, argc, argv, o, n, pos, 1, &npos)) != 0)
        return code;
    if (npos != 1)
        return hookd_cli_err(2, "%s: expected ID", cmd);
    if (!hookd_id_valid(pos[0]))
        return hookd_cli_err(2, "%s: invalid webhook id", cmd);
    *id = pos[0];
    return 0;
}

static int wh_show(const struct hookd_config *cfg, int argc, char **argv)
{
    struct hookd_cli_opt o[] = {{"--show-secret", 0, NULL}};
    char key[HOOKD_KEY_MAX], err[HOOKD_ERRLEN];
    const char *id;
    int code;

    if ((code = id_arg("webhook show", argc, argv, o, 1, &id)) != 0)
        return code;
    redisContext *c = hookd_redis_connect(cfg, err);
    if (!c)
        return hookd_cli_err(1, "%s", err);
    wh_key(key, cfg, id);
    const char *cmd[2] = {"HGETALL", key};
    redisReply *r = hookd_cli_command(c, 2, cmd, NULL, err);
    if (!r)
        code = hookd_cli_err(1, "%s", err);
    else if (r->type != REDIS_REPLY_ARRAY || r->elements == 0)
        code = hookd_cli_err(1, "no webhook '%s'", id);
    else
        code = hookd_cli_print_json(wh_json(id, r, o[0].value != NULL));
    freeReplyObject(r);
    redisFree(c);
    return code;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Prints every webhook, sorted by id, reading their hashes in one pipeline. */
static int wh_list(const struct hookd_config *cfg, int argc, char **argv)
{
    struct hookd_cli_opt o[] = {{"--show-secret", 0, NULL}};
    char set[HOOKD_KEY_MAX], key[HOOKD_KEY_MAX], err[HOOKD_ERRLEN];
    const char *pos[1];
    const char **ids = NULL;
    int npos, code;

    if ((code = hookd_cli_parse("webhook list", argc, argv, o, 1, pos, 0, &npos)) != 0)
        return code;
    redisContext *c = hookd_redis_connect(cfg, err);
    if (!c)
        return hookd_cli_err(1, "%s", err);
    hookd_key(set, cfg->prefix, "webhooks");
    const char *cmd[2] = {"SMEMBERS", set};
    redisReply *members = hookd_cli_command(c, 2, cmd, NULL, err), *r = NULL;
    size_t n = 0;
    if (!members) {
        code = hookd_cli_err(1, "%s", err);
        goto out;
    }
    ids = calloc(members->elements + 1, sizeof(*ids));
    if (!ids) {
        code = hookd_cli_err(1, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < members->elements; i++) {
        if (members->element[i]->type == REDIS_REPLY_STRING &&
            hookd_id_valid(members->element[i]->str))
            ids[n++] = members->element[i]->str;
    }
    qsort(ids, n, sizeof(*ids), cmp_str);
    for (size_t i = 0; i < n; i++) {
        wh_key(key, cfg, ids[i]);
        const char *hget[2] = {"HGETALL", key};
        if (redisAppendCommandArgv(c, 2, hget, NULL) != REDIS_OK) {
            code = hookd_cli_err(1, "redis: %s", hookd_cli_redis_errstr(c));
            goto out;
        }
    }
    code = 0;
    for (size_t i = 0; i < n; i++) {
        void *reply = NULL;
        if (redisGetReply(c, &reply) != REDIS_OK) {
            code = hookd_cli_err(1, "redis: %s", hookd_cli_redis_errstr(c));
            goto out;
        }
        r = reply;
        if (r->type == REDIS_REPLY_ERROR) {
            code = hookd_cli_err(1, "redis: %s", r->str);
            goto out;
        }
        /* A hash deleted since SMEMBERS is no longer a webhook. */
        if (r->type == REDIS_REPLY_ARRAY && r->elements > 0 &&
            hookd_cli_print_json(wh_json(ids[i], r, o[0].value != NULL)) != 0) {
            code = 1;
            goto out;
        }
        freeReplyObject(r);
        r = NULL;
    }
out:
    freeReplyObject(r);
    freeReplyObject(members);
    free(ids);
    redisFree(c);
    return code;
}

static int wh_delete(const struct hookd_config *cfg, int argc, char **argv)
{
    char key[HOOKD_KEY_MAX], set[HOOKD_KEY_MAX], rev[HOOKD_KEY_MAX], err[HOOKD_ERRLEN];
    const char *id;
    int code;

    if ((code = id_arg("webhook delete", argc, argv, NULL, 0, &id)) != 0)
        return code;
    redisContext *c = hookd_redis_connect(cfg, err);
    if (!c)
        return hookd_cli_err(1, "%s", err);
    wh_key(key, cfg, id);
    hookd_key(set, cfg->prefix, "webhooks");
    hookd_key(rev, cfg->prefix, "webhooks:rev");
    const char *cmd[7] = {"EVAL", WH_DEL_LUA, "3", key, set, rev, id};
    redisReply *r = hookd_cli_command(c, 7, cmd, NULL, err);
    if (!r) {
        code = hookd_cli_err(1, "%s", err);
    } else if (r->type != REDIS_REPLY_INTEGER || r->integer != 1) {
        code = hookd_cli_err(1, "no webhook '%s'", id);
    } else {
        code = hookd_cli_print_json(json_pack("{s:s}", "deleted", id));
    }
    freeReplyObject(r);
    redisFree(c);
    return code;
}

/* Prints the newest --count entries of the webhook's attempt log. */
static int wh_log(const struct hookd_config *cfg, int argc, char **argv)
{
    struct hookd_cli_opt o[] = {{"--count", 1, NULL}};
    char suffix[HOOKD_KEY_MAX], key[HOOKD_KEY_MAX], err[HOOKD_ERRLEN], count[24];
    const char *id;
    long long n = 20;
    int code;

    if ((code = id_arg("webhook log", argc, argv, o, 1, &id)) != 0)
        return code;
    if (o[0].value && (code = hookd_cli_count("webhook log", o[0].value, WH_LOG_COUNT_MAX, &n)))
        return code;
    redisContext *c = hookd_redis_connect(cfg, err);
    if (!c)
        return hookd_cli_err(1, "%s", err);
    snprintf(suffix, sizeof(suffix), "log:%s", id);
    hookd_key(key, cfg->prefix, suffix);
    snprintf(count, sizeof(count), "%lld", n);
    const char *cmd[6] = {"XREVRANGE", key, "+", "-", "COUNT", count};
    redisReply *r = hookd_cli_command(c, 6, cmd, NULL, err);
    if (!r) {
        code = hookd_cli_err(1, "%s", err);
        goto out;
    }
    for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements && code == 0; i++) {
        const redisReply *e = r->element[i];
        if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
            e->element[0]->type != REDIS_REPLY_STRING || e->element[1]->type != REDIS_REPLY_ARRAY)
            continue;
        const redisReply *kv = e->element[1];
        json_t *j = json_object();
        if (!j) {
            code = hookd_cli_err(1, "out of memory");
            break;
        }
        json_object_set_new(j, "entry_id", str_or_empty(e->element[0]->str));
        for (size_t k = 0; k + 1 < kv->elements; k += 2) {
            if (kv->element[k]->type == REDIS_REPLY_STRING &&
                kv->element[k + 1]->type == REDIS_REPLY_STRING &&
                strcmp(kv->element[k]->str, "entry_id") != 0)
                json_object_set_new(j, kv->element[k]->str, str_or_empty(kv->element[k + 1]->str));
        }
        code = hookd_cli_print_json(j);
    }
out:
    freeReplyObject(r);
    redisFree(c);
    return code;
}

/* ---- Dispatch ---- */

static const char USAGE_WEBHOOK[] =
    "usage: hookd webhook add --url URL [--secret S] [--events LIST] [--workspace W]\n"
    "                         [--description D] [--signing twenty|standard]\n"
    "                         [--webhook-timeout DUR] [--webhook-connect-timeout DUR] [--id ID]\n"
    "       hookd webhook list [--show-secret]\n"
    "       hookd webhook show ID [--show-secret]\n"
    "       hookd webhook update ID [--url URL] [--events LIST] [--workspace W]\n"
    "                         [--description D] [--enabled true|false] [--signing S]\n"
    "                         [--webhook-timeout DUR] [--webhook-connect-timeout DUR]\n"
    "       hookd webhook delete ID\n"
    "       hookd webhook rotate-secret ID [--secret S]\n"
    "       hookd webhook log ID [--count N]\n";

static const char USAGE_ALL[] =
    "usage: hookd run\n"
    "       hookd webhook add|list|show|update|delete|rotate-secret|log ...\n"
    "       hookd enqueue EVENT [DATA_JSON] [--workspace W] [--webhook ID] [--id ID]\n"
    "       hookd enqueue -\n"
    "       hookd stats [--json] [--watch]\n"
    "       hookd dead list [--count N] | replay [--count N] | purge\n"
    "       hookd verify --secret S --timestamp T --signature SIG [FILE]\n"
    "Every option of `hookd --help` may be given too; see docs/cli.md.\n";

/* 1 when one of the words asks for help. */
static int wants_help(int argc, char **argv)
{
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0)
            return 0;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            return 1;
    }
    return 0;
}

static int webhook_main(const struct hookd_config *cfg, int argc, char **argv)
{
    static const struct {
        const char *name;
        int (*fn)(const struct hookd_config *, int, char **);
    } subs[] = {
        {"add", wh_add},       {"list", wh_list},     {"show", wh_show},
        {"update", wh_update}, {"delete", wh_delete}, {"rotate-secret", wh_rotate},
        {"log", wh_log},
    };
    char q[HOOKD_CLI_QUOTE_LEN];

    if (argc < 2)
        return hookd_cli_err(2, "webhook: missing subcommand (add, list, show, update, delete, "
                                "rotate-secret, log)");
    if (wants_help(argc, argv)) {
        fputs(USAGE_WEBHOOK, stdout);
        return 0;
    }
    for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++) {
        if (strcmp(argv[1], subs[i].name) == 0)
            return subs[i].fn(cfg, argc - 2, argv + 2);
    }
    return hookd_cli_err(2,
                         "webhook: unknown subcommand '%s' (add, list, show, update, delete, "
                         "rotate-secret, log)",
                         hookd_cli_quote(argv[1], q));
}

int hookd_cli_main(const struct hookd_config *cfg, int argc, char **argv)
{
    char q[HOOKD_CLI_QUOTE_LEN];
    int code;

    if (argc < 1)
        return hookd_cli_err(2, "missing command; try `hookd help`");
    if (strcmp(argv[0], "webhook") == 0) {
        code = webhook_main(cfg, argc, argv);
    } else if (strcmp(argv[0], "enqueue") == 0 || strcmp(argv[0], "stats") == 0 ||
               strcmp(argv[0], "dead") == 0 || strcmp(argv[0], "verify") == 0) {
        if (wants_help(argc, argv)) {
            fputs(USAGE_ALL, stdout);
            code = 0;
        } else if (argv[0][0] == 'e') {
            code = hookd_cli_enqueue(cfg, argc, argv);
        } else if (argv[0][0] == 's') {
            code = hookd_cli_stats(cfg, argc, argv);
        } else if (argv[0][0] == 'd') {
            code = hookd_cli_dead(cfg, argc, argv);
        } else {
            code = hookd_cli_verify(cfg, argc, argv);
        }
    } else if (strcmp(argv[0], "help") == 0) {
        fputs(USAGE_ALL, stdout);
        code = 0;
    } else {
        return hookd_cli_err(2, "unknown command '%s'", hookd_cli_quote(argv[0], q));
    }
    if (fflush(stdout) != 0 || ferror(stdout))
        return hookd_cli_err(1, "cannot write to standard output");
    return code;
}
