/*
 * hv_domain.c - domain slots: memory, grant and active tables (memfds), the
 * per-domain control socket, the shared domain table, and the reaping of
 * destroyed domains once no connection pins their grants.
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <unistd.h>

#include "hv_internal.h"
#include "xenstored.h"

#define HV_MAX_MEM_MB (64u * 1024u)
#define HV_REAP_INTERVAL_NS 100000000L

static int make_memfd(const char *what, domid_t domid, size_t bytes)
{
    char name[64];
    snprintf(name, sizeof(name), "xsim-dom%u-%s", domid, what);
    int fd = memfd_create(name, MFD_CLOEXEC);
    if (fd < 0)
        return -errno;
    if (ftruncate(fd, (off_t)bytes)) {
        int err = -errno;
        close(fd);
        return err;
    }
    return fd;
}

static void *map_shared(int fd, size_t bytes)
{
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    return p == MAP_FAILED ? NULL : p;
}

static void publish(struct hv *hv, struct hv_domain *d)
{
    struct xsim_domtab_entry *e = &hv->domtab[d->domid];
    if (d->state != XSIM_DOM_FREE && xsim_si_state(e->state_inc) == XSIM_DOM_FREE) {
        /* Fields readers copy only while state_inc stays the same. */
        e->mem_pages = d->mem_pages;
        memset(e->name, 0, sizeof(e->name));
        memcpy(e->name, d->name, strnlen(d->name, XSIM_NAME_MAX - 1));
    }
    __atomic_store_n(&e->state_inc, xsim_state_inc(d->state, d->incarnation), __ATOMIC_RELEASE);
}

static int socket_path(struct hv *hv, domid_t domid, char *path, size_t len)
{
    int n = snprintf(path, len, "%s/hv-%u.sock", hv->dir, domid);
    return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

static int listen_socket(struct hv *hv, struct hv_domain *d)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    if (socket_path(hv, d->domid, sa.sun_path, sizeof(sa.sun_path)))
        return -ENAMETOOLONG;
    int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    unlink(sa.sun_path);
    struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &d->ep };
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(fd, 64) ||
        epoll_ctl(hv->epfd, EPOLL_CTL_ADD, fd, &ev)) {
        int err = -errno;
        close(fd);
        unlink(sa.sun_path);
        return err;
    }
    d->listen_fd = fd;
    return 0;
}

static void close_listen(struct hv *hv, struct hv_domain *d)
{
    if (d->listen_fd < 0)
        return;
    char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
    if (socket_path(hv, d->domid, path, sizeof(path)) == 0)
        unlink(path);
    epoll_ctl(hv->epfd, EPOLL_CTL_DEL, d->listen_fd, NULL);
    close(d->listen_fd);
    d->listen_fd = -1;
}

static void free_slot(struct hv *hv, struct hv_domain *d)
{
    close_listen(hv, d);
    if (d->gnt)
        munmap(d->gnt, XSIM_GNTTAB_BYTES);
    if (d->act)
        munmap(d->act, XSIM_ACTIVE_BYTES);
    if (d->mem_fd >= 0)
        close(d->mem_fd);
    if (d->gnt_fd >= 0)
        close(d->gnt_fd);
    if (d->act_fd >= 0)
        close(d->act_fd);
    free(d->ports);
    hv_vcpu_free(d);
    d->gnt = NULL;
    d->act = NULL;
    d->ports = NULL;
    d->mem_fd = d->gnt_fd = d->act_fd = -1;
    d->state = XSIM_DOM_FREE;
    publish(hv, d);
}

