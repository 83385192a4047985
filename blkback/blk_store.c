/*
 * blk_store.c - backing stores of a vbd: null:<size>, regular files and
 * block devices, driven through the caller's io_uring (contract in
 * blkback.h).
 *
 * Why two fds for files and devices: O_DIRECT skips the page cache (no
 * double caching of a guest's disk in dom0, no writeback storms) but needs
 * aligned buffers, offsets and lengths.  A guest may send 512-byte segments
 * at any 512-byte offset of a page, which a 4 KiB-sector device or a
 * filesystem with 4 KiB direct-I/O alignment refuses, so each request picks
 * the O_DIRECT fd when it is aligned and the buffered fd otherwise.  Both
 * fds see the same file: the kernel keeps them coherent (a direct write
 * invalidates the cached pages, a direct read flushes dirty ones first).
 *
 * Discard must not stall the core (every guest of it would wait): each part
 * is an io_uring operation run by the kernel's workers.  A file punches a
 * hole (IORING_OP_FALLOCATE, PUNCH_HOLE | KEEP_SIZE).  A block device uses
 * the block layer's io_uring discard command (IORING_OP_URING_CMD with
 * BLOCK_URING_CMD_DISCARD, Linux 6.12+); a kernel without it answers the
 * first one -EOPNOTSUPP (no uring_cmd on block devices) or -EINVAL (no
 * URING_CMD at all), which we learn once per store, and from then on the
 * store's worker thread runs BLKDISCARD and hands the result back to the
 * queue's inbox (secure erase has no io_uring command: always the worker).
 * A guest may ask for terabytes in one request, so a discard is cut into
 * parts: each ends on a multiple of the split granularity (the device's
 * discard_granularity; 1 MiB for files) and is at most the split maximum
 * (the device's discard_max_bytes; 64 MiB for files), issued one after the
 * other, so one request holds at most one kernel worker at a time; the
 * response waits for the last part.
 *
 * Writeback errors are sticky.  Guest writes through the buffered fd reach
 * the disk later; when that fails, the kernel reports it to the next fsync
 * of each open file once, then forgets it (errseq).  The guest learnt of
 * it only if that one flush was its own; every later flush would say OK
 * although the data is gone: PostgreSQL's fsync lesson.  So the first
 * failed flush marks the store and every later flush (and the flush stage
 * of FLUSH/BARRIER and write+flush requests) fails with it until the
 * frontend reconnects and learns that it must recover.
 *
 * Exclusive opens: see enum blk_store_access (blkback.h).
 *
 * Threads: open/close/refresh on the control thread; prep_* on any core
 * thread (they read only fields fixed at open).
 */
#include <ctype.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "blkback.h"
#include "log.h"

#define STORE_CTX "blk-store"

/* The block layer's io_uring discard command (uapi linux/fs.h, Linux 6.12):
 * sqe->addr = byte offset, sqe->addr3 = byte length.  Debian 12's headers
 * predate it. */
#ifndef BLOCK_URING_CMD_DISCARD
#define BLOCK_URING_CMD_DISCARD _IO(0x12, 0)
#endif

/* Files: how a discard is cut (a hole of 64 MiB is one fallocate of a few
 * ms on ext4/xfs; 1 MiB keeps parts on extent-friendly boundaries). */
#define FILE_DISCARD_GRANULARITY (1u << 20)
#define FILE_DISCARD_MAX         (64ull << 20)

/* How a block device's discards go (learnt at the first one). */
enum discard_path {
    DISCARD_PROBE,   /* io_uring tried first; its first answer decides */
    DISCARD_URING,   /* the kernel has the io_uring discard command */
    DISCARD_WORKER,  /* it has not: BLKDISCARD in the store's worker */
};

enum store_kind {
    STORE_NULL,
    STORE_FILE,
    STORE_BLOCK,
};

