/*
 * blk_xenbus.c - the vbd device class: what blkback does at each step of the
 * XenBus lifecycle (backend/xenbus.h runs the state machine and calls us).
 *
 *   probe       toolstack keys (params, mode, type, device-type, removable,
 *               discard-enable), open the backing store, advertise features
 *   connect     frontend keys (hostile: strict parsers, ranges), one
 *               blk_queue per ring, each on a core of the pool with its
 *               event channel bound there; connect-time keys in one
 *               transaction before the bus switches to Connected
 *   disconnect  take every queue back from its core, unbind, release,
 *               destroy; undoes a partial connect; idempotent
 *   remove      close the store
 *   resize      blk_device_check_resize(): new size to the queues, then
 *               "sectors" and "state" rewritten together, as Linux does, so
 *               the frontend re-reads the size (blk_class.c calls it every
 *               second and for `sidecorectl resize-check`)
 *   describe    blk_describe.c (blk_dev.h is what the two share)
 *
 * Every key read or written here is described in xenstore-schema/vbd.json.
 * Which keys and when follows Linux xen-blkback: ring limits and indirect
 * segments at probe, the store's properties (sectors, info, sector-size,
 * physical-sector-size) and the cache/discard/persistent features again in
 * connect's transaction.  Control thread only.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "blk_dev.h"
#include "devclass.h"
#include "corepool.h"
#include "fe_keys.h"
#include "queue_attach.h"
#include "log.h"
#include "sidecore.h"
#include "xenbus.h"

#define NO_PARAMS           1    /* open_store: nothing to open yet */

/* every class made, reachable until exit */
static struct blk_class *all_classes;

void blk_config_default(struct blk_config *c)
{
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    if (cpus < 1)
        cpus = 1;
    if (cpus > SC_POOL_MAX_CORES)
        cpus = SC_POOL_MAX_CORES;
    *c = (struct blk_config){
        .max_ring_page_order = BLK_MAX_RING_ORDER,
        .max_queues = (uint32_t)cpus,
        .max_indirect_segments = BLK_MAX_SEGMENTS,
        .max_persistent_grants = 1056,
        .discard = true,
    };
}

/* ---- writing keys ---- */

static int rm_key(struct xs_handle *xs, xs_transaction_t t, const char *dir, const char *key)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, key);
    if (!xs_rm(xs, t, path) && errno != ENOENT)
        return errno ? -errno : -EIO;
    return 0;
}

/* The store's features: written at probe (once the store is open) and again
 * in connect's transaction, where Linux writes them. */
static int write_store_features(struct xs_handle *xs, xs_transaction_t t,
                                const struct blk_dev *bd)
{
    const char *bp = bd->dev->backend_path;
    int rc = sc_xs_write_uint(xs, t, offer_flush(bd), "%s/feature-flush-cache", bp);
    if (rc == 0)
        rc = sc_xs_write_uint(xs, t, offer_flush(bd), "%s/feature-barrier", bp);
    if (rc == 0)
        rc = sc_xs_write_uint(xs, t, offer_persistent(bd), "%s/feature-persistent", bp);
    if (rc == 0)
        rc = sc_xs_write_uint(xs, t, offer_discard(bd), "%s/feature-discard", bp);
    if (rc < 0 || !offer_discard(bd))
        return rc;
    /* blkif.h note 4: granularity and alignment always come together. */
    uint32_t gran = bd->info.discard_granularity ? bd->info.discard_granularity
                                                 : bd->info.logical_sector;
    rc = sc_xs_write_uint(xs, t, gran, "%s/discard-granularity", bp);
    if (rc == 0)
        rc = sc_xs_write_uint(xs, t, bd->info.discard_alignment, "%s/discard-alignment", bp);
    if (rc == 0)
        rc = sc_xs_write_uint(xs, t, bd->info.discard_secure, "%s/discard-secure", bp);
    return rc;
}

