/*
 * metrics_text.h - the Prometheus text exposition (format 0.0.4) of the
 * control socket's published views.
 *
 * Contract: sc_metrics_text_write() turns the views `status`, `devices`,
 * `queues`, `cores` and `guests`, exactly as `sidecorectl ... --json` gets
 * them (ctl_methods.c), into metric families: HELP and TYPE lines, then
 * the samples, each family's samples together.  Names and labels are
 * stable (docs/operations.md lists them): `sidecore_` prefix, units in the
 * name, `_total` on counters; labels core, type, domid, devid, queue.
 * The latency histograms (stats.h: 4 buckets per power of two) come out
 * as Prometheus histograms on SC_METRICS_LE_COUNT bounds, one per power
 * of two, each the exact upper bound of one of our buckets, so every
 * cumulative count is exact; +Inf and _count are the buckets' total.
 * Pure: reads the views (borrowed, never changed), writes to `out`; no
 * clock, no state, any thread.
 * Returns 0, or -EIO when writing to `out` failed.
 */
#ifndef SC_METRICS_TEXT_H
#define SC_METRICS_TEXT_H

#include <stdint.h>
#include <stdio.h>
#include <jansson.h>

/* The histograms' bounds: 2^k - 1 ns for k = FIRST..LAST (511 ns .. 34 s). */
#define SC_METRICS_LE_FIRST_SHIFT 9u
#define SC_METRICS_LE_LAST_SHIFT  35u
#define SC_METRICS_LE_COUNT (SC_METRICS_LE_LAST_SHIFT - SC_METRICS_LE_FIRST_SHIFT + 1u)

#define SC_METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

struct sc_metrics_views {
    json_t *status, *devices, *queues, *cores, *guests; /* NULL: that part left out */
    double age_s; /* how old the oldest of them is (sidecore_metrics_age_seconds) */
};

int sc_metrics_text_write(FILE *out, const struct sc_metrics_views *v);

/* The bound of histogram bucket i (i < SC_METRICS_LE_COUNT), in ns. */
uint64_t sc_metrics_le_ns(unsigned i);

#endif
