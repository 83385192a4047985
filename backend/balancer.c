/*
 * balancer.c - measuring the cores and queues, and carrying out
 * rebalance.h's plans (balancer.h).
 *
 * The loads are measured from counters that only grow (the cores' busy_ns,
 * the queues' SC_QSTAT_BUSY_NS), as differences over one interval, so the
 * balancer keeps only the previous readings: per core in a small table,
 * per queue in its sc_attach (busy_seen_ns).  A queue that moved during
 * the interval has busy time from two cores in its difference: it is
 * measured, shown, but not moved again until a clean interval.
 */
#include "balancer.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "log.h"
#include "queue_attach.h"

/* Queues planned over at most (the rest are measured, not moved). */
#define BAL_MAX_QUEUES 4096u

struct bal_core {
    struct sc_core *core;
    uint64_t busy_seen; /* its busy_ns at the last measurement */
};

struct sc_balancer {
    struct sc_pool *pool;
    struct sc_balancer_params p;
    uint64_t last_ns;      /* the last measurement, 0: none */
    uint64_t interval_ns;  /* of the last complete interval, 0: none */
    unsigned ncores;
    struct bal_core cores[SC_POOL_MAX_CORES];
    double load[SC_POOL_MAX_CORES];   /* the last interval's */
    unsigned streak, cooldown_left;
    unsigned grow_streak, shrink_streak;
    struct sc_balancer_stats stats;
    struct sc_balancer_report last;   /* the last plan that moved something */
    /* the last interval's queues, as planned over */
    struct sc_attach *qa[BAL_MAX_QUEUES];
    struct sc_rb_queue rq[BAL_MAX_QUEUES];
    unsigned nq;
    double capacity_iops, capacity_bps; /* per busy second, smoothed; 0: not yet */
};

void sc_balancer_params_default(struct sc_balancer_params *p)
{
    memset(p, 0, sizeof(*p));
    p->enabled = true;
    p->interval_ns = SC_BALANCER_INTERVAL_DEFAULT_NS;
    p->sustain = 2;
    p->cooldown = 2;
    sc_rb_params_default(&p->plan);
    p->grow_load = 0.75;
    p->shrink_load = 0.5;
}

static bool params_valid(const struct sc_balancer_params *p)
{
    return p && p->interval_ns >= 10000000ull && p->interval_ns <= 3600ull * 1000000000ull &&
           p->sustain >= 1 && p->sustain <= 1000 && p->cooldown <= 1000 &&
           p->plan.spread >= 0.0 && p->plan.spread <= 1.0 && p->plan.min_gain >= 0.0 &&
           p->plan.min_gain <= 1.0 && p->plan.max_moves >= 1 &&
           p->plan.max_moves <= SC_BALANCER_MAX_MOVES && p->grow_load > 0 &&
           p->grow_load <= 1.0 && p->shrink_load > 0 && p->shrink_load < p->grow_load;
}

static int index_core(struct sc_core *core, void *arg)
{
    struct sc_balancer *b = arg;
    if (b->ncores < SC_POOL_MAX_CORES)
        b->cores[b->ncores++].core = core;
    return 0;
}

struct sc_balancer *sc_balancer_create(struct sc_pool *pool, const struct sc_balancer_params *p)
{
    if (!pool || !params_valid(p)) {
        errno = EINVAL;
        return NULL;
    }
    struct sc_balancer *b = calloc(1, sizeof(*b));
    if (!b)
        return NULL;
    b->pool = pool;
    b->p = *p;
    /* Poll mode's cores are made at start and stay; event mode's come and
     * go with their queues and are never looked at (nothing to balance) */
    if (sc_pool_mode(pool) == SC_MODE_POLL)
        sc_pool_foreach_core(pool, index_core, b);
    return b;
}

void sc_balancer_destroy(struct sc_balancer *b)
{
    free(b);
}

int sc_balancer_set_params(struct sc_balancer *b, const struct sc_balancer_params *p)
{
    if (!b || !params_valid(p))
        return -EINVAL;
    b->p = *p;
    b->streak = b->cooldown_left = 0;
    return 0;
}

void sc_balancer_get_params(const struct sc_balancer *b, struct sc_balancer_params *out)
{
    *out = b->p;
}

static bool usable(const struct sc_balancer *b)
{
    return sc_pool_mode(b->pool) == SC_MODE_POLL && b->ncores >= 2;
}


static int core_index(const struct sc_balancer *b, const struct sc_core *core)
{
    for (unsigned i = 0; i < b->ncores; i++)
        if (b->cores[i].core == core)
            return (int)i;
    return -1;
}

