/*
 * daemon.c - sidecored's control thread (daemon.h has the contract), and
 * the class modules' place in it (devclass.h: their contexts, methods and
 * ticks).
 */
#include "daemon.h"

#include <errno.h>
#include <sched.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "ctl_metrics.h"
#include "inbox.h"
#include "log.h"
#include "rsp_stage.h"
#include "watchdog.h"

enum { EV_BUS = 1, EV_CTL, EV_ATTENTION, EV_SIGNAL, EV_TIMER, EV_POOL, EV_VIEWS };

/* How long the control socket waits for the control thread before it
 * answers from the last published views (ctl.h). */
#define CTL_OWNER_TIMEOUT_MS 1000
/* How often the views are published for such answers. */
#define VIEWS_PERIOD_MS      500
/* Bounds of a shutdown with devices whose I/O hangs. */
#define SHUTDOWN_DRAIN_NS    (3ull * 1000000000ull)
#define SHUTDOWN_CORES_NS    (2ull * 1000000000ull)
/* A control step this long is reported (issue: xenstored loss within 2 s) */
#define CONTROL_STALL_NS     (2ull * 1000000000ull)


static struct sc_daemon_tenant *tenant_find(struct sc_daemon *d, sc_tenant_t tenant)
{
    for (unsigned i = 0; i < d->ntenants; i++)
        if (d->tenants[i].tenant == tenant)
            return &d->tenants[i];
    return NULL;
}

void sc_daemon_tenant_conf(const struct sc_daemon *d, sc_tenant_t tenant,
                           struct sc_sched_tenant_conf *out, struct sc_dir_rates *dirs)
{
    for (unsigned i = 0; i < d->ntenants; i++) {
        if (d->tenants[i].tenant == tenant) {
            *out = d->tenants[i].conf;
            if (dirs)
                *dirs = d->tenants[i].dirs;
            return;
        }
    }
    memset(out, 0, sizeof(*out));
    out->weight = SC_SCHED_WEIGHT_DEFAULT;
    if (dirs)
        memset(dirs, 0, sizeof(*dirs));
}

/* Event mode's queue threads run on the CPUs the daemon may use. */
static unsigned cpus_usable(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof(set), &set) < 0)
        return 1;
    int n = CPU_COUNT(&set);
    return n > 0 ? (unsigned)n : 1;
}

void sc_daemon_admission(const struct sc_daemon *d, struct sc_admission_capacity *out)
{
    memset(out, 0, sizeof(*out));
    out->ncores = d->cfg.mode == SC_MODE_POLL ? d->cfg.cores : cpus_usable();
    if (d->cfg.admission_off)
        return;
    struct sc_sched_rate measured = { 0 };
    if (d->balancer)
        sc_balancer_capacity(d->balancer, &measured);
    out->per_core = d->cfg.core_capacity;
    if (!out->per_core.iops)
        out->per_core.iops = measured.iops;
    if (!out->per_core.bps)
        out->per_core.bps = measured.bps;
    out->measured = (!d->cfg.core_capacity.iops && measured.iops) ||
                    (!d->cfg.core_capacity.bps && measured.bps);
}

void sc_daemon_reserved(const struct sc_daemon *d, int except, struct sc_sched_rate *out)
{
    out->iops = out->bps = 0;
    for (unsigned i = 0; i < d->ntenants; i++) {
        if ((int)d->tenants[i].tenant == except)
            continue;
        out->iops += d->tenants[i].conf.reservation.iops;
        out->bps += d->tenants[i].conf.reservation.bps;
    }
}

int sc_daemon_set_tenant(struct sc_daemon *d, sc_tenant_t tenant,
                         const struct sc_sched_tenant_conf *conf,
                         const struct sc_dir_rates *dirs, bool from_config, char *why,
                         size_t whylen)
{
    if (dirs && sc_tenant_class(tenant) != SC_TCLASS_VBD)
        return -EINVAL;
    struct sc_daemon_tenant *t = tenant_find(d, tenant);
    if (!t && d->ntenants == SC_DAEMON_MAX_TENANTS)
        return -ENOSPC;
    /* only a raise is checked: lowering a reservation, or keeping one the
     * capacity (measured anew) no longer covers, is never refused */
    struct sc_sched_rate raise = conf->reservation;
    if (t && raise.iops <= t->conf.reservation.iops)
        raise.iops = 0;
    if (t && raise.bps <= t->conf.reservation.bps)
        raise.bps = 0;
    struct sc_admission_capacity cap;
    struct sc_sched_rate others;
    sc_daemon_admission(d, &cap);
    sc_daemon_reserved(d, tenant, &others);
    int ret = sc_admission_check(&cap, &others, &raise, why, whylen);
    if (ret < 0)
        return ret;
    ret = sc_pool_set_tenant(d->pool, tenant, conf);
    if (ret == 0 && dirs)
        ret = sc_pool_set_dir_limits(d->pool, sc_tenant_domid(tenant), dirs);
    if (ret < 0)
        return ret;
    if (!t) {
        t = &d->tenants[d->ntenants++];
        t->tenant = tenant;
        memset(&t->dirs, 0, sizeof(t->dirs));
    }
    t->conf = *conf;
    if (dirs)
        t->dirs = *dirs;
    t->from_config = from_config;
    return 0;
}

