/*
 * blk_admit_cost_test.c - a visit admits requests by what they will cost
 * (blkq_admits, blkq_take: blkback/blk_queue_io.c): a request's payload plus
 * a grant map's price for each of its segments missing from the
 * persistent-grant cache.  So a visit over requests whose grants all miss
 * stops before it overruns its grant (admitted by payload alone, it took
 * as many requests as their bytes allowed and cost the guest's neighbours
 * up to 60 times the grant), while requests whose grants are cached are
 * admitted as before.  Null-store reads over real grants of a xensim guest;
 * the queue is built by hand with only what pricing, preparing a null read
 * and charging touch, and each visit is blkq_poll's loop without the ring.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "blk_queue_int.h"
#include "grant_fixture.h"
#include "log.h"

#define NREQ   16
#define SEGS   11u                  /* a direct request's most: 44 KiB */
#define NPAGES (NREQ * SEGS)

static struct blk_queue q;
static struct blkq_req reqs[NREQ];
static uint8_t *area;
static grant_ref_t refs[NPAGES];

/* The sidecore's default grant of a weight visit: 256 KiB of cost, a
 * request counting 4 KiB, 64 requests. */
static struct sc_sched_grant grant(uint64_t max_cost)
{
    return (struct sc_sched_grant){ .max_cost = max_cost, .max_bytes = UINT64_MAX,
                                    .max_requests = 64, .request_cost = 4096,
                                    .phase = SC_SCHED_PHASE_WEIGHT };
}

/* NREQ reads of nseg whole pages each, every request on refs of its own. */
static void make_reads(unsigned nseg)
{
    memset(reqs, 0, sizeof(reqs));
    for (unsigned i = 0; i < NREQ; i++) {
        struct blkq_req *r = &reqs[i];
        r->req.id = i;
        r->req.nr_segments = (uint16_t)nseg;
        for (unsigned s = 0; s < nseg; s++)
            r->req.seg[s] = (struct blk_seg){ .gref = refs[i * SEGS + s], .last_sect = 7 };
        r->info.nr_segments = (uint16_t)nseg;
        r->info.nr_sectors = nseg * 8u;
        r->info.bytes = nseg * 4096u;
        r->info.reads = true;
    }
}

/* One visit from request `first` on, as blkq_poll takes them. */
static struct sc_visit visit(const struct sc_sched_grant *g, unsigned first)
{
    struct sc_visit v = { 0 };
    for (unsigned i = first; i < NREQ && blkq_admits(&q, g, &v, &reqs[i]); i++)
        assert_int_equal(blkq_take(&q, &reqs[i], &v), 0);
    return v;
}

/* What the scheduler charges for v (sidecore_loop.c: bytes + extra cost,
 * plus the per-request charge). */
static uint64_t charged(const struct sc_visit *v, const struct sc_sched_grant *g)
{
    return v->bytes + v->extra_cost + (uint64_t)v->requests * g->request_cost;
}

static int queue_setup(void **state)
{
    (void)state;
    memset(&q, 0, sizeof(q));
    q.xen = gfx.xen;
    q.domid = gfx.guest_id;
    q.is_null = true;
    q.persistent = true;
    area = gfx_grant_pages(NPAGES, 1, false, refs);
    /* room for every ref: what misses is what was never mapped */
    assert_int_equal(blk_pgrant_init(&q.pgc, gfx.xen, gfx.guest_id, NPAGES), 0);
    return 0;
}

static int queue_teardown(void **state)
{
    (void)state;
    blk_pgrant_destroy(&q.pgc);
    gfx_end_pages(area, NPAGES, refs);
    return 0;
}

/* 44 KiB reads whose 11 grants all miss: each visit takes one request (the
 * first is always admitted) and no more, since the maps it caused already
 * spent the grant; by payload alone it took five. */
static void misses_end_the_visit(void **state)
{
    (void)state;
    make_reads(SEGS);
    struct sc_sched_grant g = grant(256u << 10);
    assert_int_equal(blkq_request_cost(&q, &reqs[0]),
                     SEGS * 4096u + SEGS * (uint64_t)BLKQ_MAP_MISS_COST_BYTES);
    for (unsigned first = 0; first < 4; first++) {
        struct sc_visit v = visit(&g, first);
        assert_int_equal(v.requests, 1);
        assert_int_equal(v.extra_cost, SEGS * (uint64_t)BLKQ_MAP_MISS_COST_BYTES);
    }
    /* the maps made, the same request is priced by its payload only */
    assert_int_equal(blkq_request_cost(&q, &reqs[0]), SEGS * 4096u);
    assert_int_equal(q.pgc.stats.misses, 4 * SEGS);
}

/* The same reads with their grants cached: the grant's arithmetic is the
 * payload's, five 48 KiB-cost requests in 256 KiB, as before. */
static void hits_admitted_as_before(void **state)
{
    (void)state;
    make_reads(SEGS);
    struct sc_sched_grant all = grant(UINT64_MAX);
    all.max_requests = NREQ;
    struct sc_visit warm = visit(&all, 0);
    assert_int_equal(warm.requests, NREQ);
    struct sc_sched_grant g = grant(256u << 10);
    struct sc_visit v = visit(&g, 0);
    assert_int_equal(v.requests, 5);
    assert_int_equal(v.extra_cost, 0);
    assert_true(charged(&v, &g) <= g.max_cost);
}

/* 4 KiB reads, each missing: a 1 MiB grant takes three (288 KiB each with
 * the map) and the visit stays within it; by payload alone it took all 16,
 * charged 4.5 MiB. */
static void small_misses_stay_within_the_grant(void **state)
{
    (void)state;
    make_reads(1);
    struct sc_sched_grant g = grant(1u << 20);
    struct sc_visit v = visit(&g, 0);
    assert_int_equal(v.requests, 3);
    assert_int_equal(v.extra_cost, 3 * (uint64_t)BLKQ_MAP_MISS_COST_BYTES);
    assert_true(charged(&v, &g) <= g.max_cost);
}

/* A probe (or any grant that has nothing left) still takes one request,
 * however costly, so a request larger than every grant is never stuck. */
static void first_request_always_admitted(void **state)
{
    (void)state;
    make_reads(SEGS);
    struct sc_sched_grant g = grant(4096);
    g.probe = true;
    g.max_requests = 1;
    struct sc_visit v = visit(&g, 0);
    assert_int_equal(v.requests, 1);
    assert_true(charged(&v, &g) > g.max_cost);
}

int main(void)
{
    sc_log_set_level(SC_LOG_ERR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(misses_end_the_visit, queue_setup, queue_teardown),
        cmocka_unit_test_setup_teardown(hits_admitted_as_before, queue_setup, queue_teardown),
        cmocka_unit_test_setup_teardown(small_misses_stay_within_the_grant, queue_setup,
                                        queue_teardown),
        cmocka_unit_test_setup_teardown(first_request_always_admitted, queue_setup,
                                        queue_teardown),
    };
    return cmocka_run_group_tests(tests, grant_fixture_setup, grant_fixture_teardown);
}
