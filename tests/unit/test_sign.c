/* test_sign.c - signatures against vectors computed with openssl(1) and the
 * Standard Webhooks reference vector; nonces, hex, timing-safe compare. */
#include "hookd/sign.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "check.h"

static const char twenty_body[] =
    "{\"event\":\"person.created\",\"data\":{\"id\":\"1\"},\"timestamp\":\"2025-02-10T15:30:50Z\"}";

/* printf '%s' '1739201450000:BODY' | openssl dgst -sha256 -hmac 'whsec_test_secret' */
static const char twenty_want[] =
    "7c10ad6a0ea13c3234eb7cd1ef71291e176519bc2447b97b7985247916949d2e";

static void test_signer_new(void)
{
    static char dummy;
    struct hookd_signer *s = (struct hookd_signer *)(void *)&dummy; /* must be reset */
    CHECK(hookd_signer_new(NULL, 4, &s) == HOOKD_EINVAL);
    CHECK(s == NULL);
    CHECK(hookd_signer_new("k", 0, &s) == HOOKD_EINVAL);

    char big[1025];
    memset(big, 'k', sizeof(big));
    CHECK(hookd_signer_new(big, 1025, &s) == HOOKD_ETOOBIG);
    CHECK(s == NULL);
    CHECK(hookd_signer_new(big, 1024, &s) == 0);
    CHECK(s != NULL);
    hookd_signer_free(s);
    hookd_signer_free(NULL);
}

static void test_twenty(void)
{
    struct hookd_signer *s;
    char out[HOOKD_SIG_HEX_LEN + 1];
    CHECK(hookd_signer_new("whsec_test_secret", 17, &s) == 0);
    CHECK(hookd_sign_twenty(s, "1739201450000", twenty_body, strlen(twenty_body), out) == 0);
    CHECK_STR(out, twenty_want);

    /* The keyed state is duplicated, never consumed: another message and
     * then the first one again give the same answer. */
    char other[HOOKD_SIG_HEX_LEN + 1];
    CHECK(hookd_sign_twenty(s, "1739201450001", twenty_body, strlen(twenty_body), other) == 0);
    CHECK(strcmp(other, twenty_want) != 0);
    CHECK(hookd_sign_twenty(s, "1739201450000", twenty_body, strlen(twenty_body), out) == 0);
    CHECK_STR(out, twenty_want);

    /* One changed body byte changes the signature. */
    char body[sizeof(twenty_body)];
    memcpy(body, twenty_body, sizeof(body));
    body[10] ^= 1;
    CHECK(hookd_sign_twenty(s, "1739201450000", body, strlen(body), out) == 0);
    CHECK(strcmp(out, twenty_want) != 0);

    CHECK(hookd_sign_twenty(s, NULL, twenty_body, 3, out) == HOOKD_EINVAL);
    CHECK(out[0] == '\0');
    CHECK(hookd_sign_twenty(s, "1", NULL, 3, out) == HOOKD_EINVAL);
    CHECK(hookd_sign_twenty(NULL, "1", "x", 1, out) == HOOKD_EINVAL);
    hookd_signer_free(s);

    /* Empty body: printf '%s' '1:' | openssl dgst -sha256 -hmac 'k' */
    CHECK(hookd_signer_new("k", 1, &s) == 0);
    CHECK(hookd_sign_twenty(s, "1", NULL, 0, out) == 0);
    CHECK_STR(out, "abbbb2ca089fc78bfa77c3511857da0390d9b85d45f64b8131ef097fe3079e02");
    hookd_signer_free(s);
}

