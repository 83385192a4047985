/*
 * domain_test.c - xensim domains: create, destroy, info, list, names,
 * privilege, domid reuse, and the xenstore side (/local/domain/<id>).
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
#include <xenstore.h>

#include "simworld.h"
#include "xensim.h"

struct world {
    struct simworld w;
    struct xsim *dom0;
};

static int setup(void **state)
{
    struct world *t = calloc(1, sizeof(*t));
    if (!t || simworld_start(&t->w))
        return -1;
    t->dom0 = xsim_open(t->w.dir, 0);
    if (!t->dom0) {
        simworld_stop(&t->w);
        return -1;
    }
    *state = t;
    return 0;
}

static int teardown(void **state)
{
    struct world *t = *state;
    xsim_close(t->dom0);
    simworld_stop(&t->w);
    free(t);
    return 0;
}

static bool listed(struct xsim *xs, const char *name, domid_t *domid)
{
    for (uint32_t d = 0; d < XSIM_MAX_DOMAINS; d++) {
        struct xsim_dominfo info;
        if (xsim_domain_info(xs, (domid_t)d, &info) == 0 && strcmp(info.name, name) == 0 &&
            info.state == XSIM_DOM_RUNNING) {
            if (domid)
                *domid = (domid_t)d;
            return true;
        }
    }
    return false;
}

static void test_dom0_exists(void **state)
{
    struct world *t = *state;
    struct xsim_dominfo info;
    assert_int_equal(xsim_domain_info(t->dom0, 0, &info), 0);
    assert_string_equal(info.name, "Domain-0");
    assert_int_equal(info.state, XSIM_DOM_RUNNING);
    assert_true(info.mem_pages > 0);
    assert_int_equal(xsim_domid(t->dom0), 0);
    assert_int_equal(xsim_domain_info(t->dom0, 200, &info), -ESRCH);
}

static void test_create_info_destroy(void **state)
{
    struct world *t = *state;
    int id = xsim_domain_create(t->dom0, "alpha", 16);
    assert_true(id > 0);

    struct xsim_dominfo info;
    assert_int_equal(xsim_domain_info(t->dom0, (domid_t)id, &info), 0);
    assert_int_equal(info.domid, id);
    assert_string_equal(info.name, "alpha");
    assert_int_equal(info.state, XSIM_DOM_RUNNING);
    assert_int_equal(info.mem_pages, 16 * 256);
    domid_t found;
    assert_true(listed(t->dom0, "alpha", &found));
    assert_int_equal(found, id);

    /* The new domain can be connected to, and sees the same table. */
    struct xsim *guest = xsim_open(t->w.dir, (domid_t)id);
    assert_non_null(guest);
    assert_int_equal(xsim_domid(guest), id);
    assert_int_equal(xsim_domain_info(guest, (domid_t)id, &info), 0);
    assert_string_equal(info.name, "alpha");

    assert_int_equal(xsim_domain_destroy(t->dom0, (domid_t)id), 0);
    assert_int_equal(xsim_domain_info(t->dom0, (domid_t)id, &info), -ESRCH);
    assert_false(listed(t->dom0, "alpha", NULL));
    assert_int_equal(xsim_domain_destroy(t->dom0, (domid_t)id), -ESRCH);
    /* Its connections were dropped; no new ones. */
    assert_true(xsim_domain_create(guest, "x", 1) < 0);
    xsim_close(guest);
    assert_null(xsim_open(t->w.dir, (domid_t)id));

    /* Not reused at once. */
    int id2 = xsim_domain_create(t->dom0, "alpha", 16);
    assert_true(id2 > 0);
    assert_int_not_equal(id2, id);
    assert_int_equal(xsim_domain_destroy(t->dom0, (domid_t)id2), 0);
}

