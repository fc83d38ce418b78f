/* test_cli.c - the subcommand flag parser and the error quoting of the CLI. */
#include <stdio.h>
#include <string.h>

#include "hookd/cli_kit.h"

#include "check.h"

enum { URL, JSON, COUNT, NOPTS };

/* Parses the NULL-terminated words with a fixed table: --url (value),
 * --json (switch), --count (value), and up to 2 positional words. */
static int parse(struct hookd_cli_opt *o, const char **pos, int *npos, char **words)
{
    struct hookd_cli_opt init[NOPTS] = {
        [URL] = {"--url", 1, NULL}, [JSON] = {"--json", 0, NULL}, [COUNT] = {"--count", 1, NULL}};
    int argc = 0;
    while (words[argc])
        argc++;
    memcpy(o, init, sizeof(init));
    return hookd_cli_parse("test", argc, words, o, NOPTS, pos, 2, npos);
}

static void test_parse_ok(void)
{
    struct hookd_cli_opt o[NOPTS];
    const char *pos[2];
    int npos;

    char *a[] = {"ID", "--url", "https://x", "--json", "--count=5", NULL};
    CHECK(parse(o, pos, &npos, a) == 0);
    CHECK(npos == 1 && strcmp(pos[0], "ID") == 0);
    CHECK(o[URL].value && strcmp(o[URL].value, "https://x") == 0);
    CHECK(o[JSON].value && o[JSON].value[0] == '\0');
    CHECK(o[COUNT].value && strcmp(o[COUNT].value, "5") == 0);

    /* A value may start with dashes, and "=" keeps the rest verbatim. */
    char *b[] = {"--url", "--json", "--count=a=b", NULL};
    CHECK(parse(o, pos, &npos, b) == 0);
    CHECK(npos == 0 && strcmp(o[URL].value, "--json") == 0 && o[JSON].value == NULL);
    CHECK(strcmp(o[COUNT].value, "a=b") == 0);

    /* An empty value after "=" is a value. */
    char *c[] = {"--url=", NULL};
    CHECK(parse(o, pos, &npos, c) == 0 && o[URL].value && o[URL].value[0] == '\0');

    /* "-" is a word; after "--" everything is. */
    char *d[] = {"-", "--", "--json", NULL};
    CHECK(parse(o, pos, &npos, d) == 0);
    CHECK(npos == 2 && strcmp(pos[0], "-") == 0 && strcmp(pos[1], "--json") == 0);
    CHECK(o[JSON].value == NULL);

    /* A previous parse leaves nothing behind. */
    char *e[] = {NULL};
    CHECK(parse(o, pos, &npos, e) == 0 && npos == 0 && o[URL].value == NULL);
}

static void test_parse_errors(void)
{
    struct hookd_cli_opt o[NOPTS];
    const char *pos[2];
    int npos;

    char *unknown[] = {"--foo", NULL};
    CHECK(parse(o, pos, &npos, unknown) == 2);
    char *unknown_eq[] = {"--foo=1", NULL};
    CHECK(parse(o, pos, &npos, unknown_eq) == 2);
    char *prefix[] = {"--ur", "x", NULL}; /* no prefix matching */
    CHECK(parse(o, pos, &npos, prefix) == 2);
    char *longer[] = {"--urls", "x", NULL};
    CHECK(parse(o, pos, &npos, longer) == 2);
    char *single[] = {"-u", NULL};
    CHECK(parse(o, pos, &npos, single) == 2);
    char *missing[] = {"--url", NULL};
    CHECK(parse(o, pos, &npos, missing) == 2);
    char *twice[] = {"--url", "a", "--url=b", NULL};
    CHECK(parse(o, pos, &npos, twice) == 2);
    char *switch_value[] = {"--json=1", NULL};
    CHECK(parse(o, pos, &npos, switch_value) == 2);
    char *too_many[] = {"a", "b", "c", NULL};
    CHECK(parse(o, pos, &npos, too_many) == 2);

    /* A switched-off flag (NULL name) is unknown. */
    struct hookd_cli_opt off[1] = {{NULL, 1, NULL}};
    char *w[] = {"--url", "x"};
    CHECK(hookd_cli_parse("test", 2, w, off, 1, pos, 2, &npos) == 2);
}

static void test_count(void)
{
    long long n = 0;
    CHECK(hookd_cli_count("t", "1", 10, &n) == 0 && n == 1);
    CHECK(hookd_cli_count("t", "10", 10, &n) == 0 && n == 10);
    CHECK(hookd_cli_count("t", "11", 10, &n) == 2);
    CHECK(hookd_cli_count("t", "0", 10, &n) == 2);
    CHECK(hookd_cli_count("t", "-1", 10, &n) == 2);
    CHECK(hookd_cli_count("t", "5x", 10, &n) == 2);
    CHECK(hookd_cli_count("t", "", 10, &n) == 2);
    CHECK(hookd_cli_count("t", " 5", 10, &n) == 2);
}

static void test_quote(void)
{
    char q[HOOKD_CLI_QUOTE_LEN];
    CHECK(strcmp(hookd_cli_quote("wh_1", q), "wh_1") == 0);
    CHECK(strcmp(hookd_cli_quote("a\033[2Jb\n\xc3\xa9", q), "a?[2Jb???") == 0);
    char long_in[200];
    memset(long_in, 'x', sizeof(long_in) - 1);
    long_in[sizeof(long_in) - 1] = '\0';
    hookd_cli_quote(long_in, q);
    CHECK(strlen(q) == 67 && strcmp(q + 64, "...") == 0);
    long_in[64] = '\0'; /* exactly 64 bytes: no ellipsis */
    CHECK(strlen(hookd_cli_quote(long_in, q)) == 64);
    CHECK(hookd_cli_quote("", q)[0] == '\0');
}

int main(void)
{
    test_parse_ok();
    test_parse_errors();
    test_count();
    test_quote();
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
