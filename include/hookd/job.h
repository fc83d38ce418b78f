/* job.h - what hookd stores in Redis, and the names of its keys.
 *
 * Keys, all under one hash tag so that a namespace lives in one cluster slot:
 *   {P}:events          list    envelopes; producers LPUSH, workers take from the right
 *   {P}:jobs            hash    token -> payload of work that is leased or waiting to retry
 *   {P}:leases          zset    token -> deadline (ms); past it, any worker may take it
 *   {P}:retry           zset    token -> due time (ms) of a delivery's next attempt
 *   {P}:seq             string  counter that names event tokens
 *   {P}:dead            list    JSON records of what could not be delivered, newest first
 *   {P}:stats           hash    counters (delivered, retried, dead, ...)
 *   {P}:log:<webhook>   stream  one entry per attempt
 *   {P}:webhook:<id>    hash    one webhook
 *   {P}:webhooks        set     webhook ids
 *   {P}:webhooks:rev    string  bumped on every webhook change
 * Tokens: "e:<n>" for a taken event (payload: the envelope bytes) and
 * "d:<delivery id>" for a delivery that failed at least once (payload: a
 * delivery job, below). */
#ifndef HOOKD_JOB_H
#define HOOKD_JOB_H

#include <stddef.h>
#include <stdint.h>

#include "hookd/common.h"

#define HOOKD_KEY_MAX 512

/* Writes "{prefix}:suffix" into out (HOOKD_KEY_MAX bytes). */
void hookd_key(char *out, const char *prefix, const char *suffix);

/* A delivery of one event to one webhook, as stored between attempts. */
struct hookd_job {
    char *webhook;    /* webhook id */
    char *delivery;   /* delivery id, "msg_..." */
    char *event_id;   /* the event's id */
    char *event;      /* the event's name */
    int attempt;      /* number of the next attempt, 1-based */
    int64_t first_ms; /* when hookd first read the event */
    char *body;       /* exact bytes to POST */
    size_t body_len;  /* bytes of body */
    char *last_error; /* why the last attempt failed, or NULL */
};

/* Serialises a job as one JSON object into out. */
int hookd_job_encode(const struct hookd_job *job, struct hookd_buf *out);
/* Parses what hookd_job_encode wrote; job owns its strings afterwards and is
 * freed with hookd_job_free(). Capped at 2 MiB. */
int hookd_job_decode(const char *p, size_t len, struct hookd_job *job, char *errbuf);
void hookd_job_free(struct hookd_job *job);

/* A dead-list record for a delivery out of attempts (or refused for good):
 * {"kind":"delivery","reason":..,"at":ms,"webhook":..,"delivery":..,
 *  "event_id":..,"event":..,"attempts":n,"body":..}. */
int hookd_dead_encode_delivery(const struct hookd_job *job, const char *reason, int64_t at_ms,
                               struct hookd_buf *out);
/* A dead-list record for an envelope that could not be parsed:
 * {"kind":"envelope","reason":..,"at":ms,"envelope":..} with the raw bytes as
 * a string when they are valid UTF-8 without NUL, else "envelope_base64". */
int hookd_dead_encode_envelope(const char *raw, size_t len, const char *reason, int64_t at_ms,
                               struct hookd_buf *out);

#endif
