/*
 * net_switch_test.c - the switch's forwarding database and port registry
 * (netback/net_switch.c): learning, lookup, ageing with explicit clocks,
 * MAC moves, deleted ports and id reuse, flood sets with multicast
 * filters, a full table, the multicast limit, counters, the describe
 * view, and four threads learning and looking up while the control thread
 * churns a port (run under TSan too).
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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "net_switch.h"

#define MS 1000000ull

/* A locally administered unicast MAC 02:xx:..: from n. */
static void umac(uint8_t mac[6], unsigned n)
{
    mac[0] = 0x02;
    mac[1] = (uint8_t)(n >> 24);
    mac[2] = (uint8_t)(n >> 16);
    mac[3] = (uint8_t)(n >> 8);
    mac[4] = (uint8_t)n;
    mac[5] = 0x5a;
}

static const uint8_t BCAST[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
static const uint8_t MC1[6] = { 0x01, 0x00, 0x5e, 0x00, 0x00, 0x01 };
static const uint8_t MC2[6] = { 0x33, 0x33, 0x00, 0x00, 0x00, 0x01 };

static int owners[8]; /* &owners[i]: the owner of port i in single-threaded tests */

static struct net_switch *new_switch(unsigned nports, unsigned fdb, uint64_t age)
{
    struct net_switch *sw = net_switch_create("sw0", nports + 2, fdb, age);
    assert_non_null(sw);
    for (unsigned i = 0; i < nports; i++) {
        char name[16];
        snprintf(name, sizeof(name), "vif%u.0", i + 1);
        assert_int_equal(net_switch_port_add(sw, &owners[i], name), (int)i);
    }
    return sw;
}

/* Flood collector: a bit per port called, and owners checked. */
struct flood_seen {
    uint32_t ports;
    bool bad_owner;
};

static void collect(int port, void *owner, void *arg)
{
    struct flood_seen *fs = arg;
    fs->ports |= 1u << port;
    if (owner != &owners[port])
        fs->bad_owner = true;
}

static uint32_t flood_set(struct net_switch *sw, int except, const uint8_t dst[6])
{
    struct flood_seen fs = { 0 };
    unsigned n = net_switch_flood(sw, except, dst, collect, &fs);
    assert_false(fs.bad_owner);
    assert_int_equal(n, (unsigned)__builtin_popcount(fs.ports));
    return fs.ports;
}

static unsigned fdb_entries(struct net_switch *sw, uint64_t now)
{
    json_t *d = net_switch_describe(sw, now);
    assert_non_null(d);
    unsigned n = (unsigned)json_integer_value(json_object_get(d, "fdb_entries"));
    assert_int_equal(json_array_size(json_object_get(d, "fdb")), n);
    json_decref(d);
    return n;
}

/* ---- tests ---- */

static void create_rejects_bad_arguments(void **state)
{
    (void)state;
    struct { unsigned ports, fdb; uint64_t age; } bad[] = {
        { 0, 64, MS }, { NET_SWITCH_MAX_PORTS + 1, 64, MS }, { 4, 8, MS },
        { 4, 48, MS }, { 4, NET_SWITCH_FDB_MAX * 2, MS }, { 4, 64, 0 },
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        errno = 0;
        assert_null(net_switch_create("x", bad[i].ports, bad[i].fdb, bad[i].age));
        assert_int_equal(errno, EINVAL);
    }
    struct net_switch *sw = net_switch_create(NULL, 1, NET_SWITCH_FDB_MIN, 1);
    assert_non_null(sw);
    assert_int_equal(net_switch_port_add(sw, NULL, "x"), -EINVAL);
    assert_int_equal(net_switch_port_add(sw, &owners[0], NULL), 0);
    assert_int_equal(net_switch_port_add(sw, &owners[1], NULL), -ENOSPC);
    net_switch_destroy(sw);
    net_switch_destroy(NULL);
}

static void learn_and_lookup(void **state)
{
    (void)state;
    struct net_switch *sw = new_switch(3, 256, 1000 * MS);
    uint8_t a[6], b[6], c[6];
    umac(a, 1);
    umac(b, 2);
    umac(c, 3);
    uint64_t t = 5000 * MS;
    assert_int_equal(net_switch_lookup(sw, a, t), NET_SWITCH_NO_PORT);
    net_switch_learn(sw, 0, a, t);
    net_switch_learn(sw, 2, b, t);
    assert_int_equal(net_switch_lookup(sw, a, t), 0);
    assert_int_equal(net_switch_lookup(sw, b, t), 2);
    assert_int_equal(net_switch_lookup(sw, c, t), NET_SWITCH_NO_PORT);
    /* learning again changes nothing */
    net_switch_learn(sw, 0, a, t + 1);
    assert_int_equal(fdb_entries(sw, t), 2);

    /* group and all-zero sources are not learned, nor bad or absent ports */
    static const uint8_t zero[6];
    net_switch_learn(sw, 1, MC1, t);
    net_switch_learn(sw, 1, BCAST, t);
    net_switch_learn(sw, 1, zero, t);
    net_switch_learn(sw, 3, c, t);  /* never added */
    net_switch_learn(sw, -1, c, t);
    net_switch_learn(sw, 99, c, t);
    assert_int_equal(net_switch_lookup(sw, MC1, t), NET_SWITCH_NO_PORT);
    assert_int_equal(net_switch_lookup(sw, BCAST, t), NET_SWITCH_NO_PORT);
    assert_int_equal(net_switch_lookup(sw, zero, t), NET_SWITCH_NO_PORT);
    assert_int_equal(net_switch_lookup(sw, c, t), NET_SWITCH_NO_PORT);
    assert_int_equal(fdb_entries(sw, t), 2);

    /* many MACs, each found on its port */
    for (unsigned i = 100; i < 200; i++) {
        uint8_t m[6];
        umac(m, i);
        net_switch_learn(sw, (int)(i % 3), m, t);
    }
    for (unsigned i = 100; i < 200; i++) {
        uint8_t m[6];
        umac(m, i);
        assert_int_equal(net_switch_lookup(sw, m, t), (int)(i % 3));
    }
    assert_int_equal(fdb_entries(sw, t), 102);
    net_switch_destroy(sw);
}

static void ageing_with_explicit_clock(void **state)
{
    (void)state;
    const uint64_t age = 8000; /* ns; refresh threshold age/8 = 1000 */
    struct net_switch *sw = new_switch(2, 64, age);
    uint8_t a[6], b[6];
    umac(a, 1);
    umac(b, 2);
    const uint64_t t = 1000000;

    net_switch_learn(sw, 0, a, t);
    assert_int_equal(net_switch_lookup(sw, a, t + age), 0);             /* exactly age: kept */
    assert_int_equal(net_switch_lookup(sw, a, t + age + 1), NET_SWITCH_NO_PORT);
    assert_int_equal(net_switch_lookup(sw, a, t - 50), 0);              /* a clock behind */
    /* a recent sighting does not rewrite last-seen (the line stays clean) */
    net_switch_learn(sw, 0, a, t + 1000);
    assert_int_equal(net_switch_lookup(sw, a, t + age + 1), NET_SWITCH_NO_PORT);
    /* one older than age/8 does */
    net_switch_learn(sw, 0, a, t + 1001);
    assert_int_equal(net_switch_lookup(sw, a, t + 1001 + age), 0);
    assert_int_equal(net_switch_lookup(sw, a, t + 1002 + age), NET_SWITCH_NO_PORT);

    /* net_switch_age forgets only what is older than age */
    net_switch_learn(sw, 1, b, t + 5000);
    assert_int_equal(net_switch_age(sw, t + 1001 + age), 0);
    assert_int_equal(fdb_entries(sw, t + 1001 + age), 2);
    assert_int_equal(net_switch_age(sw, t + 1002 + age), 1);
    assert_int_equal(net_switch_lookup(sw, a, t + 1001), NET_SWITCH_NO_PORT); /* gone, not just old */
    assert_int_equal(net_switch_lookup(sw, b, t + 1002 + age), 1);
    assert_int_equal(net_switch_age(sw, t + 5000 + age + 1), 1);
    assert_int_equal(net_switch_age(sw, UINT64_MAX), 0);
    assert_int_equal(fdb_entries(sw, t), 0);

    /* an aged-out MAC is learned again */
    net_switch_learn(sw, 1, a, t + 100000);
    assert_int_equal(net_switch_lookup(sw, a, t + 100000), 1);
    net_switch_destroy(sw);
}

static void mac_moves_between_ports(void **state)
{
    (void)state;
    struct net_switch *sw = new_switch(3, 64, 1000 * MS);
    uint8_t a[6];
    umac(a, 7);
    net_switch_learn(sw, 0, a, 10 * MS);
    assert_int_equal(net_switch_lookup(sw, a, 10 * MS), 0);
    net_switch_learn(sw, 2, a, 11 * MS);
    assert_int_equal(net_switch_lookup(sw, a, 11 * MS), 2);
    /* a move refreshes last-seen even when recent */
    net_switch_learn(sw, 1, a, 12 * MS);
    assert_int_equal(net_switch_lookup(sw, a, 1012 * MS), 1);
    assert_int_equal(net_switch_lookup(sw, a, 1012 * MS + 1), NET_SWITCH_NO_PORT);

    json_t *d = net_switch_describe(sw, 12 * MS);
    assert_non_null(d);
    json_t *fdb = json_object_get(d, "fdb");
    assert_int_equal(json_array_size(fdb), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(fdb, 0), "mac")),
                        "02:00:00:00:07:5a");
    assert_int_equal(json_integer_value(json_object_get(json_array_get(fdb, 0), "port")), 1);
    json_decref(d);
    net_switch_destroy(sw);
}

