/*
 * sidecore_int.h - the sidecore's private struct, shared by sidecore.c (life
 * cycle, membership, queue helpers), sidecore_cmd.c (commands, published
 * tenant stats) and sidecore_loop.c (the poll loop).  Nothing outside those
 * files includes it.
 *
 * Ownership, field by field: "ctl" = written by the control thread before
 * the thread starts (or after it stopped) and read-only meanwhile; "core" =
 * the core thread only; the inbox is the commands' way in (sidecore.h);
 * "stat" = one-writer counters of the core thread, read by anyone.  The
 * groups written by different threads start on separate cache lines.
 */
#ifndef SC_SIDECORE_INT_H
#define SC_SIDECORE_INT_H

#include <pthread.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "inbox.h"
#include "sidecore.h"

/* epoll tags of the core's fds (a watched queue fd carries its queue's
 * address instead, which is never this small) */
enum { EV_EVTCHN = 1, EV_URING, EV_INBOX, EV_QUEUES, EV__MAX };

/* The core publishes its tenants' scheduler stats this often (round
 * clock), and whenever it goes to sleep. */
#define SC_CORE_PUBLISH_NS 10000000ull

struct sc_core_counters {
    sc_counter rounds, busy_rounds, busy_ns, idle_ns, sleep_ns, sleeps, wakeups;
    sc_counter kicks, stray_kicks, io_submitted, io_completed, commands, queues, failed;
    sc_counter window_grows, window_shrinks;
    _Atomic uint64_t poll_window_ns; /* gauge, written by the core */
    _Atomic uint32_t turn_shift;     /* gauge: sc_sched_turn_shift, when it publishes */
    _Atomic int32_t cpu;             /* gauge: the CPU it ran on, when it publishes */
    _Atomic uint32_t steal_backoff;  /* gauge: 1 while backed off (sc_core_post_backoff) */
};

/* One tenant's published scheduler stats. */
struct sc_tenant_pub {
    sc_tenant_t tenant;
    struct sc_sched_tenant_stats st;
};

/* A one-shot event with a deadline (the sync calls, the thread's exit). */
struct sc_completion {
    pthread_mutex_t lock;
    pthread_cond_t cond; /* CLOCK_MONOTONIC */
    bool done;
};

struct sc_core {
    /* ctl */
    struct sc_core_params params;
    struct sc_xen *xen;
    struct sc_evtchn *evtchn; /* bind/unbind: ctl; pending/unmask: core */
    int evtchn_fd;
    int uring_efd;            /* io_uring completion eventfd */
    int epfd;
    int qepfd;                /* the queues' watched fds; nested in epfd */
    pthread_t thread;
    bool started;
    struct sc_core_cmd stop_cmd, abandon_cmd; /* destroy's own commands */
    struct sc_completion exited;              /* the thread left its loop */

    /* any thread pushes; the core takes (padded inside) */
    struct sc_inbox inbox;

    /* core */
    alignas(SC_CACHELINE) struct io_uring ring;
    struct sc_sched *sched;
    struct sc_queue *queues;      /* list of every queue added (polled, failed, removing) */
    struct sc_queue *parked;      /* queues out of the scheduler until pending() */
    unsigned npolled;             /* queues in the scheduler */
    unsigned nparked;
    unsigned nparked_fds;         /* ... of which watch fds */
    uint64_t fds_checked_ns;      /* round clock of the last look at parked queues' fds */
    unsigned nremoving;           /* queues draining */
    struct sc_queue *dirty;       /* flush list of this round */
    struct sc_queue **by_port;    /* port -> queue */
    unsigned nports;              /* size of by_port */
    uint64_t now_ns;              /* start of this round */
    uint64_t inflight;            /* SQEs submitted, CQEs not yet reaped */
    uint64_t throttle_wait_ns;    /* every tenant throttled: time until one is not */
    uint64_t quiesce_due_ns;      /* earliest quiesce of a removal, or SC_CORE_NEVER */
    bool drain_recheck;           /* a removal is not idle yet: sleep at most SC_CORE_DRAIN_RECHECK_NS */
    uint64_t published_ns;        /* round clock of the last tenant publication */
    uint64_t poll_window_ns;      /* poll this long without work before sleeping */
    bool throttled;
    bool steal_backoff;           /* sleep as soon as a round finds nothing (steal.h) */
    bool stopping;                /* draining every queue to exit */
    bool abandoned;               /* destroy gave up on queues (read after join) */
    bool exit;

    /* published tenant stats: written by the core under pub_lock, read
     * under it by anyone; the core reads them without it */
    alignas(SC_CACHELINE) pthread_mutex_t pub_lock;
    struct sc_tenant_pub *pub;
    unsigned npub, pub_cap;

    /* stat: one-writer counters of the core thread, read by anyone */
    alignas(SC_CACHELINE) struct sc_core_counters stats;
};

/* Takes q off the parked list (it is on it). */
static inline void sc_core_park_unlink(struct sc_core *core, struct sc_queue *q)
{
    if (q->park_prev)
        q->park_prev->park_next = q->park_next;
    else
        core->parked = q->park_next;
    if (q->park_next)
        q->park_next->park_prev = q->park_prev;
    q->park_next = q->park_prev = NULL;
    q->parked = false;
    core->nparked--;
    if (q->nfds)
        core->nparked_fds--;
}

/* sidecore_loop.c */
void *sc_core_main(void *arg);
int sc_core_submit(struct sc_core *core);

/* sidecore.c: membership (core thread) */
/* Starts polling q (ADD).  0 or the ADD's -errno. */
int sc_core_add_now(struct sc_core *core, struct sc_queue *q);
/* q stops being polled and is quiesced; finish_removals unlinks it once idle. */
void sc_core_begin_remove(struct sc_core *core, struct sc_queue *q, uint64_t quiesce_after_ns);
void sc_core_finish_removals(struct sc_core *core);
void sc_core_fail_queue(struct sc_core *core, struct sc_queue *q, int err);

/* sidecore_cmd.c (core thread) */
void sc_core_run_commands(struct sc_core *core);
/* The thread is leaving: queued commands complete with -ESHUTDOWN. */
void sc_core_shutdown_inbox(struct sc_core *core);
/* The core's last touch of cmd: result set, pushed to its reply or done run. */
void sc_core_cmd_complete(struct sc_core_cmd *cmd, int result);
/* tenant is in the scheduler now: publish it. */
void sc_core_note_tenant(struct sc_core *core, sc_tenant_t tenant);
/* wait=false: skip if a reader holds the lock. */
void sc_core_publish_tenants(struct sc_core *core, bool wait);

void sc_completion_init(struct sc_completion *c);
void sc_completion_destroy(struct sc_completion *c);
void sc_completion_signal(struct sc_completion *c);
/* True if signalled before deadline_ns (CLOCK_MONOTONIC; UINT64_MAX = none). */
bool sc_completion_wait(struct sc_completion *c, uint64_t deadline_ns);

#endif
