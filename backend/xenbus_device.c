/*
 * xenbus_device.c - one device's lifecycle: reading and validating the
 * toolstack's keys, the XenbusState switch over the frontend's state, the
 * toolstack's unplug, failure (the error node) and removal.
 *
 * Keys (r = read, w = written; "req" fatal when missing or malformed once
 * the device is probed, "opt" has a default):
 *   <backend>/state           r w  ours; the toolstack writes 1 at creation
 *                                  and 5 on detach (with online=0)
 *   <backend>/frontend        r    req: /local/domain/<frontend-id>/...
 *   <backend>/frontend-id     r    req: must match the directory's <fe>
 *   <backend>/online          r    opt (0): keep the device after Closed
 *   <backend>/script          r    opt: present -> wait for hotplug-status
 *   <backend>/hotplug-status  r    opt: "connected" / "error"
 *   <frontend>/state          r    the frontend's XenbusState (hostile)
 *   <home>/error/backend/<type>/<fe>/<devid>/error  w  "<errno> <text>"
 */
#include "xenbus_int.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xen/io/xs_wire.h>

#include "clock.h"
#include "log.h"

#define FRONTEND_PATH_MAX 512

const char *sc_xenbus_state_str(XenbusState s)
{
    switch (s) {
    case XenbusStateUnknown: return "Unknown";
    case XenbusStateInitialising: return "Initialising";
    case XenbusStateInitWait: return "InitWait";
    case XenbusStateInitialised: return "Initialised";
    case XenbusStateConnected: return "Connected";
    case XenbusStateClosing: return "Closing";
    case XenbusStateClosed: return "Closed";
    case XenbusStateReconfiguring: return "Reconfiguring";
    case XenbusStateReconfigured: return "Reconfigured";
    }
    return "invalid";
}

/* ---- creation and removal ---- */

struct sc_device *xb_device_new(struct sc_xenbus *bus, unsigned class_idx, const char *path,
                                domid_t frontend_id, uint32_t devid, XenbusState state)
{
    struct sc_device *dev = calloc(1, sizeof(*dev));
    if (!dev)
        return NULL;
    dev->backend_path = strdup(path);
    if (!dev->backend_path) {
        free(dev);
        errno = ENOMEM;
        return NULL;
    }
    dev->cls = bus->classes[class_idx];
    dev->bus = bus;
    dev->id = ++bus->next_id;
    dev->frontend_id = frontend_id;
    dev->devid = devid;
    dev->state = state;
    dev->frontend_state = XenbusStateUnknown;
    snprintf(dev->name, sizeof(dev->name), "%s %u/%u", dev->cls->type, frontend_id, devid);

    struct sc_device **tail = &bus->devices;
    while (*tail)
        tail = &(*tail)->next;
    *tail = dev;
    sc_log(SC_LOG_DEBUG, dev->name, "found %s (state %s)", path, sc_xenbus_state_str(state));
    return dev;
}

void xb_device_free(struct sc_device *dev)
{
    free(dev->backend_path);
    free(dev->frontend_path);
    free(dev);
}

static void frontend_token(const struct sc_device *dev, char *buf, size_t len)
{
    snprintf(buf, len, XB_TOKEN_FRONTEND "%llu", (unsigned long long)dev->id);
}

static void unwatch_frontend(struct sc_device *dev)
{
    if (!dev->frontend_watched)
        return;
    char token[48], *path;
    frontend_token(dev, token, sizeof(token));
    if (asprintf(&path, "%s/state", dev->frontend_path) >= 0) {
        xs_unwatch(dev->bus->xs, path, token);
        free(path);
    }
    for (const char *const *k = dev->cls->frontend_keys; k && *k; k++) {
        if (asprintf(&path, "%s/%s", dev->frontend_path, *k) >= 0) {
            xs_unwatch(dev->bus->xs, path, token);
            free(path);
        }
    }
    dev->frontend_watched = false;
}

