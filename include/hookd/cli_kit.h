/* cli_kit.h - what the CLI's commands share (cli_kit.c): the flag parser,
 * the error line, quoting, JSON output, Redis calls, secrets and the
 * command table. For the CLI's files only; no other module prints. */
#ifndef HOOKD_CLI_KIT_H
#define HOOKD_CLI_KIT_H

#include <stddef.h>

#include "hookd/config.h"

struct redisContext;
struct redisReply;
struct json_t;

/* One command or subcommand: its word, what runs it, and its help, which
 * `--help` anywhere among its words prints. */
struct hookd_cli_cmd {
    const char *name;                                     /* the word */
    int (*fn)(const struct hookd_config *, int, char **); /* argv[0] is the word */
    const char *help; /* usage and every flag; NULL: the command tells its own */
};

/* Runs the row of table (n rows) that argv[0] names; --help among its words
 * prints its help instead. what prefixes errors ("webhook: ", or ""). Returns
 * the exit code: 0, 1 runtime, 2 usage. */
int hookd_cli_run_table(const struct hookd_cli_cmd *table, size_t n, const char *what,
                        const struct hookd_config *cfg, int argc, char **argv);

/* One flag of a subcommand. takes_value 0 is a switch. After parsing, value
 * is the flag's value, "" for a switch that was given, NULL when absent. */
struct hookd_cli_opt {
    const char *name;  /* with its dashes: "--url" */
    int takes_value;   /* 1 when the flag needs a value */
    const char *value; /* result */
};

/* Parses argv[0..argc) into opts (nopts of them) and up to maxpos positional
 * words (pos, *npos). "--name value" and "--name=value" both work; "--" ends
 * the flags; "-" is a positional word. cmd names the subcommand in errors
 * ("webhook add"). Returns 0, or 2 after printing the reason. */
int hookd_cli_parse(const char *cmd, int argc, char **argv, struct hookd_cli_opt *opts,
                    size_t nopts, const char **pos, int maxpos, int *npos);

/* Prints "hookd: <reason>" on standard error. Returns code, for
 * `return hookd_cli_err(1, "...")`. */
int hookd_cli_err(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Copies at most 64 bytes of untrusted s into out (HOOKD_CLI_QUOTE_LEN bytes)
 * with control and non-ASCII bytes as '?', for quoting it in an error. */
#define HOOKD_CLI_QUOTE_LEN 72
const char *hookd_cli_quote(const char *s, char out[HOOKD_CLI_QUOTE_LEN]);

/* Sends one command (argc words; lens NULL means the words are C strings)
 * and returns its reply. A transport failure or an error reply gives NULL
 * with the reason in errbuf. The caller frees the reply. */
struct redisReply *hookd_cli_command(struct redisContext *c, int argc, const char **argv,
                                     const size_t *lens, char *errbuf);

/* The reason of a failed context, with a read timeout said as such. */
const char *hookd_cli_redis_errstr(const struct redisContext *c);

/* Parses a --count value within [1, max]; prints the reason and returns 2 on
 * failure, 0 on success. */
int hookd_cli_count(const char *cmd, const char *s, long long max, long long *out);

/* Reads a secret given as --secret value ("-": read standard input) or as
 * --secret-file file (at most one of the two is not NULL) into out (cap
 * bytes), dropping one line ending; cmd names the subcommand in errors,
 * which never quote the secret. Returns 0, or 2 after printing the reason. */
int hookd_cli_read_secret(const char *cmd, const char *value, const char *file, char *out,
                          size_t cap);
/* Writes one line of JSON (compact, in insertion order) on standard output
 * and releases j. Returns 0, or 1 after printing the reason. */
int hookd_cli_print_json(struct json_t *j);

#endif
