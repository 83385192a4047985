/*
 * proc_stat_test.c - the steal of one CPU read from /proc/stat's text
 * (xen.h, sc_proc_stat_steal): the 8th column of its cpuN line in clock
 * ticks, as ns; "cpu1" never matched by "cpu10"; short or malformed lines
 * refused; and the machine's own /proc/stat read.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <cmocka.h>

#include "xen.h"

static const char stat_text[] =
    "cpu  100 0 50 9000 3 0 1 77 0 0\n"
    "cpu0 10 0 5 900 0 0 0 12 0 0\n"
    "cpu1 20 1 6 800 1 0 0 345 0 0\n"
    "cpu10 30 2 7 700 2 0 0 9999 0 0\n"
    "intr 12345 0 0\n";

static void test_steal_of_each_cpu(void **state)
{
    (void)state;
    uint64_t ns = 0;
    assert_int_equal(sc_proc_stat_steal(stat_text, 0, 100, &ns), 0);
    assert_int_equal(ns, 120000000ull); /* 12 ticks of 10 ms */
    assert_int_equal(sc_proc_stat_steal(stat_text, 1, 100, &ns), 0);
    assert_int_equal(ns, 3450000000ull);
    assert_int_equal(sc_proc_stat_steal(stat_text, 10, 100, &ns), 0);
    assert_int_equal(ns, 99990000000ull);
    assert_int_equal(sc_proc_stat_steal(stat_text, 1, 1000, &ns), 0);
    assert_int_equal(ns, 345000000ull);
}

static void test_missing_and_malformed(void **state)
{
    (void)state;
    uint64_t ns = 42;
    assert_int_equal(sc_proc_stat_steal(stat_text, 2, 100, &ns), -ENOENT);
    assert_int_equal(sc_proc_stat_steal("cpu0 1 2 3 4 5 6 7\n", 0, 100, &ns), -EINVAL);
    assert_int_equal(sc_proc_stat_steal("cpu0 1 2 3 4 5 6 x 8\n", 0, 100, &ns), -EINVAL);
    assert_int_equal(sc_proc_stat_steal("cpu0 1 2 3 4 5 6 7 -8\n", 0, 100, &ns), -EINVAL);
    assert_int_equal(sc_proc_stat_steal(stat_text, 0, 0, &ns), -EINVAL);
    assert_int_equal(sc_proc_stat_steal("", 0, 100, &ns), -ENOENT);
    assert_int_equal(ns, 42); /* untouched by every refusal */
}

/* The machine's own file parses for CPU 0, twice, and steal never goes back. */
static void test_this_machine(void **state)
{
    (void)state;
    char buf[65536];
    uint64_t a = 0, b = 0;
    for (int i = 0; i < 2; i++) {
        FILE *f = fopen("/proc/stat", "r");
        assert_non_null(f);
        size_t n = fread(buf, 1, sizeof(buf) - 1, f);
        fclose(f);
        buf[n] = '\0';
        assert_int_equal(sc_proc_stat_steal(buf, 0, (unsigned long)sysconf(_SC_CLK_TCK),
                                            i ? &b : &a), 0);
    }
    assert_true(b >= a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_steal_of_each_cpu),
        cmocka_unit_test(test_missing_and_malformed),
        cmocka_unit_test(test_this_machine),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
