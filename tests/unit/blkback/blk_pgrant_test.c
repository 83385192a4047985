/*
 * blk_pgrant_test.c - the persistent-grant cache (blkback/blk_pgrant.c)
 * over real grants of a xensim guest: hits, least-recently-used eviction of
 * unused entries only, the bound, read-only grants, bad refs, that
 * destroy unmaps everything (the guest can then end access), that
 * find only looks, and that evictions are rationed by the clock.
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

#include "blk_pgrant.h"
#include "grant_fixture.h"
#include "log.h"
#include "xen.h"
#include "xensim.h"
#include "xensim_guest.h"

#define NPAGES 64

static uint8_t *area;            /* NPAGES contiguous guest pages */
static void *pages[NPAGES];      /* page i of area, filled with i + 1 */
static grant_ref_t refs[NPAGES];

static void grant_pages(bool readonly)
{
    area = gfx_grant_pages(NPAGES, 1, readonly, refs);
    for (unsigned i = 0; i < NPAGES; i++)
        pages[i] = area + (size_t)i * 4096;
}

/* Ends every grant; all must succeed (nothing still mapped). */
static void end_pages(void)
{
    gfx_end_pages(area, NPAGES, refs);
}

static void test_hit(void **state)
{
    (void)state;
    grant_pages(false);
    struct blk_pgrant_cache c;
    assert_int_equal(blk_pgrant_init(&c, gfx.xen, gfx.guest_id, 8), 0);
    struct blk_pgrant *a = blk_pgrant_get(&c, refs[3]);
    assert_non_null(a);
    assert_true(a->writable);
    assert_int_equal(((uint8_t *)a->addr)[100], 4); /* the guest's page */
    ((uint8_t *)a->addr)[0] = 0xee;                  /* writable for real */
    assert_int_equal(((uint8_t *)pages[3])[0], 0xee);
    struct blk_pgrant *b = blk_pgrant_get(&c, refs[3]);
    assert_ptr_equal(a, b);
    assert_int_equal(a->users, 2);
    assert_int_equal(c.stats.hits, 1);
    assert_int_equal(c.stats.misses, 1);
    blk_pgrant_put(&c, a);
    blk_pgrant_put(&c, b);
    assert_int_equal(a->users, 0);
    b = blk_pgrant_get(&c, refs[3]);
    assert_ptr_equal(a, b);
    assert_int_equal(c.stats.hits, 2);
    assert_int_equal(c.count, 1);
    /* while mapped, the guest cannot end access */
    assert_int_equal(xsim_guest_end_access(gfx.guest, refs[3]), -EBUSY);
    blk_pgrant_put(&c, b);
    blk_pgrant_destroy(&c);
    end_pages();
}

static void test_lru_eviction(void **state)
{
    (void)state;
    grant_pages(false);
    struct blk_pgrant_cache c;
    assert_int_equal(blk_pgrant_init(&c, gfx.xen, gfx.guest_id, 4), 0);
    for (unsigned i = 0; i < 4; i++) /* A B C D, used in that order */
        blk_pgrant_put(&c, blk_pgrant_get(&c, refs[i]));
    blk_pgrant_put(&c, blk_pgrant_get(&c, refs[0])); /* A again: B is now oldest */
    assert_int_equal(c.stats.hits, 1);
    struct blk_pgrant *e = blk_pgrant_get(&c, refs[4]); /* E evicts B */
    assert_non_null(e);
    blk_pgrant_put(&c, e);
    assert_int_equal(c.stats.evictions, 1);
    assert_int_equal(c.count, 4);
    /* B's mapping is gone: the guest may end its access now */
    assert_int_equal(xsim_guest_end_access(gfx.guest, refs[1]), 0);
    assert_int_equal(xsim_guest_end_access(gfx.guest, refs[2]), -EBUSY);
    int ref = xsim_guest_grant(gfx.guest, 0, xsim_guest_virt_to_gfn(gfx.guest, pages[1]), false);
    assert_true(ref > 0);
    refs[1] = (grant_ref_t)ref;
    /* A, C, D, E hit */
    uint64_t hits = c.stats.hits;
    blk_pgrant_put(&c, blk_pgrant_get(&c, refs[0]));
    blk_pgrant_put(&c, blk_pgrant_get(&c, refs[2]));
    blk_pgrant_put(&c, blk_pgrant_get(&c, refs[3]));
    blk_pgrant_put(&c, blk_pgrant_get(&c, refs[4]));
    assert_int_equal(c.stats.hits, hits + 4);
    assert_int_equal(c.stats.evictions, 1);
    blk_pgrant_destroy(&c);
    end_pages();
}

