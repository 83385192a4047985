/*
 * simnetfront_test.c - the simulated netfront's device level and the
 * simnetfront CLI against a fake netback written here: a forked process
 * acting as dom0 through xenstore and xsim grant mapping, following the
 * vif handshake and moving every frame a guest sends to a receive ring:
 * its own (loop) or the other guest's (cross), offloads passed through.
 *
 * Checks: the keys Linux netfront writes for what the backend offers and
 * what the frontend wants (each feature off in turn, Linux's
 * multi-queue-num-queues=1 with flat keys), a backend without rx-copy or a
 * vif without a MAC refused, the control ring, close and reconnect with
 * stale queue keys gone; the CLI: gen verified through its echoes (plain,
 * GSO over IPv4 and IPv6), corruption caught (exit 1), an echo peer, a
 * missing backend (exit 3); and, as root, two network namespaces talking
 * through their TAP adapters (ping, then iperf3 with TSO on the rings).
 */
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>
#include <xenstore.h>
#include <xen/io/xenbus.h>
#include <cmocka.h>

#include "clock.h"
#include "netframe.h"
#include "netfront.h"
#include "simworld.h"
#include "xensim.h"
#include "xensim_guest.h"

#define DEVID 0u

/* ---------------- the fake backend (child process) ---------------- */

struct fake_opts {
    bool rx_copy, sg, gso4, gso6, csum6, no_csum, split, mcast, dyn_mcast, ctrl, xdp;
    int max_queues;             /* -1: key absent */
    bool cross;                 /* guest 0 <-> guest 1; else each to itself */
    bool corrupt;               /* flip the last byte of every frame */
};

struct fk_queue {
    netif_tx_back_ring_t tx;
    netif_rx_back_ring_t rx;
    void *txs, *rxs;
    struct xsim_evtchn *evh;
    int tx_port, rx_port;
};

struct fk_dev {
    domid_t fe_dom;
    char be[128], fe[128];
    int state;
    bool connected;
    unsigned nq;
    struct fk_queue q[NF_MAX_QUEUES];
    bool sg, gso4, gso6, csum, csum6;   /* what the frontend takes */
    void *ctrl;
    xen_netif_ctrl_back_ring_t cring;
    struct xsim_evtchn *cevh;
    int cport;
};

struct fake {
    struct fake_opts o;
    struct xsim *xs;
    struct xs_handle *h;
    struct fk_dev dev[2];
    unsigned ndev;
    uint8_t frame[NF_MAX_FRAME + 1];
};

static void fk_write(struct fake *f, const char *dir, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void fk_write(struct fake *f, const char *dir, const char *key, const char *fmt, ...)
{
    char path[256], val[64];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(val, sizeof(val), fmt, ap);
    va_end(ap);
    snprintf(path, sizeof(path), "%s/%s", dir, key);
    xs_write(f->h, XBT_NULL, path, val, strlen(val));
}

static long fk_read(struct fake *f, const char *dir, const char *key, long dflt)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/%s", dir, key);
    unsigned len;
    char *v = xs_read(f->h, XBT_NULL, path, &len);
    if (!v)
        return dflt;
    long x = strtol(v, NULL, 10);
    free(v);
    return x;
}

static void fk_publish(struct fake *f, struct fk_dev *d)
{
    const struct fake_opts *o = &f->o;
    if (o->rx_copy)
        fk_write(f, d->be, "feature-rx-copy", "1");
    fk_write(f, d->be, "feature-sg", "%d", o->sg);
    fk_write(f, d->be, "feature-gso-tcpv4", "%d", o->gso4);
    fk_write(f, d->be, "feature-gso-tcpv6", "%d", o->gso6);
    fk_write(f, d->be, "feature-ipv6-csum-offload", "%d", o->csum6);
    if (o->no_csum)
        fk_write(f, d->be, "feature-no-csum-offload", "1");
    fk_write(f, d->be, "feature-split-event-channels", "%d", o->split);
    if (o->max_queues >= 0)
        fk_write(f, d->be, "multi-queue-max-queues", "%d", o->max_queues);
    fk_write(f, d->be, "feature-multicast-control", "%d", o->mcast);
    fk_write(f, d->be, "feature-dynamic-multicast-control", "%d", o->dyn_mcast);
    fk_write(f, d->be, "feature-ctrl-ring", "%d", o->ctrl);
    fk_write(f, d->be, "feature-xdp-headroom", "%d", o->xdp);
    d->state = XenbusStateInitWait;
    fk_write(f, d->be, "state", "%d", d->state);
}

static void *fk_map(struct fake *f, struct fk_dev *d, long ref, bool writable)
{
    grant_ref_t r = (grant_ref_t)ref;
    return ref < 0 ? NULL : xsim_grant_map(f->xs, d->fe_dom, 1, &r, writable, NULL);
}

static int fk_bind(struct fake *f, struct fk_dev *d, struct xsim_evtchn *h, long port)
{
    (void)f;
    return port < 0 ? -EINVAL : xsim_evtchn_bind_interdomain(h, d->fe_dom, (evtchn_port_t)port);
}

