/*
 * sched.c - fair share of one sidecore, the policy: tenants, deficit round
 * robin by cost between them, round robin between a tenant's queues, limits
 * holding tenants back, and reservations served first. See sched.h for the
 * contract; the rate mechanics (token buckets, reservation tags, min-heaps)
 * are in sched_rate.h, with how they represent and compute things.
 *
 * Cost per visit. sc_sched_next() and sc_sched_charge() do O(1) work in the
 * number of tenants, amortised, plus O(log k) heap steps when a tenant with a
 * reservation is charged or turns busy (k = busy reserved tenants), and
 * O(log h) when a limit holds a tenant back or lets it go (h = tenants held).
 * What keeps it so:
 * - Only tenants that can be served are in the DRR ring (they have queues
 *   and their limits have tokens), so a pass never skips idle or throttled
 *   tenants. Tenants without queues are only in the domid table (two-level,
 *   O(1) lookup, so queue add/remove are O(1) plus the heaps' log).
 * - A tenant whose limit runs out (a bucket below one unit: seen in charge,
 *   the only place tokens go, or in tenant_set) leaves the ring for the
 *   "held" min-heap keyed by the time its buckets hold a token again; next()
 *   releases the top when that time has come, and when nobody is in the ring
 *   the wait is the top's time: no scan.
 * - Reservations are absolute tags (sched_rate.h), so the most-behind tenant
 *   is the top of a min-heap of busy reserved tenants, all of which have
 *   tokens. s->due (the earlier of the two heaps' tops) makes both heaps one
 *   compare per next() while neither is due.
 * - Limits and reservations with no rate are not touched (per-tenant flags);
 *   refills and tag moves are inline 64-bit arithmetic (sched_rate.h).
 * - The fields one visit touches are the scheduler's first lines, the
 *   tenant's first line (DRR state) and second (counters), and the queue.
 * Not O(1), on purpose: fast_forward() walks the ring, but runs only when
 * every active tenant is in debt; a tenant stays in debt for at most
 * (largest request) / quantum turns, so skipped turns per visit are bounded
 * independently of the tenant count; and picking a queue inside a turn skips
 * the tenant's queues already found empty in it (O(its queues)).
 *
 * Reservations, and why they are met. A reservation is a tag per dimension
 * (sched_rate.h): drained by *all* service the tenant gets (either phase),
 * refilled at the reserved rate, and "behind" from its key E on. Before every
 * weight-based visit, the tenant with work, tokens, and the earliest E <= now
 * (most behind) is visited instead, and that service does not spend its
 * deficit (as mClock's reservation phase does not move its proportional
 * tags). This is earliest-deadline-first over reservation tags; EDF meets
 * every deadline whenever the reserved load is feasible, i.e. the sum over
 * tenants of (reserved IOPS * time per request + reserved bytes/s * time per
 * byte) is below the core's capacity; the reservation phase then takes at
 * most that fraction of the core and each backlogged tenant is visited
 * within one visit of falling behind. The tag's floor bounds how much past
 * over-service can hide a tenant's later shortfall (at most 2 * burst_ns),
 * and a tenant that turns busy after idling starts at most one request ahead
 * (sc_rate_res_restart()), so idle time is never banked (as mClock's
 * R = max(R, now)). Between tenants both behind by more than their depth the
 * lazy cap is not applied, so the one that fell behind first goes first.
 * Infeasible reservations (sum above capacity) starve the weight phase; the
 * control path should refuse them.
 *
 * Deficit round robin. Active tenants take turns in ring order. A turn adds
 * the tenant's quantum (quantum * weight / 100) to its deficit and hands out
 * visits to its queues in rotation, each granted min(deficit, visit budget),
 * until the deficit is spent, the limit bites, or every queue has come up
 * empty in this turn; in the last case the unspent deficit is dropped (DRR's
 * reset on empty), so idling banks nothing. Debt (deficit <= 0) is kept; a
 * tenant in debt loses turns until repaid. When a whole pass finds everyone
 * in debt, the rounds needed for the first tenant to get out are added at
 * once ("fast forward") instead of looping round by round.
 * Churn: a tenant whose last queue is removed (the loop parks queues that
 * have no work) or that its limit holds back leaves the ring and drops
 * unspent credit (debt stays); coming back, it joins the ring's tail, as a
 * new flow joins DRR's active list, so parking and unparking can neither
 * bank credit nor buy an extra turn per round.
 *
 * Short turns (turn_max_cost). DRR's shares hold only for tenants that are
 * backlogged for a whole turn. A guest's ring holds a bounded number of
 * requests (32 at qd 32, ~256 KiB of cost with 4 KiB requests), refilled
 * only after the loop pushes responses; a weight-400 quantum (512 KiB) is
 * more than that, so its turn ends empty, the rest is dropped (as above),
 * and every tenant gets about one ring per round whatever its weight
 * (measured: 1:2:4 served as .43/.27/.27). So while two or more tenants
 * have work, every quantum is divided by the same power of two, 2^qshift,
 * the least that brings the largest active quantum to turn_max_cost or
 * below: the ratios stay the weights', and a turn grants at most about
 * turn_max_cost, which a ring can serve before the loop refills it. A lone
 * tenant keeps its full quantum: rounds are nothing to it, and short turns
 * would only cost visits. "Has work" is the queues' has_work (last visit
 * left work behind), counted per tenant in nbusy. To keep this O(1) the
 * scheduler counts the active tenants (in the ring, nbusy > 0) per quantum
 * class, ceil(log2(quantum)), with a bit mask of the classes in use: the
 * largest class is one count-leading-zeros, and a tenant's class changes
 * only when it turns (in)active or is reconfigured (active_update()).
 * A quantum shifted below one request's cost is fine: debt carries the
 * difference, as for weight-1 tenants.
 */
