/*
 * net_queue_sw.c - a queue's side of the internal switch (net_queue_int.h
 * has the layout, net_xfer.h the hand-over between cores).
 *
 * Sending: a tx frame's first bytes are copied (the header, for the MAC
 * addresses), the source MAC learnt on our port, the destination looked up;
 * a frame for another vif goes as a transfer naming the guest's grants to
 * one queue of that vif (by flow), whose core copies it straight into its
 * guest's buffers; a frame for the host is copied here and written to the
 * switch's TAP; broadcast, multicast and unknown unicast go to every port
 * that takes them.  The tx response waits for every receiver's answer (a
 * failed copy from our guest's grants answers it with an error, a receiver
 * that had no room does not: the frame was sent, as on a wire).
 *
 * Receiving: transfers wait in arrival order until the rx ring has the
 * buffers; a frame the frontend takes as it is goes guest to guest in one
 * grant copy; one it cannot take (a partial checksum without checksum
 * offload, GSO without that GSO type) is copied here, fixed up and placed.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "net_port.h"
#include "net_queue_int.h"
#include "net_switch.h"

int netq_sw_init(struct net_queue *q)
{
    int rc = net_xport_init(&q->xp, NETQ_XFERS);
    if (rc < 0)
        return rc;
    q->swframes = calloc(NETQ_SWFRAMES, sizeof(*q->swframes));
    if (!q->swframes)
        return -ENOMEM;
    for (unsigned i = NETQ_SWFRAMES; i-- > 0;) {
        q->swframes[i].next = q->swfree;
        q->swfree = &q->swframes[i];
    }
    return 0;
}

void netq_sw_destroy(struct net_queue *q)
{
    net_xport_destroy(&q->xp);
    free(q->swframes);
    q->swframes = NULL;
}

/* ---- answers and arrivals ---- */

static void swframe_put(struct net_queue *q, struct netq_swframe *sf)
{
    sf->next = q->swfree;
    q->swfree = sf;
}

bool netq_sw_take(struct net_queue *q)
{
    bool wrote = false;
    if (sc_inbox_empty(&q->xp.inbox))
        return false; /* one load: no write to the line producers use */
    struct sc_inbox_msg *m = sc_inbox_take_all(&q->xp.inbox);
    while (m) {
        struct sc_inbox_msg *next = sc_inbox_next(m);
        struct net_xfer *x = net_xfer_of(m);
        if (x->returned) {
            struct netq_swframe *sf = x->cookie;
            if (x->status == -EFAULT)
                sf->failed = true;
            net_xfer_put(&q->xp, x);
            if (--sf->refs == 0) {
                if (sf->failed) {
                    netq_count(q, NETQ_TX_ERRORS, 1);
                    sc_queue_count(&q->sc, SC_QSTAT_ERRORS, 1);
                }
                net_tx_respond(&q->txr, &sf->pkt, sf->failed ? NETIF_RSP_ERROR : NETIF_RSP_OKAY);
                swframe_put(q, sf);
                wrote = true;
            }
        } else if (q->swq_len >= NETQ_SW_BACKLOG) {
            netq_count(q, NETQ_RX_DROPS, 1);
            net_xfer_return(x, -ENOBUFS);
        } else {
            x->next = NULL;
            x->queued_ns = sc_queue_now_ns(&q->sc);
            if (q->swq_tail)
                q->swq_tail->next = x;
            else
                q->swq_head = x;
            q->swq_tail = x;
            q->swq_len++;
        }
        m = next;
    }
    if (wrote)
        sc_queue_mark_dirty(&q->sc);
    return wrote;
}

static struct net_xfer *swq_pop(struct net_queue *q)
{
    struct net_xfer *x = q->swq_head;
    q->swq_head = x->next;
    if (!q->swq_head)
        q->swq_tail = NULL;
    q->swq_len--;
    x->next = NULL;
    return x;
}

bool netq_sw_drain(struct net_queue *q)
{
    bool wrote = netq_sw_take(q);
    while (q->swq_head)
        net_xfer_return(swq_pop(q), -ENOBUFS);
    return !wrote && net_xport_outstanding(&q->xp) == 0;
}

/* ---- sending ---- */

struct sw_send {
    struct net_queue *q;
    struct netq_tx_frame *f;
    struct netq_swframe *sf;
    const struct net_offload *off;
    const struct net_port *host;  /* the host port, when the frame goes there */
};

