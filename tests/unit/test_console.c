/* test_console.c - the console's route table and its handler, called
 * directly (the server is not needed to judge what a request is answered):
 * index and assets with their content types, the CSP meta tag, and 404
 * problems for names the build did not embed. */
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "hookd/console.h"
#include "hookd/console_files.h"

#include "check.h"

/* Calls the route matching method and path the way the server would (a
 * "/..." pattern matches any rest); returns the route's result, -100 when
 * no route matches. */
static int call(const char *method, const char *path, struct hookd_response *resp)
{
    size_t n = 0;
    const struct hookd_route *routes = hookd_console_routes(&n);
    struct hookd_request req = {.method = method, .path = path, .body = "", .body_len = 0};
    for (size_t i = 0; i < n; i++) {
        const char *p = routes[i].pattern;
        size_t plen = strlen(p);
        int rest = plen >= 4 && strcmp(p + plen - 4, "/...") == 0;
        int match = rest ? strncmp(path, p, plen - 3) == 0 : strcmp(path, p) == 0;
        if (match && strcmp(routes[i].method, method) == 0) {
            resp->status = 200;
            resp->content_type = "application/json";
            resp->location = NULL;
            hookd_buf_init(&resp->body, HOOKD_SERVER_REPLY_MAX);
            return routes[i].fn(routes[i].arg, &req, resp);
        }
    }
    return -100;
}

static void check_file(const char *path, const char *type, const char *needle)
{
    struct hookd_response r;
    CHECK(call("GET", path, &r) == 0);
    CHECK(r.status == 200);
    CHECK_STR(r.content_type, type);
    CHECK(r.body.len > 0 && strstr(r.body.data, needle) != NULL);
    hookd_buf_free(&r.body);
}

static void check_404(const char *path)
{
    struct hookd_response r;
    int rc = call("GET", path, &r);
    if (rc == -100) { /* no route at all: the server's own 404 */
        passed++;
        return;
    }
    CHECK(rc == 0);
    CHECK(r.status == 404);
    CHECK_STR(r.content_type, "application/problem+json");
    json_error_t err;
    json_t *doc = json_loadb(r.body.data, r.body.len, 0, &err);
    CHECK(doc != NULL);
    CHECK(json_integer_value(json_object_get(doc, "status")) == 404);
    CHECK_STR(json_string_value(json_object_get(doc, "title")), "Not Found");
    const char *detail = json_string_value(json_object_get(doc, "detail"));
    CHECK(detail && strstr(detail, "no console file") != NULL);
    json_decref(doc);
    hookd_buf_free(&r.body);
}

int main(void)
{
    size_t n = 0;
    const struct hookd_route *routes = hookd_console_routes(&n);
    CHECK(n == 2);
    for (size_t i = 0; i < n; i++) {
        CHECK_STR(routes[i].method, "GET");
        CHECK(routes[i].auth == 0); /* static files: they hold no data */
    }

    /* Every embedded file is served at /console/NAME with its bytes. */
    CHECK(hookd_console_files_n >= 3);
    for (size_t i = 0; i < hookd_console_files_n; i++) {
        const struct hookd_console_file *f = &hookd_console_files[i];
        char path[256];
        snprintf(path, sizeof(path), "/console/%s", f->name);
        struct hookd_response r;
        CHECK(call("GET", path, &r) == 0);
        CHECK(r.status == 200 && r.body.len == f->len);
        CHECK(r.body.len == f->len && memcmp(r.body.data, f->data, f->len) == 0);
        CHECK(f->data[f->len] == 0);
        hookd_buf_free(&r.body);
    }

    check_file("/", "text/html; charset=utf-8",
               "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'self'\">");
    check_file("/", "text/html; charset=utf-8", "/console/app.js");
    check_file("/console/index.html", "text/html; charset=utf-8", "<title>hookd console</title>");
    check_file("/console/app.js", "text/javascript; charset=utf-8", "Authorization");
    check_file("/console/app.css", "text/css; charset=utf-8", "body");

    /* The CSP forbids inline code: no page may carry any. */
    struct hookd_response r;
    CHECK(call("GET", "/", &r) == 0);
    CHECK(strstr(r.body.data, "<script>") == NULL && strstr(r.body.data, "style=") == NULL &&
          strstr(r.body.data, "onclick") == NULL && strstr(r.body.data, "https://") == NULL);
    hookd_buf_free(&r.body);
    /* The script builds the DOM from text only. */
    CHECK(call("GET", "/console/app.js", &r) == 0);
    CHECK(strstr(r.body.data, "innerHTML") == NULL &&
          strstr(r.body.data, "insertAdjacentHTML") == NULL);
    hookd_buf_free(&r.body);

    check_404("/console/nope.js");
    check_404("/console/");
    check_404("/console/../console/app.js");
    check_404("/console/app.js/");
    check_404("/console/APP.JS");
    check_404("/console/sub/app.js");
    check_404("/console/\"<x>\\\n");
    check_404("/index.html");

    /* A handler is given paths that no route would pass it, too. */
    struct hookd_request odd = {.method = "GET", .path = "/elsewhere", .body = ""};
    hookd_buf_init(&r.body, HOOKD_SERVER_REPLY_MAX);
    CHECK(routes[0].fn(routes[0].arg, &odd, &r) == 0 && r.status == 404);
    hookd_buf_free(&r.body);

    return CHECK_REPORT();
}
