/*
 * stats.h - per-queue counters and a latency histogram, one writer, many
 * readers.
 *
 * Contract:
 * - Every counter and histogram has exactly one writer thread (for a queue:
 *   the sidecore that owns it).  The writer updates with sc_counter_add()
 *   (a relaxed load and a relaxed store, no locked instruction); any thread
 *   reads with a relaxed atomic load, so a 64-bit value never tears and TSan
 *   sees no race.
 * - Nothing is ever reset.  A reader that wants "since last time" keeps its
 *   previous snapshot and subtracts (sc_queue_stats_diff); clearing by a
 *   reader would race the writer's read-modify-write and lose counts.
 * - A snapshot is not one instant: each field is read once, a concurrent
 *   writer may land between two fields.  Every field is monotonic, so a
 *   later snapshot never shows a smaller value than an earlier one.
 * - Pure functions otherwise: no clock, no allocation.  Returns as stated.
 */
#ifndef SC_STATS_H
#define SC_STATS_H

#include <stdatomic.h>
#include <stdint.h>

typedef _Atomic uint64_t sc_counter;

/* Writer thread only: single-writer increment (no atomic RMW needed). */
static inline void sc_counter_add(sc_counter *c, uint64_t n)
{
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n,
                          memory_order_relaxed);
}

/* Writer thread only: raises c to v if v is larger. */
static inline void sc_counter_max(sc_counter *c, uint64_t v)
{
    if (v > atomic_load_explicit(c, memory_order_relaxed))
        atomic_store_explicit(c, v, memory_order_relaxed);
}

/* Any thread. */
static inline uint64_t sc_counter_read(const sc_counter *c)
{
    return atomic_load_explicit((sc_counter *)c, memory_order_relaxed);
}

/* ---- latency histogram ----
 * Buckets of nanoseconds: 0..7 exactly, then 4 buckets per power of two (so
 * a bucket spans at most 25% of its lower bound) up to 2^40 ns (~18 min);
 * larger values land in the last bucket.  Percentiles come from the buckets
 * and are reported as the upper bound of the bucket that holds them, i.e.
 * "p99 <= x", within 25% of the true value. */
#define SC_HIST_LINEAR    8u
#define SC_HIST_SUB_SHIFT 2u /* 4 sub-buckets per octave */
#define SC_HIST_MAX_SHIFT 40u
#define SC_HIST_BUCKETS \
    (SC_HIST_LINEAR + (SC_HIST_MAX_SHIFT - 3u) * (1u << SC_HIST_SUB_SHIFT))

struct sc_hist {
    sc_counter bucket[SC_HIST_BUCKETS];
    sc_counter count;
    sc_counter sum_ns;
    sc_counter max_ns;
};

struct sc_hist_snap {
    uint64_t bucket[SC_HIST_BUCKETS];
    uint64_t count;
    uint64_t sum_ns;
    uint64_t max_ns; /* since the start (a diff keeps the newer max) */
};

/* The bucket that holds `ns`, in [0, SC_HIST_BUCKETS). */
unsigned sc_hist_bucket(uint64_t ns);
/* Smallest and largest value of bucket b (b < SC_HIST_BUCKETS; the last
 * bucket's upper bound is UINT64_MAX). */
uint64_t sc_hist_bucket_low(unsigned b);
uint64_t sc_hist_bucket_high(unsigned b);

/* Writer thread only. */
void sc_hist_add(struct sc_hist *h, uint64_t ns);
/* Any thread. */
void sc_hist_snapshot(const struct sc_hist *h, struct sc_hist_snap *out);
/* out = now - before, bucket by bucket (out may alias now). */
void sc_hist_diff(const struct sc_hist_snap *now, const struct sc_hist_snap *before,
                  struct sc_hist_snap *out);
/* The value at percentile p (0 < p <= 100): the upper bound of the bucket
 * holding the ceil(p% * count)-th smallest sample, capped at max_ns.  0 if
 * the histogram is empty or p is out of range. */
uint64_t sc_hist_percentile(const struct sc_hist_snap *s, double p);
/* Mean in ns, 0 if empty. */
uint64_t sc_hist_mean(const struct sc_hist_snap *s);

/* ---- per-queue statistics ---- */

enum sc_queue_counter {
    SC_QSTAT_REQUESTS,    /* ring requests consumed */
    SC_QSTAT_BYTES,       /* payload bytes of those requests */
    SC_QSTAT_KICKS,       /* event-channel notifications received from the frontend */
    SC_QSTAT_NOTIFIES,    /* notifications sent to the frontend */
    SC_QSTAT_EMPTY_POLLS, /* visits that found nothing to consume */
    SC_QSTAT_BUSY_POLLS,  /* visits that consumed something */
    SC_QSTAT_ERRORS,      /* requests answered with an error, and queue failures */
    SC_QSTAT_BUSY_NS,     /* its core's time in its visits and flushes (its load) */
    SC_QSTAT__COUNT
};

/* "requests", "bytes", ... (stable names for sidecorectl and Prometheus);
 * "?" for an unknown value. */
const char *sc_queue_counter_name(enum sc_queue_counter c);

/* Written only by the sidecore that owns the queue (and, before the queue is
 * added, by the control thread that builds it). */
struct sc_queue_stats {
    sc_counter counter[SC_QSTAT__COUNT];
    struct sc_hist latency; /* request consumed -> response produced, ns */
};

struct sc_queue_stats_snap {
    uint64_t counter[SC_QSTAT__COUNT];
    struct sc_hist_snap latency;
};

/* Any thread. */
void sc_queue_stats_read(const struct sc_queue_stats *s, struct sc_queue_stats_snap *out);
/* out = now - before (out may alias now). */
void sc_queue_stats_diff(const struct sc_queue_stats_snap *now,
                         const struct sc_queue_stats_snap *before,
                         struct sc_queue_stats_snap *out);

#endif
