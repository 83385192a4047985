/*
 * blkfuse.c - FUSE low-level file system of one file, served from the same
 * thread that drives the rings.
 *
 * /dev/fuse is read non-blocking from an epoll loop that also watches the
 * rings' event channels, the device's xenstore watch and a signalfd; the
 * handlers only queue blkfuse_io operations, whose completions reply.
 * Splice reads are switched off so a write's data is plain memory, copied
 * by bfio_write() before the handler returns.
 */
#define FUSE_USE_VERSION 35

#include <errno.h>
#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <inttypes.h>
#include <linux/falloc.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "blkfuse.h"
#include "blkfuse_io.h"
#include "clock.h"
#include "fuse_util.h"

#define DISK_INO 2
#define DISK_NAME "disk"
#define ATTR_TIMEOUT 1.0        /* s: a resize is seen within a second */
#define FUSE_BATCH 64           /* requests read per wakeup */
#define DRAIN_MS 5000           /* bound on answering what is in flight at exit */

enum loop_tag { TAG_FUSE = 1, TAG_SIGNAL, TAG_WATCH, TAG_RING = 16 };

struct blkfuse {
    struct bf_dev *dev;
    struct bfio *io;
    const struct blkfuse_opts *o;
    struct fuse_session *se;
    int ep;
    bool dead;                  /* device closed under us */
    time_t t_start;
};

static void bfz_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void bfz_log(const char *fmt, ...)
{
    char line[256];
    va_list ap;
    va_start(ap, fmt);
    int n = snprintf(line, sizeof(line), "simblkfuse: ");
    vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
    va_end(ap);
    fprintf(stderr, "%s\n", line);
}

static void fill_attr(void *priv, fuse_ino_t ino, struct stat *st)
{
    struct blkfuse *bz = priv;
    bool ro = bf_dev_get_info(bz->dev)->read_only;
    uint32_t bs = bfio_block_size(bz->io);
    fu_fill_attr(st, ino, bz->t_start, ro ? 0444 : 0644, bfio_size(bz->io), bs > 4096 ? bs : 4096);
}

static const struct fu_file disk_file = { .name = DISK_NAME, .ino = DISK_INO };

static struct blkfuse *bz_of(fuse_req_t req) { return fu_priv(req); }

/* ---- completions ---- */

static void reply_read(void *arg, int err, const void *data, size_t len)
{
    fuse_req_t req = arg;
    if (err)
        fuse_reply_err(req, -err);
    else
        fuse_reply_buf(req, data, len);
}

static void reply_write(void *arg, int err, const void *data, size_t len)
{
    (void)data;
    fuse_req_t req = arg;
    if (err)
        fuse_reply_err(req, -err);
    else
        fuse_reply_write(req, len);
}

static void reply_status(void *arg, int err, const void *data, size_t len)
{
    (void)data;
    (void)len;
    fuse_reply_err(arg, -err);
}

/* A queueing failure (only -ENOMEM) is answered at once. */
static void queued(fuse_req_t req, int rc)
{
    if (rc < 0)
        fuse_reply_err(req, -rc);
}

/* ---- operations ---- */

static void op_init(void *userdata, struct fuse_conn_info *conn)
{
    (void)userdata;
    conn->want &= ~(unsigned)FUSE_CAP_SPLICE_READ;
    if (conn->capable & FUSE_CAP_ASYNC_READ)
        conn->want |= FUSE_CAP_ASYNC_READ;
    /* Let readahead keep several reads on the rings. */
    conn->max_background = 64;
    conn->congestion_threshold = 48;
}

static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    struct blkfuse *bz = bz_of(req);
    if (ino != DISK_INO) {
        fuse_reply_err(req, ino == FUSE_ROOT_ID ? EISDIR : ENOENT);
        return;
    }
    if (bf_dev_get_info(bz->dev)->read_only && (fi->flags & O_ACCMODE) != O_RDONLY) {
        fuse_reply_err(req, EROFS);
        return;
    }
    if (fi->flags & O_TRUNC) {
        fuse_reply_err(req, EPERM);
        return;
    }
    /* Only we change the disk: cached pages stay valid across opens. */
    fi->keep_cache = 1;
    fi->direct_io = bz->o->direct_io;
    fuse_reply_open(req, fi);
}

static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                    struct fuse_file_info *fi)
{
    (void)ino;
    (void)fi;
    queued(req, bfio_read(bz_of(req)->io, (uint64_t)off, size, reply_read, req));
}

static void op_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
                     struct fuse_file_info *fi)
{
    (void)ino;
    (void)fi;
    struct blkfuse *bz = bz_of(req);
    if (bf_dev_get_info(bz->dev)->read_only) {
        fuse_reply_err(req, EROFS);
        return;
    }
    queued(req, bfio_write(bz->io, (uint64_t)off, size, buf, reply_write, req));
}

