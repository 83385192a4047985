/*
 * xen_place.h - the hypervisor side of `sidecorectl place`: read the
 * cpupools, domains and a domain's vCPUs into place.h's tables, and carry
 * out a plan's steps.  Two implementations, chosen as sc_xen_open chooses
 * its platform: xensim's cpupools when $XENSIM_DIR is set
 * (xen_place_sim.c), libxenctrl otherwise (xen_place_xc.c).  Either is
 * Dom0's alone: opening refuses elsewhere.  Control thread only.
 *
 * Returns: 0 / a non-negative value, or -errno; pointers NULL + errno.
 */
#ifndef SC_XEN_PLACE_H
#define SC_XEN_PLACE_H

#include <stdbool.h>
#include <stddef.h>

#include "place.h"

struct sc_place_hv;

struct sc_place_hv_ops {
    /* Pools, domains, and the vCPUs of w->domid (set by the caller). */
    int (*read)(struct sc_place_hv *h, struct sc_place_world *w);
    /* A domain's id from its name: 0 and *domid, or -ESRCH. */
    int (*find_domain)(struct sc_place_hv *h, const char *name, unsigned *domid);
    /* The new pool's id. */
    int (*pool_create)(struct sc_place_hv *h, const char *name, const char *sched);
    int (*pool_cpu)(struct sc_place_hv *h, int pool, int cpu, bool add);
    int (*move_domain)(struct sc_place_hv *h, int pool, unsigned domid);
    int (*pin)(struct sc_place_hv *h, unsigned domid, unsigned vcpu, int cpu);
    void (*close)(struct sc_place_hv *h);
};

struct sc_place_hv {
    const struct sc_place_hv_ops *ops;
    const char *platform;     /* "xen" or "xensim" */
};

/* The platform's placement: NULL and *why (one line) when it is not there
 * or we are not Dom0 (errno EPERM). */
struct sc_place_hv *sc_place_hv_open(char *why, size_t why_len);
void sc_place_hv_close(struct sc_place_hv *h);
/* w filled for domain `domid` (w->domid set).  0 or -errno. */
int sc_place_hv_read(struct sc_place_hv *h, unsigned domid, struct sc_place_world *w);
/* Runs p's steps in order, `done(step line)` after each; the first that
 * fails stops it: -errno and *why naming the step. */
int sc_place_hv_apply(struct sc_place_hv *h, const struct sc_place_world *w,
                      const struct sc_place_req *r, const struct sc_place_plan *p,
                      void (*done)(const char *line, void *arg), void *arg, char *why,
                      size_t why_len);

/* The implementations. */
struct sc_place_hv *sc_place_hv_sim_open(char *why, size_t why_len);
struct sc_place_hv *sc_place_hv_xc_open(char *why, size_t why_len);

#endif
