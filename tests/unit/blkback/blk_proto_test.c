/*
 * blk_proto_test.c — blkif ring fetch/validate/respond (blkback/blk_proto.c).
 * Requests are written into ring pages byte by byte at offsets taken from
 * the ABI facts below (not from the module's structs), so a layout mistake
 * in the module shows up here. Ends with a random-bytes fuzz of the ring.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

/* Built standalone until the Makefile grows a libblkback rule. */
#include "blk_proto.h"

/* ------------------------------------------------------------ ABI facts */

struct layout {
    const char *name;
    enum blk_abi abi;
    size_t entry;                       /* bytes per ring slot */
    size_t id, sector, seg;             /* rw: op 0, nr_segments 1, handle 2 */
    size_t d_id, d_sector, d_nr;        /* discard: flag 1, handle 2 */
    size_t i_id, i_sector, i_handle, i_grefs; /* indirect: op 1, nr_segments 2 */
    size_t rsp_size;                    /* response: id 0, op 8, status 10 */
};

static const struct layout L_NATIVE = { "native", BLK_ABI_NATIVE, 112, 8, 16, 24,
                                        8, 16, 24, 8, 16, 24, 28, 16 };
static const struct layout L_X86_32 = { "x86_32", BLK_ABI_X86_32, 108, 4, 12, 20,
                                        4, 12, 20, 4, 12, 20, 24, 12 };
static const struct layout L_X86_64 = { "x86_64", BLK_ABI_X86_64, 112, 8, 16, 24,
                                        8, 16, 24, 8, 16, 24, 28, 16 };

#define OFF_REQ_PROD  0
#define OFF_REQ_EVENT 4
#define OFF_RSP_PROD  8
#define OFF_RSP_EVENT 12
#define HDR           64

static unsigned rounddown_pow2(unsigned x)
{
    unsigned p = 1;
    while (p * 2 <= x)
        p *= 2;
    return x ? p : 0;
}

static unsigned expected_entries(const struct layout *L, unsigned pages)
{
    return rounddown_pow2((unsigned)((pages * 4096u - HDR) / L->entry));
}

static void put(uint8_t *base, size_t off, uint64_t v, size_t n)
{
    memcpy(base + off, &v, n);      /* little-endian host (x86) */
}

static uint64_t get(const uint8_t *base, size_t off, size_t n)
{
    uint64_t v = 0;
    memcpy(&v, base + off, n);
    return v;
}

/* ------------------------------------------------------------ test ring */

struct tring {
    const struct layout *L;
    uint8_t *mem;
    unsigned pages, nents;
    RING_IDX prod;                      /* frontend's req_prod_pvt */
    struct blk_ring r;
};

static void tring_init(struct tring *t, const struct layout *L, unsigned pages, RING_IDX start)
{
    memset(t, 0, sizeof(*t));
    t->L = L;
    t->pages = pages;
    t->mem = aligned_alloc(4096, pages * 4096u);
    assert_non_null(t->mem);
    memset(t->mem, 0, pages * 4096u);
    put(t->mem, OFF_REQ_PROD, start, 4);
    put(t->mem, OFF_RSP_PROD, start, 4);
    put(t->mem, OFF_REQ_EVENT, start + 1, 4);
    put(t->mem, OFF_RSP_EVENT, start + 1, 4);
    t->prod = start;
    t->nents = expected_entries(L, pages);
    assert_int_equal(blk_ring_attach(&t->r, t->mem, pages, L->abi, NULL, 0, NULL), 0);
}

static void tring_free(struct tring *t)
{
    blk_ring_detach(&t->r);
    free(t->mem);
    t->mem = NULL;
}

static uint8_t *tslot(struct tring *t, RING_IDX idx)
{
    return t->mem + HDR + (size_t)(idx & (t->nents - 1)) * t->L->entry;
}

static void tpublish(struct tring *t)
{
    put(t->mem, OFF_REQ_PROD, t->prod, 4);
}

static uint8_t *fe_rw(struct tring *t, uint8_t op, uint8_t nseg, uint16_t handle, uint64_t id,
                      uint64_t sector)
{
    uint8_t *s = tslot(t, t->prod++);
    const struct layout *L = t->L;
    put(s, 0, op, 1);
    put(s, 1, nseg, 1);
    put(s, 2, handle, 2);
    put(s, L->id, id, 8);
    put(s, L->sector, sector, 8);
    for (unsigned i = 0; i < BLKIF_MAX_SEGMENTS_PER_REQUEST; i++) {
        put(s, L->seg + 8 * i, 1000 + i, 4);
        put(s, L->seg + 8 * i + 4, i % 4, 1);
        put(s, L->seg + 8 * i + 5, 7 - i % 3, 1);
    }
    return s;
}

static void fe_discard(struct tring *t, uint8_t flag, uint16_t handle, uint64_t id,
                       uint64_t sector, uint64_t nr)
{
    uint8_t *s = tslot(t, t->prod++);
    put(s, 0, BLKIF_OP_DISCARD, 1);
    put(s, 1, flag, 1);
    put(s, 2, handle, 2);
    put(s, t->L->d_id, id, 8);
    put(s, t->L->d_sector, sector, 8);
    put(s, t->L->d_nr, nr, 8);
}

static void fe_indirect(struct tring *t, uint8_t iop, uint16_t nseg, uint16_t handle,
                        uint64_t id, uint64_t sector)
{
    uint8_t *s = tslot(t, t->prod++);
    put(s, 0, BLKIF_OP_INDIRECT, 1);
    put(s, 1, iop, 1);
    put(s, 2, nseg, 2);
    put(s, t->L->i_id, id, 8);
    put(s, t->L->i_sector, sector, 8);
    put(s, t->L->i_handle, handle, 2);
    for (unsigned i = 0; i < BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST; i++)
        put(s, t->L->i_grefs + 4 * i, 5000 + i, 4);
}

static const struct blk_limits default_limits = {
    .disk_sectors = 2048, .sector_size = 512, .flush = true, .barrier = true,
    .discard = true, .discard_secure = true, .persistent = true,
    .max_indirect_segments = BLK_MAX_SEGMENTS,
};

static const struct layout *LAYOUTS[] = { &L_NATIVE, &L_X86_32, &L_X86_64 };

/* ------------------------------------------------------------ per-ABI */

