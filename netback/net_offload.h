/*
 * net_offload.h - checksum and TCP segmentation offloads over one linear
 * Ethernet frame: header parsing, software checksum completion, software
 * TCP segmentation, and the conversions between the common offload form
 * (struct net_offload) and the two wire forms netback meets: netif's
 * NETTXF_/NETRXF_ flags plus GSO extra (<xen/io/netif.h>) and the TAP
 * device's struct virtio_net_hdr (<linux/virtio_net.h>, IFF_VNET_HDR).
 *
 * Contract
 * - Pure code: no allocation, no threads, no Xen calls, no global state;
 *   any thread may call anything here on buffers it owns.
 * - A frame is Ethernet (14 bytes, or 18 with one 802.1Q/802.1ad tag),
 *   then IPv4 (with options) or IPv6 (hop-by-hop, routing and destination
 *   options headers are walked), then TCP or UDP: net_hdr.h parses it. It may carry bytes after
 *   the IP datagram (Ethernet padding); they are never summed or segmented.
 * - Frames come from hostile guests: every header byte read is bounds
 *   checked against len and against the IP datagram's own length. Anything
 *   else (not IP, IPv4 fragment, IPv6 fragment header or jumbogram, an IHL
 *   or TCP data offset below 5, a UDP length other than the IP payload's,
 *   truncated headers, other L4 protocols) is -EPROTO.
 * - The offsets in a struct net_offload are informational (they travel in
 *   virtio_net_hdr); every function that writes into a frame parses the
 *   frame again, checks the offsets it was given against the parse (-EPROTO
 *   on a mismatch), and takes the pseudo-header from the IP header it found,
 *   never from the checksum field's old content. An IPv6 routing header
 *   with segments left puts the final destination in the pseudo-header.
 * - Returns are 0 (or a count) or a negative errno, as each function says.
 *
 * Typical use
 *   guest tx -> TAP:  net_offload_from_netif(); if csum_partial or GSO:
 *                     net_offload_setup(), net_csum_to_partial();
 *                     net_offload_to_vnet(); write vnet header + frame.
 *   TAP -> guest rx:  net_offload_from_vnet(); net_offload_setup() when the
 *                     guest needs software help; net_csum_complete() if it
 *                     has no checksum offload, net_gso_segment() if it has no
 *                     GSO for that type; else net_offload_to_netif_rx().
 */
#ifndef SC_NET_OFFLOAD_H
#define SC_NET_OFFLOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct virtio_net_hdr;       /* <linux/virtio_net.h> */
struct netif_extra_info;     /* <xen/io/netif.h> */

/* The largest frame: an IP datagram of 65535 bytes behind a tagged header. */
#define NET_FRAME_MAX        (65535u + 14u + 4u)

enum net_gso_type {
    NET_GSO_NONE = 0,
    NET_GSO_TCPV4,           /* TCP over IPv4 (netif TCPV4, virtio TCPV4) */
    NET_GSO_TCPV6,           /* TCP over IPv6 (netif TCPV6, virtio TCPV6) */
};

/*
 * What a packet carries beside its bytes: the common form of netif's
 * NETTXF_csum_blank/NETTXF_data_validated + GSO extra and virtio_net_hdr.
 * Owned by whoever holds the packet; no sharing.
 */
struct net_offload {
    bool csum_partial;    /* the L4 checksum is not computed yet (the field
                             holds nothing we trust) */
    bool csum_valid;      /* the payload's checksums are known good */
    uint8_t gso_type;     /* enum net_gso_type */
    uint16_t gso_size;    /* MSS (TCP payload bytes per segment), if GSO */
    uint16_t csum_start;  /* offset of the L4 header from the frame start */
    uint16_t csum_offset; /* offset of the checksum field from csum_start */
    uint16_t hdr_len;     /* Ethernet + IP + L4 header bytes (TCP options
                             included): what each GSO segment repeats */
};

/* ---- checksum arithmetic (RFC 1071) ----------------------------------- */

/*
 * Adds len bytes at buf to a running one's-complement sum. The words are
 * summed in memory order, so the folded result stored with memcpy lands in
 * network order on any host. Every piece but the last must have even
 * length (an odd tail is padded with a zero byte). buf need not be aligned.
 */
uint32_t net_csum_add(uint32_t sum, const void *buf, size_t len);
/* Folds a sum to 16 bits with end-around carry; NOT complemented. */
uint16_t net_csum_fold(uint32_t sum);

/* ---- parsing and software checksums ------------------------------------ */

/*
 * Parses the frame and fills o->csum_start, o->csum_offset (16 for TCP, 6
 * for UDP) and o->hdr_len; the flags and GSO fields are left as they are,
 * but checked: a GSO type needs TCP over the matching IP version and a
 * non-zero gso_size (-EINVAL otherwise). 0, -EPROTO (see Contract), or
 * -EINVAL. On error o is unchanged.
 */
