/*
 * blk_queue.c - one blkif ring as an sc_queue (contract in blkback.h, the
 * inside in blk_queue_int.h, data movement in blk_queue_io.c).
 *
 * A visit: submit what an earlier visit prepared but found no SQE for; then
 * fetch requests one by one (copied out and validated by blk_proto), as long
 * as the fair-share grant admits the next one's cost (its bytes and the
 * grant maps it will cause: blkq_request_cost), the bounce pool can
 * hold it and no barrier is in the way; prepare each (persistent mappings or
 * bounce pages, write copies queued); run all the visit's grant copies in
 * one batch; then answer null-store and failed requests and submit the
 * rest.  Requests are fetched one at a time rather than with
 * blk_ring_fetch_batch because the grant must see each request's size
 * before it is taken, and a taken request cannot go back to the ring.
 *
 * Barriers (BLKIF_OP_WRITE_BARRIER) are drained per queue: the barrier
 * waits until every earlier request of this queue is answered, and nothing
 * after it is consumed until it (write, then flush) completes.  IOSQE_IO_DRAIN
 * would do that for the whole io_uring, i.e. stall every guest of the core.
 * Flushes (BLKIF_OP_FLUSH_DISKCACHE) make durable what completed before them,
 * as REQ_PREFLUSH does: an fdatasync, after the flush's own data if any.
 *
 * Removal is bounded where the kernel allows it (quiesce, called once when
 * the REMOVE starts): requests fetched but never submitted (pending, ready,
 * retry) are answered BLKIF_RSP_ERROR at once, and every SQE of this queue
 * still in the core's io_uring gets an IORING_OP_ASYNC_CANCEL keyed by its
 * user_data.  Cancelled I/O completes through done() as usual (-ECANCELED,
 * or -EINTR from an io-wq worker interrupted in its wait) and is answered
 * with an error; a write whose data landed is not followed by its flush
 * (answered with an error: durability unknown).  Nothing new is fetched or
 * submitted, the responses go out in the core's flushes, and the queue is
 * idle once the last completion is answered, so the ring is never written
 * after.  Not everything can be cancelled: an io-wq worker blocked in an
 * uninterruptible or killable wait (a read in a FUSE daemon that never
 * answers, a hung NFS or a disk that stops responding) finishes only when
 * that wait does.  Then quiesce has tried and the removal waits: the device
 * stays Closing, and a daemon shutdown is bounded by its own deadline
 * (sc_core_destroy_within abandons the queue).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "blk_queue_int.h"
#include "membudget.h"
#include "rsp_stage.h"

static uint8_t rsp_operation(const struct blk_req *req)
{
    return req->operation == BLKIF_OP_INDIRECT ? req->indirect_op : req->operation;
}

static struct blkq_req *slot_get(struct blk_queue *q)
{
    struct blkq_req *r = q->free;
    if (r) {
        q->free = r->next;
        q->nfree--;
        r->next = NULL;
    }
    return r;
}

static void slot_unget(struct blk_queue *q, struct blkq_req *r)
{
    r->next = q->free;
    q->free = r;
    q->nfree++;
}

/* ---- completion ---- */

static unsigned cancel_inflight(struct blk_queue *q);

/* An error a cancel (or the signal io-wq uses for it) ends I/O with. */
static bool cancelled_by_us(const struct blk_queue *q, int res)
{
    return q->quiescing && (res == -ECANCELED || res == -EINTR);
}

