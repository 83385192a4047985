/*
 * sched_rate.h - the rate mechanics under the fair-share scheduler: token
 * buckets (limits), reservation tags, and the min-heaps that order tenants
 * by a time. Internal to the sched module: sched.c (the policy: tenants, DRR
 * turns, next/charge) is the only user; sched_rate.c holds the cold part.
 *
 * Contract:
 * - Arithmetic on structs the caller embeds and owns: no clock reads, no
 *   locks, no allocation except sc_rate_heap_reserve(). Same thread rules as
 *   sched.h: only the sidecore that owns the scheduler calls these.
 * - Time `now` is CLOCK_MONOTONIC ns in [0, SC_RATE_NOW_MAX] and never goes
 *   back (sched.c clamps it); rates are at most SC_SCHED_IOPS_MAX /
 *   SC_SCHED_BPS_MAX; one take is at most 2^40 units (sc_sched_charge()'s
 *   bounds). Within those nothing overflows.
 * - A limit or reservation is two dimensions (requests, bytes); a dimension
 *   with rate 0 is unused and never touched. The two-dimension calls skip
 *   unused ones; the one-dimension calls (bucket_*, tag_*) need rate != 0.
 *   sched.c skips a tenant's limit or reservation entirely when neither
 *   dimension is set (its RATE_* flags), so unrated tenants pay nothing.
 * - What a visit of a rated tenant runs outside the calls sched.c already
 *   made out of line (refills, takes from a limit, tag keys, the restart of
 *   a reservation) is static inline here, so the split added no call per
 *   visit (checked with schedbench under callgrind). Set-up (_set, 128-bit
 *   division), waits, the overflow cases, tag takes and the heaps' sifting
 *   are out of line in sched_rate.c.
 * - Nothing returns an error except sc_rate_heap_reserve() (0 or -ENOMEM).
 *
 * Token buckets (limits). A bucket holds `level` whole units (requests or
 * bytes) plus `frac` billionths of a unit, refilled by rate * elapsed ns
 * exactly (remainder carried), so long runs lose nothing to rounding. The
 * level is capped at `depth` (rate * burst_ns, at least one unit). A tenant
 * may spend a bucket below zero: a visit always admits its first request,
 * whatever its size, and the overshoot becomes debt that later refills repay,
 * so the long-run rate is exact. The limit allows service while every used
 * bucket holds >= 1 unit (sc_rate_limit_throttled() is false). A refill is a
 * 64-bit multiply and a division by the constant 1e9 (a multiply), unless
 * rate * elapsed overflows 64 bits (a long idle).
 *
 * Reservation tags. Each reservation dimension is a bucket refilled at the
 * reserved rate and drained by *all* service the tenant gets, level in
 * [-depth, depth]; level >= 1 means "behind": it got less than rate * t over
 * the recent window. It is kept as a tag instead: the time X at which the
 * level would have been 0, so level(now) = min(depth, (now - X) * rate),
 * service of u units moves X by u / rate, and X = max(X, now - depth / rate)
 * applies the cap lazily; X is exact (whole ns plus a remainder in 1/rate
 * ns). The tenant is behind from E = X + 1 / rate on (sc_rate_tag_key()),
 * which is mClock's reservation tag of the next request. The floor X <= now +
 * depth / rate bounds how much past over-service can hide a later shortfall.
 * A tag moves by additions, plus one 64-bit division by the rate when the
 * rate does not divide 1e9; 128-bit arithmetic is left to overflow cases and
 * _set.
 *
 * Heaps. A binary min-heap of (key, slot) entries, where `slot` points to a
 * uint32_t in the owner's struct that the heap keeps equal to the entry's
 * index (SC_RATE_HEAP_NONE while not in the heap), so the owner can be
 * removed or re-keyed in O(log n) and found again from the top entry with
 * offsetof. Insert never allocates: the caller reserves capacity up front.
 */
#ifndef SC_SCHED_RATE_H
#define SC_SCHED_RATE_H

#include <stdbool.h>
#include <stdint.h>

#include "sched.h"

#define SC_RATE_NS_PER_S 1000000000ull
/* Largest `now` (146 years of uptime): tags are signed ns. */
#define SC_RATE_NOW_MAX (1ull << 62)
#define SC_RATE_HEAP_NONE UINT32_MAX

/* ---- token buckets (limits) ---- */

