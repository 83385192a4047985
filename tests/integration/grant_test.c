/*
 * grant_test.c - xensim grant tables: map and copy succeed only as Xen
 * allows (granted, to us, writable only if not read-only, not revoked),
 * end_access waits for unmap, batches report per-ref status, a dead mapper's
 * pins are released (also when it died holding an entry's lock), and a
 * destroyed domain's grants fail GNTST_bad_domain.
 * Dom0 plays the backend; guests A and B grant pages to it.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "simworld.h"
#include "xensim.h"
#include "xensim_guest.h"
#include "xsim_internal.h"

struct world {
    struct simworld w;
    struct xsim *dom0;
    domid_t a, b;
    struct xsim_guest *ga, *gb;
};

static int setup(void **state)
{
    struct world *t = calloc(1, sizeof(*t));
    if (!t || simworld_start(&t->w))
        return -1;
    t->dom0 = xsim_open(t->w.dir, 0);
    int a = t->dom0 ? xsim_domain_create(t->dom0, "guest-a", 8) : -1;
    int b = t->dom0 ? xsim_domain_create(t->dom0, "guest-b", 8) : -1;
    if (a <= 0 || b <= 0)
        return -1;
    t->a = (domid_t)a;
    t->b = (domid_t)b;
    t->ga = xsim_guest_open(t->w.dir, t->a);
    t->gb = xsim_guest_open(t->w.dir, t->b);
    if (!t->ga || !t->gb)
        return -1;
    *state = t;
    return 0;
}

static int teardown(void **state)
{
    struct world *t = *state;
    xsim_guest_close(t->ga);
    xsim_guest_close(t->gb);
    xsim_close(t->dom0);
    simworld_stop(&t->w);
    free(t);
    return 0;
}

/* A fresh page of guest g filled with `byte`, granted to `to`. */
static int grant_page(struct xsim_guest *g, domid_t to, bool ro, uint8_t byte, uint8_t **page)
{
    uint64_t gfn;
    *page = xsim_guest_pages_alloc(g, 1, &gfn);
    assert_non_null(*page);
    memset(*page, byte, XSIM_PAGE_SIZE);
    int ref = xsim_guest_grant(g, to, gfn, ro);
    assert_true(ref >= 8);
    return ref;
}

static void test_map_shares_memory(void **state)
{
    struct world *t = *state;
    uint8_t *page;
    grant_ref_t ref = (grant_ref_t)grant_page(t->ga, 0, false, 0x5a, &page);
    int16_t st = -99;
    uint8_t *map = xsim_grant_map(t->dom0, t->a, 1, &ref, true, &st);
    assert_non_null(map);
    assert_int_equal(st, GNTST_okay);
    assert_int_equal(map[0], 0x5a);
    assert_int_equal(map[XSIM_PAGE_SIZE - 1], 0x5a);
    map[17] = 0xc3;                     /* backend writes, guest sees */
    assert_int_equal(page[17], 0xc3);
    page[100] = 0x7e;                   /* guest writes, backend sees */
    assert_int_equal(map[100], 0x7e);
    assert_int_equal(xsim_grant_unmap(t->dom0, map, 1), 0);
    assert_int_equal(xsim_guest_end_access(t->ga, ref), 0);
    xsim_guest_pages_free(t->ga, page, 1);
}

static void test_contiguous_multi_page_map(void **state)
{
    struct world *t = *state;
    uint8_t *pages[4];
    grant_ref_t refs[4];
    for (int i = 0; i < 4; i++)
        refs[i] = (grant_ref_t)grant_page(t->ga, 0, true, (uint8_t)(0x10 + i), &pages[i]);
    int16_t st[4];
    uint8_t *map = xsim_grant_map(t->dom0, t->a, 4, refs, false, st);
    assert_non_null(map);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(st[i], GNTST_okay);
        assert_int_equal(map[i * XSIM_PAGE_SIZE + 5], 0x10 + i);
    }
    assert_int_equal(xsim_grant_unmap(t->dom0, map, 3), -EINVAL); /* count must match */
    assert_int_equal(xsim_grant_unmap(t->dom0, map, 4), 0);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(xsim_guest_end_access(t->ga, refs[i]), 0);
        xsim_guest_pages_free(t->ga, pages[i], 1);
    }
}

