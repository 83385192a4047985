/*
 * sidecore.c - a sidecore's life cycle, queue membership (add, fail,
 * removal) and the helpers queues call (queue.h).  Commands and the
 * published tenant stats are in sidecore_cmd.c, the poll loop in
 * sidecore_loop.c; the contract in sidecore.h.
 *
 * Stopping is a CALL like any other (it marks every queue removing); the
 * thread leaves its loop when the last queue is gone, or at once when
 * destroy gives up waiting (abandon).
 */
#include "sidecore_int.h"
#include "clock.h"

#include <errno.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

/* Event-channel ports above this are refused (the FIFO ABI's maximum), so
 * the port -> queue table stays bounded. */
#define SC_CORE_PORT_LIMIT (1u << 17)

void sc_core_params_default(struct sc_core_params *p)
{
    memset(p, 0, sizeof(*p));
    snprintf(p->name, sizeof(p->name), "sc0");
    p->cpu = SC_CORE_NO_CPU;
    p->poll_idle_ns = SC_CORE_POLL_IDLE_DEFAULT;
    p->uring_entries = SC_CORE_URING_DEFAULT;
    p->attention_fd = -1;
}

/* ---- queue helpers (queue.h) ---- */

int sc_queue_init(struct sc_queue *q, const struct sc_queue_ops *ops, domid_t domid,
                  enum sc_tclass tc, const char *fmt, ...)
{
    if (!q || !ops || !ops->poll || !ops->flush || !ops->rearm || !ops->idle ||
        (unsigned)tc >= SC_TCLASS__COUNT || domid >= DOMID_FIRST_RESERVED)
        return -EINVAL;
    memset(q, 0, sizeof(*q));
    q->ops = ops;
    q->domid = domid;
    q->tenant = sc_tenant_key(domid, tc);
    for (unsigned i = 0; i < SC_QUEUE_MAX_PORTS; i++)
        q->ports[i] = SC_QUEUE_NO_PORT;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(q->name, sizeof(q->name), fmt, ap);
    va_end(ap);
    return 0;
}

struct io_uring_sqe *sc_core_get_sqe(struct sc_core *core)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(&core->ring);
    if (sqe)
        return sqe;
    /* Full: push what is queued to the kernel and try once more.  Reaping
     * here would run done callbacks inside a device's poll, so a still-full
     * SQ (the kernel refused, e.g. CQ overflow) is left to the next round. */
    sc_core_submit(core);
    sqe = io_uring_get_sqe(&core->ring);
    if (!sqe)
        errno = EBUSY;
    return sqe;
}

struct io_uring_sqe *sc_queue_get_sqe(struct sc_queue *q)
{
    return sc_core_get_sqe(q->core);
}

void sc_queue_mark_dirty(struct sc_queue *q)
{
    if (q->dirty)
        return;
    q->dirty = true;
    q->dirty_next = q->core->dirty;
    q->core->dirty = q;
}

int sc_queue_notify_port(struct sc_queue *q, unsigned i)
{
    if (i >= SC_QUEUE_MAX_PORTS)
        return -EINVAL;
    if (q->ports[i] < 0)
        return -ENOTCONN;
    int ret = sc_evtchn_notify(q->core->evtchn, (evtchn_port_t)q->ports[i]);
    if (ret == 0)
        sc_queue_count(q, SC_QSTAT_NOTIFIES, 1);
    return ret;
}

int sc_queue_notify(struct sc_queue *q)
{
    return sc_queue_notify_port(q, 0);
}

void sc_queue_fail(struct sc_queue *q, int err)
{
    sc_core_fail_queue(q->core, q, err < 0 ? err : -EIO);
}

int sc_queue_watch_fd(struct sc_queue *q, int fd)
{
    if (!q || fd < 0)
        return -EINVAL;
    if (q->core)
        return -EBUSY;
    for (unsigned i = 0; i < q->nfds; i++)
        if (q->fds[i] == fd)
            return -EEXIST;
    if (q->nfds == SC_QUEUE_MAX_FDS)
        return -ENOSPC;
    q->fds[q->nfds++] = fd;
    return 0;
}

