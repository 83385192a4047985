/*
 * net_rate_test.c - a vif's `rate` (netback/net_rate.c): the parser, the
 * unlimited case, the burst of `bytes`, where retry_ns points, a packet
 * larger than the burst, a live change, and four threads sharing one limit
 * never admitting more than the rate allows.
 *
 * Time is simulated: every call gets an explicit now_ns, nothing sleeps.
 * Rates are picked so that the link time of 1 KiB is a whole number of
 * nanoseconds (the module keeps it per KiB), so the arithmetic here is exact.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "net_rate.h"

#define T0 1000000000ull /* any start; not 0, which tat starts at */

/* What the link time of len bytes is at `bytes` per `usecs` (rounded up). */
static uint64_t cost_ns(uint64_t bytes, uint64_t usecs, uint32_t len)
{
    uint64_t per_kib = usecs * 1000 * 1024 / bytes;
    return ((uint64_t)len * per_kib + 1023) / 1024;
}

static void test_parse(void **state)
{
    (void)state;
    uint64_t b = 7, u = 7;
    assert_int_equal(net_rate_parse("1000,20000", &b, &u), 0);
    assert_int_equal(b, 1000);
    assert_int_equal(u, 20000);
    assert_int_equal(net_rate_parse("0,1", &b, &u), 0);
    assert_int_equal(b, 0);
    assert_int_equal(u, 1);
    assert_int_equal(net_rate_parse("1099511627776,1099511627776", &b, &u), 0); /* 2^40 */
    assert_int_equal(b, 1ull << 40);
    assert_int_equal(u, 1ull << 40);
    assert_int_equal(net_rate_parse("007,08", &b, &u), 0); /* decimal, not octal */
    assert_int_equal(b, 7);
    assert_int_equal(u, 8);

    static const char *const bad[] = {
        "", ",", "1", "1,", ",1", "1,0", "0,0", "x,1", "1,x", "1,2,3", "1,,2", " 1,2", "1, 2",
        "1 ,2", "1,2 ", "1,2\n", "-1,2", "1,-2", "+1,2", "0x10,2", "1.5,2", "1099511627777,1",
        "1,1099511627777", "18446744073709551615,1", "18446744073709551616,1",
        "99999999999999999999999999,1", "1,99999999999999999999999999",
    };
    for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        b = u = 7;
        if (net_rate_parse(bad[i], &b, &u) != -EINVAL)
            fail_msg("\"%s\" accepted (%llu,%llu)", bad[i], (unsigned long long)b,
                     (unsigned long long)u);
    }
    assert_int_equal(net_rate_parse(NULL, &b, &u), -EINVAL);
}

static void test_unlimited(void **state)
{
    (void)state;
    struct net_rate r;
    memset(&r, 0, sizeof(r)); /* a fresh vif: no limit */
    assert_false(net_rate_limited(&r));
    uint64_t retry = 42;
    for (unsigned i = 0; i < 1000; i++)
        assert_true(net_rate_take(&r, 65535, T0, &retry));
    assert_int_equal(retry, 42); /* untouched */
    net_rate_set(&r, 0, 1000); /* 0 bytes: unlimited */
    assert_false(net_rate_limited(&r));
    for (unsigned i = 0; i < 1000; i++)
        assert_true(net_rate_take(&r, 65535, T0, NULL));
    assert_int_equal(atomic_load(&r.throttled), 0);
    /* absurdly fast is still limited, and passes what it should */
    net_rate_set(&r, 1ull << 40, 1);
    assert_true(net_rate_limited(&r));
    assert_true(net_rate_take(&r, 1500, T0, NULL));
}

/* At 1024 bytes per ms, 128-byte packets cost 125 us each: a burst of
 * eight (1024 bytes) passes at once, the ninth waits for one packet's time. */
static void test_burst_then_refused(void **state)
{
    (void)state;
    struct net_rate r;
    memset(&r, 0, sizeof(r));
    net_rate_set(&r, 1024, 1000);
    assert_true(net_rate_limited(&r));
    assert_int_equal(atomic_load(&r.bytes), 1024);
    assert_int_equal(atomic_load(&r.usecs), 1000);
    const uint64_t c = cost_ns(1024, 1000, 128);
    assert_int_equal(c, 125000);

    uint64_t retry = 0;
    for (unsigned i = 0; i < 8; i++)
        assert_true(net_rate_take(&r, 128, T0, &retry));
    /* the burst is spent: the next packet is refused... */
    assert_false(net_rate_take(&r, 128, T0, &retry));
    assert_int_equal(atomic_load(&r.throttled), 1);
    /* ...until one packet's link time has passed: not a ns earlier */
    assert_int_equal(retry, T0 + c);
    assert_false(net_rate_take(&r, 128, retry - 1, NULL));
    assert_true(net_rate_take(&r, 128, retry, NULL));
    /* from then on, one packet every c ns */
    assert_false(net_rate_take(&r, 128, retry, &retry));
    assert_int_equal(retry, T0 + 2 * c);
    assert_false(net_rate_take(&r, 128, T0 + 2 * c - 1, NULL));
    assert_true(net_rate_take(&r, 128, T0 + 2 * c, NULL));
    /* a smaller packet waits less */
    assert_false(net_rate_take(&r, 64, T0 + 2 * c, &retry));
    assert_int_equal(retry, T0 + 2 * c + cost_ns(1024, 1000, 64));

    /* after a long silence the whole burst is there again, no more */
    uint64_t t = T0 + 100 * 1000000ull;
    unsigned passed = 0;
    while (net_rate_take(&r, 128, t, NULL))
        passed++;
    assert_int_equal(passed, 8);

    /* the same with packets that do not divide the burst: 300-byte
     * packets, three fit (900 bytes), a fourth would make it 1200 */
    t += 100 * 1000000ull;
    passed = 0;
    while (net_rate_take(&r, 300, t, NULL))
        passed++;
    assert_int_equal(passed, 3);
}