static void blkq_done(struct sc_io *io, int res)
{
    struct blkq_req *r = (struct blkq_req *)io;
    struct blk_queue *q = r->q;
    int16_t status = BLKIF_RSP_OKAY;

    if (blkq_io_done(q, r, &res))
        return; /* a discard's next part went out */
    q->io_inflight--;
    r->inflight = false;
    if (q->cancels_owed)
        cancel_inflight(q);
    if (r->stage == BLKQ_STAGE_DATA && r->kind == BLKQ_RW) {
        if (res < 0 || (uint32_t)res != r->expect) {
            if (!cancelled_by_us(q, res))
                sc_log_limited(&q->rl, SC_LOG_ERR, q->sc.name,
                               "request %llu: %s of %u bytes at sector %llu: %s",
                               (unsigned long long)r->req.id,
                               r->info.writes ? "write" : "read", r->expect,
                               (unsigned long long)r->info.sector,
                               res < 0 ? strerror(-res) : "short transfer");
            status = BLKIF_RSP_ERROR;
        } else if (r->info.flush && q->quiescing) {
            /* Written but not made durable: no new I/O once removal began
             * (the fsync could hang as long as the store does). */
            status = BLKIF_RSP_ERROR;
        } else if (r->info.flush) {
            if (blkq_submit_flush(q, r) < 0)
                blkq_list_add(&q->retry, r);
            return;
        } else if (r->bounce_reads) {
            blkq_list_add(&q->copyback, r);
            sc_queue_mark_dirty(&q->sc);
            return;
        }
    } else if (res < 0) {
        if (!cancelled_by_us(q, res))
            sc_log_limited(&q->rl, SC_LOG_ERR, q->sc.name, "request %llu: %s: %s",
                           (unsigned long long)r->req.id,
                           r->kind == BLKQ_DISCARD ? "discard" : "flush", strerror(-res));
        status = res == -EOPNOTSUPP ? BLKIF_RSP_EOPNOTSUPP : BLKIF_RSP_ERROR;
    }
    if (r->info.drain)
        q->barrier_active = false;
    blkq_respond(q, r, status, false);
}

/* ---- the visit ---- */

/* Submits the parked SQE-less requests.  False if some are still parked. */
static bool resubmit_parked(struct blk_queue *q)
{
    struct blkq_req *r;
    while ((r = q->retry.head)) {
        if (blkq_submit_flush(q, r) < 0)
            return false;
        blkq_list_pop(&q->retry);
    }
    while ((r = q->ready.head)) {
        if (blkq_start(q, r) < 0)
            return false;
        blkq_list_pop(&q->ready);
    }
    return true;
}

/* Fetches and validates the next request.  1 if one was consumed (parked
 * in q->pending, or rejected: answered here and counted in *rejected), 0 if
 * the ring is empty, -EPROTO if the frontend broke it. */
static int fetch_next(struct blk_queue *q, const struct sc_visit *v, uint32_t *rejected)
{
    struct blkq_req *r = slot_get(q);
    if (!r)
        return 0; /* cannot happen: one slot per ring entry */
    int rc = blk_ring_fetch(&q->ring, &r->req);
    if (rc < 0) {
        slot_unget(q, r);
        if (rc == -EAGAIN)
            return 0;
        sc_log_limited(&q->rl, SC_LOG_ERR, q->sc.name,
                       "frontend broke the ring protocol (producer index overflow): "
                       "ring shut down");
        return -EPROTO;
    }
    r->start_ns = v->now_ns;
    r->rsp_op = rsp_operation(&r->req);
    r->copy_failed = false;
    r->bounce_reads = false;
    r->niov = 0;
    rc = blk_req_validate(&r->req, &q->limits, &r->info);
    if (rc == 0 && r->info.indirect_pages)
        rc = blkq_load_indirect(q, r);
    if (rc == 0) {
        q->pending = r;
        return 1;
    }
    blkq_reject(q, r, rc);
    (*rejected)++;
    return 1;
}

static int blkq_poll(struct sc_queue *sq, const struct sc_sched_grant *g, struct sc_visit *v)
{
    struct blk_queue *q = blkq_of(sq);
    struct blkq_list prepared = { 0 };
    int err = 0;

    q->quiescing = false; /* removed, then added again: it serves again */
    q->limits.disk_sectors = atomic_load_explicit(&q->disk_sectors, memory_order_relaxed);
    if (q->persistent)
        blk_pgrant_tick(&q->pgc, v->now_ns);
    blkq_disc_wake_retry(q);
    if (!resubmit_parked(q)) {
        v->more = true;
        return 0;
    }
    while (!q->barrier_active) {
        if (!q->pending) {
            if (!blkq_admits(q, g, v, NULL)) {
                v->more = true;
                break;
            }
            uint32_t rejected = 0;
            int rc = fetch_next(q, v, &rejected);
            v->requests += rejected;
            if (rc < 0) {
                err = rc;
                break;
            }
            if (rc == 0)
                break;
            if (!q->pending)
                continue;
        }
        struct blkq_req *r = q->pending;
        if (!blkq_admits(q, g, v, r)) {
            v->more = true;
            break;
        }
        /* A barrier waits for every earlier request of this queue. */
        if (r->info.drain && (q->nfree + 1 != q->nslots || prepared.head))
            break;
        if (blkq_bounce_need(q, r) > sc_bounce_avail(&q->bounce))
            break; /* our own completions give pages back and wake the core */
        /* last: it takes the request's cost from the guest's limit */
        if (!blkq_dir_admit(q, r, v->now_ns))
            break; /* held by the guest's read or write limit: its timer wakes us */
        q->pending = NULL;
        if (blkq_take(q, r, v) < 0) {
            blkq_respond(q, r, BLKIF_RSP_ERROR, false);
            continue;
        }
        blkq_list_add(&prepared, r);
        if (r->info.drain)
            break; /* nothing after a barrier in this visit */
    }

    blkq_run_copies(q);
    struct blkq_req *r;
    while ((r = blkq_list_pop(&prepared))) {
        if (blkq_start(q, r) < 0) {
            /* no SQE: park it and the rest for the next visit */
            blkq_list_add(&q->ready, r);
            while ((r = blkq_list_pop(&prepared)))
                blkq_list_add(&q->ready, r);
            v->more = true;
        }
    }
    return err;
}

