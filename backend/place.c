/*
 * place.c - the placement policy (place.h): which CPUs a driver domain
 * gets, the steps that give them, and the check of a placement.
 *
 * CPUs are taken free ones first, then Pool-0's from the highest down:
 * Dom0's vCPUs usually sit on the low ones and an admin reads "the top
 * CPUs are the sidecores'" at a glance.  Pins already right are kept, so
 * running place twice changes nothing the second time.
 */
#include "place.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

unsigned sc_cpus_count(const struct sc_cpus *s)
{
    unsigned n = 0;
    for (size_t i = 0; i < sizeof(s->w) / sizeof(s->w[0]); i++)
        n += (unsigned)__builtin_popcountll(s->w[i]);
    return n;
}

void sc_cpus_str(const struct sc_cpus *s, char *buf, size_t len)
{
    size_t off = 0;
    if (!len)
        return;
    buf[0] = '\0';
    for (unsigned c = 0; c < SC_PLACE_MAX_CPUS && off < len; c++) {
        if (!sc_cpus_has(s, c))
            continue;
        unsigned e = c;
        while (e + 1 < SC_PLACE_MAX_CPUS && sc_cpus_has(s, e + 1))
            e++;
        int n = e > c ? snprintf(buf + off, len - off, "%s%u-%u", off ? "," : "", c, e)
                      : snprintf(buf + off, len - off, "%s%u", off ? "," : "", c);
        off += n > 0 ? (size_t)n : 0;
        c = e;
    }
    if (!buf[0])
        snprintf(buf, len, "-");
}

static int parse_num(const char **p, unsigned max, unsigned *out)
{
    const char *s = *p;
    unsigned long v = 0;
    if (*s < '0' || *s > '9')
        return -EINVAL;
    while (*s >= '0' && *s <= '9') {
        v = v * 10 + (unsigned long)(*s++ - '0');
        if (v >= max)
            return -EINVAL;
    }
    *p = s;
    *out = (unsigned)v;
    return 0;
}

int sc_cpus_parse(const char *text, unsigned max, struct sc_cpus *s)
{
    memset(s, 0, sizeof(*s));
    if (max > SC_PLACE_MAX_CPUS)
        max = SC_PLACE_MAX_CPUS;
    const char *p = text;
    if (!*p)
        return -EINVAL;
    for (;;) {
        unsigned a, b;
        if (parse_num(&p, max, &a) < 0)
            return -EINVAL;
        b = a;
        if (*p == '-') {
            p++;
            if (parse_num(&p, max, &b) < 0 || b < a)
                return -EINVAL;
        }
        for (unsigned c = a; c <= b; c++)
            sc_cpus_set(s, c);
        if (!*p)
            return 0;
        if (*p++ != ',')
            return -EINVAL;
    }
}

const struct sc_place_pool *sc_place_pool_by_id(const struct sc_place_world *w, int id)
{
    for (unsigned i = 0; i < w->nr_pools; i++)
        if (w->pools[i].id == id)
            return &w->pools[i];
    return NULL;
}

const struct sc_place_pool *sc_place_pool_by_name(const struct sc_place_world *w,
                                                  const char *name)
{
    for (unsigned i = 0; i < w->nr_pools; i++)
        if (strcmp(w->pools[i].name, name) == 0)
            return &w->pools[i];
    return NULL;
}

const struct sc_place_dom *sc_place_dom(const struct sc_place_world *w, unsigned domid)
{
    for (unsigned i = 0; i < w->nr_doms; i++)
        if (w->doms[i].domid == domid)
            return &w->doms[i];
    return NULL;
}

static const struct sc_place_pool *cpu_owner(const struct sc_place_world *w, unsigned cpu)
{
    for (unsigned i = 0; i < w->nr_pools; i++)
        if (sc_cpus_has(&w->pools[i].cpus, cpu))
            return &w->pools[i];
    return NULL;
}

static int refuse(int err, char *why, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int refuse(int err, char *why, size_t len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, len, fmt, ap);
    va_end(ap);
    return err;
}

static void add_step(struct sc_place_plan *p, enum sc_place_op op, int pool, int cpu, int vcpu)
{
    if (p->nr_steps < SC_PLACE_MAX_STEPS)
        p->steps[p->nr_steps++] = (struct sc_place_step){ op, pool, cpu, vcpu };
}

/* The CPUs to take into the pool (besides those it has): *take, and which
 * of them come out of Pool-0 (*from0).  0 or a refusal. */
