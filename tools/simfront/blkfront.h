/*
 * blkfront.h - a simulated Linux blkfront over xsim_guest (libsimfront.a).
 *
 * Two levels:
 *  - Ring level (no xenstore): bf_ring_create() allocates and zeroes the
 *    shared ring pages of this guest (SHARED_RING_INIT), grants them to the
 *    backend and allocates an unbound event channel for it.  bf_submit()
 *    queues one request (data pages come from the guest and are granted per
 *    request, or kept granted in persistent mode; indirect descriptors when
 *    enabled and a request needs more than 11 segments), bf_push() publishes
 *    and kicks if the backend asked, bf_poll_responses() consumes responses
 *    and ends the grants of finished requests, bf_wait() sleeps on the
 *    event channel.  Hostile-test escape hatch: bf_submit_raw().
 *  - Device level (xenstore): bf_dev_open() runs the frontend half of the
 *    XenBus handshake exactly as Linux blkfront does (talk_to_blkback at the
 *    backend's InitWait, blkfront_connect at its Connected), each feature
 *    can be switched off in struct bf_features to test the fallbacks;
 *    bf_dev_close(), bf_dev_reconnect(), bf_dev_check() for backend changes
 *    (resize, backend closing).
 *
 * Data: the caller's buffer (struct bf_io.buf) is ordinary process memory;
 * bf copies write data into granted guest pages at submit and read data out
 * at completion (what Linux blkfront does with persistent grants, done here
 * in both modes so one code path serves both).  buf may be NULL: writes then
 * send whatever the pages hold, reads are dropped (benchmarks).
 *
 * ABIs: native (x86_64 here), x86_32 and x86_64 request layouts
 * (blkback/blk_abi.h); the device level writes the `protocol` it was told.
 *
 * Threads: a ring, and a device with its rings, belong to one thread; no
 * function here locks.  Different rings may be driven by different threads
 * of one guest (page and grant allocation of xsim_guest is thread-safe).
 * Returns: 0 / a count, or a negative errno; see each function.
 */
#ifndef SC_SIMFRONT_BLKFRONT_H
#define SC_SIMFRONT_BLKFRONT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <xen/xen.h>
#include <xen/grant_table.h>
#include <xen/event_channel.h>
#include "xen_ring.h"       /* before any ring header */
#include <xen/io/blkif.h>   /* BLKIF_RSP_* in struct bf_completion */

#include "xensim_guest.h"

#define BF_PAGE_SIZE            4096u
#define BF_SECTOR_SIZE          512u
#define BF_SECTORS_PER_PAGE     (BF_PAGE_SIZE / BF_SECTOR_SIZE)
#define BF_MAX_RING_ORDER       4u          /* 16 pages, as Linux's cap */
#define BF_MAX_RING_PAGES       (1u << BF_MAX_RING_ORDER)
#define BF_MAX_QUEUES           16u
#define BF_DIRECT_SEGMENTS      11u         /* BLKIF_MAX_SEGMENTS_PER_REQUEST */
/* Protocol maximum: 8 indirect pages of 512 descriptors. */
#define BF_MAX_INDIRECT_SEGMENTS 4096u
/* Linux blkfront's default cap on indirect segments (max_indirect_segments). */
#define BF_DEFAULT_INDIRECT_SEGMENTS 32u

enum bf_abi {
    BF_ABI_NATIVE = 0,      /* <xen/io/blkif.h> as compiled */
    BF_ABI_X86_32,          /* "x86_32-abi" */
    BF_ABI_X86_64,          /* "x86_64-abi" */
};
/* "x86_32-abi"/"x86_64-abi" (native: this machine's name). */
const char *bf_abi_protocol(enum bf_abi abi);
/* NULL or "" -> native.  0 or -EINVAL. */
int bf_abi_from_protocol(const char *protocol, enum bf_abi *out);

/* ======================= ring level ======================= */

enum bf_op {
    BF_OP_READ = 0,
    BF_OP_WRITE,
    BF_OP_FLUSH,            /* BLKIF_OP_FLUSH_DISKCACHE; with data if nr_sectors */
    BF_OP_BARRIER,          /* BLKIF_OP_WRITE_BARRIER; with data if nr_sectors */
    BF_OP_DISCARD,
};
const char *bf_op_str(enum bf_op op);

struct bf_io {
    enum bf_op op;
    uint64_t sector;        /* first 512-byte sector */
    uint32_t nr_sectors;    /* length in 512-byte sectors (0 for a bare flush) */
    void *buf;              /* nr_sectors * 512 bytes of process memory, or NULL */
    uint64_t id;            /* caller's cookie, handed back at completion */
    bool discard_secure;    /* BLKIF_DISCARD_SECURE */
};

