/*
 * config_example_test.c - the example config that make install and the
 * package put in /etc/sidecore (tools/config/sidecored.conf) stays true to
 * the parser: as shipped (all commented) it loads as the defaults, and with
 * every `#key = value` line uncommented it loads without an error, the
 * defaults it shows being the real ones.  Run from the source tree (make
 * test's working directory).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "blkback.h"
#include "config.h"
#include "devclass.h"
#include "netback.h"

#define EXAMPLE "tools/config/sidecored.conf"

static const struct sc_class_module *const modules[] = { &blk_vbd_module, &net_vif_module, NULL };

static char dir[64];
static char plain[128], uncommented[128];
static struct sc_config cfg, defaults;
static char err[SC_CONFIG_ERR_MAX];
static unsigned nsettings;

/* A commented setting is `#` then a key's first letter: prose has "# ". */
static int is_setting(const char *line)
{
    return line[0] == '#' && line[1] >= 'a' && line[1] <= 'z' && strchr(line, '=');
}

static int group_setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "%s/sc-confex.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(dir))
        return -1;
    snprintf(plain, sizeof(plain), "%s/plain.conf", dir);
    snprintf(uncommented, sizeof(uncommented), "%s/uncommented.conf", dir);
    FILE *in = fopen(EXAMPLE, "r");
    if (!in) {
        fprintf(stderr, "# cannot open %s: run from the source tree\n", EXAMPLE);
        return -1;
    }
    FILE *a = fopen(plain, "w"), *b = fopen(uncommented, "w");
    if (!a || !b)
        return -1;
    char line[512];
    while (fgets(line, sizeof(line), in)) {
        fputs(line, a);
        if (is_setting(line)) {
            fputs(line + 1, b);
            nsettings++;
        } else {
            fputs(line, b);
        }
    }
    fclose(in);
    fclose(a);
    fclose(b);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    unlink(plain);
    unlink(uncommented);
    rmdir(dir);
    return 0;
}

static int load(struct sc_config *c, const char *file)
{
    char *argv[4] = { (char *)"sidecored", NULL, NULL, NULL };
    int argc = 1;
    if (file) {
        argv[argc++] = (char *)"--config";
        argv[argc++] = (char *)file;
    }
    err[0] = '\0';
    return sc_config_load(c, modules, argc, argv, err, sizeof(err));
}

static void test_shipped_is_the_defaults(void **state)
{
    (void)state;
    assert_int_equal(load(&defaults, NULL), 0);
    assert_int_equal(load(&cfg, plain), 0);
    assert_int_equal(cfg.mode, defaults.mode);
    assert_int_equal(cfg.cores, defaults.cores);
    assert_int_equal(cfg.ncpus, 0);
    assert_int_equal(cfg.ntenants, 0);
}

static void test_every_setting_parses(void **state)
{
    (void)state;
    /* the example lists each setting; a reformatted file must not pass by
     * having none left to parse */
    assert_true(nsettings >= 30);
    int ret = load(&cfg, uncommented);
    if (ret != 0)
        fprintf(stderr, "# %s uncommented: %s\n", EXAMPLE, err);
    assert_int_equal(ret, 0);
    assert_int_equal(load(&defaults, NULL), 0);
    /* the values it shows as defaults are the defaults */
    assert_int_equal(cfg.mode, defaults.mode);
    assert_int_equal(cfg.cores, defaults.cores);
    assert_int_equal(cfg.poll_idle_us, defaults.poll_idle_us);
    assert_int_equal(cfg.poll_adaptive, defaults.poll_adaptive);
    assert_int_equal(cfg.rebalance, defaults.rebalance);
    assert_int_equal(cfg.rebalance_interval_ms, defaults.rebalance_interval_ms);
    assert_int_equal(cfg.rebalance_spread_pct, defaults.rebalance_spread_pct);
    assert_int_equal(cfg.uring_entries, defaults.uring_entries);
    assert_int_equal(cfg.mem_budget_pct, defaults.mem_budget_pct);
    assert_int_equal(cfg.ctl_mode, defaults.ctl_mode);
    assert_int_equal(cfg.log_level, defaults.log_level);
    /* and the examples took */
    assert_int_equal(cfg.ncpus, 1);
    assert_non_null(sc_config_find_tenant(&cfg, 5));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shipped_is_the_defaults),
        cmocka_unit_test(test_every_setting_parses),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
