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
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xenstore.h>
#include <xen/io/xenbus.h>

#include "clock.h"
#include "netfront.h"
#include "xenbus.h"

#define NF_WATCH_TOKEN "nf-backend-state"
#define NF_DEFAULT_TIMEOUT_MS 10000u

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
    struct xs_handle *xs;
    struct nf_features want;
    struct nf_dev_info info;
    char state_path[200];           /* <backend>/state, watched */
    bool watching;
    bool connected;
    bool backend_has_mq;            /* multi-queue-max-queues present */
    struct nf_queue *queues[NF_MAX_QUEUES];
    struct nf_ctrl *ctrl;
    char *err;
    size_t errlen;
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
    f->timeout_ms = NF_DEFAULT_TIMEOUT_MS;
}

static int fail(struct nf_dev *d, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(struct nf_dev *d, int err, const char *fmt, ...)
{
    if (d->err && d->errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(d->err, d->errlen, fmt, ap);
        va_end(ap);
    }
    return err;
}

/* ---- xenstore helpers ---- */

static char *read_key(struct nf_dev *d, const char *dir, const char *key)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/%s", dir, key);
    unsigned len;
    return xs_read(d->xs, XBT_NULL, path, &len);
}

/* 0 and *out; -ENOENT if absent (default applied), -EPROTO if not a number. */
static int read_u64(struct nf_dev *d, const char *dir, const char *key, uint64_t dflt,
                    uint64_t *out)
{
    *out = dflt;
    char *v = read_key(d, dir, key);
    if (!v)
        return -ENOENT;
    char *end;
    errno = 0;
    unsigned long long x = strtoull(v, &end, 10);
    int ret = (!*v || *end || errno) ? -EPROTO : 0;
    if (!ret)
        *out = x;
    free(v);
    return ret;
}

/* A backend feature key: absent or unreadable is 0 (xenbus_read_unsigned). */
static bool backend_bool(struct nf_dev *d, const char *key)
{
    uint64_t v;
    return read_u64(d, d->info.backend_path, key, 0, &v) == 0 && v != 0;
}

static int backend_state(struct nf_dev *d)
{
    /* A backend directory that is gone counts as Closed. */
    uint64_t v;
    int err = read_u64(d, d->info.backend_path, "state", XenbusStateUnknown, &v);
    if (err == -ENOENT)
        return XenbusStateClosed;
    if (err < 0 || v > XenbusStateReconfigured)
        return XenbusStateUnknown;
    return (int)v;
}

static int write_state(struct nf_dev *d, int state)
{
    char path[160], val[8];
    snprintf(path, sizeof(path), "%s/state", d->info.frontend_path);
    snprintf(val, sizeof(val), "%d", state);
    if (!xs_write(d->xs, XBT_NULL, path, val, strlen(val)))
        return fail(d, -errno, "write %s: %s", path, strerror(errno));
    return 0;
}

static void drain_watch(struct nf_dev *d)
{
    char **vec;
    while ((vec = xs_check_watch(d->xs)) != NULL)
        free(vec);
}

static unsigned timeout_ms(const struct nf_dev *d)
{
    return d->want.timeout_ms ? d->want.timeout_ms : NF_DEFAULT_TIMEOUT_MS;
}

/* Waits until the backend's state is in `mask` (bit per XenbusState).
 * A state in `fatal` ends the wait with -ENODEV. */
