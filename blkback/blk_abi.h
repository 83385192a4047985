/*
 * blk_abi.h — the two non-native blkif ring layouts a frontend may ask for
 * with the xenstore key `protocol` ("x86_32-abi", "x86_64-abi").
 *
 * Owns: byte-exact request/response structs for each ABI and the ring types
 * generated from them with DEFINE_RING_TYPES. The native layout is the one in
 * <xen/io/blkif.h>. Nothing here has behaviour; blk_proto.c decodes these.
 *
 * Layout facts (all offsets in bytes, checked by static_assert below):
 *   x86_32: 64-bit fields are 4-byte aligned, structs padded to 4.
 *     rw       op 0, nr_segments 1, handle 2, id 4, sector 12, seg[11] 20 -> 108
 *     discard  op 0, flag 1, handle 2, id 4, sector 12, nr_sectors 20    -> 28
 *     indirect op 0, indirect_op 1, nr_segments 2, id 4, sector 12,
 *              handle 20, grefs[8] 24, pad to 64                         -> 64
 *     response id 0, operation 8, status 10                              -> 12
 *   x86_64: natural alignment (64-bit fields 8-aligned).
 *     rw       op 0, nr_segments 1, handle 2, id 8, sector 16, seg[11] 24 -> 112
 *     discard  op 0, flag 1, handle 2, id 8, sector 16, nr_sectors 24    -> 32
 *     indirect op 0, indirect_op 1, nr_segments 2, id 8, sector 16,
 *              handle 24, grefs[8] 28, pad to 64                         -> 64
 *     response id 0, operation 8, status 10                              -> 16
 * A segment descriptor (struct blkif_request_segment: gref 0, first_sect 4,
 * last_sect 5) is 8 bytes in every ABI, in the ring and in indirect pages.
 */
#ifndef SIDECORE_BLK_ABI_H
#define SIDECORE_BLK_ABI_H

#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include "xen_ring.h" /* before any ring header */
#include <xen/io/blkif.h>

#define BLK_PACKED __attribute__((__packed__))

/* ---- x86_32 ---- */
struct BLK_PACKED blk_x86_32_request_rw {
    uint8_t  operation;
    uint8_t  nr_segments;
    uint16_t handle;
    uint64_t id;
    uint64_t sector_number;
    struct blkif_request_segment seg[BLKIF_MAX_SEGMENTS_PER_REQUEST];
};

struct BLK_PACKED blk_x86_32_request_discard {
    uint8_t  operation;
    uint8_t  flag;
    uint16_t handle;
    uint64_t id;
    uint64_t sector_number;
    uint64_t nr_sectors;
};

struct BLK_PACKED blk_x86_32_request_indirect {
    uint8_t     operation;
    uint8_t     indirect_op;
    uint16_t    nr_segments;
    uint64_t    id;
    uint64_t    sector_number;
    uint16_t    handle;
    uint16_t    pad1;           /* i386 aligns the grant refs to 4 */
    grant_ref_t indirect_grefs[BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST];
    uint64_t    pad2;           /* the i386 header pads the struct to 64 */
};

union blk_x86_32_request {
    struct blk_x86_32_request_rw       rw;
    struct blk_x86_32_request_discard  discard;
    struct blk_x86_32_request_indirect indirect;
};

struct BLK_PACKED blk_x86_32_response {
    uint64_t id;
    uint8_t  operation;
    uint8_t  pad;
    int16_t  status;
};

/* ---- x86_64 ---- */
struct BLK_PACKED blk_x86_64_request_rw {
    uint8_t  operation;
    uint8_t  nr_segments;
    uint16_t handle;
    uint32_t pad;
    uint64_t id;
    uint64_t sector_number;
    struct blkif_request_segment seg[BLKIF_MAX_SEGMENTS_PER_REQUEST];
};

struct BLK_PACKED blk_x86_64_request_discard {
    uint8_t  operation;
    uint8_t  flag;
    uint16_t handle;
    uint32_t pad;
    uint64_t id;
    uint64_t sector_number;
    uint64_t nr_sectors;
};

struct BLK_PACKED blk_x86_64_request_indirect {
    uint8_t     operation;
    uint8_t     indirect_op;
    uint16_t    nr_segments;
    uint32_t    pad1;
    uint64_t    id;
    uint64_t    sector_number;
    uint16_t    handle;
    uint16_t    pad2;
    grant_ref_t indirect_grefs[BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST];
    uint32_t    pad3;
};

union blk_x86_64_request {
    struct blk_x86_64_request_rw       rw;
    struct blk_x86_64_request_discard  discard;
    struct blk_x86_64_request_indirect indirect;
};

