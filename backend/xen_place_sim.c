/*
 * xen_place_sim.c - xen_place.h on xensim's cpupools (xensim.h), as
 * domain $XENSIM_DOMID (default 0) of the world in $XENSIM_DIR.
 */
#include "xen_place.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xen.h"
#include "xensim.h"

struct place_sim {
    struct sc_place_hv base;
    struct xsim *xs;
};

static struct xsim *xs_of(struct sc_place_hv *h)
{
    return ((struct place_sim *)h)->xs;
}

static int sim_read(struct sc_place_hv *h, struct sc_place_world *w)
{
    struct xsim *xs = xs_of(h);
    struct xsim_pools pools;
    int ret = xsim_pool_list(xs, &pools);
    if (ret < 0)
        return ret;
    w->nr_cpus = pools.nr_pcpus;
    for (uint32_t i = 0; i < pools.nr_pools && w->nr_pools < SC_PLACE_MAX_POOLS; i++) {
        struct sc_place_pool *p = &w->pools[w->nr_pools++];
        p->id = (int)pools.pool[i].id;
        snprintf(p->name, sizeof(p->name), "%s", pools.pool[i].name);
        snprintf(p->sched, sizeof(p->sched), "%s", pools.pool[i].sched);
        p->cpus.w[0] = pools.pool[i].cpus;
    }
    for (unsigned d = 0; d < XSIM_MAX_DOMAINS && w->nr_doms < SC_PLACE_MAX_DOMS; d++) {
        struct xsim_dominfo info;
        uint32_t pool, nr;
        if (xsim_domain_info(xs, (domid_t)d, &info) || info.state != XSIM_DOM_RUNNING ||
            xsim_domain_sched(xs, (domid_t)d, &pool, &nr))
            continue;
        w->doms[w->nr_doms++] = (struct sc_place_dom){ d, (int)pool, nr };
        if (d != w->domid)
            continue;
        w->nr_vcpus = nr < SC_PLACE_MAX_VCPUS ? nr : SC_PLACE_MAX_VCPUS;
        for (unsigned v = 0; v < w->nr_vcpus; v++) {
            struct xsim_vcpu_info vi;
            if ((ret = xsim_vcpu_get(xs, (domid_t)d, v, &vi)) < 0)
                return ret;
            w->vcpus[v].pcpu = (int)vi.pcpu;
            w->vcpus[v].pin = vi.pinned ? (int)vi.pcpu : -1;
        }
    }
    return 0;
}

static int sim_find_domain(struct sc_place_hv *h, const char *name, unsigned *domid)
{
    for (unsigned d = 0; d < XSIM_MAX_DOMAINS; d++) {
        struct xsim_dominfo info;
        if (xsim_domain_info(xs_of(h), (domid_t)d, &info) == 0 &&
            info.state == XSIM_DOM_RUNNING && strcmp(info.name, name) == 0) {
            *domid = d;
            return 0;
        }
    }
    return -ESRCH;
}

static int sim_pool_create(struct sc_place_hv *h, const char *name, const char *sched)
{
    return xsim_pool_create(xs_of(h), name, sched);
}

static int sim_pool_cpu(struct sc_place_hv *h, int pool, int cpu, bool add)
{
    return xsim_pool_cpu(xs_of(h), (uint32_t)pool, (uint32_t)cpu, add);
}

static int sim_move_domain(struct sc_place_hv *h, int pool, unsigned domid)
{
    return xsim_pool_move_domain(xs_of(h), (uint32_t)pool, (domid_t)domid);
}

static int sim_pin(struct sc_place_hv *h, unsigned domid, unsigned vcpu, int cpu)
{
    return xsim_vcpu_pin(xs_of(h), (domid_t)domid, vcpu, cpu);
}

static void sim_close(struct sc_place_hv *h)
{
    xsim_close(xs_of(h));
    free(h);
}

static const struct sc_place_hv_ops sim_ops = {
    .read = sim_read,
    .find_domain = sim_find_domain,
    .pool_create = sim_pool_create,
    .pool_cpu = sim_pool_cpu,
    .move_domain = sim_move_domain,
    .pin = sim_pin,
    .close = sim_close,
};

struct sc_place_hv *sc_place_hv_sim_open(char *why, size_t why_len)
{
    const char *dir = getenv("XENSIM_DIR"), *dom = getenv("XENSIM_DOMID");
    unsigned long long domid = 0;
    if (dom && *dom && sc_xs_parse_uint(dom, XSIM_MAX_DOMAINS - 1, &domid) < 0) {
        snprintf(why, why_len, "XENSIM_DOMID \"%s\" is not a domain id", dom);
        errno = EINVAL;
        return NULL;
    }
    if (domid != 0) {
        snprintf(why, why_len, "only Dom0 may place domains and read their cpupools "
                 "(this is xensim domain %llu)", domid);
        errno = EPERM;
        return NULL;
    }
    struct place_sim *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->xs = xsim_open(dir, 0);
    if (!s->xs) {
        int err = errno;
        snprintf(why, why_len, "cannot connect to xensim in %s: %s", dir, strerror(err));
        free(s);
        errno = err;
        return NULL;
    }
    s->base.ops = &sim_ops;
    s->base.platform = "xensim";
    return &s->base;
}
