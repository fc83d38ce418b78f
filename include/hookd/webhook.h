/* webhook.h - the webhook record: its fields, their limits, and the one judge
 * of whether a record can be delivered to.
 *
 * A webhook is the hash "{P}:webhook:<id>", its id a member of the set
 * "{P}:webhooks". Its fields:
 *   url                 required  http(s) URL, visible ASCII, see hookd_url_check()
 *   secret              required  1..1024 bytes of visible ASCII; a secret that
 *                                 starts with "whsec_" is a Standard Webhooks
 *                                 secret: whsec_ + base64 of 24..64 bytes
 *   events              optional  comma list of filters, "*.*" when absent; an
 *                                 empty list is refused, not read as "*.*"
 *   workspace           optional  one workspace id, "" for every workspace
 *   enabled             optional  1, 0, true or false; 1 when absent
 *   signing             optional  twenty (default) or standard, which needs a
 *                                 whsec_ secret
 *   timeout_ms          optional  0..3600000, 0 for the worker's --timeout
 *   connect_timeout_ms  optional  0..3600000, not above a set timeout_ms
 *   secret_previous     optional  the secret before the last rotate-secret, as
 *                                 secret (but a twenty one may stay under standard
 *                                 signing); signs too until secret_previous_until
 *   secret_previous_until  with secret_previous: ms since the epoch, 1..
 *                                 HOOKD_WEBHOOK_UNTIL_MAX, when it stops signing
 *   description, created_at, updated_at, disabled_reason: text for people,
 *                                 at most 1024 bytes of UTF-8 each
 * Unknown fields are kept and ignored. A record has at most
 * HOOKD_WEBHOOK_FIELDS_MAX pairs and HOOKD_WEBHOOK_RECORD_MAX bytes.
 *
 * The worker, the CLI and the API judge a record with hookd_webhook_parse()
 * alone, so that what the CLI accepts is exactly what the worker delivers to.
 * A record that is invalid anyway (written by hand or by another version) is
 * still parsed as far as it can be, so that the events it would have had go
 * to the dead list with the reason instead of vanishing. */
#ifndef HOOKD_WEBHOOK_H
#define HOOKD_WEBHOOK_H

#include <stddef.h>
#include <stdint.h>

#include "hookd/common.h"
#include "hookd/sign.h"

#define HOOKD_FILTERS_MAX 64
#define HOOKD_WEBHOOK_SECRET_MAX 1024
#define HOOKD_WEBHOOK_TEXT_MAX 1024 /* description and the other text fields */
#define HOOKD_WEBHOOK_TIMEOUT_MAX 3600000
#define HOOKD_WEBHOOK_FIELDS_MAX 64
#define HOOKD_WEBHOOK_RECORD_MAX 65536
/* Latest secret_previous_until: 9999-12-31, far past any grace period. */
#define HOOKD_WEBHOOK_UNTIL_MAX INT64_C(253402300799999)
/* Bytes a generated secret draws from the random source. */
#define HOOKD_WEBHOOK_SECRET_RANDOM 32
/* Room for a generated secret: "whsec_" and base64 of 32 bytes, or 64 hex. */
#define HOOKD_WEBHOOK_SECRET_GEN_LEN 72

enum hookd_signing {
    HOOKD_SIGN_TWENTY = 1,   /* X-Twenty-Webhook-* headers (always on) */
    HOOKD_SIGN_STANDARD = 2, /* also webhook-timestamp / webhook-signature */
};

/* One webhook as parsed from its record. Strings are malloc'ed and freed by
 * hookd_webhook_clear(). */
