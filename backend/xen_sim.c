/*
 * xen_sim.c - the platform layer on xensim: libxensim for grants and
 * event channels, xensim's xenstored (one socket per domain) for xenstore.
 *
 * The world is $XENSIM_DIR and we act as domain $XENSIM_DOMID (default 0).
 * libxensim handles are thread-safe, so one connection serves every thread.
 */
#include "xen.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "xensim.h"

struct xen_sim {
    struct sc_xen base;
    struct xsim *xsim;
    char xs_path[4096];
};

struct xen_sim_evtchn {
    struct sc_evtchn base;
    struct xsim_evtchn *h;
};

static inline struct xen_sim *to_sim(struct sc_xen *x)
{
    return (struct xen_sim *)x;
}

static inline struct xsim_evtchn *to_xsim_evtchn(struct sc_evtchn *h)
{
    return ((struct xen_sim_evtchn *)h)->h;
}

static void *sim_gnt_map_batch(struct sc_xen *x, domid_t domid, uint32_t count,
                               const grant_ref_t *refs, bool writable)
{
    if (count == 0) {
        errno = EINVAL;
        return NULL;
    }
    return xsim_grant_map(to_sim(x)->xsim, domid, count, refs, writable, NULL);
}

static int sim_gnt_unmap(struct sc_xen *x, void *addr, uint32_t count)
{
    return xsim_grant_unmap(to_sim(x)->xsim, addr, count);
}

static int sim_gnt_copy_batch(struct sc_xen *x, uint32_t count,
                              xengnttab_grant_copy_segment_t *segs)
{
    return xsim_grant_copy(to_sim(x)->xsim, count, segs);
}

static int sim_gnt_set_max_grants(struct sc_xen *x, uint32_t nr_grants)
{
    (void)x;
    (void)nr_grants; /* xensim has no per-handle mapping limit */
    return 0;
}

static struct sc_evtchn *sim_evtchn_open(struct sc_xen *x)
{
    struct xen_sim_evtchn *h = calloc(1, sizeof(*h));
    if (!h)
        return NULL;
    h->base.ops = x->ops;
    h->h = xsim_evtchn_open(to_sim(x)->xsim);
    if (!h->h) {
        int err = errno;
        sc_log(SC_LOG_ERR, "xensim", "cannot open an event channel handle: %s", strerror(err));
        free(h);
        errno = err;
        return NULL;
    }
    return &h->base;
}

static void sim_evtchn_close(struct sc_evtchn *h)
{
    xsim_evtchn_close(to_xsim_evtchn(h));
    free(h);
}

static int sim_evtchn_fd(struct sc_evtchn *h)
{
    return xsim_evtchn_fd(to_xsim_evtchn(h));
}

static int sim_evtchn_bind_interdomain(struct sc_evtchn *h, domid_t remote_dom,
                                       evtchn_port_t remote_port)
{
    return xsim_evtchn_bind_interdomain(to_xsim_evtchn(h), remote_dom, remote_port);
}

static int sim_evtchn_unbind(struct sc_evtchn *h, evtchn_port_t port)
{
    return xsim_evtchn_unbind(to_xsim_evtchn(h), port);
}

static int sim_evtchn_notify(struct sc_evtchn *h, evtchn_port_t port)
{
    return xsim_evtchn_notify(to_xsim_evtchn(h), port);
}

static int sim_evtchn_pending(struct sc_evtchn *h)
{
    return xsim_evtchn_pending(to_xsim_evtchn(h));
}

static int sim_evtchn_unmask(struct sc_evtchn *h, evtchn_port_t port)
{
    return xsim_evtchn_unmask(to_xsim_evtchn(h), port);
}

static struct xs_handle *sim_xs_open(struct sc_xen *x)
{
    return sc_xs_open_socket(to_sim(x)->xs_path);
}

static void sim_close(struct sc_xen *x)
{
    xsim_close(to_sim(x)->xsim);
    free(x);
}

static int sim_vcpu_place(struct sc_xen *x, unsigned vcpu, struct sc_vcpu_place *out)
{
    struct xsim_vcpu_info vi;
    int ret = xsim_vcpu_get(to_sim(x)->xsim, x->domid, vcpu, &vi);
    if (ret < 0)
        return ret == -EINVAL ? -ENOENT : ret;
    out->pcpu = (int)vi.pcpu;
    out->pool = (int)vi.pool;
    snprintf(out->pool_name, sizeof(out->pool_name), "%s", vi.pool_name);
    snprintf(out->sched, sizeof(out->sched), "%s", vi.sched);
    out->pinned = vi.pinned;
    out->steal_ns = vi.steal_ns;
    return 0;
}

static const struct sc_xen_ops sim_ops = {
    .name = "xensim",
    .close = sim_close,
    .gnt_map_batch = sim_gnt_map_batch,
    .gnt_unmap = sim_gnt_unmap,
    .gnt_copy_batch = sim_gnt_copy_batch,
    .gnt_set_max_grants = sim_gnt_set_max_grants,
    .evtchn_open = sim_evtchn_open,
    .evtchn_close = sim_evtchn_close,
    .evtchn_fd = sim_evtchn_fd,
    .evtchn_bind_interdomain = sim_evtchn_bind_interdomain,
    .evtchn_unbind = sim_evtchn_unbind,
    .evtchn_notify = sim_evtchn_notify,
    .evtchn_pending = sim_evtchn_pending,
    .evtchn_unmask = sim_evtchn_unmask,
    .xs_open = sim_xs_open,
    .vcpu_place = sim_vcpu_place,
};

struct sc_xen *sc_xen_sim_open(void)
{
    const char *dir = getenv("XENSIM_DIR");
    const char *domid_env = getenv("XENSIM_DOMID");
    unsigned long long domid = 0;

    if (!dir || !*dir) {
        sc_log(SC_LOG_ERR, "xensim", "XENSIM_DIR is not set: set it to a running xensimd's --dir, "
               "or use --platform xen");
        errno = EINVAL;
        return NULL;
    }
    if (domid_env && *domid_env &&
        sc_xs_parse_uint(domid_env, XSIM_MAX_DOMAINS - 1, &domid) < 0) {
        sc_log(SC_LOG_ERR, "xensim", "XENSIM_DOMID \"%s\" is not a domain id: give 0..%u",
               domid_env,
               XSIM_MAX_DOMAINS - 1);
        errno = EINVAL;
        return NULL;
    }

    struct xen_sim *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->base.ops = &sim_ops;
    s->base.platform = SC_XEN_SIM;
    s->base.domid = (domid_t)domid;
    int n = snprintf(s->xs_path, sizeof(s->xs_path), "%s/xs-%u.sock", dir, s->base.domid);
    if (n < 0 || (size_t)n >= sizeof(s->xs_path)) {
        sc_log(SC_LOG_ERR, "xensim", "XENSIM_DIR too long");
        free(s);
        errno = ENAMETOOLONG;
        return NULL;
    }
    s->xsim = xsim_open(dir, s->base.domid);
    if (!s->xsim) {
        int err = errno;
        sc_log(SC_LOG_ERR, "xensim", "cannot connect to the world in %s as domain %u: %s (is "
               "xensimd running with --dir %s? is the domain created?)", dir, s->base.domid,
               strerror(err), dir);
        free(s);
        errno = err ? err : ECONNREFUSED;
        return NULL;
    }
    sc_log(SC_LOG_INFO, "xensim", "platform: xensim in %s, domain %u", dir, s->base.domid);
    return &s->base;
}
