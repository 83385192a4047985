/*
 * stats.c - histogram bucket arithmetic, snapshots and differences.
 * The contract is in stats.h.
 */
#include "stats.h"

#include <stddef.h>

#define SUB (1u << SC_HIST_SUB_SHIFT)

unsigned sc_hist_bucket(uint64_t ns)
{
    if (ns < SC_HIST_LINEAR)
        return (unsigned)ns;
    unsigned msb = 63u - (unsigned)__builtin_clzll(ns); /* >= 3 */
    if (msb >= SC_HIST_MAX_SHIFT)
        return SC_HIST_BUCKETS - 1;
    unsigned sub = (unsigned)(ns >> (msb - SC_HIST_SUB_SHIFT)) & (SUB - 1);
    return SC_HIST_LINEAR + (msb - 3u) * SUB + sub;
}

uint64_t sc_hist_bucket_low(unsigned b)
{
    if (b < SC_HIST_LINEAR)
        return b;
    if (b >= SC_HIST_BUCKETS)
        b = SC_HIST_BUCKETS - 1;
    unsigned msb = (b - SC_HIST_LINEAR) / SUB + 3u;
    unsigned sub = (b - SC_HIST_LINEAR) % SUB;
    return (uint64_t)(SUB + sub) << (msb - SC_HIST_SUB_SHIFT);
}

uint64_t sc_hist_bucket_high(unsigned b)
{
    if (b >= SC_HIST_BUCKETS - 1)
        return UINT64_MAX;
    return sc_hist_bucket_low(b + 1) - 1;
}

void sc_hist_add(struct sc_hist *h, uint64_t ns)
{
    sc_counter_add(&h->bucket[sc_hist_bucket(ns)], 1);
    sc_counter_add(&h->sum_ns, ns);
    sc_counter_max(&h->max_ns, ns);
    /* count last: a reader that sees it (relaxed, so only roughly) mostly
     * finds the bucket too; percentiles use the bucket sum, not count. */
    sc_counter_add(&h->count, 1);
}

void sc_hist_snapshot(const struct sc_hist *h, struct sc_hist_snap *out)
{
    out->count = sc_counter_read(&h->count);
    for (unsigned i = 0; i < SC_HIST_BUCKETS; i++)
        out->bucket[i] = sc_counter_read(&h->bucket[i]);
    out->sum_ns = sc_counter_read(&h->sum_ns);
    out->max_ns = sc_counter_read(&h->max_ns);
}

void sc_hist_diff(const struct sc_hist_snap *now, const struct sc_hist_snap *before,
                  struct sc_hist_snap *out)
{
    for (unsigned i = 0; i < SC_HIST_BUCKETS; i++)
        out->bucket[i] = now->bucket[i] - before->bucket[i];
    out->count = now->count - before->count;
    out->sum_ns = now->sum_ns - before->sum_ns;
    out->max_ns = now->max_ns;
}

uint64_t sc_hist_percentile(const struct sc_hist_snap *s, double p)
{
    if (!(p > 0.0 && p <= 100.0))
        return 0;
    /* The buckets, not `count`: fields are read one by one, and the buckets
     * are what the rank is looked up in. */
    uint64_t total = 0;
    for (unsigned i = 0; i < SC_HIST_BUCKETS; i++)
        total += s->bucket[i];
    if (total == 0)
        return 0;
    double want = p / 100.0 * (double)total;
    uint64_t rank = (uint64_t)want;
    if ((double)rank < want)
        rank++;
    if (rank == 0)
        rank = 1;
    uint64_t seen = 0;
    for (unsigned i = 0; i < SC_HIST_BUCKETS; i++) {
        seen += s->bucket[i];
        if (seen >= rank) {
            uint64_t high = sc_hist_bucket_high(i);
            return s->max_ns && high > s->max_ns ? s->max_ns : high;
        }
    }
    return s->max_ns;
}

uint64_t sc_hist_mean(const struct sc_hist_snap *s)
{
    return s->count ? s->sum_ns / s->count : 0;
}

static const char *const counter_names[SC_QSTAT__COUNT] = {
    [SC_QSTAT_REQUESTS] = "requests",
    [SC_QSTAT_BYTES] = "bytes",
    [SC_QSTAT_KICKS] = "kicks",
    [SC_QSTAT_NOTIFIES] = "notifies",
    [SC_QSTAT_EMPTY_POLLS] = "empty_polls",
    [SC_QSTAT_BUSY_POLLS] = "busy_polls",
    [SC_QSTAT_ERRORS] = "errors",
    [SC_QSTAT_BUSY_NS] = "busy_ns",
};

const char *sc_queue_counter_name(enum sc_queue_counter c)
{
    return (unsigned)c < SC_QSTAT__COUNT ? counter_names[c] : "?";
}

void sc_queue_stats_read(const struct sc_queue_stats *s, struct sc_queue_stats_snap *out)
{
    for (unsigned i = 0; i < SC_QSTAT__COUNT; i++)
        out->counter[i] = sc_counter_read(&s->counter[i]);
    sc_hist_snapshot(&s->latency, &out->latency);
}

void sc_queue_stats_diff(const struct sc_queue_stats_snap *now,
                         const struct sc_queue_stats_snap *before,
                         struct sc_queue_stats_snap *out)
{
    for (unsigned i = 0; i < SC_QSTAT__COUNT; i++)
        out->counter[i] = now->counter[i] - before->counter[i];
    sc_hist_diff(&now->latency, &before->latency, &out->latency);
}
