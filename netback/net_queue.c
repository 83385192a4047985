/*
 * net_queue.c - a netif queue's life cycle and its sc_queue ops (the data
 * path is in net_queue_tx.c and net_queue_rx.c; net_queue_int.h has the
 * layout).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "clock.h"
#include "membudget.h"
#include "net_queue_int.h"
#include "rsp_stage.h"

const char *const net_queue_counter_names[NETQ__COUNT] = {
    [NETQ_TX_PACKETS] = "tx_packets",     [NETQ_TX_BYTES] = "tx_bytes",
    [NETQ_TX_DROPS] = "tx_drops",         [NETQ_TX_ERRORS] = "tx_errors",
    [NETQ_TX_THROTTLED] = "tx_throttled", [NETQ_RX_PACKETS] = "rx_packets",
    [NETQ_RX_BYTES] = "rx_bytes",         [NETQ_RX_DROPS] = "rx_drops",
    [NETQ_RX_FILTERED] = "rx_filtered",   [NETQ_RX_ERRORS] = "rx_errors",
    [NETQ_RX_THROTTLED] = "rx_throttled", [NETQ_CSUM_FIXUPS] = "csum_fixups",
    [NETQ_GSO_SEGMENTED] = "gso_segmented", [NETQ_MCAST_OPS] = "mcast_ops",
};

void netq_timer_at(struct net_queue *q, uint64_t at_ns)
{
    if (q->timer_at_ns && q->timer_at_ns <= at_ns)
        return;
    struct itimerspec its = {
        .it_value = { .tv_sec = (time_t)(at_ns / 1000000000u),
                      .tv_nsec = (long)(at_ns % 1000000000u) },
    };
    if (its.it_value.tv_sec == 0 && its.it_value.tv_nsec == 0)
        its.it_value.tv_nsec = 1;
    if (timerfd_settime(q->timer_fd, TFD_TIMER_ABSTIME, &its, NULL) == 0)
        q->timer_at_ns = at_ns;
}

/* The timer fired (or was never armed): read it back to quiet. */
static void timer_reap(struct net_queue *q, uint64_t now_ns)
{
    if (!q->timer_at_ns || now_ns < q->timer_at_ns)
        return;
    uint64_t ticks;
    if (read(q->timer_fd, &ticks, sizeof(ticks)) < 0 && errno != EAGAIN)
        sc_log_limited(&q->rl, SC_LOG_WARN, q->sc.name, "reading its timer: %s",
                       strerror(errno));
    q->timer_at_ns = 0;
}

static int netq_poll(struct sc_queue *sq, const struct sc_sched_grant *g, struct sc_visit *v)
{
    struct net_queue *q = netq_of(sq);
    timer_reap(q, v->now_ns);
    if (q->off_core_ns) { /* landed after a move: the trip was not its guest's delay */
        netq_sw_postpone(q, v->now_ns > q->off_core_ns ? v->now_ns - q->off_core_ns : 0);
        q->off_core_ns = 0;
    }
    if (q->port) { /* only switch ports get transfers and answers */
        sc_inbox_disarm(&q->xp.inbox);
        netq_sw_take(q);
    }
    int rc = netq_tx_poll(q, g, v);
    if (rc == 0)
        rc = netq_rx_poll(q, g, v);
    if (rc < 0) {
        const char *why = q->txr.broken ? q->txr.why : q->rxr.why;
        sc_log_limited(&q->rl, SC_LOG_ERR, q->sc.name,
                       "frontend broke the ring protocol (%s): vif shut down",
                       why ? why : "unknown");
    }
    return rc;
}

static void netq_flush(struct sc_queue *sq)
{
    struct net_queue *q = netq_of(sq);
    if (net_txr_push(&q->txr))
        sc_queue_notify_port(&q->sc, 0);
    if (net_rxr_push(&q->rxr))
        sc_queue_notify_port(&q->sc, q->feat.split ? 1 : 0);
}

/* Before the core sleeps.  The tx ring re-arms unless the rate holds it
 * (its timer wakes us); the rx ring only matters when frames wait for
 * buffers: its event is set where the head frame fits.  Frames from the
 * uplink wake the core through the TAP descriptor it watches. */
static bool netq_rearm(struct sc_queue *sq)
{
    struct net_queue *q = netq_of(sq);
    if (q->txr.broken || q->rxr.broken)
        return false;
    bool raced = false;
    if (q->tx_wait_ns)
        netq_timer_at(q, q->tx_wait_ns);
    else
        raced = net_txr_final_check(&q->txr);
    if (q->port && !sc_inbox_arm(&q->xp.inbox))
        raced = true; /* a transfer or an answer came in (switch ports only get them) */
    uint64_t deadline = netq_sw_deadline(q);
    if (deadline)
        netq_timer_at(q, deadline); /* to drop what waits too long for buffers */
    unsigned want = netq_rx_want(q);
    if (want) {
        if (q->rx_wait_ns)
            netq_timer_at(q, q->rx_wait_ns);
        else if (net_rxr_final_check(&q->rxr, want))
            raced = true;
        else if (!q->feat.rx_notify) /* it will not kick: look again soon */
            netq_timer_at(q, sc_queue_now_ns(&q->sc) + 1000000u);
    }
    return raced;
}

