/*
 * simblkfuse - a simulated guest's vbd as a file: MOUNTPOINT/disk.
 *
 *   simblkfuse --dir DIR --domid N --vdev 51712 [--backend-domid B]
 *       [--no-persistent] [--no-indirect] [--max-indirect N] [--queues N]
 *       [--ring-order N] [--no-flush] [--no-discard] [--protocol ABI]
 *       [--timeout-ms MS] [--direct-io] [--ready-fd FD] [-o OPTS] [-d] [-v]
 *       MOUNTPOINT [-f]
 *
 * Acts as guest N: connects the vbd like Linux blkfront (bf_dev_open) and
 * serves it through FUSE (blkfuse.h) until the mount is removed or a
 * SIGTERM/SIGINT/SIGHUP, then disconnects (Closing/Closed) and exits.  A loop
 * device on MOUNTPOINT/disk gives a block device that mkfs, fsck and fio use.
 * Without -f it detaches once mounted; the parent exits 0 only then.
 * --ready-fd: "ready\n" is written there once the file is served.
 * Exit: 0 ok, 1 failure while serving or mounting, 2 usage, 3 the device
 * did not connect.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "blkfront.h"
#include "blkfuse.h"

struct opts {
    const char *dir;
    long domid;
    uint32_t devid;
    struct bf_features want;
    struct blkfuse_opts fuse;
    bool foreground;
};

static void usage(FILE *f)
{
    fprintf(f,
            "usage: simblkfuse --dir DIR --domid N --vdev DEVID [options] MOUNTPOINT [-f]\n"
            "  --dir DIR           xensim directory (default $XENSIM_DIR)\n"
            "  --domid N           act as domain N (default $XENSIM_DOMID)\n"
            "  --vdev DEVID        vbd device id (51712) or name (xvda)\n"
            "  --backend-domid B   require this backend domain\n"
            "  --no-persistent     do not use persistent grants\n"
            "  --no-indirect       no indirect descriptors\n"
            "  --max-indirect N    cap on indirect segments (default %u)\n"
            "  --queues N          cap on queues (default 4)\n"
            "  --ring-order N      cap on ring-page-order (default %u)\n"
            "  --no-flush          do not use flush (fsync does nothing)\n"
            "  --no-discard        do not use discard (hole punching fails)\n"
            "  --protocol ABI      x86_32-abi, x86_64-abi, or '' for none\n"
            "  --timeout-ms MS     bound on each wait for the backend\n"
            "  --direct-io         no page cache for the file\n"
            "  --ready-fd FD       write \"ready\\n\" to FD once serving\n"
            "  -o OPTS             extra FUSE mount options\n"
            "  -d, --debug         libfuse debug output\n"
            "  -v, --verbose       log what was negotiated and an I/O summary\n"
            "  -f                  stay in the foreground\n",
            BF_DEFAULT_INDIRECT_SEGMENTS, BF_MAX_RING_ORDER);
}

static int parse_uint(const char *s, unsigned long max, unsigned long *out)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 0);
    if (errno || end == s || *end || v > max || *s == '-')
        return -EINVAL;
    *out = v;
    return 0;
}

static int parse_args(int argc, char **argv, struct opts *o)
{
    enum { OPT_BACKEND = 256, OPT_NOPERS, OPT_NOIND, OPT_MAXIND, OPT_QUEUES, OPT_ORDER, OPT_NOFLUSH,
           OPT_NODISCARD, OPT_PROTO, OPT_TIMEOUT, OPT_DIRECT, OPT_READY };
    static const struct option longopts[] = {
        { "dir", required_argument, NULL, 'D' },
        { "domid", required_argument, NULL, 'n' },
        { "vdev", required_argument, NULL, 'V' },
        { "backend-domid", required_argument, NULL, OPT_BACKEND },
        { "no-persistent", no_argument, NULL, OPT_NOPERS },
        { "no-indirect", no_argument, NULL, OPT_NOIND },
        { "max-indirect", required_argument, NULL, OPT_MAXIND },
        { "queues", required_argument, NULL, OPT_QUEUES },
        { "ring-order", required_argument, NULL, OPT_ORDER },
        { "no-flush", no_argument, NULL, OPT_NOFLUSH },
        { "no-discard", no_argument, NULL, OPT_NODISCARD },
        { "protocol", required_argument, NULL, OPT_PROTO },
        { "timeout-ms", required_argument, NULL, OPT_TIMEOUT },
        { "direct-io", no_argument, NULL, OPT_DIRECT },
        { "ready-fd", required_argument, NULL, OPT_READY },
        { "debug", no_argument, NULL, 'd' },
        { "verbose", no_argument, NULL, 'v' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    memset(o, 0, sizeof(*o));
    bf_features_default(&o->want);
    o->dir = getenv("XENSIM_DIR");
    o->domid = -1;
    const char *env_dom = getenv("XENSIM_DOMID");
    unsigned long v;
    if (env_dom && parse_uint(env_dom, DOMID_FIRST_RESERVED - 1, &v) == 0)
        o->domid = (long)v;
    o->fuse.ready_fd = -1;
    bool have_vdev = false;
    int c;
    /* '+' would stop at the mount point; -f may follow it, so permute. */
    while ((c = getopt_long(argc, argv, "o:dvfh", longopts, NULL)) != -1) {
        int bad = 0;
        switch (c) {
        case 'D': o->dir = optarg; break;
        case 'n': bad = parse_uint(optarg, DOMID_FIRST_RESERVED - 1, &v); o->domid = (long)v; break;
        case 'V': bad = xsim_vdev_to_devid(optarg, &o->devid); have_vdev = !bad; break;
        case OPT_BACKEND:
            bad = parse_uint(optarg, DOMID_FIRST_RESERVED - 1, &v);
            o->want.backend_domid = (int)v;
            break;
        case OPT_NOPERS: o->want.persistent = false; break;
        case OPT_NOIND: o->want.max_indirect_segments = 0; break;
        case OPT_MAXIND:
            bad = parse_uint(optarg, BF_MAX_INDIRECT_SEGMENTS, &v);
            o->want.max_indirect_segments = (unsigned)v;
            break;
        case OPT_QUEUES:
            bad = parse_uint(optarg, BF_MAX_QUEUES, &v) || v == 0;
            o->want.max_queues = (unsigned)v;
            break;
        case OPT_ORDER:
            bad = parse_uint(optarg, BF_MAX_RING_ORDER, &v);
            o->want.max_ring_order = (unsigned)v;
            break;
        case OPT_NOFLUSH: o->want.flush = o->want.barrier = false; break;
        case OPT_NODISCARD: o->want.discard = false; break;
        case OPT_PROTO: o->want.protocol = optarg; break;
        case OPT_TIMEOUT:
            bad = parse_uint(optarg, 3600000, &v) || v == 0;
            o->want.timeout_ms = (unsigned)v;
            break;
        case OPT_DIRECT: o->fuse.direct_io = true; break;
        case OPT_READY:
            bad = parse_uint(optarg, 65535, &v);
            o->fuse.ready_fd = (int)v;
            break;
        case 'o': o->fuse.mount_opts = optarg; break;
        case 'd': o->fuse.debug = true; break;
        case 'v': o->fuse.verbose = true; break;
        case 'f': o->foreground = true; break;
        case 'h': usage(stdout); exit(0);
        default: return -EINVAL;
        }
        if (bad) {
            fprintf(stderr, "simblkfuse: bad value '%s'\n", optarg);
            return -EINVAL;
        }
    }
    if (optind + 1 != argc || !o->dir || !*o->dir || o->domid < 0 || !have_vdev)
        return -EINVAL;
    o->fuse.mountpoint = argv[optind];
    return 0;
}

