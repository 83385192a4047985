/*
 * qos_split.h - a guest's limit and reservation are the guest's, not each
 * core's: how much of them each sidecore gets, by where the guest's load
 * is (the "equivalent of per-core leases" of a global bucket, as
 * distributed rate limiters do it: the rate is re-divided every interval
 * by the service each part saw, so the parts always add up to the whole).
 *
 * Contract: pure arithmetic, any thread.  served[i]: the guest's service on
 * core i over the last interval (requests or bytes); held[i]: its limit
 * held it back there (it wanted more); present[i]: it has queues there.
 * share[i] (out) sums to 1 over the cores where it is present (0 where it
 * is not; equal over all cores when it is present nowhere).  Each present
 * core gets at least a floor (1/(8n) of the whole), so a queue whose load
 * grows finds room to show it; a held core's service counts twice, so a
 * core that could use more gets more at the next split.
 */
#ifndef SC_QOS_SPLIT_H
#define SC_QOS_SPLIT_H

#include <stdbool.h>

void sc_qos_split(const double *served, const bool *held, const bool *present, unsigned n,
                  double *share);

#endif