static int fk_connect(struct fake *f, struct fk_dev *d)
{
    d->nq = (unsigned)fk_read(f, d->fe, "multi-queue-num-queues", 1);
    if (d->nq < 1 || d->nq > NF_MAX_QUEUES || fk_read(f, d->fe, "request-rx-copy", 0) != 1)
        return -EPROTO;
    for (unsigned i = 0; i < d->nq; i++) {
        struct fk_queue *q = &d->q[i];
        char dir[160];
        snprintf(dir, sizeof(dir), d->nq > 1 ? "%s/queue-%u" : "%s", d->fe, i);
        q->txs = fk_map(f, d, fk_read(f, dir, "tx-ring-ref", -1), true);
        q->rxs = fk_map(f, d, fk_read(f, dir, "rx-ring-ref", -1), true);
        q->evh = xsim_evtchn_open(f->xs);
        if (!q->txs || !q->rxs || !q->evh)
            return -EPROTO;
        BACK_RING_INIT(&q->tx, (netif_tx_sring_t *)q->txs, NF_PAGE_SIZE);
        BACK_RING_INIT(&q->rx, (netif_rx_sring_t *)q->rxs, NF_PAGE_SIZE);
        long one = fk_read(f, dir, "event-channel", -1);
        q->tx_port = fk_bind(f, d, q->evh, one >= 0 ? one : fk_read(f, dir, "event-channel-tx", -1));
        q->rx_port = one >= 0 ? q->tx_port
                              : fk_bind(f, d, q->evh, fk_read(f, dir, "event-channel-rx", -1));
        if (q->tx_port < 0 || q->rx_port < 0)
            return -EPROTO;
    }
    d->sg = fk_read(f, d->fe, "feature-sg", 0) == 1;
    d->gso4 = fk_read(f, d->fe, "feature-gso-tcpv4", 0) == 1;
    d->gso6 = fk_read(f, d->fe, "feature-gso-tcpv6", 0) == 1;
    d->csum = fk_read(f, d->fe, "feature-no-csum-offload", 0) != 1;
    d->csum6 = fk_read(f, d->fe, "feature-ipv6-csum-offload", 0) == 1;
    long cref = fk_read(f, d->fe, "ctrl-ring-ref", -1);
    if (cref >= 0) {
        d->ctrl = fk_map(f, d, cref, true);
        d->cevh = xsim_evtchn_open(f->xs);
        if (!d->ctrl || !d->cevh)
            return -EPROTO;
        BACK_RING_INIT(&d->cring, (xen_netif_ctrl_sring_t *)d->ctrl, NF_PAGE_SIZE);
        d->cport = fk_bind(f, d, d->cevh, fk_read(f, d->fe, "event-channel-ctrl", -1));
        if (d->cport < 0)
            return -EPROTO;
    }
    d->connected = true;
    d->state = XenbusStateConnected;
    fk_write(f, d->be, "state", "%d", d->state);
    return 0;
}

static void fk_disconnect(struct fake *f, struct fk_dev *d)
{
    for (unsigned i = 0; i < d->nq; i++) {
        struct fk_queue *q = &d->q[i];
        if (q->evh)
            xsim_evtchn_close(q->evh);
        if (q->txs)
            xsim_grant_unmap(f->xs, q->txs, 1);
        if (q->rxs)
            xsim_grant_unmap(f->xs, q->rxs, 1);
        memset(q, 0, sizeof(*q));
    }
    if (d->cevh)
        xsim_evtchn_close(d->cevh);
    if (d->ctrl)
        xsim_grant_unmap(f->xs, d->ctrl, 1);
    d->ctrl = NULL;
    d->cevh = NULL;
    d->nq = 0;
    d->connected = false;
}

static void fk_copy_slot(struct fake *f, struct fk_dev *d, const netif_tx_request_t *r,
                         size_t at, size_t n)
{
    uint8_t *p = fk_map(f, d, r->gref, false);
    if (!p)
        _exit(3);
    memcpy(f->frame + at, p + r->offset, n);
    xsim_grant_unmap(f->xs, p, 1);
}

/* The frame into target t's rx ring (queue qi), offloads as t takes them.
 * false if t has not posted enough buffers yet. */
static bool fk_deliver(struct fake *f, struct fk_dev *t, unsigned qi, size_t len,
                       uint16_t txflags, const netif_extra_info_t *gso)
{
    struct fk_queue *q = &t->q[qi % t->nq];
    struct nfr_l4 p;
    bool parsed = nfr_parse(f->frame, len, &p) == 0;
    bool v6 = parsed && p.ipv6;
    bool pass_gso = gso && (gso->u.gso.type == XEN_NETIF_GSO_TYPE_TCPV6 ? t->gso6 : t->gso4);
    if (gso && !pass_gso)
        return true; /* no segmentation here: dropped */
    unsigned slots = (unsigned)((len + NF_PAGE_SIZE - 1) / NF_PAGE_SIZE);
    if (slots > 1 && !t->sg)
        return true;
    RING_IDX avail = q->rx.sring->req_prod - q->rx.req_cons;
    xen_rmb();
    if (avail < slots + pass_gso) {
        int more;
        RING_FINAL_CHECK_FOR_REQUESTS(&q->rx, more); /* kick me when posted */
        return false;
    }
    uint16_t flags = 0;
    if (txflags & NETTXF_csum_blank) {
        if (parsed && (v6 ? t->csum6 : t->csum)) {
            flags = NETRXF_csum_blank | NETRXF_data_validated;
        } else if (parsed) {
            nfr_csum_complete_at(f->frame, p.end, p.l4, nfr_csum_field(&p) - p.l4);
            flags = NETRXF_data_validated;
        }
    } else if (txflags & NETTXF_data_validated) {
        flags = NETRXF_data_validated;
    }
    if (f->o.corrupt)
        f->frame[len - 1] ^= 0x5a;
    size_t at = 0;
    for (unsigned k = 0; k < slots; k++) {
        RING_IDX i = q->rx.req_cons;
        netif_rx_request_t req;
        memcpy(&req, RING_GET_REQUEST(&q->rx, i), sizeof(req));
        size_t n = len - at < NF_PAGE_SIZE ? len - at : NF_PAGE_SIZE;
        uint8_t *pg = fk_map(f, t, req.gref, true);
        if (!pg)
            _exit(4);
        memcpy(pg, f->frame + at, n);
        xsim_grant_unmap(f->xs, pg, 1);
        netif_rx_response_t *rsp = RING_GET_RESPONSE(&q->rx, i);
        rsp->id = req.id;
        rsp->offset = 0;
        rsp->status = (int16_t)n;
        rsp->flags = (uint16_t)((k == 0 ? flags | (pass_gso ? NETRXF_extra_info : 0) : 0) |
                                (k + 1 < slots ? NETRXF_more_data : 0));
        q->rx.req_cons++;
        q->rx.rsp_prod_pvt++;
        at += n;
        if (k == 0 && pass_gso) {
            memcpy(RING_GET_RESPONSE(&q->rx, q->rx.req_cons), gso, sizeof(*gso));
            q->rx.req_cons++;
            q->rx.rsp_prod_pvt++;
        }
    }
    int notify;
    RING_PUSH_RESPONSES_AND_CHECK_NOTIFY(&q->rx, notify);
    if (notify)
        xsim_evtchn_notify(q->evh, (evtchn_port_t)q->rx_port);
    return true;
}

static void fk_tx_respond(struct fk_queue *q, uint16_t id, int16_t status)
{
    netif_tx_response_t *rsp = RING_GET_RESPONSE(&q->tx, q->tx.rsp_prod_pvt);
    rsp->id = id;
    rsp->status = status;
    q->tx.rsp_prod_pvt++;
}

