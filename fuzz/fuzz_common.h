/* fuzz_common.h - helpers shared by the libFuzzer targets.
 *
 * A target is strict: a broken invariant aborts through FUZZ_CHECK so that
 * libFuzzer reports it as a crash and keeps the input. */
#ifndef HOOKD_FUZZ_COMMON_H
#define HOOKD_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hookd/common.h"

#define FUZZ_CHECK(cond)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond);           \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* A slice of the fuzz input. */
struct fuzz_part {
    const uint8_t *p; /* first byte */
    size_t n;         /* bytes */
};

/* Cuts data at its first max - 1 newlines into at most max parts; the last
 * part keeps the rest, newlines included. Parts past the input are empty.
 * Returns how many parts the input really had. */
static inline size_t fuzz_split(const uint8_t *data, size_t size, struct fuzz_part *parts,
                                size_t max)
{
    size_t k = 0, start = 0;
    for (size_t i = 0; i < size && k + 1 < max; i++) {
        if (data[i] == '\n') {
            parts[k].p = data + start;
            parts[k].n = i - start;
            k++;
            start = i + 1;
        }
    }
    parts[k].p = data + start;
    parts[k].n = size - start;
    size_t have = k + 1;
    for (size_t j = have; j < max; j++) {
        parts[j].p = data + size;
        parts[j].n = 0;
    }
    return have;
}

/* A malloc'ed NUL-terminated copy of a part (cut at an embedded NUL when a C
 * string API sees it). Aborts when out of memory. */
static inline char *fuzz_strndup(const uint8_t *p, size_t n)
{
    char *s = malloc(n + 1);
    FUZZ_CHECK(s != NULL);
    if (n)
        memcpy(s, p, n);
    s[n] = '\0';
    return s;
}

/* Fills an error buffer with non-NUL bytes, so that fuzz_errbuf_ok() tells
 * whether a failing call wrote a terminated message into it. */
static inline void fuzz_errbuf_poison(char errbuf[HOOKD_ERRLEN])
{
    memset(errbuf, 'X', HOOKD_ERRLEN);
}

/* 1 when errbuf holds a non-empty message terminated within its size. */
static inline int fuzz_errbuf_ok(const char errbuf[HOOKD_ERRLEN])
{
    size_t n = strnlen(errbuf, HOOKD_ERRLEN);
    return n > 0 && n < HOOKD_ERRLEN;
}

/* 1 when n bytes of needle occur in the C string hay. */
static inline int fuzz_contains(const char *hay, const char *needle, size_t n)
{
    size_t h = strlen(hay);
    if (n == 0)
        return 1;
    for (size_t i = 0; i + n <= h; i++) {
        if (memcmp(hay + i, needle, n) == 0)
            return 1;
    }
    return 0;
}

#endif
