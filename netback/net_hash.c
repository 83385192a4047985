/*
 * net_hash.c - a vif's Toeplitz hash and its control requests (net_hash.h).
 */
#include <errno.h>
#include <string.h>

#define XEN_NETIF_DEFINE_TOEPLITZ /* netif.h's own reference implementation */
#include "net_hash.h"
#include "net_hdr.h"

void net_hash_reset(struct net_hash *h, unsigned nqueues)
{
    atomic_store(&h->alg, XEN_NETIF_CTRL_HASH_ALGORITHM_NONE);
    atomic_store(&h->flags, 0);
    atomic_store(&h->key_len, 0);
    for (unsigned i = 0; i < NET_HASH_KEY_MAX; i++)
        atomic_store_explicit(&h->key[i], 0, memory_order_relaxed);
    atomic_store(&h->mapping_size, 0);
    for (unsigned i = 0; i < NET_HASH_MAPPING_MAX; i++)
        atomic_store_explicit(&h->mapping[i], 0, memory_order_relaxed);
    atomic_store(&h->nqueues, nqueues);
}

static uint32_t set_key(struct net_hash *h, const struct xen_netif_ctrl_request *req,
                        net_hash_copy_fn *copy, void *ctx)
{
    uint32_t len = req->data[1];
    if (len > NET_HASH_KEY_MAX)
        return XEN_NETIF_CTRL_STATUS_BUFFER_OVERFLOW;
    uint8_t key[NET_HASH_KEY_MAX] = { 0 };
    if (len && copy(ctx, (grant_ref_t)req->data[0], key, len) < 0)
        return XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER;
    /* octets not given are zero (netif.h) */
    for (unsigned i = 0; i < NET_HASH_KEY_MAX; i++)
        atomic_store_explicit(&h->key[i], key[i], memory_order_relaxed);
    atomic_store_explicit(&h->key_len, len, memory_order_release);
    return XEN_NETIF_CTRL_STATUS_SUCCESS;
}

static uint32_t set_mapping(struct net_hash *h, const struct xen_netif_ctrl_request *req,
                            net_hash_copy_fn *copy, void *ctx)
{
    uint32_t n = req->data[1], off = req->data[2];
    uint32_t size = atomic_load(&h->mapping_size);
    if (n > NET_HASH_MAPPING_MAX || (uint64_t)off + n > size)
        return XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER;
    if (n == 0)
        return XEN_NETIF_CTRL_STATUS_SUCCESS;
    uint32_t table[NET_HASH_MAPPING_MAX];
    if (copy(ctx, (grant_ref_t)req->data[0], table, (size_t)n * sizeof(table[0])) < 0)
        return XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER;
    uint32_t nq = atomic_load(&h->nqueues);
    for (uint32_t i = 0; i < n; i++)
        if (table[i] >= nq)
            return XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER; /* nothing applied */
    for (uint32_t i = 0; i < n; i++)
        atomic_store_explicit(&h->mapping[off + i], table[i], memory_order_relaxed);
    return XEN_NETIF_CTRL_STATUS_SUCCESS;
}

