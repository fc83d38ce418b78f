/* config.h - every option hookd knows, as one table.
 *
 * Each option has a long flag (--redis-url), an environment variable of the
 * same name (HOOKD_REDIS_URL), a default, bounds and a help line. Flags win
 * over the environment, the environment over the default. A file option
 * (--redis-url-file) gives another option (--redis-url) its value from a
 * file; the two count as one option for that rule, so a flag of either wins
 * over a variable of either, and both given at the same level is an error.
 * The table in config.c is the only place an option is described; usage
 * text and docs/configuration.md are generated from it. */
#ifndef HOOKD_CONFIG_H
#define HOOKD_CONFIG_H

#include <stdint.h>
#include <stdio.h>

#include "hookd/common.h"
#include "hookd/net.h"

enum hookd_log_format { HOOKD_LOG_TEXT = 0, HOOKD_LOG_JSON = 1 };
enum hookd_log_level {
    HOOKD_LOG_DEBUG = 0,
    HOOKD_LOG_INFO = 1,
    HOOKD_LOG_WARN = 2,
    HOOKD_LOG_ERROR = 3,
};

/* Resolved configuration. Strings are owned by the struct and freed by
 * hookd_config_free(); durations are in milliseconds. */
struct hookd_config {
    char *redis_url;                /* redis://[user:pass@]host[:port][/db] or unix:///path */
    char *redis_url_file;           /* the file redis_url was read from, or NULL */
    char *redis_ca_file;            /* PEM CAs a rediss:// server must chain to; NULL: system's */
    char *redis_cert_file;          /* PEM client certificate (chain) for rediss://, or NULL */
    char *redis_key_file;           /* PEM private key of redis_cert_file, or NULL */
    char *prefix;                   /* key namespace; keys are "{prefix}:..."; a comma list
                                     * when nnamespaces > 1 (ask hookd_config_namespace()) */
    int shards;                     /* --shards N: namespaces prefix:0 ... prefix:N-1; 0 off */
    char **namespaces;              /* nnamespaces names from --prefix or --shards, owned */
    int nnamespaces;                /* 0 (just prefix), or how many names namespaces holds */
    int threads;                    /* event loops in `run`; default: CPU count */
    int concurrency;                /* deliveries in flight per process */
    int host_concurrency;           /* deliveries in flight per receiver host */
    int64_t timeout_ms;             /* whole attempt, connecting included */
    int64_t connect_timeout_ms;     /* TCP + TLS connect */
    int64_t retry_base_ms;          /* first retry delay */
    double retry_factor;            /* growth per attempt */
    int64_t retry_max_delay_ms;     /* cap on one delay */
    int max_attempts;               /* attempts before the dead list */
    int64_t lease_ms;               /* how long taken work stays with a worker */
    int64_t redis_timeout_ms;       /* a Redis reply this late ends the connection */
    int64_t drain_timeout_ms;       /* SIGTERM grace */
    int64_t probe_max_ms;           /* longest interval between circuit probes */
    int64_t disable_after_ms;       /* failing window before auto-disable, 0: off */
    struct hookd_netlist allow_net; /* non-public ranges that may be reached */
    char *allow_net_text;           /* allow_net as given, for display */
    char *metrics_addr;             /* host:port for /metrics, or NULL when off */
    char *api_addr;                 /* host:port for the API and console, or NULL when off */
    char *api_token;                /* the API's bearer token, or NULL; never logged */
    char *api_token_file;           /* the file api_token was read from, or NULL */
    char *ops_url;                  /* where operational events are POSTed, or NULL */
    char *ops_secret;               /* the whsec_ secret that signs them, or NULL */
    char *ops_secret_file;          /* the file ops_secret was read from, or NULL */
    enum hookd_log_level log_level;
    enum hookd_log_format log_format;
    int64_t max_envelope; /* bytes; larger envelopes go to the dead list */
    int batch;            /* events taken per Redis round trip */
    int dead_max;         /* entries kept in the dead list */
    int log_max;          /* entries kept per webhook attempt log stream */
    uint64_t from_flag;   /* bit i: option i of the table was given as a flag */
};

#define HOOKD_NAMESPACES_MAX 256 /* namespaces one hookd serves (a loop each at least) */

/* How many namespaces cfg serves: 1, or the names of --prefix a,b,c, or
 * --shards N. */
int hookd_config_count_namespaces(const struct hookd_config *cfg);

/* Fills out with cfg for namespace i (0 <= i < the count): a shallow copy,
 * its prefix that namespace's name. out borrows cfg's strings: it lives no
 * longer than cfg, and is never given to hookd_config_free(). */
void hookd_config_namespace(const struct hookd_config *cfg, int i, struct hookd_config *out);

/* The namespace (index) an event of workspace goes to: the first 4 bytes of
 * SHA-256 of the workspace, big-endian, modulo the count; 0 without a
 * workspace or with one namespace. docs/producers.md gives the same rule in
 * six languages. */
int hookd_config_namespace_of(const struct hookd_config *cfg, const char *workspace);

