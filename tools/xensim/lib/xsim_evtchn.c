/*
 * xsim_evtchn.c - event-channel handles, as /dev/xen/evtchn.  Each bound
 * port has its own eventfd (from the daemon), registered in the handle's
 * epoll set with EPOLLONESHOT: delivering a port disarms it (= masked), and
 * re-arming (unmask) fires at once if kicks arrived meanwhile, so kicks
 * coalesce while masked and none is lost.  notify() writes the peer port's
 * eventfd, cached and revalidated against the daemon's port generation.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "xsim_internal.h"

struct xsim_port {
    bool bound;         /* bound through this handle */
    bool peer_known;    /* peer_fd/gen are from the daemon */
    int efd;            /* kicks to this port */
    int peer_fd;        /* the peer port's eventfd, or -1 if unbound */
    uint32_t gen;       /* the port's generation when peer_fd was fetched */
};

struct xsim_evtchn {
    struct xsim *xs;
    uint32_t handle;
    int epfd;
    pthread_mutex_t lock;
    struct xsim_port ports[XSIM_NR_PORTS];
};

static int arm(struct xsim_evtchn *h, evtchn_port_t port, int op)
{
    struct epoll_event ev = { .events = EPOLLIN | EPOLLONESHOT, .data.u32 = port };
    return epoll_ctl(h->epfd, op, h->ports[port].efd, &ev) ? -errno : 0;
}

static void forget_port(struct xsim_evtchn *h, evtchn_port_t port)
{
    struct xsim_port *p = &h->ports[port];
    if (p->efd >= 0) {
        epoll_ctl(h->epfd, EPOLL_CTL_DEL, p->efd, NULL);
        close(p->efd);
    }
    if (p->peer_fd >= 0)
        close(p->peer_fd);
    memset(p, 0, sizeof(*p));
    p->efd = p->peer_fd = -1;
}

struct xsim_evtchn *xsim_evtchn_open(struct xsim *xs)
{
    struct xsim_evtchn *h = calloc(1, sizeof(*h));
    if (!h)
        return NULL;
    h->xs = xs;
    pthread_mutex_init(&h->lock, NULL);
    for (uint32_t p = 0; p < XSIM_NR_PORTS; p++)
        h->ports[p].efd = h->ports[p].peer_fd = -1;
    h->epfd = epoll_create1(EPOLL_CLOEXEC);
    struct xsim_req req = { .op = XSIM_OP_EVTCHN_OPEN };
    struct xsim_rsp rsp;
    int fds[XSIM_RPC_MAX_FDS];
    int ret = h->epfd < 0 ? -errno : xsim_rpc(xs, &req, &rsp, fds);
    if (ret < 0) {
        if (h->epfd >= 0)
            close(h->epfd);
        pthread_mutex_destroy(&h->lock);
        free(h);
        errno = -ret;
        return NULL;
    }
    h->handle = rsp.u.evtchn_open.handle;
    return h;
}

void xsim_evtchn_close(struct xsim_evtchn *h)
{
    if (!h)
        return;
    struct xsim_req req = { .op = XSIM_OP_EVTCHN_CLOSE, .u.evtchn.handle = h->handle };
    struct xsim_rsp rsp;
    int fds[XSIM_RPC_MAX_FDS];
    xsim_rpc(h->xs, &req, &rsp, fds); /* a dead connection closed them anyway */
    for (uint32_t p = 0; p < XSIM_NR_PORTS; p++)
        if (h->ports[p].bound)
            forget_port(h, p);
    close(h->epfd);
    pthread_mutex_destroy(&h->lock);
    free(h);
}

int xsim_evtchn_fd(struct xsim_evtchn *h)
{
    return h->epfd;
}

/* Records a port the daemon just bound for us and arms it. */
static int adopt_port(struct xsim_evtchn *h, int port, int efd, int peer_fd, bool peer_known,
                      uint32_t gen)
{
    if (port <= 0 || port >= (int)XSIM_NR_PORTS || h->ports[port].bound) {
        close(efd);
        if (peer_fd >= 0)
            close(peer_fd);
        return -EPROTO;
    }
    struct xsim_port *p = &h->ports[port];
    p->bound = true;
    p->efd = efd;
    p->peer_fd = peer_fd;
    p->peer_known = peer_known;
    p->gen = gen;
    int err = arm(h, (evtchn_port_t)port, EPOLL_CTL_ADD);
    if (err) {
        forget_port(h, (evtchn_port_t)port);
        return err;
    }
    return port;
}

int xsim_evtchn_alloc_unbound(struct xsim_evtchn *h, domid_t remote)
{
    struct xsim_req req = { .op = XSIM_OP_EVTCHN_ALLOC_UNBOUND };
    struct xsim_rsp rsp;
    int fds[XSIM_RPC_MAX_FDS];
    req.u.evtchn.handle = h->handle;
    req.u.evtchn.remote_dom = remote;
    pthread_mutex_lock(&h->lock);
    int ret = xsim_rpc(h->xs, &req, &rsp, fds);
    if (ret >= 0)
        ret = rsp.nfds == 1 ? adopt_port(h, ret, fds[0], -1, false, 0) : -EPROTO;
    pthread_mutex_unlock(&h->lock);
    return ret;
}