static void deleted_port_stops_matching_and_id_waits_for_release(void **state)
{
    (void)state;
    struct net_switch *sw = net_switch_create("sw", 4, 64, 1000 * MS);
    assert_non_null(sw);
    for (int i = 0; i < 3; i++)
        assert_int_equal(net_switch_port_add(sw, &owners[i], NULL), i);
    uint8_t a[6], b[6];
    umac(a, 1);
    umac(b, 2);
    const uint64_t t = 50 * MS;
    net_switch_learn(sw, 1, a, t);
    net_switch_learn(sw, 2, b, t);
    net_switch_count_rx(sw, 1, 3, 300);
    assert_int_equal(flood_set(sw, 1, BCAST), 0x5);
    assert_ptr_equal(net_switch_port_owner(sw, 1), &owners[1]);

    net_switch_port_del(sw, 1);
    net_switch_port_del(sw, 1); /* idempotent */
    assert_int_equal(net_switch_lookup(sw, a, t), NET_SWITCH_NO_PORT);
    assert_int_equal(net_switch_lookup(sw, b, t), 2);
    assert_null(net_switch_port_owner(sw, 1));
    assert_int_equal(flood_set(sw, 0, BCAST), 0x4);
    assert_int_equal(flood_set(sw, 0, MC1), 0x4);
    /* entries forgotten at once: not shown, nothing left to age */
    assert_int_equal(fdb_entries(sw, t), 1);
    assert_int_equal(net_switch_age(sw, t), 0);
    /* a straggling learn on the deleted port is ignored */
    net_switch_learn(sw, 1, a, t);
    assert_int_equal(net_switch_lookup(sw, a, t), NET_SWITCH_NO_PORT);
    /* still counted and shown until released */
    struct net_switch_port_stats ps;
    assert_int_equal(net_switch_port_stats(sw, 1, &ps), 0);
    assert_int_equal(ps.rx_packets, 3);
    assert_int_equal(net_switch_mcast_add(sw, 1, MC1), -EINVAL);

    /* the id is not reused before release */
    assert_int_equal(net_switch_port_add(sw, &owners[3], NULL), 3);
    assert_int_equal(net_switch_port_add(sw, &owners[4], NULL), -ENOSPC);
    net_switch_port_release(sw, 0); /* live: not released */
    assert_ptr_equal(net_switch_port_owner(sw, 0), &owners[0]);
    net_switch_port_release(sw, 1);
    net_switch_port_release(sw, 1);
    assert_int_equal(net_switch_port_stats(sw, 1, &ps), -ENOENT);
    assert_int_equal(net_switch_port_add(sw, &owners[5], "again"), 1);
    assert_ptr_equal(net_switch_port_owner(sw, 1), &owners[5]);
    /* the new port inherits neither entries nor counters */
    assert_int_equal(net_switch_lookup(sw, a, t), NET_SWITCH_NO_PORT);
    assert_int_equal(net_switch_port_stats(sw, 1, &ps), 0);
    assert_int_equal(ps.rx_packets, 0);
    net_switch_learn(sw, 1, a, t);
    assert_int_equal(net_switch_lookup(sw, a, t), 1);

    /* out-of-range ids are harmless */
    net_switch_port_del(sw, -1);
    net_switch_port_del(sw, 4);
    net_switch_port_release(sw, 17);
    assert_null(net_switch_port_owner(sw, -1));
    assert_null(net_switch_port_owner(sw, 4));
    net_switch_destroy(sw);
}

