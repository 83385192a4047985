/*
 * echoback - the benchmark's floor: a vbd backend that answers every request
 * BLKIF_RSP_OKAY without validating it and without any I/O.
 *
 *   echoback [sidecored's options: --cores N, --mode poll|event, --ctl PATH,
 *             --ready-fd N, --poll-idle-us N, --log-level L, --tenant ...]
 *
 * It is sidecored with blkback swapped for the minimal device class below:
 * the same daemon (sc_daemon: xenstore bus, control socket, sidecorectl
 * works), the same core pool and the same sidecore loop (fair share, event
 * suppression while polling, RING_FINAL_CHECK_FOR_REQUESTS re-arm, epoll
 * sleep, one notify per ring per round).  So "sidecore vs floor" measures
 * exactly what blkback adds per request: copying and validating the
 * request, grant mapping/copying, the store and io_uring.
 *
 * The class:
 *   probe    params must be "null:<size>" (K/M/G/T) or an existing file or
 *            block device (its size); no feature is offered: one queue,
 *            one ring page, no persistent grants, no indirect, no flush,
 *            no discard.
 *   connect  native protocol only, one queue, one ring page (frontend
 *            keys read through backend/fe_keys.h); maps "ring-ref" (or
 *            "ring-ref0" with ring-page-order 0) and puts the ring on a
 *            core with "event-channel" bound there, through the engine's
 *            backend/queue_attach.h, as blkback does; writes sectors,
 *            info 0, sector-size 512.
 *   disconnect  posts the queue's removal and returns; the ring is
 *            unmapped once the core lets go (the bus holds the device
 *            short of Closed meanwhile).
 *   poll     for each request: its id and operation are copied into a
 *            response with status OKAY.  Reads return whatever the guest
 *            page held, so the frontend must not verify.
 * The one check kept is the producer-index overflow test, once per visit:
 * without it a garbage req_prod would spin the core forever.
 *
 * Threads: as sidecored (daemon.h): the control thread runs the class and
 * the attach/detach callbacks (from the daemon loop's sc_pool_reap), the
 * core thread runs the queue ops.  Exit codes as sidecored.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <linux/fs.h>

#include "xen_ring.h"
#include <xen/io/blkif.h>
#include <xen/io/protocols.h>

#include "config.h"
#include "corepool.h"
#include "daemon.h"
#include "devclass.h"
#include "fe_keys.h"
#include "log.h"
#include "queue.h"
#include "queue_attach.h"
#include "sidecore.h"
#include "xenbus.h"


#define ECHO_SECTOR_SIZE 512u
#define ECHO_PAGE_SIZE   4096u

/* One ring.  Control-thread fields are set before the queue is attached
 * (queue_attach.h posts the ADD); `ring` belongs to the core thread while
 * the queue is on it. */
struct echo_queue {
    struct sc_queue sc;        /* first: the ops get &sc */
    struct sc_xen *xen;
    struct sc_device *dev;     /* the device it serves */
    void *ring_page;           /* mapped guest page, NULL if not */
    blkif_back_ring_t ring;    /* core thread */
    struct sc_attach at;       /* its place on a core */
};

/* dev->priv; control thread. */
struct echo_dev {
    uint64_t sectors;          /* 512-byte units */
    struct echo_queue *q;      /* NULL while not connected */
};

static struct sc_pool *echo_pool;

/* ---- the data path (core thread) ---- */

static struct echo_queue *eq_of(struct sc_queue *sq)
{
    return (struct echo_queue *)sq;
}

static uint64_t request_bytes(const blkif_request_t *req)
{
    if (req->operation != BLKIF_OP_READ && req->operation != BLKIF_OP_WRITE)
        return 0;
    unsigned n = req->nr_segments;
    if (n > BLKIF_MAX_SEGMENTS_PER_REQUEST)
        n = BLKIF_MAX_SEGMENTS_PER_REQUEST;
    uint64_t bytes = 0;
    for (unsigned i = 0; i < n; i++)
        bytes += (uint64_t)(uint8_t)(req->seg[i].last_sect - req->seg[i].first_sect + 1) *
                 ECHO_SECTOR_SIZE;
    return bytes;
}

