/*
 * sched_rate.c - the cold part of the scheduler's rate mechanics: setting
 * buckets and tags (128-bit arithmetic), the overflow cases, waits, and the
 * heaps' sifting. See sched_rate.h for the contract and the representation.
 */
#include "sched_rate.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define NS_PER_S SC_RATE_NS_PER_S

typedef unsigned __int128 u128;
typedef __int128 i128;

static uint64_t min_u64(uint64_t a, uint64_t b)
{
    return a < b ? a : b;
}

/* floor(a / b) for b > 0 */
static i128 floor_div(i128 a, i128 b)
{
    i128 q = a / b;
    return (a % b != 0 && a < 0) ? q - 1 : q;
}

static uint64_t depth_of(uint64_t rate, uint64_t burst_ns)
{
    u128 depth = (u128)rate * burst_ns / NS_PER_S;
    return depth < 1 ? 1 : (uint64_t)depth;
}

/* ---- token buckets (limits) ---- */

static void bucket_set(struct sc_rate_bucket *b, uint64_t rate, uint64_t burst_ns, uint64_t now)
{
    if (rate == 0) {
        memset(b, 0, sizeof(*b));
        return;
    }
    int64_t depth = (int64_t)depth_of(rate, burst_ns);
    if (b->rate == 0) {
        b->level = depth;
        b->frac = 0;
        b->last_ns = now;
    } else if (b->level > depth) {
        b->level = depth;
        b->frac = 0;
    }
    b->rate = rate;
    b->depth = depth;
}

void sc_rate_limit_set(struct sc_rate_limit *l, const struct sc_sched_rate *r,
                       uint64_t burst_ns, uint64_t now)
{
    bucket_set(&l->iops, r->iops, burst_ns, now);
    bucket_set(&l->bps, r->bps, burst_ns, now);
}

/* Out of line: the inline refill's rare case. */
__attribute__((noinline)) uint64_t sc_rate_bucket_refill_big(const struct sc_rate_bucket *b,
                                                             uint64_t dt, uint64_t room,
                                                             uint64_t *frac)
{
    u128 big = (u128)b->rate * dt + b->frac;
    if (big / NS_PER_S >= room) {
        *frac = 0;
        return room;
    }
    *frac = (uint64_t)(big % NS_PER_S);
    return (uint64_t)(big / NS_PER_S);
}

/* ns until the bucket holds one whole unit; 0 if it does. */
static uint64_t bucket_wait_ns(const struct sc_rate_bucket *b)
{
    if (b->rate == 0 || b->level >= 1)
        return 0;
    uint64_t units = (uint64_t)(1 - b->level);
    if (units < (1ull << 34)) /* the numerator fits 64 bits */
        return (units * NS_PER_S - b->frac + b->rate - 1) / b->rate;
    u128 need = (u128)units * NS_PER_S - b->frac;
    u128 ns = (need + b->rate - 1) / b->rate;
    return ns > UINT64_MAX - 1 ? UINT64_MAX - 1 : (uint64_t)ns;
}

uint64_t sc_rate_limit_wait_ns(const struct sc_rate_limit *l)
{
    uint64_t a = bucket_wait_ns(&l->iops), b = bucket_wait_ns(&l->bps);
    return a > b ? a : b;
}

/* ---- reservation tags ---- */

/* Service of `units`: the cap, then X += units / rate, then the floor
 * X <= now + depth / rate. */
static void tag_take(struct sc_rate_tag *g, uint64_t units, uint64_t now)
{
    sc_rate_tag_raise(g, (int64_t)now, g->depth_ns, g->depth_rem);
    if (units == 0)
        return;
    int64_t hi_ns = (int64_t)(now + g->depth_ns);
    uint64_t hi_rem = g->depth_rem;
    if (units >= 2 * g->depth) { /* from >= now - depth: past the floor */
        g->at_ns = hi_ns;
        g->at_rem = hi_rem;
        return;
    }
    /* units / rate < 2 * depth / rate <= 2 * max(burst, 1 s): no overflow */
    g->at_ns += (int64_t)(units * g->unit_ns);
    uint64_t rem;
    if (__builtin_mul_overflow(units, g->unit_rem, &rem) ||
        __builtin_add_overflow(rem, g->at_rem, &rem)) {
        u128 big = (u128)units * g->unit_rem + g->at_rem;
        g->at_ns += (int64_t)(big / g->rate);
        g->at_rem = (uint64_t)(big % g->rate);
    } else if (rem >= g->rate) { /* never when the rate divides 1e9 */
        g->at_ns += (int64_t)(rem / g->rate);
        g->at_rem = rem % g->rate;
    } else {
        g->at_rem = rem;
    }
    if (sc_rate_tag_before(hi_ns, hi_rem, g->at_ns, g->at_rem)) {
        g->at_ns = hi_ns;
        g->at_rem = hi_rem;
    }
}

void sc_rate_res_take(struct sc_rate_res *r, uint64_t requests, uint64_t bytes, uint64_t now)
{
    if (r->iops.rate)
        tag_take(&r->iops, requests, now);
    if (r->bps.rate)
        tag_take(&r->bps, bytes, now);
}

