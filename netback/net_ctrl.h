/*
 * net_ctrl.h - a vif's control ring (netif.h's feature-ctrl-ring): the
 * frontend's hash settings (algorithm, types, key, mapping table) received
 * on a ring of its own, with its own event channel, served by a sidecore
 * like any ring: a queue of its own, rarely busy.
 *
 * Contract: the control thread creates it (the ring mapped, attached where
 * an earlier backend left it), puts net_ctrl_sc() on a core with the
 * frontend's event-channel-ctrl (queue_attach.h) and destroys it after the
 * detach.  Each request is carried out by net_hash_ctrl() on the vif's
 * struct net_hash (the key and table pages fetched with a grant copy) and
 * answered with its status; a broken ring fails the queue (and the vif).
 * Threads: as net_queue.h.  Returns NULL + errno.
 */
#ifndef SC_NET_CTRL_H
#define SC_NET_CTRL_H

#include "net_hash.h"
#include "queue.h"
#include "xen.h"

struct net_ctrl;

struct net_ctrl *net_ctrl_create(struct sc_xen *xen, domid_t domid, grant_ref_t ref,
                                 struct net_hash *hash, const char *name);
void net_ctrl_destroy(struct net_ctrl *c);
/* The memory a control ring holds (its struct, copy table, mapped page). */
uint64_t net_ctrl_mem_cost(void);
struct sc_queue *net_ctrl_sc(struct net_ctrl *c);
/* Requests answered so far (any thread; for views and tests). */
uint64_t net_ctrl_requests(const struct net_ctrl *c);

#endif
