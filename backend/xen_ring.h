/*
 * xen_ring.h - include before any xen/io ring header (ring.h and the device protocols built on it).
 *
 * <xen/io/ring.h>'s macros expand mb()/rmb()/wmb() (through xen_mb() etc.)
 * and leave their definition to the includer.  One definition for every
 * user of shared rings (backends, simulated frontends, the bench floor): C11
 * fences, SEQ_CST for mb() because the notify checks (RING_PUSH_*_AND_CHECK_
 * NOTIFY, RING_FINAL_CHECK_*) need store-then-load order, an mfence on x86.
 */
#ifndef SC_XEN_RING_H
#define SC_XEN_RING_H

#ifndef mb
#define mb()  __atomic_thread_fence(__ATOMIC_SEQ_CST)
#endif
#ifndef rmb
#define rmb() __atomic_thread_fence(__ATOMIC_ACQUIRE)
#endif
#ifndef wmb
#define wmb() __atomic_thread_fence(__ATOMIC_RELEASE)
#endif
#ifndef xen_mb
#define xen_mb()  mb()
#define xen_rmb() rmb()
#define xen_wmb() wmb()
#endif

#endif