static void op_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    (void)ino;
    (void)fi;
    queued(req, bfio_flush(bz_of(req)->io, reply_status, req));
}

static void op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
    (void)ino;
    (void)datasync;
    (void)fi;
    queued(req, bfio_flush(bz_of(req)->io, reply_status, req));
}

static void op_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t off, off_t len,
                         struct fuse_file_info *fi)
{
    (void)ino;
    (void)fi;
    struct blkfuse *bz = bz_of(req);
    uint64_t end = (uint64_t)off + (uint64_t)len;
    if (off < 0 || len <= 0) {
        fuse_reply_err(req, EINVAL);
        return;
    }
    if (bf_dev_get_info(bz->dev)->read_only) {
        fuse_reply_err(req, EROFS);
        return;
    }
    if (!(mode & FALLOC_FL_KEEP_SIZE) && end > bfio_size(bz->io)) {
        fuse_reply_err(req, EFBIG);
        return;
    }
    switch (mode & ~FALLOC_FL_KEEP_SIZE) {
    case 0:     /* every block of a disk is there already */
        fuse_reply_err(req, 0);
        return;
    case FALLOC_FL_PUNCH_HOLE:
        queued(req, bfio_discard(bz->io, (uint64_t)off, (size_t)len, reply_status, req));
        return;
    case FALLOC_FL_ZERO_RANGE:
        queued(req, bfio_write_zeroes(bz->io, (uint64_t)off, (size_t)len, reply_status, req));
        return;
    default:
        fuse_reply_err(req, EOPNOTSUPP);
    }
}

/* lookup, getattr, setattr, readdir and statfs: the tree's (fuse_util.h). */
static const struct fuse_lowlevel_ops blkfuse_ops = {
    .init = op_init,
    .open = op_open,
    .read = op_read,
    .write = op_write,
    .flush = op_flush,
    .fsync = op_fsync,
    .fallocate = op_fallocate,
};

/* ---- the loop ---- */

