/* log.c - one record a line on standard error, text or JSON.
 *
 * Each record is built in a buffer on the caller's stack (at most
 * LOG_LINE_MAX bytes, newline included) and written with one write(2), so
 * that records of different threads never interleave. A record too long for
 * the buffer is cut at a character boundary and marked with "...". */
#include "hookd/log.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define LOG_LINE_MAX 8192
#define LOG_TAIL 32 /* kept free for the closing bytes and the truncation marks */

static atomic_int log_level = HOOKD_LOG_INFO;
static atomic_int log_format = HOOKD_LOG_TEXT;

static const char *const level_names[] = {"debug", "info", "warn", "error"};
static const char *const level_upper[] = {"DEBUG", "INFO", "WARN", "ERROR"};

enum esc_mode {
    ESC_JSON,        /* inside a JSON string */
    ESC_TEXT_BARE,   /* text message or key: control bytes escaped */
    ESC_TEXT_QUOTED, /* inside a quoted text value: quotes and backslashes too */
};

struct line {
    char buf[LOG_LINE_MAX];
    size_t len;
    int full;   /* content reached LOG_LINE_MAX - LOG_TAIL; later content is dropped */
    int marked; /* "..." was written where the content was cut */
};

#define LINE_CAP (LOG_LINE_MAX - LOG_TAIL)

void hookd_log_setup(enum hookd_log_level level, enum hookd_log_format format)
{
    atomic_store(&log_level, (int)level);
    atomic_store(&log_format, (int)format);
}

int hookd_log_level_parse(const char *s, enum hookd_log_level *out)
{
    for (int i = HOOKD_LOG_DEBUG; i <= HOOKD_LOG_ERROR; i++) {
        if (s && strcasecmp(s, level_names[i]) == 0) {
            *out = (enum hookd_log_level)i;
            return 0;
        }
    }
    return HOOKD_EINVAL;
}

int hookd_log_format_parse(const char *s, enum hookd_log_format *out)
{
    if (s && strcasecmp(s, "text") == 0)
        *out = HOOKD_LOG_TEXT;
    else if (s && strcasecmp(s, "json") == 0)
        *out = HOOKD_LOG_JSON;
    else
        return HOOKD_EINVAL;
    return 0;
}

/* Appends n bytes whole, or marks the line full and appends nothing. */
static void line_raw(struct line *l, const char *s, size_t n)
{
    if (l->full)
        return;
    if (n > LINE_CAP - l->len) {
        l->full = 1;
        return;
    }
    memcpy(l->buf + l->len, s, n);
    l->len += n;
}

/* Appends closing bytes into the reserved tail, whatever the content did. */
static void line_force(struct line *l, const char *s)
{
    size_t n = strlen(s);
    if (n > LOG_LINE_MAX - l->len)
        n = LOG_LINE_MAX - l->len;
    memcpy(l->buf + l->len, s, n);
    l->len += n;
}

/* Appends s escaped for mode, one character at a time; when the next
 * character does not fit, writes "..." and marks the line full. */
static void line_esc(struct line *l, const char *s, enum esc_mode mode)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strlen(s);
    while (n > 0 && !l->full) {
        char unit[8];
        size_t un, adv;
        unsigned char c = *p;
        if (c < 0x20 || c == 0x7f || (mode != ESC_TEXT_BARE && (c == '"' || c == '\\'))) {
            const char *named = NULL;
            switch (c) {
            case '\n':
                named = "\\n";
                break;
            case '\r':
                named = "\\r";
                break;
            case '\t':
                named = "\\t";
                break;
            case '"':
                named = "\\\"";
                break;
            case '\\':
                named = "\\\\";
                break;
            }
            if (named)
                un = (size_t)snprintf(unit, sizeof(unit), "%s", named);
            else if (mode == ESC_JSON)
                un = (size_t)snprintf(unit, sizeof(unit), "\\u%04x", c);
            else
                un = (size_t)snprintf(unit, sizeof(unit), "\\x%02x", c);
            adv = 1;
        } else if ((adv = hookd_utf8_seq_len(p, n)) > 0) {
            memcpy(unit, p, adv);
            un = adv;
        } else {
            if (mode == ESC_JSON)
                un = (size_t)snprintf(unit, sizeof(unit), "\\ufffd");
            else
                un = (size_t)snprintf(unit, sizeof(unit), "\\x%02x", c);
            adv = 1;
        }
        if (un > LINE_CAP - l->len) {
            l->full = 1;
            l->marked = 1;
            line_force(l, "...");
            return;
        }
        memcpy(l->buf + l->len, unit, un);
        l->len += un;
        p += adv;
        n -= adv;
    }
}

/* 1 when a text value must be quoted to read back as one value. */
static int text_needs_quotes(const char *v)
{
    if (!*v)
        return 1;
    for (; *v; v++) {
        unsigned char c = (unsigned char)*v;
        if (c <= 0x20 || c == 0x7f || c == '"' || c == '=' || c == '\\')
            return 1;
    }
    return 0;
}

/* Appends ,"key":"value"; a member whose key does not fit is dropped whole. */
static void json_member(struct line *l, const char *key, const char *value)
{
    size_t save = l->len;
    line_raw(l, ",\"", 2);
    line_esc(l, key, ESC_JSON);
    line_raw(l, "\":\"", 3);
    if (l->full) {
        l->len = save;
        return;
    }
    line_esc(l, value, ESC_JSON);
    line_force(l, "\"");
}

