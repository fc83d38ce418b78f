/* cli_backlog.c - the backlog commands: `hookd dead list|replay|purge` and
 * `hookd retry list|now|delete`. Each asks backlog.h and prints its answer
 * through the CLI's kit (cli_kit.h); nothing here touches Redis keys. The
 * subcommand tables at the end are cli.c's rows' subs. */
#include <hiredis/hiredis.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "hookd/backlog.h"
#include "hookd/cli.h"
#include "hookd/cli_kit.h"
#include "hookd/envelope.h"
#include "hookd/redis.h"

#define DEAD_COUNT_MAX 1000000 /* --count of dead list / replay and retry list */

/* ---- dead ---- */

/* The filter every dead subcommand takes, in this order, then --count. */
enum { F_ID, F_WEBHOOK, F_REASON, F_SINCE, F_UNTIL, F_COUNT, F_JSON };
#define DEAD_FILTER_FLAGS                                                                          \
    {"--id", "ID", "one record, by the id `dead list` shows"},                                     \
        {"--webhook", "ID", "delivery records of this webhook"},                                   \
        {"--reason", "TEXT", "records with this reason (exact)"},                                  \
        {"--since", "T", "records dead at or after T (RFC 3339, or ms since 1970)"},               \
    {                                                                                              \
        "--until", "T", "records dead before T"                                                    \
    }
static const struct hookd_cli_flag DEAD_LIST_FLAGS[] = {
    DEAD_FILTER_FLAGS,
    {"--count", "N", "how many (default 20)"},
    {"--json", NULL, "JSON lines even on a terminal"},
    {NULL, NULL, NULL}};
static const struct hookd_cli_flag DEAD_REPLAY_FLAGS[] = {
    DEAD_FILTER_FLAGS, {"--count", "N", "at most this many (default all)"}, {NULL, NULL, NULL}};
static const struct hookd_cli_flag DEAD_PURGE_FLAGS[] = {DEAD_FILTER_FLAGS, {NULL, NULL, NULL}};
static const struct hookd_cli_flag RETRY_LIST_FLAGS[] = {
    {"--count", "N", "how many (default 20)"},
    {"--json", NULL, "JSON lines even on a terminal"},
    {NULL, NULL, NULL}};

/* What a terminal shows of a dead record and of a waiting retry. */
static const struct hookd_cli_column DEAD_COLUMNS[] = {
    {"ID", "id", 36},           {"AT", "at", 13},           {"KIND", "kind", 8},
    {"REASON", "reason", 40},   {"WEBHOOK", "webhook", 24}, {"EVENT", "event", 24},
    {"ATTEMPTS", "attempts", 8}};
static const struct hookd_cli_column RETRY_COLUMNS[] = {
    {"ID", "id", 40},           {"DUE_AT", "due_at", 13}, {"ATTEMPT", "attempt", 7},
    {"WEBHOOK", "webhook", 24}, {"EVENT", "event", 24},   {"LAST_ERROR", "last_error", 40}};

/* One page of a list: up to limit items from *cursor into *out, *cursor
 * moved on (-1 at the end). */
typedef int (*page_fn)(redisContext *c, const struct hookd_config *cfg,
                       const struct hookd_dead_filter *f, long long *cursor, size_t limit,
                       json_t **out, char *err);

static int dead_page(redisContext *c, const struct hookd_config *cfg,
                     const struct hookd_dead_filter *f, long long *cursor, size_t limit,
                     json_t **out, char *err)
{
    return hookd_backlog_dead_list(c, cfg, f, *cursor, limit, out, cursor, err);
}

static int retry_page(redisContext *c, const struct hookd_config *cfg,
                      const struct hookd_dead_filter *f, long long *cursor, size_t limit,
                      json_t **out, char *err)
{
    (void)f;
    return hookd_backlog_retry_list(c, cfg, *cursor, limit, out, cursor, err);
}

/* Prints up to n items of a list, read in pages of HOOKD_BACKLOG_LIMIT_MAX:
 * a table of cols on a terminal (one per page), else JSON lines. */
static int list_pages(const struct hookd_config *cfg, const char *cmd, page_fn page,
                      const struct hookd_dead_filter *f, long long n,
                      const struct hookd_cli_column *cols, size_t ncols, int json)
{
    char err[HOOKD_ERRLEN];
    long long cursor = 0, printed = 0;
    int code = 0;
    redisContext *c = hookd_redis_connect(cfg, err);
    if (!c)
        return hookd_cli_err(1, "%s", err);
    while (code == 0 && cursor >= 0 && printed < n) {
        long long left = n - printed;
        json_t *a = NULL;
        size_t lim = left < HOOKD_BACKLOG_LIMIT_MAX ? (size_t)left : HOOKD_BACKLOG_LIMIT_MAX;
        if (page(c, cfg, f, &cursor, lim, &a, err) != 0) {
            code = hookd_cli_err(1, "%s: %s", cmd, err);
            break;
        }
        if (json_array_size(a) > 0)
            code = hookd_cli_print_list(a, cols, ncols, json);
        printed += (long long)json_array_size(a);
        json_decref(a);
    }
    redisFree(c);
    return code;
}