#include "sched.h"

#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "sched_rate.h"

enum { HEAP_RES, HEAP_HELD };

#define RATE_LIMIT 1u /* tenant has a limit */
#define RATE_RES   2u /* tenant has a reservation */

enum tenant_where {
    T_IDLE, /* no queues */
    T_RING, /* in the DRR ring */
    T_HELD, /* has queues, out of tokens: in the held heap */
};

struct sc_sched_tenant {
    /* First cache line: what every visit reads or writes. */
    struct sc_sched_tenant *next, *prev; /* DRR ring, while T_RING */
    struct sc_sched_queue *queues;       /* ring; the next to visit in a turn */
    int64_t deficit;
    int64_t quantum;
    uint64_t turn;                       /* counts this tenant's DRR turns */
    uint32_t nqueues;
    uint32_t nbusy;                      /* queues with has_work */
    uint8_t rates;                       /* RATE_LIMIT | RATE_RES: which are set */
    uint8_t where;                       /* enum tenant_where */
    uint16_t domid;
    uint8_t cls;                         /* quantum class counted in s->ncls, or CLS_NONE */
    /* Second line: counters, written by every charge. */
    _Alignas(64) struct sc_sched_tenant_stats stats;
    /* With limits or reservations only, or off the hot path. */
    struct sc_sched_queue *res_next; /* next to try in the reservation phase */
    uint32_t hidx[2];                /* slot in heap[HEAP_*], or SC_RATE_HEAP_NONE */
    struct sc_rate_limit lim;
    struct sc_rate_res res;
    struct sc_sched_tenant_conf conf;
};

/* Quantum classes: ceil(log2(quantum)) <= 37 (1 GiB * 10000 / 100). */
#define NCLS     64
#define CLS_NONE 0xffu

#define DIR_BITS 8
#define DIR_SIZE (1u << DIR_BITS)

struct sc_sched {
    /* First line: read by every next() and charge(). */
    struct sc_sched_queue *pending; /* outstanding visit, or NULL */
    struct sc_sched_tenant *pos;    /* tenant that had the last DRR turn; NULL: empty ring */
    uint64_t now;                   /* newest time seen */
    int64_t due;                    /* min of the heaps' top keys (INT64_MAX: none) */
    struct sc_rate_heap heap[2];    /* HEAP_RES by tag E, HEAP_HELD by release time */
    enum sc_sched_phase pending_phase;
    bool in_turn;                   /* pos's turn is still on */
    uint32_t nring;                 /* tenants in the ring */
    uint32_t qshift;                /* turns add quantum >> qshift (short turns) */
    struct sc_sched_params p;
    uint32_t ntenants;
    /* Active tenants (in the ring, nbusy > 0) per quantum class: qshift. */
    uint32_t nactive;
    uint32_t turn_log;              /* floor(log2(p.turn_max_cost)) */
    uint64_t cls_mask;              /* bit c: ncls[c] > 0 */
    uint32_t ncls[NCLS];
    /* domid -> tenant: DIR_SIZE pages of DIR_SIZE, allocated on first use. */
    struct sc_sched_tenant **dir[DIR_SIZE];
};

static uint64_t min_u64(uint64_t a, uint64_t b)
{
    return a < b ? a : b;
}

static uint64_t sched_now(struct sc_sched *s, uint64_t now_ns)
{
    if (now_ns > SC_RATE_NOW_MAX)
        now_ns = SC_RATE_NOW_MAX;
    if (now_ns > s->now)
        s->now = now_ns;
    return s->now;
}

