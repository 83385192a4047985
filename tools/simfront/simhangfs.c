/*
 * simhangfs - a FUSE file system whose one data file can be told to stop
 * answering: the backing store that hangs, for tests of what a backend
 * does with I/O that never completes.
 *
 *   simhangfs MOUNTPOINT [--size 64M] [--hang-after-ms N] [--ready-fd FD]
 *       [-o OPTS] [-d]
 *
 * MOUNTPOINT/disk  the data file: --size bytes kept in memory (zeros until
 *                  written); read, write, fsync and fdatasync go through the
 *                  switch below.  Opened with FOPEN_DIRECT_IO, so every read
 *                  and write reaches us (none is served from the page cache
 *                  while the store hangs).  Its size cannot change.
 * MOUNTPOINT/ctl   the switch.  Write one word:
 *                    hang   every later read/write/fsync of disk is parked:
 *                           taken from /dev/fuse and never answered, until
 *                           "ok", "error", the unmount or SIGTERM;
 *                    ok     parked requests are served now (in arrival
 *                           order), later ones at once;
 *                    error  parked and later requests fail with EIO.
 *                    fsync-error
 *                           reads and writes are served (parked ones too),
 *                           every fsync/fdatasync fails with EIO: a store
 *                           whose writeback failed;
 *                    fail read|write|rw EIO|ENOSPC [OFFSET LENGTH]
 *                           from now on, reads and/or writes that touch
 *                           the byte range (the whole disk without one)
 *                           fail with that error; others are served;
 *                    short read|write|rw [OFFSET LENGTH]
 *                           the same requests are answered with half
 *                           their bytes (a short transfer);
 *                  "ok" clears a fail or short rule as well.
 *                  Reading it gives one line:
 *                    state=ok|hang|error|fsync-error parked=N parked_total=N served=N
 *                    fault=none|fail|short faulted=N
 *                  (parked: requests held now; served: data requests
 *                  answered with data or success; faulted: requests the
 *                  fail or short rule answered).
 * lookup, getattr, setattr, open, release, flush (close), statfs and
 * fallocate always answer at once, so a backend's open, size and feature
 * probes succeed on a hung store; flush is the close of a file, not a data
 * sync, and a hung close would leave its caller in an unkillable wait.
 * Interrupts are ignored: a parked request stays parked whatever its caller
 * does, like a store that does not answer at all.
 *
 * --hang-after-ms N: the switch turns to "hang" by itself on the first data
 * request N ms or more after the mount.
 *
 * One process, one thread, always in the foreground: parking is simply not
 * replying, so the single-threaded loop keeps answering everything else.
 * Exits 0 when unmounted (fusermount3 -u, umount -l once the last user of
 * the file is gone) or on SIGTERM/SIGINT/SIGHUP, after failing the parked
 * requests with EIO; 1 on a mount failure, 2 on a usage error.
 * --ready-fd: "ready\n" is written there once mounted.
 */
#define FUSE_USE_VERSION 35

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fuse_util.h"

#define DISK_INO 2
#define CTL_INO 3
#define CTL_SIZE 4096 /* what stat shows; a read returns the current line */

enum hang_state { HS_OK, HS_HANG, HS_ERROR, HS_FSYNC_ERROR };

static const char *const state_names[] = { "ok", "hang", "error", "fsync-error" };

enum park_op { PARK_READ, PARK_WRITE, PARK_FSYNC };

/* A data request taken from the kernel and not answered yet. */
struct parked {
    struct parked *next;
    fuse_req_t req;
    enum park_op op;
    uint64_t off;
    size_t size;
    char data[];                /* a write's bytes (libfuse reuses its buffer) */
};

/* A fault at chosen offsets: the requests it matches fail or come up short. */
enum fault_kind { FAULT_NONE, FAULT_FAIL, FAULT_SHORT };

static const char *const fault_names[] = { "none", "fail", "short" };

struct fault_rule {
    enum fault_kind kind;
    bool reads, writes;
    int err;                    /* FAULT_FAIL: EIO or ENOSPC */
    uint64_t off, len;          /* the byte range; len 0: the whole disk */
};