/* One frame from the tx ring at req_cons (the frontend pushes whole
 * frames).  false if it must wait for the target's rx buffers. */
static bool fk_tx_one(struct fake *f, struct fk_dev *d, unsigned qi)
{
    struct fk_queue *q = &d->q[qi];
    RING_IDX i = q->tx.req_cons;
    netif_tx_request_t reqs[NF_MAX_SLOTS + 8];
    bool is_extra[NF_MAX_SLOTS + 8] = { false };
    unsigned n = 0;
    netif_extra_info_t gso = { 0 };
    bool have_gso = false;
    memcpy(&reqs[n++], RING_GET_REQUEST(&q->tx, i++), sizeof(reqs[0]));
    if (reqs[0].flags & NETTXF_extra_info) {
        netif_extra_info_t x;
        do {
            memcpy(&x, RING_GET_REQUEST(&q->tx, i++), sizeof(x));
            is_extra[n] = true;
            memcpy(&reqs[n++], &x, sizeof(x));
            if (x.type == XEN_NETIF_EXTRA_TYPE_GSO) {
                gso = x;
                gso.flags = 0;
                have_gso = true;
            }
        } while ((x.flags & XEN_NETIF_EXTRA_FLAG_MORE) && n < NF_MAX_SLOTS);
    }
    unsigned last = 0;
    while ((reqs[last].flags & NETTXF_more_data) && n < NF_MAX_SLOTS + 7) {
        last = n;
        memcpy(&reqs[n++], RING_GET_REQUEST(&q->tx, i++), sizeof(reqs[0]));
    }
    size_t len = reqs[0].size;
    if (len > 0) { /* not a multicast dummy */
        size_t rest = 0;
        for (unsigned k = 1; k < n; k++)
            rest += is_extra[k] ? 0 : reqs[k].size;
        if (rest > len)
            _exit(5);
        fk_copy_slot(f, d, &reqs[0], 0, len - rest);
        size_t at = len - rest;
        for (unsigned k = 1; k < n; k++) {
            if (is_extra[k])
                continue;
            fk_copy_slot(f, d, &reqs[k], at, reqs[k].size);
            at += reqs[k].size;
        }
        struct fk_dev *t = f->o.cross ? &f->dev[d == &f->dev[0] ? 1 : 0] : d;
        if (t->connected &&
            !fk_deliver(f, t, qi, len, reqs[0].flags, have_gso ? &gso : NULL))
            return false;
    }
    for (unsigned k = 0; k < n; k++)
        fk_tx_respond(q, reqs[k].id, is_extra[k] ? NETIF_RSP_NULL : NETIF_RSP_OKAY);
    q->tx.req_cons = i;
    return true;
}

static void fk_serve_ctrl(struct fake *f, struct fk_dev *d)
{
    (void)f;
    int more;
    do {
        while (RING_HAS_UNCONSUMED_REQUESTS(&d->cring)) {
            struct xen_netif_ctrl_request req;
            memcpy(&req, RING_GET_REQUEST(&d->cring, d->cring.req_cons), sizeof(req));
            d->cring.req_cons++;
            struct xen_netif_ctrl_response *rsp =
                RING_GET_RESPONSE(&d->cring, d->cring.rsp_prod_pvt++);
            rsp->id = req.id;
            rsp->type = req.type;
            bool known = req.type == XEN_NETIF_CTRL_TYPE_GET_HASH_MAPPING_SIZE;
            rsp->status = known ? XEN_NETIF_CTRL_STATUS_SUCCESS
                                : XEN_NETIF_CTRL_STATUS_NOT_SUPPORTED;
            rsp->data = known ? 128 : 0;
        }
        int notify;
        RING_PUSH_RESPONSES_AND_CHECK_NOTIFY(&d->cring, notify);
        if (notify)
            xsim_evtchn_notify(d->cevh, (evtchn_port_t)d->cport);
        RING_FINAL_CHECK_FOR_REQUESTS(&d->cring, more);
    } while (more);
}

static void fk_serve(struct fake *f, struct fk_dev *d)
{
    for (unsigned i = 0; i < d->nq; i++) {
        struct fk_queue *q = &d->q[i];
        int p;
        while ((p = xsim_evtchn_pending(q->evh)) >= 0)
            xsim_evtchn_unmask(q->evh, (evtchn_port_t)p);
        int more;
        bool blocked = false;
        do {
            while (!blocked && RING_HAS_UNCONSUMED_REQUESTS(&q->tx))
                blocked = !fk_tx_one(f, d, i);
            int notify;
            RING_PUSH_RESPONSES_AND_CHECK_NOTIFY(&q->tx, notify);
            if (notify)
                xsim_evtchn_notify(q->evh, (evtchn_port_t)q->tx_port);
            more = 0;
            if (!blocked)
                RING_FINAL_CHECK_FOR_REQUESTS(&q->tx, more);
        } while (more);
    }
    if (d->ctrl) {
        int p;
        while ((p = xsim_evtchn_pending(d->cevh)) >= 0)
            xsim_evtchn_unmask(d->cevh, (evtchn_port_t)p);
        fk_serve_ctrl(f, d);
    }
}

static void fk_step(struct fake *f, struct fk_dev *d)
{
    int fe = (int)fk_read(f, d->fe, "state", 0);
    if (!d->connected && d->state == XenbusStateInitWait && fe == XenbusStateConnected) {
        if (fk_connect(f, d) < 0)
            _exit(2);
    } else if (fe == XenbusStateClosing && d->state != XenbusStateClosing &&
               d->state != XenbusStateClosed) {
        fk_disconnect(f, d);
        d->state = XenbusStateClosing;
        fk_write(f, d->be, "state", "%d", d->state);
    } else if (fe == XenbusStateClosed && d->state != XenbusStateClosed) {
        fk_disconnect(f, d);
        d->state = XenbusStateClosed;
        fk_write(f, d->be, "state", "%d", d->state);
    } else if (fe == XenbusStateInitialising && d->state == XenbusStateClosed) {
        fk_publish(f, d); /* reconnect */
    }
}

