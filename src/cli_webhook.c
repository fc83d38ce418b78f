/* cli_webhook.c - the flags, messages and printing of `hookd webhook`.
 * What a webhook command does to Redis is catalog.h's, which the API uses
 * too. */
#include "hookd/cli.h"

#include <errno.h>
#include <hiredis/hiredis.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hookd/catalog.h"
#include "hookd/cli_kit.h"
#include "hookd/envelope.h"
#include "hookd/net.h"
#include "hookd/redis.h"
#include "hookd/webhook.h"

#define WH_LOG_COUNT_MAX 100000

/* Checks a --webhook-timeout style value into out as decimal ms. */
static int duration_opt(const char *cmd, const char *flag, const char *s, int64_t *ms)
{
    if (hookd_duration_parse(s, ms) != 0)
        return hookd_cli_err(2, "%s: %s: expected a duration like 500ms, 10s or 5m", cmd, flag);
    if (*ms > HOOKD_WEBHOOK_TIMEOUT_MAX)
        return hookd_cli_err(2, "%s: %s: at most 1h", cmd, flag);
    return 0;
}

/* The webhook's own timeout from its flag o (--webhook-timeout) or, in a
 * subcommand that has that flag, from the global option called global
 * (--timeout) when it was given on this command line, whose value cfg
 * holds as global_ms: into out as decimal ms and *ms. Returns 0 or 2. */
static int webhook_timeout(const struct hookd_config *cfg, const char *cmd,
                           const struct hookd_cli_opt *o, const char *global, int64_t global_ms,
                           int64_t *ms)
{
    if (!o->name || !hookd_config_from_flag(cfg, global))
        return o->value ? duration_opt(cmd, o->name, o->value, ms) : 0;
    if (o->value)
        return hookd_cli_err(2, "%s: give --%s or %s, not both", cmd, global, o->name);
    if (global_ms > HOOKD_WEBHOOK_TIMEOUT_MAX)
        return hookd_cli_err(2, "%s: --%s: at most 1h", cmd, global);
    *ms = global_ms;
    return 0;
}

enum {
    O_URL,
    O_SECRET,
    O_SECRET_FILE,
    O_EVENTS,
    O_WORKSPACE,
    O_DESC,
    O_SIGNING,
    O_TIMEOUT,
    O_CONNECT,
    O_ENABLED,
    O_ID,
    O_SHOW,
    O_NOPTS
};

/* Reads the flags shared by add, update and rotate-secret into ch, the
 * secret into secret (cap bytes); what the record they make must be is
 * judged by the catalog, on the whole record. Returns 0 or 2. */
static int wh_change_flags(const struct hookd_config *cfg, const char *cmd,
                           const struct hookd_cli_opt *o, struct hookd_catalog_change *ch,
                           char *secret, size_t cap)
{
    int code;

    hookd_catalog_change_init(ch);
    ch->url = o[O_URL].value;
    if (o[O_SECRET].value || o[O_SECRET_FILE].value) {
        if ((code = hookd_cli_read_secret(cmd, o[O_SECRET].value, o[O_SECRET_FILE].value, secret,
                                          cap)) != 0)
            return code;
        ch->secret = secret;
    }
    ch->events = o[O_EVENTS].value;
    ch->workspace = o[O_WORKSPACE].value;
    ch->description = o[O_DESC].value;
    ch->signing = o[O_SIGNING].value;
    if ((code = webhook_timeout(cfg, cmd, &o[O_TIMEOUT], "timeout", cfg->timeout_ms,
                                &ch->timeout_ms)) != 0 ||
        (code = webhook_timeout(cfg, cmd, &o[O_CONNECT], "connect-timeout", cfg->connect_timeout_ms,
                                &ch->connect_timeout_ms)) != 0)
        return code;
    if (o[O_ENABLED].value) {
        if (strcmp(o[O_ENABLED].value, "true") == 0)
            ch->enabled = 1;
        else if (strcmp(o[O_ENABLED].value, "false") == 0)
            ch->enabled = 0;
        else
            return hookd_cli_err(2, "%s: --enabled must be true or false", cmd);
    }
    return 0;
}

/* "--" when the reason err starts with a record field the CLI sets by the
 * flag of the same name ("events: empty" is --events's fault), else "". */
