/*
 * xensimctl - the toolstack of a xensim world (what xl is to Xen).
 *
 *   xensimctl [--dir DIR] create NAME [--mem MB]   prints the new domid
 *   xensimctl [--dir DIR] destroy DOMID|NAME
 *   xensimctl [--dir DIR] list                     domid, name, state, mem
 *   xensimctl [--dir DIR] env DOMID|NAME           shell exports for that domain
 *
 * DIR defaults to $XENSIM_DIR.  Acts as dom0.  Exit codes: 0 success,
 * 1 the operation failed, 2 usage error.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xensim.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: xensimctl [--dir DIR] COMMAND\n"
            "  create NAME [--mem MB]   create a domain (default 64 MiB); prints its domid\n"
            "  destroy DOMID|NAME       destroy a domain\n"
            "  list                     list domains\n"
            "  env DOMID|NAME           print shell exports to act as that domain\n"
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

static int cmd_destroy(struct xsim *xs, const char *arg)
{
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
    return 0;
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
    if (!(strcmp(cmd, "create") == 0 && nargs >= 1) && !(strcmp(cmd, "list") == 0 && nargs == 0) &&
        !((strcmp(cmd, "destroy") == 0 || strcmp(cmd, "env") == 0) && nargs == 1)) {
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
    if (strcmp(cmd, "create") == 0)
        ret = cmd_create(xs, argc - optind, argv + optind);
    else if (strcmp(cmd, "destroy") == 0)
        ret = cmd_destroy(xs, argv[optind + 1]);
    else if (strcmp(cmd, "list") == 0)
        ret = cmd_list(xs);
    else
        ret = cmd_env(xs, dir, argv[optind + 1]);
    xsim_close(xs);
    return ret;
}
