/*
 * xsim_device.c - the xenstore tree of a device as libxl writes it
 * (xensim.h, "toolstack devices"): xensimctl and the tests play the
 * toolstack with it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xenstore.h>
#include <xen/io/xenbus.h>

#include "xensim.h"

#define KEY_PATH_MAX 512

int xsim_device_paths(const struct xsim_device *d, char *be, size_t be_len, char *fe,
                      size_t fe_len)
{
    int nb = snprintf(be, be_len, "/local/domain/%u/backend/%s/%u/%u", d->backend_id,
                      d->backend_type, d->frontend_id, d->devid);
    int nf = snprintf(fe, fe_len, "/local/domain/%u/device/%s/%u", d->frontend_id,
                      d->frontend_type, d->devid);
    return nb < 0 || (size_t)nb >= be_len || nf < 0 || (size_t)nf >= fe_len ? -ENAMETOOLONG : 0;
}

static bool write_key(struct xs_handle *xs, xs_transaction_t t, const char *dir, const char *key,
                      const char *value)
{
    char path[KEY_PATH_MAX];
    if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, key) >= sizeof(path)) {
        errno = ENAMETOOLONG;
        return false;
    }
    return xs_write(xs, t, path, value, (unsigned)strlen(value));
}

/* One directory: removed, created with `perms`, our keys, the caller's. */
static bool write_dir(struct xs_handle *xs, xs_transaction_t t, const char *dir,
                      struct xs_permissions perms[2], const char *const *ours,
                      const char *const *theirs)
{
    xs_rm(xs, t, dir); /* absent is fine */
    if (!xs_mkdir(xs, t, dir) || !xs_set_permissions(xs, t, dir, perms, 2))
        return false;
    for (const char *const *kv = ours; *kv; kv += 2)
        if (!write_key(xs, t, dir, kv[0], kv[1]))
            return false;
    for (const char *const *kv = theirs; kv && *kv; kv += 2) {
        if (!kv[1]) { /* a key without a value */
            errno = EINVAL;
            return false;
        }
        if (!write_key(xs, t, dir, kv[0], kv[1]))
            return false;
    }
    return true;
}

/* Keys of `dir` with permissions of their own (libxl's read-only frontend
 * keys: the parent's permissions would let the frontend write them). */
static bool write_keys_perms(struct xs_handle *xs, xs_transaction_t t, const char *dir,
                             struct xs_permissions perms[2], const char *const *kvs)
{
    for (const char *const *kv = kvs; kv && *kv; kv += 2) {
        char path[KEY_PATH_MAX];
        if (!kv[1]) {
            errno = EINVAL;
            return false;
        }
        int n = snprintf(path, sizeof(path), "%s/%s", dir, kv[0]);
        if (n < 0 || (size_t)n >= sizeof(path)) {
            errno = ENAMETOOLONG;
            return false;
        }
        if (!xs_write(xs, t, path, kv[1], (unsigned)strlen(kv[1])) ||
            !xs_set_permissions(xs, t, path, perms, 2))
            return false;
    }
    return true;
}

int xsim_device_add(struct xs_handle *xs, const struct xsim_device *d)
{
    char be[KEY_PATH_MAX], fe[KEY_PATH_MAX], fe_id[8], be_id[8], state[4];
    if (xsim_device_paths(d, be, sizeof(be), fe, sizeof(fe)) < 0)
        return -ENAMETOOLONG;
    snprintf(fe_id, sizeof(fe_id), "%u", d->frontend_id);
    snprintf(be_id, sizeof(be_id), "%u", d->backend_id);
    snprintf(state, sizeof(state), "%d", XenbusStateInitialising);
    /* Each side owns its directory and may read the other's (the first
     * entry is the owner and everyone else's access). */
    struct xs_permissions be_perms[2] = { { .id = d->backend_id, .perms = XS_PERM_NONE },
                                          { .id = d->frontend_id, .perms = XS_PERM_READ } };
    struct xs_permissions fe_perms[2] = { { .id = d->frontend_id, .perms = XS_PERM_NONE },
                                          { .id = d->backend_id, .perms = XS_PERM_READ } };
    const char *be_keys[] = { "frontend", fe, "frontend-id", fe_id, "online", "1",
                              "state", state, NULL };
    const char *fe_keys[] = { "backend", be, "backend-id", be_id, "state", state, NULL };
    for (;;) {
        xs_transaction_t t = xs_transaction_start(xs);
        if (t == XBT_NULL)
            return -errno;
        if (!write_dir(xs, t, be, be_perms, be_keys, d->backend_keys) ||
            !write_dir(xs, t, fe, fe_perms, fe_keys, d->frontend_keys) ||
            !write_keys_perms(xs, t, fe, be_perms, d->frontend_ro_keys)) {
            int err = errno ? errno : EIO;
            xs_transaction_end(xs, t, true);
            return -err;
        }
        if (xs_transaction_end(xs, t, false))
            return 0;
        if (errno != EAGAIN)
            return -errno;
    }
}

int xsim_device_unplug(struct xs_handle *xs, const char *backend_path)
{
    for (;;) {
        xs_transaction_t t = xs_transaction_start(xs);
        if (t == XBT_NULL)
            return -errno;
        char path[KEY_PATH_MAX], closing[4];
        snprintf(path, sizeof(path), "%s/state", backend_path);
        snprintf(closing, sizeof(closing), "%d", XenbusStateClosing);
        unsigned len;
        char *cur = xs_read(xs, t, path, &len);
        int err = 0;
        if (!cur)
            err = errno == ENOENT ? -ENOENT : -(errno ? errno : EIO);
        else if (!write_key(xs, t, backend_path, "online", "0") ||
                 !write_key(xs, t, backend_path, "state", closing))
            err = -(errno ? errno : EIO);
        free(cur);
        if (err) {
            xs_transaction_end(xs, t, true);
            return err;
        }
        if (xs_transaction_end(xs, t, false))
            return 0;
        if (errno != EAGAIN)
            return -errno;
    }
}
