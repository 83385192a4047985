/*
 * config_test.c - sidecored's settings: defaults, the config file, every
 * malformed form rejected with its file:line, and the command line winning
 * over the file.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "config.h"

static char dir[64];
static char file[128];
static struct sc_config cfg;
static char err[SC_CONFIG_ERR_MAX];

static int group_setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "%s/sc-config.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(dir))
        return -1;
    snprintf(file, sizeof(file), "%s/sidecored.conf", dir);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    unlink(file);
    rmdir(dir);
    return 0;
}

static void write_file(const char *text)
{
    FILE *f = fopen(file, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* sc_config_load over a NULL-terminated argument list (argv[0] added). */
static int load(const char *first, ...)
{
    char *argv[64];
    int argc = 0;
    argv[argc++] = (char *)"sidecored";
    va_list ap;
    va_start(ap, first);
    for (const char *a = first; a && argc < 63; a = va_arg(ap, const char *))
        argv[argc++] = (char *)a;
    va_end(ap);
    argv[argc] = NULL;
    err[0] = '\0';
    return sc_config_load(&cfg, argc, argv, err, sizeof(err));
}

static void test_defaults(void **state)
{
    (void)state;
    unsetenv("XENSIM_DIR");
    assert_int_equal(load(NULL), 0);
    assert_int_equal(cfg.mode, SC_MODE_POLL);
    assert_int_equal(cfg.cores, 1);
    assert_int_equal(cfg.ncpus, 0);
    assert_int_equal(cfg.poll_idle_us, 200);
    assert_int_equal(cfg.uring_entries, SC_CORE_URING_DEFAULT);
    assert_int_equal(cfg.ntypes, 1);
    assert_string_equal(cfg.types[0], "vbd");
    assert_string_equal(cfg.ctl_path, "/run/sidecore/sidecored.sock");
    assert_int_equal(cfg.platform, SC_XEN_AUTO);
    assert_int_equal(cfg.log_level, SC_LOG_INFO);
    assert_int_equal(cfg.ready_fd, -1);
    assert_int_equal(cfg.ntenants, 0);
    assert_true(cfg.max_queues == SC_CONFIG_UNSET && cfg.max_ring_order == SC_CONFIG_UNSET &&
                cfg.max_indirect == SC_CONFIG_UNSET && cfg.max_persistent == SC_CONFIG_UNSET);
    assert_false(cfg.no_discard);
    assert_string_equal(cfg.config_path, "");
}

static void test_ctl_path_follows_xensim(void **state)
{
    (void)state;
    setenv("XENSIM_DIR", "/tmp/world", 1);
    assert_int_equal(load(NULL), 0);
    assert_string_equal(cfg.ctl_path, "/tmp/world/sidecored.sock");
    assert_int_equal(load("--platform", "xen", NULL), 0);
    assert_string_equal(cfg.ctl_path, SC_CONFIG_DEFAULT_CTL);
    assert_int_equal(load("--ctl", "/tmp/x.sock", NULL), 0);
    assert_string_equal(cfg.ctl_path, "/tmp/x.sock");
    unsetenv("XENSIM_DIR");
}

