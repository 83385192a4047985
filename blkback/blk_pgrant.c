/*
 * blk_pgrant.c - the persistent-grant cache (contract in blk_pgrant.h).
 *
 * Each ref is mapped alone (count 1): entries are evicted one by one, and a
 * range of sc_gnt_map_batch can only be unmapped whole.  A miss costs one
 * map; that is the price persistent grants pay once per page.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "blk_pgrant.h"

static uint32_t hash_gref(const struct blk_pgrant_cache *c, grant_ref_t gref)
{
    return (uint32_t)((gref * 2654435761u) >> 7) & c->hmask;
}

static uint32_t buckets_for(uint32_t max)
{
    uint32_t buckets = 16;
    while (buckets < max * 2)
        buckets <<= 1;
    return buckets;
}

uint64_t blk_pgrant_mem(uint32_t max)
{
    if (max == 0 || max > (1u << 24))
        return 0;
    return (uint64_t)buckets_for(max) * sizeof(struct blk_pgrant *) +
           (uint64_t)max * (sizeof(struct blk_pgrant) + 4096u);
}

int blk_pgrant_init(struct blk_pgrant_cache *c, struct sc_xen *xen, domid_t domid,
                    uint32_t max)
{
    if (!c || !xen || max == 0 || max > (1u << 24))
        return -EINVAL;
    memset(c, 0, sizeof(*c));
    uint32_t buckets = buckets_for(max);
    c->hash = calloc(buckets, sizeof(*c->hash));
    c->entries = calloc(max, sizeof(*c->entries));
    if (!c->hash || !c->entries) {
        free(c->hash);
        free(c->entries);
        memset(c, 0, sizeof(*c));
        return -ENOMEM;
    }
    c->xen = xen;
    c->domid = domid;
    c->max = max;
    c->hmask = buckets - 1;
    c->churn_burst = max / 64u > 4u ? max / 64u : 4u;
    c->churn_tokens = c->churn_burst;
    c->churn_period_ns = 1000000000ull * BLK_PGRANT_CHURN_DIV / max;
    if (c->churn_period_ns == 0)
        c->churn_period_ns = 1;
    for (uint32_t i = 0; i < max; i++) {
        c->entries[i].hnext = c->free;
        c->free = &c->entries[i];
    }
    return 0;
}

void blk_pgrant_destroy(struct blk_pgrant_cache *c)
{
    if (!c || !c->entries)
        return;
    for (uint32_t b = 0; b <= c->hmask; b++)
        for (struct blk_pgrant *e = c->hash[b]; e; e = e->hnext)
            sc_gnt_unmap(c->xen, e->addr, 1);
    free(c->hash);
    free(c->entries);
    memset(c, 0, sizeof(*c));
}

static void lru_unlink(struct blk_pgrant_cache *c, struct blk_pgrant *e)
{
    if (e->lprev)
        e->lprev->lnext = e->lnext;
    else
        c->lru_head = e->lnext;
    if (e->lnext)
        e->lnext->lprev = e->lprev;
    else
        c->lru_tail = e->lprev;
    e->lprev = e->lnext = NULL;
}

static void lru_append(struct blk_pgrant_cache *c, struct blk_pgrant *e)
{
    e->lnext = NULL;
    e->lprev = c->lru_tail;
    if (c->lru_tail)
        c->lru_tail->lnext = e;
    else
        c->lru_head = e;
    c->lru_tail = e;
}

static void hash_remove(struct blk_pgrant_cache *c, struct blk_pgrant *e)
{
    struct blk_pgrant **pp = &c->hash[hash_gref(c, e->gref)];
    while (*pp != e)
        pp = &(*pp)->hnext;
    *pp = e->hnext;
}

/* Drops the least recently used unused entry.  False if none. */
static bool evict_one(struct blk_pgrant_cache *c)
{
    struct blk_pgrant *e = c->lru_head;
    if (!e)
        return false;
    lru_unlink(c, e);
    hash_remove(c, e);
    sc_gnt_unmap(c->xen, e->addr, 1);
    memset(e, 0, sizeof(*e));
    e->hnext = c->free;
    c->free = e;
    c->count--;
    c->stats.evictions++;
    return true;
}

static struct blk_pgrant *lookup(const struct blk_pgrant_cache *c, grant_ref_t gref)
{
    struct blk_pgrant *e = c->hash[hash_gref(c, gref)];
    while (e && e->gref != gref)
        e = e->hnext;
    return e;
}

const struct blk_pgrant *blk_pgrant_find(const struct blk_pgrant_cache *c, grant_ref_t gref)
{
    return c && c->hash ? lookup(c, gref) : NULL;
}

void blk_pgrant_tick(struct blk_pgrant_cache *c, uint64_t now_ns)
{
    if (c->churn_last_ns == 0 || now_ns < c->churn_last_ns) {
        c->churn_last_ns = now_ns ? now_ns : 1;
        return;
    }
    uint64_t earned = (now_ns - c->churn_last_ns) / c->churn_period_ns;
    if (earned == 0)
        return;
    c->churn_last_ns += earned * c->churn_period_ns;
    uint64_t tokens = c->churn_tokens + earned;
    c->churn_tokens = tokens > c->churn_burst ? c->churn_burst : (uint32_t)tokens;
}

struct blk_pgrant *blk_pgrant_get(struct blk_pgrant_cache *c, grant_ref_t gref)
{
    struct blk_pgrant *e = lookup(c, gref);
    if (e) {
        if (e->users++ == 0)
            lru_unlink(c, e);
        c->stats.hits++;
        return e;
    }
    c->stats.misses++;
    if (c->count >= c->max) {
        if (c->churn_tokens == 0) {
            c->stats.rationed++;
            errno = ENOSPC;
            return NULL;
        }
        if (!evict_one(c)) {
            c->stats.full++;
            errno = ENOSPC;
            return NULL;
        }
        c->churn_tokens--;
    }
    c->stats.maps++;
    bool writable = true;
    void *addr = sc_gnt_map_batch(c->xen, c->domid, 1, &gref, true);
    if (!addr) {
        writable = false;
        addr = sc_gnt_map_batch(c->xen, c->domid, 1, &gref, false);
        if (!addr) {
            int err = errno ? errno : EFAULT;
            c->stats.map_failures++;
            errno = err;
            return NULL;
        }
        c->stats.read_only++;
    }
    uint32_t b = hash_gref(c, gref);
    e = c->free;
    c->free = e->hnext;
    e->addr = addr;
    e->gref = gref;
    e->writable = writable;
    e->users = 1;
    e->lprev = e->lnext = NULL;
    e->hnext = c->hash[b];
    c->hash[b] = e;
    c->count++;
    return e;
}

void blk_pgrant_put(struct blk_pgrant_cache *c, struct blk_pgrant *e)
{
    if (!e || e->users == 0)
        return;
    if (--e->users == 0)
        lru_append(c, e);
}