uint32_t net_hash_ctrl(struct net_hash *h, const struct xen_netif_ctrl_request *req,
                       net_hash_copy_fn *copy, void *ctx, uint32_t *data)
{
    *data = 0;
    bool alg_set = atomic_load(&h->alg) != XEN_NETIF_CTRL_HASH_ALGORITHM_NONE;
    switch (req->type) {
    case XEN_NETIF_CTRL_TYPE_SET_HASH_ALGORITHM:
        if (req->data[0] != XEN_NETIF_CTRL_HASH_ALGORITHM_NONE &&
            req->data[0] != XEN_NETIF_CTRL_HASH_ALGORITHM_TOEPLITZ)
            return XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER;
        if (req->data[0] == XEN_NETIF_CTRL_HASH_ALGORITHM_NONE)
            atomic_store(&h->flags, 0);
        atomic_store(&h->alg, req->data[0]);
        return XEN_NETIF_CTRL_STATUS_SUCCESS;
    case XEN_NETIF_CTRL_TYPE_GET_HASH_FLAGS:
        if (!alg_set)
            return XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER;
        *data = NET_HASH_TYPES;
        return XEN_NETIF_CTRL_STATUS_SUCCESS;
    case XEN_NETIF_CTRL_TYPE_SET_HASH_FLAGS:
        if (!alg_set || (req->data[0] & ~(uint32_t)NET_HASH_TYPES))
            return XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER;
        atomic_store(&h->flags, req->data[0]);
        return XEN_NETIF_CTRL_STATUS_SUCCESS;
    case XEN_NETIF_CTRL_TYPE_SET_HASH_KEY:
        return set_key(h, req, copy, ctx);
    case XEN_NETIF_CTRL_TYPE_GET_HASH_MAPPING_SIZE:
        *data = NET_HASH_MAPPING_MAX;
        return XEN_NETIF_CTRL_STATUS_SUCCESS;
    case XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING_SIZE:
        if (req->data[0] > NET_HASH_MAPPING_MAX)
            return XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER;
        /* a new table is zero filled (netif.h) */
        for (unsigned i = 0; i < NET_HASH_MAPPING_MAX; i++)
            atomic_store_explicit(&h->mapping[i], 0, memory_order_relaxed);
        atomic_store(&h->mapping_size, req->data[0]);
        return XEN_NETIF_CTRL_STATUS_SUCCESS;
    case XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING:
        return set_mapping(h, req, copy, ctx);
    default: /* the grant-mapping requests and anything newer */
        return XEN_NETIF_CTRL_STATUS_NOT_SUPPORTED;
    }
}

bool net_hash_frame(const struct net_hash *h, const uint8_t *frame, size_t len, uint32_t *hash,
                    uint8_t *type)
{
    if (!net_hash_active(h))
        return false;
    uint32_t flags = atomic_load_explicit((_Atomic uint32_t *)&h->flags, memory_order_relaxed);
    struct net_hdr nh;
    net_hdr_parse(frame, len, &nh);
    if (!nh.ipv)
        return false;
    bool v4 = nh.ipv == 4;
    uint8_t buf[36];
    size_t n = net_hdr_addr_len(&nh);
    memcpy(buf, frame + net_hdr_addr_off(&nh), n);
    bool tcp = nh.proto == NET_IPPROTO_TCP && net_hdr_l4_has(&nh, len, 4);
    if (tcp && (flags & (v4 ? XEN_NETIF_CTRL_HASH_TYPE_IPV4_TCP
                            : XEN_NETIF_CTRL_HASH_TYPE_IPV6_TCP))) {
        memcpy(buf + n, frame + nh.l4, 4); /* the ports */
        n += 4;
        *type = v4 ? _XEN_NETIF_CTRL_HASH_TYPE_IPV4_TCP : _XEN_NETIF_CTRL_HASH_TYPE_IPV6_TCP;
    } else if (flags & (v4 ? XEN_NETIF_CTRL_HASH_TYPE_IPV4 : XEN_NETIF_CTRL_HASH_TYPE_IPV6)) {
        *type = v4 ? _XEN_NETIF_CTRL_HASH_TYPE_IPV4 : _XEN_NETIF_CTRL_HASH_TYPE_IPV6;
    } else {
        return false;
    }
    uint8_t key[NET_HASH_KEY_MAX];
    for (unsigned i = 0; i < NET_HASH_KEY_MAX; i++)
        key[i] = atomic_load_explicit((_Atomic uint8_t *)&h->key[i], memory_order_relaxed);
    *hash = xen_netif_toeplitz_hash(key, NET_HASH_KEY_MAX, buf, (unsigned)n);
    return true;
}

unsigned net_hash_queue(const struct net_hash *h, uint32_t hash, unsigned nqueues)
{
    if (nqueues == 0)
        return 0;
    uint32_t size = atomic_load_explicit((_Atomic uint32_t *)&h->mapping_size,
                                         memory_order_relaxed);
    uint32_t q = hash;
    if (size && size <= NET_HASH_MAPPING_MAX)
        q = atomic_load_explicit((_Atomic uint32_t *)&h->mapping[hash % size],
                                 memory_order_relaxed);
    return q % nqueues;
}
