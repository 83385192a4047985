/*
 * sctl_top_test.c - the pure parts of `sidecorectl top` (sctl_top.h): rates
 * from two samples of the daemon's answers (queues new, reset and gone
 * included), busy % from a core's times, notifies and kicks per request,
 * p99 from the histograms' difference and merged per core and guest, the
 * sort orders and the keys, and every line of the screen cut to its width.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "sctl_top.h"
#include "stats.h"

/* ---- samples as the daemon answers them ---- */

/* `n` latencies of `ns` each (one bucket), or none when n is 0 */
static json_t *lat(uint64_t n, uint64_t ns, uint64_t n2, uint64_t ns2)
{
    json_t *b = json_array();
    if (n)
        json_array_append_new(b, json_pack("[I, I]", (json_int_t)sc_hist_bucket(ns), (json_int_t)n));
    if (n2)
        json_array_append_new(b, json_pack("[I, I]", (json_int_t)sc_hist_bucket(ns2),
                                           (json_int_t)n2));
    return json_pack("{s:I, s:I, s:I, s:o}", "count", (json_int_t)(n + n2), "sum_ns",
                     (json_int_t)(n * ns + n2 * ns2), "max_ns",
                     (json_int_t)(n2 ? (ns2 > ns ? ns2 : ns) : n ? ns : 0), "buckets", b);
}

static json_t *queue(const char *name, const char *core, int domid, const char *cls,
                     uint64_t req, uint64_t bytes, uint64_t kicks, uint64_t notifies,
                     uint64_t busy_ns, json_t *latency)
{
    return json_pack("{s:s, s:s, s:i, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:o}", "name", name,
                     "core", core, "domid", domid, "class", cls, "requests", (json_int_t)req,
                     "bytes", (json_int_t)bytes, "kicks", (json_int_t)kicks, "notifies",
                     (json_int_t)notifies, "errors", (json_int_t)0, "busy_ns",
                     (json_int_t)busy_ns, "latency", latency);
}

static json_t *core(const char *name, int cpu, unsigned queues, uint64_t busy, uint64_t idle,
                    uint64_t sleep, uint64_t rounds)
{
    return json_pack("{s:s, s:i, s:i, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "name", name, "cpu",
                     cpu, "queues", (int)queues, "busy_ns", (json_int_t)busy, "idle_ns",
                     (json_int_t)idle, "sleep_ns", (json_int_t)sleep, "rounds",
                     (json_int_t)rounds, "wakeups", (json_int_t)(rounds / 10), "sleeps",
                     (json_int_t)(rounds / 10), "poll_window_ns", (json_int_t)200000);
}

static json_t *guest(int domid, const char *cls, unsigned devices, unsigned queues,
                     uint64_t throttled)
{
    return json_pack("{s:i, s:s, s:i, s:i, s:i, s:{s:I}}", "domid", domid, "class", cls,
                     "weight", 100, "devices", (int)devices, "queues", (int)queues, "sched",
                     "throttled", (json_int_t)throttled);
}

static const struct sctl_top_row *find(const struct sctl_top_model *m, enum sctl_top_view v,
                                       const char *id)
{
    for (unsigned i = 0; i < m->nrows[v]; i++)
        if (strcmp(m->rows[v][i].id, id) == 0)
            return &m->rows[v][i];
    return NULL;
}

/* Two samples 2 s apart: guest 1 with two queues on two cores, guest 2
 * with one; a guest 3 row with no device (hidden). */
