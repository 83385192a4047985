/*
 * blk_store_test.c - backing stores (blkback/blk_store.c) against real files
 * in a temporary directory and a real io_uring: read, write, flush, discard,
 * the O_DIRECT fd for aligned requests and the buffered one otherwise, the
 * null store, size parsing, read-only, resize; discards cut into parts;
 * sticky writeback errors; a loop device (4 KiB sectors) when we may create
 * one: discard through io_uring and through the worker, exclusive opens.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "blkback.h"
#include "log.h"

static char dir[256];
static struct io_uring ring;

static void path_in_dir(char *out, size_t n, const char *name)
{
    snprintf(out, n, "%s/%s", dir, name);
}

static void make_file(const char *path, off_t size)
{
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, size), 0);
    close(fd);
}

/* Submits the one prepared SQE and returns its result. */
static int run_one(void)
{
    assert_int_equal(io_uring_submit(&ring), 1);
    struct io_uring_cqe *cqe;
    assert_int_equal(io_uring_wait_cqe(&ring, &cqe), 0);
    int res = cqe->res;
    io_uring_cqe_seen(&ring, cqe);
    return res;
}

static int rw(struct blk_store *s, bool write, void *buf, size_t len, uint64_t off,
              bool aligned, int *fd_used)
{
    struct iovec iov = { .iov_base = buf, .iov_len = len };
    struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
    assert_non_null(sqe);
    int rc = blk_store_prep_rw(s, sqe, write, &iov, 1, off, aligned);
    if (rc < 0) {
        io_uring_prep_nop(sqe);
        run_one();
        return rc;
    }
    if (fd_used)
        *fd_used = sqe->fd;
    return run_one();
}

/* Runs a whole discard the way a queue does: parts through the ring,
 * the rest in the store's worker when it says so.  *parts counts the
 * parts that went through the ring, *worker whether the worker ran.
 * Returns 0 or the first -errno. */
static int discard_all(struct blk_store *s, uint64_t off, uint64_t len, bool secure,
                       unsigned *parts, bool *worker)
{
    struct blk_store_job job;
    int rc = blk_store_discard_begin(s, &job.d, off, len, secure);
    if (parts)
        *parts = 0;
    if (worker)
        *worker = false;
    while (rc == 0 && blk_discard_left(&job.d)) {
        struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
        assert_non_null(sqe);
        rc = blk_store_prep_discard(s, sqe, &job.d);
        if (rc == 0) {
            if (parts)
                (*parts)++;
            rc = blk_store_discard_part_done(s, &job.d, run_one());
            if (rc == 1)
                rc = -EAGAIN; /* learnt: the worker takes the rest */
            else if (rc < 0)
                return rc;
            else
                continue;
        } else {
            io_uring_prep_nop(sqe);
            run_one();
        }
        if (rc != -EAGAIN)
            return rc;
        struct sc_inbox reply;
        assert_int_equal(sc_inbox_init(&reply), 0);
        assert_int_equal(blk_store_discard_async(s, &job, &reply), 0);
        struct sc_inbox_msg *m;
        while (!(m = sc_inbox_take_all(&reply))) {
            if (sc_inbox_arm(&reply)) {
                struct pollfd pfd = { .fd = sc_inbox_fd(&reply), .events = POLLIN };
                assert_int_equal(poll(&pfd, 1, 10000), 1);
            }
            sc_inbox_disarm(&reply);
        }
        assert_ptr_equal(m, &job.msg);
        sc_inbox_destroy(&reply);
        if (worker)
            *worker = true;
        return job.res;
    }
    return rc;
}

static void *page_buf(size_t len)
{
    void *p = NULL;
    assert_int_equal(posix_memalign(&p, 4096, len), 0);
    return p;
}

/* ---- tests ---- */

