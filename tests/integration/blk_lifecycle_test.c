/*
 * blk_lifecycle_test.c - the vbd device class (blkback/blk_xenbus.c) through
 * the whole XenBus lifecycle on xensim.
 *
 * dom0 is the backend: a bus with the "vbd" class (and "vbd3", the same
 * class with every optional feature switched off in its config) over a
 * pool of two sidecores, driven by sc_xenbus_dispatch in this thread.  The
 * test is the toolstack too (both directories written as libxl does, in
 * one transaction).  Each frontend is this binary re-executed with
 * --frontend in a child process acting as a fresh guest domain (so guest
 * memory shared with the backend's cores is touched by another process, as
 * on Xen): it grants its ring pages, allocates its event channels, writes
 * its keys, follows the backend's state and reports what it saw through a
 * pipe.  The frontend is written by hand here, not with simfront, because
 * most cases need exact control of each key (and garbage in them).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "blkback.h"
#include "blkfront.h"
#include "corepool.h"
#include "log.h"
#include "simworld.h"
#include "bus_fixture.h"

#include "xen.h"
#include "xenbus.h"
#include "xensim.h"
#include "xensim_guest.h"

#define MAX_QUEUES  4u
#define FE_TIMEOUT_MS 8000

/* ======================= the frontend (child) ======================= */

struct fe_opts {
    char dir[256];            /* the world */
    char type[8];             /* "vbd" / "vbd3" */
    domid_t dom;
    uint32_t devid;
    unsigned nq;              /* 1: keys at the top; > 1: queue-N/ */
    int order;                /* -1: legacy "ring-ref" without ring-page-order */
    char protocol[32];        /* "" = no key */
    bool persistent;
    char bad_key[64];         /* written last, relative to the frontend dir */
    char bad_val[64];
    bool expect_fail;         /* the backend must go Closing instead of Connected */
    unsigned cycles;          /* connect + close cycles */
    uint64_t resize_to;       /* > 0: wait, while connected, for sectors = this */
    bool leave_connected;     /* exit without closing */
    bool simfront;            /* negotiate with simfront's blkfront (Linux's way) */
};

struct fe_result {
    bool ok;
    char why[256];
    unsigned long long sectors, sector_size, phys, info;
    unsigned connects;
    bool state_rewritten;     /* a backend state event came with the new size */
    unsigned nr_queues, ring_order, indirect;
    bool persistent, flush, discard;
};

struct fe {
    const struct fe_opts *o;
    struct fe_result *res;
    struct xsim_guest *g;
    struct xs_handle *xs;
    struct xsim_evtchn *evh;
    char fdir[128], bdir[128];
    void *ring[MAX_QUEUES + 2];
    grant_ref_t refs[MAX_QUEUES + 2][16];
    int port[MAX_QUEUES + 2];
};

