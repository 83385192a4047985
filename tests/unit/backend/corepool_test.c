/*
 * corepool_test.c - the core pool: poll-mode placement on the least loaded
 * core and release, event mode's core per queue, guest settings reaching
 * every core (present and future), and the attention fd handed to cores.
 *
 * Cores are real sidecores on a private xensim world (each opens an
 * event-channel handle); no queue here has a port, so no guest is needed.
 */
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include <cmocka.h>

#include "corepool.h"
#include "pool_fixture.h"
#include "simworld.h"

static struct simworld world;
static struct sc_xen *xen;

static int group_setup(void **state)
{
    (void)state;
    if (simworld_start(&world) < 0)
        return -1;
    setenv("XENSIM_DIR", world.dir, 1);
    unsetenv("XENSIM_DOMID");
    xen = sc_xen_open(SC_XEN_SIM);
    return xen ? 0 : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    sc_xen_close(xen);
    simworld_stop(&world);
    return 0;
}

static void params_init(struct sc_pool_params *p, enum sc_mode mode, unsigned ncores)
{
    memset(p, 0, sizeof(*p));
    p->mode = mode;
    p->ncores = ncores;
    for (unsigned i = 0; i < SC_POOL_MAX_CORES; i++)
        p->cpus[i] = SC_CORE_NO_CPU;
    p->poll_idle_ns = 50000;
    p->uring_entries = 32;
    p->attention_fd = -1;
}

static int count_cb(struct sc_core *core, void *arg)
{
    (void)core;
    (*(unsigned *)arg)++;
    return 0;
}

static unsigned ncores(struct sc_pool *pool)
{
    unsigned n = 0;
    assert_int_equal(sc_pool_foreach_core(pool, count_cb, &n), 0);
    return n;
}

static int stop_at_second(struct sc_core *core, void *arg)
{
    (void)core;
    return ++*(unsigned *)arg == 2 ? 42 : 0;
}

static void test_mode_names(void **state)
{
    (void)state;
    enum sc_mode m;
    assert_int_equal(sc_mode_parse("poll", &m), 0);
    assert_int_equal(m, SC_MODE_POLL);
    assert_int_equal(sc_mode_parse("event", &m), 0);
    assert_int_equal(m, SC_MODE_EVENT);
    assert_int_equal(sc_mode_parse("Poll", &m), -EINVAL);
    assert_int_equal(sc_mode_parse("", &m), -EINVAL);
    assert_string_equal(sc_mode_str(SC_MODE_POLL), "poll");
    assert_string_equal(sc_mode_str(SC_MODE_EVENT), "event");
}

static void test_bad_params(void **state)
{
    (void)state;
    struct sc_pool_params p;
    params_init(&p, SC_MODE_POLL, 0);
    errno = 0;
    assert_null(sc_pool_create(xen, &p));
    assert_int_equal(errno, EINVAL);
    params_init(&p, SC_MODE_POLL, SC_POOL_MAX_CORES + 1);
    assert_null(sc_pool_create(xen, &p));
    assert_int_equal(errno, EINVAL);
    params_init(&p, SC_MODE_POLL, 1);
    p.cpus[0] = 1 << 20; /* beyond any CPU set */
    assert_null(sc_pool_create(xen, &p));
    assert_int_equal(errno, EINVAL);
    params_init(&p, SC_MODE_POLL, 1);
    p.sched.visit_max_requests = 1u << 30; /* scheduler refuses it */
    assert_null(sc_pool_create(xen, &p));
    assert_int_equal(errno, EINVAL);
    params_init(&p, (enum sc_mode)7, 1);
    assert_null(sc_pool_create(xen, &p));
    assert_int_equal(errno, EINVAL);
    sc_pool_destroy(NULL);
}

