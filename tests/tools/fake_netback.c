/*
 * fake_netback.c - the test helper of fake_netback.h.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>
#include <xenstore.h>
#include <xen/io/xenbus.h>

#include "fake_netback.h"
#include "netframe.h"
#include "netfront.h"
#include "xensim.h"
#include "xsfront.h"


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
    struct fake_netback_opts o;
    struct xsim *xs;
    struct xs_handle *h;
    struct fk_dev dev[FAKE_NETBACK_MAX_GUESTS];
    unsigned ndev;
    uint8_t frame[NF_MAX_FRAME + 1];
};

/* Backend keys are written unchecked: the frontend under test notices. */
#define fk_write(f, dir, key, ...) xsf_printf((f)->h, XBT_NULL, dir, key, __VA_ARGS__)

static long fk_read(struct fake *f, const char *dir, const char *key, long dflt)
{
    char *v = xsf_read(f->h, dir, key);
    if (!v)
        return dflt;
    long x = strtol(v, NULL, 10);
    free(v);
    return x;
}

static void fk_publish(struct fake *f, struct fk_dev *d)
{
    const struct fake_netback_opts *o = &f->o;
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
        long tx = one >= 0 ? one : fk_read(f, dir, "event-channel-tx", -1);
        q->tx_port = fk_bind(f, d, q->evh, tx);
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
static void __attribute__((noreturn)) fake_main(const char *dir, const domid_t *fe, unsigned n,
                                                uint32_t devid, const struct fake_netback_opts *o)
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
        snprintf(d->be, sizeof(d->be), "/local/domain/0/backend/vif/%u/%u", fe[i], devid);
        snprintf(d->fe, sizeof(d->fe), "/local/domain/%u/device/vif/%u", fe[i], devid);
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

pid_t fake_netback_start(const char *dir, const domid_t *guests, unsigned n, uint32_t devid,
                         const struct fake_netback_opts *o)
{
    if (n > FAKE_NETBACK_MAX_GUESTS)
        return -EINVAL;
    pid_t pid = fork();
    if (pid < 0)
        return -errno;
    if (pid == 0)
        fake_main(dir, guests, n, devid, o);
    return pid;
}
