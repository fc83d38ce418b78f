/* sign.c - HMAC-SHA256 request signatures, nonces and hex helpers.
 *
 * A signer keeps one EVP_MAC_CTX initialised with the key. That context is
 * never updated after hookd_signer_new(): every signature works on a
 * duplicate (EVP_MAC_CTX_dup), so one signer may be shared by threads. */
#include "hookd/sign.h"

#include <limits.h>
#include <pthread.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

#define SIGN_SECRET_MAX 1024
#define SIGN_MAC_LEN 32

struct hookd_signer {
    EVP_MAC *mac;     /* the HMAC implementation, held while ctx lives */
    EVP_MAC_CTX *ctx; /* keyed with the secret; only ever duplicated */
};

int hookd_signer_new(const void *secret, size_t len, struct hookd_signer **out)
{
    *out = NULL;
    if (!secret || len == 0)
        return HOOKD_EINVAL;
    if (len > SIGN_SECRET_MAX)
        return HOOKD_ETOOBIG;

    struct hookd_signer *s = calloc(1, sizeof(*s));
    if (!s)
        return HOOKD_ENOMEM;
    s->mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    if (!s->mac)
        goto fail;
    s->ctx = EVP_MAC_CTX_new(s->mac);
    if (!s->ctx)
        goto fail;
    OSSL_PARAM params[2] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, "SHA256", 0),
        OSSL_PARAM_construct_end(),
    };
    if (!EVP_MAC_init(s->ctx, secret, len, params))
        goto fail;
    *out = s;
    return 0;

fail:
    hookd_signer_free(s);
    return HOOKD_ECRYPTO;
}

void hookd_signer_free(struct hookd_signer *s)
{
    if (!s)
        return;
    EVP_MAC_CTX_free(s->ctx);
    EVP_MAC_free(s->mac);
    free(s);
}

struct sign_part {
    const void *p; /* bytes to feed to the MAC */
    size_t n;      /* their length */
};

/* Computes the MAC of the concatenated parts into mac[SIGN_MAC_LEN] on a
 * duplicate of the signer's keyed context. */
static int sign_parts(const struct hookd_signer *s, const struct sign_part *parts, int nparts,
                      unsigned char mac[SIGN_MAC_LEN])
{
    EVP_MAC_CTX *c = EVP_MAC_CTX_dup(s->ctx);
    if (!c)
        return HOOKD_ECRYPTO;
    int rc = HOOKD_ECRYPTO;
    for (int i = 0; i < nparts; i++) {
        if (parts[i].n && !EVP_MAC_update(c, parts[i].p, parts[i].n))
            goto out;
    }
    size_t outl = 0;
    if (!EVP_MAC_final(c, mac, &outl, SIGN_MAC_LEN) || outl != SIGN_MAC_LEN)
        goto out;
    rc = 0;
out:
    EVP_MAC_CTX_free(c);
    return rc;
}

int hookd_sign_twenty(const struct hookd_signer *s, const char *ts, const void *body, size_t len,
                      char out[HOOKD_SIG_HEX_LEN + 1])
{
    out[0] = '\0';
    if (!s || !ts || (!body && len))
        return HOOKD_EINVAL;
    /* "ts:" in one update: each EVP_MAC_update call costs about 2k
     * instructions of dispatch whatever its length. */
    char head[64];
    size_t tl = strlen(ts);
    if (tl >= sizeof(head))
        return HOOKD_EINVAL;
    memcpy(head, ts, tl);
    head[tl] = ':';
    struct sign_part parts[] = {
        {head, tl + 1},
        {body, len},
    };
    unsigned char mac[SIGN_MAC_LEN];
    int rc = sign_parts(s, parts, 2, mac);
    if (rc)
        return rc;
    hookd_hex(mac, sizeof(mac), out);
    OPENSSL_cleanse(mac, sizeof(mac));
    return 0;
}

