/*
 * sidecore_test.c - the sidecore engine against fake queues.
 *
 * A fake queue implements the queue.h ops over an in-memory "ring": 32-bit
 * free-running req_prod / req_event / rsp_prod indices with exactly the
 * barriers and the notify check of Xen's ring.h, driven by the test thread
 * acting as the frontend.  Kicks are real event channels of a xensim world
 * (the core's handle binds to a port the "guest" allocated), so sleeping and
 * waking go through the same fds as in sidecored.  I/O that completes later
 * goes through the core's io_uring as NOP or TIMEOUT requests.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "sidecore.h"
#include "clock.h"
#include "simworld.h"
#include "xen.h"
#include "xensim.h"

#define RING 32u

static struct simworld world;
static struct xsim *dom0;
static struct xsim *guest;       /* the frontend's domain */
static struct xsim_evtchn *gevt; /* its event channels */
static domid_t guest_id;
static struct sc_xen *xen;

/* ---- the fake queue ---- */

enum fake_io {
    FAKE_SYNC,    /* answered inside poll */
    FAKE_NOP,     /* answered when an io_uring NOP completes */
    FAKE_TIMEOUT, /* answered when an io_uring timeout of io_ns expires */
    FAKE_HOLD,    /* held (in flight) until a fake_release CALL answers them */
};

struct fake_req {
    struct sc_io io;
    struct fake *f;
    struct __kernel_timespec ts;
    uint64_t start_ns;
    int slot;
    bool busy; /* its SQE is in flight */
};

struct fake {
    struct sc_queue q;
    /* frontend side (test thread) */
    _Atomic uint32_t req_prod;
    int gport; /* guest's end of the event channel, or -1 */
    uint64_t kicks_sent;
    /* shared: written by the backend, read by the frontend */
    _Atomic uint32_t req_event;
    _Atomic uint32_t rsp_prod;
    _Atomic uint32_t cons_seen; /* req_cons, published for the test */
    /* backend private (core thread) */
    uint32_t req_cons;
    uint32_t rsp_pvt;
    unsigned inflight;
    unsigned held;      /* FAKE_HOLD requests not answered yet */
    int free_slots[RING];
    unsigned nfree;
    struct fake_req reqs[RING];
    uint8_t *seen; /* seen[i]: times request i was consumed */
    uint32_t nseen;
    /* behaviour (set before add) */
    enum fake_io io;
    uint64_t io_ns;
    bool endless;       /* the ring is always full */
    uint32_t req_bytes;
    uint32_t fail_at;   /* poll fails with -EPROTO once this many consumed (0 = never) */
    unsigned quiesced;  /* times quiesce ran (core thread) */
    sc_counter dev[2];  /* device counters: visits, requests of odd index */
    int rfd;            /* a watched fd poll reads (non-blocking), or -1 */
    uint64_t visit_spin_ns; /* a visit that consumed something lasts this long at least */
    _Atomic uint64_t fd_bytes; /* read from it */
};

#define fake_of(qp) ((struct fake *)((char *)(qp) - offsetof(struct fake, q)))

static void answer(struct fake *f, uint64_t start_ns)
{
    f->rsp_pvt++;
    sc_queue_record_latency(&f->q, sc_queue_now_ns(&f->q) - start_ns);
    sc_queue_mark_dirty(&f->q);
}

static void fake_done(struct sc_io *io, int res)
{
    struct fake_req *r = (struct fake_req *)io;
    struct fake *f = r->f;
    int want = f->io == FAKE_TIMEOUT ? -ETIME : 0;
    if (res != want)
        sc_queue_count(&f->q, SC_QSTAT_ERRORS, 1);
    /* the round's clock may predate the completion: use a fresh one */
    f->rsp_pvt++;
    sc_queue_record_latency(&f->q, sc_clock_ns() - r->start_ns);
    sc_queue_mark_dirty(&f->q);
    f->free_slots[f->nfree++] = r->slot;
    f->inflight--;
    r->busy = false;
}

static int fake_poll(struct sc_queue *q, const struct sc_sched_grant *g, struct sc_visit *v)
{
    struct fake *f = fake_of(q);
    /* endless: a frontend that refills faster than any visit consumes */
    uint32_t prod = f->endless ? f->req_cons + (1u << 20)
                               : atomic_load_explicit(&f->req_prod, memory_order_acquire);
    /* a hostile frontend: more requests than the ring holds */
    if (!f->endless && prod - f->rsp_pvt > RING)
        return -EPROTO;
    sc_counter_add(&f->dev[0], 1);
    if (f->rfd >= 0) {
        char buf[64];
        ssize_t n;
        while ((n = read(f->rfd, buf, sizeof(buf))) > 0) {
            atomic_fetch_add(&f->fd_bytes, (uint64_t)n);
            v->requests++;
        }
    }
    while (f->req_cons != prod) {
        if (f->req_cons % 2)
            sc_counter_add(&f->dev[1], 1);
        if (f->fail_at && f->req_cons >= f->fail_at)
            return -EPROTO;
        if (!sc_sched_grant_admits(g, v->bytes, v->requests, f->req_bytes))
            break;
        if (f->io == FAKE_SYNC) {
            answer(f, v->now_ns);
        } else if (f->io == FAKE_HOLD) {
            f->held++;
            f->inflight++;
        } else {
            if (f->nfree == 0)
                break;
            struct io_uring_sqe *sqe = sc_queue_get_sqe(q);
            if (!sqe)
                break;
            struct fake_req *r = &f->reqs[f->free_slots[--f->nfree]];
            r->start_ns = sc_clock_ns();
            if (f->io == FAKE_NOP) {
                io_uring_prep_nop(sqe);
            } else {
                r->ts.tv_sec = (long long)(f->io_ns / 1000000000u);
                r->ts.tv_nsec = (long long)(f->io_ns % 1000000000u);
                io_uring_prep_timeout(sqe, &r->ts, 0, 0);
            }
            sc_io_attach(sqe, &r->io);
            r->busy = true;
            f->inflight++;
        }
        if (f->seen && f->req_cons < f->nseen)
            f->seen[f->req_cons]++;
        f->req_cons++;
        v->requests++;
        v->bytes += f->req_bytes;
    }
    v->more = f->req_cons != prod;
    atomic_store_explicit(&f->cons_seen, f->req_cons, memory_order_release);
    if (v->requests && f->visit_spin_ns) {
        uint64_t until = sc_clock_ns() + f->visit_spin_ns;
        while (sc_clock_ns() < until)
            ;
    }
    return 0;
}

/* RING_PUSH_RESPONSES (the frontend here polls rsp_prod instead of waiting
 * for a notification, so no rsp_event check). */
static void fake_flush(struct sc_queue *q)
{
    struct fake *f = fake_of(q);
    atomic_store_explicit(&f->rsp_prod, f->rsp_pvt, memory_order_release);
}

/* RING_FINAL_CHECK_FOR_REQUESTS */
static bool fake_rearm(struct sc_queue *q)
{
    struct fake *f = fake_of(q);
    if (f->endless)
        return true;
    if (f->nfree == 0 && f->io != FAKE_SYNC && f->io != FAKE_HOLD)
        return false; /* blocked on our own slots: the completion wakes the core */
    if (atomic_load_explicit(&f->req_prod, memory_order_acquire) != f->req_cons)
        return true;
    atomic_store_explicit(&f->req_event, f->req_cons + 1, memory_order_relaxed);
    atomic_thread_fence(memory_order_seq_cst);
    return atomic_load_explicit(&f->req_prod, memory_order_acquire) != f->req_cons;
}

static bool fake_idle(struct sc_queue *q)
{
    return fake_of(q)->inflight == 0;
}

/* CALL (core thread): answers the requests f holds. */
static void fake_release(struct sc_core *core, void *arg)
{
    (void)core;
    struct fake *f = arg;
    f->rsp_pvt += f->held;
    f->inflight -= f->held;
    f->held = 0;
    sc_queue_mark_dirty(&f->q);
}

/* Cancels every SQE in flight. */
static void fake_quiesce(struct sc_queue *q)
{
    struct fake *f = fake_of(q);
    f->quiesced++;
    for (unsigned i = 0; i < RING; i++) {
        if (!f->reqs[i].busy)
            continue;
        struct io_uring_sqe *sqe = sc_queue_get_sqe(q);
        if (!sqe)
            break;
        io_uring_prep_cancel64(sqe, (uint64_t)(uintptr_t)&f->reqs[i].io, 0);
        io_uring_sqe_set_data(sqe, NULL);
    }
}

/* The ops every fake has; the tables below add optional ones. */
#define FAKE_OPS_RING .poll = fake_poll, .flush = fake_flush, .rearm = fake_rearm, .idle = fake_idle

static const struct sc_queue_ops fake_ops = { FAKE_OPS_RING };

/* The ring has requests (the same producer index rearm reads). */
static bool fake_pending(struct sc_queue *q)
{
    struct fake *f = fake_of(q);
    return f->endless || atomic_load_explicit(&f->req_prod, memory_order_acquire) != f->req_cons;
}

/* With pending: the core parks the queue while it has nothing. */
static const struct sc_queue_ops fake_parking_ops = {
    FAKE_OPS_RING,
    .quiesce = fake_quiesce,
    .pending = fake_pending,
};

/* The ops fake_new gives (tests run twice: without and with parking). */
static const struct sc_queue_ops *new_ops = &fake_ops;

static const struct sc_queue_ops fake_quiesce_ops = {
    FAKE_OPS_RING,
    .quiesce = fake_quiesce,
};

static struct fake *fake_new_class(domid_t domid, enum sc_tclass tc, enum fake_io io,
                                   uint32_t nseen)
{
    struct fake *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    assert_int_equal(sc_queue_init(&f->q, new_ops, domid, tc, "fake %u/%d", domid, rand() % 100),
                     0);
    f->io = io;
    f->req_bytes = 4096;
    f->gport = -1;
    f->rfd = -1;
    atomic_store(&f->req_event, 1); /* as FRONT_RING_INIT / SHARED_RING_INIT */
    for (unsigned i = 0; i < RING; i++) {
        f->reqs[i].io.done = fake_done;
        f->reqs[i].f = f;
        f->reqs[i].slot = (int)i;
        f->free_slots[f->nfree++] = (int)i;
    }
    if (nseen) {
        f->seen = calloc(nseen, 1);
        assert_non_null(f->seen);
        f->nseen = nseen;
    }
    return f;
}

