/*
 * net_hash_test.c - a vif's Toeplitz hash and its control requests: the
 * published RSS verification vectors (the key and addresses every RSS
 * implementation is checked against), the maximal hash type chosen, and
 * each control request's statuses and limits.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "net_hash.h"
#include "net_port.h"

static const uint8_t rss_key[40] = {
    0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67, 0x25, 0x3d, 0x43, 0xa3,
    0x8f, 0xb0, 0xd0, 0xca, 0x2b, 0xcb, 0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3,
    0x80, 0x30, 0xf2, 0x0c, 0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa,
};

/* The test's "guest memory": what SET_HASH_KEY / _MAPPING copy from. */
static uint8_t page[4096];
static int copies, fail_copy;

static int copy_page(void *ctx, grant_ref_t ref, void *dst, size_t len)
{
    (void)ctx;
    copies++;
    if (fail_copy || ref != 7 || len > sizeof(page))
        return -1;
    memcpy(dst, page, len);
    return 0;
}

static uint32_t ctrl(struct net_hash *h, uint16_t type, uint32_t d0, uint32_t d1, uint32_t d2,
                     uint32_t *data)
{
    struct xen_netif_ctrl_request req = { .id = 1, .type = type, .data = { d0, d1, d2 } };
    uint32_t scratch;
    return net_hash_ctrl(h, &req, copy_page, NULL, data ? data : &scratch);
}

static void setup_toeplitz(struct net_hash *h, uint32_t flags)
{
    net_hash_reset(h, 4);
    memcpy(page, rss_key, sizeof(rss_key));
    assert_int_equal(ctrl(h, XEN_NETIF_CTRL_TYPE_SET_HASH_ALGORITHM,
                          XEN_NETIF_CTRL_HASH_ALGORITHM_TOEPLITZ, 0, 0, NULL),
                     XEN_NETIF_CTRL_STATUS_SUCCESS);
    assert_int_equal(ctrl(h, XEN_NETIF_CTRL_TYPE_SET_HASH_KEY, 7, 40, 0, NULL),
                     XEN_NETIF_CTRL_STATUS_SUCCESS);
    assert_int_equal(ctrl(h, XEN_NETIF_CTRL_TYPE_SET_HASH_FLAGS, flags, 0, 0, NULL),
                     XEN_NETIF_CTRL_STATUS_SUCCESS);
}

/* An Ethernet + IPv4 + TCP frame from src:sport to dst:dport. */
static size_t v4_frame(uint8_t *f, const uint8_t src[4], uint16_t sport, const uint8_t dst[4],
                       uint16_t dport, uint8_t proto)
{
    memset(f, 0, 64);
    f[12] = 0x08;
    f[14] = 0x45;
    f[14 + 9] = proto;
    memcpy(f + 14 + 12, src, 4);
    memcpy(f + 14 + 16, dst, 4);
    f[34] = (uint8_t)(sport >> 8), f[35] = (uint8_t)sport;
    f[36] = (uint8_t)(dport >> 8), f[37] = (uint8_t)dport;
    return 64;
}

static size_t v6_frame(uint8_t *f, const uint8_t src[16], uint16_t sport, const uint8_t dst[16],
                       uint16_t dport)
{
    memset(f, 0, 80);
    f[12] = 0x86, f[13] = 0xdd;
    f[14] = 0x60;
    f[14 + 6] = 6; /* TCP */
    memcpy(f + 14 + 8, src, 16);
    memcpy(f + 14 + 24, dst, 16);
    f[54] = (uint8_t)(sport >> 8), f[55] = (uint8_t)sport;
    f[56] = (uint8_t)(dport >> 8), f[57] = (uint8_t)dport;
    return 80;
}

