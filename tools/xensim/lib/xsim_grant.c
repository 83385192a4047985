/*
 * xsim_grant.c - grant map, unmap and copy, checked in the calling process
 * the way Xen checks a v1 grant entry: entry lock (active word), flags and
 * grantee read as one 32-bit word, GTF_reading/GTF_writing set by cmpxchg
 * on the first pin and cleared on the last unpin.  Every pin is recorded in
 * this connection's maptrack under the entry lock.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "xsim_internal.h"

/* Xen gives up on an entry that keeps changing under it. */
#define XSIM_PIN_RETRIES 4

struct xsim_mapping {
    struct xsim_mapping *next;
    void *addr;
    uint32_t count;
    bool writable;
    struct xsim_dom_cache *dc;
    grant_ref_t *refs;          /* count refs, then count maptrack slots */
    uint32_t *slots;
};

static uint32_t bucket(const void *addr)
{
    return (uint32_t)(((uintptr_t)addr / XSIM_PAGE_SIZE) % XSIM_MAP_BUCKETS);
}

/* Names entry ref of dc in `slot` as the one this slot locks (LOCKING, on
 * top of what the slot records), before spinning for its lock: so the
 * daemon knows which lock a process killed meanwhile may hold (xensim_abi.h). */
static struct xsim_maptrack_entry *slot_lock_begin(struct xsim *xs, struct xsim_dom_cache *dc,
                                                   grant_ref_t ref, uint32_t slot)
{
    struct xsim_maptrack_entry *m = &xs->mt->e[slot];
    if (!(__atomic_load_n(&m->flags, __ATOMIC_RELAXED) & XSIM_MT_IN_USE)) {
        m->dom = dc->domid;
        m->ref = ref;
        m->incarnation = dc->incarnation;
    }
    __atomic_fetch_or(&m->flags, XSIM_MT_LOCKING, __ATOMIC_SEQ_CST);
    return m;
}

/* After the unlock: the slot no longer names a lock. */
static void slot_lock_end(struct xsim_maptrack_entry *m)
{
    __atomic_fetch_and(&m->flags, (uint16_t)~XSIM_MT_LOCKING, __ATOMIC_RELEASE);
}

/* Pins `ref` of dc for the caller and records the pin in maptrack slot
 * `slot`.  Returns GNTST_okay with *frame set, or the GNTST_* failure. */
static int16_t pin(struct xsim *xs, struct xsim_dom_cache *dc, grant_ref_t ref, bool writable,
                   uint32_t slot, uint64_t *frame)
{
    if (ref >= XSIM_NR_GRANTS)
        return GNTST_bad_gntref;
    uint32_t *act = &dc->act[ref];
    grant_entry_v1_t *e = &dc->gnt[ref];
    uint32_t *word = xsim_gnt_word(e);
    struct xsim_maptrack_entry *m = slot_lock_begin(xs, dc, ref, slot);
    uint32_t counts = xsim_act_lock(act, 0);
    uint32_t r = XSIM_ACT_READERS(counts), w = XSIM_ACT_WRITERS(counts);
    int16_t st = GNTST_okay;

    if ((writable && w == XSIM_ACT_WMAX) || (!writable && r == XSIM_ACT_RMAX)) {
        st = GNTST_general_error;
        goto out;
    }
    int tries = 0;
    uint32_t old = __atomic_load_n(word, __ATOMIC_ACQUIRE);
    for (;;) {
        uint16_t flags = (uint16_t)old;
        domid_t grantee = (domid_t)(old >> 16);
        /* Xen's _set_status_v1: "Bad flags or dom" / "write-pin a r/o entry". */
        if ((flags & GTF_type_mask) != GTF_permit_access || grantee != xs->self ||
            (writable && (flags & GTF_readonly))) {
            st = GNTST_general_error;
            goto out;
        }
        uint32_t want = old | GTF_reading | (writable ? GTF_writing : 0);
        if (want == old ||
            __atomic_compare_exchange_n(word, &old, want, false, __ATOMIC_ACQ_REL,
                                        __ATOMIC_ACQUIRE))
            break;
        if (++tries >= XSIM_PIN_RETRIES) {
            st = GNTST_general_error;
            goto out;
        }
    }
    *frame = __atomic_load_n(&e->frame, __ATOMIC_RELAXED);
    if (*frame >= dc->mem_pages) {
        uint32_t clear = 0;
        if (writable && w == 0)
            clear |= GTF_writing;
        if (r == 0 && w == 0)
            clear |= GTF_reading | GTF_writing;
        if (clear)
            __atomic_fetch_and(word, ~clear, __ATOMIC_RELEASE);
        st = GNTST_bad_page;
        goto out;
    }
    if (writable)
        w++;
    else
        r++;
    counts = r | w << XSIM_ACT_WSHIFT;
    __atomic_store_n(&m->flags,
                     XSIM_MT_IN_USE | XSIM_MT_LOCKING | (writable ? XSIM_MT_WRITABLE : 0),
                     __ATOMIC_RELEASE);
out:
    xsim_act_unlock(act, counts);
    slot_lock_end(m);
    return st;
}

