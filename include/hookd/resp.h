/* resp.h - RESP, Redis' wire format, as hookd writes commands itself (the
 * settle batch and the attempt log go out as prepared bytes, not through
 * hiredis' formatter).
 *
 * A writer gathers short writes on the stack and appends them to its buffer
 * in one go; the first error sticks, and what was written then is for the
 * caller to cut off (hookd_buf_truncate at the position it noted). */
#ifndef HOOKD_RESP_H
#define HOOKD_RESP_H

#include <stddef.h>
#include <stdint.h>

#include "hookd/common.h"

#define HOOKD_RESP_GATHER 1024 /* bytes a writer gathers before an append */

/* A writer in front of a buffer; lives on the caller's stack, for one run
 * of writes ended by hookd_resp_end(). */
struct hookd_resp_w {
    struct hookd_buf *b;         /* where the bytes go; outlives the writer */
    size_t len;                  /* bytes gathered in buf */
    int rc;                      /* first error, 0 when none */
    char buf[HOOKD_RESP_GATHER]; /* bytes not yet in b */
};

/* Starts a writer on b. */
void hookd_resp_init(struct hookd_resp_w *w, struct hookd_buf *b);
/* n bytes as they are. */
void hookd_resp_raw(struct hookd_resp_w *w, const void *p, size_t n);
/* A length line: type ('*' or '$'), n, CRLF. */
void hookd_resp_line(struct hookd_resp_w *w, char type, size_t n);
/* One bulk string: "$n\r\n", the n bytes at p, "\r\n". */
void hookd_resp_bulk(struct hookd_resp_w *w, const void *p, size_t n);
/* A NUL-terminated string as a bulk string. */
void hookd_resp_str(struct hookd_resp_w *w, const char *s);
/* A decimal integer as a bulk string. */
void hookd_resp_i64(struct hookd_resp_w *w, int64_t v);
/* Where in b the next byte written will be. */
size_t hookd_resp_pos(const struct hookd_resp_w *w);
/* Appends what was gathered; returns the first error (HOOKD_ETOOBIG or
 * HOOKD_ENOMEM from b), 0 when none. */
int hookd_resp_end(struct hookd_resp_w *w);

/* Appends "*n\r\n", the head of a command of n arguments, to b; or leaves
 * b as it was and returns HOOKD_ETOOBIG or HOOKD_ENOMEM. */
int hookd_resp_add_array(struct hookd_buf *b, size_t n);
/* Appends one bulk string to b, as hookd_resp_add_array() does. */
int hookd_resp_add_bulk(struct hookd_buf *b, const void *p, size_t len);

#endif
