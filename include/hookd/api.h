/* api.h - the HTTP API under /v1 (docs/api.md, docs/openapi.json).
 *
 * Its routes run on the server's threads (server.h) and talk to Redis with
 * hiredis' synchronous API, through a small pool of connections the api
 * object owns. Every judgement (a webhook record, an envelope) is the one
 * the worker and the CLI use. */
#ifndef HOOKD_API_H
#define HOOKD_API_H

#include <stddef.h>

#include "hookd/config.h"
#include "hookd/server.h"

struct hookd_api; /* opaque */

/* An API over the Redis of cfg (which outlives it). Returns 0 or
 * HOOKD_ENOMEM with the reason in errbuf. Free with hookd_api_free() after
 * the servers that use its routes have stopped. */
int hookd_api_new(const struct hookd_config *cfg, struct hookd_api **out, char *errbuf);

/* The API's route table (n rows, auth set on each), living as long as api. */
const struct hookd_route *hookd_api_routes(struct hookd_api *api, size_t *n);

void hookd_api_free(struct hookd_api *api);

#endif