/* ---- heaps: the tenants in them, and s->due ---- */

/* s->due: one compare per next() tells whether either heap needs a look. */
static void heap_top_changed(struct sc_sched *s)
{
    int64_t a = sc_rate_heap_top_key(&s->heap[HEAP_RES]);
    int64_t b = sc_rate_heap_top_key(&s->heap[HEAP_HELD]);
    s->due = a < b ? a : b;
}

/* The tenant at the top of heap `which` (not empty). */
static struct sc_sched_tenant *heap_top(struct sc_sched *s, int which)
{
    uint32_t *slot = s->heap[which].e[0].slot - which; /* &t->hidx[0] */
    return (struct sc_sched_tenant *)((char *)slot - offsetof(struct sc_sched_tenant, hidx));
}

static void heap_insert(struct sc_sched *s, int which, struct sc_sched_tenant *t, int64_t key)
{
    sc_rate_heap_insert(&s->heap[which], &t->hidx[which], key); /* cap: tenant_create */
    heap_top_changed(s);
}

static void heap_remove(struct sc_sched *s, int which, struct sc_sched_tenant *t)
{
    sc_rate_heap_remove(&s->heap[which], &t->hidx[which]);
    heap_top_changed(s);
}

static void heap_rekey(struct sc_sched *s, int which, struct sc_sched_tenant *t, int64_t key)
{
    sc_rate_heap_rekey(&s->heap[which], &t->hidx[which], key);
    heap_top_changed(s);
}

/* ---- tenants ---- */

static struct sc_sched_tenant *tenant_find(const struct sc_sched *s, uint16_t domid)
{
    struct sc_sched_tenant **page = s->dir[domid >> DIR_BITS];
    return page ? page[domid & (DIR_SIZE - 1)] : NULL;
}

/* ceil(log2(q)): q <= 2^class. */
static uint32_t quantum_class(int64_t q)
{
    return q <= 1 ? 0 : 64u - (uint32_t)__builtin_clzll((uint64_t)q - 1);
}

/* Re-counts t among the active tenants (in the ring with work) by quantum
 * class, and sets qshift: with 2+ active, the least shift that brings the
 * largest class to turn_log or below. Called wherever t's ring membership,
 * nbusy or quantum change; O(1). */
static void active_update(struct sc_sched *s, struct sc_sched_tenant *t)
{
    uint32_t want = t->where == T_RING && t->nbusy ? quantum_class(t->quantum) : CLS_NONE;
    if (want == t->cls)
        return;
    if (t->cls != CLS_NONE) {
        if (--s->ncls[t->cls] == 0)
            s->cls_mask &= ~(1ull << t->cls);
        s->nactive--;
    }
    if (want != CLS_NONE) {
        if (s->ncls[want]++ == 0)
            s->cls_mask |= 1ull << want;
        s->nactive++;
    }
    t->cls = (uint8_t)want;
    uint32_t top = s->cls_mask ? 63u - (uint32_t)__builtin_clzll(s->cls_mask) : 0;
    s->qshift = s->nactive >= 2 && top > s->turn_log ? top - s->turn_log : 0;
}

/* The credit one DRR turn adds: the quantum, shifted while turns are short
 * (rounded to nearest; at least 1). */
static inline int64_t turn_quantum(const struct sc_sched *s, const struct sc_sched_tenant *t)
{
    uint32_t sh = s->qshift;
    if (!sh)
        return t->quantum;
    int64_t q = (t->quantum + ((int64_t)1 << (sh - 1))) >> sh;
    return q > 0 ? q : 1;
}

/* Puts t in the reservation heap iff it can use the reservation phase:
 * reserved, with work, and in the ring (queues and tokens); re-keys it. */
static void res_update(struct sc_sched *s, struct sc_sched_tenant *t)
{
    bool want = (t->rates & RATE_RES) && t->nbusy && t->where == T_RING;
    bool in = t->hidx[HEAP_RES] != SC_RATE_HEAP_NONE;
    if (want && in)
        heap_rekey(s, HEAP_RES, t, sc_rate_res_key(&t->res));
    else if (want)
        heap_insert(s, HEAP_RES, t, sc_rate_res_key(&t->res));
    else if (in)
        heap_remove(s, HEAP_RES, t);
}

/* Joins the ring's tail: after every tenant now waiting for a turn, as a new
 * flow joins DRR's active list (so coming back never buys an early turn). */
