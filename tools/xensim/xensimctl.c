/*
 * xensimctl - the toolstack of a xensim world (what xl is to Xen).
 *
 *   xensimctl [--dir DIR] create NAME [--mem MB]   prints the new domid
 *   xensimctl [--dir DIR] destroy DOMID|NAME [--cleanup]
 *   xensimctl [--dir DIR] list                     domid, name, state, mem
 *   xensimctl [--dir DIR] env DOMID|NAME           shell exports for that domain
 *   xensimctl [--dir DIR] vbd-attach DOMID --backend-domid B --target T --vdev V
 *                         [--mode r|w|w!] [--type vbd|vbd3|qdisk] [--script PATH]
 *   xensimctl [--dir DIR] vbd-detach DOMID DEVID [--force] [--timeout S]
 *   xensimctl [--dir DIR] vbd-list DOMID
 *   xensimctl [--dir DIR] vif-attach DOMID [mac=M] [bridge=BR] [backend=B] [devid=N]
 *                         [rate=R] [mtu=N] [vifname=NAME] [script=S] [ip=ADDRS]
 *   xensimctl [--dir DIR] vif-detach DOMID DEVID|MAC [--force] [--timeout S]
 *   xensimctl [--dir DIR] vif-list DOMID
 *
 * The vbd verbs write what libxl writes for a disk (xsim_device_add): backend dir
 * /local/domain/B/backend/<type>/DOMID/DEVID owned by B readable by DOMID,
 * frontend dir /local/domain/DOMID/device/vbd/DEVID owned by DOMID readable
 * by B, both in one transaction.  The vif verbs do the same for a network
 * interface (type vif, frontend dir device/vif/DEVID; devids from 0, a MAC
 * 00:16:3e:xx:xx:xx at random, xl's KEY=VALUE syntax; see write_vif for how
 * it differs from libxl).  DIR defaults to $XENSIM_DIR.  Acts as dom0.  Exit codes:
 * 0 success, 1 the operation failed, 2 usage error.
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <poll.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <xenstore.h>
#include <xen/io/xenbus.h>

#include "clock.h"
#include "place.h"
#include "xensim.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: xensimctl [--dir DIR] COMMAND    (--help: this help)\n"
            "  create NAME [--mem MB]   create a domain (default 64 MiB); prints its domid\n"
            "  destroy DOMID|NAME       destroy a domain\n"
            "  list                     list domains\n"
            "  env DOMID|NAME           print shell exports to act as that domain\n"
            "  destroy ... --cleanup    also remove the domain's device and backend dirs\n"
            "  vbd-attach DOMID --backend-domid B --target T --vdev xvda|NUM\n"
            "             [--mode r|w|w!] [--type vbd|vbd3|qdisk] [--script PATH]\n"
            "                           add a disk as libxl does; prints its devid\n"
            "  vbd-detach DOMID DEVID [--force] [--timeout S]\n"
            "                           online=0, Closing, wait for Closed, remove\n"
            "  vbd-list DOMID           the domain's disks and their states\n"
            "  vif-attach DOMID [mac=M] [bridge=BR] [backend=B] [devid=N] [rate=R]\n"
            "             [mtu=N] [vifname=NAME] [script=S] [ip=ADDRS]\n"
            "                           add a network interface as xl network-attach;\n"
            "                           prints its devid (rate: 10Mb/s@20ms or BYTES,USECS)\n"
            "  vif-detach DOMID DEVID|MAC [--force] [--timeout S]\n"
            "                           online=0, Closing, wait for Closed, remove\n"
            "  vif-list DOMID           the domain's vifs and their states\n"
            "  vcpu-set DOMID VCPU [pcpu=N] [pool=ID:NAME] [sched=NAME] [pinned=0|1]\n"
            "           [steal=PERCENT]   place a vCPU as Xen would report it; steal\n"
            "                           accrues at PERCENT of wall time from now\n"
            "  vcpu-list DOMID [N]      vCPUs 0..N-1 (default 4): placement, steal\n"
            "  vcpu-pin DOMID VCPU CPU|all   a vCPU's hard affinity (as xl vcpu-pin)\n"
            "  vcpus-set DOMID N        the domain's number of vCPUs (default 1)\n"
            "  pool-list                cpupools: CPUs, scheduler, domains; free CPUs\n"
            "  pool-create NAME [sched=NAME]  a cpupool without CPUs (default credit2)\n"
            "  pool-destroy POOL        an empty cpupool (POOL: id or name)\n"
            "  pool-cpu-add POOL CPU    a free physical CPU into a pool\n"
            "  pool-cpu-remove POOL CPU a pool's CPU out (free)\n"
            "  pool-migrate DOMID POOL  a domain into a pool (its vCPUs unpinned)\n"
            "DIR defaults to $XENSIM_DIR.\n");
}

/* Domid of a running (or dying) domain named by number or name, or -ESRCH. */
static int resolve(struct xsim *xs, const char *arg)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(arg, &end, 10);
    struct xsim_dominfo info;
    if (*arg && !*end && !errno) {
        if (v >= XSIM_MAX_DOMAINS || xsim_domain_info(xs, (domid_t)v, &info))
            return -ESRCH;
        return (int)v;
    }
    for (uint32_t d = 0; d < XSIM_MAX_DOMAINS; d++)
        if (xsim_domain_info(xs, (domid_t)d, &info) == 0 &&
            info.state == XSIM_DOM_RUNNING && strcmp(info.name, arg) == 0)
            return (int)d;
    return -ESRCH;
}

static int cmd_create(struct xsim *xs, int argc, char **argv)
{
    static const struct option opts[] = {
        { "mem", required_argument, NULL, 'm' },
        { NULL, 0, NULL, 0 },
    };
    unsigned long mem = 64;
    int c;
    optind = 0; /* restart GNU getopt: --mem may come before or after NAME */
    while ((c = getopt_long(argc, argv, "m:", opts, NULL)) != -1) {
        if (c != 'm')
            return 2;
        char *end;
        mem = strtoul(optarg, &end, 10);
        if (*end || mem == 0 || mem > UINT32_MAX) {
            fprintf(stderr, "xensimctl: create: bad --mem '%s'\n", optarg);
            return 2;
        }
    }
    if (optind != argc - 1) {
        usage(stderr);
        return 2;
    }
    const char *name = argv[optind];
    int ret = xsim_domain_create(xs, name, (uint32_t)mem);
    if (ret < 0) {
        fprintf(stderr, "xensimctl: create %s: %s\n", name,
                ret == -EEXIST ? "a domain with that name exists" : strerror(-ret));
        return 1;
    }
    printf("%d\n", ret);
    return 0;
}

static int cleanup_domain_dirs(const char *dir, int domid);

