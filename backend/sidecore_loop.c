/*
 * sidecore_loop.c - the poll loop of a sidecore thread (sidecore.h has the
 * outline, sidecore_int.h the struct).
 *
 * Why the loop is shaped this way:
 * - No lost kick.  Sleeping is: arm the inbox's doorbell (a command posted
 *   after the arm rings it; one posted before is seen by the arm's
 *   re-check), clear the io_uring eventfd and then reap (a completion after
 *   the clear leaves it readable); take every pending port and unmask it
 *   (a kick after the unmask makes the evtchn fd readable again); then
 *   rearm every queue, polled or parked (req_event = cons + 1, full
 *   barrier, re-check).  A frontend that produces after the re-check sees
 *   req_event behind its new prod and kicks, which makes the
 *   (level-triggered) evtchn fd readable, so epoll_wait returns at once.  A
 *   frontend that produced before it is seen by the re-check and the core
 *   stays polling.  Watched queue fds are level-triggered too: data that
 *   arrived before the sleep makes epoll_wait return at once.
 * - Kick suppression.  While polling, queues are not rearmed, so req_event
 *   stays behind and frontends send nothing.  Pending ports that still show
 *   up while polling (kicks that raced a rearm) change nothing for
 *   correctness: every polled ring is looked at each round, and every
 *   parked one is checked with pending() each round, which reads the same
 *   producer index.  Taking kicks costs a syscall (sc_evtchn_pending ends
 *   with -EAGAIN), so a busy core takes them only every
 *   SC_CORE_KICK_DRAIN_ROUNDS rounds (to count them and keep the fd quiet),
 *   and always on wake-up and before sleeping.  With rounds of a few
 *   microseconds that bounds the cost to well under 1% and the count lag to
 *   well under a millisecond.
 * - Parking.  A queue that offers pending() and whose visit consumed
 *   nothing, left nothing behind and has nothing pending leaves the
 *   scheduler (sc_sched_queue_remove) for the core's parked list; each
 *   round asks every parked queue pending() only (a few ns, no scheduler
 *   work), and one that has work goes back (sc_sched_queue_add, which
 *   starts it as "has work").  So the scheduler sees only queues with
 *   work, and a core serving many idle guests spends per idle queue one
 *   load of its producer index per round.  The scheduler's probe visits
 *   exist to discover work; pending() discovers it cheaper.  Credit is
 *   not lost: the scheduler drops an idle queue's deficit anyway.  A parked
 *   queue whose data arrives on a watched fd cannot tell from pending();
 *   while any such queue is parked, each round also asks the queues' own
 *   epoll (non-blocking) which fds are readable, and on wake-up the same.
 * - Fair share.  Each round asks the scheduler for at most 2 visits per
 *   polled queue (a weight-3 tenant may get two visits where a weight-1 one
 *   gets one), so a round stays bounded and completions are reaped and
 *   responses pushed between rounds; the share itself is kept by the
 *   scheduler across rounds.  When every tenant is limit-throttled the core
 *   sleeps (rearmed) until the first is eligible again; the token buckets
 *   are deeper than epoll's millisecond, so rounding the timeout up loses no
 *   throughput.
 * - One clock read per round: the start of a round is the end of the one
 *   before (busy or idle by what it did), and a sleep reads the clock on
 *   both sides of epoll_wait only.  So every nanosecond lands in exactly one
 *   of busy_ns, idle_ns (rounds without work, and the last look before a
 *   sleep) and sleep_ns; busy_ns / (busy_ns + idle_ns + sleep_ns) is the
 *   core's load.  A round is busy if it consumed a request or reaped a
 *   completion.  Each queue's own share of the busy time (its visits and
 *   flushes, one more clock read each) is its load: what a move to another
 *   core would take along.  Completions are not timed one by one (a CQE
 *   costs less than the clock read); their time stays the core's.
 * - The polling window (poll_adaptive).  Polling after the last work pays
 *   off when the next work comes before the window ends (no sleep, no
 *   kick, no wake-up); it is waste when it does not.  As KVM's halt-polling
 *   does for an idle vCPU: a sleep that work ended within poll_idle_ns
 *   means a longer window would have caught it, so the window doubles (from
 *   SC_CORE_POLL_WINDOW_START_NS); a longer sleep means the polling was
 *   wasted, so it halves, down to 0, where the core sleeps as soon as a
 *   round finds nothing (event mode's behaviour, with its notifications).
 *   A busy core's gaps are short and keep the window at poll_idle_ns; an
 *   idle one's are long and bring it to 0.  Wakes by the inbox or a timeout
 *   say nothing about the guests and change nothing.
 */
