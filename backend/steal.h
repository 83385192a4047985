/*
 * steal.h - whether the sidecores' vCPUs own their CPUs, and polling that
 * backs off when they do not.
 *
 * A sidecore pays off only when its vCPU has a physical CPU to itself
 * (ELVIS dedicates cores); a polling vCPU that shares one takes that
 * CPU's time from whoever shares it, the guests included, and is itself
 * preempted mid-poll.  Steal, the time a vCPU was runnable but not running,
 * says which case we are in.  Every tick (the daemon's views tick, 500 ms)
 * this module asks the platform (xen.h, sc_xen_vcpu_place) where each
 * poll-mode core's vCPU runs and how much steal it accrued.  When a core's
 * steal stays above backoff_pct for `hold` ticks in a row, the core is told
 * to back off (sc_core_post_backoff: it sleeps as soon as a round finds no
 * work, as in event mode); when it stays below resume_pct as long, to poll
 * again.  Both are logged and counted.
 *
 * Threads: control thread only (create, tick, view, destroy).  Destroy
 * after the pool: a back-off command's answer comes back through the
 * pool's reply inbox and points into this module.  Event mode: nothing is
 * sampled (its threads float and never poll).  Returns 0 or -errno; NULL +
 * errno.
 */
#ifndef SC_STEAL_H
#define SC_STEAL_H

#include <stdbool.h>
#include <stdint.h>

#include "corepool.h"
#include "xen.h"

#define SC_STEAL_BACKOFF_PCT_DEFAULT 10u
#define SC_STEAL_HOLD_DEFAULT 4u    /* ticks: 2 s at the views' 500 ms */

struct sc_steal_params {
    unsigned backoff_pct;   /* back off above this steal (percent of the tick); 0: never */
    unsigned resume_pct;    /* poll again below this (< backoff_pct) */
    unsigned hold;          /* ticks in a row either way, >= 1 */
};
/* backoff SC_STEAL_BACKOFF_PCT_DEFAULT, resume half of it, hold SC_STEAL_HOLD_DEFAULT. */
void sc_steal_params_default(struct sc_steal_params *p);

/* What the views show of one core. */
struct sc_steal_view {
    int vcpu;                   /* the vCPU it ran on last; -1 unknown */
    bool placed;                /* place holds what the platform said */
    struct sc_vcpu_place place;
    double steal_pct;           /* over the last tick; < 0 unknown */
    bool backed_off;
    uint64_t backoffs, resumes; /* times it backed off / polled again */
};

struct sc_steal;
struct sc_steal *sc_steal_create(struct sc_xen *x, struct sc_pool *pool,
                                 const struct sc_steal_params *p);
void sc_steal_destroy(struct sc_steal *s);
void sc_steal_tick(struct sc_steal *s, uint64_t now_ns);
/* 0 and *out, or -ENOENT (a core never sampled: event mode, or new). */
int sc_steal_view(const struct sc_steal *s, const struct sc_core *core,
                  struct sc_steal_view *out);

#endif
