/* job.h - the records hookd keeps in Redis between attempts: the delivery
 * job (the payload of a "d:" token in {P}:jobs) and the dead record (an
 * entry of {P}:dead), each with its encoder and decoder side by side.
 * Tokens: "e:<n>" for a taken event (payload: the envelope bytes) and
 * "d:<delivery id>" for a delivery that failed at least once (payload: a
 * delivery job, below). Key names: schema.h. */
#ifndef HOOKD_JOB_H
#define HOOKD_JOB_H

#include <stddef.h>
#include <stdint.h>

#include "hookd/common.h"
#include "hookd/envelope.h"

/* A delivery of one event to one webhook, as stored between attempts. */
struct hookd_job {
    char *webhook;    /* webhook id */
    char *delivery;   /* delivery id, "msg_" + 32 hex */
    char *event_id;   /* the event's id */
    char *event;      /* the event's name */
    int attempt;      /* number of the next attempt, 1-based */
    int64_t first_ms; /* when hookd first read the event */
    char *body;       /* exact bytes to POST */
    size_t body_len;  /* bytes of body */
    char *last_error; /* why the last attempt failed, or NULL */
};

/* Bytes of a job's header line at most, and of a body beyond the envelope
 * it was made from (the timestamp hookd adds): a job of an envelope of at
 * most max_envelope bytes is at most hookd_job_max(max_envelope) bytes. */
#define HOOKD_JOB_HEADER_MAX 4096
#define HOOKD_JOB_BODY_SLACK 256
#define HOOKD_JOB_ATTEMPT_MAX 1000000
size_t hookd_job_max(size_t max_envelope);

/* Serialises a job: one line of JSON with every field but the body, "\n",
 * then the body's bytes as they are, so that a job is never larger than
 * its body by more than HOOKD_JOB_HEADER_MAX (a body escaped into JSON
 * could double). ETOOBIG when the fields do not fit the header. */
int hookd_job_encode(const struct hookd_job *job, struct hookd_buf *out);
/* Parses what hookd_job_encode wrote (or the single JSON object, body
 * included, of hookd before it) as strictly as a producer's envelope: ids
 * of [A-Za-z0-9_.:-], the delivery id "msg_" + 32 hex and equal to the
 * token's ("d:<delivery id>", token_len bytes; NULL skips that check), an
 * event name, an attempt of 1..HOOKD_JOB_ATTEMPT_MAX, no control byte in
 * any field but the body, and at most hookd_job_max(max_envelope) bytes (the
 * old form twice that). job owns its strings afterwards and is freed with
 * hookd_job_free(); on failure it is empty and errbuf says why. */
int hookd_job_decode(const char *p, size_t len, size_t max_envelope, const char *token,
                     size_t token_len, struct hookd_job *job, char *errbuf);
void hookd_job_free(struct hookd_job *job);

/* 1 when s is a delivery id: "msg_" + 32 lowercase hex. */
int hookd_delivery_id_valid(const char *s);

/* Bytes a dead record of an envelope of at most max_envelope bytes takes at
 * most (its body escaped into JSON, and the fields around it). */
size_t hookd_dead_max(size_t max_envelope);

/* A dead-list record for a delivery out of attempts (or refused for good):
 * {"kind":"delivery","reason":..,"at":ms,"webhook":..,"delivery":..,
 *  "event_id":..,"event":..,"attempts":n,"first_ms":ms,"body":..}, the body
 * as "body_base64" when it is not valid UTF-8 without NUL. */
int hookd_dead_encode_delivery(const struct hookd_job *job, const char *reason, int64_t at_ms,
                               struct hookd_buf *out);
/* A dead-list record for an envelope that could not be parsed:
 * {"kind":"envelope","reason":..,"at":ms,"envelope":..} with the raw bytes as
 * a string when they are valid UTF-8 without NUL, else "envelope_base64".
 * When size is larger than len, raw is only the first len bytes of an
 * envelope of size bytes (one over the cap, kept in part): the record then
 * says "size" and holds "envelope_prefix" (or "envelope_prefix_base64"),
 * which no replay can bring back. */
int hookd_dead_encode_envelope(const char *raw, size_t len, size_t size, const char *reason,
                               int64_t at_ms, struct hookd_buf *out);

/* The work a dead record holds, to be put back (`hookd dead replay`). The
 * caller sets max_record, max_envelope and max_job and owns payload (hookd_buf_init()
 * it, with a cap); hookd_dead_decode() refills it. */
struct hookd_dead_work {
    size_t max_record;            /* records longer than this are refused (ETOOBIG) */
    size_t max_envelope;          /* --max-envelope, the cap jobs are judged by */
    size_t max_job;               /* hookd_job_max() of the envelope cap */
    int is_delivery;              /* 1: a job for token; 0: an envelope for {P}:events */
    char token[HOOKD_ID_MAX + 3]; /* "d:<delivery id>" when is_delivery */
    struct hookd_buf payload;     /* the job, at attempt 1 again, or the envelope's bytes */
};

/* Reads a record hookd_dead_encode_delivery() or _envelope() wrote back into
 * the work it stands for: a delivery becomes a job at attempt 1 (its last
 * error the record's reason), an envelope its bytes (from the text or its
 * base64). 0, or HOOKD_EINVAL / HOOKD_ETOOBIG with the reason in errbuf:
 * not JSON, a field missing, an envelope of which only a prefix was kept,
 * a job over max_job or one hookd_job_decode() would refuse. */
int hookd_dead_decode(const char *rec, size_t len, struct hookd_dead_work *w, char *errbuf);

/* One entry of {P}:log:<webhook id>: an attempt, as XADD field/value
 * pairs. */
struct hookd_attempt_rec {
    const char *delivery; /* delivery id */
    const char *event_id; /* the event's id */
    const char *event;    /* the event's name */
    int64_t attempt;      /* 1-based */
    int64_t status;       /* HTTP status, 0 when there was no response */
    int64_t ms;           /* how long the attempt took */
    int64_t at;           /* when it started, ms since the epoch */
    const char *error;    /* why it failed, "" when it did not */
};
#define HOOKD_ATTEMPT_FIELDS 8
#define HOOKD_ATTEMPT_VALUE_MAX 4096 /* bytes of a value the decoder keeps */

/* Where an encoded entry lives: its numbers as text, and the pairs. */
struct hookd_attempt_text {
    char num[4][HOOKD_I64_LEN];                       /* attempt, status, ms, at */
    const char *fields[2 * HOOKD_ATTEMPT_FIELDS + 1]; /* the pairs, then NULL */
};

/* Lays e out as XADD's pairs in t->fields, valid while e and t live. */
void hookd_attempt_encode(const struct hookd_attempt_rec *e, struct hookd_attempt_text *t);

struct json_t;
/* Reads one pair of an entry (as XRANGE returns it) into o: a known field
 * becomes a string member, cut to HOOKD_ATTEMPT_VALUE_MAX bytes (and to
 * whole UTF-8, else left out); another field is left out. 0, or
 * HOOKD_ENOMEM. */
int hookd_attempt_decode_pair(struct json_t *o, const char *name, size_t name_len, const char *v,
                              size_t v_len);

#endif