static bool fe_fail(struct fe *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static bool fe_fail(struct fe *f, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(f->res->why, sizeof(f->res->why), fmt, ap);
    va_end(ap);
    f->res->ok = false;
    return false;
}


static bool fe_read_ull(struct fe *f, const char *dir, const char *key, unsigned long long *v)
{
    return sc_xs_read_uint(f->xs, XBT_NULL, UINT64_MAX, v, "%s/%s", dir, key) == 0;
}

static void fe_write(struct fe *f, xs_transaction_t t, const char *val, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void fe_write(struct fe *f, xs_transaction_t t, const char *val, const char *fmt, ...)
{
    char p[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p, sizeof(p), fmt, ap);
    va_end(ap);
    xs_write(f->xs, t, p, val, (unsigned)strlen(val));
}

static void fe_state(struct fe *f, int s)
{
    char v[8];
    snprintf(v, sizeof(v), "%d", s);
    fe_write(f, XBT_NULL, v, "%s/state", f->fdir);
}

/* Waits until the backend's state is one of `want` (0-terminated); the
 * state, or -1 on timeout. */
static int fe_wait_be(struct fe *f, const int *want)
{
    uint64_t until = sc_clock_ms() + FE_TIMEOUT_MS;
    unsigned long long s = 0;
    while (sc_clock_ms() < until) {
        if (fe_read_ull(f, f->bdir, "state", &s))
            for (const int *w = want; *w; w++)
                if ((int)s == *w)
                    return *w;
        usleep(2000);
    }
    return -1;
}

static bool fe_setup_rings(struct fe *f)
{
    const struct fe_opts *o = f->o;
    unsigned pages = o->order < 0 ? 1u : 1u << o->order;
    for (unsigned q = 0; q < o->nq; q++) {
        uint64_t gfn;
        f->ring[q] = xsim_guest_pages_alloc(f->g, pages, &gfn);
        if (!f->ring[q])
            return fe_fail(f, "allocating ring pages");
        SHARED_RING_INIT((struct blkif_sring *)f->ring[q]); /* same header in every ABI */
        for (unsigned i = 0; i < pages; i++) {
            int ref = xsim_guest_grant(f->g, 0, gfn + i, false);
            if (ref < 0)
                return fe_fail(f, "granting: %s", strerror(-ref));
            f->refs[q][i] = (grant_ref_t)ref;
        }
        f->port[q] = xsim_evtchn_alloc_unbound(f->evh, 0);
        if (f->port[q] < 0)
            return fe_fail(f, "alloc_unbound: %s", strerror(-f->port[q]));
    }
    return true;
}

static void fe_write_keys(struct fe *f)
{
    const struct fe_opts *o = f->o;
    char v[32];
    for (;;) {
        xs_transaction_t t = xs_transaction_start(f->xs);
        if (o->protocol[0])
            fe_write(f, t, o->protocol, "%s/protocol", f->fdir);
        fe_write(f, t, o->persistent ? "1" : "0", "%s/feature-persistent", f->fdir);
        if (o->order >= 0) {
            snprintf(v, sizeof(v), "%d", o->order);
            fe_write(f, t, v, "%s/ring-page-order", f->fdir);
        }
        if (o->nq > 1) {
            snprintf(v, sizeof(v), "%u", o->nq);
            fe_write(f, t, v, "%s/multi-queue-num-queues", f->fdir);
        }
        unsigned pages = o->order < 0 ? 1u : 1u << o->order;
        for (unsigned q = 0; q < o->nq; q++) {
            char qdir[160];
            if (o->nq == 1)
                snprintf(qdir, sizeof(qdir), "%s", f->fdir);
            else
                snprintf(qdir, sizeof(qdir), "%s/queue-%u", f->fdir, q);
            for (unsigned i = 0; i < pages; i++) {
                snprintf(v, sizeof(v), "%u", f->refs[q][i]);
                if (o->order < 0)
                    fe_write(f, t, v, "%s/ring-ref", qdir);
                else
                    fe_write(f, t, v, "%s/ring-ref%u", qdir, i);
            }
            snprintf(v, sizeof(v), "%d", f->port[q]);
            fe_write(f, t, v, "%s/event-channel", qdir);
        }
        if (o->bad_key[0])
            fe_write(f, t, o->bad_val, "%s/%s", f->fdir, o->bad_key);
        fe_write(f, t, "3", "%s/state", f->fdir);
        if (xs_transaction_end(f->xs, t, false) || errno != EAGAIN)
            return;
    }
}

/* After the backend is Closed: every ring grant must be free again. */
static bool fe_end_rings(struct fe *f)
{
    const struct fe_opts *o = f->o;
    unsigned pages = o->order < 0 ? 1u : 1u << o->order;
    for (unsigned q = 0; q < o->nq; q++) {
        for (unsigned i = 0; i < pages; i++) {
            int rc = xsim_guest_end_access(f->g, f->refs[q][i]);
            if (rc < 0)
                return fe_fail(f, "end_access of ring ref %u (q%u): %s: still mapped",
                               f->refs[q][i], q, strerror(-rc));
        }
        xsim_evtchn_unbind(f->evh, (evtchn_port_t)f->port[q]);
        xsim_guest_pages_free(f->g, f->ring[q], pages);
    }
    return true;
}

static bool fe_wait_resize(struct fe *f)
{
    char p[160];
    snprintf(p, sizeof(p), "%s/state", f->bdir);
    if (!xs_watch(f->xs, p, "rs"))
        return fe_fail(f, "watching %s", p);
    /* Tell the test the watch is set: a resize before it would be missed. */
    snprintf(p, sizeof(p), "%s/test-resize-armed", f->fdir);
    if (!xs_write(f->xs, XBT_NULL, p, "1", 1))
        return fe_fail(f, "writing %s", p);
    uint64_t until = sc_clock_ms() + FE_TIMEOUT_MS;
    unsigned events = 0;
    while (sc_clock_ms() < until) {
        struct pollfd pfd = { .fd = xs_fileno(f->xs), .events = POLLIN };
        poll(&pfd, 1, 50);
        char **ev;
        while ((ev = xs_check_watch(f->xs))) {
            free(ev);
            events++;
            unsigned long long s, st;
            if (fe_read_ull(f, f->bdir, "sectors", &s) && s == f->o->resize_to &&
                fe_read_ull(f, f->bdir, "state", &st) && st == XenbusStateConnected &&
                events > 1) {
                f->res->sectors = s;
                f->res->state_rewritten = true;
                return true;
            }
        }
    }
    return fe_fail(f, "no state event with sectors %llu (%u events)",
                   (unsigned long long)f->o->resize_to, events);
}

static bool fe_run(struct fe *f)
{
    const struct fe_opts *o = f->o;
    static const int initwait[] = { XenbusStateInitWait, 0 };
    static const int conn_or_fail[] = { XenbusStateConnected, XenbusStateClosing,
                                        XenbusStateClosed, 0 };
    static const int closing[] = { XenbusStateClosing, XenbusStateClosed, 0 };
    static const int closed[] = { XenbusStateClosed, 0 };

    for (unsigned c = 0; c < o->cycles; c++) {
        if (c > 0)
            fe_state(f, XenbusStateInitialising);
        if (fe_wait_be(f, initwait) < 0)
            return fe_fail(f, "cycle %u: backend never reached InitWait", c);
        if (!fe_setup_rings(f))
            return false;
        fe_write_keys(f);
        int s = fe_wait_be(f, conn_or_fail);
        if (o->expect_fail) {
            if (s != XenbusStateClosing)
                return fe_fail(f, "backend state %d, expected Closing", s);
        } else {
            if (s != XenbusStateConnected)
                return fe_fail(f, "cycle %u: backend state %d, expected Connected", c, s);
            struct fe_result *r = f->res;
            if (!fe_read_ull(f, f->bdir, "sectors", &r->sectors) ||
                !fe_read_ull(f, f->bdir, "sector-size", &r->sector_size) ||
                !fe_read_ull(f, f->bdir, "physical-sector-size", &r->phys) ||
                !fe_read_ull(f, f->bdir, "info", &r->info))
                return fe_fail(f, "connect-time keys missing at Connected");
            r->connects++;
            fe_state(f, XenbusStateConnected);
            if (o->leave_connected)
                return true;
            if (o->resize_to && !fe_wait_resize(f))
                return false;
        }
        fe_state(f, XenbusStateClosing);
        if (fe_wait_be(f, closing) < 0)
            return fe_fail(f, "backend did not follow to Closing");
        fe_state(f, XenbusStateClosed);
        if (fe_wait_be(f, closed) < 0)
            return fe_fail(f, "backend did not follow to Closed");
        if (!fe_end_rings(f))
            return false;
    }
    return true;
}

/* The simulated Linux blkfront negotiates with its defaults, then closes. */
static bool fe_run_simfront(struct fe *f)
{
    struct bf_features want;
    bf_features_default(&want);
    struct bf_dev *d = NULL;
    char err[200] = "";
    int rc = bf_dev_open(f->g, f->o->devid, &want, &d, err, sizeof(err));
    if (rc < 0)
        return fe_fail(f, "bf_dev_open: %s: %s", strerror(-rc), err);
    const struct bf_dev_info *i = bf_dev_get_info(d);
    struct fe_result *r = f->res;
    r->connects = i->connects;
    r->sectors = i->sectors;
    r->sector_size = i->sector_size;
    r->info = i->info;
    r->nr_queues = i->nr_queues;
    r->ring_order = i->ring_order;
    r->indirect = i->max_indirect_segments;
    r->persistent = i->persistent;
    r->flush = i->flush;
    r->discard = i->discard;
    rc = bf_dev_close(d);
    bf_dev_free(d);
    return rc == 0 || fe_fail(f, "bf_dev_close: %s", strerror(-rc));
}

static int fe_main(const struct fe_opts *o, int out_fd)
{
    struct fe_result res = { .ok = true };
    struct fe f = { .o = o, .res = &res };
    snprintf(f.fdir, sizeof(f.fdir), "/local/domain/%u/device/vbd/%u", o->dom, o->devid);
    snprintf(f.bdir, sizeof(f.bdir), "/local/domain/0/backend/%s/%u/%u", o->type, o->dom,
             o->devid);
    f.g = xsim_guest_open(o->dir, o->dom);
    f.xs = f.g ? xsim_guest_xs_open(f.g) : NULL;
    f.evh = f.g ? xsim_evtchn_open(xsim_guest_xsim(f.g)) : NULL;
    if (!f.evh || !f.xs)
        fe_fail(&f, "guest %u: cannot open: %s", o->dom, strerror(errno));
    else if (o->simfront)
        fe_run_simfront(&f);
    else
        fe_run(&f);
    if (write(out_fd, &res, sizeof(res)) != (ssize_t)sizeof(res))
        return 2;
    /* Leaving connected: the grants stay in the guest's table (closing the
     * guest ends none), the ports close as when a guest's driver dies. */
    if (f.evh)
        xsim_evtchn_close(f.evh);
    if (f.xs)
        xs_close(f.xs);
    if (f.g)
        xsim_guest_close(f.g);
    return 0;
}

/* ======================= the backend and toolstack (parent) ======================= */

static struct sc_pool *pool;
static struct blk_config cfg_vbd, cfg_vbd3;
static char tmpdir[256];
static const char *self_exe;
static unsigned next_dom_name;


#define pump_once(ms) bus_pump_once(bw.bus, (ms))
#define WAIT_FOR(cond) BUS_WAIT_FOR(bw.bus, 8000, cond)
/* The toolstack's reads and writes (dom0). */
#define ts_read(...) xs_readf(bw.ts, __VA_ARGS__)
#define ts_write(t, val, ...) xs_writef(bw.ts, (t), (val), __VA_ARGS__)


/* A backend key as a number, -1 if absent. */
static long long be_num(const char *type, domid_t fe, uint32_t devid, const char *key)
{
    char *v = ts_read("/local/domain/0/backend/%s/%u/%u/%s", type, fe, devid, key);
    long long n = v ? strtoll(v, NULL, 10) : -1;
    free(v);
    return n;
}

static int be_state(const char *type, domid_t fe, uint32_t devid)
{
    return (int)be_num(type, fe, devid, "state");
}

static char *error_node(const char *type, domid_t fe, uint32_t devid)
{
    return ts_read("/local/domain/0/error/backend/%s/%u/%u/error", type, fe, devid);
}


struct disk {
    const char *type;        /* default "vbd" */
    const char *params;
    const char *mode;        /* default "w" */
    const char *discard_enable;
    const char *device_type; /* default "disk" */
};

/* What libxl's device add writes for a disk (xsim_device_add). */
static void ts_attach(domid_t fe, uint32_t devid, const struct disk *d)
{
    const char *device_type = d->device_type ? d->device_type : "disk";
    const char *be_keys[] = {
        "removable", "0", "device-type", device_type,
        "type", strncmp(d->params, "phy:", 4) ? "file" : "phy",
        "mode", d->mode ? d->mode : "w", "params", d->params,
        d->discard_enable ? "discard-enable" : NULL, d->discard_enable, NULL,
    };
    const char *fe_keys[] = { "device-type", device_type, NULL };
    const struct xsim_device dev = {
        .backend_type = d->type ? d->type : "vbd",
        .frontend_type = "vbd",
        .frontend_id = fe,
        .devid = devid,
        .backend_keys = be_keys,
        .frontend_keys = fe_keys,
    };
    assert_int_equal(xsim_device_add(bw.ts, &dev), 0);
}

static domid_t new_guest(void)
{
    char name[32];
    snprintf(name, sizeof(name), "blk-guest-%u", next_dom_name++);
    int id = xsim_domain_create(bw.dom0, name, 16);
    assert_true(id > 0);
    return (domid_t)id;
}

/* A sparse file of `bytes` in the test's directory. */
static const char *make_file(const char *name, uint64_t bytes)
{
    static char paths[8][320];
    static unsigned n;
    char *p = paths[n++ % 8];
    snprintf(p, sizeof(paths[0]), "%s/%s", tmpdir, name);
    int fd = open(p, O_RDWR | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, (off_t)bytes), 0);
    close(fd);
    return p;
}

static struct fe_opts fe_default(domid_t dom, uint32_t devid)
{
    struct fe_opts o = { .dom = dom, .devid = devid, .nq = 1, .order = -1, .cycles = 1 };
    snprintf(o.dir, sizeof(o.dir), "%s", bw.w.dir);
    snprintf(o.type, sizeof(o.type), "vbd");
    return o;
}

struct child {
    pid_t pid;
    int fd;
};

/* Re-executes this binary as the frontend; the options go through a pipe. */
static struct child fe_start(const struct fe_opts *o)
{
    int in[2], out[2];
    assert_int_equal(pipe(in), 0);
    assert_int_equal(pipe(out), 0);
    assert_int_equal(write(in[1], o, sizeof(*o)), (ssize_t)sizeof(*o));
    close(in[1]);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        dup2(in[0], 3);
        dup2(out[1], 4);
        /* our own inode, even if a rebuild replaced the file meanwhile */
        execl("/proc/self/exe", self_exe, "--frontend", (char *)NULL);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    return (struct child){ .pid = pid, .fd = out[0] };
}

/* Pumps the bus until the child exits, then returns what it reported. */
static struct fe_result fe_finish(struct child c)
{
    struct fe_result r = { .ok = false };
    snprintf(r.why, sizeof(r.why), "frontend reported nothing");
    int status = 0;
    uint64_t until = sc_clock_ms() + 3 * FE_TIMEOUT_MS;
    for (;;) {
        pid_t w = waitpid(c.pid, &status, WNOHANG);
        if (w == c.pid)
            break;
        if (sc_clock_ms() > until) {
            kill(c.pid, SIGKILL);
            waitpid(c.pid, &status, 0);
            snprintf(r.why, sizeof(r.why), "frontend hung");
            close(c.fd);
            return r;
        }
        pump_once(5);
    }
    if (read(c.fd, &r, sizeof(r)) != (ssize_t)sizeof(r))
        r.ok = false;
    close(c.fd);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        r.ok = false;
        snprintf(r.why, sizeof(r.why), "frontend exited with status %d", status);
    }
    if (!r.ok)
        print_message("# frontend: %s\n", r.why);
    return r;
}