static int choose_cpus(const struct sc_place_world *w, const struct sc_place_req *r,
                       const struct sc_place_pool *pool, unsigned need, struct sc_cpus *take,
                       struct sc_cpus *from0, char *why, size_t len)
{
    const struct sc_place_pool *p0 = sc_place_pool_by_id(w, 0);
    unsigned p0_count = p0 ? sc_cpus_count(&p0->cpus) : 0, p0_taken = 0;
    int last0 = -1;
    memset(take, 0, sizeof(*take));
    memset(from0, 0, sizeof(*from0));
    if (r->have_pcpus) {
        for (unsigned c = 0; c < SC_PLACE_MAX_CPUS; c++) {
            if (!sc_cpus_has(&r->pcpus, c) || (pool && sc_cpus_has(&pool->cpus, c)))
                continue;
            if (c >= w->nr_cpus)
                return refuse(-EINVAL, why, len, "no pCPU %u: the host has %u (0-%u)", c,
                              w->nr_cpus, w->nr_cpus ? w->nr_cpus - 1 : 0);
            const struct sc_place_pool *o = cpu_owner(w, c);
            if (o && o->id != 0)
                return refuse(-EBUSY, why, len,
                              "pCPU %u belongs to cpupool %s (id %d): not taken from "
                              "another pool", c, o->name, o->id);
            sc_cpus_set(take, c);
            if (o) {
                sc_cpus_set(from0, c);
                p0_taken++;
                last0 = (int)c;
            }
        }
        if (p0 && p0_count && p0_taken >= p0_count)
            return refuse(-EBUSY, why, len,
                          "that would take Pool-0's last CPU (pCPU %d): Pool-0 must keep one "
                          "for Dom0", last0);
        return 0;
    }
    unsigned have = pool ? sc_cpus_count(&pool->cpus) : 0;
    if (have >= need)
        return 0;
    unsigned more = need - have, got = 0, nfree = 0;
    for (unsigned c = 0; c < w->nr_cpus && got < more; c++)
        if (!cpu_owner(w, c)) {
            sc_cpus_set(take, c);
            got++;
            nfree++;
        }
    for (int c = (int)w->nr_cpus - 1; c >= 0 && got < more && p0; c--)
        if (sc_cpus_has(&p0->cpus, (unsigned)c) && p0_taken + 1 < p0_count) {
            sc_cpus_set(take, (unsigned)c);
            sc_cpus_set(from0, (unsigned)c);
            p0_taken++;
            got++;
        }
    if (got < more)
        return refuse(-EBUSY, why, len,
                      "%u more pCPU%s needed, only %u can be taken (%u free, %u of Pool-0's "
                      "%u: Pool-0 keeps its last CPU for Dom0)", more, more == 1 ? "" : "s",
                      got, nfree, p0_taken, p0_count);
    return 0;
}

int sc_place_plan(const struct sc_place_world *w, const struct sc_place_req *r,
                  struct sc_place_plan *p, char *why, size_t len)
{
    memset(p, 0, sizeof(*p));
    for (unsigned v = 0; v < SC_PLACE_MAX_VCPUS; v++)
        p->pin[v] = -1;
    why[0] = '\0';
    const struct sc_place_dom *d = sc_place_dom(w, r->domid);
    if (!d)
        return refuse(-ESRCH, why, len, "no domain %u", r->domid);
    if (r->domid == 0)
        return refuse(-EINVAL, why, len, "Dom0 stays in Pool-0: place a driver domain");
    unsigned nv = d->nr_vcpus < SC_PLACE_MAX_VCPUS ? d->nr_vcpus : SC_PLACE_MAX_VCPUS;
    struct sc_cpus vset = { { 0 } };
    if (r->have_vcpus) {
        vset = r->vcpus;
        for (unsigned v = nv; v < SC_PLACE_MAX_CPUS; v++)
            if (sc_cpus_has(&vset, v))
                return refuse(-EINVAL, why, len, "domain %u has no vCPU %u (it has %u)",
                              r->domid, v, nv);
    } else {
        for (unsigned v = 0; v < nv; v++)
            sc_cpus_set(&vset, v);
    }
    const struct sc_place_pool *pool = sc_place_pool_by_name(w, r->pool);
    if (pool && pool->id == 0)
        return refuse(-EINVAL, why, len, "%s is Pool-0, Dom0's: name a pool of its own",
                      r->pool);
    if (pool && strcmp(pool->sched, r->sched) != 0)
        return refuse(-EINVAL, why, len,
                      "cpupool %s exists with the %s scheduler, not %s: choose another --pool "
                      "(or --sched %s)", pool->name, pool->sched, r->sched, pool->sched);
    for (unsigned i = 0; pool && i < w->nr_doms; i++)
        if (w->doms[i].pool == pool->id && w->doms[i].domid != r->domid)
            return refuse(-EBUSY, why, len,
                          "cpupool %s already holds domain %u: a sidecore pool is one "
                          "domain's", pool->name, w->doms[i].domid);
    unsigned need = r->ncpus ? r->ncpus : nv;
    struct sc_cpus take, from0;
    int err = choose_cpus(w, r, pool, need, &take, &from0, why, len);
    if (err)
        return err;
    if (pool)
        p->cpus = pool->cpus;
    for (size_t i = 0; i < sizeof(take.w) / sizeof(take.w[0]); i++)
        p->cpus.w[i] |= take.w[i];
    unsigned ncpus = sc_cpus_count(&p->cpus);
    if (ncpus < nv)
        return refuse(-EBUSY, why, len,
                      "cpupool %s would have %u pCPU%s for the %u vCPUs of domain %u: a null "
                      "pool needs one per vCPU (--cpus %u or more --pcpus)", r->pool, ncpus,
                      ncpus == 1 ? "" : "s", nv, r->domid, nv);

