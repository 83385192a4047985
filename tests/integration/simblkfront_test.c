/*
 * simblkfront_test.c - the simulated blkfront (tools/simfront/blkfront.h)
 * against a fake backend written here: a forked process acting as dom0
 * through xenstore and xsim grant mapping, serving the rings with
 * blk_proto.c and a small in-memory disk.
 *
 * Checks: the frontend keys Linux blkfront writes for every combination of
 * what the backend offers and what the frontend wants (each feature off in
 * turn), data through direct, indirect, persistent and non-persistent paths
 * and the x86_32 ABI, reconnect, resize, a backend that keeps a grant mapped
 * (end_access -EBUSY counted), and the simblkfront CLI: verify passes on a
 * good disk, fails (exit 1) on a backend that flips a byte, and a missing
 * backend is a negotiation failure (exit 3).
 */
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <xenstore.h>
#include <xen/io/xenbus.h>
#include <cmocka.h>

#include "blk_proto.h"
#include "blkfront.h"
#include "fe_fixture.h"
#include "xensim.h"
#include "xensim_guest.h"
#include "xsfront.h"

#define DEVID 51712u
#define DISK_SECTORS 8192u      /* 4 MiB */

/* ---------------- the fake backend (child process) ---------------- */

struct fake_opts {
    int max_ring_order;         /* -1: key absent */
    int max_queues;             /* -1: key absent */
    int max_indirect;           /* 0: key absent */
    bool persistent, flush, discard;
    bool corrupt_reads;         /* flip a byte of every non-zero sector read */
    bool leak_first_map;        /* keep the first data mapping until disconnect */
};

struct fake_queue {
    struct blk_ring ring;
    void *sring;
    unsigned pages;
    struct xsim_evtchn *evh;
    int port;
};

struct fake {
    struct fake_opts o;
    struct xsim *xs;
    struct xs_handle *h;
    domid_t fe_dom;
    char be[128], fe[128];
    uint8_t *disk;
    struct fake_queue q[BF_MAX_QUEUES];
    unsigned nq;
    struct blk_limits lim;
    void *leaked;
};

/* Backend keys are written unchecked: the frontend under test notices. */
#define fk_write(f, dir, key, ...) xsf_printf((f)->h, XBT_NULL, dir, key, __VA_ARGS__)

static long fk_read(struct fake *f, const char *dir, const char *key, long dflt, char *sbuf,
                    size_t slen)
{
    char *v = xsf_read(f->h, dir, key);
    if (!v)
        return dflt;
    long x = strtol(v, NULL, 10);
    if (sbuf)
        snprintf(sbuf, slen, "%s", v);
    free(v);
    return x;
}

static void fk_publish(struct fake *f)
{
    if (f->o.max_ring_order >= 0)
        fk_write(f, f->be, "max-ring-page-order", "%d", f->o.max_ring_order);
    if (f->o.max_queues >= 0)
        fk_write(f, f->be, "multi-queue-max-queues", "%d", f->o.max_queues);
    if (f->o.max_indirect)
        fk_write(f, f->be, "feature-max-indirect-segments", "%d", f->o.max_indirect);
    fk_write(f, f->be, "feature-persistent", "%d", f->o.persistent);
    fk_write(f, f->be, "feature-flush-cache", "%d", f->o.flush);
    fk_write(f, f->be, "feature-barrier", "0");
    fk_write(f, f->be, "feature-discard", "%d", f->o.discard);
    if (f->o.discard) {
        fk_write(f, f->be, "discard-granularity", "4096");
        fk_write(f, f->be, "discard-alignment", "0");
    }
    fk_write(f, f->be, "state", "%d", XenbusStateInitWait);
}

