/*
 * schedbench - cost of the fair-share scheduler's per-visit decision
 * (sc_sched_next + sc_sched_charge), under a fake clock, with no device.
 *
 *   schedbench [--visits N] [SCENARIO...]     (default: every scenario)
 *
 * Each scenario adds T tenants with one queue each, then runs N visits; a
 * visit takes what the grant admits of a 4 KiB request backlog, up to
 * `take` requests, and the fake clock advances 1 us per visit.  It prints
 * wall-clock ns per visit (clock_gettime around the loop), which is noisy on
 * a shared machine.  For repeatable figures run one scenario under callgrind
 * and count only the scheduler:
 *
 *   valgrind --tool=callgrind --callgrind-out-file=/dev/null \
 *       --toggle-collect=sc_sched_next --toggle-collect=sc_sched_charge \
 *       build/bin/schedbench --visits 200000 busy-64
 *
 * then instructions per next+charge pair = Ir / visits ("churn" scenarios
 * also park and unpark queues: add --toggle-collect=sc_sched_queue_add
 * --toggle-collect=sc_sched_queue_remove, or toggle bench_loop to count the
 * whole loop).
 *
 * Scenarios:
 *   busy-T      T tenants, all backlogged, default settings
 *   res-T       T tenants, 4 of them with a 2000 IOPS reservation
 *   limit-T     T tenants, each limited to 1M IOPS (buckets on the hot path)
 *   idle-T      T tenants, one backlogged, the rest idle but not parked
 *               (probe visits)
 *   churn-T     T tenants; a visit finds 1 request half of the time, and a
 *               queue found empty is parked (sc_sched_queue_remove) and
 *               unparked at the next visit (sc_sched_queue_add), as the
 *               sidecore loop does
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sched.h"
#include "clock.h"

#define REQ_BYTES 4096u

enum kind { BUSY, RES, LIMIT, IDLE, CHURN };

struct scenario {
    const char *name;
    enum kind kind;
    uint32_t tenants;
};

static const struct scenario scenarios[] = {
    { "busy-1", BUSY, 1 },      { "busy-16", BUSY, 16 },
    { "busy-64", BUSY, 64 },    { "busy-1024", BUSY, 1024 },
    { "res-64", RES, 64 },      { "res-1024", RES, 1024 },
    { "limit-64", LIMIT, 64 },  { "idle-64", IDLE, 64 },
    { "churn-1", CHURN, 1 },    { "churn-64", CHURN, 64 },
    { "churn-1024", CHURN, 1024 },
};

struct bq {
    struct sc_sched_queue sq; /* first: the scheduler hands back &sq */
    uint16_t domid;
    bool idle;
    bool parked;
};

static uint32_t rng = 1;

static uint32_t rnd(void)
{
    rng = rng * 1103515245u + 12345u;
    return rng >> 8;
}

/* The measured loop, apart so that callgrind can toggle on it. Returns the
 * number of visits made (NULL returns are not visits). */
__attribute__((noinline)) uint64_t bench_loop(struct sc_sched *s, enum kind kind, uint64_t visits);

__attribute__((noinline)) uint64_t bench_loop(struct sc_sched *s, enum kind kind, uint64_t visits)
{
    uint64_t now = 1000000, made = 0;
    struct bq *parked = NULL;
    for (uint64_t i = 0; i < visits; i++) {
        if (parked) {
            if (sc_sched_queue_add(s, &parked->sq, parked->domid) < 0)
                abort();
            parked->parked = false;
            parked = NULL;
        }
        struct sc_sched_grant g;
        struct sc_sched_queue *sq = sc_sched_next(s, now, &g);
        if (!sq) {
            now += g.wait_ns == SC_SCHED_WAIT_FOREVER ? 1000 : g.wait_ns;
            continue;
        }
        struct bq *q = (struct bq *)sq;
        uint32_t avail = q->idle ? 0 : kind == CHURN ? rnd() % 2 : 4;
        uint64_t bytes = 0;
        uint32_t reqs = 0;
        while (reqs < avail && sc_sched_grant_admits(&g, bytes, reqs, REQ_BYTES)) {
            bytes += REQ_BYTES;
            reqs++;
        }
        now += 1000;
        made++;
        bool more = kind != CHURN && !q->idle;
        if (sc_sched_charge(s, sq, now, bytes, reqs, more) < 0)
            abort();
        if (kind == CHURN && !reqs) {
            if (sc_sched_queue_remove(s, sq) < 0)
                abort();
            q->parked = true;
            parked = q;
        }
    }
    return made;
}

static int run(const struct scenario *sc, uint64_t visits)
{
    struct sc_sched *s = sc_sched_create(NULL);
    struct bq *qs = calloc(sc->tenants, sizeof(*qs));
    if (!s || !qs) {
        fprintf(stderr, "schedbench: %s\n", strerror(ENOMEM));
        return 1;
    }
    for (uint32_t i = 0; i < sc->tenants; i++) {
        uint16_t domid = (uint16_t)(i + 1);
        struct sc_sched_tenant_conf c = { .weight = SC_SCHED_WEIGHT_DEFAULT };
        if (sc->kind == RES && i % (sc->tenants / 4) == 0)
            c.reservation.iops = 2000;
        if (sc->kind == LIMIT)
            c.limit.iops = 1000000;
        if (sc_sched_tenant_set(s, domid, &c) < 0 ||
            sc_sched_queue_add(s, &qs[i].sq, domid) < 0) {
            fprintf(stderr, "schedbench: setup failed\n");
            return 1;
        }
        qs[i].domid = domid;
        qs[i].idle = sc->kind == IDLE && i > 0;
    }
    uint64_t t0 = sc_clock_ns();
    uint64_t made = bench_loop(s, sc->kind, visits);
    uint64_t t1 = sc_clock_ns();
    printf("%-12s tenants %5" PRIu32 "  visits %9" PRIu64 "  %7.1f ns/visit\n", sc->name,
           sc->tenants, made, made ? (double)(t1 - t0) / (double)made : 0.0);
    sc_sched_destroy(s);
    free(qs);
    return 0;
}

int main(int argc, char **argv)
{
    uint64_t visits = 2000000;
    int i = 1;
    if (i + 1 < argc && !strcmp(argv[i], "--visits")) {
        visits = strtoull(argv[i + 1], NULL, 0);
        i += 2;
    }
    size_t nsc = sizeof(scenarios) / sizeof(scenarios[0]);
    if (i == argc) {
        for (size_t k = 0; k < nsc; k++)
            if (run(&scenarios[k], visits))
                return 1;
        return 0;
    }
    for (; i < argc; i++) {
        size_t k;
        for (k = 0; k < nsc && strcmp(argv[i], scenarios[k].name); k++)
            ;
        if (k == nsc) {
            fprintf(stderr, "schedbench: unknown scenario %s\n", argv[i]);
            return 2;
        }
        if (run(&scenarios[k], visits))
            return 1;
    }
    return 0;
}
