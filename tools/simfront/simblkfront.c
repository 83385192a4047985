/*
 * simblkfront - a simulated guest that connects a vbd like Linux blkfront
 * and drives block I/O through its rings, with data verification.
 *
 *   simblkfront --dir DIR --domid N --vdev 51712 [--backend-domid B]
 *       [--no-persistent] [--no-indirect] [--queues N] [--ring-order N]
 *       [--max-indirect N] [--protocol ABI] [--timeout-ms MS]
 *       [--workload rand|seq] [--rw read|write|mix:R] [--bs 4k] [--qd 32]
 *       [--seconds S | --ios N] [--verify [--readback]] [--seed N] [--json]
 *       [--quiet] [--start-fd FD]
 *
 * One thread drives every negotiated queue: --qd requests in flight per
 * queue.  With --verify each written 512-byte sector carries its address, a
 * generation and a checksum; reads check sectors whose block this run wrote
 * (a block never written is not checked).  Requests never overlap a block in
 * flight, so what a read must see is known.  --readback then reads the
 * whole disk once, in order, so every write the run saw acknowledged is
 * checked at the end (a backend restart must not have lost one).  --start-fd holds the I/O, once
 * connected, until one byte can be read from FD (blkguest's start barrier):
 * many guests then load the backend together only after all have connected.
 * SIGUSR1 ends a --seconds run early, as if its time were up (the requests in
 * flight complete and --readback still runs): a test that does not know how
 * long its other steps take gives a generous bound and stops the run itself.
 * Exit: 0 ok, 1 I/O or verification errors, 2 usage, 3 negotiation failed.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <xen/io/blkif.h>

#include "blkfront.h"
#include "clock.h"

#define VERIFY_MAGIC 0x31464b4c424d4953ull /* "SIMBLKF1" */
#define STALL_MS 15000
#define START_WAIT_MS 120000
#define HIST_BUCKETS 2048

struct opts {
    const char *dir;
    long domid;
    uint32_t devid;
    struct bf_features want;
    bool seq;
    unsigned read_pct;          /* 100 read, 0 write */
    uint32_t bs;
    unsigned qd;
    double seconds;
    uint64_t ios;
    bool verify, readback, json, quiet;
    uint64_t seed;
    int start_fd;
};

struct slot {
    bool busy;
    bool write;
    unsigned queue;
    uint64_t block;
    uint32_t gen;
    uint8_t *buf;
};

struct run {
    struct opts *o;
    struct bf_dev *dev;
    unsigned nq;
    uint64_t nblocks;
    uint32_t *gen;              /* per block: 0 never written, UINT32_MAX unknown */
    uint8_t *inflight;          /* per block */
    uint32_t next_gen;
    uint64_t seq_next;
    uint64_t rng;
    struct slot *slots;
    unsigned nslots;
    unsigned *q_inflight;
    uint64_t issued, completed, reads, writes, bytes;
    uint64_t io_errors, verify_errors, verified_sectors;
    uint64_t hist[HIST_BUCKETS];
    bool reported_mismatch;
};

static void usage(FILE *out)
{
    fprintf(out,
            "usage: simblkfront --dir DIR --domid N --vdev DEVID|xvdX [options]\n"
            "  --backend-domid B      expect this backend domain\n"
            "  --no-persistent --no-indirect --no-flush --no-barrier --no-discard\n"
            "  --queues N (default 4)  --ring-order N (default 4)  --max-indirect N (32)\n"
            "  --protocol x86_32-abi|x86_64-abi|none  --timeout-ms MS (10000)\n"
            "  --workload rand|seq  --rw read|write|mix:READPCT  --bs SIZE (4k)\n"
            "  --qd N (per queue, 32)  --seconds S | --ios N (1000)\n"
            "  --verify [--readback]  --seed N  --json  --quiet  --start-fd FD\n"
            "exit: 0 ok, 1 I/O or verification error, 2 usage, 3 negotiation failed\n");
}

static uint64_t rnd(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545f4914f6cdd1dull;
}

/* ---- latency histogram: 32 sub-buckets per power of two (~3%) ---- */

static unsigned hist_idx(uint64_t v)
{
    if (v < 32)
        return (unsigned)v;
    unsigned e = 63u - (unsigned)__builtin_clzll(v);
    unsigned idx = (e - 4) * 32 + (unsigned)((v >> (e - 5)) & 31);
    return idx < HIST_BUCKETS ? idx : HIST_BUCKETS - 1;
}