static void send_to_port(int port, void *owner, void *arg)
{
    struct sw_send *s = arg;
    struct net_queue *q = s->q;
    const struct net_port *op = owner;
    if (!op)
        return;
    if (op->host_fd >= 0) {
        s->host = op;
        return;
    }
    if (!op->nqueues)
        return;
    struct net_xfer *x = net_xfer_get(&q->xp);
    if (!x) {
        net_switch_count_drop(q->port->sw, port, 1);
        netq_count(q, NETQ_TX_DROPS, 1);
        return;
    }
    const struct net_tx_pkt *p = &s->sf->pkt;
    x->src_domid = q->domid;
    x->frags = p->frag;
    x->nfrags = p->nfrags;
    x->local = NULL;
    x->len = p->len;
    x->off = *s->off;
    memcpy(x->hdr, s->f->buf, p->len < NET_XFER_HDR ? p->len : NET_XFER_HDR);
    x->cookie = s->sf;
    s->sf->refs++;
    net_switch_count_tx(q->port->sw, port, 1, p->len);
    uint32_t hlen = p->len < NET_XFER_HDR ? p->len : NET_XFER_HDR;
    net_xfer_send(x, net_port_pick(op, x->hdr, hlen));
}

/* Decides where frame f goes and sends it to the vifs; returns the host
 * port when the frame goes there too. */
static const struct net_port *switch_one(struct net_queue *q, struct netq_tx_frame *f,
                                         struct netq_swframe *sf, uint64_t now_ns)
{
    struct net_port *me = q->port;
    const uint8_t *dst = f->buf, *src = f->buf + 6;
    struct net_offload off;
    if (net_offload_from_netif(f->pkt.flags, f->pkt.has_gso ? &f->pkt.gso : NULL, &off) < 0)
        off = (struct net_offload){ 0 };
    struct sw_send s = { .q = q, .f = f, .sf = sf, .off = &off };
    net_switch_learn(me->sw, me->id, src, now_ns);
    net_switch_count_rx(me->sw, me->id, 1, f->pkt.len);
    if (!(dst[0] & 1)) {
        int port = net_switch_lookup(me->sw, dst, now_ns);
        if (port == me->id)
            return NULL; /* for ourselves: the guest's own stack has it */
        if (port != NET_SWITCH_NO_PORT) {
            send_to_port(port, net_switch_port_owner(me->sw, port), &s);
            return s.host;
        }
    }
    net_switch_flood(me->sw, me->id, dst, send_to_port, &s);
    return s.host;
}

void netq_sw_tx(struct net_queue *q, unsigned n, uint64_t now_ns)
{
    const struct net_port *host[NETQ_TX_BATCH];
    bool to_host = false;
    for (unsigned i = 0; i < n; i++) {
        struct netq_tx_frame *f = &q->tx[i];
        host[i] = NULL;
        f->sw = NULL;
        if (f->copy_failed) {
            netq_tx_fail(q, f);
            continue;
        }
        struct netq_swframe *sf = q->swfree;
        if (!sf) {
            /* every frame of a ring is out at receivers already: the guest
             * outran them; drop as a full switch would */
            netq_count(q, NETQ_TX_DROPS, 1);
            net_tx_respond(&q->txr, &f->pkt, NETIF_RSP_OKAY);
            continue;
        }
        q->swfree = sf->next;
        sf->pkt = f->pkt;
        sf->refs = 0;
        sf->failed = false;
        host[i] = switch_one(q, f, sf, now_ns);
        netq_count(q, NETQ_TX_PACKETS, 1);
        netq_count(q, NETQ_TX_BYTES, f->pkt.len);
        if (host[i]) {
            to_host = true;
            netq_tx_stage(q, f, UINT32_MAX); /* the whole frame, for the host's TAP */
        }
        f->sw = sf;
    }
    if (to_host)
        sc_gnt_batch_flush(&q->copies);
    for (unsigned i = 0; i < n; i++) {
        struct netq_tx_frame *f = &q->tx[i];
        struct netq_swframe *sf = f->sw;
        if (!sf)
            continue;
        if (host[i]) {
            if (f->copy_failed)
                sf->failed = true;
            else
                netq_tx_send(q, f, host[i]->host_fd);
        }
        if (sf->refs == 0) {
            /* answered now: no receiver holds it */
            if (sf->failed)
                netq_tx_fail(q, f);
            else
                net_tx_respond(&q->txr, &f->pkt, NETIF_RSP_OKAY);
            swframe_put(q, sf);
        }
    }
}

/* ---- receiving ---- */

