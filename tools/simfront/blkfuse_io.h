/*
 * blkfuse_io.h - byte-range I/O over a connected simulated blkfront device
 * (libsimfront.a): what a file interface needs from a disk.
 *
 * Owns: the queue of byte-range operations on one bf_dev and the requests
 * they become on the device's rings.  A read or write of any offset and
 * length is cut into requests of at most bf_ring_max_sectors(), spread over
 * every negotiated queue, many in flight at once; a write that does not
 * cover whole logical blocks first reads the partial edge blocks
 * (read-modify-write).  Overlapping operations where one writes run in
 * arrival order; a flush waits for the writes that arrived before it.
 *
 * Threads: one thread drives everything: it submits operations, calls
 * bfio_pump() to put requests on the rings, and bfio_ring_event() when a
 * ring's fd (bf_ring_fd) is readable.  Completion callbacks run on that
 * thread, inside bfio_ring_event() or bfio_fail_all(); they may submit.
 * Returns: 0 or negative errno; a callback's err is 0 or -EIO (backend
 * error), -EOPNOTSUPP (feature missing or refused), -ENOSPC (past the end),
 * -ENODEV (device gone).
 */
#ifndef SC_SIMFRONT_BLKFUSE_IO_H
#define SC_SIMFRONT_BLKFUSE_IO_H

#include <stddef.h>
#include <stdint.h>

#include "blkfront.h"

struct bfio;

/* data: the bytes read (reads only, valid during the call), len: bytes done. */
typedef void (*bfio_done_fn)(void *arg, int err, const void *data, size_t len);

/* Per-engine counters; written by the engine's thread. */
struct bfio_stats {
    uint64_t ops, reads, writes, flushes, discards, zeroes;
    uint64_t rmw;               /* writes that read edge blocks first */
    uint64_t requests;          /* ring requests submitted */
    uint64_t errors;            /* operations ended with an error */
    uint64_t ring_full;         /* pump stopped because every ring was full */
};

/* An engine over `dev` (connected; its rings are used from now on by this
 * engine only).  NULL + errno. */
struct bfio *bfio_new(struct bf_dev *dev);
/* Outstanding operations must be finished or failed first (bfio_fail_all). */
void bfio_free(struct bfio *io);

uint64_t bfio_size(const struct bfio *io);          /* bytes */
uint32_t bfio_block_size(const struct bfio *io);    /* logical block (sector-size) */
unsigned bfio_pending(const struct bfio *io);       /* operations not yet done */
const struct bfio_stats *bfio_get_stats(const struct bfio *io);

/* Queue an operation; done() is called exactly once, later (never inside
 * the submitting call).  0, or -ENOMEM (done not called). */
int bfio_read(struct bfio *io, uint64_t off, size_t len, bfio_done_fn done, void *arg);
/* `data` is copied before the call returns. */
int bfio_write(struct bfio *io, uint64_t off, size_t len, const void *data,
               bfio_done_fn done, void *arg);
/* Writes zeros (always zero, whatever the backend's discard does). */
int bfio_write_zeroes(struct bfio *io, uint64_t off, size_t len, bfio_done_fn done, void *arg);
/* BLKIF_OP_FLUSH_DISKCACHE after every write queued before it; done(0) at
 * once when the backend offers no flush (nothing is cached then). */
int bfio_flush(struct bfio *io, bfio_done_fn done, void *arg);
/* Deallocate and zero: BF_OP_DISCARD of the whole discard granules inside
 * the range (assumes, as fallocate's PUNCH_HOLE promises, that a discarded
 * granule reads back as zeros: sidecore's file store punches holes), zeros
 * written over the rest.  -EOPNOTSUPP via done() without discard. */
int bfio_discard(struct bfio *io, uint64_t off, size_t len, bfio_done_fn done, void *arg);

/* Put queued requests on the rings and push them.  0, or -errno of a push. */
int bfio_pump(struct bfio *io);
/* Ring `queue`'s fd was readable: take the kick and the responses, complete
 * operations, then pump.  0, or -EPROTO if the ring broke (the caller should
 * bfio_fail_all and close the device). */
int bfio_ring_event(struct bfio *io, unsigned queue);
/* Completes every operation with `err` (after the device's rings were
 * destroyed: nothing of theirs is in flight any more). */
void bfio_fail_all(struct bfio *io, int err);
/* The backend resized the disk: the new size is read from the device. */
void bfio_update_size(struct bfio *io);

#endif /* SC_SIMFRONT_BLKFUSE_IO_H */
