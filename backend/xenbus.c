/*
 * xenbus.c - the bus: watches, routing of watch events, discovery of
 * backend directories (new ones and, at registration, existing ones), the
 * frontend domains' deaths, and the public entry points.  The per-device
 * state machine is in xenbus_device.c.
 *
 * Watches on the bus's xenstore handle:
 *   <home>/backend/<type>   one per class: directories come and go, the
 *                           toolstack writes state/online/hotplug-status
 *   <frontend>/state        one per device (token carries the device id)
 *   @releaseDomain          a domain died: check our frontends
 * Removal only unlinks a device; it is freed when the outermost entry point
 * returns, so no caller is left holding a freed pointer.
 */
#include "xenbus_int.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xen/io/xs_wire.h>

#include "log.h"

/* ---- helpers ---- */

bool xb_node_exists(struct sc_xenbus *bus, const char *path)
{
    char *v = sc_xs_read_str(bus->xs, XBT_NULL, "%s", path);
    if (v) {
        free(v);
        return true;
    }
    return errno != ENOENT;
}

void xb_enter(struct sc_xenbus *bus)
{
    bus->depth++;
}

/* Frees removed devices once no caller up the stack can hold them. */
void xb_leave(struct sc_xenbus *bus)
{
    if (--bus->depth > 0)
        return;
    while (bus->graveyard) {
        struct sc_device *dev = bus->graveyard;
        bus->graveyard = dev->next;
        xb_device_free(dev);
    }
}

static struct sc_device *find_by_path(struct sc_xenbus *bus, const char *path)
{
    for (struct sc_device *d = bus->devices; d; d = d->next)
        if (strcmp(d->backend_path, path) == 0)
            return d;
    return NULL;
}

static struct sc_device *find_by_id(struct sc_xenbus *bus, uint64_t id)
{
    for (struct sc_device *d = bus->devices; d; d = d->next)
        if (d->id == id)
            return d;
    return NULL;
}

/* A path component the toolstack wrote as a decimal number. */
static bool parse_component(const char *s, size_t len, unsigned long long max,
                            unsigned long long *out)
{
    char buf[24];
    if (len == 0 || len >= sizeof(buf))
        return false;
    memcpy(buf, s, len);
    buf[len] = '\0';
    return sc_xs_parse_uint(buf, max, out) == 0;
}

/* ---- discovery ---- */

/* A directory backend/<type>/<fe>/<devid>.  At run time only new ones
 * (state Initialising, or no state yet: the toolstack is still writing)
 * become devices: one we removed keeps its Closed state until the toolstack
 * deletes it.  When adopting (registration), every live one does. */
static void discover(struct sc_xenbus *bus, unsigned ci, const char *fe, const char *devid,
                     bool adopt)
{
    unsigned long long fid, id, st;
    if (!parse_component(fe, strlen(fe), DOMID_FIRST_RESERVED - 1, &fid) ||
        !parse_component(devid, strlen(devid), UINT32_MAX, &id)) {
        sc_log(SC_LOG_DEBUG, bus->classes[ci]->type, "ignoring backend directory %s/%s", fe,
               devid);
        return;
    }
    char path[256];
    snprintf(path, sizeof(path), "%s/%s/%s", bus->class_base[ci], fe, devid);
    if (find_by_path(bus, path))
        return;

    XenbusState state = XenbusStateUnknown;
    int rc = sc_xs_read_uint(bus->xs, XBT_NULL, 255, &st, "%s/state", path);
    if (rc == -ENOENT) {
        if (!xb_node_exists(bus, path))
            return;
    } else if (rc < 0) {
        sc_log(SC_LOG_WARN, bus->classes[ci]->type, "ignoring %s: state unreadable: %s", path,
               strerror(-rc));
        return;
    } else {
        state = (XenbusState)st;
        bool live = state >= XenbusStateInitialising && state <= XenbusStateClosed;
        if (adopt && state == XenbusStateClosed) {
            unsigned long long online = 0;
            sc_xs_read_uint(bus->xs, XBT_NULL, 1, &online, "%s/online", path);
            live = online == 1; /* Closed and offline: on its way out */
        }
        if (adopt ? !live : state != XenbusStateInitialising) {
            sc_log(SC_LOG_DEBUG, bus->classes[ci]->type, "not taking %s in state %s", path,
                   sc_xenbus_state_str(state));
            return;
        }
    }
    struct sc_device *dev =
        xb_device_new(bus, ci, path, (domid_t)fid, (uint32_t)id, state);
    if (!dev) {
        sc_log(SC_LOG_ERR, bus->classes[ci]->type, "%s: out of memory", path);
        return;
    }
    if (adopt && state != XenbusStateUnknown)
        sc_log(SC_LOG_INFO, dev->name, "adopting a device in state %s",
               sc_xenbus_state_str(state));
    xb_device_try_probe(dev);
}

