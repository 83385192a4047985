/*
 * net_ctrl.c - a vif's control ring on a sidecore (net_ctrl.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "gnt_batch.h"
#include "log.h"
#include "net_ctrl.h"

#define CTRL_PAGE_SIZE 4096u
#define CTRL_RING_SIZE __CONST_RING_SIZE(xen_netif_ctrl, CTRL_PAGE_SIZE)

struct net_ctrl {
    struct sc_queue sc;
    struct sc_xen *xen;
    domid_t domid;
    void *sring;
    xen_netif_ctrl_back_ring_t back;
    bool broken;
    struct net_hash *hash;
    struct sc_gnt_batch copy;
    struct sc_ratelimit rl;
    _Atomic uint64_t requests;
};

static struct net_ctrl *ctrl_of(struct sc_queue *sq)
{
    return (struct net_ctrl *)((char *)sq - offsetof(struct net_ctrl, sc));
}

/* The key or table page of a request: one grant copy, at once. */
static int copy_from_frontend(void *ctx, grant_ref_t ref, void *dst, size_t len)
{
    struct net_ctrl *c = ctx;
    if (len > CTRL_PAGE_SIZE)
        return -EINVAL;
    bool failed = false;
    sc_gnt_batch_from_guest(&c->copy, c->domid, ref, 0, dst, (uint16_t)len, &failed);
    int rc = sc_gnt_batch_flush(&c->copy);
    return rc < 0 ? rc : failed ? -EFAULT : 0;
}

static int ctrl_poll(struct sc_queue *sq, const struct sc_sched_grant *g, struct sc_visit *v)
{
    (void)g;
    struct net_ctrl *c = ctrl_of(sq);
    if (c->broken)
        return -EPROTO;
    RING_IDX prod = __atomic_load_n(&c->back.sring->req_prod, __ATOMIC_ACQUIRE);
    RING_IDX cons = c->back.req_cons;
    if ((RING_IDX)(prod - c->back.rsp_prod_pvt) > CTRL_RING_SIZE ||
        (RING_IDX)(cons - c->back.rsp_prod_pvt) > (RING_IDX)(prod - c->back.rsp_prod_pvt)) {
        c->broken = true;
        sc_log_limited(&c->rl, SC_LOG_ERR, c->sc.name,
                       "frontend broke the control ring (producer index out of range)");
        return -EPROTO;
    }
    bool answered = false;
    while (c->back.req_cons != prod) {
        struct xen_netif_ctrl_request req;
        memcpy(&req, RING_GET_REQUEST(&c->back, c->back.req_cons), sizeof(req));
        __asm__ __volatile__("" ::: "memory");
        c->back.req_cons++;
        struct xen_netif_ctrl_response rsp = { .id = req.id, .type = req.type };
        rsp.status = net_hash_ctrl(c->hash, &req, copy_from_frontend, c, &rsp.data);
        memcpy(RING_GET_RESPONSE(&c->back, c->back.rsp_prod_pvt), &rsp, sizeof(rsp));
        c->back.rsp_prod_pvt++;
        v->requests++;
        answered = true;
        atomic_fetch_add_explicit(&c->requests, 1, memory_order_relaxed);
    }
    if (answered)
        sc_queue_mark_dirty(&c->sc);
    return 0;
}

static void ctrl_flush(struct sc_queue *sq)
{
    struct net_ctrl *c = ctrl_of(sq);
    int notify = 0;
    RING_PUSH_RESPONSES_AND_CHECK_NOTIFY(&c->back, notify);
    if (notify)
        sc_queue_notify(&c->sc);
}

static bool ctrl_rearm(struct sc_queue *sq)
{
    struct net_ctrl *c = ctrl_of(sq);
    if (c->broken)
        return false;
    int more = 0;
    RING_FINAL_CHECK_FOR_REQUESTS(&c->back, more);
    return more;
}

static bool ctrl_idle(struct sc_queue *sq)
{
    (void)sq; /* every request is answered within its visit */
    return true;
}

static const struct sc_queue_ops ctrl_ops = {
    .poll = ctrl_poll,
    .flush = ctrl_flush,
    .rearm = ctrl_rearm,
    .idle = ctrl_idle,
};

void net_ctrl_destroy(struct net_ctrl *c)
{
    if (!c)
        return;
    if (c->sring)
        sc_gnt_unmap(c->xen, c->sring, 1);
    sc_gnt_batch_destroy(&c->copy);
    free(c);
}

uint64_t net_ctrl_mem_cost(void)
{
    return sizeof(struct net_ctrl) + sizeof(xengnttab_grant_copy_segment_t) + sizeof(bool *) +
           CTRL_PAGE_SIZE;
}

struct net_ctrl *net_ctrl_create(struct sc_xen *xen, domid_t domid, grant_ref_t ref,
                                 struct net_hash *hash, const char *name)
{
    struct net_ctrl *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    int rc = sc_queue_init(&c->sc, &ctrl_ops, domid, SC_TCLASS_VIF, "%s ctrl", name);
    if (rc == 0)
        rc = sc_gnt_batch_init(&c->copy, xen, 1);
    if (rc < 0) {
        net_ctrl_destroy(c);
        errno = -rc;
        return NULL;
    }
    c->xen = xen;
    c->domid = domid;
    c->hash = hash;
    c->sring = sc_gnt_map_batch(xen, domid, 1, &ref, true);
    if (!c->sring) {
        int err = errno;
        net_ctrl_destroy(c);
        errno = err;
        return NULL;
    }
    xen_netif_ctrl_sring_t *s = c->sring;
    RING_IDX rsp = __atomic_load_n(&s->rsp_prod, __ATOMIC_ACQUIRE);
    BACK_RING_ATTACH(&c->back, s, rsp, CTRL_PAGE_SIZE);
    return c;
}

struct sc_queue *net_ctrl_sc(struct net_ctrl *c)
{
    return &c->sc;
}

uint64_t net_ctrl_requests(const struct net_ctrl *c)
{
    return atomic_load_explicit((_Atomic uint64_t *)&c->requests, memory_order_relaxed);
}
