/*
 * blk_queue_io.c - how one blkback request's data moves (blk_queue_int.h):
 * persistent mappings or bounce pages (backend/bounce.h) per segment, grant
 * copies batched per visit (writes) and per flush (reads) in the queue's
 * sc_gnt_batch (backend/gnt_batch.h: a failed copy marks its request's
 * copy_failed), SQEs through the backing store, the completion, and the
 * response.
 *
 * Discards go out part by part (blk_store.c says why): the next part is
 * submitted from the completion of the one before (blkq_io_done), so a
 * request holds one SQE and one kernel worker at a time; a store that
 * cannot discard through io_uring hands the rest to its worker thread, whose
 * answer comes back through the queue's inbox and a POLL on its doorbell
 * (disc_wake), i.e. as one more completion of this core's io_uring.
 *
 * Why a read's copy to the guest waits for flush(): every completion reaped
 * in a round lands in done() before the round's flush, so the copies of all
 * of them go in one sc_gnt_copy_batch (a hypercall on Xen) instead of one
 * per request, and the responses still go out in the same round.
 */
#include <errno.h>
#include <poll.h>
#include <stddef.h>
#include <string.h>

#include "blk_queue_int.h"
#include "clock.h"

static const uint8_t zero_page[BLK_PAGE_SIZE] __attribute__((aligned(4096)));

/* The call itself failed (every owner is marked): worth a log line. */
static void copies_failed(struct blk_queue *q, uint32_t n, int rc)
{
    sc_log_limited(&q->rl, SC_LOG_ERR, q->sc.name, "grant copy of %u segments: %s", n,
                   strerror(-rc));
}

void blkq_run_copies(struct blk_queue *q)
{
    uint32_t n = sc_gnt_batch_count(&q->copies);
    int rc = sc_gnt_batch_flush(&q->copies);
    if (rc < 0)
        copies_failed(q, n, rc);
}

/* Queue a copy for r (a full batch runs first: its error is logged here). */
static void copy_from_guest(struct blk_queue *q, struct blkq_req *r, grant_ref_t gref,
                            uint16_t off, uint16_t len, void *local)
{
    int rc = sc_gnt_batch_from_guest(&q->copies, q->domid, gref, off, local, len,
                                     &r->copy_failed);
    if (rc < 0)
        copies_failed(q, q->copies.cap, rc);
}

static void copy_to_guest(struct blk_queue *q, struct blkq_req *r, grant_ref_t gref,
                          uint16_t off, uint16_t len, const void *local)
{
    int rc = sc_gnt_batch_to_guest(&q->copies, local, q->domid, gref, off, len,
                                   &r->copy_failed);
    if (rc < 0)
        copies_failed(q, q->copies.cap, rc);
}

uint32_t blkq_bounce_need(const struct blk_queue *q, const struct blkq_req *r)
{
    if (q->is_null || r->info.discard)
        return 0;
    return r->info.nr_segments;
}

int blkq_load_indirect(struct blk_queue *q, struct blkq_req *r)
{
    unsigned n = r->info.indirect_pages;
    xengnttab_grant_copy_segment_t segs[BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST];
    void *pages[BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST];

    for (unsigned i = 0; i < n; i++) {
        pages[i] = q->indirect_buf + (size_t)i * BLK_PAGE_SIZE;
        sc_gnt_seg_from_guest(&segs[i], q->domid, r->req.indirect_grefs[i], 0, pages[i],
                              BLK_PAGE_SIZE);
    }
    /* Small and rare next to data: not worth joining the visit's batch. */
    int rc = sc_gnt_copy_batch(q->xen, n, segs);
    for (unsigned i = 0; rc == 0 && i < n; i++)
        if (segs[i].status != GNTST_okay)
            rc = -EIO;
    if (rc < 0)
        return -EIO;
    return blk_req_load_indirect(&r->req, pages, n, &q->limits, &r->info);
}