static void test_null_sizes(void **state)
{
    (void)state;
    static const struct { const char *t; uint64_t size; } good[] = {
        { "null:512", 512 },
        { "null:4K", 4096 },
        { "null:4k", 4096 },
        { "null:3M", 3ull << 20 },
        { "null:1G", 1ull << 30 },
        { "null:2T", 2ull << 40 },
        { "null:8KiB", 8192 },
    };
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        struct blk_store *s = blk_store_open(good[i].t, false);
        assert_non_null(s);
        const struct blk_store_info *info = blk_store_get_info(s);
        assert_int_equal(info->size_bytes, good[i].size);
        assert_true(info->is_null);
        assert_int_equal(info->logical_sector, 512);
        blk_store_close(s);
    }
    /* a CPU cost per request, for benchmarks */
    struct blk_store *spin = blk_store_open("null:1G,spin=20000", false);
    assert_non_null(spin);
    assert_int_equal(blk_store_get_info(spin)->null_spin_ns, 20000);
    assert_int_equal(blk_store_get_info(spin)->size_bytes, 1ull << 30);
    blk_store_close(spin);
    static const char *const bad[] = { "null:", "null:0", "null:100", "null:12X", "null:-4K",
                                       "null:4KK", "null:99999999999T", "null: 4K", "",
                                       "null:1G,", "null:1G,spin=", "null:1G,spin=5x",
                                       "null:1G,spin=2000000", "null:1G,fast=1" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        errno = 0;
        assert_null(blk_store_open(bad[i], false));
        assert_int_equal(errno, EINVAL);
    }
}

static void test_null_io(void **state)
{
    (void)state;
    struct blk_store *s = blk_store_open("null:1M", false);
    assert_non_null(s);
    char buf[4096];
    assert_int_equal(rw(s, false, buf, sizeof(buf), 0, true, NULL), 0); /* a NOP */
    assert_int_equal(rw(s, true, buf, sizeof(buf), 0, true, NULL), 0);
    struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
    assert_int_equal(blk_store_prep_flush(s, sqe), 0);
    assert_int_equal(run_one(), 0);
    assert_int_equal(discard_all(s, 0, 4096, false, NULL, NULL), 0);
    struct blk_store_info info;
    assert_int_equal(blk_store_refresh(s, &info), 0);
    assert_int_equal(info.size_bytes, 1 << 20);
    blk_store_close(s);

    /* a read-only null store refuses writes */
    s = blk_store_open("null:1M", true);
    assert_non_null(s);
    assert_int_equal(rw(s, true, buf, sizeof(buf), 0, true, NULL), -EROFS);
    blk_store_close(s);
}

static void test_file_rw_direct_and_buffered(void **state)
{
    (void)state;
    char path[300], target[310];
    path_in_dir(path, sizeof(path), "disk.img");
    make_file(path, 1 << 20);
    snprintf(target, sizeof(target), "file:%s", path);
    struct blk_store *s = blk_store_open(target, false);
    assert_non_null(s);
    const struct blk_store_info *info = blk_store_get_info(s);
    assert_int_equal(info->size_bytes, 1 << 20);
    assert_false(info->is_null);
    assert_false(info->read_only);
    assert_true(info->flush);
    assert_true(info->logical_sector == 512 || info->logical_sector == 4096);
    assert_true(info->physical_sector >= info->logical_sector);

    uint8_t *w = page_buf(16384), *r = page_buf(16384);
    for (size_t i = 0; i < 16384; i++)
        w[i] = (uint8_t)(i * 7 + 3);

    /* aligned: the O_DIRECT fd (ext4, xfs, tmpfs >= 6.6 all have it) */
    int fd_direct = -1, fd_buf = -1;
    assert_int_equal(rw(s, true, w, 8192, 65536, true, &fd_direct), 8192);
    memset(r, 0, 16384);
    assert_int_equal(rw(s, false, r, 8192, 65536, true, NULL), 8192);
    assert_memory_equal(r, w, 8192);
    int fl = fcntl(fd_direct, F_GETFL);
    bool have_direct = fl >= 0 && (fl & O_DIRECT);

    /* not aligned by the caller: the buffered fd */
    assert_int_equal(rw(s, true, w + 8192, 512, 65536 + 8192, false, &fd_buf), 512);
    fl = fcntl(fd_buf, F_GETFL);
    assert_true(fl >= 0);
    assert_false(fl & O_DIRECT);
    if (have_direct)
        assert_int_not_equal(fd_direct, fd_buf);
    else
        print_message("# no O_DIRECT on %s: buffered fallback only\n", dir);

    /* says aligned but the buffer is not: the store falls back itself */
    uint8_t *odd = page_buf(8192);
    memcpy(odd + 1, w, 4096);
    int fd_odd = -1;
    assert_int_equal(rw(s, true, odd + 1, 4096, 131072, true, &fd_odd), 4096);
    assert_int_equal(fd_odd, fd_buf);
    memset(r, 0, 4096);
    assert_int_equal(rw(s, false, r, 4096, 131072, true, NULL), 4096);
    assert_memory_equal(r, w, 4096);

    /* what the buffered fd wrote, the direct fd reads (kernel coherence) */
    memset(r, 0, 16384);
    assert_int_equal(rw(s, false, r, 4096, 65536 + 8192, true, NULL), 4096);
    assert_memory_equal(r, w + 8192, 512);

    /* the data really is in the file */
    int fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    assert_int_equal(pread(fd, r, 8192, 65536), 8192);
    assert_memory_equal(r, w, 8192);
    close(fd);

    /* flush */
    struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
    assert_int_equal(blk_store_prep_flush(s, sqe), 0);
    assert_int_equal(sqe->opcode, IORING_OP_FSYNC);
    assert_int_equal(run_one(), 0);

    free(w);
    free(r);
    free(odd);
    blk_store_close(s);
    unlink(path);
}

