/*
 * net_ring.h - the netif tx and rx rings (xen/io/netif.h): fetching and
 * validating the guest's transmit packets, answering them, and placing
 * receive responses in the slots of the requests they consume.  Pure code:
 * no I/O, no threads, no Xen calls; the caller maps the rings, copies the
 * data and sends the kicks.
 *
 * Contract
 * - A struct net_txr / net_rxr belongs to the sidecore polling its queue;
 *   nothing here locks.  Everything on the shared pages is hostile: each
 *   slot is copied out once and only the copy is looked at.
 * - net_tx_fetch() takes one whole packet (first request, its extra-info
 *   slots, its fragments) and validates it as Linux netback does after
 *   XSA-39/228/392/423.  A packet that is merely bad (too many slots, a
 *   runt, fragments larger than the packet, a zero-sized fragment, a bad
 *   GSO descriptor) comes back with `drop` set: answer it with an error and
 *   count it.  A ring state that cannot happen (the producer more than a
 *   ring ahead, a packet whose slots are not all published, more slots than
 *   any frontend may use, a fragment crossing its page, an unknown extra
 *   type) returns -EPROTO and the ring stays broken: fail the vif.
 * - net_tx_respond() answers every slot a packet consumed (the extras with
 *   NETIF_RSP_NULL, as netif.h wants one response per slot).
 * - Rx responses land in the slot of the request they consume: netif.h's
 *   rule, which Linux netfront relies on (extra-info responses overlay the
 *   id).  net_rx_take() consumes a request; net_rx_put()/_put_extra()
 *   stage the response of the request taken first among those not yet
 *   answered, in order.
 * - Responses are staged (backend/rsp_stage.h) and _push() writes them to
 *   the ring in ring order, publishes them and says whether to kick; a
 *   push torn by a SIGKILL is finished by the next daemon's attach, so a
 *   restart at rsp_prod answers nothing twice and loses nothing.
 *   _final_check() re-arms the request event before the core sleeps and
 *   says whether work raced in.
 */
#ifndef SC_NET_RING_H
#define SC_NET_RING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rsp_stage.h"
#include "xen_ring.h"
#include <xen/io/netif.h>

#include "net_hdr.h" /* NET_ETH_HLEN */

#define NET_PAGE_SIZE   4096u
/* Slots a packet may use and still be sent: netif.h's minimum every
 * backend must take (XEN_NETIF_NR_SLOTS_MIN, Linux's max_skb_slots). */
#define NET_TX_MAX_SLOTS XEN_NETIF_NR_SLOTS_MIN
/* Above this a frontend is broken or hostile (Linux's fatal_skb_slots). */
#define NET_TX_FATAL_SLOTS 20u
#define NET_TX_MAX_EXTRAS (XEN_NETIF_EXTRA_TYPE_MAX - 1)
#define NET_TX_RING_SIZE __CONST_RING_SIZE(netif_tx, NET_PAGE_SIZE)
#define NET_RX_RING_SIZE __CONST_RING_SIZE(netif_rx, NET_PAGE_SIZE)

/* Why a packet is dropped (net_tx_pkt.drop); 0 = keep it. */
enum net_tx_drop {
    NET_TX_KEEP = 0,
    NET_TX_DROP_RUNT,        /* shorter than an Ethernet header */
    NET_TX_DROP_SLOTS,       /* more than NET_TX_MAX_SLOTS slots */
    NET_TX_DROP_OVERSIZE,    /* fragments add up to more than the packet */
    NET_TX_DROP_ZERO_FRAG,   /* a fragment of 0 bytes */
    NET_TX_DROP_GSO,         /* a GSO descriptor with size 0 or an unknown type */
    NET_TX_DROP__COUNT
};
const char *net_tx_drop_str(enum net_tx_drop d);

struct net_tx_frag {
    grant_ref_t gref;
    uint16_t offset;
    uint16_t size;           /* the fragment's own bytes (the first's too) */
};

