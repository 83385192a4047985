/*
 * netframe.c - frame parsing, Internet checksums (RFC 1071) and the load
 * generator's test frames (netframe.h).
 */
#include <errno.h>
#include <netinet/in.h>
#include <string.h>

#include "netframe.h"

/* Pattern words are stored with memcpy and read back bytewise. */
_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "pattern bytes assume little-endian");
#define IPV4_HLEN 20u
#define IPV6_HLEN 40u
#define UDP_HLEN 8u
#define TCP_HLEN 20u

static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}
static void put32(uint8_t *p, uint32_t v)
{
    put16(p, (uint16_t)(v >> 16));
    put16(p + 2, (uint16_t)v);
}

/* ---- parsing ---- */

int nfr_parse(const uint8_t *f, size_t len, struct nfr_l4 *out)
{
    if (len < NFR_ETH_HLEN)
        return -EINVAL;
    uint16_t type = get16(f + 12);
    size_t l3 = NFR_ETH_HLEN, l4, end;
    uint8_t proto;
    bool v6;
    if (type == NFR_ETH_P_IP) {
        if (len < l3 + IPV4_HLEN || f[l3] >> 4 != 4)
            return -EINVAL;
        size_t ihl = (size_t)(f[l3] & 0xf) * 4;
        size_t tot = get16(f + l3 + 2);
        if (ihl < IPV4_HLEN || tot < ihl || l3 + tot > len)
            return -EINVAL;
        if (get16(f + l3 + 6) & 0x3fff) /* more fragments or an offset */
            return -ENOENT;
        proto = f[l3 + 9];
        l4 = l3 + ihl;
        end = l3 + tot;
        v6 = false;
    } else if (type == NFR_ETH_P_IPV6) {
        if (len < l3 + IPV6_HLEN || f[l3] >> 4 != 6)
            return -EINVAL;
        size_t plen = get16(f + l3 + 4);
        if (l3 + IPV6_HLEN + plen > len)
            return -EINVAL;
        proto = f[l3 + 6];
        l4 = l3 + IPV6_HLEN;
        end = l4 + plen;
        v6 = true;
    } else {
        return -ENOENT;
    }
    size_t hl;
    if (proto == IPPROTO_UDP) {
        hl = UDP_HLEN;
    } else if (proto == IPPROTO_TCP) {
        if (end < l4 + TCP_HLEN)
            return -EINVAL;
        hl = (size_t)(f[l4 + 12] >> 4) * 4;
        if (hl < TCP_HLEN)
            return -EINVAL;
    } else {
        return -ENOENT;
    }
    if (end < l4 + hl)
        return -EINVAL;
    *out = (struct nfr_l4){
        .l3 = l3, .l4 = l4, .payload = l4 + hl, .end = end, .proto = proto, .ipv6 = v6,
    };
    return 0;
}

size_t nfr_csum_field(const struct nfr_l4 *p)
{
    return p->l4 + (p->proto == IPPROTO_TCP ? 16 : 6);
}

/* ---- checksums ---- */

uint32_t nfr_sum(uint32_t sum, const void *data, size_t n)
{
    const uint8_t *p = data;
    uint64_t s = sum;
    size_t i = 0;
    for (; i + 1 < n; i += 2)
        s += (uint32_t)(p[i] << 8 | p[i + 1]);
    if (i < n)
        s += (uint32_t)p[i] << 8;
    while (s >> 32)
        s = (s & 0xffffffffu) + (s >> 32);
    return (uint32_t)s;
}

uint16_t nfr_fold(uint32_t sum)
{
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)sum;
}

uint32_t nfr_pseudo_sum(const uint8_t *f, const struct nfr_l4 *p)
{
    uint32_t s;
    if (p->ipv6)
        s = nfr_sum(0, f + p->l3 + 8, 32);
    else
        s = nfr_sum(0, f + p->l3 + 12, 8);
    uint32_t l4len = (uint32_t)(p->end - p->l4);
    return s + p->proto + (l4len >> 16) + (l4len & 0xffff);
}

void nfr_csum_set_partial(uint8_t *f, const struct nfr_l4 *p)
{
    put16(f + nfr_csum_field(p), nfr_fold(nfr_pseudo_sum(f, p)));
}

void nfr_csum_set_full(uint8_t *f, const struct nfr_l4 *p)
{
    size_t at = nfr_csum_field(p);
    put16(f + at, 0);
    uint16_t c = (uint16_t)~nfr_fold(nfr_sum(nfr_pseudo_sum(f, p), f + p->l4, p->end - p->l4));
    if (c == 0 && p->proto == IPPROTO_UDP)
        c = 0xffff; /* 0 would mean "no checksum" */
    put16(f + at, c);
}

int nfr_csum_complete_at(uint8_t *f, size_t len, size_t start, size_t off)
{
    if (start >= len || off + 2 > len - start)
        return -EINVAL;
    uint16_t c = (uint16_t)~nfr_fold(nfr_sum(0, f + start, len - start));
    put16(f + start + off, c);
    return 0;
}

