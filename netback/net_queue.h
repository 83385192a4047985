/*
 * net_queue.h - one netif queue (a tx ring, an rx ring, one or two event
 * channels) served by a sidecore, with a TAP descriptor as its uplink.
 *
 * Contract: the control thread creates the queue (both rings mapped,
 * attached where an earlier backend left them), hands net_queue_sc() to
 * sc_attach_queue() with the frontend's event channels (tx first when
 * split), and destroys it after the detach.  In between only the sidecore
 * touches it: guest frames go from the tx ring to the TAP descriptor with
 * one batched grant copy each, frames read from the TAP descriptor go to
 * the rx ring the same way; offload metadata crosses as virtio_net_hdr on
 * the TAP side and as netif flags and GSO extras on the ring side, with a
 * software checksum or segmentation where the frontend lacks the feature.
 * What a vif shares between its queues (rate, multicast filter) lives in a
 * struct net_vif_shared the device owns and outlives its queues with.
 *
 * Threads: create/destroy/describe on the control thread; the rest on the
 * owning sidecore.  Returns NULL + errno, or 0 / -errno.
 */
#ifndef SC_NET_QUEUE_H
#define SC_NET_QUEUE_H

#include <stdbool.h>
#include <stdint.h>

#include "net_hash.h"
#include "net_mcast.h"
#include "net_rate.h"
#include "queue.h"
#include "xen.h"

/* What the frontend negotiated (netif.h's feature keys). */
struct net_features {
    bool sg;          /* feature-sg: frames over several slots */
    bool gso_tcpv4;   /* feature-gso-tcpv4: it takes TCPv4 GSO frames */
    bool gso_tcpv6;
    bool csum;        /* it takes partial checksums (no feature-no-csum-offload) */
    bool ipv6_csum;   /* feature-ipv6-csum-offload */
    bool rx_notify;   /* feature-rx-notify: it kicks when it posts rx buffers */
    bool split;       /* event-channel-tx / -rx */
    bool mcast_control; /* request-multicast-control */
    uint16_t xdp_headroom; /* bytes left free at the start of each rx frame */
};

/* Per vif, shared by its queues (any sidecore). */
struct net_vif_shared {
    struct net_rate tx_rate;  /* the guest's transmit side (`rate`) */
    struct net_rate rx_rate;  /* offered on receive too (vif.rx-rate, sidecorectl) */
    struct net_mcast mcast;
    struct net_hash hash;     /* the control ring's settings (net_ctrl.h) */
    _Atomic uint16_t xdp_headroom; /* changes with a frontend's Reconfiguring */
};

struct net_queue_params {
    struct sc_xen *xen;
    domid_t frontend_id;
    char name[SC_QUEUE_NAME_MAX];
    grant_ref_t tx_ref, rx_ref;
    struct net_features feat;
    int tap_fd;                   /* the TAP uplink (the device's, not closed here),
                                     or -1 for a port of the internal switch */
    struct net_vif_shared *shared;
};

struct net_queue;

struct net_queue *net_queue_create(const struct net_queue_params *p);
/* The most memory a queue made from p can hold, in bytes (reserved before
 * it is made: membudget.h): the queue, its frame buffers (a tx batch and an
 * rx backlog of 64 KiB GSO frames, populated only when touched), switch
 * records and transfers, grant copy table, the two mapped ring pages and
 * their response logs.  Kernel memory behind its TAP queue is not ours. */
uint64_t net_queue_mem_cost(const struct net_queue_params *p);
/* The queue's vif is a port of the internal switch (net_port.h): before
 * the attach, with every queue of the vif created (the port names their
 * endpoints: net_queue_xport). */
struct net_port;
struct net_xport;
void net_queue_set_port(struct net_queue *q, struct net_port *port);
struct net_xport *net_queue_xport(struct net_queue *q);
/* After the detach (or if never attached): unmaps, frees. */
void net_queue_destroy(struct net_queue *q);
struct sc_queue *net_queue_sc(struct net_queue *q);

/* The device counters every net queue has, in order (for describe). */
enum net_queue_counter {
    NETQ_TX_PACKETS, NETQ_TX_BYTES, NETQ_TX_DROPS, NETQ_TX_ERRORS, NETQ_TX_THROTTLED,
    NETQ_RX_PACKETS, NETQ_RX_BYTES, NETQ_RX_DROPS, NETQ_RX_FILTERED, NETQ_RX_ERRORS,
    NETQ_RX_THROTTLED, NETQ_CSUM_FIXUPS, NETQ_GSO_SEGMENTED, NETQ_MCAST_OPS,
    NETQ__COUNT
};
extern const char *const net_queue_counter_names[NETQ__COUNT];

#endif