static struct fake *fake_new(domid_t domid, enum fake_io io, uint32_t nseen)
{
    return fake_new_class(domid, SC_TCLASS_VBD, io, nseen);
}

/* Binds an event channel guest -> the core's handle for f. */
static void fake_bind(struct fake *f, struct sc_core *core)
{
    f->gport = xsim_evtchn_alloc_unbound(gevt, 0);
    assert_true(f->gport > 0);
    int lport = sc_evtchn_bind_interdomain(sc_core_evtchn(core), guest_id,
                                           (evtchn_port_t)f->gport);
    assert_true(lport > 0);
    f->q.port = lport;
}

static void fake_free(struct fake *f, struct sc_core *core)
{
    if (f->q.port > 0)
        assert_int_equal(sc_evtchn_unbind(sc_core_evtchn(core), (evtchn_port_t)f->q.port), 0);
    if (f->gport > 0)
        xsim_evtchn_unbind(gevt, (evtchn_port_t)f->gport);
    free(f->seen);
    memset(f, 0x5a, sizeof(*f)); /* a core still touching it would trip */
    free(f);
}

/* A fake with the parking ops (fake_parking_ops), whatever new_ops is. */
static struct fake *fake_new_parking(domid_t domid, enum fake_io io, uint32_t nseen)
{
    const struct sc_queue_ops *ops = new_ops;
    new_ops = &fake_parking_ops;
    struct fake *f = fake_new(domid, io, nseen);
    new_ops = ops;
    return f;
}

/* A fake whose ring is always full: keeps the core busy. */
static struct fake *fake_endless(domid_t domid)
{
    struct fake *f = fake_new(domid, FAKE_SYNC, 0);
    f->endless = true;
    return f;
}

/* A fake of the guest's, bound to the core's handle and added to it. */
static struct fake *fake_on_core(struct sc_core *core, enum fake_io io, uint32_t nseen)
{
    struct fake *f = fake_new(guest_id, io, nseen);
    fake_bind(f, core);
    assert_int_equal(sc_core_add_queue(core, &f->q), 0);
    return f;
}

/* Removes f from the core (which must succeed) and frees it. */
static void fake_remove_free(struct fake *f, struct sc_core *core)
{
    assert_int_equal(sc_core_remove_queue(core, &f->q), 0);
    fake_free(f, core);
}

/* A pipe whose read end f's poll reads (not yet watched). */
static void fake_pipe(struct fake *f, int p[2])
{
    assert_int_equal(pipe2(p, O_NONBLOCK | O_CLOEXEC), 0);
    f->rfd = p[0];
}

static void produce_via(struct fake *f, uint32_t n, int gport);

/* RING_PUSH_REQUESTS_AND_CHECK_NOTIFY, then the kick. */
static void produce(struct fake *f, uint32_t n)
{
    produce_via(f, n, f->gport);
}

/* The same, kicking through guest port gport. */
static void produce_via(struct fake *f, uint32_t n, int gport)
{
    uint32_t old = atomic_load_explicit(&f->req_prod, memory_order_relaxed);
    uint32_t new = old + n;
    atomic_store_explicit(&f->req_prod, new, memory_order_release);
    atomic_thread_fence(memory_order_seq_cst);
    uint32_t ev = atomic_load_explicit(&f->req_event, memory_order_relaxed);
    if ((uint32_t)(new - ev) < (uint32_t)(new - old) && gport > 0) {
        assert_int_equal(xsim_evtchn_notify(gevt, (evtchn_port_t)gport), 0);
        f->kicks_sent++;
    }
}

/* Waits until the backend has answered everything produced. */
static bool wait_answered(struct fake *f, uint64_t timeout_ns)
{
    uint32_t want = atomic_load_explicit(&f->req_prod, memory_order_relaxed);
    uint64_t deadline = sc_clock_ns() + timeout_ns;
    unsigned spins = 0;
    while (atomic_load_explicit(&f->rsp_prod, memory_order_acquire) != want) {
        if (sc_clock_ns() > deadline)
            return false;
        if (++spins > 100)
            sched_yield();
    }
    return true;
}

static bool wait_consumed(struct fake *f, uint32_t n, uint64_t timeout_ns)
{
    uint64_t deadline = sc_clock_ns() + timeout_ns;
    while (atomic_load(&f->cons_seen) != n) {
        if (sc_clock_ns() > deadline)
            return false;
        usleep(100);
    }
    return true;
}

/* Waits until f rearmed (req_event past everything consumed), then a while
 * longer, so the core is most likely asleep in epoll. */
static void wait_rearmed(struct fake *f)
{
    uint32_t prod = atomic_load(&f->req_prod);
    uint64_t deadline = sc_clock_ns() + 5000000000ull;
    while (atomic_load(&f->req_event) != prod + 1 && sc_clock_ns() < deadline)
        usleep(100);
    assert_int_equal(atomic_load(&f->req_event), prod + 1);
    usleep(2000);
}

/* Waits (up to a second) until the core ran no round for 2 ms: asleep. */
static void wait_core_quiet(struct sc_core *core)
{
    uint64_t deadline = sc_clock_ns() + 1000000000ull;
    struct sc_core_stats a, b;
    sc_core_stats(core, &a);
    do {
        usleep(2000);
        b = a;
        sc_core_stats(core, &a);
    } while (a.rounds != b.rounds && sc_clock_ns() < deadline);
}

/* Waits (up to 5 s) until f's poll read `want` bytes of its fd in all. */
static void assert_fd_bytes_reach(struct fake *f, uint64_t want)
{
    uint64_t deadline = sc_clock_ns() + 5000000000ull;
    while (atomic_load(&f->fd_bytes) != want && sc_clock_ns() < deadline)
        usleep(100);
    assert_int_equal(atomic_load(&f->fd_bytes), want);
}

static struct sc_core_stats core_stats(struct sc_core *core)
{
    struct sc_core_stats cs;
    sc_core_stats(core, &cs);
    return cs;
}

static uint64_t qstat(const struct fake *f, enum sc_queue_counter c)
{
    struct sc_queue_stats_snap s;
    sc_queue_stats_snapshot(&f->q, &s);
    return s.counter[c];
}

static bool wait_qstat(const struct fake *f, enum sc_queue_counter c, uint64_t want,
                       uint64_t timeout_ns)
{
    uint64_t deadline = sc_clock_ns() + timeout_ns;
    while (qstat(f, c) < want) {
        if (sc_clock_ns() > deadline)
            return false;
        usleep(200);
    }
    return true;
}

/* Waits (up to 2 s) until busy served more than `served` requests: it
 * still is (a loaded machine may not run the core for a while). */
static void assert_still_served(const struct fake *busy, uint64_t served)
{
    assert_true(wait_qstat(busy, SC_QSTAT_REQUESTS, served + 1, 2000000000ull));
}

static struct sc_core *core_made(uint64_t poll_idle_ns, int attention_fd, bool adaptive)
{
    struct sc_core_params p;
    sc_core_params_default(&p);
    p.poll_idle_ns = poll_idle_ns;
    p.attention_fd = attention_fd;
    p.poll_adaptive = adaptive;
    p.uring_entries = 64;
    struct sc_core *core = sc_core_create(xen, &p);
    assert_non_null(core);
    return core;
}

static struct sc_core *core_new(uint64_t poll_idle_ns, int attention_fd)
{
    return core_made(poll_idle_ns, attention_fd, false);
}

/* ---- world ---- */

static int world_up(void **state)
{
    (void)state;
    int id = simworld_start_with_guest(&world, "sidecore-guest", &dom0);
    if (id <= 0)
        return -1;
    guest_id = (domid_t)id;
    guest = xsim_open(world.dir, guest_id);
    gevt = guest ? xsim_evtchn_open(guest) : NULL;
    if (!gevt)
        return -1;
    xen = sc_xen_open(SC_XEN_SIM);
    return xen ? 0 : -1;
}

static int world_down(void **state)
{
    (void)state;
    if (xen)
        sc_xen_close(xen);
    if (gevt)
        xsim_evtchn_close(gevt);
    if (guest)
        xsim_close(guest);
    if (dom0)
        xsim_close(dom0);
    simworld_stop(&world);
    return 0;
}

/* ---- tests ---- */

static void create_rejects_bad_params(void **state)
{
    (void)state;
    struct sc_core_params p;
    sc_core_params_default(&p);
    p.uring_entries = 0;
    errno = 0;
    assert_null(sc_core_create(xen, &p));
    assert_int_equal(errno, EINVAL);
    sc_core_params_default(&p);
    p.cpu = -7;
    assert_null(sc_core_create(xen, &p));
    assert_null(sc_core_create(NULL, &p));
    struct sc_queue q;
    assert_int_equal(sc_queue_init(&q, &(struct sc_queue_ops){ .poll = fake_poll }, 1,
                                   SC_TCLASS_VBD, "x"),
                     -EINVAL);
    sc_core_destroy(NULL);
}

/* Requests produced while the core sleeps are answered after the kick,
 * each exactly once, cycle after cycle: event mode (one queue, no polling). */
