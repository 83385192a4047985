/*
 * net_queue_rx.c - uplink -> guest: frames read from the TAP descriptor into
 * a backlog, placed into the buffers the frontend posted on its rx ring with
 * one batched grant copy per visit (net_queue_int.h has the layout).
 *
 * Placement follows netif.h and Linux netback: a frame fills its buffers
 * from the start (after xdp-headroom in the first), each buffer is one rx
 * request and its response lands in that request's slot; a GSO frame has
 * its extra-info slot right after the first response; partial checksums
 * are flagged csum_blank + data_validated.  What the frontend cannot take
 * is fixed here: a partial checksum completed for a frontend without
 * checksum offload, a GSO frame segmented for one without that GSO type.
 * A frame larger than a frontend without feature-sg can take is dropped.
 * Frames wait in the backlog while the ring lacks buffers; a full backlog
 * drops new frames (the uplink's queue would only hold them longer).
 */
#include <errno.h>
#include <string.h>
#include <sys/uio.h>

#include "net_offload.h"
#include "net_queue_int.h"

#define NO_FIT NETQ_NO_FIT

/* Buffers one frame of `len` bytes takes (without extras), or NO_FIT. */
static uint32_t frame_slots(const struct net_queue *q, uint32_t len)
{
    uint32_t span = q->feat.xdp_headroom + len;
    if (!q->feat.sg)
        return span <= NET_PAGE_SIZE ? 1 : NO_FIT;
    uint32_t n = (span + NET_PAGE_SIZE - 1) / NET_PAGE_SIZE;
    return n <= NET_TX_FATAL_SLOTS ? n : NO_FIT; /* what netfront accepts at most */
}

/* A GSO frame comes with a partial checksum: the frontend must take both
 * (for IPv6, feature-ipv6-csum-offload). */
bool netq_takes_gso(const struct net_queue *q, uint8_t gso_type)
{
    if (!q->feat.sg || !q->feat.csum)
        return false;
    return (gso_type == NET_GSO_TCPV4 && q->feat.gso_tcpv4) ||
           (gso_type == NET_GSO_TCPV6 && q->feat.gso_tcpv6 && q->feat.ipv6_csum);
}

uint32_t netq_rx_slots(const struct net_queue *q, uint32_t len, const struct net_offload *o)
{
    uint32_t hash_extra = net_hash_active(&q->shared->hash) ? 1 : 0;
    if (o->gso_type == NET_GSO_NONE) {
        uint32_t n = frame_slots(q, len);
        return n == NO_FIT ? NO_FIT : n + hash_extra;
    }
    if (netq_takes_gso(q, o->gso_type)) {
        uint32_t n = frame_slots(q, len);
        return n == NO_FIT ? NO_FIT : n + 1 + hash_extra;
    }
    if (!o->gso_size || o->hdr_len >= len)
        return frame_slots(q, len); /* nothing to segment: it goes whole or not at all */
    uint32_t payload = len - o->hdr_len;
    uint32_t nseg = (payload + o->gso_size - 1) / o->gso_size;
    uint32_t per = frame_slots(q, (uint32_t)o->hdr_len + o->gso_size);
    if (per == NO_FIT || nseg > NET_RX_RING_SIZE)
        return NO_FIT;
    return nseg * (per + hash_extra);
}

static void stage_rsp(struct net_queue *q, const struct netq_rx_rsp *r)
{
    q->stage[q->nstage++] = *r;
}

/* Queues the copy of `len` bytes of src from byte `pos` into the guest's
 * page `gref` at `off` (within that page): one segment from local memory,
 * or one per source fragment the range touches. */
static void src_copy(struct net_queue *q, const struct netq_src *src, uint32_t pos,
                     grant_ref_t gref, uint16_t off, uint32_t len, bool *failed)
{
    if (src->local) {
        sc_gnt_batch_to_guest(&q->copies, src->local + pos, q->domid, gref, off, (uint16_t)len,
                              failed);
        return;
    }
    uint32_t at = 0;
    for (unsigned i = 0; i < src->nfrags && len; i++) {
        const struct net_tx_frag *f = &src->frags[i];
        if (pos >= at + f->size) {
            at += f->size;
            continue;
        }
        uint32_t in = pos - at, n = f->size - in;
        if (n > len)
            n = len;
        sc_gnt_batch_guest_to_guest(&q->copies, src->domid, f->gref, (uint16_t)(f->offset + in),
                                    q->domid, gref, off, (uint16_t)n, failed);
        pos += n;
        off = (uint16_t)(off + n);
        len -= n;
        at += f->size;
    }
}

/* The extra-info slots after a frame's first response: GSO, then the hash
 * when the frontend set up hashing; chained with XEN_NETIF_EXTRA_FLAG_MORE. */
