/*
 * net_mcast_test.c - a vif's multicast filter (netback/net_mcast.c): what
 * is wanted with the filter on and off, add/del and their errors, the
 * limit of NET_MCAST_MAX, duplicates, the count, and two writers with a
 * reader at once (TSan watches).
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "net_mcast.h"

static const uint8_t BCAST[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
static const uint8_t UNI[6] = { 0x00, 0x16, 0x3e, 0x01, 0x02, 0x03 };
static const uint8_t UNI_LOCAL[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x01 };

/* IPv4 multicast 01:00:5e:xx:yy:zz, n spread over the low bytes. */
static void group(uint8_t mac[6], unsigned n)
{
    mac[0] = 0x01;
    mac[1] = 0x00;
    mac[2] = 0x5e;
    mac[3] = (uint8_t)(n >> 16);
    mac[4] = (uint8_t)(n >> 8);
    mac[5] = (uint8_t)n;
}

static void fresh(struct net_mcast *m)
{
    memset(m, 0, sizeof(*m));
}

static void test_disabled_wants_all(void **state)
{
    (void)state;
    struct net_mcast m;
    fresh(&m);
    uint8_t g[6];
    group(g, 1);
    assert_true(net_mcast_wants(&m, g));
    assert_true(net_mcast_wants(&m, UNI));
    assert_true(net_mcast_wants(&m, BCAST));
    assert_int_equal(net_mcast_count(&m), 0);
    /* adds work while disabled (a frontend may subscribe before enabling);
     * they matter once enabled */
    assert_int_equal(net_mcast_add(&m, g), 0);
    assert_int_equal(net_mcast_count(&m), 1);
    uint8_t h[6];
    group(h, 2);
    assert_true(net_mcast_wants(&m, h));
    net_mcast_enable(&m, true);
    assert_true(net_mcast_wants(&m, g));
    assert_false(net_mcast_wants(&m, h));
    net_mcast_enable(&m, false);
    assert_true(net_mcast_wants(&m, h)); /* off again: everything */
    assert_int_equal(net_mcast_count(&m), 1); /* and the list kept */
}

static void test_enabled_filter(void **state)
{
    (void)state;
    struct net_mcast m;
    fresh(&m);
    net_mcast_enable(&m, true);
    uint8_t g[6], v6[6] = { 0x33, 0x33, 0x00, 0x00, 0x00, 0x01 };
    group(g, 0x0a0b0c);
    /* nothing listed: only unicast and broadcast */
    assert_false(net_mcast_wants(&m, g));
    assert_false(net_mcast_wants(&m, v6));
    assert_true(net_mcast_wants(&m, UNI));
    assert_true(net_mcast_wants(&m, UNI_LOCAL));
    assert_true(net_mcast_wants(&m, BCAST));

    assert_int_equal(net_mcast_add(&m, g), 0);
    assert_int_equal(net_mcast_add(&m, v6), 0);
    assert_int_equal(net_mcast_count(&m), 2);
    assert_true(net_mcast_wants(&m, g));
    assert_true(net_mcast_wants(&m, v6));
    /* an address differing in any one byte is another group */
    for (unsigned i = 0; i < 6; i++) {
        uint8_t x[6];
        memcpy(x, g, 6);
        x[i] ^= i == 0 ? 0x02 : 0x01; /* byte 0: keep it multicast */
        assert_false(net_mcast_wants(&m, x));
    }
    /* the all-zero group bits: 01:00:00:00:00:00 is an address like any */
    static const uint8_t low[6] = { 0x01, 0, 0, 0, 0, 0 };
    assert_false(net_mcast_wants(&m, low));
    assert_int_equal(net_mcast_add(&m, low), 0);
    assert_true(net_mcast_wants(&m, low));

    assert_int_equal(net_mcast_del(&m, g), 0);
    assert_false(net_mcast_wants(&m, g));
    assert_true(net_mcast_wants(&m, v6));
    assert_int_equal(net_mcast_count(&m), 2);
}

