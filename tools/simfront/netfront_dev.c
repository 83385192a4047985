/*
 * netfront_dev.c - the device level of the simulated netfront: the frontend
 * half of the XenBus handshake as Linux netfront runs it, and the optional
 * control ring.
 *
 *   backend InitWait   -> xennet_connect: feature-rx-copy required, mac
 *                         read, talk_to_netback (queues created, the
 *                         transport and feature keys written in one
 *                         transaction), rx rings filled, Connected, a kick
 *                         on every channel
 *   backend Connected  -> usable (nf_dev_open returns)
 *   Closing / Closed   -> close: Closing, backend Closed, Closed
 *
 * Unlike blkfront, netfront never writes Initialised: it goes from
 * Initialising to Connected once its keys are in, and the backend connects
 * when it sees that.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xen/io/xenbus.h>

#include "clock.h"
#include "netfront.h"
#include "xsfront.h"


/* The optional control ring (netif.h "Control ring"). */
struct nf_ctrl {
    xen_netif_ctrl_front_ring_t front;
    void *page, *data_page;
    uint64_t gfn, data_gfn;
    int32_t ref, data_ref;
    struct xsim_evtchn *evh;
    evtchn_port_t port;
    uint16_t next_id;
};

struct nf_dev {
    struct xsim_guest *g;
    struct xsf_dev xf;              /* xenstore: connection, watch, error reason */
    struct nf_features want;
    struct nf_dev_info info;
    bool backend_has_mq;            /* multi-queue-max-queues present */
    struct nf_queue *queues[NF_MAX_QUEUES];
    struct nf_ctrl *ctrl;
};

void nf_features_default(struct nf_features *f)
{
    memset(f, 0, sizeof(*f));
    f->backend_domid = -1;
    f->max_queues = 4;
    f->sg = f->gso_tcpv4 = f->gso_tcpv6 = true;
    f->csum_offload = f->ipv6_csum_offload = true;
    f->split_evtchn = true;
    f->rx_notify = true;
    f->multicast = false;
    f->ctrl_ring = false;
    f->xdp_headroom = 0;
    f->timeout_ms = XSF_DEFAULT_TIMEOUT_MS;
}

/* A backend feature key: absent or unreadable is 0 (xenbus_read_unsigned). */
static bool backend_bool(struct nf_dev *d, const char *key)
{
    return xsf_backend_bool(&d->xf, key);
}

/* "aa:bb:cc:dd:ee:ff" (either case).  0 or -EINVAL. */
static int parse_mac(const char *s, uint8_t mac[NF_ETH_ALEN])
{
    unsigned v[NF_ETH_ALEN];
    char tail;
    if (sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5],
               &tail) != 6 || strlen(s) != 17)
        return -EINVAL;
    for (unsigned i = 0; i < NF_ETH_ALEN; i++)
        mac[i] = (uint8_t)v[i];
    return 0;
}

/* ---- control ring ---- */

static void ctrl_destroy(struct nf_dev *d)
{
    struct nf_ctrl *c = d->ctrl;
    if (!c)
        return;
    if (c->evh)
        xsim_evtchn_close(c->evh);
    /* The backend unmapped both at Closed; a page it still holds leaks. */
    if (c->page && (c->ref < 0 || xsim_guest_end_access(d->g, (grant_ref_t)c->ref) == 0))
        xsim_guest_pages_free(d->g, c->page, 1);
    if (c->data_page &&
        (c->data_ref < 0 || xsim_guest_end_access(d->g, (grant_ref_t)c->data_ref) == 0))
        xsim_guest_pages_free(d->g, c->data_page, 1);
    free(c);
    d->ctrl = NULL;
}

