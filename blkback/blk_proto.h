/*
 * blk_proto.h — blkif ring protocol: fetch requests from a guest's ring,
 * validate them, put responses back. Pure code: no I/O, no threads, no Xen
 * calls; the caller maps the ring and indirect pages and sends the kicks.
 *
 * Contract
 * - A struct blk_ring belongs to the one sidecore that polls that queue; no
 *   function here locks. Everything on the shared page is hostile input.
 * - blk_ring_fetch()/_batch() check the producer index first, then copy each
 *   request out of shared memory once into a canonical struct blk_req (the
 *   shared slot is never read again). -EPROTO means the frontend broke the
 *   ring protocol: stop the ring (the ring stays broken: later calls return
 *   -EPROTO too), write `error` to xenstore, keep serving other rings.
 * - blk_req_validate() looks only at that copy. A negative return is a
 *   reason (BLK_REQ_E*, below -BLK_REQ_EBASE) to log with blk_req_strerror()
 *   and to answer with blk_req_rsp_status(); the ring keeps running.
 *   Indirect requests need a second step, blk_req_load_indirect(), once the
 *   caller has mapped the info.indirect_pages grants in req->indirect_grefs.
 * - blk_ring_put_response() stages the response of the request fetched at a
 *   ring index (struct blk_req.ring_idx), in any order;
 *   blk_ring_push_responses() publishes those whose earlier requests are all
 *   answered, in ring order, and says whether to kick the frontend (why
 *   ring order, and the log that makes the push survive a SIGKILL:
 *   backend/rsp_stage.h);
 *   blk_ring_final_check() re-arms req_event before sleeping and says
 *   whether work raced in (then keep polling).
 * Units: sector_number, nr_sectors, first_sect and last_sect are always in
 * 512-byte sectors (blkif.h); the disk's logical sector size only constrains
 * alignment.
 */
#ifndef SIDECORE_BLK_PROTO_H
#define SIDECORE_BLK_PROTO_H

#include <stdbool.h>
#include <stdint.h>
#include "blk_abi.h"
#include "rsp_stage.h"

#define BLK_PAGE_SIZE             4096u
#define BLK_SECTOR_SHIFT          9
#define BLK_SECTORS_PER_PAGE      (BLK_PAGE_SIZE >> BLK_SECTOR_SHIFT)
/* Ring sizes we accept: 1..16 pages, a power of two (ring-page-order <= 4). */
#define BLK_MAX_RING_PAGES        16u
/* Segment descriptors in one indirect page (blkif.h: PAGE_SIZE / 8). */
#define BLK_SEGS_PER_INDIRECT_PAGE (BLK_PAGE_SIZE / sizeof(struct blkif_request_segment))
/* The most segments the protocol can express: 8 indirect pages of 512. */
#define BLK_PROTO_MAX_SEGMENTS    (BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST * \
                                   BLK_SEGS_PER_INDIRECT_PAGE)
/*
 * The most segments this module keeps per request (and the cap on
 * blk_limits.max_indirect_segments, i.e. feature-max-indirect-segments):
 * 256 x 4 KiB = 1 MiB per request, one indirect page, as Linux blkback.
 */
#define BLK_MAX_SEGMENTS          256u

enum blk_abi {
    BLK_ABI_NATIVE = 0,     /* <xen/io/blkif.h> as compiled (x86_64 here) */
    BLK_ABI_X86_32,         /* "x86_32-abi" */
    BLK_ABI_X86_64,         /* "x86_64-abi" */
};

/* `protocol` key value (NULL or "" = absent = native) -> ABI. 0 or -EINVAL. */
int blk_abi_from_protocol(const char *protocol, enum blk_abi *abi_out);
const char *blk_abi_str(enum blk_abi abi);
/* Bytes per ring entry and entries in a ring of ring_pages pages (0 if bad). */
size_t blk_abi_entry_size(enum blk_abi abi);
/* Bytes of a response (the first part of its entry). */
size_t blk_abi_rsp_size(enum blk_abi abi);
unsigned blk_ring_entries(enum blk_abi abi, unsigned ring_pages);

struct blk_ring {
    enum blk_abi abi;
    unsigned     ring_pages;
    bool         broken;        /* set on -EPROTO; sticky */
    void        *sring;         /* the mapped shared pages */
    union {                     /* the ABI's ring.h back ring (by abi) */
        blkif_back_ring_t      native;
        blk_x86_32_back_ring_t x86_32;
        blk_x86_64_back_ring_t x86_64;
    } back;
    struct sc_rsp_stage rsp;    /* responses staged until their turn */
};

struct blk_seg {
    grant_ref_t gref;
    uint8_t     first_sect;     /* 512-byte sectors within the 4 KiB page */
    uint8_t     last_sect;      /* inclusive */
};

/* One request in canonical form, whatever the ABI. */
struct blk_req {
    uint64_t id;                /* echoed in the response */
    RING_IDX ring_idx;          /* where it was fetched: where it is answered */
    uint64_t sector_number;     /* READ/WRITE/FLUSH/BARRIER/DISCARD/INDIRECT */
    uint64_t nr_sectors;        /* DISCARD only */
    uint8_t  operation;         /* BLKIF_OP_*, as the guest wrote it */
    uint8_t  indirect_op;       /* INDIRECT only */
    uint8_t  discard_flag;      /* DISCARD only: BLKIF_DISCARD_SECURE */
    uint16_t handle;
    uint16_t nr_segments;       /* direct: 0..255 as written; indirect: 16-bit */
    bool     segs_loaded;       /* seg[0..nr_segments) filled and checked */
    grant_ref_t indirect_grefs[BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST];
    struct blk_seg seg[BLK_MAX_SEGMENTS];   /* direct: first 11 copied */
};