static int cmd_destroy(struct xsim *xs, const char *dir, int argc, char **argv)
{
    static const struct option opts[] = {
        { "cleanup", no_argument, NULL, 'c' },
        { NULL, 0, NULL, 0 },
    };
    bool cleanup = false;
    int c;
    optind = 0;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c != 'c')
            return 2;
        cleanup = true;
    }
    if (optind != argc - 1) {
        usage(stderr);
        return 2;
    }
    const char *arg = argv[optind];
    int domid = resolve(xs, arg);
    if (domid < 0) {
        fprintf(stderr, "xensimctl: destroy: no domain '%s'\n", arg);
        return 1;
    }
    int ret = xsim_domain_destroy(xs, (domid_t)domid);
    if (ret < 0) {
        fprintf(stderr, "xensimctl: destroy %s: %s\n", arg, strerror(-ret));
        return 1;
    }
    return cleanup ? cleanup_domain_dirs(dir, domid) : 0;
}

static int cmd_list(struct xsim *xs)
{
    printf("%-6s %-24s %-8s %8s\n", "DOMID", "NAME", "STATE", "MEM(MB)");
    for (uint32_t d = 0; d < XSIM_MAX_DOMAINS; d++) {
        struct xsim_dominfo info;
        if (xsim_domain_info(xs, (domid_t)d, &info))
            continue;
        printf("%-6u %-24s %-8s %8llu\n", d, info.name, xsim_domain_state_str(info.state),
               (unsigned long long)(info.mem_pages * XSIM_PAGE_SIZE >> 20));
    }
    return 0;
}

static int cmd_env(struct xsim *xs, const char *dir, const char *arg)
{
    int domid = resolve(xs, arg);
    if (domid < 0) {
        fprintf(stderr, "xensimctl: env: no domain '%s'\n", arg);
        return 1;
    }
    char abs[PATH_MAX];
    if (realpath(dir, abs))
        dir = abs;
    printf("export XENSIM_DIR='%s' XENSIM_DOMID=%d XENSTORED_PATH='%s/xs-%d.sock'\n", dir, domid,
           dir, domid);
    return 0;
}

/* ---- device verbs: xenstore as dom0, what vbd and vif share ---- */

static struct xs_handle *xs_open_dom0(const char *dir)
{
    char path[PATH_MAX];
    if ((size_t)snprintf(path, sizeof(path), "%s/xs-0.sock", dir) >= sizeof(path)) {
        errno = ENAMETOOLONG;
        return NULL;
    }
    if (setenv("XENSTORED_PATH", path, 1))
        return NULL;
    struct xs_handle *h = xs_open(XS_OPEN_SOCKETONLY);
    if (!h)
        fprintf(stderr, "xensimctl: cannot connect to xenstored at %s: %s\n", path,
                strerror(errno));
    return h;
}

static int parse_uint(const char *s, unsigned long max, unsigned long *out)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (!*s || *end || errno || v > max)
        return -EINVAL;
    *out = v;
    return 0;
}

/* "xx:xx:xx:xx:xx:xx" (hex, either case).  0 or -EINVAL. */
static int parse_mac(const char *s, uint8_t mac[6])
{
    for (int i = 0; i < 6; i++) {
        if (!isxdigit((unsigned char)s[0]) || !isxdigit((unsigned char)s[1]))
            return -EINVAL;
        char byte[3] = { s[0], s[1], '\0' };
        mac[i] = (uint8_t)strtoul(byte, NULL, 16);
        s += 2;
        if (*s != (i < 5 ? ':' : '\0'))
            return -EINVAL;
        s += i < 5;
    }
    return 0;
}

/* A domain by number or name; a number also when its domain is gone (a
 * destroyed domain's leftovers can still be listed and detached). */
static int resolve_or_number(struct xsim *xs, const char *arg)
{
    int domid = resolve(xs, arg);
    unsigned long num;
    if (domid < 0 && parse_uint(arg, XSIM_MAX_DOMAINS - 1, &num) == 0)
        domid = (int)num;
    return domid;
}

static bool node_exists(struct xs_handle *h, const char *path)
{
    unsigned len;
    char *v = xs_read(h, XBT_NULL, path, &len);
    free(v);
    return v != NULL;
}

static int read_state(struct xs_handle *h, const char *dir)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/state", dir);
    unsigned len;
    char *v = xs_read(h, XBT_NULL, path, &len);
    if (!v)
        return -ENOENT;
    int st = atoi(v);
    free(v);
    return st;
}

/* Waits (watch on <be>/state) until the backend is Closed or gone. */
static int wait_closed(struct xs_handle *h, const char *be, unsigned timeout_ms)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/state", be);
    if (!xs_watch(h, path, "detach"))
        return -errno;
    uint64_t deadline = sc_clock_ms() + timeout_ms;
    int ret = -ETIMEDOUT;
    for (;;) {
        char **vec;
        while ((vec = xs_check_watch(h)) != NULL)
            free(vec);
        int st = read_state(h, be);
        if (st == -ENOENT || st == XenbusStateClosed) {
            ret = 0;
            break;
        }
        uint64_t now = sc_clock_ms();
        if (now >= deadline)
            break;
        struct pollfd pfd = { .fd = xs_fileno(h), .events = POLLIN };
        int left = (int)(deadline - now);
        poll(&pfd, 1, left < 200 ? left : 200);
    }
    xs_unwatch(h, path, "detach");
    return ret;
}

static int rm_tx(struct xs_handle *h, const char *const *paths, size_t n)
{
    for (;;) {
        xs_transaction_t t = xs_transaction_start(h);
        if (t == XBT_NULL)
            return -errno;
        for (size_t i = 0; i < n; i++)
            xs_rm(h, t, paths[i]);
        if (xs_transaction_end(h, t, false))
            return 0;
        if (errno != EAGAIN)
            return -errno;
    }
}

/* How a detach names the device: a devid, or (vif) the MAC of one. */
struct dev_ref {
    unsigned long devid;
    bool by_mac;
    uint8_t mac[6];
};

/* What differs between the device kinds in the shared verbs. */
struct dev_kind {
    const char *cls;            /* "vbd": the frontend dir device/<cls>, verbs <cls>-... */
    const char *noun;           /* attach's messages: "device %lu already attached" */
    const char *ref_usage;      /* detach's usage: "DEVID", "DEVID|MAC" */
    int (*parse_ref)(const char *arg, struct dev_ref *ref);    /* 0 or -EINVAL */
    /* list: column widths, and a frontend key shown after BE (NULL: none) */
    int devid_w, state_w, bstate_w;
    const char *extra_key, *extra_title;
    int extra_w;
};

/* The domains of an attach: the guest (running, not dom0; its domid) and
 * the backend (running); -1 after a message. */