static void ring_insert(struct sc_sched *s, struct sc_sched_tenant *t)
{
    struct sc_sched_tenant *pos = s->pos;
    if (!pos) {
        t->next = t->prev = t;
        s->pos = t;
        s->in_turn = false;
    } else if (s->in_turn) { /* before pos, which goes last once its turn ends */
        t->prev = pos->prev;
        t->next = pos;
        pos->prev->next = t;
        pos->prev = t;
    } else { /* after pos, and pos moves to t: the next turn is still pos->next */
        t->prev = pos;
        t->next = pos->next;
        pos->next->prev = t;
        pos->next = t;
        s->pos = t;
    }
    t->where = T_RING;
    s->nring++;
    active_update(s, t);
}

static void ring_remove(struct sc_sched *s, struct sc_sched_tenant *t)
{
    if (t->next == t) {
        s->pos = NULL;
        s->in_turn = false;
    } else {
        if (s->pos == t) { /* the rotation goes on with t's successor */
            s->pos = t->prev;
            s->in_turn = false;
        }
        t->prev->next = t->next;
        t->next->prev = t->prev;
    }
    t->next = t->prev = NULL;
    t->where = T_IDLE;
    s->nring--;
    active_update(s, t);
}

/* Out of tokens: off the ring until the buckets refill. No credit while held
 * back (debt stays). t's buckets are refilled to s->now. */
static void tenant_hold(struct sc_sched *s, struct sc_sched_tenant *t)
{
    if (t->where == T_RING)
        ring_remove(s, t);
    if (t->deficit > 0)
        t->deficit = 0;
    uint64_t wait = sc_rate_limit_wait_ns(&t->lim);
    int64_t key = wait > (uint64_t)INT64_MAX - s->now ? INT64_MAX : (int64_t)(s->now + wait);
    if (t->where == T_HELD) {
        heap_rekey(s, HEAP_HELD, t, key);
    } else {
        heap_insert(s, HEAP_HELD, t, key);
        t->where = T_HELD;
        t->stats.throttled++;
    }
    res_update(s, t);
}

/* Refills t's limit to now: is it out of tokens? Out of line, so that the
 * refill's registers cost nothing to tenants without a limit. */
static __attribute__((noinline)) bool limit_exhausted(struct sc_sched *s,
                                                      struct sc_sched_tenant *t)
{
    sc_rate_limit_refill(&t->lim, s->now);
    return sc_rate_limit_throttled(&t->lim);
}

/* Puts a tenant that has queues where it belongs: the ring or held. */
static void tenant_place(struct sc_sched *s, struct sc_sched_tenant *t)
{
    if ((t->rates & RATE_LIMIT) && limit_exhausted(s, t)) {
        tenant_hold(s, t);
        return;
    }
    if (t->where == T_HELD) {
        heap_remove(s, HEAP_HELD, t);
        t->where = T_IDLE;
    }
    if (t->where == T_IDLE)
        ring_insert(s, t);
    res_update(s, t);
}

/* Its last queue is gone: out of the ring or held, unspent credit dropped. */
static void tenant_leave(struct sc_sched *s, struct sc_sched_tenant *t)
{
    if (t->where == T_RING)
        ring_remove(s, t);
    else if (t->where == T_HELD)
        heap_remove(s, HEAP_HELD, t);
    t->where = T_IDLE;
    if (t->deficit > 0)
        t->deficit = 0;
    res_update(s, t);
}

static bool rate_valid(const struct sc_sched_rate *r)
{
    return r->iops <= SC_SCHED_IOPS_MAX && r->bps <= SC_SCHED_BPS_MAX;
}

static bool conf_valid(const struct sc_sched_tenant_conf *c)
{
    if (c->weight < SC_SCHED_WEIGHT_MIN || c->weight > SC_SCHED_WEIGHT_MAX)
        return false;
    if (!rate_valid(&c->reservation) || !rate_valid(&c->limit))
        return false;
    if (c->limit.iops && c->reservation.iops > c->limit.iops)
        return false;
    if (c->limit.bps && c->reservation.bps > c->limit.bps)
        return false;
    return true;
}

static void tenant_configure(struct sc_sched *s, struct sc_sched_tenant *t,
                             const struct sc_sched_tenant_conf *c)
{
    t->conf = *c;
    int64_t q = (int64_t)(s->p.quantum * c->weight / SC_SCHED_WEIGHT_DEFAULT);
    t->quantum = q > 0 ? q : 1;
    sc_rate_limit_set(&t->lim, &c->limit, s->p.burst_ns, s->now);
    sc_rate_res_set(&t->res, &c->reservation, s->p.burst_ns, s->now);
    t->rates = (c->limit.iops || c->limit.bps ? RATE_LIMIT : 0) |
               (c->reservation.iops || c->reservation.bps ? RATE_RES : 0);
    active_update(s, t); /* its class may have changed */
}

