/*
 * admission_test.c - reservations admitted against what the sidecores can
 * honour: the reservable share of the capacity, sums that fit and do not,
 * each dimension on its own, unknown capacities admitting anything, and a
 * refusal that says why.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <errno.h>
#include <cmocka.h>

#include "admission.h"

static void reservable_share(void **state)
{
    (void)state;
    struct sc_admission_capacity c = { .per_core = { .iops = 100000, .bps = 1000000000 },
                                       .ncores = 2 };
    struct sc_sched_rate r;
    sc_admission_reservable(&c, &r);
    assert_int_equal(r.iops, 2 * 100000 * SC_ADMISSION_RESERVABLE_PCT / 100);
    assert_int_equal(r.bps, 2ull * 1000000000 * SC_ADMISSION_RESERVABLE_PCT / 100);
    c.per_core.bps = 0; /* not known: no bound */
    c.ncores = 0;       /* taken as one */
    sc_admission_reservable(&c, &r);
    assert_int_equal(r.iops, 100000 * SC_ADMISSION_RESERVABLE_PCT / 100);
    assert_int_equal(r.bps, 0);
    c.per_core.iops = 1; /* a tiny capacity still reserves a unit, not 0 ("unknown") */
    sc_admission_reservable(&c, &r);
    assert_int_equal(r.iops, 1);
}

static void fits_and_refused(void **state)
{
    (void)state;
    struct sc_admission_capacity c = { .per_core = { .iops = 10000 }, .ncores = 1 };
    struct sc_sched_rate others = { .iops = 5000 }, want = { .iops = 4000 };
    char why[256] = "";
    assert_int_equal(sc_admission_check(&c, &others, &want, why, sizeof(why)), 0);
    assert_string_equal(why, "");
    want.iops = 4001; /* 9001 > 90% of 10000 */
    assert_int_equal(sc_admission_check(&c, &others, &want, why, sizeof(why)), -ENOSPC);
    assert_non_null(strstr(why, "4001"));
    assert_non_null(strstr(why, "reserve 5000"));
    assert_non_null(strstr(why, "about 9000"));
    assert_non_null(strstr(why, "--core-capacity"));
    c.measured = true;
    assert_int_equal(sc_admission_check(&c, &others, &want, NULL, 0), -ENOSPC);
    /* two cores: room for it */
    c.ncores = 2;
    assert_int_equal(sc_admission_check(&c, &others, &want, why, sizeof(why)), 0);
    /* others already over the capacity (it was measured lower since): any raise refused */
    others.iops = 50000;
    want.iops = 1;
    assert_int_equal(sc_admission_check(&c, &others, &want, why, sizeof(why)), -ENOSPC);
    assert_non_null(strstr(why, "measured"));
    /* no reservation asked: always fine */
    want.iops = 0;
    assert_int_equal(sc_admission_check(&c, &others, &want, why, sizeof(why)), 0);
}

static void dimensions_apart(void **state)
{
    (void)state;
    /* bytes known, requests not: any IOPS, bounded bytes */
    struct sc_admission_capacity c = { .per_core = { .bps = 100 << 20 }, .ncores = 1 };
    struct sc_sched_rate others = { .iops = 1000000, .bps = 50 << 20 };
    struct sc_sched_rate want = { .iops = 50000000, .bps = 30 << 20 };
    char why[256];
    assert_int_equal(sc_admission_check(&c, &others, &want, why, sizeof(why)), 0);
    want.bps = 50 << 20;
    assert_int_equal(sc_admission_check(&c, &others, &want, why, sizeof(why)), -ENOSPC);
    assert_non_null(strstr(why, "bandwidth"));
    /* nothing known: everything admitted */
    memset(&c, 0, sizeof(c));
    want.bps = UINT64_MAX / 2;
    others.bps = UINT64_MAX / 2;
    assert_int_equal(sc_admission_check(&c, &others, &want, why, sizeof(why)), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(reservable_share),
        cmocka_unit_test(fits_and_refused),
        cmocka_unit_test(dimensions_apart),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