static void test_ring_sizes(void **state)
{
    const struct layout *L = *state;
    static const unsigned pages[] = { 1, 2, 4, 8 };
    for (unsigned i = 0; i < 4; i++) {
        struct tring t;
        tring_init(&t, L, pages[i], 0);
        unsigned want = expected_entries(L, pages[i]);
        assert_int_equal(blk_ring_size(&t.r), want);
        assert_int_equal(blk_ring_entries(L->abi, pages[i]), want);
        assert_true(want >= 32u * pages[i]);    /* 32, 64, 128, 256 */
        tring_free(&t);
    }
    assert_int_equal(blk_abi_entry_size(L->abi), L->entry);

    struct blk_ring r;
    void *mem = aligned_alloc(4096, 4096 * 32);
    memset(mem, 0, 4096 * 32);
    assert_int_equal(blk_ring_attach(&r, mem, 0, L->abi, NULL, 0, NULL), -EINVAL);
    assert_int_equal(blk_ring_attach(&r, mem, 3, L->abi, NULL, 0, NULL), -EINVAL);
    assert_int_equal(blk_ring_attach(&r, mem, 32, L->abi, NULL, 0, NULL), -EINVAL);
    assert_int_equal(blk_ring_attach(&r, NULL, 1, L->abi, NULL, 0, NULL), -EINVAL);
    assert_int_equal(blk_ring_attach(&r, (uint8_t *)mem + 1, 1, L->abi, NULL, 0, NULL), -EINVAL);
    assert_int_equal(blk_ring_attach(&r, mem, 1, (enum blk_abi)7, NULL, 0, NULL), -EINVAL);
    assert_int_equal(blk_ring_attach(&r, mem, 16, L->abi, NULL, 0, NULL), 0);
    blk_ring_detach(&r);
    free(mem);
}

static void assert_seg(const struct blk_seg *s, unsigned i)
{
    assert_int_equal(s->gref, 1000 + i);
    assert_int_equal(s->first_sect, i % 4);
    assert_int_equal(s->last_sect, 7 - i % 3);
}

static void test_fetch_read_write(void **state)
{
    const struct layout *L = *state;
    struct tring t;
    struct blk_req q;
    tring_init(&t, L, 1, 0);

    assert_int_equal(blk_ring_fetch(&t.r, &q), -EAGAIN);
    fe_rw(&t, BLKIF_OP_READ, 3, 51712, 0x1122334455667788ull, 0x0102030405060708ull);
    fe_rw(&t, BLKIF_OP_WRITE, 11, 7, 42, 64);
    tpublish(&t);

    assert_int_equal(blk_ring_fetch(&t.r, &q), 0);
    assert_int_equal(q.operation, BLKIF_OP_READ);
    assert_int_equal(q.nr_segments, 3);
    assert_int_equal(q.handle, 51712);
    assert_true(q.id == 0x1122334455667788ull);
    assert_true(q.sector_number == 0x0102030405060708ull);
    assert_true(q.segs_loaded);
    for (unsigned i = 0; i < 3; i++)
        assert_seg(&q.seg[i], i);

    assert_int_equal(blk_ring_fetch(&t.r, &q), 0);
    assert_int_equal(q.operation, BLKIF_OP_WRITE);
    assert_int_equal(q.nr_segments, 11);
    assert_int_equal(q.handle, 7);
    assert_true(q.id == 42 && q.sector_number == 64);
    for (unsigned i = 0; i < 11; i++)
        assert_seg(&q.seg[i], i);

    struct blk_req_check c;
    assert_int_equal(blk_req_validate(&q, &default_limits, &c), 0);
    assert_true(c.writes && !c.reads);
    unsigned sectors = 0;
    for (unsigned i = 0; i < 11; i++)
        sectors += 7 - i % 3 - i % 4 + 1;
    assert_int_equal(c.nr_sectors, sectors);
    assert_int_equal(c.bytes, sectors * 512u);
    assert_int_equal(blk_ring_fetch(&t.r, &q), -EAGAIN);

    /* The copy is private: the guest rewriting the slot changes nothing. */
    uint8_t *s = fe_rw(&t, BLKIF_OP_READ, 1, 1, 9, 8);
    tpublish(&t);
    assert_int_equal(blk_ring_fetch(&t.r, &q), 0);
    put(s, 0, BLKIF_OP_WRITE, 1);
    put(s, 1, 200, 1);
    put(s, L->seg + 5, 99, 1);
    assert_int_equal(q.operation, BLKIF_OP_READ);
    assert_int_equal(q.nr_segments, 1);
    assert_int_equal(q.seg[0].last_sect, 7);
    tring_free(&t);
}

static void test_fetch_flush_discard(void **state)
{
    const struct layout *L = *state;
    struct tring t;
    struct blk_req q;
    struct blk_req_check c;
    tring_init(&t, L, 2, 0);

    fe_rw(&t, BLKIF_OP_FLUSH_DISKCACHE, 0, 3, 77, 0);
    fe_discard(&t, BLKIF_DISCARD_SECURE, 4, 0xdeadbeefcafef00dull, 256, 512);
    fe_rw(&t, BLKIF_OP_WRITE_BARRIER, 2, 3, 78, 16);
    tpublish(&t);

    assert_int_equal(blk_ring_fetch(&t.r, &q), 0);
    assert_int_equal(q.operation, BLKIF_OP_FLUSH_DISKCACHE);
    assert_int_equal(q.nr_segments, 0);
    assert_true(q.id == 77);
    assert_int_equal(blk_req_validate(&q, &default_limits, &c), 0);
    assert_true(c.flush && !c.drain && !c.writes && c.bytes == 0);

    assert_int_equal(blk_ring_fetch(&t.r, &q), 0);
    assert_int_equal(q.operation, BLKIF_OP_DISCARD);
    assert_int_equal(q.discard_flag, BLKIF_DISCARD_SECURE);
    assert_int_equal(q.handle, 4);
    assert_true(q.id == 0xdeadbeefcafef00dull);
    assert_true(q.sector_number == 256 && q.nr_sectors == 512);
    assert_int_equal(q.nr_segments, 0);
    assert_int_equal(blk_req_validate(&q, &default_limits, &c), 0);
    assert_true(c.discard && c.discard_secure && c.writes);
    assert_true(c.sector == 256 && c.nr_sectors == 512 && c.bytes == 512u * 512u);

    assert_int_equal(blk_ring_fetch(&t.r, &q), 0);
    assert_int_equal(q.operation, BLKIF_OP_WRITE_BARRIER);
    assert_int_equal(blk_req_validate(&q, &default_limits, &c), 0);
    assert_true(c.flush && c.drain && c.writes);
    assert_int_equal(c.nr_segments, 2);
    tring_free(&t);
}