static void test_standard(void)
{
    static const char id[] = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    static const char body[] = "{\"test\": 2432232314}";
    char out[HOOKD_SIG_B64_LEN + 4];
    struct hookd_signer *s;

    /* printf '%s' 'ID.1614265330.BODY' | openssl dgst -sha256 -hmac KEY -binary | base64 */
    CHECK(hookd_signer_new("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", 32, &s) == 0);
    CHECK(hookd_sign_standard(s, id, "1614265330", body, strlen(body), out) == 0);
    CHECK_STR(out, "v1,ELhqG0Ku1gwOc1f4jyKdp3SFGFLAOdJ9bvpWLciCakI=");
    CHECK(strlen(out) == HOOKD_SIG_B64_LEN + 3);
    CHECK(hookd_sign_standard(s, NULL, "1", body, 1, out) == HOOKD_EINVAL);
    CHECK(hookd_sign_standard(s, id, NULL, body, 1, out) == HOOKD_EINVAL);
    CHECK(hookd_sign_standard(s, id, "1", NULL, 1, out) == HOOKD_EINVAL);
    hookd_signer_free(s);

    /* The Standard Webhooks reference vector: the key is the base64-decoded
     * "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw". */
    static const unsigned char key[] = {
        0x31, 0xf2, 0x90, 0xf6, 0xbf, 0x06, 0x29, 0x8a, 0xab, 0x4f, 0x08, 0xd4,
        0x3c, 0x3f, 0x08, 0x2c, 0xf6, 0x48, 0xa3, 0x62, 0xda, 0x2d, 0xa4, 0xb0,
    };
    CHECK(hookd_signer_new(key, sizeof(key), &s) == 0);
    CHECK(hookd_sign_standard(s, id, "1614265330", body, strlen(body), out) == 0);
    CHECK_STR(out, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    hookd_signer_free(s);
}

/* The Standard Webhooks reference vector again, through the secret in its
 * whsec_ form and the header a receiver gets. */
static void test_verify_standard(void)
{
    static const char secret[] = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    static const char id[] = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    static const char body[] = "{\"test\": 2432232314}";
#define GOOD_SIG "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    static const char good[] = GOOD_SIG;
    unsigned char key[64];
    size_t klen = 99;
    struct hookd_signer *s;
    int ok = 7;

    CHECK(hookd_sign_decode_whsec(secret, strlen(secret), key, sizeof(key), &klen) == 0);
    CHECK(klen == 24 && key[0] == 0x31 && key[23] == 0xb0);
    CHECK(hookd_signer_new(key, klen, &s) == 0);
    CHECK(hookd_sign_verify_standard(s, id, "1614265330", body, strlen(body), good, &ok) == 0);
    CHECK(ok == 1);

    static const struct {
        const char *sigs;
        int want;
    } cases[] = {
        /* one match among several (a key rotation), anywhere, extra spaces
         * around; other versions are skipped */
        {"v1,bm90IGl0 " GOOD_SIG, 1},
        {GOOD_SIG " v1,bm90IGl0", 1},
        {"  v2,xyz   " GOOD_SIG "  ", 1},
        /* nothing but exactly v1 and the signature passes */
        {"", 0},
        {" ", 0},
        {"g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", 0},
        {"v2,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", 0},
        {"v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE", 0},
        {GOOD_SIG "=", 0},
        {"v1,G0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", 0},
        {GOOD_SIG "x", 0},
        {"v1,", 0},
        {"v1", 0},
    };
#undef GOOD_SIG
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ok = !cases[i].want;
        CHECK(hookd_sign_verify_standard(s, id, "1614265330", body, strlen(body), cases[i].sigs,
                                         &ok) == 0);
        CHECK(ok == cases[i].want);
    }
    /* another id, time or body */
    CHECK(hookd_sign_verify_standard(s, "msg_x", "1614265330", body, strlen(body), good, &ok) ==
              0 &&
          ok == 0);
    CHECK(hookd_sign_verify_standard(s, id, "1614265331", body, strlen(body), good, &ok) == 0 &&
          ok == 0);
    CHECK(hookd_sign_verify_standard(s, id, "1614265330", body, strlen(body) - 1, good, &ok) == 0 &&
          ok == 0);
    CHECK(hookd_sign_verify_standard(s, id, "1614265330", body, 1, NULL, &ok) == HOOKD_EINVAL);
    CHECK(hookd_sign_verify_standard(s, NULL, "1614265330", body, 1, good, &ok) == HOOKD_EINVAL);
    hookd_signer_free(s);

    /* secrets that are not whsec_<base64 of at least one byte> */
    const char *not_whsec[] = {
        "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        "whsec_",
        "whsec_MfKQ9r8",
        "whsec_MfKQ9r8GKYqr!wjU",
        "WHSEC_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        "whsec_====",
        "whsec_A===",
        "whsec_AA==AAAA",
        "whsec_AAA=\n",
        "whsec_AA AA",
        "wh",
    };
    for (size_t i = 0; i < sizeof(not_whsec) / sizeof(not_whsec[0]); i++) {
        CHECK(hookd_sign_decode_whsec(not_whsec[i], strlen(not_whsec[i]), key, sizeof(key),
                                      &klen) == HOOKD_EINVAL);
    }
    CHECK(hookd_sign_decode_whsec(secret, strlen(secret), key, 8, &klen) == HOOKD_ETOOBIG);
}