static int echo_poll(struct sc_queue *sq, const struct sc_sched_grant *g, struct sc_visit *v)
{
    struct echo_queue *q = eq_of(sq);
    blkif_back_ring_t *ring = &q->ring;
    RING_IDX prod = ring->sring->req_prod;
    xen_rmb(); /* the requests before req_prod are visible */
    if (RING_REQUEST_PROD_OVERFLOW(ring, prod)) {
        sc_log_rl(SC_LOG_ERR, sq->name, "producer index overflow: ring shut down");
        return -EPROTO;
    }
    RING_IDX cons = ring->req_cons;
    while (cons != prod) {
        const blkif_request_t *req = RING_GET_REQUEST(ring, cons);
        uint64_t bytes = request_bytes(req);
        if (!sc_sched_grant_admits(g, v->bytes, v->requests, bytes)) {
            v->more = true;
            break;
        }
        /* Request and response share the slot: take id and op first. */
        uint64_t id = req->id;
        uint8_t op = req->operation;
        blkif_response_t *rsp = RING_GET_RESPONSE(ring, ring->rsp_prod_pvt);
        rsp->id = id;
        rsp->operation = op;
        rsp->status = BLKIF_RSP_OKAY;
        ring->rsp_prod_pvt++;
        cons++;
        v->requests++;
        v->bytes += bytes;
    }
    ring->req_cons = cons;
    if (v->requests)
        sc_queue_mark_dirty(sq);
    return 0;
}

static void echo_flush(struct sc_queue *sq)
{
    struct echo_queue *q = eq_of(sq);
    int notify;
    RING_PUSH_RESPONSES_AND_CHECK_NOTIFY(&q->ring, notify);
    if (notify)
        sc_queue_notify(sq);
}

static bool echo_rearm(struct sc_queue *sq)
{
    struct echo_queue *q = eq_of(sq);
    int more;
    RING_FINAL_CHECK_FOR_REQUESTS(&q->ring, more);
    return more != 0;
}

static bool echo_idle(struct sc_queue *sq)
{
    (void)sq;
    return true; /* nothing is ever in flight */
}

static const struct sc_queue_ops echo_ops = {
    .poll = echo_poll,
    .flush = echo_flush,
    .rearm = echo_rearm,
    .idle = echo_idle,
};

/* ---- the device class (control thread) ---- */

/* "null:<size>" with an optional K/M/G/T suffix, or the size of a file or
 * block device.  0 or -errno. */
static int target_bytes(const char *params, uint64_t *out)
{
    if (!strncmp(params, "null:", 5)) {
        char *end;
        errno = 0;
        unsigned long long v = strtoull(params + 5, &end, 10);
        if (errno || end == params + 5)
            return -EINVAL;
        unsigned shift = 0;
        switch (*end) {
        case 'k': case 'K': shift = 10; end++; break;
        case 'm': case 'M': shift = 20; end++; break;
        case 'g': case 'G': shift = 30; end++; break;
        case 't': case 'T': shift = 40; end++; break;
        default: break;
        }
        if (*end || v > (UINT64_MAX >> shift))
            return -EINVAL;
        *out = (uint64_t)v << shift;
        return 0;
    }
    const char *path = params;
    if (!strncmp(path, "file:", 5) || !strncmp(path, "phy:", 4))
        path = strchr(path, ':') + 1;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    struct stat st;
    int rc = fstat(fd, &st) ? -errno : 0;
    if (rc == 0 && S_ISBLK(st.st_mode)) {
        uint64_t sz;
        rc = ioctl(fd, BLKGETSIZE64, &sz) ? -errno : 0;
        st.st_size = (off_t)sz;
    }
    close(fd);
    if (rc == 0)
        *out = (uint64_t)st.st_size;
    return rc;
}

static int echo_probe(struct sc_device *dev)
{
    struct xs_handle *xs = sc_xenbus_xs(dev->bus);
    char *params = sc_xs_read_str(xs, XBT_NULL, "%s/params", dev->backend_path);
    if (!params) {
        int err = errno ? errno : EIO;
        sc_xenbus_device_fail(dev, -err, "reading %s/params", dev->backend_path);
        return -err;
    }
    uint64_t bytes = 0;
    int rc = target_bytes(params, &bytes);
    if (rc < 0) {
        sc_xenbus_device_fail(dev, rc, "params \"%.200s\": not null:<size> or a file", params);
        free(params);
        return rc;
    }
    free(params);
    struct echo_dev *ed = calloc(1, sizeof(*ed));
    if (!ed)
        return -ENOMEM;
    ed->sectors = bytes / ECHO_SECTOR_SIZE;
    dev->priv = ed;
    sc_log(SC_LOG_INFO, dev->name, "probed: %" PRIu64 " sectors, no features", ed->sectors);
    return 0;
}