static struct sc_sched_tenant *tenant_create(struct sc_sched *s, uint16_t domid)
{
    struct sc_sched_tenant ***page = &s->dir[domid >> DIR_BITS];
    if (!*page && !(*page = calloc(DIR_SIZE, sizeof(**page))))
        return NULL;
    /* Every tenant fits in either heap, so charge never allocates. */
    if (sc_rate_heap_reserve(&s->heap[HEAP_RES], s->ntenants + 1) ||
        sc_rate_heap_reserve(&s->heap[HEAP_HELD], s->ntenants + 1))
        return NULL;
    struct sc_sched_tenant *t = aligned_alloc(_Alignof(struct sc_sched_tenant), sizeof(*t));
    if (!t)
        return NULL;
    memset(t, 0, sizeof(*t));
    t->domid = domid;
    t->turn = 1; /* queues start with empty_turn 0: not empty in any turn */
    t->where = T_IDLE;
    t->hidx[HEAP_RES] = t->hidx[HEAP_HELD] = SC_RATE_HEAP_NONE;
    t->cls = CLS_NONE;
    struct sc_sched_tenant_conf c = { .weight = SC_SCHED_WEIGHT_DEFAULT };
    tenant_configure(s, t, &c);
    (*page)[domid & (DIR_SIZE - 1)] = t;
    s->ntenants++;
    return t;
}

/* A queue's work flag changes. A tenant going from no known work to some
 * drops the reservation credit of its idle time to at most one request's
 * worth (X >= now - 1 / rate): no banking. Callers then res_update() if
 * reserved. */
static __attribute__((noinline)) void queue_flip_work(struct sc_sched *s,
                                                      struct sc_sched_tenant *t,
                                                      struct sc_sched_queue *q, bool work)
{
    q->has_work = work;
    if (!work) {
        if (--t->nbusy == 0)
            active_update(s, t);
        return;
    }
    if (t->nbusy++ == 0) {
        active_update(s, t);
        if (t->rates & RATE_RES)
            sc_rate_res_restart(&t->res, s->now);
    }
}

static inline void queue_set_work(struct sc_sched *s, struct sc_sched_tenant *t,
                                  struct sc_sched_queue *q, bool work)
{
    if (work != q->has_work)
        queue_flip_work(s, t, q, work);
}

/* ---- public: lifecycle and settings ---- */

struct sc_sched *sc_sched_create(const struct sc_sched_params *params)
{
    struct sc_sched_params p = params ? *params : (struct sc_sched_params){ 0 };
    if (!p.request_cost)
        p.request_cost = 4096;
    if (!p.quantum)
        p.quantum = 128 * 1024;
    if (!p.visit_max_cost)
        p.visit_max_cost = 256 * 1024;
    if (!p.visit_max_requests)
        p.visit_max_requests = 64;
    if (!p.burst_ns)
        p.burst_ns = 10 * 1000 * 1000;
    if (!p.turn_max_cost)
        p.turn_max_cost = 64 * 1024;
    if (p.request_cost > (1u << 20) || p.quantum > (1ull << 30) ||
        p.visit_max_cost > (1ull << 30) || p.visit_max_requests > 65536 ||
        p.burst_ns < 1000 || p.burst_ns > 10 * SC_RATE_NS_PER_S ||
        p.turn_max_cost > (1ull << 30)) {
        errno = EINVAL;
        return NULL;
    }
    struct sc_sched *s = aligned_alloc(64, (sizeof(*s) + 63) & ~(size_t)63);
    if (!s) {
        errno = ENOMEM;
        return NULL;
    }
    memset(s, 0, sizeof(*s));
    s->p = p;
    s->due = INT64_MAX;
    s->turn_log = 63u - (uint32_t)__builtin_clzll(p.turn_max_cost);
    return s;
}

void sc_sched_destroy(struct sc_sched *s)
{
    if (!s)
        return;
    for (uint32_t i = 0; i < DIR_SIZE; i++) {
        if (!s->dir[i])
            continue;
        for (uint32_t j = 0; j < DIR_SIZE; j++)
            free(s->dir[i][j]);
        free(s->dir[i]);
    }
    sc_rate_heap_free(&s->heap[HEAP_RES]);
    sc_rate_heap_free(&s->heap[HEAP_HELD]);
    free(s);
}

