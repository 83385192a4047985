/*
 * net_xenbus.c - the vif device class: what netback does at each step of the
 * XenBus lifecycle (backend/xenbus.h runs the state machine and calls us).
 *
 *   probe       toolstack keys (mac, handle, mtu, rate, bridge, vifname),
 *               the TAP interface vif<domid>.<devid> (or vifname) made
 *               before InitWait, so the hotplug script finds it, and the
 *               feature keys
 *   connect     frontend keys (hostile: strict parsers), one net_queue per
 *               queue-N (tx and rx rings, one or two event channels), each
 *               on a core of the pool, a TAP descriptor per queue, the
 *               uplink's offloads set to what the frontend takes, carrier on
 *   disconnect  every queue taken back without waiting; carrier off
 *   remove      the TAP interface goes
 *   live        `rate` (backend) and request-multicast-control (frontend,
 *               feature-dynamic-multicast-control) are watched
 *
 * Every key read or written here is described in xenstore-schema/vif.json.
 * Which keys and when follows Linux xen-netback.  Control thread only.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "corepool.h"
#include "devclass.h"
#include "fe_keys.h"
#include "log.h"
#include "net_dev.h"
#include "net_ring.h"
#include "net_switch.h"
#include "sidecore.h"

#define NET_MTU_DEFAULT 1500u
#define NET_MTU_MIN     68u
#define NET_MTU_MAX     65535u

static struct net_class *all_classes;

/* ---- the toolstack's keys ---- */

/* "aa:bb:cc:dd:ee:ff" -> mac.  0 or -EINVAL. */
static int parse_mac(const char *s, uint8_t mac[6])
{
    unsigned v[6];
    int end = 0;
    if (strlen(s) != 17 ||
        sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%n", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5],
               &end) != 6 || end != 17)
        return -EINVAL;
    for (unsigned i = 0; i < 6; i++)
        mac[i] = (uint8_t)v[i];
    return 0;
}

/* An optional string key of the backend directory: NULL when absent. */
static char *read_opt(struct net_dev *nd, const char *key)
{
    char *v = sc_xs_read_str(net_xs_of(nd), XBT_NULL, "%s/%s", nd->dev->backend_path, key);
    return v;
}

static void apply_rate(struct net_dev *nd, struct net_rate *r, const char *what,
                       const char *value)
{
    uint64_t bytes = 0, usecs = 0;
    if (value && *value && net_rate_parse(value, &bytes, &usecs) < 0) {
        sc_log(SC_LOG_WARN, nd->dev->name, "%s \"%.64s\" is not <bytes>,<usecs>: unlimited",
               what, value);
        bytes = 0;
    }
    net_rate_set(r, bytes, usecs);
    if (bytes)
        sc_log(SC_LOG_INFO, nd->dev->name, "%s: %llu bytes every %llu us", what,
               (unsigned long long)bytes, (unsigned long long)usecs);
}

int net_device_set_rate(struct sc_device *dev, bool rx, const char *rate)
{
    if (!net_device_is_vif(dev) || !dev->priv)
        return -EINVAL;
    struct net_dev *nd = dev->priv;
    uint64_t bytes, usecs;
    if (rate && *rate && net_rate_parse(rate, &bytes, &usecs) < 0)
        return -EINVAL;
    apply_rate(nd, rx ? &nd->shared.rx_rate : &nd->shared.tx_rate, rx ? "rx rate" : "rate", rate);
    if (!rx) {
        free(nd->rate);
        nd->rate = rate && *rate ? strdup(rate) : NULL;
    }
    return 0;
}