static unsigned rx_extras(struct net_queue *q, const struct netq_src *src,
                          const struct net_offload *o, struct netif_extra_info x[2],
                          uint16_t *flags)
{
    unsigned n = 0;
    bool has_gso = false;
    net_offload_to_netif_rx(o, flags, &x[0], &has_gso);
    if (has_gso)
        n++;
    uint32_t hash;
    uint8_t type;
    if (src->head && net_hash_frame(&q->shared->hash, src->head, src->headlen, &hash, &type)) {
        struct netif_extra_info *h = &x[n];
        memset(h, 0, sizeof(*h));
        h->type = XEN_NETIF_EXTRA_TYPE_HASH;
        h->u.hash.type = type;
        h->u.hash.algorithm = XEN_NETIF_CTRL_HASH_ALGORITHM_TOEPLITZ;
        for (unsigned i = 0; i < 4; i++)
            h->u.hash.value[i] = (uint8_t)(hash >> (8 * i)); /* LSB first (netif.h) */
        n++;
    }
    for (unsigned i = 0; i + 1 < n; i++)
        x[i].flags |= XEN_NETIF_EXTRA_FLAG_MORE;
    return n;
}

void netq_rx_place(struct net_queue *q, const struct netq_src *src, uint32_t len,
                   const struct net_offload *o, bool *failed)
{
    uint16_t flags = 0;
    struct netif_extra_info x[2];
    unsigned nextra = rx_extras(q, src, o, x, &flags);
    uint32_t done = 0;
    bool first = true;
    while (first || done < len) {
        uint16_t offset = first ? q->feat.xdp_headroom : 0;
        uint32_t chunk = len - done;
        if (chunk > NET_PAGE_SIZE - offset)
            chunk = NET_PAGE_SIZE - offset;
        uint16_t id;
        grant_ref_t gref;
        net_rx_take(&q->rxr, &id, &gref);
        if (chunk)
            src_copy(q, src, done, gref, offset, chunk, failed);
        done += chunk;
        uint16_t f = first ? flags : 0;
        if (done < len)
            f |= NETRXF_more_data;
        if (first && nextra)
            f |= NETRXF_extra_info;
        stage_rsp(q, &(struct netq_rx_rsp){ .id = id, .offset = offset, .flags = f,
                                             .size = (uint16_t)chunk, .failed = failed });
        for (unsigned i = 0; first && i < nextra; i++) {
            net_rx_take(&q->rxr, &id, &gref);
            stage_rsp(q, &(struct netq_rx_rsp){ .extra = true, .x = x[i] });
        }
        first = false;
    }
}

void netq_rx_commit(struct net_queue *q)
{
    if (!q->nstage)
        return;
    sc_gnt_batch_flush(&q->copies);
    for (unsigned i = 0; i < q->nstage; i++) {
        const struct netq_rx_rsp *r = &q->stage[i];
        if (r->extra)
            net_rx_put_extra(&q->rxr, &r->x);
        else
            net_rx_put(&q->rxr, r->id, r->offset, r->flags,
                       *r->failed ? NETIF_RSP_ERROR : (int16_t)r->size);
    }
    q->nstage = 0;
    sc_queue_mark_dirty(&q->sc);
}

struct seg_ctx {
    struct net_queue *q;
    struct net_offload o;
};

/* One segment of a frame segmented in software: placed and committed at
 * once, as the next segment reuses the buffer. */
static int rx_emit_segment(const uint8_t *seg, size_t len, void *arg)
{
    struct seg_ctx *c = arg;
    struct net_queue *q = c->q;
    bool *failed = &q->rx_copy_failed[NETQ_RX_BACKLOG];
    *failed = false;
    struct netq_src src = { .local = seg, .head = seg, .headlen = (uint32_t)len };
    netq_rx_place(q, &src, (uint32_t)len, &c->o, failed);
    netq_rx_commit(q);
    netq_count(q, NETQ_GSO_SEGMENTED, 1);
    return 0;
}

/* The frame's checksum as the frontend can take it. */
static int rx_fix_csum(struct net_queue *q, uint8_t *frame, uint32_t len, struct net_offload *o)
{
    if (!o->csum_partial || (q->feat.csum && (q->feat.ipv6_csum || !net_hdr_is_ipv6(frame, len))))
        return 0;
    int rc = net_csum_complete(frame, len, o);
    if (rc == 0) {
        o->csum_partial = false;
        o->csum_valid = true;
        netq_count(q, NETQ_CSUM_FIXUPS, 1);
    }
    return rc;
}

/* Reads frames from the uplink into the backlog while it has room; past
 * that, reads and drops (the uplink stays readable otherwise, and the core
 * would never sleep). */