/* Reads the filter options of o into f. Returns 0, or 2 after printing. */
static int dead_filter_read(const char *cmd, const struct hookd_cli_opt *o,
                            struct hookd_dead_filter *f)
{
    char err[HOOKD_ERRLEN];
    *f = (struct hookd_dead_filter){
        .id = o[F_ID].value, .webhook = o[F_WEBHOOK].value, .reason = o[F_REASON].value};
    if (f->webhook && !hookd_id_valid(f->webhook))
        return hookd_cli_err(2, "%s: --webhook must be 1..%d bytes of [A-Za-z0-9_.:-]", cmd,
                             HOOKD_ID_MAX);
    if (f->id && (strlen(f->id) == 0 || strlen(f->id) >= HOOKD_BACKLOG_ID_LEN))
        return hookd_cli_err(2, "%s: --id must be a record id as `dead list` shows it", cmd);
    if (o[F_SINCE].value && hookd_backlog_time_parse(o[F_SINCE].value, &f->since_ms, err) != 0)
        return hookd_cli_err(2, "%s: --since: %s", cmd, err);
    if (o[F_UNTIL].value && hookd_backlog_time_parse(o[F_UNTIL].value, &f->until_ms, err) != 0)
        return hookd_cli_err(2, "%s: --until: %s", cmd, err);
    if (o[F_SINCE].value && o[F_UNTIL].value && f->until_ms <= f->since_ms)
        return hookd_cli_err(2, "%s: --until must be after --since", cmd);
    return 0;
}

/* Newest first, up to --count: a table on a terminal, else one JSON record
 * (with its "id") per line. */
static int dead_list(const struct hookd_config *cfg, int argc, char **argv)
{
    struct hookd_cli_opt o[F_JSON + 1];
    struct hookd_dead_filter f;
    const char *pos[1];
    long long n = 20;
    int npos, code;
    size_t nopts = hookd_cli_opts_from(DEAD_LIST_FLAGS, o, F_JSON + 1);

    if ((code = hookd_cli_parse("dead list", argc - 1, argv + 1, o, nopts, pos, 0, &npos)) != 0)
        return code;
    if (o[F_COUNT].value &&
        (code = hookd_cli_count("dead list", o[F_COUNT].value, DEAD_COUNT_MAX, &n)))
        return code;
    if ((code = dead_filter_read("dead list", o, &f)) != 0)
        return code;
    return list_pages(cfg, "dead list", dead_page, &f, n, DEAD_COLUMNS,
                      sizeof(DEAD_COLUMNS) / sizeof(DEAD_COLUMNS[0]), o[F_JSON].value != NULL);
}

/* Replays the matching records, up to --count (default: all there were at
 * the start), oldest first; records that cannot be replayed stay. */
static int dead_replay(const struct hookd_config *cfg, int argc, char **argv)
{
    struct hookd_cli_opt o[F_COUNT + 1];
    struct hookd_dead_filter f;
    const char *pos[1];
    char err[HOOKD_ERRLEN];
    long long want = 0;
    size_t replayed = 0, skipped = 0;
    int npos, code;
    size_t nopts = hookd_cli_opts_from(DEAD_REPLAY_FLAGS, o, F_COUNT + 1);

    if ((code = hookd_cli_parse("dead replay", argc - 1, argv + 1, o, nopts, pos, 0, &npos)) != 0)
        return code;
    if (o[F_COUNT].value &&
        (code = hookd_cli_count("dead replay", o[F_COUNT].value, DEAD_COUNT_MAX, &want)))
        return code;
    if ((code = dead_filter_read("dead replay", o, &f)) != 0)
        return code;
    redisContext *c = hookd_redis_connect(cfg, err);
    if (!c)
        return hookd_cli_err(1, "%s", err);
    int rc = hookd_backlog_dead_replay(c, cfg, &f, (size_t)want, &replayed, &skipped, err);
    redisFree(c);
    if (skipped > 0)
        hookd_cli_err(0, "dead replay: %zu matching record(s) cannot be replayed and stay",
                      skipped);
    if (rc != 0)
        return hookd_cli_err(1, "dead replay: %s (after replaying %zu)", err, replayed);
    return hookd_cli_print_json(
        json_pack("{s:I,s:I}", "replayed", (json_int_t)replayed, "skipped", (json_int_t)skipped));
}