static int probe_keys_txn(struct xs_handle *xs, xs_transaction_t t, void *arg)
{
    const struct blk_dev *bd = arg;
    const struct blk_config *cfg = &bd->bc->cfg;
    const char *bp = bd->dev->backend_path;
    int rc = sc_xs_write_uint(xs, t, cfg->max_ring_page_order, "%s/max-ring-page-order", bp);
    if (rc == 0)
        rc = sc_xs_write_uint(xs, t, cfg->max_queues, "%s/multi-queue-max-queues", bp);
    if (rc == 0 && cfg->max_indirect_segments)
        rc = sc_xs_write_uint(xs, t, cfg->max_indirect_segments,
                              "%s/feature-max-indirect-segments", bp);
    else if (rc == 0) /* blkif.h: no indirect means no node at all */
        rc = rm_key(xs, t, bp, "feature-max-indirect-segments");
    if (rc == 0 && bd->store)
        rc = write_store_features(xs, t, bd);
    else if (rc == 0)
        rc = sc_xs_write_uint(xs, t, offer_persistent(bd), "%s/feature-persistent", bp);
    return rc;
}

static int connect_keys_txn(struct xs_handle *xs, xs_transaction_t t, void *arg)
{
    const struct blk_dev *bd = arg;
    const char *bp = bd->dev->backend_path;
    int rc = write_store_features(xs, t, bd);
    if (rc == 0)
        rc = sc_xs_write_uint(xs, t, disk_sectors(bd), "%s/sectors", bp);
    if (rc == 0)
        rc = sc_xs_write_uint(xs, t, info_bits(bd), "%s/info", bp);
    if (rc == 0)
        rc = sc_xs_write_uint(xs, t, bd->info.logical_sector, "%s/sector-size", bp);
    if (rc == 0)
        rc = sc_xs_write_uint(xs, t, bd->info.physical_sector, "%s/physical-sector-size", bp);
    return rc;
}

/* ---- the toolstack's keys ---- */

/* An optional 0/1 of the toolstack: absent -> def; malformed -> def, warned. */
static bool read_bool_opt(struct blk_dev *bd, const char *dir, const char *key, bool def)
{
    return sc_fe_read_bool_warn(bd->dev, dir, key, def);
}

/* xl's mode: "r" read-only; "w" (or "rw") writable and, for a block device,
 * exclusive: opened O_EXCL, so a device mounted or claimed by another
 * backend is refused, and nobody claims it while we serve it; "w!" writable
 * and shared (no claim: the admin vouches for the other users).  Files are
 * never claimed (O_EXCL means nothing to an existing regular file). */
static int parse_mode(const char *mode, bool *read_only, bool *shared)
{
    if (!*mode || strspn(mode, "rw!") != strlen(mode))
        return -EINVAL;
    *read_only = strchr(mode, 'w') == NULL;
    *shared = !*read_only && strchr(mode, '!') != NULL;
    return 0;
}

/* Opens the store named by params.  0, NO_PARAMS while params is absent
 * or empty (no media yet), or -errno (the device is failed here). */
static int open_store(struct blk_dev *bd)
{
    struct sc_device *dev = bd->dev;
    char *params = sc_xs_read_str(xs_of(bd), XBT_NULL, "%s/params", dev->backend_path);
    if (!params) {
        int err = errno;
        if (err != ENOENT) {
            sc_xenbus_device_fail(dev, -err, "reading %s/params", dev->backend_path);
            return -err;
        }
        return NO_PARAMS;
    }
    if (!*params) {
        free(params);
        return NO_PARAMS;
    }
    /* qdisk's "aio:" and "raw:" mean a raw image: the same as a file. */
    const char *target = params;
    if (!strncmp(target, "aio:", 4) || !strncmp(target, "raw:", 4))
        target += 4;
    enum blk_store_access acc = bd->read_only      ? BLK_STORE_READ
                                : bd->write_shared ? BLK_STORE_WRITE_SHARED
                                                   : BLK_STORE_WRITE;
    struct blk_store *s = blk_store_open_access(target, acc);
    if (!s) {
        int err = errno ? errno : EIO;
        if (err == EBUSY && acc == BLK_STORE_WRITE)
            sc_xenbus_device_fail(dev, -err,
                                  "backing store \"%.200s\" is in use (mounted or claimed by "
                                  "another writer): unmount it or stop the other writer; "
                                  "mode w opens it exclusively, w! shares it",
                                  params);
        else
            sc_xenbus_device_fail(dev, -err, "cannot open the backing store \"%.200s\": check the "
                                  "disk's target= (it must exist and be readable by sidecored)",
                                  params);
        free(params);
        return -err;
    }
    bd->store = s;
    bd->info = *blk_store_get_info(s);
    if (bd->info.read_only && !bd->read_only) {
        sc_log(SC_LOG_INFO, dev->name, "%s is read-only: exporting it read-only", params);
        bd->read_only = true;
    }
    free(bd->params);
    bd->params = params;
    sc_log(SC_LOG_INFO, dev->name,
           "store %s: %llu bytes, sector %u/%u, %s%s%s%s", params,
           (unsigned long long)bd->info.size_bytes, bd->info.logical_sector,
           bd->info.physical_sector,
           bd->read_only ? "read-only" : bd->write_shared ? "writable, shared" : "writable",
           bd->info.flush ? ", flush" : "", offer_discard(bd) ? ", discard" : "",
           bd->info.discard_secure && offer_discard(bd) ? " (secure)" : "");
    return 0;
}