static void blkq_flush(struct sc_queue *sq)
{
    struct blk_queue *q = blkq_of(sq);
    if (q->copyback.head)
        blkq_copyback(q);
    if (blk_ring_push_responses(&q->ring))
        sc_queue_notify(&q->sc);
}

static bool blkq_rearm(struct sc_queue *sq)
{
    struct blk_queue *q = blkq_of(sq);
    if (q->ring.broken)
        return false;
    /* The worker's answers would ring no one: stay visited until armed */
    if (q->disc_wake_owed)
        return false;
    /* Waiting on our own I/O (slots, bounce pages, a barrier), or on the
     * timer of a read/write limit: its completion wakes the core. */
    if ((q->barrier_active && q->io_inflight) || q->dir_timer_armed)
        return false;
    if (q->pending || q->ready.head || q->retry.head)
        return q->io_inflight == 0;
    return blk_ring_final_check(&q->ring);
}

static bool blkq_idle(struct sc_queue *sq)
{
    struct blk_queue *q = blkq_of(sq);
    return q->io_inflight == 0 && !q->copyback.head && !q->dir_timer_armed;
}

/* Requests in the ring (the shared header is the same in every ABI, and
 * the back rings share their first fields) or ones fetched and parked. */
static bool blkq_pending(struct sc_queue *sq)
{
    struct blk_queue *q = blkq_of(sq);
    if (q->ring.broken)
        return false;
    if (q->pending || q->ready.head || q->retry.head)
        return true;
    const struct blkif_sring *sr = q->ring.sring;
    return __atomic_load_n(&sr->req_prod, __ATOMIC_RELAXED) != q->ring.back.native.req_cons;
}

/* ---- removal ---- */

/* Asks the kernel to cancel each in-flight SQE of this queue not asked yet,
 * keyed by its user_data (the slot's sc_io).  The cancel SQE carries no
 * sc_io, so the core ignores its CQE (-ENOENT when the I/O finished first,
 * -EALREADY when an io-wq worker runs it and was only signalled).  When the
 * SQ is still full after the core submitted (the kernel refused), the rest
 * is owed: the next completion of this queue tries again.  Returns how many
 * cancels were queued. */
static unsigned cancel_inflight(struct blk_queue *q)
{
    unsigned n = 0;
    q->cancels_owed = false;
    for (unsigned i = 0; i < q->nslots; i++) {
        struct blkq_req *r = &q->slots[i];
        if (!r->inflight || r->cancelled)
            continue;
        struct io_uring_sqe *sqe = sc_queue_get_sqe(&q->sc);
        if (!sqe) {
            q->cancels_owed = true;
            sc_log_limited(&q->rl, SC_LOG_WARN, q->sc.name,
                           "no SQE to cancel request %llu: retried on the next completion",
                           (unsigned long long)r->req.id);
            break;
        }
        io_uring_prep_cancel64(sqe, (uint64_t)(uintptr_t)&r->io, 0);
        io_uring_sqe_set_data(sqe, NULL);
        r->cancelled = true;
        n++;
    }
    return n;
}

/* Answers, with an error, every request fetched but never submitted. */
static unsigned fail_parked(struct blk_queue *q)
{
    unsigned n = 0;
    struct blkq_req *r;
    if ((r = q->pending)) {
        q->pending = NULL; /* validated only: nothing mapped yet */
        blkq_respond(q, r, BLKIF_RSP_ERROR, false);
        n++;
    }
    while ((r = blkq_list_pop(&q->retry))) { /* written, its flush never sent */
        if (r->info.drain)
            q->barrier_active = false;
        blkq_respond(q, r, BLKIF_RSP_ERROR, false);
        n++;
    }
    while ((r = blkq_list_pop(&q->ready))) {
        blkq_respond(q, r, BLKIF_RSP_ERROR, false);
        n++;
    }
    return n;
}