static struct fe_result fe_run_child(const struct fe_opts *o)
{
    return fe_finish(fe_start(o));
}

/* ---- fixtures ---- */

static int world_up(void **state)
{
    (void)state;
    sc_log_set_level(getenv("SC_TEST_DEBUG") ? SC_LOG_DEBUG : SC_LOG_WARN);
    const char *tmp = getenv("TMPDIR");
    snprintf(tmpdir, sizeof(tmpdir), "%s/blk-lifecycle.XXXXXX", tmp ? tmp : "/tmp");
    if (!mkdtemp(tmpdir))
        return -1;
    if (bus_world_up() < 0)
        return -1;

    struct sc_pool_params pp = { .mode = SC_MODE_POLL, .ncores = 2, .poll_idle_ns = 50000,
                                 .uring_entries = 64, .attention_fd = -1 };
    pp.cpus[0] = pp.cpus[1] = SC_CORE_NO_CPU;
    pool = sc_pool_create(bw.x, &pp);
    if (!pool)
        return -1;
    bw.pool = pool; /* the bus pump reaps the cores' answers */
    blk_config_default(&cfg_vbd);
    cfg_vbd.max_queues = MAX_QUEUES;
    /* vbd3: every optional feature off, smaller rings */
    cfg_vbd3 = cfg_vbd;
    cfg_vbd3.max_ring_page_order = 1;
    cfg_vbd3.max_queues = 1;
    cfg_vbd3.max_indirect_segments = 0;
    cfg_vbd3.max_persistent_grants = 0;
    cfg_vbd3.discard = false;

    if (bus_world_open_bus() < 0)
        return -1;
    const struct sc_device_class *vbd = blk_device_class("vbd", pool, &cfg_vbd);
    const struct sc_device_class *vbd3 = blk_device_class("vbd3", pool, &cfg_vbd3);
    if (!vbd || !vbd3 || sc_xenbus_register(bw.bus, vbd) < 0 || sc_xenbus_register(bw.bus, vbd3) < 0)
        return -1;
    return 0;
}