static void two_samples(struct sctl_top_sample *a, struct sctl_top_sample *b)
{
    a->t = 10.0;
    a->cores = json_pack("[o, o]", core("sc0", 3, 2, 1000, 1000, 0, 100),
                         core("sc1", -1, 1, 0, 500, 500, 10));
    a->queues = json_pack("[o, o, o]",
                          queue("vbd 1/51712 q0", "sc0", 1, "vbd", 1000, 4096000, 10, 20, 5000,
                                lat(1000, 100000, 0, 0)),
                          queue("vbd 1/51712 q1", "sc1", 1, "vbd", 0, 0, 0, 0, 0, lat(0, 0, 0, 0)),
                          queue("vbd 2/51712 q0", "sc0", 2, "vbd", 50, 204800, 50, 50, 100,
                                lat(50, 20000, 0, 0)));
    a->guests = json_pack("[o, o, o]", guest(1, "vbd", 1, 2, 0), guest(2, "vbd", 1, 1, 7),
                          guest(3, "vif", 0, 0, 0));
    b->t = 12.0;
    /* sc0: 1.5 s busy of 2 s; sc1: idle then asleep */
    b->cores = json_pack("[o, o]", core("sc0", 3, 2, 1501000, 501000, 0, 2100),
                         core("sc1", -1, 1, 0, 1000, 2000000, 30));
    /* q0: 2000 requests in 2 s, 1000 at 1 us, 1000 at 100 us; 8 kicks, 20 notifies */
    b->queues = json_pack("[o, o, o]",
                          queue("vbd 1/51712 q0", "sc0", 1, "vbd", 3000, 12288000, 18, 40, 1005000,
                                lat(2000, 100000, 1000, 1000)),
                          queue("vbd 1/51712 q1", "sc1", 1, "vbd", 200, 819200, 0, 200, 200000,
                                lat(0, 0, 200, 3000)),
                          queue("vbd 2/51712 q0", "sc0", 2, "vbd", 150, 614400, 150, 150, 100100,
                                lat(150, 20000, 0, 0)));
    b->guests = json_pack("[o, o, o]", guest(1, "vbd", 1, 2, 0), guest(2, "vbd", 1, 1, 27),
                          guest(3, "vif", 0, 0, 0));
}

static void rates_from_two_samples(void **state)
{
    (void)state;
    struct sctl_top_sample a = { 0 }, b = { 0 };
    struct sctl_top_model m = { 0 };
    two_samples(&a, &b);
    assert_int_equal(sctl_top_model_build(&m, &a, &b), 0);
    assert_true(m.dt == 2.0);
    assert_int_equal(m.nrows[SCTL_TOP_CORES], 2);
    assert_int_equal(m.nrows[SCTL_TOP_QUEUES], 3);
    assert_int_equal(m.nrows[SCTL_TOP_GUESTS], 2); /* guest 3 has no device */

    const struct sctl_top_row *q = find(&m, SCTL_TOP_QUEUES, "vbd 1/51712 q0");
    assert_non_null(q);
    assert_true(q->iops == 1000.0);
    assert_true(q->bps == 4096000.0);
    assert_true(q->kick_per_req == 8.0 / 2000);
    assert_true(q->notify_per_req == 20.0 / 2000);
    assert_true(q->load == 100.0 * 1000000 / 2e9); /* busy_ns grew by 1 ms in 2 s */
    assert_string_equal(q->core, "sc0");

    const struct sctl_top_row *c0 = find(&m, SCTL_TOP_CORES, "sc0"),
                              *c1 = find(&m, SCTL_TOP_CORES, "sc1");
    assert_true(c0->load == 75.0); /* 1.5 s busy, 0.5 s idle */
    assert_true(c1->load == 0.0);
    assert_int_equal(c0->cpu, 3);
    assert_int_equal(c1->cpu, -1);
    assert_true(c0->rounds == 1000.0);
    /* sc0 carries guest 1's q0 and guest 2: 2100 requests, 108 kicks, 120 notifies */
    assert_true(c0->iops == 1050.0);
    assert_true(c0->kick_per_req == 108.0 / 2100);
    assert_true(c0->notify_per_req == 120.0 / 2100);
    /* sc1: every request notified, none kicked */
    assert_true(c1->notify_per_req == 1.0);
    assert_true(c1->kick_per_req == 0.0);

    const struct sctl_top_row *g1 = find(&m, SCTL_TOP_GUESTS, "1 vbd"),
                              *g2 = find(&m, SCTL_TOP_GUESTS, "2 vbd");
    assert_non_null(g1);
    assert_non_null(g2);
    assert_true(g1->iops == 1100.0); /* both queues */
    assert_true(g1->load == 100.0 * (1000000 + 200000) / 2e9);
    assert_true(g2->throttled == 10.0);
    assert_true(g2->notify_per_req == 1.0);
    assert_int_equal(g1->queues, 2);

    assert_true(m.total.iops == 1150.0);
    sctl_top_model_free(&m);
    sctl_top_sample_clear(&a);
    sctl_top_sample_clear(&b);
}