static void kick_wakes_sleeping_core_every_time(void **state)
{
    (void)state;
    enum { CYCLES = 10000 };
    struct sc_core *core = core_new(0, -1);
    struct fake *f = fake_on_core(core, FAKE_SYNC, CYCLES * 2);

    uint32_t produced = 0;
    for (int i = 0; i < CYCLES; i++) {
        uint32_t n = 1 + (uint32_t)(i % 2);
        /* Every other cycle, wait until the core has rearmed (req_event =
         * cons + 1): the kick is then due, and lands around its epoll_wait. */
        uint64_t deadline = sc_clock_ns() + 5000000000ull;
        while (i % 2 && atomic_load(&f->req_event) != produced + 1 && sc_clock_ns() < deadline)
            sched_yield();
        produce(f, n);
        produced += n;
        if (!wait_answered(f, 5000000000ull))
            fail_msg("cycle %d: %u produced, %u answered, %llu kicks sent", i, produced,
                     atomic_load(&f->rsp_prod), (unsigned long long)f->kicks_sent);
    }
    /* The core slept between cycles, so most cycles needed a kick, and the
     * kicks were received: all but the rare two that coalesced because the
     * second came before the first was taken (an event channel is a pending
     * bit, as on Xen). */
    bool received = wait_qstat(f, SC_QSTAT_KICKS, f->kicks_sent - f->kicks_sent / 100,
                               2000000000ull);
    struct sc_core_stats cs = core_stats(core);
    /* Sleeps: the odd cycles produce the moment req_event moves, which races
     * the core's re-check right after it (then the core stays polling, as it
     * should), so not every cycle ends in a sleep; what matters is that the
     * core slept and was woken thousands of times and no kick was lost. */
    if (f->kicks_sent < CYCLES / 2 || !received || qstat(f, SC_QSTAT_KICKS) > f->kicks_sent ||
        cs.sleeps < CYCLES / 10 || cs.wakeups < CYCLES / 10)
        fail_msg("kicks sent %llu received %llu; sleeps %llu wakeups %llu",
                 (unsigned long long)f->kicks_sent,
                 (unsigned long long)qstat(f, SC_QSTAT_KICKS), (unsigned long long)cs.sleeps,
                 (unsigned long long)cs.wakeups);

    assert_int_equal(sc_core_remove_queue(core, &f->q), 0);
    for (uint32_t i = 0; i < produced; i++)
        if (f->seen[i] != 1)
            fail_msg("request %u consumed %u times", i, f->seen[i]);
    assert_int_equal(qstat(f, SC_QSTAT_REQUESTS), produced);
    fake_free(f, core);
    sc_core_destroy(core);
}

/* The same with a short poll window and asynchronous completions, with the
 * frontend pausing for varying times, so produce lands before, during and
 * after the rearm. */
static void no_lost_kick_around_rearm(void **state)
{
    (void)state;
    enum { CYCLES = 10000 };
    struct sc_core *core = core_new(20000, -1);
    struct fake *f = fake_on_core(core, FAKE_NOP, CYCLES * 3);
    uint32_t produced = 0;
    srand(7);
    for (int i = 0; i < CYCLES; i++) {
        uint32_t n = 1 + (uint32_t)(rand() % 3);
        produce(f, n);
        produced += n;
        if (!wait_answered(f, 5000000000ull))
            fail_msg("cycle %d: %u produced, %u answered", i, produced,
                     atomic_load(&f->rsp_prod));
        int pause = rand() % 40;
        if (pause > 20)
            usleep((useconds_t)pause);
    }
    assert_int_equal(sc_core_remove_queue(core, &f->q), 0);
    for (uint32_t i = 0; i < produced; i++)
        assert_int_equal(f->seen[i], 1);
    assert_int_equal(f->inflight, 0);
    struct sc_core_stats cs = core_stats(core);
    assert_true(cs.io_submitted >= produced);
    assert_int_equal(cs.io_submitted, cs.io_completed);
    assert_true(cs.sleeps > 0);
    fake_free(f, core);
    sc_core_destroy(core);
}

/* While the core polls, the frontend's check says no kick is needed. */
static void polling_suppresses_kicks(void **state)
{
    (void)state;
    enum { CYCLES = 20000 };
    struct sc_core *core = core_new(5000000000ull, -1); /* 5 s: never sleeps here */
    struct fake *f = fake_on_core(core, FAKE_SYNC, 0);
    for (int i = 0; i < CYCLES; i++) {
        produce(f, 1);
        assert_true(wait_answered(f, 5000000000ull));
    }
    /* At most the first produce (req_event starts at 1) needs a kick. */
    assert_true(f->kicks_sent <= 1);
    assert_true(wait_qstat(f, SC_QSTAT_KICKS, f->kicks_sent, 2000000000ull));
    assert_int_equal(qstat(f, SC_QSTAT_REQUESTS), CYCLES);
    assert_true(qstat(f, SC_QSTAT_BUSY_POLLS) > 0);
    assert_true(qstat(f, SC_QSTAT_EMPTY_POLLS) > 0);
    assert_int_equal(sc_core_remove_queue(core, &f->q), 0);
    assert_int_equal(qstat(f, SC_QSTAT_KICKS), f->kicks_sent);
    fake_free(f, core);
    sc_core_destroy(core);
}

/* Queues come and go while the core serves another; remove waits for the
 * I/O still in flight and the core never touches a removed queue again. */
static void add_remove_while_running(void **state)
{
    (void)state;
    struct sc_core *core = core_new(50000, -1);
    struct fake *busy = fake_endless(1);
    assert_int_equal(sc_core_add_queue(core, &busy->q), 0);
    assert_int_equal(sc_core_add_queue(core, &busy->q), -EINVAL); /* already on a core */

    for (int round = 0; round < 20; round++) {
        struct fake *f = fake_new(guest_id, FAKE_TIMEOUT, 64);
        /* 3 ms in flight; the first round 50 ms, so that its check that
         * remove waited cannot be met by this thread being preempted for
         * as long as the I/O takes */
        f->io_ns = round == 0 ? 50000000 : 3000000;
        fake_bind(f, core);
        produce(f, 8);
        assert_int_equal(sc_core_add_queue(core, &f->q), 0);
        assert_true(wait_consumed(f, 8, 2000000000ull));
        uint64_t t0 = sc_clock_ns();
        assert_int_equal(sc_core_remove_queue(core, &f->q), 0);
        /* Everything completed and was pushed before remove returned. */
        assert_int_equal(f->inflight, 0);
        assert_int_equal(atomic_load(&f->rsp_prod), 8);
        assert_null(f->q.core);
        for (int i = 0; i < 8; i++)
            assert_int_equal(f->seen[i], 1);
        if (round == 0)
            assert_true(sc_clock_ns() - t0 > 5000000); /* it did wait for the timeouts */
        assert_int_equal(sc_core_remove_queue(core, &f->q), -ENOENT);
        fake_free(f, core);
    }
    /* ports are checked; a port may serve several queues */
    struct fake *a = fake_new(guest_id, FAKE_SYNC, 0), *b = fake_new(guest_id, FAKE_SYNC, 0);
    fake_bind(a, core);
    b->q.ports[0] = b->q.ports[1] = a->q.port;
    assert_int_equal(sc_core_add_queue(core, &b->q), -EINVAL); /* twice the same */
    assert_null(b->q.core);
    b->q.ports[1] = 1 << 20;
    assert_int_equal(sc_core_add_queue(core, &b->q), -EINVAL); /* out of range */
    b->q.ports[1] = SC_QUEUE_NO_PORT;
    assert_int_equal(sc_core_add_queue(core, &a->q), 0);
    assert_int_equal(sc_core_add_queue(core, &b->q), 0);

    assert_int_equal(core_stats(core).queues, 3);
    assert_still_served(busy, qstat(busy, SC_QSTAT_REQUESTS)); /* never stopped */

    assert_int_equal(sc_core_remove_queue(core, &a->q), 0);
    assert_int_equal(sc_core_remove_queue(core, &b->q), 0);
    assert_int_equal(sc_core_remove_queue(core, &busy->q), 0);
    assert_int_equal(core_stats(core).queues, 0);
    uint64_t after = qstat(busy, SC_QSTAT_REQUESTS);
    usleep(10000);
    assert_int_equal(qstat(busy, SC_QSTAT_REQUESTS), after);
    fake_free(a, core);
    b->q.port = SC_QUEUE_NO_PORT; /* a's, unbound with a */
    fake_free(b, core);
    fake_free(busy, core);
    sc_core_destroy(core);
}

/* Two guests with weights 1:3, both always busy, on one core. */
static void fair_share_by_weight(void **state)
{
    (void)state;
    struct sc_core *core = core_new(100000, -1);
    struct sc_sched_tenant_conf c1 = { .weight = 100 }, c3 = { .weight = 300 };
    assert_int_equal(sc_core_set_tenant(core, 11, &c1), 0);
    assert_int_equal(sc_core_set_tenant(core, 12, &c3), 0);
    struct sc_sched_tenant_conf bad = { .weight = 0 };
    assert_int_equal(sc_core_set_tenant(core, 13, &bad), -EINVAL);
    struct fake *a = fake_endless(11), *b = fake_endless(12);
    b->req_bytes = 512; /* the share is of cost, not of requests */
    assert_int_equal(sc_core_add_queue(core, &a->q), 0);
    assert_int_equal(sc_core_add_queue(core, &b->q), 0);
    usleep(50000);
    struct sc_sched_tenant_stats t1a, t2a, t1b, t2b;
    assert_int_equal(sc_core_tenant_stats(core, 11, &t1a), 0);
    assert_int_equal(sc_core_tenant_stats(core, 12, &t2a), 0);
    struct sc_queue_stats_snap qa0, qb0, qa1, qb1;
    sc_queue_stats_snapshot(&a->q, &qa0);
    sc_queue_stats_snapshot(&b->q, &qb0);
    usleep(300000);
    assert_int_equal(sc_core_tenant_stats(core, 11, &t1b), 0);
    assert_int_equal(sc_core_tenant_stats(core, 12, &t2b), 0);
    sc_queue_stats_snapshot(&a->q, &qa1);
    sc_queue_stats_snapshot(&b->q, &qb1);
    assert_int_equal(sc_core_tenant_stats(core, 99, &t1b) == -ENOENT, 1);

    double ca = (double)(t1b.cost - t1a.cost), cb = (double)(t2b.cost - t2a.cost);
    assert_true(ca > 0);
    double ratio = cb / ca;
    fprintf(stderr, "# A visits %llu cost %.0f skipped %llu; B visits %llu cost %.0f skipped %llu\n",
            (unsigned long long)(t1b.visits - t1a.visits), ca, (unsigned long long)(t1b.skipped - t1a.skipped),
            (unsigned long long)(t2b.visits - t2a.visits), cb, (unsigned long long)(t2b.skipped - t2a.skipped));
    if (ratio < 2.85 || ratio > 3.15)
        fail_msg("cost ratio %.3f, want 3 +- 5%%", ratio);
    /* The engine's own per-queue counters tell the same story. */
    const double rc = 4096; /* the scheduler's default request cost */
    double ea = (double)(qa1.counter[SC_QSTAT_BYTES] - qa0.counter[SC_QSTAT_BYTES]) +
                rc * (double)(qa1.counter[SC_QSTAT_REQUESTS] - qa0.counter[SC_QSTAT_REQUESTS]);
    double eb = (double)(qb1.counter[SC_QSTAT_BYTES] - qb0.counter[SC_QSTAT_BYTES]) +
                rc * (double)(qb1.counter[SC_QSTAT_REQUESTS] - qb0.counter[SC_QSTAT_REQUESTS]);
    /* snapshots are not taken at the very same instant as the tenant stats */
    if (eb / ea < 2.7 || eb / ea > 3.3)
        fail_msg("queue cost ratio %.3f (%.0f / %.0f), tenant ratio %.3f", eb / ea, eb, ea, ratio);

    fake_remove_free(a, core);
    fake_remove_free(b, core);
    sc_core_destroy(core);
}