/* Fills cfg with the defaults. Never fails but for ENOMEM. */
int hookd_config_init(struct hookd_config *cfg);
void hookd_config_free(struct hookd_config *cfg);

/* Applies HOOKD_* variables from envp (NULL-terminated, like environ), then
 * the options found in argv. Option words are removed from argv in place;
 * the words left (the subcommand and its own arguments) are compacted to the
 * front and their count is stored in *argc (argv[*argc] is set to NULL).
 * "--name value" and "--name=value" both work; a value may not start with
 * "--". "--" ends option parsing and is left in argv with every word after
 * it. Unknown --flags that are not config options are left in argv for the
 * subcommand. An empty HOOKD_* variable counts as unset; unknown HOOKD_*
 * variables are ignored. Last, a file option that won (see above) is read
 * and its content, without one trailing newline, applied as the value of
 * the option it stands for; a file that lost is not read.
 * On failure returns HOOKD_EINVAL, HOOKD_ERANGE, HOOKD_ETOOBIG or (a file
 * that cannot be read) HOOKD_EIO with a one-line reason naming the option
 * in errbuf; a file's content is never in it. */
int hookd_config_load(struct hookd_config *cfg, int *argc, char **argv, char **envp, char *errbuf);

/* Sets one option by its long name (without dashes) from text. A file
 * option only records its path here; hookd_config_load reads the file. */
int hookd_config_set(struct hookd_config *cfg, const char *name, const char *value, char *errbuf);

/* Checks the relations between options (lease > timeout, connect-timeout <=
 * timeout, ...). Returns HOOKD_EINVAL with the reason in errbuf. */
int hookd_config_check(const struct hookd_config *cfg, char *errbuf);

/* 1 when the option called name (without dashes) was given as a flag on
 * this command line, not only by the environment or its default: for
 * subcommands whose flags of the same name mean their own thing
 * (`webhook add --timeout` is the webhook's). */
int hookd_config_from_flag(const struct hookd_config *cfg, const char *name);

/* Prints one line per option: flag, variable, default, help. */
void hookd_config_usage(FILE *out);
/* Prints the option table as a Markdown table (docs/configuration.md). */
void hookd_config_markdown(FILE *out);

/* "500ms", "10s", "5m", "12h", "1d"; a bare number is seconds. Bounded to
 * [0, 30 days]. */
int hookd_duration_parse(const char *s, int64_t *ms);

/* How a Redis URL finds its server. */
enum hookd_redis_mode {
    HOOKD_REDIS_DIRECT,   /* redis://, rediss://, unix://: the URL's host */
    HOOKD_REDIS_SENTINEL, /* redis-sentinel://: the master the sentinels name */
    HOOKD_REDIS_CLUSTER,  /* redis-cluster://: the primary owning the namespace's slot */
};

#define HOOKD_REDIS_SEEDS_MAX 16 /* hosts in a sentinel or cluster URL */

/* One host:port. */
struct hookd_redis_node {
    char host[256]; /* hostname or address */
    int port;       /* TCP port */
};

/* Parsed Redis address. */
struct hookd_redis_addr {
    char host[256];     /* hostname or address; empty for unix sockets (sentinel, cluster:
                         * empty until located) */
    int port;           /* TCP port */
    char path[256];     /* unix socket path, or empty */
    char user[128];     /* ACL user, or empty */
    char password[256]; /* password, or empty; never logged */
    int db;             /* database number */
    int tls;            /* TLS (rediss...://), the certificate checked against host */
    enum hookd_redis_mode mode;
    char master[128]; /* sentinel: the master's name */
    int nseeds;       /* sentinel: sentinels; cluster: nodes to ask for the slot map */
    struct hookd_redis_node seeds[HOOKD_REDIS_SEEDS_MAX];
};

/* Parses redis://[[user]:pass@]host[:port][/db], the same with rediss://
 * (TLS; refused, saying why, by a build without it), unix:///path[?db=N],
 * redis-sentinel://[[user]:pass@]host[:port][,host[:port]...]/MASTER[/db]
 * (port 26379 by default; the credentials are the master's, and a
 * sentinel's too when it asks for them) and
 * redis-cluster://[[user]:pass@]host[:port][,host[:port]...], both also
 * with rediss-. Capped at 1024 bytes. User, password, master and path are
 * percent-decoded; as in redis-cli, "pass@" without a colon is a password.
 * IPv6 hosts go in brackets and are stored without them. The error never
 * contains the password; on failure *out is zeroed. */
int hookd_redis_url_parse(const char *url, struct hookd_redis_addr *out, char *errbuf);

/* Appends a's address to out as a URL fit for logs: the password, when
 * there is one, is "***"; user and path are percent-encoded; port and
 * database are explicit ("redis://user:***@127.0.0.1:6379/0", "rediss://...",
 * "redis://[::1]:6390/3", "unix:///run/redis.sock?db=2"). Returns 0, or
 * HOOKD_ETOOBIG / HOOKD_ENOMEM with out as it was. */
int hookd_redis_url_redact(const struct hookd_redis_addr *a, struct hookd_buf *out);

#endif