/* Zero-fills the guest's pages of a read from the null store. */
static int prepare_null_read(struct blk_queue *q, struct blkq_req *r)
{
    for (unsigned i = 0; i < r->info.nr_segments; i++) {
        const struct blk_seg *s = &r->req.seg[i];
        uint16_t off = (uint16_t)(s->first_sect << BLK_SECTOR_SHIFT);
        uint16_t len = (uint16_t)((s->last_sect - s->first_sect + 1u) << BLK_SECTOR_SHIFT);
        if (q->persistent) {
            struct blk_pgrant *pg = blk_pgrant_get(&q->pgc, s->gref);
            if (!pg && errno != ENOSPC)
                return -EIO;
            if (pg && pg->writable) {
                memset((uint8_t *)pg->addr + off, 0, len);
                blk_pgrant_put(&q->pgc, pg);
                continue;
            }
            blk_pgrant_put(&q->pgc, pg);
        }
        copy_to_guest(q, r, s->gref, off, len, zero_page);
    }
    return 0;
}

int blkq_prepare(struct blk_queue *q, struct blkq_req *r)
{
    const struct blk_req_check *info = &r->info;
    unsigned nseg = info->nr_segments;

    r->niov = 0;
    r->expect = (uint32_t)info->bytes;
    if (info->discard) {
        r->kind = BLKQ_DISCARD;
        return 0;
    }
    if (nseg == 0) {
        r->kind = BLKQ_FLUSH;
        return 0;
    }
    r->kind = BLKQ_RW;
    if (q->is_null)
        return info->reads ? prepare_null_read(q, r) : 0;

    for (unsigned i = 0; i < nseg; i++) {
        const struct blk_seg *s = &r->req.seg[i];
        uint16_t off = (uint16_t)(s->first_sect << BLK_SECTOR_SHIFT);
        uint16_t len = (uint16_t)((s->last_sect - s->first_sect + 1u) << BLK_SECTOR_SHIFT);
        struct blkq_seg *qs = &r->seg[i];
        uint8_t *base = NULL;

        if (q->persistent) {
            struct blk_pgrant *pg = blk_pgrant_get(&q->pgc, s->gref);
            if (!pg && errno != ENOSPC) {
                sc_log_limited(&q->rl, SC_LOG_WARN, q->sc.name,
                               "request %llu: grant %u of domain %u does not map",
                               (unsigned long long)r->req.id, s->gref, q->domid);
                r->niov = (uint16_t)i;
                return -EIO;
            }
            if (pg && (!info->reads || pg->writable)) {
                qs->pg = pg;
                base = pg->addr;
            } else {
                blk_pgrant_put(&q->pgc, pg); /* read into a read-only grant: copy */
            }
        }
        if (!base) {
            qs->bounce = sc_bounce_get(&q->bounce);
            if (qs->bounce == SC_BOUNCE_NONE) { /* cannot happen: checked before */
                r->niov = (uint16_t)i;
                return -ENOMEM;
            }
            base = sc_bounce_addr(&q->bounce, qs->bounce);
            if (info->writes)
                copy_from_guest(q, r, s->gref, off, len, base + off);
            else
                r->bounce_reads = true;
        }
        r->iov[i].iov_base = base + off;
        r->iov[i].iov_len = len;
        r->niov = (uint16_t)(i + 1);
    }
    return 0;
}

/* Releases the pages a request holds (persistent refs, bounce pages). */
static void release_segments(struct blk_queue *q, struct blkq_req *r)
{
    for (unsigned i = 0; i < r->niov; i++) {
        struct blkq_seg *qs = &r->seg[i];
        if (qs->pg) {
            blk_pgrant_put(&q->pgc, qs->pg);
            qs->pg = NULL;
        }
        sc_bounce_put(&q->bounce, qs->bounce);
        qs->bounce = SC_BOUNCE_NONE;
    }
    r->niov = 0;
}

void blkq_respond(struct blk_queue *q, struct blkq_req *r, int16_t status, bool in_flush)
{
    release_segments(q, r);
    if (blk_ring_put_response(&q->ring, r->req.ring_idx, r->req.id, r->rsp_op, status) < 0)
        sc_log_limited(&q->rl, SC_LOG_ERR, q->sc.name, "no ring slot for response %llu",
                       (unsigned long long)r->req.id);
    if (status != BLKIF_RSP_OKAY)
        sc_queue_count(&q->sc, SC_QSTAT_ERRORS, 1);
    uint64_t now = sc_queue_now_ns(&q->sc);
    sc_queue_record_latency(&q->sc, now > r->start_ns ? now - r->start_ns : 0);
    if (!in_flush)
        sc_queue_mark_dirty(&q->sc);
    r->copy_failed = false;
    r->bounce_reads = false;
    r->next = q->free;
    q->free = r;
    q->nfree++;
}