static void test_file(void **state)
{
    (void)state;
    write_file("# sidecored settings\n"
               "\n"
               "cpus = 2,3\n"
               "mode=event   # trailing comment\n"
               "  poll-idle-us =  50  \n"
               "uring-entries = 1024\n"
               "types = vbd,qdisk\n"
               "ctl = /tmp/sc.sock\n"
               "platform = sim\n"
               "log-level = debug\n"
               "max-queues = 4\n"
               "max-ring-order = 2\n"
               "max-indirect = 0\n"
               "max-persistent = 64\n"
               "no-discard = yes\n"
               "tenant.5.weight = 200\n"
               "tenant.5.lim_iops = 5k\n"
               "tenant.5.res_iops = 1000\n"
               "tenant.7.lim_bps = 10M\n"
               "tenant = 9:weight=50,reservation_bps=1024\n");
    assert_int_equal(load("--config", file, NULL), 0);
    assert_string_equal(cfg.config_path, file);
    assert_int_equal(cfg.cores, 2);
    assert_int_equal(cfg.ncpus, 2);
    assert_int_equal(cfg.cpus[0], 2);
    assert_int_equal(cfg.cpus[1], 3);
    assert_int_equal(cfg.mode, SC_MODE_EVENT);
    assert_int_equal(cfg.poll_idle_us, 50);
    assert_int_equal(cfg.uring_entries, 1024);
    assert_int_equal(cfg.ntypes, 2);
    assert_string_equal(cfg.types[1], "qdisk");
    assert_string_equal(cfg.ctl_path, "/tmp/sc.sock");
    assert_int_equal(cfg.platform, SC_XEN_SIM);
    assert_int_equal(cfg.log_level, SC_LOG_DEBUG);
    assert_int_equal(cfg.max_queues, 4);
    assert_int_equal(cfg.max_ring_order, 2);
    assert_int_equal(cfg.max_indirect, 0);
    assert_int_equal(cfg.max_persistent, 64);
    assert_true(cfg.no_discard);
    assert_int_equal(cfg.ntenants, 3);
    const struct sc_config_tenant *t = sc_config_find_tenant(&cfg, 5);
    assert_non_null(t);
    assert_int_equal(t->conf.weight, 200);
    assert_int_equal(t->conf.limit.iops, 5000);
    assert_int_equal(t->conf.reservation.iops, 1000);
    assert_int_equal(t->conf.limit.bps, 0);
    assert_int_equal(t->set, SC_TENANT_WEIGHT | SC_TENANT_LIM_IOPS | SC_TENANT_RES_IOPS);
    t = sc_config_find_tenant(&cfg, 7);
    assert_non_null(t);
    assert_int_equal(t->conf.weight, SC_SCHED_WEIGHT_DEFAULT);
    assert_int_equal(t->conf.limit.bps, 10ull << 20);
    t = sc_config_find_tenant(&cfg, 9);
    assert_non_null(t);
    assert_int_equal(t->conf.weight, 50);
    assert_int_equal(t->conf.reservation.bps, 1024);
    assert_null(sc_config_find_tenant(&cfg, 6));
}

/* Each malformed file is refused with "file:line:" and a word of why. */
static void test_malformed_file(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        int line;
        const char *why;
    } cases[] = {
        { "cores 2\n", 1, "key = value" },
        { "# ok\n= 2\n", 2, "missing key" },
        { "\n\ncores =\n", 3, "missing value" },
        { "frobs = 1\n", 1, "unknown setting" },
        { "cores = two\n", 1, "cores" },
        { "cores = 0\n", 1, "cores" },
        { "cores = 65\n", 1, "cores" },
        { "cores = 2x\n", 1, "cores" },
        { "cores = -1\n", 1, "cores" },
        { "cores = 99999999999999999999999\n", 1, "cores" },
        { "cpus = 1,1\n", 1, "twice" },
        { "cpus = a\n", 1, "cpus" },
        { "cpus = 3-1\n", 1, "cpus" },
        { "cpus = 1,\n", 1, "cpus" },
        { "cpus = 99999\n", 1, "cpus" },
        { "cores = 2\ncpus = 1,2,3\n", 2, "cores" },
        { "mode = turbo\n", 1, "poll or event" },
        { "poll-idle-us = 10000001\n", 1, "poll-idle-us" },
        { "uring-entries = 0\n", 1, "uring-entries" },
        { "uring-entries = 65536\n", 1, "uring-entries" },
        { "types = vbd,floppy\n", 1, "floppy" },
        { "types = vbd,vbd\n", 1, "twice" },
        { "types = \n", 1, "missing value" },
        { "platform = kvm\n", 1, "platform" },
        { "log-level = loud\n", 1, "log-level" },
        { "max-queues = 0\n", 1, "max-queues" },
        { "max-ring-order = 5\n", 1, "max-ring-order" },
        { "max-indirect = 257\n", 1, "max-indirect" },
        { "max-persistent = many\n", 1, "max-persistent" },
        { "no-discard = maybe\n", 1, "no-discard" },
        { "ctl = /a/very/long/path/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
          "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.sock\n", 1, "ctl" },
        { "config = /etc/x\n", 1, "command-line" },
        { "ready-fd = 3\n", 1, "command-line" },
        { "tenant.x.weight = 1\n", 1, "domid" },
        { "tenant.32752.weight = 1\n", 1, "domid" },
        { "tenant.5 = 1\n", 1, "tenant" },
        { "tenant.5.weight = 0\n", 1, "weight" },
        { "tenant.5.weight = 10001\n", 1, "weight" },
        { "tenant.5.speed = 1\n", 1, "unknown setting" },
        { "tenant.5.lim_iops = 1q\n", 1, "lim_iops" },
        { "tenant.5.lim_iops = 100000001\n", 1, "lim_iops" },
        { "tenant = 5\n", 1, "DOMID:" },
        { "tenant = 5:weight\n", 1, "key=value" },
        /* the reservation is checked against the limit once the file is read,
         * and reported at the tenant's last line */
        { "tenant.5.res_iops = 100\n#\ntenant.5.lim_iops = 50\nmode = poll\n", 3, "res_iops" },
        { "tenant.3.res_bps = 2k\ntenant.3.lim_bps = 1k\n", 2, "res_bps" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        write_file(cases[i].text);
        int ret = load("--config", file, NULL);
        char where[160];
        snprintf(where, sizeof(where), "%s:%d:", file, cases[i].line);
        if (ret != -EINVAL || strncmp(err, where, strlen(where)) != 0 ||
            !strstr(err, cases[i].why))
            fail_msg("case %zu (%s): ret %d, err \"%s\", want \"%s ... %s\"", i, cases[i].text,
                     ret, err, where, cases[i].why);
    }
}

