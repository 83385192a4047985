/*
 * blk_queue_test.c - one blkback queue (blkback/blk_queue*.c) end to end: a
 * private xensim world, a real sidecore (dom0), and a guest in a forked
 * child that drives the ring with the simulated blkfront (tools/simfront).
 *
 * Per scenario: a fresh guest domain; the child creates the ring and sends
 * its refs and port up a pipe; the parent opens the store (a temp file, or
 * null), creates the queue, binds its event channel, adds it to the core
 * and says "go"; the child runs its workload and exits 0 if every check
 * held; the parent then checks its side (queue failed or not, counters,
 * the file) and tears everything down.  Guests live in other processes:
 * guest memory is shared with the core thread by design (TSan).
 * Hang scenarios (removal with I/O that never completes): the store's fds
 * are swapped for an empty pipe's read end after it is opened, so its reads
 * wait in the kernel like a hung disk's, but cancellably; the parent
 * removes the queue mid-flight and checks that the removal completes and
 * every request taken was answered exactly once.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "clock.h"
#include "blk_queue_int.h"
#include "blkfront.h"
#include "log.h"
#include "sidecore.h"
#include "simworld.h"
#include "xensim.h"
#include "xensim_guest.h"

#define UNUSED __attribute__((unused))
#define DISK_BYTES   (8u << 20)
#define DISK_SECTORS (DISK_BYTES / 512u)
#define CHILD_TIMEOUT_MS 30000

static struct simworld world;
static struct xsim *dom0;
static struct sc_xen *xen;
static char tmpdir[256];
static unsigned domains_made;

struct scenario;
struct child_ctx {
    const struct scenario *sc;
    struct xsim_guest *g;
    struct bf_ring *r;
    uint8_t *shadow; /* what the disk should hold (DISK_BYTES) */
    int down;        /* the parent's pipe: "g"o, then "r"emoved for hang scenarios */
};

struct scenario {
    const char *name;
    enum bf_abi abi;
    unsigned ring_pages;
    bool persistent;
    unsigned indirect;         /* max indirect segments, 0 = off */
    uint32_t max_pgrants;      /* backend cache size [1056] */
    bool read_only;
    bool null_store;
    bool prefill;              /* parent writes a pattern into the file first */
    uint64_t poll_idle_ns;     /* 0 = default */
    /* Reads hang: the store's fds are pointed at an empty pipe (a read on
     * it waits in io_uring's poll, as I/O on a hung store does), and the
     * parent removes the queue while the child waits, once hang_inflight
     * requests are in flight (and one parked, if hang_parked). */
    bool hang_reads;
    unsigned hang_inflight;
    bool hang_parked;
    int (*child)(struct child_ctx *c);
    /* after the child exited, before teardown */
    void (*parent_check)(const struct scenario *sc, struct blk_queue *q, int attention_fd,
                         const char *path);
};

/* ---- the guest side (child process) ---- */

