/*
 * ctl_methods.c - what the control socket answers (daemon.h lists them;
 * docs of each result's fields in sidecorectl's tables).
 *
 * Everything runs on the control thread, which owns the bus and the pool
 * (the socket's own thread only carries the calls, ctl.h); queue and core
 * counters are read as snapshots (stats.h), tenant counters as each core
 * last published them (no call to a core).  The views (SC_CTL_VIEW) are also
 * published every 500 ms for answers while this thread is busy.  Counters
 * are never cleared here: a client keeps its previous answer and
 * subtracts.  A device's queues and its "class" view come from the module
 * of its class (devclass.h); the modules' own methods are added beside
 * these by the daemon.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "ctl_balance.h"
#include "daemon.h"
#include "log.h"
#include "stats.h"


/* json_pack with a failure turned into an internal error */
static json_t *checked(json_t *v, struct sc_ctl_error *err)
{
    if (!v)
        sc_ctl_error_set(err, SC_CTL_INTERNAL_ERROR, "out of memory");
    return v;
}

static json_t *hist_json(const struct sc_hist_snap *h)
{
    json_t *buckets = json_array();
    for (unsigned b = 0; buckets && b < SC_HIST_BUCKETS; b++)
        if (h->bucket[b])
            json_array_append_new(buckets, json_pack("[I, I]", (json_int_t)b,
                                                     (json_int_t)h->bucket[b]));
    return json_pack("{s:I, s:I, s:I, s:f, s:f, s:f, s:o*}", "count", (json_int_t)h->count,
                     "sum_ns", (json_int_t)h->sum_ns, "max_ns", (json_int_t)h->max_ns,
                     "mean_us", sc_hist_mean(h) / 1000.0,
                     "p50_us", sc_hist_percentile(h, 50) / 1000.0,
                     "p99_us", sc_hist_percentile(h, 99) / 1000.0, "buckets", buckets);
}

static json_t *queue_json(const struct sc_device *dev, struct sc_queue *q, struct sc_core *core)
{
    struct sc_queue_stats_snap snap;
    sc_queue_stats_snapshot(q, &snap);
    json_t *ports = json_array();
    for (unsigned i = 0; ports && i < SC_QUEUE_MAX_PORTS; i++)
        if (q->ports[i] != SC_QUEUE_NO_PORT)
            json_array_append_new(ports, json_integer(q->ports[i]));
    json_t *o = json_pack("{s:s, s:s, s:I, s:s?, s:i, s:o*, s:b, s:i}", "name", q->name,
                          "device", dev->name, "domid", (json_int_t)q->domid, "core",
                          core ? sc_core_name(core) : NULL, "port", q->port, "ports", ports,
                          "failed", sc_queue_failed(q), "error", -sc_queue_error(q));
    if (!o)
        return NULL;
    json_object_set_new(o, "class", json_string(sc_tclass_name(sc_tenant_class(q->tenant))));
    json_object_set_new(o, "mem_reserved_bytes", json_integer((json_int_t)q->mem_reserved));
    /* the balancer's notes: its share of a core in the last interval, and
     * why it is on this core */
    json_object_set_new(o, "load", json_real(q->load_ppm / 1e6));
    json_object_set_new(o, "placed", json_string(q->placed));
    for (unsigned c = 0; c < SC_QSTAT__COUNT; c++)
        json_object_set_new(o, sc_queue_counter_name(c), json_integer((json_int_t)snap.counter[c]));
    json_object_set_new(o, "latency", hist_json(&snap.latency));
    /* the device's own counters, under their names */
    uint64_t values[SC_QUEUE_DEVICE_COUNTERS_MAX];
    const char *const *names = NULL;
    unsigned n = sc_queue_device_counters(q, &names, values, SC_QUEUE_DEVICE_COUNTERS_MAX);
    json_t *dc = json_object();
    for (unsigned i = 0; dc && i < n && i < SC_QUEUE_DEVICE_COUNTERS_MAX; i++)
        json_object_set_new(dc, names[i], json_integer((json_int_t)values[i]));
    json_object_set_new(o, "device_counters", dc);
    return o;
}

/* ---- status ---- */

static int count_device(struct sc_device *dev, void *arg)
{
    (void)dev;
    (*(unsigned *)arg)++;
    return 0;
}

static int count_core(struct sc_core *core, void *arg)
{
    (void)core;
    (*(unsigned *)arg)++;
    return 0;
}

