/*
 * net_hdr_test.c - netback's one Ethernet/IP/L4 header parser: what it
 * finds behind no tag, an 802.1Q and an 802.1ad tag; IPv4 options,
 * fragments and a bad IHL; the IPv6 extension-header walk and the routing
 * header's final destination; a buffer holding only a frame's head (found
 * what is there, nothing read past it, at every length); and what is not
 * IP.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "net_hdr.h"

static void put16(uint8_t *p, unsigned v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

/* Ethernet behind `tpid` (0: no tag), the ethertype; returns l3. */
static size_t eth(uint8_t *f, unsigned tpid, unsigned type)
{
    memset(f, 0xee, 12);
    size_t o = 12;
    if (tpid) {
        put16(f + o, tpid);
        put16(f + o + 2, 42); /* VLAN id */
        o += 4;
    }
    put16(f + o, type);
    return o + 2;
}

/* IPv4 with `opts` option bytes, then a TCP header of doff*4 bytes and pay
 * bytes of payload; returns the frame's length. */
static size_t v4_tcp(uint8_t *f, unsigned tpid, size_t opts, unsigned doff, size_t pay)
{
    size_t l3 = eth(f, tpid, NET_ETHERTYPE_IPV4), ihl = 20 + opts;
    memset(f + l3, 0, ihl + doff * 4 + pay);
    f[l3] = (uint8_t)(0x40 | ihl / 4);
    put16(f + l3 + 2, (unsigned)(ihl + doff * 4 + pay));
    f[l3 + 9] = NET_IPPROTO_TCP;
    f[l3 + ihl + 12] = (uint8_t)(doff << 4);
    return l3 + ihl + doff * 4 + pay;
}

/* IPv6, then the extension headers listed in ext (100 for hop-by-hop,
 * whose number 0 ends the list; 43 routing, 60 destination options), 8
 * bytes each, then UDP with pay bytes of payload. */
static size_t v6_udp(uint8_t *f, const unsigned *ext, size_t pay)
{
    size_t l3 = eth(f, 0, NET_ETHERTYPE_IPV6), o = l3 + 40;
    memset(f + l3, 0, 40);
    f[l3] = 0x60;
    size_t next_at = l3 + 6;
    for (unsigned i = 0; ext && ext[i]; i++) {
        f[next_at] = (uint8_t)(ext[i] == 100 ? 0 : ext[i]); /* 100: hop-by-hop */
        memset(f + o, 0, 8);
        next_at = o;
        o += 8;
    }
    f[next_at] = NET_IPPROTO_UDP;
    memset(f + o, 0, 8 + pay);
    put16(f + o + 4, (unsigned)(8 + pay));
    o += 8 + pay;
    put16(f + l3 + 4, (unsigned)(o - l3 - 40));
    return o;
}

static void test_tags(void **state)
{
    (void)state;
    static const unsigned tpids[] = { 0, NET_ETHERTYPE_8021Q, NET_ETHERTYPE_8021AD };
    uint8_t f[128];
    for (unsigned i = 0; i < 3; i++) {
        size_t len = v4_tcp(f, tpids[i], 0, 5, 10), l3 = i ? 18 : 14;
        struct net_hdr h;
        net_hdr_parse(f, len, &h);
        assert_int_equal(h.l3, l3);
        assert_int_equal(h.ethertype, NET_ETHERTYPE_IPV4);
        assert_int_equal(h.ipv, 4);
        assert_int_equal(h.proto, NET_IPPROTO_TCP);
        assert_false(h.fragment);
        assert_int_equal(h.l4, l3 + 20);
        assert_int_equal(h.hdr_end, l3 + 40);
        assert_int_equal(h.end, len);
        assert_int_equal(h.dst, l3 + 16);
        assert_int_equal(net_hdr_addr_off(&h), l3 + 12);
        assert_int_equal(net_hdr_addr_len(&h), 8);
        assert_true(net_hdr_l4_has(&h, len, 4));
        assert_false(net_hdr_is_ipv6(f, len));
    }
    /* a tag cut short: not even an ethertype */
    size_t l3;
    v4_tcp(f, NET_ETHERTYPE_8021AD, 0, 5, 0);
    assert_int_equal(net_hdr_ethertype(f, 17, &l3), 0);
    assert_int_equal(net_hdr_ethertype(f, 18, &l3), NET_ETHERTYPE_IPV4);
    assert_int_equal(l3, 18);
}

