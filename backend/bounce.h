/*
 * bounce.h - a pool of page-sized bounce buffers: local pages that data of
 * a guest is grant-copied into or out of when it cannot be mapped (no
 * persistent grant, a read-only grant to read into, a packet to rebuild).
 *
 * Contract: the pool reserves `npages` pages of anonymous memory at init,
 * page aligned (so O_DIRECT can use them) and populated by the kernel only
 * when first touched, so a large pool costs address space, not memory,
 * until the load needs it.  Pages are named by index: get takes a free
 * one, put gives it back, addr turns an index into its address.  Getting
 * takes the lowest indices first on a fresh pool and the most recently
 * returned page after, so a light load keeps touching the same few pages.
 * Putting a page twice or one never got corrupts the pool: the caller
 * tracks what it holds (SC_BOUNCE_NONE is a safe "nothing held" value).
 *
 * Threads: a pool belongs to one thread (the sidecore of its queue); no
 * locks.  init/destroy may run on the control thread while nobody else
 * uses the pool.
 *
 * Returns: 0 or negative errno.
 */
#ifndef SC_BOUNCE_H
#define SC_BOUNCE_H

#include <stddef.h>
#include <stdint.h>

#define SC_BOUNCE_PAGE_SIZE 4096u /* a grant's page */
#define SC_BOUNCE_NONE      UINT32_MAX

struct sc_bounce {
    uint8_t *base;      /* npages pages */
    uint32_t npages;
    uint32_t nfree;     /* free[0..nfree) are the free indices */
    uint32_t *free;
};

/* 1 <= npages < SC_BOUNCE_NONE.  0, -EINVAL or -ENOMEM. */
int sc_bounce_init(struct sc_bounce *b, uint32_t npages);
/* Unmaps every page, held or not.  Safe on a zeroed or destroyed pool. */
void sc_bounce_destroy(struct sc_bounce *b);

/* A free page's index, or SC_BOUNCE_NONE when all are held. */
static inline uint32_t sc_bounce_get(struct sc_bounce *b)
{
    return b->nfree ? b->free[--b->nfree] : SC_BOUNCE_NONE;
}

/* Gives page `idx` back; SC_BOUNCE_NONE is ignored. */
static inline void sc_bounce_put(struct sc_bounce *b, uint32_t idx)
{
    if (idx != SC_BOUNCE_NONE)
        b->free[b->nfree++] = idx;
}

/* The address of page `idx` (< npages). */
static inline void *sc_bounce_addr(const struct sc_bounce *b, uint32_t idx)
{
    return b->base + (size_t)idx * SC_BOUNCE_PAGE_SIZE;
}

/* Pages free now. */
static inline uint32_t sc_bounce_avail(const struct sc_bounce *b)
{
    return b->nfree;
}

#endif