/* A broken queue is dropped from polling and reported; the rest go on. */
static void failing_queue_raises_attention(void **state)
{
    (void)state;
    int att = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    assert_true(att >= 0);
    struct sc_core *core = core_new(100000, att);
    struct fake *bad = fake_new(guest_id, FAKE_SYNC, 0), *good = fake_endless(3);
    fake_bind(bad, core);
    assert_int_equal(sc_core_add_queue(core, &good->q), 0);
    assert_int_equal(sc_core_add_queue(core, &bad->q), 0);
    usleep(10000);
    assert_false(sc_queue_failed(&bad->q));

    /* The hostile frontend claims more requests than the ring holds. */
    produce(bad, RING + 5);
    struct pollfd p = { .fd = att, .events = POLLIN };
    assert_int_equal(poll(&p, 1, 5000), 1);
    uint64_t n;
    assert_int_equal(read(att, &n, sizeof(n)), (ssize_t)sizeof(n));
    assert_int_equal(n, 1);
    assert_true(sc_queue_failed(&bad->q));
    assert_int_equal(sc_queue_error(&bad->q), -EPROTO);
    assert_int_equal(qstat(bad, SC_QSTAT_ERRORS), 1);
    assert_int_equal(qstat(bad, SC_QSTAT_REQUESTS), 0);

    /* Further kicks from it are counted but do not revive it. */
    uint64_t polls = qstat(bad, SC_QSTAT_EMPTY_POLLS) + qstat(bad, SC_QSTAT_BUSY_POLLS);
    assert_int_equal(xsim_evtchn_notify(gevt, (evtchn_port_t)bad->gport), 0);
    uint64_t served = qstat(good, SC_QSTAT_REQUESTS);
    usleep(30000); /* time for the kick to arrive and (wrongly) revive it */
    assert_still_served(good, served);
    assert_int_equal(qstat(bad, SC_QSTAT_EMPTY_POLLS) + qstat(bad, SC_QSTAT_BUSY_POLLS), polls);
    assert_int_equal(poll(&p, 1, 0), 0); /* raised once */
    assert_int_equal(core_stats(core).failed, 1);

    /* A failed queue still comes back on remove, and cannot be re-added as is. */
    assert_int_equal(sc_core_remove_queue(core, &bad->q), 0);
    assert_int_equal(sc_core_add_queue(core, &bad->q), -EINVAL);
    fake_free(bad, core);
    fake_remove_free(good, core);
    sc_core_destroy(core);
    close(att);
}

/* Per-queue and per-core statistics as the engine fills them. */
static void stats_and_latency(void **state)
{
    (void)state;
    struct sc_core *core = core_new(0, -1);
    struct fake *f = fake_new(guest_id, FAKE_TIMEOUT, 0);
    f->io_ns = 2000000; /* 2 ms */
    f->req_bytes = 1000;
    fake_bind(f, core);
    assert_int_equal(sc_core_add_queue(core, &f->q), 0);
    struct sc_queue_stats_snap before;
    sc_queue_stats_snapshot(&f->q, &before);
    for (int i = 0; i < 20; i++) {
        produce(f, 4);
        assert_true(wait_answered(f, 5000000000ull));
    }
    struct sc_queue_stats_snap now, d;
    sc_queue_stats_snapshot(&f->q, &now);
    sc_queue_stats_diff(&now, &before, &d);
    assert_int_equal(d.counter[SC_QSTAT_REQUESTS], 80);
    assert_int_equal(d.counter[SC_QSTAT_BYTES], 80000);
    assert_int_equal(d.counter[SC_QSTAT_ERRORS], 0); /* every timeout gave -ETIME */
    assert_true(d.counter[SC_QSTAT_BUSY_POLLS] >= 20);
    assert_int_equal(d.latency.count, 80);
    uint64_t p50 = sc_hist_percentile(&d.latency, 50), p99 = sc_hist_percentile(&d.latency, 99);
    assert_true(p50 >= 1500000); /* the 2 ms timeout, a bucket's slack below */
    assert_true(p50 < 1000000000);
    assert_true(p99 >= p50);
    assert_true(sc_hist_mean(&d.latency) >= 2000000);

    struct sc_core_stats cs = core_stats(core);
    assert_true(cs.rounds >= cs.busy_rounds && cs.busy_rounds > 0);
    assert_true(cs.busy_ns > 0);
    assert_true(cs.sleeps > 0 && cs.sleep_ns > 20ull * 1000000); /* it slept through the I/O */
    assert_int_equal(cs.io_submitted, 80);
    assert_int_equal(cs.io_completed, 80);
    assert_int_equal(cs.queues, 1);
    assert_true(cs.commands >= 1);
    fake_remove_free(f, core);
    sc_core_destroy(core);
}

/* A tenant over its IOPS limit is held to it, and the core sleeps meanwhile. */
static void limit_throttles_and_sleeps(void **state)
{
    (void)state;
    struct sc_core *core = core_new(100000, -1);
    struct sc_sched_tenant_conf c = { .weight = 100, .limit = { .iops = 2000 } };
    assert_int_equal(sc_core_set_tenant(core, 21, &c), 0);
    struct fake *f = fake_endless(21);
    assert_int_equal(sc_core_add_queue(core, &f->q), 0);
    usleep(50000);
    struct sc_core_stats c0 = core_stats(core);
    uint64_t r0 = qstat(f, SC_QSTAT_REQUESTS), t0 = sc_clock_ns();
    usleep(400000);
    uint64_t r1 = qstat(f, SC_QSTAT_REQUESTS), t1 = sc_clock_ns();
    struct sc_core_stats c1 = core_stats(core);
    double iops = (double)(r1 - r0) * 1e9 / (double)(t1 - t0);
    if (iops < 1700 || iops > 2300)
        fail_msg("%.0f IOPS under a limit of 2000", iops);
    assert_true(c1.sleeps - c0.sleeps > 20);
    assert_true(c1.sleep_ns - c0.sleep_ns > 200000000ull); /* mostly asleep */
    fake_remove_free(f, core);
    sc_core_destroy(core);
}

/* Destroying a core with a queue still added drains its I/O first. */
static void destroy_drains_leftover_queue(void **state)
{
    (void)state;
    struct sc_core *core = core_new(0, -1);
    struct fake *f = fake_new(5, FAKE_TIMEOUT, 0);
    f->io_ns = 5000000;
    produce(f, 4);
    assert_int_equal(sc_core_add_queue(core, &f->q), 0);
    wait_consumed(f, 4, 2000000000ull);
    sc_core_destroy(core);
    assert_int_equal(f->inflight, 0);
    assert_int_equal(atomic_load(&f->rsp_prod), 4);
    fake_free(f, NULL);
}

/* ---- commands ---- */

/* A poster's reply inbox and what its done callbacks saw. */
struct poster {
    struct sc_core *core;
    struct sc_inbox reply;
    unsigned id;
    unsigned done;         /* done callbacks run (this thread) */
    unsigned next_done;    /* done order check */
    bool order_ok;
};

struct call_arg {
    struct sc_core_cmd cmd;
    struct poster *p;
    unsigned seq;
};

enum { POSTERS = 3, CALLS = 3000 };
static unsigned ran_next[POSTERS]; /* core thread only */
static bool ran_order_ok = true;   /* core thread only */
static unsigned ran_total;         /* core thread only */

static void record_call(struct sc_core *core, void *arg)
{
    (void)core;
    struct call_arg *a = arg;
    if (a->seq != ran_next[a->p->id])
        ran_order_ok = false;
    ran_next[a->p->id] = a->seq + 1;
    ran_total++;
}

static void call_done(struct sc_core_cmd *cmd)
{
    struct call_arg *a = cmd->owner;
    if (cmd->result != 0 || a->seq != a->p->next_done)
        a->p->order_ok = false;
    a->p->next_done = a->seq + 1;
    a->p->done++;
}

/* Reaps until n commands of p are done; sleeps on the reply inbox. */
static void reap_until(struct poster *p, unsigned n)
{
    while (p->done < n) {
        if (sc_inbox_arm(&p->reply)) {
            struct pollfd pfd = { .fd = sc_inbox_fd(&p->reply), .events = POLLIN };
            if (poll(&pfd, 1, 20000) != 1) {
                fprintf(stderr, "# poster %u: %u of %u done, no ring\n", p->id, p->done, n);
                break;
            }
        }
        sc_inbox_disarm(&p->reply);
        sc_core_cmd_reap(&p->reply);
    }
}

static void *poster_thread(void *arg)
{
    struct poster *p = arg;
    struct call_arg *a = calloc(CALLS, sizeof(*a));
    if (!a)
        return NULL;
    for (unsigned i = 0; i < CALLS; i++) {
        a[i].p = p;
        a[i].seq = i;
        a[i].cmd = (struct sc_core_cmd){ .type = SC_CORE_CMD_CALL, .fn = record_call, .arg = &a[i],
                                         .reply = &p->reply, .done = call_done, .owner = &a[i] };
        if (sc_core_post(p->core, &a[i].cmd) != 0)
            p->order_ok = false;
        if (i % 97 == 0)
            sc_core_cmd_reap(&p->reply); /* reap along the way too */
    }
    reap_until(p, CALLS);
    free(a);
    return NULL;
}