static int ctrl_create(struct nf_dev *d)
{
    struct nf_ctrl *c = calloc(1, sizeof(*c));
    if (!c)
        return -ENOMEM;
    d->ctrl = c;
    c->ref = c->data_ref = -1;
    c->page = xsim_guest_pages_alloc(d->g, 1, &c->gfn);
    c->data_page = xsim_guest_pages_alloc(d->g, 1, &c->data_gfn);
    if (!c->page || !c->data_page)
        return -ENOMEM;
    SHARED_RING_INIT((xen_netif_ctrl_sring_t *)c->page);
    FRONT_RING_INIT(&c->front, (xen_netif_ctrl_sring_t *)c->page, NF_PAGE_SIZE);
    int ref = xsim_guest_grant(d->g, d->xf.backend_id, c->gfn, false);
    if (ref < 0)
        return ref;
    c->ref = ref;
    ref = xsim_guest_grant(d->g, d->xf.backend_id, c->data_gfn, true);
    if (ref < 0)
        return ref;
    c->data_ref = ref;
    c->evh = xsim_evtchn_open(xsim_guest_xsim(d->g));
    if (!c->evh)
        return -errno;
    int port = xsim_evtchn_alloc_unbound(c->evh, d->xf.backend_id);
    if (port < 0)
        return port;
    c->port = (evtchn_port_t)port;
    return 0;
}

void *nf_dev_ctrl_page(struct nf_dev *d, grant_ref_t *gref)
{
    if (!d->ctrl)
        return NULL;
    if (gref)
        *gref = (grant_ref_t)d->ctrl->data_ref;
    return d->ctrl->data_page;
}

int nf_dev_ctrl(struct nf_dev *d, uint16_t type, uint32_t d0, uint32_t d1, uint32_t d2,
                uint32_t *data)
{
    struct nf_ctrl *c = d->ctrl;
    if (!c || !d->xf.connected)
        return -EOPNOTSUPP;
    if (RING_FULL(&c->front))
        return -EBUSY;
    uint16_t id = c->next_id++;
    struct xen_netif_ctrl_request *req = RING_GET_REQUEST(&c->front, c->front.req_prod_pvt);
    req->id = id;
    req->type = type;
    req->data[0] = d0;
    req->data[1] = d1;
    req->data[2] = d2;
    c->front.req_prod_pvt++;
    int notify;
    RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(&c->front, notify);
    if (notify)
        xsim_evtchn_notify(c->evh, c->port);
    uint64_t deadline = sc_clock_ms() + d->xf.timeout_ms;
    for (;;) {
        int more;
        RING_FINAL_CHECK_FOR_RESPONSES(&c->front, more);
        if (more) {
            struct xen_netif_ctrl_response rsp;
            memcpy(&rsp, RING_GET_RESPONSE(&c->front, c->front.rsp_cons), sizeof(rsp));
            c->front.rsp_cons++;
            if (rsp.id != id || rsp.type != type)
                return -EPROTO;
            if (data)
                *data = rsp.data;
            return (int)(rsp.status & 0x7fffffff);
        }
        uint64_t now = sc_clock_ms();
        if (now >= deadline)
            return -ETIMEDOUT;
        struct pollfd pfd = { .fd = xsim_evtchn_fd(c->evh), .events = POLLIN };
        if (poll(&pfd, 1, 10) > 0) {
            int p;
            while ((p = xsim_evtchn_pending(c->evh)) >= 0)
                xsim_evtchn_unmask(c->evh, (evtchn_port_t)p);
        }
    }
}

/* ---- talk_to_netback ---- */

static void destroy_queues(struct nf_dev *d)
{
    for (unsigned q = 0; q < NF_MAX_QUEUES; q++) {
        nf_queue_destroy(d->queues[q]);
        d->queues[q] = NULL;
    }
    ctrl_destroy(d);
}

