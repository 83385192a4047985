/*
 * net_mcast.c - a vif's multicast filter (net_mcast.h).
 */
#include <errno.h>
#include <string.h>

#include "net_mcast.h"

#define USED (1ull << 48)

static uint64_t key_of(const uint8_t mac[6])
{
    uint64_t k = 0;
    for (unsigned i = 0; i < 6; i++)
        k = k << 8 | mac[i];
    return k | USED;
}

void net_mcast_enable(struct net_mcast *m, bool on)
{
    atomic_store_explicit(&m->enabled, on, memory_order_release);
}

int net_mcast_add(struct net_mcast *m, const uint8_t mac[6])
{
    if (!(mac[0] & 1))
        return -EINVAL;
    uint64_t k = key_of(mac);
    for (unsigned i = 0; i < NET_MCAST_MAX; i++)
        if (atomic_load_explicit(&m->addr[i], memory_order_relaxed) == k)
            return 0;
    for (unsigned i = 0; i < NET_MCAST_MAX; i++) {
        uint64_t free_slot = 0;
        if (atomic_compare_exchange_strong_explicit(&m->addr[i], &free_slot, k,
                                                    memory_order_release, memory_order_relaxed))
            return 0;
    }
    return -ENOSPC;
}

int net_mcast_del(struct net_mcast *m, const uint8_t mac[6])
{
    uint64_t k = key_of(mac);
    for (unsigned i = 0; i < NET_MCAST_MAX; i++) {
        uint64_t expect = k;
        if (atomic_compare_exchange_strong_explicit(&m->addr[i], &expect, 0,
                                                    memory_order_release, memory_order_relaxed))
            return 0;
    }
    return -ENOENT;
}

bool net_mcast_wants(const struct net_mcast *m, const uint8_t dst[6])
{
    static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
    if (!(dst[0] & 1) || !memcmp(dst, bcast, 6) ||
        !atomic_load_explicit((atomic_bool *)&m->enabled, memory_order_acquire))
        return true;
    uint64_t k = key_of(dst);
    for (unsigned i = 0; i < NET_MCAST_MAX; i++)
        if (atomic_load_explicit((_Atomic uint64_t *)&m->addr[i], memory_order_acquire) == k)
            return true;
    return false;
}

unsigned net_mcast_count(const struct net_mcast *m)
{
    unsigned n = 0;
    for (unsigned i = 0; i < NET_MCAST_MAX; i++)
        n += atomic_load_explicit((_Atomic uint64_t *)&m->addr[i], memory_order_relaxed) != 0;
    return n;
}