/* Reservations against what the sidecores can honour (admission.h):
 * capacities 0 when not known (then nothing is refused). */
static json_t *admission_json(const struct sc_daemon *d)
{
    struct sc_admission_capacity cap;
    struct sc_sched_rate reservable, reserved;
    sc_daemon_admission(d, &cap);
    sc_admission_reservable(&cap, &reservable);
    sc_daemon_reserved(d, -1, &reserved);
    const char *source = d->cfg.admission_off ? "off"
                         : cap.measured      ? "measured"
                         : cap.per_core.iops || cap.per_core.bps ? "configured"
                                                                 : "not measured yet";
    return json_pack("{s:s, s:i, s:I, s:I, s:I, s:I, s:I, s:I}", "capacity", source,
                     "sidecores", (int)cap.ncores, "core_iops", (json_int_t)cap.per_core.iops,
                     "core_bps", (json_int_t)cap.per_core.bps, "reservable_iops",
                     (json_int_t)reservable.iops, "reservable_bps", (json_int_t)reservable.bps,
                     "reserved_iops", (json_int_t)reserved.iops, "reserved_bps",
                     (json_int_t)reserved.bps);
}

static json_t *m_status(void *ctx, json_t *params, struct sc_ctl_error *err)
{
    (void)params;
    struct sc_daemon *d = ctx;
    unsigned ndev = 0, ncores = 0;
    sc_xenbus_foreach_device(d->bus, count_device, &ndev);
    sc_pool_foreach_core(d->pool, count_core, &ncores);
    json_t *types = json_array();
    for (unsigned i = 0; types && i < d->cfg.ntypes; i++)
        json_array_append_new(types, json_string(d->cfg.types[i]));
    json_t *classes = json_array();
    for (unsigned i = 0; classes && i < d->nmodules; i++)
        json_array_append_new(classes, json_string(d->modules[i].module->name));
    /* the queues' memory budget: bytes (budget 0 = unlimited) */
    struct sc_membudget_stats ms;
    sc_membudget_stats(sc_pool_membudget(d->pool), &ms);
    json_t *mem = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
                            "budget_bytes", (json_int_t)ms.total,
                            "reserved_bytes", (json_int_t)ms.used,
                            "left_bytes", (json_int_t)(ms.total > ms.used ? ms.total - ms.used : 0),
                            "peak_bytes", (json_int_t)ms.peak,
                            "guest_max_bytes", (json_int_t)ms.guest_max,
                            "reservations", (json_int_t)ms.reservations,
                            "refused", (json_int_t)ms.refused);
    json_t *o = checked(json_pack("{s:s, s:s, s:i, s:I, s:s, s:f, s:i, s:i, s:I, s:o*, s:o*, s:s, "
                             "s:i, s:I, s:s, s:o*}",
                             "version", SC_VERSION, "platform", sc_xen_platform_name(d->xen),
                             "domid", (int)sc_xen_domid(d->xen), "pid", (json_int_t)getpid(),
                             "mode", sc_mode_str(d->cfg.mode),
                             "uptime_s", (sc_clock_ns() - d->start_ns) / 1e9,
                             "cores", (int)ncores, "devices", (int)ndev,
                             "poll_idle_us", (json_int_t)d->cfg.poll_idle_us, "types", types,
                             "classes", classes,
                             "ctl", d->cfg.ctl_path, "clients", (int)sc_ctl_nclients(d->ctl),
                             "queue_failures", (json_int_t)d->queue_failures_handled,
                             "config", d->cfg.config_path, "memory", mem),
                   err);
    if (o) {
        json_object_set_new(o, "poll_window",
                            json_string(d->cfg.poll_adaptive ? "adaptive" : "fixed"));
        json_object_set_new(o, "rebalance", sc_ctl_balancer_json(d));
        json_object_set_new(o, "admission", admission_json(d));
        /* where the metrics endpoint listens (the port it got for port 0) */
        json_object_set_new(o, "metrics",
                            d->metrics ? json_string(sc_metrics_http_where(d->metrics))
                                       : json_null());
    }
    return o;
}

/* ---- devices and queues ---- */

struct queue_list {
    const struct sc_device *dev;
    json_t *arr;
    bool full;        /* full stats (queues) or just name and core (devices) */
};

