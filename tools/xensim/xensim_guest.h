/*
 * xensim_guest.h - the guest side of xensim, for simulated frontends.
 *
 * Contract: a `struct xsim_guest` is one process acting as the kernel of a
 * simulated domain: it owns that domain's memory (a page allocator over the
 * domain's memory file), its grant table (grant and end access, exactly the
 * v1 entry protocol a Linux guest uses), its event channels (through the
 * struct xsim it wraps) and a xenstore connection as that domain.
 * One guest process per domain.  Page and grant allocation are thread-safe.
 * Returns 0/positive or negative errno; pointers are NULL with errno set.
 */
#ifndef XENSIM_GUEST_H
#define XENSIM_GUEST_H

#include "xensim.h"

struct xs_handle;
struct xsim_guest;

struct xsim_guest *xsim_guest_open(const char *dir, domid_t self);
/* Ends nothing on its own: grants still active stay in the table. */
void xsim_guest_close(struct xsim_guest *g);
struct xsim *xsim_guest_xsim(struct xsim_guest *g);
domid_t xsim_guest_domid(const struct xsim_guest *g);

/* `n` physically contiguous zeroed pages of this domain's memory; the local
 * address, with the first frame number in *gfn. */
void *xsim_guest_pages_alloc(struct xsim_guest *g, uint32_t n, uint64_t *gfn);
void xsim_guest_pages_free(struct xsim_guest *g, void *addr, uint32_t n);
/* Frame number of a local address inside this domain's memory, or UINT64_MAX. */
uint64_t xsim_guest_virt_to_gfn(struct xsim_guest *g, const void *addr);
void *xsim_guest_gfn_to_virt(struct xsim_guest *g, uint64_t gfn);

/* Grants `to` access to frame `gfn` (read-only if `readonly`): a free ref is
 * taken and its entry filled (frame and domid first, flags last, with a write
 * barrier between, as Linux does).  Returns the ref or negative errno. */
int xsim_guest_grant(struct xsim_guest *g, domid_t to, uint64_t gfn, bool readonly);
/* Ends access: clears the entry only if the grantee has it neither mapped nor
 * in a copy (GTF_reading/GTF_writing clear); else -EBUSY and the entry stays.
 * On success the ref returns to the free list. */
int xsim_guest_end_access(struct xsim_guest *g, grant_ref_t ref);

/* A libxenstore connection acting as this domain (relative paths resolve
 * under /local/domain/<self>). Close with xs_close(). */
struct xs_handle *xsim_guest_xs_open(struct xsim_guest *g);

#endif