#define CHECK(cond)                                                                      \
    do {                                                                                 \
        if (!(cond)) {                                                                   \
            fprintf(stderr, "# child %s: %s:%d: check failed: %s\n", c->sc->name,        \
                    __FILE__, __LINE__, #cond);                                          \
            return 1;                                                                    \
        }                                                                                \
    } while (0)

/* Sector s of generation gen: every 8 bytes carry address and generation. */
static void fill_sector(uint8_t *dst, uint64_t s, uint32_t gen)
{
    for (unsigned i = 0; i < 64; i++) {
        uint64_t w = (s << 20) ^ ((uint64_t)gen << 8) ^ i ^ 0x5a5a000000000000ull;
        memcpy(dst + i * 8, &w, 8);
    }
}

struct results {
    int16_t *status;
    uint8_t *rsp_op;
};

static void on_complete(void *arg, const struct bf_completion *cp)
{
    struct results *res = arg;
    res->status[cp->id] = cp->status;
    res->rsp_op[cp->id] = cp->rsp_operation;
}

/* Runs ios[0..n) with as many in flight as the ring takes.  0, or -1 on a
 * submit error or timeout.  status[i] / rsp_op[i] get each response. */
static int run_ios(struct child_ctx *c, struct bf_io *ios, unsigned n, int16_t *status,
                   uint8_t *rsp_op)
{
    struct results res = { status, rsp_op };
    unsigned next = 0, done = 0;
    uint64_t deadline = sc_clock_ns() + 20000000000ull;
    for (unsigned i = 0; i < n; i++) {
        ios[i].id = i;
        status[i] = 99;
    }
    while (done < n) {
        while (next < n) {
            int rc = bf_submit(c->r, &ios[next]);
            if (rc == -ENOSPC)
                break;
            if (rc < 0) {
                fprintf(stderr, "# child: bf_submit: %s\n", strerror(-rc));
                return -1;
            }
            next++;
        }
        if (bf_push(c->r) < 0)
            return -1;
        int got = bf_poll_responses(c->r, on_complete, &res);
        if (got < 0)
            return -1;
        done += (unsigned)got;
        if (got == 0 && bf_wait(c->r, 50) < 0)
            return -1;
        if (sc_clock_ns() > deadline) {
            fprintf(stderr, "# child: timed out with %u of %u answered\n", done, n);
            return -1;
        }
    }
    return 0;
}

/* One request, synchronously.  Its status. */
static int16_t one_io(struct child_ctx *c, enum bf_op op, uint64_t sector, uint32_t nsect,
                      void *buf)
{
    struct bf_io io = { .op = op, .sector = sector, .nr_sectors = nsect, .buf = buf };
    int16_t st;
    uint8_t rop;
    if (run_ios(c, &io, 1, &st, &rop) < 0)
        return 99;
    return st;
}

/* Writes [first, first+count) sectors in random-sized requests (gen), then
 * reads them back in differently split requests and verifies. */
static int write_read_verify(struct child_ctx *c, uint64_t first, uint64_t count, uint32_t gen,
                             unsigned seed)
{
    uint32_t maxs = bf_ring_max_sectors(c->r);
    unsigned cap = (unsigned)count;
    struct bf_io *ios = calloc(cap, sizeof(*ios));
    int16_t *st = calloc(cap, sizeof(*st));
    uint8_t *rop = calloc(cap, 1);
    CHECK(ios && st && rop);
    srand(seed);
    for (int pass = 0; pass < 2; pass++) {
        bool write = pass == 0;
        unsigned n = 0;
        for (uint64_t s = first; s < first + count; n++) {
            uint32_t len = 1 + (uint32_t)rand() % (rand() % 4 == 0 ? maxs : 24);
            if (len > maxs)
                len = maxs;
            if (s + len > first + count)
                len = (uint32_t)(first + count - s);
            uint8_t *buf = malloc((size_t)len * 512);
            CHECK(buf);
            if (write) {
                for (uint32_t i = 0; i < len; i++) {
                    fill_sector(buf + (size_t)i * 512, s + i, gen);
                    memcpy(c->shadow + (s + i) * 512, buf + (size_t)i * 512, 512);
                }
            } else {
                memset(buf, 0xcc, (size_t)len * 512);
            }
            ios[n] = (struct bf_io){ .op = write ? BF_OP_WRITE : BF_OP_READ, .sector = s,
                                     .nr_sectors = len, .buf = buf };
            s += len;
        }
        CHECK(run_ios(c, ios, n, st, rop) == 0);
        for (unsigned i = 0; i < n; i++) {
            CHECK(st[i] == BLKIF_RSP_OKAY);
            CHECK(rop[i] == (write ? BLKIF_OP_WRITE : BLKIF_OP_READ));
            if (!write && memcmp(ios[i].buf, c->shadow + ios[i].sector * 512,
                                 (size_t)ios[i].nr_sectors * 512) != 0) {
                fprintf(stderr, "# child: data mismatch at sector %llu (+%u)\n",
                        (unsigned long long)ios[i].sector, ios[i].nr_sectors);
                return 1;
            }
            free(ios[i].buf);
        }
    }
    free(ios);
    free(st);
    free(rop);
    return 0;
}

static int child_data(struct child_ctx *c)
{
    if (write_read_verify(c, 0, 4096, 1, 7))
        return 1;
    /* overwrite a middle part: a new generation, and verify all again */
    if (write_read_verify(c, 1000, 1500, 2, 8))
        return 1;
    return write_read_verify(c, 0, 4096, 3, 9);
}

static int child_flush_barrier(struct child_ctx *c)
{
    uint8_t *buf = malloc(64 * 512);
    CHECK(buf);
    for (unsigned i = 0; i < 64; i++)
        fill_sector(buf + i * 512, 100 + i, 7);
    CHECK(one_io(c, BF_OP_WRITE, 100, 16, buf) == BLKIF_RSP_OKAY);
    CHECK(one_io(c, BF_OP_FLUSH, 0, 0, NULL) == BLKIF_RSP_OKAY);
    CHECK(one_io(c, BF_OP_FLUSH, 116, 16, buf + 16 * 512) == BLKIF_RSP_OKAY);
    CHECK(one_io(c, BF_OP_BARRIER, 0, 0, NULL) == BLKIF_RSP_OKAY);
    /* writes, a barrier with data and more writes in one batch: all land */
    struct bf_io ios[5] = {
        { .op = BF_OP_WRITE, .sector = 132, .nr_sectors = 8, .buf = buf + 32 * 512 },
        { .op = BF_OP_WRITE, .sector = 140, .nr_sectors = 8, .buf = buf + 40 * 512 },
        { .op = BF_OP_BARRIER, .sector = 148, .nr_sectors = 8, .buf = buf + 48 * 512 },
        { .op = BF_OP_WRITE, .sector = 156, .nr_sectors = 4, .buf = buf + 56 * 512 },
        { .op = BF_OP_FLUSH, .sector = 160, .nr_sectors = 4, .buf = buf + 60 * 512 },
    };
    int16_t st[5];
    uint8_t rop[5];
    CHECK(run_ios(c, ios, 5, st, rop) == 0);
    for (unsigned i = 0; i < 5; i++)
        CHECK(st[i] == BLKIF_RSP_OKAY);
    CHECK(rop[2] == BLKIF_OP_WRITE_BARRIER);
    CHECK(rop[4] == BLKIF_OP_FLUSH_DISKCACHE);
    uint8_t *rd = malloc(64 * 512);
    CHECK(rd);
    CHECK(one_io(c, BF_OP_READ, 100, 64, rd) == BLKIF_RSP_OKAY);
    CHECK(memcmp(rd, buf, 64 * 512) == 0);
    free(buf);
    free(rd);
    return 0;
}

static int child_discard(struct child_ctx *c)
{
    uint8_t *buf = malloc(128 * 512), *rd = malloc(128 * 512);
    CHECK(buf && rd);
    for (unsigned i = 0; i < 128; i++)
        fill_sector(buf + i * 512, 2048 + i, 3);
    CHECK(one_io(c, BF_OP_WRITE, 2048, 128, buf) == BLKIF_RSP_OKAY);
    struct bf_io io = { .op = BF_OP_DISCARD, .sector = 2048 + 32, .nr_sectors = 64 };
    int16_t st;
    uint8_t rop;
    CHECK(run_ios(c, &io, 1, &st, &rop) == 0);
    CHECK(st == BLKIF_RSP_OKAY);
    CHECK(rop == BLKIF_OP_DISCARD);
    CHECK(one_io(c, BF_OP_READ, 2048, 128, rd) == BLKIF_RSP_OKAY);
    memset(buf + 32 * 512, 0, 64 * 512);
    CHECK(memcmp(rd, buf, 128 * 512) == 0);
    free(buf);
    free(rd);
    return 0;
}

static int child_read_only(struct child_ctx *c)
{
    uint8_t *buf = malloc(16 * 512), *want = malloc(16 * 512);
    CHECK(buf && want);
    for (unsigned i = 0; i < 16; i++)
        fill_sector(want + i * 512, 64 + i, 42); /* what the parent prefilled */
    CHECK(one_io(c, BF_OP_READ, 64, 16, buf) == BLKIF_RSP_OKAY);
    CHECK(memcmp(buf, want, 16 * 512) == 0);
    CHECK(one_io(c, BF_OP_WRITE, 64, 16, buf) == BLKIF_RSP_ERROR);
    CHECK(one_io(c, BF_OP_FLUSH, 64, 8, buf) == BLKIF_RSP_ERROR);
    struct bf_io io = { .op = BF_OP_DISCARD, .sector = 64, .nr_sectors = 8 };
    int16_t st;
    uint8_t rop;
    CHECK(run_ios(c, &io, 1, &st, &rop) == 0);
    CHECK(st == BLKIF_RSP_ERROR || st == BLKIF_RSP_EOPNOTSUPP);
    /* the disk is unchanged */
    CHECK(one_io(c, BF_OP_READ, 64, 16, buf) == BLKIF_RSP_OKAY);
    CHECK(memcmp(buf, want, 16 * 512) == 0);
    free(buf);
    free(want);
    return 0;
}

/* A native rw request with one segment, raw (first_sect chosen). */
static int raw_rw(struct child_ctx *c, uint8_t op, uint64_t sector, grant_ref_t gref,
                  uint8_t first, uint8_t last, uint64_t id)
{
    struct blkif_request req;
    memset(&req, 0, sizeof(req));
    req.operation = op;
    req.nr_segments = 1;
    req.id = id;
    req.sector_number = sector;
    req.seg[0].gref = gref;
    req.seg[0].first_sect = first;
    req.seg[0].last_sect = last;
    return bf_submit_raw(c->r, &req, sizeof(req));
}

struct raw_results {
    uint64_t base;
    int16_t status[8];
};

static void on_raw(void *arg, const struct bf_completion *cp)
{
    struct raw_results *rr = arg;
    if (cp->id >= rr->base && cp->id < rr->base + 8)
        rr->status[cp->id - rr->base] = cp->status;
}

static int raw_run(struct child_ctx *c, struct raw_results *rr, unsigned n)
{
    unsigned done = 0;
    uint64_t deadline = sc_clock_ns() + 10000000000ull;
    bf_push(c->r);
    while (done < n && sc_clock_ns() < deadline) {
        int got = bf_poll_responses(c->r, on_raw, rr);
        if (got < 0)
            return -1;
        done += (unsigned)got;
        if (!got)
            bf_wait(c->r, 50);
    }
    return done == n ? 0 : -1;
}

static int child_errors(struct child_ctx *c)
{
    uint8_t *buf = malloc(8 * 512);
    CHECK(buf);
    memset(buf, 0x11, 8 * 512);
    /* out of range, partly and wholly: errors, the queue keeps going */
    CHECK(one_io(c, BF_OP_READ, DISK_SECTORS - 4, 8, buf) == BLKIF_RSP_ERROR);
    CHECK(one_io(c, BF_OP_WRITE, DISK_SECTORS + 100, 8, buf) == BLKIF_RSP_ERROR);
    CHECK(one_io(c, BF_OP_READ, ~0ull - 3, 8, buf) == BLKIF_RSP_ERROR);
    CHECK(one_io(c, BF_OP_WRITE, DISK_SECTORS - 8, 8, buf) == BLKIF_RSP_OKAY);

    /* raw requests: a gref never granted, a segment inside its page (3..5),
     * an unknown operation, a segment past its page */
    uint64_t gfn;
    uint8_t *page = xsim_guest_pages_alloc(c->g, 1, &gfn);
    CHECK(page);
    int gref = xsim_guest_grant(c->g, 0, gfn, false);
    CHECK(gref > 0);
    for (unsigned i = 0; i < 8; i++)
        fill_sector(page + i * 512, 500 + i, 9);
    struct raw_results rr = { .base = 1ull << 40 };
    CHECK(raw_rw(c, BLKIF_OP_WRITE, 800, 30000, 0, 7, rr.base + 0) == 0);
    CHECK(raw_rw(c, BLKIF_OP_WRITE, 801, (grant_ref_t)gref, 3, 5, rr.base + 1) == 0);
    CHECK(raw_rw(c, 77, 0, (grant_ref_t)gref, 0, 0, rr.base + 2) == 0);
    CHECK(raw_rw(c, BLKIF_OP_READ, 0, (grant_ref_t)gref, 4, 8, rr.base + 3) == 0);
    CHECK(raw_run(c, &rr, 4) == 0);
    CHECK(rr.status[0] == BLKIF_RSP_ERROR);
    CHECK(rr.status[1] == BLKIF_RSP_OKAY);
    CHECK(rr.status[2] == BLKIF_RSP_EOPNOTSUPP);
    CHECK(rr.status[3] == BLKIF_RSP_ERROR);
    /* sectors 801..803 hold the page's sectors 3..5 */
    memset(page, 0, 4096);
    rr = (struct raw_results){ .base = 1ull << 41 };
    CHECK(raw_rw(c, BLKIF_OP_READ, 801, (grant_ref_t)gref, 1, 3, rr.base) == 0);
    CHECK(raw_run(c, &rr, 1) == 0);
    CHECK(rr.status[0] == BLKIF_RSP_OKAY);
    uint8_t want[512];
    for (unsigned i = 0; i < 3; i++) {
        fill_sector(want, 503 + i, 9);
        CHECK(memcmp(page + (1 + i) * 512, want, 512) == 0);
    }
    CHECK(page[0] == 0 && page[4 * 512] == 0);
    CHECK(xsim_guest_end_access(c->g, (grant_ref_t)gref) == 0);
    /* and ordinary I/O still works */
    return write_read_verify(c, 3000, 200, 5, 3);
}

static int child_overflow(struct child_ctx *c)
{
    if (write_read_verify(c, 0, 64, 1, 1))
        return 1;
    /* a producer index far beyond the ring: the backend must shut it down */
    uint32_t *req_prod = bf_ring_sring(c->r);
    __atomic_store_n(req_prod, *req_prod + 1000, __ATOMIC_RELEASE);
    /* and kick: a core that went to sleep meanwhile must look (without it
     * the removal could win the race on a loaded machine) */
    return bf_kick(c->r) < 0;
}

/* Many requests in flight, then the guest goes away without waiting. */
static int child_abandon(struct child_ctx *c)
{
    uint8_t *buf = calloc(1, 256 * 512);
    CHECK(buf);
    unsigned n = 0;
    for (; n < bf_ring_entries(c->r); n++) {
        struct bf_io io = { .op = n % 2 ? BF_OP_READ : BF_OP_WRITE, .sector = n * 64,
                            .nr_sectors = 88, .buf = buf };
        if (bf_submit(c->r, &io) < 0)
            break;
    }
    CHECK(n > 0);
    bf_push(c->r);
    _exit(0); /* no bf_ring_destroy: grants and ring stay as they are */
}

static int child_null_rate(struct child_ctx *c)
{
    /* one-page requests, alternating read/write, for ~1 s at full depth */
    unsigned depth = bf_ring_entries(c->r);
    struct results res;
    int16_t st[64];
    uint8_t rop[64];
    res.status = st;
    res.rsp_op = rop;
    uint64_t done = 0, t0 = sc_clock_ns(), end = t0 + 1000000000ull, seq = 0;
    while (sc_clock_ns() < end) {
        while (bf_ring_inflight(c->r) < depth) {
            struct bf_io io = { .op = seq % 2 ? BF_OP_READ : BF_OP_WRITE,
                                .sector = (seq * 8) % (DISK_SECTORS - 8), .nr_sectors = 8,
                                .id = seq % 64 };
            if (bf_submit(c->r, &io) < 0)
                break;
            seq++;
        }
        bf_push(c->r);
        int got = bf_poll_responses(c->r, on_complete, &res);
        CHECK(got >= 0);
        done += (unsigned)got;
        if (!got)
            bf_wait(c->r, 10);
    }
    double secs = (double)(sc_clock_ns() - t0) / 1e9;
    fprintf(stderr, "# %s: %.0f requests/s (4 KiB, depth %u, guest process and one sidecore thread)\n",
            c->sc->name, (double)done / secs, depth);
    const struct bf_ring_stats *s = bf_ring_get_stats(c->r);
    CHECK(s->rsp_error == 0);
    return 0;
}

/* Waits for the parent's "removed" (the queue is off its core: the backend
 * writes nothing more to the ring). */
static int wait_removed(struct child_ctx *c)
{
    struct pollfd pfd = { .fd = c->down, .events = POLLIN };
    char b = 0;
    if (poll(&pfd, 1, 20000) != 1 || read(c->down, &b, 1) != 1 || b != 'r') {
        fprintf(stderr, "# child %s: no word of the removal\n", c->sc->name);
        return -1;
    }
    return 0;
}

/* A full ring of reads on a store that never answers: the removal cancels
 * them all, and each is answered once, with an error. */
static int child_hung_reads(struct child_ctx *c)
{
    unsigned n = bf_ring_entries(c->r);
    struct bf_io *ios = calloc(n, sizeof(*ios));
    int16_t *st = calloc(n, sizeof(*st));
    uint8_t *rop = calloc(n, 1);
    uint8_t *buf = calloc(n, 8 * 512);
    CHECK(ios && st && rop && buf);
    for (unsigned i = 0; i < n; i++)
        ios[i] = (struct bf_io){ .op = BF_OP_READ, .sector = i * 8ull, .nr_sectors = 8,
                                 .buf = buf + (size_t)i * 8 * 512 };
    CHECK(run_ios(c, ios, n, st, rop) == 0);
    for (unsigned i = 0; i < n; i++) {
        CHECK(st[i] == BLKIF_RSP_ERROR);
        CHECK(rop[i] == BLKIF_OP_READ);
    }
    CHECK(wait_removed(c) == 0);
    CHECK(bf_poll_responses(c->r, on_complete, &(struct results){ st, rop }) == 0);
    free(ios);
    free(st);
    free(rop);
    free(buf);
    return 0;
}

/* Reads in flight on a store that never answers, one request parked behind
 * them and more still in the ring.  With indirect segments: 1 MiB reads,
 * the second waiting for bounce pages; without: small reads, then a
 * barrier waiting for them to drain.  After the removal exactly the reads
 * in flight and the parked request are answered, with errors; the rest
 * stay unconsumed. */
static int child_hung_parked(struct child_ctx *c)
{
    enum { N = 8 };
    unsigned answered = c->sc->hang_inflight + 1;
    uint32_t len = c->sc->indirect ? bf_ring_max_sectors(c->r) : 8;
    struct bf_io ios[N];
    int16_t st[N];
    uint8_t rop[N];
    uint8_t *buf = calloc(N, (size_t)len * 512);
    CHECK(buf && answered < N);
    for (unsigned i = 0; i < N; i++) {
        ios[i] = (struct bf_io){ .op = BF_OP_READ, .sector = i * (uint64_t)len,
                                 .nr_sectors = len, .buf = buf + (size_t)i * len * 512, .id = i };
        if (!c->sc->indirect && i == c->sc->hang_inflight)
            ios[i] = (struct bf_io){ .op = BF_OP_BARRIER, .id = i };
        st[i] = 99;
        CHECK(bf_submit(c->r, &ios[i]) == 0);
    }
    CHECK(bf_push(c->r) >= 0);
    CHECK(wait_removed(c) == 0);
    int got = bf_poll_responses(c->r, on_complete, &(struct results){ st, rop });
    CHECK(got == (int)answered);
    for (unsigned i = 0; i < N; i++) {
        CHECK(st[i] == (i < answered ? BLKIF_RSP_ERROR : 99));
        if (i < answered)
            CHECK(rop[i] == (ios[i].op == BF_OP_BARRIER ? BLKIF_OP_WRITE_BARRIER
                                                        : BLKIF_OP_READ));
    }
    CHECK(bf_ring_inflight(c->r) == N - answered);
    free(buf);
    return 0;
}

/* ---- child main ---- */

struct hello {
    unsigned ring_pages;
    grant_ref_t refs[BF_MAX_RING_PAGES];
    evtchn_port_t port;
};

static void child_main(const struct scenario *sc, domid_t domid, int up, int down)
{
    struct child_ctx c = { .sc = sc, .down = down };
    struct hello h = { 0 };
    int rc = 1;
    c.g = xsim_guest_open(world.dir, domid);
    if (!c.g || bf_ring_create(c.g, 0, sc->ring_pages, sc->abi, &c.r) < 0 ||
        bf_ring_set_features(c.r, sc->persistent, sc->indirect) < 0) {
        fprintf(stderr, "# child: cannot set up the ring\n");
        _exit(2);
    }
    c.shadow = calloc(1, DISK_BYTES);
    h.ring_pages = sc->ring_pages;
    for (unsigned i = 0; i < sc->ring_pages; i++)
        h.refs[i] = bf_ring_ref(c.r, i);
    h.port = bf_ring_port(c.r);
    char go;
    if (write(up, &h, sizeof(h)) != sizeof(h) || read(down, &go, 1) != 1)
        _exit(2);
    rc = sc->child(&c);
    if (sc->child != child_overflow)
        bf_ring_destroy(c.r);
    xsim_guest_close(c.g);
    _exit(rc);
}

/* ---- the backend side (parent) ---- */

static void prefill(const char *path)
{
    int fd = open(path, O_WRONLY);
    assert_true(fd >= 0);
    uint8_t sec[512];
    for (unsigned s = 64; s < 80; s++) {
        fill_sector(sec, s, 42);
        assert_int_equal(pwrite(fd, sec, 512, (off_t)s * 512), 512);
    }
    close(fd);
}

static int wait_child(pid_t pid)
{
    uint64_t deadline = sc_clock_ns() + (uint64_t)CHILD_TIMEOUT_MS * 1000000ull;
    int status;
    for (;;) {
        pid_t p = waitpid(pid, &status, WNOHANG);
        if (p == pid)
            return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        if (sc_clock_ns() > deadline) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            return -1;
        }
        usleep(2000);
    }
}