/* The state node and the class's frontend keys, under one token. */
static bool watch_frontend(struct sc_device *dev)
{
    char token[48], path[FRONTEND_PATH_MAX + 64];
    frontend_token(dev, token, sizeof(token));
    snprintf(path, sizeof(path), "%s/state", dev->frontend_path);
    if (!xs_watch(dev->bus->xs, path, token)) {
        sc_xenbus_device_fail(dev, errno ? -errno : -EIO, "watching %s", path);
        return false;
    }
    dev->frontend_watched = true;
    for (const char *const *k = dev->cls->frontend_keys; k && *k; k++) {
        snprintf(path, sizeof(path), "%s/%s", dev->frontend_path, *k);
        if (!xs_watch(dev->bus->xs, path, token)) {
            sc_xenbus_device_fail(dev, errno ? -errno : -EIO, "watching %s", path);
            return false;
        }
    }
    return true;
}

/* ---- class callbacks ---- */

static void close_failed(struct sc_device *dev);

/* Runs what a failure inside a callback left for after it. */
static void settle(struct sc_device *dev)
{
    if (dev->close_pending && !dev->in_callback && !dev->removed) {
        dev->close_pending = false;
        close_failed(dev);
    }
}

static int call_probe(struct sc_device *dev)
{
    dev->in_callback++;
    int rc = dev->cls->probe ? dev->cls->probe(dev) : 0;
    dev->in_callback--;
    if (rc < 0) {
        if (!dev->failed)
            xb_device_fail_msg(dev, rc, "probing the device");
        settle(dev);
        return rc;
    }
    dev->probed = true;
    settle(dev);
    return dev->failed ? -ECANCELED : 0;
}

static int call_connect(struct sc_device *dev)
{
    dev->connected = true; /* a partial connect is owed its disconnect too */
    dev->in_callback++;
    int rc = dev->cls->connect ? dev->cls->connect(dev) : 0;
    dev->in_callback--;
    if (rc < 0 && !dev->failed)
        xb_device_fail_msg(dev, rc, "connecting to the frontend");
    settle(dev);
    return rc < 0 ? rc : dev->failed ? -ECANCELED : 0;
}

/* Frontend Reconfiguring while connected (netif.h: xdp-headroom changed):
 * the class re-reads what may change; 0 or the -errno it failed with. */
static int call_reconfigure(struct sc_device *dev)
{
    dev->in_callback++;
    int rc = dev->cls->reconfigure(dev);
    dev->in_callback--;
    if (rc < 0 && !dev->failed)
        xb_device_fail_msg(dev, rc, "reconfiguring");
    settle(dev);
    return rc < 0 ? rc : dev->failed ? -ECANCELED : 0;
}

enum disconnect_result {
    DISCONNECT_DONE,    /* disconnected (or never connected) */
    DISCONNECT_FAILED,  /* done, but the class failed the device meanwhile */
    DISCONNECT_PENDING, /* the class drains; sc_xenbus_device_disconnected follows */
};

/* Disconnects if connected.  While a disconnect is pending, whatever needs
 * a disconnected device waits for it (sc_xenbus_device_disconnected then
 * resumes the device); nothing else on the bus waits. */
static enum disconnect_result call_disconnect(struct sc_device *dev)
{
    if (dev->disconnecting)
        return DISCONNECT_PENDING;
    if (!dev->connected)
        return DISCONNECT_DONE;
    dev->connected = false;
    bool was_failed = dev->failed;
    dev->in_callback++;
    if (dev->cls->disconnect)
        dev->cls->disconnect(dev);
    dev->in_callback--;
    dev->close_pending = false;
    if (dev->disconnecting) {
        dev->draining_since_ns = sc_clock_ns();
        dev->drain_reported = false;
        sc_log(SC_LOG_INFO, dev->name, "disconnecting: waiting for in-flight I/O to drain");
        return DISCONNECT_PENDING;
    }
    return dev->failed && !was_failed ? DISCONNECT_FAILED : DISCONNECT_DONE;
}

/* ---- state ---- */

struct state_txn {
    const char *dir;
    XenbusState expect; /* what we last wrote */
    XenbusState to;
    unsigned long long found;
};

static int state_txn(struct xs_handle *xs, xs_transaction_t t, void *arg)
{
    struct state_txn *s = arg;
    int rc = sc_xs_read_uint(xs, t, 255, &s->found, "%s/state", s->dir);
    if (rc == -ENOENT)
        return rc; /* the directory is going: do not resurrect it */
    if (rc == 0 && s->found != s->expect && s->to < XenbusStateClosing &&
        (s->found == XenbusStateClosing || s->found == XenbusStateClosed))
        return -ECANCELED; /* the toolstack is closing the device: it wins */
    return sc_xs_write_uint(xs, t, s->to, "%s/state", s->dir);
}

