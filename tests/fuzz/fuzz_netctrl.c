/*
 * fuzz_netctrl.c - a vif's control ring requests (netback/net_hash.h):
 * the frontend's hash algorithm, flags, key and mapping table, carried out
 * by net_hash_ctrl() with the key and table pages served from the input,
 * then a frame hashed and steered with the result.
 *
 * Checked: every status is one netif.h defines; a mapping table only ever
 * names queues the vif has; a steered frame lands on one of them.
 *
 * Input: [0] the vif's queues (1 + b % 8)   [1] requests (b % 16)
 *   then that many 16-byte struct xen_netif_ctrl_request, a frame
 *   (a length byte, then up to 255 bytes), then the guest page every
 *   grant copy reads (grant refs with the top bit set fail with -EFAULT).
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "fuzz.h"
#include "net_hash.h"

struct page_src {
    uint8_t page[4096];
};

static int copy_page(void *ctx, grant_ref_t ref, void *dst, size_t len)
{
    struct page_src *s = ctx;
    if (ref & 0x80000000u)
        return -EFAULT;
    FUZZ_CHECK(len <= sizeof(s->page));
    memcpy(dst, s->page, len);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_in in = { data, size };
    unsigned nq = 1 + fuzz_u8(&in) % 8;
    unsigned nreq = fuzz_u8(&in) % 16;
    struct xen_netif_ctrl_request reqs[16];
    _Static_assert(sizeof(reqs[0]) == 16, "netif.h: a ctrl request is 16 bytes");
    fuzz_bytes(&in, reqs, nreq * sizeof(reqs[0]));
    uint8_t frame[255];
    size_t flen = fuzz_u8(&in);
    fuzz_bytes(&in, frame, flen);
    struct page_src *src = malloc(sizeof(*src));
    struct net_hash *h = malloc(sizeof(*h));
    FUZZ_CHECK(src && h);
    fuzz_bytes(&in, src->page, sizeof(src->page));

    net_hash_reset(h, nq);
    for (unsigned i = 0; i < nreq; i++) {
        uint32_t rdata = 0;
        uint32_t st = net_hash_ctrl(h, &reqs[i], copy_page, src, &rdata);
        FUZZ_CHECK(st == XEN_NETIF_CTRL_STATUS_SUCCESS ||
                   st == XEN_NETIF_CTRL_STATUS_NOT_SUPPORTED ||
                   st == XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER ||
                   st == XEN_NETIF_CTRL_STATUS_BUFFER_OVERFLOW);
        uint32_t msize = atomic_load(&h->mapping_size);
        FUZZ_CHECK(msize <= NET_HASH_MAPPING_MAX);
        FUZZ_CHECK(atomic_load(&h->key_len) <= NET_HASH_KEY_MAX);
        for (uint32_t m = 0; m < msize; m++)
            FUZZ_CHECK(atomic_load(&h->mapping[m]) < nq);
    }
    uint32_t hash = 0;
    uint8_t type = 0;
    if (net_hash_frame(h, frame, flen, &hash, &type))
        FUZZ_CHECK(net_hash_queue(h, hash, nq) < nq);
    FUZZ_CHECK(net_hash_queue(h, hash ^ (uint32_t)flen, nq) < nq);
    (void)net_hash_active(h);
    free(src);
    free(h);
    return 0;
}
