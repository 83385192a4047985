/*
 * corepool.c - the daemon's sidecores (corepool.h has the contract).
 *
 * Placement counts queues itself (acquire/release) rather than reading the
 * cores' `queues` gauge: the gauge moves only when the core runs the add
 * command, so two acquires in a row would both see the same core empty.
 * Tenant settings are kept here, checked once against a scratch scheduler
 * (so an invalid setting is refused even when there is no core yet, as in
 * event mode before the first queue), and replayed on every new core.
 */
#include "corepool.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "inbox.h"
#include "log.h"
#include "qos_split.h"
#include "queue_attach.h"

struct pool_core {
    struct sc_core *core;
    uint64_t seq;     /* unique in the pool's life (a new core may reuse a pointer) */
    unsigned nqueues; /* acquired and not yet released */
    bool active;      /* new queues may go there (balancer.h: an adaptive count) */
    struct pool_core *next;
};

/* What the split (sc_pool_split_rates) saw of a guest on one core. */
struct tenant_core {
    uint64_t core_seq;                  /* the pool_core's seq */
    uint64_t cost, throttled;           /* the core's published counters */
    struct sc_sched_tenant_conf posted; /* the part this core was given */
    bool posted_valid;
};

struct pool_tenant {
    sc_tenant_t tenant;                 /* a guest's class (tenant.h) */
    struct sc_sched_tenant_conf conf;   /* the guest's, over all cores */
    struct tenant_core on[SC_POOL_MAX_CORES]; /* the cores of the last split */
    unsigned non;
};

struct sc_pool {
    struct sc_xen *xen;
    struct sc_pool_params params;
    struct pool_core *cores; /* creation order */
    unsigned ncores;
    uint64_t event_seq;      /* names event-mode cores */
    uint64_t core_seq;       /* numbers every core */
    struct pool_tenant *tenants;
    unsigned ntenants, tenants_cap;
    struct sc_inbox reply;   /* answers of posted commands */
    struct sc_membudget *mem; /* the queues' memory budget */
    bool closing;            /* being destroyed: late answers only free memory */
    bool stopping;           /* the daemon stops: removals drain, never fail I/O */
    struct sc_attach *attached; /* queue_attach.c's list */
    struct sc_dir_table dirs;   /* the guests' per-direction limits */
};

/* A tenant setting on its way to one core; freed when answered. */
struct tenant_post {
    struct sc_core_cmd cmd;
    struct sc_pool *pool;
};

static void tenant_posted(struct sc_core_cmd *cmd)
{
    struct tenant_post *tp = cmd->owner;
    if (cmd->result < 0)
        sc_log(SC_LOG_ERR, "pool", "tenant %#x: a core refused the settings: %s", cmd->tenant,
               strerror(-cmd->result));
    free(tp);
}

/* Sends tenant's settings to core without waiting for it. */
static int post_tenant(struct sc_pool *pool, struct sc_core *core, sc_tenant_t tenant,
                       const struct sc_sched_tenant_conf *conf)
{
    struct tenant_post *tp = calloc(1, sizeof(*tp));
    if (!tp)
        return -ENOMEM;
    tp->pool = pool;
    tp->cmd.type = SC_CORE_CMD_SET_TENANT;
    tp->cmd.tenant = tenant;
    tp->cmd.conf = *conf;
    tp->cmd.reply = &pool->reply;
    tp->cmd.done = tenant_posted;
    tp->cmd.owner = tp;
    int rc = sc_core_post(core, &tp->cmd);
    if (rc < 0) {
        free(tp);
        return rc;
    }
    return 0;
}

const char *sc_mode_str(enum sc_mode m)
{
    switch (m) {
    case SC_MODE_POLL: return "poll";
    case SC_MODE_EVENT: return "event";
    }
    return "?";
}

int sc_mode_parse(const char *s, enum sc_mode *out)
{
    if (!s || !out)
        return -EINVAL;
    if (strcmp(s, "poll") == 0)
        *out = SC_MODE_POLL;
    else if (strcmp(s, "event") == 0)
        *out = SC_MODE_EVENT;
    else
        return -EINVAL;
    return 0;
}

