/*
 * sched.c - fair share of one sidecore: deficit round robin by cost between
 * tenants, round robin between a tenant's queues, token-bucket limits, and
 * reservations served first. See sched.h for the contract.
 *
 * Token buckets. A bucket holds `level` whole units (requests or bytes) plus
 * `frac` billionths of a unit, refilled by rate * elapsed ns exactly (128-bit
 * product, remainder carried), so long runs lose nothing to rounding. The
 * level is capped at `depth` (rate * burst_ns, at least one unit). A tenant
 * may spend a bucket below zero: a visit always admits its first request,
 * whatever its size, and the overshoot becomes debt that later refills repay,
 * so the long-run rate is exact.
 *
 * Limits: a tenant is eligible only while every limit bucket holds >= 1 unit;
 * the grant caps requests and bytes at what the buckets hold.
 *
 * Reservations, and why they are met. Each reservation dimension is a bucket
 * refilled at the reserved rate and drained by *all* service the tenant gets
 * (either phase), floored at -depth. level >= 1 means "behind": the tenant
 * got less than rate * t over the recent window. Before every weight-based
 * visit, the tenant with work that is most behind (level / rate, in ns: the
 * earliest reservation deadline) is visited instead, and that service does not
 * spend its deficit (as mClock's reservation phase does not move its
 * proportional tags). This is earliest-deadline-first over reservation tags;
 * EDF meets every deadline whenever the reserved load is feasible, i.e. the
 * sum over tenants of (reserved IOPS * time per request + reserved bytes/s *
 * time per byte) is below the core's capacity; the reservation phase then
 * takes at most that fraction of the core and each backlogged tenant is
 * visited within one visit of falling behind. The -depth floor bounds how
 * much past over-service can hide a tenant's later shortfall (at most
 * 2 * burst_ns), and a tenant that turns busy after idling starts at most one
 * request ahead, so idle time is never banked (as mClock's R = max(R, now)).
 * Infeasible reservations (sum above capacity) starve the weight phase; the
 * control path should refuse them.
 *
 * Deficit round robin. Tenants with queues take turns in list order. A turn
 * adds the tenant's quantum (quantum * weight / 100) to its deficit and hands
 * out visits to its queues in rotation, each granted min(deficit, visit
 * budget), until the deficit is spent, the limit bites, or every queue has
 * come up empty in this turn; in the last case the unspent deficit is dropped
 * (DRR's reset on empty), so idling banks nothing. Debt (deficit <= 0) is
 * kept; a tenant in debt loses turns until repaid. When a whole pass finds
 * everyone in debt, the rounds needed for the first tenant to get out are
 * added at once ("fast forward") instead of looping round by round.
 */
#include "sched.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define NS_PER_S 1000000000ull

struct sc_sched_bucket {
    uint64_t rate;    /* units per second; 0 = bucket unused */
    int64_t depth;    /* cap on level, >= 1 */
    int64_t floor;    /* lowest level debt may reach */
    int64_t level;    /* whole units */
    uint64_t frac;    /* plus frac / 1e9 units */
    uint64_t last_ns; /* time of the last refill */
};

struct sc_sched_tenant {
    struct sc_sched_tenant *next, *prev; /* ring of all tenants, with sentinel */
    uint16_t domid;
    struct sc_sched_tenant_conf conf;
    int64_t quantum;
    int64_t deficit;
    uint64_t turn;                   /* counts this tenant's DRR turns */
    struct sc_sched_queue *queues;   /* ring; the next to visit in a turn */
    struct sc_sched_queue *res_next; /* next to try in the reservation phase */
    uint32_t nqueues;
    uint32_t nbusy;                  /* queues with has_work */
    struct sc_sched_bucket lim_iops, lim_bps, res_iops, res_bps;
    struct sc_sched_tenant_stats stats;
};

