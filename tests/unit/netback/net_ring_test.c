/*
 * net_ring_test.c - the netif tx and rx rings (netback/net_ring.c): every
 * rule of the tx fetch (what is kept, what is dropped and why, what breaks
 * the ring), the responses of both rings, the notify and re-arm checks,
 * attaching after a restart, and copy-once against a frontend that keeps
 * rewriting its slots.
 *
 * The shared ring lives in an ordinary page; the test plays the frontend
 * with the FRONT_RING macros of xen/io/ring.h and writes its slots byte by
 * byte, as a guest would.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "net_ring.h"

#if defined(__SANITIZE_THREAD__)
#define UNDER_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define UNDER_TSAN 1
#endif
#endif

/* ------------------------------------------------------------ a tx frontend */

struct txf {
    void *page;
    netif_tx_sring_t *s;
    netif_tx_front_ring_t f;
};

/* A ring whose indices all start at `start` (to cross the 32-bit wrap). */
static void txf_init_at(struct txf *t, RING_IDX start)
{
    t->page = aligned_alloc(NET_PAGE_SIZE, NET_PAGE_SIZE);
    assert_non_null(t->page);
    memset(t->page, 0xEE, NET_PAGE_SIZE); /* slots hold garbage until written */
    t->s = t->page;
    SHARED_RING_INIT(t->s);
    t->s->req_prod = t->s->rsp_prod = start;
    t->s->req_event = t->s->rsp_event = start + 1;
    FRONT_RING_ATTACH(&t->f, t->s, start, NET_PAGE_SIZE);
}

static void txf_init(struct txf *t)
{
    txf_init_at(t, 0);
}

static void txf_fini(struct txf *t)
{
    free(t->page);
}

static void txf_req(struct txf *t, grant_ref_t gref, uint16_t offset, uint16_t flags, uint16_t id,
                    uint16_t size)
{
    netif_tx_request_t r = { .gref = gref, .offset = offset, .flags = flags, .id = id,
                             .size = size };
    memcpy(RING_GET_REQUEST(&t->f, t->f.req_prod_pvt), &r, sizeof(r));
    t->f.req_prod_pvt++;
}

static void txf_extra(struct txf *t, uint8_t type, bool more)
{
    struct netif_extra_info x;
    memset(&x, 0, sizeof(x));
    x.type = type;
    x.flags = more ? XEN_NETIF_EXTRA_FLAG_MORE : 0;
    memcpy(RING_GET_REQUEST(&t->f, t->f.req_prod_pvt), &x, sizeof(x));
    t->f.req_prod_pvt++;
}

static void txf_gso(struct txf *t, uint16_t size, uint8_t type, bool more)
{
    struct netif_extra_info x;
    memset(&x, 0, sizeof(x));
    x.type = XEN_NETIF_EXTRA_TYPE_GSO;
    x.flags = more ? XEN_NETIF_EXTRA_FLAG_MORE : 0;
    x.u.gso.size = size;
    x.u.gso.type = type;
    x.u.gso.features = 0;
    memcpy(RING_GET_REQUEST(&t->f, t->f.req_prod_pvt), &x, sizeof(x));
    t->f.req_prod_pvt++;
}

static void txf_mcast(struct txf *t, uint8_t type, const uint8_t addr[6], bool more)
{
    struct netif_extra_info x;
    memset(&x, 0, sizeof(x));
    x.type = type;
    x.flags = more ? XEN_NETIF_EXTRA_FLAG_MORE : 0;
    memcpy(x.u.mcast.addr, addr, 6);
    memcpy(RING_GET_REQUEST(&t->f, t->f.req_prod_pvt), &x, sizeof(x));
    t->f.req_prod_pvt++;
}

static void txf_publish(struct txf *t)
{
    RING_PUSH_REQUESTS(&t->f);
}

/* A packet of n fragments of `each` bytes (the first request's size the
 * total), ids id0, id0+1, ... */
static void txf_frags(struct txf *t, unsigned n, uint16_t each, uint16_t id0)
{
    for (unsigned i = 0; i < n; i++)
        txf_req(t, 100 + i, 0, i + 1 < n ? NETTXF_more_data : 0, (uint16_t)(id0 + i),
                i == 0 ? (uint16_t)(n * each) : each);
}

/* The ring is broken and stays so, whatever the frontend does next. */
static void assert_tx_broken(struct net_txr *r, struct txf *t)
{
    struct net_tx_pkt p;
    assert_true(r->broken);
    assert_non_null(r->why);
    assert_int_equal(net_txr_avail(r), -EPROTO);
    assert_int_equal(net_tx_fetch(r, &p), -EPROTO);
    /* a good packet published now changes nothing */
    txf_req(t, 1, 0, 0, 77, 60);
    txf_publish(t);
    assert_int_equal(net_tx_fetch(r, &p), -EPROTO);
    assert_int_equal(net_txr_avail(r), -EPROTO);
    assert_false(net_txr_has_requests(r));
    assert_int_equal(net_tx_peek_len(r), -1);
    assert_false(net_txr_final_check(r));
    assert_true(r->broken);
}

static int fetch(struct net_txr *r, struct net_tx_pkt *p)
{
    memset(p, 0xA5, sizeof(*p)); /* nothing stale may pass for a result */
    return net_tx_fetch(r, p);
}

/* ------------------------------------------------------------ tx: kept packets */

static void test_plain_packet(void **state)
{
    (void)state;
    struct txf t;
    txf_init(&t);
    struct net_txr r;
    assert_int_equal(net_txr_attach(&r, t.s, NULL, 0, NULL), 0);
    struct net_tx_pkt p;
    assert_int_equal(fetch(&r, &p), 0); /* nothing yet */
    assert_int_equal(net_txr_avail(&r), 0);

    txf_req(&t, 1234, 100, NETTXF_csum_blank | NETTXF_data_validated, 7, 60);
    assert_int_equal(fetch(&r, &p), 0); /* written but not published */
    txf_publish(&t);
    assert_int_equal(net_txr_avail(&r), 1);
    assert_true(net_txr_has_requests(&r));
    assert_int_equal(fetch(&r, &p), 1);
    assert_int_equal(p.nslots, 1);
    assert_int_equal(p.nfrags, 1);
    assert_int_equal(p.len, 60);
    assert_int_equal(p.flags, NETTXF_csum_blank | NETTXF_data_validated);
    assert_int_equal(p.drop, NET_TX_KEEP);
    assert_false(p.has_gso);
    assert_false(p.mcast_add);
    assert_false(p.mcast_del);
    assert_int_equal(p.id[0], 7);
    assert_false(p.is_extra[0]);
    assert_int_equal(p.frag[0].gref, 1234);
    assert_int_equal(p.frag[0].offset, 100);
    assert_int_equal(p.frag[0].size, 60);
    assert_int_equal(net_txr_avail(&r), 0);
    assert_false(net_txr_has_requests(&r));
    assert_int_equal(fetch(&r, &p), 0);

    /* exactly an Ethernet header is no runt; a whole page from offset 0 fits */
    txf_req(&t, 1, 0, 0, 8, NET_ETH_HLEN);
    txf_req(&t, 2, 0, 0, 9, NET_PAGE_SIZE);
    txf_publish(&t);
    assert_int_equal(fetch(&r, &p), 1);
    assert_int_equal(p.drop, NET_TX_KEEP);
    assert_int_equal(p.len, NET_ETH_HLEN);
    assert_int_equal(fetch(&r, &p), 1);
    assert_int_equal(p.drop, NET_TX_KEEP);
    assert_int_equal(p.frag[0].size, NET_PAGE_SIZE);
    assert_false(r.broken);
    txf_fini(&t);
}

