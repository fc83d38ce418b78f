/* resp.c - RESP writing (see resp.h). */
#include "hookd/resp.h"

#include <string.h>

/* Writes a RESP length line (type, n in decimal, CRLF) at out, which has
 * room for 23 bytes (the digits' NUL lands where CR goes); returns its
 * length. */
static size_t length_line(char *out, char type, size_t n)
{
    out[0] = type;
    size_t k = 1 + hookd_u64_fmt(out + 1, n);
    out[k++] = '\r';
    out[k++] = '\n';
    return k;
}

void hookd_resp_init(struct hookd_resp_w *w, struct hookd_buf *b)
{
    w->b = b;
    w->len = 0;
    w->rc = 0;
}

static void flush(struct hookd_resp_w *w)
{
    if (w->len && !w->rc)
        w->rc = hookd_buf_add(w->b, w->buf, w->len);
    w->len = 0;
}

void hookd_resp_raw(struct hookd_resp_w *w, const void *p, size_t n)
{
    if (n > sizeof(w->buf) - w->len) {
        flush(w);
        if (n > sizeof(w->buf)) {
            if (!w->rc)
                w->rc = hookd_buf_add(w->b, p, n);
            return;
        }
    }
    if (n)
        memcpy(w->buf + w->len, p, n);
    w->len += n;
}

void hookd_resp_line(struct hookd_resp_w *w, char type, size_t n)
{
    char line[24];
    hookd_resp_raw(w, line, length_line(line, type, n));
}

void hookd_resp_bulk(struct hookd_resp_w *w, const void *p, size_t n)
{
    if (n + 25 <= sizeof(w->buf) - w->len) {
        /* The usual short argument, written in place. */
        char *o = w->buf + w->len;
        size_t k = length_line(o, '$', n);
        if (n)
            memcpy(o + k, p, n);
        k += n;
        o[k++] = '\r';
        o[k++] = '\n';
        w->len += k;
        return;
    }
    hookd_resp_line(w, '$', n);
    hookd_resp_raw(w, p, n);
    hookd_resp_raw(w, "\r\n", 2);
}

void hookd_resp_str(struct hookd_resp_w *w, const char *s)
{
    hookd_resp_bulk(w, s, strlen(s));
}

void hookd_resp_i64(struct hookd_resp_w *w, int64_t v)
{
    char s[HOOKD_I64_LEN];
    hookd_resp_bulk(w, s, hookd_i64_fmt(s, v));
}

size_t hookd_resp_pos(const struct hookd_resp_w *w)
{
    return w->b->len + w->len;
}

int hookd_resp_end(struct hookd_resp_w *w)
{
    flush(w);
    return w->rc;
}

int hookd_resp_add_array(struct hookd_buf *b, size_t n)
{
    char line[24];
    return hookd_buf_add(b, line, length_line(line, '*', n));
}

int hookd_resp_add_bulk(struct hookd_buf *b, const void *p, size_t len)
{
    struct hookd_resp_w w;
    size_t at = b->len;
    hookd_resp_init(&w, b);
    hookd_resp_bulk(&w, p, len);
    int rc = hookd_resp_end(&w);
    if (rc)
        hookd_buf_truncate(b, at);
    return rc;
}