static int attach_domains(struct xsim *xs, const struct dev_kind *k, const char *guest,
                          unsigned long backend)
{
    int domid = resolve(xs, guest);
    if (domid <= 0) {
        fprintf(stderr, "xensimctl: %s-attach: no guest domain '%s'\n", k->cls, guest);
        return -1;
    }
    struct xsim_dominfo info;
    if (xsim_domain_info(xs, (domid_t)backend, &info) || info.state != XSIM_DOM_RUNNING) {
        fprintf(stderr, "xensimctl: %s-attach: backend domain %lu is not running\n", k->cls,
                backend);
        return -1;
    }
    return domid;
}

/* libxl__device_nextid: one above the highest devid in use, else 0. */
static long next_devid(struct xs_handle *h, const struct dev_kind *k, unsigned long domid)
{
    char dir[64];
    snprintf(dir, sizeof(dir), "/local/domain/%lu/device/%s", domid, k->cls);
    unsigned n = 0;
    char **ents = xs_directory(h, XBT_NULL, dir, &n);
    long next = 0;
    for (unsigned i = 0; ents && i < n; i++) {
        unsigned long v;
        if (parse_uint(ents[i], INT32_MAX - 1, &v) == 0 && (long)v >= next)
            next = (long)v + 1;
    }
    free(ents);
    return next;
}

/*
 * The rest of an attach: write(h, spec) unless the frontend dir of *devid
 * exists (*devid < 0: the next free one, set before write), then print the
 * devid.  The exit code.
 */
static int attach_write(const char *dir, const struct dev_kind *k, unsigned long domid,
                        long *devid, int (*write)(struct xs_handle *h, const void *spec),
                        const void *spec)
{
    struct xs_handle *h = xs_open_dom0(dir);
    if (!h)
        return 1;
    if (*devid < 0)
        *devid = next_devid(h, k, domid);
    char fe[128];
    snprintf(fe, sizeof(fe), "/local/domain/%lu/device/%s/%ld", domid, k->cls, *devid);
    int ret = 1;
    if (node_exists(h, fe)) {
        fprintf(stderr, "xensimctl: %s-attach: %s exists: %s %ld already attached\n", k->cls,
                fe, k->noun, *devid);
    } else {
        int err = write(h, spec);
        if (err < 0)
            fprintf(stderr, "xensimctl: %s-attach: writing %s %ld: %s\n", k->cls, k->noun,
                    *devid, strerror(-err));
        else {
            printf("%ld\n", *devid);
            ret = 0;
        }
    }
    xs_close(h);
    return ret;
}

/* The devid of the guest's device with MAC `mac`, or -ENOENT. */
static long devid_by_mac(struct xs_handle *h, const struct dev_kind *k, int domid,
                         const uint8_t mac[6])
{
    char dir[64];
    snprintf(dir, sizeof(dir), "/local/domain/%d/device/%s", domid, k->cls);
    unsigned n = 0;
    char **ents = xs_directory(h, XBT_NULL, dir, &n);
    long found = -ENOENT;
    for (unsigned i = 0; ents && i < n && found < 0; i++) {
        char path[160];
        snprintf(path, sizeof(path), "%s/%s/mac", dir, ents[i]);
        unsigned len;
        char *val = xs_read(h, XBT_NULL, path, &len);
        uint8_t m[6];
        unsigned long id;
        if (val && parse_mac(val, m) == 0 && memcmp(m, mac, 6) == 0 &&
            parse_uint(ents[i], INT32_MAX - 1, &id) == 0)
            found = (long)id;
        free(val);
    }
    free(ents);
    return found;
}

/* libxl's device remove: online=0 and Closing, wait for Closed (or the
 * timeout, then fail unless --force), remove both directories. */
static int cmd_dev_detach(struct xsim *xs, const char *dir, const struct dev_kind *k, int argc,
                          char **argv)
{
    static const struct option opts[] = {
        { "force", no_argument, NULL, 'f' },
        { "timeout", required_argument, NULL, 't' },
        { NULL, 0, NULL, 0 },
    };
    bool force = false;
    unsigned long timeout_s = 10; /* libxl's LIBXL_DESTROY_TIMEOUT */
    int c;
    optind = 0;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'f')
            force = true;
        else if (c == 't' && parse_uint(optarg, 3600, &timeout_s) == 0)
            continue;
        else {
            if (c == 't')
                fprintf(stderr, "xensimctl: %s-detach: bad --timeout '%s'\n", k->cls, optarg);
            return 2;
        }
    }
    struct dev_ref ref = { 0 };
    if (optind != argc - 2 || k->parse_ref(argv[optind + 1], &ref) < 0) {
        fprintf(stderr, "xensimctl: %s-detach DOMID %s [--force] [--timeout S]\n", k->cls,
                k->ref_usage);
        return 2;
    }
    int domid = resolve_or_number(xs, argv[optind]);
    if (domid <= 0) {
        fprintf(stderr, "xensimctl: %s-detach: no guest domain '%s'\n", k->cls, argv[optind]);
        return 1;
    }
    struct xs_handle *h = xs_open_dom0(dir);
    if (!h)
        return 1;
    int ret = 1;
    char *be = NULL;
    if (ref.by_mac) {
        long id = devid_by_mac(h, k, domid, ref.mac);
        if (id < 0) {
            fprintf(stderr, "xensimctl: %s-detach: domain %d has no %s with MAC %s\n", k->cls,
                    domid, k->cls, argv[optind + 1]);
            goto out;
        }
        ref.devid = (unsigned long)id;
    }
    char fe[128], path[160];
    snprintf(fe, sizeof(fe), "/local/domain/%d/device/%s/%lu", domid, k->cls, ref.devid);
    snprintf(path, sizeof(path), "%s/backend", fe);
    unsigned len;
    be = xs_read(h, XBT_NULL, path, &len);
    if (!be) {
        fprintf(stderr, "xensimctl: %s-detach: domain %d has no %s %lu\n", k->cls, domid,
                k->cls, ref.devid);
        goto out;
    }
    /* Only a backend dir that still exists gets online=0 and Closing. */
    int err = xsim_device_unplug(h, be);
    if (err == -ENOENT)
        err = 0;
    if (err) {
        fprintf(stderr, "xensimctl: %s-detach: writing %s: %s\n", k->cls, be, strerror(-err));
        goto out;
    }
    err = wait_closed(h, be, (unsigned)timeout_s * 1000);
    if (err == -ETIMEDOUT && !force) {
        fprintf(stderr,
                "xensimctl: %s-detach: backend %s did not reach Closed in %lu s "
                "(use --force to remove it anyway)\n", k->cls, be, timeout_s);
        goto out;
    }
    if (err && err != -ETIMEDOUT) {
        fprintf(stderr, "xensimctl: %s-detach: watching %s: %s\n", k->cls, be, strerror(-err));
        goto out;
    }
    const char *paths[2] = { fe, be };
    if ((err = rm_tx(h, paths, 2)) < 0) {
        fprintf(stderr, "xensimctl: %s-detach: removing %s: %s\n", k->cls, fe, strerror(-err));
        goto out;
    }
    ret = 0;
