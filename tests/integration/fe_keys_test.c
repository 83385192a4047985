/*
 * fe_keys_test.c - the frontend key readers (backend/fe_keys.h) on xensim's
 * xenstored, inside a real bus's connect callback.
 *
 * Each case adds a device of a test class ("vfk") whose frontend directory
 * already holds the keys under test and state Initialised, so the bus
 * probes and then connects it at once; connect runs the case's reads and
 * keeps what they returned.  A read that must fail the device is checked
 * through what a toolstack sees: the backend goes Closing, and the error
 * node names the key as <dir>/<key>.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "bus_fixture.h"
#include "fe_keys.h"
#include "log.h"
#include "xensim.h"

static domid_t guest;

/* ---- the class: connect runs the case ---- */

typedef int case_fn(struct sc_device *dev);
static case_fn *the_case;
static int case_rc;
static unsigned connects;

static int fk_connect(struct sc_device *dev)
{
    connects++;
    case_rc = the_case(dev);
    return case_rc < 0 ? case_rc : 0;
}

static const struct sc_device_class fk_class = { .type = "vfk", .connect = fk_connect };

static int be_state(uint32_t devid)
{
    char *v = xs_readf(bw.ts, "/local/domain/0/backend/vfk/%u/%u/state", guest, devid);
    int s = v ? atoi(v) : -1;
    free(v);
    return s;
}

/* Adds device `devid` whose frontend directory holds `keys` ({k, v, ...,
 * NULL}) and runs `fn` in its connect.  Returns the backend's state after
 * (Connected, or Closing when the case failed the device). */
static int run_case(uint32_t devid, const char *const *keys, case_fn *fn)
{
    const char *fe_keys[16] = { "state", "3" /* Initialised */ };
    for (unsigned i = 0; keys && keys[i]; i++) {
        assert_true(i + 3 < 16);
        fe_keys[i + 2] = keys[i];
    }
    const struct xsim_device d = { .backend_type = "vfk", .frontend_type = "vfk",
                                   .frontend_id = guest, .devid = devid,
                                   .frontend_keys = fe_keys };
    the_case = fn;
    unsigned before = connects;
    assert_int_equal(xsim_device_add(bw.ts, &d), 0);
    BUS_WAIT_FOR(bw.bus, 5000,
                 connects == before + 1 && (be_state(devid) == XenbusStateConnected ||
                                            be_state(devid) == XenbusStateClosing));
    return be_state(devid);
}

/* The error node of a failed device: "<errno> <message>" (malloc'd). */
static char *error_of(uint32_t devid)
{
    char *v = xs_readf(bw.ts, "/local/domain/0/error/backend/vfk/%u/%u/error", guest, devid);
    assert_non_null(v);
    return v;
}

/* The device failed with `err`, and its message says `what` about <fe>/<key>. */
static void assert_failed(uint32_t devid, int err, const char *what, const char *key)
{
    assert_int_equal(be_state(devid), XenbusStateClosing);
    char want[256];
    snprintf(want, sizeof(want), "%d %s /local/domain/%u/device/vfk/%u/%s", -err, what, guest,
             devid, key);
    char *v = error_of(devid);
    if (strncmp(v, want, strlen(want)) != 0)
        fail_msg("error node \"%s\", expected it to start with \"%s\"", v, want);
    free(v);
}

/* ---- required unsigned ---- */

static unsigned long long got;

static int read_ring_ref(struct sc_device *dev)
{
    return sc_fe_read_uint(dev, dev->frontend_path, "ring-ref", 100, &got);
}

static void required_uint_read_or_device_failed(void **state)
{
    (void)state;
    got = 0;
    assert_int_equal(run_case(1, (const char *[]){ "ring-ref", "42", NULL }, read_ring_ref),
                     XenbusStateConnected);
    assert_int_equal(case_rc, 0);
    assert_int_equal(got, 42);

    assert_int_equal(run_case(2, NULL, read_ring_ref), XenbusStateClosing);
    assert_int_equal(case_rc, -ENOENT);
    assert_failed(2, -ENOENT, "missing", "ring-ref");

    static const char *const bad[] = { "12x", "-1", " 7", "0x10", "101", "" };
    for (uint32_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(run_case(10 + i, (const char *[]){ "ring-ref", bad[i], NULL },
                                  read_ring_ref),
                         XenbusStateClosing);
        assert_int_equal(case_rc, -EINVAL);
        assert_failed(10 + i, -EINVAL, "malformed or out of range", "ring-ref");
    }
}

/* ---- optional unsigned, booleans ---- */

static int read_order(struct sc_device *dev)
{
    return sc_fe_read_uint_opt(dev, dev->frontend_path, "ring-page-order", 4, 77, &got);
}