/* Segment i of an indirect request: gref 7000+i, one sector (i % 8). */
static void **make_indirect_pages(unsigned nseg, unsigned *npages)
{
    *npages = (nseg + 511) / 512;
    void **pages = calloc(*npages, sizeof(void *));
    for (unsigned p = 0; p < *npages; p++) {
        pages[p] = aligned_alloc(4096, 4096);
        memset(pages[p], 0xee, 4096);
    }
    for (unsigned i = 0; i < nseg; i++) {
        uint8_t *e = (uint8_t *)pages[i / 512] + 8 * (i % 512);
        put(e, 0, 7000 + i, 4);
        put(e, 4, i % 8, 1);
        put(e, 5, i % 8, 1);
    }
    return pages;
}

static void free_pages(void **pages, unsigned n)
{
    for (unsigned p = 0; p < n; p++)
        free(pages[p]);
    free(pages);
}

static void test_fetch_indirect(void **state)
{
    const struct layout *L = *state;
    struct tring t;
    struct blk_req q;
    struct blk_req_check c;
    tring_init(&t, L, 4, 0);

    fe_indirect(&t, BLKIF_OP_WRITE, 200, 11, 0xabcdef, 1024);
    tpublish(&t);
    assert_int_equal(blk_ring_fetch(&t.r, &q), 0);
    assert_int_equal(q.operation, BLKIF_OP_INDIRECT);
    assert_int_equal(q.indirect_op, BLKIF_OP_WRITE);
    assert_int_equal(q.nr_segments, 200);
    assert_int_equal(q.handle, 11);
    assert_true(q.id == 0xabcdef && q.sector_number == 1024);
    for (unsigned i = 0; i < BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST; i++)
        assert_int_equal(q.indirect_grefs[i], 5000 + i);
    assert_false(q.segs_loaded);

    assert_int_equal(blk_req_validate(&q, &default_limits, &c), 0);
    assert_int_equal(c.indirect_pages, 1);
    assert_int_equal(c.nr_segments, 200);
    assert_true(c.writes);

    unsigned np;
    void **pages = make_indirect_pages(200, &np);
    assert_int_equal(blk_req_load_indirect(&q, pages, np + 1, &default_limits, &c), -EINVAL);
    assert_int_equal(blk_req_load_indirect(&q, pages, np, &default_limits, &c), 0);
    assert_true(q.segs_loaded);
    for (unsigned i = 0; i < 200; i++) {
        assert_int_equal(q.seg[i].gref, 7000 + i);
        assert_int_equal(q.seg[i].first_sect, i % 8);
    }
    assert_int_equal(c.nr_sectors, 200);
    assert_int_equal(c.bytes, 200 * 512);
    assert_int_equal(c.indirect_pages, 1);
    assert_true(c.writes && !c.reads);
    free_pages(pages, np);
    tring_free(&t);
}

static void test_responses(void **state)
{
    const struct layout *L = *state;
    struct tring t;
    struct blk_req q;
    tring_init(&t, L, 1, 0);

    assert_int_equal(blk_ring_put_response(&t.r, 0, 1, 0, 0), -EINVAL); /* nothing fetched */
    for (unsigned i = 0; i < 3; i++)
        fe_rw(&t, BLKIF_OP_READ, 1, 0, 100 + i, 0);
    tpublish(&t);
    for (unsigned i = 0; i < 3; i++)
        assert_int_equal(blk_ring_fetch(&t.r, &q), 0);

    memset(t.mem + HDR, 0xaa, 3 * L->entry);
    /* answered out of order: staged, written in ring order by the push */
    assert_int_equal(blk_ring_put_response(&t.r, 2, 102, BLKIF_OP_INDIRECT,
                                           BLKIF_RSP_EOPNOTSUPP), 0);
    assert_int_equal(blk_ring_put_response(&t.r, 0, 0x0123456789abcdefull, BLKIF_OP_READ,
                                           BLKIF_RSP_OKAY), 0);
    assert_int_equal(blk_ring_put_response(&t.r, 0, 7, 0, 0), -EINVAL); /* twice */
    assert_int_equal(blk_ring_put_response(&t.r, 3, 103, 0, 0), -EINVAL); /* not fetched */
    /* Only the first is published: the second's answer is not in yet. */
    assert_true(blk_ring_push_responses(&t.r));     /* rsp_event was 1 */
    assert_int_equal(get(t.mem, OFF_RSP_PROD, 4), 1);
    assert_int_equal(get(t.mem + HDR + L->entry, 0, 1), 0xaa); /* slot 1 untouched */
    assert_int_equal(blk_ring_put_response(&t.r, 1, 101, BLKIF_OP_WRITE, BLKIF_RSP_ERROR), 0);

    put(t.mem, OFF_RSP_EVENT, 2, 4);
    assert_true(blk_ring_push_responses(&t.r));
    assert_int_equal(get(t.mem, OFF_RSP_PROD, 4), 3);
    uint8_t *s0 = t.mem + HDR, *s1 = s0 + L->entry, *s2 = s1 + L->entry;
    assert_true(get(s0, 0, 8) == 0x0123456789abcdefull);
    assert_int_equal(get(s0, 8, 1), BLKIF_OP_READ);
    assert_int_equal((int16_t)get(s0, 10, 2), BLKIF_RSP_OKAY);
    assert_int_equal(get(s1, 0, 8), 101);
    assert_int_equal(get(s1, 8, 1), BLKIF_OP_WRITE);
    assert_int_equal((int16_t)get(s1, 10, 2), BLKIF_RSP_ERROR);
    assert_int_equal(get(s2, 0, 8), 102);
    assert_int_equal((int16_t)get(s2, 10, 2), BLKIF_RSP_EOPNOTSUPP);
    /* The response covers exactly rsp_size bytes of its slot. */
    assert_int_equal(s0[L->rsp_size], 0xaa);
    assert_int_equal(s0[L->rsp_size - 1], 0);

    tring_free(&t);
}

