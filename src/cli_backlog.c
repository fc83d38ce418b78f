/* cli_backlog.c - the backlog commands: `hookd dead list|replay|purge` and
 * `hookd retry list|now|delete`. Each asks backlog.h and prints its answer
 * through the CLI's helpers (cli.h); nothing here touches Redis keys. */
#include <hiredis/hiredis.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "hookd/backlog.h"
#include "hookd/cli.h"
#include "hookd/envelope.h"
#include "hookd/redis.h"

#define DEAD_COUNT_MAX 1000000 /* --count of dead list / replay and retry list */

/* ---- dead ---- */

/* The filter options every dead subcommand takes, in this order. */
enum { F_ID, F_WEBHOOK, F_REASON, F_SINCE, F_UNTIL, F_COUNT };
#define DEAD_FILTER_OPTS                                                                           \
    {"--id", 1, NULL}, {"--webhook", 1, NULL}, {"--reason", 1, NULL}, {"--since", 1, NULL},        \
    {                                                                                              \
        "--until", 1, NULL                                                                         \
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

/* Newest first, one JSON record (with its "id") per line, up to --count,
 * in pages of HOOKD_BACKLOG_LIMIT_MAX. */
static int dead_list(const struct hookd_config *cfg, int argc, char **argv)
{
    struct hookd_cli_opt o[] = {DEAD_FILTER_OPTS, {"--count", 1, NULL}};
    struct hookd_dead_filter f;
    const char *pos[1];
    char err[HOOKD_ERRLEN];
    long long n = 20, cursor = 0, printed = 0;
    int npos, code;

    if ((code = hookd_cli_parse("dead list", argc, argv, o, 6, pos, 0, &npos)) != 0)
        return code;
    if (o[F_COUNT].value &&
        (code = hookd_cli_count("dead list", o[F_COUNT].value, DEAD_COUNT_MAX, &n)))
        return code;
    if ((code = dead_filter_read("dead list", o, &f)) != 0)
        return code;
    redisContext *c = hookd_redis_connect(cfg, err);
    if (!c)
        return hookd_cli_err(1, "%s", err);
    while (cursor >= 0 && printed < n) {
        long long left = n - printed;
        json_t *page;
        size_t lim = left < HOOKD_BACKLOG_LIMIT_MAX ? (size_t)left : HOOKD_BACKLOG_LIMIT_MAX;
        if (hookd_backlog_dead_list(c, cfg, &f, cursor, lim, &page, &cursor, err) != 0) {
            code = hookd_cli_err(1, "dead list: %s", err);
            break;
        }
        size_t i;
        json_t *rec;
        json_array_foreach(page, i, rec)
        {
            if ((code = hookd_cli_print_json(json_incref(rec))) != 0)
                break;
            printed++;
        }
        json_decref(page);
        if (code != 0)
            break;
    }
    redisFree(c);
    return code;
}

/* Replays the matching records, up to --count (default: all there were at
 * the start), oldest first; records that cannot be replayed stay. */
static int dead_replay(const struct hookd_config *cfg, int argc, char **argv)
{
    struct hookd_cli_opt o[] = {DEAD_FILTER_OPTS, {"--count", 1, NULL}};
    struct hookd_dead_filter f;
    const char *pos[1];
    char err[HOOKD_ERRLEN];
    long long want = 0;
    size_t replayed = 0, skipped = 0;
    int npos, code;

    if ((code = hookd_cli_parse("dead replay", argc, argv, o, 6, pos, 0, &npos)) != 0)
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
    struct hookd_cli_opt o[] = {DEAD_FILTER_OPTS};
    struct hookd_dead_filter f;
    const char *pos[1];
    char err[HOOKD_ERRLEN];
    size_t purged = 0;
    int npos, code;

    if ((code = hookd_cli_parse("dead purge", argc, argv, o, 5, pos, 0, &npos)) != 0)
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

int hookd_cli_dead(const struct hookd_config *cfg, int argc, char **argv)
{
    char q[HOOKD_CLI_QUOTE_LEN];
    if (argc < 2)
        return hookd_cli_err(2, "dead: missing subcommand (list, replay, purge)");
    if (strcmp(argv[1], "list") == 0)
        return dead_list(cfg, argc - 2, argv + 2);
    if (strcmp(argv[1], "replay") == 0)
        return dead_replay(cfg, argc - 2, argv + 2);
    if (strcmp(argv[1], "purge") == 0)
        return dead_purge(cfg, argc - 2, argv + 2);
    return hookd_cli_err(2, "dead: unknown subcommand '%s' (list, replay, purge)",
                         hookd_cli_quote(argv[1], q));
}

/* ---- retry ---- */

/* Waiting retries, soonest first: one JSON line each, or with --json too
 * (the lines are JSON either way; the flag is kept for scripts that pass
 * it), up to --count (default 20). */
static int retry_list(const struct hookd_config *cfg, int argc, char **argv)
{
    struct hookd_cli_opt o[] = {{"--count", 1, NULL}, {"--json", 0, NULL}};
    const char *pos[1];
    char err[HOOKD_ERRLEN];
    long long n = 20, cursor = 0, printed = 0;
    int npos, code;

    if ((code = hookd_cli_parse("retry list", argc, argv, o, 2, pos, 0, &npos)) != 0)
        return code;
    if (o[0].value && (code = hookd_cli_count("retry list", o[0].value, DEAD_COUNT_MAX, &n)))
        return code;
    redisContext *c = hookd_redis_connect(cfg, err);
    if (!c)
        return hookd_cli_err(1, "%s", err);
    while (cursor >= 0 && printed < n) {
        long long left = n - printed;
        json_t *page;
        size_t lim = left < HOOKD_BACKLOG_LIMIT_MAX ? (size_t)left : HOOKD_BACKLOG_LIMIT_MAX;
        if (hookd_backlog_retry_list(c, cfg, cursor, lim, &page, &cursor, err) != 0) {
            code = hookd_cli_err(1, "retry list: %s", err);
            break;
        }
        size_t i;
        json_t *e;
        json_array_foreach(page, i, e)
        {
            if ((code = hookd_cli_print_json(json_incref(e))) != 0)
                break;
            printed++;
        }
        json_decref(page);
        if (code != 0)
            break;
    }
    redisFree(c);
    return code;
}

/* retry now ID / retry delete ID: prints {"id":..,"due":"now"} or
 * {"id":..,"deleted":true}; 1 when the retry is not waiting. */
static int retry_one(const struct hookd_config *cfg, const char *cmd, int argc, char **argv)
{
    const char *pos[1];
    char err[HOOKD_ERRLEN], full[32];
    int npos, code, del = strcmp(cmd, "delete") == 0;

    snprintf(full, sizeof(full), "retry %s", cmd);
    if ((code = hookd_cli_parse(full, argc, argv, NULL, 0, pos, 1, &npos)) != 0)
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

int hookd_cli_retry(const struct hookd_config *cfg, int argc, char **argv)
{
    char q[HOOKD_CLI_QUOTE_LEN];
    if (argc < 2)
        return hookd_cli_err(2, "retry: missing subcommand (list, now, delete)");
    if (strcmp(argv[1], "list") == 0)
        return retry_list(cfg, argc - 2, argv + 2);
    if (strcmp(argv[1], "now") == 0 || strcmp(argv[1], "delete") == 0)
        return retry_one(cfg, argv[1], argc - 2, argv + 2);
    return hookd_cli_err(2, "retry: unknown subcommand '%s' (list, now, delete)",
                         hookd_cli_quote(argv[1], q));
}
