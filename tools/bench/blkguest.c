/*
 * blkguest - a benchmark guest for blkbench: connects a vbd through the
 * simulated blkfront (tools/simfront/blkfront.h), then waits for a start
 * signal so that every guest of a run drives I/O over the same seconds.
 *
 *   blkguest --dir DIR --domid N --vdev DEVID [--workload rand|seq]
 *       [--rw read|write|mix:READPCT] [--bs 4k] [--qd 16] [--seconds 5]
 *       [--queues 1] [--think-us N] [--ready-fd R --start-fd S]
 *       [--timeout-ms 60000]
 *
 * Protocol with the orchestrator: once connected it writes "c" to fd R and
 * reads one byte from fd S (blocking); it then drives --qd requests in
 * flight per queue for --seconds, writes "d" to R, prints one JSON line
 * (the keys of simblkfront --json that a benchmark needs: ios, iops,
 * mb_per_s, latency_us{p50,p99,p99_9}, kicks_sent, kicks_received,
 * requests, responses, errors, result, negotiated{...}) and disconnects.
 * Without the barrier, with 64 guests the last connects seconds after
 * the first (in event mode above all), so the guests' runs would not
 * overlap (simblkfront has the same barrier as --start-fd).  No data is moved (bf_io.buf = NULL): the backend's
 * work is measured, not the guest's memcpy, and the floor backend returns
 * no data anyway.
 * --think-us N: a low-rate guest instead (rampbench's wake-up probe): on the
 * first queue, at qd 1, it sleeps N us (nanosleep), submits one request,
 * pushes (kicking if the backend asked) and sleeps on the event channel
 * until the response; again until --seconds.  Its latencies are then those
 * a backend that may have gone to sleep in the gap gives.  The histogram's
 * buckets are ~6% wide (2 us at 32..64 us); latency_us also has min, p90
 * and mean.  latency_hist_us is that histogram, coarsened to 4 buckets per
 * power of two (14-25% wide) for the latency CDFs of tools/bench/plot.pl: two
 * arrays, le (each bucket's upper bound, us) and n (its count), non-empty
 * buckets only, so a report stays a few hundred bytes.
 * SIGUSR1 ends the run early, as if --seconds were up (a test's bound).
 * Exit: 0 ok, 1 I/O errors or a stall, 2 usage, 3 negotiation failed.
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "blkfront.h"

#define STALL_NS    (15ull * 1000000000ull)
#define HIST_SUB    16u   /* sub-buckets per power of two: ~6% resolution */
#define HIST_SLOTS  (64u * HIST_SUB)
#define HIST_MERGE  4u    /* slots per reported bucket: 4 per power of two */

struct opts {
    const char *dir;
    long domid;
    uint32_t devid;
    bool seq;
    unsigned read_pct;
    uint32_t bs;
    unsigned qd, queues;
    double seconds;
    unsigned think_us;
    int ready_fd, start_fd;
    unsigned timeout_ms;
};

struct run {
    const struct opts *o;
    struct bf_dev *dev;
    unsigned nq;
    uint64_t nblocks, next_seq, rng;
    unsigned *inflight;       /* per queue */
    uint64_t completed, bytes, errors;
    uint64_t lat_sum_ns, lat_min_ns;
    uint64_t hist[HIST_SLOTS];
};

static volatile sig_atomic_t stop_early; /* SIGUSR1 */

static void on_usr1(int sig)
{
    (void)sig;
    stop_early = 1;
}

static uint64_t rnd(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 0x2545f4914f6cdd1dull;
}

/* Log-linear histogram of nanoseconds: exact below HIST_SUB, then HIST_SUB
 * buckets per power of two. */
static unsigned hist_slot(uint64_t v)
{
    if (v < HIST_SUB)
        return (unsigned)v;
    unsigned e = 63u - (unsigned)__builtin_clzll(v); /* >= 4 */
    unsigned sub = (unsigned)(v >> (e - 4)) & (HIST_SUB - 1);
    return (e - 3) * HIST_SUB + sub;
}

static double hist_slot_us(unsigned s)
{
    if (s < HIST_SUB)
        return s / 1000.0;
    unsigned e = s / HIST_SUB + 3;
    return (double)((uint64_t)(HIST_SUB + s % HIST_SUB) << (e - 4)) / 1000.0;
}

static double percentile_us(const struct run *r, double pct)
{
    if (!r->completed)
        return 0;
    uint64_t want = (uint64_t)((double)r->completed * pct / 100.0), seen = 0;
    if (want >= r->completed)
        want = r->completed - 1;
    for (unsigned s = 0; s < HIST_SLOTS; s++) {
        seen += r->hist[s];
        if (seen > want)
            return hist_slot_us(s);
    }
    return 0;
}

