/*
 * config.h - sidecored's settings: defaults, the config file and the command
 * line, in that order of precedence (the command line wins).
 *
 * Contract: sc_config_load() builds a complete struct sc_config from
 * nothing but argv (which may name the file with --config); it never opens
 * the platform or touches the system beyond reading the file.  Every
 * setting has one name used both as a long option (--poll-idle-us 100) and
 * as a file key (poll-idle-us = 100); guests are `--tenant
 * 5:weight=200,lim_iops=5000` on the command line and `tenant.5.weight =
 * 200` in the file; `vif.weight`, `tenant.5.vbd.lim_iops` set one of the
 * guest's classes (struct sc_config_tenant).  Errors come back as -EINVAL with a one-line message
 * naming file:line (or the option) in `err`.
 *
 * Device classes bring their own settings (devclass.h): the caller passes
 * the class modules, and `<class>.<key>` (file) or `--<class>.<key> VALUE`
 * (command line) goes to the module named <class>, into that module's blob
 * (sc_config_class()).  A module's deprecated un-namespaced aliases are
 * accepted too.  `types` takes any type a module serves.
 *
 * Threads: pure functions over the caller's struct; any thread.
 * Returns: 0 or negative errno.
 */
#ifndef SC_CONFIG_H
#define SC_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "corepool.h"
#include "log.h"
#include "metrics_addr.h"
#include "dirlimit.h"
#include "sched.h"
#include "tenant.h"
#include "xen.h"

#define SC_CONFIG_MAX_TYPES    8
#define SC_CONFIG_TYPE_MAX     16  /* a type's name with its NUL */
#define SC_CONFIG_MAX_CLASSES  4   /* class modules */
#define SC_CONFIG_CLASS_CFG_MAX 256 /* bytes of one module's settings */
#define SC_CONFIG_MAX_TENANTS  256
#define SC_CONFIG_ERR_MAX      512
#define SC_CONFIG_PATH_MAX     256
#define SC_CONFIG_GROUP_MAX    64  /* a group name with its NUL */
#define SC_CONFIG_DEFAULT_CTL  "/run/sidecore/sidecored.sock"
#define SC_CONFIG_SIM_CTL_NAME "sidecored.sock" /* under $XENSIM_DIR */
#define SC_CONFIG_POLL_IDLE_MAX_US 10000000ull  /* 10 s */

/* Which fields of a tenant were given (the rest keep their current value). */
enum {
    SC_TENANT_WEIGHT   = 1u << 0,
    SC_TENANT_RES_IOPS = 1u << 1,
    SC_TENANT_RES_BPS  = 1u << 2,
    SC_TENANT_LIM_IOPS = 1u << 3,
    SC_TENANT_LIM_BPS  = 1u << 4,
    SC_TENANT_READ_IOPS  = 1u << 5,
    SC_TENANT_READ_BPS   = 1u << 6,
    SC_TENANT_WRITE_IOPS = 1u << 7,
    SC_TENANT_WRITE_BPS  = 1u << 8,
};

/* A guest's settings.  Its disks and its network interfaces are two
 * tenants (tenant.h): a plain key (weight) sets both, each its own copy; a
 * prefixed one (vif.weight) sets one class and wins over the plain key,
 * whichever came first.  sc_config_tenant_class() gives what one class
 * gets. */
struct sc_config_tenant {
    domid_t domid;
    unsigned set;                     /* SC_TENANT_* given without a prefix */
    struct sc_sched_tenant_conf conf; /* ... their values (weight 100, no rates elsewhere) */
    unsigned class_set[SC_TCLASS__COUNT]; /* SC_TENANT_* given as vbd.KEY, vif.KEY */
    struct sc_sched_tenant_conf class_conf[SC_TCLASS__COUNT]; /* ... their values */
    struct sc_dir_rates dirs;         /* its disks' read/write limits (dirlimit.h) */
    int line;                         /* file line of its last setting, 0 if none */
};

/* What class c of t gets: its prefixed settings over the plain ones. */
void sc_config_tenant_class(const struct sc_config_tenant *t, enum sc_tclass c,
                            struct sc_sched_tenant_conf *out);

struct sc_class_module;

/* One module's settings, laid out by the module. */
union sc_config_class_blob {
    max_align_t align;
    unsigned char bytes[SC_CONFIG_CLASS_CFG_MAX];
};