static void test_long_line_and_missing_file(void **state)
{
    (void)state;
    char *text = malloc(3000);
    assert_non_null(text);
    memset(text, 'x', 2998);
    text[2998] = '\n';
    text[2999] = '\0';
    write_file(text);
    free(text);
    assert_int_equal(load("--config", file, NULL), -EINVAL);
    assert_non_null(strstr(err, ":1: line longer"));

    char missing[160];
    snprintf(missing, sizeof(missing), "%s/none.conf", dir);
    assert_int_equal(load("--config", missing, NULL), -EINVAL);
    assert_non_null(strstr(err, "none.conf"));
    assert_non_null(strstr(err, strerror(ENOENT)));
}

static void test_command_line_wins(void **state)
{
    (void)state;
    write_file("cores = 3\nmode = event\npoll-idle-us = 10\n"
               "tenant.5.weight = 200\ntenant.5.lim_iops = 1000\n");
    /* --config may come after the options it is overridden by */
    assert_int_equal(load("--cores", "2", "--mode", "poll", "--tenant", "5:lim_iops=500",
                          "--config", file, NULL), 0);
    assert_int_equal(cfg.cores, 2);
    assert_int_equal(cfg.mode, SC_MODE_POLL);
    assert_int_equal(cfg.poll_idle_us, 10); /* from the file: not overridden */
    const struct sc_config_tenant *t = sc_config_find_tenant(&cfg, 5);
    assert_non_null(t);
    assert_int_equal(t->conf.weight, 200); /* merged, not replaced */
    assert_int_equal(t->conf.limit.iops, 500);

    /* the file's pinning gives way to a command-line core count, and the
     * other way round */
    write_file("cpus = 2,3\n");
    assert_int_equal(load("--config", file, "--cores", "4", NULL), 0);
    assert_int_equal(cfg.cores, 4);
    assert_int_equal(cfg.ncpus, 0);
    write_file("cores = 4\n");
    assert_int_equal(load("--config", file, "--cpus", "0-1", NULL), 0);
    assert_int_equal(cfg.cores, 2);
    assert_int_equal(cfg.ncpus, 2);
    assert_int_equal(cfg.cpus[1], 1);
    /* ... but on one command line they must agree */
    assert_int_equal(load("--cores", "3", "--cpus", "0,1", NULL), -EINVAL);
    assert_non_null(strstr(err, "cores"));
    assert_int_equal(load("--cores", "2", "--cpus", "0,1", NULL), 0);

    /* a command-line tenant whose reservation passes the file's limit */
    write_file("tenant.5.lim_iops = 100\n");
    assert_int_equal(load("--config", file, "--tenant", "5:res_iops=200", NULL), -EINVAL);
    assert_non_null(strstr(err, "--tenant 5: res_iops 200 above lim_iops 100"));
}

