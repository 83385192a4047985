/*
 * metrics_addr_test.c - the metrics setting's forms (off, PORT, IPv4:PORT,
 * [IPv6]:PORT, localhost:PORT, unix:PATH) and every rejection.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "metrics_addr.h"

static const char *roundtrip(const char *in, char *buf, size_t len)
{
    struct sc_metrics_addr a;
    assert_int_equal(sc_metrics_addr_parse(in, &a), 0);
    return sc_metrics_addr_format(&a, buf, len);
}

static void accepted_forms(void **state)
{
    (void)state;
    char buf[SC_METRICS_WHERE_MAX];
    assert_string_equal(roundtrip("off", buf, sizeof(buf)), "off");
    assert_string_equal(roundtrip("9464", buf, sizeof(buf)), "127.0.0.1:9464");
    assert_string_equal(roundtrip("0", buf, sizeof(buf)), "127.0.0.1:0");
    assert_string_equal(roundtrip("0.0.0.0:9464", buf, sizeof(buf)), "0.0.0.0:9464");
    assert_string_equal(roundtrip("localhost:80", buf, sizeof(buf)), "127.0.0.1:80");
    assert_string_equal(roundtrip("[::1]:65535", buf, sizeof(buf)), "[::1]:65535");
    assert_string_equal(roundtrip("[::]:9464", buf, sizeof(buf)), "[::]:9464");
    assert_string_equal(roundtrip("unix:/run/sidecore/metrics.sock", buf, sizeof(buf)),
                        "unix:/run/sidecore/metrics.sock");
    struct sc_metrics_addr a;
    assert_int_equal(sc_metrics_addr_parse("192.0.2.1:9", &a), 0);
    assert_int_equal(a.kind, SC_METRICS_INET);
    assert_string_equal(a.host, "192.0.2.1");
    assert_int_equal(a.port, 9);
    assert_int_equal(sc_metrics_addr_parse("unix:rel.sock", &a), 0);
    assert_int_equal(a.kind, SC_METRICS_UNIX);
    assert_string_equal(a.path, "rel.sock");
}

static void rejected_forms(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "", "on", "65536", "-1", "+80", "80x", "127.0.0.1:", ":9464", "127.0.0.1:99999",
        "example.org:80", "1:80", "0x7f.0.0.1:80", "::1:80", "[::1]", "[::1]80", "[]:80",
        "[127.0.0.1]:80", "unix:", "127.0.0.1:9464 ",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct sc_metrics_addr a = { .kind = SC_METRICS_UNIX };
        if (sc_metrics_addr_parse(bad[i], &a) != -EINVAL)
            fail_msg("'%s' was accepted", bad[i]);
        assert_int_equal(a.kind, SC_METRICS_OFF);
    }
    char longpath[SC_METRICS_PATH_MAX + 8] = "unix:";
    memset(longpath + 5, 'a', SC_METRICS_PATH_MAX);
    longpath[5 + SC_METRICS_PATH_MAX] = '\0';
    struct sc_metrics_addr a;
    assert_int_equal(sc_metrics_addr_parse(longpath, &a), -EINVAL);
    assert_int_equal(sc_metrics_addr_parse(NULL, &a), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(accepted_forms),
        cmocka_unit_test(rejected_forms),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
