/*
 * rebalance.c - the rebalance dry run (rebalance.h).
 */
#include "rebalance.h"

#include <stddef.h>

#define RB_MAX_CORES 64u

void sc_rb_params_default(struct sc_rb_params *p)
{
    p->spread = 0.25;
    p->min_gain = 0.05;
    p->max_moves = 4;
}

static double max2(double a, double b)
{
    return a > b ? a : b;
}

unsigned sc_rb_plan(const struct sc_rb_params *p, double *loads, unsigned ncores,
                    const struct sc_rb_queue *queues, unsigned nqueues, struct sc_rb_move *moves)
{
    if (!p || !loads || ncores < 2 || ncores > RB_MAX_CORES || (nqueues && !queues) || !moves)
        return 0;
    /* a queue's load: its share of its core's queue time, by the loads as
     * measured (a planned move changes the cores' loads, not the queue's) */
    uint64_t core_busy[RB_MAX_CORES] = { 0 };
    double measured[RB_MAX_CORES];
    for (unsigned c = 0; c < ncores; c++)
        measured[c] = loads[c];
    for (unsigned i = 0; i < nqueues; i++)
        if (queues[i].core < ncores)
            core_busy[queues[i].core] += queues[i].busy_ns;

    unsigned n = 0;
    uint64_t moved[(RB_MAX_CORES * 64 + 63) / 64] = { 0 }; /* up to 4096 queues tracked */
    while (n < p->max_moves) {
        unsigned hi = 0, lo = 0;
        for (unsigned c = 1; c < ncores; c++) {
            if (loads[c] > loads[hi])
                hi = c;
            if (loads[c] < loads[lo])
                lo = c;
        }
        if (loads[hi] - loads[lo] < p->spread)
            break;
        unsigned best = nqueues;
        double best_gain = 0, best_load = 0;
        for (unsigned i = 0; i < nqueues; i++) {
            const struct sc_rb_queue *q = &queues[i];
            if (q->core != hi || !q->movable || !q->busy_ns)
                continue;
            if (i >= sizeof(moved) * 8 || (moved[i / 64] >> (i % 64) & 1))
                continue; /* planned already (or beyond what is tracked) */
            double ql = measured[hi] * (double)q->busy_ns / (double)core_busy[hi];
            double gain = loads[hi] - max2(loads[hi] - ql, loads[lo] + ql);
            if (gain > best_gain) {
                best = i;
                best_gain = gain;
                best_load = ql;
            }
        }
        if (best == nqueues || best_gain < p->min_gain)
            break;
        moved[best / 64] |= 1ull << (best % 64);
        loads[hi] -= best_load;
        loads[lo] += best_load;
        moves[n++] = (struct sc_rb_move){
            .queue = best, .from = hi, .to = lo, .load = best_load,
            .from_after = loads[hi], .to_after = loads[lo],
        };
    }
    return n;
}
