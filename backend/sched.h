/*
 * sched.h - fair share of one sidecore among the guests whose queues it polls.
 *
 * Contract:
 * - One scheduler per sidecore. Every function is called by the thread that
 *   owns that sidecore only (no locks, no atomics). The control thread changes
 *   settings or reads stats by sending the sidecore a command.
 * - Pure: no clock reads, no I/O, no threads. Time comes in as `now_ns`
 *   (CLOCK_MONOTONIC nanoseconds, never going back; an older value is treated
 *   as the newest one seen, one above 2^62 as 2^62), so the scheduler is
 *   deterministic under a fake clock.
 * - The poll loop asks sc_sched_next() for the queue to visit and a grant
 *   (how much the visit may consume), visits it, then reports what it consumed
 *   with sc_sched_charge(). Exactly one visit is outstanding at a time.
 * - Returns 0 or negative errno; pointer returners return NULL and set errno.
 * - Cost: sc_sched_next() and sc_sched_charge() do O(1) work in the number of
 *   tenants (amortised), plus O(log k) for a tenant with a reservation (k:
 *   reserved tenants with work) or when its limit holds it back or lets it
 *   go; sc_sched_queue_add/remove likewise. Only tenants with queues cost
 *   anything per visit, so the loop may park queues that have no work
 *   (remove them, add them back when work appears) as often as it likes.
 *
 * Policy (details and the reservation argument in sched.c; the buckets,
 * tags and heaps underneath in sched_rate.h):
 * - Cost of a visit = bytes + requests * request_cost ("byte-equivalents"), so
 *   neither many tiny requests nor a few huge ones can take more than their
 *   share.
 * - Tenants (keyed by a uint16: the daemon gives each guest's disks and its
 *   network interfaces a key each, tenant.h) share by weight with deficit round
 *   robin over cost: each round a tenant's deficit grows by a quantum
 *   proportional to its weight, and its visits spend it. A tenant's queues
 *   take turns inside the tenant's share, so more queues never mean more share.
 * - A queue that has no work gives up its turn, and its tenant's unspent
 *   deficit is dropped (credit never banks). Idle queues are still handed out
 *   once per round as "probe" visits, since only polling reveals new work.
 * - Short turns: while two or more tenants have work (a queue whose last
 *   visit left work behind), every quantum is divided by the same power of
 *   two, the least that brings the largest of theirs to turn_max_cost or
 *   below. Ratios stay the weights'; rounds get short enough that a ring
 *   holding few requests is refilled between its tenant's turns, so a heavy
 *   tenant does not come up empty and drop its deficit (which would give
 *   every tenant about one ring per round whatever its weight). A lone
 *   tenant with work keeps the full quantum.
 * - Parking: a tenant whose last queue is removed drops its unspent deficit
 *   (debt is kept) and, when a queue is added back, joins the end of the
 *   round; its reservation credit restarts at one request. So parking and
 *   unparking never gain share.
 * - Limits (IOPS, bytes/s) are token buckets; a tenant out of tokens is
 *   held back (and drops its unspent deficit) until they refill, then joins
 *   the end of the round. If every tenant is held back, sc_sched_next()
 *   returns NULL and says how long until the first one is eligible again.
 * - Reservations (IOPS, bytes/s) are tracked like mClock reservation tags:
 *   a tenant that has work and is behind its reservation is visited before
 *   any weight-based visit, earliest reservation tag (most behind) first;
 *   that service does not spend its weight share.
 */
#ifndef SC_SCHED_H
#define SC_SCHED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SC_SCHED_WEIGHT_MIN     1u
#define SC_SCHED_WEIGHT_MAX     10000u
#define SC_SCHED_WEIGHT_DEFAULT 100u
#define SC_SCHED_IOPS_MAX       100000000ull      /* 1e8 requests/s */
#define SC_SCHED_BPS_MAX        10000000000000ull /* 1e13 bytes/s */
/* sc_sched_grant.wait_ns when nothing will become eligible by itself. */
#define SC_SCHED_WAIT_FOREVER   UINT64_MAX
/* sc_sched_charge() rejects larger reports as corrupt. */
#define SC_SCHED_CHARGE_MAX_BYTES    (1ull << 40)
#define SC_SCHED_CHARGE_MAX_REQUESTS (1u << 20)