struct hangfs {
    uint8_t *data;
    uint64_t size;
    enum hang_state state;
    int64_t hang_at_ms;         /* >= 0: turn to hang on the first data request after it */
    struct parked *head, **tail;
    uint64_t parked, parked_total, served;
    struct fault_rule fault;
    uint64_t faulted;
    time_t t_start;
};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static struct hangfs *fs_of(fuse_req_t req) { return fu_priv(req); }

static void fill_attr(void *priv, fuse_ino_t ino, struct stat *st)
{
    const struct hangfs *fs = priv;
    fu_fill_attr(st, ino, fs->t_start, 0644, ino == DISK_INO ? fs->size : CTL_SIZE, 4096);
}

/* The disk first: statfs counts its size.  ctl takes the truncate of
 * `echo hang >ctl`; the disk keeps its size. */
static const struct fu_file hang_files[] = {
    { .name = "disk", .ino = DISK_INO },
    { .name = "ctl", .ino = CTL_INO, .any_size = true },
};

/* ---- the data path: serve, park or fail ---- */

static bool fault_matches(const struct fault_rule *f, enum park_op op, uint64_t off, size_t size)
{
    if (f->kind == FAULT_NONE || !((op == PARK_READ && f->reads) ||
                                   (op == PARK_WRITE && f->writes)))
        return false;
    return f->len == 0 || (off < f->off + f->len && f->off < off + size);
}

/* Answers one data request; `data` is a write's bytes. */
static void serve(struct hangfs *fs, fuse_req_t req, enum park_op op, uint64_t off, size_t size,
                  const char *data)
{
    if (fs->state == HS_ERROR || (fs->state == HS_FSYNC_ERROR && op == PARK_FSYNC)) {
        fuse_reply_err(req, EIO);
        return;
    }
    if (fault_matches(&fs->fault, op, off, size)) {
        fs->faulted++;
        if (fs->fault.kind == FAULT_FAIL) {
            fuse_reply_err(req, fs->fault.err);
            return;
        }
        size /= 2;
    }
    fs->served++;
    switch (op) {
    case PARK_READ:
        if (off >= fs->size)
            size = 0;
        else if (size > fs->size - off)
            size = (size_t)(fs->size - off);
        fuse_reply_buf(req, (const char *)fs->data + off, size);
        return;
    case PARK_WRITE:
        if (off >= fs->size || size > fs->size - off) {
            fs->served--;
            fuse_reply_err(req, off >= fs->size ? ENOSPC : EFBIG);
            return;
        }
        memcpy(fs->data + off, data, size);
        fuse_reply_write(req, size);
        return;
    case PARK_FSYNC:
        fuse_reply_err(req, 0);
        return;
    }
}

/* Serves or parks a data request according to the switch. */
static void data_request(struct hangfs *fs, fuse_req_t req, enum park_op op, uint64_t off,
                         size_t size, const char *data)
{
    if (fs->state == HS_OK && fs->hang_at_ms >= 0 && now_ms() >= fs->hang_at_ms) {
        fs->state = HS_HANG;
        fs->hang_at_ms = -1;
        fprintf(stderr, "simhangfs: --hang-after-ms reached: hanging\n");
    }
    if (fs->state != HS_HANG) {
        serve(fs, req, op, off, size, data);
        return;
    }
    size_t extra = op == PARK_WRITE ? size : 0;
    struct parked *p = malloc(sizeof(*p) + extra);
    if (!p) {
        fuse_reply_err(req, ENOMEM);
        return;
    }
    *p = (struct parked){ .req = req, .op = op, .off = off, .size = size };
    if (extra)
        memcpy(p->data, data, extra);
    *fs->tail = p;
    fs->tail = &p->next;
    fs->parked++;
    fs->parked_total++;
}

/* Answers every parked request: served (state ok) or failed with `err`. */
static void unpark_all(struct hangfs *fs, int err)
{
    struct parked *p = fs->head;
    fs->head = NULL;
    fs->tail = &fs->head;
    while (p) {
        struct parked *next = p->next;
        if (err)
            fuse_reply_err(p->req, err);
        else
            serve(fs, p->req, p->op, p->off, p->size, p->data);
        free(p);
        fs->parked--;
        p = next;
    }
}

