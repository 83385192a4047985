/*
 * vif_schema_test.c - xenstore-schema/vif.json parses, each entry is
 * complete and consistent, the keys netif.h and libxl define for a vif are
 * all in it, and every key the vif class (whatever netback/net_*.c exist)
 * and the generic bus touch in their source is described: the checks of
 * tests/tools/schema_check.h over the vif's table.  Hyphenated literals
 * count as keys when their first word is of xenstore's vocabulary for vifs
 * (feature, request, multi, event, tx, rx, ctrl, xdp, hotplug, frontend,
 * backend, queue), so that the class's own setting names ("max-queues") and
 * log words are not taken for keys.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "schema_check.h"

static struct schema_check vif = {
    .schema = "xenstore-schema/vif.json",
    .class_sources = (const char *const[]){ "netback/net_*.c", NULL },
    .bus_sources = (const char *const[]){ "backend/xenbus_device.c", "backend/fe_keys.c", NULL },
    .must_have = (const char *const[]){
        /* the toolstack's (libxl_nic.c) and the hotplug script's */
        "backend frontend", "backend frontend-id", "backend online", "backend state",
        "backend script", "backend mac", "backend bridge", "backend handle", "backend type",
        "backend mtu", "backend rate", "backend vifname", "backend ip",
        "backend hotplug-status", "backend hotplug-error",
        /* the backend's features */
        "backend feature-sg", "backend feature-gso-tcpv4", "backend feature-gso-tcpv6",
        "backend feature-ipv6-csum-offload", "backend feature-rx-copy",
        "backend feature-rx-flip", "backend feature-multicast-control",
        "backend feature-dynamic-multicast-control", "backend feature-split-event-channels",
        "backend multi-queue-max-queues", "backend feature-ctrl-ring",
        "backend feature-xdp-headroom",
        /* the frontend's */
        "frontend tx-ring-ref", "frontend rx-ring-ref", "frontend event-channel",
        "frontend event-channel-tx", "frontend event-channel-rx", "frontend request-rx-copy",
        "frontend feature-rx-notify", "frontend feature-sg", "frontend feature-gso-tcpv4",
        "frontend feature-gso-tcpv6", "frontend feature-no-csum-offload",
        "frontend feature-ipv6-csum-offload", "frontend request-multicast-control",
        "frontend multi-queue-num-queues", "frontend queue-%u/tx-ring-ref",
        "frontend queue-%u/rx-ring-ref", "frontend queue-%u/event-channel",
        "frontend queue-%u/event-channel-tx", "frontend queue-%u/event-channel-rx",
        "frontend ctrl-ring-ref", "frontend event-channel-ctrl", "frontend xdp-headroom",
        "frontend mac", "frontend handle", "frontend mtu", "frontend state",
        "frontend backend", "frontend backend-id",
        /* the bus's error node */
        "home error/backend/<type>/<frontend-id>/<devid>/error",
        NULL },
    .key_words = "feature|request|multi|event|tx|rx|ctrl|xdp|hotplug|frontend|backend|queue",
    .min_entries = 50,
    .min_class_keys = 40,
    .min_bus_keys = 6, /* state, frontend-id, frontend, online, script, hotplug-status */
};

static int setup(void **state)
{
    (void)state;
    return schema_check_load(&vif);
}

static int teardown(void **state)
{
    (void)state;
    schema_check_unload(&vif);
    return 0;
}

static void entries_are_complete(void **state)
{
    (void)state;
    schema_check_entries(&vif);
}

static void protocol_keys_are_there(void **state)
{
    (void)state;
    schema_check_must_have(&vif);
}

static void scan_catches_a_missing_key(void **state)
{
    (void)state;
    static const char src[] =
        "rc = sc_xs_read_uint(xs, XBT_NULL, 15, &v, \"%s/handle\", bp);\n"
        "char *name = sc_xs_read_str(xs, XBT_NULL, \"%s/vifname\", dev->backend_path);\n"
        "sc_fe_read_uint(dev, dir, \"tx-ring-ref\", UINT32_MAX, &ref);\n"
        "sc_fe_read_bool_warn(dev, dev->frontend_path, \"feature-sg\", 0, &sg);\n"
        "snprintf(p, sizeof(p), \"%s/queue-%d/rx-ring-ref\", fe);\n"
        "static const char *const watched[] = { \"request-multicast-control\", NULL };\n"
        "write_key(bp, \"feature-made-up\", \"1\");\n"
        "sc_fe_read_uint(dev, q_dir, \"made-up-too\", 1, &v);\n"
        /* not keys: composed paths, settings, modes, log words */
        "snprintf(e, sizeof(e), \"%s/error/%s/error\", home, dev);\n"
        "{ \"max-queues\", \"N\", \"queues per vif\" },\n"
        "FILE *f = fopen(path, \"r\");\n"
        "sc_log(SC_LOG_INFO, dev->name, \"no rx-copy: %s\", fe);\n";
    struct schema_scan sc = { 0 };
    schema_check_scan_text(&vif, src, "sample", &sc);
    /* handle, vifname, queue-%u/rx-ring-ref, made-up-too, request-multicast-
     * control, and twice (after a dir and hyphenated) tx-ring-ref,
     * feature-sg, feature-made-up */
    assert_int_equal(sc.found, 11);
    assert_string_equal(sc.missing, "\n#   sample: \"feature-made-up\""
                                    "\n#   sample: \"made-up-too\""
                                    "\n#   sample: \"feature-made-up\"");
    assert_true(schema_check_described(&vif, "queue-%u"));
    assert_true(schema_check_described(&vif, "queue-%u/event-channel-tx"));
    assert_false(schema_check_described(&vif, "queue"));
    assert_false(schema_check_described(&vif, "ring-ref"));
}

static void class_keys_are_described(void **state)
{
    (void)state;
    schema_check_class_sources(&vif);
}

static void bus_keys_are_described(void **state)
{
    (void)state;
    schema_check_bus_sources(&vif);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(entries_are_complete),
        cmocka_unit_test(protocol_keys_are_there),
        cmocka_unit_test(scan_catches_a_missing_key),
        cmocka_unit_test(bus_keys_are_described),
        cmocka_unit_test(class_keys_are_described),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
