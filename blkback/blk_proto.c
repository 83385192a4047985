/*
 * blk_proto.c — blkif ring fetch, request validation, response production.
 * Contract in blk_proto.h. Everything on the shared page is hostile: indices
 * are checked before use, each request is copied out once, and only the copy
 * is examined.
 */
#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <xen/io/protocols.h>

#include "xen_ring.h"
#include "blk_proto.h"

/* The index words at the start of every ABI's shared ring. */
struct blk_sring_hdr {
    RING_IDX req_prod, req_event;
    RING_IDX rsp_prod, rsp_event;
};
static_assert(offsetof(struct blkif_sring, rsp_event) ==
              offsetof(struct blk_sring_hdr, rsp_event), "sring header");
static_assert(offsetof(struct blk_x86_32_sring, rsp_event) ==
              offsetof(struct blk_sring_hdr, rsp_event), "sring header");
static_assert(offsetof(struct blk_x86_64_sring, rsp_event) ==
              offsetof(struct blk_sring_hdr, rsp_event), "sring header");
/* Indirect pages hold blkif_request_segment; we copy them straight into seg[]. */
static_assert(sizeof(struct blk_seg) == sizeof(struct blkif_request_segment), "seg");
static_assert(offsetof(struct blk_seg, first_sect) ==
              offsetof(struct blkif_request_segment, first_sect), "seg");
static_assert(offsetof(struct blk_seg, last_sect) ==
              offsetof(struct blkif_request_segment, last_sect), "seg");
static_assert(BLK_MAX_SEGMENTS <= BLK_PROTO_MAX_SEGMENTS, "segment cap");
static_assert(BLK_MAX_SEGMENTS >= BLKIF_MAX_SEGMENTS_PER_REQUEST, "segment cap");

/* Runs ring.h macro M on the ring's typed back ring. */
#define BLK_ON_RING(r, M)                                                   \
    do {                                                                    \
        switch ((r)->abi) {                                                 \
        case BLK_ABI_X86_32: M(&(r)->back.x86_32); break;                   \
        case BLK_ABI_X86_64: M(&(r)->back.x86_64); break;                   \
        default:             M(&(r)->back.native); break;                   \
        }                                                                   \
    } while (0)

static struct blk_sring_hdr *ring_hdr(const struct blk_ring *r)
{
    return r->sring;
}

size_t blk_abi_rsp_size(enum blk_abi abi)
{
    switch (abi) {
    case BLK_ABI_X86_32: return sizeof(struct blk_x86_32_response);
    case BLK_ABI_X86_64: return sizeof(struct blk_x86_64_response);
    default:             return sizeof(struct blkif_response);
    }
}

/*
 * Copy guest-writable bytes into private memory. The compiler barrier makes
 * the copy final: it may not later re-read the shared bytes instead of dst.
 * (ring.h's RING_COPY_REQUEST casts to a volatile *pointer*, which does not
 * make the pointee access volatile, so it does not give this guarantee.)
 */
static void copy_from_guest(void *dst, const void *src, size_t n)
{
    memcpy(dst, src, n);
    __asm__ __volatile__("" ::: "memory");
}

/* ---------------------------------------------------------------- ABIs */

int blk_abi_from_protocol(const char *protocol, enum blk_abi *abi_out)
{
    if (!abi_out)
        return -EINVAL;
    /* The named ABIs first: on x86_64 the native name is "x86_64-abi" too. */
    if (!protocol || !*protocol)
        *abi_out = BLK_ABI_NATIVE;
    else if (!strcmp(protocol, XEN_IO_PROTO_ABI_X86_32))
        *abi_out = BLK_ABI_X86_32;
    else if (!strcmp(protocol, XEN_IO_PROTO_ABI_X86_64))
        *abi_out = BLK_ABI_X86_64;
    else if (!strcmp(protocol, XEN_IO_PROTO_ABI_NATIVE))
        *abi_out = BLK_ABI_NATIVE;
    else
        return -EINVAL;
    return 0;
}

const char *blk_abi_str(enum blk_abi abi)
{
    switch (abi) {
    case BLK_ABI_NATIVE: return "native";
    case BLK_ABI_X86_32: return XEN_IO_PROTO_ABI_X86_32;
    case BLK_ABI_X86_64: return XEN_IO_PROTO_ABI_X86_64;
    }
    return "unknown-abi";
}

