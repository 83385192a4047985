/*
 * blkback.h - the vbd device's internal contract: between its lifecycle
 * (blk_xenbus.c: xenstore keys, negotiation, queue set-up), its data path
 * (blk_queue.c: the sc_queue of one ring; blk_pgrant.c: the persistent-grant
 * cache; blk_store.c: backing stores through io_uring) and its class module
 * (blk_class.c: the vbd.* settings, resize tick and method, the devices
 * view; what the daemon sees, devclass.h).
 *
 * Data movement (why in docs/design.md): with persistent grants, a guest page
 * is mapped once, cached per queue (bounded, least recently used evicted) and
 * I/O goes straight to it (zero copy); without them, data moves by grant copy
 * through per-queue bounce buffers, one sc_gnt_copy_batch per visit — a copy
 * costs ~1.6 memcpy on xensim while a map+unmap costs ~80.
 *
 * Threads: blk_store_open/close/refresh, blk_queue_create/destroy and
 * blk_queue_set_disk_sectors run on the control thread; the blk_store_prep_*
 * calls and everything a queue does once added to a core run on that core's
 * thread.  A store is shared by the queues of one device, possibly on
 * several cores: its prep functions touch no mutable state but two atomics
 * (the sticky writeback error, how discards go), and it owns one thread of
 * its own, the discard worker, started only when a discard needs it.
 * Returns 0 or -errno; NULL + errno.
 */
#ifndef SC_BLKBACK_H
#define SC_BLKBACK_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>
#include <liburing.h>
#include <jansson.h>

#include "blk_proto.h"
#include "dirlimit.h"
#include "queue.h"
#include "xen.h"

/* ---- backing stores (blk_store.c) ---- */

/* What the lifecycle advertises from a store. */
struct blk_store_info {
    uint64_t size_bytes;
    uint32_t logical_sector;      /* 512 or 4096 ("sector-size") */
    uint32_t physical_sector;     /* ("physical-sector-size") */
    bool read_only;               /* opened read-only (mode=r or media) */
    bool flush;                   /* has a volatile cache worth flushing */
    bool discard;                 /* can punch holes / discard */
    bool discard_secure;
    uint32_t discard_granularity; /* bytes */
    uint32_t discard_alignment;   /* bytes */
    bool is_null;                 /* null:<size>: no data kept, completes at once */
    uint32_t null_spin_ns;        /* null:<size>,spin=<ns>: each request costs the
                                   * sidecore this much CPU (a store that costs
                                   * CPU, for benchmarks where the core is the
                                   * bottleneck) */
};

struct blk_store;

/* How a writable store is held (the `mode` key: "w" exclusive, "w!" shared,
 * "r" read-only).  BLK_STORE_WRITE opens a block device O_EXCL: the open
 * fails with -EBUSY while another exclusive holder has it (a mounted
 * filesystem, another backend, an `O_EXCL` opener), and while we hold it
 * nobody else can claim it.  O_EXCL without O_CREAT means nothing for a
 * regular file, so files are opened alike under both write modes (sharing
 * an image is the toolstack's business: xl's block script checks it). */
enum blk_store_access {
    BLK_STORE_READ,          /* "r": read-only, never exclusive */
    BLK_STORE_WRITE,         /* "w": read-write, block devices exclusive */
    BLK_STORE_WRITE_SHARED,  /* "w!": read-write, no claim */
};

/* target: "null:<size>" (size with K/M/G/T suffix), a regular file, or a
 * block device path; "file:<path>" and "phy:<path>" prefixes accepted (what
 * xl writes in params).  Files and devices are opened O_DIRECT where the
 * filesystem allows, plus a buffered fd for unaligned requests.  NULL +
 * errno (EBUSY: a block device held by another exclusive opener). */
struct blk_store *blk_store_open_access(const char *target, enum blk_store_access access);
/* blk_store_open_access(target, read_only ? BLK_STORE_READ : BLK_STORE_WRITE). */
struct blk_store *blk_store_open(const char *target, bool read_only);
/* Stops the discard worker (waiting for the discard it runs, if any). */
void blk_store_close(struct blk_store *s);
/* Re-reads the size (resize).  0 or -errno. */
int blk_store_refresh(struct blk_store *s, struct blk_store_info *out);
const struct blk_store_info *blk_store_get_info(const struct blk_store *s);