/* Many threads post many commands at once; each thread's run in its order
 * and each comes back to its reply inbox, in order, exactly once. */
static void commands_from_many_threads(void **state)
{
    (void)state;
    struct sc_core *core = core_new(0, -1); /* sleeps whenever idle: the doorbell matters */
    struct fake *busy = fake_endless(1);
    assert_int_equal(sc_core_add_queue(core, &busy->q), 0);
    struct poster ps[POSTERS];
    pthread_t th[POSTERS];
    for (unsigned i = 0; i < POSTERS; i++) {
        ps[i] = (struct poster){ .core = core, .id = i, .order_ok = true };
        assert_int_equal(sc_inbox_init(&ps[i].reply), 0);
        assert_int_equal(pthread_create(&th[i], NULL, poster_thread, &ps[i]), 0);
    }
    for (unsigned i = 0; i < POSTERS; i++) {
        assert_int_equal(pthread_join(th[i], NULL), 0);
        assert_int_equal(ps[i].done, CALLS);
        assert_true(ps[i].order_ok);
    }
    /* removing busy with the sync call synchronises with the core thread:
     * its writes to ran_* are visible after */
    assert_int_equal(sc_core_remove_queue(core, &busy->q), 0);
    assert_int_equal(ran_total, POSTERS * CALLS);
    assert_true(ran_order_ok);
    for (unsigned i = 0; i < POSTERS; i++)
        assert_int_equal(ran_next[i], CALLS);

    /* what post refuses, synchronously */
    struct sc_core_cmd bad = { .type = SC_CORE_CMD_CALL };
    assert_int_equal(sc_core_post(core, &bad), -EINVAL);
    bad = (struct sc_core_cmd){ .type = (enum sc_core_cmd_type)42 };
    assert_int_equal(sc_core_post(core, &bad), -EINVAL);
    bad = (struct sc_core_cmd){ .type = SC_CORE_CMD_REMOVE };
    assert_int_equal(sc_core_post(core, &bad), -EINVAL);
    assert_int_equal(sc_core_post(NULL, &bad), -EINVAL);
    fake_free(busy, core);
    sc_core_destroy(core);
    /* only now: the core may still ring a doorbell after its last answer */
    for (unsigned i = 0; i < POSTERS; i++)
        sc_inbox_destroy(&ps[i].reply);
}

static void count_done(struct sc_core_cmd *cmd)
{
    (*(unsigned *)cmd->owner)++;
}

/* A REMOVE of q answered to reply, counting its completion in *done. */
static struct sc_core_cmd remove_cmd(struct sc_queue *q, struct sc_inbox *reply, unsigned *done)
{
    return (struct sc_core_cmd){ .type = SC_CORE_CMD_REMOVE, .q = q, .reply = reply,
                                 .done = count_done, .owner = done };
}

/* Reaps reply, sleeping on it, until *done is non-zero or timeout_ns passed. */
static void reap_until_done(struct sc_inbox *reply, const unsigned *done, uint64_t timeout_ns)
{
    uint64_t deadline = sc_clock_ns() + timeout_ns;
    while (!*done && sc_clock_ns() < deadline) {
        if (sc_inbox_arm(reply)) {
            struct pollfd p = { .fd = sc_inbox_fd(reply), .events = POLLIN };
            poll(&p, 1, 1000);
        }
        sc_inbox_disarm(reply);
        sc_core_cmd_reap(reply);
    }
}

/* A guest's disk queue and its network queue are two tenants: each has its
 * own key, its own counters and its own settings in the scheduler. */
static void vbd_and_vif_of_a_guest_are_two_tenants(void **state)
{
    (void)state;
    struct sc_queue bad;
    assert_int_equal(sc_queue_init(&bad, new_ops, 5, SC_TCLASS__COUNT, "x"), -EINVAL);
    assert_int_equal(sc_queue_init(&bad, new_ops, DOMID_FIRST_RESERVED, SC_TCLASS_VBD, "x"),
                     -EINVAL);
    assert_int_equal(sc_tenant_key(5, SC_TCLASS_VBD), 5);
    assert_int_equal(sc_tenant_key(5, SC_TCLASS_VIF), 0x8005);
    assert_int_equal(sc_tenant_domid(sc_tenant_key(0x7fef, SC_TCLASS_VIF)), 0x7fef);
    assert_int_equal(sc_tenant_class(sc_tenant_key(0x7fef, SC_TCLASS_VIF)), SC_TCLASS_VIF);
    assert_int_equal(sc_tenant_class(sc_tenant_key(0, SC_TCLASS_VBD)), SC_TCLASS_VBD);
    enum sc_tclass tc;
    assert_int_equal(sc_tclass_parse("vif.weight", 3, &tc), 0);
    assert_int_equal(tc, SC_TCLASS_VIF);
    assert_string_equal(sc_tclass_name(SC_TCLASS_VBD), "vbd");
    assert_int_equal(sc_tclass_parse("vi", 2, &tc), -1);

    struct sc_core *core = core_new(20000, -1);
    sc_tenant_t kd = sc_tenant_key(guest_id, SC_TCLASS_VBD);
    sc_tenant_t kn = sc_tenant_key(guest_id, SC_TCLASS_VIF);
    assert_int_equal(sc_core_set_tenant(core, kn, &(struct sc_sched_tenant_conf){ .weight = 800 }),
                     0);
    struct fake *d = fake_new_class(guest_id, SC_TCLASS_VBD, FAKE_SYNC, 0);
    struct fake *n = fake_new_class(guest_id, SC_TCLASS_VIF, FAKE_SYNC, 0);
    assert_int_equal(d->q.tenant, kd);
    assert_int_equal(n->q.tenant, kn);
    fake_bind(d, core);
    fake_bind(n, core);
    assert_int_equal(sc_core_add_queue(core, &d->q), 0);
    assert_int_equal(sc_core_add_queue(core, &n->q), 0);
    produce(d, 3);
    produce(n, 7);
    assert_true(wait_consumed(d, 3, 5000000000ull));
    assert_true(wait_consumed(n, 7, 5000000000ull));
    struct sc_sched_tenant_stats sd, sn;
    uint64_t deadline = sc_clock_ns() + 5000000000ull;
    do { /* the core publishes its tenants' counters every few ms */
        assert_int_equal(sc_core_tenant_stats(core, kd, &sd), 0);
        assert_int_equal(sc_core_tenant_stats(core, kn, &sn), 0);
        usleep(1000);
    } while ((sd.requests != 3 || sn.requests != 7) && sc_clock_ns() < deadline);
    assert_int_equal(sd.requests, 3);
    assert_int_equal(sn.requests, 7);
    fake_remove_free(d, core);
    fake_remove_free(n, core);
    sc_core_destroy(core);
}

/* Removes wait for their queue's I/O without holding up anything else:
 * two removes pending, a CALL and a SET_TENANT posted after them complete
 * first, and each remove completes when its own I/O does. */
static void removes_pending_hold_up_nothing(void **state)
{
    (void)state;
    struct sc_core *core = core_new(20000, -1);
    struct fake *a = fake_on_core(core, FAKE_HOLD, 0), *b = fake_on_core(core, FAKE_HOLD, 0);
    produce(a, 3);
    produce(b, 5);
    assert_true(wait_consumed(a, 3, 5000000000ull));
    assert_true(wait_consumed(b, 5, 5000000000ull));

    struct sc_inbox reply;
    assert_int_equal(sc_inbox_init(&reply), 0);
    unsigned ra = 0, rb = 0, rcall = 0, rten = 0, rdup = 0;
    struct sc_core_cmd rma = remove_cmd(&a->q, &reply, &ra);
    struct sc_core_cmd rmb = remove_cmd(&b->q, &reply, &rb);
    struct sc_core_cmd dup = remove_cmd(&a->q, &reply, &rdup), call, ten;
    call = (struct sc_core_cmd){ .type = SC_CORE_CMD_CALL, .fn = fake_release, .arg = b,
                                 .reply = &reply, .done = count_done, .owner = &rcall };
    ten = (struct sc_core_cmd){ .type = SC_CORE_CMD_SET_TENANT, .tenant = 77,
                                .conf = { .weight = 200 }, .reply = &reply, .done = count_done,
                                .owner = &rten };
    assert_int_equal(sc_core_post(core, &rma), 0);
    assert_int_equal(sc_core_post(core, &rmb), 0);
    assert_int_equal(sc_core_post(core, &dup), 0);
    assert_int_equal(sc_core_post(core, &ten), 0);
    /* a synchronous call from this thread completes meanwhile too */
    assert_int_equal(sc_core_set_tenant(core, 78, &(struct sc_sched_tenant_conf){ .weight = 5 }), 0);
    struct sc_sched_tenant_stats ts;
    assert_int_equal(sc_core_tenant_stats(core, 77, &ts), 0);
    assert_int_equal(sc_core_tenant_stats(core, 78, &ts), 0);
    /* the commands before the sync one are done by now: reap them */
    assert_int_equal(sc_core_cmd_reap(&reply), 2);
    assert_int_equal(rten, 1);
    assert_int_equal(ten.result, 0);
    assert_int_equal(rdup, 1);
    assert_int_equal(dup.result, -EALREADY);
    assert_int_equal(ra + rb, 0); /* both still held */

    /* b's I/O completes (the CALL answers it): b's remove completes, a's not */
    assert_int_equal(sc_core_post(core, &call), 0);
    reap_until_done(&reply, &rb, 5000000000ull);
    assert_int_equal(rcall, 1);
    assert_int_equal(rb, 1);
    assert_int_equal(rmb.result, 0);
    assert_null(b->q.core);
    assert_int_equal(atomic_load(&b->rsp_prod), 5);
    assert_int_equal(sc_core_set_tenant(core, 78, &(struct sc_sched_tenant_conf){ .weight = 6 }), 0);
    sc_core_cmd_reap(&reply);
    assert_int_equal(ra, 0);

    call.arg = a;
    assert_int_equal(sc_core_post(core, &call), 0);
    reap_until_done(&reply, &ra, 5000000000ull);
    assert_int_equal(ra, 1);
    assert_int_equal(rma.result, 0);
    assert_int_equal(atomic_load(&a->rsp_prod), 3);
    assert_int_equal(sc_core_remove_queue(core, &a->q), -ENOENT);
    fake_free(a, core);
    fake_free(b, core);
    sc_core_destroy(core);
    sc_inbox_destroy(&reply); /* no producer left (inbox.h) */
}

