/*
 * xen_vcpu.h - the real platform's vCPU placement (xen_vcpu.c), for
 * xen_real.c only: a lazily opened libxenctrl handle per platform, asked
 * by the control thread.
 */
#ifndef SC_XEN_VCPU_H
#define SC_XEN_VCPU_H

#include "xen.h"

struct sc_xc;
/* Fills what the domain and (if it may ask) the hypervisor know; *xc is
 * opened at the first call.  0, or -errno when nothing is known. */
int sc_xen_real_vcpu_place(struct sc_xen *x, struct sc_xc **xc, unsigned vcpu,
                           struct sc_vcpu_place *out);
void sc_xc_close(struct sc_xc *xc);

#endif