static void test_not_granted_fails(void **state)
{
    struct world *t = *state;
    grant_ref_t ref = 5000;            /* never granted: flags 0 */
    int16_t st = GNTST_okay;
    errno = 0;
    assert_null(xsim_grant_map(t->dom0, t->a, 1, &ref, false, &st));
    assert_int_equal(st, GNTST_general_error);
    assert_int_not_equal(errno, 0);

    uint8_t buf[64];
    xengnttab_grant_copy_segment_t seg = {
        .source.foreign = { .ref = ref, .offset = 0, .domid = t->a },
        .dest.virt = buf,
        .len = sizeof(buf),
        .flags = GNTCOPY_source_gref,
    };
    assert_int_equal(xsim_grant_copy(t->dom0, 1, &seg), 0);
    assert_int_equal(seg.status, GNTST_general_error);

    grant_ref_t beyond = XSIM_NR_GRANTS;
    assert_null(xsim_grant_map(t->dom0, t->a, 1, &beyond, false, &st));
    assert_int_equal(st, GNTST_bad_gntref);
}

static void test_readonly_grant(void **state)
{
    struct world *t = *state;
    uint8_t *page;
    grant_ref_t ref = (grant_ref_t)grant_page(t->ga, 0, true, 0x33, &page);
    int16_t st = -99;

    assert_null(xsim_grant_map(t->dom0, t->a, 1, &ref, true, &st));
    assert_int_equal(st, GNTST_general_error);

    uint8_t *map = xsim_grant_map(t->dom0, t->a, 1, &ref, false, &st);
    assert_non_null(map);
    assert_int_equal(st, GNTST_okay);
    assert_int_equal(map[9], 0x33);

    uint8_t buf[32];
    memset(buf, 0xee, sizeof(buf));
    xengnttab_grant_copy_segment_t segs[2] = {
        { .source.virt = buf, .dest.foreign = { .ref = ref, .offset = 0, .domid = t->a },
          .len = sizeof(buf), .flags = GNTCOPY_dest_gref },
        { .source.foreign = { .ref = ref, .offset = 8, .domid = t->a }, .dest.virt = buf,
          .len = 8, .flags = GNTCOPY_source_gref },
    };
    assert_int_equal(xsim_grant_copy(t->dom0, 2, segs), 0);
    assert_int_equal(segs[0].status, GNTST_general_error); /* copy into r/o grant */
    assert_int_equal(page[0], 0x33);                       /* untouched */
    assert_int_equal(segs[1].status, GNTST_okay);          /* copy out of it */
    assert_int_equal(buf[0], 0x33);

    assert_int_equal(xsim_grant_unmap(t->dom0, map, 1), 0);
    assert_int_equal(xsim_guest_end_access(t->ga, ref), 0);
    xsim_guest_pages_free(t->ga, page, 1);
}

static void test_grant_to_other_domain_fails(void **state)
{
    struct world *t = *state;
    uint8_t *page;
    grant_ref_t ref = (grant_ref_t)grant_page(t->ga, t->b, false, 0x44, &page);
    int16_t st = -99;
    assert_null(xsim_grant_map(t->dom0, t->a, 1, &ref, false, &st));
    assert_int_equal(st, GNTST_general_error);
    uint8_t buf[16];
    xengnttab_grant_copy_segment_t seg = {
        .source.foreign = { .ref = ref, .domid = t->a }, .dest.virt = buf,
        .len = sizeof(buf), .flags = GNTCOPY_source_gref,
    };
    assert_int_equal(xsim_grant_copy(t->dom0, 1, &seg), 0);
    assert_int_equal(seg.status, GNTST_general_error);

    /* The domain it was granted to can map it. */
    struct xsim *xb = xsim_guest_xsim(t->gb);
    uint8_t *map = xsim_grant_map(xb, t->a, 1, &ref, true, &st);
    assert_non_null(map);
    assert_int_equal(map[1], 0x44);
    assert_int_equal(xsim_grant_unmap(xb, map, 1), 0);
    assert_int_equal(xsim_guest_end_access(t->ga, ref), 0);
    xsim_guest_pages_free(t->ga, page, 1);
}