static void dev_free(struct blk_dev *bd)
{
    if (!bd)
        return;
    blk_store_close(bd->store);
    free(bd->params);
    free(bd->vqs);
    free(bd);
}

static int blk_probe(struct sc_device *dev)
{
    struct blk_dev *bd = calloc(1, sizeof(*bd));
    if (!bd)
        return -ENOMEM;
    bd->dev = dev;
    bd->bc = class_of(dev);
    struct xs_handle *xs = sc_xenbus_xs(dev->bus);
    const char *bp = dev->backend_path;

    char *mode = sc_xs_read_str(xs, XBT_NULL, "%s/mode", bp);
    if (!mode) {
        int err = errno;
        sc_xenbus_device_fail(dev, -err, "reading %s/mode", bp);
        dev_free(bd);
        return -err;
    }
    int rc = parse_mode(mode, &bd->read_only, &bd->write_shared);
    if (rc < 0)
        sc_xenbus_device_fail(dev, rc, "mode \"%.32s\" is not r, w or w!: fix the disk's "
                              "access= (xl) or %s/mode", mode, bp);
    free(mode);
    if (rc < 0) {
        dev_free(bd);
        return rc;
    }

    /* device-type: the toolstack's copy, else (as Linux) the frontend's. */
    char *dtype = sc_xs_read_str(xs, XBT_NULL, "%s/device-type", bp);
    if (!dtype && dev->frontend_path)
        dtype = sc_xs_read_str(xs, XBT_NULL, "%s/device-type", dev->frontend_path);
    bd->cdrom = dtype && strcmp(dtype, "cdrom") == 0;
    free(dtype);
    bd->removable = read_bool_opt(bd, bp, "removable", false);
    bd->discard_enable = read_bool_opt(bd, bp, "discard-enable", true);
    char *type = sc_xs_read_str(xs, XBT_NULL, "%s/type", bp);

    rc = open_store(bd);
    if (rc < 0) {
        free(type);
        dev_free(bd);
        return rc;
    }
    if (rc == NO_PARAMS)
        sc_log(SC_LOG_INFO, dev->name, "no params yet: waiting for the toolstack");

    rc = sc_xs_transact(xs, probe_keys_txn, bd);
    if (rc < 0) {
        sc_xenbus_device_fail(dev, rc, "writing the feature keys");
        free(type);
        dev_free(bd);
        return rc;
    }
    sc_log(SC_LOG_INFO, dev->name, "probed: type %s, %s%s, max %u queues, ring order %u, "
           "indirect %u, persistent %u",
           type ? type : "-", bd->read_only ? "read-only" : "writable",
           bd->cdrom ? ", cdrom" : "", bd->bc->cfg.max_queues, bd->bc->cfg.max_ring_page_order,
           bd->bc->cfg.max_indirect_segments, bd->bc->cfg.max_persistent_grants);
    free(type);
    dev->priv = bd;
    return 0;
}

static void blk_remove(struct sc_device *dev)
{
    dev_free(dev->priv);
    dev->priv = NULL;
}

/* params written after probe: open the store now (the frontend sees the
 * features once we are Connected).  A store already open stays: changing
 * media under a frontend is not supported (as Linux for physical-device). */
