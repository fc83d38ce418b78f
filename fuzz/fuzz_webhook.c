/* fuzz_webhook.c - hookd_webhook_parse on records read from arbitrary bytes
 * (one field or value a line, as HGETALL gives them), and the rules its
 * callers rely on: a record is either valid, with a URL and a signer, or
 * invalid with its reason in both the error buffer and w->invalid; either
 * way it still has filters or is unreadable (no filters), and the reason
 * never quotes the secret. The URL is also shown redacted, which must end
 * within its buffer (what it hides is checked by test_webhook). */
#include "fuzz_common.h"
#include "hookd/webhook.h"

#define MAX_PARTS (2 * HOOKD_WEBHOOK_FIELDS_MAX + 2)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_part parts[MAX_PARTS];
    const char *kv[MAX_PARTS];
    size_t lens[MAX_PARTS];
    char errbuf[HOOKD_ERRLEN], shown[512];
    struct hookd_webhook w;
    const char *secret = NULL;
    const char *url = NULL;
    size_t secret_len = 0;

    if (size > 1 << 16)
        return 0;
    size_t n = fuzz_split(data, size, parts, MAX_PARTS);
    char *copies[MAX_PARTS];
    for (size_t i = 0; i < n; i++) {
        copies[i] = fuzz_strndup(parts[i].p, parts[i].n);
        kv[i] = copies[i];
        lens[i] = parts[i].n;
        if (i % 2 == 1 && strcmp(kv[i - 1], "secret") == 0) {
            secret = kv[i];
            secret_len = lens[i];
        }
        if (i % 2 == 1 && strcmp(kv[i - 1], "url") == 0)
            url = kv[i];
    }
    fuzz_errbuf_poison(errbuf);
    int rc = hookd_webhook_parse(&w, "wh_fuzz", kv, lens, n, errbuf);
    FUZZ_CHECK(rc == 0 || rc == HOOKD_EINVAL || rc == HOOKD_ENOMEM);
    if (rc == 0) {
        FUZZ_CHECK(w.invalid == NULL && w.url && w.signer && w.nevents >= 1 && w.workspace);
        FUZZ_CHECK((w.signing & HOOKD_SIGN_STANDARD) == 0 || w.std_signer);
    } else if (rc == HOOKD_EINVAL) {
        FUZZ_CHECK(fuzz_errbuf_ok(errbuf) && w.invalid && strcmp(w.invalid, errbuf) == 0);
        FUZZ_CHECK(w.workspace && w.id);
        /* A reason about the secret is one of a few fixed texts, never its
         * bytes: any 16 of them with a byte outside those texts' alphabet
         * would show. */
        if (secret && secret_len >= 16 && strncmp(errbuf, "secret:", 7) == 0 &&
            strpbrk(secret, "#&*;[]^{|}~"))
            FUZZ_CHECK(!fuzz_contains(errbuf, secret, secret_len));
    }
    for (int i = 0; i < w.nevents; i++)
        FUZZ_CHECK(hookd_filter_list_check(w.events[i], errbuf) == 0);
    hookd_webhook_clear(&w);
    FUZZ_CHECK(w.id == NULL && w.nevents == 0);

    if (url) {
        hookd_webhook_url_redact(url, shown, sizeof(shown));
        FUZZ_CHECK(strlen(shown) < sizeof(shown));
    }
    hookd_webhook_problem((const char *)data, size > 64 ? 64 : size, errbuf);
    for (size_t i = 0; i < n; i++)
        free(copies[i]);
    return 0;
}