static int ep_add(int ep, int fd, uint64_t tag)
{
    struct epoll_event ev = { .events = EPOLLIN, .data.u64 = tag };
    return epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

static void ring_fds(struct blkfuse *bz, bool add)
{
    for (unsigned q = 0; q < bf_dev_nr_queues(bz->dev); q++) {
        struct bf_ring *r = bf_dev_ring(bz->dev, q);
        if (!r)
            continue;
        if (add)
            ep_add(bz->ep, bf_ring_fd(r), TAG_RING + q);
        else
            epoll_ctl(bz->ep, EPOLL_CTL_DEL, bf_ring_fd(r), NULL);
    }
}

/* The device broke or the backend closed it: nothing more reaches it. */
static void device_gone(struct blkfuse *bz, const char *why)
{
    if (bz->dead)
        return;
    bfz_log("%s: closing the device; I/O now fails with EIO", why);
    bz->dead = true;
    ring_fds(bz, false);
    int err = bf_dev_close(bz->dev);
    if (err < 0)
        bfz_log("closing the device: %s", strerror(-err));
    bfio_fail_all(bz->io, -EIO);
}

static void fuse_requests(struct blkfuse *bz, struct fuse_buf *fbuf)
{
    for (int i = 0; i < FUSE_BATCH && !fuse_session_exited(bz->se); i++) {
        int res = fuse_session_receive_buf(bz->se, fbuf);
        if (res == -EINTR)
            continue;
        if (res == -EAGAIN)
            return;
        if (res <= 0) {
            if (res < 0)
                bfz_log("reading /dev/fuse: %s", strerror(-res));
            fuse_session_exit(bz->se);
            return;
        }
        fuse_session_process_buf(bz->se, fbuf);
    }
}

static void handle(struct blkfuse *bz, uint64_t tag, int sfd, struct fuse_buf *fbuf)
{
    if (tag == TAG_FUSE) {
        fuse_requests(bz, fbuf);
    } else if (tag == TAG_SIGNAL) {
        struct signalfd_siginfo si;
        if (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
            bfz_log("signal %u: unmounting", si.ssi_signo);
        fuse_session_exit(bz->se);
    } else if (tag == TAG_WATCH) {
        int ev = bf_dev_check(bz->dev);
        if (ev < 0 && ev != -EAGAIN)
            bfz_log("device watch: %s", strerror(-ev));
        if (ev > 0 && (ev & BF_DEV_EV_RESIZED)) {
            bfio_update_size(bz->io);
            bfz_log("disk resized to %" PRIu64 " bytes", bfio_size(bz->io));
        }
        if (ev > 0 && (ev & BF_DEV_EV_CLOSING))
            device_gone(bz, "backend closing");
    } else if (tag >= TAG_RING && !bz->dead) {
        int err = bfio_ring_event(bz->io, (unsigned)(tag - TAG_RING));
        if (err == -EPROTO)
            device_gone(bz, "ring protocol error");
        else if (err < 0)
            bfz_log("queue %u: %s", (unsigned)(tag - TAG_RING), strerror(-err));
    }
}

static void run_loop(struct blkfuse *bz, int sfd)
{
    struct fuse_buf fbuf = { .mem = NULL };
    struct epoll_event evs[32];
    while (!fuse_session_exited(bz->se)) {
        int n = epoll_wait(bz->ep, evs, 32, -1);
        if (n < 0 && errno != EINTR) {
            bfz_log("epoll_wait: %s", strerror(errno));
            break;
        }
        for (int i = 0; i < n; i++)
            handle(bz, evs[i].data.u64, sfd, &fbuf);
        if (!bz->dead) {
            int err = bfio_pump(bz->io);
            if (err < 0)
                bfz_log("push: %s", strerror(-err));
        }
    }
    /* Answer what is in flight (the kernel may still wait for it). */
    epoll_ctl(bz->ep, EPOLL_CTL_DEL, fuse_session_fd(bz->se), NULL);
    uint64_t deadline = sc_clock_ms() + DRAIN_MS, now;
    while (!bz->dead && bfio_pending(bz->io) > 0 && (now = sc_clock_ms()) < deadline) {
        int n = epoll_wait(bz->ep, evs, 32, (int)(deadline - now));
        for (int i = 0; i < n; i++)
            if (evs[i].data.u64 >= TAG_RING || evs[i].data.u64 == TAG_WATCH)
                handle(bz, evs[i].data.u64, sfd, &fbuf);
        if (!bz->dead)
            bfio_pump(bz->io);
    }
    if (bfio_pending(bz->io) > 0)
        bfz_log("%u operations still in flight at exit", bfio_pending(bz->io));
    free(fbuf.mem);
}

static void log_summary(struct blkfuse *bz)
{
    const struct bfio_stats *s = bfio_get_stats(bz->io);
    bfz_log("ops %" PRIu64 " (read %" PRIu64 " write %" PRIu64 " flush %" PRIu64
            " discard %" PRIu64 " zero %" PRIu64 " rmw %" PRIu64 ") requests %" PRIu64
            " errors %" PRIu64 " ring-full %" PRIu64,
            s->ops, s->reads, s->writes, s->flushes, s->discards, s->zeroes, s->rmw,
            s->requests, s->errors, s->ring_full);
}

int blkfuse_run(struct bf_dev *dev, const struct blkfuse_opts *o, char *err, size_t errlen)
{
    char dummy[8];
    if (!err) {
        err = dummy;
        errlen = sizeof(dummy);
    }
    struct blkfuse bz = { .dev = dev, .o = o, .ep = -1, .t_start = time(NULL) };
    struct fu_tree tree = { .files = &disk_file, .nfiles = 1, .timeout = ATTR_TIMEOUT,
                            .fill_attr = fill_attr, .priv = &bz };
    char opts[512];
    snprintf(opts, sizeof(opts), "fsname=%s,subtype=simblkfuse%s%s",
             o->fsname ? o->fsname : "simblkfuse", o->mount_opts ? "," : "",
             o->mount_opts ? o->mount_opts : "");
    const struct fu_mount_opts mo = { .prog = "simblkfuse", .mountpoint = o->mountpoint,
                                      .options = opts, .debug = o->debug };
    int ret = 0, sfd = -1;
    sigset_t mask, old;
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &mask, &old);
    signal(SIGPIPE, SIG_IGN);

    bz.io = bfio_new(dev);
    if (!bz.io) {
        ret = -errno;
        snprintf(err, errlen, "block engine: %s", strerror(errno));
        goto out;
    }
    bz.se = fu_mount(&mo, &blkfuse_ops, &tree, err, errlen);
    if (!bz.se) {
        ret = -EIO;
        goto out;
    }
    int ffd = fuse_session_fd(bz.se);
    fcntl(ffd, F_SETFL, fcntl(ffd, F_GETFL) | O_NONBLOCK);
    sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
    bz.ep = epoll_create1(EPOLL_CLOEXEC);
    if (sfd < 0 || bz.ep < 0 || (ret = ep_add(bz.ep, ffd, TAG_FUSE)) < 0 ||
        (ret = ep_add(bz.ep, sfd, TAG_SIGNAL)) < 0) {
        ret = ret < 0 ? ret : -errno;
        snprintf(err, errlen, "event loop: %s", strerror(-ret));
        goto unmount;
    }
    if (bf_dev_watch_fd(dev) >= 0)
        ep_add(bz.ep, bf_dev_watch_fd(dev), TAG_WATCH);
    ring_fds(&bz, true);
    fu_tell_ready(o->ready_fd, "simblkfuse");
    run_loop(&bz, sfd);
    if (o->verbose)
        log_summary(&bz);
unmount:
    fu_unmount(bz.se, &mo);
out:
    if (bz.ep >= 0)
        close(bz.ep);
    if (sfd >= 0)
        close(sfd);
    bfio_free(bz.io);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return ret;
}