/* Runs until killed; follows each frontend's state as Linux netback does. */
static void __attribute__((noreturn)) fake_backend_main(const char *dir, const domid_t *fe,
                                                        unsigned n, const struct fake_opts *o)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    static struct fake f;
    f.o = *o;
    f.ndev = n;
    char xsp[300];
    snprintf(xsp, sizeof(xsp), "%s/xs-0.sock", dir);
    setenv("XENSTORED_PATH", xsp, 1);
    f.xs = xsim_open(dir, 0);
    f.h = xs_open(XS_OPEN_SOCKETONLY);
    if (!f.xs || !f.h)
        _exit(1);
    for (unsigned i = 0; i < n; i++) {
        struct fk_dev *d = &f.dev[i];
        d->fe_dom = fe[i];
        snprintf(d->be, sizeof(d->be), "/local/domain/0/backend/vif/%u/%u", fe[i], DEVID);
        snprintf(d->fe, sizeof(d->fe), "/local/domain/%u/device/vif/%u", fe[i], DEVID);
        char path[200];
        snprintf(path, sizeof(path), "%s/state", d->fe);
        xs_watch(f.h, path, "fe");
        fk_publish(&f, d);
    }
    for (;;) {
        struct pollfd pfd[2 * (NF_MAX_QUEUES + 1) + 1];
        unsigned np = 0;
        pfd[np++] = (struct pollfd){ .fd = xs_fileno(f.h), .events = POLLIN };
        for (unsigned i = 0; i < n; i++) {
            for (unsigned k = 0; f.dev[i].connected && k < f.dev[i].nq; k++)
                pfd[np++] = (struct pollfd){ .fd = xsim_evtchn_fd(f.dev[i].q[k].evh),
                                             .events = POLLIN };
            if (f.dev[i].cevh)
                pfd[np++] = (struct pollfd){ .fd = xsim_evtchn_fd(f.dev[i].cevh),
                                             .events = POLLIN };
        }
        poll(pfd, np, 5);
        char **vec;
        while ((vec = xs_check_watch(f.h)) != NULL)
            free(vec);
        for (unsigned i = 0; i < n; i++) {
            fk_step(&f, &f.dev[i]);
            if (f.dev[i].connected)
                fk_serve(&f, &f.dev[i]);
        }
    }
}

/* ---------------- the test side ---------------- */

struct world {
    struct simworld w;
    struct xsim *x0;
    domid_t guest[2];
    pid_t backend;
    struct xsim_guest *g;
    struct xs_handle *h0;
    char ns[2][32];             /* network namespaces made (tap test) */
};

