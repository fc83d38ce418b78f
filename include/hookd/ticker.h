/* ticker.h - a thread of its own that does one round of work at once and
 * then every so often, until stopped: the metrics' depth reader and the
 * sentinel watcher (redis_watch.h). */
#ifndef HOOKD_TICKER_H
#define HOOKD_TICKER_H

#include <stdint.h>

struct hookd_ticker; /* opaque */

/* Starts a thread that calls round(arg) at once and then again every_ms
 * after each round ends, until hookd_ticker_stop(). arg lives longer than
 * the ticker. 0 with *out set, or HOOKD_ENOMEM / HOOKD_EIO with the reason
 * in errbuf. */
int hookd_ticker_start(void (*round)(void *arg), void *arg, uint64_t every_ms,
                       struct hookd_ticker **out, char *errbuf);

/* Cuts the wait short, waits for a round in progress to end, joins the
 * thread and frees t. NULL does nothing. Not from the ticker's own thread. */
void hookd_ticker_stop(struct hookd_ticker *t);

#endif