/* Fill an SQE; the caller attaches its sc_io.  `aligned` = every buffer and
 * length is aligned to the logical sector size and the buffers to 512
 * bytes, so the O_DIRECT fd may be used.  -EROFS, -EINVAL, -EOPNOTSUPP. */
int blk_store_prep_rw(struct blk_store *s, struct io_uring_sqe *sqe, bool write,
                      const struct iovec *iov, unsigned iovcnt, uint64_t offset, bool aligned);

/* Flushes, and writeback errors made sticky (why in blk_store.c): once a
 * flush of the store failed, every later one fails too until
 * blk_store_clear_wb_error.  prep_flush returns that error (-EIO) without
 * filling the SQE; blk_store_flush_done takes each flush's result (core
 * thread) and returns what to answer: res if it failed (recorded, logged
 * once), else the sticky error or 0. */
int blk_store_prep_flush(struct blk_store *s, struct io_uring_sqe *sqe);
int blk_store_flush_done(struct blk_store *s, int res);
/* Control thread, when the frontend (re)connects: flushes may succeed again. */
void blk_store_clear_wb_error(struct blk_store *s);
/* Any thread: the sticky writeback error (-errno) or 0. */
int blk_store_wb_error(const struct blk_store *s);

/* Discard (why in blk_store.c).  A guest's discard is cut into parts at
 * multiples of the store's split granularity, at most its split maximum
 * each, issued one after the other; its extent is first shrunk to whole
 * logical sectors (a block device refuses the rest).  The cursor is the
 * caller's, one per request. */
struct blk_discard {
    uint64_t next, end;           /* what is left: [next, end) */
    uint64_t part_off, part_len;  /* the part last prepared */
    bool secure;
    bool part_uring;              /* that part went as an io_uring block command */
};

/* Checks the request and sets d at its first part.  0 (maybe with nothing
 * to do: !blk_discard_left), -EROFS, -EOPNOTSUPP (no discard, or secure
 * without secure erase), -EINVAL. */
int blk_store_discard_begin(struct blk_store *s, struct blk_discard *d, uint64_t offset,
                            uint64_t len, bool secure);
static inline bool blk_discard_left(const struct blk_discard *d)
{
    return d->next < d->end;
}
/* Fills sqe with d's next part (fallocate PUNCH_HOLE on a file, the block
 * layer's io_uring discard command on a device, a NOP on null) and moves d
 * past it.  0, or -EAGAIN when this discard must run in the store's worker
 * (blk_store_discard_async; sqe untouched), -EINVAL. */
int blk_store_prep_discard(struct blk_store *s, struct io_uring_sqe *sqe, struct blk_discard *d);
/* A prepared part completed with res.  0: go on (the next part if
 * blk_discard_left, else answer OK); < 0: answer that error; 1: the kernel
 * has no io_uring discard for this device (learnt once per store, logged):
 * d is rewound to that part, hand it to blk_store_discard_async. */
int blk_store_discard_part_done(struct blk_store *s, struct blk_discard *d, int res);

/* The worker (block devices whose kernel lacks the io_uring discard, and
 * secure erase, which has none): a thread per store, started on first use,
 * runs each job's remaining parts with BLKDISCARD/BLKSECDISCARD and pushes
 * the job to `reply` with res set (0 or -errno).  Any thread; the job is the
 * worker's until it arrives in reply.  0, or -errno (no thread). */
struct blk_store_job {
    struct sc_inbox_msg msg;      /* first: the worker's inbox, then reply */
    struct blk_discard d;
    struct sc_inbox *reply;
    int res;
};
int blk_store_discard_async(struct blk_store *s, struct blk_store_job *job,
                            struct sc_inbox *reply);

/* ---- one ring = one queue (blk_queue.c) ---- */

struct blk_queue_params {
    char name[SC_QUEUE_NAME_MAX];      /* "vbd 5/51712 q0" */
    struct sc_xen *xen;
    domid_t frontend_id;
    enum blk_abi abi;
    unsigned ring_pages;               /* 1..BLK_MAX_RING_PAGES, power of two */
    grant_ref_t ring_refs[BLK_MAX_RING_PAGES];
    struct blk_store *store;
    struct blk_limits limits;          /* what was advertised */
    bool persistent;                   /* both sides offered feature-persistent */
    uint32_t max_persistent_grants;    /* per queue cache size */
    struct sc_dir_limit *dir_limit;    /* the guest's read/write limits, or NULL */
};

