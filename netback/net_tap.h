/*
 * net_tap.h - a vif's uplink to the driver domain's own network stack: a
 * Linux TAP interface, one file descriptor per netif queue.
 *
 * Contract: net_tap_create() makes the interface `name` (vif<domid>.<devid>
 * or the toolstack's vifname) as Linux netback makes its vif: multi-queue,
 * frames with a struct virtio_net_hdr in front (IFF_VNET_HDR, so checksum
 * and segmentation offloads cross it in both directions), MAC
 * fe:ff:ff:ff:ff:ff (a bridge never takes it as its own address), the MTU
 * given, administratively up, so that the standard vif-bridge hotplug
 * script only has to add it to a bridge.  It exists as long as the first
 * descriptor is open; net_tap_open_queue() attaches another queue's
 * descriptor.  Descriptors are non-blocking and close-on-exec.
 * net_tap_set_offloads() says which offloads the kernel may hand us in
 * frames for the guest (TUNSETOFFLOAD): what the frontend takes.
 *
 * Threads: the control thread creates and configures; a sidecore reads and
 * writes its queue's descriptor.  Returns a descriptor, 0, or -errno.
 */
#ifndef SC_NET_TAP_H
#define SC_NET_TAP_H

#include <stdbool.h>
#include <stddef.h>

#define NET_TAP_NAME_MAX 16 /* IFNAMSIZ */

/* The interface `name` (< IFNAMSIZ) with its first queue: that queue's
 * descriptor.  The interface is persistent: it outlives the daemon (a
 * restart finds it with its bridge and addresses and adopts it: *adopted,
 * and then nothing of its settings is changed) until net_tap_destroy.
 * -EEXIST when another process holds an interface of that name, -EINVAL
 * for a bad name. */
int net_tap_create(const char *name, unsigned mtu, bool *adopted);
/* The interface goes (not persistent any more, its descriptor closed). */
int net_tap_destroy(int fd);
/* Queues the kernel shows for interface `name` (0 if none). */
int net_tap_queues(const char *name);
/* Another queue of the interface: its descriptor. */
int net_tap_open_queue(const char *name);
/* csum: partial checksums; tso4/tso6: TCP segmentation (needs csum). */
int net_tap_set_offloads(int fd, bool csum, bool tso4, bool tso6);
/* The interface's MTU now, or -errno. */
int net_tap_set_mtu(const char *name, unsigned mtu);
/* The interface's carrier (TUNSETCARRIER): down while no frontend is
 * connected, as Linux netback does.  0 or -errno (old kernels: -EINVAL). */
int net_tap_set_carrier(int fd, bool up);

#endif