static struct pool_core *core_new(struct sc_pool *pool, const char *name, int cpu,
                                  uint64_t poll_idle_ns)
{
    struct sc_core_params cp;
    sc_core_params_default(&cp);
    snprintf(cp.name, sizeof(cp.name), "%s", name);
    cp.cpu = cpu;
    cp.poll_idle_ns = poll_idle_ns;
    cp.poll_adaptive = pool->params.mode == SC_MODE_POLL && pool->params.poll_adaptive;
    if (pool->params.uring_entries)
        cp.uring_entries = pool->params.uring_entries;
    cp.sched = pool->params.sched;
    cp.attention_fd = pool->params.attention_fd;

    struct pool_core *pc = calloc(1, sizeof(*pc));
    if (!pc)
        return NULL;
    pc->active = true; /* poll mode's start may make it wait (ncores_min) */
    pc->seq = ++pool->core_seq;
    pc->core = sc_core_create(pool->xen, &cp);
    if (!pc->core) {
        int e = errno;
        if (cpu == SC_CORE_NO_CPU)
            sc_log(SC_LOG_ERR, name, "cannot start a sidecore: %s", strerror(e));
        else
            sc_log(SC_LOG_ERR, name, "cannot start a sidecore on cpu %d: %s (is the CPU online "
                   "and ours? see lscpu and our cpuset; fix --cpus)", (int)cpu, strerror(e));
        free(pc);
        errno = e;
        return NULL;
    }
    for (unsigned i = 0; i < pool->ntenants; i++) {
        /* posted ahead of any queue, so the core applies them first */
        int ret = post_tenant(pool, pc->core, pool->tenants[i].tenant, &pool->tenants[i].conf);
        if (ret < 0) {
            sc_core_destroy(pc->core);
            free(pc);
            errno = -ret;
            return NULL;
        }
    }
    /* append: creation order is the order tools show */
    struct pool_core **pp = &pool->cores;
    while (*pp)
        pp = &(*pp)->next;
    *pp = pc;
    pool->ncores++;
    return pc;
}

/* Stops pc's core, waiting at most timeout_ns (UINT64_MAX: as long as it
 * takes), and forgets it.  0 or -ETIMEDOUT (sc_core_destroy_within). */
static int core_unlink_destroy(struct sc_pool *pool, struct pool_core *pc, uint64_t timeout_ns)
{
    for (struct pool_core **pp = &pool->cores; *pp; pp = &(*pp)->next) {
        if (*pp == pc) {
            *pp = pc->next;
            pool->ncores--;
            break;
        }
    }
    int rc = sc_core_destroy_within(pc->core, timeout_ns);
    free(pc);
    return rc;
}

static struct sc_membudget *mem_budget_create(const struct sc_pool_params *p)
{
    uint64_t total = p->mem_budget;
    char host[32] = "";
    if (p->mem_budget_pct) {
        int rc = sc_membudget_of_host(p->mem_budget_pct, &total);
        if (rc < 0) {
            sc_log(SC_LOG_WARN, "pool", "reading the host's memory size: %s; memory budget "
                   "unlimited", strerror(-rc));
            total = 0;
        } else {
            snprintf(host, sizeof(host), " (%u%% of the host's)", p->mem_budget_pct);
        }
    }
    char t[32] = "unlimited", g[32] = "unlimited";
    if (total)
        sc_membudget_fmt(total, t, sizeof(t));
    if (p->guest_mem_max)
        sc_membudget_fmt(p->guest_mem_max, g, sizeof(g));
    sc_log(SC_LOG_INFO, "pool", "memory budget for queues: %s%s, per guest %s", t, host, g);
    return sc_membudget_create(total, p->guest_mem_max);
}

struct sc_pool *sc_pool_create(struct sc_xen *x, const struct sc_pool_params *p)
{
    if (!x || !p || (p->mode != SC_MODE_POLL && p->mode != SC_MODE_EVENT) ||
        (p->mode == SC_MODE_POLL && (p->ncores == 0 || p->ncores > SC_POOL_MAX_CORES)) ||
        p->uring_entries > SC_CORE_URING_MAX) {
        errno = EINVAL;
        return NULL;
    }
    /* the scheduler parameters are checked once, here, not on the first queue */
    struct sc_sched *probe = sc_sched_create(&p->sched);
    if (!probe)
        return NULL;
    sc_sched_destroy(probe);

