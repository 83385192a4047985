/*
 * queue.h - the contract between a sidecore and the device queues it polls.
 *
 * A device queue (one ring of a disk, the tx/rx pair of a network
 * interface) embeds a `struct sc_queue` in its own queue struct, fills it
 * with sc_queue_init() and the fields marked
 * "control" (ports, watched fds, device counters), binds its event channels
 * on the owning core's handle (sc_core_evtchn) and hands it over with an ADD
 * command (sc_core_post, or sc_core_add_queue).  From the post until the
 * REMOVE completes, only that sidecore thread touches the queue: it calls
 * the ops, and the ops (and the sc_io done callbacks) call the helpers
 * below.  Nothing on this path takes a lock.
 *
 * The round, as the ops see it (sidecore_loop.c has the whole loop):
 *   done(io, res)... for completions reaped   -> write responses, mark_dirty
 *   pending(q) for each parked queue          -> back to the scheduler if true
 *   poll(q, grant, visit)                     -> consume, submit, answer sync;
 *                                                read watched fds (non-blocking)
 *   (the core submits all SQEs once)
 *   flush(q) for each dirty queue             -> push responses, notify once
 * before the core sleeps, rearm(q) for every queue it polls or has parked;
 * when a REMOVE starts and the queue drains too long, quiesce(q) once;
 * done/flush until idle(q).
 *
 * Threads: ops, done callbacks and every sc_queue_* helper below run on the
 * owning sidecore thread only, except those marked "control thread" (before
 * the ADD is posted) or "any thread".
 * Returns: 0 or negative errno; pointer returners NULL (see each).
 */
#ifndef SC_QUEUE_H
#define SC_QUEUE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <liburing.h>
#include <xen/xen.h>

#include "inbox.h"
#include "sched.h"
#include "stats.h"
#include "tenant.h"

struct sc_core;
struct sc_core_cmd;
struct sc_queue;

#define SC_QUEUE_NAME_MAX  48
#define SC_QUEUE_NO_PORT   (-1)
#define SC_QUEUE_MAX_PORTS 2   /* e.g. a netif queue's split tx/rx channels */
#define SC_QUEUE_DEVICE_COUNTERS_MAX 64
#define SC_QUEUE_MAX_FDS   4   /* fds a queue may watch (sc_queue_watch_fd) */

/* What one visit did (poll fills the outputs). */
struct sc_visit {
    uint64_t now_ns;   /* in: the round's CLOCK_MONOTONIC time (for latency stamps) */
    uint64_t bytes;    /* out: payload bytes of the requests consumed */
    uint32_t requests; /* out: ring requests consumed */
    uint64_t extra_cost; /* out: work beyond the payload (e.g. grant maps), in
                          * payload bytes' worth: charged to the guest's share,
                          * not counted as its bytes */
    bool more;         /* out: the ring still holds requests (budget or SQEs ran out) */
};

/* One I/O in flight through the core's io_uring, embedded in the device's
 * request struct.  Put it in the SQE with sc_io_attach(); the core calls
 * done(io, cqe->res) on the core thread when the CQE is reaped. */
struct sc_io {
    void (*done)(struct sc_io *io, int res);
};