static uint64_t hist_value(unsigned idx)
{
    if (idx < 32)
        return idx;
    unsigned e = idx / 32 + 4;
    return (32ull + idx % 32) << (e - 5);
}

static double hist_pct_us(const uint64_t *h, uint64_t total, double pct)
{
    if (!total)
        return 0;
    uint64_t want = (uint64_t)((double)total * pct / 100.0);
    if (want >= total)
        want = total - 1;
    uint64_t seen = 0;
    for (unsigned i = 0; i < HIST_BUCKETS; i++) {
        seen += h[i];
        if (seen > want)
            return (double)hist_value(i) / 1000.0;
    }
    return 0;
}

/* ---- verification pattern ---- */

static uint64_t checksum(const uint8_t *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 0x100000001b3ull;
    return h;
}

static void fill_sector(uint8_t *s, uint64_t sector, uint32_t gen)
{
    uint64_t hdr[3] = { VERIFY_MAGIC, sector, gen };
    memcpy(s, hdr, sizeof(hdr));
    uint64_t st = sector * 0x9e3779b97f4a7c15ull ^ gen ^ 1;
    for (size_t i = 24; i < BF_SECTOR_SIZE - 8; i += 8) {
        uint64_t v = rnd(&st);
        memcpy(s + i, &v, 8);
    }
    uint64_t c = checksum(s, BF_SECTOR_SIZE - 8);
    memcpy(s + BF_SECTOR_SIZE - 8, &c, 8);
}

/* 0 if the sector is what generation `gen` wrote at `sector`, else why. */
static const char *check_sector(const uint8_t *s, uint64_t sector, uint32_t gen)
{
    uint64_t hdr[3], c;
    memcpy(hdr, s, sizeof(hdr));
    memcpy(&c, s + BF_SECTOR_SIZE - 8, 8);
    if (hdr[0] != VERIFY_MAGIC)
        return "bad magic";
    if (hdr[1] != sector)
        return "wrong sector address";
    if (hdr[2] != gen)
        return "wrong generation";
    if (c != checksum(s, BF_SECTOR_SIZE - 8))
        return "bad checksum";
    return NULL;
}

/* ---- workload ---- */

static int pick_block(struct run *r, uint64_t *out)
{
    for (int tries = 0; tries < 64; tries++) {
        uint64_t b;
        if (r->o->seq) {
            b = r->seq_next;
            r->seq_next = (r->seq_next + 1) % r->nblocks;
        } else {
            b = rnd(&r->rng) % r->nblocks;
        }
        if (!r->inflight[b]) {
            *out = b;
            return 0;
        }
    }
    return -EAGAIN;
}

static int issue(struct run *r, unsigned q, unsigned si)
{
    struct slot *s = &r->slots[si];
    uint64_t block;
    if (pick_block(r, &block) < 0)
        return -EAGAIN;
    bool write = (rnd(&r->rng) % 100) >= r->o->read_pct;
    uint32_t spb = r->o->bs / BF_SECTOR_SIZE;
    uint64_t sector = block * spb;
    s->write = write;
    s->queue = q;
    s->block = block;
    s->gen = 0;
    if (write) {
        if (r->o->verify) {
            s->gen = ++r->next_gen;
            if (s->gen == UINT32_MAX)
                s->gen = r->next_gen = 1;
            for (uint32_t i = 0; i < spb; i++)
                fill_sector(s->buf + (size_t)i * BF_SECTOR_SIZE, sector + i, s->gen);
        }
    }
    struct bf_io io = {
        .op = write ? BF_OP_WRITE : BF_OP_READ,
        .sector = sector,
        .nr_sectors = spb,
        .buf = s->buf,
        .id = si,
    };
    int err = bf_submit(bf_dev_ring(r->dev, q), &io);
    if (err)
        return err;
    s->busy = true;
    r->inflight[block] = 1;
    r->q_inflight[q]++;
    r->issued++;
    return 0;
}

