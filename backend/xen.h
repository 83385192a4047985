/*
 * xen.h - the platform layer: everything the backend touches of Xen.
 *
 * Contract: a `struct sc_xen` is the daemon's one connection to a platform,
 * real Xen (gntdev, evtchn device, xenstored) or xensim.  It owns the grant
 * mapping handle; event-channel handles and xenstore connections are opened
 * from it and owned by whoever opens them.  Everything above this layer is
 * the same code on both platforms.
 *
 * Threads:
 *  - sc_xen_open/close, sc_gnt_set_max_grants and sc_xs_open: the control
 *    thread (sc_xs_open sets $XENSTORED_PATH for a moment on xensim, so it
 *    must not race another thread's getenv/setenv outside this layer).
 *  - sc_gnt_*: any thread, concurrently (poller threads map and copy).
 *  - sc_evtchn_*: a handle belongs to one thread at a time: the sidecore that
 *    polls its fd (open/bind/unbind may be done by the control thread before
 *    handing the handle over).  sc_evtchn_notify is the exception: any thread.
 *  - sc_xs_* helpers: any thread with its own (or a thread-safe) xs_handle.
 *
 * Returns: 0 or a non-negative value on success, negative errno on failure;
 * pointer returners give NULL and set errno.  Nothing here blocks except
 * xenstore I/O.
 */
#ifndef SC_XEN_H
#define SC_XEN_H

#include <stdbool.h>
#include <stdint.h>
#include <xen/xen.h>
#include <xen/grant_table.h>
#include <xen/event_channel.h>
#include <xengnttab.h>
#include <xenstore.h>

enum sc_xen_platform {
    SC_XEN_AUTO = 0, /* xensim if $XENSIM_DIR is set, else real Xen */
    SC_XEN_REAL,     /* /dev/xen/{gntdev,evtchn} and xenstored */
    SC_XEN_SIM,      /* xensim world in $XENSIM_DIR as $XENSIM_DOMID (default 0) */
};

struct sc_xen;
struct sc_evtchn;

/* ---- the platform ---- */

/* Opens a platform.  NULL + errno (logged) when it is not there: ENOENT for
 * real Xen without /dev/xen, EINVAL for a malformed $XENSIM_DOMID or a
 * missing $XENSIM_DIR with SC_XEN_SIM, the connect error for a dead world. */
struct sc_xen *sc_xen_open(enum sc_xen_platform p);
/* Closes the grant handle (dropping every mapping still held through it).
 * Event channels and xenstore handles must be closed first. */
void sc_xen_close(struct sc_xen *x);
/* "xen" or "xensim" for an open platform; the enum's name for a request. */
const char *sc_xen_platform_name(const struct sc_xen *x);
const char *sc_xen_platform_str(enum sc_xen_platform p);
/* Whether this domain is Dom0 (/proc/xen/capabilities says control_d);
 * false off Xen.  Any thread. */
bool sc_xen_in_dom0(void);
/* Our own domid, learnt at open: the connection's on xensim, the "domid"
 * key under our xenstore home on Xen (0 in dom0). */
domid_t sc_xen_domid(const struct sc_xen *x);

/* ---- grants: any thread ---- */

/* Maps `count` refs of domain `domid` into one contiguous range, all or
 * nothing: NULL + errno if any ref fails (none stays mapped). */
static inline void *sc_gnt_map_batch(struct sc_xen *x, domid_t domid, uint32_t count,
                                     const grant_ref_t *refs, bool writable);
/* Unmaps a range of sc_gnt_map_batch (same count). 0 or -errno. */
static inline int sc_gnt_unmap(struct sc_xen *x, void *addr, uint32_t count);
/* GNTTABOP_copy: each segment is checked and copied alone, segs[i].status
 * gets its GNTST_* code.  0, or -errno if the call itself failed (then no
 * status is meaningful). */
static inline int sc_gnt_copy_batch(struct sc_xen *x, uint32_t count,
                                    xengnttab_grant_copy_segment_t *segs);
/* Raises the number of grants this handle may keep mapped (gntdev's limit;
 * a no-op on xensim).  Control thread, before mapping. 0 or -errno. */
static inline int sc_gnt_set_max_grants(struct sc_xen *x, uint32_t nr_grants);

/* ---- event channels: one handle per polling thread ---- */

