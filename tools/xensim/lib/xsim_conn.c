/*
 * xsim_conn.c - a process's connection to xensimd: the RPC channel, the
 * shared domain table, the cache of foreign domains' files, and the
 * maptrack slots the daemon reads if this connection dies.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "xsim_internal.h"

const char *xsim_domain_state_str(enum xsim_domain_state s)
{
    switch (s) {
    case XSIM_DOM_FREE: return "free";
    case XSIM_DOM_RUNNING: return "running";
    case XSIM_DOM_DYING: return "dying";
    }
    return "unknown";
}

static void close_fds(int *fds, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        if (fds[i] >= 0)
            close(fds[i]);
}

int xsim_rpc(struct xsim *xs, struct xsim_req *req, struct xsim_rsp *rsp, int *fds)
{
    req->version = XSIM_ABI_VERSION;
    memset(rsp, 0, sizeof(*rsp));
    union {
        char buf[CMSG_SPACE(sizeof(int) * XSIM_RPC_MAX_FDS)];
        struct cmsghdr align;
    } ctl;
    struct iovec iov = { .iov_base = rsp, .iov_len = sizeof(*rsp) };
    struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf,
                          .msg_controllen = sizeof(ctl.buf) };
    ssize_t n;
    int ret;

    pthread_mutex_lock(&xs->rpc_lock);
    do
        n = send(xs->fd, req, sizeof(*req), MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    if (n != (ssize_t)sizeof(*req)) {
        ret = n < 0 ? -errno : -EIO;
        goto out;
    }
    do
        n = recvmsg(xs->fd, &msg, MSG_CMSG_CLOEXEC);
    while (n < 0 && errno == EINTR);
    if (n <= 0) {
        ret = n == 0 ? -ECONNRESET : -errno;
        goto out;
    }
    uint32_t got = 0;
    for (struct cmsghdr *cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm)) {
        if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
            continue;
        uint32_t k = (uint32_t)((cm->cmsg_len - CMSG_LEN(0)) / sizeof(int));
        for (uint32_t i = 0; i < k; i++) {
            int fd;
            memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
            if (got < XSIM_RPC_MAX_FDS)
                fds[got++] = fd;
            else
                close(fd);
        }
    }
    if (n != (ssize_t)sizeof(*rsp) || (msg.msg_flags & MSG_CTRUNC) || got != rsp->nfds) {
        close_fds(fds, got);
        rsp->nfds = 0;
        ret = -EPROTO;
        goto out;
    }
    ret = rsp->ret;
    if (ret < 0) {
        close_fds(fds, got);
        rsp->nfds = 0;
    }
out:
    pthread_mutex_unlock(&xs->rpc_lock);
    return ret;
}

struct xsim *xsim_open(const char *dir, domid_t self)
{
    struct xsim *xs = calloc(1, sizeof(*xs));
    int err = 0;
    if (!xs)
        return NULL;
    xs->fd = -1;
    pthread_mutex_init(&xs->rpc_lock, NULL);
    pthread_mutex_init(&xs->lock, NULL);
    if (!dir || strlen(dir) >= sizeof(xs->dir)) {
        err = -EINVAL;
        goto fail;
    }
    strcpy(xs->dir, dir);
    xs->self = self;

    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    if ((size_t)snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/hv-%u.sock", dir, self) >=
        sizeof(sa.sun_path)) {
        err = -ENAMETOOLONG;
        goto fail;
    }
    xs->fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    if (xs->fd < 0 || connect(xs->fd, (struct sockaddr *)&sa, sizeof(sa))) {
        /* No socket: no such domain (or no daemon in dir). */
        err = errno == ENOENT ? -ESRCH : -errno;
        goto fail;
    }

    struct xsim_req req = { .op = XSIM_OP_CONNECT };
    struct xsim_rsp rsp;
    int fds[XSIM_RPC_MAX_FDS];
    err = xsim_rpc(xs, &req, &rsp, fds);
    if (err < 0)
        goto fail;
    if (rsp.nfds != 3 || rsp.u.connect.domid != self ||
        rsp.u.connect.maptrack_entries != XSIM_MAPTRACK_ENTRIES) {
        close_fds(fds, rsp.nfds);
        err = -EPROTO;
        goto fail;
    }
    void *domtab = mmap(NULL, XSIM_DOMTAB_BYTES, PROT_READ, MAP_SHARED, fds[0], 0);
    void *portgen = mmap(NULL, XSIM_PORTGEN_BYTES, PROT_READ, MAP_SHARED, fds[1], 0);
    void *mt = mmap(NULL, XSIM_MAPTRACK_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, fds[2], 0);
    close_fds(fds, 3);
    xs->domtab = domtab == MAP_FAILED ? NULL : domtab;
    xs->portgen = portgen == MAP_FAILED ? NULL : portgen;
    xs->mt = mt == MAP_FAILED ? NULL : mt;
    xs->mt_free = malloc(sizeof(uint32_t) * XSIM_MAPTRACK_ENTRIES);
    if (!xs->domtab || !xs->portgen || !xs->mt || !xs->mt_free) {
        err = -ENOMEM;
        goto fail;
    }
    /* Lowest slots first, so the daemon's scan stays short. */
    for (uint32_t i = 0; i < XSIM_MAPTRACK_ENTRIES; i++)
        xs->mt_free[i] = XSIM_MAPTRACK_ENTRIES - 1 - i;
    xs->mt_nfree = XSIM_MAPTRACK_ENTRIES;
    return xs;

