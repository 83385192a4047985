/*
 * blkfront_dev.c - the device level of the simulated blkfront: the frontend
 * half of the XenBus handshake, as Linux blkfront runs it.
 *
 *   backend InitWait   -> talk_to_blkback: read max-ring-page-order and
 *                         multi-queue-max-queues, create the rings, write
 *                         the transport keys in one transaction, Initialised
 *   backend Connected  -> blkfront_connect: read sectors, info, sector-size
 *                         (required), physical-sector-size and feature-*
 *                         (optional), Connected
 *   again Connected    -> resize: sectors re-read
 *   Closing / Closed   -> close: Closing, backend Closed, Closed
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <xenstore.h>
#include <xen/io/xenbus.h>
#include <xen/io/blkif.h>

#include "blkfront.h"
#include "clock.h"
#include "xenbus.h"

#define BF_WATCH_TOKEN "bf-backend-state"

struct bf_dev {
    struct xsim_guest *g;
    struct xs_handle *xs;
    struct bf_features want;
    struct bf_dev_info info;
    char state_path[200];           /* <backend>/state, watched */
    bool watching;
    bool connected;
    bool backend_max_order_written; /* backend advertised max-ring-page-order */
    struct bf_ring *rings[BF_MAX_QUEUES];
    char *err;
    size_t errlen;
};

void bf_features_default(struct bf_features *f)
{
    memset(f, 0, sizeof(*f));
    f->backend_domid = -1;
    f->max_ring_order = BF_MAX_RING_ORDER;
    f->max_queues = 4;
    f->max_indirect_segments = BF_DEFAULT_INDIRECT_SEGMENTS;
    f->persistent = true;
    f->flush = f->barrier = f->discard = true;
    f->protocol = NULL;
    f->timeout_ms = 10000;
}

static int fail(struct bf_dev *d, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(struct bf_dev *d, int err, const char *fmt, ...)
{
    if (d->err && d->errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(d->err, d->errlen, fmt, ap);
        va_end(ap);
    }
    return err;
}

/* ---- xenstore helpers ---- */

static char *read_key(struct bf_dev *d, const char *dir, const char *key)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/%s", dir, key);
    unsigned len;
    return xs_read(d->xs, XBT_NULL, path, &len);
}

