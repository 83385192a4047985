/*
 * xsfront.c - the xenstore half of a simulated frontend device (xsfront.h).
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xen/io/xenbus.h>

#include "clock.h"
#include "xenbus.h"
#include "xsfront.h"

#define XSF_WATCH_TOKEN "xsf-backend-state"

/* ---- handle level ---- */

char *xsf_read(struct xs_handle *xs, const char *dir, const char *key)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/%s", dir, key);
    unsigned len;
    return xs_read(xs, XBT_NULL, path, &len);
}

int xsf_read_u64(struct xs_handle *xs, const char *dir, const char *key, uint64_t dflt,
                 uint64_t *out)
{
    *out = dflt;
    char *v = xsf_read(xs, dir, key);
    if (!v)
        return -ENOENT;
    char *end;
    errno = 0;
    unsigned long long x = strtoull(v, &end, 10);
    int ret = (!*v || *end || errno) ? -EPROTO : 0;
    if (!ret)
        *out = x;
    free(v);
    return ret;
}

bool xsf_printf(struct xs_handle *xs, xs_transaction_t t, const char *dir, const char *key,
                const char *fmt, ...)
{
    char path[256], val[64];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(val, sizeof(val), fmt, ap);
    va_end(ap);
    snprintf(path, sizeof(path), "%s/%s", dir, key);
    return xs_write(xs, t, path, val, strlen(val));
}

/* ---- device level ---- */

static void set_err(struct xsf_dev *f, char *err, size_t errlen)
{
    f->err = err;
    f->errlen = errlen;
    if (err && errlen)
        err[0] = 0;
}

int xsf_fail(struct xsf_dev *f, int err, const char *fmt, ...)
{
    if (f->err && f->errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(f->err, f->errlen, fmt, ap);
        va_end(ap);
    }
    return err;
}

/* Finds the backend and watches its state. */
static int find_backend(struct xsf_dev *f, struct xsim_guest *g, uint32_t devid,
                        int backend_domid)
{
    const char *cls = f->cls->name;
    snprintf(f->frontend, sizeof(f->frontend), "/local/domain/%u/device/%s/%u",
             xsim_guest_domid(g), cls, devid);
    f->xs = xsim_guest_xs_open(g);
    if (!f->xs)
        return xsf_fail(f, errno ? -errno : -EIO, "xenstore: %s", strerror(errno));
    char *be = xsf_read(f->xs, f->frontend, "backend");
    if (!be)
        return xsf_fail(f, -ENOENT, "%s/backend: not found (did the toolstack attach the %s?)",
                        f->frontend, cls);
    snprintf(f->backend, sizeof(f->backend), "%s", be);
    free(be);
    uint64_t beid;
    if (xsf_read_u64(f->xs, f->frontend, "backend-id", 0, &beid) < 0 ||
        beid >= DOMID_FIRST_RESERVED)
        return xsf_fail(f, -EPROTO, "%s/backend-id missing or bad", f->frontend);
    if (backend_domid >= 0 && (uint64_t)backend_domid != beid)
        return xsf_fail(f, -EPROTO, "backend-id is %" PRIu64 ", expected %d", beid,
                        backend_domid);
    f->backend_id = (domid_t)beid;
    snprintf(f->state_path, sizeof(f->state_path), "%s/state", f->backend);
    if (!xs_watch(f->xs, f->state_path, XSF_WATCH_TOKEN))
        return xsf_fail(f, -errno, "watch %s: %s", f->state_path, strerror(errno));
    f->watching = true;
    return 0;
}

void xsf_close(struct xsf_dev *f)
{
    if (!f->xs)
        return;
    if (f->connected)
        xsf_disconnect(f);
    if (f->watching)
        xs_unwatch(f->xs, f->state_path, XSF_WATCH_TOKEN);
    f->watching = false;
    xs_close(f->xs);
    f->xs = NULL;
}

int xsf_backend_u64(struct xsf_dev *f, const char *key, uint64_t dflt, uint64_t *out)
{
    return xsf_read_u64(f->xs, f->backend, key, dflt, out);
}

bool xsf_backend_bool(struct xsf_dev *f, const char *key)
{
    uint64_t v;
    return xsf_read_u64(f->xs, f->backend, key, 0, &v) == 0 && v != 0;
}

int xsf_backend_state(struct xsf_dev *f)
{
    char **vec;
    while ((vec = xs_check_watch(f->xs)) != NULL)
        free(vec);
    /* A backend directory that is gone counts as Closed. */
    uint64_t v;
    int err = xsf_read_u64(f->xs, f->backend, "state", XenbusStateUnknown, &v);
    if (err == -ENOENT)
        return XenbusStateClosed;
    if (err < 0 || v > XenbusStateReconfigured)
        return XenbusStateUnknown;
    return (int)v;
}

int xsf_write_state(struct xsf_dev *f, int state)
{
    char path[160], val[8];
    snprintf(path, sizeof(path), "%s/state", f->frontend);
    snprintf(val, sizeof(val), "%d", state);
    if (!xs_write(f->xs, XBT_NULL, path, val, strlen(val)))
        return xsf_fail(f, -errno, "write %s: %s", path, strerror(errno));
    return 0;
}

