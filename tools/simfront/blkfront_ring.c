/*
 * blkfront_ring.c - the ring level of the simulated blkfront: shared ring,
 * event channel, request encoding per ABI, data pages and their grants.
 *
 * Request ids on the ring are indices into the shadow table (as Linux
 * blkfront's shadow[]), so a response finds its request in O(1) and a
 * backend that answers an id twice or one never issued is caught.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <xen/io/protocols.h>

#include "clock.h"
#include "xen_ring.h"

#include "blk_abi.h"
#include "blkfront.h"


#define BF_SEGS_PER_INDIRECT_PAGE (BF_PAGE_SIZE / sizeof(struct blkif_request_segment))
#define BF_RAW_ID_BASE (1ull << 32)

/* One page of guest memory used for data or indirect descriptors. */
struct bf_page {
    void *va;
    uint64_t gfn;
    int32_t gref;       /* -1: not granted */
};

/* One request in flight, by ring id (as Linux's shadow[]). */
struct bf_shadow {
    bool busy;
    enum bf_op op;
    uint64_t user_id;
    uint64_t sector;
    uint32_t nr_sectors;
    void *buf;
    uint64_t t_submit_ns;
    uint32_t nr_pages;
    struct bf_page **pages;     /* data pages, seg_cap entries */
    uint8_t nr_ind;
    struct bf_page *ind[BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST];
    uint32_t next_free;
};

struct bf_ring {
    struct xsim_guest *g;
    domid_t backend;
    enum bf_abi abi;
    uint16_t handle;
    unsigned ring_pages;
    void *sring;
    uint64_t sring_gfn;
    grant_ref_t refs[BF_MAX_RING_PAGES];
    struct xsim_evtchn *evh;
    evtchn_port_t port;
    /* Index fields are common to every ABI's front ring; nr_ents is set by
     * the ABI's own init, slots are addressed through entry_size. */
    blkif_front_ring_t front;
    size_t entry_size;
    bool broken;

    bool persistent;
    unsigned max_indirect;
    uint32_t seg_cap;           /* capacity of each shadow's pages[] */

    struct bf_shadow *shadow;   /* nr_ents */
    uint32_t free_head;         /* UINT32_MAX: none */
    unsigned inflight;
    unsigned raw_inflight;

    struct bf_page **all;       /* every page we allocated */
    size_t n_all, cap_all;
    struct bf_page **pool;      /* free pages, LIFO (blkif.h note 7) */
    size_t n_pool, cap_pool;

    struct bf_ring_stats st;
};

const char *bf_abi_protocol(enum bf_abi abi)
{
    switch (abi) {
    case BF_ABI_X86_32: return XEN_IO_PROTO_ABI_X86_32;
    case BF_ABI_X86_64: return XEN_IO_PROTO_ABI_X86_64;
    case BF_ABI_NATIVE: break;
    }
    return XEN_IO_PROTO_ABI_NATIVE;
}

int bf_abi_from_protocol(const char *protocol, enum bf_abi *out)
{
    if (!protocol || !*protocol || strcmp(protocol, XEN_IO_PROTO_ABI_NATIVE) == 0)
        *out = BF_ABI_NATIVE;
    else if (strcmp(protocol, XEN_IO_PROTO_ABI_X86_32) == 0)
        *out = BF_ABI_X86_32;
    else if (strcmp(protocol, XEN_IO_PROTO_ABI_X86_64) == 0)
        *out = BF_ABI_X86_64;
    else
        return -EINVAL;
    return 0;
}

const char *bf_op_str(enum bf_op op)
{
    switch (op) {
    case BF_OP_READ: return "read";
    case BF_OP_WRITE: return "write";
    case BF_OP_FLUSH: return "flush";
    case BF_OP_BARRIER: return "barrier";
    case BF_OP_DISCARD: return "discard";
    }
    return "raw";
}

static void *slot(struct bf_ring *r, RING_IDX idx)
{
    return (uint8_t *)r->sring + BLK_SRING_HDR_SIZE +
           (size_t)(idx & (r->front.nr_ents - 1)) * r->entry_size;
}