static int add_queue(struct sc_queue *q, struct sc_core *core, void *arg)
{
    struct queue_list *l = arg;
    json_t *o = l->full ? queue_json(l->dev, q, core)
                        : json_pack("{s:s, s:s?, s:i, s:b, s:I}", "name", q->name, "core",
                                    core ? sc_core_name(core) : NULL, "port", q->port,
                                    "failed", sc_queue_failed(q), "mem_reserved_bytes",
                                    (json_int_t)q->mem_reserved);
    return o ? json_array_append_new(l->arr, o) : -ENOMEM;
}

struct device_walk {
    struct sc_daemon *d;
    json_t *arr;
};

static int add_device(struct sc_device *dev, void *arg)
{
    struct device_walk *w = arg;
    struct sc_class_ctx *cc = sc_daemon_class_of(w->d, dev);
    json_t *queues = json_array();
    if (!queues)
        return -ENOMEM;
    json_t *class_view = NULL;
    if (cc) {
        struct queue_list l = { .dev = dev, .arr = queues, .full = false };
        cc->module->foreach_queue(dev, add_queue, &l);
        if (cc->module->describe)
            class_view = cc->module->describe(dev);
    }
    /* how long its disconnect has waited for in-flight I/O (a hung store) */
    json_t *draining = dev->disconnecting
                           ? json_real((double)(sc_clock_ns() - dev->draining_since_ns) / 1e9)
                           : NULL;
    json_t *o = json_pack("{s:I, s:s, s:i, s:I, s:s, s:s, s:s?, s:s, s:s, s:b, s:b, s:o, "
                          "s:o*, s:o*}",
                          "id", (json_int_t)dev->id, "type", dev->cls->type,
                          "frontend_id", (int)dev->frontend_id, "devid", (json_int_t)dev->devid,
                          "name", dev->name, "backend_path", dev->backend_path,
                          "frontend_path", dev->frontend_path,
                          "state", sc_xenbus_state_str(dev->state),
                          "frontend_state", sc_xenbus_state_str(dev->frontend_state),
                          "online", dev->online, "failed", dev->failed, "queues", queues,
                          "class", class_view, "draining_s", draining);
    return o ? json_array_append_new(w->arr, o) : -ENOMEM;
}

static json_t *m_devices(void *ctx, json_t *params, struct sc_ctl_error *err)
{
    (void)params;
    struct device_walk w = { .d = ctx, .arr = json_array() };
    if (!w.arr || sc_xenbus_foreach_device(w.d->bus, add_device, &w) != 0) {
        json_decref(w.arr);
        return checked(NULL, err);
    }
    return w.arr;
}

static int add_device_queues(struct sc_device *dev, void *arg)
{
    struct device_walk *w = arg;
    struct sc_class_ctx *cc = sc_daemon_class_of(w->d, dev);
    struct queue_list l = { .dev = dev, .arr = w->arr, .full = true };
    return cc ? cc->module->foreach_queue(dev, add_queue, &l) : 0;
}

static json_t *m_queues(void *ctx, json_t *params, struct sc_ctl_error *err)
{
    (void)params;
    struct device_walk w = { .d = ctx, .arr = json_array() };
    if (!w.arr)
        return checked(NULL, err);
    if (sc_xenbus_foreach_device(w.d->bus, add_device_queues, &w)) {
        json_decref(w.arr);
        return checked(NULL, err);
    }
    return w.arr;
}

/* ---- cores ---- */

struct core_walk {
    struct sc_daemon *d;
    json_t *arr;
    unsigned index;
};