struct sc_sched {
    struct sc_sched_params p;
    struct sc_sched_tenant ring;   /* sentinel of the tenant ring */
    struct sc_sched_tenant *pos;   /* tenant that had the last DRR turn */
    bool in_turn;                  /* pos's turn is still on */
    uint32_t nactive;              /* tenants with at least one queue */
    uint64_t now;                  /* newest time seen */
    struct sc_sched_queue *pending; /* outstanding visit, or NULL */
    enum sc_sched_phase pending_phase;
};

static uint64_t min_u64(uint64_t a, uint64_t b)
{
    return a < b ? a : b;
}

/* ---- token buckets ---- */

static void bucket_set(struct sc_sched_bucket *b, uint64_t rate, uint64_t burst_ns,
                       bool debt_bounded, uint64_t now)
{
    if (rate == 0) {
        memset(b, 0, sizeof(*b));
        return;
    }
    unsigned __int128 depth = (unsigned __int128)rate * burst_ns / NS_PER_S;
    if (depth < 1)
        depth = 1;
    if (b->rate == 0) {
        b->level = (int64_t)depth;
        b->frac = 0;
        b->last_ns = now;
    } else if (b->level > (int64_t)depth) {
        b->level = (int64_t)depth;
        b->frac = 0;
    }
    b->rate = rate;
    b->depth = (int64_t)depth;
    /* Limits keep all debt (exact rate); reservations forget old surplus. */
    b->floor = debt_bounded ? -(int64_t)depth : INT64_MIN / 4;
}

static void bucket_refill(struct sc_sched_bucket *b, uint64_t now)
{
    if (b->rate == 0 || now <= b->last_ns)
        return;
    uint64_t dt = now - b->last_ns;
    b->last_ns = now;
    if (b->level >= b->depth) {
        b->frac = 0;
        return;
    }
    unsigned __int128 total = (unsigned __int128)b->rate * dt + b->frac;
    unsigned __int128 add = total / NS_PER_S;
    if (add >= (unsigned __int128)(b->depth - b->level)) {
        b->level = b->depth;
        b->frac = 0;
    } else {
        b->level += (int64_t)add;
        b->frac = (uint64_t)(total % NS_PER_S);
    }
}

static void bucket_take(struct sc_sched_bucket *b, uint64_t units)
{
    if (b->rate == 0)
        return;
    b->level -= (int64_t)units; /* units <= 2^40 by the charge bounds */
    if (b->level < b->floor) {
        b->level = b->floor;
        b->frac = 0;
    }
}

/* ns until the bucket holds one whole unit; 0 if it does. */
static uint64_t bucket_wait_ns(const struct sc_sched_bucket *b)
{
    if (b->rate == 0 || b->level >= 1)
        return 0;
    unsigned __int128 need = (unsigned __int128)(1 - b->level) * NS_PER_S - b->frac;
    unsigned __int128 ns = (need + b->rate - 1) / b->rate;
    return ns > UINT64_MAX - 1 ? UINT64_MAX - 1 : (uint64_t)ns;
}

/* 1 + ns the tenant is behind on this reservation, or 0 if not behind. */
static uint64_t bucket_behind_key(const struct sc_sched_bucket *b)
{
    if (b->rate == 0 || b->level < 1)
        return 0;
    unsigned __int128 ns = ((unsigned __int128)b->level * NS_PER_S + b->frac) / b->rate;
    return ns >= UINT64_MAX - 1 ? UINT64_MAX : (uint64_t)ns + 1;
}

/* ---- tenants ---- */

static void tenant_refill(struct sc_sched_tenant *t, uint64_t now)
{
    bucket_refill(&t->lim_iops, now);
    bucket_refill(&t->lim_bps, now);
    bucket_refill(&t->res_iops, now);
    bucket_refill(&t->res_bps, now);
}

static bool tenant_throttled(const struct sc_sched_tenant *t)
{
    return (t->lim_iops.rate && t->lim_iops.level < 1) ||
           (t->lim_bps.rate && t->lim_bps.level < 1);
}

static uint64_t tenant_wait_ns(const struct sc_sched_tenant *t)
{
    uint64_t a = bucket_wait_ns(&t->lim_iops), b = bucket_wait_ns(&t->lim_bps);
    return a > b ? a : b;
}

