/*
 * fuzz_netif.c - the netif tx and rx rings as a hostile frontend writes
 * them (netback/net_ring.h): tx packets fetched, checked and answered one
 * response per slot; rx requests taken and answered in their slots
 * (responses and extra-info overlays), then pushed.
 *
 * Input: 4 header bytes
 *   [0] bit 0: answer every tx packet OKAY (else by its drop reason),
 *       bit 1: rx answers include extra-info slots (per the script)
 *   [1] rx requests to take at most   [2..3] rx answer script seed
 * then the tx ring page (4096 bytes), then the rx ring page; what the
 * input lacks is zero.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>

#include "fuzz.h"
#include "net_ring.h"

#define ROUNDS_MAX 512u  /* packets per input: more than a ring holds */

static void check_packet(const struct net_tx_pkt *p)
{
    FUZZ_CHECK(p->nslots >= 1 && p->nslots <= NET_TX_FATAL_SLOTS + NET_TX_MAX_EXTRAS);
    FUZZ_CHECK(p->nfrags >= 1 && p->nfrags <= NET_TX_FATAL_SLOTS);
    FUZZ_CHECK(p->drop < NET_TX_DROP__COUNT);
    (void)net_tx_drop_str(p->drop);
    for (unsigned i = 1; i < p->nfrags; i++)
        FUZZ_CHECK((uint32_t)p->frag[i].offset + p->frag[i].size <= NET_PAGE_SIZE);
    if (p->drop != NET_TX_KEEP)
        return;
    /* a packet kept is what it says: fragments adding up to its length,
     * each inside its page, few enough slots, at least a header */
    uint32_t sum = 0;
    for (unsigned i = 0; i < p->nfrags; i++) {
        FUZZ_CHECK((uint32_t)p->frag[i].offset + p->frag[i].size <= NET_PAGE_SIZE);
        sum += p->frag[i].size;
    }
    FUZZ_CHECK(sum == p->len);
    FUZZ_CHECK(p->nfrags <= NET_TX_MAX_SLOTS);
    FUZZ_CHECK(p->len >= NET_ETH_HLEN || p->mcast_add || p->mcast_del);
    if (p->has_gso)
        FUZZ_CHECK(p->gso.u.gso.size != 0);
}

static void serve_tx(void *page, bool all_ok)
{
    struct net_txr r;
    int rc = net_txr_attach(&r, page, NULL, 0, NULL);
    FUZZ_CHECK(rc == 0 || rc == -EPROTO);
    if (rc == 0) {
        struct net_tx_pkt p;
        for (unsigned i = 0; i < ROUNDS_MAX; i++) {
            (void)net_tx_peek_len(&r);
            rc = net_tx_fetch(&r, &p);
            FUZZ_CHECK(rc == 1 || rc == 0 || rc == -EPROTO);
            if (rc <= 0)
                break;
            check_packet(&p);
            net_tx_respond(&r, &p, all_ok || p.drop == NET_TX_KEEP ? NETIF_RSP_OKAY
                                                                   : NETIF_RSP_ERROR);
            /* a second answer is refused, not published twice */
            net_tx_respond(&r, &p, NETIF_RSP_OKAY);
            (void)net_txr_push(&r);
            const netif_tx_sring_t *s = page;
            FUZZ_CHECK(s->rsp_prod == r.back.req_cons);
        }
        if (rc == -EPROTO)
            FUZZ_CHECK(r.broken && r.why);
        (void)net_txr_final_check(&r);
    }
    net_txr_detach(&r);
}

static void serve_rx(void *page, unsigned take_max, bool extras, uint16_t script)
{
    struct net_rxr r;
    int rc = net_rxr_attach(&r, page, NULL, 0, NULL);
    FUZZ_CHECK(rc == 0 || rc == -EPROTO);
    if (rc == 0) {
        int avail = net_rxr_avail(&r);
        FUZZ_CHECK(avail == -EPROTO || (avail >= 0 && (unsigned)avail <= NET_RX_RING_SIZE));
        unsigned n = avail > 0 ? (unsigned)avail : 0;
        if (n > take_max)
            n = take_max;
        for (unsigned i = 0; i < n; i++) {
            uint16_t id;
            grant_ref_t gref;
            net_rx_take(&r, &id, &gref);
            if (extras && (script >> (i % 16) & 1)) {
                struct netif_extra_info x = { .type = XEN_NETIF_EXTRA_TYPE_GSO };
                x.u.gso.size = 1448;
                x.u.gso.type = XEN_NETIF_GSO_TYPE_TCPV4;
                net_rx_put_extra(&r, &x);
            } else {
                net_rx_put(&r, id, (uint16_t)(gref % NET_PAGE_SIZE), 0,
                           (int16_t)(i % 3 ? 60 + i : NETIF_RSP_DROPPED));
            }
            if (i % 7 == 6)
                (void)net_rxr_push(&r);
        }
        /* an answer with nothing taken is ignored */
        net_rx_put(&r, 0, 0, 0, NETIF_RSP_OKAY);
        (void)net_rxr_push(&r);
        if (!r.broken) {
            const netif_rx_sring_t *s = page;
            FUZZ_CHECK(s->rsp_prod == r.back.req_cons);
        }
        (void)net_rxr_final_check(&r, 1 + take_max % 18);
    }
    net_rxr_detach(&r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_in in = { data, size };
    uint8_t flags = fuzz_u8(&in);
    unsigned take_max = fuzz_u8(&in);
    uint16_t script = fuzz_u16(&in);
    void *tx = aligned_alloc(NET_PAGE_SIZE, NET_PAGE_SIZE);
    void *rx = aligned_alloc(NET_PAGE_SIZE, NET_PAGE_SIZE);
    FUZZ_CHECK(tx && rx);
    fuzz_bytes(&in, tx, NET_PAGE_SIZE);
    fuzz_bytes(&in, rx, NET_PAGE_SIZE);
    serve_tx(tx, flags & 1);
    serve_rx(rx, take_max, flags & 2, script);
    free(tx);
    free(rx);
    return 0;
}
