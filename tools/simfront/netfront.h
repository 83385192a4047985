/*
 * netfront.h - a simulated Linux netfront over xsim_guest (libsimfront.a).
 *
 * Two levels:
 *  - Ring level (no xenstore): nf_queue_create() allocates one tx and one rx
 *    shared ring page (SHARED_RING_INIT), grants both to the backend and
 *    allocates one unbound event channel, or two (tx, rx) when split.
 *    TX: nf_send() copies a frame into pages of this guest granted read-only
 *    for that frame (one slot, or one per page crossed when sg is on; the
 *    first slot's size is the frame's length; a GSO extra slot after it),
 *    nf_push() publishes and kicks if the backend asked, nf_tx_reap() takes
 *    the responses and ends the grants.  RX: every rx slot is posted with a
 *    zeroed page granted writable (nf_rx_refill); nf_recv() returns one
 *    whole frame, assembled from its NETRXF_more_data chain with its extra
 *    info, and refills.  Responses the backend got wrong are counted and
 *    skipped (Linux: rx_errors); responses that break the ring protocol
 *    (more than requested, an unknown tx id) make the queue unusable.
 *    Hostile tests: nf_tx_raw(), nf_tx_raw_prod(), nf_rx_raw_prod().
 *  - Device level (xenstore): nf_dev_open() runs the frontend half of the
 *    XenBus handshake as Linux netfront does (xennet_connect at the
 *    backend's InitWait: feature-rx-copy required, the keys written in one
 *    transaction, rx rings filled, Connected written by the frontend
 *    itself), then waits for the backend's Connected; each feature can be
 *    switched off in struct nf_features.  nf_dev_close(), nf_dev_reconnect(),
 *    nf_dev_check() for backend state changes, nf_dev_ctrl() for the
 *    optional control ring.
 *
 * Threads: a queue, and a device with its queues, belong to one thread; no
 * function here locks.  Returns: 0 / a count, or a negative errno.
 */
#ifndef SC_SIMFRONT_NETFRONT_H
#define SC_SIMFRONT_NETFRONT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <xen/xen.h>
#include <xen/grant_table.h>
#include <xen/event_channel.h>
#include "xen_ring.h"       /* before any ring header */
#include <xen/io/netif.h>

#include "xensim_guest.h"

#define NF_PAGE_SIZE        4096u
#define NF_TX_RING_SIZE     256u    /* __CONST_RING_SIZE(netif_tx, 4096) */
#define NF_RX_RING_SIZE     256u    /* __CONST_RING_SIZE(netif_rx, 4096) */
#define NF_MAX_QUEUES       8u      /* Linux's cap (xennet_max_queues) */
#define NF_MAX_FRAME        XEN_NETIF_MAX_TX_SIZE   /* 65535 */
#define NF_MAX_SLOTS        XEN_NETIF_NR_SLOTS_MIN  /* data slots of one frame */
#define NF_RX_REFILL_MIN    (NF_MAX_SLOTS + 1)      /* Linux's NET_RX_SLOTS_MIN */
#define NF_ETH_ALEN         6u
/* Newer netif.h: headroom the backend left before the data (u.pad[0]). */
#define NF_EXTRA_TYPE_XDP   5

/* ======================= ring level ======================= */

/* What the backend offered, applied to later nf_send() calls. */
struct nf_queue_features {
    bool sg;                    /* frames may span slots */
    bool gso_tcpv4, gso_tcpv6;  /* GSO extras of that type may be sent */
};

struct nf_tx_meta {
    bool csum_blank;            /* checksum left partial: csum_blank|data_validated */
    bool data_validated;        /* checksum already right: data_validated */
    uint8_t gso_type;           /* XEN_NETIF_GSO_TYPE_NONE / _TCPV4 / _TCPV6 */
    uint16_t gso_size;          /* the MSS, required with a gso_type */
    uint16_t offset;            /* where the frame starts in its first page */
};