/* Every field 0 means "the default" (in brackets), so `{0}` or NULL works. */
struct sc_sched_params {
    uint32_t request_cost;       /* byte-equivalents per request [4096], <= 1 MiB */
    uint64_t quantum;            /* cost per round for weight 100 [128 KiB], <= 1 GiB */
    uint64_t visit_max_cost;     /* cost one visit may consume [256 KiB], <= 1 GiB */
    uint32_t visit_max_requests; /* requests one visit may consume [64], <= 65536 */
    uint64_t burst_ns;           /* bucket depth in time at the rate [10 ms], 1 us..10 s */
    uint64_t turn_max_cost;      /* largest quantum while 2+ tenants have work [64 KiB],
                                  * <= 1 GiB; rounded down to a power of two */
};

/* A rate in both dimensions; 0 in a field means "none". */
struct sc_sched_rate {
    uint64_t iops;
    uint64_t bps;
};

/* Settings of one guest. A struct rather than six positional numbers: the
 * call sites read as what they set, and fields can be added. */
struct sc_sched_tenant_conf {
    uint32_t weight;                  /* 1..10000 */
    struct sc_sched_rate reservation; /* served first while behind; <= limit */
    struct sc_sched_rate limit;       /* never more than this */
};

/* Counters only ever grow (clear by snapshot and subtract). Written by the
 * owning sidecore thread only. */
struct sc_sched_queue_stats {
    uint64_t visits;             /* grants handed out for this queue */
    uint64_t empty_visits;       /* visits that consumed nothing */
    uint64_t reservation_visits; /* visits made to meet a reservation */
    uint64_t requests;
    uint64_t bytes;
    uint64_t cost;
};

struct sc_sched_tenant_stats {
    uint64_t visits;
    uint64_t reservation_visits;
    uint64_t requests;
    uint64_t bytes;
    uint64_t cost;
    uint64_t reservation_cost; /* part of cost served to meet the reservation */
    uint64_t throttled;        /* times held back because the limit had no tokens */
    uint64_t skipped;          /* turns lost to debt from overshooting visits */
};

struct sc_sched_tenant;

/*
 * A queue as the scheduler sees it, embedded in the caller's queue struct
 * (container_of to get back). The caller owns the memory; it must stay valid
 * from sc_sched_queue_add() to sc_sched_queue_remove(). Fields other than
 * `stats` are the scheduler's; `stats` is read-only to the caller.
 */
struct sc_sched_queue {
    struct sc_sched_queue *next, *prev; /* ring of the tenant's queues */
    struct sc_sched_tenant *tenant;     /* NULL when not added */
    uint64_t empty_turn;                /* tenant turn in which it came up empty */
    bool has_work;                      /* last visit left work behind */
    struct sc_sched_queue_stats stats;
};

enum sc_sched_phase {
    SC_SCHED_PHASE_RESERVATION, /* the tenant is behind its reservation */
    SC_SCHED_PHASE_WEIGHT,      /* its share by weight (deficit round robin) */
};

/*
 * What one visit may consume. The visit takes requests while
 * sc_sched_grant_admits() says yes; the first request is always admitted so
 * that a request larger than the budget is never stuck, hence the true bound
 * on one visit is max(max_cost, one request). Overshoot is charged as debt.
 */
struct sc_sched_grant {
    uint64_t max_cost;     /* bytes + requests * request_cost */
    uint64_t max_bytes;    /* from a byte limit or reservation; else UINT64_MAX */
    uint32_t max_requests; /* >= 1 */
    uint32_t request_cost; /* the per-request charge, to price a request */
    enum sc_sched_phase phase;
    bool probe;            /* the queue had no work last time: just look */
    uint64_t wait_ns;      /* set when sc_sched_next() returns NULL */
};