int sc_sched_tenant_set(struct sc_sched *s, uint16_t domid,
                        const struct sc_sched_tenant_conf *conf)
{
    if (!s || !conf || !conf_valid(conf))
        return -EINVAL;
    struct sc_sched_tenant *t = tenant_find(s, domid);
    if (!t && !(t = tenant_create(s, domid)))
        return -ENOMEM;
    tenant_configure(s, t, conf);
    if (t->nqueues)
        tenant_place(s, t); /* the limit may hold it back now, or let it go */
    return 0;
}

int sc_sched_tenant_get(const struct sc_sched *s, uint16_t domid,
                        struct sc_sched_tenant_conf *conf)
{
    const struct sc_sched_tenant *t = s && conf ? tenant_find(s, domid) : NULL;
    if (!t)
        return s && conf ? -ENOENT : -EINVAL;
    *conf = t->conf;
    return 0;
}

int sc_sched_tenant_remove(struct sc_sched *s, uint16_t domid)
{
    if (!s)
        return -EINVAL;
    struct sc_sched_tenant *t = tenant_find(s, domid);
    if (!t)
        return -ENOENT;
    if (t->nqueues)
        return -EBUSY;
    /* no queues: in no ring and no heap */
    s->dir[domid >> DIR_BITS][domid & (DIR_SIZE - 1)] = NULL;
    s->ntenants--;
    free(t);
    return 0;
}

int sc_sched_tenant_stats(const struct sc_sched *s, uint16_t domid,
                          struct sc_sched_tenant_stats *out)
{
    const struct sc_sched_tenant *t = s && out ? tenant_find(s, domid) : NULL;
    if (!t)
        return s && out ? -ENOENT : -EINVAL;
    *out = t->stats;
    return 0;
}

/* ---- public: queues ---- */

int sc_sched_queue_add(struct sc_sched *s, struct sc_sched_queue *q, uint16_t domid)
{
    if (!s || !q || q->tenant)
        return -EINVAL;
    struct sc_sched_tenant *t = tenant_find(s, domid);
    if (!t && !(t = tenant_create(s, domid)))
        return -ENOMEM;
    q->tenant = t;
    q->empty_turn = 0;
    q->has_work = false;
    if (t->queues) { /* last in the rotation */
        q->next = t->queues;
        q->prev = t->queues->prev;
        q->prev->next = q;
        q->next->prev = q;
    } else {
        q->next = q->prev = q;
        t->queues = q;
    }
    queue_set_work(s, t, q, true); /* unknown: assume work until a visit says */
    if (t->nqueues++ == 0)
        tenant_place(s, t);
    else if (t->rates & RATE_RES)
        res_update(s, t);
    return 0;
}

int sc_sched_queue_remove(struct sc_sched *s, struct sc_sched_queue *q)
{
    if (!s || !q || !q->tenant)
        return -EINVAL;
    struct sc_sched_tenant *t = q->tenant;
    queue_set_work(s, t, q, false);
    if (s->pending == q)
        s->pending = NULL;
    if (--t->nqueues == 0) {
        t->queues = t->res_next = NULL;
        tenant_leave(s, t);
    } else {
        if (t->queues == q)
            t->queues = q->next;
        if (t->res_next == q)
            t->res_next = q->next;
        q->prev->next = q->next;
        q->next->prev = q->prev;
        if (t->rates & RATE_RES)
            res_update(s, t);
    }
    q->next = q->prev = NULL;
    q->tenant = NULL;
    return 0;
}

/* ---- the choice ---- */

static struct sc_sched_queue *reservation_queue(struct sc_sched_tenant *t)
{
    struct sc_sched_queue *q = t->res_next ? t->res_next : t->queues;
    for (uint32_t i = 0; i < t->nqueues; i++, q = q->next) {
        if (q->has_work) {
            t->res_next = q->next;
            return q;
        }
    }
    return t->queues; /* not reached: nbusy > 0 */
}

/* The next queue of t not found empty in this turn, rotating. */
static struct sc_sched_queue *turn_queue(struct sc_sched_tenant *t)
{
    struct sc_sched_queue *q = t->queues;
    for (uint32_t i = 0; i < t->nqueues; i++, q = q->next) {
        if (q->empty_turn != t->turn) {
            t->queues = q->next;
            return q;
        }
    }
    return NULL;
}

/* Everyone in the ring is in debt: add the rounds it takes until the first
 * one is out, to every one, as that many passes would have. O(ring). */
static void fast_forward(struct sc_sched *s)
{
    uint64_t rounds = UINT64_MAX;
    struct sc_sched_tenant *t = s->pos;
    do {
        /* rounds r with deficit + r * quantum >= 1, less the one the next
         * pass adds itself */
        int64_t tq = turn_quantum(s, t);
        uint64_t r = (uint64_t)(1 - t->deficit + tq - 1) / (uint64_t)tq;
        rounds = min_u64(rounds, r - 1);
        t = t->next;
    } while (t != s->pos);
    if (rounds == 0)
        return;
    do {
        t->deficit += (int64_t)rounds * turn_quantum(s, t);
        t->stats.skipped += rounds;
        t = t->next;
    } while (t != s->pos);
}

