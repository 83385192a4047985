/*
 * hv.c - the simulated hypervisor's front door: one SOCK_SEQPACKET socket
 * per domain (<dir>/hv-<domid>.sock, see hv_domain.c), one connection per
 * libxensim handle, one fixed-size request answered by one response with
 * fds attached (xensim_abi.h).  Closing a connection drops its grant pins
 * and closes its event channels.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "hv_internal.h"

static const char *op_name(uint32_t op)
{
    switch (op) {
    case XSIM_OP_CONNECT: return "connect";
    case XSIM_OP_DOMAIN_CREATE: return "domain_create";
    case XSIM_OP_DOMAIN_DESTROY: return "domain_destroy";
    case XSIM_OP_DOMAIN_FDS: return "domain_fds";
    case XSIM_OP_EVTCHN_OPEN: return "evtchn_open";
    case XSIM_OP_EVTCHN_CLOSE: return "evtchn_close";
    case XSIM_OP_EVTCHN_ALLOC_UNBOUND: return "alloc_unbound";
    case XSIM_OP_EVTCHN_BIND_INTERDOMAIN: return "bind_interdomain";
    case XSIM_OP_EVTCHN_UNBIND: return "unbind";
    case XSIM_OP_EVTCHN_PEER: return "evtchn_peer";
    case XSIM_OP_VCPU_GET: return "vcpu_get";
    case XSIM_OP_VCPU_SET: return "vcpu_set";
    case XSIM_OP_POOL_LIST: return "pool_list";
    case XSIM_OP_POOL_CREATE: return "pool_create";
    case XSIM_OP_POOL_DESTROY: return "pool_destroy";
    case XSIM_OP_POOL_CPU: return "pool_cpu";
    case XSIM_OP_POOL_MOVE_DOMAIN: return "pool_move_domain";
    case XSIM_OP_DOMAIN_SCHED: return "domain_sched";
    case XSIM_OP_DOMAIN_SET_VCPUS: return "domain_set_vcpus";
    case XSIM_OP_VCPU_PIN: return "vcpu_pin";
    default: return "unknown op";
    }
}

void hv_conn_close(struct hv *hv, struct hv_conn *c)
{
    if (c->fd < 0)
        return;
    epoll_ctl(hv->epfd, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    c->fd = -1;
    hv_maptrack_release(hv, c);
    hv_evtchn_close_owner(hv, c, 0);
    if (c->mt)
        munmap(c->mt, XSIM_MAPTRACK_BYTES);
    if (c->mt_fd >= 0)
        close(c->mt_fd);
    c->mt = NULL;
    c->mt_fd = -1;
    if (c->prev)
        c->prev->next = c->next;
    else
        hv->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->prev = NULL;
    /* Freed at the end of the dispatch round: later events of the same
     * epoll batch may still point at it. */
    c->next = hv->closed;
    hv->closed = c;
}

static void free_closed_conns(struct hv *hv)
{
    while (hv->closed) {
        struct hv_conn *c = hv->closed;
        hv->closed = c->next;
        free(c);
    }
}

static void accept_conns(struct hv *hv, struct hv_domain *d)
{
    for (;;) {
        if (d->listen_fd < 0)
            return;
        int fd = accept4(d->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno != EAGAIN && errno != EINTR)
                hv_log("dom%u: accept: %s", d->domid, strerror(errno));
            return;
        }
        struct hv_conn *c = calloc(1, sizeof(*c));
        char name[64];
        snprintf(name, sizeof(name), "xsim-dom%u-maptrack", d->domid);
        int mt_fd = memfd_create(name, MFD_CLOEXEC);
        void *mt = MAP_FAILED;
        if (mt_fd >= 0 && ftruncate(mt_fd, XSIM_MAPTRACK_BYTES) == 0)
            mt = mmap(NULL, XSIM_MAPTRACK_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, mt_fd, 0);
        struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };
        if (!c || mt == MAP_FAILED || epoll_ctl(hv->epfd, EPOLL_CTL_ADD, fd, &ev)) {
            hv_log("dom%u: new connection: %s", d->domid, strerror(errno ? errno : ENOMEM));
            if (mt != MAP_FAILED)
                munmap(mt, XSIM_MAPTRACK_BYTES);
            if (mt_fd >= 0)
                close(mt_fd);
            free(c);
            close(fd);
            continue;
        }
        c->ep.kind = HV_EP_CONN;
        c->hv = hv;
        c->fd = fd;
        c->domid = d->domid;
        c->incarnation = d->incarnation;
        c->mt_fd = mt_fd;
        c->mt = mt;
        c->next = hv->conns;
        if (hv->conns)
            hv->conns->prev = c;
        hv->conns = c;
    }
}