static void rx_read(struct net_queue *q)
{
    if (q->tap_fd < 0)
        return;
    for (unsigned budget = NETQ_RX_BACKLOG; budget > 0; budget--) {
        bool full = q->rx_count == NETQ_RX_BACKLOG;
        /* Full while the guest posts buffers: the backlog drains this
         * visit; the kernel's queue holds the rest (and drops, cheaper
         * than our read).  Only a guest that posts nothing has the
         * interface drained here, or its readability would spin the core. */
        if (full && net_rxr_avail(&q->rxr) > 0)
            return;
        struct netq_rx_frame *f = &q->rx[(q->rx_head + q->rx_count) % NETQ_RX_BACKLOG];
        struct virtio_net_hdr vh;
        struct iovec iov[2] = {
            { .iov_base = &vh, .iov_len = sizeof(vh) },
            { .iov_base = full ? q->seg_buf : f->buf, .iov_len = NETQ_FRAME_MAX },
        };
        ssize_t n = readv(q->tap_fd, iov, 2);
        if (n < 0) {
            if (errno != EAGAIN && errno != EINTR)
                sc_log_limited(&q->rl, SC_LOG_WARN, q->sc.name, "reading the uplink: %s",
                               strerror(errno));
            return;
        }
        if ((size_t)n < sizeof(vh) + NET_ETH_HLEN) {
            netq_count(q, NETQ_RX_ERRORS, 1);
            continue;
        }
        uint32_t len = (uint32_t)((size_t)n - sizeof(vh));
        const uint8_t *data = iov[1].iov_base;
        if (full) {
            netq_count(q, NETQ_RX_DROPS, 1);
            continue;
        }
        if (!net_mcast_wants(&q->shared->mcast, data)) {
            netq_count(q, NETQ_RX_FILTERED, 1);
            continue;
        }
        f->vh = vh;
        f->len = len;
        q->rx_count++;
    }
}

int netq_rx_admit(struct net_queue *q, const struct sc_sched_grant *g, struct sc_visit *v,
                  uint32_t len, uint32_t need, int *avail)
{
    if ((uint32_t)*avail < need) {
        q->rx_want = need;
        return 0;
    }
    if (!sc_sched_grant_admits(g, v->bytes, v->requests, len)) {
        v->more = true;
        return 0;
    }
    uint64_t retry;
    if (!net_rate_take(&q->shared->rx_rate, len, v->now_ns, &retry)) {
        q->rx_wait_ns = retry;
        netq_count(q, NETQ_RX_THROTTLED, 1);
        return 0;
    }
    v->requests++;
    v->bytes += len;
    *avail -= (int)need;
    netq_count(q, NETQ_RX_PACKETS, 1);
    netq_count(q, NETQ_RX_BYTES, len);
    return 1;
}

void netq_rx_local(struct net_queue *q, uint8_t *frame, uint32_t len, struct net_offload *o,
                   bool *failed)
{
    if (o->gso_type != NET_GSO_NONE && !netq_takes_gso(q, o->gso_type) && o->hdr_len < len) {
        netq_rx_commit(q); /* what is staged keeps its order */
        /* segments come out with complete checksums */
        struct seg_ctx c = { .q = q, .o = { .csum_valid = true } };
        if (net_gso_segment(frame, len, o, q->seg_buf, NETQ_FRAME_MAX, rx_emit_segment, &c) < 0)
            netq_count(q, NETQ_RX_ERRORS, 1);
        return;
    }
    if (rx_fix_csum(q, frame, len, o) < 0) {
        netq_count(q, NETQ_RX_ERRORS, 1);
        return;
    }
    struct netq_src src = { .local = frame, .head = frame, .headlen = len };
    netq_rx_place(q, &src, len, o, failed);
}

int netq_rx_poll(struct net_queue *q, const struct sc_sched_grant *g, struct sc_visit *v)
{
    q->feat.xdp_headroom = atomic_load_explicit(&q->shared->xdp_headroom, memory_order_relaxed);
    rx_read(q);
    q->rx_want = 0;
    q->rx_wait_ns = 0;
    int avail = net_rxr_avail(&q->rxr);
    if (avail < 0)
        return avail;
    if (q->port) {
        netq_sw_rx(q, g, v, &avail);
        return 0;
    }
    while (q->rx_count) {
        struct netq_rx_frame *f = &q->rx[q->rx_head];
        struct net_offload o;
        bool drop = net_offload_from_vnet(&f->vh, &o) < 0;
        if (!drop && (o.csum_partial || o.gso_type != NET_GSO_NONE))
            drop = net_offload_setup(f->buf, f->len, &o) < 0;
        uint32_t need = drop ? NO_FIT : netq_rx_slots(q, f->len, &o);
        if (need != NO_FIT && !netq_rx_admit(q, g, v, f->len, need, &avail))
            break;
        unsigned idx = q->rx_head;
        q->rx_head = (q->rx_head + 1) % NETQ_RX_BACKLOG;
        q->rx_count--;
        if (need == NO_FIT) {
            sc_log_limited(&q->rl, SC_LOG_WARN, q->sc.name,
                           "dropped a %u-byte frame from the uplink: the frontend cannot take it",
                           f->len);
            netq_count(q, NETQ_RX_DROPS, 1);
            continue;
        }
        q->rx_copy_failed[idx] = false;
        netq_rx_local(q, f->buf, f->len, &o, &q->rx_copy_failed[idx]);
    }
    netq_rx_commit(q);
    return 0;
}

unsigned netq_rx_want(struct net_queue *q)
{
    bool waiting = q->rx_count || q->swq_len;
    return waiting ? (q->rx_want ? q->rx_want : 1) : 0;
}
