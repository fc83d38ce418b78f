/* envelope.h - what producers push: parsing, validation, and the body sent.
 *
 * An envelope is one JSON object (see docs/producers.md):
 *   event     required  "<object>.<action>", [A-Za-z0-9_-], each part 1..64 bytes
 *   data      required  a JSON object, sent unchanged
 *   timestamp optional  RFC 3339 string, at most 64 bytes
 *   id        optional  producer's event id, 1..128 bytes of [A-Za-z0-9_.:-]
 *   workspace optional  tenant id, 1..128 bytes of [A-Za-z0-9_.:-]
 *   webhook   optional  one webhook id, 1..128 bytes of [A-Za-z0-9_.:-]
 * Unknown members are ignored. Invalid UTF-8, NUL bytes, duplicate keys,
 * nesting deeper than 64 and sizes over the cap are rejected. */
#ifndef HOOKD_ENVELOPE_H
#define HOOKD_ENVELOPE_H

#include <stddef.h>
#include <stdint.h>

#include "hookd/common.h"

#define HOOKD_ID_MAX 128
#define HOOKD_EVENT_MAX 129 /* "object.action", 64 + 1 + 64 */
/* The event `webhook test` and the API send: an envelope that names its
 * webhook with it is delivered whatever the webhook filters. */
#define HOOKD_EVENT_TEST "webhook.test"

/* A parsed envelope. Owns all of its memory; free with
 * hookd_envelope_free(). */
struct hookd_envelope {
    char event[HOOKD_EVENT_MAX + 1];  /* "person.created" */
    size_t object_len;                /* bytes of event before the dot */
    char id[HOOKD_ID_MAX + 1];        /* given, or "evt_" + 32 hex of sha256(envelope bytes) */
    char workspace[HOOKD_ID_MAX + 1]; /* "" when absent */
    char webhook[HOOKD_ID_MAX + 1];   /* "" when absent */
    char timestamp[65];               /* given, or when first read, as RFC 3339 UTC */
    int has_timestamp;                /* 1 when the bytes have a top-level "timestamp"
                                       * member, a null one included */
    char *body;      /* {"event":..,"data":..,"timestamp":..}, compact, malloc'ed */
    size_t body_len; /* bytes of body */
};

/* Parses and validates len bytes (not NUL-terminated) of at most max bytes.
 * now_ms supplies the default timestamp. On failure returns HOOKD_EINVAL or
 * HOOKD_ETOOBIG and a one-line reason in errbuf that never quotes more than
 * 64 bytes of the input; out is then left empty (nothing to free). */
int hookd_envelope_parse(const char *bytes, size_t len, size_t max, int64_t now_ms,
                         struct hookd_envelope *out, char *errbuf);

void hookd_envelope_free(struct hookd_envelope *env);

/* Builds an envelope from parts, for `hookd enqueue EVENT [DATA]`: checks
 * event and data as the parser would and appends the JSON envelope to out,
 * its timestamp now_ms as RFC 3339 UTC with milliseconds. On failure out is
 * left as it was. */
int hookd_envelope_build(const char *event, const char *data_json, const char *workspace,
                         int64_t now_ms, struct hookd_buf *out, char *errbuf);

/* Appends bytes[0..len), an envelope that hookd_envelope_parse() accepted
 * and that has no timestamp member, to out with ,"timestamp":"<now_ms as
 * RFC 3339 UTC with milliseconds>" inserted before its closing brace; every
 * other byte is copied as it is. On failure out is left as it was. */
int hookd_envelope_stamp(const char *bytes, size_t len, int64_t now_ms, struct hookd_buf *out,
                         char *errbuf);

/* 1 when s is a valid id (id, workspace, webhook id): 1..128 bytes of
 * [A-Za-z0-9_.:-]. */
int hookd_id_valid(const char *s);

#endif