static const char *wh_flag_of(const char *err)
{
    static const char *const fields[] = {"url",       "secret",      "events",
                                         "workspace", "description", "signing"};
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        size_t n = strlen(fields[i]);
        if (strncmp(err, fields[i], n) == 0 && err[n] == ':')
            return "--";
    }
    return "";
}

/* Makes change ch to webhook id in mode ("add" or "update") and prints the
 * webhook. Returns the exit code: 2 when the change is refused as input. */
static int wh_put(const struct hookd_config *cfg, const char *cmd, const char *mode, const char *id,
                  const struct hookd_catalog_change *ch, int show_secret)
{
    char err[HOOKD_ERRLEN];
    json_t *j = NULL;
    redisContext *c = hookd_redis_connect(cfg, err);
    if (!c)
        return hookd_cli_err(1, "%s", err);
    int rc = hookd_catalog_put(c, cfg, mode, id, ch, show_secret, &j, err);
    redisFree(c);
    if (rc == HOOKD_EINVAL)
        return hookd_cli_err(2, "%s: %s%s", cmd, wh_flag_of(err), err);
    if (rc)
        return hookd_cli_err(1, "%s", err);
    return hookd_cli_print_json(j);
}

/* Defines the flag table of add, update and rotate-secret; O_* index it.
 * --timeout and --connect-timeout are the webhook's own here (see
 * hookd_config_flag_given()), as are their longer names. */
static void wh_opts(struct hookd_cli_opt o[O_NOPTS])
{
    static const struct hookd_cli_opt init[O_NOPTS] = {
        [O_URL] = {"--url", 1, NULL},
        [O_SECRET] = {"--secret", 1, NULL},
        [O_SECRET_FILE] = {"--secret-file", 1, NULL},
        [O_EVENTS] = {"--events", 1, NULL},
        [O_WORKSPACE] = {"--workspace", 1, NULL},
        [O_DESC] = {"--description", 1, NULL},
        [O_SIGNING] = {"--signing", 1, NULL},
        [O_TIMEOUT] = {"--webhook-timeout", 1, NULL},
        [O_CONNECT] = {"--webhook-connect-timeout", 1, NULL},
        [O_ENABLED] = {"--enabled", 1, NULL},
        [O_ID] = {"--id", 1, NULL},
        [O_SHOW] = {"--show-secret", 0, NULL},
    };
    memcpy(o, init, sizeof(init));
}

static int wh_add(const struct hookd_config *cfg, int argc, char **argv)
{
    struct hookd_cli_opt o[O_NOPTS];
    struct hookd_catalog_change ch;
    char secret[4 * HOOKD_WEBHOOK_SECRET_MAX], id[HOOKD_ID_MAX + 1];
    const char *pos[1];
    int npos, code;

    wh_opts(o);
    o[O_ENABLED].name = NULL; /* a new webhook is enabled */
    o[O_SHOW].name = NULL;    /* and its secret always shown */
    if ((code = hookd_cli_parse("webhook add", argc - 1, argv + 1, o, O_NOPTS, pos, 0, &npos)) != 0)
        return code;
    if (!o[O_URL].value)
        return hookd_cli_err(2, "webhook add: --url is required");
    if ((code = wh_change_flags(cfg, "webhook add", o, &ch, secret, sizeof(secret))) != 0)
        goto out;
    if (o[O_ID].value) {
        if (!hookd_id_valid(o[O_ID].value)) {
            code = hookd_cli_err(2, "webhook add: --id must be 1..%d bytes of [A-Za-z0-9_.:-]",
                                 HOOKD_ID_MAX);
            goto out;
        }
        hookd_str_copy(id, sizeof(id), o[O_ID].value);
    } else if (hookd_catalog_id_new(id) != 0) {
        code = hookd_cli_err(1, "cannot draw random bytes");
        goto out;
    }
    ch.draw_secret = !ch.secret;
    if (!ch.events)
        ch.events = "*.*";
    if (!ch.signing)
        ch.signing = "twenty";
    if (!ch.workspace)
        ch.workspace = "";
    if (!ch.description)
        ch.description = "";
    ch.enabled = 1;
    code = wh_put(cfg, "webhook add", "add", id, &ch, 1);
out:
    explicit_bzero(secret, sizeof(secret));
    return code;
}