static int send_rsp(struct hv_conn *c, const struct xsim_rsp *rsp, const int *fds)
{
    struct iovec iov = { .iov_base = (void *)rsp, .iov_len = sizeof(*rsp) };
    union {
        char buf[CMSG_SPACE(sizeof(int) * XSIM_RPC_MAX_FDS)];
        struct cmsghdr align;
    } ctl;
    struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
    if (rsp->nfds) {
        memset(&ctl, 0, sizeof(ctl));
        msg.msg_control = ctl.buf;
        msg.msg_controllen = CMSG_SPACE(sizeof(int) * rsp->nfds);
        struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
        cm->cmsg_level = SOL_SOCKET;
        cm->cmsg_type = SCM_RIGHTS;
        cm->cmsg_len = CMSG_LEN(sizeof(int) * rsp->nfds);
        memcpy(CMSG_DATA(cm), fds, sizeof(int) * rsp->nfds);
    }
    ssize_t n = sendmsg(c->fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
    return n == (ssize_t)sizeof(*rsp) ? 0 : -errno;
}

/* Runs one request; fills rsp (ret, payload, nfds) and fds. */
/* The cpupool changes, Dom0's alone. */
static int pool_op(struct hv *hv, const struct xsim_req *req)
{
    char name[XSIM_POOL_NAME_MAX], sched[XSIM_SCHED_NAME_MAX];
    switch (req->op) {
    case XSIM_OP_POOL_CREATE:
        snprintf(name, sizeof(name), "%.*s", (int)sizeof(name) - 1, req->u.pool.name);
        snprintf(sched, sizeof(sched), "%.*s", (int)sizeof(sched) - 1, req->u.pool.sched);
        return hv_pool_create(hv, name, sched);
    case XSIM_OP_POOL_DESTROY:
        return hv_pool_destroy(hv, req->u.pool.id);
    case XSIM_OP_POOL_CPU:
        return hv_pool_cpu(hv, req->u.pool.id, req->u.pool.cpu, req->u.pool.add != 0);
    case XSIM_OP_POOL_MOVE_DOMAIN:
        return hv_pool_move_domain(hv, req->u.pool.id, req->u.pool.domid);
    case XSIM_OP_DOMAIN_SET_VCPUS:
        return hv_domain_set_vcpus(hv, req->u.pool.domid, req->u.pool.cpu);
    case XSIM_OP_VCPU_PIN:
        return hv_vcpu_pin(hv, req->u.pool.domid, req->u.pool.cpu, req->u.pool.add);
    default:
        return -ENOSYS;
    }
}

static void handle_req(struct hv *hv, struct hv_conn *c, struct xsim_req *req,
                       struct xsim_rsp *rsp, int *fds)
{
    int ret = 0;
    uint32_t gen = 0;
    int efd = -1, peer = -1;

    switch (req->op) {
    case XSIM_OP_CONNECT:
        rsp->u.connect.domid = c->domid;
        rsp->u.connect.maptrack_entries = XSIM_MAPTRACK_ENTRIES;
        fds[0] = hv->domtab_fd;
        fds[1] = hv->portgen_fd;
        fds[2] = c->mt_fd;
        rsp->nfds = 3;
        break;
    case XSIM_OP_DOMAIN_CREATE:
        req->u.create.name[XSIM_NAME_MAX - 1] = '\0';
        ret = c->domid != 0 ? -EPERM
                            : hv_domain_create(hv, req->u.create.name, req->u.create.mem_mb);
        break;
    case XSIM_OP_DOMAIN_DESTROY:
        ret = c->domid != 0 ? -EPERM
              : req->u.dom.domid >= XSIM_MAX_DOMAINS
                  ? -ESRCH
                  : hv_domain_destroy(hv, (domid_t)req->u.dom.domid);
        break;
    case XSIM_OP_DOMAIN_FDS: {
        struct hv_domain *d = hv_domain_running(hv, req->u.dom.domid);
        if (!d) {
            ret = -ESRCH;
            break;
        }
        rsp->u.dom.incarnation = d->incarnation;
        rsp->u.dom.mem_pages = d->mem_pages;
        fds[0] = d->mem_fd;
        fds[1] = d->gnt_fd;
        fds[2] = d->act_fd;
        rsp->nfds = 3;
        break;
    }
    case XSIM_OP_EVTCHN_OPEN:
        if (++hv->next_handle == 0)
            hv->next_handle = 1;
        rsp->u.evtchn_open.handle = hv->next_handle;
        break;
    case XSIM_OP_EVTCHN_CLOSE:
        if (req->u.evtchn.handle == 0)
            ret = -EINVAL;
        else
            hv_evtchn_close_owner(hv, c, req->u.evtchn.handle);
        break;
    case XSIM_OP_EVTCHN_ALLOC_UNBOUND:
        ret = hv_evtchn_alloc_unbound(hv, c, req->u.evtchn.handle, req->u.evtchn.remote_dom,
                                      &efd);
        if (ret > 0) {
            fds[0] = efd;
            rsp->nfds = 1;
        }
        break;
    case XSIM_OP_EVTCHN_BIND_INTERDOMAIN:
        ret = hv_evtchn_bind_interdomain(hv, c, req->u.evtchn.handle,
                                         req->u.evtchn.remote_dom, req->u.evtchn.port, &efd,
                                         &peer, &gen);
        if (ret > 0) {
            fds[0] = efd;
            fds[1] = peer;
            rsp->nfds = 2;
            rsp->u.port.gen = gen;
            rsp->u.port.bound = 1;
        }
        break;
    case XSIM_OP_EVTCHN_UNBIND:
        ret = hv_evtchn_unbind(hv, c, req->u.evtchn.handle, req->u.evtchn.port);
        break;
    case XSIM_OP_EVTCHN_PEER:
        ret = hv_evtchn_peer(hv, c, req->u.evtchn.handle, req->u.evtchn.port, &peer, &gen);
        rsp->u.port.gen = gen;
        if (ret == 0 && peer >= 0) {
            fds[0] = peer;
            rsp->nfds = 1;
            rsp->u.port.bound = 1;
        }
        break;
    case XSIM_OP_VCPU_GET:
        ret = hv_vcpu_get(hv, req->u.vcpu.domid, req->u.vcpu.vcpu, &rsp->u.vcpu);
        break;
    case XSIM_OP_VCPU_SET:
        ret = c->domid != 0 ? -EPERM
                            : hv_vcpu_set(hv, req->u.vcpu.domid, req->u.vcpu.vcpu,
                                          &req->u.vcpu.info);
        break;
    case XSIM_OP_POOL_LIST:
        hv_pool_list(hv, &rsp->u.pools);
        break;
    case XSIM_OP_DOMAIN_SCHED:
        ret = hv_domain_sched(hv, req->u.pool.domid, &rsp->u.sched.pool, &rsp->u.sched.nr_vcpus);
        break;
    case XSIM_OP_POOL_CREATE:
    case XSIM_OP_POOL_DESTROY:
    case XSIM_OP_POOL_CPU:
    case XSIM_OP_POOL_MOVE_DOMAIN:
    case XSIM_OP_DOMAIN_SET_VCPUS:
    case XSIM_OP_VCPU_PIN:
        ret = c->domid != 0 ? -EPERM : pool_op(hv, req);
        break;
    default:
        ret = -ENOSYS;
        break;
    }
    rsp->ret = ret;
    /* Caller mistakes (EINVAL and friends) are the caller's to report; log
     * only what says something about the simulated world. */
    if (ret < 0 && ret != -EINVAL && ret != -ENOTCONN && ret != -ESRCH && ret != -EEXIST &&
        ret != -EPERM)
        hv_log("dom%u: %s: %s", c->domid, op_name(req->op), strerror(-ret));
}

static void serve_conn(struct hv *hv, struct hv_conn *c, uint32_t events)
{
    while (c->fd >= 0) {
        struct xsim_req req;
        ssize_t n = recv(c->fd, &req, sizeof(req), MSG_DONTWAIT);
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
            if (events & (EPOLLHUP | EPOLLERR))
                hv_conn_close(hv, c);
            return;
        }
        if (n == 0 || n < 0) {
            hv_conn_close(hv, c);
            return;
        }
        if (n != (ssize_t)sizeof(req) || req.version != XSIM_ABI_VERSION) {
            hv_log("dom%u: malformed request (%zd bytes, version %u); closing", c->domid, n,
                   n >= 4 ? req.version : 0);
            hv_conn_close(hv, c);
            return;
        }
        struct xsim_rsp rsp = { 0 };
        int fds[XSIM_RPC_MAX_FDS];
        handle_req(hv, c, &req, &rsp, fds);
        if (c->fd >= 0) {
            int err = send_rsp(c, &rsp, fds);
            if (err) {
                hv_log("dom%u: %s: reply: %s; closing", c->domid, op_name(req.op),
                       strerror(-err));
                hv_conn_close(hv, c);
            }
        }
    }
}

