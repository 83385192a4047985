/*
 * net_port.h - what the internal switch knows of one of its ports: the
 * owner registered with net_switch_port_add(), looked up by any sidecore.
 *
 * A vif's port names the receiving endpoints of its queues (a frame for it
 * goes to one of them, chosen by the flow so a flow stays in order); the
 * host port names the TAP interface frames for the driver domain are
 * written to, by whichever core switches them.  Filled by the control
 * thread before the port is added, read-only while it is registered, freed
 * only after a grace period (grace.h) once it is deleted.
 */
#ifndef SC_NET_PORT_H
#define SC_NET_PORT_H

#include "net_hash.h"
#include "net_xfer.h"
#include "netback.h"

struct net_switch;

struct net_port {
    struct net_switch *sw;
    int id;                                  /* in sw */
    unsigned nqueues;                        /* a vif's; 0 for the host port */
    struct net_xport *xports[NET_MAX_QUEUES];
    int host_fd;                             /* the host port's TAP; -1 for a vif */
    const struct net_hash *hash;             /* the vif's steering (control ring), or NULL */
};

/* The endpoint of p for a frame starting with `hdr` (len bytes of it): the
 * queue the vif's hash settings map it to, else one by MAC addresses. */
static inline struct net_xport *net_port_pick(const struct net_port *p, const uint8_t *hdr,
                                              size_t len)
{
    uint32_t h;
    uint8_t type;
    if (p->hash && net_hash_frame(p->hash, hdr, len, &h, &type))
        return p->xports[net_hash_queue(p->hash, h, p->nqueues)];
    h = 2166136261u;
    for (unsigned i = 0; i < 12; i++)
        h = (h ^ hdr[i]) * 16777619u;
    return p->xports[h % p->nqueues];
}

#endif
