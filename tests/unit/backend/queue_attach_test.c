/*
 * queue_attach_test.c - a device's group of queues taken back together
 * (sc_detach_group): every member's detached() first, then the group's
 * done() once; a group with nothing on a core ends inside the call; a group
 * already detaching is refused; a member whose removal was posted alone is
 * not waited for.  A queue moved between cores (sc_move_queue) lands on
 * its target, is listed once, can be detached while it moves, and loses,
 * repeats and reorders none of its requests however often it moves under
 * load (a producer thread, I/O in flight through the core's io_uring).
 *
 * The cores are real sidecores on a private xensim world; the queues have
 * no event channel (as a switch's host port), so no guest is needed.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include <cmocka.h>

#include "corepool.h"
#include "pool_fixture.h"
#include "queue_attach.h"
#include "simworld.h"
#include "xensim.h"

static struct simworld world;
static struct xsim *dom0;
static struct sc_xen *xen;

static int group_setup(void **state)
{
    (void)state;
    if (simworld_start_as_dom0(&world, &dom0) < 0)
        return -1;
    xen = sc_xen_open(SC_XEN_SIM);
    return xen ? 0 : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    sc_xen_close(xen);
    xsim_close(dom0);
    simworld_stop(&world);
    return 0;
}

/* ---- a queue that never has work ---- */

static int idle_poll(struct sc_queue *q, const struct sc_sched_grant *g, struct sc_visit *v)
{
    (void)q;
    (void)g;
    (void)v;
    return 0;
}

static const struct sc_queue_ops idle_ops = {
    .poll = idle_poll,
    .flush = pool_fixture_nop_flush,
    .rearm = pool_fixture_no_rearm,
    .idle = pool_fixture_always_idle,
};

/* ---- a device of several queues ---- */

#define NQ 3

struct tdev;

struct tq {
    struct sc_queue q;
    struct sc_attach at;
    struct tdev *d;
    int added;       /* added() calls */
    int detached;    /* detached() calls */
};

struct tdev {
    struct tq qs[NQ];
    struct sc_attach_group group;
    int done;                /* done() calls */
    int detached_at_done;    /* members detached when done() ran */
};

static void tq_added(struct sc_attach *a, int result)
{
    struct tq *t = a->owner;
    assert_int_equal(result, 0);
    t->added++;
}

static void tq_detached(struct sc_attach *a, int result)
{
    struct tq *t = a->owner;
    assert_int_equal(result, 0);
    t->detached++;
}

static void group_done(struct sc_attach_group *g)
{
    struct tdev *d = g->owner;
    d->done++;
    for (unsigned i = 0; i < NQ; i++)
        d->detached_at_done += d->qs[i].detached;
}

static void tdev_init(struct tdev *d)
{
    memset(d, 0, sizeof(*d));
    for (unsigned i = 0; i < NQ; i++) {
        struct tq *t = &d->qs[i];
        t->d = d;
        t->at = (struct sc_attach){ .owner = t, .added = tq_added, .detached = tq_detached };
        assert_int_equal(sc_queue_init(&t->q, &idle_ops, 4, SC_TCLASS_VBD, "tdev q%u", i), 0);
    }
    d->group = (struct sc_attach_group){ .owner = d, .done = group_done };
}

/* Reaps the pool's answers until *count reaches want (5 s at most). */
static void reap_until(struct sc_pool *pool, const int *count, int want)
{
    for (int i = 0; i < 5000 && *count < want; i++) {
        sc_pool_reap(pool);
        if (*count < want)
            usleep(1000);
    }
    assert_int_equal(*count, want);
}

static void attach(struct sc_pool *pool, struct tq *t)
{
    assert_int_equal(sc_attach_queue(&t->at, pool, &t->q, NULL, 0), 0);
    reap_until(pool, &t->added, 1);
    assert_true(sc_attach_busy(&t->at));
}

static void test_group_waits_for_every_member(void **state)
{
    (void)state;
    struct sc_pool *pool = pool_fixture_create(xen, SC_MODE_POLL, 2);
    struct tdev d;
    tdev_init(&d);
    attach(pool, &d.qs[0]);
    attach(pool, &d.qs[2]);
    /* qs[1] never got on a core: taken back inside the call */
    struct sc_attach *m[NQ] = { &d.qs[2].at, &d.qs[1].at, &d.qs[0].at };
    assert_int_equal(sc_detach_group(&d.group, m, NQ), 1);
    assert_true(sc_detach_group_busy(&d.group));
    assert_int_equal(d.qs[1].detached, 1);
    assert_int_equal(d.done, 0);
    assert_int_equal(sc_detach_group(&d.group, m, NQ), -EALREADY);

    reap_until(pool, &d.done, 1);
    assert_int_equal(d.detached_at_done, NQ);
    assert_false(sc_detach_group_busy(&d.group));
    for (unsigned i = 0; i < NQ; i++) {
        assert_int_equal(d.qs[i].detached, 1);
        assert_false(sc_attach_busy(&d.qs[i].at));
    }
    /* nothing more comes */
    sc_pool_reap(pool);
    assert_int_equal(d.done, 1);
    sc_pool_destroy(pool);
}

