/*
 * admission.h - refusing a reservation the sidecores cannot honour.
 *
 * A guest's reservation (sched.h) is a promise: while it has work it is
 * served at least that rate.  The promises together cannot exceed what the
 * sidecores can serve, so a new or raised reservation is checked against
 * the sum of the others' before it is applied (mClock and dmClock leave
 * this to the operator; a backend that knows its cores can say no itself).
 *
 * Capacity: what one sidecore serves per second of busy time (requests,
 * bytes), either configured (--core-capacity iops=N,bps=N) or measured by
 * the balancer over busy intervals (balancer.h); times the sidecores the
 * daemon may run, times SC_ADMISSION_RESERVABLE (headroom for the weighted
 * guests, the measurement's error and the control work).  A dimension
 * whose capacity is not known (not configured, not measured yet) admits
 * any reservation: refusing on a guess would be worse than promising.
 *
 * Contract: pure arithmetic, any thread.
 */
#ifndef SC_ADMISSION_H
#define SC_ADMISSION_H

#include <stdbool.h>
#include <stddef.h>

#include "sched.h"

/* The share of the capacity reservations may take, in percent. */
#define SC_ADMISSION_RESERVABLE_PCT 90u

struct sc_admission_capacity {
    struct sc_sched_rate per_core; /* per busy second of one sidecore; 0: not known */
    unsigned ncores;               /* sidecores the daemon may run (>= 1) */
    bool measured;                 /* per_core comes from the balancer, not the config */
};

/* What reservations may total in each dimension (0: not known, no bound). */
void sc_admission_reservable(const struct sc_admission_capacity *c, struct sc_sched_rate *out);

/* 0 if a guest may reserve `want` while the other guests reserve `others`
 * (summed); -ENOSPC with a sentence in why (if not NULL) otherwise. */
int sc_admission_check(const struct sc_admission_capacity *c, const struct sc_sched_rate *others,
                       const struct sc_sched_rate *want, char *why, size_t whylen);

#endif
