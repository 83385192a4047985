/*
 * xen_real.c - the platform layer on real Xen: gntdev through
 * libxengnttab, the evtchn device through libxenevtchn, xenstored through
 * libxenstore.
 *
 * One gntdev handle serves every thread: its map, unmap and copy are
 * independent ioctls (plus mmap/munmap), safe to issue concurrently.
 */
#include "xen.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <xenevtchn.h>

#include "log.h"
#include "xen_vcpu.h"

struct xen_real {
    struct sc_xen base;
    xengnttab_handle *gnt;
    struct sc_xc *xc;       /* libxenctrl, opened at the first placement query */
};

struct xen_real_evtchn {
    struct sc_evtchn base;
    xenevtchn_handle *xce;
    int fd;
};

static inline struct xen_real *to_real(struct sc_xen *x)
{
    return (struct xen_real *)x;
}

static inline struct xen_real_evtchn *to_real_evtchn(struct sc_evtchn *h)
{
    return (struct xen_real_evtchn *)h;
}

/* libxen* calls return -1 (or NULL) with errno; we return -errno. */
static inline int neg_errno(void)
{
    return errno ? -errno : -EIO;
}

/* ---- grants ---- */

static void *real_gnt_map_batch(struct sc_xen *x, domid_t domid, uint32_t count,
                                const grant_ref_t *refs, bool writable)
{
    if (count == 0) {
        errno = EINVAL;
        return NULL;
    }
    /* The library takes a non-const array but only reads it; gntdev undoes
     * a partial map itself, so this is all or nothing. */
    return xengnttab_map_domain_grant_refs(to_real(x)->gnt, count, domid, (uint32_t *)refs,
                                           PROT_READ | (writable ? PROT_WRITE : 0));
}

static int real_gnt_unmap(struct sc_xen *x, void *addr, uint32_t count)
{
    return xengnttab_unmap(to_real(x)->gnt, addr, count) ? neg_errno() : 0;
}

static int real_gnt_copy_batch(struct sc_xen *x, uint32_t count,
                               xengnttab_grant_copy_segment_t *segs)
{
    return xengnttab_grant_copy(to_real(x)->gnt, count, segs) ? neg_errno() : 0;
}

static int real_gnt_set_max_grants(struct sc_xen *x, uint32_t nr_grants)
{
    return xengnttab_set_max_grants(to_real(x)->gnt, nr_grants) ? neg_errno() : 0;
}

/* ---- event channels ---- */

static struct sc_evtchn *real_evtchn_open(struct sc_xen *x)
{
    struct xen_real_evtchn *h = calloc(1, sizeof(*h));
    if (!h)
        return NULL;
    h->base.ops = x->ops;
    h->xce = xenevtchn_open(NULL, 0);
    if (!h->xce) {
        int err = errno;
        sc_log(SC_LOG_ERR, "xen", "cannot open /dev/xen/evtchn: %s (run as root; modprobe "
               "xen-evtchn)", strerror(err));
        free(h);
        errno = err;
        return NULL;
    }
    /* xenevtchn_pending() reads the device; non-blocking makes an empty
     * queue an EAGAIN instead of a sleep, as the contract promises. */
    h->fd = xenevtchn_fd(h->xce);
    int fl = fcntl(h->fd, F_GETFL);
    if (fl < 0 || fcntl(h->fd, F_SETFL, fl | O_NONBLOCK) < 0) {
        int err = errno;
        xenevtchn_close(h->xce);
        free(h);
        errno = err;
        return NULL;
    }
    return &h->base;
}

static void real_evtchn_close(struct sc_evtchn *h)
{
    xenevtchn_close(to_real_evtchn(h)->xce);
    free(h);
}

static int real_evtchn_fd(struct sc_evtchn *h)
{
    return to_real_evtchn(h)->fd;
}

static int real_evtchn_bind_interdomain(struct sc_evtchn *h, domid_t remote_dom,
                                        evtchn_port_t remote_port)
{
    xenevtchn_port_or_error_t port =
        xenevtchn_bind_interdomain(to_real_evtchn(h)->xce, remote_dom, remote_port);
    return port < 0 ? neg_errno() : port;
}

static int real_evtchn_unbind(struct sc_evtchn *h, evtchn_port_t port)
{
    return xenevtchn_unbind(to_real_evtchn(h)->xce, port) ? neg_errno() : 0;
}

static int real_evtchn_notify(struct sc_evtchn *h, evtchn_port_t port)
{
    return xenevtchn_notify(to_real_evtchn(h)->xce, port) ? neg_errno() : 0;
}

static int real_evtchn_pending(struct sc_evtchn *h)
{
    xenevtchn_port_or_error_t port = xenevtchn_pending(to_real_evtchn(h)->xce);
    if (port >= 0)
        return port;
    if (errno == EWOULDBLOCK || errno == EAGAIN)
        return -EAGAIN;
    return neg_errno();
}

static int real_evtchn_unmask(struct sc_evtchn *h, evtchn_port_t port)
{
    return xenevtchn_unmask(to_real_evtchn(h)->xce, port) ? neg_errno() : 0;
}