static void echo_remove(struct sc_device *dev)
{
    free(dev->priv);
    dev->priv = NULL;
}

/* ---- connect / disconnect: the queue on a core through queue_attach.h ---- */

/* The core refused the queue (answered on the control thread). */
static void eq_added(struct sc_attach *a, int result)
{
    struct echo_queue *q = a->owner;
    if (result < 0)
        sc_xenbus_device_fail(q->dev, result, "%s: adding it to a sidecore", q->sc.name);
}

/* The queue is off its core (or never got on one): unmap and free it, and
 * end the disconnect if the bus waits for it. */
static void eq_detached(struct sc_attach *a, int result)
{
    (void)result;
    struct echo_queue *q = a->owner;
    struct sc_device *dev = q->dev;
    struct echo_dev *ed = dev->priv;
    if (q->ring_page)
        sc_gnt_unmap(q->xen, q->ring_page, 1);
    free(q);
    ed->q = NULL;
    sc_log(SC_LOG_INFO, dev->name, "disconnected");
    sc_xenbus_device_disconnected(dev); /* if the bus was told to wait */
}

/* Takes the queue back without waiting for the core: the bus holds this
 * device (only) short of Closed until eq_detached runs. */
static void echo_disconnect(struct sc_device *dev)
{
    struct echo_dev *ed = dev->priv;
    struct echo_queue *q = ed ? ed->q : NULL;
    if (!q)
        return;
    int rc = sc_detach_queue(&q->at);
    if (rc == -EALREADY)
        return;
    if (rc < 0) {
        /* The core may still hold it: leave it to the process's exit. */
        sc_log(SC_LOG_ERR, dev->name, "taking the queue off its core: %s", strerror(-rc));
        ed->q = NULL;
        return;
    }
    if (ed->q) /* eq_detached did not run from inside the call */
        sc_xenbus_device_disconnect_pending(dev);
}

static int connect_keys_txn(struct xs_handle *xs, xs_transaction_t t, void *arg)
{
    const struct sc_device *dev = arg;
    const struct echo_dev *ed = dev->priv;
    int rc = sc_xs_write_uint(xs, t, ed->sectors, "%s/sectors", dev->backend_path);
    if (rc == 0)
        rc = sc_xs_write_uint(xs, t, 0, "%s/info", dev->backend_path);
    if (rc == 0)
        rc = sc_xs_write_uint(xs, t, ECHO_SECTOR_SIZE, "%s/sector-size", dev->backend_path);
    return rc;
}

/* The frontend's keys: native protocol, one queue, one ring page.  0 or
 * -errno (the device failed, fe_keys.h). */
static int read_frontend_keys(struct sc_device *dev, grant_ref_t *ref, evtchn_port_t *evtchn)
{
    const char *fp = dev->frontend_path;
    char *proto = sc_xs_read_str(sc_xenbus_xs(dev->bus), XBT_NULL, "%s/protocol", fp);
    if (!proto && errno != ENOENT)
        return sc_fe_key_fail(dev, -errno, fp, "protocol");
    bool native = !proto || !strcmp(proto, XEN_IO_PROTO_ABI_NATIVE);
    free(proto);
    if (!native) {
        sc_xenbus_device_fail(dev, -ENOSYS, "only the native protocol is echoed");
        return -ENOSYS;
    }
    unsigned nq;
    int rc = sc_fe_num_queues(dev, 1, &nq);
    if (rc < 0)
        return rc;
    unsigned long long v;
    rc = sc_fe_read_uint_opt(dev, fp, "ring-page-order", UINT32_MAX, 0, &v);
    if (rc < 0)
        return rc;
    if (v != 0) {
        sc_xenbus_device_fail(dev, -EINVAL, "ring-page-order %llu: one page only", v);
        return -EINVAL;
    }
    /* "ring-ref", or "ring-ref0" from a frontend that wrote order 0. */
    rc = sc_fe_read_uint_opt(dev, fp, "ring-ref", UINT32_MAX, 0, &v);
    if (rc == 1)
        rc = sc_fe_read_uint_opt(dev, fp, "ring-ref0", UINT32_MAX, 0, &v);
    if (rc == 1)
        rc = sc_fe_key_fail(dev, -ENOENT, fp, "ring-ref");
    if (rc < 0)
        return rc;
    *ref = (grant_ref_t)v;
    rc = sc_fe_read_uint(dev, fp, "event-channel", UINT32_MAX, &v);
    if (rc < 0)
        return rc;
    *evtchn = (evtchn_port_t)v;
    return 0;
}