static uint64_t tenant_behind_key(const struct sc_sched_tenant *t)
{
    uint64_t a = bucket_behind_key(&t->res_iops), b = bucket_behind_key(&t->res_bps);
    return a > b ? a : b;
}

static struct sc_sched_tenant *tenant_find(const struct sc_sched *s, uint16_t domid)
{
    for (struct sc_sched_tenant *t = s->ring.next; t != &s->ring; t = t->next)
        if (t->domid == domid)
            return t;
    return NULL;
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
    bucket_set(&t->lim_iops, c->limit.iops, s->p.burst_ns, false, s->now);
    bucket_set(&t->lim_bps, c->limit.bps, s->p.burst_ns, false, s->now);
    bucket_set(&t->res_iops, c->reservation.iops, s->p.burst_ns, true, s->now);
    bucket_set(&t->res_bps, c->reservation.bps, s->p.burst_ns, true, s->now);
}

static struct sc_sched_tenant *tenant_create(struct sc_sched *s, uint16_t domid)
{
    struct sc_sched_tenant *t = calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    t->domid = domid;
    t->turn = 1; /* queues start with empty_turn 0: not empty in any turn */
    t->next = &s->ring;
    t->prev = s->ring.prev;
    s->ring.prev->next = t;
    s->ring.prev = t;
    struct sc_sched_tenant_conf c = { .weight = SC_SCHED_WEIGHT_DEFAULT };
    tenant_configure(s, t, &c);
    return t;
}

/* A tenant going from no known work to some: its reservation credit from the
 * idle time is dropped to at most one request's worth (no banking). */
static void tenant_busy_again(struct sc_sched_tenant *t)
{
    struct sc_sched_bucket *r[] = { &t->res_iops, &t->res_bps };
    for (size_t i = 0; i < 2; i++) {
        if (r[i]->rate && r[i]->level > 1) {
            r[i]->level = 1;
            r[i]->frac = 0;
        }
    }
}

static void queue_set_work(struct sc_sched_tenant *t, struct sc_sched_queue *q, bool work)
{
    if (work == q->has_work)
        return;
    q->has_work = work;
    if (work) {
        if (t->nbusy++ == 0)
            tenant_busy_again(t);
    } else {
        t->nbusy--;
    }
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
    if (p.request_cost > (1u << 20) || p.quantum > (1ull << 30) ||
        p.visit_max_cost > (1ull << 30) || p.visit_max_requests > 65536 ||
        p.burst_ns < 1000 || p.burst_ns > 10 * NS_PER_S) {
        errno = EINVAL;
        return NULL;
    }
    struct sc_sched *s = calloc(1, sizeof(*s));
    if (!s) {
        errno = ENOMEM;
        return NULL;
    }
    s->p = p;
    s->ring.next = s->ring.prev = &s->ring;
    s->pos = &s->ring;
    return s;
}

void sc_sched_destroy(struct sc_sched *s)
{
    if (!s)
        return;
    while (s->ring.next != &s->ring) {
        struct sc_sched_tenant *t = s->ring.next;
        s->ring.next = t->next;
        free(t);
    }
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
    if (s->pos == t)
        s->pos = t->prev; /* the rotation goes on with t's successor */
    t->prev->next = t->next;
    t->next->prev = t->prev;
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
        s->nactive++;
    }
    t->nqueues++;
    queue_set_work(t, q, true); /* unknown: assume work until a visit says */
    return 0;
}

int sc_sched_queue_remove(struct sc_sched *s, struct sc_sched_queue *q)
{
    if (!s || !q || !q->tenant)
        return -EINVAL;
    struct sc_sched_tenant *t = q->tenant;
    queue_set_work(t, q, false);
    if (s->pending == q)
        s->pending = NULL;
    if (--t->nqueues == 0) {
        t->queues = t->res_next = NULL;
        s->nactive--;
        if (t->deficit > 0)
            t->deficit = 0;
        if (s->pos == t)
            s->in_turn = false;
    } else {
        if (t->queues == q)
            t->queues = q->next;
        if (t->res_next == q)
            t->res_next = q->next;
        q->prev->next = q->next;
        q->next->prev = q->prev;
    }
    q->next = q->prev = NULL;
    q->tenant = NULL;
    return 0;
}