static int world_down(void **state)
{
    (void)state;
    bus_world_close_bus(); /* the devices let go of the pool's cores */
    sc_pool_destroy(pool);
    bus_world_down();
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    if (tmpdir[0] && system(cmd) != 0)
        fprintf(stderr, "# could not remove %s\n", tmpdir);
    return 0;
}

/* ---- tests ---- */

static void features_match_store_and_config(void **state)
{
    (void)state;
    domid_t fe = new_guest();
    const char *path = make_file("features.img", 8 << 20);
    ts_attach(fe, 51712, &(struct disk){ .params = path });
    WAIT_FOR(be_state("vbd", fe, 51712) == XenbusStateInitWait);

    struct blk_store *s = blk_store_open(path, false);
    assert_non_null(s);
    struct blk_store_info info = *blk_store_get_info(s);
    blk_store_close(s);

    assert_int_equal(be_num("vbd", fe, 51712, "max-ring-page-order"), cfg_vbd.max_ring_page_order);
    assert_int_equal(be_num("vbd", fe, 51712, "multi-queue-max-queues"), MAX_QUEUES);
    assert_int_equal(be_num("vbd", fe, 51712, "feature-max-indirect-segments"),
                     cfg_vbd.max_indirect_segments);
    assert_int_equal(be_num("vbd", fe, 51712, "feature-persistent"), 1);
    assert_int_equal(be_num("vbd", fe, 51712, "feature-flush-cache"), info.flush);
    assert_int_equal(be_num("vbd", fe, 51712, "feature-barrier"), info.flush);
    assert_int_equal(be_num("vbd", fe, 51712, "feature-discard"), info.discard);
    if (info.discard) {
        assert_int_equal(be_num("vbd", fe, 51712, "discard-granularity"),
                         info.discard_granularity ? info.discard_granularity
                                                  : info.logical_sector);
        assert_int_equal(be_num("vbd", fe, 51712, "discard-alignment"), info.discard_alignment);
        assert_int_equal(be_num("vbd", fe, 51712, "discard-secure"), info.discard_secure);
    }
    /* connect-time keys are not there before connect, as with Linux */
    assert_int_equal(be_num("vbd", fe, 51712, "sectors"), -1);

    /* the toolstack's discard-enable=0 wins over the store */
    ts_attach(fe, 51728, &(struct disk){ .params = "null:64M", .discard_enable = "0" });
    WAIT_FOR(be_state("vbd", fe, 51728) == XenbusStateInitWait);
    assert_int_equal(be_num("vbd", fe, 51728, "feature-discard"), 0);
    assert_int_equal(be_num("vbd", fe, 51728, "discard-granularity"), -1);
    ts_attach(fe, 51744, &(struct disk){ .params = "null:64M" });
    WAIT_FOR(be_state("vbd", fe, 51744) == XenbusStateInitWait);
    assert_int_equal(be_num("vbd", fe, 51744, "feature-discard"), 1); /* null can */
    assert_int_equal(be_num("vbd", fe, 51744, "discard-secure"), 1);

    /* vbd3: the same class, its own config with everything off */
    ts_attach(fe, 51760, &(struct disk){ .type = "vbd3", .params = "null:64M" });
    WAIT_FOR(be_state("vbd3", fe, 51760) == XenbusStateInitWait);
    assert_int_equal(be_num("vbd3", fe, 51760, "feature-persistent"), 0);
    assert_int_equal(be_num("vbd3", fe, 51760, "feature-max-indirect-segments"), -1);
    assert_int_equal(be_num("vbd3", fe, 51760, "feature-discard"), 0);
    assert_int_equal(be_num("vbd3", fe, 51760, "max-ring-page-order"), 1);
    assert_int_equal(be_num("vbd3", fe, 51760, "multi-queue-max-queues"), 1);
}