struct nf_rx_meta {
    uint16_t flags;             /* NETRXF_* of the first response */
    bool csum_blank;            /* NETRXF_csum_blank: checksum left partial */
    bool data_validated;        /* NETRXF_data_validated */
    uint8_t gso_type;           /* XEN_NETIF_GSO_TYPE_NONE without a GSO extra */
    uint16_t gso_size, gso_features;
    bool hash_valid;            /* a XEN_NETIF_EXTRA_TYPE_HASH extra came */
    uint8_t hash_type, hash_alg;
    uint32_t hash;
    uint16_t xdp_headroom;      /* from an XDP extra (the first data offset) */
    unsigned slots, extras;     /* data and extra-info responses of the frame */
};

/* Per-queue counters; written by the queue's thread only. */
struct nf_queue_stats {
    /* tx: placed on the ring */
    uint64_t tx_frames, tx_bytes, tx_slots, tx_gso, tx_csum_blank, tx_mcast, tx_raw;
    uint64_t tx_pushes, tx_kicks_sent;
    /* tx: answered (one response per slot, NULL for extras) */
    uint64_t tx_done;           /* own frames fully answered */
    uint64_t tx_frames_error;   /* ... with a slot answered ERROR */
    uint64_t tx_frames_dropped; /* ... with a slot answered DROPPED (and no ERROR) */
    uint64_t tx_rsp_okay, tx_rsp_error, tx_rsp_dropped, tx_rsp_null, tx_rsp_other;
    uint64_t tx_raw_responses;  /* non-NULL answers to raw entries */
    /* rx */
    uint64_t rx_posted, rx_pushes, rx_kicks_sent;
    uint64_t rx_frames, rx_bytes, rx_slots, rx_extras, rx_gso, rx_csum_blank,
             rx_data_validated, rx_hash;
    uint64_t rx_errors;         /* frames dropped, for one of these reasons: */
    uint64_t rx_rsp_error;      /*   a negative status (NETIF_RSP_* or GNTST_*) */
    uint64_t rx_bad_offset;     /*   offset + size beyond the page */
    uint64_t rx_bad_extra;      /*   extra of type 0 or unknown */
    uint64_t rx_bad_gso;        /*   GSO extra with size 0 or an unknown type */
    uint64_t rx_incomplete;     /*   chain or extras cut at rsp_prod */
    uint64_t rx_too_many_slots; /*   more than NF_MAX_SLOTS data slots */
    uint64_t rx_truncated;      /*   longer than the caller's buffer */
    uint64_t rx_runt;           /*   shorter than an Ethernet header */
    uint64_t rx_bad_id;         /* response id != its slot (not dropped) */
    /* both */
    uint64_t kicks_received_tx; /* on the tx port when split */
    uint64_t kicks_received_rx; /* on the rx port (the only one unless split) */
    uint64_t grant_busy;        /* end_access -EBUSY after the response */
    uint64_t bad_responses;     /* ring protocol broken (queue then unusable) */
};

struct nf_queue;

/*
 * A queue of this guest shared with `backend`: tx and rx rings of one page
 * each, one event channel (or two if `split`), no rx slot posted yet
 * (nf_rx_refill).  Features start off (nf_queue_set_features).
 * 0 and *out, or -ENOMEM, or an errno from grant/evtchn calls.
 */
int nf_queue_create(struct xsim_guest *g, domid_t backend, bool split, struct nf_queue **out);
/* Ends every grant and closes the event channel(s).  Grants the backend
 * still holds are counted in stats.grant_busy and their pages leaked. */
void nf_queue_destroy(struct nf_queue *q);
void nf_queue_set_features(struct nf_queue *q, const struct nf_queue_features *f);

