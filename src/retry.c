/* retry.c - backoff delays, Retry-After and the outcome of one attempt. */
#define _GNU_SOURCE /* strptime_l, timegm */

#include "hookd/retry.h"

#include <locale.h>
#include <math.h>
#include <string.h>
#include <time.h>

#define RETRY_AFTER_MAX 64

/* Clamps d to [lo, hi] and converts it; NaN gives lo. hi wins over lo. */
static int64_t clamp_ms(double d, int64_t lo, int64_t hi)
{
    if (!(d >= (double)lo))
        d = (double)lo;
    if (d > (double)hi)
        return hi;
    int64_t v = (int64_t)llround(d);
    return v > hi ? hi : v;
}

int64_t hookd_retry_delay(const struct hookd_retry_policy *p, int attempt, double r)
{
    int64_t max = p->max_ms < 1 ? 1 : p->max_ms;
    if (attempt < 1)
        attempt = 1;
    double factor = p->factor > 0 ? p->factor : 1.0;
    double d = (double)p->base_ms * pow(factor, (double)(attempt - 1));
    if (!isfinite(d) || d > (double)max)
        d = (double)max;

    double j = p->jitter;
    if (!(j > 0))
        j = 0;
    if (j > 1)
        j = 1;
    if (!(r >= 0))
        r = 0;
    if (r >= 1)
        r = nextafter(1.0, 0.0);
    d *= 1.0 - j + 2.0 * j * r;
    return clamp_ms(d, 1, max);
}

/* Parses an HTTP-date in any of the three forms RFC 9110 makes recipients
 * accept, always in the C locale. Returns 0 and the time, or -1. */
static int parse_http_date(const char *s, time_t *out)
{
    static const char *const formats[] = {
        "%a, %d %b %Y %H:%M:%S GMT", /* IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT */
        "%A, %d-%b-%y %H:%M:%S GMT", /* RFC 850: Sunday, 06-Nov-94 08:49:37 GMT */
        "%a %b %e %H:%M:%S %Y",      /* asctime: Sun Nov  6 08:49:37 1994 */
    };
    locale_t c = newlocale(LC_ALL_MASK, "C", (locale_t)0);
    if (c == (locale_t)0)
        return -1;
    int rc = -1;
    for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++) {
        struct tm tm;
        memset(&tm, 0, sizeof(tm));
        const char *end = strptime_l(s, formats[i], &tm, c);
        if (end && *end == '\0') {
            *out = timegm(&tm);
            rc = 0;
            break;
        }
    }
    freelocale(c);
    return rc;
}

int64_t hookd_retry_after_parse(const struct hookd_retry_policy *p, const char *value,
                                int64_t now_ms)
{
    if (!value)
        return -1;
    size_t len = strnlen(value, RETRY_AFTER_MAX + 1);
    if (len > RETRY_AFTER_MAX)
        return -1;

    /* Optional whitespace around a field value is not part of it. */
    char buf[RETRY_AFTER_MAX + 1];
    size_t a = 0;
    while (a < len && (value[a] == ' ' || value[a] == '\t'))
        a++;
    while (len > a && (value[len - 1] == ' ' || value[len - 1] == '\t'))
        len--;
    if (len == a)
        return -1;
    memcpy(buf, value + a, len - a);
    buf[len - a] = '\0';

    double delay;
    if (strspn(buf, "0123456789") == len - a) {
        /* delta-seconds; saturate instead of overflowing on long runs. */
        double secs = 0;
        for (const char *c = buf; *c; c++) {
            secs = secs * 10 + (*c - '0');
            if (secs > 1e15)
                break;
        }
        delay = secs * 1000.0;
    } else {
        time_t t;
        if (parse_http_date(buf, &t) != 0)
            return -1;
        delay = (double)t * 1000.0 - (double)now_ms;
    }
    return clamp_ms(delay, p->base_ms, p->max_ms);
}

enum hookd_outcome hookd_retry_classify(const struct hookd_retry_policy *p, long status,
                                        int attempt)
{
    if (status >= 200 && status <= 299)
        return HOOKD_OUTCOME_OK;
    if (status == 410)
        return HOOKD_OUTCOME_GONE;
    return attempt < p->max_attempts ? HOOKD_OUTCOME_RETRY : HOOKD_OUTCOME_DEAD;
}
