/*
 * hv_evtchn.c - event-channel ports.  Each allocated port has its own
 * eventfd (kicks to the port land there); the owner polls it, the peer
 * writes it.  Whenever a port's binding changes its word in the shared
 * port-generation table is bumped, so notifiers drop stale peer eventfds.
 */
#include <errno.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "hv_internal.h"

static uint32_t *gen_word(struct hv *hv, domid_t dom, evtchn_port_t port)
{
    return &hv->portgen[(size_t)dom * XSIM_NR_PORTS + port];
}

static void bump_gen(struct hv *hv, domid_t dom, evtchn_port_t port)
{
    __atomic_fetch_add(gen_word(hv, dom, port), 1, __ATOMIC_RELEASE);
}

static struct hv_domain *conn_domain(struct hv *hv, struct hv_conn *c)
{
    struct hv_domain *d = &hv->dom[c->domid];
    if (d->state == XSIM_DOM_FREE || d->incarnation != c->incarnation || !d->ports)
        return NULL;
    return d;
}

static int alloc_port(struct hv_domain *d, struct hv_conn *c, uint32_t handle)
{
    for (evtchn_port_t p = 1; p < XSIM_NR_PORTS; p++) {
        struct hv_port *port = &d->ports[p];
        if (port->state != HV_PORT_FREE)
            continue;
        int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (efd < 0)
            return -errno;
        port->efd = efd;
        port->conn = c;
        port->handle = handle;
        return (int)p;
    }
    return -ENOSPC;
}

/* The port of `c`'s domain that `c` bound through `handle`, or NULL. */
static struct hv_port *owned_port(struct hv *hv, struct hv_conn *c, uint32_t handle,
                                  uint32_t port)
{
    struct hv_domain *d = conn_domain(hv, c);
    if (!d || port == 0 || port >= XSIM_NR_PORTS)
        return NULL;
    struct hv_port *p = &d->ports[port];
    if (p->state == HV_PORT_FREE || p->conn != c || p->handle != handle)
        return NULL;
    return p;
}

static void close_port(struct hv *hv, struct hv_domain *d, evtchn_port_t port)
{
    struct hv_port *p = &d->ports[port];
    if (p->state == HV_PORT_INTERDOMAIN) {
        struct hv_domain *rd = &hv->dom[p->remote_dom];
        struct hv_port *peer = rd->ports ? &rd->ports[p->remote_port] : NULL;
        if (peer && peer->state == HV_PORT_INTERDOMAIN && peer->remote_dom == d->domid &&
            peer->remote_port == port) {
            /* As on Xen, the peer waits for us to bind again. */
            peer->state = HV_PORT_UNBOUND;
            peer->remote_port = 0;
            bump_gen(hv, rd->domid, p->remote_port);
        }
    }
    if (p->efd >= 0)
        close(p->efd);
    memset(p, 0, sizeof(*p));
    p->efd = -1;
    bump_gen(hv, d->domid, port);
}

int hv_evtchn_alloc_unbound(struct hv *hv, struct hv_conn *c, uint32_t handle,
                            uint32_t remote, int *efd)
{
    struct hv_domain *d = conn_domain(hv, c);
    if (remote == DOMID_SELF)
        remote = c->domid;
    if (!d)
        return -ESRCH;
    if (remote >= XSIM_MAX_DOMAINS)
        return -EINVAL;
    int port = alloc_port(d, c, handle);
    if (port < 0) {
        hv_log("dom%u: alloc_unbound: %s", c->domid, strerror(-port));
        return port;
    }
    struct hv_port *p = &d->ports[port];
    p->state = HV_PORT_UNBOUND;
    p->remote_dom = (domid_t)remote;
    bump_gen(hv, d->domid, (evtchn_port_t)port);
    *efd = p->efd;
    return port;
}

int hv_evtchn_bind_interdomain(struct hv *hv, struct hv_conn *c, uint32_t handle,
                               uint32_t remote, uint32_t rport, int *efd, int *peer_efd,
                               uint32_t *gen)
{
    struct hv_domain *d = conn_domain(hv, c);
    if (remote == DOMID_SELF)
        remote = c->domid;
    if (!d)
        return -ESRCH;
    struct hv_domain *rd = hv_domain_running(hv, remote);
    if (!rd)
        return -ESRCH;
    if (rport == 0 || rport >= XSIM_NR_PORTS)
        return -EINVAL;
    struct hv_port *rp = &rd->ports[rport];
    if (rp->state != HV_PORT_UNBOUND || rp->remote_dom != c->domid)
        return -EINVAL;
    int port = alloc_port(d, c, handle);
    if (port < 0) {
        hv_log("dom%u: bind_interdomain to dom%u port %u: %s", c->domid, remote, rport,
               strerror(-port));
        return port;
    }
    struct hv_port *p = &d->ports[port];
    p->state = HV_PORT_INTERDOMAIN;
    p->remote_dom = (domid_t)remote;
    p->remote_port = rport;
    rp->state = HV_PORT_INTERDOMAIN;
    rp->remote_port = (evtchn_port_t)port;
    bump_gen(hv, d->domid, (evtchn_port_t)port);
    bump_gen(hv, rd->domid, rport);
    *efd = p->efd;
    *peer_efd = rp->efd;
    *gen = __atomic_load_n(gen_word(hv, d->domid, (evtchn_port_t)port), __ATOMIC_RELAXED);
    return port;
}

int hv_evtchn_unbind(struct hv *hv, struct hv_conn *c, uint32_t handle, uint32_t port)
{
    if (!owned_port(hv, c, handle, port))
        return -ENOTCONN;
    close_port(hv, conn_domain(hv, c), port);
    return 0;
}

int hv_evtchn_peer(struct hv *hv, struct hv_conn *c, uint32_t handle, uint32_t port,
                   int *peer_efd, uint32_t *gen)
{
    struct hv_port *p = owned_port(hv, c, handle, port);
    if (!p)
        return -ENOTCONN;
    /* Read the generation first: a later change bumps it past this value. */
    *gen = __atomic_load_n(gen_word(hv, c->domid, port), __ATOMIC_RELAXED);
    *peer_efd = -1;
    if (p->state == HV_PORT_INTERDOMAIN) {
        struct hv_domain *rd = &hv->dom[p->remote_dom];
        if (rd->ports && rd->ports[p->remote_port].state == HV_PORT_INTERDOMAIN)
            *peer_efd = rd->ports[p->remote_port].efd;
    }
    return 0;
}

void hv_evtchn_close_owner(struct hv *hv, struct hv_conn *c, uint32_t handle)
{
    struct hv_domain *d = conn_domain(hv, c);
    if (!d)
        return;
    for (evtchn_port_t p = 1; p < XSIM_NR_PORTS; p++) {
        struct hv_port *port = &d->ports[p];
        if (port->state != HV_PORT_FREE && port->conn == c &&
            (handle == 0 || port->handle == handle))
            close_port(hv, d, p);
    }
}

void hv_evtchn_close_domain(struct hv *hv, domid_t domid)
{
    struct hv_domain *d = &hv->dom[domid];
    if (!d->ports)
        return;
    for (evtchn_port_t p = 1; p < XSIM_NR_PORTS; p++)
        if (d->ports[p].state != HV_PORT_FREE)
            close_port(hv, d, p);
}