static void new_reset_and_gone_queues(void **state)
{
    (void)state;
    struct sctl_top_sample a = { 0 }, b = { 0 };
    struct sctl_top_model m = { 0 };
    a.t = 0;
    a.cores = json_pack("[o, o]", core("sc0", 0, 1, 0, 0, 0, 0), core("sc1", 1, 0, 0, 0, 0, 0));
    a.queues = json_pack("[o, o]",
                         queue("vbd 1/1 q0", "sc0", 1, "vbd", 5000, 0, 0, 0, 0, lat(0, 0, 0, 0)),
                         queue("vbd 9/1 q0", "sc0", 9, "vbd", 100, 0, 0, 0, 0, lat(0, 0, 0, 0)));
    a.guests = json_pack("[o]", guest(1, "vbd", 1, 1, 0));
    b.t = 1;
    b.cores = json_pack("[o, o]", core("sc0", 0, 2, 0, 0, 0, 0), core("sc1", 1, 0, 0, 0, 0, 0));
    /* q0 of guest 1 reconnected (30 since), guest 2's is new (40), guest 9's left */
    b.queues = json_pack("[o, o]",
                         queue("vbd 1/1 q0", "sc0", 1, "vbd", 30, 0, 0, 0, 0, lat(0, 0, 0, 0)),
                         queue("vbd 2/1 q0", "sc0", 2, "vbd", 40, 0, 0, 0, 0, lat(0, 0, 0, 0)));
    b.guests = json_pack("[o, o]", guest(1, "vbd", 1, 1, 0), guest(2, "vbd", 1, 1, 0));
    assert_int_equal(sctl_top_model_build(&m, &a, &b), 0);
    assert_true(find(&m, SCTL_TOP_QUEUES, "vbd 1/1 q0")->iops == 30.0);
    assert_true(find(&m, SCTL_TOP_QUEUES, "vbd 2/1 q0")->iops == 40.0);
    assert_null(find(&m, SCTL_TOP_QUEUES, "vbd 9/1 q0"));
    assert_true(find(&m, SCTL_TOP_CORES, "sc0")->iops == 70.0);
    /* requests and no notify: 0; no request at all: no ratio rather than 0 */
    assert_true(find(&m, SCTL_TOP_QUEUES, "vbd 1/1 q0")->notify_per_req == 0.0);
    assert_true(find(&m, SCTL_TOP_CORES, "sc1")->notify_per_req < 0);
    assert_true(find(&m, SCTL_TOP_CORES, "sc1")->kick_per_req < 0);
    sctl_top_model_free(&m);

    /* an interval of 0 or answers that are not arrays */
    b.t = 0;
    assert_int_equal(sctl_top_model_build(&m, &a, &b), -EINVAL);
    b.t = 1;
    json_decref(b.queues);
    b.queues = json_object();
    assert_int_equal(sctl_top_model_build(&m, &a, &b), -EINVAL);
    sctl_top_model_free(&m);
    sctl_top_sample_clear(&a);
    sctl_top_sample_clear(&b);
}

