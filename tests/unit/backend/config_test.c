/*
 * config_test.c - sidecored's settings: defaults, the config file, every
 * malformed form rejected with its file:line, and the command line winning
 * over the file; the device classes' settings (`vbd.max-queues`, from the
 * file and the command line, their deprecated aliases, unknown classes and
 * keys), with the real vbd module and a test module.
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

#include "blkback.h"
#include "config.h"
#include "devclass.h"

/* A second class module: settings "level" (0..9, not above the cores once
 * finalized) and "name", alias "old-level"; type "tstdev" not by default. */
struct tst_config {
    unsigned level;
    char name[16];
};

static void tst_default(void *blob)
{
    struct tst_config *t = blob;
    t->level = 1;
    snprintf(t->name, sizeof(t->name), "none");
}

static int tst_set(void *blob, const char *key, const char *value, char *err, size_t errlen)
{
    struct tst_config *t = blob;
    unsigned long long v;
    if (strcmp(key, "level") == 0) {
        if (sc_config_parse_uint(value, 0, 9, &v) < 0) {
            snprintf(err, errlen, "'%s' is not a level", value);
            return -EINVAL;
        }
        t->level = (unsigned)v;
        return 0;
    }
    if (strcmp(key, "name") == 0) {
        snprintf(t->name, sizeof(t->name), "%s", value);
        return 0;
    }
    return -ENOENT;
}

static int tst_finalize(void *blob, const struct sc_config *c, char *err, size_t errlen)
{
    const struct tst_config *t = blob;
    if (t->level > c->cores) {
        snprintf(err, errlen, "level %u above the %u cores", t->level, c->cores);
        return -EINVAL;
    }
    return 0;
}

static const struct sc_class_setting tst_settings[] = {
    { "level", "N", "a level [1]" },
    { "name", "S", "a name [none]" },
    { NULL, NULL, NULL },
};
static const struct sc_class_alias tst_aliases[] = {
    { "old-level", "level", false },
    { NULL, NULL, false },
};
static const struct sc_class_type tst_types[] = { { "tstdev", false }, { NULL, false } };
static const struct sc_class_module tst_module = {
    .name = "tst",
    .types = tst_types,
    .config_size = sizeof(struct tst_config),
    .settings = tst_settings,
    .aliases = tst_aliases,
    .config_default = tst_default,
    .config_set = tst_set,
    .config_finalize = tst_finalize,
};

static const struct sc_class_module *const modules[] = { &blk_vbd_module, &tst_module, NULL };

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
    return sc_config_load(&cfg, modules, argc, argv, err, sizeof(err));
}

static const struct blk_config *vbd(void)
{
    const struct blk_config *b = sc_config_class(&cfg, "vbd");
    assert_non_null(b);
    return b;
}

static const struct tst_config *tst(void)
{
    const struct tst_config *t = sc_config_class(&cfg, "tst");
    assert_non_null(t);
    return t;
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
    assert_int_equal(cfg.mem_budget, 0);
    assert_int_equal(cfg.mem_budget_pct, SC_MEMBUDGET_DEFAULT_PCT);
    assert_int_equal(cfg.guest_mem_max, 0);
    assert_int_equal(cfg.ntypes, 1);
    assert_string_equal(cfg.types[0], "vbd");
    assert_string_equal(cfg.ctl_path, "/run/sidecore/sidecored.sock");
    assert_int_equal(cfg.platform, SC_XEN_AUTO);
    assert_int_equal(cfg.log_level, SC_LOG_INFO);
    assert_int_equal(cfg.ready_fd, -1);
    assert_int_equal(cfg.ntenants, 0);
    assert_int_equal(cfg.nmodules, 2);
    assert_null(sc_config_class(&cfg, "vif"));
    /* the vbd defaults: a queue per core, everything offered */
    assert_int_equal(vbd()->max_queues, 1);
    assert_int_equal(vbd()->max_ring_page_order, 4);
    assert_int_equal(vbd()->max_indirect_segments, 256);
    assert_int_equal(vbd()->max_persistent_grants, 1056);
    assert_true(vbd()->discard);
    assert_int_equal(tst()->level, 1);
    assert_string_equal(tst()->name, "none");
    assert_string_equal(cfg.config_path, "");
    /* vbd.max-queues follows the cores unless set */
    assert_int_equal(load("--cores", "3", NULL), 0);
    assert_int_equal(vbd()->max_queues, 3);
    /* the memory budget: a share of the host, or unlimited */
    assert_int_equal(load("--mem-budget", "10%", NULL), 0);
    assert_int_equal(cfg.mem_budget_pct, 10);
    assert_int_equal(load("--mem-budget", "unlimited", "--guest-mem-max", "1G", NULL), 0);
    assert_int_equal(cfg.mem_budget, 0);
    assert_int_equal(cfg.mem_budget_pct, 0);
    assert_int_equal(cfg.guest_mem_max, 1ull << 30);
}