/* ---- the switch ---- */

static void ctl_line(const struct hangfs *fs, char *buf, size_t len)
{
    snprintf(buf, len, "state=%s parked=%" PRIu64 " parked_total=%" PRIu64 " served=%" PRIu64
             "\nfault=%s faulted=%" PRIu64 "\n", state_names[fs->state], fs->parked,
             fs->parked_total, fs->served, fault_names[fs->fault.kind], fs->faulted);
}

/* "fail read|write|rw EIO|ENOSPC [OFFSET LENGTH]" or "short read|write|rw
 * [OFFSET LENGTH]" (a NUL-terminated line); 0 or -EINVAL. */
static int parse_fault(const char *line, struct fault_rule *out)
{
    char kind[8], ops[8], err[8] = "";
    unsigned long long off = 0, len = 0;
    int n, want;
    struct fault_rule f = { 0 };
    if (sscanf(line, "%7s %7s", kind, ops) != 2)
        return -EINVAL;
    if (strcmp(kind, "fail") == 0) {
        f.kind = FAULT_FAIL;
        n = sscanf(line, "%*s %*s %7s %llu %llu", err, &off, &len);
        want = 1;
        if (strcmp(err, "EIO") == 0)
            f.err = EIO;
        else if (strcmp(err, "ENOSPC") == 0)
            f.err = ENOSPC;
        else
            return -EINVAL;
    } else if (strcmp(kind, "short") == 0) {
        f.kind = FAULT_SHORT;
        n = sscanf(line, "%*s %*s %llu %llu", &off, &len);
        want = 0;
        if (n < 0)
            n = 0;
    } else {
        return -EINVAL;
    }
    if (n != want && n != want + 2)
        return -EINVAL;
    if (n == want + 2 && len == 0)
        return -EINVAL;
    f.reads = strcmp(ops, "read") == 0 || strcmp(ops, "rw") == 0;
    f.writes = strcmp(ops, "write") == 0 || strcmp(ops, "rw") == 0;
    if (!f.reads && !f.writes)
        return -EINVAL;
    f.off = off;
    f.len = len;
    *out = f;
    return 0;
}

/* "hang", "ok", "error", "fsync-error" or a fault rule, surrounding blanks
 * ignored; 0 or -EINVAL. */
static int ctl_command(struct hangfs *fs, const char *buf, size_t size)
{
    while (size && isspace((unsigned char)*buf)) {
        buf++;
        size--;
    }
    while (size && isspace((unsigned char)buf[size - 1]))
        size--;
    enum hang_state to;
    char line[96];
    if (size < sizeof(line) && (memcmp(buf, "fail ", 5) == 0 || memcmp(buf, "short ", 6) == 0)) {
        memcpy(line, buf, size);
        line[size] = '\0';
        if (parse_fault(line, &fs->fault) < 0)
            return -EINVAL;
        fprintf(stderr, "simhangfs: %s\n", line);
        return 0;
    }
    if (size == 4 && memcmp(buf, "hang", 4) == 0)
        to = HS_HANG;
    else if (size == 2 && memcmp(buf, "ok", 2) == 0)
        to = HS_OK;
    else if (size == 5 && memcmp(buf, "error", 5) == 0)
        to = HS_ERROR;
    else if (size == 11 && memcmp(buf, "fsync-error", 11) == 0)
        to = HS_FSYNC_ERROR;
    else
        return -EINVAL;
    fs->hang_at_ms = -1; /* an explicit word overrides --hang-after-ms */
    fs->state = to;
    if (to == HS_OK)
        fs->fault.kind = FAULT_NONE;
    if (to != HS_HANG)
        unpark_all(fs, to == HS_ERROR ? EIO : 0);
    fprintf(stderr, "simhangfs: %s\n", state_names[to]);
    return 0;
}

/* ---- operations ---- */

static void op_init(void *userdata, struct fuse_conn_info *conn)
{
    (void)userdata;
    /* Room for a backend's whole queue depth of async direct I/O to be
     * parked here, rather than held back inside the kernel. */
    conn->max_background = 256;
    conn->congestion_threshold = 192;
}