/* A CALL that blocks the core thread until the test lets it go. */
struct gate {
    atomic_int state; /* 0 closed, 1 the core is inside, 2 open */
};

static void gate_call(struct sc_core *core, void *arg)
{
    (void)core;
    struct gate *g = arg;
    atomic_store(&g->state, 1);
    while (atomic_load(&g->state) != 2)
        usleep(100);
}

/* Tenant stats are read from what the core published, even while the core
 * thread cannot answer anything. */
static void tenant_stats_never_wait_on_the_core(void **state)
{
    (void)state;
    struct sc_core *core = core_new(100000, -1);
    struct sc_sched_tenant_stats ts;
    assert_int_equal(sc_core_tenant_stats(core, 31, &ts), -ENOENT);
    assert_int_equal(sc_core_tenant_stats(NULL, 31, &ts), -EINVAL);
    struct fake *f = fake_endless(31);
    assert_int_equal(sc_core_add_queue(core, &f->q), 0);
    /* known as soon as the ADD completed */
    assert_int_equal(sc_core_tenant_stats(core, 31, &ts), 0);
    uint64_t deadline = sc_clock_ns() + 5000000000ull;
    do {
        usleep(1000);
        assert_int_equal(sc_core_tenant_stats(core, 31, &ts), 0);
    } while (ts.requests == 0 && sc_clock_ns() < deadline);
    assert_true(ts.requests > 0); /* published while it runs */

    struct gate g = { 0 };
    struct sc_core_cmd cmd = { .type = SC_CORE_CMD_CALL, .fn = gate_call, .arg = &g };
    assert_int_equal(sc_core_post(core, &cmd), 0);
    while (atomic_load(&g.state) != 1)
        usleep(100);
    /* the core thread is stuck in the CALL: the read still returns */
    assert_int_equal(sc_core_tenant_stats(core, 31, &ts), 0);
    core_stats(core); /* and so does this one */
    atomic_store(&g.state, 2);
    assert_int_equal(sc_core_remove_queue(core, &f->q), 0); /* also: cmd is done after this */
    fake_free(f, core);
    sc_core_destroy(core);
}

/* Destroy with I/O that never completes gives up after its timeout,
 * abandons the queue (its pending REMOVE fails with -ETIMEDOUT), and a
 * core whose queues drain in time reports success. */
static void destroy_within_abandons_hung_io(void **state)
{
    (void)state;
    struct sc_core *core = core_new(0, -1);
    struct fake *f = fake_new(guest_id, FAKE_TIMEOUT, 0);
    f->io_ns = 3600ull * 1000000000ull; /* an hour: "never" */
    produce(f, 4);
    assert_int_equal(sc_core_add_queue(core, &f->q), 0);
    assert_true(wait_consumed(f, 4, 5000000000ull));
    struct sc_inbox reply;
    assert_int_equal(sc_inbox_init(&reply), 0);
    unsigned done = 0;
    struct sc_core_cmd rm = remove_cmd(&f->q, &reply, &done);
    assert_int_equal(sc_core_post(core, &rm), 0);
    assert_int_equal(sc_core_destroy_within(core, 50000000ull), -ETIMEDOUT);
    assert_int_equal(sc_core_cmd_reap(&reply), 1);
    assert_int_equal(done, 1);
    assert_int_equal(rm.result, -ETIMEDOUT);
    assert_int_equal(f->inflight, 4); /* abandoned as it was */
    sc_inbox_destroy(&reply);
    /* the ring's exit cancelled the timeouts (no buffer of f's in them), so
     * here f may go; a real device's abandoned memory must stay */
    fake_free(f, NULL);

    core = core_new(0, -1);
    f = fake_new(5, FAKE_TIMEOUT, 0);
    f->io_ns = 2000000;
    produce(f, 4);
    assert_int_equal(sc_core_add_queue(core, &f->q), 0);
    assert_true(wait_consumed(f, 4, 5000000000ull));
    assert_int_equal(sc_core_destroy_within(core, 20ull * 1000000000ull), 0);
    assert_int_equal(f->inflight, 0);
    assert_int_equal(atomic_load(&f->rsp_prod), 4);
    fake_free(f, NULL);
}

/* A device's quiesce cancels its hung I/O, so removal is bounded; the
 * cancelled requests still complete (and are answered) before it ends. */
static void quiesce_bounds_removal(void **state)
{
    (void)state;
    struct sc_core *core = core_new(0, -1);
    struct fake *f = fake_new(guest_id, FAKE_TIMEOUT, 0), *g = fake_new(guest_id, FAKE_SYNC, 0);
    f->q.ops = &fake_quiesce_ops;
    g->q.ops = &fake_quiesce_ops; /* nothing in flight: quiesce does nothing */
    f->io_ns = 3600ull * 1000000000ull; /* an hour: "never" */
    produce(f, 6);
    produce(g, 2);
    assert_int_equal(sc_core_add_queue(core, &f->q), 0);
    assert_int_equal(sc_core_add_queue(core, &g->q), 0);
    assert_true(wait_consumed(f, 6, 5000000000ull));
    assert_true(wait_answered(g, 5000000000ull));
    assert_int_equal(f->quiesced, 0);

    struct sc_inbox reply;
    assert_int_equal(sc_inbox_init(&reply), 0);
    unsigned done = 0;
    struct sc_core_cmd rm = remove_cmd(&f->q, &reply, &done);
    assert_int_equal(sc_core_post(core, &rm), 0);
    /* a liveness bound, not a speed check: without the cancel it is an hour */
    reap_until_done(&reply, &done, 20000000000ull);
    assert_int_equal(done, 1);
    assert_int_equal(rm.result, 0);
    assert_int_equal(f->quiesced, 1);
    assert_int_equal(f->inflight, 0);
    assert_int_equal(atomic_load(&f->rsp_prod), 6); /* answered (as errors) */
    assert_int_equal(qstat(f, SC_QSTAT_ERRORS), 6);
    assert_int_equal(sc_core_remove_queue(core, &g->q), 0);
    assert_int_equal(g->quiesced, 1);
    fake_free(f, NULL);
    fake_free(g, NULL);
    sc_core_destroy(core);
    sc_inbox_destroy(&reply); /* no producer left (inbox.h) */
}

/* A removal with a grace: I/O that completes within it is drained, not
 * cancelled (no error for the guest); I/O still in flight when it ends is
 * quiesced; a removal that must never fail requests (SC_CORE_NEVER) waits. */
static void quiesce_waits_for_the_grace(void **state)
{
    (void)state;
    struct sc_core *core = core_new(0, -1);
    struct fake *quick = fake_new(guest_id, FAKE_TIMEOUT, 0);
    struct fake *hung = fake_new(guest_id, FAKE_TIMEOUT, 0);
    quick->q.ops = hung->q.ops = &fake_quiesce_ops;
    quick->io_ns = 100ull * 1000000ull;          /* 100 ms */
    hung->io_ns = 3600ull * 1000000000ull;       /* an hour: "never" */
    produce(quick, 3);
    produce(hung, 3);
    assert_int_equal(sc_core_add_queue(core, &quick->q), 0);
    assert_int_equal(sc_core_add_queue(core, &hung->q), 0);
    assert_true(wait_consumed(quick, 3, 5000000000ull));
    assert_true(wait_consumed(hung, 3, 5000000000ull));

    struct sc_inbox reply;
    assert_int_equal(sc_inbox_init(&reply), 0);
    unsigned quick_done = 0, hung_done = 0;
    struct sc_core_cmd rq = remove_cmd(&quick->q, &reply, &quick_done);
    struct sc_core_cmd rh = remove_cmd(&hung->q, &reply, &hung_done);
    rq.quiesce_after_ns = 3600ull * 1000000000ull; /* the I/O ends long before */
    rh.quiesce_after_ns = 200ull * 1000000ull;
    assert_int_equal(sc_core_post(core, &rq), 0);
    assert_int_equal(sc_core_post(core, &rh), 0);
    reap_until_done(&reply, &quick_done, 20000000000ull);
    assert_int_equal(quick_done, 1);
    assert_int_equal(quick->quiesced, 0);
    assert_int_equal(qstat(quick, SC_QSTAT_ERRORS), 0); /* drained: answered OK */
    assert_int_equal(atomic_load(&quick->rsp_prod), 3);
    /* the hung one is quiesced when its grace ends (the core wakes for it) */
    reap_until_done(&reply, &hung_done, 20000000000ull);
    assert_int_equal(hung_done, 1);
    assert_int_equal(hung->quiesced, 1);
    assert_int_equal(qstat(hung, SC_QSTAT_ERRORS), 3);
    fake_free(quick, NULL);
    fake_free(hung, NULL);

    /* SC_CORE_NEVER: not quiesced, the removal waits for the I/O */
    struct fake *slow = fake_new(guest_id, FAKE_TIMEOUT, 0);
    slow->q.ops = &fake_quiesce_ops;
    slow->io_ns = 300ull * 1000000ull;
    produce(slow, 2);
    assert_int_equal(sc_core_add_queue(core, &slow->q), 0);
    assert_true(wait_consumed(slow, 2, 5000000000ull));
    unsigned slow_done = 0; /* same reply inbox: destroyed only after the core */
    struct sc_core_cmd rs = remove_cmd(&slow->q, &reply, &slow_done);
    rs.quiesce_after_ns = SC_CORE_NEVER;
    assert_int_equal(sc_core_post(core, &rs), 0);
    reap_until_done(&reply, &slow_done, 20000000000ull);
    assert_int_equal(slow_done, 1);
    assert_int_equal(slow->quiesced, 0);
    assert_int_equal(qstat(slow, SC_QSTAT_ERRORS), 0);
    fake_free(slow, NULL);
    sc_core_destroy(core);
    sc_inbox_destroy(&reply); /* no producer left (inbox.h) */
}