static void test_overflow(void **state)
{
    const struct layout *L = *state;
    struct tring t;
    struct blk_req q[4];
    tring_init(&t, L, 1, 0);

    /* Exactly a full ring is legal. */
    t.prod = t.nents;
    tpublish(&t);
    assert_int_equal(blk_ring_fetch_batch(&t.r, q, 4), 4);

    put(t.mem, OFF_REQ_PROD, t.nents + 1, 4);
    assert_int_equal(blk_ring_fetch(&t.r, q), -EPROTO);
    assert_true(t.r.broken);
    /* Sticky, even after the guest "fixes" it. */
    put(t.mem, OFF_REQ_PROD, 5, 4);
    assert_int_equal(blk_ring_fetch(&t.r, q), -EPROTO);
    assert_int_equal(blk_ring_fetch_batch(&t.r, q, 4), -EPROTO);
    assert_false(blk_ring_final_check(&t.r));
    tring_free(&t);

    /* Far ahead. */
    tring_init(&t, L, 2, 0);
    put(t.mem, OFF_REQ_PROD, 0x80000000u, 4);
    assert_int_equal(blk_ring_fetch_batch(&t.r, q, 4), -EPROTO);
    tring_free(&t);

    /* req_prod moved backwards, behind what we consumed. */
    tring_init(&t, L, 1, 100);
    for (unsigned i = 0; i < 3; i++)
        fe_rw(&t, BLKIF_OP_READ, 1, 0, i, 0);
    tpublish(&t);
    assert_int_equal(blk_ring_fetch_batch(&t.r, q, 4), 3);
    put(t.mem, OFF_REQ_PROD, 101, 4);
    assert_int_equal(blk_ring_fetch(&t.r, q), -EPROTO);
    tring_free(&t);

    /* Attach to a page whose indices are already inconsistent. */
    uint8_t *mem = aligned_alloc(4096, 4096);
    memset(mem, 0, 4096);
    put(mem, OFF_RSP_PROD, 10, 4);
    put(mem, OFF_REQ_PROD, 10 + expected_entries(L, 1) + 1, 4);
    struct blk_ring r;
    assert_int_equal(blk_ring_attach(&r, mem, 1, L->abi, NULL, 0, NULL), -EPROTO);
    blk_ring_detach(&r);
    /* Reconnect: unanswered requests between rsp_prod and req_prod are re-read. */
    put(mem, OFF_REQ_PROD, 13, 4);
    assert_int_equal(blk_ring_attach(&r, mem, 1, L->abi, NULL, 0, NULL), 0);
    assert_int_equal(blk_ring_fetch_batch(&r, q, 4), 3);
    blk_ring_detach(&r);
    free(mem);
}

static void test_wraparound(void **state)
{
    const struct layout *L = *state;
    struct tring t;
    struct blk_req q[8];
    tring_init(&t, L, 1, 0xfffffff0u);
    uint64_t next_id = 0, want_id = 0;

    for (unsigned round = 0; round < 40; round++) {
        unsigned n = 1 + round % 8;
        for (unsigned i = 0; i < n; i++)
            fe_rw(&t, BLKIF_OP_READ, 1, 0, next_id++, 0);
        tpublish(&t);
        assert_int_equal(blk_ring_fetch_batch(&t.r, q, 8), (int)n);
        for (unsigned i = 0; i < n; i++) {
            assert_true(q[i].id == want_id++);
            assert_int_equal(blk_ring_put_response(&t.r, q[i].ring_idx, q[i].id, 0, 0), 0);
        }
        blk_ring_push_responses(&t.r);
        assert_int_equal(get(t.mem, OFF_RSP_PROD, 4), (uint32_t)t.prod);
    }
    assert_true(t.prod < 0x100u);       /* the indices did wrap */
    tring_free(&t);
}

static void test_final_check(void **state)
{
    const struct layout *L = *state;
    struct tring t;
    struct blk_req q;
    tring_init(&t, L, 1, 500);

    put(t.mem, OFF_REQ_EVENT, 0, 4);
    assert_false(blk_ring_final_check(&t.r));
    assert_int_equal(get(t.mem, OFF_REQ_EVENT, 4), 501);

    /* Work that arrived before the check keeps us polling. */
    fe_rw(&t, BLKIF_OP_READ, 1, 0, 1, 0);
    fe_rw(&t, BLKIF_OP_READ, 1, 0, 2, 0);
    tpublish(&t);
    assert_true(blk_ring_final_check(&t.r));
    assert_int_equal(blk_ring_fetch(&t.r, &q), 0);
    assert_true(blk_ring_final_check(&t.r));
    assert_int_equal(blk_ring_fetch(&t.r, &q), 0);
    assert_false(blk_ring_final_check(&t.r));
    assert_int_equal(get(t.mem, OFF_REQ_EVENT, 4), 503);
    /* A frontend that now sees req_event = 503 kicks for its next request. */
    tring_free(&t);
}

static void test_push_notify(void **state)
{
    const struct layout *L = *state;
    struct tring t;
    struct blk_req q[8];
    tring_init(&t, L, 1, 0);

    for (unsigned i = 0; i < 8; i++)
        fe_rw(&t, BLKIF_OP_READ, 1, 0, i, 0);
    tpublish(&t);
    assert_int_equal(blk_ring_fetch_batch(&t.r, q, 8), 8);

    /* Frontend wants a kick at response 1 (the initial rsp_event). */
    assert_int_equal(blk_ring_put_response(&t.r, 0, 0, 0, 0), 0);
    assert_true(blk_ring_push_responses(&t.r));
    /* Frontend is polling: rsp_event left behind -> no kick. */
    assert_int_equal(blk_ring_put_response(&t.r, 1, 1, 0, 0), 0);
    assert_false(blk_ring_push_responses(&t.r));
    /* Frontend asks for a kick once rsp_prod reaches 5: pushing 3,4 no... */
    put(t.mem, OFF_RSP_EVENT, 5, 4);
    assert_int_equal(blk_ring_put_response(&t.r, 2, 2, 0, 0), 0);
    assert_int_equal(blk_ring_put_response(&t.r, 3, 3, 0, 0), 0);
    assert_false(blk_ring_push_responses(&t.r));    /* rsp_prod 4 < 5 */
    assert_int_equal(blk_ring_put_response(&t.r, 4, 4, 0, 0), 0);
    assert_int_equal(blk_ring_put_response(&t.r, 5, 5, 0, 0), 0);
    assert_true(blk_ring_push_responses(&t.r));     /* crossed 5 */
    assert_int_equal(get(t.mem, OFF_RSP_PROD, 4), 6);
    /* Nothing new to push: no kick. */
    assert_false(blk_ring_push_responses(&t.r));
    tring_free(&t);
}