static uint64_t qcounter(struct blk_queue *q, enum sc_queue_counter k)
{
    struct sc_queue_stats_snap s;
    sc_queue_stats_snapshot(blk_queue_sc(q), &s);
    return s.counter[k];
}

/* Points every fd of this process open on `path` (the store's) at `to`. */
static unsigned redirect_fds(const char *path, int to)
{
    char want[PATH_MAX], link[PATH_MAX], name[300];
    assert_non_null(realpath(path, want));
    int fds[16];
    unsigned n = 0;
    DIR *d = opendir("/proc/self/fd");
    assert_non_null(d);
    struct dirent *e;
    while ((e = readdir(d)) && n < 16) {
        snprintf(name, sizeof(name), "/proc/self/fd/%s", e->d_name);
        ssize_t len = readlink(name, link, sizeof(link) - 1);
        if (len <= 0)
            continue;
        link[len] = '\0';
        if (!strcmp(link, want))
            fds[n++] = atoi(e->d_name);
    }
    closedir(d);
    for (unsigned i = 0; i < n; i++)
        assert_int_equal(dup2(to, fds[i]), fds[i]);
    return n;
}

/* Posts cmd with a completion flag and waits up to timeout_ns for it.
 * True if it completed in time. */
static void flag_done(struct sc_core_cmd *cmd)
{
    atomic_store_explicit((atomic_bool *)cmd->owner, true, memory_order_release);
}

