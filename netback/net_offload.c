/*
 * net_offload.c - see net_offload.h. All multi-byte header fields are read
 * and written byte by byte in network order; nothing casts the frame to a
 * struct, so alignment and host byte order never matter.
 */
#include <errno.h>
#include <string.h>
#include <arpa/inet.h>
#include <linux/virtio_net.h>

#include "xen_ring.h" /* before any ring header */
#include <xen/io/netif.h>

#include "net_hdr.h"
#include "net_offload.h"

#define TCP_CSUM_OFF    16u
#define UDP_CSUM_OFF    6u

#define TCP_FIN 0x01u
#define TCP_PSH 0x08u
#define TCP_CWR 0x80u

static inline uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline void wr16(uint8_t *p, unsigned v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static inline void wr32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* ---- checksum arithmetic ---------------------------------------------- */

/*
 * 32-bit loads summed into 64 bits: 2^16 = 1 modulo 0xffff, so a sum of
 * 32-bit words folds to the same value as the sum of their 16-bit halves,
 * and a frame (< 2^17 words) cannot overflow the accumulator.
 */
uint32_t net_csum_add(uint32_t sum, const void *buf, size_t len)
{
    const uint8_t *p = buf;
    uint64_t acc = sum;
    uint32_t w;

    while (len >= 16) {
        uint32_t a, b, c, d;
        memcpy(&a, p, 4);
        memcpy(&b, p + 4, 4);
        memcpy(&c, p + 8, 4);
        memcpy(&d, p + 12, 4);
        acc += (uint64_t)a + b + c + d;
        p += 16;
        len -= 16;
    }
    while (len >= 4) {
        memcpy(&w, p, 4);
        acc += w;
        p += 4;
        len -= 4;
    }
    if (len >= 2) {
        uint16_t h;
        memcpy(&h, p, 2);
        acc += h;
        p += 2;
        len -= 2;
    }
    if (len) {
        uint8_t tail[2] = { p[0], 0 };
        uint16_t h;
        memcpy(&h, tail, 2);
        acc += h;
    }
    acc = (acc & 0xffffffffu) + (acc >> 32);
    acc = (acc & 0xffffffffu) + (acc >> 32);
    return (uint32_t)acc;
}

uint16_t net_csum_fold(uint32_t sum)
{
    sum = (sum & 0xffffu) + (sum >> 16);
    sum = (sum & 0xffffu) + (sum >> 16);
    return (uint16_t)sum;
}

/* Complemented result, in memory order, written into the frame at p. */
static void store_csum(uint8_t *p, uint32_t sum, bool udp)
{
    uint16_t c = (uint16_t)~net_csum_fold(sum);

    /* UDP's 0 means "no checksum"; its one's-complement twin goes out. */
    if (udp && c == 0)
        c = 0xffff;
    memcpy(p, &c, 2);
}

/* ---- parsing ---------------------------------------------------------- */

/*
 * net_hdr_parse, then what the offloads need of a whole frame (see
 * net_offload.h's Contract): the IP datagram in the frame, no fragment
 * (its checksum covers bytes we do not have), TCP or UDP with its header
 * whole, a UDP length that is the IP payload's (receivers sum the UDP
 * length's bytes; anything else leaves them summing something else), and
 * csum_start and hdr_len in 16 bits, as they travel.
 */
static int parse(const uint8_t *f, size_t len, struct net_hdr *h)
{
    net_hdr_parse(f, len, h);
    /* hdr_end: IP, and a TCP or UDP header found whole in its datagram. */
    if (!h->hdr_end || h->end > len || h->fragment || h->hdr_end > 0xffff)
        return -EPROTO;
    if (h->proto == NET_IPPROTO_UDP && net_rd16(f + h->l4 + 4) != h->end - h->l4)
        return -EPROTO;
    return 0;
}

static unsigned csum_off(const struct net_hdr *h)
{
    return h->proto == NET_IPPROTO_TCP ? TCP_CSUM_OFF : UDP_CSUM_OFF;
}

/* The sum of the pseudo-header for an L4 segment of l4len bytes. */
static uint32_t pseudo_sum(const uint8_t *f, const struct net_hdr *h, size_t l4len)
{
    size_t alen = net_hdr_addr_len(h) / 2; /* one address */
    uint32_t sum = net_csum_add(0, f + net_hdr_addr_off(h), alen);

    sum = net_csum_add(sum, f + h->dst, alen);
    /* Protocol and length as 16-bit network-order words (the upper
     * halves of IPv6's 32-bit fields are zero). */
    uint16_t w[2] = { htons((uint16_t)h->proto), htons((uint16_t)l4len) };
    return net_csum_add(sum, w, sizeof(w));
}

/* Parses f and checks that o's checksum offsets agree with what is there. */
static int parse_matching(const uint8_t *f, size_t len, const struct net_offload *o,
                          struct net_hdr *h)
{
    int rc = parse(f, len, h);

    if (rc < 0)
        return rc;
    if (o->csum_start != h->l4 || o->csum_offset != csum_off(h))
        return -EPROTO;
    return 0;
}

int net_offload_setup(const uint8_t *frame, size_t len, struct net_offload *o)
{
    struct net_hdr h;
    int rc = parse(frame, len, &h);

    if (rc < 0)
        return rc;
    if (o->gso_type != NET_GSO_NONE) {
        unsigned want = o->gso_type == NET_GSO_TCPV4 ? 4
                      : o->gso_type == NET_GSO_TCPV6 ? 6 : 0;
        if (want != h.ipv || h.proto != NET_IPPROTO_TCP || o->gso_size == 0)
            return -EINVAL;
    }
    o->csum_start = (uint16_t)h.l4;
    o->csum_offset = (uint16_t)csum_off(&h);
    o->hdr_len = (uint16_t)h.hdr_end;
    return 0;
}

int net_csum_complete(uint8_t *frame, size_t len, const struct net_offload *o)
{
    struct net_hdr h;
    int rc = parse_matching(frame, len, o, &h);

    if (rc < 0)
        return rc;
    size_t l4len = h.end - h.l4;
    uint8_t *field = frame + h.l4 + csum_off(&h);
    memset(field, 0, 2);
    uint32_t sum = pseudo_sum(frame, &h, l4len);
    sum = net_csum_add(sum, frame + h.l4, l4len);
    store_csum(field, sum, h.proto == NET_IPPROTO_UDP);
    return 0;
}

int net_csum_to_partial(uint8_t *frame, size_t len, const struct net_offload *o)
{
    struct net_hdr h;
    int rc = parse_matching(frame, len, o, &h);

    if (rc < 0)
        return rc;
    uint16_t c = net_csum_fold(pseudo_sum(frame, &h, h.end - h.l4));
    memcpy(frame + h.l4 + csum_off(&h), &c, 2);
    return 0;
}

/* ---- segmentation ----------------------------------------------------- */

int net_gso_segment(const uint8_t *frame, size_t len, const struct net_offload *o,
                    uint8_t *scratch, size_t scratch_len, net_emit_fn emit, void *arg)
{
    struct net_hdr h;
    unsigned want;
    int rc;

    if (o->gso_type == NET_GSO_TCPV4)
        want = 4;
    else if (o->gso_type == NET_GSO_TCPV6)
        want = 6;
    else
        return -EINVAL;
    if (o->gso_size == 0)
        return -EINVAL;
    rc = parse(frame, len, &h);
    if (rc < 0)
        return rc;
    if (h.ipv != want || h.proto != NET_IPPROTO_TCP)
        return -EINVAL;

    const size_t hl = h.hdr_end, mss = o->gso_size;
    const size_t payload = h.end - hl;
    const size_t first = payload < mss ? payload : mss;
    if (scratch_len < hl + first)
        return -EMSGSIZE;

    const uint8_t *tcp = frame + h.l4;
    const uint32_t seq0 = rd32(tcp + 4);
    const uint8_t flags = tcp[13];
    const unsigned id0 = h.ipv == 4 ? net_rd16(frame + h.l3 + 4) : 0;
    const size_t ihl = h.l4 - h.l3;  /* IPv4: the IP header's length */
    size_t off = 0;
    int n = 0;

    do {
        size_t chunk = payload - off < mss ? payload - off : mss;
        bool last = off + chunk == payload;
        size_t seglen = hl + chunk;
        uint8_t *ip = scratch + h.l3, *th = scratch + h.l4;

        memcpy(scratch, frame, hl);
        memcpy(scratch + hl, frame + hl + off, chunk);

        if (h.ipv == 4) {
            wr16(ip + 2, (unsigned)(seglen - h.l3));
            wr16(ip + 4, (id0 + (unsigned)n) & 0xffff);
            memset(ip + 10, 0, 2);
            uint16_t c = (uint16_t)~net_csum_fold(net_csum_add(0, ip, ihl));
            memcpy(ip + 10, &c, 2);
        } else {
            wr16(ip + 4, (unsigned)(seglen - h.l3 - NET_IPV6_HLEN));
        }

        wr32(th + 4, seq0 + (uint32_t)off);
        uint8_t fl = flags;
        if (!last)
            fl &= (uint8_t)~(TCP_FIN | TCP_PSH);
        if (n > 0)
            fl &= (uint8_t)~TCP_CWR;
        th[13] = fl;
        memset(th + TCP_CSUM_OFF, 0, 2);
        size_t l4len = seglen - h.l4;
        uint32_t sum = pseudo_sum(scratch, &h, l4len);
        store_csum(th + TCP_CSUM_OFF, net_csum_add(sum, th, l4len), false);

        rc = emit(scratch, seglen, arg);
        if (rc < 0)
            return rc;
        n++;
        off += chunk;
    } while (off < payload);
    return n;
}

/* ---- wire forms ------------------------------------------------------- */

void net_offload_to_vnet(const struct net_offload *o, struct virtio_net_hdr *h)
{
    memset(h, 0, sizeof(*h));
    if (o->csum_partial) {
        h->flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
        h->csum_start = o->csum_start;
        h->csum_offset = o->csum_offset;
    } else if (o->csum_valid) {
        h->flags = VIRTIO_NET_HDR_F_DATA_VALID;
    }
    switch (o->gso_type) {
    case NET_GSO_TCPV4:
        h->gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
        break;
    case NET_GSO_TCPV6:
        h->gso_type = VIRTIO_NET_HDR_GSO_TCPV6;
        break;
    default:
        return;
    }
    h->gso_size = o->gso_size;
    h->hdr_len = o->hdr_len;
}

int net_offload_from_vnet(const struct virtio_net_hdr *h, struct net_offload *o)
{
    struct net_offload n = { 0 };

    /* RSC_INFO reuses the csum fields for coalescing counts. */
    if (h->flags & VIRTIO_NET_HDR_F_RSC_INFO)
        return -EINVAL;
    if (h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) {
        n.csum_partial = true;
        n.csum_start = h->csum_start;
        n.csum_offset = h->csum_offset;
    }
    n.csum_valid = (h->flags & VIRTIO_NET_HDR_F_DATA_VALID) != 0;
    switch (h->gso_type) {
    case VIRTIO_NET_HDR_GSO_NONE:
        break;
    case VIRTIO_NET_HDR_GSO_TCPV4:
        n.gso_type = NET_GSO_TCPV4;
        break;
    case VIRTIO_NET_HDR_GSO_TCPV6:
        n.gso_type = NET_GSO_TCPV6;
        break;
    default:        /* UDP, anything with the ECN bit, newer types */
        return -EINVAL;
    }
    if (n.gso_type != NET_GSO_NONE) {
        if (h->gso_size == 0)
            return -EINVAL;
        n.gso_size = h->gso_size;
        n.hdr_len = h->hdr_len;
        n.csum_partial = true;
    }
    *o = n;
    return 0;
}

int net_offload_from_netif(uint16_t nettxf_flags, const struct netif_extra_info *gso,
                           struct net_offload *o)
{
    struct net_offload n = { 0 };

    n.csum_partial = (nettxf_flags & NETTXF_csum_blank) != 0;
    n.csum_valid = (nettxf_flags & NETTXF_data_validated) != 0;
    if (gso) {
        if (gso->type != XEN_NETIF_EXTRA_TYPE_GSO || gso->u.gso.size == 0)
            return -EINVAL;
        if (gso->u.gso.type == XEN_NETIF_GSO_TYPE_TCPV4)
            n.gso_type = NET_GSO_TCPV4;
        else if (gso->u.gso.type == XEN_NETIF_GSO_TYPE_TCPV6)
            n.gso_type = NET_GSO_TCPV6;
        else
            return -EINVAL;
        n.gso_size = gso->u.gso.size;
        n.csum_partial = true;
    }
    *o = n;
    return 0;
}

void net_offload_to_netif_rx(const struct net_offload *o, uint16_t *netrxf_flags,
                             struct netif_extra_info *gso_out, bool *has_gso)
{
    uint16_t fl = 0;

    /* A blank checksum's packet is also good data: frontends that test
     * only data_validated must not drop it. */
    if (o->csum_partial)
        fl = NETRXF_csum_blank | NETRXF_data_validated;
    else if (o->csum_valid)
        fl = NETRXF_data_validated;
    *has_gso = o->gso_type == NET_GSO_TCPV4 || o->gso_type == NET_GSO_TCPV6;
    if (*has_gso) {
        fl |= NETRXF_extra_info;
        memset(gso_out, 0, sizeof(*gso_out));
        gso_out->type = XEN_NETIF_EXTRA_TYPE_GSO;
        gso_out->u.gso.size = o->gso_size;
        gso_out->u.gso.type = o->gso_type == NET_GSO_TCPV4 ? XEN_NETIF_GSO_TYPE_TCPV4
                                                            : XEN_NETIF_GSO_TYPE_TCPV6;
    }
    *netrxf_flags = fl;
}
