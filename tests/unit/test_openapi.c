/* test_openapi.c - the API's route table and docs/openapi.json (as the
 * build embedded it) describe the same operations: every route is in the
 * document with its method, every operation of the document is a route, and
 * each names its answers. What the answers look like is walked against a
 * real worker in tests/integration/test_openapi.py. */
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "hookd/api.h"
#include "hookd/config.h"
#include "hookd/console_files.h"

#include "check.h"

/* OpenAPI writes methods in lower case, the route table in upper case. */
static void lower(const char *in, char *out, size_t cap)
{
    size_t i = 0;
    for (; in[i] && i + 1 < cap; i++)
        out[i] = (char)(in[i] >= 'A' && in[i] <= 'Z' ? in[i] - 'A' + 'a' : in[i]);
    out[i] = '\0';
}

static int is_method(const char *k)
{
    static const char *const methods[] = {"get", "post", "put", "patch", "delete"};
    for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
        if (strcmp(k, methods[i]) == 0)
            return 1;
    return 0;
}

int main(void)
{
    struct hookd_config cfg;
    struct hookd_api *api = NULL;
    char err[HOOKD_ERRLEN], m[16];
    json_error_t jerr;
    size_t n = 0, described = 0;

    CHECK(hookd_openapi_files_n == 1);
    json_t *doc =
        json_loadb((const char *)hookd_openapi_files[0].data, hookd_openapi_files[0].len, 0, &jerr);
    CHECK(doc != NULL);
    CHECK_STR(json_string_value(json_object_get(doc, "openapi")), "3.1.0");
    json_t *paths = json_object_get(doc, "paths");
    CHECK(json_is_object(paths));

    CHECK(hookd_config_init(&cfg) == 0);
    CHECK(hookd_api_new(&cfg, &api, err) == 0);
    const struct hookd_route *r = hookd_api_routes(api, &n);
    CHECK(n > 10);
    for (size_t i = 0; i < n; i++) {
        lower(r[i].method, m, sizeof(m));
        json_t *op = json_object_get(json_object_get(paths, r[i].pattern), m);
        if (!op)
            fprintf(stderr, "route %s %s is not in docs/openapi.json\n", r[i].method, r[i].pattern);
        CHECK(op != NULL);
        CHECK(json_object_size(json_object_get(op, "responses")) > 0);
        CHECK(json_object_get(json_object_get(op, "responses"), "401") != NULL);
        CHECK(r[i].auth == 1);
    }

    const char *path, *k;
    json_t *item, *v;
    json_object_foreach(paths, path, item)
    {
        json_object_foreach(item, k, v)
        {
            if (!is_method(k))
                continue;
            described++;
            int found = 0;
            for (size_t i = 0; i < n && !found; i++) {
                lower(r[i].method, m, sizeof(m));
                found = strcmp(r[i].pattern, path) == 0 && strcmp(m, k) == 0;
            }
            if (!found)
                fprintf(stderr, "docs/openapi.json: %s %s is not a route\n", k, path);
            CHECK(found);
        }
    }
    CHECK(described == n);
    hookd_api_free(api);
    json_decref(doc);
    hookd_config_free(&cfg);
    return CHECK_REPORT();
}
