/*
 * xen_store.c - the parts of the platform layer common to Xen and xensim:
 * choosing a platform, the xenstore connection, and the xenstore helpers
 * every device needs (strict integer reads, printf paths, transactions).
 */
#include "xen.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

/* ---- the platform ---- */

const char *sc_xen_platform_str(enum sc_xen_platform p)
{
    switch (p) {
    case SC_XEN_AUTO: return "auto";
    case SC_XEN_REAL: return "xen";
    case SC_XEN_SIM: return "xensim";
    }
    return "?";
}

struct sc_xen *sc_xen_open(enum sc_xen_platform p)
{
    if (p == SC_XEN_AUTO) {
        const char *dir = getenv("XENSIM_DIR");
        p = dir && *dir ? SC_XEN_SIM : SC_XEN_REAL;
    }
    switch (p) {
    case SC_XEN_REAL: return sc_xen_real_open();
    case SC_XEN_SIM: return sc_xen_sim_open();
    case SC_XEN_AUTO: break;
    }
    errno = EINVAL;
    return NULL;
}

void sc_xen_close(struct sc_xen *x)
{
    if (x)
        x->ops->close(x);
}

const char *sc_xen_platform_name(const struct sc_xen *x)
{
    return x->ops->name;
}

domid_t sc_xen_domid(const struct sc_xen *x)
{
    return x->domid;
}

struct sc_evtchn *sc_evtchn_open(struct sc_xen *x)
{
    return x->ops->evtchn_open(x);
}

void sc_evtchn_close(struct sc_evtchn *h)
{
    if (h)
        h->ops->evtchn_close(h);
}

/* ---- xenstore connection ---- */

struct xs_handle *sc_xs_open(struct sc_xen *x)
{
    return x->ops->xs_open(x);
}

/* libxenstore takes its socket path only from the environment, so the
 * variable is set for the one call and put back; the lock keeps two of our
 * own callers from mixing their paths. */
static pthread_mutex_t xs_env_lock = PTHREAD_MUTEX_INITIALIZER;

struct xs_handle *sc_xs_open_socket(const char *path)
{
    pthread_mutex_lock(&xs_env_lock);
    const char *prev = getenv("XENSTORED_PATH");
    char *saved = prev ? strdup(prev) : NULL;
    struct xs_handle *xs = NULL;
    int err = ENOMEM;

    if (prev && !saved)
        goto out;
    if (setenv("XENSTORED_PATH", path, 1)) {
        err = errno;
        goto out;
    }
    xs = xs_open(XS_OPEN_SOCKETONLY);
    err = errno;
    if (saved)
        setenv("XENSTORED_PATH", saved, 1);
    else
        unsetenv("XENSTORED_PATH");
out:
    pthread_mutex_unlock(&xs_env_lock);
    free(saved);
    if (!xs) {
        sc_log(SC_LOG_ERR, "xenstore", "cannot connect to %s: %s", path, strerror(err));
        errno = err ? err : EIO;
    }
    return xs;
}

/* ---- strict integers ---- */

int sc_xs_parse_uint(const char *s, unsigned long long max, unsigned long long *out)
{
    unsigned long long v = 0;

    if (!s || !*s)
        return -EINVAL;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9')
            return -EINVAL;
        unsigned d = (unsigned)(*p - '0');
        if (v > (ULLONG_MAX - d) / 10)
            return -EINVAL;
        v = v * 10 + d;
    }
    if (v > max)
        return -EINVAL;
    *out = v;
    return 0;
}

int sc_xs_parse_int(const char *s, long long min, long long max, long long *out)
{
    unsigned long long mag;
    bool neg = s && *s == '-';

    if (sc_xs_parse_uint(neg ? s + 1 : s, neg ? (unsigned long long)LLONG_MAX + 1 : LLONG_MAX,
                         &mag))
        return -EINVAL;
    long long v;
    if (neg)
        v = mag == (unsigned long long)LLONG_MAX + 1 ? LLONG_MIN : -(long long)mag;
    else
        v = (long long)mag;
    if (v < min || v > max)
        return -EINVAL;
    *out = v;
    return 0;
}

