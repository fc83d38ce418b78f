/* cli.h - the administrative subcommands of docs/cli.md (all but `run`).
 *
 * The CLI is a user interface: unlike the other modules it prints, results
 * on standard output and "hookd: <one-line reason>" on standard error. It
 * talks to Redis with hiredis' synchronous API. */
#ifndef HOOKD_CLI_H
#define HOOKD_CLI_H

#include <stddef.h>

#include "hookd/cli_kit.h"
#include "hookd/config.h"

/* Runs one admin subcommand (argv[0] is the subcommand word, e.g. "webhook";
 * config options were already removed from argv). Returns the process exit
 * code: 0, 1 runtime failure, 2 usage. Prints results on stdout and
 * "hookd: <one-line reason>" on stderr. */
int hookd_cli_main(const struct hookd_config *cfg, int argc, char **argv);

/* The rows of `hookd webhook`'s subcommands (cli_webhook.c), ended by a
 * NULL name. */
extern const struct hookd_cli_cmd hookd_cli_webhook_subs[];

/* The rows of `hookd dead` and `hookd retry` (cli_backlog.c), likewise. */
extern const struct hookd_cli_cmd hookd_cli_dead_subs[];
extern const struct hookd_cli_cmd hookd_cli_retry_subs[];

/* The command entry points cli.c's table runs (admin.c); argv[0] is the
 * command word. Each parses the flags of its list, which its row's help
 * shows (ended by a NULL name). */
extern const struct hookd_cli_flag hookd_cli_enqueue_flags[];
extern const struct hookd_cli_flag hookd_cli_stats_flags[];
extern const struct hookd_cli_flag hookd_cli_verify_flags[];
int hookd_cli_enqueue(const struct hookd_config *cfg, int argc, char **argv);
int hookd_cli_stats(const struct hookd_config *cfg, int argc, char **argv);
int hookd_cli_verify(const struct hookd_config *cfg, int argc, char **argv);

#endif