static void on_complete(void *arg, const struct bf_completion *c)
{
    struct run *r = arg;
    if (c->op == (enum bf_op)-1)
        return;
    struct slot *s = &r->slots[c->id];
    s->busy = false;
    r->inflight[s->block] = 0;
    r->q_inflight[s->queue]--;
    r->completed++;
    r->hist[hist_idx(c->latency_ns)]++;
    uint32_t spb = r->o->bs / BF_SECTOR_SIZE;
    if (c->status != BLKIF_RSP_OKAY) {
        r->io_errors++;
        if (s->write && r->gen)
            r->gen[s->block] = UINT32_MAX; /* contents unknown now */
        if (!r->o->quiet && r->io_errors <= 5)
            fprintf(stderr, "simblkfront: %s of sector %" PRIu64 " failed: status %d\n",
                    s->write ? "write" : "read", c->sector, c->status);
        return;
    }
    r->bytes += r->o->bs;
    if (s->write) {
        r->writes++;
        if (r->o->verify)
            r->gen[s->block] = s->gen;
        return;
    }
    r->reads++;
    uint32_t expect = r->o->verify ? r->gen[s->block] : 0;
    if (!expect || expect == UINT32_MAX)
        return;
    for (uint32_t i = 0; i < spb; i++) {
        uint64_t sector = s->block * spb + i;
        const char *why = check_sector(s->buf + (size_t)i * BF_SECTOR_SIZE, sector, expect);
        r->verified_sectors++;
        if (why) {
            r->verify_errors++;
            if (!r->reported_mismatch || r->verify_errors <= 5)
                fprintf(stderr, "simblkfront: verify: sector %" PRIu64 ": %s (generation %u)\n",
                        sector, why, expect);
            r->reported_mismatch = true;
        }
    }
}

static uint64_t parse_size(const char *s)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s)
        return 0;
    switch (*end) {
    case 'k': case 'K': v <<= 10; end++; break;
    case 'm': case 'M': v <<= 20; end++; break;
    case 0: break;
    default: return 0;
    }
    if (*end == 'b' || *end == 'B')
        end++;
    return *end ? 0 : v;
}

