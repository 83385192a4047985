/*
 * simnetfront_ring_test.c - the simulated netfront's ring level
 * (tools/simfront/netfront.h) against a backend side written here, in the
 * same process and thread: dom0's xsim connection maps the guest's rings
 * and pages exactly as a backend would, consumes tx requests and produces
 * rx responses by hand.
 *
 * Checks: how a frame is laid out in tx slots (one slot, split at page
 * boundaries with sg, the first slot's size, the GSO extra after it,
 * csum flags), grants read-only and ended after the response, responses in
 * any order, ERROR/DROPPED/NULL counted, an unknown id breaking the queue;
 * multicast and raw entries; the rx ring posted with zeroed writable pages,
 * a more_data chain with extras assembled, every malformed response kind
 * counted and skipped, an over-producing backend caught; split channels.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "netfront.h"
#include "simworld.h"
#include "xensim.h"
#include "xensim_guest.h"

struct world {
    struct simworld w;
    struct xsim *x0;
    domid_t guest;
    struct xsim_guest *g;
    struct nf_queue *q;
    /* the backend side */
    netif_tx_back_ring_t tx;
    netif_rx_back_ring_t rx;
    void *txs, *rxs;
    struct xsim_evtchn *evh;
    int tx_port, rx_port;
};

static int setup(void **state)
{
    struct world *t = calloc(1, sizeof(*t));
    if (!t)
        return -1;
    int id = simworld_start_with_guest(&t->w, "guest", &t->x0);
    if (id <= 0)
        return -1;
    t->guest = (domid_t)id;
    t->g = xsim_guest_open(t->w.dir, t->guest);
    if (!t->g)
        return -1;
    *state = t;
    return 0;
}

static int teardown(void **state)
{
    struct world *t = *state;
    if (t->evh)
        xsim_evtchn_close(t->evh);
    if (t->txs)
        xsim_grant_unmap(t->x0, t->txs, 1);
    if (t->rxs)
        xsim_grant_unmap(t->x0, t->rxs, 1);
    nf_queue_destroy(t->q);
    xsim_guest_close(t->g);
    xsim_close(t->x0);
    simworld_stop(&t->w);
    free(t);
    return 0;
}

/* A queue with `f`, its rings mapped and channels bound by "the backend". */
static void attach(struct world *t, bool split, const struct nf_queue_features *f)
{
    assert_int_equal(nf_queue_create(t->g, 0, split, &t->q), 0);
    if (f)
        nf_queue_set_features(t->q, f);
    grant_ref_t ref = nf_queue_tx_ref(t->q);
    t->txs = xsim_grant_map(t->x0, t->guest, 1, &ref, true, NULL);
    ref = nf_queue_rx_ref(t->q);
    t->rxs = xsim_grant_map(t->x0, t->guest, 1, &ref, true, NULL);
    assert_non_null(t->txs);
    assert_non_null(t->rxs);
    BACK_RING_INIT(&t->tx, (netif_tx_sring_t *)t->txs, NF_PAGE_SIZE);
    BACK_RING_INIT(&t->rx, (netif_rx_sring_t *)t->rxs, NF_PAGE_SIZE);
    t->evh = xsim_evtchn_open(t->x0);
    assert_non_null(t->evh);
    t->tx_port = xsim_evtchn_bind_interdomain(t->evh, t->guest, nf_queue_tx_port(t->q));
    assert_true(t->tx_port > 0);
    t->rx_port = t->tx_port;
    if (split) {
        t->rx_port = xsim_evtchn_bind_interdomain(t->evh, t->guest, nf_queue_rx_port(t->q));
        assert_true(t->rx_port > 0);
    }
}

/* Ports kicked since last asked, as a bitmask: 1 tx port, 2 rx port. */
static int be_kicks(struct world *t)
{
    int mask = 0, p;
    while ((p = xsim_evtchn_pending(t->evh)) >= 0) {
        mask |= p == t->tx_port ? 1 : 0;
        mask |= p == t->rx_port ? 2 : 0;
        xsim_evtchn_unmask(t->evh, (evtchn_port_t)p);
    }
    return mask;
}