/* Each configured guest's classes, each with what it gets (config.h). */
static int apply_config_tenants(struct sc_daemon *d, const struct sc_config *cfg)
{
    for (unsigned i = 0; i < cfg->ntenants; i++) {
        const struct sc_config_tenant *ct = &cfg->tenants[i];
        for (unsigned c = 0; c < SC_TCLASS__COUNT; c++) {
            struct sc_sched_tenant_conf conf;
            sc_config_tenant_class(ct, (enum sc_tclass)c, &conf);
            const char *cls = sc_tclass_name((enum sc_tclass)c);
            char why[256] = "";
            int ret = sc_daemon_set_tenant(d, sc_tenant_key(ct->domid, (enum sc_tclass)c), &conf,
                                           c == SC_TCLASS_VBD ? &ct->dirs : NULL, true, why,
                                           sizeof(why));
            if (ret < 0) {
                sc_log(SC_LOG_ERR, "config", "tenant %u: %s (%s)", ct->domid,
                       *why ? why : strerror(-ret), cls);
                return ret;
            }
            sc_log(SC_LOG_INFO, "config", "tenant %u %s: weight %u, reservation %llu iops "
                   "%llu B/s, limit %llu iops %llu B/s", ct->domid, cls, conf.weight,
                   (unsigned long long)conf.reservation.iops,
                   (unsigned long long)conf.reservation.bps,
                   (unsigned long long)conf.limit.iops, (unsigned long long)conf.limit.bps);
        }
    }
    return 0;
}

int sc_daemon_reload(struct sc_daemon *d)
{
    struct sc_config *cfg = malloc(sizeof(*cfg));
    char err[SC_CONFIG_ERR_MAX] = "";
    if (!cfg)
        return -ENOMEM;
    int ret = sc_config_reload(&d->cfg, cfg, err, sizeof(err));
    if (ret < 0) {
        sc_log(SC_LOG_ERR, "config", "reload failed, settings unchanged: %s", err);
        free(cfg);
        return ret;
    }
    /* guests the configuration no longer names go back to the defaults;
     * those set at run time (sidecorectl) keep their settings */
    for (unsigned i = 0; i < d->ntenants; i++) {
        struct sc_daemon_tenant *t = &d->tenants[i];
        domid_t domid = sc_tenant_domid(t->tenant);
        enum sc_tclass tc = sc_tenant_class(t->tenant);
        if (t->from_config && !sc_config_find_tenant(cfg, domid)) {
            struct sc_sched_tenant_conf def = { .weight = SC_SCHED_WEIGHT_DEFAULT };
            struct sc_dir_rates none = { 0 };
            if (sc_daemon_set_tenant(d, t->tenant, &def, tc == SC_TCLASS_VBD ? &none : NULL,
                                     false, NULL, 0) == 0)
                sc_log(SC_LOG_INFO, "config", "tenant %u %s: back to the defaults", domid,
                       sc_tclass_name(tc));
        }
    }
    struct sc_balancer_params bp;
    sc_daemon_balancer_params(cfg, &bp);
    if (sc_balancer_set_params(d->balancer, &bp) == 0) {
        d->cfg.rebalance = cfg->rebalance;
        d->cfg.rebalance_interval_ms = cfg->rebalance_interval_ms;
        d->cfg.rebalance_spread_pct = cfg->rebalance_spread_pct;
    }
    d->cfg.core_capacity = cfg->core_capacity;
    if (memcmp(&cfg->metrics, &d->cfg.metrics, sizeof(cfg->metrics)) != 0)
        sc_log(SC_LOG_WARN, "config", "metrics: a new address takes a restart (still %s)",
               d->metrics ? sc_metrics_http_where(d->metrics) : "off");
    d->cfg.admission_off = cfg->admission_off;
    ret = apply_config_tenants(d, cfg);
    if (ret == 0) {
        memcpy(d->cfg.tenants, cfg->tenants, sizeof(cfg->tenants));
        d->cfg.ntenants = cfg->ntenants;
        sc_log(SC_LOG_INFO, "config", "reloaded guest settings (%u tenants)", cfg->ntenants);
    }
    free(cfg);
    return ret;
}

