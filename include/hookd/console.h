/* console.h - the web console: static HTML, CSS and JavaScript built into the
 * binary (console/), served on the API address. No CDN, no network at run
 * time; the pages call /v1 with the token the user gives them. */
#ifndef HOOKD_CONSOLE_H
#define HOOKD_CONSOLE_H

#include <stddef.h>

#include "hookd/server.h"

/* The console's route table (GET of "/" and its files; static, n rows). */
const struct hookd_route *hookd_console_routes(size_t *n);

#endif