#include "sidecore_int.h"
#include "clock.h"

#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

#define REAP_BATCH 64u
/* Kicks taken per drain at most, so a storm of ports cannot hold the loop. */
#define KICKS_PER_DRAIN 4096u

#define queue_of(sq) ((struct sc_queue *)((char *)(sq) - offsetof(struct sc_queue, sched)))

static void clear_eventfd(int fd)
{
    uint64_t v;
    while (read(fd, &v, sizeof(v)) < 0 && errno == EINTR)
        ;
}

/* Takes pending ports: counts a kick on every queue bound to the port,
 * unmasks it once.  A port whose queues all failed is left masked, so a
 * (hostile) frontend cannot keep waking us; it is unbound when the queue is
 * removed.  Kicks change nothing else: every polled ring is looked at each
 * round, and parked ones are checked with pending() each round. */
static unsigned drain_kicks(struct sc_core *core)
{
    unsigned n = 0;
    while (n < KICKS_PER_DRAIN) {
        int port = sc_evtchn_pending(core->evtchn);
        if (port < 0) {
            if (port != -EAGAIN)
                sc_log_rl(SC_LOG_ERR, core->params.name, "evtchn pending: %s",
                          strerrordesc_np(-port) ? strerrordesc_np(-port) : "?");
            break;
        }
        n++;
        sc_counter_add(&core->stats.kicks, 1);
        struct sc_queue *q = (unsigned)port < core->nports ? core->by_port[port] : NULL;
        if (!q) {
            /* Not (or no longer) a queue's: bound but not yet added, or being
             * unbound.  An added queue is polled at once, so nothing is lost. */
            sc_counter_add(&core->stats.stray_kicks, 1);
        } else {
            bool live = false;
            for (; q; q = q->port_next[q->ports[0] == port ? 0 : 1]) {
                sc_queue_count(q, SC_QSTAT_KICKS, 1);
                if (!atomic_load_explicit(&q->failed, memory_order_relaxed))
                    live = true;
            }
            if (!live)
                continue;
        }
        int ret = sc_evtchn_unmask(core->evtchn, (evtchn_port_t)port);
        if (ret < 0 && ret != -ENOTCONN)
            sc_log_rl(SC_LOG_ERR, core->params.name, "unmask port %d: %s", port,
                      strerrordesc_np(-ret) ? strerrordesc_np(-ret) : "?");
    }
    return n;
}

/* Reaps completions and runs their done callbacks.  The CQ entries are
 * released before the callbacks run, so a callback may take and submit
 * SQEs without finding the CQ full. */
static unsigned reap(struct sc_core *core)
{
    struct io_uring_cqe *cqes[REAP_BATCH];
    struct sc_io *ios[REAP_BATCH];
    int res[REAP_BATCH];
    unsigned total = 0, limit = core->params.uring_entries * 4;
    while (total < limit) {
        unsigned n = io_uring_peek_batch_cqe(&core->ring, cqes, REAP_BATCH);
        if (n == 0)
            break;
        for (unsigned i = 0; i < n; i++) {
            ios[i] = io_uring_cqe_get_data(cqes[i]);
            res[i] = cqes[i]->res;
        }
        io_uring_cq_advance(&core->ring, n);
        core->inflight -= n < core->inflight ? n : core->inflight;
        sc_counter_add(&core->stats.io_completed, n);
        for (unsigned i = 0; i < n; i++)
            if (ios[i])
                ios[i]->done(ios[i], res[i]);
        total += n;
        if (n < REAP_BATCH)
            break;
    }
    return total;
}

