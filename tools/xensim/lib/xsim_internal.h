/*
 * xsim_internal.h - the contract between libxensim's files:
 *   xsim_conn.c    connection, RPC, domain table, per-domain cache, maptrack slots
 *   xsim_grant.c   map / unmap / copy (the pin protocol of xensim_abi.h)
 *   xsim_evtchn.c  event-channel handles
 *   xsim_guest.c   the guest side (page and grant-ref allocators)
 * Locks: xs->lock guards the domain cache, the mapping registry and the
 * maptrack slots; xs->rpc_lock serialises RPCs.  Order: any handle lock,
 * then xs->lock, then xs->rpc_lock.
 */
#ifndef XENSIM_LIB_INTERNAL_H
#define XENSIM_LIB_INTERNAL_H

#include <pthread.h>

#include "xensim.h"
#include "xensim_abi.h"

/* What this process knows of one incarnation of a foreign domain.  Pinned
 * by refs (the cache slot holds one, each mapping and in-flight copy one),
 * so mappings made before a domain died unpin in the tables they pinned. */
struct xsim_dom_cache {
    int refs;
    domid_t domid;
    uint32_t incarnation;
    uint64_t mem_pages;
    int mem_fd;
    uint8_t *mem;               /* whole memory, read-write (copies) */
    grant_entry_v1_t *gnt;
    uint32_t *act;
};

struct xsim_mapping;

#define XSIM_MAP_BUCKETS 1024u

struct xsim {
    char dir[4096 - 64];
    domid_t self;
    int fd;
    pthread_mutex_t rpc_lock;
    pthread_mutex_t lock;
    const struct xsim_domtab_entry *domtab;
    const uint32_t *portgen;
    struct xsim_maptrack *mt;
    uint32_t *mt_free;          /* stack of free maptrack slots */
    uint32_t mt_nfree;
    uint32_t mt_hwm;
    struct xsim_dom_cache *cache[XSIM_MAX_DOMAINS];
    struct xsim_mapping *maps[XSIM_MAP_BUCKETS];
};

/* One request/response; fds (up to XSIM_RPC_MAX_FDS) received are stored in
 * fds[0..rsp->nfds) and belong to the caller.  Returns rsp->ret or -errno. */
int xsim_rpc(struct xsim *xs, struct xsim_req *req, struct xsim_rsp *rsp, int *fds);

/* With xs->lock held: the cache of a RUNNING domain (one more ref), or NULL
 * with *status = GNTST_bad_domain (or GNTST_general_error on failure). */
struct xsim_dom_cache *xsim_dom_get_locked(struct xsim *xs, uint32_t domid, int16_t *status);
void xsim_dom_put_locked(struct xsim *xs, struct xsim_dom_cache *dc);
/* With xs->lock held: whether dc is still the live incarnation. */
bool xsim_dom_running(struct xsim *xs, const struct xsim_dom_cache *dc);

/* With xs->lock held: maptrack slots. */
int xsim_mt_alloc_locked(struct xsim *xs, uint32_t *slot);
void xsim_mt_free_locked(struct xsim *xs, uint32_t slot);

/* Frees every mapping record (at close). */
void xsim_maps_free_all(struct xsim *xs);

#endif
