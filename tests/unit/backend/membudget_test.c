/*
 * membudget_test.c - the daemon's memory budget (backend/membudget.c): a
 * reservation that fits is charged to the daemon and its guest, one that
 * does not is refused with the reason and charges nothing (nor touches the
 * other guests); the per-guest cap; release gives every byte back and is
 * idempotent; an unlimited budget refuses nothing; peak and refusal counts;
 * concurrent reserve/release from several threads balance to zero and never
 * exceed the total; and the budget's command-line syntax.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "membudget.h"

#define MiB (1024ull * 1024ull)

static void fits_and_refuses(void **state)
{
    (void)state;
    struct sc_membudget *b = sc_membudget_create(10 * MiB, 0);
    assert_non_null(b);
    struct sc_mem_resv r1 = { 0 }, r2 = { 0 }, r3 = { 0 };
    char why[256] = "";
    assert_int_equal(sc_membudget_reserve(b, 5, 6 * MiB, &r1, why, sizeof(why)), 0);
    assert_ptr_equal(r1.b, b);
    assert_int_equal(r1.bytes, 6 * MiB);
    assert_int_equal(sc_membudget_guest(b, 5, NULL), 6 * MiB);

    /* 5 MiB does not fit in the 4 left: refused, said why, nothing charged */
    assert_int_equal(sc_membudget_reserve(b, 7, 5 * MiB, &r2, why, sizeof(why)), -ENOMEM);
    assert_string_equal(why, "needs 5.0 MiB, the daemon's memory budget has 4.0 MiB left of "
                             "10.0 MiB (sidecored --mem-budget)");
    assert_null(r2.b);
    assert_int_equal(r2.bytes, 0);
    unsigned n = 99;
    assert_int_equal(sc_membudget_guest(b, 7, &n), 0);
    assert_int_equal(n, 0);
    assert_int_equal(sc_membudget_guest(b, 5, &n), 6 * MiB); /* the other guest untouched */
    assert_int_equal(n, 1);

    /* exactly what is left fits */
    assert_int_equal(sc_membudget_reserve(b, 7, 4 * MiB, &r2, why, sizeof(why)), 0);
    assert_int_equal(sc_membudget_reserve(b, 7, 1, &r3, NULL, 0), -ENOMEM);

    struct sc_membudget_stats st;
    sc_membudget_stats(b, &st);
    assert_int_equal(st.total, 10 * MiB);
    assert_int_equal(st.used, 10 * MiB);
    assert_int_equal(st.peak, 10 * MiB);
    assert_int_equal(st.reservations, 2);
    assert_int_equal(st.refused, 2);

    /* the reservation comes back; a second release is a no-op */
    sc_membudget_release(&r1);
    assert_null(r1.b);
    sc_membudget_release(&r1);
    sc_membudget_stats(b, &st);
    assert_int_equal(st.used, 4 * MiB);
    assert_int_equal(st.peak, 10 * MiB);
    assert_int_equal(sc_membudget_guest(b, 5, &n), 0);
    assert_int_equal(n, 0);
    assert_int_equal(sc_membudget_reserve(b, 9, 6 * MiB, &r1, why, sizeof(why)), 0);
    sc_membudget_release(&r1);
    sc_membudget_release(&r2);
    sc_membudget_release(&r3); /* never held anything */
    sc_membudget_stats(b, &st);
    assert_int_equal(st.used, 0);
    assert_int_equal(st.reservations, 0);
    sc_membudget_destroy(b);
}

static void guest_cap(void **state)
{
    (void)state;
    struct sc_membudget *b = sc_membudget_create(0, 3 * MiB); /* unlimited in all */
    assert_non_null(b);
    struct sc_mem_resv r[4] = { { 0 } };
    char why[256];
    assert_int_equal(sc_membudget_reserve(b, 1, 2 * MiB, &r[0], why, sizeof(why)), 0);
    assert_int_equal(sc_membudget_reserve(b, 1, 2 * MiB, &r[1], why, sizeof(why)), -ENOMEM);
    assert_string_equal(why, "needs 2.0 MiB, guest 1 has 1.0 MiB left of its 3.0 MiB "
                             "(sidecored --guest-mem-max)");
    /* another guest has a cap of its own */
    assert_int_equal(sc_membudget_reserve(b, 2, 3 * MiB, &r[2], why, sizeof(why)), 0);
    assert_int_equal(sc_membudget_reserve(b, 1, 1 * MiB, &r[3], why, sizeof(why)), 0);
    unsigned n;
    assert_int_equal(sc_membudget_guest(b, 1, &n), 3 * MiB);
    assert_int_equal(n, 2);
    for (int i = 0; i < 4; i++)
        sc_membudget_release(&r[i]);
    assert_int_equal(sc_membudget_guest(b, 1, NULL), 0);
    sc_membudget_destroy(b);
}