struct sc_config {
    char config_path[SC_CONFIG_PATH_MAX]; /* "" when no file */
    /* the pool */
    enum sc_mode mode;
    unsigned cores;                       /* 1..SC_POOL_MAX_CORES [1] */
    unsigned cores_min;                   /* active at start, the balancer adds up
                                           * to `cores` (0: all, a fixed count) [0] */
    unsigned ncpus;                       /* 0 = no pinning, else == cores */
    int cpus[SC_POOL_MAX_CORES];
    uint64_t poll_idle_us;                /* [200] */
    bool poll_adaptive;                   /* poll-window adaptive|fixed [adaptive] */
    /* moving queues between cores by load (balancer.h) */
    bool rebalance;                       /* [on] */
    uint64_t rebalance_interval_ms;       /* [1000] */
    unsigned rebalance_spread_pct;        /* [25] */
    unsigned steal_backoff_pct;           /* steal.h; 0 = never [SC_STEAL_BACKOFF_PCT_DEFAULT] */
    /* admission of reservations (admission.h): what one sidecore serves
     * per busy second; 0 in a field: measured [auto: both measured] */
    struct sc_sched_rate core_capacity;
    bool admission_off;                   /* core-capacity off: admit every reservation */
    uint32_t uring_entries;               /* [SC_CORE_URING_DEFAULT] */
    /* the queues' memory budget (membudget.h): bytes, or a percentage of
     * MemTotal; both 0 = unlimited [SC_MEMBUDGET_DEFAULT_PCT %] */
    uint64_t mem_budget;
    unsigned mem_budget_pct;
    uint64_t guest_mem_max;               /* per guest, 0 = no cap [0] */
    /* devices */
    unsigned ntypes;
    char types[SC_CONFIG_MAX_TYPES][SC_CONFIG_TYPE_MAX]; /* [the modules' defaults] */
    unsigned nmodules;                    /* the class modules, as passed to load */
    const struct sc_class_module *modules[SC_CONFIG_MAX_CLASSES];
    union sc_config_class_blob class_cfg[SC_CONFIG_MAX_CLASSES]; /* modules[i]'s settings */
    /* the daemon */
    char ctl_path[SC_CONFIG_PATH_MAX];    /* "" until sc_config_load fills the default */
    char ctl_group[SC_CONFIG_GROUP_MAX];  /* the socket's group, name or gid ["": ours] */
    unsigned ctl_mode;                    /* the socket's mode [0660] */
    char ctl_admin_group[SC_CONFIG_GROUP_MAX]; /* may call any method ["": none] */
    struct sc_metrics_addr metrics;       /* the Prometheus endpoint [off] (a restart
                                           * changes it, not SIGHUP) */
    enum sc_xen_platform platform;        /* [auto] */
    enum sc_log_level log_level;          /* [info] */
    int ready_fd;                         /* -1: none (command line only) */
    /* guests */
    unsigned ntenants;
    struct sc_config_tenant tenants[SC_CONFIG_MAX_TENANTS];

    /* bookkeeping: where cores/cpus came from, so one source's "cores"
     * and another's "cpus" do not fight (0 default, 1 file, 2 command line) */
    int cores_source, cpus_source;
    int line_now; /* file line being applied (0 off the file), for tenant.line */
    /* the command line it was loaded from, for sc_config_reload (argv is
     * the caller's and must outlive c for that) */
    int argc;
    char *const *argv;
};

/* `modules`, wherever a function takes them: the class modules, a
 * NULL-terminated list (NULL for none), static (they outlive c).
 *
 * Fills the defaults, the modules' included (ctl_path left "": see
 * sc_config_load).  0, or -EINVAL with a message when the module list is
 * unusable (more than SC_CONFIG_MAX_CLASSES, a name used twice, a blob
 * too big, no types): a programming error. */
int sc_config_default(struct sc_config *c, const struct sc_class_module *const *modules,
                      char *err, size_t errlen);

/* Sets one setting by its name ("poll-idle-us", "tenant.5.weight",
 * "vif.max-queues", an alias "max-queues", ...) from `source` (1 file, 2
 * command line).  0, or -EINVAL with a message (without position, naming
 * the key) in err; -ENOENT for an unknown key, class or class setting. */
int sc_config_set(struct sc_config *c, const char *key, const char *value, int source,
                  char *err, size_t errlen);

/* Reads `key = value` lines (# comments, blank lines) from `path` on top
 * of c.  0, -EINVAL with "path:line: message" in err, or -errno when the
 * file cannot be read (message in err). */
int sc_config_parse_file(struct sc_config *c, const char *path, char *err, size_t errlen);

/* Adds or merges a `DOMID:key=value,...` tenant spec from `source`. */
int sc_config_parse_tenant_spec(struct sc_config *c, const char *spec, int source, char *err,
                                size_t errlen);

/* Defaults, then the file named by --config (if any), then the rest of
 * argv (argv[0] is the program), then the derived defaults (ctl path, each
 * module's config_finalize).  0; -EINVAL with a message; 1 when --help was
 * asked for (usage printed to stdout).  getopt state is reset, so it can
 * run again (SIGHUP reload).  -ENOMEM (message set) if the option table
 * cannot be built. */
int sc_config_load(struct sc_config *c, const struct sc_class_module *const *modules, int argc,
                   char *const argv[], char *err, size_t errlen);
/* Loads again what `old` was loaded from (its modules, command line and so
 * its file) into out: SIGHUP.  As sc_config_load (never 1). */
int sc_config_reload(const struct sc_config *old, struct sc_config *out, char *err,
                     size_t errlen);

/* The settings blob of the module called `name`, or NULL. */
void *sc_config_class(struct sc_config *c, const char *name);

/* For modules' config_set: a decimal number in min..max (no sign, no
 * suffix), or yes/no (1/0, true/false, on/off).  0 or -EINVAL. */
int sc_config_parse_uint(const char *s, unsigned long long min, unsigned long long max,
                         unsigned long long *out);
int sc_config_parse_bool(const char *s, bool *out);

/* The ctl socket sidecored uses when none is configured, for platform p:
 * $XENSIM_DIR/sidecored.sock on xensim (auto with $XENSIM_DIR set), else
 * SC_CONFIG_DEFAULT_CTL.  Writes into buf (size len); 0 or -ENAMETOOLONG. */
int sc_config_default_ctl_path(enum sc_xen_platform p, char *buf, size_t len);

/* The tenant entry for domid, or NULL. */
const struct sc_config_tenant *sc_config_find_tenant(const struct sc_config *c, domid_t domid);

/* --help: the generic options, then each module's settings and aliases. */
void sc_config_usage(FILE *out, const struct sc_class_module *const *modules);
/* Every key a config file takes, one a line (the generic settings in
 * their table's order, tenant.DOMID.<field>, then each class's
 * <class>.<key> and aliases): sidecored --list-settings, which the
 * manual's test compares with sidecored.conf(5). */
void sc_config_list_settings(FILE *out, const struct sc_class_module *const *modules);

#endif