static void flood_sets_and_multicast_filters(void **state)
{
    (void)state;
    struct net_switch *sw = new_switch(4, 64, 1000 * MS);
    uint8_t unknown[6];
    umac(unknown, 42);

    assert_int_equal(flood_set(sw, 0, BCAST), 0xe);
    assert_int_equal(flood_set(sw, 0, unknown), 0xe);
    assert_int_equal(flood_set(sw, 0, MC1), 0xe);  /* no filters: all */
    assert_int_equal(flood_set(sw, NET_SWITCH_NO_PORT, BCAST), 0xf);

    /* port 2 filters and holds MC1; port 3 filters and holds nothing */
    assert_int_equal(net_switch_mcast_add(sw, 2, MC1), 0);
    net_switch_mcast_filter(sw, 2, true);
    net_switch_mcast_filter(sw, 3, true);
    assert_int_equal(flood_set(sw, 0, MC1), 0x6);
    assert_int_equal(flood_set(sw, 0, MC2), 0x2);
    assert_int_equal(flood_set(sw, 2, MC1), 0x3); /* from 2: the unfiltered 0 and 1 */
    assert_int_equal(flood_set(sw, 0, BCAST), 0xe); /* filters never stop broadcast */
    assert_int_equal(flood_set(sw, 0, unknown), 0xe); /* nor unicast */

    /* the list may be amended while the filter is off and applies once on */
    net_switch_mcast_filter(sw, 1, false);
    assert_int_equal(net_switch_mcast_add(sw, 1, MC2), 0);
    assert_int_equal(flood_set(sw, 0, MC1), 0x6);
    net_switch_mcast_filter(sw, 1, true);
    assert_int_equal(flood_set(sw, 0, MC1), 0x4);
    assert_int_equal(flood_set(sw, 0, MC2), 0x2);
    /* removing an address stops it */
    assert_int_equal(net_switch_mcast_del(sw, 2, MC1), 0);
    assert_int_equal(net_switch_mcast_del(sw, 2, MC1), -ENOENT);
    assert_int_equal(flood_set(sw, 0, MC1), 0x0);
    /* turning the filter off floods again */
    net_switch_mcast_filter(sw, 3, false);
    assert_int_equal(flood_set(sw, 0, MC1), 0x8);

    /* counters: floods from port 0 and from outside */
    struct net_switch_port_stats ps;
    assert_int_equal(net_switch_port_stats(sw, 0, &ps), 0);
    assert_int_equal(ps.flood_packets, 12);
    assert_int_equal(ps.unknown_unicast, 2);
    struct net_switch_stats st;
    net_switch_stats(sw, &st);
    assert_int_equal(st.flood_packets, 14); /* + one from port 2, one from outside */
    assert_int_equal(st.unknown_unicast, 2);
    assert_int_equal(net_switch_flood(sw, NET_SWITCH_NO_PORT, unknown, collect,
                                      &(struct flood_seen){ 0 }), 4);
    net_switch_stats(sw, &st);
    assert_int_equal(st.unknown_unicast, 3);
    net_switch_destroy(sw);
}