/* Writes our state (read-check-write in a transaction, retried on EAGAIN),
 * and logs the transition.  0, -ENOENT if the directory is gone (the state
 * is then only cached), -ECANCELED if the toolstack's Closing/Closed was
 * found instead (adopted), or -errno. */
static int switch_state(struct sc_device *dev, XenbusState to)
{
    if (dev->state == to)
        return 0;
    struct state_txn s = { .dir = dev->backend_path, .expect = dev->state, .to = to };
    int rc = sc_xs_transact(dev->bus->xs, state_txn, &s);
    XenbusState from = dev->state;
    if (rc == -ECANCELED) {
        dev->state = (XenbusState)s.found;
        sc_log(SC_LOG_INFO, dev->name, "%s -> %s (set by the toolstack; %s not written)",
               sc_xenbus_state_str(from), sc_xenbus_state_str(dev->state),
               sc_xenbus_state_str(to));
        return rc;
    }
    if (rc < 0 && rc != -ENOENT) {
        char msg[64];
        snprintf(msg, sizeof(msg), "writing state %s", sc_xenbus_state_str(to));
        sc_log(SC_LOG_ERR, dev->name, "%s: %s", msg, strerror(-rc));
        return rc;
    }
    dev->state = to;
    sc_log(SC_LOG_INFO, dev->name, "%s -> %s%s", sc_xenbus_state_str(from),
           sc_xenbus_state_str(to), rc == -ENOENT ? " (directory gone, not written)" : "");
    return rc;
}

/* Disconnect and Closing after a failure. */
static void close_failed(struct sc_device *dev)
{
    call_disconnect(dev);
    dev->hotplug_wait = false;
    switch_state(dev, XenbusStateClosing);
}

/* ---- failure ---- */

void xb_device_fail_msg(struct sc_device *dev, int err, const char *msg)
{
    if (dev->removed)
        return;
    int e = err < 0 ? -err : err;
    sc_log(SC_LOG_ERR, dev->name, "%s: %s", msg, strerror(e));

    /* Where Linux's xenbus_dev_error puts it: error/<nodename>/error under
     * our home, as "<errno> <text>". */
    char value[1024];
    snprintf(value, sizeof(value), "%d %s", e, msg);
    const char *rel = dev->backend_path + strlen(dev->bus->home) + 1;
    int rc = sc_xs_write_str(dev->bus->xs, XBT_NULL, value, "%s/error/%s/error", dev->bus->home,
                             rel);
    if (rc < 0)
        sc_log(SC_LOG_WARN, dev->name, "cannot write the error node: %s", strerror(-rc));

    dev->failed = true;
    dev->hotplug_wait = false;
    if (dev->in_callback) {
        dev->close_pending = true;
        return;
    }
    close_failed(dev);
}

void sc_xenbus_device_fail(struct sc_device *dev, int err, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    xb_device_fail_msg(dev, err, msg);
}

/* ---- removal ---- */

void xb_device_remove(struct sc_device *dev)
{
    if (dev->removed)
        return;
    if (call_disconnect(dev) == DISCONNECT_PENDING) {
        dev->remove_pending = true; /* finished by sc_xenbus_device_disconnected */
        return;
    }
    dev->remove_pending = false;
    if (dev->probed && dev->cls->remove) {
        dev->in_callback++;
        dev->cls->remove(dev);
        dev->in_callback--;
    }
    dev->probed = false;
    dev->close_pending = false;
    unwatch_frontend(dev);

    struct sc_xenbus *bus = dev->bus;
    for (struct sc_device **pp = &bus->devices; *pp; pp = &(*pp)->next) {
        if (*pp == dev) {
            *pp = dev->next;
            break;
        }
    }
    dev->removed = true;
    dev->next = bus->graveyard;
    bus->graveyard = dev;
    sc_log(SC_LOG_INFO, dev->name, "removed");
}

void xb_device_gone(struct sc_device *dev)
{
    sc_log(SC_LOG_INFO, dev->name, "backend directory removed");
    xb_device_remove(dev);
}

