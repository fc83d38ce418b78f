/* fuzz_backlog.c - what the backlog (backlog.h) reads from outside:
 * hookd_backlog_time_parse on arbitrary text (a filter's since/until from
 * the CLI or the API), and hookd_backlog_dead_id on arbitrary bytes (a dead
 * record as read from Redis). A time is refused with a reason or parses to
 * a time after 1970 that a second parse gives again; an id is always a
 * short, printable C string. */
#include <string.h>

#include "fuzz_common.h"
#include "hookd/backlog.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char errbuf[HOOKD_ERRLEN];
    char text[HOOKD_BACKLOG_TIME_MAX + 8];
    size_t n = size < sizeof(text) - 1 ? size : sizeof(text) - 1;
    memcpy(text, data, n);
    text[n] = '\0';
    int64_t ms = -1, again = -1;
    fuzz_errbuf_poison(errbuf);
    int rc = hookd_backlog_time_parse(text, &ms, errbuf);
    if (rc != 0) {
        FUZZ_CHECK(rc == HOOKD_EINVAL && fuzz_errbuf_ok(errbuf));
    } else {
        FUZZ_CHECK(ms >= 0);
        FUZZ_CHECK(hookd_backlog_time_parse(text, &again, errbuf) == 0 && again == ms);
    }

    char id[HOOKD_BACKLOG_ID_LEN];
    memset(id, 'x', sizeof(id));
    hookd_backlog_dead_id((const char *)data, size, id);
    size_t idlen = strnlen(id, sizeof(id));
    FUZZ_CHECK(idlen > 0 && idlen < sizeof(id));
    for (size_t i = 0; i < idlen; i++)
        FUZZ_CHECK(id[i] > ' ' && id[i] < 127);
    return 0;
}