static void test_base64_decode(void)
{
    unsigned char out[32];
    size_t n = 0;
    CHECK(hookd_base64_decode("aGk=", 4, out, sizeof(out), &n) == 0 && n == 2 &&
          memcmp(out, "hi", 2) == 0);
    CHECK(hookd_base64_decode("aGV5", 4, out, sizeof(out), &n) == 0 && n == 3);
    CHECK(hookd_base64_decode("aA==", 4, out, sizeof(out), &n) == 0 && n == 1 && out[0] == 'h');
    CHECK(hookd_base64_decode("aGk", 3, out, sizeof(out), &n) == HOOKD_EINVAL);
    CHECK(hookd_base64_decode("", 0, out, sizeof(out), &n) == HOOKD_EINVAL);
    CHECK(hookd_base64_decode("a!k=", 4, out, sizeof(out), &n) == HOOKD_EINVAL);
    CHECK(hookd_base64_decode("aGV5aGV5", 8, out, 3, &n) == HOOKD_ETOOBIG);
}

static int all_hex(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    }
    return 1;
}

static void test_random(void)
{
    char a[HOOKD_NONCE_HEX_LEN + 1], b[HOOKD_NONCE_HEX_LEN + 1];
    CHECK(hookd_sign_nonce(a) == 0);
    CHECK(hookd_sign_nonce(b) == 0);
    CHECK(strlen(a) == HOOKD_NONCE_HEX_LEN);
    CHECK(all_hex(a, HOOKD_NONCE_HEX_LEN));
    CHECK(strcmp(a, b) != 0);

    /* Longer than the internal 64-byte chunk; the byte past the NUL is
     * untouched. */
    char big[2 * 150 + 2];
    memset(big, 'Z', sizeof(big));
    CHECK(hookd_random_hex(big, 150) == 0);
    CHECK(strlen(big) == 300);
    CHECK(all_hex(big, 300));
    CHECK(big[301] == 'Z');
    /* The chunks are not copies of one another. */
    CHECK(memcmp(big, big + 128, 128) != 0);

    char none[2] = {'Z', 'Z'};
    CHECK(hookd_random_hex(none, 0) == 0);
    CHECK(none[0] == '\0' && none[1] == 'Z');
}