size_t blk_abi_entry_size(enum blk_abi abi)
{
    switch (abi) {
    case BLK_ABI_NATIVE: return sizeof(union blkif_sring_entry);
    case BLK_ABI_X86_32: return sizeof(union blk_x86_32_sring_entry);
    case BLK_ABI_X86_64: return sizeof(union blk_x86_64_sring_entry);
    }
    return 0;
}

static bool ring_pages_ok(unsigned ring_pages)
{
    return ring_pages >= 1 && ring_pages <= BLK_MAX_RING_PAGES &&
           (ring_pages & (ring_pages - 1)) == 0;
}

unsigned blk_ring_entries(enum blk_abi abi, unsigned ring_pages)
{
    if (!ring_pages_ok(ring_pages))
        return 0;
    size_t bytes = (size_t)ring_pages * BLK_PAGE_SIZE;
    switch (abi) {
    case BLK_ABI_NATIVE: return __CONST_RING_SIZE(blkif, bytes);
    case BLK_ABI_X86_32: return __CONST_RING_SIZE(blk_x86_32, bytes);
    case BLK_ABI_X86_64: return __CONST_RING_SIZE(blk_x86_64, bytes);
    }
    return 0;
}

/* ---------------------------------------------------------------- ring */

int blk_ring_attach(struct blk_ring *r, void *sring, unsigned ring_pages, enum blk_abi abi,
                    const char *log_name, uint64_t ring_id, unsigned *recovered)
{
    if (recovered)
        *recovered = 0;
    if (!r || !sring || ((uintptr_t)sring & 7) || !ring_pages_ok(ring_pages) ||
        blk_abi_entry_size(abi) == 0)
        return -EINVAL;

    memset(r, 0, sizeof(*r));
    r->abi = abi;
    r->ring_pages = ring_pages;
    r->sring = sring;

    /* first, so that a push torn by an unclean exit is finished before
     * the indices are read */
    int err = sc_rsp_stage_open(&r->rsp, sring, blk_abi_entry_size(abi), blk_abi_rsp_size(abi),
                                blk_ring_entries(abi, ring_pages), log_name, ring_id,
                                recovered);
    if (err)
        return err;

    struct blk_sring_hdr *h = ring_hdr(r);
    RING_IDX rsp_prod = __atomic_load_n(&h->rsp_prod, __ATOMIC_ACQUIRE);
    RING_IDX req_prod = __atomic_load_n(&h->req_prod, __ATOMIC_ACQUIRE);
    size_t bytes = (size_t)ring_pages * BLK_PAGE_SIZE;

    switch (abi) {
    case BLK_ABI_X86_32:
        BACK_RING_ATTACH(&r->back.x86_32, (struct blk_x86_32_sring *)sring, rsp_prod, bytes);
        break;
    case BLK_ABI_X86_64:
        BACK_RING_ATTACH(&r->back.x86_64, (struct blk_x86_64_sring *)sring, rsp_prod, bytes);
        break;
    default:
        BACK_RING_ATTACH(&r->back.native, (struct blkif_sring *)sring, rsp_prod, bytes);
        break;
    }
    /* More requests outstanding than the ring holds: not a ring we can trust. */
    if (RING_REQUEST_PROD_OVERFLOW(&r->back.native, req_prod)) {
        r->broken = true;
        return -EPROTO;
    }
    return 0;
}

void blk_ring_detach(struct blk_ring *r)
{
    if (r)
        sc_rsp_stage_close(&r->rsp);
}

/*
 * How many requests may be consumed now, or -EPROTO. The producer check
 * comes first (RING_REQUEST_PROD_OVERFLOW). A req_prod that moved behind
 * req_cons is broken too. With both checks passed, prod - cons can never
 * exceed the free response slots, so RING_REQUEST_CONS_OVERFLOW cannot trip.
 */