static void test_duplicate_and_bad_names(void **state)
{
    struct world *t = *state;
    int id = xsim_domain_create(t->dom0, "dup", 4);
    assert_true(id > 0);
    assert_int_equal(xsim_domain_create(t->dom0, "dup", 4), -EEXIST);
    assert_int_equal(xsim_domain_create(t->dom0, "Domain-0", 4), -EEXIST);
    assert_int_equal(xsim_domain_create(t->dom0, "", 4), -EINVAL);
    assert_int_equal(xsim_domain_create(t->dom0, "123", 4), -EINVAL);
    assert_int_equal(xsim_domain_create(t->dom0, "a/b", 4), -EINVAL);
    assert_int_equal(xsim_domain_create(t->dom0, "zero-mem", 0), -EINVAL);
    assert_int_equal(xsim_domain_destroy(t->dom0, 0), -EPERM);
    assert_int_equal(xsim_domain_destroy(t->dom0, (domid_t)id), 0);
    /* The name is free again. */
    id = xsim_domain_create(t->dom0, "dup", 4);
    assert_true(id > 0);
    assert_int_equal(xsim_domain_destroy(t->dom0, (domid_t)id), 0);
}

static void test_only_dom0_creates(void **state)
{
    struct world *t = *state;
    int id = xsim_domain_create(t->dom0, "unpriv", 4);
    assert_true(id > 0);
    struct xsim *guest = xsim_open(t->w.dir, (domid_t)id);
    assert_non_null(guest);
    assert_int_equal(xsim_domain_create(guest, "child", 4), -EPERM);
    assert_int_equal(xsim_domain_destroy(guest, (domid_t)id), -EPERM);
    assert_int_equal(xsim_domain_destroy(guest, 0), -EPERM);
    assert_false(listed(t->dom0, "child", NULL));
    xsim_close(guest);
    assert_int_equal(xsim_domain_destroy(t->dom0, (domid_t)id), 0);
}

static void test_domid_reuse_bumps_incarnation(void **state)
{
    struct world *t = *state;
    int first = xsim_domain_create(t->dom0, "cycle", 1);
    assert_true(first > 0);
    struct xsim_dominfo info;
    assert_int_equal(xsim_domain_info(t->dom0, (domid_t)first, &info), 0);
    uint32_t inc = info.incarnation;
    assert_int_equal(xsim_domain_destroy(t->dom0, (domid_t)first), 0);
    /* Round-robin: the same domid comes back after one lap. */
    int id = -1;
    for (uint32_t i = 0; i < XSIM_MAX_DOMAINS && id != first; i++) {
        id = xsim_domain_create(t->dom0, "cycle", 1);
        assert_true(id > 0);
        if (id != first)
            assert_int_equal(xsim_domain_destroy(t->dom0, (domid_t)id), 0);
    }
    assert_int_equal(id, first);
    assert_int_equal(xsim_domain_info(t->dom0, (domid_t)id, &info), 0);
    assert_true(info.incarnation != inc);
    assert_int_equal(xsim_domain_destroy(t->dom0, (domid_t)id), 0);
}

static void test_xenstore_introduced(void **state)
{
    struct world *t = *state;
    int id = xsim_domain_create(t->dom0, "storeme", 4);
    assert_true(id > 0);
    setenv("XENSTORED_PATH", simworld_xs_path(&t->w, 0), 1);
    struct xs_handle *xsh = xs_open(0);
    assert_non_null(xsh);
    char path[64];
    unsigned int len = 0;
    snprintf(path, sizeof(path), "/local/domain/%d/name", id);
    char *name = xs_read(xsh, XBT_NULL, path, &len);
    assert_non_null(name);
    assert_string_equal(name, "storeme");
    free(name);
    xs_close(xsh);
    assert_int_equal(xsim_domain_destroy(t->dom0, (domid_t)id), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dom0_exists),
        cmocka_unit_test(test_create_info_destroy),
        cmocka_unit_test(test_duplicate_and_bad_names),
        cmocka_unit_test(test_only_dom0_creates),
        cmocka_unit_test(test_domid_reuse_bumps_incarnation),
        cmocka_unit_test(test_xenstore_introduced),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