static int read_toolstack_keys(struct net_dev *nd)
{
    struct sc_device *dev = nd->dev;
    const char *bp = dev->backend_path;
    char *mac = read_opt(nd, "mac");
    if (mac) {
        nd->has_mac = parse_mac(mac, nd->mac) == 0;
        if (!nd->has_mac)
            sc_log(SC_LOG_WARN, dev->name, "%s/mac \"%.32s\" is not a MAC address: ignored", bp,
                   mac);
        free(mac);
    }
    unsigned long long v;
    int rc = sc_fe_read_uint_opt(dev, bp, "handle", UINT32_MAX, dev->devid, &v);
    if (rc < 0)
        return rc;
    nd->handle = (unsigned)v;
    rc = sc_fe_read_uint_opt(dev, bp, "mtu", NET_MTU_MAX, NET_MTU_DEFAULT, &v);
    if (rc < 0)
        return rc;
    if (v < NET_MTU_MIN) {
        sc_xenbus_device_fail(dev, -EINVAL, "%s/mtu %llu is below %u", bp, v, NET_MTU_MIN);
        return -EINVAL;
    }
    nd->mtu = (unsigned)v;
    nd->rate = read_opt(nd, "rate");
    apply_rate(nd, &nd->shared.tx_rate, "rate", nd->rate);
    nd->bridge = read_opt(nd, "bridge");

    char *vifname = read_opt(nd, "vifname");
    if (vifname && *vifname) {
        if (strlen(vifname) >= NET_TAP_NAME_MAX || strchr(vifname, '/') ||
            strchr(vifname, ' ')) {
            sc_xenbus_device_fail(dev, -EINVAL, "%s/vifname \"%.32s\" is not an interface name",
                                  bp, vifname);
            free(vifname);
            return -EINVAL;
        }
        snprintf(nd->tap_name, sizeof(nd->tap_name), "%s", vifname);
    } else {
        snprintf(nd->tap_name, sizeof(nd->tap_name), "vif%u.%u", dev->frontend_id, dev->devid);
    }
    free(vifname);
    return 0;
}

/* ---- feature keys ---- */

static int probe_keys_txn(struct xs_handle *xs, xs_transaction_t t, void *arg)
{
    const struct net_dev *nd = arg;
    const char *bp = nd->dev->backend_path;
    static const char *const on[] = {
        "feature-sg", "feature-gso-tcpv4", "feature-gso-tcpv6", "feature-ipv6-csum-offload",
        "feature-rx-copy", "feature-multicast-control", "feature-dynamic-multicast-control",
        "feature-split-event-channels", "feature-xdp-headroom", "feature-ctrl-ring", NULL,
    };
    int rc = 0;
    for (unsigned i = 0; on[i] && rc == 0; i++)
        rc = sc_xs_write_uint(xs, t, 1, "%s/%s", bp, on[i]);
    if (rc == 0) /* page flipping is long gone: say so, as Linux does */
        rc = sc_xs_write_uint(xs, t, 0, "%s/feature-rx-flip", bp);
    if (rc == 0)
        rc = sc_xs_write_uint(xs, t, nd->nc->cfg.max_queues, "%s/multi-queue-max-queues", bp);
    /* For the hotplug script: no interface of its own to bridge. */
    if (rc == 0 && nd->xsw)
        rc = sc_xs_write_str(xs, t, net_xswitch_name(nd->xsw), "%s/sidecore-switch", bp);
    return rc;
}

/* Whether the toolstack still wants the device (its backend directory is
 * there and online): then the daemon is stopping, and the interface stays
 * for the next one, with its bridge; else the device is being removed. */
static bool toolstack_keeps(struct net_dev *nd)
{
    unsigned long long online;
    return sc_xs_read_uint(net_xs_of(nd), XBT_NULL, 1, &online, "%s/online",
                           nd->dev->backend_path) == 0 && online == 1;
}

/* Frees nd; its interface goes too when `going` (else it stays, persistent). */
static void dev_free(struct net_dev *nd, bool going)
{
    if (!nd)
        return;
    if (nd->tap_fd >= 0 && going)
        net_tap_destroy(nd->tap_fd);
    else if (nd->tap_fd >= 0)
        close(nd->tap_fd);
    free(nd->rate);
    free(nd->bridge);
    free(nd->vqs);
    free(nd);
}