struct blk_queue;

/* Maps the ring, attaches it (picking up unanswered requests on a
 * reconnect), allocates request slots (one per ring entry) and bounce
 * buffers, and initialises the embedded sc_queue (port unset).  NULL+errno. */
struct blk_queue *blk_queue_create(const struct blk_queue_params *p);
/* The most memory a queue made from p can hold, in bytes, from p alone (so
 * it is reserved before the queue is made: membudget.h): its request slots
 * (each sized for the largest request the limits allow), bounce pages
 * (a full ring of direct requests, at most BLKQ_BOUNCE_MAX_PAGES), grant
 * copy table, indirect page buffer, mapped ring pages and response log,
 * and with persistent grants every mapping the cache may keep.  0 if p
 * cannot make a queue. */
uint64_t blk_queue_mem_cost(const struct blk_queue_params *p);
struct sc_queue *blk_queue_sc(struct blk_queue *q);
/* After sc_core_remove_queue (or if never added): unmaps persistent grants
 * and the ring, frees.  NULL is a no-op. */
void blk_queue_destroy(struct blk_queue *q);
/* Resize: requests are checked against the new size from the next fetch on. */
void blk_queue_set_disk_sectors(struct blk_queue *q, uint64_t sectors);

/* ---- the device class (blk_xenbus.c) ---- */

struct sc_device_class;
struct sc_pool;

/* Queues one device may ask for: bounds the "queue-N" keys we read. */
#define BLK_MAX_QUEUES      256u
#define BLK_MAX_RING_ORDER  4u   /* log2(BLK_MAX_RING_PAGES): XENBUS_MAX_RING_GRANT_ORDER */
#define BLK_MAX_PERSISTENT  (1u << 20) /* per-queue cache size a setting may ask for */

/* Daemon-wide vbd settings (the vbd.* keys of the config file and command
 * line: blk_class.c). */
struct blk_config {
    uint32_t max_ring_page_order;      /* advertised "max-ring-page-order" [4] */
    uint32_t max_queues;               /* "multi-queue-max-queues" [number of cores] */
    uint32_t max_indirect_segments;    /* "feature-max-indirect-segments" [256], 0 = off */
    uint32_t max_persistent_grants;    /* per queue [1056], 0 = feature off */
    bool discard;                      /* offer discard when the store can [true] */
};
void blk_config_default(struct blk_config *c);

/* The "vbd" class (and, for `type` "vbd3" / "qdisk", the same class under
 * that directory).  The pool must outlive every device. */
const struct sc_device_class *blk_device_class(const char *type, struct sc_pool *pool,
                                               const struct blk_config *cfg);

struct sc_device;
/* Resize (control thread; periodically or on `sidecorectl resize`): re-reads
 * the store's size; if it changed, gives it to every queue, then writes
 * "sectors" and rewrites "state" (Connected) in one transaction so the
 * frontend re-reads the size, as Linux blkback does.  1 if the size
 * changed, 0 if not, -EINVAL if dev is not of a blk class, or -errno. */
int blk_device_check_resize(struct sc_device *dev);
/* Control thread: calls fn for each queue of a connected vbd with the core
 * serving it; stops at and returns the first non-zero result.  0, or
 * -EINVAL if dev is not a vbd. */
int blk_device_foreach_queue(struct sc_device *dev, sc_queue_visit_fn *fn, void *arg);
/* Control thread: what `sidecorectl devices` shows of a vbd (toolstack
 * keys, the store, what was negotiated, a one-line "summary"); a new
 * object, or NULL (errno EINVAL if dev is not a vbd, ENOMEM; 0 if it has
 * nothing to show yet). */
json_t *blk_device_describe(struct sc_device *dev);

/* ---- the class module (blk_class.c) ---- */

struct sc_class_module;
/* "vbd": serves backend/vbd (by default), vbd3 and qdisk. */
extern const struct sc_class_module blk_vbd_module;

#endif
