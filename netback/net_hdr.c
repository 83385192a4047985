/*
 * net_hdr.c - where an Ethernet frame's headers lie (net_hdr.h).  Header
 * fields are read byte by byte in network order: nothing casts the frame
 * to a struct, so alignment and host byte order never matter.
 */
#include "net_hdr.h"

#include <string.h>

#define IPV4_MF_OFFSET  0x3fffu  /* more-fragments bit + fragment offset */
#define PROTO_HOPOPTS   0u
#define PROTO_ROUTING   43u
#define PROTO_DSTOPTS   60u
#define TCP_HLEN_MIN    20u
#define UDP_HLEN        8u

/* The bytes of the datagram that are in the buffer end here. */
static inline size_t bound_of(const struct net_hdr *h, size_t len)
{
    return h->end < len ? h->end : len;
}

static void parse_ipv4(const uint8_t *f, size_t len, struct net_hdr *h)
{
    size_t l3 = h->l3;
    if (len - l3 < NET_IPV4_HLEN_MIN || f[l3] >> 4 != 4)
        return;
    size_t ihl = (size_t)(f[l3] & 0x0f) * 4;
    h->ipv = 4;
    h->proto = f[l3 + 9];
    h->fragment = (net_rd16(f + l3 + 6) & IPV4_MF_OFFSET) != 0;
    h->end = l3 + net_rd16(f + l3 + 2);
    h->dst = l3 + 16;
    if (ihl >= NET_IPV4_HLEN_MIN)
        h->l4 = l3 + ihl;
}

/*
 * A routing header with segments left names the final destination, which
 * the sender's pseudo-header used. Types 0 and 2 list it last; a segment
 * routing header (type 4) lists segments in reverse, so it comes first.
 * False for one that cannot be read.
 */
static bool ipv6_routing_dst(const uint8_t *f, size_t off, size_t hlen, size_t *dst)
{
    unsigned type = f[off + 2], segs_left = f[off + 3];

    if (segs_left == 0)
        return true;
    if (hlen < 8 + 16)
        return false;
    switch (type) {
    case 0:
    case 2:
        if ((hlen - 8) % 16)
            return false;
        *dst = off + 8 + ((hlen - 8) / 16 - 1) * 16;
        return true;
    case 4:
        *dst = off + 8;
        return true;
    default:
        return false;
    }
}

static void parse_ipv6(const uint8_t *f, size_t len, struct net_hdr *h)
{
    size_t l3 = h->l3;
    if (len - l3 < NET_IPV6_HLEN || f[l3] >> 4 != 6)
        return;
    h->ipv = 6;
    /* A payload length of 0 (a jumbogram, RFC 2675) leaves no room for an
     * L4 header: larger than any frame we carry. */
    h->end = l3 + NET_IPV6_HLEN + net_rd16(f + l3 + 4);
    h->dst = l3 + 24;
    size_t bound = bound_of(h, len), off = l3 + NET_IPV6_HLEN;
    unsigned next = f[l3 + 6];
    /* Each extension header is at least 8 bytes, so this ends. */
    while (next == PROTO_HOPOPTS || next == PROTO_ROUTING || next == PROTO_DSTOPTS) {
        h->proto = (uint8_t)next;
        if (bound - off < 8)
            return;
        size_t hlen = ((size_t)f[off + 1] + 1) * 8;
        if (hlen > bound - off)
            return;
        if (next == PROTO_ROUTING && !ipv6_routing_dst(f, off, hlen, &h->dst))
            return;
        next = f[off];
        off += hlen;
    }
    /* A fragment header, ESP, AH, no-next-header...: all end here. */
    h->proto = (uint8_t)next;
    h->l4 = off;
}

/* The end of a TCP or UDP header whole in the datagram and the buffer. */
static size_t l4_hdr_end(const uint8_t *f, size_t len, const struct net_hdr *h)
{
    size_t bound = bound_of(h, len);
    if (h->l4 > bound) /* an IPv4 total length below its IHL, or IHL past len */
        return 0;
    size_t room = bound - h->l4;
    if (h->proto == NET_IPPROTO_TCP && room >= TCP_HLEN_MIN) {
        size_t doff = (size_t)(f[h->l4 + 12] >> 4) * 4;
        return doff >= TCP_HLEN_MIN && doff <= room ? h->l4 + doff : 0;
    }
    if (h->proto == NET_IPPROTO_UDP && room >= UDP_HLEN)
        return h->l4 + UDP_HLEN;
    return 0;
}

void net_hdr_parse(const uint8_t *f, size_t len, struct net_hdr *h)
{
    memset(h, 0, sizeof(*h));
    h->ethertype = net_hdr_ethertype(f, len, &h->l3);
    if (h->ethertype == NET_ETHERTYPE_IPV4)
        parse_ipv4(f, len, h);
    else if (h->ethertype == NET_ETHERTYPE_IPV6)
        parse_ipv6(f, len, h);
    if (h->l4)
        h->hdr_end = l4_hdr_end(f, len, h);
}