static int epoll_add(int epfd, int fd, uint64_t tag)
{
    struct epoll_event ev = { .events = EPOLLIN, .data.u64 = tag };
    return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

/* ---- the class modules ---- */

struct sc_class_ctx *sc_class_ctx_of(void *ctl_ctx, const struct sc_class_module *m)
{
    struct sc_daemon *d = ctl_ctx;
    for (unsigned i = 0; d && i < d->nmodules; i++)
        if (d->modules[i].module == m)
            return &d->modules[i];
    return NULL;
}

struct sc_class_ctx *sc_daemon_class_of(struct sc_daemon *d, const struct sc_device *dev)
{
    for (unsigned i = 0; i < d->nmodules; i++)
        if (sc_class_owns(&d->modules[i], dev))
            return &d->modules[i];
    return NULL;
}

static bool method_named(const struct sc_ctl_method *methods, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(methods[i].name, name) == 0)
            return true;
    return false;
}

/* The control socket's table: ours, then each module's.  0 or -errno. */
static int build_methods(struct sc_daemon *d)
{
    size_t n = 0, k = 0;
    for (const struct sc_ctl_method *m = sc_daemon_ctl_methods; m->name; m++)
        n++;
    for (unsigned i = 0; i < d->cfg.nmodules; i++)
        for (const struct sc_ctl_method *m = d->cfg.modules[i]->methods; m && m->name; m++)
            n++;
    d->methods = calloc(n + 1, sizeof(*d->methods));
    if (!d->methods)
        return -ENOMEM;
    for (const struct sc_ctl_method *m = sc_daemon_ctl_methods; m->name; m++)
        d->methods[k++] = *m;
    for (unsigned i = 0; i < d->cfg.nmodules; i++) {
        const struct sc_class_module *mod = d->cfg.modules[i];
        for (const struct sc_ctl_method *m = mod->methods; m && m->name; m++) {
            if (method_named(d->methods, k, m->name)) {
                sc_log(SC_LOG_ERR, mod->name, "control method '%s' exists already", m->name);
                return -EEXIST;
            }
            d->methods[k++] = *m;
        }
    }
    return 0;
}

/* The module that serves backend/<type> (the first listed), or NULL. */
static struct sc_class_ctx *module_of_type(struct sc_daemon *d, const char *type)
{
    for (unsigned i = 0; i < d->nmodules; i++)
        for (const struct sc_class_type *t = d->modules[i].module->types; t->name; t++)
            if (strcmp(t->name, type) == 0)
                return &d->modules[i];
    return NULL;
}

/* Registers the bus class of each configured type.  0 or -errno (logged). */
static int register_types(struct sc_daemon *d)
{
    for (unsigned i = 0; i < d->cfg.ntypes; i++) {
        const char *type = d->cfg.types[i];
        struct sc_class_ctx *cc = module_of_type(d, type);
        if (!cc) {
            sc_log(SC_LOG_ERR, "daemon", "no device class serves '%s'", type);
            return -EINVAL;
        }
        errno = 0;
        const struct sc_device_class *cls = cc->module->device_class(type, d->pool, cc->config);
        if (!cls) {
            int ret = errno ? -errno : -EINVAL;
            sc_log(SC_LOG_ERR, cc->module->name, "no bus class for '%s': %s", type,
                   strerror(-ret));
            return ret;
        }
        int ret = sc_xenbus_register(d->bus, cls);
        if (ret < 0) {
            sc_log(SC_LOG_ERR, "daemon", "watching backend/%s: %s", type, strerror(-ret));
            return ret;
        }
        d->classes[d->ntypes++] = cls;
        cc->classes[cc->nclasses++] = cls;
    }
    return 0;
}

static unsigned gcd(unsigned a, unsigned b)
{
    while (b) {
        unsigned t = a % b;
        a = b;
        b = t;
    }
    return a;
}