static void test_multi_slot(void **state)
{
    (void)state;
    struct txf t;
    txf_init(&t);
    struct net_txr r;
    assert_int_equal(net_txr_attach(&r, t.s, NULL, 0, NULL), 0);
    /* 3000 bytes: first fragment 1500 (what the others leave), then 1000, 500 */
    txf_req(&t, 11, 64, NETTXF_more_data | NETTXF_csum_blank, 1, 3000);
    txf_req(&t, 12, 0, NETTXF_more_data, 2, 1000);
    txf_req(&t, 13, 3596, 0, 3, 500); /* ends exactly at the page's end */
    txf_publish(&t);
    struct net_tx_pkt p;
    assert_int_equal(fetch(&r, &p), 1);
    assert_int_equal(p.drop, NET_TX_KEEP);
    assert_int_equal(p.nslots, 3);
    assert_int_equal(p.nfrags, 3);
    assert_int_equal(p.len, 3000);
    assert_int_equal(p.flags, NETTXF_more_data | NETTXF_csum_blank);
    assert_int_equal(p.frag[0].gref, 11);
    assert_int_equal(p.frag[0].offset, 64);
    assert_int_equal(p.frag[0].size, 1500);
    assert_int_equal(p.frag[1].gref, 12);
    assert_int_equal(p.frag[1].offset, 0);
    assert_int_equal(p.frag[1].size, 1000);
    assert_int_equal(p.frag[2].gref, 13);
    assert_int_equal(p.frag[2].offset, 3596);
    assert_int_equal(p.frag[2].size, 500);
    for (unsigned i = 0; i < 3; i++) {
        assert_int_equal(p.id[i], i + 1);
        assert_false(p.is_extra[i]);
    }

    /* the others may leave the first fragment nothing: the runt rule looks
     * at the packet's length, not at its first fragment */
    txf_req(&t, 21, 0, NETTXF_more_data, 4, 100);
    txf_req(&t, 22, 0, 0, 5, 100);
    txf_publish(&t);
    assert_int_equal(fetch(&r, &p), 1);
    assert_int_equal(p.drop, NET_TX_KEEP);
    assert_int_equal(p.frag[0].size, 0);
    assert_int_equal(p.frag[1].size, 100);

    /* exactly NET_TX_MAX_SLOTS fragments are kept */
    txf_frags(&t, NET_TX_MAX_SLOTS, 100, 10);
    txf_publish(&t);
    assert_int_equal(fetch(&r, &p), 1);
    assert_int_equal(p.drop, NET_TX_KEEP);
    assert_int_equal(p.nfrags, NET_TX_MAX_SLOTS);
    assert_int_equal(p.nslots, NET_TX_MAX_SLOTS);
    assert_int_equal(p.len, NET_TX_MAX_SLOTS * 100);
    assert_int_equal(p.frag[0].size, 100);
    assert_int_equal(p.frag[NET_TX_MAX_SLOTS - 1].size, 100);
    assert_int_equal(p.id[NET_TX_MAX_SLOTS - 1], 10 + NET_TX_MAX_SLOTS - 1);
    assert_int_equal(fetch(&r, &p), 0);
    txf_fini(&t);
}

static void test_extras(void **state)
{
    (void)state;
    static const uint8_t ga[6] = { 0x01, 0x00, 0x5e, 0x01, 0x02, 0x03 };
    static const uint8_t gd[6] = { 0x33, 0x33, 0x00, 0x00, 0x00, 0x09 };
    struct txf t;
    txf_init(&t);
    struct net_txr r;
    assert_int_equal(net_txr_attach(&r, t.s, NULL, 0, NULL), 0);

    /* one of each type, chained with MORE, then a second fragment */
    txf_req(&t, 1, 0, NETTXF_extra_info | NETTXF_more_data, 40, 9000);
    txf_gso(&t, 1448, XEN_NETIF_GSO_TYPE_TCPV4, true);
    txf_mcast(&t, XEN_NETIF_EXTRA_TYPE_MCAST_ADD, ga, true);
    txf_extra(&t, XEN_NETIF_EXTRA_TYPE_HASH, true); /* ignored */
    txf_mcast(&t, XEN_NETIF_EXTRA_TYPE_MCAST_DEL, gd, false);
    txf_req(&t, 2, 0, NETTXF_more_data, 41, 4096);
    txf_req(&t, 3, 0, 0, 42, 4000);
    txf_publish(&t);
    struct net_tx_pkt p;
    assert_int_equal(fetch(&r, &p), 1);
    assert_int_equal(p.drop, NET_TX_KEEP);
    assert_int_equal(p.nslots, 7);
    assert_int_equal(p.nfrags, 3);
    assert_int_equal(p.len, 9000);
    assert_int_equal(p.frag[0].size, 9000 - 4096 - 4000);
    assert_int_equal(p.frag[1].gref, 2);
    assert_int_equal(p.frag[2].gref, 3);
    assert_true(p.has_gso);
    assert_int_equal(p.gso.type, XEN_NETIF_EXTRA_TYPE_GSO);
    assert_int_equal(p.gso.u.gso.size, 1448);
    assert_int_equal(p.gso.u.gso.type, XEN_NETIF_GSO_TYPE_TCPV4);
    assert_true(p.mcast_add);
    assert_memory_equal(p.mcast_add_addr, ga, 6);
    assert_true(p.mcast_del);
    assert_memory_equal(p.mcast_del_addr, gd, 6);
    static const bool extra[7] = { false, true, true, true, true, false, false };
    for (unsigned i = 0; i < 7; i++)
        assert_int_equal(p.is_extra[i], extra[i]);
    assert_int_equal(p.id[0], 40);
    assert_int_equal(p.id[5], 41);
    assert_int_equal(p.id[6], 42);

    /* GSO for TCPv6, one slot and one extra; a repeated type: the later one */
    txf_req(&t, 4, 0, NETTXF_extra_info, 43, 1000);
    txf_gso(&t, 500, XEN_NETIF_GSO_TYPE_TCPV4, true);
    txf_gso(&t, 1440, XEN_NETIF_GSO_TYPE_TCPV6, false);
    txf_publish(&t);
    assert_int_equal(fetch(&r, &p), 1);
    assert_int_equal(p.drop, NET_TX_KEEP);
    assert_int_equal(p.nslots, 3);
    assert_int_equal(p.nfrags, 1);
    assert_int_equal(p.frag[0].size, 1000);
    assert_true(p.has_gso);
    assert_int_equal(p.gso.u.gso.size, 1440);
    assert_int_equal(p.gso.u.gso.type, XEN_NETIF_GSO_TYPE_TCPV6);
    assert_false(p.mcast_add);
    assert_false(p.mcast_del);

    /* a multicast-control request: the first request is a dummy of no
     * length, and that is no runt */
    txf_req(&t, 0, 0, NETTXF_extra_info, 44, 0);
    txf_mcast(&t, XEN_NETIF_EXTRA_TYPE_MCAST_ADD, ga, false);
    txf_publish(&t);
    assert_int_equal(fetch(&r, &p), 1);
    assert_int_equal(p.drop, NET_TX_KEEP);
    assert_int_equal(p.nslots, 2);
    assert_true(p.mcast_add);
    assert_false(p.mcast_del);
    assert_false(p.has_gso);
    assert_memory_equal(p.mcast_add_addr, ga, 6);

    /* a hash extra alone: kept, and nothing set by it */
    txf_req(&t, 5, 0, NETTXF_extra_info, 45, 60);
    txf_extra(&t, XEN_NETIF_EXTRA_TYPE_HASH, false);
    txf_publish(&t);
    assert_int_equal(fetch(&r, &p), 1);
    assert_int_equal(p.drop, NET_TX_KEEP);
    assert_int_equal(p.nslots, 2);
    assert_false(p.has_gso);
    assert_false(p.mcast_add);
    assert_false(p.mcast_del);

    /* extras do not count against the fragment limit: 18 fragments and a
     * GSO extra (19 slots) are kept */
    txf_req(&t, 100, 0, NETTXF_extra_info | NETTXF_more_data, 50, NET_TX_MAX_SLOTS * 100);
    txf_gso(&t, 1000, XEN_NETIF_GSO_TYPE_TCPV4, false);
    for (unsigned i = 1; i < NET_TX_MAX_SLOTS; i++)
        txf_req(&t, 100 + i, 0, i + 1 < NET_TX_MAX_SLOTS ? NETTXF_more_data : 0,
                (uint16_t)(50 + i), 100);
    txf_publish(&t);
    assert_int_equal(fetch(&r, &p), 1);
    assert_int_equal(p.drop, NET_TX_KEEP);
    assert_int_equal(p.nslots, NET_TX_MAX_SLOTS + 1);
    assert_int_equal(p.nfrags, NET_TX_MAX_SLOTS);
    assert_int_equal(fetch(&r, &p), 0);
    assert_false(r.broken);
    txf_fini(&t);
}

/* ------------------------------------------------------------ tx: drops */

/* Publishes what the caller wrote, then a plain 60-byte packet of id 999:
 * fetches the first (expected dropped for `why`, `nslots` consumed) and
 * checks the plain one comes out whole after it. */
static void expect_drop(struct txf *t, struct net_txr *r, enum net_tx_drop why, unsigned nslots)
{
    txf_req(t, 5, 0, 0, 999, 60);
    txf_publish(t);
    struct net_tx_pkt p;
    assert_int_equal(fetch(r, &p), 1);
    assert_int_equal(p.drop, why);
    assert_int_equal(p.nslots, nslots);
    assert_false(r->broken);
    net_tx_respond(r, &p, NETIF_RSP_ERROR);
    assert_int_equal(fetch(r, &p), 1);
    assert_int_equal(p.drop, NET_TX_KEEP);
    assert_int_equal(p.nslots, 1);
    assert_int_equal(p.id[0], 999);
    assert_int_equal(p.len, 60);
    net_tx_respond(r, &p, NETIF_RSP_OKAY);
    assert_int_equal(fetch(r, &p), 0);
}

