/*
 * dirlimit.h - a guest's disk limits per direction: reads and writes, each
 * in requests/s and bytes/s, over all the guest's disks and queues on
 * whichever sidecores they run (one rate_cell.h per dimension, shared).
 * The fair-share scheduler's limit (sched.h) bounds a guest's service as a
 * whole; these bound one direction of it, as an admin caps a guest's
 * writes without touching its reads.  A vif's directions have their own
 * byte rates per vif (`rate`, vif.rx-rate: net_rate.h).
 *
 * Contract: sc_dir_limit_take() from any thread (a queue's core);
 * sc_dir_limit_set() from any thread (the control thread), taking effect
 * at the next take.  A table (the pool's) hands out one sc_dir_limit per
 * guest that stays valid until the table is freed, so queues keep a plain
 * pointer; get/free on the control thread only.
 */
#ifndef SC_DIRLIMIT_H
#define SC_DIRLIMIT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "rate_cell.h"
#include "sched.h"

enum sc_dir { SC_DIR_READ, SC_DIR_WRITE, SC_DIR__COUNT };

/* The settings: per direction requests/s and bytes/s (0: none). */
struct sc_dir_rates {
    struct sc_sched_rate dir[SC_DIR__COUNT];
};

/* A burst of 10 ms at the rate passes at once (as sched.h's buckets). */
#define SC_DIR_BURST_NS 10000000ull

struct sc_dir_limit {
    struct sc_rate_cell iops[SC_DIR__COUNT], bps[SC_DIR__COUNT];
    _Atomic uint64_t throttled[SC_DIR__COUNT]; /* requests that had to wait */
    _Atomic bool any;                          /* some rate set: takes look */
};

void sc_dir_limit_set(struct sc_dir_limit *l, const struct sc_dir_rates *r);
/* May a request of `bytes` in direction d go at now?  0: yes (its cost is
 * taken); else the CLOCK_MONOTONIC time to try again. */
uint64_t sc_dir_limit_take(struct sc_dir_limit *l, enum sc_dir d, uint64_t bytes,
                           uint64_t now_ns);
static inline bool sc_dir_limit_any(const struct sc_dir_limit *l)
{
    return atomic_load_explicit((_Atomic bool *)&l->any, memory_order_relaxed);
}

struct sc_dir_entry;
struct sc_dir_table {
    struct sc_dir_entry *head;
};

/* Guest domid's limits (made unlimited the first time); NULL on ENOMEM. */
struct sc_dir_limit *sc_dir_table_get(struct sc_dir_table *t, uint16_t domid);
/* Frees every entry: no queue may hold one any more. */
void sc_dir_table_free(struct sc_dir_table *t);

#endif