/* ---- pages ---- */

static int page_get(struct bf_ring *r, struct bf_page **out)
{
    if (r->n_pool) {
        *out = r->pool[--r->n_pool];
        return 0;
    }
    if (r->n_all == r->cap_all) {
        size_t cap = r->cap_all ? r->cap_all * 2 : 64;
        struct bf_page **a = realloc(r->all, cap * sizeof(*a));
        if (!a)
            return -ENOMEM;
        r->all = a;
        r->cap_all = cap;
    }
    if (r->n_pool == r->cap_pool || r->cap_pool < r->cap_all) {
        struct bf_page **p = realloc(r->pool, r->cap_all * sizeof(*p));
        if (!p)
            return -ENOMEM;
        r->pool = p;
        r->cap_pool = r->cap_all;
    }
    struct bf_page *pg = calloc(1, sizeof(*pg));
    if (!pg)
        return -ENOMEM;
    pg->va = xsim_guest_pages_alloc(r->g, 1, &pg->gfn);
    if (!pg->va) {
        free(pg);
        return -ENOMEM;
    }
    pg->gref = -1;
    r->all[r->n_all++] = pg;
    *out = pg;
    return 0;
}

/* Grants pg for one request: writable if the backend writes guest memory.
 * Persistent pages stay granted writable (blkif.h note 8). */
static int page_grant(struct bf_ring *r, struct bf_page *pg, bool backend_writes)
{
    if (pg->gref >= 0)
        return 0;
    bool readonly = r->persistent ? false : !backend_writes;
    int ref = xsim_guest_grant(r->g, r->backend, pg->gfn, readonly);
    if (ref < 0)
        return ref;
    pg->gref = ref;
    if (r->persistent)
        r->st.persistent_grants++;
    return 0;
}

/* Ends a non-persistent grant; a page the backend still holds is never reused. */
static bool page_end_grant(struct bf_ring *r, struct bf_page *pg)
{
    if (pg->gref < 0)
        return true;
    int ret = xsim_guest_end_access(r->g, (grant_ref_t)pg->gref);
    if (ret == -EBUSY) {
        r->st.grant_busy++;
        return false;
    }
    if (ret == 0)
        r->st.grants_ended++;
    pg->gref = -1;
    return true;
}

static void page_put(struct bf_ring *r, struct bf_page *pg)
{
    if (!r->persistent && !page_end_grant(r, pg))
        return; /* leaked: stays in all[] with its gref, retried at destroy */
    r->pool[r->n_pool++] = pg;
}

/* ---- create / destroy ---- */

static int shadow_alloc(struct bf_ring *r, uint32_t seg_cap)
{
    for (unsigned i = 0; i < r->front.nr_ents; i++) {
        struct bf_page **p = realloc(r->shadow[i].pages, seg_cap * sizeof(*p));
        if (!p)
            return -ENOMEM;
        r->shadow[i].pages = p;
    }
    r->seg_cap = seg_cap;
    return 0;
}

