/*
 * floor_dev.c - the benchmark floors' one-queue device (floor_dev.h).
 */
#include "floor_dev.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

static struct sc_pool *floor_pool;

const struct sc_device_class *floor_device_class(const struct sc_device_class *cls,
                                                 const char *type, struct sc_pool *pool)
{
    if (!cls || !type || strcmp(type, cls->type) != 0 || !pool ||
        (floor_pool && floor_pool != pool)) {
        errno = EINVAL;
        return NULL;
    }
    floor_pool = pool;
    return cls;
}

static bool is_floor(const struct sc_device *dev)
{
    return dev && dev->cls && dev->cls->disconnect == floor_disconnect;
}

struct floor_queue *floor_queue_of(const struct sc_device *dev)
{
    const struct floor_dev *fd = is_floor(dev) ? dev->priv : NULL;
    return fd ? fd->q : NULL;
}

/* The core refused the queue (answered on the control thread). */
static void queue_added(struct sc_attach *a, int result)
{
    struct floor_queue *q = a->owner;
    if (result < 0)
        sc_xenbus_device_fail(q->dev, result, "%s: adding it to a sidecore", q->sc.name);
}

/* The queue is off its core (or never got on one): unmap and free it, and
 * end the disconnect if the bus waits for it. */
static void queue_detached(struct sc_attach *a, int result)
{
    (void)result;
    struct floor_queue *q = a->owner;
    struct sc_device *dev = q->dev;
    struct floor_dev *fd = dev->priv;
    for (unsigned i = 0; i < FLOOR_MAX_PAGES; i++)
        if (q->pages[i])
            sc_gnt_unmap(q->xen, q->pages[i], 1);
    free(q);
    fd->q = NULL;
    sc_log(SC_LOG_INFO, dev->name, "disconnected");
    sc_xenbus_device_disconnected(dev); /* if the bus was told to wait */
}

int floor_queue_create(struct sc_device *dev, size_t size, const struct sc_queue_ops *ops,
                       const grant_ref_t *refs, unsigned nrefs, struct floor_queue **out)
{
    struct floor_dev *fd = dev->priv;
    if (size < sizeof(struct floor_queue) || nrefs > FLOOR_MAX_PAGES || (nrefs && !refs))
        return -EINVAL;
    /* The bus calls connect only once the last disconnect has completed
     * (queue_detached), so a queue still here is a bug: refuse, keep it. */
    if (fd->q)
        return -EBUSY;
    struct floor_queue *q = calloc(1, size);
    if (!q)
        return -ENOMEM;
    q->xen = sc_xenbus_xen(dev->bus);
    q->dev = dev;
    q->at = (struct sc_attach){ .owner = q, .added = queue_added, .detached = queue_detached };
    fd->q = q; /* from here on, disconnect undoes what was done */
    *out = q;
    /* netecho's guests share as their vifs would, echoback's as their disks */
    enum sc_tclass tc = strcmp(dev->cls->type, "vif") == 0 ? SC_TCLASS_VIF : SC_TCLASS_VBD;
    int rc = sc_queue_init(&q->sc, ops, dev->frontend_id, tc, "%.40s q0", dev->name);
    if (rc < 0)
        return rc;
    for (unsigned i = 0; i < nrefs; i++) {
        q->pages[i] = sc_gnt_map_batch(q->xen, dev->frontend_id, 1, &refs[i], true);
        if (!q->pages[i]) {
            rc = errno ? -errno : -EIO;
            sc_xenbus_device_fail(dev, rc, "mapping ring page %u (ref %u)", i, refs[i]);
            return rc;
        }
    }
    return 0;
}

int floor_queue_attach(struct floor_queue *q, const evtchn_port_t *ports, unsigned nports)
{
    int rc = sc_attach_queue(&q->at, floor_pool, &q->sc, ports, nports);
    if (rc < 0) {
        if (nports == 2)
            sc_xenbus_device_fail(q->dev, rc,
                                  "putting the queue on a sidecore (event channels %u and %u)",
                                  ports[0], ports[1]);
        else
            sc_xenbus_device_fail(q->dev, rc, "putting the queue on a sidecore (event channel %u)",
                                  nports ? ports[0] : 0);
        return rc;
    }
    return 0;
}

/* Takes the queue back without waiting for the core: the bus holds this
 * device (only) short of Closed until queue_detached runs. */
void floor_disconnect(struct sc_device *dev)
{
    struct floor_dev *fd = dev->priv;
    struct floor_queue *q = fd ? fd->q : NULL;
    if (!q)
        return;
    int rc = sc_detach_queue(&q->at);
    if (rc == -EALREADY)
        return;
    if (rc < 0) {
        /* The core may still hold it: leave it to the process's exit. */
        sc_log(SC_LOG_ERR, dev->name, "taking the queue off its core: %s", strerror(-rc));
        fd->q = NULL;
        return;
    }
    if (fd->q) /* queue_detached did not run from inside the call */
        sc_xenbus_device_disconnect_pending(dev);
}

void floor_remove(struct sc_device *dev)
{
    free(dev->priv);
    dev->priv = NULL;
}

int floor_foreach_queue(struct sc_device *dev, sc_queue_visit_fn *fn, void *arg)
{
    if (!is_floor(dev) || !fn)
        return -EINVAL;
    struct floor_queue *q = floor_queue_of(dev);
    if (!q || !sc_attach_busy(&q->at))
        return 0;
    return fn(&q->sc, q->at.core, arg);
}