static int fk_connect(struct fake *f)
{
    char proto[32] = "";
    f->nq = (unsigned)fk_read(f, f->fe, "multi-queue-num-queues", 1, NULL, 0);
    unsigned order = (unsigned)fk_read(f, f->fe, "ring-page-order", 0, NULL, 0);
    fk_read(f, f->fe, "protocol", 0, proto, sizeof(proto));
    enum blk_abi abi;
    if (f->nq < 1 || f->nq > BF_MAX_QUEUES || order > 4 || blk_abi_from_protocol(proto, &abi))
        return -EPROTO;
    for (unsigned i = 0; i < f->nq; i++) {
        struct fake_queue *q = &f->q[i];
        char dir[160];
        if (f->nq > 1)
            snprintf(dir, sizeof(dir), "%s/queue-%u", f->fe, i);
        else
            snprintf(dir, sizeof(dir), "%s", f->fe);
        q->pages = 1u << order;
        grant_ref_t refs[16];
        for (unsigned p = 0; p < q->pages; p++) {
            char key[24];
            if (q->pages == 1)
                snprintf(key, sizeof(key), "ring-ref");
            else
                snprintf(key, sizeof(key), "ring-ref%u", p);
            refs[p] = (grant_ref_t)fk_read(f, dir, key, 0, NULL, 0);
        }
        q->sring = xsim_grant_map(f->xs, f->fe_dom, q->pages, refs, true, NULL);
        if (!q->sring)
            return -errno;
        if (blk_ring_attach(&q->ring, q->sring, q->pages, abi, NULL, 0, NULL))
            return -EPROTO;
        q->evh = xsim_evtchn_open(f->xs);
        long port = fk_read(f, dir, "event-channel", -1, NULL, 0);
        q->port = q->evh ? xsim_evtchn_bind_interdomain(q->evh, f->fe_dom, (evtchn_port_t)port)
                         : -EIO;
        if (q->port < 0)
            return q->port;
    }
    f->lim = (struct blk_limits){
        .disk_sectors = DISK_SECTORS, .sector_size = 512, .flush = f->o.flush,
        .discard = f->o.discard, .persistent = f->o.persistent,
        .max_indirect_segments = (uint16_t)(f->o.max_indirect > 256 ? 256 : f->o.max_indirect),
    };
    fk_write(f, f->be, "sectors", "%u", DISK_SECTORS);
    fk_write(f, f->be, "info", "0");
    fk_write(f, f->be, "sector-size", "512");
    fk_write(f, f->be, "physical-sector-size", "4096");
    fk_write(f, f->be, "state", "%d", XenbusStateConnected);
    return 0;
}

static void fk_disconnect(struct fake *f)
{
    if (f->leaked) {
        xsim_grant_unmap(f->xs, f->leaked, 1);
        f->leaked = NULL;
    }
    for (unsigned i = 0; i < f->nq; i++) {
        struct fake_queue *q = &f->q[i];
        if (q->evh)
            xsim_evtchn_close(q->evh);
        blk_ring_detach(&q->ring);
        if (q->sring)
            xsim_grant_unmap(f->xs, q->sring, q->pages);
        memset(q, 0, sizeof(*q));
    }
    f->nq = 0;
}

static int16_t fk_data(struct fake *f, const struct blk_req *req, const struct blk_req_check *c)
{
    uint64_t sector = c->sector;
    for (unsigned i = 0; i < c->nr_segments; i++) {
        const struct blk_seg *s = &req->seg[i];
        uint8_t *page = xsim_grant_map(f->xs, f->fe_dom, 1, &s->gref, c->reads, NULL);
        if (!page)
            return BLKIF_RSP_ERROR;
        size_t off = (size_t)s->first_sect * 512;
        size_t len = (size_t)(s->last_sect - s->first_sect + 1) * 512;
        uint8_t *d = f->disk + sector * 512;
        if (c->reads) {
            memcpy(page + off, d, len);
            if (f->o.corrupt_reads) /* every sector that holds data */
                for (size_t k = off; k < off + len; k += 512)
                    for (size_t b = 0; b < 512; b++)
                        if (page[k + b]) {
                            page[k + 100] ^= 0x40;
                            break;
                        }
        } else {
            memcpy(d, page + off, len);
        }
        sector += len / 512;
        if (f->o.leak_first_map && !f->leaked)
            f->leaked = page;
        else
            xsim_grant_unmap(f->xs, page, 1);
    }
    return BLKIF_RSP_OKAY;
}