out:
    free(be);
    xs_close(h);
    return ret;
}

/* One line per device of the guest: devid, backend domain, [extra key,]
 * frontend and backend states, backend path ("-" for what is missing). */
static int cmd_dev_list(struct xsim *xs, const char *dir, const struct dev_kind *k,
                        const char *arg)
{
    int domid = resolve_or_number(xs, arg);
    if (domid < 0) {
        fprintf(stderr, "xensimctl: %s-list: no domain '%s'\n", k->cls, arg);
        return 1;
    }
    struct xs_handle *h = xs_open_dom0(dir);
    if (!h)
        return 1;
    char fedir[64];
    snprintf(fedir, sizeof(fedir), "/local/domain/%d/device/%s", domid, k->cls);
    unsigned n = 0;
    char **ents = xs_directory(h, XBT_NULL, fedir, &n);
    printf("%-*s %-6s ", k->devid_w, "DEVID", "BE");
    if (k->extra_key)
        printf("%-*s ", k->extra_w, k->extra_title);
    printf("%-*s %-*s %s\n", k->state_w, "STATE", k->bstate_w, "BE-STATE", "BE-PATH");
    for (unsigned i = 0; ents && i < n; i++) {
        char fe[160], path[200];
        unsigned len;
        snprintf(fe, sizeof(fe), "%s/%s", fedir, ents[i]);
        snprintf(path, sizeof(path), "%s/backend", fe);
        char *be = xs_read(h, XBT_NULL, path, &len);
        snprintf(path, sizeof(path), "%s/backend-id", fe);
        char *beid = xs_read(h, XBT_NULL, path, &len);
        int st = read_state(h, fe);
        int bst = be ? read_state(h, be) : -ENOENT;
        char sbuf[16], bbuf[16];
        snprintf(sbuf, sizeof(sbuf), "%d", st);
        snprintf(bbuf, sizeof(bbuf), "%d", bst);
        printf("%-*s %-6s ", k->devid_w, ents[i], beid ? beid : "-");
        if (k->extra_key) {
            snprintf(path, sizeof(path), "%s/%s", fe, k->extra_key);
            char *extra = xs_read(h, XBT_NULL, path, &len);
            printf("%-*s ", k->extra_w, extra ? extra : "-");
            free(extra);
        }
        printf("%-*s %-*s %s\n", k->state_w, st < 0 ? "-" : sbuf, k->bstate_w,
               bst < 0 ? "-" : bbuf, be ? be : "-");
        free(be);
        free(beid);
    }
    free(ents);
    xs_close(h);
    return 0;
}

/* ---- vbd verbs: what libxl writes for a disk ---- */

static int vdev_to_devid(const char *vdev, unsigned long *devid)
{
    uint32_t id;
    int ret = xsim_vdev_to_devid(vdev, &id);
    if (ret == 0)
        *devid = id;
    return ret;
}

/* vbd-detach's DEVID: a number or a vdev name. */
static int vbd_parse_ref(const char *arg, struct dev_ref *ref)
{
    return vdev_to_devid(arg, &ref->devid);
}

static const struct dev_kind vbd_kind = {
    .cls = "vbd", .noun = "device", .ref_usage = "DEVID", .parse_ref = vbd_parse_ref,
    .devid_w = 10, .state_w = 14, .bstate_w = 14,
};

struct vbd_spec {
    unsigned long domid, backend;
    long devid;
    const char *target, *vdev, *mode, *type, *script;
};

/* libxl's "type" key for each backend kind (libxl_disk_backend strings). */
static const char *backend_type_key(const char *kind)
{
    if (strcmp(kind, "vbd") == 0)
        return "phy";
    if (strcmp(kind, "vbd3") == 0)
        return "tap";
    return "qdisk";
}

/* libxl's disk: the generic device keys (xsim_device_add) and these. */
static int write_vbd(struct xs_handle *h, const void *spec)
{
    const struct vbd_spec *v = spec;
    char devid[16];
    snprintf(devid, sizeof(devid), "%ld", v->devid);
    const char *be_keys[] = {
        "removable", "0", "bootable", "1", "dev", v->vdev,
        "type", backend_type_key(v->type), "mode", v->mode, "device-type", "disk",
        "discard-enable", "1", "params", v->target,
        v->script ? "script" : NULL, v->script, NULL,
    };
    const char *fe_keys[] = { "virtual-device", devid, "device-type", "disk", "trusted", "1",
                              NULL };
    const struct xsim_device d = {
        .backend_type = v->type,
        .frontend_type = "vbd",
        .backend_id = (domid_t)v->backend,
        .frontend_id = (domid_t)v->domid,
        .devid = (uint32_t)v->devid,
        .backend_keys = be_keys,
        .frontend_keys = fe_keys,
    };
    return xsim_device_add(h, &d);
}

static int cmd_vbd_attach(struct xsim *xs, const char *dir, int argc, char **argv)
{
    static const struct option opts[] = {
        { "backend-domid", required_argument, NULL, 'b' },
        { "target", required_argument, NULL, 't' },
        { "vdev", required_argument, NULL, 'v' },
        { "mode", required_argument, NULL, 'm' },
        { "type", required_argument, NULL, 'T' },
        { "script", required_argument, NULL, 's' },
        { NULL, 0, NULL, 0 },
    };
    struct vbd_spec v = { .backend = 0, .mode = "w", .type = "vbd" };
    bool have_backend = false;
    int c;
    optind = 0;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'b':
            if (parse_uint(optarg, XSIM_MAX_DOMAINS - 1, &v.backend) < 0) {
                fprintf(stderr, "xensimctl: vbd-attach: bad --backend-domid '%s'\n", optarg);
                return 2;
            }
            have_backend = true;
            break;
        case 't': v.target = optarg; break;
        case 'v': v.vdev = optarg; break;
        case 'm': v.mode = optarg; break;
        case 'T': v.type = optarg; break;
        case 's': v.script = optarg; break;
        default: return 2;
        }
    }
    if (optind != argc - 1 || !have_backend || !v.target || !v.vdev) {
        fprintf(stderr, "xensimctl: vbd-attach DOMID --backend-domid B --target T --vdev V\n");
        return 2;
    }
    if (strcmp(v.mode, "r") != 0 && strcmp(v.mode, "w") != 0 && strcmp(v.mode, "w!") != 0) {
        fprintf(stderr, "xensimctl: vbd-attach: --mode must be r, w or w!\n");
        return 2;
    }
    if (strcmp(v.type, "vbd") != 0 && strcmp(v.type, "vbd3") != 0 &&
        strcmp(v.type, "qdisk") != 0) {
        fprintf(stderr, "xensimctl: vbd-attach: --type must be vbd, vbd3 or qdisk\n");
        return 2;
    }
    unsigned long devid = 0;
    if (vdev_to_devid(v.vdev, &devid) < 0) {
        fprintf(stderr, "xensimctl: vbd-attach: bad --vdev '%s' (xvda.. or a number)\n", v.vdev);
        return 2;
    }
    v.devid = (long)devid;
    int domid = attach_domains(xs, &vbd_kind, argv[optind], v.backend);
    if (domid < 0)
        return 1;
    v.domid = (unsigned long)domid;
    return attach_write(dir, &vbd_kind, v.domid, &v.devid, write_vbd, &v);
}