int bf_ring_create(struct xsim_guest *g, domid_t backend, unsigned ring_pages,
                   enum bf_abi abi, struct bf_ring **out)
{
    if (!g || !out || ring_pages == 0 || ring_pages > BF_MAX_RING_PAGES ||
        (ring_pages & (ring_pages - 1)) || abi > BF_ABI_X86_64)
        return -EINVAL;
    struct bf_ring *r = calloc(1, sizeof(*r));
    if (!r)
        return -ENOMEM;
    r->g = g;
    r->backend = backend;
    r->abi = abi;
    r->ring_pages = ring_pages;
    for (unsigned i = 0; i < BF_MAX_RING_PAGES; i++)
        r->refs[i] = 0;
    int err = -ENOMEM;
    r->sring = xsim_guest_pages_alloc(g, ring_pages, &r->sring_gfn);
    if (!r->sring)
        goto fail;
    size_t bytes = (size_t)ring_pages * BF_PAGE_SIZE;
    switch (abi) {
    case BF_ABI_X86_32: {
        blk_x86_32_front_ring_t fr;
        XEN_FRONT_RING_INIT(&fr, (blk_x86_32_sring_t *)r->sring, bytes);
        r->front.nr_ents = fr.nr_ents;
        r->entry_size = sizeof(union blk_x86_32_sring_entry);
        break;
    }
    case BF_ABI_X86_64: {
        blk_x86_64_front_ring_t fr;
        XEN_FRONT_RING_INIT(&fr, (blk_x86_64_sring_t *)r->sring, bytes);
        r->front.nr_ents = fr.nr_ents;
        r->entry_size = sizeof(union blk_x86_64_sring_entry);
        break;
    }
    case BF_ABI_NATIVE: {
        blkif_front_ring_t fr;
        XEN_FRONT_RING_INIT(&fr, (blkif_sring_t *)r->sring, bytes);
        r->front.nr_ents = fr.nr_ents;
        r->entry_size = sizeof(union blkif_sring_entry);
        break;
    }
    }
    r->front.sring = r->sring;
    r->front.req_prod_pvt = 0;
    r->front.rsp_cons = 0;

    r->shadow = calloc(r->front.nr_ents, sizeof(*r->shadow));
    if (!r->shadow)
        goto fail;
    for (unsigned i = 0; i < r->front.nr_ents; i++)
        r->shadow[i].next_free = i + 1 < r->front.nr_ents ? i + 1 : UINT32_MAX;
    r->free_head = 0;
    if ((err = shadow_alloc(r, BF_DIRECT_SEGMENTS)) < 0)
        goto fail;

    for (unsigned i = 0; i < ring_pages; i++) {
        int ref = xsim_guest_grant(g, backend, r->sring_gfn + i, false);
        if (ref < 0) {
            err = ref;
            goto fail;
        }
        r->refs[i] = (grant_ref_t)ref;
    }
    r->evh = xsim_evtchn_open(xsim_guest_xsim(g));
    if (!r->evh) {
        err = -errno;
        goto fail;
    }
    int port = xsim_evtchn_alloc_unbound(r->evh, backend);
    if (port < 0) {
        err = port;
        goto fail;
    }
    r->port = (evtchn_port_t)port;
    *out = r;
    return 0;
fail:
    bf_ring_destroy(r);
    return err;
}

void bf_ring_destroy(struct bf_ring *r)
{
    if (!r)
        return;
    if (r->evh)
        xsim_evtchn_close(r->evh);
    bool ring_free = true;
    for (unsigned i = 0; i < r->ring_pages; i++) {
        if (!r->refs[i])
            continue;
        if (xsim_guest_end_access(r->g, r->refs[i]) == -EBUSY) {
            r->st.grant_busy++;
            ring_free = false;
        }
    }
    if (r->sring && ring_free)
        xsim_guest_pages_free(r->g, r->sring, r->ring_pages);
    for (size_t i = 0; i < r->n_all; i++) {
        struct bf_page *pg = r->all[i];
        if (page_end_grant(r, pg))
            xsim_guest_pages_free(r->g, pg->va, 1);
        free(pg);
    }
    if (r->shadow)
        for (unsigned i = 0; i < r->front.nr_ents; i++)
            free(r->shadow[i].pages);
    free(r->shadow);
    free(r->all);
    free(r->pool);
    free(r);
}

int bf_ring_set_features(struct bf_ring *r, bool persistent, unsigned max_indirect_segments)
{
    if (r->inflight || r->raw_inflight)
        return -EBUSY;
    if (max_indirect_segments > BF_MAX_INDIRECT_SEGMENTS)
        max_indirect_segments = BF_MAX_INDIRECT_SEGMENTS;
    if (max_indirect_segments && max_indirect_segments <= BF_DIRECT_SEGMENTS)
        max_indirect_segments = 0; /* nothing indirect would ever carry */
    uint32_t cap = max_indirect_segments ? max_indirect_segments : BF_DIRECT_SEGMENTS;
    if (cap != r->seg_cap) {
        int err = shadow_alloc(r, cap);
        if (err)
            return err;
    }
    if (r->persistent && !persistent) {
        /* Leaving persistent mode: the pooled pages lose their grants. */
        size_t keep = 0;
        for (size_t i = 0; i < r->n_pool; i++) {
            if (page_end_grant(r, r->pool[i]))
                r->pool[keep++] = r->pool[i];
            if (r->st.persistent_grants)
                r->st.persistent_grants--;
        }
        r->n_pool = keep;
    }
    r->persistent = persistent;
    r->max_indirect = max_indirect_segments;
    return 0;
}

