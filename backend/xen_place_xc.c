/*
 * xen_place_xc.c - xen_place.h on real Xen, through libxenctrl's sysctls
 * and domctls (which Xen answers for Dom0 alone).
 *
 * Pool names are not the hypervisor's: libxl keeps them in xenstore at
 * /local/pool/<id>/name, so we read and write them there too, and `xl
 * cpupool-list` shows the pool we create by its name.
 */
/* libxenctrl's headers are for tools: the domctl ABI they use is hidden
 * otherwise (and must be visible before xen.h pulls in xen/xen.h). */
#define __XEN_TOOLS__ 1
#include "xen_place.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xenctrl.h>
#include <xenstore.h>
#include <xentoollog.h>

#include "xen.h"
#include "xen_sched.h"

struct place_xc {
    struct sc_place_hv base;
    xc_interface *xch;
    xentoollog_logger_stdiostream *logger;
    struct xs_handle *xs;     /* NULL: names unknown ("Pool-<id>") */
    int map_bytes;
};

static struct place_xc *to_xc(struct sc_place_hv *h)
{
    return (struct place_xc *)h;
}


static int neg_errno(void)
{
    return errno ? -errno : -EIO;
}


/* The one CPU set in a map of `bytes`, or -1 (none or several). */
static int only_cpu(const uint8_t *map, int bytes)
{
    int only = -1;
    for (int c = 0; c < bytes * 8; c++)
        if (map[c / 8] & (1u << (c % 8))) {
            if (only >= 0)
                return -1;
            only = c;
        }
    return only;
}

static int xc_read(struct sc_place_hv *h, struct sc_place_world *w)
{
    struct place_xc *x = to_xc(h);
    xc_physinfo_t phys = { 0 };
    if (xc_physinfo(x->xch, &phys) < 0)
        return neg_errno();
    w->nr_cpus = phys.max_cpu_id + 1 < SC_PLACE_MAX_CPUS ? phys.max_cpu_id + 1
                                                          : SC_PLACE_MAX_CPUS;
    /* xc_cpupool_getinfo answers the lowest pool with an id >= the one asked */
    for (uint32_t next = 0; w->nr_pools < SC_PLACE_MAX_POOLS;) {
        xc_cpupoolinfo_t *pi = xc_cpupool_getinfo(x->xch, next);
        if (!pi)
            break;
        struct sc_place_pool *p = &w->pools[w->nr_pools++];
        p->id = (int)pi->cpupool_id;
        sc_xen_pool_name(x->xs, pi->cpupool_id, p->name, sizeof(p->name));
        snprintf(p->sched, sizeof(p->sched), "%s", sc_xen_sched_name(pi->sched_id));
        for (int c = 0; c < x->map_bytes * 8 && c < (int)SC_PLACE_MAX_CPUS; c++)
            if (pi->cpumap[c / 8] & (1u << (c % 8)))
                sc_cpus_set(&p->cpus, (unsigned)c);
        next = pi->cpupool_id + 1;
        xc_cpupool_infofree(x->xch, pi);
    }
    static xc_dominfo_t info[SC_PLACE_MAX_DOMS];
    int n = xc_domain_getinfo(x->xch, 0, SC_PLACE_MAX_DOMS, info);
    if (n < 0)
        return neg_errno();
    for (int i = 0; i < n; i++) {
        if (info[i].dying)
            continue;
        w->doms[w->nr_doms++] = (struct sc_place_dom){ info[i].domid, (int)info[i].cpupool,
                                                       info[i].max_vcpu_id + 1 };
        if (info[i].domid != w->domid)
            continue;
        w->nr_vcpus = info[i].max_vcpu_id + 1 < SC_PLACE_MAX_VCPUS ? info[i].max_vcpu_id + 1
                                                                   : SC_PLACE_MAX_VCPUS;
    }
    if (!w->nr_vcpus)
        return 0;
    xc_cpumap_t hard = xc_cpumap_alloc(x->xch);
    if (!hard)
        return -ENOMEM;
    int ret = 0;
    for (unsigned v = 0; v < w->nr_vcpus; v++) {
        xc_vcpuinfo_t vi;
        w->vcpus[v].pcpu = w->vcpus[v].pin = -1;
        if (xc_vcpu_getinfo(x->xch, w->domid, v, &vi) < 0) {
            ret = neg_errno();
            break;
        }
        w->vcpus[v].pcpu = vi.online ? (int)vi.cpu : -1;
        if (xc_vcpu_getaffinity(x->xch, w->domid, (int)v, hard, NULL,
                                XEN_VCPUAFFINITY_HARD) < 0) {
            ret = neg_errno();
            break;
        }
        w->vcpus[v].pin = only_cpu(hard, x->map_bytes);
    }
    free(hard);
    return ret;
}