static int16_t fk_handle(struct fake *f, struct blk_req *req)
{
    struct blk_req_check c;
    int err = blk_req_validate(req, &f->lim, &c);
    if (!err && c.indirect_pages) {
        void *base = xsim_grant_map(f->xs, f->fe_dom, c.indirect_pages, req->indirect_grefs,
                                    false, NULL);
        if (!base)
            return BLKIF_RSP_ERROR;
        void *pages[BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST];
        for (unsigned i = 0; i < c.indirect_pages; i++)
            pages[i] = (uint8_t *)base + (size_t)i * 4096;
        err = blk_req_load_indirect(req, pages, c.indirect_pages, &f->lim, &c);
        xsim_grant_unmap(f->xs, base, c.indirect_pages);
    }
    if (err)
        return blk_req_rsp_status(err);
    if (c.discard) {
        memset(f->disk + c.sector * 512, 0, c.nr_sectors * 512);
        return BLKIF_RSP_OKAY;
    }
    return fk_data(f, req, &c);
}

static void fk_serve(struct fake *f)
{
    static struct blk_req req;
    for (unsigned i = 0; i < f->nq; i++) {
        struct fake_queue *q = &f->q[i];
        int p;
        while ((p = xsim_evtchn_pending(q->evh)) >= 0)
            xsim_evtchn_unmask(q->evh, (evtchn_port_t)p);
        do {
            while (blk_ring_fetch(&q->ring, &req) == 0) {
                int16_t st = fk_handle(f, &req);
                blk_ring_put_response(&q->ring, req.ring_idx, req.id, req.operation, st);
            }
            if (blk_ring_push_responses(&q->ring))
                xsim_evtchn_notify(q->evh, (evtchn_port_t)q->port);
        } while (blk_ring_final_check(&q->ring));
    }
}

/* Runs until killed; follows the frontend's state as Linux blkback does. */
static void __attribute__((noreturn)) fake_backend_main(const char *dir, domid_t fe_dom,
                                                        const struct fake_opts *o)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    struct fake f = { .o = *o, .fe_dom = fe_dom };
    char xsp[300];
    snprintf(xsp, sizeof(xsp), "%s/xs-0.sock", dir);
    setenv("XENSTORED_PATH", xsp, 1);
    f.xs = xsim_open(dir, 0);
    f.h = xs_open(XS_OPEN_SOCKETONLY);
    f.disk = calloc(DISK_SECTORS, 512);
    if (!f.xs || !f.h || !f.disk)
        _exit(1);
    snprintf(f.be, sizeof(f.be), "/local/domain/0/backend/vbd/%u/%u", fe_dom, DEVID);
    snprintf(f.fe, sizeof(f.fe), "/local/domain/%u/device/vbd/%u", fe_dom, DEVID);
    char fest[200];
    snprintf(fest, sizeof(fest), "%s/state", f.fe);
    xs_watch(f.h, fest, "fe");
    fk_publish(&f);
    bool connected = false;
    int be_state = XenbusStateInitWait;
    for (;;) {
        struct pollfd pfd[BF_MAX_QUEUES + 1];
        unsigned n = 0;
        pfd[n++] = (struct pollfd){ .fd = xs_fileno(f.h), .events = POLLIN };
        for (unsigned i = 0; connected && i < f.nq; i++)
            pfd[n++] = (struct pollfd){ .fd = xsim_evtchn_fd(f.q[i].evh), .events = POLLIN };
        poll(pfd, n, 20);
        char **vec;
        while ((vec = xs_check_watch(f.h)) != NULL)
            free(vec);
        int fe_state = (int)fk_read(&f, f.fe, "state", 0, NULL, 0);
        if (!connected && be_state == XenbusStateInitWait &&
            (fe_state == XenbusStateInitialised || fe_state == XenbusStateConnected)) {
            if (fk_connect(&f) < 0)
                _exit(2);
            connected = true;
            be_state = XenbusStateConnected;
        } else if (fe_state == XenbusStateClosing && be_state != XenbusStateClosing &&
                   be_state != XenbusStateClosed) {
            fk_disconnect(&f);
            connected = false;
            be_state = XenbusStateClosing;
            fk_write(&f, f.be, "state", "%d", be_state);
        } else if (fe_state == XenbusStateClosed && be_state != XenbusStateClosed) {
            fk_disconnect(&f);
            connected = false;
            be_state = XenbusStateClosed;
            fk_write(&f, f.be, "state", "%d", be_state);
        } else if (fe_state == XenbusStateInitialising && be_state == XenbusStateClosed) {
            be_state = XenbusStateInitWait; /* reconnect */
            fk_publish(&f);
        }
        if (connected)
            fk_serve(&f);
    }
}

