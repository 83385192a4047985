/*
 * net_xswitch.h - the internal switch of a driver domain: vifs whose
 * `bridge` names it are its ports, and a TAP interface of the same name is
 * its port to the driver domain's own stack (the host port).
 *
 * Contract: made on the control thread when the first vif asks for it
 * (net_xswitch_get) and kept for the daemon's life: the forwarding table
 * (net_switch.h), the host port's TAP and, while the switch has vif ports,
 * a queue on a sidecore that reads it (frames from the host are handed to
 * the vifs' queues as transfers of
 * local memory, net_xfer.h; frames for the host are written to the TAP by
 * whichever core switches them).  net_xswitch_join() makes a vif's port
 * once its queues exist; net_xswitch_leave() deletes it and calls back
 * after a grace period (grace.h), when no core can still send to the
 * vif's queues: only then may they be taken off their cores; once they
 * are, net_xswitch_release() frees the port's id.
 * net_xswitch_age() forgets old addresses (the class's tick).
 *
 * Threads: the control thread, except the data path inside.  Returns NULL
 * + errno, or 0 / -errno.
 */
#ifndef SC_NET_XSWITCH_H
#define SC_NET_XSWITCH_H

#include <jansson.h>

#include "corepool.h"
#include "grace.h"
#include "net_port.h"

#define NET_XSWITCH_PORTS 512u        /* vifs per switch, with the host port */
#define NET_XSWITCH_AGE_NS (300ull * 1000000000ull) /* as a Linux bridge: 300 s */

struct net_xswitch;

/* The switch `name` over `pool` (made on first use; `name` is also its
 * TAP interface's).  NULL + errno (EINVAL for a bad name, or the TAP's). */
struct net_xswitch *net_xswitch_get(const char *name, struct sc_pool *pool);
const char *net_xswitch_name(const struct net_xswitch *x);

/* A vif's membership: the caller's memory, valid from join until the
 * leave's callback ran. */
struct net_xswitch_member {
    struct net_port port;
    struct sc_grace grace;
    void (*left)(struct net_xswitch_member *m); /* after the leave's grace period */
    void (*released)(struct net_xswitch_member *m); /* see net_xswitch_release */
    void *owner;
    bool joined;
};

/* Joins with the endpoints xports[0..n), steered by `hash` (the vif's;
 * NULL: by addresses): 0, -ENOSPC (no free port). */
int net_xswitch_join(struct net_xswitch *x, struct net_xswitch_member *m, const char *port_name,
                     struct net_xport *const *xports, unsigned n, const struct net_hash *hash);
/* Leaves; m->left(m) follows (maybe from inside this call). */
void net_xswitch_leave(struct net_xswitch *x, struct net_xswitch_member *m);
/* After the vif's queues are off their cores: the id may be reused.  The
 * last vif to leave takes the host port's queue off its core too: then
 * this returns true and m->released(m) follows once it is off (so a daemon
 * that stops waits for it with the vif); false: released now. */
bool net_xswitch_release(struct net_xswitch *x, struct net_xswitch_member *m);

/* Forgets addresses unseen for NET_XSWITCH_AGE_NS. */
void net_xswitch_age(struct net_xswitch *x);
/* For sidecorectl: the switch's ports, table and counters. */
json_t *net_xswitch_describe(struct net_xswitch *x);
/* Calls fn for every switch made (views). */
void net_xswitch_foreach(void (*fn)(struct net_xswitch *x, void *arg), void *arg);

#endif