static void test_drops(void **state)
{
    (void)state;
    struct txf t;
    txf_init(&t);
    struct net_txr r;
    assert_int_equal(net_txr_attach(&r, t.s, NULL, 0, NULL), 0);

    /* a runt: one slot, 13 bytes; and one of 0 bytes */
    txf_req(&t, 1, 0, 0, 1, NET_ETH_HLEN - 1);
    expect_drop(&t, &r, NET_TX_DROP_RUNT, 1);
    txf_req(&t, 1, 0, 0, 1, 0);
    expect_drop(&t, &r, NET_TX_DROP_RUNT, 1);
    /* a runt in two slots */
    txf_req(&t, 1, 0, NETTXF_more_data, 1, 10);
    txf_req(&t, 2, 0, 0, 2, 4);
    expect_drop(&t, &r, NET_TX_DROP_RUNT, 2);

    /* 19 and 20 fragments: consumed entirely and dropped */
    txf_frags(&t, NET_TX_MAX_SLOTS + 1, 100, 1);
    expect_drop(&t, &r, NET_TX_DROP_SLOTS, NET_TX_MAX_SLOTS + 1);
    txf_frags(&t, NET_TX_FATAL_SLOTS, 100, 1);
    expect_drop(&t, &r, NET_TX_DROP_SLOTS, NET_TX_FATAL_SLOTS);
    /* ... with an extra too */
    txf_req(&t, 1, 0, NETTXF_extra_info | NETTXF_more_data, 1, 100 * NET_TX_FATAL_SLOTS);
    txf_gso(&t, 1000, XEN_NETIF_GSO_TYPE_TCPV4, false);
    for (unsigned i = 1; i < NET_TX_FATAL_SLOTS; i++)
        txf_req(&t, 1, 0, i + 1 < NET_TX_FATAL_SLOTS ? NETTXF_more_data : 0, 1, 100);
    expect_drop(&t, &r, NET_TX_DROP_SLOTS, NET_TX_FATAL_SLOTS + 1);

    /* fragments adding up to more than the packet: by one byte */
    txf_req(&t, 1, 0, NETTXF_more_data, 1, 1000);
    txf_req(&t, 2, 0, NETTXF_more_data, 2, 600);
    txf_req(&t, 3, 0, 0, 3, 401);
    expect_drop(&t, &r, NET_TX_DROP_OVERSIZE, 3);
    /* ... and exactly the packet is fine (the first fragment gets 0) */
    txf_req(&t, 1, 0, NETTXF_more_data, 1, 1000);
    txf_req(&t, 2, 0, NETTXF_more_data, 2, 600);
    txf_req(&t, 3, 0, 0, 3, 400);
    txf_publish(&t);
    struct net_tx_pkt p;
    assert_int_equal(fetch(&r, &p), 1);
    assert_int_equal(p.drop, NET_TX_KEEP);
    assert_int_equal(p.frag[0].size, 0);
    /* oversize early, then more fragments: all consumed */
    txf_req(&t, 1, 0, NETTXF_more_data, 1, 100);
    txf_req(&t, 2, 0, NETTXF_more_data, 2, 4000);
    txf_req(&t, 3, 0, NETTXF_more_data, 3, 10);
    txf_req(&t, 4, 0, 0, 4, 10);
    expect_drop(&t, &r, NET_TX_DROP_OVERSIZE, 4);

    /* a zero-sized fragment (not the first) */
    txf_req(&t, 1, 0, NETTXF_more_data, 1, 1000);
    txf_req(&t, 2, 0, NETTXF_more_data, 2, 0);
    txf_req(&t, 3, 0, 0, 3, 500);
    expect_drop(&t, &r, NET_TX_DROP_ZERO_FRAG, 3);
    txf_req(&t, 1, 0, NETTXF_more_data, 1, 1000);
    txf_req(&t, 2, 0, 0, 2, 0);
    expect_drop(&t, &r, NET_TX_DROP_ZERO_FRAG, 2);

    /* GSO: size 0; unknown type (none, and one past TCPv6) */
    txf_req(&t, 1, 0, NETTXF_extra_info, 1, 1000);
    txf_gso(&t, 0, XEN_NETIF_GSO_TYPE_TCPV4, false);
    expect_drop(&t, &r, NET_TX_DROP_GSO, 2);
    txf_req(&t, 1, 0, NETTXF_extra_info, 1, 1000);
    txf_gso(&t, 1448, XEN_NETIF_GSO_TYPE_TCPV6 + 1, false);
    expect_drop(&t, &r, NET_TX_DROP_GSO, 2);
    txf_req(&t, 1, 0, NETTXF_extra_info, 1, 1000);
    txf_gso(&t, 1448, XEN_NETIF_GSO_TYPE_NONE, false);
    expect_drop(&t, &r, NET_TX_DROP_GSO, 2);
    /* bad GSO behind a multi-slot packet */
    txf_req(&t, 1, 0, NETTXF_extra_info | NETTXF_more_data, 1, 3000);
    txf_gso(&t, 0, XEN_NETIF_GSO_TYPE_TCPV6, true);
    txf_extra(&t, XEN_NETIF_EXTRA_TYPE_HASH, false);
    txf_req(&t, 2, 0, 0, 2, 2000);
    expect_drop(&t, &r, NET_TX_DROP_GSO, 4);

    assert_false(r.broken);
    txf_fini(&t);
}

static void test_drop_str(void **state)
{
    (void)state;
    for (int d = 0; d < NET_TX_DROP__COUNT; d++) {
        assert_non_null(net_tx_drop_str((enum net_tx_drop)d));
        assert_string_not_equal(net_tx_drop_str((enum net_tx_drop)d), "invalid");
    }
    assert_string_equal(net_tx_drop_str(NET_TX_DROP__COUNT), "invalid");
    assert_string_equal(net_tx_drop_str((enum net_tx_drop)-1), "invalid");
}

/* ------------------------------------------------------------ tx: broken rings */

static void test_eproto_producer_at_attach(void **state)
{
    (void)state;
    struct txf t;
    txf_init_at(&t, 5);
    struct net_txr r;
    t.s->req_prod = 5 + NET_TX_RING_SIZE; /* a full ring: fine */
    assert_int_equal(net_txr_attach(&r, t.s, NULL, 0, NULL), 0);
    assert_int_equal(net_txr_avail(&r), NET_TX_RING_SIZE);
    t.s->req_prod = 5 + NET_TX_RING_SIZE + 1;
    assert_int_equal(net_txr_attach(&r, t.s, NULL, 0, NULL), -EPROTO);
    assert_tx_broken(&r, &t);
    /* behind the responses: as far ahead as it can be */
    t.s->req_prod = 4;
    assert_int_equal(net_txr_attach(&r, t.s, NULL, 0, NULL), -EPROTO);
    assert_true(r.broken);
    txf_fini(&t);

    struct net_rxr rx;
    void *page = aligned_alloc(NET_PAGE_SIZE, NET_PAGE_SIZE);
    assert_non_null(page);
    netif_rx_sring_t *s = page;
    SHARED_RING_INIT(s);
    s->req_prod = NET_RX_RING_SIZE;
    assert_int_equal(net_rxr_attach(&rx, s, NULL, 0, NULL), 0);
    assert_int_equal(net_rxr_avail(&rx), NET_RX_RING_SIZE);
    s->req_prod = NET_RX_RING_SIZE + 1;
    assert_int_equal(net_rxr_attach(&rx, s, NULL, 0, NULL), -EPROTO);
    assert_true(rx.broken);
    assert_non_null(rx.why);
    assert_int_equal(net_rxr_avail(&rx), -EPROTO);
    s->req_prod = 1;
    assert_int_equal(net_rxr_avail(&rx), -EPROTO); /* sticky */
    assert_false(net_rxr_final_check(&rx, 1));
    free(page);
}