bool nfr_ip_csum_ok(const uint8_t *f, const struct nfr_l4 *p)
{
    if (p->ipv6)
        return true;
    return nfr_fold(nfr_sum(0, f + p->l3, p->l4 - p->l3)) == 0xffff;
}

bool nfr_l4_csum_ok(const uint8_t *f, const struct nfr_l4 *p, bool partial)
{
    uint16_t field = get16(f + nfr_csum_field(p));
    if (partial)
        return field == nfr_fold(nfr_pseudo_sum(f, p));
    if (p->proto == IPPROTO_UDP && field == 0 && !p->ipv6)
        return true;
    return nfr_fold(nfr_sum(nfr_pseudo_sum(f, p), f + p->l4, p->end - p->l4)) == 0xffff;
}

uint32_t nfr_flow_hash(const uint8_t *f, size_t len)
{
    struct nfr_l4 p;
    if (nfr_parse(f, len, &p) < 0)
        return 0;
    uint32_t h = 2166136261u;
    const uint8_t *a = f + p.l3 + (p.ipv6 ? 8 : 12);
    size_t an = p.ipv6 ? 32 : 8;
    for (size_t i = 0; i < an; i++)
        h = (h ^ a[i]) * 16777619u;
    for (size_t i = 0; i < 4; i++)
        h = (h ^ f[p.l4 + i]) * 16777619u;
    return h ? h : 1;
}

/* ---- test frames ---- */

static uint32_t mix32(uint32_t x)
{
    x ^= x >> 16;
    x *= 0x7feb352du;
    x ^= x >> 15;
    x *= 0x846ca68bu;
    x ^= x >> 16;
    return x;
}

/* The 4 pattern bytes of the aligned word holding stream position pos. */
static uint32_t pattern_word(uint16_t flow, uint32_t pos)
{
    return mix32((uint32_t)flow * 0x9e3779b1u ^ (pos >> 2) * 0x85ebca6bu);
}

static uint8_t pattern_byte(uint16_t flow, uint32_t pos)
{
    return (uint8_t)(pattern_word(flow, pos) >> ((pos & 3) * 8));
}

/* Fills n bytes for stream positions pos..pos+n-1, message header excepted
 * (positions whose message offset is below NFR_MSG_HDR_LEN are skipped). */
static void pattern_fill(uint8_t *p, size_t n, uint16_t flow, uint32_t pos)
{
    for (size_t i = 0; i < n; i++, pos++) {
        if ((pos & 0xffff) < NFR_MSG_HDR_LEN)
            continue;
        if ((pos & 3) == 0 && i + 4 <= n) {
            uint32_t w = pattern_word(flow, pos);
            memcpy(p + i, &w, 4); /* little-endian: byte k is bits 8k.. */
            i += 3;
            pos += 3;
            continue;
        }
        p[i] = pattern_byte(flow, pos);
    }
}

/* Position of the first wrong byte, or n. */
static size_t pattern_check(const uint8_t *p, size_t n, uint16_t flow, uint32_t pos)
{
    for (size_t i = 0; i < n; i++, pos++) {
        if ((pos & 0xffff) < NFR_MSG_HDR_LEN)
            continue;
        if ((pos & 3) == 0 && i + 4 <= n) {
            uint32_t w = pattern_word(flow, pos), got;
            memcpy(&got, p + i, 4);
            if (got != w)
                return i;
            i += 3;
            pos += 3;
            continue;
        }
        if (p[i] != pattern_byte(flow, pos))
            return i;
    }
    return n;
}

/* Header: magic u16, origin[6], seq u32, ts u64, check u16 (host order). */
#define NFR_MAGIC16 0x4e53 /* "SN" */

static uint16_t hdr_check(const uint8_t *h)
{
    uint32_t x = 2166136261u;
    for (size_t i = 0; i < NFR_MSG_HDR_LEN - 2; i++)
        x = (x ^ h[i]) * 16777619u;
    return (uint16_t)(x ^ x >> 16);
}

static void msg_put(uint8_t *h, const struct nfr_msg *m)
{
    uint16_t magic = NFR_MAGIC16;
    memcpy(h, &magic, 2);
    memcpy(h + 2, m->origin, NFR_ETH_ALEN);
    memcpy(h + 8, &m->seq, 4);
    memcpy(h + 12, &m->ts_ns, 8);
    uint16_t c = hdr_check(h);
    memcpy(h + 20, &c, 2);
}

static int msg_get(const uint8_t *h, struct nfr_msg *m)
{
    uint16_t magic, c;
    memcpy(&magic, h, 2);
    memcpy(&c, h + 20, 2);
    if (magic != NFR_MAGIC16 || c != hdr_check(h))
        return -EBADMSG;
    memcpy(m->origin, h + 2, NFR_ETH_ALEN);
    memcpy(&m->seq, h + 8, 4);
    memcpy(&m->ts_ns, h + 12, 8);
    return 0;
}

size_t nfr_header_len(const struct nfr_spec *s)
{
    return NFR_ETH_HLEN + (s->ipv6 ? IPV6_HLEN : IPV4_HLEN) + (s->tcp ? TCP_HLEN : UDP_HLEN);
}

