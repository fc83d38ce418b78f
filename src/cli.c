/* cli.c - the top-level command table, `hookd help` and the CLI's entry
 * point. Each command lives in its own file (cli_webhook.c, cli_backlog.c,
 * admin.c); the helpers they share are cli_kit.c's. */
#include "hookd/cli.h"

#include <stdio.h>
#include <string.h>

#include "hookd/cli_kit.h"

static const struct hookd_cli_cmd COMMANDS[] = {
    {"webhook", NULL, "SUBCOMMAND ...", "Adds, lists, changes and deletes webhooks.\n", NULL,
     hookd_cli_webhook_subs},
    {"enqueue", hookd_cli_enqueue, "EVENT [DATA_JSON] [--workspace W] [--webhook ID] [--id ID] | -",
     "Pushes one envelope (DATA_JSON defaults to {}), or with - every line of standard\n"
     "input as one, after checking it as the worker will; a timestamp is added when\n"
     "none is given.\n",
     hookd_cli_enqueue_flags, NULL},
    {"stats", hookd_cli_stats, "[--json] [--watch]",
     "Queue depths, the oldest waiting event's age and the counters.\n", hookd_cli_stats_flags,
     NULL},
    {"dead", NULL, "list|replay|purge ...",
     "The dead records: deliveries that ran out of attempts, and envelopes the worker\n"
     "refused. FILTER is --id, --webhook, --reason, --since and --until.\n",
     NULL, hookd_cli_dead_subs},
    {"retry", NULL, "list|now|delete ...",
     "Deliveries waiting for their next attempt: list them, hurry one, drop one.\n", NULL,
     hookd_cli_retry_subs},
    {"verify", hookd_cli_verify,
     "[--signing S] --secret S --timestamp T --signature SIG [--id ID] [FILE|-]",
     "Checks a delivery's signature over the body's raw bytes (FILE, or standard input);\n"
     "prints ok and exits 0, or exits 1.\n",
     hookd_cli_verify_flags, NULL},
    {NULL, NULL, NULL, NULL, NULL, NULL}};

int hookd_cli_main(const struct hookd_config *cfg, int argc, char **argv)
{
    int code;

    if (argc < 1)
        return hookd_cli_err(2, "missing command; try `hookd help`");
    /* Commands that serve every namespace; the rest act on one. */
    static const char *const ALL_NAMESPACES[] = {"help", "stats", "enqueue", "verify"};
    char q[HOOKD_CLI_QUOTE_LEN];
    int all = 0;
    for (size_t i = 0; i < sizeof(ALL_NAMESPACES) / sizeof(ALL_NAMESPACES[0]); i++)
        all |= strcmp(argv[0], ALL_NAMESPACES[i]) == 0;
    if (!all && hookd_config_count_namespaces(cfg) > 1)
        return hookd_cli_err(2,
                             "%s acts on one namespace, and --prefix/--shards name %d: give "
                             "--prefix NAME",
                             hookd_cli_quote(argv[0], q), hookd_config_count_namespaces(cfg));
    if (strcmp(argv[0], "help") == 0)
        code = hookd_cli_help(COMMANDS, argc - 1, argv + 1);
    else
        code = hookd_cli_run_table(COMMANDS, "", cfg, argc, argv);
    if (fflush(stdout) != 0 || ferror(stdout))
        return hookd_cli_err(1, "cannot write to standard output");
    return code;
}