/* A handle owns the ports bound through it; closing it unbinds them. */
struct sc_evtchn *sc_evtchn_open(struct sc_xen *x);
void sc_evtchn_close(struct sc_evtchn *h);
/* Pollable (POLLIN) when a port bound through this handle is pending. */
static inline int sc_evtchn_fd(struct sc_evtchn *h);
/* Binds to `remote_port` of `remote_dom`: the local port, or -errno. */
static inline int sc_evtchn_bind_interdomain(struct sc_evtchn *h, domid_t remote_dom,
                                             evtchn_port_t remote_port);
static inline int sc_evtchn_unbind(struct sc_evtchn *h, evtchn_port_t port);
/* Kicks the peer of `port`.  0 or -errno; a peer that is gone is no error. */
static inline int sc_evtchn_notify(struct sc_evtchn *h, evtchn_port_t port);
/* Next pending port, which stays masked until sc_evtchn_unmask(), or
 * -EAGAIN if none.  Never blocks. */
static inline int sc_evtchn_pending(struct sc_evtchn *h);
/* Re-enables delivery of `port`; a kick that came while masked is then
 * delivered (the fd becomes readable again). */
static inline int sc_evtchn_unmask(struct sc_evtchn *h, evtchn_port_t port);

/* ---- xenstore: the real libxenstore on both platforms ---- */

/* A new xenstore connection acting as our domain (relative paths resolve
 * under /local/domain/<sc_xen_domid>).  Real Xen: xs_open(0).  xensim:
 * xs_open() with $XENSTORED_PATH=<XENSIM_DIR>/xs-<domid>.sock for the call,
 * the previous value restored after.  Close with xs_close().  NULL + errno. */
struct xs_handle *sc_xs_open(struct sc_xen *x);

/* Strict decimal parsers for values a hostile peer wrote: digits only (a
 * leading '-' for the signed one), no blanks, no sign or base prefix, no
 * trailing bytes, in [0, max] or [min, max].  0, or -EINVAL otherwise. */
int sc_xs_parse_uint(const char *s, unsigned long long max, unsigned long long *out);
int sc_xs_parse_int(const char *s, long long min, long long max, long long *out);

/* Read/write helpers over a printf-formatted path (relative or absolute), in
 * transaction `t` (XBT_NULL for none).  Reads: -ENOENT if the key is absent
 * (or another -errno from xenstore), -EINVAL if the value is malformed, out
 * of range or holds a NUL byte. */
char *sc_xs_read_str(struct xs_handle *xs, xs_transaction_t t, const char *fmt, ...)
    __attribute__((format(printf, 3, 4))); /* malloc'd; NULL + errno */
