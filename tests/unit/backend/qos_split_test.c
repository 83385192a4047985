/*
 * qos_split_test.c - a guest-wide rate divided among cores: parts add up
 * to the whole, follow the service, leave room where the limit held the
 * guest back, and give nothing where the guest has no queue.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "qos_split.h"

static double sum(const double *x, unsigned n)
{
    double s = 0;
    for (unsigned i = 0; i < n; i++)
        s += x[i];
    return s;
}

static void by_service(void **state)
{
    (void)state;
    double served[3] = { 300, 100, 0 }, share[3];
    bool held[3] = { false, false, false }, present[3] = { true, true, false };
    sc_qos_split(served, held, present, 3, share);
    assert_true(sum(share, 3) > 0.999999 && sum(share, 3) < 1.000001);
    assert_true(share[2] == 0);                     /* no queue there */
    assert_true(share[0] > 2.5 * share[1]);         /* 3:1 over a small floor */
    assert_true(share[1] > 0.25 * 0.9);
}

static void held_gets_more(void **state)
{
    (void)state;
    double served[2] = { 100, 100 }, share[2];
    bool held[2] = { true, false }, present[2] = { true, true };
    sc_qos_split(served, held, present, 2, share);
    assert_true(share[0] > 1.5 * share[1]);
}

static void idle_and_absent(void **state)
{
    (void)state;
    double served[4] = { 0, 0, 0, 0 }, share[4];
    bool held[4] = { false }, present[4] = { false, true, true, false };
    sc_qos_split(served, held, present, 4, share);
    assert_true(share[1] > 0.4999 && share[1] < 0.5001); /* equal where present */
    assert_true(share[0] == 0 && share[3] == 0);
    bool none[4] = { false };
    sc_qos_split(served, held, none, 4, share);
    assert_true(share[2] > 0.2499 && share[2] < 0.2501); /* nowhere: over all */

    /* a present core with no service yet keeps a floor to grow from */
    double busy[2] = { 1000, 0 }, s2[2];
    bool h2[2] = { false, false }, p2[2] = { true, true };
    sc_qos_split(busy, h2, p2, 2, s2);
    assert_true(s2[1] > 0.03 && s2[1] < 0.1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(by_service),
        cmocka_unit_test(held_gets_more),
        cmocka_unit_test(idle_and_absent),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
