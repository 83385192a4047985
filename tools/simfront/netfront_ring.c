/*
 * netfront_ring.c - the ring level of the simulated netfront: a queue's tx
 * and rx shared rings, its event channel(s), frame encoding into tx slots
 * and frame assembly from rx responses.
 *
 * TX ids index txs[] (as Linux netfront's tx_skbs[]): one id per data slot,
 * each with its own page, granted read-only while the slot is in flight.
 * A frame's first id holds the frame's state until its last slot is
 * answered, so responses may come in any order.
 * RX buffers are indexed by ring slot (as Linux's rx_skbs[]): netif.h says a
 * response, or an extra, sits in the slot of the request it consumed, so
 * the page behind response i is the one posted at request i.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include "netfront.h"

_Static_assert(__CONST_RING_SIZE(netif_tx, NF_PAGE_SIZE) == NF_TX_RING_SIZE, "tx ring size");
_Static_assert(__CONST_RING_SIZE(netif_rx, NF_PAGE_SIZE) == NF_RX_RING_SIZE, "rx ring size");
_Static_assert(sizeof(netif_tx_request_t) == 12, "tx slot is 12 octets");
_Static_assert(sizeof(netif_rx_response_t) == 8, "rx slot is 8 octets");
_Static_assert(sizeof(netif_extra_info_t) == 8, "an extra fits a slot");

#define NF_NO_ID UINT16_MAX
#define NF_ETH_HLEN 14u

/* One tx id (Linux's tx_skbs[id]). */
struct nf_tx_slot {
    void *va;               /* its page; NULL until first used or after a leak */
    uint64_t gfn;
    int32_t gref;           /* -1: not granted */
    bool busy;              /* on the ring, not answered */
    uint16_t head;          /* id of its frame's first slot */
    uint16_t next_free;
    /* Frame state, valid in the head slot only. */
    bool frame_open;        /* some slot not answered yet */
    uint8_t left;           /* slots not answered */
    uint8_t worst;          /* 0 okay, 1 dropped, 2 error */
};

/* One rx ring slot's buffer (Linux's rx_skbs[i]). */
struct nf_rx_slot {
    void *va;
    uint64_t gfn;
    int32_t gref;
};

/* A page the backend would not let go: never reused, retried at destroy. */
struct nf_leak {
    void *va;
    grant_ref_t gref;
};

struct nf_queue {
    struct xsim_guest *g;
    domid_t backend;
    netif_tx_front_ring_t tx;
    netif_rx_front_ring_t rx;
    void *tx_page, *rx_page;
    uint64_t tx_gfn, rx_gfn;
    int32_t tx_ref, rx_ref;
    struct xsim_evtchn *evh;
    evtchn_port_t tx_port, rx_port;
    bool split;
    bool broken;
    struct nf_queue_features feat;

    struct nf_tx_slot txs[NF_TX_RING_SIZE];
    uint16_t tx_free_head;
    unsigned tx_ids_free;
    unsigned tx_inflight;   /* own frames not fully answered */
    unsigned raw_pending;   /* raw entries whose answer may still come */

    struct nf_rx_slot rxs[NF_RX_RING_SIZE];

    struct nf_leak *leaks;
    size_t n_leaks, cap_leaks;

    struct nf_queue_stats st;
};

/* ---- pages and grants ---- */

static int page_alloc(struct nf_queue *q, void **va, uint64_t *gfn)
{
    *va = xsim_guest_pages_alloc(q->g, 1, gfn);
    return *va ? 0 : -ENOMEM;
}

/* Ends a grant after the backend answered.  false if the backend still
 * holds it: the page is then leaked (kept out of use, retried at destroy). */
static bool end_grant(struct nf_queue *q, void *va, int32_t gref)
{
    if (gref < 0)
        return true;
    if (xsim_guest_end_access(q->g, (grant_ref_t)gref) != -EBUSY)
        return true;
    q->st.grant_busy++;
    if (q->n_leaks == q->cap_leaks) {
        size_t cap = q->cap_leaks ? q->cap_leaks * 2 : 8;
        struct nf_leak *l = realloc(q->leaks, cap * sizeof(*l));
        if (!l)
            return false; /* forgotten: the page is lost either way */
        q->leaks = l;
        q->cap_leaks = cap;
    }
    q->leaks[q->n_leaks++] = (struct nf_leak){ .va = va, .gref = (grant_ref_t)gref };
    return false;
}