/* metrics: off unless set; the same key on the command line and in the
 * file, the command line winning; a bad value names the forms. */
static void test_metrics(void **state)
{
    (void)state;
    assert_int_equal(load(NULL), 0);
    assert_int_equal(cfg.metrics.kind, SC_METRICS_OFF);
    assert_int_equal(load("--metrics", "9464", NULL), 0);
    assert_int_equal(cfg.metrics.kind, SC_METRICS_INET);
    assert_string_equal(cfg.metrics.host, "127.0.0.1");
    assert_int_equal(cfg.metrics.port, 9464);
    write_file("metrics = unix:/run/sidecore/metrics.sock\n");
    assert_int_equal(load("--config", file, NULL), 0);
    assert_int_equal(cfg.metrics.kind, SC_METRICS_UNIX);
    assert_string_equal(cfg.metrics.path, "/run/sidecore/metrics.sock");
    assert_int_equal(load("--config", file, "--metrics=[::1]:1", NULL), 0);
    assert_int_equal(cfg.metrics.kind, SC_METRICS_INET6);
    assert_int_equal(load("--config", file, "--metrics", "off", NULL), 0);
    assert_int_equal(cfg.metrics.kind, SC_METRICS_OFF);
    assert_int_equal(load("--metrics", "host:80", NULL), -EINVAL);
    assert_non_null(strstr(err, "metrics: 'host:80' is not off, PORT, ADDR:PORT"));
    write_file("metrics = 70000\n");
    assert_int_equal(load("--config", file, NULL), -EINVAL);
    assert_non_null(strstr(err, ":1: metrics: '70000'"));
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
               "mem-budget = 512M\n"
               "guest-mem-max = 64M\n"
               "types = vbd,qdisk\n"
               "ctl = /tmp/sc.sock\n"
               "platform = sim\n"
               "log-level = debug\n"
               "vbd.max-queues = 4\n"
               "vbd.max-ring-order = 2\n"
               "vbd.max-indirect = 0\n"
               "vbd.max-persistent = 64\n"
               "vbd.discard = no\n"
               "tst.level = 2\n"
               "tst.name = x y\n"
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
    assert_int_equal(cfg.mem_budget, 512ull << 20);
    assert_int_equal(cfg.mem_budget_pct, 0);
    assert_int_equal(cfg.guest_mem_max, 64ull << 20);
    assert_int_equal(cfg.ntypes, 2);
    assert_string_equal(cfg.types[1], "qdisk");
    assert_string_equal(cfg.ctl_path, "/tmp/sc.sock");
    assert_int_equal(cfg.platform, SC_XEN_SIM);
    assert_int_equal(cfg.log_level, SC_LOG_DEBUG);
    assert_int_equal(vbd()->max_queues, 4);
    assert_int_equal(vbd()->max_ring_page_order, 2);
    assert_int_equal(vbd()->max_indirect_segments, 0);
    assert_int_equal(vbd()->max_persistent_grants, 64);
    assert_false(vbd()->discard);
    assert_int_equal(tst()->level, 2);
    assert_string_equal(tst()->name, "x y");
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
        { "mem-budget = lots\n", 1, "mem-budget: 'lots' is not a size" },
        { "mem-budget = 150%\n", 1, "mem-budget" },
        { "guest-mem-max = 10%\n", 1, "guest-mem-max" },
        { "types = vbd,floppy\n", 1, "floppy" },
        { "types = floppy\n", 1, "not one of vbd, vbd3, qdisk, tstdev" },
        { "types = vbd,vbd\n", 1, "twice" },
        { "types = \n", 1, "missing value" },
        { "platform = kvm\n", 1, "platform" },
        { "log-level = loud\n", 1, "log-level" },
        { "max-queues = 0\n", 1, "max-queues" },
        { "max-ring-order = 5\n", 1, "max-ring-order" },
        { "max-indirect = 257\n", 1, "max-indirect" },
        { "max-persistent = many\n", 1, "max-persistent" },
        { "no-discard = maybe\n", 1, "no-discard: 'maybe' is not yes or no" },
        /* the namespaced names: messages name the key as written */
        { "vbd.max-queues = 0\n", 1, "vbd.max-queues: '0' is not a number in 1..256" },
        { "vbd.max-ring-order = 5\n", 1, "vbd.max-ring-order: '5'" },
        { "vbd.max-indirect = 257\n", 1, "vbd.max-indirect" },
        { "vbd.max-persistent = 1048577\n", 1, "vbd.max-persistent" },
        { "vbd.discard = maybe\n", 1, "vbd.discard: 'maybe' is not yes or no" },
        { "max-queues = 0\n", 1, "max-queues: '0' is not a number" },
        { "tst.level = 10\n", 1, "tst.level: '10' is not a level" },
        { "old-level = x\n", 1, "old-level: 'x' is not a level" },
        /* unknown classes and keys, named */
        { "vbd.max-queue = 2\n", 1, "unknown setting 'vbd.max-queue': class vbd has only "
                                     "max-queues, max-ring-order" },
        { "vif.max-queues = 2\n", 1, "unknown setting 'vif.max-queues': no device class "
                                      "'vif' (classes: vbd, tst)" },
        { "vbd. = 2\n", 1, "unknown setting 'vbd.'" },
        { ".x = 2\n", 1, "no device class ''" },
        { "vbd.no-discard = yes\n", 1, "unknown setting 'vbd.no-discard'" },
        /* a module's finalize sees the whole config */
        { "tst.level = 5\ncores = 2\n", 0, "tst: level 5 above the 2 cores" },
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
        /* a class prefix: vbd or vif, and the disks' read/write limits only on vbd */
        { "tenant.5.vfs.weight = 1\n", 1, "tenant 5: 'vfs.weight': the class before the dot "
                                          "is vbd or vif" },
        { "tenant.5..weight = 1\n", 1, "the class before the dot is vbd or vif" },
        { "tenant.5.vif.speed = 1\n", 1, "unknown setting 'speed'" },
        { "tenant.5.vif.weight = 0\n", 1, "weight '0'" },
        { "tenant.5.vif.read_iops = 10\n", 1, "vif.read_iops: read and write limits are for "
                                              "disks only" },
        /* checked per class: the class's own limit below a plain reservation */
        { "tenant.5.res_iops = 100\ntenant.5.vif.lim_iops = 50\n", 2,
          "tenant 5: vif.res_iops 100 above vif.lim_iops 50" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        write_file(cases[i].text);
        int ret = load("--config", file, NULL);
        char where[160] = ""; /* line 0: found after the file, no position */
        if (cases[i].line)
            snprintf(where, sizeof(where), "%s:%d:", file, cases[i].line);
        if (ret != -EINVAL || strncmp(err, where, strlen(where)) != 0 ||
            !strstr(err, cases[i].why))
            fail_msg("case %zu (%s): ret %d, err \"%s\", want \"%s ... %s\"", i, cases[i].text,
                     ret, err, where, cases[i].why);
    }
}