static int run_cmd(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int run_cmd(const char *fmt, ...)
{
    char cmd[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* A shell command in the background; its pid. */
static pid_t spawn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static pid_t spawn(const char *fmt, ...)
{
    char cmd[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    pid_t pid = fork();
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    return pid;
}

static int wait_exit(pid_t pid)
{
    int st;
    if (waitpid(pid, &st, 0) != pid)
        return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void mac_of(domid_t dom, char *buf, size_t n)
{
    snprintf(buf, n, "00:16:3e:00:00:%02x", dom);
}

/* The toolstack's part: a vif for `dom` served by dom0. */
static int add_vif(struct world *t, domid_t dom, const char *mtu)
{
    char mac[24];
    mac_of(dom, mac, sizeof(mac));
    const char *fe_keys[] = { "mac", mac, mtu ? "mtu" : NULL, mtu, NULL };
    const char *be_keys[] = { "mac", mac, "bridge", "xenbr0", NULL };
    struct xsim_device d = {
        .backend_type = "vif", .frontend_type = "vif", .backend_id = 0, .frontend_id = dom,
        .devid = DEVID, .backend_keys = be_keys, .frontend_keys = fe_keys,
    };
    return xsim_device_add(t->h0, &d);
}

static int setup(void **state)
{
    struct world *t = calloc(1, sizeof(*t));
    if (!t || simworld_start_as_dom0(&t->w, &t->x0))
        return -1;
    setenv("XENSTORED_PATH", simworld_xs_path(&t->w, 0), 1);
    t->h0 = xs_open(XS_OPEN_SOCKETONLY);
    if (!t->h0)
        return -1;
    for (int i = 0; i < 2; i++) {
        char name[8];
        snprintf(name, sizeof(name), "g%d", i);
        int id = xsim_domain_create(t->x0, name, 32);
        if (id <= 0 || add_vif(t, (domid_t)id, NULL))
            return -1;
        t->guest[i] = (domid_t)id;
    }
    *state = t;
    return 0;
}

static int teardown(void **state)
{
    struct world *t = *state;
    if (t->g)
        xsim_guest_close(t->g);
    if (t->backend > 0) {
        kill(t->backend, SIGKILL);
        waitpid(t->backend, NULL, 0);
    }
    for (int i = 0; i < 2; i++)
        if (t->ns[i][0])
            run_cmd("ip netns del %s 2>/dev/null", t->ns[i]);
    xs_close(t->h0);
    xsim_close(t->x0);
    simworld_stop(&t->w);
    free(t);
    return 0;
}

static struct fake_opts full_backend(void)
{
    return (struct fake_opts){ .rx_copy = true, .sg = true, .gso4 = true, .gso6 = true,
                               .csum6 = true, .split = true, .mcast = true, .dyn_mcast = true,
                               .ctrl = true, .xdp = true, .max_queues = 4 };
}

static void start_backend(struct world *t, const struct fake_opts *o)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        fake_backend_main(t->w.dir, t->guest, 2, o);
    t->backend = pid;
}

static struct xsim_guest *guest0(struct world *t)
{
    if (!t->g)
        t->g = xsim_guest_open(t->w.dir, t->guest[0]);
    assert_non_null(t->g);
    return t->g;
}

/* Value of a key of guest 0's vif, or "" if absent (static buffer). */
static const char *fe_key(struct world *t, const char *key)
{
    static char buf[128];
    char path[256];
    snprintf(path, sizeof(path), "/local/domain/%u/device/vif/%u/%s", t->guest[0], DEVID, key);
    unsigned len;
    char *v = xs_read(t->h0, XBT_NULL, path, &len);
    snprintf(buf, sizeof(buf), "%s", v ? v : "");
    free(v);
    return buf;
}

static struct nf_dev *open_dev(struct world *t, const struct nf_features *want)
{
    struct nf_dev *d = NULL;
    char err[256];
    int ret = nf_dev_open(guest0(t), DEVID, want, &d, err, sizeof(err));
    if (ret)
        print_error("nf_dev_open: %s\n", err);
    assert_int_equal(ret, 0);
    return d;
}

/* A frame through the loop backend on queue q: it comes back whole. */
static void roundtrip(struct nf_dev *d, unsigned q, size_t len)
{
    struct nf_queue *nq = nf_dev_queue(d, q);
    assert_non_null(nq);
    static uint8_t f[NF_MAX_FRAME], got[NF_MAX_FRAME];
    for (size_t i = 0; i < len; i++)
        f[i] = (uint8_t)(i * 13 + q);
    assert_int_equal(nf_send(nq, f, len, NULL), 0);
    assert_true(nf_push(nq) >= 0);
    int n = 0;
    for (int i = 0; i < 500 && n == 0; i++) {
        n = nf_recv(nq, got, sizeof(got), NULL);
        if (!n)
            nf_wait(nq, 10);
    }
    assert_int_equal(n, (int)len);
    assert_memory_equal(got, f, len);
    for (int i = 0; i < 100 && nf_queue_tx_inflight(nq); i++) {
        assert_true(nf_tx_reap(nq) >= 0);
        if (nf_queue_tx_inflight(nq))
            nf_wait(nq, 10);
    }
    assert_int_equal(nf_queue_tx_inflight(nq), 0);
}

static void test_everything_negotiated(void **state)
{
    struct world *t = *state;
    struct fake_opts o = full_backend();
    start_backend(t, &o);
    struct nf_features want;
    nf_features_default(&want);
    want.max_queues = 2;
    want.multicast = want.ctrl_ring = true;
    want.backend_domid = 0;
    struct nf_dev *d = open_dev(t, &want);
    const struct nf_dev_info *in = nf_dev_get_info(d);
    assert_int_equal(in->nr_queues, 2);
    assert_true(in->split_evtchn && in->sg && in->gso_tcpv4 && in->gso_tcpv6);
    assert_true(in->csum_offload && in->ipv6_csum_offload);
    assert_true(in->multicast && in->dynamic_multicast && in->ctrl_ring);
    assert_int_equal(in->xdp_headroom, 0);
    assert_int_equal(in->mtu, 1500);
    const uint8_t mac[6] = { 0x00, 0x16, 0x3e, 0x00, 0x00, (uint8_t)t->guest[0] };
    assert_memory_equal(in->mac, mac, 6);
    /* netif.h's keys for two queues with split channels. */
    assert_string_equal(fe_key(t, "multi-queue-num-queues"), "2");
    assert_string_equal(fe_key(t, "tx-ring-ref"), "");
    assert_string_equal(fe_key(t, "event-channel"), "");
    assert_string_not_equal(fe_key(t, "queue-1/tx-ring-ref"), "");
    assert_string_not_equal(fe_key(t, "queue-1/rx-ring-ref"), "");
    assert_string_not_equal(fe_key(t, "queue-0/event-channel-tx"), "");
    assert_string_not_equal(fe_key(t, "queue-0/event-channel-rx"), "");
    assert_string_equal(fe_key(t, "queue-0/event-channel"), "");
    assert_string_equal(fe_key(t, "request-rx-copy"), "1");
    assert_string_equal(fe_key(t, "feature-rx-notify"), "1");
    assert_string_equal(fe_key(t, "feature-sg"), "1");
    assert_string_equal(fe_key(t, "feature-gso-tcpv4"), "1");
    assert_string_equal(fe_key(t, "feature-gso-tcpv6"), "1");
    assert_string_equal(fe_key(t, "feature-ipv6-csum-offload"), "1");
    assert_string_equal(fe_key(t, "feature-no-csum-offload"), "");
    assert_string_equal(fe_key(t, "request-multicast-control"), "1");
    assert_string_equal(fe_key(t, "xdp-headroom"), "0");
    assert_string_not_equal(fe_key(t, "ctrl-ring-ref"), "");
    assert_string_not_equal(fe_key(t, "event-channel-ctrl"), "");
    assert_string_equal(fe_key(t, "state"), "4");
    /* The control ring answers. */
    uint32_t data = 0;
    assert_int_equal(nf_dev_ctrl(d, XEN_NETIF_CTRL_TYPE_GET_HASH_MAPPING_SIZE, 0, 0, 0, &data),
                     XEN_NETIF_CTRL_STATUS_SUCCESS);
    assert_int_equal(data, 128);
    assert_int_equal(nf_dev_ctrl(d, XEN_NETIF_CTRL_TYPE_SET_HASH_KEY, 0, 0, 0, NULL),
                     XEN_NETIF_CTRL_STATUS_NOT_SUPPORTED);
    /* Frames on both queues, one slot and a multi-slot one. */
    roundtrip(d, 0, 60);
    roundtrip(d, 1, 9000);
    assert_int_equal(nf_dev_check(d), 0);
    nf_dev_free(d);
    assert_string_equal(fe_key(t, "state"), "6");
}

static void test_frontend_features_off(void **state)
{
    struct world *t = *state;
    struct fake_opts o = full_backend();
    start_backend(t, &o);
    struct nf_features want;
    nf_features_default(&want);
    want.max_queues = 1;
    want.sg = want.gso_tcpv4 = want.gso_tcpv6 = false;
    want.csum_offload = want.ipv6_csum_offload = false;
    want.split_evtchn = want.rx_notify = false;
    want.xdp_headroom = -1;
    struct nf_dev *d = open_dev(t, &want);
    const struct nf_dev_info *in = nf_dev_get_info(d);
    assert_int_equal(in->nr_queues, 1);
    assert_false(in->split_evtchn || in->sg || in->gso_tcpv4 || in->gso_tcpv6);
    assert_false(in->csum_offload || in->ipv6_csum_offload || in->multicast || in->ctrl_ring);
    assert_int_equal(in->xdp_headroom, -1);
    /* One queue: flat keys; the count still written, as Linux does when
     * the backend offers multi-queue. */
    assert_string_equal(fe_key(t, "multi-queue-num-queues"), "1");
    assert_string_not_equal(fe_key(t, "tx-ring-ref"), "");
    assert_string_not_equal(fe_key(t, "event-channel"), "");
    assert_string_equal(fe_key(t, "event-channel-tx"), "");
    assert_string_equal(fe_key(t, "queue-0/tx-ring-ref"), "");
    assert_string_equal(fe_key(t, "feature-sg"), "0");
    assert_string_equal(fe_key(t, "feature-gso-tcpv4"), "0");
    assert_string_equal(fe_key(t, "feature-gso-tcpv6"), "0");
    assert_string_equal(fe_key(t, "feature-ipv6-csum-offload"), "0");
    assert_string_equal(fe_key(t, "feature-no-csum-offload"), "1");
    assert_string_equal(fe_key(t, "feature-rx-notify"), "");
    assert_string_equal(fe_key(t, "request-multicast-control"), "");
    assert_string_equal(fe_key(t, "xdp-headroom"), "");
    assert_string_equal(fe_key(t, "ctrl-ring-ref"), "");
    assert_int_equal(nf_dev_ctrl(d, XEN_NETIF_CTRL_TYPE_GET_HASH_FLAGS, 0, 0, 0, NULL),
                     -EOPNOTSUPP);
    /* Without sg a frame is one slot. */
    uint8_t f[5000] = { 0 };
    assert_int_equal(nf_send(nf_dev_queue(d, 0), f, sizeof(f), NULL), -EMSGSIZE);
    roundtrip(d, 0, 1514);
    nf_dev_free(d);
}

static void test_backend_offers_little(void **state)
{
    struct world *t = *state;
    struct fake_opts o = { .rx_copy = true, .max_queues = -1, .no_csum = true };
    start_backend(t, &o);
    struct nf_dev *d = open_dev(t, NULL);
    const struct nf_dev_info *in = nf_dev_get_info(d);
    assert_int_equal(in->nr_queues, 1);
    assert_false(in->split_evtchn || in->sg || in->gso_tcpv4 || in->csum_offload);
    assert_int_equal(in->xdp_headroom, -1);
    assert_string_equal(fe_key(t, "multi-queue-num-queues"), "");
    assert_string_not_equal(fe_key(t, "event-channel"), "");
    /* What the frontend can take is still said. */
    assert_string_equal(fe_key(t, "feature-sg"), "1");
    struct nf_tx_meta gso = { .gso_type = XEN_NETIF_GSO_TYPE_TCPV4, .gso_size = 1448 };
    uint8_t f[100] = { 0 };
    assert_int_equal(nf_send(nf_dev_queue(d, 0), f, sizeof(f), &gso), -EOPNOTSUPP);
    roundtrip(d, 0, 100);
    nf_dev_free(d);
}

static void test_refusals(void **state)
{
    struct world *t = *state;
    struct fake_opts o = full_backend();
    o.rx_copy = false;
    start_backend(t, &o);
    struct nf_dev *d = NULL;
    char err[256];
    struct nf_features want;
    nf_features_default(&want);
    want.timeout_ms = 2000;
    assert_int_equal(nf_dev_open(guest0(t), DEVID, &want, &d, err, sizeof(err)), -EPROTO);
    assert_non_null(strstr(err, "copying receive path"));
    /* A vif the toolstack gave no MAC. */
    char path[128];
    snprintf(path, sizeof(path), "/local/domain/%u/device/vif/%u/mac", t->guest[0], DEVID);
    assert_true(xs_rm(t->h0, XBT_NULL, path));
    kill(t->backend, SIGKILL);
    waitpid(t->backend, NULL, 0);
    /* The next backend's InitWait, not this one's, starts the handshake. */
    snprintf(path, sizeof(path), "/local/domain/0/backend/vif/%u/%u/state", t->guest[0], DEVID);
    assert_true(xs_write(t->h0, XBT_NULL, path, "1", 1));
    o.rx_copy = true;
    start_backend(t, &o);
    assert_int_equal(nf_dev_open(guest0(t), DEVID, &want, &d, err, sizeof(err)), -EPROTO);
    assert_non_null(strstr(err, "mac"));
    /* No vif at all. */
    assert_int_equal(nf_dev_open(guest0(t), 7, &want, &d, err, sizeof(err)), -ENOENT);
}

static void test_close_and_reconnect(void **state)
{
    struct world *t = *state;
    struct fake_opts o = full_backend();
    start_backend(t, &o);
    struct nf_features want;
    nf_features_default(&want);
    want.max_queues = 3;
    struct nf_dev *d = open_dev(t, &want);
    assert_int_equal(nf_dev_nr_queues(d), 3);
    roundtrip(d, 2, 200);
    assert_int_equal(nf_dev_close(d), 0);
    assert_string_equal(fe_key(t, "state"), "6");
    nf_dev_free(d);
    /* Fewer queues now: the old queue-N keys must not linger. */
    want.max_queues = 1;
    want.split_evtchn = false;
    d = open_dev(t, &want);
    assert_string_equal(fe_key(t, "queue-2/tx-ring-ref"), "");
    assert_string_equal(fe_key(t, "queue-0/event-channel-tx"), "");
    assert_string_equal(fe_key(t, "multi-queue-num-queues"), "1");
    roundtrip(d, 0, 3000);
    char err[256];
    assert_int_equal(nf_dev_reconnect(d, err, sizeof(err)), 0);
    assert_int_equal(nf_dev_get_info(d)->connects, 2);
    roundtrip(d, 0, 3000);
    nf_dev_free(d);
}

static void test_backend_closing_seen(void **state)
{
    struct world *t = *state;
    struct fake_opts o = full_backend();
    start_backend(t, &o);
    struct nf_dev *d = open_dev(t, NULL);
    char path[128];
    snprintf(path, sizeof(path), "/local/domain/0/backend/vif/%u/%u/state", t->guest[0], DEVID);
    kill(t->backend, SIGKILL); /* nobody rewrites the state behind us */
    waitpid(t->backend, NULL, 0);
    t->backend = 0;
    assert_true(xs_write(t->h0, XBT_NULL, path, "5", 1));
    int ev = 0;
    for (int i = 0; i < 100 && !ev; i++) {
        struct pollfd p = { .fd = nf_dev_watch_fd(d), .events = POLLIN };
        poll(&p, 1, 20);
        ev = nf_dev_check(d);
    }
    assert_int_equal(ev, NF_DEV_EV_CLOSING);
    assert_true(xs_write(t->h0, XBT_NULL, path, "6", 1));
    assert_int_equal(nf_dev_close(d), 0);
    nf_dev_free(d);
}

/* ---- the CLI ---- */

/* Both ends of guest g's vif Connected (a peer must be, before frames to
 * it are sent: the fake drops what it cannot deliver). */
static void wait_connected(struct world *t, unsigned g)
{
    char fe[128], be[128];
    snprintf(fe, sizeof(fe), "/local/domain/%u/device/vif/%u/state", t->guest[g], DEVID);
    snprintf(be, sizeof(be), "/local/domain/0/backend/vif/%u/%u/state", t->guest[g], DEVID);
    for (int i = 0; i < 500; i++) {
        unsigned l1, l2;
        char *a = xs_read(t->h0, XBT_NULL, fe, &l1), *b = xs_read(t->h0, XBT_NULL, be, &l2);
        bool up = a && b && !strcmp(a, "4") && !strcmp(b, "4");
        free(a);
        free(b);
        if (up)
            return;
        usleep(20000);
    }
    fail_msg("guest %u's vif never connected", g);
}

static int cli(struct world *t, unsigned g, const char *args)
{
    return run_cmd("%s --dir %s --domid %u %s >%s/cli%u.out 2>&1", simworld_bin("simnetfront"),
                   t->w.dir, t->guest[g], args, t->w.dir, g);
}

static const char *cli_output(struct world *t, unsigned g)
{
    static char buf[8192];
    char path[300];
    snprintf(path, sizeof(path), "%s/cli%u.out", t->w.dir, g);
    buf[0] = 0;
    FILE *f = fopen(path, "r");
    if (!f)
        return buf;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = 0;
    return buf;
}

/* A number in guest g's JSON output, -1 if absent. */
static long cli_num(struct world *t, unsigned g, const char *key)
{
    char needle[64];
    snprintf(needle, sizeof(needle), "\"%s\":", key);
    const char *out = cli_output(t, g);
    const char *p = strstr(out, needle);
    if (!p)
        print_message("# cli output: %s\n", out);
    return p ? strtol(p + strlen(needle), NULL, 10) : -1;
}

static void gen_to_self(struct world *t, const char *extra, long count)
{
    char mac[24], args[512];
    mac_of(t->guest[0], mac, sizeof(mac));
    snprintf(args, sizeof(args), "--mode gen --dst-mac %s --count %ld --flows 4 --expect-echo "
             "--json %s", mac, count, extra);
    int rc = cli(t, 0, args);
    if (rc)
        print_message("# cli output: %s\n", cli_output(t, 0));
    assert_int_equal(rc, 0);
    assert_int_equal(cli_num(t, 0, "sent"), count);
    assert_int_equal(cli_num(t, 0, "echoes"), count);
    assert_int_equal(cli_num(t, 0, "bad"), 0);
    assert_int_equal(cli_num(t, 0, "lost"), 0);
    assert_int_equal(cli_num(t, 0, "out_of_order"), 0);
}

static void test_cli_gen_verified_through_loop(void **state)
{
    struct world *t = *state;
    struct fake_opts o = full_backend();
    start_backend(t, &o);
    gen_to_self(t, "--size 64 --queues 2", 500);
    gen_to_self(t, "--size 1514 --rate 20000", 300);
    gen_to_self(t, "--size 1000 --no-csum-offload --no-split-evtchn", 200);
    /* Above the MTU: TCP with a GSO extra, passed back as it came. */
    gen_to_self(t, "--size 30000", 100);
    assert_true(cli_num(t, 0, "rx_gso") >= 100);
    gen_to_self(t, "--size 65535 --ipv6", 50);
    assert_true(cli_num(t, 0, "rx_gso") >= 50);
    assert_true(cli_num(t, 0, "rx_csum_blank") >= 50);
    /* Without GSO such a frame cannot go. */
    assert_int_equal(cli(t, 0, "--mode gen --size 30000 --no-gso --count 1"), 2);
}

static void test_cli_gen_catches_corruption(void **state)
{
    struct world *t = *state;
    struct fake_opts o = full_backend();
    o.corrupt = true;
    start_backend(t, &o);
    char mac[24], args[256];
    mac_of(t->guest[0], mac, sizeof(mac));
    snprintf(args, sizeof(args), "--mode gen --dst-mac %s --count 50 --size 200 --json "
             "--linger-ms 200", mac);
    assert_int_equal(cli(t, 0, args), 1);
    assert_int_equal(cli_num(t, 0, "bad"), 50);
    assert_int_equal(cli_num(t, 0, "echoes"), 0);
}

static void test_cli_echo_peer(void **state)
{
    struct world *t = *state;
    struct fake_opts o = full_backend();
    o.cross = true;
    start_backend(t, &o);
    pid_t echo = spawn("exec %s --dir %s --domid %u --mode echo --json >%s/cli1.out 2>&1",
                       simworld_bin("simnetfront"), t->w.dir, t->guest[1], t->w.dir);
    assert_true(echo > 0);
    wait_connected(t, 1);
    char mac[24], args[256];
    mac_of(t->guest[1], mac, sizeof(mac));
    snprintf(args, sizeof(args), "--mode gen --dst-mac %s --count 400 --size 3000 --flows 3 "
             "--expect-echo --json --timeout-ms 20000", mac);
    int rc = cli(t, 0, args);
    kill(echo, SIGTERM);
    assert_int_equal(wait_exit(echo), 0);
    if (rc)
        print_message("# gen: %s\n# echo: %s\n", cli_output(t, 0), cli_output(t, 1));
    assert_int_equal(rc, 0);
    assert_int_equal(cli_num(t, 0, "echoes"), 400);
    assert_true(cli_num(t, 0, "p50") > 0);
    assert_int_equal(cli_num(t, 1, "echoed"), 400);
    assert_int_equal(cli_num(t, 1, "echo_dropped"), 0);
}

static void test_cli_peer_to_sink(void **state)
{
    struct world *t = *state;
    struct fake_opts o = full_backend();
    o.cross = true;
    start_backend(t, &o);
    pid_t sink = spawn("exec %s --dir %s --domid %u --mode sink --count 600 --expect 600 "
                       "--seconds 60 --json >%s/cli1.out 2>&1",
                       simworld_bin("simnetfront"), t->w.dir, t->guest[1], t->w.dir);
    wait_connected(t, 1);
    char mac[24], args[256];
    mac_of(t->guest[1], mac, sizeof(mac));
    snprintf(args, sizeof(args), "--mode gen --dst-mac %s --count 600 --size 800 --flows 6 "
             "--json --linger-ms 100 --timeout-ms 20000", mac);
    assert_int_equal(cli(t, 0, args), 0);
    int rc = wait_exit(sink);
    if (rc)
        print_message("# sink: %s\n", cli_output(t, 1));
    assert_int_equal(rc, 0);
    assert_int_equal(cli_num(t, 1, "peer_messages"), 600);
    assert_int_equal(cli_num(t, 1, "lost"), 0);
}

static void test_cli_barrier_and_seconds(void **state)
{
    struct world *t = *state;
    struct fake_opts o = full_backend();
    start_backend(t, &o);
    char mac[24], barrier[300];
    mac_of(t->guest[0], mac, sizeof(mac));
    snprintf(barrier, sizeof(barrier), "%s/go", t->w.dir);
    pid_t gen = spawn("exec %s --dir %s --domid %u --mode gen --dst-mac %s --count 100 "
                      "--expect-echo --barrier %s --json >%s/cli0.out 2>&1",
                      simworld_bin("simnetfront"), t->w.dir, t->guest[0], mac, barrier,
                      t->w.dir);
    wait_connected(t, 0);
    usleep(200000);
    assert_int_equal(waitpid(gen, NULL, WNOHANG), 0); /* held at the barrier */
    assert_int_equal(run_cmd("touch %s", barrier), 0);
    assert_int_equal(wait_exit(gen), 0);
    assert_int_equal(cli_num(t, 0, "echoes"), 100);
    /* Bounded by time, paced. */
    char args[256];
    snprintf(args, sizeof(args), "--mode gen --dst-mac %s --seconds 0.3 --rate 2000 --size 128 "
             "--expect-echo --json", mac);
    assert_int_equal(cli(t, 0, args), 0);
    assert_true(cli_num(t, 0, "sent") > 0);
    assert_int_equal(cli_num(t, 0, "echoes"), cli_num(t, 0, "sent"));
    /* The smallest IPv6 test frame is larger than 64 bytes. */
    assert_int_equal(cli(t, 0, "--mode gen --size 64 --ipv6 --count 1"), 2);
}

static void test_cli_no_backend_is_negotiation_failure(void **state)
{
    struct world *t = *state;
    assert_int_equal(cli(t, 0, "--mode gen --timeout-ms 300 --count 1"), 3);
    assert_non_null(strstr(cli_output(t, 0), "InitWait"));
    assert_int_equal(cli(t, 0, "--mode bogus"), 2);
    assert_int_equal(cli(t, 0, "--mode tap"), 2); /* tap needs --netns */
}

/* ---- TAP: two namespaces' stacks over the rings ---- */

static bool wait_addr(const char *ns, const char *addr)
{
    for (int i = 0; i < 200; i++) {
        if (run_cmd("ip -n %s addr show dev eth0 2>/dev/null | grep -q 'inet %s'", ns, addr) ==
            0)
            return true;
        usleep(50000);
    }
    return false;
}

static void test_tap_namespaces_ping_and_iperf(void **state)
{
    struct world *t = *state;
    if (geteuid() != 0 || run_cmd("command -v iperf3 >/dev/null && command -v ping >/dev/null"))
        skip();
    for (int i = 0; i < 2; i++) {
        snprintf(t->ns[i], sizeof(t->ns[i]), "scnf%d-%d", i, (int)getpid());
        if (run_cmd("ip netns add %s 2>/dev/null", t->ns[i])) {
            t->ns[i][0] = 0;
            skip();
        }
    }
    struct fake_opts o = full_backend();
    o.cross = true;
    start_backend(t, &o);
    pid_t tap[2];
    const char *addr[2] = { "10.77.0.1", "10.77.0.2" };
    for (int i = 0; i < 2; i++) {
        tap[i] = spawn("exec %s --dir %s --domid %u --mode tap --netns %s --addr %s/24 --json "
                       ">%s/cli%d.out 2>&1", simworld_bin("simnetfront"), t->w.dir, t->guest[i],
                       t->ns[i], addr[i], t->w.dir, i);
        assert_true(tap[i] > 0);
    }
    for (int i = 0; i < 2; i++)
        if (!wait_addr(t->ns[i], addr[i]))
            fail_msg("eth0 in %s never got %s: %s", t->ns[i], addr[i], cli_output(t, i));
    int ping = run_cmd("ip netns exec %s ping -c 3 -i 0.2 -W 2 %s >/dev/null", t->ns[0], addr[1]);
    pid_t server = spawn("exec ip netns exec %s iperf3 -s -1 -B %s >/dev/null 2>&1", t->ns[1],
                         addr[1]);
    int iperf = -1;
    for (int i = 0; i < 20 && iperf != 0; i++) {
        usleep(100000);
        iperf = run_cmd("ip netns exec %s iperf3 -c %s -n 16M >%s/iperf.out 2>&1", t->ns[0],
                        addr[1], t->w.dir);
    }
    kill(server, SIGKILL);
    wait_exit(server);
    int rc[2];
    for (int i = 0; i < 2; i++) {
        kill(tap[i], SIGTERM);
        rc[i] = wait_exit(tap[i]);
    }
    assert_int_equal(ping, 0);
    assert_int_equal(iperf, 0);
    assert_int_equal(rc[0], 0);
    assert_int_equal(rc[1], 0);
    /* TSO frames went on the rings as GSO extras and came out as such. */
    assert_true(cli_num(t, 0, "to_ring_gso") > 0);
    assert_true(cli_num(t, 1, "from_ring_gso") > 0);
    assert_true(cli_num(t, 1, "to_ring") > 0);
    assert_int_equal(cli_num(t, 0, "dropped_to_ring"), 0);
    assert_int_equal(cli_num(t, 1, "dropped_from_ring"), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_everything_negotiated, setup, teardown),
        cmocka_unit_test_setup_teardown(test_frontend_features_off, setup, teardown),
        cmocka_unit_test_setup_teardown(test_backend_offers_little, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_and_reconnect, setup, teardown),
        cmocka_unit_test_setup_teardown(test_backend_closing_seen, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cli_gen_verified_through_loop, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cli_gen_catches_corruption, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cli_echo_peer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cli_peer_to_sink, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cli_barrier_and_seconds, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cli_no_backend_is_negotiation_failure, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_tap_namespaces_ping_and_iperf, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