static void test_revoked_grant_fails(void **state)
{
    struct world *t = *state;
    uint8_t *page;
    grant_ref_t ref = (grant_ref_t)grant_page(t->ga, 0, false, 0x55, &page);
    assert_int_equal(xsim_guest_end_access(t->ga, ref), 0);
    int16_t st = -99;
    assert_null(xsim_grant_map(t->dom0, t->a, 1, &ref, false, &st));
    assert_int_equal(st, GNTST_general_error);
    assert_int_equal(xsim_guest_end_access(t->ga, ref), -EINVAL); /* already free */
    xsim_guest_pages_free(t->ga, page, 1);
}

static void test_end_access_busy_while_mapped(void **state)
{
    struct world *t = *state;
    uint8_t *page;
    grant_ref_t ref = (grant_ref_t)grant_page(t->ga, 0, false, 0x66, &page);
    int16_t st;
    uint8_t *m1 = xsim_grant_map(t->dom0, t->a, 1, &ref, false, &st);
    uint8_t *m2 = xsim_grant_map(t->dom0, t->a, 1, &ref, true, &st);
    assert_non_null(m1);
    assert_non_null(m2);
    assert_int_equal(xsim_guest_end_access(t->ga, ref), -EBUSY);
    assert_int_equal(xsim_grant_unmap(t->dom0, m2, 1), 0);
    assert_int_equal(xsim_guest_end_access(t->ga, ref), -EBUSY); /* still read-mapped */
    assert_int_equal(xsim_grant_unmap(t->dom0, m1, 1), 0);
    assert_int_equal(xsim_guest_end_access(t->ga, ref), 0);
    xsim_guest_pages_free(t->ga, page, 1);
}

static void test_gref_to_gref_copy(void **state)
{
    struct world *t = *state;
    uint8_t *pa, *pb;
    grant_ref_t ra = (grant_ref_t)grant_page(t->ga, 0, true, 0, &pa);
    grant_ref_t rb = (grant_ref_t)grant_page(t->gb, 0, false, 0, &pb);
    for (int i = 0; i < (int)XSIM_PAGE_SIZE; i++)
        pa[i] = (uint8_t)(i * 7 + 1);
    xengnttab_grant_copy_segment_t seg = {
        .source.foreign = { .ref = ra, .offset = 100, .domid = t->a },
        .dest.foreign = { .ref = rb, .offset = 200, .domid = t->b },
        .len = 1000,
        .flags = GNTCOPY_source_gref | GNTCOPY_dest_gref,
    };
    assert_int_equal(xsim_grant_copy(t->dom0, 1, &seg), 0);
    assert_int_equal(seg.status, GNTST_okay);
    assert_memory_equal(pb + 200, pa + 100, 1000);
    assert_int_equal(pb[199], 0);
    assert_int_equal(pb[1200], 0);
    /* Copies leave nothing pinned. */
    assert_int_equal(xsim_guest_end_access(t->ga, ra), 0);
    assert_int_equal(xsim_guest_end_access(t->gb, rb), 0);
    xsim_guest_pages_free(t->ga, pa, 1);
    xsim_guest_pages_free(t->gb, pb, 1);
}