static void full_table_refuses_and_forgets_nothing_live(void **state)
{
    (void)state;
    const unsigned fdb = 256;
    const uint64_t age = 1000 * MS, t = 10 * MS;
    struct net_switch *sw = new_switch(2, fdb, age);
    struct net_switch_stats st;
    unsigned learned = 0, failed_at = 0;
    for (unsigned i = 1; i <= fdb + 1; i++) {
        uint8_t m[6];
        umac(m, i);
        net_switch_learn(sw, (int)(i & 1), m, t);
        net_switch_stats(sw, &st);
        if (st.learn_failures) {
            failed_at = i;
            break;
        }
        learned++;
    }
    /* two-choice buckets fill most of the table before the first refusal
     * (0.78 at worst in 500 random seeds) */
    assert_true(failed_at > 0);
    assert_true(learned >= fdb * 5 / 8);
    assert_int_equal(st.learn_failures, 1);
    struct net_switch_port_stats ps;
    assert_int_equal(net_switch_port_stats(sw, (int)(failed_at & 1), &ps), 0);
    assert_int_equal(ps.learn_failures, 1);
    /* nothing live was forgotten */
    for (unsigned i = 1; i <= learned; i++) {
        uint8_t m[6];
        umac(m, i);
        assert_int_equal(net_switch_lookup(sw, m, t), (int)(i & 1));
    }
    uint8_t refused[6];
    umac(refused, failed_at);
    assert_int_equal(net_switch_lookup(sw, refused, t), NET_SWITCH_NO_PORT);
    net_switch_learn(sw, 0, refused, t);
    net_switch_stats(sw, &st);
    assert_int_equal(st.learn_failures, 2);
    assert_int_equal(fdb_entries(sw, t), learned);
    /* a known MAC still moves in a full table */
    uint8_t m1[6];
    umac(m1, 1);
    net_switch_learn(sw, 0, m1, t);
    assert_int_equal(net_switch_lookup(sw, m1, t), 0);
    assert_int_equal(fdb_entries(sw, t), learned);

    /* once entries have aged, a learn replaces one without waiting for
     * net_switch_age; the rest go at the next ageing */
    const uint64_t later = t + age + 1;
    net_switch_learn(sw, 1, m1, later); /* m1 is live again */
    net_switch_learn(sw, 0, refused, later);
    assert_int_equal(net_switch_lookup(sw, refused, later), 0);
    assert_int_equal(net_switch_lookup(sw, m1, later), 1);
    net_switch_stats(sw, &st);
    assert_int_equal(st.learn_failures, 2);
    /* m1 and refused are live, refused took an expired one's slot; the
     * rest go */
    assert_int_equal(net_switch_age(sw, later), learned - 2);
    assert_int_equal(fdb_entries(sw, later), 2);
    net_switch_destroy(sw);
}

static void deleted_ports_entries_make_room(void **state)
{
    (void)state;
    const unsigned fdb = 16;
    const uint64_t t = 10 * MS;
    struct net_switch *sw = new_switch(2, fdb, 1000 * MS);
    /* port 1 fills the table: with two buckets, every slot is a candidate */
    struct net_switch_stats st = { 0 };
    for (unsigned i = 1; i <= fdb + 1; i++) {
        uint8_t m[6];
        umac(m, i);
        net_switch_learn(sw, 1, m, t);
        net_switch_stats(sw, &st);
        assert_int_equal(st.learn_failures, i <= fdb ? 0 : 1);
    }
    assert_int_equal(fdb_entries(sw, t), fdb);
    net_switch_port_del(sw, 1);
    assert_int_equal(fdb_entries(sw, t), 0);
    for (unsigned i = 1000; i < 1000 + fdb / 2; i++) {
        uint8_t m[6];
        umac(m, i);
        net_switch_learn(sw, 0, m, t);
        assert_int_equal(net_switch_lookup(sw, m, t), 0);
    }
    net_switch_stats(sw, &st);
    assert_int_equal(st.learn_failures, 1); /* port 1's, still counted */
    net_switch_port_release(sw, 1);
    net_switch_stats(sw, &st);
    assert_int_equal(st.learn_failures, 1); /* folded into the totals */
    net_switch_destroy(sw);
}

static void mcast_limit_is_64(void **state)
{
    (void)state;
    struct net_switch *sw = new_switch(2, 64, 1000 * MS);
    uint8_t m[6] = { 0x01, 0x00, 0x5e, 0x00, 0x00, 0x00 };
    for (unsigned i = 0; i < NET_SWITCH_MCAST_MAX; i++) {
        m[5] = (uint8_t)i;
        assert_int_equal(net_switch_mcast_add(sw, 0, m), 0);
    }
    m[5] = 200;
    assert_int_equal(net_switch_mcast_add(sw, 0, m), -ENOSPC);
    m[5] = 5;
    assert_int_equal(net_switch_mcast_add(sw, 0, m), 0); /* already held: fine */
    assert_int_equal(net_switch_mcast_del(sw, 0, m), 0);
    m[5] = 200;
    assert_int_equal(net_switch_mcast_add(sw, 0, m), 0);
    m[5] = 201;
    assert_int_equal(net_switch_mcast_add(sw, 0, m), -ENOSPC);
    /* the other port has its own 64 */
    assert_int_equal(net_switch_mcast_add(sw, 1, m), 0);
    /* every held address passes the filter, the refused one does not */
    net_switch_mcast_filter(sw, 0, true);
    for (unsigned i = 0; i < NET_SWITCH_MCAST_MAX; i++) {
        m[5] = (uint8_t)i;
        assert_int_equal(flood_set(sw, 1, m) & 1, i == 5 ? 0 : 1);
    }
    m[5] = 200;
    assert_int_equal(flood_set(sw, 1, m) & 1, 1);
    m[5] = 201;
    assert_int_equal(flood_set(sw, 1, m) & 1, 0);
    /* rejections */
    uint8_t uni[6];
    umac(uni, 1);
    assert_int_equal(net_switch_mcast_add(sw, 0, uni), -EINVAL);
    assert_int_equal(net_switch_mcast_add(sw, 2, MC1), -EINVAL); /* not added */
    assert_int_equal(net_switch_mcast_add(sw, -1, MC1), -EINVAL);
    assert_int_equal(net_switch_mcast_del(sw, 9, MC1), -EINVAL);
    assert_int_equal(net_switch_mcast_del(sw, 1, MC1), -ENOENT);

    json_t *d = net_switch_describe(sw, 0);
    assert_non_null(d);
    json_t *p0 = json_array_get(json_object_get(d, "ports"), 0);
    assert_int_equal(json_array_size(json_object_get(p0, "mcast")), NET_SWITCH_MCAST_MAX);
    json_decref(d);

    /* a released port's list does not survive into the next */
    net_switch_port_del(sw, 0);
    net_switch_port_release(sw, 0);
    assert_int_equal(net_switch_port_add(sw, &owners[0], NULL), 0);
    assert_int_equal(flood_set(sw, 1, MC1) & 1, 1); /* filter off again */
    net_switch_mcast_filter(sw, 0, true);
    assert_int_equal(flood_set(sw, 1, MC1) & 1, 0); /* and empty */
    net_switch_destroy(sw);
}