static void test_eproto_producer_later(void **state)
{
    (void)state;
    struct txf t;
    txf_init(&t);
    struct net_txr r;
    assert_int_equal(net_txr_attach(&r, t.s, NULL, 0, NULL), 0);
    struct net_tx_pkt p;
    for (unsigned i = 0; i < 10; i++)
        txf_req(&t, 1, 0, 0, (uint16_t)i, 60);
    txf_publish(&t);
    for (unsigned i = 0; i < 10; i++) {
        assert_int_equal(fetch(&r, &p), 1);
        net_tx_respond(&r, &p, NETIF_RSP_OKAY);
    }
    /* responses count once published (staged ones are not the frontend's yet) */
    t.s->req_prod = 10 + NET_TX_RING_SIZE;
    assert_int_equal(net_txr_avail(&r), -EPROTO);
    txf_fini(&t);
    txf_init(&t);
    assert_int_equal(net_txr_attach(&r, t.s, NULL, 0, NULL), 0);
    for (unsigned i = 0; i < 10; i++)
        txf_req(&t, 1, 0, 0, (uint16_t)i, 60);
    txf_publish(&t);
    for (unsigned i = 0; i < 10; i++) {
        assert_int_equal(fetch(&r, &p), 1);
        net_tx_respond(&r, &p, NETIF_RSP_OKAY);
    }
    net_txr_push(&r);
    /* a ring ahead of the published responses is the most there can be */
    t.s->req_prod = 10 + NET_TX_RING_SIZE;
    assert_int_equal(net_txr_avail(&r), NET_TX_RING_SIZE);
    t.s->req_prod = 10 + NET_TX_RING_SIZE + 1;
    assert_int_equal(net_txr_avail(&r), -EPROTO);
    assert_tx_broken(&r, &t);
    txf_fini(&t);

    /* the same seen by fetch itself, with consumed requests not yet answered */
    txf_init(&t);
    assert_int_equal(net_txr_attach(&r, t.s, NULL, 0, NULL), 0);
    txf_req(&t, 1, 0, 0, 1, 60);
    txf_publish(&t);
    assert_int_equal(fetch(&r, &p), 1);
    t.s->req_prod = NET_TX_RING_SIZE + 1;
    assert_int_equal(fetch(&r, &p), -EPROTO);
    assert_tx_broken(&r, &t);
    txf_fini(&t);

    /* the producer moved back behind what was consumed */
    txf_init(&t);
    assert_int_equal(net_txr_attach(&r, t.s, NULL, 0, NULL), 0);
    for (unsigned i = 0; i < 3; i++)
        txf_req(&t, 1, 0, 0, (uint16_t)i, 60);
    txf_publish(&t);
    assert_int_equal(fetch(&r, &p), 1);
    assert_int_equal(fetch(&r, &p), 1);
    t.s->req_prod = 1;
    assert_int_equal(fetch(&r, &p), -EPROTO);
    assert_tx_broken(&r, &t);
    txf_fini(&t);
}

static void test_eproto_unpublished(void **state)
{
    (void)state;
    struct txf t;
    struct net_txr r;
    struct net_tx_pkt p;

    /* more_data on the last published request */
    txf_init(&t);
    assert_int_equal(net_txr_attach(&r, t.s, NULL, 0, NULL), 0);
    txf_req(&t, 1, 0, NETTXF_more_data, 1, 1000);
    txf_req(&t, 2, 0, NETTXF_more_data, 2, 500);
    txf_publish(&t);
    txf_req(&t, 3, 0, 0, 3, 500); /* written, never published */
    assert_int_equal(fetch(&r, &p), -EPROTO);
    assert_tx_broken(&r, &t);
    txf_fini(&t);

    /* extra_info with no extra slot published */
    txf_init(&t);
    assert_int_equal(net_txr_attach(&r, t.s, NULL, 0, NULL), 0);
    txf_req(&t, 1, 0, NETTXF_extra_info, 1, 1000);
    txf_publish(&t);
    assert_int_equal(fetch(&r, &p), -EPROTO);
    assert_tx_broken(&r, &t);
    txf_fini(&t);

    /* an extra saying MORE as the last published slot */
    txf_init(&t);
    assert_int_equal(net_txr_attach(&r, t.s, NULL, 0, NULL), 0);
    txf_req(&t, 1, 0, NETTXF_extra_info, 1, 1000);
    txf_gso(&t, 1448, XEN_NETIF_GSO_TYPE_TCPV4, true);
    txf_publish(&t);
    assert_int_equal(fetch(&r, &p), -EPROTO);
    assert_tx_broken(&r, &t);
    txf_fini(&t);

    /* extras published, the fragment they announce not */
    txf_init(&t);
    assert_int_equal(net_txr_attach(&r, t.s, NULL, 0, NULL), 0);
    txf_req(&t, 1, 0, NETTXF_extra_info | NETTXF_more_data, 1, 1000);
    txf_gso(&t, 1448, XEN_NETIF_GSO_TYPE_TCPV4, false);
    txf_publish(&t);
    assert_int_equal(fetch(&r, &p), -EPROTO);
    assert_tx_broken(&r, &t);
    txf_fini(&t);
}

static void test_eproto_too_many_slots(void **state)
{
    (void)state;
    struct txf t;
    txf_init(&t);
    struct net_txr r;
    assert_int_equal(net_txr_attach(&r, t.s, NULL, 0, NULL), 0);
    struct net_tx_pkt p;
    txf_frags(&t, NET_TX_FATAL_SLOTS + 1, 100, 1);
    txf_publish(&t);
    assert_int_equal(fetch(&r, &p), -EPROTO);
    assert_tx_broken(&r, &t);
    txf_fini(&t);

    /* a frontend that never ends its packet: more_data on every slot */
    txf_init(&t);
    assert_int_equal(net_txr_attach(&r, t.s, NULL, 0, NULL), 0);
    for (unsigned i = 0; i < NET_TX_RING_SIZE; i++)
        txf_req(&t, 1, 0, NETTXF_more_data, (uint16_t)i, 100);
    txf_publish(&t);
    assert_int_equal(fetch(&r, &p), -EPROTO);
    assert_tx_broken(&r, &t);
    txf_fini(&t);
}

static void test_eproto_crossing(void **state)
{
    (void)state;
    struct txf t;
    struct net_txr r;
    struct net_tx_pkt p;

    /* a later fragment one byte past its page */
    txf_init(&t);
    assert_int_equal(net_txr_attach(&r, t.s, NULL, 0, NULL), 0);
    txf_req(&t, 1, 0, NETTXF_more_data, 1, 1000);
    txf_req(&t, 2, 3597, 0, 2, 500);
    txf_publish(&t);
    assert_int_equal(fetch(&r, &p), -EPROTO);
    assert_tx_broken(&r, &t);
    txf_fini(&t);

    /* a later fragment whose offset is beyond the page */
    txf_init(&t);
    assert_int_equal(net_txr_attach(&r, t.s, NULL, 0, NULL), 0);
    txf_req(&t, 1, 0, NETTXF_more_data, 1, 1000);
    txf_req(&t, 2, 0xffff, 0, 2, 10);
    txf_publish(&t);
    assert_int_equal(fetch(&r, &p), -EPROTO);
    assert_tx_broken(&r, &t);
    txf_fini(&t);

    /* a single-slot packet crossing */
    txf_init(&t);
    assert_int_equal(net_txr_attach(&r, t.s, NULL, 0, NULL), 0);
    txf_req(&t, 1, 4000, 0, 1, 97);
    txf_publish(&t);
    assert_int_equal(fetch(&r, &p), -EPROTO);
    assert_tx_broken(&r, &t);
    txf_fini(&t);

    /* a single-slot packet larger than a page */
    txf_init(&t);
    assert_int_equal(net_txr_attach(&r, t.s, NULL, 0, NULL), 0);
    txf_req(&t, 1, 0, 0, 1, NET_PAGE_SIZE + 1);
    txf_publish(&t);
    assert_int_equal(fetch(&r, &p), -EPROTO);
    assert_tx_broken(&r, &t);
    txf_fini(&t);

    /* the first fragment's derived share crosses: 2000 - 900 = 1100 from 3000 */
    txf_init(&t);
    assert_int_equal(net_txr_attach(&r, t.s, NULL, 0, NULL), 0);
    txf_req(&t, 1, 3000, NETTXF_more_data, 1, 2000);
    txf_req(&t, 2, 0, 0, 2, 900);
    txf_publish(&t);
    assert_int_equal(fetch(&r, &p), -EPROTO);
    assert_tx_broken(&r, &t);
    txf_fini(&t);

    /* ... while 2000 - 904 = 1096 from 3000 ends exactly at the page's end */
    txf_init(&t);
    assert_int_equal(net_txr_attach(&r, t.s, NULL, 0, NULL), 0);
    txf_req(&t, 1, 3000, NETTXF_more_data, 1, 2000);
    txf_req(&t, 2, 0, 0, 2, 904);
    txf_publish(&t);
    assert_int_equal(fetch(&r, &p), 1);
    assert_int_equal(p.drop, NET_TX_KEEP);
    assert_int_equal(p.frag[0].size, 1096);
    assert_false(r.broken);
    txf_fini(&t);
}

