/*
 * xensim.h - client library of the xensim simulated hypervisor.
 *
 * Contract: a `struct xsim` is one process's connection to xensimd acting as
 * one domain (the socket it connects to decides which: <dir>/hv-<domid>.sock).
 * Through it a process does what a domain does through hypercalls and the
 * gntdev/evtchn devices: map, unmap and copy grants of other domains, bind and
 * kick event channels, and (dom0 only) create and destroy domains.
 *
 * Grant checks run in the calling process on the shared grant tables, with the
 * same atomic protocol as Xen (GTF_reading/GTF_writing set while pinned), so a
 * map or copy costs no daemon round trip.  Event-channel kicks go straight to
 * the peer's eventfd.  Everything else is a synchronous RPC to xensimd.
 *
 * Threads: every function may be called from any thread; the handle
 * serialises its own RPCs.  Functions return 0 (or a non-negative value) on
 * success and a negative errno on failure; pointer-returning ones return NULL
 * and set errno.
 */
#ifndef XENSIM_H
#define XENSIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <xen/xen.h>
#include <xen/grant_table.h>
#include <xen/event_channel.h>
#include <xengnttab.h> /* xengnttab_grant_copy_segment_t: same segment type as real Xen */

#define XSIM_PAGE_SIZE 4096u
#define XSIM_MAX_DOMAINS 256u        /* domids 0..255 */
#define XSIM_NR_GRANTS 32768u        /* v1 grant entries per domain (64 frames) */
#define XSIM_NR_PORTS 4096u          /* event channel ports per domain */
#define XSIM_NAME_MAX 64u

struct xsim;
struct xsim_evtchn;

/* ---- connection ---- */

/* Connect to the xensimd whose world lives in `dir`, acting as domain `self`. */
struct xsim *xsim_open(const char *dir, domid_t self);
/* Same, with dir and domid from $XENSIM_DIR and $XENSIM_DOMID (default 0). */
struct xsim *xsim_open_env(void);
/* Closes the connection; xensimd then drops every grant mapping this
 * connection still holds and closes every event channel bound through it. */
void xsim_close(struct xsim *xs);
domid_t xsim_domid(const struct xsim *xs);
const char *xsim_dir(const struct xsim *xs);

/* ---- domains ---- */

enum xsim_domain_state {
    XSIM_DOM_FREE = 0,   /* slot unused */
    XSIM_DOM_RUNNING,    /* alive */
    XSIM_DOM_DYING,      /* destroyed; memory kept while others still map it */
};
const char *xsim_domain_state_str(enum xsim_domain_state s);

struct xsim_dominfo {
    domid_t domid;
    enum xsim_domain_state state;
    uint32_t incarnation;     /* changes each time the domid is reused */
    uint64_t mem_pages;       /* guest frames 0..mem_pages-1 */
    char name[XSIM_NAME_MAX];
};

/* Dom0 only.  Creates a domain with `mem_mb` MiB of memory, introduces it to
 * xenstored (/local/domain/<id> created, @introduceDomain fired) and returns
 * its domid (> 0) or a negative errno (-EEXIST for a duplicate name). */
int xsim_domain_create(struct xsim *xs, const char *name, uint32_t mem_mb);
/* Dom0 only.  Destroys a domain: its event channels close (their peers see
 * them unbound), new maps and copies of its grants fail with
 * GNTST_bad_domain, xenstored fires @releaseDomain and drops its connections.
 * Mappings others hold stay valid until they unmap, as with a Xen zombie. */
int xsim_domain_destroy(struct xsim *xs, domid_t domid);
/* 0 and *info filled, or -ESRCH for a free slot. Reads shared state, no RPC. */
int xsim_domain_info(struct xsim *xs, domid_t domid, struct xsim_dominfo *info);

/* ---- vCPUs: where a domain's vCPUs run, as Xen's scheduler would say ----
 * Each vCPU has a physical CPU, a cpupool (id, name, scheduler), whether its
 * hard affinity pins it to that CPU alone, and steal time: how long it was
 * runnable but not running (what Xen's runstate calls RUNSTATE_runnable and
 * Linux shows as steal).  Nothing runs on them: the map is what a test sets
 * (xensimctl vcpu-set), and steal accrues at the rate set, so a backend can
 * be shown a vCPU that shares its CPU.  Until set, vCPU n is on CPU n in
 * pool 0 "Pool-0" (credit2), not pinned, without steal. */