static void p99_from_the_interval(void **state)
{
    (void)state;
    struct sctl_top_sample a = { 0 }, b = { 0 };
    struct sctl_top_model m = { 0 };
    two_samples(&a, &b);
    assert_int_equal(sctl_top_model_build(&m, &a, &b), 0);
    /* q0's interval: 1000 at 100 us, 1000 at 1 us: p50 in the 1 us bucket,
     * p99 in the 100 us one (since the start it would be 100 us for both) */
    const struct sctl_top_row *q = find(&m, SCTL_TOP_QUEUES, "vbd 1/51712 q0");
    assert_int_equal(q->p50_ns, sc_hist_bucket_high(sc_hist_bucket(1000)));
    assert_int_equal(q->p99_ns, 100000); /* the bucket's bound, capped at the max */
    /* q1's interval: 200 at 3 us */
    q = find(&m, SCTL_TOP_QUEUES, "vbd 1/51712 q1");
    assert_int_equal(q->p99_ns, 3000);
    /* guest 1 merges both: 2200 samples, the top 1% (22) all at 100 us */
    assert_int_equal(find(&m, SCTL_TOP_GUESTS, "1 vbd")->p99_ns, 100000);
    /* guest 2: 100 at 20 us */
    assert_int_equal(find(&m, SCTL_TOP_GUESTS, "2 vbd")->p99_ns, 20000);
    /* an idle queue has none */
    sctl_top_model_free(&m);

    /* the merge alone: 99 fast and 2 slow samples -> p99 is a slow one */
    struct sc_hist_snap acc;
    memset(&acc, 0, sizeof(acc));
    json_t *fast = lat(99, 1000, 0, 0), *slow = lat(2, 500000, 0, 0);
    sctl_top_hist_add_diff(&acc, fast, NULL);
    sctl_top_hist_add_diff(&acc, slow, NULL);
    assert_int_equal(acc.count, 101);
    assert_int_equal(sc_hist_percentile(&acc, 99), 500000);
    assert_int_equal(sc_hist_percentile(&acc, 50), sc_hist_bucket_high(sc_hist_bucket(1000)));
    /* a histogram that went back (a reset) counts whole: by its count, or
     * by a bucket when the count grew past the old one's */
    memset(&acc, 0, sizeof(acc));
    sctl_top_hist_add_diff(&acc, slow, fast);
    assert_int_equal(acc.count, 2);
    assert_int_equal(sc_hist_percentile(&acc, 99), 500000);
    memset(&acc, 0, sizeof(acc));
    sctl_top_hist_add_diff(&acc, fast, slow);
    assert_int_equal(acc.count, 99);
    assert_int_equal(sc_hist_percentile(&acc, 99), 1000); /* capped at the max */
    /* and an earlier sample that is a true prefix is taken off */
    json_t *both = lat(99, 1000, 4, 500000);
    memset(&acc, 0, sizeof(acc));
    sctl_top_hist_add_diff(&acc, both, slow);
    assert_int_equal(acc.count, 101);
    json_decref(both);
    json_decref(fast);
    json_decref(slow);
    sctl_top_sample_clear(&a);
    sctl_top_sample_clear(&b);
}

/* ---- sorting and keys ---- */