static void blk_backend_changed(struct sc_device *dev, const char *key)
{
    struct blk_dev *bd = dev->priv;
    if (!bd || strcmp(key, "params") != 0)
        return;
    if (bd->store) {
        char *p = sc_xs_read_str(xs_of(bd), XBT_NULL, "%s/params", dev->backend_path);
        if (p && bd->params && strcmp(p, bd->params) != 0)
            sc_log(SC_LOG_WARN, dev->name,
                   "params changed to \"%.200s\": changing the store is not supported", p);
        free(p);
        return;
    }
    if (open_store(bd) != 0)
        return;
    int rc = sc_xs_transact(xs_of(bd), probe_keys_txn, bd);
    if (rc < 0)
        sc_log(SC_LOG_WARN, dev->name, "writing the feature keys: %s", strerror(-rc));
}

/* ---- the frontend's keys ---- */

/* Ring refs and event channel of one queue, from `dir`. */
static int read_queue_keys(struct blk_dev *bd, const char *dir, struct blk_queue_params *p,
                           evtchn_port_t *evtchn)
{
    struct sc_device *dev = bd->dev;
    unsigned long long v;
    int rc = sc_fe_read_uint(dev, dir, "event-channel", UINT32_MAX, &v);
    if (rc < 0)
        return rc;
    *evtchn = (evtchn_port_t)v;

    char key[24];
    for (unsigned i = 0; i < p->ring_pages; i++) {
        if (bd->ring_order == UINT32_MAX) { /* no ring-page-order: legacy single page */
            rc = sc_fe_read_uint(dev, dir, "ring-ref", UINT32_MAX, &v);
        } else {
            snprintf(key, sizeof(key), "ring-ref%u", i);
            rc = sc_fe_read_uint_opt(dev, dir, key, UINT32_MAX, UINT32_MAX, &v);
            if (rc == 1 && bd->ring_order == 0) /* order 0 written with "ring-ref" */
                rc = sc_fe_read_uint(dev, dir, "ring-ref", UINT32_MAX, &v);
            else if (rc == 1)
                rc = sc_fe_key_fail(dev, -ENOENT, dir, key);
        }
        if (rc < 0)
            return rc;
        p->ring_refs[i] = (grant_ref_t)v;
    }
    return 0;
}

/* Protocol, persistent grants, queue count and ring order: the keys at the
 * top of the frontend directory.  0 or -errno (device failed). */
static int read_frontend_globals(struct blk_dev *bd, unsigned *nqueues)
{
    struct sc_device *dev = bd->dev;
    const char *fp = dev->frontend_path;
    char *proto = sc_xs_read_str(xs_of(bd), XBT_NULL, "%s/protocol", fp);
    if (!proto && errno != ENOENT)
        return sc_fe_key_fail(dev, -errno, fp, "protocol");
    int rc = blk_abi_from_protocol(proto, &bd->abi);
    if (rc < 0) {
        sc_xenbus_device_fail(dev, -ENOSYS, "frontend protocol \"%.64s\" is not served (native, "
                              "x86_32-abi or x86_64-abi): the guest's blkfront is unsupported",
                              proto);
        free(proto);
        return -ENOSYS;
    }
    free(proto);

    bd->persistent = offer_persistent(bd) && read_bool_opt(bd, fp, "feature-persistent", false);
    rc = sc_fe_num_queues(dev, bd->bc->cfg.max_queues, nqueues);
    if (rc < 0)
        return rc;

    unsigned long long v;
    rc = sc_fe_read_uint_opt(dev, fp, "ring-page-order", UINT32_MAX, UINT32_MAX, &v);
    if (rc < 0)
        return rc;
    if (rc == 1) {
        bd->ring_order = UINT32_MAX; /* legacy: one page, "ring-ref" */
        return 0;
    }
    if (v > bd->bc->cfg.max_ring_page_order) {
        sc_xenbus_device_fail(dev, -EINVAL, "ring-page-order %llu exceeds the maximum %u", v,
                              bd->bc->cfg.max_ring_page_order);
        return -EINVAL;
    }
    bd->ring_order = (unsigned)v;
    return 0;
}