/* ---- vif verbs: what libxl writes for a network interface ---- */

/* vif-detach's DEVID|MAC. */
static int vif_parse_ref(const char *arg, struct dev_ref *ref)
{
    if (parse_mac(arg, ref->mac) == 0) {
        ref->by_mac = true;
        return 0;
    }
    return parse_uint(arg, INT32_MAX - 1, &ref->devid);
}

static const struct dev_kind vif_kind = {
    .cls = "vif", .noun = "vif", .ref_usage = "DEVID|MAC", .parse_ref = vif_parse_ref,
    .devid_w = 6, .state_w = 6, .bstate_w = 8,
    .extra_key = "mac", .extra_title = "MAC", .extra_w = 17,
};

struct vif_spec {
    unsigned long domid, backend;
    long devid;                 /* -1: the next free one */
    uint8_t mac[6];
    bool have_mac;
    const char *bridge, *vifname, *script, *ip;
    char rate[48];              /* "<bytes>,<usecs>" or "" */
    unsigned long mtu;          /* 0: libxl's default, 1500 */
};

/* xl's default: Xen's OUI 00:16:3e, then 23 random bits (the top bit of
 * the fourth byte clear, as libxl). */
static int random_mac(uint8_t mac[6])
{
    uint8_t r[3];
    if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r))
        return -errno;
    mac[0] = 0x00;
    mac[1] = 0x16;
    mac[2] = 0x3e;
    mac[3] = r[0] & 0x7f;
    mac[4] = r[1];
    mac[5] = r[2];
    return 0;
}

/* A rate as libxl writes it, "<bytes>,<usecs>", from that form or from
 * xl's "<N>[GMK]{B,b}/s[@<N>[m|u]s]" (decimal multipliers, b = bits, the
 * interval 50 ms by default).  0 or -EINVAL. */
static int parse_rate(const char *s, char *out, size_t len)
{
    char *end;
    errno = 0;
    unsigned long long a = strtoull(s, &end, 10);
    if (end == s || errno || !isdigit((unsigned char)*s))
        return -EINVAL;
    if (*end == ',') {
        const char *u = end + 1;
        unsigned long long usecs = strtoull(u, &end, 10);
        if (!isdigit((unsigned char)*u) || *end || errno || usecs == 0 || usecs > UINT32_MAX)
            return -EINVAL;
        snprintf(out, len, "%llu,%llu", a, usecs);
        return 0;
    }
    unsigned long long mult = 1;
    switch (*end) {
    case 'G': mult = 1000000000ULL; end++; break;
    case 'M': mult = 1000000ULL; end++; break;
    case 'K': mult = 1000ULL; end++; break;
    }
    bool bits = *end == 'b';
    if ((*end != 'B' && *end != 'b') || strncmp(end + 1, "/s", 2) != 0)
        return -EINVAL;
    end += 3;
    if (a == 0 || a > UINT32_MAX)
        return -EINVAL;
    unsigned long long bytes_per_s = a * mult / (bits ? 8 : 1);
    unsigned long long usecs = 50000;
    if (*end == '@') {
        const char *i = end + 1;
        usecs = strtoull(i, &end, 10);
        if (!isdigit((unsigned char)*i) || errno || usecs == 0)
            return -EINVAL;
        if (strcmp(end, "ms") == 0 || strcmp(end, "m") == 0)
            usecs *= 1000;
        else if (strcmp(end, "s") == 0 || *end == '\0')
            usecs *= 1000000;
        else if (strcmp(end, "us") != 0 && strcmp(end, "u") != 0)
            return -EINVAL;
        if (usecs > UINT32_MAX)
            return -EINVAL;
    } else if (*end) {
        return -EINVAL;
    }
    if (bytes_per_s > UINT64_MAX / usecs)
        return -EINVAL;
    snprintf(out, len, "%llu,%llu", bytes_per_s * usecs / 1000000ULL, usecs);
    return 0;
}

/* A Linux interface name: 1..15 characters, no '/', ':' or blank. */
static bool valid_ifname(const char *s)
{
    size_t n = strlen(s);
    return n > 0 && n < 16 && !strpbrk(s, "/: \t\n");
}

/* libxl's nic (libxl__set_xenstore_nic, Xen 4.17): the generic device keys
 * (xsim_device_add), then these.  Unlike libxl, bridge and script are
 * written only when given: a sim world has no xenbr0, and nothing runs a
 * script unless a test does. */
static int write_vif(struct xs_handle *h, const void *spec)
{
    const struct vif_spec *v = spec;
    char devid[24], mac[18], mtu[24], script[PATH_MAX + 32];
    snprintf(devid, sizeof(devid), "%ld", v->devid);
    snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x", v->mac[0], v->mac[1],
             v->mac[2], v->mac[3], v->mac[4], v->mac[5]);
    snprintf(mtu, sizeof(mtu), "%lu", v->mtu ? v->mtu : 1500);
    if (v->script) /* libxl__abs_path: relative to /etc/xen/scripts */
        snprintf(script, sizeof(script), "%s%s", v->script[0] == '/' ? "" : "/etc/xen/scripts/",
                 v->script);
    const char *be_keys[24];
    size_t n = 0;
#define KV(k, val) (be_keys[n++] = (k), be_keys[n++] = (val))
    if (v->script)
        KV("script", script);
    if (v->vifname)
        KV("vifname", v->vifname);
    KV("mac", mac);
    if (v->ip)
        KV("ip", v->ip);
    if (v->rate[0])
        KV("rate", v->rate);
    if (v->mtu && v->mtu != 1500) /* libxl writes the backend's only when set */
        KV("mtu", mtu);
    if (v->bridge)
        KV("bridge", v->bridge);
    KV("handle", devid);
    KV("type", "vif");
    KV("hotplug-status", ""); /* the backend waits for the script, if any */