static void test_group_with_nothing_on_a_core(void **state)
{
    (void)state;
    struct sc_pool *pool = pool_fixture_create(xen, SC_MODE_POLL, 2);
    struct tdev d;
    tdev_init(&d);
    /* empty: done() inside the call */
    assert_int_equal(sc_detach_group(&d.group, NULL, 0), 0);
    assert_int_equal(d.done, 1);
    /* members never attached: the same, after each one's detached() */
    struct sc_attach *m[2] = { &d.qs[0].at, &d.qs[1].at };
    assert_int_equal(sc_detach_group(&d.group, m, 2), 0);
    assert_int_equal(d.done, 2);
    assert_int_equal(d.qs[0].detached, 1);
    assert_int_equal(d.qs[1].detached, 1);
    assert_false(sc_detach_group_busy(&d.group));
    sc_pool_destroy(pool);
}

static void test_member_already_detaching(void **state)
{
    (void)state;
    struct sc_pool *pool = pool_fixture_create(xen, SC_MODE_POLL, 2);
    struct tdev d;
    tdev_init(&d);
    attach(pool, &d.qs[0]);
    attach(pool, &d.qs[1]);
    /* qs[0]'s removal posted alone: the group does not wait for it */
    assert_int_equal(sc_detach_queue(&d.qs[0].at), 0);
    struct sc_attach *m[2] = { &d.qs[0].at, &d.qs[1].at };
    assert_int_equal(sc_detach_group(&d.group, m, 2), 1);
    reap_until(pool, &d.qs[0].detached, 1);
    reap_until(pool, &d.qs[1].detached, 1);
    reap_until(pool, &d.done, 1);
    sc_pool_destroy(pool);
}

static void test_bad_calls(void **state)
{
    (void)state;
    struct sc_attach_group g = { 0 };
    assert_int_equal(sc_detach_group(&g, NULL, 0), -EINVAL); /* no done */
    g.done = group_done;
    assert_int_equal(sc_detach_group(&g, NULL, 1), -EINVAL);
    assert_int_equal(sc_detach_group(NULL, NULL, 0), -EINVAL);
}

/* ---- moves ---- */

static unsigned listed(struct sc_pool *pool, const struct sc_attach *a)
{
    unsigned n = 0;
    for (struct sc_attach *x = sc_pool_attached(pool); x; x = x->pool_next)
        n += x == a;
    return n;
}

static int first_core(struct sc_core *core, void *arg)
{
    *(struct sc_core **)arg = core;
    return 1;
}

static int other_core(struct sc_core *core, void *arg)
{
    struct sc_core **c = arg;
    if (core == c[0])
        return 0;
    c[1] = core;
    return 1;
}

/* The pool's core that is not `not`. */
static struct sc_core *core_besides(struct sc_pool *pool, struct sc_core *not)
{
    struct sc_core *c[2] = { not, NULL };
    sc_pool_foreach_core(pool, other_core, c);
    assert_non_null(c[1]);
    return c[1];
}

static void reap_until_landed(struct sc_pool *pool, struct sc_attach *a, struct sc_core *to)
{
    for (int i = 0; i < 5000 && (a->moving || a->core != to); i++) {
        sc_pool_reap(pool);
        usleep(1000);
    }
    assert_false(a->moving);
    assert_ptr_equal(a->core, to);
}

static void test_move_lands_and_detaches(void **state)
{
    (void)state;
    struct sc_pool *pool = pool_fixture_create(xen, SC_MODE_POLL, 2);
    struct tdev d;
    tdev_init(&d);
    struct tq *t = &d.qs[0];
    assert_int_equal(sc_move_queue(&t->at, core_besides(pool, NULL)), -EBUSY); /* not attached */
    attach(pool, t);
    assert_int_equal(listed(pool, &t->at), 1);
    struct sc_core *from = t->at.core, *to = core_besides(pool, from);
    assert_int_equal(sc_move_queue(&t->at, from), -EALREADY);
    assert_int_equal(sc_move_queue(&t->at, to), 0);
    assert_true(sc_attach_busy(&t->at)); /* on no core, but not free */
    assert_int_equal(sc_move_queue(&t->at, to), -EBUSY);
    reap_until_landed(pool, &t->at, to);
    assert_int_equal(t->at.moves, 1);
    assert_int_equal(t->added, 1); /* a move is not a new attach */
    assert_int_equal(listed(pool, &t->at), 1);
    /* back again, then detached from there */
    assert_int_equal(sc_move_queue(&t->at, from), 0);
    reap_until_landed(pool, &t->at, from);
    assert_int_equal(sc_detach_queue(&t->at), 0);
    reap_until(pool, &t->detached, 1);
    assert_false(sc_attach_busy(&t->at));
    assert_null(sc_pool_attached(pool));
    sc_pool_destroy(pool);
}