static void test_file_discard(void **state)
{
    (void)state;
    char path[300];
    path_in_dir(path, sizeof(path), "discard.img");
    make_file(path, 1 << 20);
    struct blk_store *s = blk_store_open(path, false);
    assert_non_null(s);
    const struct blk_store_info *info = blk_store_get_info(s);
    if (!info->discard) {
        print_message("# skipped: %s cannot punch holes\n", dir);
        blk_store_close(s);
        unlink(path);
        return;
    }
    assert_true(info->discard_granularity >= 512);
    uint8_t *w = page_buf(65536), *r = page_buf(65536);
    memset(w, 0xab, 65536);
    assert_int_equal(rw(s, true, w, 65536, 0, true, NULL), 65536);
    struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
    assert_int_equal(blk_store_prep_flush(s, sqe), 0);
    assert_int_equal(run_one(), 0);
    struct stat st0, st1;
    assert_int_equal(stat(path, &st0), 0);

    struct blk_discard d;
    assert_int_equal(blk_store_discard_begin(s, &d, 16384, 32768, false), 0);
    sqe = io_uring_get_sqe(&ring);
    assert_int_equal(blk_store_prep_discard(s, sqe, &d), 0);
    assert_int_equal(sqe->opcode, IORING_OP_FALLOCATE);
    assert_false(blk_discard_left(&d)); /* one part */
    assert_int_equal(blk_store_discard_part_done(s, &d, run_one()), 0);
    assert_int_equal(stat(path, &st1), 0);
    assert_true(st1.st_size == st0.st_size); /* KEEP_SIZE */
    assert_true(st1.st_blocks < st0.st_blocks);

    assert_int_equal(rw(s, false, r, 65536, 0, true, NULL), 65536);
    for (size_t i = 0; i < 65536; i++)
        assert_int_equal(r[i], (i >= 16384 && i < 49152) ? 0 : 0xab);

    /* no secure discard on a file */
    assert_false(info->discard_secure);
    assert_int_equal(blk_store_discard_begin(s, &d, 0, 4096, true), -EOPNOTSUPP);
    free(w);
    free(r);
    blk_store_close(s);
    unlink(path);
}

/* A long discard of a file goes in parts that end on 1 MiB boundaries, at
 * most 64 MiB each, and together punch exactly the range asked. */