static void missing_store_fails_the_device(void **state)
{
    (void)state;
    domid_t fe = new_guest();
    char missing[320];
    snprintf(missing, sizeof(missing), "%s/no-such-disk.img", tmpdir);
    ts_attach(fe, 51712, &(struct disk){ .params = missing });
    WAIT_FOR(be_state("vbd", fe, 51712) == XenbusStateClosing);
    char *err = error_node("vbd", fe, 51712);
    assert_non_null(err);
    assert_non_null(strstr(err, "no-such-disk.img"));
    assert_int_equal(atoi(err), ENOENT);
    free(err);
    /* probe failed as a whole: no features advertised */
    assert_int_equal(be_num("vbd", fe, 51712, "feature-persistent"), -1);
}

/* Empty params (no media yet, as xl leaves an empty cdrom): probe waits;
 * the store opens when the toolstack writes params, then connect works. */
static void params_written_after_probe(void **state)
{
    (void)state;
    domid_t fe = new_guest();
    ts_attach(fe, 51712, &(struct disk){ .params = "" });
    WAIT_FOR(be_state("vbd", fe, 51712) == XenbusStateInitWait);
    assert_int_equal(be_num("vbd", fe, 51712, "feature-persistent"), 1);
    assert_int_equal(be_num("vbd", fe, 51712, "feature-flush-cache"), -1); /* no store yet */
    ts_write(XBT_NULL, make_file("late.img", 1 << 20), "/local/domain/0/backend/vbd/%u/51712/params",
             fe);
    WAIT_FOR(be_num("vbd", fe, 51712, "feature-flush-cache") == 1);
    struct fe_opts o = fe_default(fe, 51712);
    struct fe_result r = fe_run_child(&o);
    assert_true(r.ok);
    assert_int_equal(r.sectors, (1 << 20) / 512);
}

