/*
 * hv_grant.c - Xen's maptrack, daemon side.  Mapping processes record every
 * pin they hold in their connection's maptrack file (under the grant's
 * active-entry lock); when a connection closes, the pins it still records
 * are dropped here, so a dead backend does not keep grants busy forever.
 *
 * A process killed inside its critical section on an entry (its slot says
 * LOCKING, xensim_abi.h) may have left the lock held, its pin counts
 * unpublished and GTF_reading/GTF_writing set for a pin no count has: that
 * entry's lock is taken (broken, if the dead process holds it), its counts
 * recounted from the records of the live connections (under the lock no
 * live pin is unpublished) and its flags made to agree with them.
 */
#include "hv_internal.h"

/* A process killed inside its few-instruction critical section would leave
 * an entry lock held; after this many spins the daemon takes it anyway. */
#define HV_ACT_LOCK_SPINS 2000000ul

static uint32_t mt_limit(const struct xsim_maptrack *mt)
{
    uint32_t hwm = __atomic_load_n(&mt->hwm, __ATOMIC_ACQUIRE);
    return hwm > XSIM_MAPTRACK_ENTRIES ? XSIM_MAPTRACK_ENTRIES : hwm;
}

/* The domain whose grant entry a record names, if it is that incarnation. */
static struct hv_domain *record_domain(struct hv *hv, const struct xsim_maptrack_entry *e)
{
    struct hv_domain *d = e->dom < XSIM_MAX_DOMAINS ? &hv->dom[e->dom] : NULL;
    if (!d || d->state == XSIM_DOM_FREE || d->incarnation != e->incarnation ||
        e->ref >= XSIM_NR_GRANTS)
        return NULL;
    return d;
}

/* With the entry's lock held: the pins of (dom, ref, incarnation) that the
 * connections other than `dead` record, as active-entry counts. */
static uint32_t live_pins(struct hv *hv, const struct hv_conn *dead,
                          const struct xsim_maptrack_entry *of)
{
    uint32_t r = 0, w = 0;
    for (struct hv_conn *c = hv->conns; c; c = c->next) {
        if (c == dead || !c->mt)
            continue;
        uint32_t limit = mt_limit(c->mt);
        for (uint32_t i = 0; i < limit; i++) {
            const struct xsim_maptrack_entry *e = &c->mt->e[i];
            uint16_t flags = __atomic_load_n(&e->flags, __ATOMIC_ACQUIRE);
            if (!(flags & XSIM_MT_IN_USE) || e->dom != of->dom || e->ref != of->ref ||
                e->incarnation != of->incarnation)
                continue;
            if (flags & XSIM_MT_WRITABLE)
                w += w < XSIM_ACT_WMAX;
            else
                r += r < XSIM_ACT_RMAX;
        }
    }
    return r | w << XSIM_ACT_WSHIFT;
}

/* The entry a dead process was locking: lock (broken if it is the holder),
 * recount, flags as the counts say, unlock. */
static void mend_entry(struct hv *hv, struct hv_conn *dead, struct hv_domain *d,
                       const struct xsim_maptrack_entry *e)
{
    uint32_t *act = &d->act[e->ref];
    xsim_act_lock(act, HV_ACT_LOCK_SPINS);
    uint32_t counts = live_pins(hv, dead, e);
    uint32_t clear = 0;
    if (XSIM_ACT_WRITERS(counts) == 0)
        clear |= GTF_writing;
    if (counts == 0)
        clear |= GTF_reading;
    if (clear)
        __atomic_fetch_and(xsim_gnt_word(&d->gnt[e->ref]), ~clear, __ATOMIC_RELEASE);
    xsim_act_unlock(act, counts);
}

void hv_maptrack_release(struct hv *hv, struct hv_conn *c)
{
    if (!c->mt)
        return;
    uint32_t limit = mt_limit(c->mt), dropped = 0, mended = 0;
    /* Published pins first (a record IN_USE and not LOCKING): one each. */
    for (uint32_t i = 0; i < limit; i++) {
        struct xsim_maptrack_entry *e = &c->mt->e[i];
        uint16_t flags = __atomic_load_n(&e->flags, __ATOMIC_ACQUIRE);
        if ((flags & (XSIM_MT_IN_USE | XSIM_MT_LOCKING)) != XSIM_MT_IN_USE)
            continue;
        struct hv_domain *d = record_domain(hv, e);
        if (d) {
            uint32_t *act = &d->act[e->ref];
            uint32_t counts = xsim_act_lock(act, HV_ACT_LOCK_SPINS);
            counts = xsim_act_unpin_locked(&d->gnt[e->ref], counts, flags & XSIM_MT_WRITABLE);
            xsim_act_unlock(act, counts);
            dropped++;
        }
        __atomic_store_n(&e->flags, 0, __ATOMIC_RELAXED);
    }
    /* Then the entries it died locking: their counts set from the live
     * records, whatever the passes before left. */
    for (uint32_t i = 0; i < limit; i++) {
        struct xsim_maptrack_entry *e = &c->mt->e[i];
        uint16_t flags = __atomic_load_n(&e->flags, __ATOMIC_ACQUIRE);
        if (!(flags & XSIM_MT_LOCKING))
            continue;
        struct hv_domain *d = record_domain(hv, e);
        if (d) {
            mend_entry(hv, c, d, e);
            mended++;
            dropped += (flags & XSIM_MT_IN_USE) != 0;
        }
        __atomic_store_n(&e->flags, 0, __ATOMIC_RELAXED);
    }
    if (dropped)
        hv_log("dom%u: connection closed holding %u grant pin(s); released", c->domid,
               dropped);
    if (mended)
        hv_log("dom%u: connection closed inside %u grant entry lock(s); entries recounted",
               c->domid, mended);
}

bool hv_maptrack_references(struct hv *hv, domid_t domid, uint32_t incarnation)
{
    for (struct hv_conn *c = hv->conns; c; c = c->next) {
        if (!c->mt)
            continue;
        uint32_t limit = mt_limit(c->mt);
        for (uint32_t i = 0; i < limit; i++) {
            const struct xsim_maptrack_entry *e = &c->mt->e[i];
            if ((__atomic_load_n(&e->flags, __ATOMIC_ACQUIRE) & XSIM_MT_IN_USE) &&
                e->dom == domid && e->incarnation == incarnation)
                return true;
        }
    }
    return false;
}