/* ------------------------------------------------------------ validation */

static struct blk_req mk(uint8_t op, unsigned nseg, uint64_t sector)
{
    struct blk_req q;
    memset(&q, 0, sizeof(q));
    q.operation = op;
    q.nr_segments = (uint16_t)nseg;
    q.sector_number = sector;
    q.id = 1;
    for (unsigned i = 0; i < BLK_MAX_SEGMENTS; i++) {
        q.seg[i].gref = i;
        q.seg[i].first_sect = 0;
        q.seg[i].last_sect = 7;
    }
    q.segs_loaded = true;
    return q;
}

static int check(const struct blk_req *q, const struct blk_limits *lim)
{
    struct blk_req_check c;
    return blk_req_validate(q, lim, &c);
}

static void test_reject_bad_op(void **state)
{
    (void)state;
    static const uint8_t ops[] = { BLKIF_OP_RESERVED_1, 7, 8, 128, 255 };
    for (unsigned i = 0; i < sizeof(ops); i++) {
        struct blk_req q = mk(ops[i], 1, 0);
        assert_int_equal(check(&q, &default_limits), -BLK_REQ_EBADOP);
    }
    assert_int_equal(blk_req_rsp_status(-BLK_REQ_EBADOP), BLKIF_RSP_EOPNOTSUPP);
}

static void test_reject_segment_count(void **state)
{
    (void)state;
    struct blk_req q = mk(BLKIF_OP_READ, 0, 0);
    assert_int_equal(check(&q, &default_limits), -BLK_REQ_ENOSEGS);
    q = mk(BLKIF_OP_WRITE, 0, 0);   /* a 0-segment write is not a flush */
    assert_int_equal(check(&q, &default_limits), -BLK_REQ_ENOSEGS);
    q = mk(BLKIF_OP_READ, 12, 0);
    assert_int_equal(check(&q, &default_limits), -BLK_REQ_ETOOMANYSEGS);
    q = mk(BLKIF_OP_WRITE, 255, 0);
    assert_int_equal(check(&q, &default_limits), -BLK_REQ_ETOOMANYSEGS);
    q = mk(BLKIF_OP_FLUSH_DISKCACHE, 12, 0);
    assert_int_equal(check(&q, &default_limits), -BLK_REQ_ETOOMANYSEGS);
    q = mk(BLKIF_OP_READ, 11, 0);
    assert_int_equal(check(&q, &default_limits), 0);
    assert_int_equal(blk_req_rsp_status(-BLK_REQ_ETOOMANYSEGS), BLKIF_RSP_ERROR);
}

static void test_reject_first_after_last(void **state)
{
    (void)state;
    struct blk_req q = mk(BLKIF_OP_READ, 3, 0);
    q.seg[2].first_sect = 5;
    q.seg[2].last_sect = 4;
    assert_int_equal(check(&q, &default_limits), -BLK_REQ_ESEGORDER);
    q.seg[2].last_sect = 5;
    assert_int_equal(check(&q, &default_limits), 0);
}

static void test_reject_last_beyond_page(void **state)
{
    (void)state;
    struct blk_req q = mk(BLKIF_OP_WRITE, 2, 0);
    q.seg[1].last_sect = 8;
    assert_int_equal(check(&q, &default_limits), -BLK_REQ_ESEGRANGE);
    q.seg[1].last_sect = 255;
    q.seg[1].first_sect = 200;
    assert_int_equal(check(&q, &default_limits), -BLK_REQ_ESEGRANGE);
}

static void test_reject_beyond_end(void **state)
{
    (void)state;
    struct blk_req_check c;
    struct blk_req q = mk(BLKIF_OP_READ, 2, 2048 - 16);    /* ends exactly at the end */
    assert_int_equal(blk_req_validate(&q, &default_limits, &c), 0);
    assert_int_equal(c.sector, 2032);
    assert_int_equal(c.nr_sectors, 16);
    q.sector_number++;
    assert_int_equal(check(&q, &default_limits), -BLK_REQ_ERANGE);
    q.sector_number = 1u << 30;
    assert_int_equal(check(&q, &default_limits), -BLK_REQ_ERANGE);
    q = mk(BLKIF_OP_DISCARD, 0, 2000);
    q.nr_sectors = 49;
    assert_int_equal(check(&q, &default_limits), -BLK_REQ_ERANGE);
    q.nr_sectors = 48;
    assert_int_equal(check(&q, &default_limits), 0);
}

static void test_reject_sector_overflow(void **state)
{
    (void)state;
    struct blk_limits big = default_limits;
    big.disk_sectors = UINT64_MAX >> 9;
    struct blk_req q = mk(BLKIF_OP_READ, 1, UINT64_MAX - 3);
    assert_int_equal(check(&q, &big), -BLK_REQ_EOVERFLOW);
    q.sector_number = UINT64_MAX;
    assert_int_equal(check(&q, &big), -BLK_REQ_EOVERFLOW);
    q = mk(BLKIF_OP_DISCARD, 0, 8);
    q.nr_sectors = UINT64_MAX - 7;
    assert_int_equal(check(&q, &big), -BLK_REQ_EOVERFLOW);
}

static void test_reject_read_only(void **state)
{
    (void)state;
    struct blk_limits ro = default_limits;
    ro.read_only = true;
    struct blk_req q = mk(BLKIF_OP_READ, 1, 0);
    assert_int_equal(check(&q, &ro), 0);
    q = mk(BLKIF_OP_WRITE, 1, 0);
    assert_int_equal(check(&q, &ro), -BLK_REQ_EREADONLY);
    q = mk(BLKIF_OP_WRITE_BARRIER, 1, 0);
    assert_int_equal(check(&q, &ro), -BLK_REQ_EREADONLY);
    q = mk(BLKIF_OP_FLUSH_DISKCACHE, 1, 0);
    assert_int_equal(check(&q, &ro), -BLK_REQ_EREADONLY);
    q = mk(BLKIF_OP_DISCARD, 0, 0);
    q.nr_sectors = 8;
    assert_int_equal(check(&q, &ro), -BLK_REQ_EREADONLY);
    q = mk(BLKIF_OP_INDIRECT, 20, 0);
    q.indirect_op = BLKIF_OP_WRITE;
    assert_int_equal(check(&q, &ro), -BLK_REQ_EREADONLY);
    q.indirect_op = BLKIF_OP_READ;
    assert_int_equal(check(&q, &ro), 0);
}