static void counters_and_describe(void **state)
{
    (void)state;
    struct net_switch *sw = new_switch(3, 64, 300 * MS);
    uint8_t a[6], b[6], unknown[6];
    umac(a, 0xa0a0);
    umac(b, 0xb0b0);
    umac(unknown, 0xcccc);
    net_switch_learn(sw, 0, a, 100 * MS);
    net_switch_learn(sw, 1, b, 104 * MS);
    net_switch_count_rx(sw, 0, 2, 3000);
    net_switch_count_rx(sw, 0, 1, 60);
    net_switch_count_tx(sw, 1, 3, 3060);
    net_switch_count_drop(sw, 0, 4);
    net_switch_count_rx(sw, 99, 1, 1); /* ignored */
    net_switch_flood(sw, 0, unknown, collect, &(struct flood_seen){ 0 });
    net_switch_flood(sw, 0, BCAST, collect, &(struct flood_seen){ 0 });
    net_switch_flood(sw, NET_SWITCH_NO_PORT, MC1, collect, &(struct flood_seen){ 0 });
    assert_int_equal(net_switch_mcast_add(sw, 1, MC1), 0);
    assert_int_equal(net_switch_mcast_add(sw, 1, MC2), 0);
    net_switch_mcast_filter(sw, 1, true);
    net_switch_port_del(sw, 2);

    json_t *d = net_switch_describe(sw, 110 * MS);
    assert_non_null(d);
    char *text = json_dumps(d, JSON_COMPACT);
    print_message("# %s\n", text);
    free(text);
    assert_string_equal(json_string_value(json_object_get(d, "name")), "sw0");
    assert_int_equal(json_integer_value(json_object_get(d, "max_ports")), 5);
    assert_int_equal(json_integer_value(json_object_get(d, "fdb_size")), 64);
    assert_int_equal(json_integer_value(json_object_get(d, "age_ms")), 300);
    assert_int_equal(json_integer_value(json_object_get(d, "fdb_entries")), 2);
    assert_int_equal(json_integer_value(json_object_get(d, "learn_failures")), 0);
    assert_int_equal(json_integer_value(json_object_get(d, "flood_packets")), 3);
    assert_int_equal(json_integer_value(json_object_get(d, "unknown_unicast")), 1);

    json_t *ports = json_object_get(d, "ports");
    assert_int_equal(json_array_size(ports), 3); /* the deleted one too */
    json_t *p0 = json_array_get(ports, 0), *p1 = json_array_get(ports, 1),
           *p2 = json_array_get(ports, 2);
    assert_int_equal(json_integer_value(json_object_get(p0, "port")), 0);
    assert_string_equal(json_string_value(json_object_get(p0, "name")), "vif1.0");
    assert_string_equal(json_string_value(json_object_get(p0, "state")), "live");
    assert_int_equal(json_integer_value(json_object_get(p0, "rx_packets")), 3);
    assert_int_equal(json_integer_value(json_object_get(p0, "rx_bytes")), 3060);
    assert_int_equal(json_integer_value(json_object_get(p0, "tx_packets")), 0);
    assert_int_equal(json_integer_value(json_object_get(p0, "drops")), 4);
    assert_int_equal(json_integer_value(json_object_get(p0, "flood_packets")), 2);
    assert_int_equal(json_integer_value(json_object_get(p0, "unknown_unicast")), 1);
    assert_int_equal(json_integer_value(json_object_get(p0, "learn_failures")), 0);
    assert_true(json_is_false(json_object_get(p0, "mcast_filter")));
    assert_int_equal(json_array_size(json_object_get(p0, "mcast")), 0);
    assert_int_equal(json_integer_value(json_object_get(p1, "tx_packets")), 3);
    assert_int_equal(json_integer_value(json_object_get(p1, "tx_bytes")), 3060);
    assert_true(json_is_true(json_object_get(p1, "mcast_filter")));
    json_t *mc = json_object_get(p1, "mcast");
    assert_int_equal(json_array_size(mc), 2);
    assert_string_equal(json_string_value(json_array_get(mc, 0)), "01:00:5e:00:00:01");
    assert_string_equal(json_string_value(json_array_get(mc, 1)), "33:33:00:00:00:01");
    assert_string_equal(json_string_value(json_object_get(p2, "state")), "deleted");

    json_t *fdb = json_object_get(d, "fdb");
    assert_int_equal(json_array_size(fdb), 2);
    bool saw_a = false, saw_b = false;
    for (size_t i = 0; i < 2; i++) {
        json_t *e = json_array_get(fdb, i);
        const char *mac = json_string_value(json_object_get(e, "mac"));
        json_int_t port = json_integer_value(json_object_get(e, "port"));
        json_int_t age = json_integer_value(json_object_get(e, "age_ms"));
        if (!strcmp(mac, "02:00:00:a0:a0:5a")) {
            saw_a = true;
            assert_int_equal(port, 0);
            assert_int_equal(age, 10);
        } else {
            assert_string_equal(mac, "02:00:00:b0:b0:5a");
            saw_b = true;
            assert_int_equal(port, 1);
            assert_int_equal(age, 6);
        }
    }
    assert_true(saw_a && saw_b);
    json_decref(d);

    /* later, a's entry has aged out of the view; b's has not */
    d = net_switch_describe(sw, 401 * MS);
    assert_non_null(d);
    fdb = json_object_get(d, "fdb");
    assert_int_equal(json_array_size(fdb), 1);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(fdb, 0), "age_ms")), 297);
    json_decref(d);
    net_switch_destroy(sw);
}