struct sc_rate_bucket {
    uint64_t rate;    /* units per second; 0 = bucket unused */
    int64_t depth;    /* cap on level, >= 1 */
    int64_t level;    /* whole units, >= SC_RATE_LIMIT_FLOOR */
    uint64_t frac;    /* plus frac / 1e9 units */
    uint64_t last_ns; /* time of the last refill */
};

/* A limit: requests and bytes. */
struct sc_rate_limit {
    struct sc_rate_bucket iops, bps;
};

/* Limits keep all debt (exact long-run rate); this only stops overflow. */
#define SC_RATE_LIMIT_FLOOR (INT64_MIN / 4)

/* New rates: a bucket keeps its level (clamped to the new depth); a new one
 * starts full; rate 0 clears it. */
void sc_rate_limit_set(struct sc_rate_limit *l, const struct sc_sched_rate *r,
                       uint64_t burst_ns, uint64_t now);
/* ns until every used bucket holds a whole unit again; 0 if they do.
 * At most UINT64_MAX - 1. Call after a refill to now. */
uint64_t sc_rate_limit_wait_ns(const struct sc_rate_limit *l);

/* rate * dt + frac overflows 64 bits (a long idle, or a huge rate): the
 * units to add, at most `room`, and the new frac. */
uint64_t sc_rate_bucket_refill_big(const struct sc_rate_bucket *b, uint64_t dt,
                                   uint64_t room, uint64_t *frac);

static inline void sc_rate_bucket_refill(struct sc_rate_bucket *b, uint64_t now)
{
    if (now <= b->last_ns)
        return;
    uint64_t dt = now - b->last_ns;
    b->last_ns = now;
    if (b->level >= b->depth) {
        b->frac = 0;
        return;
    }
    uint64_t room = (uint64_t)(b->depth - b->level); /* < 2^62: level >= the floor */
    uint64_t add, frac, total;
    if (!__builtin_mul_overflow(b->rate, dt, &total) &&
        total <= UINT64_MAX - SC_RATE_NS_PER_S) {
        total += b->frac;
        add = total / SC_RATE_NS_PER_S; /* by a constant: a multiply, no divide */
        frac = total % SC_RATE_NS_PER_S;
    } else {
        add = sc_rate_bucket_refill_big(b, dt, room, &frac);
    }
    if (add >= room) {
        b->level = b->depth;
        b->frac = 0;
    } else {
        b->level += (int64_t)add;
        b->frac = frac;
    }
}

static inline void sc_rate_bucket_take(struct sc_rate_bucket *b, uint64_t units)
{
    b->level -= (int64_t)units; /* units <= 2^40 by the charge bounds */
    if (b->level < SC_RATE_LIMIT_FLOOR) {
        b->level = SC_RATE_LIMIT_FLOOR;
        b->frac = 0;
    }
}

/* Refills the used buckets to now. */
static inline void sc_rate_limit_refill(struct sc_rate_limit *l, uint64_t now)
{
    if (l->iops.rate)
        sc_rate_bucket_refill(&l->iops, now);
    if (l->bps.rate)
        sc_rate_bucket_refill(&l->bps, now);
}

/* Some used bucket holds less than a whole unit. */
static inline bool sc_rate_limit_throttled(const struct sc_rate_limit *l)
{
    return (l->iops.rate && l->iops.level < 1) || (l->bps.rate && l->bps.level < 1);
}

/* Service of `requests` and `bytes` (after a refill to now). */
static inline void sc_rate_limit_take(struct sc_rate_limit *l, uint64_t requests,
                                      uint64_t bytes)
{
    if (l->iops.rate)
        sc_rate_bucket_take(&l->iops, requests);
    if (l->bps.rate)
        sc_rate_bucket_take(&l->bps, bytes);
}

/* ---- reservation tags ---- */

/* A reservation in one dimension, as the tag X = at_ns + at_rem / rate. */
struct sc_rate_tag {
    uint64_t rate;                /* units per second; 0 = none */
    uint64_t unit_ns, unit_rem;   /* 1e9 / rate = unit_ns + unit_rem / rate */
    uint64_t depth;               /* units, >= 1 */
    uint64_t depth_ns, depth_rem; /* depth * 1e9 / rate, likewise */
    int64_t at_ns;
    uint64_t at_rem;              /* < rate */
};

/* A reservation: requests and bytes. */
struct sc_rate_res {
    struct sc_rate_tag iops, bps;
};