static void test_eproto_extra_type(void **state)
{
    (void)state;
    static const uint8_t bad_types[] = { XEN_NETIF_EXTRA_TYPE_NONE, XEN_NETIF_EXTRA_TYPE_MAX,
                                         0xff };
    struct txf t;
    struct net_txr r;
    struct net_tx_pkt p;
    for (unsigned i = 0; i < sizeof(bad_types); i++) {
        /* alone, and behind a good extra */
        for (int behind = 0; behind < 2; behind++) {
            txf_init(&t);
            assert_int_equal(net_txr_attach(&r, t.s, NULL, 0, NULL), 0);
            txf_req(&t, 1, 0, NETTXF_extra_info, 1, 1000);
            if (behind)
                txf_gso(&t, 1448, XEN_NETIF_GSO_TYPE_TCPV4, true);
            txf_extra(&t, bad_types[i], false);
            txf_publish(&t);
            assert_int_equal(fetch(&r, &p), -EPROTO);
            assert_tx_broken(&r, &t);
            txf_fini(&t);
        }
    }

    /* more extra slots than there are types (each MORE) */
    txf_init(&t);
    assert_int_equal(net_txr_attach(&r, t.s, NULL, 0, NULL), 0);
    txf_req(&t, 1, 0, NETTXF_extra_info, 1, 1000);
    for (unsigned i = 0; i < NET_TX_MAX_EXTRAS + 1; i++)
        txf_gso(&t, 1448, XEN_NETIF_GSO_TYPE_TCPV4, i < NET_TX_MAX_EXTRAS);
    txf_publish(&t);
    assert_int_equal(fetch(&r, &p), -EPROTO);
    assert_tx_broken(&r, &t);
    txf_fini(&t);

    /* NET_TX_MAX_EXTRAS of them (repeats) are fine */
    txf_init(&t);
    assert_int_equal(net_txr_attach(&r, t.s, NULL, 0, NULL), 0);
    txf_req(&t, 1, 0, NETTXF_extra_info, 1, 1000);
    for (unsigned i = 0; i < NET_TX_MAX_EXTRAS; i++)
        txf_gso(&t, (uint16_t)(1000 + i), XEN_NETIF_GSO_TYPE_TCPV4, i + 1 < NET_TX_MAX_EXTRAS);
    txf_publish(&t);
    assert_int_equal(fetch(&r, &p), 1);
    assert_int_equal(p.drop, NET_TX_KEEP);
    assert_int_equal(p.nslots, 1 + NET_TX_MAX_EXTRAS);
    assert_int_equal(p.gso.u.gso.size, 1000 + NET_TX_MAX_EXTRAS - 1);
    txf_fini(&t);
}

/* ------------------------------------------------------------ tx: answers */

static void test_respond(void **state)
{
    (void)state;
    struct txf t;
    txf_init(&t);
    struct net_txr r;
    assert_int_equal(net_txr_attach(&r, t.s, NULL, 0, NULL), 0);
    static const uint8_t ga[6] = { 0x01, 0, 0x5e, 0, 0, 1 };

    txf_req(&t, 1, 0, NETTXF_extra_info | NETTXF_more_data, 300, 2000);
    txf_gso(&t, 1448, XEN_NETIF_GSO_TYPE_TCPV4, true);
    txf_mcast(&t, XEN_NETIF_EXTRA_TYPE_MCAST_ADD, ga, false);
    txf_req(&t, 2, 0, 0, 301, 1000);
    txf_req(&t, 3, 0, 0, 302, 5); /* a runt */
    txf_req(&t, 4, 0, 0, 303, 60);
    txf_publish(&t);

    struct net_tx_pkt a, b, c;
    assert_int_equal(fetch(&r, &a), 1);
    assert_int_equal(fetch(&r, &b), 1);
    assert_int_equal(fetch(&r, &c), 1);
    assert_int_equal(b.drop, NET_TX_DROP_RUNT);
    net_tx_respond(&r, &a, NETIF_RSP_OKAY);
    net_tx_respond(&r, &b, NETIF_RSP_ERROR);
    /* nothing is visible before the push */
    assert_int_equal(t.s->rsp_prod, 0);
    assert_true(net_txr_push(&r));
    assert_int_equal(t.s->rsp_prod, 5);
    net_tx_respond(&r, &c, NETIF_RSP_DROPPED);
    net_txr_push(&r);
    assert_int_equal(t.s->rsp_prod, 6);

    static const struct { bool null; uint16_t id; int16_t status; } want[6] = {
        { false, 300, NETIF_RSP_OKAY }, { true, 0, NETIF_RSP_NULL },
        { true, 0, NETIF_RSP_NULL },    { false, 301, NETIF_RSP_OKAY },
        { false, 302, NETIF_RSP_ERROR }, { false, 303, NETIF_RSP_DROPPED },
    };
    for (unsigned i = 0; i < 6; i++) {
        netif_tx_response_t *rsp = RING_GET_RESPONSE(&t.f, t.f.rsp_cons);
        assert_int_equal(rsp->status, want[i].status);
        if (!want[i].null)
            assert_int_equal(rsp->id, want[i].id);
        t.f.rsp_cons++;
    }
    assert_false(RING_HAS_UNCONSUMED_RESPONSES(&t.f));

    /* a dropped packet of 20 slots gets 20 answers, each id echoed */
    txf_frags(&t, NET_TX_FATAL_SLOTS, 100, 500);
    txf_publish(&t);
    assert_int_equal(fetch(&r, &a), 1);
    assert_int_equal(a.drop, NET_TX_DROP_SLOTS);
    net_tx_respond(&r, &a, NETIF_RSP_ERROR);
    net_txr_push(&r);
    for (unsigned i = 0; i < NET_TX_FATAL_SLOTS; i++) {
        netif_tx_response_t *rsp = RING_GET_RESPONSE(&t.f, t.f.rsp_cons);
        assert_int_equal(rsp->id, 500 + i);
        assert_int_equal(rsp->status, NETIF_RSP_ERROR);
        t.f.rsp_cons++;
    }
    assert_int_equal(t.s->rsp_prod, t.s->req_prod);
    txf_fini(&t);
}

/* Many packets of 1 to 3 slots and 0 or 1 extra through a ring whose
 * indices cross 2^32, the frontend refilling as the responses come back:
 * what is fetched is what was sent, every answer in its place. */
static void test_wrap(void **state)
{
    (void)state;
    struct txf t;
    txf_init_at(&t, 0xffffff00u);
    struct net_txr r;
    assert_int_equal(net_txr_attach(&r, t.s, NULL, 0, NULL), 0);
    uint16_t next_id = 0, expect_id = 0;
    unsigned sent = 0, got = 0;
    for (unsigned round = 0; round < 200; round++) {
        /* the frontend sends while at least 4 slots are free */
        while (RING_FREE_REQUESTS(&t.f) >= 4 && sent < 3000) {
            unsigned nfr = 1 + sent % 3;
            bool gso = sent % 2;
            uint16_t flags = (nfr > 1 ? NETTXF_more_data : 0) | (gso ? NETTXF_extra_info : 0);
            txf_req(&t, sent, (uint16_t)(sent % 64), flags, next_id++, (uint16_t)(100 * nfr));
            if (gso)
                txf_gso(&t, (uint16_t)(sent % 1000 + 1), XEN_NETIF_GSO_TYPE_TCPV4, false);
            for (unsigned i = 1; i < nfr; i++)
                txf_req(&t, sent + i, 0, i + 1 < nfr ? NETTXF_more_data : 0, next_id++, 100);
            sent++;
        }
        txf_publish(&t);
        struct net_tx_pkt p;
        int rc;
        while ((rc = fetch(&r, &p)) == 1) {
            unsigned nfr = 1 + got % 3;
            bool gso = got % 2;
            assert_int_equal(p.drop, NET_TX_KEEP);
            assert_int_equal(p.nfrags, nfr);
            assert_int_equal(p.nslots, nfr + gso);
            assert_int_equal(p.len, 100 * nfr);
            assert_int_equal(p.frag[0].gref, got);
            assert_int_equal(p.frag[0].offset, got % 64);
            assert_int_equal(p.frag[0].size, 100);
            assert_int_equal(p.has_gso, gso);
            if (gso)
                assert_int_equal(p.gso.u.gso.size, got % 1000 + 1);
            net_tx_respond(&r, &p, (int16_t)(got % 2 ? NETIF_RSP_OKAY : NETIF_RSP_ERROR));
            got++;
        }
        assert_int_equal(rc, 0);
        net_txr_push(&r);
        /* the frontend reaps: one answer per slot, ids in order */
        while (RING_HAS_UNCONSUMED_RESPONSES(&t.f)) {
            netif_tx_response_t *rsp = RING_GET_RESPONSE(&t.f, t.f.rsp_cons);
            if (rsp->status != NETIF_RSP_NULL) {
                assert_int_equal(rsp->id, expect_id);
                expect_id++;
            }
            t.f.rsp_cons++;
        }
    }
    assert_int_equal(got, 3000);
    assert_int_equal(expect_id, next_id);
    assert_true(t.s->req_prod < 0xffffff00u); /* the index did wrap */
    assert_false(r.broken);
    txf_fini(&t);
}

