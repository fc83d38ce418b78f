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

/* The flags of each webhook command: what their help shows and what
 * their parsers know. --timeout and --connect-timeout on the command line
 * are read as the webhook's own by add and update (see webhook_timeout). */
/* clang-format off */
#define WH_F_SECRET \
    {"--secret", "S", "the signing secret (1..1024 visible ASCII bytes; - reads stdin)"}, \
    {"--secret-file", "PATH", "read the secret from a file (one line ending dropped)"}
#define WH_F_CHANGE \
    {"--events", "LIST", "comma list of object.action filters (person.*, *.created, *.*)"}, \
    {"--workspace", "W", "only events of this workspace (\"\" for every one)"}, \
    {"--description", "D", "text for people, at most 1024 bytes"}, \
    {"--signing", "S", "twenty (default) or standard (needs a whsec_ secret)"}, \
    {"--webhook-timeout", "DUR", "this webhook's attempt timeout (also --timeout; 0: the worker's)"}, \
    {"--webhook-connect-timeout", "DUR", "this webhook's connect timeout (also --connect-timeout)"}
/* clang-format on */

static const struct hookd_cli_flag WH_ADD_FLAGS[] = {
    {"--url", "URL", "http or https receiver (required)"},
    WH_F_SECRET,
    WH_F_CHANGE,
    {"--id", "ID", "the id (default wh_ + 16 random hex digits)"},
    {NULL, NULL, NULL}};
static const struct hookd_cli_flag WH_UPDATE_FLAGS[] = {
    {"--url", "URL", "http or https receiver"},
    {"--enabled", "true|false", "false stops deliveries; true also forgets a 410's reason"},
    WH_F_CHANGE,
    {"--show-secret", NULL, "show the secret in what is printed"},
    {NULL, NULL, NULL}};
static const struct hookd_cli_flag WH_ROTATE_FLAGS[] = {
    WH_F_SECRET,
    {"--signing", "S", "switch to twenty or standard with the new secret"},
    {"--grace", "DUR",
     "how long the old secret stays valid (default 24h, at most 30d; 0 drops it)"},
    {NULL, NULL, NULL}};
static const struct hookd_cli_flag WH_TEST_FLAGS[] = {
    {"--wait", "DUR", "how long to wait for the attempt (default 10s, at most 300s)"},
    {NULL, NULL, NULL}};
static const struct hookd_cli_flag WH_LIST_FLAGS[] = {
    {"--show-secret", NULL, "show secrets and the URLs' query values and credentials"},
    {"--json", NULL, "JSON lines even on a terminal"},
    {NULL, NULL, NULL}};
static const struct hookd_cli_flag WH_SHOW_FLAGS[] = {
    {"--show-secret", NULL, "show the secret and the URL's query values and credentials"},
    {NULL, NULL, NULL}};
static const struct hookd_cli_flag WH_DISABLE_FLAGS[] = {
    {"--reason", "TEXT", "why, kept as disabled_reason (default \"disabled by hand\")"},
    {NULL, NULL, NULL}};
static const struct hookd_cli_flag WH_LOG_FLAGS[] = {
    {"--count", "N", "how many (1..100000, default 20)"},
    {"--json", NULL, "JSON lines even on a terminal"},
    {NULL, NULL, NULL}};

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
    O_GRACE,
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
/* Fills o, indexed by O_*, with the flags of WH_OPT_NAME that flags (a
 * command's row) holds; the others are switched off (NULL name). */
static void wh_opts(struct hookd_cli_opt o[O_NOPTS], const struct hookd_cli_flag *flags)
{
    static const char *const name[O_NOPTS] = {
        [O_URL] = "--url",
        [O_SECRET] = "--secret",
        [O_SECRET_FILE] = "--secret-file",
        [O_EVENTS] = "--events",
        [O_WORKSPACE] = "--workspace",
        [O_DESC] = "--description",
        [O_SIGNING] = "--signing",
        [O_TIMEOUT] = "--webhook-timeout",
        [O_CONNECT] = "--webhook-connect-timeout",
        [O_ENABLED] = "--enabled",
        [O_ID] = "--id",
        [O_SHOW] = "--show-secret",
        [O_GRACE] = "--grace",
    };
    for (int i = 0; i < O_NOPTS; i++) {
        o[i].name = hookd_cli_flags_has(flags, name[i]) ? name[i] : NULL;
        o[i].takes_value = i != O_SHOW;
        o[i].value = NULL;
    }
}