static int ring_available(struct blk_ring *r)
{
    if (r->broken)
        return -EPROTO;
    /* Acquire: the request slots are read only after req_prod (xen_rmb). */
    RING_IDX prod = __atomic_load_n(&ring_hdr(r)->req_prod, __ATOMIC_ACQUIRE);
    RING_IDX cons = r->back.native.req_cons;
    RING_IDX pvt = r->back.native.rsp_prod_pvt;

    if (RING_REQUEST_PROD_OVERFLOW(&r->back.native, prod) ||
        (RING_IDX)(cons - pvt) > (RING_IDX)(prod - pvt)) {
        r->broken = true;
        return -EPROTO;
    }
    return (int)(prod - cons);
}

/* Decodes one private copy of a request of ABI union type U into out. */
#define BLK_DEFINE_DECODE(name, U)                                              \
static void name(const U *src, struct blk_req *out)                             \
{                                                                               \
    out->operation = src->rw.operation;                                         \
    out->indirect_op = 0;                                                       \
    out->discard_flag = 0;                                                      \
    out->nr_sectors = 0;                                                        \
    switch (out->operation) {                                                   \
    case BLKIF_OP_DISCARD:                                                      \
        memset(out->indirect_grefs, 0, sizeof(out->indirect_grefs));            \
        out->id = src->discard.id;                                              \
        out->sector_number = src->discard.sector_number;                        \
        out->nr_sectors = src->discard.nr_sectors;                              \
        out->discard_flag = src->discard.flag;                                  \
        out->handle = src->discard.handle;                                      \
        out->nr_segments = 0;                                                   \
        out->segs_loaded = false;                                               \
        break;                                                                  \
    case BLKIF_OP_INDIRECT:                                                     \
        out->id = src->indirect.id;                                             \
        out->sector_number = src->indirect.sector_number;                       \
        out->handle = src->indirect.handle;                                     \
        out->indirect_op = src->indirect.indirect_op;                           \
        out->nr_segments = src->indirect.nr_segments;                           \
        memcpy(out->indirect_grefs, src->indirect.indirect_grefs,               \
               sizeof(out->indirect_grefs));                                    \
        out->segs_loaded = false;                                               \
        break;                                                                  \
    default: /* READ, WRITE, BARRIER, FLUSH, and unknown ops (for the id) */    \
        memset(out->indirect_grefs, 0, sizeof(out->indirect_grefs));            \
        out->id = src->rw.id;                                                   \
        out->sector_number = src->rw.sector_number;                             \
        out->handle = src->rw.handle;                                           \
        out->nr_segments = src->rw.nr_segments;                                 \
        /* only the segments it uses: validation refuses more than 11 */       \
        unsigned n_ = out->nr_segments < BLKIF_MAX_SEGMENTS_PER_REQUEST         \
                          ? out->nr_segments : BLKIF_MAX_SEGMENTS_PER_REQUEST;  \
        for (unsigned i_ = 0; i_ < n_; i_++) {                                  \
            out->seg[i_].gref = src->rw.seg[i_].gref;                           \
            out->seg[i_].first_sect = src->rw.seg[i_].first_sect;               \
            out->seg[i_].last_sect = src->rw.seg[i_].last_sect;                 \
        }                                                                       \
        out->segs_loaded = true;                                                \
        break;                                                                  \
    }                                                                           \
}

BLK_DEFINE_DECODE(decode_native, union blk_native_request)
BLK_DEFINE_DECODE(decode_x86_32, union blk_x86_32_request)
BLK_DEFINE_DECODE(decode_x86_64, union blk_x86_64_request)

/* Copies the request at req_cons out of the ring and advances req_cons. */
static void ring_take_one(struct blk_ring *r, struct blk_req *out)
{
    RING_IDX cons = r->back.native.req_cons;

    out->ring_idx = cons;
    switch (r->abi) {
    case BLK_ABI_X86_32: {
        union blk_x86_32_request c;
        copy_from_guest(&c, RING_GET_REQUEST(&r->back.x86_32, cons), sizeof(c));
        decode_x86_32(&c, out);
        break;
    }
    case BLK_ABI_X86_64: {
        union blk_x86_64_request c;
        copy_from_guest(&c, RING_GET_REQUEST(&r->back.x86_64, cons), sizeof(c));
        decode_x86_64(&c, out);
        break;
    }
    default: {
        union blk_native_request c;
        memset(&c, 0, sizeof(c));
        copy_from_guest(&c, RING_GET_REQUEST(&r->back.native, cons),
                        sizeof(struct blkif_request));
        decode_native(&c, out);
        break;
    }
    }
    r->back.native.req_cons = cons + 1;
}

