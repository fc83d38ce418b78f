/* cli_kit.c - what every CLI command shares: the flag parser, the error
 * line, quoting of untrusted text, JSON output, Redis calls, secrets and the
 * command-table runner. It calls no command. */
#include "hookd/cli_kit.h"

#include <errno.h>
#include <hiredis/hiredis.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hookd/redis.h"

int hookd_cli_err(int code, const char *fmt, ...)
{
    char line[HOOKD_ERRLEN * 2];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    fflush(stdout);
    fprintf(stderr, "hookd: %s\n", line);
    return code;
}

const char *hookd_cli_quote(const char *s, char out[HOOKD_CLI_QUOTE_LEN])
{
    size_t i;
    for (i = 0; s[i] && i < 64; i++) {
        unsigned char ch = (unsigned char)s[i];
        out[i] = (ch < 0x20 || ch > 0x7e) ? '?' : (char)ch;
    }
    if (s[i] && i + 3 < HOOKD_CLI_QUOTE_LEN) {
        memcpy(out + i, "...", 3);
        i += 3;
    }
    out[i] = '\0';
    return out;
}

/* Finds the option called name (name_len bytes, "--url"), or NULL. Options
 * whose name is NULL are switched off. */
static struct hookd_cli_opt *find_opt(struct hookd_cli_opt *opts, size_t nopts, const char *name,
                                      size_t name_len)
{
    for (size_t i = 0; i < nopts; i++) {
        if (opts[i].name && strlen(opts[i].name) == name_len &&
            memcmp(opts[i].name, name, name_len) == 0)
            return &opts[i];
    }
    return NULL;
}

int hookd_cli_parse(const char *cmd, int argc, char **argv, struct hookd_cli_opt *opts,
                    size_t nopts, const char **pos, int maxpos, int *npos)
{
    char q[HOOKD_CLI_QUOTE_LEN];
    int flags_done = 0;

    *npos = 0;
    for (size_t i = 0; i < nopts; i++)
        opts[i].value = NULL;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (flags_done || a[0] != '-' || strcmp(a, "-") == 0) {
            if (*npos >= maxpos)
                return hookd_cli_err(2, "%s: unexpected argument '%s'", cmd, hookd_cli_quote(a, q));
            pos[(*npos)++] = a;
            continue;
        }
        if (strcmp(a, "--") == 0) {
            flags_done = 1;
            continue;
        }
        const char *eq = strchr(a, '=');
        size_t name_len = eq ? (size_t)(eq - a) : strlen(a);
        struct hookd_cli_opt *o = a[1] == '-' ? find_opt(opts, nopts, a, name_len) : NULL;
        if (!o) {
            char name[HOOKD_CLI_QUOTE_LEN];
            hookd_cli_quote(a, name);
            if (name_len < sizeof(name))
                name[name_len] = '\0';
            return hookd_cli_err(2, "%s: unknown option %s; try `hookd help %s`", cmd, name, cmd);
        }
        if (o->value)
            return hookd_cli_err(2, "%s: %s given twice", cmd, o->name);
        if (!o->takes_value) {
            if (eq)
                return hookd_cli_err(2, "%s: %s takes no value", cmd, o->name);
            o->value = "";
        } else if (eq) {
            o->value = eq + 1;
        } else if (i + 1 < argc) {
            o->value = argv[++i];
        } else {
            return hookd_cli_err(2, "%s: %s needs a value", cmd, o->name);
        }
    }
    return 0;
}

int hookd_cli_count(const char *cmd, const char *s, long long max, long long *out)
{
    int64_t v;
    if (hookd_parse_i64(s, 1, max, &v) != 0)
        return hookd_cli_err(2, "%s: --count must be a whole number from 1 to %lld", cmd, max);
    *out = v;
    return 0;
}