static int net_probe(struct sc_device *dev)
{
    struct net_dev *nd = calloc(1, sizeof(*nd));
    if (!nd)
        return -ENOMEM;
    nd->dev = dev;
    nd->nc = (const struct net_class *)dev->cls;
    nd->tap_fd = -1;
    nd->member.owner = nd;
    int rc = read_toolstack_keys(nd);
    if (rc < 0) {
        dev_free(nd, !nd->keep_tap);
        return rc;
    }
    const char *swname = nd->nc->cfg.switch_name;
    if (nd->bridge && *swname && strcmp(nd->bridge, swname) == 0) {
        nd->xsw = net_xswitch_get(swname, nd->nc->pool);
        if (!nd->xsw) {
            rc = -(errno ? errno : EIO);
            sc_xenbus_device_fail(dev, rc, "joining the internal switch %s", swname);
            dev_free(nd, !nd->keep_tap);
            return rc;
        }
    } else if (nd->nc->cfg.tap) {
        bool adopted;
        rc = net_tap_create(nd->tap_name, nd->mtu, &adopted);
        nd->keep_tap = rc >= 0 && adopted;
        if (rc >= 0 && adopted)
            sc_log(SC_LOG_INFO, dev->name, "adopted the interface %s left by an earlier daemon",
                   nd->tap_name);
        if (rc < 0) {
            const char *hint = rc == -EEXIST ? " (it exists and is in use by another program: "
                                               "remove it, or give the vif another vifname=)"
                               : rc == -EPERM  ? " (sidecored needs CAP_NET_ADMIN)"
                                               : "";
            sc_xenbus_device_fail(dev, rc, "creating the interface %s%s", nd->tap_name, hint);
            dev_free(nd, !nd->keep_tap);
            return rc;
        }
        nd->tap_fd = rc;
        net_tap_set_carrier(nd->tap_fd, false);
    }
    rc = sc_xs_transact(net_xs_of(nd), probe_keys_txn, nd);
    if (rc < 0) {
        sc_xenbus_device_fail(dev, rc, "writing the feature keys");
        dev_free(nd, !nd->keep_tap);
        return rc;
    }
    char mac[24] = "-";
    if (nd->has_mac)
        snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x", nd->mac[0], nd->mac[1],
                 nd->mac[2], nd->mac[3], nd->mac[4], nd->mac[5]);
    sc_log(SC_LOG_INFO, dev->name, "probed: mac %s, %s %s, mtu %u%s%s, max %u queues", mac,
           nd->xsw ? "port of the switch" : "interface",
           nd->xsw ? net_xswitch_name(nd->xsw) : nd->tap_fd >= 0 ? nd->tap_name : "(none)",
           nd->mtu, nd->bridge && !nd->xsw ? ", bridge " : "",
           nd->bridge && !nd->xsw ? nd->bridge : "", nd->nc->cfg.max_queues);
    dev->priv = nd;
    return 0;
}

static void net_remove(struct sc_device *dev)
{
    struct net_dev *nd = dev->priv;
    if (nd)
        dev_free(nd, !toolstack_keeps(nd));
    dev->priv = NULL;
}

static void net_backend_changed(struct sc_device *dev, const char *key)
{
    struct net_dev *nd = dev->priv;
    if (!nd || strcmp(key, "rate") != 0)
        return;
    char *rate = read_opt(nd, "rate");
    if (!rate || strcmp(rate, nd->rate ? nd->rate : "") != 0)
        net_device_set_rate(dev, false, rate ? rate : "");
    free(rate);
}