/* One interval's service per busy second into the smoothed capacity (a
 * quarter of the new reading each time: a change of the workload's mix
 * shows within a few intervals, one odd interval does not). */
static void note_capacity(struct sc_balancer *b, uint64_t elapsed, uint64_t busy,
                          uint64_t requests, uint64_t bytes)
{
    if (!busy || (double)busy < SC_BALANCER_CAPACITY_MIN_LOAD * (double)elapsed || !requests)
        return;
    double iops = (double)requests * 1e9 / (double)busy;
    double bps = (double)bytes * 1e9 / (double)busy;
    b->capacity_iops = b->capacity_iops ? 0.75 * b->capacity_iops + 0.25 * iops : iops;
    b->capacity_bps = b->capacity_bps ? 0.75 * b->capacity_bps + 0.25 * bps : bps;
}

/* Reads the counters; from the second call on, fills load[] and the queues
 * of the interval that just ended. */
static void measure(struct sc_balancer *b, uint64_t now)
{
    uint64_t elapsed = b->last_ns ? now - b->last_ns : 0;
    for (unsigned i = 0; i < b->ncores; i++) {
        struct sc_core_stats st;
        sc_core_stats(b->cores[i].core, &st);
        if (elapsed) {
            double l = (double)(st.busy_ns - b->cores[i].busy_seen) / (double)elapsed;
            b->load[i] = l < 0 ? 0 : l > 1 ? 1 : l;
        }
        b->cores[i].busy_seen = st.busy_ns;
    }
    b->nq = 0;
    uint64_t all_busy = 0, all_requests = 0, all_bytes = 0;
    for (struct sc_attach *a = sc_pool_attached(b->pool); a; a = a->pool_next) {
        struct sc_queue_stats_snap snap;
        sc_queue_stats_snapshot(a->q, &snap);
        uint64_t busy = snap.counter[SC_QSTAT_BUSY_NS];
        uint64_t delta = busy - a->busy_seen_ns;
        all_busy += delta;
        all_requests += snap.counter[SC_QSTAT_REQUESTS] - a->requests_seen;
        all_bytes += snap.counter[SC_QSTAT_BYTES] - a->bytes_seen;
        a->busy_seen_ns = busy;
        a->requests_seen = snap.counter[SC_QSTAT_REQUESTS];
        a->bytes_seen = snap.counter[SC_QSTAT_BYTES];
        if (!elapsed)
            continue;
        uint64_t ppm = delta * 1000000u / elapsed;
        a->q->load_ppm = ppm > 1000000u ? 1000000u : (uint32_t)ppm;
        int ci = core_index(b, a->core);
        if (ci < 0 || b->nq == BAL_MAX_QUEUES)
            continue;
        bool clean = !a->moving && !a->remove_posted && !sc_queue_failed(a->q) &&
                     a->moved_ns < b->last_ns;
        b->qa[b->nq] = a;
        b->rq[b->nq++] = (struct sc_rb_queue){ .core = (unsigned)ci, .busy_ns = delta,
                                               .movable = clean };
    }
    if (elapsed) {
        b->interval_ns = elapsed;
        b->stats.intervals++;
        note_capacity(b, elapsed, all_busy, all_requests, all_bytes);
    }
    b->last_ns = now;
}

static bool active(const struct sc_balancer *b, unsigned i)
{
    return sc_pool_core_active(b->pool, b->cores[i].core);
}

/* A planned move as carry_out needs it: the report holds names only. */
struct planned {
    struct sc_attach *a;
    unsigned from, to; /* core indexes */
};

/* Plans over the last interval into out (and each move's queue and cores
 * into ps), among the active cores: an inactive one is neither a source
 * (it has no queues) nor a target. */