/* ---- threads ---- */

#define WORKERS   4
#define UNIQUE    256 /* MACs only one worker learns */
#define SHARED    64  /* MACs every worker learns (they move all the time) */
#define ITERS     20000 /* at least; the workers run until the churn ends */
#define CHURN_ROUNDS 60
#define CHURN_MACS 8
/* The workers' clocks run MT_BASE + it % MT_SPAN: every clock stays within
 * MT_SPAN < MT_AGE of every other, so nothing ever ages, while last-seen
 * still gets refreshed (every MT_AGE / 8). */
#define MT_AGE    200000 /* ns */
#define MT_SPAN   100000
#define MT_BASE   (1000 * MS)

struct mt {
    struct net_switch *sw;
    int owner[WORKERS];
    int churn_owner;
    atomic_ulong qs[WORKERS]; /* quiescent states passed (grace periods) */
    atomic_bool done[WORKERS];
    atomic_bool churn_done;
    atomic_ulong errors;
    atomic_ulong floods_to[WORKERS + 2];
};

struct worker {
    struct mt *mt;
    int port;
    unsigned long iters; /* read after join */
};

static void shared_mac(uint8_t m[6], unsigned s)
{
    umac(m, 0x10000 + s);
}

static void unique_mac(uint8_t m[6], int port, unsigned j)
{
    umac(m, 0x20000 + (unsigned)port * 0x1000 + j);
}

static void mt_flooded(int port, void *owner, void *arg)
{
    struct mt *mt = arg;
    bool ok = port >= 0 && port < WORKERS + 2 &&
              (port < WORKERS ? owner == &mt->owner[port] : owner == &mt->churn_owner);
    if (!ok)
        atomic_fetch_add(&mt->errors, 1);
    else
        atomic_fetch_add_explicit(&mt->floods_to[port], 1, memory_order_relaxed);
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct mt *mt = w->mt;
    struct net_switch *sw = mt->sw;
    bool known[UNIQUE] = { false };
    uint8_t m[6], mc[6] = { 0x01, 0x00, 0x5e, 0x00, 0x00, 0x00 };
    unsigned it;
    for (it = 0; it < ITERS || !atomic_load(&mt->churn_done); it++) {
        uint64_t now = MT_BASE + it % MT_SPAN;
        unsigned j = it % UNIQUE;
        /* its own MAC: once found, always found, always on this port */
        unique_mac(m, w->port, j);
        net_switch_learn(sw, w->port, m, now);
        int got = net_switch_lookup(sw, m, now);
        if (got == w->port)
            known[j] = true;
        else if (known[j] || got != NET_SWITCH_NO_PORT)
            atomic_fetch_add(&mt->errors, 1);
        /* a shared MAC: on some worker's port, or missed mid-insert */
        shared_mac(m, (it * 7 + (unsigned)w->port) % SHARED);
        net_switch_learn(sw, w->port, m, now);
        got = net_switch_lookup(sw, m, now);
        if (got != NET_SWITCH_NO_PORT && (got < 0 || got >= WORKERS))
            atomic_fetch_add(&mt->errors, 1);
        /* another worker's MAC: its port or not yet learned */
        int other = (w->port + 1 + (int)(it % (WORKERS - 1))) % WORKERS;
        unique_mac(m, other, j);
        got = net_switch_lookup(sw, m, now);
        if (got != other && got != NET_SWITCH_NO_PORT)
            atomic_fetch_add(&mt->errors, 1);
        net_switch_count_rx(sw, w->port, 1, 100);
        if (got == other)
            net_switch_count_tx(sw, other, 1, 100);
        if (it % 64 == 0) {
            mc[5] = (uint8_t)(it / 64 % 4);
            net_switch_flood(sw, w->port, it % 128 ? mc : BCAST, mt_flooded, mt);
        }
        /* the port's own multicast list, racing the control thread's */
        if (w->port == WORKERS - 1 && it % 16 == 0) {
            mc[5] = (uint8_t)(it / 16 % 4);
            if (it % 32)
                net_switch_mcast_del(sw, w->port, mc);
            else if (net_switch_mcast_add(sw, w->port, mc) != 0)
                atomic_fetch_add(&mt->errors, 1);
        }
        atomic_fetch_add_explicit(&mt->qs[w->port], 1, memory_order_release);
    }
    w->iters = it;
    atomic_store(&mt->done[w->port], true);
    return NULL;
}