grant_ref_t nf_queue_tx_ref(const struct nf_queue *q);
grant_ref_t nf_queue_rx_ref(const struct nf_queue *q);
bool nf_queue_split(const struct nf_queue *q);
evtchn_port_t nf_queue_tx_port(const struct nf_queue *q);  /* == rx port unless split */
evtchn_port_t nf_queue_rx_port(const struct nf_queue *q);
int nf_queue_fd(const struct nf_queue *q);          /* readable on a kick (either port) */
unsigned nf_queue_tx_free(const struct nf_queue *q);      /* free tx ring slots */
unsigned nf_queue_tx_inflight(const struct nf_queue *q);  /* own frames not answered */
netif_tx_sring_t *nf_queue_tx_sring(struct nf_queue *q);
netif_rx_sring_t *nf_queue_rx_sring(struct nf_queue *q);
const struct nf_queue_stats *nf_queue_get_stats(const struct nf_queue *q);

/*
 * Queues one frame (not yet visible: nf_push).  meta may be NULL.
 * 0; -ENOSPC ring or ids full (reap first); -EMSGSIZE len > 65535, or more
 * than one slot without sg, or more than NF_MAX_SLOTS; -EINVAL len 0, offset
 * >= 4096, bad gso type or gso_size 0; -EOPNOTSUPP GSO type not negotiated;
 * -EPROTO queue broken; -ENOMEM / -ENOSPC from the page or grant allocator.
 */
int nf_send(struct nf_queue *q, const uint8_t *frame, size_t len, const struct nf_tx_meta *meta);
/* A dummy request (size 0, no grant) carrying one MCAST_ADD/DEL extra
 * (netif.h, multicast control).  0 or -ENOSPC / -EPROTO. */
int nf_tx_mcast(struct nf_queue *q, bool add, const uint8_t mac[NF_ETH_ALEN]);
/*
 * Hostile tests: `n` entries copied verbatim into the next tx slots (an
 * extra is a netif_extra_info_t copied into an entry).  Non-NULL responses
 * whose id is none of ours count as tx_raw_responses, up to n of them.
 * 0 or -ENOSPC / -EPROTO.
 */
int nf_tx_raw(struct nf_queue *q, const netif_tx_request_t *reqs, unsigned n);
/* Hostile tests: publish any req_prod on the tx (rx) ring and kick; our
 * private producer is left as it was. */
void nf_tx_raw_prod(struct nf_queue *q, RING_IDX req_prod);
void nf_rx_raw_prod(struct nf_queue *q, RING_IDX req_prod);
/* Kicks the backend on every channel of the queue, asked or not (Linux
 * does once connected).  0 or -errno. */
int nf_queue_kick(struct nf_queue *q);
/* RING_PUSH_REQUESTS_AND_CHECK_NOTIFY on tx, then a kick if the backend
 * asked.  1 kicked, 0 not, or -errno. */
int nf_push(struct nf_queue *q);
/* Takes every tx response (rsp_event re-armed), ends their grants.  Own
 * frames completed, or -EPROTO (more responses than requests, unknown id). */
int nf_tx_reap(struct nf_queue *q);

/* Posts a zeroed writable page in every free rx slot, pushes, kicks if the
 * backend asked.  Slots posted, or -errno (grant allocator). */
int nf_rx_refill(struct nf_queue *q);
/*
 * The next whole frame into buf (cap bytes), its offloads in *meta (may be
 * NULL); refills when NF_RX_REFILL_MIN slots are free, and fully when none
 * is left to take (rsp_event re-armed).  Frames the backend got wrong are
 * counted (stats.rx_errors) and skipped.  Length (> 0), 0 if none, -EPROTO.
 */
int nf_recv(struct nf_queue *q, uint8_t *buf, size_t cap, struct nf_rx_meta *meta);

#define NF_KICK_TX 0x1
#define NF_KICK_RX 0x2
/* Waits up to timeout_ms (-1 forever) for a kick, unmasks.  NF_KICK_*
 * (both when not split), 0 if none came, or -errno. */
int nf_wait(struct nf_queue *q, int timeout_ms);

/* ======================= device level ======================= */

