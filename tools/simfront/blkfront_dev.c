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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xen/io/xenbus.h>
#include <xen/io/blkif.h>

#include "blkfront.h"
#include "xsfront.h"

struct bf_dev {
    struct xsim_guest *g;
    struct xsf_dev xf;              /* xenstore: connection, watch, error reason */
    struct bf_features want;
    struct bf_dev_info info;
    bool backend_max_order_written; /* backend advertised max-ring-page-order */
    struct bf_ring *rings[BF_MAX_QUEUES];
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

/* A backend key (xsf_read_u64). */
static int backend_u64(struct bf_dev *d, const char *key, uint64_t dflt, uint64_t *out)
{
    return xsf_backend_u64(&d->xf, key, dflt, out);
}

static bool backend_bool(struct bf_dev *d, const char *key)
{
    return xsf_backend_bool(&d->xf, key);
}

/* ---- talk_to_blkback ---- */

static void destroy_rings(struct bf_dev *d)
{
    for (unsigned q = 0; q < BF_MAX_QUEUES; q++) {
        bf_ring_destroy(d->rings[q]);
        d->rings[q] = NULL;
    }
}

/* The per-ring keys under `dir`: ring-ref or ring-refN, event-channel. */
static bool write_ring_keys(struct bf_dev *d, xs_transaction_t t, const char *dir,
                            struct bf_ring *r)
{
    struct xs_handle *xs = d->xf.xs;
    if (bf_ring_pages(r) == 1) {
        if (!xsf_printf(xs, t, dir, "ring-ref", "%u", bf_ring_ref(r, 0)))
            return false;
    } else {
        for (unsigned i = 0; i < bf_ring_pages(r); i++) {
            char key[24];
            snprintf(key, sizeof(key), "ring-ref%u", i);
            if (!xsf_printf(xs, t, dir, key, "%u", bf_ring_ref(r, i)))
                return false;
        }
    }
    return xsf_printf(xs, t, dir, "event-channel", "%u", bf_ring_port(r));
}

/* The transport keys, in one transaction (xsf_transact).  First the keys a
 * previous connection may have left that this one would not rewrite: a
 * stale multi-queue-num-queues would make the backend look for queues. */
static bool write_keys(void *arg, xs_transaction_t t)
{
    static const char *const stale[] = { "ring-ref", "ring-page-order", "num-ring-pages",
                                         "multi-queue-num-queues", "event-channel" };
    struct bf_dev *d = arg;
    struct xs_handle *xs = d->xf.xs;
    const struct bf_dev_info *in = &d->info;
    const char *fe = d->xf.frontend;
    xsf_remove_keys(&d->xf, t, stale, sizeof(stale) / sizeof(stale[0]), BF_MAX_QUEUES);
    for (unsigned i = 0; i < BF_MAX_RING_PAGES; i++) {
        char path[256];
        snprintf(path, sizeof(path), "%s/ring-ref%u", fe, i);
        xs_rm(d->xf.xs, t, path);
    }
    bool ok = true;
    if (d->backend_max_order_written)
        ok = xsf_printf(xs, t, fe, "ring-page-order", "%u", in->ring_order);
    if (ok && in->nr_queues == 1) {
        ok = write_ring_keys(d, t, fe, d->rings[0]);
    } else if (ok) {
        ok = xsf_printf(xs, t, fe, "multi-queue-num-queues", "%u", in->nr_queues);
        for (unsigned q = 0; ok && q < in->nr_queues; q++) {
            char dir[160];
            snprintf(dir, sizeof(dir), "%s/queue-%u", fe, q);
            ok = write_ring_keys(d, t, dir, d->rings[q]);
        }
    }
    if (ok && !(d->want.protocol && !*d->want.protocol))
        ok = xsf_printf(xs, t, fe, "protocol", "%s", bf_abi_protocol(in->abi));
    if (ok)
        ok = xsf_printf(xs, t, fe, "feature-persistent", "%u", d->want.persistent ? 1 : 0);
    return ok;
}

static int talk_to_blkback(struct bf_dev *d)
{
    struct bf_dev_info *in = &d->info;
    uint64_t max_order, max_queues;
    int order_err = backend_u64(d, "max-ring-page-order", 0, &max_order);
    if (order_err == -EPROTO ||
        backend_u64(d, "multi-queue-max-queues", 1, &max_queues) == -EPROTO)
        return xsf_fail(&d->xf, -EPROTO,
                        "backend %s: bad max-ring-page-order or multi-queue-max-queues",
                        d->xf.backend);
    d->backend_max_order_written = order_err != -ENOENT;
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
        return xsf_fail(&d->xf, -EINVAL, "unknown protocol '%s'", d->want.protocol);

    destroy_rings(d);
    for (unsigned q = 0; q < queues; q++) {
        int err = bf_ring_create(d->g, d->xf.backend_id, in->ring_pages, in->abi, &d->rings[q]);
        if (err < 0) {
            destroy_rings(d);
            return xsf_fail(&d->xf, err, "creating ring %u: %s", q, strerror(-err));
        }
        bf_ring_set_handle(d->rings[q], (uint16_t)in->devid);
    }
    int err = xsf_transact(&d->xf, write_keys, d);
    if (err) {
        destroy_rings(d);
        return err;
    }
    return xsf_write_state(&d->xf, XenbusStateInitialised);
}

/* ---- blkfront_connect ---- */

static int read_disk(struct bf_dev *d)
{
    struct bf_dev_info *in = &d->info;
    uint64_t sectors, info, ssize, pssize;
    if (backend_u64(d, "sectors", 0, &sectors) < 0 ||
        backend_u64(d, "info", 0, &info) < 0 ||
        backend_u64(d, "sector-size", 0, &ssize) < 0)
        return xsf_fail(&d->xf, -EPROTO,
                        "backend %s: sectors, info or sector-size missing or bad",
                        d->xf.backend);
    if (ssize < 512 || (ssize & (ssize - 1)) || ssize > 65536)
        return xsf_fail(&d->xf, -EPROTO, "backend %s: bad sector-size %" PRIu64,
                        d->xf.backend, ssize);
    if (backend_u64(d, "physical-sector-size", ssize, &pssize) == -EPROTO ||
        pssize < ssize || pssize % ssize)
        return xsf_fail(&d->xf, -EPROTO, "backend %s: bad physical-sector-size",
                        d->xf.backend);
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
    in->flush = d->want.flush && backend_bool(d, "feature-flush-cache");
    in->barrier = d->want.barrier && backend_bool(d, "feature-barrier");
    in->discard = d->want.discard && backend_bool(d, "feature-discard");
    in->discard_secure = false;
    in->discard_granularity = in->sector_size;
    in->discard_alignment = 0;
    if (in->discard) {
        uint64_t v;
        backend_u64(d, "discard-granularity", in->sector_size, &v);
        in->discard_granularity = (uint32_t)v;
        backend_u64(d, "discard-alignment", 0, &v);
        in->discard_alignment = (uint32_t)v;
        in->discard_secure = backend_bool(d, "discard-secure");
    }
    in->persistent = d->want.persistent && backend_bool(d, "feature-persistent");
    uint64_t ind;
    backend_u64(d, "feature-max-indirect-segments", 0, &ind);
    if (ind > d->want.max_indirect_segments)
        ind = d->want.max_indirect_segments;
    if (ind > BF_MAX_INDIRECT_SEGMENTS)
        ind = BF_MAX_INDIRECT_SEGMENTS;
    in->max_indirect_segments = ind > BF_DIRECT_SEGMENTS ? (unsigned)ind : 0;
    for (unsigned q = 0; q < in->nr_queues; q++) {
        err = bf_ring_set_features(d->rings[q], in->persistent, in->max_indirect_segments);
        if (err)
            return xsf_fail(&d->xf, err, "ring %u features: %s", q, strerror(-err));
    }
    if ((err = xsf_write_state(&d->xf, XenbusStateConnected)))
        return err;
    in->connects++;
    return 0;
}

/* The whole handshake from our Initialising: the backend must (re)enter
 * InitWait; a Connected seen now would be a stale one. */
static int handshake(void *dev)
{
    struct bf_dev *d = dev;
    int st = xsf_wait_backend(&d->xf, 1u << XenbusStateInitWait, 0,
                              "waiting for backend InitWait");
    if (st < 0)
        return st;
    int err = talk_to_blkback(d);
    if (err)
        return err;
    st = xsf_wait_backend(&d->xf, 1u << XenbusStateConnected,
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

static void teardown(void *dev) { destroy_rings(dev); }
static const struct xsf_class bf_xsf_class = {
    .name = "vbd", .handshake = handshake, .teardown = teardown,
};

int bf_dev_open(struct xsim_guest *g, uint32_t devid, const struct bf_features *want,
                struct bf_dev **out, char *err, size_t errlen)
{
    struct bf_dev *d = calloc(1, sizeof(*d));
    if (!d)
        return -ENOMEM;
    d->g = g;
    if (want)
        d->want = *want;
    else
        bf_features_default(&d->want);
    d->info.devid = devid;
    int ret = xsf_open(&d->xf, g, &bf_xsf_class, d, devid, d->want.backend_domid,
                       d->want.timeout_ms, err, errlen);
    if (ret) {
        bf_dev_free(d);
        return ret;
    }
    snprintf(d->info.frontend_path, sizeof(d->info.frontend_path), "%s", d->xf.frontend);
    snprintf(d->info.backend_path, sizeof(d->info.backend_path), "%s", d->xf.backend);
    d->info.backend_id = d->xf.backend_id;
    *out = d;
    return 0;
}

int bf_dev_close(struct bf_dev *d) { return xsf_disconnect(&d->xf); }

int bf_dev_reconnect(struct bf_dev *d, char *err, size_t errlen)
{
    return xsf_reconnect(&d->xf, err, errlen);
}

void bf_dev_free(struct bf_dev *d)
{
    if (!d)
        return;
    xsf_close(&d->xf);
    destroy_rings(d);
    free(d);
}

const struct bf_dev_info *bf_dev_get_info(const struct bf_dev *d) { return &d->info; }
unsigned bf_dev_nr_queues(const struct bf_dev *d) { return d->info.nr_queues; }
struct bf_ring *bf_dev_ring(struct bf_dev *d, unsigned queue)
{
    return queue < d->info.nr_queues ? d->rings[queue] : NULL;
}
int bf_dev_watch_fd(const struct bf_dev *d) { return xs_fileno(d->xf.xs); }

int bf_dev_check(struct bf_dev *d)
{
    int st = xsf_backend_state(&d->xf);
    if (st == XenbusStateClosing || st == XenbusStateClosed)
        return BF_DEV_EV_CLOSING;
    if (st == XenbusStateConnected && d->xf.connected) {
        uint64_t old = d->info.sectors;
        int err = read_disk(d);
        if (err)
            return err;
        return d->info.sectors != old ? BF_DEV_EV_RESIZED : 0;
    }
    return 0;
}
