/*
 * net_class.c - the vif class module: what netback brings to the daemon
 * beyond the bus callbacks (devclass.h has the contract, netback.h the
 * declaration).
 *
 *   settings    vif.max-queues (multi-queue-max-queues), vif.tap (make
 *               the TAP uplink; off only for tests of the lifecycle alone),
 *               vif.switch (the internal switch's name: vifs whose bridge
 *               is that name are its ports)
 *   types       vif
 *   methods     vif-rate {"device": ref, "rate": "<bytes>,<usecs>" or "",
 *               "direction": "tx"|"rx"}: a vif's rate now (tx is what the
 *               toolstack's `rate` sets; rx is ours alone)
 *               vif-switches: the internal switches (ports, addresses, counters)
 *   tick        every second the switches forget addresses unseen for 300 s
 *   describe    net_device_describe (net_describe.c)
 *
 * Control thread only (the settings callbacks: wherever the config loads).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "devclass.h"
#include "log.h"
#include "net_xswitch.h"
#include "netback.h"
#include "xenbus.h"

#define QUEUES_PER_CORE 0u

static void vif_config_default(void *blob)
{
    struct net_config *c = blob;
    *c = (struct net_config){ .max_queues = QUEUES_PER_CORE, .tap = true,
                              .switch_name = NET_SWITCH_NAME_DEFAULT };
}

static int vif_config_set(void *blob, const char *key, const char *value, char *err,
                          size_t errlen)
{
    struct net_config *c = blob;
    if (strcmp(key, "max-queues") == 0) {
        unsigned long long v;
        if (sc_config_parse_uint(value, 1, NET_MAX_QUEUES, &v) < 0) {
            snprintf(err, errlen, "'%s' is not a number in 1..%u", value, NET_MAX_QUEUES);
            return -EINVAL;
        }
        c->max_queues = (uint32_t)v;
        return 0;
    }
    if (strcmp(key, "tap") == 0) {
        if (sc_config_parse_bool(value, &c->tap) < 0) {
            snprintf(err, errlen, "'%s' is not yes or no", value);
            return -EINVAL;
        }
        return 0;
    }
    if (strcmp(key, "switch") == 0) {
        if (strlen(value) >= sizeof(c->switch_name) || strchr(value, '/') || strchr(value, ' ')) {
            snprintf(err, errlen, "'%s' is not an interface name (at most %zu characters)", value,
                     sizeof(c->switch_name) - 1);
            return -EINVAL;
        }
        snprintf(c->switch_name, sizeof(c->switch_name), "%s", value);
        return 0;
    }
    snprintf(err, errlen, "unknown vif setting '%s'", key);
    return -ENOENT;
}

static int vif_config_finalize(void *blob, const struct sc_config *c, char *err, size_t errlen)
{
    (void)err;
    (void)errlen;
    struct net_config *n = blob;
    if (n->max_queues == QUEUES_PER_CORE)
        n->max_queues = c->cores < NET_MAX_QUEUES ? c->cores : NET_MAX_QUEUES;
    return 0;
}

static const struct sc_class_setting vif_settings[] = {
    { "max-queues", "N", "multi-queue-max-queues of a vif, 1..16 [number of cores]" },
    { "tap", "yes|no", "give each vif a TAP interface vif<domid>.<devid> as its uplink [yes]" },
    { "switch", "NAME", "vifs with bridge=NAME join the internal switch, whose host port is "
                        "the interface NAME; empty: none [" NET_SWITCH_NAME_DEFAULT "]" },
    { NULL, NULL, NULL },
};

static const struct sc_class_type vif_types[] = {
    { "vif", true },
    { NULL, false },
};

static const struct sc_device_class *vif_device_class(const char *type, struct sc_pool *pool,
                                                      const void *cfg)
{
    if (strcmp(type, "vif") != 0) {
        errno = EINVAL;
        return NULL;
    }
    errno = 0;
    const struct sc_device_class *cls = net_device_class(pool, cfg);
    if (!cls && !errno)
        errno = EINVAL;
    return cls;
}

static json_t *m_vif_rate(void *ctx, json_t *params, struct sc_ctl_error *err)
{
    struct sc_class_ctx *cc = sc_class_ctx_of(ctx, &net_vif_module);
    json_t *ref = json_object_get(params, "device");
    const char *rate = json_string_value(json_object_get(params, "rate"));
    const char *direction = json_string_value(json_object_get(params, "direction"));
    if ((!json_is_string(ref) && !json_is_integer(ref)) || !rate ||
        (direction && strcmp(direction, "tx") != 0 && strcmp(direction, "rx") != 0)) {
        sc_ctl_error_set(err, SC_CTL_INVALID_PARAMS,
                         "vif-rate needs {\"device\": \"vif/<domid>/<devid>\" or an id, "
                         "\"rate\": \"<bytes>,<usecs>\" or \"\", \"direction\": \"tx\"|\"rx\"}");
        return NULL;
    }
    struct sc_device *dev = cc ? sc_class_find_device(cc, ref) : NULL;
    if (!dev || !dev->priv) {
        sc_ctl_error_set(err, SC_CTL_NOT_FOUND, "no vif '%s' (sidecorectl vifs lists them)",
                         json_is_string(ref) ? json_string_value(ref) : "by that id");
        return NULL;
    }
    bool rx = direction && strcmp(direction, "rx") == 0;
    if (net_device_set_rate(dev, rx, rate) < 0) {
        sc_ctl_error_set(err, SC_CTL_INVALID_PARAMS, "rate \"%s\" is not <bytes>,<usecs>", rate);
        return NULL;
    }
    json_t *r = json_pack("{s:s, s:s, s:s}", "device", dev->name, "direction", rx ? "rx" : "tx",
                          "rate", rate);
    if (!r)
        sc_ctl_error_set(err, SC_CTL_INTERNAL_ERROR, "out of memory");
    return r;
}

static void describe_one(struct net_xswitch *x, void *arg)
{
    json_t *o = net_xswitch_describe(x);
    if (o)
        json_array_append_new(arg, o);
}

static json_t *m_vif_switches(void *ctx, json_t *params, struct sc_ctl_error *err)
{
    (void)ctx;
    (void)params;
    json_t *a = json_array();
    if (!a) {
        sc_ctl_error_set(err, SC_CTL_INTERNAL_ERROR, "out of memory");
        return NULL;
    }
    net_xswitch_foreach(describe_one, a);
    return json_pack("{s:o}", "switches", a);
}

static const struct sc_ctl_method vif_methods[] = {
    { "vif-rate", m_vif_rate },
    { "vif-switches", m_vif_switches, SC_CTL_VIEW },
    { NULL, NULL },
};

static void age_one(struct net_xswitch *x, void *arg)
{
    (void)arg;
    net_xswitch_age(x);
}

/* The tick runs per connected vif: the switches age once per round. */
static void vif_tick(struct sc_class_ctx *cc, struct sc_device *dev)
{
    (void)dev;
    static uint64_t aged_round = UINT64_MAX;
    if (cc->ticks == aged_round)
        return;
    aged_round = cc->ticks;
    net_xswitch_foreach(age_one, NULL);
}

const struct sc_class_module net_vif_module = {
    .name = "vif",
    .types = vif_types,
    .config_size = sizeof(struct net_config),
    .settings = vif_settings,
    .config_default = vif_config_default,
    .config_set = vif_config_set,
    .config_finalize = vif_config_finalize,
    .device_class = vif_device_class,
    .foreach_queue = net_device_foreach_queue,
    .describe = net_device_describe,
    .methods = vif_methods,
    .tick_ms = 1000,
    .tick = vif_tick,
};
