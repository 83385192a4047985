/*
 * blk_queue_cost_test.c - what a queue reserves of the memory budget
 * (blk_queue_mem_cost, net_queue_mem_cost, net_ctrl_mem_cost): computed
 * from the parameters alone, the same every time; larger rings and more
 * indirect segments cost more (whatever the ABI); persistent grants add exactly their cache's
 * mappings; at least the bounce pages, the ring and the frame buffers it
 * maps; nothing for parameters no queue can be made from.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "blk_pgrant.h"
#include "blkback.h"
#include "net_ctrl.h"
#include "net_queue.h"

static struct blk_queue_params params(unsigned order, bool persistent, unsigned indirect)
{
    struct blk_queue_params p;
    memset(&p, 0, sizeof(p));
    p.abi = BLK_ABI_NATIVE;
    p.ring_pages = 1u << order;
    p.persistent = persistent;
    p.max_persistent_grants = 1056;
    p.limits.max_indirect_segments = (uint16_t)indirect;
    return p;
}

static void blk_cost_follows_the_parameters(void **state)
{
    (void)state;
    uint64_t prev = 0;
    for (unsigned order = 0; order <= BLK_MAX_RING_ORDER; order++) {
        struct blk_queue_params p = params(order, false, 256);
        uint64_t c = blk_queue_mem_cost(&p);
        assert_int_equal(c, blk_queue_mem_cost(&p)); /* deterministic */
        assert_true(c > prev);
        /* at least its bounce pages (a full ring of 11-segment requests,
         * capped at 4096) and the mapped ring */
        unsigned ents = blk_ring_entries(p.abi, p.ring_pages);
        uint64_t bounce = (uint64_t)ents * 11 > 4096 ? 4096 : (uint64_t)ents * 11;
        if (bounce < 256)
            bounce = 256;
        assert_true(c >= bounce * 4096 + p.ring_pages * 4096ull);
        prev = c;
        /* persistent grants: exactly the cache's mappings more */
        struct blk_queue_params pp = params(order, true, 256);
        assert_int_equal(blk_queue_mem_cost(&pp), c + blk_pgrant_mem(1056));
        pp.max_persistent_grants = 0;
        assert_int_equal(blk_queue_mem_cost(&pp), c);
    }
    assert_true(blk_pgrant_mem(1056) >= 1056ull * 4096);
    /* order 4, persistent, 256 indirect segments: the issue's ~21 MiB and more */
    struct blk_queue_params big = params(4, true, 256);
    assert_true(blk_queue_mem_cost(&big) > 20ull << 20);
    assert_true(blk_queue_mem_cost(&big) < 40ull << 20);
    /* fewer indirect segments, smaller slots */
    struct blk_queue_params few = params(4, true, 0);
    assert_true(blk_queue_mem_cost(&few) < blk_queue_mem_cost(&big));
    /* every ABI has its price */
    struct blk_queue_params x32 = params(2, false, 256);
    x32.abi = BLK_ABI_X86_32;
    assert_true(blk_queue_mem_cost(&x32) > 0);
    /* no queue from these */
    struct blk_queue_params bad = params(0, false, 256);
    bad.ring_pages = 3;
    assert_int_equal(blk_queue_mem_cost(&bad), 0);
    assert_int_equal(blk_queue_mem_cost(NULL), 0);
}

static void net_cost(void **state)
{
    (void)state;
    struct net_queue_params p;
    memset(&p, 0, sizeof(p));
    uint64_t c = net_queue_mem_cost(&p);
    assert_int_equal(c, net_queue_mem_cost(&p));
    /* its frame buffers (130 of 68 KiB) and two ring pages at least */
    assert_true(c >= 130ull * (65536 + 4096) + 2 * 4096);
    assert_true(c < 16ull << 20);
    assert_true(net_ctrl_mem_cost() >= 4096);
    assert_true(net_ctrl_mem_cost() < 64 * 1024);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(blk_cost_follows_the_parameters),
        cmocka_unit_test(net_cost),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
