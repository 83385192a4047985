/*
 * xsim_guest.c - the guest kernel's side: a page allocator over the
 * domain's memory file (bitmap, first fit for contiguous runs), a grant-ref
 * allocator (free stack; refs 0..7 reserved as in Linux), and grant / end
 * access with the v1 entry protocol.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <xenstore.h>

#include "xensim_guest.h"
#include "xsim_internal.h"

#define GUEST_RESERVED_REFS 8u  /* as Linux's NR_RESERVED_ENTRIES */

struct xsim_guest {
    struct xsim *xs;
    uint8_t *mem;
    uint64_t mem_pages;
    grant_entry_v1_t *gnt;
    pthread_mutex_t lock;       /* the two allocators */
    uint64_t *page_used;        /* bitmap over frames */
    uint64_t page_hint;         /* first frame that may be free */
    uint32_t *free_refs;        /* stack */
    uint32_t nfree_refs;
    uint8_t *ref_used;
};

static bool page_is_used(const struct xsim_guest *g, uint64_t f)
{
    return g->page_used[f / 64] >> (f % 64) & 1;
}

static void page_set(struct xsim_guest *g, uint64_t f, bool used)
{
    if (used)
        g->page_used[f / 64] |= 1ull << (f % 64);
    else
        g->page_used[f / 64] &= ~(1ull << (f % 64));
}

struct xsim_guest *xsim_guest_open(const char *dir, domid_t self)
{
    struct xsim_guest *g = calloc(1, sizeof(*g));
    if (!g)
        return NULL;
    pthread_mutex_init(&g->lock, NULL);
    int err = 0;
    g->xs = xsim_open(dir, self);
    if (!g->xs) {
        err = -errno;
        goto fail;
    }
    struct xsim_req req = { .op = XSIM_OP_DOMAIN_FDS, .u.dom.domid = self };
    struct xsim_rsp rsp;
    int fds[XSIM_RPC_MAX_FDS];
    err = xsim_rpc(g->xs, &req, &rsp, fds);
    if (err < 0)
        goto fail;
    if (rsp.nfds != 3) {
        err = -EPROTO;
        goto fail;
    }
    g->mem_pages = rsp.u.dom.mem_pages;
    void *mem = mmap(NULL, g->mem_pages * XSIM_PAGE_SIZE, PROT_READ | PROT_WRITE,
                     MAP_SHARED | MAP_NORESERVE, fds[0], 0);
    void *gnt = mmap(NULL, XSIM_GNTTAB_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, fds[1], 0);
    for (int i = 0; i < 3; i++)
        close(fds[i]);
    g->mem = mem == MAP_FAILED ? NULL : mem;
    g->gnt = gnt == MAP_FAILED ? NULL : gnt;
    g->page_used = calloc((g->mem_pages + 63) / 64, sizeof(uint64_t));
    g->free_refs = malloc(sizeof(uint32_t) * XSIM_NR_GRANTS);
    g->ref_used = calloc(XSIM_NR_GRANTS, 1);
    if (!g->mem || !g->gnt || !g->page_used || !g->free_refs || !g->ref_used) {
        err = -ENOMEM;
        goto fail;
    }
    /* Lowest refs on top of the stack. */
    for (uint32_t r = XSIM_NR_GRANTS - 1; r >= GUEST_RESERVED_REFS; r--)
        g->free_refs[g->nfree_refs++] = r;
    return g;
fail:
    xsim_guest_close(g);
    errno = -err;
    return NULL;
}

void xsim_guest_close(struct xsim_guest *g)
{
    if (!g)
        return;
    if (g->mem)
        munmap(g->mem, g->mem_pages * XSIM_PAGE_SIZE);
    if (g->gnt)
        munmap(g->gnt, XSIM_GNTTAB_BYTES);
    xsim_close(g->xs);
    free(g->page_used);
    free(g->free_refs);
    free(g->ref_used);
    pthread_mutex_destroy(&g->lock);
    free(g);
}

struct xsim *xsim_guest_xsim(struct xsim_guest *g)
{
    return g->xs;
}

domid_t xsim_guest_domid(const struct xsim_guest *g)
{
    return xsim_domid(g->xs);
}

