/*
 * net_switch.h - the internal switch of one driver domain: the forwarding
 * database (which port a unicast MAC lives behind), the port registry, the
 * per-port multicast filters and the counters.  It moves no packets: the
 * netback data path asks it where a frame goes and tells it what it saw.
 * No Xen, no I/O, no clock (every time is an explicit now_ns).
 *
 * Contract:
 * - Threads.  One control thread creates and destroys the switch, adds,
 *   deletes and releases ports, ages the table and describes it.  Any
 *   number of data-path threads (sidecores) call learn, lookup, flood,
 *   port_owner, the multicast filter calls and the counters, concurrently
 *   with each other and with the control thread.  Those calls are
 *   lock-free: no lock, no system call, no allocation; a retry happens
 *   only when another thread's atomic update won.
 * - Ports.  A port id is an index in [0, max_ports).  States: free ->
 *   (port_add) live -> (port_del) deleted -> (port_release) free.
 *   port_del takes effect at once: from its return, lookup, flood and
 *   port_owner no longer yield the port and its fdb entries are forgotten.
 *   A data-path call that started before it may still use the port, so the
 *   caller lets every data-path thread pass a quiescent point (a grace
 *   period: the caller's business) before freeing the owner and calling
 *   port_release; only then may port_add hand out the id again.  After
 *   port_del, learn on that port is ignored; the data path must not pass a
 *   released id.
 * - Forwarding database.  fdb_size entries (a power of two, >= 16) in
 *   buckets of 8; a MAC may live in one of two buckets (the first refusal
 *   comes at about 3/4 full: size it at 1.5 times the MACs expected).
 *   A unicast source MAC is learned on the port it came from, a known MAC
 *   that shows up on another port moves.  Never-evicting: when both
 *   buckets of a new MAC are full of live entries, learning fails (counted
 *   in learn_failures) and nothing live is forgotten; entries older than
 *   age_ns or of a deleted port are replaced by a learn and removed by
 *   net_switch_age.  An entry whose last sighting is older than age_ns is
 *   not returned by lookup even before it is aged out.  Last-seen is
 *   refreshed only when it moved by more than age_ns / 8 (to keep the
 *   table's cache lines clean), so an entry ages out between 7/8 age_ns
 *   and age_ns after the last frame.
 * - Concurrency slack, all benign: a lookup racing a learn of the same MAC
 *   may miss it (the frame floods); two threads learning one new MAC while
 *   entries are removed may both insert it, and the later one removes the
 *   duplicate before returning; an entry that expires while a frame
 *   refreshes it may still be aged out (the next frame learns it again).
 *   A lookup never pairs a MAC with another MAC's port: the MAC and its
 *   port are one 64-bit word.
 * - Multicast filter per port (feature-multicast-control): up to
 *   NET_SWITCH_MCAST_MAX group addresses.  The list may be amended while
 *   the filter is off and applies only while it is on (netif.h); the
 *   switch keeps it until the port is released.  Written by the port's
 *   sidecore or the control thread (both at once is allowed), read by any.
 * - Counters: per port, relaxed atomic additions from any thread; read
 *   as monotonic snapshots, never reset while the port lives.  A released
 *   port's counts are folded into the switch-wide totals.
 * - Returns: 0 or negative errno; pointer returners NULL (with errno for
 *   net_switch_create).
 */
#ifndef NET_SWITCH_H
#define NET_SWITCH_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

struct net_switch; /* opaque */

#define NET_SWITCH_NO_PORT   (-1)
#define NET_SWITCH_MAX_PORTS 4096u /* max_ports limit */
#define NET_SWITCH_FDB_MIN   16u
#define NET_SWITCH_FDB_MAX   (1u << 24)
#define NET_SWITCH_MCAST_MAX 64u   /* like Linux netback's XEN_NETBK_MCAST_MAX */
#define NET_SWITCH_NAME_MAX  32u   /* names longer are cut to NET_SWITCH_NAME_MAX - 1 */

/* Control thread.  max_ports in [1, NET_SWITCH_MAX_PORTS], fdb_size a power
 * of two in [NET_SWITCH_FDB_MIN, NET_SWITCH_FDB_MAX], age_ns > 0.  NULL with
 * errno EINVAL or ENOMEM. */
struct net_switch *net_switch_create(const char *name, unsigned max_ports, unsigned fdb_size,
                                     uint64_t age_ns);
/* Control thread, when no other thread can call in.  NULL is fine. */
void net_switch_destroy(struct net_switch *sw);

/* ---- ports (control thread) ---- */

/* A live port for owner (opaque to the switch, not NULL), the lowest free
 * id; port_name may be NULL ("port<N>").  The id (>= 0), -EINVAL (NULL
 * owner) or -ENOSPC (max_ports ids live or awaiting release). */
int net_switch_port_add(struct net_switch *sw, void *owner, const char *port_name);
/* Stops the port being a destination at once and forgets its fdb entries
 * (see the contract for the grace period).  No-op unless the port is live. */
