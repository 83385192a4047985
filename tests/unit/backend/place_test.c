/*
 * place_test.c - the placement policy (place.h) on hand-made tables: the
 * plan from a fresh host (pool created, Pool-0's top CPUs moved, domain
 * moved, vCPUs pinned one per CPU), a second run that changes nothing, a
 * reused pool, --pcpus and --vcpus; each refusal (Pool-0's last CPU, a CPU
 * of another pool, a pool of another scheduler or holding another domain,
 * too few CPUs, unknown domain or vCPU); and every --check finding, alone
 * and together, with a good placement finding nothing.  CPU lists parsed
 * and printed.
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

#include "place.h"

static struct sc_place_world W;

static struct sc_place_pool *add_pool(int id, const char *name, const char *sched,
                                      const char *cpus)
{
    struct sc_place_pool *p = &W.pools[W.nr_pools++];
    memset(p, 0, sizeof(*p));
    p->id = id;
    snprintf(p->name, sizeof(p->name), "%s", name);
    snprintf(p->sched, sizeof(p->sched), "%s", sched);
    if (cpus)
        assert_int_equal(sc_cpus_parse(cpus, SC_PLACE_MAX_CPUS, &p->cpus), 0);
    return p;
}

static void add_dom(unsigned domid, int pool, unsigned nv)
{
    W.doms[W.nr_doms++] = (struct sc_place_dom){ domid, pool, nv };
}

/* 8 CPUs all in Pool-0 (credit2); Dom0 (1 vCPU) and domain 5 (2 vCPUs,
 * unpinned) in it; domain 5 is the one looked at. */
static int fresh(void **state)
{
    (void)state;
    memset(&W, 0, sizeof(W));
    W.nr_cpus = 8;
    add_pool(0, "Pool-0", "credit2", "0-7");
    add_dom(0, 0, 1);
    add_dom(5, 0, 2);
    W.domid = 5;
    W.nr_vcpus = 2;
    W.vcpus[0] = (struct sc_place_vcpu){ 0, -1 };
    W.vcpus[1] = (struct sc_place_vcpu){ 1, -1 };
    return 0;
}

static struct sc_place_req req(void)
{
    return (struct sc_place_req){ .domid = 5, .pool = "sidecores", .sched = "null" };
}

/* Applies a plan to W as a hypervisor would (new pool gets id 1). */
static void apply(const struct sc_place_plan *p, const struct sc_place_req *r)
{
    for (unsigned i = 0; i < p->nr_steps; i++) {
        const struct sc_place_step *s = &p->steps[i];
        int id = s->pool < 0 ? 1 : s->pool;
        struct sc_place_pool *pool = NULL;
        for (unsigned k = 0; k < W.nr_pools; k++)
            if (W.pools[k].id == id)
                pool = &W.pools[k];
        switch (s->op) {
        case SC_PLACE_CREATE_POOL:
            add_pool(1, r->pool, r->sched, NULL);
            break;
        case SC_PLACE_REMOVE_CPU:
            sc_cpus_clear(&pool->cpus, (unsigned)s->cpu);
            break;
        case SC_PLACE_ADD_CPU:
            sc_cpus_set(&pool->cpus, (unsigned)s->cpu);
            break;
        case SC_PLACE_MOVE_DOMAIN:
            for (unsigned k = 0; k < W.nr_doms; k++)
                if (W.doms[k].domid == r->domid)
                    W.doms[k].pool = id;
            for (unsigned v = 0; v < W.nr_vcpus; v++)
                W.vcpus[v].pin = -1;
            break;
        case SC_PLACE_PIN:
            W.vcpus[s->vcpu].pin = W.vcpus[s->vcpu].pcpu = s->cpu;
            break;
        }
    }
}

static int check(struct sc_place_finding *f, unsigned max)
{
    return sc_place_check(&W, NULL, "null", f, max);
}