/* Every tx slot the frontend published, copied out. */
static unsigned be_tx_take(struct world *t, netif_tx_request_t *out, unsigned max)
{
    unsigned n = 0;
    RING_IDX rp = t->tx.sring->req_prod;
    while (t->tx.req_cons != rp && n < max) {
        memcpy(&out[n++], RING_GET_REQUEST(&t->tx, t->tx.req_cons), sizeof(*out));
        t->tx.req_cons++;
    }
    return n;
}

static netif_extra_info_t as_extra(const netif_tx_request_t *r)
{
    netif_extra_info_t x;
    memcpy(&x, r, sizeof(x));
    return x;
}

static void be_tx_respond(struct world *t, uint16_t id, int16_t status)
{
    netif_tx_response_t *rsp = RING_GET_RESPONSE(&t->tx, t->tx.rsp_prod_pvt);
    rsp->id = id;
    rsp->status = status;
    t->tx.rsp_prod_pvt++;
}

static void be_tx_push(struct world *t)
{
    int notify;
    RING_PUSH_RESPONSES_AND_CHECK_NOTIFY(&t->tx, notify);
    if (notify)
        xsim_evtchn_notify(t->evh, (evtchn_port_t)t->tx_port);
}

static uint8_t *be_map(struct world *t, grant_ref_t ref, bool writable)
{
    return xsim_grant_map(t->x0, t->guest, 1, &ref, writable, NULL);
}

static void fill(uint8_t *b, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        b[i] = (uint8_t)(i * 31 + seed * 7 + (i >> 8));
}

/* Checks slot r's page holds frame[from, from+size) at r's offset. */
static void check_slot_data(struct world *t, const netif_tx_request_t *r, const uint8_t *frame,
                            size_t from, size_t size)
{
    uint8_t *p = be_map(t, r->gref, false);
    assert_non_null(p);
    assert_memory_equal(p + r->offset, frame + from, size);
    xsim_grant_unmap(t->x0, p, 1);
}

/* ---------------- tx ---------------- */

static void test_tx_one_slot_without_sg(void **state)
{
    struct world *t = *state;
    attach(t, false, NULL);
    uint8_t f[5000];
    fill(f, sizeof(f), 1);
    struct nf_tx_meta m = { .csum_blank = true };
    assert_int_equal(nf_send(t->q, f, 60, &m), 0);
    assert_int_equal(nf_push(t->q), 1); /* req_event starts at 1: kicked */
    assert_int_equal(be_kicks(t) & 1, 1);
    netif_tx_request_t r[8];
    assert_int_equal(be_tx_take(t, r, 8), 1);
    assert_int_equal(r[0].size, 60);
    assert_int_equal(r[0].offset, 0);
    assert_int_equal(r[0].flags, NETTXF_csum_blank | NETTXF_data_validated);
    check_slot_data(t, &r[0], f, 0, 60);
    /* Read-only for the backend. */
    assert_null(be_map(t, r[0].gref, true));

    /* What cannot go without sg, or at all. */
    assert_int_equal(nf_send(t->q, f, 4097, NULL), -EMSGSIZE);
    struct nf_tx_meta off = { .offset = 4000 };
    assert_int_equal(nf_send(t->q, f, 200, &off), -EMSGSIZE);
    struct nf_tx_meta gso = { .gso_type = XEN_NETIF_GSO_TYPE_TCPV4, .gso_size = 1448 };
    assert_int_equal(nf_send(t->q, f, 100, &gso), -EOPNOTSUPP);
    assert_int_equal(nf_send(t->q, f, 0, NULL), -EINVAL);
    assert_int_equal(nf_send(t->q, f, 65536, NULL), -EMSGSIZE);

    be_tx_respond(t, r[0].id, NETIF_RSP_OKAY);
    be_tx_push(t);
    assert_int_equal(nf_tx_reap(t->q), 1);
    const struct nf_queue_stats *s = nf_queue_get_stats(t->q);
    assert_int_equal(s->tx_done, 1);
    assert_int_equal(s->tx_rsp_okay, 1);
    assert_int_equal(s->tx_csum_blank, 1);
    assert_int_equal(nf_queue_tx_inflight(t->q), 0);
    /* The grant ended with the response. */
    assert_null(be_map(t, r[0].gref, false));
    /* The reap re-armed rsp_event: the next response kicks. */
    assert_int_equal(t->tx.sring->rsp_event, t->tx.rsp_prod_pvt + 1);
}