struct blk_store {
    enum store_kind kind;
    int fd;                 /* buffered (always, except null) */
    int fd_direct;          /* O_DIRECT, or -1 */
    uint32_t dio_mem_align; /* buffer alignment O_DIRECT needs */
    struct blk_store_info info;
    uint64_t split_gran;    /* discard parts end on multiples of this */
    uint64_t split_max;     /* and are at most this long (a multiple of it) */
    atomic_int discard_path; /* enum discard_path: any core writes it once */
    atomic_int wb_err;      /* sticky writeback error (-errno) or 0 */

    /* the discard worker: jobs in, started on first use */
    struct sc_inbox jobs;
    struct sc_inbox_msg stop_msg;
    pthread_mutex_t worker_lock; /* serialises the start (once per store) */
    atomic_bool worker_started;
    bool jobs_ready;        /* `jobs` initialised */
    pthread_t worker;
    char path[PATH_MAX];
};

/* "123", "4K", "1M", "2G", "1T" (binary units).  0 or -EINVAL. */
static int parse_size(const char *s, uint64_t *out)
{
    if (!s || !isdigit((unsigned char)*s))
        return -EINVAL;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno)
        return -EINVAL;
    unsigned shift = 0;
    switch (*end) {
    case '\0': break;
    case 'k': case 'K': shift = 10; end++; break;
    case 'm': case 'M': shift = 20; end++; break;
    case 'g': case 'G': shift = 30; end++; break;
    case 't': case 'T': shift = 40; end++; break;
    default: return -EINVAL;
    }
    if (*end == 'i' || *end == 'B') /* "4KiB", "4KB" read the same */
        end += (*end == 'i' && end[1] == 'B') ? 2 : 1;
    if (*end)
        return -EINVAL;
    if (shift && v > (UINT64_MAX >> shift))
        return -EINVAL;
    *out = (uint64_t)v << shift;
    return 0;
}

/* Reads a small unsigned number from sysfs; -errno if unreadable. */
static int sysfs_read_u64(dev_t dev, const char *attr, uint64_t *out)
{
    char path[128], buf[64];
    snprintf(path, sizeof(path), "/sys/dev/block/%u:%u/%s", major(dev), minor(dev), attr);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return -EIO;
    buf[n] = '\0';
    char *end;
    *out = strtoull(buf, &end, 10);
    return end == buf ? -EINVAL : 0;
}

static bool sysfs_has_word(dev_t dev, const char *attr, const char *word)
{
    char path[128], buf[64];
    snprintf(path, sizeof(path), "/sys/dev/block/%u:%u/%s", major(dev), minor(dev), attr);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return false;
    buf[n] = '\0';
    return strstr(buf, word) != NULL;
}

static int open_null(struct blk_store *s, const char *spec)
{
    uint64_t size;
    char buf[64];
    snprintf(buf, sizeof(buf), "%s", spec);
    char *opt = strchr(buf, ',');
    if (opt)
        *opt++ = '\0';
    if (parse_size(buf, &size) < 0 || size == 0 || size % 512) {
        sc_log(SC_LOG_ERR, STORE_CTX, "null store: bad size '%s' (a multiple of 512, K/M/G/T)",
               buf);
        return -EINVAL;
    }
    if (opt) {
        char *end;
        unsigned long spin = strncmp(opt, "spin=", 5) ? 0 : strtoul(opt + 5, &end, 10);
        if (strncmp(opt, "spin=", 5) || end == opt + 5 || *end || spin > 1000000) {
            sc_log(SC_LOG_ERR, STORE_CTX, "null store: bad option '%s' (spin=NS, at most "
                   "1000000)", opt);
            return -EINVAL;
        }
        s->info.null_spin_ns = (uint32_t)spin;
    }
    s->kind = STORE_NULL;
    s->info.size_bytes = size;
    s->info.logical_sector = 512;
    s->info.physical_sector = 4096;
    s->info.flush = false;
    s->info.discard = true;
    s->info.discard_secure = true;
    s->info.discard_granularity = 4096;
    s->info.is_null = true;
    s->split_gran = FILE_DISCARD_GRANULARITY;
    s->split_max = UINT64_MAX & ~(uint64_t)(FILE_DISCARD_GRANULARITY - 1);
    atomic_init(&s->discard_path, DISCARD_URING);
    return 0;
}

