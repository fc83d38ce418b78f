/* cli_kit.h - what the CLI's commands share (cli_kit.c): the flag parser,
 * the error line, quoting, JSON output, Redis calls, secrets and the
 * command table. For the CLI's files only; no other module prints. */
#ifndef HOOKD_CLI_KIT_H
#define HOOKD_CLI_KIT_H

#include <stddef.h>

#include "hookd/config.h"

struct json_t;

struct hookd_cli_opt;

/* One flag of a command, as its help shows it and its parser knows it. */
struct hookd_cli_flag {
    const char *name;    /* with its dashes: "--url"; NULL ends a list */
    const char *value;   /* the value's name ("URL"), NULL for a switch */
    const char *meaning; /* one line for people */
};

/* One row of a command table; a list of rows ends with a NULL name. */
struct hookd_cli_cmd {
    const char *name;                                     /* the word */
    int (*fn)(const struct hookd_config *, int, char **); /* argv[0] is the word; NULL: subs */
    const char *synopsis;                                 /* the arguments after the words, or "" */
    const char *about;                  /* what it does, lines ending in newlines */
    const struct hookd_cli_flag *flags; /* NULL or ended by a NULL name */
    const struct hookd_cli_cmd *subs;   /* NULL or ended by a NULL name */
};

/* Runs the row of table that argv[0] names (prefix names the table's
 * parent, "" at the top or "webhook"): a row with subs and no fn runs the
 * sub argv[1] names; --help or -h among the words prints the help of the
 * deepest row named instead. Returns the exit code: 0, 1 runtime, 2 usage. */
int hookd_cli_run_table(const struct hookd_cli_cmd *table, const char *prefix,
                        const struct hookd_config *cfg, int argc, char **argv);

/* `hookd help [COMMAND [SUB]]`: argv holds the words after "help". Prints
 * on standard output; returns 0, or 2 for a word no row has. */
int hookd_cli_help(const struct hookd_cli_cmd *table, int argc, char **argv);

/* Fills opts (cap of them) from flags, values cleared, in flags' order.
 * Returns how many. */
size_t hookd_cli_opts_from(const struct hookd_cli_flag *flags, struct hookd_cli_opt *opts,
                           size_t cap);

/* Whether flags holds a flag called name. */
int hookd_cli_flags_has(const struct hookd_cli_flag *flags, const char *name);

/* One column of a list: its header and the member of each JSON object
 * shown in it. */
struct hookd_cli_column {
    const char *header; /* "URL" */
    const char *key;    /* "url" */
    int width;          /* the most bytes shown; longer cells end in "..." */
};

/* Prints the objects of array a: one JSON line each (json set, or standard
 * output not a terminal), else an aligned table of cols (ncols) under a
 * header row, control and non-ASCII bytes shown as '?'. Does not release a.
 * Returns 0, or 1 after printing the reason. */
int hookd_cli_print_list(struct json_t *a, const struct hookd_cli_column *cols, size_t ncols,
                         int json);

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
