/*
 * xen_real_test.c - the platform layer without a hypervisor: opening real
 * Xen fails cleanly (NULL + errno, one logged line), AUTO's choice, the
 * validation of $XENSIM_DOMID, and the strict integer parsers that guard
 * every xenstore value a guest writes.
 */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "log.h"
#include "xen.h"

static char *log_buf;
static size_t log_len;
static FILE *log_mem;

static int capture_log(void **state)
{
    (void)state;
    log_mem = open_memstream(&log_buf, &log_len);
    assert_non_null(log_mem);
    sc_log_set_stream(log_mem);
    unsetenv("XENSIM_DIR");
    unsetenv("XENSIM_DOMID");
    return 0;
}

static int release_log(void **state)
{
    (void)state;
    sc_log_set_stream(NULL);
    fclose(log_mem);
    free(log_buf);
    log_buf = NULL;
    return 0;
}

static const char *logged(void)
{
    fflush(log_mem);
    return log_buf ? log_buf : "";
}

static void real_open_without_xen_fails_cleanly(void **state)
{
    (void)state;
    if (access("/dev/xen/gntdev", F_OK) == 0)
        skip();
    errno = 0;
    struct sc_xen *x = sc_xen_open(SC_XEN_REAL);
    assert_null(x);
    assert_int_equal(errno, ENOENT);
    assert_non_null(strstr(logged(), "gntdev"));
    assert_non_null(strstr(logged(), "sidecored: error: xen:"));
}

static void auto_without_xensim_dir_means_real(void **state)
{
    (void)state;
    if (access("/dev/xen/gntdev", F_OK) == 0)
        skip();
    setenv("XENSIM_DOMID", "not-a-number", 1); /* ignored: not the sim */
    errno = 0;
    assert_null(sc_xen_open(SC_XEN_AUTO));
    assert_int_equal(errno, ENOENT);
    assert_non_null(strstr(logged(), "gntdev"));
}

static void auto_with_xensim_dir_means_sim(void **state)
{
    (void)state;
    /* A malformed domid is rejected only by the sim: proof AUTO chose it. */
    setenv("XENSIM_DIR", "/nonexistent/xensim.bogus", 1);
    setenv("XENSIM_DOMID", "12abc", 1);
    errno = 0;
    assert_null(sc_xen_open(SC_XEN_AUTO));
    assert_int_equal(errno, EINVAL);
    assert_non_null(strstr(logged(), "XENSIM_DOMID"));
    assert_null(strstr(logged(), "gntdev"));
}

static void sim_with_dead_world_fails_cleanly(void **state)
{
    (void)state;
    setenv("XENSIM_DIR", "/nonexistent/xensim.bogus", 1);
    errno = 0;
    assert_null(sc_xen_open(SC_XEN_AUTO));
    assert_true(errno != 0 && errno != EINVAL);
    assert_non_null(strstr(logged(), "cannot connect"));
}

static void sim_rejects_bad_domids(void **state)
{
    (void)state;
    static const char *bad[] = { "256", "-1", "0x1", " 1", "1 ", "99999999999999999999999" };
    setenv("XENSIM_DIR", "/nonexistent/xensim.bogus", 1);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        setenv("XENSIM_DOMID", bad[i], 1);
        errno = 0;
        assert_null(sc_xen_open(SC_XEN_SIM));
        assert_int_equal(errno, EINVAL);
    }
}

static void sim_needs_xensim_dir(void **state)
{
    (void)state;
    errno = 0;
    assert_null(sc_xen_open(SC_XEN_SIM));
    assert_int_equal(errno, EINVAL);
    assert_non_null(strstr(logged(), "XENSIM_DIR"));
}

static void platform_names(void **state)
{
    (void)state;
    assert_string_equal(sc_xen_platform_str(SC_XEN_AUTO), "auto");
    assert_string_equal(sc_xen_platform_str(SC_XEN_REAL), "xen");
    assert_string_equal(sc_xen_platform_str(SC_XEN_SIM), "xensim");
    assert_null(sc_xen_open((enum sc_xen_platform)42));
    assert_int_equal(errno, EINVAL);
}

static void parse_uint_accepts_plain_decimal(void **state)
{
    (void)state;
    unsigned long long v = 7;
    assert_int_equal(sc_xs_parse_uint("0", 10, &v), 0);
    assert_int_equal(v, 0);
    assert_int_equal(sc_xs_parse_uint("42", 42, &v), 0);
    assert_int_equal(v, 42);
    assert_int_equal(sc_xs_parse_uint("007", 10, &v), 0);
    assert_int_equal(v, 7);
    assert_int_equal(sc_xs_parse_uint("18446744073709551615", ULLONG_MAX, &v), 0);
    assert_true(v == ULLONG_MAX);
}

static void parse_uint_rejects_garbage(void **state)
{
    (void)state;
    static const char *bad[] = {
        "", "12abc", "-1", "+1", " 1", "1 ", "1\n", "0x10", "1.5", "abc", "-",
        "18446744073709551616", "99999999999999999999999999",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        unsigned long long v = 12345;
        assert_int_equal(sc_xs_parse_uint(bad[i], ULLONG_MAX, &v), -EINVAL);
        assert_true(v == 12345); /* untouched on failure */
    }
    unsigned long long v;
    assert_int_equal(sc_xs_parse_uint(NULL, 1, &v), -EINVAL);
    assert_int_equal(sc_xs_parse_uint("4294967296", UINT32_MAX, &v), -EINVAL);
    assert_int_equal(sc_xs_parse_uint("43", 42, &v), -EINVAL);
}

static void parse_int_range_and_sign(void **state)
{
    (void)state;
    long long v;
    assert_int_equal(sc_xs_parse_int("-5", -10, 10, &v), 0);
    assert_int_equal(v, -5);
    assert_int_equal(sc_xs_parse_int("10", -10, 10, &v), 0);
    assert_int_equal(v, 10);
    assert_int_equal(sc_xs_parse_int("-9223372036854775808", LLONG_MIN, LLONG_MAX, &v), 0);
    assert_true(v == LLONG_MIN);
    assert_int_equal(sc_xs_parse_int("9223372036854775807", LLONG_MIN, LLONG_MAX, &v), 0);
    assert_true(v == LLONG_MAX);

    static const char *bad[] = { "", "-", "--1", "+1", "1-", "9223372036854775808",
                                 "-9223372036854775809", "-11", "11", " -1" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        long long lo = strchr(bad[i], '8') || strchr(bad[i], '9') ? LLONG_MIN : -10;
        long long hi = lo == LLONG_MIN ? LLONG_MAX : 10;
        assert_int_equal(sc_xs_parse_int(bad[i], lo, hi, &v), -EINVAL);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(real_open_without_xen_fails_cleanly, capture_log, release_log),
        cmocka_unit_test_setup_teardown(auto_without_xensim_dir_means_real, capture_log, release_log),
        cmocka_unit_test_setup_teardown(auto_with_xensim_dir_means_sim, capture_log, release_log),
        cmocka_unit_test_setup_teardown(sim_with_dead_world_fails_cleanly, capture_log, release_log),
        cmocka_unit_test_setup_teardown(sim_rejects_bad_domids, capture_log, release_log),
        cmocka_unit_test_setup_teardown(sim_needs_xensim_dir, capture_log, release_log),
        cmocka_unit_test_setup_teardown(platform_names, capture_log, release_log),
        cmocka_unit_test(parse_uint_accepts_plain_decimal),
        cmocka_unit_test(parse_uint_rejects_garbage),
        cmocka_unit_test(parse_int_range_and_sign),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