/* One packet as fetched: private copies only. */
struct net_tx_pkt {
    uint16_t nslots;         /* ring slots consumed: requests and extras */
    RING_IDX ring_idx;       /* its first slot's ring index: where its answers go */
    uint16_t nfrags;         /* frag[0..nfrags) */
    uint16_t flags;          /* NETTXF_* of the first request */
    uint16_t len;            /* the packet's length (the first request's size) */
    enum net_tx_drop drop;
    bool has_gso;
    struct netif_extra_info gso;   /* when has_gso */
    /* multicast filter operations carried (XEN_NETIF_EXTRA_TYPE_MCAST_*) */
    bool mcast_add, mcast_del;
    uint8_t mcast_add_addr[6], mcast_del_addr[6];
    /* the response owed per consumed slot, in ring order */
    uint16_t id[NET_TX_FATAL_SLOTS + NET_TX_MAX_EXTRAS];
    bool is_extra[NET_TX_FATAL_SLOTS + NET_TX_MAX_EXTRAS];
    struct net_tx_frag frag[NET_TX_FATAL_SLOTS];
};

struct net_txr {
    netif_tx_back_ring_t back;
    bool broken;             /* sticky after -EPROTO */
    const char *why;         /* what broke it (static string) */
    struct sc_rsp_stage rsp;
};

struct net_rxr {
    netif_rx_back_ring_t back;
    bool broken;
    const char *why;
    struct sc_rsp_stage rsp;
};

/* Attach to mapped shared pages (one page each), continuing where an
 * earlier backend left the rings: req_cons = rsp_prod.  log_name/ring_id:
 * the response log (sc_rsp_stage_open: a push torn by an unclean exit is
 * finished first, its count in *recovered, which may be NULL); NULL:
 * private.  0, -EPROTO when the producer is already more than a ring ahead
 * (the ring is broken), or the log's -errno.  _detach() when done (also
 * after a failed attach). */
int net_txr_attach(struct net_txr *r, void *sring, const char *log_name, uint64_t ring_id,
                   unsigned *recovered);
int net_rxr_attach(struct net_rxr *r, void *sring, const char *log_name, uint64_t ring_id,
                   unsigned *recovered);
void net_txr_detach(struct net_txr *r);
void net_rxr_detach(struct net_rxr *r);

/* Requests published and not consumed, or -EPROTO (broken now). */
int net_txr_avail(struct net_txr *r);
int net_rxr_avail(struct net_rxr *r);

/* 1: a packet fetched into *p (check p->drop); 0: no request waiting;
 * -EPROTO: the ring is broken (r->why says why). */
int net_tx_fetch(struct net_txr *r, struct net_tx_pkt *p);
/* The size of the next packet (its first request's, read without
 * committing to anything: for admission only, the fetch re-reads it), or
 * -1 when no request waits. */
int net_tx_peek_len(const struct net_txr *r);
/* Answers every slot of p with `status` (NETIF_RSP_OKAY, _ERROR,
 * _DROPPED); the extras with NETIF_RSP_NULL.  Answers are staged in fetch
 * order: one given early (a frame sent at once while an earlier one is
 * still at a receiver of the switch) waits for the earlier ones, so the
 * published responses always answer a prefix of the consumed requests,
 * and a restart at rsp_prod neither answers a request twice nor loses one
 * (netif.h lets responses come in any order; Linux netfront tolerates it,
 * but only ring order survives a crash). */
void net_tx_respond(struct net_txr *r, const struct net_tx_pkt *p, int16_t status);

/* Consumes one rx request: its id and grant.  Call only when
 * net_rxr_avail() said there is one. */
void net_rx_take(struct net_rxr *r, uint16_t *id, grant_ref_t *gref);
/* The response for the next request taken and not answered yet: offset,
 * flags, status (bytes or NETIF_RSP_*). */
void net_rx_put(struct net_rxr *r, uint16_t id, uint16_t offset, uint16_t flags, int16_t status);
/* An extra-info response in the slot of the next request not answered. */
void net_rx_put_extra(struct net_rxr *r, const struct netif_extra_info *x);

/* Writes the staged responses to their slots and publishes them: true
 * when the frontend wants a kick. */
bool net_txr_push(struct net_txr *r);
bool net_rxr_push(struct net_rxr *r);
/* Before sleeping: req_event = req_cons + 1, barrier, re-check.  True when
 * requests raced in.  A broken ring says false. */
bool net_txr_final_check(struct net_txr *r);
/* For rx, the event is set `want` requests ahead: the backend needs that
 * many (a whole packet) before it can place anything. */
bool net_rxr_final_check(struct net_rxr *r, unsigned want);

/* Cheap look (no barrier, no write): requests published beyond req_cons. */
static inline bool net_txr_has_requests(const struct net_txr *r)
{
    return !r->broken &&
           __atomic_load_n(&r->back.sring->req_prod, __ATOMIC_RELAXED) != r->back.req_cons;
}

#endif