static int add_core(struct sc_core *core, void *arg)
{
    struct core_walk *w = arg;
    struct sc_core_stats st;
    sc_core_stats(core, &st);
    /* poll-mode cores are created in CPU-list order; event-mode ones float */
    int cpu = SC_CORE_NO_CPU;
    if (w->d->cfg.mode == SC_MODE_POLL && w->index < w->d->cfg.ncpus)
        cpu = w->d->cfg.cpus[w->index];
    w->index++;
    uint64_t total = st.busy_ns + st.idle_ns + st.sleep_ns;
    json_t *o = json_pack("{s:s, s:i, s:I, s:I, s:I, s:I, s:I, s:I, s:f, s:I, s:I, s:I, s:I, "
                          "s:I, s:I, s:I, s:I}",
                          "name", sc_core_name(core), "cpu", cpu,
                          "queues", (json_int_t)st.queues, "rounds", (json_int_t)st.rounds,
                          "busy_rounds", (json_int_t)st.busy_rounds,
                          "busy_ns", (json_int_t)st.busy_ns, "idle_ns", (json_int_t)st.idle_ns,
                          "sleep_ns", (json_int_t)st.sleep_ns,
                          "busy_pct", total ? 100.0 * (double)st.busy_ns / (double)total : 0.0,
                          "sleeps", (json_int_t)st.sleeps, "wakeups", (json_int_t)st.wakeups,
                          "kicks", (json_int_t)st.kicks, "stray_kicks", (json_int_t)st.stray_kicks,
                          "io_submitted", (json_int_t)st.io_submitted,
                          "io_completed", (json_int_t)st.io_completed,
                          "commands", (json_int_t)st.commands, "failed", (json_int_t)st.failed);
    if (!o)
        return -ENOMEM;
    json_object_set_new(o, "poll_window_ns", json_integer((json_int_t)st.poll_window_ns));
    json_object_set_new(o, "active", json_boolean(sc_pool_core_active(w->d->pool, core)));
    json_object_set_new(o, "window_grows", json_integer((json_int_t)st.window_grows));
    json_object_set_new(o, "window_shrinks", json_integer((json_int_t)st.window_shrinks));
    json_object_set_new(o, "turn_shift", json_integer(st.turn_shift));
    json_object_set_new(o, "vcpu", json_integer(st.cpu));
    json_object_set_new(o, "steal_backoff", json_boolean(st.steal_backoff));
    struct sc_steal_view sv;
    if (sc_steal_view(w->d->steal, core, &sv) == 0) {
        /* what the platform says of its vCPU (steal.h); -1 / "" / null: unknown */
        const struct sc_vcpu_place *pl = &sv.place;
        json_t *p = json_pack("{s:i, s:i, s:s, s:s, s:o, s:o, s:o, s:I, s:I}",
                              "pcpu", sv.placed ? pl->pcpu : -1,
                              "pool", sv.placed ? pl->pool : -1,
                              "pool_name", sv.placed ? pl->pool_name : "",
                              "sched", sv.placed ? pl->sched : "",
                              "pinned", sv.placed && pl->pinned >= 0 ? json_boolean(pl->pinned)
                                                                     : json_null(),
                              "steal_ns", sv.placed && pl->steal_ns != SC_STEAL_UNKNOWN
                                              ? json_integer((json_int_t)pl->steal_ns)
                                              : json_null(),
                              "steal_pct", sv.steal_pct >= 0 ? json_real(sv.steal_pct)
                                                             : json_null(),
                              "backoffs", (json_int_t)sv.backoffs,
                              "resumes", (json_int_t)sv.resumes);
        if (p)
            json_object_set_new(o, "placement", p);
    }
    return json_array_append_new(w->arr, o);
}

static json_t *m_cores(void *ctx, json_t *params, struct sc_ctl_error *err)
{
    (void)params;
    struct core_walk w = { .d = ctx, .arr = json_array() };
    if (!w.arr || sc_pool_foreach_core(w.d->pool, add_core, &w)) {
        json_decref(w.arr);
        return checked(NULL, err);
    }
    return w.arr;
}

/* ---- guests ---- */

/* A row per guest and class (tenant.h): each has its own settings and share. */
#define MAX_GUESTS ((SC_CONFIG_MAX_TENANTS + 1024) * SC_TCLASS__COUNT)

struct guest_sum {
    sc_tenant_t tenant;
    unsigned devices, queues, mem_reservations;
    uint64_t mem_reserved;
    struct sc_sched_tenant_stats sched;
    uint64_t counter[SC_QSTAT__COUNT];
};

struct guest_walk {
    struct sc_daemon *d;
    struct guest_sum *g;
    unsigned n;
    struct guest_sum *cur;
};

static struct guest_sum *guest_get(struct guest_walk *w, sc_tenant_t tenant)
{
    for (unsigned i = 0; i < w->n; i++)
        if (w->g[i].tenant == tenant)
            return &w->g[i];
    if (w->n == MAX_GUESTS)
        return NULL;
    struct guest_sum *g = &w->g[w->n++];
    memset(g, 0, sizeof(*g));
    g->tenant = tenant;
    return g;
}

/* Both rows of a guest: its settings apply to each class, used or not. */
static void guest_get_all(struct guest_walk *w, domid_t domid)
{
    for (unsigned c = 0; c < SC_TCLASS__COUNT; c++)
        guest_get(w, sc_tenant_key(domid, (enum sc_tclass)c));
}