void xb_device_domain_gone(struct sc_device *dev)
{
    sc_log(SC_LOG_INFO, dev->name, "frontend domain %u is gone", dev->frontend_id);
    dev->frontend_state = XenbusStateUnknown;
    if (call_disconnect(dev) == DISCONNECT_PENDING) {
        dev->remove_pending = true; /* Closed is written when the I/O is drained */
        return;
    }
    switch_state(dev, XenbusStateClosed);
    xb_device_remove(dev);
}

/* ---- toolstack keys ---- */

static bool read_online(struct sc_device *dev)
{
    unsigned long long v;
    int rc = sc_xs_read_uint(dev->bus->xs, XBT_NULL, 1, &v, "%s/online", dev->backend_path);
    if (rc == -EINVAL)
        sc_log(SC_LOG_WARN, dev->name, "malformed online, taken as 0");
    dev->online = rc == 0 && v == 1;
    return dev->online;
}

/* The frontend must live in the frontend's own domain: a path into another
 * domain would let the toolstack's mistake (or a forged key) point us at a
 * third party's rings. */
static bool frontend_path_valid(const char *p, domid_t frontend_id)
{
    char prefix[32];
    int n = snprintf(prefix, sizeof(prefix), "/local/domain/%u/", frontend_id);
    size_t len = strlen(p);
    if (len <= (size_t)n || len > FRONTEND_PATH_MAX || strncmp(p, prefix, (size_t)n) != 0)
        return false;
    for (const char *c = p + n; *c; c++) {
        bool ok = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
                  (*c >= '0' && *c <= '9') || *c == '-' || *c == '_' || *c == '/';
        if (!ok || (*c == '/' && (c[1] == '/' || c[1] == '\0')))
            return false;
    }
    return true;
}

/* Reads <frontend>/state: 0 with *out (Unknown if absent), -EINVAL for a
 * malformed value, or -errno. */
static int read_frontend_state(struct sc_device *dev, XenbusState *out)
{
    unsigned long long v;
    int rc = sc_xs_read_uint(dev->bus->xs, XBT_NULL, 255, &v, "%s/state", dev->frontend_path);
    if (rc == -ENOENT) {
        *out = XenbusStateUnknown;
        return 0;
    }
    if (rc == 0)
        *out = (XenbusState)v;
    return rc;
}

/* Waits for the hotplug script the toolstack configured: true if connect
 * may go ahead; false to wait (or the device failed). */
static bool hotplug_ready(struct sc_device *dev)
{
    struct xs_handle *xs = dev->bus->xs;
    char *script = sc_xs_read_str(xs, XBT_NULL, "%s/script", dev->backend_path);
    if (!script) {
        if (errno == ENOENT)
            return true; /* no script configured */
        xb_device_fail_msg(dev, -errno, "reading script");
        return false;
    }
    free(script);

    char *status = sc_xs_read_str(xs, XBT_NULL, "%s/hotplug-status", dev->backend_path);
    int err = errno;
    bool connected = status && strcmp(status, "connected") == 0;
    bool error = status && strcmp(status, "error") == 0;
    free(status);
    if (connected) {
        dev->hotplug_wait = false;
        return true;
    }
    if (error) {
        xb_device_fail_msg(dev, -EIO, "hotplug script failed (its hotplug-error beside "
                                          "hotplug-status says why; xl prints it)");
        return false;
    }
    if (!status && err != ENOENT) {
        xb_device_fail_msg(dev, -err, "reading hotplug-status");
        return false;
    }
    if (!dev->hotplug_wait)
        sc_log(SC_LOG_INFO, dev->name, "waiting for the hotplug script");
    dev->hotplug_wait = true;
    return false;
}

/* ---- the state machine ---- */

/* GCRA over the device's connects (xenbus.h: SC_XENBUS_CONNECT_*): a
 * connect now conforms while the theoretical arrival time is at most a
 * burst's worth of intervals ahead. */
static bool connect_conforms(const struct sc_device *dev, uint64_t now)
{
    return dev->connect_tat_ns <=
           now + (SC_XENBUS_CONNECT_BURST - 1) * SC_XENBUS_CONNECT_INTERVAL_NS;
}