static void net_frontend_changed(struct sc_device *dev, const char *key)
{
    struct net_dev *nd = dev->priv;
    if (!nd || strcmp(key, "request-multicast-control") != 0 || !dev->frontend_path)
        return;
    bool on = sc_fe_read_bool_warn(dev, dev->frontend_path, "request-multicast-control", false);
    if (on != nd->feat.mcast_control)
        sc_log(SC_LOG_INFO, dev->name, "multicast filtering %s", on ? "on" : "off");
    nd->feat.mcast_control = on;
    net_mcast_enable(&nd->shared.mcast, on);
    if (nd->member.joined)
        net_switch_mcast_filter(nd->member.port.sw, nd->member.port.id, on);
}

/* ---- the frontend's keys ---- */

static int read_features(struct net_dev *nd)
{
    struct sc_device *dev = nd->dev;
    const char *fp = dev->frontend_path;
    bool rx_copy;
    int rc = sc_fe_read_bool(dev, fp, "request-rx-copy", false, &rx_copy);
    if (rc < 0)
        return rc;
    if (!rx_copy) {
        sc_xenbus_device_fail(dev, -EOPNOTSUPP,
                              "the frontend does not do rx-copy (request-rx-copy): page "
                              "flipping is not supported");
        return -EOPNOTSUPP;
    }
    struct net_features *f = &nd->feat;
    *f = (struct net_features){ 0 };
    f->rx_notify = sc_fe_read_bool_warn(dev, fp, "feature-rx-notify", false);
    f->sg = sc_fe_read_bool_warn(dev, fp, "feature-sg", false);
    f->gso_tcpv4 = sc_fe_read_bool_warn(dev, fp, "feature-gso-tcpv4", false);
    f->gso_tcpv6 = sc_fe_read_bool_warn(dev, fp, "feature-gso-tcpv6", false);
    f->csum = !sc_fe_read_bool_warn(dev, fp, "feature-no-csum-offload", false);
    f->ipv6_csum = sc_fe_read_bool_warn(dev, fp, "feature-ipv6-csum-offload", false);
    f->mcast_control = sc_fe_read_bool_warn(dev, fp, "request-multicast-control", false);
    unsigned long long v;
    rc = sc_fe_read_uint_opt(dev, fp, "xdp-headroom", NET_PAGE_SIZE / 2 - 1, 0, &v);
    if (rc < 0)
        return rc;
    f->xdp_headroom = (uint16_t)v;
    atomic_store(&nd->shared.xdp_headroom, f->xdp_headroom);
    net_mcast_enable(&nd->shared.mcast, f->mcast_control);
    return 0;
}

/* Ring refs and event channels of one queue, from `dir`. */
static int read_queue_keys(struct net_dev *nd, const char *dir, struct net_queue_params *p,
                           evtchn_port_t ports[2], unsigned *nports)
{
    struct sc_device *dev = nd->dev;
    unsigned long long tx, rx, ev;
    int rc = sc_fe_read_uint(dev, dir, "tx-ring-ref", UINT32_MAX, &tx);
    if (rc == 0)
        rc = sc_fe_read_uint(dev, dir, "rx-ring-ref", UINT32_MAX, &rx);
    if (rc < 0)
        return rc;
    p->tx_ref = (grant_ref_t)tx;
    p->rx_ref = (grant_ref_t)rx;
    rc = sc_fe_read_uint_opt(dev, dir, "event-channel", UINT32_MAX, UINT64_MAX, &ev);
    if (rc < 0)
        return rc;
    if (rc == 0) {
        ports[0] = (evtchn_port_t)ev;
        *nports = 1;
        p->feat.split = false;
        return 0;
    }
    unsigned long long etx, erx;
    rc = sc_fe_read_uint(dev, dir, "event-channel-tx", UINT32_MAX, &etx);
    if (rc == 0)
        rc = sc_fe_read_uint(dev, dir, "event-channel-rx", UINT32_MAX, &erx);
    if (rc < 0)
        return rc;
    ports[0] = (evtchn_port_t)etx;
    ports[1] = (evtchn_port_t)erx;
    *nports = 2;
    p->feat.split = true;
    return 0;
}

/* ---- connect / disconnect ---- */