/* The copies of a visit are flushed and answered in it; what can be out
 * are switched frames at other queues, and their transfers to us: answered
 * here while the queue is removed (queue.h: idle). */
static bool netq_idle(struct sc_queue *sq)
{
    struct net_queue *q = netq_of(sq);
    return netq_sw_drain(q);
}

/* Nothing of a vif queue is bound to its core (its copies and TAP writes
 * are done within a visit, its fds are re-watched by the next core): it
 * moves with the frames queued for its guest and its transfers out at
 * other queues, which come back through its inbox wherever it is. */
static bool netq_movable(struct sc_queue *sq)
{
    struct net_queue *q = netq_of(sq);
    q->off_core_ns = sc_clock_ns();
    return true;
}

/* Cheap looks only (queue.h): transmitted packets, transfers or answers in
 * the inbox, frames waiting that the rx ring now has buffers for, a rate's
 * or a transfer's time come.  Frames
 * on the TAP descriptor and the timer are the core's business: it asks
 * the watched fds of parked queues each round. */
static bool netq_pending(struct sc_queue *sq)
{
    struct net_queue *q = netq_of(sq);
    if (q->txr.broken || q->rxr.broken)
        return false;
    /* the timer only rings for a sleeping core: a busy one looks here */
    uint64_t now = sc_queue_now_ns(&q->sc);
    if (net_txr_has_requests(&q->txr) && (!q->tx_wait_ns || now >= q->tx_wait_ns))
        return true;
    if (!sc_inbox_empty(&q->xp.inbox))
        return true;
    uint64_t deadline = netq_sw_deadline(q);
    if (deadline && now >= deadline)
        return true; /* a transfer to drop */
    if ((q->rx_count || q->swq_len) && (!q->rx_wait_ns || now >= q->rx_wait_ns)) {
        RING_IDX prod = __atomic_load_n(&q->rxr.back.sring->req_prod, __ATOMIC_RELAXED);
        unsigned want = q->rx_want ? q->rx_want : 1;
        return (RING_IDX)(prod - q->rxr.back.req_cons) >= want;
    }
    return false;
}

static const struct sc_queue_ops netq_ops = {
    .poll = netq_poll,
    .flush = netq_flush,
    .rearm = netq_rearm,
    .idle = netq_idle,
    .pending = netq_pending,
    .movable = netq_movable,
};

static void unmap_rings(struct net_queue *q)
{
    net_txr_detach(&q->txr);
    net_rxr_detach(&q->rxr);
    if (q->tx_sring)
        sc_gnt_unmap(q->xen, q->tx_sring, 1);
    if (q->rx_sring)
        sc_gnt_unmap(q->xen, q->rx_sring, 1);
    q->tx_sring = q->rx_sring = NULL;
}

void net_queue_destroy(struct net_queue *q)
{
    if (!q)
        return;
    unmap_rings(q);
    netq_sw_destroy(q);
    sc_gnt_batch_destroy(&q->copies);
    if (q->frames)
        munmap(q->frames, q->frames_len);
    if (q->timer_fd >= 0)
        close(q->timer_fd);
    free(q);
}

static int alloc_frames(struct net_queue *q)
{
    q->frames_len = (size_t)(NETQ_TX_BATCH + NETQ_RX_BACKLOG + 2) * NETQ_FRAME_MAX;
    void *m = mmap(NULL, q->frames_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS |
                   MAP_NORESERVE, -1, 0);
    if (m == MAP_FAILED) {
        q->frames = NULL;
        return -errno;
    }
    q->frames = m;
    for (unsigned i = 0; i < NETQ_TX_BATCH; i++)
        q->tx[i].buf = q->frames + (size_t)i * NETQ_FRAME_MAX;
    for (unsigned i = 0; i < NETQ_RX_BACKLOG; i++)
        q->rx[i].buf = q->frames + (size_t)(NETQ_TX_BATCH + i) * NETQ_FRAME_MAX;
    q->seg_buf = q->frames + (size_t)(NETQ_TX_BATCH + NETQ_RX_BACKLOG) * NETQ_FRAME_MAX;
    q->slow_buf = q->seg_buf + NETQ_FRAME_MAX;
    return 0;
}