/* The test's grace period: every worker passes a quiescent state (or ends). */
static void grace_period(struct mt *mt)
{
    unsigned long snap[WORKERS];
    for (int i = 0; i < WORKERS; i++)
        snap[i] = atomic_load_explicit(&mt->qs[i], memory_order_acquire);
    for (int i = 0; i < WORKERS; i++)
        while (!atomic_load(&mt->done[i]) &&
               atomic_load_explicit(&mt->qs[i], memory_order_acquire) == snap[i])
            sched_yield();
}

/* The control thread's side: a port comes and goes, filters change, the
 * table ages and is described, while the workers run. */
static void control_churn(struct mt *mt)
{
    struct net_switch *sw = mt->sw;
    uint8_t mc[6] = { 0x01, 0x00, 0x5e, 0x00, 0x00, 0x02 };
    for (unsigned round = 0; round < CHURN_ROUNDS; round++) {
        int x = net_switch_port_add(sw, &mt->churn_owner, "churn");
        if (x < WORKERS) {
            atomic_fetch_add(&mt->errors, 1);
            break;
        }
        uint8_t m[6];
        for (unsigned k = 0; k < CHURN_MACS; k++) {
            umac(m, 0x30000 + k);
            /* a learn may give up after losing races: the next one lands */
            int got = NET_SWITCH_NO_PORT;
            for (int tries = 0; tries < 100 && got != x; tries++) {
                net_switch_learn(sw, x, m, MT_BASE);
                got = net_switch_lookup(sw, m, MT_BASE);
            }
            if (got != x)
                atomic_fetch_add(&mt->errors, 1);
        }
        net_switch_mcast_filter(sw, WORKERS - 1, round % 2);
        if (round % 2)
            net_switch_mcast_add(sw, WORKERS - 1, mc);
        else
            net_switch_mcast_del(sw, WORKERS - 1, mc);
        /* nothing has aged: the workers' clocks are within MT_AGE of MT_BASE */
        if (net_switch_age(sw, MT_BASE) != 0)
            atomic_fetch_add(&mt->errors, 1);
        json_t *d = net_switch_describe(sw, MT_BASE);
        if (!d)
            atomic_fetch_add(&mt->errors, 1);
        json_decref(d);

        net_switch_port_del(sw, x);
        for (unsigned k = 0; k < CHURN_MACS; k++) {
            umac(m, 0x30000 + k);
            if (net_switch_lookup(sw, m, MT_BASE) != NET_SWITCH_NO_PORT)
                atomic_fetch_add(&mt->errors, 1);
        }
        if (net_switch_port_owner(sw, x))
            atomic_fetch_add(&mt->errors, 1);
        grace_period(mt);
        net_switch_port_release(sw, x);
    }
    atomic_store(&mt->churn_done, true);
}

static void threads_learn_and_look_up_concurrently(void **state)
{
    (void)state;
    struct mt *mt = calloc(1, sizeof(*mt));
    assert_non_null(mt);
    mt->sw = net_switch_create("mt", WORKERS + 2, 4096, MT_AGE);
    assert_non_null(mt->sw);
    for (int i = 0; i < WORKERS; i++)
        assert_int_equal(net_switch_port_add(mt->sw, &mt->owner[i], NULL), i);
    pthread_t th[WORKERS];
    struct worker w[WORKERS];
    for (int i = 0; i < WORKERS; i++) {
        w[i] = (struct worker){ .mt = mt, .port = i };
        assert_int_equal(pthread_create(&th[i], NULL, worker_main, &w[i]), 0);
    }
    control_churn(mt);
    for (int i = 0; i < WORKERS; i++)
        assert_int_equal(pthread_join(th[i], NULL), 0);
    print_message("# iterations per worker: %lu %lu %lu %lu\n", w[0].iters, w[1].iters,
                  w[2].iters, w[3].iters);

    struct net_switch *sw = mt->sw;
    const uint64_t now = MT_BASE + MT_SPAN;
    assert_int_equal(atomic_load(&mt->errors), 0);
    uint8_t m[6];
    for (int p = 0; p < WORKERS; p++)
        for (unsigned j = 0; j < UNIQUE; j++) {
            unique_mac(m, p, j);
            assert_int_equal(net_switch_lookup(sw, m, now), p);
        }
    for (unsigned s = 0; s < SHARED; s++) {
        shared_mac(m, s);
        int got = net_switch_lookup(sw, m, now);
        assert_true(got >= 0 && got < WORKERS);
    }
    /* every MAC exactly once: no duplicate outlived the racing inserts,
     * no churn-port entry survived its release */
    json_t *d = net_switch_describe(sw, now);
    assert_non_null(d);
    json_t *fdb = json_object_get(d, "fdb");
    assert_int_equal(json_array_size(fdb), WORKERS * UNIQUE + SHARED);
    json_t *seen = json_object();
    for (size_t i = 0; i < json_array_size(fdb); i++) {
        const char *mac = json_string_value(json_object_get(json_array_get(fdb, i), "mac"));
        assert_null(json_object_get(seen, mac));
        json_object_set_new(seen, mac, json_true());
    }
    json_decref(seen);
    assert_int_equal(json_integer_value(json_object_get(d, "learn_failures")), 0);
    json_decref(d);
    assert_int_equal(net_switch_age(sw, now), 0);
    assert_int_equal(net_switch_age(sw, now + MT_AGE + 1), WORKERS * UNIQUE + SHARED);

    /* counters: every increment landed */
    for (int p = 0; p < WORKERS; p++) {
        /* at least the other workers' broadcasts reached it */
        assert_true(atomic_load(&mt->floods_to[p]) >= (WORKERS - 1) * ((ITERS + 127) / 128));
        struct net_switch_port_stats ps;
        assert_int_equal(net_switch_port_stats(sw, p, &ps), 0);
        assert_int_equal(ps.rx_packets, w[p].iters);
        assert_int_equal(ps.rx_bytes, w[p].iters * 100);
        assert_int_equal(ps.flood_packets, (w[p].iters + 63) / 64);
        assert_int_equal(ps.tx_bytes, ps.tx_packets * 100);
    }
    /* port 3's filter and list were torn between two writers; whatever
     * they left is well formed */
    d = net_switch_describe(sw, now);
    assert_non_null(d);
    json_t *p3 = json_array_get(json_object_get(d, "ports"), WORKERS - 1);
    assert_true(json_array_size(json_object_get(p3, "mcast")) <= 5);
    json_decref(d);
    net_switch_destroy(sw);
    free(mt);
}

