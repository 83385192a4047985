/*
 * sctl_schema_test.c - the schema model behind `sidecorectl check-xenstore`
 * (sctl_schema.h) on a small schema of its own: live paths matched to
 * entries (%u as any number, directories on the way), values by format,
 * values and range (a bound naming a key), the keys a state requires, and
 * each inconsistency of an entry refused with a message.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "sctl_schema.h"

static const char schema_text[] =
    "{ \"device\": \"vbd\", \"types\": [\"vbd\"],\n"
    "  \"dirs\": { \"backend\": \"/b\", \"frontend\": \"/f\" },\n"
    "  \"roles\": { \"toolstack\": \"libxl\", \"backend\": \"us\", \"frontend\": \"guest\" },\n"
    "  \"keys\": [\n"
    "    { \"dir\": \"backend\", \"path\": \"state\", \"writer\": [\"toolstack\"], \"reader\": [],\n"
    "      \"required\": true, \"format\": \"uint\", \"range\": [1, 6], \"meaning\": \"our state here\" },\n"
    "    { \"dir\": \"backend\", \"path\": \"sectors\", \"writer\": [\"backend\"], \"reader\": [],\n"
    "      \"required\": true, \"required_from\": 4, \"format\": \"uint\", \"meaning\": \"the size in sectors\" },\n"
    "    { \"dir\": \"backend\", \"path\": \"max-queues\", \"writer\": [\"backend\"], \"reader\": [],\n"
    "      \"required\": true, \"required_from\": 2, \"format\": \"uint\", \"meaning\": \"most queues offered\" },\n"
    "    { \"dir\": \"backend\", \"path\": \"sector-size\", \"writer\": [\"backend\"], \"reader\": [],\n"
    "      \"required\": false, \"format\": \"uint\", \"values\": [512, 4096], \"meaning\": \"logical block size\" },\n"
    "    { \"dir\": \"backend\", \"path\": \"mode\", \"writer\": [\"toolstack\"], \"reader\": [],\n"
    "      \"required\": false, \"format\": \"enum\", \"values\": [\"r\", \"w\"], \"meaning\": \"read-only or not\" },\n"
    "    { \"dir\": \"backend\", \"path\": \"mac\", \"writer\": [\"toolstack\"], \"reader\": [],\n"
    "      \"required\": false, \"format\": \"mac\", \"meaning\": \"an address of the guest\" },\n"
    "    { \"dir\": \"backend\", \"path\": \"rate\", \"writer\": [\"toolstack\"], \"reader\": [],\n"
    "      \"required\": false, \"format\": \"rate\", \"meaning\": \"bytes per interval\" },\n"
    "    { \"dir\": \"backend\", \"path\": \"frontend\", \"writer\": [\"toolstack\"], \"reader\": [],\n"
    "      \"required\": true, \"format\": \"path\", \"meaning\": \"the frontend's directory\" },\n"
    "    { \"dir\": \"backend\", \"path\": \"online\", \"writer\": [\"toolstack\"], \"reader\": [],\n"
    "      \"required\": false, \"default\": \"0\", \"format\": \"bool\", \"meaning\": \"keep it after close\" },\n"
    "    { \"dir\": \"frontend\", \"path\": \"queues\", \"writer\": [\"frontend\"], \"reader\": [],\n"
    "      \"required\": false, \"format\": \"uint\", \"range\": [1, \"max-queues\"], \"meaning\": \"queues wanted\" },\n"
    "    { \"dir\": \"frontend\", \"path\": \"queue-%u/ring-ref%u\", \"writer\": [\"frontend\"], \"reader\": [],\n"
    "      \"required\": false, \"format\": \"uint\", \"meaning\": \"a ring page's grant\" }\n"
    "  ] }\n";

static char path[64];
static struct sctl_schema s;

static int setup(void **state)
{
    (void)state;
    snprintf(path, sizeof(path), "/tmp/sctl_schema_test.%d.json", (int)getpid());
    FILE *f = fopen(path, "w");
    if (!f || fputs(schema_text, f) < 0 || fclose(f) != 0)
        return -1;
    char err[256];
    int rc = sctl_schema_load(&s, path, err, sizeof(err));
    if (rc < 0)
        fprintf(stderr, "# %s\n", err);
    return rc;
}

static int teardown(void **state)
{
    (void)state;
    sctl_schema_free(&s);
    unlink(path);
    return 0;
}

static void loads_and_is_consistent(void **state)
{
    (void)state;
    char msg[256];
    assert_string_equal(s.device, "vbd");
    assert_int_equal(json_array_size(s.keys), 11);
    assert_int_equal(sctl_schema_check_all(&s, msg, sizeof(msg)), 0);
}

static void load_refusals(void **state)
{
    (void)state;
    struct sctl_schema t;
    char err[512];
    assert_int_equal(sctl_schema_load(&t, "/nonexistent/x.json", err, sizeof(err)), -ENOENT);
    char p[80];
    snprintf(p, sizeof(p), "/tmp/sctl_schema_test.%d.bad.json", (int)getpid());
    const char *bad[] = { "{\"keys\": [], \"keys\": []}", "{\"keys\": []}", "[1" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        FILE *f = fopen(p, "w");
        assert_non_null(f);
        fputs(bad[i], f);
        fclose(f);
        assert_int_equal(sctl_schema_load(&t, p, err, sizeof(err)), -EINVAL);
        assert_non_null(strstr(err, p));
    }
    unlink(p);
}

static const char *path_of(json_t *k)
{
    return k ? sctl_schema_str(k, "path") : "(none)";
}

static void paths_match_entries(void **state)
{
    (void)state;
    assert_string_equal(path_of(sctl_schema_find(&s, "backend", "sectors")), "sectors");
    assert_string_equal(path_of(sctl_schema_find(&s, "frontend", "queue-0/ring-ref12")),
                        "queue-%u/ring-ref%u");
    assert_null(sctl_schema_find(&s, "frontend", "sectors"));       /* another dir's */
    assert_null(sctl_schema_find(&s, "backend", "sectorsx"));
    assert_null(sctl_schema_find(&s, "frontend", "queue-x/ring-ref1"));
    assert_null(sctl_schema_find(&s, "frontend", "queue-0/ring-ref"));
    assert_null(sctl_schema_find(&s, "frontend", "queue-0"));
    assert_true(sctl_schema_is_parent(&s, "frontend", "queue-0"));
    assert_true(sctl_schema_is_parent(&s, "frontend", "queue-17"));
    assert_false(sctl_schema_is_parent(&s, "frontend", "queue-"));
    assert_false(sctl_schema_is_parent(&s, "backend", "queue-0"));
    assert_false(sctl_schema_is_parent(&s, "frontend", "queue-0/ring-ref1"));
    assert_true(sctl_schema_described(&s, "ring-ref%u"));
    assert_true(sctl_schema_described(&s, "queue-%u"));
    assert_false(sctl_schema_described(&s, "queue"));
}

