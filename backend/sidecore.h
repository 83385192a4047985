/*
 * sidecore.h - a sidecore: one (pinned) thread that polls the I/O rings of
 * many guests, with fair share between them, and sleeps when there is none.
 *
 * Contract:
 * - A core owns outright: its thread, its event-channel handle, its io_uring,
 *   its scheduler and, from the post of an ADD command until the completion
 *   of the queue's REMOVE, the queues added to it (queue.h is the contract
 *   with them).  No lock is taken on the data path.
 * - Other threads drive a core only with commands (struct sc_core_cmd)
 *   posted to its inbox (inbox.h) with sc_core_post(): any thread, never
 *   blocks, any number outstanding.  The core runs the commands at the
 *   start of its next round (or as it is about to sleep), in the order each
 *   thread posted them;
 *   a REMOVE completes only once its queue is idle but holds up nothing
 *   else.  A finished command is pushed to its reply inbox, whose owner
 *   calls sc_core_cmd_reap() to run the done callbacks; or, without a reply
 *   inbox, its done callback (if any) runs on the core thread.  Either way
 *   that is the core's last touch of the command.
 * - Ordering: the post is a release (the inbox push) and the core's take an
 *   acquire, so everything the poster wrote to a queue before posting ADD
 *   is visible to the core's first touch of it; the completion is the
 *   reverse (push/take, or the done callback's own synchronisation), so
 *   once a REMOVE's completion is seen, the core's last writes to the queue
 *   are visible and it never touches it again.
 * - The synchronous calls (sc_core_add_queue, sc_core_remove_queue,
 *   sc_core_set_tenant) post and wait on a private completion, holding no
 *   lock meanwhile: concurrent callers never wait on one another, only on
 *   the core.  They are for tests and tools; the daemon's control thread
 *   posts and reaps, and never waits on a core.
 * - sc_core_stats(), sc_core_tenant_stats() and sc_queue_stats_snapshot()
 *   read what the core publishes, from any thread at any time, without
 *   waiting on the core.
 * - Returns 0 or negative errno; pointer returners NULL + errno.
 *
 * The loop (one round; details and the reasons in sidecore_loop.c):
 *   run the posted commands; every SC_CORE_KICK_DRAIN_ROUNDS rounds take the
 *   pending event-channel ports; reap io_uring completions (sc_io done);
 *   ask each parked queue pending() and put those with work back in the
 *   scheduler (their watched fds: at most every SC_CORE_FD_CHECK_NS); visit queues in fair-share order (sc_sched_next / poll /
 *   sc_sched_charge), at most 2 visits per polled queue, parking a queue
 *   (with pending) whose visit found nothing; submit SQEs once; flush the
 *   queues marked dirty; finish removals whose queue is idle; every ~10 ms
 *   publish the tenants' stats.  One clock read per round.  After
 *   poll_idle_ns without work (no request consumed, no completion): arm the
 *   inbox, clear the io_uring eventfd, reap, take pending kicks, rearm every
 *   polled and parked queue; if none saw work racing in, publish the tenant
 *   stats and sleep in epoll on the evtchn fd, the io_uring eventfd, the
 *   inbox's doorbell and the queues' watched fds (with a timeout when every
 *   tenant is limit-throttled).
 *
 * Event mode (the Linux in-kernel backends' model, for comparison): one core per queue with
 * cpu = -1 and poll_idle_ns = 0.  No special case: every round without work
 * rearms and sleeps until the next kick or completion.
 */
#ifndef SC_SIDECORE_H
#define SC_SIDECORE_H

#include <stdint.h>

#include "inbox.h"
#include "queue.h"
#include "sched.h"
#include "xen.h"

#define SC_CORE_NAME_MAX           16  /* with the NUL; a thread name fits 16 */
#define SC_CORE_URING_DEFAULT      256u
#define SC_CORE_URING_MAX          32768u
#define SC_CORE_POLL_IDLE_DEFAULT  200000ull /* 200 us */
#define SC_CORE_NO_CPU             (-1)
#define SC_CORE_NEVER              UINT64_MAX
/* A core with a removal not yet idle sleeps at most this long (queue.h: idle). */
#define SC_CORE_DRAIN_RECHECK_NS   1000000ull
/* While busy, pending kicks are taken every this many rounds (plus always
 * on wake-up and before sleeping); see sidecore_loop.c for why not every round. */
