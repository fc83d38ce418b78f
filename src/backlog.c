/* backlog.c - dead records and waiting retries, for the CLI and the API
 * (backlog.h). Synchronous hiredis; every move that must not be half done
 * is one script (scripts.c). */
#include "hookd/backlog.h"

#include <hiredis/hiredis.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hookd/config.h"
#include "hookd/job.h"
#include "hookd/redis.h"
#include "hookd/schema.h"
#include "hookd/scripts.h"

/* ---- times ---- */

/* Days from 1970-01-01 to the civil date y-m-d (proleptic Gregorian). */
static int64_t days_from_civil(int64_t y, int64_t m, int64_t d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* Reads n digits at *p into *v and moves *p past them; 0, or -1 when they
 * are not all digits. */
static int digits(const char **p, int n, int *v)
{
    int x = 0;
    for (int i = 0; i < n; i++) {
        char ch = (*p)[i];
        if (ch < '0' || ch > '9')
            return -1;
        x = x * 10 + (ch - '0');
    }
    *p += n;
    *v = x;
    return 0;
}

/* One fixed part of an RFC 3339 time: digits, then a separator (or none). */
struct time_part {
    int width; /* digits */
    int min;   /* smallest value */
    int max;   /* largest value */
    char sep;  /* byte after it, or 0 */
};

static const struct time_part TIME_PARTS[6] = {
    {4, 0, 9999, '-'}, {2, 1, 12, '-'}, {2, 1, 31, 'T'},
    {2, 0, 23, ':'},   {2, 0, 59, ':'}, {2, 0, 60, 0},
};

int hookd_backlog_time_parse(const char *text, int64_t *ms, char *errbuf)
{
    size_t len = text ? strnlen(text, HOOKD_BACKLOG_TIME_MAX + 1) : 0;
    if (len == 0 || len > HOOKD_BACKLOG_TIME_MAX)
        return hookd_fail(errbuf, HOOKD_EINVAL, "a time must be 1..%d bytes",
                          HOOKD_BACKLOG_TIME_MAX);
    if (strspn(text, "0123456789") == len) {
        int64_t v;
        if (hookd_parse_i64(text, 0, INT64_C(253402300799999), &v) != 0)
            return hookd_fail(errbuf, HOOKD_EINVAL, "a time in ms must be at most 253402300799999");
        *ms = v;
        return 0;
    }
    const char *p = text;
    int v[6];
    for (int i = 0; i < 6; i++) {
        const struct time_part *t = &TIME_PARTS[i];
        if (digits(&p, t->width, &v[i]) != 0 || v[i] < t->min || v[i] > t->max)
            goto bad;
        if (t->sep) {
            char ch = *p;
            if (!(ch == t->sep || (t->sep == 'T' && (ch == 't' || ch == ' '))))
                goto bad;
            p++;
        }
    }
    static const int MDAYS[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (v[0] % 4 == 0 && v[0] % 100 != 0) || v[0] % 400 == 0;
    if (v[2] > MDAYS[v[1] - 1] || (v[1] == 2 && v[2] == 29 && !leap))
        goto bad;
    int64_t frac = 0;
    if (*p == '.') {
        int n = 0;
        for (p++; *p >= '0' && *p <= '9'; p++, n++) {
            if (n < 3)
                frac = frac * 10 + (*p - '0');
        }
        if (n == 0)
            goto bad;
        for (; n < 3; n++)
            frac *= 10;
    }
    int64_t off = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int sign = *p == '-' ? -1 : 1, oh, om;
        p++;
        if (digits(&p, 2, &oh) != 0 || *p++ != ':' || digits(&p, 2, &om) != 0 || oh > 23 || om > 59)
            goto bad;
        off = sign * (oh * 60 + om) * INT64_C(60000);
    } else {
        goto bad;
    }
    if (*p != '\0')
        goto bad;
    int sec = v[5] == 60 ? 59 : v[5];
    int64_t t = days_from_civil(v[0], v[1], v[2]) * INT64_C(86400000) +
                ((int64_t)v[3] * 3600 + (int64_t)v[4] * 60 + sec) * 1000 + frac - off;
    if (t < 0)
        return hookd_fail(errbuf, HOOKD_EINVAL, "a time must not be before 1970");
    *ms = t;
    return 0;
bad:;
    char q[HOOKD_QUOTE_LEN];
    return hookd_fail(errbuf, HOOKD_EINVAL,
                      "'%s' is not an RFC 3339 time (2026-12-04T07:00:00Z) or ms since 1970",
                      hookd_quote(q, text, len));
}

/* ---- Redis ---- */

/* ---- dead records ---- */

/* One dead record as read: its JSON (NULL when it cannot be read, with why
 * set) and the fields filters look at, which live as long as j. */
struct dead_view {
    json_t *j;                     /* the record, or NULL */
    char id[HOOKD_BACKLOG_ID_LEN]; /* as listed */
    const char *webhook;           /* a delivery record's webhook, or NULL */
    const char *reason;            /* its reason, or NULL */
    int64_t at;                    /* when it died (ms), or -1 */
    char why[HOOKD_ERRLEN];        /* why j is NULL */
};

void hookd_backlog_dead_id(const char *rec, size_t len, char out[HOOKD_BACKLOG_ID_LEN])
{
    json_t *j = json_loadb(rec, len, JSON_REJECT_DUPLICATES, NULL);
    const char *d = json_string_value(json_object_get(j, "delivery"));
    const char *kind = json_string_value(json_object_get(j, "kind"));
    if (d && kind && strcmp(kind, "delivery") == 0 && hookd_delivery_id_valid(d)) {
        hookd_str_copy(out, HOOKD_BACKLOG_ID_LEN, d);
    } else {
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned int mdlen = 0;
        static const char HEX[] = "0123456789abcdef";
        out[0] = 'e';
        if (EVP_Digest(rec, len, md, &mdlen, EVP_sha256(), NULL) != 1)
            memset(md, 0, sizeof(md));
        for (int i = 0; i < 8; i++) {
            out[1 + 2 * i] = HEX[md[i] >> 4];
            out[2 + 2 * i] = HEX[md[i] & 15];
        }
        out[17] = '\0';
    }
    json_decref(j);
}

/* Reads the page element v (a record, or NUL and its size when over the cap)
 * into dv; dv->j is NULL when it is not a record. The caller releases
 * dv->j. */
static void dead_view_read(const redisReply *v, struct dead_view *dv)
{
    memset(dv, 0, sizeof(*dv));
    dv->at = -1;
    if (v->type != REDIS_REPLY_STRING) {
        hookd_str_copy(dv->id, sizeof(dv->id), "e0000000000000000");
        hookd_str_copy(dv->why, sizeof(dv->why), "not a string");
        return;
    }
    hookd_backlog_dead_id(v->str, v->len, dv->id);
    if (v->len > 0 && v->str[0] == '\0') {
        snprintf(dv->why, sizeof(dv->why), "%.30s bytes, over the record cap", v->str + 1);
        return;
    }
    json_error_t jerr;
    json_t *j = json_loadb(v->str, v->len, JSON_REJECT_DUPLICATES, &jerr);
    if (!j || !json_is_object(j)) {
        snprintf(dv->why, sizeof(dv->why), "not a JSON object: %s", j ? "other type" : jerr.text);
        json_decref(j);
        return;
    }
    dv->j = j;
    const char *kind = json_string_value(json_object_get(j, "kind"));
    if (kind && strcmp(kind, "delivery") == 0)
        dv->webhook = json_string_value(json_object_get(j, "webhook"));
    dv->reason = json_string_value(json_object_get(j, "reason"));
    json_t *at = json_object_get(j, "at");
    if (json_is_integer(at))
        dv->at = (int64_t)json_integer_value(at);
}

/* 1 when f has no member set. */
static int filter_empty(const struct hookd_dead_filter *f)
{
    return !f || (!f->id && !f->webhook && !f->reason && f->since_ms == 0 && f->until_ms == 0);
}

/* 1 when the record dv stands for matches f. A record that cannot be read
 * matches only an empty filter or its own id. */
static int filter_match(const struct hookd_dead_filter *f, const struct dead_view *dv)
{
    if (filter_empty(f))
        return 1;
    if (f->id && strcmp(f->id, dv->id) != 0)
        return 0;
    if (!dv->j)
        return f->id && !f->webhook && !f->reason && f->since_ms == 0 && f->until_ms == 0;
    if (f->webhook && (!dv->webhook || strcmp(f->webhook, dv->webhook) != 0))
        return 0;
    if (f->reason && (!dv->reason || strcmp(f->reason, dv->reason) != 0))
        return 0;
    if (f->since_ms && (dv->at < 0 || dv->at < f->since_ms))
        return 0;
    if (f->until_ms && (dv->at < 0 || dv->at >= f->until_ms))
        return 0;
    return 1;
}

/* The record cap of cfg. */
static size_t dead_cap(const struct hookd_config *cfg)
{
    return hookd_dead_max((size_t)cfg->max_envelope);
}

/* Reads the dead records at LRANGE indexes start..stop through the page
 * script; the reply ({length, record, ...}), or NULL with errbuf set. */
static redisReply *dead_page(redisContext *c, const struct hookd_config *cfg, long long start,
                             long long stop, char *errbuf)
{
    char key[HOOKD_KEY_MAX], a[HOOKD_I64_LEN], b[HOOKD_I64_LEN], cap[HOOKD_I64_LEN];
    hookd_schema_key(key, cfg->prefix, HOOKD_K_DEAD);
    hookd_i64_fmt(a, start);
    hookd_i64_fmt(b, stop);
    hookd_u64_fmt(cap, dead_cap(cfg));
    const char *argv[7] = {"EVAL", hookd_script(HOOKD_S_DEAD_PAGE), "1", key, a, b, cap};
    redisReply *r = hookd_redis_command(c, 7, argv, NULL, errbuf);
    if (r && (r->type != REDIS_REPLY_ARRAY || r->elements < 1 ||
              r->element[0]->type != REDIS_REPLY_INTEGER)) {
        freeReplyObject(r);
        hookd_fail(errbuf, HOOKD_EREDIS, "redis: unexpected reply to the dead page script");
        return NULL;
    }
    return r;
}

/* The listing of dv: the record plus "id" (and null for any of ALWAYS it
 * lacks, as an envelope record's webhook), or {"id", "invalid", ...}. NULL
 * when out of memory. */
static json_t *dead_view_json(struct dead_view *dv)
{
    static const char *const ALWAYS[] = {"kind", "reason", "at", "webhook", "event", "attempts"};
    json_t *o = dv->j ? json_incref(dv->j) : json_pack("{ss}", "invalid", dv->why);
    for (size_t i = 0; o && i < sizeof(ALWAYS) / sizeof(ALWAYS[0]); i++) {
        if (!json_object_get(o, ALWAYS[i]) && json_object_set_new(o, ALWAYS[i], json_null()) != 0) {
            json_decref(o);
            return NULL;
        }
    }
    if (o && json_object_set_new(o, "id", json_string(dv->id)) != 0) {
        json_decref(o);
        return NULL;
    }
    return o;
}

int hookd_backlog_dead_list(struct redisContext *c, const struct hookd_config *cfg,
                            const struct hookd_dead_filter *f, long long cursor, size_t limit,
                            struct json_t **out, long long *next, char *errbuf)
{
    *out = NULL;
    *next = -1;
    if (limit < 1 || limit > HOOKD_BACKLOG_LIMIT_MAX)
        return hookd_fail(errbuf, HOOKD_ERANGE, "limit must be 1..%d", HOOKD_BACKLOG_LIMIT_MAX);
    if (cursor < 0)
        return hookd_fail(errbuf, HOOKD_ERANGE, "cursor must not be negative");
    json_t *arr = json_array();
    if (!arr)
        return hookd_fail(errbuf, HOOKD_ENOMEM, "out of memory");
    long long pos = cursor, scanned = 0;
    while (json_array_size(arr) < limit && scanned < HOOKD_BACKLOG_SCAN_MAX) {
        redisReply *r = dead_page(c, cfg, pos, pos + HOOKD_BACKLOG_PAGE - 1, errbuf);
        if (!r) {
            json_decref(arr);
            return HOOKD_EREDIS;
        }
        long long llen = r->element[0]->integer;
        size_t i;
        for (i = 1; i < r->elements && json_array_size(arr) < limit; i++) {
            struct dead_view dv;
            dead_view_read(r->element[i], &dv);
            int rc = 0;
            if (filter_match(f, &dv)) {
                json_t *o = dead_view_json(&dv);
                rc = o ? json_array_append_new(arr, o) : -1;
            }
            json_decref(dv.j);
            if (rc != 0) {
                freeReplyObject(r);
                json_decref(arr);
                return hookd_fail(errbuf, HOOKD_ENOMEM, "out of memory");
            }
        }
        pos += (long long)(i - 1);
        scanned += (long long)(i - 1);
        size_t got = r->elements - 1;
        freeReplyObject(r);
        if (pos >= llen || got == 0) {
            *out = arr;
            return 0;
        }
    }
    *out = arr;
    *next = pos;
    return 0;
}

/* What a walk over the dead list does with each matching record. */
struct dead_walk {
    redisContext *c;                   /* the connection */
    const struct hookd_config *cfg;    /* prefix, caps */
    const struct hookd_dead_filter *f; /* which records */
    size_t max;                        /* matching records to act on, at most */
    size_t done;                       /* records acted on */
    size_t skipped;                    /* matching records left in place */
    char keys[4][HOOKD_KEY_MAX];       /* dead, jobs, retry, events */
    struct hookd_dead_work work;       /* the decoder's state (replay) */
};

/* Moves the record rec back to work in one script; 1 when moved, 0 when
 * gone already (another caller replayed it), 2 when it cannot be replayed
 * (counted in w->skipped), or HOOKD_EREDIS. */
static int replay_one(struct dead_walk *w, const redisReply *rec, char *errbuf)
{
    char why[HOOKD_ERRLEN], due[HOOKD_I64_LEN];
    struct hookd_dead_work *it = &w->work;
    if (hookd_dead_decode(rec->str, rec->len, it, why) != 0) {
        w->skipped++;
        return 2;
    }
    hookd_i64_fmt(due, hookd_now_ms());
    const char *payload = it->payload.data ? it->payload.data : "";
    const char *argv[12] = {
        "EVAL",  hookd_script(HOOKD_S_REPLAY), "4", w->keys[0], w->keys[1], w->keys[2], w->keys[3],
        rec->str};
    size_t lens[12];
    int argc;
    if (it->is_delivery) {
        argv[8] = "d";
        argv[9] = it->token;
        argv[10] = payload;
        argv[11] = due;
        argc = 12;
    } else {
        argv[8] = "e";
        argv[9] = payload;
        argc = 10;
    }
    for (int i = 0; i < argc; i++)
        lens[i] = strlen(argv[i]);
    lens[7] = rec->len;
    lens[it->is_delivery ? 10 : 9] = it->payload.len;
    redisReply *r = hookd_redis_command(w->c, argc, argv, lens, errbuf);
    if (!r)
        return HOOKD_EREDIS;
    int moved = r->type == REDIS_REPLY_INTEGER && r->integer == 1;
    freeReplyObject(r);
    return moved;
}

/* Removes the n records recs[] (by value, oldest copy each) in one script;
 * adds how many were there to w->done. 0 or HOOKD_EREDIS. */
static int remove_some(struct dead_walk *w, const redisReply *const *recs, size_t n, char *errbuf)
{
    if (n == 0)
        return 0;
    const char **argv = malloc((n + 4) * sizeof(*argv));
    size_t *lens = malloc((n + 4) * sizeof(*lens));
    if (!argv || !lens) {
        free(argv);
        free(lens);
        return hookd_fail(errbuf, HOOKD_ENOMEM, "out of memory");
    }
    argv[0] = "EVAL";
    argv[1] = hookd_script(HOOKD_S_DEAD_REMOVE);
    argv[2] = "1";
    argv[3] = w->keys[0];
    for (int i = 0; i < 4; i++)
        lens[i] = strlen(argv[i]);
    for (size_t i = 0; i < n; i++) {
        argv[4 + i] = recs[i]->str;
        lens[4 + i] = recs[i]->len;
    }
    redisReply *r = hookd_redis_command(w->c, (int)(n + 4), argv, lens, errbuf);
    free(argv);
    free(lens);
    if (!r)
        return HOOKD_EREDIS;
    if (r->type == REDIS_REPLY_INTEGER && r->integer > 0)
        w->done += (size_t)r->integer;
    freeReplyObject(r);
    return 0;
}

/* Walks the dead list oldest first, as it was at the start (records that
 * die meanwhile go on the other end and are not looked at), and replays
 * (purge 0) or removes (purge 1) the records that match. Records left in
 * place are counted from the tail, so that the next page starts past them;
 * records another caller took meanwhile shift nothing we count. */
static int dead_walk_run(struct dead_walk *w, int purge, char *errbuf)
{
    long long kept = 0, seen = 0, total = -1;
    const redisReply **batch = NULL;
    int rc = 0;
    if (purge && !(batch = malloc(HOOKD_BACKLOG_PAGE * sizeof(*batch))))
        return hookd_fail(errbuf, HOOKD_ENOMEM, "out of memory");
    while ((total < 0 || seen < total) && (w->max == 0 || w->done < w->max)) {
        redisReply *r = dead_page(w->c, w->cfg, -(kept + HOOKD_BACKLOG_PAGE), -(kept + 1), errbuf);
        if (!r) {
            rc = HOOKD_EREDIS;
            break;
        }
        if (total < 0) {
            total = r->element[0]->integer;
            if (w->max == 0)
                w->max = (size_t)total;
        }
        if (r->elements < 2) {
            freeReplyObject(r);
            break;
        }
        size_t nb = 0;
        for (size_t i = r->elements; i-- > 1 && seen < total;) {
            if (w->max != 0 && w->done + nb >= w->max)
                break;
            seen++;
            const redisReply *rec = r->element[i];
            struct dead_view dv;
            dead_view_read(rec, &dv);
            int match = filter_match(w->f, &dv), ok = dv.j != NULL;
            json_decref(dv.j);
            if (!match) {
                kept++;
            } else if (purge) {
                if (rec->type == REDIS_REPLY_STRING && rec->str[0] != '\0')
                    batch[nb++] = rec;
                else
                    kept++, w->skipped++;
            } else if (!ok) {
                kept++;
                w->skipped++;
            } else {
                int m = replay_one(w, rec, errbuf);
                if (m < 0) {
                    rc = m;
                    break;
                }
                if (m == 1)
                    w->done++;
                else if (m == 2)
                    kept++;
            }
        }
        if (rc == 0)
            rc = remove_some(w, batch, nb, errbuf);
        freeReplyObject(r);
        if (rc != 0)
            break;
    }
    free(batch);
    return rc;
}

/* Sets up w for cfg and f. */
static void dead_walk_init(struct dead_walk *w, redisContext *c, const struct hookd_config *cfg,
                           const struct hookd_dead_filter *f, size_t max)
{
    memset(w, 0, sizeof(*w));
    w->c = c;
    w->cfg = cfg;
    w->f = f;
    w->max = max;
    static const enum hookd_key_id K[4] = {HOOKD_K_DEAD, HOOKD_K_JOBS, HOOKD_K_RETRY,
                                           HOOKD_K_EVENTS};
    for (int i = 0; i < 4; i++)
        hookd_schema_key(w->keys[i], cfg->prefix, K[i]);
    size_t cap = dead_cap(cfg);
    hookd_buf_init(&w->work.payload, cap);
    w->work.max_record = cap;
    w->work.max_envelope = (size_t)cfg->max_envelope;
    w->work.max_job = hookd_job_max((size_t)cfg->max_envelope);
}

int hookd_backlog_dead_replay(struct redisContext *c, const struct hookd_config *cfg,
                              const struct hookd_dead_filter *f, size_t max, size_t *replayed,
                              size_t *skipped, char *errbuf)
{
    struct dead_walk w;
    dead_walk_init(&w, c, cfg, f, max);
    int rc = dead_walk_run(&w, 0, errbuf);
    *replayed = w.done;
    *skipped = w.skipped;
    hookd_buf_free(&w.work.payload);
    return rc;
}

int hookd_backlog_dead_purge(struct redisContext *c, const struct hookd_config *cfg,
                             const struct hookd_dead_filter *f, size_t *purged, char *errbuf)
{
    *purged = 0;
    if (filter_empty(f)) {
        char key[HOOKD_KEY_MAX];
        hookd_schema_key(key, cfg->prefix, HOOKD_K_DEAD);
        const char *argv[4] = {"EVAL", hookd_script(HOOKD_S_PURGE), "1", key};
        redisReply *r = hookd_redis_command(c, 4, argv, NULL, errbuf);
        if (!r)
            return HOOKD_EREDIS;
        if (r->type == REDIS_REPLY_INTEGER && r->integer > 0)
            *purged = (size_t)r->integer;
        freeReplyObject(r);
        return 0;
    }
    struct dead_walk w;
    dead_walk_init(&w, c, cfg, f, 0);
    int rc = dead_walk_run(&w, 1, errbuf);
    *purged = w.done;
    hookd_buf_free(&w.work.payload);
    return rc;
}

/* ---- retries ---- */

/* The listing of one retry entry: token tok due at due, job p (NULL when
 * {P}:jobs has none). NULL when out of memory. */
static json_t *retry_json(const struct hookd_config *cfg, const redisReply *tok,
                          const redisReply *due, const redisReply *p)
{
    char why[HOOKD_ERRLEN];
    json_int_t at = -1;
    if (due->type == REDIS_REPLY_STRING) {
        int64_t v;
        char num[HOOKD_I64_LEN + 8];
        hookd_str_copy(num, sizeof(num), due->str);
        char *dot = strchr(num, '.');
        if (dot)
            *dot = '\0';
        if (hookd_parse_i64(num, 0, INT64_MAX, &v) == 0)
            at = (json_int_t)v;
    }
    json_t *o = json_pack("{s:s%,s:I}", "id", tok->str, tok->len, "due_at", at);
    if (!o)
        return NULL;
    struct hookd_job job;
    int rc = HOOKD_EINVAL;
    if (p->type != REDIS_REPLY_STRING)
        hookd_str_copy(why, sizeof(why), "no job in {P}:jobs");
    else if (p->len > 0 && p->str[0] == '\0')
        snprintf(why, sizeof(why), "%.30s bytes, over the job cap", p->str + 1);
    else
        rc = hookd_job_decode(p->str, p->len, (size_t)cfg->max_envelope, tok->str, tok->len, &job,
                              why);
    if (rc != 0) {
        json_object_set_new(o, "invalid", json_string(why));
        return o;
    }
    json_object_set_new(o, "attempt", json_integer(job.attempt));
    json_object_set_new(o, "webhook", json_string(job.webhook));
    json_object_set_new(o, "delivery", json_string(job.delivery));
    json_object_set_new(o, "event_id", json_string(job.event_id));
    json_object_set_new(o, "event", json_string(job.event));
    json_object_set_new(o, "last_error",
                        job.last_error
                            ? json_stringn_nocheck(job.last_error, strlen(job.last_error))
                            : json_null());
    hookd_job_free(&job);
    return o;
}

int hookd_backlog_retry_list(struct redisContext *c, const struct hookd_config *cfg,
                             long long cursor, size_t limit, struct json_t **out, long long *next,
                             char *errbuf)
{
    char kr[HOOKD_KEY_MAX], kj[HOOKD_KEY_MAX], a[HOOKD_I64_LEN], b[HOOKD_I64_LEN],
        cap[HOOKD_I64_LEN];
    *out = NULL;
    *next = -1;
    if (limit < 1 || limit > HOOKD_BACKLOG_LIMIT_MAX)
        return hookd_fail(errbuf, HOOKD_ERANGE, "limit must be 1..%d", HOOKD_BACKLOG_LIMIT_MAX);
    if (cursor < 0)
        return hookd_fail(errbuf, HOOKD_ERANGE, "cursor must not be negative");
    hookd_schema_key(kr, cfg->prefix, HOOKD_K_RETRY);
    hookd_schema_key(kj, cfg->prefix, HOOKD_K_JOBS);
    hookd_u64_fmt(cap, hookd_job_max((size_t)cfg->max_envelope));
    json_t *arr = json_array();
    if (!arr)
        return hookd_fail(errbuf, HOOKD_ENOMEM, "out of memory");
    long long pos = cursor;
    while (json_array_size(arr) < limit) {
        size_t want = limit - json_array_size(arr);
        if (want > HOOKD_BACKLOG_PAGE)
            want = HOOKD_BACKLOG_PAGE;
        hookd_i64_fmt(a, pos);
        /* One more than wanted: whether a next page exists. */
        hookd_i64_fmt(b, pos + (long long)want);
        const char *argv[8] = {"EVAL", hookd_script(HOOKD_S_RETRY_PAGE), "2", kr, kj, a, b, cap};
        redisReply *r = hookd_redis_command(c, 8, argv, NULL, errbuf);
        if (!r || r->type != REDIS_REPLY_ARRAY || r->elements % 3 != 0) {
            if (r)
                hookd_fail(errbuf, HOOKD_EREDIS, "redis: unexpected reply to the retry page");
            freeReplyObject(r);
            json_decref(arr);
            return HOOKD_EREDIS;
        }
        size_t n = r->elements / 3, take = n < want ? n : want;
        for (size_t i = 0; i < take; i++) {
            const redisReply *tok = r->element[3 * i];
            json_t *o = tok->type == REDIS_REPLY_STRING
                            ? retry_json(cfg, tok, r->element[3 * i + 1], r->element[3 * i + 2])
                            : json_pack("{ss}", "invalid", "not a string");
            if (!o || json_array_append_new(arr, o) != 0) {
                freeReplyObject(r);
                json_decref(arr);
                return hookd_fail(errbuf, HOOKD_ENOMEM, "out of memory");
            }
        }
        freeReplyObject(r);
        pos += (long long)take;
        if (n <= want) {
            *out = arr;
            return 0;
        }
    }
    *out = arr;
    *next = pos;
    return 0;
}

/* Checks id is a delivery token ("d:" and a delivery id). */
static int retry_id_check(const char *id, char *errbuf)
{
    if (!id || strncmp(id, "d:", 2) != 0 || !hookd_delivery_id_valid(id + 2)) {
        char q[HOOKD_QUOTE_LEN];
        return hookd_fail(errbuf, HOOKD_EINVAL,
                          "'%s' is not a retry id (d:msg_ and 32 hex digits, as listed)",
                          hookd_quote(q, id ? id : "", id ? strnlen(id, 128) : 0));
    }
    return 0;
}

/* Runs a retry script (keys k[0..nk)) on id; 0, HOOKD_ENOTFOUND when it
 * answered 0, or HOOKD_EREDIS. */
static int retry_script(redisContext *c, enum hookd_script_id s, char k[][HOOKD_KEY_MAX], int nk,
                        const char *id, char *errbuf)
{
    const char *argv[7] = {"EVAL", hookd_script(s), nk == 2 ? "2" : "3", k[0], k[1], k[2], id};
    if (nk == 2)
        argv[5] = id;
    redisReply *r = hookd_redis_command(c, 4 + nk, argv, NULL, errbuf);
    if (!r)
        return HOOKD_EREDIS;
    int found = r->type == REDIS_REPLY_INTEGER && r->integer == 1;
    freeReplyObject(r);
    if (!found)
        return hookd_fail(errbuf, HOOKD_ENOTFOUND,
                          "retry %s is not waiting (taken by a worker, or gone)", id);
    return 0;
}

int hookd_backlog_retry_now(struct redisContext *c, const struct hookd_config *cfg, const char *id,
                            char *errbuf)
{
    char k[3][HOOKD_KEY_MAX];
    int rc = retry_id_check(id, errbuf);
    if (rc != 0)
        return rc;
    hookd_schema_key(k[0], cfg->prefix, HOOKD_K_RETRY);
    hookd_schema_key(k[1], cfg->prefix, HOOKD_K_LEASES);
    k[2][0] = '\0';
    return retry_script(c, HOOKD_S_RETRY_NOW, k, 2, id, errbuf);
}

int hookd_backlog_retry_delete(struct redisContext *c, const struct hookd_config *cfg,
                               const char *id, char *errbuf)
{
    char k[3][HOOKD_KEY_MAX];
    int rc = retry_id_check(id, errbuf);
    if (rc != 0)
        return rc;
    hookd_schema_key(k[0], cfg->prefix, HOOKD_K_RETRY);
    hookd_schema_key(k[1], cfg->prefix, HOOKD_K_JOBS);
    hookd_schema_key(k[2], cfg->prefix, HOOKD_K_LEASES);
    return retry_script(c, HOOKD_S_RETRY_DELETE, k, 3, id, errbuf);
}
