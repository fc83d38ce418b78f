/* log.h - one line per record on standard error, text or JSON.
 *
 * Thread-safe: each record is written with one write(2). Callers must never
 * pass a secret; the logger does not redact. */
#ifndef HOOKD_LOG_H
#define HOOKD_LOG_H

#include "hookd/config.h"

void hookd_log_setup(enum hookd_log_level level, enum hookd_log_format format);

/* Writes one record. fields is NULL or a NULL-terminated list of key, value
 * string pairs added as extra fields (key=value in text, members in JSON). */
void hookd_log_write(enum hookd_log_level level, const char *const *fields, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Writes one record unless a record of the same key (a webhook id and a
 * reason, say) was written in the last HOOKD_LOG_LIMIT_MS; the first one
 * written after such records were left out carries their count in a
 * "left_out" field. The HOOKD_LOG_LIMIT_KEYS keys written most recently are
 * remembered; keys are compared on their first HOOKD_LOG_LIMIT_KEY_MAX - 1
 * bytes. */
#define HOOKD_LOG_LIMIT_MS 10000
#define HOOKD_LOG_LIMIT_KEYS 256
#define HOOKD_LOG_LIMIT_KEY_MAX 192
void hookd_log_limited(enum hookd_log_level level, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define hookd_debug(...) hookd_log_write(HOOKD_LOG_DEBUG, NULL, __VA_ARGS__)
#define hookd_info(...) hookd_log_write(HOOKD_LOG_INFO, NULL, __VA_ARGS__)
#define hookd_warn(...) hookd_log_write(HOOKD_LOG_WARN, NULL, __VA_ARGS__)
#define hookd_error(...) hookd_log_write(HOOKD_LOG_ERROR, NULL, __VA_ARGS__)

/* Parses "debug|info|warn|error" and "text|json". */
int hookd_log_level_parse(const char *s, enum hookd_log_level *out);
int hookd_log_format_parse(const char *s, enum hookd_log_format *out);

#endif
