/* test_webhook.c - the one judge of a webhook record, secrets, and URLs
 * fit to show. */
#include "hookd/webhook.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

#define NKV(kv) (sizeof(kv) / sizeof((kv)[0]))
#define SECRET "s3cr3t-value-that-must-never-leak"
/* The Standard Webhooks specification's public test vector (24 bytes). */
#define WHSEC "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

static char err[HOOKD_ERRLEN];

/* Parses kv (C strings) into w; returns what hookd_webhook_parse did. */
static int parse(struct hookd_webhook *w, const char *const *kv, size_t n)
{
    size_t lens[64];
    for (size_t i = 0; i < n; i++)
        lens[i] = strlen(kv[i]);
    err[0] = '\0';
    return hookd_webhook_parse(w, "wh_t", kv, lens, n, err);
}

/* A record with a valid url and secret and one more pair: 1 when it is
 * refused with a reason that holds want (and never the secret). */
static int refused_with(const char *k, const char *v, const char *want)
{
    const char *kv[] = {"url", "https://example.com/hook", "secret", SECRET, k, v};
    struct hookd_webhook w;
    int rc = parse(&w, kv, k ? 6 : 4);
    int ok = rc == HOOKD_EINVAL && w.invalid && strcmp(w.invalid, err) == 0 && strstr(err, want) &&
             !strstr(err, SECRET);
    if (!ok)
        fprintf(stderr, "  %s=%s: rc %d reason \"%s\", wanted \"%s\"\n", k ? k : "-", v ? v : "-",
                rc, err, want);
    hookd_webhook_clear(&w);
    return ok;
}

/* The secret alone (and signing) judged: 1 when refused with want. */
static int secret_refused(const char *secret, const char *signing, const char *want)
{
    const char *kv[] = {"url", "https://example.com/hook", "secret", secret, "signing", signing};
    struct hookd_webhook w;
    int rc = parse(&w, kv, 6);
    int ok = rc == HOOKD_EINVAL && strstr(err, want) && !strstr(err, secret + 6);
    if (!ok)
        fprintf(stderr, "  secret %s: rc %d reason \"%s\", wanted \"%s\"\n", secret, rc, err, want);
    hookd_webhook_clear(&w);
    return ok;
}

