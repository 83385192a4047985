/*
 * gnt_batch.c - batched grant copies with per-owner failure (gnt_batch.h).
 */
#include "gnt_batch.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int sc_gnt_batch_init(struct sc_gnt_batch *b, struct sc_xen *xen, uint32_t cap)
{
    memset(b, 0, sizeof(*b));
    if (!xen || cap == 0)
        return -EINVAL;
    b->seg = calloc(cap, sizeof(*b->seg));
    b->owner = calloc(cap, sizeof(*b->owner));
    if (!b->seg || !b->owner) {
        sc_gnt_batch_destroy(b);
        return -ENOMEM;
    }
    b->xen = xen;
    b->cap = cap;
    return 0;
}

void sc_gnt_batch_destroy(struct sc_gnt_batch *b)
{
    free(b->seg);
    free(b->owner);
    b->seg = NULL;
    b->owner = NULL;
    b->n = b->cap = 0;
}

void sc_gnt_seg_from_guest(xengnttab_grant_copy_segment_t *s, domid_t domid, grant_ref_t gref,
                           uint16_t offset, void *local, uint16_t len)
{
    memset(s, 0, sizeof(*s));
    s->source.foreign.ref = gref;
    s->source.foreign.offset = offset;
    s->source.foreign.domid = domid;
    s->dest.virt = local;
    s->len = len;
    s->flags = GNTCOPY_source_gref;
}

void sc_gnt_seg_to_guest(xengnttab_grant_copy_segment_t *s, const void *local, domid_t domid,
                         grant_ref_t gref, uint16_t offset, uint16_t len)
{
    memset(s, 0, sizeof(*s));
    s->source.virt = (void *)local; /* the segment type has no const: only read */
    s->dest.foreign.ref = gref;
    s->dest.foreign.offset = offset;
    s->dest.foreign.domid = domid;
    s->len = len;
    s->flags = GNTCOPY_dest_gref;
}

int sc_gnt_batch_flush(struct sc_gnt_batch *b)
{
    if (b->n == 0)
        return 0;
    int rc = sc_gnt_copy_batch(b->xen, b->n, b->seg);
    uint64_t failed = 0;
    for (uint32_t i = 0; i < b->n; i++) {
        if (rc == 0 && b->seg[i].status == GNTST_okay)
            continue;
        failed++;
        if (b->owner[i])
            *b->owner[i] = true;
    }
    b->stats.calls++;
    b->stats.segments += b->n;
    b->stats.failed += failed;
    b->n = 0;
    return rc < 0 ? rc : 0;
}

/* The next free segment, owned by `failed`: a full batch is run first, with
 * its result in *rc. */
static xengnttab_grant_copy_segment_t *next_seg(struct sc_gnt_batch *b, bool *failed, int *rc)
{
    *rc = b->n == b->cap ? sc_gnt_batch_flush(b) : 0;
    b->owner[b->n] = failed;
    return &b->seg[b->n++];
}

int sc_gnt_batch_add(struct sc_gnt_batch *b, const xengnttab_grant_copy_segment_t *s,
                     bool *failed)
{
    int rc;
    *next_seg(b, failed, &rc) = *s;
    return rc;
}

int sc_gnt_batch_from_guest(struct sc_gnt_batch *b, domid_t domid, grant_ref_t gref,
                            uint16_t offset, void *local, uint16_t len, bool *failed)
{
    int rc;
    sc_gnt_seg_from_guest(next_seg(b, failed, &rc), domid, gref, offset, local, len);
    return rc;
}

int sc_gnt_batch_to_guest(struct sc_gnt_batch *b, const void *local, domid_t domid,
                          grant_ref_t gref, uint16_t offset, uint16_t len, bool *failed)
{
    int rc;
    sc_gnt_seg_to_guest(next_seg(b, failed, &rc), local, domid, gref, offset, len);
    return rc;
}

int sc_gnt_batch_guest_to_guest(struct sc_gnt_batch *b, domid_t src_domid, grant_ref_t src_gref,
                                uint16_t src_offset, domid_t dst_domid, grant_ref_t dst_gref,
                                uint16_t dst_offset, uint16_t len, bool *failed)
{
    int rc;
    xengnttab_grant_copy_segment_t *s = next_seg(b, failed, &rc);
    memset(s, 0, sizeof(*s));
    s->source.foreign.ref = src_gref;
    s->source.foreign.offset = src_offset;
    s->source.foreign.domid = src_domid;
    s->dest.foreign.ref = dst_gref;
    s->dest.foreign.offset = dst_offset;
    s->dest.foreign.domid = dst_domid;
    s->len = len;
    s->flags = GNTCOPY_source_gref | GNTCOPY_dest_gref;
    return rc;
}