/* ---- connect / disconnect ---- */

/* The core refused a queue (answered on the control thread). */
static void vq_added(struct sc_attach *a, int result)
{
    struct blk_vq *vq = a->owner;
    if (result < 0)
        sc_xenbus_device_fail(vq->bd->dev, result, "%s: adding it to a sidecore", a->q->name);
}

/* Every queue is off its core (or never got on one) and freed. */
static void vqs_detached(struct sc_attach_group *g)
{
    struct blk_dev *bd = g->owner;
    free(bd->vqs);
    bd->vqs = NULL;
    bd->nvqs = 0;
    sc_log(SC_LOG_INFO, bd->dev->name, "disconnected");
    sc_xenbus_device_disconnected(bd->dev); /* if the bus was told to wait */
}

/* A queue is off its core (or never got on one): free it. */
static void vq_detached(struct sc_attach *a, int result)
{
    (void)result;
    struct blk_vq *vq = a->owner;
    blk_queue_destroy(vq->q);
    vq->q = NULL;
    sc_membudget_release(&vq->mem);
}

/* Sets up queue i: ring mapped, then on a core with its event channel. */
static int start_queue(struct blk_dev *bd, unsigned i, struct blk_queue_params *p,
                       evtchn_port_t evtchn)
{
    struct sc_device *dev = bd->dev;
    struct blk_vq *vq = &bd->vqs[i];

    snprintf(p->name, sizeof(p->name), "%.35s q%u", dev->name, i);
    p->dir_limit = sc_pool_dir_limit(bd->bc->pool, p->frontend_id);
    /* its memory reserved first: a queue that does not fit is never made */
    uint64_t cost = blk_queue_mem_cost(p) + sc_pool_queue_overhead(bd->bc->pool);
    int rc = sc_class_reserve_queue(dev, bd->bc->pool, i, cost, &vq->mem);
    if (rc < 0)
        return rc;
    vq->q = blk_queue_create(p);
    if (!vq->q) {
        int err = errno ? errno : EIO;
        sc_membudget_release(&vq->mem);
        sc_xenbus_device_fail(dev, -err, "queue %u: mapping ring (%u pages, first ref %u)", i,
                              p->ring_pages, p->ring_refs[0]);
        return -err;
    }
    blk_queue_sc(vq->q)->mem_reserved = cost;
    rc = sc_attach_queue(&vq->at, bd->bc->pool, blk_queue_sc(vq->q), &evtchn, 1);
    if (rc < 0) {
        sc_xenbus_device_fail(dev, rc, "queue %u: putting it on a sidecore (event channel %u)",
                              i, evtchn);
        return rc;
    }
    sc_log(SC_LOG_DEBUG, dev->name, "q%u: %u ring pages, port %d -> %u, on %s", i,
           p->ring_pages, blk_queue_sc(vq->q)->port, evtchn, sc_core_name(vq->at.core));
    return 0;
}

/* Takes every queue off its core without waiting: the removals complete
 * as each queue's in-flight I/O does (a hung store holds only this device:
 * the bus keeps it short of Closed meanwhile). */
static void blk_disconnect(struct sc_device *dev)
{
    struct blk_dev *bd = dev->priv;
    if (!bd || !bd->vqs || sc_detach_group_busy(&bd->detach))
        return;
    struct sc_attach *members[BLK_MAX_QUEUES];
    unsigned n = 0;
    for (unsigned i = bd->nvqs; i-- > 0;)
        if (bd->vqs[i].q)
            members[n++] = &bd->vqs[i].at;
    bd->detach = (struct sc_attach_group){ .owner = bd, .done = vqs_detached };
    if (sc_detach_group(&bd->detach, members, n) > 0)
        sc_xenbus_device_disconnect_pending(dev);
}