static void test_tx_sg_split_with_gso_extra(void **state)
{
    struct world *t = *state;
    struct nf_queue_features feat = { .sg = true, .gso_tcpv4 = true };
    attach(t, false, &feat);
    uint8_t f[9000];
    fill(f, sizeof(f), 2);
    struct nf_tx_meta m = {
        .csum_blank = true, .gso_type = XEN_NETIF_GSO_TYPE_TCPV4, .gso_size = 1448, .offset = 100,
    };
    assert_int_equal(nf_send(t->q, f, sizeof(f), &m), 0);
    nf_push(t->q);
    netif_tx_request_t r[8];
    assert_int_equal(be_tx_take(t, r, 8), 4);
    /* First slot: the whole frame's size, its data to the page's end. */
    assert_int_equal(r[0].size, 9000);
    assert_int_equal(r[0].offset, 100);
    assert_int_equal(r[0].flags, NETTXF_csum_blank | NETTXF_data_validated |
                                     NETTXF_extra_info | NETTXF_more_data);
    netif_extra_info_t x = as_extra(&r[1]);
    assert_int_equal(x.type, XEN_NETIF_EXTRA_TYPE_GSO);
    assert_int_equal(x.flags, 0);
    assert_int_equal(x.u.gso.size, 1448);
    assert_int_equal(x.u.gso.type, XEN_NETIF_GSO_TYPE_TCPV4);
    assert_int_equal(r[2].offset, 0);
    assert_int_equal(r[2].size, 4096);
    assert_int_equal(r[2].flags, NETTXF_more_data);
    assert_int_equal(r[3].offset, 0);
    assert_int_equal(r[3].size, 9000 - 3996 - 4096);
    assert_int_equal(r[3].flags, 0);
    check_slot_data(t, &r[0], f, 0, 3996);
    check_slot_data(t, &r[2], f, 3996, 4096);
    check_slot_data(t, &r[3], f, 3996 + 4096, 908);
    assert_int_not_equal(r[0].id, r[2].id);

    /* The extra's answer is NULL; one ERROR fails the frame. */
    be_tx_respond(t, r[0].id, NETIF_RSP_OKAY);
    be_tx_respond(t, 0, NETIF_RSP_NULL);
    be_tx_respond(t, r[2].id, NETIF_RSP_OKAY);
    be_tx_respond(t, r[3].id, NETIF_RSP_ERROR);
    be_tx_push(t);
    assert_int_equal(nf_tx_reap(t->q), 1);
    const struct nf_queue_stats *s = nf_queue_get_stats(t->q);
    assert_int_equal(s->tx_rsp_null, 1);
    assert_int_equal(s->tx_rsp_okay, 2);
    assert_int_equal(s->tx_rsp_error, 1);
    assert_int_equal(s->tx_frames_error, 1);
    assert_int_equal(s->tx_gso, 1);
    assert_int_equal(s->tx_slots, 3);

    /* The largest frame at the worst offset: 17 slots. */
    static uint8_t big[NF_MAX_FRAME];
    fill(big, sizeof(big), 3);
    struct nf_tx_meta late = { .offset = 4095 };
    assert_int_equal(nf_send(t->q, big, sizeof(big), &late), 0);
    nf_push(t->q);
    netif_tx_request_t rb[20];
    assert_int_equal(be_tx_take(t, rb, 20), 17);
    assert_int_equal(rb[0].size, NF_MAX_FRAME);
    size_t at = 1;
    check_slot_data(t, &rb[0], big, 0, 1);
    for (unsigned i = 1; i < 17; i++) {
        size_t n = i < 16 ? 4096 : NF_MAX_FRAME - 1 - 15 * 4096;
        assert_int_equal(rb[i].size, n);
        check_slot_data(t, &rb[i], big, at, n);
        at += n;
    }
}