/* A plain key sets both classes, a prefixed one its class alone and wins
 * over the plain key whichever comes first; the file, the command line
 * and a tenant spec say it alike. */
static void test_tenant_classes(void **state)
{
    (void)state;
    write_file("tenant.5.weight = 200\n"
               "tenant.5.vif.weight = 800\n"
               "tenant.5.vbd.lim_iops = 3k\n"
               "tenant.5.lim_bps = 1M\n"
               "tenant.5.vbd.read_iops = 700\n"
               "tenant.6.vif.res_iops = 100\n");
    assert_int_equal(load("--config", file, "--tenant", "7:vif.weight=900,weight=300", NULL), 0);
    assert_int_equal(cfg.ntenants, 3);
    const struct sc_config_tenant *t = sc_config_find_tenant(&cfg, 5);
    assert_non_null(t);
    struct sc_sched_tenant_conf vbd, vif;
    sc_config_tenant_class(t, SC_TCLASS_VBD, &vbd);
    sc_config_tenant_class(t, SC_TCLASS_VIF, &vif);
    assert_int_equal(vbd.weight, 200);
    assert_int_equal(vif.weight, 800);
    assert_int_equal(vbd.limit.iops, 3000);
    assert_int_equal(vif.limit.iops, 0);
    assert_int_equal(vbd.limit.bps, 1ull << 20); /* plain: each class its own copy */
    assert_int_equal(vif.limit.bps, 1ull << 20);
    assert_int_equal(t->dirs.dir[SC_DIR_READ].iops, 700);
    assert_int_equal(t->class_set[SC_TCLASS_VIF], SC_TENANT_WEIGHT);
    assert_int_equal(t->class_set[SC_TCLASS_VBD], SC_TENANT_LIM_IOPS);

    /* only the class named */
    t = sc_config_find_tenant(&cfg, 6);
    assert_non_null(t);
    sc_config_tenant_class(t, SC_TCLASS_VBD, &vbd);
    sc_config_tenant_class(t, SC_TCLASS_VIF, &vif);
    assert_int_equal(vbd.reservation.iops, 0);
    assert_int_equal(vbd.weight, SC_SCHED_WEIGHT_DEFAULT);
    assert_int_equal(vif.reservation.iops, 100);

    /* the prefixed key wins though the plain one comes after it */
    t = sc_config_find_tenant(&cfg, 7);
    assert_non_null(t);
    sc_config_tenant_class(t, SC_TCLASS_VBD, &vbd);
    sc_config_tenant_class(t, SC_TCLASS_VIF, &vif);
    assert_int_equal(vbd.weight, 300);
    assert_int_equal(vif.weight, 900);

    /* the command line's prefixed key over the file's plain one */
    write_file("tenant.8.lim_iops = 500\n");
    assert_int_equal(load("--config", file, "--tenant", "8:vif.lim_iops=2000", NULL), 0);
    sc_config_tenant_class(sc_config_find_tenant(&cfg, 8), SC_TCLASS_VBD, &vbd);
    sc_config_tenant_class(sc_config_find_tenant(&cfg, 8), SC_TCLASS_VIF, &vif);
    assert_int_equal(vbd.limit.iops, 500);
    assert_int_equal(vif.limit.iops, 2000);

    /* a plain limit below a plain reservation, each class lifted by its own */
    assert_int_equal(load("--tenant", "9:res_iops=100,lim_iops=50,vbd.lim_iops=200,"
                                      "vif.lim_iops=300", NULL), 0);
    /* ... but not when one class keeps it */
    assert_int_equal(load("--tenant", "9:res_iops=100,lim_iops=50,vbd.lim_iops=200", NULL),
                     -EINVAL);
    assert_non_null(strstr(err, "tenant 9: res_iops 100 above lim_iops 50"));
    /* a refused prefixed key leaves no half-made tenant behind */
    assert_int_equal(load("--tenant", "10:vif.weight=0", NULL), -EINVAL);
    assert_null(sc_config_find_tenant(&cfg, 10));
    assert_int_equal(load("--tenant", "10:vif.write_bps=1M", NULL), -EINVAL);
    assert_non_null(strstr(err, "disks only"));
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
        { { "--core-capacity", "fast" }, "core-capacity: 'fast' is not auto, off or iops=N" },
        { { "--core-capacity", "iops=0" }, "core-capacity: 'iops=0'" },
        { { "--core-capacity", "iops=5k,speed=3" }, "core-capacity: 'iops=5k,speed=3'" },
        { { "--core-capacity", "iops=" }, "core-capacity" },
        { { "--vbd.max-queues", "0" }, "--vbd.max-queues: '0' is not a number in 1..256" },
        { { "--vbd.max-queues=300" }, "--vbd.max-queues: '300'" },
        { { "--vbd.max-queues" }, "needs a value" },
        { { "--vbd.discard", "perhaps" }, "--vbd.discard: 'perhaps' is not yes or no" },
        { { "--max-ring-order", "9" }, "--max-ring-order: '9'" },
        { { "--no-discard=yes" }, "--no-discard" },
        { { "--vbd.frob", "1" }, "unknown option '--vbd.frob': unknown setting 'vbd.frob': "
                                 "class vbd has only max-queues" },
        { { "--vif.max-queues=2" }, "unknown option '--vif.max-queues=2': unknown setting "
                                    "'vif.max-queues': no device class 'vif'" },
        { { "--tst.level", "7" }, "tst: level 7 above the 1 cores" },
        /* an ambiguous abbreviation is refused, not taken as the first match */
        { { "--vbd.max", "1" }, "unknown option '--vbd.max'" },
        { { "--t", "vbd" }, "unknown option '--t'" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int ret = load(cases[i].args[0], cases[i].args[1], cases[i].args[2], NULL);
        if (ret != -EINVAL || !strstr(err, cases[i].why))
            fail_msg("case %zu (%s): ret %d, err \"%s\"", i, cases[i].args[0], ret, err);
    }
    /* core-capacity: either dimension, suffixes, off, auto */
    assert_int_equal(load("--core-capacity", "iops=50k,bps=1G", NULL), 0);
    assert_int_equal(cfg.core_capacity.iops, 50000);
    assert_int_equal(cfg.core_capacity.bps, 1ull << 30);
    assert_false(cfg.admission_off);
    assert_int_equal(load("--core-capacity", "bps=100M", NULL), 0);
    assert_int_equal(cfg.core_capacity.iops, 0);
    assert_int_equal(cfg.core_capacity.bps, 100ull << 20);
    assert_int_equal(load("--core-capacity", "off", NULL), 0);
    assert_true(cfg.admission_off);
    assert_int_equal(load("--core-capacity", "auto", NULL), 0);
    assert_false(cfg.admission_off);
    assert_int_equal(cfg.core_capacity.iops, 0);
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
    assert_false(vbd()->discard);
    assert_string_equal(cfg.types[0], "vbd3");
    assert_int_equal(cfg.log_level, SC_LOG_WARN);
    assert_int_equal(vbd()->max_queues, 8);
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

/* Class settings on the command line: both spellings of a value, the
 * deprecated aliases, and the command line over the file. */
static void test_class_command_line(void **state)
{
    (void)state;
    assert_int_equal(load("--vbd.max-queues", "6", "--vbd.max-ring-order=1", "--vbd.discard",
                          "no", "--vbd.max-indirect", "32", "--vbd.max-persistent=0", "--cores",
                          "4", "--tst.level", "3", "--types", "vbd,tstdev", NULL), 0);
    assert_int_equal(vbd()->max_queues, 6);
    assert_int_equal(vbd()->max_ring_page_order, 1);
    assert_false(vbd()->discard);
    assert_int_equal(vbd()->max_indirect_segments, 32);
    assert_int_equal(vbd()->max_persistent_grants, 0);
    assert_int_equal(tst()->level, 3);
    assert_int_equal(cfg.ntypes, 2);
    assert_string_equal(cfg.types[1], "tstdev");

    /* the aliases, on the command line and in the file */
    assert_int_equal(load("--max-queues", "2", "--max-ring-order", "3", "--max-indirect", "0",
                          "--max-persistent", "9", "--no-discard", "--old-level", "0", NULL), 0);
    assert_int_equal(vbd()->max_queues, 2);
    assert_int_equal(vbd()->max_ring_page_order, 3);
    assert_int_equal(vbd()->max_indirect_segments, 0);
    assert_int_equal(vbd()->max_persistent_grants, 9);
    assert_false(vbd()->discard);
    assert_int_equal(tst()->level, 0);
    write_file("no-discard = no\nmax-queues = 5\nold-level = 0\n");
    assert_int_equal(load("--config", file, NULL), 0);
    assert_true(vbd()->discard);
    assert_int_equal(vbd()->max_queues, 5);
    write_file("no-discard = 1\n");
    assert_int_equal(load("--config", file, NULL), 0);
    assert_false(vbd()->discard);

    /* the command line wins, in either spelling, whatever the order */
    write_file("vbd.max-queues = 3\nvbd.discard = no\nmax-persistent = 7\n");
    assert_int_equal(load("--vbd.max-queues", "2", "--config", file, "--vbd.discard=yes", NULL),
                     0);
    assert_int_equal(vbd()->max_queues, 2);
    assert_true(vbd()->discard);
    assert_int_equal(vbd()->max_persistent_grants, 7);
    assert_int_equal(load("--config", file, "--max-queues", "4", NULL), 0);
    assert_int_equal(vbd()->max_queues, 4);
    /* an unambiguous abbreviation is fine, as for every long option */
    assert_int_equal(load("--vbd.max-q", "2", "--no-d", NULL), 0);
    assert_int_equal(vbd()->max_queues, 2);
    assert_false(vbd()->discard);
    /* the last of a repeated setting wins, alias or not */
    assert_int_equal(load("--vbd.max-queues", "2", "--max-queues", "3", NULL), 0);
    assert_int_equal(vbd()->max_queues, 3);

    /* sc_config_set directly: -ENOENT for what does not exist */
    assert_int_equal(load(NULL), 0);
    assert_int_equal(sc_config_set(&cfg, "vbd.max-queues", "7", 2, err, sizeof(err)), 0);
    assert_int_equal(vbd()->max_queues, 7);
    assert_int_equal(sc_config_set(&cfg, "vbd.nope", "7", 2, err, sizeof(err)), -ENOENT);
    assert_int_equal(sc_config_set(&cfg, "net.nope", "7", 2, err, sizeof(err)), -ENOENT);
    assert_int_equal(sc_config_set(&cfg, "nope", "7", 2, err, sizeof(err)), -ENOENT);
    assert_int_equal(sc_config_set(&cfg, "vbd.max-queues", "x", 2, err, sizeof(err)), -EINVAL);
}

/* A bad module list is refused; a config without modules has no types. */
static void test_module_list(void **state)
{
    (void)state;
    static const struct sc_class_module twice = { .name = "tst", .types = tst_types };
    static const struct sc_class_module dotted = { .name = "a.b", .types = tst_types };
    static const struct sc_class_module typeless = { .name = "none" };
    static const struct sc_class_type no_types[] = { { NULL, false } };
    static const struct sc_class_module empty = { .name = "empty", .types = no_types };
    static const struct sc_class_module big = { .name = "big", .types = tst_types,
                                                .config_size = SC_CONFIG_CLASS_CFG_MAX + 1 };
    const struct sc_class_module *const bad[][3] = {
        { &tst_module, &twice, NULL }, { &dotted, NULL, NULL }, { &typeless, NULL, NULL },
        { &empty, NULL, NULL },        { &big, NULL, NULL },
    };
    char *argv[] = { (char *)"sidecored", NULL };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        if (sc_config_load(&cfg, bad[i], 1, argv, err, sizeof(err)) != -EINVAL ||
            !strstr(err, "class module"))
            fail_msg("bad module list %zu accepted (%s)", i, err);
    }
    assert_int_equal(sc_config_load(&cfg, NULL, 1, argv, err, sizeof(err)), 0);
    assert_int_equal(cfg.ntypes, 0);
    assert_int_equal(cfg.nmodules, 0);
    assert_int_equal(sc_config_load(&cfg, NULL, 1, argv, err, sizeof(err)), 0);
    char *argv2[] = { (char *)"sidecored", (char *)"--max-queues", (char *)"2", NULL };
    assert_int_equal(sc_config_load(&cfg, NULL, 3, argv2, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "unknown option '--max-queues'"));
}