static unsigned plan(struct sc_balancer *b, struct sc_balancer_report *out, struct planned *ps)
{
    memset(out, 0, sizeof(*out));
    out->interval_ns = b->interval_ns;
    out->ncores = b->ncores;
    unsigned act[SC_POOL_MAX_CORES], nact = 0, to_act[SC_POOL_MAX_CORES];
    double loads[SC_POOL_MAX_CORES];
    for (unsigned i = 0; i < b->ncores; i++) {
        snprintf(out->core[i], sizeof(out->core[i]), "%s", sc_core_name(b->cores[i].core));
        out->load[i] = out->estimate[i] = b->load[i];
        to_act[i] = UINT32_MAX;
        if (active(b, i)) {
            to_act[i] = nact;
            loads[nact] = b->load[i];
            act[nact++] = i;
        }
    }
    struct sc_rb_queue rq[BAL_MAX_QUEUES];
    for (unsigned i = 0; i < b->nq; i++) {
        rq[i] = b->rq[i];
        if (to_act[rq[i].core] == UINT32_MAX) {
            rq[i].core = UINT32_MAX; /* off the plan */
            rq[i].movable = false;
        } else {
            rq[i].core = to_act[rq[i].core];
        }
    }
    struct sc_rb_move m[SC_BALANCER_MAX_MOVES];
    unsigned n = nact >= 2 ? sc_rb_plan(&b->p.plan, loads, nact, rq, b->nq, m) : 0;
    for (unsigned i = 0; i < nact; i++)
        out->estimate[act[i]] = loads[i];
    for (unsigned i = 0; i < n; i++) {
        struct sc_balancer_move *bm = &out->moves[i];
        struct sc_attach *a = b->qa[m[i].queue];
        ps[i] = (struct planned){ .a = a, .from = act[m[i].from], .to = act[m[i].to] };
        snprintf(bm->queue, sizeof(bm->queue), "%s", a->q->name);
        snprintf(bm->from, sizeof(bm->from), "%s", out->core[act[m[i].from]]);
        snprintf(bm->to, sizeof(bm->to), "%s", out->core[act[m[i].to]]);
        bm->load = m[i].load;
        bm->from_after = m[i].from_after;
        bm->to_after = m[i].to_after;
    }
    out->nmoves = n;
    return n;
}

/* The adaptive count (balancer.h).  True if it changed the active set. */
static bool adapt_count(struct sc_balancer *b)
{
    if (!b->p.min_cores || b->p.min_cores >= b->ncores)
        return false;
    unsigned nact = 0, idlest = 0, first_off = b->ncores;
    bool all_busy = true;
    double sum = 0;
    for (unsigned i = 0; i < b->ncores; i++) {
        if (!active(b, i)) {
            if (first_off == b->ncores)
                first_off = i;
            continue;
        }
        if (!nact || b->load[i] < b->load[idlest])
            idlest = i;
        nact++;
        sum += b->load[i];
        all_busy &= b->load[i] >= b->p.grow_load;
    }
    b->grow_streak = all_busy && first_off < b->ncores ? b->grow_streak + 1 : 0;
    b->shrink_streak = nact > b->p.min_cores && sum <= (nact - 1) * b->p.shrink_load
                           ? b->shrink_streak + 1 : 0;
    if (b->grow_streak >= b->p.sustain) {
        b->grow_streak = 0;
        if (sc_pool_core_set_active(b->pool, b->cores[first_off].core, true) < 0)
            return false;
        b->stats.cores_added++;
        sc_log(SC_LOG_INFO, "balancer", "%s added: every active sidecore above %.0f%% busy",
               sc_core_name(b->cores[first_off].core), 100 * b->p.grow_load);
        return true;
    }
    if (b->shrink_streak < 2 * b->p.sustain)
        return false;
    b->shrink_streak = 0;
    /* empty the idlest: each of its queues to the least loaded of the rest */
    struct sc_core *gone = b->cores[idlest].core;
    if (sc_pool_core_set_active(b->pool, gone, false) < 0)
        return false;
    double est[SC_POOL_MAX_CORES];
    memcpy(est, b->load, sizeof(est));
    unsigned moved = 0;
    for (struct sc_attach *a = sc_pool_attached(b->pool); a; a = a->pool_next) {
        if (a->core != gone || a->moving || a->remove_posted)
            continue;
        unsigned to = b->ncores;
        for (unsigned i = 0; i < b->ncores; i++)
            if (i != idlest && active(b, i) && (to == b->ncores || est[i] < est[to]))
                to = i;
        if (to == b->ncores || sc_move_queue(a, b->cores[to].core) < 0)
            continue;
        est[to] += (double)a->q->load_ppm / 1e6;
        snprintf(a->q->placed, sizeof(a->q->placed), "%s parked: moved to %s",
                 sc_core_name(gone), sc_core_name(b->cores[to].core));
        moved++;
    }
    b->stats.cores_parked++;
    b->stats.moves += moved;
    sc_log(SC_LOG_INFO, "balancer",
           "%s parked: the active sidecores' loads (%.0f%% in all) fit on one fewer; %u queue%s "
           "moved off it", sc_core_name(gone), 100 * sum, moved, moved == 1 ? "" : "s");
    return true;
}

