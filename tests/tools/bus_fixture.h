/*
 * bus_fixture.h - test helper: the world of a lifecycle test (a private
 * xensim world where dom0 runs the backend and plays the toolstack),
 * driving a struct sc_xenbus from the test's main thread, and xenstore
 * reads and writes over printf-formatted paths (the toolstack's side).
 * cmocka tests only: failures assert.
 */
#ifndef SC_TEST_BUS_FIXTURE_H
#define SC_TEST_BUS_FIXTURE_H

#include <stdint.h>
#include <xenstore.h>

#include "clock.h"
#include "simworld.h"

struct sc_xen;
struct sc_xenbus;

/* One per test binary, in `bw`; the test's group setup and teardown call
 * bus_world_up/down, and open and close the bus when they want one. */
struct bus_world {
    struct simworld w;
    struct xsim *dom0;          /* dom0's hypervisor connection: creates guests */
    struct sc_xen *x;           /* the backend's platform, as dom0 */
    struct xs_handle *ts;       /* the toolstack's xenstore connection, dom0 */
    struct xs_handle *bus_xs;   /* the bus's own connection */
    struct sc_xenbus *bus;      /* NULL while closed */
    struct sc_pool *pool;       /* set by tests whose classes use one: pumped too */
};
extern struct bus_world bw;

/* Starts the world and opens dom0, x and ts: 0, or -1 (bus_world_down
 * still cleans up).  Sets $XENSIM_DIR. */
int bus_world_up(void);
/* Closes the bus if open and everything else, stops the world. */
void bus_world_down(void);
/* Opens bus_xs and a bus over it (no class registered): 0 or -1. */
int bus_world_open_bus(void);
/* Destroys the bus (devices disconnected and removed, their queues taken
 * off bw.pool's cores: up to 10 s) and closes bus_xs. */
void bus_world_close_bus(void);

/* Waits up to timeout_ms for the bus's fd (and bw.pool's answers), then
 * dispatches both (asserting success). */
void bus_pump_once(struct sc_xenbus *bus, int timeout_ms);

/* Dispatches `bus` until `cond` holds (ms milliseconds at most), then asserts it. */
#define BUS_WAIT_FOR(bus, ms, cond)                                                                \
    do {                                                                                           \
        uint64_t until_ = sc_clock_ms() + (ms);                                                    \
        while (!(cond) && sc_clock_ms() < until_)                                                  \
            bus_pump_once((bus), 10);                                                              \
        assert_true(cond);                                                                         \
    } while (0)

/* The value at the path (malloc'd), or NULL if absent. */
char *xs_readf(struct xs_handle *xs, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Writes val at the path in transaction t; asserts it worked. */
void xs_writef(struct xs_handle *xs, xs_transaction_t t, const char *val, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
