/* cli_kit.c - what every CLI command shares: the flag parser, the error
 * line, quoting of untrusted text, JSON output, Redis calls, secrets and the
 * command-table runner. It calls no command. */
#include "hookd/cli_kit.h"

#include <errno.h>
#include <hiredis/hiredis.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hookd/redis.h"

int hookd_cli_err(int code, const char *fmt, ...)
{
    char line[HOOKD_ERRLEN * 2];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    fflush(stdout);
    fprintf(stderr, "hookd: %s\n", line);
    return code;
}

const char *hookd_cli_quote(const char *s, char out[HOOKD_CLI_QUOTE_LEN])
{
    size_t i;
    for (i = 0; s[i] && i < 64; i++) {
        unsigned char ch = (unsigned char)s[i];
        out[i] = (ch < 0x20 || ch > 0x7e) ? '?' : (char)ch;
    }
    if (s[i] && i + 3 < HOOKD_CLI_QUOTE_LEN) {
        memcpy(out + i, "...", 3);
        i += 3;
    }
    out[i] = '\0';
    return out;
}

/* Finds the option called name (name_len bytes, "--url"), or NULL. Options
 * whose name is NULL are switched off. */
static struct hookd_cli_opt *find_opt(struct hookd_cli_opt *opts, size_t nopts, const char *name,
                                      size_t name_len)
{
    for (size_t i = 0; i < nopts; i++) {
        if (opts[i].name && strlen(opts[i].name) == name_len &&
            memcmp(opts[i].name, name, name_len) == 0)
            return &opts[i];
    }
    return NULL;
}

int hookd_cli_parse(const char *cmd, int argc, char **argv, struct hookd_cli_opt *opts,
                    size_t nopts, const char **pos, int maxpos, int *npos)
{
    char q[HOOKD_CLI_QUOTE_LEN];
    int flags_done = 0;

    *npos = 0;
    for (size_t i = 0; i < nopts; i++)
        opts[i].value = NULL;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (flags_done || a[0] != '-' || strcmp(a, "-") == 0) {
            if (*npos >= maxpos)
                return hookd_cli_err(2, "%s: unexpected argument '%s'", cmd, hookd_cli_quote(a, q));
            pos[(*npos)++] = a;
            continue;
        }
        if (strcmp(a, "--") == 0) {
            flags_done = 1;
            continue;
        }
        const char *eq = strchr(a, '=');
        size_t name_len = eq ? (size_t)(eq - a) : strlen(a);
        struct hookd_cli_opt *o = a[1] == '-' ? find_opt(opts, nopts, a, name_len) : NULL;
        if (!o) {
            char name[HOOKD_CLI_QUOTE_LEN];
            hookd_cli_quote(a, name);
            if (name_len < sizeof(name))
                name[name_len] = '\0';
            return hookd_cli_err(2, "%s: unknown option %s", cmd, name);
        }
        if (o->value)
            return hookd_cli_err(2, "%s: %s given twice", cmd, o->name);
        if (!o->takes_value) {
            if (eq)
                return hookd_cli_err(2, "%s: %s takes no value", cmd, o->name);
            o->value = "";
        } else if (eq) {
            o->value = eq + 1;
        } else if (i + 1 < argc) {
            o->value = argv[++i];
        } else {
            return hookd_cli_err(2, "%s: %s needs a value", cmd, o->name);
        }
    }
    return 0;
}

int hookd_cli_count(const char *cmd, const char *s, long long max, long long *out)
{
    int64_t v;
    if (hookd_parse_i64(s, 1, max, &v) != 0)
        return hookd_cli_err(2, "%s: --count must be a whole number from 1 to %lld", cmd, max);
    *out = v;
    return 0;
}

int hookd_cli_print_json(json_t *j)
{
    char *s = j ? json_dumps(j, JSON_PRESERVE_ORDER | JSON_COMPACT) : NULL;
    json_decref(j);
    if (!s)
        return hookd_cli_err(1, "out of memory");
    fputs(s, stdout);
    fputc('\n', stdout);
    free(s);
    return 0;
}

const char *hookd_cli_redis_errstr(const struct redisContext *c)
{
    return hookd_redis_errstr(c);
}

struct redisReply *hookd_cli_command(struct redisContext *c, int argc, const char **argv,
                                     const size_t *lens, char *errbuf)
{
    return hookd_redis_command(c, argc, argv, lens, errbuf);
}

int hookd_cli_read_secret(const char *cmd, const char *value, const char *file, char *out,
                          size_t cap)
{
    char q[HOOKD_CLI_QUOTE_LEN];
    struct hookd_buf b;
    int code = 0;
    if (value && file)
        return hookd_cli_err(2, "%s: give --secret or --secret-file, not both", cmd);
    if (value && strcmp(value, "-") != 0) {
        if (strlen(value) >= cap)
            return hookd_cli_err(2, "%s: --secret is over %zu bytes", cmd, cap - 1);
        hookd_str_copy(out, cap, value);
        return 0;
    }
    FILE *f = value ? stdin : fopen(file, "rb");
    if (!f)
        return hookd_cli_err(2, "%s: --secret-file %s: %s", cmd, hookd_cli_quote(file, q),
                             strerror(errno));
    hookd_buf_init(&b, cap - 1);
    char chunk[512];
    size_t n;
    while (code == 0 && (n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        if (hookd_buf_add(&b, chunk, n) != 0)
            code = hookd_cli_err(2, "%s: the secret in %s is over %zu bytes", cmd,
                                 value ? "standard input" : hookd_cli_quote(file, q), cap - 1);
    }
    if (code == 0 && ferror(f))
        code = hookd_cli_err(2, "%s: cannot read the secret: %s", cmd, strerror(errno));
    if (f != stdin)
        fclose(f);
    /* One line ending is the file's, not the secret's. */
    size_t len = b.len;
    if (len && b.data[len - 1] == '\n')
        len--;
    if (len && b.data[len - 1] == '\r')
        len--;
    if (code == 0 && len == 0)
        code = hookd_cli_err(2, "%s: the secret is empty", cmd);
    if (code == 0 && memchr(b.data, '\0', len))
        code = hookd_cli_err(2, "%s: the secret holds a NUL byte", cmd);
    if (code == 0) {
        memcpy(out, b.data, len);
        out[len] = '\0';
    }
    if (b.data)
        explicit_bzero(b.data, b.len);
    hookd_buf_free(&b);
    explicit_bzero(chunk, sizeof(chunk));
    return code;
}

int hookd_cli_run_table(const struct hookd_cli_cmd *table, size_t n, const char *what,
                        const struct hookd_config *cfg, int argc, char **argv)
{
    char q[HOOKD_CLI_QUOTE_LEN];
    for (size_t i = 0; i < n; i++) {
        if (strcmp(argv[0], table[i].name) != 0)
            continue;
        for (int k = 1; table[i].help && k < argc && strcmp(argv[k], "--") != 0; k++) {
            if (strcmp(argv[k], "--help") == 0 || strcmp(argv[k], "-h") == 0) {
                fputs(table[i].help, stdout);
                fputs("Every option of `hookd --help` may be given too; see docs/cli.md.\n",
                      stdout);
                return 0;
            }
        }
        return table[i].fn(cfg, argc, argv);
    }
    return hookd_cli_err(2, "%sunknown %s '%s'; try `hookd help`", what[0] ? what : "",
                         what[0] ? "subcommand" : "command", hookd_cli_quote(argv[0], q));
}