static void test_rss_vectors_ipv4(void **state)
{
    (void)state;
    struct net_hash h;
    uint8_t f[64];
    uint32_t v;
    uint8_t type;
    static const struct {
        uint8_t src[4], dst[4];
        uint16_t sport, dport;
        uint32_t ip, tcp;
    } vec[] = {
        { { 66, 9, 149, 187 }, { 161, 142, 100, 80 }, 2794, 1766, 0x323e8fc2, 0x51ccc178 },
        { { 199, 92, 111, 2 }, { 65, 69, 140, 83 }, 14230, 4739, 0xd718262a, 0xc626b0ea },
        { { 24, 19, 198, 95 }, { 12, 22, 207, 184 }, 12898, 38024, 0xd2d0a5de, 0x5c2b394a },
    };
    for (size_t i = 0; i < sizeof(vec) / sizeof(vec[0]); i++) {
        size_t len = v4_frame(f, vec[i].src, vec[i].sport, vec[i].dst, vec[i].dport, 6);
        setup_toeplitz(&h, XEN_NETIF_CTRL_HASH_TYPE_IPV4);
        assert_true(net_hash_frame(&h, f, len, &v, &type));
        assert_int_equal(type, _XEN_NETIF_CTRL_HASH_TYPE_IPV4);
        assert_int_equal(v, vec[i].ip);
        /* the maximal type: TCP when asked for */
        setup_toeplitz(&h, XEN_NETIF_CTRL_HASH_TYPE_IPV4 | XEN_NETIF_CTRL_HASH_TYPE_IPV4_TCP);
        assert_true(net_hash_frame(&h, f, len, &v, &type));
        assert_int_equal(type, _XEN_NETIF_CTRL_HASH_TYPE_IPV4_TCP);
        assert_int_equal(v, vec[i].tcp);
        /* UDP falls back to the address hash; without IPV4 it is not hashed */
        v4_frame(f, vec[i].src, vec[i].sport, vec[i].dst, vec[i].dport, 17);
        assert_true(net_hash_frame(&h, f, len, &v, &type));
        assert_int_equal(v, vec[i].ip);
        setup_toeplitz(&h, XEN_NETIF_CTRL_HASH_TYPE_IPV4_TCP);
        assert_false(net_hash_frame(&h, f, len, &v, &type));
    }
}

static void test_rss_vectors_ipv6(void **state)
{
    (void)state;
    struct net_hash h;
    uint8_t f[80];
    uint32_t v;
    uint8_t type;
    static const uint8_t src[16] = { 0x3f, 0xfe, 0x25, 0x01, 0x02, 0x00, 0x1f, 0xff,
                                     0, 0, 0, 0, 0, 0, 0, 7 };
    static const uint8_t dst[16] = { 0x3f, 0xfe, 0x25, 0x01, 0x02, 0x00, 0x00, 0x03,
                                     0, 0, 0, 0, 0, 0, 0, 1 };
    size_t len = v6_frame(f, src, 2794, dst, 1766);
    setup_toeplitz(&h, XEN_NETIF_CTRL_HASH_TYPE_IPV6);
    assert_true(net_hash_frame(&h, f, len, &v, &type));
    assert_int_equal(type, _XEN_NETIF_CTRL_HASH_TYPE_IPV6);
    assert_int_equal(v, 0x2cc18cd5);
    setup_toeplitz(&h, XEN_NETIF_CTRL_HASH_TYPE_IPV6 | XEN_NETIF_CTRL_HASH_TYPE_IPV6_TCP);
    assert_true(net_hash_frame(&h, f, len, &v, &type));
    assert_int_equal(type, _XEN_NETIF_CTRL_HASH_TYPE_IPV6_TCP);
    assert_int_equal(v, 0x40207d3d);
    /* IPv4 settings do not hash IPv6 frames, nor anything that is not IP */
    setup_toeplitz(&h, XEN_NETIF_CTRL_HASH_TYPE_IPV4);
    assert_false(net_hash_frame(&h, f, len, &v, &type));
    f[12] = 0x08, f[13] = 0x06; /* ARP */
    setup_toeplitz(&h, NET_HASH_TYPES);
    assert_false(net_hash_frame(&h, f, len, &v, &type));
    /* truncated headers are not read past */
    v6_frame(f, src, 2794, dst, 1766);
    assert_false(net_hash_frame(&h, f, 14 + 39, &v, &type));
}

/* One parser for every reader (net_hdr.h): the hash is the same behind an
 * 802.1Q or an 802.1ad tag, and IPv6 extension headers are walked to the
 * TCP ports (as Linux's flow dissector does); a fragment is hashed by its
 * addresses only. */
