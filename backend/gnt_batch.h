/*
 * gnt_batch.h - grant copies gathered and run in one sc_gnt_copy_batch (one
 * GNTTABOP_copy hypercall on Xen), with the failures traced to their owners.
 *
 * Contract: a `struct sc_gnt_batch` holds up to `cap` copy segments.  Each
 * segment added names an owner flag (`bool *failed`, typically a field of
 * the request or packet the bytes belong to; NULL for none).  Flushing runs
 * every queued segment in one call and sets *failed = true for the owner of
 * each segment that did not copy (a bad ref, a read-only grant written, a
 * dead domain: its GNTST_* status), or of every segment if the call itself
 * failed; flags are only ever set, never cleared, so one owner with many
 * segments learns whether any failed.  An owner flag must stay valid until
 * the flush that runs its segments.  Adding to a full batch flushes it
 * first, so a caller never has to count.
 *
 * Segment sizes: a copy never crosses a guest page (offset + len <= 4096),
 * as Xen requires; the caller splits.  The local side is any address.
 *
 * Threads: a batch belongs to one thread (a sidecore, for a queue's batch);
 * no locks.  init/destroy may run on the control thread while no other
 * thread uses the batch.
 *
 * Returns: 0 or negative errno.
 */
#ifndef SC_GNT_BATCH_H
#define SC_GNT_BATCH_H

#include <stdbool.h>
#include <stdint.h>

#include "xen.h"

struct sc_gnt_batch_stats {
    uint64_t calls;     /* sc_gnt_copy_batch calls made */
    uint64_t segments;  /* segments run */
    uint64_t failed;    /* of those, segments that did not copy */
};

struct sc_gnt_batch {
    struct sc_xen *xen;
    xengnttab_grant_copy_segment_t *seg; /* [cap] */
    bool **owner;                        /* [cap]: the flag of seg[i], or NULL */
    uint32_t n, cap;
    struct sc_gnt_batch_stats stats;
};

/* cap >= 1 segments per call.  0, -EINVAL or -ENOMEM. */
int sc_gnt_batch_init(struct sc_gnt_batch *b, struct sc_xen *xen, uint32_t cap);
/* Frees the arrays; queued segments are dropped, not run.  Safe on a zeroed
 * or already destroyed batch. */
void sc_gnt_batch_destroy(struct sc_gnt_batch *b);

/* Fills *s as a copy of `len` bytes between page `gref` of domain `domid`
 * (from byte `offset`) and local memory at `local`, status cleared.  For a
 * batch of one's own (or a caller's array handed to sc_gnt_copy_batch). */
void sc_gnt_seg_from_guest(xengnttab_grant_copy_segment_t *s, domid_t domid, grant_ref_t gref,
                           uint16_t offset, void *local, uint16_t len);
void sc_gnt_seg_to_guest(xengnttab_grant_copy_segment_t *s, const void *local, domid_t domid,
                         grant_ref_t gref, uint16_t offset, uint16_t len);

/* Queues a segment (any kind, e.g. guest to guest) owned by `failed`.
 * 0, or the -errno of the flush a full batch ran first (its owners are
 * marked; the new segment is queued all the same). */
int sc_gnt_batch_add(struct sc_gnt_batch *b, const xengnttab_grant_copy_segment_t *s,
                     bool *failed);
/* Queues a copy guest -> local (a write's data, a request page). */
int sc_gnt_batch_from_guest(struct sc_gnt_batch *b, domid_t domid, grant_ref_t gref,
                            uint16_t offset, void *local, uint16_t len, bool *failed);
/* Queues a copy local -> guest (a read's data, an rx packet). */
int sc_gnt_batch_to_guest(struct sc_gnt_batch *b, const void *local, domid_t domid,
                          grant_ref_t gref, uint16_t offset, uint16_t len, bool *failed);

/* Queues a copy between two guests' grants (a switched frame: the
 * sender's page straight into the receiver's, one copy).  Both sides stay
 * within their page. */
int sc_gnt_batch_guest_to_guest(struct sc_gnt_batch *b, domid_t src_domid, grant_ref_t src_gref,
                                uint16_t src_offset, domid_t dst_domid, grant_ref_t dst_gref,
                                uint16_t dst_offset, uint16_t len, bool *failed);

/* Runs the queued segments in one call and marks the owners of those that
 * failed; the batch is empty after.  0 (some segments may still have
 * failed: see the owners), or the call's -errno (every owner marked). */
int sc_gnt_batch_flush(struct sc_gnt_batch *b);

/* Segments queued now. */
static inline uint32_t sc_gnt_batch_count(const struct sc_gnt_batch *b)
{
    return b->n;
}

#endif