#define XSIM_MAX_VCPUS 64u
#define XSIM_POOL_NAME_MAX 32u
#define XSIM_SCHED_NAME_MAX 16u
struct xsim_vcpu_info {
    uint32_t pcpu;
    uint32_t pool;
    char pool_name[XSIM_POOL_NAME_MAX];
    char sched[XSIM_SCHED_NAME_MAX];
    bool pinned;
    uint32_t steal_permille;  /* the rate steal accrues at now (per 1000 of wall time) */
    uint64_t steal_ns;        /* out only: accrued since the domain was made */
};
/* Any domain, of any domain: 0 and *info, -ESRCH (no such running domain)
 * or -EINVAL (vcpu >= XSIM_MAX_VCPUS). */
int xsim_vcpu_get(struct xsim *xs, domid_t domid, uint32_t vcpu, struct xsim_vcpu_info *info);
/* Dom0 only: sets everything but steal_ns (which keeps what accrued).
 * 0, -EPERM, -ESRCH or -EINVAL (vcpu, steal_permille > 1000, an empty or
 * unterminated name). */
int xsim_vcpu_set(struct xsim *xs, domid_t domid, uint32_t vcpu,
                  const struct xsim_vcpu_info *info);

/* ---- cpupools: which physical CPUs a domain's vCPUs may run on ----
 * As Xen: a fixed set of physical CPUs (XSIM_DEFAULT_PCPUS, or xensimd
 * --pcpus), each in at most one pool or free; pool 0 "Pool-0" (credit2)
 * owns them all at start and holds every new domain.  A pool belongs to
 * a domain as a whole (all its vCPUs); moving a domain resets its vCPUs'
 * affinity (unpinned, as Xen's sched_move_domain does).  A vCPU's pool id,
 * name and scheduler in xsim_vcpu_get are its domain's pool's, unless a
 * test set others with xsim_vcpu_set (kept until the domain moves).
 * Nothing is scheduled: this is the bookkeeping `sidecorectl place` does
 * and checks.  Changes are Dom0's only (-EPERM). */
#define XSIM_MAX_PCPUS 64u
#define XSIM_DEFAULT_PCPUS 8u
#define XSIM_MAX_POOLS 16u
struct xsim_pool {
    uint32_t id;
    uint32_t n_dom;                  /* domains in it */
    char name[XSIM_POOL_NAME_MAX];
    char sched[XSIM_SCHED_NAME_MAX];
    uint64_t cpus;                   /* bit n: physical CPU n */
};
struct xsim_pools {
    uint32_t nr_pcpus;
    uint32_t nr_pools;               /* pool[0..nr_pools), by id */
    struct xsim_pool pool[XSIM_MAX_POOLS];
};
/* Any domain: the pools and CPUs.  0 or -errno. */
int xsim_pool_list(struct xsim *xs, struct xsim_pools *out);
/* A new pool without CPUs: its id, -EEXIST (name taken), -ENOSPC, or
 * -EINVAL (empty or too long name, scheduler not credit, credit2, rtds,
 * arinc653 or null). */
int xsim_pool_create(struct xsim *xs, const char *name, const char *sched);
/* Only a pool without domains and CPUs, never pool 0: 0, -EBUSY, -ENOENT. */
int xsim_pool_destroy(struct xsim *xs, uint32_t pool);
/* Adds a free CPU to a pool (-EBUSY if a pool owns it) or removes one of
 * its own (-EBUSY for the last CPU of a pool holding domains; vCPUs
 * pinned to it lose their pin).  0, -ENOENT (pool), -EINVAL (cpu). */
int xsim_pool_cpu(struct xsim *xs, uint32_t pool, uint32_t cpu, bool add);
/* Moves a domain (all its vCPUs) into a pool with CPUs: 0, -ENOENT,
 * -ESRCH, -EBUSY (no CPUs). */
int xsim_pool_move_domain(struct xsim *xs, uint32_t pool, domid_t domid);
/* A domain's pool and vCPU count (1 until set).  0 or -ESRCH. */
int xsim_domain_sched(struct xsim *xs, domid_t domid, uint32_t *pool, uint32_t *nr_vcpus);
int xsim_domain_set_vcpus(struct xsim *xs, domid_t domid, uint32_t nr_vcpus);
/* Hard affinity of one vCPU: to `cpu` alone (which must be in the
 * domain's pool, -EINVAL otherwise; the vCPU then runs there), or to every
 * CPU with cpu = -1.  0, -ESRCH, -EINVAL. */
int xsim_vcpu_pin(struct xsim *xs, domid_t domid, uint32_t vcpu, int cpu);

/* ---- grants, mapping side (what gntdev + GNTTABOP_map/copy do) ---- */

/* Maps `count` grant refs of domain `dom` into one contiguous range, like
 * xengnttab_map_domain_grant_refs().  All or nothing: on failure returns NULL,
 * sets errno, and if `status` is non-NULL fills status[i] with the GNTST_*
 * code of each ref (GNTST_okay for the ones that would have mapped). */
