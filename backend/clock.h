/*
 * clock.h - the one monotonic clock of the tree (daemon, tools and tests).
 *
 * Contract: CLOCK_MONOTONIC, which never goes back and does not jump with
 * the wall clock, so differences are durations and deadlines survive a
 * settimeofday.  Nanoseconds for latencies and the schedulers' tags,
 * milliseconds for deadlines handed to poll().  Any thread; never fails
 * (clock_gettime cannot fail for CLOCK_MONOTONIC on Linux).  Header-only:
 * the data path reads it every round, and the tools link no backend code
 * for it.
 */
#ifndef SC_CLOCK_H
#define SC_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline uint64_t sc_clock_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static inline uint64_t sc_clock_ms(void)
{
    return sc_clock_ns() / 1000000u;
}

#endif