static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    if (ino != DISK_INO && ino != CTL_INO) {
        fuse_reply_err(req, ino == FUSE_ROOT_ID ? EISDIR : ENOENT);
        return;
    }
    if (ino == DISK_INO && (fi->flags & O_TRUNC)) {
        fuse_reply_err(req, EPERM);
        return;
    }
    /* No page cache: a read of the disk while hung must reach us, and a
     * read of ctl must see the current line. */
    fi->direct_io = 1;
    fi->keep_cache = 0;
    fuse_reply_open(req, fi);
}

/* read and write: the switch's line or a command, else the disk's data. */
static void read_write(fuse_req_t req, fuse_ino_t ino, enum park_op op, const char *buf,
                       size_t size, off_t off)
{
    struct hangfs *fs = fs_of(req);
    if (off < 0) {
        fuse_reply_err(req, EINVAL);
        return;
    }
    if (ino == CTL_INO && op == PARK_READ) {
        char line[200];
        ctl_line(fs, line, sizeof(line));
        size_t len = strlen(line);
        if ((uint64_t)off >= len)
            fuse_reply_buf(req, NULL, 0);
        else
            fuse_reply_buf(req, line + off, size < len - (size_t)off ? size : len - (size_t)off);
    } else if (ino == CTL_INO) {
        int rc = ctl_command(fs, buf, size);
        if (rc < 0)
            fuse_reply_err(req, -rc);
        else
            fuse_reply_write(req, size);
    } else {
        data_request(fs, req, op, (uint64_t)off, size, buf);
    }
}

static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                    struct fuse_file_info *fi)
{
    (void)fi;
    read_write(req, ino, PARK_READ, NULL, size, off);
}

static void op_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
                     struct fuse_file_info *fi)
{
    (void)fi;
    read_write(req, ino, PARK_WRITE, buf, size, off);
}

static void op_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    (void)ino;
    (void)fi;
    fuse_reply_err(req, 0);
}

static void op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    (void)ino;
    (void)fi;
    fuse_reply_err(req, 0);
}

static void op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
    (void)datasync;
    (void)fi;
    if (ino != DISK_INO) {
        fuse_reply_err(req, 0);
        return;
    }
    data_request(fs_of(req), req, PARK_FSYNC, 0, 0, NULL);
}

/* No holes to punch in a plain buffer: a backend then offers no discard. */
static void op_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t off, off_t len,
                         struct fuse_file_info *fi)
{
    (void)ino;
    (void)mode;
    (void)off;
    (void)len;
    (void)fi;
    fuse_reply_err(req, EOPNOTSUPP);
}

/* lookup, getattr, setattr, readdir and statfs: the tree's (fuse_util.h). */
static const struct fuse_lowlevel_ops hangfs_ops = {
    .init = op_init,
    .open = op_open,
    .read = op_read,
    .write = op_write,
    .flush = op_flush,
    .release = op_release,
    .fsync = op_fsync,
    .fallocate = op_fallocate,
};

/* ---- command line ---- */

struct opts {
    const char *mountpoint;
    const char *mount_opts;
    uint64_t size;
    long hang_after_ms;
    int ready_fd;
    bool debug;
};

static void usage(FILE *f)
{
    fprintf(f,
            "usage: simhangfs MOUNTPOINT [options]\n"
            "  --size SIZE          the data file's size (K/M/G; default 64M)\n"
            "  --hang-after-ms N    hang by itself N ms after the mount\n"
            "  --ready-fd FD        write \"ready\\n\" to FD once mounted\n"
            "  -o OPTS              extra FUSE mount options\n"
            "  -d, --debug          libfuse debug output\n"
            "MOUNTPOINT/disk is the data file; write hang, ok, error, fsync-error,\n"
            "fail read|write|rw EIO|ENOSPC [OFFSET LENGTH] or short read|write|rw\n"
            "[OFFSET LENGTH] to MOUNTPOINT/ctl.\n");
}