/* One device's queues, each summed into its own class's row. */
struct guest_dev_walk {
    struct guest_walk *w;
    struct guest_sum *g; /* the row of the device's last queue */
};

static int sum_queue(struct sc_queue *q, struct sc_core *core, void *arg)
{
    (void)core;
    struct guest_dev_walk *dw = arg;
    struct guest_sum *g = guest_get(dw->w, q->tenant);
    if (!g)
        return 0;
    dw->g = g;
    struct sc_queue_stats_snap snap;
    sc_queue_stats_snapshot(q, &snap);
    g->queues++;
    g->mem_reserved += q->mem_reserved;
    g->mem_reservations += q->mem_reserved > 0;
    for (unsigned c = 0; c < SC_QSTAT__COUNT; c++)
        g->counter[c] += snap.counter[c];
    return 0;
}

static int guest_device(struct sc_device *dev, void *arg)
{
    struct guest_walk *w = arg;
    guest_get_all(w, dev->frontend_id);
    struct guest_dev_walk dw = { .w = w };
    struct sc_class_ctx *cc = sc_daemon_class_of(w->d, dev);
    if (cc)
        cc->module->foreach_queue(dev, sum_queue, &dw);
    /* a device without queues yet counts where its type says */
    enum sc_tclass tc = SC_TCLASS_VBD;
    if (!dw.g && sc_tclass_parse(dev->cls->type, strlen(dev->cls->type), &tc) < 0)
        tc = SC_TCLASS_VBD; /* vbd3, qdisk: disks */
    struct guest_sum *g = dw.g ? dw.g : guest_get(w, sc_tenant_key(dev->frontend_id, tc));
    if (g)
        g->devices++;
    return 0;
}

static int guest_core(struct sc_core *core, void *arg)
{
    struct guest_walk *w = arg;
    struct sc_sched_tenant_stats ts;
    if (sc_core_tenant_stats(core, w->cur->tenant, &ts) < 0)
        return 0;
    struct sc_sched_tenant_stats *s = &w->cur->sched;
    s->visits += ts.visits;
    s->reservation_visits += ts.reservation_visits;
    s->requests += ts.requests;
    s->bytes += ts.bytes;
    s->cost += ts.cost;
    s->reservation_cost += ts.reservation_cost;
    s->throttled += ts.throttled;
    s->skipped += ts.skipped;
    return 0;
}

/* By domid, then vbd before vif. */
static int cmp_guest(const void *a, const void *b)
{
    const struct guest_sum *x = a, *y = b;
    int dx = sc_tenant_domid(x->tenant), dy = sc_tenant_domid(y->tenant);
    if (dx != dy)
        return dx - dy;
    return (int)sc_tenant_class(x->tenant) - (int)sc_tenant_class(y->tenant);
}

