/*
 * dirlimit_test.c - a guest's read/write limits (dirlimit.c) on the rate
 * cell (rate_cell.c): a burst then one request per cost, each direction on
 * its own, both dimensions needed before either is spent, rates changed
 * live, the table's one object per guest, and four threads taking from
 * one limit never passing more than the rate allows.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <cmocka.h>

#include "dirlimit.h"

#define T0 (1000ull * 1000000000ull)

static void cell_burst_then_paced(void **state)
{
    (void)state;
    struct sc_rate_cell c = { 0 };
    uint64_t retry = 7;
    assert_false(sc_rate_cell_limited(&c));
    assert_true(sc_rate_cell_take(&c, 1ull << 40, T0, &retry)); /* unlimited */
    assert_int_equal(retry, 7);
    sc_rate_cell_set_rate(&c, 1000, 10000000); /* 1000/s, 10 ms burst: 10 at once */
    assert_true(sc_rate_cell_limited(&c));
    unsigned passed = 0;
    while (sc_rate_cell_take(&c, 1, T0, &retry))
        passed++;
    assert_int_equal(passed, 10);
    assert_int_equal(retry, T0 + 1000000); /* one request's time: 1 ms */
    assert_int_equal(sc_rate_cell_wait_ns(&c, 1, T0), T0 + 1000000);
    assert_int_equal(sc_rate_cell_wait_ns(&c, 1, T0 + 1000000), 0);
    assert_false(sc_rate_cell_take(&c, 1, T0 + 999999, NULL));
    assert_true(sc_rate_cell_take(&c, 1, T0 + 1000000, NULL));
    /* more than a burst at once passes only after silence for its cost */
    uint64_t t = T0 + 10ull * 1000000000ull;
    assert_true(sc_rate_cell_take(&c, 50, t, NULL));       /* silent long enough */
    assert_false(sc_rate_cell_take(&c, 1, t + 39000000, &retry)); /* 50 ms owed, 10 ms room */
    assert_int_equal(retry, t + 41000000);
}

static void directions_apart(void **state)
{
    (void)state;
    struct sc_dir_limit l = { 0 };
    assert_false(sc_dir_limit_any(&l));
    assert_int_equal(sc_dir_limit_take(&l, SC_DIR_WRITE, 1 << 20, T0), 0);
    struct sc_dir_rates r = { .dir = { [SC_DIR_READ] = { .iops = 100 } } };
    sc_dir_limit_set(&l, &r);
    assert_true(sc_dir_limit_any(&l));
    /* 100/s with a 10 ms burst: one read now, the next in 10 ms */
    assert_int_equal(sc_dir_limit_take(&l, SC_DIR_READ, 4096, T0), 0);
    uint64_t at = sc_dir_limit_take(&l, SC_DIR_READ, 4096, T0);
    assert_int_equal(at, T0 + 10000000);
    assert_int_equal(atomic_load(&l.throttled[SC_DIR_READ]), 1);
    /* writes are not limited */
    for (unsigned i = 0; i < 1000; i++)
        assert_int_equal(sc_dir_limit_take(&l, SC_DIR_WRITE, 1 << 20, T0), 0);
    assert_int_equal(atomic_load(&l.throttled[SC_DIR_WRITE]), 0);
    /* bytes and requests: held by the bytes, the request is not spent */
    r = (struct sc_dir_rates){ .dir = { [SC_DIR_WRITE] = { .iops = 1000, .bps = 1 << 20 } } };
    sc_dir_limit_set(&l, &r);
    uint64_t t = T0 + 60ull * 1000000000ull;
    assert_int_equal(sc_dir_limit_take(&l, SC_DIR_WRITE, 1 << 20, t), 0); /* after silence */
    at = sc_dir_limit_take(&l, SC_DIR_WRITE, 4096, t);
    assert_true(at > t + 900000000ull); /* the 1 MiB took a second of bytes */
    uint64_t tat_iops = atomic_load(&l.iops[SC_DIR_WRITE].tat_ns);
    (void)sc_dir_limit_take(&l, SC_DIR_WRITE, 4096, t + 1000);
    assert_int_equal(atomic_load(&l.iops[SC_DIR_WRITE].tat_ns), tat_iops);
    /* reads were cleared by the new settings */
    assert_int_equal(sc_dir_limit_take(&l, SC_DIR_READ, 4096, t), 0);
    /* all off */
    sc_dir_limit_set(&l, &(struct sc_dir_rates){ 0 });
    assert_false(sc_dir_limit_any(&l));
}

static void table_one_per_guest(void **state)
{
    (void)state;
    struct sc_dir_table t = { 0 };
    struct sc_dir_limit *a = sc_dir_table_get(&t, 5), *b = sc_dir_table_get(&t, 6);
    assert_non_null(a);
    assert_non_null(b);
    assert_ptr_not_equal(a, b);
    assert_ptr_equal(sc_dir_table_get(&t, 5), a);
    assert_false(sc_dir_limit_any(a)); /* unlimited until set */
    sc_dir_table_free(&t);
    assert_null(t.head);
}

/* Four threads take reads 4 KiB each over 1 s of virtual time, in steps of
 * 10 us: at 2000/s with a 10 ms burst, at most 2000 + 20 pass in all. */
struct taker {
    struct sc_dir_limit *l;
    unsigned passed;
};

static void *take_loop(void *arg)
{
    struct taker *tk = arg;
    for (uint64_t t = 0; t <= 1000000000ull; t += 10000)
        tk->passed += sc_dir_limit_take(tk->l, SC_DIR_READ, 4096, T0 + t) == 0;
    return NULL;
}

static void threads_share(void **state)
{
    (void)state;
    static struct sc_dir_limit l;
    struct sc_dir_rates r = { .dir = { [SC_DIR_READ] = { .iops = 2000 } } };
    sc_dir_limit_set(&l, &r);
    struct taker tk[4];
    pthread_t th[4];
    for (unsigned i = 0; i < 4; i++) {
        tk[i] = (struct taker){ .l = &l };
        assert_int_equal(pthread_create(&th[i], NULL, take_loop, &tk[i]), 0);
    }
    unsigned sum = 0;
    for (unsigned i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        sum += tk[i].passed;
    }
    assert_true(sum <= 2000 + 20 + 1);
    assert_true(sum >= 1000); /* the threads' clocks differ: at least half passes */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(cell_burst_then_paced),
        cmocka_unit_test(directions_apart),
        cmocka_unit_test(table_one_per_guest),
        cmocka_unit_test(threads_share),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
