/* redis_tls.c - TLS for connections to Redis, on hiredis_ssl and OpenSSL. */
#include "hookd/redis_tls.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef HOOKD_HAVE_REDIS_TLS
#include <hiredis/hiredis.h>
#include <hiredis/hiredis_ssl.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <uv.h>
#endif

struct hookd_redis_tls {
#ifdef HOOKD_HAVE_REDIS_TLS
    SSL_CTX *ctx;   /* CA, client certificate, TLS 1.2 at least, peer verified */
    char host[256]; /* the URL's host: SNI, and what the certificate must name */
    int host_is_ip; /* host is an IPv4 or IPv6 address: no SNI, an IP check */
#else
    int unused;
#endif
};

int hookd_redis_tls_check(const struct hookd_config *cfg, const struct hookd_redis_addr *addr,
                          char *errbuf)
{
    if (!addr->tls) {
        if (cfg->redis_ca_file || cfg->redis_cert_file || cfg->redis_key_file)
            return hookd_fail(errbuf, HOOKD_EINVAL,
                              "redis-ca-file, redis-cert-file and redis-key-file are for a "
                              "rediss:// redis-url, and this one is not");
        return 0;
    }
    struct hookd_redis_tls *t;
    int rc = hookd_redis_tls_new(cfg, addr, &t, errbuf);
    hookd_redis_tls_free(t);
    return rc;
}

#ifndef HOOKD_HAVE_REDIS_TLS

static const char MISSING[] =
    "rediss:// needs TLS, and this hookd was built with hiredis " HOOKD_HIREDIS_VERSION
    ", which has none: build it with hiredis >= 1.0 and hiredis_ssl (Debian 13; the Docker "
    "image), or use redis:// through a TLS tunnel";

const char *hookd_redis_tls_missing(void)
{
    return MISSING;
}

const char *hookd_redis_tls_describe(void)
{
    return "rediss: no (hiredis " HOOKD_HIREDIS_VERSION " has no TLS)";
}

int hookd_redis_tls_new(const struct hookd_config *cfg, const struct hookd_redis_addr *addr,
                        struct hookd_redis_tls **out, char *errbuf)
{
    (void)cfg;
    (void)addr;
    *out = NULL;
    return hookd_fail(errbuf, HOOKD_EINVAL, "%s", MISSING);
}

void hookd_redis_tls_free(struct hookd_redis_tls *t)
{
    free(t);
}

int hookd_redis_tls_start(struct hookd_redis_tls *t, struct redisContext *c, struct ssl_st **ssl,
                          char *errbuf)
{
    (void)t;
    (void)c;
    *ssl = NULL;
    return hookd_fail(errbuf, HOOKD_ECRYPTO, "%s", MISSING);
}

const char *hookd_redis_tls_why(struct ssl_st *ssl, char *buf, size_t n)
{
    (void)ssl;
    (void)buf;
    (void)n;
    return NULL;
}

#else

const char *hookd_redis_tls_missing(void)
{
    return NULL;
}

const char *hookd_redis_tls_describe(void)
{
    return "rediss: yes (hiredis " HOOKD_HIREDIS_VERSION " with hiredis_ssl, " OPENSSL_VERSION_TEXT
           ")";
}

/* The last OpenSSL error of this thread, in words, or NULL; clears the queue. */
static const char *ssl_error(char *buf, size_t n)
{
    unsigned long e = ERR_peek_last_error();
    ERR_clear_error();
    if (!e)
        return NULL;
    ERR_error_string_n(e, buf, n);
    return buf;
}

