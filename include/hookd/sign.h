/* sign.h - request signatures, as Twenty and Standard Webhooks define them.
 *
 * Twenty:   X-Twenty-Webhook-Signature = hex(HMAC-SHA256(secret, ts_ms ":" body))
 * Standard: webhook-signature = "v1," base64(HMAC-SHA256(secret, id "." ts_s "." body))
 * The key is the secret's bytes as stored; for Standard Webhooks with a
 * "whsec_" secret, the bytes its base64 encodes, as the specification's
 * libraries take it (hookd_sign_decode_whsec()). A signer prepares the HMAC key once
 * (EVP_MAC_CTX) and duplicates that state per signature. */
#ifndef HOOKD_SIGN_H
#define HOOKD_SIGN_H

#include <stddef.h>
#include <stdint.h>

#include "hookd/common.h"

#define HOOKD_SIG_HEX_LEN 64   /* hex HMAC-SHA256, without NUL */
#define HOOKD_SIG_B64_LEN 44   /* base64 HMAC-SHA256, without NUL */
#define HOOKD_NONCE_HEX_LEN 32 /* 16 random bytes, hex */
/* Two signatures, space-separated, without NUL: during a rotation's grace. */
#define HOOKD_SIG_HEX_PAIR_LEN (2 * HOOKD_SIG_HEX_LEN + 1)
#define HOOKD_SIG_STD_PAIR_LEN (2 * (HOOKD_SIG_B64_LEN + 3) + 1)

struct hookd_signer; /* opaque; owns a copy of nothing secret beyond the key state */

/* Prepares a signer for one secret. The caller frees it with
 * hookd_signer_free(). Secrets are capped at 1024 bytes. */
int hookd_signer_new(const void *secret, size_t len, struct hookd_signer **out);
void hookd_signer_free(struct hookd_signer *s);

/* Twenty's signature over ts ":" body, as lowercase hex into out (65 bytes,
 * NUL-terminated). ts is the decimal milliseconds text as sent. */
int hookd_sign_twenty(const struct hookd_signer *s, const char *ts, const void *body, size_t len,
                      char out[HOOKD_SIG_HEX_LEN + 1]);

/* Standard Webhooks' signature over id "." ts "." body, as "v1,<base64>" into
 * out (48 bytes, NUL-terminated). ts is decimal seconds. */
int hookd_sign_standard(const struct hookd_signer *s, const char *id, const char *ts,
                        const void *body, size_t len, char out[HOOKD_SIG_B64_LEN + 4]);

/* The Twenty signatures of a delivery while a rotation's previous secret
 * (prev, NULL when there is none) still signs. X-Twenty-Webhook-Signature
 * holds one signature that Twenty's own verifier compares whole, so head
 * gets prev's (receivers not yet given the new secret keep verifying) and
 * all gets "<cur> <prev>" for X-Hookd-Webhook-Signatures. Without prev, head
 * is cur's and all is "". Two HMACs with prev, one without. */
int hookd_sign_twenty_rotating(const struct hookd_signer *cur, const struct hookd_signer *prev,
                               const char *ts, const void *body, size_t len,
                               char head[HOOKD_SIG_HEX_LEN + 1],
                               char all[HOOKD_SIG_HEX_PAIR_LEN + 1]);

/* The webhook-signature value of a Standard delivery: "v1,<cur>", and with
 * prev (NULL when none) "v1,<cur> v1,<prev>", as the specification lists the
 * signatures of a key rotation. */
int hookd_sign_standard_rotating(const struct hookd_signer *cur, const struct hookd_signer *prev,
                                 const char *id, const char *ts, const void *body, size_t len,
                                 char out[HOOKD_SIG_STD_PAIR_LEN + 1]);

/* Checks a Standard Webhooks signature header: sigs holds space-separated
 * "<version>,<base64>" signatures (several during a key rotation), and *ok
 * becomes 1 when any "v1" one is hookd_sign_standard()'s signature of id "."
 * ts "." body, compared in constant time; others are skipped. Returns 0, or
 * a HOOKD_E* code when the signature cannot be computed. */
int hookd_sign_verify_standard(const struct hookd_signer *s, const char *id, const char *ts,
                               const void *body, size_t len, const char *sigs, int *ok);

/* Decodes a Standard Webhooks secret, "whsec_" + base64 of the key, into
 * key (cap bytes) and *keylen. HOOKD_EINVAL when secret[0..len) lacks the
 * prefix or what follows is not base64 of at least one byte, ETOOBIG when
 * key is too small. */
int hookd_sign_decode_whsec(const char *secret, size_t len, unsigned char *key, size_t cap,
                            size_t *keylen);

/* 16 random bytes as lowercase hex (33 bytes with NUL). */
int hookd_sign_nonce(char out[HOOKD_NONCE_HEX_LEN + 1]);

/* n random bytes as lowercase hex into out (2n+1 bytes). */
int hookd_random_hex(char *out, size_t n);

/* Decodes standard base64 (padded, "=" only as the padding of the last
 * quantum) into out (cap bytes); the decoded length goes to *outlen.
 * HOOKD_EINVAL for bad input, ETOOBIG when out is too small. */
int hookd_base64_decode(const char *in, size_t len, unsigned char *out, size_t cap, size_t *outlen);

/* Lowercase hex of p[0..n) into out (2n+1 bytes). */
void hookd_hex(const void *p, size_t n, char *out);

/* SHA-256 of p[0..n) as lowercase hex into out (65 bytes). */
void hookd_sha256_hex(const void *p, size_t n, char out[65]);

/* Compares two strings in time independent of where they differ; 1 when
 * equal. */
int hookd_timingsafe_eq(const char *a, const char *b);

#endif