static void test_file_discard_parts(void **state)
{
    (void)state;
    char path[300];
    path_in_dir(path, sizeof(path), "parts.img");
    make_file(path, 200 << 20);
    struct blk_store *s = blk_store_open(path, false);
    assert_non_null(s);
    if (!blk_store_get_info(s)->discard) {
        print_message("# skipped: %s cannot punch holes\n", dir);
        blk_store_close(s);
        unlink(path);
        return;
    }
    struct blk_discard d;
    uint64_t off = (3u << 19), end = 150ull << 20; /* 1.5 MiB .. 150 MiB */
    assert_int_equal(blk_store_discard_begin(s, &d, off, end - off, false), 0);
    uint64_t expect_start = off;
    unsigned n = 0;
    while (blk_discard_left(&d)) {
        struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
        assert_int_equal(blk_store_prep_discard(s, sqe, &d), 0);
        assert_int_equal(d.part_off, expect_start);
        assert_true(d.part_len > 0 && d.part_len <= (64u << 20));
        uint64_t stop = d.part_off + d.part_len;
        assert_true(stop == end || stop % (1u << 20) == 0);
        assert_int_equal(blk_store_discard_part_done(s, &d, run_one()), 0);
        expect_start = stop;
        n++;
    }
    assert_int_equal(expect_start, end);
    assert_int_equal(n, 3); /* 1.5..65, 65..129, 129..150 MiB */
    /* a failed part is the answer */
    assert_int_equal(blk_store_discard_begin(s, &d, 0, 4096, false), 0);
    struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
    assert_int_equal(blk_store_prep_discard(s, sqe, &d), 0);
    run_one();
    assert_int_equal(blk_store_discard_part_done(s, &d, -EIO), -EIO);
    blk_store_close(s);
    unlink(path);
}

/* A failed flush fails every later one until the frontend reconnects. */
static void test_sticky_flush_error(void **state)
{
    (void)state;
    char path[300];
    path_in_dir(path, sizeof(path), "sticky.img");
    make_file(path, 1 << 20);
    struct blk_store *s = blk_store_open(path, false);
    assert_non_null(s);
    struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
    assert_int_equal(blk_store_prep_flush(s, sqe), 0);
    assert_int_equal(blk_store_flush_done(s, run_one()), 0);
    /* our own cancel is not the disk's word */
    assert_int_equal(blk_store_flush_done(s, -ECANCELED), -ECANCELED);
    assert_int_equal(blk_store_wb_error(s), 0);
    /* the kernel reports a writeback error once... */
    assert_int_equal(blk_store_flush_done(s, -EIO), -EIO);
    assert_int_equal(blk_store_wb_error(s), -EIO);
    /* ...we keep it: no SQE for later flushes, and one already in flight
     * that succeeds is answered with the error too */
    sqe = io_uring_get_sqe(&ring);
    assert_int_equal(blk_store_prep_flush(s, sqe), -EIO);
    io_uring_prep_nop(sqe);
    run_one();
    assert_int_equal(blk_store_flush_done(s, 0), -EIO);
    assert_int_equal(blk_store_flush_done(s, -ENOSPC), -ENOSPC);
    assert_int_equal(blk_store_wb_error(s), -EIO); /* the first one stays */
    /* the reconnect */
    blk_store_clear_wb_error(s);
    sqe = io_uring_get_sqe(&ring);
    assert_int_equal(blk_store_prep_flush(s, sqe), 0);
    assert_int_equal(blk_store_flush_done(s, run_one()), 0);
    blk_store_close(s);
    unlink(path);
}

static void test_read_only(void **state)
{
    (void)state;
    char path[300];
    path_in_dir(path, sizeof(path), "ro.img");
    make_file(path, 65536);
    int fd = open(path, O_WRONLY);
    assert_int_equal(pwrite(fd, "hello", 5, 4096), 5);
    close(fd);
    assert_int_equal(chmod(path, 0400), 0);

    struct blk_store *s = blk_store_open(path, true);
    assert_non_null(s);
    const struct blk_store_info *info = blk_store_get_info(s);
    assert_true(info->read_only);
    assert_false(info->discard);
    uint8_t *b = page_buf(4096);
    assert_int_equal(rw(s, false, b, 4096, 4096, true, NULL), 4096);
    assert_memory_equal(b, "hello", 5);
    assert_int_equal(rw(s, true, b, 4096, 0, true, NULL), -EROFS);
    struct blk_discard d;
    assert_int_equal(blk_store_discard_begin(s, &d, 0, 4096, false), -EROFS);
    blk_store_close(s);

    /* opening a 0400 file read-write fails unless we are root */
    if (geteuid() != 0) {
        errno = 0;
        assert_null(blk_store_open(path, false));
        assert_int_equal(errno, EACCES);
    }
    free(b);
    chmod(path, 0600);
    unlink(path);
}

