/*
 * inbox.h - a multi-producer, single-consumer message queue with a doorbell:
 * how threads hand work to a sidecore (and a sidecore hands results back)
 * without locks and without waking a consumer that is not asleep.
 *
 * Contract:
 * - Messages are intrusive: embed a `struct sc_inbox_msg` in your own struct
 *   and get back to it with container_of.  The inbox never allocates.  A
 *   pushed message belongs to the inbox's consumer until it takes it; the
 *   producer must not touch it after sc_inbox_push().
 * - Producers: any thread, any number, sc_inbox_push() only.  Lock-free
 *   (a compare-and-swap loop on one word; it fails only when another push
 *   won, so some push always makes progress), never blocks, never
 *   allocates.  The only system call is the doorbell write, made only when
 *   the consumer is asleep (armed).
 * - Consumer: one thread at a time (the owner), every other call.
 *   sc_inbox_take_all() returns every message pushed so far, in push order
 *   (for messages of one producer: the order it pushed them; across
 *   producers: the order their pushes took effect).
 * - The doorbell is an eventfd (non-blocking, close-on-exec) that the
 *   consumer adds to its poll/epoll set.  Sleeping is:
 *       if (sc_inbox_arm(ib))      // cleared, armed, still empty
 *           poll/epoll_wait(..., sc_inbox_fd(ib), ...);
 *       sc_inbox_disarm(ib);
 *       msgs = sc_inbox_take_all(ib);
 *   No lost wake-up: arm stores `armed = 1` and then loads the list head;
 *   push stores the head and then loads `armed` (all four sequentially
 *   consistent).  In the single total order of those operations, either
 *   the consumer's load comes after the push (arm sees the message and
 *   returns false: the consumer does not sleep) or the producer's load
 *   comes after the arm (the producer sees armed, and the one producer that
 *   exchanges it back to 0 writes the eventfd: the consumer's poll returns).
 *   The doorbell is cleared lazily by the next arm, and only if a producer
 *   rang since (at most one write per arm), so a consumer that is never
 *   rung makes no system call to sleep.  A ring that lands after the clear
 *   costs one spurious wake-up, never a lost one.
 * - Layout: the producers' words and the consumer's private state are at
 *   least a cache line apart (padding, not alignment, so an inbox may be
 *   embedded in memory from plain malloc).
 * - Returns: 0 or negative errno; pointer returners NULL when empty.
 */
#ifndef SC_INBOX_H
#define SC_INBOX_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SC_CACHELINE 64

struct sc_inbox_msg {
    _Atomic(struct sc_inbox_msg *) next;
};

struct sc_inbox {
    /* --- shared: producers and the consumer --- */
    _Atomic(struct sc_inbox_msg *) head; /* newest first (a stack); producers CAS */
    atomic_int armed;                    /* the consumer sleeps (or is about to) */
    int efd;                             /* the doorbell; read-only after init */
    _Atomic uint64_t rings;              /* doorbell writes (by producers) */
    char pad_[SC_CACHELINE];
    /* --- the consumer's --- */
    uint64_t owed;                       /* doorbell writes not yet read back */
    bool arm_set;                        /* armed by the consumer, not yet disarmed */
};

/* The message after msg in a list from sc_inbox_take_all(), or NULL.  Read
 * it before handing msg to code that may free or re-push it. */
static inline struct sc_inbox_msg *sc_inbox_next(const struct sc_inbox_msg *msg)
{
    return atomic_load_explicit((_Atomic(struct sc_inbox_msg *) *)&msg->next,
                                memory_order_relaxed);
}

/* Owner thread, before any push.  Empty, disarmed, with its eventfd.  0 or
 * the -errno of eventfd(). */
int sc_inbox_init(struct sc_inbox *ib);
/* Owner thread, when no producer can push any more.  Closes the eventfd;
 * messages still queued are simply forgotten (they are the caller's
 * memory).  Idempotent; an inbox zeroed and never initialised is fine if
 * its efd is set to -1. */
void sc_inbox_destroy(struct sc_inbox *ib);
/* The doorbell: becomes readable when a producer rings (see arm). */
int sc_inbox_fd(const struct sc_inbox *ib);

/* Any thread.  Appends msg (which must not be in any inbox) and rings the
 * doorbell if the consumer is armed. */
void sc_inbox_push(struct sc_inbox *ib, struct sc_inbox_msg *msg);

/* Consumer.  Every message pushed so far, oldest first, linked through
 * `next` (walk with sc_inbox_next); NULL if none.  The inbox is then empty
 * and the messages are the caller's. */
struct sc_inbox_msg *sc_inbox_take_all(struct sc_inbox *ib);

/* Any thread, cheap (one load): whether nothing is queued.  A hint for
 * anyone but the consumer. */
static inline bool sc_inbox_empty(const struct sc_inbox *ib)
{
    return atomic_load_explicit((_Atomic(struct sc_inbox_msg *) *)&ib->head,
                                memory_order_relaxed) == NULL;
}

/* Consumer, before sleeping on the fd: clears the doorbell if it was rung,
 * arms it and re-checks.  True if the inbox is still empty (sleep: the next
 * push rings); false if messages are queued (take them; the inbox is left
 * disarmed). */
bool sc_inbox_arm(struct sc_inbox *ib);
/* Consumer, after sleeping: producers stop ringing, and a ring already made
 * is read back (the doorbell is left unreadable unless a ring is still in
 * flight).  Idempotent; without a preceding arm it touches nothing shared. */
void sc_inbox_disarm(struct sc_inbox *ib);

/* Any thread: doorbell writes so far (a statistic, and for tests). */
static inline uint64_t sc_inbox_rings(const struct sc_inbox *ib)
{
    return atomic_load_explicit((_Atomic uint64_t *)&ib->rings, memory_order_relaxed);
}

#endif