/* ---------------- the test side ---------------- */

static int setup(void **state)
{
    struct fe_world *t = fe_world_new(1, 64);
    if (t && fe_sh("%s --dir %s vbd-attach %d --backend-domid 0 --target mem --vdev xvda "
                   ">/dev/null", simworld_bin("xensimctl"), t->w.dir, t->guest[0]) != 0) {
        fe_world_free(t);
        t = NULL;
    }
    *state = t;
    return t ? 0 : -1;
}

static int teardown(void **state)
{
    fe_world_free(*state);
    return 0;
}

static struct fake_opts full_backend(void)
{
    return (struct fake_opts){ .max_ring_order = 4, .max_queues = 4, .max_indirect = 256,
                               .persistent = true, .flush = true, .discard = true };
}

static void start_backend(struct fe_world *t, const struct fake_opts *o)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        fake_backend_main(t->w.dir, t->guest[0], o);
    t->backend = pid;
    fe_world_guest0(t);
}

/* Value of a frontend key, or "" if absent (static buffer). */
static const char *fe_key(struct fe_world *t, const char *key)
{
    return fe_world_fe_key(t, "vbd", DEVID, key);
}

struct done { int count; int16_t status; };
static void on_done(void *arg, const struct bf_completion *c)
{
    struct done *d = arg;
    d->count++;
    d->status = c->status;
}

/* One request, waited for; the response status. */
static int16_t io_sync(struct bf_ring *r, enum bf_op op, uint64_t sector, uint32_t n, void *buf)
{
    struct bf_io io = { .op = op, .sector = sector, .nr_sectors = n, .buf = buf, .id = 7 };
    assert_int_equal(bf_submit(r, &io), 0);
    assert_true(bf_push(r) >= 0);
    struct done d = { 0 };
    for (int i = 0; i < 500 && d.count == 0; i++) {
        assert_true(bf_poll_responses(r, on_done, &d) >= 0);
        if (!d.count)
            bf_wait(r, 20);
    }
    assert_int_equal(d.count, 1);
    return d.status;
}

static void fill(uint8_t *b, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        b[i] = (uint8_t)(i * 7 + seed * 13 + (i >> 9));
}

/* Writes then reads back n sectors at `sector` on queue q: data must match. */
static void roundtrip(struct bf_dev *d, unsigned q, uint64_t sector, uint32_t n, unsigned seed)
{
    struct bf_ring *r = bf_dev_ring(d, q);
    assert_non_null(r);
    uint8_t *w = malloc((size_t)n * 512), *rd = calloc(n, 512);
    fill(w, (size_t)n * 512, seed);
    assert_int_equal(io_sync(r, BF_OP_WRITE, sector, n, w), BLKIF_RSP_OKAY);
    assert_int_equal(io_sync(r, BF_OP_READ, sector, n, rd), BLKIF_RSP_OKAY);
    assert_memory_equal(w, rd, (size_t)n * 512);
    free(w);
    free(rd);
}

static struct bf_dev *open_dev(struct fe_world *t, const struct bf_features *want)
{
    struct bf_dev *d = NULL;
    char err[256];
    int ret = bf_dev_open(t->g, DEVID, want, &d, err, sizeof(err));
    if (ret)
        print_error("bf_dev_open: %s\n", err);
    assert_int_equal(ret, 0);
    return d;
}

