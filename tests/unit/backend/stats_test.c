/*
 * stats_test.c - one-writer counters and the latency histogram: bucket
 * arithmetic, percentiles from buckets, snapshot/diff clearing, and a writer
 * racing a reader (run under TSan too: no tearing, no data race, never a
 * counter going back).
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "stats.h"

static void buckets_cover_every_value_in_order(void **state)
{
    (void)state;
    /* Contiguous, ordered, and each value inside its bucket. */
    assert_int_equal(sc_hist_bucket_low(0), 0);
    for (unsigned b = 0; b + 1 < SC_HIST_BUCKETS; b++) {
        assert_true(sc_hist_bucket_low(b) <= sc_hist_bucket_high(b));
        assert_int_equal(sc_hist_bucket_high(b) + 1, sc_hist_bucket_low(b + 1));
        assert_int_equal(sc_hist_bucket(sc_hist_bucket_low(b)), b);
        assert_int_equal(sc_hist_bucket(sc_hist_bucket_high(b)), b);
        /* log2-ish: width at most a quarter of the lower bound past the linear part */
        if (b >= SC_HIST_LINEAR)
            assert_true(sc_hist_bucket_high(b) - sc_hist_bucket_low(b) + 1 <=
                        sc_hist_bucket_low(b) / 4);
    }
    assert_int_equal(sc_hist_bucket_high(SC_HIST_BUCKETS - 1), UINT64_MAX);
    uint64_t v = 1;
    for (int i = 0; i < 2000000; i++) {
        unsigned b = sc_hist_bucket(v);
        assert_true(b < SC_HIST_BUCKETS);
        assert_true(sc_hist_bucket_low(b) <= v && v <= sc_hist_bucket_high(b));
        v = v * 3 / 2 + (uint64_t)(i % 7);
        if (v > (1ull << 50))
            v = (uint64_t)i;
    }
    assert_int_equal(sc_hist_bucket(UINT64_MAX), SC_HIST_BUCKETS - 1);
    assert_int_equal(sc_hist_bucket(1ull << SC_HIST_MAX_SHIFT), SC_HIST_BUCKETS - 1);
    /* the last bucket is the top quarter-octave below 2^40 and everything above */
    assert_int_equal(sc_hist_bucket((1ull << SC_HIST_MAX_SHIFT) - 1), SC_HIST_BUCKETS - 1);
    assert_int_equal(sc_hist_bucket_low(SC_HIST_BUCKETS - 1), 7ull << (SC_HIST_MAX_SHIFT - 3));
}

static void percentiles_come_from_the_buckets(void **state)
{
    (void)state;
    struct sc_hist *h = calloc(1, sizeof(*h));
    struct sc_hist_snap *s = malloc(sizeof(*s));
    assert_non_null(h);
    assert_non_null(s);

    sc_hist_snapshot(h, s);
    assert_int_equal(sc_hist_percentile(s, 50), 0);
    assert_int_equal(sc_hist_mean(s), 0);

    for (int i = 0; i < 980; i++)
        sc_hist_add(h, 1000);
    for (int i = 0; i < 20; i++)
        sc_hist_add(h, 1000000);
    sc_hist_snapshot(h, s);
    assert_int_equal(s->count, 1000);
    assert_int_equal(s->max_ns, 1000000);
    assert_int_equal(sc_hist_mean(s), (980ull * 1000 + 20ull * 1000000) / 1000);

    uint64_t p50 = sc_hist_percentile(s, 50);
    assert_true(p50 >= 1000 && p50 <= 1250);
    assert_int_equal(p50, sc_hist_bucket_high(sc_hist_bucket(1000)));
    assert_int_equal(sc_hist_percentile(s, 98), p50); /* rank 980 is still 1000 */
    assert_int_equal(sc_hist_percentile(s, 98.1), 1000000); /* rank 981; capped at max */
    assert_int_equal(sc_hist_percentile(s, 99), 1000000);
    assert_int_equal(sc_hist_percentile(s, 100), 1000000);
    assert_int_equal(sc_hist_percentile(s, 0), 0);
    assert_int_equal(sc_hist_percentile(s, -1), 0);
    assert_int_equal(sc_hist_percentile(s, 100.5), 0);

    /* A single tiny value: the linear buckets are exact. */
    struct sc_hist *one = calloc(1, sizeof(*one));
    assert_non_null(one);
    sc_hist_add(one, 3);
    sc_hist_snapshot(one, s);
    assert_int_equal(sc_hist_percentile(s, 50), 3);
    assert_int_equal(sc_hist_percentile(s, 99.9), 3);
    free(one);
    free(h);
    free(s);
}