static void unlimited_and_rejects(void **state)
{
    (void)state;
    struct sc_membudget *b = sc_membudget_create(0, 0);
    assert_non_null(b);
    struct sc_mem_resv r = { 0 };
    assert_int_equal(sc_membudget_reserve(b, 1, UINT64_MAX / 2, &r, NULL, 0), 0);
    /* a held reservation is not overwritten */
    assert_int_equal(sc_membudget_reserve(b, 1, 1, &r, NULL, 0), -EINVAL);
    assert_int_equal(sc_membudget_reserve(NULL, 1, 1, &r, NULL, 0), -EINVAL);
    assert_int_equal(sc_membudget_reserve(b, 1, 1, NULL, NULL, 0), -EINVAL);
    sc_membudget_release(&r);
    sc_membudget_release(NULL);
    struct sc_membudget_stats st;
    sc_membudget_stats(b, &st);
    assert_int_equal(st.total, 0);
    assert_int_equal(st.used, 0);
    assert_int_equal(st.refused, 0);
    sc_membudget_destroy(b);
    sc_membudget_destroy(NULL);
}

static void many_guests(void **state)
{
    (void)state;
    enum { N = 300 };
    struct sc_membudget *b = sc_membudget_create(N * MiB, 0);
    static struct sc_mem_resv r[N];
    memset(r, 0, sizeof(r));
    for (unsigned i = 0; i < N; i++)
        assert_int_equal(sc_membudget_reserve(b, (domid_t)(i + 1), MiB, &r[i], NULL, 0), 0);
    for (unsigned i = 0; i < N; i += 2)
        sc_membudget_release(&r[i]);
    for (unsigned i = 0; i < N; i++)
        assert_int_equal(sc_membudget_guest(b, (domid_t)(i + 1), NULL), i % 2 ? MiB : 0);
    for (unsigned i = 1; i < N; i += 2)
        sc_membudget_release(&r[i]);
    struct sc_membudget_stats st;
    sc_membudget_stats(b, &st);
    assert_int_equal(st.used, 0);
    sc_membudget_destroy(b);
}

/* ---- threads ---- */

#define THREADS 4
#define ROUNDS  20000
#define TOTAL   (10ull * 4096ull)

struct worker {
    struct sc_membudget *b;
    domid_t domid;
    unsigned granted, refused;
    atomic_bool *over;
};

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct sc_mem_resv held[3] = { { 0 } };
    for (unsigned i = 0; i < ROUNDS; i++) {
        struct sc_mem_resv *r = &held[i % 3];
        if (r->b) {
            sc_membudget_release(r);
            continue;
        }
        int rc = sc_membudget_reserve(w->b, w->domid, 4096 * (1 + i % 3), r, NULL, 0);
        if (rc == 0)
            w->granted++;
        else if (rc == -ENOMEM)
            w->refused++;
        struct sc_membudget_stats st;
        sc_membudget_stats(w->b, &st);
        if (st.used > TOTAL)
            atomic_store(w->over, true);
    }
    for (int i = 0; i < 3; i++)
        sc_membudget_release(&held[i]);
    return NULL;
}

