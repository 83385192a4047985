/*
 * queue_attach_test.c - a device's group of queues taken back together
 * (sc_detach_group): every member's detached() first, then the group's
 * done() once; a group with nothing on a core ends inside the call; a group
 * already detaching is refused; a member whose removal was posted alone is
 * not waited for.
 *
 * The cores are real sidecores on a private xensim world; the queues have
 * no event channel (as a switch's host port), so no guest is needed.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "corepool.h"
#include "pool_fixture.h"
#include "queue_attach.h"
#include "simworld.h"
#include "xensim.h"

static struct simworld world;
static struct xsim *dom0;
static struct sc_xen *xen;

static int group_setup(void **state)
{
    (void)state;
    if (simworld_start_as_dom0(&world, &dom0) < 0)
        return -1;
    xen = sc_xen_open(SC_XEN_SIM);
    return xen ? 0 : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    sc_xen_close(xen);
    xsim_close(dom0);
    simworld_stop(&world);
    return 0;
}

/* ---- a queue that never has work ---- */

static int idle_poll(struct sc_queue *q, const struct sc_sched_grant *g, struct sc_visit *v)
{
    (void)q;
    (void)g;
    (void)v;
    return 0;
}

static const struct sc_queue_ops idle_ops = {
    .poll = idle_poll,
    .flush = pool_fixture_nop_flush,
    .rearm = pool_fixture_no_rearm,
    .idle = pool_fixture_always_idle,
};

/* ---- a device of several queues ---- */

#define NQ 3

struct tdev;

struct tq {
    struct sc_queue q;
    struct sc_attach at;
    struct tdev *d;
    int added;       /* added() calls */
    int detached;    /* detached() calls */
};

struct tdev {
    struct tq qs[NQ];
    struct sc_attach_group group;
    int done;                /* done() calls */
    int detached_at_done;    /* members detached when done() ran */
};

static void tq_added(struct sc_attach *a, int result)
{
    struct tq *t = a->owner;
    assert_int_equal(result, 0);
    t->added++;
}

static void tq_detached(struct sc_attach *a, int result)
{
    struct tq *t = a->owner;
    assert_int_equal(result, 0);
    t->detached++;
}

static void group_done(struct sc_attach_group *g)
{
    struct tdev *d = g->owner;
    d->done++;
    for (unsigned i = 0; i < NQ; i++)
        d->detached_at_done += d->qs[i].detached;
}

static void tdev_init(struct tdev *d)
{
    memset(d, 0, sizeof(*d));
    for (unsigned i = 0; i < NQ; i++) {
        struct tq *t = &d->qs[i];
        t->d = d;
        t->at = (struct sc_attach){ .owner = t, .added = tq_added, .detached = tq_detached };
        assert_int_equal(sc_queue_init(&t->q, &idle_ops, 4, "tdev q%u", i), 0);
    }
    d->group = (struct sc_attach_group){ .owner = d, .done = group_done };
}

/* Reaps the pool's answers until *count reaches want (5 s at most). */
static void reap_until(struct sc_pool *pool, const int *count, int want)
{
    for (int i = 0; i < 5000 && *count < want; i++) {
        sc_pool_reap(pool);
        if (*count < want)
            usleep(1000);
    }
    assert_int_equal(*count, want);
}

static void attach(struct sc_pool *pool, struct tq *t)
{
    assert_int_equal(sc_attach_queue(&t->at, pool, &t->q, NULL, 0), 0);
    reap_until(pool, &t->added, 1);
    assert_true(sc_attach_busy(&t->at));
}

static void test_group_waits_for_every_member(void **state)
{
    (void)state;
    struct sc_pool *pool = pool_fixture_create(xen, SC_MODE_POLL, 2);
    struct tdev d;
    tdev_init(&d);
    attach(pool, &d.qs[0]);
    attach(pool, &d.qs[2]);
    /* qs[1] never got on a core: taken back inside the call */
    struct sc_attach *m[NQ] = { &d.qs[2].at, &d.qs[1].at, &d.qs[0].at };
    assert_int_equal(sc_detach_group(&d.group, m, NQ), 1);
    assert_true(sc_detach_group_busy(&d.group));
    assert_int_equal(d.qs[1].detached, 1);
    assert_int_equal(d.done, 0);
    assert_int_equal(sc_detach_group(&d.group, m, NQ), -EALREADY);

    reap_until(pool, &d.done, 1);
    assert_int_equal(d.detached_at_done, NQ);
    assert_false(sc_detach_group_busy(&d.group));
    for (unsigned i = 0; i < NQ; i++) {
        assert_int_equal(d.qs[i].detached, 1);
        assert_false(sc_attach_busy(&d.qs[i].at));
    }
    /* nothing more comes */
    sc_pool_reap(pool);
    assert_int_equal(d.done, 1);
    sc_pool_destroy(pool);
}

static void test_group_with_nothing_on_a_core(void **state)
{
    (void)state;
    struct sc_pool *pool = pool_fixture_create(xen, SC_MODE_POLL, 2);
    struct tdev d;
    tdev_init(&d);
    /* empty: done() inside the call */
    assert_int_equal(sc_detach_group(&d.group, NULL, 0), 0);
    assert_int_equal(d.done, 1);
    /* members never attached: the same, after each one's detached() */
    struct sc_attach *m[2] = { &d.qs[0].at, &d.qs[1].at };
    assert_int_equal(sc_detach_group(&d.group, m, 2), 0);
    assert_int_equal(d.done, 2);
    assert_int_equal(d.qs[0].detached, 1);
    assert_int_equal(d.qs[1].detached, 1);
    assert_false(sc_detach_group_busy(&d.group));
    sc_pool_destroy(pool);
}

static void test_member_already_detaching(void **state)
{
    (void)state;
    struct sc_pool *pool = pool_fixture_create(xen, SC_MODE_POLL, 2);
    struct tdev d;
    tdev_init(&d);
    attach(pool, &d.qs[0]);
    attach(pool, &d.qs[1]);
    /* qs[0]'s removal posted alone: the group does not wait for it */
    assert_int_equal(sc_detach_queue(&d.qs[0].at), 0);
    struct sc_attach *m[2] = { &d.qs[0].at, &d.qs[1].at };
    assert_int_equal(sc_detach_group(&d.group, m, 2), 1);
    reap_until(pool, &d.qs[0].detached, 1);
    reap_until(pool, &d.qs[1].detached, 1);
    reap_until(pool, &d.done, 1);
    sc_pool_destroy(pool);
}

static void test_bad_calls(void **state)
{
    (void)state;
    struct sc_attach_group g = { 0 };
    assert_int_equal(sc_detach_group(&g, NULL, 0), -EINVAL); /* no done */
    g.done = group_done;
    assert_int_equal(sc_detach_group(&g, NULL, 1), -EINVAL);
    assert_int_equal(sc_detach_group(NULL, NULL, 0), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_group_waits_for_every_member),
        cmocka_unit_test(test_group_with_nothing_on_a_core),
        cmocka_unit_test(test_member_already_detaching),
        cmocka_unit_test(test_bad_calls),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
