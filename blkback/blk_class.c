/*
 * blk_class.c - the vbd class module: what blkback brings to the daemon
 * beyond the bus callbacks (devclass.h has the contract, blkback.h the
 * declaration).
 *
 *   settings    vbd.max-queues, vbd.max-ring-order, vbd.max-indirect,
 *               vbd.max-persistent, vbd.discard (a struct blk_config);
 *               the un-namespaced names of earlier releases (max-queues,
 *               ..., no-discard) stay as deprecated aliases
 *   types       vbd (served by default), vbd3, qdisk: the same class under
 *               another directory (what some toolstacks write)
 *   tick        every second, each Connected vbd's store is checked for a
 *               new size (blk_device_check_resize)
 *   methods     resize-check {"device": ref}: the same check now
 *   describe    blk_device_describe (blk_xenbus.c)
 *
 * Control thread only (the settings callbacks: wherever the config loads).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "blkback.h"
#include "devclass.h"
#include "log.h"

/* The blob's max_queues before finalize: "one per sidecore" (a queue per
 * core spreads a guest over all of them). */
#define QUEUES_PER_CORE 0u

static void vbd_config_default(void *blob)
{
    struct blk_config *c = blob;
    blk_config_default(c);
    c->max_queues = QUEUES_PER_CORE;
}

static int set_u32(uint32_t *field, const char *value, unsigned long long min,
                   unsigned long long max, char *err, size_t errlen)
{
    unsigned long long v;
    if (sc_config_parse_uint(value, min, max, &v) < 0) {
        snprintf(err, errlen, "'%s' is not a number in %llu..%llu", value, min, max);
        return -EINVAL;
    }
    *field = (uint32_t)v;
    return 0;
}

static int vbd_config_set(void *blob, const char *key, const char *value, char *err,
                          size_t errlen)
{
    struct blk_config *c = blob;
    if (strcmp(key, "max-queues") == 0)
        return set_u32(&c->max_queues, value, 1, BLK_MAX_QUEUES, err, errlen);
    if (strcmp(key, "max-ring-order") == 0)
        return set_u32(&c->max_ring_page_order, value, 0, BLK_MAX_RING_ORDER, err, errlen);
    if (strcmp(key, "max-indirect") == 0)
        return set_u32(&c->max_indirect_segments, value, 0, BLK_MAX_SEGMENTS, err, errlen);
    if (strcmp(key, "max-persistent") == 0)
        return set_u32(&c->max_persistent_grants, value, 0, BLK_MAX_PERSISTENT, err, errlen);
    if (strcmp(key, "discard") == 0) {
        if (sc_config_parse_bool(value, &c->discard) < 0) {
            snprintf(err, errlen, "'%s' is not yes or no", value);
            return -EINVAL;
        }
        return 0;
    }
    snprintf(err, errlen, "unknown vbd setting '%s'", key);
    return -ENOENT;
}

static int vbd_config_finalize(void *blob, const struct sc_config *c, char *err, size_t errlen)
{
    (void)err;
    (void)errlen;
    struct blk_config *b = blob;
    if (b->max_queues == QUEUES_PER_CORE)
        b->max_queues = c->cores < BLK_MAX_QUEUES ? c->cores : BLK_MAX_QUEUES;
    return 0;
}

static const struct sc_class_setting vbd_settings[] = {
    { "max-queues", "N", "multi-queue-max-queues, 1..256 [number of cores]" },
    { "max-ring-order", "N", "max-ring-page-order, 0..4 [4]" },
    { "max-indirect", "N", "feature-max-indirect-segments, 0..256, 0 = off [256]" },
    { "max-persistent", "N", "persistent grants per queue, 0 = off [1056]" },
    { "discard", "yes|no", "offer discard where the store can [yes]" },
    { NULL, NULL, NULL },
};

static const struct sc_class_alias vbd_aliases[] = {
    { "max-queues", "max-queues", false },
    { "max-ring-order", "max-ring-order", false },
    { "max-indirect", "max-indirect", false },
    { "max-persistent", "max-persistent", false },
    { "no-discard", "discard", true },
    { NULL, NULL, false },
};

static const struct sc_class_type vbd_types[] = {
    { "vbd", true },
    { "vbd3", false },
    { "qdisk", false },
    { NULL, false },
};

static const struct sc_device_class *vbd_device_class(const char *type, struct sc_pool *pool,
                                                      const void *cfg)
{
    errno = 0;
    const struct sc_device_class *cls = blk_device_class(type, pool, cfg);
    if (!cls && !errno)
        errno = EINVAL;
    return cls;
}

static void vbd_tick(struct sc_class_ctx *cc, struct sc_device *dev)
{
    (void)cc;
    int rc = blk_device_check_resize(dev);
    if (rc < 0)
        sc_log_rl(SC_LOG_WARN, dev->name, "resize check: %s", strerror(-rc));
}

static json_t *m_resize_check(void *ctx, json_t *params, struct sc_ctl_error *err)
{
    struct sc_class_ctx *cc = sc_class_ctx_of(ctx, &blk_vbd_module);
    json_t *ref = json_object_get(params, "device");
    if (!json_is_string(ref) && !json_is_integer(ref)) {
        sc_ctl_error_set(err, SC_CTL_INVALID_PARAMS,
                         "resize-check needs {\"device\": \"vbd/<domid>/<devid>\" or an id}");
        return NULL;
    }
    struct sc_device *dev = cc ? sc_class_find_device(cc, ref) : NULL;
    if (!dev) {
        sc_ctl_error_set(err, SC_CTL_NOT_FOUND, "no vbd '%s' (sidecorectl devices lists them)",
                         json_is_string(ref) ? json_string_value(ref) : "by that id");
        return NULL;
    }
    if (dev->state != XenbusStateConnected) {
        sc_ctl_error_set(err, SC_CTL_FAILED, "%s is %s, not Connected", dev->name,
                         sc_xenbus_state_str(dev->state));
        return NULL;
    }
    int ret = blk_device_check_resize(dev);
    if (ret < 0) {
        sc_ctl_error_set(err, SC_CTL_FAILED, "%s: %s", dev->name, strerror(-ret));
        return NULL;
    }
    json_t *r = json_pack("{s:s, s:b}", "device", dev->name, "changed", ret > 0);
    if (!r)
        sc_ctl_error_set(err, SC_CTL_INTERNAL_ERROR, "out of memory");
    return r;
}

static const struct sc_ctl_method vbd_methods[] = {
    { "resize-check", m_resize_check },
    { NULL, NULL },
};

const struct sc_class_module blk_vbd_module = {
    .name = "vbd",
    .types = vbd_types,
    .config_size = sizeof(struct blk_config),
    .settings = vbd_settings,
    .aliases = vbd_aliases,
    .config_default = vbd_config_default,
    .config_set = vbd_config_set,
    .config_finalize = vbd_config_finalize,
    .device_class = vbd_device_class,
    .foreach_queue = blk_device_foreach_queue,
    .describe = blk_device_describe,
    .methods = vbd_methods,
    .tick_ms = 1000,
    .tick = vbd_tick,
};