static void test_poll_placement(void **state)
{
    (void)state;
    struct sc_pool_params p;
    params_init(&p, SC_MODE_POLL, 2);
    p.cpus[0] = 0; /* pinning to a CPU that exists works */
    struct sc_pool *pool = sc_pool_create(xen, &p);
    assert_non_null(pool);
    assert_int_equal(sc_pool_mode(pool), SC_MODE_POLL);
    assert_int_equal(ncores(pool), 2);
    unsigned seen = 0;
    assert_int_equal(sc_pool_foreach_core(pool, stop_at_second, &seen), 42);
    assert_int_equal(seen, 2);

    /* two queues land on two different cores */
    struct sc_core *a = sc_pool_acquire(pool, 1);
    struct sc_core *b = sc_pool_acquire(pool, 2);
    assert_non_null(a);
    assert_non_null(b);
    assert_ptr_not_equal(a, b);
    assert_true((!strcmp(sc_core_name(a), "sc0") && !strcmp(sc_core_name(b), "sc1")) ||
                (!strcmp(sc_core_name(a), "sc1") && !strcmp(sc_core_name(b), "sc0")));

    /* after a release, the emptier core takes the next queue, whatever
     * the order of acquisition */
    sc_pool_release(pool, a);
    assert_ptr_equal(sc_pool_acquire(pool, 3), a);
    sc_pool_release(pool, b);
    assert_ptr_equal(sc_pool_acquire(pool, 4), b);

    /* four queues on two cores: two each */
    struct sc_core *c = sc_pool_acquire(pool, 5);
    struct sc_core *d = sc_pool_acquire(pool, 6);
    assert_ptr_not_equal(c, d);
    /* a has two queues now (3 and one of 5/6), b the other two */
    assert_true((c == a && d == b) || (c == b && d == a));
    sc_pool_release(pool, a);
    sc_pool_release(pool, a); /* a: 0, b: 2 */
    assert_ptr_equal(sc_pool_acquire(pool, 7), a);
    assert_int_equal(ncores(pool), 2); /* poll mode never adds or drops cores */

    sc_pool_release(pool, b);  /* a: 1, b: 1 */
    sc_pool_release(pool, a);  /* a: 0 */
    assert_ptr_equal(sc_pool_acquire(pool, 8), a);
    sc_pool_release(pool, b);  /* a: 1, b: 0 */
    assert_ptr_equal(sc_pool_acquire(pool, 9), b);
    sc_pool_release(pool, a);
    sc_pool_release(pool, b);
    sc_pool_release(pool, b); /* one too many: warned about, ignored */
    /* ignored means b did not go "below zero": a fresh queue each, a then b
     * or b then a, never both on one */
    struct sc_core *e = sc_pool_acquire(pool, 10), *f = sc_pool_acquire(pool, 11);
    assert_ptr_not_equal(e, f);
    sc_pool_release(pool, e);
    sc_pool_release(pool, f);
    sc_pool_destroy(pool);
}

static void test_event_mode_core_per_queue(void **state)
{
    (void)state;
    struct sc_pool_params p;
    params_init(&p, SC_MODE_EVENT, 0); /* ncores is ignored in event mode */
    struct sc_pool *pool = sc_pool_create(xen, &p);
    assert_non_null(pool);
    assert_int_equal(sc_pool_mode(pool), SC_MODE_EVENT);
    assert_int_equal(ncores(pool), 0);

    struct sc_core *a = sc_pool_acquire(pool, 1);
    assert_non_null(a);
    assert_int_equal(ncores(pool), 1);
    struct sc_core *b = sc_pool_acquire(pool, 1);
    assert_non_null(b);
    assert_ptr_not_equal(a, b);
    assert_int_equal(ncores(pool), 2);
    assert_string_not_equal(sc_core_name(a), sc_core_name(b));
    assert_non_null(sc_core_evtchn(a));

    sc_pool_release(pool, a);
    assert_int_equal(ncores(pool), 1);
    struct sc_core *c = sc_pool_acquire(pool, 2);
    assert_non_null(c);
    assert_int_equal(ncores(pool), 2);
    sc_pool_release(pool, b);
    sc_pool_release(pool, c);
    assert_int_equal(ncores(pool), 0);
    sc_pool_destroy(pool);
}

/* Settings are posted, not waited for: 0 once core has applied domid's
 * (the pool's answers reaped meanwhile), or its last error after 2 s. */
static int tenant_known(struct sc_pool *pool, struct sc_core *core, domid_t domid)
{
    struct sc_sched_tenant_stats ts;
    int rc = -ENOENT;
    for (int i = 0; i < 2000 && (rc = sc_core_tenant_stats(core, domid, &ts)) != 0; i++) {
        sc_pool_reap(pool);
        usleep(1000);
    }
    return rc;
}

