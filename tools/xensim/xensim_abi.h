/*
 * xensim_abi.h - what xensimd (daemon/hv*.c) and libxensim (lib/) share:
 * the RPC messages on <dir>/hv-<domid>.sock and the layouts of the shared
 * memory files.  Internal: nothing outside tools/xensim includes it.
 *
 * RPC: SOCK_SEQPACKET, one fixed-size struct xsim_req per request, answered
 * by one struct xsim_rsp carrying up to XSIM_RPC_MAX_FDS fds (SCM_RIGHTS).
 * The client sends one request at a time (libxensim holds a mutex).
 *
 * Shared memory (each a memfd handed out by the daemon):
 *   domain table   XSIM_MAX_DOMAINS x struct xsim_domtab_entry; daemon
 *                  writes, every client maps it read-only.
 *   port gens      XSIM_MAX_DOMAINS x XSIM_NR_PORTS uint32; the daemon bumps
 *                  a port's word whenever its binding changes (read-only for
 *                  clients, who revalidate cached peer eventfds with it).
 *   memory         mem_pages x 4096 bytes per domain.
 *   grant table    XSIM_NR_GRANTS x grant_entry_v1_t per domain (guest and
 *                  mappers read-write, Xen's v1 protocol).
 *   active table   XSIM_NR_GRANTS x uint32 per domain: Xen's active entry,
 *                  i.e. an entry lock and the pin counts (mappers and daemon).
 *   maptrack       one per connection: the pins this connection holds, so
 *                  the daemon can drop them when the connection closes.
 *
 * The pin protocol (xsim_act_*) is here because both sides run it: mappers
 * pin and unpin, the daemon unpins for dead connections.
 */
#ifndef XENSIM_ABI_H
#define XENSIM_ABI_H

#include <assert.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <xen/grant_table.h>

#include "xensim.h"

#define XSIM_ABI_VERSION 3u
#define XSIM_RPC_MAX_FDS 3

enum xsim_op {
    XSIM_OP_CONNECT = 1,            /* -> domid; fds: domtab, portgen, maptrack */
    XSIM_OP_DOMAIN_CREATE,          /* name, mem_mb -> ret = domid */
    XSIM_OP_DOMAIN_DESTROY,         /* domid */
    XSIM_OP_DOMAIN_FDS,             /* domid -> incarnation, mem_pages; fds: mem, gnttab, active */
    XSIM_OP_EVTCHN_OPEN,            /* -> handle */
    XSIM_OP_EVTCHN_CLOSE,           /* handle */
    XSIM_OP_EVTCHN_ALLOC_UNBOUND,   /* handle, remote_dom -> ret = port; fds: own eventfd */
    XSIM_OP_EVTCHN_BIND_INTERDOMAIN,/* handle, remote_dom, remote_port -> ret = port, gen;
                                       fds: own eventfd, peer eventfd */
    XSIM_OP_EVTCHN_UNBIND,          /* handle, port */
    XSIM_OP_EVTCHN_PEER,            /* handle, port -> gen, bound; fds: peer eventfd if bound */
    XSIM_OP_VCPU_GET,               /* domid, vcpu -> vcpu info */
    XSIM_OP_VCPU_SET,               /* domid, vcpu, info (dom0 only) */
    XSIM_OP_POOL_LIST,              /* -> pools */
    XSIM_OP_POOL_CREATE,            /* name, sched -> ret = id (dom0 only, as the rest) */
    XSIM_OP_POOL_DESTROY,           /* id */
    XSIM_OP_POOL_CPU,               /* id, cpu, add */
    XSIM_OP_POOL_MOVE_DOMAIN,       /* id, domid */
    XSIM_OP_DOMAIN_SCHED,           /* domid -> pool, nr_vcpus (anyone) */
    XSIM_OP_DOMAIN_SET_VCPUS,       /* domid, nr (in cpu) */
    XSIM_OP_VCPU_PIN,               /* domid, vcpu (in cpu), cpu (in add; -1 all) */
};

struct xsim_req {
    uint32_t version;
    uint32_t op;
    union {
        struct { uint32_t mem_mb; char name[XSIM_NAME_MAX]; } create;
        struct { uint32_t domid; } dom;
        struct {
            uint32_t handle;
            uint32_t remote_dom;
            uint32_t port;          /* local port, or the remote port for bind */
        } evtchn;
        struct { uint32_t domid; uint32_t vcpu; struct xsim_vcpu_info info; } vcpu;
        struct {
            uint32_t id, cpu, domid;
            int32_t add;
            char name[XSIM_POOL_NAME_MAX];
            char sched[XSIM_SCHED_NAME_MAX];
        } pool;
    } u;
};

struct xsim_rsp {
    int32_t ret;                    /* >= 0 or negative errno */
    uint32_t nfds;
    union {
        struct { uint32_t domid; uint32_t maptrack_entries; } connect;
        struct { uint32_t incarnation; uint32_t pad; uint64_t mem_pages; } dom;
        struct { uint32_t handle; } evtchn_open;
        struct { uint32_t gen; uint32_t bound; } port;
        struct xsim_vcpu_info vcpu;
        struct xsim_pools pools;
        struct { uint32_t pool, nr_vcpus; } sched;
    } u;
};

/* ---- domain table ---- */

/* state_inc = state | incarnation << 32, one atomic word: a client whose
 * cached incarnation and RUNNING match one load knows its cache is valid.
 * name and mem_pages are written while the slot is FREE, before state_inc is
 * published (release); readers load state_inc, copy, reload, retry on change. */
struct xsim_domtab_entry {
    uint64_t state_inc;
    uint64_t mem_pages;
    char name[XSIM_NAME_MAX];
    uint8_t pad[128 - 16 - XSIM_NAME_MAX];
};
static_assert(sizeof(struct xsim_domtab_entry) == 128, "domtab entry layout");