/* ---- create / destroy ---- */

static int ring_page(struct nf_queue *q, void **va, uint64_t *gfn, int32_t *ref)
{
    int err = page_alloc(q, va, gfn);
    if (err)
        return err;
    int r = xsim_guest_grant(q->g, q->backend, *gfn, false);
    if (r < 0)
        return r;
    *ref = r;
    return 0;
}

int nf_queue_create(struct xsim_guest *g, domid_t backend, bool split, struct nf_queue **out)
{
    if (!g || !out)
        return -EINVAL;
    struct nf_queue *q = calloc(1, sizeof(*q));
    if (!q)
        return -ENOMEM;
    q->g = g;
    q->backend = backend;
    q->split = split;
    q->tx_ref = q->rx_ref = -1;
    for (unsigned i = 0; i < NF_TX_RING_SIZE; i++) {
        q->txs[i].gref = -1;
        q->txs[i].next_free = i + 1 < NF_TX_RING_SIZE ? (uint16_t)(i + 1) : NF_NO_ID;
    }
    q->tx_free_head = 0;
    q->tx_ids_free = NF_TX_RING_SIZE;
    for (unsigned i = 0; i < NF_RX_RING_SIZE; i++)
        q->rxs[i].gref = -1;

    int err = ring_page(q, &q->tx_page, &q->tx_gfn, &q->tx_ref);
    if (!err)
        err = ring_page(q, &q->rx_page, &q->rx_gfn, &q->rx_ref);
    if (err)
        goto fail;
    SHARED_RING_INIT((netif_tx_sring_t *)q->tx_page);
    FRONT_RING_INIT(&q->tx, (netif_tx_sring_t *)q->tx_page, NF_PAGE_SIZE);
    SHARED_RING_INIT((netif_rx_sring_t *)q->rx_page);
    FRONT_RING_INIT(&q->rx, (netif_rx_sring_t *)q->rx_page, NF_PAGE_SIZE);

    q->evh = xsim_evtchn_open(xsim_guest_xsim(g));
    if (!q->evh) {
        err = -errno;
        goto fail;
    }
    int port = xsim_evtchn_alloc_unbound(q->evh, backend);
    if (port < 0) {
        err = port;
        goto fail;
    }
    q->tx_port = q->rx_port = (evtchn_port_t)port;
    if (split) {
        port = xsim_evtchn_alloc_unbound(q->evh, backend);
        if (port < 0) {
            err = port;
            goto fail;
        }
        q->rx_port = (evtchn_port_t)port;
    }
    *out = q;
    return 0;
fail:
    nf_queue_destroy(q);
    return err;
}

static void free_ring_page(struct nf_queue *q, void *va, int32_t ref)
{
    if (!va)
        return;
    if (ref >= 0 && xsim_guest_end_access(q->g, (grant_ref_t)ref) == -EBUSY) {
        q->st.grant_busy++;
        return;
    }
    xsim_guest_pages_free(q->g, va, 1);
}

void nf_queue_destroy(struct nf_queue *q)
{
    if (!q)
        return;
    if (q->evh)
        xsim_evtchn_close(q->evh);
    free_ring_page(q, q->tx_page, q->tx_ref);
    free_ring_page(q, q->rx_page, q->rx_ref);
    for (unsigned i = 0; i < NF_TX_RING_SIZE; i++)
        free_ring_page(q, q->txs[i].va, q->txs[i].gref);
    for (unsigned i = 0; i < NF_RX_RING_SIZE; i++)
        free_ring_page(q, q->rxs[i].va, q->rxs[i].gref);
    for (size_t i = 0; i < q->n_leaks; i++)
        if (xsim_guest_end_access(q->g, q->leaks[i].gref) == 0)
            xsim_guest_pages_free(q->g, q->leaks[i].va, 1);
    free(q->leaks);
    free(q);
}

void nf_queue_set_features(struct nf_queue *q, const struct nf_queue_features *f)
{
    q->feat = *f;
}

