/*
 * xen_sched.h - Xen's schedulers and cpupools by the names xl uses: one
 * table for sidecored's view of its vCPUs (xen_vcpu.c) and for
 * `sidecorectl place` (xen_place_xc.c).  Real Xen only (libxenctrl's ids).
 */
#ifndef SC_XEN_SCHED_H
#define SC_XEN_SCHED_H

#include <stddef.h>
#include <stdint.h>

struct xs_handle;

/* "credit", "credit2", "null"...; "?" for an id we do not know. */
const char *sc_xen_sched_name(uint32_t sched_id);
/* XEN_SCHEDULER_* of a name, or -1. */
int sc_xen_sched_id(const char *name);
/* A cpupool's name: libxl keeps it in xenstore (/local/pool/ID/name); without
 * one (or without `xs`) "Pool-0" for pool 0, as Xen calls it, else "Pool-ID". */
void sc_xen_pool_name(struct xs_handle *xs, uint32_t id, char *buf, size_t len);

#endif