#define SC_CORE_KICK_DRAIN_ROUNDS  64u
/* While busy, the watched fds of parked queues are asked at most this often
 * (an epoll_wait costs more than a short round; sidecore_loop.c). */
#define SC_CORE_FD_CHECK_NS        10000ull
/* An adaptive window that grows from 0 starts here (sidecore_loop.c). */
#define SC_CORE_POLL_WINDOW_START_NS 8000ull

struct sc_core_params {
    char name[SC_CORE_NAME_MAX];  /* "sc0": thread name and log context */
    int cpu;                      /* CPU to pin to, or SC_CORE_NO_CPU */
    uint64_t poll_idle_ns;        /* keep polling this long without work; 0 = sleep at once */
    /* Adapt the polling window to the gaps between arrivals, within
     * [0, poll_idle_ns] (sidecore_loop.c: after a sleep that the next work
     * ended sooner than poll_idle_ns, double it; after a longer one,
     * halve it), instead of always polling poll_idle_ns. */
    bool poll_adaptive;
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
    uint64_t poll_window_ns; /* the polling window now (gauge; poll_idle_ns unless adaptive) */
    uint64_t window_grows, window_shrinks; /* adaptive window changes */
    uint32_t turn_shift;   /* short turns: quanta divided by 2^this (sched.h) */
    int cpu;               /* the CPU (our vCPU) it last ran on (gauge; -1 before it ran) */
    bool steal_backoff;    /* backed off: polling window 0 (sc_core_post_backoff) */
};

struct sc_core;

/* Control thread.  Opens the core's event-channel handle (sc_evtchn_open on
 * x, which must outlive the core) and io_uring, creates the scheduler and
 * starts the thread, pinned to p->cpu if set.  NULL + errno: EINVAL (bad
 * params), or the error of the resource that failed. */
struct sc_core *sc_core_create(struct sc_xen *x, const struct sc_core_params *p);
/* Control thread, with no command of its own outstanding and none posted
 * meanwhile.  Stops the thread and frees everything.  Queues should be
 * removed first; any still added are quiesced and drained (their I/O
 * reaped) and dropped, with a warning; REMOVEs still pending complete as
 * their queue drains.  Waits as long as that takes.  NULL is a no-op. */
void sc_core_destroy(struct sc_core *core);
/* The same, waiting at most timeout_ns (then UINT64_MAX = forever) for the
 * queues still added to drain.  Queues whose I/O has not completed by then
 * are abandoned: the core forgets them without touching them again, their
 * pending REMOVEs complete with -ETIMEDOUT, and the kernel may still
 * complete their I/O into their memory, so their owner must never free or
 * reuse it (a warning is logged per queue).  0, or -ETIMEDOUT if a queue
 * was abandoned.  For a daemon's bounded SIGTERM with a hung backing store. */
int sc_core_destroy_within(struct sc_core *core, uint64_t timeout_ns);

const char *sc_core_name(const struct sc_core *core);
/* The handle on which a queue's event channels are bound (by the control
 * thread, before the ADD is posted, and unbound after the REMOVE completes). */
struct sc_evtchn *sc_core_evtchn(struct sc_core *core);

/* ---- commands ---- */

enum sc_core_cmd_type {
    SC_CORE_CMD_ADD,        /* start polling q */
    SC_CORE_CMD_REMOVE,     /* stop polling q; complete once it is idle */
    SC_CORE_CMD_SET_TENANT, /* sc_sched_tenant_set(tenant, conf) */
    SC_CORE_CMD_CALL,       /* run fn(core, arg) on the core thread */
};

/* A command, owned by its poster until sc_core_post() returns 0, then by
 * the core until it completes (see the contract above).  Fill the inputs;
 * the core writes only `result` and the `msg` link. */