static int xc_find_domain(struct sc_place_hv *h, const char *name, unsigned *domid)
{
    struct place_xc *x = to_xc(h);
    unsigned n = 0;
    char **doms = x->xs ? xs_directory(x->xs, XBT_NULL, "/local/domain", &n) : NULL;
    int ret = -ESRCH;
    for (unsigned i = 0; doms && i < n && ret; i++) {
        char path[64];
        unsigned len = 0;
        unsigned long long id;
        snprintf(path, sizeof(path), "/local/domain/%.20s/name", doms[i]);
        char *v = xs_read(x->xs, XBT_NULL, path, &len);
        if (v && strcmp(v, name) == 0 && sc_xs_parse_uint(doms[i], 0x7fef, &id) == 0) {
            *domid = (unsigned)id;
            ret = 0;
        }
        free(v);
    }
    free(doms);
    return ret;
}

static int xc_pool_create(struct sc_place_hv *h, const char *name, const char *sched)
{
    struct place_xc *x = to_xc(h);
    int sched_id = sc_xen_sched_id(sched);
    if (sched_id < 0)
        return -EINVAL;
    uint32_t id = XC_CPUPOOL_POOLID_ANY;
    if (xc_cpupool_create(x->xch, &id, (uint32_t)sched_id) < 0)
        return neg_errno();
    char path[64];
    snprintf(path, sizeof(path), "/local/pool/%u/name", id);
    if (x->xs)
        xs_write(x->xs, XBT_NULL, path, name, (unsigned)strlen(name));
    return (int)id;
}

static int xc_pool_cpu(struct sc_place_hv *h, int pool, int cpu, bool add)
{
    struct place_xc *x = to_xc(h);
    int ret = add ? xc_cpupool_addcpu(x->xch, (uint32_t)pool, cpu)
                  : xc_cpupool_removecpu(x->xch, (uint32_t)pool, cpu);
    return ret < 0 ? neg_errno() : 0;
}

static int xc_move_domain(struct sc_place_hv *h, int pool, unsigned domid)
{
    return xc_cpupool_movedomain(to_xc(h)->xch, (uint32_t)pool, domid) < 0 ? neg_errno() : 0;
}

static int xc_pin(struct sc_place_hv *h, unsigned domid, unsigned vcpu, int cpu)
{
    struct place_xc *x = to_xc(h);
    xc_cpumap_t hard = xc_cpumap_alloc(x->xch), soft = xc_cpumap_alloc(x->xch);
    int ret = -ENOMEM;
    if (hard && soft && cpu >= 0 && cpu < x->map_bytes * 8) {
        hard[cpu / 8] |= (uint8_t)(1u << (cpu % 8));
        /* soft is passed for libxenctrl's bounce buffers; HARD alone is set */
        ret = xc_vcpu_setaffinity(x->xch, domid, (int)vcpu, hard, soft,
                                  XEN_VCPUAFFINITY_HARD) < 0 ? neg_errno() : 0;
    } else if (hard && soft) {
        ret = -EINVAL;
    }
    free(hard);
    free(soft);
    return ret;
}

static void xc_close_hv(struct sc_place_hv *h)
{
    struct place_xc *x = to_xc(h);
    if (x->xs)
        xs_close(x->xs);
    if (x->xch)
        xc_interface_close(x->xch);
    if (x->logger)
        xtl_logger_destroy((xentoollog_logger *)x->logger);
    free(x);
}

static const struct sc_place_hv_ops xc_ops = {
    .read = xc_read,
    .find_domain = xc_find_domain,
    .pool_create = xc_pool_create,
    .pool_cpu = xc_pool_cpu,
    .move_domain = xc_move_domain,
    .pin = xc_pin,
    .close = xc_close_hv,
};

struct sc_place_hv *sc_place_hv_xc_open(char *why, size_t why_len)
{
    if (!sc_xen_in_dom0()) {
        snprintf(why, why_len, "only Dom0 may place domains and read their cpupools (this is "
                 "not Dom0: /proc/xen/capabilities has no control_d)");
        errno = EPERM;
        return NULL;
    }
    struct place_xc *x = calloc(1, sizeof(*x));
    if (!x)
        return NULL;
    x->base.ops = &xc_ops;
    x->base.platform = "xen";
    x->logger = xtl_createlogger_stdiostream(stderr, XTL_ERROR, 0);
    x->xch = xc_interface_open((xentoollog_logger *)x->logger, (xentoollog_logger *)x->logger,
                               0);
    if (!x->xch || (x->map_bytes = xc_get_cpumap_size(x->xch)) <= 0) {
        int err = errno ? errno : EIO;
        snprintf(why, why_len, "libxenctrl: cannot open the hypervisor interface: %s",
                 strerror(err));
        xc_close_hv(&x->base);
        errno = err;
        return NULL;
    }
    x->xs = xs_open(0);
    return &x->base;
}
