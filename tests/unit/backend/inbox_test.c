/*
 * inbox_test.c - the MPSC inbox: push order, counts, the doorbell rung only
 * for an armed consumer, and no lost wake-up with several producers racing
 * a consumer that sleeps in poll() on the eventfd (run under TSan too).
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
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

#include "inbox.h"

struct item {
    struct sc_inbox_msg msg;
    unsigned producer;
    unsigned seq;
};

#define item_of(m) ((struct item *)((char *)(m) - offsetof(struct item, msg)))

static bool fd_readable(int fd)
{
    struct pollfd p = { .fd = fd, .events = POLLIN };
    return poll(&p, 1, 0) == 1;
}

static void single_thread_order_and_doorbell(void **state)
{
    (void)state;
    struct sc_inbox ib;
    assert_int_equal(sc_inbox_init(&ib), 0);
    assert_true(sc_inbox_fd(&ib) >= 0);
    assert_true(sc_inbox_empty(&ib));
    assert_null(sc_inbox_take_all(&ib));

    struct item it[10];
    for (unsigned i = 0; i < 10; i++) {
        it[i].seq = i;
        sc_inbox_push(&ib, &it[i].msg);
        assert_false(sc_inbox_empty(&ib));
    }
    /* never armed: never rung */
    assert_int_equal(sc_inbox_rings(&ib), 0);
    assert_false(fd_readable(sc_inbox_fd(&ib)));
    unsigned n = 0;
    for (struct sc_inbox_msg *m = sc_inbox_take_all(&ib); m; m = sc_inbox_next(m))
        assert_int_equal(item_of(m)->seq, n++);
    assert_int_equal(n, 10);
    assert_true(sc_inbox_empty(&ib));

    /* arming a non-empty inbox refuses (and leaves it disarmed) */
    sc_inbox_push(&ib, &it[0].msg);
    assert_false(sc_inbox_arm(&ib));
    sc_inbox_push(&ib, &it[1].msg);
    assert_int_equal(sc_inbox_rings(&ib), 0);
    assert_non_null(sc_inbox_take_all(&ib));

    /* armed: the first push rings, once */
    assert_true(sc_inbox_arm(&ib));
    sc_inbox_push(&ib, &it[2].msg);
    sc_inbox_push(&ib, &it[3].msg);
    assert_int_equal(sc_inbox_rings(&ib), 1);
    assert_true(fd_readable(sc_inbox_fd(&ib)));
    sc_inbox_disarm(&ib);
    sc_inbox_disarm(&ib); /* idempotent */
    struct sc_inbox_msg *m = sc_inbox_take_all(&ib);
    assert_int_equal(item_of(m)->seq, 2);
    assert_int_equal(item_of(sc_inbox_next(m))->seq, 3);
    assert_null(sc_inbox_next(sc_inbox_next(m)));
    /* the disarm read the ring back: a consumer awake sees no doorbell */
    assert_false(fd_readable(sc_inbox_fd(&ib)));
    assert_true(sc_inbox_arm(&ib));
    assert_false(fd_readable(sc_inbox_fd(&ib)));
    sc_inbox_disarm(&ib);
    /* disarmed: no ring */
    sc_inbox_push(&ib, &it[4].msg);
    assert_int_equal(sc_inbox_rings(&ib), 1);
    assert_false(fd_readable(sc_inbox_fd(&ib)));
    sc_inbox_destroy(&ib);
    sc_inbox_destroy(&ib);
}

/* ---- several producers, a sleeping consumer ---- */

enum { PRODUCERS = 4, PER_PRODUCER = 50000 };

struct race {
    struct sc_inbox ib;
    struct item *items[PRODUCERS];
    atomic_bool go;
};

struct producer_arg {
    struct race *r;
    unsigned id;
};

static void *producer(void *arg)
{
    struct producer_arg *pa = arg;
    struct race *r = pa->r;
    unsigned seed = pa->id * 7919u + 1;
    while (!atomic_load(&r->go))
        sched_yield();
    for (unsigned i = 0; i < PER_PRODUCER; i++) {
        struct item *it = &r->items[pa->id][i];
        it->producer = pa->id;
        it->seq = i;
        sc_inbox_push(&r->ib, &it->msg);
        /* bursts and pauses, so the consumer sleeps and is rung often */
        seed = seed * 1103515245u + 12345u;
        unsigned x = (seed >> 16) % 64;
        if (x == 0)
            usleep(50);
        else if (x < 8)
            sched_yield();
    }
    return NULL;
}

static void producers_race_a_sleeping_consumer(void **state)
{
    (void)state;
    struct race *r = calloc(1, sizeof(*r));
    assert_non_null(r);
    assert_int_equal(sc_inbox_init(&r->ib), 0);
    pthread_t th[PRODUCERS];
    struct producer_arg pa[PRODUCERS];
    for (unsigned p = 0; p < PRODUCERS; p++) {
        r->items[p] = calloc(PER_PRODUCER, sizeof(struct item));
        assert_non_null(r->items[p]);
        pa[p] = (struct producer_arg){ .r = r, .id = p };
        assert_int_equal(pthread_create(&th[p], NULL, producer, &pa[p]), 0);
    }
    atomic_store(&r->go, true);

    unsigned next[PRODUCERS] = { 0 };
    unsigned total = 0, arms = 0, sleeps = 0, batches = 0;
    while (total < PRODUCERS * PER_PRODUCER) {
        arms++;
        if (sc_inbox_arm(&r->ib)) {
            sleeps++;
            struct pollfd p = { .fd = sc_inbox_fd(&r->ib), .events = POLLIN };
            /* A lost wake-up leaves messages queued and the fd quiet: the
             * bound turns that into a failure instead of a hang. */
            int n = poll(&p, 1, 20000);
            if (n != 1)
                fail_msg("asleep with %u of %u taken: lost wake-up (poll %d)", total,
                         PRODUCERS * PER_PRODUCER, n);
        }
        sc_inbox_disarm(&r->ib);
        struct sc_inbox_msg *m = sc_inbox_take_all(&r->ib);
        if (m)
            batches++;
        for (; m; m = sc_inbox_next(m)) {
            struct item *it = item_of(m);
            assert_true(it->producer < PRODUCERS);
            if (it->seq != next[it->producer])
                fail_msg("producer %u: got %u, expected %u", it->producer, it->seq,
                         next[it->producer]);
            next[it->producer]++;
            total++;
        }
    }
    for (unsigned p = 0; p < PRODUCERS; p++) {
        assert_int_equal(pthread_join(th[p], NULL), 0);
        assert_int_equal(next[p], PER_PRODUCER);
    }
    assert_true(sc_inbox_empty(&r->ib));
    assert_null(sc_inbox_take_all(&r->ib));
    /* At most one ring per arm: producers never ring a disarmed consumer. */
    uint64_t rings = sc_inbox_rings(&r->ib);
    fprintf(stderr, "# %u arms, %u sleeps, %llu rings, %u batches\n", arms, sleeps,
            (unsigned long long)rings, batches);
    assert_true(rings <= arms);
    assert_true(sleeps > 0);
    for (unsigned p = 0; p < PRODUCERS; p++)
        free(r->items[p]);
    sc_inbox_destroy(&r->ib);
    free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(single_thread_order_and_doorbell),
        cmocka_unit_test(producers_race_a_sleeping_consumer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