/* What the backend offers this device; set by the lifecycle code. */
struct blk_limits {
    uint64_t disk_sectors;          /* size in 512-byte sectors */
    uint32_t sector_size;           /* logical: power of two, 512..4096 */
    bool     read_only;
    bool     flush;                 /* feature-flush-cache */
    bool     barrier;               /* feature-barrier */
    bool     discard;               /* feature-discard */
    bool     discard_secure;        /* discard-secure */
    bool     persistent;            /* feature-persistent (no effect here) */
    uint16_t max_indirect_segments; /* 0 = no indirect; <= BLK_MAX_SEGMENTS */
};

/* What a valid request asks for, filled by validate (and load_indirect). */
struct blk_req_check {
    uint64_t sector;            /* first 512-byte sector touched */
    uint64_t nr_sectors;        /* 512-byte sectors read/written/discarded */
    uint64_t bytes;             /* nr_sectors * 512 */
    uint16_t nr_segments;       /* data segments (after load for indirect) */
    uint8_t  indirect_pages;    /* > 0: map these grants, then load_indirect */
    bool     writes;            /* modifies the disk (write, flush+data, discard) */
    bool     reads;             /* fills guest pages from the disk */
    bool     flush;             /* FLUSH/BARRIER: flush the cache after the data */
    bool     drain;             /* BARRIER: wait for earlier writes first */
    bool     discard;
    bool     discard_secure;    /* asked for and offered (else ignored, per blkif.h) */
    bool     segs_aligned;      /* each segment's offset and length is a multiple
                                   of the logical sector size (O_DIRECT iovecs) */
};

/* Why a request is rejected: validate returns -(BLK_REQ_E*). */
#define BLK_REQ_EBASE 1000
enum blk_req_error {
    BLK_REQ_EBADOP = BLK_REQ_EBASE, /* unknown operation */
    BLK_REQ_ENOTOFFERED,            /* flush/barrier/discard/indirect not offered */
    BLK_REQ_EREADONLY,              /* modifying request on a read-only disk */
    BLK_REQ_ENOSEGS,                /* data operation with 0 segments */
    BLK_REQ_ETOOMANYSEGS,           /* > 11 direct, > max_indirect_segments */
    BLK_REQ_EINDIRECTOP,            /* indirect_op not READ or WRITE */
    BLK_REQ_EINDIRECTPAGES,         /* > BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST */
    BLK_REQ_ESEGORDER,              /* first_sect > last_sect */
    BLK_REQ_ESEGRANGE,              /* last_sect beyond the 4 KiB page */
    BLK_REQ_EALIGN,                 /* not aligned to the logical sector size */
    BLK_REQ_EOVERFLOW,              /* sector_number + length wraps around */
    BLK_REQ_ERANGE,                 /* beyond the end of the disk */
    BLK_REQ_ELAST
};

/* String for a negative return of this module (reason or errno). */
const char *blk_req_strerror(int err);
/* True if err is a reason (guest's fault), not an errno. */
bool blk_req_is_reason(int err);
/* Status for the response to a rejected request: EOPNOTSUPP or ERROR. */
int16_t blk_req_rsp_status(int err);

/*
 * Attach to a ring the frontend initialised. Private indices start from the
 * page's rsp_prod, so a reconnect re-reads requests that were never answered.
 * log_name/ring_id: the response log (sc_rsp_stage_open; NULL: private), a
 * push torn by an unclean exit is finished first (count in *recovered, may
 * be NULL).  0, -EINVAL (bad pages/abi/pointer), -EPROTO (indices already
 * inconsistent), or the log's -errno.  blk_ring_detach() when done.
 */
int blk_ring_attach(struct blk_ring *r, void *sring, unsigned ring_pages, enum blk_abi abi,
                    const char *log_name, uint64_t ring_id, unsigned *recovered);
void blk_ring_detach(struct blk_ring *r);

static inline unsigned blk_ring_size(const struct blk_ring *r)
{
    return r->back.native.nr_ents;  /* common initial sequence of the union */
}

/* 0 (one request copied out), -EAGAIN (none), -EPROTO (ring broken). */
int blk_ring_fetch(struct blk_ring *r, struct blk_req *out);
/* Up to max requests: count (0 = none) or -EPROTO. */
int blk_ring_fetch_batch(struct blk_ring *r, struct blk_req *out, unsigned max);

/*
 * Check a fetched request against the limits. 0 with info filled, or
 * -(BLK_REQ_E*), or -EINVAL for bad limits (caller bug).
 */
int blk_req_validate(const struct blk_req *req, const struct blk_limits *lim,
                     struct blk_req_check *info);
/*
 * Second step for INDIRECT: copy nr_segments descriptors out of the npages
 * (== info.indirect_pages) mapped pages, check each and the whole range; on
 * success fills req->seg, sets segs_loaded and completes info.
 * 0, -(BLK_REQ_E*), or -EINVAL (not a validated indirect request / npages).
 */
int blk_req_load_indirect(struct blk_req *req, void *const pages[], unsigned npages,
                          const struct blk_limits *lim, struct blk_req_check *info);

/*
 * Stage the response to the request fetched at ring_idx, in the ring's ABI
 * (not yet visible).  0, or -EINVAL if no unanswered request was fetched there.
 */
int blk_ring_put_response(struct blk_ring *r, RING_IDX ring_idx, uint64_t id, uint8_t operation,
                          int16_t status);
/* Publish responses; true if the frontend asked to be kicked. */
bool blk_ring_push_responses(struct blk_ring *r);
/* Before sleeping: set req_event = req_cons + 1; true if requests raced in. */
bool blk_ring_final_check(struct blk_ring *r);

#endif /* SIDECORE_BLK_PROTO_H */