int net_offload_setup(const uint8_t *frame, size_t len, struct net_offload *o);

/*
 * Computes the full TCP/UDP checksum in software and writes it into the
 * frame (a UDP result of 0 is sent as 0xffff), for a receiver without
 * checksum offload. o->csum_start/csum_offset must match the frame (as set
 * by net_offload_setup or a trusted virtio header). The caller then clears
 * csum_partial and may set csum_valid. 0 or -EPROTO.
 */
int net_csum_complete(uint8_t *frame, size_t len, const struct net_offload *o);

/*
 * Writes the folded (uncomplemented) pseudo-header sum into the checksum
 * field: Linux's CHECKSUM_PARTIAL convention, which a TAP frame sent with
 * VIRTIO_NET_HDR_F_NEEDS_CSUM must follow (the device then sums from
 * csum_start to the end and stores the complement). Whatever the field
 * held is overwritten. 0 or -EPROTO, with the same checks as above.
 */
int net_csum_to_partial(uint8_t *frame, size_t len, const struct net_offload *o);

/* ---- software segmentation --------------------------------------------- */

/* Called once per segment; returns 0 to go on or -errno to stop. seg lives
 * in the caller's scratch buffer and is overwritten by the next segment. */
typedef int (*net_emit_fn)(const uint8_t *seg, size_t seglen, void *arg);

/*
 * Cuts a TCP frame's payload into o->gso_size chunks and emits one complete
 * frame per chunk, built in scratch (which must not overlap frame): the
 * headers up to the end of the TCP options are repeated; per segment the
 * IPv4 total length, id (+1 per segment) and header checksum, or the IPv6
 * payload length, are rewritten; the TCP sequence number advances; FIN and
 * PSH stay only on the last segment and CWR only on the first; each TCP
 * checksum is computed in full. A payload that fits (or is empty) gives
 * one segment. Nothing is emitted unless every check passes first.
 * Returns the number of segments emitted; -EINVAL (gso_type not a TCP type
 * or not matching the headers, gso_size 0), -EPROTO (bad headers),
 * -EMSGSIZE (scratch_len below the first segment's length), or the first
 * error emit returned (the segments before it were emitted).
 */
int net_gso_segment(const uint8_t *frame, size_t len, const struct net_offload *o,
                    uint8_t *scratch, size_t scratch_len, net_emit_fn emit, void *arg);

/* ---- wire forms --------------------------------------------------------- */

/*
 * Fills *h (every field; host byte order, the legacy TAP default): NEEDS_CSUM
 * with csum_start/csum_offset when csum_partial, else DATA_VALID when
 * csum_valid; the GSO type, gso_size and hdr_len when GSO.
 */
void net_offload_to_vnet(const struct net_offload *o, struct virtio_net_hdr *h);

/*
 * Reads a virtio header: NEEDS_CSUM -> csum_partial with its offsets,
 * DATA_VALID -> csum_valid, GSO TCPV4/TCPV6 (which imply csum_partial) with
 * gso_size and hdr_len. -EINVAL for other GSO types (UDP, the ECN bit), a
 * GSO size of 0, or the RSC_INFO flag; then o is unchanged. 0 otherwise.
 */
int net_offload_from_vnet(const struct virtio_net_hdr *h, struct net_offload *o);

/*
 * Reads a guest tx packet's NETTXF_ flags and, when the first request had
 * NETTXF_extra_info with a GSO extra, that extra (else NULL): csum_blank ->
 * csum_partial, data_validated -> csum_valid, a GSO extra -> its type and
 * size, and csum_partial (the guest leaves GSO checksums to us). netif
 * carries no offsets: call net_offload_setup before using them. -EINVAL
 * for an extra that is not XEN_NETIF_EXTRA_TYPE_GSO, a GSO type other than
 * TCPV4/TCPV6, or a size of 0; then o is unchanged. 0 otherwise.
 */
int net_offload_from_netif(uint16_t nettxf_flags, const struct netif_extra_info *gso,
                           struct net_offload *o);

/*
 * The guest rx side: sets *netrxf_flags to the offload bits only (callers
 * OR in NETRXF_more_data): csum_partial -> NETRXF_csum_blank |
 * NETRXF_data_validated, csum_valid -> NETRXF_data_validated, GSO ->
 * NETRXF_extra_info. For GSO, fills *gso_out (type GSO, flags 0: the caller
 * sets XEN_NETIF_EXTRA_FLAG_MORE if another extra follows) and sets
 * *has_gso; otherwise *has_gso = false and *gso_out is untouched.
 */
void net_offload_to_netif_rx(const struct net_offload *o, uint16_t *netrxf_flags,
                             struct netif_extra_info *gso_out, bool *has_gso);

#endif
