/*
 * daemon.h - sidecored's control thread: everything but the data path.
 *
 * Contract: sc_daemon_open() builds the daemon from a loaded config: claims
 * the control socket (refusing when another daemon serves it), opens the
 * platform, the core pool and the xenstore bus, and registers one device
 * class per configured type.  sc_daemon_run() is the control thread's loop:
 * one epoll over the bus (watch events), the control socket, the pool's
 * attention eventfd (a queue failed: its device is failed), a signalfd
 * (SIGTERM/SIGINT stop, SIGHUP reloads guest settings from the config) and
 * a 1 s timer (resize checks).  sc_daemon_close() disconnects every device
 * (draining I/O), stops the cores and releases the rest.
 *
 * Block or net knowledge stays out: the device classes come through
 * `struct sc_daemon_hooks` (main.c fills them from blkback).
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
#include "queue.h"
#include "sidecore.h"
#include "xenbus.h"

#define SC_VERSION "0.3.0"
/* Grants one daemon may keep mapped (rings + persistent grants, all guests). */
#define SC_DAEMON_MAX_GRANTS (1u << 20)

/* What the daemon needs of the device classes. */
struct sc_daemon_hooks {
    /* The class serving backend/<type> over `pool`; NULL + errno if the
     * type is not supported.  Required. */
    const struct sc_device_class *(*device_class)(const char *type, struct sc_pool *pool,
                                                  void *arg);
    /* Calls fn for each queue of dev (and the core serving it, or NULL),
     * stopping at and returning the first non-zero result.  Optional:
     * without it, devices show no queues and a failed queue cannot be
     * traced to its device. */
    int (*foreach_queue)(struct sc_device *dev, sc_queue_visit_fn *fn, void *arg);
    /* Re-reads the backing store's size and, if it changed, tells the
     * frontend.  0 or -errno.  Optional (resize checks are then off). */
    int (*check_resize)(struct sc_device *dev);
    /* Loads the configuration again (SIGHUP).  0, or -EINVAL with a
     * message in err.  Optional (SIGHUP is then ignored). */
    int (*reload)(struct sc_config *out, char *err, size_t errlen, void *arg);
    void *arg;
};

/* A guest's fair-share settings as the daemon last applied them. */
struct sc_daemon_tenant {
    domid_t domid;
    struct sc_sched_tenant_conf conf;
    bool from_config; /* the config file or command line set it (SIGHUP may reset it) */
};

struct sc_daemon {
    struct sc_config cfg;
    struct sc_daemon_hooks hooks;
    struct sc_xen *xen;
    struct xs_handle *xs;
    struct sc_pool *pool;
    struct sc_xenbus *bus;
    struct sc_ctl *ctl;
    unsigned ntypes;
    const struct sc_device_class *classes[SC_CONFIG_MAX_TYPES];
    unsigned ntenants;
    struct sc_daemon_tenant tenants[SC_CONFIG_MAX_TENANTS];
    int epfd, attention_fd, signal_fd, timer_fd;
    uint64_t start_ns;    /* CLOCK_MONOTONIC */
    uint64_t queue_failures_handled;
    uint64_t resize_checks;
    bool stop;
};

/* Builds the daemon (cfg and hooks are copied).  NULL + errno: EADDRINUSE
 * (another daemon), or the error of what could not be opened (logged). */
struct sc_daemon *sc_daemon_open(const struct sc_config *cfg, const struct sc_daemon_hooks *hooks);
/* Serves until SIGTERM/SIGINT (0) or a fatal error (-errno: xenstore lost). */
int sc_daemon_run(struct sc_daemon *d);
/* Disconnects every device, stops the cores, closes everything.  NULL ok. */
void sc_daemon_close(struct sc_daemon *d);

/* Sets guest `domid`'s settings (pool and table).  0 or -errno. */
int sc_daemon_set_tenant(struct sc_daemon *d, domid_t domid,
                         const struct sc_sched_tenant_conf *conf, bool from_config);
/* The settings in force for domid (defaults if never set). */
void sc_daemon_tenant_conf(const struct sc_daemon *d, domid_t domid,
                           struct sc_sched_tenant_conf *out);
/* Reloads guest settings through hooks.reload.  0 or -errno. */
int sc_daemon_reload(struct sc_daemon *d);

/* ctl_methods.c: the control socket's methods, with a struct sc_daemon as ctx. */
extern const struct sc_ctl_method sc_daemon_ctl_methods[];

#endif