static int parse_args(int argc, char **argv, struct opts *o)
{
    enum { O_NOPERS = 256, O_NOIND, O_NOFLUSH, O_NOBARRIER, O_NODISCARD, O_MAXIND, O_TMO,
           O_BEDOM, O_RINGORD, O_START };
    static const struct option lo[] = {
        { "dir", required_argument, NULL, 'd' },
        { "domid", required_argument, NULL, 'D' },
        { "vdev", required_argument, NULL, 'v' },
        { "backend-domid", required_argument, NULL, O_BEDOM },
        { "no-persistent", no_argument, NULL, O_NOPERS },
        { "no-indirect", no_argument, NULL, O_NOIND },
        { "no-flush", no_argument, NULL, O_NOFLUSH },
        { "no-barrier", no_argument, NULL, O_NOBARRIER },
        { "no-discard", no_argument, NULL, O_NODISCARD },
        { "max-indirect", required_argument, NULL, O_MAXIND },
        { "queues", required_argument, NULL, 'q' },
        { "ring-order", required_argument, NULL, O_RINGORD },
        { "protocol", required_argument, NULL, 'p' },
        { "timeout-ms", required_argument, NULL, O_TMO },
        { "workload", required_argument, NULL, 'w' },
        { "rw", required_argument, NULL, 'r' },
        { "bs", required_argument, NULL, 'b' },
        { "qd", required_argument, NULL, 'Q' },
        { "seconds", required_argument, NULL, 's' },
        { "ios", required_argument, NULL, 'n' },
        { "verify", no_argument, NULL, 'V' },
        { "readback", no_argument, NULL, 'B' },
        { "seed", required_argument, NULL, 'S' },
        { "json", no_argument, NULL, 'j' },
        { "quiet", no_argument, NULL, 'z' },
        { "start-fd", required_argument, NULL, O_START },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    memset(o, 0, sizeof(*o));
    o->dir = getenv("XENSIM_DIR");
    o->domid = -1;
    bf_features_default(&o->want);
    o->read_pct = 100;
    o->bs = 4096;
    o->qd = 32;
    o->start_fd = -1;
    o->seed = (uint64_t)time(NULL) ^ (uint64_t)getpid() << 32;
    bool have_vdev = false;
    int c;
    char *end;
    while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
        errno = 0;
        switch (c) {
        case 'd': o->dir = optarg; break;
        case 'D': o->domid = strtol(optarg, &end, 10);
            if (*end || o->domid <= 0 || o->domid >= DOMID_FIRST_RESERVED) return -1;
            break;
        case 'v':
            if (xsim_vdev_to_devid(optarg, &o->devid) < 0) return -1;
            have_vdev = true;
            break;
        case O_BEDOM: o->want.backend_domid = (int)strtol(optarg, &end, 10);
            if (*end || o->want.backend_domid < 0) return -1;
            break;
        case O_NOPERS: o->want.persistent = false; break;
        case O_NOIND: o->want.max_indirect_segments = 0; break;
        case O_NOFLUSH: o->want.flush = false; break;
        case O_NOBARRIER: o->want.barrier = false; break;
        case O_NODISCARD: o->want.discard = false; break;
        case O_MAXIND: o->want.max_indirect_segments = (unsigned)strtoul(optarg, &end, 10);
            if (*end) return -1;
            break;
        case 'q': o->want.max_queues = (unsigned)strtoul(optarg, &end, 10);
            if (*end || o->want.max_queues == 0 || o->want.max_queues > BF_MAX_QUEUES) return -1;
            break;
        case O_RINGORD: o->want.max_ring_order = (unsigned)strtoul(optarg, &end, 10);
            if (*end || o->want.max_ring_order > BF_MAX_RING_ORDER) return -1;
            break;
        case 'p': {
            enum bf_abi abi;
            if (strcmp(optarg, "none") == 0)
                o->want.protocol = "";
            else if (bf_abi_from_protocol(optarg, &abi) == 0)
                o->want.protocol = optarg;
            else
                return -1;
            break;
        }
        case O_TMO: o->want.timeout_ms = (unsigned)strtoul(optarg, &end, 10);
            if (*end) return -1;
            break;
        case 'w':
            if (strcmp(optarg, "seq") == 0) o->seq = true;
            else if (strcmp(optarg, "rand") == 0) o->seq = false;
            else return -1;
            break;
        case 'r':
            if (strcmp(optarg, "read") == 0) o->read_pct = 100;
            else if (strcmp(optarg, "write") == 0) o->read_pct = 0;
            else if (strncmp(optarg, "mix:", 4) == 0) {
                o->read_pct = (unsigned)strtoul(optarg + 4, &end, 10);
                if (*end || !optarg[4] || o->read_pct > 100) return -1;
            } else return -1;
            break;
        case 'b': o->bs = (uint32_t)parse_size(optarg);
            if (!o->bs || o->bs % BF_SECTOR_SIZE || o->bs > (16u << 20)) return -1;
            break;
        case 'Q': o->qd = (unsigned)strtoul(optarg, &end, 10);
            if (*end || o->qd == 0 || o->qd > 4096) return -1;
            break;
        case 's': o->seconds = strtod(optarg, &end);
            if (*end || o->seconds <= 0) return -1;
            break;
        case 'n': o->ios = strtoull(optarg, &end, 10);
            if (*end || o->ios == 0) return -1;
            break;
        case 'V': o->verify = true; break;
        case 'B': o->readback = true; break;
        case 'S': o->seed = strtoull(optarg, &end, 0);
            if (*end) return -1;
            break;
        case 'j': o->json = true; break;
        case 'z': o->quiet = true; break;
        case O_START: o->start_fd = (int)strtol(optarg, &end, 10);
            if (*end || o->start_fd < 0) return -1;
            break;
        case 'h': usage(stdout); exit(0);
        default: return -1;
        }
    }
    if (optind != argc || !o->dir || !*o->dir || o->domid < 0 || !have_vdev)
        return -1;
    if (o->readback && !o->verify)
        return -1;
    if (o->seconds == 0 && o->ios == 0)
        o->ios = 1000;
    if (!o->seed)
        o->seed = 1;
    return 0;
}

/* ---- the run ---- */

/* Waits (connected, idle) for the one start byte; -ETIMEDOUT after a bound. */
static int wait_for_start(int fd)
{
    struct pollfd p = { .fd = fd, .events = POLLIN };
    int n;
    do
        n = poll(&p, 1, START_WAIT_MS);
    while (n < 0 && errno == EINTR);
    if (n == 0)
        return -ETIMEDOUT;
    char go;
    if (n < 0 || read(fd, &go, 1) != 1)
        return -EIO;
    return 0;
}

