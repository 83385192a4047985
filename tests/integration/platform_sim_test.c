/*
 * platform_sim_test.c - the platform layer (backend/xen.h) on xensim.
 *
 * One process acts as two domains: the guest through xsim_guest_* (grants
 * pages, allocates event channels, writes xenstore) and the backend in
 * dom0 through sc_* only, exactly what sidecored will use.
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h> /* before simworld.h, which needs it for xen/xen.h */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "grant_fixture.h"
#include "xen.h"
#include "xensim.h"
#include "xensim_guest.h"

#define PG XSIM_PAGE_SIZE

static bool readable(int fd, int timeout_ms)
{
    struct pollfd p = { .fd = fd, .events = POLLIN };
    return poll(&p, 1, timeout_ms) == 1 && (p.revents & POLLIN);
}

/* The platform as the guest: $XENSIM_DOMID picks the domain. */
static struct sc_xen *open_as_guest(void)
{
    char id[8];
    snprintf(id, sizeof(id), "%u", gfx.guest_id);
    setenv("XENSIM_DOMID", id, 1);
    struct sc_xen *as_guest = sc_xen_open(SC_XEN_SIM);
    unsetenv("XENSIM_DOMID");
    assert_non_null(as_guest);
    return as_guest;
}

static void open_sim_as_dom0(void **state)
{
    (void)state;
    assert_string_equal(sc_xen_platform_name(gfx.xen), "xensim");
    assert_int_equal(sc_xen_domid(gfx.xen), 0);

    struct sc_xen *a = sc_xen_open(SC_XEN_AUTO); /* XENSIM_DIR is set */
    assert_non_null(a);
    assert_string_equal(sc_xen_platform_name(a), "xensim");
    sc_xen_close(a);

    struct sc_xen *as_guest = open_as_guest();
    assert_int_equal(sc_xen_domid(as_guest), gfx.guest_id);
    sc_xen_close(as_guest);
}

static void map_batch_sees_guest_data_and_writes_back(void **state)
{
    (void)state;
    grant_ref_t refs[4];
    uint8_t *gp = gfx_grant_pages(4, 0x10, false, refs);
    assert_int_equal(sc_gnt_set_max_grants(gfx.xen, 1024), 0);

    uint8_t *bp = sc_gnt_map_batch(gfx.xen, gfx.guest_id, 4, refs, true);
    assert_non_null(bp);
    for (uint32_t i = 0; i < 4; i++) {
        assert_int_equal(bp[i * PG], 0x10 + i);
        assert_int_equal(bp[i * PG + PG - 1], 0x10 + i);
        bp[i * PG + 7] = (uint8_t)(0xa0 + i); /* backend writes, guest sees */
    }
    for (uint32_t i = 0; i < 4; i++)
        assert_int_equal(gp[i * PG + 7], 0xa0 + i);

    /* While mapped the guest cannot take the page back. */
    assert_int_equal(xsim_guest_end_access(gfx.guest, refs[2]), -EBUSY);
    assert_int_equal(sc_gnt_unmap(gfx.xen, bp, 4), 0);
    gfx_end_pages(gp, 4, refs);
}

static void map_batch_is_all_or_nothing(void **state)
{
    (void)state;
    grant_ref_t refs[4];
    uint8_t *gp = gfx_grant_pages(3, 0x20, false, refs);

    /* The fourth ref was granted to another domain, not to us. */
    uint64_t gfn;
    uint8_t *other = xsim_guest_pages_alloc(gfx.guest, 1, &gfn);
    assert_non_null(other);
    int ref = xsim_guest_grant(gfx.guest, 7, gfn, false);
    assert_true(ref >= 0);
    refs[3] = (grant_ref_t)ref;

    errno = 0;
    assert_null(sc_gnt_map_batch(gfx.xen, gfx.guest_id, 4, refs, true));
    assert_true(errno != 0);
    /* Nothing stayed mapped: the guest can end access to the good ones. */
    gfx_end_pages(gp, 3, refs);
    assert_int_equal(xsim_guest_end_access(gfx.guest, refs[3]), 0);
    xsim_guest_pages_free(gfx.guest, other, 1);

    grant_ref_t beyond = XSIM_NR_GRANTS + 5;
    assert_null(sc_gnt_map_batch(gfx.xen, gfx.guest_id, 1, &beyond, false));
    assert_null(sc_gnt_map_batch(gfx.xen, gfx.guest_id, 0, refs, false));
    assert_int_equal(errno, EINVAL);
}