/*
 * Background mode: the child serves; the parent waits for its word on a
 * pipe (the child's ready fd) and exits 0 once the file is served, or with
 * the child's status if it gave up.  Returns in the child only.
 */
static void detach(struct opts *o)
{
    int p[2];
    if (pipe(p) < 0) {
        perror("simblkfuse: pipe");
        exit(1);
    }
    pid_t pid = fork();
    if (pid < 0) {
        perror("simblkfuse: fork");
        exit(1);
    }
    if (pid > 0) {
        close(p[1]);
        char buf[8];
        ssize_t n = read(p[0], buf, sizeof(buf));
        if (n > 0) {
            if (o->fuse.ready_fd >= 0 && write(o->fuse.ready_fd, "ready\n", 6) != 6)
                perror("simblkfuse: ready fd");
            exit(0);
        }
        int st;
        if (waitpid(pid, &st, 0) == pid && WIFEXITED(st))
            exit(WEXITSTATUS(st));
        exit(1);
    }
    close(p[0]);
    if (o->fuse.ready_fd >= 0)
        close(o->fuse.ready_fd);
    o->fuse.ready_fd = p[1];
    setsid();
    if (chdir("/") < 0)
        perror("simblkfuse: chdir");
}

int main(int argc, char **argv)
{
    struct opts o;
    if (parse_args(argc, argv, &o) < 0) {
        usage(stderr);
        return 2;
    }
    char mnt[4096];
    if (!realpath(o.fuse.mountpoint, mnt)) {
        fprintf(stderr, "simblkfuse: %s: %s\n", o.fuse.mountpoint, strerror(errno));
        return 1;
    }
    o.fuse.mountpoint = mnt;
    char dir[4096];
    if (!realpath(o.dir, dir)) {
        fprintf(stderr, "simblkfuse: %s: %s\n", o.dir, strerror(errno));
        return 1;
    }
    o.dir = dir;
    if (!o.foreground)
        detach(&o);

    struct xsim_guest *g = xsim_guest_open(o.dir, (domid_t)o.domid);
    if (!g) {
        fprintf(stderr, "simblkfuse: guest %ld in %s: %s\n", o.domid, o.dir, strerror(errno));
        return 3;
    }
    char err[256] = "";
    struct bf_dev *dev = NULL;
    int ret = bf_dev_open(g, o.devid, &o.want, &dev, err, sizeof(err));
    if (ret < 0) {
        fprintf(stderr, "simblkfuse: vbd %ld/%u: %s (%s)\n", o.domid, o.devid,
                err[0] ? err : "connect failed", strerror(-ret));
        xsim_guest_close(g);
        return 3;
    }
    const struct bf_dev_info *in = bf_dev_get_info(dev);
    if (o.fuse.verbose)
        fprintf(stderr,
                "simblkfuse: vbd %ld/%u via %s: %llu x %u bytes, %u queue(s) of %u page(s), "
                "persistent %d, indirect %u, flush %d, discard %d%s\n",
                o.domid, o.devid, in->backend_path, (unsigned long long)in->sectors,
                in->sector_size, in->nr_queues, in->ring_pages, in->persistent,
                in->max_indirect_segments, in->flush, in->discard,
                in->read_only ? ", read-only" : "");
    char fsname[64];
    snprintf(fsname, sizeof(fsname), "simblkfuse:%ld/%u", o.domid, o.devid);
    o.fuse.fsname = fsname;

    int rc = 0;
    ret = blkfuse_run(dev, &o.fuse, err, sizeof(err));
    if (ret < 0) {
        fprintf(stderr, "simblkfuse: %s\n", err);
        rc = 1;
    }
    ret = bf_dev_close(dev);
    if (ret < 0 && ret != -ENODEV)
        fprintf(stderr, "simblkfuse: disconnect: %s\n", strerror(-ret));
    bf_dev_free(dev);
    xsim_guest_close(g);
    return rc;
}