/* New rates: a tag keeps its level in whole units (clamped to the new
 * depth); a new reservation starts a full depth behind, as a new bucket
 * starts full; rate 0 clears it. */
void sc_rate_res_set(struct sc_rate_res *r, const struct sc_sched_rate *rate,
                     uint64_t burst_ns, uint64_t now);
/* Service of `requests` and `bytes` at now moves the used tags. */
void sc_rate_res_take(struct sc_rate_res *r, uint64_t requests, uint64_t bytes, uint64_t now);
/* Whole units g is behind at now, in [0, depth]. */
uint64_t sc_rate_tag_level(const struct sc_rate_tag *g, uint64_t now);

static inline bool sc_rate_tag_before(int64_t a_ns, uint64_t a_rem, int64_t b_ns, uint64_t b_rem)
{
    return a_ns < b_ns || (a_ns == b_ns && a_rem < b_rem);
}

/* X = max(X, now - span) for span = span_ns + span_rem / rate. */
static inline void sc_rate_tag_raise(struct sc_rate_tag *g, int64_t now, uint64_t span_ns,
                                     uint64_t span_rem)
{
    int64_t lo_ns = now - (int64_t)span_ns;
    uint64_t lo_rem = 0;
    if (span_rem) {
        lo_ns--;
        lo_rem = g->rate - span_rem;
    }
    if (sc_rate_tag_before(g->at_ns, g->at_rem, lo_ns, lo_rem)) {
        g->at_ns = lo_ns;
        g->at_rem = lo_rem;
    }
}

/* E = X + 1 / rate rounded up to a ns: behind iff now >= E. */
static inline int64_t sc_rate_tag_key(const struct sc_rate_tag *g)
{
    int64_t ns = g->at_ns + (int64_t)g->unit_ns;
    uint64_t rem = g->at_rem + g->unit_rem;
    if (rem >= g->rate) {
        ns++;
        rem -= g->rate;
    }
    return ns + (rem != 0);
}

/* E of the used dimension most behind (the earliest); INT64_MAX if none. */
static inline int64_t sc_rate_res_key(const struct sc_rate_res *r)
{
    int64_t a = r->iops.rate ? sc_rate_tag_key(&r->iops) : INT64_MAX;
    int64_t b = r->bps.rate ? sc_rate_tag_key(&r->bps) : INT64_MAX;
    return a < b ? a : b;
}

/* The tenant turns busy after idling: it starts at most one unit ahead
 * (X >= now - 1 / rate), so idle time is never banked (mClock's
 * R = max(R, now)). */
static inline void sc_rate_res_restart(struct sc_rate_res *r, uint64_t now)
{
    struct sc_rate_tag *g[] = { &r->iops, &r->bps };
    for (unsigned i = 0; i < 2; i++)
        if (g[i]->rate)
            sc_rate_tag_raise(g[i], (int64_t)now, g[i]->unit_ns, g[i]->unit_rem);
}

/* ---- min-heaps ---- */

struct sc_rate_heap_ent {
    int64_t key;
    uint32_t *slot; /* the owner's index field: kept equal to this entry's index */
};

struct sc_rate_heap {
    struct sc_rate_heap_ent *e;
    uint32_t n, cap;
};

/* Room for at least n entries, so that inserts up to n never allocate.
 * 0 or -ENOMEM (the heap is unchanged). */
int sc_rate_heap_reserve(struct sc_rate_heap *h, uint32_t n);
/* Frees the entries; the heap is then empty with no capacity. */
void sc_rate_heap_free(struct sc_rate_heap *h);
/* Adds the owner of `slot` (not in the heap; n < cap) with `key`. */
void sc_rate_heap_insert(struct sc_rate_heap *h, uint32_t *slot, int64_t key);
/* Takes the owner of `slot` (in the heap) out; *slot = SC_RATE_HEAP_NONE. */
void sc_rate_heap_remove(struct sc_rate_heap *h, uint32_t *slot);
/* Changes the key of the owner of `slot` (in the heap). */
void sc_rate_heap_rekey(struct sc_rate_heap *h, uint32_t *slot, int64_t key);

/* The smallest key, INT64_MAX when empty. */
static inline int64_t sc_rate_heap_top_key(const struct sc_rate_heap *h)
{
    return h->n ? h->e[0].key : INT64_MAX;
}

#endif