static bool connect_allowed(struct sc_device *dev)
{
    uint64_t now = sc_clock_ns();
    if (!connect_conforms(dev, now)) {
        if (!dev->flap_reported)
            sc_log(SC_LOG_WARN, dev->name,
                   "frontend connects too often (more than %u in a row, faster than one per "
                   "%llu ms): its connects are held back",
                   SC_XENBUS_CONNECT_BURST,
                   (unsigned long long)(SC_XENBUS_CONNECT_INTERVAL_NS / 1000000u));
        dev->flap_reported = true;
        dev->connect_held = true;
        return false;
    }
    if (dev->connect_tat_ns <= now)
        dev->flap_reported = false; /* the bucket refilled: a new burst is news */
    uint64_t tat = dev->connect_tat_ns > now ? dev->connect_tat_ns : now;
    dev->connect_tat_ns = tat + SC_XENBUS_CONNECT_INTERVAL_NS;
    dev->connect_held = false;
    return true;
}

bool xb_device_connect_due(const struct sc_device *dev)
{
    return dev->connect_held && connect_conforms(dev, sc_clock_ns());
}

static void frontend_changed(struct sc_device *dev, XenbusState fs)
{
    if (fs != XenbusStateInitialised && fs != XenbusStateConnected)
        dev->connect_held = false; /* no connect to come back for */
    switch (fs) {
    case XenbusStateInitialising:
        if (dev->state == XenbusStateClosed) {
            sc_log(SC_LOG_INFO, dev->name, "frontend reinitialising: prepare for reconnect");
            dev->failed = false;
            switch_state(dev, XenbusStateInitWait);
        }
        break;

    case XenbusStateInitialised:
    case XenbusStateConnected:
        /* Back from a reconfiguration: connected all along. */
        if (fs == XenbusStateConnected && dev->state == XenbusStateReconfigured &&
            dev->connected && !dev->failed) {
            switch_state(dev, XenbusStateConnected);
            break;
        }
        /* Two quick frontend writes may reach us as one value: connect on
         * either, once (and again after a daemon restart: !connected). */
        if (dev->state == XenbusStateConnected && dev->connected)
            break;
        if (dev->state == XenbusStateClosed)
            dev->failed = false; /* reconnect whose Initialising we missed */
        if (dev->failed || dev->state == XenbusStateClosing)
            break; /* the frontend must close first */
        if (!hotplug_ready(dev))
            break;
        if (!connect_allowed(dev))
            break; /* sc_xenbus_tick() comes back for it */
        enum disconnect_result left = call_disconnect(dev); /* of an earlier connect */
        if (left == DISCONNECT_PENDING)
            break; /* resumed when drained */
        if (left == DISCONNECT_FAILED) {
            close_failed(dev);
            break;
        }
        if (call_connect(dev) < 0)
            break;
        if (dev->state == XenbusStateConnected)
            sc_log(SC_LOG_INFO, dev->name, "reattached to a connected frontend");
        switch_state(dev, XenbusStateConnected);
        break;

    case XenbusStateClosing:
        switch_state(dev, XenbusStateClosing);
        break;

    case XenbusStateClosed:
        /* Closed promises the frontend that we no longer touch its ring
         * or pages: only once every request in flight has completed. */
        if (call_disconnect(dev) == DISCONNECT_PENDING) {
            switch_state(dev, XenbusStateClosing); /* on the way, draining */
            break;
        }
        switch_state(dev, XenbusStateClosed);
        if (read_online(dev))
            break;
        /* offline: unplugged, remove as for a vanished frontend */
        __attribute__((fallthrough));
    case XenbusStateUnknown:
        if (call_disconnect(dev) == DISCONNECT_PENDING) {
            switch_state(dev, XenbusStateClosing);
            break;
        }
        switch_state(dev, XenbusStateClosed);
        xb_device_remove(dev);
        break;

    case XenbusStateReconfiguring:
        if (dev->cls->reconfigure && dev->connected && !dev->failed &&
            (dev->state == XenbusStateConnected || dev->state == XenbusStateReconfigured)) {
            if (dev->state == XenbusStateReconfigured)
                break; /* answered already */
            if (call_reconfigure(dev) == 0)
                switch_state(dev, XenbusStateReconfigured);
            break;
        }
        sc_xenbus_device_fail(dev, -EINVAL, "frontend Reconfiguring %s",
                              dev->cls->reconfigure ? "while not connected"
                                                    : "a device that cannot be reconfigured");
        break;

    default:
        sc_xenbus_device_fail(dev, -EINVAL, "saw state %d at frontend", (int)fs);
        break;
    }
}

