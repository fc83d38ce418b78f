/* common.c - error texts, the bounded buffer and small parsing helpers. */
#include "hookd/common.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

const char *hookd_strerror(int err)
{
    switch (err) {
    case HOOKD_OK:
        return "ok";
    case HOOKD_ENOMEM:
        return "out of memory";
    case HOOKD_EINVAL:
        return "invalid input";
    case HOOKD_ETOOBIG:
        return "input too large";
    case HOOKD_ERANGE:
        return "value out of range";
    case HOOKD_ENOTFOUND:
        return "not found";
    case HOOKD_EREDIS:
        return "redis error";
    case HOOKD_EFORBIDDEN:
        return "forbidden by policy";
    case HOOKD_EIO:
        return "i/o error";
    case HOOKD_ECRYPTO:
        return "crypto error";
    case HOOKD_EEXIST:
        return "already exists";
    }
    return "unknown error";
}

int hookd_fail(char *errbuf, int err, const char *fmt, ...)
{
    if (errbuf) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(errbuf, HOOKD_ERRLEN, fmt, ap);
        va_end(ap);
    }
    return err;
}

void hookd_buf_init(struct hookd_buf *b, size_t max)
{
    memset(b, 0, sizeof(*b));
    b->max = max;
}

void hookd_buf_free(struct hookd_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

void hookd_buf_reset(struct hookd_buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

/* Makes room for n more bytes plus the NUL, growing by doubling. */
/* Makes room for n more bytes: exactly that much when exact, else by
 * doubling, so that a run of appends costs amortised O(1). */
static int buf_grow(struct hookd_buf *b, size_t n, int exact)
{
    if (n > b->max - b->len)
        return HOOKD_ETOOBIG;
    size_t need = b->len + n + 1;
    if (need <= b->cap)
        return 0;
    size_t cap = need;
    if (!exact) {
        cap = b->cap ? b->cap : 64;
        while (cap < need)
            cap *= 2;
        if (cap > b->max + 1)
            cap = b->max + 1;
    }
    char *p = realloc(b->data, cap);
    if (!p)
        return HOOKD_ENOMEM;
    b->data = p;
    b->cap = cap;
    return 0;
}

void hookd_buf_truncate(struct hookd_buf *b, size_t len)
{
    if (len < b->len) {
        b->len = len;
        b->data[len] = '\0';
    }
}

int hookd_buf_reserve(struct hookd_buf *b, size_t n)
{
    return buf_grow(b, n, 1);
}

int hookd_buf_add(struct hookd_buf *b, const void *p, size_t n)
{
    int rc = buf_grow(b, n, 0);
    if (rc)
        return rc;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

int hookd_buf_adds(struct hookd_buf *b, const char *s)
{
    return hookd_buf_add(b, s, strlen(s));
}

int hookd_buf_vaddf(struct hookd_buf *b, const char *fmt, va_list ap)
{
    va_list cp;
    va_copy(cp, ap);
    int n = vsnprintf(NULL, 0, fmt, cp);
    va_end(cp);
    if (n < 0)
        return HOOKD_EINVAL;
    int rc = buf_grow(b, (size_t)n, 0);
    if (rc)
        return rc;
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    return 0;
}

int hookd_buf_addf(struct hookd_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = hookd_buf_vaddf(b, fmt, ap);
    va_end(ap);
    return rc;
}

char *hookd_buf_steal(struct hookd_buf *b, size_t *len)
{
    char *p = b->data;
    if (len)
        *len = b->len;
    if (!p)
        p = calloc(1, 1);
    b->data = NULL;
    b->len = b->cap = 0;
    return p;
}

void hookd_oom(void)
{
    static const char msg[] = "hookd: out of memory, aborting\n";
    ssize_t n = write(2, msg, sizeof(msg) - 1);
    (void)n;
    abort();
}

int64_t hookd_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

size_t hookd_u64_fmt(char *out, uint64_t v)
{
    char tmp[HOOKD_U64_LEN];
    size_t n = 0, len = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        out[len++] = tmp[--n];
    out[len] = '\0';
    return len;
}

size_t hookd_i64_fmt(char *out, int64_t v)
{
    if (v >= 0)
        return hookd_u64_fmt(out, (uint64_t)v);
    /* Negate as unsigned, so that INT64_MIN has a magnitude too. */
    out[0] = '-';
    return 1 + hookd_u64_fmt(out + 1, 0 - (uint64_t)v);
}

size_t hookd_str_copy(char *dst, size_t size, const char *src)
{
    size_t n = strnlen(src, size - 1);
    memcpy(dst, src, n);
    dst[n] = '\0';
    return n;
}

uint32_t hookd_hash_str(const char *s)
{
    uint32_t h = 2166136261u;
    while (*s)
        h = (h ^ (unsigned char)*s++) * 16777619u;
    return h;
}

int hookd_hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int hookd_parse_i64(const char *s, int64_t min, int64_t max, int64_t *out)
{
    if (!s || !*s)
        return HOOKD_EINVAL;
    const char *p = s;
    if (*p == '-')
        p++;
    if (*p < '0' || *p > '9')
        return HOOKD_EINVAL;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (*end != '\0')
        return HOOKD_EINVAL;
    if (errno == ERANGE || v < min || v > max)
        return HOOKD_ERANGE;
    *out = v;
    return 0;
}

size_t hookd_utf8_seq_len(const unsigned char *s, size_t n)
{
    size_t len;
    unsigned min;
    unsigned cp;
    if (s[0] < 0x80)
        return 1;
    if ((s[0] & 0xe0) == 0xc0) {
        len = 2, min = 0x80, cp = s[0] & 0x1f;
    } else if ((s[0] & 0xf0) == 0xe0) {
        len = 3, min = 0x800, cp = s[0] & 0x0f;
    } else if ((s[0] & 0xf8) == 0xf0) {
        len = 4, min = 0x10000, cp = s[0] & 0x07;
    } else {
        return 0;
    }
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

int hookd_utf8_valid(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    while (n > 0) {
        size_t k = hookd_utf8_seq_len(p, n);
        if (k == 0)
            return 0;
        p += k;
        n -= k;
    }
    return 1;
}

const char *hookd_quote(char out[HOOKD_QUOTE_LEN], const char *s, size_t n)
{
    size_t k = n > HOOKD_QUOTE_LEN - 4 ? HOOKD_QUOTE_LEN - 4 : n;
    for (size_t i = 0; i < k; i++) {
        unsigned char c = (unsigned char)s[i];
        out[i] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
    }
    if (n > k)
        memcpy(out + k, "...", 4);
    else
        out[k] = '\0';
    return out;
}