int sc_queue_set_device_counters(struct sc_queue *q, const char *const *names, unsigned n,
                                 sc_counter *counters)
{
    if (!q || n > SC_QUEUE_DEVICE_COUNTERS_MAX || (n && (!names || !counters)))
        return -EINVAL;
    for (unsigned i = 0; i < n; i++)
        if (!names[i])
            return -EINVAL;
    if (q->core)
        return -EBUSY;
    q->dev_counter_names = n ? names : NULL;
    q->dev_counters = n ? counters : NULL;
    q->ndev_counters = n;
    return 0;
}

unsigned sc_queue_device_counters(const struct sc_queue *q, const char *const **names,
                                  uint64_t *out, unsigned max)
{
    if (names)
        *names = q->dev_counter_names;
    for (unsigned i = 0; i < q->ndev_counters && i < max; i++)
        out[i] = sc_counter_read(&q->dev_counters[i]);
    return q->ndev_counters;
}

uint64_t sc_queue_now_ns(const struct sc_queue *q)
{
    return q->core->now_ns;
}

/* ---- core thread: queue membership ---- */

/* Takes q's fds off the core's epoll (failed or removing: a readable fd
 * must not keep waking the core for a queue it no longer polls). */
static void unwatch_fds(struct sc_core *core, struct sc_queue *q)
{
    if (!q->fds_watched)
        return;
    q->fds_watched = false;
    for (unsigned i = 0; i < q->nfds; i++)
        if (epoll_ctl(core->qepfd, EPOLL_CTL_DEL, q->fds[i], NULL) < 0 && errno != EBADF &&
            errno != ENOENT)
            sc_log_rl(SC_LOG_ERR, q->name, "unwatching fd %d: %s", q->fds[i],
                      strerrordesc_np(errno));
}

/* q leaves the scheduler or the parked list for good (failed, removing). */
static void stop_polling(struct sc_core *core, struct sc_queue *q)
{
    if (q->polled) {
        sc_sched_queue_remove(core->sched, &q->sched);
        q->polled = false;
        core->npolled--;
    } else if (q->parked) {
        sc_core_park_unlink(core, q);
    }
}

static int watch_fds(struct sc_core *core, struct sc_queue *q)
{
    for (unsigned i = 0; i < q->nfds; i++) {
        struct epoll_event ev = { .events = EPOLLIN, .data.u64 = (uint64_t)(uintptr_t)q };
        if (epoll_ctl(core->qepfd, EPOLL_CTL_ADD, q->fds[i], &ev) < 0) {
            int err = errno == EEXIST ? -EEXIST : errno == ENOMEM || errno == ENOSPC ? -ENOMEM
                                                                                      : -EINVAL;
            while (i-- > 0)
                epoll_ctl(core->qepfd, EPOLL_CTL_DEL, q->fds[i], NULL);
            return err;
        }
    }
    q->fds_watched = q->nfds > 0;
    return 0;
}

