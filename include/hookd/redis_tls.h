/* redis_tls.h - TLS for connections to Redis (rediss://).
 *
 * hiredis >= 1.0 runs TLS over its own connections (hiredis_ssl); hookd
 * makes the OpenSSL context and each connection's SSL object itself, so that
 * the peer's certificate is checked against the URL's host (name or IP) and
 * a failed check can be told in OpenSSL's words. Built without hiredis_ssl
 * (Debian 12's hiredis 0.14), every function but hookd_redis_tls_missing()
 * fails with the reason it gives. */
#ifndef HOOKD_REDIS_TLS_H
#define HOOKD_REDIS_TLS_H

#include <stddef.h>

#include "hookd/common.h"
#include "hookd/config.h"

struct redisContext;
struct ssl_st;
struct hookd_redis_tls; /* opaque: one OpenSSL client context and the host to check */

/* NULL when this build speaks TLS to Redis; else why not and the way out,
 * as one sentence. */
const char *hookd_redis_tls_missing(void);

/* "rediss: yes (...)" or "rediss: no (...)", for `hookd version`. */
const char *hookd_redis_tls_describe(void);

/* Makes the TLS settings for connections to addr (addr->tls set) from cfg's
 * --redis-ca-file (else the system's CA store), --redis-cert-file and
 * --redis-key-file (both or neither). Verification is always on. 0 with
 * *out set (the caller frees it with hookd_redis_tls_free()), or
 * HOOKD_EINVAL (files, a lone cert or key) / HOOKD_ECRYPTO with the reason
 * in errbuf. Each thread makes its own. */
int hookd_redis_tls_new(const struct hookd_config *cfg, const struct hookd_redis_addr *addr,
                        struct hookd_redis_tls **out, char *errbuf);
void hookd_redis_tls_free(struct hookd_redis_tls *t);

/* Judges cfg's TLS files against addr once, before anything connects: for
 * a rediss:// address, that they load (as hookd_redis_tls_new()); for
 * another, that none is given, as they would be ignored. 0, or
 * HOOKD_EINVAL / HOOKD_ECRYPTO with the reason in errbuf. */
int hookd_redis_tls_check(const struct hookd_config *cfg, const struct hookd_redis_addr *addr,
                          char *errbuf);

/* Starts TLS on c, a connected (blocking: the handshake is done on return)
 * or connecting (non-blocking: it goes on as hiredis reads and writes)
 * context, with SNI and the certificate check set to the URL's host. On 0,
 * *ssl is the connection's SSL object, owned by c and valid while c lives,
 * for hookd_redis_tls_why(). On failure, HOOKD_ECRYPTO with the reason in
 * errbuf (the certificate's verdict when that was it). */
int hookd_redis_tls_start(struct hookd_redis_tls *t, struct redisContext *c, struct ssl_st **ssl,
                          char *errbuf);

/* Why TLS on ssl failed, in OpenSSL's words, into buf (n bytes): the
 * certificate's verdict ("certificate verify failed: hostname mismatch"),
 * else, while the handshake is unfinished, the last OpenSSL error of this
 * thread. NULL when TLS is not what failed (ssl NULL, or a connection lost
 * after its handshake). */
const char *hookd_redis_tls_why(struct ssl_st *ssl, char *buf, size_t n);

#endif