struct sc_core_cmd {
    struct sc_inbox_msg msg;                      /* link: core inbox, then the reply inbox */
    enum sc_core_cmd_type type;
    struct sc_queue *q;                           /* ADD, REMOVE */
    sc_tenant_t tenant;                           /* SET_TENANT (tenant.h) */
    struct sc_sched_tenant_conf conf;             /* SET_TENANT */
    void (*fn)(struct sc_core *core, void *arg);  /* CALL: on the core thread, between rounds */
    void *arg;                                    /* CALL */
    struct sc_inbox *reply;                       /* finished cmd pushed here, or NULL */
    /* Completion callback, or NULL.  With a reply inbox: run by
     * sc_core_cmd_reap() on that inbox's thread.  Without: run on the core
     * thread as it finishes the command (keep it short; it may free cmd).
     * With neither, the poster cannot know when the core is done with cmd:
     * only for commands that live as long as the core. */
    void (*done)(struct sc_core_cmd *cmd);
    void *owner;                                  /* the poster's context, untouched */
    /* REMOVE: how long the queue may drain its in-flight I/O before the
     * core quiesces it (queue.h: cancels what can be cancelled, which
     * answers those requests with errors): 0 at once, SC_CORE_NEVER for a
     * removal that must not fail requests (a daemon stopping under I/O
     * leaves them to its successor). */
    uint64_t quiesce_after_ns;
    /* REMOVE: the queue moves to another core (queue_attach.h): it is let
     * go once movable(q) says so (queue.h), idle(q) if it has no movable. */
    bool move;
    /* Out: ADD: 0, -EINVAL (port out of range or twice in ports, a queue fd
     * epoll refuses), -EEXIST (an fd another queue watches), -ENOMEM,
     * -ESHUTDOWN (the core is stopping).  REMOVE: 0, -ENOENT (q not on this
     * core), -EALREADY (a REMOVE of q is pending), -ETIMEDOUT (abandoned by
     * sc_core_destroy_within).  SET_TENANT: sc_sched_tenant_set's.  CALL: 0.
     * Any: -ESHUTDOWN if the core exited before running it. */
    int result;
};

/* Steal back-off (steal.h): posts cmd (a CALL; the caller fills only
 * reply/done/owner, and owns cmd again at its completion) that makes the
 * core sleep as soon as a round finds no work (a polling window of 0, what
 * event mode does) while `on`, and poll its window again after.  The
 * window's adaptation goes on meanwhile.  0 or sc_core_post's -errno. */
int sc_core_post_backoff(struct sc_core *core, struct sc_core_cmd *cmd, bool on);

/* Any thread, never blocks: hands cmd to the core.  0, or -EINVAL (NULL,
 * unknown type, no q for ADD/REMOVE, no fn for CALL, or an ADD of a queue
 * that is not initialised, already on a core (q->core set) or failed).
 * ADD claims q at once (q->core = core), so adding it twice is refused
 * here, before the core runs anything. */
int sc_core_post(struct sc_core *core, struct sc_core_cmd *cmd);
/* The reply inbox's consumer thread: takes every finished command pushed to
 * reply and calls its done callback (in completion order).  Returns how
 * many were taken. */
unsigned sc_core_cmd_reap(struct sc_inbox *reply);

/* ---- synchronous wrappers (tests and tools; each posts and waits) ----
 * Any thread but the core's own (a CALL's fn would wait on itself); they
 * return the post's -EINVAL or the command's result. */

/* ADD: hands q (built with sc_queue_init, ports bound on sc_core_evtchn) to
 * the core, which starts polling it at once.  0 or the ADD errors above. */
int sc_core_add_queue(struct sc_core *core, struct sc_queue *q);
/* REMOVE: the core stops polling q at once, quiesces it (queue.h), keeps
 * reaping its completions and flushing it, and completes once
 * q->ops->idle(q) and it no longer touches q.  Then the caller owns q again
 * (unbind its ports, free it, or add it to another core).  0 or the REMOVE
 * errors above. */
int sc_core_remove_queue(struct sc_core *core, struct sc_queue *q);
/* SET_TENANT: the fair-share settings of `tenant` (a guest's class: tenant.h). */
int sc_core_set_tenant(struct sc_core *core, sc_tenant_t tenant,
                       const struct sc_sched_tenant_conf *conf);

/* ---- reading ---- */

/* Any thread, never waits on the core: the scheduler's counters of
 * `tenant` as the core last published them (every ~10 ms while it runs,
 * when it goes to sleep, and before completing an ADD or SET_TENANT that
 * made the tenant known).  0, -EINVAL (NULL) or -ENOENT (no queue of that
 * tenant was added and no setting made). */
int sc_core_tenant_stats(struct sc_core *core, sc_tenant_t tenant,
                         struct sc_sched_tenant_stats *out);
/* Any thread: a snapshot of the core's counters. */
void sc_core_stats(const struct sc_core *core, struct sc_core_stats *out);

#endif
