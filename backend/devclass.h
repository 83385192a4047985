/*
 * devclass.h - a device class as the daemon sees it: everything one kind of
 * device brings to sidecored beyond the bus callbacks of xenbus.h.
 *
 * Contract: a class module (struct sc_class_module, static and const) names
 * the class ("vif": its settings' namespace and its log context), the
 * backend directory types it serves, its settings (`<name>.<key>` in the
 * config file, `--<name>.<key> VALUE` on the command line, stored in an
 * opaque blob the module lays out), how to build the bus class of a type
 * (struct sc_device_class, xenbus.h), how to walk a device's queues and
 * describe a device for sidecorectl, its control methods and its periodic
 * work.  Only the composition root (main.c) lists the modules;
 * config_class.c routes settings to them, daemon.c registers their types,
 * methods and ticks, ctl_methods.c adds their views.  The daemon keeps one
 * struct sc_class_ctx per module for its life: the module's settings and
 * the bus classes registered for it.
 *
 * The bus classes keep their own list of watched backend keys
 * (sc_device_class.backend_keys); the frontend's `state` is watched by the
 * bus for every class.
 *
 * Threads: the config callbacks run wherever the config is loaded (any
 * thread; pure over the blob); everything else on the control thread.
 * Returns: 0 or negative errno; pointer returners NULL (+ errno).
 */
#ifndef SC_DEVCLASS_H
#define SC_DEVCLASS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "config.h"
#include "corepool.h"
#include "ctl.h"
#include "queue.h"
#include "xenbus.h"

/* One setting of a module.  A module's settings blob is at most
 * SC_CONFIG_CLASS_CFG_MAX bytes (config.h). */
struct sc_class_setting {
    const char *key;  /* "max-queues": `vif.max-queues = 4`, --vif.max-queues 4 */
    const char *arg;  /* the value's placeholder in --help: "N", "yes|no" */
    const char *help; /* one line for --help, ending with the default in [] */
};

/* An older, un-namespaced spelling kept working (deprecated), in the file
 * and on the command line. */
struct sc_class_alias {
    const char *name; /* "max-queues", "no-discard" */
    const char *key;  /* the setting it stands for: "max-queues", "discard" */
    /* name takes yes/no and means the opposite of key ("no-discard = yes"
     * is "discard = no"); on the command line it is a flag without value */
    bool negate;
};

/* A backend directory type a module serves. */
struct sc_class_type {
    const char *name; /* watched as backend/<name> */
    bool by_default;  /* served when the `types` setting is not given */
};

struct sc_class_ctx;

struct sc_class_module {
    /* "vif": the namespace of its settings and its log context */
    const char *name;
    /* the types it can serve, {NULL}-terminated; at least one */
    const struct sc_class_type *types;

    /* ---- settings (all optional; none without config_size) ---- */
    size_t config_size;                      /* bytes of the blob, 0..SC_CONFIG_CLASS_CFG_MAX */
    const struct sc_class_setting *settings; /* {NULL}-terminated */
    const struct sc_class_alias *aliases;    /* {NULL}-terminated */
    /* Fills the defaults into a zeroed blob. */
    void (*config_default)(void *cfg);
    /* Sets `key` (one of settings, without the namespace).  0; -EINVAL
     * with a message that does not repeat the key ("'0' is not a number in
     * 1..256": config.c puts the name the user wrote in front); -ENOENT
     * for a key it does not know. */
    int (*config_set)(void *cfg, const char *key, const char *value, char *err, size_t errlen);
    /* Once every source is read: derives what depends on the daemon's
     * settings (a queue count from the cores).  0, or -EINVAL + message. */
    int (*config_finalize)(void *cfg, const struct sc_config *c, char *err, size_t errlen);

    /* ---- devices ---- */
    /* The bus class serving backend/<type> (one of types) over `pool`,
     * configured by the module's blob; it and the pool outlive every
     * device.  NULL + errno.  Required. */
    const struct sc_device_class *(*device_class)(const char *type, struct sc_pool *pool,
                                                  const void *cfg);
    /* Calls fn for each running queue of dev with the core serving it,
     * stopping at and returning the first non-zero result.  Required: the
     * daemon finds a failed queue's device through it. */
    int (*foreach_queue)(struct sc_device *dev, sc_queue_visit_fn *fn, void *arg);
    /* Optional: the class's own view of a device (an object; a string
     * member "summary" is what `sidecorectl devices` shows in its table),
     * or NULL for nothing to show.  Under the "class" key of the devices
     * method's answer. */
    json_t *(*describe)(struct sc_device *dev);

    /* ---- control and periodic work (optional) ---- */
    /* Control socket methods, {NULL}-terminated, beside the daemon's own
     * (a clash of names stops the daemon).  Their ctx is the daemon: use
     * sc_class_ctx_of(ctx, &module) for the module's context. */
    const struct sc_ctl_method *methods;
    /* Every tick_ms (rounded to the daemon's timer: the shortest period of
     * all modules), tick runs for each device of the class that is
     * Connected (not failed, connect done). */
    unsigned tick_ms;
    void (*tick)(struct sc_class_ctx *cc, struct sc_device *dev);
};

/* What the daemon keeps per module.  Written by the daemon (control thread)
 * while it opens; read-only for the module afterwards. */
struct sc_class_ctx {
    const struct sc_class_module *module;
    const void *config;       /* the module's settings (finalized blob) */
    struct sc_xenbus *bus;
    struct sc_pool *pool;
    unsigned nclasses;        /* bus classes registered for this module */
    const struct sc_device_class *classes[SC_CONFIG_MAX_TYPES];
    /* the tick (daemon's): runs every tick_every timer rounds */
    unsigned tick_every, tick_countdown;
    uint64_t ticks;           /* tick rounds run */
};

/* The context of module m inside the daemon whose control methods got
 * `ctl_ctx`; NULL if the daemon does not run m. */
struct sc_class_ctx *sc_class_ctx_of(void *ctl_ctx, const struct sc_class_module *m);

/* Reserves `cost` bytes of the pool's memory budget (membudget.h) for
 * queue i of dev into r, before the queue is made; when it does not fit,
 * fails dev with the budget's reason (its xenstore error node and the
 * log).  0 or -ENOMEM. */
int sc_class_reserve_queue(struct sc_device *dev, struct sc_pool *pool, unsigned i,
                           uint64_t cost, struct sc_mem_resv *r);

/* dev belongs to one of cc's bus classes. */
bool sc_class_owns(const struct sc_class_ctx *cc, const struct sc_device *dev);
/* Calls fn for each device of cc's classes (as sc_xenbus_foreach_device). */
int sc_class_foreach_device(struct sc_class_ctx *cc, int (*fn)(struct sc_device *dev, void *arg),
                            void *arg);
/* A device of cc's classes named by a control request's `ref`: its id (an
 * integer), "<type>/<domid>/<devid>", "<type> <domid>/<devid>" (its log
 * name) or "<domid>/<devid>" (the first of cc's types that has it).  NULL
 * (errno ENOENT, or EINVAL for a malformed ref). */
struct sc_device *sc_class_find_device(struct sc_class_ctx *cc, json_t *ref);

#endif