fail:
    xsim_close(xs);
    errno = -err;
    return NULL;
}

struct xsim *xsim_open_env(void)
{
    const char *dir = getenv("XENSIM_DIR");
    const char *dom = getenv("XENSIM_DOMID");
    if (!dir || !*dir) {
        errno = EINVAL;
        return NULL;
    }
    unsigned long domid = 0;
    if (dom && *dom) {
        char *end;
        errno = 0;
        domid = strtoul(dom, &end, 10);
        if (errno || *end || domid >= XSIM_MAX_DOMAINS) {
            errno = EINVAL;
            return NULL;
        }
    }
    return xsim_open(dir, (domid_t)domid);
}

static void dom_cache_free(struct xsim_dom_cache *dc)
{
    if (dc->mem)
        munmap(dc->mem, dc->mem_pages * XSIM_PAGE_SIZE);
    if (dc->gnt)
        munmap(dc->gnt, XSIM_GNTTAB_BYTES);
    if (dc->act)
        munmap(dc->act, XSIM_ACTIVE_BYTES);
    if (dc->mem_fd >= 0)
        close(dc->mem_fd);
    free(dc);
}

void xsim_close(struct xsim *xs)
{
    if (!xs)
        return;
    if (xs->fd >= 0)
        close(xs->fd);
    xsim_maps_free_all(xs);
    for (uint32_t i = 0; i < XSIM_MAX_DOMAINS; i++)
        if (xs->cache[i] && --xs->cache[i]->refs == 0)
            dom_cache_free(xs->cache[i]);
    if (xs->domtab)
        munmap((void *)xs->domtab, XSIM_DOMTAB_BYTES);
    if (xs->portgen)
        munmap((void *)xs->portgen, XSIM_PORTGEN_BYTES);
    if (xs->mt)
        munmap(xs->mt, XSIM_MAPTRACK_BYTES);
    free(xs->mt_free);
    pthread_mutex_destroy(&xs->rpc_lock);
    pthread_mutex_destroy(&xs->lock);
    free(xs);
}

domid_t xsim_domid(const struct xsim *xs)
{
    return xs->self;
}

const char *xsim_dir(const struct xsim *xs)
{
    return xs->dir;
}

/* ---- domains ---- */

int xsim_domain_create(struct xsim *xs, const char *name, uint32_t mem_mb)
{
    if (!name || strlen(name) >= XSIM_NAME_MAX)
        return -EINVAL;
    struct xsim_req req = { .op = XSIM_OP_DOMAIN_CREATE };
    struct xsim_rsp rsp;
    int fds[XSIM_RPC_MAX_FDS];
    req.u.create.mem_mb = mem_mb;
    strcpy(req.u.create.name, name);
    return xsim_rpc(xs, &req, &rsp, fds);
}

int xsim_domain_destroy(struct xsim *xs, domid_t domid)
{
    struct xsim_req req = { .op = XSIM_OP_DOMAIN_DESTROY, .u.dom.domid = domid };
    struct xsim_rsp rsp;
    int fds[XSIM_RPC_MAX_FDS];
    return xsim_rpc(xs, &req, &rsp, fds);
}

/* Orders the copy before the re-check of a seqlock-style read.  TSan does
 * not support fences (and cannot see the daemon's writes, made in another
 * process, anyway), so it gets a compiler barrier (enough on x86). */
#if defined(__SANITIZE_THREAD__)
#define XSIM_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define XSIM_TSAN 1
#endif
#endif

static inline void seq_read_fence(void)
{
#ifdef XSIM_TSAN
    __asm__ volatile("" ::: "memory");
#else
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
#endif
}