void blkq_reject(struct blk_queue *q, struct blkq_req *r, int err)
{
    sc_log_limited(&q->rl, SC_LOG_WARN, q->sc.name, "request %llu (op %u): %s",
                   (unsigned long long)r->req.id, r->req.operation, blk_req_strerror(err));
    blkq_respond(q, r, blk_req_rsp_status(err), false);
}

static struct io_uring_sqe *get_sqe(struct blk_queue *q)
{
    return sc_queue_get_sqe(&q->sc);
}

/* An SQE taken but not used (the store refused the request): a NOP with no
 * sc_io, which the core reaps and ignores. */
static void sqe_cancel(struct io_uring_sqe *sqe)
{
    io_uring_prep_nop(sqe);
    io_uring_sqe_set_data(sqe, NULL);
}

static int16_t status_of(int err)
{
    return err == -EOPNOTSUPP ? BLKIF_RSP_EOPNOTSUPP : BLKIF_RSP_ERROR;
}

/* r's SQE is set up: it is in flight until done() (and cancellable by its
 * user_data, &r->io, while quiescing). */
static void submitted(struct blk_queue *q, struct blkq_req *r, struct io_uring_sqe *sqe)
{
    sc_io_attach(sqe, &r->io);
    r->inflight = true;
    r->cancelled = false;
    q->io_inflight++;
    if (r->info.drain)
        q->barrier_active = true;
}

/* ---- the discard worker's answers ---- */

static void disc_wake_done(struct sc_io *io, int res);

/* Puts the wake in sqe: a POLL on the inbox's doorbell, or a NOP when
 * answers are already there (the inbox stays disarmed then). */
static void disc_wake_arm(struct blk_queue *q, struct io_uring_sqe *sqe)
{
    if (sc_inbox_arm(&q->disc_inbox))
        io_uring_prep_poll_add(sqe, sc_inbox_fd(&q->disc_inbox), POLLIN);
    else
        io_uring_prep_nop(sqe);
    q->disc_wake.done = disc_wake_done;
    sc_io_attach(sqe, &q->disc_wake);
    q->disc_wake_inflight = true;
    q->disc_wake_owed = false;
}

/* ---- the guest's read/write limits ---- */

static void dir_timer_done(struct sc_io *io, int res)
{
    (void)res; /* -ETIME: the time came; the core polls the queue after reaping */
    struct blk_queue *q = (struct blk_queue *)((char *)io - offsetof(struct blk_queue, dir_timer));
    q->dir_timer_armed = false;
}

bool blkq_dir_admit(struct blk_queue *q, struct blkq_req *r, uint64_t now_ns)
{
    if (!q->dirl || !sc_dir_limit_any(q->dirl))
        return true;
    enum sc_dir d = r->info.reads ? SC_DIR_READ : SC_DIR_WRITE;
    uint64_t bytes = r->info.discard ? 0 : r->info.bytes; /* a discard moves no data */
    uint64_t at = sc_dir_limit_take(q->dirl, d, bytes, now_ns);
    if (!at)
        return true;
    if (!q->dir_timer_armed) {
        struct io_uring_sqe *sqe = get_sqe(q);
        if (sqe) { /* else the queue stays polled (rearm) until one is free */
            q->dir_ts.tv_sec = (long long)(at / 1000000000u);
            q->dir_ts.tv_nsec = (long long)(at % 1000000000u);
            io_uring_prep_timeout(sqe, &q->dir_ts, 0, IORING_TIMEOUT_ABS);
            q->dir_timer.done = dir_timer_done;
            sc_io_attach(sqe, &q->dir_timer);
            q->dir_timer_armed = true;
        }
    }
    return false;
}

