/*
 * blk_dev.h - the vbd device's per-device state, shared by its lifecycle
 * (blk_xenbus.c) and its views (blk_describe.c).  Internal to blkback.
 * Control thread only, like everything on the bus: a device's fields are
 * written by its class callbacks and read by the views between them.
 */
#ifndef SC_BLK_DEV_H
#define SC_BLK_DEV_H

#include <stdbool.h>
#include <stdint.h>

#include "blkback.h"
#include "membudget.h"
#include "queue_attach.h"
#include "xenbus.h"

#define BLK_TYPE_MAX        16u  /* a class's type name, with the NUL */

struct blk_class {
    struct sc_device_class cls; /* first: dev->cls points here */
    char type[BLK_TYPE_MAX];
    struct sc_pool *pool;
    struct blk_config cfg;
    struct blk_class *next;     /* every class made, reachable until exit */
};

/* One ring of a connected device: the queue and its place on a core
 * (queue_attach.h records each step, so a disconnect after a partial
 * connect undoes exactly what was done). */
struct blk_vq {
    struct blk_queue *q;
    struct sc_attach at;
    struct blk_dev *bd;
    struct sc_mem_resv mem;     /* q's memory, held exactly while q exists */
};

/* dev->priv.  Written on the control thread only. */
struct blk_dev {
    struct sc_device *dev;
    const struct blk_class *bc;
    char *params;             /* as the toolstack wrote it */
    bool read_only;           /* mode without 'w' (or the store says so) */
    bool write_shared;        /* mode "w!": a block device is not claimed (O_EXCL) */
    bool cdrom, removable;
    bool discard_enable;      /* the toolstack's discard-enable (default 1) */
    struct blk_store *store;  /* NULL until params is there */
    struct blk_store_info info;

    /* the connection */
    struct blk_vq *vqs;
    unsigned nvqs;
    struct sc_attach_group detach; /* the queues on their way off their cores */
    enum blk_abi abi;
    unsigned ring_order;
    bool persistent;
};

/* True if dev is served by a vbd class (any of its types). */
bool blk_device_is_vbd(const struct sc_device *dev);

/* ---- what we offer ---- */

static inline const struct blk_class *class_of(const struct sc_device *dev)
{
    return (const struct blk_class *)dev->cls;
}

static inline struct xs_handle *xs_of(const struct blk_dev *bd)
{
    return sc_xenbus_xs(bd->dev->bus);
}

/* ---- what we offer ---- */

static inline bool offer_discard(const struct blk_dev *bd)
{
    return bd->store && bd->bc->cfg.discard && bd->discard_enable && bd->info.discard &&
           !bd->read_only;
}

static inline bool offer_persistent(const struct blk_dev *bd)
{
    return bd->bc->cfg.max_persistent_grants > 0;
}

/* Linux offers barriers exactly when it offers flushes: a barrier is a
 * drain (done by the queue) plus a flush of the store's cache. */
static inline bool offer_flush(const struct blk_dev *bd)
{
    return bd->store && bd->info.flush;
}

static inline uint32_t info_bits(const struct blk_dev *bd)
{
    return (bd->cdrom ? VDISK_CDROM : 0u) | (bd->removable ? VDISK_REMOVABLE : 0u) |
           (bd->read_only ? VDISK_READONLY : 0u);
}

static inline uint64_t disk_sectors(const struct blk_dev *bd)
{
    return bd->info.size_bytes >> BLK_SECTOR_SHIFT; /* 512-byte units, as Linux */
}

static inline void limits_of(const struct blk_dev *bd, struct blk_limits *lim)
{
    uint32_t ind = bd->bc->cfg.max_indirect_segments;
    *lim = (struct blk_limits){
        .disk_sectors = disk_sectors(bd),
        .sector_size = bd->info.logical_sector,
        .read_only = bd->read_only,
        .flush = offer_flush(bd),
        .barrier = offer_flush(bd),
        .discard = offer_discard(bd),
        .discard_secure = offer_discard(bd) && bd->info.discard_secure,
        .persistent = bd->persistent,
        .max_indirect_segments = (uint16_t)(ind > BLK_MAX_SEGMENTS ? BLK_MAX_SEGMENTS : ind),
    };
}

#endif
