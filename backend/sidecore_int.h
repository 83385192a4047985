/*
 * sidecore_int.h - the sidecore's private struct, shared by sidecore.c (life
 * cycle, commands, queue helpers) and sidecore_loop.c (the poll loop).
 * Nothing outside those two files includes it.
 *
 * Ownership, field by field: "ctl" = written by the control thread before
 * the thread starts (or after it stopped) and read-only meanwhile; "core" =
 * the core thread only; "cmd" = under cmd_lock (see sidecore.h's handoff);
 * "stat" = one-writer counters of the core thread, read by anyone.
 */
#ifndef SC_SIDECORE_INT_H
#define SC_SIDECORE_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "sidecore.h"

/* epoll tags of the core's fds */
enum { EV_EVTCHN = 1, EV_URING, EV_CMD };

enum sc_cmd_type {
    SC_CMD_NONE,
    SC_CMD_ADD,          /* start polling cmd.q */
    SC_CMD_REMOVE,       /* stop polling cmd.q, ack once it is idle */
    SC_CMD_SET_TENANT,   /* sc_sched_tenant_set */
    SC_CMD_TENANT_STATS, /* sc_sched_tenant_stats */
    SC_CMD_STOP,         /* drain every queue, then end the thread */
};

struct sc_cmd {
    enum sc_cmd_type type;
    struct sc_queue *q;
    domid_t domid;
    struct sc_sched_tenant_conf conf;
    struct sc_sched_tenant_stats tstats; /* out */
    int result;                          /* out */
};

struct sc_core_counters {
    sc_counter rounds, busy_rounds, busy_ns, idle_ns, sleep_ns, sleeps, wakeups;
    sc_counter kicks, stray_kicks, io_submitted, io_completed, commands, queues, failed;
};

struct sc_core {
    /* ctl */
    struct sc_core_params params;
    struct sc_xen *xen;
    struct sc_evtchn *evtchn; /* bind/unbind: ctl; pending/unmask: core */
    int evtchn_fd;
    int cmd_efd;              /* written by callers, read by the core */
    int uring_efd;            /* io_uring completion eventfd */
    int epfd;
    pthread_t thread;
    bool started;

    /* core */
    struct io_uring ring;
    struct sc_sched *sched;
    struct sc_queue *queues;      /* list of every queue added (polled, failed, removing) */
    unsigned npolled;             /* queues in the scheduler */
    unsigned nremoving;           /* queues draining */
    struct sc_queue *dirty;       /* flush list of this round */
    struct sc_queue **by_port;    /* port -> queue */
    unsigned nports;              /* size of by_port */
    uint64_t now_ns;              /* start of this round */
    uint64_t inflight;            /* SQEs submitted, CQEs not yet reaped */
    uint64_t throttle_wait_ns;    /* every tenant throttled: time until one is not */
    bool throttled;
    bool stopping;
    bool exit;
    struct sc_queue *remove_pending; /* the queue whose REMOVE awaits idle */
    bool stop_pending;               /* a STOP awaits the last queue */
    uint64_t cmd_seq_taken;

    /* cmd */
    pthread_mutex_t call_lock;    /* one caller at a time */
    pthread_mutex_t cmd_lock;
    pthread_cond_t cmd_cond;
    struct sc_cmd cmd;
    _Atomic uint64_t cmd_posted;  /* release by the caller, acquire by the core */
    uint64_t cmd_done;            /* under cmd_lock */

    /* stat */
    struct sc_core_counters stats;
};

/* sidecore_loop.c */
void *sc_core_main(void *arg);
/* sidecore.c, for the loop */
bool sc_core_run_command(struct sc_core *core);
void sc_core_ack(struct sc_core *core, int result);
void sc_core_finish_removals(struct sc_core *core);
void sc_core_fail_queue(struct sc_core *core, struct sc_queue *q, int err);
int sc_core_submit(struct sc_core *core);

#endif