static void one_queue_legacy_ring_connects_and_closes(void **state)
{
    (void)state;
    domid_t fe = new_guest();
    const uint64_t size = 8 << 20;
    ts_attach(fe, 51712, &(struct disk){ .params = make_file("one.img", size) });
    struct fe_opts o = fe_default(fe, 51712);
    struct fe_result r = fe_run_child(&o);
    assert_true(r.ok);
    assert_int_equal(r.connects, 1);
    assert_int_equal(r.sectors, size / 512);
    assert_int_equal(r.sector_size, 512);
    assert_int_equal(r.info, 0);
    WAIT_FOR(be_state("vbd", fe, 51712) == XenbusStateClosed);
    char *err = error_node("vbd", fe, 51712);
    assert_null(err);
}

static void multi_queue_multi_page_persistent(void **state)
{
    (void)state;
    domid_t fe = new_guest();
    ts_attach(fe, 51712, &(struct disk){ .params = "null:1G" });
    struct fe_opts o = fe_default(fe, 51712);
    o.nq = 3;
    o.order = 2;
    o.persistent = true;
    snprintf(o.protocol, sizeof(o.protocol), "x86_64-abi");
    struct fe_result r = fe_run_child(&o);
    assert_true(r.ok);
    assert_int_equal(r.sectors, (1ull << 30) / 512);
    assert_int_equal(r.phys, 4096);

    /* the most queues, order 0 written with ring-ref0, no persistence */
    o = fe_default(fe, 51712);
    ts_attach(fe, 51728, &(struct disk){ .params = "null:1G" });
    o.devid = 51728;
    o.nq = MAX_QUEUES;
    o.order = 0;
    r = fe_run_child(&o);
    assert_true(r.ok);
}

static void x86_32_abi_read_only(void **state)
{
    (void)state;
    domid_t fe = new_guest();
    ts_attach(fe, 51712, &(struct disk){ .params = make_file("ro.img", 4 << 20), .mode = "r",
                                         .device_type = "cdrom" });
    WAIT_FOR(be_state("vbd", fe, 51712) == XenbusStateInitWait);
    assert_int_equal(be_num("vbd", fe, 51712, "feature-discard"), 0); /* read-only */
    struct fe_opts o = fe_default(fe, 51712);
    o.order = 1;
    snprintf(o.protocol, sizeof(o.protocol), "x86_32-abi");
    struct fe_result r = fe_run_child(&o);
    assert_true(r.ok);
    assert_int_equal(r.info, VDISK_READONLY | VDISK_CDROM);
    assert_int_equal(r.sectors, (4 << 20) / 512);
}

static void mode_w_bang_is_writable(void **state)
{
    (void)state;
    domid_t fe = new_guest();
    ts_attach(fe, 51712, &(struct disk){ .params = "null:16M", .mode = "w!" });
    struct fe_opts o = fe_default(fe, 51712);
    struct fe_result r = fe_run_child(&o);
    assert_true(r.ok);
    assert_int_equal(r.info, 0);
    /* and a mode that is neither fails at probe */
    ts_attach(fe, 51728, &(struct disk){ .params = "null:16M", .mode = "x" });
    WAIT_FOR(be_state("vbd", fe, 51728) == XenbusStateClosing);
    char *err = error_node("vbd", fe, 51728);
    assert_non_null(err);
    assert_non_null(strstr(err, "mode"));
    free(err);
}

/* A loop device with 4096-byte logical sectors: sector-size 4096, sectors
 * still in 512-byte units (what Linux blkback writes). */
static void sector_size_4096_block_device(void **state)
{
    (void)state;
    const char *img = make_file("4k.img", 8 << 20);
    char cmd[512], loop[64] = "";
    snprintf(cmd, sizeof(cmd), "losetup -f --show --sector-size 4096 '%s' 2>/dev/null", img);
    FILE *p = popen(cmd, "r");
    if (p) {
        if (!fgets(loop, sizeof(loop), p))
            loop[0] = '\0';
        pclose(p);
    }
    loop[strcspn(loop, "\n")] = '\0';
    if (strncmp(loop, "/dev/loop", 9) != 0) {
        print_message("# no loop device with 4096-byte sectors here: skipped\n");
        skip();
    }
    domid_t fe = new_guest();
    char params[80];
    snprintf(params, sizeof(params), "phy:%s", loop);
    ts_attach(fe, 51712, &(struct disk){ .params = params });
    struct fe_opts o = fe_default(fe, 51712);
    struct fe_result r = fe_run_child(&o);
    /* detach the loop device before asserting: no leak on failure */
    WAIT_FOR(be_state("vbd", fe, 51712) == XenbusStateClosed || !r.ok);
    char rm[128];
    snprintf(rm, sizeof(rm), "/local/domain/0/backend/vbd/%u/51712", fe);
    xs_rm(bw.ts, XBT_NULL, rm);
    for (int i = 0; i < 50 && sc_xenbus_find_device(bw.bus, "vbd", fe, 51712); i++)
        pump_once(10);
    snprintf(cmd, sizeof(cmd), "losetup -d '%s'", loop);
    if (system(cmd) != 0)
        print_message("# could not detach %s\n", loop);
    assert_true(r.ok);
    assert_int_equal(r.sector_size, 4096);
    assert_int_equal(r.phys, 4096);
    assert_int_equal(r.sectors, (8 << 20) / 512);
}

