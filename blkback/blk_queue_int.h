/*
 * blk_queue_int.h - the inside of one blkback queue, shared by blk_queue.c
 * (life cycle, the sc_queue ops, the consuming loop) and blk_queue_io.c
 * (segments, grant copies, submission, completion, responses).
 *
 * Ownership: once the queue is added to a core, every field below except
 * disk_sectors is touched by that core's thread only; before add and after
 * remove, by the control thread.  disk_sectors is written by the control
 * thread (resize) and read by the core: atomic.
 *
 * A request slot's life: free -> fetched (validated; maybe parked in
 * `pending` waiting for budget, bounce pages or a barrier's drain) ->
 * prepared (segments mapped or bounced, write copies queued) -> in flight
 * (an SQE) or parked in `ready` (no SQE) or `retry` (its second stage, the
 * flush, found no SQE) -> `copyback` (a read through bounce pages, copied to
 * the guest in flush()) -> answered (response written, slot free again).
 * A slot is freed exactly when its response is written, so with one slot
 * per ring entry a fetch always finds a slot.
 *
 * Quiescing (the REMOVE began, blk_queue.c): nothing is fetched or
 * submitted any more; `pending`, `ready` and `retry` are answered with
 * errors at once; each slot with `inflight` set gets a cancel SQE, and
 * completes through done() as usual (answered, the flush stage skipped).
 */
#ifndef SC_BLK_QUEUE_INT_H
#define SC_BLK_QUEUE_INT_H

#include <stdatomic.h>

#include "blk_pgrant.h"
#include "blkback.h"
#include "bounce.h"
#include "gnt_batch.h"
#include "log.h"

/* Bounce pages per queue at most (virtual; touched only when used). */
#define BLKQ_BOUNCE_MAX_PAGES 4096u
_Static_assert(SC_BOUNCE_PAGE_SIZE == BLK_PAGE_SIZE, "a segment fits in a bounce page");

enum blkq_kind {
    BLKQ_RW,        /* read or write (with a flush after, if info.flush) */
    BLKQ_FLUSH,     /* a flush without data */
    BLKQ_DISCARD,
};

enum blkq_stage {
    BLKQ_STAGE_DATA,  /* the read/write SQE, or a discard's part (SQE or worker job) */
    BLKQ_STAGE_FLUSH, /* the fsync after it (or alone) */
};

struct blkq_seg {
    struct blk_pgrant *pg; /* persistent mapping used, or NULL */
    uint32_t bounce;       /* bounce page index, or SC_BOUNCE_NONE */
};

struct blkq_req {
    struct sc_io io;           /* first: the done callback's handle */
    struct blk_queue *q;
    struct blkq_req *next;     /* free list or one of the queue's lists */
    uint64_t start_ns;         /* round clock when fetched */
    uint32_t expect;           /* bytes the data SQE must move */
    uint16_t niov;
    uint8_t kind;              /* enum blkq_kind */
    uint8_t stage;             /* enum blkq_stage */
    uint8_t rsp_op;            /* operation echoed in the response */
    bool copy_failed;          /* a grant copy of this request failed */
    bool bounce_reads;         /* bounce pages to copy to the guest after the read */
    bool inflight;             /* its SQE is in the kernel: set at submission, cleared in done */
    bool cancelled;            /* quiescing: a cancel SQE was sent for that SQE */
    bool in_worker;            /* a discard whose job is the store's worker's */
    struct blk_req_check info;
    struct blk_store_job job;  /* a discard's cursor (job.d), and its worker job */
    struct iovec *iov;         /* [q->max_segs] */
    struct blkq_seg *seg;      /* [q->max_segs] */
    struct blk_req req;        /* the private copy of the request */
};

struct blkq_list {
    struct blkq_req *head, *tail;
};