/* SIGHUP's reload reads the same command line and file again. */
static void test_reload(void **state)
{
    (void)state;
    static struct sc_config again;
    write_file("tenant.5.weight = 20\nvbd.max-queues = 2\n");
    static char *argv[] = { (char *)"sidecored", (char *)"--config", file, (char *)"--cores",
                            (char *)"2", NULL };
    assert_int_equal(sc_config_load(&cfg, modules, 5, argv, err, sizeof(err)), 0);
    write_file("tenant.5.weight = 30\nvbd.max-queues = 1\n");
    assert_int_equal(sc_config_reload(&cfg, &again, err, sizeof(err)), 0);
    assert_int_equal(again.cores, 2);
    assert_int_equal(sc_config_find_tenant(&again, 5)->conf.weight, 30);
    assert_int_equal(((const struct blk_config *)sc_config_class(&again, "vbd"))->max_queues, 1);
    assert_int_equal(again.nmodules, 2);
    write_file("tenant.5.weight = zero\n");
    assert_int_equal(sc_config_reload(&cfg, &again, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, ":1: tenant 5: weight 'zero'"));
}

/* --help lists the class settings and their aliases. */
static void test_usage(void **state)
{
    (void)state;
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    assert_non_null(f);
    sc_config_usage(f, modules);
    fclose(f);
    static const char *const want[] = {
        "--vbd.max-queues N", "--vbd.discard yes|no", "--tst.level N",
        "--no-discard           deprecated: --vbd.discard no",
        "--max-queues VALUE     deprecated: --vbd.max-queues",
        "vbd3 qdisk", "vbd*",
    };
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
        if (!strstr(text, want[i]))
            fail_msg("usage lacks \"%s\":\n%s", want[i], text);
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_ctl_path_follows_xensim),
        cmocka_unit_test(test_metrics),
        cmocka_unit_test(test_file),
        cmocka_unit_test(test_malformed_file),
        cmocka_unit_test(test_tenant_classes),
        cmocka_unit_test(test_long_line_and_missing_file),
        cmocka_unit_test(test_command_line_wins),
        cmocka_unit_test(test_command_line_errors),
        cmocka_unit_test(test_options_and_help),
        cmocka_unit_test(test_class_command_line),
        cmocka_unit_test(test_module_list),
        cmocka_unit_test(test_reload),
        cmocka_unit_test(test_usage),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
