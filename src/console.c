/* console.c - serves the console's files, embedded at build time
 * (console/ -> cmake/console_embed.cmake -> hookd_console_files[]).
 *
 * GET / is index.html and GET /console/NAME is one file by its exact name:
 * a name is looked up in the table, never joined to a path on disk, so no
 * request can reach anything the build did not embed. The files hold no
 * data (the pages fetch /v1 with the user's token), so the routes need no
 * auth. The Content-Security-Policy (default-src 'self') is a <meta> tag in
 * index.html while struct hookd_response has no field for extra headers. */
#include "hookd/console.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "hookd/console_files.h"

#define CONSOLE_PREFIX "/console/"
#define CONSOLE_INDEX "index.html"

/* The embedded file called name, or NULL. */
static const struct hookd_console_file *console_find(const char *name)
{
    for (size_t i = 0; i < hookd_console_files_n; i++)
        if (strcmp(hookd_console_files[i].name, name) == 0)
            return &hookd_console_files[i];
    return NULL;
}

/* Fills resp with a 404 problem document naming path (escaped by jansson).
 * Returns 0 or HOOKD_ENOMEM / HOOKD_ETOOBIG. */
static int console_not_found(struct hookd_response *resp, const char *path)
{
    char detail[HOOKD_ERRLEN];
    char quoted[HOOKD_QUOTE_LEN];
    snprintf(detail, sizeof(detail), "no console file '%s'",
             hookd_quote(quoted, path, strlen(path)));
    json_t *doc = json_pack("{s:s, s:s, s:i, s:s}", "type", "about:blank", "title", "Not Found",
                            "status", 404, "detail", detail);
    char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    if (!text)
        return HOOKD_ENOMEM;
    resp->status = 404;
    resp->content_type = "application/problem+json";
    hookd_buf_reset(&resp->body);
    int rc = hookd_buf_adds(&resp->body, text);
    free(text);
    return rc;
}

/* The route function of both rows: "/" answers index.html, "/console/NAME"
 * the file NAME; anything else a 404 problem. */
static int console_serve(void *arg, const struct hookd_request *req, struct hookd_response *resp)
{
    (void)arg;
    const char *name = NULL;
    if (strcmp(req->path, "/") == 0)
        name = CONSOLE_INDEX;
    else if (strncmp(req->path, CONSOLE_PREFIX, strlen(CONSOLE_PREFIX)) == 0)
        name = req->path + strlen(CONSOLE_PREFIX);
    const struct hookd_console_file *f = name ? console_find(name) : NULL;
    if (!f)
        return console_not_found(resp, req->path);
    resp->status = 200;
    resp->content_type = f->content_type;
    hookd_buf_reset(&resp->body);
    return hookd_buf_add(&resp->body, f->data, f->len);
}

static const struct hookd_route console_routes[] = {
    {"GET", "/", console_serve, NULL, 0},
    {"GET", CONSOLE_PREFIX "...", console_serve, NULL, 0},
};

const struct hookd_route *hookd_console_routes(size_t *n)
{
    *n = sizeof(console_routes) / sizeof(console_routes[0]);
    return console_routes;
}