#undef KV
    be_keys[n] = NULL;
    const char *fe_keys[] = { "handle", devid, "mac", mac, "trusted", "1", NULL };
    const char *fe_ro_keys[] = { "mtu", mtu, NULL };
    const struct xsim_device d = {
        .backend_type = "vif",
        .frontend_type = "vif",
        .backend_id = (domid_t)v->backend,
        .frontend_id = (domid_t)v->domid,
        .devid = (uint32_t)v->devid,
        .backend_keys = be_keys,
        .frontend_keys = fe_keys,
        .frontend_ro_keys = fe_ro_keys,
    };
    return xsim_device_add(h, &d);
}

/* One "key=value" of vif-attach.  0, or 2 (usage) after a message. */
static int vif_option(struct xsim *xs, struct vif_spec *v, const char *arg)
{
    const char *eq = strchr(arg, '=');
    if (!eq) {
        fprintf(stderr, "xensimctl: vif-attach: '%s' is not KEY=VALUE\n", arg);
        return 2;
    }
    size_t kl = (size_t)(eq - arg);
    const char *val = eq + 1;
#define IS(name) (kl == strlen(name) && strncmp(arg, name, kl) == 0)
    unsigned long num = 0;
    bool ok = true;
    if (IS("mac")) {
        ok = parse_mac(val, v->mac) == 0;
        v->have_mac = true;
    } else if (IS("bridge")) {
        ok = valid_ifname(val);
        v->bridge = val;
    } else if (IS("vifname")) {
        ok = valid_ifname(val);
        v->vifname = val;
    } else if (IS("script")) {
        ok = *val != '\0';
        v->script = val;
    } else if (IS("ip")) {
        v->ip = val;
    } else if (IS("rate")) {
        ok = parse_rate(val, v->rate, sizeof(v->rate)) == 0;
    } else if (IS("mtu")) {
        ok = parse_uint(val, 65535, &num) == 0 && num >= 68;
        v->mtu = num;
    } else if (IS("devid") || IS("handle")) {
        ok = parse_uint(val, INT32_MAX - 1, &num) == 0;
        v->devid = (long)num;
    } else if (IS("backend")) {
        int b = resolve(xs, val); /* a domid or a name, as xl */
        ok = b >= 0;
        v->backend = (unsigned long)b;
        if (!ok) {
            fprintf(stderr, "xensimctl: vif-attach: no backend domain '%s'\n", val);
            return 1;
        }
    } else {
        fprintf(stderr, "xensimctl: vif-attach: unknown key '%.*s'\n", (int)kl, arg);
        return 2;
    }
#undef IS
    if (!ok) {
        fprintf(stderr, "xensimctl: vif-attach: bad %s\n", arg);
        return 2;
    }
    return 0;
}

static int cmd_vif_attach(struct xsim *xs, const char *dir, int argc, char **argv)
{
    struct vif_spec v = { .backend = 0, .devid = -1 };
    if (argc < 2) {
        fprintf(stderr, "xensimctl: vif-attach DOMID [KEY=VALUE...]\n");
        return 2;
    }
    for (int i = 2; i < argc; i++) {
        int rc = vif_option(xs, &v, argv[i]);
        if (rc)
            return rc;
    }
    int domid = attach_domains(xs, &vif_kind, argv[1], v.backend);
    if (domid < 0)
        return 1;
    v.domid = (unsigned long)domid;
    if (!v.have_mac) {
        int err = random_mac(v.mac);
        if (err < 0) {
            fprintf(stderr, "xensimctl: vif-attach: random MAC: %s\n", strerror(-err));
            return 1;
        }
    }
    return attach_write(dir, &vif_kind, v.domid, &v.devid, write_vif, &v);
}

/* xl destroy's cleanup: the guest's device dirs and, in every domain, the
 * backend dirs that serve it. */
static int cleanup_domain_dirs(const char *dir, int domid)
{
    struct xs_handle *h = xs_open_dom0(dir);
    if (!h)
        return 1;
    int ret = 0;
    for (;;) {
        xs_transaction_t t = xs_transaction_start(h);
        if (t == XBT_NULL) {
            ret = 1;
            break;
        }
        char path[256];
        snprintf(path, sizeof(path), "/local/domain/%d/device", domid);
        xs_rm(h, t, path);
        unsigned ndom = 0;
        char **doms = xs_directory(h, t, "/local/domain", &ndom);
        for (unsigned i = 0; doms && i < ndom; i++) {
            char bdir[128];
            snprintf(bdir, sizeof(bdir), "/local/domain/%s/backend", doms[i]);
            unsigned ntype = 0;
            char **types = xs_directory(h, t, bdir, &ntype);
            for (unsigned j = 0; types && j < ntype; j++) {
                snprintf(path, sizeof(path), "%s/%s/%d", bdir, types[j], domid);
                xs_rm(h, t, path);
            }
            free(types);
        }
        free(doms);
        if (xs_transaction_end(h, t, false))
            break;
        if (errno != EAGAIN) {
            fprintf(stderr, "xensimctl: destroy --cleanup: %s\n", strerror(errno));
            ret = 1;
            break;
        }
    }
    xs_close(h);
    return ret;
}

static int vcpu_arg(const char *arg, uint32_t *out)
{
    unsigned long v;
    if (parse_uint(arg, XSIM_MAX_VCPUS - 1, &v) < 0) {
        fprintf(stderr, "xensimctl: vCPU '%s' is not a number below %u\n", arg, XSIM_MAX_VCPUS);
        return -EINVAL;
    }
    *out = (uint32_t)v;
    return 0;
}

