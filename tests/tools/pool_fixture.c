#include "pool_fixture.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

struct sc_pool *pool_fixture_create(struct sc_xen *xen, enum sc_mode mode, unsigned ncores)
{
    struct sc_pool_params p;
    memset(&p, 0, sizeof(p));
    p.mode = mode;
    p.ncores = ncores;
    for (unsigned i = 0; i < SC_POOL_MAX_CORES; i++)
        p.cpus[i] = SC_CORE_NO_CPU;
    p.poll_idle_ns = 50000;
    p.uring_entries = 32;
    p.attention_fd = -1;
    struct sc_pool *pool = sc_pool_create(xen, &p);
    assert_non_null(pool);
    return pool;
}

void pool_fixture_nop_flush(struct sc_queue *q)
{
    (void)q;
}

bool pool_fixture_no_rearm(struct sc_queue *q)
{
    (void)q;
    return false;
}

bool pool_fixture_always_idle(struct sc_queue *q)
{
    (void)q;
    return true;
}