void bf_ring_set_handle(struct bf_ring *r, uint16_t handle) { r->handle = handle; }
unsigned bf_ring_pages(const struct bf_ring *r) { return r->ring_pages; }
grant_ref_t bf_ring_ref(const struct bf_ring *r, unsigned page)
{
    return page < r->ring_pages ? r->refs[page] : 0;
}
evtchn_port_t bf_ring_port(const struct bf_ring *r) { return r->port; }
int bf_ring_fd(const struct bf_ring *r) { return xsim_evtchn_fd(r->evh); }
unsigned bf_ring_entries(const struct bf_ring *r) { return r->front.nr_ents; }
unsigned bf_ring_inflight(const struct bf_ring *r) { return r->inflight + r->raw_inflight; }
unsigned bf_ring_free_slots(const struct bf_ring *r)
{
    return r->front.nr_ents - (r->front.req_prod_pvt - r->front.rsp_cons);
}
uint32_t bf_ring_max_sectors(const struct bf_ring *r)
{
    return (r->max_indirect ? r->max_indirect : BF_DIRECT_SEGMENTS) * BF_SECTORS_PER_PAGE;
}
enum bf_abi bf_ring_abi(const struct bf_ring *r) { return r->abi; }
void *bf_ring_sring(struct bf_ring *r) { return r->sring; }
const struct bf_ring_stats *bf_ring_get_stats(const struct bf_ring *r) { return &r->st; }

/* ---- encoding ---- */

/* A request in ABI-neutral form. */
struct bf_wire {
    uint8_t op;
    uint8_t indirect_op;
    uint8_t flag;
    uint16_t nr_segments;
    uint64_t id;
    uint64_t sector;
    uint64_t nr_sectors;        /* discard */
    struct blkif_request_segment seg[BLKIF_MAX_SEGMENTS_PER_REQUEST];
    grant_ref_t ind[BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST];
};

#define BF_FILL_RW(q, w, handle_)                                     \
    do {                                                              \
        (q)->operation = (w)->op;                                     \
        (q)->nr_segments = (uint8_t)(w)->nr_segments;                 \
        (q)->handle = (handle_);                                      \
        (q)->id = (w)->id;                                            \
        (q)->sector_number = (w)->sector;                             \
        memcpy((q)->seg, (w)->seg, sizeof((q)->seg));                 \
    } while (0)
#define BF_FILL_DISCARD(q, w, handle_)                                \
    do {                                                              \
        (q)->operation = (w)->op;                                     \
        (q)->flag = (w)->flag;                                        \
        (q)->handle = (handle_);                                      \
        (q)->id = (w)->id;                                            \
        (q)->sector_number = (w)->sector;                             \
        (q)->nr_sectors = (w)->nr_sectors;                            \
    } while (0)
#define BF_FILL_INDIRECT(q, w, handle_)                               \
    do {                                                              \
        (q)->operation = (w)->op;                                     \
        (q)->indirect_op = (w)->indirect_op;                          \
        (q)->nr_segments = (w)->nr_segments;                          \
        (q)->handle = (handle_);                                      \
        (q)->id = (w)->id;                                            \
        (q)->sector_number = (w)->sector;                             \
        memcpy((q)->indirect_grefs, (w)->ind, sizeof((q)->indirect_grefs)); \
    } while (0)