void *xsim_guest_pages_alloc(struct xsim_guest *g, uint32_t n, uint64_t *gfn)
{
    if (n == 0 || n > g->mem_pages) {
        errno = EINVAL;
        return NULL;
    }
    pthread_mutex_lock(&g->lock);
    uint64_t start = g->page_hint, run = 0, found = UINT64_MAX;
    /* Two passes: from the hint to the end, then from the start. */
    for (int pass = 0; pass < 2 && found == UINT64_MAX; pass++) {
        run = 0;
        for (uint64_t f = pass ? 0 : start; f < g->mem_pages; f++) {
            if (page_is_used(g, f)) {
                run = 0;
                continue;
            }
            if (++run == n) {
                found = f + 1 - n;
                break;
            }
        }
    }
    if (found != UINT64_MAX) {
        for (uint64_t f = found; f < found + n; f++)
            page_set(g, f, true);
        g->page_hint = found + n;
    }
    pthread_mutex_unlock(&g->lock);
    if (found == UINT64_MAX) {
        errno = ENOMEM;
        return NULL;
    }
    void *addr = g->mem + found * XSIM_PAGE_SIZE;
    memset(addr, 0, (size_t)n * XSIM_PAGE_SIZE);
    if (gfn)
        *gfn = found;
    return addr;
}

void xsim_guest_pages_free(struct xsim_guest *g, void *addr, uint32_t n)
{
    uint64_t first = xsim_guest_virt_to_gfn(g, addr);
    if (first == UINT64_MAX || first + n > g->mem_pages)
        return;
    pthread_mutex_lock(&g->lock);
    for (uint64_t f = first; f < first + n; f++)
        page_set(g, f, false);
    if (first < g->page_hint)
        g->page_hint = first;
    pthread_mutex_unlock(&g->lock);
}

uint64_t xsim_guest_virt_to_gfn(struct xsim_guest *g, const void *addr)
{
    const uint8_t *p = addr;
    if (p < g->mem || p >= g->mem + g->mem_pages * XSIM_PAGE_SIZE)
        return UINT64_MAX;
    return (uint64_t)(p - g->mem) / XSIM_PAGE_SIZE;
}

void *xsim_guest_gfn_to_virt(struct xsim_guest *g, uint64_t gfn)
{
    if (gfn >= g->mem_pages) {
        errno = EINVAL;
        return NULL;
    }
    return g->mem + gfn * XSIM_PAGE_SIZE;
}

int xsim_guest_grant(struct xsim_guest *g, domid_t to, uint64_t gfn, bool readonly)
{
    if (gfn >= g->mem_pages || gfn > UINT32_MAX)
        return -EINVAL;
    pthread_mutex_lock(&g->lock);
    if (g->nfree_refs == 0) {
        pthread_mutex_unlock(&g->lock);
        return -ENOSPC;
    }
    grant_ref_t ref = g->free_refs[--g->nfree_refs];
    g->ref_used[ref] = 1;
    pthread_mutex_unlock(&g->lock);

    grant_entry_v1_t *e = &g->gnt[ref];
    e->frame = (uint32_t)gfn;
    /* Frame and grantee must be visible before the flags make it valid:
     * flags and domid are the first 32-bit word, published with release. */
    uint32_t word = (uint32_t)(GTF_permit_access | (readonly ? GTF_readonly : 0)) |
                    (uint32_t)to << 16;
    __atomic_store_n(xsim_gnt_word(e), word, __ATOMIC_RELEASE);
    return (int)ref;
}

int xsim_guest_end_access(struct xsim_guest *g, grant_ref_t ref)
{
    if (ref < GUEST_RESERVED_REFS || ref >= XSIM_NR_GRANTS)
        return -EINVAL;
    pthread_mutex_lock(&g->lock);
    bool used = g->ref_used[ref];
    pthread_mutex_unlock(&g->lock);
    if (!used)
        return -EINVAL;
    uint32_t *word = xsim_gnt_word(&g->gnt[ref]);
    uint32_t old = __atomic_load_n(word, __ATOMIC_ACQUIRE);
    do {
        if (old & (GTF_reading | GTF_writing))
            return -EBUSY;
    } while (!__atomic_compare_exchange_n(word, &old, old & 0xffff0000u, false, __ATOMIC_ACQ_REL,
                                          __ATOMIC_ACQUIRE));
    pthread_mutex_lock(&g->lock);
    if (g->ref_used[ref]) {
        g->ref_used[ref] = 0;
        g->free_refs[g->nfree_refs++] = ref;
    }
    pthread_mutex_unlock(&g->lock);
    return 0;
}

struct xs_handle *xsim_guest_xs_open(struct xsim_guest *g)
{
    char path[4200];
    if ((size_t)snprintf(path, sizeof(path), "%s/xs-%u.sock", xsim_dir(g->xs),
                         xsim_guest_domid(g)) >= sizeof(path)) {
        errno = ENAMETOOLONG;
        return NULL;
    }
    /* libxenstore finds its socket only through the environment, so this
     * sets XENSTORED_PATH for the whole process. */
    if (setenv("XENSTORED_PATH", path, 1))
        return NULL;
    return xs_open(0);
}