struct bf_completion {
    uint64_t id;            /* bf_io.id */
    enum bf_op op;
    int16_t status;         /* BLKIF_RSP_OKAY / _ERROR / _EOPNOTSUPP / other */
    uint8_t rsp_operation;  /* the operation field the backend echoed */
    uint64_t latency_ns;    /* bf_submit() to bf_poll_responses() */
    void *buf;              /* bf_io.buf (read data already copied in) */
    uint32_t nr_sectors;
    uint64_t sector;
};
typedef void (*bf_complete_fn)(void *arg, const struct bf_completion *c);

/* Per-ring counters; written by the ring's thread only. */
struct bf_ring_stats {
    uint64_t requests;          /* requests placed on the ring (incl. raw) */
    uint64_t indirect_requests;
    uint64_t pushes;            /* bf_push() calls that published something */
    uint64_t kicks_sent;        /* notifications sent to the backend */
    uint64_t kicks_received;    /* event-channel events taken in bf_wait */
    uint64_t responses;
    uint64_t rsp_okay, rsp_error, rsp_eopnotsupp, rsp_other;
    uint64_t bytes_read, bytes_written;
    uint64_t grants_ended;      /* non-persistent grants ended after response */
    uint64_t grant_busy;        /* end_access -EBUSY after the response: backend bug */
    uint64_t bad_responses;     /* unknown id / more responses than requests */
    uint64_t persistent_grants; /* pages currently kept granted */
};

struct bf_ring;

/*
 * A ring of `ring_pages` (1..16, power of two) pages shared with `backend`,
 * in layout `abi`.  Starts non-persistent, no indirect (bf_ring_set_features).
 * 0 and *out, or -EINVAL, -ENOMEM, or an errno from grant/evtchn calls.
 */
int bf_ring_create(struct xsim_guest *g, domid_t backend, unsigned ring_pages,
                   enum bf_abi abi, struct bf_ring **out);
/* Ends every grant (ring, data, indirect) and closes the event channel.
 * Grants still held by the backend are counted in stats.grant_busy and
 * leaked (their pages are not reused), as Linux does. */
void bf_ring_destroy(struct bf_ring *r);

/*
 * What was negotiated, applied to later requests.  Only with no request in
 * flight (-EBUSY otherwise).  persistent: keep data pages granted (writable,
 * blkif.h note 8) in a LIFO pool and reuse them; max_indirect_segments: 0 = no
 * indirect requests, else requests of up to that many segments (capped at
 * BF_MAX_INDIRECT_SEGMENTS) go as BLKIF_OP_INDIRECT when above 11.
 */
int bf_ring_set_features(struct bf_ring *r, bool persistent, unsigned max_indirect_segments);
/* The vbd handle written into requests (the devid); default 0. */
void bf_ring_set_handle(struct bf_ring *r, uint16_t handle);

unsigned bf_ring_pages(const struct bf_ring *r);
grant_ref_t bf_ring_ref(const struct bf_ring *r, unsigned page);
evtchn_port_t bf_ring_port(const struct bf_ring *r);      /* our local port */
int bf_ring_fd(const struct bf_ring *r);                   /* readable on a kick */
unsigned bf_ring_entries(const struct bf_ring *r);         /* RING_SIZE */
unsigned bf_ring_inflight(const struct bf_ring *r);        /* submitted, not completed */
unsigned bf_ring_free_slots(const struct bf_ring *r);
/* Largest request in sectors (11 or max indirect segments, times 8). */
uint32_t bf_ring_max_sectors(const struct bf_ring *r);
enum bf_abi bf_ring_abi(const struct bf_ring *r);
void *bf_ring_sring(struct bf_ring *r);                    /* the shared pages */
const struct bf_ring_stats *bf_ring_get_stats(const struct bf_ring *r);

/*
 * Queue one request (not yet visible to the backend: bf_push()).
 * 0; -ENOSPC ring full; -E2BIG more segments than allowed (split it);
 * -EINVAL bad io (discard without sectors, read/write without sectors);
 * -ENOMEM / -ENOSPC from the guest's page or grant allocator.
 */
int bf_submit(struct bf_ring *r, const struct bf_io *io);
/*
 * Hostile tests: copy `len` bytes (<= one ring entry) verbatim into the next
 * request slot.  The raw request's id field is the caller's; a response to it
 * is passed to the callback with op = (enum bf_op)-1 and the echoed id.
 * Raw ids must not collide with bf's own (bf uses ids < 2^32; use >= 2^32).
 * 0 or -ENOSPC / -EINVAL.
 */
int bf_submit_raw(struct bf_ring *r, const void *req, size_t len);
/* RING_PUSH_REQUESTS_AND_CHECK_NOTIFY, then a kick if the backend asked.
 * 1 if kicked, 0 if not, or -errno from the notify. */
int bf_push(struct bf_ring *r);
/* A kick whether the backend asked or not (a hostile test's ring changes
 * must be seen by a backend that sleeps).  0 or -errno. */