/* The slow part of the weight phase: ends the current turn if it is over and
 * begins turns until one has credit. Returns the queue to visit (s->pos is
 * its tenant). Amortised O(1): a turn that begins with credit always has a
 * queue (a new turn number), and tenants in debt are skipped at most
 * (debt / quantum) times, or fast-forwarded together. */
static struct sc_sched_queue *weight_turn(struct sc_sched *s)
{
    for (;;) {
        struct sc_sched_tenant *t = s->pos;
        if (s->in_turn) {
            struct sc_sched_queue *q = t->deficit > 0 ? turn_queue(t) : NULL;
            if (q)
                return q;
            /* spent, or nothing left to serve: DRR drops the credit */
            if (t->deficit > 0)
                t->deficit = 0;
            s->in_turn = false;
        }
        uint32_t skipped = 0;
        for (;;) {
            t = s->pos = s->pos->next;
            t->turn++;
            t->deficit += turn_quantum(s, t);
            if (t->deficit > 0)
                break;
            t->stats.skipped++;
            if (++skipped >= s->nring) { /* a whole pass in debt */
                fast_forward(s);
                skipped = 0;
            }
        }
        s->in_turn = true;
    }
}

/* Caps the grant by what t's limit buckets hold (t is not held: >= 1 each). */
static __attribute__((noinline)) void grant_limits(struct sc_sched *s, struct sc_sched_tenant *t,
                                                   struct sc_sched_grant *g)
{
    sc_rate_limit_refill(&t->lim, s->now);
    if (t->lim.iops.rate)
        g->max_requests = (uint32_t)min_u64(g->max_requests, (uint64_t)t->lim.iops.level);
    if (t->lim.bps.rate)
        g->max_bytes = (uint64_t)t->lim.bps.level;
}

static inline struct sc_sched_queue *grant_visit(struct sc_sched *s, struct sc_sched_tenant *t,
                                                 struct sc_sched_queue *q,
                                                 enum sc_sched_phase phase,
                                                 struct sc_sched_grant *g)
{
    g->max_cost = s->p.visit_max_cost;
    g->max_requests = s->p.visit_max_requests;
    g->max_bytes = UINT64_MAX;
    g->request_cost = s->p.request_cost;
    g->wait_ns = 0;
    g->phase = phase;
    g->probe = !q->has_work;
    if (phase == SC_SCHED_PHASE_WEIGHT)
        g->max_cost = min_u64(g->max_cost, (uint64_t)t->deficit);
    if (t->rates & RATE_LIMIT)
        grant_limits(s, t, g);
    q->stats.visits++;
    t->stats.visits++;
    s->pending = q;
    s->pending_phase = phase;
    return q;
}

/* Tenants whose buckets have refilled by now go back to the ring. */
static void release_held(struct sc_sched *s)
{
    while (sc_rate_heap_top_key(&s->heap[HEAP_HELD]) <= (int64_t)s->now) {
        struct sc_sched_tenant *t = heap_top(s, HEAP_HELD);
        heap_remove(s, HEAP_HELD, t);
        t->where = T_IDLE;
        tenant_place(s, t); /* the ring's tail (or held again if the key was early) */
    }
}

/* next() when a heap's top is due: releases held tenants, then serves the
 * busy reserved tenant with the earliest tag if that is due (all of them
 * are in the ring, so they have tokens). NULL: no reservation visit. */
static __attribute__((noinline)) struct sc_sched_queue *
next_due(struct sc_sched *s, struct sc_sched_grant *g)
{
    int64_t now = (int64_t)s->now;
    release_held(s);
    if (sc_rate_heap_top_key(&s->heap[HEAP_RES]) > now)
        return NULL;
    struct sc_sched_tenant *t = heap_top(s, HEAP_RES);
    struct sc_sched_queue *q = grant_visit(s, t, reservation_queue(t),
                                           SC_SCHED_PHASE_RESERVATION, g);
    /* Serve what the tenant is behind by, in whichever dimension. */
    bool iops_behind = t->res.iops.rate && sc_rate_tag_key(&t->res.iops) <= now;
    bool bps_behind = t->res.bps.rate && sc_rate_tag_key(&t->res.bps) <= now;
    if (iops_behind && !bps_behind)
        g->max_requests =
            (uint32_t)min_u64(g->max_requests, sc_rate_tag_level(&t->res.iops, s->now));
    if (bps_behind && !iops_behind)
        g->max_bytes = min_u64(g->max_bytes, sc_rate_tag_level(&t->res.bps, s->now));
    t->stats.reservation_visits++;
    q->stats.reservation_visits++;
    return q;
}