static inline uint64_t xsim_state_inc(uint32_t state, uint32_t inc)
{
    return (uint64_t)state | (uint64_t)inc << 32;
}
static inline uint32_t xsim_si_state(uint64_t si) { return (uint32_t)si; }
static inline uint32_t xsim_si_inc(uint64_t si) { return (uint32_t)(si >> 32); }

#define XSIM_DOMTAB_BYTES ((size_t)XSIM_MAX_DOMAINS * sizeof(struct xsim_domtab_entry))
#define XSIM_PORTGEN_BYTES ((size_t)XSIM_MAX_DOMAINS * XSIM_NR_PORTS * sizeof(uint32_t))
#define XSIM_GNTTAB_BYTES ((size_t)XSIM_NR_GRANTS * sizeof(grant_entry_v1_t))
#define XSIM_ACTIVE_BYTES ((size_t)XSIM_NR_GRANTS * sizeof(uint32_t))

/* ---- maptrack ---- */

/* Pins one connection may hold: a backend serving 64 guests x 4 queues x
 * (16 ring pages + 1056 persistent grants) needs 274k.  Sparse in memory. */
#define XSIM_MAPTRACK_ENTRIES 524288u
#define XSIM_MT_IN_USE 1u
#define XSIM_MT_WRITABLE 2u
#define XSIM_MT_LOCKING 4u  /* taking or holding the entry lock for this slot */

/* Written by the client under the grant's active-entry lock, so the daemon
 * (taking the same lock) sees a pin and its record together.  Before it
 * spins for the lock, the client names the entry in the slot (dom, ref,
 * incarnation) and sets LOCKING, and clears it after the unlock: a process
 * killed in between (the slot says LOCKING) may have left the lock held and
 * its pin counts unpublished, which the daemon mends when the connection
 * closes (hv_grant.c).  Many threads share a connection; each pin or unpin
 * has a slot of its own, so each names its own entry. */
struct xsim_maptrack_entry {
    uint16_t dom;
    uint16_t flags;                 /* XSIM_MT_* */
    uint32_t ref;
    uint32_t incarnation;           /* of `dom` when pinned */
    uint32_t pad;
};
struct xsim_maptrack {
    uint32_t hwm;                   /* entries [0, hwm) may be in use (hint, clamped) */
    uint32_t pad[3];
    struct xsim_maptrack_entry e[XSIM_MAPTRACK_ENTRIES];
};
static_assert(sizeof(struct xsim_maptrack_entry) == 16, "maptrack entry layout");
#define XSIM_MAPTRACK_BYTES sizeof(struct xsim_maptrack)

/* ---- active entries: bit 31 lock, bits 16..30 write pins, 0..15 read pins ---- */

#define XSIM_ACT_LOCK 0x80000000u
#define XSIM_ACT_WSHIFT 16
#define XSIM_ACT_RMAX 0xffffu
#define XSIM_ACT_WMAX 0x7fffu
#define XSIM_ACT_READERS(a) ((a) & XSIM_ACT_RMAX)
#define XSIM_ACT_WRITERS(a) (((a) >> XSIM_ACT_WSHIFT) & XSIM_ACT_WMAX)

static inline void xsim_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#else
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
#endif
}

/* Spins until the entry lock is ours; returns the pin counts (lock bit clear).
 * The holder only runs a few loads and stores, so spinning is short; a
 * process killed inside the section would leave it held: the daemon, which
 * learns of the death and which entry from the LOCKING slot, breaks it after
 * `max_spins` (0 = forever: clients, which cannot tell a dead holder). */
static inline uint32_t xsim_act_lock(uint32_t *act, unsigned long max_spins)
{
    unsigned long spins = 0;
    for (;;) {
        uint32_t old = __atomic_load_n(act, __ATOMIC_RELAXED);
        if (!(old & XSIM_ACT_LOCK)) {
            if (__atomic_compare_exchange_n(act, &old, old | XSIM_ACT_LOCK, false,
                                            __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
                return old;
        } else if (max_spins && ++spins > max_spins) {
            __atomic_store_n(act, old & ~XSIM_ACT_LOCK, __ATOMIC_RELAXED);
            continue;
        }
        if ((spins & 63) == 63)
            sched_yield();
        else
            xsim_cpu_relax();
        if (!max_spins)
            spins++;
    }
}

/* Publishes the new pin counts and releases the lock. */
static inline void xsim_act_unlock(uint32_t *act, uint32_t counts)
{
    __atomic_store_n(act, counts & ~XSIM_ACT_LOCK, __ATOMIC_RELEASE);
}

/* The first 32 bits of a v1 entry: flags | domid << 16, as Xen reads them. */
static inline uint32_t *xsim_gnt_word(grant_entry_v1_t *e)
{
    return (uint32_t *)(void *)e;
}

/* With the entry lock held and counts = current pins: drops one pin and
 * clears GTF_writing / GTF_reading when the last such pin goes, as Xen's
 * gnttab_clear_flags.  Returns the new counts. */
static inline uint32_t xsim_act_unpin_locked(grant_entry_v1_t *e, uint32_t counts, bool writable)
{
    uint32_t r = XSIM_ACT_READERS(counts), w = XSIM_ACT_WRITERS(counts);
    if (writable && w)
        w--;
    else if (!writable && r)
        r--;
    uint32_t clear = 0;
    if (w == 0)
        clear |= GTF_writing;
    if (r == 0 && w == 0)
        clear |= GTF_reading;
    if (clear)
        __atomic_fetch_and(xsim_gnt_word(e), ~(uint32_t)clear, __ATOMIC_RELEASE);
    return r | w << XSIM_ACT_WSHIFT;
}

#endif