/* The per-queue keys under `dir` (write_queue_xenstore_keys). */
static bool write_queue_keys(struct nf_dev *d, xs_transaction_t t, const char *dir,
                             struct nf_queue *q)
{
    struct xs_handle *xs = d->xf.xs;
    if (!xsf_printf(xs, t, dir, "tx-ring-ref", "%u", nf_queue_tx_ref(q)) ||
        !xsf_printf(xs, t, dir, "rx-ring-ref", "%u", nf_queue_rx_ref(q)))
        return false;
    if (!nf_queue_split(q))
        return xsf_printf(xs, t, dir, "event-channel", "%u", nf_queue_tx_port(q));
    return xsf_printf(xs, t, dir, "event-channel-tx", "%u", nf_queue_tx_port(q)) &&
           xsf_printf(xs, t, dir, "event-channel-rx", "%u", nf_queue_rx_port(q));
}

static bool write_feature_keys(struct nf_dev *d, xs_transaction_t t)
{
    struct xs_handle *xs = d->xf.xs;
    const struct nf_features *w = &d->want;
    const struct nf_dev_info *in = &d->info;
    const char *fe = d->xf.frontend;
    bool ok = xsf_printf(xs, t, fe, "request-rx-copy", "1") &&
              (!w->rx_notify || xsf_printf(xs, t, fe, "feature-rx-notify", "1")) &&
              xsf_printf(xs, t, fe, "feature-sg", "%d", w->sg) &&
              xsf_printf(xs, t, fe, "feature-gso-tcpv4", "%d", w->gso_tcpv4) &&
              xsf_printf(xs, t, fe, "feature-gso-tcpv6", "%d", w->gso_tcpv6) &&
              xsf_printf(xs, t, fe, "feature-ipv6-csum-offload", "%d", w->ipv6_csum_offload) &&
              (w->csum_offload || xsf_printf(xs, t, fe, "feature-no-csum-offload", "1"));
    if (ok && in->multicast)
        ok = xsf_printf(xs, t, fe, "request-multicast-control", "1");
    if (ok && in->xdp_headroom >= 0)
        ok = xsf_printf(xs, t, fe, "xdp-headroom", "%d", in->xdp_headroom);
    if (ok && d->ctrl)
        ok = xsf_printf(xs, t, fe, "ctrl-ring-ref", "%d", d->ctrl->ref) &&
             xsf_printf(xs, t, fe, "event-channel-ctrl", "%u", d->ctrl->port);
    return ok;
}

/* Keys an earlier connection may have left that this one would not
 * rewrite (stale queue or channel keys would mislead the backend), then the
 * queue and feature keys: one transaction (xsf_transact). */
static bool write_keys(void *arg, xs_transaction_t t)
{
    static const char *const stale[] = {
        "tx-ring-ref", "rx-ring-ref", "event-channel", "event-channel-tx",
        "event-channel-rx", "multi-queue-num-queues", "ctrl-ring-ref", "event-channel-ctrl",
        "request-multicast-control", "xdp-headroom", "feature-no-csum-offload",
        "feature-rx-notify",
    };
    struct nf_dev *d = arg;
    const struct nf_dev_info *in = &d->info;
    const char *fe = d->xf.frontend;
    xsf_remove_keys(&d->xf, t, stale, sizeof(stale) / sizeof(stale[0]), NF_MAX_QUEUES);
    bool ok = true;
    if (d->backend_has_mq) /* as Linux: whenever the backend offers it */
        ok = xsf_printf(d->xf.xs, t, fe, "multi-queue-num-queues", "%u", in->nr_queues);
    if (ok && in->nr_queues == 1) {
        ok = write_queue_keys(d, t, fe, d->queues[0]);
    } else {
        for (unsigned q = 0; ok && q < in->nr_queues; q++) {
            char dir[160];
            snprintf(dir, sizeof(dir), "%s/queue-%u", fe, q);
            ok = write_queue_keys(d, t, dir, d->queues[q]);
        }
    }
    return ok && write_feature_keys(d, t);
}

