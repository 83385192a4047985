/*
 * hv_vcpu.c - the vCPU map of each domain (xensim.h, "vCPUs"): where its
 * vCPUs run and the steal they accrue, as a test sets them.  Steal is kept
 * as what accrued up to the last change plus the rate since, so a reader
 * sees it grow without the daemon doing anything in between.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hv_internal.h"

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void default_info(uint32_t vcpu, struct xsim_vcpu_info *info)
{
    memset(info, 0, sizeof(*info));
    info->pcpu = vcpu;
    snprintf(info->pool_name, sizeof(info->pool_name), "Pool-0");
    snprintf(info->sched, sizeof(info->sched), "credit2");
}

static uint64_t steal_now(const struct hv_vcpu *v, uint64_t now)
{
    uint64_t run = now > v->since_ns ? now - v->since_ns : 0;
    return v->steal_base_ns + run / 1000u * v->info.steal_permille;
}

int hv_vcpu_get(struct hv *hv, uint32_t domid, uint32_t vcpu, struct xsim_vcpu_info *out)
{
    struct hv_domain *d = hv_domain_running(hv, domid);
    if (!d)
        return -ESRCH;
    if (vcpu >= XSIM_MAX_VCPUS)
        return -EINVAL;
    if (!d->vcpus) {
        default_info(vcpu, out);
        hv_pool_describe(hv, d->pool, out);
        return 0;
    }
    *out = d->vcpus[vcpu].info;
    if (!d->vcpus[vcpu].pool_override)
        hv_pool_describe(hv, d->pool, out);
    out->steal_ns = steal_now(&d->vcpus[vcpu], now_ns());
    return 0;
}

static int vcpus_alloc(struct hv_domain *d, uint64_t now)
{
    if (d->vcpus)
        return 0;
    d->vcpus = calloc(XSIM_MAX_VCPUS, sizeof(*d->vcpus));
    if (!d->vcpus)
        return -ENOMEM;
    for (uint32_t i = 0; i < XSIM_MAX_VCPUS; i++) {
        default_info(i, &d->vcpus[i].info);
        d->vcpus[i].since_ns = now;
    }
    return 0;
}

static bool name_ok(const char *s, size_t max)
{
    size_t n = strnlen(s, max);
    return n > 0 && n < max;
}

int hv_vcpu_set(struct hv *hv, uint32_t domid, uint32_t vcpu, const struct xsim_vcpu_info *in)
{
    struct hv_domain *d = hv_domain_running(hv, domid);
    if (!d)
        return -ESRCH;
    if (vcpu >= XSIM_MAX_VCPUS || in->steal_permille > 1000 ||
        !name_ok(in->pool_name, sizeof(in->pool_name)) || !name_ok(in->sched, sizeof(in->sched)))
        return -EINVAL;
    uint64_t now = now_ns();
    int err = vcpus_alloc(d, now);
    if (err)
        return err;
    struct hv_vcpu *v = &d->vcpus[vcpu];
    /* a test's own pool fields stand until the domain moves (xensim.h) */
    struct xsim_vcpu_info own;
    hv_pool_describe(hv, d->pool, &own);
    v->pool_override = own.pool != in->pool || strcmp(own.pool_name, in->pool_name) != 0 ||
                       strcmp(own.sched, in->sched) != 0;
    v->steal_base_ns = steal_now(v, now);
    v->since_ns = now;
    v->info = *in;
    v->info.steal_ns = 0;
    hv_log("dom%u vcpu%u: pcpu %u, pool %u %s (%s)%s, steal %u/1000", domid, vcpu, in->pcpu,
           in->pool, in->pool_name, in->sched, in->pinned ? ", pinned" : "", in->steal_permille);
    return 0;
}

int hv_vcpu_pin(struct hv *hv, uint32_t domid, uint32_t vcpu, int32_t cpu)
{
    struct hv_domain *d = hv_domain_running(hv, domid);
    if (!d)
        return -ESRCH;
    if (vcpu >= d->nr_vcpus || cpu < -1 || (cpu >= 0 && (uint32_t)cpu >= hv->nr_pcpus))
        return -EINVAL;
    /* as Xen: a hard affinity outside the domain's pool is refused */
    if (cpu >= 0 && !(hv->pools[d->pool].cpus & (1ull << cpu)))
        return -EINVAL;
    int err = vcpus_alloc(d, now_ns());
    if (err)
        return err;
    struct hv_vcpu *v = &d->vcpus[vcpu];
    v->info.pinned = cpu >= 0;
    if (cpu >= 0)
        v->info.pcpu = (uint32_t)cpu;
    if (cpu >= 0)
        hv_log("dom%u vcpu%u: pinned to cpu %d", domid, vcpu, cpu);
    else
        hv_log("dom%u vcpu%u: unpinned", domid, vcpu);
    return 0;
}

void hv_vcpu_moved(struct hv *hv, struct hv_domain *d)
{
    if (vcpus_alloc(d, now_ns()))
        return;
    uint64_t cpus = hv->pools[d->pool].cpus;
    int n = __builtin_popcountll(cpus);
    for (uint32_t i = 0; i < XSIM_MAX_VCPUS; i++) {
        struct hv_vcpu *v = &d->vcpus[i];
        v->info.pinned = false;
        v->pool_override = false;
        if (n) {
            /* the (i mod n)-th CPU of the pool: where a scheduler may put it */
            int k = (int)(i % (uint32_t)n);
            uint64_t c = cpus;
            while (k--)
                c &= c - 1;
            v->info.pcpu = (uint32_t)__builtin_ctzll(c);
        }
    }
}

void hv_vcpu_cpu_gone(struct hv *hv, struct hv_domain *d, uint32_t cpu)
{
    uint64_t left = hv->pools[d->pool].cpus;
    if (!d->vcpus || !left)
        return;
    for (uint32_t i = 0; i < XSIM_MAX_VCPUS; i++)
        if (d->vcpus[i].info.pcpu == cpu) {
            /* off the CPU, onto one the pool still has */
            d->vcpus[i].info.pinned = false;
            d->vcpus[i].info.pcpu = (uint32_t)__builtin_ctzll(left);
        }
}

void hv_vcpu_free(struct hv_domain *d)
{
    free(d->vcpus);
    d->vcpus = NULL;
}