void xb_device_frontend_event(struct sc_device *dev)
{
    if (dev->removed || dev->remove_pending)
        return;
    if (!dev->probed) {
        if (!dev->failed)
            xb_device_try_probe(dev);
        return;
    }
    XenbusState fs;
    int rc = read_frontend_state(dev, &fs);
    if (rc == -EINVAL) {
        sc_xenbus_device_fail(dev, rc, "malformed state at frontend %s", dev->frontend_path);
        return;
    }
    if (rc < 0) {
        sc_xenbus_device_fail(dev, rc, "reading %s/state", dev->frontend_path);
        return;
    }
    if (fs != dev->frontend_state)
        sc_log(SC_LOG_DEBUG, dev->name, "frontend %s -> %s",
               sc_xenbus_state_str(dev->frontend_state), sc_xenbus_state_str(fs));
    dev->frontend_state = fs;
    frontend_changed(dev, fs);
}

void xb_device_try_probe(struct sc_device *dev)
{
    struct xs_handle *xs = dev->bus->xs;
    const char *bp = dev->backend_path;
    unsigned long long v;

    if (dev->removed || dev->probed || dev->failed)
        return;
    int rc = sc_xs_read_uint(xs, XBT_NULL, 255, &v, "%s/state", bp);
    if (rc == -ENOENT)
        return; /* the toolstack has not written it yet */
    if (rc < 0) {
        sc_xenbus_device_fail(dev, rc, "reading state");
        return;
    }
    dev->state = (XenbusState)v;

    rc = sc_xs_read_uint(xs, XBT_NULL, DOMID_FIRST_RESERVED - 1, &v, "%s/frontend-id", bp);
    if (rc == -ENOENT)
        return;
    if (rc < 0) {
        sc_xenbus_device_fail(dev, rc, "reading frontend-id");
        return;
    }
    if (v != dev->frontend_id) {
        sc_xenbus_device_fail(dev, -EINVAL, "frontend-id %llu does not match the directory's %u",
                              v, dev->frontend_id);
        return;
    }

    char *fe = sc_xs_read_str(xs, XBT_NULL, "%s/frontend", bp);
    if (!fe) {
        if (errno != ENOENT)
            sc_xenbus_device_fail(dev, -errno, "reading frontend");
        return;
    }
    if (!frontend_path_valid(fe, dev->frontend_id)) {
        sc_xenbus_device_fail(dev, -EINVAL, "frontend \"%.80s\" is not in domain %u", fe,
                              dev->frontend_id);
        free(fe);
        return;
    }
    if (dev->frontend_path && strcmp(dev->frontend_path, fe) != 0)
        unwatch_frontend(dev); /* rewritten while we waited */
    free(dev->frontend_path);
    dev->frontend_path = fe;

    if (!dev->frontend_watched && !watch_frontend(dev))
        return;
    /* The frontend directory comes in the toolstack's transaction too; if
     * it is late, its watch brings us back here. */
    rc = sc_xs_read_uint(xs, XBT_NULL, 255, &v, "%s/state", fe);
    if (rc == -ENOENT)
        return;
    if (rc < 0 && rc != -EINVAL) {
        sc_xenbus_device_fail(dev, rc, "reading %s/state", fe);
        return;
    }
    read_online(dev);

    if (call_probe(dev) < 0)
        return;
    sc_log(SC_LOG_INFO, dev->name, "probed: frontend %s, state %s", fe,
           sc_xenbus_state_str(dev->state));
    if (dev->state == XenbusStateInitialising || dev->state == XenbusStateUnknown)
        switch_state(dev, XenbusStateInitWait);
    /* Act on where the frontend is now (on a restart it may be Connected). */
    xb_device_frontend_event(dev);
}

/* ---- the backend directory ---- */

/* The toolstack wrote our state node or online: libxl detaches with
 * online=0 and state=Closing in one transaction (its events reach us one by
 * one, so either may come first).  Adopt its Closing; if the frontend will
 * not move on its own (already Closed, gone, or never watched because the
 * device failed early), finish the close now: libxl waits for Closed. */