    p->pool = pool ? pool->id : -1;
    if (!pool)
        add_step(p, SC_PLACE_CREATE_POOL, -1, -1, -1);
    for (unsigned c = 0; c < SC_PLACE_MAX_CPUS; c++) {
        if (!sc_cpus_has(&take, c))
            continue;
        if (sc_cpus_has(&from0, c))
            add_step(p, SC_PLACE_REMOVE_CPU, 0, (int)c, -1);
        add_step(p, SC_PLACE_ADD_CPU, p->pool, (int)c, -1);
    }
    /* moving resets every vCPU's affinity (Xen's sched_move_domain) */
    bool moved = !pool || d->pool != pool->id;
    if (moved)
        add_step(p, SC_PLACE_MOVE_DOMAIN, p->pool, -1, -1);
    struct sc_cpus used = { { 0 } };
    bool keep[SC_PLACE_MAX_VCPUS] = { false };
    for (unsigned v = 0; !moved && v < nv && v < w->nr_vcpus; v++) {
        int pin = w->vcpus[v].pin;
        if (sc_cpus_has(&vset, v) && pin >= 0 && sc_cpus_has(&p->cpus, (unsigned)pin) &&
            !sc_cpus_has(&used, (unsigned)pin)) {
            keep[v] = true;
            p->pin[v] = pin;
            sc_cpus_set(&used, (unsigned)pin);
        }
    }
    for (unsigned v = 0; v < nv; v++) {
        if (!sc_cpus_has(&vset, v) || keep[v])
            continue;
        unsigned c = 0;
        while (c < SC_PLACE_MAX_CPUS && (!sc_cpus_has(&p->cpus, c) || sc_cpus_has(&used, c)))
            c++;
        if (c == SC_PLACE_MAX_CPUS) /* cannot be: ncpus >= nv */
            return refuse(-EBUSY, why, len, "no pCPU left for vCPU %u", v);
        sc_cpus_set(&used, c);
        p->pin[v] = (int)c;
        add_step(p, SC_PLACE_PIN, p->pool, (int)c, (int)v);
    }
    return 0;
}

static const char *pool_name(const struct sc_place_world *w, const struct sc_place_req *r,
                             int id)
{
    const struct sc_place_pool *p = id < 0 ? NULL : sc_place_pool_by_id(w, id);
    return p ? p->name : r->pool;
}

void sc_place_step_str(const struct sc_place_world *w, const struct sc_place_req *r,
                       const struct sc_place_step *s, char *buf, size_t len)
{
    switch (s->op) {
    case SC_PLACE_CREATE_POOL:
        snprintf(buf, len, "create cpupool %s (scheduler %s)", r->pool, r->sched);
        break;
    case SC_PLACE_REMOVE_CPU:
        snprintf(buf, len, "remove pCPU %d from %s", s->cpu, pool_name(w, r, s->pool));
        break;
    case SC_PLACE_ADD_CPU:
        snprintf(buf, len, "add pCPU %d to %s", s->cpu, pool_name(w, r, s->pool));
        break;
    case SC_PLACE_MOVE_DOMAIN:
        snprintf(buf, len, "move domain %u to %s", r->domid, pool_name(w, r, s->pool));
        break;
    case SC_PLACE_PIN:
        snprintf(buf, len, "pin vCPU %d of domain %u to pCPU %d", s->vcpu, r->domid, s->cpu);
        break;
    }
}

