/* main.c - wires hookd together: configuration, then the worker or a command.
 *
 * `hookd run` starts one worker thread per --threads, each with its own
 * loop, and waits on its own loop for SIGTERM or SIGINT, which starts the
 * drain. Every other subcommand is an admin command (cli.c). */
#include <curl/curl.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "hookd/api.h"
#include "hookd/cli.h"
#include "hookd/config.h"
#include "hookd/console.h"
#include "hookd/log.h"
#include "hookd/metrics.h"
#include "hookd/redis_tls.h"
#include "hookd/redis_watch.h"
#include "hookd/server.h"
#include "hookd/worker.h"

extern char **environ;

#define MAX_THREADS 256

static const char USAGE[] = "usage: hookd [options] COMMAND [args]\n"
                            "\n"
                            "commands:\n"
                            "  run                           deliver webhooks until SIGTERM\n"
                            "  webhook add|list|show|update|delete|rotate-secret|log\n"
                            "  enqueue EVENT [DATA_JSON] | enqueue -\n"
                            "  stats [--json] [--watch]\n"
                            "  dead list|replay|purge\n"
                            "  verify --secret S --timestamp T --signature SIG [FILE]\n"
                            "  version\n"
                            "\n"
                            "options (each also read from HOOKD_<NAME>, e.g. HOOKD_REDIS_URL):\n";

static const char USAGE_RUN[] =
    "usage: hookd [options] run\n"
    "\n"
    "Takes events from Redis and delivers them, one event loop per --threads,\n"
    "until SIGTERM or SIGINT. Either starts a drain: deliveries in flight get\n"
    "--drain-timeout to finish, the rest is given back to the queue; a second\n"
    "signal ends the process at once. Exit code 2 is a configuration error.\n"
    "\n";

/* State of `hookd run` for the signal callbacks. */
struct run {
    struct hookd_worker *workers[MAX_THREADS]; /* started workers */
    int n;                                     /* how many */
    uv_signal_t sigterm, sigint;               /* drain triggers */
    struct hookd_config *ns;                   /* each namespace's configuration (malloc'ed) */
    int nns;                                   /* how many */
    int per_ns;                                /* loops per namespace */
};

/* Gives each namespace the same number of loops, ceil(threads / count),
 * as far as MAX_THREADS allows, and its configuration, whose threads is the
 * number of loops in all (each loop's share of --concurrency and
 * --host-concurrency). 0, HOOKD_ERANGE or HOOKD_ENOMEM. */
static int namespaces_plan(const struct hookd_config *cfg, struct run *r)
{
    r->nns = hookd_config_count_namespaces(cfg);
    r->per_ns = (cfg->threads + r->nns - 1) / r->nns;
    while (r->per_ns > 1 && r->per_ns * r->nns > MAX_THREADS)
        r->per_ns--;
    if (r->per_ns * r->nns > MAX_THREADS)
        return HOOKD_ERANGE;
    r->ns = calloc((size_t)r->nns, sizeof(*r->ns));
    if (!r->ns)
        return HOOKD_ENOMEM;
    /* Each loop takes its share of the process' concurrency by threads. */
    for (int i = 0; i < r->nns; i++) {
        hookd_config_namespace(cfg, i, &r->ns[i]);
        r->ns[i].threads = r->per_ns * r->nns;
    }
    return 0;
}

static void on_signal(uv_signal_t *h, int signum)
{
    struct run *r = h->data;
    hookd_metrics_set_draining();
    hookd_info("received %s: draining", signum == SIGTERM ? "SIGTERM" : "SIGINT");
    for (int i = 0; i < r->n; i++)
        hookd_worker_stop(r->workers[i]);
    /* A second signal takes the default action and ends the process. */
    uv_close((uv_handle_t *)&r->sigterm, NULL);
    uv_close((uv_handle_t *)&r->sigint, NULL);
}

/* 1 when one of the words after `run` asks for help ("--" ends the search). */
static int run_wants_help(int argc, char **argv)
{
    for (int i = 2; i < argc && strcmp(argv[i], "--") != 0; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            return 1;
    }
    return 0;
}

/* The HTTP side of `hookd run`: the listeners and what their routes use. */
struct listeners {
    struct hookd_server *metrics; /* on --metrics-addr, unless the API's server has them */
    struct hookd_server *api;     /* on --api-addr */
    struct hookd_api *api_state;  /* the API's routes' state */
    struct hookd_route *table;    /* the API server's routes (malloc'ed) */
    int depth_reader;             /* hookd_metrics_start() ran */
};

/* Appends routes[0..n) to *table (*len rows so far). Returns 0 or
 * HOOKD_ENOMEM. */