/* ---- printf-path reads and writes ---- */

static char *xs_vpath(const char *fmt, va_list ap)
{
    char *path;
    if (vasprintf(&path, fmt, ap) < 0) {
        errno = ENOMEM;
        return NULL;
    }
    return path;
}

/* Reads a value that must be a plain string: no NUL inside. */
static char *xs_read_checked(struct xs_handle *xs, xs_transaction_t t, const char *path)
{
    unsigned int len;
    char *val = xs_read(xs, t, path, &len);
    if (!val)
        return NULL; /* errno from libxenstore, ENOENT for a missing key */
    if (strlen(val) != len) {
        free(val);
        errno = EINVAL;
        return NULL;
    }
    return val;
}

static char *xs_vread_str(struct xs_handle *xs, xs_transaction_t t, const char *fmt, va_list ap)
{
    char *path = xs_vpath(fmt, ap);
    if (!path)
        return NULL;
    char *val = xs_read_checked(xs, t, path);
    int err = errno;
    free(path);
    errno = err;
    return val;
}

char *sc_xs_read_str(struct xs_handle *xs, xs_transaction_t t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *val = xs_vread_str(xs, t, fmt, ap);
    va_end(ap);
    return val;
}

int sc_xs_read_uint(struct xs_handle *xs, xs_transaction_t t, unsigned long long max,
                    unsigned long long *out, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *val = xs_vread_str(xs, t, fmt, ap);
    va_end(ap);
    if (!val)
        return errno ? -errno : -EIO;
    int rc = sc_xs_parse_uint(val, max, out);
    free(val);
    return rc;
}

int sc_xs_read_int(struct xs_handle *xs, xs_transaction_t t, long long min, long long max,
                   long long *out, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *val = xs_vread_str(xs, t, fmt, ap);
    va_end(ap);
    if (!val)
        return errno ? -errno : -EIO;
    int rc = sc_xs_parse_int(val, min, max, out);
    free(val);
    return rc;
}

static int xs_vwrite(struct xs_handle *xs, xs_transaction_t t, const char *value,
                     const char *fmt, va_list ap)
{
    char *path = xs_vpath(fmt, ap);
    if (!path)
        return -ENOMEM;
    bool ok = xs_write(xs, t, path, value, (unsigned int)strlen(value));
    int err = errno;
    free(path);
    return ok ? 0 : (err ? -err : -EIO);
}

int sc_xs_write_str(struct xs_handle *xs, xs_transaction_t t, const char *value,
                    const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = xs_vwrite(xs, t, value, fmt, ap);
    va_end(ap);
    return rc;
}

int sc_xs_write_uint(struct xs_handle *xs, xs_transaction_t t, unsigned long long value,
                     const char *fmt, ...)
{
    char buf[24];
    snprintf(buf, sizeof(buf), "%llu", value);
    va_list ap;
    va_start(ap, fmt);
    int rc = xs_vwrite(xs, t, buf, fmt, ap);
    va_end(ap);
    return rc;
}

/* ---- transactions ---- */

int sc_xs_transact(struct xs_handle *xs, sc_xs_txn_fn *fn, void *arg)
{
    for (int attempt = 0; attempt < SC_XS_TXN_TRIES; attempt++) {
        xs_transaction_t t = xs_transaction_start(xs);
        if (t == XBT_NULL)
            return errno ? -errno : -EIO;
        int rc = fn(xs, t, arg);
        if (rc < 0) {
            xs_transaction_end(xs, t, true);
            if (rc == -EAGAIN)
                continue;
            return rc;
        }
        if (xs_transaction_end(xs, t, false))
            return rc;
        if (errno != EAGAIN)
            return errno ? -errno : -EIO;
    }
    return -EAGAIN;
}