static void vq_added(struct sc_attach *a, int result)
{
    struct net_vq *vq = a->owner;
    if (result < 0)
        sc_xenbus_device_fail(vq->nd->dev, result, "%s: adding it to a sidecore", a->q->name);
}

static void member_released(struct net_xswitch_member *m)
{
    struct net_dev *nd = m->owner;
    sc_log(SC_LOG_INFO, nd->dev->name, "disconnected");
    sc_xenbus_device_disconnected(nd->dev);
}

/* Every queue (and the control ring) is off its core and freed. */
static void vqs_detached(struct sc_attach_group *g)
{
    struct net_dev *nd = g->owner;
    for (unsigned i = 0; i < nd->nvqs; i++)
        if (nd->vqs[i].tap_fd >= 0 && nd->vqs[i].tap_fd != nd->tap_fd)
            close(nd->vqs[i].tap_fd);
    free(nd->vqs);
    nd->vqs = NULL;
    nd->nvqs = 0;
    if (nd->tap_fd >= 0)
        net_tap_set_carrier(nd->tap_fd, false);
    nd->member.released = member_released;
    if (nd->xsw && net_xswitch_release(nd->xsw, &nd->member))
        return; /* the switch's host queue goes with the last vif: member_released */
    member_released(&nd->member);
}

static void vq_detached(struct sc_attach *a, int result)
{
    (void)result;
    struct net_vq *vq = a->owner;
    net_queue_destroy(vq->q);
    vq->q = NULL;
    sc_membudget_release(&vq->mem);
}

static void ctrl_detached(struct sc_attach *a, int result)
{
    (void)result;
    struct net_dev *nd = a->owner;
    net_ctrl_destroy(nd->ctrl);
    nd->ctrl = NULL;
    sc_membudget_release(&nd->ctrl_mem);
}

/* Takes every queue (and the control ring) off its core without waiting. */
static void detach_queues(struct net_dev *nd)
{
    struct sc_attach *members[NET_MAX_QUEUES + 1];
    unsigned n = 0;
    if (nd->ctrl)
        members[n++] = &nd->ctrl_at;
    for (unsigned i = nd->nvqs; i-- > 0;)
        if (nd->vqs[i].q)
            members[n++] = &nd->vqs[i].at;
    nd->detach = (struct sc_attach_group){ .owner = nd, .done = vqs_detached };
    sc_detach_group(&nd->detach, members, n);
}

/* No core sends to our queues any more: they may go. */
static void member_left(struct net_xswitch_member *m)
{
    struct net_dev *nd = m->owner;
    nd->leaving = false;
    detach_queues(nd);
}

/* A port of the switch leaves it first: its queues stay on their cores
 * until no other core can still be sending to them (a grace period). */
static void net_disconnect(struct sc_device *dev)
{
    struct net_dev *nd = dev->priv;
    if (!nd || (!nd->vqs && !nd->ctrl) || sc_detach_group_busy(&nd->detach) || nd->leaving)
        return;
    if (nd->member.joined) {
        nd->leaving = true;
        nd->member.owner = nd;
        nd->member.left = member_left;
        net_xswitch_leave(nd->xsw, &nd->member);
    } else {
        detach_queues(nd);
    }
    if (nd->leaving || sc_detach_group_busy(&nd->detach))
        sc_xenbus_device_disconnect_pending(dev);
}