static int wh_update(const struct hookd_config *cfg, int argc, char **argv)
{
    struct hookd_cli_opt o[O_NOPTS];
    struct hookd_catalog_change ch;
    const char *pos[1];
    int npos, code;

    wh_opts(o);
    o[O_SECRET].name = NULL; /* the secret changes with rotate-secret only */
    o[O_SECRET_FILE].name = NULL;
    o[O_ID].name = NULL;
    if ((code = hookd_cli_parse("webhook update", argc - 1, argv + 1, o, O_NOPTS, pos, 1, &npos)) !=
        0)
        return code;
    if (npos != 1)
        return hookd_cli_err(2, "webhook update: expected ID");
    if (!hookd_id_valid(pos[0]))
        return hookd_cli_err(2, "webhook update: invalid webhook id");
    if ((code = wh_change_flags(cfg, "webhook update", o, &ch, NULL, 0)) == 0)
        code = wh_put(cfg, "webhook update", "update", pos[0], &ch, o[O_SHOW].value != NULL);
    return code;
}

static int wh_rotate(const struct hookd_config *cfg, int argc, char **argv)
{
    struct hookd_cli_opt o[O_NOPTS];
    struct hookd_catalog_change ch;
    char secret[4 * HOOKD_WEBHOOK_SECRET_MAX];
    const char *pos[1];
    int npos, code;

    wh_opts(o);
    for (int i = 0; i < O_NOPTS; i++) {
        if (i != O_SECRET && i != O_SECRET_FILE && i != O_SIGNING)
            o[i].name = NULL;
    }
    if ((code = hookd_cli_parse("webhook rotate-secret", argc - 1, argv + 1, o, O_NOPTS, pos, 1,
                                &npos)) != 0)
        return code;
    if (npos != 1)
        return hookd_cli_err(2, "webhook rotate-secret: expected ID");
    if (!hookd_id_valid(pos[0]))
        return hookd_cli_err(2, "webhook rotate-secret: invalid webhook id");
    if ((code = wh_change_flags(cfg, "webhook rotate-secret", o, &ch, secret, sizeof(secret))) ==
        0) {
        ch.draw_secret = !ch.secret;
        code = wh_put(cfg, "webhook rotate-secret", "update", pos[0], &ch, 1);
    }
    explicit_bzero(secret, sizeof(secret));
    return code;
}

/* `webhook enable ID` and `webhook disable ID [--reason TEXT]`. Enabling
 * forgets why it was disabled; the worker's tend sweep then sends the
 * deliveries parked while it was (HOOKD_PARK_WEBHOOK). */
static int wh_switch(const struct hookd_config *cfg, int argc, char **argv)
{
    int on = strcmp(argv[0], "enable") == 0;
    struct hookd_cli_opt o[] = {{"--reason", 1, NULL}};
    struct hookd_catalog_change ch;
    const char *pos[1];
    char cmd[32];
    int npos, code;
    snprintf(cmd, sizeof(cmd), "webhook %s", argv[0]);
    if (on)
        o[0].name = NULL;
    if ((code = hookd_cli_parse(cmd, argc - 1, argv + 1, o, 1, pos, 1, &npos)) != 0)
        return code;
    if (npos != 1)
        return hookd_cli_err(2, "%s: expected ID", cmd);
    if (!hookd_id_valid(pos[0]))
        return hookd_cli_err(2, "%s: invalid webhook id", cmd);
    hookd_catalog_change_init(&ch);
    ch.enabled = on;
    ch.disabled_reason = o[0].value ? o[0].value : "disabled by hand";
    return wh_put(cfg, cmd, "update", pos[0], &ch, 0);
}

/* Parses "ID [--show-secret]" style arguments: exactly one valid id. */
static int id_arg(const char *cmd, int argc, char **argv, struct hookd_cli_opt *o, size_t n,
                  const char **id)
{
    const char *pos[1] = {NULL};
    int npos = 0, code;
    *id = NULL;
    if ((code = hookd_cli_parse(cmd, argc, argv, o, n, pos, 1, &npos)) != 0)
        return code;
    if (npos != 1)
        return hookd_cli_err(2, "%s: expected ID", cmd);
    if (!hookd_id_valid(pos[0]))
        return hookd_cli_err(2, "%s: invalid webhook id", cmd);
    *id = pos[0];
    return 0;
}