int blk_ring_fetch(struct blk_ring *r, struct blk_req *out)
{
    int avail = ring_available(r);
    if (avail < 0)
        return avail;
    if (avail == 0)
        return -EAGAIN;
    ring_take_one(r, out);
    return 0;
}

int blk_ring_fetch_batch(struct blk_ring *r, struct blk_req *out, unsigned max)
{
    int avail = ring_available(r);
    if (avail < 0)
        return avail;
    unsigned n = (unsigned)avail < max ? (unsigned)avail : max;
    for (unsigned i = 0; i < n; i++)
        ring_take_one(r, &out[i]);
    return (int)n;
}

int blk_ring_put_response(struct blk_ring *r, RING_IDX ring_idx, uint64_t id, uint8_t operation,
                          int16_t status)
{
    /* Only consumed requests are answered. */
    if ((RING_IDX)(ring_idx - r->rsp.published) >= (RING_IDX)(r->back.native.req_cons -
                                                              r->rsp.published))
        return -EINVAL;

    union {
        struct blk_x86_32_response x86_32;
        struct blk_x86_64_response x86_64;
        struct blkif_response native;
    } rsp;
    memset(&rsp, 0, sizeof(rsp));
    switch (r->abi) {
    case BLK_ABI_X86_32:
        rsp.x86_32.id = id;
        rsp.x86_32.operation = operation;
        rsp.x86_32.status = status;
        break;
    case BLK_ABI_X86_64:
        rsp.x86_64.id = id;
        rsp.x86_64.operation = operation;
        rsp.x86_64.status = status;
        break;
    default:
        rsp.native.id = id;
        rsp.native.operation = operation;
        rsp.native.status = status;
        break;
    }
    return sc_rsp_stage_put(&r->rsp, ring_idx, &rsp);
}

bool blk_ring_push_responses(struct blk_ring *r)
{
    bool notify = sc_rsp_stage_push(&r->rsp);
    /* the ring.h view of what is published, for its overflow checks */
    r->back.native.rsp_prod_pvt = r->rsp.published;
    return notify;
}

bool blk_ring_final_check(struct blk_ring *r)
{
    unsigned work = 0;
    if (r->broken)
        return false;
#define BLK_FINAL(br) RING_FINAL_CHECK_FOR_REQUESTS(br, work)
    BLK_ON_RING(r, BLK_FINAL);
#undef BLK_FINAL
    return work != 0;
}

/* ---------------------------------------------------------------- checks */

static bool limits_ok(const struct blk_limits *lim)
{
    uint32_t ss = lim->sector_size;
    return ss >= 512 && ss <= (1u << 20) && (ss & (ss - 1)) == 0 &&
           lim->disk_sectors <= (UINT64_MAX >> BLK_SECTOR_SHIFT) &&
           lim->max_indirect_segments <= BLK_MAX_SEGMENTS;
}

/*
 * The extent [sector, sector + nr): aligned to the logical sector size, no
 * wrap-around, inside the disk. Fills the extent fields of info.
 */
static int check_extent(uint64_t sector, uint64_t nr, const struct blk_limits *lim,
                        struct blk_req_check *info)
{
    uint64_t lmask = (lim->sector_size >> BLK_SECTOR_SHIFT) - 1;
    uint64_t end = sector + nr;

    if ((sector | nr) & lmask)
        return -BLK_REQ_EALIGN;
    if (end < sector)
        return -BLK_REQ_EOVERFLOW;
    if (end > lim->disk_sectors)
        return -BLK_REQ_ERANGE;
    info->sector = sector;
    info->nr_sectors = nr;
    info->bytes = nr << BLK_SECTOR_SHIFT;
    return 0;
}