static void test_everything_negotiated(void **state)
{
    struct fe_world *t = *state;
    struct fake_opts o = full_backend();
    start_backend(t, &o);
    struct bf_features want;
    bf_features_default(&want);
    want.backend_domid = 0;
    struct bf_dev *d = open_dev(t, &want);
    const struct bf_dev_info *in = bf_dev_get_info(d);
    assert_int_equal(in->nr_queues, 4);
    assert_int_equal(in->ring_pages, 16);
    assert_true(in->persistent);
    assert_int_equal(in->max_indirect_segments, 32);
    assert_true(in->flush);
    assert_true(in->discard);
    assert_int_equal(in->discard_granularity, 4096);
    assert_int_equal(in->sectors, DISK_SECTORS);
    assert_int_equal(in->physical_sector_size, 4096);
    /* The keys of a multi-queue, multi-page frontend (blkif.h). */
    assert_string_equal(fe_key(t, "multi-queue-num-queues"), "4");
    assert_string_equal(fe_key(t, "ring-page-order"), "4");
    assert_string_equal(fe_key(t, "ring-ref"), "");
    assert_string_equal(fe_key(t, "event-channel"), "");
    assert_string_not_equal(fe_key(t, "queue-3/ring-ref15"), "");
    assert_string_not_equal(fe_key(t, "queue-0/event-channel"), "");
    assert_string_equal(fe_key(t, "protocol"), "x86_64-abi");
    assert_string_equal(fe_key(t, "feature-persistent"), "1");
    assert_string_equal(fe_key(t, "state"), "4");
    for (unsigned q = 0; q < 4; q++)
        roundtrip(d, q, q * 512, 8, q);
    roundtrip(d, 1, 1000, 256, 9);                 /* 32 segments: indirect */
    const struct bf_ring_stats *s = bf_ring_get_stats(bf_dev_ring(d, 1));
    assert_int_equal(s->indirect_requests, 2);
    assert_true(s->persistent_grants > 0);
    assert_int_equal(s->grant_busy, 0);
    assert_int_equal(io_sync(bf_dev_ring(d, 0), BF_OP_FLUSH, 0, 0, NULL), BLKIF_RSP_OKAY);
    assert_int_equal(io_sync(bf_dev_ring(d, 0), BF_OP_DISCARD, 0, 8, NULL), BLKIF_RSP_OKAY);
    uint8_t z[4096], zero[4096] = { 0 };
    assert_int_equal(io_sync(bf_dev_ring(d, 0), BF_OP_READ, 0, 8, z), BLKIF_RSP_OKAY);
    assert_memory_equal(z, zero, sizeof(z));
    assert_int_equal(bf_dev_close(d), 0);
    assert_string_equal(fe_key(t, "state"), "6");
    bf_dev_free(d);
}

/* Each feature switched off on the frontend side falls back like Linux. */
static void test_frontend_features_off(void **state)
{
    struct fe_world *t = *state;
    struct fake_opts o = full_backend();
    start_backend(t, &o);
    struct bf_features want;
    bf_features_default(&want);
    want.max_ring_order = 0;
    want.max_queues = 1;
    want.max_indirect_segments = 0;
    want.persistent = false;
    want.discard = false;
    want.flush = false;
    struct bf_dev *d = open_dev(t, &want);
    const struct bf_dev_info *in = bf_dev_get_info(d);
    assert_int_equal(in->nr_queues, 1);
    assert_int_equal(in->ring_pages, 1);
    assert_false(in->persistent);
    assert_int_equal(in->max_indirect_segments, 0);
    assert_false(in->discard);
    assert_false(in->flush);
    /* Single queue, single page: top-level ring-ref and event-channel;
     * ring-page-order still written because the backend advertised it. */
    assert_string_equal(fe_key(t, "multi-queue-num-queues"), "");
    assert_string_not_equal(fe_key(t, "ring-ref"), "");
    assert_string_not_equal(fe_key(t, "event-channel"), "");
    assert_string_equal(fe_key(t, "ring-page-order"), "0");
    assert_string_equal(fe_key(t, "feature-persistent"), "0");
    struct bf_ring *r = bf_dev_ring(d, 0);
    struct bf_io big = { .op = BF_OP_WRITE, .sector = 0, .nr_sectors = 256 };
    assert_int_equal(bf_submit(r, &big), -E2BIG);
    roundtrip(d, 0, 64, 88, 3);                  /* 11 segments, the direct maximum */
    const struct bf_ring_stats *s = bf_ring_get_stats(r);
    assert_int_equal(s->indirect_requests, 0);
    assert_int_equal(s->persistent_grants, 0);
    assert_int_equal(s->grants_ended, 22);       /* every grant ended after its response */
    assert_int_equal(s->grant_busy, 0);
    assert_int_equal(bf_dev_close(d), 0);
    bf_dev_free(d);
}

