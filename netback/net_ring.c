/*
 * net_ring.c - netif tx fetch and validation, tx and rx responses
 * (net_ring.h has the contract).
 */
#include <errno.h>
#include <string.h>

#include "net_ring.h"

/* Guest-writable bytes into private memory, final: the compiler may not
 * re-read the shared slot instead of the copy (see blk_proto.c). */
static void copy_from_guest(void *dst, const void *src, size_t n)
{
    memcpy(dst, src, n);
    __asm__ __volatile__("" ::: "memory");
}

const char *net_tx_drop_str(enum net_tx_drop d)
{
    static const char *const s[NET_TX_DROP__COUNT] = {
        [NET_TX_KEEP] = "kept",
        [NET_TX_DROP_RUNT] = "shorter than an Ethernet header",
        [NET_TX_DROP_SLOTS] = "too many slots",
        [NET_TX_DROP_OVERSIZE] = "fragments larger than the packet",
        [NET_TX_DROP_ZERO_FRAG] = "a zero-sized fragment",
        [NET_TX_DROP_GSO] = "a bad GSO descriptor",
    };
    return (unsigned)d < NET_TX_DROP__COUNT ? s[d] : "invalid";
}

/* ---- attach and counting ---- */

#define NET_DEFINE_ATTACH(fn, detach, R, S, SIZE, RSP)                                        \
    int fn(R *r, void *sring, const char *log_name, uint64_t ring_id, unsigned *recovered)    \
    {                                                                                         \
        memset(r, 0, sizeof(*r));                                                             \
        S *s = sring;                                                                         \
        /* first: a push torn by an unclean exit is finished before the                      \
         * indices are read */                                                                \
        int err = sc_rsp_stage_open(&r->rsp, sring, sizeof(s->ring[0]), sizeof(RSP), (SIZE),  \
                                    log_name, ring_id, recovered);                            \
        if (err)                                                                              \
            return err;                                                                       \
        RING_IDX rsp = __atomic_load_n(&s->rsp_prod, __ATOMIC_ACQUIRE);                       \
        RING_IDX req = __atomic_load_n(&s->req_prod, __ATOMIC_ACQUIRE);                       \
        BACK_RING_ATTACH(&r->back, s, rsp, NET_PAGE_SIZE);                                    \
        if ((RING_IDX)(req - rsp) > (SIZE)) {                                                 \
            r->broken = true;                                                                 \
            r->why = "the producer index is more than a ring ahead";                         \
            return -EPROTO;                                                                   \
        }                                                                                     \
        return 0;                                                                             \
    }                                                                                         \
    void detach(R *r)                                                                         \
    {                                                                                         \
        if (r)                                                                                \
            sc_rsp_stage_close(&r->rsp);                                                      \
    }

NET_DEFINE_ATTACH(net_txr_attach, net_txr_detach, struct net_txr, netif_tx_sring_t,
                  NET_TX_RING_SIZE, netif_tx_response_t)
NET_DEFINE_ATTACH(net_rxr_attach, net_rxr_detach, struct net_rxr, netif_rx_sring_t,
                  NET_RX_RING_SIZE, netif_rx_response_t)

/* prod - cons, after checking the frontend kept prod within a ring of the
 * responses (so a consumed slot is never one we have yet to answer) and
 * never moved it backwards past what we consumed. */
#define NET_DEFINE_AVAIL(fn, R, SIZE)                                                         \
    int fn(R *r)                                                                              \
    {                                                                                         \
        if (r->broken)                                                                        \
            return -EPROTO;                                                                   \
        RING_IDX prod = __atomic_load_n(&r->back.sring->req_prod, __ATOMIC_ACQUIRE);          \
        RING_IDX cons = r->back.req_cons;                                                     \
        RING_IDX pvt = r->back.rsp_prod_pvt;                                                  \
        if ((RING_IDX)(prod - pvt) > (SIZE) ||                                                \
            (RING_IDX)(cons - pvt) > (RING_IDX)(prod - pvt)) {                                \
            r->broken = true;                                                                 \
            r->why = "impossible number of requests (producer index out of range)";          \
            return -EPROTO;                                                                   \
        }                                                                                     \
        return (int)(prod - cons);                                                            \
    }

NET_DEFINE_AVAIL(net_txr_avail, struct net_txr, NET_TX_RING_SIZE)
NET_DEFINE_AVAIL(net_rxr_avail, struct net_rxr, NET_RX_RING_SIZE)

static int tx_broken(struct net_txr *r, const char *why)
{
    r->broken = true;
    r->why = why;
    return -EPROTO;
}