static int create_queue(struct net_dev *nd, unsigned i, struct net_queue_params *p)
{
    struct sc_device *dev = nd->dev;
    struct net_vq *vq = &nd->vqs[i];
    if (i == 0 || nd->tap_fd < 0) {
        vq->tap_fd = nd->tap_fd;
    } else {
        vq->tap_fd = net_tap_open_queue(nd->tap_name);
        if (vq->tap_fd < 0) {
            int rc = vq->tap_fd;
            sc_xenbus_device_fail(dev, rc, "queue %u: opening queue %u of %s", i, i, nd->tap_name);
            return rc;
        }
    }
    p->tap_fd = vq->tap_fd;
    snprintf(p->name, sizeof(p->name), "%.35s q%u", dev->name, i);
    /* its memory reserved first: a queue that does not fit is never made */
    uint64_t cost = net_queue_mem_cost(p) + sc_pool_queue_overhead(nd->nc->pool);
    int rc = sc_class_reserve_queue(dev, nd->nc->pool, i, cost, &vq->mem);
    if (rc < 0)
        return rc;
    vq->q = net_queue_create(p);
    if (!vq->q) {
        int err = errno ? errno : EIO;
        sc_membudget_release(&vq->mem);
        sc_xenbus_device_fail(dev, -err, "queue %u: mapping its rings (tx ref %u, rx ref %u)", i,
                              p->tx_ref, p->rx_ref);
        return -err;
    }
    net_queue_sc(vq->q)->mem_reserved = cost;
    return 0;
}

/* Every queue created: the switch port naming them, then onto cores. */
static int start_queues(struct net_dev *nd, evtchn_port_t (*ports)[2], const unsigned *nports)
{
    struct sc_device *dev = nd->dev;
    if (nd->xsw) {
        struct net_xport *xports[NET_MAX_QUEUES];
        for (unsigned i = 0; i < nd->nvqs; i++)
            xports[i] = net_queue_xport(nd->vqs[i].q);
        int rc = net_xswitch_join(nd->xsw, &nd->member, dev->name, xports, nd->nvqs,
                                  &nd->shared.hash);
        if (rc < 0) {
            sc_xenbus_device_fail(dev, rc, "joining the switch %s", net_xswitch_name(nd->xsw));
            return rc;
        }
        net_switch_mcast_filter(nd->member.port.sw, nd->member.port.id, nd->feat.mcast_control);
        for (unsigned i = 0; i < nd->nvqs; i++)
            net_queue_set_port(nd->vqs[i].q, &nd->member.port);
    }
    for (unsigned i = 0; i < nd->nvqs; i++) {
        struct net_vq *vq = &nd->vqs[i];
        int rc = sc_attach_queue(&vq->at, nd->nc->pool, net_queue_sc(vq->q), ports[i], nports[i]);
        if (rc < 0) {
            sc_xenbus_device_fail(dev, rc, "queue %u: putting it on a sidecore", i);
            return rc;
        }
    }
    return 0;
}

static void ctrl_added(struct sc_attach *a, int result)
{
    struct net_dev *nd = a->owner;
    if (result < 0)
        sc_xenbus_device_fail(nd->dev, result, "adding its control ring to a sidecore");
}

/* The control ring, if the frontend set one up (ctrl-ring-ref and
 * event-channel-ctrl, both or neither). */
static int start_ctrl(struct net_dev *nd)
{
    struct sc_device *dev = nd->dev;
    const char *fp = dev->frontend_path;
    unsigned long long ref, ev;
    int rc = sc_fe_read_uint_opt(dev, fp, "ctrl-ring-ref", UINT32_MAX, UINT64_MAX, &ref);
    if (rc < 0)
        return rc;
    if (rc == 1)
        return 0; /* no control ring */
    rc = sc_fe_read_uint(dev, fp, "event-channel-ctrl", UINT32_MAX, &ev);
    if (rc < 0)
        return rc;
    char name[SC_QUEUE_NAME_MAX];
    snprintf(name, sizeof(name), "%.35s", dev->name);
    uint64_t cost = net_ctrl_mem_cost() + sc_pool_queue_overhead(nd->nc->pool);
    char why[256];
    rc = sc_membudget_reserve(sc_pool_membudget(nd->nc->pool), dev->frontend_id, cost,
                              &nd->ctrl_mem, why, sizeof(why));
    if (rc < 0) {
        sc_xenbus_device_fail(dev, rc, "control ring %s", why);
        return rc;
    }
    nd->ctrl = net_ctrl_create(sc_xenbus_xen(dev->bus), dev->frontend_id, (grant_ref_t)ref,
                               &nd->shared.hash, name);
    if (!nd->ctrl) {
        sc_membudget_release(&nd->ctrl_mem);
        rc = -(errno ? errno : EIO);
        sc_xenbus_device_fail(dev, rc, "mapping the control ring (ref %llu)", ref);
        return rc;
    }
    net_ctrl_sc(nd->ctrl)->mem_reserved = cost;
    nd->ctrl_at = (struct sc_attach){ .owner = nd, .added = ctrl_added,
                                      .detached = ctrl_detached };
    evtchn_port_t port = (evtchn_port_t)ev;
    rc = sc_attach_queue(&nd->ctrl_at, nd->nc->pool, net_ctrl_sc(nd->ctrl), &port, 1);
    if (rc < 0) {
        sc_xenbus_device_fail(dev, rc, "putting the control ring on a sidecore");
        return rc;
    }
    return 0;
}