/* A backend offering nothing optional: defaults everywhere. */
static void test_backend_offers_nothing(void **state)
{
    struct fe_world *t = *state;
    struct fake_opts o = { .max_ring_order = -1, .max_queues = -1 };
    start_backend(t, &o);
    struct bf_dev *d = open_dev(t, NULL);
    const struct bf_dev_info *in = bf_dev_get_info(d);
    assert_int_equal(in->nr_queues, 1);
    assert_int_equal(in->ring_pages, 1);
    assert_false(in->persistent);
    assert_int_equal(in->max_indirect_segments, 0);
    assert_string_equal(fe_key(t, "ring-page-order"), "");
    assert_string_equal(fe_key(t, "multi-queue-num-queues"), "");
    assert_string_equal(fe_key(t, "feature-persistent"), "1"); /* we would have */
    roundtrip(d, 0, 0, 8, 1);
    bf_dev_free(d);
    assert_string_equal(fe_key(t, "state"), "6");
}

static void test_x86_32_protocol(void **state)
{
    struct fe_world *t = *state;
    struct fake_opts o = full_backend();
    start_backend(t, &o);
    struct bf_features want;
    bf_features_default(&want);
    want.protocol = "x86_32-abi";
    want.max_queues = 2;
    struct bf_dev *d = open_dev(t, &want);
    assert_int_equal(bf_dev_get_info(d)->abi, BF_ABI_X86_32);
    assert_string_equal(fe_key(t, "protocol"), "x86_32-abi");
    roundtrip(d, 0, 10, 8, 4);
    roundtrip(d, 1, 2000, 200, 5);               /* indirect in the i386 layout */
    bf_dev_free(d);
}

static void test_reconnect_keeps_data(void **state)
{
    struct fe_world *t = *state;
    struct fake_opts o = full_backend();
    start_backend(t, &o);
    struct bf_features want;
    bf_features_default(&want);
    struct bf_dev *d = open_dev(t, &want);
    uint8_t w[4096], rd[4096];
    fill(w, sizeof(w), 42);
    assert_int_equal(io_sync(bf_dev_ring(d, 0), BF_OP_WRITE, 80, 8, w), BLKIF_RSP_OKAY);
    assert_int_equal(bf_dev_close(d), 0);
    assert_string_equal(fe_key(t, "state"), "6");
    bf_dev_free(d);
    /* A new connection with fewer features: stale multi-queue keys must go. */
    char err[256];
    bf_features_default(&want);
    want.max_queues = 1;
    want.persistent = false;
    assert_int_equal(bf_dev_open(t->g, DEVID, &want, &d, err, sizeof(err)), 0);
    assert_int_equal(bf_dev_get_info(d)->nr_queues, 1);
    assert_string_equal(fe_key(t, "multi-queue-num-queues"), "");
    assert_string_equal(fe_key(t, "queue-0/event-channel"), "");
    assert_int_equal(io_sync(bf_dev_ring(d, 0), BF_OP_READ, 80, 8, rd), BLKIF_RSP_OKAY);
    assert_memory_equal(w, rd, sizeof(w));
    /* And the plain reconnect path on the same object. */
    assert_int_equal(bf_dev_reconnect(d, err, sizeof(err)), 0);
    assert_int_equal(bf_dev_get_info(d)->connects, 2);
    memset(rd, 0, sizeof(rd));
    assert_int_equal(io_sync(bf_dev_ring(d, 0), BF_OP_READ, 80, 8, rd), BLKIF_RSP_OKAY);
    assert_memory_equal(w, rd, sizeof(w));
    bf_dev_free(d);
}

static void test_resize_seen_through_watch(void **state)
{
    struct fe_world *t = *state;
    struct fake_opts o = full_backend();
    start_backend(t, &o);
    struct bf_dev *d = open_dev(t, NULL);
    assert_int_equal(bf_dev_check(d), 0);
    char be[200];
    snprintf(be, sizeof(be), "/local/domain/0/backend/vbd/%u/%u/sectors", t->guest[0], DEVID);
    assert_true(xs_write(t->h0, XBT_NULL, be, "16384", 5));
    snprintf(be, sizeof(be), "/local/domain/0/backend/vbd/%u/%u/state", t->guest[0], DEVID);
    assert_true(xs_write(t->h0, XBT_NULL, be, "4", 1));
    int ev = 0;
    for (int i = 0; i < 100 && !(ev & BF_DEV_EV_RESIZED); i++) {
        struct pollfd p = { .fd = bf_dev_watch_fd(d), .events = POLLIN };
        poll(&p, 1, 20);
        ev = bf_dev_check(d);
        assert_true(ev >= 0);
    }
    assert_true(ev & BF_DEV_EV_RESIZED);
    assert_int_equal(bf_dev_get_info(d)->sectors, 16384);
    bf_dev_free(d);
}

