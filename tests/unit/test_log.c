/* test_log.c - text and JSON records, escaping, truncation, threads.
 * Standard error is redirected to a temporary file while records are
 * written; checks run after it is restored. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hookd/log.h"

#include "check.h"

#define LINE_MAX_BYTES 8192

static int cap_fd = -1, saved_fd = -1;

static void cap_start(void)
{
    char path[] = "/tmp/hookd_test_log_XXXXXX";
    cap_fd = mkstemp(path);
    if (cap_fd < 0) {
        perror("mkstemp");
        exit(1);
    }
    unlink(path);
    fcntl(cap_fd, F_SETFL, O_APPEND);
    fflush(stderr);
    saved_fd = dup(2);
    dup2(cap_fd, 2);
}

/* Restores standard error and returns what was written (caller frees). */
static char *cap_end(size_t *len)
{
    dup2(saved_fd, 2);
    close(saved_fd);
    off_t n = lseek(cap_fd, 0, SEEK_END);
    char *buf = malloc((size_t)n + 1);
    if (!buf)
        exit(1);
    if (pread(cap_fd, buf, (size_t)n, 0) != n)
        exit(1);
    buf[n] = '\0';
    close(cap_fd);
    if (len)
        *len = (size_t)n;
    return buf;
}

static int count_lines(const char *s)
{
    int n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

/* 1 when s starts with a timestamp like 2026-11-22T09:30:00.123Z. */
static int is_timestamp(const char *s)
{
    const char *shape = "dddd-dd-ddTdd:dd:dd.dddZ";
    for (size_t i = 0; shape[i]; i++) {
        if (shape[i] == 'd' ? (s[i] < '0' || s[i] > '9') : s[i] != shape[i])
            return 0;
    }
    return 1;
}

/* Parses one JSON record line; NULL when it is not one JSON object. */
static json_t *parse_line(const char *line)
{
    json_error_t e;
    json_t *j = json_loads(line, JSON_REJECT_DUPLICATES, &e);
    if (!j || !json_is_object(j)) {
        fprintf(stderr, "  not JSON: %s (%.200s)\n", e.text, line);
        json_decref(j);
        return NULL;
    }
    return j;
}

static const char *jstr(json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

static void test_parse(void)
{
    enum hookd_log_level lv = HOOKD_LOG_ERROR;
    enum hookd_log_format fm = HOOKD_LOG_TEXT;
    CHECK(hookd_log_level_parse("debug", &lv) == 0 && lv == HOOKD_LOG_DEBUG);
    CHECK(hookd_log_level_parse("Info", &lv) == 0 && lv == HOOKD_LOG_INFO);
    CHECK(hookd_log_level_parse("warn", &lv) == 0 && lv == HOOKD_LOG_WARN);
    CHECK(hookd_log_level_parse("error", &lv) == 0 && lv == HOOKD_LOG_ERROR);
    CHECK(hookd_log_level_parse("trace", &lv) == HOOKD_EINVAL && lv == HOOKD_LOG_ERROR);
    CHECK(hookd_log_level_parse("", &lv) == HOOKD_EINVAL);
    CHECK(hookd_log_level_parse("info ", &lv) == HOOKD_EINVAL);
    CHECK(hookd_log_level_parse(NULL, &lv) == HOOKD_EINVAL);
    CHECK(hookd_log_format_parse("json", &fm) == 0 && fm == HOOKD_LOG_JSON);
    CHECK(hookd_log_format_parse("TEXT", &fm) == 0 && fm == HOOKD_LOG_TEXT);
    CHECK(hookd_log_format_parse("logfmt", &fm) == HOOKD_EINVAL && fm == HOOKD_LOG_TEXT);
}

static void test_text(void)
{
    size_t len;
    hookd_log_setup(HOOKD_LOG_WARN, HOOKD_LOG_TEXT);
    cap_start();
    hookd_info("dropped");
    hookd_debug("dropped");
    hookd_warn("kept %d", 1);
    char *out = cap_end(&len);
    CHECK(count_lines(out) == 1);
    CHECK(is_timestamp(out));
    CHECK(strcmp(out + 24, " WARN kept 1\n") == 0);
    free(out);

    hookd_log_setup(HOOKD_LOG_DEBUG, HOOKD_LOG_TEXT);
    cap_start();
    const char *const fields[] = {"k",  "v",   "q",  "a b",   "e",  "",     "s", "say \"hi\"",
                                  "eq", "a=b", "bs", "c:\\x", "nl", "1\n2", NULL};
    hookd_log_write(HOOKD_LOG_INFO, fields, "hello %s", "world");
    hookd_debug("two\nlines\tand\x01");
    hookd_error("e");
    const char *const odd[] = {"k", NULL};
    hookd_log_write(HOOKD_LOG_ERROR, odd, "odd");
    out = cap_end(&len);
    CHECK(count_lines(out) == 4);
    char *l2 = strchr(out, '\n') + 1;
    char *l3 = strchr(l2, '\n') + 1;
    char *l4 = strchr(l3, '\n') + 1;
    CHECK(is_timestamp(out) && is_timestamp(l2) && is_timestamp(l3) && is_timestamp(l4));
    CHECK(strncmp(out + 24,
                  " INFO hello world k=v q=\"a b\" e=\"\" s=\"say \\\"hi\\\"\" eq=\"a=b\" "
                  "bs=\"c:\\\\x\" nl=\"1\\n2\"\n",
                  (size_t)(l2 - out - 24)) == 0);
    CHECK(strncmp(l2 + 24, " DEBUG two\\nlines\\tand\\x01\n", (size_t)(l3 - l2 - 24)) == 0);
    CHECK(strncmp(l3 + 24, " ERROR e\n", 9) == 0);
    CHECK(strcmp(l4 + 24, " ERROR odd k=\"\"\n") == 0);
    free(out);
}

static void test_json(void)
{
    hookd_log_setup(HOOKD_LOG_DEBUG, HOOKD_LOG_JSON);
    const char *msg = "q\"b\\s/\n\r\t\x01\x1f\x7f caf\xc3\xa9 \xf0\x9f\x98\x80 end";
    const char *const fields[] = {"url", "http://x/?a=1&b=\"2\"", "k\"ey", "v", "empty", "", NULL};
    cap_start();
    hookd_log_write(HOOKD_LOG_WARN, fields, "%s", msg);
    hookd_info("bad \xff utf8 \xc0\xaf overlong \xed\xa0\x80 surrogate \xe2\x82 cut");
    char *out = cap_end(NULL);
    CHECK(count_lines(out) == 2);
    char *nl = strchr(out, '\n');
    *nl = '\0';
    json_t *j = parse_line(out);
    CHECK(j != NULL);
    if (j) {
        CHECK(json_object_size(j) == 6);
        CHECK(jstr(j, "ts") && is_timestamp(jstr(j, "ts")) && strlen(jstr(j, "ts")) == 24);
        CHECK(jstr(j, "level") && strcmp(jstr(j, "level"), "warn") == 0);
        CHECK(jstr(j, "msg") && strcmp(jstr(j, "msg"), msg) == 0);
        CHECK(jstr(j, "url") && strcmp(jstr(j, "url"), "http://x/?a=1&b=\"2\"") == 0);
        CHECK(jstr(j, "k\"ey") && strcmp(jstr(j, "k\"ey"), "v") == 0);
        CHECK(jstr(j, "empty") && strcmp(jstr(j, "empty"), "") == 0);
        json_decref(j);
    }
    CHECK(strncmp(out, "{\"ts\":\"", 7) == 0 && strstr(out, "\"level\":\"warn\",\"msg\":\""));
    CHECK(strstr(out, "\\u0001\\u001f"));
    j = parse_line(nl + 1);
    CHECK(j != NULL);
    if (j) {
        const char *m = jstr(j, "msg");
        CHECK(m && strcmp(m, "bad \xef\xbf\xbd utf8 \xef\xbf\xbd\xef\xbf\xbd overlong "
                             "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd surrogate "
                             "\xef\xbf\xbd\xef\xbf\xbd cut") == 0);
        CHECK(jstr(j, "level") && strcmp(jstr(j, "level"), "info") == 0);
        json_decref(j);
    }
    free(out);
}

/* Every line of out is a JSON object of at most LINE_MAX_BYTES bytes with
 * "truncated":true exactly when want_trunc; when want_trunc is -1, exactly
 * when field "b" is not whole. Returns the number of lines. */
static int check_json_lines(char *out, int want_trunc)
{
    int n = 0;
    for (char *line = out, *nl; (nl = strchr(line, '\n')); line = nl + 1, n++) {
        CHECK((size_t)(nl - line) + 1 <= LINE_MAX_BYTES);
        *nl = '\0';
        json_t *j = parse_line(line);
        CHECK(j != NULL);
        if (!j)
            continue;
        int trunc = json_is_true(json_object_get(j, "truncated"));
        const char *b = jstr(j, "b");
        if (want_trunc >= 0)
            CHECK(trunc == want_trunc);
        else
            CHECK(trunc ? !b || strcmp(b, "...") == 0 : b && strcmp(b, "c") == 0);
        json_decref(j);
    }
    return n;
}

static void test_truncation(void)
{
    static char big[20000];
    memset(big, 'x', sizeof(big) - 1);

    /* text: cut with "..." and still one line */
    hookd_log_setup(HOOKD_LOG_DEBUG, HOOKD_LOG_TEXT);
    cap_start();
    hookd_info("%s", big);
    const char *const longval[] = {"k", big, NULL};
    hookd_log_write(HOOKD_LOG_INFO, longval, "m");
    big[5000] = ' ';
    hookd_log_write(HOOKD_LOG_INFO, longval, "m");
    big[5000] = 'x';
    size_t len;
    char *out = cap_end(&len);
    CHECK(count_lines(out) == 3);
    char *l2 = strchr(out, '\n') + 1, *l3 = strchr(l2, '\n') + 1;
    CHECK(l2 - out <= LINE_MAX_BYTES && l2 - out > LINE_MAX_BYTES - 64);
    CHECK(strncmp(l2 - 4, "...\n", 4) == 0);
    CHECK(l3 - l2 <= LINE_MAX_BYTES && strncmp(l3 - 4, "...\n", 4) == 0);
    CHECK(strncmp(out + len - 5, "...\"\n", 5) == 0 && out + len - l3 <= LINE_MAX_BYTES);
    free(out);

    /* JSON: still valid, marked, at every length around the limit, with
     * escapes and multibyte characters straddling the cut */
    hookd_log_setup(HOOKD_LOG_DEBUG, HOOKD_LOG_JSON);
    static const char *const fills[] = {"x", "\"", "\xc3\xa9", "\xf0\x9f\x98\x80", "\x01"};
    static char msg[9000];
    int lines = 0;
    cap_start();
    for (size_t f = 0; f < sizeof(fills) / sizeof(fills[0]); f++) {
        size_t fl = strlen(fills[f]);
        for (size_t i = 0; i + fl < sizeof(msg); i += fl)
            memcpy(msg + i, fills[f], fl);
        for (size_t n = 8000; n < 8200; n++) {
            size_t cut = n / fl * fl;
            char save = msg[cut];
            msg[cut] = '\0';
            hookd_info("%s", msg);
            msg[cut] = save;
        }
    }
    out = cap_end(NULL);
    lines = count_lines(out);
    CHECK(lines == 5 * 200);
    /* these short enough to fit are not truncated, so check by hand */
    int bad = 0, trunc = 0;
    for (char *line = out, *nl; (nl = strchr(line, '\n')); line = nl + 1) {
        *nl = '\0';
        json_t *j = parse_line(line);
        if (!j || (size_t)(nl - line) + 1 > LINE_MAX_BYTES)
            bad++;
        else if (json_is_true(json_object_get(j, "truncated"))) {
            const char *m = jstr(j, "msg");
            trunc++;
            if (!m || strlen(m) < 3 || strcmp(m + strlen(m) - 3, "...") != 0)
                bad++;
        }
        json_decref(j);
    }
    CHECK(bad == 0);
    CHECK(trunc > 0 && trunc < lines);
    free(out);

    /* fields past the limit: values cut, keys never half written */
    cap_start();
    static char val[120];
    memset(val, 'v', sizeof(val) - 1);
    const char *many[2 * 200 + 1];
    static char keys[200][8];
    for (int i = 0; i < 200; i++) {
        snprintf(keys[i], sizeof(keys[i]), "k%03d", i);
        many[2 * i] = keys[i];
        many[2 * i + 1] = val;
    }
    many[400] = NULL;
    hookd_log_write(HOOKD_LOG_INFO, many, "many");
    const char *const bigkey[] = {big, "v", NULL};
    hookd_log_write(HOOKD_LOG_INFO, bigkey, "bigkey");
    out = cap_end(NULL);
    CHECK(check_json_lines(out, 1) == 2);
    free(out);

    /* the second field starts at every offset around the limit: it is
     * whole, or cut to "...", or absent, and the record says so */
    cap_start();
    for (size_t v = 8070; v < 8110; v++) {
        big[v] = '\0';
        const char *const nearly[] = {"a", big, "b", "c", NULL};
        hookd_log_write(HOOKD_LOG_INFO, nearly, "nearly");
        big[v] = 'x';
    }
    out = cap_end(NULL);
    CHECK(check_json_lines(out, -1) == 40);
    free(out);

    /* many fields in text: cut and marked */
    hookd_log_setup(HOOKD_LOG_DEBUG, HOOKD_LOG_TEXT);
    cap_start();
    hookd_log_write(HOOKD_LOG_INFO, many, "many");
    out = cap_end(&len);
    CHECK(count_lines(out) == 1 && len <= LINE_MAX_BYTES);
    CHECK(len > 4 && strcmp(out + len - 4, "...\n") == 0);
    free(out);
}

static void test_errno(void)
{
    hookd_log_setup(HOOKD_LOG_INFO, HOOKD_LOG_TEXT);
    cap_start();
    errno = EAGAIN;
    hookd_info("x");
    int e = errno;
    char *out = cap_end(NULL);
    CHECK(e == EAGAIN);
    free(out);
}

#define NTHREADS 4
#define PER_THREAD 500

static void *writer(void *arg)
{
    char id[16];
    snprintf(id, sizeof(id), "%d", (int)(intptr_t)arg);
    char pad[1500];
    memset(pad, 'p', sizeof(pad) - 1);
    pad[sizeof(pad) - 1] = '\0';
    for (int i = 0; i < PER_THREAD; i++) {
        const char *const f[] = {"thread", id, "pad", pad, NULL};
        hookd_log_write(HOOKD_LOG_INFO, f, "record %d", i);
    }
    return NULL;
}

static void test_threads(void)
{
    pthread_t t[NTHREADS];
    hookd_log_setup(HOOKD_LOG_INFO, HOOKD_LOG_JSON);
    cap_start();
    for (intptr_t i = 0; i < NTHREADS; i++)
        pthread_create(&t[i], NULL, writer, (void *)i);
    for (int i = 0; i < NTHREADS; i++)
        pthread_join(t[i], NULL);
    char *out = cap_end(NULL);
    CHECK(check_json_lines(out, 0) == NTHREADS * PER_THREAD);
    free(out);
}

int main(void)
{
    test_parse();
    test_text();
    test_json();
    test_truncation();
    test_errno();
    test_threads();
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
