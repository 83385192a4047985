/*
 * balancer.h - moving queues between the pool's sidecores when their loads
 * drift apart (OVS-DPDK's PMD auto load balance, for guests' rings).
 *
 * Contract: the control thread calls sc_balancer_tick() often (the daemon:
 * every views tick); every interval_ns it measures each core's load (busy
 * time / interval) and each attached queue's busy time in the interval
 * (SC_QSTAT_BUSY_NS), and plans with rebalance.h.  A plan that has held
 * `sustain` intervals in a row is carried out (sc_move_queue for each
 * move), then nothing moves for `cooldown` intervals, so a move's effect is
 * measured before the next.  Queues that are moving, detaching, failed, or
 * moved during the interval are not moved.  sc_balancer_rebalance() plans
 * at once from the last complete interval (sidecorectl rebalance), carried
 * out unless dry_run, whatever `enabled` says.  Each queue's load of the
 * last interval and why it is on its core are kept in the queue for the
 * views (sc_queue.load_ppm, .placed).
 *
 * Poll mode with two cores or more; otherwise nothing happens.
 * Threads: control thread only.  Returns 0 or -errno; NULL + errno.
 */
#ifndef SC_BALANCER_H
#define SC_BALANCER_H

#include <stdbool.h>
#include <stdint.h>

#include "corepool.h"
#include "rebalance.h"

#define SC_BALANCER_INTERVAL_DEFAULT_NS 1000000000ull
#define SC_BALANCER_MAX_MOVES 16u

struct sc_balancer_params {
    bool enabled;          /* move by itself [true] */
    uint64_t interval_ns;  /* measurement interval [1 s], 10 ms .. 1 h */
    unsigned sustain;      /* intervals the plan must hold [2] */
    unsigned cooldown;     /* intervals without moves after some [2] */
    struct sc_rb_params plan; /* rebalance.h's defaults; max_moves <= SC_BALANCER_MAX_MOVES */
    /* An adaptive number of sidecores (the pool's active ones, corepool.h),
     * between min_cores and all: when every active core is busier than
     * grow_load for `sustain` intervals, one more is made active (the next
     * plans move queues to it); when the active cores' loads would fit on
     * one core fewer at shrink_load each for 2 * `sustain` intervals, the
     * idlest is emptied (its queues moved to the others) and made inactive,
     * so it sleeps.  0: no change of count. */
    unsigned min_cores;
    double grow_load;    /* [0.75] */
    double shrink_load;  /* [0.5] */
};

void sc_balancer_params_default(struct sc_balancer_params *p);

struct sc_balancer_move {
    char queue[48];
    char from[16], to[16];
    double load;                  /* the queue's estimated load */
    double from_after, to_after;  /* the two cores' estimates after */
    int result;                   /* sc_move_queue's (0 when dry) */
};

struct sc_balancer_report {
    uint64_t interval_ns;   /* of the measurement the plan used (0: none yet) */
    unsigned ncores;
    char core[SC_POOL_MAX_CORES][16];
    double load[SC_POOL_MAX_CORES];       /* measured */
    double estimate[SC_POOL_MAX_CORES];   /* after the planned moves */
    unsigned nmoves;
    struct sc_balancer_move moves[SC_BALANCER_MAX_MOVES];
};

struct sc_balancer_stats {
    uint64_t intervals;    /* measured */
    unsigned active_cores; /* the cores taking queues now */
    uint64_t cores_added, cores_parked;
    uint64_t rebalances;   /* plans carried out (by itself or asked) */
    uint64_t moves;        /* queues moved */
    uint64_t move_errors;  /* sc_move_queue refusals */
};

struct sc_balancer;

/* An interval counts towards the capacity measurement when the queues kept
 * the cores busy at least this share of one core (less is mostly the
 * fixed cost of a visit, not what a busy core serves). */
#define SC_BALANCER_CAPACITY_MIN_LOAD 0.2

/* NULL + EINVAL for bad params. */
struct sc_balancer *sc_balancer_create(struct sc_pool *pool, const struct sc_balancer_params *p);
void sc_balancer_destroy(struct sc_balancer *b);
/* Changes the settings live (the streak and cooldown restart). */
int sc_balancer_set_params(struct sc_balancer *b, const struct sc_balancer_params *p);
void sc_balancer_get_params(const struct sc_balancer *b, struct sc_balancer_params *out);

void sc_balancer_tick(struct sc_balancer *b, uint64_t now_ns);
/* 0 (out filled; nmoves 0 when balanced enough), -EOPNOTSUPP (event mode
 * or one core), -EAGAIN (no interval measured yet). */
int sc_balancer_rebalance(struct sc_balancer *b, bool dry_run, struct sc_balancer_report *out);
/* The last automatic or asked-for plan that moved something (nmoves 0: none yet). */
/* What one sidecore served per second of its queues' busy time (requests,
 * bytes), smoothed over the intervals busy enough to say
 * (SC_BALANCER_CAPACITY_MIN_LOAD); zeros until one was.  Admission of
 * reservations (admission.h) uses it when no capacity is configured. */
void sc_balancer_capacity(const struct sc_balancer *b, struct sc_sched_rate *per_core);
void sc_balancer_last(const struct sc_balancer *b, struct sc_balancer_report *out);
void sc_balancer_stats(const struct sc_balancer *b, struct sc_balancer_stats *out);

#endif