struct blk_queue {
    struct sc_queue sc;                 /* first */
    struct sc_xen *xen;
    domid_t domid;
    struct blk_store *store;
    bool is_null;
    uint32_t null_spin_ns;              /* null store's CPU cost per request */
    bool persistent;
    struct blk_limits limits;           /* disk_sectors refreshed every visit */
    _Atomic uint64_t disk_sectors;

    void *ring_addr;
    unsigned ring_pages;
    struct blk_ring ring;

    unsigned nslots, max_segs, nfree;
    struct blkq_req *slots;
    struct blkq_req *free;
    struct blkq_req *pending;           /* fetched, waiting (at most one) */
    struct blkq_list ready;             /* prepared, waiting for an SQE */
    struct blkq_list retry;             /* flush stage waiting for an SQE */
    struct blkq_list copyback;          /* reads to copy to the guest in flush */
    uint32_t io_inflight;               /* requests with an SQE in the kernel */
    bool barrier_active;                /* a barrier in flight: consume nothing */
    bool quiescing;                     /* the REMOVE began: answer, submit nothing new */
    bool cancels_owed;                  /* quiescing, and an SQE for a cancel was missing */

    struct sc_bounce bounce;            /* segments that are not mapped */
    struct sc_gnt_batch copies;         /* this visit's / flush's grant copies */

    /* Discards the store's worker runs (blk_store_discard_async): their
     * jobs come back in disc_inbox; while any is out, disc_wake (a POLL on
     * the inbox's doorbell, or a NOP if it already held some) is in the
     * core's io_uring, so the answers arrive as a completion like any
     * other.  The inbox is made at the first such discard. */
    struct sc_inbox disc_inbox;
    struct sc_io disc_wake;
    uint32_t disc_jobs;                 /* jobs out (their requests count in io_inflight) */
    bool disc_inbox_ready;
    bool disc_wake_inflight;
    bool disc_wake_owed;                /* no SQE for it: retried at the next I/O call */

    /* The guest's read/write limits (dirlimit.h): a request they hold back
     * stays pending, and a TIMEOUT in the core's io_uring (dir_timer, at
     * dir_ts) wakes the core when it may go. */
    struct sc_dir_limit *dirl;
    struct sc_io dir_timer;
    struct __kernel_timespec dir_ts;
    bool dir_timer_armed;

    uint8_t *indirect_buf;              /* BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST pages */
    struct blk_pgrant_cache pgc;
    struct sc_ratelimit rl;
};

#define blkq_of(sq) ((struct blk_queue *)(sq))

static inline void blkq_list_add(struct blkq_list *l, struct blkq_req *r)
{
    r->next = NULL;
    if (l->tail)
        l->tail->next = r;
    else
        l->head = r;
    l->tail = r;
}

static inline struct blkq_req *blkq_list_pop(struct blkq_list *l)
{
    struct blkq_req *r = l->head;
    if (r) {
        l->head = r->next;
        if (!l->head)
            l->tail = NULL;
        r->next = NULL;
    }
    return r;
}

/* blk_queue_io.c */

/* Maps/bounces the segments of a validated (and, if indirect, loaded)
 * request and queues its write copies.  0, or the status to answer with
 * (BLKIF_RSP_ERROR) as a negative errno. */
int blkq_prepare(struct blk_queue *q, struct blkq_req *r);
/* Loads an indirect request's segment pages (by grant copy).  0, a
 * BLK_REQ reason, or -EIO if a page could not be copied. */
int blkq_load_indirect(struct blk_queue *q, struct blkq_req *r);
/* Runs the queued grant copies in one batch; marks owners of failed ones
 * (their copy_failed). */
void blkq_run_copies(struct blk_queue *q);
/* After the visit's copies: answers a null-store or failed request, or
 * submits its SQE.  0, or -EBUSY when no SQE could be had (r untouched). */
int blkq_start(struct blk_queue *q, struct blkq_req *r);
/* Submits the flush stage of r.  0 or -EBUSY. */
int blkq_submit_flush(struct blk_queue *q, struct blkq_req *r);
/* Writes r's response, releases its pages and slot.  in_flush: called from
 * the flush op (the queue is being flushed now: do not mark it dirty). */