/* One key=value of vcpu-set into info.  0 or -EINVAL (said). */
static int vcpu_setting(const char *kv, struct xsim_vcpu_info *info)
{
    const char *eq = strchr(kv, '=');
    const char *v = eq ? eq + 1 : "";
    size_t klen = eq ? (size_t)(eq - kv) : strlen(kv);
    unsigned long n;
    if (klen == 4 && !strncmp(kv, "pcpu", 4) && parse_uint(v, 4095, &n) == 0) {
        info->pcpu = (uint32_t)n;
    } else if (klen == 6 && !strncmp(kv, "pinned", 6) && parse_uint(v, 1, &n) == 0) {
        info->pinned = n;
    } else if (klen == 5 && !strncmp(kv, "steal", 5) && parse_uint(v, 100, &n) == 0) {
        info->steal_permille = (uint32_t)n * 10;
    } else if (klen == 5 && !strncmp(kv, "sched", 5) && *v && strlen(v) < sizeof(info->sched)) {
        snprintf(info->sched, sizeof(info->sched), "%s", v);
    } else if (klen == 4 && !strncmp(kv, "pool", 4)) {
        char *colon = strchr(v, ':');
        char num[16];
        size_t nlen = colon ? (size_t)(colon - v) : 0;
        if (!colon || nlen == 0 || nlen >= sizeof(num) || !colon[1] ||
            strlen(colon + 1) >= sizeof(info->pool_name))
            goto bad;
        memcpy(num, v, nlen);
        num[nlen] = '\0';
        if (parse_uint(num, UINT32_MAX, &n) < 0)
            goto bad;
        info->pool = (uint32_t)n;
        snprintf(info->pool_name, sizeof(info->pool_name), "%s", colon + 1);
    } else {
        goto bad;
    }
    return 0;
bad:
    fprintf(stderr, "xensimctl: vcpu-set: '%s': expected pcpu=N, pool=ID:NAME, sched=NAME, "
            "pinned=0|1 or steal=PERCENT (0..100)\n", kv);
    return -EINVAL;
}

static int cmd_vcpu_set(struct xsim *xs, int argc, char **argv)
{
    int domid = resolve(xs, argv[1]);
    uint32_t vcpu;
    if (domid < 0) {
        fprintf(stderr, "xensimctl: no domain %s\n", argv[1]);
        return 1;
    }
    if (vcpu_arg(argv[2], &vcpu) < 0)
        return 2;
    struct xsim_vcpu_info info;
    int ret = xsim_vcpu_get(xs, (domid_t)domid, vcpu, &info);
    for (int i = 3; ret == 0 && i < argc; i++)
        if (vcpu_setting(argv[i], &info) < 0)
            return 2;
    if (ret == 0)
        ret = xsim_vcpu_set(xs, (domid_t)domid, vcpu, &info);
    if (ret < 0) {
        fprintf(stderr, "xensimctl: vcpu-set %s %u: %s\n", argv[1], vcpu, strerror(-ret));
        return 1;
    }
    return 0;
}

static int cmd_vcpu_list(struct xsim *xs, int argc, char **argv)
{
    int domid = resolve(xs, argv[1]);
    uint32_t n = 4;
    if (domid < 0) {
        fprintf(stderr, "xensimctl: no domain %s\n", argv[1]);
        return 1;
    }
    if (argc > 2) {
        if (vcpu_arg(argv[2], &n) < 0)
            return 2;
    }
    printf("%-5s %-5s %-16s %-8s %-6s %8s %12s\n", "VCPU", "PCPU", "POOL", "SCHED", "PINNED",
           "STEAL%", "STEAL(ms)");
    for (uint32_t v = 0; v < n; v++) {
        struct xsim_vcpu_info info;
        int ret = xsim_vcpu_get(xs, (domid_t)domid, v, &info);
        if (ret < 0) {
            fprintf(stderr, "xensimctl: vcpu-list %s: %s\n", argv[1], strerror(-ret));
            return 1;
        }
        char pool[48];
        snprintf(pool, sizeof(pool), "%u:%s", info.pool, info.pool_name);
        printf("%-5u %-5u %-16s %-8s %-6s %8.1f %12.1f\n", v, info.pcpu, pool, info.sched,
               info.pinned ? "yes" : "no", info.steal_permille / 10.0, info.steal_ns / 1e6);
    }
    return 0;
}

/* "0-3,6" of a CPU mask into buf, as sidecorectl place writes CPU lists. */
static void cpus_str(uint64_t cpus, char *buf, size_t len)
{
    struct sc_cpus set = { .w = { cpus } };
    sc_cpus_str(&set, buf, len);
}

/* A pool's id from its id or name, or -ENOENT (said). */
static int pool_resolve(struct xsim *xs, const char *arg)
{
    struct xsim_pools pools;
    int ret = xsim_pool_list(xs, &pools);
    if (ret < 0) {
        fprintf(stderr, "xensimctl: pool-list: %s\n", strerror(-ret));
        return ret;
    }
    unsigned long id;
    bool num = parse_uint(arg, UINT32_MAX, &id) == 0;
    for (uint32_t i = 0; i < pools.nr_pools; i++)
        if ((num && pools.pool[i].id == id) || strcmp(pools.pool[i].name, arg) == 0)
            return (int)pools.pool[i].id;
    fprintf(stderr, "xensimctl: no cpupool %s\n", arg);
    return -ENOENT;
}

static int cmd_pool_list(struct xsim *xs)
{
    struct xsim_pools pools;
    int ret = xsim_pool_list(xs, &pools);
    if (ret < 0) {
        fprintf(stderr, "xensimctl: pool-list: %s\n", strerror(-ret));
        return 1;
    }
    uint64_t all = pools.nr_pcpus >= 64 ? ~0ull : (1ull << pools.nr_pcpus) - 1, used = 0;
    char buf[256];
    printf("%-4s %-16s %-9s %-5s %s\n", "ID", "NAME", "SCHED", "DOMS", "CPUS");
    for (uint32_t i = 0; i < pools.nr_pools; i++) {
        const struct xsim_pool *p = &pools.pool[i];
        cpus_str(p->cpus, buf, sizeof(buf));
        used |= p->cpus;
        printf("%-4u %-16s %-9s %-5u %s\n", p->id, p->name, p->sched, p->n_dom, buf);
    }
    cpus_str(all & ~used, buf, sizeof(buf));
    printf("free CPUs: %s (of %u)\n", buf, pools.nr_pcpus);
    return 0;
}

static int report(const char *what, const char *arg, int ret)
{
    if (ret >= 0)
        return 0;
    fprintf(stderr, "xensimctl: %s %s: %s\n", what, arg, strerror(-ret));
    return 1;
}

static int cmd_pool(struct xsim *xs, const char *cmd, int argc, char **argv)
{
    unsigned long n;
    if (strcmp(cmd, "pool-create") == 0) {
        const char *sched = "credit2";
        if (argc > 2) {
            if (strncmp(argv[2], "sched=", 6) != 0) {
                fprintf(stderr, "xensimctl: pool-create: '%s': expected sched=NAME\n", argv[2]);
                return 2;
            }
            sched = argv[2] + 6;
        }
        int id = xsim_pool_create(xs, argv[1], sched);
        if (id >= 0)
            printf("%d\n", id);
        return report(cmd, argv[1], id);
    }
    int pool = pool_resolve(xs, strcmp(cmd, "pool-migrate") == 0 ? argv[2] : argv[1]);
    if (pool < 0)
        return 1;
    if (strcmp(cmd, "pool-destroy") == 0)
        return report(cmd, argv[1], xsim_pool_destroy(xs, (uint32_t)pool));
    if (strcmp(cmd, "pool-migrate") == 0) {
        int domid = resolve(xs, argv[1]);
        if (domid < 0) {
            fprintf(stderr, "xensimctl: no domain %s\n", argv[1]);
            return 1;
        }
        return report(cmd, argv[1], xsim_pool_move_domain(xs, (uint32_t)pool, (domid_t)domid));
    }
    if (parse_uint(argv[2], XSIM_MAX_PCPUS - 1, &n) < 0) {
        fprintf(stderr, "xensimctl: CPU '%s' is not a number below %u\n", argv[2],
                XSIM_MAX_PCPUS);
        return 2;
    }
    return report(cmd, argv[2], xsim_pool_cpu(xs, (uint32_t)pool, (uint32_t)n,
                                              strcmp(cmd, "pool-cpu-add") == 0));
}