static void test_tags_and_extension_headers(void **state)
{
    (void)state;
    struct net_hash h;
    uint8_t f[128], g[128];
    uint32_t v;
    uint8_t type;
    static const uint8_t a4[4] = { 66, 9, 149, 187 }, b4[4] = { 161, 142, 100, 80 };
    setup_toeplitz(&h, NET_HASH_TYPES);
    size_t len = v4_frame(f, a4, 2794, b4, 1766, 6);
    for (unsigned tpid = 0x8100; tpid; tpid = tpid == 0x8100 ? 0x88a8 : 0) {
        memcpy(g, f, 12);
        g[12] = (uint8_t)(tpid >> 8), g[13] = (uint8_t)tpid, g[14] = 0, g[15] = 7;
        memcpy(g + 16, f + 12, len - 12);
        assert_true(net_hash_frame(&h, g, len + 4, &v, &type));
        assert_int_equal(type, _XEN_NETIF_CTRL_HASH_TYPE_IPV4_TCP);
        assert_int_equal(v, 0x51ccc178);
        assert_int_equal(net_flow_hash(g, len + 4), net_flow_hash(f, len));
    }
    f[14 + 6] = 0x20; /* more fragments */
    assert_true(net_hash_frame(&h, f, len, &v, &type));
    assert_int_equal(type, _XEN_NETIF_CTRL_HASH_TYPE_IPV4);
    assert_int_equal(v, 0x323e8fc2);

    static const uint8_t src[16] = { 0x3f, 0xfe, 0x25, 0x01, 0x02, 0x00, 0x1f, 0xff,
                                     0, 0, 0, 0, 0, 0, 0, 7 };
    static const uint8_t dst[16] = { 0x3f, 0xfe, 0x25, 0x01, 0x02, 0x00, 0x00, 0x03,
                                     0, 0, 0, 0, 0, 0, 0, 1 };
    len = v6_frame(f, src, 2794, dst, 1766);
    /* a hop-by-hop options header (8 bytes) between IPv6 and TCP */
    memcpy(g, f, 54);
    memset(g + 54, 0, 8);
    g[54] = 6;      /* its next header: TCP */
    g[14 + 6] = 0;  /* IPv6's next header: hop-by-hop */
    g[14 + 5] = (uint8_t)(8 + len - 54); /* payload length */
    memcpy(g + 62, f + 54, len - 54);
    assert_true(net_hash_frame(&h, g, len + 8, &v, &type));
    assert_int_equal(type, _XEN_NETIF_CTRL_HASH_TYPE_IPV6_TCP);
    assert_int_equal(v, 0x40207d3d);
}

static void test_ctrl_statuses(void **state)
{
    (void)state;
    struct net_hash h;
    uint32_t data;
    net_hash_reset(&h, 2);
    assert_false(net_hash_active(&h));
    /* no algorithm yet: flags cannot be read or set */
    assert_int_equal(ctrl(&h, XEN_NETIF_CTRL_TYPE_GET_HASH_FLAGS, 0, 0, 0, &data),
                     XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER);
    assert_int_equal(ctrl(&h, XEN_NETIF_CTRL_TYPE_SET_HASH_FLAGS, 1, 0, 0, NULL),
                     XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER);
    assert_int_equal(ctrl(&h, XEN_NETIF_CTRL_TYPE_SET_HASH_ALGORITHM, 9, 0, 0, NULL),
                     XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER);
    assert_int_equal(ctrl(&h, XEN_NETIF_CTRL_TYPE_SET_HASH_ALGORITHM,
                          XEN_NETIF_CTRL_HASH_ALGORITHM_TOEPLITZ, 0, 0, NULL),
                     XEN_NETIF_CTRL_STATUS_SUCCESS);
    assert_int_equal(ctrl(&h, XEN_NETIF_CTRL_TYPE_GET_HASH_FLAGS, 0, 0, 0, &data),
                     XEN_NETIF_CTRL_STATUS_SUCCESS);
    assert_int_equal(data, NET_HASH_TYPES);
    assert_int_equal(ctrl(&h, XEN_NETIF_CTRL_TYPE_SET_HASH_FLAGS, 1u << 4, 0, 0, NULL),
                     XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER);
    assert_int_equal(ctrl(&h, XEN_NETIF_CTRL_TYPE_SET_HASH_FLAGS, NET_HASH_TYPES, 0, 0, NULL),
                     XEN_NETIF_CTRL_STATUS_SUCCESS);
    assert_true(net_hash_active(&h));
    /* keys: at most 40 bytes; a copy that fails is a bad parameter */
    assert_int_equal(ctrl(&h, XEN_NETIF_CTRL_TYPE_SET_HASH_KEY, 7, 41, 0, NULL),
                     XEN_NETIF_CTRL_STATUS_BUFFER_OVERFLOW);
    fail_copy = 1;
    assert_int_equal(ctrl(&h, XEN_NETIF_CTRL_TYPE_SET_HASH_KEY, 7, 40, 0, NULL),
                     XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER);
    fail_copy = 0;
    /* a key of 0 bytes clears it: every hash is then 0 */
    assert_int_equal(ctrl(&h, XEN_NETIF_CTRL_TYPE_SET_HASH_KEY, 7, 0, 0, NULL),
                     XEN_NETIF_CTRL_STATUS_SUCCESS);
    uint8_t f[64];
    static const uint8_t a[4] = { 10, 0, 0, 1 }, b[4] = { 10, 0, 0, 2 };
    uint32_t v = 1;
    uint8_t type;
    v4_frame(f, a, 1, b, 2, 6);
    assert_true(net_hash_frame(&h, f, 64, &v, &type));
    assert_int_equal(v, 0);
    /* the grant-mapping requests are not offered */
    assert_int_equal(ctrl(&h, XEN_NETIF_CTRL_TYPE_GET_GREF_MAPPING_SIZE, 0, 0, 0, NULL),
                     XEN_NETIF_CTRL_STATUS_NOT_SUPPORTED);
    assert_int_equal(ctrl(&h, 99, 0, 0, 0, NULL), XEN_NETIF_CTRL_STATUS_NOT_SUPPORTED);
    /* NONE turns hashing off */
    assert_int_equal(ctrl(&h, XEN_NETIF_CTRL_TYPE_SET_HASH_ALGORITHM,
                          XEN_NETIF_CTRL_HASH_ALGORITHM_NONE, 0, 0, NULL),
                     XEN_NETIF_CTRL_STATUS_SUCCESS);
    assert_false(net_hash_active(&h));
}