/* Builds the whole entry locally, then copies it into the slot once. */
static void encode(struct bf_ring *r, const struct bf_wire *w, void *dst)
{
    union {
        union blk_native_request n;
        union blk_x86_32_request a32;
        union blk_x86_64_request a64;
    } e;
    memset(&e, 0, sizeof(e));
    switch (r->abi) {
    case BF_ABI_X86_32:
        if (w->op == BLKIF_OP_DISCARD)
            BF_FILL_DISCARD(&e.a32.discard, w, r->handle);
        else if (w->op == BLKIF_OP_INDIRECT)
            BF_FILL_INDIRECT(&e.a32.indirect, w, r->handle);
        else
            BF_FILL_RW(&e.a32.rw, w, r->handle);
        break;
    case BF_ABI_X86_64:
        if (w->op == BLKIF_OP_DISCARD)
            BF_FILL_DISCARD(&e.a64.discard, w, r->handle);
        else if (w->op == BLKIF_OP_INDIRECT)
            BF_FILL_INDIRECT(&e.a64.indirect, w, r->handle);
        else
            BF_FILL_RW(&e.a64.rw, w, r->handle);
        break;
    case BF_ABI_NATIVE:
        if (w->op == BLKIF_OP_DISCARD)
            BF_FILL_DISCARD(&e.n.discard, w, r->handle);
        else if (w->op == BLKIF_OP_INDIRECT)
            BF_FILL_INDIRECT(&e.n.indirect, w, r->handle);
        else
            BF_FILL_RW(&e.n.rw, w, r->handle);
        break;
    }
    memcpy(dst, &e, r->entry_size);
}

static uint8_t blkif_op(enum bf_op op)
{
    switch (op) {
    case BF_OP_READ: return BLKIF_OP_READ;
    case BF_OP_WRITE: return BLKIF_OP_WRITE;
    case BF_OP_FLUSH: return BLKIF_OP_FLUSH_DISKCACHE;
    case BF_OP_BARRIER: return BLKIF_OP_WRITE_BARRIER;
    case BF_OP_DISCARD: return BLKIF_OP_DISCARD;
    }
    return 0xff;
}

/* ---- submit ---- */

static void shadow_release(struct bf_ring *r, uint32_t id)
{
    struct bf_shadow *s = &r->shadow[id];
    for (uint32_t i = 0; i < s->nr_pages; i++)
        page_put(r, s->pages[i]);
    for (uint8_t i = 0; i < s->nr_ind; i++)
        page_put(r, s->ind[i]);
    s->nr_pages = 0;
    s->nr_ind = 0;
    s->busy = false;
    s->next_free = r->free_head;
    r->free_head = id;
    r->inflight--;
}