static int echo_connect(struct sc_device *dev)
{
    struct echo_dev *ed = dev->priv;
    /* The bus calls connect only once the last disconnect has completed
     * (eq_detached), so a queue still here is a bug: refuse, keep it. */
    if (ed->q)
        return -EBUSY;
    grant_ref_t ref;
    evtchn_port_t evtchn;
    int rc = read_frontend_keys(dev, &ref, &evtchn);
    if (rc < 0)
        return rc;

    struct echo_queue *q = calloc(1, sizeof(*q));
    if (!q)
        return -ENOMEM;
    q->xen = sc_xenbus_xen(dev->bus);
    q->dev = dev;
    q->at.owner = q;
    q->at.added = eq_added;
    q->at.detached = eq_detached;
    ed->q = q; /* from here on, disconnect undoes what was done */
    rc = sc_queue_init(&q->sc, &echo_ops, dev->frontend_id, "%.40s q0", dev->name);
    if (rc < 0)
        return rc;
    q->ring_page = sc_gnt_map_batch(q->xen, dev->frontend_id, 1, &ref, true);
    if (!q->ring_page) {
        rc = errno ? -errno : -EIO;
        sc_xenbus_device_fail(dev, rc, "mapping ring-ref %u", ref);
        return rc;
    }
    blkif_sring_t *sring = q->ring_page;
    /* Attach (not init): requests left by an earlier connection are answered. */
    BACK_RING_ATTACH(&q->ring, sring, sring->rsp_prod, ECHO_PAGE_SIZE);
    rc = sc_attach_queue(&q->at, echo_pool, &q->sc, &evtchn, 1);
    if (rc < 0) {
        sc_xenbus_device_fail(dev, rc, "putting the queue on a sidecore (event channel %u)",
                              evtchn);
        return rc;
    }
    rc = sc_xs_transact(sc_xenbus_xs(dev->bus), connect_keys_txn, dev);
    if (rc < 0) {
        sc_xenbus_device_fail(dev, rc, "writing sectors/info/sector-size");
        return rc;
    }
    sc_log(SC_LOG_INFO, dev->name, "connected: 1 ring page, on %s", sc_core_name(q->at.core));
    return 0;
}

static struct sc_device_class echo_class = {
    .probe = echo_probe,
    .connect = echo_connect,
    .disconnect = echo_disconnect,
    .remove = echo_remove,
};

static const struct sc_device_class *device_class(const char *type, struct sc_pool *pool,
                                                  const void *cfg)
{
    (void)cfg;
    if (strcmp(type, "vbd") != 0 || (echo_pool && echo_pool != pool)) {
        errno = EINVAL;
        return NULL;
    }
    echo_pool = pool;
    echo_class.type = "vbd";
    return &echo_class;
}

static int foreach_queue(struct sc_device *dev, sc_queue_visit_fn *fn, void *arg)
{
    if (!dev || dev->cls != &echo_class || !fn)
        return -EINVAL;
    const struct echo_dev *ed = dev->priv;
    if (!ed || !ed->q || !sc_attach_busy(&ed->q->at))
        return 0;
    return fn(&ed->q->sc, ed->q->at.core, arg);
}

/* The floor serves backend/vbd under the vbd name, without its settings. */
static const struct sc_class_type echo_types[] = { { "vbd", true }, { NULL, false } };
static const struct sc_class_module echo_module = {
    .name = "vbd",
    .types = echo_types,
    .device_class = device_class,
    .foreach_queue = foreach_queue,
};
static const struct sc_class_module *const modules[] = { &echo_module, NULL };

int main(int argc, char **argv)
{
    return sc_daemon_main("echoback", modules, argc, argv);
}