static void test_never_evicts_in_use(void **state)
{
    (void)state;
    grant_pages(false);
    struct blk_pgrant_cache c;
    assert_int_equal(blk_pgrant_init(&c, gfx.xen, gfx.guest_id, 2), 0);
    struct blk_pgrant *a = blk_pgrant_get(&c, refs[0]);
    struct blk_pgrant *b = blk_pgrant_get(&c, refs[1]);
    assert_non_null(a);
    assert_non_null(b);
    errno = 0;
    assert_null(blk_pgrant_get(&c, refs[2]));
    assert_int_equal(errno, ENOSPC);
    assert_int_equal(c.stats.full, 1);
    assert_int_equal(c.count, 2);
    /* both still mapped and correct */
    assert_int_equal(((uint8_t *)a->addr)[7], 1);
    assert_int_equal(((uint8_t *)b->addr)[7], 2);
    blk_pgrant_put(&c, b);
    struct blk_pgrant *e = blk_pgrant_get(&c, refs[2]); /* evicts b, never a */
    assert_non_null(e);
    assert_int_equal(((uint8_t *)e->addr)[7], 3);
    assert_int_equal(((uint8_t *)a->addr)[7], 1);
    assert_int_equal(xsim_guest_end_access(gfx.guest, refs[0]), -EBUSY);
    blk_pgrant_put(&c, a);
    blk_pgrant_put(&c, e);
    blk_pgrant_destroy(&c);
    end_pages();
}

/* Random gets and puts: the bound holds and every mapping shows its page
 * (time passes so that the eviction allowance never runs out). */
static void test_bound_random(void **state)
{
    (void)state;
    grant_pages(false);
    struct blk_pgrant_cache c;
    const uint32_t max = 16;
    assert_int_equal(blk_pgrant_init(&c, gfx.xen, gfx.guest_id, max), 0);
    struct blk_pgrant *held[8] = { 0 };
    unsigned held_idx[8];
    uint64_t now = 1;
    blk_pgrant_tick(&c, now);
    srand(12345);
    for (unsigned it = 0; it < 5000; it++) {
        blk_pgrant_tick(&c, now += c.churn_period_ns); /* an eviction's allowance each */
        unsigned slot = (unsigned)rand() % 8;
        if (held[slot]) {
            assert_int_equal(((uint8_t *)held[slot]->addr)[4095], held_idx[slot] + 1);
            blk_pgrant_put(&c, held[slot]);
            held[slot] = NULL;
            continue;
        }
        unsigned i = (unsigned)rand() % NPAGES;
        struct blk_pgrant *e = blk_pgrant_get(&c, refs[i]);
        assert_non_null(e); /* at most 8 held < 16: always room */
        assert_int_equal(e->gref, refs[i]);
        assert_int_equal(((uint8_t *)e->addr)[0], i + 1);
        held[slot] = e;
        held_idx[slot] = i;
        assert_true(c.count <= max);
    }
    assert_true(c.stats.evictions > 0);
    assert_true(c.stats.hits > 0);
    for (unsigned s = 0; s < 8; s++)
        blk_pgrant_put(&c, held[s]);
    blk_pgrant_destroy(&c);
    end_pages(); /* destroy unmapped every entry */
}

static void test_read_only_and_bad_refs(void **state)
{
    (void)state;
    grant_pages(true);
    struct blk_pgrant_cache c;
    assert_int_equal(blk_pgrant_init(&c, gfx.xen, gfx.guest_id, 4), 0);
    struct blk_pgrant *e = blk_pgrant_get(&c, refs[0]);
    assert_non_null(e);
    assert_false(e->writable);
    assert_int_equal(((uint8_t *)e->addr)[0], 1);
    assert_int_equal(c.stats.read_only, 1);
    blk_pgrant_put(&c, e);

    errno = 0;
    assert_null(blk_pgrant_get(&c, 30000)); /* never granted */
    assert_true(errno != 0 && errno != ENOSPC);
    assert_null(blk_pgrant_get(&c, 0xffffffffu)); /* beyond the table */
    assert_int_equal(c.stats.map_failures, 2);
    assert_int_equal(c.count, 1);
    blk_pgrant_destroy(&c);
    blk_pgrant_destroy(&c); /* twice: a no-op */
    end_pages();

    assert_int_equal(blk_pgrant_init(&c, gfx.xen, gfx.guest_id, 0), -EINVAL);
}

/* find only looks: no user, no counter, no change of the LRU order (a
 * priced request may still not be taken, blk_queue_io.c). */
