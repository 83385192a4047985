/*
 * fuse_util.c - a mounted FUSE session and the root directory of a few
 * files that blkfuse.c and simhangfs.c serve (fuse_util.h).
 */
#define FUSE_USE_VERSION 35

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "fuse_util.h"

static struct fu_tree *tree_of(fuse_req_t req) { return fuse_req_userdata(req); }

void *fu_priv(fuse_req_t req) { return tree_of(req)->priv; }

void fu_fill_attr(struct stat *st, fuse_ino_t ino, time_t t, mode_t perm, uint64_t size,
                  blksize_t blksize)
{
    memset(st, 0, sizeof(*st));
    st->st_ino = ino;
    st->st_uid = getuid();
    st->st_gid = getgid();
    st->st_atime = st->st_mtime = st->st_ctime = t;
    if (ino == FUSE_ROOT_ID) {
        st->st_mode = S_IFDIR | 0755;
        st->st_nlink = 2;
        return;
    }
    st->st_mode = S_IFREG | perm;
    st->st_nlink = 1;
    st->st_size = (off_t)size;
    st->st_blksize = blksize;
    st->st_blocks = st->st_size / 512;
}

/* The file `ino` of the tree; NULL for the root or an unknown inode. */
static const struct fu_file *file_of(const struct fu_tree *t, fuse_ino_t ino)
{
    for (size_t i = 0; i < t->nfiles; i++)
        if (t->files[i].ino == ino)
            return &t->files[i];
    return NULL;
}

static void reply_attr(fuse_req_t req, const struct fu_tree *t, fuse_ino_t ino)
{
    struct stat st;
    t->fill_attr(t->priv, ino, &st);
    fuse_reply_attr(req, &st, t->timeout);
}

/* ---- the tree's handlers ---- */

static void fu_op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
    const struct fu_tree *t = tree_of(req);
    const struct fu_file *f = NULL;
    for (size_t i = 0; parent == FUSE_ROOT_ID && !f && i < t->nfiles; i++)
        if (strcmp(name, t->files[i].name) == 0)
            f = &t->files[i];
    if (!f) {
        fuse_reply_err(req, ENOENT);
        return;
    }
    struct fuse_entry_param e;
    memset(&e, 0, sizeof(e));
    e.ino = f->ino;
    e.generation = 1;
    e.attr_timeout = e.entry_timeout = t->timeout;
    t->fill_attr(t->priv, f->ino, &e.attr);
    fuse_reply_entry(req, &e);
}

static void fu_op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    (void)fi;
    const struct fu_tree *t = tree_of(req);
    if (ino != FUSE_ROOT_ID && !file_of(t, ino)) {
        fuse_reply_err(req, ENOENT);
        return;
    }
    reply_attr(req, t, ino);
}

/* A size change passes only on a file to its current size, or on an
 * any_size file (ignored there); times and modes are accepted and
 * forgotten. */
static void fu_op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
                          struct fuse_file_info *fi)
{
    (void)fi;
    const struct fu_tree *t = tree_of(req);
    const struct fu_file *f = file_of(t, ino);
    if (ino != FUSE_ROOT_ID && !f) {
        fuse_reply_err(req, ENOENT);
        return;
    }
    if ((to_set & FUSE_SET_ATTR_SIZE) && (!f || !f->any_size)) {
        struct stat st;
        t->fill_attr(t->priv, ino, &st);
        if (!f || attr->st_size != st.st_size) {
            fuse_reply_err(req, f ? EPERM : EISDIR);
            return;
        }
    }
    reply_attr(req, t, ino);
}

static void fu_op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                          struct fuse_file_info *fi)
{
    (void)fi;
    const struct fu_tree *t = tree_of(req);
    if (ino != FUSE_ROOT_ID) {
        fuse_reply_err(req, ENOTDIR);
        return;
    }
    char buf[512];
    size_t used = 0;
    if (size > sizeof(buf))
        size = sizeof(buf);
    /* Entry i: ".", "..", then the files; its successor's index is its offset. */
    for (off_t i = off; i >= 0 && i < (off_t)t->nfiles + 2; i++) {
        struct stat st = { .st_ino = FUSE_ROOT_ID, .st_mode = S_IFDIR };
        const char *name = i == 0 ? "." : "..";
        if (i >= 2) {
            st.st_ino = t->files[i - 2].ino;
            st.st_mode = S_IFREG;
            name = t->files[i - 2].name;
        }
        size_t n = fuse_add_direntry(req, buf + used, size - used, name, &st, i + 1);
        if (n > size - used)
            break;
        used += n;
    }
    fuse_reply_buf(req, buf, used);
}

/* Blocks: the data file's (files[0]) size; inodes: the root and its files. */
static void fu_op_statfs(fuse_req_t req, fuse_ino_t ino)
{
    (void)ino;
    const struct fu_tree *t = tree_of(req);
    struct stat st;
    t->fill_attr(t->priv, t->files[0].ino, &st);
    struct statvfs sv;
    memset(&sv, 0, sizeof(sv));
    sv.f_bsize = sv.f_frsize = 4096;
    sv.f_blocks = (uint64_t)st.st_size / 4096;
    sv.f_files = t->nfiles + 1;
    sv.f_namemax = 255;
    fuse_reply_statfs(req, &sv);
}

/* ---- the session ---- */

struct fuse_session *fu_mount(const struct fu_mount_opts *o, const struct fuse_lowlevel_ops *ops,
                              struct fu_tree *tree, char *err, size_t errlen)
{
    char dummy[8];
    if (!err) {
        err = dummy;
        errlen = sizeof(dummy);
    }
    struct fuse_lowlevel_ops all = *ops;
    all.lookup = fu_op_lookup;
    all.getattr = fu_op_getattr;
    all.setattr = fu_op_setattr;
    all.readdir = fu_op_readdir;
    all.statfs = fu_op_statfs;

    char *argv[6];
    int argc = 0;
    argv[argc++] = (char *)o->prog;
    if (o->options) {
        argv[argc++] = "-o";
        argv[argc++] = (char *)o->options;
    }
    if (o->debug)
        argv[argc++] = "-d";
    argv[argc] = NULL;
    struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
    struct fuse_session *se = fuse_session_new(&args, &all, sizeof(all), tree);
    fuse_opt_free_args(&args);
    if (!se) {
        snprintf(err, errlen, "fuse_session_new failed (options '%s')",
                 o->options ? o->options : "");
        return NULL;
    }
    if (o->signal_handlers && fuse_set_signal_handlers(se) != 0) {
        snprintf(err, errlen, "cannot set the signal handlers");
        fuse_session_destroy(se);
        return NULL;
    }
    if (fuse_session_mount(se, o->mountpoint) != 0) {
        snprintf(err, errlen, "cannot mount on %s", o->mountpoint);
        if (o->signal_handlers)
            fuse_remove_signal_handlers(se);
        fuse_session_destroy(se);
        return NULL;
    }
    return se;
}

void fu_unmount(struct fuse_session *se, const struct fu_mount_opts *o)
{
    fuse_session_unmount(se);
    if (o->signal_handlers)
        fuse_remove_signal_handlers(se);
    fuse_session_destroy(se);
}

void fu_tell_ready(int fd, const char *prog)
{
    if (fd < 0)
        return;
    if (write(fd, "ready\n", 6) != 6)
        fprintf(stderr, "%s: ready fd: %s\n", prog, strerror(errno));
    close(fd);
}