    struct sc_pool *pool = calloc(1, sizeof(*pool));
    if (!pool)
        return NULL;
    int rc = sc_inbox_init(&pool->reply);
    if (rc < 0) {
        free(pool);
        errno = -rc;
        return NULL;
    }
    pool->xen = x;
    pool->params = *p;
    pool->mem = mem_budget_create(p);
    if (!pool->mem) {
        sc_inbox_destroy(&pool->reply);
        free(pool);
        errno = ENOMEM;
        return NULL;
    }
    if (p->mode == SC_MODE_POLL) {
        for (unsigned i = 0; i < p->ncores; i++) {
            char name[SC_CORE_NAME_MAX];
            snprintf(name, sizeof(name), "sc%u", i);
            struct pool_core *pc = core_new(pool, name, p->cpus[i], p->poll_idle_ns);
            if (!pc) {
                int e = errno;
                sc_pool_destroy(pool);
                errno = e;
                return NULL;
            }
            pc->active = !p->ncores_min || i < p->ncores_min;
        }
        sc_log(SC_LOG_INFO, "pool", "%u sidecore%s, polling %llu us before sleeping",
               p->ncores, p->ncores == 1 ? "" : "s", (unsigned long long)(p->poll_idle_ns / 1000));
    } else {
        sc_log(SC_LOG_INFO, "pool", "event mode: one thread per queue");
    }
    return pool;
}

int sc_pool_destroy_within(struct sc_pool *pool, uint64_t timeout_ns)
{
    if (!pool)
        return 0;
    int result = 0;
    uint64_t start = sc_clock_ns();
    pool->closing = true;
    sc_pool_reap(pool);
    while (pool->cores) {
        if (pool->cores->nqueues)
            sc_log(SC_LOG_WARN, "pool", "%s destroyed with %u queue(s) still acquired",
                   sc_core_name(pool->cores->core), pool->cores->nqueues);
        uint64_t spent = sc_clock_ns() - start;
        uint64_t left = spent < timeout_ns ? timeout_ns - spent : 0;
        if (core_unlink_destroy(pool, pool->cores, left) < 0)
            result = -ETIMEDOUT;
    }
    /* Answers of commands nobody will reap any more: the cores are gone. */
    sc_pool_reap(pool);
    sc_inbox_destroy(&pool->reply);
    /* queues abandoned above keep their reservations: forgotten with it */
    sc_membudget_destroy(pool->mem);
    sc_dir_table_free(&pool->dirs);
    free(pool->tenants);
    free(pool);
    return result;
}

void sc_pool_destroy(struct sc_pool *pool)
{
    sc_pool_destroy_within(pool, UINT64_MAX);
}

struct sc_membudget *sc_pool_membudget(struct sc_pool *pool)
{
    return pool->mem;
}

uint64_t sc_pool_queue_overhead(const struct sc_pool *pool)
{
    if (pool->params.mode != SC_MODE_EVENT)
        return 0;
    /* SQEs (64 bytes), the SQ's index array, and a CQ 4 times as long */
    uint64_t n = pool->params.uring_entries ? pool->params.uring_entries : SC_CORE_URING_DEFAULT;
    return SC_POOL_CORE_MEM + sc_mem_pages(n * 64) + sc_mem_pages(n * 4 + 4 * n * 16);
}

void sc_pool_begin_stop(struct sc_pool *pool)
{
    pool->stopping = true;
}

uint64_t sc_pool_quiesce_after_ns(const struct sc_pool *pool)
{
    return pool->stopping ? SC_CORE_NEVER : SC_POOL_QUIESCE_AFTER_NS;
}

bool sc_pool_closing(const struct sc_pool *pool)
{
    return pool->closing;
}

struct sc_inbox *sc_pool_reply_inbox(struct sc_pool *pool)
{
    return &pool->reply;
}

