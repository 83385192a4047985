/*
 * place.h - giving a driver domain physical CPUs of its own: the policy of
 * `sidecorectl place` (plan the steps) and `place --check` (what is wrong
 * with a placement), over tables of pools, domains and vCPUs that the
 * caller reads from the hypervisor (xen_place.h).  No hypervisor here:
 * pure functions, any thread.
 *
 * Xen's rules the policy follows: a physical CPU is in at most one cpupool
 * (or free); a domain is in one pool with all its vCPUs; a `null`-scheduler
 * pool gives each vCPU a physical CPU of its own, so the pool needs at
 * least as many CPUs as the domain has vCPUs; Pool-0 (id 0) keeps Dom0 and
 * must keep a CPU.
 */
#ifndef SC_PLACE_H
#define SC_PLACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SC_PLACE_MAX_CPUS 256u
#define SC_PLACE_MAX_POOLS 64u
#define SC_PLACE_MAX_DOMS 256u
#define SC_PLACE_MAX_VCPUS 64u
#define SC_PLACE_NAME_MAX 32u
#define SC_PLACE_SCHED_MAX 16u

struct sc_cpus {
    uint64_t w[SC_PLACE_MAX_CPUS / 64];
};
static inline void sc_cpus_set(struct sc_cpus *s, unsigned c)
{
    if (c < SC_PLACE_MAX_CPUS)
        s->w[c / 64] |= 1ull << (c % 64);
}
static inline void sc_cpus_clear(struct sc_cpus *s, unsigned c)
{
    if (c < SC_PLACE_MAX_CPUS)
        s->w[c / 64] &= ~(1ull << (c % 64));
}
static inline bool sc_cpus_has(const struct sc_cpus *s, unsigned c)
{
    return c < SC_PLACE_MAX_CPUS && (s->w[c / 64] >> (c % 64)) & 1;
}
unsigned sc_cpus_count(const struct sc_cpus *s);
/* "0-3,6" ("-" when empty), cut to len. */
void sc_cpus_str(const struct sc_cpus *s, char *buf, size_t len);
/* "0-3,6" / "5" into *s, each below max.  0 or -EINVAL. */
int sc_cpus_parse(const char *text, unsigned max, struct sc_cpus *s);

struct sc_place_pool {
    int id;
    char name[SC_PLACE_NAME_MAX];
    char sched[SC_PLACE_SCHED_MAX];
    struct sc_cpus cpus;
};

struct sc_place_dom {
    unsigned domid;
    int pool;
    unsigned nr_vcpus;
};

struct sc_place_vcpu {
    int pcpu;   /* where it runs; -1 unknown */
    int pin;    /* the one CPU of its hard affinity; -1: more than one */
};

/* What the hypervisor says: every pool and domain, and the vCPUs of the
 * domain being placed (domid; vcpus[0..nr_vcpus)). */
struct sc_place_world {
    unsigned nr_cpus;
    unsigned nr_pools;
    struct sc_place_pool pools[SC_PLACE_MAX_POOLS];
    unsigned nr_doms;
    struct sc_place_dom doms[SC_PLACE_MAX_DOMS];
    unsigned domid;
    unsigned nr_vcpus;
    struct sc_place_vcpu vcpus[SC_PLACE_MAX_VCPUS];
};

const struct sc_place_pool *sc_place_pool_by_id(const struct sc_place_world *w, int id);
const struct sc_place_pool *sc_place_pool_by_name(const struct sc_place_world *w,
                                                  const char *name);
const struct sc_place_dom *sc_place_dom(const struct sc_place_world *w, unsigned domid);

/* ---- place ---- */

struct sc_place_req {
    unsigned domid;
    const char *pool;         /* name, e.g. "sidecores" */
    const char *sched;        /* e.g. "null" */
    unsigned ncpus;           /* 0: one per vCPU of the domain */
    bool have_pcpus;          /* these CPUs (and the pool's own), not ncpus */
    struct sc_cpus pcpus;
    bool have_vcpus;          /* the vCPUs to pin; else all of the domain's */
    struct sc_cpus vcpus;
};

enum sc_place_op {
    SC_PLACE_CREATE_POOL,     /* pool = -1: the request's name and scheduler */
    SC_PLACE_REMOVE_CPU,      /* cpu out of pool (Pool-0) */
    SC_PLACE_ADD_CPU,         /* cpu into pool */
    SC_PLACE_MOVE_DOMAIN,     /* the domain into pool */
    SC_PLACE_PIN,             /* vcpu's hard affinity to cpu alone */
};

struct sc_place_step {
    enum sc_place_op op;
    int pool;                 /* -1: the pool the plan creates */
    int cpu;
    int vcpu;
};

#define SC_PLACE_MAX_STEPS (2 + 2 * SC_PLACE_MAX_CPUS + SC_PLACE_MAX_VCPUS)
struct sc_place_plan {
    int pool;                         /* its id, -1 if created */
    struct sc_cpus cpus;              /* the pool's CPUs after */
    int pin[SC_PLACE_MAX_VCPUS];      /* each vCPU's CPU after; -1 left alone */
    unsigned nr_steps;
    struct sc_place_step steps[SC_PLACE_MAX_STEPS];
};

/* The steps that give r->domid its pool and pins; none when it already
 * has them.  0, or a refusal: -ESRCH (no such domain), -EINVAL (a vCPU or
 * CPU that is not there, a pool of another scheduler, Pool-0 named),
 * -EBUSY (a CPU another pool owns, Pool-0's last CPU, a pool another
 * domain holds, too few CPUs); *why gets one line. */
int sc_place_plan(const struct sc_place_world *w, const struct sc_place_req *r,
                  struct sc_place_plan *p, char *why, size_t why_len);
/* One step as a line ("move pCPU 7 from Pool-0 to sidecores"). */
void sc_place_step_str(const struct sc_place_world *w, const struct sc_place_req *r,
                       const struct sc_place_step *s, char *buf, size_t len);

/* ---- check ---- */

enum sc_place_problem {
    SC_PLACE_NOT_DEDICATED,   /* the domain is in Pool-0 */
    SC_PLACE_SCHED,           /* its pool's scheduler is not the one wanted */
    SC_PLACE_UNPINNED,        /* a vCPU may run on more than one CPU */
    SC_PLACE_PIN_OUTSIDE,     /* a vCPU is pinned to a CPU outside the pool */
    SC_PLACE_SHARED_PCPU,     /* two vCPUs pinned to one CPU */
    SC_PLACE_OTHER_DOMAIN,    /* another domain is in the pool */
    SC_PLACE_TOO_FEW_CPUS,    /* fewer CPUs in the pool than the domain's vCPUs */
};

struct sc_place_finding {
    enum sc_place_problem problem;
    char msg[160];
};

/* "not-dedicated", "scheduler", ... for --json. */
const char *sc_place_problem_name(enum sc_place_problem p);
/* What is wrong with w->domid's placement, for the vCPUs in `vcpus` (NULL:
 * all) and a pool of scheduler `sched` (NULL: any, since a pool of its own
 * with one pinned vCPU per CPU is dedicated whatever schedules it): the
 * number of findings (those
 * beyond max are counted, not written), or -ESRCH (no such domain). */
int sc_place_check(const struct sc_place_world *w, const struct sc_cpus *vcpus,
                   const char *sched, struct sc_place_finding *out, unsigned max);

#endif