static int blk_connect(struct sc_device *dev)
{
    struct blk_dev *bd = dev->priv;
    if (bd->vqs)
        blk_disconnect(dev); /* the bus pairs calls; be safe anyway */
    if (bd->vqs)
        return -EBUSY; /* still draining: the bus never gets here */
    if (!bd->store) {
        int rc = open_store(bd);
        if (rc == NO_PARAMS) {
            sc_xenbus_device_fail(dev, -ENOENT,
                                  "no backing store: %s/params is empty or missing (give the "
                                  "disk a target=)", dev->backend_path);
            return rc;
        }
        if (rc < 0)
            return rc;
    }
    /* The file may have grown while nobody was connected. */
    struct blk_store_info fresh;
    int rc = blk_store_refresh(bd->store, &fresh);
    if (rc == 0)
        bd->info = fresh;
    else
        sc_log(SC_LOG_WARN, dev->name, "re-reading the store's size: %s", strerror(-rc));
    if (bd->info.read_only)
        bd->read_only = true;
    blk_store_clear_wb_error(bd->store); /* a new connection learns anew */

    unsigned nq = 0;
    rc = read_frontend_globals(bd, &nq);
    if (rc < 0)
        return rc;
    bd->vqs = calloc(nq, sizeof(*bd->vqs));
    if (!bd->vqs) {
        sc_xenbus_device_fail(dev, -ENOMEM, "allocating %u queues", nq);
        return -ENOMEM;
    }
    bd->nvqs = nq;
    for (unsigned i = 0; i < nq; i++) {
        bd->vqs[i].bd = bd;
        bd->vqs[i].at.owner = &bd->vqs[i];
        bd->vqs[i].at.added = vq_added;
        bd->vqs[i].at.detached = vq_detached;
    }

    struct blk_queue_params p = {
        .xen = sc_xenbus_xen(dev->bus),
        .frontend_id = dev->frontend_id,
        .abi = bd->abi,
        .ring_pages = bd->ring_order == UINT32_MAX ? 1u : 1u << bd->ring_order,
        .store = bd->store,
        .persistent = bd->persistent,
        .max_persistent_grants = bd->bc->cfg.max_persistent_grants,
    };
    limits_of(bd, &p.limits);
    for (unsigned i = 0; i < nq; i++) {
        char dir[600];
        if (sc_fe_queue_dir(dev, nq, i, dir, sizeof(dir)) < 0) {
            sc_xenbus_device_fail(dev, -ENAMETOOLONG, "queue %u: directory name too long", i);
            return -ENAMETOOLONG;
        }
        evtchn_port_t evtchn;
        rc = read_queue_keys(bd, dir, &p, &evtchn);
        if (rc == 0)
            rc = start_queue(bd, i, &p, evtchn);
        if (rc < 0)
            return rc; /* the bus calls disconnect, which undoes the rest */
    }

    rc = sc_xs_transact(xs_of(bd), connect_keys_txn, bd);
    if (rc < 0) {
        sc_xenbus_device_fail(dev, rc, "writing the connect-time keys");
        return rc;
    }
    char ind[24] = "";
    if (p.limits.max_indirect_segments)
        snprintf(ind, sizeof(ind), ", indirect %u", p.limits.max_indirect_segments);
    sc_log(SC_LOG_INFO, dev->name, "connected: %u queue%s, ring order %u%s%s, %s, %llu sectors%s",
           nq, nq == 1 ? "" : "s", bd->ring_order == UINT32_MAX ? 0 : bd->ring_order,
           bd->persistent ? ", persistent" : "", ind, blk_abi_str(bd->abi),
           (unsigned long long)disk_sectors(bd), bd->read_only ? ", read-only" : "");
    return 0;
}

/* ---- resize ---- */

struct resize_txn {
    const char *dir;
    uint64_t sectors;
    bool resignal;   /* out: state rewritten */
};

/* As Linux's xen_vbd_resize: the new size, and our state written again in
 * the same transaction so the frontend's state watch fires and it re-reads
 * the size.  Only while the store still says Connected: a toolstack's
 * Closing must not be overwritten. */
static int resize_txn(struct xs_handle *xs, xs_transaction_t t, void *arg)
{
    struct resize_txn *r = arg;
    unsigned long long st;
    int rc = sc_xs_read_uint(xs, t, 255, &st, "%s/state", r->dir);
    if (rc < 0)
        return rc;
    rc = sc_xs_write_uint(xs, t, r->sectors, "%s/sectors", r->dir);
    r->resignal = rc == 0 && st == XenbusStateConnected;
    if (r->resignal)
        rc = sc_xs_write_uint(xs, t, XenbusStateConnected, "%s/state", r->dir);
    return rc;
}

