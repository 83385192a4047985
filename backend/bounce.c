/*
 * bounce.c - the bounce page pool (bounce.h).
 */
#include "bounce.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

int sc_bounce_init(struct sc_bounce *b, uint32_t npages)
{
    memset(b, 0, sizeof(*b));
    if (npages == 0 || npages == SC_BOUNCE_NONE)
        return -EINVAL;
    /* Anonymous memory: page aligned, populated only when touched. */
    void *base = mmap(NULL, (size_t)npages * SC_BOUNCE_PAGE_SIZE, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (base == MAP_FAILED)
        return -ENOMEM;
    b->free = calloc(npages, sizeof(*b->free));
    if (!b->free) {
        munmap(base, (size_t)npages * SC_BOUNCE_PAGE_SIZE);
        return -ENOMEM;
    }
    b->base = base;
    b->npages = npages;
    /* A stack: index 0 on top, so a fresh pool hands out low pages first. */
    for (uint32_t i = 0; i < npages; i++)
        b->free[i] = npages - 1 - i;
    b->nfree = npages;
    return 0;
}

void sc_bounce_destroy(struct sc_bounce *b)
{
    if (b->base)
        munmap(b->base, (size_t)b->npages * SC_BOUNCE_PAGE_SIZE);
    free(b->free);
    memset(b, 0, sizeof(*b));
}