/* The device's own counters sit beside the generic ones, written by its
 * core-thread code and read from anywhere. */
static void device_counters(void **state)
{
    (void)state;
    static const char *const names[] = { "visits", "odd_requests" };
    struct sc_core *core = core_new(0, -1);
    struct fake *f = fake_new(guest_id, FAKE_SYNC, 0);
    const char *const *got = names;
    uint64_t v[3] = { 7, 7, 7 };
    assert_int_equal(sc_queue_device_counters(&f->q, &got, v, 3), 0);
    assert_null(got);
    assert_int_equal(sc_queue_set_device_counters(&f->q, names, 2, NULL), -EINVAL);
    assert_int_equal(sc_queue_set_device_counters(&f->q, NULL, 2, f->dev), -EINVAL);
    assert_int_equal(sc_queue_set_device_counters(&f->q, names, SC_QUEUE_DEVICE_COUNTERS_MAX + 1,
                                                  f->dev), -EINVAL);
    assert_int_equal(sc_queue_set_device_counters(&f->q, names, 2, f->dev), 0);
    produce(f, 9);
    assert_int_equal(sc_core_add_queue(core, &f->q), 0);
    assert_int_equal(sc_queue_set_device_counters(&f->q, names, 1, f->dev), -EBUSY);
    assert_true(wait_answered(f, 5000000000ull));
    uint64_t deadline = sc_clock_ns() + 2000000000ull;
    do {
        assert_int_equal(sc_queue_device_counters(&f->q, &got, v, 3), 2);
    } while (v[1] != 4 && sc_clock_ns() < deadline);
    assert_ptr_equal(got, names);
    assert_string_equal(got[1], "odd_requests");
    assert_true(v[0] >= 1);
    assert_int_equal(v[1], 4); /* requests 1, 3, 5, 7 */
    assert_int_equal(v[2], 7); /* beyond n: untouched */
    assert_int_equal(sc_queue_device_counters(&f->q, NULL, v, 1), 2);
    assert_int_equal(sc_core_remove_queue(core, &f->q), 0);
    assert_int_equal(sc_queue_set_device_counters(&f->q, NULL, 0, NULL), 0);
    assert_int_equal(sc_queue_device_counters(&f->q, NULL, NULL, 0), 0);
    fake_free(f, core);
    sc_core_destroy(core);
}

/* A queue's fd wakes the sleeping core, whose visit then reads it. */
static void watched_fd_wakes_the_core(void **state)
{
    (void)state;
    struct sc_core *core = core_new(0, -1);
    struct fake *f = fake_new(guest_id, FAKE_SYNC, 0), *g = fake_new(guest_id, FAKE_SYNC, 0);
    int p[2];
    fake_pipe(f, p);
    assert_int_equal(sc_queue_watch_fd(&f->q, -1), -EINVAL);
    assert_int_equal(sc_queue_watch_fd(&f->q, p[0]), 0);
    assert_int_equal(sc_queue_watch_fd(&f->q, p[0]), -EEXIST);
    assert_int_equal(sc_queue_watch_fd(&g->q, p[0]), 0);
    for (int i = 0; i < SC_QUEUE_MAX_FDS - 1; i++)
        assert_int_equal(sc_queue_watch_fd(&g->q, 100 + i), 0);
    assert_int_equal(sc_queue_watch_fd(&g->q, 200), -ENOSPC);
    assert_int_equal(sc_core_add_queue(core, &f->q), 0);
    assert_int_equal(sc_queue_watch_fd(&f->q, p[1]), -EBUSY);
    /* the same fd on two queues of a core: refused (and nothing left behind) */
    g->q.nfds = 1;
    assert_int_equal(sc_core_add_queue(core, &g->q), -EEXIST);
    assert_null(g->q.core);

    /* Nothing else can wake this core (no kick, no I/O, no command), so
     * every byte read after the first proves a wake by the fd. */
    struct sc_core_stats c0 = core_stats(core);
    for (int i = 0; i < 10; i++) {
        wait_core_quiet(core);
        assert_int_equal(write(p[1], "x", 1), 1);
        assert_fd_bytes_reach(f, (uint64_t)i + 1);
    }
    struct sc_core_stats c1 = core_stats(core);
    assert_true(c1.wakeups - c0.wakeups >= 5); /* all 10 unless a write beat the sleep */
    assert_int_equal(sc_core_remove_queue(core, &f->q), 0);
    /* the remove took the fd off the core's epoll: it can be watched anew */
    assert_int_equal(sc_core_add_queue(core, &g->q), 0);
    assert_int_equal(sc_core_remove_queue(core, &g->q), 0);
    assert_int_equal(sc_core_add_queue(core, &f->q), 0);
    assert_int_equal(sc_core_remove_queue(core, &f->q), 0);
    close(p[0]);
    close(p[1]);
    fake_free(f, core);
    fake_free(g, core);
    sc_core_destroy(core);
}

/* ---- ports ---- */

/* Binds one more event channel for the core's handle; the guest's end in *gport. */
static int bind_extra(struct sc_core *core, int *gport)
{
    *gport = xsim_evtchn_alloc_unbound(gevt, 0);
    assert_true(*gport > 0);
    int lport = sc_evtchn_bind_interdomain(sc_core_evtchn(core), guest_id, (evtchn_port_t)*gport);
    assert_true(lport > 0);
    return lport;
}

/* One queue on two ports: a kick on either wakes the sleeping core and
 * counts on the queue. */
static void queue_with_two_ports(void **state)
{
    (void)state;
    struct sc_core *core = core_new(0, -1);
    struct fake *f = fake_new(guest_id, FAKE_SYNC, 0);
    fake_bind(f, core);
    int g2;
    f->q.ports[1] = bind_extra(core, &g2);
    assert_int_equal(sc_core_add_queue(core, &f->q), 0);
    for (int i = 0; i < 20; i++) {
        wait_rearmed(f);
        uint64_t kicks = qstat(f, SC_QSTAT_KICKS);
        uint64_t sent = f->kicks_sent;
        produce_via(f, 1, i % 2 ? g2 : f->gport);
        assert_int_equal(f->kicks_sent, sent + 1); /* it was due: the core had rearmed */
        if (!wait_answered(f, 5000000000ull))
            fail_msg("cycle %d (port %d): not answered", i, i % 2);
        assert_true(wait_qstat(f, SC_QSTAT_KICKS, kicks + 1, 2000000000ull));
    }
    assert_int_equal(core_stats(core).stray_kicks, 0);
    assert_int_equal(sc_queue_notify_port(&f->q, 2), -EINVAL);
    assert_int_equal(sc_core_remove_queue(core, &f->q), 0);
    assert_int_equal(sc_evtchn_unbind(sc_core_evtchn(core), (evtchn_port_t)f->q.ports[1]), 0);
    xsim_evtchn_unbind(gevt, (evtchn_port_t)g2);
    fake_free(f, core);
    sc_core_destroy(core);
}

/* Two queues behind one port: both are served, both count each kick, and
 * removing one leaves the other working. */
static void queues_sharing_a_port(void **state)
{
    (void)state;
    struct sc_core *core = core_new(0, -1);
    struct fake *a = fake_new(guest_id, FAKE_SYNC, 0), *b = fake_new(guest_id, FAKE_SYNC, 0);
    fake_bind(a, core);
    b->q.port = a->q.port;
    b->gport = a->gport;
    assert_int_equal(sc_core_add_queue(core, &a->q), 0);
    assert_int_equal(sc_core_add_queue(core, &b->q), 0);
    for (int i = 0; i < 10; i++) {
        struct fake *f = i % 2 ? b : a;
        wait_rearmed(a);
        wait_rearmed(b);
        uint64_t ka = qstat(a, SC_QSTAT_KICKS), kb = qstat(b, SC_QSTAT_KICKS);
        uint64_t sent = f->kicks_sent;
        produce(f, 2);
        assert_int_equal(f->kicks_sent, sent + 1);
        if (!wait_answered(f, 5000000000ull))
            fail_msg("cycle %d: queue %c not answered", i, i % 2 ? 'b' : 'a');
        /* one kick, counted once on each queue of the port */
        assert_true(wait_qstat(a, SC_QSTAT_KICKS, ka + 1, 2000000000ull));
        assert_true(wait_qstat(b, SC_QSTAT_KICKS, kb + 1, 2000000000ull));
        assert_int_equal(qstat(a, SC_QSTAT_KICKS), ka + 1);
        assert_int_equal(qstat(b, SC_QSTAT_KICKS), kb + 1);
    }
    assert_int_equal(sc_core_remove_queue(core, &a->q), 0);
    uint64_t ka = qstat(a, SC_QSTAT_KICKS);
    for (int i = 0; i < 5; i++) {
        wait_rearmed(b);
        uint64_t kb = qstat(b, SC_QSTAT_KICKS);
        produce(b, 1);
        assert_true(wait_answered(b, 5000000000ull));
        assert_true(wait_qstat(b, SC_QSTAT_KICKS, kb + 1, 2000000000ull));
    }
    assert_int_equal(qstat(a, SC_QSTAT_KICKS), ka);
    assert_int_equal(core_stats(core).stray_kicks, 0);
    assert_int_equal(sc_core_remove_queue(core, &b->q), 0);
    fake_free(a, core);
    b->q.port = SC_QUEUE_NO_PORT;
    b->gport = -1;
    fake_free(b, core);
    sc_core_destroy(core);
}

/* ---- parking ---- */

/* An idle queue with pending() leaves the scheduler: no more visits while
 * the core serves another, and work that turns up without a kick (the core
 * is awake, so none is due) is still found and served. */