static bool post_wait(struct sc_core *core, struct sc_core_cmd *cmd, atomic_bool *done,
                      uint64_t timeout_ns)
{
    atomic_store(done, false);
    cmd->done = flag_done;
    cmd->owner = done;
    assert_int_equal(sc_core_post(core, cmd), 0);
    uint64_t deadline = sc_clock_ns() + timeout_ns;
    while (!atomic_load_explicit(done, memory_order_acquire)) {
        if (sc_clock_ns() > deadline)
            return false;
        usleep(500);
    }
    return true;
}

/* What the core thread sees of q, read on it (a CALL between rounds). */
struct qprobe {
    struct blk_queue *q;
    uint32_t inflight;
    bool pending;
};

static void qprobe_fn(UNUSED struct sc_core *core, void *arg)
{
    struct qprobe *p = arg;
    p->inflight = p->q->io_inflight;
    p->pending = p->q->pending != NULL;
}

/* Hang scenarios: once the child's requests are where the scenario wants
 * them (in the kernel, parked), remove the queue: the removal must finish
 * although the store never answers.  If it does not, the store's writer is
 * closed (the reads end, at EOF) so the test fails rather than hangs. */
static void remove_hung(const struct scenario *sc, struct sc_core *core, struct blk_queue *q,
                        int down, int *writer)
{
    struct qprobe p = { .q = q };
    atomic_bool done;
    uint64_t deadline = sc_clock_ns() + 20000000000ull;
    for (;;) {
        struct sc_core_cmd call = { .type = SC_CORE_CMD_CALL, .fn = qprobe_fn, .arg = &p };
        assert_true(post_wait(core, &call, &done, 20000000000ull));
        if (p.inflight == sc->hang_inflight && p.pending == sc->hang_parked)
            break;
        assert_true(sc_clock_ns() < deadline);
        usleep(1000);
    }
    struct sc_core_cmd rm = { .type = SC_CORE_CMD_REMOVE, .q = blk_queue_sc(q) };
    bool in_time = post_wait(core, &rm, &done, 10000000000ull);
    if (!in_time) {
        close(*writer);
        *writer = -1;
    }
    while (!atomic_load_explicit(&done, memory_order_acquire))
        usleep(1000);
    assert_true(in_time);
    assert_int_equal(rm.result, 0);
    /* everything answered was answered with an error, and only once */
    assert_int_equal(qcounter(q, SC_QSTAT_ERRORS), sc->hang_inflight + sc->hang_parked);
    assert_int_equal(q->io_inflight, 0);
    assert_int_equal(q->nfree, q->nslots);
    assert_int_equal(sc_bounce_avail(&q->bounce), q->bounce.npages); /* nothing leaked */
    /* a child that failed early is gone (EPIPE): its exit status tells */
    if (write(down, "r", 1) != 1)
        fprintf(stderr, "# cannot tell the child of the removal: %s\n", strerror(errno));
}