int hookd_sign_standard(const struct hookd_signer *s, const char *id, const char *ts,
                        const void *body, size_t len, char out[HOOKD_SIG_B64_LEN + 4])
{
    out[0] = '\0';
    if (!s || !id || !ts || (!body && len))
        return HOOKD_EINVAL;
    struct sign_part parts[] = {
        {id, strlen(id)}, {".", 1}, {ts, strlen(ts)}, {".", 1}, {body, len},
    };
    unsigned char mac[SIGN_MAC_LEN];
    int rc = sign_parts(s, parts, 5, mac);
    if (rc)
        return rc;
    memcpy(out, "v1,", 3);
    int n = EVP_EncodeBlock((unsigned char *)out + 3, mac, SIGN_MAC_LEN);
    OPENSSL_cleanse(mac, sizeof(mac));
    if (n != HOOKD_SIG_B64_LEN) {
        out[0] = '\0';
        return HOOKD_ECRYPTO;
    }
    return 0;
}

int hookd_sign_twenty_rotating(const struct hookd_signer *cur, const struct hookd_signer *prev,
                               const char *ts, const void *body, size_t len,
                               char head[HOOKD_SIG_HEX_LEN + 1],
                               char all[HOOKD_SIG_HEX_PAIR_LEN + 1])
{
    all[0] = '\0';
    int rc = hookd_sign_twenty(cur, ts, body, len, head);
    if (rc || !prev)
        return rc;
    memcpy(all, head, HOOKD_SIG_HEX_LEN);
    all[HOOKD_SIG_HEX_LEN] = ' ';
    if ((rc = hookd_sign_twenty(prev, ts, body, len, head)) != 0) {
        all[0] = '\0';
        return rc;
    }
    memcpy(all + HOOKD_SIG_HEX_LEN + 1, head, HOOKD_SIG_HEX_LEN + 1);
    return 0;
}

int hookd_sign_standard_rotating(const struct hookd_signer *cur, const struct hookd_signer *prev,
                                 const char *id, const char *ts, const void *body, size_t len,
                                 char out[HOOKD_SIG_STD_PAIR_LEN + 1])
{
    const size_t one = HOOKD_SIG_B64_LEN + 3;
    int rc = hookd_sign_standard(cur, id, ts, body, len, out);
    if (rc || !prev)
        return rc;
    out[one] = ' ';
    if ((rc = hookd_sign_standard(prev, id, ts, body, len, out + one + 1)) != 0)
        out[0] = '\0';
    return rc;
}

int hookd_sign_verify_standard(const struct hookd_signer *s, const char *id, const char *ts,
                               const void *body, size_t len, const char *sigs, int *ok)
{
    char want[HOOKD_SIG_B64_LEN + 4], got[HOOKD_SIG_B64_LEN + 4];
    *ok = 0;
    if (!sigs)
        return HOOKD_EINVAL;
    int rc = hookd_sign_standard(s, id, ts, body, len, want);
    if (rc)
        return rc;
    for (const char *p = sigs; *p;) {
        size_t n = strcspn(p, " ");
        /* Longer than a v1 signature: cannot match, and is not copied. */
        if (n > 3 && n < sizeof(got) && memcmp(p, "v1,", 3) == 0) {
            memcpy(got, p, n);
            got[n] = '\0';
            if (hookd_timingsafe_eq(want, got))
                *ok = 1;
        }
        p += n;
        p += strspn(p, " ");
    }
    OPENSSL_cleanse(want, sizeof(want));
    return 0;
}

int hookd_sign_decode_whsec(const char *secret, size_t len, unsigned char *key, size_t cap,
                            size_t *keylen)
{
    *keylen = 0;
    if (!secret || len <= 6 || memcmp(secret, "whsec_", 6) != 0)
        return HOOKD_EINVAL;
    int rc = hookd_base64_decode(secret + 6, len - 6, key, cap, keylen);
    if (rc == 0 && *keylen == 0)
        rc = HOOKD_EINVAL;
    return rc;
}

/* Nonces are public (they travel in a header), so they are cut from a
 * per-thread pool of random bytes refilled 4 KiB at a time: one RAND_bytes
 * call costs as much as 250 nonces' worth of slicing. */
