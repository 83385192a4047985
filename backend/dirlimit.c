/*
 * dirlimit.c - per-direction disk limits of a guest (dirlimit.h).
 */
#include "dirlimit.h"

#include <stdlib.h>

struct sc_dir_entry {
    struct sc_dir_entry *next;
    uint16_t domid;
    struct sc_dir_limit limit;
};

void sc_dir_limit_set(struct sc_dir_limit *l, const struct sc_dir_rates *r)
{
    bool any = false;
    for (unsigned d = 0; d < SC_DIR__COUNT; d++) {
        sc_rate_cell_set_rate(&l->iops[d], r->dir[d].iops, SC_DIR_BURST_NS);
        sc_rate_cell_set_rate(&l->bps[d], r->dir[d].bps, SC_DIR_BURST_NS);
        any |= r->dir[d].iops || r->dir[d].bps;
    }
    atomic_store_explicit(&l->any, any, memory_order_release);
}

uint64_t sc_dir_limit_take(struct sc_dir_limit *l, enum sc_dir d, uint64_t bytes,
                           uint64_t now_ns)
{
    /* Both dimensions must pass before either is taken, so a request held
     * back by its bytes does not spend a request's worth.  Another core may
     * take in between: it then overshoots by its one request, no more. */
    uint64_t wait = sc_rate_cell_wait_ns(&l->iops[d], 1, now_ns);
    uint64_t wait_b = sc_rate_cell_wait_ns(&l->bps[d], bytes, now_ns);
    if (wait_b > wait)
        wait = wait_b;
    if (!wait) {
        uint64_t retry = 0;
        if (sc_rate_cell_take(&l->iops[d], 1, now_ns, &retry) &&
            sc_rate_cell_take(&l->bps[d], bytes, now_ns, &retry))
            return 0;
        /* lost a race for the last of the burst: the bytes' share may be
         * gone too, the next try settles it */
        wait = retry > now_ns ? retry : now_ns + 1;
    }
    atomic_fetch_add_explicit(&l->throttled[d], 1, memory_order_relaxed);
    return wait;
}

struct sc_dir_limit *sc_dir_table_get(struct sc_dir_table *t, uint16_t domid)
{
    for (struct sc_dir_entry *e = t->head; e; e = e->next)
        if (e->domid == domid)
            return &e->limit;
    struct sc_dir_entry *e = calloc(1, sizeof(*e));
    if (!e)
        return NULL;
    e->domid = domid;
    e->next = t->head;
    t->head = e;
    return &e->limit;
}

void sc_dir_table_free(struct sc_dir_table *t)
{
    while (t->head) {
        struct sc_dir_entry *e = t->head;
        t->head = e->next;
        free(e);
    }
}
