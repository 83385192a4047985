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

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net_hash.h"
#include "net_hdr.h"
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

static inline uint32_t net_fnv(uint32_t h, const uint8_t *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 16777619u;
    return h;
}

/* FNV-1a's low bits are the xor of its input's low bits (two ports moving
 * together cancel out): mixed before a modulo picks a queue. */
static inline uint32_t net_hash_mix(uint32_t h)
{
    h ^= h >> 16;
    h *= 0x85ebca6bu;
    h ^= h >> 13;
    h *= 0xc2b2ae35u;
    return h ^ (h >> 16);
}

/* A flow's hash from the first len bytes of a frame: IP addresses and TCP
 * or UDP ports when it has them (so one guest's flows spread over a vif's
 * queues, as Linux's flow hash does), else the MAC addresses. */
static inline uint32_t net_flow_hash(const uint8_t *hdr, size_t len)
{
    uint32_t h = 2166136261u;
    struct net_hdr nh;
    net_hdr_parse(hdr, len, &nh);
    if (!nh.ipv)
        return net_fnv(h, hdr, len < 12 ? len : 12);
    h = net_fnv(h, hdr + net_hdr_addr_off(&nh), net_hdr_addr_len(&nh));
    if ((nh.proto == NET_IPPROTO_TCP || nh.proto == NET_IPPROTO_UDP) &&
        net_hdr_l4_has(&nh, len, 4))
        h = net_fnv(h, hdr + nh.l4, 4); /* the ports */
    return h;
}

/* The endpoint of p for a frame starting with `hdr` (len bytes of it): the
 * queue the vif's hash settings map it to, else one by its flow. */
static inline struct net_xport *net_port_pick(const struct net_port *p, const uint8_t *hdr,
                                              size_t len)
{
    uint32_t h;
    uint8_t type;
    if (p->hash && net_hash_frame(p->hash, hdr, len, &h, &type))
        return p->xports[net_hash_queue(p->hash, h, p->nqueues)];
    return p->xports[net_hash_mix(net_flow_hash(hdr, len)) % p->nqueues];
}

#endif