int sc_pool_reply_fd(struct sc_pool *pool)
{
    return sc_inbox_fd(&pool->reply);
}

unsigned sc_pool_reap(struct sc_pool *pool)
{
    return sc_core_cmd_reap(&pool->reply);
}

enum sc_mode sc_pool_mode(const struct sc_pool *pool)
{
    return pool->params.mode;
}

struct sc_core *sc_pool_acquire(struct sc_pool *pool, domid_t domid)
{
    if (!pool) {
        errno = EINVAL;
        return NULL;
    }
    if (pool->params.mode == SC_MODE_EVENT) {
        char name[SC_CORE_NAME_MAX];
        snprintf(name, sizeof(name), "ev%llu", (unsigned long long)pool->event_seq);
        struct pool_core *pc = core_new(pool, name, SC_CORE_NO_CPU, 0);
        if (!pc)
            return NULL;
        pool->event_seq++;
        pc->nqueues = 1;
        sc_log(SC_LOG_DEBUG, name, "started for a queue of domain %u", domid);
        return pc->core;
    }
    struct pool_core *best = NULL;
    uint64_t best_busy = 0;
    for (struct pool_core *pc = pool->cores; pc; pc = pc->next) {
        if (!pc->active)
            continue;
        struct sc_core_stats st;
        sc_core_stats(pc->core, &st);
        if (!best || pc->nqueues < best->nqueues ||
            (pc->nqueues == best->nqueues && st.busy_ns < best_busy)) {
            best = pc;
            best_busy = st.busy_ns;
        }
    }
    if (!best) {
        errno = ENODEV;
        return NULL;
    }
    best->nqueues++;
    return best->core;
}

struct sc_core *sc_pool_acquire_core(struct sc_pool *pool, struct sc_core *core)
{
    if (!pool || !core) {
        errno = EINVAL;
        return NULL;
    }
    if (pool->params.mode == SC_MODE_EVENT) {
        errno = EOPNOTSUPP;
        return NULL;
    }
    for (struct pool_core *pc = pool->cores; pc; pc = pc->next) {
        if (pc->core == core) {
            pc->nqueues++;
            return core;
        }
    }
    errno = ENOENT;
    return NULL;
}

static struct pool_core *find_core(const struct sc_pool *pool, const struct sc_core *core)
{
    for (struct pool_core *pc = pool->cores; pc; pc = pc->next)
        if (pc->core == core)
            return pc;
    return NULL;
}

int sc_pool_core_set_active(struct sc_pool *pool, struct sc_core *core, bool active)
{
    struct pool_core *pc = pool && core ? find_core(pool, core) : NULL;
    if (!pc)
        return -ENOENT;
    if (pool->params.mode != SC_MODE_POLL)
        return -EOPNOTSUPP;
    unsigned nactive = 0;
    for (struct pool_core *x = pool->cores; x; x = x->next)
        nactive += x->active;
    if (!active && pc->active && nactive == 1)
        return -EBUSY; /* the last one stays */
    pc->active = active;
    return 0;
}

bool sc_pool_core_active(const struct sc_pool *pool, const struct sc_core *core)
{
    const struct pool_core *pc = pool && core ? find_core(pool, core) : NULL;
    return pc && pc->active;
}

struct sc_attach **sc_pool_attached_head(struct sc_pool *pool)
{
    return &pool->attached;
}

void sc_pool_release(struct sc_pool *pool, struct sc_core *core)
{
    if (!pool || !core)
        return;
    for (struct pool_core *pc = pool->cores; pc; pc = pc->next) {
        if (pc->core != core)
            continue;
        if (pc->nqueues == 0) {
            sc_log(SC_LOG_WARN, "pool", "%s released more often than acquired",
                   sc_core_name(core));
            return;
        }
        pc->nqueues--;
        if (pool->params.mode == SC_MODE_EVENT && pc->nqueues == 0)
            core_unlink_destroy(pool, pc, UINT64_MAX);
        return;
    }
    sc_log(SC_LOG_WARN, "pool", "release of a core not in the pool");
}

