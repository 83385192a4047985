/*
 * net_queue_tx.c - guest -> uplink: the tx ring's frames, copied out with
 * one batched grant copy per visit, written to the TAP descriptor with
 * their offload metadata as a virtio_net_hdr (net_queue_int.h has the
 * layout).
 *
 * As Linux netback: a frame is answered once its data is copied (OKAY, or
 * ERROR when a grant copy failed or the frame was invalid); what the
 * uplink does with it afterwards (a checksum that cannot be set up, a
 * write refused) is a drop on our side the guest does not hear about.
 */
#include <errno.h>
#include <string.h>
#include <sys/uio.h>

#include "net_offload.h"
#include "net_port.h"
#include "net_queue_int.h"
#include "net_switch.h"

/* A multicast-control packet: apply it, answer it. */
static void tx_mcast(struct net_queue *q, const struct net_tx_pkt *p)
{
    int rc = 0;
    if (q->port) { /* a port of the switch: its filter decides the floods */
        if (p->mcast_add)
            rc = net_switch_mcast_add(q->port->sw, q->port->id, p->mcast_add_addr);
        if (p->mcast_del && net_switch_mcast_del(q->port->sw, q->port->id, p->mcast_del_addr) < 0 &&
            rc == 0)
            rc = -ENOENT;
    } else {
        if (p->mcast_add)
            rc = net_mcast_add(&q->shared->mcast, p->mcast_add_addr);
        if (p->mcast_del && net_mcast_del(&q->shared->mcast, p->mcast_del_addr) < 0 && rc == 0)
            rc = -ENOENT;
    }
    netq_count(q, NETQ_MCAST_OPS, 1);
    net_tx_respond(&q->txr, p, rc == 0 ? NETIF_RSP_OKAY : NETIF_RSP_ERROR);
}

static void tx_drop(struct net_queue *q, const struct net_tx_pkt *p)
{
    sc_log_limited(&q->rl, SC_LOG_WARN, q->sc.name, "dropped a %u-byte frame of %u slots: %s",
                   p->len, p->nfrags, net_tx_drop_str(p->drop));
    netq_count(q, NETQ_TX_DROPS, 1);
    sc_queue_count(&q->sc, SC_QSTAT_ERRORS, 1);
    net_tx_respond(&q->txr, p, NETIF_RSP_ERROR);
}

void netq_tx_stage(struct net_queue *q, struct netq_tx_frame *f, uint32_t limit)
{
    f->copy_failed = false;
    uint32_t at = 0;
    for (unsigned i = 0; i < f->pkt.nfrags && at < limit; i++) {
        const struct net_tx_frag *fr = &f->pkt.frag[i];
        uint32_t n = fr->size;
        if (n > limit - at)
            n = limit - at;
        if (n)
            sc_gnt_batch_from_guest(&q->copies, q->domid, fr->gref, fr->offset, f->buf + at,
                                    (uint16_t)n, &f->copy_failed);
        at += fr->size;
    }
}

void netq_tx_fail(struct net_queue *q, struct netq_tx_frame *f)
{
    sc_log_limited(&q->rl, SC_LOG_WARN, q->sc.name,
                   "a grant copy of a %u-byte frame failed: answered with an error", f->pkt.len);
    netq_count(q, NETQ_TX_ERRORS, 1);
    sc_queue_count(&q->sc, SC_QSTAT_ERRORS, 1);
    net_tx_respond(&q->txr, &f->pkt, NETIF_RSP_ERROR);
}

/* To the uplink with its metadata.  A frame whose offload cannot be set up
 * is dropped (as Linux netback drops what skb_checksum_setup refuses). */
bool netq_tx_send(struct net_queue *q, struct netq_tx_frame *f, int fd)
{
    const struct net_tx_pkt *p = &f->pkt;
    struct net_offload o;
    struct virtio_net_hdr vh;
    memset(&vh, 0, sizeof(vh));
    int rc = net_offload_from_netif(p->flags, p->has_gso ? &p->gso : NULL, &o);
    if (rc == 0 && (o.csum_partial || o.gso_type != NET_GSO_NONE)) {
        rc = net_offload_setup(f->buf, p->len, &o);
        if (rc == 0)
            rc = net_csum_to_partial(f->buf, p->len, &o);
    }
    if (rc < 0) {
        sc_log_limited(&q->rl, SC_LOG_WARN, q->sc.name,
                       "dropped a %u-byte frame: its checksum or GSO request does not match "
                       "its headers", p->len);
        netq_count(q, NETQ_TX_DROPS, 1);
        return false;
    }
    net_offload_to_vnet(&o, &vh);
    struct iovec iov[2] = {
        { .iov_base = &vh, .iov_len = sizeof(vh) },
        { .iov_base = f->buf, .iov_len = p->len },
    };
    if (writev(fd, iov, 2) < 0) {
        /* EIO while the interface is down, ENOBUFS under pressure: the
         * frame is lost as on a congested link. */
        netq_count(q, NETQ_TX_DROPS, 1);
        if (errno != EIO && errno != EAGAIN && errno != ENOBUFS)
            sc_log_limited(&q->rl, SC_LOG_WARN, q->sc.name, "writing to the uplink: %s",
                           strerror(errno));
        return false;
    }
    return true;
}

int netq_tx_poll(struct net_queue *q, const struct sc_sched_grant *g, struct sc_visit *v)
{
    unsigned n = 0;
    bool answered = false;
    int err = 0;
    q->tx_wait_ns = 0;
    while (n < NETQ_TX_BATCH) {
        int next = net_tx_peek_len(&q->txr);
        if (next < 0)
            break;
        if (!sc_sched_grant_admits(g, v->bytes, v->requests, (uint64_t)next)) {
            v->more = true;
            break;
        }
        uint64_t retry;
        if (!net_rate_take(&q->shared->tx_rate, (uint32_t)next, v->now_ns, &retry)) {
            q->tx_wait_ns = retry;
            netq_count(q, NETQ_TX_THROTTLED, 1);
            break;
        }
        struct netq_tx_frame *f = &q->tx[n];
        int rc = net_tx_fetch(&q->txr, &f->pkt);
        if (rc <= 0) {
            err = rc;
            break;
        }
        v->requests++;
        v->bytes += f->pkt.len;
        answered = true;
        if (f->pkt.drop != NET_TX_KEEP) {
            tx_drop(q, &f->pkt);
            continue;
        }
        if (f->pkt.mcast_add || f->pkt.mcast_del) {
            tx_mcast(q, &f->pkt);
            continue;
        }
        /* switched: the header first, to decide where it goes */
        netq_tx_stage(q, f, q->port ? NET_XFER_HDR : UINT32_MAX);
        n++;
    }
    if (n)
        sc_gnt_batch_flush(&q->copies);
    if (n && q->port) {
        netq_sw_tx(q, n, v->now_ns);
    } else {
        for (unsigned i = 0; i < n; i++) {
            struct netq_tx_frame *f = &q->tx[i];
            if (f->copy_failed) {
                netq_tx_fail(q, f);
                continue;
            }
            net_tx_respond(&q->txr, &f->pkt, NETIF_RSP_OKAY);
            if (netq_tx_send(q, f, q->tap_fd)) {
                netq_count(q, NETQ_TX_PACKETS, 1);
                netq_count(q, NETQ_TX_BYTES, f->pkt.len);
            }
        }
    }
    if (n == NETQ_TX_BATCH)
        v->more = true;
    if (answered)
        sc_queue_mark_dirty(&q->sc);
    return err;
}
