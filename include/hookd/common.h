/* common.h - error codes and the bounded buffer every module shares.
 *
 * Convention: a function that can fail returns 0 or a negative HOOKD_E* code.
 * Detail for a human goes into an error buffer the caller owns (char
 * errbuf[HOOKD_ERRLEN]) or into the errstr field of the object at hand.
 * Modules never print; the caller decides what reaches the log. */
#ifndef HOOKD_COMMON_H
#define HOOKD_COMMON_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#ifndef HOOKD_VERSION
#define HOOKD_VERSION "0.0.0"
#endif

#define HOOKD_ERRLEN 256

enum hookd_err {
    HOOKD_OK = 0,
    HOOKD_ENOMEM = -1,     /* allocation failed */
    HOOKD_EINVAL = -2,     /* malformed input: see the error buffer */
    HOOKD_ETOOBIG = -3,    /* input over its size cap */
    HOOKD_ERANGE = -4,     /* value outside its bounds */
    HOOKD_ENOTFOUND = -5,  /* no such webhook, key or option */
    HOOKD_EREDIS = -6,     /* Redis unreachable or answered with an error */
    HOOKD_EFORBIDDEN = -7, /* address or scheme refused by policy */
    HOOKD_EIO = -8,        /* system call failed */
    HOOKD_ECRYPTO = -9,    /* OpenSSL failed */
    HOOKD_EEXIST = -10,    /* already exists, or changed meanwhile */
};

/* Static text for a HOOKD_E* code; never NULL. */
const char *hookd_strerror(int err);

/* Formats into errbuf (HOOKD_ERRLEN bytes) and returns err, so that a failure
 * reads as one line: return hookd_fail(errbuf, HOOKD_EINVAL, "bad %s", x); */
int hookd_fail(char *errbuf, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* A growable byte buffer with a hard cap, in the manner of curl's dynbuf.
 * Always NUL-terminated when len > 0 so that text can be used as a C string.
 * The owner frees it with hookd_buf_free(); a zeroed struct after
 * hookd_buf_init() is empty and owns no memory. */
struct hookd_buf {
    char *data; /* bytes, NUL-terminated; NULL until the first append */
    size_t len; /* bytes used, not counting the NUL */
    size_t cap; /* bytes allocated */
    size_t max; /* len never exceeds this; appends past it fail ETOOBIG */
};

void hookd_buf_init(struct hookd_buf *b, size_t max);
void hookd_buf_free(struct hookd_buf *b);
/* Empties the buffer but keeps its memory for reuse. */
void hookd_buf_reset(struct hookd_buf *b);
/* Cuts b back to its first len bytes (len <= b->len). */
void hookd_buf_truncate(struct hookd_buf *b, size_t len);
/* Makes room for n more bytes at once, so that the appends that follow do
 * not reallocate; ETOOBIG past the cap. */
int hookd_buf_reserve(struct hookd_buf *b, size_t n);
int hookd_buf_add(struct hookd_buf *b, const void *p, size_t n);
int hookd_buf_adds(struct hookd_buf *b, const char *s);
int hookd_buf_addf(struct hookd_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int hookd_buf_vaddf(struct hookd_buf *b, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));
/* Hands the bytes to the caller (who frees them with free()) and empties b. */
char *hookd_buf_steal(struct hookd_buf *b, size_t *len);

/* Write v in decimal and a NUL into out, which holds HOOKD_I64_LEN bytes
 * (HOOKD_U64_LEN for the unsigned one); return the characters written, the
 * NUL not counted. The hot path's snprintf("%lld"). */
#define HOOKD_I64_LEN 21
#define HOOKD_U64_LEN 21
size_t hookd_i64_fmt(char *out, int64_t v);
size_t hookd_u64_fmt(char *out, uint64_t v);

/* Copies the C string src into dst of size bytes (> 0), cut to fit and
 * always terminated; returns the bytes copied. The hot path's
 * snprintf("%s"). */
size_t hookd_str_copy(char *dst, size_t size, const char *src);

/* Value of one hex digit, or -1 when c is not one. */
int hookd_hexval(int c);

/* FNV-1a of the NUL-terminated s: a fast, well-spread hash for the in-memory
 * tables keyed by webhook id or host key. Not for anything an attacker's
 * collisions could hurt beyond a longer chain. */
uint32_t hookd_hash_str(const char *s);

/* Renders at most 64 bytes of untrusted s[0..n) into out for an error
 * message: printable ASCII as is, other bytes as '?', "..." when cut.
 * Returns out. */
#define HOOKD_QUOTE_LEN 68
const char *hookd_quote(char out[HOOKD_QUOTE_LEN], const char *s, size_t n);

/* Length of the valid UTF-8 sequence at s (at most n bytes, n > 0), or 0
 * when the bytes there are not one (overlong forms and surrogates included). */
size_t hookd_utf8_seq_len(const unsigned char *s, size_t n);
/* 1 when s[0..n) is valid UTF-8 throughout. */
int hookd_utf8_valid(const char *s, size_t n);

/* Out of memory where going on would lose track of work: says so on
 * standard error and aborts. Work taken but not settled is safe in Redis and
 * is taken again when its lease expires. */
void hookd_oom(void) __attribute__((noreturn));

/* Milliseconds since the epoch, wall clock. */
int64_t hookd_now_ms(void);

/* Parses a whole decimal integer within [min, max]; no sign games, no
 * trailing bytes. Returns 0 or HOOKD_EINVAL / HOOKD_ERANGE. */
int hookd_parse_i64(const char *s, int64_t min, int64_t max, int64_t *out);

#endif