static void test_copy_batch_one_bad_segment(void **state)
{
    struct world *t = *state;
    uint8_t *p1, *p2;
    grant_ref_t r1 = (grant_ref_t)grant_page(t->ga, 0, false, 0x11, &p1);
    grant_ref_t r2 = (grant_ref_t)grant_page(t->ga, 0, false, 0x22, &p2);
    uint8_t out[3][64], in[64];
    memset(out, 0, sizeof(out));
    memset(in, 0x99, sizeof(in));
    xengnttab_grant_copy_segment_t segs[5] = {
        { .source.foreign = { .ref = r1, .domid = t->a }, .dest.virt = out[0], .len = 64,
          .flags = GNTCOPY_source_gref },
        { .source.foreign = { .ref = 6000, .domid = t->a }, .dest.virt = out[1], .len = 64,
          .flags = GNTCOPY_source_gref },
        { .source.foreign = { .ref = r2, .domid = t->a }, .dest.virt = out[2], .len = 64,
          .flags = GNTCOPY_source_gref },
        { .source.virt = in, .dest.foreign = { .ref = r2, .offset = 4090, .domid = t->a },
          .len = 64, .flags = GNTCOPY_dest_gref },
        { .source.virt = in, .dest.foreign = { .ref = r2, .domid = 250 }, .len = 64,
          .flags = GNTCOPY_dest_gref },
    };
    assert_int_equal(xsim_grant_copy(t->dom0, 5, segs), 0);
    assert_int_equal(segs[0].status, GNTST_okay);
    assert_int_equal(segs[1].status, GNTST_general_error);
    assert_int_equal(segs[2].status, GNTST_okay);
    assert_int_equal(segs[3].status, GNTST_bad_copy_arg);
    assert_int_equal(segs[4].status, GNTST_bad_domain);
    assert_int_equal(out[0][63], 0x11);
    assert_int_equal(out[1][0], 0);
    assert_int_equal(out[2][0], 0x22);
    assert_int_equal(p2[4095], 0x22);

    /* Malformed calls fail as a whole. */
    xengnttab_grant_copy_segment_t local = { .source.virt = in, .dest.virt = out[0], .len = 8 };
    assert_int_equal(xsim_grant_copy(t->dom0, 1, &local), -EINVAL);

    assert_int_equal(xsim_guest_end_access(t->ga, r1), 0);
    assert_int_equal(xsim_guest_end_access(t->ga, r2), 0);
    xsim_guest_pages_free(t->ga, p1, 1);
    xsim_guest_pages_free(t->ga, p2, 1);
}

static void test_map_batch_all_or_nothing(void **state)
{
    struct world *t = *state;
    uint8_t *p1, *p2;
    grant_ref_t refs[3];
    refs[0] = (grant_ref_t)grant_page(t->ga, 0, false, 1, &p1);
    refs[1] = 7000;                     /* not granted */
    refs[2] = (grant_ref_t)grant_page(t->ga, 0, false, 2, &p2);
    int16_t st[3] = { -99, -99, -99 };
    errno = 0;
    assert_null(xsim_grant_map(t->dom0, t->a, 3, refs, true, st));
    assert_int_not_equal(errno, 0);
    assert_int_equal(st[0], GNTST_okay);
    assert_int_equal(st[1], GNTST_general_error);
    assert_int_equal(st[2], GNTST_okay);
    /* Nothing stayed pinned. */
    assert_int_equal(xsim_guest_end_access(t->ga, refs[0]), 0);
    assert_int_equal(xsim_guest_end_access(t->ga, refs[2]), 0);
    xsim_guest_pages_free(t->ga, p1, 1);
    xsim_guest_pages_free(t->ga, p2, 1);
}