static int wait_backend(struct nf_dev *d, unsigned mask, unsigned fatal, const char *what)
{
    uint64_t deadline = sc_clock_ms() + timeout_ms(d);
    for (;;) {
        drain_watch(d);
        int st = backend_state(d);
        if (mask & (1u << st))
            return st;
        if (fatal & (1u << st)) {
            char *e = read_key(d, d->info.backend_path, "error");
            int ret = fail(d, -ENODEV, "%s: backend %s went %s%s%s", what, d->info.backend_path,
                           sc_xenbus_state_str((XenbusState)st), e ? ": " : "", e ? e : "");
            free(e);
            return ret;
        }
        uint64_t now = sc_clock_ms();
        if (now >= deadline)
            return fail(d, -ETIMEDOUT, "%s: timed out after %u ms (backend %s is %s)", what,
                        timeout_ms(d), d->info.backend_path,
                        sc_xenbus_state_str((XenbusState)st));
        struct pollfd pfd = { .fd = xs_fileno(d->xs), .events = POLLIN };
        int left = (int)(deadline - now);
        /* Re-read at least every 100 ms: a watch may be lost if the backend
         * directory is removed and rewritten. */
        if (poll(&pfd, 1, left < 100 ? left : 100) < 0 && errno != EINTR)
            return fail(d, -errno, "%s: poll: %s", what, strerror(errno));
    }
}

static bool tx_printf(struct nf_dev *d, xs_transaction_t t, const char *dir, const char *key,
                      const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static bool tx_printf(struct nf_dev *d, xs_transaction_t t, const char *dir, const char *key,
                      const char *fmt, ...)
{
    char path[256], val[64];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(val, sizeof(val), fmt, ap);
    va_end(ap);
    snprintf(path, sizeof(path), "%s/%s", dir, key);
    return xs_write(d->xs, t, path, val, strlen(val));
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
    int ref = xsim_guest_grant(d->g, d->info.backend_id, c->gfn, false);
    if (ref < 0)
        return ref;
    c->ref = ref;
    ref = xsim_guest_grant(d->g, d->info.backend_id, c->data_gfn, true);
    if (ref < 0)
        return ref;
    c->data_ref = ref;
    c->evh = xsim_evtchn_open(xsim_guest_xsim(d->g));
    if (!c->evh)
        return -errno;
    int port = xsim_evtchn_alloc_unbound(c->evh, d->info.backend_id);
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
    if (!c || !d->connected)
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
    uint64_t deadline = sc_clock_ms() + timeout_ms(d);
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
    if (!tx_printf(d, t, dir, "tx-ring-ref", "%u", nf_queue_tx_ref(q)) ||
        !tx_printf(d, t, dir, "rx-ring-ref", "%u", nf_queue_rx_ref(q)))
        return false;
    if (!nf_queue_split(q))
        return tx_printf(d, t, dir, "event-channel", "%u", nf_queue_tx_port(q));
    return tx_printf(d, t, dir, "event-channel-tx", "%u", nf_queue_tx_port(q)) &&
           tx_printf(d, t, dir, "event-channel-rx", "%u", nf_queue_rx_port(q));
}

/* Keys an earlier connection may have left that this one would not
 * rewrite: stale queue or channel keys would mislead the backend. */
static void remove_stale_keys(struct nf_dev *d, xs_transaction_t t)
{
    static const char *const keys[] = {
        "tx-ring-ref", "rx-ring-ref", "event-channel", "event-channel-tx",
        "event-channel-rx", "multi-queue-num-queues", "ctrl-ring-ref", "event-channel-ctrl",
        "request-multicast-control", "xdp-headroom", "feature-no-csum-offload",
        "feature-rx-notify",
    };
    char path[256];
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        snprintf(path, sizeof(path), "%s/%s", d->info.frontend_path, keys[i]);
        xs_rm(d->xs, t, path);
    }
    for (unsigned q = 0; q < NF_MAX_QUEUES; q++) {
        snprintf(path, sizeof(path), "%s/queue-%u", d->info.frontend_path, q);
        xs_rm(d->xs, t, path);
    }
}