static int wh_show(const struct hookd_config *cfg, int argc, char **argv)
{
    struct hookd_cli_opt o[] = {{"--show-secret", 0, NULL}};
    char err[HOOKD_ERRLEN];
    const char *id;
    json_t *j = NULL;
    int code;

    if ((code = id_arg("webhook show", argc - 1, argv + 1, o, 1, &id)) != 0)
        return code;
    redisContext *c = hookd_redis_connect(cfg, err);
    if (!c)
        return hookd_cli_err(1, "%s", err);
    code = hookd_catalog_get(c, cfg, id, o[0].value != NULL, 1, &j, err);
    redisFree(c);
    return code ? hookd_cli_err(1, "%s", err) : hookd_cli_print_json(j);
}

/* Prints every webhook, sorted by id, one JSON line each, a page at a
 * time; a member of the set whose record is missing or not a hash is shown
 * invalid. */
static int wh_list(const struct hookd_config *cfg, int argc, char **argv)
{
    struct hookd_cli_opt o[] = {{"--show-secret", 0, NULL}};
    char err[HOOKD_ERRLEN], after[HOOKD_ID_MAX + 1] = "";
    const char *pos[1];
    int npos, code, more = 1;

    if ((code = hookd_cli_parse("webhook list", argc - 1, argv + 1, o, 1, pos, 0, &npos)) != 0)
        return code;
    redisContext *c = hookd_redis_connect(cfg, err);
    if (!c)
        return hookd_cli_err(1, "%s", err);
    while (code == 0 && more) {
        json_t *page = NULL, *w;
        size_t i;
        if (hookd_catalog_list(c, cfg, after, HOOKD_CATALOG_PAGE_MAX, o[0].value != NULL, &page,
                               &more, err) != 0) {
            code = hookd_cli_err(1, "%s", err);
            break;
        }
        json_array_foreach(page, i, w)
        {
            hookd_str_copy(after, sizeof(after), json_string_value(json_object_get(w, "id")));
            if (code == 0)
                code = hookd_cli_print_json(json_incref(w));
        }
        json_decref(page);
    }
    redisFree(c);
    return code;
}

static int wh_delete(const struct hookd_config *cfg, int argc, char **argv)
{
    char err[HOOKD_ERRLEN];
    const char *id;
    int code;

    if ((code = id_arg("webhook delete", argc - 1, argv + 1, NULL, 0, &id)) != 0)
        return code;
    redisContext *c = hookd_redis_connect(cfg, err);
    if (!c)
        return hookd_cli_err(1, "%s", err);
    code = hookd_catalog_delete(c, cfg, id, err);
    redisFree(c);
    return code ? hookd_cli_err(1, "%s", err)
                : hookd_cli_print_json(json_pack("{s:s}", "deleted", id));
}

/* Prints the newest --count entries of the webhook's attempt log. */
static int wh_log(const struct hookd_config *cfg, int argc, char **argv)
{
    struct hookd_cli_opt o[] = {{"--count", 1, NULL}};
    char err[HOOKD_ERRLEN];
    const char *id;
    long long n = 20;
    json_t *a = NULL, *e;
    size_t i;
    int code, more;

    if ((code = id_arg("webhook log", argc - 1, argv + 1, o, 1, &id)) != 0)
        return code;
    if (o[0].value && (code = hookd_cli_count("webhook log", o[0].value, WH_LOG_COUNT_MAX, &n)))
        return code;
    redisContext *c = hookd_redis_connect(cfg, err);
    if (!c)
        return hookd_cli_err(1, "%s", err);
    code = hookd_catalog_attempts(c, cfg, id, NULL, (size_t)n, &a, &more, err);
    redisFree(c);
    if (code)
        return hookd_cli_err(1, "%s", err);
    json_array_foreach(a, i, e)
    {
        if (code == 0)
            code = hookd_cli_print_json(json_incref(e));
    }
    json_decref(a);
    return code;
}