/* After the removal q is idle: quiesce finds nothing to do (no SQE, no
 * response: q->core is NULL, so a try would crash). */
/* The guest's scheduler counters as the last scenario left them. */
static struct sc_sched_tenant_stats charged;

static void check_quiesce_noop(struct blk_queue *q)
{
    struct sc_queue *sq = blk_queue_sc(q);
    uint64_t errors = qcounter(q, SC_QSTAT_ERRORS);
    RING_IDX rsp = q->ring.back.native.rsp_prod_pvt;
    unsigned nfree = q->nfree;
    sq->ops->quiesce(sq);
    assert_int_equal(qcounter(q, SC_QSTAT_ERRORS), errors);
    assert_int_equal(q->ring.back.native.rsp_prod_pvt, rsp);
    assert_int_equal(q->nfree, nfree);
    assert_true(sq->ops->idle(sq));
}

static void run_scenario(const struct scenario *sc)
{
    char name[32];
    snprintf(name, sizeof(name), "blkq-guest-%u", domains_made++);
    int id = xsim_domain_create(dom0, name, 64);
    assert_true(id > 0);
    domid_t domid = (domid_t)id;

    char path[300] = "";
    if (!sc->null_store) {
        snprintf(path, sizeof(path), "%s/%s.img", tmpdir, sc->name);
        int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
        assert_true(fd >= 0);
        assert_int_equal(ftruncate(fd, DISK_BYTES), 0);
        close(fd);
        if (sc->prefill)
            prefill(path);
    }

    int up[2], down[2];
    assert_int_equal(pipe(up), 0);
    assert_int_equal(pipe(down), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(up[0]);
        close(down[1]);
        child_main(sc, domid, up[1], down[0]);
    }
    close(up[1]);
    close(down[0]);
    struct hello h;
    struct pollfd pfd = { .fd = up[0], .events = POLLIN };
    assert_int_equal(poll(&pfd, 1, 10000), 1);
    assert_int_equal(read(up[0], &h, sizeof(h)), sizeof(h));

    int attention = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    assert_true(attention >= 0);
    struct sc_core_params cp;
    sc_core_params_default(&cp);
    cp.attention_fd = attention;
    if (sc->poll_idle_ns)
        cp.poll_idle_ns = sc->poll_idle_ns;
    struct sc_core *core = sc_core_create(xen, &cp);
    assert_non_null(core);

    struct blk_store *store = blk_store_open(sc->null_store ? "null:8M" : path, sc->read_only);
    assert_non_null(store);
    int hang[2] = { -1, -1 };
    if (sc->hang_reads) {
        assert_int_equal(pipe(hang), 0);
        assert_true(redirect_fds(path, hang[0]) >= 1);
    }
    const struct blk_store_info *si = blk_store_get_info(store);
    struct blk_queue_params p = {
        .xen = xen,
        .frontend_id = domid,
        .abi = sc->abi == BF_ABI_X86_32   ? BLK_ABI_X86_32
               : sc->abi == BF_ABI_X86_64 ? BLK_ABI_X86_64
                                          : BLK_ABI_NATIVE,
        .ring_pages = h.ring_pages,
        .store = store,
        .limits = {
            .disk_sectors = si->size_bytes / 512,
            .sector_size = si->logical_sector,
            .read_only = si->read_only,
            .flush = true,
            .barrier = true,
            .discard = si->discard,
            .discard_secure = si->discard_secure,
            .persistent = sc->persistent,
            .max_indirect_segments = (uint16_t)sc->indirect,
        },
        .persistent = sc->persistent,
        .max_persistent_grants = sc->max_pgrants ? sc->max_pgrants : 1056,
    };
    snprintf(p.name, sizeof(p.name), "vbd %u/51712 q0", domid);
    memcpy(p.ring_refs, h.refs, sizeof(h.refs));
    struct blk_queue *q = blk_queue_create(&p);
    assert_non_null(q);
    struct sc_queue *sq = blk_queue_sc(q);
    int lport = sc_evtchn_bind_interdomain(sc_core_evtchn(core), domid, h.port);
    assert_true(lport > 0);
    sq->port = lport;
    assert_int_equal(sc_core_add_queue(core, sq), 0);
    assert_int_equal(write(down[1], "g", 1), 1);
    if (sc->hang_reads)
        remove_hung(sc, core, q, down[1], &hang[1]);

    int rc = wait_child(pid);
    close(up[0]);
    close(down[1]);
    if (sc->child == child_abandon) {
        /* the guest is gone with I/O in flight: destroy its domain too */
        assert_int_equal(xsim_domain_destroy(dom0, domid), 0);
        usleep(200000);
    }
    if (sc->child != child_overflow)
        assert_false(sc_queue_failed(sq));
    /* what the scheduler charged the guest (the core published it when it
     * went idle, after the child's last request) */
    memset(&charged, 0, sizeof(charged));
    sc_core_tenant_stats(core, domid, &charged);
    if (!sc->hang_reads)
        assert_int_equal(sc_core_remove_queue(core, sq), 0);
    if (sc->parent_check)
        sc->parent_check(sc, q, attention, path);
    check_quiesce_noop(q);
    sc_evtchn_unbind(sc_core_evtchn(core), (evtchn_port_t)lport);
    blk_queue_destroy(q);
    sc_core_destroy(core);
    blk_store_close(store);
    if (sc->hang_reads) {
        close(hang[0]);
        if (hang[1] >= 0)
            close(hang[1]); /* the writer held until now: reads never saw EOF */
    }
    close(attention);
    if (sc->child != child_abandon)
        assert_int_equal(xsim_domain_destroy(dom0, domid), 0);
    if (*path)
        unlink(path);
    assert_int_equal(rc, 0);
}