static bool write_feature_keys(struct nf_dev *d, xs_transaction_t t)
{
    const struct nf_features *w = &d->want;
    const struct nf_dev_info *in = &d->info;
    const char *fe = in->frontend_path;
    bool ok = tx_printf(d, t, fe, "request-rx-copy", "1") &&
              (!w->rx_notify || tx_printf(d, t, fe, "feature-rx-notify", "1")) &&
              tx_printf(d, t, fe, "feature-sg", "%d", w->sg) &&
              tx_printf(d, t, fe, "feature-gso-tcpv4", "%d", w->gso_tcpv4) &&
              tx_printf(d, t, fe, "feature-gso-tcpv6", "%d", w->gso_tcpv6) &&
              tx_printf(d, t, fe, "feature-ipv6-csum-offload", "%d", w->ipv6_csum_offload) &&
              (w->csum_offload || tx_printf(d, t, fe, "feature-no-csum-offload", "1"));
    if (ok && in->multicast)
        ok = tx_printf(d, t, fe, "request-multicast-control", "1");
    if (ok && in->xdp_headroom >= 0)
        ok = tx_printf(d, t, fe, "xdp-headroom", "%d", in->xdp_headroom);
    if (ok && d->ctrl)
        ok = tx_printf(d, t, fe, "ctrl-ring-ref", "%d", d->ctrl->ref) &&
             tx_printf(d, t, fe, "event-channel-ctrl", "%u", d->ctrl->port);
    return ok;
}

/* What both sides want, from the backend's feature keys. */
static int read_backend_features(struct nf_dev *d)
{
    struct nf_dev_info *in = &d->info;
    const struct nf_features *w = &d->want;
    uint64_t max_queues;
    int err = read_u64(d, in->backend_path, "multi-queue-max-queues", 1, &max_queues);
    if (err == -EPROTO)
        return fail(d, -EPROTO, "backend %s: bad multi-queue-max-queues", in->backend_path);
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
    char *mac = read_key(d, in->frontend_path, "mac");
    int err = mac ? parse_mac(mac, in->mac) : -ENOENT;
    free(mac);
    if (err)
        return fail(d, -EPROTO, "%s/mac: %s", in->frontend_path,
                    err == -ENOENT ? "missing (did the toolstack attach the vif?)" : "not a MAC");
    uint64_t mtu;
    if (read_u64(d, in->frontend_path, "mtu", 1500, &mtu) == -EPROTO || mtu < 68 ||
        mtu > NF_MAX_FRAME - 14)
        return fail(d, -EPROTO, "%s/mtu: bad value", in->frontend_path);
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
        err = nf_queue_create(d->g, in->backend_id, in->split_evtchn, &d->queues[q]);
        if (err < 0) {
            destroy_queues(d);
            return fail(d, err, "creating queue %u: %s", q, strerror(-err));
        }
        nf_queue_set_features(d->queues[q], &qf);
    }
    if (in->ctrl_ring && (err = ctrl_create(d)) < 0) {
        destroy_queues(d);
        return fail(d, err, "creating the control ring: %s", strerror(-err));
    }
    for (;;) {
        xs_transaction_t t = xs_transaction_start(d->xs);
        if (t == XBT_NULL) {
            destroy_queues(d);
            return fail(d, -errno, "transaction start: %s", strerror(errno));
        }
        remove_stale_keys(d, t);
        const char *fe = in->frontend_path;
        bool ok = true;
        if (d->backend_has_mq) /* as Linux: whenever the backend offers it */
            ok = tx_printf(d, t, fe, "multi-queue-num-queues", "%u", in->nr_queues);
        if (ok && in->nr_queues == 1) {
            ok = write_queue_keys(d, t, fe, d->queues[0]);
        } else {
            for (unsigned q = 0; ok && q < in->nr_queues; q++) {
                char dir[160];
                snprintf(dir, sizeof(dir), "%s/queue-%u", fe, q);
                ok = write_queue_keys(d, t, dir, d->queues[q]);
            }
        }
        if (ok)
            ok = write_feature_keys(d, t);
        if (!ok) {
            int e = errno;
            xs_transaction_end(d->xs, t, true);
            destroy_queues(d);
            return fail(d, -e, "writing frontend keys: %s", strerror(e));
        }
        if (xs_transaction_end(d->xs, t, false))
            return 0;
        if (errno != EAGAIN) {
            int e = errno;
            destroy_queues(d);
            return fail(d, -e, "transaction end: %s", strerror(e));
        }
    }
}