struct net_queue *net_queue_create(const struct net_queue_params *p)
{
    if (!p || !p->xen || !p->shared ||
        p->feat.xdp_headroom >= NET_PAGE_SIZE / 2) {
        errno = EINVAL;
        return NULL;
    }
    struct net_queue *q = calloc(1, sizeof(*q));
    if (!q)
        return NULL;
    q->timer_fd = -1;
    q->xp.inbox.efd = -1;
    int rc = sc_queue_init(&q->sc, &netq_ops, p->frontend_id, SC_TCLASS_VIF, "%s", p->name);
    if (rc < 0)
        goto fail;
    q->xen = p->xen;
    q->domid = p->frontend_id;
    q->feat = p->feat;
    q->shared = p->shared;
    q->tap_fd = p->tap_fd;
    q->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (q->timer_fd < 0) {
        rc = -errno;
        goto fail;
    }
    if ((rc = alloc_frames(q)) < 0 || (rc = netq_sw_init(q)) < 0 ||
        (rc = sc_gnt_batch_init(&q->copies, p->xen, NETQ_COPIES)) < 0)
        goto fail;

    q->tx_sring = sc_gnt_map_batch(p->xen, p->frontend_id, 1, &p->tx_ref, true);
    if (!q->tx_sring) {
        rc = -errno;
        sc_log(SC_LOG_ERR, p->name, "cannot map the tx ring (ref %u) of domain %u: %s",
               p->tx_ref, p->frontend_id, strerror(errno));
        goto fail;
    }
    q->rx_sring = sc_gnt_map_batch(p->xen, p->frontend_id, 1, &p->rx_ref, true);
    if (!q->rx_sring) {
        rc = -errno;
        sc_log(SC_LOG_ERR, p->name, "cannot map the rx ring (ref %u) of domain %u: %s",
               p->rx_ref, p->frontend_id, strerror(errno));
        goto fail;
    }
    /* the response logs are named after the queue, one per ring */
    char log_name[SC_QUEUE_NAME_MAX + 4];
    unsigned tx_done = 0, rx_done = 0;
    snprintf(log_name, sizeof(log_name), "%s tx", p->name);
    rc = net_txr_attach(&q->txr, q->tx_sring, log_name, p->tx_ref, &tx_done);
    if (rc == 0) {
        snprintf(log_name, sizeof(log_name), "%s rx", p->name);
        rc = net_rxr_attach(&q->rxr, q->rx_sring, log_name, p->rx_ref, &rx_done);
    }
    if (tx_done || rx_done)
        sc_log(SC_LOG_WARN, p->name,
               "finished publishing %u tx and %u rx response(s) an unclean exit left half written",
               tx_done, rx_done);
    if (rc < 0) {
        if (rc == -EPROTO)
            sc_log(SC_LOG_ERR, p->name, "the rings are in an impossible state: %s",
                   q->txr.broken ? q->txr.why : q->rxr.why);
        else
            sc_log(SC_LOG_ERR, p->name, "its response logs: %s", strerror(-rc));
        goto fail;
    }
    if ((q->tap_fd >= 0 && (rc = sc_queue_watch_fd(&q->sc, q->tap_fd)) < 0) ||
        (rc = sc_queue_watch_fd(&q->sc, q->timer_fd)) < 0 ||
        (rc = sc_queue_watch_fd(&q->sc, sc_inbox_fd(&q->xp.inbox))) < 0 ||
        (rc = sc_queue_set_device_counters(&q->sc, net_queue_counter_names, NETQ__COUNT,
                                           q->counters)) < 0)
        goto fail;
    return q;
fail:
    net_queue_destroy(q);
    errno = -rc;
    return NULL;
}

uint64_t net_queue_mem_cost(const struct net_queue_params *p)
{
    (void)p; /* one page per ring, fixed buffers: the same for every queue */
    uint64_t cost = sizeof(struct net_queue);
    cost += sc_mem_pages((uint64_t)(NETQ_TX_BATCH + NETQ_RX_BACKLOG + 2) * NETQ_FRAME_MAX);
    cost += (uint64_t)NETQ_SWFRAMES * sizeof(struct netq_swframe);
    cost += (uint64_t)NETQ_XFERS * sizeof(struct net_xfer);
    cost += NETQ_COPIES * (sizeof(xengnttab_grant_copy_segment_t) + sizeof(bool *));
    /* the two rings' grant mappings and their response logs */
    cost += 2u * NET_PAGE_SIZE;
    cost += sc_mem_pages(sc_rsp_stage_log_len(sizeof(netif_tx_response_t), NET_TX_RING_SIZE));
    cost += sc_mem_pages(sc_rsp_stage_log_len(sizeof(netif_rx_response_t), NET_RX_RING_SIZE));
    return cost;
}

void net_queue_set_port(struct net_queue *q, struct net_port *port)
{
    q->port = port;
}

struct net_xport *net_queue_xport(struct net_queue *q)
{
    return &q->xp;
}

struct sc_queue *net_queue_sc(struct net_queue *q)
{
    return &q->sc;
}