struct sc_sched_queue *sc_sched_next(struct sc_sched *s, uint64_t now_ns,
                                     struct sc_sched_grant *grant)
{
    if (!s || !grant || s->pending) {
        errno = EINVAL;
        return NULL;
    }
    int64_t now = (int64_t)sched_now(s, now_ns);
    if (now >= s->due) {
        struct sc_sched_queue *q = next_due(s, grant);
        if (q)
            return q;
    }
    struct sc_sched_tenant *t = s->pos;
    struct sc_sched_queue *q;
    if (t && s->in_turn && t->deficit > 0 && t->queues->empty_turn != t->turn) {
        q = t->queues; /* the common case: the turn goes on */
        t->queues = q->next;
    } else if (t) {
        q = weight_turn(s);
        t = s->pos;
    } else { /* nobody can be served: wait for the first held one */
        memset(grant, 0, sizeof(*grant));
        grant->request_cost = s->p.request_cost;
        grant->wait_ns = s->heap[HEAP_HELD].n
                             ? (uint64_t)(sc_rate_heap_top_key(&s->heap[HEAP_HELD]) - now)
                             : SC_SCHED_WAIT_FOREVER;
        errno = EAGAIN;
        return NULL;
    }
    return grant_visit(s, t, q, SC_SCHED_PHASE_WEIGHT, grant);
}

/* charge() for a tenant with limits or reservations: the buckets and tags. */
static __attribute__((noinline)) void charge_rates(struct sc_sched_tenant *t, uint64_t now,
                                                   uint64_t bytes, uint32_t requests)
{
    if (t->rates & RATE_LIMIT) {
        sc_rate_limit_refill(&t->lim, now);
        sc_rate_limit_take(&t->lim, requests, bytes);
    }
    if (t->rates & RATE_RES)
        sc_rate_res_take(&t->res, requests, bytes, now);
}

/* ... and, once the visit is over, where the tenant goes. */
static __attribute__((noinline)) void charge_place(struct sc_sched *s, struct sc_sched_tenant *t)
{
    if ((t->rates & RATE_LIMIT) && sc_rate_limit_throttled(&t->lim))
        tenant_hold(s, t); /* updates the reservation heap too */
    else if (t->rates & RATE_RES)
        res_update(s, t);
}

int sc_sched_charge(struct sc_sched *s, struct sc_sched_queue *q, uint64_t now_ns,
                    uint64_t bytes, uint32_t requests, bool still_has_work)
{
    if (!s || !q || q != s->pending || bytes > SC_SCHED_CHARGE_MAX_BYTES ||
        requests > SC_SCHED_CHARGE_MAX_REQUESTS)
        return -EINVAL;
    uint64_t now = sched_now(s, now_ns);
    struct sc_sched_tenant *t = q->tenant;
    uint64_t cost = bytes + (uint64_t)requests * s->p.request_cost;

    if (t->rates)
        charge_rates(t, now, bytes, requests);
    if (s->pending_phase == SC_SCHED_PHASE_WEIGHT)
        t->deficit -= (int64_t)cost;
    else
        t->stats.reservation_cost += cost;

    t->stats.requests += requests;
    t->stats.bytes += bytes;
    t->stats.cost += cost;
    q->stats.requests += requests;
    q->stats.bytes += bytes;
    q->stats.cost += cost;

    bool consumed = requests || bytes;
    if (!consumed)
        q->stats.empty_visits++;
    /* A visit that took nothing counts as empty even if the queue claims
     * work (e.g. stalled on back-pressure), so it cannot hold the core. */
    bool work = still_has_work && consumed;
    queue_set_work(s, t, q, work);
    if (!work)
        q->empty_turn = t->turn;
    s->pending = NULL;
    if (t->rates)
        charge_place(s, t);
    return 0;
}

uint32_t sc_sched_turn_shift(const struct sc_sched *s)
{
    return s ? s->qshift : 0;
}

double sc_jain_index(const double *x, size_t n)
{
    if (!x || n == 0)
        return NAN;
    double sum = 0, sq = 0;
    for (size_t i = 0; i < n; i++) {
        if (!(x[i] >= 0))
            return NAN;
        sum += x[i];
        sq += x[i] * x[i];
    }
    if (sq == 0)
        return NAN;
    return sum * sum / ((double)n * sq);
}