int sc_core_submit(struct sc_core *core)
{
    if (io_uring_sq_ready(&core->ring) == 0)
        return 0;
    int ret = io_uring_submit(&core->ring);
    if (ret > 0) {
        core->inflight += (unsigned)ret;
        sc_counter_add(&core->stats.io_submitted, (uint64_t)ret);
    } else if (ret < 0 && ret != -EAGAIN && ret != -EBUSY && ret != -EINTR) {
        sc_log_rl(SC_LOG_ERR, core->params.name, "io_uring submit: %s",
                  strerrordesc_np(-ret) ? strerrordesc_np(-ret) : "?");
    }
    return ret;
}

static void flush_dirty(struct sc_core *core)
{
    uint64_t t = core->dirty ? sc_clock_ns() : 0;
    while (core->dirty) {
        struct sc_queue *q = core->dirty;
        core->dirty = q->dirty_next;
        q->dirty_next = NULL;
        q->dirty = false;
        q->ops->flush(q);
        uint64_t t2 = sc_clock_ns();
        sc_queue_count(q, SC_QSTAT_BUSY_NS, t2 - t);
        t = t2;
    }
}

/* ---- parking ---- */

static void park(struct sc_core *core, struct sc_queue *q)
{
    sc_sched_queue_remove(core->sched, &q->sched);
    q->polled = false;
    core->npolled--;
    q->parked = true;
    q->park_prev = NULL;
    q->park_next = core->parked;
    if (core->parked)
        core->parked->park_prev = q;
    core->parked = q;
    core->nparked++;
    if (q->nfds)
        core->nparked_fds++;
}

static void unpark(struct sc_core *core, struct sc_queue *q)
{
    int ret = sc_sched_queue_add(core->sched, &q->sched, q->tenant);
    if (ret < 0) {
        /* stays parked: the next round tries again */
        sc_log_rl(SC_LOG_ERR, q->name, "cannot reschedule: %s",
                  strerrordesc_np(-ret) ? strerrordesc_np(-ret) : "?");
        return;
    }
    sc_core_park_unlink(core, q);
    q->polled = true;
    core->npolled++;
}

/* Unparks the queues whose watched fds are readable (timeout_ms 0: just
 * look).  Readable fds of polled queues show up too and change nothing. */
static void check_queue_fds(struct sc_core *core)
{
    struct epoll_event ev[32];
    int n = epoll_wait(core->qepfd, ev, 32, 0);
    for (int i = 0; i < n; i++) {
        struct sc_queue *q = (struct sc_queue *)(uintptr_t)ev[i].data.u64;
        if (q->parked)
            unpark(core, q);
    }
}

/* Each round: the parked queues that have work go back to the scheduler.
 * Their fds (a TAP's frames, a timer) are asked at most every
 * SC_CORE_FD_CHECK_NS: the epoll_wait costs a system call, more than a
 * busy core's short round (it was a fifth of a sidecore's time with 32
 * guests sending 64 B frames at a paced rate), and a few microseconds are
 * nothing to a parked queue, which had nothing to do a round ago. */
static void check_parked(struct sc_core *core, uint64_t now)
{
    struct sc_queue *next;
    for (struct sc_queue *q = core->parked; q; q = next) {
        next = q->park_next;
        if (q->ops->pending(q))
            unpark(core, q);
    }
    if (core->nparked_fds && now - core->fds_checked_ns >= SC_CORE_FD_CHECK_NS) {
        core->fds_checked_ns = now;
        check_queue_fds(core);
    }
}

/* ---- the round ---- */