/* Each segment inside its page and well ordered; then the whole extent. */
static int check_segments(const struct blk_req *req, unsigned nseg,
                          const struct blk_limits *lim, struct blk_req_check *info)
{
    uint64_t lmask = (lim->sector_size >> BLK_SECTOR_SHIFT) - 1;
    uint64_t total = 0;
    bool aligned = true;

    for (unsigned i = 0; i < nseg; i++) {
        const struct blk_seg *s = &req->seg[i];
        if (s->first_sect > s->last_sect)
            return -BLK_REQ_ESEGORDER;
        if (s->last_sect >= BLK_SECTORS_PER_PAGE)
            return -BLK_REQ_ESEGRANGE;
        unsigned len = (unsigned)s->last_sect - s->first_sect + 1;
        if ((s->first_sect & lmask) || (len & lmask))
            aligned = false;
        total += len;
    }
    int rc = check_extent(req->sector_number, total, lim, info);
    if (rc)
        return rc;
    info->nr_segments = (uint16_t)nseg;
    info->segs_aligned = aligned;
    return 0;
}

static int validate_direct(const struct blk_req *req, const struct blk_limits *lim,
                           struct blk_req_check *info, bool data_optional)
{
    unsigned nseg = req->nr_segments;

    if (nseg == 0) {
        if (!data_optional)
            return -BLK_REQ_ENOSEGS;
        return 0;   /* pure flush/barrier: no extent */
    }
    if (nseg > BLKIF_MAX_SEGMENTS_PER_REQUEST)
        return -BLK_REQ_ETOOMANYSEGS;
    return check_segments(req, nseg, lim, info);
}

static int validate_discard(const struct blk_req *req, const struct blk_limits *lim,
                            struct blk_req_check *info)
{
    if (!lim->discard)
        return -BLK_REQ_ENOTOFFERED;
    if (lim->read_only)
        return -BLK_REQ_EREADONLY;
    int rc = check_extent(req->sector_number, req->nr_sectors, lim, info);
    if (rc)
        return rc;
    info->writes = true;
    info->discard = true;
    /* blkif.h: the secure flag is ignored when discard-secure is not offered. */
    info->discard_secure = lim->discard_secure && (req->discard_flag & BLKIF_DISCARD_SECURE);
    return 0;
}

/* The header of an indirect request; its segments come with load_indirect. */
static int validate_indirect(const struct blk_req *req, const struct blk_limits *lim,
                             struct blk_req_check *info)
{
    unsigned nseg = req->nr_segments;

    if (lim->max_indirect_segments == 0)
        return -BLK_REQ_ENOTOFFERED;
    if (req->indirect_op != BLKIF_OP_READ && req->indirect_op != BLKIF_OP_WRITE)
        return -BLK_REQ_EINDIRECTOP;
    if (req->indirect_op == BLKIF_OP_WRITE && lim->read_only)
        return -BLK_REQ_EREADONLY;
    if (nseg == 0)
        return -BLK_REQ_ENOSEGS;
    unsigned pages = (nseg + BLK_SEGS_PER_INDIRECT_PAGE - 1) / BLK_SEGS_PER_INDIRECT_PAGE;
    if (pages > BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST)
        return -BLK_REQ_EINDIRECTPAGES;
    if (nseg > lim->max_indirect_segments)
        return -BLK_REQ_ETOOMANYSEGS;
    info->indirect_pages = (uint8_t)pages;
    info->nr_segments = (uint16_t)nseg;
    info->reads = req->indirect_op == BLKIF_OP_READ;
    info->writes = req->indirect_op == BLKIF_OP_WRITE;
    return 0;
}

int blk_req_validate(const struct blk_req *req, const struct blk_limits *lim,
                     struct blk_req_check *info)
{
    if (!req || !lim || !info || !limits_ok(lim))
        return -EINVAL;
    memset(info, 0, sizeof(*info));

    switch (req->operation) {
    case BLKIF_OP_READ:
        info->reads = true;
        return validate_direct(req, lim, info, false);
    case BLKIF_OP_WRITE:
        if (lim->read_only)
            return -BLK_REQ_EREADONLY;
        info->writes = true;
        return validate_direct(req, lim, info, false);
    case BLKIF_OP_WRITE_BARRIER:
    case BLKIF_OP_FLUSH_DISKCACHE: {
        bool barrier = req->operation == BLKIF_OP_WRITE_BARRIER;
        if (!(barrier ? lim->barrier : lim->flush))
            return -BLK_REQ_ENOTOFFERED;
        /* As Linux blkback: a flush is a write (it may carry data). */
        if (lim->read_only)
            return -BLK_REQ_EREADONLY;
        int rc = validate_direct(req, lim, info, true);
        if (rc)
            return rc;
        info->flush = true;
        info->drain = barrier;
        info->writes = info->nr_segments > 0;
        return 0;
    }
    case BLKIF_OP_DISCARD:
        return validate_discard(req, lim, info);
    case BLKIF_OP_INDIRECT:
        return validate_indirect(req, lim, info);
    default:
        return -BLK_REQ_EBADOP;
    }
}

