/* fuzz_health.c - the records hookd reads back from {P}:circuit and
 * {P}:health: hookd_circuit_parse and hookd_health_parse.
 *
 * Over their caps both refuse with HOOKD_ETOOBIG; a circuit record parsed
 * holds three numbers that print and parse back the same; a health record
 * parsed has a valid host key and a known state, encodes within the cap,
 * and reads back to the same host, state and counts; merging it into
 * itself doubles its counts and keeps its state. */
#include "fuzz_common.h"
#include "hookd/health.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_circuit(const char *s, size_t len)
{
    struct hookd_circuit c;
    char err[HOOKD_ERRLEN], back[3 * 24];
    int rc = hookd_circuit_parse(s, len, &c, err);
    if (len > HOOKD_CIRCUIT_RECORD_MAX)
        FUZZ_CHECK(rc == HOOKD_ETOOBIG);
    if (rc != 0)
        return;
    FUZZ_CHECK(c.open_until >= 0 && c.interval >= 0 && c.opened_at >= 0);
    struct hookd_circuit again;
    int n = snprintf(back, sizeof(back), "%lld %lld %lld", (long long)c.open_until,
                     (long long)c.interval, (long long)c.opened_at);
    FUZZ_CHECK(n > 0 && (size_t)n < sizeof(back));
    FUZZ_CHECK(hookd_circuit_parse(back, (size_t)n, &again, err) == 0);
    FUZZ_CHECK(again.open_until == c.open_until && again.interval == c.interval &&
               again.opened_at == c.opened_at);
}

static void check_health(const char *s, size_t len)
{
    struct hookd_host_health h, back, twice;
    char err[HOOKD_ERRLEN], out[HOOKD_HEALTH_RECORD_MAX + 1];
    int rc = hookd_health_parse(s, len, &h, err);
    if (len > HOOKD_HEALTH_RECORD_MAX)
        FUZZ_CHECK(rc == HOOKD_ETOOBIG);
    if (rc != 0) {
        FUZZ_CHECK(err[0] != '\0');
        return;
    }
    FUZZ_CHECK(hookd_hostkey_valid(h.host, strlen(h.host)));
    int n = hookd_health_encode(&h, out, sizeof(out));
    if (n < 0)
        return; /* a record near the cap may grow by its numbers' spelling */
    FUZZ_CHECK(hookd_health_parse(out, (size_t)n, &back, err) == 0);
    FUZZ_CHECK(strcmp(back.host, h.host) == 0 && strcmp(back.state, h.state) == 0);
    FUZZ_CHECK(back.limit == h.limit && back.inflight == h.inflight && back.ok == h.ok);
    if (h.ok >= 0 && h.ok < INT64_MAX / 2 && h.limit >= 0 && h.limit < INT64_MAX / 2) {
        twice = h;
        hookd_health_merge(&twice, &h);
        FUZZ_CHECK(twice.ok == 2 * h.ok && twice.limit == 2 * h.limit);
        FUZZ_CHECK(strcmp(twice.state, h.state) == 0);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_circuit((const char *)data, size);
    check_health((const char *)data, size);
    return 0;
}