grant_ref_t nf_queue_tx_ref(const struct nf_queue *q) { return (grant_ref_t)q->tx_ref; }
grant_ref_t nf_queue_rx_ref(const struct nf_queue *q) { return (grant_ref_t)q->rx_ref; }
bool nf_queue_split(const struct nf_queue *q) { return q->split; }
evtchn_port_t nf_queue_tx_port(const struct nf_queue *q) { return q->tx_port; }
evtchn_port_t nf_queue_rx_port(const struct nf_queue *q) { return q->rx_port; }
int nf_queue_fd(const struct nf_queue *q) { return xsim_evtchn_fd(q->evh); }
unsigned nf_queue_tx_free(const struct nf_queue *q)
{
    return NF_TX_RING_SIZE - (q->tx.req_prod_pvt - q->tx.rsp_cons);
}
unsigned nf_queue_tx_inflight(const struct nf_queue *q) { return q->tx_inflight; }
netif_tx_sring_t *nf_queue_tx_sring(struct nf_queue *q) { return q->tx.sring; }
netif_rx_sring_t *nf_queue_rx_sring(struct nf_queue *q) { return q->rx.sring; }
const struct nf_queue_stats *nf_queue_get_stats(const struct nf_queue *q) { return &q->st; }

static int kick(struct nf_queue *q, evtchn_port_t port)
{
    return xsim_evtchn_notify(q->evh, port);
}

int nf_queue_kick(struct nf_queue *q)
{
    int err = kick(q, q->tx_port);
    if (!err && q->split)
        err = kick(q, q->rx_port);
    return err;
}

/* ---- tx ---- */

static uint16_t id_get(struct nf_queue *q)
{
    uint16_t id = q->tx_free_head;
    struct nf_tx_slot *s = &q->txs[id];
    q->tx_free_head = s->next_free;
    q->tx_ids_free--;
    s->busy = true;
    s->head = id;
    s->frame_open = false;
    return id;
}

static void id_put(struct nf_queue *q, uint16_t id)
{
    struct nf_tx_slot *s = &q->txs[id];
    s->busy = false;
    s->frame_open = false;
    s->next_free = q->tx_free_head;
    q->tx_free_head = id;
    q->tx_ids_free++;
}

/* Ends the id's grant; a page the backend still holds is leaked. */
static void id_end_grant(struct nf_queue *q, struct nf_tx_slot *s)
{
    if (!end_grant(q, s->va, s->gref))
        s->va = NULL;
    s->gref = -1;
}

/* A request (or an extra, `len` 8) written into the next slot at once. */
static void put_tx_entry(struct nf_queue *q, const void *entry, size_t len)
{
    union netif_tx_sring_entry e;
    memset(&e, 0, sizeof(e));
    memcpy(&e, entry, len);
    memcpy(RING_GET_REQUEST(&q->tx, q->tx.req_prod_pvt), &e, sizeof(e));
    q->tx.req_prod_pvt++;
}

static int check_meta(const struct nf_queue *q, const struct nf_tx_meta *m)
{
    if (m->offset >= NF_PAGE_SIZE)
        return -EINVAL;
    switch (m->gso_type) {
    case XEN_NETIF_GSO_TYPE_NONE:
        return 0;
    case XEN_NETIF_GSO_TYPE_TCPV4:
        if (!q->feat.gso_tcpv4)
            return -EOPNOTSUPP;
        break;
    case XEN_NETIF_GSO_TYPE_TCPV6:
        if (!q->feat.gso_tcpv6)
            return -EOPNOTSUPP;
        break;
    default:
        return -EINVAL;
    }
    return m->gso_size ? 0 : -EINVAL;
}

