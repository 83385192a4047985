/*
 * gnt_batch_test.c - batched grant copies (backend/gnt_batch.c) over the
 * real grant tables of a xensim guest: data moves both ways at the right
 * offsets, a failed segment marks its owner and no other, a full batch
 * runs itself, and (on a platform whose copy call fails) a failed call
 * marks every owner.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "gnt_batch.h"
#include "grant_fixture.h"
#include "xensim.h"

#define PG XSIM_PAGE_SIZE

static void copies_move_data_both_ways_at_offsets(void **state)
{
    (void)state;
    grant_ref_t refs[2];
    uint8_t *gp = gfx_grant_pages(2, 0x10, false, refs); /* page 0: 0x10, page 1: 0x11 */
    static uint8_t in[PG], out[PG];
    memset(in, 0, sizeof(in));
    memset(out, 0xa5, sizeof(out));
    struct sc_gnt_batch b;
    assert_int_equal(sc_gnt_batch_init(&b, gfx.xen, 8), 0);
    bool f_in = false, f_out = false;

    assert_int_equal(sc_gnt_batch_from_guest(&b, gfx.guest_id, refs[0], 512, in + 8, 1024, &f_in),
                     0);
    assert_int_equal(sc_gnt_batch_to_guest(&b, out, gfx.guest_id, refs[1], 3072, 1024, &f_out), 0);
    assert_int_equal(sc_gnt_batch_count(&b), 2);
    /* Nothing moves before the flush. */
    assert_int_equal(in[8], 0);
    assert_int_equal(gp[PG + 3072], 0x11);

    assert_int_equal(sc_gnt_batch_flush(&b), 0);
    assert_int_equal(sc_gnt_batch_count(&b), 0);
    assert_false(f_in);
    assert_false(f_out);
    for (uint32_t i = 0; i < PG; i++) {
        assert_int_equal(in[i], i >= 8 && i < 8 + 1024 ? 0x10 : 0);
        assert_int_equal(gp[PG + i], i >= 3072 ? 0xa5 : 0x11);
    }
    assert_int_equal(b.stats.calls, 1);
    assert_int_equal(b.stats.segments, 2);
    assert_int_equal(b.stats.failed, 0);
    /* An empty flush makes no call. */
    assert_int_equal(sc_gnt_batch_flush(&b), 0);
    assert_int_equal(b.stats.calls, 1);
    sc_gnt_batch_destroy(&b);
    gfx_end_pages(gp, 2, refs);
}

/* Three owners, one with two segments of which one is bad: only that owner
 * hears of it, and the good segments still copy. */
static void a_failed_segment_marks_its_owner_alone(void **state)
{
    (void)state;
    grant_ref_t refs[2], ro;
    uint8_t *gp = gfx_grant_pages(2, 0x20, false, refs);
    uint8_t *gro = gfx_grant_pages(1, 0x30, true, &ro);
    static uint8_t a[PG], c[PG], junk[PG];
    memset(a, 0, sizeof(a));
    memset(c, 0x77, sizeof(c));
    struct sc_gnt_batch b;
    assert_int_equal(sc_gnt_batch_init(&b, gfx.xen, 8), 0);
    bool fa = false, fb = false, fc = false;

    assert_int_equal(sc_gnt_batch_from_guest(&b, gfx.guest_id, refs[0], 0, a, PG, &fa), 0);
    /* b: a good page and a ref never granted */
    assert_int_equal(sc_gnt_batch_from_guest(&b, gfx.guest_id, refs[1], 0, junk, PG, &fb), 0);
    assert_int_equal(sc_gnt_batch_from_guest(&b, gfx.guest_id, XSIM_NR_GRANTS - 1, 0, junk, PG,
                                             &fb),
                     0);
    /* c: writes the guest's pages (the writable one, then the read-only one) */
    assert_int_equal(sc_gnt_batch_to_guest(&b, c, gfx.guest_id, refs[1], 0, 16, &fc), 0);
    assert_int_equal(sc_gnt_batch_to_guest(&b, c, gfx.guest_id, ro, 0, 16, &fc), 0);
    /* no owner: its failure marks nobody */
    assert_int_equal(sc_gnt_batch_to_guest(&b, c, gfx.guest_id, ro, 100, 16, NULL), 0);
    assert_int_equal(sc_gnt_batch_flush(&b), 0);

    assert_false(fa);
    assert_true(fb);
    assert_true(fc);
    assert_int_equal(a[PG - 1], 0x20);
    assert_int_equal(gp[PG], 0x77);       /* c's good segment went through */
    assert_int_equal(gro[0], 0x30);       /* the read-only page did not change */
    assert_int_equal(gro[100], 0x30);
    assert_int_equal(b.stats.segments, 6);
    assert_int_equal(b.stats.failed, 3);

    /* Flags are only ever set: a clean flush leaves a marked owner marked. */
    assert_int_equal(sc_gnt_batch_from_guest(&b, gfx.guest_id, refs[0], 0, a, 8, &fb), 0);
    assert_int_equal(sc_gnt_batch_flush(&b), 0);
    assert_true(fb);
    sc_gnt_batch_destroy(&b);
    gfx_end_pages(gp, 2, refs);
    gfx_end_pages(gro, 1, &ro);
}

