/*
 * sidecore.c - a sidecore's life cycle, the command handoff with the control
 * thread, and the helpers queues call (queue.h).  The poll loop itself is in
 * sidecore_loop.c; the contract in sidecore.h.
 */
#include "sidecore_int.h"

#include <errno.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
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
                  const char *fmt, ...)
{
    if (!q || !ops || !ops->poll || !ops->flush || !ops->rearm || !ops->idle)
        return -EINVAL;
    memset(q, 0, sizeof(*q));
    q->ops = ops;
    q->domid = domid;
    q->port = SC_QUEUE_NO_PORT;
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

int sc_queue_notify(struct sc_queue *q)
{
    if (q->port < 0)
        return -ENOTCONN;
    int ret = sc_evtchn_notify(q->core->evtchn, (evtchn_port_t)q->port);
    if (ret == 0)
        sc_queue_count(q, SC_QSTAT_NOTIFIES, 1);
    return ret;
}

void sc_queue_fail(struct sc_queue *q, int err)
{
    sc_core_fail_queue(q->core, q, err < 0 ? err : -EIO);
}

uint64_t sc_queue_now_ns(const struct sc_queue *q)
{
    return q->core->now_ns;
}

/* ---- core thread: queue membership ---- */

void sc_core_fail_queue(struct sc_core *core, struct sc_queue *q, int err)
{
    if (atomic_load_explicit(&q->failed, memory_order_relaxed))
        return;
    if (q->polled) {
        sc_sched_queue_remove(core->sched, &q->sched);
        q->polled = false;
        core->npolled--;
    }
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

static int core_add(struct sc_core *core, struct sc_queue *q)
{
    if (q->port != SC_QUEUE_NO_PORT) {
        if (q->port <= 0 || (unsigned)q->port >= SC_CORE_PORT_LIMIT)
            return -EINVAL;
        int ret = grow_ports(core, (unsigned)q->port);
        if (ret < 0)
            return ret;
        if (core->by_port[q->port])
            return -EEXIST;
    }
    int ret = sc_sched_queue_add(core->sched, &q->sched, q->domid);
    if (ret < 0)
        return ret;
    if (q->port != SC_QUEUE_NO_PORT)
        core->by_port[q->port] = q;
    q->polled = true;
    q->removing = false;
    q->dirty = false;
    q->dirty_next = NULL;
    q->prev = NULL;
    q->next = core->queues;
    if (core->queues)
        core->queues->prev = q;
    core->queues = q;
    core->npolled++;
    sc_counter_add(&core->stats.queues, 1);
    sc_log(SC_LOG_DEBUG, q->name, "polled by %s", core->params.name);
    return 0;
}

static void begin_remove(struct sc_core *core, struct sc_queue *q)
{
    if (q->removing)
        return;
    q->removing = true;
    core->nremoving++;
    if (q->polled) {
        sc_sched_queue_remove(core->sched, &q->sched);
        q->polled = false;
        core->npolled--;
    }
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
    if (q->port != SC_QUEUE_NO_PORT && (unsigned)q->port < core->nports &&
        core->by_port[q->port] == q)
        core->by_port[q->port] = NULL;
    q->removing = false;
    core->nremoving--;
    /* Last write of the core to q; the ack publishes it. */
    q->core = NULL;
    atomic_store_explicit(&core->stats.queues,
                          sc_counter_read(&core->stats.queues) - 1, memory_order_relaxed);
}

/* Called after the round's flush, so a draining queue is never left dirty. */
void sc_core_finish_removals(struct sc_core *core)
{
    struct sc_queue *next;
    for (struct sc_queue *q = core->queues; q && core->nremoving; q = next) {
        next = q->next;
        if (!q->removing || q->dirty || !q->ops->idle(q))
            continue;
        bool acked = q == core->remove_pending;
        unlink_queue(core, q);
        if (acked) {
            core->remove_pending = NULL;
            sc_core_ack(core, 0);
        }
    }
    if (core->stop_pending && !core->queues) {
        core->stop_pending = false;
        core->exit = true;
        sc_core_ack(core, 0);
    }
}

/* ---- the command handoff ---- */

void sc_core_ack(struct sc_core *core, int result)
{
    pthread_mutex_lock(&core->cmd_lock);
    core->cmd.result = result;
    core->cmd_done = core->cmd_seq_taken;
    pthread_cond_broadcast(&core->cmd_cond);
    pthread_mutex_unlock(&core->cmd_lock);
}

bool sc_core_run_command(struct sc_core *core)
{
    uint64_t posted = atomic_load_explicit(&core->cmd_posted, memory_order_acquire);
    if (posted == core->cmd_seq_taken)
        return false;
    pthread_mutex_lock(&core->cmd_lock);
    struct sc_cmd cmd = core->cmd;
    pthread_mutex_unlock(&core->cmd_lock);
    core->cmd_seq_taken = posted;
    sc_counter_add(&core->stats.commands, 1);

    switch (cmd.type) {
    case SC_CMD_ADD: {
        int ret = core_add(core, cmd.q);
        if (ret < 0)
            cmd.q->core = NULL;
        sc_core_ack(core, ret);
        break;
    }
    case SC_CMD_REMOVE:
        /* acked by sc_core_finish_removals once idle */
        begin_remove(core, cmd.q);
        core->remove_pending = cmd.q;
        break;
    case SC_CMD_SET_TENANT:
        sc_core_ack(core, sc_sched_tenant_set(core->sched, cmd.domid, &cmd.conf));
        break;
    case SC_CMD_TENANT_STATS: {
        struct sc_sched_tenant_stats ts = { 0 };
        int ret = sc_sched_tenant_stats(core->sched, cmd.domid, &ts);
        pthread_mutex_lock(&core->cmd_lock);
        core->cmd.tstats = ts;
        pthread_mutex_unlock(&core->cmd_lock);
        sc_core_ack(core, ret);
        break;
    }
    case SC_CMD_STOP:
        if (core->queues)
            sc_log(SC_LOG_WARN, core->params.name,
                   "stopping with queues still added; draining them");
        core->stopping = true;
        for (struct sc_queue *q = core->queues; q; q = q->next)
            begin_remove(core, q);
        core->stop_pending = true; /* acked when the last queue is gone */
        break;
    default:
        sc_core_ack(core, -EINVAL);
        break;
    }
    return true;
}

/* Posts cmd, wakes the core and waits for its ack; cmd gets the outputs. */
static int core_call(struct sc_core *core, struct sc_cmd *cmd)
{
    pthread_mutex_lock(&core->call_lock);
    pthread_mutex_lock(&core->cmd_lock);
    core->cmd = *cmd;
    uint64_t seq = atomic_load_explicit(&core->cmd_posted, memory_order_relaxed) + 1;
    atomic_store_explicit(&core->cmd_posted, seq, memory_order_release);
    pthread_mutex_unlock(&core->cmd_lock);

    uint64_t one = 1;
    while (write(core->cmd_efd, &one, sizeof(one)) < 0 && errno == EINTR)
        ;
    pthread_mutex_lock(&core->cmd_lock);
    while (core->cmd_done != seq)
        pthread_cond_wait(&core->cmd_cond, &core->cmd_lock);
    *cmd = core->cmd;
    pthread_mutex_unlock(&core->cmd_lock);
    pthread_mutex_unlock(&core->call_lock);
    return cmd->result;
}

int sc_core_add_queue(struct sc_core *core, struct sc_queue *q)
{
    if (!core || !q || !q->ops)
        return -EINVAL;
    pthread_mutex_lock(&core->call_lock);
    bool taken = q->core != NULL || sc_queue_failed(q);
    if (!taken)
        q->core = core; /* ours until the core refuses it */
    pthread_mutex_unlock(&core->call_lock);
    if (taken)
        return -EINVAL;
    struct sc_cmd cmd = { .type = SC_CMD_ADD, .q = q };
    return core_call(core, &cmd);
}

int sc_core_remove_queue(struct sc_core *core, struct sc_queue *q)
{
    if (!core || !q)
        return -EINVAL;
    pthread_mutex_lock(&core->call_lock);
    bool ours = q->core == core;
    pthread_mutex_unlock(&core->call_lock);
    if (!ours)
        return -ENOENT;
    struct sc_cmd cmd = { .type = SC_CMD_REMOVE, .q = q };
    return core_call(core, &cmd);
}

int sc_core_set_tenant(struct sc_core *core, domid_t domid,
                       const struct sc_sched_tenant_conf *conf)
{
    if (!core || !conf)
        return -EINVAL;
    struct sc_cmd cmd = { .type = SC_CMD_SET_TENANT, .domid = domid, .conf = *conf };
    return core_call(core, &cmd);
}

int sc_core_tenant_stats(struct sc_core *core, domid_t domid, struct sc_sched_tenant_stats *out)
{
    if (!core || !out)
        return -EINVAL;
    struct sc_cmd cmd = { .type = SC_CMD_TENANT_STATS, .domid = domid };
    int ret = core_call(core, &cmd);
    if (ret == 0)
        *out = cmd.tstats;
    return ret;
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

static int epoll_add(int epfd, int fd, uint32_t tag)
{
    struct epoll_event ev = { .events = EPOLLIN, .data.u32 = tag };
    return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) ? -errno : 0;
}

static void release(struct sc_core *core)
{
    if (core->epfd >= 0)
        close(core->epfd);
    if (core->ring.ring_fd > 0)
        io_uring_queue_exit(&core->ring);
    if (core->uring_efd >= 0)
        close(core->uring_efd);
    if (core->cmd_efd >= 0)
        close(core->cmd_efd);
    if (core->evtchn)
        sc_evtchn_close(core->evtchn);
    sc_sched_destroy(core->sched);
    pthread_cond_destroy(&core->cmd_cond);
    pthread_mutex_destroy(&core->cmd_lock);
    pthread_mutex_destroy(&core->call_lock);
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
    struct sc_core *core = calloc(1, sizeof(*core));
    if (!core)
        return NULL;
    core->params = *p;
    core->params.name[SC_CORE_NAME_MAX - 1] = '\0';
    if (!core->params.name[0])
        snprintf(core->params.name, sizeof(core->params.name), "sc0");
    core->xen = x;
    core->epfd = core->cmd_efd = core->uring_efd = -1;
    core->ring.ring_fd = -1;
    pthread_mutex_init(&core->call_lock, NULL);
    pthread_mutex_init(&core->cmd_lock, NULL);
    pthread_cond_init(&core->cmd_cond, NULL);

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
    what = "eventfd";
    core->cmd_efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    core->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (core->cmd_efd < 0 || core->epfd < 0) {
        ret = -errno;
        goto fail;
    }
    what = "epoll";
    if ((ret = epoll_add(core->epfd, core->evtchn_fd, EV_EVTCHN)) < 0 ||
        (ret = epoll_add(core->epfd, core->uring_efd, EV_URING)) < 0 ||
        (ret = epoll_add(core->epfd, core->cmd_efd, EV_CMD)) < 0)
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

void sc_core_destroy(struct sc_core *core)
{
    if (!core)
        return;
    if (core->started) {
        struct sc_cmd cmd = { .type = SC_CMD_STOP };
        core_call(core, &cmd);
        pthread_join(core->thread, NULL);
    }
    release(core);
}