static void idle_queues_are_parked(void **state)
{
    (void)state;
    enum { IDLE = 40 };
    struct sc_core *core = core_new(5000000000ull, -1);
    struct fake *busy = fake_new_parking(1, FAKE_SYNC, 0), *idle[IDLE];
    busy->endless = true;
    assert_int_equal(sc_core_add_queue(core, &busy->q), 0);
    for (int i = 0; i < IDLE; i++) {
        idle[i] = fake_new_parking((domid_t)(100 + i % 4), i % 2 ? FAKE_SYNC : FAKE_NOP, 0);
        assert_int_equal(sc_core_add_queue(core, &idle[i]->q), 0);
    }
    /* each is visited once (added as "has work"), then parked */
    for (int i = 0; i < IDLE; i++)
        assert_true(wait_qstat(idle[i], SC_QSTAT_EMPTY_POLLS, 1, 5000000000ull));
    uint64_t polls[IDLE];
    usleep(20000);
    for (int i = 0; i < IDLE; i++)
        polls[i] = qstat(idle[i], SC_QSTAT_EMPTY_POLLS);
    uint64_t served = qstat(busy, SC_QSTAT_REQUESTS);
    usleep(50000);
    assert_true(qstat(busy, SC_QSTAT_REQUESTS) > served);
    for (int i = 0; i < IDLE; i++)
        if (qstat(idle[i], SC_QSTAT_EMPTY_POLLS) != polls[i])
            fail_msg("idle queue %d visited while parked: %llu -> %llu empty polls", i,
                     (unsigned long long)polls[i],
                     (unsigned long long)qstat(idle[i], SC_QSTAT_EMPTY_POLLS));
    /* requests on parked queues, no kick: pending() finds them */
    for (int round = 0; round < 20; round++) {
        for (int i = round % 3; i < IDLE; i += 3)
            produce(idle[i], 1 + (uint32_t)(i % 4));
        for (int i = round % 3; i < IDLE; i += 3)
            if (!wait_answered(idle[i], 5000000000ull))
                fail_msg("round %d: parked queue %d not served", round, i);
    }
    for (int i = 0; i < IDLE; i++)
        assert_int_equal(qstat(idle[i], SC_QSTAT_KICKS), 0);
    for (int i = 0; i < IDLE; i++) {
        assert_int_equal(sc_core_remove_queue(core, &idle[i]->q), 0);
        assert_int_equal(idle[i]->inflight, 0);
        fake_free(idle[i], core);
    }
    fake_remove_free(busy, core);
    sc_core_destroy(core);
}

/* The fixture of the tests run again with parking queues (PARKED_TEST):
 * fake_new gives the parking ops meanwhile.  For the sleeping-core tests,
 * parked queues are rearmed before every sleep, so no kick is lost. */
static int parking_on(void **state)
{
    (void)state;
    new_ops = &fake_parking_ops;
    return 0;
}

static int parking_off(void **state)
{
    (void)state;
    new_ops = &fake_ops;
    return 0;
}

#define PARKED_TEST(title, fn) \
    { .name = (title), .test_func = (fn), .setup_func = parking_on, .teardown_func = parking_off }

/* A parked queue's fd data is found while the core is busy with others
 * (it never sleeps here): its pending() cannot see the fd. */
static void watched_fd_unparks_while_busy(void **state)
{
    (void)state;
    struct sc_core *core = core_new(5000000000ull, -1);
    struct fake *busy = fake_endless(1);
    struct fake *f = fake_new_parking(guest_id, FAKE_SYNC, 0);
    int p[2];
    fake_pipe(f, p);
    assert_int_equal(sc_queue_watch_fd(&f->q, p[0]), 0);
    assert_int_equal(sc_core_add_queue(core, &busy->q), 0);
    assert_int_equal(sc_core_add_queue(core, &f->q), 0);
    for (int i = 0; i < 20; i++) {
        /* parked: its empty polls stop growing */
        uint64_t deadline = sc_clock_ns() + 5000000000ull, e;
        do {
            e = qstat(f, SC_QSTAT_EMPTY_POLLS);
            usleep(2000);
        } while (qstat(f, SC_QSTAT_EMPTY_POLLS) != e && sc_clock_ns() < deadline);
        assert_int_equal(write(p[1], "xy", 2), 2);
        assert_fd_bytes_reach(f, 2 * ((uint64_t)i + 1));
    }
    assert_int_equal(core_stats(core).sleeps, 0);
    assert_int_equal(sc_core_remove_queue(core, &f->q), 0);
    assert_int_equal(sc_core_remove_queue(core, &busy->q), 0);
    close(p[0]);
    close(p[1]);
    fake_free(f, core);
    fake_free(busy, core);
    sc_core_destroy(core);
}

/* Each queue's load is the core's time in its own visits: a queue whose
 * visits cost 50 us shows at least that per visit, and more than a cheap
 * queue beside it; together they stay within the core's time. */
static void queue_busy_time_is_its_own(void **state)
{
    (void)state;
    struct sc_core *core = core_new(SC_CORE_POLL_IDLE_DEFAULT, -1);
    struct fake *cheap = fake_endless(guest_id), *dear = fake_endless(guest_id);
    dear->visit_spin_ns = 50000;
    assert_int_equal(sc_core_add_queue(core, &cheap->q), 0);
    assert_int_equal(sc_core_add_queue(core, &dear->q), 0);
    assert_true(wait_qstat(dear, SC_QSTAT_BUSY_POLLS, 200, 10000000000ull));
    assert_int_equal(sc_core_remove_queue(core, &cheap->q), 0);
    assert_int_equal(sc_core_remove_queue(core, &dear->q), 0);
    struct sc_queue_stats_snap c, d;
    sc_queue_stats_snapshot(&cheap->q, &c);
    sc_queue_stats_snapshot(&dear->q, &d);
    struct sc_core_stats cs = core_stats(core);
    assert_true(d.counter[SC_QSTAT_BUSY_NS] >= d.counter[SC_QSTAT_BUSY_POLLS] * 50000);
    assert_true(c.counter[SC_QSTAT_BUSY_NS] > 0);
    assert_true(c.counter[SC_QSTAT_BUSY_NS] < d.counter[SC_QSTAT_BUSY_NS]);
    assert_true(c.counter[SC_QSTAT_BUSY_NS] + d.counter[SC_QSTAT_BUSY_NS] <=
                cs.busy_ns + cs.idle_ns);
    fake_free(cheap, core);
    fake_free(dear, core);
    sc_core_destroy(core);
}

/* One request, answered, then a sleep of ms: the core sleeps through it. */
static void sparse_requests(struct fake *f, unsigned n, unsigned gap_ms)
{
    for (unsigned i = 0; i < n; i++) {
        produce(f, 1);
        assert_true(wait_answered(f, 5000000000ull));
        usleep(gap_ms * 1000);
    }
}

/* The adaptive window: sleeps longer than poll_idle_ns halve it down to 0
 * (200 -> 100 -> 50 -> 25 -> 12.5 us -> 0: five halvings, then it stays);
 * a sleep that work ends sooner grows it again; a fixed window never moves. */
static void adaptive_window_follows_gaps(void **state)
{
    (void)state;
    struct sc_core *core = core_made(200000, -1, true);
    struct fake *f = fake_new(guest_id, FAKE_SYNC, 0);
    fake_bind(f, core);
    assert_int_equal(sc_core_add_queue(core, &f->q), 0);
    assert_int_equal(core_stats(core).poll_window_ns, 200000);
    sparse_requests(f, 10, 20);
    struct sc_core_stats cs = core_stats(core);
    assert_int_equal(cs.poll_window_ns, 0);
    assert_int_equal(cs.window_shrinks, 5);
    assert_int_equal(cs.window_grows, 0);

    /* requests about every 20 us (the test spins): most sleeps end early */
    for (unsigned i = 0; i < 2000 && core_stats(core).window_grows == 0; i++) {
        produce(f, 1);
        assert_true(wait_answered(f, 5000000000ull));
        uint64_t until = sc_clock_ns() + 20000;
        while (sc_clock_ns() < until)
            ;
    }
    cs = core_stats(core);
    assert_true(cs.window_grows >= 1);
    fake_remove_free(f, core);
    sc_core_destroy(core);

    core = core_new(200000, -1);
    f = fake_on_core(core, FAKE_SYNC, 0);
    sparse_requests(f, 4, 20);
    cs = core_stats(core);
    assert_int_equal(cs.poll_window_ns, 200000);
    assert_int_equal(cs.window_shrinks + cs.window_grows, 0);
    fake_remove_free(f, core);
    sc_core_destroy(core);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(create_rejects_bad_params),
        cmocka_unit_test(vbd_and_vif_of_a_guest_are_two_tenants),
        cmocka_unit_test(kick_wakes_sleeping_core_every_time),
        cmocka_unit_test(no_lost_kick_around_rearm),
        cmocka_unit_test(polling_suppresses_kicks),
        cmocka_unit_test(add_remove_while_running),
        cmocka_unit_test(fair_share_by_weight),
        cmocka_unit_test(failing_queue_raises_attention),
        cmocka_unit_test(stats_and_latency),
        cmocka_unit_test(limit_throttles_and_sleeps),
        cmocka_unit_test(destroy_drains_leftover_queue),
        cmocka_unit_test(commands_from_many_threads),
        cmocka_unit_test(removes_pending_hold_up_nothing),
        cmocka_unit_test(tenant_stats_never_wait_on_the_core),
        cmocka_unit_test(destroy_within_abandons_hung_io),
        cmocka_unit_test(quiesce_bounds_removal),
        cmocka_unit_test(quiesce_waits_for_the_grace),
        cmocka_unit_test(queue_with_two_ports),
        cmocka_unit_test(queues_sharing_a_port),
        cmocka_unit_test(device_counters),
        cmocka_unit_test(watched_fd_wakes_the_core),
        cmocka_unit_test(idle_queues_are_parked),
        PARKED_TEST("kick_wakes_sleeping_core_parked", kick_wakes_sleeping_core_every_time),
        PARKED_TEST("no_lost_kick_around_rearm_parked", no_lost_kick_around_rearm),
        PARKED_TEST("polling_suppresses_kicks_parked", polling_suppresses_kicks),
        PARKED_TEST("watched_fd_wakes_the_core_parked", watched_fd_wakes_the_core),
        cmocka_unit_test(watched_fd_unparks_while_busy),
        cmocka_unit_test(queue_busy_time_is_its_own),
        cmocka_unit_test(adaptive_window_follows_gaps),
    };
    return cmocka_run_group_tests(tests, world_up, world_down);
}
