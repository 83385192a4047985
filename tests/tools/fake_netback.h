/*
 * fake_netback.h - test helper: a fake netback in a forked process acting
 * as dom0 through xenstore and xsim grant mapping.  It follows the vif
 * handshake of each guest as Linux netback does (feature keys and
 * InitWait, rings mapped at the frontend's Connected, Closing/Closed, a
 * new InitWait after a frontend's Initialising), answers the control ring
 * (GET_HASH_MAPPING_SIZE: 128; the rest NOT_SUPPORTED), and moves every
 * frame a guest sends to a receive ring, offloads passed through (csum
 * flags; a GSO extra if the receiver took GSO, else the frame is dropped:
 * no segmentation here).  It waits for receive buffers rather than drop.
 * Runs until killed (and dies with the test).
 */
#ifndef SC_TEST_FAKE_NETBACK_H
#define SC_TEST_FAKE_NETBACK_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <xen/xen.h>

#define FAKE_NETBACK_MAX_GUESTS 2u

struct fake_netback_opts {
    /* Offered: feature-rx-copy, -sg, -gso-tcpv4/6, -ipv6-csum-offload,
     * -no-csum-offload, -split-event-channels, -multicast-control,
     * -dynamic-multicast-control, -ctrl-ring, -xdp-headroom. */
    bool rx_copy, sg, gso4, gso6, csum6, no_csum, split, mcast, dyn_mcast, ctrl, xdp;
    int max_queues;             /* -1: key absent */
    bool cross;                 /* guest 0 <-> guest 1; else each to itself */
    bool corrupt;               /* flip the last byte of every frame */
};

/* Serves vif `devid` of each of the n guests (n <= 2); the child's pid, or
 * -errno. */
pid_t fake_netback_start(const char *dir, const domid_t *guests, unsigned n, uint32_t devid,
                         const struct fake_netback_opts *o);

#endif