const char *sc_place_problem_name(enum sc_place_problem p)
{
    switch (p) {
    case SC_PLACE_NOT_DEDICATED: return "not-dedicated";
    case SC_PLACE_SCHED: return "scheduler";
    case SC_PLACE_UNPINNED: return "unpinned";
    case SC_PLACE_PIN_OUTSIDE: return "pinned-outside";
    case SC_PLACE_SHARED_PCPU: return "shared-pcpu";
    case SC_PLACE_OTHER_DOMAIN: return "other-domain";
    case SC_PLACE_TOO_FEW_CPUS: return "too-few-cpus";
    }
    return "?";
}

struct findings {
    struct sc_place_finding *out;
    unsigned max, n;
};

static void find(struct findings *f, enum sc_place_problem p, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void find(struct findings *f, enum sc_place_problem p, const char *fmt, ...)
{
    if (f->n < f->max) {
        va_list ap;
        va_start(ap, fmt);
        f->out[f->n].problem = p;
        vsnprintf(f->out[f->n].msg, sizeof(f->out[f->n].msg), fmt, ap);
        va_end(ap);
    }
    f->n++;
}

int sc_place_check(const struct sc_place_world *w, const struct sc_cpus *vcpus,
                   const char *sched, struct sc_place_finding *out, unsigned max)
{
    struct findings f = { out, max, 0 };
    const struct sc_place_dom *d = sc_place_dom(w, w->domid);
    if (!d)
        return -ESRCH;
    const struct sc_place_pool *pool = sc_place_pool_by_id(w, d->pool);
    unsigned nv = w->nr_vcpus < SC_PLACE_MAX_VCPUS ? w->nr_vcpus : SC_PLACE_MAX_VCPUS;
    if (d->pool == 0 || !pool) {
        find(&f, SC_PLACE_NOT_DEDICATED, "domain %u is in %s (id %d), not in a cpupool of "
             "its own", d->domid, pool ? pool->name : "an unknown pool", d->pool);
    } else {
        if (sched && strcmp(pool->sched, sched) != 0)
            find(&f, SC_PLACE_SCHED, "cpupool %s (id %d) uses the %s scheduler, not %s",
                 pool->name, pool->id, pool->sched, sched);
        for (unsigned i = 0; i < w->nr_doms; i++)
            if (w->doms[i].pool == d->pool && w->doms[i].domid != d->domid)
                find(&f, SC_PLACE_OTHER_DOMAIN, "domain %u (%u vCPU%s) is in cpupool %s too",
                     w->doms[i].domid, w->doms[i].nr_vcpus, w->doms[i].nr_vcpus == 1 ? "" : "s",
                     pool->name);
        unsigned nc = sc_cpus_count(&pool->cpus);
        if (nc < d->nr_vcpus)
            find(&f, SC_PLACE_TOO_FEW_CPUS, "cpupool %s has %u pCPU%s for the %u vCPUs of "
                 "domain %u", pool->name, nc, nc == 1 ? "" : "s", d->nr_vcpus, d->domid);
    }
    int first_on[SC_PLACE_MAX_CPUS];
    for (unsigned c = 0; c < SC_PLACE_MAX_CPUS; c++)
        first_on[c] = -1;
    for (unsigned v = 0; v < nv; v++) {
        if (vcpus && !sc_cpus_has(vcpus, v))
            continue;
        int pin = w->vcpus[v].pin;
        if (pin < 0 || pin >= (int)SC_PLACE_MAX_CPUS) {
            find(&f, SC_PLACE_UNPINNED, "vCPU %u is not pinned to one pCPU", v);
            continue;
        }
        if (pool && d->pool != 0 && !sc_cpus_has(&pool->cpus, (unsigned)pin))
            find(&f, SC_PLACE_PIN_OUTSIDE, "vCPU %u is pinned to pCPU %d, which is not in "
                 "cpupool %s", v, pin, pool->name);
        if (first_on[pin] >= 0)
            find(&f, SC_PLACE_SHARED_PCPU, "vCPUs %d and %u are both pinned to pCPU %d",
                 first_on[pin], v, pin);
        else
            first_on[pin] = (int)v;
    }
    return (int)f.n;
}
