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
    atomic_store_explicit(&r->bytes, bytes, memory_order_relaxed);
    atomic_store_explicit(&r->usecs, usecs, memory_order_relaxed);
    sc_rate_cell_set(&r->cell, per_kib, period);
}

bool net_rate_take(struct net_rate *r, uint32_t len, uint64_t now_ns, uint64_t *retry_ns)
{
    if (sc_rate_cell_take(&r->cell, len, now_ns, retry_ns))
        return true;
    atomic_fetch_add_explicit(&r->throttled, 1, memory_order_relaxed);
    return false;
}
