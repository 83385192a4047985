/*
 * xen_vcpu.c - where our vCPUs run (xen.h, "where our vCPUs run"): the
 * dispatch, the real platform's answer and its /proc/stat parser.
 *
 * On real Xen steal comes from the domain's own view, which every domain
 * has: Linux accounts Xen's runstate (time runnable but not running) as
 * steal, per CPU, in /proc/stat.  The physical CPU, the cpupool and the
 * affinity are the hypervisor's to say, through libxenctrl's domctls,
 * which Xen answers only for a privileged domain: in a driver domain the
 * first refusal is logged once and not asked again (Dom0's `sidecorectl
 * place --check` is where an admin sees them then).
 */
/* libxenctrl's headers are for tools: the domctl ABI they use is hidden
 * otherwise (and must be visible before xen.h pulls in xen/xen.h). */
#define __XEN_TOOLS__ 1
#include "xen.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xenctrl.h>
#include <xenstore.h>
#include <xentoollog.h>

#include "log.h"
#include "xen_sched.h"
#include "xen_vcpu.h"

int sc_xen_vcpu_place(struct sc_xen *x, unsigned vcpu, struct sc_vcpu_place *out)
{
    memset(out, 0, sizeof(*out));
    out->pcpu = out->pool = out->pinned = -1;
    out->steal_ns = SC_STEAL_UNKNOWN;
    if (!x->ops->vcpu_place)
        return -EOPNOTSUPP;
    return x->ops->vcpu_place(x, vcpu, out);
}

int sc_proc_stat_steal(const char *text, unsigned cpu, unsigned long tick_hz, uint64_t *ns)
{
    char tag[24];
    snprintf(tag, sizeof(tag), "cpu%u ", cpu);
    size_t tlen = strlen(tag);
    if (!tick_hz)
        return -EINVAL;
    for (const char *line = text; line && *line;) {
        if (strncmp(line, tag, tlen) == 0) {
            /* user nice system idle iowait irq softirq steal */
            unsigned long long v[8];
            const char *p = line + tlen;
            for (int i = 0; i < 8; i++) {
                char *end;
                while (*p == ' ')
                    p++;
                if (*p < '0' || *p > '9')
                    return -EINVAL;
                errno = 0;
                v[i] = strtoull(p, &end, 10);
                if (errno)
                    return -EINVAL;
                p = end;
            }
            unsigned __int128 t = (unsigned __int128)v[7] * 1000000000u / tick_hz;
            *ns = t > UINT64_MAX - 1 ? UINT64_MAX - 1 : (uint64_t)t;
            return 0;
        }
        line = strchr(line, '\n');
        if (line)
            line++;
    }
    return -ENOENT;
}

static int read_steal(unsigned vcpu, uint64_t *ns)
{
    FILE *f = fopen("/proc/stat", "re");
    if (!f)
        return -errno;
    /* the cpu lines come first; 64 KiB holds them for hundreds of CPUs */
    enum { STAT_HEAD = 65536 };
    char *buf = malloc(STAT_HEAD);
    if (!buf) {
        fclose(f);
        return -ENOMEM;
    }
    size_t n = fread(buf, 1, STAT_HEAD - 1, f);
    fclose(f);
    buf[n] = '\0';
    long hz = sysconf(_SC_CLK_TCK);
    int ret = sc_proc_stat_steal(buf, vcpu, hz > 0 ? (unsigned long)hz : 100, ns);
    free(buf);
    return ret;
}

struct sc_xc {
    xc_interface *xch;
    xentoollog_logger_stdiostream *logger;
    xc_cpumap_t hard;
    bool refused;            /* the hypervisor said no once: not asked again */
    struct xs_handle *xs;    /* for cpupool names (libxl keeps them there) */
    bool xs_tried;
};

static bool xc_ready(struct sc_xc **xcp)
{
    struct sc_xc *xc = *xcp;
    if (!xc) {
        xc = *xcp = calloc(1, sizeof(*xc));
        if (!xc)
            return false;
        /* libxenctrl's own complaints would go to stderr at every call */
        xc->logger = xtl_createlogger_stdiostream(stderr, XTL_CRITICAL, 0);
        xc->xch = xc_interface_open((xentoollog_logger *)xc->logger,
                                    (xentoollog_logger *)xc->logger, 0);
        if (xc->xch)
            xc->hard = xc_cpumap_alloc(xc->xch);
        if (!xc->xch || !xc->hard) {
            sc_log(SC_LOG_INFO, "xen", "vCPU placement: libxenctrl unavailable (%s): steal only",
                   strerror(errno ? errno : EIO));
            xc->refused = true;
        }
    }
    return !xc->refused;
}

static void xc_refused(struct sc_xc *xc, const char *what)
{
    sc_log(SC_LOG_INFO, "xen",
           "vCPU placement: %s: %s (only Dom0 may ask; `sidecorectl place --check` there "
           "shows it): steal only", what, strerror(errno ? errno : EIO));
    xc->refused = true;
}

int sc_xen_real_vcpu_place(struct sc_xen *x, struct sc_xc **xcp, unsigned vcpu,
                           struct sc_vcpu_place *out)
{
    uint64_t steal;
    int ret = read_steal(vcpu, &steal);
    if (ret == 0)
        out->steal_ns = steal;
    if (!xc_ready(xcp))
        return ret;
    struct sc_xc *xc = *xcp;
    domid_t self = sc_xen_domid(x);
    xc_vcpuinfo_t vi;
    if (xc_vcpu_getinfo(xc->xch, self, vcpu, &vi) < 0) {
        if (errno == ESRCH || errno == EINVAL)
            return ret == 0 ? 0 : -ENOENT;
        xc_refused(xc, "xc_vcpu_getinfo");
        return ret;
    }
    out->pcpu = vi.online ? (int)vi.cpu : -1;
    int ncpus = xc_get_max_cpus(xc->xch);
    if (ncpus > 0 &&
        xc_vcpu_getaffinity(xc->xch, self, (int)vcpu, xc->hard, NULL, XEN_VCPUAFFINITY_HARD) == 0) {
        int set = 0, only = -1;
        for (int c = 0; c < ncpus; c++)
            if (xc->hard[c / 8] & (1u << (c % 8))) {
                set++;
                only = c;
            }
        out->pinned = set == 1 && only == out->pcpu;
    }
    xc_dominfo_t di;
    if (xc_domain_getinfo(xc->xch, self, 1, &di) == 1 && di.domid == self) {
        out->pool = (int)di.cpupool;
        xc_cpupoolinfo_t *pi = xc_cpupool_getinfo(xc->xch, di.cpupool);
        if (pi) {
            if (pi->cpupool_id == di.cpupool)
                snprintf(out->sched, sizeof(out->sched), "%s", sc_xen_sched_name(pi->sched_id));
            xc_cpupool_infofree(xc->xch, pi);
        }
        if (!xc->xs_tried) {
            xc->xs_tried = true;
            xc->xs = x->ops->xs_open ? x->ops->xs_open(x) : NULL;
        }
        sc_xen_pool_name(xc->xs, di.cpupool, out->pool_name, sizeof(out->pool_name));
    }
    return 0;
}

void sc_xc_close(struct sc_xc *xc)
{
    if (!xc)
        return;
    if (xc->hard)
        free(xc->hard);
    if (xc->xs)
        xs_close(xc->xs);
    if (xc->xch)
        xc_interface_close(xc->xch);
    if (xc->logger)
        xtl_logger_destroy((xentoollog_logger *)xc->logger);
    free(xc);
}
