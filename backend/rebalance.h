/*
 * rebalance.h - which queues to move between sidecores so that their loads
 * even out: the dry run of a rebalance (OVS-DPDK's PMD auto load balance,
 * in the small).
 *
 * Input: each core's load over the last interval (busy time / interval,
 * 0..1) and each queue's core and busy time in that interval (its visits
 * and flushes: SC_QSTAT_BUSY_NS).  A queue's load is estimated as its share
 * of its core's queue time times the core's load, so the core's own work
 * (reaping, submitting, the scheduler) is carried along in proportion.
 *
 * The plan: while the busiest core's load exceeds the idlest one's by at
 * least `spread`, move the queue of the busiest core that lowers the larger
 * of the two loads the most, if by at least `min_gain`; at most `max_moves`
 * moves, each queue at most once, and never a queue marked unmovable.  The
 * loads are updated with each planned move (that is the estimate the
 * caller logs and shows).  Pure arithmetic: any thread, no allocation.
 */
#ifndef SC_REBALANCE_H
#define SC_REBALANCE_H

#include <stdbool.h>
#include <stdint.h>

struct sc_rb_params {
    double spread;      /* loads this far apart call for a move (0.25: a quarter of a core) */
    double min_gain;    /* a move must lower the pair's larger load this much (0.05) */
    unsigned max_moves; /* per plan */
};

struct sc_rb_queue {
    unsigned core;    /* index into the cores' loads */
    uint64_t busy_ns; /* in the interval */
    bool movable;     /* false: failed, removing, moving, or pinned */
};

struct sc_rb_move {
    unsigned queue;    /* index into the queues */
    unsigned from, to; /* core indexes */
    double load;       /* the queue's estimated load */
    double from_after, to_after; /* the two cores' estimated loads after it */
};

/* Fills the defaults (spread 0.25, min_gain 0.05, max_moves 4). */
void sc_rb_params_default(struct sc_rb_params *p);

/* Plans moves for queues[0..nqueues-1] over loads[0..ncores-1] (updated in
 * place to the estimate after the moves).  Returns how many it wrote to
 * moves (room for p->max_moves).  0 when balanced enough, when nothing on
 * the busiest core can move, or when no move gains min_gain. */
unsigned sc_rb_plan(const struct sc_rb_params *p, double *loads, unsigned ncores,
                    const struct sc_rb_queue *queues, unsigned nqueues, struct sc_rb_move *moves);

#endif
