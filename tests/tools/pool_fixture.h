/*
 * pool_fixture.h - test helpers for the core pool and what runs on it: a
 * pool of unpinned cores (50 us poll window, small io_uring rings), and the
 * operations of a queue with no guest behind it (nothing to flush, nothing
 * to rearm, always idle).  cmocka tests only: failures assert.
 */
#ifndef SC_TEST_POOL_FIXTURE_H
#define SC_TEST_POOL_FIXTURE_H

#include <stdbool.h>

#include "corepool.h"

struct sc_xen;
struct sc_queue;

/* ncores cores of `mode`, none pinned, no attention fd. */
struct sc_pool *pool_fixture_create(struct sc_xen *xen, enum sc_mode mode, unsigned ncores);

void pool_fixture_nop_flush(struct sc_queue *q);
bool pool_fixture_no_rearm(struct sc_queue *q);
bool pool_fixture_always_idle(struct sc_queue *q);

#endif