/* ---- parent checks ---- */

static void check_flushed_file(UNUSED const struct scenario *sc, UNUSED struct blk_queue *q,
                               UNUSED int att, UNUSED const char *path)
{
    uint8_t got[512], want[512];
    int fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    for (unsigned s = 100; s < 164; s++) {
        assert_int_equal(pread(fd, got, 512, (off_t)s * 512), 512);
        fill_sector(want, s, 7);
        assert_memory_equal(got, want, 512);
    }
    close(fd);
    assert_int_equal(qcounter(q, SC_QSTAT_ERRORS), 0);
}

static void check_holes(UNUSED const struct scenario *sc, UNUSED struct blk_queue *q,
                        UNUSED int att, UNUSED const char *path)
{
    /* sectors 2080..2143 were discarded: a 32 KiB hole, fs blocks freed */
    int fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    off_t hole = lseek(fd, 2048 * 512, SEEK_HOLE);
    close(fd);
    assert_true(hole >= 0 && hole <= (2048 + 32 + 8) * 512);
}

static void check_errors_counted(UNUSED const struct scenario *sc, UNUSED struct blk_queue *q,
                                 UNUSED int att, UNUSED const char *path)
{
    assert_true(qcounter(q, SC_QSTAT_ERRORS) >= 5);
}