static int routes_add(struct hookd_route **table, size_t *len, const struct hookd_route *routes,
                      size_t n)
{
    if (n == 0)
        return 0;
    struct hookd_route *t = realloc(*table, (*len + n) * sizeof(*t));
    if (!t)
        return HOOKD_ENOMEM;
    memcpy(t + *len, routes, n * sizeof(*t));
    *table = t;
    *len += n;
    return 0;
}

/* Stops the servers first (their handlers use the rest), then frees what
 * their routes used. */
static void listeners_stop(struct listeners *l)
{
    hookd_server_stop(l->api);
    hookd_server_stop(l->metrics);
    if (l->depth_reader)
        hookd_metrics_stop();
    hookd_api_free(l->api_state);
    free(l->table);
    memset(l, 0, sizeof(*l));
}

/* Starts the metrics listener on --metrics-addr and the API listener on
 * --api-addr (API, console, and the metrics routes too when both addresses
 * are the same). Returns 0, or a HOOKD_E* code with the reason in errbuf
 * and nothing left running. */
static int listeners_start(const struct hookd_config *cfg, const struct run *r, struct listeners *l,
                           char *errbuf)
{
    char why[HOOKD_ERRLEN];
    size_t nm, n, len = 0;
    const struct hookd_route *metrics = hookd_metrics_routes(&nm);
    int shared =
        cfg->api_addr && cfg->metrics_addr && strcmp(cfg->api_addr, cfg->metrics_addr) == 0;
    int rc = 0;

    memset(l, 0, sizeof(*l));
    if (cfg->metrics_addr) {
        if ((rc = hookd_metrics_start(r->ns, r->nns, errbuf)) != 0)
            return rc;
        l->depth_reader = 1;
    }
    if (cfg->metrics_addr && !shared) {
        struct hookd_server_opts mo = {.addr = cfg->metrics_addr};
        if ((rc = hookd_server_start(&mo, metrics, nm, &l->metrics, why)) != 0) {
            hookd_fail(errbuf, rc, "metrics-addr: %s", why);
            goto fail;
        }
    }
    if (!cfg->api_addr)
        return 0;
    /* The API serves the first namespace (docs/operations.md). */
    if ((rc = hookd_api_new(&r->ns[0], &l->api_state, errbuf)) != 0)
        goto fail;
    const struct hookd_route *api = hookd_api_routes(l->api_state, &n);
    rc = routes_add(&l->table, &len, api, n);
    const struct hookd_route *console = hookd_console_routes(&n);
    if (rc == 0)
        rc = routes_add(&l->table, &len, console, n);
    if (rc == 0 && shared)
        rc = routes_add(&l->table, &len, metrics, nm);
    if (rc) {
        hookd_fail(errbuf, rc, "api: out of memory");
        goto fail;
    }
    struct hookd_server_opts ao = {.addr = cfg->api_addr,
                                   .token = cfg->api_token,
                                   .token_len = cfg->api_token ? strlen(cfg->api_token) : 0};
    if ((rc = hookd_server_start(&ao, l->table, len, &l->api, why)) != 0) {
        hookd_fail(errbuf, rc, "api-addr: %s", why);
        goto fail;
    }
    return 0;
fail:
    listeners_stop(l);
    return rc;
}

/* Logs the start line: the loops and namespaces of r, the Redis address with
 * its password shown as "***", and the metrics and API addresses. */
static void log_start(const struct hookd_config *cfg, const struct run *r)
{
    char err[HOOKD_ERRLEN];
    struct hookd_redis_addr addr;
    struct hookd_buf redis, names;
    int n = r->nns;
    hookd_buf_init(&redis, 2048);
    hookd_buf_init(&names, 4096);
    int rc = hookd_redis_url_parse(cfg->redis_url, &addr, err);
    if (rc == 0)
        rc = hookd_redis_url_redact(&addr, &redis);
    explicit_bzero(addr.password, sizeof(addr.password));
    for (int i = 0; i < n; i++)
        (void)hookd_buf_addf(&names, "%s{%s}", i ? "," : "", r->ns[i].prefix);
    hookd_info("hookd %s starting: %d threads, %s %s, redis %s, metrics %s, api %s%s%s%s%s",
               HOOKD_VERSION, r->per_ns * n, n > 1 ? "namespaces" : "prefix",
               names.data ? names.data : "(unknown)", rc == 0 ? redis.data : "(unknown)",
               cfg->metrics_addr ? cfg->metrics_addr : "off", cfg->api_addr ? cfg->api_addr : "off",
               cfg->api_addr && n > 1 ? " (namespace {" : "",
               cfg->api_addr && n > 1 ? r->ns[0].prefix : "", cfg->api_addr && n > 1 ? "})" : "",
               !cfg->api_addr   ? ""
               : cfg->api_token ? " (bearer token)"
                                : " (no token set: every API route answers 401)");
    hookd_buf_free(&redis);
    hookd_buf_free(&names);
}

