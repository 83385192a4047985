/*
 * grace.h - a grace period over a pool's sidecores: learning, without
 * waiting, that every core has finished the round it was in when the
 * period began.
 *
 * Why: data shared between cores without locks (a switch's port table,
 * where one core looks up another core's queue) is unpublished first and
 * freed only once no core can still be using what it read before.  Cores
 * run commands between rounds, so a no-op CALL posted to every core and
 * answered by all of them ends such a period (RCU's quiescent state, with
 * the round as the read-side section).  Cores created after the start
 * cannot hold old pointers and are not asked.
 *
 * Contract: sc_grace_start() posts the CALLs; done(g) runs on the control
 * thread (from sc_pool_reap) once every core answered, or from inside
 * sc_grace_start when the pool has no core.  A core that exits first
 * answers too.  Nothing runs once the pool is closing (corepool.h): an
 * owner then leaves its memory to the process's exit.  g must stay valid
 * until done ran.
 *
 * Threads: the control thread (the pool's).  Returns 0 or -errno.
 */
#ifndef SC_GRACE_H
#define SC_GRACE_H

#include "corepool.h"
#include "sidecore.h"

struct sc_grace {
    void *owner;                       /* the caller's */
    void (*done)(struct sc_grace *g);  /* required */
    /* the helper's */
    unsigned pending;
    struct sc_core_cmd cmds[SC_POOL_MAX_CORES];
};

/* 0 (done follows, maybe before this returns) or -EINVAL/-EBUSY (a period
 * of g is still running). */
int sc_grace_start(struct sc_grace *g, struct sc_pool *pool);

#endif
