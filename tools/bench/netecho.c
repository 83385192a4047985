/*
 * netecho - the network benchmark's floor: a vif backend that answers every
 * transmitted packet NETIF_RSP_OKAY without copying it, validating it or
 * sending it anywhere, and leaves the receive ring alone.
 *
 *   netecho [sidecored's options: --cores N, --mode poll|event, --ctl PATH,
 *            --ready-fd N, --poll-idle-us N, --log-level L, --tenant ...]
 *
 * It is sidecored with netback swapped for the minimal device class below,
 * as echoback is for blocks: the same daemon (sc_daemon: xenstore bus,
 * control socket, sidecorectl works), the same core pool and the same
 * sidecore loop (fair share, event suppression while polling,
 * RING_FINAL_CHECK_FOR_REQUESTS re-arm, epoll sleep, one notify per ring per
 * round).  So "netback vs netecho" on a transmit-only load measures exactly
 * what netback adds per packet: copying each slot out of the shared ring
 * and validating it, the grant copy of the data, offloads, the switch or
 * the TAP write.
 *
 * The class:
 *   probe    writes the feature keys netback writes (feature-rx-copy, sg,
 *            gso-tcpv4/6, ipv6-csum-offload, split-event-channels,
 *            multi-queue-max-queues 1), so a frontend builds the very same
 *            frames and slots it builds for netback; reads nothing.
 *   connect  request-rx-copy required, one queue (keys read through
 *            backend/fe_keys.h): maps tx-ring-ref and rx-ring-ref and puts
 *            the pair on a core with "event-channel", or
 *            "event-channel-tx" and "event-channel-rx" (split), bound
 *            there through backend/queue_attach.h, as netback does
 *            (lib/floor_dev.h, shared with echoback).
 *   disconnect  posts the queue's removal and returns; the rings are
 *            unmapped once the core lets go.
 *   poll     every tx slot is answered in ring order: a request with
 *            NETIF_RSP_OKAY and its own id, an extra-info slot with
 *            NETIF_RSP_NULL (netif.h wants a response per slot; the
 *            frontend frees its ids by them).  Flags are read only to tell
 *            the two apart (NETTXF_extra_info, XEN_NETIF_EXTRA_FLAG_MORE)
 *            and where a packet starts (NETTXF_more_data): the fair-share
 *            grant is charged per packet with its first slot's size, as
 *            netback charges it.  Nothing is received: rx requests stay
 *            posted, so the frontend never gets a frame.
 *   describe class.traffic as netback's (tx_packets, tx_bytes, kicks,
 *            notifies; the rest 0), so the benchmark reads both alike.
 * The one check kept is the producer-index overflow test, once per visit:
 * without it a garbage req_prod would spin the core forever.
 *
 * Threads: as sidecored (daemon.h): the control thread runs the class and
 * the attach/detach callbacks (from the daemon loop's sc_pool_reap), the
 * core thread runs the queue ops.  Exit codes as sidecored.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xen_ring.h"
#include <xen/io/netif.h>

#include "corepool.h"
#include "daemon.h"
#include "devclass.h"
#include "fe_keys.h"
#include "lib/floor_dev.h"
#include "log.h"
#include "queue.h"
#include "sidecore.h"
#include "xenbus.h"

#define NECHO_PAGE_SIZE 4096u

/* One tx/rx ring pair (floor_dev.h: pages[0] tx, pages[1] rx): `tx` and
 * the slot state belong to the core thread while the queue is on it. */
struct necho_queue {
    struct floor_queue fq;     /* first: the ops get &fq.sc */
    netif_tx_back_ring_t tx;   /* core thread */
    /* where the ring's next slot stands (core thread): an extra-info slot
     * follows, or a fragment of the packet begun */
    bool extra_next, frag_next;
};

/* ---- the data path (core thread) ---- */

static struct necho_queue *nq_of(struct sc_queue *sq)
{
    return (struct necho_queue *)sq;
}