static void sleep_ms(long ms)
{
    struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

static void test_dead_mapper_releases_pins(void **state)
{
    struct world *t = *state;
    uint8_t *page;
    grant_ref_t ref = (grant_ref_t)grant_page(t->ga, 0, false, 0x77, &page);
    int pipefd[2];
    assert_int_equal(pipe(pipefd), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(pipefd[0]);
        struct xsim *xs = xsim_open(t->w.dir, 0);
        int16_t st;
        uint8_t *map = xs ? xsim_grant_map(xs, t->a, 1, &ref, true, &st) : NULL;
        char ok = map && map[0] == 0x77 ? 'y' : 'n';
        if (write(pipefd[1], &ok, 1) != 1)
            _exit(1);
        pause();
        _exit(0);
    }
    close(pipefd[1]);
    char ok = 0;
    assert_int_equal(read(pipefd[0], &ok, 1), 1);
    close(pipefd[0]);
    int busy = xsim_guest_end_access(t->ga, ref);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    assert_int_equal(ok, 'y');
    assert_int_equal(busy, -EBUSY);
    int ret = -EBUSY;
    for (int i = 0; i < 200 && ret == -EBUSY; i++) {
        ret = xsim_guest_end_access(t->ga, ref);
        if (ret == -EBUSY)
            sleep_ms(10);
    }
    assert_int_equal(ret, 0);
    xsim_guest_pages_free(t->ga, page, 1);
}

/* A child process that dies inside its critical section on ref's entry
 * (SIGKILL lands anywhere): it named the entry in a maptrack slot, took
 * the lock, set GTF_reading; `published` says it held a pin the counts
 * show (killed in unpin) rather than one they do not yet (killed in pin). */
static void die_inside_entry_lock(struct world *t, grant_ref_t ref, bool published)
{
    int pipefd[2];
    assert_int_equal(pipe(pipefd), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(pipefd[0]);
        struct xsim *xs = xsim_open(t->w.dir, 0);
        if (!xs)
            _exit(1);
        int16_t st;
        uint32_t slot;
        pthread_mutex_lock(&xs->lock);
        struct xsim_dom_cache *dc = xsim_dom_get_locked(xs, t->a, &st);
        if (!dc || xsim_mt_alloc_locked(xs, &slot) < 0)
            _exit(1);
        pthread_mutex_unlock(&xs->lock);
        struct xsim_maptrack_entry *m = &xs->mt->e[slot];
        m->dom = t->a;
        m->ref = ref;
        m->incarnation = dc->incarnation;
        m->flags = XSIM_MT_LOCKING | (published ? XSIM_MT_IN_USE : 0);
        xsim_act_lock(&dc->act[ref], 0);
        if (published)
            __atomic_store_n(&dc->act[ref], XSIM_ACT_LOCK | 1u, __ATOMIC_RELEASE);
        __atomic_fetch_or(xsim_gnt_word(&dc->gnt[ref]), GTF_reading, __ATOMIC_RELEASE);
        char ok = 'y';
        if (write(pipefd[1], &ok, 1) != 1)
            _exit(1);
        pause();
        _exit(0);
    }
    close(pipefd[1]);
    char ok = 0;
    assert_int_equal(read(pipefd[0], &ok, 1), 1);
    close(pipefd[0]);
    assert_int_equal(ok, 'y');
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
}

/* Maps ref in a process of its own, bounded by an alarm: a lock left held
 * forever would make the map spin forever.  Its exit status: 0 mapped. */
static int map_elsewhere(struct world *t, grant_ref_t ref, uint8_t byte)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        alarm(30);
        struct xsim *xs = xsim_open(t->w.dir, 0);
        int16_t st;
        uint8_t *map = xs ? xsim_grant_map(xs, t->a, 1, &ref, false, &st) : NULL;
        _exit(map && map[0] == byte && xsim_grant_unmap(xs, map, 1) == 0 ? 0 : 1);
    }
    int status = -1;
    waitpid(pid, &status, 0);
    return status;
}

static void test_dead_inside_entry_lock(void **state)
{
    struct world *t = *state;
    for (int published = 0; published <= 1; published++) {
        uint8_t *page;
        grant_ref_t ref = (grant_ref_t)grant_page(t->ga, 0, false, 0x3c, &page);
        die_inside_entry_lock(t, ref, published);
        /* the daemon mends the entry when the dead connection closes: the
         * lock free again, no pin counted, GTF_reading cleared */
        int ret = -EBUSY;
        for (int i = 0; i < 300 && ret == -EBUSY; i++) {
            ret = xsim_guest_end_access(t->ga, ref);
            if (ret == -EBUSY)
                sleep_ms(10);
        }
        assert_int_equal(ret, 0);
        /* granted again, it maps and unmaps in another process */
        ref = (grant_ref_t)xsim_guest_grant(t->ga, 0, xsim_guest_virt_to_gfn(t->ga, page), false);
        assert_int_equal(map_elsewhere(t, ref, 0x3c), 0);
        ret = -EBUSY;
        for (int i = 0; i < 300 && ret == -EBUSY; i++) {
            ret = xsim_guest_end_access(t->ga, ref);
            if (ret == -EBUSY)
                sleep_ms(10);
        }
        assert_int_equal(ret, 0);
        xsim_guest_pages_free(t->ga, page, 1);
    }
}