int nf_send(struct nf_queue *q, const uint8_t *frame, size_t len, const struct nf_tx_meta *meta)
{
    static const struct nf_tx_meta none;
    if (!meta)
        meta = &none;
    if (q->broken)
        return -EPROTO;
    if (!frame || len == 0)
        return -EINVAL;
    if (len > NF_MAX_FRAME)
        return -EMSGSIZE;
    int err = check_meta(q, meta);
    if (err)
        return err;
    bool gso = meta->gso_type != XEN_NETIF_GSO_TYPE_NONE;
    size_t nslots = (meta->offset + len + NF_PAGE_SIZE - 1) / NF_PAGE_SIZE;
    if ((nslots > 1 && !q->feat.sg) || nslots > NF_MAX_SLOTS)
        return -EMSGSIZE;
    if (nf_queue_tx_free(q) < nslots + gso || q->tx_ids_free < nslots)
        return -ENOSPC;

    /* Pages first: nothing reaches the ring unless every slot is ready. */
    uint16_t ids[NF_MAX_SLOTS];
    uint16_t offs[NF_MAX_SLOTS], sizes[NF_MAX_SLOTS];
    size_t done = 0, taken = 0;
    size_t off = meta->offset;
    for (; taken < nslots; taken++) {
        uint16_t id = id_get(q);
        ids[taken] = id;
        struct nf_tx_slot *s = &q->txs[id];
        if (!s->va && (err = page_alloc(q, &s->va, &s->gfn)) < 0)
            goto undo;
        size_t chunk = len - done < NF_PAGE_SIZE - off ? len - done : NF_PAGE_SIZE - off;
        memcpy((uint8_t *)s->va + off, frame + done, chunk);
        int ref = xsim_guest_grant(q->g, q->backend, s->gfn, true);
        if (ref < 0) {
            err = ref;
            goto undo;
        }
        s->gref = ref;
        offs[taken] = (uint16_t)off;
        sizes[taken] = (uint16_t)chunk;
        done += chunk;
        off = 0;
    }

    struct nf_tx_slot *h = &q->txs[ids[0]];
    h->frame_open = true;
    h->left = (uint8_t)nslots;
    h->worst = 0;
    for (size_t k = 0; k < nslots; k++) {
        q->txs[ids[k]].head = ids[0];
        netif_tx_request_t r = {
            .gref = (grant_ref_t)q->txs[ids[k]].gref,
            .offset = offs[k],
            .id = ids[k],
            .size = k == 0 ? (uint16_t)len : sizes[k], /* first: the whole frame */
        };
        if (k + 1 < nslots)
            r.flags |= NETTXF_more_data;
        if (k == 0) {
            if (meta->csum_blank)
                r.flags |= NETTXF_csum_blank | NETTXF_data_validated;
            else if (meta->data_validated)
                r.flags |= NETTXF_data_validated;
            if (gso)
                r.flags |= NETTXF_extra_info;
        }
        put_tx_entry(q, &r, sizeof(r));
        if (k == 0 && gso) {
            netif_extra_info_t x = { .type = XEN_NETIF_EXTRA_TYPE_GSO };
            x.u.gso.size = meta->gso_size;
            x.u.gso.type = meta->gso_type;
            put_tx_entry(q, &x, sizeof(x));
        }
    }
    q->tx_inflight++;
    q->st.tx_frames++;
    q->st.tx_bytes += len;
    q->st.tx_slots += nslots;
    if (gso)
        q->st.tx_gso++;
    if (meta->csum_blank)
        q->st.tx_csum_blank++;
    return 0;
undo:
    for (size_t k = 0; k < taken; k++) {
        struct nf_tx_slot *s = &q->txs[ids[k]];
        if (s->gref >= 0)
            id_end_grant(q, s);
        id_put(q, ids[k]);
    }
    return err;
}

int nf_tx_mcast(struct nf_queue *q, bool add, const uint8_t mac[NF_ETH_ALEN])
{
    if (q->broken)
        return -EPROTO;
    if (nf_queue_tx_free(q) < 2 || !q->tx_ids_free)
        return -ENOSPC;
    uint16_t id = id_get(q);
    struct nf_tx_slot *h = &q->txs[id];
    h->frame_open = true;
    h->left = 1;
    h->worst = 0;
    netif_tx_request_t r = { .flags = NETTXF_extra_info, .id = id };
    put_tx_entry(q, &r, sizeof(r));
    netif_extra_info_t x = {
        .type = add ? XEN_NETIF_EXTRA_TYPE_MCAST_ADD : XEN_NETIF_EXTRA_TYPE_MCAST_DEL,
    };
    memcpy(x.u.mcast.addr, mac, NF_ETH_ALEN);
    put_tx_entry(q, &x, sizeof(x));
    q->tx_inflight++;
    q->st.tx_mcast++;
    return 0;
}

int nf_tx_raw(struct nf_queue *q, const netif_tx_request_t *reqs, unsigned n)
{
    if (q->broken)
        return -EPROTO;
    if (nf_queue_tx_free(q) < n)
        return -ENOSPC;
    for (unsigned i = 0; i < n; i++)
        put_tx_entry(q, &reqs[i], sizeof(reqs[i]));
    q->raw_pending += n;
    q->st.tx_raw += n;
    return 0;
}

void nf_tx_raw_prod(struct nf_queue *q, RING_IDX req_prod)
{
    xen_wmb(); /* the entries before the index */
    q->tx.sring->req_prod = req_prod;
    xen_mb();
    kick(q, q->tx_port);
}