static int setup_slot(struct hv *hv, struct hv_domain *d, const char *name, uint32_t mem_mb)
{
    int err;
    d->mem_pages = (uint64_t)mem_mb * (1024 * 1024 / XSIM_PAGE_SIZE);
    snprintf(d->name, sizeof(d->name), "%s", name);
    d->pool = 0;
    d->nr_vcpus = 1;
    d->ports = calloc(XSIM_NR_PORTS, sizeof(*d->ports));
    if (!d->ports)
        return -ENOMEM;
    for (uint32_t p = 0; p < XSIM_NR_PORTS; p++)
        d->ports[p].efd = -1;
    if ((d->mem_fd = make_memfd("mem", d->domid, d->mem_pages * XSIM_PAGE_SIZE)) < 0 ||
        (d->gnt_fd = make_memfd("gnttab", d->domid, XSIM_GNTTAB_BYTES)) < 0 ||
        (d->act_fd = make_memfd("active", d->domid, XSIM_ACTIVE_BYTES)) < 0) {
        err = d->mem_fd < 0 ? d->mem_fd : d->gnt_fd < 0 ? d->gnt_fd : d->act_fd;
        goto fail;
    }
    d->gnt = map_shared(d->gnt_fd, XSIM_GNTTAB_BYTES);
    d->act = map_shared(d->act_fd, XSIM_ACTIVE_BYTES);
    if (!d->gnt || !d->act) {
        err = -ENOMEM;
        goto fail;
    }
    if ((err = listen_socket(hv, d)))
        goto fail;
    d->incarnation++;
    d->state = XSIM_DOM_RUNNING;
    publish(hv, d);
    return 0;
fail:
    free_slot(hv, d);
    return err;
}

static bool valid_name(const char *name)
{
    size_t len = strnlen(name, XSIM_NAME_MAX);
    bool all_digits = true;
    if (len == 0 || len >= XSIM_NAME_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)name[i];
        if (!isalnum(ch) && ch != '-' && ch != '_' && ch != '.')
            return false;
        all_digits &= isdigit(ch) != 0;
    }
    return !all_digits; /* a numeric name would be ambiguous with a domid */
}

struct hv_domain *hv_domain_running(struct hv *hv, uint32_t domid)
{
    if (domid >= XSIM_MAX_DOMAINS || hv->dom[domid].state != XSIM_DOM_RUNNING)
        return NULL;
    return &hv->dom[domid];
}

int hv_domain_create(struct hv *hv, const char *name, uint32_t mem_mb)
{
    if (!valid_name(name) || mem_mb == 0 || mem_mb > HV_MAX_MEM_MB)
        return -EINVAL;
    hv_domain_reap(hv);
    for (uint32_t i = 0; i < XSIM_MAX_DOMAINS; i++)
        if (hv->dom[i].state == XSIM_DOM_RUNNING && strcmp(hv->dom[i].name, name) == 0)
            return -EEXIST;
    /* Round-robin from the last domid, so a domid is not reused at once. */
    domid_t domid = 0;
    for (uint32_t n = 1; n < XSIM_MAX_DOMAINS; n++) {
        uint32_t cand = (hv->last_domid + n) % XSIM_MAX_DOMAINS;
        if (cand != 0 && hv->dom[cand].state == XSIM_DOM_FREE) {
            domid = (domid_t)cand;
            break;
        }
    }
    if (domid == 0)
        return -ENOSPC;
    struct hv_domain *d = &hv->dom[domid];
    int err = setup_slot(hv, d, name, mem_mb);
    if (err) {
        hv_log("dom%u (%s): create: %s", domid, name, strerror(-err));
        return err;
    }
    hv->last_domid = domid;
    if (hv->xsd && (err = xsd_domain_introduce(hv->xsd, domid, name))) {
        hv_log("dom%u (%s): xenstored introduce: %s", domid, name, strerror(-err));
        free_slot(hv, d);
        return err;
    }
    return domid;
}

static void arm_reaper(struct hv *hv, bool on)
{
    if (hv->timer_armed == on)
        return;
    struct itimerspec its = { 0 };
    if (on) {
        its.it_value.tv_nsec = HV_REAP_INTERVAL_NS;
        its.it_interval.tv_nsec = HV_REAP_INTERVAL_NS;
    }
    if (timerfd_settime(hv->timer_fd, 0, &its, NULL) == 0)
        hv->timer_armed = on;
}