/* The check of `value` against entry dir/path; `expected` when refused. */
static int check(const char *dir, const char *p, const char *value, const char *high,
                 char *expected)
{
    json_t *k = sctl_schema_find(&s, dir, p);
    assert_non_null(k);
    expected[0] = '\0';
    return sctl_schema_value_check(k, value, high, expected, 160);
}

static void values_by_format(void **state)
{
    (void)state;
    char e[160];
    assert_int_equal(check("backend", "sectors", "131072", NULL, e), 0);
    assert_int_equal(check("backend", "sectors", "abc", NULL, e), -EINVAL);
    assert_string_equal(e, "an unsigned decimal number");
    assert_int_equal(check("backend", "sectors", "", NULL, e), -EINVAL);
    assert_int_equal(check("backend", "sectors", "-1", NULL, e), -EINVAL);
    assert_int_equal(check("backend", "sectors", "99999999999999999999", NULL, e), -EINVAL);
    assert_int_equal(check("backend", "state", "4", NULL, e), 0);
    assert_int_equal(check("backend", "state", "7", NULL, e), -EINVAL);
    assert_string_equal(e, "a number in [1, 6]");
    assert_int_equal(check("backend", "sector-size", "4096", NULL, e), 0);
    assert_int_equal(check("backend", "sector-size", "1024", NULL, e), -EINVAL);
    assert_string_equal(e, "one of 512, 4096");
    assert_int_equal(check("backend", "mode", "w", NULL, e), 0);
    assert_int_equal(check("backend", "mode", "rw", NULL, e), -EINVAL);
    assert_string_equal(e, "one of \"r\", \"w\"");
    assert_int_equal(check("backend", "online", "1", NULL, e), 0);
    assert_int_equal(check("backend", "online", "2", NULL, e), -EINVAL);
    assert_string_equal(e, "0 or 1");
    assert_int_equal(check("backend", "mac", "00:16:3e:0A:bc:01", NULL, e), 0);
    assert_int_equal(check("backend", "mac", "00:16:3e:0a:bc", NULL, e), -EINVAL);
    assert_int_equal(check("backend", "mac", "00-16-3e-0a-bc-01", NULL, e), -EINVAL);
    assert_int_equal(check("backend", "mac", "00:16:3e:0g:bc:01", NULL, e), -EINVAL);
    assert_int_equal(check("backend", "rate", "1250000,50000", NULL, e), 0);
    assert_int_equal(check("backend", "rate", "10Mb/s", NULL, e), -EINVAL);
    assert_int_equal(check("backend", "rate", "100,", NULL, e), -EINVAL);
    assert_int_equal(check("backend", "frontend", "/local/domain/1/device/vbd/51712", NULL, e), 0);
    assert_int_equal(check("backend", "frontend", "local/domain/1", NULL, e), -EINVAL);
    assert_string_equal(e, "an absolute path");
}

