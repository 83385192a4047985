/*
 * vbd_schema_test.c - xenstore-schema/vbd.json parses, each entry is
 * complete and consistent, and every key the vbd class and the generic bus
 * touch in their source is described: the checks of
 * tests/tools/schema_check.h over the vbd's table.  Any hyphenated
 * lower-case literal (the shape of a blkif key) counts as a key.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "schema_check.h"

static struct schema_check vbd = {
    .schema = "xenstore-schema/vbd.json",
    .class_sources = (const char *const[]){ "blkback/blk_xenbus.c", NULL },
    .bus_sources = (const char *const[]){ "backend/xenbus_device.c", NULL },
    /* Literals that look like keys but are words of log messages. */
    .not_keys = (const char *const[]){ "read-only", NULL },
    .key_words = NULL,
    .min_entries = 30,
    .min_class_keys = 25,
    .min_bus_keys = 6,
};

static int setup(void **state)
{
    (void)state;
    return schema_check_load(&vbd);
}

static int teardown(void **state)
{
    (void)state;
    schema_check_unload(&vbd);
    return 0;
}

static void entries_are_complete(void **state)
{
    (void)state;
    schema_check_entries(&vbd);
}

static void class_keys_are_described(void **state)
{
    (void)state;
    schema_check_class_sources(&vbd);
}

static void bus_keys_are_described(void **state)
{
    (void)state;
    schema_check_bus_sources(&vbd);
}

static void scan_catches_a_missing_key(void **state)
{
    (void)state;
    assert_true(schema_check_described(&vbd, "multi-queue-num-queues"));
    assert_true(schema_check_described(&vbd, "ring-ref%u"));
    assert_true(schema_check_described(&vbd, "queue-%u"));
    assert_false(schema_check_described(&vbd, "feature-made-up"));
    assert_false(schema_check_described(&vbd, "queue"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(entries_are_complete),
        cmocka_unit_test(scan_catches_a_missing_key),
        cmocka_unit_test(class_keys_are_described),
        cmocka_unit_test(bus_keys_are_described),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
