/*
 * vbd_schema_test.c - xenstore-schema/vbd.json parses, each entry is
 * complete, and every key the vbd class and the generic bus touch in their
 * source is described in it.
 *
 * Keys are taken from the sources as string literals: "%s/<key>" path
 * formats, literals passed after a directory argument (bp, fp, dir), and any
 * hyphenated lower-case literal (the shape of a blkif key).  The sources are
 * found from the current directory or from $SC_BUILD/.. (the repository).
 */
#include <errno.h>
#include <regex.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <jansson.h>

static char root[4096];
static json_t *schema;

static bool exists(const char *dir, const char *rel)
{
    char p[4200];
    snprintf(p, sizeof(p), "%s/%s", dir, rel);
    FILE *f = fopen(p, "r");
    if (f)
        fclose(f);
    return f != NULL;
}

static int find_root(void **state)
{
    (void)state;
    if (exists(".", "xenstore-schema/vbd.json")) {
        snprintf(root, sizeof(root), ".");
    } else {
        const char *b = getenv("SC_BUILD");
        if (!b)
            return -1;
        snprintf(root, sizeof(root), "%s/..", b);
        if (!exists(root, "xenstore-schema/vbd.json"))
            return -1;
    }
    char p[4200];
    snprintf(p, sizeof(p), "%s/xenstore-schema/vbd.json", root);
    json_error_t err;
    schema = json_load_file(p, 0, &err);
    if (!schema)
        fprintf(stderr, "# %s:%d: %s\n", p, err.line, err.text);
    return schema ? 0 : -1;
}

static int drop_schema(void **state)
{
    (void)state;
    json_decref(schema);
    return 0;
}

static char *slurp(const char *rel)
{
    char p[4200];
    snprintf(p, sizeof(p), "%s/%s", root, rel);
    FILE *f = fopen(p, "r");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static void entries_are_complete(void **state)
{
    (void)state;
    json_t *keys = json_object_get(schema, "keys");
    assert_true(json_is_array(keys));
    assert_true(json_array_size(keys) >= 30);
    size_t i;
    json_t *k;
    json_array_foreach(keys, i, k) {
        const char *dir = json_string_value(json_object_get(k, "dir"));
        const char *path = json_string_value(json_object_get(k, "path"));
        assert_non_null(dir);
        assert_non_null(path);
        assert_true(!strcmp(dir, "backend") || !strcmp(dir, "frontend") || !strcmp(dir, "home"));
        assert_true(json_is_array(json_object_get(k, "writer")));
        assert_true(json_array_size(json_object_get(k, "writer")) > 0);
        assert_true(json_is_array(json_object_get(k, "reader")));
        assert_true(json_is_boolean(json_object_get(k, "required")));
        assert_non_null(json_string_value(json_object_get(k, "format")));
        const char *meaning = json_string_value(json_object_get(k, "meaning"));
        assert_non_null(meaning);
        assert_true(strlen(meaning) > 10);
        /* no duplicates within a directory */
        size_t j;
        json_t *o;
        json_array_foreach(keys, j, o) {
            if (j <= i)
                continue;
            bool same = !strcmp(dir, json_string_value(json_object_get(o, "dir"))) &&
                        !strcmp(path, json_string_value(json_object_get(o, "path")));
            if (same)
                fail_msg("%s/%s described twice", dir, path);
        }
    }
}

/* A key from the code is described if some schema path is it, ends in
 * "/<key>" or begins with "<key>/". */
static bool described(const char *key)
{
    size_t i, kl = strlen(key);
    json_t *k;
    json_array_foreach(json_object_get(schema, "keys"), i, k) {
        const char *p = json_string_value(json_object_get(k, "path"));
        size_t pl = strlen(p);
        if (!strcmp(p, key))
            return true;
        if (pl > kl && p[pl - kl - 1] == '/' && !strcmp(p + pl - kl, key))
            return true;
        if (pl > kl && !strncmp(p, key, kl) && p[kl] == '/')
            return true;
    }
    return false;
}

/* Literals that look like keys but are words of log messages. */
static const char *const not_keys[] = { "read-only", NULL };

static unsigned check_source(const char *rel)
{
    static const char *const patterns[] = {
        "\"%s/([a-z][a-z0-9%-]*)\"",                      /* "%s/key" */
        "(bp|fp|dir), \"([a-z][a-z0-9%-]*)\"",            /* (..., dir, "key") */
        "\"([a-z][a-z0-9%]*(-[a-z0-9%]+)+)\"",            /* "some-key" */
    };
    static const int group[] = { 1, 2, 1 };
    char *src = slurp(rel);
    unsigned found = 0;
    for (unsigned pi = 0; pi < sizeof(patterns) / sizeof(patterns[0]); pi++) {
        regex_t re;
        assert_int_equal(regcomp(&re, patterns[pi], REG_EXTENDED), 0);
        const char *s = src;
        regmatch_t m[4];
        while (regexec(&re, s, 4, m, 0) == 0) {
            char key[128];
            int g = group[pi];
            size_t len = (size_t)(m[g].rm_eo - m[g].rm_so);
            assert_true(len < sizeof(key));
            memcpy(key, s + m[g].rm_so, len);
            key[len] = '\0';
            bool skip = false;
            for (const char *const *n = not_keys; *n; n++)
                skip |= !strcmp(*n, key);
            if (!skip) {
                if (!described(key))
                    fail_msg("%s touches \"%s\", which xenstore-schema/vbd.json lacks", rel, key);
                found++;
            }
            s += m[0].rm_eo;
        }
        regfree(&re);
    }
    free(src);
    return found;
}

static void class_keys_are_described(void **state)
{
    (void)state;
    /* Enough keys found that the scan itself is known to work. */
    assert_true(check_source("blkback/blk_xenbus.c") >= 25);
}

static void bus_keys_are_described(void **state)
{
    (void)state;
    assert_true(check_source("backend/xenbus_device.c") >= 6);
}

static void scan_catches_a_missing_key(void **state)
{
    (void)state;
    assert_true(described("multi-queue-num-queues"));
    assert_true(described("ring-ref%u"));
    assert_true(described("queue-%u"));
    assert_false(described("feature-made-up"));
    assert_false(described("queue"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(entries_are_complete),
        cmocka_unit_test(scan_catches_a_missing_key),
        cmocka_unit_test(class_keys_are_described),
        cmocka_unit_test(bus_keys_are_described),
    };
    return cmocka_run_group_tests(tests, find_root, drop_schema);
}