static void a_bound_naming_a_key(void **state)
{
    (void)state;
    char e[160];
    assert_int_equal(check("frontend", "queues", "4", "4", e), 0);
    assert_int_equal(check("frontend", "queues", "5", "4", e), -EINVAL);
    assert_string_equal(e, "a number in [1, max-queues (4)]");
    assert_int_equal(check("frontend", "queues", "0", "4", e), -EINVAL);
    /* no bound read: only the low end holds */
    assert_int_equal(check("frontend", "queues", "500", NULL, e), 0);
    assert_int_equal(check("frontend", "queues", "0", NULL, e), -EINVAL);
    assert_string_equal(e, "a number in [1, max-queues]");
}

static void keys_a_state_requires(void **state)
{
    (void)state;
    json_t *st = sctl_schema_find(&s, "backend", "state");
    json_t *probe = sctl_schema_find(&s, "backend", "max-queues");
    json_t *conn = sctl_schema_find(&s, "backend", "sectors");
    json_t *opt = sctl_schema_find(&s, "backend", "mode");
    for (unsigned i = 1; i <= 8; i++)
        assert_true(sctl_schema_required_in(st, i));
    assert_false(sctl_schema_required_in(probe, 1));
    assert_true(sctl_schema_required_in(probe, 2));
    assert_false(sctl_schema_required_in(conn, 3));
    assert_true(sctl_schema_required_in(conn, 4));
    /* closing: what a device that never connected had */
    assert_true(sctl_schema_required_in(probe, 6));
    assert_false(sctl_schema_required_in(conn, 5));
    assert_false(sctl_schema_required_in(conn, 6));
    assert_true(sctl_schema_required_in(conn, 7));
    assert_false(sctl_schema_required_in(opt, 4));
    assert_string_equal(sctl_schema_state_name(4), "Connected");
    assert_string_equal(sctl_schema_state_name(9), "?");
}