static void test_errors(void **state)
{
    (void)state;
    struct net_mcast m;
    fresh(&m);
    net_mcast_enable(&m, true);
    assert_int_equal(net_mcast_add(&m, UNI), -EINVAL);
    assert_int_equal(net_mcast_add(&m, UNI_LOCAL), -EINVAL);
    static const uint8_t zero[6] = { 0 };
    assert_int_equal(net_mcast_add(&m, zero), -EINVAL);
    assert_int_equal(net_mcast_count(&m), 0);

    uint8_t g[6];
    group(g, 5);
    assert_int_equal(net_mcast_del(&m, g), -ENOENT);
    assert_int_equal(net_mcast_del(&m, UNI), -ENOENT);
    assert_int_equal(net_mcast_del(&m, zero), -ENOENT); /* never a free slot's key */
    assert_int_equal(net_mcast_add(&m, g), 0);
    assert_int_equal(net_mcast_del(&m, g), 0);
    assert_int_equal(net_mcast_del(&m, g), -ENOENT);
    assert_int_equal(net_mcast_count(&m), 0);
}

static void test_duplicates(void **state)
{
    (void)state;
    struct net_mcast m;
    fresh(&m);
    net_mcast_enable(&m, true);
    uint8_t g[6];
    group(g, 9);
    assert_int_equal(net_mcast_add(&m, g), 0);
    assert_int_equal(net_mcast_add(&m, g), 0);
    assert_int_equal(net_mcast_add(&m, g), 0);
    assert_int_equal(net_mcast_count(&m), 1); /* held once */
    assert_int_equal(net_mcast_del(&m, g), 0);
    assert_false(net_mcast_wants(&m, g)); /* one delete undoes it */
    assert_int_equal(net_mcast_count(&m), 0);
    assert_int_equal(net_mcast_del(&m, g), -ENOENT);

    /* a duplicate found behind a hole left by a delete */
    uint8_t a[6], b[6];
    group(a, 1);
    group(b, 2);
    assert_int_equal(net_mcast_add(&m, a), 0);
    assert_int_equal(net_mcast_add(&m, b), 0);
    assert_int_equal(net_mcast_del(&m, a), 0);
    assert_int_equal(net_mcast_add(&m, b), 0);
    assert_int_equal(net_mcast_count(&m), 1);
    assert_int_equal(net_mcast_del(&m, b), 0);
    assert_int_equal(net_mcast_count(&m), 0);
}

static void test_limit(void **state)
{
    (void)state;
    struct net_mcast m;
    fresh(&m);
    net_mcast_enable(&m, true);
    uint8_t g[6];
    for (unsigned i = 0; i < NET_MCAST_MAX; i++) {
        group(g, 1000 + i);
        assert_int_equal(net_mcast_add(&m, g), 0);
        assert_int_equal(net_mcast_count(&m), i + 1);
    }
    group(g, 5000);
    assert_int_equal(net_mcast_add(&m, g), -ENOSPC);
    assert_false(net_mcast_wants(&m, g));
    assert_int_equal(net_mcast_count(&m), NET_MCAST_MAX);
    /* a duplicate of a held one is no new entry: fine when full */
    uint8_t held[6];
    group(held, 1000 + NET_MCAST_MAX - 1);
    assert_int_equal(net_mcast_add(&m, held), 0);
    assert_int_equal(net_mcast_add(&m, UNI), -EINVAL); /* EINVAL wins */
    for (unsigned i = 0; i < NET_MCAST_MAX; i++) {
        group(g, 1000 + i);
        assert_true(net_mcast_wants(&m, g));
    }
    /* one deleted: room for one */
    group(g, 1000 + 17);
    assert_int_equal(net_mcast_del(&m, g), 0);
    assert_int_equal(net_mcast_count(&m), NET_MCAST_MAX - 1);
    group(g, 5000);
    assert_int_equal(net_mcast_add(&m, g), 0);
    assert_true(net_mcast_wants(&m, g));
    group(g, 5001);
    assert_int_equal(net_mcast_add(&m, g), -ENOSPC);
    assert_int_equal(net_mcast_count(&m), NET_MCAST_MAX);
}

