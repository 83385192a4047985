/*
 * blk_pgrant.h - the persistent-grant cache of one blkback queue (internal
 * to blkback/).
 *
 * Contract: with feature-persistent, the frontend keeps its data pages
 * granted and reuses the same refs, so the backend maps each ref once and
 * keeps the mapping.  The cache holds at most `max` mappings of one foreign
 * domain, keyed by grant ref.  An entry is "in use" while a request's I/O
 * points into it (blk_pgrant_get .. blk_pgrant_put, nestable); only unused
 * entries are evicted, least recently used first, and only to make room for
 * a new ref.  When the cache is full of in-use entries, get says so and the
 * caller moves that segment by grant copy instead.
 *
 * Churn is rationed: on a full cache a miss evicts (an unmap and a map,
 * the price of ~70 grant copies) only while the eviction allowance lasts;
 * it refills at BLK_PGRANT_CHURN_DIV-th of the cache per second (see
 * blk_pgrant_tick), up to a small burst.  A guest whose working set is
 * larger than the cache (LRU's worst case: every miss evicts the page
 * needed next, so nothing ever hits) then keeps a steady set of mappings
 * that hit and grant-copies the rest, instead of paying a map per segment;
 * a working set that moves still gets in, over seconds.
 *
 * Every ref is mapped writable first (blkfront grants persistent pages
 * read-write); if the guest granted it read-only, a read-only mapping is
 * kept instead and the entry says so: it serves writes to disk, and a read
 * into it must go by grant copy (which then fails as the guest asked).
 *
 * Threads: one cache belongs to one queue; its core thread calls
 * everything (init/destroy also from the control thread while the queue is
 * not on a core).  No locks.  Returns 0 or -errno; pointers NULL + errno.
 */
#ifndef SC_BLK_PGRANT_H
#define SC_BLK_PGRANT_H

#include <stdbool.h>
#include <stdint.h>

#include "xen.h"

struct blk_pgrant {
    void *addr;                 /* the mapped page */
    grant_ref_t gref;
    bool writable;
    uint32_t users;             /* in-flight segments pointing into it */
    struct blk_pgrant *hnext;   /* hash chain */
    struct blk_pgrant *lprev, *lnext; /* LRU list of unused entries */
};

struct blk_pgrant_stats {
    uint64_t hits, misses, evictions;
    uint64_t maps;              /* misses that tried to map (not refused) */
    uint64_t full;              /* gets refused: every entry in use */
    uint64_t rationed;          /* gets refused: the eviction allowance was spent */
    uint64_t map_failures;      /* refs that mapped neither way */
    uint64_t read_only;         /* refs that mapped only read-only */
};

struct blk_pgrant_cache {
    struct sc_xen *xen;
    domid_t domid;
    uint32_t max;               /* bound on mapped entries */
    uint32_t count;             /* mapped now */
    uint32_t hmask;
    struct blk_pgrant **hash;
    struct blk_pgrant *lru_head, *lru_tail; /* head = least recently used */
    struct blk_pgrant *free;    /* spare entry structs (max in all) */
    struct blk_pgrant *entries;
    uint32_t churn_tokens;      /* evictions allowed now */
    uint32_t churn_burst;       /* the most tokens held */
    uint64_t churn_period_ns;   /* one token per period */
    uint64_t churn_last_ns;     /* when tokens were last added (0: never ticked) */
    struct blk_pgrant_stats stats;
};

/* The eviction allowance refills at max / BLK_PGRANT_CHURN_DIV per second:
 * a whole cache turns over in that many seconds at most. */
#define BLK_PGRANT_CHURN_DIV 8u

/* max >= 1.  0, -EINVAL or -ENOMEM. */
int blk_pgrant_init(struct blk_pgrant_cache *c, struct sc_xen *xen, domid_t domid,
                    uint32_t max);
/* The most memory a cache of `max` holds: its tables and a mapped page per
 * entry (a grant mapping takes a page of this domain on Xen). */
uint64_t blk_pgrant_mem(uint32_t max);
/* Unmaps every entry (in use or not: the caller's I/O must be over) and
 * frees.  Safe on a zeroed or already destroyed cache. */
void blk_pgrant_destroy(struct blk_pgrant_cache *c);

/* Adds the eviction allowance earned since the last tick (the first tick
 * only starts the clock).  Called by the queue's thread, e.g. per visit. */
void blk_pgrant_tick(struct blk_pgrant_cache *c, uint64_t now_ns);
/* How many misses get could map now: free entries plus the allowance (an
 * upper bound: an eviction also needs an unused entry).  For pricing. */
static inline uint32_t blk_pgrant_maps_allowed(const struct blk_pgrant_cache *c)
{
    return c->max - c->count + c->churn_tokens;
}

/* The entry of gref, mapped, with one more user.  NULL and errno:
 * ENOSPC (full, and nothing unused to evict or no allowance left: use
 * grant copy), or the map's errno (the ref is bad: answer the request with
 * an error). */
struct blk_pgrant *blk_pgrant_get(struct blk_pgrant_cache *c, grant_ref_t gref);
/* The entry of gref if it is mapped, else NULL: a look only (no user
 * taken, no map, counters and LRU order untouched), so a request can be
 * priced by the misses it would cause before it is admitted (blk_queue_io.c). */
const struct blk_pgrant *blk_pgrant_find(const struct blk_pgrant_cache *c, grant_ref_t gref);
/* One user less; an entry nobody uses becomes the most recently used. */
void blk_pgrant_put(struct blk_pgrant_cache *c, struct blk_pgrant *e);

#endif