struct garbage {
    const char *key, *val, *why;
};

static void frontend_garbage_fails_only_that_device(void **state)
{
    (void)state;
    /* A good device of another guest, left connected throughout. */
    domid_t good = new_guest();
    ts_attach(good, 51712, &(struct disk){ .params = "null:64M" });
    struct fe_opts o = fe_default(good, 51712);
    o.leave_connected = true;
    struct fe_result r = fe_run_child(&o);
    assert_true(r.ok);
    WAIT_FOR(be_state("vbd", good, 51712) == XenbusStateConnected);

    static const struct garbage cases[] = {
        { "ring-ref", "abc", "ring-ref" },
        { "ring-ref", "", "ring-ref" },
        { "multi-queue-num-queues", "0", "queues" },
        { "multi-queue-num-queues", "5", "queues" },     /* > MAX_QUEUES */
        { "multi-queue-num-queues", "-1", "multi-queue-num-queues" },
        { "event-channel", "4000", "event channel" },     /* a port not offered to us */
        { "event-channel", "0x10", "event-channel" },
        { "protocol", "sparc-abi", "protocol" },
        { "ring-page-order", "5", "ring-page-order" },     /* > max 4 */
        { "ring-page-order", "99999999999999999999", "ring-page-order" },
    };
    domid_t bad = new_guest();
    for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint32_t devid = 51712 + 16 * i;
        ts_attach(bad, devid, &(struct disk){ .params = "null:64M" });
        o = fe_default(bad, devid);
        snprintf(o.bad_key, sizeof(o.bad_key), "%s", cases[i].key);
        snprintf(o.bad_val, sizeof(o.bad_val), "%s", cases[i].val);
        o.expect_fail = true;
        r = fe_run_child(&o);
        if (!r.ok)
            fail_msg("case %s=\"%s\": %s", cases[i].key, cases[i].val, r.why);
        char *err = error_node("vbd", bad, devid);
        if (!err || !strstr(err, cases[i].why))
            fail_msg("case %s=\"%s\": error node \"%s\" lacks \"%s\"", cases[i].key,
                     cases[i].val, err ? err : "(none)", cases[i].why);
        free(err);
        assert_int_equal(be_state("vbd", good, 51712), XenbusStateConnected);
    }
    assert_null(error_node("vbd", good, 51712));
    /* the same bad guest connects fine with good keys */
    ts_attach(bad, 60000, &(struct disk){ .params = "null:64M" });
    o = fe_default(bad, 60000);
    r = fe_run_child(&o);
    assert_true(r.ok);
}

static void disconnect_reconnect_leaves_no_grant_mapped(void **state)
{
    (void)state;
    domid_t fe = new_guest();
    ts_attach(fe, 51712, &(struct disk){ .params = make_file("cycle.img", 2 << 20) });
    struct fe_opts o = fe_default(fe, 51712);
    o.cycles = 3;
    o.nq = 2;
    o.order = 1;
    o.persistent = true;
    struct fe_result r = fe_run_child(&o);
    assert_true(r.ok);
    assert_int_equal(r.connects, 3);
    WAIT_FOR(be_state("vbd", fe, 51712) == XenbusStateClosed);
    assert_non_null(sc_xenbus_find_device(bw.bus, "vbd", fe, 51712)); /* online=1: kept */
}

static void resize_resignals_the_frontend(void **state)
{
    (void)state;
    domid_t fe = new_guest();
    const uint64_t before = 4 << 20, after = 12 << 20;
    const char *path = make_file("grow.img", before);
    ts_attach(fe, 51712, &(struct disk){ .params = path });
    struct fe_opts o = fe_default(fe, 51712);
    o.resize_to = after / 512;
    struct child c = fe_start(&o);
    char fstate[80];
    snprintf(fstate, sizeof(fstate), "/local/domain/%u/device/vbd/51712/state", fe);
    WAIT_FOR(be_state("vbd", fe, 51712) == XenbusStateConnected && ({
                 char *v = ts_read("%s", fstate);
                 bool conn = v && atoi(v) == XenbusStateConnected;
                 free(v);
                 conn;
             }));
    assert_int_equal(be_num("vbd", fe, 51712, "sectors"), before / 512);
    struct sc_device *dev = sc_xenbus_find_device(bw.bus, "vbd", fe, 51712);
    assert_non_null(dev);
    assert_int_equal(blk_device_check_resize(dev), 0); /* nothing changed yet */

    char armed[96];
    snprintf(armed, sizeof(armed), "/local/domain/%u/device/vbd/51712/test-resize-armed", fe);
    WAIT_FOR(({
        char *v = ts_read("%s", armed);
        bool set = v != NULL;
        free(v);
        set;
    }));
    assert_int_equal(truncate(path, (off_t)after), 0);
    assert_int_equal(blk_device_check_resize(dev), 1);
    assert_int_equal(blk_device_check_resize(dev), 0);
    assert_int_equal(be_num("vbd", fe, 51712, "sectors"), after / 512);
    assert_int_equal(be_state("vbd", fe, 51712), XenbusStateConnected);

    struct fe_result r = fe_finish(c);
    assert_true(r.ok);
    assert_true(r.state_rewritten);
    assert_int_equal(r.sectors, after / 512);
    /* not a vbd device: refused */
    struct sc_device fake = { .cls = NULL };
    assert_int_equal(blk_device_check_resize(&fake), -EINVAL);
}