int bf_submit(struct bf_ring *r, const struct bf_io *io)
{
    if (r->broken)
        return -EPROTO;
    if (io->op > BF_OP_DISCARD)
        return -EINVAL;
    bool data = io->op != BF_OP_DISCARD && io->nr_sectors > 0;
    if ((io->op == BF_OP_READ || io->op == BF_OP_WRITE || io->op == BF_OP_DISCARD) &&
        io->nr_sectors == 0)
        return -EINVAL;
    uint32_t nsegs = data ? (io->nr_sectors + BF_SECTORS_PER_PAGE - 1) / BF_SECTORS_PER_PAGE : 0;
    bool indirect = nsegs > BF_DIRECT_SEGMENTS;
    if (indirect && (nsegs > r->max_indirect || (io->op != BF_OP_READ && io->op != BF_OP_WRITE)))
        return -E2BIG;
    if (RING_FULL(&r->front) || r->free_head == UINT32_MAX)
        return -ENOSPC;

    uint32_t id = r->free_head;
    struct bf_shadow *s = &r->shadow[id];
    r->free_head = s->next_free;
    r->inflight++;
    s->busy = true;
    s->op = io->op;
    s->user_id = io->id;
    s->sector = io->sector;
    s->nr_sectors = io->nr_sectors;
    s->buf = io->buf;
    s->nr_pages = 0;
    s->nr_ind = 0;

    struct bf_wire w;
    memset(&w, 0, sizeof(w));
    w.op = blkif_op(io->op);
    w.id = id;
    w.sector = io->sector;
    w.nr_segments = (uint16_t)nsegs;
    bool backend_writes = io->op == BF_OP_READ;
    int err = 0;
    struct blkif_request_segment *ind_segs = NULL;
    if (indirect) {
        w.indirect_op = w.op;
        w.op = BLKIF_OP_INDIRECT;
        unsigned nind = (nsegs + BF_SEGS_PER_INDIRECT_PAGE - 1) / BF_SEGS_PER_INDIRECT_PAGE;
        for (unsigned i = 0; i < nind; i++) {
            struct bf_page *pg;
            if ((err = page_get(r, &pg)) < 0)
                goto undo;
            s->ind[s->nr_ind++] = pg;
            if ((err = page_grant(r, pg, false)) < 0)
                goto undo;
            w.ind[i] = (grant_ref_t)pg->gref;
        }
    }
    for (uint32_t i = 0; i < nsegs; i++) {
        struct bf_page *pg;
        if ((err = page_get(r, &pg)) < 0)
            goto undo;
        s->pages[s->nr_pages++] = pg;
        if ((err = page_grant(r, pg, backend_writes)) < 0)
            goto undo;
        uint32_t left = io->nr_sectors - i * BF_SECTORS_PER_PAGE;
        uint32_t n = left < BF_SECTORS_PER_PAGE ? left : BF_SECTORS_PER_PAGE;
        if (!backend_writes && io->buf)
            memcpy(pg->va, (uint8_t *)io->buf + (size_t)i * BF_PAGE_SIZE,
                   (size_t)n * BF_SECTOR_SIZE);
        struct blkif_request_segment seg = {
            .gref = (grant_ref_t)pg->gref, .first_sect = 0, .last_sect = (uint8_t)(n - 1),
        };
        if (indirect) {
            ind_segs = s->ind[i / BF_SEGS_PER_INDIRECT_PAGE]->va;
            ind_segs[i % BF_SEGS_PER_INDIRECT_PAGE] = seg;
        } else {
            w.seg[i] = seg;
        }
    }
    if (io->op == BF_OP_DISCARD) {
        w.nr_sectors = io->nr_sectors;
        w.flag = io->discard_secure ? BLKIF_DISCARD_SECURE : 0;
        w.nr_segments = 0;
    }
    s->t_submit_ns = sc_clock_ns();
    encode(r, &w, slot(r, r->front.req_prod_pvt));
    r->front.req_prod_pvt++;
    r->st.requests++;
    if (indirect)
        r->st.indirect_requests++;
    return 0;
undo:
    shadow_release(r, id);
    return err;
}

int bf_submit_raw(struct bf_ring *r, const void *req, size_t len)
{
    if (r->broken)
        return -EPROTO;
    if (!req || len > r->entry_size)
        return -EINVAL;
    if (RING_FULL(&r->front))
        return -ENOSPC;
    uint8_t entry[128];
    memset(entry, 0, sizeof(entry));
    memcpy(entry, req, len);
    memcpy(slot(r, r->front.req_prod_pvt), entry, r->entry_size);
    r->front.req_prod_pvt++;
    r->raw_inflight++;
    r->st.requests++;
    return 0;
}

int bf_push(struct bf_ring *r)
{
    if (r->front.req_prod_pvt == r->front.sring->req_prod)
        return 0;
    int notify;
    RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(&r->front, notify);
    r->st.pushes++;
    if (!notify)
        return 0;
    int err = xsim_evtchn_notify(r->evh, r->port);
    if (err < 0)
        return err;
    r->st.kicks_sent++;
    return 1;
}

int bf_kick(struct bf_ring *r)
{
    int err = xsim_evtchn_notify(r->evh, r->port);
    if (err < 0)
        return err;
    r->st.kicks_sent++;
    return 0;
}

/* ---- responses ---- */

