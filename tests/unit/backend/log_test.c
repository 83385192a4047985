/*
 * log_test.c - sc_log: context prefix, level filter, and the rate limit
 * data-path logs rely on (burst, then silence, then a suppressed count).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "log.h"

static char *buf;
static size_t len;
static FILE *mem;

static int capture(void **state)
{
    (void)state;
    mem = open_memstream(&buf, &len);
    assert_non_null(mem);
    sc_log_set_stream(mem);
    sc_log_set_level(SC_LOG_INFO);
    return 0;
}

static int release(void **state)
{
    (void)state;
    sc_log_set_stream(NULL);
    fclose(mem);
    free(buf);
    buf = NULL;
    return 0;
}

static const char *logged(void)
{
    fflush(mem);
    return buf ? buf : "";
}

static size_t count_lines(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

static void line_has_level_and_context(void **state)
{
    (void)state;
    sc_log(SC_LOG_WARN, "vbd 5/51712 q0", "ring overflow: %u requests", 40u);
    sc_log(SC_LOG_ERR, NULL, "no context");
    assert_string_equal(logged(), "sidecored: warning: vbd 5/51712 q0: ring overflow: 40 requests\n"
                                  "sidecored: error: no context\n");
}

static void level_filters(void **state)
{
    (void)state;
    sc_log(SC_LOG_DEBUG, "x", "hidden");
    assert_string_equal(logged(), "");
    sc_log_set_level(SC_LOG_DEBUG);
    sc_log(SC_LOG_DEBUG, "x", "shown");
    assert_string_equal(logged(), "sidecored: debug: x: shown\n");
}

static void long_lines_are_cut_with_newline(void **state)
{
    (void)state;
    char big[3000];
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    sc_log(SC_LOG_ERR, "x", "%s", big);
    const char *out = logged();
    assert_int_equal(count_lines(out), 1);
    assert_true(strlen(out) < 1024);
    assert_int_equal(out[strlen(out) - 1], '\n');
}

static void ratelimit_burst_then_suppressed_count(void **state)
{
    (void)state;
    struct sc_ratelimit rl = { 0 };
    uint64_t t0 = 1000;
    uint32_t dropped = 99;

    for (unsigned i = 0; i < SC_RATELIMIT_BURST; i++)
        assert_true(sc_ratelimit_allow(&rl, t0 + i, &dropped));
    for (unsigned i = 0; i < 7; i++)
        assert_false(sc_ratelimit_allow(&rl, t0 + 100 + i, &dropped));
    assert_int_equal(dropped, 0);
    /* Still inside the window: still quiet. */
    assert_false(sc_ratelimit_allow(&rl, t0 + SC_RATELIMIT_INTERVAL_NS - 1, NULL));
    /* A new window lets lines through and reports the 8 dropped ones once. */
    assert_true(sc_ratelimit_allow(&rl, t0 + SC_RATELIMIT_INTERVAL_NS, &dropped));
    assert_int_equal(dropped, 8);
    assert_true(sc_ratelimit_allow(&rl, t0 + SC_RATELIMIT_INTERVAL_NS + 1, &dropped));
    assert_int_equal(dropped, 0);
}

static void log_rl_limits_per_call_site(void **state)
{
    (void)state;
    for (int i = 0; i < 50; i++)
        sc_log_rl(SC_LOG_WARN, "q0", "bad request %d", i);
    assert_int_equal(count_lines(logged()), SC_RATELIMIT_BURST);
    /* Another call site has its own budget. */
    sc_log_rl(SC_LOG_WARN, "q1", "other site");
    assert_non_null(strstr(logged(), "q1: other site"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(line_has_level_and_context, capture, release),
        cmocka_unit_test_setup_teardown(level_filters, capture, release),
        cmocka_unit_test_setup_teardown(long_lines_are_cut_with_newline, capture, release),
        cmocka_unit_test_setup_teardown(ratelimit_burst_then_suppressed_count, capture, release),
        cmocka_unit_test_setup_teardown(log_rl_limits_per_call_site, capture, release),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