/* Appends " key=value", quoting the value when needed; a field whose key
 * does not fit is dropped whole. */
static void text_field(struct line *l, const char *key, const char *value)
{
    size_t save = l->len;
    int quoted = text_needs_quotes(value);
    line_raw(l, " ", 1);
    line_esc(l, key, ESC_TEXT_BARE);
    line_raw(l, quoted ? "=\"" : "=", quoted ? 2 : 1);
    if (l->full) {
        l->len = save;
        l->marked = 0;
        return;
    }
    line_esc(l, value, quoted ? ESC_TEXT_QUOTED : ESC_TEXT_BARE);
    if (quoted)
        line_force(l, "\"");
}

/* Writes the whole buffer to fd 2, retrying on EINTR and short writes. */
static void write_all(const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(2, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return;
        }
        p += w;
        n -= (size_t)w;
    }
}

static void log_vwrite(enum hookd_log_level level, const char *const *fields, const char *fmt,
                       va_list ap) __attribute__((format(printf, 3, 0)));
static void log_vwrite(enum hookd_log_level level, const char *const *fields, const char *fmt,
                       va_list ap)
{
    if ((int)level < HOOKD_LOG_DEBUG || (int)level > HOOKD_LOG_ERROR)
        level = HOOKD_LOG_ERROR;
    int saved_errno = errno;
    int json = atomic_load(&log_format) == HOOKD_LOG_JSON;

    char msg[LOG_LINE_MAX];
    if (vsnprintf(msg, sizeof(msg), fmt, ap) < 0)
        msg[0] = '\0';

    struct timespec ts;
    struct tm tm;
    char when[40];
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t wn = strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(when + wn, sizeof(when) - wn, ".%03ldZ", ts.tv_nsec / 1000000);

    struct line l;
    l.len = 0;
    l.full = l.marked = 0;
    if (json) {
        line_raw(&l, "{\"ts\":\"", 7);
        line_raw(&l, when, strlen(when));
        line_raw(&l, "\",\"level\":\"", 11);
        line_raw(&l, level_names[level], strlen(level_names[level]));
        line_raw(&l, "\",\"msg\":\"", 9);
        line_esc(&l, msg, ESC_JSON);
        line_force(&l, "\"");
    } else {
        line_raw(&l, when, strlen(when));
        line_raw(&l, " ", 1);
        line_raw(&l, level_upper[level], strlen(level_upper[level]));
        line_raw(&l, " ", 1);
        line_esc(&l, msg, ESC_TEXT_BARE);
    }
    for (size_t i = 0; fields && fields[i] && !l.full; i += 2) {
        const char *value = fields[i + 1] ? fields[i + 1] : "";
        if (json)
            json_member(&l, fields[i], value);
        else
            text_field(&l, fields[i], value);
        if (!fields[i + 1])
            break;
    }
    if (json)
        line_force(&l, l.full ? ",\"truncated\":true}\n" : "}\n");
    else
        line_force(&l, l.full && !l.marked ? " ...\n" : "\n");
    write_all(l.buf, l.len);
    errno = saved_errno;
}

void hookd_log_write(enum hookd_log_level level, const char *const *fields, const char *fmt, ...)
{
    if ((int)level < atomic_load(&log_level))
        return;
    va_list ap;
    va_start(ap, fmt);
    log_vwrite(level, fields, fmt, ap);
    va_end(ap);
}

/* ---- rate-limited records ---- */

/* One key of hookd_log_limited(). */
struct limit {
    char key[HOOKD_LOG_LIMIT_KEY_MAX]; /* "" when the slot is free */
    int64_t last_ms;                   /* when its last record was written */
    uint64_t left_out;                 /* records not written since */
};

static struct limit limits[HOOKD_LOG_LIMIT_KEYS];
static pthread_mutex_t limits_lock = PTHREAD_MUTEX_INITIALIZER;

/* Decides whether a record of key may be written now; when it may, *left_out
 * is how many of its records were not. */
static int limit_pass(const char *key, uint64_t *left_out)
{
    int64_t now = hookd_now_ms();
    struct limit *slot = NULL, *oldest = &limits[0];
    int pass = 1;
    pthread_mutex_lock(&limits_lock);
    for (size_t i = 0; i < HOOKD_LOG_LIMIT_KEYS && !slot; i++) {
        if (strncmp(limits[i].key, key, sizeof(limits[i].key) - 1) == 0 && limits[i].key[0])
            slot = &limits[i];
        else if (limits[i].last_ms < oldest->last_ms)
            oldest = &limits[i];
    }
    if (slot && now - slot->last_ms < HOOKD_LOG_LIMIT_MS) {
        slot->left_out++;
        pass = 0;
    } else {
        if (!slot) {
            slot = oldest;
            hookd_str_copy(slot->key, sizeof(slot->key), key);
            slot->left_out = 0;
        }
        *left_out = slot->left_out;
        slot->left_out = 0;
        slot->last_ms = now;
    }
    pthread_mutex_unlock(&limits_lock);
    return pass;
}

void hookd_log_limited(enum hookd_log_level level, const char *key, const char *fmt, ...)
{
    char n[HOOKD_I64_LEN];
    uint64_t left_out = 0;
    if ((int)level < atomic_load(&log_level) || !limit_pass(key, &left_out))
        return;
    hookd_u64_fmt(n, left_out);
    const char *fields[] = {"left_out", n, NULL};
    va_list ap;
    va_start(ap, fmt);
    log_vwrite(level, left_out ? fields : NULL, fmt, ap);
    va_end(ap);
}