/* One timer for every module's tick: its period divides each module's, and
 * each module runs every tick_every rounds.  0 or -errno; no timer (fd -1)
 * when no module ticks. */
static int arm_ticks(struct sc_daemon *d)
{
    unsigned base = 0;
    for (unsigned i = 0; i < d->nmodules; i++) {
        const struct sc_class_module *m = d->modules[i].module;
        if (m->tick && m->tick_ms)
            base = gcd(base, m->tick_ms);
    }
    if (!base)
        return 0;
    for (unsigned i = 0; i < d->nmodules; i++) {
        struct sc_class_ctx *cc = &d->modules[i];
        if (cc->module->tick && cc->module->tick_ms)
            cc->tick_every = cc->tick_countdown = cc->module->tick_ms / base;
    }
    d->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (d->timer_fd < 0)
        return -errno;
    struct timespec period = { base / 1000, (long)(base % 1000) * 1000000 };
    struct itimerspec its = { .it_interval = period, .it_value = period };
    return timerfd_settime(d->timer_fd, 0, &its, NULL) < 0 ? -errno : 0;
}

void sc_daemon_balancer_params(const struct sc_config *cfg, struct sc_balancer_params *p)
{
    sc_balancer_params_default(p);
    p->enabled = cfg->rebalance;
    p->interval_ns = cfg->rebalance_interval_ms * 1000000ull;
    p->plan.spread = cfg->rebalance_spread_pct / 100.0;
    p->min_cores = cfg->cores_min && cfg->cores_min < cfg->cores ? cfg->cores_min : 0;
}

struct sc_daemon *sc_daemon_open(const struct sc_config *cfg)
{
    if (!cfg || cfg->nmodules > SC_CONFIG_MAX_CLASSES) {
        errno = EINVAL;
        return NULL;
    }
    for (unsigned i = 0; i < cfg->nmodules; i++) {
        const struct sc_class_module *m = cfg->modules[i];
        if (!m->device_class || !m->foreach_queue) {
            sc_log(SC_LOG_ERR, m->name, "class module without device_class or foreach_queue");
            errno = EINVAL;
            return NULL;
        }
    }
    struct sc_daemon *d = calloc(1, sizeof(*d));
    if (!d)
        return NULL;
    d->cfg = *cfg;
    d->epfd = d->attention_fd = d->signal_fd = d->timer_fd = d->views_fd = -1;
    d->start_ns = sc_clock_ns();
    d->nmodules = cfg->nmodules;
    for (unsigned i = 0; i < d->nmodules; i++) {
        d->modules[i].module = d->cfg.modules[i];
        d->modules[i].config = d->cfg.class_cfg[i].bytes;
    }
    int ret = build_methods(d);
    if (ret < 0)
        goto fail;