/* ---- two writers and a reader ---- */

#define ROUNDS 2000
#define PER_WRITER 24 /* 2 * 24 + the pinned ones stay under NET_MCAST_MAX */
#define PINNED 4

struct shared {
    struct net_mcast m;
    atomic_bool stop;
    atomic_uint failures;
};

struct writer {
    struct shared *sh;
    unsigned base;
};

static void *writer(void *arg)
{
    struct writer *w = arg;
    struct net_mcast *m = &w->sh->m;
    uint8_t g[6];
    for (unsigned r = 0; r < ROUNDS; r++) {
        for (unsigned i = 0; i < PER_WRITER; i++) {
            group(g, w->base + i);
            if (net_mcast_add(m, g) != 0 || !net_mcast_wants(m, g))
                atomic_fetch_add(&w->sh->failures, 1);
        }
        /* delete all but those of this round's parity, so both paths run */
        for (unsigned i = 0; i < PER_WRITER; i++) {
            group(g, w->base + i);
            if (r + 1 == ROUNDS && i % 2)
                continue; /* leave the odd ones at the end */
            if (net_mcast_del(m, g) != 0)
                atomic_fetch_add(&w->sh->failures, 1);
            if (net_mcast_del(m, g) != -ENOENT) /* its writer is the only one */
                atomic_fetch_add(&w->sh->failures, 1);
        }
    }
    return NULL;
}

static void *reader(void *arg)
{
    struct shared *sh = arg;
    uint8_t g[6];
    while (!atomic_load(&sh->stop)) {
        for (unsigned i = 0; i < PINNED; i++) {
            group(g, 900 + i);
            if (!net_mcast_wants(&sh->m, g)) /* never moved: always there */
                atomic_fetch_add(&sh->failures, 1);
        }
        group(g, 999); /* never added: never there */
        if (net_mcast_wants(&sh->m, g) || !net_mcast_wants(&sh->m, UNI) ||
            !net_mcast_wants(&sh->m, BCAST))
            atomic_fetch_add(&sh->failures, 1);
        unsigned n = net_mcast_count(&sh->m);
        if (n < PINNED || n > PINNED + 2 * PER_WRITER)
            atomic_fetch_add(&sh->failures, 1);
    }
    return NULL;
}

static void test_concurrent(void **state)
{
    (void)state;
    struct shared sh;
    memset(&sh, 0, sizeof(sh));
    atomic_init(&sh.stop, false);
    atomic_init(&sh.failures, 0);
    net_mcast_enable(&sh.m, true);
    uint8_t g[6];
    for (unsigned i = 0; i < PINNED; i++) {
        group(g, 900 + i);
        assert_int_equal(net_mcast_add(&sh.m, g), 0);
    }
    struct writer w[2] = { { .sh = &sh, .base = 0 }, { .sh = &sh, .base = 100 } };
    pthread_t tw[2], tr;
    assert_int_equal(pthread_create(&tr, NULL, reader, &sh), 0);
    for (unsigned i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&tw[i], NULL, writer, &w[i]), 0);
    for (unsigned i = 0; i < 2; i++)
        pthread_join(tw[i], NULL);
    atomic_store(&sh.stop, true);
    pthread_join(tr, NULL);
    assert_int_equal(atomic_load(&sh.failures), 0);

    /* what is left: the pinned ones and each writer's odd ones */
    assert_int_equal(net_mcast_count(&sh.m), PINNED + 2 * (PER_WRITER / 2));
    for (unsigned b = 0; b <= 100; b += 100)
        for (unsigned i = 0; i < PER_WRITER; i++) {
            group(g, b + i);
            assert_int_equal(net_mcast_wants(&sh.m, g), i % 2 == 1);
        }
    for (unsigned i = 0; i < PINNED; i++) {
        group(g, 900 + i);
        assert_true(net_mcast_wants(&sh.m, g));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_disabled_wants_all),
        cmocka_unit_test(test_enabled_filter),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_duplicates),
        cmocka_unit_test(test_limit),
        cmocka_unit_test(test_concurrent),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