static void test_find_only_looks(void **state)
{
    (void)state;
    grant_pages(false);
    struct blk_pgrant_cache c;
    assert_int_equal(blk_pgrant_init(&c, gfx.xen, gfx.guest_id, 2), 0);
    assert_null(blk_pgrant_find(&c, refs[0]));
    assert_int_equal(c.stats.misses + c.stats.hits, 0);
    struct blk_pgrant *a = blk_pgrant_get(&c, refs[0]);
    struct blk_pgrant *b = blk_pgrant_get(&c, refs[1]);
    blk_pgrant_put(&c, a); /* LRU: A, then B */
    blk_pgrant_put(&c, b);
    assert_ptr_equal(blk_pgrant_find(&c, refs[0]), a);
    assert_int_equal(a->users, 0);
    assert_int_equal(c.stats.hits, 0);
    assert_int_equal(c.stats.misses, 2);
    /* A is still the least recently used: a new ref evicts it */
    struct blk_pgrant *d = blk_pgrant_get(&c, refs[2]);
    assert_null(blk_pgrant_find(&c, refs[0]));
    assert_ptr_equal(blk_pgrant_find(&c, refs[1]), b);
    blk_pgrant_put(&c, d);
    blk_pgrant_destroy(&c);
    assert_null(blk_pgrant_find(&c, refs[1])); /* a destroyed cache finds nothing */
    end_pages();
}

/* A full cache evicts only while its allowance lasts (the burst, then
 * max / BLK_PGRANT_CHURN_DIV per second): past it, a miss is refused
 * (ENOSPC: the caller grant-copies) and the mappings it holds stay. */
static void test_churn_rationed(void **state)
{
    (void)state;
    grant_pages(false);
    struct blk_pgrant_cache c;
    const uint32_t max = 4;
    assert_int_equal(blk_pgrant_init(&c, gfx.xen, gfx.guest_id, max), 0);
    const uint64_t period = 1000000000ull * BLK_PGRANT_CHURN_DIV / max;
    uint64_t now = 5000;
    blk_pgrant_tick(&c, now); /* starts the clock */
    uint32_t burst = c.churn_tokens;
    assert_true(burst >= 1 && burst + max < NPAGES);
    assert_int_equal(blk_pgrant_maps_allowed(&c), max + burst);
    unsigned next = 0;
    for (; next < max; next++) /* filling evicts nothing, spends nothing */
        blk_pgrant_put(&c, blk_pgrant_get(&c, refs[next]));
    assert_int_equal(c.churn_tokens, burst);
    assert_int_equal(blk_pgrant_maps_allowed(&c), burst);
    for (uint32_t i = 0; i < burst; i++, next++)
        blk_pgrant_put(&c, blk_pgrant_get(&c, refs[next]));
    assert_int_equal(c.stats.evictions, burst);
    assert_int_equal(blk_pgrant_maps_allowed(&c), 0);
    /* the allowance is spent: a miss is refused, the cache unchanged */
    errno = 0;
    assert_null(blk_pgrant_get(&c, refs[next]));
    assert_int_equal(errno, ENOSPC);
    assert_int_equal(c.stats.rationed, 1);
    assert_int_equal(c.stats.maps, max + burst);
    assert_int_equal(c.stats.evictions, burst);
    assert_null(blk_pgrant_find(&c, refs[next]));
    /* the resident mappings still hit */
    uint64_t hits = c.stats.hits;
    blk_pgrant_put(&c, blk_pgrant_get(&c, refs[next - 1]));
    assert_int_equal(c.stats.hits, hits + 1);
    /* not quite a period later: still nothing */
    blk_pgrant_tick(&c, now + period - 1);
    assert_null(blk_pgrant_get(&c, refs[next]));
    assert_int_equal(c.stats.rationed, 2);
    /* a period: one eviction */
    blk_pgrant_tick(&c, now + period);
    assert_int_equal(blk_pgrant_maps_allowed(&c), 1);
    struct blk_pgrant *e = blk_pgrant_get(&c, refs[next]);
    assert_non_null(e);
    assert_int_equal(((uint8_t *)e->addr)[9], next + 1);
    blk_pgrant_put(&c, e);
    next++;
    assert_null(blk_pgrant_get(&c, refs[next]));
    /* a long pause refills up to the burst, no more */
    blk_pgrant_tick(&c, now + 1000 * period);
    assert_int_equal(c.churn_tokens, burst);
    /* a clock that goes back restarts it instead of earning */
    blk_pgrant_tick(&c, now);
    assert_int_equal(c.churn_tokens, burst);
    assert_true(c.count <= max);
    blk_pgrant_destroy(&c);
    end_pages();
}

static int setup(void **state)
{
    sc_log_set_level(SC_LOG_ERR);
    return grant_fixture_setup(state);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hit),
        cmocka_unit_test(test_lru_eviction),
        cmocka_unit_test(test_never_evicts_in_use),
        cmocka_unit_test(test_bound_random),
        cmocka_unit_test(test_read_only_and_bad_refs),
        cmocka_unit_test(test_find_only_looks),
        cmocka_unit_test(test_churn_rationed),
    };
    return cmocka_run_group_tests(tests, setup, grant_fixture_teardown);
}