/* Visits queues in fair-share order.  True if a request was consumed. */
static bool poll_queues(struct sc_core *core, uint64_t now)
{
    bool work = false;
    unsigned visits = 2 * core->npolled;
    core->throttled = false;
    uint64_t t = visits ? sc_clock_ns() : 0; /* a visit's start: its load */
    for (unsigned i = 0; i < visits; i++) {
        struct sc_sched_grant g;
        struct sc_sched_queue *sq = sc_sched_next(core->sched, now, &g);
        if (!sq) {
            if (i == 0 && errno == EAGAIN && g.wait_ns != SC_SCHED_WAIT_FOREVER) {
                core->throttled = true;
                core->throttle_wait_ns = g.wait_ns;
            }
            break;
        }
        struct sc_queue *q = queue_of(sq);
        struct sc_visit v = { .now_ns = now };
        int err = q->ops->poll(q, &g, &v);
        uint64_t t2 = sc_clock_ns();
        sc_queue_count(q, SC_QSTAT_BUSY_NS, t2 - t);
        t = t2;
        if (err < 0) {
            sc_core_fail_queue(core, q, err);
            continue;
        }
        if (v.requests) {
            work = true;
            sc_queue_count(q, SC_QSTAT_BUSY_POLLS, 1);
            sc_queue_count(q, SC_QSTAT_REQUESTS, v.requests);
            sc_queue_count(q, SC_QSTAT_BYTES, v.bytes);
        } else {
            sc_queue_count(q, SC_QSTAT_EMPTY_POLLS, 1);
        }
        /* poll may have failed q through sc_queue_fail: the visit is gone */
        if (!q->polled)
            continue;
        if (sc_sched_charge(core->sched, sq, now, v.bytes + v.extra_cost, v.requests,
                            v.more) < 0) {
            sc_log_rl(SC_LOG_ERR, q->name, "visit of %u requests, %llu bytes is not credible",
                      v.requests, (unsigned long long)v.bytes);
            sc_core_fail_queue(core, q, -EPROTO);
            continue;
        }
        /* Nothing consumed, nothing left: out of the scheduler until
         * pending() says otherwise.  A queue with work it cannot take now
         * (its own slots all in flight) says pending and stays. */
        if (!v.requests && !v.more && q->ops->pending && !q->ops->pending(q))
            park(core, q);
    }
    return work;
}

/* One round at `now` (the clock read that ended the previous one).  True
 * if it did work: consumed a request or reaped a completion. */
static bool run_round(struct sc_core *core, uint64_t now, unsigned *since_drain)
{
    bool work = false;
    core->now_ns = now;
    if (!sc_inbox_empty(&core->inbox))
        sc_core_run_commands(core);
    if (++*since_drain >= SC_CORE_KICK_DRAIN_ROUNDS) {
        *since_drain = 0;
        drain_kicks(core);
    }
    if (reap(core))
        work = true;
    if (core->nparked)
        check_parked(core, now);
    if (poll_queues(core, now))
        work = true;
    sc_core_submit(core);
    flush_dirty(core);
    sc_core_finish_removals(core);
    if (now - core->published_ns >= SC_CORE_PUBLISH_NS)
        sc_core_publish_tenants(core, false);
    return work;
}

/* The last look before sleeping.  True if work turned up (stay polling);
 * false: the inbox is armed and every queue rearmed, sleep. */
static bool prepare_sleep(struct sc_core *core)
{
    if (!sc_inbox_arm(&core->inbox)) {
        sc_core_run_commands(core); /* arm left it disarmed */
        return true;
    }
    clear_eventfd(core->uring_efd);
    if (reap(core)) {
        sc_inbox_disarm(&core->inbox);
        sc_core_submit(core);
        flush_dirty(core);
        sc_core_finish_removals(core);
        return true;
    }
    drain_kicks(core);
    bool raced = false;
    for (struct sc_queue *q = core->queues; q; q = q->next)
        if ((q->polled || q->parked) && q->ops->rearm(q))
            raced = true; /* go on: every queue must have req_event set */
    /* Throttled tenants keep work in their rings; that is no reason to spin. */
    if (raced && !core->throttled) {
        sc_inbox_disarm(&core->inbox);
        return true;
    }
    sc_core_publish_tenants(core, true);
    return false;
}

/* After a sleep of slept_ns that work ended (sidecore.h, the reasons above). */
static void adapt_window(struct sc_core *core, uint64_t slept_ns)
{
    uint64_t max = core->params.poll_idle_ns, w = core->poll_window_ns;
    if (slept_ns < max && w < max) {
        w = w ? w * 2 : SC_CORE_POLL_WINDOW_START_NS;
        core->poll_window_ns = w < max ? w : max;
        sc_counter_add(&core->stats.window_grows, 1);
    } else if (slept_ns >= max && w) {
        w /= 2;
        core->poll_window_ns = w >= SC_CORE_POLL_WINDOW_START_NS ? w : 0;
        sc_counter_add(&core->stats.window_shrinks, 1);
    } else {
        return;
    }
    atomic_store_explicit(&core->stats.poll_window_ns, core->poll_window_ns,
                          memory_order_relaxed);
}