int xsim_evtchn_bind_interdomain(struct xsim_evtchn *h, domid_t remote,
                                 evtchn_port_t remote_port)
{
    struct xsim_req req = { .op = XSIM_OP_EVTCHN_BIND_INTERDOMAIN };
    struct xsim_rsp rsp;
    int fds[XSIM_RPC_MAX_FDS];
    req.u.evtchn.handle = h->handle;
    req.u.evtchn.remote_dom = remote;
    req.u.evtchn.port = remote_port;
    pthread_mutex_lock(&h->lock);
    int ret = xsim_rpc(h->xs, &req, &rsp, fds);
    if (ret >= 0)
        ret = rsp.nfds == 2 ? adopt_port(h, ret, fds[0], fds[1], true, rsp.u.port.gen)
                            : -EPROTO;
    pthread_mutex_unlock(&h->lock);
    return ret;
}

int xsim_evtchn_unbind(struct xsim_evtchn *h, evtchn_port_t port)
{
    if (port == 0 || port >= XSIM_NR_PORTS)
        return -EINVAL;
    pthread_mutex_lock(&h->lock);
    int ret = -ENOTCONN;
    if (h->ports[port].bound) {
        struct xsim_req req = { .op = XSIM_OP_EVTCHN_UNBIND };
        struct xsim_rsp rsp;
        int fds[XSIM_RPC_MAX_FDS];
        req.u.evtchn.handle = h->handle;
        req.u.evtchn.port = port;
        ret = xsim_rpc(h->xs, &req, &rsp, fds);
        /* A dead connection has unbound it already. */
        if (ret == 0 || ret == -ECONNRESET || ret == -EPIPE)
            forget_port(h, port);
    }
    pthread_mutex_unlock(&h->lock);
    return ret;
}

/* Fetches the peer's eventfd (or learns there is none) for `port`. */
static int refresh_peer(struct xsim_evtchn *h, evtchn_port_t port)
{
    struct xsim_req req = { .op = XSIM_OP_EVTCHN_PEER };
    struct xsim_rsp rsp;
    int fds[XSIM_RPC_MAX_FDS];
    req.u.evtchn.handle = h->handle;
    req.u.evtchn.port = port;
    int ret = xsim_rpc(h->xs, &req, &rsp, fds);
    if (ret < 0)
        return ret;
    struct xsim_port *p = &h->ports[port];
    if (p->peer_fd >= 0)
        close(p->peer_fd);
    p->peer_fd = rsp.nfds == 1 ? fds[0] : -1;
    p->gen = rsp.u.port.gen;
    p->peer_known = true;
    return 0;
}

int xsim_evtchn_notify(struct xsim_evtchn *h, evtchn_port_t port)
{
    if (port == 0 || port >= XSIM_NR_PORTS)
        return -EINVAL;
    const uint32_t *gen = &h->xs->portgen[(size_t)h->xs->self * XSIM_NR_PORTS + port];
    int ret = 0;
    pthread_mutex_lock(&h->lock);
    struct xsim_port *p = &h->ports[port];
    if (!p->bound) {
        ret = -ENOTCONN;
    } else if (!p->peer_known || __atomic_load_n(gen, __ATOMIC_ACQUIRE) != p->gen) {
        ret = refresh_peer(h, port);
    }
    if (ret == 0 && p->peer_fd >= 0) {
        uint64_t one = 1;
        /* EAGAIN only at a counter of 2^64-2: the kick is pending anyway. */
        if (write(p->peer_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
            ret = -errno;
    }
    pthread_mutex_unlock(&h->lock);
    return ret;
}

int xsim_evtchn_pending(struct xsim_evtchn *h)
{
    struct epoll_event ev;
    int n;
    do
        n = epoll_wait(h->epfd, &ev, 1, 0);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return -errno;
    if (n == 0)
        return -EAGAIN;
    evtchn_port_t port = ev.data.u32;
    pthread_mutex_lock(&h->lock);
    if (port < XSIM_NR_PORTS && h->ports[port].bound) {
        uint64_t kicks;
        /* Clear it: later kicks re-raise it while masked, seen at unmask. */
        if (read(h->ports[port].efd, &kicks, sizeof(kicks)) < 0 && errno != EAGAIN) {
            int err = -errno;
            pthread_mutex_unlock(&h->lock);
            return err;
        }
    }
    pthread_mutex_unlock(&h->lock);
    return (int)port;
}

int xsim_evtchn_unmask(struct xsim_evtchn *h, evtchn_port_t port)
{
    if (port == 0 || port >= XSIM_NR_PORTS)
        return -EINVAL;
    pthread_mutex_lock(&h->lock);
    int ret = h->ports[port].bound ? arm(h, port, EPOLL_CTL_MOD) : -ENOTCONN;
    pthread_mutex_unlock(&h->lock);
    return ret;
}