struct sc_queue_ops {
    /* Consume requests while sc_sched_grant_admits(g, v->bytes, v->requests,
     * <next request's bytes>) allows (a probe grant still admits one),
     * submit their I/O, answer what finished synchronously (and mark_dirty).
     * Fill v.  0, or -errno when the queue is broken (hostile or buggy
     * frontend: ring overflow, garbage): the core stops polling it, marks it
     * failed, counts an error and raises its attention fd; the device is
     * expected to log why (rate-limited, with q->name). */
    int (*poll)(struct sc_queue *q, const struct sc_sched_grant *g, struct sc_visit *v);
    /* Publish the responses produced since the last flush and notify the
     * frontend at most once, via sc_queue_notify(q) when
     * RING_PUSH_RESPONSES_AND_CHECK_NOTIFY says so.  Called once per round
     * for each queue marked dirty in it. */
    void (*flush)(struct sc_queue *q);
    /* The core is about to sleep (called for every queue it polls or has
     * parked): RING_FINAL_CHECK_FOR_REQUESTS (req_event = cons + 1, full
     * barrier, re-check).  True if requests raced in (the core then keeps
     * polling).  While the core polls, req_event stays
     * behind, so the frontend sends no kicks at all.  A queue that cannot
     * consume now for lack of its own resources (every request slot in
     * flight) returns false: its completion wakes the core, which polls. */
    bool (*rearm)(struct sc_queue *q);
    /* True when none of this queue's I/O is in flight (no done() pending).
     * While the queue is removing, the core asks after every round and at
     * least every SC_CORE_DRAIN_RECHECK_NS (sidecore.h) even when nothing
     * else wakes it, so idle may also finish work that arrives without a
     * wake-up of its own (answers from other cores' queues through an
     * inbox it no longer watches); when that work produces responses it
     * marks the queue dirty and says false (the next round flushes). */
    bool (*idle)(struct sc_queue *q);

    /* --- optional (NULL = not offered) --- */

    /* A REMOVE began and the queue is still not idle after the REMOVE's
     * quiesce_after_ns (sidecore.h): polling has stopped for good.  Cancel
     * what can be cancelled of the queue's in-flight I/O (e.g.
     * io_uring_prep_cancel64 on each SQE's user_data, with a NULL-data SQE
     * for the cancel itself), so that removal is bounded even when the
     * backing store hangs.  Called once, on the core thread; the cancelled
     * I/O still completes through done() (typically with -ECANCELED), and
     * the core keeps reaping and flushing the queue until idle(q). */
    void (*quiesce)(struct sc_queue *q);
    /* Cheap and side-effect-free (a few ns: no syscall, no lock, no write):
     * whether the queue has something a visit would do: requests in its
     * ring (the shared producer index differs from its private consumer
     * index) or deferred work of its own (requests fetched or prepared but
     * not yet submitted).  Offering it lets the core park the queue out of
     * the scheduler while it has nothing, checking only this each round
     * (sidecore_loop.c); it is asked only while the queue is parked (never
     * failed nor removing).  It must never say false while a visit would
     * consume or submit something: that work would wait for the next kick
     * or completion.  Work that completions bring is not its business
     * (done() marks the queue dirty, and flush runs regardless). */
    bool (*pending)(struct sc_queue *q);
    /* A REMOVE for a move to another core (sidecore.h: sc_core_cmd.move)
     * waits for this instead of idle: true once nothing of the queue is
     * bound to this core (no I/O in its io_uring), though it may still
     * have work that moves along with it (requests fetched but not
     * submitted, frames queued for its guest, transfers out at other
     * queues that come back through its inbox).  Unlike idle, it must not
     * drop or fail anything: the queue goes on serving on its new core.
     * NULL: idle decides (the queue moves drained). */
    bool (*movable)(struct sc_queue *q);
};

struct sc_queue {
    /* --- control: set before the ADD is posted, read-only afterwards --- */
    const struct sc_queue_ops *ops;
    char name[SC_QUEUE_NAME_MAX]; /* "<type> <domid>/<devid> q<n>": log and stats context */
    domid_t domid;                /* the guest: grants and event channels */
    sc_tenant_t tenant;           /* its share in the scheduler: domid and class (tenant.h) */
    /* Local ports bound on sc_core_evtchn(core), or SC_QUEUE_NO_PORT (a
     * queue without one is still polled; its kicks just go unnoticed).
     * `port` is ports[0].  Several queues may share a port (one event
     * channel for a device's rings): a kick on it counts on each of them. */
    union {
        int port;
        int ports[SC_QUEUE_MAX_PORTS];
    };
    int fds[SC_QUEUE_MAX_FDS];    /* watched fds (sc_queue_watch_fd) */
    unsigned nfds;
    /* the device's own counters (sc_queue_set_device_counters) */
    const char *const *dev_counter_names;
    sc_counter *dev_counters;
    unsigned ndev_counters;
    /* bytes of the daemon's memory budget the device reserved for this
     * queue (membudget.h), for the views; 0 if none */
    uint64_t mem_reserved;
    /* the control thread's placement notes, for the views (balancer.h):
     * the share of a core its visits took in the last measured interval,
     * in millionths, and why it is on the core it is on */
    uint32_t load_ppm;
    char placed[96];