static void test_hex_sha(void)
{
    const unsigned char bytes[] = {0x00, 0x01, 0x7f, 0x80, 0xab, 0xff};
    char out[2 * sizeof(bytes) + 1];
    hookd_hex(bytes, sizeof(bytes), out);
    CHECK_STR(out, "00017f80abff");
    hookd_hex(bytes, 0, out);
    CHECK_STR(out, "");

    char sha[65];
    hookd_sha256_hex("", 0, sha);
    CHECK_STR(sha, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    hookd_sha256_hex("abc", 3, sha);
    CHECK_STR(sha, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

static void test_timingsafe(void)
{
    static const struct {
        const char *a, *b;
        int want;
    } cases[] = {
        {"", "", 1},       {"abc", "abc", 1}, {twenty_want, twenty_want, 1},
        {"abc", "abd", 0}, {"abc", "bbc", 0}, {"abc", "ab", 0},
        {"ab", "abc", 0},  {"", "a", 0},      {"a", "", 0},
        {"abc", "ABC", 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int got = hookd_timingsafe_eq(cases[i].a, cases[i].b);
        if (got != cases[i].want)
            fprintf(stderr, "case %zu: \"%s\" vs \"%s\"\n", i, cases[i].a, cases[i].b);
        CHECK(got == cases[i].want);
    }
    CHECK(hookd_timingsafe_eq(NULL, "") == 0);
    CHECK(hookd_timingsafe_eq("", NULL) == 0);
    CHECK(hookd_timingsafe_eq(NULL, NULL) == 0);
}

struct shared_job {
    const struct hookd_signer *s;
    int bad; /* signatures that did not match the vector */
};

static void *sign_many(void *arg)
{
    struct shared_job *j = arg;
    char out[HOOKD_SIG_HEX_LEN + 1];
    for (int i = 0; i < 2000; i++) {
        if (hookd_sign_twenty(j->s, "1739201450000", twenty_body, strlen(twenty_body), out) != 0 ||
            strcmp(out, twenty_want) != 0)
            j->bad++;
    }
    return NULL;
}

/* One const signer used by several threads at once. */
static void test_shared(void)
{
    struct hookd_signer *s;
    CHECK(hookd_signer_new("whsec_test_secret", 17, &s) == 0);
    pthread_t t[4];
    struct shared_job jobs[4];
    for (int i = 0; i < 4; i++) {
        jobs[i].s = s;
        jobs[i].bad = 0;
        CHECK(pthread_create(&t[i], NULL, sign_many, &jobs[i]) == 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        CHECK(jobs[i].bad == 0);
    }
    hookd_signer_free(s);
}

/* Two secrets during a rotation: the Twenty head is the previous secret's,
 * the list "<cur> <prev>"; the Standard value lists "v1,<cur> v1,<prev>",
 * and each one verifies alone. Without prev nothing changes. */
static void test_rotating(void)
{
    struct hookd_signer *cur, *prev;
    char head[HOOKD_SIG_HEX_LEN + 1], all[HOOKD_SIG_HEX_PAIR_LEN + 1];
    char one[HOOKD_SIG_HEX_LEN + 1], want[HOOKD_SIG_HEX_PAIR_LEN + 1];
    size_t blen = strlen(twenty_body);
    CHECK(hookd_signer_new("new-secret", 10, &cur) == 0);
    CHECK(hookd_signer_new("whsec_test_secret", 17, &prev) == 0);

    CHECK(hookd_sign_twenty_rotating(cur, prev, "1739201450000", twenty_body, blen, head, all) ==
          0);
    CHECK_STR(head, twenty_want);
    CHECK(hookd_sign_twenty(cur, "1739201450000", twenty_body, blen, one) == 0);
    snprintf(want, sizeof(want), "%s %s", one, twenty_want);
    CHECK_STR(all, want);
    CHECK(strlen(all) == HOOKD_SIG_HEX_PAIR_LEN);

    CHECK(hookd_sign_twenty_rotating(cur, NULL, "1739201450000", twenty_body, blen, head, all) ==
          0);
    CHECK_STR(head, one);
    CHECK_STR(all, "");
    CHECK(hookd_sign_twenty_rotating(cur, prev, NULL, twenty_body, blen, head, all) ==
          HOOKD_EINVAL);
    CHECK_STR(all, "");

    char std[HOOKD_SIG_STD_PAIR_LEN + 1], a[HOOKD_SIG_B64_LEN + 4], b[HOOKD_SIG_B64_LEN + 4];
    const char *id = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    CHECK(hookd_sign_standard_rotating(cur, prev, id, "1614265330", twenty_body, blen, std) == 0);
    CHECK(hookd_sign_standard(cur, id, "1614265330", twenty_body, blen, a) == 0);
    CHECK(hookd_sign_standard(prev, id, "1614265330", twenty_body, blen, b) == 0);
    char pair[2 * sizeof(a)];
    snprintf(pair, sizeof(pair), "%s %s", a, b);
    CHECK_STR(std, pair);
    CHECK(strlen(std) == HOOKD_SIG_STD_PAIR_LEN);
    int ok = 0;
    CHECK(hookd_sign_verify_standard(cur, id, "1614265330", twenty_body, blen, std, &ok) == 0);
    CHECK(ok == 1);
    CHECK(hookd_sign_verify_standard(prev, id, "1614265330", twenty_body, blen, std, &ok) == 0);
    CHECK(ok == 1);
    struct hookd_signer *other;
    CHECK(hookd_signer_new("other", 5, &other) == 0);
    CHECK(hookd_sign_verify_standard(other, id, "1614265330", twenty_body, blen, std, &ok) == 0);
    CHECK(ok == 0);
    CHECK(hookd_sign_standard_rotating(cur, NULL, id, "1614265330", twenty_body, blen, std) == 0);
    CHECK_STR(std, a);
    hookd_signer_free(other);
    hookd_signer_free(cur);
    hookd_signer_free(prev);
}

int main(void)
{
    test_base64_decode();
    test_signer_new();
    test_twenty();
    test_standard();
    test_verify_standard();
    test_rotating();
    test_random();
    test_hex_sha();
    test_timingsafe();
    test_shared();
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