static void toolstack_changed(struct sc_device *dev)
{
    unsigned long long v;
    int rc = sc_xs_read_uint(dev->bus->xs, XBT_NULL, 255, &v, "%s/state", dev->backend_path);
    if (rc == -ENOENT) {
        if (!xb_node_exists(dev->bus, dev->backend_path))
            xb_device_gone(dev);
        return;
    }
    if (rc < 0) {
        sc_log(SC_LOG_WARN, dev->name, "unreadable state: %s", strerror(-rc));
        return;
    }
    if (!dev->probed && !dev->failed) {
        xb_device_try_probe(dev);
        return;
    }
    bool adopted = false;
    if ((XenbusState)v != dev->state) {
        if (v == XenbusStateClosing || v == XenbusStateClosed) {
            sc_log(SC_LOG_INFO, dev->name, "%s -> %s (set by the toolstack)",
                   sc_xenbus_state_str(dev->state), sc_xenbus_state_str((XenbusState)v));
            dev->state = (XenbusState)v;
            adopted = true;
        } else {
            sc_log(SC_LOG_WARN, dev->name, "ignoring state %s written by another party",
                   sc_xenbus_state_str((XenbusState)v));
        }
    }
    bool was_online = dev->online;
    read_online(dev);
    if (!adopted && (dev->online || !was_online))
        return; /* our own write, or nothing that changes the course */
    if (dev->state != XenbusStateClosing && dev->state != XenbusStateClosed)
        return;
    if (!dev->probed) { /* failed early: nothing to wait for */
        if (!dev->online) {
            switch_state(dev, XenbusStateClosed);
            xb_device_remove(dev);
        }
        return;
    }
    if (dev->frontend_state == XenbusStateClosed || dev->frontend_state == XenbusStateUnknown)
        frontend_changed(dev, dev->frontend_state);
}

void xb_device_backend_event(struct sc_device *dev, const char *key)
{
    if (dev->removed || dev->remove_pending)
        return;
    if (*key == '\0') {
        if (!xb_node_exists(dev->bus, dev->backend_path))
            xb_device_gone(dev);
        else if (!dev->probed && !dev->failed)
            xb_device_try_probe(dev);
        return;
    }
    if (strcmp(key, "state") == 0 || strcmp(key, "online") == 0) {
        toolstack_changed(dev);
        return;
    }
    if (!dev->probed) {
        if (!dev->failed)
            xb_device_try_probe(dev);
        return;
    }
    if (strcmp(key, "hotplug-status") == 0 || strcmp(key, "script") == 0) {
        if (dev->hotplug_wait)
            frontend_changed(dev, dev->frontend_state);
        return;
    }
    if (!dev->cls->backend_keys || !dev->cls->backend_changed)
        return;
    for (const char *const *k = dev->cls->backend_keys; *k; k++) {
        if (strcmp(*k, key) == 0) {
            dev->in_callback++;
            dev->cls->backend_changed(dev, key);
            dev->in_callback--;
            settle(dev);
            return;
        }
    }
}

/* ---- disconnects that complete later ---- */

void sc_xenbus_device_disconnect_pending(struct sc_device *dev)
{
    dev->disconnecting = true;
}

void sc_xenbus_device_disconnected(struct sc_device *dev)
{
    if (!dev->disconnecting || !dev->bus)
        return;
    dev->disconnecting = false;
    struct sc_xenbus *bus = dev->bus;
    xb_enter(bus);
    sc_log(SC_LOG_INFO, dev->name, "disconnected (in-flight I/O drained)");
    if (dev->remove_pending) {
        if (dev->frontend_state == XenbusStateUnknown)
            switch_state(dev, XenbusStateClosed); /* its domain died meanwhile */
        xb_device_remove(dev);
        xb_rediscover(bus, dev); /* still readable: freed at xb_leave */
    } else if (!dev->removed && dev->probed) {
        /* wherever the frontend has gone meanwhile */
        frontend_changed(dev, dev->frontend_state);
    }
    xb_leave(bus);
}

void xb_device_key_event(struct sc_device *dev, const char *key)
{
    if (dev->removed || dev->remove_pending || !dev->probed || !dev->cls->frontend_changed)
        return;
    dev->in_callback++;
    dev->cls->frontend_changed(dev, key);
    dev->in_callback--;
    settle(dev);
}