static void map_respects_read_only_grants(void **state)
{
    (void)state;
    grant_ref_t ref;
    uint8_t *gp = gfx_grant_pages(1, 0x33, true, &ref);

    assert_null(sc_gnt_map_batch(gfx.xen, gfx.guest_id, 1, &ref, true));
    uint8_t *bp = sc_gnt_map_batch(gfx.xen, gfx.guest_id, 1, &ref, false);
    assert_non_null(bp);
    assert_int_equal(bp[100], 0x33);
    assert_int_equal(sc_gnt_unmap(gfx.xen, bp, 1), 0);
    gfx_end_pages(gp, 1, &ref);
}

static void copy_both_ways_bad_segment_fails_alone(void **state)
{
    (void)state;
    grant_ref_t refs[2], ro;
    uint8_t *gp = gfx_grant_pages(2, 0x40, false, refs); /* page 0: 0x40.., page 1: 0x41.. */
    uint8_t *gro = gfx_grant_pages(1, 0x50, true, &ro);
    static uint8_t from_guest[PG], to_guest[PG], untouched[PG], part[64], to_ro[PG];
    memset(to_guest, 0x77, PG);
    memset(untouched, 0xee, PG);
    memset(part, 0, sizeof(part));
    memset(to_ro, 0x99, PG);

    xengnttab_grant_copy_segment_t s[5];
    memset(s, 0, sizeof(s));
    s[0].flags = GNTCOPY_source_gref; /* guest page 0 -> local */
    s[0].source.foreign.ref = refs[0];
    s[0].source.foreign.domid = gfx.guest_id;
    s[0].dest.virt = from_guest;
    s[0].len = PG;
    s[1].flags = GNTCOPY_dest_gref; /* local -> guest page 1 */
    s[1].source.virt = to_guest;
    s[1].dest.foreign.ref = refs[1];
    s[1].dest.foreign.domid = gfx.guest_id;
    s[1].len = PG;
    s[2].flags = GNTCOPY_source_gref; /* a ref never granted */
    s[2].source.foreign.ref = XSIM_NR_GRANTS - 1;
    s[2].source.foreign.domid = gfx.guest_id;
    s[2].dest.virt = untouched;
    s[2].len = PG;
    s[3].flags = GNTCOPY_source_gref; /* part of a page, at an offset */
    s[3].source.foreign.ref = refs[0];
    s[3].source.foreign.domid = gfx.guest_id;
    s[3].source.foreign.offset = 100;
    s[3].dest.virt = part + 8;
    s[3].len = 50;
    s[4].flags = GNTCOPY_dest_gref; /* writing a read-only grant */
    s[4].source.virt = to_ro;
    s[4].dest.foreign.ref = ro;
    s[4].dest.foreign.domid = gfx.guest_id;
    s[4].len = PG;

    assert_int_equal(sc_gnt_copy_batch(gfx.xen, 5, s), 0);
    assert_int_equal(s[0].status, GNTST_okay);
    assert_int_equal(s[1].status, GNTST_okay);
    assert_int_not_equal(s[2].status, GNTST_okay);
    assert_int_equal(s[3].status, GNTST_okay);
    assert_int_not_equal(s[4].status, GNTST_okay);

    for (uint32_t i = 0; i < PG; i++) {
        assert_int_equal(from_guest[i], 0x40);
        assert_int_equal(gp[PG + i], 0x77);
        assert_int_equal(untouched[i], 0xee);
        assert_int_equal(gro[i], 0x50);
    }
    for (uint32_t i = 0; i < sizeof(part); i++)
        assert_int_equal(part[i], i >= 8 && i < 58 ? 0x40 : 0);

    gfx_end_pages(gp, 2, refs);
    gfx_end_pages(gro, 1, &ro);
}