static void unpin(struct xsim *xs, struct xsim_dom_cache *dc, grant_ref_t ref, bool writable,
                  uint32_t slot)
{
    uint32_t *act = &dc->act[ref];
    struct xsim_maptrack_entry *m = slot_lock_begin(xs, dc, ref, slot);
    uint32_t counts = xsim_act_lock(act, 0);
    /* The daemon may already have dropped it (connection closed). */
    if (__atomic_load_n(&m->flags, __ATOMIC_RELAXED) & XSIM_MT_IN_USE) {
        counts = xsim_act_unpin_locked(&dc->gnt[ref], counts, writable);
        __atomic_store_n(&m->flags, XSIM_MT_LOCKING, __ATOMIC_RELAXED);
    }
    xsim_act_unlock(act, counts);
    slot_lock_end(m);
}

static void free_slots_locked(struct xsim *xs, uint32_t *slots, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        xsim_mt_free_locked(xs, slots[i]);
}

void *xsim_grant_map(struct xsim *xs, domid_t dom, uint32_t count, const grant_ref_t *refs,
                     bool writable, int16_t *status)
{
    if (count == 0 || count > XSIM_MAPTRACK_ENTRIES || !refs) {
        errno = EINVAL;
        return NULL;
    }
    struct xsim_mapping *m = calloc(1, sizeof(*m));
    grant_ref_t *buf = malloc(count * (sizeof(grant_ref_t) + sizeof(uint32_t)));
    int16_t *st = malloc(count * sizeof(int16_t));
    if (!m || !buf || !st) {
        free(m);
        free(buf);
        free(st);
        errno = ENOMEM;
        return NULL;
    }
    m->refs = buf;
    m->slots = (uint32_t *)(buf + count);
    m->count = count;
    m->writable = writable;
    memcpy(m->refs, refs, count * sizeof(grant_ref_t));

    int16_t dom_status = GNTST_okay;
    uint32_t nslots = 0;
    pthread_mutex_lock(&xs->lock);
    m->dc = xsim_dom_get_locked(xs, dom, &dom_status);
    while (m->dc && nslots < count && xsim_mt_alloc_locked(xs, &m->slots[nslots]) == 0)
        nslots++;
    pthread_mutex_unlock(&xs->lock);

    int err = EINVAL;
    uint32_t failed = 0, pinned = 0;
    uint8_t *va = MAP_FAILED;
    if (!m->dc) {
        for (uint32_t i = 0; i < count; i++)
            st[i] = dom_status;
        failed = count;
    } else if (nslots < count) {
        for (uint32_t i = 0; i < count; i++)
            st[i] = GNTST_no_device_space;
        failed = count;
        err = ENOSPC;
    } else {
        /* Reserve the range first, so the pages land contiguously. */
        va = mmap(NULL, (size_t)count * XSIM_PAGE_SIZE, PROT_NONE,
                  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (va == MAP_FAILED) {
            for (uint32_t i = 0; i < count; i++)
                st[i] = GNTST_no_device_space;
            failed = count;
            err = ENOMEM;
        }
    }
    int prot = PROT_READ | (writable ? PROT_WRITE : 0);
    for (uint32_t i = 0; !failed && i < count; i++) {
        /* Check every ref (to report each status), pin the good ones. */
        uint64_t frame;
        st[i] = pin(xs, m->dc, refs[i], writable, m->slots[i], &frame);
        if (st[i] != GNTST_okay) {
            failed++;
            for (uint32_t j = i + 1; j < count; j++) {
                st[j] = pin(xs, m->dc, refs[j], writable, m->slots[j], &frame);
                if (st[j] == GNTST_okay)
                    unpin(xs, m->dc, refs[j], writable, m->slots[j]);
                else
                    failed++;
            }
            break;
        }
        pinned++;
        if (mmap(va + (size_t)i * XSIM_PAGE_SIZE, XSIM_PAGE_SIZE, prot, MAP_SHARED | MAP_FIXED,
                 m->dc->mem_fd, (off_t)(frame * XSIM_PAGE_SIZE)) == MAP_FAILED) {
            st[i] = GNTST_no_device_space;
            err = errno;
            failed++;
            for (uint32_t j = i + 1; j < count; j++)
                st[j] = GNTST_okay;
            break;
        }
    }
    if (status)
        memcpy(status, st, count * sizeof(int16_t));
    free(st);
    if (failed) {
        for (uint32_t i = 0; i < pinned; i++)
            unpin(xs, m->dc, refs[i], writable, m->slots[i]);
        if (va != MAP_FAILED)
            munmap(va, (size_t)count * XSIM_PAGE_SIZE);
        pthread_mutex_lock(&xs->lock);
        free_slots_locked(xs, m->slots, nslots);
        if (m->dc)
            xsim_dom_put_locked(xs, m->dc);
        pthread_mutex_unlock(&xs->lock);
        free(m->refs);
        free(m);
        errno = err;
        return NULL;
    }
    m->addr = va;
    pthread_mutex_lock(&xs->lock);
    uint32_t b = bucket(va);
    m->next = xs->maps[b];
    xs->maps[b] = m;
    pthread_mutex_unlock(&xs->lock);
    return va;
}

int xsim_grant_unmap(struct xsim *xs, void *addr, uint32_t count)
{
    pthread_mutex_lock(&xs->lock);
    struct xsim_mapping **pp = &xs->maps[bucket(addr)], *m;
    while ((m = *pp) && m->addr != addr)
        pp = &m->next;
    if (!m || m->count != count) {
        pthread_mutex_unlock(&xs->lock);
        return -EINVAL;
    }
    *pp = m->next;
    pthread_mutex_unlock(&xs->lock);

    /* Unmap before unpinning: once unpinned the guest may reuse the page. */
    munmap(m->addr, (size_t)count * XSIM_PAGE_SIZE);
    for (uint32_t i = 0; i < count; i++)
        unpin(xs, m->dc, m->refs[i], m->writable, m->slots[i]);
    pthread_mutex_lock(&xs->lock);
    free_slots_locked(xs, m->slots, count);
    xsim_dom_put_locked(xs, m->dc);
    pthread_mutex_unlock(&xs->lock);
    free(m->refs);
    free(m);
    return 0;
}

void xsim_maps_free_all(struct xsim *xs)
{
    /* The daemon drops the pins when the connection closes; the pages stay
     * mapped until the caller munmaps them, as with a closed gntdev. */
    for (uint32_t b = 0; b < XSIM_MAP_BUCKETS; b++)
        while (xs->maps[b]) {
            struct xsim_mapping *m = xs->maps[b];
            xs->maps[b] = m->next;
            xsim_dom_put_locked(xs, m->dc);
            free(m->refs);
            free(m);
        }
}

/* One side of a copy segment: a pinned grant or a local buffer. */
struct copy_end {
    struct xsim_dom_cache *dc;
    grant_ref_t ref;
    uint32_t slot;
    bool pinned;
    uint8_t *ptr;
};

static int16_t copy_acquire(struct xsim *xs, struct copy_end *ce, const union xengnttab_copy_ptr *p,
                            uint16_t len, bool is_gref, bool writable)
{
    if (!is_gref) {
        ce->ptr = p->virt;
        return GNTST_okay;
    }
    if ((uint32_t)p->foreign.offset + len > XSIM_PAGE_SIZE)
        return GNTST_bad_copy_arg;
    int16_t st = GNTST_okay;
    pthread_mutex_lock(&xs->lock);
    ce->dc = xsim_dom_get_locked(xs, p->foreign.domid, &st);
    if (ce->dc && xsim_mt_alloc_locked(xs, &ce->slot)) {
        xsim_dom_put_locked(xs, ce->dc);
        ce->dc = NULL;
        st = GNTST_no_device_space;
    }
    pthread_mutex_unlock(&xs->lock);
    if (!ce->dc)
        return st;
    uint64_t frame;
    ce->ref = p->foreign.ref;
    st = pin(xs, ce->dc, ce->ref, writable, ce->slot, &frame);
    if (st != GNTST_okay)
        return st;
    ce->pinned = true;
    ce->ptr = ce->dc->mem + frame * XSIM_PAGE_SIZE + p->foreign.offset;
    return GNTST_okay;
}

static void copy_release(struct xsim *xs, struct copy_end *ce, bool writable)
{
    if (!ce->dc)
        return;
    if (ce->pinned)
        unpin(xs, ce->dc, ce->ref, writable, ce->slot);
    pthread_mutex_lock(&xs->lock);
    xsim_mt_free_locked(xs, ce->slot);
    xsim_dom_put_locked(xs, ce->dc);
    pthread_mutex_unlock(&xs->lock);
}

int xsim_grant_copy(struct xsim *xs, uint32_t count, xengnttab_grant_copy_segment_t *segs)
{
    if (count && !segs)
        return -EINVAL;
    /* As gntdev: a local-to-local segment or one longer than a page fails
     * the whole call. */
    for (uint32_t i = 0; i < count; i++)
        if (!(segs[i].flags & (GNTCOPY_source_gref | GNTCOPY_dest_gref)) ||
            segs[i].len > XSIM_PAGE_SIZE)
            return -EINVAL;
    for (uint32_t i = 0; i < count; i++) {
        xengnttab_grant_copy_segment_t *s = &segs[i];
        struct copy_end src = { 0 }, dst = { 0 };
        s->status = copy_acquire(xs, &src, &s->source, s->len,
                                 s->flags & GNTCOPY_source_gref, false);
        if (s->status == GNTST_okay)
            s->status = copy_acquire(xs, &dst, &s->dest, s->len,
                                     s->flags & GNTCOPY_dest_gref, true);
        if (s->status == GNTST_okay)
            memmove(dst.ptr, src.ptr, s->len);
        copy_release(xs, &dst, true);
        copy_release(xs, &src, false);
    }
    return 0;
}