int xsf_wait_backend(struct xsf_dev *f, unsigned mask, unsigned fatal, const char *what)
{
    uint64_t deadline = sc_clock_ms() + f->timeout_ms;
    for (;;) {
        int st = xsf_backend_state(f);
        if (mask & (1u << st))
            return st;
        if (fatal & (1u << st)) {
            char *e = xsf_read(f->xs, f->backend, "error");
            int ret = xsf_fail(f, -ENODEV, "%s: backend %s went %s%s%s", what, f->backend,
                               sc_xenbus_state_str((XenbusState)st), e ? ": " : "",
                               e ? e : "");
            free(e);
            return ret;
        }
        uint64_t now = sc_clock_ms();
        if (now >= deadline)
            return xsf_fail(f, -ETIMEDOUT, "%s: timed out after %u ms (backend %s is %s)",
                            what, f->timeout_ms, f->backend,
                            sc_xenbus_state_str((XenbusState)st));
        struct pollfd pfd = { .fd = xs_fileno(f->xs), .events = POLLIN };
        int left = (int)(deadline - now);
        /* Re-read at least every 100 ms: a watch may be lost if the backend
         * directory is removed and rewritten. */
        if (poll(&pfd, 1, left < 100 ? left : 100) < 0 && errno != EINTR)
            return xsf_fail(f, -errno, "%s: poll: %s", what, strerror(errno));
    }
}

/* To Initialising, as xenbus_reset_frontend (xsf_open). */
static int reset(struct xsf_dev *f)
{
    uint64_t fe_state;
    if (xsf_read_u64(f->xs, f->frontend, "state", XenbusStateInitialising, &fe_state) < 0)
        fe_state = XenbusStateInitialising;
    int ret, st;
    switch (xsf_backend_state(f)) {
    case XenbusStateConnected:
        if ((ret = xsf_write_state(f, XenbusStateClosing)))
            return ret;
        st = xsf_wait_backend(f, 1u << XenbusStateClosing | 1u << XenbusStateClosed, 0,
                              "reset: waiting for backend Closing");
        if (st < 0)
            return st;
        /* fall through */
    case XenbusStateClosing:
        if ((ret = xsf_write_state(f, XenbusStateClosed)))
            return ret;
        st = xsf_wait_backend(f, 1u << XenbusStateClosed, 0,
                              "reset: waiting for backend Closed");
        if (st < 0)
            return st;
        return xsf_write_state(f, XenbusStateInitialising);
    default:
        return fe_state != XenbusStateInitialising
                   ? xsf_write_state(f, XenbusStateInitialising)
                   : 0;
    }
}

static int handshake(struct xsf_dev *f)
{
    int ret = f->cls->handshake(f->dev);
    f->connected = ret == 0;
    return ret;
}

int xsf_open(struct xsf_dev *f, struct xsim_guest *g, const struct xsf_class *cls, void *dev,
             uint32_t devid, int backend_domid, unsigned timeout_ms, char *err, size_t errlen)
{
    f->cls = cls;
    f->dev = dev;
    f->timeout_ms = timeout_ms ? timeout_ms : XSF_DEFAULT_TIMEOUT_MS;
    set_err(f, err, errlen);
    int ret = find_backend(f, g, devid, backend_domid);
    if (!ret)
        ret = reset(f);
    if (!ret)
        ret = handshake(f);
    set_err(f, NULL, 0);
    return ret;
}

int xsf_disconnect(struct xsf_dev *f)
{
    int ret = 0, st = xsf_backend_state(f);
    if (st != XenbusStateClosed) {
        ret = xsf_write_state(f, XenbusStateClosing);
        if (!ret)
            st = xsf_wait_backend(f, 1u << XenbusStateClosing | 1u << XenbusStateClosed, 0,
                                  "waiting for backend Closing");
        if (st < 0)
            ret = st;
    }
    /* Our own Closed, also when the backend got there first. */
    if (!ret)
        ret = xsf_write_state(f, XenbusStateClosed);
    if (!ret && st != XenbusStateClosed) {
        st = xsf_wait_backend(f, 1u << XenbusStateClosed, 0, "waiting for backend Closed");
        ret = st < 0 ? st : 0;
    }
    /* The backend unmapped everything at Closed: the grants end cleanly. */
    f->cls->teardown(f->dev);
    f->connected = false;
    return ret;
}

int xsf_reconnect(struct xsf_dev *f, char *err, size_t errlen)
{
    set_err(f, err, errlen);
    int ret = f->connected ? xsf_disconnect(f) : 0;
    if (!ret)
        ret = xsf_write_state(f, XenbusStateInitialising);
    if (!ret)
        ret = handshake(f);
    set_err(f, NULL, 0);
    return ret;
}

int xsf_transact(struct xsf_dev *f, bool (*fill)(void *arg, xs_transaction_t t), void *arg)
{
    for (;;) {
        xs_transaction_t t = xs_transaction_start(f->xs);
        if (t == XBT_NULL)
            return xsf_fail(f, -errno, "transaction start: %s", strerror(errno));
        if (!fill(arg, t)) {
            int e = errno;
            xs_transaction_end(f->xs, t, true);
            return xsf_fail(f, -e, "writing frontend keys: %s", strerror(e));
        }
        if (xs_transaction_end(f->xs, t, false))
            return 0;
        if (errno != EAGAIN)
            return xsf_fail(f, -errno, "transaction end: %s", strerror(errno));
    }
}

void xsf_remove_keys(struct xsf_dev *f, xs_transaction_t t, const char *const *keys, size_t n,
                     unsigned max_queues)
{
    char path[256];
    for (size_t i = 0; i < n; i++) {
        snprintf(path, sizeof(path), "%s/%s", f->frontend, keys[i]);
        xs_rm(f->xs, t, path);
    }
    for (unsigned q = 0; q < max_queues; q++) {
        snprintf(path, sizeof(path), "%s/queue-%u", f->frontend, q);
        xs_rm(f->xs, t, path);
    }
}