int xsim_domain_info(struct xsim *xs, domid_t domid, struct xsim_dominfo *info)
{
    if (domid >= XSIM_MAX_DOMAINS)
        return -ESRCH;
    const struct xsim_domtab_entry *e = &xs->domtab[domid];
    for (;;) {
        uint64_t si = __atomic_load_n(&e->state_inc, __ATOMIC_ACQUIRE);
        if (xsim_si_state(si) == XSIM_DOM_FREE)
            return -ESRCH;
        memset(info, 0, sizeof(*info));
        info->domid = domid;
        info->state = (enum xsim_domain_state)xsim_si_state(si);
        info->incarnation = xsim_si_inc(si);
        info->mem_pages = e->mem_pages;
        memcpy(info->name, e->name, sizeof(info->name) - 1);
        seq_read_fence();
        if (__atomic_load_n(&e->state_inc, __ATOMIC_RELAXED) == si)
            return 0;
    }
}

/* ---- foreign-domain cache ---- */

static uint64_t dom_state_inc(struct xsim *xs, uint32_t domid)
{
    return __atomic_load_n(&xs->domtab[domid].state_inc, __ATOMIC_ACQUIRE);
}

bool xsim_dom_running(struct xsim *xs, const struct xsim_dom_cache *dc)
{
    return dom_state_inc(xs, dc->domid) == xsim_state_inc(XSIM_DOM_RUNNING, dc->incarnation);
}

static struct xsim_dom_cache *dom_fetch(struct xsim *xs, uint32_t domid, int16_t *status)
{
    struct xsim_req req = { .op = XSIM_OP_DOMAIN_FDS, .u.dom.domid = domid };
    struct xsim_rsp rsp;
    int fds[XSIM_RPC_MAX_FDS];
    int ret = xsim_rpc(xs, &req, &rsp, fds);
    if (ret < 0) {
        *status = ret == -ESRCH ? GNTST_bad_domain : GNTST_general_error;
        return NULL;
    }
    struct xsim_dom_cache *dc = calloc(1, sizeof(*dc));
    if (!dc || rsp.nfds != 3) {
        close_fds(fds, rsp.nfds);
        free(dc);
        *status = GNTST_general_error;
        return NULL;
    }
    dc->refs = 1;
    dc->domid = (domid_t)domid;
    dc->incarnation = rsp.u.dom.incarnation;
    dc->mem_pages = rsp.u.dom.mem_pages;
    dc->mem_fd = fds[0];
    void *mem = mmap(NULL, dc->mem_pages * XSIM_PAGE_SIZE, PROT_READ | PROT_WRITE,
                     MAP_SHARED | MAP_NORESERVE, fds[0], 0);
    void *gnt = mmap(NULL, XSIM_GNTTAB_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, fds[1], 0);
    void *act = mmap(NULL, XSIM_ACTIVE_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, fds[2], 0);
    close(fds[1]);
    close(fds[2]);
    dc->mem = mem == MAP_FAILED ? NULL : mem;
    dc->gnt = gnt == MAP_FAILED ? NULL : gnt;
    dc->act = act == MAP_FAILED ? NULL : act;
    if (!dc->mem || !dc->gnt || !dc->act) {
        dom_cache_free(dc);
        *status = GNTST_general_error;
        return NULL;
    }
    return dc;
}

struct xsim_dom_cache *xsim_dom_get_locked(struct xsim *xs, uint32_t domid, int16_t *status)
{
    if (domid >= XSIM_MAX_DOMAINS) {
        *status = GNTST_bad_domain;
        return NULL;
    }
    uint64_t si = dom_state_inc(xs, domid);
    if (xsim_si_state(si) != XSIM_DOM_RUNNING) {
        *status = GNTST_bad_domain;
        return NULL;
    }
    struct xsim_dom_cache *dc = xs->cache[domid];
    if (!dc || dc->incarnation != xsim_si_inc(si)) {
        dc = dom_fetch(xs, domid, status);
        if (!dc)
            return NULL;
        if (xs->cache[domid])
            xsim_dom_put_locked(xs, xs->cache[domid]);
        xs->cache[domid] = dc;
    }
    dc->refs++;
    return dc;
}

void xsim_dom_put_locked(struct xsim *xs, struct xsim_dom_cache *dc)
{
    (void)xs;
    if (--dc->refs == 0)
        dom_cache_free(dc);
}

/* ---- maptrack slots ---- */

int xsim_mt_alloc_locked(struct xsim *xs, uint32_t *slot)
{
    if (xs->mt_nfree == 0)
        return -ENOSPC;
    uint32_t s = xs->mt_free[--xs->mt_nfree];
    if (s >= xs->mt_hwm) {
        xs->mt_hwm = s + 1;
        __atomic_store_n(&xs->mt->hwm, xs->mt_hwm, __ATOMIC_RELEASE);
    }
    *slot = s;
    return 0;
}

void xsim_mt_free_locked(struct xsim *xs, uint32_t slot)
{
    xs->mt_free[xs->mt_nfree++] = slot;
}