/* The REMOVE began (polling stopped for good): fail what waits, cancel
 * what runs.  Reads already copied back or waiting in `copyback` are
 * answered normally by the flushes that follow. */
static void blkq_quiesce(struct sc_queue *sq)
{
    struct blk_queue *q = blkq_of(sq);
    q->quiescing = true;
    unsigned failed = fail_parked(q);
    unsigned cancelled = cancel_inflight(q);
    if (failed || cancelled)
        sc_log(SC_LOG_WARN, q->sc.name,
               "removal: %u requests not yet submitted answered with errors, "
               "%u in flight being cancelled",
               failed, cancelled);
}

static const struct sc_queue_ops blkq_ops = {
    .poll = blkq_poll,
    .flush = blkq_flush,
    .rearm = blkq_rearm,
    .idle = blkq_idle,
    .quiesce = blkq_quiesce,
    .pending = blkq_pending,
};

/* ---- life cycle ---- */

static int alloc_slots(struct blk_queue *q)
{
    q->slots = calloc(q->nslots, sizeof(*q->slots));
    struct iovec *iov = calloc((size_t)q->nslots * q->max_segs, sizeof(*iov));
    struct blkq_seg *seg = calloc((size_t)q->nslots * q->max_segs, sizeof(*seg));
    if (!q->slots || !iov || !seg) {
        free(iov);
        free(seg);
        return -ENOMEM;
    }
    for (unsigned i = q->nslots; i-- > 0;) {
        struct blkq_req *r = &q->slots[i];
        r->io.done = blkq_done;
        r->q = q;
        r->iov = iov + (size_t)i * q->max_segs;
        r->seg = seg + (size_t)i * q->max_segs;
        for (unsigned s = 0; s < q->max_segs; s++)
            r->seg[s].bounce = SC_BOUNCE_NONE;
        slot_unget(q, r);
    }
    return 0;
}

/* Segments a request slot holds: what the frontend may use. */
static unsigned max_segs_of(const struct blk_limits *lim)
{
    return lim->max_indirect_segments > BLKIF_MAX_SEGMENTS_PER_REQUEST
               ? lim->max_indirect_segments
               : BLKIF_MAX_SEGMENTS_PER_REQUEST;
}

/* Bounce pages: a full ring of direct requests, within
 * BLKQ_BOUNCE_MAX_PAGES, and at least one request of max_segs. */
static uint32_t bounce_pages_of(unsigned nslots, unsigned max_segs)
{
    uint64_t pages = (uint64_t)nslots * BLKIF_MAX_SEGMENTS_PER_REQUEST;
    if (pages > BLKQ_BOUNCE_MAX_PAGES)
        pages = BLKQ_BOUNCE_MAX_PAGES;
    if (pages < max_segs)
        pages = max_segs;
    return (uint32_t)pages;
}

static int alloc_buffers(struct blk_queue *q)
{
    uint32_t pages = bounce_pages_of(q->nslots, q->max_segs);
    int rc = sc_bounce_init(&q->bounce, pages);
    if (rc == 0)
        rc = sc_gnt_batch_init(&q->copies, q->xen, pages + q->max_segs);
    if (rc < 0)
        return rc;
    q->indirect_buf = aligned_alloc(BLK_PAGE_SIZE,
                                    BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST * BLK_PAGE_SIZE);
    return q->indirect_buf ? 0 : -ENOMEM;
}

struct blk_queue *blk_queue_create(const struct blk_queue_params *p)
{
    if (!p || !p->xen || !p->store || blk_ring_entries(p->abi, p->ring_pages) == 0 ||
        p->limits.max_indirect_segments > BLK_MAX_SEGMENTS) {
        errno = EINVAL;
        return NULL;
    }
    struct blk_queue *q = calloc(1, sizeof(*q));
    if (!q)
        return NULL;
    int rc = sc_queue_init(&q->sc, &blkq_ops, p->frontend_id, SC_TCLASS_VBD, "%s", p->name);
    if (rc < 0)
        goto fail;
    q->xen = p->xen;
    q->domid = p->frontend_id;
    q->store = p->store;
    const struct blk_store_info *si = blk_store_get_info(p->store);
    q->is_null = si->is_null;
    q->null_spin_ns = si->null_spin_ns;
    q->dirl = p->dir_limit;
    q->limits = p->limits;
    q->limits.read_only |= si->read_only;
    atomic_init(&q->disk_sectors, p->limits.disk_sectors);
    q->persistent = p->persistent && p->max_persistent_grants > 0;