void nf_rx_raw_prod(struct nf_queue *q, RING_IDX req_prod)
{
    xen_wmb();
    q->rx.sring->req_prod = req_prod;
    xen_mb();
    kick(q, q->rx_port);
}

int nf_push(struct nf_queue *q)
{
    if (q->tx.req_prod_pvt == q->tx.sring->req_prod)
        return 0;
    int notify;
    RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(&q->tx, notify);
    q->st.tx_pushes++;
    if (!notify)
        return 0;
    int err = kick(q, q->tx_port);
    if (err < 0)
        return err;
    q->st.tx_kicks_sent++;
    return 1;
}

static void count_tx_status(struct nf_queue *q, int16_t status)
{
    switch (status) {
    case NETIF_RSP_OKAY: q->st.tx_rsp_okay++; break;
    case NETIF_RSP_ERROR: q->st.tx_rsp_error++; break;
    case NETIF_RSP_DROPPED: q->st.tx_rsp_dropped++; break;
    default: q->st.tx_rsp_other++; break;
    }
}

/* One answered slot of an own frame; true if that completed the frame. */
static bool tx_complete_slot(struct nf_queue *q, uint16_t id, int16_t status)
{
    struct nf_tx_slot *s = &q->txs[id];
    id_end_grant(q, s);
    s->busy = false;
    uint16_t hid = s->head;
    struct nf_tx_slot *h = &q->txs[hid];
    uint8_t sev = status == NETIF_RSP_OKAY ? 0 : status == NETIF_RSP_DROPPED ? 1 : 2;
    if (sev > h->worst)
        h->worst = sev;
    if (id != hid)
        id_put(q, id);
    if (--h->left)
        return false;
    /* The head is kept (not busy, frame open) until its last slot. */
    q->tx_inflight--;
    q->st.tx_done++;
    if (h->worst == 2)
        q->st.tx_frames_error++;
    else if (h->worst == 1)
        q->st.tx_frames_dropped++;
    id_put(q, hid);
    return true;
}

static int tx_broken(struct nf_queue *q)
{
    q->st.bad_responses++;
    q->broken = true;
    return -EPROTO;
}

int nf_tx_reap(struct nf_queue *q)
{
    if (q->broken)
        return -EPROTO;
    int frames = 0;
    int more;
    do {
        RING_IDX rp = q->tx.sring->rsp_prod;
        xen_rmb(); /* responses read only after the producer */
        if (rp - q->tx.rsp_cons > q->tx.req_prod_pvt - q->tx.rsp_cons)
            return tx_broken(q);
        for (; q->tx.rsp_cons != rp; q->tx.rsp_cons++) {
            netif_tx_response_t rsp;
            memcpy(&rsp, RING_GET_RESPONSE(&q->tx, q->tx.rsp_cons), sizeof(rsp));
            if (rsp.status == NETIF_RSP_NULL) {
                q->st.tx_rsp_null++;
                continue;
            }
            count_tx_status(q, rsp.status);
            bool ours = rsp.id < NF_TX_RING_SIZE && q->txs[rsp.id].busy;
            if (ours) {
                frames += tx_complete_slot(q, rsp.id, rsp.status);
            } else if (q->raw_pending) {
                q->raw_pending--;
                q->st.tx_raw_responses++;
            } else {
                q->tx.rsp_cons++;
                return tx_broken(q);
            }
        }
        RING_FINAL_CHECK_FOR_RESPONSES(&q->tx, more);
    } while (more);
    return frames;
}

/* ---- rx ---- */

static int rx_fill(struct nf_queue *q)
{
    int n = 0;
    while (q->rx.req_prod_pvt - q->rx.rsp_cons < NF_RX_RING_SIZE) {
        RING_IDX idx = q->rx.req_prod_pvt;
        struct nf_rx_slot *s = &q->rxs[idx & (NF_RX_RING_SIZE - 1)];
        if (!s->va && page_alloc(q, &s->va, &s->gfn) < 0)
            return n ? n : -ENOMEM;
        memset(s->va, 0, NF_PAGE_SIZE);
        int ref = xsim_guest_grant(q->g, q->backend, s->gfn, false);
        if (ref < 0)
            return n ? n : ref;
        s->gref = ref;
        netif_rx_request_t *r = RING_GET_REQUEST(&q->rx, idx);
        r->id = (uint16_t)(idx & (NF_RX_RING_SIZE - 1));
        r->pad = 0;
        r->gref = (grant_ref_t)ref;
        q->rx.req_prod_pvt++;
        q->st.rx_posted++;
        n++;
    }
    return n;
}