/* What the frontend is willing to use; each may be switched off. */
struct nf_features {
    int backend_domid;          /* -1: whatever <frontend>/backend-id says */
    unsigned max_queues;        /* 1..NF_MAX_QUEUES */
    bool sg, gso_tcpv4, gso_tcpv6;
    bool csum_offload;          /* IPv4; off: feature-no-csum-offload = 1 */
    bool ipv6_csum_offload;
    bool split_evtchn;
    bool rx_notify;             /* feature-rx-notify = 1 */
    bool multicast;             /* request-multicast-control = 1 if offered */
    bool ctrl_ring;             /* provide a control ring if offered */
    int xdp_headroom;           /* written as xdp-headroom if offered; -1 never */
    unsigned timeout_ms;        /* every wait on the backend (0 = 10000) */
};
/* As Linux netfront on a 4-vCPU guest: 4 queues, sg, both GSO, both
 * checksum offloads, split event channels, rx-notify, xdp-headroom 0; no
 * multicast control and no ctrl ring (Linux uses neither); 10 s. */
void nf_features_default(struct nf_features *f);

/* What was negotiated (both sides want it) and read. */
struct nf_dev_info {
    char frontend_path[96];     /* /local/domain/<me>/device/vif/<devid> */
    char backend_path[160];
    domid_t backend_id;
    uint32_t devid;
    uint8_t mac[NF_ETH_ALEN];   /* <frontend>/mac, from the toolstack */
    unsigned mtu;               /* <frontend>/mtu, default 1500 */
    unsigned nr_queues;
    bool split_evtchn;
    bool sg, gso_tcpv4, gso_tcpv6, csum_offload, ipv6_csum_offload;
    bool multicast, dynamic_multicast, ctrl_ring;
    int xdp_headroom;           /* -1: not written */
    unsigned connects;
};

struct nf_dev;

/*
 * Connect vif `devid` of this guest (the toolstack wrote device/vif/<devid>
 * with backend, backend-id, state and mac).  Waits for the backend's
 * InitWait, negotiates, writes the keys in one transaction (retried on
 * EAGAIN), fills the rx rings, Connected, kicks, waits for the backend's
 * Connected.  0 and *out, or -ENOENT no frontend dir, -ETIMEDOUT, -ENODEV
 * backend closed, -EPROTO backend without feature-rx-copy or a bad key,
 * other -errno.  `err` (may be NULL) gets a one-line reason on failure.
 */
int nf_dev_open(struct xsim_guest *g, uint32_t devid, const struct nf_features *want,
                struct nf_dev **out, char *err, size_t errlen);
/* Closing, wait backend Closing/Closed, Closed, wait backend Closed (as
 * xennet_bus_close); queues destroyed.  0 or -errno. */
int nf_dev_close(struct nf_dev *d);
/* After a close: Initialising and the whole handshake again. */
int nf_dev_reconnect(struct nf_dev *d, char *err, size_t errlen);
void nf_dev_free(struct nf_dev *d);             /* closes if connected */

const struct nf_dev_info *nf_dev_get_info(const struct nf_dev *d);
unsigned nf_dev_nr_queues(const struct nf_dev *d);
struct nf_queue *nf_dev_queue(struct nf_dev *d, unsigned queue);
int nf_dev_watch_fd(const struct nf_dev *d);    /* readable: backend state may have changed */

#define NF_DEV_EV_CLOSING 0x1                   /* backend Closing/Closed: close us */
/* Takes pending watch events; never blocks.  NF_DEV_EV_* or -errno. */
int nf_dev_check(struct nf_dev *d);

/*
 * One control-ring request, waited for: XEN_NETIF_CTRL_STATUS_* (>= 0) with
 * the response's data in *data (may be NULL), or -EOPNOTSUPP (no ctrl
 * ring), -ETIMEDOUT, -EPROTO (a response that is not ours).
 */
int nf_dev_ctrl(struct nf_dev *d, uint16_t type, uint32_t d0, uint32_t d1, uint32_t d2,
                uint32_t *data);
/* A page granted read-only to the backend, for SET_HASH_KEY/_MAPPING. */
void *nf_dev_ctrl_page(struct nf_dev *d, grant_ref_t *gref);

#endif /* SC_SIMFRONT_NETFRONT_H */
