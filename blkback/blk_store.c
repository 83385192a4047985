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
 * Discard on a block device is the BLKDISCARD (or BLKSECDISCARD) ioctl: io_uring
 * has no discard on the kernels we target, so it runs synchronously on the
 * calling (core) thread, and the SQE becomes a NOP that completes with 0.  A
 * discard is rare and the ioctl only queues the work in the block layer, so
 * the core stalls briefly; a failing ioctl is returned to the caller, which
 * then answers the request itself.
 *
 * Threads: open/close/refresh on the control thread; prep_* on any core
 * thread (they read only fields fixed at open).
 */
#include <ctype.h>
#include <errno.h>
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
    if (parse_size(spec, &size) < 0 || size == 0 || size % 512) {
        sc_log(SC_LOG_ERR, STORE_CTX, "null store: bad size '%s' (a multiple of 512, K/M/G/T)",
               spec);
        return -EINVAL;
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
    s->fd_direct = open(s->path, flags | O_DIRECT);
    return 0;
}

struct blk_store *blk_store_open(const char *target, bool read_only)
{
    if (!target || !*target) {
        errno = EINVAL;
        return NULL;
    }
    struct blk_store *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->fd = -1;
    s->fd_direct = -1;
    s->info.read_only = read_only;
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
    if (S_ISREG(st.st_mode))
        ret = probe_file(s, &st, flags);
    else if (S_ISBLK(st.st_mode))
        ret = probe_block(s, &st, flags);
    else
        ret = -EINVAL;
    if (ret < 0)
        sc_log(SC_LOG_ERR, STORE_CTX, "%s: %s", s->path,
               ret == -EINVAL ? "neither a regular file nor a block device" : strerror(-ret));

out:
    if (ret < 0) {
        blk_store_close(s);
        errno = -ret;
        return NULL;
    }
    return s;
}

void blk_store_close(struct blk_store *s)
{
    if (!s)
        return;
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
    if (s->kind == STORE_NULL) {
        io_uring_prep_nop(sqe);
        return 0;
    }
    /* Any fd of the file: fdatasync flushes what either fd wrote. */
    io_uring_prep_fsync(sqe, s->fd, IORING_FSYNC_DATASYNC);
    return 0;
}

int blk_store_prep_discard(struct blk_store *s, struct io_uring_sqe *sqe, uint64_t offset,
                           uint64_t len, bool secure)
{
    if (!s || !sqe || offset > INT64_MAX || len > INT64_MAX - offset)
        return -EINVAL;
    if (s->info.read_only)
        return -EROFS;
    if (!s->info.discard || (secure && !s->info.discard_secure))
        return -EOPNOTSUPP;
    switch (s->kind) {
    case STORE_NULL:
        io_uring_prep_nop(sqe);
        return 0;
    case STORE_FILE:
        io_uring_prep_fallocate(sqe, s->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                                offset, len);
        return 0;
    case STORE_BLOCK: {
        uint64_t range[2] = { offset, len };
        if (ioctl(s->fd, secure ? BLKSECDISCARD : BLKDISCARD, range) < 0)
            return -errno;
        io_uring_prep_nop(sqe);
        return 0;
    }
    }
    return -EINVAL;
}
