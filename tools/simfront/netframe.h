/*
 * netframe.h - Ethernet frames for the simulated netfront (libsimfront.a):
 * header parsing, Internet checksums (complete, and partial as a checksum
 * offload leaves them), and the load generator's test frames.
 *
 * Test frames are IPv4 or IPv6, UDP (or TCP, for frames GSO will cut), from
 * port 10000+flow to port 20000+flow.  A message's payload starts with a
 * 22-byte header (origin MAC, sequence number, send time, a check value:
 * small enough for a 64-byte UDP/IPv4 frame); every other byte is a function of the flow and of its
 * stream position ((seq << 16) + offset, which is the TCP sequence number
 * for TCP), so any segment a backend cuts from a message can be checked on
 * its own, without the rest.
 *
 * Pure functions over caller buffers; any thread.  Returns 0 or -errno.
 */
#ifndef SC_SIMFRONT_NETFRAME_H
#define SC_SIMFRONT_NETFRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NFR_ETH_HLEN        14u
#define NFR_ETH_ALEN        6u
#define NFR_ETH_P_IP        0x0800
#define NFR_ETH_P_IPV6      0x86dd
#define NFR_MSG_HDR_LEN     22u         /* the message header in the payload */
#define NFR_PORT_SRC_BASE   10000u
#define NFR_PORT_DST_BASE   20000u
#define NFR_MAX_FLOWS       10000u
#define NFR_MAX_FRAME       65535u

/* Where a TCP/UDP frame's headers are. */
struct nfr_l4 {
    size_t l3;              /* IP header */
    size_t l4;              /* TCP/UDP header */
    size_t payload;         /* first byte after the TCP/UDP header */
    size_t end;             /* end of the IP packet (trailing padding excluded) */
    uint8_t proto;          /* IPPROTO_TCP or IPPROTO_UDP */
    bool ipv6;
};

/*
 * IPv4 (not a fragment) or IPv6 (no extension header) carrying TCP or UDP.
 * 0 and *out; -ENOENT another kind of frame (ARP, ICMP, fragment...);
 * -EINVAL truncated or inconsistent lengths.
 */
int nfr_parse(const uint8_t *f, size_t len, struct nfr_l4 *out);
/* Offset of the L4 checksum field: l4 + 16 (TCP) or l4 + 6 (UDP). */
size_t nfr_csum_field(const struct nfr_l4 *p);

/* Ones' complement sum of big-endian 16-bit words, added to `sum`. */
uint32_t nfr_sum(uint32_t sum, const void *data, size_t n);
uint16_t nfr_fold(uint32_t sum);
/* The pseudo-header sum (addresses, protocol, L4 length), not folded. */
uint32_t nfr_pseudo_sum(const uint8_t *f, const struct nfr_l4 *p);

/* The L4 checksum field set to the folded pseudo-header sum: what a stack
 * sending with checksum offload leaves (CHECKSUM_PARTIAL). */
void nfr_csum_set_partial(uint8_t *f, const struct nfr_l4 *p);
/* The L4 checksum computed over the whole segment and stored. */
void nfr_csum_set_full(uint8_t *f, const struct nfr_l4 *p);
/* Completes a partial checksum virtio-style: the sum of [start, len), the
 * field included, stored complemented at start + off.  0 or -EINVAL. */
int nfr_csum_complete_at(uint8_t *f, size_t len, size_t start, size_t off);
/* The IPv4 header checksum is right (true for IPv6). */
bool nfr_ip_csum_ok(const uint8_t *f, const struct nfr_l4 *p);
/* The L4 checksum is right; with `partial`, the field must hold the
 * pseudo-header sum instead.  A UDP/IPv4 checksum of 0 (none) is right. */
bool nfr_l4_csum_ok(const uint8_t *f, const struct nfr_l4 *p, bool partial);
/* A hash of the addresses and ports (0 for a frame nfr_parse rejects), for
 * picking a queue. */
uint32_t nfr_flow_hash(const uint8_t *f, size_t len);

/* ---- test frames ---- */

struct nfr_spec {
    uint8_t src_mac[NFR_ETH_ALEN], dst_mac[NFR_ETH_ALEN];
    bool ipv6;
    uint8_t src_ip[16], dst_ip[16];     /* IPv4: the first 4 bytes */
    bool tcp;                           /* TCP instead of UDP */
    bool csum_partial;                  /* leave the L4 checksum partial */
};

/* A message: what its header carries. */
struct nfr_msg {
    uint8_t origin[NFR_ETH_ALEN];       /* the sender's MAC */
    uint16_t flow;                      /* carried by the ports */
    uint32_t seq;                       /* per flow, from 0 */
    uint64_t ts_ns;                     /* send time (sc_clock_ns) */
};

/* Headers before the payload of a test frame of this kind. */
size_t nfr_header_len(const struct nfr_spec *s);
/*
 * Writes a whole test frame of frame_len bytes (headers included) for
 * message m into buf.  0, or -EINVAL if the frame cannot hold the headers
 * and the message header, is above NFR_MAX_FRAME, or m->flow is too big.
 */
int nfr_build(uint8_t *buf, size_t frame_len, const struct nfr_spec *s, const struct nfr_msg *m);

struct nfr_check {
    bool has_msg;           /* the frame starts its message: msg is valid */
    struct nfr_msg msg;
    uint16_t flow;          /* from the ports */
    size_t payload;         /* payload bytes checked */
};
/*
 * Checks a received frame: -ENOENT not a test frame (other traffic);
 * -EILSEQ an IP or L4 checksum is wrong (L4 may be partial if `partial`);
 * -EBADMSG the message header or a payload byte is wrong; 0 all right.
 */
int nfr_verify(const uint8_t *f, size_t len, bool partial, struct nfr_check *out);

#endif /* SC_SIMFRONT_NETFRAME_H */
