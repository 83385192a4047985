/*
 * xensim-bench - what the platform layer costs on xensim, in one run.
 *
 *   xensim-bench [--json] [--seconds S]
 *
 * Starts a private xensimd ($SC_BUILD/bin/xensimd, else next to this
 * program), creates a guest domain served by a forked guest process, and
 * measures from dom0 through the sc_* layer (what sidecored pays):
 *   - event-channel kick round trip between the two processes (ping-pong,
 *     both sides blocking in poll on their event-channel fd),
 *   - grant map+unmap of 1 page and of a 32-page batch,
 *   - grant copy of 4 KiB gref->local, alone and 32 to a call,
 *   - plain memcpy of 4 KiB, the yardstick,
 * each as the median of several timed rounds, then the ratios.
 * Not a test: it checks the data once so the numbers mean something, and
 * exits non-zero only when something fails outright.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "gnt_batch.h"
#include "log.h"
#include "xen.h"
#include "xensim.h"
#include "xensim_guest.h"

#define PG XSIM_PAGE_SIZE
#define BATCH 32u
#define ROUNDS 5
#define IO_TIMEOUT_MS 5000

struct world {
    char dir[PATH_MAX];
    pid_t xensimd;
    pid_t guest;
    int guest_ctl;          /* write end: closing it ends the guest */
    struct xsim *dom0;
    domid_t guest_id;
};

/* What the guest tells dom0 once its pages are granted. */
struct guest_hello {
    int32_t port;
    uint32_t refs[BATCH + 1]; /* BATCH pages for maps, one for copies */
};

static int die(const char *what, int err)
{
    fprintf(stderr, "xensim-bench: %s: %s\n", what, strerror(err < 0 ? -err : err));
    return 1;
}

/* ---- the world ---- */

static const char *xensimd_path(char *buf, size_t len)
{
    const char *build = getenv("SC_BUILD");
    if (build && *build) {
        snprintf(buf, len, "%s/bin/xensimd", build);
        return buf;
    }
    ssize_t n = readlink("/proc/self/exe", buf, len - 1);
    if (n <= 0)
        return "xensimd";
    buf[n] = '\0';
    char *slash = strrchr(buf, '/');
    snprintf(slash ? slash + 1 : buf, len - (size_t)(slash ? slash + 1 - buf : 0), "xensimd");
    return buf;
}

static int start_xensimd(struct world *w)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(w->dir, sizeof(w->dir), "%s/xensim-bench.XXXXXX", tmp ? tmp : "/tmp");
    if (!mkdtemp(w->dir))
        return -errno;
    char exe[PATH_MAX];
    const char *path = xensimd_path(exe, sizeof(exe));
    int fds[2];
    if (pipe2(fds, O_CLOEXEC))
        return -errno;
    pid_t pid = fork();
    if (pid < 0)
        return -errno;
    if (pid == 0) {
        int wfd = dup(fds[1]); /* survives exec */
        char arg[16];
        snprintf(arg, sizeof(arg), "%d", wfd);
        execl(path, "xensimd", "--dir", w->dir, "--ready-fd", arg, "--exit-with-parent",
              (char *)NULL);
        fprintf(stderr, "xensim-bench: exec %s: %s\n", path, strerror(errno));
        _exit(127);
    }
    close(fds[1]);
    w->xensimd = pid;
    struct pollfd p = { .fd = fds[0], .events = POLLIN };
    char buf[8] = "";
    bool ready = poll(&p, 1, 20000) == 1 && read(fds[0], buf, sizeof(buf)) > 0 &&
                 strncmp(buf, "ready", 5) == 0;
    close(fds[0]);
    return ready ? 0 : -ETIMEDOUT;
}

/* The guest: grants its pages to dom0, then answers every kick with one. */
static void guest_main(const char *dir, domid_t self, int ctl, int hello_fd)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    struct xsim_guest *g = xsim_guest_open(dir, self);
    if (!g)
        _exit(2);
    uint64_t gfn;
    uint8_t *pages = xsim_guest_pages_alloc(g, BATCH + 1, &gfn);
    if (!pages)
        _exit(3);
    struct guest_hello hello;
    for (uint32_t i = 0; i < BATCH + 1; i++) {
        memset(pages + i * PG, 0x5a ^ (int)i, PG);
        int ref = xsim_guest_grant(g, 0, gfn + i, false);
        if (ref < 0)
            _exit(4);
        hello.refs[i] = (uint32_t)ref;
    }
    struct xsim_evtchn *h = xsim_evtchn_open(xsim_guest_xsim(g));
    if (!h)
        _exit(5);
    hello.port = xsim_evtchn_alloc_unbound(h, 0);
    if (hello.port < 0 || write(hello_fd, &hello, sizeof(hello)) != sizeof(hello))
        _exit(6);
    close(hello_fd);

    int efd = xsim_evtchn_fd(h);
    for (;;) {
        struct pollfd p[2] = { { .fd = efd, .events = POLLIN }, { .fd = ctl, .events = POLLIN } };
        if (poll(p, 2, -1) < 0 && errno != EINTR)
            _exit(7);
        if (p[1].revents)
            break; /* dom0 closed the pipe: done */
        int port;
        while ((port = xsim_evtchn_pending(h)) >= 0) {
            xsim_evtchn_unmask(h, (evtchn_port_t)port);
            xsim_evtchn_notify(h, (evtchn_port_t)port);
        }
    }
    xsim_evtchn_close(h);
    xsim_guest_close(g);
    _exit(0);
}

