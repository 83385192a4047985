/*
 * net_xfer.h - frames handed between the queues of the internal switch,
 * across sidecores, through per-queue inboxes: the sender's core posts a
 * transfer naming where the frame's bytes are (the sending guest's grants,
 * or local memory of the switch's host port), the receiver's core copies
 * them straight into its guest's buffers (one grant copy, guest to guest)
 * and hands the transfer back with a status, through the sender's inbox.
 *
 * Contract: a struct net_xport is one endpoint (a queue's): an inbox the
 * owning core consumes (its doorbell watched by that core, armed in
 * rearm) and a pool of transfers the endpoint sends with.  A transfer
 * belongs to its sender's pool for life: the receiver only fills `status`
 * and sends it back (net_xfer_return).  What a transfer points to (the
 * sender's frame record and grants, or its local buffer) stays valid
 * until it comes back.  Messages of both kinds arrive in one inbox:
 * `returned` tells them apart.
 *
 * Threads: init/destroy on the control thread while no core uses the
 * endpoint; everything else on the endpoint owner's core, except that any
 * core pushes into another endpoint's inbox (lock-free, inbox.h).
 * Returns 0 or -errno; pointer returners NULL.
 */
#ifndef SC_NET_XFER_H
#define SC_NET_XFER_H

#include <stdbool.h>
#include <stdint.h>

#include "inbox.h"
#include "net_offload.h"
#include "net_ring.h"

#define NET_XFER_HDR 64u  /* header bytes carried along for the receiver's decisions */

struct net_xport;

struct net_xfer {
    struct sc_inbox_msg msg;
    struct net_xport *from;          /* the sender (owner) */
    bool returned;                   /* false: a frame to receive; true: its answer */
    /* the frame */
    domid_t src_domid;               /* the grants' domain */
    uint16_t nfrags;
    const struct net_tx_frag *frags; /* the sender's, or NULL with `local` */
    const uint8_t *local;            /* a local copy (the host port), or NULL */
    uint32_t len;
    struct net_offload off;          /* checksum and GSO state (offsets unset) */
    uint8_t hdr[NET_XFER_HDR];       /* the first min(len, NET_XFER_HDR) bytes */
    void *cookie;                    /* the sender's frame record */
    /* the answer: 0 delivered, -EFAULT a copy failed, -ENOBUFS dropped */
    int status;
    /* the receiver's, while it holds the transfer */
    struct net_xfer *next;
    bool copy_failed;
    uint64_t queued_ns;              /* when it joined the receiver's queue */
};

struct net_xport {
    struct sc_inbox inbox;
    struct net_xfer *pool;
    struct net_xfer *free;
    unsigned nxfers, nfree;
};

/* n transfers.  0, -ENOMEM or the inbox's -errno. */
int net_xport_init(struct net_xport *xp, unsigned n);
void net_xport_destroy(struct net_xport *xp);

/* A free transfer of xp's pool, or NULL (all out). */
static inline struct net_xfer *net_xfer_get(struct net_xport *xp)
{
    struct net_xfer *x = xp->free;
    if (!x)
        return NULL;
    xp->free = x->next;
    xp->nfree--;
    x->from = xp;
    x->returned = false;
    x->status = 0;
    x->next = NULL;
    return x;
}

static inline void net_xfer_put(struct net_xport *xp, struct net_xfer *x)
{
    x->next = xp->free;
    xp->free = x;
    xp->nfree++;
}

/* Transfers out (sent, not yet back). */
static inline unsigned net_xport_outstanding(const struct net_xport *xp)
{
    return xp->nxfers - xp->nfree;
}

/* To the receiver's inbox. */
static inline void net_xfer_send(struct net_xfer *x, struct net_xport *to)
{
    sc_inbox_push(&to->inbox, &x->msg);
}

/* Back to its sender with `status`. */
static inline void net_xfer_return(struct net_xfer *x, int status)
{
    x->status = status;
    x->returned = true;
    sc_inbox_push(&x->from->inbox, &x->msg);
}

static inline struct net_xfer *net_xfer_of(struct sc_inbox_msg *m)
{
    return (struct net_xfer *)((char *)m - offsetof(struct net_xfer, msg));
}

#endif
