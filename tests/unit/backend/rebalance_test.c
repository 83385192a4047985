/*
 * rebalance_test.c - the rebalance dry run: which queues move where, and
 * when nothing should move.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "rebalance.h"

#define MS 1000000ull

static struct sc_rb_params params(void)
{
    struct sc_rb_params p;
    sc_rb_params_default(&p);
    return p;
}

static void assert_near(double a, double b)
{
    assert_true(a > b - 1e-9 && a < b + 1e-9);
}

/* Four equal busy queues on one saturated core, the other idle: two move,
 * and the estimate is half and half. */
static void all_on_one_core(void **state)
{
    (void)state;
    struct sc_rb_params p = params();
    double loads[2] = { 1.0, 0.0 };
    struct sc_rb_queue q[4];
    for (unsigned i = 0; i < 4; i++)
        q[i] = (struct sc_rb_queue){ .core = 0, .busy_ns = 100 * MS, .movable = true };
    struct sc_rb_move m[4];
    unsigned n = sc_rb_plan(&p, loads, 2, q, 4, m);
    assert_int_equal(n, 2);
    for (unsigned i = 0; i < n; i++) {
        assert_int_equal(m[i].from, 0);
        assert_int_equal(m[i].to, 1);
        assert_near(m[i].load, 0.25);
    }
    assert_true(m[0].queue != m[1].queue);
    assert_near(loads[0], 0.5);
    assert_near(loads[1], 0.5);
    assert_near(m[1].from_after, 0.5);
}

/* Close enough, or nothing worth moving: no plan. */
static void nothing_to_gain(void **state)
{
    (void)state;
    struct sc_rb_params p = params();
    struct sc_rb_queue q[2] = {
        { .core = 0, .busy_ns = 50 * MS, .movable = true },
        { .core = 1, .busy_ns = 40 * MS, .movable = true },
    };
    struct sc_rb_move m[4];
    double loads[2] = { 0.6, 0.45 }; /* within the spread */
    assert_int_equal(sc_rb_plan(&p, loads, 2, q, 2, m), 0);
    assert_near(loads[0], 0.6);

    /* apart, but the hot core's one queue would only swap the roles */
    double swap[2] = { 0.9, 0.0 };
    struct sc_rb_queue one = { .core = 0, .busy_ns = 90 * MS, .movable = true };
    assert_int_equal(sc_rb_plan(&p, swap, 2, &one, 1, m), 0);

    /* apart, but its queues are tiny and the rest is the core's own work */
    double own[2] = { 0.8, 0.1 };
    struct sc_rb_queue tiny[2] = {
        { .core = 0, .busy_ns = 1 * MS, .movable = true },
        { .core = 0, .busy_ns = 0, .movable = true },
    };
    p.min_gain = 0.5;
    assert_int_equal(sc_rb_plan(&p, own, 2, tiny, 2, m), 0);
}

/* One heavy queue and a light one on the hot core: the light one moves
 * (the heavy one would overload the other core as much), then nothing. */
static void heavy_and_light(void **state)
{
    (void)state;
    struct sc_rb_params p = params();
    double loads[2] = { 1.0, 0.1 };
    struct sc_rb_queue q[3] = {
        { .core = 0, .busy_ns = 700 * MS, .movable = true },
        { .core = 0, .busy_ns = 300 * MS, .movable = true },
        { .core = 1, .busy_ns = 100 * MS, .movable = true },
    };
    struct sc_rb_move m[4];
    unsigned n = sc_rb_plan(&p, loads, 2, q, 3, m);
    assert_int_equal(n, 1);
    assert_int_equal(m[0].queue, 1);
    assert_near(loads[0], 0.7);
    assert_near(loads[1], 0.4);
}

/* Unmovable queues stay (failed, removing, already moving). */
static void unmovable_stays(void **state)
{
    (void)state;
    struct sc_rb_params p = params();
    double loads[2] = { 1.0, 0.0 };
    struct sc_rb_queue q[2] = {
        { .core = 0, .busy_ns = 500 * MS, .movable = false },
        { .core = 0, .busy_ns = 500 * MS, .movable = false },
    };
    struct sc_rb_move m[4];
    assert_int_equal(sc_rb_plan(&p, loads, 2, q, 2, m), 0);
    q[1].movable = true;
    assert_int_equal(sc_rb_plan(&p, loads, 2, q, 2, m), 1);
    assert_int_equal(m[0].queue, 1);
}

/* Three cores: the idlest takes first; max_moves bounds a plan. */
static void three_cores_and_a_bound(void **state)
{
    (void)state;
    struct sc_rb_params p = params();
    double loads[3] = { 0.9, 0.5, 0.1 };
    struct sc_rb_queue q[6];
    for (unsigned i = 0; i < 6; i++)
        q[i] = (struct sc_rb_queue){ .core = i < 3 ? 0 : 1, .busy_ns = 10 * MS,
                                     .movable = true };
    struct sc_rb_move m[4];
    unsigned n = sc_rb_plan(&p, loads, 3, q, 6, m);
    assert_true(n >= 1);
    assert_int_equal(m[0].from, 0);
    assert_int_equal(m[0].to, 2);
    double total = loads[0] + loads[1] + loads[2];
    assert_near(total, 1.5); /* moves shift load, never make or lose it */

    p.max_moves = 1;
    double again[3] = { 0.9, 0.5, 0.1 };
    assert_int_equal(sc_rb_plan(&p, again, 3, q, 6, m), 1);
}

static void refuses_bad_input(void **state)
{
    (void)state;
    struct sc_rb_params p = params();
    double loads[2] = { 1.0, 0.0 };
    struct sc_rb_queue q = { .core = 0, .busy_ns = 1, .movable = true };
    struct sc_rb_move m[4];
    assert_int_equal(sc_rb_plan(NULL, loads, 2, &q, 1, m), 0);
    assert_int_equal(sc_rb_plan(&p, loads, 1, &q, 1, m), 0); /* one core: nowhere to go */
    assert_int_equal(sc_rb_plan(&p, loads, 2, NULL, 1, m), 0);
    q.core = 7; /* a core that does not exist is ignored */
    assert_int_equal(sc_rb_plan(&p, loads, 2, &q, 1, m), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(all_on_one_core),
        cmocka_unit_test(nothing_to_gain),
        cmocka_unit_test(heavy_and_light),
        cmocka_unit_test(unmovable_stays),
        cmocka_unit_test(three_cores_and_a_bound),
        cmocka_unit_test(refuses_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