/* The O_DIRECT fd and its alignment for a regular file (statx DIOALIGN on
 * kernels that report it, else the 512 bytes every local fs accepts). */
static void file_direct_setup(struct blk_store *s, int flags)
{
    s->info.logical_sector = 512;
    s->dio_mem_align = 512;
    struct statx stx;
    if (statx(s->fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &stx) == 0 &&
        (stx.stx_mask & STATX_DIOALIGN)) {
        if (stx.stx_dio_offset_align == 0) {
            return; /* the filesystem has no direct I/O */
        }
        if (stx.stx_dio_offset_align > 4096 || stx.stx_dio_mem_align > 4096)
            return; /* guest pages cannot meet it: buffered only */
        if (stx.stx_dio_offset_align > 512)
            s->info.logical_sector = stx.stx_dio_offset_align;
        if (stx.stx_dio_mem_align > 512)
            s->dio_mem_align = stx.stx_dio_mem_align;
    }
    s->fd_direct = open(s->path, flags | O_DIRECT);
    if (s->fd_direct < 0)
        sc_log(SC_LOG_INFO, STORE_CTX, "%s: no O_DIRECT (%s), buffered I/O only", s->path,
               strerror(errno));
}

static int probe_file(struct blk_store *s, const struct stat *st, int flags)
{
    s->kind = STORE_FILE;
    s->info.size_bytes = (uint64_t)st->st_size;
    file_direct_setup(s, flags);
    /* The page cache works in pages: tell guests to align to them. */
    s->info.physical_sector = s->info.logical_sector > 4096 ? s->info.logical_sector : 4096;
    s->info.flush = true;
    if (!s->info.read_only) {
        /* Punching a hole past EOF changes nothing but says if the fs can. */
        off_t probe = st->st_size > 0 ? st->st_size : 0;
        if (fallocate(s->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, probe, 4096) == 0) {
            s->info.discard = true;
            s->info.discard_granularity =
                st->st_blksize >= 512 && st->st_blksize <= (1 << 20) ? (uint32_t)st->st_blksize
                                                                      : 4096;
        }
    }
    s->split_gran = FILE_DISCARD_GRANULARITY;
    s->split_max = FILE_DISCARD_MAX;
    atomic_init(&s->discard_path, DISCARD_URING); /* IORING_OP_FALLOCATE: Linux 5.6 */
    return 0;
}