    /* --- the owning core's, private (the device never touches them) --- */
    struct sc_core *core;         /* set by the ADD's post, cleared by the core
                                     as its last write (REMOVE done, ADD refused) */
    struct sc_sched_queue sched;
    struct sc_queue *next, *prev; /* the core's list of queues */
    struct sc_queue *port_next[SC_QUEUE_MAX_PORTS]; /* chain of queues on ports[i] */
    struct sc_queue *park_next, *park_prev; /* the core's parked list */
    struct sc_queue *dirty_next;  /* the core's flush list for this round */
    struct sc_core_cmd *remove_cmd; /* the REMOVE waiting for it to go idle */
    uint64_t quiesce_at_ns;       /* removing: when to quiesce it if not idle yet */
    bool quiesced;                /* quiesce ran for this removal */
    bool dirty;
    bool removing;                /* being drained: no more polls */
    bool moving;                  /* ... to move: movable() ends it, not idle() */
    bool polled;                  /* in the scheduler (not failed, not removing) */
    bool parked;                  /* out of the scheduler until pending() */
    bool fds_watched;             /* its fds are on the core's epoll */

    /* At least a cache line between the core's private fields and the ones
     * other threads read, so readers never pull the core's hot line away.
     * Padding rather than alignas: a device allocates its queue struct with
     * plain malloc, which does not honour an over-alignment. */
    char pad_[SC_CACHELINE];

    /* --- cross-thread --- */
    atomic_bool failed;           /* written by the core, read by anyone */
    atomic_int error;             /* the -errno that failed it */
    struct sc_queue_stats stats;  /* written by the core, read by anyone */
};

/* A visitor over a device's queues and the core serving each (NULL if the
 * queue is not on a core); a non-zero return stops the walk. */
typedef int sc_queue_visit_fn(struct sc_queue *q, struct sc_core *core, void *arg);

/* Control thread: zeroes q, sets ops, domid, the tenant (domid in class
 * tc: the guest's disks and its network interfaces share apart), every port
 * SC_QUEUE_NO_PORT and the printf-formatted name (truncated to fit).  0 or
 * -EINVAL (NULL ops, an op missing, or tc not a class). */
