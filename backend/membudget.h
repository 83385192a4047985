/*
 * membudget.h - the daemon's memory budget: what each queue may cost,
 * reserved before its memory is made, refused when it does not fit.
 *
 * Contract: a budget has a total (0: unlimited) and a per-guest cap (0:
 * none).  A device class computes, from a queue's parameters alone (ring
 * size, segments, persistent grants, ABI), the most memory the queue can
 * ever hold (blk_queue_mem_cost, net_queue_mem_cost) and reserves it with
 * sc_membudget_reserve() before creating the queue; a reservation that
 * does not fit is refused with -ENOMEM and a one-line reason for the
 * device's error node and log, and nothing is charged.  The reservation is
 * returned with sc_membudget_release() once the queue is freed.  It is a
 * worst case (bounce pages and frame buffers are populated only when the
 * load touches them), so the budget bounds what guests can make the daemon
 * hold, not what it holds now (that is the process's RSS).
 *
 * Threads: every function may be called from any thread (a mutex inside;
 * none is on a data path: queues are reserved at connect, released after
 * their detach).  Returns 0 or -errno; pointer returners NULL + errno.
 */
#ifndef SC_MEMBUDGET_H
#define SC_MEMBUDGET_H

#include <stddef.h>
#include <stdint.h>
#include <xen/xen.h>

#define SC_MEM_PAGE 4096u
/* The default budget, a share of the host's MemTotal (docs/design.md, "A memory budget"). */
#define SC_MEMBUDGET_DEFAULT_PCT 25u

struct sc_membudget;

/* What one queue (or control ring) holds of a budget.  Zeroed: nothing.
 * The holder owns it; release is idempotent. */
struct sc_mem_resv {
    struct sc_membudget *b; /* NULL: nothing held */
    domid_t domid;
    uint64_t bytes;
};

struct sc_membudget_stats {
    uint64_t total;        /* 0: unlimited */
    uint64_t guest_max;    /* 0: no per-guest cap */
    uint64_t used;         /* reserved now */
    uint64_t peak;         /* most reserved at once */
    uint64_t reservations; /* held now */
    uint64_t refused;      /* reservations refused so far */
};

/* total, guest_max: bytes, 0 for none.  NULL + errno ENOMEM. */
struct sc_membudget *sc_membudget_create(uint64_t total, uint64_t guest_max);
/* Reservations still held are forgotten (their holders must not release
 * them afterwards).  NULL is a no-op. */
void sc_membudget_destroy(struct sc_membudget *b);

/* Reserves `bytes` for guest domid into *r (which must hold nothing).
 * 0; -ENOMEM when the budget or the guest's cap has not that much left
 * (why, if given, says so: "needs 21.3 MiB, the daemon's memory budget has
 * 3.1 MiB left of 512.0 MiB (sidecored --mem-budget)"); -EINVAL (NULL b or
 * r, or r holds something). */
int sc_membudget_reserve(struct sc_membudget *b, domid_t domid, uint64_t bytes,
                         struct sc_mem_resv *r, char *why, size_t whylen);
/* Gives r's bytes back and zeroes r.  Nothing held: a no-op. */
void sc_membudget_release(struct sc_mem_resv *r);

void sc_membudget_stats(const struct sc_membudget *b, struct sc_membudget_stats *out);
/* What guest domid holds now, and in how many reservations (if nres). */
uint64_t sc_membudget_guest(const struct sc_membudget *b, domid_t domid, unsigned *nres);

/* A budget as the command line and config file write it: a size with an
 * optional binary suffix (k, M, G, T; "512M", "2G", "1048576"), "N%" of
 * MemTotal (1..100), or "0" / "unlimited" / "none".  Sets exactly one of
 * *bytes (a size) and *pct (a share; 0 otherwise); both 0 means unlimited.
 * pct may be NULL: then a share is refused.  0 or -EINVAL. */
int sc_membudget_parse(const char *s, uint64_t *bytes, unsigned *pct);
/* pct percent of this host's MemTotal (/proc/meminfo).  0 or -errno. */
int sc_membudget_of_host(unsigned pct, uint64_t *bytes);
/* "21.3 MiB", "512.0 MiB", "4.0 KiB", "100 B" into buf. */
void sc_membudget_fmt(uint64_t bytes, char *buf, size_t len);

/* Cost helpers for the classes' cost functions. */
static inline uint64_t sc_mem_pages(uint64_t bytes)
{
    return (bytes + SC_MEM_PAGE - 1) / SC_MEM_PAGE * SC_MEM_PAGE;
}

#endif