/* Removes the matching records (without a filter, the whole list). */
static int dead_purge(const struct hookd_config *cfg, int argc, char **argv)
{
    struct hookd_cli_opt o[F_UNTIL + 1];
    struct hookd_dead_filter f;
    const char *pos[1];
    char err[HOOKD_ERRLEN];
    size_t purged = 0;
    int npos, code;
    size_t nopts = hookd_cli_opts_from(DEAD_PURGE_FLAGS, o, F_UNTIL + 1);

    if ((code = hookd_cli_parse("dead purge", argc - 1, argv + 1, o, nopts, pos, 0, &npos)) != 0)
        return code;
    if ((code = dead_filter_read("dead purge", o, &f)) != 0)
        return code;
    redisContext *c = hookd_redis_connect(cfg, err);
    if (!c)
        return hookd_cli_err(1, "%s", err);
    int rc = hookd_backlog_dead_purge(c, cfg, &f, &purged, err);
    redisFree(c);
    if (rc != 0)
        return hookd_cli_err(1, "dead purge: %s (after purging %zu)", err, purged);
    return hookd_cli_print_json(json_pack("{s:I}", "purged", (json_int_t)purged));
}

/* ---- retry ---- */

/* Waiting retries, soonest first, up to --count: a table on a terminal, else
 * one JSON line each. */
static int retry_list(const struct hookd_config *cfg, int argc, char **argv)
{
    struct hookd_cli_opt o[2];
    const char *pos[1];
    long long n = 20;
    int npos, code;
    size_t nopts = hookd_cli_opts_from(RETRY_LIST_FLAGS, o, 2);

    if ((code = hookd_cli_parse("retry list", argc - 1, argv + 1, o, nopts, pos, 0, &npos)) != 0)
        return code;
    if (o[0].value && (code = hookd_cli_count("retry list", o[0].value, DEAD_COUNT_MAX, &n)))
        return code;
    return list_pages(cfg, "retry list", retry_page, NULL, n, RETRY_COLUMNS,
                      sizeof(RETRY_COLUMNS) / sizeof(RETRY_COLUMNS[0]), o[1].value != NULL);
}

/* retry now ID / retry delete ID: prints {"id":..,"due":"now"} or
 * {"id":..,"deleted":true}; 1 when the retry is not waiting. */
static int retry_one(const struct hookd_config *cfg, int argc, char **argv)
{
    const char *pos[1];
    char err[HOOKD_ERRLEN], full[32];
    int npos, code, del = strcmp(argv[0], "delete") == 0;

    snprintf(full, sizeof(full), "retry %s", del ? "delete" : "now");
    if ((code = hookd_cli_parse(full, argc - 1, argv + 1, NULL, 0, pos, 1, &npos)) != 0)
        return code;
    if (npos != 1)
        return hookd_cli_err(2, "%s: expected ID (as `retry list` shows it)", full);
    redisContext *c = hookd_redis_connect(cfg, err);
    if (!c)
        return hookd_cli_err(1, "%s", err);
    int rc = del ? hookd_backlog_retry_delete(c, cfg, pos[0], err)
                 : hookd_backlog_retry_now(c, cfg, pos[0], err);
    redisFree(c);
    if (rc != 0)
        return hookd_cli_err(rc == HOOKD_EINVAL ? 2 : 1, "%s: %s", full, err);
    return hookd_cli_print_json(del ? json_pack("{ss sb}", "id", pos[0], "deleted", 1)
                                    : json_pack("{ss ss}", "id", pos[0], "due", "now"));
}

const struct hookd_cli_cmd hookd_cli_dead_subs[] = {
    {"list", dead_list, "[FILTER] [--count N] [--json]",
     "The newest dead records that match, newest first.\n", DEAD_LIST_FLAGS, NULL},
    {"replay", dead_replay, "[FILTER] [--count N]",
     "Puts the matching records back as work, oldest first, and says how many.\n",
     DEAD_REPLAY_FLAGS, NULL},
    {"purge", dead_purge, "[FILTER]",
     "Deletes the matching records (without a filter, every one) and says how many.\n",
     DEAD_PURGE_FLAGS, NULL},
    {NULL, NULL, NULL, NULL, NULL, NULL}};

const struct hookd_cli_cmd hookd_cli_retry_subs[] = {
    {"list", retry_list, "[--count N] [--json]",
     "Deliveries waiting for their next attempt, soonest first, with due time,\n"
     "attempt and last error.\n",
     RETRY_LIST_FLAGS, NULL},
    {"now", retry_one, "ID", "Makes one waiting retry due now.\n", NULL, NULL},
    {"delete", retry_one, "ID", "Drops one waiting retry; it is never delivered.\n", NULL, NULL},
    {NULL, NULL, NULL, NULL, NULL, NULL}};