int nfr_build(uint8_t *buf, size_t frame_len, const struct nfr_spec *s, const struct nfr_msg *m)
{
    size_t hl = nfr_header_len(s);
    if (frame_len < hl + NFR_MSG_HDR_LEN || frame_len > NFR_MAX_FRAME ||
        m->flow >= NFR_MAX_FLOWS)
        return -EINVAL;
    memcpy(buf, s->dst_mac, NFR_ETH_ALEN);
    memcpy(buf + 6, s->src_mac, NFR_ETH_ALEN);
    size_t l3 = NFR_ETH_HLEN, l4;
    uint8_t proto = s->tcp ? IPPROTO_TCP : IPPROTO_UDP;
    if (s->ipv6) {
        put16(buf + 12, NFR_ETH_P_IPV6);
        l4 = l3 + IPV6_HLEN;
        put32(buf + l3, 6u << 28);
        put16(buf + l3 + 4, (uint16_t)(frame_len - l4));
        buf[l3 + 6] = proto;
        buf[l3 + 7] = 64;
        memcpy(buf + l3 + 8, s->src_ip, 16);
        memcpy(buf + l3 + 24, s->dst_ip, 16);
    } else {
        put16(buf + 12, NFR_ETH_P_IP);
        l4 = l3 + IPV4_HLEN;
        buf[l3] = 0x45;
        buf[l3 + 1] = 0;
        put16(buf + l3 + 2, (uint16_t)(frame_len - l3));
        put16(buf + l3 + 4, (uint16_t)m->seq);
        put16(buf + l3 + 6, 0x4000); /* DF */
        buf[l3 + 8] = 64;
        buf[l3 + 9] = proto;
        put16(buf + l3 + 10, 0);
        memcpy(buf + l3 + 12, s->src_ip, 4);
        memcpy(buf + l3 + 16, s->dst_ip, 4);
        put16(buf + l3 + 10, (uint16_t)~nfr_fold(nfr_sum(0, buf + l3, IPV4_HLEN)));
    }
    put16(buf + l4, (uint16_t)(NFR_PORT_SRC_BASE + m->flow));
    put16(buf + l4 + 2, (uint16_t)(NFR_PORT_DST_BASE + m->flow));
    uint32_t pos = m->seq << 16;
    if (s->tcp) {
        put32(buf + l4 + 4, pos);
        put32(buf + l4 + 8, 0);
        buf[l4 + 12] = (TCP_HLEN / 4) << 4;
        buf[l4 + 13] = 0x18; /* PSH | ACK */
        put16(buf + l4 + 14, 65535);
        put16(buf + l4 + 16, 0);
        put16(buf + l4 + 18, 0);
    } else {
        put16(buf + l4 + 4, (uint16_t)(frame_len - l4));
        put16(buf + l4 + 6, 0);
    }
    msg_put(buf + hl, m);
    pattern_fill(buf + hl, frame_len - hl, m->flow, pos);
    struct nfr_l4 p = {
        .l3 = l3, .l4 = l4, .payload = hl, .end = frame_len, .proto = proto, .ipv6 = s->ipv6,
    };
    if (s->csum_partial)
        nfr_csum_set_partial(buf, &p);
    else
        nfr_csum_set_full(buf, &p);
    return 0;
}

int nfr_verify(const uint8_t *f, size_t len, bool partial, struct nfr_check *out)
{
    struct nfr_l4 p;
    memset(out, 0, sizeof(*out));
    int err = nfr_parse(f, len, &p);
    if (err)
        return -ENOENT;
    uint16_t sport = get16(f + p.l4), dport = get16(f + p.l4 + 2);
    if (sport < NFR_PORT_SRC_BASE || sport >= NFR_PORT_SRC_BASE + NFR_MAX_FLOWS ||
        dport != sport - NFR_PORT_SRC_BASE + NFR_PORT_DST_BASE)
        return -ENOENT;
    out->flow = (uint16_t)(sport - NFR_PORT_SRC_BASE);
    if (!nfr_ip_csum_ok(f, &p) || !nfr_l4_csum_ok(f, &p, partial))
        return -EILSEQ;
    const uint8_t *pl = f + p.payload;
    size_t n = p.end - p.payload;
    uint32_t pos;
    if (p.proto == IPPROTO_TCP) {
        pos = get32(f + p.l4 + 4);
    } else {
        if (n < NFR_MSG_HDR_LEN)
            return -EBADMSG;
        uint32_t seq;
        memcpy(&seq, pl + 8, 4);
        pos = seq << 16;
    }
    if ((pos & 0xffff) == 0) {
        if (n < NFR_MSG_HDR_LEN || msg_get(pl, &out->msg) < 0 || out->msg.seq << 16 != pos)
            return -EBADMSG;
        out->msg.flow = out->flow;
        out->has_msg = true;
    } else if (p.proto == IPPROTO_UDP) {
        return -EBADMSG;
    }
    if (pattern_check(pl, n, out->flow, pos) != n)
        return -EBADMSG;
    out->payload = n;
    return 0;
}