int sc_queue_init(struct sc_queue *q, const struct sc_queue_ops *ops, domid_t domid,
                  enum sc_tclass tc, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* Control thread, before the queue is added: the core watches fd (a TAP
 * device, a socket, a pipe: anything epoll takes) for readability while the
 * queue is added.  It is put on the core's epoll by the ADD and taken off
 * when the queue fails or its REMOVE starts; the queue keeps owning fd (it
 * closes it after the remove).  Readability only wakes a sleeping core,
 * which then polls its queues: the queue reads fd itself, non-blocking, in
 * poll (until EAGAIN or its grant is spent; leftover data keeps the fd
 * readable, level-triggered, so nothing is forgotten).
 * Why epoll readiness and not io_uring reads: a packet device would need an
 * SQE and a CQE per packet, and a read always outstanding, re-armed after
 * each; one non-blocking read per visit moves the same data with no ring
 * traffic, and batches what arrived meanwhile.  The registration costs
 * nothing while the core polls: epoll is only consulted when it sleeps.
 * 0, -EINVAL (fd < 0), -EEXIST (q watches it already), -ENOSPC (more than
 * SC_QUEUE_MAX_FDS) or -EBUSY (q is on a core).  The ADD fails with -EEXIST
 * if another queue of that core watches fd, -EINVAL if epoll refuses it. */
int sc_queue_watch_fd(struct sc_queue *q, int fd);

/* An SQE of the core's io_uring for this queue's I/O.  When the SQ is full
 * the core submits what is queued and tries again; NULL (errno EBUSY) if it
 * is still full: stop consuming and report v->more, the next round retries.
 * Set the SQE up completely (sc_io_attach included) before returning to the
 * core: it is submitted at the end of the round, or on the next get. */
struct io_uring_sqe *sc_queue_get_sqe(struct sc_queue *q);
struct io_uring_sqe *sc_core_get_sqe(struct sc_core *core);

static inline void sc_io_attach(struct io_uring_sqe *sqe, struct sc_io *io)
{
    io_uring_sqe_set_data(sqe, io);
}

/* Responses were produced (done callback or poll): flush q once at the end
 * of this round.  Idempotent within a round. */
void sc_queue_mark_dirty(struct sc_queue *q);

/* Kicks the frontend through q->ports[i] and counts it (SC_QSTAT_NOTIFIES).
 * For flush.  0, -EINVAL (i >= SC_QUEUE_MAX_PORTS), -ENOTCONN (no port
 * there), or the -errno of sc_evtchn_notify. */
int sc_queue_notify_port(struct sc_queue *q, unsigned i);
/* sc_queue_notify_port(q, 0). */
int sc_queue_notify(struct sc_queue *q);

/* Fails q from a done callback or flush (poll returns its -errno instead):
 * no more polls, failed set, attention raised.  err < 0; idempotent. */
void sc_queue_fail(struct sc_queue *q, int err);

/* Any thread: whether q failed, and the -errno it failed with (0 if not). */
static inline bool sc_queue_failed(const struct sc_queue *q)
{
    return atomic_load_explicit((atomic_bool *)&q->failed, memory_order_acquire);
}

static inline int sc_queue_error(const struct sc_queue *q)
{
    return atomic_load_explicit((atomic_int *)&q->error, memory_order_acquire);
}

/* The core's clock at the start of this round (CLOCK_MONOTONIC ns): cheap
 * timestamps for latency, without a clock read per request. */
uint64_t sc_queue_now_ns(const struct sc_queue *q);

/* Counting from the device (core thread).  The core itself counts requests,
 * bytes, busy and empty polls (from the visits) and kicks; sc_queue_notify
 * counts notifications; the device counts ERRORS (requests answered with an
 * error) and records latency. */
static inline void sc_queue_count(struct sc_queue *q, enum sc_queue_counter c, uint64_t n)
{
    sc_counter_add(&q->stats.counter[c], n);
}

static inline void sc_queue_record_latency(struct sc_queue *q, uint64_t ns)
{
    sc_hist_add(&q->stats.latency, ns);
}

/* Device-defined counters, beside the generic ones: n counters named
 * names[0..n) ("tx_csum_fixups": stable names, for sidecorectl and
 * Prometheus), the values in counters[0..n).  Both arrays are the device's
 * and must outlive the queue; the core never writes the values: the
 * device's core-thread code does, with sc_counter_add (one writer).
 * Control thread, before the queue is added (n = 0 drops them).  0,
 * -EINVAL (NULL arrays or name with n > 0, n > SC_QUEUE_DEVICE_COUNTERS_MAX)
 * or -EBUSY (q is on a core). */
int sc_queue_set_device_counters(struct sc_queue *q, const char *const *names, unsigned n,
                                 sc_counter *counters);
/* Any thread that saw q after the set (the add's handoff is enough), while
 * q's memory is valid: the names (if `names`), and the values of the first
 * min(n, max) counters in out.  Returns n, the number the queue has. */
unsigned sc_queue_device_counters(const struct sc_queue *q, const char *const **names,
                                  uint64_t *out, unsigned max);

/* Any thread, at any time while q's memory is valid. */
static inline void sc_queue_stats_snapshot(const struct sc_queue *q,
                                           struct sc_queue_stats_snap *out)
{
    sc_queue_stats_read(&q->stats, out);
}

#endif