static void snapshots_clear_without_resetting(void **state)
{
    (void)state;
    struct sc_queue_stats *st = calloc(1, sizeof(*st));
    struct sc_queue_stats_snap *a = malloc(sizeof(*a)), *b = malloc(sizeof(*b)),
                               *d = malloc(sizeof(*d));
    assert_non_null(st);
    assert_non_null(a);
    assert_non_null(b);
    assert_non_null(d);

    sc_counter_add(&st->counter[SC_QSTAT_REQUESTS], 10);
    sc_counter_add(&st->counter[SC_QSTAT_BYTES], 40960);
    for (int i = 0; i < 10; i++)
        sc_hist_add(&st->latency, 100);
    sc_queue_stats_read(st, a);

    sc_counter_add(&st->counter[SC_QSTAT_REQUESTS], 5);
    sc_counter_add(&st->counter[SC_QSTAT_KICKS], 2);
    for (int i = 0; i < 5; i++)
        sc_hist_add(&st->latency, 50000);
    sc_queue_stats_read(st, b);

    /* The writer's counters were never reset... */
    assert_int_equal(b->counter[SC_QSTAT_REQUESTS], 15);
    assert_int_equal(b->latency.count, 15);
    /* ...and the difference is only what came after the first snapshot. */
    sc_queue_stats_diff(b, a, d);
    assert_int_equal(d->counter[SC_QSTAT_REQUESTS], 5);
    assert_int_equal(d->counter[SC_QSTAT_BYTES], 0);
    assert_int_equal(d->counter[SC_QSTAT_KICKS], 2);
    assert_int_equal(d->latency.count, 5);
    assert_int_equal(d->latency.bucket[sc_hist_bucket(100)], 0);
    assert_int_equal(d->latency.bucket[sc_hist_bucket(50000)], 5);
    uint64_t p50 = sc_hist_percentile(&d->latency, 50);
    assert_true(p50 >= 50000 && p50 <= 62500);
    /* in place */
    sc_queue_stats_diff(b, a, b);
    assert_int_equal(b->counter[SC_QSTAT_REQUESTS], 5);

    assert_string_equal(sc_queue_counter_name(SC_QSTAT_REQUESTS), "requests");
    assert_string_equal(sc_queue_counter_name(SC_QSTAT_EMPTY_POLLS), "empty_polls");
    assert_string_equal(sc_queue_counter_name(SC_QSTAT__COUNT), "?");
    for (int c = 0; c < SC_QSTAT__COUNT; c++)
        assert_string_not_equal(sc_queue_counter_name(c), "?");
    free(st);
    free(a);
    free(b);
    free(d);
}

#define RACE_ADDS 300000

static atomic_bool writer_done;

static atomic_bool reader_started;

static void *writer(void *arg)
{
    struct sc_queue_stats *st = arg;
    while (!atomic_load(&reader_started))
        ; /* start together, so the reads overlap the writes even on a loaded machine */
    for (uint64_t i = 0; i < RACE_ADDS; i++) {
        sc_counter_add(&st->counter[SC_QSTAT_REQUESTS], 1);
        sc_counter_add(&st->counter[SC_QSTAT_BYTES], 4096);
        sc_hist_add(&st->latency, i & 0xffff);
    }
    atomic_store(&writer_done, true);
    return NULL;
}

static void reader_never_sees_a_counter_go_back(void **state)
{
    (void)state;
    struct sc_queue_stats *st = calloc(1, sizeof(*st));
    struct sc_queue_stats_snap *prev = calloc(1, sizeof(*prev)), *now = malloc(sizeof(*now));
    assert_non_null(st);
    assert_non_null(prev);
    assert_non_null(now);
    atomic_store(&writer_done, false);
    atomic_store(&reader_started, false);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, writer, st), 0);
    unsigned reads = 0;
    bool done;
    atomic_store(&reader_started, true);
    do {
        done = atomic_load(&writer_done);
        sc_queue_stats_read(st, now);
        for (int c = 0; c < SC_QSTAT__COUNT; c++)
            assert_true(now->counter[c] >= prev->counter[c]);
        assert_true(now->latency.count >= prev->latency.count);
        for (unsigned b = 0; b < SC_HIST_BUCKETS; b++)
            assert_true(now->latency.bucket[b] >= prev->latency.bucket[b]);
        memcpy(prev, now, sizeof(*now));
        reads++;
    } while (!done);
    pthread_join(t, NULL);
    sc_queue_stats_read(st, now);
    assert_int_equal(now->counter[SC_QSTAT_REQUESTS], RACE_ADDS);
    assert_int_equal(now->counter[SC_QSTAT_BYTES], 4096ull * RACE_ADDS);
    assert_int_equal(now->latency.count, RACE_ADDS);
    uint64_t total = 0;
    for (unsigned b = 0; b < SC_HIST_BUCKETS; b++)
        total += now->latency.bucket[b];
    assert_int_equal(total, RACE_ADDS);
    assert_true(reads > 1);
    free(st);
    free(prev);
    free(now);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(buckets_cover_every_value_in_order),
        cmocka_unit_test(percentiles_come_from_the_buckets),
        cmocka_unit_test(snapshots_clear_without_resetting),
        cmocka_unit_test(reader_never_sees_a_counter_go_back),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
