/*
 * xenbus.h - device discovery and the XenBus state machine, generic over
 * device classes (one per backend directory type): nothing device-specific here.
 *
 * Contract: a `struct sc_xenbus` watches /local/domain/<us>/backend/<type>
 * for every registered class, creates a `struct sc_device` for each backend
 * directory the toolstack writes, follows the frontend's `state` node and
 * drives the class through probe -> connect -> disconnect -> remove as the
 * XenbusState handshake goes (see xenbus.c for the switch).  It owns the
 * devices; a class owns only what it hangs on dev->priv.
 *
 * Threads: everything here runs on the control thread, the one that polls
 * sc_xenbus_fd() and calls sc_xenbus_dispatch().  Class callbacks run on it
 * too, from inside sc_xenbus_register/dispatch/destroy or the fail calls.
 * A sidecore whose queue breaks sends the device id to the control thread,
 * which calls sc_xenbus_fail_device_id().
 *
 * Returns: 0 (or a count) on success, negative errno on failure; pointer
 * returners give NULL and set errno.  Nothing here blocks except xenstore
 * round trips.
 *
 * Restart: sc_xenbus_register() adopts the directories that already exist.
 * A device whose backend state is Connected gets probe + connect again
 * (the class re-maps the rings from the frontend's keys, which are still in
 * xenstore); the frontend sees no state change.  Directories left Closed
 * with online=0 are on their way out and are not adopted.
 */
#ifndef SC_XENBUS_H
#define SC_XENBUS_H

#include <stdbool.h>
#include <stdint.h>
#include <xen/xen.h>
#include <xen/io/xenbus.h>
#include <xenstore.h>

#include "xen.h"

struct sc_xenbus;
struct sc_device;

/* A device class.  The bus calls, per device, in this order:
 *   probe                 once, when the backend directory is complete;
 *   connect / disconnect  in pairs, any number of times (the frontend may
 *                         reconnect after Closed);
 *   remove                once, after the last disconnect, if probe
 *                         succeeded.
 * A callback may call sc_xenbus_device_fail() on its own device; the bus
 * then closes the device when the callback returns. */
struct sc_device_class {
    /* the backend directory type: watched under backend/<type>/ */
    const char *type;
    /* Backend-directory keys (toolstack-written) the class wants
     * backend_changed() for, NULL-terminated; NULL for none.  Any other key
     * under the backend directory (ours included) is ignored cheaply. */
    const char *const *backend_keys;
    /* The backend directory appeared: read toolstack keys, write our
     * feature keys, set dev->priv.  0 or -errno; on failure the class has
     * undone its own work and the device fails (error node, Closing). */
    int (*probe)(struct sc_device *dev);
    /* The frontend is Initialised or Connected: read its keys (hostile:
     * strict parsers), map rings, start queues, write connect-time keys.
     * 0 or -errno (the device then fails; disconnect follows). */
    int (*connect)(struct sc_device *dev);
    /* Stop queues, unmap rings.  Called once after each connect, whether
     * that connect succeeded or not, so it must undo a partial connect.
     * A class whose queues still drain (I/O in flight) may call
     * sc_xenbus_device_disconnect_pending(dev) before returning and
     * sc_xenbus_device_disconnected(dev) once done: meanwhile the bus
     * holds what needs a disconnected device (Closed, a new connect,
     * remove) for this device only; every other device goes on. */
    void (*disconnect)(struct sc_device *dev);
    /* Free what probe set up (dev->priv).  Optional if probe allocates
     * nothing. */
    void (*remove)(struct sc_device *dev);
    /* Optional: a key listed in backend_keys changed (after probe). */
    void (*backend_changed)(struct sc_device *dev, const char *key);
    /* Frontend-directory keys (besides state) the class wants
     * frontend_changed() for while the device is probed (e.g. a live
     * multicast-control flag), NULL-terminated; NULL for none.  Watched
     * from probe to remove; the first event after the watch is set up
     * comes too (xenstore fires a new watch once). */
    const char *const *frontend_keys;
    void (*frontend_changed)(struct sc_device *dev, const char *key);
    /* Optional: the connected frontend says Reconfiguring (netif.h: it
     * changed xdp-headroom): re-read what may change; 0 and the bus
     * answers Reconfigured, then Connected when the frontend is again;
     * -errno fails the device.  Without it, Reconfiguring fails the
     * device. */
    int (*reconfigure)(struct sc_device *dev);
};

/* One backend directory, backend/<type>/<frontend_id>/<devid>.  Fields up
 * to `priv` are written by the bus (control thread) and read by anyone on
 * it; priv belongs to the class. */
struct sc_device {
    const struct sc_device_class *cls;
    struct sc_xenbus *bus;
    uint64_t id;                /* unique for the bus's life, never reused */
    domid_t frontend_id;        /* from the path; checked against frontend-id */
    uint32_t devid;
    char name[48];              /* "<type> 5/51712": the log context */
    char *backend_path;         /* /local/domain/<us>/backend/<type>/<fe>/<devid> */
    char *frontend_path;        /* validated: /local/domain/<frontend_id>/...;
                                   NULL until read */
    XenbusState state;          /* ours, as last written (or found) in xenstore */
    XenbusState frontend_state; /* as last read from <frontend>/state */
    bool online;                /* the toolstack's "online", as last read */
    void *priv;