static void test_mapping(void **state)
{
    (void)state;
    struct net_hash h;
    uint32_t data;
    net_hash_reset(&h, 4);
    /* no table: modulo the queues */
    assert_int_equal(net_hash_queue(&h, 10, 4), 2);
    assert_int_equal(ctrl(&h, XEN_NETIF_CTRL_TYPE_GET_HASH_MAPPING_SIZE, 0, 0, 0, &data),
                     XEN_NETIF_CTRL_STATUS_SUCCESS);
    assert_int_equal(data, NET_HASH_MAPPING_MAX);
    assert_int_equal(ctrl(&h, XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING_SIZE, 129, 0, 0, NULL),
                     XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER);
    assert_int_equal(ctrl(&h, XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING_SIZE, 8, 0, 0, NULL),
                     XEN_NETIF_CTRL_STATUS_SUCCESS);
    /* a new table is zero filled: everything to queue 0 */
    assert_int_equal(net_hash_queue(&h, 13, 4), 0);
    uint32_t table[4] = { 3, 2, 1, 0 };
    memcpy(page, table, sizeof(table));
    /* entries 4..7 of the table */
    assert_int_equal(ctrl(&h, XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING, 7, 4, 4, NULL),
                     XEN_NETIF_CTRL_STATUS_SUCCESS);
    assert_int_equal(net_hash_queue(&h, 4, 4), 3);
    assert_int_equal(net_hash_queue(&h, 12, 4), 3); /* 12 % 8 = 4 */
    assert_int_equal(net_hash_queue(&h, 7, 4), 0);
    assert_int_equal(net_hash_queue(&h, 1, 4), 0);
    /* beyond the table, or a queue the vif does not have: refused, nothing applied */
    assert_int_equal(ctrl(&h, XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING, 7, 4, 5, NULL),
                     XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER);
    table[1] = 4;
    memcpy(page, table, sizeof(table));
    assert_int_equal(ctrl(&h, XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING, 7, 4, 0, NULL),
                     XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER);
    assert_int_equal(net_hash_queue(&h, 0, 4), 0);
    /* a vif with fewer queues than an entry names never gets a queue it lacks */
    assert_true(net_hash_queue(&h, 4, 2) < 2);
}

/* Without hash settings a vif's queue is picked by flow: flows whose two
 * ports move together (what FNV alone maps to one parity) spread over 2
 * and 4 queues, and one flow always lands on the same queue. */
static void test_flow_spread(void **state)
{
    (void)state;
    static const uint8_t a[4] = { 10, 0, 0, 1 }, b[4] = { 10, 0, 0, 2 };
    uint8_t f[64];
    for (unsigned nq = 2; nq <= 4; nq += 2) {
        unsigned seen[4] = { 0 };
        for (unsigned flow = 0; flow < 32; flow++) {
            v4_frame(f, a, (uint16_t)(5000 + flow), b, (uint16_t)(6000 + flow), 17);
            uint32_t h = net_hash_mix(net_flow_hash(f, 64));
            seen[h % nq]++;
            assert_int_equal(net_hash_mix(net_flow_hash(f, 64)), h);
        }
        for (unsigned q = 0; q < nq; q++)
            assert_true(seen[q] > 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rss_vectors_ipv4),
        cmocka_unit_test(test_rss_vectors_ipv6),
        cmocka_unit_test(test_tags_and_extension_headers),
        cmocka_unit_test(test_ctrl_statuses),
        cmocka_unit_test(test_mapping),
        cmocka_unit_test(test_flow_spread),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
