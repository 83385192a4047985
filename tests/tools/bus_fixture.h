/*
 * bus_fixture.h - test helper: driving a struct sc_xenbus from the test's
 * main thread, and xenstore reads and writes over printf-formatted paths (the
 * toolstack's side of a lifecycle test).  cmocka tests only: failures assert.
 */
#ifndef SC_TEST_BUS_FIXTURE_H
#define SC_TEST_BUS_FIXTURE_H

#include <stdint.h>
#include <xenstore.h>

#include "clock.h"

struct sc_xenbus;

/* Waits up to timeout_ms for the bus's fd, then dispatches (asserting success). */
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