static int run(struct hookd_config *cfg)
{
    char err[HOOKD_ERRLEN];
    if (hookd_config_check(cfg, err) != 0) {
        fprintf(stderr, "hookd: %s\n", err);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    /* Every delivery allocates and frees the same few sizes (curl, OpenSSL,
     * hiredis). glibc's default returns a thread arena's free top to the
     * kernel as soon as 128 KiB lie free and grows it again on the next
     * allocation: an mprotect or madvise every few hundred deliveries and a
     * slow path through malloc each time. Keeping up to 32 MiB free is
     * bounded and ends that churn (30,000 deliveries: 38 madvise and 333
     * mprotect before, none and 87 after, those 87 the heaps' first
     * growth). */
    mallopt(M_TRIM_THRESHOLD, 32 << 20);
    mallopt(M_TOP_PAD, 1 << 20);
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fprintf(stderr, "hookd: cannot initialise libcurl\n");
        return 1;
    }
    struct run r = {0};
    if (namespaces_plan(cfg, &r) != 0) {
        fprintf(stderr, "hookd: %d namespaces need more than %d event loops\n",
                hookd_config_count_namespaces(cfg), MAX_THREADS);
        curl_global_cleanup();
        return 2;
    }
    hookd_metrics_set_loops(r.per_ns * r.nns);
    if (hookd_redis_watch_start(cfg, err) != 0) {
        fprintf(stderr, "hookd: %s\n", err);
        free(r.ns);
        curl_global_cleanup();
        return 1;
    }
    struct listeners l;
    if (listeners_start(cfg, &r, &l, err) != 0) {
        fprintf(stderr, "hookd: %s\n", err);
        hookd_redis_watch_stop();
        free(r.ns);
        curl_global_cleanup();
        return 1;
    }
    uv_loop_t *loop = uv_default_loop();
    uv_signal_init(loop, &r.sigterm);
    uv_signal_init(loop, &r.sigint);
    r.sigterm.data = r.sigint.data = &r;
    uv_signal_start(&r.sigterm, on_signal, SIGTERM);
    uv_signal_start(&r.sigint, on_signal, SIGINT);

    log_start(cfg, &r);
    int status = 0;
    for (; r.n < r.per_ns * r.nns; r.n++) {
        const struct hookd_config *nc = &r.ns[r.n / r.per_ns];
        if (r.nns > 1)
            hookd_info("worker %d serves namespace {%s}", r.n, nc->prefix);
        const struct hookd_worker_place place = {
            .index = r.n, .ns = r.n / r.per_ns, .lead = r.n % r.per_ns == 0};
        int rc = hookd_worker_start(nc, &place, &r.workers[r.n]);
        if (rc) {
            hookd_error("cannot start worker %d: %s", r.n, hookd_strerror(rc));
            status = 1;
            for (int i = 0; i < r.n; i++)
                hookd_worker_stop(r.workers[i]);
            uv_close((uv_handle_t *)&r.sigterm, NULL);
            uv_close((uv_handle_t *)&r.sigint, NULL);
            break;
        }
    }
    uv_run(loop, UV_RUN_DEFAULT);
    for (int i = 0; i < r.n; i++)
        hookd_worker_join(r.workers[i]);
    listeners_stop(&l);
    hookd_redis_watch_stop();
    free(r.ns);
    uv_loop_close(loop);
    curl_global_cleanup();
    hookd_info("stopped");
    return status;
}

int main(int argc, char **argv)
{
    struct hookd_config cfg;
    char err[HOOKD_ERRLEN];
    if (hookd_config_init(&cfg) != 0) {
        fprintf(stderr, "hookd: out of memory\n");
        return 1;
    }
    if (hookd_config_load(&cfg, &argc, argv, environ, err) != 0) {
        fprintf(stderr, "hookd: %s\n", err);
        hookd_config_free(&cfg);
        return 2;
    }
    hookd_log_setup(cfg.log_level, cfg.log_format);
    int status;
    const char *cmd = argc > 1 ? argv[1] : "";
    if (strcmp(cmd, "run") == 0 && argc == 2) {
        status = run(&cfg);
    } else if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
        printf("hookd %s\n%s\n", HOOKD_VERSION, hookd_redis_tls_describe());
        status = 0;
    } else if (!*cmd || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        FILE *out = *cmd ? stdout : stderr;
        fputs(USAGE, out);
        hookd_config_usage(out);
        status = *cmd ? 0 : 2;
    } else if (strcmp(cmd, "run") == 0 && run_wants_help(argc, argv)) {
        fputs(USAGE_RUN, stdout);
        hookd_config_usage(stdout);
        status = 0;
    } else if (strcmp(cmd, "run") == 0) {
        fprintf(stderr, "hookd: run: unexpected argument '%s'\n", argv[2]);
        status = 2;
    } else {
        status = hookd_cli_main(&cfg, argc - 1, argv + 1);
    }
    hookd_config_free(&cfg);
    return status;
}