/* A wake that found no SQE (the SQ was full): tried again at every I/O
 * call and every visit of this queue (blkq_rearm keeps it visited). */
void blkq_disc_wake_retry(struct blk_queue *q)
{
    if (!q->disc_wake_owed || q->disc_wake_inflight)
        return;
    struct io_uring_sqe *sqe = get_sqe(q);
    if (sqe)
        disc_wake_arm(q, sqe);
}

static void disc_wake_done(struct sc_io *io, int res)
{
    (void)res; /* a POLL's mask, or an error: the inbox says what is done */
    struct blk_queue *q = (struct blk_queue *)((char *)io - offsetof(struct blk_queue, disc_wake));
    q->disc_wake_inflight = false;
    sc_inbox_disarm(&q->disc_inbox);
    struct sc_inbox_msg *m = sc_inbox_take_all(&q->disc_inbox);
    while (m) {
        struct sc_inbox_msg *next = sc_inbox_next(m);
        struct blk_store_job *job = (struct blk_store_job *)m;
        struct blkq_req *r = (struct blkq_req *)((char *)job - offsetof(struct blkq_req, job));
        q->disc_jobs--;
        r->io.done(&r->io, job->res); /* blkq_done: answers it (in_worker set) */
        m = next;
    }
    if (q->disc_jobs && !q->disc_wake_inflight) {
        struct io_uring_sqe *sqe = get_sqe(q);
        if (sqe) {
            disc_wake_arm(q, sqe);
        } else {
            q->disc_wake_owed = true;
            sc_log_limited(&q->rl, SC_LOG_WARN, q->sc.name,
                           "no SQE to wait for %u discard(s) in the worker: retried",
                           q->disc_jobs);
        }
    }
}

/* Hands the rest of r's discard to the store's worker.  sqe is used for
 * the wake or cancelled.  r is counted in flight from here (counted: it
 * already was).  0 or -errno (nothing handed; sqe cancelled). */
static int discard_to_worker(struct blk_queue *q, struct blkq_req *r, struct io_uring_sqe *sqe,
                             bool counted)
{
    int rc = 0;
    if (!q->disc_inbox_ready) {
        rc = sc_inbox_init(&q->disc_inbox);
        q->disc_inbox_ready = rc == 0;
    }
    if (rc == 0)
        rc = blk_store_discard_async(q->store, &r->job, &q->disc_inbox);
    if (rc < 0) {
        sqe_cancel(sqe);
        return rc;
    }
    q->disc_jobs++;
    r->in_worker = true;
    r->stage = BLKQ_STAGE_DATA;
    if (!counted) {
        r->inflight = true;
        r->cancelled = false; /* a cancel finds no SQE of ours: -ENOENT, ignored */
        q->io_inflight++;
    }
    if (q->disc_wake_inflight)
        sqe_cancel(sqe);
    else
        disc_wake_arm(q, sqe);
    return 0;
}

/* Issues the next part of r's discard (r not in flight).  0 (submitted, or
 * answered with an error), or -EBUSY without an SQE (nothing changed). */
static int discard_issue(struct blk_queue *q, struct blkq_req *r)
{
    struct io_uring_sqe *sqe = get_sqe(q);
    if (!sqe)
        return -EBUSY;
    int rc = blk_store_prep_discard(q->store, sqe, &r->job.d);
    if (rc == 0) {
        r->stage = BLKQ_STAGE_DATA;
        submitted(q, r, sqe);
        return 0;
    }
    if (rc == -EAGAIN)
        rc = discard_to_worker(q, r, sqe, false);
    else
        sqe_cancel(sqe);
    if (rc < 0) {
        sc_log_limited(&q->rl, SC_LOG_WARN, q->sc.name, "request %llu: discard: %s",
                       (unsigned long long)r->req.id, strerror(-rc));
        blkq_respond(q, r, status_of(rc), false);
    }
    return 0;
}