static void test_resize_and_errors(void **state)
{
    (void)state;
    char path[300], target[310];
    path_in_dir(path, sizeof(path), "grow.img");
    make_file(path, 65536);
    struct blk_store *s = blk_store_open(path, false);
    assert_non_null(s);
    assert_int_equal(blk_store_get_info(s)->size_bytes, 65536);
    assert_int_equal(truncate(path, 1 << 20), 0);
    assert_int_equal(blk_store_get_info(s)->size_bytes, 65536); /* until refreshed */
    struct blk_store_info info;
    assert_int_equal(blk_store_refresh(s, &info), 0);
    assert_int_equal(info.size_bytes, 1 << 20);
    assert_int_equal(blk_store_get_info(s)->size_bytes, 1 << 20);
    blk_store_close(s);

    path_in_dir(target, sizeof(target), "missing.img");
    errno = 0;
    assert_null(blk_store_open(target, false));
    assert_int_equal(errno, ENOENT);
    errno = 0;
    assert_null(blk_store_open(dir, false)); /* a directory */
    assert_true(errno == EINVAL || errno == EISDIR);
    errno = 0;
    assert_null(blk_store_open("phy:", false));
    assert_int_equal(errno, EINVAL);
    errno = 0;
    assert_null(blk_store_open(NULL, false));
    assert_int_equal(errno, EINVAL);
    unlink(path);
}

/* A loop device over a file of `mib` MiB (sector size 512 or 4096) in
 * dev, or false (skip) when we may not make one. */
static bool loop_make(const char *name, unsigned mib, unsigned sector, char *dev, size_t n,
                      char *img, size_t imgn)
{
    if (geteuid() != 0 || access("/dev/loop-control", W_OK) != 0) {
        print_message("# skipped: no loop devices\n");
        return false;
    }
    char cmd[700];
    path_in_dir(img, imgn, name);
    make_file(img, (off_t)mib << 20);
    snprintf(cmd, sizeof(cmd), "losetup --sector-size %u -f --show %s 2>/dev/null", sector,
             img);
    FILE *p = popen(cmd, "r");
    dev[0] = '\0';
    if (!p || !fgets(dev, (int)n, p)) {
        if (p)
            pclose(p);
        print_message("# skipped: losetup failed\n");
        unlink(img);
        return false;
    }
    pclose(p);
    dev[strcspn(dev, "\n")] = '\0';
    return true;
}

static void loop_drop(const char *dev, const char *img)
{
    char cmd[200];
    snprintf(cmd, sizeof(cmd), "losetup -d %s", dev);
    if (system(cmd) != 0)
        print_message("# losetup -d %s failed\n", dev);
    unlink(img);
}

/* A loop device with 4 KiB logical sectors: BLKSSZGET / BLKPBSZGET. */
static void test_block_device(void **state)
{
    (void)state;
    char img[300], dev[64];
    if (!loop_make("loop.img", 4, 4096, dev, sizeof(dev), img, sizeof(img)))
        return;
    char target[80];
    snprintf(target, sizeof(target), "phy:%s", dev);
    struct blk_store *s = blk_store_open(target, false);
    if (s) {
        const struct blk_store_info *info = blk_store_get_info(s);
        bool ok = info->size_bytes == (4u << 20) && info->logical_sector == 4096 &&
                  info->physical_sector >= 4096;
        uint8_t *w = page_buf(8192), *r = page_buf(8192);
        memset(w, 0x5c, 8192);
        int wres = rw(s, true, w, 8192, 8192, true, NULL);
        memset(r, 0, 8192);
        int rres = rw(s, false, r, 8192, 8192, true, NULL);
        bool data_ok = memcmp(r, w, 8192) == 0;
        blk_store_close(s);
        free(w);
        free(r);
        loop_drop(dev, img);
        assert_true(ok);
        assert_int_equal(wres, 8192);
        assert_int_equal(rres, 8192);
        assert_true(data_ok);
    } else {
        loop_drop(dev, img);
        fail_msg("cannot open %s", dev);
    }
}