/* ---- a guest's rates over its cores (qos_split.h) ---- */

static bool has_rates(const struct sc_sched_tenant_conf *c)
{
    return c->limit.iops || c->limit.bps || c->reservation.iops || c->reservation.bps;
}

/* share of a rate: 0 stays 0 (none), anything else stays at least 1 */
static uint64_t part(uint64_t rate, double share)
{
    if (!rate)
        return 0;
    double v = (double)rate * share + 0.5;
    return v < 1 ? 1 : (uint64_t)v;
}

static bool near(uint64_t a, uint64_t b)
{
    uint64_t d = a > b ? a - b : b - a;
    return d * 20 <= (a > b ? a : b); /* within 5% */
}

static bool conf_near(const struct sc_sched_tenant_conf *a, const struct sc_sched_tenant_conf *b)
{
    return a->weight == b->weight && near(a->limit.iops, b->limit.iops) &&
           near(a->limit.bps, b->limit.bps) && near(a->reservation.iops, b->reservation.iops) &&
           near(a->reservation.bps, b->reservation.bps);
}

/* The cores t's rates are divided among, into pcs (at most
 * SC_POOL_MAX_CORES): poll mode's all of them (any may take one of its
 * queues), event mode's those of its queues (each queue has a core of its
 * own, and no other core ever serves the guest). */
static unsigned split_cores(struct sc_pool *pool, sc_tenant_t tenant, struct pool_core **pcs)
{
    unsigned n = 0;
    if (pool->params.mode == SC_MODE_POLL) {
        for (struct pool_core *pc = pool->cores; pc && n < SC_POOL_MAX_CORES; pc = pc->next)
            pcs[n++] = pc;
        return n;
    }
    for (struct sc_attach *a = pool->attached; a && n < SC_POOL_MAX_CORES; a = a->pool_next) {
        struct pool_core *pc = a->q->tenant == tenant && a->core ? find_core(pool, a->core) : NULL;
        bool seen = false;
        for (unsigned i = 0; pc && i < n && !seen; i++)
            seen = pcs[i] == pc;
        if (pc && !seen)
            pcs[n++] = pc;
    }
    return n;
}

/* Divides t's rates among its cores by its service on each since the last
 * split, and posts the parts that changed.  A core new to the split (or
 * to the guest) starts from its counters as they are now and is always
 * posted.  0 or the first post's -errno. */
static int split_tenant(struct sc_pool *pool, struct pool_tenant *t)
{
    double served[SC_POOL_MAX_CORES] = { 0 }, share[SC_POOL_MAX_CORES];
    bool held[SC_POOL_MAX_CORES] = { false }, present[SC_POOL_MAX_CORES] = { false };
    struct pool_core *pcs[SC_POOL_MAX_CORES];
    struct tenant_core on[SC_POOL_MAX_CORES];
    unsigned n = split_cores(pool, t->tenant, pcs);
    if (!n) {
        t->non = 0;
        return 0;
    }
    for (unsigned i = 0; i < n; i++) {
        struct pool_core *pc = pcs[i];
        struct tenant_core *tc = &on[i];
        bool known = false;
        for (unsigned j = 0; j < t->non && !known; j++)
            if ((known = t->on[j].core_seq == pc->seq))
                *tc = t->on[j];
        if (!known)
            *tc = (struct tenant_core){ .core_seq = pc->seq };
        struct sc_sched_tenant_stats ts;
        if (sc_core_tenant_stats(pc->core, t->tenant, &ts) == 0) {
            served[i] = known && ts.cost >= tc->cost ? (double)(ts.cost - tc->cost) : 0;
            held[i] = known && ts.throttled > tc->throttled;
            tc->cost = ts.cost;
            tc->throttled = ts.throttled;
        }
        for (struct sc_attach *a = pool->attached; a && !present[i]; a = a->pool_next)
            present[i] = a->q->tenant == t->tenant &&
                         (a->core == pc->core || (a->moving && a->move_to == pc->core));
    }
    sc_qos_split(served, held, present, n, share);
    int first_err = 0;
    for (unsigned i = 0; i < n; i++) {
        struct sc_sched_tenant_conf c = t->conf;
        c.limit.iops = part(t->conf.limit.iops, share[i]);
        c.limit.bps = part(t->conf.limit.bps, share[i]);
        c.reservation.iops = part(t->conf.reservation.iops, share[i]);
        c.reservation.bps = part(t->conf.reservation.bps, share[i]);
        if (c.limit.iops && c.reservation.iops > c.limit.iops)
            c.reservation.iops = c.limit.iops;
        if (c.limit.bps && c.reservation.bps > c.limit.bps)
            c.reservation.bps = c.limit.bps;
        struct tenant_core *tc = &on[i];
        if (tc->posted_valid && conf_near(&tc->posted, &c))
            continue;
        int ret = post_tenant(pool, pcs[i]->core, t->tenant, &c);
        if (ret < 0) {
            if (!first_err)
                first_err = ret;
            continue;
        }
        tc->posted = c;
        tc->posted_valid = true;
    }
    memcpy(t->on, on, n * sizeof(on[0]));
    t->non = n;
    return first_err;
}