/* A packet larger than `bytes` still passes, once the link has been
 * silent (it would wait forever otherwise); the link is then busy for the
 * whole of its time. */
static void test_larger_than_burst(void **state)
{
    (void)state;
    struct net_rate r;
    memset(&r, 0, sizeof(r));
    net_rate_set(&r, 1024, 1000);
    const uint64_t big = cost_ns(1024, 1000, 4096); /* 4 ms */
    const uint64_t small = cost_ns(1024, 1000, 128);
    assert_int_equal(big, 4000000);

    /* silent link: passes */
    assert_true(net_rate_take(&r, 4096, T0, NULL));
    /* and occupies it: nothing passes within its 4 ms beyond one period of
     * credit; a small packet waits until the link is one period short of
     * free minus its own time */
    uint64_t retry;
    assert_false(net_rate_take(&r, 128, T0 + 1, &retry));
    assert_int_equal(retry, T0 + big + small - 1000000);
    assert_false(net_rate_take(&r, 128, retry - 1, NULL));
    assert_true(net_rate_take(&r, 128, retry, NULL));

    /* a link not silent (a small packet just went) makes the big one wait
     * until the link is free again */
    uint64_t t = T0 + 100 * 1000000ull;
    assert_true(net_rate_take(&r, 128, t, NULL));
    assert_false(net_rate_take(&r, 4096, t, &retry));
    assert_int_equal(retry, t + small);
    assert_false(net_rate_take(&r, 4096, retry - 1, NULL));
    assert_true(net_rate_take(&r, 4096, retry, NULL));
}

/* The rate may change while the vif runs; the new one applies to the next
 * packet. */
static void test_live_change(void **state)
{
    (void)state;
    struct net_rate r;
    memset(&r, 0, sizeof(r));
    net_rate_set(&r, 1024, 1000);
    unsigned passed = 0;
    while (net_rate_take(&r, 128, T0, NULL))
        passed++;
    assert_int_equal(passed, 8);

    /* lifted: everything passes, whatever the debt */
    net_rate_set(&r, 0, 1000);
    assert_false(net_rate_limited(&r));
    for (unsigned i = 0; i < 100; i++)
        assert_true(net_rate_take(&r, 65535, T0, NULL));

    /* a new limit, after a silence: its own burst (2048 bytes per ms:
     * sixteen 128-byte packets) */
    net_rate_set(&r, 2048, 1000);
    assert_true(net_rate_limited(&r));
    assert_int_equal(atomic_load(&r.bytes), 2048);
    uint64_t t = T0 + 50 * 1000000ull;
    passed = 0;
    while (net_rate_take(&r, 128, t, NULL))
        passed++;
    assert_int_equal(passed, 16);

    /* halving the rate doubles the wait of the next packet */
    uint64_t retry_fast, retry_slow;
    assert_false(net_rate_take(&r, 128, t, &retry_fast));
    assert_int_equal(retry_fast, t + cost_ns(2048, 1000, 128));
    net_rate_set(&r, 1024, 1000);
    /* the debt stays (a full period of link time, taken at the old rate):
     * the packet waits until its new cost fits in the period again */
    assert_false(net_rate_take(&r, 128, t, &retry_slow));
    assert_int_equal(retry_slow, t + cost_ns(1024, 1000, 128));
    assert_int_equal(retry_slow - t, 2 * (retry_fast - t));
    assert_false(net_rate_take(&r, 128, retry_slow - 1, NULL));
    assert_true(net_rate_take(&r, 128, retry_slow, NULL));
}

/* The slowest rate the parser accepts, 1 byte per 2^40 us (12.7 days): a
 * 17-byte packet occupies the link for 17 periods, so a byte 15 periods
 * later must still wait.  The link time of a packet must not overflow on
 * the way (17 * 2^40 us per byte, in ns and per KiB, is above 2^64). */
static void test_slowest_rate(void **state)
{
    (void)state;
    uint64_t b, u;
    assert_int_equal(net_rate_parse("1,1099511627776", &b, &u), 0);
    struct net_rate r;
    memset(&r, 0, sizeof(r));
    net_rate_set(&r, b, u);
    const uint64_t period = u * 1000;
    assert_true(net_rate_take(&r, 17, T0, NULL)); /* a silent link */
    uint64_t retry = 0;
    assert_false(net_rate_take(&r, 1, T0 + 15 * period, &retry));
    assert_true(retry >= T0 + 16 * period);
}