static void test_destroyed_domain(void **state)
{
    struct world *t = *state;
    int c = xsim_domain_create(t->dom0, "doomed", 4);
    assert_true(c > 0);
    struct xsim_guest *gc = xsim_guest_open(t->w.dir, (domid_t)c);
    assert_non_null(gc);
    uint8_t *p1, *p2;
    grant_ref_t r1 = (grant_ref_t)grant_page(gc, 0, false, 0x88, &p1);
    grant_ref_t r2 = (grant_ref_t)grant_page(gc, 0, false, 0x99, &p2);
    int16_t st;
    uint8_t *held = xsim_grant_map(t->dom0, (domid_t)c, 1, &r1, true, &st);
    assert_non_null(held);

    assert_int_equal(xsim_domain_destroy(t->dom0, (domid_t)c), 0);
    struct xsim_dominfo info;
    assert_int_equal(xsim_domain_info(t->dom0, (domid_t)c, &info), 0);
    assert_int_equal(info.state, XSIM_DOM_DYING); /* we still map it */

    assert_null(xsim_grant_map(t->dom0, (domid_t)c, 1, &r2, false, &st));
    assert_int_equal(st, GNTST_bad_domain);
    uint8_t buf[8];
    xengnttab_grant_copy_segment_t seg = {
        .source.foreign = { .ref = r2, .domid = (domid_t)c }, .dest.virt = buf, .len = 8,
        .flags = GNTCOPY_source_gref,
    };
    assert_int_equal(xsim_grant_copy(t->dom0, 1, &seg), 0);
    assert_int_equal(seg.status, GNTST_bad_domain);

    /* The mapping made before stays valid, like a Xen zombie's pages. */
    assert_int_equal(held[0], 0x88);
    held[1] = 0x12;
    assert_int_equal(p1[1], 0x12);
    assert_int_equal(xsim_grant_unmap(t->dom0, held, 1), 0);
    int ret = 0;
    for (int i = 0; i < 200; i++) {
        ret = xsim_domain_info(t->dom0, (domid_t)c, &info);
        if (ret == -ESRCH)
            break;
        sleep_ms(10);
    }
    assert_int_equal(ret, -ESRCH);
    xsim_guest_close(gc);
}

/* ---- threads sharing one handle: pins stay balanced ---- */

struct hammer {
    struct world *t;
    grant_ref_t ref;
    int failures;
};

static void *hammer_thread(void *arg)
{
    struct hammer *h = arg;
    for (int i = 0; i < 2000; i++) {
        int16_t st;
        uint8_t *map = xsim_grant_map(h->t->dom0, h->t->a, 1, &h->ref, i & 1, &st);
        uint8_t buf[16];
        xengnttab_grant_copy_segment_t seg = {
            .source.foreign = { .ref = h->ref, .domid = h->t->a }, .dest.virt = buf,
            .len = sizeof(buf), .flags = GNTCOPY_source_gref,
        };
        if (!map || map[0] != 0xab || xsim_grant_copy(h->t->dom0, 1, &seg) ||
            seg.status != GNTST_okay || buf[0] != 0xab || xsim_grant_unmap(h->t->dom0, map, 1))
            __atomic_fetch_add(&h->failures, 1, __ATOMIC_RELAXED);
    }
    return NULL;
}

static void test_threads_keep_pins_balanced(void **state)
{
    struct world *t = *state;
    uint8_t *page;
    struct hammer h = { .t = t };
    h.ref = (grant_ref_t)grant_page(t->ga, 0, false, 0xab, &page);
    pthread_t th[4];
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&th[i], NULL, hammer_thread, &h), 0);
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    assert_int_equal(h.failures, 0);
    assert_int_equal(xsim_guest_end_access(t->ga, h.ref), 0);
    xsim_guest_pages_free(t->ga, page, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_map_shares_memory),
        cmocka_unit_test(test_contiguous_multi_page_map),
        cmocka_unit_test(test_not_granted_fails),
        cmocka_unit_test(test_readonly_grant),
        cmocka_unit_test(test_grant_to_other_domain_fails),
        cmocka_unit_test(test_revoked_grant_fails),
        cmocka_unit_test(test_end_access_busy_while_mapped),
        cmocka_unit_test(test_gref_to_gref_copy),
        cmocka_unit_test(test_copy_batch_one_bad_segment),
        cmocka_unit_test(test_map_batch_all_or_nothing),
        cmocka_unit_test(test_dead_mapper_releases_pins),
        cmocka_unit_test(test_dead_inside_entry_lock),
        cmocka_unit_test(test_threads_keep_pins_balanced),
        cmocka_unit_test(test_destroyed_domain),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