void *xsim_grant_map(struct xsim *xs, domid_t dom, uint32_t count,
                     const grant_ref_t *refs, bool writable, int16_t *status);
/* Unmaps a range returned by xsim_grant_map() (count must match). */
int xsim_grant_unmap(struct xsim *xs, void *addr, uint32_t count);
/* GNTTABOP_copy over the same segment type as xengnttab_grant_copy().  Each
 * segment is checked and copied alone; segs[i].status gets its GNTST_* code.
 * Returns 0, or a negative errno if the call itself failed. */
int xsim_grant_copy(struct xsim *xs, uint32_t count,
                    xengnttab_grant_copy_segment_t *segs);

/* ---- event channels (what /dev/xen/evtchn does) ---- */

/* A handle owns the ports bound through it, like one open of
 * /dev/xen/evtchn; closing it closes them.  Close every handle before the
 * struct xsim it was opened on. */
struct xsim_evtchn *xsim_evtchn_open(struct xsim *xs);
void xsim_evtchn_close(struct xsim_evtchn *h);
/* Readable when some port bound through this handle is pending and unmasked. */
int xsim_evtchn_fd(struct xsim_evtchn *h);
/* Local port, or negative errno. */
int xsim_evtchn_alloc_unbound(struct xsim_evtchn *h, domid_t remote);
int xsim_evtchn_bind_interdomain(struct xsim_evtchn *h, domid_t remote,
                                 evtchn_port_t remote_port);
int xsim_evtchn_unbind(struct xsim_evtchn *h, evtchn_port_t port);
/* Kicks the peer of `port`: one eventfd write, no daemon round trip.
 * A port whose peer is gone or not yet bound is a silent no-op, as on Xen. */
int xsim_evtchn_notify(struct xsim_evtchn *h, evtchn_port_t port);
/* Next pending port (which is now masked), or -EAGAIN if none. Never blocks. */
int xsim_evtchn_pending(struct xsim_evtchn *h);
/* Re-enables delivery; a kick that came while masked is delivered now. */
int xsim_evtchn_unmask(struct xsim_evtchn *h, evtchn_port_t port);

/* ---- toolstack names ---- */

/* A vdev as xl users write it ("xvda", "xvdb1", "xvdaa") or a plain device
 * number, to the device id libxl uses (202<<8 | disk<<4 | part for the first
 * 16 disks, 1<<28 | disk<<8 | part beyond).  0 or -EINVAL. */
int xsim_vdev_to_devid(const char *vdev, uint32_t *devid);

/* ---- toolstack devices: the xenstore tree libxl's device add writes ---- */

struct xs_handle;

/* One device of a guest, served by a backend domain:
 *   backend   /local/domain/<backend_id>/backend/<backend_type>/<frontend_id>/<devid>,
 *             owned by the backend domain, readable by the frontend;
 *             keys frontend, frontend-id, online = 1, state = 1
 *             (Initialising), then backend_keys;
 *   frontend  /local/domain/<frontend_id>/device/<frontend_type>/<devid>,
 *             owned by the frontend domain, readable by the backend;
 *             keys backend, backend-id, state = 1, then frontend_keys,
 *             then frontend_ro_keys: libxl's read-only frontend keys (a
 *             vif's mtu), owned by the backend domain and only readable by
 *             the frontend, so the guest cannot change them.
 * The caller's keys are {"key", "value", ..., NULL} (NULL for none) and
 * come after ours, so one may replace ours (a test forging a frontend path
 * or a bad frontend-id). */
struct xsim_device {
    const char *backend_type;      /* "vbd", "vbd3", "qdisk", "vif" */
    const char *frontend_type;     /* "vbd", "vif" */
    domid_t backend_id, frontend_id;
    uint32_t devid;
    const char *const *backend_keys;
    const char *const *frontend_keys;
    const char *const *frontend_ro_keys;
};

/* The two directories' paths.  0, or -ENAMETOOLONG if a buffer is short. */
int xsim_device_paths(const struct xsim_device *d, char *be, size_t be_len, char *fe,
                      size_t fe_len);
/* What libxl's device add does: both directories in one transaction (run
 * again while it conflicts), each removed first so nothing of an earlier
 * device stays, then created with its permissions and keys.  `xs` acts as
 * a domain allowed to write both (dom0).  0 or -errno. */
int xsim_device_add(struct xs_handle *xs, const struct xsim_device *d);
/* What libxl's device remove asks first: online = 0 and state = 5
 * (Closing) in the backend directory, in one transaction.  0, -ENOENT if
 * the directory is gone (nothing written), or -errno. */
int xsim_device_unplug(struct xs_handle *xs, const char *backend_path);

#endif