#define WH_CHANGE_FLAGS                                                                            \
    "  --events LIST          comma list of object.action filters (person.*, *.created, *.*)\n"    \
    "  --workspace W          only events of this workspace (\"\" for every one)\n"                \
    "  --description D        text for people, at most 1024 bytes\n"                               \
    "  --signing S            twenty (default) or standard (needs a whsec_ secret)\n"              \
    "  --timeout DUR          this webhook's attempt timeout (also --webhook-timeout;\n"           \
    "                         shorter than --lease; 0 for the worker's --timeout)\n"               \
    "  --connect-timeout DUR  this webhook's connect timeout (also --webhook-connect-timeout)\n"
#define WH_SECRET_FLAGS                                                                            \
    "  --secret S             the signing secret: 1..1024 bytes of visible ASCII; a\n"             \
    "                         Standard one is whsec_ + base64 of 24..64 bytes; - reads it\n"       \
    "                         from standard input, so that it is not in ps\n"                      \
    "  --secret-file PATH     read the secret from a file (one line ending dropped)\n"

static const struct hookd_cli_cmd WEBHOOK_CMDS[] = {
    {"add", wh_add,
     "usage: hookd webhook add --url URL [flags]\n"
     "Adds a webhook and prints it, its secret included (the only time it is shown\n"
     "unasked). Without --secret one is drawn: whsec_ + base64 of 32 random bytes for\n"
     "--signing standard, 64 hex digits for twenty.\n"
     "  --url URL              http or https receiver (required)\n" WH_SECRET_FLAGS WH_CHANGE_FLAGS
     "  --id ID                the id (default wh_ + 16 random hex digits)\n"},
    {"list", wh_list,
     "usage: hookd webhook list [--show-secret]\n"
     "Every webhook as one JSON line, sorted by id, as the worker judges it (\"valid\",\n"
     "\"invalid_reason\"): also ids whose record is missing or not a hash.\n"
     "  --show-secret          show secrets and the URLs' query values and credentials\n"},
    {"show", wh_show,
     "usage: hookd webhook show ID [--show-secret]\n"
     "One webhook as JSON, as the worker judges it.\n"
     "  --show-secret          show the secret and the URL's query values and credentials\n"},
    {"update", wh_update,
     "usage: hookd webhook update ID [flags]\n"
     "Changes a webhook and prints it; the record it leaves must be one the worker can\n"
     "deliver to, or nothing changes (exit 2 with the reason).\n"
     "  --url URL              http or https receiver\n"
     "  --enabled true|false   false stops deliveries; true also forgets a 410's "
     "reason\n" WH_CHANGE_FLAGS "  --show-secret          show the secret in what is printed\n"},
    {"enable", wh_switch,
     "usage: hookd webhook enable ID\n"
     "Enables a webhook and forgets why it was disabled; the deliveries parked while\n"
     "it was are sent again within a second.\n"},
    {"disable", wh_switch,
     "usage: hookd webhook disable ID [--reason TEXT]\n"
     "Disables a webhook: new events skip it, and its deliveries already queued are\n"
     "parked until `hookd webhook enable ID`.\n"
     "  --reason TEXT          why, kept as disabled_reason (default \"disabled by hand\")\n"},
    {"delete", wh_delete,
     "usage: hookd webhook delete ID\n"
     "Deletes a webhook (also a record that is not a hash).\n"},
    {"rotate-secret", wh_rotate,
     "usage: hookd webhook rotate-secret ID [--secret S | --secret-file PATH] [--signing S]\n"
     "Sets a new secret (drawn, fit for the signing, unless given) and prints the webhook\n"
     "with it.\n" WH_SECRET_FLAGS
     "  --signing S            switch to twenty or standard with the new secret\n"},
    {"log", wh_log,
     "usage: hookd webhook log ID [--count N]\n"
     "The newest attempts of a webhook, one JSON line each.\n"
     "  --count N              how many (1..100000, default 20)\n"},
};

int hookd_cli_webhook(const struct hookd_config *cfg, int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        FILE *out = argc < 2 ? stderr : stdout;
        fputs("usage: hookd webhook add|list|show|update|delete|rotate-secret|log ...\n"
              "`hookd webhook SUBCOMMAND --help` explains each.\n",
              out);
        return argc < 2 ? 2 : 0;
    }
    return hookd_cli_run_table(WEBHOOK_CMDS, sizeof(WEBHOOK_CMDS) / sizeof(WEBHOOK_CMDS[0]),
                               "webhook: ", cfg, argc - 1, argv + 1);
}