static void check_failed(UNUSED const struct scenario *sc, UNUSED struct blk_queue *q,
                         UNUSED int att, UNUSED const char *path)
{
    struct pollfd pfd = { .fd = att, .events = POLLIN };
    assert_int_equal(poll(&pfd, 1, 5000), 1);
    assert_true(sc_queue_failed(blk_queue_sc(q)));
    assert_int_equal(sc_queue_error(blk_queue_sc(q)), -EPROTO);
}

static void check_pgrant_bound(UNUSED const struct scenario *sc, UNUSED struct blk_queue *q,
                               UNUSED int att, UNUSED const char *path)
{
    /* called after sc_core_remove_queue: the queue is ours again */
    assert_true(q->pgc.count <= sc->max_pgrants);
    assert_true(q->pgc.stats.evictions + q->pgc.stats.full + q->pgc.stats.rationed > 0);
    /* the misses were charged: the scheduler saw more than the payload
     * (the queue's byte counter), by a grant map's price for some misses
     * at least (the last published counters may lag), for all at most */
    uint64_t payload = qcounter(q, SC_QSTAT_BYTES);
    assert_true(charged.requests > 0 && charged.bytes > payload);
    uint64_t extra = charged.bytes - payload;
    assert_true(extra >= BLKQ_MAP_MISS_COST_BYTES);
    assert_true(extra <= q->pgc.stats.maps * (uint64_t)BLKQ_MAP_MISS_COST_BYTES);
    assert_int_equal(qcounter(q, SC_QSTAT_ERRORS), 0);
}