/* Interop: simfront's blkfront, which negotiates as Linux blkfront does. */
static void simulated_linux_blkfront_negotiates(void **state)
{
    (void)state;
    domid_t fe = new_guest();
    ts_attach(fe, 51712, &(struct disk){ .params = "null:256M" });
    struct fe_opts o = fe_default(fe, 51712);
    o.simfront = true;
    struct fe_result r = fe_run_child(&o);
    assert_true(r.ok);
    assert_int_equal(r.connects, 1);
    assert_int_equal(r.sectors, (256 << 20) / 512);
    assert_int_equal(r.nr_queues, MAX_QUEUES); /* its default 4, our maximum 4 */
    assert_int_equal(r.ring_order, cfg_vbd.max_ring_page_order);
    assert_true(r.persistent);
    assert_true(r.indirect > 0);
    assert_false(r.flush); /* null keeps no cache */
    assert_true(r.discard);
    WAIT_FOR(be_state("vbd", fe, 51712) == XenbusStateClosed);
}

/* The toolstack role through xensimctl vbd-attach (libxl's exact layout). */
static void xensimctl_vbd_attach_connects(void **state)
{
    (void)state;
    const char *ctl = simworld_bin("xensimctl");
    if (access(ctl, X_OK) != 0) {
        print_message("# no %s: skipped\n", ctl);
        skip();
    }
    domid_t fe = new_guest();
    char cmd[1024], out[32] = "";
    snprintf(cmd, sizeof(cmd), "'%s' --dir '%s' vbd-attach %u --backend-domid 0 --target '%s' "
             "--vdev xvdb --mode r", ctl, bw.w.dir, fe, make_file("ctl.img", 2 << 20));
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    if (!fgets(out, sizeof(out), p))
        out[0] = '\0';
    assert_int_equal(pclose(p), 0);
    uint32_t devid = (uint32_t)strtoul(out, NULL, 10);
    assert_int_equal(devid, 51728); /* xvdb */
    struct fe_opts o = fe_default(fe, devid);
    struct fe_result r = fe_run_child(&o);
    assert_true(r.ok);
    assert_int_equal(r.info, VDISK_READONLY);
    assert_int_equal(r.sectors, (2 << 20) / 512);
}

static void class_refuses_bad_config(void **state)
{
    (void)state;
    struct blk_config c;
    blk_config_default(&c);
    assert_int_equal(c.max_ring_page_order, 4);
    assert_int_equal(c.max_indirect_segments, 256);
    assert_int_equal(c.max_persistent_grants, 1056);
    assert_true(c.max_queues >= 1);
    assert_true(c.discard);
    assert_ptr_equal(blk_device_class("vbd", pool, &cfg_vbd), blk_device_class("vbd", pool, &cfg_vbd));
    c.max_ring_page_order = 5;
    assert_null(blk_device_class("vbd", pool, &c));
    assert_int_equal(errno, EINVAL);
    blk_config_default(&c);
    c.max_queues = 0;
    assert_null(blk_device_class("vbd", pool, &c));
    blk_config_default(&c);
    c.max_indirect_segments = 257;
    assert_null(blk_device_class("vbd", pool, &c));
    blk_config_default(&c);
    assert_null(blk_device_class("v/bd", pool, &c));
    assert_null(blk_device_class("vbd", NULL, &c));
}

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "--frontend") == 0) {
        struct fe_opts o;
        if (read(3, &o, sizeof(o)) != (ssize_t)sizeof(o))
            return 2;
        return fe_main(&o, 4);
    }
    static char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n <= 0)
        return 1;
    exe[n] = '\0';
    self_exe = exe;

    const struct CMUnitTest tests[] = {
        cmocka_unit_test(class_refuses_bad_config),
        cmocka_unit_test(features_match_store_and_config),
        cmocka_unit_test(missing_store_fails_the_device),
        cmocka_unit_test(params_written_after_probe),
        cmocka_unit_test(one_queue_legacy_ring_connects_and_closes),
        cmocka_unit_test(multi_queue_multi_page_persistent),
        cmocka_unit_test(x86_32_abi_read_only),
        cmocka_unit_test(mode_w_bang_is_writable),
        cmocka_unit_test(sector_size_4096_block_device),
        cmocka_unit_test(frontend_garbage_fails_only_that_device),
        cmocka_unit_test(disconnect_reconnect_leaves_no_grant_mapped),
        cmocka_unit_test(resize_resignals_the_frontend),
        cmocka_unit_test(simulated_linux_blkfront_negotiates),
        cmocka_unit_test(xensimctl_vbd_attach_connects),
    };
    return cmocka_run_group_tests(tests, world_up, world_down);
}
