/*
 * xensimctl - the toolstack of a xensim world (what xl is to Xen).
 *
 *   xensimctl [--dir DIR] create NAME [--mem MB]   prints the new domid
 *   xensimctl [--dir DIR] destroy DOMID|NAME [--cleanup]
 *   xensimctl [--dir DIR] list                     domid, name, state, mem
 *   xensimctl [--dir DIR] env DOMID|NAME           shell exports for that domain
 *   xensimctl [--dir DIR] vbd-attach DOMID --backend-domid B --target T --vdev V
 *                         [--mode r|w] [--type vbd|vbd3|qdisk] [--script PATH]
 *   xensimctl [--dir DIR] vbd-detach DOMID DEVID [--force] [--timeout S]
 *   xensimctl [--dir DIR] vbd-list DOMID
 *
 * The vbd verbs write what libxl writes for a disk (xsim_device_add): backend dir
 * /local/domain/B/backend/<type>/DOMID/DEVID owned by B readable by DOMID,
 * frontend dir /local/domain/DOMID/device/vbd/DEVID owned by DOMID readable
 * by B, both in one transaction.  DIR defaults to $XENSIM_DIR.  Acts as dom0.  Exit codes:
 * 0 success, 1 the operation failed, 2 usage error.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <poll.h>
#include <string.h>
#include <time.h>
#include <xenstore.h>
#include <xen/io/xenbus.h>

#include "clock.h"
#include "xensim.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: xensimctl [--dir DIR] COMMAND\n"
            "  create NAME [--mem MB]   create a domain (default 64 MiB); prints its domid\n"
            "  destroy DOMID|NAME       destroy a domain\n"
            "  list                     list domains\n"
            "  env DOMID|NAME           print shell exports to act as that domain\n"
            "  destroy ... --cleanup    also remove the domain's device and backend dirs\n"
            "  vbd-attach DOMID --backend-domid B --target T --vdev xvda|NUM\n"
            "             [--mode r|w] [--type vbd|vbd3|qdisk] [--script PATH]\n"
            "                           add a disk as libxl does; prints its devid\n"
            "  vbd-detach DOMID DEVID [--force] [--timeout S]\n"
            "                           online=0, Closing, wait for Closed, remove\n"
            "  vbd-list DOMID           the domain's disks and their states\n"
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

/* ---- vbd verbs: xenstore as dom0 ---- */

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

static int vdev_to_devid(const char *vdev, unsigned long *devid)
{
    uint32_t id;
    int ret = xsim_vdev_to_devid(vdev, &id);
    if (ret == 0)
        *devid = id;
    return ret;
}

static bool node_exists(struct xs_handle *h, const char *path)
{
    unsigned len;
    char *v = xs_read(h, XBT_NULL, path, &len);
    free(v);
    return v != NULL;
}

