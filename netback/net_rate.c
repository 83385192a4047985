/*
 * net_rate.c - a vif's rate limit as one atomic word (net_rate.h).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "net_rate.h"

#define RATE_MAX (1ull << 40)

int net_rate_parse(const char *s, uint64_t *bytes, uint64_t *usecs)
{
    unsigned long long b, u;
    int end = 0;
    if (!s || strspn(s, "0123456789,") != strlen(s) ||
        sscanf(s, "%llu,%llu%n", &b, &u, &end) != 2 || s[end] != '\0' || u == 0 ||
        b > RATE_MAX || u > RATE_MAX)
        return -EINVAL;
    *bytes = b;
    *usecs = u;
    return 0;
}

void net_rate_set(struct net_rate *r, uint64_t bytes, uint64_t usecs)
{
    uint64_t per_kib = 0, period = usecs * 1000;
    if (bytes && usecs) {
        per_kib = period * 1024 / bytes;
        if (per_kib == 0)
            per_kib = 1; /* faster than 1 KiB/ns: as good as unlimited, but say limited */
    }
    atomic_store_explicit(&r->period_ns, period, memory_order_relaxed);
    atomic_store_explicit(&r->bytes, bytes, memory_order_relaxed);
    atomic_store_explicit(&r->usecs, usecs, memory_order_relaxed);
    atomic_store_explicit(&r->ns_per_kib, per_kib, memory_order_release);
}

bool net_rate_take(struct net_rate *r, uint32_t len, uint64_t now_ns, uint64_t *retry_ns)
{
    uint64_t per_kib = atomic_load_explicit(&r->ns_per_kib, memory_order_acquire);
    if (!per_kib)
        return true;
    uint64_t period = atomic_load_explicit(&r->period_ns, memory_order_relaxed);
    unsigned __int128 c = ((unsigned __int128)len * per_kib + 1023) / 1024;
    uint64_t cost = c > UINT64_MAX / 4 ? UINT64_MAX / 4 : (uint64_t)c;
    /* A packet passes when it fits, with the link time owed, in one period
     * (the burst: `bytes`); one larger than a period passes on a link that
     * has been silent for its own cost. */
    uint64_t room = cost > period ? cost : period;
    uint64_t tat = atomic_load_explicit(&r->tat_ns, memory_order_relaxed);
    for (;;) {
        uint64_t start = tat > now_ns ? tat : now_ns;
        if (start - now_ns + cost > room) {
            if (retry_ns)
                *retry_ns = start + cost - room;
            atomic_fetch_add_explicit(&r->throttled, 1, memory_order_relaxed);
            return false;
        }
        if (atomic_compare_exchange_weak_explicit(&r->tat_ns, &tat, start + cost,
                                                  memory_order_relaxed, memory_order_relaxed))
            return true;
    }
}
