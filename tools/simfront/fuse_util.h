/*
 * fuse_util.h - what the simfront FUSE file systems (blkfuse.c, simhangfs.c)
 * share, libsimfront.a: a low-level session mounted and unmounted from a
 * few options, and a root directory of a few regular files (a fu_tree)
 * served by the handlers here: lookup, getattr, setattr, readdir, statfs.
 * The file system gives its other handlers (open, read, write...).
 *
 * Owns nothing: the session belongs to the caller from fu_mount() until
 * fu_unmount(), the tree to the caller for as long as the session runs.
 * Threads: the handlers run on whichever thread processes the session's
 * requests; they reply at once and keep no state.
 */
#ifndef SC_SIMFRONT_FUSE_UTIL_H
#define SC_SIMFRONT_FUSE_UTIL_H

#ifndef FUSE_USE_VERSION
#define FUSE_USE_VERSION 35
#endif

#include <fuse_lowlevel.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <time.h>

/* A regular file of the root directory.  The first is the data file:
 * statfs counts its size. */
struct fu_file {
    const char *name;
    fuse_ino_t ino;
    bool any_size;              /* a size change (truncate) is accepted and ignored */
};

/* The tree a session serves; the session's userdata (fu_priv() gives the
 * file system's own). */
struct fu_tree {
    const struct fu_file *files;
    size_t nfiles;
    double timeout;             /* s: the kernel may keep attributes and entries this long */
    /* The attributes of the root or of one of `files` (fu_fill_attr). */
    void (*fill_attr)(void *priv, fuse_ino_t ino, struct stat *st);
    void *priv;                 /* the file system's state, passed back */
};

/* The file system's state (fu_tree.priv) of the request's session. */
void *fu_priv(fuse_req_t req);

/* The attributes of the root directory (ino FUSE_ROOT_ID: 0755) or of a
 * regular file (mode `perm`, `size` bytes, preferred I/O size `blksize`),
 * owned by our user, all times `t`. */
void fu_fill_attr(struct stat *st, fuse_ino_t ino, time_t t, mode_t perm, uint64_t size,
                  blksize_t blksize);

/* How to mount: libfuse's command line and its signal handling. */
struct fu_mount_opts {
    const char *prog;           /* argv[0] of libfuse's command line */
    const char *mountpoint;
    const char *options;        /* "-o" mount options, or NULL */
    bool debug;                 /* libfuse's -d: every request on stderr */
    bool signal_handlers;       /* libfuse's own SIGTERM/SIGINT/SIGHUP handlers, which end
                                 * fuse_session_loop(); set before the mount */
};

/*
 * A session serving `tree` mounted on o->mountpoint: `ops` are the file
 * system's handlers (copied; lookup, getattr, setattr, readdir and statfs
 * are the tree's).  Returns the session, or NULL with a one-line reason in
 * `err` (if not NULL; libfuse says more on stderr).
 */
struct fuse_session *fu_mount(const struct fu_mount_opts *o, const struct fuse_lowlevel_ops *ops,
                              struct fu_tree *tree, char *err, size_t errlen);

/* Unmounts and destroys a session of fu_mount() with the same `o`. */
void fu_unmount(struct fuse_session *se, const struct fu_mount_opts *o);

/* Writes "ready\n" to `fd` (if >= 0) and closes it: the file system is
 * mounted.  A failed write is said on stderr, after "PROG: ". */
void fu_tell_ready(int fd, const char *prog);

#endif /* SC_SIMFRONT_FUSE_UTIL_H */