static void test_ipv4(void **state)
{
    (void)state;
    uint8_t f[256];
    struct net_hdr h;
    /* options and TCP options */
    size_t len = v4_tcp(f, 0, 12, 8, 3);
    net_hdr_parse(f, len, &h);
    assert_int_equal(h.l4, 14 + 32);
    assert_int_equal(h.hdr_end, 14 + 32 + 32);
    /* a fragment: found, flagged, its ports not offered */
    put16(f + 14 + 6, 0x2000);
    net_hdr_parse(f, len, &h);
    assert_true(h.fragment);
    assert_false(net_hdr_l4_has(&h, len, 4));
    put16(f + 14 + 6, 0x0001);
    net_hdr_parse(f, len, &h);
    assert_true(h.fragment);
    /* IHL below 5: IP, but no L4 header */
    len = v4_tcp(f, 0, 0, 5, 0);
    f[14] = 0x44;
    net_hdr_parse(f, len, &h);
    assert_int_equal(h.ipv, 4);
    assert_int_equal(h.l4, 0);
    assert_int_equal(h.hdr_end, 0);
    assert_false(net_hdr_l4_has(&h, len, 4));
    /* a version that is not 4: not IP */
    f[14] = 0x65;
    net_hdr_parse(f, len, &h);
    assert_int_equal(h.ethertype, NET_ETHERTYPE_IPV4);
    assert_int_equal(h.ipv, 0);
    /* a total length below the IHL: the L4 header is not in the datagram */
    len = v4_tcp(f, 0, 0, 5, 0);
    put16(f + 14 + 2, 19);
    net_hdr_parse(f, len, &h);
    assert_int_equal(h.l4, 34);
    assert_int_equal(h.end, 14 + 19);
    assert_int_equal(h.hdr_end, 0);
    /* a TCP data offset below 5 or past the datagram: no header end */
    len = v4_tcp(f, 0, 0, 5, 0);
    f[34 + 12] = 0x40;
    net_hdr_parse(f, len, &h);
    assert_int_equal(h.hdr_end, 0);
    f[34 + 12] = 0x60;
    net_hdr_parse(f, len, &h);
    assert_int_equal(h.hdr_end, 0);
    /* a protocol other than TCP and UDP: found, no header end */
    len = v4_tcp(f, 0, 0, 5, 0);
    f[14 + 9] = 1; /* ICMP */
    net_hdr_parse(f, len, &h);
    assert_int_equal(h.proto, 1);
    assert_int_equal(h.l4, 34);
    assert_int_equal(h.hdr_end, 0);
}

static void test_ipv6_extension_headers(void **state)
{
    (void)state;
    uint8_t f[256];
    struct net_hdr h;
    static const unsigned none[] = { 0 }, three[] = { 100, 60, 43, 0 };
    size_t len = v6_udp(f, none, 4);
    net_hdr_parse(f, len, &h);
    assert_int_equal(h.ipv, 6);
    assert_int_equal(h.proto, NET_IPPROTO_UDP);
    assert_int_equal(h.l4, 54);
    assert_int_equal(h.hdr_end, 62);
    assert_int_equal(h.end, len);
    assert_int_equal(h.dst, 14 + 24);
    assert_int_equal(net_hdr_addr_off(&h), 14 + 8);
    assert_int_equal(net_hdr_addr_len(&h), 32);
    assert_true(net_hdr_is_ipv6(f, len));

    len = v6_udp(f, three, 4);
    net_hdr_parse(f, len, &h);
    assert_int_equal(h.proto, NET_IPPROTO_UDP);
    assert_int_equal(h.l4, 54 + 24);
    assert_int_equal(h.hdr_end, 54 + 32);
    assert_int_equal(h.dst, 14 + 24); /* no segments left */

    /* a routing header with segments left names the final destination */
    static const unsigned rt[] = { 43, 0 };
    len = v6_udp(f, rt, 0);
    size_t rh = 54;
    memmove(f + rh + 24, f + rh + 8, len - rh - 8); /* grow it to 24 bytes */
    memset(f + rh + 8, 0x77, 16);
    f[rh + 1] = 2;                                  /* (2 + 1) * 8 bytes */
    f[rh + 2] = 0;                                  /* type 0: the address list */
    f[rh + 3] = 1;                                  /* one segment left */
    len += 16;
    put16(f + 14 + 4, (unsigned)(len - 54));
    net_hdr_parse(f, len, &h);
    assert_int_equal(h.l4, rh + 24);
    assert_int_equal(h.dst, rh + 8);
    /* an unknown routing type with segments left: the walk stops there */
    f[rh + 2] = 9;
    net_hdr_parse(f, len, &h);
    assert_int_equal(h.ipv, 6);
    assert_int_equal(h.proto, 43);
    assert_int_equal(h.l4, 0);
    assert_int_equal(h.hdr_end, 0);

    /* an extension header past the datagram's end: not walked */
    len = v6_udp(f, three, 4);
    put16(f + 14 + 4, 12);
    net_hdr_parse(f, len, &h);
    assert_int_equal(h.l4, 0);
    /* a payload length of 0 (a jumbogram): no room for anything */
    len = v6_udp(f, none, 4);
    put16(f + 14 + 4, 0);
    net_hdr_parse(f, len, &h);
    assert_int_equal(h.end, 54);
    assert_int_equal(h.l4, 54);
    assert_int_equal(h.hdr_end, 0);
}