static void test_tx_any_order_dropped_and_bad_id(void **state)
{
    struct world *t = *state;
    struct nf_queue_features feat = { .sg = true };
    attach(t, false, &feat);
    uint8_t f[6000];
    fill(f, sizeof(f), 4);
    assert_int_equal(nf_send(t->q, f, sizeof(f), NULL), 0);
    assert_int_equal(nf_send(t->q, f, 100, NULL), 0);
    nf_push(t->q);
    netif_tx_request_t r[4];
    assert_int_equal(be_tx_take(t, r, 4), 3);
    /* Last first: the two-slot frame completes only with its first slot. */
    be_tx_respond(t, r[2].id, NETIF_RSP_DROPPED);
    be_tx_respond(t, r[1].id, NETIF_RSP_OKAY);
    be_tx_push(t);
    assert_int_equal(nf_tx_reap(t->q), 1);
    assert_int_equal(nf_queue_tx_inflight(t->q), 1);
    be_tx_respond(t, r[0].id, NETIF_RSP_OKAY);
    be_tx_push(t);
    assert_int_equal(nf_tx_reap(t->q), 1);
    const struct nf_queue_stats *s = nf_queue_get_stats(t->q);
    assert_int_equal(s->tx_frames_dropped, 1);
    assert_int_equal(s->tx_done, 2);
    assert_int_equal(nf_queue_tx_free(t->q), NF_TX_RING_SIZE);

    /* An answer to an id never issued (or answered twice) breaks the queue. */
    assert_int_equal(nf_send(t->q, f, 100, NULL), 0);
    nf_push(t->q);
    assert_int_equal(be_tx_take(t, r, 4), 1);
    be_tx_respond(t, r[0].id, NETIF_RSP_OKAY);
    be_tx_respond(t, r[0].id, NETIF_RSP_OKAY);
    be_tx_push(t);
    assert_int_equal(nf_tx_reap(t->q), -EPROTO);
    assert_int_equal(s->bad_responses, 1);
    assert_int_equal(nf_send(t->q, f, 100, NULL), -EPROTO);
}

static void test_tx_more_responses_than_requests(void **state)
{
    struct world *t = *state;
    attach(t, false, NULL);
    uint8_t f[100] = { 0 };
    assert_int_equal(nf_send(t->q, f, sizeof(f), NULL), 0);
    nf_push(t->q);
    netif_tx_request_t r[2];
    assert_int_equal(be_tx_take(t, r, 2), 1);
    be_tx_respond(t, r[0].id, NETIF_RSP_OKAY);
    be_tx_respond(t, 77, NETIF_RSP_OKAY);
    be_tx_push(t);
    assert_int_equal(nf_tx_reap(t->q), -EPROTO);
}

static void test_tx_mcast_raw_and_prod(void **state)
{
    struct world *t = *state;
    attach(t, false, NULL);
    const uint8_t mac[6] = { 0x01, 0x00, 0x5e, 0x00, 0x00, 0xfb };
    assert_int_equal(nf_tx_mcast(t->q, true, mac), 0);
    nf_push(t->q);
    netif_tx_request_t r[4];
    assert_int_equal(be_tx_take(t, r, 4), 2);
    assert_int_equal(r[0].flags, NETTXF_extra_info);
    assert_int_equal(r[0].size, 0);
    netif_extra_info_t x = as_extra(&r[1]);
    assert_int_equal(x.type, XEN_NETIF_EXTRA_TYPE_MCAST_ADD);
    assert_memory_equal(x.u.mcast.addr, mac, 6);
    be_tx_respond(t, r[0].id, NETIF_RSP_OKAY);
    be_tx_respond(t, 0, NETIF_RSP_NULL);
    be_tx_push(t);
    assert_int_equal(nf_tx_reap(t->q), 1);
    assert_int_equal(nf_queue_get_stats(t->q)->tx_mcast, 1);

    /* Raw entries land verbatim; an answer with their id is not a fault. */
    netif_tx_request_t raw[2] = {
        { .gref = 12345, .offset = 4000, .flags = NETTXF_more_data, .id = 1000, .size = 500 },
        { .gref = 1, .offset = 2, .flags = 0, .id = 1001, .size = 4 },
    };
    assert_int_equal(nf_tx_raw(t->q, raw, 2), 0);
    nf_push(t->q);
    assert_int_equal(be_tx_take(t, r, 4), 2);
    assert_memory_equal(&r[0], &raw[0], sizeof(raw[0]));
    assert_memory_equal(&r[1], &raw[1], sizeof(raw[1]));
    be_tx_respond(t, 1000, NETIF_RSP_ERROR);
    be_tx_respond(t, 1001, NETIF_RSP_ERROR);
    be_tx_push(t);
    assert_int_equal(nf_tx_reap(t->q), 0);
    assert_int_equal(nf_queue_get_stats(t->q)->tx_raw_responses, 2);

    /* Any producer index, with a kick. */
    be_kicks(t);
    nf_tx_raw_prod(t->q, 5000);
    assert_int_equal(t->tx.sring->req_prod, 5000);
    assert_int_equal(be_kicks(t) & 1, 1);
    nf_rx_raw_prod(t->q, 300);
    assert_int_equal(t->rx.sring->req_prod, 300);
}

