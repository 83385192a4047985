/*
 * devclass.c - what a class module may ask of the daemon about its own
 * devices (devclass.h has the contract).  Control thread only.
 */
#include "devclass.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

int sc_class_reserve_queue(struct sc_device *dev, struct sc_pool *pool, unsigned i,
                           uint64_t cost, struct sc_mem_resv *r)
{
    char why[256];
    int rc = sc_membudget_reserve(sc_pool_membudget(pool), dev->frontend_id, cost, r, why,
                                  sizeof(why));
    if (rc < 0)
        sc_xenbus_device_fail(dev, rc, "queue %u %s", i, why);
    return rc;
}

bool sc_class_owns(const struct sc_class_ctx *cc, const struct sc_device *dev)
{
    for (unsigned i = 0; i < cc->nclasses; i++)
        if (dev->cls == cc->classes[i])
            return true;
    return false;
}

struct class_walk {
    struct sc_class_ctx *cc;
    int (*fn)(struct sc_device *dev, void *arg);
    void *arg;
};

static int walk_one(struct sc_device *dev, void *arg)
{
    struct class_walk *w = arg;
    return sc_class_owns(w->cc, dev) ? w->fn(dev, w->arg) : 0;
}

int sc_class_foreach_device(struct sc_class_ctx *cc, int (*fn)(struct sc_device *dev, void *arg),
                            void *arg)
{
    if (!cc->bus || !cc->nclasses)
        return 0;
    struct class_walk w = { .cc = cc, .fn = fn, .arg = arg };
    return sc_xenbus_foreach_device(cc->bus, walk_one, &w);
}

struct find_id {
    uint64_t id;
    struct sc_device *dev;
};

static int match_id(struct sc_device *dev, void *arg)
{
    struct find_id *f = arg;
    if (dev->id != f->id)
        return 0;
    f->dev = dev;
    return 1;
}

struct sc_device *sc_class_find_device(struct sc_class_ctx *cc, json_t *ref)
{
    if (json_is_integer(ref)) {
        struct find_id f = { .id = (uint64_t)json_integer_value(ref) };
        sc_class_foreach_device(cc, match_id, &f);
        if (!f.dev)
            errno = ENOENT;
        return f.dev;
    }
    const char *s = json_string_value(ref);
    _Static_assert(SC_CONFIG_TYPE_MAX == 16, "the %15[ widths below");
    char type[SC_CONFIG_TYPE_MAX] = "";
    unsigned fe, devid;
    char tail;
    if (!s) {
        errno = EINVAL;
        return NULL;
    }
    if (sscanf(s, "%15[a-z0-9]/%u/%u%c", type, &fe, &devid, &tail) != 3 &&
        sscanf(s, "%15[a-z0-9] %u/%u%c", type, &fe, &devid, &tail) != 3) {
        type[0] = '\0';
        if (sscanf(s, "%u/%u%c", &fe, &devid, &tail) != 2) {
            errno = EINVAL;
            return NULL;
        }
    }
    if (fe >= DOMID_FIRST_RESERVED) {
        errno = EINVAL;
        return NULL;
    }
    for (unsigned i = 0; cc->bus && i < cc->nclasses; i++) {
        const char *t = cc->classes[i]->type;
        if (type[0] && strcmp(type, t) != 0)
            continue;
        struct sc_device *dev = sc_xenbus_find_device(cc->bus, t, (domid_t)fe, devid);
        if (dev)
            return dev;
    }
    errno = ENOENT;
    return NULL;
}