void sc_core_fail_queue(struct sc_core *core, struct sc_queue *q, int err)
{
    if (atomic_load_explicit(&q->failed, memory_order_relaxed))
        return;
    unwatch_fds(core, q);
    stop_polling(core, q);
    atomic_store_explicit(&q->error, err, memory_order_relaxed);
    atomic_store_explicit(&q->failed, true, memory_order_release);
    sc_queue_count(q, SC_QSTAT_ERRORS, 1);
    sc_counter_add(&core->stats.failed, 1);
    sc_log_rl(SC_LOG_WARN, q->name, "queue failed (%s), no longer polled",
              strerrordesc_np(-err) ? strerrordesc_np(-err) : "?");
    if (core->params.attention_fd >= 0) {
        uint64_t one = 1;
        if (write(core->params.attention_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
            sc_log_rl(SC_LOG_ERR, core->params.name, "attention fd: %s",
                      strerrordesc_np(errno));
    }
}

static int grow_ports(struct sc_core *core, unsigned port)
{
    if (port < core->nports)
        return 0;
    unsigned n = core->nports ? core->nports : 64;
    while (n <= port)
        n *= 2;
    struct sc_queue **t = realloc(core->by_port, n * sizeof(*t));
    if (!t)
        return -ENOMEM;
    memset(t + core->nports, 0, (n - core->nports) * sizeof(*t));
    core->by_port = t;
    core->nports = n;
    return 0;
}

/* The link that follows q in the chain of queues on `port` (q is on it). */
static struct sc_queue **port_link(struct sc_queue *q, int port)
{
    return &q->port_next[q->ports[0] == port ? 0 : 1];
}

static int check_ports(struct sc_core *core, const struct sc_queue *q)
{
    for (unsigned i = 0; i < SC_QUEUE_MAX_PORTS; i++) {
        int p = q->ports[i];
        if (p == SC_QUEUE_NO_PORT)
            continue;
        if (p <= 0 || (unsigned)p >= SC_CORE_PORT_LIMIT)
            return -EINVAL;
        for (unsigned j = 0; j < i; j++)
            if (q->ports[j] == p)
                return -EINVAL;
        int ret = grow_ports(core, (unsigned)p);
        if (ret < 0)
            return ret;
    }
    return 0;
}

static void link_ports(struct sc_core *core, struct sc_queue *q)
{
    for (unsigned i = 0; i < SC_QUEUE_MAX_PORTS; i++) {
        int p = q->ports[i];
        q->port_next[i] = NULL;
        if (p == SC_QUEUE_NO_PORT)
            continue;
        q->port_next[i] = core->by_port[p];
        core->by_port[p] = q;
    }
}

static void unlink_ports(struct sc_core *core, struct sc_queue *q)
{
    for (unsigned i = 0; i < SC_QUEUE_MAX_PORTS; i++) {
        int p = q->ports[i];
        if (p == SC_QUEUE_NO_PORT)
            continue;
        for (struct sc_queue **pp = &core->by_port[p]; *pp; pp = port_link(*pp, p)) {
            if (*pp == q) {
                *pp = q->port_next[i];
                break;
            }
        }
        q->port_next[i] = NULL;
    }
}

int sc_core_add_now(struct sc_core *core, struct sc_queue *q)
{
    if (core->stopping)
        return -ESHUTDOWN;
    int ret = check_ports(core, q);
    if (ret < 0)
        return ret;
    ret = watch_fds(core, q);
    if (ret < 0)
        return ret;
    ret = sc_sched_queue_add(core->sched, &q->sched, q->tenant);
    if (ret < 0) {
        unwatch_fds(core, q);
        return ret;
    }
    link_ports(core, q);
    q->polled = true;
    q->parked = false;
    q->park_next = q->park_prev = NULL;
    q->removing = false;
    q->dirty = false;
    q->dirty_next = NULL;
    q->remove_cmd = NULL;
    q->prev = NULL;
    q->next = core->queues;
    if (core->queues)
        core->queues->prev = q;
    core->queues = q;
    core->npolled++;
    sc_counter_add(&core->stats.queues, 1);
    sc_core_note_tenant(core, q->tenant);
    sc_core_publish_tenants(core, true);
    sc_log(SC_LOG_DEBUG, q->name, "polled by %s", core->params.name);
    return 0;
}

static void quiesce(struct sc_core *core, struct sc_queue *q)
{
    q->quiesced = true;
    if (q->ops->quiesce) {
        q->ops->quiesce(q);
        sc_core_submit(core); /* its cancels, now: the core may sleep next */
    }
}

void sc_core_begin_remove(struct sc_core *core, struct sc_queue *q, uint64_t quiesce_after_ns)
{
    if (q->removing)
        return;
    q->removing = true;
    q->quiesced = false;
    core->nremoving++;
    unwatch_fds(core, q);
    stop_polling(core, q);
    /* Requests in flight usually complete within the grace: drained, not
     * failed.  Only a queue still busy after it is quiesced. */
    q->quiesce_at_ns = quiesce_after_ns > SC_CORE_NEVER - core->now_ns
                           ? SC_CORE_NEVER
                           : core->now_ns + quiesce_after_ns;
    if (quiesce_after_ns == 0)
        quiesce(core, q);
}

static void unlink_queue(struct sc_core *core, struct sc_queue *q)
{
    if (q->prev)
        q->prev->next = q->next;
    else
        core->queues = q->next;
    if (q->next)
        q->next->prev = q->prev;
    q->next = q->prev = NULL;
    unlink_ports(core, q);
    q->removing = false;
    q->moving = false;
    core->nremoving--;
    atomic_store_explicit(&core->stats.queues,
                          sc_counter_read(&core->stats.queues) - 1, memory_order_relaxed);
}

/* Called after the round's flush, so a draining queue is never left dirty. */
void sc_core_finish_removals(struct sc_core *core)
{
    struct sc_queue *next;
    core->quiesce_due_ns = SC_CORE_NEVER;
    core->drain_recheck = false;
    for (struct sc_queue *q = core->queues; q && core->nremoving; q = next) {
        next = q->next;
        if (!q->removing)
            continue;
        bool done = q->moving && q->ops->movable ? q->ops->movable(q) : q->ops->idle(q);
        if (q->dirty || !done) {
            core->drain_recheck = true;
            if (!q->quiesced && q->quiesce_at_ns <= core->now_ns)
                quiesce(core, q);
            else if (!q->quiesced && q->quiesce_at_ns < core->quiesce_due_ns)
                core->quiesce_due_ns = q->quiesce_at_ns;
            continue;
        }
        struct sc_core_cmd *cmd = q->remove_cmd;
        q->remove_cmd = NULL;
        unlink_queue(core, q);
        /* Last write of the core to q; the completion publishes it. */
        q->core = NULL;
        if (cmd)
            sc_core_cmd_complete(cmd, 0);
    }
    if (core->stopping && !core->queues)
        core->exit = true;
}

/* CALL: stop taking queues, drain those there; exit when none is left. */
static void begin_stop(struct sc_core *core, void *arg)
{
    (void)arg;
    if (core->queues)
        sc_log(SC_LOG_WARN, core->params.name,
               "stopping with queues still added; draining them");
    core->stopping = true;
    /* a stop drains and never fails a request: what does not complete is
     * abandoned by sc_core_destroy_within, unanswered, for a successor */
    for (struct sc_queue *q = core->queues; q; q = q->next)
        sc_core_begin_remove(core, q, SC_CORE_NEVER);
    if (!core->queues)
        core->exit = true;
}

/* CALL: destroy stopped waiting; forget the queues that did not drain. */
static void abandon(struct sc_core *core, void *arg)
{
    (void)arg;
    struct sc_queue *next;
    for (struct sc_queue *q = core->queues; q; q = next) {
        next = q->next;
        sc_log(SC_LOG_WARN, q->name,
               "abandoned by %s with I/O still in flight; its memory must stay", core->params.name);
        struct sc_core_cmd *cmd = q->remove_cmd;
        if (cmd)
            sc_core_cmd_complete(cmd, -ETIMEDOUT); /* q itself is left as it is */
    }
    if (core->queues)
        core->abandoned = true;
    core->queues = NULL;
    core->nremoving = 0;
    core->npolled = 0;
    core->parked = NULL;
    core->nparked = core->nparked_fds = 0;
    core->dirty = NULL;
    core->exit = true;
}

void sc_core_stats(const struct sc_core *core, struct sc_core_stats *out)
{
    const struct sc_core_counters *c = &core->stats;
    out->rounds = sc_counter_read(&c->rounds);
    out->busy_rounds = sc_counter_read(&c->busy_rounds);
    out->busy_ns = sc_counter_read(&c->busy_ns);
    out->idle_ns = sc_counter_read(&c->idle_ns);
    out->sleep_ns = sc_counter_read(&c->sleep_ns);
    out->sleeps = sc_counter_read(&c->sleeps);
    out->wakeups = sc_counter_read(&c->wakeups);
    out->kicks = sc_counter_read(&c->kicks);
    out->stray_kicks = sc_counter_read(&c->stray_kicks);
    out->io_submitted = sc_counter_read(&c->io_submitted);
    out->io_completed = sc_counter_read(&c->io_completed);
    out->commands = sc_counter_read(&c->commands);
    out->queues = sc_counter_read(&c->queues);
    out->failed = sc_counter_read(&c->failed);
    out->poll_window_ns = atomic_load_explicit(&c->poll_window_ns, memory_order_relaxed);
    out->window_grows = sc_counter_read(&c->window_grows);
    out->window_shrinks = sc_counter_read(&c->window_shrinks);
    out->turn_shift = atomic_load_explicit(&c->turn_shift, memory_order_relaxed);
    out->cpu = atomic_load_explicit(&c->cpu, memory_order_relaxed);
    out->steal_backoff = atomic_load_explicit(&c->steal_backoff, memory_order_relaxed);
}

const char *sc_core_name(const struct sc_core *core)
{
    return core->params.name;
}

struct sc_evtchn *sc_core_evtchn(struct sc_core *core)
{
    return core->evtchn;
}

/* ---- life cycle ---- */

static int epoll_add(int epfd, int fd, uint64_t tag)
{
    struct epoll_event ev = { .events = EPOLLIN, .data.u64 = tag };
    return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) ? -errno : 0;
}

static void release(struct sc_core *core)
{
    if (core->epfd >= 0)
        close(core->epfd);
    if (core->qepfd >= 0)
        close(core->qepfd);
    if (core->ring.ring_fd > 0)
        io_uring_queue_exit(&core->ring);
    if (core->uring_efd >= 0)
        close(core->uring_efd);
    sc_inbox_destroy(&core->inbox);
    if (core->evtchn)
        sc_evtchn_close(core->evtchn);
    sc_sched_destroy(core->sched);
    sc_completion_destroy(&core->exited);
    pthread_mutex_destroy(&core->pub_lock);
    free(core->pub);
    free(core->by_port);
    free(core);
}

static int start_thread(struct sc_core *core)
{
    pthread_attr_t attr;
    int ret = pthread_attr_init(&attr);
    if (ret)
        return -ret;
    if (core->params.cpu != SC_CORE_NO_CPU) {
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(core->params.cpu, &set);
        ret = pthread_attr_setaffinity_np(&attr, sizeof(set), &set);
    }
    if (!ret)
        ret = pthread_create(&core->thread, &attr, sc_core_main, core);
    pthread_attr_destroy(&attr);
    return -ret;
}

static int open_uring(struct sc_core *core)
{
    struct io_uring_params up = {
        .flags = IORING_SETUP_CQSIZE,
        .cq_entries = core->params.uring_entries * 4,
    };
    int ret = io_uring_queue_init_params(core->params.uring_entries, &core->ring, &up);
    if (ret < 0) {
        core->ring.ring_fd = -1;
        return ret;
    }
    core->uring_efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (core->uring_efd < 0)
        return -errno;
    return io_uring_register_eventfd(&core->ring, core->uring_efd);
}

struct sc_core *sc_core_create(struct sc_xen *x, const struct sc_core_params *p)
{
    if (!x || !p || p->uring_entries == 0 || p->uring_entries > SC_CORE_URING_MAX ||
        (p->cpu != SC_CORE_NO_CPU && (p->cpu < 0 || p->cpu >= CPU_SETSIZE))) {
        errno = EINVAL;
        return NULL;
    }
    /* aligned: the struct keeps its threads' fields on separate cache lines */
    size_t size = (sizeof(struct sc_core) + SC_CACHELINE - 1) / SC_CACHELINE * SC_CACHELINE;
    struct sc_core *core = aligned_alloc(SC_CACHELINE, size);
    if (!core)
        return NULL;
    memset(core, 0, size);
    core->params = *p;
    atomic_store_explicit(&core->stats.cpu, -1, memory_order_relaxed); /* until it runs */
    core->params.name[SC_CORE_NAME_MAX - 1] = '\0';
    if (!core->params.name[0])
        snprintf(core->params.name, sizeof(core->params.name), "sc0");
    core->xen = x;
    core->epfd = core->qepfd = core->uring_efd = core->inbox.efd = -1;
    core->ring.ring_fd = -1;
    pthread_mutex_init(&core->pub_lock, NULL);
    sc_completion_init(&core->exited);

    int ret;
    const char *what = "scheduler";
    core->sched = sc_sched_create(&p->sched);
    if (!core->sched) {
        ret = -errno;
        goto fail;
    }
    what = "event channel";
    core->evtchn = sc_evtchn_open(x);
    if (!core->evtchn) {
        ret = -errno;
        goto fail;
    }
    core->evtchn_fd = sc_evtchn_fd(core->evtchn);
    what = "io_uring";
    ret = open_uring(core);
    if (ret < 0)
        goto fail;
    what = "inbox";
    ret = sc_inbox_init(&core->inbox);
    if (ret < 0)
        goto fail;
    what = "epoll";
    core->epfd = epoll_create1(EPOLL_CLOEXEC);
    core->qepfd = epoll_create1(EPOLL_CLOEXEC);
    if (core->epfd < 0 || core->qepfd < 0) {
        ret = -errno;
        goto fail;
    }
    if ((ret = epoll_add(core->epfd, core->evtchn_fd, EV_EVTCHN)) < 0 ||
        (ret = epoll_add(core->epfd, core->uring_efd, EV_URING)) < 0 ||
        (ret = epoll_add(core->epfd, sc_inbox_fd(&core->inbox), EV_INBOX)) < 0 ||
        (ret = epoll_add(core->epfd, core->qepfd, EV_QUEUES)) < 0)
        goto fail;
    what = "thread";
    ret = start_thread(core);
    if (ret < 0)
        goto fail;
    core->started = true;
    sc_log(SC_LOG_INFO, core->params.name, "started (cpu %d, poll_idle %llu ns)",
           core->params.cpu, (unsigned long long)core->params.poll_idle_ns);
    return core;

fail:
    sc_log(SC_LOG_ERR, core->params.name, "cannot create: %s: %s", what,
           strerrordesc_np(-ret) ? strerrordesc_np(-ret) : "?");
    release(core);
    errno = -ret;
    return NULL;
}

int sc_core_destroy_within(struct sc_core *core, uint64_t timeout_ns)
{
    if (!core)
        return 0;
    int ret = 0;
    if (core->started) {
        uint64_t deadline = UINT64_MAX;
        if (timeout_ns != UINT64_MAX) {
            uint64_t now = sc_clock_ns();
            deadline = timeout_ns < UINT64_MAX - now ? now + timeout_ns : UINT64_MAX - 1;
        }
        core->stop_cmd = (struct sc_core_cmd){ .type = SC_CORE_CMD_CALL, .fn = begin_stop };
        sc_core_post(core, &core->stop_cmd);
        if (!sc_completion_wait(&core->exited, deadline)) {
            /* The core itself never blocks but in epoll, which the post
             * wakes: the abandon runs at once. */
            core->abandon_cmd = (struct sc_core_cmd){ .type = SC_CORE_CMD_CALL, .fn = abandon };
            sc_core_post(core, &core->abandon_cmd);
            sc_completion_wait(&core->exited, UINT64_MAX);
        }
        pthread_join(core->thread, NULL);
        if (core->abandoned)
            ret = -ETIMEDOUT;
    }
    release(core);
    return ret;
}

void sc_core_destroy(struct sc_core *core)
{
    sc_core_destroy_within(core, UINT64_MAX);
}
