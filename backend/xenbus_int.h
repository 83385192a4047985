/*
 * xenbus_int.h - what xenbus.c (the bus: watches, discovery, routing) and
 * xenbus_device.c (one device: the state machine) share.  Internal to the
 * xenbus module; control thread only, like everything in xenbus.h.
 */
#ifndef SC_XENBUS_INT_H
#define SC_XENBUS_INT_H

#include "xenbus.h"

struct sc_xenbus {
    struct sc_xen *x;
    struct xs_handle *xs;           /* borrowed from the caller */
    domid_t self;
    char home[32];                  /* /local/domain/<self> */
    const struct sc_device_class *classes[SC_XENBUS_MAX_CLASSES];
    char *class_base[SC_XENBUS_MAX_CLASSES]; /* <home>/backend/<type> */
    unsigned nclasses;
    struct sc_device *devices;      /* live devices, in discovery order */
    struct sc_device *graveyard;    /* removed, freed when depth drops to 0 */
    uint64_t next_id;
    int depth;                      /* nesting of public entry points */
};

/* Watch tokens: the bus watches only with these on its handle. */
#define XB_TOKEN_RELEASE "sc-rel"
#define XB_TOKEN_BACKEND "sc-be:"   /* + class index */
#define XB_TOKEN_FRONTEND "sc-fe:"  /* + device id */

/* A new device in state `state` (what its directory holds; Unknown while
 * it has none), linked at the tail of the bus's list.  NULL + errno. */
struct sc_device *xb_device_new(struct sc_xenbus *bus, unsigned class_idx, const char *path,
                                domid_t frontend_id, uint32_t devid, XenbusState state);
/* A device not yet probed: reads the toolstack's keys and, once they are
 * all there and valid, watches the frontend, probes and goes InitWait. */
void xb_device_try_probe(struct sc_device *dev);
/* Something changed at backend_path/<key> ("" for the directory itself). */
void xb_device_backend_event(struct sc_device *dev, const char *key);
/* <frontend>/state fired. */
void xb_device_frontend_event(struct sc_device *dev);
/* A connect held back by the rate limit may go now. */
bool xb_device_connect_due(const struct sc_device *dev);
/* The backend directory is gone: disconnect and remove. */
void xb_device_gone(struct sc_device *dev);
/* The frontend's domain is gone: disconnect, Closed, remove. */
void xb_device_domain_gone(struct sc_device *dev);
/* Disconnects (if connected), calls the class's remove (if probed), drops
 * the frontend watch and moves the device to the graveyard.  Writes
 * nothing to xenstore. */
void xb_device_remove(struct sc_device *dev);
void xb_device_free(struct sc_device *dev);
/* The directory of a device just removed, taken again if the toolstack
 * recreated it meanwhile (its events went to the old device while that
 * one drained). */
void xb_rediscover(struct sc_xenbus *bus, const struct sc_device *gone);
/* A key of the class's frontend_keys changed (key relative to the frontend). */
void xb_device_key_event(struct sc_device *dev, const char *key);
/* Nesting of public entry points: removed devices are freed when the
 * outermost one leaves. */
void xb_enter(struct sc_xenbus *bus);
void xb_leave(struct sc_xenbus *bus);
/* Fails a device with a message already formatted. */
void xb_device_fail_msg(struct sc_device *dev, int err, const char *msg);

/* True unless `path` is known to be absent (ENOENT). */
bool xb_node_exists(struct sc_xenbus *bus, const char *path);

#endif
