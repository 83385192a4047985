/*
 * rate_cell.c - the generic cell rate algorithm over one atomic word
 * (rate_cell.h).
 */
#include "rate_cell.h"

void sc_rate_cell_set(struct sc_rate_cell *c, uint64_t ns_per_kunit, uint64_t burst_ns)
{
    atomic_store_explicit(&c->burst_ns, burst_ns, memory_order_relaxed);
    atomic_store_explicit(&c->ns_per_kunit, ns_per_kunit, memory_order_release);
}

void sc_rate_cell_set_rate(struct sc_rate_cell *c, uint64_t per_s, uint64_t burst_ns)
{
    uint64_t per_k = 0;
    if (per_s) {
        per_k = 1024000000000ull / per_s;
        if (per_k == 0)
            per_k = 1; /* faster than 1024 units per ns: as good as unlimited, but limited */
    }
    sc_rate_cell_set(c, per_k, burst_ns);
}

/* The cost of `units` and the room it must fit in; false if unlimited. */
static bool cost_of(struct sc_rate_cell *c, uint64_t units, uint64_t *cost, uint64_t *room)
{
    uint64_t per_k = atomic_load_explicit(&c->ns_per_kunit, memory_order_acquire);
    if (!per_k)
        return false;
    uint64_t burst = atomic_load_explicit(&c->burst_ns, memory_order_relaxed);
    unsigned __int128 x = ((unsigned __int128)units * per_k + 1023) / 1024;
    *cost = x > UINT64_MAX / 4 ? UINT64_MAX / 4 : (uint64_t)x;
    *room = *cost > burst ? *cost : burst;
    return true;
}

bool sc_rate_cell_take(struct sc_rate_cell *c, uint64_t units, uint64_t now_ns,
                       uint64_t *retry_ns)
{
    uint64_t cost, room;
    if (!cost_of(c, units, &cost, &room))
        return true;
    uint64_t tat = atomic_load_explicit(&c->tat_ns, memory_order_relaxed);
    for (;;) {
        uint64_t start = tat > now_ns ? tat : now_ns;
        if (start - now_ns + cost > room) {
            if (retry_ns)
                *retry_ns = start + cost - room;
            return false;
        }
        if (atomic_compare_exchange_weak_explicit(&c->tat_ns, &tat, start + cost,
                                                  memory_order_relaxed, memory_order_relaxed))
            return true;
    }
}

uint64_t sc_rate_cell_wait_ns(struct sc_rate_cell *c, uint64_t units, uint64_t now_ns)
{
    uint64_t cost, room;
    if (!cost_of(c, units, &cost, &room))
        return 0;
    uint64_t tat = atomic_load_explicit(&c->tat_ns, memory_order_relaxed);
    uint64_t start = tat > now_ns ? tat : now_ns;
    return start - now_ns + cost > room ? start + cost - room : 0;
}
