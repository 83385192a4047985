/*
 * net_offload_test.c - checksums, header parsing, software TCP segmentation
 * and the offload wire forms (netback/net_offload.c).
 *
 * Frames are built byte by byte here, and every checksum is checked by a
 * reference written the plain way (big-endian 16-bit words, a 64-bit sum,
 * folded at the end; the pseudo-header from the addresses the builder put
 * in, not from the frame), so an error shared by the module's fast sum and
 * its parser cannot hide. Truncations are copied into buffers of exactly
 * their length so that AddressSanitizer sees any read past the end.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <linux/virtio_net.h>
#include "xen_ring.h"
#include <xen/io/netif.h>

#include "net_offload.h"

#define FIN 0x01
#define SYN 0x02
#define PSH 0x08
#define ACK 0x10
#define URG 0x20
#define ECE 0x40
#define CWR 0x80

#define EXT_HOP 1u
#define EXT_RT  2u
#define EXT_DST 4u

/* ------------------------------------------------------------ helpers */

static uint32_t rng_state = 0x12345678;

static uint32_t rnd(void)
{
    uint32_t x = rng_state;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return rng_state = x;
}

static unsigned get16(const uint8_t *p)
{
    return (unsigned)p[0] << 8 | p[1];
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put16(uint8_t *p, unsigned v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
    put16(p, v >> 16);
    put16(p + 2, v & 0xffff);
}

/* ---------------------------------------------------- reference checksum */

static uint64_t ref_add(uint64_t s, const uint8_t *p, size_t n)
{
    size_t i;

    for (i = 0; i + 1 < n; i += 2)
        s += (uint64_t)p[i] << 8 | p[i + 1];
    if (n & 1)
        s += (uint64_t)p[n - 1] << 8;
    return s;
}

static unsigned ref_fold(uint64_t s)
{
    while (s >> 16)
        s = (s & 0xffff) + (s >> 16);
    return (unsigned)s;
}

/* ------------------------------------------------------------- builder */

struct spec {
    bool vlan;
    unsigned tpid;          /* 0 = 0x8100 */
    int ipv;                /* 4 or 6 */
    unsigned ip_opt;        /* IPv4 option bytes, multiple of 4 */
    unsigned v6_ext;        /* EXT_* */
    unsigned rt_type, rt_segleft, rt_naddr;
    int proto;              /* 6 or 17 */
    unsigned tcp_opt;       /* TCP option bytes, multiple of 4 */
    size_t payload;
    uint8_t tcp_flags;
    size_t pad;             /* bytes after the IP datagram */
    unsigned ip_id;
    uint32_t seq;
};

struct pkt {
    uint8_t *b;
    size_t len;             /* frame, padding included */
    size_t l3, l4, hdr_end, end;
    int ipv, proto;
    uint8_t src[16], dst[16];  /* pseudo-header addresses (dst: final) */
    size_t alen;            /* 4 or 16 */
};

static void pkt_init(struct pkt *p)
{
    memset(p, 0, sizeof(*p));
    p->b = malloc(NET_FRAME_MAX + 64);
    assert_non_null(p->b);
}

static void pkt_fini(struct pkt *p)
{
    free(p->b);
    p->b = NULL;
}

static void v6addr(uint8_t *a, unsigned last)
{
    static const uint8_t pfx[4] = { 0x20, 0x01, 0x0d, 0xb8 };
    memset(a, 0, 16);
    memcpy(a, pfx, 4);
    a[14] = (uint8_t)(last >> 8);
    a[15] = (uint8_t)last;
}

/* Builds a frame to s. The L4 checksum field is left holding garbage. */
static void build(struct pkt *p, const struct spec *s)
{
    uint8_t *b = p->b;
    size_t o = 0, l4len, l4hl;
    unsigned tpid = s->tpid ? s->tpid : 0x8100;

    memset(b, 0, NET_FRAME_MAX + 64);
    p->ipv = s->ipv;
    p->proto = s->proto;
    for (int i = 0; i < 6; i++) {
        b[i] = (uint8_t)(0x02 + i);
        b[6 + i] = (uint8_t)(0x12 + i);
    }
    o = 12;
    if (s->vlan) {
        put16(b + o, tpid);
        put16(b + o + 2, 0x2005);
        o += 4;
    }
    put16(b + o, s->ipv == 4 ? 0x0800 : 0x86dd);
    o += 2;
    p->l3 = o;

    l4hl = s->proto == 6 ? 20 + s->tcp_opt : 8;
    l4len = l4hl + s->payload;
    if (s->ipv == 4) {
        size_t ihl = 20 + s->ip_opt;
        b[o] = (uint8_t)(0x40 | ihl / 4);
        b[o + 1] = 0x10;
        put16(b + o + 2, (unsigned)(ihl + l4len));
        put16(b + o + 4, s->ip_id);
        put16(b + o + 6, 0x4000);   /* DF */
        b[o + 8] = 64;
        b[o + 9] = (uint8_t)s->proto;
        uint8_t sa[4] = { 10, 0, 0, 1 }, da[4] = { 10, 0, 0, 2 };
        memcpy(b + o + 12, sa, 4);
        memcpy(b + o + 16, da, 4);
        for (size_t i = 20; i < ihl; i++)
            b[o + i] = i + 1 == ihl ? 0 : 1;    /* NOPs, then EOL */
        put16(b + o + 10, (~ref_fold(ref_add(0, b + o, ihl))) & 0xffff);
        memcpy(p->src, sa, 4);
        memcpy(p->dst, da, 4);
        p->alen = 4;
        o += ihl;
    } else {
        size_t ip = o, ext = 0;
        uint8_t *nextp = b + ip + 6;

        b[ip] = 0x60;
        b[ip + 1] = 0x0a;
        b[ip + 7] = 64;
        v6addr(b + ip + 8, 1);
        v6addr(b + ip + 24, 2);
        memcpy(p->src, b + ip + 8, 16);
        memcpy(p->dst, b + ip + 24, 16);
        p->alen = 16;
        o += 40;
        if (s->v6_ext & EXT_HOP) {
            *nextp = 0;
            nextp = b + o;
            b[o + 1] = 0;
            b[o + 2] = 1;   /* PadN, 4 bytes */
            b[o + 3] = 4;
            o += 8;
        }
        if (s->v6_ext & EXT_RT) {
            unsigned n = s->rt_naddr ? s->rt_naddr : 1;
            *nextp = 43;
            nextp = b + o;
            b[o + 1] = (uint8_t)(2 * n);
            b[o + 2] = (uint8_t)s->rt_type;
            b[o + 3] = (uint8_t)s->rt_segleft;
            if (s->rt_type == 4)
                b[o + 4] = (uint8_t)(n - 1);   /* last entry */
            for (unsigned k = 0; k < n; k++)
                v6addr(b + o + 8 + 16 * k, 0x100 + k);
            if (s->rt_segleft) {
                unsigned fin = s->rt_type == 4 ? 0 : n - 1;
                memcpy(p->dst, b + o + 8 + 16 * fin, 16);
            }
            o += 8 + 16 * n;
        }
        if (s->v6_ext & EXT_DST) {
            *nextp = 60;
            nextp = b + o;
            b[o + 1] = 1;   /* 16 bytes */
            b[o + 2] = 1;
            b[o + 3] = 12;
            o += 16;
        }
        *nextp = (uint8_t)s->proto;
        ext = o - ip - 40;
        put16(b + ip + 4, (unsigned)(ext + l4len));
    }
    p->l4 = o;
    put16(b + o, 40000);
    put16(b + o + 2, 5201);
    if (s->proto == 6) {
        put32(b + o + 4, s->seq);
        put32(b + o + 8, 0xa5a5a5a5);
        b[o + 12] = (uint8_t)((l4hl / 4) << 4);
        b[o + 13] = s->tcp_flags;
        put16(b + o + 14, 65000);
        put16(b + o + 16, 0xdead);
        for (size_t i = 20; i < l4hl; i++)
            b[o + i] = 1;   /* NOP */
    } else {
        put16(b + o + 4, (unsigned)l4len);
        put16(b + o + 6, 0xbeef);
    }
    p->hdr_end = o + l4hl;
    for (size_t i = 0; i < s->payload; i++)
        b[p->hdr_end + i] = (uint8_t)rnd();
    p->end = p->hdr_end + s->payload;
    memset(b + p->end, 0xaa, s->pad);
    p->len = p->end + s->pad;
}

/* Reference sum of the pseudo-header plus l4len bytes at seg + l4. */
static uint64_t ref_l4_sum(const struct pkt *p, const uint8_t *seg, size_t l4, size_t l4len)
{
    uint64_t s = ref_add(0, p->src, p->alen);
    s = ref_add(s, p->dst, p->alen);
    s += (unsigned)p->proto;
    s += l4len;
    return ref_add(s, seg + l4, l4len);
}

/* True if the L4 checksum of the datagram in seg verifies. */
static bool ref_l4_ok(const struct pkt *p, const uint8_t *seg, size_t l4, size_t l4len)
{
    if (p->proto == 17 && get16(seg + l4 + 6) == 0)
        return false;       /* we always send one */
    return ref_fold(ref_l4_sum(p, seg, l4, l4len)) == 0xffff;
}

static unsigned ref_l4_value(const struct pkt *p)
{
    unsigned off = p->proto == 6 ? 16 : 6, c;
    uint8_t save[2];

    memcpy(save, p->b + p->l4 + off, 2);
    memset(p->b + p->l4 + off, 0, 2);
    c = ~ref_fold(ref_l4_sum(p, p->b, p->l4, p->end - p->l4)) & 0xffff;
    memcpy(p->b + p->l4 + off, save, 2);
    if (p->proto == 17 && c == 0)
        c = 0xffff;
    return c;
}

static unsigned ref_pseudo_fold(const struct pkt *p)
{
    uint64_t s = ref_add(0, p->src, p->alen);
    s = ref_add(s, p->dst, p->alen);
    s += (unsigned)p->proto;
    s += p->end - p->l4;
    return ref_fold(s);
}

/* Field by field: padding is no business of the test. */
static void assert_offload_equal(const struct net_offload *a, const struct net_offload *b)
{
    assert_int_equal(a->csum_partial, b->csum_partial);
    assert_int_equal(a->csum_valid, b->csum_valid);
    assert_int_equal(a->gso_type, b->gso_type);
    assert_int_equal(a->gso_size, b->gso_size);
    assert_int_equal(a->csum_start, b->csum_start);
    assert_int_equal(a->csum_offset, b->csum_offset);
    assert_int_equal(a->hdr_len, b->hdr_len);
}

/* Recognisable values that no call here would write. */
static const struct net_offload SENTINEL = {
    .csum_partial = true, .csum_valid = true, .gso_type = 2, .gso_size = 777,
    .csum_start = 55, .csum_offset = 66, .hdr_len = 99,
};

/* ---------------------------------------------------------- the specs */

static const struct spec SPECS[] = {
    { .ipv = 4, .proto = 6, .payload = 100, .tcp_flags = ACK },
    { .ipv = 4, .proto = 6, .payload = 101, .tcp_opt = 12, .tcp_flags = ACK | PSH },
    { .ipv = 4, .proto = 6, .payload = 0, .ip_opt = 8, .tcp_opt = 40, .tcp_flags = SYN },
    { .ipv = 4, .proto = 17, .payload = 33 },
    { .ipv = 4, .proto = 17, .payload = 64, .ip_opt = 40 },
    { .ipv = 4, .proto = 6, .payload = 77, .vlan = true, .ip_opt = 4, .tcp_opt = 4 },
    { .ipv = 4, .proto = 17, .payload = 5, .vlan = true, .tpid = 0x88a8 },
    { .ipv = 6, .proto = 6, .payload = 100, .tcp_flags = ACK },
    { .ipv = 6, .proto = 6, .payload = 99, .tcp_opt = 20, .vlan = true },
    { .ipv = 6, .proto = 17, .payload = 31 },
    { .ipv = 6, .proto = 17, .payload = 40, .v6_ext = EXT_HOP | EXT_DST },
    { .ipv = 6, .proto = 6, .payload = 57, .v6_ext = EXT_HOP | EXT_RT | EXT_DST,
      .rt_type = 0, .rt_segleft = 0, .rt_naddr = 2 },
    { .ipv = 6, .proto = 6, .payload = 57, .v6_ext = EXT_RT,
      .rt_type = 0, .rt_segleft = 2, .rt_naddr = 3, .vlan = true },
    { .ipv = 6, .proto = 17, .payload = 12, .v6_ext = EXT_HOP | EXT_RT,
      .rt_type = 2, .rt_segleft = 1, .rt_naddr = 1 },
    { .ipv = 6, .proto = 6, .payload = 300, .v6_ext = EXT_RT | EXT_DST,
      .rt_type = 4, .rt_segleft = 1, .rt_naddr = 3, .tcp_opt = 12 },
    { .ipv = 6, .proto = 6, .payload = 10, .v6_ext = EXT_RT,
      .rt_type = 3, .rt_segleft = 0, .rt_naddr = 1 },   /* unknown type, done */
};
#define NSPECS (sizeof(SPECS) / sizeof(SPECS[0]))

/* ------------------------------------------------------ checksum sums */

static void test_csum_add_matches_reference(void **state)
{
    (void)state;
    uint8_t buf[600];

    for (size_t i = 0; i < sizeof(buf); i++)
        buf[i] = (uint8_t)rnd();
    for (size_t off = 0; off < 4; off++) {
        for (size_t n = 0; n <= 520; n++) {
            uint16_t got = net_csum_fold(net_csum_add(0, buf + off, n));
            uint8_t net[2];
            memcpy(net, &got, 2);
            assert_int_equal(get16(net), ref_fold(ref_add(0, buf + off, n)));

            /* In even pieces, with a running sum. */
            size_t cut = (n / 3) & ~(size_t)1;
            uint32_t s = net_csum_add(0xfffffu, buf + off, cut);
            s = net_csum_add(s, buf + off + cut, n - cut);
            got = net_csum_fold(s);
            memcpy(net, &got, 2);
            uint8_t seed[4];                /* the running sum, in memory order */
            uint32_t seedv = 0xfffffu;
            memcpy(seed, &seedv, 4);
            assert_int_equal(get16(net),
                             ref_fold(ref_add(ref_add(0, seed, 4), buf + off, n)));
        }
    }
}

static void test_csum_add_large(void **state)
{
    (void)state;
    uint8_t *big = malloc(NET_FRAME_MAX);
    assert_non_null(big);
    memset(big, 0xff, NET_FRAME_MAX);
    /* Even length: the odd tail byte would add 0xff00. */
    uint16_t got = net_csum_fold(net_csum_add(0xffffffffu, big, NET_FRAME_MAX - 1));
    uint8_t net[2];
    memcpy(net, &got, 2);
    assert_int_equal(get16(net), 0xffff);
    for (size_t i = 0; i < NET_FRAME_MAX; i++)
        big[i] = (uint8_t)rnd();
    got = net_csum_fold(net_csum_add(0, big, NET_FRAME_MAX));
    memcpy(net, &got, 2);
    assert_int_equal(get16(net), ref_fold(ref_add(0, big, NET_FRAME_MAX)));
    assert_int_equal(net_csum_fold(0), 0);
    assert_int_equal(net_csum_fold(0x0001ffffu), 1);
    assert_int_equal(net_csum_fold(0xffffffffu), 0xffff);
    free(big);
}

/* ---------------------------------------------------------- setup+csum */

static void check_setup(const struct pkt *p, struct net_offload *o)
{
    memset(o, 0, sizeof(*o));
    o->csum_partial = true;
    assert_int_equal(net_offload_setup(p->b, p->len, o), 0);
    assert_int_equal(o->csum_start, p->l4);
    assert_int_equal(o->csum_offset, p->proto == 6 ? 16 : 6);
    assert_int_equal(o->hdr_len, p->hdr_end);
    assert_true(o->csum_partial);
    assert_int_equal(o->gso_type, NET_GSO_NONE);
}

/* Completes the checksum; only the field may change; the reference agrees. */
static void check_complete(struct pkt *p, const struct net_offload *o)
{
    size_t field = p->l4 + (p->proto == 6 ? 16 : 6);
    uint8_t *copy = malloc(p->len);

    assert_non_null(copy);
    unsigned want = ref_l4_value(p);
    put16(p->b + field, rnd() & 0xffff);   /* whatever the guest left */
    memcpy(copy, p->b, p->len);
    assert_int_equal(net_csum_complete(p->b, p->len, o), 0);
    assert_int_equal(get16(p->b + field), want);
    assert_true(ref_l4_ok(p, p->b, p->l4, p->end - p->l4));
    assert_memory_equal(p->b, copy, field);
    assert_memory_equal(p->b + field + 2, copy + field + 2, p->len - field - 2);
    free(copy);
}

/* Writes the pseudo-header sum, then does what a device does with it. */
static void check_partial(struct pkt *p, const struct net_offload *o)
{
    size_t field = p->l4 + (p->proto == 6 ? 16 : 6);

    put16(p->b + field, rnd() & 0xffff);
    assert_int_equal(net_csum_to_partial(p->b, p->len, o), 0);
    assert_int_equal(get16(p->b + field), ref_pseudo_fold(p));

    unsigned c = ~ref_fold(ref_add(0, p->b + p->l4, p->end - p->l4)) & 0xffff;
    if (p->proto == 17 && c == 0)
        c = 0xffff;
    put16(p->b + field, c);
    assert_true(ref_l4_ok(p, p->b, p->l4, p->end - p->l4));
}

static void test_setup_complete_partial(void **state)
{
    (void)state;
    struct pkt p;
    struct net_offload o;

    pkt_init(&p);
    for (size_t i = 0; i < NSPECS; i++) {
        for (int vlan = 0; vlan < 2; vlan++) {
            struct spec s = SPECS[i];
            s.vlan = s.vlan != (vlan == 1);
            build(&p, &s);
            check_setup(&p, &o);
            check_complete(&p, &o);
            check_partial(&p, &o);
            /* Padding after the datagram is not the datagram. */
            s.pad = 23;
            build(&p, &s);
            check_setup(&p, &o);
            check_complete(&p, &o);
            check_partial(&p, &o);
        }
    }
    pkt_fini(&p);
}

/* A UDP sum that comes out 0 is sent as 0xffff (0 means "none"). */
static void test_udp_zero_sent_as_ffff(void **state)
{
    (void)state;
    struct pkt p;
    struct net_offload o;

    pkt_init(&p);
    for (int ipv = 4; ipv <= 6; ipv += 2) {
        struct spec s = { .ipv = ipv, .proto = 17, .payload = 20 };
        build(&p, &s);
        /* Choose the last payload word so the sum folds to 0xffff. */
        put16(p.b + p.end - 2, 0);
        put16(p.b + p.l4 + 6, 0);
        unsigned f = ref_fold(ref_l4_sum(&p, p.b, p.l4, p.end - p.l4));
        put16(p.b + p.end - 2, 0xffff - f);
        assert_int_equal(ref_fold(ref_l4_sum(&p, p.b, p.l4, p.end - p.l4)), 0xffff);
        check_setup(&p, &o);
        assert_int_equal(net_csum_complete(p.b, p.len, &o), 0);
        assert_int_equal(get16(p.b + p.l4 + 6), 0xffff);
        assert_true(ref_l4_ok(&p, p.b, p.l4, p.end - p.l4));
    }
    pkt_fini(&p);
}

/* The pseudo-header takes the routing header's final destination. */
static void test_ipv6_routing_final_destination(void **state)
{
    (void)state;
    struct pkt p;
    struct net_offload o;
    static const struct { unsigned type, segleft, naddr; } rt[] = {
        { 0, 2, 3 }, { 0, 1, 1 }, { 2, 1, 1 }, { 4, 2, 3 }, { 4, 1, 1 },
    };

    pkt_init(&p);
    for (size_t i = 0; i < sizeof(rt) / sizeof(rt[0]); i++) {
        struct spec s = { .ipv = 6, .proto = 6, .payload = 40, .v6_ext = EXT_RT,
                          .rt_type = rt[i].type, .rt_segleft = rt[i].segleft,
                          .rt_naddr = rt[i].naddr };
        build(&p, &s);
        assert_memory_not_equal(p.dst, p.b + p.l3 + 24, 16);
        check_setup(&p, &o);
        check_complete(&p, &o);
        check_partial(&p, &o);
    }
    /* An unknown routing type with segments left: no way to know. */
    struct spec s = { .ipv = 6, .proto = 6, .payload = 40, .v6_ext = EXT_RT,
                      .rt_type = 3, .rt_segleft = 1, .rt_naddr = 1 };
    build(&p, &s);
    memset(&o, 0, sizeof(o));
    assert_int_equal(net_offload_setup(p.b, p.len, &o), -EPROTO);
    /* Type 0 whose length is not a whole number of addresses. */
    s.rt_type = 0;
    s.rt_naddr = 2;
    build(&p, &s);
    size_t rh = p.l3 + 40;
    /* Cut the header to 32 bytes (1.5 addresses) and close the gap, so
     * that only the routing header's length is wrong. */
    p.b[rh + 1] = 3;
    memmove(p.b + p.l4 - 8, p.b + p.l4, p.end - p.l4);
    put16(p.b + p.l3 + 4, get16(p.b + p.l3 + 4) - 8);
    p.len -= 8;
    assert_int_equal(net_offload_setup(p.b, p.len, &o), -EPROTO);
    p.b[rh + 3] = 0;   /* no segments left: the header's dst stands */
    assert_int_equal(net_offload_setup(p.b, p.len, &o), 0);
    pkt_fini(&p);
}

/* ----------------------------------------------------------- rejection */

static uint8_t *exact_copy(const uint8_t *b, size_t len)
{
    uint8_t *c = malloc(len ? len : 1);
    assert_non_null(c);
    memcpy(c, b, len);
    return c;
}

static int count_emit(const uint8_t *seg, size_t seglen, void *arg)
{
    (void)seg;
    (void)seglen;
    ++*(int *)arg;
    return 0;
}

static void test_reject_truncated_every_length(void **state)
{
    (void)state;
    struct pkt p;
    uint8_t scratch[512];

    pkt_init(&p);
    for (size_t i = 0; i < NSPECS; i++) {
        struct net_offload good;
        build(&p, &SPECS[i]);
        check_setup(&p, &good);
        for (size_t l = 0; l < p.len; l++) {
            uint8_t *c = exact_copy(p.b, l);
            struct net_offload o = { .csum_partial = true }, before;
            before = o;
            assert_int_equal(net_offload_setup(c, l, &o), -EPROTO);
            assert_offload_equal(&o, &before);
            assert_int_equal(net_csum_complete(c, l, &good), -EPROTO);
            assert_int_equal(net_csum_to_partial(c, l, &good), -EPROTO);
            if (p.proto == 6) {
                struct net_offload g = good;
                int n = 0;
                g.gso_type = p.ipv == 4 ? NET_GSO_TCPV4 : NET_GSO_TCPV6;
                g.gso_size = 10;
                assert_int_equal(net_gso_segment(c, l, &g, scratch, sizeof(scratch),
                                                 count_emit, &n), -EPROTO);
                assert_int_equal(n, 0);
            }
            free(c);
        }
    }
    pkt_fini(&p);
}

static int setup_rc(const struct pkt *p)
{
    struct net_offload o = { 0 };
    uint8_t *c = exact_copy(p->b, p->len);
    int rc = net_offload_setup(c, p->len, &o);
    free(c);
    return rc;
}

static void test_reject_bad_headers(void **state)
{
    (void)state;
    struct pkt p;
    const struct spec v4tcp = { .ipv = 4, .proto = 6, .payload = 10, .tcp_flags = ACK };
    const struct spec v4udp = { .ipv = 4, .proto = 17, .payload = 10 };
    const struct spec v6tcp = { .ipv = 6, .proto = 6, .payload = 10,
                                .v6_ext = EXT_HOP | EXT_DST };

    pkt_init(&p);
    build(&p, &v4tcp);
    assert_int_equal(setup_rc(&p), 0);

    /* IPv4 fragments: more-fragments, an offset, both. */
    p.b[p.l3 + 6] |= 0x20;
    assert_int_equal(setup_rc(&p), -EPROTO);
    put16(p.b + p.l3 + 6, 0x0001);
    assert_int_equal(setup_rc(&p), -EPROTO);
    put16(p.b + p.l3 + 6, 0x3fff);
    assert_int_equal(setup_rc(&p), -EPROTO);
    put16(p.b + p.l3 + 6, 0x4000);
    assert_int_equal(setup_rc(&p), 0);

    /* Not IP: ARP, an 802.3 length, two tags, IPv6 ethertype over IPv4. */
    put16(p.b + 12, 0x0806);
    assert_int_equal(setup_rc(&p), -EPROTO);
    put16(p.b + 12, 0x0040);
    assert_int_equal(setup_rc(&p), -EPROTO);
    put16(p.b + 12, 0x86dd);
    assert_int_equal(setup_rc(&p), -EPROTO);
    put16(p.b + 12, 0x0800);
    assert_int_equal(setup_rc(&p), 0);
    {
        struct spec s = v4tcp;
        s.vlan = true;
        s.tpid = 0x88a8;
        build(&p, &s);
        assert_int_equal(setup_rc(&p), 0);
        put16(p.b + 16, 0x8100);        /* a second tag: not IP */
        assert_int_equal(setup_rc(&p), -EPROTO);
    }

    /* IHL below 5, version other than 4, total length wrong either way. */
    build(&p, &v4tcp);
    for (unsigned ihl = 0; ihl < 5; ihl++) {
        p.b[p.l3] = (uint8_t)(0x40 | ihl);
        assert_int_equal(setup_rc(&p), -EPROTO);
    }
    p.b[p.l3] = 0x65;
    assert_int_equal(setup_rc(&p), -EPROTO);
    p.b[p.l3] = 0x45;
    unsigned tot = get16(p.b + p.l3 + 2);
    put16(p.b + p.l3 + 2, 19);
    assert_int_equal(setup_rc(&p), -EPROTO);
    put16(p.b + p.l3 + 2, tot + 1);
    assert_int_equal(setup_rc(&p), -EPROTO);
    put16(p.b + p.l3 + 2, 39);          /* TCP header cut by the IP length */
    assert_int_equal(setup_rc(&p), -EPROTO);
    put16(p.b + p.l3 + 2, tot);
    assert_int_equal(setup_rc(&p), 0);

    /* Other L4 protocols. */
    p.b[p.l3 + 9] = 1;                  /* ICMP */
    assert_int_equal(setup_rc(&p), -EPROTO);
    p.b[p.l3 + 9] = 6;

    /* TCP data offset below 5, or past the datagram. */
    for (unsigned doff = 0; doff < 5; doff++) {
        p.b[p.l4 + 12] = (uint8_t)(doff << 4);
        assert_int_equal(setup_rc(&p), -EPROTO);
    }
    p.b[p.l4 + 12] = 0xf0;              /* 60 bytes, only 30 there */
    assert_int_equal(setup_rc(&p), -EPROTO);
    p.b[p.l4 + 12] = 0x70;              /* 28 of 30: fine */
    assert_int_equal(setup_rc(&p), 0);

    /* UDP length other than the IP payload. */
    build(&p, &v4udp);
    assert_int_equal(setup_rc(&p), 0);
    unsigned ulen = get16(p.b + p.l4 + 4);
    const unsigned bad_ulen[] = { ulen - 1, ulen + 1, 7, 0 };
    for (size_t i = 0; i < 4; i++) {
        put16(p.b + p.l4 + 4, bad_ulen[i]);
        assert_int_equal(setup_rc(&p), -EPROTO);
    }

    /* IPv6: fragment header, ESP, no next header, jumbogram, overlong ext. */
    build(&p, &v6tcp);
    assert_int_equal(setup_rc(&p), 0);
    size_t hop = p.l3 + 40;
    p.b[p.l3 + 6] = 44;
    assert_int_equal(setup_rc(&p), -EPROTO);
    p.b[p.l3 + 6] = 0;
    p.b[hop] = 44;                      /* fragment behind hop-by-hop */
    assert_int_equal(setup_rc(&p), -EPROTO);
    p.b[hop] = 50;
    assert_int_equal(setup_rc(&p), -EPROTO);
    p.b[hop] = 59;
    assert_int_equal(setup_rc(&p), -EPROTO);
    p.b[hop] = 60;
    p.b[hop + 1] = 255;
    assert_int_equal(setup_rc(&p), -EPROTO);
    p.b[hop + 1] = 0;
    assert_int_equal(setup_rc(&p), 0);
    unsigned plen = get16(p.b + p.l3 + 4);
    put16(p.b + p.l3 + 4, 0);
    assert_int_equal(setup_rc(&p), -EPROTO);
    put16(p.b + p.l3 + 4, plen + 1);
    assert_int_equal(setup_rc(&p), -EPROTO);
    put16(p.b + p.l3 + 4, plen);
    p.b[p.l3] = 0x40;
    assert_int_equal(setup_rc(&p), -EPROTO);
    pkt_fini(&p);
}

/* complete/to_partial re-parse and refuse offsets that disagree. */
static void test_reject_mismatched_offsets(void **state)
{
    (void)state;
    struct pkt p;
    struct net_offload o;
    const struct spec s = { .ipv = 4, .proto = 6, .payload = 10 };

    pkt_init(&p);
    build(&p, &s);
    check_setup(&p, &o);
    struct net_offload bad = o;
    bad.csum_start++;
    assert_int_equal(net_csum_complete(p.b, p.len, &bad), -EPROTO);
    assert_int_equal(net_csum_to_partial(p.b, p.len, &bad), -EPROTO);
    bad = o;
    bad.csum_offset = 6;
    assert_int_equal(net_csum_complete(p.b, p.len, &bad), -EPROTO);
    assert_int_equal(net_csum_to_partial(p.b, p.len, &bad), -EPROTO);
    assert_int_equal(get16(p.b + p.l4 + 16), 0xdead);   /* untouched */
    pkt_fini(&p);
}

/* setup checks a GSO request against the headers it found. */
static void test_setup_checks_gso(void **state)
{
    (void)state;
    struct pkt p;
    struct net_offload o;
    const struct spec s4 = { .ipv = 4, .proto = 6, .payload = 3000 };
    const struct spec s6 = { .ipv = 6, .proto = 6, .payload = 3000 };
    const struct spec u4 = { .ipv = 4, .proto = 17, .payload = 3000 };

    pkt_init(&p);
    build(&p, &s4);
    o = (struct net_offload){ .gso_type = NET_GSO_TCPV4, .gso_size = 1448 };
    assert_int_equal(net_offload_setup(p.b, p.len, &o), 0);
    assert_int_equal(o.hdr_len, p.hdr_end);
    o = (struct net_offload){ .gso_type = NET_GSO_TCPV6, .gso_size = 1448 };
    assert_int_equal(net_offload_setup(p.b, p.len, &o), -EINVAL);
    o = (struct net_offload){ .gso_type = NET_GSO_TCPV4, .gso_size = 0 };
    assert_int_equal(net_offload_setup(p.b, p.len, &o), -EINVAL);
    o = (struct net_offload){ .gso_type = 9, .gso_size = 100 };
    assert_int_equal(net_offload_setup(p.b, p.len, &o), -EINVAL);
    build(&p, &s6);
    o = (struct net_offload){ .gso_type = NET_GSO_TCPV4, .gso_size = 1448 };
    assert_int_equal(net_offload_setup(p.b, p.len, &o), -EINVAL);
    build(&p, &u4);
    assert_int_equal(net_offload_setup(p.b, p.len, &o), -EINVAL);
    pkt_fini(&p);
}

/* ----------------------------------------------------------------- GSO */

struct gso_check {
    const struct pkt *p;
    size_t mss;
    int n;                  /* segments seen */
    size_t off;             /* payload reassembled so far */
    uint8_t *reasm;
    unsigned ip_id;
    uint32_t seq;
    uint8_t flags;
    size_t nseg;            /* expected */
    int fail_at;            /* return -EIO on this segment (0 = never) */
};

static int gso_verify(const uint8_t *seg, size_t seglen, void *arg)
{
    struct gso_check *g = arg;
    const struct pkt *p = g->p;
    size_t payload = p->end - p->hdr_end;
    size_t chunk = payload - g->off < g->mss ? payload - g->off : g->mss;
    bool first = g->n == 0, last = g->off + chunk == payload;

    if (g->fail_at && g->n + 1 == g->fail_at) {
        g->n++;
        return -EIO;
    }
    assert_true((size_t)g->n < g->nseg);
    assert_int_equal(seglen, p->hdr_end + chunk);
    assert_true(seglen <= p->hdr_end + g->mss);
    /* Ethernet (and tag) as it was. */
    assert_memory_equal(seg, p->b, p->l3);

    const uint8_t *ip = seg + p->l3, *oip = p->b + p->l3;
    if (p->ipv == 4) {
        size_t ihl = p->l4 - p->l3;
        assert_int_equal(get16(ip + 2), seglen - p->l3);
        assert_int_equal(get16(ip + 4), (g->ip_id + (unsigned)g->n) & 0xffff);
        assert_int_equal(ref_fold(ref_add(0, ip, ihl)), 0xffff);
        assert_memory_equal(ip, oip, 2);
        assert_memory_equal(ip + 6, oip + 6, 4);
        assert_memory_equal(ip + 12, oip + 12, ihl - 12);
    } else {
        assert_int_equal(get16(ip + 4), seglen - p->l3 - 40);
        assert_memory_equal(ip, oip, 4);
        assert_memory_equal(ip + 6, oip + 6, p->l4 - p->l3 - 6);
    }

    const uint8_t *th = seg + p->l4, *oth = p->b + p->l4;
    assert_memory_equal(th, oth, 4);
    assert_int_equal(get32(th + 4), (uint32_t)(g->seq + g->off));
    assert_memory_equal(th + 8, oth + 8, 5);
    uint8_t want = g->flags;
    if (!last)
        want &= (uint8_t)~(FIN | PSH);
    if (!first)
        want &= (uint8_t)~CWR;
    assert_int_equal(th[13], want);
    assert_memory_equal(th + 14, oth + 14, 2);
    assert_memory_equal(th + 18, oth + 18, p->hdr_end - p->l4 - 18);
    assert_true(ref_l4_ok(p, seg, p->l4, seglen - p->l4));

    /* Each segment is itself a frame the parser accepts. */
    struct net_offload o = { 0 };
    assert_int_equal(net_offload_setup(seg, seglen, &o), 0);
    assert_int_equal(o.hdr_len, p->hdr_end);

    memcpy(g->reasm + g->off, seg + p->hdr_end, chunk);
    g->off += chunk;
    g->n++;
    return 0;
}

static void run_gso(const struct spec *s, size_t mss)
{
    struct pkt p;
    struct gso_check g = { 0 };
    size_t payload = s->payload;
    size_t scratch_len = 128 + 60 + mss;
    uint8_t *scratch = malloc(scratch_len);

    pkt_init(&p);
    build(&p, s);
    struct net_offload o = { .csum_partial = true, .gso_size = (uint16_t)mss,
                             .gso_type = s->ipv == 4 ? NET_GSO_TCPV4 : NET_GSO_TCPV6 };
    assert_int_equal(net_offload_setup(p.b, p.len, &o), 0);
    g.p = &p;
    g.mss = mss;
    g.reasm = malloc(payload + 1);
    g.ip_id = s->ip_id;
    g.seq = s->seq;
    g.flags = s->tcp_flags;
    g.nseg = payload ? (payload + mss - 1) / mss : 1;
    uint8_t *frame = exact_copy(p.b, p.len);
    int n = net_gso_segment(frame, p.len, &o, scratch, scratch_len, gso_verify, &g);
    assert_int_equal(n, (int)g.nseg);
    assert_int_equal(g.n, n);
    assert_int_equal(g.off, payload);
    assert_memory_equal(g.reasm, p.b + p.hdr_end, payload);
    assert_memory_equal(frame, p.b, p.len);             /* input untouched */
    free(frame);
    free(g.reasm);
    free(scratch);
    pkt_fini(&p);
}

static void test_gso_segments(void **state)
{
    (void)state;
    const uint8_t all = ACK | PSH | FIN | CWR | ECE | URG;
    struct { struct spec s; size_t mss; } cases[] = {
        { { .ipv = 4, .proto = 6, .payload = 10000, .tcp_flags = ACK | PSH }, 1448 },
        { { .ipv = 4, .proto = 6, .payload = 3 * 536, .tcp_flags = all, .vlan = true,
            .ip_opt = 12, .tcp_opt = 12, .ip_id = 0xfffe, .seq = 0xfffffe00u }, 536 },
        { { .ipv = 4, .proto = 6, .payload = 65535 - 20 - 32, .tcp_opt = 12,
            .tcp_flags = ACK | FIN, .vlan = true, .ip_id = 77 }, 1460 },
        { { .ipv = 4, .proto = 6, .payload = 0, .tcp_flags = all }, 1000 },
        { { .ipv = 4, .proto = 6, .payload = 999, .tcp_flags = all }, 1000 },
        { { .ipv = 4, .proto = 6, .payload = 1000, .tcp_flags = all }, 1000 },
        { { .ipv = 4, .proto = 6, .payload = 1001, .tcp_flags = all }, 1000 },
        { { .ipv = 4, .proto = 6, .payload = 7, .tcp_flags = all, .pad = 9 }, 1 },
        { { .ipv = 6, .proto = 6, .payload = 65535 - 20, .tcp_flags = ACK | PSH,
            .seq = 0x80000000u }, 1440 },
        { { .ipv = 6, .proto = 6, .payload = 2500, .tcp_flags = all, .tcp_opt = 20,
            .v6_ext = EXT_HOP | EXT_RT | EXT_DST, .rt_type = 4, .rt_segleft = 1,
            .rt_naddr = 2, .vlan = true }, 1000 },
        { { .ipv = 6, .proto = 6, .payload = 1, .tcp_flags = all }, 1440 },
        { { .ipv = 6, .proto = 6, .payload = 4000, .tcp_flags = ACK, .pad = 3 }, 999 },
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        run_gso(&cases[i].s, cases[i].mss);
}

static void test_gso_rejects(void **state)
{
    (void)state;
    struct pkt p;
    uint8_t *scratch = malloc(4096);
    const struct spec s4 = { .ipv = 4, .proto = 6, .payload = 3000, .tcp_opt = 12 };
    const struct spec s6 = { .ipv = 6, .proto = 6, .payload = 3000 };
    const struct spec u4 = { .ipv = 4, .proto = 17, .payload = 3000 };
    struct net_offload o;
    int n = 0;

    pkt_init(&p);
    build(&p, &s4);
    o = (struct net_offload){ .gso_type = NET_GSO_TCPV4, .gso_size = 0 };
    assert_int_equal(net_gso_segment(p.b, p.len, &o, scratch, 4096, count_emit, &n), -EINVAL);
    o = (struct net_offload){ .gso_type = NET_GSO_NONE, .gso_size = 1000 };
    assert_int_equal(net_gso_segment(p.b, p.len, &o, scratch, 4096, count_emit, &n), -EINVAL);
    o = (struct net_offload){ .gso_type = 3, .gso_size = 1000 };
    assert_int_equal(net_gso_segment(p.b, p.len, &o, scratch, 4096, count_emit, &n), -EINVAL);
    o = (struct net_offload){ .gso_type = NET_GSO_TCPV6, .gso_size = 1000 };
    assert_int_equal(net_gso_segment(p.b, p.len, &o, scratch, 4096, count_emit, &n), -EINVAL);

    /* Scratch one byte short of the first segment; then exactly enough. */
    o = (struct net_offload){ .gso_type = NET_GSO_TCPV4, .gso_size = 1000 };
    assert_int_equal(net_gso_segment(p.b, p.len, &o, scratch, p.hdr_end + 999,
                                     count_emit, &n), -EMSGSIZE);
    assert_int_equal(n, 0);
    assert_int_equal(net_gso_segment(p.b, p.len, &o, scratch, p.hdr_end + 1000,
                                     count_emit, &n), 3);
    assert_int_equal(n, 3);

    /* A short payload needs only its own length. */
    struct spec small = s4;
    small.payload = 10;
    build(&p, &small);
    n = 0;
    assert_int_equal(net_gso_segment(p.b, p.len, &o, scratch, p.hdr_end + 9,
                                     count_emit, &n), -EMSGSIZE);
    assert_int_equal(net_gso_segment(p.b, p.len, &o, scratch, p.hdr_end + 10,
                                     count_emit, &n), 1);

    build(&p, &s6);
    o = (struct net_offload){ .gso_type = NET_GSO_TCPV4, .gso_size = 1000 };
    n = 0;
    assert_int_equal(net_gso_segment(p.b, p.len, &o, scratch, 4096, count_emit, &n), -EINVAL);
    build(&p, &u4);
    assert_int_equal(net_gso_segment(p.b, p.len, &o, scratch, 4096, count_emit, &n), -EINVAL);
    assert_int_equal(n, 0);

    /* Bad headers: -EPROTO before anything is emitted. */
    build(&p, &s4);
    p.b[p.l4 + 12] = 0x40;
    assert_int_equal(net_gso_segment(p.b, p.len, &o, scratch, 4096, count_emit, &n), -EPROTO);
    p.b[p.l4 + 12] = 0x80;
    p.b[p.l3 + 6] |= 0x20;
    assert_int_equal(net_gso_segment(p.b, p.len, &o, scratch, 4096, count_emit, &n), -EPROTO);
    assert_int_equal(n, 0);

    /* The emitter's error stops the run and comes back. */
    p.b[p.l3 + 6] &= (uint8_t)~0x20;
    struct gso_check g = { .p = &p, .mss = 1000, .nseg = 3, .fail_at = 2,
                           .ip_id = s4.ip_id, .seq = s4.seq };
    g.reasm = malloc(3000);
    assert_int_equal(net_gso_segment(p.b, p.len, &o, scratch, 4096, gso_verify, &g), -EIO);
    assert_int_equal(g.n, 2);
    free(g.reasm);
    free(scratch);
    pkt_fini(&p);
}

/* ---------------------------------------------------------- wire forms */

static void test_vnet_roundtrip(void **state)
{
    (void)state;
    struct virtio_net_hdr h;
    struct net_offload o = { .csum_partial = true, .gso_type = NET_GSO_TCPV4,
                             .gso_size = 1448, .csum_start = 34, .csum_offset = 16,
                             .hdr_len = 66 }, back;

    net_offload_to_vnet(&o, &h);
    assert_int_equal(h.flags, VIRTIO_NET_HDR_F_NEEDS_CSUM);
    assert_int_equal(h.gso_type, VIRTIO_NET_HDR_GSO_TCPV4);
    assert_int_equal(h.gso_size, 1448);
    assert_int_equal(h.hdr_len, 66);
    assert_int_equal(h.csum_start, 34);
    assert_int_equal(h.csum_offset, 16);
    assert_int_equal(net_offload_from_vnet(&h, &back), 0);
    assert_offload_equal(&back, &o);

    o = (struct net_offload){ .csum_partial = true, .gso_type = NET_GSO_TCPV6,
                              .gso_size = 1440, .csum_start = 58, .csum_offset = 16,
                              .hdr_len = 90 };
    net_offload_to_vnet(&o, &h);
    assert_int_equal(h.gso_type, VIRTIO_NET_HDR_GSO_TCPV6);
    assert_int_equal(net_offload_from_vnet(&h, &back), 0);
    assert_offload_equal(&back, &o);

    /* Plain partial UDP: no GSO fields. */
    o = (struct net_offload){ .csum_partial = true, .csum_start = 34, .csum_offset = 6,
                              .hdr_len = 42 };
    net_offload_to_vnet(&o, &h);
    assert_int_equal(h.flags, VIRTIO_NET_HDR_F_NEEDS_CSUM);
    assert_int_equal(h.gso_type, VIRTIO_NET_HDR_GSO_NONE);
    assert_int_equal(h.gso_size, 0);
    assert_int_equal(h.hdr_len, 0);

    /* A partial checksum is not valid yet: NEEDS_CSUM alone. */
    o.csum_valid = true;
    net_offload_to_vnet(&o, &h);
    assert_int_equal(h.flags, VIRTIO_NET_HDR_F_NEEDS_CSUM);

    /* Known good, nothing to do; and nothing at all. */
    o = (struct net_offload){ .csum_valid = true, .csum_start = 34 };
    net_offload_to_vnet(&o, &h);
    assert_int_equal(h.flags, VIRTIO_NET_HDR_F_DATA_VALID);
    assert_int_equal(h.csum_start, 0);
    assert_int_equal(net_offload_from_vnet(&h, &back), 0);
    assert_true(back.csum_valid);
    assert_false(back.csum_partial);
    o = (struct net_offload){ 0 };
    net_offload_to_vnet(&o, &h);
    assert_int_equal(h.flags, 0);
    assert_int_equal(h.gso_type, 0);

    /* From the kernel: GSO without NEEDS_CSUM is still partial. */
    memset(&h, 0, sizeof(h));
    h.gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
    h.gso_size = 1000;
    assert_int_equal(net_offload_from_vnet(&h, &back), 0);
    assert_true(back.csum_partial);
    assert_int_equal(back.gso_type, NET_GSO_TCPV4);
}

static void test_vnet_rejects(void **state)
{
    (void)state;
    const uint8_t bad_types[] = {
        VIRTIO_NET_HDR_GSO_UDP, 2, 5, VIRTIO_NET_HDR_GSO_TCPV4 | VIRTIO_NET_HDR_GSO_ECN,
        VIRTIO_NET_HDR_GSO_TCPV6 | VIRTIO_NET_HDR_GSO_ECN, VIRTIO_NET_HDR_GSO_ECN, 0xff,
    };
    struct virtio_net_hdr h;
    struct net_offload o;
    const struct net_offload sentinel = SENTINEL;

    for (size_t i = 0; i < sizeof(bad_types); i++) {
        memset(&h, 0, sizeof(h));
        h.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
        h.gso_type = bad_types[i];
        h.gso_size = 1400;
        o = sentinel;
        assert_int_equal(net_offload_from_vnet(&h, &o), -EINVAL);
        assert_offload_equal(&o, &sentinel);
    }
    memset(&h, 0, sizeof(h));
    h.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
    h.gso_type = VIRTIO_NET_HDR_GSO_TCPV6;
    o = sentinel;
    assert_int_equal(net_offload_from_vnet(&h, &o), -EINVAL);     /* size 0 */
    assert_offload_equal(&o, &sentinel);
    memset(&h, 0, sizeof(h));
    h.flags = VIRTIO_NET_HDR_F_RSC_INFO;
    assert_int_equal(net_offload_from_vnet(&h, &o), -EINVAL);
    assert_offload_equal(&o, &sentinel);
}

static void test_netif_from_tx(void **state)
{
    (void)state;
    struct net_offload o;
    const struct net_offload sentinel = SENTINEL;
    struct netif_extra_info x;

    assert_int_equal(net_offload_from_netif(0, NULL, &o), 0);
    assert_false(o.csum_partial);
    assert_false(o.csum_valid);
    assert_int_equal(o.gso_type, NET_GSO_NONE);
    assert_int_equal(net_offload_from_netif(NETTXF_csum_blank | NETTXF_more_data, NULL, &o), 0);
    assert_true(o.csum_partial);
    assert_false(o.csum_valid);
    assert_int_equal(net_offload_from_netif(NETTXF_data_validated, NULL, &o), 0);
    assert_false(o.csum_partial);
    assert_true(o.csum_valid);
    assert_int_equal(net_offload_from_netif(NETTXF_csum_blank | NETTXF_data_validated,
                                            NULL, &o), 0);
    assert_true(o.csum_partial);
    assert_true(o.csum_valid);

    memset(&x, 0, sizeof(x));
    x.type = XEN_NETIF_EXTRA_TYPE_GSO;
    x.u.gso.type = XEN_NETIF_GSO_TYPE_TCPV4;
    x.u.gso.size = 1448;
    assert_int_equal(net_offload_from_netif(NETTXF_extra_info, &x, &o), 0);
    assert_true(o.csum_partial);        /* GSO implies it */
    assert_int_equal(o.gso_type, NET_GSO_TCPV4);
    assert_int_equal(o.gso_size, 1448);
    x.u.gso.type = XEN_NETIF_GSO_TYPE_TCPV6;
    assert_int_equal(net_offload_from_netif(NETTXF_extra_info | NETTXF_csum_blank, &x, &o), 0);
    assert_int_equal(o.gso_type, NET_GSO_TCPV6);

    const struct { uint8_t type, gtype; uint16_t size; } bad[] = {
        { XEN_NETIF_EXTRA_TYPE_MCAST_ADD, XEN_NETIF_GSO_TYPE_TCPV4, 1448 },
        { XEN_NETIF_EXTRA_TYPE_NONE, XEN_NETIF_GSO_TYPE_TCPV4, 1448 },
        { XEN_NETIF_EXTRA_TYPE_GSO, XEN_NETIF_GSO_TYPE_NONE, 1448 },
        { XEN_NETIF_EXTRA_TYPE_GSO, 3, 1448 },
        { XEN_NETIF_EXTRA_TYPE_GSO, XEN_NETIF_GSO_TYPE_TCPV4, 0 },
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        memset(&x, 0, sizeof(x));
        x.type = bad[i].type;
        x.u.gso.type = bad[i].gtype;
        x.u.gso.size = bad[i].size;
        o = sentinel;
        assert_int_equal(net_offload_from_netif(NETTXF_extra_info, &x, &o), -EINVAL);
        assert_offload_equal(&o, &sentinel);
    }
}

static void test_netif_to_rx(void **state)
{
    (void)state;
    struct netif_extra_info x, sentinel;
    uint16_t fl;
    bool has;
    struct net_offload o;

    memset(&sentinel, 0x5a, sizeof(sentinel));
    x = sentinel;
    o = (struct net_offload){ 0 };
    fl = 0xffff;
    net_offload_to_netif_rx(&o, &fl, &x, &has);
    assert_int_equal(fl, 0);
    assert_false(has);
    assert_memory_equal(&x, &sentinel, sizeof(x));

    o = (struct net_offload){ .csum_valid = true };
    net_offload_to_netif_rx(&o, &fl, &x, &has);
    assert_int_equal(fl, NETRXF_data_validated);
    assert_false(has);

    o = (struct net_offload){ .csum_partial = true };
    net_offload_to_netif_rx(&o, &fl, &x, &has);
    assert_int_equal(fl, NETRXF_csum_blank | NETRXF_data_validated);
    assert_false(has);
    assert_memory_equal(&x, &sentinel, sizeof(x));

    o = (struct net_offload){ .csum_partial = true, .gso_type = NET_GSO_TCPV6,
                              .gso_size = 1440 };
    net_offload_to_netif_rx(&o, &fl, &x, &has);
    assert_int_equal(fl, NETRXF_csum_blank | NETRXF_data_validated | NETRXF_extra_info);
    assert_true(has);
    assert_int_equal(x.type, XEN_NETIF_EXTRA_TYPE_GSO);
    assert_int_equal(x.flags, 0);
    assert_int_equal(x.u.gso.type, XEN_NETIF_GSO_TYPE_TCPV6);
    assert_int_equal(x.u.gso.size, 1440);
    assert_int_equal(x.u.gso.pad, 0);
    assert_int_equal(x.u.gso.features, 0);

    o.gso_type = NET_GSO_TCPV4;
    net_offload_to_netif_rx(&o, &fl, &x, &has);
    assert_int_equal(x.u.gso.type, XEN_NETIF_GSO_TYPE_TCPV4);

    /* What a guest sends back in is what we read out. */
    struct net_offload back;
    assert_int_equal(net_offload_from_netif(NETTXF_csum_blank, &x, &back), 0);
    assert_int_equal(back.gso_type, NET_GSO_TCPV4);
    assert_int_equal(back.gso_size, 1440);
}

/* ---------------------------------------------------------------- fuzz */

static int fuzz_emit(const uint8_t *seg, size_t seglen, void *arg)
{
    struct net_offload o = { 0 };

    (void)arg;
    /* Whatever was accepted must segment into frames that parse. */
    assert_int_equal(net_offload_setup(seg, seglen, &o), 0);
    return 0;
}

static void test_fuzz_mutated_frames(void **state)
{
    (void)state;
    struct pkt p;
    uint8_t scratch[2048];
    int accepted = 0;

    pkt_init(&p);
    for (int it = 0; it < 20000; it++) {
        struct spec s = SPECS[rnd() % NSPECS];
        s.payload = rnd() % 200;
        s.pad = rnd() % 4 ? 0 : rnd() % 40;
        build(&p, &s);
        size_t len = p.len;
        int flips = 1 + (int)(rnd() % 4);
        for (int k = 0; k < flips; k++) {
            size_t at = rnd() % (p.hdr_end + 8 < len ? p.hdr_end + 8 : len);
            p.b[at] ^= (uint8_t)(1u << (rnd() % 8));
        }
        if (rnd() % 4 == 0)
            len = rnd() % (len + 1);
        uint8_t *c = exact_copy(p.b, len);
        struct net_offload o = { .csum_partial = true };
        if (rnd() % 2) {
            o.gso_type = (uint8_t)(rnd() % 4);
            o.gso_size = (uint16_t)(rnd() % 1500);
        }
        int rc = net_offload_setup(c, len, &o);
        if (rc == 0) {
            accepted++;
            assert_int_equal(net_csum_complete(c, len, &o), 0);
            assert_int_equal(net_csum_to_partial(c, len, &o), 0);
            if (o.gso_type != NET_GSO_NONE) {
                int n = net_gso_segment(c, len, &o, scratch, sizeof(scratch),
                                        fuzz_emit, NULL);
                assert_true(n >= 1);
            }
        } else {
            assert_true(rc == -EPROTO || rc == -EINVAL);
            /* Offsets from nowhere must not get past the parser either. */
            o.csum_start = (uint16_t)(rnd() % 128);
            o.csum_offset = rnd() % 2 ? 16 : 6;
            rc = net_csum_complete(c, len, &o);
            assert_true(rc == 0 || rc == -EPROTO);
            rc = net_csum_to_partial(c, len, &o);
            assert_true(rc == 0 || rc == -EPROTO);
            o.gso_type = (uint8_t)(rnd() % 4);
            o.gso_size = (uint16_t)(rnd() % 100);
            rc = net_gso_segment(c, len, &o, scratch, sizeof(scratch), count_emit,
                                 &(int){ 0 });
            assert_true(rc >= 1 || rc == -EPROTO || rc == -EINVAL || rc == -EMSGSIZE);
        }
        free(c);
    }
    /* The mutations left plenty of frames valid, so both paths ran. */
    assert_true(accepted > 1000);
    assert_true(accepted < 19000);
    pkt_fini(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_csum_add_matches_reference),
        cmocka_unit_test(test_csum_add_large),
        cmocka_unit_test(test_setup_complete_partial),
        cmocka_unit_test(test_udp_zero_sent_as_ffff),
        cmocka_unit_test(test_ipv6_routing_final_destination),
        cmocka_unit_test(test_reject_truncated_every_length),
        cmocka_unit_test(test_reject_bad_headers),
        cmocka_unit_test(test_reject_mismatched_offsets),
        cmocka_unit_test(test_setup_checks_gso),
        cmocka_unit_test(test_gso_segments),
        cmocka_unit_test(test_gso_rejects),
        cmocka_unit_test(test_vnet_roundtrip),
        cmocka_unit_test(test_vnet_rejects),
        cmocka_unit_test(test_netif_from_tx),
        cmocka_unit_test(test_netif_to_rx),
        cmocka_unit_test(test_fuzz_mutated_frames),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
