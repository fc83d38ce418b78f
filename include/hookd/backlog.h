/* backlog.h - the work hookd holds back: dead records ({P}:dead) and
 * deliveries waiting for their next attempt ({P}:retry), listed, replayed,
 * purged, hurried and dropped. Shared by the CLI (admin.c) and the HTTP API
 * (api.c): nothing here prints; lists come back as jansson arrays and every
 * failure as a HOOKD_E* code with the reason in errbuf (HOOKD_ERRLEN bytes).
 *
 * Every read from Redis is capped: records go through a script that sends a
 * record over hookd_dead_max() (a job over hookd_job_max()) as its size
 * only, in pages of HOOKD_BACKLOG_PAGE. A record that cannot be read is
 * listed as {"id", "invalid": reason} and never replayed. Key names:
 * schema.h; scripts: scripts.h. */
#ifndef HOOKD_BACKLOG_H
#define HOOKD_BACKLOG_H

#include <stddef.h>
#include <stdint.h>

#include "hookd/common.h"

struct redisContext;
struct json_t;
struct hookd_config;

#define HOOKD_BACKLOG_PAGE 100       /* records one LRANGE / ZRANGE reads */
#define HOOKD_BACKLOG_LIMIT_MAX 1000 /* the most records one list call returns */
#define HOOKD_BACKLOG_SCAN_MAX 10000 /* records one list call looks at, at most */
#define HOOKD_BACKLOG_TIME_MAX 64    /* bytes of a time hookd_backlog_time_parse reads */
#define HOOKD_BACKLOG_ID_LEN 40      /* bytes of a dead record's id, NUL counted */

/* Which dead records an operation touches; NULL / 0 members match all. */
struct hookd_dead_filter {
    const char *id;      /* one record: its "id" as listed */
    const char *webhook; /* delivery records of this webhook */
    const char *reason;  /* records whose reason is this (exact) */
    int64_t since_ms;    /* records dead at or after (0: no bound) */
    int64_t until_ms;    /* records dead before (0: no bound) */
};

/* Parses an RFC 3339 time ("2026-12-04T07:00:00Z", fraction and offset
 * allowed) or a Unix time in ms (digits) into *ms; HOOKD_EINVAL with the
 * reason. */
int hookd_backlog_time_parse(const char *text, int64_t *ms, char *errbuf);

/* The id of the dead record rec[0..len) into out (HOOKD_BACKLOG_ID_LEN
 * bytes): its "delivery" when it is a delivery record with a valid one, else
 * "e" and the first 16 hex digits of the SHA-256 of its bytes. */
void hookd_backlog_dead_id(const char *rec, size_t len, char out[HOOKD_BACKLOG_ID_LEN]);

/* Dead records matching f, newest first, starting at position cursor of the
 * list (0: newest), at most limit of them (1..1000) in *out (a JSON array the
 * caller releases); *next is the cursor of the next page or -1 at the end.
 * Each record is the dead record's JSON plus "id". A call looks at
 * HOOKD_BACKLOG_SCAN_MAX records at most, so a page may be short (even empty)
 * with *next not -1. */
int hookd_backlog_dead_list(struct redisContext *c, const struct hookd_config *cfg,
                            const struct hookd_dead_filter *f, long long cursor, size_t limit,
                            struct json_t **out, long long *next, char *errbuf);

/* Replays the records matching f, oldest first, at most max (0: as many as
 * the list held at the start); *replayed and *skipped (matching records that
 * cannot be replayed, left in place) count them. Each record moves in one
 * script that removes it by value first, so two callers never replay one
 * record twice; records that die again meanwhile are not looked at. */
int hookd_backlog_dead_replay(struct redisContext *c, const struct hookd_config *cfg,
                              const struct hookd_dead_filter *f, size_t max, size_t *replayed,
                              size_t *skipped, char *errbuf);

/* Removes the records matching f (all of them, at once, when f is NULL or
 * empty); *purged counts them. */
int hookd_backlog_dead_purge(struct redisContext *c, const struct hookd_config *cfg,
                             const struct hookd_dead_filter *f, size_t *purged, char *errbuf);

/* Deliveries waiting in {P}:retry, soonest first, paged as dead_list: each
 * {"id": token, "due_at": ms, "attempt": N, "webhook": id, "delivery": id,
 *  "event_id": .., "event": name, "last_error": text or null}; an entry whose
 * job cannot be read is {"id", "due_at", "invalid": reason}. */
int hookd_backlog_retry_list(struct redisContext *c, const struct hookd_config *cfg,
                             long long cursor, size_t limit, struct json_t **out, long long *next,
                             char *errbuf);

/* Makes retry id due now; HOOKD_ENOTFOUND when it is not waiting (leased or
 * gone), HOOKD_EINVAL when id is not a delivery token ("d:msg_..."). */
int hookd_backlog_retry_now(struct redisContext *c, const struct hookd_config *cfg, const char *id,
                            char *errbuf);

/* Drops retry id (from {P}:retry and {P}:jobs, atomically, only if still
 * waiting and not leased); HOOKD_ENOTFOUND, HOOKD_EINVAL as retry_now. */
int hookd_backlog_retry_delete(struct redisContext *c, const struct hookd_config *cfg,
                               const char *id, char *errbuf);

#endif