void hv_domain_reap(struct hv *hv)
{
    bool dying = false;
    for (uint32_t i = 1; i < XSIM_MAX_DOMAINS; i++) {
        struct hv_domain *d = &hv->dom[i];
        if (d->state != XSIM_DOM_DYING)
            continue;
        if (hv_maptrack_references(hv, d->domid, d->incarnation))
            dying = true;
        else
            free_slot(hv, d);
    }
    arm_reaper(hv, dying);
}

int hv_domain_destroy(struct hv *hv, domid_t domid)
{
    if (domid == 0)
        return -EPERM;
    struct hv_domain *d = hv_domain_running(hv, domid);
    if (!d)
        return -ESRCH;
    close_listen(hv, d);
    d->state = XSIM_DOM_DYING;
    publish(hv, d);
    /* Its processes lose their connections: their pins drop and their
     * ports close, and the peers of those ports see them unbound. */
    for (struct hv_conn *c = hv->conns, *next; c; c = next) {
        next = c->next;
        if (c->domid == domid)
            hv_conn_close(hv, c);
    }
    hv_evtchn_close_domain(hv, domid);
    if (hv->xsd) {
        int err = xsd_domain_release(hv->xsd, domid);
        if (err)
            hv_log("dom%u: xenstored release: %s", domid, strerror(-err));
    }
    hv_domain_reap(hv);
    return 0;
}

int hv_domains_init(struct hv *hv)
{
    hv->domtab_fd = make_memfd("domtab", 0, XSIM_DOMTAB_BYTES);
    hv->portgen_fd = make_memfd("portgen", 0, XSIM_PORTGEN_BYTES);
    if (hv->domtab_fd < 0 || hv->portgen_fd < 0)
        return -ENOMEM;
    hv->domtab = map_shared(hv->domtab_fd, XSIM_DOMTAB_BYTES);
    hv->portgen = map_shared(hv->portgen_fd, XSIM_PORTGEN_BYTES);
    if (!hv->domtab || !hv->portgen)
        return -ENOMEM;
    hv->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (hv->timer_fd < 0)
        return -errno;
    hv->timer_ep.kind = HV_EP_TIMER;
    struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &hv->timer_ep };
    if (epoll_ctl(hv->epfd, EPOLL_CTL_ADD, hv->timer_fd, &ev))
        return -errno;
    for (uint32_t i = 0; i < XSIM_MAX_DOMAINS; i++) {
        struct hv_domain *d = &hv->dom[i];
        d->ep.kind = HV_EP_LISTEN;
        d->hv = hv;
        d->domid = (domid_t)i;
        d->listen_fd = d->mem_fd = d->gnt_fd = d->act_fd = -1;
    }
    return 0;
}

void hv_domains_fini(struct hv *hv)
{
    for (uint32_t i = 0; i < XSIM_MAX_DOMAINS; i++)
        if (hv->dom[i].state != XSIM_DOM_FREE) {
            hv_evtchn_close_domain(hv, (domid_t)i);
            free_slot(hv, &hv->dom[i]);
        }
    if (hv->domtab)
        munmap(hv->domtab, XSIM_DOMTAB_BYTES);
    if (hv->portgen)
        munmap(hv->portgen, XSIM_PORTGEN_BYTES);
    if (hv->domtab_fd >= 0)
        close(hv->domtab_fd);
    if (hv->portgen_fd >= 0)
        close(hv->portgen_fd);
    if (hv->timer_fd >= 0)
        close(hv->timer_fd);
}

int hv_domain_create_dom0(struct hv *hv, uint32_t mem_mb)
{
    if (mem_mb == 0 || mem_mb > HV_MAX_MEM_MB)
        return -EINVAL;
    int err = setup_slot(hv, &hv->dom[0], "Domain-0", mem_mb);
    if (err)
        return err;
    if (hv->xsd && (err = xsd_domain_introduce(hv->xsd, 0, "Domain-0")))
        hv_log("dom0: xenstored introduce: %s", strerror(-err));
    return 0;
}