static int cmd_vcpu_pin(struct xsim *xs, int argc, char **argv)
{
    (void)argc;
    int domid = resolve(xs, argv[1]);
    uint32_t vcpu;
    unsigned long cpu = 0;
    if (domid < 0) {
        fprintf(stderr, "xensimctl: no domain %s\n", argv[1]);
        return 1;
    }
    if (vcpu_arg(argv[2], &vcpu) < 0)
        return 2;
    bool all = strcmp(argv[3], "all") == 0;
    if (!all && parse_uint(argv[3], XSIM_MAX_PCPUS - 1, &cpu) < 0) {
        fprintf(stderr, "xensimctl: vcpu-pin: '%s': expected a CPU or all\n", argv[3]);
        return 2;
    }
    return report("vcpu-pin", argv[1], xsim_vcpu_pin(xs, (domid_t)domid, vcpu,
                                                     all ? -1 : (int)cpu));
}

static int cmd_vcpus_set(struct xsim *xs, int argc, char **argv)
{
    (void)argc;
    int domid = resolve(xs, argv[1]);
    unsigned long n;
    if (domid < 0) {
        fprintf(stderr, "xensimctl: no domain %s\n", argv[1]);
        return 1;
    }
    if (parse_uint(argv[2], XSIM_MAX_VCPUS, &n) < 0 || n == 0) {
        fprintf(stderr, "xensimctl: vcpus-set: '%s': expected 1..%u\n", argv[2],
                XSIM_MAX_VCPUS);
        return 2;
    }
    return report("vcpus-set", argv[1], xsim_domain_set_vcpus(xs, (domid_t)domid, (uint32_t)n));
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "dir", required_argument, NULL, 'd' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *dir = getenv("XENSIM_DIR");
    int c;
    /* "+": options after the command belong to the command. */
    while ((c = getopt_long(argc, argv, "+d:h", opts, NULL)) != -1) {
        switch (c) {
        case 'd': dir = optarg; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind >= argc) {
        usage(stderr);
        return 2;
    }
    if (!dir || !*dir) {
        fprintf(stderr, "xensimctl: no world directory: use --dir DIR or set XENSIM_DIR\n");
        return 2;
    }
    const char *cmd = argv[optind];
    int nargs = argc - optind - 1;
    static const struct {
        const char *name;
        int min_args, max_args;     /* -1: any (the command parses) */
    } cmds[] = {
        { "create", 1, -1 }, { "destroy", 1, -1 }, { "list", 0, 0 }, { "env", 1, 1 },
        { "vbd-attach", 1, -1 }, { "vbd-detach", 2, -1 }, { "vbd-list", 1, 1 },
        { "vif-attach", 1, -1 }, { "vif-detach", 2, -1 }, { "vif-list", 1, 1 },
        { "vcpu-set", 2, -1 }, { "vcpu-list", 1, 2 }, { "vcpu-pin", 3, 3 },
        { "vcpus-set", 2, 2 }, { "pool-list", 0, 0 }, { "pool-create", 1, 2 },
        { "pool-destroy", 1, 1 }, { "pool-cpu-add", 2, 2 }, { "pool-cpu-remove", 2, 2 },
        { "pool-migrate", 2, 2 },
    };
    bool known = false;
    for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
        if (strcmp(cmd, cmds[i].name) == 0 && nargs >= cmds[i].min_args &&
            (cmds[i].max_args < 0 || nargs <= cmds[i].max_args))
            known = true;
    if (!known) {
        usage(stderr);
        return 2;
    }

    struct xsim *xs = xsim_open(dir, 0);
    if (!xs) {
        fprintf(stderr, "xensimctl: cannot connect to xensimd in %s: %s\n", dir,
                errno == ESRCH ? "no daemon (hv-0.sock missing)" : strerror(errno));
        return 1;
    }
    int ret;
    int cargc = argc - optind;
    char **cargv = argv + optind;
    if (strcmp(cmd, "create") == 0)
        ret = cmd_create(xs, cargc, cargv);
    else if (strcmp(cmd, "destroy") == 0)
        ret = cmd_destroy(xs, dir, cargc, cargv);
    else if (strcmp(cmd, "list") == 0)
        ret = cmd_list(xs);
    else if (strcmp(cmd, "vbd-attach") == 0)
        ret = cmd_vbd_attach(xs, dir, cargc, cargv);
    else if (strcmp(cmd, "vbd-detach") == 0)
        ret = cmd_dev_detach(xs, dir, &vbd_kind, cargc, cargv);
    else if (strcmp(cmd, "vbd-list") == 0)
        ret = cmd_dev_list(xs, dir, &vbd_kind, cargv[1]);
    else if (strcmp(cmd, "vif-attach") == 0)
        ret = cmd_vif_attach(xs, dir, cargc, cargv);
    else if (strcmp(cmd, "vif-detach") == 0)
        ret = cmd_dev_detach(xs, dir, &vif_kind, cargc, cargv);
    else if (strcmp(cmd, "vif-list") == 0)
        ret = cmd_dev_list(xs, dir, &vif_kind, cargv[1]);
    else if (strcmp(cmd, "vcpu-set") == 0)
        ret = cmd_vcpu_set(xs, cargc, cargv);
    else if (strcmp(cmd, "vcpu-list") == 0)
        ret = cmd_vcpu_list(xs, cargc, cargv);
    else if (strcmp(cmd, "vcpu-pin") == 0)
        ret = cmd_vcpu_pin(xs, cargc, cargv);
    else if (strcmp(cmd, "vcpus-set") == 0)
        ret = cmd_vcpus_set(xs, cargc, cargv);
    else if (strcmp(cmd, "pool-list") == 0)
        ret = cmd_pool_list(xs);
    else if (strncmp(cmd, "pool-", 5) == 0)
        ret = cmd_pool(xs, cmd, cargc, cargv);
    else
        ret = cmd_env(xs, dir, cargv[1]);
    xsim_close(xs);
    return ret;
}