static void test_peek_len(void **state)
{
    (void)state;
    struct txf t;
    txf_init(&t);
    struct net_txr r;
    assert_int_equal(net_txr_attach(&r, t.s, NULL, 0, NULL), 0);
    assert_int_equal(net_tx_peek_len(&r), -1);
    txf_req(&t, 1, 0, NETTXF_more_data, 1, 3000);
    txf_req(&t, 2, 0, 0, 2, 1000);
    txf_req(&t, 3, 0, 0, 3, 65535);
    assert_int_equal(net_tx_peek_len(&r), -1); /* not published */
    txf_publish(&t);
    assert_int_equal(net_tx_peek_len(&r), 3000);
    assert_int_equal(net_tx_peek_len(&r), 3000); /* commits to nothing */
    assert_int_equal(net_txr_avail(&r), 3);
    struct net_tx_pkt p;
    assert_int_equal(fetch(&r, &p), 1);
    assert_int_equal(p.len, 3000);
    assert_int_equal(net_tx_peek_len(&r), 65535);
    /* the fetch re-reads: a size changed after the peek is the one used */
    RING_GET_REQUEST(&t.f, 2)->size = 70;
    assert_int_equal(net_tx_peek_len(&r), 70);
    assert_int_equal(fetch(&r, &p), 1);
    assert_int_equal(p.len, 70);
    assert_int_equal(net_tx_peek_len(&r), -1);
    txf_fini(&t);
}

/* A new backend (a restart) attaches where the old one left the responses:
 * the requests it had consumed but not answered are fetched again. */
static void test_restart(void **state)
{
    (void)state;
    struct txf t;
    txf_init(&t);
    struct net_txr old;
    assert_int_equal(net_txr_attach(&old, t.s, NULL, 0, NULL), 0);
    for (unsigned i = 0; i < 4; i++)
        txf_req(&t, 10 + i, 0, 0, (uint16_t)(1 + i), (uint16_t)(60 + i));
    txf_publish(&t);
    struct net_tx_pkt p[4];
    for (unsigned i = 0; i < 4; i++)
        assert_int_equal(fetch(&old, &p[i]), 1);
    net_tx_respond(&old, &p[0], NETIF_RSP_OKAY);
    net_txr_push(&old);
    /* p[1..3] consumed and answered, never pushed: the daemon dies here.
     * Staged answers are not in the shared slots, so the requests are. */
    for (unsigned i = 1; i < 4; i++)
        net_tx_respond(&old, &p[i], NETIF_RSP_OKAY);

    struct net_txr r;
    assert_int_equal(net_txr_attach(&r, t.s, NULL, 0, NULL), 0);
    assert_int_equal(net_txr_avail(&r), 3);
    struct net_tx_pkt q;
    for (unsigned i = 1; i < 4; i++) {
        assert_int_equal(fetch(&r, &q), 1);
        assert_int_equal(q.id[0], 1 + i);
        assert_int_equal(q.len, 60 + i);
        assert_int_equal(q.frag[0].gref, 10 + i);
        net_tx_respond(&r, &q, NETIF_RSP_OKAY);
    }
    assert_int_equal(fetch(&r, &q), 0);
    net_txr_push(&r);
    assert_int_equal(t.s->rsp_prod, 4);
    for (unsigned i = 0; i < 4; i++)
        assert_int_equal(RING_GET_RESPONSE(&t.f, i)->id, 1 + i);
    txf_fini(&t);
}

/* Answers are published in fetch order: one given early waits for the
 * earlier packets, so what is published always answers a prefix of the
 * consumed requests (what a restart at rsp_prod needs). */
static void test_answer_order(void **state)
{
    (void)state;
    struct txf t;
    txf_init(&t);
    struct net_txr r;
    assert_int_equal(net_txr_attach(&r, t.s, NULL, 0, NULL), 0);
    for (unsigned i = 0; i < 3; i++)
        txf_req(&t, 10 + i, 0, 0, (uint16_t)(7 + i), 60);
    txf_publish(&t);
    struct net_tx_pkt p[3];
    for (unsigned i = 0; i < 3; i++)
        assert_int_equal(fetch(&r, &p[i]), 1);
    net_tx_respond(&r, &p[2], NETIF_RSP_OKAY);
    net_tx_respond(&r, &p[1], NETIF_RSP_ERROR);
    net_txr_push(&r);
    assert_int_equal(t.s->rsp_prod, 0); /* the first is still out */
    net_tx_respond(&r, &p[1], NETIF_RSP_OKAY); /* twice: ignored */
    net_tx_respond(&r, &p[0], NETIF_RSP_OKAY);
    net_txr_push(&r);
    assert_int_equal(t.s->rsp_prod, 3);
    for (unsigned i = 0; i < 3; i++)
        assert_int_equal(RING_GET_RESPONSE(&t.f, i)->id, 7 + i);
    assert_int_equal(RING_GET_RESPONSE(&t.f, 1)->status, NETIF_RSP_ERROR);
    net_tx_respond(&r, &p[0], NETIF_RSP_OKAY); /* long answered: ignored */
    net_txr_push(&r);
    assert_int_equal(t.s->rsp_prod, 3);
    txf_fini(&t);
}

/* ------------------------------------------------------------ notify and re-arm */

static void test_tx_push_notify(void **state)
{
    (void)state;
    struct txf t;
    txf_init(&t);
    struct net_txr r;
    assert_int_equal(net_txr_attach(&r, t.s, NULL, 0, NULL), 0);
    for (unsigned i = 0; i < 20; i++)
        txf_req(&t, 1, 0, 0, (uint16_t)i, 60);
    txf_publish(&t);
    struct net_tx_pkt p;

    assert_false(net_txr_push(&r)); /* nothing to publish */
    /* rsp_event = 1 (SHARED_RING_INIT): the first response is wanted */
    assert_int_equal(fetch(&r, &p), 1);
    net_tx_respond(&r, &p, NETIF_RSP_OKAY);
    assert_true(net_txr_push(&r));
    /* the frontend has not re-armed: no more kicks */
    assert_int_equal(fetch(&r, &p), 1);
    net_tx_respond(&r, &p, NETIF_RSP_OKAY);
    assert_false(net_txr_push(&r));
    /* it asks for the next one (rsp_cons + 1 = 3) */
    t.s->rsp_event = 3;
    assert_int_equal(fetch(&r, &p), 1);
    net_tx_respond(&r, &p, NETIF_RSP_OKAY);
    assert_true(net_txr_push(&r));
    /* it asks to be woken at response 8: silent up to 7, a kick crossing it */
    t.s->rsp_event = 8;
    for (unsigned i = 4; i <= 7; i++) {
        assert_int_equal(fetch(&r, &p), 1);
        net_tx_respond(&r, &p, NETIF_RSP_OKAY);
        assert_false(net_txr_push(&r));
    }
    for (unsigned i = 8; i <= 10; i++) {
        assert_int_equal(fetch(&r, &p), 1);
        net_tx_respond(&r, &p, NETIF_RSP_OKAY);
    }
    assert_true(net_txr_push(&r)); /* 8..10 in one push: one kick */
    assert_int_equal(t.s->rsp_prod, 10);
    txf_fini(&t);
}

static void test_tx_final_check(void **state)
{
    (void)state;
    struct txf t;
    txf_init_at(&t, 0xfffffffeu);
    struct net_txr r;
    assert_int_equal(net_txr_attach(&r, t.s, NULL, 0, NULL), 0);
    t.s->req_event = 0x1234; /* whatever the frontend left */
    assert_false(net_txr_final_check(&r));
    assert_int_equal(t.s->req_event, 0xffffffffu); /* req_cons + 1 */

    /* a request raced in: reported, and the frontend's push kicked */
    txf_req(&t, 1, 0, 0, 1, 60);
    int notify = 0;
    RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(&t.f, notify);
    assert_true(notify);
    assert_true(net_txr_final_check(&r));
    struct net_tx_pkt p;
    assert_int_equal(fetch(&r, &p), 1);
    net_tx_respond(&r, &p, NETIF_RSP_OKAY);
    assert_false(net_txr_final_check(&r));
    assert_int_equal(t.s->req_event, 0u); /* req_cons + 1 across the wrap */

    /* with requests still waiting (two sent, one fetched) it says so */
    txf_req(&t, 1, 0, 0, 2, 60);
    txf_req(&t, 1, 0, 0, 3, 60);
    RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(&t.f, notify);
    assert_true(notify);
    assert_int_equal(fetch(&r, &p), 1);
    assert_true(net_txr_final_check(&r));
    assert_int_equal(fetch(&r, &p), 1);
    assert_false(net_txr_final_check(&r));
    assert_int_equal(t.s->req_event, 2u);
    /* without re-arming, the frontend's next push would not kick */
    t.s->req_event = 1;
    txf_req(&t, 1, 0, 0, 4, 60);
    RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(&t.f, notify);
    assert_false(notify);
    txf_fini(&t);
}

/* ------------------------------------------------------------ rx */

struct rxf {
    void *page;
    netif_rx_sring_t *s;
    netif_rx_front_ring_t f;
};

static void rxf_init_at(struct rxf *x, RING_IDX start)
{
    x->page = aligned_alloc(NET_PAGE_SIZE, NET_PAGE_SIZE);
    assert_non_null(x->page);
    memset(x->page, 0xEE, NET_PAGE_SIZE);
    x->s = x->page;
    SHARED_RING_INIT(x->s);
    x->s->req_prod = x->s->rsp_prod = start;
    x->s->req_event = x->s->rsp_event = start + 1;
    FRONT_RING_ATTACH(&x->f, x->s, start, NET_PAGE_SIZE);
}