static void complete_one(struct bf_ring *r, uint64_t rid, uint8_t rop, int16_t status,
                         bf_complete_fn cb, void *arg)
{
    struct bf_completion c = {
        .id = rid, .op = (enum bf_op)-1, .status = status, .rsp_operation = rop,
    };
    r->st.responses++;
    switch (status) {
    case BLKIF_RSP_OKAY: r->st.rsp_okay++; break;
    case BLKIF_RSP_ERROR: r->st.rsp_error++; break;
    case BLKIF_RSP_EOPNOTSUPP: r->st.rsp_eopnotsupp++; break;
    default: r->st.rsp_other++; break;
    }
    if (rid >= BF_RAW_ID_BASE) {
        r->raw_inflight--;
    } else {
        struct bf_shadow *s = &r->shadow[rid];
        c.id = s->user_id;
        c.op = s->op;
        c.buf = s->buf;
        c.sector = s->sector;
        c.nr_sectors = s->nr_sectors;
        c.latency_ns = sc_clock_ns() - s->t_submit_ns;
        size_t bytes = (size_t)s->nr_sectors * BF_SECTOR_SIZE;
        if (s->op == BF_OP_READ) {
            if (status == BLKIF_RSP_OKAY) {
                r->st.bytes_read += bytes;
                if (s->buf)
                    for (uint32_t i = 0; i < s->nr_pages; i++) {
                        size_t off = (size_t)i * BF_PAGE_SIZE;
                        size_t n = bytes - off < BF_PAGE_SIZE ? bytes - off : BF_PAGE_SIZE;
                        memcpy((uint8_t *)s->buf + off, s->pages[i]->va, n);
                    }
            }
        } else if (s->op != BF_OP_DISCARD && status == BLKIF_RSP_OKAY) {
            r->st.bytes_written += bytes;
        }
        shadow_release(r, (uint32_t)rid);
    }
    if (cb)
        cb(arg, &c);
}

int bf_poll_responses(struct bf_ring *r, bf_complete_fn cb, void *arg)
{
    if (r->broken)
        return -EPROTO;
    int count = 0;
    int more;
    do {
        RING_IDX rp = r->front.sring->rsp_prod;
        xen_rmb(); /* responses read only after we saw the producer */
        RING_IDX outstanding = r->front.req_prod_pvt - r->front.rsp_cons;
        if ((RING_IDX)(rp - r->front.rsp_cons) > outstanding) {
            r->st.bad_responses++;
            r->broken = true;
            return -EPROTO;
        }
        while (r->front.rsp_cons != rp) {
            /* Every ABI puts id at 0, operation at 8, status at 10. */
            const uint8_t *e = slot(r, r->front.rsp_cons);
            uint64_t rid;
            uint8_t rop;
            int16_t status;
            memcpy(&rid, e, sizeof(rid));
            memcpy(&rop, e + 8, sizeof(rop));
            memcpy(&status, e + 10, sizeof(status));
            r->front.rsp_cons++;
            bool known = rid >= BF_RAW_ID_BASE ? r->raw_inflight > 0
                                               : rid < r->front.nr_ents && r->shadow[rid].busy;
            if (!known) {
                r->st.bad_responses++;
                r->broken = true;
                return -EPROTO;
            }
            complete_one(r, rid, rop, status, cb, arg);
            count++;
        }
        RING_FINAL_CHECK_FOR_RESPONSES(&r->front, more);
    } while (more);
    return count;
}

int bf_wait(struct bf_ring *r, int timeout_ms)
{
    struct pollfd pfd = { .fd = xsim_evtchn_fd(r->evh), .events = POLLIN };
    int n = poll(&pfd, 1, timeout_ms);
    if (n < 0)
        return errno == EINTR ? 0 : -errno;
    if (n == 0)
        return 0;
    int got = 0;
    int port;
    while ((port = xsim_evtchn_pending(r->evh)) >= 0) {
        r->st.kicks_received++;
        got = 1;
        int err = xsim_evtchn_unmask(r->evh, (evtchn_port_t)port);
        if (err < 0)
            return err;
    }
    return got;
}