struct hookd_webhook {
    char *id;                             /* the id after "webhook:" */
    char *url;                            /* http(s) URL, checked; NULL when unusable */
    char hostkey[300];                    /* "scheme://host:port", for per-host limits */
    struct hookd_signer *signer;          /* prepared from the secret's bytes */
    struct hookd_signer *std_signer;      /* Standard Webhooks key: the decoded base64
                                           * of a "whsec_" secret; NULL: use signer */
    struct hookd_signer *prev_signer;     /* from secret_previous; NULL when none */
    struct hookd_signer *prev_std_signer; /* its Standard key when it is whsec_ */
    int64_t prev_until_ms;                /* secret_previous_until; 0 when none */
    char *workspace;                      /* "" for none */
    char *events[HOOKD_FILTERS_MAX];      /* filters, e.g. "person.*" */
    int nevents;                          /* filters used */
    int enabled;                          /* 0 when disabled (by hand, or by a 410) */
    int signing;                          /* HOOKD_SIGN_* bits */
    int64_t timeout_ms;                   /* per-webhook override, 0 for the global */
    int64_t connect_timeout_ms;           /* per-webhook override, 0 for the global */
    char *invalid;                        /* why the record cannot be delivered to
                                           * ("secret: ..."), NULL when it can */
};

/* Parses the record of webhook id from its field/value pairs: kv[0] field,
 * kv[1] value, ..., nkv strings in all, lens[i] the bytes of kv[i] (a value
 * with a NUL byte is refused). Returns 0 with w filled for delivery, or
 * HOOKD_EINVAL with the reason in errbuf and in w->invalid, and w filled as
 * far as routing needs: filters that cannot be read become "*.*", a workspace
 * that cannot be read becomes "" (every workspace), and the webhook counts as
 * enabled unless its field says 0 or false, so that whatever the record could
 * have meant, its events are found. HOOKD_ENOMEM likewise. Either way the
 * caller frees w with hookd_webhook_clear(). The reason never quotes the
 * secret. */
/* The operator's endpoint of --ops-url as a webhook (id "ops", Standard
 * Webhooks signing with secret), judged as any record is; as
 * hookd_webhook_parse. */
int hookd_webhook_ops(struct hookd_webhook *w, const char *url, const char *secret, char *errbuf);

int hookd_webhook_parse(struct hookd_webhook *w, const char *id, const char *const *kv,
                        const size_t *lens, size_t nkv, char *errbuf);

/* Fills w as a webhook whose record could not be read at all (reason, e.g.
 * from hookd_webhook_problem()): invalid, enabled, no filters, so that only
 * events that name it find it. Returns 0 or HOOKD_ENOMEM; free with
 * hookd_webhook_clear(). */
int hookd_webhook_unreadable(struct hookd_webhook *w, const char *id, const char *reason);

/* 1 when w's previous secret still signs at now_ms (ms since the epoch). */
int hookd_webhook_previous_valid(const struct hookd_webhook *w, int64_t now_ms);

/* Frees what w owns and zeroes it. */
void hookd_webhook_clear(struct hookd_webhook *w);

/* Turns what record() of the webhook scripts (scripts.c) said instead of a record (marker, len
 * bytes) into a reason in errbuf: "no record: ...", "key is a string, not a hash", ... Returns
 * HOOKD_EINVAL. */
int hookd_webhook_problem(const char *marker, size_t len, char *errbuf);

/* Draws a new secret for a webhook signed as signing (HOOKD_SIGN_* bits):
 * "whsec_" + base64 of HOOKD_WEBHOOK_SECRET_RANDOM bytes for Standard
 * Webhooks, which its libraries need, else as many bytes in hex. Returns 0
 * or HOOKD_ECRYPTO. */
int hookd_webhook_secret_new(int signing, char out[HOOKD_WEBHOOK_SECRET_GEN_LEN]);

/* 1 when the event name ("person.created") passes one filter. */
int hookd_filter_match(const char *filter, const char *event);
/* Checks a comma-separated filter list as the events field holds it. */
int hookd_filter_list_check(const char *list, char *errbuf);

/* Writes url into out (len bytes) fit to show: the value of every query
 * parameter and any user:password replaced by "REDACTED", the fragment
 * dropped, cut to fit. For `webhook list`, logs and errors. */
void hookd_webhook_url_redact(const char *url, char *out, size_t len);

#endif