/* ---- the choice ---- */

static struct sc_sched_tenant *reservation_pick(struct sc_sched *s)
{
    struct sc_sched_tenant *best = NULL;
    uint64_t best_key = 0;
    for (struct sc_sched_tenant *t = s->ring.next; t != &s->ring; t = t->next) {
        if (!t->nbusy || (!t->res_iops.rate && !t->res_bps.rate))
            continue;
        tenant_refill(t, s->now);
        if (tenant_throttled(t))
            continue;
        uint64_t key = tenant_behind_key(t);
        if (key > best_key) {
            best_key = key;
            best = t;
        }
    }
    return best;
}

static struct sc_sched_queue *reservation_queue(struct sc_sched_tenant *t)
{
    struct sc_sched_queue *q = t->res_next ? t->res_next : t->queues;
    for (uint32_t i = 0; i < t->nqueues; i++, q = q->next) {
        if (q->has_work) {
            t->res_next = q->next;
            return q;
        }
    }
    return NULL; /* not reached: nbusy > 0 */
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

static void end_turn(struct sc_sched *s, struct sc_sched_tenant *t, bool drop_credit)
{
    if (drop_credit && t->deficit > 0)
        t->deficit = 0;
    s->in_turn = false;
}

static struct sc_sched_tenant *next_tenant(struct sc_sched *s)
{
    struct sc_sched_tenant *t = s->pos;
    do {
        t = t->next;
    } while (t == &s->ring || !t->nqueues);
    return t;
}

/* Everyone eligible is in debt: add the rounds it takes until the first one
 * is out, to every eligible tenant, as that many passes would have. */
static void fast_forward(struct sc_sched *s)
{
    uint64_t rounds = UINT64_MAX;
    for (struct sc_sched_tenant *t = s->ring.next; t != &s->ring; t = t->next) {
        if (!t->nqueues || tenant_throttled(t))
            continue;
        /* rounds r with deficit + r * quantum >= 1, less the one the next
         * pass adds itself */
        uint64_t r = (uint64_t)(1 - t->deficit + t->quantum - 1) / (uint64_t)t->quantum;
        rounds = min_u64(rounds, r - 1);
    }
    if (rounds == UINT64_MAX || rounds == 0)
        return;
    for (struct sc_sched_tenant *t = s->ring.next; t != &s->ring; t = t->next) {
        if (!t->nqueues || tenant_throttled(t))
            continue;
        t->deficit += (int64_t)rounds * t->quantum;
        t->stats.skipped += rounds;
    }
}

static struct sc_sched_queue *grant_visit(struct sc_sched *s, struct sc_sched_tenant *t,
                                          struct sc_sched_queue *q,
                                          enum sc_sched_phase phase,
                                          struct sc_sched_grant *g)
{
    g->max_cost = s->p.visit_max_cost;
    g->max_requests = s->p.visit_max_requests;
    g->max_bytes = UINT64_MAX;
    if (phase == SC_SCHED_PHASE_WEIGHT)
        g->max_cost = min_u64(g->max_cost, (uint64_t)t->deficit);
    if (t->lim_iops.rate)
        g->max_requests = (uint32_t)min_u64(g->max_requests, (uint64_t)t->lim_iops.level);
    if (t->lim_bps.rate)
        g->max_bytes = (uint64_t)t->lim_bps.level;
    if (phase == SC_SCHED_PHASE_RESERVATION) {
        /* Serve what the tenant is behind by, in whichever dimension. */
        bool iops_behind = bucket_behind_key(&t->res_iops) > 0;
        bool bps_behind = bucket_behind_key(&t->res_bps) > 0;
        if (iops_behind && !bps_behind)
            g->max_requests = (uint32_t)min_u64(g->max_requests,
                                                (uint64_t)t->res_iops.level);
        if (bps_behind && !iops_behind)
            g->max_bytes = min_u64(g->max_bytes, (uint64_t)t->res_bps.level);
        t->stats.reservation_visits++;
        q->stats.reservation_visits++;
    }
    g->phase = phase;
    g->probe = !q->has_work;
    q->stats.visits++;
    t->stats.visits++;
    s->pending = q;
    s->pending_phase = phase;
    return q;
}

static struct sc_sched_queue *nothing_eligible(struct sc_sched *s, struct sc_sched_grant *g)
{
    g->wait_ns = SC_SCHED_WAIT_FOREVER;
    for (struct sc_sched_tenant *t = s->ring.next; t != &s->ring; t = t->next)
        if (t->nqueues && tenant_throttled(t))
            g->wait_ns = min_u64(g->wait_ns, tenant_wait_ns(t));
    errno = EAGAIN;
    return NULL;
}

struct sc_sched_queue *sc_sched_next(struct sc_sched *s, uint64_t now_ns,
                                     struct sc_sched_grant *grant)
{
    if (!s || !grant || s->pending) {
        errno = EINVAL;
        return NULL;
    }
    if (now_ns > s->now)
        s->now = now_ns;
    memset(grant, 0, sizeof(*grant));
    grant->request_cost = s->p.request_cost;
    if (!s->nactive)
        return nothing_eligible(s, grant);