int sc_xs_read_uint(struct xs_handle *xs, xs_transaction_t t, unsigned long long max,
                    unsigned long long *out, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
int sc_xs_read_int(struct xs_handle *xs, xs_transaction_t t, long long min, long long max,
                   long long *out, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
int sc_xs_write_str(struct xs_handle *xs, xs_transaction_t t, const char *value,
                    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
int sc_xs_write_uint(struct xs_handle *xs, xs_transaction_t t, unsigned long long value,
                     const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Runs fn in a fresh transaction and commits it; when the commit (or fn)
 * fails with -EAGAIN the whole thing is retried, at most SC_XS_TXN_TRIES
 * times in all.  fn returns >= 0 to commit or -errno to abort (which is
 * returned as is).  Returns fn's last value, or -errno of xenstore, or
 * -EAGAIN when the tries are used up. */
#define SC_XS_TXN_TRIES 16
typedef int sc_xs_txn_fn(struct xs_handle *xs, xs_transaction_t t, void *arg);
int sc_xs_transact(struct xs_handle *xs, sc_xs_txn_fn *fn, void *arg);

/* ---- where our vCPUs run: control thread ---- */
/* What the platform knows of one of our vCPUs (in a PV domain Linux's CPU
 * n is vCPU n).  Real Xen: steal from the domain's own view (/proc/stat,
 * Xen's runstate as Linux accounts it), the rest from the hypervisor
 * through libxenctrl, which only a privileged domain (Dom0) may ask; a
 * driver domain gets steal alone.  xensim: its vCPU map (xensim.h). */
#define SC_STEAL_UNKNOWN UINT64_MAX
struct sc_vcpu_place {
    int pcpu;                /* physical CPU it ran on last; -1 unknown */
    int pool;                /* cpupool id; -1 unknown */
    char pool_name[32];      /* "" unknown */
    char sched[16];          /* the pool's scheduler ("credit2", "null"...); "" unknown */
    int pinned;              /* 1: hard affinity to pcpu alone; 0: not; -1 unknown */
    uint64_t steal_ns;       /* runnable but not running, cumulative; SC_STEAL_UNKNOWN */
};
/* 0 and *out (its unknown fields marked), or -errno when nothing at all is
 * known (-ENOENT: no such vCPU). */
int sc_xen_vcpu_place(struct sc_xen *x, unsigned vcpu, struct sc_vcpu_place *out);
/* Steal of `cpu` in the text of /proc/stat (its 8th column, in clock
 * ticks of tick_hz) as ns.  0, or -ENOENT (no such line) / -EINVAL.
 * For xen_real.c, apart so it can be tested. */
int sc_proc_stat_steal(const char *text, unsigned cpu, unsigned long tick_hz, uint64_t *ns);

/* ---- for the implementations (xen_real.c, xen_sim.c) only ---- */

struct sc_xen_ops {
    const char *name;
    void (*close)(struct sc_xen *x);
    void *(*gnt_map_batch)(struct sc_xen *x, domid_t domid, uint32_t count,
                           const grant_ref_t *refs, bool writable);
    int (*gnt_unmap)(struct sc_xen *x, void *addr, uint32_t count);
    int (*gnt_copy_batch)(struct sc_xen *x, uint32_t count, xengnttab_grant_copy_segment_t *segs);
    int (*gnt_set_max_grants)(struct sc_xen *x, uint32_t nr_grants);
    struct sc_evtchn *(*evtchn_open)(struct sc_xen *x);
    void (*evtchn_close)(struct sc_evtchn *h);
    int (*evtchn_fd)(struct sc_evtchn *h);
    int (*evtchn_bind_interdomain)(struct sc_evtchn *h, domid_t remote_dom,
                                   evtchn_port_t remote_port);
    int (*evtchn_unbind)(struct sc_evtchn *h, evtchn_port_t port);
    int (*evtchn_notify)(struct sc_evtchn *h, evtchn_port_t port);
    int (*evtchn_pending)(struct sc_evtchn *h);
    int (*evtchn_unmask)(struct sc_evtchn *h, evtchn_port_t port);
    struct xs_handle *(*xs_open)(struct sc_xen *x);
    int (*vcpu_place)(struct sc_xen *x, unsigned vcpu, struct sc_vcpu_place *out);
};

/* Implementations embed these as their first member.  Written once at open. */
struct sc_xen {
    const struct sc_xen_ops *ops;
    enum sc_xen_platform platform;
    domid_t domid;
};

struct sc_evtchn {
    const struct sc_xen_ops *ops;
};

struct sc_xen *sc_xen_real_open(void);
struct sc_xen *sc_xen_sim_open(void);
/* xs_open() of the socket at `path` through $XENSTORED_PATH (serialised). */
struct xs_handle *sc_xs_open_socket(const char *path);

/* ---- dispatch ---- */

static inline void *sc_gnt_map_batch(struct sc_xen *x, domid_t domid, uint32_t count,
                                     const grant_ref_t *refs, bool writable)
{
    return x->ops->gnt_map_batch(x, domid, count, refs, writable);
}

static inline int sc_gnt_unmap(struct sc_xen *x, void *addr, uint32_t count)
{
    return x->ops->gnt_unmap(x, addr, count);
}

static inline int sc_gnt_copy_batch(struct sc_xen *x, uint32_t count,
                                    xengnttab_grant_copy_segment_t *segs)
{
    return x->ops->gnt_copy_batch(x, count, segs);
}

static inline int sc_gnt_set_max_grants(struct sc_xen *x, uint32_t nr_grants)
{
    return x->ops->gnt_set_max_grants(x, nr_grants);
}

static inline int sc_evtchn_fd(struct sc_evtchn *h)
{
    return h->ops->evtchn_fd(h);
}

static inline int sc_evtchn_bind_interdomain(struct sc_evtchn *h, domid_t remote_dom,
                                             evtchn_port_t remote_port)
{
    return h->ops->evtchn_bind_interdomain(h, remote_dom, remote_port);
}

static inline int sc_evtchn_unbind(struct sc_evtchn *h, evtchn_port_t port)
{
    return h->ops->evtchn_unbind(h, port);
}

static inline int sc_evtchn_notify(struct sc_evtchn *h, evtchn_port_t port)
{
    return h->ops->evtchn_notify(h, port);
}

static inline int sc_evtchn_pending(struct sc_evtchn *h)
{
    return h->ops->evtchn_pending(h);
}

static inline int sc_evtchn_unmask(struct sc_evtchn *h, evtchn_port_t port)
{
    return h->ops->evtchn_unmask(h, port);
}

#endif