static volatile sig_atomic_t stop_requested;

static void request_stop(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static int drive(struct run *r)
{
    struct opts *o = r->o;
    uint64_t t0 = sc_clock_ns();
    uint64_t deadline = o->seconds > 0 ? t0 + (uint64_t)(o->seconds * 1e9) : UINT64_MAX;
    uint64_t last_progress = t0;
    struct pollfd pfd[BF_MAX_QUEUES + 1];
    for (;;) {
        uint64_t now = sc_clock_ns();
        bool more = !stop_requested && now < deadline && (o->ios == 0 || r->issued < o->ios);
        unsigned free_slot = 0;
        for (unsigned q = 0; more && q < r->nq; q++) {
            while (r->q_inflight[q] < o->qd && (o->ios == 0 || r->issued < o->ios)) {
                while (free_slot < r->nslots && r->slots[free_slot].busy)
                    free_slot++;
                if (free_slot == r->nslots || issue(r, q, free_slot) < 0)
                    break;
            }
        }
        unsigned inflight = 0;
        for (unsigned q = 0; q < r->nq; q++) {
            struct bf_ring *ring = bf_dev_ring(r->dev, q);
            if (bf_push(ring) < 0)
                return -EIO;
            inflight += r->q_inflight[q];
        }
        if (!inflight && !more)
            return 0;
        uint64_t before = r->completed;
        for (unsigned q = 0; q < r->nq; q++) {
            int n = bf_poll_responses(bf_dev_ring(r->dev, q), on_complete, r);
            if (n < 0) {
                fprintf(stderr, "simblkfront: queue %u: backend broke the ring protocol\n", q);
                return n;
            }
        }
        if (r->completed != before) {
            last_progress = sc_clock_ns();
            continue;
        }
        if (sc_clock_ns() - last_progress > (uint64_t)STALL_MS * 1000000) {
            fprintf(stderr, "simblkfront: no response for %d s with %u requests in flight\n",
                    STALL_MS / 1000, inflight);
            return -ETIMEDOUT;
        }
        for (unsigned q = 0; q < r->nq; q++)
            pfd[q] = (struct pollfd){ .fd = bf_ring_fd(bf_dev_ring(r->dev, q)), .events = POLLIN };
        pfd[r->nq] = (struct pollfd){ .fd = bf_dev_watch_fd(r->dev), .events = POLLIN };
        if (poll(pfd, r->nq + 1, 100) < 0 && errno != EINTR)
            return -errno;
        for (unsigned q = 0; q < r->nq; q++)
            if (pfd[q].revents & POLLIN)
                bf_wait(bf_dev_ring(r->dev, q), 0);
        if (pfd[r->nq].revents & POLLIN) {
            int ev = bf_dev_check(r->dev);
            if (ev > 0 && (ev & BF_DEV_EV_CLOSING)) {
                fprintf(stderr, "simblkfront: backend is closing the device\n");
                return -ENODEV;
            }
        }
    }
}

static void report(struct run *r, double secs, int status)
{
    struct bf_ring_stats tot = { 0 };
    for (unsigned q = 0; q < r->nq; q++) {
        const struct bf_ring_stats *s = bf_ring_get_stats(bf_dev_ring(r->dev, q));
        tot.requests += s->requests;
        tot.responses += s->responses;
        tot.kicks_sent += s->kicks_sent;
        tot.kicks_received += s->kicks_received;
        tot.indirect_requests += s->indirect_requests;
        tot.grant_busy += s->grant_busy;
        tot.bad_responses += s->bad_responses;
    }
    const struct bf_dev_info *in = bf_dev_get_info(r->dev);
    double iops = secs > 0 ? (double)r->completed / secs : 0;
    double mbs = secs > 0 ? (double)r->bytes / secs / 1e6 : 0;
    double p50 = hist_pct_us(r->hist, r->completed, 50);
    double p99 = hist_pct_us(r->hist, r->completed, 99);
    double p999 = hist_pct_us(r->hist, r->completed, 99.9);
    double kpr = tot.requests ? (double)tot.kicks_sent / (double)tot.requests : 0;
    double kpresp = tot.responses ? (double)tot.kicks_received / (double)tot.responses : 0;
    uint64_t errors = r->io_errors + r->verify_errors + tot.grant_busy + tot.bad_responses;
    if (r->o->json) {
        json_t *j = json_pack(
            "{s:i, s:i, s:s, s:{s:i, s:i, s:i, s:b, s:i, s:s, s:b, s:b, s:b, s:I, s:i}, "
            "s:f, s:I, s:I, s:I, s:f, s:f, s:{s:f, s:f, s:f}, s:f, s:f, s:I, s:I, s:I, s:I, "
            "s:I, s:I, s:I, s:I, s:I, s:s}",
            "domid", (int)r->o->domid, "devid", (int)in->devid, "backend", in->backend_path,
            "negotiated", "queues", (int)in->nr_queues, "ring_pages", (int)in->ring_pages,
            "ring_order", (int)in->ring_order, "persistent", in->persistent,
            "max_indirect_segments", (int)in->max_indirect_segments, "protocol",
            bf_abi_protocol(in->abi), "flush", in->flush, "barrier", in->barrier, "discard",
            in->discard, "sectors", (json_int_t)in->sectors, "sector_size",
            (int)in->sector_size,
            "seconds", secs, "ios", (json_int_t)r->completed, "reads", (json_int_t)r->reads,
            "writes", (json_int_t)r->writes, "iops", iops, "mb_per_s", mbs, "latency_us",
            "p50", p50, "p99", p99, "p99_9", p999, "kicks_sent_per_request", kpr,
            "kicks_received_per_response", kpresp, "kicks_sent", (json_int_t)tot.kicks_sent,
            "kicks_received", (json_int_t)tot.kicks_received, "indirect_requests",
            (json_int_t)tot.indirect_requests, "io_errors", (json_int_t)r->io_errors,
            "verify_errors", (json_int_t)r->verify_errors, "verified_sectors",
            (json_int_t)r->verified_sectors, "grant_busy", (json_int_t)tot.grant_busy,
            "bad_responses", (json_int_t)tot.bad_responses, "errors", (json_int_t)errors,
            "result", status ? "failed" : "ok");
        if (j) {
            char *s = json_dumps(j, JSON_COMPACT);
            if (s)
                printf("%s\n", s);
            free(s);
            json_decref(j);
        }
        return;
    }
    if (r->o->quiet)
        return;
    printf("vbd %ld/%u: %u queue(s) x %u page ring, persistent=%d indirect=%u protocol=%s\n",
           r->o->domid, in->devid, in->nr_queues, in->ring_pages, in->persistent,
           in->max_indirect_segments, bf_abi_protocol(in->abi));
    printf("ios %" PRIu64 " (%" PRIu64 " reads, %" PRIu64 " writes) in %.2f s\n", r->completed,
           r->reads, r->writes, secs);
    printf("iops %.0f  MB/s %.1f\n", iops, mbs);
    printf("latency us: p50 %.1f  p99 %.1f  p99.9 %.1f\n", p50, p99, p999);
    printf("kicks sent/request %.3f  kicks received/response %.3f\n", kpr, kpresp);
    printf("errors %" PRIu64 " (io %" PRIu64 ", verify %" PRIu64 " of %" PRIu64
           " sectors checked, grant busy %" PRIu64 ")\n",
           errors, r->io_errors, r->verify_errors, r->verified_sectors, tot.grant_busy);
}

static int setup_run(struct run *r)
{
    const struct bf_dev_info *in = bf_dev_get_info(r->dev);
    struct opts *o = r->o;
    r->nq = bf_dev_nr_queues(r->dev);
    uint32_t spb = o->bs / BF_SECTOR_SIZE;
    if (o->bs % in->sector_size) {
        fprintf(stderr, "simblkfront: --bs %u is not a multiple of sector-size %u\n", o->bs,
                in->sector_size);
        return -EINVAL;
    }
    if (spb > bf_ring_max_sectors(bf_dev_ring(r->dev, 0))) {
        fprintf(stderr, "simblkfront: --bs %u exceeds the largest request (%u bytes)\n", o->bs,
                bf_ring_max_sectors(bf_dev_ring(r->dev, 0)) * BF_SECTOR_SIZE);
        return -EINVAL;
    }
    /* `sectors` counts 512-byte units, as Linux blkfront reads it. */
    uint64_t disk_sectors = in->sectors;
    /* Verification keeps a generation per block: bound its table to 4 GiB. */
    if (o->verify && disk_sectors > (4ull << 30) / BF_SECTOR_SIZE)
        disk_sectors = (4ull << 30) / BF_SECTOR_SIZE;
    else if (disk_sectors > (1ull << 40) / BF_SECTOR_SIZE)
        disk_sectors = (1ull << 40) / BF_SECTOR_SIZE;
    r->nblocks = disk_sectors / spb;
    if (r->nblocks == 0) {
        fprintf(stderr, "simblkfront: disk of %" PRIu64 " sectors is smaller than --bs\n",
                in->sectors);
        return -EINVAL;
    }
    unsigned ents = bf_ring_entries(bf_dev_ring(r->dev, 0));
    if (o->qd > ents)
        o->qd = ents;
    r->nslots = o->qd * r->nq;
    r->slots = calloc(r->nslots, sizeof(*r->slots));
    r->q_inflight = calloc(r->nq, sizeof(*r->q_inflight));
    r->inflight = calloc(r->nblocks, 1);
    r->gen = o->verify ? calloc(r->nblocks, sizeof(*r->gen)) : NULL;
    if (!r->slots || !r->q_inflight || !r->inflight || (o->verify && !r->gen))
        return -ENOMEM;
    for (unsigned i = 0; i < r->nslots; i++)
        if (!(r->slots[i].buf = calloc(1, o->bs)))
            return -ENOMEM;
    r->rng = o->seed;
    return 0;
}

static void free_run(struct run *r)
{
    for (unsigned i = 0; r->slots && i < r->nslots; i++)
        free(r->slots[i].buf);
    free(r->slots);
    free(r->q_inflight);
    free(r->inflight);
    free(r->gen);
}

int main(int argc, char **argv)
{
    struct opts o;
    if (parse_args(argc, argv, &o) < 0) {
        usage(stderr);
        return 2;
    }
    /* No SA_RESTART: the stop interrupts the drive loop's poll at once. */
    struct sigaction stop = { .sa_handler = request_stop };
    sigaction(SIGUSR1, &stop, NULL);
    struct xsim_guest *g = xsim_guest_open(o.dir, (domid_t)o.domid);
    if (!g) {
        fprintf(stderr, "simblkfront: cannot act as domain %ld in %s: %s\n", o.domid, o.dir,
                strerror(errno));
        return 3;
    }
    char err[256];
    struct run r = { .o = &o };
    int ret = bf_dev_open(g, o.devid, &o.want, &r.dev, err, sizeof(err));
    if (ret < 0) {
        fprintf(stderr, "simblkfront: negotiation failed: %s\n", err[0] ? err : strerror(-ret));
        xsim_guest_close(g);
        return 3;
    }
    int status = 0;
    if (setup_run(&r) < 0) {
        status = 2;
    } else if (o.start_fd >= 0 && (ret = wait_for_start(o.start_fd)) < 0) {
        fprintf(stderr, "simblkfront: no start byte on fd %d: %s\n", o.start_fd,
                ret == -ETIMEDOUT ? "none within the bound" : strerror(-ret));
        status = 1;
    } else {
        uint64_t t0 = sc_clock_ns();
        int dr = drive(&r);
        if (dr == 0 && o.readback) {
            /* every block once, in order, reads only */
            o.seq = true;
            o.read_pct = 100;
            o.seconds = 0;
            o.ios = r.issued + r.nblocks;
            r.seq_next = 0;
            dr = drive(&r);
        }
        double secs = (double)(sc_clock_ns() - t0) / 1e9;
        if (dr < 0 || r.io_errors || r.verify_errors)
            status = 1;
        for (unsigned q = 0; q < r.nq; q++) {
            const struct bf_ring_stats *s = bf_ring_get_stats(bf_dev_ring(r.dev, q));
            if (s->grant_busy || s->bad_responses)
                status = 1;
        }
        report(&r, secs, status);
    }
    int cr = bf_dev_close(r.dev);
    if (cr < 0) {
        fprintf(stderr, "simblkfront: disconnect: %s\n", strerror(-cr));
        if (!status)
            status = 1;
    }
    free_run(&r);
    bf_dev_free(r.dev);
    xsim_guest_close(g);
    return status;
}
