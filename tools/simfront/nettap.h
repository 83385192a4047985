/*
 * nettap.h - simnetfront's TAP adapter: a TAP interface inside a network
 * namespace carries that namespace's Linux stack over a netfront device's
 * rings, so ping, iperf3 or anything else there is the guest.
 *
 * The TAP is opened with IFF_TAP|IFF_NO_PI|IFF_VNET_HDR inside the
 * namespace (setns to /run/netns/<name> and back), given the vif's MAC, the
 * MTU and an address with `ip -n <name>`, and offered through TUNSETOFFLOAD
 * only the offloads the backend negotiated, so what the kernel hands us can
 * go on the ring as it is: virtio_net_hdr NEEDS_CSUM becomes csum_blank,
 * GSO_TCPV4/6 a GSO extra, and back the other way.
 *
 * One thread; nettap_run() returns when *stop is set (a signal handler's
 * flag) or the backend closes the device.  Returns 0 or -errno.
 */
#ifndef SC_SIMFRONT_NETTAP_H
#define SC_SIMFRONT_NETTAP_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/virtio_net.h>

#include "netfront.h"

/* What the backend negotiated, as the conversions need it. */
struct nettap_offloads {
    bool csum4, csum6;          /* csum_blank may be sent for IPv4 / IPv6 */
    bool tso4, tso6;            /* GSO extras of that type may be sent */
};
/* From a device's negotiated features (TSO only with the matching csum). */
void nettap_offloads_from(const struct nf_dev_info *in, struct nettap_offloads *out);
/* TUN_F_* for TUNSETOFFLOAD. */
unsigned nettap_tun_flags(const struct nettap_offloads *o);

/*
 * A frame read from the TAP: its virtio_net_hdr to the nf_send() meta.
 * A partial checksum that may not go partial is completed in `frame`.
 * 0, or -EOPNOTSUPP (GSO type not negotiated, UDP fragmentation),
 * -EINVAL (checksum position outside the frame).
 */
int nettap_to_netif(const struct virtio_net_hdr *vh, uint8_t *frame, size_t len,
                    const struct nettap_offloads *o, struct nf_tx_meta *meta);
/*
 * A frame from the rings to the virtio_net_hdr written before it on the
 * TAP (csum_blank: NEEDS_CSUM at the L4 checksum; GSO: its type, size and
 * header length, the checksum made partial if it was not).  0, or -EINVAL
 * for a partial checksum or GSO on a frame without TCP/UDP headers.
 */
int nettap_from_netif(const struct nf_rx_meta *m, uint8_t *frame, size_t len,
                      struct virtio_net_hdr *vh);

struct nettap_opts {
    const char *netns;          /* ip netns name; NULL: this namespace */
    const char *ifname;         /* interface name, e.g. "eth0" */
    const char *addr;           /* "10.0.0.2/24", or NULL for none */
    unsigned mtu;               /* 0: the vif's mtu */
    volatile sig_atomic_t *stop;
};

struct nettap_stats {
    uint64_t to_ring, to_ring_bytes;        /* TAP -> backend */
    uint64_t from_ring, from_ring_bytes;    /* backend -> TAP */
    uint64_t to_ring_gso, to_ring_csum_blank, csum_completed;
    uint64_t from_ring_gso, from_ring_csum_blank;
    uint64_t dropped_to_ring;               /* could not convert or send */
    uint64_t dropped_from_ring;             /* could not convert or write */
};

/* Creates the TAP, configures it, shuttles frames until stopped. */
int nettap_run(struct nf_dev *d, const struct nettap_opts *o, struct nettap_stats *st,
               char *err, size_t errlen);

#endif /* SC_SIMFRONT_NETTAP_H */