static int necho_poll(struct sc_queue *sq, const struct sc_sched_grant *g, struct sc_visit *v)
{
    struct necho_queue *q = nq_of(sq);
    netif_tx_back_ring_t *ring = &q->tx;
    RING_IDX prod = ring->sring->req_prod;
    xen_rmb(); /* the requests before req_prod are visible */
    if (RING_REQUEST_PROD_OVERFLOW(ring, prod)) {
        sc_log_rl(SC_LOG_ERR, sq->name, "producer index overflow: ring shut down");
        return -EPROTO;
    }
    RING_IDX cons = ring->req_cons;
    bool answered = false;
    while (cons != prod) {
        /* Request and response share the slot: read what is needed first. */
        const netif_tx_request_t *req = RING_GET_REQUEST(ring, cons);
        netif_tx_response_t *rsp = RING_GET_RESPONSE(ring, ring->rsp_prod_pvt);
        if (q->extra_next) {
            const struct netif_extra_info *x = (const void *)req;
            q->extra_next = (x->flags & XEN_NETIF_EXTRA_FLAG_MORE) != 0;
            rsp->id = 0;
            rsp->status = NETIF_RSP_NULL;
        } else {
            uint16_t id = req->id, flags = req->flags, size = req->size;
            if (!q->frag_next) { /* a packet starts: the grant decides */
                if (!sc_sched_grant_admits(g, v->bytes, v->requests, size)) {
                    v->more = true;
                    break;
                }
                v->requests++;
                v->bytes += size;
            }
            q->extra_next = (flags & NETTXF_extra_info) != 0;
            q->frag_next = (flags & NETTXF_more_data) != 0;
            rsp->id = id;
            rsp->status = NETIF_RSP_OKAY;
        }
        ring->rsp_prod_pvt++;
        cons++;
        answered = true;
    }
    ring->req_cons = cons;
    if (answered)
        sc_queue_mark_dirty(sq);
    return 0;
}

static void necho_flush(struct sc_queue *sq)
{
    struct necho_queue *q = nq_of(sq);
    int notify;
    RING_PUSH_RESPONSES_AND_CHECK_NOTIFY(&q->tx, notify);
    if (notify)
        sc_queue_notify_port(sq, 0); /* the tx channel (the only one unless split) */
}

static bool necho_rearm(struct sc_queue *sq)
{
    struct necho_queue *q = nq_of(sq);
    int more;
    RING_FINAL_CHECK_FOR_REQUESTS(&q->tx, more);
    return more != 0;
}

static bool necho_idle(struct sc_queue *sq)
{
    (void)sq;
    return true; /* nothing is ever in flight */
}

static const struct sc_queue_ops necho_ops = {
    .poll = necho_poll,
    .flush = necho_flush,
    .rearm = necho_rearm,
    .idle = necho_idle,
};

/* ---- the device class (control thread) ---- */

static int probe_keys_txn(struct xs_handle *xs, xs_transaction_t t, void *arg)
{
    const struct sc_device *dev = arg;
    const char *bp = dev->backend_path;
    static const char *const on[] = {
        "feature-sg", "feature-gso-tcpv4", "feature-gso-tcpv6", "feature-ipv6-csum-offload",
        "feature-rx-copy", "feature-split-event-channels", "multi-queue-max-queues", NULL,
    };
    int rc = 0;
    for (unsigned i = 0; on[i] && rc == 0; i++)
        rc = sc_xs_write_uint(xs, t, 1, "%s/%s", bp, on[i]);
    if (rc == 0)
        rc = sc_xs_write_uint(xs, t, 0, "%s/feature-rx-flip", bp);
    return rc;
}

static int necho_probe(struct sc_device *dev)
{
    struct floor_dev *nd = calloc(1, sizeof(*nd));
    if (!nd)
        return -ENOMEM;
    int rc = sc_xs_transact(sc_xenbus_xs(dev->bus), probe_keys_txn, dev);
    if (rc < 0) {
        sc_xenbus_device_fail(dev, rc, "writing the feature keys");
        free(nd);
        return rc;
    }
    dev->priv = nd;
    sc_log(SC_LOG_INFO, dev->name, "probed: the floor (tx answered, nothing received)");
    return 0;
}

/* ---- connect: the queue on a core through floor_dev.h ---- */

/* The frontend's keys: rx-copy, one queue, its two rings and one or two
 * event channels.  0 or -errno (the device failed, fe_keys.h). */