/* Entry `json` against the schema's dirs and roles: 0 or the message. */
static int entry(const char *json, char *msg)
{
    json_error_t err;
    json_t *k = json_loads(json, 0, &err);
    assert_non_null(k);
    msg[0] = '\0';
    int rc = sctl_schema_entry_check(&s, k, msg, 200);
    json_decref(k);
    return rc;
}

#define GOOD "\"writer\": [\"backend\"], \"reader\": [], \"meaning\": \"long enough meaning\""

static void inconsistent_entries_refused(void **state)
{
    (void)state;
    char m[200];
    assert_int_equal(entry("{\"dir\": \"backend\", \"path\": \"k\", " GOOD ", \"required\": true, "
                           "\"format\": \"uint\"}", m), 0);
    static const struct { const char *json, *says; } bad[] = {
        { "{\"dir\": \"nowhere\", \"path\": \"k\", " GOOD ", \"required\": true, \"format\": \"uint\"}",
          "no such dir" },
        { "{\"dir\": \"backend\", \"path\": \"k/\", " GOOD ", \"required\": true, \"format\": \"uint\"}",
          "relative to its dir" },
        { "{\"dir\": \"backend\", \"path\": \"k\", \"writer\": [], \"reader\": [], \"meaning\": \"long enough meaning\", "
          "\"required\": true, \"format\": \"uint\"}", "writer" },
        { "{\"dir\": \"backend\", \"path\": \"k\", \"writer\": [\"nobody\"], \"reader\": [], "
          "\"meaning\": \"long enough meaning\", \"required\": true, \"format\": \"uint\"}", "writer" },
        { "{\"dir\": \"backend\", \"path\": \"k\", " GOOD ", \"required\": 1, \"format\": \"uint\"}",
          "required is not" },
        { "{\"dir\": \"backend\", \"path\": \"k\", " GOOD ", \"required\": true, \"default\": \"1\", "
          "\"format\": \"uint\"}", "optional keys only" },
        { "{\"dir\": \"backend\", \"path\": \"k\", " GOOD ", \"required\": false, \"required_from\": 2, "
          "\"format\": \"uint\"}", "required_from" },
        { "{\"dir\": \"backend\", \"path\": \"k\", " GOOD ", \"required\": true, \"required_from\": 9, "
          "\"format\": \"uint\"}", "required_from" },
        { "{\"dir\": \"backend\", \"path\": \"k\", " GOOD ", \"required\": true, \"format\": \"number\"}",
          "unknown format \"number\"" },
        { "{\"dir\": \"backend\", \"path\": \"k\", " GOOD ", \"required\": true, \"format\": \"enum\"}",
          "lists its values" },
        { "{\"dir\": \"backend\", \"path\": \"k\", " GOOD ", \"required\": true, \"format\": \"uint\", "
          "\"range\": [5, 1]}", "below its low" },
        { "{\"dir\": \"backend\", \"path\": \"k\", " GOOD ", \"required\": true, \"format\": \"uint\", "
          "\"range\": [1]}", "[low, high]" },
        { "{\"dir\": \"backend\", \"path\": \"k\", \"writer\": [\"backend\"], \"reader\": [], "
          "\"meaning\": \"short\", \"required\": true, \"format\": \"uint\"}", "no meaning" },
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (entry(bad[i].json, m) != -EINVAL || !strstr(m, bad[i].says))
            fail_msg("entry %zu: got \"%s\", wanted a message with \"%s\"", i, m, bad[i].says);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(loads_and_is_consistent),
        cmocka_unit_test(load_refusals),
        cmocka_unit_test(paths_match_entries),
        cmocka_unit_test(values_by_format),
        cmocka_unit_test(a_bound_naming_a_key),
        cmocka_unit_test(keys_a_state_requires),
        cmocka_unit_test(inconsistent_entries_refused),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