static int probe_block(struct blk_store *s, const struct stat *st, int flags)
{
    s->kind = STORE_BLOCK;
    uint64_t size = 0;
    int lss = 512;
    unsigned int pss = 512;
    if (ioctl(s->fd, BLKGETSIZE64, &size) < 0)
        return -errno;
    if (ioctl(s->fd, BLKSSZGET, &lss) < 0)
        lss = 512;
    if (ioctl(s->fd, BLKPBSZGET, &pss) < 0)
        pss = (unsigned)lss;
    if (lss < 512 || lss > 4096 || (lss & (lss - 1))) {
        sc_log(SC_LOG_ERR, STORE_CTX, "%s: unsupported logical sector size %d", s->path, lss);
        return -EINVAL;
    }
    int ro = 0;
    if (!s->info.read_only && ioctl(s->fd, BLKROGET, &ro) == 0 && ro)
        return -EROFS;
    s->info.size_bytes = size;
    s->info.logical_sector = (uint32_t)lss;
    s->info.physical_sector = pss >= (unsigned)lss && pss <= (1u << 20) ? pss : (uint32_t)lss;
    s->dio_mem_align = (uint32_t)lss;
    /* A device without a volatile cache ("write through") needs no flush,
     * but an fsync there is cheap: offer it unless sysfs says otherwise. */
    s->info.flush = !sysfs_has_word(st->st_rdev, "queue/write_cache", "write through");
    uint64_t max_discard = 0, gran = 0, secure = 0;
    if (!s->info.read_only && sysfs_read_u64(st->st_rdev, "queue/discard_max_bytes",
                                             &max_discard) == 0 && max_discard > 0) {
        s->info.discard = true;
        if (sysfs_read_u64(st->st_rdev, "queue/discard_granularity", &gran) == 0 && gran &&
            gran <= UINT32_MAX)
            s->info.discard_granularity = (uint32_t)gran;
        else
            s->info.discard_granularity = (uint32_t)lss;
        /* kernels >= 6.0 expose the secure-erase limit */
        if (sysfs_read_u64(st->st_rdev, "queue/max_secure_erase_sectors", &secure) == 0 &&
            secure > 0)
            s->info.discard_secure = true;
    }
    /* Parts: the device's granularity, its limit rounded down to it. */
    s->split_gran = s->info.discard_granularity ? s->info.discard_granularity : (uint32_t)lss;
    if (s->split_gran & (s->split_gran - 1) || s->split_gran < (uint64_t)lss)
        s->split_gran = (uint64_t)lss; /* odd granularities: split on sectors */
    s->split_max = max_discard - max_discard % s->split_gran;
    if (s->split_max < s->split_gran)
        s->split_max = s->split_gran;
    /* SIDECORE_BLK_DISCARD=worker forces the worker (tests, and a kernel
     * whose io_uring discard misbehaves). */
    const char *how = getenv("SIDECORE_BLK_DISCARD");
    atomic_init(&s->discard_path,
                how && !strcmp(how, "worker") ? DISCARD_WORKER : DISCARD_PROBE);
    s->fd_direct = open(s->path, flags | O_DIRECT);
    return 0;
}

/* Mode "w" on a block device: claim it (O_EXCL), on a second fd opened
 * after fstat said what it is (O_EXCL on a regular file without O_CREAT
 * means nothing).  Our O_DIRECT fd opens later without the flag: a claim
 * belongs to one open file, so a second exclusive open would refuse us. */
static int claim_block(struct blk_store *s, int flags)
{
    int fd = open(s->path, flags | O_EXCL);
    if (fd < 0) {
        int err = errno;
        if (err == EBUSY)
            sc_log(SC_LOG_ERR, STORE_CTX,
                   "%s is in use (mounted, or claimed by another exclusive opener): "
                   "mode \"w\" opens it exclusively; \"w!\" would share it", s->path);
        else
            sc_log(SC_LOG_ERR, STORE_CTX, "cannot open %s exclusively: %s", s->path,
                   strerror(err));
        return -err;
    }
    close(s->fd);
    s->fd = fd;
    return 0;
}

struct blk_store *blk_store_open_access(const char *target, enum blk_store_access access)
{
    if (!target || !*target || access > BLK_STORE_WRITE_SHARED) {
        errno = EINVAL;
        return NULL;
    }
    bool read_only = access == BLK_STORE_READ;
    struct blk_store *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->fd = -1;
    s->fd_direct = -1;
    s->jobs.efd = -1;
    s->info.read_only = read_only;
    pthread_mutex_init(&s->worker_lock, NULL);
    int ret;

