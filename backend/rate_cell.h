/*
 * rate_cell.h - a rate limit as one atomic word, shared by any threads:
 * the generic cell rate algorithm (GCRA).  The word is the theoretical
 * time the link is free again (`tat`); n units cost n * ns_per_kunit /
 * 1024 ns of it; they pass when what is owed, their own cost included,
 * fits in the burst (a burst's worth passes at once), and n units costing
 * more than the burst pass once the cell was silent for their own cost.
 * Used by a vif's `rate` (net_rate.h) and a guest's per-direction disk
 * limits (dirlimit.h), whose queues may run on several sidecores.
 *
 * Contract: any thread; set and take race benignly (a take sees the old
 * or the new rate).  ns_per_kunit 0 = unlimited (a zeroed cell is).
 * sc_rate_cell_take: true to go now, else false with *retry_ns, the
 * CLOCK_MONOTONIC time it would pass; a compare-and-swap loop.
 * sc_rate_cell_wait_ns: the same question without taking (0: passes now).
 */
#ifndef SC_RATE_CELL_H
#define SC_RATE_CELL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

struct sc_rate_cell {
    _Atomic uint64_t ns_per_kunit; /* time of 1024 units; 0 = unlimited */
    _Atomic uint64_t burst_ns;
    _Atomic uint64_t tat_ns;       /* when the link is free again */
};

/* Sets the cost of 1024 units and the burst (any thread). */
void sc_rate_cell_set(struct sc_rate_cell *c, uint64_t ns_per_kunit, uint64_t burst_ns);
/* The same from a rate in units per second (0 = unlimited). */
void sc_rate_cell_set_rate(struct sc_rate_cell *c, uint64_t per_s, uint64_t burst_ns);
bool sc_rate_cell_take(struct sc_rate_cell *c, uint64_t units, uint64_t now_ns,
                       uint64_t *retry_ns);
uint64_t sc_rate_cell_wait_ns(struct sc_rate_cell *c, uint64_t units, uint64_t now_ns);

static inline bool sc_rate_cell_limited(const struct sc_rate_cell *c)
{
    return atomic_load_explicit((_Atomic uint64_t *)&c->ns_per_kunit, memory_order_relaxed) != 0;
}

#endif