/* The histogram, HIST_MERGE slots a bucket, as {"le": [...], "n": [...]};
 * slots under HIST_SUB ns (exact values) join the first bucket above them. */
static json_t *hist_json(const struct run *r)
{
    json_t *le = json_array(), *n = json_array();
    uint64_t acc = 0;
    for (unsigned s = 0; s < HIST_SLOTS; s++) {
        acc += r->hist[s];
        bool last = s + 1 == HIST_SLOTS;
        if (s < HIST_SUB || (!last && (s + 1) % HIST_MERGE) || !acc)
            continue;
        /* the next slot's lower bound is this bucket's upper one */
        double top = last ? hist_slot_us(s) * 2 : hist_slot_us(s + 1);
        json_array_append_new(le, json_real(top));
        json_array_append_new(n, json_integer((json_int_t)acc));
        acc = 0;
    }
    return json_pack("{s:o, s:o}", "le", le, "n", n);
}

static void on_complete(void *arg, const struct bf_completion *c)
{
    struct run *r = arg;
    r->inflight[c->id]--;
    r->completed++;
    r->hist[hist_slot(c->latency_ns)]++;
    r->lat_sum_ns += c->latency_ns;
    if (r->completed == 1 || c->latency_ns < r->lat_min_ns)
        r->lat_min_ns = c->latency_ns;
    if (c->status == BLKIF_RSP_OKAY)
        r->bytes += (uint64_t)c->nr_sectors * BF_SECTOR_SIZE;
    else
        r->errors++;
}

static int submit_one(struct run *r, unsigned q)
{
    uint64_t block = r->o->seq ? r->next_seq++ % r->nblocks : rnd(&r->rng) % r->nblocks;
    bool write = rnd(&r->rng) % 100 >= r->o->read_pct;
    uint32_t spb = r->o->bs / BF_SECTOR_SIZE;
    struct bf_io io = {
        .op = write ? BF_OP_WRITE : BF_OP_READ,
        .sector = block * spb,
        .nr_sectors = spb,
        .buf = NULL,
        .id = q,
    };
    int rc = bf_submit(bf_dev_ring(r->dev, q), &io);
    if (rc == 0)
        r->inflight[q]++;
    return rc;
}

static int drive(struct run *r)
{
    uint64_t deadline = sc_clock_ns() + (uint64_t)(r->o->seconds * 1e9);
    uint64_t last_progress = sc_clock_ns();
    struct pollfd pfd[BF_MAX_QUEUES];
    for (;;) {
        bool more = sc_clock_ns() < deadline && !stop_early;
        unsigned inflight = 0;
        for (unsigned q = 0; q < r->nq; q++) {
            while (more && r->inflight[q] < r->o->qd && submit_one(r, q) == 0)
                ;
            if (bf_push(bf_dev_ring(r->dev, q)) < 0)
                return -EIO;
            inflight += r->inflight[q];
        }
        if (!inflight && !more)
            return 0;
        uint64_t before = r->completed;
        for (unsigned q = 0; q < r->nq; q++)
            if (bf_poll_responses(bf_dev_ring(r->dev, q), on_complete, r) < 0) {
                fprintf(stderr, "blkguest: queue %u: backend broke the ring protocol\n", q);
                return -EPROTO;
            }
        if (r->completed != before) {
            last_progress = sc_clock_ns();
            continue;
        }
        if (sc_clock_ns() - last_progress > STALL_NS) {
            fprintf(stderr, "blkguest: no response for 15 s, %u in flight\n", inflight);
            return -ETIMEDOUT;
        }
        for (unsigned q = 0; q < r->nq; q++)
            pfd[q] = (struct pollfd){ .fd = bf_ring_fd(bf_dev_ring(r->dev, q)), .events = POLLIN };
        if (poll(pfd, r->nq, 100) < 0 && errno != EINTR)
            return -errno;
        for (unsigned q = 0; q < r->nq; q++)
            if (pfd[q].revents & POLLIN)
                bf_wait(bf_dev_ring(r->dev, q), 0);
    }
}

