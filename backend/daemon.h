/*
 * daemon.h - sidecored's control thread: everything but the data path.
 *
 * Contract: sc_daemon_open() builds the daemon from a loaded config: claims
 * the control socket (refusing when another daemon serves it), opens the
 * platform, the core pool and the xenstore bus, and registers, for each
 * configured type, the bus class of the module serving it.  sc_daemon_run()
 * is the control thread's loop: one epoll over the bus (watch events), the
 * control socket's posted calls (the socket itself is served by its own
 * thread: ctl.h), the pool's reply inbox (the cores' answers: attach and
 * detach progress there, never waited for), the attention eventfd (a queue
 * failed: its device is failed), a signalfd (SIGTERM/SIGINT stop, SIGHUP
 * reloads guest settings from the config), a timer running the modules'
 * ticks and one publishing the views the control socket answers from when
 * this thread is busy.  sc_daemon_close() disconnects every device and
 * waits at most 3 s for their I/O to drain, stops the cores within 2 s
 * more (what still hangs is left behind, unanswered, for a successor) and
 * releases the rest.
 *
 * Device knowledge stays out: the class modules (devclass.h) come in the
 * config (main.c lists them); the daemon keeps a struct sc_class_ctx each.
 *
 * Threads: the calling thread becomes the control thread; sc_daemon_open
 * blocks SIGTERM/SIGINT/SIGHUP/SIGPIPE in it before any core starts, so
 * every thread inherits the mask and signals arrive only through the
 * signalfd.  Everything in struct sc_daemon is the control thread's.
 * Returns: 0 or negative errno.
 */
#ifndef SC_DAEMON_H
#define SC_DAEMON_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "corepool.h"
#include "ctl.h"
#include "metrics_http.h"
#include "devclass.h"
#include "queue.h"
#include "sidecore.h"
#include "steal.h"
#include "xenbus.h"
#include "balancer.h"
#include "admission.h"

#define SC_VERSION "0.3.0"
/* Grants one daemon may keep mapped (rings + persistent grants, all guests). */
#define SC_DAEMON_MAX_GRANTS (1u << 20)

/* One class of a guest's (tenant.h): its fair-share settings as the
 * daemon last applied them. */
struct sc_daemon_tenant {
    sc_tenant_t tenant;
    struct sc_sched_tenant_conf conf;
    struct sc_dir_rates dirs; /* vbd: its disks' read/write limits; vif: none */
    bool from_config; /* the config file or command line set it (SIGHUP may reset it) */
};

#define SC_DAEMON_MAX_TENANTS (SC_CONFIG_MAX_TENANTS * SC_TCLASS__COUNT)

struct sc_daemon {
    struct sc_config cfg;
    struct sc_xen *xen;
    struct xs_handle *xs;
    struct sc_pool *pool;
    struct sc_xenbus *bus;
    struct sc_ctl *ctl;
    struct sc_metrics_http *metrics; /* the Prometheus endpoint, NULL when off */
    struct sc_watchdog *watchdog; /* says when the control thread hangs (watchdog.h) */
    struct sc_balancer *balancer; /* moves queues between cores by load (balancer.h) */
    struct sc_steal *steal;       /* the cores' placement and steal, the back-off (steal.h) */
    struct sc_ctl_method *methods; /* the daemon's, then the modules': the socket's table */
    unsigned nmodules;             /* == cfg.nmodules */
    struct sc_class_ctx modules[SC_CONFIG_MAX_CLASSES]; /* modules[i] runs cfg.modules[i] */
    unsigned ntypes;
    const struct sc_device_class *classes[SC_CONFIG_MAX_TYPES];
    unsigned ntenants;
    struct sc_daemon_tenant tenants[SC_DAEMON_MAX_TENANTS];
    int epfd, attention_fd, signal_fd, timer_fd, views_fd; /* timer_fd -1 when no module ticks */
    uint64_t start_ns;    /* CLOCK_MONOTONIC */
    uint64_t queue_failures_handled;
    bool stop;
};

/* The balancer's settings that cfg gives (the rest its defaults). */
void sc_daemon_balancer_params(const struct sc_config *cfg, struct sc_balancer_params *p);
/* Builds the daemon over cfg's class modules (cfg is copied).  NULL +
 * errno: EADDRINUSE (another daemon), EEXIST (two methods of one name),
 * or the error of what could not be opened (logged). */
struct sc_daemon *sc_daemon_open(const struct sc_config *cfg);
/* Serves until SIGTERM/SIGINT (0) or a fatal error (-errno: xenstore lost). */
int sc_daemon_run(struct sc_daemon *d);
/* Disconnects every device, stops the cores, closes everything.  NULL ok. */
void sc_daemon_close(struct sc_daemon *d);

/* Sets the settings of `tenant`, one class of a guest (tenant.h), in the
 * pool and the table; dirs (the disks' read/write limits) only for a vbd
 * tenant, NULL to keep them.  0 or -errno: -EINVAL for dirs on a vif
 * tenant; -ENOSPC also when a raised reservation does not fit what the
 * sidecores can honour (admission.h: every class's reservation counts;
 * the sentence in why, if not NULL). */
int sc_daemon_set_tenant(struct sc_daemon *d, sc_tenant_t tenant,
                         const struct sc_sched_tenant_conf *conf,
                         const struct sc_dir_rates *dirs, bool from_config, char *why,
                         size_t whylen);
/* The capacity reservations are admitted against (config or measured). */
void sc_daemon_admission(const struct sc_daemon *d, struct sc_admission_capacity *out);
/* The guests' reservations summed over their classes, leaving out tenant
 * `except` (-1: none). */
void sc_daemon_reserved(const struct sc_daemon *d, int except, struct sc_sched_rate *out);
/* The settings in force for tenant (defaults if never set); dirs may be NULL. */
void sc_daemon_tenant_conf(const struct sc_daemon *d, sc_tenant_t tenant,
                           struct sc_sched_tenant_conf *out, struct sc_dir_rates *dirs);
/* Reloads guest settings (sc_config_reload: the same command line and
 * file).  Class settings and types keep their values until a restart.
 * 0 or -errno. */
int sc_daemon_reload(struct sc_daemon *d);
/* The context of the module whose bus class dev has, or NULL. */
struct sc_class_ctx *sc_daemon_class_of(struct sc_daemon *d, const struct sc_device *dev);

/* ctl_methods.c: the daemon's own control socket methods, with a struct
 * sc_daemon as ctx ({NULL}-terminated). */
extern const struct sc_ctl_method sc_daemon_ctl_methods[];

/* A whole daemon over `modules` (NULL-terminated): loads the settings from
 * argv, serves until SIGTERM/SIGINT, closes.  The exit code: 0, 1 when it
 * could not start or lost xenstore, 2 for a bad command line or config
 * file.  `prog` names it in messages.  sidecored's and echoback's main. */
int sc_daemon_main(const char *prog, const struct sc_class_module *const *modules, int argc,
                   char **argv);

#endif