static void test_cpus_text(void **state)
{
    (void)state;
    struct sc_cpus s;
    char buf[64];
    assert_int_equal(sc_cpus_parse("0-3,6,9-10", 16, &s), 0);
    assert_int_equal(sc_cpus_count(&s), 7);
    sc_cpus_str(&s, buf, sizeof(buf));
    assert_string_equal(buf, "0-3,6,9-10");
    assert_int_equal(sc_cpus_parse("16", 16, &s), -EINVAL);
    assert_int_equal(sc_cpus_parse("3-1", 16, &s), -EINVAL);
    assert_int_equal(sc_cpus_parse("1,", 16, &s), -EINVAL);
    assert_int_equal(sc_cpus_parse("", 16, &s), -EINVAL);
    assert_int_equal(sc_cpus_parse("a", 16, &s), -EINVAL);
    memset(&s, 0, sizeof(s));
    sc_cpus_str(&s, buf, sizeof(buf));
    assert_string_equal(buf, "-");
}

static void test_plan_fresh_then_nothing(void **state)
{
    (void)state;
    struct sc_place_req r = req();
    static struct sc_place_plan p;
    char why[200], line[128];
    assert_int_equal(sc_place_plan(&W, &r, &p, why, sizeof(why)), 0);
    /* create, 2 x (remove from Pool-0, add), move, 2 pins */
    assert_int_equal(p.nr_steps, 8);
    assert_int_equal(p.steps[0].op, SC_PLACE_CREATE_POOL);
    assert_int_equal(p.steps[1].op, SC_PLACE_REMOVE_CPU);
    assert_int_equal(p.steps[1].cpu, 6);
    assert_int_equal(p.steps[2].op, SC_PLACE_ADD_CPU);
    assert_int_equal(p.steps[5].op, SC_PLACE_MOVE_DOMAIN);
    assert_int_equal(p.steps[6].op, SC_PLACE_PIN);
    assert_int_equal(p.pin[0], 6);
    assert_int_equal(p.pin[1], 7);
    sc_place_step_str(&W, &r, &p.steps[1], line, sizeof(line));
    assert_string_equal(line, "remove pCPU 6 from Pool-0");
    sc_place_step_str(&W, &r, &p.steps[7], line, sizeof(line));
    assert_string_equal(line, "pin vCPU 1 of domain 5 to pCPU 7");
    struct sc_place_finding f[8];
    assert_int_equal(check(f, 8), 3); /* Pool-0, two unpinned */
    apply(&p, &r);
    assert_int_equal(check(f, 8), 0);
    /* again: nothing to do */
    assert_int_equal(sc_place_plan(&W, &r, &p, why, sizeof(why)), 0);
    assert_int_equal(p.nr_steps, 0);
}

static void test_plan_reuse_pool_and_pcpus(void **state)
{
    (void)state;
    /* pool exists with CPU 3, domain in Pool-0: CPU 2 (free) and 3 */
    struct sc_place_pool *p0 = &W.pools[0];
    sc_cpus_clear(&p0->cpus, 2);
    sc_cpus_clear(&p0->cpus, 3);
    add_pool(4, "sidecores", "null", "3");
    struct sc_place_req r = req();
    r.have_pcpus = true;
    assert_int_equal(sc_cpus_parse("2", 8, &r.pcpus), 0);
    static struct sc_place_plan p;
    char why[200];
    assert_int_equal(sc_place_plan(&W, &r, &p, why, sizeof(why)), 0);
    assert_int_equal(p.pool, 4);
    assert_int_equal(p.nr_steps, 4); /* add 2 (free: no removal), move, 2 pins */
    assert_int_equal(p.steps[0].op, SC_PLACE_ADD_CPU);
    assert_int_equal(p.steps[0].cpu, 2);
    assert_int_equal(p.steps[0].pool, 4);
    assert_int_equal(p.pin[0], 2);
    assert_int_equal(p.pin[1], 3);
}

static void test_plan_some_vcpus(void **state)
{
    (void)state;
    struct sc_place_req r = req();
    r.have_vcpus = true;
    sc_cpus_set(&r.vcpus, 1);
    static struct sc_place_plan p;
    char why[200];
    assert_int_equal(sc_place_plan(&W, &r, &p, why, sizeof(why)), 0);
    assert_int_equal(p.pin[0], -1);
    assert_int_equal(p.pin[1], 6);
    r.vcpus.w[0] = 1u << 2;
    assert_int_equal(sc_place_plan(&W, &r, &p, why, sizeof(why)), -EINVAL);
    assert_string_equal(why, "domain 5 has no vCPU 2 (it has 2)");
}