struct hv *hv_create(const char *dir, struct xsd *xsd, uint32_t dom0_mem_mb, uint32_t nr_pcpus)
{
    struct hv *hv = calloc(1, sizeof(*hv));
    if (!hv)
        return NULL;
    int err;
    if (strlen(dir) >= sizeof(hv->dir)) {
        free(hv);
        errno = ENAMETOOLONG;
        return NULL;
    }
    strcpy(hv->dir, dir);
    hv->xsd = xsd;
    hv->domtab_fd = hv->portgen_fd = hv->timer_fd = -1;
    hv->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (hv->epfd < 0) {
        err = -errno;
        free(hv);
        errno = -err;
        return NULL;
    }
    hv_pools_init(hv, nr_pcpus);
    if ((err = hv_domains_init(hv)) || (err = hv_domain_create_dom0(hv, dom0_mem_mb))) {
        hv_log("start: %s", strerror(-err));
        hv_destroy(hv);
        errno = -err;
        return NULL;
    }
    return hv;
}

void hv_destroy(struct hv *hv)
{
    if (!hv)
        return;
    while (hv->conns)
        hv_conn_close(hv, hv->conns);
    free_closed_conns(hv);
    hv_domains_fini(hv);
    close(hv->epfd);
    free(hv);
}

int hv_fd(struct hv *hv)
{
    return hv->epfd;
}

void hv_dispatch(struct hv *hv)
{
    struct epoll_event evs[32];
    int n = epoll_wait(hv->epfd, evs, 32, 0);
    for (int i = 0; i < n; i++) {
        struct hv_ep *ep = evs[i].data.ptr;
        switch (ep->kind) {
        case HV_EP_LISTEN:
            accept_conns(hv, (struct hv_domain *)ep);
            break;
        case HV_EP_CONN:
            serve_conn(hv, (struct hv_conn *)ep, evs[i].events);
            break;
        case HV_EP_TIMER: {
            uint64_t ticks;
            if (read(hv->timer_fd, &ticks, sizeof(ticks)) < 0 && errno != EAGAIN)
                hv_log("reaper timer: %s", strerror(errno));
            hv_domain_reap(hv);
            break;
        }
        }
    }
    if (hv->closed) {
        free_closed_conns(hv);
        hv_domain_reap(hv);
    }
}