static int read_frontend_keys(struct sc_device *dev, grant_ref_t refs[2], evtchn_port_t ports[2],
                              unsigned *nports)
{
    const char *fp = dev->frontend_path;
    bool rx_copy;
    int rc = sc_fe_read_bool(dev, fp, "request-rx-copy", false, &rx_copy);
    if (rc < 0)
        return rc;
    if (!rx_copy) {
        sc_xenbus_device_fail(dev, -EOPNOTSUPP, "the frontend does not do rx-copy");
        return -EOPNOTSUPP;
    }
    unsigned nq;
    rc = sc_fe_num_queues(dev, 1, &nq);
    if (rc < 0)
        return rc;
    unsigned long long tx, rx, ev;
    rc = sc_fe_read_uint(dev, fp, "tx-ring-ref", UINT32_MAX, &tx);
    if (rc == 0)
        rc = sc_fe_read_uint(dev, fp, "rx-ring-ref", UINT32_MAX, &rx);
    if (rc < 0)
        return rc;
    refs[0] = (grant_ref_t)tx;
    refs[1] = (grant_ref_t)rx;
    rc = sc_fe_read_uint_opt(dev, fp, "event-channel", UINT32_MAX, UINT64_MAX, &ev);
    if (rc < 0)
        return rc;
    if (rc == 0) {
        ports[0] = (evtchn_port_t)ev;
        *nports = 1;
        return 0;
    }
    rc = sc_fe_read_uint(dev, fp, "event-channel-tx", UINT32_MAX, &ev);
    if (rc < 0)
        return rc;
    ports[0] = (evtchn_port_t)ev;
    rc = sc_fe_read_uint(dev, fp, "event-channel-rx", UINT32_MAX, &ev);
    if (rc < 0)
        return rc;
    ports[1] = (evtchn_port_t)ev;
    *nports = 2;
    return 0;
}

static int necho_connect(struct sc_device *dev)
{
    grant_ref_t refs[2];
    evtchn_port_t ports[2];
    unsigned nports;
    int rc = read_frontend_keys(dev, refs, ports, &nports);
    if (rc < 0)
        return rc;
    struct floor_queue *fq;
    rc = floor_queue_create(dev, sizeof(struct necho_queue), &necho_ops, refs, 2, &fq);
    if (rc < 0)
        return rc;
    struct necho_queue *q = nq_of(&fq->sc);
    netif_tx_sring_t *sring = fq->pages[0];
    /* Attach (not init): requests left by an earlier connection are answered. */
    BACK_RING_ATTACH(&q->tx, sring, sring->rsp_prod, NECHO_PAGE_SIZE);
    rc = floor_queue_attach(fq, ports, nports);
    if (rc < 0)
        return rc;
    sc_log(SC_LOG_INFO, dev->name, "connected: 1 queue, %s, on %s",
           nports == 2 ? "split event channels" : "one event channel", sc_core_name(fq->at.core));
    return 0;
}

static const struct sc_device_class necho_class = {
    .type = "vif",
    .probe = necho_probe,
    .connect = necho_connect,
    .disconnect = floor_disconnect,
    .remove = floor_remove,
};

static const struct sc_device_class *device_class(const char *type, struct sc_pool *pool,
                                                  const void *cfg)
{
    (void)cfg;
    return floor_device_class(&necho_class, type, pool);
}

/* netback's traffic view, from the core's generic counters: a packet is a
 * request here. */
static json_t *describe(struct sc_device *dev)
{
    const struct floor_queue *q = floor_queue_of(dev);
    if (!q)
        return NULL;
    struct sc_queue_stats_snap s;
    sc_queue_stats_snapshot(&q->sc, &s);
    json_t *t = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "tx_packets",
                          (json_int_t)s.counter[SC_QSTAT_REQUESTS], "tx_bytes",
                          (json_int_t)s.counter[SC_QSTAT_BYTES], "tx_drops", (json_int_t)0,
                          "rx_packets", (json_int_t)0, "rx_bytes", (json_int_t)0, "rx_drops",
                          (json_int_t)0, "kicks", (json_int_t)s.counter[SC_QSTAT_KICKS],
                          "notifies", (json_int_t)s.counter[SC_QSTAT_NOTIFIES]);
    return json_pack("{s:s, s:o*}", "summary", "netecho floor: tx answered OKAY, no rx",
                     "traffic", t);
}

/* The floor serves backend/vif under the vif name, without its settings. */
static const struct sc_class_type necho_types[] = { { "vif", true }, { NULL, false } };
static const struct sc_class_module necho_module = {
    .name = "vif",
    .types = necho_types,
    .device_class = device_class,
    .foreach_queue = floor_foreach_queue,
    .describe = describe,
};
static const struct sc_class_module *const modules[] = { &necho_module, NULL };

int main(int argc, char **argv)
{
    return sc_daemon_main("netecho", modules, argc, argv);
}