static void test_tenants_reach_every_core(void **state)
{
    (void)state;
    struct sc_sched_tenant_stats ts;
    struct sc_sched_tenant_conf good = { .weight = 300, .limit = { .iops = 1000 } };
    struct sc_sched_tenant_conf bad_weight = { .weight = 0 };
    struct sc_sched_tenant_conf bad_res = { .weight = 100, .reservation = { .iops = 10 },
                                            .limit = { .iops = 5 } };

    /* event mode: settings given before any core exists are refused or
     * kept, and a core made later has them */
    struct sc_pool_params p;
    params_init(&p, SC_MODE_EVENT, 0);
    struct sc_pool *pool = sc_pool_create(xen, &p);
    assert_non_null(pool);
    assert_int_equal(sc_pool_set_tenant(pool, 5, &bad_weight), -EINVAL);
    assert_int_equal(sc_pool_set_tenant(pool, 5, &bad_res), -EINVAL);
    assert_int_equal(sc_pool_set_tenant(pool, 5, &good), 0);
    struct sc_core *a = sc_pool_acquire(pool, 9);
    assert_non_null(a);
    assert_int_equal(tenant_known(pool, a, 5), 0);
    assert_int_equal(sc_core_tenant_stats(a, 6, &ts), -ENOENT); /* refused ones left no trace */
    /* and one set now reaches the existing core */
    assert_int_equal(sc_pool_set_tenant(pool, 6, &good), 0);
    assert_int_equal(tenant_known(pool, a, 6), 0);
    sc_pool_release(pool, a);
    sc_pool_destroy(pool);

    /* poll mode: every core */
    params_init(&p, SC_MODE_POLL, 3);
    pool = sc_pool_create(xen, &p);
    assert_non_null(pool);
    assert_int_equal(sc_pool_set_tenant(pool, 7, &good), 0);
    struct sc_core *cores[3];
    for (int i = 0; i < 3; i++) {
        cores[i] = sc_pool_acquire(pool, 1);
        assert_non_null(cores[i]);
        assert_int_equal(tenant_known(pool, cores[i], 7), 0);
    }
    for (int i = 0; i < 3; i++)
        sc_pool_release(pool, cores[i]);
    sc_pool_destroy(pool);
}

/* ---- the attention fd: a queue that breaks raises it ---- */

static int broken_poll(struct sc_queue *q, const struct sc_sched_grant *g, struct sc_visit *v)
{
    (void)q;
    (void)g;
    (void)v;
    return -EPROTO;
}

static const struct sc_queue_ops broken_ops = {
    .poll = broken_poll,
    .flush = pool_fixture_nop_flush,
    .rearm = pool_fixture_no_rearm,
    .idle = pool_fixture_always_idle,
};

static void test_attention_fd_reaches_cores(void **state)
{
    (void)state;
    for (int mode = SC_MODE_POLL; mode <= SC_MODE_EVENT; mode++) {
        int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        assert_true(efd >= 0);
        struct sc_pool_params p;
        params_init(&p, (enum sc_mode)mode, 1);
        p.attention_fd = efd;
        struct sc_pool *pool = sc_pool_create(xen, &p);
        assert_non_null(pool);
        struct sc_core *core = sc_pool_acquire(pool, 3);
        assert_non_null(core);
        struct sc_queue q;
        assert_int_equal(sc_queue_init(&q, &broken_ops, 3, SC_TCLASS_VBD, "broken q%d", mode), 0);
        assert_int_equal(sc_core_add_queue(core, &q), 0);
        struct pollfd pfd = { .fd = efd, .events = POLLIN };
        assert_int_equal(poll(&pfd, 1, 5000), 1);
        uint64_t n;
        assert_int_equal(read(efd, &n, sizeof(n)), sizeof(n));
        assert_true(n >= 1);
        assert_true(sc_queue_failed(&q));
        assert_int_equal(sc_queue_error(&q), -EPROTO);
        assert_int_equal(sc_core_remove_queue(core, &q), 0);
        sc_pool_release(pool, core);
        sc_pool_destroy(pool);
        close(efd);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mode_names),
        cmocka_unit_test(test_bad_params),
        cmocka_unit_test(test_poll_placement),
        cmocka_unit_test(test_event_mode_core_per_queue),
        cmocka_unit_test(test_tenants_reach_every_core),
        cmocka_unit_test(test_attention_fd_reaches_cores),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