/* Pollers map and copy concurrently through the one platform handle. */
#define NTHREADS 4
struct poller_arg {
    const grant_ref_t *refs;
    int failures;
};

static void *poller(void *argp)
{
    struct poller_arg *a = argp;
    static __thread uint8_t buf[PG];
    for (int i = 0; i < 200; i++) {
        uint8_t *p = sc_gnt_map_batch(gfx.xen, gfx.guest_id, 4, a->refs, false);
        if (!p || p[PG * 3] != 0x63) {
            a->failures++;
            continue;
        }
        if (sc_gnt_unmap(gfx.xen, p, 4) < 0)
            a->failures++;
        xengnttab_grant_copy_segment_t seg = {
            .flags = GNTCOPY_source_gref,
            .source.foreign = { .ref = a->refs[1], .domid = gfx.guest_id },
            .dest.virt = buf,
            .len = PG,
        };
        if (sc_gnt_copy_batch(gfx.xen, 1, &seg) < 0 || seg.status != GNTST_okay || buf[9] != 0x61)
            a->failures++;
    }
    return NULL;
}

static void grants_from_many_threads(void **state)
{
    (void)state;
    grant_ref_t refs[4];
    uint8_t *gp = gfx_grant_pages(4, 0x60, false, refs);
    pthread_t t[NTHREADS];
    struct poller_arg args[NTHREADS];
    for (int i = 0; i < NTHREADS; i++) {
        args[i] = (struct poller_arg){ .refs = refs };
        assert_int_equal(pthread_create(&t[i], NULL, poller, &args[i]), 0);
    }
    for (int i = 0; i < NTHREADS; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(args[i].failures, 0);
    }
    gfx_end_pages(gp, 4, refs);
}

static void evtchn_kicks_both_ways(void **state)
{
    (void)state;
    struct xsim_evtchn *gh = xsim_evtchn_open(xsim_guest_xsim(gfx.guest));
    assert_non_null(gh);
    int gport = xsim_evtchn_alloc_unbound(gh, 0);
    assert_true(gport >= 0);

    struct sc_evtchn *h = sc_evtchn_open(gfx.xen);
    assert_non_null(h);
    int fd = sc_evtchn_fd(h);
    assert_true(fd >= 0);
    int lport = sc_evtchn_bind_interdomain(h, gfx.guest_id, (evtchn_port_t)gport);
    assert_true(lport >= 0);

    /* Nothing pending: pending() says so without blocking. */
    assert_false(readable(fd, 0));
    assert_int_equal(sc_evtchn_pending(h), -EAGAIN);

    /* guest -> backend */
    assert_int_equal(xsim_evtchn_notify(gh, (evtchn_port_t)gport), 0);
    assert_true(readable(fd, 2000));
    assert_int_equal(sc_evtchn_pending(h), lport);
    assert_int_equal(sc_evtchn_pending(h), -EAGAIN);

    /* A kick while masked waits for the unmask, then arrives. */
    assert_int_equal(xsim_evtchn_notify(gh, (evtchn_port_t)gport), 0);
    assert_false(readable(fd, 100));
    assert_int_equal(sc_evtchn_pending(h), -EAGAIN);
    assert_int_equal(sc_evtchn_unmask(h, (evtchn_port_t)lport), 0);
    assert_true(readable(fd, 2000));
    assert_int_equal(sc_evtchn_pending(h), lport);
    assert_int_equal(sc_evtchn_unmask(h, (evtchn_port_t)lport), 0);
    assert_false(readable(fd, 50));

    /* backend -> guest */
    int gfd = xsim_evtchn_fd(gh);
    assert_false(readable(gfd, 0));
    assert_int_equal(sc_evtchn_notify(h, (evtchn_port_t)lport), 0);
    assert_true(readable(gfd, 2000));
    assert_int_equal(xsim_evtchn_pending(gh), gport);
    assert_int_equal(xsim_evtchn_unmask(gh, (evtchn_port_t)gport), 0);

    /* Unbound: the guest's kick goes nowhere, and the port is gone. */
    assert_int_equal(sc_evtchn_unbind(h, (evtchn_port_t)lport), 0);
    assert_int_equal(xsim_evtchn_notify(gh, (evtchn_port_t)gport), 0);
    assert_false(readable(fd, 100));
    assert_int_equal(sc_evtchn_pending(h), -EAGAIN);
    assert_true(sc_evtchn_unbind(h, (evtchn_port_t)lport) < 0);
    assert_true(sc_evtchn_bind_interdomain(h, gfx.guest_id, XSIM_NR_PORTS + 1) < 0);

    sc_evtchn_close(h);
    xsim_evtchn_close(gh);
}

