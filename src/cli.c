/* cli.c - the command dispatcher and `hookd webhook`.
 *
 * Commands are rows of a table, each with its help. Webhooks are hashes
 * "{P}:webhook:<id>" listed in the set "{P}:webhooks"; every change bumps
 * "{P}:webhooks:rev" in the same atomic step, so that workers reload. A
 * change reads the record under WATCH, judges the record it would leave
 * with hookd_webhook_parse() (the worker's own judge, so that the CLI
 * refuses exactly what the worker could not deliver to), and writes it with
 * one Lua script in MULTI/EXEC, which also refuses an existing id for add
 * and a missing one for update; a record changed meanwhile is read again. */
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
#include "hookd/queue.h"
#include "hookd/redis.h"
#include "hookd/registry.h"
#include "hookd/schema.h"
#include "hookd/scripts.h"
#include "hookd/sign.h"
#include "hookd/stats.h"
#include "hookd/webhook.h"

#define WH_LOG_COUNT_MAX 100000
#define WH_ARGV_MAX 40

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

/* Reads webhook id as `webhook show` does: the reply of HOOKD_S_WEBHOOK_SHOW (nil
 * when there is no such webhook), or NULL with the reason in errbuf. */
static redisReply *wh_read(redisContext *c, const struct hookd_config *cfg, const char *id,
                           char *errbuf)
{
    char key[HOOKD_KEY_MAX], set[HOOKD_KEY_MAX], rev[HOOKD_KEY_MAX];
    wh_key(key, cfg, id);
    hookd_schema_key(set, cfg->prefix, HOOKD_K_WEBHOOKS);
    hookd_schema_key(rev, cfg->prefix, HOOKD_K_WEBHOOKS_REV);
    const char *cmd[9] = {
        "EVAL", hookd_script(HOOKD_S_WEBHOOK_SHOW), "3", rev, set, key, cfg->prefix, "", id};
    return hookd_cli_command(c, 9, cmd, NULL, errbuf);
}