/* Whether the frontend cannot take the frame's offloads as they are. */
static bool needs_fixing(const struct net_queue *q, const struct net_xfer *x)
{
    const struct net_offload *o = &x->off;
    if (o->gso_type != NET_GSO_NONE && !netq_takes_gso(q, o->gso_type))
        return true;
    return o->csum_partial &&
           !(q->feat.csum &&
             (q->feat.ipv6_csum || !net_hdr_is_ipv6(x->hdr, x->len < NET_XFER_HDR
                                                               ? x->len : NET_XFER_HDR)));
}

/* The frame of x copied into slow_buf, its offsets found: 0, -EFAULT (a
 * copy from the sender failed) or -EPROTO (its headers do not carry what
 * its offloads claim). */
static int copy_in(struct net_queue *q, struct net_xfer *x, struct net_offload *o)
{
    if (x->local) {
        memcpy(q->slow_buf, x->local, x->len);
    } else {
        bool failed = false;
        uint32_t at = 0;
        for (unsigned i = 0; i < x->nfrags; i++) {
            const struct net_tx_frag *fr = &x->frags[i];
            if (fr->size)
                sc_gnt_batch_from_guest(&q->copies, x->src_domid, fr->gref, fr->offset,
                                        q->slow_buf + at, fr->size, &failed);
            at += fr->size;
        }
        sc_gnt_batch_flush(&q->copies);
        if (failed)
            return -EFAULT;
    }
    *o = x->off;
    return net_offload_setup(q->slow_buf, x->len, o) < 0 ? -EPROTO : 0;
}

void netq_sw_postpone(struct net_queue *q, uint64_t ns)
{
    for (struct net_xfer *x = q->swq_head; x; x = x->next)
        x->queued_ns += ns;
}

uint64_t netq_sw_deadline(const struct net_queue *q)
{
    return q->swq_head ? q->swq_head->queued_ns + NETQ_SW_WAIT_NS : 0;
}

void netq_sw_rx(struct net_queue *q, const struct sc_sched_grant *g, struct sc_visit *v,
                int *avail)
{
    struct net_xfer *placed = NULL, **tail = &placed;
    while (q->swq_head && q->swq_head->queued_ns + NETQ_SW_WAIT_NS <= v->now_ns) {
        netq_count(q, NETQ_RX_DROPS, 1); /* its guest posts no buffers: let the sender go */
        net_xfer_return(swq_pop(q), -ENOBUFS);
    }
    while (q->swq_head) {
        struct net_xfer *x = q->swq_head; /* multicast was filtered by the switch's flood */
        if (needs_fixing(q, x)) {
            struct net_offload o;
            int rc = copy_in(q, x, &o);
            uint32_t need = rc < 0 ? NETQ_NO_FIT : netq_rx_slots(q, x->len, &o);
            if (need == NETQ_NO_FIT) {
                netq_count(q, rc == -EFAULT ? NETQ_RX_ERRORS : NETQ_RX_DROPS, 1);
                net_xfer_return(swq_pop(q), rc == -EFAULT ? -EFAULT : -ENOBUFS);
                continue;
            }
            if (!netq_rx_admit(q, g, v, x->len, need, avail))
                break; /* copied again next time: the slow path is for rare frames */
            swq_pop(q);
            x->copy_failed = false;
            netq_rx_local(q, q->slow_buf, x->len, &o, &x->copy_failed);
            netq_rx_commit(q); /* slow_buf is reused by the next one */
            net_xfer_return(x, x->copy_failed ? -EFAULT : 0);
            continue;
        }
        uint32_t need = netq_rx_slots(q, x->len, &x->off);
        if (need == NETQ_NO_FIT) {
            netq_count(q, NETQ_RX_DROPS, 1);
            net_xfer_return(swq_pop(q), -ENOBUFS);
            continue;
        }
        if (!netq_rx_admit(q, g, v, x->len, need, avail))
            break;
        swq_pop(q);
        x->copy_failed = false;
        struct netq_src src = { .local = x->local, .domid = x->src_domid, .frags = x->frags,
                                .nfrags = x->nfrags, .head = x->hdr,
                                .headlen = x->len < NET_XFER_HDR ? x->len : NET_XFER_HDR };
        netq_rx_place(q, &src, x->len, &x->off, &x->copy_failed);
        *tail = x;
        tail = &x->next;
    }
    netq_rx_commit(q);
    while (placed) {
        struct net_xfer *x = placed;
        placed = x->next;
        net_xfer_return(x, x->copy_failed ? -EFAULT : 0);
    }
}