static void test_detach_while_moving(void **state)
{
    (void)state;
    struct sc_pool *pool = pool_fixture_create(xen, SC_MODE_POLL, 2);
    struct tdev d;
    tdev_init(&d);
    struct tq *t = &d.qs[0];
    attach(pool, t);
    assert_int_equal(sc_move_queue(&t->at, core_besides(pool, t->at.core)), 0);
    assert_int_equal(sc_detach_queue(&t->at), 0);
    assert_int_equal(sc_detach_queue(&t->at), -EALREADY);
    reap_until(pool, &t->detached, 1);
    assert_false(sc_attach_busy(&t->at));
    assert_null(t->at.core);
    assert_null(sc_pool_attached(pool));
    sc_pool_reap(pool);
    assert_int_equal(t->detached, 1);
    sc_pool_destroy(pool);

    /* event mode has a core per queue: nothing to move to */
    pool = pool_fixture_create(xen, SC_MODE_EVENT, 1);
    tdev_init(&d);
    attach(pool, &d.qs[0]);
    struct sc_core *c = NULL;
    sc_pool_foreach_core(pool, first_core, &c);
    assert_int_equal(sc_move_queue(&d.qs[0].at, c), -EOPNOTSUPP);
    assert_int_equal(sc_detach_queue(&d.qs[0].at), 0);
    reap_until(pool, &d.qs[0].detached, 1);
    sc_pool_destroy(pool);
}

/* A queue fed by a producer thread: each request is a sequence number,
 * consumed in order and answered when its io_uring NOP completes. */
#define SEQ_SLOTS 16u

struct seq_req {
    struct sc_io io;
    struct seq_q *sq;
    uint64_t seq;
};

struct seq_q {
    struct sc_queue q;
    struct sc_attach at;
    int added, detached;
    _Atomic uint64_t prod;      /* requests produced (the producer thread) */
    _Atomic uint64_t answered;  /* answered in order (core thread writes) */
    uint64_t cons;              /* core thread */
    unsigned inflight;
    struct seq_req slots[SEQ_SLOTS];
    uint64_t total;             /* requests the producer makes */
    int efd;                    /* the producer's doorbell (a watched fd) */
    uint8_t *seen;              /* seen[seq]: times answered (core thread) */
    _Atomic uint64_t bad;
};

static void seq_done(struct sc_io *io, int res)
{
    struct seq_req *r = (struct seq_req *)io;
    struct seq_q *sq = r->sq;
    if (res != 0 || r->seq >= sq->total || sq->seen[r->seq]++)
        atomic_fetch_add_explicit(&sq->bad, 1, memory_order_relaxed); /* failed or answered twice */
    sq->inflight--;
    atomic_fetch_add_explicit(&sq->answered, 1, memory_order_release);
}

static int seq_poll(struct sc_queue *q, const struct sc_sched_grant *g, struct sc_visit *v)
{
    struct seq_q *sq = (struct seq_q *)((char *)q - offsetof(struct seq_q, q));
    uint64_t rung;
    while (read(sq->efd, &rung, sizeof(rung)) > 0)
        ;
    uint64_t prod = atomic_load_explicit(&sq->prod, memory_order_acquire);
    while (sq->cons < prod && sq->inflight < SEQ_SLOTS &&
           sc_sched_grant_admits(g, v->bytes, v->requests, 512)) {
        struct io_uring_sqe *sqe = sc_queue_get_sqe(q);
        if (!sqe)
            break;
        struct seq_req *r = &sq->slots[sq->cons % SEQ_SLOTS];
        r->sq = sq;
        r->seq = sq->cons++;
        r->io.done = seq_done;
        io_uring_prep_nop(sqe);
        sc_io_attach(sqe, &r->io);
        sq->inflight++;
        v->requests++;
        v->bytes += 512;
    }
    v->more = sq->cons < prod;
    return 0;
}

static bool seq_idle(struct sc_queue *q)
{
    struct seq_q *sq = (struct seq_q *)((char *)q - offsetof(struct seq_q, q));
    return sq->inflight == 0;
}

