/*
 * net_dev.h - the vif device's per-device state, shared by its lifecycle
 * (net_xenbus.c) and its views (net_describe.c).  Internal to netback.
 * Control thread only, like everything on the bus; the queues' counters and
 * the vif's shared rate and filter are read through their atomics.
 */
#ifndef SC_NET_DEV_H
#define SC_NET_DEV_H

#include <stdbool.h>
#include <stdint.h>

#include "membudget.h"
#include "net_ctrl.h"
#include "net_queue.h"
#include "net_tap.h"
#include "net_xswitch.h"
#include "netback.h"
#include "queue_attach.h"
#include "xenbus.h"

struct net_class {
    struct sc_device_class cls; /* first: dev->cls points here */
    struct sc_pool *pool;
    struct net_config cfg;
    struct net_class *next;
};

/* One netif queue of a connected vif and its place on a core. */
struct net_vq {
    struct net_queue *q;
    struct sc_attach at;
    struct net_dev *nd;
    int tap_fd;              /* its uplink descriptor (queue 0: the device's) */
    struct sc_mem_resv mem;  /* q's memory, held exactly while q exists */
};

/* dev->priv. */
struct net_dev {
    struct sc_device *dev;
    const struct net_class *nc;
    uint8_t mac[6];          /* the guest's, from the toolstack's `mac` */
    bool has_mac;
    unsigned handle;
    unsigned mtu;
    char *rate, *bridge;     /* as the toolstack wrote them (NULL: absent) */
    char tap_name[NET_TAP_NAME_MAX];
    int tap_fd;              /* the interface's first queue; -1 without one */
    bool keep_tap;           /* adopted from an earlier daemon: a failed probe leaves it */
    struct net_xswitch *xsw; /* the internal switch it is a port of, or NULL */
    struct net_xswitch_member member;
    bool leaving;            /* disconnecting: waiting for the switch's grace period */
    struct net_vif_shared shared;

    /* the connection */
    struct net_features feat;
    struct net_ctrl *ctrl;   /* the control ring, when the frontend gave one */
    struct sc_attach ctrl_at;
    struct sc_mem_resv ctrl_mem; /* ctrl's memory, held exactly while ctrl exists */
    struct net_vq *vqs;
    unsigned nvqs;
    struct sc_attach_group detach; /* the queues on their way off their cores */
};

static inline struct xs_handle *net_xs_of(const struct net_dev *nd)
{
    return sc_xenbus_xs(nd->dev->bus);
}

#endif