/* ---------------- rx ---------------- */

/* The backend's view of the posted request at ring index i. */
static netif_rx_request_t be_rx_req(struct world *t, RING_IDX i)
{
    netif_rx_request_t r;
    memcpy(&r, RING_GET_REQUEST(&t->rx, i), sizeof(r));
    return r;
}

/* One data response at the next slot: data copied into its page. */
static void be_rx_data(struct world *t, const uint8_t *data, uint16_t off, int16_t status,
                       uint16_t flags)
{
    RING_IDX i = t->rx.rsp_prod_pvt;
    netif_rx_request_t req = be_rx_req(t, i);
    if (status > 0 && off + status <= (int)NF_PAGE_SIZE) {
        uint8_t *p = be_map(t, req.gref, true);
        assert_non_null(p);
        memcpy(p + off, data, (size_t)status);
        xsim_grant_unmap(t->x0, p, 1);
    }
    netif_rx_response_t *rsp = RING_GET_RESPONSE(&t->rx, i);
    rsp->id = req.id;
    rsp->offset = off;
    rsp->flags = flags;
    rsp->status = status;
    t->rx.rsp_prod_pvt++;
    t->rx.req_cons++;
}

static void be_rx_extra(struct world *t, const netif_extra_info_t *x)
{
    memcpy(RING_GET_RESPONSE(&t->rx, t->rx.rsp_prod_pvt), x, sizeof(*x));
    t->rx.rsp_prod_pvt++;
    t->rx.req_cons++;
}

static void be_rx_push(struct world *t)
{
    int notify;
    RING_PUSH_RESPONSES_AND_CHECK_NOTIFY(&t->rx, notify);
    if (notify)
        xsim_evtchn_notify(t->evh, (evtchn_port_t)t->rx_port);
}

static void test_rx_posted_zeroed_and_writable(void **state)
{
    struct world *t = *state;
    attach(t, false, NULL);
    assert_int_equal(nf_rx_refill(t->q), NF_RX_RING_SIZE);
    assert_int_equal(t->rx.sring->req_prod, NF_RX_RING_SIZE);
    for (RING_IDX i = 0; i < NF_RX_RING_SIZE; i += 37) {
        netif_rx_request_t r = be_rx_req(t, i);
        assert_int_equal(r.id, i);
        uint8_t *p = be_map(t, r.gref, true);
        assert_non_null(p);
        for (size_t k = 0; k < NF_PAGE_SIZE; k++)
            if (p[k])
                fail_msg("rx page %u not zeroed at %zu", i, k);
        xsim_grant_unmap(t->x0, p, 1);
    }
    assert_int_equal(nf_rx_refill(t->q), 0); /* full */
}

