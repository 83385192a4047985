/*
 * net_queue_int.h - the inside of a netif queue, shared by net_queue.c (life
 * cycle and the sc_queue ops), net_queue_tx.c (guest -> uplink) and
 * net_queue_rx.c (uplink -> guest).
 *
 * Ownership: once added to a core, everything here is that core's; before
 * the add and after the remove, the control thread's.  `shared` is the
 * vif's (atomics inside).
 *
 * Buffers: a tx batch of NETQ_TX_BATCH frames and an rx backlog of
 * NETQ_RX_BACKLOG frames, each slot NETQ_FRAME_MAX bytes of anonymous
 * memory the kernel populates only when touched, so a queue of small
 * frames costs a few pages, not the 8 MiB of address space it reserves.
 */
#ifndef SC_NET_QUEUE_INT_H
#define SC_NET_QUEUE_INT_H

#include <linux/virtio_net.h>

#include "gnt_batch.h"
#include "log.h"
#include "net_hdr.h"
#include "net_queue.h"
#include "net_ring.h"
#include "net_xfer.h"

#define NETQ_FRAME_MAX   (65536u + 4096u) /* a GSO frame, with headroom to spare */
#define NETQ_TX_BATCH    64u
#define NETQ_RX_BACKLOG  64u
/* rx responses one visit may stage before its copies are flushed */
#define NETQ_RX_STAGE    NET_RX_RING_SIZE
#define NETQ_NO_FIT      UINT32_MAX
/* the switch: tx frames out at receivers, transfers, frames waiting for buffers */
#define NETQ_SWFRAMES    NET_TX_RING_SIZE
#define NETQ_XFERS       512u
#define NETQ_COPIES      512u /* grant copies one batch holds */
#define NETQ_SW_BACKLOG  256u
/* A transfer the receiver's guest gives no buffer for within this is
 * dropped: the sender's frame (its grants, a slot of its ring) is held
 * until answered, so a guest that stops receiving must not hold others
 * for long.  10 ms dropped 0.1% of a TCP stream's frames on a loaded
 * machine (the receiving guest a few ms late posting buffers) and cost a
 * third of its throughput; 100 ms dropped none. */
#define NETQ_SW_WAIT_NS  (100ull * 1000000ull)

struct net_port;
struct net_offload;

/* A sent frame out at its receivers (switched): answered when the last
 * transfer comes back. */
struct netq_swframe {
    struct net_tx_pkt pkt;
    unsigned refs;
    bool failed;                 /* a copy from the guest's grants failed */
    struct netq_swframe *next;   /* free list */
};

/* Where a frame's bytes are: local memory, or a guest's tx fragments;
 * `head` holds its first headlen bytes either way (for the hash). */
struct netq_src {
    const uint8_t *local;
    domid_t domid;
    const struct net_tx_frag *frags;
    uint16_t nfrags;
    const uint8_t *head;
    uint32_t headlen;
};

struct netq_swframe;

struct netq_tx_frame {
    struct net_tx_pkt pkt;
    bool copy_failed;
    uint8_t *buf;
    struct netq_swframe *sw;     /* switched: its record while the visit decides */
};

struct netq_rx_frame {
    struct virtio_net_hdr vh;
    uint32_t len;
    uint8_t *buf;
};

/* An rx response waiting for the copies of its visit. */
struct netq_rx_rsp {
    bool extra;
    uint16_t id, offset, flags, size;
    struct netif_extra_info x;   /* when extra */
    bool *failed;                /* the frame's copy flag */
};

struct net_queue {
    struct sc_queue sc;
    struct sc_xen *xen;
    domid_t domid;
    struct net_features feat;
    struct net_vif_shared *shared;
    int tap_fd;
    int timer_fd;                /* wakes the core for a throttled or starved queue */
    uint64_t timer_at_ns;        /* armed for then, 0 = disarmed */
    void *tx_sring, *rx_sring;
    struct net_txr txr;
    struct net_rxr rxr;
    struct sc_gnt_batch copies;
    struct sc_ratelimit rl;

    /* tx */
    struct netq_tx_frame tx[NETQ_TX_BATCH];
    uint64_t tx_wait_ns;         /* throttled until then (0 = not) */
    /* rx */
    struct netq_rx_frame rx[NETQ_RX_BACKLOG];
    unsigned rx_head, rx_count;  /* the backlog: a ring of frames */
    unsigned rx_want;            /* ring slots the head frame needs (0: none waiting) */
    uint64_t rx_wait_ns;
    bool rx_copy_failed[NETQ_RX_BACKLOG + 1]; /* per staged frame; the last for segments */
    struct netq_rx_rsp stage[NETQ_RX_STAGE];
    unsigned nstage;
    uint8_t *frames;             /* the mmap behind tx[].buf, rx[].buf, seg_buf */
    size_t frames_len;
    uint8_t *seg_buf;            /* software segmentation's output */
    uint8_t *slow_buf;           /* a switched frame copied here to be fixed up */

