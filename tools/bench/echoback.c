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
 *            backend/queue_attach.h, as blkback does (lib/floor_dev.h,
 *            shared with netecho); writes sectors, info 0, sector-size 512.
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
#include "lib/floor_dev.h"
#include "log.h"
#include "queue.h"
#include "sidecore.h"
#include "xenbus.h"

#define ECHO_SECTOR_SIZE 512u
#define ECHO_PAGE_SIZE   4096u

/* One ring (floor_dev.h): `ring` belongs to the core thread while the
 * queue is on it. */
struct echo_queue {
    struct floor_queue fq;     /* first: the ops get &fq.sc */
    blkif_back_ring_t ring;    /* core thread */
};

/* dev->priv; control thread. */
struct echo_dev {
    struct floor_dev fd;       /* first: its queue */
    uint64_t sectors;          /* 512-byte units */
};

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

/* ---- connect: the queue on a core through floor_dev.h ---- */

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
    grant_ref_t ref;
    evtchn_port_t evtchn;
    int rc = read_frontend_keys(dev, &ref, &evtchn);
    if (rc < 0)
        return rc;
    struct floor_queue *fq;
    rc = floor_queue_create(dev, sizeof(struct echo_queue), &echo_ops, &ref, 1, &fq);
    if (rc < 0)
        return rc;
    struct echo_queue *q = eq_of(&fq->sc);
    blkif_sring_t *sring = fq->pages[0];
    /* Attach (not init): requests left by an earlier connection are answered. */
    BACK_RING_ATTACH(&q->ring, sring, sring->rsp_prod, ECHO_PAGE_SIZE);
    rc = floor_queue_attach(fq, &evtchn, 1);
    if (rc < 0)
        return rc;
    rc = sc_xs_transact(sc_xenbus_xs(dev->bus), connect_keys_txn, dev);
    if (rc < 0) {
        sc_xenbus_device_fail(dev, rc, "writing sectors/info/sector-size");
        return rc;
    }
    sc_log(SC_LOG_INFO, dev->name, "connected: 1 ring page, on %s", sc_core_name(fq->at.core));
    return 0;
}

static const struct sc_device_class echo_class = {
    .type = "vbd",
    .probe = echo_probe,
    .connect = echo_connect,
    .disconnect = floor_disconnect,
    .remove = floor_remove,
};

static const struct sc_device_class *device_class(const char *type, struct sc_pool *pool,
                                                  const void *cfg)
{
    (void)cfg;
    return floor_device_class(&echo_class, type, pool);
}

/* The floor serves backend/vbd under the vbd name, without its settings. */
static const struct sc_class_type echo_types[] = { { "vbd", true }, { NULL, false } };
static const struct sc_class_module echo_module = {
    .name = "vbd",
    .types = echo_types,
    .device_class = device_class,
    .foreach_queue = floor_foreach_queue,
};
static const struct sc_class_module *const modules[] = { &echo_module, NULL };

int main(int argc, char **argv)
{
    return sc_daemon_main("echoback", modules, argc, argv);
}