static void rxf_req(struct rxf *x, uint16_t id, grant_ref_t gref)
{
    netif_rx_request_t q = { .id = id, .gref = gref };
    memcpy(RING_GET_REQUEST(&x->f, x->f.req_prod_pvt), &q, sizeof(q));
    x->f.req_prod_pvt++;
}

static void test_rx_take_put(void **state)
{
    (void)state;
    struct rxf x;
    rxf_init_at(&x, 0xfffffff0u);
    struct net_rxr r;
    assert_int_equal(net_rxr_attach(&r, x.s, NULL, 0, NULL), 0);
    assert_int_equal(net_rxr_avail(&r), 0);
    for (unsigned i = 0; i < 4; i++)
        rxf_req(&x, (uint16_t)(100 + i), 200 + i);
    RING_PUSH_REQUESTS(&x.f);
    assert_int_equal(net_rxr_avail(&r), 4);

    uint16_t id;
    grant_ref_t gref;
    /* a GSO packet in two buffers: data, extra, data */
    net_rx_take(&r, &id, &gref);
    assert_int_equal(id, 100);
    assert_int_equal(gref, 200);
    net_rx_put(&r, id, 14, NETRXF_extra_info | NETRXF_more_data | NETRXF_csum_blank, 4000);
    net_rx_take(&r, &id, &gref);
    assert_int_equal(id, 101);
    assert_int_equal(gref, 201);
    struct netif_extra_info gso;
    memset(&gso, 0, sizeof(gso));
    gso.type = XEN_NETIF_EXTRA_TYPE_GSO;
    gso.u.gso.size = 1448;
    gso.u.gso.type = XEN_NETIF_GSO_TYPE_TCPV6;
    net_rx_put_extra(&r, &gso);
    net_rx_take(&r, &id, &gref);
    assert_int_equal(id, 102);
    assert_int_equal(gref, 202);
    net_rx_put(&r, id, 0, 0, 1000);
    assert_int_equal(net_rxr_avail(&r), 1);
    assert_int_equal(x.s->rsp_prod, 0xfffffff0u); /* not published yet */
    assert_true(net_rxr_push(&r));
    assert_int_equal(x.s->rsp_prod, 0xfffffff3u);

    /* each response in the slot of the request it consumed */
    netif_rx_response_t *a = RING_GET_RESPONSE(&x.f, 0xfffffff0u);
    assert_int_equal(a->id, 100);
    assert_int_equal(a->offset, 14);
    assert_int_equal(a->flags, NETRXF_extra_info | NETRXF_more_data | NETRXF_csum_blank);
    assert_int_equal(a->status, 4000);
    struct netif_extra_info xi;
    memcpy(&xi, RING_GET_RESPONSE(&x.f, 0xfffffff1u), sizeof(xi));
    assert_int_equal(xi.type, XEN_NETIF_EXTRA_TYPE_GSO);
    assert_int_equal(xi.flags, 0);
    assert_int_equal(xi.u.gso.size, 1448);
    assert_int_equal(xi.u.gso.type, XEN_NETIF_GSO_TYPE_TCPV6);
    netif_rx_response_t *c = RING_GET_RESPONSE(&x.f, 0xfffffff2u);
    assert_int_equal(c->id, 102);
    assert_int_equal(c->status, 1000);
    assert_int_equal(c->flags, 0);
    x.f.rsp_cons = 0xfffffff3u;

    /* an error response; then many rounds around the ring and the wrap */
    net_rx_take(&r, &id, &gref);
    assert_int_equal(id, 103);
    net_rx_put(&r, id, 0, 0, NETIF_RSP_DROPPED);
    net_rxr_push(&r);
    assert_int_equal(RING_GET_RESPONSE(&x.f, x.f.rsp_cons)->status, NETIF_RSP_DROPPED);
    x.f.rsp_cons++;
    for (unsigned round = 0; round < 10; round++) {
        unsigned n = NET_RX_RING_SIZE - 3 + round;
        if (n > NET_RX_RING_SIZE)
            n = NET_RX_RING_SIZE;
        for (unsigned i = 0; i < n; i++)
            rxf_req(&x, (uint16_t)(round * 1000 + i), round << 16 | i);
        RING_PUSH_REQUESTS(&x.f);
        assert_int_equal(net_rxr_avail(&r), n);
        for (unsigned i = 0; i < n; i++) {
            net_rx_take(&r, &id, &gref);
            assert_int_equal(id, round * 1000 + i);
            assert_int_equal(gref, round << 16 | i);
            net_rx_put(&r, id, (uint16_t)i, 0, (int16_t)(i + 1));
        }
        net_rxr_push(&r);
        for (unsigned i = 0; i < n; i++) {
            netif_rx_response_t *rsp = RING_GET_RESPONSE(&x.f, x.f.rsp_cons);
            assert_int_equal(rsp->id, round * 1000 + i);
            assert_int_equal(rsp->offset, i);
            assert_int_equal(rsp->status, i + 1);
            x.f.rsp_cons++;
        }
    }
    assert_true(x.s->rsp_prod < 0xfffffff0u);
    assert_false(r.broken);
    free(x.page);
}

static void test_rx_push_and_final_check(void **state)
{
    (void)state;
    struct rxf x;
    rxf_init_at(&x, 0);
    struct net_rxr r;
    assert_int_equal(net_rxr_attach(&r, x.s, NULL, 0, NULL), 0);
    uint16_t id;
    grant_ref_t gref;

    /* want 3 with 2 waiting: re-armed 3 ahead, nothing to do */
    rxf_req(&x, 1, 1);
    rxf_req(&x, 2, 2);
    RING_PUSH_REQUESTS(&x.f);
    assert_false(net_rxr_final_check(&r, 3));
    assert_int_equal(x.s->req_event, 3);
    /* the frontend's third request reaches the event: kick; and a re-check
     * now finds enough */
    rxf_req(&x, 3, 3);
    int notify = 0;
    RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(&x.f, notify);
    assert_true(notify);
    assert_true(net_rxr_final_check(&r, 3));
    assert_true(net_rxr_final_check(&r, 1));
    assert_false(net_rxr_final_check(&r, 4));
    assert_int_equal(x.s->req_event, 4);

    for (unsigned i = 0; i < 3; i++) {
        net_rx_take(&r, &id, &gref);
        net_rx_put(&r, id, 0, 0, 60);
        /* rsp_event = 1: the first push kicks, later ones not until re-armed */
        assert_int_equal(net_rxr_push(&r), i == 0);
    }
    assert_false(net_rxr_push(&r));
    x.s->rsp_event = 5;
    rxf_req(&x, 4, 4);
    rxf_req(&x, 5, 5);
    RING_PUSH_REQUESTS(&x.f);
    net_rx_take(&r, &id, &gref);
    net_rx_put(&r, id, 0, 0, 60);
    assert_false(net_rxr_push(&r)); /* 4 < 5 */
    net_rx_take(&r, &id, &gref);
    net_rx_put(&r, id, 0, 0, 60);
    assert_true(net_rxr_push(&r));  /* 5 reached */

    /* want 0 is taken as 1; re-armed from req_cons */
    assert_false(net_rxr_final_check(&r, 0));
    assert_int_equal(x.s->req_event, 6);
    assert_false(net_rxr_final_check(&r, 18));
    assert_int_equal(x.s->req_event, 5 + 18);
    free(x.page);
}

static void test_rx_avail_overflow(void **state)
{
    (void)state;
    struct rxf x;
    rxf_init_at(&x, 0);
    struct net_rxr r;
    assert_int_equal(net_rxr_attach(&r, x.s, NULL, 0, NULL), 0);
    for (unsigned i = 0; i < 4; i++)
        rxf_req(&x, (uint16_t)i, i);
    RING_PUSH_REQUESTS(&x.f);
    uint16_t id;
    grant_ref_t gref;
    net_rx_take(&r, &id, &gref);
    net_rx_put(&r, id, 0, 0, 60);
    net_rxr_push(&r);
    /* one answered: a ring beyond it is the most */
    x.s->req_prod = 1 + NET_RX_RING_SIZE;
    assert_int_equal(net_rxr_avail(&r), NET_RX_RING_SIZE);
    x.s->req_prod = 2 + NET_RX_RING_SIZE;
    assert_int_equal(net_rxr_avail(&r), -EPROTO);
    assert_true(r.broken);
    assert_non_null(r.why);
    x.s->req_prod = 4;
    assert_int_equal(net_rxr_avail(&r), -EPROTO);
    assert_false(net_rxr_final_check(&r, 1));
    free(x.page);

    /* backwards behind what was taken */
    rxf_init_at(&x, 0);
    assert_int_equal(net_rxr_attach(&r, x.s, NULL, 0, NULL), 0);
    for (unsigned i = 0; i < 4; i++)
        rxf_req(&x, (uint16_t)i, i);
    RING_PUSH_REQUESTS(&x.f);
    net_rx_take(&r, &id, &gref);
    net_rx_take(&r, &id, &gref);
    x.s->req_prod = 1;
    assert_int_equal(net_rxr_avail(&r), -EPROTO);
    free(x.page);
}