/* ---- xenstore ---- */

static struct xs_handle *real_xs_open(struct sc_xen *x)
{
    (void)x;
    struct xs_handle *xs = xs_open(0);
    if (!xs) {
        int err = errno;
        sc_log(SC_LOG_ERR, "xen", "cannot connect to xenstore: %s (is xenstored running? "
               "systemctl status xenstored; run as root)", strerror(err));
        errno = err;
    }
    return xs;
}

/* ---- open/close ---- */

static void real_close(struct sc_xen *x)
{
    xengnttab_close(to_real(x)->gnt);
    sc_xc_close(to_real(x)->xc);
    free(x);
}

bool sc_xen_in_dom0(void)
{
    char caps[256] = "";
    FILE *f = fopen("/proc/xen/capabilities", "r");
    if (!f)
        return false;
    bool dom0 = fgets(caps, sizeof(caps), f) && strstr(caps, "control_d");
    fclose(f);
    return dom0;
}

/* A driver domain learns its domid as the toolstack wrote it, under its own
 * xenstore home ("domid" relative); dom0 may lack the key. */
static int read_own_domid(struct sc_xen *x)
{
    struct xs_handle *xs = real_xs_open(x);
    if (!xs)
        return -errno;
    unsigned long long id;
    int rc = sc_xs_read_uint(xs, XBT_NULL, DOMID_FIRST_RESERVED - 1, &id, "domid");
    xs_close(xs);
    if (rc == 0) {
        x->domid = (domid_t)id;
        return 0;
    }
    if (sc_xen_in_dom0()) {
        x->domid = 0;
        return 0;
    }
    sc_log(SC_LOG_ERR, "xen", "cannot read our domid from xenstore (domid under our home): "
           "%s (in a driver domain, is xenstore reachable and the domain created by xl?)",
           strerror(-rc));
    return rc;
}

static int real_vcpu_place(struct sc_xen *x, unsigned vcpu, struct sc_vcpu_place *out)
{
    return sc_xen_real_vcpu_place(x, &to_real(x)->xc, vcpu, out);
}

/* The kernel's backends watch the same directories: both would answer a
 * guest, which then sees two backends fight over its device's state. */
static void warn_kernel_backends(void)
{
    static const char *const mods[][2] = {
        { "xen_blkback", "xen-blkback" },
        { "xen_netback", "xen-netback" },
    };
    for (size_t i = 0; i < sizeof(mods) / sizeof(mods[0]); i++) {
        char path[64];
        snprintf(path, sizeof(path), "/sys/module/%s", mods[i][0]);
        if (access(path, F_OK) == 0)
            sc_log(SC_LOG_WARN, "xen", "the kernel's %s is loaded and serves the same devices: "
                   "rmmod %s (and blacklist it)", mods[i][1], mods[i][1]);
    }
}

static const struct sc_xen_ops real_ops = {
    .name = "xen",
    .close = real_close,
    .gnt_map_batch = real_gnt_map_batch,
    .gnt_unmap = real_gnt_unmap,
    .gnt_copy_batch = real_gnt_copy_batch,
    .gnt_set_max_grants = real_gnt_set_max_grants,
    .evtchn_open = real_evtchn_open,
    .evtchn_close = real_evtchn_close,
    .evtchn_fd = real_evtchn_fd,
    .evtchn_bind_interdomain = real_evtchn_bind_interdomain,
    .evtchn_unbind = real_evtchn_unbind,
    .evtchn_notify = real_evtchn_notify,
    .evtchn_pending = real_evtchn_pending,
    .evtchn_unmask = real_evtchn_unmask,
    .xs_open = real_xs_open,
    .vcpu_place = real_vcpu_place,
};

struct sc_xen *sc_xen_real_open(void)
{
    struct xen_real *r = calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    r->base.ops = &real_ops;
    r->base.platform = SC_XEN_REAL;

    /* gntdev is the device every backend needs; without it we are not on
     * Xen (or lack the driver), and nothing else is worth trying. */
    if (access("/dev/xen/gntdev", F_OK) != 0) {
        int err = errno;
        sc_log(SC_LOG_ERR, "xen",
               "no /dev/xen/gntdev (%s): not running on Xen, or xen-gntdev not loaded? "
               "(modprobe xen-gntdev; set XENSIM_DIR for xensim)", strerror(err));
        free(r);
        errno = err;
        return NULL;
    }
    r->gnt = xengnttab_open(NULL, 0);
    if (!r->gnt) {
        int err = errno;
        sc_log(SC_LOG_ERR, "xen", "cannot open /dev/xen/gntdev: %s (run as root; modprobe "
                   "xen-gntdev)", strerror(err));
        free(r);
        errno = err ? err : ENODEV;
        return NULL;
    }
    int rc = read_own_domid(&r->base);
    if (rc < 0) {
        xengnttab_close(r->gnt);
        free(r);
        errno = -rc;
        return NULL;
    }
    sc_log(SC_LOG_INFO, "xen", "platform: real Xen, domain %u", r->base.domid);
    warn_kernel_backends();
    return &r->base;
}