static int discard_start(struct blk_queue *q, struct blkq_req *r)
{
    int rc = blk_store_discard_begin(q->store, &r->job.d, r->info.sector << BLK_SECTOR_SHIFT,
                                     r->info.bytes, r->info.discard_secure);
    if (rc < 0 || !blk_discard_left(&r->job.d)) {
        if (rc < 0)
            sc_log_limited(&q->rl, SC_LOG_WARN, q->sc.name, "request %llu: store refused: %s",
                           (unsigned long long)r->req.id, strerror(-rc));
        blkq_respond(q, r, rc < 0 ? status_of(rc) : BLKIF_RSP_OKAY, false);
        return 0;
    }
    r->in_worker = false;
    return discard_issue(q, r);
}

/* A part of r's discard completed (r in flight).  True if the discard goes
 * on (see blkq_io_done). */
static bool discard_part_done(struct blk_queue *q, struct blkq_req *r, int *res)
{
    if (r->in_worker) { /* the worker did the rest: its answer is final */
        r->in_worker = false;
        return false;
    }
    int rc = blk_store_discard_part_done(q->store, &r->job.d, *res);
    if (rc < 0 || (rc == 0 && !blk_discard_left(&r->job.d))) {
        *res = rc;
        return false;
    }
    if (q->quiescing) {
        *res = -ECANCELED; /* removal: no new I/O (answered with an error) */
        return false;
    }
    struct io_uring_sqe *sqe = get_sqe(q);
    if (!sqe) {
        /* out of flight until an SQE comes: `retry` resubmits it through
         * blkq_submit_flush (and quiesce answers it) */
        q->io_inflight--;
        r->inflight = false;
        blkq_list_add(&q->retry, r);
        sc_queue_mark_dirty(&q->sc);
        return true;
    }
    rc = rc == 1 ? -EAGAIN : blk_store_prep_discard(q->store, sqe, &r->job.d);
    if (rc == 0) {
        sc_io_attach(sqe, &r->io);
        r->cancelled = false;
        return true;
    }
    if (rc == -EAGAIN)
        rc = discard_to_worker(q, r, sqe, true);
    else
        sqe_cancel(sqe);
    if (rc == 0)
        return true;
    *res = rc;
    return false;
}

bool blkq_io_done(struct blk_queue *q, struct blkq_req *r, int *res)
{
    blkq_disc_wake_retry(q);
    if (r->stage == BLKQ_STAGE_FLUSH) {
        *res = blk_store_flush_done(q->store, *res);
        return false;
    }
    if (r->kind == BLKQ_DISCARD)
        return discard_part_done(q, r, res);
    return false;
}

uint64_t blkq_cost_bytes(const struct blkq_req *r)
{
    return r->info.discard ? r->info.bytes / BLKQ_DISCARD_COST_DIV : r->info.bytes;
}

/* Whether blkq_prepare looks r's segments up in the persistent-grant cache:
 * data requests of a queue with persistent grants, but the null store only
 * for reads (its writes touch no guest page). */
static bool uses_pgrants(const struct blk_queue *q, const struct blkq_req *r)
{
    return q->persistent && !r->info.discard && r->info.nr_segments &&
           (!q->is_null || r->info.reads);
}

uint64_t blkq_request_cost(const struct blk_queue *q, const struct blkq_req *r)
{
    uint64_t cost = blkq_cost_bytes(r);
    if (!uses_pgrants(q, r))
        return cost;
    uint32_t maps = blk_pgrant_maps_allowed(&q->pgc);
    for (unsigned i = 0; i < r->info.nr_segments && maps; i++)
        if (!blk_pgrant_find(&q->pgc, r->req.seg[i].gref)) {
            cost += BLKQ_MAP_MISS_COST_BYTES;
            maps--;
        }
    return cost;
}

bool blkq_admits(const struct blk_queue *q, const struct sc_sched_grant *g,
                 const struct sc_visit *v, const struct blkq_req *r)
{
    /* extra_cost counts as spent: the scheduler charges it as bytes */
    return sc_sched_grant_admits(g, v->bytes + v->extra_cost, v->requests,
                                 r ? blkq_request_cost(q, r) : 0);
}

int blkq_take(struct blk_queue *q, struct blkq_req *r, struct sc_visit *v)
{
    v->requests++;
    v->bytes += blkq_cost_bytes(r);
    uint64_t maps = q->pgc.stats.maps;
    int rc = blkq_prepare(q, r);
    v->extra_cost += (q->pgc.stats.maps - maps) * BLKQ_MAP_MISS_COST_BYTES;
    return rc;
}