    if (!strncmp(target, "null:", 5)) {
        ret = open_null(s, target + 5);
        goto out;
    }
    const char *path = target;
    if (!strncmp(path, "file:", 5) || !strncmp(path, "phy:", 4))
        path = strchr(path, ':') + 1;
    if (!*path || strlen(path) >= sizeof(s->path)) {
        ret = -EINVAL;
        goto out;
    }
    strcpy(s->path, path);
    int flags = (read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC;
    s->fd = open(s->path, flags);
    if (s->fd < 0) {
        ret = -errno;
        sc_log(SC_LOG_ERR, STORE_CTX, "cannot open %s: %s", s->path, strerror(errno));
        goto out;
    }
    struct stat st;
    if (fstat(s->fd, &st) < 0) {
        ret = -errno;
        goto out;
    }
    if (S_ISBLK(st.st_mode) && access == BLK_STORE_WRITE) {
        ret = claim_block(s, flags);
        if (ret < 0)
            goto out;
    }
    if (S_ISREG(st.st_mode))
        ret = probe_file(s, &st, flags);
    else if (S_ISBLK(st.st_mode))
        ret = probe_block(s, &st, flags);
    else
        ret = -EINVAL;
    if (ret < 0)
        sc_log(SC_LOG_ERR, STORE_CTX, "%s: %s", s->path,
               ret == -EINVAL ? "neither a regular file nor a block device" : strerror(-ret));
    if (ret == 0 && s->kind == STORE_BLOCK && s->info.discard) {
        ret = sc_inbox_init(&s->jobs);
        s->jobs_ready = ret == 0;
    }

out:
    if (ret < 0) {
        blk_store_close(s);
        errno = -ret;
        return NULL;
    }
    return s;
}

struct blk_store *blk_store_open(const char *target, bool read_only)
{
    return blk_store_open_access(target, read_only ? BLK_STORE_READ : BLK_STORE_WRITE);
}

void blk_store_close(struct blk_store *s)
{
    if (!s)
        return;
    if (atomic_load(&s->worker_started)) {
        sc_inbox_push(&s->jobs, &s->stop_msg);
        pthread_join(s->worker, NULL);
    }
    if (s->jobs_ready)
        sc_inbox_destroy(&s->jobs);
    pthread_mutex_destroy(&s->worker_lock);
    if (s->fd_direct >= 0)
        close(s->fd_direct);
    if (s->fd >= 0)
        close(s->fd);
    free(s);
}

int blk_store_refresh(struct blk_store *s, struct blk_store_info *out)
{
    if (!s)
        return -EINVAL;
    if (s->kind == STORE_FILE) {
        struct stat st;
        if (fstat(s->fd, &st) < 0)
            return -errno;
        s->info.size_bytes = (uint64_t)st.st_size;
    } else if (s->kind == STORE_BLOCK) {
        uint64_t size;
        if (ioctl(s->fd, BLKGETSIZE64, &size) < 0)
            return -errno;
        s->info.size_bytes = size;
    }
    if (out)
        *out = s->info;
    return 0;
}

const struct blk_store_info *blk_store_get_info(const struct blk_store *s)
{
    return s ? &s->info : NULL;
}

/* Every buffer meets the O_DIRECT memory alignment of this store. */
static bool iov_direct_ok(const struct blk_store *s, const struct iovec *iov, unsigned iovcnt)
{
    uintptr_t mask = s->dio_mem_align - 1, lmask = s->info.logical_sector - 1;
    for (unsigned i = 0; i < iovcnt; i++)
        if (((uintptr_t)iov[i].iov_base & mask) || (iov[i].iov_len & lmask))
            return false;
    return true;
}

int blk_store_prep_rw(struct blk_store *s, struct io_uring_sqe *sqe, bool write,
                      const struct iovec *iov, unsigned iovcnt, uint64_t offset, bool aligned)
{
    if (!s || !sqe || (!iov && iovcnt) || iovcnt > IOV_MAX || offset > INT64_MAX)
        return -EINVAL;
    if (write && s->info.read_only)
        return -EROFS;
    if (s->kind == STORE_NULL) {
        io_uring_prep_nop(sqe); /* the caller zero-fills reads */
        return 0;
    }
    int fd = s->fd;
    if (aligned && s->fd_direct >= 0 && !(offset & (s->info.logical_sector - 1)) &&
        iov_direct_ok(s, iov, iovcnt))
        fd = s->fd_direct;
    if (write)
        io_uring_prep_writev(sqe, fd, iov, iovcnt, offset);
    else
        io_uring_prep_readv(sqe, fd, iov, iovcnt, offset);
    return 0;
}

int blk_store_prep_flush(struct blk_store *s, struct io_uring_sqe *sqe)
{
    if (!s || !sqe)
        return -EINVAL;
    int err = atomic_load_explicit(&s->wb_err, memory_order_relaxed);
    if (err)
        return err;
    if (s->kind == STORE_NULL) {
        io_uring_prep_nop(sqe);
        return 0;
    }
    /* Any fd of the file: fdatasync flushes what either fd wrote. */
    io_uring_prep_fsync(sqe, s->fd, IORING_FSYNC_DATASYNC);
    return 0;
}

int blk_store_flush_done(struct blk_store *s, int res)
{
    if (res < 0) {
        int none = 0;
        /* -ECANCELED/-EINTR: our own cancel at removal, not the disk's word */
        if (res != -ECANCELED && res != -EINTR &&
            atomic_compare_exchange_strong(&s->wb_err, &none, res))
            sc_log(SC_LOG_ERR, STORE_CTX,
                   "%s: a flush failed (%s): data written before it may be lost; every "
                   "later flush fails too until the frontend reconnects",
                   s->path, strerror(-res));
        return res;
    }
    return atomic_load_explicit(&s->wb_err, memory_order_relaxed);
}

void blk_store_clear_wb_error(struct blk_store *s)
{
    if (s && atomic_exchange(&s->wb_err, 0))
        sc_log(SC_LOG_INFO, STORE_CTX, "%s: the frontend reconnected: flushes may succeed again",
               s->path);
}

int blk_store_wb_error(const struct blk_store *s)
{
    return s ? atomic_load_explicit((atomic_int *)&s->wb_err, memory_order_relaxed) : -EINVAL;
}

/* ---- discard ---- */

int blk_store_discard_begin(struct blk_store *s, struct blk_discard *d, uint64_t offset,
                            uint64_t len, bool secure)
{
    if (!s || !d || offset > INT64_MAX || len > INT64_MAX - offset)
        return -EINVAL;
    if (s->info.read_only)
        return -EROFS;
    if (!s->info.discard || (secure && !s->info.discard_secure))
        return -EOPNOTSUPP;
    uint64_t end = offset + len;
    if (s->kind == STORE_BLOCK) {
        /* Whole logical sectors only (a discard is advisory: the block
         * layer would refuse the edges, -EINVAL). */
        uint64_t lss = s->info.logical_sector;
        offset = (offset + lss - 1) & ~(lss - 1);
        end &= ~(lss - 1);
    }
    *d = (struct blk_discard){ .next = offset, .end = end > offset ? end : offset,
                               .secure = secure };
    return 0;
}

/* The next part of d: from d->next to the first multiple of split_gran at
 * least split_max past the granule it starts in, or to d->end. */
static void next_part(const struct blk_store *s, struct blk_discard *d)
{
    uint64_t start = d->next;
    uint64_t limit = (start - start % s->split_gran) + s->split_max;
    if (limit < start) /* wrapped */
        limit = UINT64_MAX;
    uint64_t stop = d->end < limit ? d->end : limit;
    d->part_off = start;
    d->part_len = stop - start;
    d->next = stop;
}

int blk_store_prep_discard(struct blk_store *s, struct io_uring_sqe *sqe, struct blk_discard *d)
{
    if (!s || !sqe || !d || !blk_discard_left(d))
        return -EINVAL;
    if (s->kind == STORE_BLOCK &&
        (d->secure || atomic_load_explicit(&s->discard_path, memory_order_relaxed) ==
                          DISCARD_WORKER))
        return -EAGAIN;
    next_part(s, d);
    d->part_uring = false;
    switch (s->kind) {
    case STORE_NULL:
        io_uring_prep_nop(sqe);
        return 0;
    case STORE_FILE:
        io_uring_prep_fallocate(sqe, s->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                                d->part_off, d->part_len);
        return 0;
    case STORE_BLOCK:
        /* liburing 2.3 has no helper: the command's fields by hand (prep_rw
         * zeroes what the kernel insists be zero: ioprio, len, rw_flags,
         * file_index, __pad1 via off). */
        io_uring_prep_rw(IORING_OP_URING_CMD, sqe, s->fd, NULL, 0, 0);
        sqe->cmd_op = BLOCK_URING_CMD_DISCARD;
        sqe->addr = d->part_off;
        sqe->addr3 = d->part_len;
        d->part_uring = true;
        return 0;
    }
    return -EINVAL;
}

int blk_store_discard_part_done(struct blk_store *s, struct blk_discard *d, int res)
{
    if (!d->part_uring)
        return res < 0 ? res : 0;
    int probe = DISCARD_PROBE;
    if (res >= 0) {
        atomic_compare_exchange_strong(&s->discard_path, &probe, DISCARD_URING);
        return 0;
    }
    if (res != -EOPNOTSUPP && res != -EINVAL)
        return res;
    /* Only the first answer decides: once the command worked, -EINVAL is
     * the device's (another core may have switched meanwhile: follow). */
    if (atomic_compare_exchange_strong(&s->discard_path, &probe, DISCARD_WORKER))
        sc_log(SC_LOG_INFO, STORE_CTX,
               "%s: the kernel has no io_uring discard (%s): discards run in a worker "
               "thread (BLKDISCARD)", s->path, strerror(-res));
    else if (probe != DISCARD_WORKER)
        return res;
    d->next = d->part_off;
    d->part_uring = false;
    return 1;
}

/* Runs what is left of d, part by part, with the ioctls.  0 or -errno. */
static int discard_sync(struct blk_store *s, struct blk_discard *d)
{
    while (blk_discard_left(d)) {
        next_part(s, d);
        uint64_t range[2] = { d->part_off, d->part_len };
        if (ioctl(s->fd, d->secure ? BLKSECDISCARD : BLKDISCARD, range) < 0)
            return -errno;
    }
    return 0;
}

static void *discard_worker(void *arg)
{
    struct blk_store *s = arg;
    for (;;) {
        if (sc_inbox_arm(&s->jobs)) {
            struct pollfd pfd = { .fd = sc_inbox_fd(&s->jobs), .events = POLLIN };
            while (poll(&pfd, 1, -1) < 0 && errno == EINTR)
                ;
        }
        sc_inbox_disarm(&s->jobs);
        struct sc_inbox_msg *m = sc_inbox_take_all(&s->jobs);
        while (m) {
            struct sc_inbox_msg *next = sc_inbox_next(m);
            if (m == &s->stop_msg)
                return NULL; /* close: no queue waits any more (they are idle) */
            struct blk_store_job *job = (struct blk_store_job *)m;
            job->res = discard_sync(s, &job->d);
            sc_inbox_push(job->reply, &job->msg);
            m = next;
        }
    }
}

int blk_store_discard_async(struct blk_store *s, struct blk_store_job *job,
                            struct sc_inbox *reply)
{
    if (!s || !job || !reply || s->kind != STORE_BLOCK || !s->jobs_ready)
        return -EINVAL;
    int rc = 0;
    if (!atomic_load_explicit(&s->worker_started, memory_order_acquire)) {
        /* once per store: the lock is never taken again after */
        pthread_mutex_lock(&s->worker_lock);
        if (!atomic_load_explicit(&s->worker_started, memory_order_relaxed)) {
            rc = -pthread_create(&s->worker, NULL, discard_worker, s);
            if (rc == 0) {
                pthread_setname_np(s->worker, "sc-discard");
                sc_log(SC_LOG_INFO, STORE_CTX, "%s: discard worker started", s->path);
                atomic_store_explicit(&s->worker_started, true, memory_order_release);
            } else {
                sc_log(SC_LOG_ERR, STORE_CTX, "%s: cannot start the discard worker: %s",
                       s->path, strerror(-rc));
            }
        }
        pthread_mutex_unlock(&s->worker_lock);
    }
    if (rc < 0)
        return rc;
    job->reply = reply;
    job->res = 0;
    sc_inbox_push(&s->jobs, &job->msg);
    return 0;
}
