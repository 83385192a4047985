/*
 * net_hash.h - a vif's receive-side hash (netif.h's control ring: Toeplitz
 * over the IPv4/IPv6 addresses and TCP ports, a key, a mapping table from
 * hash to queue), set by the frontend and read by whichever sidecore steers
 * a frame to one of the vif's queues or reports the hash to the guest.
 *
 * Contract: net_hash_ctrl() carries out one control request (the guest's
 * key and table pages fetched through the caller's copy function) and
 * returns its XEN_NETIF_CTRL_STATUS_*, with Linux netback's limits (a key
 * of at most 40 bytes, a table of at most 128 entries, every entry a queue
 * the vif has).  The settings are plain atomics: a reader racing a change
 * sees either value of each word, so a frame may be steered by a mix of
 * old and new settings during the change, never to a queue that does not
 * exist (net_hash_queue checks).  Writers: the one core serving the vif's
 * control ring, and the control thread before it is attached.
 */
#ifndef SC_NET_HASH_H
#define SC_NET_HASH_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "xen_ring.h"
#include <xen/io/netif.h>

#define NET_HASH_KEY_MAX     40u
#define NET_HASH_MAPPING_MAX 128u
#define NET_HASH_TYPES (XEN_NETIF_CTRL_HASH_TYPE_IPV4 | XEN_NETIF_CTRL_HASH_TYPE_IPV4_TCP | \
                        XEN_NETIF_CTRL_HASH_TYPE_IPV6 | XEN_NETIF_CTRL_HASH_TYPE_IPV6_TCP)

struct net_hash {
    _Atomic uint32_t alg;        /* XEN_NETIF_CTRL_HASH_ALGORITHM_* */
    _Atomic uint32_t flags;      /* XEN_NETIF_CTRL_HASH_TYPE_* to compute */
    _Atomic uint32_t key_len;
    _Atomic uint8_t key[NET_HASH_KEY_MAX];
    _Atomic uint32_t mapping_size; /* 0: hash modulo the queues */
    _Atomic uint32_t mapping[NET_HASH_MAPPING_MAX];
    _Atomic uint32_t nqueues;    /* the vif's, set at connect */
};

/* Copies `len` bytes from the start of the guest's page `ref` into dst:
 * 0 or -errno. */
typedef int net_hash_copy_fn(void *ctx, grant_ref_t ref, void *dst, size_t len);

/* Back to no hashing (a new connection). */
void net_hash_reset(struct net_hash *h, unsigned nqueues);
/* One control request: its status, *data the response's data. */
uint32_t net_hash_ctrl(struct net_hash *h, const struct xen_netif_ctrl_request *req,
                       net_hash_copy_fn *copy, void *ctx, uint32_t *data);
/* The hash of an Ethernet frame under h's settings: true with the value and
 * its _XEN_NETIF_CTRL_HASH_TYPE_* number, false when h computes none for
 * this frame (no algorithm, no matching type, not IP). */
bool net_hash_frame(const struct net_hash *h, const uint8_t *frame, size_t len, uint32_t *hash,
                    uint8_t *type);
/* The queue (< nqueues) for a hash value. */
unsigned net_hash_queue(const struct net_hash *h, uint32_t hash, unsigned nqueues);
/* Whether h steers frames (an algorithm and at least one type). */
static inline bool net_hash_active(const struct net_hash *h)
{
    return atomic_load_explicit((_Atomic uint32_t *)&h->alg, memory_order_relaxed) !=
               XEN_NETIF_CTRL_HASH_ALGORITHM_NONE &&
           atomic_load_explicit((_Atomic uint32_t *)&h->flags, memory_order_relaxed) != 0;
}

#endif