    /* Before any thread exists: cores inherit the mask, so these signals
     * reach only the signalfd. */
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGHUP);
    sigaddset(&mask, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &mask, NULL);
    sigdelset(&mask, SIGPIPE);
    d->signal_fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
    if (d->signal_fd < 0)
        goto fail_errno;
    d->watchdog = sc_watchdog_start(CONTROL_STALL_NS);
    if (!d->watchdog)
        goto fail_errno;
    sc_watchdog_busy(d->watchdog, "starting (xenstore, adopting devices)");

    /* The socket first: a second daemon must stop before touching xenstore. */
    struct sc_ctl_access access = {
        .group = cfg->ctl_group, .mode = cfg->ctl_mode, .admin_group = cfg->ctl_admin_group,
    };
    d->ctl = sc_ctl_open_access(cfg->ctl_path, d->methods, d, &access);
    if (!d->ctl)
        goto fail_errno;
    /* Bound now, served once the views are published: an address in use
     * stops us before we touch xenstore. */
    if (cfg->metrics.kind != SC_METRICS_OFF) {
        char err[SC_CONFIG_ERR_MAX];
        d->metrics = sc_metrics_http_open(&cfg->metrics, err, sizeof(err));
        if (!d->metrics) {
            ret = -errno;
            sc_log(SC_LOG_ERR, "daemon", "%s", err);
            goto fail;
        }
    }

    /* Response logs beside the socket (one daemon per socket): a successor
     * finishes what a killed daemon was publishing (rsp_stage.h). */
    char state_dir[SC_CONFIG_PATH_MAX + 8];
    size_t plen = strlen(cfg->ctl_path);
    if (plen > 5 && strcmp(cfg->ctl_path + plen - 5, ".sock") == 0)
        plen -= 5;
    snprintf(state_dir, sizeof(state_dir), "%.*s.rings", (int)plen, cfg->ctl_path);
    ret = sc_rsp_stage_set_dir(state_dir);
    if (ret < 0)
        sc_log(SC_LOG_WARN, "daemon",
               "response logs in %s: %s (a SIGKILL restart may lose requests)", state_dir,
               strerror(-ret));

    d->xen = sc_xen_open(cfg->platform);
    if (!d->xen)
        goto fail_errno;
    sc_log(SC_LOG_INFO, "daemon", "sidecored %s on %s as domain %u, control socket %s",
           SC_VERSION, sc_xen_platform_name(d->xen), sc_xen_domid(d->xen), cfg->ctl_path);
    /* gntdev limits the grants one handle keeps mapped; ours holds every
     * ring and persistent grant of every guest.  Older kernels only. */
    ret = sc_gnt_set_max_grants(d->xen, SC_DAEMON_MAX_GRANTS);
    if (ret < 0)
        sc_log(SC_LOG_WARN, "daemon", "raising the grant mapping limit to %u: %s",
               SC_DAEMON_MAX_GRANTS, strerror(-ret));

    d->attention_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (d->attention_fd < 0)
        goto fail_errno;
    struct sc_pool_params pp = {
        .mode = cfg->mode,
        .ncores = cfg->cores,
        .poll_idle_ns = cfg->poll_idle_us * 1000,
        .poll_adaptive = cfg->poll_adaptive,
        .ncores_min = cfg->cores_min < cfg->cores ? cfg->cores_min : 0,
        .uring_entries = cfg->uring_entries,
        .attention_fd = d->attention_fd,
        .mem_budget = cfg->mem_budget,
        .mem_budget_pct = cfg->mem_budget_pct,
        .guest_mem_max = cfg->guest_mem_max,
    };
    for (unsigned i = 0; i < SC_POOL_MAX_CORES; i++)
        pp.cpus[i] = i < cfg->ncpus ? cfg->cpus[i] : SC_CORE_NO_CPU;
    d->pool = sc_pool_create(d->xen, &pp);
    if (!d->pool)
        goto fail_errno;
    ret = apply_config_tenants(d, cfg);
    if (ret < 0)
        goto fail;
    struct sc_balancer_params bp;
    sc_daemon_balancer_params(cfg, &bp);
    d->balancer = sc_balancer_create(d->pool, &bp);
    if (!d->balancer)
        goto fail_errno;
    struct sc_steal_params sp;
    sc_steal_params_default(&sp);
    sp.backoff_pct = cfg->steal_backoff_pct;
    sp.resume_pct = cfg->steal_backoff_pct / 2;
    d->steal = sc_steal_create(d->xen, d->pool, &sp);
    if (!d->steal)
        goto fail_errno;

    d->xs = sc_xs_open(d->xen);
    if (!d->xs) {
        sc_log(SC_LOG_ERR, "daemon", "cannot connect to xenstore: %s", strerror(errno));
        goto fail_errno;
    }
    d->bus = sc_xenbus_create(d->xen, d->xs);
    if (!d->bus)
        goto fail_errno;
    for (unsigned i = 0; i < d->nmodules; i++) {
        d->modules[i].bus = d->bus;
        d->modules[i].pool = d->pool;
    }
    /* Registering adopts the devices already there: they may connect now. */
    ret = register_types(d);
    if (ret < 0)
        goto fail;

    ret = arm_ticks(d);
    if (ret < 0)
        goto fail;
    d->views_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    struct itimerspec views = {
        .it_interval = { VIEWS_PERIOD_MS / 1000, (VIEWS_PERIOD_MS % 1000) * 1000000L },
        .it_value = { 0, 1 }, /* publish at once */
    };
    if (d->views_fd < 0 || timerfd_settime(d->views_fd, 0, &views, NULL) < 0)
        goto fail_errno;
    /* From here on the socket is served by a thread of its own, so clients
     * get answers however long the control thread is busy. */
    ret = sc_ctl_start(d->ctl, CTL_OWNER_TIMEOUT_MS);
    if (ret < 0)
        goto fail;
    if (d->metrics) {
        /* a scrape right after "ready" finds figures, not a 503 */
        sc_ctl_publish_views(d->ctl);
        ret = sc_metrics_http_start(d->metrics, sc_ctl_metrics_render, d->ctl);
        if (ret < 0)
            goto fail;
        if (cfg->metrics.kind == SC_METRICS_UNIX)
            sc_log(SC_LOG_INFO, "daemon", "metrics at /metrics on the socket %s",
                   cfg->metrics.path);
        else
            sc_log(SC_LOG_INFO, "daemon", "metrics at http://%s/metrics",
                   sc_metrics_http_where(d->metrics));
    }
    d->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (d->epfd < 0)
        goto fail_errno;
    if ((ret = epoll_add(d->epfd, sc_xenbus_fd(d->bus), EV_BUS)) < 0 ||
        (ret = epoll_add(d->epfd, sc_ctl_fd(d->ctl), EV_CTL)) < 0 ||
        (ret = epoll_add(d->epfd, sc_pool_reply_fd(d->pool), EV_POOL)) < 0 ||
        (ret = epoll_add(d->epfd, d->views_fd, EV_VIEWS)) < 0 ||
        (ret = epoll_add(d->epfd, d->attention_fd, EV_ATTENTION)) < 0 ||
        (ret = epoll_add(d->epfd, d->signal_fd, EV_SIGNAL)) < 0 ||
        (d->timer_fd >= 0 && (ret = epoll_add(d->epfd, d->timer_fd, EV_TIMER)) < 0))
        goto fail;
    return d;