struct vbd_spec {
    unsigned long domid, backend, devid;
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
static int write_vbd(struct xs_handle *h, const struct vbd_spec *v)
{
    char devid[16];
    snprintf(devid, sizeof(devid), "%lu", v->devid);
    const char *be_keys[] = {
        "removable", "0", "bootable", "1", "dev", v->vdev,
        "type", backend_type_key(v->type), "mode", v->mode, "device-type", "disk",
        "discard-enable", "1", "params", v->target,
        v->script ? "script" : NULL, v->script, NULL,
    };
    const char *fe_keys[] = { "virtual-device", devid, "device-type", "disk", NULL };
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
    if (strcmp(v.mode, "r") != 0 && strcmp(v.mode, "w") != 0) {
        fprintf(stderr, "xensimctl: vbd-attach: --mode must be r or w\n");
        return 2;
    }
    if (strcmp(v.type, "vbd") != 0 && strcmp(v.type, "vbd3") != 0 &&
        strcmp(v.type, "qdisk") != 0) {
        fprintf(stderr, "xensimctl: vbd-attach: --type must be vbd, vbd3 or qdisk\n");
        return 2;
    }
    if (vdev_to_devid(v.vdev, &v.devid) < 0) {
        fprintf(stderr, "xensimctl: vbd-attach: bad --vdev '%s' (xvda.. or a number)\n", v.vdev);
        return 2;
    }
    int domid = resolve(xs, argv[optind]);
    if (domid <= 0) {
        fprintf(stderr, "xensimctl: vbd-attach: no guest domain '%s'\n", argv[optind]);
        return 1;
    }
    v.domid = (unsigned long)domid;
    struct xsim_dominfo info;
    if (xsim_domain_info(xs, (domid_t)v.backend, &info) || info.state != XSIM_DOM_RUNNING) {
        fprintf(stderr, "xensimctl: vbd-attach: backend domain %lu is not running\n", v.backend);
        return 1;
    }
    struct xs_handle *h = xs_open_dom0(dir);
    if (!h)
        return 1;
    char fe[256];
    snprintf(fe, sizeof(fe), "/local/domain/%lu/device/vbd/%lu", v.domid, v.devid);
    int ret = 1;
    if (node_exists(h, fe)) {
        fprintf(stderr, "xensimctl: vbd-attach: %s exists: device %lu already attached\n", fe,
                v.devid);
    } else {
        int err = write_vbd(h, &v);
        if (err < 0)
            fprintf(stderr, "xensimctl: vbd-attach: writing device %lu: %s\n", v.devid,
                    strerror(-err));
        else {
            printf("%lu\n", v.devid);
            ret = 0;
        }
    }
    xs_close(h);
    return ret;
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

static int cmd_vbd_detach(struct xsim *xs, const char *dir, int argc, char **argv)
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
                fprintf(stderr, "xensimctl: vbd-detach: bad --timeout '%s'\n", optarg);
            return 2;
        }
    }
    unsigned long devid = 0;
    if (optind != argc - 2 || vdev_to_devid(argv[optind + 1], &devid) < 0) {
        fprintf(stderr, "xensimctl: vbd-detach DOMID DEVID [--force] [--timeout S]\n");
        return 2;
    }
    int domid = resolve(xs, argv[optind]);
    unsigned long num;
    if (domid < 0 && parse_uint(argv[optind], XSIM_MAX_DOMAINS - 1, &num) == 0)
        domid = (int)num; /* a destroyed domain's leftovers can still be detached */
    if (domid <= 0) {
        fprintf(stderr, "xensimctl: vbd-detach: no guest domain '%s'\n", argv[optind]);
        return 1;
    }
    struct xs_handle *h = xs_open_dom0(dir);
    if (!h)
        return 1;
    char fe[256], path[300];
    snprintf(fe, sizeof(fe), "/local/domain/%d/device/vbd/%lu", domid, devid);
    snprintf(path, sizeof(path), "%s/backend", fe);
    unsigned len;
    char *be = xs_read(h, XBT_NULL, path, &len);
    int ret = 1;
    if (!be) {
        fprintf(stderr, "xensimctl: vbd-detach: domain %d has no vbd %lu\n", domid, devid);
        goto out;
    }
    /* Only a backend dir that still exists gets online=0 and Closing. */
    int err = xsim_device_unplug(h, be);
    if (err == -ENOENT)
        err = 0;
    if (err) {
        fprintf(stderr, "xensimctl: vbd-detach: writing %s: %s\n", be, strerror(-err));
        goto out;
    }
    err = wait_closed(h, be, (unsigned)timeout_s * 1000);
    if (err == -ETIMEDOUT && !force) {
        fprintf(stderr,
                "xensimctl: vbd-detach: backend %s did not reach Closed in %lu s "
                "(use --force to remove it anyway)\n", be, timeout_s);
        goto out;
    }
    if (err && err != -ETIMEDOUT) {
        fprintf(stderr, "xensimctl: vbd-detach: watching %s: %s\n", be, strerror(-err));
        goto out;
    }
    const char *paths[2] = { fe, be };
    if ((err = rm_tx(h, paths, 2)) < 0) {
        fprintf(stderr, "xensimctl: vbd-detach: removing %s: %s\n", fe, strerror(-err));
        goto out;
    }
    ret = 0;
out:
    free(be);
    xs_close(h);
    return ret;
}

static int cmd_vbd_list(struct xsim *xs, const char *dir, const char *arg)
{
    int domid = resolve(xs, arg);
    unsigned long num;
    if (domid < 0 && parse_uint(arg, XSIM_MAX_DOMAINS - 1, &num) == 0)
        domid = (int)num;
    if (domid < 0) {
        fprintf(stderr, "xensimctl: vbd-list: no domain '%s'\n", arg);
        return 1;
    }
    struct xs_handle *h = xs_open_dom0(dir);
    if (!h)
        return 1;
    char fedir[128];
    snprintf(fedir, sizeof(fedir), "/local/domain/%d/device/vbd", domid);
    unsigned n = 0;
    char **ents = xs_directory(h, XBT_NULL, fedir, &n);
    printf("%-10s %-6s %-14s %-14s %s\n", "DEVID", "BE", "STATE", "BE-STATE", "BE-PATH");
    for (unsigned i = 0; ents && i < n; i++) {
        char fe[256], path[300];
        snprintf(fe, sizeof(fe), "%s/%s", fedir, ents[i]);
        snprintf(path, sizeof(path), "%s/backend", fe);
        unsigned len;
        char *be = xs_read(h, XBT_NULL, path, &len);
        snprintf(path, sizeof(path), "%s/backend-id", fe);
        char *beid = xs_read(h, XBT_NULL, path, &len);
        int st = read_state(h, fe);
        int bst = be ? read_state(h, be) : -ENOENT;
        char sbuf[32], bbuf[32];
        snprintf(sbuf, sizeof(sbuf), "%d", st);
        snprintf(bbuf, sizeof(bbuf), "%d", bst);
        printf("%-10s %-6s %-14s %-14s %s\n", ents[i], beid ? beid : "-",
               st < 0 ? "-" : sbuf, bst < 0 ? "-" : bbuf, be ? be : "-");
        free(be);
        free(beid);
    }
    free(ents);
    xs_close(h);
    return 0;
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
        ret = cmd_vbd_detach(xs, dir, cargc, cargv);
    else if (strcmp(cmd, "vbd-list") == 0)
        ret = cmd_vbd_list(xs, dir, cargv[1]);
    else
        ret = cmd_env(xs, dir, cargv[1]);
    xsim_close(xs);
    return ret;
}