int nf_rx_refill(struct nf_queue *q)
{
    if (q->broken)
        return -EPROTO;
    int n = rx_fill(q);
    if (q->rx.req_prod_pvt == q->rx.sring->req_prod)
        return n;
    int notify;
    RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(&q->rx, notify);
    q->st.rx_pushes++;
    if (notify) {
        int err = kick(q, q->rx_port);
        if (err < 0)
            return err;
        q->st.rx_kicks_sent++;
    }
    return n;
}

/* Takes ring slot idx back from the backend: its page, or NULL if the
 * backend kept its grant (the page is leaked but still readable now). */
static const uint8_t *rx_take_slot(struct nf_queue *q, RING_IDX idx)
{
    struct nf_rx_slot *s = &q->rxs[idx & (NF_RX_RING_SIZE - 1)];
    const uint8_t *va = s->va;
    if (!end_grant(q, s->va, s->gref))
        s->va = NULL;
    s->gref = -1;
    return va;
}

/* Reads the response at idx once into *out (the backend may rewrite it). */
static void rx_read(struct nf_queue *q, RING_IDX idx, void *out)
{
    memcpy(out, RING_GET_RESPONSE(&q->rx, idx), sizeof(netif_rx_response_t));
}

/* Reads the extras after the first response; the last index consumed. */
static RING_IDX rx_extras(struct nf_queue *q, RING_IDX i, RING_IDX rp, netif_extra_info_t *ex,
                          struct nf_rx_meta *m, uint64_t **why)
{
    netif_extra_info_t x;
    do {
        if (i + 1 == rp) {
            *why = &q->st.rx_incomplete;
            return i;
        }
        rx_read(q, ++i, &x);
        rx_take_slot(q, i);
        m->extras++;
        if (x.type == XEN_NETIF_EXTRA_TYPE_NONE || x.type > NF_EXTRA_TYPE_XDP) {
            if (!*why)
                *why = &q->st.rx_bad_extra;
        } else {
            ex[x.type - 1] = x;
        }
    } while (x.flags & XEN_NETIF_EXTRA_FLAG_MORE);
    return i;
}

static void rx_meta_from_extras(struct nf_queue *q, const netif_extra_info_t *ex,
                                struct nf_rx_meta *m, uint64_t **why)
{
    const netif_extra_info_t *gso = &ex[XEN_NETIF_EXTRA_TYPE_GSO - 1];
    if (gso->type) {
        if (!gso->u.gso.size || (gso->u.gso.type != XEN_NETIF_GSO_TYPE_TCPV4 &&
                                 gso->u.gso.type != XEN_NETIF_GSO_TYPE_TCPV6)) {
            if (!*why)
                *why = &q->st.rx_bad_gso;
        }
        m->gso_type = gso->u.gso.type;
        m->gso_size = gso->u.gso.size;
        m->gso_features = gso->u.gso.features;
    }
    const netif_extra_info_t *hash = &ex[XEN_NETIF_EXTRA_TYPE_HASH - 1];
    if (hash->type) {
        m->hash_valid = true;
        m->hash_type = hash->u.hash.type;
        m->hash_alg = hash->u.hash.algorithm;
        memcpy(&m->hash, hash->u.hash.value, sizeof(m->hash));
    }
}

/*
 * Consumes the frame at rsp_cons (rp: the producer seen): its first
 * response, extras, then the more_data chain, as xennet_get_responses
 * walks it.  Length, or 0 if the frame was dropped (counted).
 */
