/*
 * grace_test.c - grace periods over a real pool of sidecores
 * (backend/grace.c): done() runs once, only after every core answered, and
 * only after what each core was running when the period began; at once
 * for a pool without cores; -EBUSY while running; cores made later are not
 * waited for, a core that exits answers; nothing runs once the pool closes.
 *
 * Cores are real sidecores on a private xensim world (as corepool_test.c
 * makes them).  A core is held in the middle of its work by a CALL whose
 * function waits on a gate the test opens: whatever was posted to it after
 * that CALL cannot run before the gate opens, which makes "done has not
 * run yet" a fact, not a timing.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "corepool.h"
#include "pool_fixture.h"
#include "grace.h"
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

/* ---- a gate a core waits on, inside a CALL ---- */

struct gate {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool open;
    atomic_uint entered;  /* CALLs waiting or past */
    atomic_uint finished; /* CALLs that returned */
};

static void gate_init(struct gate *g)
{
    pthread_mutex_init(&g->lock, NULL);
    pthread_cond_init(&g->cond, NULL);
    g->open = false;
    atomic_init(&g->entered, 0);
    atomic_init(&g->finished, 0);
}

static void gate_open(struct gate *g)
{
    pthread_mutex_lock(&g->lock);
    g->open = true;
    pthread_cond_broadcast(&g->cond);
    pthread_mutex_unlock(&g->lock);
}

static void gate_fini(struct gate *g)
{
    pthread_cond_destroy(&g->cond);
    pthread_mutex_destroy(&g->lock);
}

static void wait_at_gate(struct sc_core *core, void *arg)
{
    (void)core;
    struct gate *g = arg;
    atomic_fetch_add(&g->entered, 1);
    pthread_mutex_lock(&g->lock);
    while (!g->open)
        pthread_cond_wait(&g->cond, &g->lock);
    pthread_mutex_unlock(&g->lock);
    atomic_fetch_add(&g->finished, 1);
}

struct held {
    struct sc_core_cmd cmd;
    atomic_bool answered;
};

static void held_answered(struct sc_core_cmd *cmd)
{
    struct held *h = cmd->owner;
    atomic_store(&h->answered, true);
}

/* Posts to core a CALL that waits at g; answered through the pool. */
static void hold(struct sc_pool *pool, struct sc_core *core, struct held *h, struct gate *g)
{
    memset(&h->cmd, 0, sizeof(h->cmd));
    atomic_init(&h->answered, false);
    h->cmd.type = SC_CORE_CMD_CALL;
    h->cmd.fn = wait_at_gate;
    h->cmd.arg = g;
    h->cmd.reply = sc_pool_reply_inbox(pool);
    h->cmd.done = held_answered;
    h->cmd.owner = h;
    assert_int_equal(sc_core_post(core, &h->cmd), 0);
}

/* ---- the grace period's owner ---- */

struct owner {
    struct sc_grace g;
    unsigned done_calls;
    struct gate *gate;          /* when set: the CALLs at it must be over */
    unsigned finished_at_done;  /* gate->finished when done ran */
};

static void grace_done(struct sc_grace *g)
{
    struct owner *o = g->owner;
    assert_ptr_equal(g, &o->g);
    o->done_calls++;
    if (o->gate)
        o->finished_at_done = atomic_load(&o->gate->finished);
}

static void owner_init(struct owner *o)
{
    memset(o, 0, sizeof(*o));
    o->g.owner = o;
    o->g.done = grace_done;
}

/* Reaps the pool's answers until done ran (at most ~10 s: a bound for a
 * hung core, not a timing claim). */
static void reap_until_done(struct sc_pool *pool, struct owner *o, unsigned calls)
{
    for (int i = 0; i < 10000 && o->done_calls < calls; i++) {
        sc_pool_reap(pool);
        if (o->done_calls < calls)
            usleep(1000);
    }
    assert_int_equal(o->done_calls, calls);
}

/* Reaps for a while (what is there to reap must not run done). */
static void reap_some(struct sc_pool *pool)
{
    for (int i = 0; i < 20; i++) {
        sc_pool_reap(pool);
        usleep(1000);
    }
}

static void wait_entered(struct gate *g, unsigned n)
{
    for (int i = 0; i < 10000 && atomic_load(&g->entered) < n; i++)
        usleep(1000);
    assert_int_equal(atomic_load(&g->entered), n);
}

struct core_list {
    struct sc_core *c[SC_POOL_MAX_CORES];
    unsigned n;
};

static int collect(struct sc_core *core, void *arg)
{
    struct core_list *l = arg;
    l->c[l->n++] = core;
    return 0;
}

