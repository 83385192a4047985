/*
 * net_rate.h - a vif's `rate` ("<bytes>,<usecs>": at most `bytes` every
 * `usecs`, as libxl writes it and Linux netback applies it), shared by the
 * vif's queues on any sidecores without a lock.
 *
 * Contract: a generic cell rate algorithm over one atomic word
 * (rate_cell.h), the time the link is free again.  A packet of B bytes
 * costs B * usecs / bytes of link time; it passes when the link time owed,
 * its own included, fits in one period (the credit Linux gives each
 * period, so a burst of up to `bytes` passes at once), and a packet larger
 * than `bytes` passes once the link was silent for its own cost (Linux
 * lets such a packet through after a full credit, too).
 * net_rate_set() changes the rate live (any thread); 0 bytes = unlimited.
 * net_rate_take() is called by the sidecore about to send (any thread; a
 * compare-and-swap loop): true to send now, false with *retry_ns, the
 * CLOCK_MONOTONIC time it would pass.
 */
#ifndef SC_NET_RATE_H
#define SC_NET_RATE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "rate_cell.h"

struct net_rate {
    struct sc_rate_cell cell;     /* cost of 1 KiB: the link time; burst: `usecs` */
    _Atomic uint64_t throttled;   /* packets that had to wait */
    _Atomic uint64_t bytes, usecs; /* as set, for display */
};

/* "<bytes>,<usecs>" (decimal; libxl's form) -> *bytes, *usecs.  0 or
 * -EINVAL (malformed, 0 usecs, or absurd: more than 2^40 either). */
int net_rate_parse(const char *s, uint64_t *bytes, uint64_t *usecs);
/* Any thread.  bytes 0 = unlimited. */
void net_rate_set(struct net_rate *r, uint64_t bytes, uint64_t usecs);
/* Any thread: may `len` bytes go now?  Unlimited: always true. */
bool net_rate_take(struct net_rate *r, uint32_t len, uint64_t now_ns, uint64_t *retry_ns);
static inline bool net_rate_limited(const struct net_rate *r)
{
    return sc_rate_cell_limited(&r->cell);
}

#endif