static void test_reject_not_offered(void **state)
{
    (void)state;
    struct blk_limits none = default_limits;
    none.flush = none.barrier = none.discard = false;
    none.max_indirect_segments = 0;
    struct blk_req q = mk(BLKIF_OP_FLUSH_DISKCACHE, 0, 0);
    assert_int_equal(check(&q, &none), -BLK_REQ_ENOTOFFERED);
    assert_int_equal(check(&q, &default_limits), 0);
    q = mk(BLKIF_OP_WRITE_BARRIER, 0, 0);
    assert_int_equal(check(&q, &none), -BLK_REQ_ENOTOFFERED);
    q = mk(BLKIF_OP_DISCARD, 0, 0);
    q.nr_sectors = 8;
    assert_int_equal(check(&q, &none), -BLK_REQ_ENOTOFFERED);
    q = mk(BLKIF_OP_INDIRECT, 8, 0);
    q.indirect_op = BLKIF_OP_READ;
    assert_int_equal(check(&q, &none), -BLK_REQ_ENOTOFFERED);
    assert_int_equal(blk_req_rsp_status(-BLK_REQ_ENOTOFFERED), BLKIF_RSP_EOPNOTSUPP);

    /* Secure discard when not offered: ignored (blkif.h), not rejected. */
    struct blk_limits nosec = default_limits;
    nosec.discard_secure = false;
    struct blk_req_check c;
    q = mk(BLKIF_OP_DISCARD, 0, 0);
    q.nr_sectors = 8;
    q.discard_flag = BLKIF_DISCARD_SECURE;
    assert_int_equal(blk_req_validate(&q, &nosec, &c), 0);
    assert_false(c.discard_secure);
    assert_int_equal(blk_req_validate(&q, &default_limits, &c), 0);
    assert_true(c.discard_secure);
}

static void test_reject_misaligned_4k(void **state)
{
    (void)state;
    struct blk_limits l4k = default_limits;
    l4k.sector_size = 4096;
    struct blk_req_check c;
    struct blk_req q = mk(BLKIF_OP_READ, 2, 8);
    assert_int_equal(blk_req_validate(&q, &l4k, &c), 0);
    assert_true(c.segs_aligned);
    q.sector_number = 4;                                /* start misaligned */
    assert_int_equal(check(&q, &l4k), -BLK_REQ_EALIGN);
    q = mk(BLKIF_OP_WRITE, 2, 8);
    q.seg[1].last_sect = 3;                             /* length 12 sectors */
    assert_int_equal(check(&q, &l4k), -BLK_REQ_EALIGN);
    assert_int_equal(check(&q, &default_limits), 0);    /* fine on 512 */
    /* Total aligned but a segment split inside a logical sector. */
    q = mk(BLKIF_OP_WRITE, 2, 0);
    q.seg[0].last_sect = 3;
    q.seg[1].first_sect = 4;
    assert_int_equal(blk_req_validate(&q, &l4k, &c), 0);
    assert_false(c.segs_aligned);
    q = mk(BLKIF_OP_DISCARD, 0, 8);
    q.nr_sectors = 4;
    assert_int_equal(check(&q, &l4k), -BLK_REQ_EALIGN);
}

static void test_reject_indirect(void **state)
{
    (void)state;
    struct blk_req q = mk(BLKIF_OP_INDIRECT, 257, 0);
    q.indirect_op = BLKIF_OP_READ;
    assert_int_equal(check(&q, &default_limits), -BLK_REQ_ETOOMANYSEGS);
    struct blk_limits l32 = default_limits;
    l32.max_indirect_segments = 32;
    q.nr_segments = 33;
    assert_int_equal(check(&q, &l32), -BLK_REQ_ETOOMANYSEGS);
    q.nr_segments = 32;
    assert_int_equal(check(&q, &l32), 0);
    /* 8 pages of 512 is the protocol's limit. */
    q.nr_segments = 8 * 512 + 1;
    assert_int_equal(check(&q, &default_limits), -BLK_REQ_EINDIRECTPAGES);
    q.nr_segments = UINT16_MAX;
    assert_int_equal(check(&q, &default_limits), -BLK_REQ_EINDIRECTPAGES);
    q.nr_segments = 0;
    assert_int_equal(check(&q, &default_limits), -BLK_REQ_ENOSEGS);

    static const uint8_t bad_ops[] = { BLKIF_OP_WRITE_BARRIER, BLKIF_OP_FLUSH_DISKCACHE,
                                       BLKIF_OP_DISCARD, BLKIF_OP_INDIRECT, 200 };
    q.nr_segments = 4;
    for (unsigned i = 0; i < sizeof(bad_ops); i++) {
        q.indirect_op = bad_ops[i];
        assert_int_equal(check(&q, &default_limits), -BLK_REQ_EINDIRECTOP);
    }
}

static void test_indirect_load_rejects(void **state)
{
    (void)state;
    struct blk_req_check c;
    unsigned np;
    void **pages = make_indirect_pages(100, &np);
    struct blk_req q = mk(BLKIF_OP_INDIRECT, 100, 0);
    q.indirect_op = BLKIF_OP_READ;
    q.segs_loaded = false;

    uint8_t *e = (uint8_t *)pages[0] + 8 * 57;
    put(e, 4, 6, 1);
    put(e, 5, 2, 1);
    assert_int_equal(blk_req_load_indirect(&q, pages, np, &default_limits, &c),
                     -BLK_REQ_ESEGORDER);
    assert_false(q.segs_loaded);
    put(e, 5, 9, 1);
    assert_int_equal(blk_req_load_indirect(&q, pages, np, &default_limits, &c),
                     -BLK_REQ_ESEGRANGE);
    put(e, 4, 1, 1);
    put(e, 5, 1, 1);
    q.sector_number = 2048 - 99;                        /* 100 sectors, one too far */
    assert_int_equal(blk_req_load_indirect(&q, pages, np, &default_limits, &c),
                     -BLK_REQ_ERANGE);
    q.sector_number = 2048 - 100;
    assert_int_equal(blk_req_load_indirect(&q, pages, np, &default_limits, &c), 0);
    assert_true(c.reads && c.nr_sectors == 100 && c.indirect_pages == 1);

    struct blk_req rw = mk(BLKIF_OP_READ, 1, 0);
    assert_int_equal(blk_req_load_indirect(&rw, pages, np, &default_limits, &c), -EINVAL);
    q.nr_segments = 300;                                /* header check first */
    assert_int_equal(blk_req_load_indirect(&q, pages, np, &default_limits, &c),
                     -BLK_REQ_ETOOMANYSEGS);
    free_pages(pages, np);
}