static void test_rx_chain_with_extras(void **state)
{
    struct world *t = *state;
    attach(t, false, NULL);
    nf_rx_refill(t->q);
    static uint8_t f[9128], got[NF_MAX_FRAME];
    fill(f, sizeof(f), 5);
    be_rx_data(t, f, 64, 4032,
               NETRXF_more_data | NETRXF_extra_info | NETRXF_csum_blank | NETRXF_data_validated);
    netif_extra_info_t gso = { .type = XEN_NETIF_EXTRA_TYPE_GSO };
    gso.u.gso.size = 1448;
    gso.u.gso.type = XEN_NETIF_GSO_TYPE_TCPV4;
    be_rx_extra(t, &gso);
    be_rx_data(t, f + 4032, 0, 4096, NETRXF_more_data);
    be_rx_data(t, f + 8128, 0, 1000, 0);
    be_rx_push(t);
    struct nf_rx_meta m;
    assert_int_equal(nf_recv(t->q, got, sizeof(got), &m), 9128);
    assert_memory_equal(got, f, 9128);
    assert_int_equal(m.gso_type, XEN_NETIF_GSO_TYPE_TCPV4);
    assert_int_equal(m.gso_size, 1448);
    assert_true(m.csum_blank);
    assert_true(m.data_validated);
    assert_int_equal(m.slots, 3);
    assert_int_equal(m.extras, 1);
    assert_int_equal(nf_recv(t->q, got, sizeof(got), &m), 0);
    /* Idle: the four slots were posted again and rsp_event re-armed. */
    assert_int_equal(t->rx.sring->req_prod, NF_RX_RING_SIZE + 4);
    assert_int_equal(t->rx.sring->rsp_event, t->rx.rsp_prod_pvt + 1);

    /* A chain of extras (MORE): a hash, then XDP headroom moving the data. */
    netif_extra_info_t hash = { .type = XEN_NETIF_EXTRA_TYPE_HASH,
                                .flags = XEN_NETIF_EXTRA_FLAG_MORE };
    hash.u.hash.type = _XEN_NETIF_CTRL_HASH_TYPE_IPV4_TCP;
    hash.u.hash.algorithm = XEN_NETIF_CTRL_HASH_ALGORITHM_TOEPLITZ;
    uint32_t hv = 0xdeadbeef;
    memcpy(hash.u.hash.value, &hv, 4);
    netif_extra_info_t xdp = { .type = NF_EXTRA_TYPE_XDP };
    xdp.u.pad[0] = 256;
    be_rx_data(t, f, 256, 500, NETRXF_extra_info);
    be_rx_extra(t, &hash);
    be_rx_extra(t, &xdp);
    be_rx_push(t);
    assert_int_equal(nf_recv(t->q, got, sizeof(got), &m), 500);
    assert_memory_equal(got, f, 500);
    assert_true(m.hash_valid);
    assert_int_equal(m.hash, 0xdeadbeef);
    assert_int_equal(m.hash_type, _XEN_NETIF_CTRL_HASH_TYPE_IPV4_TCP);
    assert_int_equal(m.xdp_headroom, 256);
    assert_int_equal(m.extras, 2);
    assert_int_equal(nf_queue_get_stats(t->q)->rx_frames, 2);
}