static void optional_uint_defaults_when_absent_only(void **state)
{
    (void)state;
    assert_int_equal(run_case(20, NULL, read_order), XenbusStateConnected);
    assert_int_equal(case_rc, 1);
    assert_int_equal(got, 77);
    assert_int_equal(run_case(21, (const char *[]){ "ring-page-order", "3", NULL }, read_order),
                     XenbusStateConnected);
    assert_int_equal(case_rc, 0);
    assert_int_equal(got, 3);
    assert_int_equal(run_case(22, (const char *[]){ "ring-page-order", "5", NULL }, read_order),
                     XenbusStateClosing);
    assert_failed(22, -EINVAL, "malformed or out of range", "ring-page-order");
}

static bool flag;

static int read_flag_true(struct sc_device *dev)
{
    flag = false;
    return sc_fe_read_bool(dev, dev->frontend_path, "feature-x", true, &flag);
}

static int read_flag_warn(struct sc_device *dev)
{
    flag = sc_fe_read_bool_warn(dev, dev->frontend_path, "feature-x", true);
    return 0;
}

static void booleans_strict_and_lenient(void **state)
{
    (void)state;
    assert_int_equal(run_case(30, (const char *[]){ "feature-x", "0", NULL }, read_flag_true),
                     XenbusStateConnected);
    assert_int_equal(case_rc, 0);
    assert_false(flag);
    assert_int_equal(run_case(31, (const char *[]){ "feature-x", "1", NULL }, read_flag_true),
                     XenbusStateConnected);
    assert_true(flag);
    assert_int_equal(run_case(32, NULL, read_flag_true), XenbusStateConnected);
    assert_int_equal(case_rc, 1);
    assert_true(flag); /* the default */
    assert_int_equal(run_case(33, (const char *[]){ "feature-x", "2", NULL }, read_flag_true),
                     XenbusStateClosing);
    assert_failed(33, -EINVAL, "malformed or out of range", "feature-x");

    /* Lenient: malformed is the default, and the device lives on. */
    assert_int_equal(run_case(34, (const char *[]){ "feature-x", "yes", NULL }, read_flag_warn),
                     XenbusStateConnected);
    assert_true(flag);
    assert_int_equal(run_case(35, (const char *[]){ "feature-x", "0", NULL }, read_flag_warn),
                     XenbusStateConnected);
    assert_false(flag);
}

/* ---- queues ---- */

static unsigned nq;
static char qdir[3][256];

/* Up to 8 queues; the directories of queues 0 and 1 (if any) and a too
 * short buffer. */
static int read_queues(struct sc_device *dev)
{
    nq = 0;
    int rc = sc_fe_num_queues(dev, 8, &nq);
    if (rc < 0)
        return rc;
    char tiny[8];
    assert_int_equal(sc_fe_queue_dir(dev, nq, 0, qdir[0], sizeof(qdir[0])), 0);
    assert_int_equal(sc_fe_queue_dir(dev, nq, nq - 1, qdir[1], sizeof(qdir[1])), 0);
    assert_int_equal(sc_fe_queue_dir(dev, nq, 0, tiny, sizeof(tiny)), -ENAMETOOLONG);
    return 0;
}

static void queue_count_and_directories(void **state)
{
    (void)state;
    char fe[128];
    assert_int_equal(run_case(40, NULL, read_queues), XenbusStateConnected);
    assert_int_equal(nq, 1);
    snprintf(fe, sizeof(fe), "/local/domain/%u/device/vfk/40", guest);
    assert_string_equal(qdir[0], fe); /* one queue: the frontend directory itself */

    assert_int_equal(run_case(41, (const char *[]){ "multi-queue-num-queues", "8", NULL },
                              read_queues),
                     XenbusStateConnected);
    assert_int_equal(nq, 8);
    snprintf(fe, sizeof(fe), "/local/domain/%u/device/vfk/41/queue-0", guest);
    assert_string_equal(qdir[0], fe);
    snprintf(fe, sizeof(fe), "/local/domain/%u/device/vfk/41/queue-7", guest);
    assert_string_equal(qdir[1], fe);

    static const struct {
        const char *value;
        int err;
    } bad[] = { { "0", -ENOSYS }, { "9", -ENOSYS }, { "4294967296", -EINVAL }, { "two", -EINVAL } };
    for (uint32_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(run_case(50 + i,
                                  (const char *[]){ "multi-queue-num-queues", bad[i].value, NULL },
                                  read_queues),
                         XenbusStateClosing);
        assert_int_equal(case_rc, bad[i].err);
        char *v = error_of(50 + i);
        assert_non_null(strstr(v, "/multi-queue-num-queues"));
        free(v);
    }
}

/* ---- fixtures ---- */

static int setup(void **state)
{
    (void)state;
    sc_log_set_level(SC_LOG_ERR);
    if (bus_world_up() < 0)
        return -1;
    int id = xsim_domain_create(bw.dom0, "fe-keys-guest", 16);
    if (id <= 0 || bus_world_open_bus() < 0)
        return -1;
    guest = (domid_t)id;
    return sc_xenbus_register(bw.bus, &fk_class) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    bus_world_down();
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(required_uint_read_or_device_failed),
        cmocka_unit_test(optional_uint_defaults_when_absent_only),
        cmocka_unit_test(booleans_strict_and_lenient),
        cmocka_unit_test(queue_count_and_directories),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