void net_switch_port_del(struct net_switch *sw, int port);
/* After the grace period that followed port_del: forgets whatever an
 * in-flight learn added, folds the counters into the totals, clears the
 * multicast filter and frees the id.  No-op unless the port is deleted. */
void net_switch_port_release(struct net_switch *sw, int port);

/* ---- data path (any thread, lock-free) ---- */

/* A frame from port with source MAC mac was seen at now_ns.  Group (multicast,
 * broadcast) and all-zero sources are ignored, as is a port that is not live. */
void net_switch_learn(struct net_switch *sw, int port, const uint8_t mac[6], uint64_t now_ns);
/* The live port mac was last seen on at most age_ns before now_ns, or
 * NET_SWITCH_NO_PORT. */
int net_switch_lookup(struct net_switch *sw, const uint8_t mac[6], uint64_t now_ns);
/* The owner of a live port; NULL once deleted (or never added, or out of range). */
void *net_switch_port_owner(struct net_switch *sw, int port);

/* Calls fn(port, owner, arg) for every live port but `except` (the ingress
 * port, or NET_SWITCH_NO_PORT) that accepts dst: every port for broadcast
 * and unicast (the caller floods a unicast only when lookup did not know
 * it); for multicast, the ports whose filter is off or holds dst.  Counts
 * one flooded packet on `except` (and one unknown unicast when dst is
 * unicast); returns how many times fn was called.  fn must not add, delete
 * or release ports. */
unsigned net_switch_flood(struct net_switch *sw, int except, const uint8_t dst[6],
                          void (*fn)(int port, void *owner, void *arg), void *arg);

/* ---- multicast filter (the port's sidecore or the control thread) ---- */

/* Turns the port's filter on or off (request-multicast-control).  Ignored
 * unless the port is live. */
void net_switch_mcast_filter(struct net_switch *sw, int port, bool enabled);
/* Adds a group address (XEN_NETIF_EXTRA_TYPE_MCAST_ADD); adding one already
 * held is a success.  0, -EINVAL (port out of range or not live, mac not a
 * group address) or -ENOSPC (NET_SWITCH_MCAST_MAX addresses held). */
int net_switch_mcast_add(struct net_switch *sw, int port, const uint8_t mac[6]);
/* Removes one (XEN_NETIF_EXTRA_TYPE_MCAST_DEL).  0, -EINVAL (port out of
 * range or not live) or -ENOENT (not held). */
int net_switch_mcast_del(struct net_switch *sw, int port, const uint8_t mac[6]);

/* ---- counters (any thread; relaxed atomic additions) ---- */

/* packets/bytes from port into the switch */
void net_switch_count_rx(struct net_switch *sw, int port, unsigned packets, uint64_t bytes);
/* packets/bytes out of the switch to port */
void net_switch_count_tx(struct net_switch *sw, int port, unsigned packets, uint64_t bytes);
/* packets from port the switch dropped (no room at the destination, a frame
 * to itself, a bad frame; the caller decides) */
void net_switch_count_drop(struct net_switch *sw, int port, unsigned packets);

struct net_switch_port_stats {
    uint64_t rx_packets, rx_bytes; /* from the port into the switch */
    uint64_t tx_packets, tx_bytes; /* out of the switch to the port */
    uint64_t flood_packets;        /* packets from the port that were flooded */
    uint64_t unknown_unicast;      /* of those, to a unicast MAC */
    uint64_t drops;
    uint64_t learn_failures;       /* sources of the port the full table refused */
};

struct net_switch_stats {
    uint64_t learn_failures;  /* every port's, released ones included */
    uint64_t flood_packets;   /* every port's and those from NET_SWITCH_NO_PORT */
    uint64_t unknown_unicast; /* likewise */
};

/* Any thread: a snapshot of a live or deleted port's counters (field by
 * field, not one instant; a port released meanwhile may read as zeros).
 * 0 or -ENOENT (out of range or free). */
int net_switch_port_stats(struct net_switch *sw, int port, struct net_switch_port_stats *out);
/* Control thread: the switch-wide totals. */
void net_switch_stats(struct net_switch *sw, struct net_switch_stats *out);

/* ---- control thread: maintenance and views ---- */

/* Forgets the entries last seen more than age_ns before now_ns and those of
 * ports no longer live; how many it forgot. */
unsigned net_switch_age(struct net_switch *sw, uint64_t now_ns);

/* A new JSON object for sidecorectl:
 *   {"name", "max_ports", "fdb_size", "age_ms", "fdb_entries",
 *    "learn_failures", "flood_packets", "unknown_unicast",
 *    "ports": [{"port", "name", "state": "live"|"deleted", "rx_packets",
 *               "rx_bytes", "tx_packets", "tx_bytes", "flood_packets",
 *               "unknown_unicast", "drops", "learn_failures",
 *               "mcast_filter": bool, "mcast": ["01:00:5e:..", ...]}],
 *    "fdb": [{"mac": "aa:bb:cc:dd:ee:ff", "port", "age_ms"}]}
 * with the ports not free and the entries lookup would return at now_ns;
 * NULL on allocation failure. */
json_t *net_switch_describe(struct net_switch *sw, uint64_t now_ns);

#endif
