/*
 * xensimd - the simulated Xen world: hypervisor (hv.c) and xenstored
 * (xenstored.c) in one single-threaded event loop.
 *
 *   xensimd --dir DIR [--dom0-mem MB] [--pcpus N] [--scheds LIST] [--ready-fd N]
 *           [--exit-with-parent]
 *
 * DIR holds the sockets: hv-<domid>.sock (libxensim) and xs-<domid>.sock
 * (xenstore wire protocol).  When both exist for dom0 the daemon writes
 * "ready\n" to --ready-fd (if given) and its pid to DIR/xensimd.pid.
 * SIGTERM or SIGINT end it cleanly, removing the sockets.
 */
#include <errno.h>
#include <stdbool.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hv.h"
#include "xensim.h"
#include "xenstored.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: xensimd --dir DIR [--dom0-mem MB] [--pcpus N] [--scheds LIST] [--ready-fd N]\n"
            "               [--exit-with-parent]\n"
            "  --dir DIR           world directory (sockets, pidfile); created if missing\n"
            "  --dom0-mem MB       memory of dom0 (default 64)\n"
            "  --pcpus N           simulated physical CPUs, all in Pool-0 (default 8, max 64)\n"
            "  --scheds LIST       the schedulers built in (default all: credit,credit2,rtds,\n"
            "                      arinc653,null; Debian's Xen has no null)\n"
            "  --ready-fd N        write \"ready\\n\" to fd N once serving, then close it\n"
            "  --exit-with-parent  terminate when the parent process exits (tests)\n"
            "  --help              this help\n");
}

static int write_pidfile(const char *dir)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/xensimd.pid", dir);
    FILE *f = fopen(path, "w");
    if (!f)
        return -errno;
    fprintf(f, "%ld\n", (long)getpid());
    return fclose(f) ? -errno : 0;
}

static int add_fd(int epfd, int fd)
{
    struct epoll_event ev = { .events = EPOLLIN, .data.fd = fd };
    return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) ? -errno : 0;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "dir", required_argument, NULL, 'd' },
        { "dom0-mem", required_argument, NULL, 'm' },
        { "ready-fd", required_argument, NULL, 'r' },
        { "pcpus", required_argument, NULL, 'c' },
        { "scheds", required_argument, NULL, 's' },
        { "exit-with-parent", no_argument, NULL, 'p' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *dir = NULL;
    uint32_t dom0_mem = 64;
    uint32_t pcpus = XSIM_DEFAULT_PCPUS;
    int ready_fd = -1;
    const char *scheds = NULL;
    int c;

    while ((c = getopt_long(argc, argv, "d:m:r:c:s:ph", opts, NULL)) != -1) {
        switch (c) {
        case 'd': dir = optarg; break;
        case 'm': dom0_mem = (uint32_t)strtoul(optarg, NULL, 0); break;
        case 'r': ready_fd = atoi(optarg); break;
        case 'c': pcpus = (uint32_t)strtoul(optarg, NULL, 0); break;
        case 's': scheds = optarg; break;
        case 'p':
            prctl(PR_SET_PDEATHSIG, SIGTERM);
            if (getppid() == 1)
                return 1;
            break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (!dir || optind != argc || dom0_mem == 0 || pcpus == 0 || pcpus > XSIM_MAX_PCPUS) {
        usage(stderr);
        return 2;
    }
    if (mkdir(dir, 0755) && errno != EEXIST) {
        fprintf(stderr, "xensimd: mkdir %s: %s\n", dir, strerror(errno));
        return 1;
    }

    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    signal(SIGPIPE, SIG_IGN);
    int sigfd = signalfd(-1, &mask, SFD_CLOEXEC);

    struct xsd *xsd = xsd_create(dir, NULL);
    if (!xsd) {
        fprintf(stderr, "xensimd: xenstored: %s\n", strerror(errno));
        return 1;
    }
    struct hv *hv = hv_create(dir, xsd, dom0_mem, pcpus);
    if (!hv) {
        fprintf(stderr, "xensimd: hypervisor: %s\n", strerror(errno));
        xsd_destroy(xsd);
        return 1;
    }
    if (scheds && hv_pools_set_scheds(hv, scheds) < 0) {
        fprintf(stderr, "xensimd: --scheds %s: a list of credit, credit2, rtds, arinc653, null "
                "with credit2 (Pool-0's) among them\n", scheds);
        return 2;
    }

    int epfd = epoll_create1(EPOLL_CLOEXEC);
    if (epfd < 0 || sigfd < 0 || add_fd(epfd, sigfd) || add_fd(epfd, xsd_fd(xsd)) ||
        add_fd(epfd, hv_fd(hv))) {
        fprintf(stderr, "xensimd: event loop: %s\n", strerror(errno));
        return 1;
    }
    if (write_pidfile(dir))
        fprintf(stderr, "xensimd: pidfile: %s\n", strerror(errno));
    if (ready_fd >= 0) {
        if (write(ready_fd, "ready\n", 6) != 6)
            fprintf(stderr, "xensimd: ready-fd: %s\n", strerror(errno));
        close(ready_fd);
    }

    for (bool running = true; running;) {
        struct epoll_event evs[8];
        int n = epoll_wait(epfd, evs, 8, -1);
        if (n < 0 && errno != EINTR) {
            fprintf(stderr, "xensimd: epoll_wait: %s\n", strerror(errno));
            break;
        }
        for (int i = 0; i < n; i++) {
            if (evs[i].data.fd == sigfd)
                running = false;
            else if (evs[i].data.fd == xsd_fd(xsd))
                xsd_dispatch(xsd);
            else if (evs[i].data.fd == hv_fd(hv))
                hv_dispatch(hv);
        }
    }

    hv_destroy(hv);
    xsd_destroy(xsd);
    char path[4096];
    snprintf(path, sizeof(path), "%s/xensimd.pid", dir);
    unlink(path);
    close(epfd);
    close(sigfd);
    return 0;
}