int blk_device_check_resize(struct sc_device *dev)
{
    if (!blk_device_is_vbd(dev))
        return -EINVAL;
    struct blk_dev *bd = dev->priv;
    if (!bd || !bd->store)
        return 0;
    struct blk_store_info fresh;
    int rc = blk_store_refresh(bd->store, &fresh);
    if (rc < 0) {
        sc_log(SC_LOG_WARN, dev->name, "re-reading the store's size: %s", strerror(-rc));
        return rc;
    }
    uint64_t old = disk_sectors(bd);
    bd->info = fresh;
    if (bd->info.read_only)
        bd->read_only = true;
    uint64_t now = disk_sectors(bd);
    if (now == old)
        return 0;
    sc_log(SC_LOG_INFO, dev->name, "resized: %llu -> %llu sectors", (unsigned long long)old,
           (unsigned long long)now);
    if (!bd->vqs)
        return 1; /* not connected: the next connect writes the size */
    /* The queues first: a frontend that sees the new size may use it at once. */
    for (unsigned i = 0; i < bd->nvqs; i++)
        if (bd->vqs[i].q)
            blk_queue_set_disk_sectors(bd->vqs[i].q, now);
    struct resize_txn r = { .dir = dev->backend_path, .sectors = now };
    rc = sc_xs_transact(xs_of(bd), resize_txn, &r);
    if (rc < 0) {
        sc_log(SC_LOG_WARN, dev->name, "writing the new size: %s", strerror(-rc));
        return rc;
    }
    return 1;
}

/* ---- the class ---- */

static const char *const blk_backend_keys[] = { "params", NULL };

static bool same_config(const struct blk_config *a, const struct blk_config *b)
{
    return a->max_ring_page_order == b->max_ring_page_order && a->max_queues == b->max_queues &&
           a->max_indirect_segments == b->max_indirect_segments &&
           a->max_persistent_grants == b->max_persistent_grants && a->discard == b->discard;
}

const struct sc_device_class *blk_device_class(const char *type, struct sc_pool *pool,
                                               const struct blk_config *cfg)
{
    if (!type || !*type || strlen(type) >= BLK_TYPE_MAX || strchr(type, '/') || !pool || !cfg ||
        cfg->max_ring_page_order > BLK_MAX_RING_ORDER || cfg->max_queues == 0 ||
        cfg->max_queues > BLK_MAX_QUEUES || cfg->max_indirect_segments > BLK_MAX_SEGMENTS) {
        errno = EINVAL;
        return NULL;
    }
    for (struct blk_class *c = all_classes; c; c = c->next)
        if (c->pool == pool && !strcmp(c->type, type) && same_config(&c->cfg, cfg))
            return &c->cls;
    struct blk_class *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    snprintf(c->type, sizeof(c->type), "%s", type);
    c->pool = pool;
    c->cfg = *cfg;
    c->cls = (struct sc_device_class){
        .type = c->type,
        .backend_keys = blk_backend_keys,
        .probe = blk_probe,
        .connect = blk_connect,
        .disconnect = blk_disconnect,
        .remove = blk_remove,
        .backend_changed = blk_backend_changed,
    };
    c->next = all_classes;
    all_classes = c;
    return &c->cls;
}

int blk_device_foreach_queue(struct sc_device *dev, sc_queue_visit_fn *fn, void *arg)
{
    if (!blk_device_is_vbd(dev) || !fn)
        return -EINVAL;
    const struct blk_dev *bd = dev->priv;
    for (unsigned i = 0; bd && i < bd->nvqs; i++) {
        const struct blk_vq *vq = &bd->vqs[i];
        if (!vq->q || !sc_attach_busy(&vq->at))
            continue;
        int r = fn(blk_queue_sc(vq->q), vq->at.core, arg);
        if (r)
            return r;
    }
    return 0;
}

/* ---- the devices view ---- */

/* 1234567 bytes -> "1.2MiB" */

bool blk_device_is_vbd(const struct sc_device *dev)
{
    return dev && dev->cls && dev->cls->probe == blk_probe;
}