struct BLK_PACKED blk_x86_64_response {
    uint64_t id;
    uint8_t  operation;
    uint8_t  pad;
    int16_t  status;
    uint32_t pad2;
};

/* ---- native: the <xen/io/blkif.h> structs, viewed as one union ---- */
union blk_native_request {
    struct blkif_request          rw;
    struct blkif_request_discard  discard;
    struct blkif_request_indirect indirect;
};

DEFINE_RING_TYPES(blk_x86_32, union blk_x86_32_request, struct blk_x86_32_response);
DEFINE_RING_TYPES(blk_x86_64, union blk_x86_64_request, struct blk_x86_64_response);

/* The ring header (four indices, 48 bytes of padding) is the same for all. */
#define BLK_SRING_HDR_SIZE 64u

static_assert(sizeof(struct blkif_request_segment) == 8, "segment layout");

static_assert(offsetof(struct blk_x86_32_request_rw, id) == 4, "x86_32 rw id");
static_assert(offsetof(struct blk_x86_32_request_rw, sector_number) == 12, "x86_32 rw sector");
static_assert(offsetof(struct blk_x86_32_request_rw, seg) == 20, "x86_32 rw seg");
static_assert(sizeof(struct blk_x86_32_request_rw) == 108, "x86_32 rw size");
static_assert(offsetof(struct blk_x86_32_request_discard, nr_sectors) == 20, "x86_32 discard");
static_assert(sizeof(struct blk_x86_32_request_discard) == 28, "x86_32 discard size");
static_assert(offsetof(struct blk_x86_32_request_indirect, handle) == 20, "x86_32 ind handle");
static_assert(offsetof(struct blk_x86_32_request_indirect, indirect_grefs) == 24, "x86_32 ind grefs");
static_assert(sizeof(struct blk_x86_32_request_indirect) == 64, "x86_32 ind size");
static_assert(sizeof(union blk_x86_32_request) == 108, "x86_32 request size");
static_assert(offsetof(struct blk_x86_32_response, status) == 10, "x86_32 rsp status");
static_assert(sizeof(struct blk_x86_32_response) == 12, "x86_32 rsp size");
static_assert(sizeof(union blk_x86_32_sring_entry) == 108, "x86_32 entry size");
static_assert(offsetof(struct blk_x86_32_sring, ring) == BLK_SRING_HDR_SIZE, "x86_32 sring");

static_assert(offsetof(struct blk_x86_64_request_rw, id) == 8, "x86_64 rw id");
static_assert(offsetof(struct blk_x86_64_request_rw, sector_number) == 16, "x86_64 rw sector");
static_assert(offsetof(struct blk_x86_64_request_rw, seg) == 24, "x86_64 rw seg");
static_assert(sizeof(struct blk_x86_64_request_rw) == 112, "x86_64 rw size");
static_assert(offsetof(struct blk_x86_64_request_discard, nr_sectors) == 24, "x86_64 discard");
static_assert(sizeof(struct blk_x86_64_request_discard) == 32, "x86_64 discard size");
static_assert(offsetof(struct blk_x86_64_request_indirect, handle) == 24, "x86_64 ind handle");
static_assert(offsetof(struct blk_x86_64_request_indirect, indirect_grefs) == 28, "x86_64 ind grefs");
static_assert(sizeof(struct blk_x86_64_request_indirect) == 64, "x86_64 ind size");
static_assert(sizeof(union blk_x86_64_request) == 112, "x86_64 request size");
static_assert(offsetof(struct blk_x86_64_response, status) == 10, "x86_64 rsp status");
static_assert(sizeof(struct blk_x86_64_response) == 16, "x86_64 rsp size");
static_assert(sizeof(union blk_x86_64_sring_entry) == 112, "x86_64 entry size");
static_assert(offsetof(struct blk_x86_64_sring, ring) == BLK_SRING_HDR_SIZE, "x86_64 sring");

static_assert(offsetof(struct blkif_sring, ring) == BLK_SRING_HDR_SIZE, "native sring");
#if defined(__x86_64__)
/* Native here is the x86_64 ABI: the two descriptions must agree. */
static_assert(sizeof(union blkif_sring_entry) == sizeof(union blk_x86_64_sring_entry),
              "native entry is x86_64");
static_assert(offsetof(struct blkif_request_indirect, indirect_grefs) ==
              offsetof(struct blk_x86_64_request_indirect, indirect_grefs), "native indirect");
#endif

#endif /* SIDECORE_BLK_ABI_H */
