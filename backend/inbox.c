/*
 * inbox.c - the MPSC inbox with a doorbell (contract and the no-lost-wake-up
 * argument in inbox.h).
 *
 * Why a stack taken whole rather than Vyukov's queue: a Vyukov push is one
 * exchange, but between its exchange and its link store the list is cut,
 * so the consumer must spin or give up on a message that is already
 * "pushed".  Here a push is complete the moment its CAS succeeds, so
 * take_all is one exchange and never waits; the price is a CAS retry under
 * contention and a reversal by the consumer (which walks the batch anyway).
 * The CAS order is the push order, so reversing the stack gives it back.
 * Only whole-stack takes exist, so the CAS has no ABA problem: a head the
 * producer read can be taken and pushed again in between, and the CAS then
 * still links the new message to the head that is there.
 */
#include "inbox.h"

#include <errno.h>
#include <stddef.h>
#include <sys/eventfd.h>
#include <unistd.h>

int sc_inbox_init(struct sc_inbox *ib)
{
    atomic_init(&ib->head, NULL);
    atomic_init(&ib->armed, 0);
    atomic_init(&ib->rings, 0);
    ib->owed = 0;
    ib->arm_set = false;
    ib->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    return ib->efd < 0 ? -errno : 0;
}

void sc_inbox_destroy(struct sc_inbox *ib)
{
    if (ib->efd >= 0)
        close(ib->efd);
    ib->efd = -1;
}

int sc_inbox_fd(const struct sc_inbox *ib)
{
    return ib->efd;
}

static void ring(struct sc_inbox *ib)
{
    uint64_t one = 1;
    /* Cannot fail but by overflow (2^64 - 1 unread rings) or EINTR. */
    while (write(ib->efd, &one, sizeof(one)) < 0 && errno == EINTR)
        ;
    atomic_fetch_add_explicit(&ib->rings, 1, memory_order_relaxed);
}

void sc_inbox_push(struct sc_inbox *ib, struct sc_inbox_msg *msg)
{
    struct sc_inbox_msg *old = atomic_load_explicit(&ib->head, memory_order_relaxed);
    do {
        atomic_store_explicit(&msg->next, old, memory_order_relaxed);
        /* seq_cst: the release publishes msg to take_all's acquire, and the
         * store must precede the load of `armed` below in the total order
         * (inbox.h). */
    } while (!atomic_compare_exchange_weak_explicit(&ib->head, &old, msg, memory_order_seq_cst,
                                                    memory_order_relaxed));
    /* One load when the consumer is awake; when armed, exactly one producer
     * wins the exchange and rings. */
    if (atomic_load_explicit(&ib->armed, memory_order_seq_cst) &&
        atomic_exchange_explicit(&ib->armed, 0, memory_order_acq_rel))
        ring(ib);
}

struct sc_inbox_msg *sc_inbox_take_all(struct sc_inbox *ib)
{
    if (sc_inbox_empty(ib))
        return NULL;
    struct sc_inbox_msg *m = atomic_exchange_explicit(&ib->head, NULL, memory_order_acquire);
    struct sc_inbox_msg *fifo = NULL;
    while (m) {
        struct sc_inbox_msg *next = atomic_load_explicit(&m->next, memory_order_relaxed);
        atomic_store_explicit(&m->next, fifo, memory_order_relaxed);
        fifo = m;
        m = next;
    }
    return fifo;
}

/* Reads back the rings owed.  EAGAIN: an owed write has not landed yet; it
 * wakes the next sleep once (spuriously) and is read back after it. */
static void read_owed(struct sc_inbox *ib)
{
    uint64_t v;
    ssize_t n;
    while ((n = read(ib->efd, &v, sizeof(v))) < 0 && errno == EINTR)
        ;
    if (n == (ssize_t)sizeof(v))
        ib->owed = v >= ib->owed ? 0 : ib->owed - v;
}

void sc_inbox_disarm(struct sc_inbox *ib)
{
    if (!ib->arm_set)
        return; /* not armed since the last disarm: nothing to undo, no atomic */
    ib->arm_set = false;
    /* 0 here means a producer took the arm: it rings (or has rung).  Read
     * the ring back now, not at the next arm: a doorbell left readable
     * would be reported by every level-triggered epoll_wait of a consumer
     * that looks at its fds while awake. */
    if (atomic_exchange_explicit(&ib->armed, 0, memory_order_acq_rel) == 0) {
        ib->owed++;
        read_owed(ib);
    }
}

bool sc_inbox_arm(struct sc_inbox *ib)
{
    if (ib->owed)
        read_owed(ib);
    /* A disarmed inbox's `armed` is 0; a stale 1 cannot be left here, since
     * only arm sets it and every arm is paired with a disarm. */
    ib->arm_set = true;
    atomic_store_explicit(&ib->armed, 1, memory_order_seq_cst);
    if (atomic_load_explicit(&ib->head, memory_order_seq_cst) == NULL)
        return true;
    sc_inbox_disarm(ib);
    return false;
}
