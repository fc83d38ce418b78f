/* cli.c - the top-level command table, `hookd help` and the CLI's entry
 * point. Each command lives in its own file (cli_webhook.c, admin.c); the
 * helpers they share are cli_kit.c's. */
#include "hookd/cli.h"

#include <stdio.h>
#include <string.h>

#include "hookd/cli_kit.h"

static const struct hookd_cli_cmd COMMANDS[] = {
    {"webhook", hookd_cli_webhook, NULL},
    {"enqueue", hookd_cli_enqueue,
     "usage: hookd enqueue EVENT [DATA_JSON] [--workspace W] [--webhook ID] [--id ID]\n"
     "       hookd enqueue -\n"
     "Pushes one envelope (DATA_JSON defaults to {}), or every line of standard input\n"
     "as one, after checking it as the worker will; a timestamp is added when none is\n"
     "given.\n"
     "  --workspace W          the tenant the event belongs to\n"
     "  --webhook ID           only this webhook (it must exist)\n"
     "  --id ID                the event's id (default: a hash of the envelope)\n"},
    {"stats", hookd_cli_stats,
     "usage: hookd stats [--json] [--watch]\n"
     "Queue depths, the oldest waiting event's age and the counters.\n"
     "  --json                 one JSON object\n"
     "  --watch                again every second until Ctrl-C, with rates\n"},
    {"dead", hookd_cli_dead,
     "usage: hookd dead list [--count N] | replay [--count N] | purge\n"
     "  list                   the newest dead records, one JSON line each (default 20)\n"
     "  replay                 puts records back as work, oldest first (default all)\n"
     "  purge                  deletes every record\n"},
    {"verify", hookd_cli_verify,
     "usage: hookd verify [--signing twenty|standard] --secret S --timestamp T\n"
     "                    --signature SIG [--id ID] [FILE|-]\n"
     "Checks a delivery's signature over the body's raw bytes (FILE, or standard input);\n"
     "prints ok and exits 0, or exits 1.\n"
     "  --signing S            twenty (default: X-Twenty-Webhook-Signature, hex) or\n"
     "                         standard (webhook-signature, v1,<base64>, needs --id)\n"
     "  --secret S             the webhook's secret (--secret-file PATH reads it)\n"
     "  --timestamp T          the timestamp header as sent\n"
     "  --signature SIG        the signature header as sent\n"
     "  --id ID                the webhook-id header (standard)\n"},
};

static const char USAGE_ALL[] =
    "usage: hookd run\n"
    "       hookd webhook add|list|show|update|delete|rotate-secret|log ...\n"
    "       hookd enqueue EVENT [DATA_JSON] [--workspace W] [--webhook ID] [--id ID]\n"
    "       hookd enqueue -\n"
    "       hookd stats [--json] [--watch]\n"
    "       hookd dead list [--count N] | replay [--count N] | purge\n"
    "       hookd verify [--signing S] --secret S --timestamp T --signature SIG [FILE]\n"
    "`hookd COMMAND --help` explains each; every option of `hookd --help` may be given\n"
    "too; see docs/cli.md.\n";

int hookd_cli_main(const struct hookd_config *cfg, int argc, char **argv)
{
    int code;

    if (argc < 1)
        return hookd_cli_err(2, "missing command; try `hookd help`");
    if (strcmp(argv[0], "help") == 0) {
        fputs(USAGE_ALL, stdout);
        code = 0;
    } else {
        code = hookd_cli_run_table(COMMANDS, sizeof(COMMANDS) / sizeof(COMMANDS[0]), "", cfg, argc,
                                   argv);
    }
    if (fflush(stdout) != 0 || ferror(stdout))
        return hookd_cli_err(1, "cannot write to standard output");
    return code;
}