/* A segment of any kind: guest page to guest page, no local memory. */
static void raw_segment_guest_to_guest(void **state)
{
    (void)state;
    grant_ref_t refs[2];
    uint8_t *gp = gfx_grant_pages(2, 0x40, false, refs);
    struct sc_gnt_batch b;
    assert_int_equal(sc_gnt_batch_init(&b, gfx.xen, 1), 0);
    xengnttab_grant_copy_segment_t s = {
        .source.foreign = { .ref = refs[0], .offset = 10, .domid = gfx.guest_id },
        .dest.foreign = { .ref = refs[1], .offset = 20, .domid = gfx.guest_id },
        .len = 30,
        .flags = GNTCOPY_source_gref | GNTCOPY_dest_gref,
    };
    bool f = false;
    assert_int_equal(sc_gnt_batch_add(&b, &s, &f), 0);
    assert_int_equal(sc_gnt_batch_flush(&b), 0);
    assert_false(f);
    for (uint32_t i = 0; i < 64; i++)
        assert_int_equal(gp[PG + i], i >= 20 && i < 50 ? 0x40 : 0x41);
    sc_gnt_batch_destroy(&b);
    gfx_end_pages(gp, 2, refs);
}

/* More segments than the batch holds: it runs itself when full, in order,
 * and the caller never counts. */
static void a_full_batch_runs_itself(void **state)
{
    (void)state;
    enum { N = 7, CAP = 3 };
    grant_ref_t refs[N];
    uint8_t *gp = gfx_grant_pages(N, 0x50, false, refs);
    static uint8_t local[N][64];
    memset(local, 0, sizeof(local));
    struct sc_gnt_batch b;
    assert_int_equal(sc_gnt_batch_init(&b, gfx.xen, CAP), 0);
    bool failed[N] = { false };
    for (uint32_t i = 0; i < N; i++) {
        assert_int_equal(sc_gnt_batch_from_guest(&b, gfx.guest_id, refs[i], 0, local[i], 64,
                                                 &failed[i]),
                         0);
        assert_true(sc_gnt_batch_count(&b) >= 1 && sc_gnt_batch_count(&b) <= CAP);
    }
    assert_int_equal(b.stats.calls, (N - 1) / CAP); /* two full batches so far */
    assert_int_equal(sc_gnt_batch_flush(&b), 0);
    assert_int_equal(b.stats.calls, (N - 1) / CAP + 1);
    assert_int_equal(b.stats.segments, N);
    for (uint32_t i = 0; i < N; i++) {
        assert_false(failed[i]);
        assert_int_equal(local[i][0], 0x50 + i);
        assert_int_equal(local[i][63], 0x50 + i);
    }
    sc_gnt_batch_destroy(&b);
    gfx_end_pages(gp, N, refs);
}

/* ---- a platform whose copy call itself fails ---- */

static int broken_copy(struct sc_xen *x, uint32_t count, xengnttab_grant_copy_segment_t *segs)
{
    (void)x;
    for (uint32_t i = 0; i < count; i++)
        segs[i].status = GNTST_okay; /* must not be believed */
    return -EIO;
}

static const struct sc_xen_ops broken_ops = { .name = "broken", .gnt_copy_batch = broken_copy };

static void a_failed_call_marks_every_owner(void **state)
{
    (void)state;
    struct sc_xen broken = { .ops = &broken_ops, .platform = SC_XEN_SIM };
    struct sc_gnt_batch b;
    assert_int_equal(sc_gnt_batch_init(&b, &broken, 2), 0);
    static uint8_t buf[64];
    bool f[3] = { false, false, false };
    assert_int_equal(sc_gnt_batch_from_guest(&b, 1, 5, 0, buf, 64, &f[0]), 0);
    assert_int_equal(sc_gnt_batch_to_guest(&b, buf, 1, 6, 0, 64, &f[1]), 0);
    /* the batch is full: this add runs it first and reports the failure */
    assert_int_equal(sc_gnt_batch_from_guest(&b, 1, 7, 0, buf, 64, &f[2]), -EIO);
    assert_true(f[0]);
    assert_true(f[1]);
    assert_false(f[2]); /* queued, not run yet */
    assert_int_equal(sc_gnt_batch_flush(&b), -EIO);
    assert_true(f[2]);
    assert_int_equal(sc_gnt_batch_count(&b), 0);
    assert_int_equal(b.stats.failed, 3);
    sc_gnt_batch_destroy(&b);
}

static void init_rejects_and_destroy_is_idempotent(void **state)
{
    (void)state;
    struct sc_gnt_batch b;
    assert_int_equal(sc_gnt_batch_init(&b, gfx.xen, 0), -EINVAL);
    assert_int_equal(sc_gnt_batch_init(&b, NULL, 4), -EINVAL);
    sc_gnt_batch_destroy(&b); /* after a failed init */
    assert_int_equal(sc_gnt_batch_init(&b, gfx.xen, 4), 0);
    sc_gnt_batch_destroy(&b);
    sc_gnt_batch_destroy(&b);
    struct sc_gnt_batch zero;
    memset(&zero, 0, sizeof(zero));
    sc_gnt_batch_destroy(&zero);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(copies_move_data_both_ways_at_offsets),
        cmocka_unit_test(a_failed_segment_marks_its_owner_alone),
        cmocka_unit_test(raw_segment_guest_to_guest),
        cmocka_unit_test(a_full_batch_runs_itself),
        cmocka_unit_test(a_failed_call_marks_every_owner),
        cmocka_unit_test(init_rejects_and_destroy_is_idempotent),
    };
    return cmocka_run_group_tests(tests, grant_fixture_setup, grant_fixture_teardown);
}