static void test_refusals(void **state)
{
    (void)state;
    static struct sc_place_plan p;
    char why[200];
    struct sc_place_req r = req();
    /* Pool-0's last CPU */
    r.have_pcpus = true;
    assert_int_equal(sc_cpus_parse("0-7", 8, &r.pcpus), 0);
    assert_int_equal(sc_place_plan(&W, &r, &p, why, sizeof(why)), -EBUSY);
    assert_non_null(strstr(why, "Pool-0's last CPU"));
    /* by count: 8 asked, Pool-0 keeps one */
    r = req();
    r.ncpus = 8;
    assert_int_equal(sc_place_plan(&W, &r, &p, why, sizeof(why)), -EBUSY);
    assert_non_null(strstr(why, "Pool-0 keeps its last CPU"));
    /* a CPU another pool owns */
    sc_cpus_clear(&W.pools[0].cpus, 5);
    add_pool(2, "other", "credit", "5");
    r = req();
    r.have_pcpus = true;
    assert_int_equal(sc_cpus_parse("4-5", 8, &r.pcpus), 0);
    assert_int_equal(sc_place_plan(&W, &r, &p, why, sizeof(why)), -EBUSY);
    assert_string_equal(why, "pCPU 5 belongs to cpupool other (id 2): not taken from another pool");
    /* a CPU that is not there */
    assert_int_equal(sc_cpus_parse("9", 16, &r.pcpus), 0);
    assert_int_equal(sc_place_plan(&W, &r, &p, why, sizeof(why)), -EINVAL);
    /* too few CPUs for the vCPUs */
    assert_int_equal(sc_cpus_parse("4", 8, &r.pcpus), 0);
    assert_int_equal(sc_place_plan(&W, &r, &p, why, sizeof(why)), -EBUSY);
    assert_non_null(strstr(why, "1 pCPU for the 2 vCPUs"));
    /* the named pool has another scheduler */
    r = req();
    r.pool = "other";
    assert_int_equal(sc_place_plan(&W, &r, &p, why, sizeof(why)), -EINVAL);
    assert_non_null(strstr(why, "with the credit scheduler, not null"));
    /* ... or another domain */
    r.sched = "credit";
    add_dom(7, 2, 1);
    assert_int_equal(sc_place_plan(&W, &r, &p, why, sizeof(why)), -EBUSY);
    assert_non_null(strstr(why, "already holds domain 7"));
    /* Pool-0 named, Dom0, an unknown domain */
    r = req();
    r.pool = "Pool-0";
    assert_int_equal(sc_place_plan(&W, &r, &p, why, sizeof(why)), -EINVAL);
    r = req();
    r.domid = 0;
    assert_int_equal(sc_place_plan(&W, &r, &p, why, sizeof(why)), -EINVAL);
    r.domid = 9;
    assert_int_equal(sc_place_plan(&W, &r, &p, why, sizeof(why)), -ESRCH);
}

/* Domain 5 well placed: pool 1 "sidecores" (null) with CPUs 6-7, vCPU 0 on
 * 6 and 1 on 7. */
static int placed(void **state)
{
    fresh(state);
    sc_cpus_clear(&W.pools[0].cpus, 6);
    sc_cpus_clear(&W.pools[0].cpus, 7);
    add_pool(1, "sidecores", "null", "6-7");
    W.doms[1].pool = 1;
    W.vcpus[0] = (struct sc_place_vcpu){ 6, 6 };
    W.vcpus[1] = (struct sc_place_vcpu){ 7, 7 };
    return 0;
}

static void expect_one(enum sc_place_problem want, const char *msg)
{
    struct sc_place_finding f[8];
    int n = check(f, 8);
    for (int i = 0; i < n && i < 8; i++)
        print_message("# %s: %s\n", sc_place_problem_name(f[i].problem), f[i].msg);
    assert_int_equal(n, 1);
    assert_int_equal(f[0].problem, want);
    assert_string_equal(f[0].msg, msg);
}