    struct sc_sched_tenant *t = reservation_pick(s);
    if (t)
        return grant_visit(s, t, reservation_queue(t), SC_SCHED_PHASE_RESERVATION, grant);

    uint32_t begun = 0; /* turns begun without a visit since the last check */
    bool debt = false;
    /* Bounded: each pass either visits, or fast-forwards so that the next
     * pass visits, or finds everyone throttled. */
    for (uint32_t iter = 0; iter < 4 * s->nactive + 8; iter++) {
        if (!s->in_turn) {
            if (begun >= s->nactive) {
                if (!debt)
                    return nothing_eligible(s, grant);
                fast_forward(s);
                begun = 0;
                debt = false;
            }
            t = s->pos = next_tenant(s);
            begun++;
            tenant_refill(t, s->now);
            if (tenant_throttled(t)) {
                t->stats.throttled++;
                if (t->deficit > 0)
                    t->deficit = 0; /* no credit while held back */
                continue;
            }
            t->turn++;
            t->deficit += t->quantum;
            if (t->deficit <= 0) {
                t->stats.skipped++;
                debt = true;
                continue;
            }
            s->in_turn = true;
        }
        t = s->pos;
        tenant_refill(t, s->now);
        if (tenant_throttled(t) || t->deficit <= 0) {
            end_turn(s, t, true);
            continue;
        }
        struct sc_sched_queue *q = turn_queue(t);
        if (!q) {
            end_turn(s, t, true); /* DRR: nothing left to serve, no credit */
            continue;
        }
        return grant_visit(s, t, q, SC_SCHED_PHASE_WEIGHT, grant);
    }
    return nothing_eligible(s, grant); /* not reached */
}

int sc_sched_charge(struct sc_sched *s, struct sc_sched_queue *q, uint64_t now_ns,
                    uint64_t bytes, uint32_t requests, bool still_has_work)
{
    if (!s || !q || q != s->pending || bytes > SC_SCHED_CHARGE_MAX_BYTES ||
        requests > SC_SCHED_CHARGE_MAX_REQUESTS)
        return -EINVAL;
    if (now_ns > s->now)
        s->now = now_ns;
    struct sc_sched_tenant *t = q->tenant;
    uint64_t cost = bytes + (uint64_t)requests * s->p.request_cost;

    tenant_refill(t, s->now);
    bucket_take(&t->lim_iops, requests);
    bucket_take(&t->lim_bps, bytes);
    bucket_take(&t->res_iops, requests);
    bucket_take(&t->res_bps, bytes);
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
    queue_set_work(t, q, work);
    if (!work)
        q->empty_turn = t->turn;
    s->pending = NULL;
    return 0;
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