int blk_req_load_indirect(struct blk_req *req, void *const pages[], unsigned npages,
                          const struct blk_limits *lim, struct blk_req_check *info)
{
    if (!req || !pages || req->operation != BLKIF_OP_INDIRECT)
        return -EINVAL;
    int rc = blk_req_validate(req, lim, info);
    if (rc)
        return rc;
    if (npages != info->indirect_pages)
        return -EINVAL;

    unsigned nseg = req->nr_segments;   /* <= BLK_MAX_SEGMENTS: validated */
    for (unsigned p = 0, done = 0; done < nseg; p++) {
        unsigned n = nseg - done;
        if (n > BLK_SEGS_PER_INDIRECT_PAGE)
            n = BLK_SEGS_PER_INDIRECT_PAGE;
        if (!pages[p])
            return -EINVAL;
        copy_from_guest(&req->seg[done], pages[p], n * sizeof(struct blk_seg));
        done += n;
    }
    req->segs_loaded = true;

    uint8_t indirect_pages = info->indirect_pages;
    bool reads = info->reads, writes = info->writes;
    rc = check_segments(req, nseg, lim, info);
    if (rc) {
        req->segs_loaded = false;
        return rc;
    }
    info->indirect_pages = indirect_pages;
    info->reads = reads;
    info->writes = writes;
    return 0;
}

/* ---------------------------------------------------------------- strings */

static const char *const reason_str[BLK_REQ_ELAST - BLK_REQ_EBASE] = {
    [BLK_REQ_EBADOP - BLK_REQ_EBASE]         = "unknown operation",
    [BLK_REQ_ENOTOFFERED - BLK_REQ_EBASE]    = "operation not offered",
    [BLK_REQ_EREADONLY - BLK_REQ_EBASE]      = "write to read-only disk",
    [BLK_REQ_ENOSEGS - BLK_REQ_EBASE]        = "no segments",
    [BLK_REQ_ETOOMANYSEGS - BLK_REQ_EBASE]   = "too many segments",
    [BLK_REQ_EINDIRECTOP - BLK_REQ_EBASE]    = "indirect operation not read/write",
    [BLK_REQ_EINDIRECTPAGES - BLK_REQ_EBASE] = "too many indirect pages",
    [BLK_REQ_ESEGORDER - BLK_REQ_EBASE]      = "segment first_sect > last_sect",
    [BLK_REQ_ESEGRANGE - BLK_REQ_EBASE]      = "segment beyond its page",
    [BLK_REQ_EALIGN - BLK_REQ_EBASE]         = "misaligned to logical sector size",
    [BLK_REQ_EOVERFLOW - BLK_REQ_EBASE]      = "sector number overflow",
    [BLK_REQ_ERANGE - BLK_REQ_EBASE]         = "beyond end of disk",
};

bool blk_req_is_reason(int err)
{
    return err <= -BLK_REQ_EBASE && err > -BLK_REQ_ELAST;
}

const char *blk_req_strerror(int err)
{
    if (err == 0)
        return "ok";
    if (blk_req_is_reason(err))
        return reason_str[-err - BLK_REQ_EBASE];
    switch (err) {
    case -EAGAIN: return "no request";
    case -EPROTO: return "ring protocol violation";
    case -EINVAL: return "invalid argument";
    case -ENOSPC: return "no request to answer";
    }
    return err < 0 ? strerror(-err) : "unknown error";
}

int16_t blk_req_rsp_status(int err)
{
    if (err == -BLK_REQ_EBADOP || err == -BLK_REQ_ENOTOFFERED)
        return BLKIF_RSP_EOPNOTSUPP;
    return err == 0 ? BLKIF_RSP_OKAY : BLKIF_RSP_ERROR;
}