int hookd_cli_print_json(json_t *j)
{
    char *s = j ? json_dumps(j, JSON_PRESERVE_ORDER | JSON_COMPACT) : NULL;
    json_decref(j);
    if (!s)
        return hookd_cli_err(1, "out of memory");
    fputs(s, stdout);
    fputc('\n', stdout);
    free(s);
    return 0;
}

int hookd_cli_read_secret(const char *cmd, const char *value, const char *file, char *out,
                          size_t cap)
{
    char q[HOOKD_CLI_QUOTE_LEN];
    struct hookd_buf b;
    int code = 0;
    if (value && file)
        return hookd_cli_err(2, "%s: give --secret or --secret-file, not both", cmd);
    if (value && strcmp(value, "-") != 0) {
        if (strlen(value) >= cap)
            return hookd_cli_err(2, "%s: --secret is over %zu bytes", cmd, cap - 1);
        hookd_str_copy(out, cap, value);
        return 0;
    }
    FILE *f = value ? stdin : fopen(file, "rb");
    if (!f)
        return hookd_cli_err(2, "%s: --secret-file %s: %s", cmd, hookd_cli_quote(file, q),
                             strerror(errno));
    hookd_buf_init(&b, cap - 1);
    char chunk[512];
    size_t n;
    while (code == 0 && (n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        if (hookd_buf_add(&b, chunk, n) != 0)
            code = hookd_cli_err(2, "%s: the secret in %s is over %zu bytes", cmd,
                                 value ? "standard input" : hookd_cli_quote(file, q), cap - 1);
    }
    if (code == 0 && ferror(f))
        code = hookd_cli_err(2, "%s: cannot read the secret: %s", cmd, strerror(errno));
    if (f != stdin)
        fclose(f);
    /* One line ending is the file's, not the secret's. */
    size_t len = b.len;
    if (len && b.data[len - 1] == '\n')
        len--;
    if (len && b.data[len - 1] == '\r')
        len--;
    if (code == 0 && len == 0)
        code = hookd_cli_err(2, "%s: the secret is empty", cmd);
    if (code == 0 && memchr(b.data, '\0', len))
        code = hookd_cli_err(2, "%s: the secret holds a NUL byte", cmd);
    if (code == 0) {
        memcpy(out, b.data, len);
        out[len] = '\0';
    }
    if (b.data)
        explicit_bzero(b.data, b.len);
    hookd_buf_free(&b);
    explicit_bzero(chunk, sizeof(chunk));
    return code;
}

static const char HELP_TAIL[] =
    "Every option of `hookd --help` may be given too; see docs/cli.md.\n";

/* The row of rows (NULL allowed) called word, or NULL. */
static const struct hookd_cli_cmd *row_find(const struct hookd_cli_cmd *rows, const char *word)
{
    for (; rows && rows->name; rows++) {
        if (strcmp(rows->name, word) == 0)
            return rows;
    }
    return NULL;
}

/* Prints the help of row, whose words are path ("webhook add"), on out:
 * its synopsis, its paragraph, its flags aligned, its subcommands. */
static void help_print(FILE *out, const char *path, const struct hookd_cli_cmd *row)
{
    int w = 0;
    fprintf(out, "usage: hookd %s%s%s\n", path, row->synopsis[0] ? " " : "", row->synopsis);
    fputs(row->about, out);
    for (const struct hookd_cli_flag *f = row->flags; f && f->name; f++) {
        int n = (int)strlen(f->name) + (f->value ? 1 + (int)strlen(f->value) : 0);
        w = n > w ? n : w;
    }
    for (const struct hookd_cli_cmd *s = row->subs; s && s->name; s++)
        w = (int)strlen(s->name) > w ? (int)strlen(s->name) : w;
    for (const struct hookd_cli_flag *f = row->flags; f && f->name; f++) {
        char left[128];
        snprintf(left, sizeof(left), "%s%s%s", f->name, f->value ? " " : "",
                 f->value ? f->value : "");
        fprintf(out, "  %-*s  %s\n", w, left, f->meaning);
    }
    for (const struct hookd_cli_cmd *s = row->subs; s && s->name; s++)
        fprintf(out, "  %-*s  %s%s\n", w, s->name, s->synopsis, "");
    if (row->subs)
        fprintf(out, "`hookd help %s SUBCOMMAND` explains each.\n", path);
    fputs(HELP_TAIL, out);
}

/* Whether --help or -h is among argv[1..argc) before a "--". */
static int help_asked(int argc, char **argv)
{
    for (int k = 1; k < argc && strcmp(argv[k], "--") != 0; k++) {
        if (strcmp(argv[k], "--help") == 0 || strcmp(argv[k], "-h") == 0)
            return 1;
    }
    return 0;
}

int hookd_cli_run_table(const struct hookd_cli_cmd *table, const char *prefix,
                        const struct hookd_config *cfg, int argc, char **argv)
{
    char q[HOOKD_CLI_QUOTE_LEN], path[128];
    const struct hookd_cli_cmd *row = row_find(table, argv[0]);
    if (!row)
        return hookd_cli_err(2, "%s%sunknown %s '%s'; try `hookd help%s%s`", prefix,
                             prefix[0] ? ": " : "", prefix[0] ? "subcommand" : "command",
                             hookd_cli_quote(argv[0], q), prefix[0] ? " " : "", prefix);
    snprintf(path, sizeof(path), "%s%s%s", prefix, prefix[0] ? " " : "", row->name);
    const struct hookd_cli_cmd *sub = argc > 1 ? row_find(row->subs, argv[1]) : NULL;
    if (sub && help_asked(argc - 1, argv + 1)) {
        char sub_path[160];
        snprintf(sub_path, sizeof(sub_path), "%s %s", path, sub->name);
        help_print(stdout, sub_path, sub);
        return 0;
    }
    if (help_asked(argc, argv)) {
        help_print(stdout, path, row);
        return 0;
    }
    if (row->fn)
        return row->fn(cfg, argc, argv);
    if (argc < 2) {
        help_print(stderr, path, row);
        return 2;
    }
    return hookd_cli_run_table(row->subs, path, cfg, argc - 1, argv + 1);
}

/* Prints "hookd PATH SYNOPSIS" lines for row, or its subs if it has any, the first
 * after "usage: ", the others indented under it. */
static void help_lines(const char *prefix, const struct hookd_cli_cmd *row, int *first)
{
    char path[128];
    snprintf(path, sizeof(path), "%s%s%s", prefix, prefix[0] ? " " : "", row->name);
    if (!row->subs) {
        printf("%shookd %s%s%s\n", *first ? "usage: " : "       ", path,
               row->synopsis[0] ? " " : "", row->synopsis);
        *first = 0;
    }
    for (const struct hookd_cli_cmd *s = row->subs; s && s->name; s++)
        help_lines(path, s, first);
}

int hookd_cli_help(const struct hookd_cli_cmd *table, int argc, char **argv)
{
    char q[HOOKD_CLI_QUOTE_LEN], path[160] = "";
    const struct hookd_cli_cmd *row = NULL, *rows = table;
    int first = 1;
    if (argc == 0) {
        for (const struct hookd_cli_cmd *r = table; r->name; r++)
            help_lines("", r, &first);
        fputs("`hookd help COMMAND [SUBCOMMAND]` or `hookd COMMAND --help` explains each;\n"
              "`hookd run` starts the worker, whose options `hookd --help` lists.\n",
              stdout);
        fputs(HELP_TAIL, stdout);
        return 0;
    }
    for (int i = 0; i < argc; i++) {
        if (!(row = row_find(rows, argv[i])))
            return hookd_cli_err(2, "help: no command '%s'; try `hookd help`",
                                 hookd_cli_quote(argv[i], q));
        size_t len = strlen(path);
        snprintf(path + len, sizeof(path) - len, "%s%s", len ? " " : "", row->name);
        rows = row->subs;
    }
    help_print(stdout, path, row);
    return 0;
}

size_t hookd_cli_opts_from(const struct hookd_cli_flag *flags, struct hookd_cli_opt *opts,
                           size_t cap)
{
    size_t n = 0;
    for (; flags && flags->name && n < cap; flags++, n++) {
        opts[n].name = flags->name;
        opts[n].takes_value = flags->value != NULL;
        opts[n].value = NULL;
    }
    return n;
}

int hookd_cli_flags_has(const struct hookd_cli_flag *flags, const char *name)
{
    for (; flags && flags->name; flags++) {
        if (strcmp(flags->name, name) == 0)
            return 1;
    }
    return 0;
}

/* The text of member v of a list row into out (cap bytes), at most width
 * bytes with "..." at a cut, control and non-ASCII bytes as '?'. */
static void cell_text(const json_t *v, int width, char *out, size_t cap)
{
    char raw[1024];
    const char *s = raw;
    if (!v || json_is_null(v))
        s = "-";
    else if (json_is_string(v))
        s = json_string_value(v);
    else if (json_is_true(v))
        s = "yes";
    else if (json_is_false(v))
        s = "no";
    else if (json_is_integer(v))
        snprintf(raw, sizeof(raw), "%lld", (long long)json_integer_value(v));
    else if (json_is_array(v)) {
        size_t i, len = 0;
        const json_t *e;
        raw[0] = '\0';
        json_array_foreach(v, i, e)
        {
            if (len < sizeof(raw))
                len += (size_t)snprintf(raw + len, sizeof(raw) - len, "%s%s", i ? "," : "",
                                        json_is_string(e) ? json_string_value(e) : "?");
        }
    } else {
        s = "?";
    }
    size_t n = 0, max = (size_t)width < cap - 1 ? (size_t)width : cap - 1;
    for (; s[n] && n < max; n++) {
        unsigned char ch = (unsigned char)s[n];
        out[n] = (ch < 0x20 || ch > 0x7e) ? '?' : (char)ch;
    }
    if (s[n] && n >= 3)
        memcpy(out + n - 3, "...", 3);
    out[n] = '\0';
}

#define LIST_COLS_MAX 16
#define LIST_CELL_MAX 128

int hookd_cli_print_list(json_t *a, const struct hookd_cli_column *cols, size_t ncols, int json)
{
    size_t i, rows = json_array_size(a);
    int w[LIST_COLS_MAX];
    json_t *o;
    char cell[LIST_CELL_MAX];

    if (json || !isatty(STDOUT_FILENO) || ncols > LIST_COLS_MAX) {
        json_array_foreach(a, i, o)
        {
            if (hookd_cli_print_json(json_incref(o)) != 0)
                return 1;
        }
        return 0;
    }
    for (size_t c = 0; c < ncols; c++)
        w[c] = (int)strlen(cols[c].header);
    json_array_foreach(a, i, o)
    {
        for (size_t c = 0; c < ncols; c++) {
            cell_text(json_object_get(o, cols[c].key), cols[c].width, cell, sizeof(cell));
            w[c] = (int)strlen(cell) > w[c] ? (int)strlen(cell) : w[c];
        }
    }
    for (size_t c = 0; c < ncols; c++)
        printf("%-*s%s", c + 1 < ncols ? w[c] : 0, cols[c].header, c + 1 < ncols ? "  " : "\n");
    for (i = 0; i < rows; i++) {
        o = json_array_get(a, i);
        for (size_t c = 0; c < ncols; c++) {
            cell_text(json_object_get(o, cols[c].key), cols[c].width, cell, sizeof(cell));
            printf("%-*s%s", c + 1 < ncols ? w[c] : 0, cell, c + 1 < ncols ? "  " : "\n");
        }
    }
    return 0;
}