/* What both sides want, from the backend's feature keys. */
static int read_backend_features(struct nf_dev *d)
{
    struct nf_dev_info *in = &d->info;
    const struct nf_features *w = &d->want;
    uint64_t max_queues;
    int err = xsf_backend_u64(&d->xf, "multi-queue-max-queues", 1, &max_queues);
    if (err == -EPROTO)
        return xsf_fail(&d->xf, -EPROTO, "backend %s: bad multi-queue-max-queues",
                        d->xf.backend);
    d->backend_has_mq = err == 0;
    unsigned queues = w->max_queues ? w->max_queues : 1;
    if (queues > NF_MAX_QUEUES)
        queues = NF_MAX_QUEUES;
    if (max_queues < queues)
        queues = max_queues ? (unsigned)max_queues : 1;
    in->nr_queues = queues;
    in->split_evtchn = w->split_evtchn && backend_bool(d, "feature-split-event-channels");
    in->sg = w->sg && backend_bool(d, "feature-sg");
    in->gso_tcpv4 = w->gso_tcpv4 && backend_bool(d, "feature-gso-tcpv4");
    in->gso_tcpv6 = w->gso_tcpv6 && backend_bool(d, "feature-gso-tcpv6");
    /* Absent feature-no-csum-offload means IPv4 offload is on (netif.h). */
    in->csum_offload = w->csum_offload && !backend_bool(d, "feature-no-csum-offload");
    in->ipv6_csum_offload = w->ipv6_csum_offload && backend_bool(d, "feature-ipv6-csum-offload");
    in->multicast = w->multicast && backend_bool(d, "feature-multicast-control");
    in->dynamic_multicast = in->multicast && backend_bool(d, "feature-dynamic-multicast-control");
    in->ctrl_ring = w->ctrl_ring && backend_bool(d, "feature-ctrl-ring");
    in->xdp_headroom = w->xdp_headroom >= 0 && backend_bool(d, "feature-xdp-headroom")
                           ? w->xdp_headroom
                           : -1;
    return 0;
}

static int read_link(struct nf_dev *d)
{
    struct nf_dev_info *in = &d->info;
    char *mac = xsf_read(d->xf.xs, d->xf.frontend, "mac");
    int err = mac ? parse_mac(mac, in->mac) : -ENOENT;
    free(mac);
    if (err)
        return xsf_fail(&d->xf, -EPROTO, "%s/mac: %s", d->xf.frontend,
                        err == -ENOENT ? "missing (did the toolstack attach the vif?)"
                                       : "not a MAC");
    uint64_t mtu;
    if (xsf_read_u64(d->xf.xs, d->xf.frontend, "mtu", 1500, &mtu) == -EPROTO || mtu < 68 ||
        mtu > NF_MAX_FRAME - 14)
        return xsf_fail(&d->xf, -EPROTO, "%s/mtu: bad value", d->xf.frontend);
    in->mtu = (unsigned)mtu;
    return 0;
}

static int talk_to_netback(struct nf_dev *d)
{
    struct nf_dev_info *in = &d->info;
    int err = read_backend_features(d);
    if (err)
        return err;
    destroy_queues(d);
    struct nf_queue_features qf = {
        .sg = in->sg, .gso_tcpv4 = in->gso_tcpv4, .gso_tcpv6 = in->gso_tcpv6,
    };
    for (unsigned q = 0; q < in->nr_queues; q++) {
        err = nf_queue_create(d->g, d->xf.backend_id, in->split_evtchn, &d->queues[q]);
        if (err < 0) {
            destroy_queues(d);
            return xsf_fail(&d->xf, err, "creating queue %u: %s", q, strerror(-err));
        }
        nf_queue_set_features(d->queues[q], &qf);
    }
    if (in->ctrl_ring && (err = ctrl_create(d)) < 0) {
        destroy_queues(d);
        return xsf_fail(&d->xf, err, "creating the control ring: %s", strerror(-err));
    }
    err = xsf_transact(&d->xf, write_keys, d);
    if (err)
        destroy_queues(d);
    return err;
}