static void test_limits_and_strings(void **state)
{
    (void)state;
    struct blk_req q = mk(BLKIF_OP_READ, 1, 0);
    struct blk_limits bad = default_limits;
    bad.sector_size = 1000;
    assert_int_equal(check(&q, &bad), -EINVAL);
    bad = default_limits;
    bad.max_indirect_segments = BLK_MAX_SEGMENTS + 1;
    assert_int_equal(check(&q, &bad), -EINVAL);

    for (int e = BLK_REQ_EBASE; e < BLK_REQ_ELAST; e++) {
        assert_true(blk_req_is_reason(-e));
        assert_non_null(blk_req_strerror(-e));
        assert_string_not_equal(blk_req_strerror(-e), "unknown error");
    }
    assert_false(blk_req_is_reason(-EINVAL));
    assert_false(blk_req_is_reason(-BLK_REQ_ELAST));
    assert_string_equal(blk_req_strerror(-EPROTO), "ring protocol violation");

    enum blk_abi abi;
    assert_int_equal(blk_abi_from_protocol(NULL, &abi), 0);
    assert_int_equal(abi, BLK_ABI_NATIVE);
    assert_int_equal(blk_abi_from_protocol("x86_32-abi", &abi), 0);
    assert_int_equal(abi, BLK_ABI_X86_32);
    assert_int_equal(blk_abi_from_protocol("x86_64-abi", &abi), 0);
    assert_int_equal(abi, BLK_ABI_X86_64);
    assert_int_equal(blk_abi_from_protocol("arm-abi", &abi), -EINVAL);
    assert_int_equal(blk_abi_from_protocol("x86_32-abiX", &abi), -EINVAL);
    assert_string_equal(blk_abi_str(BLK_ABI_X86_32), "x86_32-abi");
}

/* ------------------------------------------------------------ fuzz */

static uint64_t rng_state;

static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;   /* xorshift64: fixed seeds, reproducible */
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static void fill_random(uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)rnd();
}

/* Independent restatement of the rules: anything accepted must satisfy it. */
static void assert_sane(const struct blk_req *q, const struct blk_limits *lim,
                        const struct blk_req_check *c, bool loaded)
{
    unsigned nseg = q->nr_segments, maxseg = BLKIF_MAX_SEGMENTS_PER_REQUEST;
    bool data = true;
    uint64_t lsec = lim->sector_size / 512, end;

    switch (q->operation) {
    case BLKIF_OP_READ:
        break;
    case BLKIF_OP_WRITE:
        assert_false(lim->read_only);
        break;
    case BLKIF_OP_FLUSH_DISKCACHE:
    case BLKIF_OP_WRITE_BARRIER:
        assert_true(q->operation == BLKIF_OP_FLUSH_DISKCACHE ? lim->flush : lim->barrier);
        assert_false(lim->read_only);
        data = nseg > 0;
        break;
    case BLKIF_OP_DISCARD:
        assert_true(lim->discard);
        assert_false(lim->read_only);
        assert_false(__builtin_add_overflow(q->sector_number, q->nr_sectors, &end));
        assert_true(end <= lim->disk_sectors);
        assert_true(q->sector_number % lsec == 0 && q->nr_sectors % lsec == 0);
        assert_true(c->bytes == q->nr_sectors * 512);
        return;
    case BLKIF_OP_INDIRECT:
        assert_true(lim->max_indirect_segments > 0);
        assert_true(q->indirect_op == BLKIF_OP_READ || q->indirect_op == BLKIF_OP_WRITE);
        assert_false(q->indirect_op == BLKIF_OP_WRITE && lim->read_only);
        assert_true(nseg >= 1 && nseg <= lim->max_indirect_segments);
        assert_int_equal(c->indirect_pages, (nseg + 511) / 512);
        if (!loaded)
            return;
        maxseg = lim->max_indirect_segments;
        break;
    default:
        fail_msg("accepted unknown operation %u", q->operation);
    }
    if (!data)
        return;
    assert_true(nseg >= 1 && nseg <= maxseg);
    uint64_t total = 0;
    for (unsigned i = 0; i < nseg; i++) {
        assert_true(q->seg[i].first_sect <= q->seg[i].last_sect);
        assert_true(q->seg[i].last_sect <= 7);
        total += q->seg[i].last_sect - q->seg[i].first_sect + 1u;
    }
    assert_true(total == c->nr_sectors && c->bytes == total * 512);
    assert_false(__builtin_add_overflow(q->sector_number, total, &end));
    assert_true(end <= lim->disk_sectors);
    assert_true(q->sector_number % lsec == 0 && total % lsec == 0);
}

/* A plausible request in the ABI layout, then a few bytes flipped. */
static void write_mutated(uint8_t *s, const struct layout *L)
{
    memset(s, 0, L->entry);
    uint8_t op = (uint8_t)(rnd() % 7);
    put(s, 0, op, 1);
    if (op == BLKIF_OP_DISCARD) {
        put(s, L->d_sector, rnd() % 4096, 8);
        put(s, L->d_nr, rnd() % 64, 8);
    } else if (op == BLKIF_OP_INDIRECT) {
        put(s, 1, rnd() % 2, 1);
        put(s, 2, 1 + rnd() % 300, 2);
        put(s, L->i_sector, rnd() % 4096, 8);
    } else {
        put(s, 1, 1 + rnd() % 11, 1);
        put(s, L->sector, rnd() % 4096, 8);
        for (unsigned i = 0; i < 11; i++) {
            uint8_t f = (uint8_t)(rnd() % 8);
            put(s, L->seg + 8 * i + 4, f, 1);
            put(s, L->seg + 8 * i + 5, f + rnd() % (8u - f), 1);
        }
    }
    for (unsigned k = rnd() % 3; k > 0; k--)
        s[rnd() % L->entry] = (uint8_t)rnd();
    if (rnd() % 8 == 0)     /* extreme sector numbers */
        put(s, L->sector, UINT64_MAX - rnd() % 64, 8);
}

