/*
 * hv_pool.c - cpupools (xensim.h, "cpupools"): the physical CPUs, the
 * pools that own them and the pool of each domain, with the refusals Xen
 * gives (a CPU in two pools, the last CPU of a pool with domains, a
 * domain moved into a pool without CPUs).
 */
#include <errno.h>
#include <string.h>

#include "hv_internal.h"

static const char *const scheds[] = { "credit", "credit2", "rtds", "arinc653", "null" };

void hv_pools_init(struct hv *hv, uint32_t nr_pcpus)
{
    if (nr_pcpus == 0 || nr_pcpus > XSIM_MAX_PCPUS)
        nr_pcpus = XSIM_DEFAULT_PCPUS;
    hv->nr_pcpus = nr_pcpus;
    memset(hv->pools, 0, sizeof(hv->pools));
    struct hv_pool *p0 = &hv->pools[0];
    p0->used = true;
    snprintf(p0->name, sizeof(p0->name), "Pool-0");
    snprintf(p0->sched, sizeof(p0->sched), "credit2");
    p0->cpus = nr_pcpus == 64 ? ~0ull : (1ull << nr_pcpus) - 1;
}

static struct hv_pool *pool_get(struct hv *hv, uint32_t id)
{
    return id < XSIM_MAX_POOLS && hv->pools[id].used ? &hv->pools[id] : NULL;
}

static uint32_t n_dom(struct hv *hv, uint32_t id)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < XSIM_MAX_DOMAINS; i++)
        if (hv->dom[i].state == XSIM_DOM_RUNNING && hv->dom[i].pool == id)
            n++;
    return n;
}

void hv_pool_list(struct hv *hv, struct xsim_pools *out)
{
    memset(out, 0, sizeof(*out));
    out->nr_pcpus = hv->nr_pcpus;
    for (uint32_t id = 0; id < XSIM_MAX_POOLS; id++) {
        struct hv_pool *p = pool_get(hv, id);
        if (!p)
            continue;
        struct xsim_pool *o = &out->pool[out->nr_pools++];
        o->id = id;
        o->n_dom = n_dom(hv, id);
        memcpy(o->name, p->name, sizeof(o->name));
        memcpy(o->sched, p->sched, sizeof(o->sched));
        o->cpus = p->cpus;
    }
}

void hv_pool_describe(struct hv *hv, uint32_t id, struct xsim_vcpu_info *info)
{
    struct hv_pool *p = pool_get(hv, id);
    info->pool = id;
    snprintf(info->pool_name, sizeof(info->pool_name), "%s", p ? p->name : "?");
    snprintf(info->sched, sizeof(info->sched), "%s", p ? p->sched : "?");
}

static int sched_index(const char *name, size_t len)
{
    for (size_t i = 0; i < sizeof(scheds) / sizeof(scheds[0]); i++)
        if (strlen(scheds[i]) == len && strncmp(name, scheds[i], len) == 0)
            return (int)i;
    return -1;
}

int hv_pools_set_scheds(struct hv *hv, const char *list)
{
    uint32_t built = 0;
    for (const char *p = list; *p;) {
        size_t len = strcspn(p, ",");
        int i = sched_index(p, len);
        if (i < 0)
            return -EINVAL;
        built |= 1u << i;
        p += len + (p[len] == ',');
    }
    if (!(built & (1u << sched_index("credit2", 7))))
        return -EINVAL; /* Pool-0's */
    hv->scheds_missing = ~built;
    return 0;
}

int hv_pool_create(struct hv *hv, const char *name, const char *sched)
{
    int known = sched_index(sched, strlen(sched));
    if (!*name || known < 0)
        return -EINVAL;
    /* what Xen answers for a scheduler it was built without */
    if (hv->scheds_missing & (1u << known)) {
        hv_log("cpupool %s: no %s scheduler in this build", name, sched);
        return -ENOENT;
    }
    int free_id = -1;
    for (uint32_t id = 0; id < XSIM_MAX_POOLS; id++) {
        if (hv->pools[id].used && strcmp(hv->pools[id].name, name) == 0)
            return -EEXIST;
        if (!hv->pools[id].used && free_id < 0)
            free_id = (int)id;
    }
    if (free_id < 0)
        return -ENOSPC;
    struct hv_pool *p = &hv->pools[free_id];
    memset(p, 0, sizeof(*p));
    p->used = true;
    snprintf(p->name, sizeof(p->name), "%s", name);
    snprintf(p->sched, sizeof(p->sched), "%s", sched);
    hv_log("cpupool %d %s (%s) created", free_id, name, sched);
    return free_id;
}

int hv_pool_destroy(struct hv *hv, uint32_t id)
{
    struct hv_pool *p = pool_get(hv, id);
    if (!p || id == 0)
        return -ENOENT;
    if (p->cpus || n_dom(hv, id))
        return -EBUSY;
    hv_log("cpupool %u %s destroyed", id, p->name);
    p->used = false;
    return 0;
}

int hv_pool_cpu(struct hv *hv, uint32_t id, uint32_t cpu, bool add)
{
    struct hv_pool *p = pool_get(hv, id);
    if (!p)
        return -ENOENT;
    if (cpu >= hv->nr_pcpus)
        return -EINVAL;
    uint64_t bit = 1ull << cpu;
    if (add) {
        for (uint32_t i = 0; i < XSIM_MAX_POOLS; i++)
            if (hv->pools[i].used && (hv->pools[i].cpus & bit))
                return i == id ? 0 : -EBUSY;
        p->cpus |= bit;
    } else {
        if (!(p->cpus & bit))
            return -EINVAL;
        if (p->cpus == bit && n_dom(hv, id))
            return -EBUSY;
        p->cpus &= ~bit;
        for (uint32_t i = 0; i < XSIM_MAX_DOMAINS; i++)
            if (hv->dom[i].state == XSIM_DOM_RUNNING && hv->dom[i].pool == id)
                hv_vcpu_cpu_gone(hv, &hv->dom[i], cpu);
    }
    hv_log("cpupool %u %s: cpu %u %s", id, p->name, cpu, add ? "added" : "removed");
    return 0;
}

int hv_pool_move_domain(struct hv *hv, uint32_t id, uint32_t domid)
{
    struct hv_pool *p = pool_get(hv, id);
    if (!p)
        return -ENOENT;
    struct hv_domain *d = hv_domain_running(hv, domid);
    if (!d)
        return -ESRCH;
    if (!p->cpus)
        return -EBUSY;
    d->pool = id;
    hv_vcpu_moved(hv, d);
    hv_log("dom%u moved to cpupool %u %s", domid, id, p->name);
    return 0;
}

int hv_domain_sched(struct hv *hv, uint32_t domid, uint32_t *pool, uint32_t *nr_vcpus)
{
    struct hv_domain *d = hv_domain_running(hv, domid);
    if (!d)
        return -ESRCH;
    *pool = d->pool;
    *nr_vcpus = d->nr_vcpus;
    return 0;
}

int hv_domain_set_vcpus(struct hv *hv, uint32_t domid, uint32_t nr)
{
    struct hv_domain *d = hv_domain_running(hv, domid);
    if (!d)
        return -ESRCH;
    if (nr == 0 || nr > XSIM_MAX_VCPUS)
        return -EINVAL;
    d->nr_vcpus = nr;
    hv_log("dom%u: %u vCPUs", domid, nr);
    return 0;
}