/* --think-us: one request at a time on queue 0, a sleep before each. */
static int drive_paced(struct run *r)
{
    struct bf_ring *ring = bf_dev_ring(r->dev, 0);
    uint64_t deadline = sc_clock_ns() + (uint64_t)(r->o->seconds * 1e9);
    const struct timespec think = { .tv_sec = r->o->think_us / 1000000u,
                                    .tv_nsec = (long)(r->o->think_us % 1000000u) * 1000 };
    while (sc_clock_ns() < deadline && !stop_early) {
        struct timespec left = think;
        while (nanosleep(&left, &left) < 0 && errno == EINTR)
            ;
        if (submit_one(r, 0) < 0 || bf_push(ring) < 0)
            return -EIO;
        uint64_t t0 = sc_clock_ns();
        while (r->inflight[0]) {
            int n = bf_poll_responses(ring, on_complete, r);
            if (n < 0) {
                fprintf(stderr, "blkguest: backend broke the ring protocol\n");
                return -EPROTO;
            }
            if (n > 0)
                continue;
            if (sc_clock_ns() - t0 > STALL_NS) {
                fprintf(stderr, "blkguest: no response for 15 s\n");
                return -ETIMEDOUT;
            }
            n = bf_wait(ring, 100);
            if (n < 0)
                return n;
        }
    }
    return 0;
}

static void report(const struct run *r, double secs, bool ok)
{
    struct bf_ring_stats t = { 0 };
    for (unsigned q = 0; q < r->nq; q++) {
        const struct bf_ring_stats *s = bf_ring_get_stats(bf_dev_ring(r->dev, q));
        t.requests += s->requests;
        t.responses += s->responses;
        t.kicks_sent += s->kicks_sent;
        t.kicks_received += s->kicks_received;
    }
    const struct bf_dev_info *in = bf_dev_get_info(r->dev);
    json_t *j = json_pack(
        "{s:i, s:i, s:{s:i, s:i, s:b, s:i}, s:f, s:I, s:f, s:f, s:{s:f, s:f, s:f, s:f, s:f, s:f}, "
        "s:o, s:I, s:I, s:I, s:I, s:I, s:s}",
        "domid", (int)r->o->domid, "devid", (int)in->devid, "negotiated", "queues",
        (int)in->nr_queues, "ring_pages", (int)in->ring_pages, "persistent", in->persistent,
        "max_indirect_segments", (int)in->max_indirect_segments, "seconds", secs, "ios",
        (json_int_t)r->completed, "iops", secs > 0 ? (double)r->completed / secs : 0.0,
        "mb_per_s", secs > 0 ? (double)r->bytes / secs / 1e6 : 0.0, "latency_us", "p50",
        percentile_us(r, 50), "p99", percentile_us(r, 99), "p99_9", percentile_us(r, 99.9),
        "p90", percentile_us(r, 90), "min", (double)r->lat_min_ns / 1000.0, "mean",
        r->completed ? (double)r->lat_sum_ns / (double)r->completed / 1000.0 : 0.0,
        "latency_hist_us", hist_json(r), "requests", (json_int_t)t.requests, "responses", (json_int_t)t.responses, "kicks_sent",
        (json_int_t)t.kicks_sent, "kicks_received", (json_int_t)t.kicks_received, "errors",
        (json_int_t)r->errors, "result", ok ? "ok" : "failed");
    char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
    if (s)
        printf("%s\n", s);
    free(s);
    json_decref(j);
}

static int parse_args(int argc, char **argv, struct opts *o)
{
    static const struct option lo[] = {
        { "dir", required_argument, NULL, 'd' },
        { "domid", required_argument, NULL, 'D' },
        { "vdev", required_argument, NULL, 'v' },
        { "workload", required_argument, NULL, 'w' },
        { "rw", required_argument, NULL, 'r' },
        { "bs", required_argument, NULL, 'b' },
        { "qd", required_argument, NULL, 'Q' },
        { "queues", required_argument, NULL, 'q' },
        { "seconds", required_argument, NULL, 's' },
        { "ready-fd", required_argument, NULL, 'R' },
        { "start-fd", required_argument, NULL, 'S' },
        { "timeout-ms", required_argument, NULL, 'T' },
        { "think-us", required_argument, NULL, 't' },
        { NULL, 0, NULL, 0 },
    };
    *o = (struct opts){ .dir = getenv("XENSIM_DIR"), .domid = -1, .read_pct = 100, .bs = 4096,
                        .qd = 16, .queues = 1, .seconds = 5, .ready_fd = -1, .start_fd = -1,
                        .timeout_ms = 60000 };
    bool have_vdev = false;
    char *end = NULL;
    int c;
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (c) {
        case 'd': o->dir = optarg; break;
        case 'D': o->domid = strtol(optarg, &end, 10); break;
        case 'v': o->devid = (uint32_t)strtoul(optarg, &end, 10); have_vdev = true; break;
        case 'w':
            if (strcmp(optarg, "seq") && strcmp(optarg, "rand"))
                return -1;
            o->seq = !strcmp(optarg, "seq");
            break;
        case 'r':
            if (!strcmp(optarg, "read"))
                o->read_pct = 100;
            else if (!strcmp(optarg, "write"))
                o->read_pct = 0;
            else if (!strncmp(optarg, "mix:", 4))
                o->read_pct = (unsigned)strtoul(optarg + 4, &end, 10);
            else
                return -1;
            break;
        case 'b':
            o->bs = (uint32_t)strtoul(optarg, &end, 10);
            if (*end == 'k' || *end == 'K') {
                o->bs <<= 10;
                end++;
            }
            break;
        case 'Q': o->qd = (unsigned)strtoul(optarg, &end, 10); break;
        case 'q': o->queues = (unsigned)strtoul(optarg, &end, 10); break;
        case 's': o->seconds = strtod(optarg, &end); break;
        case 'R': o->ready_fd = (int)strtol(optarg, &end, 10); break;
        case 'S': o->start_fd = (int)strtol(optarg, &end, 10); break;
        case 'T': o->timeout_ms = (unsigned)strtoul(optarg, &end, 10); break;
        case 't': o->think_us = (unsigned)strtoul(optarg, &end, 10); break;
        default: return -1;
        }
        if (end && *end)
            return -1;
        end = NULL;
    }
    if (optind != argc || !o->dir || o->domid <= 0 || !have_vdev || o->read_pct > 100 ||
        !o->bs || o->bs % BF_SECTOR_SIZE || o->bs > 44u * 1024 || !o->qd || !o->queues ||
        o->queues > BF_MAX_QUEUES || o->seconds <= 0)
        return -1;
    return 0;
}