static inline bool sc_sched_grant_admits(const struct sc_sched_grant *g,
                                         uint64_t used_bytes, uint32_t used_requests,
                                         uint64_t request_bytes)
{
    if (used_requests >= g->max_requests)
        return false;
    if (used_requests == 0)
        return true;
    uint64_t cost = used_bytes + request_bytes +
                    (uint64_t)(used_requests + 1) * g->request_cost;
    return cost <= g->max_cost && used_bytes + request_bytes <= g->max_bytes;
}

struct sc_sched;

/* NULL params = all defaults. NULL + errno EINVAL (bad params) or ENOMEM. */
struct sc_sched *sc_sched_create(const struct sc_sched_params *params);
/* Frees the scheduler; queues still added are just forgotten. NULL is a no-op. */
void sc_sched_destroy(struct sc_sched *s);

/* Creates or updates the tenant `domid` (any uint16 key). 0, -EINVAL (weight out of range,
 * rate too large, reservation above limit) or -ENOMEM. Takes effect at once;
 * token buckets keep their level (clamped to the new depth). */
int sc_sched_tenant_set(struct sc_sched *s, uint16_t domid,
                        const struct sc_sched_tenant_conf *conf);
/* 0 or -ENOENT. */
int sc_sched_tenant_get(const struct sc_sched *s, uint16_t domid,
                        struct sc_sched_tenant_conf *conf);
/* 0, -ENOENT, or -EBUSY while the tenant still has queues. */
int sc_sched_tenant_remove(struct sc_sched *s, uint16_t domid);
/* Copies the tenant's counters. 0 or -ENOENT. */
int sc_sched_tenant_stats(const struct sc_sched *s, uint16_t domid,
                          struct sc_sched_tenant_stats *out);

/* Adds q (zeroed or previously removed) for tenant key domid; creates the tenant
 * with default settings if unknown. The queue starts as "has work". 0, -EINVAL
 * (NULL, or q already added) or -ENOMEM. Stats in q are kept. */
int sc_sched_queue_add(struct sc_sched *s, struct sc_sched_queue *q, uint16_t domid);
/* Removes q; allowed at any time on the owning thread, also between next and
 * charge (the outstanding visit is then dropped). 0 or -EINVAL if not added. */
int sc_sched_queue_remove(struct sc_sched *s, struct sc_sched_queue *q);

/*
 * The queue to visit now and its grant. NULL with errno EAGAIN when every
 * tenant with queues is throttled by its limit (grant->wait_ns: time until the
 * first becomes eligible) or there are no queues (wait_ns
 * SC_SCHED_WAIT_FOREVER); NULL with errno EINVAL on NULL arguments or while a
 * visit is outstanding (not yet charged).
 */
struct sc_sched_queue *sc_sched_next(struct sc_sched *s, uint64_t now_ns,
                                     struct sc_sched_grant *grant);

/*
 * Ends the outstanding visit of q: it consumed `bytes` in `requests`
 * requests, and still_has_work says whether it left work behind (a visit
 * that consumed nothing counts as no work, so a stalled queue cannot hold the
 * core). 0, or -EINVAL if q is not the outstanding visit or the figures are
 * above the SC_SCHED_CHARGE_MAX_* sanity bounds (then nothing is charged).
 */
int sc_sched_charge(struct sc_sched *s, struct sc_sched_queue *q, uint64_t now_ns,
                    uint64_t bytes, uint32_t requests, bool still_has_work);

/* Jain's fairness index (sum x)^2 / (n * sum x^2), in [1/n, 1]; 1 = equal.
 * NaN if n == 0, x NULL, any x negative, or all x zero. */
/* Short turns now: quanta are divided by 2^this (0: whole quanta). Owner
 * thread (the core publishes it: sidecorectl cores). */
uint32_t sc_sched_turn_shift(const struct sc_sched *s);

double sc_jain_index(const double *x, size_t n);

#endif
