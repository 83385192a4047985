/*
 * bounce_test.c - the bounce page pool (backend/bounce.c): every page
 * handed out once until returned, low pages first, the last returned
 * reused first, page-aligned distinct pages, and no memory touched until a
 * page is used.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <cmocka.h>

#include "bounce.h"

#define PG SC_BOUNCE_PAGE_SIZE

static void pages_are_handed_out_once_low_first(void **state)
{
    (void)state;
    enum { N = 16 };
    struct sc_bounce b;
    assert_int_equal(sc_bounce_init(&b, N), 0);
    assert_int_equal(sc_bounce_avail(&b), N);
    uint32_t got[N];
    for (uint32_t i = 0; i < N; i++) {
        got[i] = sc_bounce_get(&b);
        assert_int_equal(got[i], i);
        uint8_t *p = sc_bounce_addr(&b, got[i]);
        assert_int_equal((uintptr_t)p % PG, 0);
        memset(p, (int)i, PG); /* each page is its own, all of it writable */
    }
    assert_int_equal(sc_bounce_avail(&b), 0);
    assert_int_equal(sc_bounce_get(&b), SC_BOUNCE_NONE);
    for (uint32_t i = 0; i < N; i++) {
        const uint8_t *p = sc_bounce_addr(&b, got[i]);
        assert_int_equal(p[0], i);
        assert_int_equal(p[PG - 1], i);
    }
    /* The last page given back is the first taken again (still warm). */
    sc_bounce_put(&b, 5);
    sc_bounce_put(&b, 9);
    assert_int_equal(sc_bounce_avail(&b), 2);
    assert_int_equal(sc_bounce_get(&b), 9);
    assert_int_equal(sc_bounce_get(&b), 5);
    /* "Nothing held" goes back harmlessly. */
    sc_bounce_put(&b, SC_BOUNCE_NONE);
    assert_int_equal(sc_bounce_avail(&b), 0);
    sc_bounce_destroy(&b);
}

/* Reserving is not using: a fresh pool's pages are not resident. */
static void untouched_pages_cost_no_memory(void **state)
{
    (void)state;
    enum { N = 1024 };
    struct sc_bounce b;
    assert_int_equal(sc_bounce_init(&b, N), 0);
    unsigned char *vec = malloc(N);
    assert_non_null(vec);
    assert_int_equal(mincore(sc_bounce_addr(&b, 0), (size_t)N * PG, vec), 0);
    for (uint32_t i = 0; i < N; i++)
        assert_int_equal(vec[i] & 1, 0);
    uint32_t idx = sc_bounce_get(&b);
    memset(sc_bounce_addr(&b, idx), 1, PG);
    assert_int_equal(mincore(sc_bounce_addr(&b, idx), PG, vec), 0);
    assert_int_equal(vec[0] & 1, 1);
    free(vec);
    sc_bounce_destroy(&b);
}

static void init_rejects_and_destroy_is_idempotent(void **state)
{
    (void)state;
    struct sc_bounce b;
    assert_int_equal(sc_bounce_init(&b, 0), -EINVAL);
    assert_int_equal(sc_bounce_init(&b, SC_BOUNCE_NONE), -EINVAL);
    assert_int_equal(sc_bounce_avail(&b), 0);
    assert_int_equal(sc_bounce_get(&b), SC_BOUNCE_NONE);
    sc_bounce_destroy(&b);
    assert_int_equal(sc_bounce_init(&b, 1), 0);
    sc_bounce_destroy(&b);
    sc_bounce_destroy(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(pages_are_handed_out_once_low_first),
        cmocka_unit_test(untouched_pages_cost_no_memory),
        cmocka_unit_test(init_rejects_and_destroy_is_idempotent),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