void blkq_respond(struct blk_queue *q, struct blkq_req *r, int16_t status, bool in_flush);
/* Answers a request rejected before preparation (validation, indirect). */
void blkq_reject(struct blk_queue *q, struct blkq_req *r, int err);
/* Copies the reads parked in copyback to the guest and answers them. */
void blkq_copyback(struct blk_queue *q);
/* The first thing blkq_done does (blk_queue.c): the store's word on a
 * flush's result (sticky writeback errors: *res may become an error), and
 * a discard's next part.  True if the completion was consumed here (the
 * discard goes on: r stays in flight, or waits in `retry` for an SQE);
 * false to let blkq_done answer r with *res. */
bool blkq_io_done(struct blk_queue *q, struct blkq_req *r, int *res);
/* What r costs the guest in the scheduler's bytes (struct sc_visit): its
 * payload, but a discard's length counts 1/BLKQ_DISCARD_COST_DIV: it moves
 * no data through us or the guest's pages, yet keeps the device (and a
 * kernel worker) busy in proportion to its length, so it is neither free
 * (a guest could discard terabytes per visit at no charge) nor priced like
 * a write of that size (a 1 GiB trim would eat a whole guest's share). */
#define BLKQ_DISCARD_COST_DIV 16u
/* A persistent-grant miss that maps a grant (and evicts one): on xensim a
 * map+unmap costs as much as ~70 grant copies of a page (docs/benchmarks.md,
 * the primitives), so it is charged to the guest as that many pages of
 * payload: a guest that defeats the cache pays for it, not its neighbours.
 * A miss the cache refuses (blk_pgrant.h: full, or its eviction allowance
 * spent) goes by grant copy, which its payload already prices. */
#define BLKQ_MAP_MISS_COST_BYTES (70u * 4096u)
uint64_t blkq_cost_bytes(const struct blkq_req *r);
/* What taking r costs the guest's share, in the scheduler's bytes, known
 * before it is taken: its payload (blkq_cost_bytes) plus a map's price for
 * each of its segments that blkq_prepare will look up in the persistent-grant
 * cache and not find there, as many as the cache may map now
 * (blk_pgrant_maps_allowed; a ref repeated within r is counted each time: a
 * bound, cheap to compute).  Priced up front so that a visit stops before a
 * request whose maps would overrun the grant, not after (the charge itself
 * stays what the maps really were: blkq_take). */
uint64_t blkq_request_cost(const struct blk_queue *q, const struct blkq_req *r);
/* May the visit v take r under grant g?  The grant's arithmetic over what v
 * has cost so far (payload and extra) and what r will cost. */
bool blkq_admits(const struct blk_queue *q, const struct sc_sched_grant *g,
                 const struct sc_visit *v, const struct blkq_req *r);
/* Takes r into the visit: counts it and its payload in v, prepares it
 * (blkq_prepare's result) and charges v->extra_cost for the maps that cost
 * (each persistent-grant miss that mapped, BLKQ_MAP_MISS_COST_BYTES). */
int blkq_take(struct blk_queue *q, struct blkq_req *r, struct sc_visit *v);
/* Waits for the discard worker's answers if that wait found no SQE
 * before; a queue that owes it must not sleep (blkq_rearm). */
void blkq_disc_wake_retry(struct blk_queue *q);
/* May r go now by the guest's read/write limits?  True, or false with the
 * core's wake-up armed for when it may (blk_queue_io.c). */
bool blkq_dir_admit(struct blk_queue *q, struct blkq_req *r, uint64_t now_ns);
/* Releases what the I/O side made for the queue (the discard inbox).
 * Control thread, from blk_queue_destroy (the queue is idle). */
void blkq_io_destroy(struct blk_queue *q);
/* Bounce pages r may need at most. */
uint32_t blkq_bounce_need(const struct blk_queue *q, const struct blkq_req *r);

#endif
