/*
 * blkfuse.h - a connected simulated blkfront disk exported as one regular
 * file, MOUNTPOINT/disk, through the FUSE low-level API (libsimfront.a).
 *
 * Owns: the FUSE session and its mount, and the event loop that drives both
 * the session and the device's rings from ONE thread (the caller's): FUSE
 * requests become blkfuse_io operations and are answered when their ring
 * requests complete, so many requests are in flight although nothing here
 * runs on another thread.  read/write -> BF_OP_READ/WRITE (read-modify-write
 * of partial blocks), flush/fsync -> BF_OP_FLUSH (when offered),
 * fallocate(PUNCH_HOLE) -> BF_OP_DISCARD (when offered), fallocate
 * (ZERO_RANGE) -> writes of zeros; a backend error is -EIO to the caller.
 *
 * blkfuse_run() returns when the file system is unmounted or on SIGTERM,
 * SIGINT or SIGHUP (blocked in the calling thread while it runs), after the
 * requests in flight are answered (bounded wait); the mount is removed.  A
 * backend that closes the device fails every later request with -EIO and
 * keeps the mount until it is unmounted.  The caller closes the device.
 * Returns 0, or negative errno with a one-line reason in `err`.
 */
#ifndef SC_SIMFRONT_BLKFUSE_H
#define SC_SIMFRONT_BLKFUSE_H

#include <stdbool.h>
#include <stddef.h>

#include "blkfront.h"

struct blkfuse_opts {
    const char *mountpoint;
    const char *fsname;         /* shown in /proc/mounts; NULL: "simblkfuse" */
    const char *mount_opts;     /* extra "-o" options, or NULL */
    bool debug;                 /* libfuse's -d: every request on stderr */
    bool direct_io;             /* no page cache for the file (FOPEN_DIRECT_IO) */
    int ready_fd;               /* >= 0: "ready\n" written once mounted, then closed */
    bool verbose;               /* a summary of the I/O done at exit */
};

int blkfuse_run(struct bf_dev *dev, const struct blkfuse_opts *o, char *err, size_t errlen);

#endif /* SC_SIMFRONT_BLKFUSE_H */