static void test_rx_malformed_counted_and_skipped(void **state)
{
    struct world *t = *state;
    attach(t, false, NULL);
    nf_rx_refill(t->q);
    uint8_t f[4096], got[NF_MAX_FRAME];
    fill(f, sizeof(f), 6);
    be_rx_data(t, f, 0, NETIF_RSP_ERROR, 0);                     /* error status */
    be_rx_data(t, f, 4000, 200, 0);                              /* beyond the page */
    be_rx_data(t, f, 0, 100, NETRXF_extra_info);                 /* extra of type 0 */
    netif_extra_info_t none = { .type = XEN_NETIF_EXTRA_TYPE_NONE };
    be_rx_extra(t, &none);
    be_rx_data(t, f, 0, 100, NETRXF_extra_info);                 /* GSO size 0 */
    netif_extra_info_t gso0 = { .type = XEN_NETIF_EXTRA_TYPE_GSO };
    gso0.u.gso.type = XEN_NETIF_GSO_TYPE_TCPV4;
    be_rx_extra(t, &gso0);
    for (int i = 0; i < NF_MAX_SLOTS + 1; i++)                   /* too many slots */
        be_rx_data(t, f, 0, 100, i < NF_MAX_SLOTS ? NETRXF_more_data : 0);
    be_rx_data(t, f, 0, 10, 0);                                  /* runt */
    be_rx_data(t, f, 0, 2000, 0);                                /* longer than the buffer */
    be_rx_data(t, f, 0, 1200, 0);                                /* a good one */
    be_rx_push(t);
    const struct nf_queue_stats *s = nf_queue_get_stats(t->q);
    assert_int_equal(nf_recv(t->q, got, 1500, NULL), 1200);
    assert_memory_equal(got, f, 1200);
    assert_int_equal(s->rx_rsp_error, 1);
    assert_int_equal(s->rx_bad_offset, 1);
    assert_int_equal(s->rx_bad_extra, 1);
    assert_int_equal(s->rx_bad_gso, 1);
    assert_int_equal(s->rx_too_many_slots, 1);
    assert_int_equal(s->rx_runt, 1);
    assert_int_equal(s->rx_truncated, 1);
    assert_int_equal(s->rx_errors, 7);
    assert_int_equal(s->rx_frames, 1);

    /* A chain cut at rsp_prod, and a response naming another slot. */
    be_rx_data(t, f, 0, 300, NETRXF_more_data);
    be_rx_push(t);
    assert_int_equal(nf_recv(t->q, got, sizeof(got), NULL), 0);
    assert_int_equal(s->rx_incomplete, 1);
    be_rx_data(t, f, 0, 300, 0);
    RING_GET_RESPONSE(&t->rx, t->rx.rsp_prod_pvt - 1)->id ^= 1;
    be_rx_push(t);
    assert_int_equal(nf_recv(t->q, got, sizeof(got), NULL), 300);
    assert_int_equal(s->rx_bad_id, 1);

    /* More responses than requests posted: the queue is unusable. */
    t->rx.sring->rsp_prod = t->rx.sring->req_prod + 1;
    assert_int_equal(nf_recv(t->q, got, sizeof(got), NULL), -EPROTO);
    assert_int_equal(s->bad_responses, 1);
}

static void test_split_channels(void **state)
{
    struct world *t = *state;
    attach(t, true, NULL);
    assert_int_not_equal(nf_queue_tx_port(t->q), nf_queue_rx_port(t->q));
    uint8_t f[64] = { 0 };
    assert_int_equal(nf_send(t->q, f, sizeof(f), NULL), 0);
    assert_int_equal(nf_push(t->q), 1);
    assert_int_equal(be_kicks(t), 1);                   /* tx port only */
    assert_true(nf_rx_refill(t->q) > 0);
    assert_int_equal(be_kicks(t), 2);                   /* rx port only */
    xsim_evtchn_notify(t->evh, (evtchn_port_t)t->rx_port);
    assert_int_equal(nf_wait(t->q, 1000), NF_KICK_RX);
    xsim_evtchn_notify(t->evh, (evtchn_port_t)t->tx_port);
    assert_int_equal(nf_wait(t->q, 1000), NF_KICK_TX);
    assert_int_equal(nf_wait(t->q, 0), 0);
    assert_int_equal(nf_queue_kick(t->q), 0);
    assert_int_equal(be_kicks(t), 3);
    const struct nf_queue_stats *s = nf_queue_get_stats(t->q);
    assert_int_equal(s->kicks_received_tx, 1);
    assert_int_equal(s->kicks_received_rx, 1);
}

static void test_one_channel_kicks_both(void **state)
{
    struct world *t = *state;
    attach(t, false, NULL);
    assert_int_equal(nf_queue_tx_port(t->q), nf_queue_rx_port(t->q));
    xsim_evtchn_notify(t->evh, (evtchn_port_t)t->tx_port);
    assert_int_equal(nf_wait(t->q, 1000), NF_KICK_TX | NF_KICK_RX);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_tx_one_slot_without_sg, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tx_sg_split_with_gso_extra, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tx_any_order_dropped_and_bad_id, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tx_more_responses_than_requests, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tx_mcast_raw_and_prod, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rx_posted_zeroed_and_writable, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rx_chain_with_extras, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rx_malformed_counted_and_skipped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_split_channels, setup, teardown),
        cmocka_unit_test_setup_teardown(test_one_channel_kicks_both, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
