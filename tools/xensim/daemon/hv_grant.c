/*
 * hv_grant.c - Xen's maptrack, daemon side.  Mapping processes record every
 * pin they hold in their connection's maptrack file (under the grant's
 * active-entry lock); when a connection closes, the pins it still records
 * are dropped here, so a dead backend does not keep grants busy forever.
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

void hv_maptrack_release(struct hv *hv, struct hv_conn *c)
{
    if (!c->mt)
        return;
    uint32_t limit = mt_limit(c->mt), dropped = 0;
    for (uint32_t i = 0; i < limit; i++) {
        struct xsim_maptrack_entry *e = &c->mt->e[i];
        if (!(__atomic_load_n(&e->flags, __ATOMIC_ACQUIRE) & XSIM_MT_IN_USE))
            continue;
        uint32_t dom = e->dom, ref = e->ref;
        struct hv_domain *d = dom < XSIM_MAX_DOMAINS ? &hv->dom[dom] : NULL;
        if (!d || d->state == XSIM_DOM_FREE || d->incarnation != e->incarnation ||
            ref >= XSIM_NR_GRANTS) {
            e->flags = 0;
            continue;
        }
        uint32_t *act = &d->act[ref];
        uint32_t counts = xsim_act_lock(act, HV_ACT_LOCK_SPINS);
        /* Re-read under the lock: the client may have unpinned meanwhile. */
        uint16_t flags = __atomic_load_n(&e->flags, __ATOMIC_RELAXED);
        if (flags & XSIM_MT_IN_USE) {
            counts = xsim_act_unpin_locked(&d->gnt[ref], counts, flags & XSIM_MT_WRITABLE);
            __atomic_store_n(&e->flags, 0, __ATOMIC_RELAXED);
            dropped++;
        }
        xsim_act_unlock(act, counts);
    }
    if (dropped)
        hv_log("dom%u: connection closed holding %u grant pin(s); released", c->domid,
               dropped);
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