static int xennet_connect(struct nf_dev *d)
{
    if (!backend_bool(d, "feature-rx-copy"))
        return xsf_fail(&d->xf, -EPROTO, "backend %s does not support copying receive path",
                        d->xf.backend);
    int err = read_link(d);
    if (!err)
        err = talk_to_netback(d);
    if (err)
        return err;
    for (unsigned q = 0; q < d->info.nr_queues; q++) {
        int n = nf_rx_refill(d->queues[q]);
        if (n < 0) {
            destroy_queues(d);
            return xsf_fail(&d->xf, n, "filling rx ring %u: %s", q, strerror(-n));
        }
    }
    if ((err = xsf_write_state(&d->xf, XenbusStateConnected))) {
        destroy_queues(d);
        return err;
    }
    /* Linux kicks every channel once connected: requests queued before the
     * backend mapped the rings are seen. */
    for (unsigned q = 0; q < d->info.nr_queues; q++)
        nf_queue_kick(d->queues[q]);
    return 0;
}

/* The whole handshake from our Initialising. */
static int handshake(void *dev)
{
    struct nf_dev *d = dev;
    int st = xsf_wait_backend(&d->xf, 1u << XenbusStateInitWait, 0, "waiting for backend InitWait");
    if (st < 0)
        return st;
    int err = xennet_connect(d);
    if (err)
        return err;
    st = xsf_wait_backend(&d->xf, 1u << XenbusStateConnected,
                      1u << XenbusStateClosing | 1u << XenbusStateClosed,
                      "waiting for backend Connected");
    if (st < 0) {
        destroy_queues(d);
        return st;
    }
    d->info.connects++;
    return 0;
}

static void teardown(void *dev) { destroy_queues(dev); }
static const struct xsf_class nf_xsf_class = {
    .name = "vif", .handshake = handshake, .teardown = teardown,
};

int nf_dev_open(struct xsim_guest *g, uint32_t devid, const struct nf_features *want,
                struct nf_dev **out, char *err, size_t errlen)
{
    struct nf_dev *d = calloc(1, sizeof(*d));
    if (!d)
        return -ENOMEM;
    d->g = g;
    if (want)
        d->want = *want;
    else
        nf_features_default(&d->want);
    d->info.devid = devid;
    d->info.xdp_headroom = -1;
    int ret = xsf_open(&d->xf, g, &nf_xsf_class, d, devid, d->want.backend_domid,
                       d->want.timeout_ms, err, errlen);
    if (ret) {
        nf_dev_free(d);
        return ret;
    }
    snprintf(d->info.frontend_path, sizeof(d->info.frontend_path), "%s", d->xf.frontend);
    snprintf(d->info.backend_path, sizeof(d->info.backend_path), "%s", d->xf.backend);
    d->info.backend_id = d->xf.backend_id;
    *out = d;
    return 0;
}

int nf_dev_close(struct nf_dev *d) { return xsf_disconnect(&d->xf); }

int nf_dev_reconnect(struct nf_dev *d, char *err, size_t errlen)
{
    return xsf_reconnect(&d->xf, err, errlen);
}

void nf_dev_free(struct nf_dev *d)
{
    if (!d)
        return;
    xsf_close(&d->xf);
    destroy_queues(d);
    free(d);
}

const struct nf_dev_info *nf_dev_get_info(const struct nf_dev *d) { return &d->info; }
unsigned nf_dev_nr_queues(const struct nf_dev *d) { return d->info.nr_queues; }
struct nf_queue *nf_dev_queue(struct nf_dev *d, unsigned queue)
{
    return queue < d->info.nr_queues ? d->queues[queue] : NULL;
}
int nf_dev_watch_fd(const struct nf_dev *d) { return xs_fileno(d->xf.xs); }

int nf_dev_check(struct nf_dev *d)
{
    int st = xsf_backend_state(&d->xf);
    return st == XenbusStateClosing || st == XenbusStateClosed ? NF_DEV_EV_CLOSING : 0;
}