static int wh_add(const struct hookd_config *cfg, int argc, char **argv)
{
    struct hookd_cli_opt o[O_NOPTS];
    struct hookd_catalog_change ch;
    char secret[4 * HOOKD_WEBHOOK_SECRET_MAX], id[HOOKD_ID_MAX + 1];
    const char *pos[1];
    int npos, code;

    wh_opts(o, WH_ADD_FLAGS); /* no --enabled, no --show-secret: a new webhook is enabled,
                                 its secret always shown */
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

    wh_opts(o, WH_UPDATE_FLAGS); /* the secret changes with rotate-secret only */
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
    const char *pos[1] = {NULL};
    int64_t grace = HOOKD_CATALOG_GRACE_DEFAULT_MS;
    int npos, code;

    wh_opts(o, WH_ROTATE_FLAGS);
    if ((code = hookd_cli_parse("webhook rotate-secret", argc - 1, argv + 1, o, O_NOPTS, pos, 1,
                                &npos)) != 0)
        return code;
    if (npos != 1)
        return hookd_cli_err(2, "webhook rotate-secret: expected ID");
    if (!hookd_id_valid(pos[0]))
        return hookd_cli_err(2, "webhook rotate-secret: invalid webhook id");
    if (o[O_GRACE].value && (hookd_duration_parse(o[O_GRACE].value, &grace) != 0 || grace < 0))
        return hookd_cli_err(2,
                             "webhook rotate-secret: --grace: expected a duration from 0 to 30d, "
                             "like 90s, 12h or 7d");
    if (grace > HOOKD_CATALOG_GRACE_MAX_MS)
        return hookd_cli_err(2, "webhook rotate-secret: --grace: at most 30d");
    if ((code = wh_change_flags(cfg, "webhook rotate-secret", o, &ch, secret, sizeof(secret))) ==
        0) {
        ch.draw_secret = !ch.secret;
        ch.rotate = 1;
        ch.grace_ms = grace;
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
    struct hookd_cli_opt o[1];
    struct hookd_catalog_change ch;
    const char *pos[1];
    char cmd[32];
    int npos, code;
    snprintf(cmd, sizeof(cmd), "webhook %s", argv[0]);
    size_t n = hookd_cli_opts_from(on ? NULL : WH_DISABLE_FLAGS, o, 1);
    o[0].value = NULL;
    if ((code = hookd_cli_parse(cmd, argc - 1, argv + 1, o, n, pos, 1, &npos)) != 0)
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
    struct hookd_cli_opt o[1];
    char err[HOOKD_ERRLEN];
    const char *id;
    json_t *j = NULL;
    int code;

    if ((code = id_arg("webhook show", argc - 1, argv + 1, o,
                       hookd_cli_opts_from(WH_SHOW_FLAGS, o, 1), &id)) != 0)
        return code;
    redisContext *c = hookd_redis_connect(cfg, err);
    if (!c)
        return hookd_cli_err(1, "%s", err);
    code = hookd_catalog_get(c, cfg, id, o[0].value != NULL, 1, &j, err);
    redisFree(c);
    return code ? hookd_cli_err(1, "%s", err) : hookd_cli_print_json(j);
}

/* The columns of `webhook list` and `webhook log` on a terminal. */
static const struct hookd_cli_column WH_COLUMNS[] = {{"ID", "id", 40},
                                                     {"URL", "url", 60},
                                                     {"EVENTS", "events", 40},
                                                     {"ENABLED", "enabled", 7},
                                                     {"SIGNING", "signing", 8},
                                                     {"VALID", "valid", 5},
                                                     {"INVALID", "invalid_reason", 50}};
static const struct hookd_cli_column ATTEMPT_COLUMNS[] = {
    {"AT", "at", 20},          {"DELIVERY", "delivery", 40}, {"EVENT", "event", 32},
    {"ATTEMPT", "attempt", 7}, {"STATUS", "status", 6},      {"MS", "ms", 8},
    {"ERROR", "error", 60}};

/* Prints every webhook, sorted by id, read a page at a time: one JSON line
 * each (--json or piped) or a table; a member of the set whose record is
 * missing or not a hash is shown invalid. */
static int wh_list(const struct hookd_config *cfg, int argc, char **argv)
{
    struct hookd_cli_opt o[2];
    char err[HOOKD_ERRLEN], after[HOOKD_ID_MAX + 1] = "";
    const char *pos[1];
    int npos, code, more = 1;
    size_t nopts = hookd_cli_opts_from(WH_LIST_FLAGS, o, 2);

    if ((code = hookd_cli_parse("webhook list", argc - 1, argv + 1, o, nopts, pos, 0, &npos)) != 0)
        return code;
    json_t *all = json_array();
    if (!all)
        return hookd_cli_err(1, "out of memory");
    redisContext *c = hookd_redis_connect(cfg, err);
    if (!c) {
        json_decref(all);
        return hookd_cli_err(1, "%s", err);
    }
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
        }
        json_array_extend(all, page);
        json_decref(page);
    }
    redisFree(c);
    if (code == 0)
        code = hookd_cli_print_list(all, WH_COLUMNS, sizeof(WH_COLUMNS) / sizeof(WH_COLUMNS[0]),
                                    o[1].value != NULL);
    json_decref(all);
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
    struct hookd_cli_opt o[2];
    char err[HOOKD_ERRLEN];
    const char *id;
    long long n = 20;
    json_t *a = NULL;
    int code, more;

    if ((code = id_arg("webhook log", argc - 1, argv + 1, o,
                       hookd_cli_opts_from(WH_LOG_FLAGS, o, 2), &id)) != 0)
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
    code = hookd_cli_print_list(a, ATTEMPT_COLUMNS,
                                sizeof(ATTEMPT_COLUMNS) / sizeof(ATTEMPT_COLUMNS[0]),
                                o[1].value != NULL);
    json_decref(a);
    return code;
}