/* The switch hands only a frame's head: what is in it is found, what is
 * not is not, and no byte at or past len is read (the copy ends there, so
 * ASan would see it). */
static void test_head_only_every_length(void **state)
{
    (void)state;
    uint8_t full[256];
    static const unsigned three[] = { 100, 60, 43, 0 };
    size_t lens[3];
    uint8_t frames[3][256];
    lens[0] = v4_tcp(frames[0], NET_ETHERTYPE_8021Q, 8, 6, 40);
    lens[1] = v6_udp(frames[1], three, 40);
    lens[2] = v4_tcp(frames[2], 0, 0, 5, 40);
    for (unsigned k = 0; k < 3; k++) {
        memcpy(full, frames[k], lens[k]);
        struct net_hdr whole;
        net_hdr_parse(full, lens[k], &whole);
        for (size_t len = 0; len <= lens[k]; len++) {
            uint8_t *head = malloc(len ? len : 1);
            assert_non_null(head);
            memcpy(head, full, len);
            struct net_hdr h;
            net_hdr_parse(head, len, &h);
            bool ip_there = len >= whole.l3 + (whole.ipv == 4 ? 20u : 40u);
            assert_int_equal(h.ipv, ip_there ? whole.ipv : 0);
            if (ip_there) {
                assert_int_equal(h.end, whole.end); /* as the header says */
                if (h.l4)
                    assert_int_equal(h.l4, whole.l4);
                assert_int_equal(h.hdr_end, len >= whole.hdr_end ? whole.hdr_end : 0);
                assert_int_equal(net_hdr_l4_has(&h, len, 4), h.l4 && len >= whole.l4 + 4);
            }
            free(head);
        }
    }
}

static void test_not_ip(void **state)
{
    (void)state;
    uint8_t f[64];
    struct net_hdr h;
    memset(f, 0, sizeof(f));
    eth(f, 0, 0x0806); /* ARP */
    net_hdr_parse(f, sizeof(f), &h);
    assert_int_equal(h.ethertype, 0x0806);
    assert_int_equal(h.ipv, 0);
    assert_int_equal(h.l4, 0);
    net_hdr_parse(f, 13, &h);
    assert_int_equal(h.ethertype, 0);
    net_hdr_parse(f, 0, &h);
    assert_int_equal(h.ethertype, 0);
    assert_false(net_hdr_is_ipv6(f, 0));
    /* the ethertype says IPv6, the buffer ends before its header: not IP,
     * but still IPv6 by its ethertype (what the receive side asks) */
    eth(f, NET_ETHERTYPE_8021AD, NET_ETHERTYPE_IPV6);
    net_hdr_parse(f, 30, &h);
    assert_int_equal(h.ipv, 0);
    assert_true(net_hdr_is_ipv6(f, 30));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tags),
        cmocka_unit_test(test_ipv4),
        cmocka_unit_test(test_ipv6_extension_headers),
        cmocka_unit_test(test_head_only_every_length),
        cmocka_unit_test(test_not_ip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
