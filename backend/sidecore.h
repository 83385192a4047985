/*
 * sidecore.h - a sidecore: one (pinned) thread that polls the I/O rings of
 * many guests, with fair share between them, and sleeps when there is none.
 *
 * Contract:
 * - A core owns outright: its thread, its event-channel handle, its io_uring,
 *   its scheduler and, between sc_core_add_queue() and the return of
 *   sc_core_remove_queue(), the queues added to it (queue.h is the contract
 *   with them).  No lock is taken on the data path.
 * - The control thread (or any thread: calls are serialised) drives a core
 *   only through the sc_core_* calls below, which are synchronous: a command
 *   is posted, the core's command eventfd is written, the core runs it at the
 *   start of its next round and acknowledges.  The handoff is a release by
 *   the caller (posting the command under the command mutex, whose unlock is
 *   a release) and an acquire by the core (the per-round check of the posted
 *   sequence number is an acquire load, and the core takes the command under
 *   the same mutex), so everything the caller wrote to a queue before
 *   sc_core_add_queue() is visible to the core's first touch of it; the ack
 *   is the reverse, so once sc_core_remove_queue() returns, the core's last
 *   writes to the queue are visible and it never touches it again.
 * - sc_core_stats() and sc_queue_stats_snapshot() read one-writer counters
 *   and may be called from any thread at any time.
 * - Returns 0 or negative errno; pointer returners NULL + errno.
 *
 * The loop (one round; details and the reasons in sidecore.c):
 *   run a posted command; every SC_CORE_KICK_DRAIN_ROUNDS rounds take the
 *   pending event-channel ports; reap io_uring completions (sc_io done);
 *   visit queues in fair-share order (sc_sched_next / poll / sc_sched_charge),
 *   at most 2 visits per polled queue; submit SQEs once; flush the queues
 *   marked dirty; finish removals whose queue is idle.  After poll_idle_ns
 *   without work (no request consumed, no completion): clear the eventfds,
 *   reap, take pending kicks, rearm every polled queue; if none saw work
 *   racing in, sleep in epoll on the evtchn fd, the io_uring eventfd and the
 *   command eventfd (with a timeout when every tenant is limit-throttled).
 *
 * Event mode (Linux blkback's model, for comparison): one core per queue with
 * cpu = -1 and poll_idle_ns = 0.  No special case: every round without work
 * rearms and sleeps until the next kick or completion.
 */
#ifndef SC_SIDECORE_H
#define SC_SIDECORE_H

#include <stdint.h>

#include "queue.h"
#include "sched.h"
#include "xen.h"

#define SC_CORE_NAME_MAX           16  /* with the NUL; a thread name fits 16 */
#define SC_CORE_URING_DEFAULT      256u
#define SC_CORE_URING_MAX          32768u
#define SC_CORE_POLL_IDLE_DEFAULT  200000ull /* 200 us */
#define SC_CORE_NO_CPU             (-1)
/* While busy, pending kicks are taken every this many rounds (plus always
 * on wake-up and before sleeping); see sidecore.c for why not every round. */
#define SC_CORE_KICK_DRAIN_ROUNDS  64u

struct sc_core_params {
    char name[SC_CORE_NAME_MAX];  /* "sc0": thread name and log context */
    int cpu;                      /* CPU to pin to, or SC_CORE_NO_CPU */
    uint64_t poll_idle_ns;        /* keep polling this long without work; 0 = sleep at once */
    uint32_t uring_entries;       /* SQ size, 1..SC_CORE_URING_MAX (CQ is 4x) */
    struct sc_sched_params sched; /* {0} = scheduler defaults */
    int attention_fd;             /* eventfd written (+1) when a queue fails, or -1 */
};

/* Fills p with the defaults: name "sc0", no pinning, SC_CORE_POLL_IDLE_DEFAULT,
 * SC_CORE_URING_DEFAULT entries, default scheduler, no attention fd. */
void sc_core_params_default(struct sc_core_params *p);

/* Counters of one core; every one only grows. */
struct sc_core_stats {
    uint64_t rounds;
    uint64_t busy_rounds;  /* rounds that consumed a request or reaped a completion */
    uint64_t busy_ns;      /* time in busy rounds */
    uint64_t idle_ns;      /* time in rounds without work (polling for nothing) */
    uint64_t sleep_ns;     /* time blocked in epoll */
    uint64_t sleeps;       /* times it blocked */
    uint64_t wakeups;      /* blocks ended by an fd (the rest ended by timeout) */
    uint64_t kicks;        /* pending ports taken */
    uint64_t stray_kicks;  /* ... of which on no queue's port */
    uint64_t io_submitted;
    uint64_t io_completed;
    uint64_t commands;
    uint64_t queues;       /* queues added now (gauge) */
    uint64_t failed;       /* queues that failed */
};

struct sc_core;

/* Control thread.  Opens the core's event-channel handle (sc_evtchn_open on
 * x, which must outlive the core) and io_uring, creates the scheduler and
 * starts the thread, pinned to p->cpu if set.  NULL + errno: EINVAL (bad
 * params), or the error of the resource that failed. */
struct sc_core *sc_core_create(struct sc_xen *x, const struct sc_core_params *p);
/* Control thread.  Stops the thread and frees everything.  Queues should be
 * removed first; any still added are drained (their I/O reaped) and dropped,
 * with a warning.  NULL is a no-op. */
void sc_core_destroy(struct sc_core *core);

const char *sc_core_name(const struct sc_core *core);
/* The handle on which a queue's event channel is bound (by the control
 * thread, before sc_core_add_queue, and unbound after remove). */
struct sc_evtchn *sc_core_evtchn(struct sc_core *core);

/* Hands q (built with sc_queue_init, port bound on sc_core_evtchn) to the
 * core, which starts polling it at once.  0, -EINVAL (q not initialised,
 * already on a core, failed (sc_queue_init it again), port out of range),
 * -EEXIST (port used by another queue of this core) or -ENOMEM. */
int sc_core_add_queue(struct sc_core *core, struct sc_queue *q);
/* Takes q back: the core stops polling it at once, keeps reaping its
 * completions and flushing it, and acknowledges once q->ops->idle(q) and it
 * no longer touches q.  Then the caller owns q again (unbind its port, free
 * it, or add it to another core).  0, or -ENOENT if q is not on this core. */
int sc_core_remove_queue(struct sc_core *core, struct sc_queue *q);
/* Sets the fair-share settings of guest `domid` (sc_sched_tenant_set). */
int sc_core_set_tenant(struct sc_core *core, domid_t domid,
                       const struct sc_sched_tenant_conf *conf);
/* The scheduler's counters of guest `domid`.  0 or -ENOENT. */
int sc_core_tenant_stats(struct sc_core *core, domid_t domid,
                         struct sc_sched_tenant_stats *out);
/* Any thread: a snapshot of the core's counters. */
void sc_core_stats(const struct sc_core *core, struct sc_core_stats *out);

#endif