/* What the issue found the CLI accepted and the worker skipped. */
static void test_refused(void)
{
    CHECK(secret_refused("whsec_my-secret", "twenty", "after whsec_ must come base64"));
    CHECK(secret_refused("whsec_@@@@", "twenty", "after whsec_ must come base64"));
    CHECK(secret_refused("whsec_my-secret", "standard", "after whsec_ must come base64"));
    /* 18 bytes: base64, but shorter than the specification's 24 */
    CHECK(secret_refused("whsec_0123456789abcdef01234567", "standard", "24 to 64 bytes"));
    CHECK(secret_refused("0123456789abcdef0123456789abcdef", "standard",
                         "Standard Webhooks signing needs a whsec_"));
    CHECK(refused_with("enabled", "yes", "enabled: \"yes\" is not 1, 0, true or false"));
    CHECK(refused_with("signing", "hmac", "signing: \"hmac\" is not twenty or standard"));
    CHECK(refused_with("events", "person", "events: \"person\" is not object.action"));
    CHECK(refused_with("events", "", "events: empty"));
    CHECK(refused_with("events", "  ", "events: empty"));
    CHECK(refused_with("timeout_ms", "10s", "timeout_ms: \"10s\" is not a whole number"));
    CHECK(refused_with("connect_timeout_ms", "-1", "connect_timeout_ms: \"-1\""));
    CHECK(refused_with("workspace", "a b", "workspace: \"a b\""));
    char big[1100];
    memset(big, 'd', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    CHECK(refused_with("description", big, "description: 1099 bytes, over 1024"));
    CHECK(refused_with("description", "caf\xc3", "description: not valid UTF-8"));

    struct hookd_webhook w;
    const char *nosecret[] = {"url", "https://example.com/hook"};
    CHECK(parse(&w, nosecret, 2) == HOOKD_EINVAL && strcmp(err, "missing field 'secret'") == 0);
    hookd_webhook_clear(&w);
    char *long_secret = malloc(2049);
    memset(long_secret, 'k', 2048);
    long_secret[2048] = '\0';
    const char *ls[] = {"url", "https://example.com/hook", "secret", long_secret};
    CHECK(parse(&w, ls, 4) == HOOKD_EINVAL && strstr(err, "secret: 2048 bytes, over 1024") &&
          !strstr(err, "kkkk"));
    hookd_webhook_clear(&w);
    free(long_secret);
    const char *space[] = {"url", " https://example.com/hook", "secret", SECRET};
    CHECK(parse(&w, space, 4) == HOOKD_EINVAL && strstr(err, "url: ") &&
          strstr(err, "space or a control byte"));
    hookd_webhook_clear(&w);
    const char *ctl[] = {"url", "https://example.com/\r\nX: y", "secret", SECRET};
    CHECK(parse(&w, ctl, 4) == HOOKD_EINVAL && strstr(err, "url: "));
    hookd_webhook_clear(&w);
    const char *tmo[] = {"url",  "https://example.com/hook", "secret", SECRET, "timeout_ms",
                         "1000", "connect_timeout_ms",       "2000"};
    CHECK(parse(&w, tmo, 8) == HOOKD_EINVAL && strstr(err, "is above timeout_ms"));
    hookd_webhook_clear(&w);

    /* a NUL byte inside a value, as Redis can hold one */
    const char *nul[] = {"url", "https://example.com/hook", "secret", SECRET};
    size_t lens[] = {3, 24, 6, sizeof(SECRET) + 3};
    char withnul[sizeof(SECRET) + 4];
    memcpy(withnul, SECRET "\0abc", sizeof(withnul));
    nul[3] = withnul;
    CHECK(hookd_webhook_parse(&w, "wh_t", nul, lens, 4, err) == HOOKD_EINVAL &&
          strstr(err, "secret: holds a NUL byte") && w.nevents == 0);
    hookd_webhook_clear(&w);

    /* more fields than a record may have */
    const char *many[2 * (HOOKD_WEBHOOK_FIELDS_MAX + 1)];
    char names[HOOKD_WEBHOOK_FIELDS_MAX + 1][16];
    for (int i = 0; i <= HOOKD_WEBHOOK_FIELDS_MAX; i++) {
        snprintf(names[i], sizeof(names[i]), "f%d", i);
        many[2 * i] = names[i];
        many[2 * i + 1] = "v";
    }
    many[0] = "url";
    many[1] = "https://example.com/hook";
    many[2] = "secret";
    many[3] = SECRET;
    size_t mlens[NKV(many)];
    for (size_t i = 0; i < NKV(many); i++)
        mlens[i] = strlen(many[i]);
    CHECK(hookd_webhook_parse(&w, "wh_t", many, mlens, NKV(many), err) == HOOKD_EINVAL &&
          strstr(err, "record has 65 fields, more than 64"));
    hookd_webhook_clear(&w);
}

/* An invalid record still says what it would have had, so that those
 * events reach the dead list instead of vanishing. */
static void test_routing_fallback(void)
{
    struct hookd_webhook w;
    const char *kv[] = {"url",    "https://example.com/hook", "secret",    "whsec_@@@@",
                        "events", "person.created",           "workspace", "ws_1"};
    CHECK(parse(&w, kv, 8) == HOOKD_EINVAL);
    CHECK(w.invalid && w.enabled == 1 && w.nevents == 1 &&
          strcmp(w.events[0], "person.created") == 0 && strcmp(w.workspace, "ws_1") == 0);
    hookd_webhook_clear(&w);
    const char *ev[] = {"url", "https://example.com/hook", "secret", SECRET, "events", "bad"};
    CHECK(parse(&w, ev, 6) == HOOKD_EINVAL);
    CHECK(w.nevents == 1 && strcmp(w.events[0], "*.*") == 0);
    hookd_webhook_clear(&w);
    const char *en[] = {"url", "https://example.com/hook", "secret", SECRET, "enabled", "yes"};
    CHECK(parse(&w, en, 6) == HOOKD_EINVAL && w.enabled == 1);
    hookd_webhook_clear(&w);
    const char *off[] = {"url", "https://example.com/hook", "secret", "", "enabled", "0"};
    CHECK(parse(&w, off, 6) == HOOKD_EINVAL && w.enabled == 0);
    hookd_webhook_clear(&w);
    CHECK(hookd_webhook_unreadable(&w, "wh_u", "no record") == 0);
    CHECK(w.invalid && strcmp(w.invalid, "no record") == 0 && w.nevents == 0 && w.enabled);
    hookd_webhook_clear(&w);
}

static void test_valid(void)
{
    struct hookd_webhook w;
    const char *kv[] = {"url",        "https://example.com/hook",
                        "secret",     WHSEC,
                        "signing",    "standard",
                        "events",     "person.*, *.created",
                        "other",      "kept and ignored",
                        "enabled",    "true",
                        "timeout_ms", "1500"};
    CHECK(parse(&w, kv, NKV(kv)) == 0 && w.invalid == NULL);
    CHECK(w.signer && w.std_signer && w.signing == (HOOKD_SIGN_TWENTY | HOOKD_SIGN_STANDARD));
    CHECK(w.nevents == 2 && strcmp(w.events[1], "*.created") == 0 && w.timeout_ms == 1500);
    hookd_webhook_clear(&w);
}

static void test_problems(void)
{
    CHECK(hookd_webhook_problem("none", 4, err) == HOOKD_EINVAL && strstr(err, "no record"));
    CHECK(hookd_webhook_problem("string", 6, err) == HOOKD_EINVAL &&
          strcmp(err, "key is a string, not a hash") == 0);
    CHECK(hookd_webhook_problem("fields:70", 9, err) == HOOKD_EINVAL &&
          strstr(err, "70 fields, more than 64"));
    CHECK(hookd_webhook_problem("bytes:99999", 11, err) == HOOKD_EINVAL &&
          strstr(err, "99999 bytes"));
}

static void test_secret_new(void)
{
    char a[HOOKD_WEBHOOK_SECRET_GEN_LEN], b[HOOKD_WEBHOOK_SECRET_GEN_LEN];
    CHECK(hookd_webhook_secret_new(HOOKD_SIGN_TWENTY | HOOKD_SIGN_STANDARD, a) == 0);
    CHECK(hookd_webhook_secret_new(HOOKD_SIGN_TWENTY | HOOKD_SIGN_STANDARD, b) == 0);
    CHECK(strncmp(a, "whsec_", 6) == 0 && strlen(a) == 6 + 44 && strcmp(a, b) != 0);
    /* what it draws, the judge accepts */
    struct hookd_webhook w;
    const char *kv[] = {"url", "https://example.com/hook", "secret", a, "signing", "standard"};
    CHECK(parse(&w, kv, 6) == 0 && w.std_signer);
    hookd_webhook_clear(&w);
    CHECK(hookd_webhook_secret_new(HOOKD_SIGN_TWENTY, a) == 0 && strlen(a) == 64 &&
          strspn(a, "0123456789abcdef") == 64);
}

static void test_redact(void)
{
    char out[256];
    hookd_webhook_url_redact("https://example.com/hook?token=abc123&x=1#frag", out, sizeof(out));
    CHECK_STR(out, "https://example.com/hook?token=REDACTED&x=REDACTED");
    hookd_webhook_url_redact("https://example.com/hook", out, sizeof(out));
    CHECK_STR(out, "https://example.com/hook");
    hookd_webhook_url_redact("https://user:pw@example.com/h?abc", out, sizeof(out));
    CHECK(strstr(out, "pw") == NULL && strstr(out, "abc") == NULL && strstr(out, "REDACTED"));
    hookd_webhook_url_redact("not a url?secret=1", out, sizeof(out));
    CHECK(strstr(out, "secret") == NULL);
    hookd_webhook_url_redact("https://example.com/?t=" SECRET, out, 20);
    CHECK(strlen(out) == 19 && strstr(out, "s3cr") == NULL);
}

int main(void)
{
    test_refused();
    test_routing_fallback();
    test_valid();
    test_problems();
    test_secret_new();
    test_redact();
    return CHECK_REPORT();
}