#define WH_TEST_WAIT_MS 10000   /* --wait of webhook test by default */
#define WH_TEST_WAIT_MAX 300000 /* --wait at most */

/* Sends a test event to the webhook and waits (--wait) for its first
 * attempt, which it prints as JSON; 1 when it was not delivered (not 2xx)
 * or none came in time. */
static int wh_test(const struct hookd_config *cfg, int argc, char **argv)
{
    struct hookd_cli_opt o[1];
    char err[HOOKD_ERRLEN];
    const char *id;
    int64_t wait = WH_TEST_WAIT_MS, status;
    json_t *e = NULL;
    int code;

    if ((code = id_arg("webhook test", argc - 1, argv + 1, o,
                       hookd_cli_opts_from(WH_TEST_FLAGS, o, 1), &id)) != 0)
        return code;
    if (o[0].value &&
        (hookd_duration_parse(o[0].value, &wait) != 0 || wait < 1 || wait > WH_TEST_WAIT_MAX))
        return hookd_cli_err(2, "webhook test: --wait must be a duration from 1ms to 300s");
    redisContext *c = hookd_redis_connect(cfg, err);
    if (!c)
        return hookd_cli_err(1, "%s", err);
    code = hookd_catalog_test(c, cfg, id, wait, &e, err);
    redisFree(c);
    if (code)
        return hookd_cli_err(1, "webhook test: %s", err);
    const char *s = json_string_value(json_object_get(e, "status"));
    int delivered = s && hookd_parse_i64(s, 200, 299, &status) == 0;
    code = hookd_cli_print_json(e);
    return code ? code : delivered ? 0 : 1;
}

const struct hookd_cli_cmd hookd_cli_webhook_subs[] = {
    {"add", wh_add, "--url URL [flags]",
     "Adds a webhook and prints it, its secret included (the only time it is shown\n"
     "unasked). Without --secret one is drawn: whsec_ + base64 of 32 random bytes for\n"
     "--signing standard, 64 hex digits for twenty.\n",
     WH_ADD_FLAGS, NULL},
    {"list", wh_list, "[--show-secret] [--json]",
     "Every webhook, sorted by id, as the worker judges it (valid, invalid_reason):\n"
     "also ids whose record is missing or not a hash. An aligned table on a terminal,\n"
     "else (or with --json) one JSON line each.\n",
     WH_LIST_FLAGS, NULL},
    {"show", wh_show, "ID [--show-secret]", "One webhook as JSON, as the worker judges it.\n",
     WH_SHOW_FLAGS, NULL},
    {"update", wh_update, "ID [flags]",
     "Changes a webhook and prints it; the record it leaves must be one the worker can\n"
     "deliver to, or nothing changes (exit 2 with the reason).\n",
     WH_UPDATE_FLAGS, NULL},
    {"enable", wh_switch, "ID",
     "Enables a webhook and forgets why it was disabled; the deliveries parked while\n"
     "it was are sent again within a second.\n",
     NULL, NULL},
    {"disable", wh_switch, "ID [--reason TEXT]",
     "Disables a webhook: new events skip it, and its deliveries already queued are\n"
     "parked until `hookd webhook enable ID`.\n",
     WH_DISABLE_FLAGS, NULL},
    {"delete", wh_delete, "ID", "Deletes a webhook (also a record that is not a hash).\n", NULL,
     NULL},
    {"rotate-secret", wh_rotate, "ID [--secret S | --secret-file PATH] [--signing S] [--grace DUR]",
     "Sets a new secret (drawn, fit for the signing, unless given) and prints the webhook\n"
     "with it. The old secret keeps signing too for the grace period (see\n"
     "docs/receivers.md, \"Secret rotation\").\n",
     WH_ROTATE_FLAGS, NULL},
    {"log", wh_log, "ID [--count N] [--json]",
     "The newest attempts of a webhook: an aligned table on a terminal, else (or with\n"
     "--json) one JSON line each.\n",
     WH_LOG_FLAGS, NULL},
    {"test", wh_test, "ID [--wait DUR]",
     "Sends a test event (delivered whatever the webhook filters) and prints the first\n"
     "attempt as JSON; exits 1 when it was not delivered.\n",
     WH_TEST_FLAGS, NULL},
    {NULL, NULL, NULL, NULL, NULL, NULL}};
