/*
 * grant_fixture.h - test helper: a backend and one guest in one process,
 * the world of the grant tests.  A cmocka group setup starts bus_fixture's
 * world (bw: xensim, dom0, the platform layer as dom0, what sidecored
 * uses), creates a guest domain and opens its kernel (xsim_guest: it
 * allocates and grants pages); the teardown ends them.  One fixture per
 * test binary, in `gfx`.  cmocka tests only: failures assert.
 */
#ifndef SC_TEST_GRANT_FIXTURE_H
#define SC_TEST_GRANT_FIXTURE_H

#include <stdbool.h>
#include <stdint.h>
#include <xen/xen.h>
#include <xen/grant_table.h>

#include "bus_fixture.h"

struct xsim_guest;
struct sc_xen;

/* On bus_fixture's world (bw), which it starts and stops. */
struct grant_fixture {
    struct xsim_guest *guest;   /* the guest's kernel */
    domid_t guest_id;
    struct sc_xen *xen;         /* the backend, dom0 (bw.x) */
};

extern struct grant_fixture gfx;

/* cmocka group setup and teardown: cmocka_run_group_tests(tests,
 * grant_fixture_setup, grant_fixture_teardown).  The guest is named after
 * the test program. */
int grant_fixture_setup(void **state);
int grant_fixture_teardown(void **state);

/* n contiguous pages of the guest, page i filled with byte seed + i, each
 * granted to dom0 (read-only if asked), their refs in refs[n]: the local
 * address of the first page. */
uint8_t *gfx_grant_pages(uint32_t n, uint8_t seed, bool readonly, grant_ref_t *refs);
/* Ends the n grants and frees the pages; asserts that the backend holds
 * none of them (mapped or in a copy). */
void gfx_end_pages(uint8_t *p, uint32_t n, const grant_ref_t *refs);

#endif
