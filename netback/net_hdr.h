/*
 * net_hdr.h - where an Ethernet frame's headers lie: netback's one parser of
 * L2/L3/L4, for every reader of a frame's headers (the offloads, the control
 * ring's Toeplitz hash, the switch's flow hash, the receive side's checksum
 * decision).
 *
 * Contract
 * - Pure code: no allocation, no state; any thread, on bytes it owns.
 * - What it knows: Ethernet (14 bytes, or 18 behind one 802.1Q or 802.1ad
 *   tag); IPv4 (options skipped) or IPv6 (hop-by-hop, routing and
 *   destination options headers walked; a routing header with segments
 *   left names the pseudo-header's destination); the L4 protocol, and for
 *   TCP (data offset of 5 or more) and UDP the end of the L4 header.
 * - The buffer may be the whole frame or only its head (the switch looks at
 *   the first bytes): nothing at or past len is read, and what is not in
 *   the buffer is not found (an IP header cut short is not IP, an L4
 *   header cut short has no hdr_end).  The IP datagram's own length is
 *   reported (`end`), not required to fit: a caller holding the whole frame
 *   checks it (net_offload.c does, and rejects what does not fit).
 * - Frames come from hostile guests: every byte read is bounds checked,
 *   and the walk of IPv6 extension headers stays within both the datagram
 *   and the buffer.
 */
#ifndef SC_NET_HDR_H
#define SC_NET_HDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NET_ETH_HLEN         14u
#define NET_VLAN_HLEN        4u
#define NET_ETHERTYPE_IPV4   0x0800u
#define NET_ETHERTYPE_IPV6   0x86ddu
#define NET_ETHERTYPE_8021Q  0x8100u
#define NET_ETHERTYPE_8021AD 0x88a8u
#define NET_IPV4_HLEN_MIN    20u
#define NET_IPV6_HLEN        40u
#define NET_IPPROTO_TCP      6u
#define NET_IPPROTO_UDP      17u

struct net_hdr {
    size_t l3;          /* the L3 header: NET_ETH_HLEN, or + NET_VLAN_HLEN behind a tag */
    uint16_t ethertype; /* after the tag; 0 when the buffer ends first */
    /* The rest is set only for IP (else zero): */
    uint8_t ipv;        /* 4 or 6: that version's fixed header is whole in the buffer */
    uint8_t proto;      /* IPv4's protocol; IPv6's next header after those walked */
    bool fragment;      /* IPv4 more-fragments or a fragment offset */
    size_t l4;          /* the L4 header; 0 when not found (an IPv4 IHL below 5,
                           IPv6 extension headers cut short or malformed) */
    size_t hdr_end;     /* TCP/UDP: the end of its header (TCP options included)
                           when whole in the datagram and the buffer; else 0 */
    size_t end;         /* the end of the IP datagram, by its header (may be past len) */
    size_t dst;         /* the pseudo-header's destination address */
};

/* A 16-bit header field in network order, at any alignment. */
static inline uint16_t net_rd16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

/* The ethertype after at most one tag, and where the L3 header starts:
 * 0 when the buffer ends before either. */
static inline uint16_t net_hdr_ethertype(const uint8_t *f, size_t len, size_t *l3)
{
    *l3 = NET_ETH_HLEN;
    if (len < NET_ETH_HLEN)
        return 0;
    uint16_t type = net_rd16(f + 12);
    if (type == NET_ETHERTYPE_8021Q || type == NET_ETHERTYPE_8021AD) {
        *l3 += NET_VLAN_HLEN;
        if (len < *l3)
            return 0;
        type = net_rd16(f + 16);
    }
    return type;
}

/* Fills *h from the first len bytes of a frame (see Contract). */
void net_hdr_parse(const uint8_t *f, size_t len, struct net_hdr *h);

/* Whether the frame says IPv6 (its ethertype; the header may be cut short). */
static inline bool net_hdr_is_ipv6(const uint8_t *f, size_t len)
{
    size_t l3;
    return net_hdr_ethertype(f, len, &l3) == NET_ETHERTYPE_IPV6;
}

/* The source and destination addresses, back to back from this offset:
 * net_hdr_addr_len bytes (8 for IPv4, 32 for IPv6).  IP only. */
static inline size_t net_hdr_addr_off(const struct net_hdr *h)
{
    return h->l3 + (h->ipv == 4 ? 12u : 8u);
}

static inline size_t net_hdr_addr_len(const struct net_hdr *h)
{
    return h->ipv == 4 ? 8u : 32u;
}

/* Whether the first n bytes of the L4 header are in the buffer: it was
 * found, the datagram is no fragment (only the first has the header, and
 * the others of its flow would go elsewhere), and l4 + n <= len.  TCP's
 * and UDP's ports are their first 4 bytes. */
static inline bool net_hdr_l4_has(const struct net_hdr *h, size_t len, size_t n)
{
    return h->l4 && !h->fragment && h->l4 + n <= len;
}

#endif