int sc_pool_set_tenant(struct sc_pool *pool, sc_tenant_t tenant,
                       const struct sc_sched_tenant_conf *conf)
{
    if (!pool || !conf)
        return -EINVAL;
    struct sc_sched *scratch = sc_sched_create(&pool->params.sched);
    if (!scratch)
        return -errno;
    int ret = sc_sched_tenant_set(scratch, tenant, conf);
    sc_sched_destroy(scratch);
    if (ret < 0)
        return ret;

    struct pool_tenant *t = NULL;
    for (unsigned i = 0; i < pool->ntenants; i++)
        if (pool->tenants[i].tenant == tenant)
            t = &pool->tenants[i];
    if (!t) {
        if (pool->ntenants == pool->tenants_cap) {
            unsigned cap = pool->tenants_cap ? pool->tenants_cap * 2 : 16;
            struct pool_tenant *n = realloc(pool->tenants, cap * sizeof(*n));
            if (!n)
                return -ENOMEM;
            pool->tenants = n;
            pool->tenants_cap = cap;
        }
        t = &pool->tenants[pool->ntenants++];
        t->tenant = tenant;
        t->non = 0;
    }
    t->conf = *conf;
    for (unsigned i = 0; i < t->non; i++)
        t->on[i].posted_valid = false;
    if (has_rates(conf) && (pool->params.mode == SC_MODE_POLL || t->non))
        return split_tenant(pool, t); /* each core its part of the rates */
    int first_err = 0;
    for (struct pool_core *pc = pool->cores; pc; pc = pc->next) {
        ret = post_tenant(pool, pc->core, tenant, conf);
        if (ret < 0 && !first_err) {
            sc_log(SC_LOG_ERR, sc_core_name(pc->core), "tenant %#x: %s", tenant, strerror(-ret));
            first_err = ret;
        }
    }
    return first_err;
}

struct sc_dir_limit *sc_pool_dir_limit(struct sc_pool *pool, domid_t domid)
{
    return pool ? sc_dir_table_get(&pool->dirs, domid) : NULL;
}

int sc_pool_set_dir_limits(struct sc_pool *pool, domid_t domid, const struct sc_dir_rates *r)
{
    struct sc_dir_limit *l = sc_pool_dir_limit(pool, domid);
    if (!l)
        return -ENOMEM;
    sc_dir_limit_set(l, r);
    return 0;
}

void sc_pool_split_rates(struct sc_pool *pool)
{
    if (!pool)
        return;
    for (unsigned i = 0; i < pool->ntenants; i++)
        if (has_rates(&pool->tenants[i].conf))
            split_tenant(pool, &pool->tenants[i]);
}

int sc_pool_foreach_core(struct sc_pool *pool, int (*fn)(struct sc_core *core, void *arg),
                         void *arg)
{
    if (!pool || !fn)
        return -EINVAL;
    for (struct pool_core *pc = pool->cores, *next; pc; pc = next) {
        next = pc->next;
        int ret = fn(pc->core, arg);
        if (ret)
            return ret;
    }
    return 0;
}
