/* api.c - the HTTP API under /v1. (Routes land here; see api.h.) */
#include "hookd/api.h"

#include <stdlib.h>

struct hookd_api {
    const struct hookd_config *cfg; /* outlives the api */
};

int hookd_api_new(const struct hookd_config *cfg, struct hookd_api **out, char *errbuf)
{
    struct hookd_api *api = calloc(1, sizeof(*api));
    if (!api)
        return hookd_fail(errbuf, HOOKD_ENOMEM, "api: out of memory");
    api->cfg = cfg;
    *out = api;
    return 0;
}

const struct hookd_route *hookd_api_routes(struct hookd_api *api, size_t *n)
{
    (void)api;
    *n = 0;
    return NULL;
}

void hookd_api_free(struct hookd_api *api)
{
    free(api);
}