static void test_check_good(void **state)
{
    (void)state;
    struct sc_place_finding f[8];
    assert_int_equal(check(f, 8), 0);
    W.domid = 9;
    assert_int_equal(check(f, 8), -ESRCH);
}

static void test_check_not_dedicated(void **state)
{
    (void)state;
    W.doms[1].pool = 0;
    W.vcpus[0].pin = W.vcpus[1].pin = -1;
    struct sc_place_finding f[8];
    assert_int_equal(check(f, 8), 3);
    assert_int_equal(f[0].problem, SC_PLACE_NOT_DEDICATED);
    assert_string_equal(f[0].msg, "domain 5 is in Pool-0 (id 0), not in a cpupool of its own");
    assert_int_equal(f[1].problem, SC_PLACE_UNPINNED);
}

static void test_check_sched(void **state)
{
    (void)state;
    snprintf(W.pools[1].name, sizeof(W.pools[1].name), "sc");
    snprintf(W.pools[1].sched, sizeof(W.pools[1].sched), "credit2");
    expect_one(SC_PLACE_SCHED, "cpupool sc (id 1) uses the credit2 scheduler, not null");
}

static void test_check_unpinned(void **state)
{
    (void)state;
    W.vcpus[1].pin = -1;
    expect_one(SC_PLACE_UNPINNED, "vCPU 1 is not pinned to one pCPU");
    /* not asked about vCPU 1: clean */
    struct sc_cpus only0 = { { 1 } };
    struct sc_place_finding f[8];
    assert_int_equal(sc_place_check(&W, &only0, "null", f, 8), 0);
}

static void test_check_shared(void **state)
{
    (void)state;
    W.vcpus[1].pin = 6;
    expect_one(SC_PLACE_SHARED_PCPU, "vCPUs 0 and 1 are both pinned to pCPU 6");
}

static void test_check_pin_outside(void **state)
{
    (void)state;
    W.vcpus[1].pin = 3;
    expect_one(SC_PLACE_PIN_OUTSIDE, "vCPU 1 is pinned to pCPU 3, which is not in cpupool "
               "sidecores");
}

static void test_check_other_domain(void **state)
{
    (void)state;
    add_dom(7, 1, 1);
    expect_one(SC_PLACE_OTHER_DOMAIN, "domain 7 (1 vCPU) is in cpupool sidecores too");
}

static void test_check_too_few(void **state)
{
    (void)state;
    sc_cpus_clear(&W.pools[1].cpus, 7);
    W.vcpus[1].pin = 6;
    struct sc_place_finding f[8];
    assert_int_equal(check(f, 8), 2);
    assert_int_equal(f[0].problem, SC_PLACE_TOO_FEW_CPUS);
    assert_string_equal(f[0].msg, "cpupool sidecores has 1 pCPU for the 2 vCPUs of domain 5");
    assert_int_equal(f[1].problem, SC_PLACE_SHARED_PCPU);
    /* more findings than room: counted */
    assert_int_equal(check(f, 1), 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cpus_text),
        cmocka_unit_test_setup(test_plan_fresh_then_nothing, fresh),
        cmocka_unit_test_setup(test_plan_reuse_pool_and_pcpus, fresh),
        cmocka_unit_test_setup(test_plan_some_vcpus, fresh),
        cmocka_unit_test_setup(test_refusals, fresh),
        cmocka_unit_test_setup(test_check_good, placed),
        cmocka_unit_test_setup(test_check_not_dedicated, placed),
        cmocka_unit_test_setup(test_check_sched, placed),
        cmocka_unit_test_setup(test_check_unpinned, placed),
        cmocka_unit_test_setup(test_check_shared, placed),
        cmocka_unit_test_setup(test_check_pin_outside, placed),
        cmocka_unit_test_setup(test_check_other_domain, placed),
        cmocka_unit_test_setup(test_check_too_few, placed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