static void xs_open_acts_as_our_domain(void **state)
{
    (void)state;
    struct sc_xen *as_guest = open_as_guest();

    setenv("XENSTORED_PATH", "/sentinel", 1);
    struct xs_handle *gxs = sc_xs_open(as_guest);
    struct xs_handle *bxs = sc_xs_open(gfx.xen);
    assert_string_equal(getenv("XENSTORED_PATH"), "/sentinel"); /* put back */
    unsetenv("XENSTORED_PATH");
    assert_non_null(gxs);
    assert_non_null(bxs);

    assert_int_equal(sc_xs_write_str(gxs, XBT_NULL, "hello", "platform-test/%s", "key"), 0);
    char *v = sc_xs_read_str(bxs, XBT_NULL, "/local/domain/%u/platform-test/key", gfx.guest_id);
    assert_non_null(v);
    assert_string_equal(v, "hello");
    free(v);
    /* The backend's relative path is its own home, where no such key is. */
    errno = 0;
    assert_null(sc_xs_read_str(bxs, XBT_NULL, "platform-test/key"));
    assert_int_equal(errno, ENOENT);
    assert_int_equal(sc_xs_write_str(bxs, XBT_NULL, "mine", "platform-test/key"), 0);
    v = sc_xs_read_str(bxs, XBT_NULL, "/local/domain/0/platform-test/key");
    assert_non_null(v);
    assert_string_equal(v, "mine");
    free(v);

    xs_close(gxs);
    xs_close(bxs);
    sc_xen_close(as_guest);
}

static void xs_helpers_reject_malformed_integers(void **state)
{
    (void)state;
    struct xs_handle *xs = sc_xs_open(gfx.xen);
    assert_non_null(xs);
    static const char *bad[] = { "12abc", "", "-1", "18446744073709551616", "4294967296",
                                 " 5", "5\n", "0x10", "+5" };
    unsigned long long u = 4242;
    long long s;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(sc_xs_write_str(xs, XBT_NULL, bad[i], "helpers/bad%zu", i), 0);
        assert_int_equal(sc_xs_read_uint(xs, XBT_NULL, UINT32_MAX, &u, "helpers/bad%zu", i),
                         -EINVAL);
        assert_true(u == 4242);
    }
    /* A NUL inside the value is not a number either. */
    assert_true(xs_write(xs, XBT_NULL, "helpers/nul", "4\0002", 3));
    assert_int_equal(sc_xs_read_uint(xs, XBT_NULL, UINT32_MAX, &u, "helpers/nul"), -EINVAL);
    errno = 0;
    assert_null(sc_xs_read_str(xs, XBT_NULL, "helpers/nul"));
    assert_int_equal(errno, EINVAL);

    assert_int_equal(sc_xs_read_uint(xs, XBT_NULL, UINT32_MAX, &u, "helpers/missing"),
                     -ENOENT);
    assert_int_equal(sc_xs_write_uint(xs, XBT_NULL, 4294967295ull, "helpers/%s", "max32"), 0);
    assert_int_equal(sc_xs_read_uint(xs, XBT_NULL, UINT32_MAX, &u, "helpers/max32"), 0);
    assert_true(u == 4294967295ull);
    assert_int_equal(sc_xs_read_uint(xs, XBT_NULL, UINT16_MAX, &u, "helpers/max32"), -EINVAL);

    assert_int_equal(sc_xs_read_int(xs, XBT_NULL, -5, 5, &s, "helpers/bad2"), 0); /* "-1" */
    assert_int_equal(s, -1);
    assert_int_equal(sc_xs_read_int(xs, XBT_NULL, 0, 5, &s, "helpers/bad2"), -EINVAL);
    assert_int_equal(sc_xs_read_int(xs, XBT_NULL, LLONG_MIN, LLONG_MAX, &s, "helpers/bad0"),
                     -EINVAL);
    xs_close(xs);
}