int hookd_redis_tls_new(const struct hookd_config *cfg, const struct hookd_redis_addr *addr,
                        struct hookd_redis_tls **out, char *errbuf)
{
    char why[HOOKD_ERRLEN];
    *out = NULL;
    if (!cfg->redis_cert_file != !cfg->redis_key_file)
        return hookd_fail(errbuf, HOOKD_EINVAL,
                          cfg->redis_cert_file
                              ? "redis-cert-file needs redis-key-file, its private key"
                              : "redis-key-file needs redis-cert-file, its certificate");
    struct hookd_redis_tls *t = calloc(1, sizeof(*t));
    if (!t)
        return hookd_fail(errbuf, HOOKD_ENOMEM, "out of memory");
    snprintf(t->host, sizeof(t->host), "%s", addr->host);
    unsigned char bin[16];
    t->host_is_ip =
        uv_inet_pton(AF_INET, t->host, bin) == 0 || uv_inet_pton(AF_INET6, t->host, bin) == 0;
    ERR_clear_error();
    int rc = HOOKD_ECRYPTO;
    if (!(t->ctx = SSL_CTX_new(TLS_client_method()))) {
        hookd_fail(errbuf, rc, "redis TLS: %s", ssl_error(why, sizeof(why)));
        goto fail;
    }
    SSL_CTX_set_min_proto_version(t->ctx, TLS1_2_VERSION);
    SSL_CTX_set_verify(t->ctx, SSL_VERIFY_PEER, NULL);
    if (cfg->redis_ca_file) {
        if (SSL_CTX_load_verify_locations(t->ctx, cfg->redis_ca_file, NULL) != 1) {
            rc = HOOKD_EINVAL;
            hookd_fail(errbuf, rc, "redis-ca-file %s: %s", cfg->redis_ca_file,
                       ssl_error(why, sizeof(why)));
            goto fail;
        }
    } else if (SSL_CTX_set_default_verify_paths(t->ctx) != 1) {
        hookd_fail(errbuf, rc, "redis TLS: the system's CA store: %s", ssl_error(why, sizeof(why)));
        goto fail;
    }
    if (cfg->redis_cert_file) {
        if (SSL_CTX_use_certificate_chain_file(t->ctx, cfg->redis_cert_file) != 1) {
            rc = HOOKD_EINVAL;
            hookd_fail(errbuf, rc, "redis-cert-file %s: %s", cfg->redis_cert_file,
                       ssl_error(why, sizeof(why)));
            goto fail;
        }
        /* The key's own text never reaches the error: OpenSSL's says what
         * failed, not what the file held. */
        if (SSL_CTX_use_PrivateKey_file(t->ctx, cfg->redis_key_file, SSL_FILETYPE_PEM) != 1 ||
            SSL_CTX_check_private_key(t->ctx) != 1) {
            rc = HOOKD_EINVAL;
            hookd_fail(errbuf, rc, "redis-key-file %s: %s", cfg->redis_key_file,
                       ssl_error(why, sizeof(why)));
            goto fail;
        }
    }
    *out = t;
    return 0;

fail:
    hookd_redis_tls_free(t);
    return rc;
}

void hookd_redis_tls_free(struct hookd_redis_tls *t)
{
    if (!t)
        return;
    SSL_CTX_free(t->ctx);
    free(t);
}

int hookd_redis_tls_start(struct hookd_redis_tls *t, struct redisContext *c, struct ssl_st **ssl,
                          char *errbuf)
{
    char why[HOOKD_ERRLEN];
    *ssl = NULL;
    ERR_clear_error();
    SSL *s = SSL_new(t->ctx);
    if (!s)
        return hookd_fail(errbuf, HOOKD_ECRYPTO, "TLS: %s", ssl_error(why, sizeof(why)));
    int ok = t->host_is_ip
                 ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(s), t->host) == 1
                 : SSL_set_tlsext_host_name(s, t->host) == 1 && SSL_set1_host(s, t->host) == 1;
    if (!ok) {
        SSL_free(s);
        return hookd_fail(errbuf, HOOKD_ECRYPTO, "TLS: cannot check certificates for %s", t->host);
    }
    if (redisInitiateSSL(c, s) != REDIS_OK) {
        /* hiredis did not take s: it is still ours to read and free. */
        const char *w = hookd_redis_tls_why(s, why, sizeof(why));
        hookd_fail(errbuf, HOOKD_ECRYPTO, "TLS: %s", w ? w : c->errstr);
        SSL_free(s);
        return HOOKD_ECRYPTO;
    }
    *ssl = s;
    return 0;
}

const char *hookd_redis_tls_why(struct ssl_st *ssl, char *buf, size_t n)
{
    if (!ssl)
        return NULL;
    long v = SSL_get_verify_result(ssl);
    if (v != X509_V_OK) {
        ERR_clear_error();
        snprintf(buf, n, "certificate verify failed: %s", X509_verify_cert_error_string(v));
        return buf;
    }
    if (SSL_is_init_finished(ssl))
        return NULL; /* what failed later is the connection's, not TLS's */
    const char *w = ssl_error(buf, n);
    if (!w)
        snprintf(buf, n, "the handshake did not finish");
    return buf;
}

#endif
