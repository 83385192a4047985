/*
 * hv.h - the simulated hypervisor inside xensimd: domains, grant tables,
 * event channels.
 *
 * Contract: owns every domain's memory file, grant table and event-channel
 * state, and serves the per-domain control sockets (<dir>/hv-<domid>.sock)
 * that libxensim connects to.  Tells xenstored when domains come and go.
 * Creates dom0 itself.  Single-threaded: all calls from xensimd's main loop.
 */
#ifndef XENSIM_HV_H
#define XENSIM_HV_H

#include <stdint.h>

struct hv;
struct xsd;

/* nr_pcpus: the physical CPUs (0: XSIM_DEFAULT_PCPUS). */
struct hv *hv_create(const char *dir, struct xsd *xsd, uint32_t dom0_mem_mb, uint32_t nr_pcpus);
/* Only the schedulers in `list` ("credit,credit2") are built in, as Xen
 * builds without some (Debian's has no null): 0, or -EINVAL (a name unknown,
 * or no credit2, which Pool-0 runs). */
int hv_pools_set_scheds(struct hv *hv, const char *list);
void hv_destroy(struct hv *hv);
/* An epoll fd, readable when hv_dispatch() has work. */
int hv_fd(struct hv *hv);
/* Accepts connections and serves every ready request; never blocks. */
void hv_dispatch(struct hv *hv);

#endif