static int xennet_connect(struct nf_dev *d)
{
    if (!backend_bool(d, "feature-rx-copy"))
        return fail(d, -EPROTO, "backend %s does not support copying receive path",
                    d->info.backend_path);
    int err = read_link(d);
    if (!err)
        err = talk_to_netback(d);
    if (err)
        return err;
    for (unsigned q = 0; q < d->info.nr_queues; q++) {
        int n = nf_rx_refill(d->queues[q]);
        if (n < 0) {
            destroy_queues(d);
            return fail(d, n, "filling rx ring %u: %s", q, strerror(-n));
        }
    }
    if ((err = write_state(d, XenbusStateConnected))) {
        destroy_queues(d);
        return err;
    }
    /* Linux kicks every channel once connected: requests queued before the
     * backend mapped the rings are seen. */
    for (unsigned q = 0; q < d->info.nr_queues; q++)
        nf_queue_kick(d->queues[q]);
    return 0;
}

/*
 * Brings a device some earlier frontend left behind back to Initialising
 * (xenbus_reset_frontend): a backend still Connected or Closing is walked
 * down through Closing and Closed first, so it drops the old rings before we
 * offer new ones.
 */
static int reset_state(struct nf_dev *d)
{
    uint64_t fe_state;
    if (read_u64(d, d->info.frontend_path, "state", XenbusStateInitialising, &fe_state) < 0)
        fe_state = XenbusStateInitialising;
    int ret, st;
    switch (backend_state(d)) {
    case XenbusStateConnected:
        if ((ret = write_state(d, XenbusStateClosing)))
            return ret;
        st = wait_backend(d, 1u << XenbusStateClosing | 1u << XenbusStateClosed, 0,
                          "reset: waiting for backend Closing");
        if (st < 0)
            return st;
        /* fall through */
    case XenbusStateClosing:
        if ((ret = write_state(d, XenbusStateClosed)))
            return ret;
        st = wait_backend(d, 1u << XenbusStateClosed, 0, "reset: waiting for backend Closed");
        if (st < 0)
            return st;
        return write_state(d, XenbusStateInitialising);
    default:
        return fe_state != XenbusStateInitialising ? write_state(d, XenbusStateInitialising) : 0;
    }
}

/* The whole handshake from our Initialising. */
static int handshake(struct nf_dev *d)
{
    int st = wait_backend(d, 1u << XenbusStateInitWait, 0, "waiting for backend InitWait");
    if (st < 0)
        return st;
    int err = xennet_connect(d);
    if (err)
        return err;
    st = wait_backend(d, 1u << XenbusStateConnected,
                      1u << XenbusStateClosing | 1u << XenbusStateClosed,
                      "waiting for backend Connected");
    if (st < 0) {
        destroy_queues(d);
        return st;
    }
    d->connected = true;
    d->info.connects++;
    return 0;
}

static void set_err(struct nf_dev *d, char *err, size_t errlen)
{
    d->err = err;
    d->errlen = errlen;
    if (err && errlen)
        err[0] = 0;
}