static int rx_take_frame(struct nf_queue *q, RING_IDX rp, uint8_t *buf, size_t cap,
                         struct nf_rx_meta *m)
{
    RING_IDX first = q->rx.rsp_cons, i = first;
    netif_rx_response_t rsp;
    netif_extra_info_t ex[NF_EXTRA_TYPE_XDP];
    uint64_t *why = NULL;
    memset(m, 0, sizeof(*m));
    memset(ex, 0, sizeof(ex));
    rx_read(q, first, &rsp);
    m->flags = rsp.flags;
    const uint8_t *page = rx_take_slot(q, first);
    if (rsp.flags & NETRXF_extra_info)
        i = rx_extras(q, i, rp, ex, m, &why);
    const netif_extra_info_t *xdp = &ex[NF_EXTRA_TYPE_XDP - 1];
    if (xdp->type) { /* the data starts after the headroom (Linux does the same) */
        m->xdp_headroom = xdp->u.pad[0];
        rsp.offset = m->xdp_headroom;
    }
    size_t total = 0;
    bool fits = true;
    RING_IDX di = first;
    for (;;) {
        m->slots++;
        if (rsp.id != (di & (NF_RX_RING_SIZE - 1)))
            q->st.rx_bad_id++;
        if (rsp.status < 0) {
            if (!why)
                why = &q->st.rx_rsp_error;
        } else if ((size_t)rsp.offset + (size_t)rsp.status > NF_PAGE_SIZE) {
            if (!why)
                why = &q->st.rx_bad_offset;
        } else if (!why) {
            size_t n = (size_t)rsp.status;
            if (total + n <= cap && page)
                memcpy(buf + total, page + rsp.offset, n);
            else
                fits = false;
            total += n;
        }
        if (!(rsp.flags & NETRXF_more_data))
            break;
        if (i + 1 == rp) {
            if (!why)
                why = &q->st.rx_incomplete;
            break;
        }
        di = ++i;
        rx_read(q, di, &rsp);
        page = rx_take_slot(q, di);
    }
    q->rx.rsp_cons = i + 1;
    q->st.rx_slots += m->slots;
    q->st.rx_extras += m->extras;
    if (m->slots > NF_MAX_SLOTS && !why)
        why = &q->st.rx_too_many_slots;
    rx_meta_from_extras(q, ex, m, &why);
    if (!why && !fits)
        why = &q->st.rx_truncated;
    if (!why && total < NF_ETH_HLEN)
        why = &q->st.rx_runt;
    if (why) {
        (*why)++;
        q->st.rx_errors++;
        return 0;
    }
    m->csum_blank = m->flags & NETRXF_csum_blank;
    m->data_validated = m->flags & NETRXF_data_validated;
    q->st.rx_frames++;
    q->st.rx_bytes += total;
    q->st.rx_gso += m->gso_type != XEN_NETIF_GSO_TYPE_NONE;
    q->st.rx_csum_blank += m->csum_blank;
    q->st.rx_data_validated += m->data_validated;
    q->st.rx_hash += m->hash_valid;
    return (int)total;
}

static unsigned rx_free(const struct nf_queue *q)
{
    return NF_RX_RING_SIZE - (q->rx.req_prod_pvt - q->rx.rsp_cons);
}

int nf_recv(struct nf_queue *q, uint8_t *buf, size_t cap, struct nf_rx_meta *meta)
{
    struct nf_rx_meta local;
    if (!meta)
        meta = &local;
    if (q->broken)
        return -EPROTO;
    for (;;) {
        RING_IDX rp = q->rx.sring->rsp_prod;
        xen_rmb(); /* responses read only after the producer */
        if (rp - q->rx.rsp_cons > q->rx.req_prod_pvt - q->rx.rsp_cons) {
            q->st.bad_responses++;
            q->broken = true;
            return -EPROTO;
        }
        if (q->rx.rsp_cons == rp) {
            if (rx_free(q))
                nf_rx_refill(q); /* a failed refill is retried next call */
            int more;
            RING_FINAL_CHECK_FOR_RESPONSES(&q->rx, more);
            if (!more)
                return 0;
            continue;
        }
        int n = rx_take_frame(q, rp, buf, cap, meta);
        if (rx_free(q) >= NF_RX_REFILL_MIN)
            nf_rx_refill(q);
        if (n > 0)
            return n;
    }
}

int nf_wait(struct nf_queue *q, int timeout_ms)
{
    struct pollfd pfd = { .fd = xsim_evtchn_fd(q->evh), .events = POLLIN };
    int n = poll(&pfd, 1, timeout_ms);
    if (n < 0)
        return errno == EINTR ? 0 : -errno;
    int got = 0;
    int port;
    while ((port = xsim_evtchn_pending(q->evh)) >= 0) {
        if (q->split && (evtchn_port_t)port == q->tx_port) {
            q->st.kicks_received_tx++;
            got |= NF_KICK_TX;
        } else {
            q->st.kicks_received_rx++;
            got |= q->split ? NF_KICK_RX : NF_KICK_TX | NF_KICK_RX;
        }
        int err = xsim_evtchn_unmask(q->evh, (evtchn_port_t)port);
        if (err < 0)
            return err;
    }
    return got;
}