static bool seq_rearm(struct sc_queue *q)
{
    struct seq_q *sq = (struct seq_q *)((char *)q - offsetof(struct seq_q, q));
    return sq->cons != atomic_load_explicit(&sq->prod, memory_order_acquire);
}

static const struct sc_queue_ops seq_ops = {
    .poll = seq_poll,
    .flush = pool_fixture_nop_flush,
    .rearm = seq_rearm,
    .idle = seq_idle,
};

static void seq_added(struct sc_attach *a, int result)
{
    struct seq_q *sq = a->owner;
    assert_int_equal(result, 0);
    sq->added++;
}

static void seq_detached(struct sc_attach *a, int result)
{
    struct seq_q *sq = a->owner;
    (void)result;
    sq->detached++;
}

struct producer {
    struct seq_q *sq;
    uint64_t total;
    atomic_bool stop;
};

static void *produce(void *arg)
{
    struct producer *p = arg;
    for (uint64_t i = 0; i < p->total && !atomic_load(&p->stop); i++) {
        /* at most the slots' worth ahead of the answers: a ring of that size */
        while (atomic_load_explicit(&p->sq->prod, memory_order_relaxed) -
                   atomic_load_explicit(&p->sq->answered, memory_order_acquire) >= 64 &&
               !atomic_load(&p->stop))
            usleep(10);
        atomic_fetch_add_explicit(&p->sq->prod, 1, memory_order_release);
        uint64_t one = 1;
        if (write(p->sq->efd, &one, sizeof(one)) != sizeof(one))
            atomic_fetch_add(&p->sq->bad, 1);
    }
    return NULL;
}

/* Moves under load: every request answered exactly once (seen[] counts
 * each sequence number's answers), none failed, none left behind, and the
 * queue's consumer index ends at what was produced: it moves with the
 * queue, so it neither skips nor repeats across a move. */
static void test_moves_lose_nothing(void **state)
{
    (void)state;
    struct sc_pool *pool = pool_fixture_create(xen, SC_MODE_POLL, 2);
    struct seq_q *sq = calloc(1, sizeof(*sq));
    assert_non_null(sq);
    assert_int_equal(sc_queue_init(&sq->q, &seq_ops, 4, SC_TCLASS_VBD, "seq"), 0);
    sq->total = 200000;
    sq->seen = calloc(sq->total, 1);
    assert_non_null(sq->seen);
    sq->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    assert_true(sq->efd >= 0);
    assert_int_equal(sc_queue_watch_fd(&sq->q, sq->efd), 0);
    sq->at = (struct sc_attach){ .owner = sq, .added = seq_added, .detached = seq_detached };
    assert_int_equal(sc_attach_queue(&sq->at, pool, &sq->q, NULL, 0), 0);
    reap_until(pool, &sq->added, 1);

    struct producer p = { .sq = sq, .total = sq->total };
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, produce, &p), 0);
    unsigned moves = 0;
    for (int i = 0; i < 40; i++) {
        struct sc_core *to = core_besides(pool, sq->at.core);
        assert_int_equal(sc_move_queue(&sq->at, to), 0);
        reap_until_landed(pool, &sq->at, to);
        moves++;
        assert_true(atomic_load(&sq->answered) <= atomic_load(&sq->prod));
        usleep(2000);
    }
    pthread_join(th, NULL);
    uint64_t want = atomic_load(&sq->prod);
    for (int i = 0; i < 5000 && atomic_load(&sq->answered) != want; i++)
        usleep(1000);
    assert_int_equal(atomic_load(&sq->answered), want);
    assert_int_equal(want, p.total);
    assert_int_equal(sq->at.moves, moves);
    assert_int_equal(sc_detach_queue(&sq->at), 0);
    reap_until(pool, &sq->detached, 1);
    /* read after the core let go (the reap's acquire) */
    assert_int_equal(sq->cons, want);
    assert_int_equal(atomic_load(&sq->bad), 0);
    for (uint64_t i = 0; i < sq->total; i++)
        if (sq->seen[i] != 1)
            fail_msg("request %llu answered %u times", (unsigned long long)i, sq->seen[i]);
    sc_pool_destroy(pool);
    close(sq->efd);
    free(sq->seen);
    free(sq);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_group_waits_for_every_member),
        cmocka_unit_test(test_group_with_nothing_on_a_core),
        cmocka_unit_test(test_member_already_detaching),
        cmocka_unit_test(test_bad_calls),
        cmocka_unit_test(test_move_lands_and_detaches),
        cmocka_unit_test(test_detach_while_moving),
        cmocka_unit_test(test_moves_lose_nothing),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