    q->ring_pages = p->ring_pages;
    q->ring_addr = sc_gnt_map_batch(p->xen, p->frontend_id, p->ring_pages, p->ring_refs, true);
    if (!q->ring_addr) {
        rc = -errno;
        sc_log(SC_LOG_ERR, p->name, "cannot map the %u ring pages of domain %u: %s",
               p->ring_pages, p->frontend_id, strerror(errno));
        goto fail;
    }
    uint64_t ring_id = (uint64_t)p->ring_pages << 32;
    for (unsigned i = 0; i < p->ring_pages; i++)
        ring_id = (ring_id ^ p->ring_refs[i]) * 0x100000001b3ull;
    unsigned recovered;
    rc = blk_ring_attach(&q->ring, q->ring_addr, p->ring_pages, p->abi, p->name, ring_id,
                         &recovered);
    if (recovered)
        sc_log(SC_LOG_WARN, p->name,
               "finished publishing %u response(s) an unclean exit left half written",
               recovered);
    if (rc < 0) {
        sc_log(SC_LOG_ERR, p->name, "ring of domain %u: %s", p->frontend_id,
               blk_req_strerror(rc));
        goto fail;
    }
    q->nslots = blk_ring_size(&q->ring);
    q->max_segs = max_segs_of(&p->limits);
    rc = alloc_slots(q);
    if (rc == 0)
        rc = alloc_buffers(q);
    if (rc == 0 && q->persistent)
        rc = blk_pgrant_init(&q->pgc, p->xen, p->frontend_id, p->max_persistent_grants);
    if (rc < 0)
        goto fail;
    return q;

fail:
    blk_queue_destroy(q);
    errno = -rc;
    return NULL;
}

uint64_t blk_queue_mem_cost(const struct blk_queue_params *p)
{
    unsigned nslots = p ? blk_ring_entries(p->abi, p->ring_pages) : 0;
    if (nslots == 0)
        return 0;
    unsigned max_segs = max_segs_of(&p->limits);
    uint64_t bounce = bounce_pages_of(nslots, max_segs);
    uint64_t slot = sizeof(struct blkq_req) +
                    (uint64_t)max_segs * (sizeof(struct iovec) + sizeof(struct blkq_seg));
    uint64_t cost = sizeof(struct blk_queue) + nslots * slot;
    cost += sc_mem_pages(bounce * SC_BOUNCE_PAGE_SIZE) + bounce * sizeof(uint32_t);
    cost += (bounce + max_segs) * (sizeof(xengnttab_grant_copy_segment_t) + sizeof(bool *));
    cost += (uint64_t)BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST * BLK_PAGE_SIZE;
    /* the ring's grant mappings, and its response log (tmpfs or private) */
    cost += (uint64_t)p->ring_pages * BLK_PAGE_SIZE;
    cost += sc_mem_pages(sc_rsp_stage_log_len(blk_abi_rsp_size(p->abi), nslots));
    if (p->persistent && p->max_persistent_grants > 0)
        cost += blk_pgrant_mem(p->max_persistent_grants);
    return cost;
}

struct sc_queue *blk_queue_sc(struct blk_queue *q)
{
    return q ? &q->sc : NULL;
}

void blk_queue_set_disk_sectors(struct blk_queue *q, uint64_t sectors)
{
    if (q)
        atomic_store_explicit(&q->disk_sectors, sectors, memory_order_relaxed);
}

void blk_queue_destroy(struct blk_queue *q)
{
    if (!q)
        return;
    blk_pgrant_destroy(&q->pgc); /* no I/O in flight: every mapping goes */
    blk_ring_detach(&q->ring);
    if (q->ring_addr)
        sc_gnt_unmap(q->xen, q->ring_addr, q->ring_pages);
    blkq_io_destroy(q);
    sc_bounce_destroy(&q->bounce);
    sc_gnt_batch_destroy(&q->copies);
    if (q->slots) {
        free(q->slots[0].iov);
        free(q->slots[0].seg);
    }
    free(q->slots);
    free(q->indirect_buf);
    free(q);
}
