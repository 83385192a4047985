/*
 * blk_store_test.c - backing stores (blkback/blk_store.c) against real files
 * in a temporary directory and a real io_uring: read, write, flush, discard,
 * the O_DIRECT fd for aligned requests and the buffered one otherwise, the
 * null store, size parsing, read-only, resize; a loop device (4 KiB
 * sectors) when we may create one.
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
    static const char *const bad[] = { "null:", "null:0", "null:100", "null:12X", "null:-4K",
                                       "null:4KK", "null:99999999999T", "null: 4K", "" };
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
    sqe = io_uring_get_sqe(&ring);
    assert_int_equal(blk_store_prep_discard(s, sqe, 0, 4096, false), 0);
    assert_int_equal(run_one(), 0);
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

    sqe = io_uring_get_sqe(&ring);
    assert_int_equal(blk_store_prep_discard(s, sqe, 16384, 32768, false), 0);
    assert_int_equal(sqe->opcode, IORING_OP_FALLOCATE);
    assert_int_equal(run_one(), 0);
    assert_int_equal(stat(path, &st1), 0);
    assert_true(st1.st_size == st0.st_size); /* KEEP_SIZE */
    assert_true(st1.st_blocks < st0.st_blocks);

    assert_int_equal(rw(s, false, r, 65536, 0, true, NULL), 65536);
    for (size_t i = 0; i < 65536; i++)
        assert_int_equal(r[i], (i >= 16384 && i < 49152) ? 0 : 0xab);

    /* no secure discard on a file */
    sqe = io_uring_get_sqe(&ring);
    assert_false(info->discard_secure);
    assert_int_equal(blk_store_prep_discard(s, sqe, 0, 4096, true), -EOPNOTSUPP);
    io_uring_prep_nop(sqe);
    run_one();
    free(w);
    free(r);
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
    struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
    assert_int_equal(blk_store_prep_discard(s, sqe, 0, 4096, false), -EROFS);
    io_uring_prep_nop(sqe);
    run_one();
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

/* A loop device with 4 KiB logical sectors: BLKSSZGET / BLKPBSZGET. */
static void test_block_device(void **state)
{
    (void)state;
    if (geteuid() != 0 || access("/dev/loop-control", W_OK) != 0) {
        print_message("# skipped: no loop devices\n");
        return;
    }
    char path[300], cmd[700], dev[64] = "";
    path_in_dir(path, sizeof(path), "loop.img");
    make_file(path, 4 << 20);
    snprintf(cmd, sizeof(cmd), "losetup --sector-size 4096 -f --show %s 2>/dev/null", path);
    FILE *p = popen(cmd, "r");
    if (!p || !fgets(dev, sizeof(dev), p)) {
        if (p)
            pclose(p);
        print_message("# skipped: losetup failed\n");
        unlink(path);
        return;
    }
    pclose(p);
    dev[strcspn(dev, "\n")] = '\0';
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
        snprintf(cmd, sizeof(cmd), "losetup -d %s", dev);
        assert_int_equal(system(cmd), 0);
        unlink(path);
        assert_true(ok);
        assert_int_equal(wres, 8192);
        assert_int_equal(rres, 8192);
        assert_true(data_ok);
    } else {
        snprintf(cmd, sizeof(cmd), "losetup -d %s", dev);
        assert_int_equal(system(cmd), 0);
        unlink(path);
        fail_msg("cannot open %s", dev);
    }
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
        cmocka_unit_test(test_read_only),
        cmocka_unit_test(test_resize_and_errors),
        cmocka_unit_test(test_block_device),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