    /* ---- the bus's own bookkeeping ---- */
    struct sc_device *next;
    bool probed;                /* probe succeeded: remove is owed */
    bool connected;             /* connect was called: disconnect is owed */
    bool failed;                /* failed since the last InitWait */
    bool frontend_watched;
    bool hotplug_wait;          /* connect held back for hotplug-status */
    bool removed;               /* unlinked, freed when the bus is idle */
    bool disconnecting;         /* the class drains: waiting for _disconnected */
    bool drain_reported;        /* a long drain was logged once */
    uint64_t draining_since_ns; /* CLOCK_MONOTONIC, while disconnecting */
    bool remove_pending;        /* remove once the disconnect completes */
    int in_callback;            /* >0 while a class callback runs */
    bool close_pending;         /* failed inside a callback: close after it */
    uint64_t connect_tat_ns;    /* connect rate limit (GCRA): theoretical arrival */
    bool connect_held;          /* a connect waits for the rate limit */
    bool flap_reported;         /* ... logged once per burst of flapping */
};

/* Name of a state for logs and tools: "InitWait", ...; "invalid" if out of
 * range. */
const char *sc_xenbus_state_str(XenbusState s);

/* A bus over `xs`, which stays the caller's (closed after
 * sc_xenbus_destroy) and must not be used for watches elsewhere.  Watches
 * @releaseDomain.  NULL + errno. */
struct sc_xenbus *sc_xenbus_create(struct sc_xen *x, struct xs_handle *xs);
/* Disconnects and removes every device (calling the class), drops the
 * watches; devices still draining are abandoned (logged, not freed).  xenstore is left as it is, so a restarted daemon adopts the
 * devices again. */
void sc_xenbus_destroy(struct sc_xenbus *bus);

/* Watches backend/<cls->type> and adopts the directories already there.
 * `cls` must outlive the bus.  0, -EEXIST for a type already registered,
 * -ENOSPC past SC_XENBUS_MAX_CLASSES, or -errno of xenstore. */
#define SC_XENBUS_MAX_CLASSES 8
int sc_xenbus_register(struct sc_xenbus *bus, const struct sc_device_class *cls);

/* Readable (POLLIN) when watch events wait for sc_xenbus_dispatch(). */
int sc_xenbus_fd(struct sc_xenbus *bus);
/* Handles the watch events pending now (at most SC_XENBUS_DISPATCH_MAX, so
 * the control loop stays responsive; the fd stays readable if more wait).
 * Never waits for an event.  Returns the number handled, or -errno if the
 * xenstore connection broke. */
#define SC_XENBUS_DISPATCH_MAX 256
int sc_xenbus_dispatch(struct sc_xenbus *bus);
/* A frontend that connects again and again (a flapping state) makes the
 * control thread map rings and open stores each time: connects of one
 * device beyond a burst of SC_XENBUS_CONNECT_BURST are held back to one
 * per SC_XENBUS_CONNECT_INTERVAL_NS, logged once.  sc_xenbus_tick() (the
 * control loop, twice a second) lets a held connect go when it may. */
#define SC_XENBUS_CONNECT_BURST       5u
#define SC_XENBUS_CONNECT_INTERVAL_NS 500000000ull
void sc_xenbus_tick(struct sc_xenbus *bus);

/* One round trip to xenstored: 0, or -errno when the connection is gone
 * (xenstored died or closed it: libxenstore's watch fd does not say so).
 * The control loop asks twice a second. */
int sc_xenbus_ping(struct sc_xenbus *bus);

/* Fails a device as Linux's xenbus_dev_fatal does: logs with the device
 * name, writes "<errno> <message>" to the node
 * /local/domain/<us>/error/backend/<type>/<fe>/<devid>/error, disconnects
 * and switches to Closing.  `err` is a negative errno.  Called inside one
 * of the device's callbacks, the disconnect and Closing happen when the
 * callback returns. */
void sc_xenbus_device_fail(struct sc_device *dev, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The same by id, for the control thread acting on a sidecore's report of
 * a failed queue: 0, or -ENOENT if the device is gone. */
int sc_xenbus_fail_device_id(struct sc_xenbus *bus, uint64_t id, int err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* From inside the class's disconnect(): the disconnect goes on in the
 * background (queues draining); the class calls
 * sc_xenbus_device_disconnected(dev) on the control thread when done.
 * The bus then resumes the device where the frontend and the toolstack
 * have led it meanwhile (Closed, reconnect, or removal). */
void sc_xenbus_device_disconnect_pending(struct sc_device *dev);
/* A no-op unless a disconnect is pending, so a class may call it at the
 * end of every disconnect, however that one ended. */
void sc_xenbus_device_disconnected(struct sc_device *dev);
/* Disconnects and removes every device; those still draining finish
 * when their class calls sc_xenbus_device_disconnected. */
void sc_xenbus_remove_all(struct sc_xenbus *bus);
/* Devices whose disconnect is still pending (for a bounded shutdown). */
unsigned sc_xenbus_pending_disconnects(struct sc_xenbus *bus);

/* Calls fn for each device, in discovery order, stopping at the first
 * non-zero return, which is returned (0 if all returned 0).  fn must not
 * fail or remove devices (take the id and call sc_xenbus_fail_device_id
 * after). */
int sc_xenbus_foreach_device(struct sc_xenbus *bus, int (*fn)(struct sc_device *dev, void *arg),
                             void *arg);
/* The device backend/<type>/<frontend_id>/<devid>, or NULL (errno ENOENT). */
struct sc_device *sc_xenbus_find_device(struct sc_xenbus *bus, const char *type,
                                        domid_t frontend_id, uint32_t devid);

/* For classes: the bus's xenstore connection and platform. */
struct xs_handle *sc_xenbus_xs(const struct sc_xenbus *bus);
struct sc_xen *sc_xenbus_xen(const struct sc_xenbus *bus);

#endif