static int net_connect(struct sc_device *dev)
{
    struct net_dev *nd = dev->priv;
    if (nd->vqs || nd->ctrl)
        net_disconnect(dev);
    if (nd->vqs || nd->ctrl)
        return -EBUSY;
    if (nd->tap_fd < 0 && !nd->xsw) {
        sc_xenbus_device_fail(dev, -ENODEV, "no uplink: vif.tap is off and no switch is named (set "
                              "vif.tap yes, or vif.switch and bridge=)");
        return -ENODEV;
    }
    int rc = read_features(nd);
    if (rc < 0)
        return rc;
    unsigned nq = 0;
    rc = sc_fe_num_queues(dev, nd->nc->cfg.max_queues, &nq);
    if (rc < 0)
        return rc;
    nd->vqs = calloc(nq, sizeof(*nd->vqs));
    if (!nd->vqs) {
        sc_xenbus_device_fail(dev, -ENOMEM, "allocating %u queues", nq);
        return -ENOMEM;
    }
    nd->nvqs = nq;
    for (unsigned i = 0; i < nq; i++) {
        nd->vqs[i] = (struct net_vq){ .nd = nd, .tap_fd = -1 };
        nd->vqs[i].at.owner = &nd->vqs[i];
        nd->vqs[i].at.added = vq_added;
        nd->vqs[i].at.detached = vq_detached;
    }
    /* What the kernel may hand us for this guest: what the frontend takes. */
    rc = nd->tap_fd < 0 ? 0
                        : net_tap_set_offloads(nd->tap_fd, nd->feat.csum,
                                               nd->feat.sg && nd->feat.gso_tcpv4,
                                               nd->feat.sg && nd->feat.gso_tcpv6);
    if (rc < 0)
        sc_log(SC_LOG_WARN, dev->name, "setting the offloads of %s: %s", nd->tap_name,
               strerror(-rc));

    struct net_queue_params p = {
        .xen = sc_xenbus_xen(dev->bus),
        .frontend_id = dev->frontend_id,
        .feat = nd->feat,
        .shared = &nd->shared,
    };
    bool split = false;
    evtchn_port_t ports[NET_MAX_QUEUES][2];
    unsigned nports[NET_MAX_QUEUES];
    for (unsigned i = 0; i < nq; i++) {
        char dir[600];
        if (sc_fe_queue_dir(dev, nq, i, dir, sizeof(dir)) < 0) {
            sc_xenbus_device_fail(dev, -ENAMETOOLONG, "queue %u: directory name too long", i);
            return -ENAMETOOLONG;
        }
        rc = read_queue_keys(nd, dir, &p, ports[i], &nports[i]);
        if (rc == 0)
            rc = create_queue(nd, i, &p);
        if (rc < 0)
            return rc; /* the bus calls disconnect, which undoes the rest */
        split = p.feat.split;
    }
    nd->feat.split = split;
    net_hash_reset(&nd->shared.hash, nq);
    rc = start_queues(nd, ports, nports);
    if (rc == 0)
        rc = start_ctrl(nd);
    if (rc < 0)
        return rc;
    if (nd->tap_fd >= 0)
        net_tap_set_carrier(nd->tap_fd, true);
    const struct net_features *f = &nd->feat;
    sc_log(SC_LOG_INFO, dev->name,
           "connected: %u queue%s on %s,%s%s%s%s%s%s%s%s", nq, nq == 1 ? "" : "s",
           nd->xsw ? net_xswitch_name(nd->xsw) : nd->tap_name,
           f->sg ? " sg" : "", f->gso_tcpv4 ? " gso4" : "", f->gso_tcpv6 ? " gso6" : "",
           f->csum ? " csum" : " no-csum", f->ipv6_csum ? " ipv6-csum" : "",
           f->split ? " split-evtchn" : "", f->mcast_control ? " mcast-filter" : "",
           nd->ctrl ? " ctrl-ring" : "");
    return 0;
}

