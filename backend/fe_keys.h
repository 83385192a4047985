/*
 * fe_keys.h - reading a frontend's xenstore keys, for device classes.
 *
 * Contract: the frontend's directory is written by the guest, so every
 * value is hostile: numbers go through the strict parsers of xen.h
 * (digits only, in range) and a bad required key fails the device.
 * Failing means sc_xenbus_device_fail(): logged with the device's name,
 * written to the error node, the device closed (after the callback, when
 * called inside one), and the message names the key as <dir>/<key>.
 * Optional keys take a default when absent; a malformed optional key
 * fails the device too, except with the _warn reader, which takes the
 * default and logs a warning (for flags Linux backends read leniently).
 *
 * `dir` is the frontend directory (dev->frontend_path) or one of its
 * queue directories (sc_fe_queue_dir); the toolstack's optional flags in
 * the backend directory read the same way.  Reads are outside
 * transactions.
 *
 * Threads: the control thread, in the device's class callbacks (connect,
 * mostly), like everything on the bus.
 *
 * Returns: 0 or negative errno (the device then failed); the optional
 * readers return 1 when the key was absent and the default taken.
 */
#ifndef SC_FE_KEYS_H
#define SC_FE_KEYS_H

#include <stdbool.h>
#include <stddef.h>

#include "xenbus.h"

/* Fails the device for key <dir>/<key> that could not be read: rc is the
 * read's -errno (-ENOENT missing, -EINVAL malformed or out of range).
 * Returns rc, for `return sc_fe_key_fail(...)`. */
int sc_fe_key_fail(struct sc_device *dev, int rc, const char *dir, const char *key);

/* A required unsigned key in [0, max]. */
int sc_fe_read_uint(struct sc_device *dev, const char *dir, const char *key,
                    unsigned long long max, unsigned long long *out);
/* An optional one: absent -> *out = def and 1. */
int sc_fe_read_uint_opt(struct sc_device *dev, const char *dir, const char *key,
                        unsigned long long max, unsigned long long def,
                        unsigned long long *out);
/* An optional boolean, "0" or "1": absent -> *out = def and 1. */
int sc_fe_read_bool(struct sc_device *dev, const char *dir, const char *key, bool def,
                    bool *out);
/* The same, lenient: absent or malformed -> def (malformed warned, naming
 * <dir>/<key>); never fails the device. */
bool sc_fe_read_bool_warn(struct sc_device *dev, const char *dir, const char *key, bool def);

/* The number of queues the frontend wants, "multi-queue-num-queues" in
 * its directory: absent -> 1; 0 or above `max` fails the device with
 * -ENOSYS (as Linux backends answer); malformed with -EINVAL. */
int sc_fe_num_queues(struct sc_device *dev, unsigned max, unsigned *nqueues);
/* The directory of queue i of n into buf: the frontend directory itself
 * when n == 1, <frontend>/queue-<i> otherwise.  0, or -ENAMETOOLONG (len
 * too short; nothing fails). */
int sc_fe_queue_dir(const struct sc_device *dev, unsigned n, unsigned i, char *buf, size_t len);

#endif