/* A backend that keeps a data page mapped after answering: end_access
 * fails with -EBUSY and the frontend counts it instead of reusing the page. */
static void test_backend_holding_a_grant_is_caught(void **state)
{
    struct fe_world *t = *state;
    struct fake_opts o = full_backend();
    o.leak_first_map = true;
    start_backend(t, &o);
    struct bf_features want;
    bf_features_default(&want);
    want.persistent = false;
    want.max_queues = 1;
    struct bf_dev *d = open_dev(t, &want);
    uint8_t b[4096] = { 1 };
    assert_int_equal(io_sync(bf_dev_ring(d, 0), BF_OP_WRITE, 0, 8, b), BLKIF_RSP_OKAY);
    assert_int_equal(bf_ring_get_stats(bf_dev_ring(d, 0))->grant_busy, 1);
    assert_int_equal(io_sync(bf_dev_ring(d, 0), BF_OP_WRITE, 8, 8, b), BLKIF_RSP_OKAY);
    assert_int_equal(bf_ring_get_stats(bf_dev_ring(d, 0))->grant_busy, 1);
    bf_dev_free(d);
}

/* ---- the CLI ---- */

static int cli(struct fe_world *t, const char *args)
{
    return fe_sh("%s --dir %s --domid %u --vdev %u %s >%s/cli.out 2>&1",
                 simworld_bin("simblkfront"), t->w.dir, t->guest[0], DEVID, args, t->w.dir);
}

static const char *cli_output(struct fe_world *t)
{
    return fe_world_file(t, "cli.out");
}

static bool cli_output_has(struct fe_world *t, const char *needle)
{
    const char *out = cli_output(t);
    if (!strstr(out, needle))
        print_message("# cli output: %s\n", out);
    return strstr(out, needle) != NULL;
}

/* A number in the CLI's JSON output, -1 if absent. */
static long cli_json_num(struct fe_world *t, const char *key)
{
    char needle[64];
    snprintf(needle, sizeof(needle), "\"%s\":", key);
    const char *p = strstr(cli_output(t), needle);
    return p ? strtol(p + strlen(needle), NULL, 10) : -1;
}

static void test_cli_verify_passes(void **state)
{
    struct fe_world *t = *state;
    struct fake_opts o = full_backend();
    start_backend(t, &o);
    assert_int_equal(cli(t, "--workload rand --rw mix:50 --bs 8k --qd 8 --ios 3000 --verify "
                            "--seed 7 --json"), 0);
    assert_true(cli_output_has(t, "\"verify_errors\":0"));
    assert_true(cli_output_has(t, "\"queues\":4"));
    assert_true(cli_json_num(t, "verified_sectors") > 0);
    assert_int_equal(cli_json_num(t, "ios"), 3000);
    assert_true(cli_json_num(t, "kicks_sent") > 0);
}

static void test_cli_verify_catches_corruption(void **state)
{
    struct fe_world *t = *state;
    struct fake_opts o = full_backend();
    o.corrupt_reads = true;
    start_backend(t, &o);
    assert_int_equal(cli(t, "--workload seq --rw mix:50 --bs 4k --qd 4 --ios 2000 --verify "
                            "--queues 1 --seed 3"), 1);
    assert_true(cli_output_has(t, "verify: sector"));
}

static void test_cli_no_backend_is_negotiation_failure(void **state)
{
    struct fe_world *t = *state;
    t->g = NULL;
    assert_int_equal(cli(t, "--timeout-ms 300 --ios 10"), 3);
    assert_true(cli_output_has(t, "InitWait"));
    assert_int_equal(cli(t, "--bs 1000"), 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_everything_negotiated, setup, teardown),
        cmocka_unit_test_setup_teardown(test_frontend_features_off, setup, teardown),
        cmocka_unit_test_setup_teardown(test_backend_offers_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_x86_32_protocol, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reconnect_keeps_data, setup, teardown),
        cmocka_unit_test_setup_teardown(test_resize_seen_through_watch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_backend_holding_a_grant_is_caught, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cli_verify_passes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cli_verify_catches_corruption, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cli_no_backend_is_negotiation_failure, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