#define NONCE_POOL 4096
static _Thread_local unsigned char nonce_pool[NONCE_POOL];
static _Thread_local size_t nonce_left;

int hookd_sign_nonce(char out[HOOKD_NONCE_HEX_LEN + 1])
{
    const size_t n = HOOKD_NONCE_HEX_LEN / 2;
    if (nonce_left < n) {
        if (RAND_bytes(nonce_pool, NONCE_POOL) != 1) {
            out[0] = '\0';
            return HOOKD_ECRYPTO;
        }
        nonce_left = NONCE_POOL;
    }
    nonce_left -= n;
    hookd_hex(nonce_pool + nonce_left, n, out);
    return 0;
}

int hookd_random_hex(char *out, size_t n)
{
    unsigned char chunk[64];
    size_t done = 0;
    out[0] = '\0';
    while (done < n) {
        size_t k = n - done < sizeof(chunk) ? n - done : sizeof(chunk);
        if (RAND_bytes(chunk, (int)k) != 1) {
            OPENSSL_cleanse(chunk, sizeof(chunk));
            out[0] = '\0';
            return HOOKD_ECRYPTO;
        }
        hookd_hex(chunk, k, out + 2 * done);
        done += k;
    }
    OPENSSL_cleanse(chunk, sizeof(chunk));
    out[2 * n] = '\0';
    return 0;
}

void hookd_hex(const void *p, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[b[i] >> 4];
        out[2 * i + 1] = digits[b[i] & 0x0f];
    }
    out[2 * n] = '\0';
}

/* SHA-256 fetched once: EVP_sha256() makes OpenSSL 3 look the
 * implementation up (under a lock) on every digest. */
static EVP_MD *sha256_md;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;

static void sha256_fetch(void)
{
    sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
}

void hookd_sha256_hex(const void *p, size_t n, char out[65])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    pthread_once(&sha256_once, sha256_fetch);
    if (!sha256_md || !EVP_Digest(p, n, md, &mdlen, sha256_md, NULL) || mdlen != 32) {
        out[0] = '\0';
        return;
    }
    hookd_hex(md, 32, out);
}

int hookd_timingsafe_eq(const char *a, const char *b)
{
    if (!a || !b)
        return 0;
    size_t la = strlen(a);
    size_t lb = strlen(b);
    if (la == lb)
        return CRYPTO_memcmp(a, b, la) == 0;
    /* Lengths differ: still walk the longer string so that the time spent
     * depends on the lengths only, never on where the contents differ. */
    size_t n = la > lb ? la : lb;
    volatile unsigned char diff = 1;
    for (size_t i = 0; i < n; i++) {
        unsigned char ca = i < la ? (unsigned char)a[i] : 0;
        unsigned char cb = i < lb ? (unsigned char)b[i] : 0;
        diff |= ca ^ cb;
    }
    (void)diff;
    return 0;
}

/* 1 when s[0..n) is base64 in quanta of four characters with "=" only as
 * the padding of the last one: EVP_DecodeBlock() alone also takes "====",
 * "A===" and padding in the middle. */
static int base64_well_formed(const char *s, size_t n)
{
    size_t pad = 0;
    if (n == 0 || n % 4 != 0)
        return 0;
    while (pad < 2 && s[n - 1 - pad] == '=')
        pad++;
    for (size_t i = 0; i < n - pad; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '+' || c == '/'))
            return 0;
    }
    return 1;
}

int hookd_base64_decode(const char *in, size_t len, unsigned char *out, size_t cap, size_t *outlen)
{
    if (len > INT_MAX || !base64_well_formed(in, len))
        return HOOKD_EINVAL;
    if (len / 4 * 3 > cap)
        return HOOKD_ETOOBIG;
    int n = EVP_DecodeBlock(out, (const unsigned char *)in, (int)len);
    if (n < 0)
        return HOOKD_EINVAL;
    size_t pad = (in[len - 1] == '=') + (in[len - 2] == '=');
    *outlen = (size_t)n - pad;
    return 0;
}