/* "123", "4K", "64M", "1G"; a multiple of 512, at most 64 GiB. */
static int parse_size(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    if (!isdigit((unsigned char)*s))
        return -EINVAL;
    unsigned long long v = strtoull(s, &end, 10);
    unsigned shift = 0;
    switch (*end) {
    case 'k': case 'K': shift = 10; end++; break;
    case 'm': case 'M': shift = 20; end++; break;
    case 'g': case 'G': shift = 30; end++; break;
    default: break;
    }
    if (errno || *end || v == 0 || v > (64ull << 30) >> shift || ((v << shift) % 512))
        return -EINVAL;
    *out = (uint64_t)v << shift;
    return 0;
}

static int parse_long(const char *s, long max, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < 0 || v > max)
        return -EINVAL;
    *out = v;
    return 0;
}

static int parse_args(int argc, char **argv, struct opts *o)
{
    enum { OPT_SIZE = 256, OPT_HANG, OPT_READY };
    static const struct option longopts[] = {
        { "size", required_argument, NULL, OPT_SIZE },
        { "hang-after-ms", required_argument, NULL, OPT_HANG },
        { "ready-fd", required_argument, NULL, OPT_READY },
        { "debug", no_argument, NULL, 'd' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    *o = (struct opts){ .size = 64ull << 20, .hang_after_ms = -1, .ready_fd = -1 };
    int c;
    long v;
    while ((c = getopt_long(argc, argv, "o:dfh", longopts, NULL)) != -1) {
        int bad = 0;
        switch (c) {
        case OPT_SIZE: bad = parse_size(optarg, &o->size); break;
        case OPT_HANG: bad = parse_long(optarg, 86400000, &o->hang_after_ms); break;
        case OPT_READY:
            bad = parse_long(optarg, 65535, &v);
            o->ready_fd = (int)v;
            break;
        case 'o': o->mount_opts = optarg; break;
        case 'd': o->debug = true; break;
        case 'f': break; /* always in the foreground; accepted like simblkfuse's */
        case 'h': usage(stdout); exit(0);
        default: return -EINVAL;
        }
        if (bad) {
            fprintf(stderr, "simhangfs: bad value '%s'\n", optarg);
            return -EINVAL;
        }
    }
    if (optind + 1 != argc)
        return -EINVAL;
    o->mountpoint = argv[optind];
    return 0;
}

int main(int argc, char **argv)
{
    struct opts o;
    if (parse_args(argc, argv, &o) < 0) {
        usage(stderr);
        return 2;
    }
    struct hangfs fs = { .size = o.size, .state = HS_OK, .hang_at_ms = -1,
                         .t_start = time(NULL) };
    fs.tail = &fs.head;
    /* calloc of this size maps fresh zero pages: memory only as written. */
    fs.data = calloc(1, (size_t)o.size);
    if (!fs.data) {
        fprintf(stderr, "simhangfs: %" PRIu64 " bytes: out of memory\n", o.size);
        return 1;
    }

    struct fu_tree tree = {
        .files = hang_files, .nfiles = sizeof(hang_files) / sizeof(hang_files[0]),
        .timeout = 1.0, .fill_attr = fill_attr, .priv = &fs,
    };
    const struct fu_mount_opts mo = { .prog = argv[0], .mountpoint = o.mountpoint,
                                      .options = o.mount_opts, .debug = o.debug,
                                      .signal_handlers = true };
    struct fuse_session *se = fu_mount(&mo, &hangfs_ops, &tree, NULL, 0);
    if (!se) {
        free(fs.data);
        return 1;
    }
    if (o.hang_after_ms >= 0)
        fs.hang_at_ms = now_ms() + o.hang_after_ms;
    fu_tell_ready(o.ready_fd, "simhangfs");
    /* Single-threaded on purpose: see the header. */
    int rc = fuse_session_loop(se);
    if (rc < 0)
        fprintf(stderr, "simhangfs: %s\n", strerror(-rc));
    int ret = rc < 0 ? 1 : 0;
    /* A connection still up (a signal, not an unmount) gets its parked
     * requests back, failed, rather than leaving their callers waiting. */
    if (fs.parked)
        fprintf(stderr, "simhangfs: failing %" PRIu64 " parked request(s)\n", fs.parked);
    unpark_all(&fs, EIO);
    fu_unmount(se, &mo);
    free(fs.data);
    return ret;
}