fail_errno:
    ret = -errno;
fail:
    sc_daemon_close(d);
    errno = -ret;
    return NULL;
}

struct failed_queue {
    bool found;
    int err;
    char name[SC_QUEUE_NAME_MAX];
};

static int find_failed_queue(struct sc_queue *q, struct sc_core *core, void *arg)
{
    (void)core;
    struct failed_queue *f = arg;
    if (!sc_queue_failed(q))
        return 0;
    f->found = true;
    f->err = sc_queue_error(q);
    snprintf(f->name, sizeof(f->name), "%s", q->name);
    return 1;
}

#define MAX_FAIL_BATCH 64

struct fail_scan {
    struct sc_daemon *d;
    unsigned n;
    uint64_t ids[MAX_FAIL_BATCH];
    int errs[MAX_FAIL_BATCH];
    char names[MAX_FAIL_BATCH][SC_QUEUE_NAME_MAX];
};

static int scan_device(struct sc_device *dev, void *arg)
{
    struct fail_scan *s = arg;
    if (dev->failed || !dev->connected)
        return 0; /* already on its way down, or nothing running */
    struct sc_class_ctx *cc = sc_daemon_class_of(s->d, dev);
    struct failed_queue f = { 0 };
    if (cc)
        cc->module->foreach_queue(dev, find_failed_queue, &f);
    if (!f.found)
        return 0;
    s->ids[s->n] = dev->id;
    s->errs[s->n] = f.err < 0 ? f.err : -EIO;
    snprintf(s->names[s->n], sizeof(s->names[0]), "%s", f.name);
    return ++s->n == MAX_FAIL_BATCH;
}

/* A sidecore raised the attention fd: some queue failed.  Fail its device
 * (error node, Closing), which disconnects every queue of it. */
static void handle_attention(struct sc_daemon *d)
{
    uint64_t count;
    if (read(d->attention_fd, &count, sizeof(count)) != sizeof(count))
        return;
    struct fail_scan s = { .d = d };
    do {
        s.n = 0;
        sc_xenbus_foreach_device(d->bus, scan_device, &s);
        for (unsigned i = 0; i < s.n; i++) {
            d->queue_failures_handled++;
            sc_xenbus_fail_device_id(d->bus, s.ids[i], s.errs[i], "queue %s failed: %s",
                                     s.names[i], strerror(-s.errs[i]));
        }
    } while (s.n == MAX_FAIL_BATCH);
}

static int tick_device(struct sc_device *dev, void *arg)
{
    struct sc_class_ctx *cc = arg;
    if (dev->connected && !dev->failed && dev->state == XenbusStateConnected)
        cc->module->tick(cc, dev);
    return 0;
}

/* A timer round (expirations missed while busy are not made up). */
static void handle_timer(struct sc_daemon *d)
{
    uint64_t expirations;
    if (read(d->timer_fd, &expirations, sizeof(expirations)) != sizeof(expirations))
        return;
    for (unsigned i = 0; i < d->nmodules; i++) {
        struct sc_class_ctx *cc = &d->modules[i];
        if (!cc->tick_every || --cc->tick_countdown > 0)
            continue;
        cc->tick_countdown = cc->tick_every;
        cc->ticks++;
        sc_class_foreach_device(cc, tick_device, cc);
    }
}

