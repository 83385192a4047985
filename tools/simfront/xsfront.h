/*
 * xsfront.h - the xenstore half of a simulated frontend device, shared by
 * blkfront and netfront (libsimfront.a): what every Linux frontend does the
 * same way whatever its class, so that blkfront_dev.c and netfront_dev.c
 * keep only their own keys.
 *
 *  - Handle level (any xenstore client, fake backends in tests included):
 *    xsf_read(), xsf_read_u64(), xsf_printf() on <dir>/<key>.
 *  - Device level (struct xsf_dev): the lifecycle around a class's own
 *    handshake (struct xsf_class): xsf_open() finds the backend from the
 *    toolstack's <frontend>/backend and backend-id, watches its state,
 *    resets what an earlier frontend left (xenbus_reset_frontend) and runs
 *    the handshake; xsf_disconnect() (Closing, Closed, then the class tears
 *    its rings down), xsf_reconnect(), xsf_close().  For the handshake:
 *    xsf_backend_u64/_bool(), xsf_write_state(), xsf_wait_backend() with a
 *    deadline, xsf_transact() (one transaction retried on EAGAIN).  Failures
 *    of xsf_open and xsf_reconnect leave a one-line reason in the caller's
 *    buffer (xsf_fail() writes it).
 *
 * Threads: a device belongs to one thread; nothing here locks.
 * Returns: 0 or a negative errno unless a function says otherwise.
 */
#ifndef SC_SIMFRONT_XSFRONT_H
#define SC_SIMFRONT_XSFRONT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <xenstore.h>
#include <xen/xen.h>

#include "xensim_guest.h"

#define XSF_DEFAULT_TIMEOUT_MS 10000u

/* ---- handle level ---- */

/* <dir>/<key>, malloc'd (the caller frees), or NULL with errno set. */
char *xsf_read(struct xs_handle *xs, const char *dir, const char *key);
/* 0 and *out; -ENOENT if absent (*out = dflt), -EPROTO if not a decimal
 * number (*out = dflt). */
int xsf_read_u64(struct xs_handle *xs, const char *dir, const char *key, uint64_t dflt,
                 uint64_t *out);
/* Writes the formatted value (< 64 bytes) to <dir>/<key> in transaction t
 * (XBT_NULL: none).  false with errno set on failure, as xs_write. */
bool xsf_printf(struct xs_handle *xs, xs_transaction_t t, const char *dir, const char *key,
                const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* ---- device level ---- */

/* What a device class (blkfront, netfront) plugs into the lifecycle; the
 * hooks get the `dev` given to xsf_open(). */
struct xsf_class {
    const char *name;           /* "vbd", "vif": device/<name>/<devid> */
    /* From our Initialising to usable: waits for the backend's InitWait,
     * writes the class's keys, ...; 0, or -errno with the reason set
     * (rings already torn down). */
    int (*handshake)(void *dev);
    /* After the backend's Closed (or a failed close): rings and grants go. */
    void (*teardown)(void *dev);
};

struct xsf_dev {
    struct xs_handle *xs;
    const struct xsf_class *cls;
    void *dev;                      /* the class's device, for the hooks */
    bool connected;                 /* the last handshake succeeded, not closed since */
    char frontend[96];              /* /local/domain/<me>/device/<class>/<devid> */
    char backend[160];              /* from <frontend>/backend */
    domid_t backend_id;             /* from <frontend>/backend-id */
    unsigned timeout_ms;            /* every wait on the backend */
    char state_path[200];           /* <backend>/state, watched */
    bool watching;
    char *err;                      /* the caller's reason buffer, or NULL */
    size_t errlen;
};

/* Formats the reason into the error buffer of the xsf_open or
 * xsf_reconnect running (if it has one); returns err. */
int xsf_fail(struct xsf_dev *f, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * Connects device <cls->name>/<devid> of this guest: opens its xenstore
 * connection, reads backend and backend-id (which must equal backend_domid
 * unless that is negative), watches <backend>/state, then, as Linux's
 * xenbus_reset_frontend after a kexec or a crashed driver, brings back to
 * Initialising what an earlier frontend left (a backend still Connected or
 * Closing is walked down through Closing and Closed first, so it drops the
 * old rings before new ones are offered; a device left Closed just starts
 * over), and runs cls->handshake.  timeout_ms 0 means
 * XSF_DEFAULT_TIMEOUT_MS.  0, or -ENOENT (no <frontend>/backend), -EPROTO
 * (backend-id missing, bad or unexpected), what the handshake returned,
 * other -errno; `err` (may be NULL) gets a one-line reason.  xsf_close()
 * in every case.
 */
int xsf_open(struct xsf_dev *f, struct xsim_guest *g, const struct xsf_class *cls, void *dev,
             uint32_t devid, int backend_domid, unsigned timeout_ms, char *err, size_t errlen);
/* Closing (unless the backend is Closed already), wait for the backend's
 * Closing/Closed, Closed, wait for its Closed; cls->teardown in any case.
 * 0 or -errno (-ETIMEDOUT). */
int xsf_disconnect(struct xsf_dev *f);
/* Disconnects if connected, Initialising, cls->handshake.  0 or -errno,
 * with a one-line reason in err (may be NULL). */
int xsf_reconnect(struct xsf_dev *f, char *err, size_t errlen);
/* Disconnects if connected, unwatches, closes the connection; safe on a
 * zeroed or failed device. */
void xsf_close(struct xsf_dev *f);

/* A backend key, as xsf_read_u64. */
int xsf_backend_u64(struct xsf_dev *f, const char *key, uint64_t dflt, uint64_t *out);
/* A backend feature key: absent or unreadable is false (xenbus_read_unsigned). */
bool xsf_backend_bool(struct xsf_dev *f, const char *key);
/* The backend's XenbusState: a directory that is gone counts as Closed, a
 * bad value as Unknown.  Pending watch events are taken first (never blocks). */
int xsf_backend_state(struct xsf_dev *f);
/* <frontend>/state = state. */
int xsf_write_state(struct xsf_dev *f, int state);
/*
 * Waits until the backend's state is in `mask` (a bit per XenbusState) and
 * returns it; a state in `fatal` ends the wait with -ENODEV (the backend's
 * error node in the reason), the deadline with -ETIMEDOUT.  `what` starts
 * the reason.
 */
int xsf_wait_backend(struct xsf_dev *f, unsigned mask, unsigned fatal, const char *what);
/*
 * Runs fill(arg, t) in one transaction, again on EAGAIN; fill returns false
 * with errno set to abort.  0, or -errno with the reason set.
 */
int xsf_transact(struct xsf_dev *f, bool (*fill)(void *arg, xs_transaction_t t), void *arg);
/* In transaction t: removes <frontend>/<keys[i]> and <frontend>/queue-<q>
 * for q < max_queues (keys an earlier connection may have left). */
void xsf_remove_keys(struct xsf_dev *f, xs_transaction_t t, const char *const *keys, size_t n,
                     unsigned max_queues);

#endif /* SC_SIMFRONT_XSFRONT_H */