static void check_abandoned(UNUSED const struct scenario *sc, UNUSED struct blk_queue *q,
                            UNUSED int att, UNUSED const char *path)
{
    /* the requests were taken; removing the queue (after this) waits for
     * every completion, so a lost one would hang the test */
    assert_true(qcounter(q, SC_QSTAT_REQUESTS) > 0);
}

/* ---- scenarios ---- */

#define DATA(n, a, pers, ind, pages)                                                        \
    static void test_data_##n(void **s)                                                    \
    {                                                                                      \
        (void)s;                                                                           \
        static const struct scenario sc = { .name = "data_" #n, .abi = a, .ring_pages = pages, \
                                            .persistent = pers, .indirect = ind,           \
                                            .child = child_data };                         \
        run_scenario(&sc);                                                                 \
    }

DATA(native_copy, BF_ABI_NATIVE, false, 0, 1)
DATA(native_copy_indirect, BF_ABI_NATIVE, false, 32, 1)
DATA(native_persistent, BF_ABI_NATIVE, true, 0, 2)
DATA(native_persistent_indirect, BF_ABI_NATIVE, true, 64, 4)
DATA(x86_32_persistent_indirect, BF_ABI_X86_32, true, 32, 1)
DATA(x86_32_copy, BF_ABI_X86_32, false, 0, 1)
DATA(x86_64_copy_indirect, BF_ABI_X86_64, false, 256, 2)

#define SCENARIO(n, ...)                                                                   \
    static void test_##n(void **s)                                                         \
    {                                                                                      \
        (void)s;                                                                           \
        static const struct scenario sc = { .name = #n, .abi = BF_ABI_NATIVE,              \
                                            .ring_pages = 1, __VA_ARGS__ };                \
        run_scenario(&sc);                                                                 \
    }

SCENARIO(flush_barrier, .child = child_flush_barrier, .parent_check = check_flushed_file)
SCENARIO(discard, .child = child_discard, .parent_check = check_holes, .persistent = true,
         .indirect = 32)
SCENARIO(read_only, .child = child_read_only, .read_only = true, .prefill = true)
SCENARIO(errors, .child = child_errors, .parent_check = check_errors_counted)
SCENARIO(ring_overflow, .child = child_overflow, .parent_check = check_failed,
         .poll_idle_ns = 3000000000ull)
SCENARIO(pgrant_bound, .child = child_data, .parent_check = check_pgrant_bound,
         .persistent = true, .indirect = 32, .max_pgrants = 16)
SCENARIO(guest_gone_in_flight, .child = child_abandon, .parent_check = check_abandoned,
         .indirect = 32)
SCENARIO(remove_hung_reads, .child = child_hung_reads, .hang_reads = true,
         .hang_inflight = 32)
SCENARIO(remove_hung_barrier_parked, .child = child_hung_parked, .hang_reads = true,
         .hang_inflight = 4, .hang_parked = true)
SCENARIO(remove_hung_bounce_parked, .child = child_hung_parked, .hang_reads = true,
         .hang_inflight = 1, .hang_parked = true, .indirect = 256)
SCENARIO(null_rate_copy, .child = child_null_rate, .null_store = true)
SCENARIO(null_rate_persistent, .child = child_null_rate, .null_store = true, .persistent = true)

static int setup(void **state)
{
    (void)state;
    sc_log_set_level(SC_LOG_ERR);
    signal(SIGPIPE, SIG_IGN); /* a child gone early must not kill the parent */
    if (simworld_start_as_dom0(&world, &dom0) < 0)
        return -1;
    xen = sc_xen_open(SC_XEN_SIM);
    const char *tmp = getenv("TMPDIR");
    snprintf(tmpdir, sizeof(tmpdir), "%s/blk_queue_test.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    return xen && mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    if (xen)
        sc_xen_close(xen);
    if (dom0)
        xsim_close(dom0);
    simworld_stop(&world);
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_data_native_copy),
        cmocka_unit_test(test_data_native_copy_indirect),
        cmocka_unit_test(test_data_native_persistent),
        cmocka_unit_test(test_data_native_persistent_indirect),
        cmocka_unit_test(test_data_x86_32_persistent_indirect),
        cmocka_unit_test(test_data_x86_32_copy),
        cmocka_unit_test(test_data_x86_64_copy_indirect),
        cmocka_unit_test(test_flush_barrier),
        cmocka_unit_test(test_discard),
        cmocka_unit_test(test_read_only),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_ring_overflow),
        cmocka_unit_test(test_pgrant_bound),
        cmocka_unit_test(test_guest_gone_in_flight),
        cmocka_unit_test(test_remove_hung_reads),
        cmocka_unit_test(test_remove_hung_barrier_parked),
        cmocka_unit_test(test_remove_hung_bounce_parked),
        cmocka_unit_test(test_null_rate_copy),
        cmocka_unit_test(test_null_rate_persistent),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
