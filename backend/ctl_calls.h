/*
 * ctl_calls.h - how the control socket's server thread has a method run by
 * the thread that owns the daemon's state (ctl.h: sc_ctl_start), with a
 * deadline, and the published views it answers from when that thread is
 * busy.  Internal to ctl.c and ctl_calls.c.
 *
 * A call is posted (mutex + an eventfd the owner polls) and the server
 * waits for it until the deadline.  The owner runs posted calls in
 * sc_ctl_dispatch.  A call the server gave up on is still run (a
 * set-tenant is not lost), and freed by whichever side finishes last.
 * Views (SC_CTL_VIEW methods) are published by the owner with
 * sc_ctl_publish_views(); an expired call to a view without params is
 * answered from the last publication, marked with its age.
 */
#ifndef SC_CTL_CALLS_H
#define SC_CTL_CALLS_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "ctl.h"

struct ctl_call;

struct ctl_view {
    json_t *result;       /* last publication, or NULL */
    uint64_t published_ns;
};

struct ctl_calls {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct ctl_call *head, *tail; /* posted, not yet taken by the owner */
    int efd;                      /* readable while calls wait for the owner */
    int timeout_ms;
    struct ctl_view *views;       /* one per method (unused for non-views) */
    unsigned nmethods;
};

int ctl_calls_init(struct ctl_calls *cc, unsigned nmethods, int timeout_ms);
void ctl_calls_destroy(struct ctl_calls *cc);
/* Server thread: runs m by the owner within the deadline; falls back to
 * the view's publication.  The result (new reference) or NULL + err. */
json_t *ctl_calls_run(struct ctl_calls *cc, const struct sc_ctl_method *methods,
                      const struct sc_ctl_method *m, void *ctx, json_t *params,
                      struct sc_ctl_error *err);
/* Owner thread: runs what was posted.  Number run. */
unsigned ctl_calls_dispatch(struct ctl_calls *cc, void *ctx);
/* Owner thread: runs every view (no params) and publishes the results. */
void ctl_calls_publish(struct ctl_calls *cc, const struct sc_ctl_method *methods, void *ctx);
/* Any thread: a deep copy of view idx's last publication and its time, or
 * NULL when there is none yet (or no memory). */
json_t *ctl_calls_view_copy(struct ctl_calls *cc, unsigned idx, uint64_t *published_ns);

#endif
