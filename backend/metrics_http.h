/*
 * metrics_http.h - the metrics endpoint: HTTP (libmicrohttpd) on a TCP
 * address or a Unix socket, answering GET /metrics with what a render
 * callback writes.
 *
 * Contract: sc_metrics_http_open() binds and listens at once (so a daemon
 * can refuse to start before it touches anything, with a message in err
 * saying what to do); connections wait in the backlog until
 * sc_metrics_http_start() hands the socket to libmicrohttpd's own thread.
 * From then on `render` runs on that thread, once per scrape: it must only
 * read state that is safe from any thread (the daemon's: the control
 * socket's published views, ctl.h), never a sidecore's or the control
 * thread's.  GET and HEAD on /metrics; 404 elsewhere, 405 for other
 * methods, 503 when render fails.  At most SC_METRICS_HTTP_CONNS clients at
 * once, each idle one dropped after SC_METRICS_HTTP_TIMEOUT_S.
 * sc_metrics_http_close() stops the thread (waiting for a scrape being
 * rendered), closes the socket and removes a Unix socket's file.
 * Threads: open/start/where/close on one owner thread.
 * Returns: pointer returners NULL + errno; others 0 or -errno.
 */
#ifndef SC_METRICS_HTTP_H
#define SC_METRICS_HTTP_H

#include <stddef.h>
#include <stdio.h>

#include "metrics_addr.h"

#define SC_METRICS_HTTP_CONNS     16
#define SC_METRICS_HTTP_TIMEOUT_S 10

/* Writes the exposition to out.  0, or -errno (the scrape gets a 503). */
typedef int sc_metrics_render_fn(void *ctx, FILE *out);

struct sc_metrics_http;

/* Listens on a (not off).  NULL + errno, with a one-line message in err:
 * EADDRINUSE (another process listens there), EACCES, EADDRNOTAVAIL (not
 * an address of this host), or the socket call's error.  A Unix socket's
 * stale file is replaced; one a live process answers on is refused
 * (EADDRINUSE).  The file gets mode 0660. */
struct sc_metrics_http *sc_metrics_http_open(const struct sc_metrics_addr *a, char *err,
                                             size_t errlen);
/* Serves from a thread of libmicrohttpd's from now on.  0 or -errno. */
int sc_metrics_http_start(struct sc_metrics_http *m, sc_metrics_render_fn *render, void *ctx);
/* Where it listens, with the port it got for port 0: "127.0.0.1:9464". */
const char *sc_metrics_http_where(const struct sc_metrics_http *m);
/* NULL is a no-op. */
void sc_metrics_http_close(struct sc_metrics_http *m);

#endif