/* A disconnect that waits for I/O this long is worth a line in the log
 * (once): its backing store does not complete requests. */
#define DRAIN_REPORT_NS (10ull * 1000000000ull)

static int report_long_drain(struct sc_device *dev, void *arg)
{
    (void)arg;
    if (dev->disconnecting && !dev->drain_reported &&
        sc_clock_ns() - dev->draining_since_ns > DRAIN_REPORT_NS) {
        dev->drain_reported = true;
        sc_log(SC_LOG_WARN, dev->name,
               "disconnect still waiting for in-flight I/O after %llu s: its backing store "
               "does not complete requests; the device stays Closing until it does",
               DRAIN_REPORT_NS / 1000000000ull);
    }
    return 0;
}

static void handle_signal(struct sc_daemon *d)
{
    struct signalfd_siginfo si;
    while (read(d->signal_fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
        switch (si.ssi_signo) {
        case SIGTERM:
        case SIGINT:
            sc_log(SC_LOG_INFO, "daemon", "%s: shutting down",
                   si.ssi_signo == SIGTERM ? "SIGTERM" : "SIGINT");
            d->stop = true;
            break;
        case SIGHUP:
            sc_daemon_reload(d);
            break;
        }
    }
}

int sc_daemon_run(struct sc_daemon *d)
{
    int ready_fd = d->cfg.ready_fd;
    if (ready_fd >= 0) {
        if (write(ready_fd, "ready\n", 6) != 6)
            sc_log(SC_LOG_WARN, "daemon", "ready-fd %d: %s", ready_fd, strerror(errno));
        close(ready_fd);
        d->cfg.ready_fd = -1;
    }
    sc_log(SC_LOG_INFO, "daemon", "serving %u device type%s in %s mode", d->ntypes,
           d->ntypes == 1 ? "" : "s", sc_mode_str(d->cfg.mode));
    struct sc_inbox *replies = sc_pool_reply_inbox(d->pool);
    while (!d->stop) {
        struct epoll_event evs[8];
        /* The cores' answers ring only a sleeper (inbox.h): arm first. */
        sc_watchdog_idle(d->watchdog);
        int n = epoll_wait(d->epfd, evs, 8, sc_inbox_arm(replies) ? -1 : 0);
        sc_watchdog_busy(d->watchdog, "a step of its loop");
        sc_inbox_disarm(replies);
        sc_pool_reap(d->pool);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            sc_log(SC_LOG_ERR, "daemon", "epoll: %s", strerror(errno));
            return -errno;
        }
        for (int i = 0; i < n && !d->stop; i++) {
            switch (evs[i].data.u64) {
            case EV_BUS: {
                sc_watchdog_busy(d->watchdog, "a xenstore watch event");
                int ret = sc_xenbus_dispatch(d->bus);
                if (ret < 0) {
                    sc_log(SC_LOG_ERR, "daemon", "xenstore connection lost: %s",
                           strerror(-ret));
                    return ret;
                }
                break;
            }
            case EV_CTL:
                sc_watchdog_busy(d->watchdog, "a control method");
                sc_ctl_dispatch(d->ctl);
                break;
            case EV_ATTENTION:
                sc_watchdog_busy(d->watchdog, "a core's request for attention");
                handle_attention(d);
                break;
            case EV_SIGNAL:
                sc_watchdog_busy(d->watchdog, "a signal (reload)");
                handle_signal(d);
                break;
            case EV_TIMER:
                sc_watchdog_busy(d->watchdog, "a device class's tick");
                handle_timer(d);
                break;
            case EV_POOL:
                break; /* reaped above */
            case EV_VIEWS: {
                sc_watchdog_busy(d->watchdog, "the views, connect limits and xenstored's ping");
                uint64_t expirations;
                if (read(d->views_fd, &expirations, sizeof(expirations)) > 0) {
                    sc_ctl_publish_views(d->ctl);
                    sc_xenbus_foreach_device(d->bus, report_long_drain, NULL);
                    sc_xenbus_tick(d->bus);
                    sc_balancer_tick(d->balancer, sc_clock_ns());
                    sc_pool_split_rates(d->pool);
                    sc_steal_tick(d->steal, sc_clock_ns());
                    /* a lost xenstore: exit non-zero, so the unit restarts us
                     * (the devices stay Connected for the successor) */
                    int ret = sc_xenbus_ping(d->bus);
                    if (ret < 0) {
                        sc_log(SC_LOG_ERR, "daemon", "xenstore connection lost: %s",
                               strerror(-ret));
                        return ret;
                    }
                }
                break;
            }
            }
        }
    }
    return 0;
}