/* ---- tx ---- */

static void take_request(struct net_txr *r, netif_tx_request_t *out)
{
    copy_from_guest(out, RING_GET_REQUEST(&r->back, r->back.req_cons), sizeof(*out));
    r->back.req_cons++;
}

static void note_slot(struct net_tx_pkt *p, uint16_t id, bool extra)
{
    p->id[p->nslots] = id;
    p->is_extra[p->nslots] = extra;
    p->nslots++;
}

/* The extra-info slots after the first request: at most one of each type
 * (a repeated type is taken as the later one, as Linux does). */
static int fetch_extras(struct net_txr *r, struct net_tx_pkt *p, int *avail)
{
    bool more = true;
    unsigned seen = 0;
    while (more) {
        if (*avail <= 0)
            return tx_broken(r, "an extra-info slot is missing");
        if (++seen > NET_TX_MAX_EXTRAS)
            return tx_broken(r, "more extra-info slots than there are types");
        struct netif_extra_info x;
        copy_from_guest(&x, RING_GET_REQUEST(&r->back, r->back.req_cons), sizeof(x));
        r->back.req_cons++;
        (*avail)--;
        note_slot(p, 0, true);
        if (x.type == XEN_NETIF_EXTRA_TYPE_NONE || x.type >= XEN_NETIF_EXTRA_TYPE_MAX)
            return tx_broken(r, "an extra-info slot of unknown type");
        more = x.flags & XEN_NETIF_EXTRA_FLAG_MORE;
        switch (x.type) {
        case XEN_NETIF_EXTRA_TYPE_GSO:
            p->has_gso = true;
            p->gso = x;
            break;
        case XEN_NETIF_EXTRA_TYPE_MCAST_ADD:
            p->mcast_add = true;
            memcpy(p->mcast_add_addr, x.u.mcast.addr, 6);
            break;
        case XEN_NETIF_EXTRA_TYPE_MCAST_DEL:
            p->mcast_del = true;
            memcpy(p->mcast_del_addr, x.u.mcast.addr, 6);
            break;
        default: /* XEN_NETIF_EXTRA_TYPE_HASH: a hint we do not need */
            break;
        }
    }
    return 0;
}

int net_tx_fetch(struct net_txr *r, struct net_tx_pkt *p)
{
    int avail = net_txr_avail(r);
    if (avail <= 0)
        return avail;
    p->nslots = 0;
    p->nfrags = 0;
    p->drop = NET_TX_KEEP;
    p->has_gso = false;
    p->mcast_add = p->mcast_del = false;
    p->ring_idx = r->back.req_cons;

    netif_tx_request_t first;
    take_request(r, &first);
    avail--;
    note_slot(p, first.id, false);
    p->flags = first.flags;
    p->len = first.size;
    if (first.flags & NETTXF_extra_info) {
        int rc = fetch_extras(r, p, &avail);
        if (rc < 0)
            return rc;
    }

    /* The fragments.  The first request's size is the packet's; its own
     * share is what the others leave of it. */
    p->frag[0] = (struct net_tx_frag){ .gref = first.gref, .offset = first.offset };
    p->nfrags = 1;
    uint32_t rest = 0;
    bool more = first.flags & NETTXF_more_data;
    while (more) {
        if (avail <= 0)
            return tx_broken(r, "a packet's slots are not all published");
        if (p->nfrags >= NET_TX_FATAL_SLOTS)
            return tx_broken(r, "a packet uses more slots than any frontend may");
        netif_tx_request_t f;
        take_request(r, &f);
        avail--;
        note_slot(p, f.id, false);
        more = f.flags & NETTXF_more_data;
        if ((uint32_t)f.offset + f.size > NET_PAGE_SIZE)
            return tx_broken(r, "a fragment crosses its page");
        if (f.size == 0 && p->drop == NET_TX_KEEP)
            p->drop = NET_TX_DROP_ZERO_FRAG;
        rest += f.size;
        if (rest > p->len && p->drop == NET_TX_KEEP)
            p->drop = NET_TX_DROP_OVERSIZE;
        p->frag[p->nfrags++] = (struct net_tx_frag){ .gref = f.gref, .offset = f.offset,
                                                     .size = f.size };
    }
    if (p->nfrags > NET_TX_MAX_SLOTS && p->drop == NET_TX_KEEP)
        p->drop = NET_TX_DROP_SLOTS;
    if (p->drop == NET_TX_KEEP) {
        p->frag[0].size = (uint16_t)(p->len - rest);
        if ((uint32_t)first.offset + p->frag[0].size > NET_PAGE_SIZE)
            return tx_broken(r, "a packet's first fragment crosses its page");
    }
    /* A multicast-control packet carries no frame (netif.h: the first
     * request is a dummy); anything else shorter than a header is a runt. */
    if (p->drop == NET_TX_KEEP && p->len < NET_ETH_HLEN && !p->mcast_add &&
        !p->mcast_del)
        p->drop = NET_TX_DROP_RUNT;
    if (p->drop == NET_TX_KEEP && p->has_gso &&
        (p->gso.u.gso.size == 0 || (p->gso.u.gso.type != XEN_NETIF_GSO_TYPE_TCPV4 &&
                                    p->gso.u.gso.type != XEN_NETIF_GSO_TYPE_TCPV6)))
        p->drop = NET_TX_DROP_GSO;
    return 1;
}