void xb_rediscover(struct sc_xenbus *bus, const struct sc_device *gone)
{
    for (unsigned ci = 0; ci < bus->nclasses; ci++) {
        if (bus->classes[ci] != gone->cls)
            continue;
        char fe[16], devid[16];
        snprintf(fe, sizeof(fe), "%u", gone->frontend_id);
        snprintf(devid, sizeof(devid), "%u", gone->devid);
        discover(bus, ci, fe, devid, false);
        return;
    }
}

static bool path_below(const char *path, const char *prefix)
{
    size_t n = strlen(prefix);
    return strncmp(path, prefix, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

/* Something at or above the device level changed under class ci: drop the
 * devices whose directory went, take the new ones.  fe is NULL for the
 * whole class. */
static void rescan(struct sc_xenbus *bus, unsigned ci, const char *fe, bool adopt)
{
    char prefix[256];
    if (fe)
        snprintf(prefix, sizeof(prefix), "%s/%s", bus->class_base[ci], fe);
    else
        snprintf(prefix, sizeof(prefix), "%s", bus->class_base[ci]);

    struct sc_device *next;
    for (struct sc_device *d = bus->devices; d; d = next) {
        next = d->next;
        if (d->cls == bus->classes[ci] && path_below(d->backend_path, prefix) &&
            !xb_node_exists(bus, d->backend_path))
            xb_device_gone(d);
    }

    unsigned nfe = 1, ndev;
    char **fes = NULL;
    if (!fe) {
        fes = xs_directory(bus->xs, XBT_NULL, prefix, &nfe);
        if (!fes)
            return;
    }
    for (unsigned i = 0; i < nfe; i++) {
        const char *f = fe ? fe : fes[i];
        char dir[256];
        snprintf(dir, sizeof(dir), "%s/%s", bus->class_base[ci], f);
        char **devs = xs_directory(bus->xs, XBT_NULL, dir, &ndev);
        for (unsigned j = 0; devs && j < ndev; j++)
            discover(bus, ci, f, devs[j], adopt);
        free(devs);
    }
    free(fes);
}

/* An event under <home>/backend/<type> of class ci. */
static void backend_event(struct sc_xenbus *bus, unsigned ci, const char *path)
{
    const char *base = bus->class_base[ci];
    if (!path_below(path, base))
        return;
    const char *rest = path + strlen(base);
    if (*rest == '\0') {
        rescan(bus, ci, NULL, false);
        return;
    }
    const char *fe = rest + 1;
    const char *slash = strchr(fe, '/');
    char fe_buf[24];
    size_t fe_len = slash ? (size_t)(slash - fe) : strlen(fe);
    if (fe_len == 0 || fe_len >= sizeof(fe_buf))
        return;
    memcpy(fe_buf, fe, fe_len);
    fe_buf[fe_len] = '\0';
    if (!slash) {
        rescan(bus, ci, fe_buf, false);
        return;
    }

    const char *devid = slash + 1;
    const char *key = strchr(devid, '/');
    size_t devid_len = key ? (size_t)(key - devid) : strlen(devid);
    char devid_buf[24];
    if (devid_len == 0 || devid_len >= sizeof(devid_buf))
        return;
    memcpy(devid_buf, devid, devid_len);
    devid_buf[devid_len] = '\0';
    key = key ? key + 1 : "";
    if (strchr(key, '/'))
        return; /* deeper than a key of the device directory */

    char dir[256];
    snprintf(dir, sizeof(dir), "%s/%s/%s", base, fe_buf, devid_buf);
    struct sc_device *dev = find_by_path(bus, dir);
    if (dev)
        xb_device_backend_event(dev, key);
    else
        discover(bus, ci, fe_buf, devid_buf, false);
}

/* An event of a frontend state watch: the node itself, or an ancestor
 * removed (children of state are the frontend's own business). */
static void frontend_event(struct sc_xenbus *bus, uint64_t id, const char *path)
{
    struct sc_device *dev = find_by_id(bus, id);
    if (!dev || !dev->frontend_path)
        return;
    size_t n = strlen(path);
    char watched[600];
    snprintf(watched, sizeof(watched), "%s/state", dev->frontend_path);
    if (strncmp(watched, path, n) == 0 && (watched[n] == '\0' || watched[n] == '/')) {
        xb_device_frontend_event(dev);
        return;
    }
    size_t fl = strlen(dev->frontend_path);
    if (strncmp(path, dev->frontend_path, fl) != 0 || path[fl] != '/')
        return;
    for (const char *const *k = dev->cls->frontend_keys; k && *k; k++) {
        if (strcmp(path + fl + 1, *k) == 0) {
            xb_device_key_event(dev, *k);
            return;
        }
    }
}

/* A frontend domain may be gone.  Privileged: ask xenstored; in a driver
 * domain (IS_DOMAIN_INTRODUCED refused) the toolstack's removal of
 * /local/domain/<id> says it. */
static bool domain_alive(struct sc_xenbus *bus, domid_t domid)
{
    if (domid == bus->self || domid == 0)
        return true;
    errno = 0;
    if (xs_is_domain_introduced(bus->xs, domid))
        return true;
    if (errno == 0)
        return false;
    char path[32];
    snprintf(path, sizeof(path), "/local/domain/%u", domid);
    return xb_node_exists(bus, path);
}

static void release_check(struct sc_xenbus *bus)
{
    /* Several devices usually share a frontend: ask once per domain. */
    uint8_t checked[DOMID_FIRST_RESERVED / 8] = { 0 };
    struct sc_device *next;
    for (struct sc_device *d = bus->devices; d; d = next) {
        next = d->next;
        domid_t id = d->frontend_id;
        if (checked[id / 8] & (1u << (id % 8)))
            continue;
        checked[id / 8] |= (uint8_t)(1u << (id % 8));
        if (domain_alive(bus, id))
            continue;
        for (struct sc_device *e = d, *enext; e; e = enext) {
            enext = e->next;
            if (e->frontend_id == id)
                xb_device_domain_gone(e);
        }
        next = bus->devices; /* the list changed: start over, skipping checked */
    }
}

static void handle_event(struct sc_xenbus *bus, const char *path, const char *token)
{
    size_t lb = strlen(XB_TOKEN_BACKEND), lf = strlen(XB_TOKEN_FRONTEND);
    unsigned long long n;
    if (strcmp(token, XB_TOKEN_RELEASE) == 0) {
        release_check(bus);
    } else if (strncmp(token, XB_TOKEN_BACKEND, lb) == 0) {
        if (sc_xs_parse_uint(token + lb, SC_XENBUS_MAX_CLASSES - 1, &n) == 0 && n < bus->nclasses)
            backend_event(bus, (unsigned)n, path);
    } else if (strncmp(token, XB_TOKEN_FRONTEND, lf) == 0) {
        if (sc_xs_parse_uint(token + lf, UINT64_MAX, &n) == 0)
            frontend_event(bus, n, path);
    }
}

/* ---- public ---- */

struct sc_xenbus *sc_xenbus_create(struct sc_xen *x, struct xs_handle *xs)
{
    struct sc_xenbus *bus = calloc(1, sizeof(*bus));
    if (!bus)
        return NULL;
    bus->x = x;
    bus->xs = xs;
    bus->self = sc_xen_domid(x);
    snprintf(bus->home, sizeof(bus->home), "/local/domain/%u", bus->self);
    if (xs_fileno(xs) < 0 || !xs_watch(xs, "@releaseDomain", XB_TOKEN_RELEASE)) {
        int err = errno ? errno : EIO;
        sc_log(SC_LOG_ERR, "xenbus", "cannot watch @releaseDomain: %s", strerror(err));
        free(bus);
        errno = err;
        return NULL;
    }
    return bus;
}

/* Devices abandoned at destroy with I/O in flight: kept reachable (a
 * sidecore or the kernel may still write into their class's memory until
 * the process exits), which also tells a leak checker they are not lost. */
static struct sc_device *abandoned;

void sc_xenbus_remove_all(struct sc_xenbus *bus)
{
    xb_enter(bus);
    struct sc_device *next;
    for (struct sc_device *d = bus->devices; d; d = next) {
        next = d->next;
        xb_device_remove(d);
    }
    xb_leave(bus);
}

unsigned sc_xenbus_pending_disconnects(struct sc_xenbus *bus)
{
    unsigned n = 0;
    for (struct sc_device *d = bus->devices; d; d = d->next)
        n += d->disconnecting;
    return n;
}

void sc_xenbus_destroy(struct sc_xenbus *bus)
{
    if (!bus)
        return;
    xb_enter(bus);
    sc_xenbus_remove_all(bus);
    /* What still drains is abandoned, not freed: a sidecore may still
     * complete its I/O into the class's memory until the process exits. */
    while (bus->devices) {
        struct sc_device *dev = bus->devices;
        bus->devices = dev->next;
        sc_log(SC_LOG_WARN, dev->name, "abandoned with I/O still in flight");
        dev->bus = NULL; /* a late sc_xenbus_device_disconnected is a no-op */
        dev->next = abandoned;
        abandoned = dev;
    }
    char token[32];
    for (unsigned i = 0; i < bus->nclasses; i++) {
        snprintf(token, sizeof(token), XB_TOKEN_BACKEND "%u", i);
        xs_unwatch(bus->xs, bus->class_base[i], token);
        free(bus->class_base[i]);
    }
    xs_unwatch(bus->xs, "@releaseDomain", XB_TOKEN_RELEASE);
    xb_leave(bus);
    free(bus);
}

int sc_xenbus_register(struct sc_xenbus *bus, const struct sc_device_class *cls)
{
    if (!cls || !cls->type || !*cls->type || strchr(cls->type, '/'))
        return -EINVAL;
    for (unsigned i = 0; i < bus->nclasses; i++)
        if (strcmp(bus->classes[i]->type, cls->type) == 0)
            return -EEXIST;
    if (bus->nclasses == SC_XENBUS_MAX_CLASSES)
        return -ENOSPC;

    unsigned ci = bus->nclasses;
    char *base, token[32];
    if (asprintf(&base, "%s/backend/%s", bus->home, cls->type) < 0)
        return -ENOMEM;
    snprintf(token, sizeof(token), XB_TOKEN_BACKEND "%u", ci);
    /* Watch first, then scan: nothing written in between is missed. */
    if (!xs_watch(bus->xs, base, token)) {
        int err = errno ? errno : EIO;
        sc_log(SC_LOG_ERR, cls->type, "cannot watch %s: %s", base, strerror(err));
        free(base);
        return -err;
    }
    bus->classes[ci] = cls;
    bus->class_base[ci] = base;
    bus->nclasses++;
    sc_log(SC_LOG_INFO, cls->type, "watching %s", base);

    xb_enter(bus);
    rescan(bus, ci, NULL, true);
    release_check(bus); /* frontends that died while we were away */
    xb_leave(bus);
    return 0;
}

int sc_xenbus_fd(struct sc_xenbus *bus)
{
    return xs_fileno(bus->xs);
}

int sc_xenbus_dispatch(struct sc_xenbus *bus)
{
    int handled = 0, rc = 0;
    xb_enter(bus);
    while (handled < SC_XENBUS_DISPATCH_MAX) {
        char **ev = xs_check_watch(bus->xs);
        if (!ev) {
            if (errno != EAGAIN)
                rc = errno ? -errno : -EIO;
            break;
        }
        handle_event(bus, ev[XS_WATCH_PATH], ev[XS_WATCH_TOKEN]);
        free(ev);
        handled++;
    }
    xb_leave(bus);
    return rc < 0 ? rc : handled;
}

void sc_xenbus_tick(struct sc_xenbus *bus)
{
    xb_enter(bus);
    struct sc_device *next;
    for (struct sc_device *d = bus->devices; d; d = next) {
        next = d->next; /* d may leave the list in its event */
        if (!d->removed && xb_device_connect_due(d))
            xb_device_frontend_event(d); /* reads the state again */
    }
    xb_leave(bus);
}

int sc_xenbus_ping(struct sc_xenbus *bus)
{
    /* GET_DOMAIN_PATH: answered by xenstored for any caller, reads nothing */
    char *path = xs_get_domain_path(bus->xs, 0);
    if (!path)
        return errno ? -errno : -EIO;
    free(path);
    return 0;
}

int sc_xenbus_fail_device_id(struct sc_xenbus *bus, uint64_t id, int err, const char *fmt, ...)
{
    struct sc_device *dev = find_by_id(bus, id);
    if (!dev)
        return -ENOENT;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    xb_enter(bus);
    xb_device_fail_msg(dev, err, msg);
    xb_leave(bus);
    return 0;
}

int sc_xenbus_foreach_device(struct sc_xenbus *bus, int (*fn)(struct sc_device *dev, void *arg),
                             void *arg)
{
    for (struct sc_device *d = bus->devices; d; d = d->next) {
        int rc = fn(d, arg);
        if (rc)
            return rc;
    }
    return 0;
}

struct sc_device *sc_xenbus_find_device(struct sc_xenbus *bus, const char *type,
                                        domid_t frontend_id, uint32_t devid)
{
    for (struct sc_device *d = bus->devices; d; d = d->next)
        if (d->frontend_id == frontend_id && d->devid == devid && strcmp(d->cls->type, type) == 0)
            return d;
    errno = ENOENT;
    return NULL;
}

struct xs_handle *sc_xenbus_xs(const struct sc_xenbus *bus)
{
    return bus->xs;
}

struct sc_xen *sc_xenbus_xen(const struct sc_xenbus *bus)
{
    return bus->x;
}