static void signal_fd(int fd, char what)
{
    if (fd >= 0 && write(fd, &what, 1) != 1)
        perror("blkguest: ready-fd");
}

int main(int argc, char **argv)
{
    struct opts o;
    if (parse_args(argc, argv, &o) < 0) {
        fprintf(stderr, "usage: blkguest --dir DIR --domid N --vdev DEVID [--workload rand|seq]\n"
                        "  [--rw read|write|mix:R] [--bs 4k (<= 44k)] [--qd 16] [--seconds 5]\n"
                        "  [--queues 1] [--think-us N] [--ready-fd R --start-fd S]\n"
                        "  [--timeout-ms 60000]\n");
        return 2;
    }
    struct sigaction usr1 = { .sa_handler = on_usr1 };
    sigaction(SIGUSR1, &usr1, NULL);
    struct xsim_guest *g = xsim_guest_open(o.dir, (domid_t)o.domid);
    if (!g) {
        fprintf(stderr, "blkguest: domain %ld in %s: %s\n", o.domid, o.dir, strerror(errno));
        return 3;
    }
    struct bf_features want;
    bf_features_default(&want);
    want.max_queues = o.queues;
    want.max_indirect_segments = 0; /* --bs stays within one direct request */
    want.timeout_ms = o.timeout_ms;
    struct run r = { .o = &o, .rng = 0x9e3779b97f4a7c15ull ^ (uint64_t)o.domid << 17 };
    char err[256] = "";
    int rc = bf_dev_open(g, o.devid, &want, &r.dev, err, sizeof(err));
    if (rc < 0) {
        fprintf(stderr, "blkguest: domain %ld: negotiation failed: %s\n", o.domid,
                err[0] ? err : strerror(-rc));
        signal_fd(o.ready_fd, 'f');
        xsim_guest_close(g);
        return 3;
    }
    r.nq = bf_dev_nr_queues(r.dev);
    r.nblocks = bf_dev_get_info(r.dev)->sectors / (o.bs / BF_SECTOR_SIZE);
    unsigned ents = bf_ring_entries(bf_dev_ring(r.dev, 0));
    if (o.qd > ents)
        o.qd = ents;
    r.inflight = calloc(r.nq, sizeof(*r.inflight));
    int status = 0;
    if (!r.inflight || !r.nblocks) {
        fprintf(stderr, "blkguest: %s\n", r.nblocks ? "out of memory" : "disk smaller than --bs");
        status = 1;
    } else {
        signal_fd(o.ready_fd, 'c');
        char go;
        if (o.start_fd >= 0 && read(o.start_fd, &go, 1) != 1)
            fprintf(stderr, "blkguest: start-fd closed: starting now\n");
        uint64_t t0 = sc_clock_ns();
        int dr = o.think_us ? drive_paced(&r) : drive(&r);
        double secs = (double)(sc_clock_ns() - t0) / 1e9;
        signal_fd(o.ready_fd, 'd');
        status = dr < 0 || r.errors ? 1 : 0;
        report(&r, secs, status == 0);
    }
    fflush(stdout);
    if (bf_dev_close(r.dev) < 0 && !status)
        status = 1;
    bf_dev_free(r.dev);
    free(r.inflight);
    xsim_guest_close(g);
    return status;
}
