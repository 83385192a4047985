/*
 * floor_dev.h - the benchmark floors' one-queue device: what echoback (vbd)
 * and netecho (vif) do around their ring, so each of them holds only its
 * protocol (feature and frontend keys, the ring type, the poll).
 *
 * A floor device has at most one queue: the frontend's ring pages mapped
 * (one grant each), the queue put on a core of the process's one pool with
 * the frontend's event channels bound there (backend/queue_attach.h, as
 * blkback and netback do), and taken back at disconnect without waiting:
 * the bus holds the device short of Closed until the core lets go, then
 * the pages are unmapped and the queue freed.
 *
 * The class's own structs begin with the floor's: its queue struct with a
 * struct floor_queue (whose first member is the struct sc_queue the ops
 * get), its dev->priv with a struct floor_dev.  The class's disconnect and
 * remove are floor_disconnect and floor_remove; its module's foreach_queue
 * is floor_foreach_queue.
 *
 * Threads: control thread, like the bus; the queue's ops run on its core.
 * Returns: 0 or -errno, the device failed with the reason (xenbus.h)
 * where a step about the device fails; NULL + errno for the class.
 */
#ifndef SC_FLOOR_DEV_H
#define SC_FLOOR_DEV_H

#include <stddef.h>

#include "corepool.h"
#include "devclass.h"
#include "queue.h"
#include "queue_attach.h"
#include "xenbus.h"

#define FLOOR_MAX_PAGES 2u /* netif's tx and rx rings; blkif's one */

/* One queue.  The control thread sets it up before the ADD is posted;
 * from then on only its core touches the class's ring state. */
struct floor_queue {
    struct sc_queue sc;             /* first: the ops get &sc */
    struct sc_xen *xen;
    struct sc_device *dev;          /* the device it serves */
    void *pages[FLOOR_MAX_PAGES];   /* the frontend's ring pages, NULL if not mapped */
    struct sc_attach at;            /* its place on a core */
};

/* The beginning of dev->priv: control thread. */
struct floor_dev {
    struct floor_queue *q;          /* NULL while not connected */
};

/* The module's device_class for a floor: cls (its type set) when type is
 * that type, over `pool`, the one pool of the process.  NULL + EINVAL
 * otherwise. */
const struct sc_device_class *floor_device_class(const struct sc_device_class *cls,
                                                 const char *type, struct sc_pool *pool);

/* From the class's connect: a queue of `size` bytes (the class's struct,
 * a struct floor_queue first, zeroed) named "<device> q0", serving ops,
 * with the frontend's refs[0..nrefs-1] mapped writable, one page each,
 * into pages[].  *out is the new queue, and is dev's from the allocation
 * on, so the disconnect the bus always pairs with connect undoes a failed
 * step.  -EBUSY if dev still has one (the bus never connects then). */
int floor_queue_create(struct sc_device *dev, size_t size, const struct sc_queue_ops *ops,
                       const grant_ref_t *refs, unsigned nrefs, struct floor_queue **out);
/* Puts q, its ring attached, on a core with the frontend's event channels
 * ports[0..nports-1] (1 or 2) bound there. */
int floor_queue_attach(struct floor_queue *q, const evtchn_port_t *ports, unsigned nports);

/* The class's disconnect: takes the queue back without waiting. */
void floor_disconnect(struct sc_device *dev);
/* The class's remove: frees dev->priv. */
void floor_remove(struct sc_device *dev);
/* The module's foreach_queue: fn on dev's queue while it is on a core. */
int floor_foreach_queue(struct sc_device *dev, sc_queue_visit_fn *fn, void *arg);
/* dev's queue, or NULL (not a floor device, or not connected). */
struct floor_queue *floor_queue_of(const struct sc_device *dev);

#endif
