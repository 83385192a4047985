/*
 * daemon.c - sidecored's control thread (daemon.h has the contract).
 */
#include "daemon.h"

#include <errno.h>
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

#include "log.h"

enum { EV_BUS = 1, EV_CTL, EV_ATTENTION, EV_SIGNAL, EV_TIMER };

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static struct sc_daemon_tenant *tenant_find(struct sc_daemon *d, domid_t domid)
{
    for (unsigned i = 0; i < d->ntenants; i++)
        if (d->tenants[i].domid == domid)
            return &d->tenants[i];
    return NULL;
}

void sc_daemon_tenant_conf(const struct sc_daemon *d, domid_t domid,
                           struct sc_sched_tenant_conf *out)
{
    for (unsigned i = 0; i < d->ntenants; i++) {
        if (d->tenants[i].domid == domid) {
            *out = d->tenants[i].conf;
            return;
        }
    }
    memset(out, 0, sizeof(*out));
    out->weight = SC_SCHED_WEIGHT_DEFAULT;
}

int sc_daemon_set_tenant(struct sc_daemon *d, domid_t domid,
                         const struct sc_sched_tenant_conf *conf, bool from_config)
{
    struct sc_daemon_tenant *t = tenant_find(d, domid);
    if (!t && d->ntenants == SC_CONFIG_MAX_TENANTS)
        return -ENOSPC;
    int ret = sc_pool_set_tenant(d->pool, domid, conf);
    if (ret < 0)
        return ret;
    if (!t) {
        t = &d->tenants[d->ntenants++];
        t->domid = domid;
    }
    t->conf = *conf;
    t->from_config = from_config;
    return 0;
}

static int apply_config_tenants(struct sc_daemon *d, const struct sc_config *cfg)
{
    for (unsigned i = 0; i < cfg->ntenants; i++) {
        const struct sc_config_tenant *ct = &cfg->tenants[i];
        int ret = sc_daemon_set_tenant(d, ct->domid, &ct->conf, true);
        if (ret < 0) {
            sc_log(SC_LOG_ERR, "config", "tenant %u: %s", ct->domid, strerror(-ret));
            return ret;
        }
        sc_log(SC_LOG_INFO, "config", "tenant %u: weight %u, reservation %llu iops %llu B/s, "
               "limit %llu iops %llu B/s", ct->domid, ct->conf.weight,
               (unsigned long long)ct->conf.reservation.iops,
               (unsigned long long)ct->conf.reservation.bps,
               (unsigned long long)ct->conf.limit.iops, (unsigned long long)ct->conf.limit.bps);
    }
    return 0;
}

