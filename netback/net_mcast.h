/*
 * net_mcast.h - a vif's multicast filter (feature-multicast-control): the
 * addresses the frontend subscribed with XEN_NETIF_EXTRA_TYPE_MCAST_ADD,
 * read by whichever sidecore delivers a multicast frame to the vif.
 *
 * Contract: at most NET_MCAST_MAX addresses (Linux netback's limit; an
 * add beyond it fails, the frontend sees an error response).  Writers are
 * the sidecores of the vif's queues and the control thread (enable or
 * disable); readers any thread: every word is atomic and a reader may see
 * an address being added or removed either way, never a torn one.  Two
 * writers adding the same address at once may both succeed (it is then
 * held twice and needs two deletes): harmless for a filter.
 * With filtering off (the frontend did not ask) every multicast passes.
 */
#ifndef SC_NET_MCAST_H
#define SC_NET_MCAST_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#define NET_MCAST_MAX 64

struct net_mcast {
    atomic_bool enabled;
    _Atomic uint64_t addr[NET_MCAST_MAX]; /* mac in the low 48 bits, bit 48 = used */
};

void net_mcast_enable(struct net_mcast *m, bool on);
/* 0, -ENOSPC (full) or -EINVAL (not a multicast address). */
int net_mcast_add(struct net_mcast *m, const uint8_t mac[6]);
/* 0 or -ENOENT. */
int net_mcast_del(struct net_mcast *m, const uint8_t mac[6]);
/* Does the vif want a frame to `dst`?  Unicast and broadcast: yes. */
bool net_mcast_wants(const struct net_mcast *m, const uint8_t dst[6]);
/* Addresses held (for display). */
unsigned net_mcast_count(const struct net_mcast *m);

#endif
