#include "grant_fixture.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "xensim.h"
#include "xensim_guest.h"

struct grant_fixture gfx;

int grant_fixture_setup(void **state)
{
    (void)state;
    memset(&gfx, 0, sizeof(gfx));
    int id = -1;
    if (bus_world_up() == 0)
        id = xsim_domain_create(bw.dom0, program_invocation_short_name, 16);
    if (id > 0) {
        gfx.guest_id = (domid_t)id;
        gfx.guest = xsim_guest_open(bw.w.dir, gfx.guest_id);
        gfx.xen = bw.x;
    }
    if (!gfx.guest) {
        grant_fixture_teardown(state);
        return -1;
    }
    return 0;
}

int grant_fixture_teardown(void **state)
{
    (void)state;
    if (gfx.guest)
        xsim_guest_close(gfx.guest);
    bus_world_down();
    memset(&gfx, 0, sizeof(gfx));
    return 0;
}

uint8_t *gfx_grant_pages(uint32_t n, uint8_t seed, bool readonly, grant_ref_t *refs)
{
    uint64_t gfn;
    uint8_t *p = xsim_guest_pages_alloc(gfx.guest, n, &gfn);
    assert_non_null(p);
    for (uint32_t i = 0; i < n; i++) {
        memset(p + (size_t)i * XSIM_PAGE_SIZE, (uint8_t)(seed + i), XSIM_PAGE_SIZE);
        int ref = xsim_guest_grant(gfx.guest, 0, gfn + i, readonly);
        assert_true(ref >= 0);
        refs[i] = (grant_ref_t)ref;
    }
    return p;
}

void gfx_end_pages(uint8_t *p, uint32_t n, const grant_ref_t *refs)
{
    for (uint32_t i = 0; i < n; i++)
        assert_int_equal(xsim_guest_end_access(gfx.guest, refs[i]), 0);
    xsim_guest_pages_free(gfx.guest, p, n);
}