static json_t *guest_json(struct sc_daemon *d, const struct guest_sum *g)
{
    struct sc_sched_tenant_conf conf;
    struct sc_dir_rates dirs;
    domid_t domid = sc_tenant_domid(g->tenant);
    bool vbd = sc_tenant_class(g->tenant) == SC_TCLASS_VBD;
    sc_daemon_tenant_conf(d, g->tenant, &conf, &dirs);
    bool configured = false;
    for (unsigned i = 0; i < d->ntenants; i++)
        configured |= d->tenants[i].tenant == g->tenant;
    const struct sc_sched_tenant_stats *s = &g->sched;
    json_t *o = json_pack(
        "{s:i, s:s, s:b, s:i, s:I, s:I, s:I, s:I, s:i, s:i, s:{s:I, s:I, s:I, s:I, s:I, s:I, "
        "s:I, s:I}}",
        "domid", (int)domid, "class", sc_tclass_name(sc_tenant_class(g->tenant)), "configured",
        configured, "weight", (int)conf.weight,
        "reservation_iops", (json_int_t)conf.reservation.iops,
        "reservation_bps", (json_int_t)conf.reservation.bps,
        "limit_iops", (json_int_t)conf.limit.iops, "limit_bps", (json_int_t)conf.limit.bps,
        "devices", (int)g->devices, "queues", (int)g->queues, "sched", "visits",
        (json_int_t)s->visits, "reservation_visits", (json_int_t)s->reservation_visits,
        "requests", (json_int_t)s->requests, "bytes", (json_int_t)s->bytes, "cost",
        (json_int_t)s->cost, "reservation_cost", (json_int_t)s->reservation_cost, "throttled",
        (json_int_t)s->throttled, "skipped", (json_int_t)s->skipped);
    if (!o)
        return NULL;
    /* what this class's queues hold of the memory budget (membudget.h) */
    json_object_set_new(o, "mem_reserved_bytes", json_integer((json_int_t)g->mem_reserved));
    json_object_set_new(o, "mem_reservations", json_integer((json_int_t)g->mem_reservations));
    /* its disks' read/write limits, and the requests they held back (the
     * vif row: none) */
    static const char *const dir_name[SC_DIR__COUNT] = { "read", "write" };
    struct sc_dir_limit *dl = vbd ? sc_pool_dir_limit(d->pool, domid) : NULL;
    for (unsigned k = 0; k < SC_DIR__COUNT; k++) {
        char key[32];
        snprintf(key, sizeof(key), "%s_iops", dir_name[k]);
        json_object_set_new(o, key, json_integer(vbd ? (json_int_t)dirs.dir[k].iops : 0));
        snprintf(key, sizeof(key), "%s_bps", dir_name[k]);
        json_object_set_new(o, key, json_integer(vbd ? (json_int_t)dirs.dir[k].bps : 0));
        snprintf(key, sizeof(key), "%s_throttled", dir_name[k]);
        json_object_set_new(o, key, json_integer(dl ? (json_int_t)atomic_load_explicit(
                                                          &dl->throttled[k], memory_order_relaxed)
                                                    : 0));
    }
    for (unsigned c = 0; c < SC_QSTAT__COUNT; c++)
        json_object_set_new(o, sc_queue_counter_name(c), json_integer((json_int_t)g->counter[c]));
    return o;
}

static json_t *m_guests(void *ctx, json_t *params, struct sc_ctl_error *err)
{
    (void)params;
    struct guest_walk w = { .d = ctx, .g = calloc(MAX_GUESTS, sizeof(struct guest_sum)) };
    if (!w.g)
        return checked(NULL, err);
    for (unsigned i = 0; i < w.d->ntenants; i++)
        guest_get_all(&w, sc_tenant_domid(w.d->tenants[i].tenant));
    sc_xenbus_foreach_device(w.d->bus, guest_device, &w);
    for (unsigned i = 0; i < w.n; i++) {
        w.cur = &w.g[i];
        sc_pool_foreach_core(w.d->pool, guest_core, &w);
    }
    qsort(w.g, w.n, sizeof(w.g[0]), cmp_guest);
    json_t *arr = json_array();
    for (unsigned i = 0; arr && i < w.n; i++) {
        json_t *o = guest_json(w.d, &w.g[i]);
        if (!o || json_array_append_new(arr, o) < 0) {
            json_decref(arr);
            arr = NULL;
        }
    }
    free(w.g);
    return checked(arr, err);
}

/* ---- set-tenant ---- */

static json_t *class_conf_json(const struct sc_sched_tenant_conf *c)
{
    return json_pack("{s:i, s:I, s:I, s:I, s:I}", "weight", (int)c->weight, "reservation_iops",
                     (json_int_t)c->reservation.iops, "reservation_bps",
                     (json_int_t)c->reservation.bps, "limit_iops", (json_int_t)c->limit.iops,
                     "limit_bps", (json_int_t)c->limit.bps);
}

/* params: {"domid": N, KEY: N...}; KEY a setting (weight ... write_bps),
 * for both classes of the guest, or "vbd.KEY" / "vif.KEY" for one, which
 * wins over the plain key whatever the order (config.h says the same of
 * the file).  Classes no key touches keep their settings. */
