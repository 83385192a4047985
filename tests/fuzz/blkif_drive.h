/*
 * blkif_drive.h - the blkif harnesses' common part (fuzz_blkif.c and
 * fuzz_blkif_race.c): decode the input's header into an ABI, a ring size
 * and disk limits, lay the ring page(s) and the indirect pages out of the
 * rest, then serve the ring as a sidecore does (blkback/blk_proto.h):
 * fetch in batches, validate, load indirect segments, answer every request
 * at its ring index, push.
 *
 * Input: 12 header bytes
 *   [0] ABI (% 3)    [1] bits 0-2 ring-page-order (% 5), bit 3 answer
 *                        each batch backwards (out of ring order)
 *   [2] limits: bit 0 read-only, 1 flush, 2 barrier, 3 discard,
 *       4 discard-secure, 5 persistent
 *   [3] logical sector size 512 << (b % 4)
 *   [4..5] max_indirect_segments (% 257)   [6..9] disk size in sectors
 *   [10] fetch batch (1 + b % 32)           [11] reserved
 * then the ring (ring_pages * 4096 bytes: its header, then the slots; what
 * the input lacks is zero), then up to 8 indirect pages.
 */
#ifndef SC_FUZZ_BLKIF_DRIVE_H
#define SC_FUZZ_BLKIF_DRIVE_H

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>

#include "blk_proto.h"
#include "fuzz.h"

#define BLKIF_FUZZ_HDR    12u
#define BLKIF_FUZZ_IPAGES BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST
/* Bound the work per input (a racing writer can keep publishing). */
#define BLKIF_FUZZ_MAX_ROUNDS 64u

struct blkif_fuzz {
    enum blk_abi abi;
    unsigned ring_pages;
    bool backwards;
    unsigned batch;
    struct blk_limits lim;
    uint8_t *ring;                          /* ring_pages pages, page aligned */
    uint8_t *ipages[BLKIF_FUZZ_IPAGES];     /* indirect pages */
};

/* Decodes the input into f (pages allocated: blkif_fuzz_free). */
static inline int blkif_fuzz_setup(struct blkif_fuzz *f, const uint8_t *data, size_t size)
{
    struct fuzz_in in = { data, size };
    memset(f, 0, sizeof(*f));
    f->abi = (enum blk_abi)(fuzz_u8(&in) % 3);
    uint8_t b = fuzz_u8(&in);
    f->ring_pages = 1u << ((b & 7) % 5);
    f->backwards = b & 8;
    uint8_t l = fuzz_u8(&in);
    f->lim.read_only = l & 1;
    f->lim.flush = l & 2;
    f->lim.barrier = l & 4;
    f->lim.discard = l & 8;
    f->lim.discard_secure = l & 16;
    f->lim.persistent = l & 32;
    f->lim.sector_size = 512u << (fuzz_u8(&in) % 4);
    f->lim.max_indirect_segments = (uint16_t)(fuzz_u16(&in) % (BLK_MAX_SEGMENTS + 1));
    f->lim.disk_sectors = fuzz_u32(&in);
    f->batch = 1 + fuzz_u8(&in) % 32;
    (void)fuzz_u8(&in);

    f->ring = aligned_alloc(BLK_PAGE_SIZE, f->ring_pages * BLK_PAGE_SIZE);
    FUZZ_CHECK(f->ring);
    fuzz_bytes(&in, f->ring, f->ring_pages * BLK_PAGE_SIZE);
    for (unsigned i = 0; i < BLKIF_FUZZ_IPAGES; i++) {
        f->ipages[i] = aligned_alloc(BLK_PAGE_SIZE, BLK_PAGE_SIZE);
        FUZZ_CHECK(f->ipages[i]);
        fuzz_bytes(&in, f->ipages[i], BLK_PAGE_SIZE);
    }
    return 0;
}

static inline void blkif_fuzz_free(struct blkif_fuzz *f)
{
    free(f->ring);
    for (unsigned i = 0; i < BLKIF_FUZZ_IPAGES; i++)
        free(f->ipages[i]);
}