static void sort_orders(void **state)
{
    (void)state;
    struct sctl_top_row r[4];
    memset(r, 0, sizeof(r));
    const char *ids[] = { "sc10", "sc2", "sc1", "sc3" };
    double load[] = { 50, 90, 50, 5 };
    long long cpu[] = { 0, 3, 1, 2 };
    for (int i = 0; i < 4; i++) {
        snprintf(r[i].id, sizeof(r[i].id), "%s", ids[i]);
        r[i].load = load[i];
        r[i].cpu = cpu[i];
        r[i].p99_ns = (uint64_t)(i + 1) * 1000;
    }
    struct sctl_top_ui ui;
    sctl_top_ui_init(&ui, 1);
    assert_int_equal(ui.view, SCTL_TOP_CORES);
    assert_string_equal(sctl_top_col_name(SCTL_TOP_CORES, ui.sort[SCTL_TOP_CORES]), "BUSY%");

    /* load: busiest first, equal loads in id order (sc1 before sc10) */
    sctl_top_sort(r, 4, SCTL_TOP_CORES, ui.sort[SCTL_TOP_CORES], false);
    assert_string_equal(r[0].id, "sc2");
    assert_string_equal(r[1].id, "sc1");
    assert_string_equal(r[2].id, "sc10");
    assert_string_equal(r[3].id, "sc3");
    sctl_top_sort(r, 4, SCTL_TOP_CORES, ui.sort[SCTL_TOP_CORES], true);
    assert_string_equal(r[0].id, "sc3");
    assert_string_equal(r[3].id, "sc2");

    /* the name: in version order, smallest first */
    sctl_top_sort(r, 4, SCTL_TOP_CORES, 0, false);
    assert_string_equal(r[0].id, "sc1");
    assert_string_equal(r[1].id, "sc2");
    assert_string_equal(r[3].id, "sc10");
    /* the CPU identifies: smallest first */
    assert_int_equal(sctl_top_sort_by_name(&ui, "cpu"), 0);
    sctl_top_sort(r, 4, SCTL_TOP_CORES, ui.sort[SCTL_TOP_CORES], false);
    assert_int_equal(r[0].cpu, 0);
    assert_int_equal(r[3].cpu, 3);
    /* p99: slowest first; names with and without their unit */
    assert_int_equal(sctl_top_sort_by_name(&ui, "P99us"), 0);
    assert_int_equal(sctl_top_sort_by_name(&ui, "p99"), 0);
    sctl_top_sort(r, 4, SCTL_TOP_CORES, ui.sort[SCTL_TOP_CORES], false);
    assert_true(r[0].p99_ns == 4000 && r[3].p99_ns == 1000);
    assert_int_equal(sctl_top_sort_by_name(&ui, "req"), 0);
    assert_string_equal(sctl_top_col_name(SCTL_TOP_CORES, ui.sort[SCTL_TOP_CORES]), "REQ/s");
    assert_int_equal(sctl_top_sort_by_name(&ui, "busy"), 0);
    assert_int_equal(sctl_top_sort_by_name(&ui, "nosuch"), -ENOENT);
    ui.view = SCTL_TOP_GUESTS;
    assert_int_equal(sctl_top_sort_by_name(&ui, "domid"), 0);
    assert_int_equal(sctl_top_sort_by_name(&ui, "load"), 0);
}

