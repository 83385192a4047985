/*
 * queue_attach.h - the control thread's half of the queue contract: putting
 * a device's queue on a sidecore and taking it back, without ever waiting
 * for the core.
 *
 * Attach: a core from the pool for the queue's guest, the frontend's event
 * channels bound on that core's handle (none, one or two ports; a port may serve
 * several queues), the add posted.  Detach: the removal posted; once the
 * core acknowledges (the queue is idle: quiesced, its I/O completed) the
 * ports are unbound, the core released, and the caller's `detached`
 * callback runs.  Every step is recorded, so a detach after a partial
 * attach undoes exactly what was done, and a failing step undoes the
 * earlier ones.  Callbacks run on the control thread, from sc_pool_reap();
 * none runs once the pool is being destroyed (sc_pool_closing): a queue
 * still on a core then is left to the process's exit.
 *
 * Move (the rebalancer's, balancer.h): the queue taken off its core as a
 * detach does (REMOVE, drained, never quiesced: nothing in flight is
 * failed, nothing unanswered is left), its ports unbound, then bound on
 * the target core and added there.  The queue keeps its ring indices, its
 * staged responses and its memory, so a move loses and reorders nothing;
 * while it moves it is on no core: the guest's requests wait in its ring,
 * and the ADD polls it at once.  A detach asked for meanwhile ends the
 * move where it is (detached() once it is off the old core).  A failure to
 * land (the target refuses, a port cannot be bound) is reported through
 * added(a, -errno) like a refused attach, and the queue is on no core.
 * Every attached queue is on its pool's list (sc_pool_attached), in
 * attach order, until it is detached.
 *
 * A group: a device's queues taken back together (sc_detach_group), with
 * one callback once the last of them is off its core, so a device class
 * frees each queue in its own `detached` and ends its disconnect in the
 * group's `done`, without counting anything itself.
 *
 * Threads: control thread only (the pool's).  Returns 0 or -errno.
 */
#ifndef SC_QUEUE_ATTACH_H
#define SC_QUEUE_ATTACH_H

#include <stdbool.h>

#include "corepool.h"
#include "queue.h"
#include "sidecore.h"

struct sc_attach;
struct sc_attach_group;
/* result: 0, or the -errno the core refused the queue with. */
typedef void sc_attach_fn(struct sc_attach *a, int result);
typedef void sc_attach_group_fn(struct sc_attach_group *g);

struct sc_attach {
    /* --- the caller's: set before sc_attach_queue --- */
    void *owner;
    sc_attach_fn *added;    /* optional: the core took the queue or refused it */
    sc_attach_fn *detached; /* required: after sc_detach_queue, all undone */

    /* --- the helper's --- */
    struct sc_queue *q;
    struct sc_pool *pool;
    struct sc_core *core;     /* acquired (and the add posted), or NULL */
    unsigned nports;          /* bound on core's handle */
    bool remove_posted;
    struct sc_attach_group *group; /* the group detaching it, or NULL */
    struct sc_core_cmd add_cmd, remove_cmd;
    evtchn_port_t remote[SC_QUEUE_MAX_PORTS]; /* the frontend's ports (a move binds them again) */
    unsigned nremote;
    struct sc_attach *pool_next, *pool_prev; /* the pool's list of attached queues */
    bool listed;
    bool moving;             /* off its old core, on its way to move_to */
    bool detach_after_move;  /* a detach came while moving */
    struct sc_core *move_to;
    uint64_t moves;          /* times it was moved */
    uint64_t moved_ns;       /* when the last move landed (CLOCK_MONOTONIC), 0: never */
    uint64_t busy_seen_ns;   /* the balancer's: its busy_ns at the last look */
    uint64_t requests_seen, bytes_seen; /* ... and its requests and bytes */
};

/* Attaches q (initialised, ports unset) for guest q->domid: the frontend's
 * event channels remote[0..nremote-1] (0 to 2) are bound and become
 * q->ports.  A queue without any (a switch's host port, fed by a TAP fd it
 * watches) is attached the same way.  0 (added() follows) or -errno, with everything undone. */
int sc_attach_queue(struct sc_attach *a, struct sc_pool *pool, struct sc_queue *q,
                    const evtchn_port_t *remote, unsigned nremote);
/* Takes the queue back.  0: detached() follows (maybe from inside this
 * call when nothing was on a core); -EALREADY if already detaching. */
int sc_detach_queue(struct sc_attach *a);
/* True between a successful sc_attach_queue and the detached() callback. */
static inline bool sc_attach_busy(const struct sc_attach *a)
{
    return a->core != NULL || a->moving;
}

/* Moves a's queue to core `to` of the same pool (poll mode).  0 (the move
 * is under way: done when the queue is added there), -EALREADY (it is on
 * `to`), -EBUSY (not on a core, detaching or moving), -EOPNOTSUPP (event
 * mode: a core per queue), -EINVAL, or the post's -errno. */
int sc_move_queue(struct sc_attach *a, struct sc_core *to);

/* The first attached queue of pool (then a->pool_next), or NULL. */
struct sc_attach *sc_pool_attached(struct sc_pool *pool);

struct sc_attach_group {
    /* --- the caller's: set before sc_detach_group --- */
    void *owner;
    sc_attach_group_fn *done; /* required: every member's detached() has run */

    /* --- the helper's --- */
    unsigned pending;         /* members still on their way off, +1 while posting */
};

/* Takes back members[0..n-1] (each attached or not, as sc_detach_queue
 * takes it), in that order, without waiting.  Each member's detached()
 * runs as its core lets go (or from inside this call when it was on none);
 * then, once, g->done().  A member that cannot be taken back (its removal
 * already posted alone, or the post failed) is logged with its queue's
 * name and not waited for.  1: done() follows from sc_pool_reap(); 0: it
 * has run already (nothing was left on a core); -EALREADY while g is
 * detaching; -EINVAL without done. */
int sc_detach_group(struct sc_attach_group *g, struct sc_attach *const *members, unsigned n);
/* True from a sc_detach_group that returned 1 until done() runs. */
static inline bool sc_detach_group_busy(const struct sc_attach_group *g)
{
    return g->pending != 0;
}

#endif