void blkq_io_destroy(struct blk_queue *q)
{
    if (q->disc_inbox_ready)
        sc_inbox_destroy(&q->disc_inbox);
    q->disc_inbox_ready = false;
}

/* ---- submission ---- */

int blkq_submit_flush(struct blk_queue *q, struct blkq_req *r)
{
    blkq_disc_wake_retry(q);
    if (r->kind == BLKQ_DISCARD) /* from `retry`: its next part */
        return discard_issue(q, r);
    struct io_uring_sqe *sqe = get_sqe(q);
    if (!sqe)
        return -EBUSY;
    int rc = blk_store_prep_flush(q->store, sqe);
    if (rc < 0) {
        sqe_cancel(sqe);
        if (r->info.drain)
            q->barrier_active = false;
        sc_log_limited(&q->rl, SC_LOG_WARN, q->sc.name, "request %llu: flush: %s",
                       (unsigned long long)r->req.id, strerror(-rc));
        blkq_respond(q, r, status_of(rc), false);
        return 0;
    }
    r->stage = BLKQ_STAGE_FLUSH;
    submitted(q, r, sqe);
    return 0;
}

int blkq_start(struct blk_queue *q, struct blkq_req *r)
{
    if (r->copy_failed) {
        sc_log_limited(&q->rl, SC_LOG_WARN, q->sc.name,
                       "request %llu: grant copy failed (bad grant from domain %u)",
                       (unsigned long long)r->req.id, q->domid);
        blkq_respond(q, r, BLKIF_RSP_ERROR, false);
        return 0;
    }
    if (q->is_null) {
        if (q->null_spin_ns) {
            uint64_t until = sc_clock_ns() + q->null_spin_ns;
            while (sc_clock_ns() < until)
                ;
        }
        blkq_respond(q, r, BLKIF_RSP_OKAY, false);
        return 0;
    }
    blkq_disc_wake_retry(q);
    if (r->kind == BLKQ_FLUSH)
        return blkq_submit_flush(q, r);
    if (r->kind == BLKQ_DISCARD)
        return discard_start(q, r);
    struct io_uring_sqe *sqe = get_sqe(q);
    if (!sqe)
        return -EBUSY;
    uint64_t offset = r->info.sector << BLK_SECTOR_SHIFT;
    int rc = blk_store_prep_rw(q->store, sqe, r->info.writes, r->iov, r->niov, offset,
                               r->info.segs_aligned);
    if (rc < 0) {
        sqe_cancel(sqe);
        sc_log_limited(&q->rl, SC_LOG_WARN, q->sc.name, "request %llu: store refused: %s",
                       (unsigned long long)r->req.id, strerror(-rc));
        blkq_respond(q, r, status_of(rc), false);
        return 0;
    }
    r->stage = BLKQ_STAGE_DATA;
    submitted(q, r, sqe);
    return 0;
}

void blkq_copyback(struct blk_queue *q)
{
    for (struct blkq_req *r = q->copyback.head; r; r = r->next) {
        for (unsigned i = 0; i < r->niov; i++) {
            const struct blkq_seg *qs = &r->seg[i];
            if (qs->bounce == SC_BOUNCE_NONE)
                continue;
            const struct blk_seg *s = &r->req.seg[i];
            copy_to_guest(q, r, s->gref, (uint16_t)(s->first_sect << BLK_SECTOR_SHIFT),
                          (uint16_t)r->iov[i].iov_len, r->iov[i].iov_base);
        }
    }
    blkq_run_copies(q);
    struct blkq_req *r;
    while ((r = blkq_list_pop(&q->copyback))) {
        if (r->copy_failed)
            sc_log_limited(&q->rl, SC_LOG_WARN, q->sc.name,
                           "request %llu: copy to the guest failed",
                           (unsigned long long)r->req.id);
        blkq_respond(q, r, r->copy_failed ? BLKIF_RSP_ERROR : BLKIF_RSP_OKAY, true);
    }
}