    /* the internal switch (port NULL: the vif has a TAP uplink) */
    struct net_port *port;
    struct net_xport xp;         /* inbox and transfers (made for every queue: cheap) */
    struct netq_swframe *swframes, *swfree;
    struct net_xfer *swq_head, *swq_tail; /* transfers to receive, in arrival order */
    unsigned swq_len;
    uint64_t off_core_ns;     /* a move let it go then (0: on a core); its
                               * frames' wait does not count that time */

    sc_counter counters[NETQ__COUNT];
};

static inline struct net_queue *netq_of(struct sc_queue *sq)
{
    return (struct net_queue *)((char *)sq - offsetof(struct net_queue, sc));
}

static inline void netq_count(struct net_queue *q, enum net_queue_counter c, uint64_t n)
{
    sc_counter_add(&q->counters[c], n);
}

/* Arms the queue's timer for `at_ns` (CLOCK_MONOTONIC), unless armed earlier. */
void netq_timer_at(struct net_queue *q, uint64_t at_ns);

/* net_queue_tx.c: consume and send what the grant allows.  0 or -EPROTO. */
int netq_tx_poll(struct net_queue *q, const struct sc_sched_grant *g, struct sc_visit *v);
/* net_queue_rx.c: read the uplink, place frames in the rx ring. 0 or -EPROTO. */
int netq_rx_poll(struct net_queue *q, const struct sc_sched_grant *g, struct sc_visit *v);
/* net_queue_tx.c, for both uplinks: */
/* Queues the copy of f's first `limit` bytes (UINT32_MAX: all) into f->buf. */
void netq_tx_stage(struct net_queue *q, struct netq_tx_frame *f, uint32_t limit);
/* Writes f (copied) to a TAP descriptor with its offloads as a virtio_net_hdr:
 * false when it was dropped (counted). */
bool netq_tx_send(struct net_queue *q, struct netq_tx_frame *f, int fd);
/* Answers f with an error: a copy from the guest's grants failed. */
void netq_tx_fail(struct net_queue *q, struct netq_tx_frame *f);

/* net_queue_rx.c, for both uplinks: */
bool netq_takes_gso(const struct net_queue *q, uint8_t gso_type);
/* Ring slots a frame of `len` with offloads o needs (NETQ_NO_FIT: never). */
uint32_t netq_rx_slots(const struct net_queue *q, uint32_t len, const struct net_offload *o);
/* 1 when a frame of len needing `need` slots may be placed now (ring,
 * grant, rx rate; counted), else 0 (rx_want or rx_wait_ns or v->more set). */
int netq_rx_admit(struct net_queue *q, const struct sc_sched_grant *g, struct sc_visit *v,
                  uint32_t len, uint32_t need, int *avail);
/* Places a frame from src into taken buffers as it is (offloads as o says). */
void netq_rx_place(struct net_queue *q, const struct netq_src *src, uint32_t len,
                   const struct net_offload *o, bool *failed);
/* A frame in local memory (admitted): checksum completed or segmented when
 * the frontend needs that, then placed. */
void netq_rx_local(struct net_queue *q, uint8_t *frame, uint32_t len, struct net_offload *o,
                   bool *failed);
/* Runs the staged copies and writes the staged responses. */
void netq_rx_commit(struct net_queue *q);

/* net_queue_sw.c: the switch's side of a queue. */
int netq_sw_init(struct net_queue *q);
void netq_sw_destroy(struct net_queue *q);
/* Takes the inbox: answers come back (frames answered), frames to receive
 * are queued.  Returns true when tx responses were written. */
bool netq_sw_take(struct net_queue *q);
/* Switches the tx frames q->tx[0..n) (validated, header copy staged). */
void netq_sw_tx(struct net_queue *q, unsigned n, uint64_t now_ns);
/* Receives queued transfers into the rx ring. */
void netq_sw_rx(struct net_queue *q, const struct sc_sched_grant *g, struct sc_visit *v,
                int *avail);
/* Moves the queued transfers' wait deadlines ns later (a move's trip). */
void netq_sw_postpone(struct net_queue *q, uint64_t ns);
/* When the oldest queued transfer expires (0: none waits). */
uint64_t netq_sw_deadline(const struct net_queue *q);
/* Removal: every queued transfer answered (dropped); true when nothing of
 * q is out at other queues any more. */
bool netq_sw_drain(struct net_queue *q);

/* Slots the rx backlog's head needs before the core may sleep on the rx
 * ring (0: nothing waits). */
unsigned netq_rx_want(struct net_queue *q);

#endif