static int start_guest(struct world *w, struct guest_hello *hello)
{
    w->dom0 = xsim_open(w->dir, 0);
    if (!w->dom0)
        return -errno;
    int id = xsim_domain_create(w->dom0, "bench-guest", 64);
    if (id < 0)
        return id;
    w->guest_id = (domid_t)id;

    int ctl[2], hp[2];
    if (pipe2(ctl, O_CLOEXEC) || pipe2(hp, O_CLOEXEC))
        return -errno;
    pid_t pid = fork();
    if (pid < 0)
        return -errno;
    if (pid == 0) {
        close(ctl[1]);
        close(hp[0]);
        guest_main(w->dir, w->guest_id, ctl[0], hp[1]);
    }
    close(ctl[0]);
    close(hp[1]);
    w->guest = pid;
    w->guest_ctl = ctl[1];
    struct pollfd p = { .fd = hp[0], .events = POLLIN };
    bool ok = poll(&p, 1, 20000) == 1 && read(hp[0], hello, sizeof(*hello)) == sizeof(*hello);
    close(hp[0]);
    return ok ? 0 : -EPROTO;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

static void stop_world(struct world *w)
{
    if (w->guest > 0) {
        close(w->guest_ctl);
        waitpid(w->guest, NULL, 0);
    }
    if (w->dom0)
        xsim_close(w->dom0);
    if (w->xensimd > 0) {
        kill(w->xensimd, SIGTERM);
        waitpid(w->xensimd, NULL, 0);
    }
    if (w->dir[0])
        nftw(w->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* ---- what is measured ---- */

struct bench {
    struct sc_xen *x;
    struct sc_evtchn *evtchn;
    evtchn_port_t port;
    domid_t guest;
    grant_ref_t refs[BATCH + 1];
    xengnttab_grant_copy_segment_t segs[BATCH];
    uint8_t *local;           /* BATCH pages */
    uint8_t *src;             /* memcpy source */
};

typedef int bench_fn(struct bench *b, uint64_t iters);

static int kick_round_trip(struct bench *b, uint64_t iters)
{
    int fd = sc_evtchn_fd(b->evtchn);
    for (uint64_t i = 0; i < iters; i++) {
        int rc = sc_evtchn_notify(b->evtchn, b->port);
        if (rc < 0)
            return rc;
        int port;
        while ((port = sc_evtchn_pending(b->evtchn)) == -EAGAIN) {
            struct pollfd p = { .fd = fd, .events = POLLIN };
            if (poll(&p, 1, IO_TIMEOUT_MS) != 1)
                return -ETIMEDOUT;
        }
        if (port < 0)
            return port;
        if ((rc = sc_evtchn_unmask(b->evtchn, (evtchn_port_t)port)) < 0)
            return rc;
    }
    return 0;
}

static int map_unmap(struct bench *b, uint64_t iters, uint32_t count)
{
    for (uint64_t i = 0; i < iters; i++) {
        void *p = sc_gnt_map_batch(b->x, b->guest, count, b->refs, true);
        if (!p)
            return -errno;
        int rc = sc_gnt_unmap(b->x, p, count);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int map_unmap_1(struct bench *b, uint64_t iters)
{
    return map_unmap(b, iters, 1);
}

static int map_unmap_batch(struct bench *b, uint64_t iters)
{
    return map_unmap(b, iters, BATCH);
}

static void prep_copies(struct bench *b, uint32_t count)
{
    for (uint32_t i = 0; i < count; i++)
        sc_gnt_seg_from_guest(&b->segs[i], b->guest, b->refs[i], 0, b->local + i * PG, PG);
}

static int copy(struct bench *b, uint64_t iters, uint32_t count)
{
    prep_copies(b, count);
    for (uint64_t i = 0; i < iters; i++) {
        int rc = sc_gnt_copy_batch(b->x, count, b->segs);
        if (rc < 0)
            return rc;
        for (uint32_t s = 0; s < count; s++)
            if (b->segs[s].status != GNTST_okay)
                return -EIO;
    }
    return 0;
}

static int copy_1(struct bench *b, uint64_t iters)
{
    return copy(b, iters, 1);
}

static int copy_batch(struct bench *b, uint64_t iters)
{
    return copy(b, iters, BATCH);
}

static int plain_memcpy(struct bench *b, uint64_t iters)
{
    for (uint64_t i = 0; i < iters; i++) {
        memcpy(b->local, b->src, PG);
        __asm__ volatile("" ::: "memory"); /* keep every copy */
    }
    return 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Median over ROUNDS timed rounds of ns per call; each round lasts about
 * budget_ns / ROUNDS after a short calibration. */
static int measure(struct bench *b, bench_fn *fn, uint64_t budget_ns, double *ns_per_call)
{
    uint64_t iters = 1, t;
    int rc;
    for (;;) { /* calibrate (and warm up) */
        t = sc_clock_ns();
        if ((rc = fn(b, iters)) < 0)
            return rc;
        t = sc_clock_ns() - t;
        if (t >= 10000000 || iters >= (1ull << 40))
            break;
        iters *= 2;
    }
    uint64_t per_round = (uint64_t)((double)iters * (double)(budget_ns / ROUNDS) / (double)t);
    if (per_round == 0)
        per_round = 1;
    double r[ROUNDS];
    for (int i = 0; i < ROUNDS; i++) {
        t = sc_clock_ns();
        if ((rc = fn(b, per_round)) < 0)
            return rc;
        r[i] = (double)(sc_clock_ns() - t) / (double)per_round;
    }
    qsort(r, ROUNDS, sizeof(r[0]), cmp_double);
    *ns_per_call = r[ROUNDS / 2];
    return 0;
}

/* One look at the data, so a broken map or copy cannot make fast numbers. */
static int check_data(struct bench *b)
{
    uint8_t *p = sc_gnt_map_batch(b->x, b->guest, BATCH, b->refs, true);
    if (!p)
        return -errno;
    bool ok = true;
    for (uint32_t i = 0; i < BATCH; i++)
        ok &= p[i * PG] == (0x5a ^ i) && p[i * PG + PG - 1] == (0x5a ^ i);
    int rc = sc_gnt_unmap(b->x, p, BATCH);
    if (rc < 0)
        return rc;
    memset(b->local, 0, PG);
    if ((rc = copy(b, 1, 1)) < 0)
        return rc;
    ok &= b->local[0] == 0x5a && b->local[PG - 1] == 0x5a;
    return ok ? 0 : -EIO;
}

enum row { R_KICK, R_MAP1, R_MAPB, R_COPY1, R_COPYB, R_MEMCPY, R_COUNT };

static const struct {
    const char *key, *label;
    bench_fn *fn;
    unsigned pages; /* per call: ns per page = ns per call / pages */
} rows[R_COUNT] = {
    [R_KICK] = { "evtchn_round_trip", "event-channel kick round trip (2 processes)",
                 kick_round_trip, 1 },
    [R_MAP1] = { "map_unmap_1", "grant map+unmap, 1 page", map_unmap_1, 1 },
    [R_MAPB] = { "map_unmap_32", "grant map+unmap, 32-page batch", map_unmap_batch, BATCH },
    [R_COPY1] = { "copy_4k", "grant copy 4 KiB gref->local", copy_1, 1 },
    [R_COPYB] = { "copy_4k_x32", "grant copy 32 x 4 KiB in one call", copy_batch, BATCH },
    [R_MEMCPY] = { "memcpy_4k", "memcpy 4 KiB", plain_memcpy, 1 },
};

static const struct {
    const char *key, *label;
    enum row num, den;
} ratios[] = {
    { "copy_over_memcpy", "grant copy 4 KiB / memcpy 4 KiB", R_COPY1, R_MEMCPY },
    { "copy32_over_memcpy", "grant copy per page (x32) / memcpy 4 KiB", R_COPYB, R_MEMCPY },
    { "map1_over_copy", "map+unmap 1 page / grant copy 4 KiB", R_MAP1, R_COPY1 },
    { "map32_over_copy", "map+unmap per page (x32) / grant copy 4 KiB", R_MAPB, R_COPY1 },
    { "map1_over_map32", "map+unmap 1 page / per page in a 32 batch", R_MAP1, R_MAPB },
    { "kick_over_copy", "kick round trip / grant copy 4 KiB", R_KICK, R_COPY1 },
};

static void report(const double per_page[R_COUNT], const double per_call[R_COUNT], bool json,
                   double seconds)
{
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    if (json) {
        printf("{\n  \"platform\": \"xensim\",\n  \"cpus\": %ld,\n  \"budget_s\": %.2f,\n"
               "  \"ns\": {\n", cpus, seconds);
        for (int r = 0; r < R_COUNT; r++)
            printf("    \"%s\": { \"per_call\": %.1f, \"per_page\": %.1f }%s\n", rows[r].key,
                   per_call[r], per_page[r], r + 1 < R_COUNT ? "," : "");
        printf("  },\n  \"ratios\": {\n");
        size_t n = sizeof(ratios) / sizeof(ratios[0]);
        for (size_t i = 0; i < n; i++)
            printf("    \"%s\": %.2f%s\n", ratios[i].key,
                   per_page[ratios[i].num] / per_page[ratios[i].den], i + 1 < n ? "," : "");
        printf("  }\n}\n");
        return;
    }
    printf("xensim-bench: platform layer on xensim (%ld CPUs, median of %d rounds)\n\n", cpus,
           ROUNDS);
    printf("  %-46s %12s %12s\n", "operation", "ns/call", "ns/page");
    for (int r = 0; r < R_COUNT; r++)
        printf("  %-46s %12.1f %12.1f\n", rows[r].label, per_call[r], per_page[r]);
    printf("\n  %-46s %12s\n", "ratio", "x");
    for (size_t i = 0; i < sizeof(ratios) / sizeof(ratios[0]); i++)
        printf("  %-46s %12.2f\n", ratios[i].label,
               per_page[ratios[i].num] / per_page[ratios[i].den]);
}

static void usage(FILE *f)
{
    fprintf(f, "usage: xensim-bench [--json] [--seconds S]\n"
               "  --json       machine-readable output\n"
               "  --seconds S  time spent per measurement (default 1.5; total ~6x)\n");
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "json", no_argument, NULL, 'j' },
        { "seconds", required_argument, NULL, 's' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    bool json = false;
    double seconds = 1.5;
    int c;
    while ((c = getopt_long(argc, argv, "js:h", opts, NULL)) != -1) {
        switch (c) {
        case 'j': json = true; break;
        case 's':
            seconds = strtod(optarg, NULL);
            if (!(seconds > 0 && seconds <= 60)) {
                usage(stderr);
                return 2;
            }
            break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    sc_log_set_level(SC_LOG_WARN);

    struct world w = { .guest_ctl = -1 };
    struct guest_hello hello;
    struct bench b = { 0 };
    double per_call[R_COUNT], per_page[R_COUNT];
    int status = 1, rc;

    if ((rc = start_xensimd(&w)) < 0) {
        die("starting xensimd", rc);
        goto out;
    }
    if ((rc = start_guest(&w, &hello)) < 0) {
        die("starting the guest", rc);
        goto out;
    }
    setenv("XENSIM_DIR", w.dir, 1);
    setenv("XENSIM_DOMID", "0", 1);
    b.x = sc_xen_open(SC_XEN_SIM);
    if (!b.x) {
        die("sc_xen_open", errno);
        goto out;
    }
    b.guest = w.guest_id;
    memcpy(b.refs, hello.refs, sizeof(b.refs));
    b.local = aligned_alloc(PG, (size_t)PG * BATCH);
    b.src = aligned_alloc(PG, PG);
    b.evtchn = sc_evtchn_open(b.x);
    if (!b.local || !b.src || !b.evtchn) {
        die("setting up", errno);
        goto out;
    }
    memset(b.src, 0xc3, PG);
    rc = sc_evtchn_bind_interdomain(b.evtchn, b.guest, (evtchn_port_t)hello.port);
    if (rc < 0) {
        die("binding the event channel", rc);
        goto out;
    }
    b.port = (evtchn_port_t)rc;
    if ((rc = check_data(&b)) < 0) {
        die("checking mapped and copied data", rc);
        goto out;
    }

    for (int r = 0; r < R_COUNT; r++) {
        if ((rc = measure(&b, rows[r].fn, (uint64_t)(seconds * 1e9), &per_call[r])) < 0) {
            fprintf(stderr, "xensim-bench: %s: %s\n", rows[r].label, strerror(-rc));
            goto out;
        }
        per_page[r] = per_call[r] / rows[r].pages;
    }
    report(per_page, per_call, json, seconds);
    status = 0;
out:
    if (b.evtchn)
        sc_evtchn_close(b.evtchn);
    sc_xen_close(b.x);
    free(b.local);
    free(b.src);
    stop_world(&w);
    return status;
}