static void test_fuzz_random_ring(void **state)
{
    (void)state;
    static const struct blk_limits presets[] = {
        { .disk_sectors = 2048, .sector_size = 512, .flush = true, .barrier = true,
          .discard = true, .discard_secure = true, .max_indirect_segments = 256 },
        { .disk_sectors = 4096, .sector_size = 4096, .flush = true, .discard = true,
          .max_indirect_segments = 32 },
        { .disk_sectors = 1024, .sector_size = 512, .read_only = true, .flush = true,
          .max_indirect_segments = 64 },
        { .disk_sectors = UINT64_MAX >> 9, .sector_size = 512, .barrier = true,
          .discard = true, .max_indirect_segments = 256 },
    };
    unsigned accepted = 0, loaded = 0, rejected = 0, broken = 0;
    struct blk_req *batch = calloc(16, sizeof(*batch));
    void *ipage = aligned_alloc(4096, 4096);
    void *const ipages[1] = { ipage };

    for (uint64_t seed = 1; seed <= 20000; seed++) {
        rng_state = seed * 0x9e3779b97f4a7c15ull;
        const struct layout *L = LAYOUTS[seed % 3];
        unsigned pages = 1u << (rnd() % 4);
        size_t bytes = pages * 4096u;
        uint8_t *mem = aligned_alloc(4096, bytes);
        fill_random(mem, bytes);
        unsigned nents = expected_entries(L, pages);
        if (rnd() % 4) {        /* mostly consistent indices, so fetch runs */
            RING_IDX base = (RING_IDX)rnd();
            put(mem, OFF_RSP_PROD, base, 4);
            put(mem, OFF_REQ_PROD, base + (RING_IDX)(rnd() % (nents + 1)), 4);
        }
        if (rnd() % 2)
            for (unsigned i = 0; i < nents; i++)
                if (rnd() % 2)
                    write_mutated(mem + HDR + i * L->entry, L);

        struct blk_ring r;
        int rc = blk_ring_attach(&r, mem, pages, L->abi, NULL, 0, NULL);
        assert_true(rc == 0 || rc == -EPROTO);
        const struct blk_limits *lim = &presets[rnd() % 4];

        for (unsigned round = 0; rc == 0 && round < 2 * nents; round++) {
            int n = blk_ring_fetch_batch(&r, batch, 1 + rnd() % 16);
            if (n == -EPROTO) {
                broken++;
                break;
            }
            assert_true(n >= 0 && n <= 16);
            if (n == 0)
                break;
            for (int i = 0; i < n; i++) {
                struct blk_req_check c;
                int v = blk_req_validate(&batch[i], lim, &c);
                assert_true(v == 0 || blk_req_is_reason(v));
                if (v) {
                    rejected++;
                } else {
                    accepted++;
                    assert_sane(&batch[i], lim, &c, false);
                    if (batch[i].operation == BLKIF_OP_INDIRECT && c.indirect_pages == 1) {
                        if (rnd() % 2) {
                            fill_random(ipage, 4096);
                        } else {
                            for (unsigned k = 0; k < 512; k++) {
                                uint8_t f = (uint8_t)(rnd() % 8);
                                put(ipage, 8 * k + 4, f, 1);
                                put(ipage, 8 * k + 5, f + rnd() % (8u - f), 1);
                            }
                        }
                        int lr = blk_req_load_indirect(&batch[i], ipages, 1, lim, &c);
                        assert_true(lr == 0 || blk_req_is_reason(lr));
                        if (lr == 0) {
                            loaded++;
                            assert_sane(&batch[i], lim, &c, true);
                        }
                    }
                }
                assert_int_equal(blk_ring_put_response(&r, batch[i].ring_idx, batch[i].id,
                                                       batch[i].operation,
                                                       blk_req_rsp_status(v)), 0);
            }
            blk_ring_push_responses(&r);
            if (rnd() % 8 == 0)     /* the guest scribbles on the indices */
                fill_random(mem, 16);
            if (rnd() % 4 == 0)
                blk_ring_final_check(&r);
        }
        blk_ring_detach(&r);
        free(mem);
    }
    free(ipage);
    free(batch);
    print_message("# fuzz: %u accepted (%u indirect loaded), %u rejected, %u broken rings\n",
                  accepted, loaded, rejected, broken);
    /* The fuzz must reach both sides of every decision to mean anything. */
    assert_true(accepted > 1000);
    assert_true(loaded > 20);
    assert_true(rejected > 1000);
    assert_true(broken > 10);
}

/* One test per ABI, named e.g. "test_responses/x86_32". */
#define PER_ABI(fn) \
    { #fn "/native", fn, NULL, NULL, (void *)&L_NATIVE }, \
    { #fn "/x86_32", fn, NULL, NULL, (void *)&L_X86_32 }, \
    { #fn "/x86_64", fn, NULL, NULL, (void *)&L_X86_64 }

int main(void)
{
    const struct CMUnitTest tests[] = {
        PER_ABI(test_ring_sizes),
        PER_ABI(test_fetch_read_write),
        PER_ABI(test_fetch_flush_discard),
        PER_ABI(test_fetch_indirect),
        PER_ABI(test_responses),
        PER_ABI(test_overflow),
        PER_ABI(test_wraparound),
        PER_ABI(test_final_check),
        PER_ABI(test_push_notify),
        cmocka_unit_test(test_reject_bad_op),
        cmocka_unit_test(test_reject_segment_count),
        cmocka_unit_test(test_reject_first_after_last),
        cmocka_unit_test(test_reject_last_beyond_page),
        cmocka_unit_test(test_reject_beyond_end),
        cmocka_unit_test(test_reject_sector_overflow),
        cmocka_unit_test(test_reject_read_only),
        cmocka_unit_test(test_reject_not_offered),
        cmocka_unit_test(test_reject_misaligned_4k),
        cmocka_unit_test(test_reject_indirect),
        cmocka_unit_test(test_indirect_load_rejects),
        cmocka_unit_test(test_limits_and_strings),
        cmocka_unit_test(test_fuzz_random_ring),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