int nf_dev_open(struct xsim_guest *g, uint32_t devid, const struct nf_features *want,
                struct nf_dev **out, char *err, size_t errlen)
{
    struct nf_dev *d = calloc(1, sizeof(*d));
    if (!d)
        return -ENOMEM;
    d->g = g;
    set_err(d, err, errlen);
    if (want)
        d->want = *want;
    else
        nf_features_default(&d->want);
    d->info.devid = devid;
    d->info.xdp_headroom = -1;
    snprintf(d->info.frontend_path, sizeof(d->info.frontend_path),
             "/local/domain/%u/device/vif/%u", xsim_guest_domid(g), devid);
    int ret;
    d->xs = xsim_guest_xs_open(g);
    if (!d->xs) {
        ret = fail(d, errno ? -errno : -EIO, "xenstore: %s", strerror(errno));
        goto out_free;
    }
    char *be = read_key(d, d->info.frontend_path, "backend");
    if (!be) {
        ret = fail(d, -ENOENT, "%s/backend: not found (did the toolstack attach the vif?)",
                   d->info.frontend_path);
        goto out_free;
    }
    snprintf(d->info.backend_path, sizeof(d->info.backend_path), "%s", be);
    free(be);
    uint64_t beid;
    if (read_u64(d, d->info.frontend_path, "backend-id", 0, &beid) < 0 ||
        beid >= DOMID_FIRST_RESERVED) {
        ret = fail(d, -EPROTO, "%s/backend-id missing or bad", d->info.frontend_path);
        goto out_free;
    }
    if (d->want.backend_domid >= 0 && (uint64_t)d->want.backend_domid != beid) {
        ret = fail(d, -EPROTO, "backend-id is %" PRIu64 ", expected %d", beid,
                   d->want.backend_domid);
        goto out_free;
    }
    d->info.backend_id = (domid_t)beid;
    snprintf(d->state_path, sizeof(d->state_path), "%s/state", d->info.backend_path);
    if (!xs_watch(d->xs, d->state_path, NF_WATCH_TOKEN)) {
        ret = fail(d, -errno, "watch %s: %s", d->state_path, strerror(errno));
        goto out_free;
    }
    d->watching = true;
    if ((ret = reset_state(d)) || (ret = handshake(d)))
        goto out_free;
    set_err(d, NULL, 0);
    *out = d;
    return 0;
out_free:
    set_err(d, NULL, 0);
    nf_dev_free(d);
    return ret;
}

int nf_dev_close(struct nf_dev *d)
{
    int ret = 0, st = backend_state(d);
    if (st != XenbusStateClosed) {
        ret = write_state(d, XenbusStateClosing);
        if (!ret)
            st = wait_backend(d, 1u << XenbusStateClosing | 1u << XenbusStateClosed, 0,
                              "waiting for backend Closing");
        if (st < 0)
            ret = st;
    }
    /* Our own Closed, also when the backend got there first. */
    if (!ret)
        ret = write_state(d, XenbusStateClosed);
    if (!ret && st != XenbusStateClosed) {
        st = wait_backend(d, 1u << XenbusStateClosed, 0, "waiting for backend Closed");
        ret = st < 0 ? st : 0;
    }
    /* The backend unmapped everything at Closed: the grants end cleanly. */
    destroy_queues(d);
    d->connected = false;
    return ret;
}

int nf_dev_reconnect(struct nf_dev *d, char *err, size_t errlen)
{
    set_err(d, err, errlen);
    int ret = 0;
    if (d->connected)
        ret = nf_dev_close(d);
    if (!ret)
        ret = write_state(d, XenbusStateInitialising);
    if (!ret)
        ret = handshake(d);
    set_err(d, NULL, 0);
    return ret;
}

void nf_dev_free(struct nf_dev *d)
{
    if (!d)
        return;
    if (d->connected)
        nf_dev_close(d);
    destroy_queues(d);
    if (d->xs) {
        if (d->watching)
            xs_unwatch(d->xs, d->state_path, NF_WATCH_TOKEN);
        xs_close(d->xs);
    }
    free(d);
}

const struct nf_dev_info *nf_dev_get_info(const struct nf_dev *d) { return &d->info; }
unsigned nf_dev_nr_queues(const struct nf_dev *d) { return d->info.nr_queues; }
struct nf_queue *nf_dev_queue(struct nf_dev *d, unsigned queue)
{
    return queue < d->info.nr_queues ? d->queues[queue] : NULL;
}
int nf_dev_watch_fd(const struct nf_dev *d) { return xs_fileno(d->xs); }

int nf_dev_check(struct nf_dev *d)
{
    drain_watch(d);
    int st = backend_state(d);
    return st == XenbusStateClosing || st == XenbusStateClosed ? NF_DEV_EV_CLOSING : 0;
}