int net_tx_peek_len(const struct net_txr *r)
{
    if (!net_txr_has_requests(r))
        return -1;
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
    const netif_tx_request_t *req = RING_GET_REQUEST(&r->back, r->back.req_cons);
    return __atomic_load_n(&req->size, __ATOMIC_RELAXED);
}

void net_tx_respond(struct net_txr *r, const struct net_tx_pkt *p, int16_t status)
{
    for (unsigned i = 0; i < p->nslots; i++) {
        netif_tx_response_t rsp = {
            .id = p->id[i],
            .status = p->is_extra[i] ? NETIF_RSP_NULL : status,
        };
        /* refused: answered already (a caller's double answer stays single) */
        if (sc_rsp_stage_put(&r->rsp, p->ring_idx + i, &rsp) < 0)
            return;
    }
}

/* ---- rx ---- */

void net_rx_take(struct net_rxr *r, uint16_t *id, grant_ref_t *gref)
{
    netif_rx_request_t req;
    copy_from_guest(&req, RING_GET_REQUEST(&r->back, r->back.req_cons), sizeof(req));
    r->back.req_cons++;
    *id = req.id;
    *gref = req.gref;
}

/* In the slot of the request taken first among those not answered (none
 * taken: nothing to answer). */
static void rx_put_next(struct net_rxr *r, const netif_rx_response_t *rsp)
{
    if (sc_rsp_stage_next(&r->rsp) != r->back.req_cons)
        sc_rsp_stage_put(&r->rsp, sc_rsp_stage_next(&r->rsp), rsp);
}

void net_rx_put(struct net_rxr *r, uint16_t id, uint16_t offset, uint16_t flags, int16_t status)
{
    netif_rx_response_t rsp = { .id = id, .offset = offset, .flags = flags, .status = status };
    rx_put_next(r, &rsp);
}

void net_rx_put_extra(struct net_rxr *r, const struct netif_extra_info *x)
{
    _Static_assert(sizeof(*x) <= sizeof(netif_rx_response_t), "extra info overlays a response");
    netif_rx_response_t rsp;
    memset(&rsp, 0, sizeof(rsp));
    memcpy(&rsp, x, sizeof(*x));
    rx_put_next(r, &rsp);
}

/* ---- publishing and re-arming ---- */

/* Publishes, and keeps the back ring's rsp_prod_pvt (which the producer
 * checks read) at what is published. */
static bool push(struct sc_rsp_stage *rsp, RING_IDX *rsp_prod_pvt)
{
    bool notify = sc_rsp_stage_push(rsp);
    *rsp_prod_pvt = rsp->published;
    return notify;
}

bool net_txr_push(struct net_txr *r)
{
    return push(&r->rsp, &r->back.rsp_prod_pvt);
}

bool net_rxr_push(struct net_rxr *r)
{
    return push(&r->rsp, &r->back.rsp_prod_pvt);
}

bool net_txr_final_check(struct net_txr *r)
{
    if (r->broken)
        return false;
    int more = 0;
    RING_FINAL_CHECK_FOR_REQUESTS(&r->back, more);
    return more;
}

bool net_rxr_final_check(struct net_rxr *r, unsigned want)
{
    if (r->broken)
        return false;
    if (want < 1)
        want = 1;
    RING_IDX cons = r->back.req_cons;
    __atomic_store_n(&r->back.sring->req_event, cons + want, __ATOMIC_RELAXED);
    xen_mb();
    RING_IDX prod = __atomic_load_n(&r->back.sring->req_prod, __ATOMIC_ACQUIRE);
    return (RING_IDX)(prod - cons) >= want;
}