/* What blk_proto.h promises of a request it accepted. */
static inline void blkif_check_accepted(const struct blk_req *req, const struct blk_limits *lim,
                                        const struct blk_req_check *info)
{
    FUZZ_CHECK(info->bytes == info->nr_sectors << BLK_SECTOR_SHIFT);
    FUZZ_CHECK(info->sector + info->nr_sectors >= info->sector);
    if (info->nr_sectors)
        FUZZ_CHECK(info->sector + info->nr_sectors <= lim->disk_sectors);
    if (info->writes)
        FUZZ_CHECK(!lim->read_only);
    if (req->operation == BLKIF_OP_INDIRECT) {
        FUZZ_CHECK(info->nr_segments <= lim->max_indirect_segments);
        FUZZ_CHECK(info->indirect_pages >= 1 &&
                   info->indirect_pages <= BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST);
    } else if (!info->discard) {
        FUZZ_CHECK(info->nr_segments <= BLKIF_MAX_SEGMENTS_PER_REQUEST);
    }
}

/* Validates (and for INDIRECT loads) one request: the response status. */
static inline int16_t blkif_fuzz_check(struct blkif_fuzz *f, struct blk_req *req)
{
    struct blk_req_check info;
    int rc = blk_req_validate(req, &f->lim, &info);
    FUZZ_CHECK(rc == 0 || blk_req_is_reason(rc));
    if (rc == 0 && info.indirect_pages) {
        FUZZ_CHECK(req->operation == BLKIF_OP_INDIRECT);
        rc = blk_req_load_indirect(req, (void *const *)f->ipages, info.indirect_pages, &f->lim,
                                   &info);
        FUZZ_CHECK(rc == 0 || blk_req_is_reason(rc));
        if (rc == 0)
            FUZZ_CHECK(req->segs_loaded);
    }
    if (rc < 0) {
        (void)blk_req_strerror(rc);
        return blk_req_rsp_status(rc);
    }
    blkif_check_accepted(req, &f->lim, &info);
    return BLKIF_RSP_OKAY;
}

/*
 * Serves the ring until it is empty or broken (or the round bound): every
 * request fetched is answered at its ring index, exactly once.  With
 * `racing`, another thread writes the page meanwhile, so only what cannot
 * depend on the page's contents is checked.  Returns the attach's result.
 */
static inline int blkif_fuzz_serve(struct blkif_fuzz *f, bool racing)
{
    struct blk_ring r;
    int rc = blk_ring_attach(&r, f->ring, f->ring_pages, f->abi, NULL, 0, NULL);
    FUZZ_CHECK(rc == 0 || rc == -EPROTO);
    if (rc < 0) {
        blk_ring_detach(&r);
        return rc;
    }
    struct blk_req *reqs = calloc(f->batch, sizeof(*reqs));
    FUZZ_CHECK(reqs);
    for (unsigned round = 0; round < BLKIF_FUZZ_MAX_ROUNDS; round++) {
        int n = blk_ring_fetch_batch(&r, reqs, f->batch);
        FUZZ_CHECK(n == -EPROTO || (n >= 0 && (unsigned)n <= f->batch));
        if (n <= 0)
            break;
        for (int k = 0; k < n; k++) {
            int i = f->backwards ? n - 1 - k : k;
            int16_t st = blkif_fuzz_check(f, &reqs[i]);
            FUZZ_CHECK(blk_ring_put_response(&r, reqs[i].ring_idx, reqs[i].id,
                                             reqs[i].operation, st) == 0);
            /* an answer is given once */
            FUZZ_CHECK(blk_ring_put_response(&r, reqs[i].ring_idx, reqs[i].id,
                                             reqs[i].operation, st) == -EINVAL);
        }
        (void)blk_ring_push_responses(&r);
        if (!racing) {
            /* everything fetched is answered: the shared rsp_prod caught up */
            const RING_IDX *rsp_prod = (const RING_IDX *)(f->ring + 8);
            FUZZ_CHECK(*rsp_prod == r.back.native.req_cons);
        }
    }
    if (!r.broken)
        (void)blk_ring_final_check(&r);
    free(reqs);
    blk_ring_detach(&r);
    return 0;
}

#endif