/* Linux netfront says Reconfiguring after changing xdp-headroom (an XDP
 * program attached or removed): the queues take the new value from their
 * next visit on. */
static int net_reconfigure(struct sc_device *dev)
{
    struct net_dev *nd = dev->priv;
    unsigned long long v;
    int rc = sc_fe_read_uint_opt(dev, dev->frontend_path, "xdp-headroom", NET_PAGE_SIZE / 2 - 1,
                                 0, &v);
    if (rc < 0)
        return rc;
    if (v != nd->feat.xdp_headroom)
        sc_log(SC_LOG_INFO, dev->name, "xdp-headroom %u -> %llu", nd->feat.xdp_headroom, v);
    nd->feat.xdp_headroom = (uint16_t)v;
    atomic_store(&nd->shared.xdp_headroom, (uint16_t)v);
    return 0;
}

/* ---- the class ---- */

static const char *const net_backend_keys[] = { "rate", NULL };
static const char *const net_frontend_keys[] = { "request-multicast-control", NULL };

const struct sc_device_class *net_device_class(struct sc_pool *pool, const struct net_config *cfg)
{
    if (!pool || !cfg || cfg->max_queues == 0 || cfg->max_queues > NET_MAX_QUEUES) {
        errno = EINVAL;
        return NULL;
    }
    for (struct net_class *c = all_classes; c; c = c->next)
        if (c->pool == pool && c->cfg.max_queues == cfg->max_queues && c->cfg.tap == cfg->tap &&
            strcmp(c->cfg.switch_name, cfg->switch_name) == 0)
            return &c->cls;
    struct net_class *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->pool = pool;
    c->cfg = *cfg;
    c->cls = (struct sc_device_class){
        .type = "vif",
        .backend_keys = net_backend_keys,
        .probe = net_probe,
        .connect = net_connect,
        .disconnect = net_disconnect,
        .remove = net_remove,
        .backend_changed = net_backend_changed,
        .frontend_keys = net_frontend_keys,
        .frontend_changed = net_frontend_changed,
        .reconfigure = net_reconfigure,
    };
    c->next = all_classes;
    all_classes = c;
    return &c->cls;
}

bool net_device_is_vif(const struct sc_device *dev)
{
    return dev && dev->cls && dev->cls->probe == net_probe;
}

int net_device_foreach_queue(struct sc_device *dev, sc_queue_visit_fn *fn, void *arg)
{
    if (!net_device_is_vif(dev) || !fn)
        return -EINVAL;
    const struct net_dev *nd = dev->priv;
    for (unsigned i = 0; nd && i < nd->nvqs; i++) {
        const struct net_vq *vq = &nd->vqs[i];
        if (!vq->q || !sc_attach_busy(&vq->at))
            continue;
        int r = fn(net_queue_sc(vq->q), vq->at.core, arg);
        if (r)
            return r;
    }
    return 0;
}