uint64_t sc_rate_tag_level(const struct sc_rate_tag *g, uint64_t now)
{
    int64_t d = (int64_t)now - g->at_ns;
    if (d <= 0)
        return 0;
    if ((uint64_t)d >= g->depth_ns + 2)
        return g->depth;
    uint64_t num;
    if (!__builtin_mul_overflow((uint64_t)d, g->rate, &num)) {
        num = num > g->at_rem ? num - g->at_rem : 0;
        return min_u64(num / NS_PER_S, g->depth);
    }
    u128 big = (u128)(uint64_t)d * g->rate - g->at_rem;
    return (uint64_t)(big / NS_PER_S >= g->depth ? g->depth : big / NS_PER_S);
}

/* Signed level at now (control path), in [-depth, depth]. */
static int64_t tag_level_signed(const struct sc_rate_tag *g, uint64_t now)
{
    i128 num = ((i128)(int64_t)now - g->at_ns) * (i128)g->rate - (i128)g->at_rem;
    i128 level = floor_div(num, NS_PER_S);
    if (level > (i128)g->depth)
        level = g->depth;
    if (level < -(i128)g->depth)
        level = -(i128)g->depth;
    return (int64_t)level;
}

static void tag_set(struct sc_rate_tag *g, uint64_t rate, uint64_t burst_ns, uint64_t now)
{
    if (rate == 0) {
        memset(g, 0, sizeof(*g));
        return;
    }
    uint64_t depth = depth_of(rate, burst_ns);
    int64_t level = g->rate ? tag_level_signed(g, now) : (int64_t)depth;
    if (level > (int64_t)depth)
        level = (int64_t)depth;
    if (level < -(int64_t)depth)
        level = -(int64_t)depth;
    g->rate = rate;
    g->unit_ns = NS_PER_S / rate;
    g->unit_rem = NS_PER_S % rate;
    g->depth = depth;
    u128 dn = (u128)depth * NS_PER_S;
    g->depth_ns = (uint64_t)(dn / rate);
    g->depth_rem = (uint64_t)(dn % rate);
    i128 num = (i128)(int64_t)now * (i128)rate - (i128)level * NS_PER_S;
    i128 at = floor_div(num, rate);
    g->at_ns = (int64_t)at;
    g->at_rem = (uint64_t)(num - at * (i128)rate);
}

void sc_rate_res_set(struct sc_rate_res *r, const struct sc_sched_rate *rate,
                     uint64_t burst_ns, uint64_t now)
{
    tag_set(&r->iops, rate->iops, burst_ns, now);
    tag_set(&r->bps, rate->bps, burst_ns, now);
}

/* ---- min-heaps ---- */

static void heap_put(struct sc_rate_heap *h, uint32_t i, struct sc_rate_heap_ent e)
{
    h->e[i] = e;
    *e.slot = i;
}

static void heap_sift_up(struct sc_rate_heap *h, uint32_t i)
{
    struct sc_rate_heap_ent e = h->e[i];
    while (i > 0) {
        uint32_t p = (i - 1) / 2;
        if (h->e[p].key <= e.key)
            break;
        heap_put(h, i, h->e[p]);
        i = p;
    }
    heap_put(h, i, e);
}

static void heap_sift_down(struct sc_rate_heap *h, uint32_t i)
{
    struct sc_rate_heap_ent e = h->e[i];
    for (;;) {
        uint32_t c = 2 * i + 1;
        if (c >= h->n)
            break;
        if (c + 1 < h->n && h->e[c + 1].key < h->e[c].key)
            c++;
        if (e.key <= h->e[c].key)
            break;
        heap_put(h, i, h->e[c]);
        i = c;
    }
    heap_put(h, i, e);
}

int sc_rate_heap_reserve(struct sc_rate_heap *h, uint32_t n)
{
    if (h->cap >= n)
        return 0;
    uint32_t cap = h->cap ? 2 * h->cap : 16;
    struct sc_rate_heap_ent *e = realloc(h->e, cap * sizeof(*e));
    if (!e)
        return -ENOMEM;
    h->e = e;
    h->cap = cap;
    return 0;
}

void sc_rate_heap_free(struct sc_rate_heap *h)
{
    free(h->e);
    h->e = NULL;
    h->n = h->cap = 0;
}

void sc_rate_heap_insert(struct sc_rate_heap *h, uint32_t *slot, int64_t key)
{
    uint32_t i = h->n++; /* n < cap: the caller reserved */
    h->e[i] = (struct sc_rate_heap_ent){ key, slot };
    heap_sift_up(h, i);
}

void sc_rate_heap_remove(struct sc_rate_heap *h, uint32_t *slot)
{
    uint32_t i = *slot;
    *slot = SC_RATE_HEAP_NONE;
    struct sc_rate_heap_ent last = h->e[--h->n];
    if (i != h->n) {
        heap_put(h, i, last);
        heap_sift_up(h, i);
        heap_sift_down(h, *last.slot);
    }
}

void sc_rate_heap_rekey(struct sc_rate_heap *h, uint32_t *slot, int64_t key)
{
    uint32_t i = *slot;
    int64_t old = h->e[i].key;
    h->e[i].key = key;
    if (key < old)
        heap_sift_up(h, i);
    else if (key > old)
        heap_sift_down(h, i);
}
