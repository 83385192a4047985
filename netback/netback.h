/*
 * netback.h - the vif device class (Xen's netif, xen/io/netif.h) as the
 * daemon sees it: its class module for the composition root, and the
 * calls the module makes into the lifecycle.
 *
 * Threads: the control thread (the config callbacks wherever the config
 * loads).  Returns NULL + errno, or 0 / -errno.
 */
#ifndef SC_NETBACK_H
#define SC_NETBACK_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>

#include "queue.h"

struct sc_device;
struct sc_device_class;
struct sc_pool;

#define NET_MAX_QUEUES 16u /* what a vif may ask for at most (Linux: one per CPU) */

/* The vif settings (vif.* in the config file). */
#define NET_SWITCH_NAME_DEFAULT "scsw0"

struct net_config {
    uint32_t max_queues;   /* multi-queue-max-queues */
    bool tap;              /* make a TAP interface per vif (the uplink) */
    /* vifs whose `bridge` is this name join the internal switch, whose
     * host port is a TAP interface of that name ("" = no switch) */
    char switch_name[16];
};

/* The class module (netback/net_class.c). */
extern const struct sc_class_module net_vif_module;

/* The bus class serving backend/vif over `pool`; it and the pool outlive
 * every device. */
const struct sc_device_class *net_device_class(struct sc_pool *pool, const struct net_config *cfg);
bool net_device_is_vif(const struct sc_device *dev);
int net_device_foreach_queue(struct sc_device *dev, sc_queue_visit_fn *fn, void *arg);
json_t *net_device_describe(struct sc_device *dev);
/* The toolstack changed `rate`: applied now (also called by the bus). */
int net_device_set_rate(struct sc_device *dev, bool rx, const char *rate);

#endif