int hookd_cli_webhook_state(struct redisContext *c, const struct hookd_config *cfg, const char *id,
                            char *why)
{
    struct wh_record rec;
    struct hookd_webhook w;
    redisReply *r = wh_read(c, cfg, id, why);
    int state = HOOKD_CLI_WH_OK;
    if (!r)
        return HOOKD_EREDIS;
    wh_record_of(r, &rec);
    if (r->type == REDIS_REPLY_NIL) {
        state = HOOKD_CLI_WH_MISSING;
    } else if (!rec.readable) {
        hookd_str_copy(why, HOOKD_ERRLEN, rec.why);
        state = HOOKD_CLI_WH_INVALID;
    } else if (hookd_webhook_parse(&w, id, rec.kv, rec.lens, rec.n, why) != 0) {
        state = HOOKD_CLI_WH_INVALID;
    } else if (!w.enabled) {
        state = HOOKD_CLI_WH_DISABLED;
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

/* What `add`, `update` and `rotate-secret` may set; NULL members are left
 * alone. Owns the normalised events list, the duration texts and a secret
 * read from a file or drawn. */
struct wh_change {
    const char *url, *secret, *workspace, *description, *signing, *enabled;
    const char *disabled_reason;                   /* with enabled "0": why, for people */
    char disabled_at[HOOKD_I64_LEN];               /* with a reason: ms since the epoch */
    char *events;                                  /* normalised, malloc'ed */
    char timeout[24], connect[24];                 /* decimal ms, or "" when not given */
    int draw_secret;                               /* draw a secret fit for the signing */
    char secret_buf[4 * HOOKD_WEBHOOK_SECRET_MAX]; /* a secret read or drawn, of any length
                                                    * the record judge can name */
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
    if (*ms > HOOKD_WEBHOOK_TIMEOUT_MAX)
        return hookd_cli_err(2, "%s: %s: at most 1h", cmd, flag);
    snprintf(out, 24, "%lld", (long long)*ms);
    return 0;
}

int hookd_cli_read_secret(const char *cmd, const char *value, const char *file, char *out,
                          size_t cap)
{
    char q[HOOKD_CLI_QUOTE_LEN];
    struct hookd_buf b;
    int code = 0;
    if (value && file)
        return hookd_cli_err(2, "%s: give --secret or --secret-file, not both", cmd);
    if (value && strcmp(value, "-") != 0) {
        if (strlen(value) >= cap)
            return hookd_cli_err(2, "%s: --secret is over %zu bytes", cmd, cap - 1);
        hookd_str_copy(out, cap, value);
        return 0;
    }
    FILE *f = value ? stdin : fopen(file, "rb");
    if (!f)
        return hookd_cli_err(2, "%s: --secret-file %s: %s", cmd, hookd_cli_quote(file, q),
                             strerror(errno));
    hookd_buf_init(&b, cap - 1);
    char chunk[512];
    size_t n;
    while (code == 0 && (n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        if (hookd_buf_add(&b, chunk, n) != 0)
            code = hookd_cli_err(2, "%s: the secret in %s is over %zu bytes", cmd,
                                 value ? "standard input" : hookd_cli_quote(file, q), cap - 1);
    }
    if (code == 0 && ferror(f))
        code = hookd_cli_err(2, "%s: cannot read the secret: %s", cmd, strerror(errno));
    if (f != stdin)
        fclose(f);
    /* One line ending is the file's, not the secret's. */
    size_t len = b.len;
    if (len && b.data[len - 1] == '\n')
        len--;
    if (len && b.data[len - 1] == '\r')
        len--;
    if (code == 0 && len == 0)
        code = hookd_cli_err(2, "%s: the secret is empty", cmd);
    if (code == 0 && memchr(b.data, '\0', len))
        code = hookd_cli_err(2, "%s: the secret holds a NUL byte", cmd);
    if (code == 0) {
        memcpy(out, b.data, len);
        out[len] = '\0';
    }
    if (b.data)
        explicit_bzero(b.data, b.len);
    hookd_buf_free(&b);
    explicit_bzero(chunk, sizeof(chunk));
    return code;
}

/* The webhook's own timeout from its flag o (--webhook-timeout) or, in a
 * subcommand that has that flag, from the global option called global
 * (--timeout) when it was given on this command line, whose value cfg
 * holds as global_ms: into out as decimal ms and *ms. Returns 0 or 2. */
static int webhook_timeout(const struct hookd_config *cfg, const char *cmd,
                           const struct hookd_cli_opt *o, const char *global, int64_t global_ms,
                           char out[24], int64_t *ms)
{
    if (!o->name || !hookd_config_from_flag(cfg, global))
        return o->value ? duration_opt(cmd, o->name, o->value, out, ms) : 0;
    if (o->value)
        return hookd_cli_err(2, "%s: give --%s or %s, not both", cmd, global, o->name);
    if (global_ms > HOOKD_WEBHOOK_TIMEOUT_MAX)
        return hookd_cli_err(2, "%s: --%s: at most 1h", cmd, global);
    *ms = global_ms;
    snprintf(out, 24, "%lld", (long long)global_ms);
    return 0;
}

enum {
    O_URL,
    O_SECRET,
    O_SECRET_FILE,
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

/* Reads the flags shared by add, update and rotate-secret into ch; what the
 * record they make must be is judged later, on the whole record. Returns 0
 * or 2. */
static int wh_change_check(const struct hookd_config *cfg, const char *cmd,
                           const struct hookd_cli_opt *o, struct wh_change *ch)
{
    char err[HOOKD_ERRLEN];
    int64_t tmo = 0, con = 0;
    int code;

    memset(ch, 0, sizeof(*ch));
    if ((ch->url = o[O_URL].value) != NULL && hookd_url_check(ch->url, NULL, 0, err) != 0)
        return hookd_cli_err(2, "%s: --url: %s", cmd, err);
    if (o[O_SECRET].value || o[O_SECRET_FILE].value) {
        if ((code = hookd_cli_read_secret(cmd, o[O_SECRET].value, o[O_SECRET_FILE].value,
                                          ch->secret_buf, sizeof(ch->secret_buf))) != 0)
            return code;
        ch->secret = ch->secret_buf;
    }
    if (o[O_EVENTS].value) {
        if (!(ch->events = events_normalise(o[O_EVENTS].value)))
            return hookd_cli_err(1, "out of memory");
        if (hookd_filter_list_check(ch->events, err) != 0)
            return hookd_cli_err(2, "%s: --events: %s", cmd,
                                 strncmp(err, "events: ", 8) == 0 ? err + 8 : err);
    }
    ch->workspace = o[O_WORKSPACE].value;
    ch->description = o[O_DESC].value;
    ch->signing = o[O_SIGNING].value;
    if ((code = webhook_timeout(cfg, cmd, &o[O_TIMEOUT], "timeout", cfg->timeout_ms, ch->timeout,
                                &tmo)) != 0 ||
        (code = webhook_timeout(cfg, cmd, &o[O_CONNECT], "connect-timeout", cfg->connect_timeout_ms,
                                ch->connect, &con)) != 0)
        return code;
    if (tmo >= cfg->lease_ms)
        return hookd_cli_err(2,
                             "%s: the webhook's timeout (%lld ms) must be shorter than the lease "
                             "(%lld ms)",
                             cmd, (long long)tmo, (long long)cfg->lease_ms);
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

/* The fields a change writes, in the order they are written; NULL values
 * are left alone. */
static size_t change_pairs(const struct wh_change *ch, const char *mode, const char *now,
                           const char *pairs[][2])
{
    const char *add = strcmp(mode, "add") == 0 ? now : NULL;
    const char *rows[][2] = {
        {"url", ch->url},
        {"secret", ch->secret},
        {"events", ch->events},
        {"workspace", ch->workspace},
        {"description", ch->description},
        {"enabled", ch->enabled},
        {"disabled_reason", ch->disabled_reason},
        {"disabled_at", ch->disabled_reason ? ch->disabled_at : NULL},
        {"signing", ch->signing},
        {"timeout_ms", ch->timeout[0] ? ch->timeout : NULL},
        {"connect_timeout_ms", ch->connect[0] ? ch->connect : NULL},
        {"created_at", add},
        {"updated_at", now},
    };
    size_t n = 0;
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        if (rows[i][1]) {
            pairs[n][0] = rows[i][0];
            pairs[n++][1] = rows[i][1];
        }
    }
    return n;
}

/* Sends one command and checks that it answered as want ("OK" status or
 * "QUEUED"); 0, or 1 after printing the reason. */
static int wh_simple(redisContext *c, int argc, const char **argv, const size_t *lens)
{
    char err[HOOKD_ERRLEN];
    redisReply *r = hookd_cli_command(c, argc, argv, lens, err);
    if (!r)
        return hookd_cli_err(1, "%s", err);
    freeReplyObject(r);
    return 0;
}

/* One try of a change under WATCH: reads the record, judges the record the
 * change would make as the worker will, and writes it in MULTI/EXEC with
 * HOOKD_S_WEBHOOK_PUT. Returns 0 after printing the webhook, 1 or 2 after printing
 * the reason, or -1 when the record changed meanwhile (try again). */
static int wh_put_once(redisContext *c, const struct hookd_config *cfg, const char *cmd,
                       const char *mode, const char *id, struct wh_change *ch, int show_secret)
{
    char key[HOOKD_KEY_MAX], set[HOOKD_KEY_MAX], rev[HOOKD_KEY_MAX], now[32], err[HOOKD_ERRLEN];
    const char *argv[WH_ARGV_MAX], *pairs[16][2];
    struct wh_record rec;
    struct hookd_webhook w;
    int argc = 0, code = 1, rc;

    wh_key(key, cfg, id);
    hookd_schema_key(set, cfg->prefix, HOOKD_K_WEBHOOKS);
    hookd_schema_key(rev, cfg->prefix, HOOKD_K_WEBHOOKS_REV);
    const char *watch[2] = {"WATCH", key};
    if (wh_simple(c, 2, watch, NULL) != 0)
        return 1;
    const char *read[8] = {
        "EVAL", hookd_script(HOOKD_S_WEBHOOK_RECORD), "3", rev, set, key, cfg->prefix, ""};
    redisReply *cur = hookd_cli_command(c, 8, read, NULL, err), *r = NULL;
    if (!cur)
        return hookd_cli_err(1, "%s", err);
    wh_record_of(cur, &rec);
    if (strcmp(mode, "add") == 0 && rec.exists) {
        code = hookd_cli_err(1, "webhook '%s' already exists", id);
        goto out;
    }
    if (strcmp(mode, "update") == 0 && !rec.exists) {
        code = hookd_cli_err(1, "no webhook '%s'", id);
        goto out;
    }
    if (rec.exists && !rec.readable) {
        code = hookd_cli_err(1, "%s: webhook %s: %s; `hookd webhook delete %s` removes it", cmd, id,
                             rec.why, id);
        goto out;
    }
    rec.exists = rec.readable = 1;
    const char *sg = ch->signing ? ch->signing : wh_field(&rec, "signing");
    if (ch->draw_secret) {
        int std = sg && strcmp(sg, "standard") == 0;
        if (hookd_webhook_secret_new(HOOKD_SIGN_TWENTY | (std ? HOOKD_SIGN_STANDARD : 0),
                                     ch->secret_buf) != 0) {
            code = hookd_cli_err(1, "cannot draw random bytes");
            goto out;
        }
        ch->secret = ch->secret_buf;
    }
    now_rfc3339(now);
    size_t np = change_pairs(ch, mode, now, pairs);
    for (size_t i = 0; i < np; i++)
        rec_set(&rec, pairs[i][0], pairs[i][1]);
    /* Re-enabling by hand forgets why and when it was disabled, and the
     * failing window that may have done it. */
    static const char *const forgotten[] = {"disabled_reason", "disabled_at", "failing_since"};
    int forget = ch->enabled && strcmp(ch->enabled, "1") == 0;
    for (size_t i = 0; forget && i < sizeof(forgotten) / sizeof(forgotten[0]); i++)
        rec_set(&rec, forgotten[i], NULL);
    rc = hookd_webhook_parse(&w, id, rec.kv, rec.lens, rec.n, err);
    hookd_webhook_clear(&w);
    if (rc == HOOKD_EINVAL) {
        code = hookd_cli_err(2, "%s: %s", cmd, err);
        goto out;
    }
    if (rc) {
        code = hookd_cli_err(1, "%s: %s", cmd, hookd_strerror(rc));
        goto out;
    }

    const char *multi[1] = {"MULTI"};
    if (wh_simple(c, 1, multi, NULL) != 0)
        goto out;
    argv[argc++] = "EVAL";
    argv[argc++] = hookd_script(HOOKD_S_WEBHOOK_PUT);
    argv[argc++] = "3";
    argv[argc++] = key;
    argv[argc++] = set;
    argv[argc++] = rev;
    argv[argc++] = mode;
    argv[argc++] = id;
    argv[argc++] =
        forget && strcmp(mode, "update") == 0 ? "disabled_reason disabled_at failing_since" : "";
    for (size_t i = 0; i < np; i++) {
        argv[argc++] = pairs[i][0];
        argv[argc++] = pairs[i][1];
    }
    if (wh_simple(c, argc, argv, NULL) != 0)
        goto out;
    const char *exec[1] = {"EXEC"};
    if (!(r = hookd_cli_command(c, 1, exec, NULL, err))) {
        code = hookd_cli_err(1, "%s", err);
    } else if (r->type == REDIS_REPLY_NIL) {
        code = -1;
    } else if (r->type != REDIS_REPLY_ARRAY || r->elements != 1 ||
               r->element[0]->type == REDIS_REPLY_ERROR) {
        code = hookd_cli_err(1, "redis: %s",
                             r->type == REDIS_REPLY_ARRAY && r->elements == 1
                                 ? r->element[0]->str
                                 : "unexpected reply to EXEC");
    } else if (r->element[0]->type != REDIS_REPLY_ARRAY) {
        code = strcmp(mode, "add") == 0 ? hookd_cli_err(1, "webhook '%s' already exists", id)
                                        : hookd_cli_err(1, "no webhook '%s'", id);
    } else {
        wh_record_of(r->element[0], &rec);
        code = hookd_cli_print_json(wh_json(id, &rec, show_secret));
    }
out:
    if (code > 0) {
        const char *unwatch[1] = {"UNWATCH"};
        redisReply *u = redisCommandArgv(c, 1, unwatch, NULL);
        freeReplyObject(u);
    }
    freeReplyObject(r);
    freeReplyObject(cur);
    return code;
}

/* Makes the change ch to webhook id (mode "add" refuses an existing id,
 * "update" a missing one), so that the record it leaves is one the worker
 * can deliver to; prints the webhook. Tries again when another writer got
 * there first. Returns the exit code. */
static int wh_put(const struct hookd_config *cfg, const char *cmd, const char *mode, const char *id,
                  struct wh_change *ch, int show_secret)
{
    char err[HOOKD_ERRLEN];
    redisContext *c = hookd_redis_connect(cfg, err);
    if (!c)
        return hookd_cli_err(1, "%s", err);
    int code = -1;
    for (int i = 0; i < 5 && code < 0; i++)
        code = wh_put_once(c, cfg, cmd, mode, id, ch, show_secret);
    if (code < 0)
        code = hookd_cli_err(1, "%s: webhook %s kept changing; try again", cmd, id);
    redisFree(c);
    return code;
}

/* Defines the flag table of add, update and rotate-secret; O_* index it.
 * --timeout and --connect-timeout are the webhook's own here (see
 * hookd_config_flag_given()), as are their longer names. */
static void wh_opts(struct hookd_cli_opt o[O_NOPTS])
{
    static const struct hookd_cli_opt init[O_NOPTS] = {
        [O_URL] = {"--url", 1, NULL},
        [O_SECRET] = {"--secret", 1, NULL},
        [O_SECRET_FILE] = {"--secret-file", 1, NULL},
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
    char id[HOOKD_ID_MAX + 1];
    int npos, code;

    memset(&ch, 0, sizeof(ch));
    wh_opts(o);
    o[O_ENABLED].name = NULL; /* a new webhook is enabled */
    o[O_SHOW].name = NULL;    /* and its secret always shown */
    if ((code = hookd_cli_parse("webhook add", argc - 1, argv + 1, o, O_NOPTS, pos, 0, &npos)) != 0)
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
        hookd_str_copy(id, sizeof(id), o[O_ID].value);
    } else {
        memcpy(id, "wh_", 3);
        if (hookd_random_hex(id + 3, 8) != 0) {
            hookd_cli_err(1, "cannot draw random bytes");
            goto out;
        }
    }
    ch.draw_secret = !ch.secret;
    if (!ch.events && !(ch.events = strdup("*.*"))) {
        hookd_cli_err(1, "out of memory");
        goto out;
    }
    if (!ch.signing)
        ch.signing = "twenty";
    if (!ch.workspace)
        ch.workspace = "";
    if (!ch.description)
        ch.description = "";
    ch.enabled = "1";
    code = wh_put(cfg, "webhook add", "add", id, &ch, 1);
out:
    explicit_bzero(ch.secret_buf, sizeof(ch.secret_buf));
    free(ch.events);
    return code;
}

static int wh_update(const struct hookd_config *cfg, int argc, char **argv)
{
    struct hookd_cli_opt o[O_NOPTS];
    struct wh_change ch;
    const char *pos[1];
    int npos, code;

    memset(&ch, 0, sizeof(ch));
    wh_opts(o);
    o[O_SECRET].name = NULL; /* the secret changes with rotate-secret only */
    o[O_SECRET_FILE].name = NULL;
    o[O_ID].name = NULL;
    if ((code = hookd_cli_parse("webhook update", argc - 1, argv + 1, o, O_NOPTS, pos, 1, &npos)) !=
        0)
        return code;
    if (npos != 1)
        return hookd_cli_err(2, "webhook update: expected ID");
    if (!hookd_id_valid(pos[0]))
        return hookd_cli_err(2, "webhook update: invalid webhook id");
    if ((code = wh_change_check(cfg, "webhook update", o, &ch)) == 0)
        code = wh_put(cfg, "webhook update", "update", pos[0], &ch, o[O_SHOW].value != NULL);
    free(ch.events);
    return code;
}

static int wh_rotate(const struct hookd_config *cfg, int argc, char **argv)
{
    struct hookd_cli_opt o[O_NOPTS];
    struct wh_change ch;
    const char *pos[1];
    int npos, code;

    memset(&ch, 0, sizeof(ch));
    wh_opts(o);
    for (int i = 0; i < O_NOPTS; i++) {
        if (i != O_SECRET && i != O_SECRET_FILE && i != O_SIGNING)
            o[i].name = NULL;
    }
    if ((code = hookd_cli_parse("webhook rotate-secret", argc - 1, argv + 1, o, O_NOPTS, pos, 1,
                                &npos)) != 0)
        return code;
    if (npos != 1)
        return hookd_cli_err(2, "webhook rotate-secret: expected ID");
    if (!hookd_id_valid(pos[0]))
        return hookd_cli_err(2, "webhook rotate-secret: invalid webhook id");
    if ((code = wh_change_check(cfg, "webhook rotate-secret", o, &ch)) == 0) {
        ch.draw_secret = !ch.secret;
        code = wh_put(cfg, "webhook rotate-secret", "update", pos[0], &ch, 1);
    }
    explicit_bzero(ch.secret_buf, sizeof(ch.secret_buf));
    free(ch.events);
    return code;
}

/* `webhook enable ID` and `webhook disable ID [--reason TEXT]`. Enabling
 * forgets why it was disabled; the worker's tend sweep then sends the
 * deliveries parked while it was (HOOKD_PARK_WEBHOOK). */
static int wh_switch(const struct hookd_config *cfg, int argc, char **argv)
{
    int on = strcmp(argv[0], "enable") == 0;
    struct hookd_cli_opt o[] = {{"--reason", 1, NULL}};
    const char *pos[1];
    char cmd[32];
    int npos, code;
    snprintf(cmd, sizeof(cmd), "webhook %s", argv[0]);
    if (on)
        o[0].name = NULL;
    if ((code = hookd_cli_parse(cmd, argc - 1, argv + 1, o, 1, pos, 1, &npos)) != 0)
        return code;
    if (npos != 1)
        return hookd_cli_err(2, "%s: expected ID", cmd);
    if (!hookd_id_valid(pos[0]))
        return hookd_cli_err(2, "%s: invalid webhook id", cmd);
    struct wh_change ch;
    memset(&ch, 0, sizeof(ch));
    ch.enabled = on ? "1" : "0";
    if (!on) {
        ch.disabled_reason = o[0].value ? o[0].value : "disabled by hand";
        hookd_i64_fmt(ch.disabled_at, hookd_now_ms());
    }
    return wh_put(cfg, cmd, "update", pos[0], &ch, 0);
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

/* Adds to j what `webhook show` tells besides the record: "health", the
 * fleet's view of its host (null when no loop reported it lately), and
 * "parked", its deliveries waiting for it to be enabled. 0, or
 * HOOKD_EREDIS with the reason in err. */
static int wh_health(redisContext *c, const struct hookd_config *cfg, const char *id,
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
    redisReply *r = hookd_cli_command(c, 2, zcard, NULL, err);
    if (!r)
        return HOOKD_EREDIS;
    json_object_set_new(j, "parked", json_integer(r->type == REDIS_REPLY_INTEGER ? r->integer : 0));
    freeReplyObject(r);
    return 0;
}

static int wh_show(const struct hookd_config *cfg, int argc, char **argv)
{
    struct hookd_cli_opt o[] = {{"--show-secret", 0, NULL}};
    char err[HOOKD_ERRLEN];
    struct wh_record rec;
    const char *id;
    int code;

    if ((code = id_arg("webhook show", argc - 1, argv + 1, o, 1, &id)) != 0)
        return code;
    redisContext *c = hookd_redis_connect(cfg, err);
    if (!c)
        return hookd_cli_err(1, "%s", err);
    redisReply *r = wh_read(c, cfg, id, err);
    if (!r) {
        code = hookd_cli_err(1, "%s", err);
    } else if (r->type == REDIS_REPLY_NIL) {
        code = hookd_cli_err(1, "no webhook '%s'", id);
    } else {
        wh_record_of(r, &rec);
        json_t *j = wh_json(id, &rec, o[0].value != NULL);
        if (j && wh_health(c, cfg, id, &rec, j, err) != 0) {
            json_decref(j);
            code = hookd_cli_err(1, "%s", err);
        } else {
            code = hookd_cli_print_json(j);
        }
    }
    freeReplyObject(r);
    redisFree(c);
    return code;
}

/* Orders the (id, record) pairs of a webhooks() reply by id. */
static int cmp_pair(const void *a, const void *b)
{
    const redisReply *const *x = a, *const *y = b;
    return strcmp(x[0]->str, y[0]->str);
}

/* Prints every webhook, sorted by id, as the worker reads them: a member
 * of the set whose record is missing or not a hash is shown invalid. */
static int wh_list(const struct hookd_config *cfg, int argc, char **argv)
{
    struct hookd_cli_opt o[] = {{"--show-secret", 0, NULL}};
    char set[HOOKD_KEY_MAX], rev[HOOKD_KEY_MAX], err[HOOKD_ERRLEN];
    const char *pos[1];
    struct wh_record rec;
    int npos, code;

    if ((code = hookd_cli_parse("webhook list", argc - 1, argv + 1, o, 1, pos, 0, &npos)) != 0)
        return code;
    redisContext *c = hookd_redis_connect(cfg, err);
    if (!c)
        return hookd_cli_err(1, "%s", err);
    hookd_schema_key(set, cfg->prefix, HOOKD_K_WEBHOOKS);
    hookd_schema_key(rev, cfg->prefix, HOOKD_K_WEBHOOKS_REV);
    const char *cmd[7] = {"EVAL", hookd_script(HOOKD_S_WEBHOOK_ALL), "2", rev, set, cfg->prefix,
                          ""};
    redisReply *r = hookd_cli_command(c, 7, cmd, NULL, err);
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements < 1) {
        code = hookd_cli_err(1, "%s", r ? "redis: unexpected reply" : err);
        goto out;
    }
    size_t n = (r->elements - 1) / 2;
    redisReply **pairs = r->element + 1;
    for (size_t i = 0; i < n; i++) {
        if (pairs[2 * i]->type != REDIS_REPLY_STRING) {
            code = hookd_cli_err(1, "redis: unexpected reply");
            goto out;
        }
    }
    qsort(pairs, n, 2 * sizeof(*pairs), cmp_pair);
    for (size_t i = 0; i < n && code == 0; i++) {
        const char *id = pairs[2 * i]->str;
        if (!hookd_id_valid(id)) {
            hookd_cli_err(0, "webhook list: a member of %s is not a webhook id: \"%s\"", set,
                          hookd_cli_quote(id, err));
            continue;
        }
        wh_record_of(pairs[2 * i + 1], &rec);
        code = hookd_cli_print_json(wh_json(id, &rec, o[0].value != NULL));
    }
out:
    freeReplyObject(r);
    redisFree(c);
    return code;
}

static int wh_delete(const struct hookd_config *cfg, int argc, char **argv)
{
    char key[HOOKD_KEY_MAX], set[HOOKD_KEY_MAX], rev[HOOKD_KEY_MAX], err[HOOKD_ERRLEN];
    const char *id;
    int code;

    if ((code = id_arg("webhook delete", argc - 1, argv + 1, NULL, 0, &id)) != 0)
        return code;
    redisContext *c = hookd_redis_connect(cfg, err);
    if (!c)
        return hookd_cli_err(1, "%s", err);
    wh_key(key, cfg, id);
    hookd_schema_key(set, cfg->prefix, HOOKD_K_WEBHOOKS);
    hookd_schema_key(rev, cfg->prefix, HOOKD_K_WEBHOOKS_REV);
    const char *cmd[7] = {"EVAL", hookd_script(HOOKD_S_WEBHOOK_DEL), "3", key, set, rev, id};
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
    char key[HOOKD_KEY_MAX], err[HOOKD_ERRLEN], count[24];
    const char *id;
    long long n = 20;
    int code;

    if ((code = id_arg("webhook log", argc - 1, argv + 1, o, 1, &id)) != 0)
        return code;
    if (o[0].value && (code = hookd_cli_count("webhook log", o[0].value, WH_LOG_COUNT_MAX, &n)))
        return code;
    redisContext *c = hookd_redis_connect(cfg, err);
    if (!c)
        return hookd_cli_err(1, "%s", err);
    hookd_schema_key_of(key, cfg->prefix, HOOKD_K_LOG_OF, id);
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
        for (size_t k = 0; k + 1 < kv->elements && code == 0; k += 2) {
            const redisReply *f = kv->element[k], *v = kv->element[k + 1];
            if (f->type == REDIS_REPLY_STRING && v->type == REDIS_REPLY_STRING &&
                hookd_attempt_decode_pair(j, f->str, f->len, v->str, v->len) != 0)
                code = hookd_cli_err(1, "out of memory");
        }
        if (code == 0)
            code = hookd_cli_print_json(j);
        else
            json_decref(j);
    }
out:
    freeReplyObject(r);
    redisFree(c);
    return code;
}

/* ---- Dispatch ---- */

/* One command or webhook subcommand: its word, what runs it, and its help,
 * which `--help` anywhere among its words prints. */
struct cli_cmd {
    const char *name;                                     /* the word */
    int (*fn)(const struct hookd_config *, int, char **); /* argv[0] is the word */
    const char *help; /* usage and every flag; NULL: the command tells its own */
};

#define WH_CHANGE_FLAGS                                                                            \
    "  --events LIST          comma list of object.action filters (person.*, *.created, *.*)\n"    \
    "  --workspace W          only events of this workspace (\"\" for every one)\n"                \
    "  --description D        text for people, at most 1024 bytes\n"                               \
    "  --signing S            twenty (default) or standard (needs a whsec_ secret)\n"              \
    "  --timeout DUR          this webhook's attempt timeout (also --webhook-timeout;\n"           \
    "                         shorter than --lease; 0 for the worker's --timeout)\n"               \
    "  --connect-timeout DUR  this webhook's connect timeout (also --webhook-connect-timeout)\n"
#define WH_SECRET_FLAGS                                                                            \
    "  --secret S             the signing secret: 1..1024 bytes of visible ASCII; a\n"             \
    "                         Standard one is whsec_ + base64 of 24..64 bytes; - reads it\n"       \
    "                         from standard input, so that it is not in ps\n"                      \
    "  --secret-file PATH     read the secret from a file (one line ending dropped)\n"

static const struct cli_cmd WEBHOOK_CMDS[] = {
    {"add", wh_add,
     "usage: hookd webhook add --url URL [flags]\n"
     "Adds a webhook and prints it, its secret included (the only time it is shown\n"
     "unasked). Without --secret one is drawn: whsec_ + base64 of 32 random bytes for\n"
     "--signing standard, 64 hex digits for twenty.\n"
     "  --url URL              http or https receiver (required)\n" WH_SECRET_FLAGS WH_CHANGE_FLAGS
     "  --id ID                the id (default wh_ + 16 random hex digits)\n"},
    {"list", wh_list,
     "usage: hookd webhook list [--show-secret]\n"
     "Every webhook as one JSON line, sorted by id, as the worker judges it (\"valid\",\n"
     "\"invalid_reason\"): also ids whose record is missing or not a hash.\n"
     "  --show-secret          show secrets and the URLs' query values and credentials\n"},
    {"show", wh_show,
     "usage: hookd webhook show ID [--show-secret]\n"
     "One webhook as JSON, as the worker judges it.\n"
     "  --show-secret          show the secret and the URL's query values and credentials\n"},
    {"update", wh_update,
     "usage: hookd webhook update ID [flags]\n"
     "Changes a webhook and prints it; the record it leaves must be one the worker can\n"
     "deliver to, or nothing changes (exit 2 with the reason).\n"
     "  --url URL              http or https receiver\n"
     "  --enabled true|false   false stops deliveries; true also forgets a 410's "
     "reason\n" WH_CHANGE_FLAGS "  --show-secret          show the secret in what is printed\n"},
    {"enable", wh_switch,
     "usage: hookd webhook enable ID\n"
     "Enables a webhook and forgets why it was disabled; the deliveries parked while\n"
     "it was are sent again within a second.\n"},
    {"disable", wh_switch,
     "usage: hookd webhook disable ID [--reason TEXT]\n"
     "Disables a webhook: new events skip it, and its deliveries already queued are\n"
     "parked until `hookd webhook enable ID`.\n"
     "  --reason TEXT          why, kept as disabled_reason (default \"disabled by hand\")\n"},
    {"delete", wh_delete,
     "usage: hookd webhook delete ID\n"
     "Deletes a webhook (also a record that is not a hash).\n"},
    {"rotate-secret", wh_rotate,
     "usage: hookd webhook rotate-secret ID [--secret S | --secret-file PATH] [--signing S]\n"
     "Sets a new secret (drawn, fit for the signing, unless given) and prints the webhook\n"
     "with it.\n" WH_SECRET_FLAGS
     "  --signing S            switch to twenty or standard with the new secret\n"},
    {"log", wh_log,
     "usage: hookd webhook log ID [--count N]\n"
     "The newest attempts of a webhook, one JSON line each.\n"
     "  --count N              how many (1..100000, default 20)\n"},
};

/* Runs the entry of table (n rows) that argv[0] names; --help among its
 * words prints its help instead. what names the table in errors. */
static int cmd_run(const struct cli_cmd *table, size_t n, const char *what,
                   const struct hookd_config *cfg, int argc, char **argv)
{
    char q[HOOKD_CLI_QUOTE_LEN];
    for (size_t i = 0; i < n; i++) {
        if (strcmp(argv[0], table[i].name) != 0)
            continue;
        for (int k = 1; table[i].help && k < argc && strcmp(argv[k], "--") != 0; k++) {
            if (strcmp(argv[k], "--help") == 0 || strcmp(argv[k], "-h") == 0) {
                fputs(table[i].help, stdout);
                fputs("Every option of `hookd --help` may be given too; see docs/cli.md.\n",
                      stdout);
                return 0;
            }
        }
        return table[i].fn(cfg, argc, argv);
    }
    return hookd_cli_err(2, "%sunknown %s '%s'; try `hookd help`", what[0] ? what : "",
                         what[0] ? "subcommand" : "command", hookd_cli_quote(argv[0], q));
}

static int webhook_main(const struct hookd_config *cfg, int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        FILE *out = argc < 2 ? stderr : stdout;
        fputs("usage: hookd webhook add|list|show|update|delete|rotate-secret|log ...\n"
              "`hookd webhook SUBCOMMAND --help` explains each.\n",
              out);
        return argc < 2 ? 2 : 0;
    }
    return cmd_run(WEBHOOK_CMDS, sizeof(WEBHOOK_CMDS) / sizeof(WEBHOOK_CMDS[0]), "webhook: ", cfg,
                   argc - 1, argv + 1);
}

static const struct cli_cmd COMMANDS[] = {
    {"webhook", webhook_main, NULL},
    {"enqueue", hookd_cli_enqueue,
     "usage: hookd enqueue EVENT [DATA_JSON] [--workspace W] [--webhook ID] [--id ID]\n"
     "       hookd enqueue -\n"
     "Pushes one envelope (DATA_JSON defaults to {}), or every line of standard input\n"
     "as one, after checking it as the worker will; a timestamp is added when none is\n"
     "given.\n"
     "  --workspace W          the tenant the event belongs to\n"
     "  --webhook ID           only this webhook (it must exist)\n"
     "  --id ID                the event's id (default: a hash of the envelope)\n"},
    {"stats", hookd_cli_stats,
     "usage: hookd stats [--json] [--watch]\n"
     "Queue depths, the oldest waiting event's age and the counters.\n"
     "  --json                 one JSON object\n"
     "  --watch                again every second until Ctrl-C, with rates\n"},
    {"dead", hookd_cli_dead,
     "usage: hookd dead list [--count N] | replay [--count N] | purge\n"
     "  list                   the newest dead records, one JSON line each (default 20)\n"
     "  replay                 puts records back as work, oldest first (default all)\n"
     "  purge                  deletes every record\n"},
    {"verify", hookd_cli_verify,
     "usage: hookd verify [--signing twenty|standard] --secret S --timestamp T\n"
     "                    --signature SIG [--id ID] [FILE|-]\n"
     "Checks a delivery's signature over the body's raw bytes (FILE, or standard input);\n"
     "prints ok and exits 0, or exits 1.\n"
     "  --signing S            twenty (default: X-Twenty-Webhook-Signature, hex) or\n"
     "                         standard (webhook-signature, v1,<base64>, needs --id)\n"
     "  --secret S             the webhook's secret (--secret-file PATH reads it)\n"
     "  --timestamp T          the timestamp header as sent\n"
     "  --signature SIG        the signature header as sent\n"
     "  --id ID                the webhook-id header (standard)\n"},
};

static const char USAGE_ALL[] =
    "usage: hookd run\n"
    "       hookd webhook add|list|show|update|delete|rotate-secret|log ...\n"
    "       hookd enqueue EVENT [DATA_JSON] [--workspace W] [--webhook ID] [--id ID]\n"
    "       hookd enqueue -\n"
    "       hookd stats [--json] [--watch]\n"
    "       hookd dead list [--count N] | replay [--count N] | purge\n"
    "       hookd verify [--signing S] --secret S --timestamp T --signature SIG [FILE]\n"
    "`hookd COMMAND --help` explains each; every option of `hookd --help` may be given\n"
    "too; see docs/cli.md.\n";

int hookd_cli_main(const struct hookd_config *cfg, int argc, char **argv)
{
    int code;

    if (argc < 1)
        return hookd_cli_err(2, "missing command; try `hookd help`");
    if (strcmp(argv[0], "help") == 0) {
        fputs(USAGE_ALL, stdout);
        code = 0;
    } else {
        code = cmd_run(COMMANDS, sizeof(COMMANDS) / sizeof(COMMANDS[0]), "", cfg, argc, argv);
    }
    if (fflush(stdout) != 0 || ferror(stdout))
        return hookd_cli_err(1, "cannot write to standard output");
    return code;
}