/* ------------------------------------------------------------ copy-once */

/* Rewriting every slot of a packet after it was fetched changes nothing
 * of the fetched packet. */
static void test_copy_once_after_fetch(void **state)
{
    (void)state;
    static const uint8_t ga[6] = { 0x01, 0, 0x5e, 0, 0, 7 };
    struct txf t;
    txf_init(&t);
    struct net_txr r;
    assert_int_equal(net_txr_attach(&r, t.s, NULL, 0, NULL), 0);
    txf_req(&t, 9, 10, NETTXF_extra_info | NETTXF_more_data, 1, 3000);
    txf_gso(&t, 1448, XEN_NETIF_GSO_TYPE_TCPV4, true);
    txf_mcast(&t, XEN_NETIF_EXTRA_TYPE_MCAST_ADD, ga, false);
    txf_req(&t, 8, 20, 0, 2, 1000);
    txf_publish(&t);
    struct net_tx_pkt p, saved;
    assert_int_equal(fetch(&r, &p), 1);
    memcpy(&saved, &p, sizeof(p));
    memset(RING_GET_REQUEST(&t.f, 0), 0xff, 4 * sizeof(union netif_tx_sring_entry));
    assert_memory_equal(&p, &saved, sizeof(p));
    assert_int_equal(p.frag[0].size, 2000);
    assert_int_equal(p.gso.u.gso.size, 1448);
    assert_memory_equal(p.mcast_add_addr, ga, 6);
    /* and the answers still carry the ids the packet was fetched with */
    net_tx_respond(&r, &p, NETIF_RSP_OKAY);
    net_txr_push(&r);
    assert_int_equal(RING_GET_RESPONSE(&t.f, 0)->id, 1);
    assert_int_equal(RING_GET_RESPONSE(&t.f, 0)->status, NETIF_RSP_OKAY);
    assert_int_equal(RING_GET_RESPONSE(&t.f, 1)->status, NETIF_RSP_NULL);
    assert_int_equal(RING_GET_RESPONSE(&t.f, 2)->status, NETIF_RSP_NULL);
    assert_int_equal(RING_GET_RESPONSE(&t.f, 3)->id, 2);
    txf_fini(&t);
}

/* A frontend thread rewrites the two slots of a packet while the backend
 * fetches it, flipping each field between a good and a bad value: whatever
 * mix the fetch copied, a packet it keeps is consistent (the sizes add up,
 * no fragment crosses its page, no runt, no zero-sized fragment), i.e. the
 * validation and the result come from the same single read.  (Not under
 * TSan: racing on the shared page is the point, and TSan would say so.) */
#ifndef UNDER_TSAN
struct flipper {
    netif_tx_request_t *slot[2];
    atomic_bool stop;
    atomic_uint rounds; /* the flipper's progress */
};

static void *flip(void *arg)
{
    struct flipper *fl = arg;
    static const uint16_t size0[] = { 3000, 5, 1000, 9000 };
    static const uint16_t off0[] = { 0, 4000, 100, 2000 };
    static const uint16_t size1[] = { 1000, 0, 2000, 4096, 3000 };
    static const uint16_t off1[] = { 0, 3900, 100, 1 };
    static const uint16_t flags0[] = { NETTXF_more_data, 0 };
    unsigned i = 0;
    while (!atomic_load_explicit(&fl->stop, memory_order_relaxed)) {
        __atomic_store_n(&fl->slot[0]->size, size0[i % 4], __ATOMIC_RELAXED);
        __atomic_store_n(&fl->slot[1]->offset, off1[(i / 3) % 4], __ATOMIC_RELAXED);
        __atomic_store_n(&fl->slot[0]->offset, off0[(i / 5) % 4], __ATOMIC_RELAXED);
        __atomic_store_n(&fl->slot[1]->size, size1[(i / 7) % 5], __ATOMIC_RELAXED);
        __atomic_store_n(&fl->slot[0]->flags, flags0[(i / 11) % 2], __ATOMIC_RELAXED);
        i++;
        atomic_fetch_add_explicit(&fl->rounds, 1, memory_order_relaxed);
    }
    return NULL;
}
#endif

static void test_copy_once_hostile(void **state)
{
    (void)state;
#ifdef UNDER_TSAN
    /* not skip(): cmocka 1.1's TAP says "not ok # SKIP", which prove fails */
    print_message("# racing on the shared page on purpose: not under TSan\n");
#else
    struct txf t;
    txf_init(&t);
    /* a good packet to start from; slot 1 never says more_data */
    txf_req(&t, 1, 0, NETTXF_more_data, 1, 3000);
    txf_req(&t, 2, 0, 0, 2, 1000);
    struct flipper fl = { .slot = { RING_GET_REQUEST(&t.f, 0), RING_GET_REQUEST(&t.f, 1) } };
    atomic_init(&fl.stop, false);
    atomic_init(&fl.rounds, 0);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, flip, &fl), 0);
    /* failures are collected, not asserted in the loop: the flipper must
     * be stopped before the page goes */
    const char *bad = NULL;
    struct net_tx_pkt p;
    for (unsigned iter = 0; iter < 100000 && !bad; iter++) {
        /* the flipper moved since the last fetch (so each sees another
         * mix even when the two threads share a CPU) */
        unsigned seen = atomic_load_explicit(&fl.rounds, memory_order_relaxed);
        while (atomic_load_explicit(&fl.rounds, memory_order_relaxed) == seen)
            sched_yield();
        /* a fresh ring each time; the flipper owns slots 0 and 1 */
        SHARED_RING_INIT(t.s);
        FRONT_RING_INIT(&t.f, t.s, NET_PAGE_SIZE);
        t.f.req_prod_pvt = 2;
        txf_publish(&t);
        struct net_txr r;
        if (net_txr_attach(&r, t.s, NULL, 0, NULL) != 0) {
            bad = "attach failed";
            break;
        }
        int rc = fetch(&r, &p);
        if (rc == -EPROTO)
            continue; /* a crossing fragment in this mix */
        if (rc != 1 || (p.nfrags != 1 && p.nfrags != 2) || p.nslots != p.nfrags) {
            bad = "not one packet of one or two slots";
            break;
        }
        if (p.drop != NET_TX_KEEP)
            continue;
        uint32_t sum = 0;
        for (unsigned i = 0; i < p.nfrags; i++) {
            if ((uint32_t)p.frag[i].offset + p.frag[i].size > NET_PAGE_SIZE)
                bad = "a kept fragment crosses its page";
            if (i > 0 && p.frag[i].size == 0)
                bad = "a kept fragment of 0 bytes";
            sum += p.frag[i].size;
        }
        if (sum != p.len)
            bad = "the kept fragments do not add up to the packet";
        if (p.len < NET_ETH_HLEN)
            bad = "a kept runt";
        if ((p.nfrags == 2) != !!(p.flags & NETTXF_more_data))
            bad = "fragments and flags disagree";
    }
    atomic_store(&fl.stop, true);
    pthread_join(th, NULL);
    if (bad)
        fail_msg("%s: len %u flags %#x frags %u: %u@%u %u@%u", bad, p.len, p.flags, p.nfrags,
                 p.frag[0].size, p.frag[0].offset, p.frag[1].size, p.frag[1].offset);
    txf_fini(&t);
#endif
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_packet),
        cmocka_unit_test(test_multi_slot),
        cmocka_unit_test(test_extras),
        cmocka_unit_test(test_drops),
        cmocka_unit_test(test_drop_str),
        cmocka_unit_test(test_eproto_producer_at_attach),
        cmocka_unit_test(test_eproto_producer_later),
        cmocka_unit_test(test_eproto_unpublished),
        cmocka_unit_test(test_eproto_too_many_slots),
        cmocka_unit_test(test_eproto_crossing),
        cmocka_unit_test(test_eproto_extra_type),
        cmocka_unit_test(test_respond),
        cmocka_unit_test(test_wrap),
        cmocka_unit_test(test_peek_len),
        cmocka_unit_test(test_restart),
        cmocka_unit_test(test_answer_order),
        cmocka_unit_test(test_tx_push_notify),
        cmocka_unit_test(test_tx_final_check),
        cmocka_unit_test(test_rx_take_put),
        cmocka_unit_test(test_rx_push_and_final_check),
        cmocka_unit_test(test_rx_avail_overflow),
        cmocka_unit_test(test_copy_once_after_fetch),
        cmocka_unit_test(test_copy_once_hostile),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