/* Sleeps in epoll from `idle_start` (the end of the last round).  Returns
 * the clock after the wake: the next round's start. */
static uint64_t block(struct sc_core *core, uint64_t idle_start)
{
    int timeout = -1;
    if (core->throttled) {
        uint64_t ms = core->throttle_wait_ns / 1000000u + 1;
        timeout = ms > INT_MAX ? INT_MAX : (int)ms;
    }
    if (core->nremoving && core->quiesce_due_ns != SC_CORE_NEVER) {
        /* wake to quiesce a removal that drains too long */
        uint64_t left = core->quiesce_due_ns > idle_start ? core->quiesce_due_ns - idle_start : 0;
        uint64_t ms = left / 1000000u + 1;
        if (timeout < 0 || ms < (uint64_t)timeout)
            timeout = ms > INT_MAX ? INT_MAX : (int)ms;
    }
    if (core->nremoving && core->drain_recheck) {
        /* a draining queue's idle() may be waiting on other cores' answers,
         * which ring no doorbell of ours: look again soon */
        int ms = (int)(SC_CORE_DRAIN_RECHECK_NS / 1000000u);
        if (timeout < 0 || ms < timeout)
            timeout = ms;
    }
    struct epoll_event ev[EV__MAX];
    uint64_t t0 = sc_clock_ns();
    int n = epoll_wait(core->epfd, ev, EV__MAX, timeout);
    uint64_t t1 = sc_clock_ns();
    sc_counter_add(&core->stats.idle_ns, t0 - idle_start);
    sc_counter_add(&core->stats.sleep_ns, t1 - t0);
    sc_counter_add(&core->stats.sleeps, 1);
    sc_inbox_disarm(&core->inbox);
    if (n < 0 && errno != EINTR)
        sc_log_rl(SC_LOG_ERR, core->params.name, "epoll_wait: %s", strerrordesc_np(errno));
    if (n <= 0)
        return t1;
    sc_counter_add(&core->stats.wakeups, 1);
    /* Kicks now, so the rounds after the wake see them counted; the eventfds
     * are cleared before the next sleep.  Readable queue fds bring their
     * parked queues back. */
    bool guest_work = false;
    for (int i = 0; i < n; i++) {
        if (ev[i].data.u64 == EV_EVTCHN)
            drain_kicks(core);
        else if (ev[i].data.u64 == EV_QUEUES && core->nparked_fds)
            check_queue_fds(core);
        if (ev[i].data.u64 != EV_INBOX)
            guest_work = true;
    }
    if (core->params.poll_adaptive && guest_work)
        adapt_window(core, t1 - t0);
    return t1;
}

void *sc_core_main(void *arg)
{
    struct sc_core *core = arg;
    pthread_setname_np(pthread_self(), core->params.name);
    uint64_t now = sc_clock_ns(), last_work = now;
    unsigned since_drain = 0;
    core->poll_window_ns = core->params.poll_idle_ns;
    atomic_store_explicit(&core->stats.poll_window_ns, core->poll_window_ns,
                          memory_order_relaxed);

    while (!core->exit) {
        bool work = run_round(core, now, &since_drain);
        uint64_t end = sc_clock_ns(); /* this round's end is the next one's start */
        sc_counter_add(&core->stats.rounds, 1);
        if (work) {
            sc_counter_add(&core->stats.busy_rounds, 1);
            sc_counter_add(&core->stats.busy_ns, end - now);
            last_work = now = end;
            continue;
        }
        sc_counter_add(&core->stats.idle_ns, end - now);
        now = end;
        if (core->exit)
            break;
        if (!core->throttled && !core->steal_backoff && end - last_work < core->poll_window_ns)
            continue;
        /* the last look's time goes to the next round (or to idle if it sleeps) */
        if (prepare_sleep(core)) {
            last_work = end;
            continue;
        }
        now = block(core, end);
        since_drain = 0;
        /* poll a while after a wake before sleeping again */
        last_work = now;
    }
    sc_core_shutdown_inbox(core);
    sc_completion_signal(&core->exited);
    return NULL;
}