static void test_command_line_errors(void **state)
{
    (void)state;
    static const struct {
        const char *args[3];
        const char *why;
    } cases[] = {
        { { "--bogus" }, "unknown option '--bogus'" },
        { { "--cores" }, "needs a value" },
        { { "stray" }, "unexpected argument 'stray'" },
        { { "--cores", "0" }, "--cores" },
        { { "--mode", "fast" }, "--mode" },
        { { "--tenant", "5" }, "DOMID:" },
        { { "--tenant", "x:weight=1" }, "domid" },
        { { "--tenant", "5:weight=1,=3" }, "key=value" },
        { { "--tenant", "5:speed=1" }, "unknown setting 'speed'" },
        { { "--ready-fd", "x" }, "--ready-fd" },
        { { "--poll-idle-us", "-5" }, "--poll-idle-us" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int ret = load(cases[i].args[0], cases[i].args[1], cases[i].args[2], NULL);
        if (ret != -EINVAL || !strstr(err, cases[i].why))
            fail_msg("case %zu (%s): ret %d, err \"%s\"", i, cases[i].args[0], ret, err);
    }
    /* a refused tenant spec leaves no half-made tenant behind */
    assert_int_equal(load("--tenant", "8:weight=0", NULL), -EINVAL);
    assert_null(sc_config_find_tenant(&cfg, 8));
}

static void test_options_and_help(void **state)
{
    (void)state;
    assert_int_equal(load("--ready-fd", "7", "--no-discard", "--types", "vbd3",
                          "--log-level", "warn", "--max-queues", "8", "--tenant",
                          "3:weight=10,lim_bps=1G,res_bps=1M", "--tenant", "4:res_iops=2k", NULL),
                     0);
    assert_int_equal(cfg.ready_fd, 7);
    assert_true(cfg.no_discard);
    assert_string_equal(cfg.types[0], "vbd3");
    assert_int_equal(cfg.log_level, SC_LOG_WARN);
    assert_int_equal(cfg.max_queues, 8);
    assert_int_equal(cfg.ntenants, 2);
    assert_int_equal(sc_config_find_tenant(&cfg, 3)->conf.limit.bps, 1ull << 30);
    assert_int_equal(sc_config_find_tenant(&cfg, 3)->conf.reservation.bps, 1ull << 20);
    assert_int_equal(sc_config_find_tenant(&cfg, 4)->conf.reservation.iops, 2000);

    /* --help prints the usage (kept off the TAP stream) and returns 1 */
    fflush(stdout);
    int saved = dup(STDOUT_FILENO);
    int null = open("/dev/null", O_WRONLY);
    assert_true(saved >= 0 && null >= 0);
    dup2(null, STDOUT_FILENO);
    int ret = load("--cores", "2", "--help", NULL);
    fflush(stdout);
    dup2(saved, STDOUT_FILENO);
    close(saved);
    close(null);
    assert_int_equal(ret, 1);

    /* loading twice gives the same result (getopt state is reset: SIGHUP) */
    assert_int_equal(load("--cores", "3", NULL), 0);
    assert_int_equal(cfg.cores, 3);
    assert_int_equal(load("--cores", "3", NULL), 0);
    assert_int_equal(cfg.cores, 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_ctl_path_follows_xensim),
        cmocka_unit_test(test_file),
        cmocka_unit_test(test_malformed_file),
        cmocka_unit_test(test_long_line_and_missing_file),
        cmocka_unit_test(test_command_line_wins),
        cmocka_unit_test(test_command_line_errors),
        cmocka_unit_test(test_options_and_help),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