/* ---- four threads, one limit ---- */

#define NTHREADS 4
#define ITERS 50000
#define STEP_NS 100 /* the simulated clock advances this much per attempt */
#define C_BYTES 65536ull
#define C_USECS 1000ull /* 64 KiB per ms: 15625 ns per KiB, exact */

struct shared {
    struct net_rate rate;
    _Atomic uint64_t clock;
    _Atomic uint64_t max_now;
};

struct worker {
    struct shared *sh;
    unsigned seed;
    uint64_t admitted_bytes;
    uint64_t admitted, refused;
};

static void *work(void *arg)
{
    struct worker *w = arg;
    unsigned x = w->seed;
    for (unsigned i = 0; i < ITERS; i++) {
        uint64_t now = atomic_fetch_add(&w->sh->clock, STEP_NS);
        x = x * 1103515245u + 12345u;
        uint32_t len = 60 + (x >> 8) % 1455; /* 60..1514 */
        uint64_t retry = 0;
        if (net_rate_take(&w->sh->rate, len, now, &retry)) {
            w->admitted_bytes += len;
            w->admitted++;
        } else {
            w->refused++;
            if (retry <= now)
                fail_msg("refused at %llu with retry %llu", (unsigned long long)now,
                         (unsigned long long)retry);
        }
    }
    return NULL;
}

static void test_concurrent_bound(void **state)
{
    (void)state;
    struct shared sh;
    memset(&sh, 0, sizeof(sh));
    net_rate_set(&sh.rate, C_BYTES, C_USECS);
    atomic_store(&sh.clock, T0);
    struct worker w[NTHREADS];
    pthread_t th[NTHREADS];
    for (unsigned i = 0; i < NTHREADS; i++) {
        w[i] = (struct worker){ .sh = &sh, .seed = 17 + i * 7919 };
        assert_int_equal(pthread_create(&th[i], NULL, work, &w[i]), 0);
    }
    uint64_t total = 0, admitted = 0, refused = 0;
    for (unsigned i = 0; i < NTHREADS; i++) {
        pthread_join(th[i], NULL);
        total += w[i].admitted_bytes;
        admitted += w[i].admitted;
        refused += w[i].refused;
    }
    /* every now used was below the final clock */
    uint64_t span = atomic_load(&sh.clock) - T0;
    assert_int_equal(span, (uint64_t)NTHREADS * ITERS * STEP_NS);
    uint64_t bound = span * C_BYTES / (C_USECS * 1000) + C_BYTES;
    if (total > bound)
        fail_msg("admitted %llu bytes over %llu ns: more than rate*time + burst = %llu",
                 (unsigned long long)total, (unsigned long long)span,
                 (unsigned long long)bound);
    /* and the limit was no wall: the offered load was ~100x the rate, so
     * the link was kept busy most of the time */
    assert_true(total >= span * C_BYTES / (C_USECS * 1000) / 2);
    assert_int_equal(admitted + refused, (uint64_t)NTHREADS * ITERS);
    assert_int_equal(atomic_load(&sh.rate.throttled), refused);
}

/* A writer changing the rate while four threads take from it: no torn
 * state (TSan watches), and every answer is one of the two rates'. */
struct churn {
    struct net_rate *r;
    atomic_bool stop;
};

static void *churner(void *arg)
{
    struct churn *c = arg;
    for (unsigned i = 0; !atomic_load(&c->stop); i++)
        net_rate_set(c->r, i % 3 == 0 ? 0 : (i % 3 == 1 ? 65536 : 1024), 1000);
    return NULL;
}

static void *taker(void *arg)
{
    struct net_rate *r = arg;
    uint64_t now = T0;
    for (unsigned i = 0; i < 20000; i++, now += 1000) {
        uint64_t retry = 0;
        if (!net_rate_take(r, 1000, now, &retry) && retry <= now)
            fail_msg("refused at %llu, retry %llu", (unsigned long long)now,
                     (unsigned long long)retry);
    }
    return NULL;
}

static void test_concurrent_set(void **state)
{
    (void)state;
    struct net_rate r;
    memset(&r, 0, sizeof(r));
    net_rate_set(&r, 1024, 1000);
    struct churn c = { .r = &r };
    atomic_init(&c.stop, false);
    pthread_t ch, th[NTHREADS];
    assert_int_equal(pthread_create(&ch, NULL, churner, &c), 0);
    for (unsigned i = 0; i < NTHREADS; i++)
        assert_int_equal(pthread_create(&th[i], NULL, taker, &r), 0);
    for (unsigned i = 0; i < NTHREADS; i++)
        pthread_join(th[i], NULL);
    atomic_store(&c.stop, true);
    pthread_join(ch, NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_unlimited),
        cmocka_unit_test(test_burst_then_refused),
        cmocka_unit_test(test_larger_than_burst),
        cmocka_unit_test(test_live_change),
        cmocka_unit_test(test_slowest_rate),
        cmocka_unit_test(test_concurrent_bound),
        cmocka_unit_test(test_concurrent_set),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