/* ---- tests ---- */

static void test_bad_args(void **state)
{
    (void)state;
    struct sc_pool *pool = pool_fixture_create(xen, SC_MODE_EVENT, 0);
    struct owner o;
    owner_init(&o);
    assert_int_equal(sc_grace_start(NULL, pool), -EINVAL);
    assert_int_equal(sc_grace_start(&o.g, NULL), -EINVAL);
    o.g.done = NULL;
    assert_int_equal(sc_grace_start(&o.g, pool), -EINVAL);
    assert_int_equal(o.done_calls, 0);
    sc_pool_destroy(pool);
}

/* No core: nobody can hold an old pointer, done runs inside the start. */
static void test_no_core_done_at_once(void **state)
{
    (void)state;
    struct sc_pool *pool = pool_fixture_create(xen, SC_MODE_EVENT, 0);
    struct owner o;
    owner_init(&o);
    assert_int_equal(sc_grace_start(&o.g, pool), 0);
    assert_int_equal(o.done_calls, 1);
    sc_pool_reap(pool);
    assert_int_equal(o.done_calls, 1);
    /* and again: a finished period leaves g ready for the next */
    assert_int_equal(sc_grace_start(&o.g, pool), 0);
    assert_int_equal(o.done_calls, 2);
    sc_pool_destroy(pool);
}

/* The point: a CALL posted to each core before the period began has run
 * (returned) on every core before done; done runs once; -EBUSY meanwhile. */
static void test_waits_for_every_core(void **state)
{
    (void)state;
    enum { N = 3 };
    struct sc_pool *pool = pool_fixture_create(xen, SC_MODE_POLL, N);
    struct core_list l = { .n = 0 };
    sc_pool_foreach_core(pool, collect, &l);
    assert_int_equal(l.n, N);

    struct gate gate;
    gate_init(&gate);
    struct held h[N];
    for (unsigned i = 0; i < N; i++)
        hold(pool, l.c[i], &h[i], &gate);
    wait_entered(&gate, N); /* every core is inside its CALL */

    struct owner o;
    owner_init(&o);
    o.gate = &gate;
    assert_int_equal(sc_grace_start(&o.g, pool), 0);
    assert_int_equal(o.done_calls, 0);
    assert_int_equal(sc_grace_start(&o.g, pool), -EBUSY);
    reap_some(pool);
    assert_int_equal(o.done_calls, 0); /* every core is still held */
    assert_int_equal(sc_grace_start(&o.g, pool), -EBUSY);

    gate_open(&gate);
    reap_until_done(pool, &o, 1);
    assert_int_equal(o.finished_at_done, N);
    for (unsigned i = 0; i < N; i++)
        assert_true(atomic_load(&h[i].answered));
    reap_some(pool);
    assert_int_equal(o.done_calls, 1); /* exactly once */

    /* a second period on the same g, cores free: done once more */
    o.gate = NULL;
    assert_int_equal(sc_grace_start(&o.g, pool), 0);
    reap_until_done(pool, &o, 2);
    reap_some(pool);
    assert_int_equal(o.done_calls, 2);
    sc_pool_destroy(pool);
    gate_fini(&gate);
}

/* One core answering is not enough: with two of three released, done
 * still waits for the third. */
static void test_waits_for_the_last_core(void **state)
{
    (void)state;
    enum { N = 3 };
    struct sc_pool *pool = pool_fixture_create(xen, SC_MODE_POLL, N);
    struct core_list l = { .n = 0 };
    sc_pool_foreach_core(pool, collect, &l);
    assert_int_equal(l.n, N);
    struct gate first, last;
    gate_init(&first);
    gate_init(&last);
    struct held h[N];
    for (unsigned i = 0; i < N; i++)
        hold(pool, l.c[i], &h[i], i + 1 < N ? &first : &last);
    wait_entered(&first, N - 1);
    wait_entered(&last, 1);

    struct owner o;
    owner_init(&o);
    o.gate = &last;
    assert_int_equal(sc_grace_start(&o.g, pool), 0);
    gate_open(&first);
    /* the two released cores answer both CALLs... */
    for (int i = 0; i < 10000 && !(atomic_load(&h[0].answered) && atomic_load(&h[1].answered));
         i++) {
        sc_pool_reap(pool);
        usleep(1000);
    }
    assert_true(atomic_load(&h[0].answered));
    assert_true(atomic_load(&h[1].answered));
    reap_some(pool);
    /* ...and done waits for the third */
    assert_int_equal(o.done_calls, 0);
    assert_int_equal(sc_grace_start(&o.g, pool), -EBUSY);
    gate_open(&last);
    reap_until_done(pool, &o, 1);
    assert_int_equal(o.finished_at_done, 1);
    sc_pool_destroy(pool);
    gate_fini(&first);
    gate_fini(&last);
}