int bf_kick(struct bf_ring *r);
/*
 * Consume every response (RING_FINAL_CHECK_FOR_RESPONSES: rsp_event re-armed
 * so the next response kicks), call cb for each (cb may bf_submit), end the
 * grants of non-persistent pages.  Count of responses, or -EPROTO if the
 * backend produced more responses than requests or an unknown id (counted;
 * the ring is then unusable).
 */
int bf_poll_responses(struct bf_ring *r, bf_complete_fn cb, void *arg);
/* Wait up to timeout_ms (-1 forever) for a kick; unmasks the port.
 * 1 kicked, 0 timed out, or -errno. */
int bf_wait(struct bf_ring *r, int timeout_ms);

/* ======================= device level ======================= */

/* What the frontend is willing to use; each may be switched off. */
struct bf_features {
    int backend_domid;              /* -1: whatever <frontend>/backend-id says;
                                       else must match it (-EPROTO otherwise) */
    unsigned max_ring_order;        /* cap on ring-page-order (<= 4) */
    unsigned max_queues;            /* cap on queues (1 = no multi-queue keys) */
    unsigned max_indirect_segments; /* 0 = never indirect */
    bool persistent;                /* write feature-persistent=1 and use it */
    bool flush, barrier, discard;   /* use when the backend offers them */
    const char *protocol;           /* NULL: native; "" : write no protocol key */
    unsigned timeout_ms;            /* every wait on the backend (0 = 10000) */
};
/* Linux's defaults: order 4, 4 queues, 32 indirect segments, persistent,
 * flush/barrier/discard on, native protocol, 10 s. */
void bf_features_default(struct bf_features *f);

/* What was negotiated and what the backend reported at Connected. */
struct bf_dev_info {
    char frontend_path[96];         /* /local/domain/<me>/device/vbd/<devid> */
    char backend_path[160];
    domid_t backend_id;
    uint32_t devid;
    enum bf_abi abi;
    unsigned ring_order, ring_pages, nr_queues;
    bool persistent;                /* both sides */
    unsigned max_indirect_segments; /* 0 = none */
    bool flush, barrier, discard, discard_secure;
    uint32_t discard_granularity, discard_alignment;
    uint64_t sectors;               /* 512-byte units, as Linux blkback writes and
                                       blkfront reads them (blkif.h says "sector-size"
                                       units; the two agree only at 512) */
    uint32_t sector_size, physical_sector_size;
    uint32_t info;                  /* VDISK_* */
    bool read_only;                 /* VDISK_READONLY or mode "r" */
    unsigned connects;              /* successful connections so far */
};

struct bf_dev;

/*
 * Connect vbd `devid` of this guest: the toolstack must have written
 * device/vbd/<devid> (backend, backend-id, state; a state left Closed by an
 * earlier connection is reset to Initialising).  Waits for the backend's
 * InitWait, negotiates, writes the frontend keys in one transaction (retried
 * on EAGAIN), Initialised, waits for Connected, reads the disk, Connected.
 * 0 and *out, or: -ENOENT no frontend dir, -ETIMEDOUT a wait ran out,
 * -ENODEV backend closed, -EPROTO backend keys missing/invalid, other -errno.
 * `err` (may be NULL) gets a one-line reason on failure.
 */
int bf_dev_open(struct xsim_guest *g, uint32_t devid, const struct bf_features *want,
                struct bf_dev **out, char *err, size_t errlen);
/* Disconnect: Closing, wait backend Closing/Closed, Closed, wait backend
 * Closed; rings destroyed (requests in flight are abandoned).  0 or -errno
 * (-ETIMEDOUT).  The device stays reusable with bf_dev_reconnect(). */
int bf_dev_close(struct bf_dev *d);
/* After bf_dev_close (or a backend-initiated close): Initialising, then the
 * whole handshake again (features re-read).  Same returns as bf_dev_open. */
int bf_dev_reconnect(struct bf_dev *d, char *err, size_t errlen);
/* Closes if connected, frees. */
void bf_dev_free(struct bf_dev *d);

const struct bf_dev_info *bf_dev_get_info(const struct bf_dev *d);
unsigned bf_dev_nr_queues(const struct bf_dev *d);
struct bf_ring *bf_dev_ring(struct bf_dev *d, unsigned queue);
/* Readable when the backend's state or size may have changed. */
int bf_dev_watch_fd(const struct bf_dev *d);

#define BF_DEV_EV_RESIZED 0x1       /* sectors re-read (info.sectors is new) */
#define BF_DEV_EV_CLOSING 0x2       /* backend went Closing/Closed: close us */
/* Takes pending watch events, as blkback_changed: a backend that re-enters
 * Connected -> sectors re-read; Closing/Closed -> reported.  Never blocks.
 * Bitmask of BF_DEV_EV_*, or -errno. */
int bf_dev_check(struct bf_dev *d);

#endif /* SC_SIMFRONT_BLKFRONT_H */