static void keys(void **state)
{
    (void)state;
    struct sctl_top_ui ui;
    sctl_top_ui_init(&ui, 1);
    unsigned n = sctl_top_ncols(SCTL_TOP_CORES), s0 = ui.sort[SCTL_TOP_CORES];
    assert_int_equal(sctl_top_key(&ui, 'g'), SCTL_TOP_REDRAW);
    assert_int_equal(ui.view, SCTL_TOP_GUESTS);
    assert_int_equal(sctl_top_key(&ui, 'u'), SCTL_TOP_REDRAW);
    assert_int_equal(ui.view, SCTL_TOP_QUEUES);
    assert_int_equal(sctl_top_key(&ui, '\t'), SCTL_TOP_REDRAW);
    assert_int_equal(ui.view, SCTL_TOP_CORES);
    assert_int_equal(sctl_top_key(&ui, '\t'), SCTL_TOP_REDRAW);
    assert_int_equal(ui.view, SCTL_TOP_GUESTS);
    assert_int_equal(sctl_top_key(&ui, 'c'), SCTL_TOP_REDRAW);
    /* the sort column moves and wraps around, per view */
    assert_int_equal(sctl_top_key(&ui, '>'), SCTL_TOP_REDRAW);
    assert_int_equal(ui.sort[SCTL_TOP_CORES], (s0 + 1) % n);
    sctl_top_key(&ui, SCTL_KEY_LEFT);
    sctl_top_key(&ui, '<');
    assert_int_equal(ui.sort[SCTL_TOP_CORES], (s0 + n - 1) % n);
    for (unsigned i = 0; i < n; i++)
        sctl_top_key(&ui, SCTL_KEY_RIGHT);
    assert_int_equal(ui.sort[SCTL_TOP_CORES], (s0 + n - 1) % n);
    assert_int_equal(ui.sort[SCTL_TOP_GUESTS], 4); /* LOAD% there, untouched */
    sctl_top_key(&ui, 'r');
    assert_true(ui.reverse[SCTL_TOP_CORES]);
    sctl_top_key(&ui, 'l');
    assert_int_equal(ui.sort[SCTL_TOP_CORES], s0);
    assert_false(ui.reverse[SCTL_TOP_CORES]);
    /* help: any key closes it, q still quits */
    assert_int_equal(sctl_top_key(&ui, '?'), SCTL_TOP_REDRAW);
    assert_true(ui.help);
    assert_int_equal(sctl_top_key(&ui, 'g'), SCTL_TOP_REDRAW);
    assert_false(ui.help);
    assert_int_equal(ui.view, SCTL_TOP_CORES);
    sctl_top_key(&ui, 'h');
    assert_int_equal(sctl_top_key(&ui, 'q'), SCTL_TOP_QUIT);
    assert_int_equal(sctl_top_key(&ui, 'x'), SCTL_TOP_REDRAW); /* closes the help */
    assert_int_equal(sctl_top_key(&ui, 'x'), SCTL_TOP_NONE);
    /* the delay halves and doubles within bounds */
    assert_int_equal(sctl_top_key(&ui, '-'), SCTL_TOP_SAMPLE);
    assert_true(ui.delay == 0.5);
    for (int i = 0; i < 10; i++)
        sctl_top_key(&ui, '-');
    assert_true(ui.delay == 0.1);
    for (int i = 0; i < 20; i++)
        sctl_top_key(&ui, '+');
    assert_true(ui.delay == 3600);
    assert_int_equal(sctl_top_view_parse("queues"), SCTL_TOP_QUEUES);
    assert_int_equal(sctl_top_view_parse("disks"), -1);
}

/* ---- the screen ---- */

struct screen {
    char lines[64][SCTL_TOP_MAX_WIDTH + 1];
    bool heading[64];
    unsigned n, longest;
};

static void collect(void *arg, unsigned line, const char *text, bool heading)
{
    struct screen *s = arg;
    assert_int_equal(line, s->n);
    assert_true(line < 64);
    snprintf(s->lines[line], sizeof(s->lines[line]), "%s", text);
    s->heading[line] = heading;
    for (const char *p = text; *p; p++)
        assert_true(*p >= 0x20 && *p < 0x7f); /* no escape, no control */
    if (strlen(text) > s->longest)
        s->longest = (unsigned)strlen(text);
    s->n++;
}

/* 40 queues with long names and large numbers */
static void big_model(struct sctl_top_model *m)
{
    memset(m, 0, sizeof(*m));
    for (unsigned v = 0; v < SCTL_TOP__VIEWS; v++) {
        m->rows[v] = calloc(40, sizeof(struct sctl_top_row));
        assert_non_null(m->rows[v]);
        m->nrows[v] = 40;
        for (unsigned i = 0; i < 40; i++) {
            struct sctl_top_row *r = &m->rows[v][i];
            snprintf(r->id, sizeof(r->id), "vbd %u/268441344 q%u\x1b[2J", 30000 + i, i);
            snprintf(r->core, sizeof(r->core), "sc%u", i);
            snprintf(r->cls, sizeof(r->cls), "vbd");
            r->domid = 30000 + i;
            r->cpu = 1000 + i;
            r->queues = 999;
            r->weight = 65535;
            r->load = 100.0 - i;
            r->iops = 987654321.0;
            r->bps = 1e15;
            r->kicks = r->notifies = 1e9;
            r->kick_per_req = 12345.6;
            r->notify_per_req = 0.25;
            r->p50_ns = 123456789000ull;
            r->p99_ns = 999999999999ull;
            r->errors = r->rounds = r->wakeups = r->throttled = 1e12;
            r->window_ns = 99999999999ull;
        }
    }
    m->total = m->rows[0][0];
    m->dt = 1;
}