/* Event mode: a core made after the start is not waited for (it cannot
 * hold an old pointer); a core that exits during the period answers. */
static void test_later_and_exiting_cores(void **state)
{
    (void)state;
    struct sc_pool *pool = pool_fixture_create(xen, SC_MODE_EVENT, 0);
    struct sc_core *a = sc_pool_acquire(pool, 1);
    assert_non_null(a);
    struct gate ga, gb;
    gate_init(&ga);
    gate_init(&gb);
    struct held ha, hb;
    hold(pool, a, &ha, &ga);
    wait_entered(&ga, 1);

    struct owner o;
    owner_init(&o);
    o.gate = &ga;
    assert_int_equal(sc_grace_start(&o.g, pool), 0);
    struct sc_core *b = sc_pool_acquire(pool, 2); /* after the start */
    assert_non_null(b);
    assert_ptr_not_equal(a, b);
    hold(pool, b, &hb, &gb);
    wait_entered(&gb, 1);
    reap_some(pool);
    assert_int_equal(o.done_calls, 0);
    gate_open(&ga);
    reap_until_done(pool, &o, 1); /* b, still held, was not asked */
    assert_int_equal(o.finished_at_done, 1);
    assert_int_equal(atomic_load(&gb.finished), 0);
    gate_open(&gb);
    for (int i = 0; i < 10000 && !atomic_load(&hb.answered); i++) {
        sc_pool_reap(pool);
        usleep(1000);
    }
    assert_true(atomic_load(&hb.answered));
    assert_true(atomic_load(&ha.answered));

    /* a period with b, then b goes (its core exits) before answering is
     * reaped: it answers all the same, done runs once */
    o.gate = NULL;
    assert_int_equal(sc_grace_start(&o.g, pool), 0);
    sc_pool_release(pool, b);
    reap_until_done(pool, &o, 2);
    reap_some(pool);
    assert_int_equal(o.done_calls, 2);
    sc_pool_release(pool, a);
    sc_pool_destroy(pool);
    gate_fini(&ga);
    gate_fini(&gb);
}

/* Many periods back to back, each done before the next: no answer of an
 * old period is counted in a new one. */
static void test_back_to_back(void **state)
{
    (void)state;
    struct sc_pool *pool = pool_fixture_create(xen, SC_MODE_POLL, 2);
    struct owner o;
    owner_init(&o);
    for (unsigned i = 1; i <= 200; i++) {
        assert_int_equal(sc_grace_start(&o.g, pool), 0);
        reap_until_done(pool, &o, i);
    }
    reap_some(pool);
    assert_int_equal(o.done_calls, 200);
    /* two owners at once on one pool */
    struct owner p;
    owner_init(&p);
    assert_int_equal(sc_grace_start(&o.g, pool), 0);
    assert_int_equal(sc_grace_start(&p.g, pool), 0);
    reap_until_done(pool, &o, 201);
    reap_until_done(pool, &p, 1);
    sc_pool_destroy(pool);
}

/* grace.h: "Nothing runs once the pool is closing": a period still running
 * when the pool is destroyed never calls done (its owner may be gone). */
static void test_nothing_runs_when_closing(void **state)
{
    (void)state;
    struct sc_pool *pool = pool_fixture_create(xen, SC_MODE_POLL, 2);
    struct core_list l = { .n = 0 };
    sc_pool_foreach_core(pool, collect, &l);
    struct gate gate;
    gate_init(&gate);
    struct held h[2];
    for (unsigned i = 0; i < 2; i++)
        hold(pool, l.c[i], &h[i], &gate);
    wait_entered(&gate, 2);
    struct owner o;
    owner_init(&o);
    assert_int_equal(sc_grace_start(&o.g, pool), 0);
    gate_open(&gate); /* the cores may answer now, nobody reaps */
    sc_pool_destroy(pool);
    assert_int_equal(o.done_calls, 0);
    gate_fini(&gate);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_args),
        cmocka_unit_test(test_no_core_done_at_once),
        cmocka_unit_test(test_waits_for_every_core),
        cmocka_unit_test(test_waits_for_the_last_core),
        cmocka_unit_test(test_later_and_exiting_cores),
        cmocka_unit_test(test_back_to_back),
        cmocka_unit_test(test_nothing_runs_when_closing),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