static void carry_out(struct sc_balancer *b, struct sc_balancer_report *r,
                      const struct planned *ps, const char *why)
{
    char when[32];
    time_t t = time(NULL);
    struct tm tm;
    strftime(when, sizeof(when), "%H:%M:%S", localtime_r(&t, &tm));
    unsigned moved = 0;
    for (unsigned i = 0; i < r->nmoves; i++) {
        struct sc_balancer_move *m = &r->moves[i];
        unsigned from = ps[i].from, to = ps[i].to;
        m->result = sc_move_queue(ps[i].a, b->cores[to].core);
        if (m->result < 0) {
            b->stats.move_errors++;
            sc_log(SC_LOG_WARN, m->queue, "rebalance: cannot move it to %s: %s", m->to,
                   strerror(-m->result));
            continue;
        }
        moved++;
        snprintf(ps[i].a->q->placed, sizeof(ps[i].a->q->placed),
                 "%s %s: moved from %s (%.0f%% busy) to %s (%.0f%%), est. %.0f%%/%.0f%% after",
                 why, when, m->from, 100 * r->load[from], m->to, 100 * r->load[to],
                 100 * m->from_after, 100 * m->to_after);
        sc_log(SC_LOG_INFO, m->queue,
               "rebalance (%s): %s -> %s, its load %.0f%%; est. %s %.0f%% -> %.0f%%, %s %.0f%% -> %.0f%%",
               why, m->from, m->to, 100 * m->load, m->from, 100 * r->load[from],
               100 * m->from_after, m->to, 100 * r->load[to], 100 * m->to_after);
    }
    if (moved) {
        b->stats.rebalances++;
        b->stats.moves += moved;
        b->last = *r;
    }
}

void sc_balancer_tick(struct sc_balancer *b, uint64_t now)
{
    if (!b || sc_pool_mode(b->pool) != SC_MODE_POLL ||
        (b->last_ns && now - b->last_ns < b->p.interval_ns))
        return;
    measure(b, now);
    if (!usable(b) || !b->interval_ns)
        return;
    if (b->cooldown_left) {
        b->cooldown_left--;
        return;
    }
    if (!b->p.enabled)
        return;
    if (adapt_count(b)) {
        b->streak = 0;
        b->cooldown_left = b->p.cooldown;
        return;
    }
    struct sc_balancer_report r;
    struct planned ps[SC_BALANCER_MAX_MOVES];
    if (!plan(b, &r, ps)) {
        b->streak = 0;
        return;
    }
    if (++b->streak < b->p.sustain)
        return;
    b->streak = 0;
    b->cooldown_left = b->p.cooldown;
    carry_out(b, &r, ps, "by load");
}

int sc_balancer_rebalance(struct sc_balancer *b, bool dry_run, struct sc_balancer_report *out)
{
    if (!b || !out)
        return -EINVAL;
    if (sc_pool_mode(b->pool) != SC_MODE_POLL || b->ncores < 2)
        return -EOPNOTSUPP;
    if (!b->interval_ns)
        return -EAGAIN;
    /* The queues were read at the last measurement: one detached since
     * (its memory may be gone) is left out without being touched. */
    for (unsigned i = 0; i < b->nq; i++) {
        bool found = false;
        for (struct sc_attach *a = sc_pool_attached(b->pool); a && !found; a = a->pool_next)
            found = a == b->qa[i];
        if (!found || b->qa[i]->moving || b->qa[i]->remove_posted)
            b->rq[i].movable = false;
    }
    struct planned ps[SC_BALANCER_MAX_MOVES];
    plan(b, out, ps);
    if (!dry_run && out->nmoves) {
        carry_out(b, out, ps, "asked");
        b->streak = 0;
        b->cooldown_left = b->p.cooldown;
        /* what moved is measured afresh, not planned again from stale loads */
        for (unsigned i = 0; i < b->nq; i++)
            b->rq[i].movable = false;
    }
    return 0;
}

void sc_balancer_capacity(const struct sc_balancer *b, struct sc_sched_rate *per_core)
{
    per_core->iops = (uint64_t)b->capacity_iops;
    per_core->bps = (uint64_t)b->capacity_bps;
}

void sc_balancer_last(const struct sc_balancer *b, struct sc_balancer_report *out)
{
    *out = b->last;
}

void sc_balancer_stats(const struct sc_balancer *b, struct sc_balancer_stats *out)
{
    *out = b->stats;
    out->active_cores = 0;
    for (unsigned i = 0; i < b->ncores; i++)
        out->active_cores += active(b, i);
}