/* Four threads learn the same new MACs at the same moment, each on its own
 * port, into a table of two buckets where each also inserts MACs of its
 * own, while the previous round's entries expire under them (replaced by
 * the learns, removed by the control thread's ageing).  Inserts fill the
 * lowest free slot, so two inserts of one MAC can pick different slots
 * only when removals change their views: every MAC must still end up in
 * the table exactly once. */
#define RACE_ROUNDS 5000
#define RACE_SHARED 4
#define RACE_OWN    2 /* per thread: 4 + 4 * 2 = 12 of the 16 slots */

struct race {
    struct net_switch *sw;
    pthread_barrier_t start, end;
};

struct racer {
    struct race *r;
    int port;
};

static void race_mac(uint8_t m[6], unsigned round, unsigned k)
{
    umac(m, round * 64 + k);
}

static void *racer_main(void *arg)
{
    struct racer *rc = arg;
    for (unsigned round = 0; round < RACE_ROUNDS; round++) {
        pthread_barrier_wait(&rc->r->start);
        uint64_t now = (round + 1) * MS;
        for (unsigned k = 0; k < RACE_SHARED + RACE_OWN; k++) {
            /* interleave own and shared MACs, in an order per thread */
            unsigned j = (k + (unsigned)rc->port + round) % (RACE_SHARED + RACE_OWN);
            uint8_t m[6];
            if (j < RACE_SHARED)
                race_mac(m, round, j);
            else
                race_mac(m, round, RACE_SHARED + (unsigned)rc->port * RACE_OWN + j - RACE_SHARED);
            net_switch_learn(rc->r->sw, rc->port, m, now);
        }
        pthread_barrier_wait(&rc->r->end);
    }
    return NULL;
}

static void racing_inserts_leave_one_entry(void **state)
{
    (void)state;
    const unsigned total = RACE_SHARED + WORKERS * RACE_OWN;
    struct race r;
    r.sw = net_switch_create("race", WORKERS, NET_SWITCH_FDB_MIN, MS / 2);
    assert_non_null(r.sw);
    assert_int_equal(pthread_barrier_init(&r.start, NULL, WORKERS + 1), 0);
    assert_int_equal(pthread_barrier_init(&r.end, NULL, WORKERS + 1), 0);
    pthread_t th[WORKERS];
    struct racer rc[WORKERS];
    for (int i = 0; i < WORKERS; i++) {
        assert_int_equal(net_switch_port_add(r.sw, &owners[i], NULL), i);
        rc[i] = (struct racer){ .r = &r, .port = i };
        assert_int_equal(pthread_create(&th[i], NULL, racer_main, &rc[i]), 0);
    }
    unsigned bad_rounds = 0;
    for (unsigned round = 0; round < RACE_ROUNDS; round++) {
        uint64_t now = (round + 1) * MS;
        pthread_barrier_wait(&r.start);
        net_switch_age(r.sw, now); /* the last round's, racing the learns */
        pthread_barrier_wait(&r.end);
        /* a learn that lost every race may have given up: not a duplicate */
        unsigned n = fdb_entries(r.sw, now);
        bool bad = n > total;
        for (unsigned k = 0; k < total; k++) {
            uint8_t m[6];
            race_mac(m, round, k);
            int got = net_switch_lookup(r.sw, m, now);
            bad |= got >= WORKERS || (got < 0 && n == total);
        }
        bad_rounds += bad;
    }
    for (int i = 0; i < WORKERS; i++)
        assert_int_equal(pthread_join(th[i], NULL), 0);
    assert_int_equal(bad_rounds, 0);
    pthread_barrier_destroy(&r.start);
    pthread_barrier_destroy(&r.end);
    net_switch_destroy(r.sw);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(create_rejects_bad_arguments),
        cmocka_unit_test(learn_and_lookup),
        cmocka_unit_test(ageing_with_explicit_clock),
        cmocka_unit_test(mac_moves_between_ports),
        cmocka_unit_test(deleted_port_stops_matching_and_id_waits_for_release),
        cmocka_unit_test(flood_sets_and_multicast_filters),
        cmocka_unit_test(full_table_refuses_and_forgets_nothing_live),
        cmocka_unit_test(deleted_ports_entries_make_room),
        cmocka_unit_test(mcast_limit_is_64),
        cmocka_unit_test(counters_and_describe),
        cmocka_unit_test(threads_learn_and_look_up_concurrently),
        cmocka_unit_test(racing_inserts_leave_one_entry),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