/* 0 and *out; -ENOENT if absent (default applied), -EPROTO if not a number. */
static int read_u64(struct bf_dev *d, const char *dir, const char *key, uint64_t dflt,
                    uint64_t *out)
{
    *out = dflt;
    char *v = read_key(d, dir, key);
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

static bool read_bool(struct bf_dev *d, const char *key)
{
    uint64_t v;
    return read_u64(d, d->info.backend_path, key, 0, &v) == 0 && v != 0;
}

static int backend_state(struct bf_dev *d)
{
    /* A backend directory that is gone counts as Closed. */
    uint64_t v;
    int err = read_u64(d, d->info.backend_path, "state", XenbusStateUnknown, &v);
    if (err == -ENOENT)
        return XenbusStateClosed;
    if (err < 0 || v > XenbusStateReconfigured)
        return XenbusStateUnknown;
    return (int)v;
}

static int write_state(struct bf_dev *d, int state)
{
    char path[160], val[8];
    snprintf(path, sizeof(path), "%s/state", d->info.frontend_path);
    snprintf(val, sizeof(val), "%d", state);
    if (!xs_write(d->xs, XBT_NULL, path, val, strlen(val)))
        return fail(d, -errno, "write %s: %s", path, strerror(errno));
    return 0;
}

static void drain_watch(struct bf_dev *d)
{
    char **vec;
    while ((vec = xs_check_watch(d->xs)) != NULL)
        free(vec);
}

/* Waits until the backend's state is in `mask` (bit per XenbusState).
 * A state in `fatal` ends the wait with -ENODEV. */
static int wait_backend(struct bf_dev *d, unsigned mask, unsigned fatal, const char *what)
{
    unsigned timeout = d->want.timeout_ms ? d->want.timeout_ms : 10000;
    uint64_t deadline = sc_clock_ms() + timeout;
    for (;;) {
        drain_watch(d);
        int st = backend_state(d);
        if (mask & (1u << st))
            return st;
        if (fatal & (1u << st)) {
            char *e = read_key(d, d->info.backend_path, "error");
            int ret = fail(d, -ENODEV, "%s: backend %s went %s%s%s", what, d->info.backend_path,
                           sc_xenbus_state_str((XenbusState)st), e ? ": " : "", e ? e : "");
            free(e);
            return ret;
        }
        uint64_t now = sc_clock_ms();
        if (now >= deadline)
            return fail(d, -ETIMEDOUT, "%s: timed out after %u ms (backend %s is %s)", what,
                        timeout, d->info.backend_path, sc_xenbus_state_str((XenbusState)st));
        struct pollfd pfd = { .fd = xs_fileno(d->xs), .events = POLLIN };
        int left = (int)(deadline - now);
        /* Re-read at least every 100 ms: a watch may be lost if the backend
         * directory is removed and rewritten. */
        if (poll(&pfd, 1, left < 100 ? left : 100) < 0 && errno != EINTR)
            return fail(d, -errno, "%s: poll: %s", what, strerror(errno));
    }
}

/* ---- talk_to_blkback ---- */

static void destroy_rings(struct bf_dev *d)
{
    for (unsigned q = 0; q < BF_MAX_QUEUES; q++) {
        bf_ring_destroy(d->rings[q]);
        d->rings[q] = NULL;
    }
}

static bool tx_printf(struct bf_dev *d, xs_transaction_t t, const char *dir, const char *key,
                      const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static bool tx_printf(struct bf_dev *d, xs_transaction_t t, const char *dir, const char *key,
                      const char *fmt, ...)
{
    char path[256], val[64];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(val, sizeof(val), fmt, ap);
    va_end(ap);
    snprintf(path, sizeof(path), "%s/%s", dir, key);
    return xs_write(d->xs, t, path, val, strlen(val));
}

/* The per-ring keys under `dir`: ring-ref or ring-refN, event-channel. */
static bool write_ring_keys(struct bf_dev *d, xs_transaction_t t, const char *dir,
                            struct bf_ring *r)
{
    if (bf_ring_pages(r) == 1) {
        if (!tx_printf(d, t, dir, "ring-ref", "%u", bf_ring_ref(r, 0)))
            return false;
    } else {
        for (unsigned i = 0; i < bf_ring_pages(r); i++) {
            char key[24];
            snprintf(key, sizeof(key), "ring-ref%u", i);
            if (!tx_printf(d, t, dir, key, "%u", bf_ring_ref(r, i)))
                return false;
        }
    }
    return tx_printf(d, t, dir, "event-channel", "%u", bf_ring_port(r));
}

/* Keys a previous connection may have left that this one would not rewrite:
 * a stale multi-queue-num-queues would make the backend look for queues. */
static void remove_stale_keys(struct bf_dev *d, xs_transaction_t t)
{
    static const char *const keys[] = { "ring-ref", "ring-page-order", "num-ring-pages",
                                        "multi-queue-num-queues", "event-channel" };
    char path[256];
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        snprintf(path, sizeof(path), "%s/%s", d->info.frontend_path, keys[i]);
        xs_rm(d->xs, t, path);
    }
    for (unsigned i = 0; i < BF_MAX_RING_PAGES; i++) {
        snprintf(path, sizeof(path), "%s/ring-ref%u", d->info.frontend_path, i);
        xs_rm(d->xs, t, path);
    }
    for (unsigned q = 0; q < BF_MAX_QUEUES; q++) {
        snprintf(path, sizeof(path), "%s/queue-%u", d->info.frontend_path, q);
        xs_rm(d->xs, t, path);
    }
}

static int talk_to_blkback(struct bf_dev *d)
{
    struct bf_dev_info *in = &d->info;
    uint64_t max_order, max_queues;
    if (read_u64(d, in->backend_path, "max-ring-page-order", 0, &max_order) == -EPROTO ||
        read_u64(d, in->backend_path, "multi-queue-max-queues", 1, &max_queues) == -EPROTO)
        return fail(d, -EPROTO, "backend %s: bad max-ring-page-order or multi-queue-max-queues",
                    in->backend_path);
    char *mo = read_key(d, in->backend_path, "max-ring-page-order");
    d->backend_max_order_written = mo != NULL;
    free(mo);
    unsigned order = d->want.max_ring_order < BF_MAX_RING_ORDER ? d->want.max_ring_order
                                                                 : BF_MAX_RING_ORDER;
    if (max_order < order)
        order = (unsigned)max_order;
    unsigned queues = d->want.max_queues ? d->want.max_queues : 1;
    if (queues > BF_MAX_QUEUES)
        queues = BF_MAX_QUEUES;
    if (max_queues < queues)
        queues = max_queues ? (unsigned)max_queues : 1;
    in->ring_order = order;
    in->ring_pages = 1u << order;
    in->nr_queues = queues;
    if (bf_abi_from_protocol(d->want.protocol, &in->abi) < 0)
        return fail(d, -EINVAL, "unknown protocol '%s'", d->want.protocol);

    destroy_rings(d);
    for (unsigned q = 0; q < queues; q++) {
        int err = bf_ring_create(d->g, in->backend_id, in->ring_pages, in->abi, &d->rings[q]);
        if (err < 0) {
            destroy_rings(d);
            return fail(d, err, "creating ring %u: %s", q, strerror(-err));
        }
        bf_ring_set_handle(d->rings[q], (uint16_t)in->devid);
    }

    for (;;) {
        xs_transaction_t t = xs_transaction_start(d->xs);
        if (t == XBT_NULL)
            return fail(d, -errno, "transaction start: %s", strerror(errno));
        remove_stale_keys(d, t);
        bool ok = true;
        const char *fe = in->frontend_path;
        if (d->backend_max_order_written)
            ok = tx_printf(d, t, fe, "ring-page-order", "%u", order);
        if (ok && queues == 1) {
            ok = write_ring_keys(d, t, fe, d->rings[0]);
        } else if (ok) {
            ok = tx_printf(d, t, fe, "multi-queue-num-queues", "%u", queues);
            for (unsigned q = 0; ok && q < queues; q++) {
                char dir[160];
                snprintf(dir, sizeof(dir), "%s/queue-%u", fe, q);
                ok = write_ring_keys(d, t, dir, d->rings[q]);
            }
        }
        if (ok && !(d->want.protocol && !*d->want.protocol))
            ok = tx_printf(d, t, fe, "protocol", "%s", bf_abi_protocol(in->abi));
        if (ok)
            ok = tx_printf(d, t, fe, "feature-persistent", "%u", d->want.persistent ? 1 : 0);
        if (!ok) {
            int e = errno;
            xs_transaction_end(d->xs, t, true);
            destroy_rings(d);
            return fail(d, -e, "writing frontend keys: %s", strerror(e));
        }
        if (xs_transaction_end(d->xs, t, false))
            break;
        if (errno != EAGAIN) {
            int e = errno;
            destroy_rings(d);
            return fail(d, -e, "transaction end: %s", strerror(e));
        }
    }
    return write_state(d, XenbusStateInitialised);
}

/* ---- blkfront_connect ---- */

static int read_disk(struct bf_dev *d)
{
    struct bf_dev_info *in = &d->info;
    uint64_t sectors, info, ssize, pssize;
    if (read_u64(d, in->backend_path, "sectors", 0, &sectors) < 0 ||
        read_u64(d, in->backend_path, "info", 0, &info) < 0 ||
        read_u64(d, in->backend_path, "sector-size", 0, &ssize) < 0)
        return fail(d, -EPROTO, "backend %s: sectors, info or sector-size missing or bad",
                    in->backend_path);
    if (ssize < 512 || (ssize & (ssize - 1)) || ssize > 65536)
        return fail(d, -EPROTO, "backend %s: bad sector-size %" PRIu64, in->backend_path, ssize);
    if (read_u64(d, in->backend_path, "physical-sector-size", ssize, &pssize) == -EPROTO ||
        pssize < ssize || pssize % ssize)
        return fail(d, -EPROTO, "backend %s: bad physical-sector-size", in->backend_path);
    in->sectors = sectors;
    in->info = (uint32_t)info;
    in->sector_size = (uint32_t)ssize;
    in->physical_sector_size = (uint32_t)pssize;
    in->read_only = info & VDISK_READONLY;
    return 0;
}

static int blkfront_connect(struct bf_dev *d)
{
    struct bf_dev_info *in = &d->info;
    int err = read_disk(d);
    if (err)
        return err;
    in->flush = d->want.flush && read_bool(d, "feature-flush-cache");
    in->barrier = d->want.barrier && read_bool(d, "feature-barrier");
    in->discard = d->want.discard && read_bool(d, "feature-discard");
    in->discard_secure = false;
    in->discard_granularity = in->sector_size;
    in->discard_alignment = 0;
    if (in->discard) {
        uint64_t v;
        read_u64(d, in->backend_path, "discard-granularity", in->sector_size, &v);
        in->discard_granularity = (uint32_t)v;
        read_u64(d, in->backend_path, "discard-alignment", 0, &v);
        in->discard_alignment = (uint32_t)v;
        in->discard_secure = read_bool(d, "discard-secure");
    }
    in->persistent = d->want.persistent && read_bool(d, "feature-persistent");
    uint64_t ind;
    read_u64(d, in->backend_path, "feature-max-indirect-segments", 0, &ind);
    if (ind > d->want.max_indirect_segments)
        ind = d->want.max_indirect_segments;
    if (ind > BF_MAX_INDIRECT_SEGMENTS)
        ind = BF_MAX_INDIRECT_SEGMENTS;
    in->max_indirect_segments = ind > BF_DIRECT_SEGMENTS ? (unsigned)ind : 0;
    for (unsigned q = 0; q < in->nr_queues; q++) {
        err = bf_ring_set_features(d->rings[q], in->persistent, in->max_indirect_segments);
        if (err)
            return fail(d, err, "ring %u features: %s", q, strerror(-err));
    }
    if ((err = write_state(d, XenbusStateConnected)))
        return err;
    d->connected = true;
    in->connects++;
    return 0;
}

/*
 * Brings a device some earlier frontend left behind back to Initialising,
 * as Linux's xenbus_reset_frontend does after a kexec or a crashed guest
 * driver: a backend still Connected (or Closing) is walked down through
 * Closing and Closed first, so it tears the old rings down before we offer
 * new ones.  A device left Closed just starts over.
 */
static int reset_state(struct bf_dev *d)
{
    uint64_t fe_state, be_state;
    if (read_u64(d, d->info.frontend_path, "state", XenbusStateInitialising, &fe_state) < 0)
        fe_state = XenbusStateInitialising;
    if (read_u64(d, d->info.backend_path, "state", XenbusStateUnknown, &be_state) < 0)
        be_state = XenbusStateUnknown;
    int ret = 0, st = 0;
    switch (be_state) {
    case XenbusStateConnected:
        if ((ret = write_state(d, XenbusStateClosing)))
            return ret;
        st = wait_backend(d, 1u << XenbusStateClosing | 1u << XenbusStateClosed, 0,
                          "reset: waiting for backend Closing");
        if (st < 0)
            return st;
        /* fall through */
    case XenbusStateClosing:
        if ((ret = write_state(d, XenbusStateClosed)))
            return ret;
        st = wait_backend(d, 1u << XenbusStateClosed, 0, "reset: waiting for backend Closed");
        if (st < 0)
            return st;
        return write_state(d, XenbusStateInitialising);
    default:
        return fe_state != XenbusStateInitialising ? write_state(d, XenbusStateInitialising) : 0;
    }
}

/* The whole handshake from our Initialising: the backend must (re)enter
 * InitWait; a Connected seen now would be a stale one. */
static int handshake(struct bf_dev *d)
{
    int st = wait_backend(d, 1u << XenbusStateInitWait, 0, "waiting for backend InitWait");
    if (st < 0)
        return st;
    int err = talk_to_blkback(d);
    if (err)
        return err;
    st = wait_backend(d, 1u << XenbusStateConnected,
                      1u << XenbusStateClosing | 1u << XenbusStateClosed,
                      "waiting for backend Connected");
    if (st < 0) {
        destroy_rings(d);
        return st;
    }
    err = blkfront_connect(d);
    if (err)
        destroy_rings(d);
    return err;
}

int bf_dev_open(struct xsim_guest *g, uint32_t devid, const struct bf_features *want,
                struct bf_dev **out, char *err, size_t errlen)
{
    struct bf_dev *d = calloc(1, sizeof(*d));
    if (!d)
        return -ENOMEM;
    d->g = g;
    d->err = err;
    d->errlen = errlen;
    if (err && errlen)
        err[0] = 0;
    if (want)
        d->want = *want;
    else
        bf_features_default(&d->want);
    d->info.devid = devid;
    snprintf(d->info.frontend_path, sizeof(d->info.frontend_path),
             "/local/domain/%u/device/vbd/%u", xsim_guest_domid(g), devid);
    int ret;
    d->xs = xsim_guest_xs_open(g);
    if (!d->xs) {
        ret = fail(d, -errno ? -errno : -EIO, "xenstore: %s", strerror(errno));
        goto out_free;
    }
    char *be = read_key(d, d->info.frontend_path, "backend");
    if (!be) {
        ret = fail(d, -ENOENT, "%s/backend: not found (did the toolstack attach the vbd?)",
                   d->info.frontend_path);
        goto out_free;
    }
    snprintf(d->info.backend_path, sizeof(d->info.backend_path), "%s", be);
    free(be);
    uint64_t beid;
    if (read_u64(d, d->info.frontend_path, "backend-id", 0, &beid) < 0 || beid >= DOMID_FIRST_RESERVED) {
        ret = fail(d, -EPROTO, "%s/backend-id missing or bad", d->info.frontend_path);
        goto out_free;
    }
    if (d->want.backend_domid >= 0 && (uint64_t)d->want.backend_domid != beid) {
        ret = fail(d, -EPROTO, "backend-id is %" PRIu64 ", expected %d", beid,
                   d->want.backend_domid);
        goto out_free;
    }
    d->info.backend_id = (domid_t)beid;
    snprintf(d->state_path, sizeof(d->state_path), "%s/state", d->info.backend_path);
    if (!xs_watch(d->xs, d->state_path, BF_WATCH_TOKEN)) {
        ret = fail(d, -errno, "watch %s: %s", d->state_path, strerror(errno));
        goto out_free;
    }
    d->watching = true;
    if ((ret = reset_state(d)))
        goto out_free;
    if ((ret = handshake(d)))
        goto out_free;
    d->err = NULL;
    d->errlen = 0;
    *out = d;
    return 0;
out_free:
    d->err = NULL;
    d->errlen = 0;
    bf_dev_free(d);
    return ret;
}

int bf_dev_close(struct bf_dev *d)
{
    int ret = write_state(d, XenbusStateClosing);
    if (!ret) {
        int st = wait_backend(d, 1u << XenbusStateClosing | 1u << XenbusStateClosed, 0,
                              "waiting for backend Closing");
        ret = st < 0 ? st : write_state(d, XenbusStateClosed);
        if (!ret) {
            st = wait_backend(d, 1u << XenbusStateClosed, 0, "waiting for backend Closed");
            ret = st < 0 ? st : 0;
        }
    }
    /* The backend unmapped everything at Closed: the grants end cleanly. */
    destroy_rings(d);
    d->connected = false;
    return ret;
}

int bf_dev_reconnect(struct bf_dev *d, char *err, size_t errlen)
{
    d->err = err;
    d->errlen = errlen;
    if (err && errlen)
        err[0] = 0;
    int ret = 0;
    if (d->connected)
        ret = bf_dev_close(d);
    if (!ret)
        ret = write_state(d, XenbusStateInitialising);
    if (!ret)
        ret = handshake(d);
    d->err = NULL;
    d->errlen = 0;
    return ret;
}

void bf_dev_free(struct bf_dev *d)
{
    if (!d)
        return;
    if (d->connected)
        bf_dev_close(d);
    destroy_rings(d);
    if (d->xs) {
        if (d->watching)
            xs_unwatch(d->xs, d->state_path, BF_WATCH_TOKEN);
        xs_close(d->xs);
    }
    free(d);
}

const struct bf_dev_info *bf_dev_get_info(const struct bf_dev *d) { return &d->info; }
unsigned bf_dev_nr_queues(const struct bf_dev *d) { return d->info.nr_queues; }
struct bf_ring *bf_dev_ring(struct bf_dev *d, unsigned queue)
{
    return queue < d->info.nr_queues ? d->rings[queue] : NULL;
}
int bf_dev_watch_fd(const struct bf_dev *d) { return xs_fileno(d->xs); }

int bf_dev_check(struct bf_dev *d)
{
    drain_watch(d);
    int st = backend_state(d);
    if (st == XenbusStateClosing || st == XenbusStateClosed)
        return BF_DEV_EV_CLOSING;
    if (st == XenbusStateConnected && d->connected) {
        uint64_t old = d->info.sectors;
        int err = read_disk(d);
        if (err)
            return err;
        return d->info.sectors != old ? BF_DEV_EV_RESIZED : 0;
    }
    return 0;
}