static void threads_balance(void **state)
{
    (void)state;
    struct sc_membudget *b = sc_membudget_create(TOTAL, 0);
    atomic_bool over = false;
    struct worker w[THREADS];
    pthread_t t[THREADS];
    for (unsigned i = 0; i < THREADS; i++) {
        w[i] = (struct worker){ .b = b, .domid = (domid_t)(1 + i % 2), .over = &over };
        assert_int_equal(pthread_create(&t[i], NULL, worker_main, &w[i]), 0);
    }
    unsigned refused = 0;
    for (unsigned i = 0; i < THREADS; i++) {
        pthread_join(t[i], NULL);
        refused += w[i].refused;
    }
    struct sc_membudget_stats st;
    sc_membudget_stats(b, &st);
    assert_false(atomic_load(&over));
    assert_int_equal(st.used, 0);
    assert_int_equal(st.reservations, 0);
    assert_true(st.peak <= TOTAL);
    assert_int_equal(st.refused, refused);
    assert_int_equal(sc_membudget_guest(b, 1, NULL), 0);
    assert_int_equal(sc_membudget_guest(b, 2, NULL), 0);
    sc_membudget_destroy(b);
}

/* ---- syntax ---- */

static void parse_sizes(void **state)
{
    (void)state;
    uint64_t v = 1;
    unsigned pct = 1;
    assert_int_equal(sc_membudget_parse("512M", &v, &pct), 0);
    assert_int_equal(v, 512 * MiB);
    assert_int_equal(pct, 0);
    assert_int_equal(sc_membudget_parse("2G", &v, &pct), 0);
    assert_int_equal(v, 2048 * MiB);
    assert_int_equal(sc_membudget_parse("2GiB", &v, &pct), 0);
    assert_int_equal(v, 2048 * MiB);
    assert_int_equal(sc_membudget_parse("64k", &v, &pct), 0);
    assert_int_equal(v, 65536);
    assert_int_equal(sc_membudget_parse("1T", &v, &pct), 0);
    assert_int_equal(v, 1024 * 1024 * MiB);
    assert_int_equal(sc_membudget_parse("1048576", &v, &pct), 0);
    assert_int_equal(v, MiB);
    assert_int_equal(sc_membudget_parse("25%", &v, &pct), 0);
    assert_int_equal(v, 0);
    assert_int_equal(pct, 25);
    assert_int_equal(sc_membudget_parse("unlimited", &v, &pct), 0);
    assert_int_equal(v, 0);
    assert_int_equal(pct, 0);
    assert_int_equal(sc_membudget_parse("0", &v, &pct), 0);
    assert_int_equal(v, 0);
    v = 7;
    pct = 7;
    const char *bad[] = { "", "M", "-1", "1.5G", "12X", "12MM", "0%", "101%", "5%%", " 1M",
                          "99999999999999999999", "17179869184G", "1Gb" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(sc_membudget_parse(bad[i], &v, &pct), -EINVAL);
        assert_int_equal(v, 7); /* untouched */
        assert_int_equal(pct, 7);
    }
    /* a share only where one is meant */
    assert_int_equal(sc_membudget_parse("25%", &v, NULL), -EINVAL);
}

static void formats(void **state)
{
    (void)state;
    char buf[32];
    sc_membudget_fmt(100, buf, sizeof(buf));
    assert_string_equal(buf, "100 B");
    sc_membudget_fmt(4096, buf, sizeof(buf));
    assert_string_equal(buf, "4.0 KiB");
    sc_membudget_fmt(22334668, buf, sizeof(buf));
    assert_string_equal(buf, "21.3 MiB");
    sc_membudget_fmt(512 * MiB, buf, sizeof(buf));
    assert_string_equal(buf, "512.0 MiB");
    sc_membudget_fmt(3 * 1024 * MiB, buf, sizeof(buf));
    assert_string_equal(buf, "3.0 GiB");
    uint64_t host = 0;
    assert_int_equal(sc_membudget_of_host(25, &host), 0);
    assert_true(host > 0);
    uint64_t all = 0;
    assert_int_equal(sc_membudget_of_host(100, &all), 0);
    assert_true(host <= all / 4 + 1 && host + 100 >= all / 4);
    assert_int_equal(sc_membudget_of_host(0, &host), -EINVAL);
    assert_int_equal(sc_membudget_of_host(101, &host), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fits_and_refuses),
        cmocka_unit_test(guest_cap),
        cmocka_unit_test(unlimited_and_rejects),
        cmocka_unit_test(many_guests),
        cmocka_unit_test(threads_balance),
        cmocka_unit_test(parse_sizes),
        cmocka_unit_test(formats),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