/* Discard on a loop device: through io_uring (or, on a kernel without the
 * block discard command, learnt once and then the worker), and through
 * the worker when forced; both free the image file's blocks, and edges
 * that are not whole logical sectors are left alone. */
static void test_block_discard(void **state)
{
    (void)state;
    char img[300], dev[64];
    if (!loop_make("ldisc.img", 8, 4096, dev, sizeof(dev), img, sizeof(img)))
        return;
    bool forced[2] = { false, true };
    for (unsigned k = 0; k < 2; k++) {
        if (forced[k])
            setenv("SIDECORE_BLK_DISCARD", "worker", 1);
        struct blk_store *s = blk_store_open(dev, false);
        unsetenv("SIDECORE_BLK_DISCARD");
        assert_non_null(s);
        if (!blk_store_get_info(s)->discard) {
            print_message("# skipped: %s has no discard\n", dev);
            blk_store_close(s);
            break;
        }
        uint8_t *w = page_buf(1 << 20);
        memset(w, 0x77, 1 << 20);
        assert_int_equal(rw(s, true, w, 1 << 20, 1 << 20, true, NULL), 1 << 20);
        struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
        assert_int_equal(blk_store_prep_flush(s, sqe), 0);
        assert_int_equal(run_one(), 0);
        int fd = open(img, O_RDONLY);
        assert_true(fd >= 0);
        assert_int_equal(fsync(fd), 0);
        struct stat st0, st1;
        assert_int_equal(fstat(fd, &st0), 0);

        unsigned parts;
        bool worker;
        /* 1 MiB + 512 .. 2 MiB: the first partial 4 KiB sector stays */
        int rc = discard_all(s, (1 << 20) + 512, (1 << 20) - 512, false, &parts, &worker);
        assert_int_equal(rc, 0);
        if (forced[k])
            assert_true(worker && parts == 0);
        else
            print_message("# io_uring parts %u, worker %d\n", parts, worker);
        assert_int_equal(fsync(fd), 0);
        assert_int_equal(fstat(fd, &st1), 0);
        close(fd);
        assert_true(st1.st_blocks < st0.st_blocks);
        uint8_t *r = page_buf(8192);
        assert_int_equal(rw(s, false, r, 8192, 1 << 20, true, NULL), 8192);
        assert_int_equal(r[0], 0x77); /* the partial sector was kept */
        assert_int_equal(r[4095], 0x77);
        free(r);
        free(w);
        /* secure erase: only where the device has it (loop has not) */
        if (!blk_store_get_info(s)->discard_secure) {
            struct blk_discard d;
            assert_int_equal(blk_store_discard_begin(s, &d, 0, 4096, true), -EOPNOTSUPP);
        }
        blk_store_close(s); /* stops the worker */
    }

    /* The first io_uring answer decides, once per store: -EOPNOTSUPP (or
     * -EINVAL) there means "no io_uring discard": the part is handed back
     * to be redone by the worker, and so is every later discard... */
    struct blk_store *s = blk_store_open(dev, false);
    assert_non_null(s);
    if (!blk_store_get_info(s)->discard) {
        blk_store_close(s);
        loop_drop(dev, img);
        return;
    }
    struct blk_discard d;
    assert_int_equal(blk_store_discard_begin(s, &d, 4096, 8192, false), 0);
    struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
    assert_int_equal(blk_store_prep_discard(s, sqe, &d), 0);
    assert_int_equal(sqe->opcode, IORING_OP_URING_CMD);
    run_one();
    assert_int_equal(blk_store_discard_part_done(s, &d, -EOPNOTSUPP), 1);
    assert_true(blk_discard_left(&d) && d.next == 4096);
    sqe = io_uring_get_sqe(&ring);
    assert_int_equal(blk_store_prep_discard(s, sqe, &d), -EAGAIN);
    io_uring_prep_nop(sqe);
    run_one();
    bool worker;
    assert_int_equal(discard_all(s, 0, 8192, false, NULL, &worker), 0);
    assert_true(worker);
    blk_store_close(s);
    /* ...but once the command worked, -EINVAL is the device's answer */
    s = blk_store_open(dev, false);
    assert_non_null(s);
    assert_int_equal(discard_all(s, 0, 8192, false, NULL, &worker), 0);
    if (!worker) {
        assert_int_equal(blk_store_discard_begin(s, &d, 0, 4096, false), 0);
        sqe = io_uring_get_sqe(&ring);
        assert_int_equal(blk_store_prep_discard(s, sqe, &d), 0);
        run_one();
        assert_int_equal(blk_store_discard_part_done(s, &d, -EINVAL), -EINVAL);
    }
    blk_store_close(s);
    loop_drop(dev, img);
}