/* Disconnects every device and waits, at most SHUTDOWN_DRAIN_NS, for the
 * cores to give their queues back (a hung store keeps its device). */
static void drain_devices(struct sc_daemon *d)
{
    /* Requests in flight are completed, not cancelled: what does not
     * complete in time stays unanswered in the ring for the next daemon. */
    /* The waits here are bounded; what is not is a xenstore call */
    sc_watchdog_stopping(d->watchdog);
    sc_watchdog_busy(d->watchdog, "shutting down (disconnecting devices)");
    sc_pool_begin_stop(d->pool);
    sc_xenbus_remove_all(d->bus);
    struct sc_inbox *replies = sc_pool_reply_inbox(d->pool);
    uint64_t deadline = sc_clock_ns() + SHUTDOWN_DRAIN_NS;
    while (sc_xenbus_pending_disconnects(d->bus) && sc_clock_ns() < deadline) {
        struct pollfd p = { .fd = sc_inbox_fd(replies), .events = POLLIN };
        sc_watchdog_idle(d->watchdog);
        if (sc_inbox_arm(replies))
            poll(&p, 1, 50);
        sc_inbox_disarm(replies);
        sc_watchdog_busy(d->watchdog, "shutting down (closing drained devices)");
        sc_pool_reap(d->pool);
    }
    sc_watchdog_idle(d->watchdog);
    unsigned left = sc_xenbus_pending_disconnects(d->bus);
    if (left)
        sc_log(SC_LOG_WARN, "daemon", "%u device%s still draining after %llu s: left behind",
               left, left == 1 ? "" : "s", SHUTDOWN_DRAIN_NS / 1000000000ull);
}

void sc_daemon_close(struct sc_daemon *d)
{
    if (!d)
        return;
    /* Its thread reads the socket's views: gone before the socket. */
    sc_metrics_http_close(d->metrics);
    d->metrics = NULL;
    /* Devices first: their queues go back to the pool, drained. */
    if (d->bus && d->pool)
        drain_devices(d);
    sc_watchdog_busy(d->watchdog, "shutting down (leaving xenstore)");
    sc_xenbus_destroy(d->bus);
    sc_watchdog_idle(d->watchdog);
    if (d->xs)
        xs_close(d->xs);
    sc_balancer_destroy(d->balancer);
    if (sc_pool_destroy_within(d->pool, SHUTDOWN_CORES_NS) < 0)
        sc_log(SC_LOG_WARN, "daemon", "sidecores stopped with I/O still in flight");
    sc_steal_destroy(d->steal); /* after the pool: its answers point here (steal.h) */
    sc_ctl_close(d->ctl);
    if (d->xen)
        sc_xen_close(d->xen);
    sc_watchdog_stop(d->watchdog);
    free(d->methods);
    int fds[] = { d->epfd, d->attention_fd, d->signal_fd, d->timer_fd, d->views_fd,
                  d->cfg.ready_fd };
    for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
        if (fds[i] >= 0)
            close(fds[i]);
    free(d);
}

int sc_daemon_main(const char *prog, const struct sc_class_module *const *modules, int argc,
                   char **argv)
{
    static struct sc_config cfg;
    char err[SC_CONFIG_ERR_MAX] = "";
    int ret = sc_config_load(&cfg, modules, argc, argv, err, sizeof(err));
    if (ret == 1)
        return 0;
    if (ret < 0) {
        fprintf(stderr, "%s: %s\n(%s --help lists the options)\n", prog, err, prog);
        return 2;
    }
    sc_log_set_level(cfg.log_level);
    struct sc_daemon *d = sc_daemon_open(&cfg);
    if (!d) {
        sc_log(SC_LOG_ERR, prog, "cannot start: %s", strerror(errno));
        return 1;
    }
    ret = sc_daemon_run(d);
    sc_daemon_close(d);
    if (ret == 0)
        sc_log(SC_LOG_INFO, prog, "stopped");
    return ret < 0 ? 1 : 0;
}