static void screen_fits_80x24(void **state)
{
    (void)state;
    struct sctl_top_model m;
    struct sctl_top_ui ui;
    struct screen *s = calloc(1, sizeof(*s));
    assert_non_null(s);
    big_model(&m);
    sctl_top_ui_init(&ui, 1);
    const char *title = "sidecorectl \x1b[2J top - 12:00:00  sidecored 0.3.0 poll xensim  every "
                        "1s and a title far too long for any terminal";
    for (unsigned v = 0; v < SCTL_TOP__VIEWS; v++) {
        ui.view = v;
        memset(s, 0, sizeof(*s));
        unsigned n = sctl_top_render(&m, &ui, title, 80, 24, collect, s);
        assert_int_equal(n, 24);
        assert_int_equal(s->n, 24);
        assert_true(s->longest <= 80);
        assert_true(s->heading[4]);
        assert_non_null(strstr(s->lines[1], sctl_top_view_name(v)));
        /* the heading's columns fit in 80 whole */
        assert_true(strlen(s->lines[4]) <= 80);
        assert_string_equal(s->lines[4] + strlen(s->lines[4]) - 5,
                            v == SCTL_TOP_CORES ? "WINus" : "ERR/s");
        /* the busiest first, the last line says what did not fit */
        assert_memory_equal(s->lines[5], v == SCTL_TOP_GUESTS ? "30000" : "vbd 3", 5);
        assert_non_null(strstr(s->lines[23], "... 22 more"));
        /* the escape in the title is shown as '?', not sent (collect checks) */
        assert_non_null(strstr(s->lines[0], "?[2J"));
    }
    /* narrower and shorter: cut, never wrapped */
    memset(s, 0, sizeof(*s));
    ui.view = SCTL_TOP_QUEUES;
    assert_int_equal(sctl_top_render(&m, &ui, title, 33, 10, collect, s), 10);
    assert_true(s->longest <= 33);
    /* a wide terminal: rows are as wide as their columns, no more */
    memset(s, 0, sizeof(*s));
    assert_int_equal(sctl_top_render(&m, &ui, title, 300, 0, collect, s), 45);
    assert_true(s->longest <= 300);
    assert_true(strlen(s->lines[5]) <= 80);
    /* the help fits in 80x24 too */
    memset(s, 0, sizeof(*s));
    ui.help = true;
    unsigned n = sctl_top_render(&m, &ui, title, 80, 24, collect, s);
    assert_true(n > 10 && n <= 24);
    assert_true(s->longest <= 80);
    assert_non_null(strstr(s->lines[0], "top - 12:00:00"));
    assert_non_null(strstr(s->lines[1], "keys"));
    /* no interval yet: only what is known */
    memset(s, 0, sizeof(*s));
    ui.help = false;
    n = sctl_top_render(NULL, &ui, title, 80, 24, collect, s);
    assert_int_equal(n, 3);
    assert_non_null(strstr(s->lines[2], "after one interval"));
    sctl_top_model_free(&m);
    free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rates_from_two_samples), cmocka_unit_test(new_reset_and_gone_queues),
        cmocka_unit_test(p99_from_the_interval),  cmocka_unit_test(sort_orders),
        cmocka_unit_test(keys),                   cmocka_unit_test(screen_fits_80x24),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