/* Mode "w" claims a block device (O_EXCL): a second "w" is refused with
 * EBUSY, "w!" and "r" are not; files are never claimed. */
static void test_exclusive_open(void **state)
{
    (void)state;
    char img[300], dev[64];
    if (!loop_make("lexcl.img", 1, 512, dev, sizeof(dev), img, sizeof(img)))
        return;
    struct blk_store *a = blk_store_open_access(dev, BLK_STORE_WRITE);
    assert_non_null(a);
    errno = 0;
    struct blk_store *b = blk_store_open_access(dev, BLK_STORE_WRITE);
    int err = errno;
    struct blk_store *c = blk_store_open_access(dev, BLK_STORE_WRITE_SHARED);
    struct blk_store *r = blk_store_open_access(dev, BLK_STORE_READ);
    int ext = open(dev, O_RDWR | O_EXCL); /* another claimant is refused too */
    bool ext_busy = ext < 0 && errno == EBUSY;
    if (ext >= 0)
        close(ext);
    blk_store_close(a);
    blk_store_close(b);
    /* released: "w" may claim it now even though w! and r still have it */
    struct blk_store *a2 = blk_store_open_access(dev, BLK_STORE_WRITE);
    blk_store_close(a2);
    blk_store_close(c);
    blk_store_close(r);
    loop_drop(dev, img);
    assert_null(b);
    assert_int_equal(err, EBUSY);
    assert_non_null(c);
    assert_non_null(r);
    assert_true(ext_busy);
    assert_non_null(a2);

    /* files: O_EXCL means nothing, both modes open */
    path_in_dir(img, sizeof(img), "excl-file.img");
    make_file(img, 65536);
    a = blk_store_open_access(img, BLK_STORE_WRITE);
    b = blk_store_open_access(img, BLK_STORE_WRITE);
    assert_non_null(a);
    assert_non_null(b);
    blk_store_close(a);
    blk_store_close(b);
    unlink(img);
}

static int setup(void **state)
{
    (void)state;
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof(dir), "%s/blk_store_test.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir))
        return -1;
    sc_log_set_level(SC_LOG_ERR);
    return io_uring_queue_init(8, &ring, 0) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    io_uring_queue_exit(&ring);
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_null_sizes),
        cmocka_unit_test(test_null_io),
        cmocka_unit_test(test_file_rw_direct_and_buffered),
        cmocka_unit_test(test_file_discard),
        cmocka_unit_test(test_file_discard_parts),
        cmocka_unit_test(test_sticky_flush_error),
        cmocka_unit_test(test_read_only),
        cmocka_unit_test(test_resize_and_errors),
        cmocka_unit_test(test_block_device),
        cmocka_unit_test(test_block_discard),
        cmocka_unit_test(test_exclusive_open),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