int sc_daemon_reload(struct sc_daemon *d)
{
    if (!d->hooks.reload) {
        sc_log(SC_LOG_WARN, "config", "reload not supported");
        return -EOPNOTSUPP;
    }
    struct sc_config *cfg = malloc(sizeof(*cfg));
    char err[SC_CONFIG_ERR_MAX] = "";
    if (!cfg)
        return -ENOMEM;
    int ret = d->hooks.reload(cfg, err, sizeof(err), d->hooks.arg);
    if (ret < 0) {
        sc_log(SC_LOG_ERR, "config", "reload failed, settings unchanged: %s", err);
        free(cfg);
        return ret;
    }
    /* guests the configuration no longer names go back to the defaults;
     * those set at run time (sidecorectl) keep their settings */
    for (unsigned i = 0; i < d->ntenants; i++) {
        struct sc_daemon_tenant *t = &d->tenants[i];
        if (t->from_config && !sc_config_find_tenant(cfg, t->domid)) {
            struct sc_sched_tenant_conf def = { .weight = SC_SCHED_WEIGHT_DEFAULT };
            if (sc_daemon_set_tenant(d, t->domid, &def, false) == 0)
                sc_log(SC_LOG_INFO, "config", "tenant %u: back to the defaults", t->domid);
        }
    }
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

struct sc_daemon *sc_daemon_open(const struct sc_config *cfg, const struct sc_daemon_hooks *hooks)
{
    if (!cfg || !hooks || !hooks->device_class) {
        errno = EINVAL;
        return NULL;
    }
    struct sc_daemon *d = calloc(1, sizeof(*d));
    if (!d)
        return NULL;
    d->cfg = *cfg;
    d->hooks = *hooks;
    d->epfd = d->attention_fd = d->signal_fd = d->timer_fd = -1;
    d->start_ns = mono_ns();
    int ret;

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

    /* The socket first: a second daemon must stop before touching xenstore. */
    d->ctl = sc_ctl_open(cfg->ctl_path, sc_daemon_ctl_methods, d);
    if (!d->ctl)
        goto fail_errno;

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
        .uring_entries = cfg->uring_entries,
        .attention_fd = d->attention_fd,
    };
    for (unsigned i = 0; i < SC_POOL_MAX_CORES; i++)
        pp.cpus[i] = i < cfg->ncpus ? cfg->cpus[i] : SC_CORE_NO_CPU;
    d->pool = sc_pool_create(d->xen, &pp);
    if (!d->pool)
        goto fail_errno;
    ret = apply_config_tenants(d, cfg);
    if (ret < 0)
        goto fail;

    d->xs = sc_xs_open(d->xen);
    if (!d->xs) {
        sc_log(SC_LOG_ERR, "daemon", "cannot connect to xenstore: %s", strerror(errno));
        goto fail_errno;
    }
    d->bus = sc_xenbus_create(d->xen, d->xs);
    if (!d->bus)
        goto fail_errno;
    for (unsigned i = 0; i < cfg->ntypes; i++) {
        const struct sc_device_class *cls = hooks->device_class(cfg->types[i], d->pool,
                                                                hooks->arg);
        if (!cls) {
            sc_log(SC_LOG_ERR, "daemon", "no device class for '%s'", cfg->types[i]);
            goto fail_errno;
        }
        ret = sc_xenbus_register(d->bus, cls);
        if (ret < 0) {
            sc_log(SC_LOG_ERR, "daemon", "watching backend/%s: %s", cfg->types[i],
                   strerror(-ret));
            goto fail;
        }
        d->classes[d->ntypes++] = cls;
    }

    d->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    struct itimerspec its = { .it_interval = { 1, 0 }, .it_value = { 1, 0 } };
    if (d->timer_fd < 0 || timerfd_settime(d->timer_fd, 0, &its, NULL) < 0)
        goto fail_errno;
    d->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (d->epfd < 0)
        goto fail_errno;
    if ((ret = epoll_add(d->epfd, sc_xenbus_fd(d->bus), EV_BUS)) < 0 ||
        (ret = epoll_add(d->epfd, sc_ctl_fd(d->ctl), EV_CTL)) < 0 ||
        (ret = epoll_add(d->epfd, d->attention_fd, EV_ATTENTION)) < 0 ||
        (ret = epoll_add(d->epfd, d->signal_fd, EV_SIGNAL)) < 0 ||
        (ret = epoll_add(d->epfd, d->timer_fd, EV_TIMER)) < 0)
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
    struct failed_queue f = { 0 };
    s->d->hooks.foreach_queue(dev, find_failed_queue, &f);
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
    if (!d->hooks.foreach_queue) {
        sc_log(SC_LOG_WARN, "daemon", "a queue failed, but its device cannot be found");
        return;
    }
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

static int resize_one(struct sc_device *dev, void *arg)
{
    struct sc_daemon *d = arg;
    if (!dev->connected || dev->failed || dev->state != XenbusStateConnected)
        return 0;
    int ret = d->hooks.check_resize(dev);
    if (ret < 0)
        sc_log_rl(SC_LOG_WARN, dev->name, "resize check: %s", strerror(-ret));
    return 0;
}

static void handle_timer(struct sc_daemon *d)
{
    uint64_t ticks;
    if (read(d->timer_fd, &ticks, sizeof(ticks)) != sizeof(ticks))
        return;
    if (d->hooks.check_resize) {
        d->resize_checks++;
        sc_xenbus_foreach_device(d->bus, resize_one, d);
    }
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
    while (!d->stop) {
        struct epoll_event evs[8];
        int n = epoll_wait(d->epfd, evs, 8, -1);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            sc_log(SC_LOG_ERR, "daemon", "epoll: %s", strerror(errno));
            return -errno;
        }
        for (int i = 0; i < n && !d->stop; i++) {
            switch (evs[i].data.u64) {
            case EV_BUS: {
                int ret = sc_xenbus_dispatch(d->bus);
                if (ret < 0) {
                    sc_log(SC_LOG_ERR, "daemon", "xenstore connection lost: %s",
                           strerror(-ret));
                    return ret;
                }
                break;
            }
            case EV_CTL:
                sc_ctl_dispatch(d->ctl);
                break;
            case EV_ATTENTION:
                handle_attention(d);
                break;
            case EV_SIGNAL:
                handle_signal(d);
                break;
            case EV_TIMER:
                handle_timer(d);
                break;
            }
        }
    }
    return 0;
}

void sc_daemon_close(struct sc_daemon *d)
{
    if (!d)
        return;
    /* Devices first: their queues go back to the pool, drained. */
    sc_xenbus_destroy(d->bus);
    if (d->xs)
        xs_close(d->xs);
    sc_pool_destroy(d->pool);
    sc_ctl_close(d->ctl);
    if (d->xen)
        sc_xen_close(d->xen);
    int fds[] = { d->epfd, d->attention_fd, d->signal_fd, d->timer_fd, d->cfg.ready_fd };
    for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
        if (fds[i] >= 0)
            close(fds[i]);
    free(d);
}