struct txn_probe {
    int calls;
    int conflict_until; /* calls up to this one see a concurrent write */
    int fail_with;      /* abort with this on the first call, if non-zero */
    struct xs_handle *other;
};

static int txn_body(struct xs_handle *xs, xs_transaction_t t, void *arg)
{
    struct txn_probe *p = arg;
    unsigned long long cur = 0;
    p->calls++;
    int rc = sc_xs_read_uint(xs, t, UINT32_MAX, &cur, "txn/counter");
    if (rc < 0 && rc != -ENOENT)
        return rc;
    if (p->calls <= p->conflict_until) /* someone else writes meanwhile */
        assert_int_equal(sc_xs_write_uint(p->other, XBT_NULL, 1000u + (unsigned)p->calls,
                                          "txn/counter"), 0);
    rc = sc_xs_write_uint(xs, t, cur + 1, "txn/counter");
    if (rc < 0)
        return rc;
    return p->fail_with ? p->fail_with : p->calls;
}

static void transact_retries_on_conflict(void **state)
{
    (void)state;
    struct xs_handle *xs = sc_xs_open(gfx.xen);
    struct xs_handle *other = sc_xs_open(gfx.xen);
    assert_non_null(xs);
    assert_non_null(other);
    unsigned long long v;

    assert_int_equal(sc_xs_write_uint(xs, XBT_NULL, 5, "txn/counter"), 0);
    struct txn_probe clean = { .other = other };
    assert_int_equal(sc_xs_transact(xs, txn_body, &clean), 1);
    assert_int_equal(sc_xs_read_uint(xs, XBT_NULL, UINT32_MAX, &v, "txn/counter"), 0);
    assert_true(v == 6);

    /* One conflicting write: the body runs again on the new value. */
    struct txn_probe once = { .conflict_until = 1, .other = other };
    assert_int_equal(sc_xs_transact(xs, txn_body, &once), 2);
    assert_int_equal(sc_xs_read_uint(xs, XBT_NULL, UINT32_MAX, &v, "txn/counter"), 0);
    assert_true(v == 1002);

    /* Always conflicting: bounded, then -EAGAIN. */
    struct txn_probe always = { .conflict_until = INT_MAX, .other = other };
    assert_int_equal(sc_xs_transact(xs, txn_body, &always), -EAGAIN);
    assert_int_equal(always.calls, SC_XS_TXN_TRIES);

    /* The body's error aborts: its write is not seen. */
    assert_int_equal(sc_xs_write_uint(xs, XBT_NULL, 7, "txn/counter"), 0);
    struct txn_probe fails = { .fail_with = -EPERM, .other = other };
    assert_int_equal(sc_xs_transact(xs, txn_body, &fails), -EPERM);
    assert_int_equal(fails.calls, 1);
    assert_int_equal(sc_xs_read_uint(xs, XBT_NULL, UINT32_MAX, &v, "txn/counter"), 0);
    assert_true(v == 7);

    xs_close(other);
    xs_close(xs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(open_sim_as_dom0),
        cmocka_unit_test(map_batch_sees_guest_data_and_writes_back),
        cmocka_unit_test(map_batch_is_all_or_nothing),
        cmocka_unit_test(map_respects_read_only_grants),
        cmocka_unit_test(copy_both_ways_bad_segment_fails_alone),
        cmocka_unit_test(grants_from_many_threads),
        cmocka_unit_test(evtchn_kicks_both_ways),
        cmocka_unit_test(xs_open_acts_as_our_domain),
        cmocka_unit_test(xs_helpers_reject_malformed_integers),
        cmocka_unit_test(transact_retries_on_conflict),
    };
    return cmocka_run_group_tests(tests, grant_fixture_setup, grant_fixture_teardown);
}