static json_t *m_set_tenant(void *ctx, json_t *params, struct sc_ctl_error *err)
{
    struct sc_daemon *d = ctx;
    static const struct {
        const char *name, *alias;
    } keys[] = {
        { "weight", "weight" },
        { "reservation_iops", "res_iops" },
        { "reservation_bps", "res_bps" },
        { "limit_iops", "lim_iops" },
        { "limit_bps", "lim_bps" },
        { "read_iops", "read_iops" },
        { "read_bps", "read_bps" },
        { "write_iops", "write_iops" },
        { "write_bps", "write_bps" },
    };
    enum { FIRST_DIR_KEY = 5, NKEYS = sizeof(keys) / sizeof(keys[0]) };
    json_t *jdom = json_object_get(params, "domid");
    if (!json_is_object(params) || !json_is_integer(jdom) || json_integer_value(jdom) < 0 ||
        json_integer_value(jdom) >= DOMID_FIRST_RESERVED) {
        sc_ctl_error_set(err, SC_CTL_INVALID_PARAMS, "set-tenant needs {\"domid\": 0..%u, ...}",
                         DOMID_FIRST_RESERVED - 1);
        return NULL;
    }
    domid_t domid = (domid_t)json_integer_value(jdom);
    struct sc_sched_tenant_conf conf[SC_TCLASS__COUNT], old[SC_TCLASS__COUNT];
    struct sc_dir_rates dirs, old_dirs;
    bool touched[SC_TCLASS__COUNT] = { false };
    for (unsigned c = 0; c < SC_TCLASS__COUNT; c++)
        sc_daemon_tenant_conf(d, sc_tenant_key(domid, (enum sc_tclass)c), &conf[c],
                              c == SC_TCLASS_VBD ? &dirs : NULL);
    memcpy(old, conf, sizeof(old));
    old_dirs = dirs;
    /* the plain keys first, so that a class's own key wins */
    for (int pass = 0; pass < 2; pass++) {
        const char *key;
        json_t *val;
        json_object_foreach(params, key, val) {
            if (strcmp(key, "domid") == 0)
                continue;
            const char *field = key, *dot = strchr(key, '.');
            enum sc_tclass tc = SC_TCLASS__COUNT; /* both */
            if (dot) {
                if (sc_tclass_parse(key, (size_t)(dot - key), &tc) < 0) {
                    sc_ctl_error_set(err, SC_CTL_INVALID_PARAMS, "'%s': the class before the "
                                     "dot is vbd or vif (like vif.weight)", key);
                    return NULL;
                }
                field = dot + 1;
            }
            if ((pass == 0) != (tc == SC_TCLASS__COUNT))
                continue;
            size_t k;
            for (k = 0; k < NKEYS; k++)
                if (strcmp(field, keys[k].name) == 0 || strcmp(field, keys[k].alias) == 0)
                    break;
            if (k == NKEYS) {
                sc_ctl_error_set(err, SC_CTL_INVALID_PARAMS, "unknown setting '%s' (weight, "
                                 "reservation_iops, reservation_bps, limit_iops, limit_bps, "
                                 "read_iops, read_bps, write_iops, write_bps; vbd. or vif. in "
                                 "front for one class)", key);
                return NULL;
            }
            if (k >= FIRST_DIR_KEY && tc == SC_TCLASS_VIF) {
                sc_ctl_error_set(err, SC_CTL_INVALID_PARAMS, "%s: read and write limits are "
                                 "for disks only (%s or vbd.%s)", key, field, field);
                return NULL;
            }
            if (!json_is_integer(val) || json_integer_value(val) < 0) {
                sc_ctl_error_set(err, SC_CTL_INVALID_PARAMS, "%s must be a non-negative integer",
                                 key);
                return NULL;
            }
            uint64_t v = (uint64_t)json_integer_value(val);
            for (unsigned c = 0; c < SC_TCLASS__COUNT; c++) {
                if (tc != SC_TCLASS__COUNT && tc != c)
                    continue;
                if (k >= FIRST_DIR_KEY && c != SC_TCLASS_VBD)
                    continue; /* a plain read/write limit is the disks' alone */
                touched[c] = true;
                struct sc_sched_tenant_conf *t = &conf[c];
                switch (k) {
                case 0: t->weight = v > UINT32_MAX ? 0 : (uint32_t)v; break;
                case 1: t->reservation.iops = v; break;
                case 2: t->reservation.bps = v; break;
                case 3: t->limit.iops = v; break;
                case 4: t->limit.bps = v; break;
                case 5: dirs.dir[SC_DIR_READ].iops = v; break;
                case 6: dirs.dir[SC_DIR_READ].bps = v; break;
                case 7: dirs.dir[SC_DIR_WRITE].iops = v; break;
                default: dirs.dir[SC_DIR_WRITE].bps = v; break;
                }
            }
        }
    }
    char why[256] = "";
    for (unsigned k = 0; k < SC_DIR__COUNT; k++) {
        if (dirs.dir[k].iops > SC_SCHED_IOPS_MAX || dirs.dir[k].bps > SC_SCHED_BPS_MAX) {
            sc_ctl_error_set(err, SC_CTL_INVALID_PARAMS, "read/write limits are at most %llu "
                             "iops and %llu B/s", SC_SCHED_IOPS_MAX, SC_SCHED_BPS_MAX);
            return NULL;
        }
    }
    int ret = 0;
    unsigned c;
    for (c = 0; c < SC_TCLASS__COUNT && ret == 0; c++) {
        if (!touched[c])
            continue;
        ret = sc_daemon_set_tenant(d, sc_tenant_key(domid, (enum sc_tclass)c), &conf[c],
                                   c == SC_TCLASS_VBD ? &dirs : NULL, false, why, sizeof(why));
    }
    if (ret < 0) {
        /* all or nothing: the class set before the refused one goes back
         * (lowering a reservation is never refused) */
        c--;
        for (unsigned b = 0; b < c; b++)
            if (touched[b])
                sc_daemon_set_tenant(d, sc_tenant_key(domid, (enum sc_tclass)b), &old[b],
                                     b == SC_TCLASS_VBD ? &old_dirs : NULL, false, NULL, 0);
    }
    const char *cls = c < SC_TCLASS__COUNT ? sc_tclass_name((enum sc_tclass)c) : "";
    if (ret == -ENOSPC && *why) {
        sc_log(SC_LOG_WARN, "ctl", "tenant %u: %s (%s)", domid, why, cls);
        sc_ctl_error_set(err, SC_CTL_FAILED, "domain %u: %s (%s)", domid, why, cls);
        return NULL;
    }
    if (ret == -EINVAL) {
        sc_ctl_error_set(err, SC_CTL_INVALID_PARAMS,
                         "invalid settings for domain %u (%s): weight must be %u..%u, rates at "
                         "most %llu iops and %llu B/s, a reservation not above its limit",
                         domid, cls, SC_SCHED_WEIGHT_MIN, SC_SCHED_WEIGHT_MAX,
                         SC_SCHED_IOPS_MAX, SC_SCHED_BPS_MAX);
        return NULL;
    }
    if (ret < 0) {
        sc_ctl_error_set(err, SC_CTL_FAILED, "domain %u (%s): %s", domid, cls, strerror(-ret));
        return NULL;
    }
    const struct sc_sched_rate *rd = &dirs.dir[SC_DIR_READ], *wr = &dirs.dir[SC_DIR_WRITE];
    for (c = 0; c < SC_TCLASS__COUNT; c++) {
        if (!touched[c])
            continue;
        sc_log(SC_LOG_INFO, "ctl", "tenant %u %s: weight %u, reservation %llu iops %llu B/s, "
               "limit %llu iops %llu B/s", domid, sc_tclass_name((enum sc_tclass)c),
               conf[c].weight, (unsigned long long)conf[c].reservation.iops,
               (unsigned long long)conf[c].reservation.bps,
               (unsigned long long)conf[c].limit.iops, (unsigned long long)conf[c].limit.bps);
    }
    if (touched[SC_TCLASS_VBD])
        sc_log(SC_LOG_INFO, "ctl", "tenant %u: reads at most %llu iops %llu B/s, writes %llu "
               "iops %llu B/s", domid, (unsigned long long)rd->iops, (unsigned long long)rd->bps,
               (unsigned long long)wr->iops, (unsigned long long)wr->bps);
    return checked(json_pack("{s:i, s:o, s:o, s:I, s:I, s:I, s:I}", "domid", (int)domid, "vbd",
                             class_conf_json(&conf[SC_TCLASS_VBD]), "vif",
                             class_conf_json(&conf[SC_TCLASS_VIF]), "read_iops",
                             (json_int_t)rd->iops, "read_bps", (json_int_t)rd->bps, "write_iops",
                             (json_int_t)wr->iops, "write_bps", (json_int_t)wr->bps),
                   err);
}

const struct sc_ctl_method sc_daemon_ctl_methods[] = {
    { "status", m_status, SC_CTL_VIEW },
    { "devices", m_devices, SC_CTL_VIEW },
    { "queues", m_queues, SC_CTL_VIEW },
    { "cores", m_cores, SC_CTL_VIEW },
    { "guests", m_guests, SC_CTL_VIEW },
    { "set-tenant", m_set_tenant },
    { "rebalance", sc_ctl_rebalance },
    { "move-queue", sc_ctl_move_queue },
    { NULL, NULL },
};
